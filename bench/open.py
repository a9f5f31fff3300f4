"""Benchmark: releasing a round against the cost of opening its sealed answers, at three sizes.

Releasing a round opens every sealed answer once (HPKE, X25519 + AES-128-GCM), scores it,
applies disclosure control, audits the result and stores the manifest. The floor of that work
is opening the answers; this benchmark measures both **in the same process and run**:

* ``open``    - the baseline: read the round's sealed rows and open each one with the round's
  private key (``crypto.open_sealed`` and ``json.loads``), nothing else;
* ``release`` - ``rounds.advance(..., "release", ...)`` and the commit, as ``candor round
  release`` does it (the instance-key custody mode and the default retention, so the release
  also shreds the round's key and sealed rows; on SQLite in a temporary folder; the storage
  scrub that the command runs after the commit is not included).

For each size the organisation is the same (4 departments x 5 teams x 3 tenure bands), the
roster has as many people as answers, the round is opened and closed through Candor's own code,
and the answers are sealed with the round's public key under their storage label and written
as the mixed rows a closed round holds (the check-in and ballot steps are measured by
``bench/submit.py``, not here). The answers are random on every item the round asks.

Run from the repository root::

    .venv/bin/python bench/open.py [--sizes 1500,10000,100000] [--repeats 1] [--seed 1]

With ``--repeats R`` each size is measured on R rounds of its own (a release destroys what it
opens), and the row shows the median ratio, with every ratio in the JSON. Prints a table
(release seconds, open seconds, their ratio, and each size's release time relative to the
10,000-answer one) and writes ``bench/out/open.json``. It exits non-zero if a
release fails or does not count every answer.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import sys
import tempfile
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from sqlalchemy import select  # noqa: E402

from survey import create_app, db  # noqa: E402
from survey.domain import crypto  # noqa: E402
from survey.models import Person, Program, Release, Response, Round  # noqa: E402
from survey.services import banks, instance, org, rounds  # noqa: E402

OUT_DIR = os.path.join(ROOT, "bench", "out")
DEPARTMENTS, TEAMS = 4, 5
BANDS = ("<1y", "1-3y", "3y+")
SECRET = "bench-open-secret-key-that-is-long-enough"


def log(message: str) -> None:
    """Print a progress line to stderr, so the table on stdout stays clean."""
    print(f"[open] {message}", file=sys.stderr, flush=True)


def make_round(workdir: str, size: int, rng: random.Random, repeat: int = 0) -> tuple[Any, int]:
    """Initialise an instance with ``size`` people and one closed round holding ``size``
    sealed answers; return the app and the round id."""
    path = os.path.join(workdir, f"instance-{size}-{repeat}")
    app = create_app(
        {
            "INSTANCE_PATH": path,
            "DATABASE_URL": "sqlite:///" + os.path.join(path, "candor.db"),
            "SECRET_KEY": SECRET,
            "PUBLIC_URL": "http://127.0.0.1:5000",
        },
        check_key=False,
    )
    instance.initialise(app, "admin@bench.test", "bench-admin-password")
    kek = instance.require_key(app)
    today = dt.date.today()
    with db.session_scope(app) as session:
        root = org.add_unit(session, "Bench Lab", None)
        teams = []
        for d in range(DEPARTMENTS):
            dept = org.add_unit(session, f"Department {d}", root)
            teams += [org.add_unit(session, f"Team {d}.{t}", dept) for t in range(TEAMS)]
        people = [
            Person(
                email=f"p{n}@bench.test",
                name="",
                unit_id=teams[n % len(teams)].id,
                tenure_band=BANDS[(n // len(teams)) % len(BANDS)],
            )
            for n in range(size)
        ]
        session.add_all(people)
        program = Program(name="Bench pulse", k=5, comment_k=10)
        session.add(program)
        session.flush()
        rnd = rounds.create_round(session, program)
        rounds.open_round(session, rnd, kek, today)
        session.commit()
        rounds.close_round(session, rnd, today)
        session.commit()
        assert rnd.items is not None and rnd.public_key is not None
        items = banks.frozen_bank(rnd).items_for(tuple(rnd.items["asked"]))
        rows = []
        for person in people:
            answers = {i.key: rng.randint(*i.bounds) for i in items}
            payload = json.dumps({"v": 1, "answers": answers}, separators=(",", ":")).encode()
            info = crypto.context("response", rnd.id, person.unit_id, person.tenure_band)
            rows.append(
                Response(
                    id=crypto.new_response_id(),
                    round_id=rnd.id,
                    unit_id=person.unit_id,
                    band=person.tenure_band,
                    sealed=crypto.seal(payload, rnd.public_key, info),
                )
            )
        rows.sort(key=lambda r: r.id)  # a closed round's rows are in random (id) order
        session.add_all(rows)
        session.commit()
        return app, rnd.id


def time_open(app: Any, round_id: int) -> float:
    """Return the seconds to read and open every sealed answer of the round once."""
    kek = instance.require_key(app)
    with db.session_scope(app) as session:
        rnd = session.get(Round, round_id)
        assert rnd is not None and rnd.wrapped_private_key is not None
        began = time.perf_counter()
        private = crypto.unwrap_private_key(
            rnd.wrapped_private_key, kek, rounds.key_label(rnd.id, "private")
        )
        opened = 0
        for row in session.scalars(select(Response).where(Response.round_id == round_id)):
            info = crypto.context("response", round_id, row.unit_id, row.band)
            opened += len(json.loads(crypto.open_sealed(row.sealed, private, info))["answers"])
        elapsed = time.perf_counter() - began
    assert opened > 0
    return elapsed


def time_release(app: Any, round_id: int) -> tuple[float, int]:
    """Return the seconds of a whole release (step and commit) and the respondents it counted."""
    kek = instance.require_key(app)
    with db.session_scope(app) as session:
        rnd = session.get(Round, round_id)
        assert rnd is not None
        began = time.perf_counter()
        rounds.advance(session, rnd, "release", kek, dt.date.today())
        session.commit()
        elapsed = time.perf_counter() - began
        release = session.scalar(select(Release).where(Release.round_id == round_id))
        assert release is not None
        manifest = release.manifest
        root = next(u for u in manifest["units"] if u["parent"] is None)
        return elapsed, int(root["n"])


def main(argv: list[str] | None = None) -> int:
    """Run every size, print the table, write the JSON; non-zero if a check failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1500,10000,100000")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--repeats", type=int, default=1, help="rounds per size; the row shows the median"
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    rng = random.Random(args.seed)
    rows: list[dict[str, Any]] = []
    ok = True
    with tempfile.TemporaryDirectory(prefix="candor-bench-open-") as workdir:
        for size in sizes:
            runs = []
            for repeat in range(max(1, args.repeats)):
                log(f"{size}: sealing {size} answers ...")
                app, round_id = make_round(workdir, size, rng, repeat)
                opened_s = time_open(app, round_id)
                log(f"{size}: opening took {opened_s:.2f} s; releasing ...")
                release_s, counted = time_release(app, round_id)
                app.extensions["candor.engine"].dispose()
                runs.append((release_s / opened_s, opened_s, release_s, counted))
            runs.sort()
            ratio, opened_s, release_s, counted = runs[len(runs) // 2]
            good = all(run[3] == size for run in runs)
            ok = ok and good
            rows.append(
                {
                    "responses": size,
                    "open_s": round(opened_s, 3),
                    "release_s": round(release_s, 3),
                    "ratio": round(ratio, 2),
                    "ratios": [round(run[0], 2) for run in runs],
                    "counted": counted,
                    "check": "ok" if good else f"FAIL: counted {[run[3] for run in runs]}",
                }
            )
    reference = next((r["release_s"] for r in rows if r["responses"] == 10000), None)
    print(
        f"{'responses':>9} {'open s':>8} {'release s':>9} {'release/open':>12} {'vs 10k':>7}  check"
    )
    for row in rows:
        scale = f"{row['release_s'] / reference:.1f}x" if reference else "-"
        row["vs_10k"] = scale
        print(
            f"{row['responses']:>9} {row['open_s']:>8.2f} {row['release_s']:>9.2f} "
            f"{row['ratio']:>11.2f}x {scale:>7}  {row['check']}"
        )
    write_out("open.json", rows)
    return 0 if ok else 1


def write_out(name: str, rows: list[dict[str, Any]]) -> None:
    """Write a benchmark's rows, with the machine they were measured on, to bench/out/."""
    os.makedirs(OUT_DIR, exist_ok=True)
    with open(os.path.join(OUT_DIR, name), "w", encoding="utf-8") as handle:
        json.dump(
            {"machine": platform.platform(), "cpus": os.cpu_count(), "rows": rows}, handle, indent=2
        )


if __name__ == "__main__":
    sys.exit(main())
