"""Texts built from data: pull progress, model labels, /status. Pure."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from bot.installer import PullCancelled, PullFailed, PullOutcome, PullProgress, PullSucceeded
from bot.llm.types import InstalledModel, LoadedModel
from bot.notices import AnswerFooter
from bot.records import ExportedMessage, Usage
from bot.render import close_open_fence
from bot.status import StatusReport
from bot.texts import describe_error, say

BAR_CELLS = 12
MB = 1_000_000


def human_bytes(size: int) -> str:
    """`3825819519` → `3.8 GB` (decimal units, as Ollama shows them)."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def human_duration(seconds: float) -> str:
    """`83` → `1:23`, `3723` → `1:02:03`."""
    whole = max(math.ceil(seconds), 0)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def progress_bar(fraction: float) -> str:
    """A bar of 12 cells, `fraction` of them full."""
    full = round(max(0.0, min(fraction, 1.0)) * BAR_CELLS)
    return "▰" * full + "▱" * (BAR_CELLS - full)


def model_label(model: InstalledModel, *, current: bool) -> str:
    """A button's text: name, parameter size, quantization, size on disk, and where it lives
    when there are several servers (OpenAI-compatible servers tell no size)."""
    facts = " ".join(part for part in (model.parameter_size, model.quantization) if part)
    size = human_bytes(model.size_bytes) if model.size_bytes else ""
    parts = [model.name, facts, size, f"@ {model.location}" if model.location else ""]
    return ("✅ " if current else "") + " · ".join(p for p in parts if p)


def pull_progress_text(progress: PullProgress, lang: str | None) -> str:
    """The live pull message: status, bar, percent, MB, speed, time left."""
    fraction = progress.fraction
    if fraction is None:
        return say("pull_progress", lang, model=progress.model, status=progress.status)
    speed = (
        say("pull_speed", lang, mb_per_s=progress.bytes_per_s / MB)
        if progress.bytes_per_s
        else say("pull_speed_unknown", lang)
    )
    eta = (
        say("pull_eta", lang, eta=human_duration(progress.eta_s))
        if progress.eta_s is not None
        else say("pull_eta_unknown", lang)
    )
    return say(
        "pull_progress_sized",
        lang,
        model=progress.model,
        status=progress.status,
        bar=progress_bar(fraction),
        percent=f"{fraction * 100:.0f}%",
        done=f"{progress.completed / MB:,.0f}",
        total=f"{progress.total / MB:,.0f}",
        speed=speed,
        eta=eta,
    )


def pull_outcome_text(outcome: PullOutcome, lang: str | None) -> str:
    """The pull message once it ended."""
    match outcome:
        case PullSucceeded():
            return say("pull_done", lang, model=outcome.model)
        case PullCancelled():
            return say("pull_cancelled", lang, model=outcome.model)
        case PullFailed():
            detail = getattr(outcome.error, "detail", None) or describe_error(outcome.error, lang)
            return say("pull_failed", lang, model=outcome.model, detail=detail)


def _loaded_text(model: LoadedModel, lang: str | None, now: datetime) -> str:
    if model.expires_at is None or model.expires_at.year > now.year + 100:
        expiry = say("status_kept", lang)
    else:
        left = (model.expires_at - now).total_seconds()
        expiry = say("status_expires", lang, left=human_duration(left))
    return say(
        "status_loaded",
        lang,
        model=model.name,
        size=human_bytes(model.size_bytes),
        vram=human_bytes(model.vram_bytes),
        expiry=expiry,
    )


def status_text(report: StatusReport, lang: str | None, now: datetime | None = None) -> str:
    """/status: Ollama, its models, the bot, and for admins the number of users."""
    now = now or datetime.now(UTC)
    up = report.version is not None
    state = say("status_up", lang, version=report.version) if up else say("status_down", lang)
    loaded = (
        "; ".join(_loaded_text(m, lang, now) for m in report.loaded)
        if report.loaded
        else say("status_none_loaded", lang)
    )
    text = say(
        "status",
        lang,
        host=report.host,
        state=state,
        installed=report.installed_count
        if report.installed_count is not None
        else say("status_unknown", lang),
        loaded=loaded if up else say("status_unknown", lang),
        uptime=human_duration(report.uptime_s),
        database=human_bytes(report.database_bytes),
    )
    for server in report.servers:
        state = (
            say("status_server_up", lang, version=server.version, models=server.models)
            if server.version is not None
            else say("status_down", lang)
        )
        text += "\n" + say("status_server", lang, name=server.name, host=server.host, state=state)
    if report.users is not None:
        text += "\n" + say("status_users", lang, users=report.users)
    return text


