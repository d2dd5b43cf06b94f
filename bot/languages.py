"""Which language the bot speaks with each user: their /lang choice, else Telegram's.

Choices are read once at start and kept in memory, so every reply can ask without a database
round trip; /lang writes through.
"""

from __future__ import annotations

from typing import Protocol

from bot.records import SettingName, SettingValue, UserProfile
from bot.texts import CATALOGS


class LanguageStore(Protocol):
    """What the choices need from the database."""

    async def remember_user(self, profile: UserProfile) -> None: ...
    async def set_setting(self, user_id: int, name: SettingName, value: SettingValue) -> None: ...
    async def languages(self) -> dict[int, str]: ...


class LanguageChoices:
    """Each user's language: the one they chose with /lang, else their Telegram app's."""

    def __init__(self, store: LanguageStore) -> None:
        self._store = store
        self._chosen: dict[int, str] = {}

    @staticmethod
    def supported() -> list[str]:
        """The languages there is a catalog for."""
        return list(CATALOGS)

    async def load(self) -> None:
        """Read every user's choice."""
        self._chosen = await self._store.languages()

    def of(self, user_id: int, telegram_code: str | None) -> str | None:
        """The language to speak with this user (a catalog name or Telegram's code)."""
        return self._chosen.get(user_id, telegram_code)

    def chosen(self, user_id: int) -> str | None:
        """What the user chose with /lang (None: follow Telegram)."""
        return self._chosen.get(user_id)

    async def forget(self, user_id: int) -> None:
        """The user was forgotten: follow Telegram again (the database row is gone already)."""
        self._chosen.pop(user_id, None)

    async def choose(self, user: UserProfile, language: str | None) -> None:
        """Speak `language` with the user from now on (None: follow Telegram again)."""
        await self._store.remember_user(user)
        await self._store.set_setting(user.id, "language", language)
        if language is None:
            self._chosen.pop(user.id, None)
        else:
            self._chosen[user.id] = language
