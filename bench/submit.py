"""Benchmark: completed survey responses per second under gunicorn, against a baseline.

A "journey" is what one person does: GET the invitation link, POST the answers (with the CSRF
token and session cookie from the GET), follow the 303 to the thanks page and get a 200. The
same client loop drives Candor and a minimal Flask app (``bench/baseline_app.py``: the same GET,
then an AES-GCM-encrypted blob inserted into SQLite), both served by gunicorn on loopback in the
same run, on SQLite and on PostgreSQL (the baseline always uses SQLite).

Run from the repository root::

    .venv/bin/python bench/submit.py [--backend sqlite|postgresql|both] [--responses N]
                                     [--clients 8,16] [--workers W]

Prints a table and writes ``bench/out/submit-<backend>.json``. Afterwards it checks the
database: one Response row per completed journey, one invitation consumed per journey, used
links refused, and concurrent double submissions of one link stored once.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import queue
import re
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
OUT_DIR = os.path.join(ROOT, "bench", "out")
LOOPBACK = "127.0.0.1"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/candor_bench"
WARMUP_JOURNEYS = 24  # per app, before anything is measured: every worker loads and renders
DOUBLE_SUBMIT_LINKS = 8
RESUBMIT_LINKS = 5
REQUEST_TIMEOUT_S = 30.0
SERVER_START_TIMEOUT_S = 30.0
SERVER_STOP_TIMEOUT_S = 15.0
CSRF_INPUT = re.compile(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"')
LOG_PATTERNS = {
    "traceback": "Traceback (most recent call last)",
    "database is locked": "database is locked",
    "worker timeout": "WORKER TIMEOUT",
    "worker killed": "was sent SIG",
    "worker exited abnormally": "exited with code",
    "error lines": "[ERROR]",
}


CLK_TCK = os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float:
    """CPU-seconds all cores of this machine have spent not idle (from /proc/stat)."""
    with open("/proc/stat", encoding="ascii") as handle:
        fields = [int(v) for v in handle.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq = fields[:7]
    return (user + nice + system + irq + softirq) / CLK_TCK


def server_cpu_s(master: int, pg_database: str) -> tuple[float, float]:
    """CPU-seconds used so far by a gunicorn master and its workers, and by the PostgreSQL
    backends connected to ``pg_database`` (empty: none)."""
    app = db = 0.0
    marker = f" {pg_database} ".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                stat = handle.read().rsplit(")", 1)[1].split()
            used = (int(stat[11]) + int(stat[12])) / CLK_TCK  # utime + stime
            if int(entry) == master or int(stat[1]) == master:
                app += used
            elif pg_database:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    title = handle.read()
                if title.startswith(b"postgres: ") and marker in title:
                    db += used
        except (OSError, ValueError, IndexError):
            continue
    return app, db


def log(message: str) -> None:
    """Progress goes to stderr so stdout holds only the results."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A gunicorn process serving one app on loopback."""

    name: str
    base: str
    proc: subprocess.Popen[bytes]
    log_path: str

    def log_summary(self) -> dict[str, int]:
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
        return {label: text.count(pattern) for label, pattern in LOG_PATTERNS.items()}

    def log_excerpt(self, lines: int = 40) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return "".join(handle.readlines()[-lines:])


def stop_server(server: Server) -> None:
    """SIGTERM the gunicorn master (graceful), then SIGKILL its process group if it lingers."""
    if server.proc.poll() is not None:
        return
    server.proc.terminate()
    try:
        server.proc.wait(timeout=SERVER_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait(timeout=SERVER_STOP_TIMEOUT_S)


@contextmanager
def gunicorn(
    name: str,
    target: str,
    port: int,
    env: dict[str, str],
    ready_path: str,
    workers: int,
    log_dir: str,
) -> Iterator[Server]:
    """Start gunicorn on 127.0.0.1:port, wait until it answers, and always stop it."""
    log_path = os.path.join(log_dir, f"{name}-gunicorn.log")
    cmd = [
        os.path.join(VENV_BIN, "gunicorn"),
        "--workers",
        str(workers),
        "--bind",
        f"{LOOPBACK}:{port}",
        "--graceful-timeout",
        "5",
        "--no-control-socket",
        target,
    ]
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(name, f"http://{LOOPBACK}:{port}", proc, log_path)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{name}: gunicorn exited with {proc.returncode}:\n{server.log_excerpt()}"
                )
            try:
                if requests.get(server.base + ready_path, timeout=2).status_code < 500:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{name}: gunicorn did not answer within {SERVER_START_TIMEOUT_S:.0f} s"
                )
            time.sleep(0.2)
        yield server
    finally:
        stop_server(server)


