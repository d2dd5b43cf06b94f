"""`ollagram doctor`: checks everything the bot needs, one ✓/✗ line each with the fix."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import numpy as np

from bot import audio
from bot.config import Settings
from bot.errors import BotError, LLMError, ModelNotFound, OllamaUnavailable
from bot.llm import BackendReport, InstalledModel, ModelRouter
from bot.llm.openai_compat import SpeechServer
from bot.llm.servers import model_servers, speech_server
from bot.models import ModelCatalog, find_installed
from bot.store import MIGRATIONS, inspect_database


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
    servers = model_servers(settings)
    try:
        findings = [_server_finding(report) for report in await servers.reports()]
        if not any(finding.ok for finding in findings):
            # A transcription server needs no model server: its line is still worth having.
            if (server := speech_server(settings)) is not None:
                findings.append(await _transcription_server(server, settings))
            return findings
        installed = await servers.installed_models()
        return [
            *findings,
            *_model_findings(settings, installed),
            await _vision_model(servers, settings.vision_model, installed),
            await _default_model(servers),
            await _voice(servers, settings, installed),
        ]
    finally:
        await servers.close()


def _server_finding(report: BackendReport) -> Finding:
    if report.version is None:
        fix = (
            "start it (`ollama serve` or `systemctl start ollama`) or fix OLLAMA_HOST"
            if report.kind == "Ollama"
            else "start that server (LM Studio's server, llamafile…) or fix OPENAI_BASE_URL"
        )
        return Finding(False, f"{report.kind} at {report.host} is not reachable", fix)
    version = f"{report.kind} {report.version}" if report.kind == "Ollama" else report.kind
    return Finding(True, f"{version} at {report.host}, {report.models} model(s) installed")


def _model_findings(settings: Settings, installed: Sequence[InstalledModel]) -> list[Finding]:
    if settings.default_model:
        return [_installed("DEFAULT_MODEL", settings.default_model, installed)]
    return []


async def _vision_model(
    gateway: ModelRouter, name: str, installed: Sequence[InstalledModel]
) -> Finding:
    found = _installed("VISION_MODEL", name, installed)
    if not found.ok:
        fix = f"ollama pull {name} (until then photos are answered only by models that can see)"
        return Finding(False, found.text, fix)
    model = find_installed(name, installed)
    capabilities = (await gateway.model_facts(model.name)).capabilities if model else frozenset()
    if capabilities and "vision" not in capabilities:
        return Finding(
            False,
            f"VISION_MODEL {name} cannot see images (it can: {', '.join(sorted(capabilities))})",
            "set VISION_MODEL to a model with vision, e.g. llava or gemma3",
        )
    return found


async def _default_model(gateway: ModelRouter) -> Finding:
    try:
        model = await ModelCatalog(gateway, None).default_model()
    except BotError:
        return Finding(False, "no installed model can chat", "ollama pull llama3.2")
    return Finding(True, f"without a choice of their own, users get {model}")


HEAR_FIX = "ollama pull gemma4:e2b, or set TRANSCRIBE_BASE_URL to a transcription server"


async def _voice(
    gateway: ModelRouter, settings: Settings, installed: Sequence[InstalledModel]
) -> Finding:
    """Who hears voice messages. Voice is optional: only a way that is set and does not work
    fails; with none set, the line says how to have one."""
    if (server := speech_server(settings)) is not None:
        return await _transcription_server(server, settings)
    if settings.audio_model:
        found = _installed("AUDIO_MODEL", settings.audio_model, installed)
        if not found.ok:
            return found
        model = find_installed(settings.audio_model, installed)
        hears = model is not None and await _hears(gateway, model.name)
        if not hears:
            return Finding(
                False,
                f"AUDIO_MODEL {settings.audio_model} cannot hear audio",
                "set AUDIO_MODEL to a model whose capabilities include audio, e.g. gemma4:e2b",
            )
        return Finding(True, f"voice messages are heard by AUDIO_MODEL {settings.audio_model}")
    for model in installed:
        if await _hears(gateway, model.name):
            return Finding(True, f"voice messages are heard by {model.name} (it hears audio)")
    return Finding(True, f"voice messages are not heard: nothing here transcribes ({HEAR_FIX})")


async def _hears(gateway: ModelRouter, model: str) -> bool:
    try:
        return "audio" in (await gateway.model_facts(model)).capabilities
    except LLMError:
        return False


async def _transcription_server(server: SpeechServer, settings: Settings) -> Finding:
    """Transcribe a second of silence: the server answers, and knows TRANSCRIBE_MODEL."""
    where = f"transcription server {settings.transcribe_base_url}"
    try:
        await server.transcribe(audio.wav_bytes(np.zeros(audio.SAMPLE_RATE, np.int16)), None)
    except OllamaUnavailable:
        return Finding(False, f"{where} is not reachable", "start it or fix TRANSCRIBE_BASE_URL")
    except ModelNotFound:
        return Finding(
            False,
            f"{where} has no model {settings.transcribe_model}",
            "fix TRANSCRIBE_MODEL (the name the server lists)",
        )
    except LLMError as err:
        return Finding(False, f"{where} failed: {err}", "see the server's log")
    finally:
        await server.close()
    return Finding(True, f"voice messages are heard by the {where} ({settings.transcribe_model})")


def _installed(variable: str, name: str, installed: Sequence[InstalledModel]) -> Finding:
    found = find_installed(name, installed)
    if found is None:
        return Finding(False, f"{variable} {name} is not installed", f"ollama pull {name}")
    return Finding(True, f"{variable} {name} is installed ({found.name})")


async def _database(settings: Settings) -> Finding:
    path = settings.database_path
    state = await inspect_database(path)
    if state.error:
        return Finding(False, f"database {path}: {state.error}", "fix DATABASE_PATH or permissions")
    if not state.exists:
        return Finding(True, f"database {path}: not created yet; its folder is writable")
    schema = f"schema {state.version} of {len(MIGRATIONS)}"
    if state.version < len(MIGRATIONS):
        return Finding(True, f"database {path}: writable, {schema} (the rest applies at start)")
    return Finding(True, f"database {path}: writable, {schema}")
