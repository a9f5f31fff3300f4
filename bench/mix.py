"""Benchmark: one mix of the ballot inbox against appending the same ballots, as a round grows.

A mix (``survey.services.mixing.mix``) moves a round's waiting ballots into storage and
rewrites *every* stored response of the round in random order with fresh ids, in one
transaction, so that no stored row keeps the order or the transaction of its arrival; a mix runs
whenever ``MIX_WAITING_MAX`` ballots wait (or two minutes have passed). Its cost therefore grows
with the round, while what it moves does not. This measures both, in the same process and run,
on SQLite in a temporary folder:

* ``append`` - the baseline: the same ``MIX_WAITING_MAX`` sealed ballots inserted into the
  round's stored responses in one transaction and committed (an append-only store's work);
* ``mix``    - ``mixing.mix`` of those ballots waiting in the inbox, and the commit; ``scrub``,
  the storage scrub that follows it (``mixing.scrub`` of the mixed tables), timed on its own.

Each size is one closed round of that many sealed answers (``bench/open.py``'s set-up: the
organisation of 4 departments x 5 teams x 3 tenure bands, answers sealed with the round's key
under their storage labels). Run from the repository root::

    .venv/bin/python bench/mix.py [--sizes 1000,5000,20000] [--repeats 3] [--seed 1]

Prints, per size, the medians of ``--repeats`` mixes: append, mix and scrub milliseconds, mix /
append, the mix's cost per ballot it moved, and each size's mix against the smallest size's;
writes ``bench/out/mix.json``. Checks, for every mix: every waiting ballot moved, the inbox is
empty, the round holds every earlier row and the moved ones, and no stored id survives the mix
(fresh ids). It exits non-zero if a check fails.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from sqlalchemy import delete, insert, select  # noqa: E402

from bench.open import make_round, write_out  # noqa: E402
from survey import db  # noqa: E402
from survey.domain import crypto  # noqa: E402
from survey.models import InboxEntry, Response  # noqa: E402
from survey.services import mixing  # noqa: E402

BATCH = mixing.MIX_WAITING_MAX


def log(message: str) -> None:
    print(f"[mix] {message}", file=sys.stderr, flush=True)


def ballots(app: Any, round_id: int) -> list[dict[str, Any]]:
    """Return BATCH sealed ballots of the round's labels (copies of stored blobs)."""
    with db.session_scope(app) as session:
        rows = session.execute(
            select(Response.unit_id, Response.band, Response.sealed)
            .where(Response.round_id == round_id)
            .limit(BATCH)
        ).all()
    return [{"round_id": round_id, "unit_id": u, "band": b, "sealed": s} for u, b, s in rows]


def time_append(app: Any, round_id: int, batch: list[dict[str, Any]]) -> float:
    """Return the seconds to insert ``batch`` into stored responses and commit (then undone)."""
    rows = [{**row, "id": crypto.new_response_id()} for row in batch]
    with db.session_scope(app) as session:
        began = time.perf_counter()
        session.connection().execute(insert(Response), rows)
        session.commit()
        elapsed = time.perf_counter() - began
        session.execute(delete(Response).where(Response.id.in_([r["id"] for r in rows])))
        session.commit()
    return elapsed


def time_mix(app: Any, round_id: int, batch: list[dict[str, Any]]) -> tuple[float, float, str]:
    """Put ``batch`` in the inbox, mix and commit, then scrub; return both times and a check."""
    engine = app.extensions["candor.engine"]
    with db.session_scope(app) as session:
        before = set(session.scalars(select(Response.id).where(Response.round_id == round_id)))
        waiting = [{**row, "id": crypto.new_response_id(), "kind": "response"} for row in batch]
        session.connection().execute(insert(InboxEntry), waiting)
        session.commit()
        began = time.perf_counter()
        moved = mixing.mix(session, round_id, dt.datetime.now(dt.UTC).replace(tzinfo=None))
        session.commit()
        mixed = time.perf_counter() - began
        began = time.perf_counter()
        mixing.scrub(engine, mixing.MIXED_TABLES)
        scrubbed = time.perf_counter() - began
        after = set(session.scalars(select(Response.id).where(Response.round_id == round_id)))
        left = session.scalar(select(InboxEntry.id).where(InboxEntry.round_id == round_id))
    problems = []
    if moved != len(batch):
        problems.append(f"moved {moved} of {len(batch)}")
    if left is not None:
        problems.append("the inbox is not empty")
    if len(after) != len(before) + len(batch):
        problems.append(f"{len(after)} stored, expected {len(before) + len(batch)}")
    if after & before:
        problems.append(f"{len(after & before)} ids survived the mix")
    return mixed, scrubbed, "; ".join(problems) or "ok"


def main(argv: list[str] | None = None) -> int:
    """Run every size, print the table, write the JSON; non-zero if a check failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,5000,20000")
    parser.add_argument("--repeats", type=int, default=3, help="mixes per size; medians shown")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="candor-bench-mix-") as workdir:
        for size in (int(s) for s in args.sizes.split(",")):
            log(f"{size}: sealing {size} answers ...")
            app, round_id = make_round(workdir, size, rng)
            batch = ballots(app, round_id)
            appends, mixes, scrubs, checks = [], [], [], []
            for _ in range(max(1, args.repeats)):
                appends.append(time_append(app, round_id, batch))
                mixed, scrubbed, check = time_mix(app, round_id, batch)
                mixes.append(mixed)
                scrubs.append(scrubbed)
                checks.append(check)
            app.extensions["candor.engine"].dispose()
            append_s, mix_s = statistics.median(appends), statistics.median(mixes)
            rows.append(
                {
                    "stored": size,
                    "moved": len(batch),
                    "append_ms": round(1000 * append_s, 1),
                    "mix_ms": round(1000 * mix_s, 1),
                    "scrub_ms": round(1000 * statistics.median(scrubs), 1),
                    "ratio": round(mix_s / append_s, 1),
                    "mix_ms_per_ballot": round(1000 * mix_s / len(batch), 2),
                    "mixes_ms": [round(1000 * m, 1) for m in mixes],
                    "check": next((c for c in checks if c != "ok"), "ok"),
                }
            )
            log(f"{size}: mix {1000 * mix_s:.0f} ms, append {1000 * append_s:.1f} ms")
    smallest = rows[0]["mix_ms"]
    print(
        f"{'stored':>7} {'append ms':>9} {'mix ms':>8} {'scrub ms':>8} {'mix/append':>10} "
        f"{'ms/ballot':>9} {'vs first':>8}  check"
    )
    for row in rows:
        row["vs_first"] = round(row["mix_ms"] / smallest, 1)
        print(
            f"{row['stored']:>7} {row['append_ms']:>9.1f} {row['mix_ms']:>8.1f} "
            f"{row['scrub_ms']:>8.1f} {row['ratio']:>9.1f}x {row['mix_ms_per_ballot']:>9.2f} "
            f"{row['vs_first']:>7.1f}x  {row['check']}"
        )
    write_out("mix.json", rows)
    return 0 if all(row["check"] == "ok" for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