# --------------------------------------------------------------------------- the client


@dataclass(frozen=True)
class Target:
    """How one app's journey looks: where to GET, where to POST, where the redirect goes."""

    app: str
    base: str
    get_path: Callable[[str], str]
    post_path: Callable[[str], str]
    done_path: str
    answers: dict[str, str]
    server_pid: int
    pg_database: str = ""


class JourneyError(Exception):
    """One journey did not end on the thanks page; the message classifies why."""


def journey(target: Target, token: str) -> None:
    """One person: GET the link, POST the answers, follow the 303 to the thanks page."""
    with requests.Session() as http:
        page = http.get(target.base + target.get_path(token), timeout=REQUEST_TIMEOUT_S)
        if page.status_code != 200:
            raise JourneyError(f"GET link {page.status_code}")
        data = {**target.answers, "token": token, "comment": ""}
        found = CSRF_INPUT.search(page.text)
        if found:
            data["csrf_token"] = found.group(1)
        sent = http.post(
            target.base + target.post_path(token),
            data=data,
            allow_redirects=False,
            timeout=REQUEST_TIMEOUT_S,
        )
        if sent.status_code != 303:
            detail = ""
            if "busy" in sent.text:
                detail = " (server busy, nothing saved)"
            elif "access code did not work" in sent.text:
                detail = " (link refused)"
            raise JourneyError(f"POST {sent.status_code}{detail}")
        location = sent.headers.get("Location", "")
        if urlsplit(location).path != target.done_path:
            raise JourneyError(f"POST redirected to {location!r}")
        thanks = http.get(target.base + target.done_path, timeout=REQUEST_TIMEOUT_S)
        if thanks.status_code != 200:
            raise JourneyError(f"GET thanks {thanks.status_code}")


@dataclass
class RunResult:
    app: str
    clients: int
    attempted: int = 0
    completed: int = 0
    wall_s: float = 0.0
    client_cpu_s: float = 0.0
    server_cpu_s: float = 0.0
    db_cpu_s: float = 0.0
    machine_busy_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    timed_out: bool = False

    @property
    def per_s(self) -> float:
        return self.completed / self.wall_s if self.wall_s else 0.0

    def cores(self, seconds: float) -> float:
        return seconds / self.wall_s if self.wall_s else 0.0

    @property
    def other_cpu_s(self) -> float:
        """CPU used meanwhile by processes that are neither this client nor this server."""
        return max(0.0, self.machine_busy_s - self.server_cpu_s - self.client_cpu_s)

    @property
    def server_ms_per_journey(self) -> float:
        return self.server_cpu_s * 1000 / self.completed if self.completed else float("nan")

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile of the completed journeys' latency."""
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    def as_dict(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "clients": self.clients,
            "attempted": self.attempted,
            "completed": self.completed,
            "errors": dict(self.errors),
            "wall_s": round(self.wall_s, 3),
            "responses_per_s": round(self.per_s, 2),
            "p50_ms": round(self.percentile(50), 2),
            "p99_ms": round(self.percentile(99), 2),
            "mean_ms": round(sum(self.latencies_ms) / len(self.latencies_ms), 2)
            if self.latencies_ms
            else None,
            "server_cpu_s": round(self.server_cpu_s, 3),
            "of_which_postgresql_backends_cpu_s": round(self.db_cpu_s, 3),
            "server_cpu_ms_per_response": round(self.server_ms_per_journey, 2),
            "cores_used": {
                "server": round(self.cores(self.server_cpu_s), 2),
                "client": round(self.cores(self.client_cpu_s), 2),
                "other processes": round(self.cores(self.other_cpu_s), 2),
            },
            "timed_out": self.timed_out,
        }


