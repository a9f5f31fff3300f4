"""Benchmark: the analytics dashboard on a large programme, against a static Flask page.

Builds a demo organisation scaled to ``--people`` (2,000) with ``--rounds`` (24) fortnightly
rounds through Candor's real path — open (snapshot, keys, invitations), every answer sealed by
``submission.submit`` with the demo's story (``survey.demo._answers``), close, release (unseal,
disclosure control, exact audit, manifest) — then serves the instance with gunicorn and measures:

* release: the time of each ``rounds.release_round`` (cold: nothing cached);
* cold charts: the first load of the trends page (its text alternatives) and of the
  organisation's trend charts (matplotlib, in the drawing process), and of the heatmap page and
  the chart it shows (its ``<img>``, an SVG drawn without matplotlib), then the heatmap's PNG
  download (matplotlib); a drawing answered 503 is asked again after its Retry-After, and the
  time counts until it is served;
* warm pages: latency of the overview, trends, heatmap and reports pages once everything is
  cached, against ``bench/baseline_app.py``'s static ``/b/done`` page served by the same
  gunicorn command in the same run (the ratio is the cost of reading 24 manifests and building
  the page);
* the CSV export, and the printable PDF (cold: drawn; warm: from the disk cache);
* worker memory (RSS) after drawing, and after a restart that serves only warm pages (whose
  workers never import matplotlib); apart from them, the drawing process's (one per
  installation, started by the first drawing, stopped here before each phase so the cold phase
  pays for its start and the warm phase shows whether warm pages need one).

Run from the repository root::

    .venv/bin/python bench/dashboard.py [--people 2000] [--rounds 24] [--requests 40]
                                        [--workers 2] [--seed 7] [--instance DIR]

``--instance DIR`` keeps the built instance in DIR and reuses it when run again with the same
``--people``, ``--rounds`` and ``--seed`` (building 2,000 people × 24 rounds takes about a
quarter of an hour); the chart cache is emptied before the cold phase either way.

Prints a table and writes ``bench/out/dashboard.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench.submit import Server, free_port, gunicorn, hidden_value, log  # noqa: E402
from survey import create_app, db, demo  # noqa: E402
from survey.domain.manifest import serialise  # noqa: E402
from survey.models import OrgUnit, Person, Program  # noqa: E402
from survey.services import accounts, drawing, org, rounds, submission  # noqa: E402
from survey.services.instance import initialise  # noqa: E402
from survey.services.manifests import released_manifests  # noqa: E402

OUT_DIR = os.path.join(ROOT, "bench", "out")
OUT_PATH = os.path.join(OUT_DIR, "dashboard.json")
DEPARTMENTS = 10
# Team headcount: (low, high, weight); the first range is below k = 5 on purpose.
TEAM_SIZES = ((2, 4, 15), (5, 12, 45), (13, 30, 35), (31, 60, 5))
RESPONSE_RATE = (0.6, 0.9)  # per round, uniform
COMMENT_SHARE = 0.3
CADENCE_DAYS = 14
WINDOW_DAYS = 5
FIRST_OPEN = dt.date(2025, 1, 6)
STAFF_PASSWORD = "bench-" + secrets.token_urlsafe(12)
HR_EMAIL = "hr@bench.test"
WARMUP_REQUESTS = 3
TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Instance:
    """A built instance: where it lives and what it holds."""

    path: str
    database_url: str
    program_id: int
    root_unit: int
    people: int
    units: int
    teams_below_k: int
    respondents: int
    release_s: list[float]
    build_s: float
    manifest_kb: float
    password: str = STAFF_PASSWORD
    seed: int = 0


# --------------------------------------------------------------------------- building


def _team_size(rng: random.Random) -> int:
    low, high, _ = rng.choices(TEAM_SIZES, weights=[w for *_, w in TEAM_SIZES])[0]
    return rng.randint(low, high)


def build(path: str, people: int, count: int, seed: int) -> Instance:
    """Create the instance, the organisation and ``count`` released rounds."""
    started = time.perf_counter()
    rng = random.Random(seed)  # noqa: S311 - synthetic answers, reproducible on purpose
    config = {
        "INSTANCE_PATH": path,
        "DATABASE_URL": f"sqlite:///{path}/candor.db",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "PUBLIC_URL": "http://127.0.0.1",
    }
    bare = create_app(config, check_key=False)
    initialise(bare, "admin@bench.test", STAFF_PASSWORD)
    bare.extensions["candor.engine"].dispose()
    app = create_app(config)
    kek: bytes = app.extensions["candor.kek"]
    names = iter(sorted(demo.ORG))
    release_s: list[float] = []
    respondents = 0
    with db.session_scope(app) as session:
        accounts.create_user(session, HR_EMAIL, "hr", STAFF_PASSWORD)
        root = org.add_unit(session, "Example AI Lab", None)
        teams: dict[int, str] = {}
        small = 0
        hired = 0
        for d in range(DEPARTMENTS):
            dept = org.add_unit(session, next(names, f"Department {d + 1:02d}"), root)
            share = people // DEPARTMENTS + (1 if d < people % DEPARTMENTS else 0)
            placed, t = 0, 0
            while placed < share:
                size = min(_team_size(rng), share - placed)
                t += 1
                team = org.add_unit(session, f"Team {d + 1:02d}-{t:02d}", dept)
                teams[team.id] = team.name
                small += size < 5
                for _ in range(size):
                    hired += 1
                    band = rng.choices(demo.BANDS, weights=(2, 4, 5, 1))[0]
                    session.add(
                        Person(
                            email=f"p{hired}@bench.test",
                            name=f"Person {hired}",
                            unit_id=team.id,
                            tenure_band=band,
                        )
                    )
                placed += size
        program = Program(name="Bench pulse", k=5, comment_k=10, rotation_every=3)
        session.add(program)
        session.commit()
        units = session.query(OrgUnit).count()
        people_by_id = {p.id: p for p in session.query(Person)}
        for number in range(1, count + 1):
            opens = FIRST_OPEN + dt.timedelta(days=CADENCE_DAYS * (number - 1))
            rnd = rounds.create_round(session, program)
            rounds.open_round(session, rnd, kek, opens)
            session.commit()
            survey = submission.survey_for(session, rnd.id)
            rate = rng.uniform(*RESPONSE_RATE)
            comments = demo.COMMENTS[demo._phase(number)]
            for link in rounds.invitation_links(session, rnd, kek, "http://bench"):
                if rng.random() > rate:
                    continue
                person = people_by_id[link.person_id]
                answers = demo._answers(
                    rng, survey.items, number, teams.get(person.unit_id, ""), person.tenure_band
                )
                comment = rng.choice(comments) if rng.random() < COMMENT_SHARE else ""
                submission.submit(session, survey, link.code, answers, comment, kek)
                respondents += 1
            session.commit()
            closes = opens + dt.timedelta(days=WINDOW_DAYS)
            rounds.close_round(session, rnd, closes)
            session.commit()
            t0 = time.perf_counter()
            rounds.release_round(session, rnd, kek, closes + dt.timedelta(days=1))
            session.commit()
            release_s.append(time.perf_counter() - t0)
            log(f"R{number}: released in {release_s[-1]:.2f} s")
        manifests = released_manifests(session, program.id)
        program_id, root_id = program.id, root.id
    app.extensions["candor.engine"].dispose()
    size_kb = statistics.mean(len(json.dumps(serialise(m))) for m in manifests) / 1024
    return Instance(
        path,
        config["DATABASE_URL"],
        program_id,
        root_id,
        hired,
        units,
        small,
        respondents,
        release_s,
        time.perf_counter() - started,
        size_kb,
        STAFF_PASSWORD,
        seed,
    )


def kept_or_built(path: str, people: int, count: int, seed: int) -> Instance:
    """Return the instance kept in ``path`` if it was built with these sizes, else build it."""
    record = os.path.join(path, "bench-instance.json")
    try:
        with open(record, encoding="utf-8") as handle:
            kept = Instance(**json.load(handle))
    except (OSError, ValueError, TypeError):
        kept = None
    wanted = (path, people, count, seed)
    if kept is not None and (kept.path, kept.people, len(kept.release_s), kept.seed) == wanted:
        log(f"reusing the instance kept in {path}")
        # As an operator does after updating: the code measured may have newer migrations.
        engine = db.make_engine(kept.database_url)
        db.upgrade(engine)
        engine.dispose()
        return kept
    if os.path.exists(path):
        shutil.rmtree(path)
    instance = build(path, people, count, seed)
    with open(record, "w", encoding="utf-8") as handle:
        json.dump(instance.__dict__, handle)
    return instance


def empty_chart_cache(instance: Instance) -> None:
    """Remove every cached chart, text alternative and PDF, so the cold phase draws them."""
    shutil.rmtree(os.path.join(instance.path, "cache"), ignore_errors=True)


# --------------------------------------------------------------------------- measuring


def login(base: str, password: str) -> requests.Session:
    """Return an HTTP session logged in as HR through the real login form."""
    http = requests.Session()
    page = http.get(base + "/login", timeout=TIMEOUT_S)
    sent = http.post(
        base + "/login",
        data={
            "email": HR_EMAIL,
            "password": password,
            "csrf_token": hidden_value(page.text, "csrf_token"),
        },
        allow_redirects=False,
        timeout=TIMEOUT_S,
    )
    if sent.status_code != 302:
        raise RuntimeError(f"login failed with {sent.status_code}")
    return http


def timed_get(get: Callable[..., requests.Response], url: str) -> tuple[float, int]:
    """Return the seconds one GET took (body read) and its size in bytes."""
    t0 = time.perf_counter()
    response = get(url, timeout=TIMEOUT_S)
    elapsed = time.perf_counter() - t0
    if response.status_code != 200:
        raise RuntimeError(f"GET {url}: {response.status_code}")
    return elapsed, len(response.content)


def timed_drawing(get: Callable[..., requests.Response], url: str) -> tuple[float, int, int]:
    """Return the seconds until a drawing answered 200, its size and how many 503s came first.

    A drawing that takes longer than a request may wait is answered 503 with Retry-After (the
    drawing process finishes it meanwhile): asked again after that wait, as a client would.
    """
    t0 = time.perf_counter()
    refused = 0
    while True:
        response = get(url, timeout=TIMEOUT_S)
        if response.status_code != 503 or "Retry-After" not in response.headers:
            break
        refused += 1
        time.sleep(float(response.headers["Retry-After"]))
    elapsed = time.perf_counter() - t0
    if response.status_code != 200:
        raise RuntimeError(f"GET {url}: {response.status_code}")
    return elapsed, len(response.content), refused


def worker_rss_mb(server: Server) -> list[float]:
    """Return the resident memory of each gunicorn worker (children of the master), in MB."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
            if parent != server.proc.pid:
                continue
            with open(f"/proc/{entry}/status", encoding="ascii") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        found.append(int(line.split()[1]) / 1024)
        except (OSError, ValueError, IndexError):
            continue
    return sorted(found)


