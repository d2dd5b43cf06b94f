"""Wiring: the one place that knows every part. Builds the PTB Application and runs it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TypeAlias

from telegram import Bot, BotCommand, Update
from telegram.error import InvalidToken, NetworkError, TelegramError, TimedOut
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.budget import SendBudget
from bot.chat import ChatDefaults, ChatService
from bot.config import Settings
from bot.doctor import Finding
from bot.errors import StoreUnavailable
from bot.installer import ModelInstaller
from bot.languages import LanguageChoices
from bot.llm import ModelRouter, model_servers
from bot.models import ModelCatalog, ModelPicker
from bot.preferences import PreferenceService
from bot.refusals import RefusalMemory
from bot.retention import Retention
from bot.roles import RoleBook
from bot.store import Store
from bot.telegram.access import AccessGate, AccessPolicy
from bot.telegram.handlers.account import AccountHandlers
from bot.telegram.handlers.basics import BasicHandlers
from bot.telegram.handlers.chat import ChatHandlers
from bot.telegram.handlers.common import UnknownButtons
from bot.telegram.handlers.media import MediaHandlers
from bot.telegram.handlers.models import ModelHandlers
from bot.telegram.handlers.roles import RoleHandlers
from bot.telegram.handlers.settings import SettingsHandlers
from bot.telegram.ingress import UpdatePoller, WebhookServer
from bot.telegram.streaming import (
    OVERALL_CALLS,
    OVERALL_WINDOW_S,
    AnswerStreams,
    ChatPacer,
    ChatRateLimiter,
)
from bot.texts import CATALOGS, FALLBACK, say

# PTB's announced future: durations as timedelta. Opting in now keeps its deprecation warning
# (raised on every `RetryAfter.retry_after`) out of the logs; our code accepts both types.
os.environ.setdefault("PTB_TIMEDELTA", "true")

log = logging.getLogger(__name__)

BotApplication: TypeAlias = Application[Any, Any, Any, Any, Any, Any]

MAX_CONCURRENT_UPDATES = 256
RUNNING_WORK = "running_work"
COMMANDS = (
    "start",
    "help",
    "new",
    "reset",
    "stop",
    "ask",
    "compare",
    "role",
    "settings",
    "model",
    "status",
    "stats",
    "lang",
    "export",
    "forget",
    "groupmode",
    "pull",
    "rm",
    "id",
)


def build_application(
    settings: Settings,
    *,
    store: Store | None = None,
    llm: ModelRouter | None = None,
    refusals: RefusalMemory | None = None,
) -> BotApplication:
    """The bot, wired: handlers registered, resources opened at start and closed at stop."""
    store = store or Store(settings.database_path)
    llm = llm or model_servers(settings)

    async def open_resources(app: BotApplication) -> None:
        await store.connect()
        await chat.load()
        await langs.load()
        if retention is not None:
            retention.start()
        for language in (None, *(code for code in CATALOGS if code != FALLBACK)):
            # Telegram shows each user the menu in their app's language (English otherwise).
            await app.bot.set_my_commands(
                [BotCommand(name, say(f"cmd_{name}", language)) for name in COMMANDS],
                language_code=language,
            )
        log.info("ollagram is up as @%s, models at %s", app.bot.username, llm.host)
        if not settings.allowed_user_ids:
            log.warning(
                "ALLOWED_USER_IDS is empty: only admins (ADMIN_USER_IDS) can chat. To let someone "
                "in, have them write to the bot, note the id it answers with, and add it to "
                "ALLOWED_USER_IDS in config.env."
            )

    async def close_resources(app: BotApplication) -> None:
        if retention is not None:
            await retention.stop()
        await llm.close()
        await store.close()

    # One pacer for every message the bot writes into a chat: answers, progress, replies.
    pacer = ChatPacer(
        private_interval=settings.edit_interval_private,
        group_interval=settings.edit_interval_group,
    )
    budget = SendBudget(OVERALL_CALLS, OVERALL_WINDOW_S)
    url = settings.telegram_api_url
    app = (
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
        .rate_limiter(ChatRateLimiter(pacer, budget))
        # Updates come in through bot/ingress.py, which reads them one at a time.
        .updater(None)
        .post_init(open_resources)
        .post_shutdown(close_resources)
        .build()
    )
    policy = AccessPolicy(
        allowed_users=settings.allowed_user_ids,
        admins=settings.admin_user_ids,
        allowed_chats=settings.allowed_chat_ids,
    )
    catalog = ModelCatalog(llm, settings.default_model, settings.vision_model)
    roles = RoleBook(store, settings.file_roles(), settings.default_role)
    defaults = ChatDefaults(
        temperature=settings.temperature,
        num_ctx=settings.num_ctx,
        keep_alive=settings.keep_alive,
        compare_concurrency=settings.compare_concurrency,
        concurrent_answers=settings.max_concurrent_answers,
        log_content=settings.log_content,
        max_answer_tokens=settings.max_answer_tokens,
    )
    chat = ChatService(store, llm, catalog, roles, defaults)
    picker = ModelPicker(store, catalog, on_switch=chat.warm_up)
    langs = LanguageChoices(store)
    retention = (
        Retention(store, settings.history_retention_days)
        if settings.history_retention_days
        else None
    )
    installer = ModelInstaller(llm, catalog)
    streams = AnswerStreams(
        app.bot,
        pacer=pacer,
        budget=budget,
        mode=settings.stream_mode,
        draft_interval=settings.draft_interval,
        max_pages=settings.max_answer_pages,
    )
    app.bot_data[RUNNING_WORK] = RunningWork(chat, installer, settings.shutdown_grace)
    models = ModelHandlers(
        langs=langs,
        hosts=llm,
        picker=picker,
        installer=installer,
        policy=policy,
        server=llm,
        store=store,
        pacer=pacer,
        pull_interval=settings.pull_progress_interval,
    )
    register_handlers(
        app,
        AccessGate(policy, budget, refusals),
        Handlers(
            basics=BasicHandlers(chat, langs),
            talk=ChatHandlers(chat, streams, picker, langs),
            models=models,
            roles=RoleHandlers(chat, roles, policy, langs),
            media=MediaHandlers(
                chat,
                streams,
                langs,
                offer_pull=models.pull_offer,
                max_document_bytes=int(settings.max_document_mb * 1024 * 1024),
            ),
            settings=SettingsHandlers(PreferenceService(store, catalog, llm, defaults), langs),
            account=AccountHandlers(store, chat, policy, langs),
            unknown_buttons=UnknownButtons(langs),
        ),
    )
    app.add_error_handler(ErrorReporter(langs))
    return app


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
    roles: RoleHandlers
    settings: SettingsHandlers
    media: MediaHandlers
    account: AccountHandlers
    unknown_buttons: UnknownButtons


def register_handlers(app: BotApplication, gate: AccessGate, handlers: Handlers) -> None:
    """Every command, message and button, behind the access gate."""
    basics, talk, models = handlers.basics, handlers.talk, handlers.models
    app.add_handler(TypeHandler(Update, gate), group=-1)
    # New messages only: editing a question already answered does not ask it again.
    new = filters.UpdateType.MESSAGE
    app.add_handler(CommandHandler("start", basics.on_start, filters=new))
    app.add_handler(CommandHandler("help", basics.on_help, filters=new))
    app.add_handler(CommandHandler("id", basics.on_id, filters=new))
    app.add_handler(CommandHandler("model", models.on_model, filters=new))
    app.add_handler(CommandHandler("pull", models.on_pull, filters=new))
    app.add_handler(CommandHandler("rm", models.on_rm, filters=new))
    app.add_handler(CommandHandler("status", models.on_status, filters=new))
    app.add_handler(CommandHandler("settings", handlers.settings.on_settings, filters=new))
    app.add_handler(CallbackQueryHandler(models.on_model_button, pattern=r"^model:"))
    app.add_handler(CallbackQueryHandler(models.on_pull_button, pattern=r"^pull:"))
    app.add_handler(CallbackQueryHandler(models.on_rm_button, pattern=r"^rm:"))
    app.add_handler(CallbackQueryHandler(handlers.settings.on_settings_button, pattern=r"^set:"))
    account = handlers.account
    app.add_handler(CommandHandler("forget", account.on_forget, filters=new))
    app.add_handler(CallbackQueryHandler(account.on_forget_button, pattern=r"^forget:"))
    app.add_handler(CommandHandler("export", account.on_export, filters=new))
    app.add_handler(CommandHandler("stats", account.on_stats, filters=new))
    app.add_handler(CommandHandler("lang", account.on_lang, filters=new))
    app.add_handler(CallbackQueryHandler(account.on_lang_button, pattern=r"^lang:"))
    app.add_handler(CommandHandler("groupmode", account.on_groupmode, filters=new))
    # Questions, /new and role switches wait their turn inside ChatService; block=False frees
    # PTB's update slot meanwhile, so a long queue never holds up /stop or other users.
    app.add_handler(CommandHandler(["new", "reset"], talk.on_new, filters=new, block=False))
    app.add_handler(CommandHandler("ask", talk.on_ask, filters=new, block=False))
    app.add_handler(CommandHandler("compare", talk.on_compare, filters=new, block=False))
    app.add_handler(CommandHandler("role", handlers.roles.on_role, filters=new, block=False))
    app.add_handler(
        CallbackQueryHandler(handlers.roles.on_role_button, pattern=r"^role:", block=False)
    )
    app.add_handler(CommandHandler("stop", talk.on_stop, filters=new))
    app.add_handler(
        MessageHandler(new & filters.TEXT & ~filters.COMMAND, talk.on_text, block=False)
    )
    # Photos and files download when their turn comes, inside ChatService: block=False too.
    app.add_handler(MessageHandler(new & filters.PHOTO, handlers.media.on_photo, block=False))
    app.add_handler(
        MessageHandler(new & filters.Document.ALL, handlers.media.on_document, block=False)
    )
    app.add_handler(MessageHandler(new & filters.ChatType.PRIVATE & ~filters.TEXT, basics.on_other))
    # Last of all: a press no handler above takes is still answered.
    app.add_handler(CallbackQueryHandler(handlers.unknown_buttons.on_press))


class ErrorReporter:
    """Logs any unexpected failure with its traceback and tells the user, in their language,
    that something went wrong."""

    def __init__(self, langs: LanguageChoices) -> None:
        self._langs = langs

    async def __call__(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """PTB's error handler."""
        # A reply that timed out was not sent again (it may have arrived): say so, no traceback.
        slow = isinstance(context.error, TimedOut)
        if slow:
            log.warning("Telegram did not take a reply within TELEGRAM_TIMEOUT")
        else:
            log.error("unexpected error while handling an update", exc_info=context.error)
        if isinstance(update, Update) and update.effective_message is not None:
            user = update.effective_user
            lang = self._langs.of(user.id, user.language_code) if user else None
            key = "error_telegram_slow" if slow else "error_unexpected"
            with contextlib.suppress(TelegramError):
                await update.effective_message.reply_text(say(key, lang))