def drive(target: Target, tokens: list[str], clients: int, timeout_s: float) -> RunResult:
    """Run one journey per token with ``clients`` concurrent people; bounded by count and time."""
    result = RunResult(target.app, clients)
    work: queue.Queue[str] = queue.Queue()
    for token in tokens:
        work.put(token)
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    deadline = [0.0]

    def worker() -> None:
        start.wait()
        while time.monotonic() < deadline[0]:
            try:
                token = work.get_nowait()
            except queue.Empty:
                return
            began = time.perf_counter()
            error = ""
            try:
                journey(target, token)
            except JourneyError as exc:
                error = str(exc)
            except requests.RequestException as exc:
                error = f"{type(exc).__name__}"
            elapsed = (time.perf_counter() - began) * 1000
            with lock:
                result.attempted += 1
                if error:
                    result.errors[error] += 1
                else:
                    result.completed += 1
                    result.latencies_ms.append(elapsed)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    cpu0, busy0 = time.process_time(), machine_busy_s()
    app0, db0 = server_cpu_s(target.server_pid, target.pg_database)
    deadline[0] = time.monotonic() + timeout_s
    t0 = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join(timeout=timeout_s + 2 * REQUEST_TIMEOUT_S)
    result.wall_s = time.perf_counter() - t0
    result.client_cpu_s = time.process_time() - cpu0
    app1, db1 = server_cpu_s(target.server_pid, target.pg_database)
    result.db_cpu_s = db1 - db0
    result.server_cpu_s = app1 - app0 + result.db_cpu_s
    result.machine_busy_s = machine_busy_s() - busy0
    result.timed_out = not work.empty() or any(t.is_alive() for t in threads)
    return result


# --------------------------------------------------------------------------- Candor set-up


@dataclass
class Instance:
    """An initialised Candor instance with an open round and its invitation tokens."""

    env: dict[str, str]
    url: str
    round_id: int
    tokens: list[str]
    answers: dict[str, str]


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CANDOR_", "BENCH_"))}
    env.update(extra)
    return env


