"""Conversations and their messages (with their images, each kept once): starting one, writing
a question and a streamed answer, reading the recent turns back."""

from __future__ import annotations

import time
from collections.abc import Sequence

from bot.records import (
    AnswerFigures,
    AnswerStatus,
    MessageRole,
    StoredImage,
    StoredMessage,
)
from bot.store.connection import Connection, writes

# The conversation a chat itself continues (?1: the chat, ?2: the user): the one /chats
# switched to, else the newest outside topics.
CURRENT_CONVERSATION = (
    "COALESCE((SELECT conversation_id FROM current_conversations"
    " WHERE chat_id = ?1 AND user_id = ?2), (SELECT MAX(id) FROM conversations"
    " WHERE chat_id = ?1 AND user_id = ?2 AND topic_id IS NULL))"
)


class ConversationQueries(Connection):
    """Conversations, their messages and images."""

    async def current_conversation(
        self, chat_id: int, user_id: int, topic: int | None = None
    ) -> int:
        """The id of the user's open conversation in this chat (in a private chat's topic: the
        topic's), started if there is none. Outside topics it is the one /chats switched to or
        /new started last."""
        found = await self.find_conversation(chat_id, user_id, topic)
        if found is not None:
            return found
        return await self.new_conversation(chat_id, user_id, topic)

    async def find_conversation(
        self, chat_id: int, user_id: int, topic: int | None = None
    ) -> int | None:
        """The conversation `current_conversation` means, without starting one."""
        values: tuple[int, ...]
        if topic is not None:
            query, values = (
                "SELECT MAX(id) FROM conversations WHERE chat_id = ? AND user_id = ?"
                " AND topic_id = ?",
                (chat_id, user_id, topic),
            )
        else:
            query, values = (f"SELECT {CURRENT_CONVERSATION}", (chat_id, user_id))
        async with self._db.execute(query, values) as cur:
            row = await cur.fetchone()
        return None if row is None or row[0] is None else int(row[0])

    @writes
    async def new_conversation(
        self,
        chat_id: int,
        user_id: int,
        topic: int | None = None,
        *,
        title: str | None = None,
        topic_owned: bool = False,
    ) -> int:
        """Start a fresh conversation (in `topic`, or the chat's current one); earlier ones
        stay stored. `title` None: the model titles it after its first answer (and renames
        its topic if `topic_owned`: the bot opened it)."""
        cursor = await self._db.execute(
            "INSERT INTO conversations (chat_id, user_id, started_at, topic_id, title, topic_owned)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (chat_id, user_id, time.time(), topic, title, topic_owned),
        )
        assert cursor.lastrowid is not None  # noqa: S101 - an INSERT always sets it
        if topic is None:
            await self._db.execute(
                "INSERT INTO current_conversations (chat_id, user_id, conversation_id)"
                " VALUES (?, ?, ?) ON CONFLICT(chat_id, user_id)"
                " DO UPDATE SET conversation_id = excluded.conversation_id",
                (chat_id, user_id, cursor.lastrowid),
            )
        await self._db.commit()
        return cursor.lastrowid

    @writes
    async def new_conversations(self, user_id: int) -> None:
        """A fresh conversation in every chat where the user has one outside topics (a topic
        keeps its conversation)."""
        await self._db.execute(
            "INSERT INTO conversations (chat_id, user_id, started_at)"
            " SELECT DISTINCT chat_id, user_id, ? FROM conversations"
            " WHERE user_id = ? AND topic_id IS NULL",
            (time.time(), user_id),
        )
        await self._db.execute("DELETE FROM current_conversations WHERE user_id = ?", (user_id,))
        await self._db.commit()

    async def context_start(self, conversation_id: int) -> int | None:
        """The id of the oldest message still sent to the model; None: from the start."""
        async with self._db.execute(
            "SELECT context_from FROM conversations WHERE id = ?", (conversation_id,)
        ) as cur:
            row = await cur.fetchone()
        return None if row is None or row[0] is None else int(row[0])

    @writes
    async def set_context_start(self, conversation_id: int, message_id: int) -> None:
        """Older messages than `message_id` are no longer sent to the model."""
        await self._db.execute(
            "UPDATE conversations SET context_from = ? WHERE id = ?", (message_id, conversation_id)
        )
        await self._db.commit()

    @writes
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

    @writes
    async def save_partial(self, message_id: int, content: str) -> None:
        """Checkpoint the text written so far (kept if the process dies)."""
        await self._db.execute(
            "UPDATE messages SET content = ? WHERE id = ?", (content, message_id)
        )
        await self._db.commit()

    @writes
    async def finish_answer(
        self,
        message_id: int,
        content: str,
        status: AnswerStatus,
        figures: AnswerFigures,
        done_reason: str | None = None,
        *,
        added: bool = False,
    ) -> None:
        """The answer's final text, how it ended (`done_reason`: the model server's, e.g.
        "length" at the token cap), and the server's figures (`added`: to those it has, for
        an answer the model went on with)."""
        if added:
            figures_sql = (
                "prompt_tokens = COALESCE(prompt_tokens, 0) + COALESCE(?, 0),"
                " completion_tokens = COALESCE(completion_tokens, 0) + COALESCE(?, 0),"
                " total_duration_ns = COALESCE(total_duration_ns, 0) + COALESCE(?, 0),"
                " eval_duration_ns = COALESCE(eval_duration_ns, 0) + COALESCE(?, 0)"
            )
        else:
            figures_sql = (
                "prompt_tokens = ?, completion_tokens = ?, total_duration_ns = ?,"
                " eval_duration_ns = ?"
            )
        await self._db.execute(
            "UPDATE messages SET content = ?, status = ?, "  # noqa: S608 - fixed fragments
            + figures_sql
            + ", done_reason = ? WHERE id = ?",
            (
                content,
                status,
                figures.prompt_tokens,
                figures.completion_tokens,
                figures.total_duration_ns,
                figures.eval_duration_ns,
                done_reason,
                message_id,
            ),
        )
        await self._db.commit()

    async def recent_messages(self, conversation_id: int, limit: int) -> Sequence[StoredMessage]:
        """The last `limit` turns of a conversation, oldest first."""
        async with self._db.execute(
            "SELECT id, role, content, status, model, done_reason FROM messages"
            " WHERE conversation_id = ?"
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
                done_reason=row[5],
            )
            for row in reversed(rows)
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
