"""A user's conversations as things to pick from: listing them (/chats), switching, renaming and
deleting one, a conversation's own model and role (set in its topic), its title, and which of
its messages carries the last answer's buttons."""

from __future__ import annotations

from typing import Literal

from bot.records import ConversationPlace, ConversationSummary
from bot.store.connection import Connection, writes
from bot.store.conversations import CURRENT_CONVERSATION

CHATS_LISTED = 30  # the newest conversations /chats offers

ConversationChoice = Literal["model", "role"]


class ChatListQueries(Connection):
    """Conversations one by one: listed, switched to, renamed, deleted, set up."""

    async def conversations(
        self, chat_id: int, user_id: int, only: int | None = None
    ) -> list[ConversationSummary]:
        """The user's conversations in this chat that hold messages (and the current one even
        when empty), the most recently used first (at most CHATS_LISTED); with `only`, that
        one conversation's summary if it is theirs here."""
        async with self._db.execute(
            "SELECT c.id, c.topic_id, c.title, c.started_at,"  # noqa: S608 - fixed text
            " COALESCE(MAX(m.created_at), c.started_at), COUNT(m.id),"
            f" c.id = {CURRENT_CONVERSATION} AS is_current"
            " FROM conversations c LEFT JOIN messages m ON m.conversation_id = c.id"
            " WHERE c.chat_id = ?1 AND c.user_id = ?2 AND (?4 IS NULL OR c.id = ?4) GROUP BY c.id"
            " HAVING COUNT(m.id) > 0 OR c.id = ?4 OR is_current"
            " ORDER BY 5 DESC, c.id DESC LIMIT ?3",
            (chat_id, user_id, CHATS_LISTED, only),
        ) as cur:
            return [
                ConversationSummary(
                    id=row[0],
                    topic=row[1],
                    title=row[2],
                    started_at=row[3],
                    last_at=row[4],
                    messages=row[5],
                    current=bool(row[6]),
                )
                async for row in cur
            ]

    async def conversation_place(self, conversation_id: int) -> ConversationPlace | None:
        """Where the conversation lives and what it was set to use; None if it is gone."""
        async with self._db.execute(
            "SELECT id, chat_id, user_id, topic_id, title, model, role, buttons_message_id,"
            " topic_owned FROM conversations WHERE id = ?",
            (conversation_id,),
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        return ConversationPlace(
            id=row[0],
            chat_id=row[1],
            user_id=row[2],
            topic=row[3],
            title=row[4],
            model=row[5],
            role=row[6],
            buttons_message_id=row[7],
            topic_owned=bool(row[8]),
        )

    async def conversation_of_message(self, message_id: int) -> int | None:
        """The conversation a stored message belongs to; None if the message is gone."""
        async with self._db.execute(
            "SELECT conversation_id FROM messages WHERE id = ?", (message_id,)
        ) as cur:
            row = await cur.fetchone()
        return None if row is None else int(row[0])

    @writes
    async def switch_conversation(self, chat_id: int, user_id: int, conversation_id: int) -> bool:
        """The chat itself continues this conversation from now on; False if it is not the
        user's in this chat."""
        cursor = await self._db.execute(
            "INSERT INTO current_conversations (chat_id, user_id, conversation_id)"
            " SELECT chat_id, user_id, id FROM conversations"
            " WHERE id = ? AND chat_id = ? AND user_id = ?"
            " ON CONFLICT(chat_id, user_id)"
            " DO UPDATE SET conversation_id = excluded.conversation_id",
            (conversation_id, chat_id, user_id),
        )
        await self._db.commit()
        return cursor.rowcount > 0

    @writes
    async def rename_conversation(
        self, conversation_id: int, title: str, *, if_untitled: bool = False
    ) -> bool:
        """Give the conversation a title: the user's own, or (`if_untitled`) the model's,
        which never overwrites a name given meanwhile. Whether it was given."""
        only = " AND title IS NULL" if if_untitled else ""
        cursor = await self._db.execute(
            f"UPDATE conversations SET title = ? WHERE id = ?{only}",  # noqa: S608 - fixed text
            (title, conversation_id),
        )
        await self._db.commit()
        return cursor.rowcount > 0

    @writes
    async def delete_conversation(self, conversation_id: int) -> None:
        """Delete the conversation with its messages (and images no one else sent)."""
        await self._db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
        await self._drop_unused_images()
        await self._db.commit()

    @writes
    async def set_conversation_choice(
        self, conversation_id: int, name: ConversationChoice, value: str | None
    ) -> None:
        """The conversation's own model or role (None: the user's)."""
        # `name` is one of ConversationChoice's literals, never user input.
        await self._db.execute(
            f"UPDATE conversations SET {name} = ? WHERE id = ?",  # noqa: S608
            (value, conversation_id),
        )
        await self._db.commit()

    @writes
    async def swap_buttons_message(self, conversation_id: int, message_id: int) -> int | None:
        """Record the message now showing the conversation's answer buttons; the one that
        showed them before (its buttons are to go), if any."""
        place = await self.conversation_place(conversation_id)
        if place is None:
            return None
        await self._db.execute(
            "UPDATE conversations SET buttons_message_id = ? WHERE id = ?",
            (message_id, conversation_id),
        )
        await self._db.commit()
        return place.buttons_message_id

    @writes
    async def drop_message(self, message_id: int) -> None:
        """Delete one stored message (an answer being written again)."""
        await self._db.execute("DELETE FROM messages WHERE id = ?", (message_id,))
        await self._db.commit()
