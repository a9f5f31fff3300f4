"""Benchmark: completed survey responses per second under gunicorn, against a baseline.

A "journey" is what one person does. With JavaScript (the ``candor`` row), as
``static/ballot.js`` does it: GET the survey page ``/s/<round>`` (the code stays in the
fragment), take the code's ballot key from the keys the page carries (or GET it, when the round
has more keys than a page carries), blind a fresh random message, check in with the code and
the blinded message, unblind and verify the blind signature, POST the ballot (answers, message,
signature) without cookies and check that its reply names the thanks page (the script shows the
thanks the survey page carries, under that address, without a request). The blinding runs
here, in the client, as it does in the browser. Without JavaScript (the ``candor-form`` row):
GET the page, POST the form with the code, the answers and the CSRF token, follow the 303 to
the thanks page.
The floor is a minimal Flask app (``bench/baseline_app.py``: a GET, then an AES-GCM-encrypted
blob inserted into SQLite and a thanks page). All are served by gunicorn on loopback in the
same run, on SQLite and on PostgreSQL (the baseline always uses SQLite).

Run from the repository root::

    .venv/bin/python bench/submit.py [--backend sqlite|postgresql|both] [--responses N]
                                     [--clients 8,16] [--workers W] [--no-form]

Prints a table and writes ``bench/out/submit-<backend>.json``. Afterwards it checks the
database and the replies: one stored response per accepted ballot, one invitation consumed per
check-in, a used code's second check-in refused, replayed ballots refused or recognised and
never stored twice, concurrent check-ins and ballots of one code accepted once, no 5xx but 503.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import math
import os
import platform
import queue
import random
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
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/candor_bench_submit"
BASELINE, BALLOT, FORM = "baseline", "candor", "candor-form"
WARMUP_JOURNEYS = 24  # per app, before anything is measured: every worker loads and renders
USED_CODES = 5  # codes of the last measured batch whose reuse is tried
REPLAY_CODES = 5  # fresh codes for the repeated check-in and replayed ballots
CONCURRENT_CODES = 8  # fresh codes checked in, then voted, by two clients at once
BUSY_RETRIES = 3  # a 503 is sent again after its Retry-After, up to this many times
RETRY_AFTER_CAP_S = 5.0
REQUEST_TIMEOUT_S = 30.0
SERVER_START_TIMEOUT_S = 30.0
SERVER_STOP_TIMEOUT_S = 15.0
CARRIED_KEYS = re.compile(r'<script type="application/json" id="ballot-keys">(.*?)</script>', re.S)
CREDENTIAL_INPUT = re.compile(
    r'<input type="hidden" name="(ballot_key|ballot_message|ballot_signature)" value="([^"]*)"'
)
LOG_PATTERNS = {
    "traceback": "Traceback (most recent call last)",
    "database is locked": "database is locked",
    "worker timeout": "WORKER TIMEOUT",
    "worker killed": "was sent SIG",
    "worker exited abnormally": "exited with code",
    "error lines": "[ERROR]",
    "mixing failed (retried later)": "mixing the ballot inbox failed",
}
BAD_LOG_FINDINGS = (
    "traceback", "database is locked", "worker timeout", "worker killed",
    "worker exited abnormally",
)  # fmt: skip


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
    cwd: str = ROOT,
) -> Iterator[Server]:
    """Start gunicorn on 127.0.0.1:port from the tree ``cwd`` (its ``gunicorn.conf.py``
    applies), wait until it answers, and always stop it."""
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
            cwd=cwd,
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


class JourneyError(Exception):
    """One journey did not end on the thanks page; the message classifies why."""


@dataclass
class Recorder:
    """What the clients of one measurement saw: every reply's status, cookies and crypto time.

    Shared by the client threads; every method takes the lock.
    """

    statuses: Counter[str] = field(default_factory=Counter)
    cookies_set: Counter[str] = field(default_factory=Counter)
    blind_cpu_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reply(self, label: str, reply: requests.Response, detail: str = "") -> None:
        with self.lock:
            self.statuses[f"{label} {reply.status_code}{detail}"] += 1
            if "Set-Cookie" in reply.headers:
                self.cookies_set[label] += 1

    def crypto(self, seconds: float) -> None:
        with self.lock:
            self.blind_cpu_s += seconds

    def count(self, prefix: str) -> int:
        with self.lock:
            return sum(n for k, n in self.statuses.items() if k.startswith(prefix))

    def server_errors(self) -> dict[str, int]:
        """Replies with a 5xx status other than 503 (the one the app means to send)."""
        with self.lock:
            return {
                k: n
                for k, n in self.statuses.items()
                if re.search(r" 5\d\d\b", k) and not re.search(r" 503\b", k)
            }


@dataclass(frozen=True)
class Target:
    """One app under test: how a person's journey goes, and which processes serve it."""

    app: str
    base: str
    journey: Callable[[Target, str, Recorder], None]
    round_id: int
    answers: dict[str, int]
    server_pid: int
    pg_database: str = ""

    def url(self, path: str) -> str:
        return self.base + path


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def form_fields(answers: dict[str, int]) -> dict[str, str]:
    """The answers as the no-JavaScript form posts them (radio groups named ``q_<item key>``)."""
    return {f"q_{key}": str(value) for key, value in answers.items()}


