"""The demo's comments read like many people over a year, not three sentences on repeat."""

from __future__ import annotations

import random

from survey import demo
from survey.demo_comments import IDENTIFIERS, PHASES, CommentWriter, compose, samples
from survey.domain.redaction import mask, name_pattern

# Words that tell each phase of the story apart (at least one in most of its comments).
STORY = {
    "layoff": ("cut", "layoff", "let go", "next", "cv", "scared", "desks", "left", "criteria"),
    "reorg": ("re-org", "plan", "reporting", "goals", "owns", "manager", "structure", "split"),
    "applied": ("applied", "new", "pay", "two companies", "joiner", "us and them", "long-timers"),
}


def test_a_year_of_comments_is_hundreds_of_distinct_texts() -> None:
    writer = CommentWriter(random.Random(7))  # noqa: S311 - reproducible synthetic text
    texts = [writer.write(phase) for phase in PHASES for _ in range(120)]
    assert len(set(texts)) >= 560  # of 600
    lengths = sorted(len(t) for t in texts)
    assert lengths[0] < 20 and lengths[-1] > 200  # terse and long ones
    assert 60 < lengths[len(lengths) // 2] < 160
    assert all("{" not in t and "}" not in t for t in texts)  # every slot filled


def test_each_phase_follows_the_story() -> None:
    rng = random.Random(3)  # noqa: S311
    for phase, words in STORY.items():
        texts = [compose(rng, phase).lower() for _ in range(200)]
        on_story = sum(any(w in t for w in words) for t in texts)
        assert on_story > 100, phase
    calm = [compose(rng, "calm").lower() for _ in range(200)]
    assert not any("layoff" in t or "cuts" in t for t in calm)


def test_newcomers_and_long_timers_see_the_new_unit_differently() -> None:
    rng = random.Random(5)  # noqa: S311
    new = {compose(rng, "applied", newcomer=True) for _ in range(200)}
    old = {compose(rng, "applied", long_timer=True) for _ in range(200)}
    assert any("As a new joiner" in t or "Onboarding" in t for t in new)
    assert not any("As a new joiner" in t or "Onboarding" in t for t in old)


def test_identifiers_in_demo_comments_are_masked_at_release() -> None:
    roster = [f"{first} {last}" for first in demo.FIRST for last in demo.LAST]
    names = name_pattern(roster)
    for sentence in IDENTIFIERS:
        masked = mask(sentence, names)
        assert "[" in masked, sentence
        for secret in ("Lindqvist", "7946", "4512", "@", "example-ai-lab", "Haddad"):
            assert secret not in masked, sentence


def test_benchmark_samples_are_distinct_and_reproducible() -> None:
    assert samples("layoff", 40) == samples("layoff", 40)
    assert len(set(samples("recovery", 40))) == 40
    assert set(demo.COMMENTS) == set(PHASES)
