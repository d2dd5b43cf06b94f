"""Every sentence the bot says, looked up by key in one catalog per language.

Handlers never hold user-facing literals: they call `say(key, lang, **values)`. A language
without a catalog, or a key missing from one, falls back to English.
"""

from __future__ import annotations

from bot.errors import (
    BotError,
    DownloadFailed,
    FileTooBig,
    LeftQueue,
    ManagedElsewhere,
    ModelFailed,
    ModelNotFound,
    ModelTimeout,
    NoModelInstalled,
    NothingHeard,
    NoTranscriber,
    NoVisionModel,
    OllamaUnavailable,
    ReadingStopped,
    ServerTranscriptionFailed,
    ServerUnavailable,
    ShuttingDown,
    StaleAnswer,
    StreamBroken,
    TooFewModels,
    TranscriptionFailed,
    UnreadableFile,
    VoiceTooLong,
)
from bot.notices import (
    ContextTrimmed,
    DocumentCut,
    ImagesCut,
    ModelReplaced,
    Notice,
    RoleReplaced,
)
from bot.texts import en, zh

CATALOGS: dict[str, dict[str, str]] = {"en": en.MESSAGES, "zh": zh.MESSAGES}
MB = 1024 * 1024  # file sizes as Telegram counts its limits
FALLBACK = "en"


def catalog_language(language_code: str | None) -> str:
    """The catalog for a Telegram `language_code` such as "en-US" or "zh-hans"."""
    if not language_code:
        return FALLBACK
    base = language_code.lower().split("-")[0]
    return base if base in CATALOGS else FALLBACK


def say(key: str, language_code: str | None = None, /, **values: object) -> str:
    """The sentence `key` in the user's language, with `values` filled in."""
    catalog = CATALOGS[catalog_language(language_code)]
    template = catalog.get(key) or CATALOGS[FALLBACK][key]
    return template.format(**values) if values else template


def clock_length(seconds: float) -> str:
    """A length of audio as a clock shows it: 75 → "1:15"."""
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def describe_error(error: BotError, language_code: str | None = None) -> str:
    """One line a user can act on: what failed, where, and what to do."""
    match error:
        case LeftQueue():
            return say("left_queue", language_code)
        case ReadingStopped():
            return say("reading_stopped", language_code)
        case TooFewModels():
            return say("compare_too_few", language_code)
        case NoVisionModel():
            key = "error_vision_model_blind" if error.installed else "error_no_vision"
            return say(key, language_code, model=error.model, host=error.host)
        case FileTooBig():
            return say(
                "error_file_too_big",
                language_code,
                name=error.name,
                size=f"{error.size / MB:.1f}",
                limit=f"{error.limit / MB:g}",
            )
        case UnreadableFile():
            reason = say(f"unreadable_{error.reason}", language_code, **error.details)
            return say("error_unreadable", language_code, name=error.name, reason=reason)
        case DownloadFailed():
            return say("error_download", language_code, name=error.name, detail=error.detail)
        case VoiceTooLong() | NoTranscriber() | NothingHeard() | TranscriptionFailed():
            return _voice_problem(error, language_code)
        case StaleAnswer():
            return say("stale_answer", language_code)
        case ServerUnavailable():
            return say("error_server_unavailable", language_code, host=error.host)
        case ManagedElsewhere():
            return say("error_managed_elsewhere", language_code, name=error.name)
        case OllamaUnavailable():
            return say("error_unavailable", language_code, host=error.host)
        case ModelNotFound():
            return say("error_model_not_found", language_code, model=error.model, host=error.host)
        case NoModelInstalled():
            return say("error_no_model", language_code, host=error.host)
        case ModelTimeout():
            return say(
                "error_timeout", language_code, model=error.model, seconds=f"{error.seconds:g}"
            )
        case StreamBroken():
            return say("error_stream_broken", language_code, host=error.host)
        case ModelFailed():
            return say("error_model_failed", language_code, model=error.model, detail=error.detail)
        case ShuttingDown():
            return say("shutting_down", language_code)
        case _:
            return say("error_unexpected", language_code)


def _voice_problem(
    error: VoiceTooLong | NoTranscriber | NothingHeard | TranscriptionFailed,
    language_code: str | None,
) -> str:
    """Why a voice message was not heard."""
    match error:
        case VoiceTooLong():
            length, limit = clock_length(error.seconds), clock_length(error.limit)
            return say(
                "error_voice_too_long", language_code, name=error.name, length=length, limit=limit
            )
        case NoTranscriber():
            if error.model is not None:
                return say("error_audio_model_deaf", language_code, model=error.model)
            return say("error_no_transcriber", language_code)
        case NothingHeard():
            return say("error_nothing_heard", language_code, name=error.name)
        case ServerTranscriptionFailed():
            reason = _transcription_server_problem(error.cause, language_code)
            return say("error_transcription_failed", language_code, name=error.name, reason=reason)
        case _:
            reason = describe_error(error.cause, language_code)
            return say("error_transcription_failed", language_code, name=error.name, reason=reason)


def _transcription_server_problem(cause: BotError, language_code: str | None) -> str:
    """What went wrong at TRANSCRIBE_BASE_URL, and what its admin can do about it."""
    match cause:
        case OllamaUnavailable():  # ServerUnavailable: nothing answers at that address
            return say("transcriber_down", language_code, host=cause.host)
        case ModelNotFound():
            return say("transcriber_not_found", language_code, model=cause.model, host=cause.host)
        case ModelTimeout():
            return say("transcriber_timeout", language_code, seconds=f"{cause.seconds:g}")
        case ModelFailed():
            return say("transcriber_failed", language_code, detail=cause.detail)
        case _:
            return say("transcriber_failed", language_code, detail=str(cause))


def describe_notice(notice: Notice, language_code: str | None = None) -> str:
    """A notice shown before an answer."""
    match notice:
        case ModelReplaced():
            return say("model_replaced", language_code, removed=notice.removed, now=notice.now)
        case RoleReplaced():
            return say("role_replaced", language_code, removed=notice.removed, now=notice.now)
        case DocumentCut():
            return say("document_cut", language_code, name=notice.name)
        case ImagesCut():
            return say("images_cut", language_code, kept=notice.kept, sent=notice.sent)
        case ContextTrimmed():
            return say("context_trimmed", language_code)
