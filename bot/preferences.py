"""A user's generation settings (/settings): what they are now, and changing them with checks.

Temperature goes into Ollama's `options`, thinking into `think` (only for models whose
capabilities include `thinking`), the footer under each answer; the voice language is the one
voice messages are transcribed in (None: whatever is spoken). The context size limits how much
history is sent, up to NUM_CTX: the runner's window itself is the same for everyone, so one
user's setting never makes Ollama reload the model for another. A value the user never set
follows the configured default.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Literal, Protocol, TypeVar

from bot.context import ChatDefaults, effective_generation
from bot.errors import LLMError
from bot.llm.types import ModelFacts
from bot.models import ModelChoice
from bot.records import SettingName, SettingValue, UserProfile, UserSettings

TEMPERATURE_RANGE = (0.0, 2.0)
TEMPERATURE_CHOICES = (0.0, 0.3, 0.7, 1.0, 1.5, 2.0)
NUM_CTX_MIN = 256
CONTEXT_CHOICES = (2048, 4096, 8192, 16384, 32768, 65536, 131072)
_ON = frozenset({"on", "yes", "true", "1", "enable"})
_OFF = frozenset({"off", "no", "false", "0", "disable"})
_NAMES: dict[str, Literal["temperature", "num_ctx", "think", "footer", "voice_language"]] = {
    "temperature": "temperature",
    "temp": "temperature",
    "context": "num_ctx",
    "num_ctx": "num_ctx",
    "ctx": "num_ctx",
    "thinking": "think",
    "think": "think",
    "footer": "footer",
    "voice": "voice_language",
    "voice_language": "voice_language",
}
VOICE_AUTO = "auto"
# The languages a user can pick for transcription: ISO-639-1 code → (English name, the name in
# that language). The English name goes into the instruction to a model that hears; Whisper
# servers take the code.
VOICE_LANGUAGES: Mapping[str, tuple[str, str]] = {
    "en": ("English", "English"),
    "zh": ("Chinese", "中文"),
    "es": ("Spanish", "Español"),
    "fr": ("French", "Français"),
    "de": ("German", "Deutsch"),
    "it": ("Italian", "Italiano"),
    "pt": ("Portuguese", "Português"),
    "ru": ("Russian", "Русский"),
    "uk": ("Ukrainian", "Українська"),
    "pl": ("Polish", "Polski"),
    "nl": ("Dutch", "Nederlands"),
    "tr": ("Turkish", "Türkçe"),
    "ar": ("Arabic", "العربية"),
    "hi": ("Hindi", "हिन्दी"),
    "ja": ("Japanese", "日本語"),
    "ko": ("Korean", "한국어"),
}
_TOKENS = re.compile(r"(\d+)\s*(k?)")
T = TypeVar("T")


class PreferenceStore(Protocol):
    """What the settings need from the database."""

    async def remember_user(self, profile: UserProfile) -> None: ...
    async def user_settings(self, user_id: int) -> UserSettings: ...
    async def set_setting(self, user_id: int, name: SettingName, value: SettingValue) -> None: ...
    async def reset_generation_settings(self, user_id: int) -> None: ...


class ModelFactsSource(Protocol):
    """Where a model's context length and capabilities come from (the gateway)."""

    async def model_facts(self, model: str) -> ModelFacts: ...


class ModelOfUser(Protocol):
    """Which model a user's answers use (the catalog)."""

    async def model_for(self, chosen: str | None) -> ModelChoice: ...


@dataclass(frozen=True, slots=True)
class Preferences:
    """A user's settings as they apply to their current model."""

    model: str | None  # None while Ollama cannot be asked
    temperature: float
    num_ctx: int  # what the model gets: the user's (or default) size, capped at num_ctx_max
    num_ctx_max: int
    can_think: bool
    think: bool
    footer: bool
    voice_language: str | None  # None: voice messages are heard in whatever language is spoken
    changed: frozenset[str]  # the settings the user set themselves

    def context_choices(self) -> Sequence[int]:
        """The preset context sizes this model can take."""
        return [size for size in CONTEXT_CHOICES if size <= self.num_ctx_max]


class SettingProblem(Enum):
    """Why a value was refused."""

    UNKNOWN_SETTING = "unknown_setting"
    OUT_OF_RANGE = "out_of_range"
    NOT_ON_OFF = "not_on_off"
    CANNOT_THINK = "cannot_think"
    MODEL_UNKNOWN = "model_unknown"  # Ollama cannot be asked what the model can do
    UNKNOWN_LANGUAGE = "unknown_language"  # not one of VOICE_LANGUAGES


