"""Benchmark: release time and cells published, exact audit vs block merging vs naive thresholds.

For synthetic organisations of about 50, 300 and 2,000 atoms (finest unit x tenure band with
respondents), build a round's release manifest with ``survey.domain.release.build_manifest`` in
two modes and compare them with a baseline measured in the same run:

* ``exact``  - attribute cells chosen greedily, each kept only if the exact audit still passes
  (the default path while atoms <= ``EXACT_MAX_ATOMS``; forced on larger orgs in a subprocess
  with a time limit);
* ``blocks`` - atoms merged into blocks of >= k, only unions of whole blocks published (the
  default path above ``EXACT_MAX_ATOMS``; forced on smaller orgs by setting it to 0);
* ``naive``  - the baseline: publish every unit and every organisation/department x band cell
  with n >= k, with neither the remainder rule nor the audit;
* ``exact + DP`` - the exact mode with differential privacy on (``--dp-epsilon`` per release,
  OpenDP's sampler, on the ``--dp-size`` org): the cost of drawing the noise, and how many
  cells carry it.

Every mode's published cells then go through the same oracle, ``survey.domain.audit.audit``
over the true atoms, which counts the groups of 1..k-1 people it can derive ("leaks"); exact and
block releases are also checked with ``survey.domain.release.verify``.

Run from the repository root::

    .venv/bin/python bench/release.py [--sizes 50,300,2000,5000,10000] [--k 5] [--seed 1]
                                      [--repeats 3] [--exact-timeout 60]
                                      [--dp-size 2000] [--dp-epsilon 1] [--members]

Prints a table and writes ``bench/out/release.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from survey.domain import audit, disclosure, release  # noqa: E402
from survey.domain import manifest as manifests  # noqa: E402
from survey.domain.blocks import merge_into_blocks  # noqa: E402
from survey.domain.questions import load_bank  # noqa: E402

OUT_DIR = os.path.join(ROOT, "bench", "out")
OUT_PATH = os.path.join(OUT_DIR, "release.json")
BANDS = ("<1y", "1-3y", "3y+", "unstated")
BAND_WEIGHTS = (2, 4, 5, 1)  # organisation-wide tenure mix; each department skews it
DEPT_SKEW = 0.8  # sigma of the log-normal factor applied to each band weight per department
DIRECT_MEMBERS_SHARE = 0.3  # departments with 1..3 people placed directly in them
# Team headcount: (low, high, weight). The first range is below k = 5 on purpose.
TEAM_SIZES = ((1, 4, 20), (5, 12, 45), (13, 30, 28), (31, 80, 7))
RESPONSE_RATE = (0.55, 0.95)  # per team, uniform
ATOMS_PER_DEPT = 30  # departments = max(3, target // 30); their sizes follow a Zipf law
FAST_S = 10.0  # runs shorter than this are repeated and the median is reported
COUNTED_LEAKS = 10**9  # raise the audit's example cap so the oracle counts every leak it finds
ORIGINAL_AUDIT = audit.audit
ORIGINAL_EXACT_MAX = release.EXACT_MAX_ATOMS
BANK = load_bank()
ASKED = tuple(item.key for item in BANK.items)


def log(message: str) -> None:
    """Progress goes to stderr so stdout holds only the results."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- synthetic orgs


@dataclass
class Org:
    """A synthetic organisation and one round's opened answers, as a release sees them."""

    target: int
    data: release.ReleaseInput
    counts: dict[str, int]  # respondents per atom (unit|band)
    departments: int
    teams: int

    @property
    def atoms(self) -> int:
        return len(self.counts)

    def describe(self) -> dict[str, Any]:
        units = self.data.snapshot["units"]
        parents = {int(u): info["parent"] for u, info in units.items()}
        direct = Counter(a.unit_id for a in self.data.answers)
        totals = disclosure.subtree_counts(parents, direct)
        k = self.data.k
        return {
            "target_atoms": self.target,
            "atoms": self.atoms,
            "atoms_below_k": sum(1 for c in self.counts.values() if c < k),
            "units": len(units),
            "departments": self.departments,
            "teams": self.teams,
            "teams_below_k": sum(
                1
                for u, p in parents.items()
                if p is not None and parents[p] is not None and totals[u] < k
            ),  # fmt: skip
            "respondents": len(self.data.answers),
            "eligible": sum(self.data.snapshot["eligible"].values()),
        }


