"""Wiring: the one place that knows every part. Builds the PTB Application: the services, the
handlers over them, and their registration behind the access gate (bot.telegram.serving runs
it)."""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from typing import Any, TypeAlias

from telegram import BotCommand
from telegram.ext import (
    Application,
    ApplicationBuilder,
)

from bot.chat import ChatService
from bot.config import Settings
from bot.context import ChatDefaults
from bot.installer import ModelInstaller
from bot.languages import LanguageChoices
from bot.llm import ModelRouter
from bot.llm.servers import model_servers, speech_server
from bot.models import ModelCatalog, ModelPicker
from bot.preferences import PreferenceService
from bot.refusals import RefusalMemory
from bot.retention import Retention
from bot.roles import RoleBook
from bot.store import Store
from bot.telegram.access import AccessGate, AccessPolicy
from bot.telegram.answer_buttons import AnswerButtons
from bot.telegram.answer_streams import AnswerStreams
from bot.telegram.handlers.account import AccountHandlers
from bot.telegram.handlers.basics import BasicHandlers, ErrorReporter
from bot.telegram.handlers.chat import ChatHandlers
from bot.telegram.handlers.common import UnknownButtons
from bot.telegram.handlers.conversations import ConversationHandlers
from bot.telegram.handlers.installs import InstallHandlers
from bot.telegram.handlers.media import MediaHandlers
from bot.telegram.handlers.models import ModelHandlers
from bot.telegram.handlers.roles import RoleHandlers
from bot.telegram.handlers.settings import SettingsHandlers
from bot.telegram.handlers.voice import VoiceHandlers
from bot.telegram.pacing import (
    OVERALL_CALLS,
    OVERALL_WINDOW_S,
    ChatPacer,
    ChatRateLimiter,
    SendBudget,
)
from bot.telegram.routes import COMMANDS, register_handlers
from bot.texts import CATALOGS, FALLBACK, say
from bot.voice import VoiceService

# PTB's announced future: durations as timedelta. Opting in now keeps its deprecation warning
# (raised on every `RetryAfter.retry_after`) out of the logs; our code accepts both types.
os.environ.setdefault("PTB_TIMEDELTA", "true")

log = logging.getLogger(__name__)

BotApplication: TypeAlias = Application[Any, Any, Any, Any, Any, Any]

MAX_CONCURRENT_UPDATES = 256
RUNNING_WORK = "running_work"


def build_application(
    settings: Settings,
    *,
    store: Store | None = None,
    llm: ModelRouter | None = None,
    refusals: RefusalMemory | None = None,
) -> BotApplication:
    """The bot, wired: handlers registered, resources opened at start and closed at stop."""
    services = Services.wire(
        settings, store or Store(settings.database_path), llm or model_servers(settings)
    )
    app = telegram_application(settings, services)
    app.bot_data[RUNNING_WORK] = RunningWork(
        services.chat, services.installer, settings.shutdown_grace
    )
    gate = AccessGate(services.policy, services.budget, refusals)
    register_handlers(app, gate, Handlers.over(services, app, settings))
    app.add_error_handler(ErrorReporter(services.langs))
    return app


def chat_defaults(settings: Settings) -> ChatDefaults:
    """What answers use unless a user's settings say otherwise."""
    return ChatDefaults(
        temperature=settings.temperature,
        num_ctx=settings.num_ctx,
        keep_alive=settings.keep_alive,
        compare_concurrency=settings.compare_concurrency,
        concurrent_answers=settings.max_concurrent_answers,
        log_content=settings.log_content,
        max_answer_tokens=settings.max_answer_tokens,
        auto_titles=settings.auto_titles,
    )


@dataclass(frozen=True, slots=True)
class Services:
    """The parts the handlers work with, each built once, and the pacing every write into a
    chat shares."""

    settings: Settings
    store: Store
    llm: ModelRouter
    catalog: ModelCatalog
    roles: RoleBook
    defaults: ChatDefaults
    chat: ChatService
    picker: ModelPicker
    langs: LanguageChoices
    installer: ModelInstaller
    retention: Retention | None
    policy: AccessPolicy
    pacer: ChatPacer
    budget: SendBudget
    voice: VoiceService

    @classmethod
    def wire(cls, settings: Settings, store: Store, llm: ModelRouter) -> Services:
        """Every service over `store` and `llm` (nothing is opened yet: see `open`)."""
        catalog = ModelCatalog(llm, settings.default_model, settings.vision_model)
        roles = RoleBook(store, settings.file_roles(), settings.default_role)
        defaults = chat_defaults(settings)
        chat = ChatService(store, llm, catalog, roles, defaults)
        days = settings.history_retention_days
        return cls(
            settings=settings,
            store=store,
            llm=llm,
            catalog=catalog,
            roles=roles,
            defaults=defaults,
            chat=chat,
            picker=ModelPicker(store, catalog, on_switch=chat.warm_up),
            langs=LanguageChoices(store),
            installer=ModelInstaller(llm, catalog),
            retention=Retention(store, days) if days else None,
            policy=AccessPolicy(
                allowed_users=settings.allowed_user_ids,
                admins=settings.admin_user_ids,
                allowed_chats=settings.allowed_chat_ids,
            ),
            # One pacer for every message the bot writes into a chat: answers, progress, replies.
            pacer=ChatPacer(
                private_interval=settings.edit_interval_private,
                group_interval=settings.edit_interval_group,
            ),
            budget=SendBudget(OVERALL_CALLS, OVERALL_WINDOW_S),
            voice=VoiceService(
                llm,
                catalog,
                store,
                server=speech_server(settings),
                audio_model=settings.audio_model,
                max_seconds=settings.max_voice_seconds,
                num_ctx=settings.num_ctx,
                keep_alive=settings.keep_alive,
            ),
        )

    async def open(self, app: BotApplication) -> None:
        """PTB's post_init: open the database, load what is kept in memory, start the history
        retention, and tell Telegram the command menu."""
        await self.store.connect()
        await self.chat.load()
        await self.langs.load()
        if self.retention is not None:
            self.retention.start()
        for language in (None, *(code for code in CATALOGS if code != FALLBACK)):
            # Telegram shows each user the menu in their app's language (English otherwise).
            await app.bot.set_my_commands(
                [BotCommand(name, say(f"cmd_{name}", language)) for name in COMMANDS],
                language_code=language,
            )
        log.info("ollagram is up as @%s, models at %s", app.bot.username, self.llm.host)
        if not self.settings.allowed_user_ids:
            log.warning(
                "ALLOWED_USER_IDS is empty: only admins (ADMIN_USER_IDS) can chat. To let someone "
                "in, have them write to the bot, note the id it answers with, and add it to "
                "ALLOWED_USER_IDS in config.env."
            )

    async def close(self, app: BotApplication) -> None:
        """PTB's post_shutdown: stop the retention, close the model clients and the database."""
        if self.retention is not None:
            await self.retention.stop()
        await self.llm.close()
        await self.voice.close()
        await self.store.close()


