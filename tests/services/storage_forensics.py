"""Reading storage as an attacker holding a copy of it would: raw SQLite pages and WAL frames,
PostgreSQL heap pages (``pageinspect``) and relation files, and the pairing attacks on them.

Nothing here goes through SQL for what it reports about order or leftovers: SQLite files are
parsed by hand (file format: https://www.sqlite.org/fileformat2.html), PostgreSQL pages are
read with ``get_raw_page``/``heap_page_items`` and its files byte by byte.
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text

WAL_HEADER, FRAME_HEADER = 32, 24
WAL_MAGICS = (0x377F0682, 0x377F0683)
# b-tree page types: interior/leaf of index b-trees (also WITHOUT ROWID tables) and tables.
INDEX_INTERIOR, TABLE_INTERIOR, INDEX_LEAF, TABLE_LEAF = 2, 5, 10, 13


# --- SQLite -------------------------------------------------------------------------------


def varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Return (value, position after it) of the SQLite varint at ``pos``."""
    value = 0
    for i in range(9):
        byte = buf[pos + i]
        if i == 8:
            return (value << 8) | byte, pos + 9
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, pos + i + 1
    raise AssertionError("unreachable")


def parse_record(payload: bytes) -> list[Any]:
    """Return the column values of an SQLite record (header of serial types, then the body)."""
    header_size, pos = varint(payload, 0)
    types = []
    while pos < header_size:
        serial, pos = varint(payload, pos)
        types.append(serial)
    values: list[Any] = []
    body = header_size
    sizes = {1: 1, 2: 2, 3: 3, 4: 4, 5: 6, 6: 8, 7: 8}
    for serial in types:
        if serial in (0, 8, 9):
            values.append(None if serial == 0 else serial - 8)
        elif serial in sizes:
            n = sizes[serial]
            values.append(int.from_bytes(payload[body : body + n], "big", signed=True))
            body += n
        else:
            n = (serial - 12) // 2 if serial % 2 == 0 else (serial - 13) // 2
            raw = payload[body : body + n]
            values.append(bytes(raw) if serial % 2 == 0 else raw.decode(errors="replace"))
            body += n
    return values


@dataclass(frozen=True)
class Cell:
    """One b-tree cell as it lies in the file: its page, its content offset, its record."""

    page: int
    offset: int  # where the cell's content starts in the page (cells are carved top-down)
    values: tuple[Any, ...]


