"""Command line: `ollagram [run]` starts the bot with `config.env`."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import DEFAULT_ENV_FILE, Settings, load_settings
from bot.errors import ConfigError

if TYPE_CHECKING:
    from bot.doctor import TokenCheck


_STANDARD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class RedactingFormatter(logging.Formatter):
    """Formats as text or one JSON object a line, then blanks the bot token wherever it
    appears, tracebacks included."""

    def __init__(self, secret: str, *, as_json: bool) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")
        self._secret = secret
        self._as_json = as_json

    def format(self, record: logging.LogRecord) -> str:
        line = self._json(record) if self._as_json else super().format(record)
        return line.replace(self._secret, "<token>") if self._secret else line

    def _json(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(
            (key, value)
            for key, value in record.__dict__.items()
            if key not in _STANDARD_ATTRIBUTES
        )
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(settings: Settings) -> None:
    """Plain lines on stderr (journald adds the time); no message text, never the token."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        RedactingFormatter(
            settings.telegram_bot_token.get_secret_value(), as_json=settings.log_format == "json"
        )
    )
    logging.basicConfig(level=settings.log_level, handlers=[handler], force=True)
    # LOG_LEVEL=DEBUG is for our own code: the libraries' debug lines carry whole updates and
    # queries (message text), and httpx logs every request URL, which holds the token.
    for library in ("telegram", "aiosqlite", "asyncio"):
        logging.getLogger(library).setLevel(
            max(logging.INFO, logging.getLevelName(settings.log_level))
        )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


def where_to_set(err: ConfigError, config: Path) -> str:
    """A hint for a missing setting: which file a newcomer should create or edit."""
    if not err.problem.startswith("missing") or config.is_file():
        return ""
    if os.environ.get("INVOCATION_ID"):  # started by systemd: the unit's EnvironmentFile
        return " (the service reads /etc/ollagram/config.env)"
    return f" ({config} not found: cp config.example.env {config})"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `ollagram` script and of `python -m bot`."""
    parser = argparse.ArgumentParser(
        prog="ollagram", description="Private Telegram chat with the models of your own Ollama."
    )
    parser.add_argument(
        "command",
        nargs="?",
        default="run",
        choices=["run", "doctor"],
        help="run the bot (default), or doctor: check settings, token, Ollama, models, database",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="settings file (default: config.env if present); the environment overrides it",
    )
    args = parser.parse_args(argv)
    config: Path = args.config or DEFAULT_ENV_FILE
    if args.config is not None and not config.is_file():
        print(f"ollagram: configuration error: {config} does not exist", file=sys.stderr)
        return 2
    try:
        settings = load_settings(config if config.is_file() else None)
    except OSError as err:
        print(f"ollagram: cannot read {config}: {err.strerror}", file=sys.stderr)
        return 2
    except ConfigError as err:
        print(f"ollagram: configuration error: {err}{where_to_set(err, config)}", file=sys.stderr)
        return 2
    configure_logging(settings)
    # Imported late: a configuration error prints before the libraries load.
    from bot.telegram.serving import check_token, run

    if args.command == "doctor":
        return diagnose(settings, check_token)
    return run(settings)


def diagnose(settings: Settings, check_token: TokenCheck) -> int:
    """Print one ✓/✗ line per check; 0 only when all pass."""
    from bot.doctor import examine

    findings = asyncio.run(examine(settings, check_token))
    for finding in findings:
        print(finding.line())
    return 0 if all(f.ok for f in findings) else 1