def other_answers(answers: dict[str, int]) -> dict[str, int]:
    """The same answers with the first one changed to another valid value."""
    first = next(iter(answers))
    return {**answers, first: answers[first] - 1}


def baseline_journey(target: Target, token: str, rec: Recorder) -> None:
    """The floor: GET the form, POST the answers, follow the 303 to the thanks page."""
    with requests.Session() as http:
        page = http.get(target.url(f"/b/{token}"), timeout=REQUEST_TIMEOUT_S)
        rec.reply("GET form", page)
        if page.status_code != 200:
            raise JourneyError(f"GET form {page.status_code}")
        data = {**form_fields(target.answers), "token": token, "comment": ""}
        sent = http.post(
            target.url(f"/b/{token}"), data=data, allow_redirects=False, timeout=REQUEST_TIMEOUT_S
        )
        rec.reply("POST form", sent)
        if sent.status_code != 303:
            raise JourneyError(f"POST {sent.status_code}")
        thanks = http.get(target.url("/b/done"), timeout=REQUEST_TIMEOUT_S)
        rec.reply("GET thanks", thanks)
        if thanks.status_code != 200:
            raise JourneyError(f"GET thanks {thanks.status_code}")


def form_journey(target: Target, code: str, rec: Recorder) -> None:
    """Candor without JavaScript: GET the survey page (cookie + CSRF token), POST the form
    with the code in ``token``, follow the 303 to the thanks page.

    On a 503 the page comes back with the credential the server already made in hidden
    fields; the person sends it again after Retry-After, as the page asks.
    """
    rid = target.round_id
    with requests.Session() as http:
        page = http.get(target.url(f"/s/{rid}"), timeout=REQUEST_TIMEOUT_S)
        rec.reply("GET survey", page)
        if page.status_code != 200:
            raise JourneyError(f"GET survey {page.status_code}")
        data = {
            **form_fields(target.answers),
            "token": code,
            "comment": "",
            "lang": hidden_value(page.text, "lang"),
            "csrf_token": hidden_value(page.text, "csrf_token"),
        }
        for attempt in range(BUSY_RETRIES + 1):
            sent = http.post(
                target.url(f"/s/{rid}"), data=data, allow_redirects=False,
                timeout=REQUEST_TIMEOUT_S,
            )  # fmt: skip
            rec.reply("POST form", sent)
            if sent.status_code != 503 or attempt == BUSY_RETRIES:
                break
            wait_retry_after(sent)
            data["csrf_token"] = hidden_value(sent.text, "csrf_token")
            data.update(CREDENTIAL_INPUT.findall(sent.text))
        if sent.status_code != 303:
            detail = ""
            if sent.status_code == 503:
                detail = " (server busy, still after retries)"
            elif "access code did not work" in sent.text:
                detail = " (code refused)"
            raise JourneyError(f"POST form {sent.status_code}{detail}")
        location = sent.headers.get("Location", "")
        if urlsplit(location).path != f"/s/{rid}/done":
            raise JourneyError(f"POST form redirected to {location!r}")
        thanks = http.get(target.url(location), timeout=REQUEST_TIMEOUT_S)
        rec.reply("GET thanks", thanks)
        if thanks.status_code != 200:
            raise JourneyError(f"GET thanks {thanks.status_code}")


def hidden_value(html: str, name: str) -> str:
    found = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', html)
    return found.group(1) if found else ""


def wait_retry_after(reply: requests.Response) -> None:
    """Wait as long as a 503's Retry-After asks (capped)."""
    try:
        seconds = float(reply.headers.get("Retry-After", "1"))
    except ValueError:
        seconds = 1.0
    time.sleep(min(max(seconds, 0.0), RETRY_AFTER_CAP_S))


def post_json(
    bare: requests.Session, url: str, body: dict[str, Any], label: str, rec: Recorder
) -> requests.Response:
    """POST JSON without cookies; on 503 wait for Retry-After and send the same body again."""
    for attempt in range(BUSY_RETRIES + 1):
        bare.cookies.clear()
        reply = bare.post(url, json=body, allow_redirects=False, timeout=REQUEST_TIMEOUT_S)
        rec.reply(label, reply)
        if reply.status_code != 503 or attempt == BUSY_RETRIES:
            return reply
        wait_retry_after(reply)
    raise AssertionError("unreachable")


