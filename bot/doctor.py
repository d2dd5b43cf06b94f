"""`ollagram doctor`: checks everything the bot needs, one ✓/✗ line each with the fix."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from bot.config import Settings
from bot.errors import BotError, StoreUnavailable
from bot.llm import InstalledModel, OllamaGateway
from bot.models import find_installed
from bot.store import MIGRATIONS, Store


@dataclass(frozen=True, slots=True)
class Finding:
    """One check: passed or not, what was found, and how to fix it."""

    ok: bool
    text: str
    fix: str = ""

    def line(self) -> str:
        """`✓ text` or `✗ text — fix`."""
        return f"✓ {self.text}" if self.ok else f"✗ {self.text} — {self.fix}"


TokenCheck = Callable[[Settings], Awaitable[Finding]]


async def examine(settings: Settings, check_token: TokenCheck) -> list[Finding]:
    """Every check, in the order a newcomer would fix them."""
    findings = [_config(settings), await check_token(settings)]
    findings += await _ollama(settings)
    findings.append(await _database(settings))
    return findings


def _config(settings: Settings) -> Finding:
    users, admins = len(settings.allowed_user_ids), len(settings.admin_user_ids)
    text = f"settings read: {users} allowed user(s), {admins} admin(s)"
    if users + admins == 0:
        return Finding(
            False,
            text,
            "nobody can chat: put your Telegram id in ALLOWED_USER_IDS or ADMIN_USER_IDS",
        )
    return Finding(True, text)


async def _ollama(settings: Settings) -> list[Finding]:
    gateway = OllamaGateway(settings.ollama_host, timeout_s=10.0)
    host = settings.ollama_host
    try:
        version = await gateway.version()
        installed = await gateway.installed_models()
    except BotError:
        return [
            Finding(
                False,
                f"Ollama at {host} is not reachable",
                "start it (`ollama serve` or `systemctl start ollama`) or fix OLLAMA_HOST",
            )
        ]
    finally:
        await gateway.close()
    findings = [Finding(True, f"Ollama {version} at {host}, {len(installed)} model(s) installed")]
    if settings.default_model:
        findings.append(_installed("DEFAULT_MODEL", settings.default_model, installed))
    elif installed:
        findings.append(Finding(True, f"DEFAULT_MODEL unset: users get {installed[0].name}"))
    else:
        findings.append(Finding(False, "no model is installed", "ollama pull llama3.2"))
    findings.append(_installed("VISION_MODEL", settings.vision_model, installed))
    return findings


def _installed(variable: str, name: str, installed: Sequence[InstalledModel]) -> Finding:
    found = find_installed(name, installed)
    if found is None:
        return Finding(False, f"{variable} {name} is not installed", f"ollama pull {name}")
    return Finding(True, f"{variable} {name} is installed ({found.name})")


async def _database(settings: Settings) -> Finding:
    path = settings.database_path
    try:
        store = await Store.open(path)
    except StoreUnavailable as err:
        return Finding(False, f"database {path}: {err.reason}", "fix DATABASE_PATH or its folder")
    try:
        version = await store.schema_version()
        await store.check_writable()
    except BotError as err:
        return Finding(False, f"database {path}: {err}", "fix the file's permissions")
    finally:
        await store.close()
    return Finding(True, f"database {path}: writable, schema {version} of {len(MIGRATIONS)}")
