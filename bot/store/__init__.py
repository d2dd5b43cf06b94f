"""Store: the SQLite database of users, settings, conversations and messages.

The only package that imports `aiosqlite` and the only one that knows SQL. One connection, WAL
journal, a busy timeout, foreign keys on, numbered migrations applied at start (connection,
schema). The queries are grouped by what they are about (people, conversations, the list of
them, history) and composed into the one `Store` the rest of the bot uses.
"""

from __future__ import annotations

from bot.records import DatabaseState, UserSettings
from bot.store.chats import ChatListQueries
from bot.store.connection import BUSY_TIMEOUT_MS, inspect_database
from bot.store.conversations import ConversationQueries
from bot.store.history import HistoryQueries
from bot.store.people import PeopleQueries
from bot.store.schema import MIGRATIONS


class Store(PeopleQueries, ConversationQueries, ChatListQueries, HistoryQueries):
    """Owns the one connection to the database file; `connect` before use, `close` after."""

    async def settings_in(
        self, user_id: int, chat_id: int | None = None, topic: int | None = None
    ) -> UserSettings:
        """The user's settings where they write (a chat, a private chat's topic): the
        conversation's own model and role over theirs. Reads only: starts no conversation."""
        settings = await self.user_settings(user_id)
        if chat_id is None:
            return settings
        conversation = await self.find_conversation(chat_id, user_id, topic)
        place = None if conversation is None else await self.conversation_place(conversation)
        return settings.within(place)


__all__ = ["BUSY_TIMEOUT_MS", "MIGRATIONS", "DatabaseState", "Store", "inspect_database"]