def drawer_pid() -> int | None:
    """Return the process id of the drawing process the servers use, if one is running.

    The bench runs the servers' interpreter and code, so :func:`drawing.folder` is theirs.
    """
    return drawing.running_pid()


def drawer_rss_mb() -> float | None:
    """Return the drawing process's resident memory in MB, or None if none is running."""
    pid = drawer_pid()
    if pid is None:
        return None
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return None


def stop_drawer() -> None:
    """Stop a running drawing process, so a cold phase pays for starting one."""
    drawing.stop()


def server_env(instance: Instance) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANDOR_")}
    env.update(
        CANDOR_INSTANCE_PATH=instance.path,
        CANDOR_DATABASE_URL=instance.database_url,
        BENCH_BASELINE_DB=os.path.join(instance.path, "baseline.db"),
    )
    return env


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cold_phase(instance: Instance, workers: int, tmp: str) -> dict[str, Any]:
    """First loads with an empty chart cache: text alternatives, charts, heatmap, the PDF."""
    port = free_port()
    env = server_env(instance)
    stop_drawer()
    with gunicorn("candor-cold", "app:app", port, env, "/privacy", workers, tmp) as server:
        http = login(server.base, instance.password)
        pid, lab = instance.program_id, instance.root_unit
        t_trends, _ = timed_get(http.get, server.base + "/dashboard/trends")
        themes = trend_themes(http, server.base)
        t0 = time.perf_counter()
        refused = 0
        each = []
        for theme in themes:
            url = f"{server.base}/charts/trend/{pid}/{lab}/{theme}.png"
            seconds, _, busy = timed_drawing(http.get, url)
            each.append(seconds)
            refused += busy
        t_charts = time.perf_counter() - t0
        last = len(instance.release_s)
        t_heatmap_page, _ = timed_get(http.get, server.base + "/dashboard/heatmap")
        shown = heatmap_image(http, server.base)
        if shown != f"/charts/heatmap/{pid}/{last}/{lab}.svg":
            raise RuntimeError(f"the heatmap page shows {shown!r}, not the latest round's SVG")
        t_heatmap, _ = timed_get(http.get, server.base + shown)
        t_heatmap_png, _, busy = timed_drawing(
            http.get, f"{server.base}/charts/heatmap/{pid}/{last}/{lab}.png"
        )
        refused += busy
        t_pdf, pdf_bytes, busy = timed_drawing(http.get, f"{server.base}/reports/{pid}/{last}.pdf")
        refused += busy
        # The same charts as SVG: cold files too, but drawn by the drawer the PNGs started.
        t0 = time.perf_counter()
        for theme in themes:
            url = f"{server.base}/charts/trend/{pid}/{lab}/{theme}.svg"
            refused += timed_drawing(http.get, url)[2]
        t_svgs = time.perf_counter() - t0
        rss = worker_rss_mb(server)
        drawer_rss = drawer_rss_mb()
    return {
        "trends_page_first_s": t_trends,
        "trend_charts": len(themes),
        "trend_charts_s": t_charts,
        "trend_chart_each_s": each,
        "trend_svgs_drawer_running_s": t_svgs,
        "heatmap_page_first_s": t_heatmap_page,
        "heatmap_chart_s": t_heatmap,
        "heatmap_png_s": t_heatmap_png,
        "pdf_cold_s": t_pdf,
        "pdf_bytes": pdf_bytes,
        "rss_after_drawing_mb": rss,
        "drawer_rss_after_drawing_mb": drawer_rss,
        "drawings_answered_503": refused,
    }