@dataclass(frozen=True, slots=True)
class Webhook:
    """Where Telegram sends updates, and where this process listens for them."""

    url: str
    listen: str
    port: int
    secret: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Webhook | None:
        """The webhook the settings ask for; None means polling."""
        if not settings.webhook_url or settings.webhook_secret is None:
            return None
        return cls(
            url=settings.webhook_url,
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            secret=settings.webhook_secret.get_secret_value(),
        )


@contextlib.asynccontextmanager
async def running(
    app: BotApplication,
    *,
    poll_timeout: float = 10.0,
    webhook: Webhook | None = None,
) -> AsyncIterator[None]:
    """Run `app` on the current event loop, with updates from polling or from the webhook, until
    the block ends; every step of the start that was taken is undone, in reverse order, however
    the block or a later step ends."""
    await app.initialize()
    try:
        if app.post_init is not None:
            await app.post_init(app)
        await app.start()
        try:
            ingress = updates_for(app, poll_timeout=poll_timeout, webhook=webhook)
            try:
                await ingress.start()
                yield
            finally:
                await ingress.stop()
        finally:
            # app.stop() waits for every running handler: cut answers and pulls first.
            if isinstance(work := app.bot_data.get(RUNNING_WORK), RunningWork):
                await work.stop()
            await app.stop()
    finally:
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)


