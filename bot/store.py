"""Store: the SQLite database of users, settings, conversations and messages.

The only module that imports `aiosqlite` and the only one that knows SQL. One connection,
WAL journal, a busy timeout, foreign keys on, numbered migrations applied at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import sqlite3
import stat
import time
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, Self, TypeVar

import aiosqlite

from bot.errors import StoreUnavailable
from bot.records import (
    AnswerFigures,
    AnswerStatus,
    DatabaseState,
    ExportedMessage,
    MessageRole,
    SettingName,
    SettingValue,
    StoredImage,
    StoredMessage,
    StoredRole,
    Usage,
    UserProfile,
    UserSettings,
)

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
# Another program (a backup, the sqlite3 shell) may hold the write lock for longer than the busy
# timeout: a write is then tried again, from the start, for this long before it fails.
WRITE_PATIENCE_S = 120.0
WRITE_RETRY_PAUSE_S = 0.25

# Each entry upgrades the schema by one version; never edit an applied one, append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE users (
        id            INTEGER PRIMARY KEY,
        first_name    TEXT NOT NULL DEFAULT '',
        username      TEXT,
        language_code TEXT,
        first_seen    REAL NOT NULL,
        last_seen     REAL NOT NULL
    );
    CREATE TABLE user_settings (
        user_id     INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
        model       TEXT,
        role        TEXT,
        temperature REAL,
        num_ctx     INTEGER,
        think       INTEGER,
        footer      INTEGER
    );
    CREATE TABLE conversations (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        chat_id    INTEGER NOT NULL,
        user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        started_at REAL NOT NULL
    );
    CREATE INDEX conversations_by_thread ON conversations(chat_id, user_id, id);
    CREATE TABLE messages (
        id                   INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id      INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        role                 TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
        content              TEXT NOT NULL,
        model                TEXT,
        status               TEXT NOT NULL DEFAULT 'complete'
                             CHECK (status IN ('complete', 'stopped', 'error')),
        prompt_tokens        INTEGER,
        completion_tokens    INTEGER,
        total_duration_ns    INTEGER,
        eval_duration_ns     INTEGER,
        created_at           REAL NOT NULL
    );
    CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
    """,
    # 2: answers are written while they stream, so a crash leaves them `interrupted`.
    """
    CREATE TABLE messages_v2 (
        id                   INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id      INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        role                 TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
        content              TEXT NOT NULL,
        model                TEXT,
        status               TEXT NOT NULL DEFAULT 'complete'
                             CHECK (status IN ('complete', 'stopped', 'error', 'interrupted')),
        prompt_tokens        INTEGER,
        completion_tokens    INTEGER,
        total_duration_ns    INTEGER,
        eval_duration_ns     INTEGER,
        created_at           REAL NOT NULL
    );
    INSERT INTO messages_v2 SELECT * FROM messages;
    DROP TABLE messages;
    ALTER TABLE messages_v2 RENAME TO messages;
    CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
    """,
    # 3: custom roles (shared when owner_id is NULL, else private) and each user's /compare set.
    """
    ALTER TABLE user_settings ADD COLUMN compare_models TEXT;
    CREATE TABLE roles (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        name       TEXT NOT NULL,
        prompt     TEXT NOT NULL,
        owner_id   INTEGER REFERENCES users(id) ON DELETE CASCADE,
        created_by INTEGER NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE UNIQUE INDEX roles_by_owner_and_name ON roles(COALESCE(owner_id, 0), name);
    """,
    # 4: images sent with a message, each stored once (by the sha256 of the prepared JPEG).
    """
    CREATE TABLE images (
        sha256     TEXT PRIMARY KEY,
        data       BLOB NOT NULL,
        width      INTEGER NOT NULL,
        height     INTEGER NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE message_images (
        message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        position   INTEGER NOT NULL,
        sha256     TEXT NOT NULL REFERENCES images(sha256),
        PRIMARY KEY (message_id, position)
    );
    CREATE INDEX message_images_by_image ON message_images(sha256);
    """,
    # 5: who asked (a shared group thread holds many users' messages; /forget, /stats and
    # /export go by it), each chat's thread mode, each user's language.
    """
    ALTER TABLE messages ADD COLUMN author_id INTEGER REFERENCES users(id) ON DELETE CASCADE;
    UPDATE messages SET author_id =
        (SELECT user_id FROM conversations c WHERE c.id = messages.conversation_id);
    CREATE INDEX messages_by_author ON messages(author_id);
    CREATE INDEX messages_by_time ON messages(created_at);
    ALTER TABLE user_settings ADD COLUMN language TEXT;
    CREATE TABLE chat_settings (
        chat_id INTEGER PRIMARY KEY,
        shared  INTEGER NOT NULL DEFAULT 0
    );
    """,
    # 6: where the context sent to the model starts (the id of the oldest message still sent),
    # so the prompt's front stays put between requests and the model server reuses its cache.
    """
    ALTER TABLE conversations ADD COLUMN context_from INTEGER;
    """,
)








