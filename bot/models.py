"""Which models there are and which one each user gets: names, aliases, the installed list.

Pure helpers (name syntax, aliases, short ids for buttons) and ModelCatalog, a short-lived
cache of `/api/tags` that decides a user's model: their own choice while it is installed, else
DEFAULT_MODEL while it is installed, else the newest installed model that can chat.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from bot.errors import NoModelInstalled, NoVisionModel
from bot.llm.types import InstalledModel, ModelFacts
from bot.records import ConversationPlace, UserProfile, UserSettings

MAX_NAME_LENGTH = 200
CATALOG_TTL_S = 30.0
# The article's models (seed.md): a short name there means this tag, or any tag of that family.
ARTICLE_MODELS: dict[str, str] = {
    "mistral": "mistral:7b-instruct-v0.2-q8_0",
    "qwen": "qwen:7b-q8_0",
    "gemma": "gemma:7b-instruct-q8_0",
    "llama2": "llama2-uncensored:7b-chat-q8_0",
    "llava": "llava:7b-v1.6-mistral-q8_0",
    "codellama": "codellama:7b-instruct-q8_0",
}
# [host/][namespace/]model[:tag] as Ollama's types/model/name.go parses it: letters, digits,
# `_` `.` `-` in every part, no `.` in the namespace, never two dots in a row.
_MODEL_NAME = re.compile(
    r"^(?:(?:[A-Za-z0-9_.-]+/)?[A-Za-z0-9_-]+/)?[A-Za-z0-9_.-]+(?::[A-Za-z0-9_.-]+)?$"
)


def valid_model_name(name: str) -> bool:
    """True when `name` is a model name Ollama can parse, at most 200 characters."""
    return len(name) <= MAX_NAME_LENGTH and ".." not in name and bool(_MODEL_NAME.match(name))


def full_name(name: str) -> str:
    """`llama3` → `llama3:latest`; a name with a tag stays as it is."""
    last_part = name.rsplit("/", 1)[-1]
    return name if ":" in last_part else f"{name}:latest"


def base_name(name: str) -> str:
    """`hf.co/org/model:tag` → `model`."""
    return name.rsplit("/", 1)[-1].split(":", 1)[0]


def model_id(name: str) -> str:
    """A short, stable id for a model name, to fit Telegram's 64-byte callback_data."""
    return hashlib.sha256(full_name(name).lower().encode()).hexdigest()[:12]


def find_installed(name: str, installed: Sequence[InstalledModel]) -> InstalledModel | None:
    """The installed model `name` means: exact, then `:latest`, then an alias or family name."""
    # Ollama's names carry a tag (`:latest` when none was given); OpenAI-compatible servers'
    # ids often have none, so the name as typed counts too.
    for wanted in (name.lower(), full_name(name).lower()):  # exactly as typed first
        for model in installed:
            if model.name.lower() == wanted:
                return model
    alias = name.lower()
    article_tag = ARTICLE_MODELS.get(alias)
    if article_tag is None:
        return None  # anything but the article's short names means exactly that model
    for model in installed:
        if model.name.lower() == article_tag:
            return model
    for model in installed:
        if base_name(model.name).lower().startswith(alias) or model.family.lower() == alias:
            return model
    return None


def by_id(short_id: str, installed: Sequence[InstalledModel]) -> InstalledModel | None:
    """The installed model behind a button's short id."""
    return next((m for m in installed if model_id(m.name) == short_id), None)


class ModelServer(Protocol):
    """What the catalog needs from the model server."""

    host: str

    async def installed_models(self) -> list[InstalledModel]: ...
    async def model_facts(self, model: str) -> ModelFacts: ...


@dataclass(frozen=True, slots=True)
class ModelChoice:
    """The model an answer uses; `replaced` is the user's choice that is no longer installed."""

    model: str
    replaced: str | None = None


class ModelCatalog:
    """The installed models, asked at most every 30 s, and who gets which."""

    def __init__(
        self, server: ModelServer, default_model: str | None, vision_model: str = "llava"
    ) -> None:
        self._server = server
        self._default = default_model
        self._vision = vision_model
        self._cached: tuple[float, list[InstalledModel]] | None = None

    async def installed(self, *, fresh: bool = False) -> list[InstalledModel]:
        """The installed models; `fresh` asks Ollama now instead of using the cache."""
        now = time.monotonic()
        if fresh or self._cached is None or now - self._cached[0] > CATALOG_TTL_S:
            self._cached = (now, await self._server.installed_models())
        return self._cached[1]

    def invalidate(self) -> None:
        """Forget the list (a model was pulled or removed)."""
        self._cached = None

    async def default_model(self) -> str:
        """DEFAULT_MODEL while it is installed, else the newest installed model that can chat
        (Ollama lists the newest first)."""
        installed = await self.installed()
        if self._default and (found := find_installed(self._default, installed)):
            return found.name
        async for model in self._chat_capable(installed):
            return model.name
        if self._default:
            return self._default  # not installed: the answer will say so, with the fix
        raise NoModelInstalled(self._server.host)

    async def chat_models(self, *, fresh: bool = False) -> list[InstalledModel]:
        """The installed models that can answer (not embedding models), newest first."""
        return [model async for model in self._chat_capable(await self.installed(fresh=fresh))]

    async def _chat_capable(
        self, installed: Sequence[InstalledModel]
    ) -> AsyncIterator[InstalledModel]:
        for model in installed:
            capabilities = (await self._server.model_facts(model.name)).capabilities
            # Embedding models cannot chat; Ollama before 0.6.4 reports no capabilities at all.
            if not capabilities or "completion" in capabilities:
                yield model

    async def model_for(self, chosen: str | None, *, vision: bool = False) -> ModelChoice:
        """The model for a user whose own choice is `chosen` (None: never chose); with
        `vision`, one that can see images: theirs if it can, else VISION_MODEL."""
        choice = await self._chat_model_for(chosen)
        if not vision or await self._sees(choice.model):
            return choice
        found = find_installed(self._vision, await self.installed())
        if found is None:
            raise NoVisionModel(self._vision, self._server.host)
        if not await self._sees(found.name, unknown=True):
            raise NoVisionModel(self._vision, self._server.host, installed=True)
        return ModelChoice(found.name, replaced=choice.replaced)

    async def vision_model_for(self, chosen: str | None) -> str:
        """The model that would answer this user's photo (NoVisionModel if none can)."""
        return (await self.model_for(chosen, vision=True)).model

    async def _sees(self, model: str, *, unknown: bool = False) -> bool:
        """Whether `model` lists `vision`; `unknown` for an Ollama that lists no capabilities."""
        capabilities = (await self._server.model_facts(model)).capabilities
        return "vision" in capabilities if capabilities else unknown

    async def _chat_model_for(self, chosen: str | None) -> ModelChoice:
        if chosen is None:
            return ModelChoice(await self.default_model())
        if find_installed(chosen, await self.installed()) is not None:
            return ModelChoice(chosen)
        return ModelChoice(await self.default_model(), replaced=chosen)