class SqliteImage:
    """A database file, with the committed frames of its WAL applied (as SQLite reads it)."""

    def __init__(self, main: bytes, wal: bytes = b"") -> None:
        assert main[:16] == b"SQLite format 3\x00", "not an SQLite database"
        size = struct.unpack(">H", main[16:18])[0]
        self.page_size = 65536 if size == 1 else size
        self.usable = self.page_size - main[20]
        self.pages = {
            n + 1: main[n * self.page_size : (n + 1) * self.page_size]
            for n in range(len(main) // self.page_size)
        }
        self.frames = wal_frames(wal)
        pending: dict[int, bytes] = {}
        for frame in self.frames:
            if not frame.current:
                continue
            pending[frame.page] = frame.data
            if frame.commit_size:  # a commit frame: everything since the last one is in
                self.pages.update(pending)
                pending = {}

    def roots(self) -> dict[str, int]:
        """Return table/index name -> root page, read from ``sqlite_schema`` (page 1)."""
        return {
            cell.values[1]: cell.values[3]
            for cell in self.cells(1)
            if cell.values[0] in ("table", "index") and cell.values[3]
        }

    def cells(self, root: int) -> Iterator[Cell]:
        """Yield every cell of the b-tree at ``root``, interior cells included, page by page."""
        page_no = root
        data = self.pages[page_no]
        base = 100 if page_no == 1 else 0
        kind = data[base]
        count = struct.unpack(">H", data[base + 3 : base + 5])[0]
        interior = kind in (INDEX_INTERIOR, TABLE_INTERIOR)
        pointers = base + (12 if interior else 8)
        children = []
        for i in range(count):
            offset = struct.unpack(">H", data[pointers + 2 * i : pointers + 2 * i + 2])[0]
            pos = offset
            if interior:
                children.append(struct.unpack(">I", data[pos : pos + 4])[0])
                pos += 4
            if kind == TABLE_INTERIOR:
                continue  # holds only a rowid
            size, pos = varint(data, pos)
            if kind == TABLE_LEAF:
                _rowid, pos = varint(data, pos)
            yield Cell(page_no, offset, tuple(parse_record(self._payload(kind, data, pos, size))))
        if interior:
            children.append(struct.unpack(">I", data[base + 8 : base + 12])[0])
            for child in children:
                yield from self.cells(child)

    def _payload(self, kind: int, data: bytes, pos: int, size: int) -> bytes:
        u = self.usable
        most = u - 35 if kind == TABLE_LEAF else (u - 12) * 64 // 255 - 23
        if size <= most:
            return data[pos : pos + size]
        least = (u - 12) * 32 // 255 - 23
        local = least + (size - least) % (u - 4)
        local = local if local <= most else least
        out = bytearray(data[pos : pos + local])
        overflow = struct.unpack(">I", data[pos + local : pos + local + 4])[0]
        while overflow and len(out) < size:
            page = self.pages[overflow]
            overflow = struct.unpack(">I", page[:4])[0]
            out += page[4 : min(u, 4 + size - len(out))]
        return bytes(out)


@dataclass(frozen=True)
class Frame:
    index: int
    page: int
    commit_size: int
    current: bool  # salts match the WAL header: a frame SQLite would replay
    data: bytes


def wal_frames(wal: bytes) -> list[Frame]:
    """Return every frame of a WAL file, stale ones too (an attacker reads them all)."""
    if len(wal) < WAL_HEADER:
        return []
    magic, _version, page_size, _seq, salt1, salt2 = struct.unpack(">6I", wal[:24])
    assert magic in WAL_MAGICS, "not an SQLite WAL"
    frames = []
    pos, index = WAL_HEADER, 0
    while pos + FRAME_HEADER + page_size <= len(wal):
        page, commit, s1, s2 = struct.unpack(">4I", wal[pos : pos + 16])
        data = wal[pos + FRAME_HEADER : pos + FRAME_HEADER + page_size]
        frames.append(Frame(index, page, commit, (s1, s2) == (salt1, salt2), data))
        pos += FRAME_HEADER + page_size
        index += 1
    return frames


def copy_sqlite(path: str) -> tuple[bytes, bytes]:
    """Return the bytes of a live database file and its WAL, as ``cp`` of both would."""
    main = Path(path).read_bytes()
    wal_path = Path(path + "-wal")
    return main, wal_path.read_bytes() if wal_path.exists() else b""


# --- PostgreSQL ---------------------------------------------------------------------------

PAGE_SIZE = 8192
LP_NORMAL, LP_DEAD = 1, 3
# t_infomask bits (src/include/access/htup_details.h)
XMAX_KEYSHR_LOCK, XMAX_EXCL_LOCK, XMAX_LOCK_ONLY = 0x0010, 0x0040, 0x0080
XMAX_INVALID, XMAX_IS_MULTI = 0x0800, 0x1000


@dataclass(frozen=True)
class HeapTuple:
    page: int
    lp: int
    flags: int
    xmin: int | None
    xmax: int | None
    infomask: int
    data: bytes

    @property
    def deleted(self) -> bool:
        """Whether this version was deleted or updated (not merely locked, e.g. by a foreign
        key check of an insert elsewhere, which sets xmax too)."""
        mask = self.infomask
        locked_only = bool(mask & XMAX_LOCK_ONLY) or (
            mask & (XMAX_IS_MULTI | XMAX_EXCL_LOCK | XMAX_KEYSHR_LOCK) == XMAX_EXCL_LOCK
        )
        return bool(self.xmax) and not mask & XMAX_INVALID and not locked_only


def heap_tuples(conn: Connection, table: str) -> list[HeapTuple]:
    """Return every line pointer of every page of ``table`` (pageinspect), in physical order."""
    pages = conn.execute(text(f"SELECT pg_relation_size('{table}') / {PAGE_SIZE}")).scalar_one()
    rows = []
    for n in range(int(pages)):
        rows += [
            HeapTuple(
                n, r.lp, r.lp_flags, r.t_xmin, r.t_xmax, r.t_infomask or 0, bytes(r.t_data or b"")
            )
            for r in conn.execute(
                text(
                    "SELECT lp, lp_flags, t_xmin::text::bigint AS t_xmin,"
                    " t_xmax::text::bigint AS t_xmax, t_infomask, t_data"
                    " FROM forensics.heap_page_items(forensics.get_raw_page(:t, :n))"
                ),
                {"t": table, "n": n},
            )
        ]
    return rows


def leftover_tuples(tuples: Sequence[HeapTuple]) -> list[HeapTuple]:
    """Return line pointers that keep or mark an old row version: dead, or deleted (xmax)."""
    return [t for t in tuples if t.flags == LP_DEAD or (t.flags == LP_NORMAL and t.deleted)]


def relation_files(conn: Connection, table: str) -> list[str]:
    """Return the on-disk files (relative to the data directory) of a table, its TOAST table
    and every index of both, all segments."""
    oids = conn.execute(
        text(
            "SELECT c.oid FROM pg_class c WHERE c.oid = CAST(:t AS regclass)"
            " OR c.oid = (SELECT reltoastrelid FROM pg_class WHERE oid = CAST(:t AS regclass))"
            " OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid IN ("
            "   CAST(:t AS regclass),"
            "   (SELECT reltoastrelid FROM pg_class WHERE oid = CAST(:t AS regclass))))"
        ),
        {"t": table},
    ).scalars()
    paths = []
    for oid in oids:
        path = conn.execute(text("SELECT pg_relation_filepath(:o)"), {"o": oid}).scalar_one()
        if path:
            paths.append(path)
    return paths


def read_relation(data_dir: str, path: str) -> bytes:
    """Return the main fork of a relation file, every 1 GB segment (read from disk)."""
    out = bytearray(Path(data_dir, path).read_bytes())  # raises if it is not here
    segment, name = 1, os.path.join(data_dir, f"{path}.1")
    while os.path.exists(name):
        out += Path(name).read_bytes()
        segment += 1
        name = os.path.join(data_dir, f"{path}.{segment}")
    return bytes(out)


def database_files(conn: Connection, only: list[str] | None = None) -> dict[str, bytes]:
    """Return the files (default: all) of this database's directory, as a base backup copies
    them: read from disk, else through the server (a superuser may read server files)."""
    data_dir = conn.execute(text("SHOW data_directory")).scalar_one()
    oid = conn.execute(
        text("SELECT oid FROM pg_database WHERE datname = current_database()")
    ).scalar_one()
    folder = Path(data_dir) / "base" / str(oid)
    try:
        names = only or [f"base/{oid}/{p.name}" for p in folder.iterdir() if p.is_file()]
        return {name: read_relation(data_dir, name) for name in sorted(names)}
    except OSError as exc:  # the files live on another host, or belong to another user
        reason = f"PostgreSQL data directory {folder} is not readable here: {exc}"
    try:
        listed = conn.execute(text(f"SELECT pg_ls_dir('base/{oid}')")).scalars().all()
        names = only or [f"base/{oid}/{n}" for n in listed if n[0].isdigit()]
        read = text("SELECT pg_read_binary_file(:p)")
        return {n: bytes(conn.execute(read, {"p": n}).scalar_one()) for n in sorted(names)}
    except Exception as exc:  # noqa: BLE001 - any failure means the capability is missing
        require(f"{reason}; nor through pg_read_binary_file: {exc}")
        raise


def settle(engine: Engine, xid: int | None, wait: float = 60.0) -> None:
    """Wait until no transaction anywhere in the PostgreSQL cluster that began before ``xid``
    is still open: VACUUM FULL keeps row versions such a transaction might see (see
    tests/services/test_storage_history.py). The server may be shared with other test runs."""
    if xid is None:
        return
    deadline = time.monotonic() + wait
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            older = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
                    " AND least(backend_xid::text::bigint, backend_xmin::text::bigint) < :x"
                ),
                {"x": xid % 2**32},
            ).scalar_one()
            conn.rollback()
            if not older:
                return
            time.sleep(0.05)
    pytest.fail(f"a transaction older than {xid} stayed open for {wait} s")


