"""The demo's comments: what people at the Example AI Lab write, phase by phase of its story.

A comment is put together from per-phase, per-theme pieces — an opening in some tone, one or
two points, a detail, a wish — with its length and tone drawn at random, so a year of rounds
gives several hundred distinct comments that read like different people rather than three
sentences on repeat. The story: calm (R1-R3), layoffs (R4-R5), a re-org (R6-R7), a new, richly
paid unit joining (R8-R9) and a partial recovery (R10 on). New joiners and long-timers see the
new unit differently. A few comments carry what masking must catch (a colleague's name, a phone
number, an email, a handle, a ticket); every comment still goes through sealing and release.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

PHASES = ("calm", "layoff", "reorg", "applied", "recovery")
TONES = ("positive", "neutral", "negative")
# How each phase feels: weights of positive, neutral and negative comments.
TONE_WEIGHTS = {
    "calm": (5, 3, 2),
    "layoff": (1, 3, 6),
    "reorg": (1, 3, 6),
    "applied": (2, 3, 5),
    "recovery": (4, 4, 3),
}
LENGTH_WEIGHTS = (3, 4, 3, 1)  # one, two, three or four sentences
TERSE_SHARE = 0.08  # comments of a few words
IDENTIFIER_SHARE = 0.05  # comments that name someone or paste a number (masked at release)
MAX_TRIES = 30  # draws to find a comment not given before

OPENINGS = {
    "positive": [
        "Honestly, good fortnight.",
        "Credit where it is due.",
        "Small thing, but it matters:",
        "Overall I'm fine.",
        "I want to say something positive for once.",
    ],
    "neutral": [
        "Not much to add this time.",
        "Mixed feelings.",
        "Two things.",
        "For what it's worth:",
        "Same as the last round, mostly.",
    ],
    "negative": [
        "I'll be blunt.",
        "I'm tired of writing this.",
        "Nobody will say it in a meeting, so here:",
        "This is the third time I've raised this.",
        "Frankly, it's getting worse.",
    ],
}

# Phase -> theme -> points. A point is one sentence; the tone of the phase picks the theme mix.
POINTS: dict[str, dict[str, list[str]]] = {
    "calm": {
        "morale": [
            "The new eval tooling is a real improvement.",
            "I like the work and the people I do it with.",
            "Shipping the {project} milestone felt great.",
            "Energy in the team is high.",
        ],
        "clarity": [
            "I'd like clearer priorities for next quarter.",
            "The planning doc helped, but it is already out of date.",
            "I know what I'm working on and why.",
        ],
        "cohesion": [
            "Team lunches help. More of that, please.",
            "Pairing with the infra folks on {project} was the best week I've had.",
            "Reviews are kind and fast.",
        ],
        "creativity": [
            "Having a day a fortnight for side experiments is why I stay.",
            "We try odd ideas and nobody laughs.",
            "I'd love more compute for exploratory runs.",
        ],
        "workload": [
            "On-call is heavier than it looks from outside.",
            "The {meeting} eats most of my Tuesday.",
        ],
    },
    "layoff": {
        "security": [
            "After the cuts nobody knows whether they are next.",
            "Tell us honestly whether more cuts are coming.",
            "People are updating their CVs instead of running experiments.",
            "I've stopped planning anything longer than a month.",
            "The criteria for who was let go were never explained.",
        ],
        "safety": [
            "Nobody wants to be the one who raises a problem now.",
            "I kept quiet in the {meeting} because it felt risky to disagree.",
            "Mistakes get hidden, because being visible feels dangerous.",
        ],
        "trust": [
            "We heard about the layoffs from the press first.",
            "Leadership said the team was safe two weeks before it was cut.",
            "I want to believe the all-hands, but the numbers don't add up.",
        ],
        "morale": [
            "Losing {count} colleagues in one day is hard to shake off.",
            "The empty desks are depressing.",
            "We are doing the work of the people who left, with no plan for it.",
        ],
        "positive": [
            "My manager was honest with us about the cuts, which I appreciated.",
            "The severance for the people who left was decent, at least.",
        ],
    },
    "reorg": {
        "clarity": [
            "I no longer know who sets my team's goals.",
            "Three reporting-line changes in a month. What is the plan?",
            "Our roadmap was cancelled and nothing replaced it.",
            "Two directors gave us opposite priorities this week.",
            "Nobody can tell me who owns {project} now.",
        ],
        "trust": [
            "The re-org was announced as final, then changed twice.",
            "Decisions are made somewhere else and we find out last.",
        ],
        "morale": [
            "I spend more time in alignment meetings than doing research.",
            "Half the team is waiting to hear where they belong.",
        ],
        "cohesion": [
            "The team was split across two departments and it shows.",
            "We lost the people we used to ask for help.",
        ],
        "positive": [
            "The new structure makes sense on paper; give it time.",
            "My new lead has been great at explaining the re-org one to one.",
        ],
    },
    "applied": {
        "cohesion": [
            "Long-timers and new joiners barely talk; we need shared projects.",
            "Feels like two companies now.",
            "The new unit has its own channels, its own offsites, its own everything.",
            "Nobody introduced the Applied people to the rest of us.",
        ],
        "fairness": [
            "The new Applied team seems to play by different rules and pay scales.",
            "New hires get offers well above what people here for years earn.",
            "It's hard to stay motivated when the newest people are paid the most.",
        ],
        "clarity": [
            "It is unclear how Applied's priorities relate to ours.",
            "We were asked to support Applied on top of our own goals.",
        ],
        "positive": [
            "The Applied folks I've worked with are very good.",
            "Having real users for our models is exciting.",
        ],
    },
    "applied_new": {
        "cohesion": [
            "As a new joiner it's hard to find who to ask about anything.",
            "Some long-timers are cold towards us; we didn't set the pay scales.",
            "I'd like to meet the research teams properly.",
        ],
        "clarity": [
            "Onboarding was rushed; I learned the codebase from old chat threads.",
            "Happy to be here, still working out how decisions are made.",
        ],
        "positive": [
            "Great first months, interesting problems, kind colleagues.",
            "The lab is even better than I hoped when I joined.",
        ],
    },
    "recovery": {
        "trust": [
            "The all-hands Q&A helped; keep answering the hard questions.",
            "Leadership admitted mistakes about the layoffs, which I did not expect.",
            "Anonymous questions at the Q&A made a difference.",
        ],
        "clarity": [
            "Goals are clearer since the roadmap was published.",
            "The one-page goal sheet is simple and it works.",
            "I finally know who decides what.",
        ],
        "safety": [
            "Still nervous, but it feels safer to disagree again.",
            "People are raising problems in the {meeting} again.",
        ],
        "cohesion": [
            "The mixed Applied and Research pairs are working better than I expected.",
            "Shared demos helped; I know what the other half of the lab does now.",
            "The gap between old and new teams is still there, but smaller.",
        ],
        "security": [
            "No news of more cuts, but nobody has said it out loud either.",
            "I'd still like a straight answer about next year's budget.",
        ],
    },
}
DETAILS = {
    "calm": [
        "It took about {weeks} weeks to notice the difference.",
        "The {meeting} is where this shows most.",
        "Not urgent, just worth saying.",
    ],
    "layoff": [
        "Three people on my floor have interviews elsewhere.",
        "Silence from the top makes it worse every week.",
        "It has been {weeks} weeks and we still have no answers.",
    ],
    "reorg": [
        "We have had {count} different plans since the summer.",
        "I have asked in the {meeting} and got no answer.",
        "It has been {weeks} weeks of this.",
    ],
    "applied": [
        "You can see it in who sits with whom at lunch.",
        "It came up in the {meeting} and was brushed off.",
        "It is the main thing people talk about over coffee.",
    ],
    "recovery": [
        "It is not fixed, but it is moving the right way.",
        "The last {weeks} weeks were the best since spring.",
        "Please keep it up after the next round of results.",
    ],
}
WISHES = {
    "calm": [
        "Keep doing what you're doing.",
        "More of this, please.",
        "A quieter on-call rota would make it perfect.",
    ],
    "layoff": [
        "Just tell us the truth, even if it is bad.",
        "Publish the criteria, please.",
        "We need to hear from the CEO directly, not through slides.",
    ],
    "reorg": [
        "Please publish who owns what, and keep it current.",
        "One plan, written down, would help more than any all-hands.",
        "Stop changing it until we've tried it.",
    ],
    "applied": [
        "Start some shared projects between the old and new teams.",
        "Be open about the pay bands.",
        "Invite everyone to the Applied demos.",
    ],
    "recovery": [
        "Keep the Q&A monthly.",
        "Don't let the goal sheets go stale.",
        "Now do the same for the pay question.",
    ],
}
TERSE = {
    "calm": ["All good.", "Happy here.", "Fine, thanks.", "Nothing to report."],
    "layoff": ["Scared.", "Who's next?", "Morale is on the floor.", "No comment."],
    "reorg": ["Confused.", "Who is my manager?", "Chaos.", "Still waiting for the plan."],
    "applied": ["Two companies.", "Pay gap.", "Us and them.", "Who are these people?"],
    "recovery": ["Better.", "Improving.", "Cautiously hopeful.", "Thanks for listening."],
}
# Sentences that name someone or paste a number: the release masks them before anyone reads.
IDENTIFIERS = [
    "Ask Tove Lindqvist, she was the only one who explained it.",
    "Call me on +44 20 7946 0958 if you want details.",
    "Lindqvists team handled it best, honestly.",
    "Ping @omar.haddad, he has the numbers.",
    "See intranet.example-ai-lab.test/wiki/plans for what we were promised.",
    "It's all in ticket OPS-4512, which nobody has read.",
    "Write to hana.okafor@example-ai-lab.test if you doubt it.",
    "My extension is ext. 4512 if anyone wants to talk.",
]
FILLS = {
    "project": ["the eval harness", "the data pipeline", "the tokenizer rewrite", "the demo"],
    "meeting": ["weekly sync", "all-hands", "planning meeting", "research review", "stand-up"],
    "weeks": ["two", "three", "four", "six"],
    "count": ["three", "four", "five", "a dozen"],
}


def _fill(rng: random.Random, text: str) -> str:
    """Return ``text`` with each {slot} replaced by one of its fills."""
    return text.format(**{slot: rng.choice(words) for slot, words in FILLS.items()})


def _points(phase: str, tone: str, newcomer: bool) -> list[str]:
    """Return the points a person in ``phase`` writing in ``tone`` may make."""
    themes = POINTS["applied_new" if newcomer and phase == "applied" else phase]
    if tone == "positive":
        return themes.get("positive", []) or [p for ps in themes.values() for p in ps]
    return [p for theme, ps in themes.items() if theme != "positive" for p in ps]


def compose(
    rng: random.Random, phase: str, newcomer: bool = False, long_timer: bool = False
) -> str:
    """Return one comment for a person in ``phase`` of the story.

    :param newcomer: the person belongs to the unit that joined (they see it from inside).
    :param long_timer: the person has been here three years or more (the pay gap stings more).
    """
    if rng.random() < TERSE_SHARE:
        return rng.choice(TERSE[phase])
    weights = TONE_WEIGHTS[phase]
    if long_timer and phase == "applied":
        weights = (1, 2, 7)
    tone = rng.choices(TONES, weights=weights)[0]
    length = rng.choices((1, 2, 3, 4), weights=LENGTH_WEIGHTS)[0]
    points = _points(phase, tone, newcomer)
    chosen = rng.sample(points, k=min(len(points), 2 if length == 4 else 1))
    sentences = list(chosen)
    if length >= 2:
        sentences.append(rng.choice(DETAILS[phase] if tone != "positive" else WISHES[phase]))
    if length >= 3:
        sentences.insert(0, rng.choice(OPENINGS[tone]))
    if length >= 3 and tone != "positive":
        sentences.append(rng.choice(WISHES[phase]))
    if rng.random() < IDENTIFIER_SHARE:
        sentences.append(rng.choice(IDENTIFIERS))
    return _fill(rng, " ".join(sentences))


class CommentWriter:
    """Write comments that are not repeated: a draw already given is drawn again."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.given: set[str] = set()

    def write(self, phase: str, newcomer: bool = False, long_timer: bool = False) -> str:
        """Return a comment for ``phase``, new if one can be found in ``MAX_TRIES`` draws."""
        text = ""
        for _ in range(MAX_TRIES):
            text = compose(self.rng, phase, newcomer, long_timer)
            if text not in self.given:
                break
        self.given.add(text)
        return text


def samples(phase: str, count: int, seed: int = 1) -> Sequence[str]:
    """Return ``count`` distinct comments of one phase (for benchmarks that need a few)."""
    writer = CommentWriter(random.Random(seed))  # noqa: S311 - synthetic, reproducible text
    return tuple(writer.write(phase) for _ in range(count))