def carried_keys(page: str) -> dict[str, Any] | None:
    """Return the ballot keys the survey page carries, by key id; None when it carries none
    (then its script asks for each code's key)."""
    found = CARRIED_KEYS.search(page)
    keys: dict[str, Any] | None = json.loads(found.group(1)) if found else None
    return keys  # Flask's tojson escapes as JSON does, not as HTML


def fetch_key(bare: requests.Session, target: Target, key_id: int, page: str, rec: Recorder) -> Any:
    """Build the RSA public key of ``key_id`` from its n and e, as the page's script does: from
    the keys ``page`` carries, else from a GET of the key (the probes, which load no page, ask)."""
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers

    carried = carried_keys(page)
    if carried is not None:
        if str(key_id) not in carried:
            raise JourneyError(f"the page carries no key {key_id}")
        fields = carried[str(key_id)]
    else:
        bare.cookies.clear()
        url = target.url(f"/s/{target.round_id}/keys/{key_id}")
        reply = bare.get(url, timeout=REQUEST_TIMEOUT_S)
        rec.reply("GET key", reply)
        if reply.status_code != 200:
            raise JourneyError(f"GET key {reply.status_code}")
        fields = reply.json()
    began = time.thread_time()
    n = int.from_bytes(unb64url(fields["n"]), "big")
    e = int.from_bytes(unb64url(fields["e"]), "big")
    public = RSAPublicNumbers(e, n).public_key()
    rec.crypto(time.thread_time() - began)
    return public


@dataclass
class Blinding:
    """One client-side blinding: the prepared message, what is sent, and the unblinder."""

    message: bytes
    blinded: bytes
    inv: bytes


def blind_new(public: Any, rec: Recorder) -> Blinding:
    from survey.domain import blindrsa

    began = time.thread_time()
    message = blindrsa.prepare(secrets.token_bytes(32))
    blinded, inv = blindrsa.blind(public, message)
    rec.crypto(time.thread_time() - began)
    return Blinding(message, blinded, inv)


def check_in(
    bare: requests.Session, target: Target, code: str, blinding: Blinding, rec: Recorder
) -> requests.Response:
    return post_json(
        bare,
        target.url(f"/s/{target.round_id}/checkin"),
        {"code": code, "blinded": b64url(blinding.blinded)},
        "POST checkin",
        rec,
    )


def unblind(public: Any, blinding: Blinding, reply: requests.Response, rec: Recorder) -> bytes:
    from survey.domain import blindrsa

    began = time.thread_time()
    try:
        blind_sig = unb64url(reply.json()["blind_signature"])
        return blindrsa.finalize(public, blinding.message, blind_sig, blinding.inv)
    except (ValueError, KeyError, blindrsa.BlindSignatureError) as exc:
        raise JourneyError(f"check-in signature unusable ({type(exc).__name__})") from exc
    finally:
        rec.crypto(time.thread_time() - began)


def cast(
    bare: requests.Session,
    target: Target,
    key_id: int,
    message: bytes,
    signature: bytes,
    answers: dict[str, int],
    rec: Recorder,
) -> requests.Response:
    body = {
        "key_id": key_id,
        "message": b64url(message),
        "signature": b64url(signature),
        "answers": answers,
        "comment": "",
        "lang": "",
    }
    reply = post_json(bare, target.url(f"/s/{target.round_id}/ballot"), body, "POST ballot", rec)
    if reply.status_code == 200:
        with rec.lock:  # also count what the 200 said: "recorded" or "already recorded"
            rec.statuses[f"ballot {reply.json().get('status')}"] += 1
    return reply


def ballot_journey(target: Target, code: str, rec: Recorder) -> None:
    """Candor with JavaScript, done as ``static/ballot.js`` does it.

    GET the survey page (the code stays in the fragment), GET the code's ballot key, blind a
    fresh random message, check in with the code and the blinded message, unblind and verify
    the signature, POST the ballot without cookies; its reply must name the thanks page, which
    the script shows from the survey page without a request. Blinding, unblinding and
    verifying run in this (the client's) process.
    """
    rid = target.round_id
    key_id = int(code.split(".", 1)[0])
    with requests.Session() as http, requests.Session() as bare:
        page = http.get(target.url(f"/s/{rid}"), timeout=REQUEST_TIMEOUT_S)
        rec.reply("GET survey", page)
        if page.status_code != 200:
            raise JourneyError(f"GET survey {page.status_code}")
        public = fetch_key(bare, target, key_id, page.text, rec)
        blinding = blind_new(public, rec)
        signed = check_in(bare, target, code, blinding, rec)
        if signed.status_code != 200:
            raise JourneyError(f"POST checkin {signed.status_code}")
        signature = unblind(public, blinding, signed, rec)
        sent = cast(bare, target, key_id, blinding.message, signature, target.answers, rec)
        if sent.status_code != 200:
            raise JourneyError(f"POST ballot {sent.status_code}")
        reply = sent.json()
        if reply.get("status") != "recorded":
            raise JourneyError(f"ballot {reply.get('status')!r}")
        if urlsplit(reply.get("next", "")).path != f"/s/{rid}/done":
            raise JourneyError(f"ballot next {reply.get('next')!r}")