def heatmap_image(http: requests.Session, base: str) -> str:
    """Return the path of the chart the heatmap page shows (its ``<img>``)."""
    page = http.get(base + "/dashboard/heatmap", timeout=TIMEOUT_S).text
    found = re.search(r'<figure class="heatmap">\s*<img src="([^"]+)"', page)
    if found is None:
        raise RuntimeError("the heatmap page shows no chart")
    return found.group(1)


def trend_themes(http: requests.Session, base: str) -> list[str]:
    page = http.get(base + "/dashboard/trends", timeout=TIMEOUT_S).text
    return sorted(set(re.findall(r"/charts/trend/\d+/\d+/(\w+)\.png", page)))


def warm_phase(instance: Instance, workers: int, tmp: str, count: int) -> dict[str, Any]:
    """Warm latency of pages, CSV and PDF against the static baseline page, in alternation."""
    env = server_env(instance)
    pid = instance.program_id
    pages = {
        "overview": "/dashboard",
        "trends": "/dashboard/trends",
        "heatmap": "/dashboard/heatmap",
        "reports": "/reports",
        "csv export": f"/export/{pid}.csv",
        "pdf (cached)": f"/reports/{pid}/{len(instance.release_s)}.pdf",
    }
    stop_drawer()  # warm pages must not need one
    with (
        gunicorn("candor-warm", "app:app", free_port(), env, "/privacy", workers, tmp) as server,
        gunicorn(
            "baseline", "bench.baseline_app:app", free_port(), env, "/b/done", workers, tmp
        ) as baseline,
    ):
        http = login(server.base, instance.password)
        static = requests.Session()
        for _ in range(WARMUP_REQUESTS * workers):
            for path in pages.values():
                timed_get(http.get, server.base + path)
            timed_get(static.get, baseline.base + "/b/done")
        times: dict[str, list[float]] = {name: [] for name in [*pages, "static page"]}
        sizes: dict[str, int] = {}
        for _ in range(count):
            seconds, _ = timed_get(static.get, baseline.base + "/b/done")
            times["static page"].append(seconds)
            for name, path in pages.items():
                seconds, size = timed_get(http.get, server.base + path)
                times[name].append(seconds)
                sizes[name] = size
        rss = worker_rss_mb(server)
        imported = matplotlib_in_workers(server)
        drawer_rss = drawer_rss_mb()
    static_p50 = statistics.median(times["static page"])
    return {
        "latency": {
            name: {
                "p50_ms": 1000 * statistics.median(values),
                "p95_ms": 1000 * percentile(values, 0.95),
                "ratio_p50": statistics.median(values) / static_p50,
                "bytes": sizes.get(name, 0),
            }
            for name, values in times.items()
        },
        "rss_warm_only_mb": rss,
        "matplotlib_loaded_in_warm_workers": imported,
        "drawer_rss_warm_only_mb": drawer_rss,
    }