def reset_postgres(url: str) -> None:
    """Create the benchmark database if missing and give it an empty public schema."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if parts.hostname not in LOOPBACK_HOSTS:
        raise SystemExit(f"refusing a non-loopback PostgreSQL host: {parts.hostname}")
    if "bench" not in name:
        raise SystemExit(f"refusing to wipe database {name!r}: its name must contain 'bench'")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


def make_instance(workdir: str, backend: str, pg_url: str, port: int, people: int) -> Instance:
    """Initialise through `candor init`, add an org, roster and programme, open a round."""
    from survey import create_app, db
    from survey.domain.questions import load_bank
    from survey.models import Person, Program, Round
    from survey.services import org, rounds

    instance_path = os.path.join(workdir, "instance")
    if backend == "postgresql":
        reset_postgres(pg_url)
        url = pg_url
    else:
        url = "sqlite:///" + os.path.join(instance_path, "candor.db")
    public_url = f"http://{LOOPBACK}:{port}"
    env = clean_env(
        {
            "CANDOR_INSTANCE_PATH": instance_path,
            "CANDOR_DATABASE_URL": url,
            "CANDOR_PUBLIC_URL": public_url,
        }
    )
    subprocess.run(
        [os.path.join(VENV_BIN, "candor"), "init", "--password-stdin"],
        cwd=ROOT,
        env=env,
        input=secrets.token_urlsafe(16) + "\n",
        text=True,
        check=True,
        capture_output=True,
        timeout=120,
    )
    app = create_app(
        {"INSTANCE_PATH": instance_path, "DATABASE_URL": url, "PUBLIC_URL": public_url}
    )
    kek = app.extensions["candor.kek"]
    try:
        with db.session_scope(app) as session:
            root = org.add_unit(session, "Bench Lab", None)
            teams = []
            for dept_name in ("Research", "Engineering", "Operations"):
                dept = org.add_unit(session, dept_name, root)
                teams += [org.add_unit(session, f"{dept_name} {t}", dept) for t in ("A", "B")]
            bands = ("<1y", "1-3y", "3y+")
            session.add_all(
                Person(
                    email=f"person{n}@bench.example",
                    name=f"Bench Person{n}",
                    unit_id=teams[n % len(teams)].id,
                    tenure_band=bands[n % len(bands)],
                )
                for n in range(people)
            )
            program = Program(name="Bench pulse", k=5, comment_k=10)
            session.add(program)
            session.flush()
            rnd = rounds.create_round(session, program)
            invited = rounds.open_round(session, rnd, kek, dt.date.today())
            session.commit()
            assert invited == people, (invited, people)
            links = rounds.invitation_links(session, rnd, kek, public_url)
            tokens = [link.fallback_url.rsplit("/", 1)[1] for link in links]
            rnd = session.get(Round, rnd.id)
            assert rnd is not None and rnd.items is not None
            items = load_bank(rnd.items["bank"]).items_for(tuple(rnd.items["asked"]))
            answers = {f"q_{i.key}": str(8 if i.scale == "nps" else 4) for i in items}
            return Instance(env, url, rnd.id, tokens, answers)
    finally:
        app.extensions["candor.engine"].dispose()


def candor_counts(url: str, round_id: int) -> dict[str, int]:
    """Count the round's rows straight from the database."""
    from sqlalchemy import func, select

    from survey import db
    from survey.models import Comment, Invitation, Response

    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            return {
                name: int(
                    conn.scalar(
                        select(func.count()).select_from(model).where(model.round_id == round_id)
                    )
                    or 0
                )
                for name, model in (
                    ("responses", Response),
                    ("invitations", Invitation),
                    ("comments", Comment),
                )
            }
    finally:
        engine.dispose()


def baseline_count(path: str) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM blobs").fetchone()[0])


# --------------------------------------------------------------------------- probes


def probe_resubmit(target: Target, round_id: int, used: list[str]) -> dict[str, Any]:
    """A used link must show the "unusable" page and refuse a POST."""
    outcomes: Counter[str] = Counter()
    for token in used:
        with requests.Session() as http:
            shown = http.get(target.base + target.get_path(token), timeout=REQUEST_TIMEOUT_S)
            blank = http.get(f"{target.base}/s/{round_id}", timeout=REQUEST_TIMEOUT_S)
            found = CSRF_INPUT.search(blank.text)
            data = {
                **target.answers,
                "token": token,
                "comment": "",
                "csrf_token": found.group(1) if found else "",
            }
            sent = http.post(
                target.base + target.post_path(token),
                data=data,
                allow_redirects=False,
                timeout=REQUEST_TIMEOUT_S,
            )
            outcomes[f"GET {shown.status_code} / POST {sent.status_code}"] += 1
    return {
        "links": len(used),
        "outcomes": dict(outcomes),
        "ok": outcomes == Counter({"GET 404 / POST 400": len(used)}),
    }