JOURNEYS: dict[str, Callable[[Target, str, Recorder], None]] = {
    BALLOT: ballot_journey,
    FORM: form_journey,
}


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
    rec: Recorder = field(default_factory=Recorder)
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

    @property
    def blind_ms_per_journey(self) -> float:
        """Client CPU spent building keys, blinding and unblinding, per completed journey."""
        return self.rec.blind_cpu_s * 1000 / self.completed if self.completed else float("nan")

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
            "replies": dict(self.rec.statuses),
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
            "client_blinding_cpu_ms_per_response": round(self.blind_ms_per_journey, 3)
            if self.rec.blind_cpu_s
            else None,
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
                target.journey(target, token, result.rec)
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
        thread.join(timeout=timeout_s + (BUSY_RETRIES + 2) * REQUEST_TIMEOUT_S)
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
    """An initialised Candor instance with one open round per Candor journey, and its codes."""

    env: dict[str, str]
    url: str
    rounds: dict[str, int]  # journey name -> round id
    codes: dict[str, list[str]]  # journey name -> that round's access codes, shuffled
    answers: dict[str, int]  # item key -> answer, for every item both rounds ask


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


def make_instance(
    workdir: str, backend: str, pg_url: str, port: int, people: int, journeys: tuple[str, ...]
) -> Instance:
    """Initialise through `candor init`, add an org and roster, and open one round per journey
    (each in its own programme, so neither journey's ballots make the other's mixes larger)."""
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
            round_ids: dict[str, int] = {}
            codes: dict[str, list[str]] = {}
            asked: set[tuple[str, ...]] = set()
            answers: dict[str, int] = {}
            for name in journeys:
                program = Program(name=f"Bench pulse ({name})", k=5, comment_k=10)
                session.add(program)
                session.flush()
                rnd = rounds.create_round(session, program)
                invited = rounds.open_round(session, rnd, kek, dt.date.today())
                session.commit()
                assert invited == people, (invited, people)
                links = rounds.invitation_links(session, rnd, kek, public_url)
                shuffled = [link.code for link in links]
                random.SystemRandom().shuffle(shuffled)  # mix keys (units, bands) in each batch
                round_ids[name], codes[name] = rnd.id, shuffled
                fresh = session.get(Round, rnd.id)
                assert fresh is not None and fresh.items is not None
                items = load_bank(fresh.items["bank"]).items_for(tuple(fresh.items["asked"]))
                asked.add(tuple(i.key for i in items))
                answers = {i.key: 8 if i.scale == "nps" else 4 for i in items}
            assert len(asked) == 1, "the rounds ask different items"
            return Instance(env, url, round_ids, codes, answers)
    finally:
        app.extensions["candor.engine"].dispose()


def candor_counts(url: str, round_id: int) -> dict[str, int]:
    """Count the round's rows straight from the database.

    ``stored`` is what holds answers: rows in ``responses`` plus the inbox's "response" rows
    (a mix moves the second into the first); ``comments_stored`` likewise for comments.
    """
    from sqlalchemy import func, select

    from survey import db
    from survey.models import (
        BallotKey,
        CheckIn,
        Comment,
        InboxEntry,
        Invitation,
        Response,
        SpentBallot,
    )

    engine = db.make_engine(url)
    try:
        with engine.begin() as conn:

            def count(model: Any, *where: Any) -> int:
                query = select(func.count()).select_from(model).where(model.round_id == round_id)
                return int(conn.scalar(query.where(*where)) or 0)

            counts = {
                "responses": count(Response),
                "inbox_responses": count(InboxEntry, InboxEntry.kind == "response"),
                "comments": count(Comment),
                "inbox_comments": count(InboxEntry, InboxEntry.kind == "comment"),
                "invitations": count(Invitation),
                "check_ins": count(CheckIn),
                "spent": count(SpentBallot),
                "ballot_keys": count(BallotKey),
            }
    finally:
        engine.dispose()
    counts["stored"] = counts["responses"] + counts["inbox_responses"]
    counts["comments_stored"] = counts["comments"] + counts["inbox_comments"]
    return counts


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before[k] for k in after}


def baseline_count(path: str) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM blobs").fetchone()[0])


def page_items(target: Target) -> list[str]:
    """The item keys the survey page asks, from its radio groups ``q_<item key>``."""
    page = requests.get(target.url(f"/s/{target.round_id}"), timeout=REQUEST_TIMEOUT_S)
    return sorted(set(re.findall(r'<input[^>]*type="radio"[^>]*name="q_([^"]+)"', page.text)))


def carried_count(target: Target) -> int:
    """How many ballot keys the survey page carries (0: its script asks for each code's)."""
    page = requests.get(target.url(f"/s/{target.round_id}"), timeout=REQUEST_TIMEOUT_S)
    return len(carried_keys(page.text) or {})