def _is_locked(err: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY after the busy timeout: another connection holds the write lock."""
    return getattr(err, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


P = ParamSpec("P")
R = TypeVar("R")


def _writes(
    method: Callable[Concatenate[Store, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[Store, P], Coroutine[Any, Any, R]]:
    """A write method: it runs alone, from its first statement to its commit, and again from
    the start while another program holds the database locked (up to WRITE_PATIENCE_S)."""

    @functools.wraps(method)
    async def alone(store: Store, /, *args: P.args, **kwargs: P.kwargs) -> R:
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


class Store:
    """Owns the one connection to the database file; `connect` before use, `close` after."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._connection: aiosqlite.Connection | None = None
        # One connection means one transaction: a write's statements and its commit must not
        # interleave with another write's (whose commit would carry them half done).
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path) -> Self:
        """A connected, migrated Store for the database at `path`."""
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

    async def schema_version(self) -> int:
        """The highest migration applied."""
        async with self._db.execute("SELECT MAX(version) FROM schema_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    @_writes
    async def remember_user(self, profile: UserProfile) -> None:
        """Insert or refresh a user's profile."""
        now = time.time()
        await self._db.execute(
            "INSERT INTO users (id, first_name, username, language_code, first_seen, last_seen)"
            " VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(id) DO UPDATE SET first_name=excluded.first_name,"
            " username=excluded.username, language_code=excluded.language_code,"
            " last_seen=excluded.last_seen",
            (profile.id, profile.first_name, profile.username, profile.language_code, now, now),
        )
        await self._db.commit()

    async def user_settings(self, user_id: int) -> UserSettings:
        """The user's choices; defaults when they never chose."""
        async with self._db.execute(
            "SELECT model, role, temperature, num_ctx, think, footer, compare_models, language"
            " FROM user_settings WHERE user_id = ?",
            (user_id,),
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return UserSettings()
        return UserSettings(
            model=row[0],
            role=row[1],
            temperature=row[2],
            num_ctx=row[3],
            think=None if row[4] is None else bool(row[4]),
            footer=None if row[5] is None else bool(row[5]),
            compare_models=tuple(row[6].split("\n")) if row[6] else (),
            language=row[7],
        )

    @_writes
    async def set_setting(self, user_id: int, name: SettingName, value: SettingValue) -> None:
        """Change one of the user's settings (None: back to the default). The user must be
        known (remember_user)."""
        # `name` is one of SettingName's literals, never user input: safe to place in the SQL.
        await self._db.execute(
            f"INSERT INTO user_settings (user_id, {name}) VALUES (?, ?)"  # noqa: S608
            f" ON CONFLICT(user_id) DO UPDATE SET {name} = excluded.{name}",
            (user_id, value),
        )
        await self._db.commit()

    async def languages(self) -> dict[int, str]:
        """Every user's /lang choice."""
        async with self._db.execute(
            "SELECT user_id, language FROM user_settings WHERE language IS NOT NULL"
        ) as cur:
            return {int(row[0]): str(row[1]) async for row in cur}

    async def set_model(self, user_id: int, model: str | None) -> None:
        """Remember the user's model (None: back to the default). The user must be known."""
        await self.set_setting(user_id, "model", model)

    async def set_compare_models(self, user_id: int, models: Sequence[str]) -> None:
        """The models /compare asks for this user (empty: the default choice)."""
        await self.set_setting(user_id, "compare_models", "\n".join(models) or None)

    @_writes
    async def reset_generation_settings(self, user_id: int) -> None:
        """Temperature, context size, thinking and footer back to the defaults."""
        await self._db.execute(
            "UPDATE user_settings SET temperature = NULL, num_ctx = NULL, think = NULL,"
            " footer = NULL WHERE user_id = ?",
            (user_id,),
        )
        await self._db.commit()

    async def roles_for(self, user_id: int) -> list[StoredRole]:
        """The shared roles and this user's private ones, oldest first."""
        async with self._db.execute(
            "SELECT name, prompt, owner_id FROM roles"
            " WHERE owner_id IS NULL OR owner_id = ? ORDER BY id",
            (user_id,),
        ) as cur:
            rows = await cur.fetchall()
        return [StoredRole(name=r[0], prompt=r[1], owner_id=r[2]) for r in rows]

    @_writes
    async def add_role(
        self, name: str, prompt: str, owner_id: int | None, *, created_by: int
    ) -> bool:
        """Store a shared (owner_id None) or private role; False if its owner (or the shared
        set) already has one of that name."""
        try:
            await self._db.execute(
                "INSERT INTO roles (name, prompt, owner_id, created_by, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (name, prompt, owner_id, created_by, time.time()),
            )
        except sqlite3.IntegrityError:
            await self._db.rollback()  # release the write lock the failed INSERT took
            return False
        await self._db.commit()
        return True

    @_writes
    async def delete_role(self, name: str, owner_id: int | None) -> bool:
        """Delete a shared (owner_id None) or private role; False if there was none."""
        cursor = await self._db.execute(
            "DELETE FROM roles WHERE name = ? AND owner_id IS ?", (name, owner_id)
        )
        await self._db.commit()
        return cursor.rowcount > 0

    @_writes
    async def forget_model(self, user_id: int, model: str) -> None:
        """Drop the user's choice of `model` (removed from the server) unless it changed since."""
        await self._db.execute(
            "UPDATE user_settings SET model = NULL WHERE user_id = ? AND model = ?",
            (user_id, model),
        )
        await self._db.commit()

    async def users_count(self) -> int:
        """How many users ever wrote to the bot (and were let in)."""
        # Negative ids are groups' shared threads, not people.
        async with self._db.execute("SELECT COUNT(*) FROM users WHERE id > 0") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    def size_bytes(self) -> int:
        """The database's size on disk, write-ahead log included."""
        files = (self.path, self.path.with_name(self.path.name + "-wal"))
        return sum(f.stat().st_size for f in files if f.exists())

    async def current_conversation(self, chat_id: int, user_id: int) -> int:
        """The id of the user's open conversation in this chat, started if there is none."""
        async with self._db.execute(
            "SELECT MAX(id) FROM conversations WHERE chat_id = ? AND user_id = ?",
            (chat_id, user_id),
        ) as cur:
            row = await cur.fetchone()
        if row is not None and row[0] is not None:
            return int(row[0])
        return await self.new_conversation(chat_id, user_id)

    async def context_start(self, conversation_id: int) -> int | None:
        """The id of the oldest message still sent to the model; None: from the start."""
        async with self._db.execute(
            "SELECT context_from FROM conversations WHERE id = ?", (conversation_id,)
        ) as cur:
            row = await cur.fetchone()
        return None if row is None or row[0] is None else int(row[0])

    @_writes
    async def set_context_start(self, conversation_id: int, message_id: int) -> None:
        """Older messages than `message_id` are no longer sent to the model."""
        await self._db.execute(
            "UPDATE conversations SET context_from = ? WHERE id = ?", (message_id, conversation_id)
        )
        await self._db.commit()

    @_writes
    async def new_conversation(self, chat_id: int, user_id: int) -> int:
        """Start a fresh conversation; earlier ones stay stored."""
        cursor = await self._db.execute(
            "INSERT INTO conversations (chat_id, user_id, started_at) VALUES (?, ?, ?)",
            (chat_id, user_id, time.time()),
        )
        await self._db.commit()
        assert cursor.lastrowid is not None  # noqa: S101 - an INSERT always sets it
        return cursor.lastrowid

    @_writes
    async def new_conversations(self, user_id: int) -> None:
        """A fresh conversation in every chat where the user has one."""
        await self._db.execute(
            "INSERT INTO conversations (chat_id, user_id, started_at)"
            " SELECT DISTINCT chat_id, user_id, ? FROM conversations WHERE user_id = ?",
            (time.time(), user_id),
        )
        await self._db.commit()

    @_writes
    async def add_message(
        self,
        conversation_id: int,
        role: MessageRole,
        content: str,
        *,
        model: str | None = None,
        status: AnswerStatus = "complete",
        figures: AnswerFigures | None = None,
        images: Sequence[StoredImage] = (),
        author_id: int | None = None,
    ) -> int:
        """Append one turn (with its images, each kept once) to a conversation and commit it;
        `author_id` is who asked (for an answer: who it answers)."""
        figures = figures or AnswerFigures()
        cursor = await self._db.execute(
            "INSERT INTO messages (conversation_id, role, content, model, status, prompt_tokens,"
            " completion_tokens, total_duration_ns, eval_duration_ns, created_at, author_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                conversation_id,
                role,
                content,
                model,
                status,
                figures.prompt_tokens,
                figures.completion_tokens,
                figures.total_duration_ns,
                figures.eval_duration_ns,
                time.time(),
                author_id,
            ),
        )
        assert cursor.lastrowid is not None  # noqa: S101 - an INSERT always sets it
        for position, image in enumerate(images):
            await self._db.execute(
                "INSERT INTO images (sha256, data, width, height, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT(sha256) DO NOTHING",
                (image.sha256, image.data, image.width, image.height, time.time()),
            )
            await self._db.execute(
                "INSERT INTO message_images (message_id, position, sha256) VALUES (?, ?, ?)",
                (cursor.lastrowid, position, image.sha256),
            )
        await self._db.commit()
        return cursor.lastrowid

    async def start_answer(
        self, conversation_id: int, model: str, author_id: int | None = None
    ) -> int:
        """The row an answer is written into while it streams; `interrupted` until finished."""
        return await self.add_message(
            conversation_id, "assistant", "", model=model, status="interrupted", author_id=author_id
        )

    @_writes
    async def save_partial(self, message_id: int, content: str) -> None:
        """Checkpoint the text written so far (kept if the process dies)."""
        await self._db.execute(
            "UPDATE messages SET content = ? WHERE id = ?", (content, message_id)
        )
        await self._db.commit()

    @_writes
    async def finish_answer(
        self, message_id: int, content: str, status: AnswerStatus, figures: AnswerFigures
    ) -> None:
        """The answer's final text, how it ended, and Ollama's figures."""
        await self._db.execute(
            "UPDATE messages SET content = ?, status = ?, prompt_tokens = ?,"
            " completion_tokens = ?, total_duration_ns = ?, eval_duration_ns = ? WHERE id = ?",
            (
                content,
                status,
                figures.prompt_tokens,
                figures.completion_tokens,
                figures.total_duration_ns,
                figures.eval_duration_ns,
                message_id,
            ),
        )
        await self._db.commit()

    async def recent_messages(self, conversation_id: int, limit: int) -> Sequence[StoredMessage]:
        """The last `limit` turns of a conversation, oldest first."""
        async with self._db.execute(
            "SELECT id, role, content, status, model FROM messages WHERE conversation_id = ?"
            " ORDER BY id DESC LIMIT ?",
            (conversation_id, limit),
        ) as cur:
            rows = list(await cur.fetchall())
        images = await self._images_of([int(row[0]) for row in rows])
        return [
            StoredMessage(
                id=row[0],
                role=row[1],
                content=row[2],
                status=row[3],
                model=row[4],
                images=images.get(int(row[0]), ()),
            )
            for row in reversed(rows)
        ]

    # -- groups -----------------------------------------------------------------------------

    async def shared_chats(self) -> set[int]:
        """The chats whose members share one thread."""
        async with self._db.execute("SELECT chat_id FROM chat_settings WHERE shared = 1") as cur:
            return {int(row[0]) async for row in cur}

    @_writes
    async def set_shared(self, chat_id: int, shared: bool) -> None:
        """One thread for the whole chat, or one per member."""
        await self._db.execute(
            "INSERT INTO chat_settings (chat_id, shared) VALUES (?, ?)"
            " ON CONFLICT(chat_id) DO UPDATE SET shared = excluded.shared",
            (chat_id, int(shared)),
        )
        await self._db.commit()

    @_writes
    async def remember_shared_thread(self, chat_id: int) -> None:
        """A group's shared thread is kept under the group's own (negative) id."""
        now = time.time()
        await self._db.execute(
            "INSERT INTO users (id, first_name, first_seen, last_seen) VALUES (?, '', ?, ?)"
            " ON CONFLICT(id) DO NOTHING",
            (chat_id, now, now),
        )
        await self._db.commit()

    # -- privacy ------------------------------------------------------------------------------

    @_writes
    async def forget_user(self, user_id: int) -> None:
        """Delete everything kept about a user: profile, settings, private roles, conversations,
        their messages (and the answers to them) in shared threads, images no one else sent;
        shared roles they added stay, without their id."""
        db = self._db
        await db.execute("DELETE FROM messages WHERE author_id = ?", (user_id,))
        await db.execute("DELETE FROM users WHERE id = ?", (user_id,))  # cascades the rest
        await db.execute("UPDATE roles SET created_by = 0 WHERE created_by = ?", (user_id,))
        await self._drop_unused_images()
        await db.commit()
        # The write-ahead log still holds the deleted pages until a checkpoint.
        await db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @_writes
    async def purge_before(self, cutoff: float) -> int:
        """Delete messages older than `cutoff` (a Unix time), and conversations and images left
        empty by that; how many messages went."""
        cursor = await self._db.execute("DELETE FROM messages WHERE created_at < ?", (cutoff,))
        await self._db.execute(
            "DELETE FROM conversations WHERE started_at < ?"
            " AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = conversations.id)"
            " AND id NOT IN (SELECT MAX(id) FROM conversations GROUP BY chat_id, user_id)",
            (cutoff,),
        )
        await self._drop_unused_images()
        await self._db.commit()
        return cursor.rowcount

    async def _drop_unused_images(self) -> None:
        await self._db.execute(
            "DELETE FROM images WHERE NOT EXISTS"
            " (SELECT 1 FROM message_images mi WHERE mi.sha256 = images.sha256)"
        )

    async def export(self, user_id: int) -> list[ExportedMessage]:
        """Everything the user said and was answered, oldest first: their own conversations,
        and their exchanges in groups' shared threads."""
        async with self._db.execute(
            "SELECT m.conversation_id, c.chat_id, m.role, m.content, m.model, m.status,"
            " m.created_at, (SELECT COUNT(*) FROM message_images mi WHERE mi.message_id = m.id)"
            " FROM messages m JOIN conversations c ON c.id = m.conversation_id"
            " WHERE c.user_id = ? OR m.author_id = ? ORDER BY m.conversation_id, m.id",
            (user_id, user_id),
        ) as cur:
            return [
                ExportedMessage(
                    conversation_id=row[0],
                    chat_id=row[1],
                    role=row[2],
                    content=row[3],
                    model=row[4],
                    status=row[5],
                    created_at=row[6],
                    images=row[7],
                )
                async for row in cur
            ]

    # -- usage --------------------------------------------------------------------------------

    async def usage(self, user_id: int | None = None) -> list[Usage]:
        """Answers, tokens and generation time per user (only `user_id`'s when given), most
        active first."""
        where = "AND m.author_id = ?" if user_id is not None else ""
        query = (
            "SELECT u.id, u.first_name, u.username, COUNT(*), SUM(m.prompt_tokens),"  # noqa: S608
            " SUM(m.completion_tokens), SUM(m.eval_duration_ns)"
            " FROM messages m JOIN users u ON u.id = m.author_id"
            " WHERE m.role = 'assistant' AND m.status IN ('complete', 'stopped') AND u.id > 0"
            f" {where} GROUP BY u.id ORDER BY COUNT(*) DESC, u.id"
        )
        async with self._db.execute(query, () if user_id is None else (user_id,)) as cur:
            return [
                Usage(
                    user_id=row[0],
                    name=row[1] or (f"@{row[2]}" if row[2] else str(row[0])),
                    answers=row[3],
                    prompt_tokens=row[4] or 0,
                    completion_tokens=row[5] or 0,
                    eval_duration_ns=row[6] or 0,
                )
                async for row in cur
            ]

    async def _images_of(self, message_ids: Sequence[int]) -> dict[int, tuple[StoredImage, ...]]:
        found: dict[int, list[StoredImage]] = {}
        if not message_ids:
            return {}
        # Only "?" placeholders are joined into the SQL; the ids are bound parameters.
        marks = ",".join("?" * len(message_ids))
        query = (
            "SELECT mi.message_id, i.sha256, i.data, i.width, i.height"  # noqa: S608
            " FROM message_images mi JOIN images i ON i.sha256 = mi.sha256"
            f" WHERE mi.message_id IN ({marks}) ORDER BY mi.message_id, mi.position"
        )
        async with self._db.execute(query, tuple(message_ids)) as cur:
            async for row in cur:
                found.setdefault(int(row[0]), []).append(
                    StoredImage(sha256=row[1], data=bytes(row[2]), width=row[3], height=row[4])
                )
        return {message_id: tuple(images) for message_id, images in found.items()}





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
