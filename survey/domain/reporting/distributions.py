"""Answer distributions and scale quality of one unit in one round.

Invariant: a distribution is shown only where the manifest published its counts (units safe
for them); an item everyone answered alike shows how many answered and why not how.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..manifest import Manifest
from ..questions import LIKERT_LABELS, NPS_MAX, NPS_MIN, Item

AGREEMENT_LOW = 0.7  # r_wg(J) below this: people in the group disagree with each other
TOO_LOW_TO_INTERPRET = "too low to interpret"
GROUP_DISAGREES = "people in this group disagree"
# Colours of answer options in the distribution bars: ColorBrewer BrBG, brown for disagreement
# (or a detractor's rating), grey for the middle, teal for agreement (or a promoter's).
LIKERT_COLOURS = ("#8C510A", "#D8B365", "#D9D9D9", "#5AB4AC", "#01665E")
NPS_DETRACTOR_COLOURS = (
    "#543005",
    "#8C510A",
    "#A6611A",
    "#BF812D",
    "#D8B365",
    "#DFC27D",
    "#F6E8C3",
)
NPS_PASSIVE_COLOURS = ("#D9D9D9", "#BDBDBD")
NPS_PROMOTER_COLOURS = ("#5AB4AC", "#01665E")


@dataclass(frozen=True)
class Segment:
    """One answer option of a distribution bar: count, share and where it sits (0-100)."""

    label: str
    count: int
    pct: float
    start: float
    colour: str


@dataclass(frozen=True)
class ItemDistribution:
    """How a group answered one question."""

    key: str
    text: str
    theme: str
    scale: str
    reverse: bool
    n: int
    segments: tuple[Segment, ...]
    sentence: str
    coded: str = ""  # a uniform item: its answers are not published, and this says why


@dataclass(frozen=True)
class QualityRow:
    """Cronbach's alpha and r_wg(J) of one multi-item theme, with what they mean."""

    theme: str
    label: str
    items: int
    alpha: float | None
    agreement: float | None
    flags: tuple[str, ...]


def _segments(
    counts: Sequence[int], labels: Sequence[str], colours: Sequence[str]
) -> tuple[Segment, ...]:
    total = sum(counts)
    out, start = [], 0.0
    for count, label, colour in zip(counts, labels, colours, strict=True):
        pct = 100.0 * count / total if total else 0.0
        out.append(Segment(label, count, round(pct, 1), round(start, 2), colour))
        start += pct
    return tuple(out)


def answer_labels(item: Item) -> tuple[str, ...]:
    """Return the label of each answer option of ``item``, lowest first."""
    if item.scale == "nps":
        return tuple(str(v) for v in range(NPS_MIN, NPS_MAX + 1))
    return LIKERT_LABELS


def _answers(total: int) -> str:
    return "1 answer" if total == 1 else f"{total} answers"


def _distribution_sentence(item: Item, counts: Sequence[int]) -> str:
    total = sum(counts)
    if item.scale == "nps":
        promoters = sum(counts[9:])
        detractors = sum(counts[:7])
        return (
            f"{_answers(total)}: {100 * promoters / total:.0f} % promoters (9-10), "
            f"{100 * detractors / total:.0f} % detractors (0-6)."
        )
    agree, disagree = counts[3] + counts[4], counts[0] + counts[1]
    sentence = (
        f"{_answers(total)}: {100 * agree / total:.0f} % agree or strongly agree, "
        f"{100 * disagree / total:.0f} % disagree or strongly disagree."
    )
    if item.reverse:
        sentence += " The statement is negative: agreeing with it is the less healthy answer."
    return sentence


def distributions(
    manifest: Manifest, unit_id: int, items: Sequence[Item]
) -> list[ItemDistribution]:
    """Return the published answer distributions of a unit, in question order (may be empty).

    Distributions exist only for units the release marked distribution-safe (see the manifest);
    an item of ``items`` the manifest has no counts for is left out.
    """
    unit = manifest.unit(unit_id)
    if unit is None or not unit.shown:
        return []
    published = unit.distributions or {}
    coded = unit.distributions_coded or {}
    out = []
    for item in items:
        if item.key in coded:
            why, n = coded[item.key].coded, coded[item.key].n
            out.append(
                ItemDistribution(
                    item.key,
                    item.text,
                    item.theme,
                    item.scale,
                    item.reverse,
                    n,
                    (),
                    f"{_answers(n)}, {why}: how they answered is not published.",
                    why,
                )
            )
            continue
        counts = published.get(item.key)
        if not counts or sum(counts) == 0:
            continue
        labels = answer_labels(item)
        if len(counts) != len(labels):
            continue
        colours = (
            NPS_DETRACTOR_COLOURS + NPS_PASSIVE_COLOURS + NPS_PROMOTER_COLOURS
            if item.scale == "nps"
            else LIKERT_COLOURS
        )
        out.append(
            ItemDistribution(
                item.key,
                item.text,
                item.theme,
                item.scale,
                item.reverse,
                sum(counts),
                _segments(counts, labels, colours),
                _distribution_sentence(item, counts),
            )
        )
    return out


def scale_quality(manifest: Manifest, unit_id: int) -> list[QualityRow]:
    """Return alpha and agreement per multi-item theme of a unit, flagged where weak."""
    unit = manifest.unit(unit_id)
    if unit is None or not unit.shown:
        return []
    quality = unit.scale_quality or {}
    rows = []
    for theme in manifest.themes:
        q = quality.get(theme.key)
        if q is None:
            continue
        flags = []
        if not q.interpretable:
            flags.append(TOO_LOW_TO_INTERPRET)
        if q.agreement is not None and q.agreement < AGREEMENT_LOW:
            flags.append(GROUP_DISAGREES)
        rows.append(QualityRow(theme.key, theme.label, q.items, q.alpha, q.agreement, tuple(flags)))
    return rows