# --------------------------------------------------------------------------- probes


def probe_used_codes(ballot: Target, form: Target, used_b: list[str], used_f: list[str],
                     rec: Recorder) -> dict[str, Any]:  # fmt: skip
    """A code already used is refused: its check-in with a fresh blinded message is a 404,
    its no-JavaScript form POST a 400; nothing is stored or consumed."""
    outcomes: Counter[str] = Counter()
    with requests.Session() as bare:
        for code in used_b:
            public = fetch_key(bare, ballot, int(code.split(".", 1)[0]), "", rec)
            reply = check_in(bare, ballot, code, blind_new(public, rec), rec)
            outcomes[f"checkin {reply.status_code}"] += 1
    for code in used_f:
        with requests.Session() as http:
            page = http.get(form.url(f"/s/{form.round_id}"), timeout=REQUEST_TIMEOUT_S)
            data = {**form_fields(form.answers), "token": code, "comment": "",
                    "csrf_token": hidden_value(page.text, "csrf_token")}  # fmt: skip
            sent = http.post(form.url(f"/s/{form.round_id}"), data=data,
                             allow_redirects=False, timeout=REQUEST_TIMEOUT_S)  # fmt: skip
            rec.reply("POST form (used code)", sent)
            outcomes[f"form POST {sent.status_code}"] += 1
    return dict(outcomes)


def probe_replays(target: Target, codes: list[str], rec: Recorder) -> dict[str, Counter[str]]:
    """Each code: check in; repeat the check-in with the same blinded message (a lost reply:
    the same blind signature again, nothing more consumed); cast the ballot; send the identical
    ballot again ("already recorded", nothing stored); send it with other answers (403)."""
    seen: dict[str, Counter[str]] = {
        "check-in": Counter(), "check-in repeated (same blinded)": Counter(), "ballot": Counter(),
        "identical replay": Counter(), "replay, other answers": Counter(),
    }  # fmt: skip
    with requests.Session() as bare:
        for code in codes:
            key_id = int(code.split(".", 1)[0])
            public = fetch_key(bare, target, key_id, "", rec)
            blinding = blind_new(public, rec)
            first = check_in(bare, target, code, blinding, rec)
            seen["check-in"][str(first.status_code)] += 1
            if first.status_code != 200:
                continue
            again = check_in(bare, target, code, blinding, rec)
            same = again.status_code == 200 and again.json() == first.json()
            seen["check-in repeated (same blinded)"][
                f"{again.status_code}{' same signature' if same else ''}"
            ] += 1
            sig = unblind(public, blinding, first, rec)
            for label, answers in (
                ("ballot", target.answers),
                ("identical replay", target.answers),
                ("replay, other answers", other_answers(target.answers)),
            ):
                reply = cast(bare, target, key_id, blinding.message, sig, answers, rec)
                status = reply.json().get("status", "") if reply.status_code == 200 else ""
                seen[label][f"{reply.status_code} {status}".strip()] += 1
    return seen


def probe_concurrent(target: Target, codes: list[str], rec: Recorder) -> dict[str, Any]:
    """Two people check in with one code at the same instant (different blinded messages):
    exactly one is signed. Then each credential's ballot is posted twice at the same instant:
    exactly one response is stored."""
    checkins: dict[str, list[int]] = {c: [] for c in codes}
    winners: dict[str, tuple[int, bytes, bytes]] = {}
    lock = threading.Lock()

    def person(code: str, barrier: threading.Barrier) -> None:
        status = -1
        try:
            with requests.Session() as bare:
                key_id = int(code.split(".", 1)[0])
                public = fetch_key(bare, target, key_id, "", rec)
                blinding = blind_new(public, rec)
                barrier.wait(timeout=REQUEST_TIMEOUT_S)
                reply = check_in(bare, target, code, blinding, rec)
                status = reply.status_code
                if status == 200:
                    sig = unblind(public, blinding, reply, rec)
                    with lock:
                        winners[code] = (key_id, blinding.message, sig)
        except (requests.RequestException, threading.BrokenBarrierError, JourneyError):
            status = -1
        with lock:
            checkins[code].append(status)

    def voter(code: str, barrier: threading.Barrier) -> None:
        outcome = "error"
        try:
            with requests.Session() as bare:
                key_id, message, sig = winners[code]
                barrier.wait(timeout=REQUEST_TIMEOUT_S)
                reply = cast(bare, target, key_id, message, sig, target.answers, rec)
                outcome = str(reply.status_code)
                if reply.status_code == 200:
                    outcome += " " + str(reply.json().get("status"))
        except (requests.RequestException, threading.BrokenBarrierError, KeyError):
            outcome = "error"
        with lock:
            ballots[code].append(outcome)

    def pairs(role: Callable[[str, threading.Barrier], None], which: list[str]) -> None:
        barrier = threading.Barrier(2 * len(which))
        threads = [threading.Thread(target=role, args=(c, barrier), daemon=True)
                   for c in which for _ in range(2)]  # fmt: skip
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=(BUSY_RETRIES + 3) * REQUEST_TIMEOUT_S)

    pairs(person, codes)
    signed = sorted(winners)
    ballots: dict[str, list[str]] = {c: [] for c in signed}
    if signed:
        pairs(voter, signed)
    checkin_pairs = Counter(str(tuple(sorted(s))) for s in checkins.values())
    ballot_pairs = Counter(str(tuple(sorted(s))) for s in ballots.values())
    return {
        "codes": len(codes),
        "checkin_pairs": dict(checkin_pairs),
        "checkin_ok": all(sorted(s) == [200, 404] for s in checkins.values()),
        "ballot_pairs": dict(ballot_pairs),
        "ballot_ok": len(signed) == len(codes)
        and all(s.count("200 recorded") == 1 for s in ballots.values()),
    }