def probe_double_submit(target: Target, tokens: list[str]) -> dict[str, Any]:
    """Each link is POSTed by two people at the same instant: exactly one may be accepted."""
    statuses: dict[str, list[int]] = {t: [] for t in tokens}
    lock = threading.Lock()

    def person(token: str, barrier: threading.Barrier) -> None:
        status = -1
        try:
            with requests.Session() as http:
                page = http.get(target.base + target.get_path(token), timeout=REQUEST_TIMEOUT_S)
                found = CSRF_INPUT.search(page.text)
                data = {
                    **target.answers,
                    "token": token,
                    "comment": "",
                    "csrf_token": found.group(1) if found else "",
                }
                barrier.wait(timeout=REQUEST_TIMEOUT_S)
                status = http.post(
                    target.base + target.post_path(token),
                    data=data,
                    allow_redirects=False,
                    timeout=REQUEST_TIMEOUT_S,
                ).status_code
        except (requests.RequestException, threading.BrokenBarrierError):
            status = -1
        with lock:
            statuses[token].append(status)

    barrier = threading.Barrier(2 * len(tokens))
    threads = [
        threading.Thread(target=person, args=(t, barrier), daemon=True)
        for t in tokens
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=3 * REQUEST_TIMEOUT_S)
    pairs = Counter(tuple(sorted(s)) for s in statuses.values())
    accepted = sum(s.count(303) for s in statuses.values())
    return {
        "links": len(tokens),
        "status_pairs": {str(k): v for k, v in pairs.items()},
        "accepted": accepted,
        "ok": all(s.count(303) == 1 for s in statuses.values()),
    }


# --------------------------------------------------------------------------- one backend


def stored_by(result: RunResult) -> int:
    """Journeys whose POST was accepted (303), including those whose thanks page then failed."""
    late = ("GET thanks", "POST redirected")
    return result.completed + sum(n for e, n in result.errors.items() if e.startswith(late))


def check(name: str, expected: Any, found: Any, ok: bool | None = None) -> dict[str, Any]:
    return {
        "check": name,
        "expected": expected,
        "found": found,
        "ok": expected == found if ok is None else ok,
    }