def human_seconds(seconds: float) -> str:
    """`4.26` → `4.3 s`, `83` → `1:23`."""
    return f"{seconds:.1f} s" if seconds < 60 else human_duration(seconds)


def footer_text(footer: AnswerFooter, lang: str | None) -> str:
    """The line under an answer: model · speed; in /compare tokens · speed · duration."""
    speed = footer.tokens_per_second
    parts = [] if footer.detailed else [footer.model]
    if footer.detailed and footer.figures.completion_tokens is not None:
        parts.append(say("footer_tokens", lang, tokens=footer.figures.completion_tokens))
    if speed is not None:
        parts.append(say("footer_speed", lang, speed=speed))
    if footer.detailed and footer.seconds is not None:
        parts.append(human_seconds(footer.seconds))
    return " · ".join(parts)


def thought_header(seconds: float | None, lang: str | None) -> str:
    """Above a thinking model's reasoning: "Thinking…" while it runs, then how long it took."""
    if seconds is None:
        return say("thinking_now", lang)
    return say("thought_for", lang, duration=human_seconds(seconds))


def _when(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M UTC")


def export_markdown(
    messages: list[ExportedMessage], name: str, lang: str | None, now: float
) -> str:
    """A user's conversations as one Markdown document, oldest first."""
    lines = [
        say("export_title", lang, name=name),
        "",
        say("export_exported", lang, date=_when(now)),
    ]
    conversation: int | None = None
    for message in messages:
        if message.conversation_id != conversation:
            conversation = message.conversation_id
            chat = (
                say("export_private_chat", lang)
                if message.chat_id > 0
                else say("export_group_chat", lang, chat_id=message.chat_id)
            )
            heading = say("export_conversation", lang, chat=chat, date=_when(message.created_at))
            if message.title:  # "## Conversation in …" becomes "## Title · conversation in …"
                heading = heading.replace("## ", f"## {message.title} · ", 1)
            lines += ["", heading]
        who = say("export_you", lang) if message.role == "user" else message.model or "?"
        lines += ["", f"**{who}** · {_when(message.created_at)}", ""]
        if message.images:
            lines.append(say("export_images", lang, count=message.images))
        if message.content:
            # An answer cut off inside a code block would turn the rest of the file into code.
            lines.append(close_open_fence(message.content))
        marker = {
            "stopped": "export_stopped",
            "error": "export_failed",
            "interrupted": "export_interrupted",
        }.get(message.status)
        if message.role == "assistant" and marker:
            lines.append(f"_{say(marker, lang)}_")
    return "\n".join(lines) + "\n"


def _speed(usage: Usage, lang: str | None) -> str:
    speed = usage.tokens_per_second
    if speed is None:
        return say("stats_speed_unknown", lang)
    return say("stats_speed", lang, speed=speed)


def stats_text(mine: Usage | None, everyone: list[Usage] | None, lang: str | None) -> str:
    """/stats: the user's own figures; for admins (`everyone`) each user's and the total."""
    parts = [
        say(
            "stats_mine",
            lang,
            answers=mine.answers,
            prompt_tokens=mine.prompt_tokens,
            completion_tokens=mine.completion_tokens,
            speed=_speed(mine, lang),
        )
        if mine
        else say("stats_none", lang)
    ]
    if everyone:
        parts += ["", say("stats_all", lang, users=len(everyone))]
        parts += [
            say(
                "stats_line",
                lang,
                name=u.name,
                answers=u.answers,
                prompt_tokens=u.prompt_tokens,
                completion_tokens=u.completion_tokens,
                speed=_speed(u, lang),
            )
            for u in everyone
        ]
        parts.append(
            say(
                "stats_total",
                lang,
                answers=sum(u.answers for u in everyone),
                prompt_tokens=sum(u.prompt_tokens for u in everyone),
                completion_tokens=sum(u.completion_tokens for u in everyone),
            )
        )
    return "\n".join(parts)


def loading_text(model: str, size_bytes: int, language_code: str | None = None) -> str:
    """ "⏳ Loading llama3.2 (2.0 GB)…": shown while the model is loaded into memory."""
    if size_bytes <= 0:
        return say("loading_unsized", language_code, model=model)
    return say("loading", language_code, model=model, size=human_bytes(size_bytes))