# --------------------------------------------------------------------------- one backend


def stored_by(result: RunResult) -> int:
    """Form journeys whose POST was accepted (303), including those whose thanks then failed."""
    late = ("GET thanks", "POST form redirected")
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


def run_checks(
    app: str, clients: int, res: RunResult, moved: dict[str, int]
) -> list[dict[str, Any]]:
    """What one Candor measurement must have left in the database."""
    where = f"{app} x{clients}"
    checks = [
        check(f"{where}: no comment stored (empty comments sent)", 0, moved["comments_stored"]),
    ]
    if app == BALLOT:
        recorded, signed = res.rec.count("ballot recorded"), res.rec.count("POST checkin 200")
        checks += [
            check(f"{where}: one stored response per accepted ballot", recorded, moved["stored"]),
            check(f"{where}: one invitation consumed per check-in", signed,
                  -moved["invitations"]),
            check(f"{where}: one spent ballot per accepted ballot", recorded, moved["spent"]),
            check(f"{where}: no ballot answered 'already recorded'", 0,
                  res.rec.count("ballot already recorded")),
        ]  # fmt: skip
    else:
        accepted = stored_by(res)
        checks += [
            check(f"{where}: one stored response per accepted POST", accepted, moved["stored"]),
            check(f"{where}: one invitation consumed per stored response", moved["stored"],
                  -moved["invitations"]),
        ]  # fmt: skip
    return checks


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    """Measure the baseline and both Candor journeys at each client count; check the database."""
    from bench.baseline_app import SCHEMA

    journeys = (BALLOT, FORM) if args.form else (BALLOT,)
    people = WARMUP_JOURNEYS + args.responses * len(args.clients) + REPLAY_CODES + CONCURRENT_CODES
    runs: list[RunResult] = []
    checks: list[dict[str, Any]] = []
    probes = Recorder()
    with tempfile.TemporaryDirectory(prefix=f"candor-bench-{backend}-") as workdir:
        candor_port, baseline_port = free_port(), free_port()
        log(f"{backend}: candor init, an org with {people} people, {len(journeys)} open rounds")
        inst = make_instance(workdir, backend, args.pg_url, candor_port, people, journeys)
        codes = {name: list(c) for name, c in inst.codes.items()}
        baseline_db = os.path.join(workdir, "baseline.db")
        with sqlite3.connect(baseline_db) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(SCHEMA)
        baseline_env = clean_env({"BENCH_BASELINE_DB": baseline_db})
        serve = (args.workers, workdir)
        pg_db = urlsplit(inst.url).path.lstrip("/") if backend == "postgresql" else ""
        with (
            gunicorn("baseline", "bench.baseline_app:app", baseline_port, baseline_env, "/b/done",
                     *serve) as bserver,
            gunicorn("candor", "app:app", candor_port, inst.env, "/", *serve) as cserver,
        ):  # fmt: skip
            targets = {
                BASELINE: Target(BASELINE, bserver.base, baseline_journey, 0, inst.answers,
                                 bserver.proc.pid),
                **{name: Target(name, cserver.base, JOURNEYS[name], inst.rounds[name],
                                inst.answers, cserver.proc.pid, pg_db) for name in journeys},
            }  # fmt: skip
            shown = page_items(targets[BALLOT])
            carried = carried_count(targets[BALLOT])
            checks.append(check("candor: the survey page asks the round's items (q_<key>)",
                                sorted(inst.answers), shown))  # fmt: skip
            warm = {name: codes[name][:WARMUP_JOURNEYS] for name in journeys}
            warm[BASELINE] = [secrets.token_urlsafe(24) for _ in range(WARMUP_JOURNEYS)]
            for name in journeys:
                codes[name] = codes[name][WARMUP_JOURNEYS:]
            for name, target in targets.items():
                res = drive(target, warm[name], min(args.clients), args.timeout)
                probes.statuses.update(res.rec.statuses)
                log(f"{backend}: warm-up {name}: {res.completed}/{len(warm[name])} completed")
                if res.completed == 0:
                    raise RuntimeError(f"{name}: no warm-up journey completed: {res.errors}")
            last: dict[str, list[str]] = {}
            for clients in args.clients:
                fake = [secrets.token_urlsafe(24) for _ in range(args.responses)]
                before_b = baseline_count(baseline_db)
                res_b = drive(targets[BASELINE], fake, clients, args.timeout)
                log(describe(backend, res_b))
                runs.append(res_b)
                checks.append(
                    check(
                        f"baseline x{clients}: one blob per accepted POST",
                        stored_by(res_b),
                        baseline_count(baseline_db) - before_b,
                    )
                )
                for name in journeys:
                    batch = codes[name][: args.responses]
                    codes[name] = codes[name][args.responses :]
                    rid = inst.rounds[name]
                    before = candor_counts(inst.url, rid)
                    res = drive(targets[name], batch, clients, args.timeout)
                    moved = delta(before, candor_counts(inst.url, rid))
                    log(describe(backend, res))
                    runs.append(res)
                    checks += run_checks(name, clients, res, moved)
                    last[name] = batch
            ballot, rid = targets[BALLOT], inst.rounds[BALLOT]
            before_u = {name: candor_counts(inst.url, inst.rounds[name]) for name in journeys}
            used = probe_used_codes(
                ballot, targets.get(FORM, ballot), last[BALLOT][:USED_CODES],
                last[FORM][:USED_CODES] if FORM in journeys else [], probes,
            )  # fmt: skip
            expected_used = {"checkin 404": USED_CODES}
            if FORM in journeys:
                expected_used["form POST 400"] = USED_CODES
            moved_used = {n: delta(before_u[n], candor_counts(inst.url, inst.rounds[n]))
                          for n in journeys}  # fmt: skip
            checks += [
                check("candor: a used code's second check-in is refused (404); with no JS its "
                      "form POST is refused (400)", expected_used, used),
                check("candor: refused used codes store and consume nothing",
                      dict.fromkeys(journeys, (0, 0)),
                      {n: (m["stored"], m["invitations"]) for n, m in moved_used.items()}),
            ]  # fmt: skip
            replay_codes = codes[BALLOT][:REPLAY_CODES]
            before_r = candor_counts(inst.url, rid)
            seen = probe_replays(ballot, replay_codes, probes)
            moved_r = delta(before_r, candor_counts(inst.url, rid))
            n = len(replay_codes)
            checks += [
                check("candor: a repeated check-in with the same blinded message gets the same "
                      "signature and consumes nothing more",
                      {"check-in": {"200": n}, "repeated": {"200 same signature": n},
                       "invitations consumed": n},
                      {"check-in": dict(seen["check-in"]),
                       "repeated": dict(seen["check-in repeated (same blinded)"]),
                       "invitations consumed": -moved_r["invitations"]}),
                check("candor: an identical replayed ballot is 'already recorded', one with "
                      "other answers is refused (403); one response stored per ballot",
                      {"ballot": {"200 recorded": n}, "identical": {"200 already recorded": n},
                       "other answers": {"403": n}, "stored": n},
                      {"ballot": dict(seen["ballot"]),
                       "identical": dict(seen["identical replay"]),
                       "other answers": dict(seen["replay, other answers"]),
                       "stored": moved_r["stored"]}),
            ]  # fmt: skip
            pair_codes = codes[BALLOT][REPLAY_CODES : REPLAY_CODES + CONCURRENT_CODES]
            before_c = candor_counts(inst.url, rid)
            dbl = probe_concurrent(ballot, pair_codes, probes)
            moved_c = delta(before_c, candor_counts(inst.url, rid))
            k = len(pair_codes)
            checks += [
                check(f"candor: {k} codes each checked in by two clients at once: one signed",
                      f"(200, 404) x{k}, {k} invitations consumed",
                      f"{dbl['checkin_pairs']}, {-moved_c['invitations']} invitations consumed",
                      dbl["checkin_ok"] and -moved_c["invitations"] == k),
                check(f"candor: {k} ballots each posted twice at once: one stored each",
                      f"one '200 recorded' per pair, {k} responses stored",
                      f"{dbl['ballot_pairs']}, {moved_c['stored']} responses stored",
                      dbl["ballot_ok"] and moved_c["stored"] == k),
            ]  # fmt: skip
        all_recs = [r.rec for r in runs] + [probes]
        bad = Counter[str]()
        cookies = Counter[str]()
        for rec in all_recs:
            bad.update(rec.server_errors())
            cookies.update({k: v for k, v in rec.cookies_set.items()
                            if k in ("GET key", "POST checkin", "POST ballot")})  # fmt: skip
        busy = sum(n for rec in all_recs for k, n in rec.statuses.items() if k.endswith(" 503"))
        checks += [
            check("candor: no 5xx reply other than 503 (503s retried after Retry-After: "
                  f"{busy})", {}, dict(bad)),
            check("candor: key, check-in and ballot replies set no cookie", {}, dict(cookies)),
        ]  # fmt: skip
        # Every key rides on the page when the round has few (survey_page.CARRIED_KEYS_MAX):
        # then no journey asked for one; else every journey did.
        keys = candor_counts(inst.url, inst.rounds[BALLOT])["ballot_keys"]
        asked = sum(r.rec.count("GET key") for r in runs if r.app == BALLOT)
        journeys_b = sum(r.completed for r in runs if r.app == BALLOT)
        checks.append(
            check(f"candor: the page carries all {keys} ballot keys or none; key requests per "
                  "journey 0 if it does, else 1", (keys, 0) if carried else (0, journeys_b),
                  (carried, asked), ok=carried in (0, keys)
                  and asked == (0 if carried else journeys_b))
        )  # fmt: skip
        logs = {bserver.name: bserver.log_summary(), cserver.name: cserver.log_summary()}
        checks.append(
            check("candor log: no 'database is locked', traceback or worker timeout/kill", 0,
                  sum(logs["candor"][k] for k in BAD_LOG_FINDINGS))
        )  # fmt: skip
        excerpt = cserver.log_excerpt() if any(logs["candor"].values()) else ""
    return {"runs": runs, "checks": checks, "server_logs": logs, "candor_log_excerpt": excerpt,
            "probe_replies": dict(probes.statuses)}  # fmt: skip