def make_org(target: int, seed: int, k: int, members: bool = False) -> Org:
    """Return a deterministic org of about ``target`` atoms: root, departments, teams.

    Departments get Zipf-distributed numbers of teams (so some have one or two), a skewed
    tenure mix each, and sometimes 1..3 people placed directly in them. Teams have varied
    headcounts (a fifth below k) and response rates. Teams are added until the number of
    atoms with respondents reaches ``target`` (it may overshoot by at most three).

    With ``members`` the snapshot also names the eligible people of every atom (person ids),
    as rounds do since members are recorded, so the release runs its across-rounds check
    (:class:`survey.domain.churn.History`, here with no earlier release). Its atoms are not
    grouped to k eligible people, as a round's storage labels are, so that check refuses a
    few cells here (differences inside the round) that a real round would publish.
    """
    rng = random.Random(f"candor-release-bench:{seed}:{target}")
    answer_rng = random.Random(f"candor-release-bench-answers:{seed}:{target}")
    tree: dict[int, tuple[int | None, str]] = {1: (None, "Org")}
    n_depts = max(3, target // ATOMS_PER_DEPT)
    depts: list[int] = []
    mix: dict[int, list[float]] = {}
    for d in range(n_depts):
        uid = len(tree) + 1
        tree[uid] = (1, f"Dept {d + 1}")
        depts.append(uid)
        mix[uid] = [w * rng.lognormvariate(0.0, DEPT_SKEW) for w in BAND_WEIGHTS]
    dept_weight = [1.0 / (i + 1) ** 0.8 for i in range(n_depts)]
    eligible: Counter[int] = Counter()
    eligible_atoms: Counter[str] = Counter()
    placed: list[tuple[int, str]] = []

    def staff(unit: int, dept: int, people: int, rate: float) -> None:
        for _ in range(people):
            band = rng.choices(BANDS, weights=mix[dept])[0]
            eligible[unit] += 1
            eligible_atoms[release.atom_id(unit, band)] += 1
            if rng.random() < rate:
                placed.append((unit, band))

    for dept in depts:
        if rng.random() < DIRECT_MEMBERS_SHARE:
            staff(dept, dept, rng.randint(1, 3), rng.uniform(*RESPONSE_RATE))
    teams = 0
    while len(set(placed)) < target:
        dept = depts[teams] if teams < n_depts else rng.choices(depts, weights=dept_weight)[0]
        uid = len(tree) + 1
        tree[uid] = (dept, f"Team {uid}")
        teams += 1
        low, high, _ = rng.choices(TEAM_SIZES, weights=[w for *_, w in TEAM_SIZES])[0]
        staff(uid, dept, rng.randint(low, high), rng.uniform(*RESPONSE_RATE))

    def path(uid: int) -> str:
        parent, name = tree[uid]
        return name if parent is None else f"{path(parent)} / {name}"

    snapshot = {
        "units": {
            str(uid): {"parent": parent, "name": name, "path": path(uid)}
            for uid, (parent, name) in tree.items()
        },
        "eligible": {str(u): c for u, c in sorted(eligible.items())},
        "eligible_atoms": dict(sorted(eligible_atoms.items())),
        "people": [],
    }
    if members:
        named: dict[str, list[int]] = {}
        for atom, count in sorted(eligible_atoms.items()):
            first = sum(len(ids) for ids in named.values()) + 1
            named[atom] = list(range(first, first + count))
        snapshot["members"] = named
        snapshot["people"] = list(range(1, sum(eligible_atoms.values()) + 1))
    answers = [
        release.OpenedAnswer(
            unit, band, {i.key: answer_rng.randint(*i.bounds) for i in BANK.items_for(ASKED)}
        )
        for unit, band in placed
    ]
    data = release.ReleaseInput(
        round_id=1,
        round_number=1,
        program="Synthetic pulse",
        opens_on="2026-11-02",
        closed_on="2026-11-16",
        k=k,
        comment_k=disclosure.DEFAULT_COMMENT_K,
        bank=BANK,
        asked=ASKED,
        snapshot=snapshot,
        answers=answers,
    )
    counts = dict(Counter(release.atom_id(u, b) for u, b in placed))
    return Org(target, data, counts, n_depts, teams)


# --------------------------------------------------------------------------- instrumentation


@dataclass
class AuditCalls:
    """What the release's own calls to ``audit.audit`` did (including ``select_cells``)."""

    calls: int = 0
    seconds: float = 0.0
    failed: int = 0
    not_exhaustive: int = 0
    sets_checked: int = 0


@contextmanager
def counting_audits(progress: bool = False) -> Iterator[AuditCalls]:
    """Count and time every ``audit.audit`` call made meanwhile (module attribute patched)."""
    stats = AuditCalls()

    def wrapped(*args: Any, **kwargs: Any) -> audit.AuditResult:
        began = time.perf_counter()
        result = ORIGINAL_AUDIT(*args, **kwargs)
        spent = time.perf_counter() - began
        stats.calls += 1
        stats.seconds += spent
        stats.failed += not result.ok
        stats.not_exhaustive += not result.exhaustive
        stats.sets_checked += result.sets_checked
        if progress:
            print(
                f"audit {stats.calls}: {spent:.3f}s ok={result.ok} "
                f"exhaustive={result.exhaustive} sets={result.sets_checked} "
                f"total={stats.seconds:.1f}s",
                file=sys.stderr,
                flush=True,
            )
        return result

    audit.audit = wrapped  # type: ignore[assignment]
    try:
        yield stats
    finally:
        audit.audit = ORIGINAL_AUDIT


@contextmanager
def exact_max_atoms(value: int) -> Iterator[None]:
    """Temporarily set ``release.EXACT_MAX_ATOMS`` to force one mode."""
    release.EXACT_MAX_ATOMS = value
    try:
        yield
    finally:
        release.EXACT_MAX_ATOMS = ORIGINAL_EXACT_MAX


def oracle(
    cells: Sequence[frozenset[str]],
    counts: Mapping[str, int],
    k: int,
    units: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """Audit published cells over the true atoms, counting every leak the search finds.

    ``units`` (the snapshot's) only names the atoms of the leak examples.
    """

    def name(atom: str) -> str:
        unit, band = atom.split("|", 1)
        return f"{units[unit]['path']} | {band}"

    saved = audit.MAX_LEAK_EXAMPLES
    audit.MAX_LEAK_EXAMPLES = COUNTED_LEAKS
    try:
        began = time.perf_counter()
        result = ORIGINAL_AUDIT(cells, counts, k)
        seconds = time.perf_counter() - began
    finally:
        audit.MAX_LEAK_EXAMPLES = saved
    leaked_atoms = set().union(*(leak.atoms for leak in result.leaks))
    if not result.exhaustive:
        verdict = "not exhaustive"
    elif result.leaks:
        verdict = "leaks found"
    else:
        verdict = "ok"
    return {
        "verdict": verdict,
        "ok": result.ok,
        "exhaustive": result.exhaustive,
        "leaks": len(result.leaks),
        "people_in_leaks": sum(counts.get(a, 0) for a in leaked_atoms),
        "single_atom_leaks": sum(1 for leak in result.leaks if len(leak.atoms) == 1),
        "leak_examples": [
            {"atoms": sorted(name(a) for a in leak.atoms), "total": leak.total}
            for leak in result.leaks[:5]
        ],
        "sets_checked": result.sets_checked,
        "cells": result.cells,
        "seconds": seconds,
    }


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, list[float], Any]:
    """Run ``fn``; repeat it if it is fast. Return the median seconds, all runs, last result."""
    runs: list[float] = []
    result = None
    for _ in range(max(1, repeats)):
        began = time.perf_counter()
        result = fn()
        runs.append(time.perf_counter() - began)
        if runs[0] >= FAST_S:
            break
    return statistics.median(runs), runs, result


# --------------------------------------------------------------------------- the three modes


def manifest_cells(manifest: Mapping[str, Any], org: Org) -> list[frozenset[str]]:
    """The atom sets the manifest publishes, from its own cell definitions."""
    subtree = release.subtrees_of(org.data.snapshot)
    bands = manifest["attributes"]["bands"]
    return [release.expand_cell(d, subtree, bands) for d in manifest["audit"]["published"]]


def attribute_bound(manifest: Mapping[str, Any], org: Org) -> int:
    """The most attribute cells any sound selection could publish beside these unit cells.

    A unit's band cells can only be published with n >= k, and the unit's own total is
    published: if its bands with n >= k all were, the unit minus them would leave its other
    people, so when those number 1..k-1 at least one band with n >= k must stay hidden. Every
    unit with candidates is counted this way; no order or search can beat the sum.
    """
    subtree = release.subtrees_of(org.data.snapshot)
    k = org.data.k
    by_unit: dict[int, list[int]] = {}
    for cell in manifest["attributes"]["cells"]:
        unit = int(cell["unit"])
        definition = {"kind": "attribute", "unit": unit, "band": cell["band"]}
        atoms = release.expand_cell(definition, subtree, [cell["band"]])
        by_unit.setdefault(unit, []).append(sum(org.counts.get(a, 0) for a in atoms))
    bound = 0
    for unit, totals in by_unit.items():
        whole = sum(org.counts.get(a, 0) for a in release.expand_cell(
            {"kind": "unit", "unit": unit}, subtree, bands_of(org)
        ))  # fmt: skip
        big = [t for t in totals if t >= k]
        rest = whole - sum(big)
        bound += len(big) - (1 if big and 0 < rest < k else 0)
    return bound


def hidden_reasons(manifest: Mapping[str, Any]) -> dict[str, int]:
    """Why attribute cells were hidden, in the manifest's public wording (small / other)."""
    out: Counter[str] = Counter()
    for cell in manifest["attributes"]["cells"]:
        if not cell["shown"]:
            out["fewer than k" if cell["reason"] == disclosure.REASON_SMALL else "other"] += 1
    return dict(out)


def block_diagnostics(org: Org) -> dict[str, Any]:
    """How block mode's blocks look: how many mix tenure bands (which no band cell can use)."""
    parents = {int(u): info["parent"] for u, info in org.data.snapshot["units"].items()}
    direct = Counter(a.unit_id for a in org.data.answers)
    visibility = disclosure.decide_units(parents, direct, org.data.k, org.data.churn)
    blocks = merge_into_blocks(org.data.k, parents, visibility, org.counts)
    bands_in = [len({atom.split("|", 1)[1] for atom in block}) for block in blocks]
    return {
        "blocks": len(blocks),
        "blocks_mixing_bands": sum(1 for n in bands_in if n > 1),
        "band_pure_blocks": sum(1 for n in bands_in if n == 1),
    }


def run_release(
    org: Org,
    mode: str,
    repeats: int,
    forced: bool,
    progress: bool = False,
    dp_epsilon: float | None = None,
) -> dict[str, Any]:
    """Time ``build_manifest`` in one mode and check what it published.

    ``progress`` prints every audit call to stderr (the forced exact subprocess uses it, so a
    run stopped by the time limit still says how far it got).
    """
    limit = release.EXACT_MAX_ATOMS
    if mode == release.MODE_BLOCKS and forced:
        limit = 0
    elif mode == release.MODE_EXACT and forced:
        limit = max(org.atoms, ORIGINAL_EXACT_MAX)
    data = replace(org.data, dp_epsilon=dp_epsilon)
    label = mode + (" + DP" if dp_epsilon is not None else "")
    row: dict[str, Any] = {"atoms": org.atoms, "mode": label, "forced": forced}
    with exact_max_atoms(limit), counting_audits(progress) as calls:
        try:
            median, runs, built = timed(lambda: release.build_manifest(data), repeats)
        except release.ReleaseError as exc:
            row.update(verdict="release refused", error=str(exc))
            return row
    manifest = manifests.serialise(built)
    assert manifest["audit"]["mode"] == mode, (manifest["audit"]["mode"], mode)
    if dp_epsilon is not None:
        row["noisy_cells"] = sum(1 for u in built.units if u.noisy) + sum(
            1 for c in built.attributes.cells if c.noisy
        )
        row["dp_per_figure"] = built.noise.per_figure if built.noise else None
    began = time.perf_counter()
    verified = release.verify(built, org.data.snapshot, org.counts)
    verify_s = time.perf_counter() - began
    checked = oracle(
        manifest_cells(manifest, org), org.counts, org.data.k, org.data.snapshot["units"]
    )
    row.update(
        release_s=median,
        runs_s=runs,
        unit_cells=sum(1 for u in manifest["units"] if u["shown"]),
        units=len(manifest["units"]),
        attribute_cells=sum(1 for c in manifest["attributes"]["cells"] if c["shown"]),
        attribute_candidates=len(manifest["attributes"]["cells"]),
        attribute_bound=attribute_bound(manifest, org),
        attribute_hidden=hidden_reasons(manifest),
        release_audit={
            k: manifest["audit"][k] for k in ("ok", "cells", "atoms", "sets_checked", "exhaustive")
        },
        audit_calls_per_release=calls.calls // len(runs),
        audit_s_per_release=calls.seconds / len(runs),
        audit_calls_failed_per_release=calls.failed // len(runs),
        audit_calls_not_exhaustive_per_release=calls.not_exhaustive // len(runs),
        verify={
            "ok": verified.ok,
            "exhaustive": verified.exhaustive,
            "sets_checked": verified.sets_checked,
            "seconds": verify_s,
        },
        oracle=checked,
        verdict=checked["verdict"],
    )
    if mode == release.MODE_BLOCKS:
        row["blocks"] = block_diagnostics(org)
    return row


def bands_of(org: Org) -> list[str]:
    """The tenure bands, found the way ``build_manifest`` finds them."""
    return sorted(
        {key.split("|", 1)[1] for key in org.data.snapshot.get("eligible_atoms", {})}
        | {a.band for a in org.data.answers}
    )


def naive_cells(org: Org) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Unit cells and organisation/department x band cells with n >= k: no remainder rule."""
    snapshot = org.data.snapshot
    parents = {int(u): info["parent"] for u, info in snapshot["units"].items()}
    subtree = release.subtrees_of(snapshot)
    bands = bands_of(org)
    k = org.data.k

    def total(definition: Mapping[str, Any]) -> int:
        return sum(org.counts.get(a, 0) for a in release.expand_cell(definition, subtree, bands))

    units = [{"kind": "unit", "unit": u} for u in sorted(parents)]
    shallow = [u for u in sorted(parents) if parents[u] is None or parents[parents[u]] is None]
    attributes = [{"kind": "attribute", "unit": u, "band": b} for u in shallow for b in bands]
    return (
        [d for d in units if total(d) >= k],
        [d for d in attributes if total(d) >= k],
    )


def run_naive(org: Org, repeats: int) -> dict[str, Any]:
    """Threshold every cell at k, then let the oracle count what could be derived."""
    median, runs, (units, attributes) = timed(lambda: naive_cells(org), repeats)
    subtree = release.subtrees_of(org.data.snapshot)
    bands = bands_of(org)
    cells = [release.expand_cell(d, subtree, bands) for d in units + attributes]
    checked = oracle(cells, org.counts, org.data.k, org.data.snapshot["units"])
    parents = {int(u): info["parent"] for u, info in org.data.snapshot["units"].items()}
    shallow = sum(1 for u in parents if parents[u] is None or parents[parents[u]] is None)
    return {
        "atoms": org.atoms,
        "mode": "naive",
        "forced": False,
        "release_s": median,
        "runs_s": runs,
        "unit_cells": len(units),
        "units": len(parents),
        "attribute_cells": len(attributes),
        "attribute_candidates": shallow * len(bands),
        "oracle": checked,
        "verdict": checked["verdict"],
    }


def run_forced_exact(org: Org, args: argparse.Namespace) -> dict[str, Any]:
    """Force the exact mode on a large org in a subprocess, stopped after ``--exact-timeout``."""
    cmd = [
        sys.executable, os.path.abspath(__file__), "--child-exact", str(org.target),
        "--seed", str(args.seed), "--k", str(args.k), *(["--members"] if args.members else []),
    ]  # fmt: skip
    began = time.perf_counter()
    try:
        done = subprocess.run(
            cmd, cwd=ROOT, capture_output=True, text=True, timeout=args.exact_timeout
        )
    except subprocess.TimeoutExpired as exc:
        spent = time.perf_counter() - began
        progress = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        lines = [line for line in progress.splitlines() if line.startswith("audit ")]
        return {
            "atoms": org.atoms,
            "mode": release.MODE_EXACT,
            "forced": True,
            "verdict": "too slow / not exhaustive",
            "stopped_after_s": spent,
            "audit_calls_done": len(lines),
            "last_progress": lines[-1] if lines else "",
        }
    if done.returncode != 0 or not done.stdout.strip():
        return {
            "atoms": org.atoms,
            "mode": release.MODE_EXACT,
            "forced": True,
            "verdict": f"child failed ({done.returncode})",
            "stderr_tail": done.stderr[-2000:],
        }
    row: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    row["subprocess_wall_s"] = time.perf_counter() - began
    return row


def child_exact(args: argparse.Namespace) -> int:
    """In the subprocess: build the org again (deterministic) and run the forced exact mode."""
    org = make_org(args.child_exact, args.seed, args.k, args.members)
    row = run_release(org, release.MODE_EXACT, repeats=1, forced=True, progress=True)
    print(json.dumps(row, default=str))
    return 0


# --------------------------------------------------------------------------- output


def cell_text(row: Mapping[str, Any], key: str, total_key: str) -> str:
    return f"{row[key]}/{row[total_key]}" if key in row else "-"


def table(rows: Sequence[Mapping[str, Any]], default_modes: Mapping[int, str]) -> str:
    cols = (
        ("atoms", ">5"), ("mode", "<16"), ("release s", ">9"), ("unit cells", ">10"),
        ("attr cells", ">10"), ("audit verdict", "<25"), ("leaks (people)", ">14"),
        ("audit s", ">7"), ("verify", "<6"),
    )  # fmt: skip
    header = "  ".join(f"{name:{fmt}}" for name, fmt in cols).rstrip()
    lines = [header, "-" * len(header)]
    for r in rows:
        mode = r["mode"] + (" (forced)" if r.get("forced") else "")
        if default_modes.get(r["atoms"]) == r["mode"]:
            mode += " *"
        if "release_s" in r:
            seconds = f"{r['release_s']:.3f}" + ("" if len(r.get("runs_s", [])) > 1 else "¹")
        elif "stopped_after_s" in r:
            seconds = f">{r['stopped_after_s']:.0f}"
        else:
            seconds = "-"
        checked = r.get("oracle")
        leaks = f"{checked['leaks']} ({checked['people_in_leaks']})" if checked else "-"
        audit_s = f"{checked['seconds']:.3f}" if checked else "-"
        verify = "-"
        if "verify" in r:
            verify = "ok" if r["verify"]["ok"] else "FAIL"
        values = (
            r["atoms"], mode, seconds, cell_text(r, "unit_cells", "units"),
            cell_text(r, "attribute_cells", "attribute_candidates"), r["verdict"], leaks,
            audit_s, verify,
        )  # fmt: skip
        line = "  ".join(f"{v:{fmt}}" for v, (_, fmt) in zip(values, cols, strict=True))
        lines.append(line.rstrip())
    return "\n".join(lines)


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "survey"],
            cwd=ROOT, capture_output=True, text=True, timeout=10,
        ).stdout.strip()  # fmt: skip
        return out.stdout.strip() + (" (survey/ has uncommitted changes)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default="50,300,2000,5000,10000", help="target atom counts, comma-separated"
    )
    parser.add_argument(
        "--dp-size", type=int, default=2000, help="the org (target atoms) of the DP row; 0: none"
    )
    parser.add_argument(
        "--dp-epsilon", type=float, default=1.0, help="the DP row's budget per release"
    )
    parser.add_argument("--k", type=int, default=disclosure.DEFAULT_K, help="the threshold k")
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic orgs")
    parser.add_argument("--repeats", type=int, default=3, help="runs per fast measurement")
    parser.add_argument(
        "--exact-timeout",
        type=float,
        default=60.0,
        help="wall-clock limit (s) for the forced exact mode on orgs above EXACT_MAX_ATOMS; "
        "0 skips it",
    )
    parser.add_argument(
        "--members",
        action="store_true",
        help="snapshots name each atom's eligible people, so the across-rounds check runs "
        "(synthetic atoms are not grouped to >= k eligible people as storage labels are, so "
        "it refuses a few cells a real round would not)",
    )
    parser.add_argument("--child-exact", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.sizes = [int(s) for s in str(args.sizes).split(",") if s.strip()]
    if not args.sizes or min(args.sizes) < 1 or args.repeats < 1:
        parser.error("need sizes >= 1 and repeats >= 1")
    disclosure.check_k(args.k)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child_exact:
        return child_exact(args)
    os.makedirs(OUT_DIR, exist_ok=True)
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    orgs: list[dict[str, Any]] = []
    default_modes: dict[int, str] = {}
    for target in args.sizes:
        org = make_org(target, args.seed, args.k, args.members)
        orgs.append(org.describe())
        default = release.MODE_EXACT if org.atoms <= ORIGINAL_EXACT_MAX else release.MODE_BLOCKS
        default_modes[org.atoms] = default
        log(f"org ~{target}: {org.describe()}")
        if default == release.MODE_EXACT:
            rows.append(run_release(org, release.MODE_EXACT, args.repeats, forced=False))
        elif args.exact_timeout > 0:
            log(f"org ~{target}: forcing exact mode, limit {args.exact_timeout:.0f} s")
            rows.append(run_forced_exact(org, args))
        log(f"org ~{target}: {rows[-1]['mode']}: {rows[-1]['verdict']}")
        forced = default != release.MODE_BLOCKS
        rows.append(run_release(org, release.MODE_BLOCKS, args.repeats, forced=forced))
        log(f"org ~{target}: blocks: {rows[-1]['verdict']}")
        rows.append(run_naive(org, args.repeats))
        log(f"org ~{target}: naive: {rows[-1]['verdict']}")
        if target == args.dp_size and default == release.MODE_EXACT:
            rows.append(run_release(org, default, args.repeats, False, dp_epsilon=args.dp_epsilon))
            log(f"org ~{target}: exact + DP: {rows[-1]['verdict']}")
    meta = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "k": args.k,
        "seed": args.seed,
        "members": args.members,
        "repeats": args.repeats,
        "exact_max_atoms": ORIGINAL_EXACT_MAX,
        "exact_timeout_s": args.exact_timeout,
        "total_s": time.perf_counter() - started,
    }
    with open(OUT_PATH, "w", encoding="utf-8") as handle:
        json.dump({**meta, "orgs": orgs, "rows": rows}, handle, indent=2, default=str)
    log(f"wrote {os.path.relpath(OUT_PATH, ROOT)}")

    print(
        f"release benchmark: k = {args.k}, seed {args.seed}, {os.cpu_count()} CPUs, "
        f"EXACT_MAX_ATOMS = {ORIGINAL_EXACT_MAX}; load average at the end "
        f"{os.getloadavg()[0]:.2f}."
    )
    for o in orgs:
        print(
            f"  org ~{o['target_atoms']}: {o['atoms']} atoms ({o['atoms_below_k']} below k), "
            f"{o['departments']} departments, {o['teams']} teams ({o['teams_below_k']} below k), "
            f"{o['respondents']} respondents of {o['eligible']} eligible"
        )
    print(table(rows, default_modes))
    print(
        "* = the mode build_manifest picks by default for this many atoms.\n"
        f"release s = build_manifest (naive: choosing its cells), median of {args.repeats} runs; "
        "¹ = one run.\n"
        "unit cells = units published / all units; attr cells = organisation/department x "
        "tenure cells published / candidates\n  (exact, blocks: of the shown organisation and "
        "departments; naive: of all of them).\n"
        "audit verdict, leaks, audit s: the same oracle for every mode, audit.audit over the true "
        "atoms of the published cells,\n  counting every derivable group of 1..k-1 people it "
        "finds (people = respondents in their union).\n"
        "verify = survey.domain.release.verify(manifest, snapshot, counts)."
    )
    for r in rows:
        extra = []
        if "attribute_bound" in r:
            shown, of = r["attribute_cells"], r["attribute_candidates"]
            extra.append(
                f"attribute cells {shown}/{of} = {100 * shown / max(of, 1):.1f} %, of at most "
                f"{r['attribute_bound']} any sound selection beside these unit cells could publish"
            )
        if r.get("attribute_hidden"):
            extra.append(f"attribute cells hidden as {r['attribute_hidden']}")
        if "audit_calls_per_release" in r:
            extra.append(
                f"{r['audit_calls_per_release']} audit calls in the release "
                f"({r['audit_s_per_release']:.2f} s, {r['audit_calls_failed_per_release']} failed, "
                f"{r['audit_calls_not_exhaustive_per_release']} not exhaustive)"
            )
        if "noisy_cells" in r:
            extra.append(
                f"{r['noisy_cells']} cells with DP noise (>= 50 respondents), "
                f"\u03b5 per figure {r['dp_per_figure']:.4f}"
            )
        if "blocks" in r:
            b = r["blocks"]
            extra.append(f"{b['blocks']} blocks, {b['blocks_mixing_bands']} mixing tenure bands")
        if "stopped_after_s" in r:
            extra.append(
                f"stopped after {r['stopped_after_s']:.0f} s with {r['audit_calls_done']} audit "
                f"calls done (last: {r['last_progress']})"
            )
        if extra:
            mode = r["mode"] + (" (forced)" if r.get("forced") else "")
            print(f"  {r['atoms']} {mode}: " + "; ".join(extra))
    failed = any(
        r["mode"] != "naive" and (r["verdict"] != "ok" or not r.get("verify", {}).get("ok", True))
        for r in rows
        if r["verdict"] != "too slow / not exhaustive"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
