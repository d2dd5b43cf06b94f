"""Serving: runs the wired application with updates from polling or the webhook until it is
told to stop, and the doctor's check of the token."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass

from telegram import Bot
from telegram.error import InvalidToken, NetworkError, TelegramError

from bot.config import Settings
from bot.doctor import Finding
from bot.errors import StoreUnavailable
from bot.telegram.app import RUNNING_WORK, BotApplication, RunningWork, build_application
from bot.telegram.ingress import UpdatePoller, WebhookServer

log = logging.getLogger(__name__)


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
