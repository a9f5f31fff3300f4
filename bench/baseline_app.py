"""The baseline for ``bench/submit.py``: the least a survey app could do per answer.

GET ``/b/<token>`` returns a small HTML form with a hidden field (no CSRF, no database);
POST ``/b/<token>`` pads the answers to the same 512-byte bucket Candor uses, encrypts them
with AES-GCM (a random key per worker process, a random nonce per blob), inserts the blob into
an SQLite table (WAL, busy_timeout) and redirects 303 to ``/b/done``.

Served by gunicorn exactly like Candor: ``gunicorn bench.baseline_app:app``. The SQLite file
is named by the environment variable ``BENCH_BASELINE_DB`` (the benchmark creates it).
"""

from __future__ import annotations

import html
import json
import os
import sqlite3
import threading

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Flask, abort, redirect, request
from werkzeug.wrappers import Response

PAD_BUCKET = 512  # Candor's smallest padding bucket, which a full set of answers fits
BUSY_TIMEOUT_MS = 30_000
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS blobs (id BLOB PRIMARY KEY, sealed BLOB NOT NULL) WITHOUT ROWID"
)

app = Flask(__name__)
_KEY = AESGCM.generate_key(bit_length=128)  # per process: gunicorn imports this in each worker
_local = threading.local()


def _db() -> sqlite3.Connection:
    """Return this thread's connection, opened after the worker forked."""
    conn: sqlite3.Connection | None = getattr(_local, "conn", None)
    if conn is None:
        conn = sqlite3.connect(os.environ["BENCH_BASELINE_DB"], isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute(SCHEMA)
        _local.conn = conn
    return conn


def seal(plaintext: bytes) -> bytes:
    """Pad to the bucket and encrypt; return nonce + ciphertext + tag."""
    body = len(plaintext).to_bytes(4, "big") + plaintext
    if len(body) > PAD_BUCKET:
        abort(413)
    nonce = os.urandom(12)
    return nonce + AESGCM(_KEY).encrypt(nonce, body + bytes(PAD_BUCKET - len(body)), b"baseline")


@app.get("/b/<token>")
def show(token: str) -> str:
    safe = html.escape(token)
    return (
        "<!doctype html><title>Survey</title>"
        f'<form method="post" action="/b/{safe}">'
        f'<input type="hidden" name="token" value="{safe}">'
        '<textarea name="comment"></textarea><button>Send</button></form>'
    )


@app.post("/b/<token>")
def answer(token: str) -> Response:
    answers = {k[2:]: int(v) for k, v in request.form.items() if k.startswith("q_")}
    payload = json.dumps({"v": 1, "answers": answers}, separators=(",", ":")).encode()
    _db().execute("INSERT INTO blobs (id, sealed) VALUES (?, ?)", (os.urandom(16), seal(payload)))
    return redirect("/b/done", code=303)


@app.get("/b/done")
def done() -> str:
    return "<!doctype html><title>Thanks</title><h1>Thank you</h1>"