def require(reason: str) -> None:
    if os.environ.get("CANDOR_REQUIRE_ALL_TESTS"):
        pytest.fail(f"{reason} (CANDOR_REQUIRE_ALL_TESTS is set)")
    pytest.skip(reason)


# --- The attack ---------------------------------------------------------------------------


def exact_pairs(arrival: Sequence[str], stored: Sequence[str]) -> int:
    """Pair the k-th arrival with the k-th stored item, forwards and backwards; return the
    better count of right pairs (a random order gives about one)."""
    forwards = sum(a == s for a, s in zip(arrival, stored, strict=True))
    backwards = sum(a == s for a, s in zip(arrival, reversed(stored), strict=True))
    return max(forwards, backwards)


def nearest_pairs(checkins: dict[str, int], stamps: dict[str, int]) -> float:
    """Pair stored items with the check-ins whose transaction ids are the nearest before their
    own (``stamps``: item owner -> xmin); return how many pairs are right. Items sharing one
    stamp cannot be told apart: a group of n sharing a stamp is given the n nearest check-ins
    and scores the share a random assignment within it would get right (at most 1)."""
    order = sorted(checkins, key=checkins.__getitem__)
    groups: dict[int, set[str]] = {}
    for owner, stamp in stamps.items():
        groups.setdefault(stamp, set()).add(owner)
    right, claimed = 0.0, set()
    for stamp in sorted(groups):
        before = [who for who in order if checkins[who] < stamp and who not in claimed]
        guesses = set(before[-len(groups[stamp]) :]) if before else set()
        claimed |= guesses
        right += len(guesses & groups[stamp]) / len(groups[stamp])
    return right
