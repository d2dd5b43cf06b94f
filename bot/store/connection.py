"""The one connection to the database: opening it (private files, WAL, busy timeout, foreign
keys), migrating it, running each write alone (and again while another program holds the lock),
and looking at a database without opening it for use (doctor)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import sqlite3
import stat
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, Self, TypeVar

import aiosqlite

from bot.errors import StoreUnavailable
from bot.records import DatabaseState
from bot.store.schema import MIGRATIONS

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
# Another program (a backup, the sqlite3 shell) may hold the write lock for longer than the busy
# timeout: a write is then tried again, from the start, for this long before it fails.
WRITE_PATIENCE_S = 120.0
WRITE_RETRY_PAUSE_S = 0.25


def _is_locked(err: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY after the busy timeout: another connection holds the write lock."""
    return getattr(err, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _make_private(path: Path) -> None:
    """The database's folders (those made for it) 0700 and its files 0600, whatever the umask:
    they hold what people wrote. SQLite gives the -wal and -shm files it makes the mode of the
    database file, so that file is made here, before SQLite would make it 0644."""
    missing = [folder for folder in (path.parent, *path.parent.parents) if not folder.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    for folder in missing:
        folder.chmod(0o700)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    # Files an earlier version left readable to others are closed to them too; a file of
    # another user is left as it is (its owner decides, and the bot could not change it).
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            facts = file.stat()
        except FileNotFoundError:
            continue
        if facts.st_uid == os.geteuid() and facts.st_mode & 0o077:
            file.chmod(stat.S_IMODE(facts.st_mode) & 0o700)


class Connection:
    """Owns the one connection to the database file; `connect` before use, `close` after.
    The queries (bot.store's other modules) build on it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._connection: aiosqlite.Connection | None = None
        # One connection means one transaction: a write's statements and its commit must not
        # interleave with another write's (whose commit would carry them half done).
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path) -> Self:
        """A connected, migrated store for the database at `path`."""
        store = cls(path)
        await store.connect()
        return store

    @property
    def _db(self) -> aiosqlite.Connection:
        if self._connection is None:
            raise RuntimeError("Store used before connect()")
        return self._connection

    async def connect(self) -> None:
        """Open (creating folders and file as needed) and migrate the database."""
        if self._connection is not None:
            return
        try:
            if str(self.path) != ":memory:":
                _make_private(self.path)
            connection = await aiosqlite.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000)
        except (OSError, sqlite3.Error) as err:
            raise StoreUnavailable(str(self.path), str(err)) from err
        try:
            await connection.execute("PRAGMA journal_mode=WAL")
            await connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            await connection.execute("PRAGMA foreign_keys=ON")
            await connection.execute("PRAGMA synchronous=NORMAL")
            # Deleted rows (/forget, retention) are overwritten, not left in free pages.
            await connection.execute("PRAGMA secure_delete=ON")
            self._connection = connection
            await self._migrate()
        except BaseException as err:
            self._connection = None
            await connection.close()
            if isinstance(err, sqlite3.Error):
                raise StoreUnavailable(str(self.path), str(err)) from err
            raise

    async def close(self) -> None:
        """Close the connection; the WAL is checkpointed by SQLite."""
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _migrate(self) -> None:
        await self._db.execute(
            "CREATE TABLE IF NOT EXISTS schema_version"
            " (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)"
        )
        async with self._db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version") as cur:
            row = await cur.fetchone()
        current = int(row[0]) if row else 0
        for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
            # executescript commits first; BEGIN makes each migration all-or-nothing.
            await self._db.executescript(
                f"BEGIN;\n{script}\n"
                "INSERT INTO schema_version (version, applied_at)"
                f" VALUES ({version}, {time.time()});"
                "\nCOMMIT;"
            )

    async def _drop_unused_images(self) -> None:
        """Delete the images no stored message refers to any more (the caller commits)."""
        await self._db.execute(
            "DELETE FROM images WHERE NOT EXISTS"
            " (SELECT 1 FROM message_images mi WHERE mi.sha256 = images.sha256)"
        )

    async def schema_version(self) -> int:
        """The highest migration applied."""
        async with self._db.execute("SELECT MAX(version) FROM schema_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def size_bytes(self) -> int:
        """The database's size on disk, write-ahead log included."""
        files = (self.path, self.path.with_name(self.path.name + "-wal"))
        return sum(f.stat().st_size for f in files if f.exists())


C = TypeVar("C", bound=Connection)
P = ParamSpec("P")
R = TypeVar("R")


def writes(
    method: Callable[Concatenate[C, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[C, P], Coroutine[Any, Any, R]]:
    """A write method: it runs alone, from its first statement to its commit, and again from
    the start while another program holds the database locked (up to WRITE_PATIENCE_S)."""

    @functools.wraps(method)
    async def alone(store: C, /, *args: P.args, **kwargs: P.kwargs) -> R:
        async with store._write_lock:
            give_up_at = time.monotonic() + WRITE_PATIENCE_S
            while True:
                try:
                    return await method(store, *args, **kwargs)
                except sqlite3.OperationalError as err:
                    if not _is_locked(err) or time.monotonic() >= give_up_at:
                        raise
                    await store._db.rollback()
                    log.warning("the database is locked by another program; waiting")
                    await asyncio.sleep(WRITE_RETRY_PAUSE_S)

    return alone


def _not_there(path: Path) -> DatabaseState | None:
    """None when the file exists; else whether it could be created."""
    if path.exists():
        return None
    folder = next((p for p in path.parents if p.is_dir()), Path("/"))
    writable = os.access(folder, os.W_OK)
    return DatabaseState(False, error=None if writable else f"{folder} is not writable")


async def inspect_database(path: Path) -> DatabaseState:
    """Is the database there, writable, and at which schema version? Creates nothing."""
    if (missing := await asyncio.to_thread(_not_there, path)) is not None:
        return missing
    try:
        async with aiosqlite.connect(f"file:{path}?mode=rw", uri=True) as db:
            await db.execute("BEGIN IMMEDIATE")
            await db.rollback()
            async with db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version") as cur:
                row = await cur.fetchone()
    except sqlite3.Error as err:
        return DatabaseState(True, error=str(err))
    return DatabaseState(True, version=int(row[0]) if row else 0)
