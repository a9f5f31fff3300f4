"""The printable report of one round: what it draws, built from manifests alone.

Invariant: the report uses only rounds up to and including its own, and only the organisation
and units down to the leadership depth; it holds no figure a manifest hides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..manifest import Manifest
from .heatmap import Heatmap, heatmap
from .overview import Overview, overview
from .selection import manifest_by_number, themes_of
from .trends import Event, TrendRow, place_events, trend_rows
from .wording import theme_scale


@dataclass(frozen=True)
class ActionRow:
    """ "You said, we did": one thing done after the round, under a theme."""

    theme_label: str
    text: str
    recorded_on: str


@dataclass(frozen=True)
class ReportTrend:
    """One small multiple: a theme's trend for one unit, with events placed on its rounds."""

    unit_path: str
    theme: str
    theme_label: str
    y_min: float
    y_max: float
    ticks: tuple[str, ...]
    rows: tuple[TrendRow, ...]
    events: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class Report:
    """Everything the printable report of one round draws, and nothing else."""

    program: str
    round_label: str
    closed_on: str
    k: int
    comment_k: int
    verdict: str
    overview: Overview
    trends: tuple[tuple[str, tuple[ReportTrend, ...]], ...]
    heatmap: Heatmap
    actions: tuple[ActionRow, ...]

    @property
    def title(self) -> str:
        """Return the document's title: programme and round."""
        return f"{self.program}: results of {self.round_label}"


def audit_verdict(manifest: Manifest) -> str:
    """Return the release's thresholds and audit verdict as a sentence."""
    k = manifest.k
    found = manifest.audit
    mode = "exact audit" if found.mode == "exact" else "audit over blocks of at least k people"
    outcome = (
        f"The disclosure check passed ({mode}): no group of 1 to {k - 1} people can be worked "
        f"out from the {found.cells} published cells"
        if found.ok
        else "The disclosure check did not pass"
    )
    return (
        f"Every figure describes at least k = {k} respondents; comments are shown only for "
        f"groups of at least {manifest.comment_k}. {outcome}"
        f"{'' if found.exhaustive else ' (search budget reached)'}."
    )


def report(
    manifests: Sequence[Manifest],
    number: int,
    actions: Sequence[ActionRow] = (),
    events: Sequence[Event] = (),
    max_depth: int = 1,
) -> Report:
    """Return the contents of the printable report of round ``number``.

    Only rounds up to and including it are used, and only the organisation and units down to
    ``max_depth`` (departments), as leadership sees them.

    :raises KeyError: if no released round has that number.
    """
    index = manifest_by_number(manifests, number)
    if index is None:
        raise KeyError(number)
    upto = list(manifests[: index + 1])
    manifest = upto[-1]
    themes = themes_of(upto)
    ticks = tuple(m.round.label for m in upto)
    placed = place_events([m.round.closed_on for m in upto], events)
    trends = []
    for unit in sorted(manifest.units, key=lambda u: u.path):
        if not unit.shown or unit.depth > max_depth:
            continue
        panels = []
        for key, label in themes:
            low, high, _ = theme_scale(key)
            rows = tuple(trend_rows(upto, unit.id, key))
            panels.append(ReportTrend(unit.path, key, label, low, high, ticks, rows, placed))
        trends.append((unit.path, tuple(panels)))
    return Report(
        program=manifest.round.program,
        round_label=manifest.round.label,
        closed_on=manifest.round.closed_on,
        k=manifest.k,
        comment_k=manifest.comment_k,
        verdict=audit_verdict(manifest),
        overview=overview(upto, manifest.root.id, themes),
        trends=tuple(trends),
        heatmap=heatmap(manifest, max_depth=max_depth),
        actions=tuple(actions),
    )
