"""The database on disk holds what people wrote: only the bot's own user may read it, whatever
the umask of the shell or service that started the bot."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.records import UserProfile
from bot.store import Store


@contextmanager
def umask(mask: int) -> Iterator[None]:
    """The process's umask set to `mask` inside the block (it is per process: the store's
    worker thread sees it too)."""
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def companions(db_path: Path) -> list[Path]:
    """The database file and the two SQLite makes next to it in WAL mode."""
    return [db_path, *(db_path.with_name(db_path.name + suffix) for suffix in ("-wal", "-shm"))]


async def modes_while_open(db_path: Path) -> dict[str, int]:
    """Open the store, write a message (so the -wal and -shm files exist) and read the modes
    of the three files before closing."""
    store = await Store.open(db_path)
    try:
        await store.remember_user(UserProfile(id=5, first_name="Ann", language_code="en"))
        conversation = await store.current_conversation(5, 5)
        await store.add_message(conversation, "user", "something private")
        files = companions(db_path)
        assert all(f.exists() for f in files), "WAL mode makes -wal and -shm while open"
        return {f.name: mode(f) for f in files}
    finally:
        await store.close()


@pytest.mark.parametrize("mask", [0o000, 0o022], ids=["umask-000", "umask-022"])
async def test_new_database_folders_and_files_are_the_owners_alone(
    tmp_path: Path, mask: int
) -> None:
    db_path = tmp_path / "state" / "ollagram" / "ollagram.sqlite3"
    with umask(mask):
        modes = await modes_while_open(db_path)
    assert modes == {f.name: 0o600 for f in companions(db_path)}
    assert mode(db_path.parent) == 0o700
    assert mode(db_path.parent.parent) == 0o700, "every folder the bot made for it"


async def test_a_database_left_readable_by_an_earlier_version_is_tightened(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "data"
    db_path = folder / "ollagram.sqlite3"
    with umask(0o022):
        folder.mkdir()
        with sqlite3.connect(db_path) as db:
            db.execute("CREATE TABLE early (x)")
        assert mode(db_path) == 0o644
        modes = await modes_while_open(db_path)
    assert modes == {f.name: 0o600 for f in companions(db_path)}
    assert mode(folder) == 0o755, "a folder the owner made is theirs to set"