def describe(backend: str, res: RunResult) -> str:
    errors = f", errors {dict(res.errors)}" if res.errors else ""
    return (
        f"{backend}: {res.app} x{res.clients}: {res.completed}/{res.attempted}"
        f" in {res.wall_s:.1f} s"
        f" = {res.per_s:.1f}/s, p50 {res.percentile(50):.0f} ms, p99 {res.percentile(99):.0f} ms"
        f", server {res.server_ms_per_journey:.1f} ms CPU/response{errors}"
    )


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    """Measure baseline and Candor with each client count on one backend; check the database."""
    from bench.baseline_app import SCHEMA

    people = WARMUP_JOURNEYS + args.responses * len(args.clients) + DOUBLE_SUBMIT_LINKS
    runs: list[RunResult] = []
    checks: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix=f"candor-bench-{backend}-") as workdir:
        candor_port, baseline_port = free_port(), free_port()
        log(f"{backend}: candor init, then an org with {people} people and an open round")
        inst = make_instance(workdir, backend, args.pg_url, candor_port, people)
        tokens, rid = list(inst.tokens), inst.round_id
        baseline_db = os.path.join(workdir, "baseline.db")
        with sqlite3.connect(baseline_db) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(SCHEMA)
        baseline_env = clean_env({"BENCH_BASELINE_DB": baseline_db})
        serve = (args.workers, workdir)
        with (
            gunicorn("baseline", "bench.baseline_app:app", baseline_port, baseline_env, "/b/done",
                     *serve) as bserver,
            gunicorn("candor", "app:app", candor_port, inst.env, "/", *serve) as cserver,
        ):  # fmt: skip
            candor = Target(
                "candor", cserver.base, lambda t: f"/s/{rid}/{t}", lambda t: f"/s/{rid}",
                f"/s/{rid}/done", inst.answers, cserver.proc.pid,
                urlsplit(inst.url).path.lstrip("/") if backend == "postgresql" else "",
            )  # fmt: skip
            baseline = Target(
                "baseline", bserver.base, lambda t: f"/b/{t}", lambda t: f"/b/{t}", "/b/done",
                inst.answers, bserver.proc.pid,
            )  # fmt: skip
            warm_c, tokens = tokens[:WARMUP_JOURNEYS], tokens[WARMUP_JOURNEYS:]
            warm_b = [secrets.token_urlsafe(24) for _ in range(WARMUP_JOURNEYS)]
            for target, warm in ((baseline, warm_b), (candor, warm_c)):
                res = drive(target, warm, min(args.clients), args.timeout)
                log(f"{backend}: warm-up {target.app}: {res.completed}/{len(warm)} completed")
                if res.completed == 0:
                    raise RuntimeError(f"{target.app}: no warm-up journey completed: {res.errors}")
            for clients in args.clients:
                fake = [secrets.token_urlsafe(24) for _ in range(args.responses)]
                before_b = baseline_count(baseline_db)
                res_b = drive(baseline, fake, clients, args.timeout)
                blobs = baseline_count(baseline_db) - before_b
                log(describe(backend, res_b))
                batch, tokens = tokens[: args.responses], tokens[args.responses :]
                before = candor_counts(inst.url, rid)
                res_c = drive(candor, batch, clients, args.timeout)
                after = candor_counts(inst.url, rid)
                log(describe(backend, res_c))
                runs += [res_b, res_c]
                stored = after["responses"] - before["responses"]
                consumed = before["invitations"] - after["invitations"]
                comments = after["comments"] - before["comments"]
                checks += [
                    check(f"baseline x{clients}: one blob per accepted POST",
                          stored_by(res_b), blobs),
                    check(f"candor x{clients}: one Response row per accepted POST",
                          stored_by(res_c), stored),
                    check(f"candor x{clients}: one invitation consumed per Response row",
                          stored, consumed),
                    check(f"candor x{clients}: no Comment rows (empty comments sent)", 0, comments),
                ]  # fmt: skip
            used = batch[:RESUBMIT_LINKS]
            resub = probe_resubmit(candor, rid, used)
            checks.append(
                check("candor: a used link shows 404 and its POST is refused (400)",
                      {"GET 404 / POST 400": len(used)}, resub["outcomes"])
            )  # fmt: skip
            pair_tokens = tokens[:DOUBLE_SUBMIT_LINKS]
            before = candor_counts(inst.url, rid)
            dbl = probe_double_submit(candor, pair_tokens)
            stored = candor_counts(inst.url, rid)["responses"] - before["responses"]
            checks.append(
                check(f"candor: {len(pair_tokens)} links each POSTed twice at once store one each",
                      f"{len(pair_tokens)} responses, one 303 per link",
                      f"{stored} responses, status pairs {dbl['status_pairs']}",
                      dbl["ok"] and stored == len(pair_tokens))
            )  # fmt: skip
        logs = {bserver.name: bserver.log_summary(), cserver.name: cserver.log_summary()}
        excerpt = cserver.log_excerpt() if any(logs["candor"].values()) else ""
    return {"runs": runs, "checks": checks, "server_logs": logs, "candor_log_excerpt": excerpt}


# --------------------------------------------------------------------------- output


