"""SQLite persistence of NPC states (WAL mode), schema-versioned with ``PRAGMA user_version``.

One row per NPC: ``npc_state(npc_id TEXT PRIMARY KEY, revision INTEGER, state BLOB)``, where
``state`` is the same versioned blob that :meth:`EmotionStateEngine.export_state` returns, so a
restart reads back exactly what was written. Every :meth:`StateStore.put` is its own committed
transaction. In WAL mode a committed transaction survives a crash of the process (``kill -9``):
the WAL frames are in the operating system's page cache. ``synchronous=NORMAL`` (the engine's
default) therefore survives ``kill -9``; ``FULL`` also fsyncs the WAL at each commit, so it survives
a power loss too, at ~3 ms per update on this machine's disk.

One engine per database file: the engine keeps an in-memory cache of the rows it owns. The
connection is shared between threads behind a lock (SQLite serialises writers anyway).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from ..errors import FailedPrecondition

__all__ = ["STORE_SCHEMA_VERSION", "SYNCHRONOUS_MODES", "StateStore"]

STORE_SCHEMA_VERSION = 1
SYNCHRONOUS_MODES: tuple[str, ...] = ("OFF", "NORMAL", "FULL", "EXTRA")


class StateStore:
    """Thread-safe key-value store of state blobs in one SQLite file (``":memory:"`` for tests)."""

    def __init__(self, path: str | Path, *, synchronous: str = "NORMAL", busy_timeout_ms: int = 5000) -> None:
        if synchronous not in SYNCHRONOUS_MODES:
            raise ValueError(f"synchronous must be one of {SYNCHRONOUS_MODES}, got {synchronous!r}")
        self._path = str(path)
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if self._path != ":memory:" and str(mode).lower() != "wal":
                raise FailedPrecondition(f"{self._path}: cannot switch SQLite to WAL mode (got {mode!r})")
            self._conn.execute(f"PRAGMA synchronous = {synchronous}")
            self._migrate()
        except BaseException:
            self._conn.close()
            raise

    def _migrate(self) -> None:
        version = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
        if version > STORE_SCHEMA_VERSION:
            raise FailedPrecondition(
                f"{self._path}: emotion-state database schema {version} is newer than this sidecar "
                f"supports ({STORE_SCHEMA_VERSION}); upgrade Mien or use another db_path",
                field="db_path",
            )
        if version == 0:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(
                    "CREATE TABLE IF NOT EXISTS npc_state ("
                    " npc_id TEXT PRIMARY KEY,"
                    " revision INTEGER NOT NULL,"
                    " state BLOB NOT NULL"
                    ") WITHOUT ROWID"
                )
                self._conn.execute(f"PRAGMA user_version = {STORE_SCHEMA_VERSION}")
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    @property
    def path(self) -> str:
        """The database file (or ``":memory:"``)."""
        return self._path

    def get(self, npc_id: str) -> bytes | None:
        """The stored blob of ``npc_id``, or None."""
        with self._lock:
            row = self._conn.execute("SELECT state FROM npc_state WHERE npc_id = ?", (npc_id,)).fetchone()
        return None if row is None else bytes(row[0])

    def put(self, npc_id: str, revision: int, blob: bytes) -> None:
        """Insert or replace the blob of ``npc_id`` in its own committed transaction."""
        with self._lock:
            self._conn.execute(
                "INSERT INTO npc_state (npc_id, revision, state) VALUES (?, ?, ?) "
                "ON CONFLICT(npc_id) DO UPDATE SET revision = excluded.revision, state = excluded.state",
                (npc_id, revision, blob),
            )

    def delete(self, npc_id: str) -> bool:
        """Remove ``npc_id``; True if it existed."""
        with self._lock:
            cur = self._conn.execute("DELETE FROM npc_state WHERE npc_id = ?", (npc_id,))
        return cur.rowcount > 0

    def npc_ids(self) -> list[str]:
        """Every stored NPC id, sorted."""
        with self._lock:
            rows = self._conn.execute("SELECT npc_id FROM npc_state ORDER BY npc_id").fetchall()
        return [str(r[0]) for r in rows]

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._conn.close()