# --------------------------------------------------------------------------- output


def table(rows: list[tuple[str, RunResult]]) -> str:
    """The results, one row per measurement, each Candor row followed by its ratio."""
    cols = (
        ("backend", "<12"), ("app", "<13"), ("clients", ">7"), ("responses", ">10"),
        ("resp/s", ">8"), ("p50 ms", ">8"), ("p99 ms", ">8"), ("errors", ">7"),
        ("srv ms cpu/resp", ">16"), ("cli ms blind", ">13"), ("cores srv/cli/other", ">21"),
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
            f"{r.blind_ms_per_journey:.2f}" if r.rec.blind_cpu_s else "-", cores,
        )  # fmt: skip
        line = "".join(f"{v:{fmt}}" for v, (_, fmt) in zip(values, cols, strict=True))
        lines.append(line + ("  TIMED OUT" if r.timed_out else ""))
        if r.app == "baseline":
            baseline[(backend, r.clients)] = r
        elif (backend, r.clients) in baseline and baseline[(backend, r.clients)].per_s:
            base = baseline[(backend, r.clients)]
            lines.append(
                f"{'':<12}ratio {r.app}/baseline: throughput {r.per_s / base.per_s:.2f}, "
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
        "--timeout", type=float, default=240.0, help="wall-clock limit per measurement (s)"
    )
    parser.add_argument(
        "--no-form",
        dest="form",
        action="store_false",
        help="skip the no-JavaScript form journey (candor-form rows)",
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("CANDOR_BENCH_PG_URL", DEFAULT_PG_URL),
        help="loopback PostgreSQL database to wipe and use (its name must contain 'bench')",
    )
    args = parser.parse_args(argv)
    args.clients = [int(c) for c in str(args.clients).split(",") if c.strip()]
    if not args.clients or min(args.clients) < 1 or args.responses < USED_CODES or args.workers < 1:
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
        "gunicorn": f"--workers {args.workers} (sync), 127.0.0.1, the checkout's gunicorn.conf.py "
        "(access log on, redacted on survey routes)",
        "responses_per_measurement": args.responses,
        "clients": args.clients,
        "warmup_journeys_per_app": WARMUP_JOURNEYS,
        "journeys": {
            BALLOT: "GET /s/<round>; GET its ballot key; blind (client); POST checkin "
            "{code, blinded}; unblind + verify (client); POST ballot without cookies; its reply "
            "names the thanks page, shown by the script without a request",
            FORM: "GET /s/<round>; POST the form (token = code, CSRF token and cookie from "
            "the GET); follow the 303; thanks page 200",
        },
        "busy_replies": f"a 503 is sent again after its Retry-After (capped at "
        f"{RETRY_AFTER_CAP_S:.0f} s), up to {BUSY_RETRIES} times, inside the journey's latency",
        "baseline": "Flask: a GET (no DB, no CSRF); POST = AES-GCM over the answers padded "
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
        "(candor: page, check-in, ballot, and a key request if the page carries no keys; "
        "candor-form and baseline: page, POST, thanks);\nsrv ms cpu/resp = CPU of gunicorn "
        "(+ its PostgreSQL backends) per completed journey;\ncli ms blind = client CPU per "
        "journey for building the key, blinding, unblinding and verifying (not in the "
        "server's figure);\ncores = CPU cores busy on average with the server, this client, "
        "and other processes."
    )
    print(table(rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