def updates_for(
    app: BotApplication, *, poll_timeout: float, webhook: Webhook | None
) -> UpdatePoller | WebhookServer:
    """Where `app` gets its updates: a webhook behind the owner's reverse proxy, or polling."""
    if webhook is None:
        telegram_timeout = app.bot.request.read_timeout or poll_timeout
        return UpdatePoller(
            app.bot,
            app.update_queue.put,
            poll_timeout=poll_timeout,
            telegram_timeout=telegram_timeout,
        )
    return WebhookServer(
        app.bot,
        app.update_queue.put,
        url=webhook.url,
        listen=webhook.listen,
        port=webhook.port,
        secret=webhook.secret,
    )


async def serve(settings: Settings) -> int:
    """Serve until SIGINT/SIGTERM; a clear line instead of a traceback when start-up fails."""
    app = build_application(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with running(app, webhook=Webhook.from_settings(settings)):
            await stop.wait()
            log.info("stopping")
    except InvalidToken:
        log.critical("Telegram rejected TELEGRAM_BOT_TOKEN: check it with @BotFather")
        return 2
    except NetworkError as err:
        log.critical("cannot reach Telegram at %s: %s", settings.telegram_api_url, err)
        return 1
    except TelegramError as err:  # e.g. Telegram refused the webhook address
        log.critical("Telegram refused to start the bot: %s", err)
        return 1
    except (StoreUnavailable, OSError) as err:  # a database or a busy WEBHOOK_PORT
        log.critical("%s", err)
        return 1
    return 0


async def check_token(settings: Settings) -> Finding:
    """Doctor's Telegram check: does the Bot API accept the token (getMe)?"""
    url = settings.telegram_api_url
    bot = Bot(
        settings.telegram_bot_token.get_secret_value(),
        base_url=f"{url}/bot",
        base_file_url=f"{url}/file/bot",
    )
    try:
        async with bot:
            username = bot.username
    except InvalidToken:
        return Finding(
            False, "Telegram rejected TELEGRAM_BOT_TOKEN", "copy the token from @BotFather again"
        )
    except NetworkError as err:
        return Finding(
            False,
            f"Telegram at {url} is not reachable ({err})",
            "check the network or TELEGRAM_API_URL",
        )
    except TelegramError as err:
        return Finding(False, f"Telegram answered: {err}", "check TELEGRAM_BOT_TOKEN")
    return Finding(True, f"Telegram accepts the token: the bot is @{username}")


def run(settings: Settings) -> int:
    """Run the bot in a fresh event loop; the process exit code."""
    return asyncio.run(serve(settings))