def matplotlib_in_workers(server: Server) -> bool:
    """Return whether any worker has matplotlib's shared objects mapped (it was imported)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
            if parent != server.proc.pid:
                continue
            with open(f"/proc/{entry}/maps", encoding="ascii", errors="replace") as handle:
                if "matplotlib" in handle.read():
                    return True
        except (OSError, ValueError, IndexError):
            continue
    return False


# --------------------------------------------------------------------------- report


def table(result: dict[str, Any]) -> str:
    inst, cold, warm = result["instance"], result["cold"], result["warm"]
    rel = inst["release_s"]
    lines = [
        f"Candor dashboard benchmark: {inst['people']} people, {inst['units']} units "
        f"({inst['teams_below_k']} teams below k), {len(rel)} released rounds, "
        f"{inst['respondents']} sealed responses, manifests ~{inst['manifest_kb']:.0f} KB each",
        f"machine: {result['cpus']} CPUs, load {result['load_average'][0]:.2f}; "
        f"gunicorn --workers {result['workers']}, one sequential client, "
        f"{result['requests']} requests per page",
        "",
        f"{'cold (nothing cached)':<38}{'seconds':>10}",
        f"{'build: open + seal answers + close':<38}{inst['build_s'] - sum(rel):>10.1f}",
        f"{'release, all rounds':<38}{sum(rel):>10.1f}",
        f"{'release, per round (median / max)':<38}"
        f"{statistics.median(rel):>10.2f} / {max(rel):.2f}",
        f"{'trends page, first load':<38}{cold['trends_page_first_s']:>10.2f}",
        f"{'org trend charts (' + str(cold['trend_charts']) + ' PNG)':<38}"
        f"{cold['trend_charts_s']:>10.2f}",
        f"{'heatmap page, first load':<38}{cold['heatmap_page_first_s']:>10.2f}",
        f"{'heatmap chart as the page shows it':<38}{cold['heatmap_chart_s']:>10.2f}",
        f"{'heatmap PNG (download)':<38}{cold['heatmap_png_s']:>10.2f}",
        f"{'printable PDF, drawn':<38}{cold['pdf_cold_s']:>10.2f}",
        f"{'org trend charts again (SVG), drawer up':<38}"
        f"{cold['trend_svgs_drawer_running_s']:>10.2f}",
        f"{'drawings first answered 503 (retried)':<38}{cold['drawings_answered_503']:>10d}",
        "",
        f"{'warm (cached)':<22}{'p50 ms':>10}{'p95 ms':>10}{'x static':>10}{'KB':>10}",
    ]
    for name, row in warm["latency"].items():
        lines.append(
            f"{name:<22}{row['p50_ms']:>10.1f}{row['p95_ms']:>10.1f}"
            f"{row['ratio_p50']:>10.1f}{row['bytes'] / 1024:>10.0f}"
        )
    lines += [
        "",
        f"worker RSS after drawing charts and the PDF: "
        f"{', '.join(f'{v:.0f}' for v in cold['rss_after_drawing_mb'])} MB",
        f"worker RSS serving warm pages only:           "
        f"{', '.join(f'{v:.0f}' for v in warm['rss_warm_only_mb'])} MB "
        f"(matplotlib loaded: {'yes' if warm['matplotlib_loaded_in_warm_workers'] else 'no'})",
        f"drawing process RSS after drawing:          {_mb(cold['drawer_rss_after_drawing_mb'])}",
        f"drawing process RSS, warm pages only:       {_mb(warm['drawer_rss_warm_only_mb'])}",
    ]
    return "\n".join(lines)


def _mb(value: float | None) -> str:
    return "none running" if value is None else f"{value:.0f} MB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=24)
    parser.add_argument("--requests", type=int, default=40, help="measured requests per page")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--instance", help="keep the built instance here and reuse it")
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="candor-bench-dashboard-") as tmp:
        path = os.path.abspath(args.instance) if args.instance else os.path.join(tmp, "instance")
        log(f"building {args.people} people and {args.rounds} rounds through the real path ...")
        instance = kept_or_built(path, args.people, args.rounds, args.seed)
        empty_chart_cache(instance)
        log(f"built in {instance.build_s:.0f} s; cold phase ...")
        cold = cold_phase(instance, args.workers, tmp)
        log("warm phase ...")
        warm = warm_phase(instance, args.workers, tmp, args.requests)
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": commit(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "workers": args.workers,
        "requests": args.requests,
        "seed": args.seed,
        "instance": {
            k: v
            for k, v in instance.__dict__.items()
            if k not in ("path", "database_url", "password")
        },
        "cold": cold,
        "warm": warm,
        "total_s": time.perf_counter() - started,
    }
    print(table(result))
    os.makedirs(OUT_DIR, exist_ok=True)
    with open(OUT_PATH, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)
    log(f"wrote {OUT_PATH} in {result['total_s']:.0f} s")
    return 0


def commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "survey", "templates"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" (uncommitted changes)" if dirty else "")


if __name__ == "__main__":
    sys.exit(main())
