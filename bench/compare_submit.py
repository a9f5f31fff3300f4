"""Benchmark: the two-step survey journey on two versions of Candor, side by side.

``bench/submit.py`` compares Candor with a floor app; its ratios move with the machine (the
floor's own CPU per journey has moved by 80 % between two rows of one run here). To say what a
change did, this serves two source trees at once, each with the same gunicorn command (sync
workers, the tree's own ``gunicorn.conf.py``), and drives both with the same client, in
alternating batches (A B, B A, A B, ...), so a slow minute of the machine falls on both.

The journey is ``bench/submit.py``'s two-step one (page, key, blinding, check-in, ballot). A
version whose script still fetched the thanks page after the ballot (before 85fe928) is driven
with that fifth request by ``--a-thanks``, so each version is measured doing what its page
does. Each version gets its own instance, set up by *this* tree's code (``candor init`` and
``survey.services.rounds``), so both trees must share the schema and the ballot API.

Run from the repository root, with the older version checked out elsewhere::

    git worktree add /tmp/candor-before d870f89
    .venv/bin/python bench/compare_submit.py /tmp/candor-before [--a-thanks]
        [--backend sqlite|postgresql] [--batch 150] [--batches 6] [--clients 8] [--workers 4]

Prints, per version, the median and the lowest server CPU per journey (gunicorn's processes,
plus on PostgreSQL the backends serving them), the median throughput and the median p99 latency
of the batches, and the ratio B / A of the medians. It exits non-zero if a journey failed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench import submit  # noqa: E402

WARMUP = 30  # journeys per version before anything is measured


@dataclass
class Version:
    """One source tree served by its own gunicorn, and what its batches measured."""

    name: str
    root: str
    thanks: bool
    target: submit.Target | None = None
    codes: list[str] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    per_s: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)


def with_thanks(journey: Callable[..., None]) -> Callable[..., None]:
    """Return ``journey`` followed by a GET of the thanks page, as older scripts did."""

    def run(target: submit.Target, code: str, rec: submit.Recorder) -> None:
        journey(target, code, rec)
        reply = requests.get(
            target.url(f"/s/{target.round_id}/done"), timeout=submit.REQUEST_TIMEOUT_S
        )
        rec.reply("GET thanks", reply)
        if reply.status_code != 200:
            raise submit.JourneyError(f"GET thanks {reply.status_code}")

    return run


@contextmanager
def served(version: Version, args: argparse.Namespace, workdir: str) -> Iterator[None]:
    """Set up an instance for ``version``, serve it from its tree, and stop it afterwards."""
    port = submit.free_port()
    url = args.pg_url.replace("compare", f"compare_{version.name.lower()}")
    people = WARMUP + args.batch * args.batches + 10
    inst = submit.make_instance(workdir, args.backend, url, port, people, (submit.BALLOT,))
    env = dict(inst.env, PYTHONPATH=version.root)
    serving = submit.gunicorn(
        version.name, "app:app", port, env, "/", args.workers, workdir, cwd=version.root
    )
    with serving as server:
        journey = submit.JOURNEYS[submit.BALLOT]
        pg_database = urlsplit(url).path.lstrip("/") if args.backend == "postgresql" else ""
        version.target = submit.Target(
            submit.BALLOT,
            server.base,
            with_thanks(journey) if version.thanks else journey,
            inst.rounds[submit.BALLOT],
            inst.answers,
            server.proc.pid,
            pg_database,
        )
        version.codes = list(inst.codes[submit.BALLOT])
        yield


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", help="the source tree of version A (e.g. a git worktree)")
    parser.add_argument("--after", default=ROOT, help="version B's tree (default: this one)")
    parser.add_argument("--a-thanks", action="store_true", help="A's script fetched the thanks")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--batch", type=int, default=150, help="journeys per batch")
    parser.add_argument("--batches", type=int, default=6, help="batches per version")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "CANDOR_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/candor_bench_compare"
        ),
        help="a database whose name contains 'compare'; each version gets its own beside it",
    )
    args = parser.parse_args(argv)
    if "compare" not in urlsplit(args.pg_url).path:
        parser.error("--pg-url must name a database containing 'compare'")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    versions = [
        Version("A", os.path.abspath(args.before), args.a_thanks),
        Version("B", os.path.abspath(args.after), False),
    ]
    failed = 0
    with tempfile.TemporaryDirectory(prefix="candor-compare-") as workdir, ExitStack() as stack:
        for version in versions:
            os.makedirs(os.path.join(workdir, version.name))
            stack.enter_context(served(version, args, os.path.join(workdir, version.name)))
        for version in versions:
            assert version.target is not None
            submit.drive(version.target, version.codes[:WARMUP], args.clients, 120)
        for batch in range(args.batches):
            for version in versions if batch % 2 == 0 else versions[::-1]:
                assert version.target is not None
                start = WARMUP + batch * args.batch
                codes = version.codes[start : start + args.batch]
                result = submit.drive(version.target, codes, args.clients, 240)
                failed += result.attempted - result.completed + (len(codes) - result.attempted)
                version.cpu_ms.append(result.server_ms_per_journey)
                version.per_s.append(result.per_s)
                version.p99_ms.append(result.percentile(99))
                submit.log(
                    f"batch {batch + 1} {version.name}: {result.server_ms_per_journey:.2f} ms "
                    f"CPU/journey, {result.per_s:.1f}/s"
                )
    print(
        f"two-step journey, {args.backend}, gunicorn --workers {args.workers} (sync), "
        f"{args.clients} clients, {args.batches} alternating batches of {args.batch}"
    )
    medians = {}
    for v in versions:
        medians[v.name] = statistics.median(v.cpu_ms), statistics.median(v.per_s)
        print(
            f"{v.name} {v.root}{' (+ thanks page)' if v.thanks else ''}: server CPU/journey "
            f"median {medians[v.name][0]:.2f} ms (lowest {min(v.cpu_ms):.2f}), "
            f"{medians[v.name][1]:.1f} journeys/s, p99 {statistics.median(v.p99_ms):.0f} ms"
        )
    print(
        f"B / A: CPU per journey {medians['B'][0] / medians['A'][0]:.2f}x, "
        f"throughput {medians['B'][1] / medians['A'][1]:.2f}x"
    )
    if failed:
        print(f"FAIL: {failed} journeys did not complete")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