def table(rows: list[tuple[str, RunResult]]) -> str:
    """The results, one row per measurement, each Candor row followed by its ratio."""
    cols = (
        ("backend", "<12"), ("app", "<10"), ("clients", ">7"), ("responses", ">10"),
        ("resp/s", ">8"), ("p50 ms", ">8"), ("p99 ms", ">8"), ("errors", ">7"),
        ("srv ms cpu/resp", ">16"), ("cores srv/cli/other", ">21"),
    )  # fmt: skip
    header = "".join(f"{name:{fmt}}" for name, fmt in cols)
    lines = [header, "-" * len(header)]
    baseline: dict[tuple[str, int], RunResult] = {}
    for backend, r in rows:
        cores = (
            f"{r.cores(r.server_cpu_s):.2f}/{r.cores(r.client_cpu_s):.2f}/"
            f"{r.cores(r.other_cpu_s):.2f}"
        )
        values = (
            backend, r.app, r.clients, r.completed, f"{r.per_s:.1f}", f"{r.percentile(50):.1f}",
            f"{r.percentile(99):.1f}", sum(r.errors.values()), f"{r.server_ms_per_journey:.1f}",
            cores,
        )  # fmt: skip
        line = "".join(f"{v:{fmt}}" for v, (_, fmt) in zip(values, cols, strict=True))
        lines.append(line + ("  TIMED OUT" if r.timed_out else ""))
        if r.app == "baseline":
            baseline[(backend, r.clients)] = r
        elif (backend, r.clients) in baseline and baseline[(backend, r.clients)].per_s:
            base = baseline[(backend, r.clients)]
            lines.append(
                f"{'':<12}ratio candor/baseline: throughput {r.per_s / base.per_s:.2f}, "
                f"p50 latency {r.percentile(50) / base.percentile(50):.2f}x, "
                "server CPU per response "
                f"{r.server_ms_per_journey / base.server_ms_per_journey:.1f}x"
            )
    return "\n".join(lines)


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        return out.stdout.strip() + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--responses", type=int, default=600, help="journeys per app and client count"
    )
    parser.add_argument(
        "--clients", default="8,16", help="comma-separated concurrent client counts"
    )
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers per app")
    parser.add_argument(
        "--timeout", type=float, default=90.0, help="wall-clock limit per measurement (s)"
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("CANDOR_BENCH_PG_URL", DEFAULT_PG_URL),
        help="loopback PostgreSQL database to wipe and use (its name must contain 'bench')",
    )
    args = parser.parse_args(argv)
    args.clients = [int(c) for c in str(args.clients).split(",") if c.strip()]
    if (
        not args.clients
        or min(args.clients) < 1
        or args.responses < RESUBMIT_LINKS
        or args.workers < 1
    ):
        parser.error("need clients >= 1, workers >= 1 and responses >= 5")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, ROOT)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    os.makedirs(OUT_DIR, exist_ok=True)
    meta = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "gunicorn": f"--workers {args.workers} (sync), 127.0.0.1, no access log",
        "responses_per_measurement": args.responses,
        "clients": args.clients,
        "warmup_journeys_per_app": WARMUP_JOURNEYS,
        "journey": "GET link, POST answers with the CSRF token and cookie from the GET, "
        "follow the 303, thanks page 200",
        "baseline": "Flask: same GET (no DB, no CSRF); POST = AES-GCM over the answers padded "
        "to 512 bytes + SQLite insert (WAL, busy_timeout); 303 to thanks. SQLite in both runs.",
    }
    rows: list[tuple[str, RunResult]] = []
    failed = False
    for backend in backends:
        outcome = run_backend(backend, args)
        rows += [(backend, r) for r in outcome["runs"]]
        failed |= not all(c["ok"] for c in outcome["checks"])
        failed |= any(r.errors or r.timed_out for r in outcome["runs"])
        path = os.path.join(OUT_DIR, f"submit-{backend}.json")
        report = {
            **meta,
            "backend": backend,
            "runs": [r.as_dict() for r in outcome["runs"]],
            **{k: v for k, v in outcome.items() if k != "runs"},
        }
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=2, default=str)
        log(f"{backend}: wrote {os.path.relpath(path, ROOT)}")
        print(f"== {backend}: checks ==")
        for c in outcome["checks"]:
            verdict = "ok" if c["ok"] else "FAIL"
            print(f"  [{verdict}] {c['check']}: expected {c['expected']}, found {c['found']}")
        print(f"  server log findings: {outcome['server_logs']}")
        if outcome["candor_log_excerpt"]:
            print("  candor server log (last lines):\n" + outcome["candor_log_excerpt"])
    print(
        f"\nsubmit benchmark: gunicorn --workers {args.workers} (sync) on {LOOPBACK}, "
        f"{os.cpu_count()} CPUs shared by server and client; {args.responses} journeys per row "
        "after warm-up.\nresp/s = completed journeys / wall time; latency = one whole journey "
        "(GET, POST, thanks);\nsrv ms cpu/resp = CPU of gunicorn (+ its PostgreSQL backends) per "
        "completed journey;\ncores = "
        "CPU cores busy on average with the server, this client, and other processes."
    )
    print(table(rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
