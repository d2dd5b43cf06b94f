"""Who answers when: one thread of turns per (chat, user), or per chat where its members share one.

A thread answers one question at a time, the others waiting in the order they came; /stop cuts
the answer being written (or, in a shared thread, takes the user's waiting questions out of the
line), /forget drops what the user still has waiting, and shutting down cuts everything after a
grace. Generations, across all threads, also wait for one of a few model slots (SlotQueue).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from bot.errors import BotError, LeftQueue, ReadingStopped, ShuttingDown
from bot.queueing import AheadListener, SlotQueue
from bot.turns import Turn, TurnQueue

log = logging.getLogger(__name__)

STOP_DELIVERY_S = 10.0  # after the grace: time to deliver and store the cut answers
T = TypeVar("T")


class ThreadStore(Protocol):
    """What the threads need from the database."""

    async def shared_chats(self) -> set[int]: ...
    async def set_shared(self, chat_id: int, shared: bool) -> None: ...
    async def forget_user(self, user_id: int) -> None: ...


class WaitingSink(Protocol):
    """Where a question in line hears its place, and why it will not be answered."""

    def waiting(self, ahead: int) -> None: ...
    async def fail(self, error: BotError) -> None: ...


@dataclass(slots=True)
class _Pending:
    """A question waiting for its thread's turn."""

    asker: int
    sink: WaitingSink
    epoch: int  # the asker's /forget count when it was asked
    cancel: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(slots=True)
class _Thread:
    """One thread's turn-taking: `turns` orders answers, `stop` cuts the current, `pending` are
    the questions waiting for their turn."""

    turns: TurnQueue = field(default_factory=TurnQueue)
    stop: asyncio.Event | None = None
    asker: int | None = None  # whose question is being answered (a shared thread has many)
    pending: list[_Pending] = field(default_factory=list)