class ChoiceStore(Protocol):
    """What ModelPicker needs from the database."""

    async def remember_user(self, profile: UserProfile) -> None: ...
    async def user_settings(self, user_id: int) -> UserSettings: ...
    async def set_model(self, user_id: int, model: str | None) -> None: ...
    async def set_compare_models(self, user_id: int, models: Sequence[str]) -> None: ...
    async def current_conversation(
        self, chat_id: int, user_id: int, topic: int | None = None
    ) -> int: ...
    async def settings_in(
        self, user_id: int, chat_id: int | None = None, topic: int | None = None
    ) -> UserSettings: ...
    async def conversation_place(self, conversation_id: int) -> ConversationPlace | None: ...
    async def set_conversation_choice(
        self, conversation_id: int, name: Literal["model", "role"], value: str | None
    ) -> None: ...


# Where a private chat's /model is used, as (chat id, topic id or None): the conversation
# there may have its own model.
Where = tuple[int, int | None]


@dataclass(frozen=True, slots=True)
class ModelMenu:
    """The installed models, and the one this user's answers use now."""

    installed: Sequence[InstalledModel]
    current: str | None


class ModelPicker:
    """A user's own choice of model, kept in the database."""

    def __init__(
        self,
        store: ChoiceStore,
        catalog: ModelCatalog,
        *,
        on_switch: Callable[[int, str], None] | None = None,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._on_switch = on_switch  # told who switched to which model (to load it at once)

    async def menu(self, user_id: int, where: Where | None = None) -> ModelMenu:
        """The installed models as Ollama lists them now, with the one this user's answers use
        (`where`: in that private chat or topic, whose conversation may have its own)."""
        installed = await self._catalog.installed(fresh=True)
        chosen = (await self._store.settings_in(user_id, *(where or (None, None)))).model
        current = (await self._catalog.model_for(chosen)).model if installed else None
        return ModelMenu(installed=installed, current=current)

    async def pick(
        self, user: UserProfile, name: str, where: Where | None = None
    ) -> InstalledModel | None:
        """Switch to the installed model `name` means (aliases too); None if there is none.
        In a topic (`where`) it is that conversation's own model; elsewhere the user's, and
        also that of the conversation the chat continues when it has its own."""
        found = find_installed(name, await self._catalog.installed(fresh=True))
        if found is not None:
            await self._keep(user, found.name, where)
        return found

    async def pick_by_id(
        self, user: UserProfile, short_id: str, where: Where | None = None
    ) -> InstalledModel | None:
        """Switch to the model behind a button (as `pick`); None if it is no longer
        installed."""
        found = by_id(short_id, await self._catalog.installed(fresh=True))
        if found is not None:
            await self._keep(user, found.name, where)
        return found

    async def resolve(self, names: Sequence[str]) -> tuple[list[str], list[str]]:
        """The installed models `names` mean (aliases too, without repeats), and the names
        that mean none."""
        installed = await self._catalog.installed(fresh=True)
        found: list[str] = []
        missing: list[str] = []
        for name in names:
            model = find_installed(name, installed)
            if model is None:
                missing.append(name)
            elif model.name not in found:
                found.append(model.name)
        return found, missing

    async def set_compare_models(self, user: UserProfile, models: Sequence[str]) -> None:
        """The models /compare asks for this user (empty: back to the default choice)."""
        await self._store.remember_user(user)
        await self._store.set_compare_models(user.id, models)

    async def _keep(self, user: UserProfile, model: str, where: Where | None) -> None:
        await self._store.remember_user(user)
        if where is not None:
            chat_id, topic = where
            conversation = await self._store.current_conversation(chat_id, user.id, topic)
            place = await self._store.conversation_place(conversation)
            if topic is not None or (place is not None and place.model is not None):
                await self._store.set_conversation_choice(conversation, "model", model)
        if where is None or where[1] is None:
            await self._store.set_model(user.id, model)
        if self._on_switch is not None:
            self._on_switch(user.id, model)
