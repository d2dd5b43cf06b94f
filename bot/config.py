"""Every option of ollagram, read from the environment and `config.env`, validated once."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.errors import ConfigError
from bot.roles import BUILTIN_ROLES, Role, load_roles_file

IdSet = Annotated[frozenset[int], NoDecode]
StreamMode = Literal["auto", "edit"]
DEFAULT_ENV_FILE = Path("config.env")
# One answer's cap: a model that never stops costs a GPU's minutes and floods the chat.
DEFAULT_MAX_ANSWER_TOKENS = 4096
DEFAULT_MAX_ANSWER_PAGES = 12


_ID_SEPARATORS = re.compile(r"[,;\s]+")
_ID = re.compile(r"-?[0-9]+")


def parse_id_list(raw: object) -> frozenset[int]:
    """Parse `"1, 2,-100123"` (commas, semicolons or spaces between) into ids; raise ValueError
    naming the first bad item."""
    if raw is None:
        return frozenset()
    if isinstance(raw, int):
        return frozenset({raw})
    if isinstance(raw, list | tuple | set | frozenset):
        items = [str(item) for item in raw]
    elif isinstance(raw, str):
        items = _ID_SEPARATORS.split(raw)
    else:
        raise TypeError(f"expected comma-separated numeric ids, got {type(raw).__name__}")
    ids: set[int] = set()
    for item in (part.strip() for part in items):
        if not item:
            continue
        if not _ID.fullmatch(item):  # int() would also take "1_000", "+5" and other scripts' digits
            raise ValueError(f"{item!r} is not a numeric Telegram id")
        ids.add(int(item))
    return frozenset(ids)


def ollama_url(host: str) -> str:
    """OLLAMA_HOST as Ollama itself reads it (`127.0.0.1`, `:11434`, `host:port`) as a full URL."""
    host = host.strip().rstrip("/") or "127.0.0.1"
    scheme, _, rest = host.rpartition("://")
    scheme = scheme or "http"
    if rest.startswith(":"):
        rest = "127.0.0.1" + rest
    authority = rest.split("/", 1)[0]
    if ":" not in authority.rsplit("]", 1)[-1]:  # no port (an IPv6 address keeps its colons)
        default_port = 443 if scheme == "https" else 11434
        rest = rest.replace(authority, f"{authority}:{default_port}", 1)
    return f"{scheme}://{rest}"


_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_GO_DURATION = re.compile(r"^[-+]?(\d+(\.\d*)?(ns|us|µs|ms|s|m|h))+$")


def keep_alive_value(raw: object) -> str | int | None:
    """KEEP_ALIVE as Ollama takes it: a number of seconds (-1: forever) or a Go duration ("5m").

    Ollama rejects a number written as a string ("-1"), so bare numbers become numbers.
    """
    if raw is None or isinstance(raw, int):
        return raw
    text = str(raw).strip()
    if not text:
        return None
    try:
        return int(float(text))
    except ValueError:
        pass
    if _GO_DURATION.match(text):
        return text
    raise ValueError(
        f"{text!r} is not a duration: use seconds (-1 keeps the model loaded) or 5m, 1h"
    )


def default_database_path() -> Path:
    """`$STATE_DIRECTORY/ollagram.sqlite3` under systemd, else `./data/ollagram.sqlite3`."""
    state_dirs = os.environ.get("STATE_DIRECTORY", "")
    # systemd may pass several directories separated by ':'; the first is ours.
    state_dir = state_dirs.split(":")[0]
    base = Path(state_dir) if state_dir else Path("data")
    return base / "ollagram.sqlite3"


class Settings(BaseSettings):
    """All options; environment variables win over `config.env`."""

    model_config = SettingsConfigDict(
        env_file=DEFAULT_ENV_FILE,
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        hide_input_in_errors=True,
    )

    telegram_bot_token: SecretStr
    telegram_api_url: str = "https://api.telegram.org"
    # One Ollama server, or several separated by commas (a GPU desktop and a laptop).
    ollama_host: str = "http://127.0.0.1:11434"
    # An OpenAI-compatible server (LM Studio, llamafile, llama.cpp's server, vLLM…), optional.
    openai_base_url: str | None = None
    openai_api_key: SecretStr | None = None
    openai_name: str | None = None
    allowed_user_ids: IdSet = frozenset()
    admin_user_ids: IdSet = frozenset()
    allowed_chat_ids: IdSet = frozenset()
    database_path: Path = Field(default_factory=default_database_path)
    default_model: str | None = None
    vision_model: str = "llava"
    # Text files and PDFs up to this size are read (Telegram hands bots files up to 20 MB).
    max_document_mb: float = Field(default=10.0, gt=0, le=20)
    # Voice: an OpenAI-compatible transcription server (speaches, whisper.cpp's server…) is used
    # when set; otherwise AUDIO_MODEL, or an installed Ollama model that hears.
    transcribe_base_url: str | None = None
    transcribe_model: str = "Systran/faster-whisper-small"
    transcribe_api_key: SecretStr | None = None
    audio_model: str | None = None
    # Longer voice notes and audio files are refused before they are downloaded.
    max_voice_seconds: int = Field(default=300, ge=1, le=3600)
    # Roles: ROLES_FILE (TOML) adds to the built-in ones; DEFAULT_ROLE may name either kind.
    roles_file: Path | None = None
    default_role: str = "assistant"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["text", "json"] = "text"

    # Streaming: how often a visible answer may change, per kind of chat.
    stream_mode: StreamMode = "auto"
    edit_interval_private: float = Field(default=1.0, ge=0.05, le=60)
    edit_interval_group: float = Field(default=3.0, ge=0.05, le=60)
    draft_interval: float = Field(default=0.3, ge=0.05, le=60)
    pull_progress_interval: float = Field(default=2.0, ge=0.05, le=60)
    # Model requests.
    num_ctx: int = Field(default=8192, ge=256, le=1_048_576)
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    # The longest answer, in tokens (Ollama's num_predict, the OpenAI API's max_tokens); blank:
    # the default; 0: no cap, the model stops by itself.
    max_answer_tokens: int = Field(default=DEFAULT_MAX_ANSWER_TOKENS, ge=0)
    # The most messages one answer fills; past them the model is stopped and the answer cut.
    max_answer_pages: int = Field(default=DEFAULT_MAX_ANSWER_PAGES, ge=1, le=1000)
    keep_alive: str | int | None = None
    ollama_timeout: float = Field(default=300.0, gt=0)
    # Seconds to wait for Telegram to answer a call; a timed-out call is tried again.
    telegram_timeout: float = Field(default=15.0, gt=0, le=300)
    # /compare: how many models answer at once (a home GPU serves one at a time).
    compare_concurrency: int = Field(default=1, ge=1, le=4)
    # Model answers written at once for everyone; the rest wait in line, first come first served.
    max_concurrent_answers: int = Field(default=1, ge=1, le=64)
    # Messages older than this many days are deleted (checked at start and daily); unset: kept.
    history_retention_days: float | None = Field(default=None, gt=0)
    # Log the text of questions and answers (off: logs never hold what people wrote).
    log_content: bool = False
    # The model names each new conversation (a topic's name, /chats) after its first answer:
    # one short extra request. Off: conversations stay "Untitled" until renamed.
    auto_titles: bool = True
    # Seconds that answers being written get to finish when the service stops.
    shutdown_grace: float = Field(default=10.0, ge=0, le=600)
    # Webhook mode (behind a reverse proxy): Telegram POSTs updates to WEBHOOK_URL, which the
    # proxy forwards to WEBHOOK_LISTEN:WEBHOOK_PORT. Unset: the bot polls (the default).
    webhook_url: str | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    webhook_secret: SecretStr | None = None

    @field_validator("allowed_user_ids", "admin_user_ids", "allowed_chat_ids", mode="before")
    @classmethod
    def _split_ids(cls, raw: object) -> frozenset[int]:
        return parse_id_list(raw)

    @field_validator("telegram_bot_token")
    @classmethod
    def _token_present(cls, token: SecretStr) -> SecretStr:
        if not token.get_secret_value().strip():
            raise ValueError("is empty")
        return token

    @field_validator("telegram_api_url")
    @classmethod
    def _strip_slash(cls, url: str) -> str:
        return url.strip().rstrip("/")

    @field_validator("ollama_host")
    @classmethod
    def _full_ollama_url(cls, host: str) -> str:
        hosts = [ollama_url(part) for part in host.split(",") if part.strip()]
        return ",".join(dict.fromkeys(hosts or [ollama_url("")]))  # each once, in order

    @field_validator(
        "openai_base_url",
        "openai_api_key",
        "openai_name",
        "transcribe_base_url",
        "transcribe_api_key",
        "audio_model",
        mode="before",
    )
    @classmethod
    def _blank_openai_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("openai_base_url", "transcribe_base_url")
    @classmethod
    def _openai_url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        url = url.strip().rstrip("/")
        if urlsplit(url).scheme not in {"http", "https"} or not urlsplit(url).netloc:
            raise ValueError("use the server's full address, e.g. http://127.0.0.1:1234/v1")
        return url

    def ollama_hosts(self) -> list[str]:
        """Every Ollama server, as full URLs."""
        return self.ollama_host.split(",")

    @field_validator("webhook_url", "webhook_secret", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("webhook_url")
    @classmethod
    def _https_webhook(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url.strip())
        loopback = parts.hostname in {"127.0.0.1", "localhost", "::1"}
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            raise ValueError("Telegram only calls https:// addresses (your reverse proxy's)")
        return url.strip()

    @field_validator("webhook_secret")
    @classmethod
    def _secret_token(cls, secret: SecretStr | None) -> SecretStr | None:
        if secret is not None and not _SECRET_TOKEN.fullmatch(secret.get_secret_value()):
            raise ValueError(
                "use 1-256 letters, digits, _ or - (Telegram's rule for secret tokens)"
            )
        return secret

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        if self.webhook_url and self.webhook_secret is None:
            raise ValueError("required when WEBHOOK_URL is set (1-256 letters, digits, _ or -)")
        return self

    @field_validator("default_model", "history_retention_days", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("max_answer_tokens", "max_answer_pages", "max_voice_seconds", mode="before")
    @classmethod
    def _empty_is_default(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str) and not value.strip():
            return cls.model_fields[str(info.field_name)].default
        return value

    @field_validator("keep_alive", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> str | int | None:
        return keep_alive_value(value)

    @field_validator("roles_file", mode="before")
    @classmethod
    def _blank_path_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("roles_file")
    @classmethod
    def _readable_roles(cls, path: Path | None) -> Path | None:
        if path is not None:
            load_roles_file(path)  # a broken file stops the start with its reason
        return path

    @field_validator("default_role")
    @classmethod
    def _known_role(cls, role: str, info: ValidationInfo) -> str:
        roles_file = info.data.get("roles_file")
        known = (
            [*BUILTIN_ROLES, *(r.name for r in load_roles_file(roles_file))]
            if isinstance(roles_file, Path)
            else list(BUILTIN_ROLES)
        )
        if role not in known:
            raise ValueError(f"{role!r} is not a role; one of: {', '.join(known)}")
        return role

    def file_roles(self) -> list[Role]:
        """The roles of ROLES_FILE (none without one)."""
        return load_roles_file(self.roles_file) if self.roles_file else []

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


def load_settings(env_file: Path | None = DEFAULT_ENV_FILE, **overrides: Any) -> Settings:
    """Read the settings, or raise ConfigError naming the first bad variable (never its value)."""
    try:
        return Settings(_env_file=env_file, **overrides)
    except ValidationError as err:
        first = err.errors()[0]
        variable = str(first["loc"][0]).upper() if first["loc"] else "WEBHOOK_SECRET"
        if first["type"] == "missing":
            problem = "missing; set it in config.env or the environment (see config.example.env)"
        else:
            problem = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(variable, problem) from None