class ThreadRegistry:
    """The threads of every chat, the model slots they share, and shutting down."""

    def __init__(self, store: ThreadStore, concurrent_answers: int = 1) -> None:
        self._store = store
        self._threads: dict[tuple[int, int], _Thread] = {}
        self._slots = SlotQueue(concurrent_answers)
        self._shared: set[int] = set()  # chats with one thread for all their members
        self._epochs: dict[int, int] = {}  # user id → how often they used /forget
        self._closing = False
        self._writing = 0  # answers being written now
        self._idle = asyncio.Event()
        self._idle.set()
        self._background: set[asyncio.Future[Any]] = set()  # cancelled at once on shutdown

    @property
    def closing(self) -> bool:
        """True once shutting down began: no new answer starts."""
        return self._closing

    def owner(self, chat_id: int, user_id: int) -> int:
        """Whose thread a message belongs to: the user's, or in a shared chat the chat's."""
        return chat_id if chat_id in self._shared else user_id

    def join(self, chat_id: int, user_id: int) -> Turn:
        """A place in the thread of this user in this chat, taken now (before any await)."""
        return self._thread(chat_id, user_id).turns.join()

    @contextlib.asynccontextmanager
    async def turn(
        self, chat_id: int, asker: int, sink: WaitingSink
    ) -> AsyncIterator[asyncio.Event | None]:
        """This thread's turn: the event /stop sets, or None when there is nothing to answer
        (shutting down, taken out of the line by /stop, or the asker used /forget; the user is
        told what applies). Unexpected failures inside are logged and the user is told."""
        thread = self._thread(chat_id, asker)
        # Joined before any await, so questions are answered in the order they arrived.
        turn = thread.turns.join()
        waiting = _Pending(asker, sink, self._epochs.get(asker, 0))
        thread.pending.append(waiting)
        placed = self.is_shared(chat_id) and (thread.asker is not None or len(thread.pending) > 1)
        if placed:
            sink.waiting(len(thread.pending) - (0 if thread.asker is not None else 1))
        try:
            async with turn:
                thread.pending.remove(waiting)
                self._tell_places(chat_id, thread)
                if placed:  # the place it was shown is over: the question's turn has come
                    sink.waiting(0)
                forgotten = waiting.epoch != self._epochs.get(asker, 0)  # nothing may be kept
                if self._closing or waiting.cancel.is_set() or forgotten:
                    await sink.fail(self.refusal())
                    yield None
                    return
                async with self._answering(thread, asker, chat_id, sink) as stop:
                    yield stop
        finally:
            if waiting in thread.pending:  # cancelled while waiting
                thread.pending.remove(waiting)

    @contextlib.asynccontextmanager
    async def _answering(
        self, thread: _Thread, asker: int, chat_id: int, sink: WaitingSink
    ) -> AsyncIterator[asyncio.Event]:
        thread.stop = asyncio.Event()
        thread.asker = asker
        self._writing += 1
        self._idle.clear()
        try:
            yield thread.stop
        except Exception:  # the boundary: a bug or a broken database must not go silent
            log.exception("answering failed in chat %s", chat_id)
            await sink.fail(BotError("unexpected failure"))
        finally:
            thread.stop = None
            thread.asker = None
            self._writing -= 1
            if not self._writing:
                self._idle.set()

    def model_slot(
        self, stop: asyncio.Event, on_ahead: AheadListener
    ) -> contextlib.AbstractAsyncContextManager[bool]:
        """One of the model's slots, waited for in line: True once held, False when /stop or
        shutdown came first."""
        return self._slots.slot(stop, on_ahead)

    def refusal(self) -> BotError:
        """Why a question left the line unanswered: shutting down, or /stop."""
        return ShuttingDown() if self._closing else LeftQueue()

    def in_background(self, task: asyncio.Future[Any]) -> None:
        """Keep `task` (a model loading ahead of use, a file being read) until it ends; shutting
        down cancels it at once."""
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def read(self, load: Callable[[], Awaitable[T]], stop: asyncio.Event) -> T:
        """What `load` fetches (a question's photos or document), unless /stop or shutdown
        comes first: then loading is cancelled (which ends a file being read in a worker
        process at once) and ReadingStopped, or ShuttingDown, is raised."""
        loading = asyncio.ensure_future(load())
        self.in_background(loading)
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait((loading, stopped), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            if not loading.done():
                loading.cancel()
                await asyncio.wait((loading,))  # until its worker is gone
        if loading.cancelled():
            raise ShuttingDown() if self._closing else ReadingStopped()
        return loading.result()

    def _tell_places(self, chat_id: int, thread: _Thread) -> None:
        """In a shared thread, everyone still waiting hears their new place."""
        if self.is_shared(chat_id):
            for ahead, waiting in enumerate(thread.pending, start=1):
                waiting.sink.waiting(ahead)

    def _thread(self, chat_id: int, user_id: int) -> _Thread:
        key = (chat_id, self.owner(chat_id, user_id))
        return self._threads.setdefault(key, _Thread())

    def stop(self, chat_id: int, user_id: int) -> bool:
        """Cut the answer being written (or waiting for the model) for this user in this chat;
        in a shared thread, where others' answers go first, take the user's waiting questions
        out of the line instead. False if there is nothing of theirs."""
        thread = self._threads.get((chat_id, self.owner(chat_id, user_id)))
        if thread is None:
            return False
        if thread.asker == user_id and thread.stop is not None and not thread.stop.is_set():
            thread.stop.set()
            return True
        if thread.asker == user_id or not self.is_shared(chat_id):
            return False
        mine = [p for p in thread.pending if p.asker == user_id and not p.cancel.is_set()]
        for waiting in mine:
            waiting.cancel.set()
        return bool(mine)

    async def forget(self, user_id: int) -> None:
        """/forget: cut the user's answers, drop their questions still waiting (silently), and
        once nothing of theirs runs, delete everything kept about them."""
        self._epochs[user_id] = self._epochs.get(user_id, 0) + 1
        involved = [
            thread
            for thread in self._threads.values()
            if thread.asker == user_id or any(p.asker == user_id for p in thread.pending)
        ]
        for thread in involved:
            if thread.asker == user_id and thread.stop is not None:
                thread.stop.set()
        for thread in involved:
            async with thread.turns.join():  # after every turn taken before this
                pass
        await self._store.forget_user(user_id)

    # -- groups ------------------------------------------------------------------------------

    async def load(self) -> None:
        """Read what is kept about chats (which share one thread)."""
        self._shared = await self._store.shared_chats()

    def is_shared(self, chat_id: int) -> bool:
        """Whether the chat's members share one thread."""
        return chat_id in self._shared

    async def set_shared(self, chat_id: int, shared: bool) -> None:
        """One thread for the whole chat, or one per member, from the next message on."""
        await self._store.set_shared(chat_id, shared)
        if shared:
            self._shared.add(chat_id)
        else:
            self._shared.discard(chat_id)

    # -- shutting down -----------------------------------------------------------------------

    async def close(self, grace_s: float) -> None:
        """Shutting down: start no new answer, give the running ones `grace_s` to finish, then
        cut them (the text so far is delivered and kept as `stopped`)."""
        self._closing = True
        self._slots.close()  # questions still waiting for the model are told to ask again
        for task in self._background:  # nothing is written yet: no grace to give
            task.cancel()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace_s):
                await self._idle.wait()
        self.stop_all()
        with contextlib.suppress(TimeoutError):  # stored already; only delivery may be lost
            async with asyncio.timeout(STOP_DELIVERY_S):
                await self._idle.wait()

    def stop_all(self) -> None:
        """Cut every running answer (kept as `stopped`) and start no new one."""
        self._closing = True
        self._slots.close()
        for thread in self._threads.values():
            if thread.stop is not None:
                thread.stop.set()