@dataclass(frozen=True, slots=True)
class Refusal:
    """A refused change: why, and the allowed range where there is one."""

    problem: SettingProblem
    low: str = ""
    high: str = ""


class PreferenceService:
    """Reads and changes one user's generation settings."""

    def __init__(
        self,
        store: PreferenceStore,
        catalog: ModelOfUser,
        models: ModelFactsSource,
        defaults: ChatDefaults,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._models = models
        self._defaults = defaults

    async def view(self, user_id: int) -> Preferences:
        """The user's settings for their current model."""
        settings = await self._store.user_settings(user_id)
        model: str | None = None
        facts = ModelFacts(context_length=None)
        try:
            model = (await self._catalog.model_for(settings.model)).model
            facts = await self._models.model_facts(model)
        except LLMError:
            pass  # shown without the model's limits; changes are checked against NUM_CTX alone
        # NUM_CTX is the runner's window for everyone (one per model, so no reloads); a user
        # may choose less history than that, never a bigger runner.
        generation = effective_generation(facts, settings, self._defaults)
        changed = {
            name
            for name in ("temperature", "num_ctx", "think", "footer", "voice_language")
            if getattr(settings, name) is not None
        }
        return Preferences(
            model=model,
            temperature=generation.temperature,
            num_ctx=generation.context_tokens,
            num_ctx_max=generation.runner_tokens,
            can_think=generation.think is not None,
            think=_first(settings.think, self._defaults.think),  # theirs, if the model could think
            footer=_first(settings.footer, False),
            voice_language=settings.voice_language,
            changed=frozenset(changed),
        )

    async def change(self, user: UserProfile, name: str, raw: str) -> Refusal | None:
        """Set `name` (temperature, context, thinking, footer) to the typed `raw` value; None
        when done, else why not."""
        setting = _NAMES.get(name.strip().lower())
        if setting is None:
            return Refusal(SettingProblem.UNKNOWN_SETTING)
        current = await self.view(user.id)
        value: SettingValue
        match setting:
            case "temperature":
                low, high = TEMPERATURE_RANGE
                number = _number(raw)
                if number is None or not low <= number <= high:
                    return Refusal(SettingProblem.OUT_OF_RANGE, f"{low:.1f}", f"{high:.1f}")
                value = round(number, 2)
            case "num_ctx":
                tokens = _tokens(raw)
                if tokens is None or not NUM_CTX_MIN <= tokens <= current.num_ctx_max:
                    return Refusal(
                        SettingProblem.OUT_OF_RANGE, str(NUM_CTX_MIN), str(current.num_ctx_max)
                    )
                value = tokens
            case "think" | "footer":
                switch = _on_off(raw)
                if switch is None:
                    return Refusal(SettingProblem.NOT_ON_OFF)
                if setting == "think" and current.model is None:
                    return Refusal(SettingProblem.MODEL_UNKNOWN)
                if setting == "think" and not current.can_think:
                    return Refusal(SettingProblem.CANNOT_THINK)
                value = switch
            case "voice_language":
                if (language := voice_language(raw)) is None:
                    return Refusal(SettingProblem.UNKNOWN_LANGUAGE)
                value = None if language == VOICE_AUTO else language
        await self._store.remember_user(user)
        await self._store.set_setting(user.id, setting, value)
        return None

    async def reset(self, user: UserProfile) -> None:
        """Every generation setting back to the configured default, and voice to any language."""
        await self._store.remember_user(user)
        await self._store.reset_generation_settings(user.id)
        await self._store.set_setting(user.id, "voice_language", None)


def _first(mine: T | None, default: T) -> T:
    return default if mine is None else mine


def _number(raw: str) -> float | None:
    try:
        return float(raw.strip().replace(",", "."))
    except ValueError:
        return None


def _tokens(raw: str) -> int | None:
    """`8192`, `8k` or `8K` (× 1024) as a token count."""
    match = _TOKENS.fullmatch(raw.strip().lower())
    if match is None:
        return None
    return int(match.group(1)) * (1024 if match.group(2) else 1)


def _on_off(raw: str) -> bool | None:
    word = raw.strip().lower()
    return True if word in _ON else False if word in _OFF else None


def voice_language(raw: str) -> str | None:
    """`auto`, or the code of one of VOICE_LANGUAGES typed as its code or either name
    ("de", "German", "Deutsch"); None when it is none of them."""
    word = raw.strip().lower()
    if word == VOICE_AUTO or word in VOICE_LANGUAGES:
        return word
    return next(
        (code for code, names in VOICE_LANGUAGES.items() if word in {n.lower() for n in names}),
        None,
    )