def telegram_application(settings: Settings, services: Services) -> BotApplication:
    """The PTB application: where Telegram is, how updates run, the pacing of every write, and
    the services opened at start and closed at stop."""
    url = settings.telegram_api_url
    return (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(f"{url}/bot")
        .base_file_url(f"{url}/file/bot")
        # Updates run concurrently so /stop reaches a streaming answer; ChatService keeps the
        # answers of one (chat, user) in order.
        .concurrent_updates(MAX_CONCURRENT_UPDATES)
        # Generous by default: a send that timed out may still arrive, and its retry duplicates.
        .read_timeout(settings.telegram_timeout)
        .write_timeout(settings.telegram_timeout)
        .rate_limiter(ChatRateLimiter(services.pacer, services.budget))
        # Updates come in through bot/telegram/ingress.py, which reads them one at a time.
        .updater(None)
        .post_init(services.open)
        .post_shutdown(services.close)
        .build()
    )


@dataclass(frozen=True, slots=True)
class RunningWork:
    """What must be cut short before the application stops (it waits for running handlers)."""

    chat: ChatService
    installer: ModelInstaller
    grace_s: float

    async def stop(self) -> None:
        """Cancel pulls (their messages say so); let answers finish within the grace period,
        then cut them (kept as stopped)."""
        await asyncio.gather(self.installer.stop_all(), self.chat.close(self.grace_s))


@dataclass(frozen=True, slots=True)
class Handlers:
    """Every handler object, by area."""

    basics: BasicHandlers
    talk: ChatHandlers
    models: ModelHandlers
    installs: InstallHandlers
    roles: RoleHandlers
    settings: SettingsHandlers
    media: MediaHandlers
    voice: VoiceHandlers
    account: AccountHandlers
    conversations: ConversationHandlers
    unknown_buttons: UnknownButtons

    @classmethod
    def over(cls, services: Services, app: BotApplication, settings: Settings) -> Handlers:
        """The handlers over `services`, answers streamed through `app`'s bot."""
        s = services
        streams = AnswerStreams(
            app.bot,
            pacer=s.pacer,
            budget=s.budget,
            mode=settings.stream_mode,
            draft_interval=settings.draft_interval,
            max_pages=settings.max_answer_pages,
            buttons=AnswerButtons(app.bot, s.store),
        )
        installs = InstallHandlers(
            langs=s.langs,
            hosts=s.llm,
            installer=s.installer,
            policy=s.policy,
            server=s.llm,
            pacer=s.pacer,
            pull_interval=settings.pull_progress_interval,
        )
        models = ModelHandlers(
            langs=s.langs,
            picker=s.picker,
            policy=s.policy,
            server=s.llm,
            store=s.store,
            offer_pull=installs.pull_offer,
        )
        media = MediaHandlers(
            s.chat,
            streams,
            s.langs,
            offer_pull=installs.pull_offer,
            max_document_bytes=int(settings.max_document_mb * 1024 * 1024),
        )
        preferences = PreferenceService(s.store, s.catalog, s.llm, s.defaults)
        return cls(
            basics=BasicHandlers(s.chat, s.langs),
            talk=ChatHandlers(s.chat, streams, s.picker, s.langs),
            models=models,
            installs=installs,
            roles=RoleHandlers(s.chat, s.roles, s.policy, s.langs),
            settings=SettingsHandlers(preferences, s.langs),
            media=media,
            voice=VoiceHandlers(s.chat, streams, s.langs, s.voice),
            account=AccountHandlers(s.store, s.chat, s.policy, s.langs),
            conversations=ConversationHandlers(s.store, s.chat, s.langs),
            unknown_buttons=UnknownButtons(s.langs),
        )
