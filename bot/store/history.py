"""What the database holds about the past, as a whole: each user's export and usage figures,
forgetting a user, and retention's purge of old messages."""

from __future__ import annotations

from bot.records import ExportedMessage, Usage
from bot.store.connection import Connection, writes


class HistoryQueries(Connection):
    """Export, usage, forgetting a user, and the retention purge."""

    @writes
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

    @writes
    async def purge_before(self, cutoff: float) -> int:
        """Delete messages older than `cutoff` (a Unix time), and conversations and images left
        empty by that; how many messages went."""
        cursor = await self._db.execute("DELETE FROM messages WHERE created_at < ?", (cutoff,))
        await self._db.execute(
            "DELETE FROM conversations WHERE started_at < ?"
            " AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = conversations.id)"
            " AND id NOT IN (SELECT MAX(id) FROM conversations GROUP BY chat_id, user_id, topic_id)"
            " AND id NOT IN (SELECT conversation_id FROM current_conversations)",
            (cutoff,),
        )
        await self._drop_unused_images()
        await self._db.commit()
        return cursor.rowcount

    async def export(self, user_id: int) -> list[ExportedMessage]:
        """Everything the user said and was answered, oldest first: their own conversations,
        and their exchanges in groups' shared threads."""
        async with self._db.execute(
            "SELECT m.conversation_id, c.chat_id, m.role, m.content, m.model, m.status,"
            " m.created_at, (SELECT COUNT(*) FROM message_images mi WHERE mi.message_id = m.id),"
            " c.title"
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
                    title=row[8],
                )
                async for row in cur
            ]

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
