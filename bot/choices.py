"""What a user's answers use, and where their conversations begin.

The model and role of the next answer (and telling the user when either was replaced), how it
asks the model (bot.context.effective_generation), the models /compare asks, a role switch, a
fresh conversation (/new), /forget, and loading a model ahead of use after a /model switch.
Changes that touch a conversation take their place in the user's thread, after the questions
sent before them.
"""

from __future__ import annotations

import asyncio
import logging

from bot.chat_ports import ChatModel, HistoryStore, ModelChooser, RoleChooser
from bot.context import ChatDefaults, Generation, effective_generation
from bot.errors import LLMError
from bot.model_stream import AnswerSink
from bot.models import Where
from bot.notices import ModelReplaced, RoleReplaced
from bot.records import ConversationPlace, UserProfile, UserSettings
from bot.roles import Role
from bot.threads import ThreadRegistry
from bot.turns import Turn

log = logging.getLogger(__name__)


class UserChoices:
    """Reads and changes what a user's answers use; part of ChatService."""

    def __init__(
        self,
        store: HistoryStore,
        model: ChatModel,
        catalog: ModelChooser,
        roles: RoleChooser,
        defaults: ChatDefaults,
        threads: ThreadRegistry,
    ) -> None:
        self._store = store
        self._model = model
        self._catalog = catalog
        self._roles = roles
        self._defaults = defaults
        self._threads = threads

    async def choose(
        self,
        user_id: int,
        settings: UserSettings,
        sink: AnswerSink,
        *,
        vision: bool = False,
        place: ConversationPlace | None = None,
    ) -> tuple[str, Role, Generation]:
        """The model (one that can see, for `vision`), role and request options for a question
        of a user with these `settings` (in the conversation at `place`, whose own model and
        role they hold), telling `sink` when their model or role was replaced; LLMError when
        the model cannot be had. A replaced choice is forgotten where it was made: the
        conversation's own, or the user's."""
        role = await self._roles.current(user_id, settings.role)
        sink.begin()
        if settings.role is not None and role.name != settings.role:  # deleted since
            if place is not None and place.role == settings.role:
                await self._store.set_conversation_choice(place.id, "role", None)
            else:
                await self._store.set_setting(user_id, "role", None)
            await sink.notice(RoleReplaced(removed=settings.role, now=role.name))
        choice = await self._catalog.model_for(settings.model, vision=vision)
        if choice.replaced is not None:
            if place is not None and place.model == choice.replaced:
                await self._store.set_conversation_choice(place.id, "model", None)
            else:
                await self._store.forget_model(user_id, choice.replaced)
            await sink.notice(ModelReplaced(removed=choice.replaced, now=choice.model))
        return choice.model, role, await self.generation(choice.model, settings)

    async def role(self, user_id: int, settings: UserSettings) -> Role:
        """The role a user with these `settings` has now (the default if theirs is gone)."""
        return await self._roles.current(user_id, settings.role)

    async def seeing(
        self, settings: UserSettings, model: str, generation: Generation
    ) -> tuple[str, Generation]:
        """The model for a context that holds photos, and how it is asked: `model` if it can
        see them, else the one that can (NoVisionModel when none can)."""
        seeing = (await self._catalog.model_for(settings.model, vision=True)).model
        if seeing == model:
            return model, generation
        return seeing, await self.generation(seeing, settings)

    async def generation(self, model: str, settings: UserSettings) -> Generation:
        """How a request of a user with these `settings` asks `model`."""
        facts = await self._model.model_facts(model)
        return effective_generation(facts, settings, self._defaults)

    async def compare_models(self, user_id: int) -> list[str]:
        """The models /compare asks for this user: their own set, else their current model and
        the newest other installed ones, up to three."""
        settings = await self._store.user_settings(user_id)
        if settings.compare_models:
            return list(settings.compare_models)
        current = (await self._catalog.model_for(settings.model)).model
        others = [m.name for m in await self._catalog.chat_models(fresh=True) if m.name != current]
        return [current, *others][: self._defaults.compare_models]

    async def current_choice(
        self, user_id: int, where: Where | None = None
    ) -> tuple[str | None, Role]:
        """The model (None while it cannot be known) and role this user's next answer uses
        (`where`: in that chat and topic, whose conversation may have its own)."""
        settings = await self._store.settings_in(user_id, *(where or (None, None)))
        role = await self._roles.current(user_id, settings.role)
        try:
            return (await self._catalog.model_for(settings.model)).model, role
        except LLMError:
            return None, role

    async def vision_model(self, user_id: int) -> str:
        """The model that would answer this user's photo; NoVisionModel when none can see."""
        settings = await self._store.user_settings(user_id)
        return await self._catalog.vision_model_for(settings.model)

    async def remember(self, user: UserProfile) -> None:
        """Keep the user's profile (settings and private roles belong to a known user)."""
        await self._store.remember_user(user)

    async def forget(self, user: UserProfile) -> None:
        """/forget: cut the user's answers, drop their questions still waiting (silently), and
        once nothing of theirs runs, delete everything kept about them."""
        await self._threads.forget(user.id)

    async def start_new_conversation(
        self,
        chat_id: int,
        user: UserProfile,
        topic: int | None = None,
        *,
        title: str | None = None,
        topic_owned: bool = False,
    ) -> None:
        """Begin a fresh context for this user in this chat (in a topic opened for it, given
        `topic`; named `title`, else by the model after its first answer); old messages stay
        stored.

        It waits for the answers to earlier questions, so it takes effect in the order sent.
        """
        async with self._threads.join(chat_id, user.id):
            await self._store.remember_user(user)
            owner = self._threads.owner(chat_id, user.id)
            if owner != user.id:
                await self._store.remember_shared_thread(chat_id)
            await self._store.new_conversation(
                chat_id, owner, topic, title=title, topic_owned=topic_owned
            )

    async def name_topic(self, chat_id: int, user: UserProfile, topic: int, name: str) -> None:
        """The user renamed a topic: its conversation takes the name (and the model's title
        will not replace it)."""
        await self._store.remember_user(user)
        conversation = await self._store.current_conversation(chat_id, user.id, topic)
        await self._store.rename_conversation(conversation, name)

    async def switch_conversation(self, chat_id: int, user_id: int, conversation_id: int) -> bool:
        """The chat itself continues this conversation of the user's from the next message
        on (after the questions sent before); False if it is not theirs here."""
        async with self._threads.join(chat_id, user_id):
            return await self._store.switch_conversation(chat_id, user_id, conversation_id)

    async def delete_conversation(self, chat_id: int, user_id: int, conversation_id: int) -> None:
        """Delete one of the user's conversations once the questions sent before are answered
        (none is written into a conversation that is gone); the chat goes on with a fresh one
        when it was the current one, never with an older one."""
        async with self._threads.join(chat_id, user_id):
            current = await self._store.find_conversation(chat_id, user_id)
            await self._store.delete_conversation(conversation_id)
            if current == conversation_id:
                await self._store.new_conversation(chat_id, user_id)

    def switch_role(
        self, chat_id: int, user: UserProfile, name: str, topic: int | None = None
    ) -> asyncio.Task[Role | None]:
        """Answer as the role called `name` from now on: everywhere, in fresh conversations
        (the old ones were written for another role); or, asked in a topic, in that topic's
        conversation only, which goes on. None if there is no such role.

        Its place comes after the questions sent before it, and is taken now, before the
        caller awaits anything (it may answer a button press first).
        """
        turn = self._threads.join(chat_id, user.id)
        return asyncio.create_task(self._switch_role(turn, chat_id, user, name, topic))

    async def _switch_role(
        self, turn: Turn, chat_id: int, user: UserProfile, name: str, topic: int | None
    ) -> Role | None:
        async with turn:
            role = await self._roles.find(user.id, name)
            if role is None:
                return None
            await self._store.remember_user(user)
            if topic is not None:
                conversation = await self._store.current_conversation(chat_id, user.id, topic)
                await self._store.set_conversation_choice(conversation, "role", role.name)
                return role
            await self._store.set_setting(user.id, "role", role.name)
            # The role is the user's everywhere: every chat's conversation starts afresh.
            await self._store.new_conversations(user.id)
            return role

    def warm_up(self, user_id: int, model: str | None = None) -> None:
        """Have the user's model (or `model`, chosen for one conversation) loaded now, in the
        background, with the runner options their questions will bring (other options would
        load it again): after a /model switch the next question starts without the wait."""
        if not self._threads.closing:
            self._threads.in_background(asyncio.create_task(self._warm_up(user_id, model)))

    async def _warm_up(self, user_id: int, chosen: str | None) -> None:
        settings = await self._store.user_settings(user_id)
        try:
            model = (await self._catalog.model_for(chosen or settings.model)).model
            generation = await self.generation(model, settings)
            await self._model.preload(
                model, options=generation.options, keep_alive=self._defaults.keep_alive
            )
        except LLMError as err:  # the next question meets the problem and explains it
            log.info("could not load a model ahead of use: %s", type(err).__name__)
