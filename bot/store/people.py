"""Who the users are and what they chose: profiles, settings, languages, roles, and each
group chat's thread mode."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence

from bot.records import (
    SettingName,
    SettingValue,
    StoredRole,
    UserProfile,
    UserSettings,
)
from bot.store.connection import Connection, writes


class PeopleQueries(Connection):
    """The users' profiles and choices, the roles, and the groups' thread modes."""

    @writes
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

    async def users_count(self) -> int:
        """How many users ever wrote to the bot (and were let in)."""
        # Negative ids are groups' shared threads, not people.
        async with self._db.execute("SELECT COUNT(*) FROM users WHERE id > 0") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def user_settings(self, user_id: int) -> UserSettings:
        """The user's choices; defaults when they never chose."""
        async with self._db.execute(
            "SELECT model, role, temperature, num_ctx, think, footer, compare_models, language,"
            " voice_language FROM user_settings WHERE user_id = ?",
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
            voice_language=row[8],
        )

    @writes
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

    @writes
    async def reset_generation_settings(self, user_id: int) -> None:
        """Temperature, context size, thinking and footer back to the defaults."""
        await self._db.execute(
            "UPDATE user_settings SET temperature = NULL, num_ctx = NULL, think = NULL,"
            " footer = NULL WHERE user_id = ?",
            (user_id,),
        )
        await self._db.commit()

    @writes
    async def forget_model(self, user_id: int, model: str) -> None:
        """Drop the user's choice of `model` (removed from the server) unless it changed since."""
        await self._db.execute(
            "UPDATE user_settings SET model = NULL WHERE user_id = ? AND model = ?",
            (user_id, model),
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

    @writes
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

    @writes
    async def delete_role(self, name: str, owner_id: int | None) -> bool:
        """Delete a shared (owner_id None) or private role; False if there was none."""
        cursor = await self._db.execute(
            "DELETE FROM roles WHERE name = ? AND owner_id IS ?", (name, owner_id)
        )
        await self._db.commit()
        return cursor.rowcount > 0

    async def shared_chats(self) -> set[int]:
        """The chats whose members share one thread."""
        async with self._db.execute("SELECT chat_id FROM chat_settings WHERE shared = 1") as cur:
            return {int(row[0]) async for row in cur}

    @writes
    async def set_shared(self, chat_id: int, shared: bool) -> None:
        """One thread for the whole chat, or one per member."""
        await self._db.execute(
            "INSERT INTO chat_settings (chat_id, shared) VALUES (?, ?)"
            " ON CONFLICT(chat_id) DO UPDATE SET shared = excluded.shared",
            (chat_id, int(shared)),
        )
        await self._db.commit()

    @writes
    async def remember_shared_thread(self, chat_id: int) -> None:
        """A group's shared thread is kept under the group's own (negative) id."""
        now = time.time()
        await self._db.execute(
            "INSERT INTO users (id, first_name, first_seen, last_seen) VALUES (?, '', ?, ?)"
            " ON CONFLICT(id) DO NOTHING",
            (chat_id, now, now),
        )
        await self._db.commit()
