"""How updates reach the bot: long polling (UpdatePoller) or a webhook behind the owner's reverse
proxy (WebhookServer). Both hand the application one update at a time.

PTB's own Updater reads a whole batch of updates at once: one update it cannot read (a field
this PTB version does not know the shape of) fails the batch, is fetched again at once, forever,
and is logged with every pending message's text. Here each update is read on its own; one that
cannot be read is skipped and logged by its id only. Errors from Telegram are retried with a
growing pause.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode, urlsplit

import tornado.web
from telegram import Bot, Update
from telegram.error import Conflict, InvalidToken, RetryAfter, TelegramError
from telegram.request import HTTPXRequest
from tornado.httpserver import HTTPServer

from bot.telegram.pacing import retry_seconds

log = logging.getLogger(__name__)

# What the handlers answer: new messages, button presses, and Telegram's own Stop button under
# a draft (Bot API 10.3; not among the updates Telegram sends unless asked). Never the
# business_* updates: a stranger writing to the owner's Business account is not talking to
# the bot.
ALLOWED_UPDATES = ("message", "callback_query", "stopped_message_generation")
MAX_WEBHOOK_BODY = 1024 * 1024  # an update is a few KB; Telegram caps a message at 4096 chars
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - the header's name
FIRST_RETRY_S = 0.5
LAST_RETRY_S = 30.0

Deliver = Callable[[Update], Awaitable[None]]


def retry_delay(failures: int) -> float:
    """Seconds to wait after `failures` failed reads in a row: 0.5 s doubling up to 30 s."""
    return min(FIRST_RETRY_S * 2.0 ** max(failures - 1, 0), LAST_RETRY_S)


def read_update(data: object, bot: Bot) -> Update | None:
    """The update PTB reads from Telegram's JSON, or None (logged by id, never its text)."""
    if not isinstance(data, Mapping):
        log.warning("skipped an update that is not a JSON object")
        return None
    try:
        return Update.de_json(dict(data), bot)
    except Exception:  # PTB raises whatever its constructors raise on a field they lack
        log.warning("skipped update %s: python-telegram-bot cannot read it", update_id(data))
        return None


def update_id(data: Mapping[str, Any]) -> int | None:
    """The update's id when it has a usable one."""
    value = data.get("update_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class UpdatePoller:
    """Long-polls getUpdates and hands each update it can read to `deliver`, in order."""

    def __init__(
        self,
        bot: Bot,
        deliver: Deliver,
        *,
        poll_timeout: float,
        telegram_timeout: float,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._bot = bot
        self._deliver = deliver
        self._poll_timeout = poll_timeout
        self._telegram_timeout = telegram_timeout
        self._sleep = sleep
        # A connection of its own: a long poll must not wait for, or hold up, the bot's sends.
        self._request = HTTPXRequest(
            connection_pool_size=1,
            read_timeout=poll_timeout + telegram_timeout,
            write_timeout=telegram_timeout,
            connect_timeout=telegram_timeout,
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Drop any webhook (Telegram refuses getUpdates while one is set) and start polling."""
        await self._bot.delete_webhook()
        await self._request.initialize()
        self._task = asyncio.create_task(self._poll(), name="ollagram-polling")

    async def stop(self) -> None:
        """Stop polling (a long poll in flight is cut) and close the connection."""
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            # Whatever ended the task, stopping goes on: the application still has to stop.
            await asyncio.gather(task, return_exceptions=True)
        await self._request.shutdown()

    async def _poll(self) -> None:
        offset: int | None = None
        failures = 0
        while True:
            try:
                batch = await self._fetch(offset)
            except (InvalidToken, Conflict) as err:
                # Nothing a retry soon would mend: another instance polls, or the token went.
                failures += 1
                log.error("Telegram refuses to hand out updates: %s", err)  # noqa: TRY400 - no trace
                await self._sleep(LAST_RETRY_S)
                continue
            except RetryAfter as err:
                await self._sleep(retry_seconds(err))
                continue
            except TelegramError as err:
                failures += 1
                delay = retry_delay(failures)
                log.warning("reading updates failed (%s); again in %.1f s", err, delay)
                await self._sleep(delay)
                continue
            failures = 0
            for item in batch:
                known = update_id(item) if isinstance(item, Mapping) else None
                if known is not None:
                    offset = max(offset or 0, known + 1)
                if (update := read_update(item, self._bot)) is not None:
                    await self._deliver(update)

    async def _fetch(self, offset: int | None) -> list[Any]:
        query: dict[str, str | int] = {
            "timeout": int(self._poll_timeout),
            "allowed_updates": json.dumps(ALLOWED_UPDATES),
        }
        if offset is not None:
            query["offset"] = offset
        # Raw JSON (PTB's get_updates would read the whole batch at once): the parameters go in
        # the query string, one of the four ways the Bot API takes them.
        result = await self._request.post(f"{self._bot.base_url}/getUpdates?{urlencode(query)}")
        return result if isinstance(result, list) else []


class WebhookServer:
    """Serves the webhook path on `listen`:`port` for the reverse proxy in front of it."""

    def __init__(
        self,
        bot: Bot,
        deliver: Deliver,
        *,
        url: str,
        listen: str,
        port: int,
        secret: str,
        max_body: int = MAX_WEBHOOK_BODY,
    ) -> None:
        self._bot = bot
        self._url = url
        self._listen = listen
        self._port = port
        self._settings = _HookSettings(bot, deliver, secret.encode(), max_body)
        # The proxy forwards the public path as it is.
        self._path = "/" + urlsplit(url).path.lstrip("/")
        self._server: HTTPServer | None = None

    async def start(self) -> None:
        """Listen (a busy port raises OSError), then register the URL and the secret with
        Telegram."""
        app = tornado.web.Application(
            [(self._path, _UpdateHandler, {"hook": self._settings})], log_function=_log_request
        )
        self._server = HTTPServer(app, max_body_size=self._settings.max_body, xheaders=False)
        self._server.listen(self._port, address=self._listen)
        await self._bot.set_webhook(
            self._url,
            secret_token=self._settings.secret.decode(),
            allowed_updates=list(ALLOWED_UPDATES),
        )

    async def stop(self) -> None:
        """Stop listening and close open connections (Telegram sends again what it did not
        get an answer to)."""
        if self._server is not None:
            server, self._server = self._server, None
            server.stop()
            await server.close_all_connections()


class _HookSettings:
    __slots__ = ("bot", "deliver", "max_body", "secret")

    def __init__(self, bot: Bot, deliver: Deliver, secret: bytes, max_body: int) -> None:
        self.bot = bot
        self.deliver = deliver
        self.secret = secret
        self.max_body = max_body


@tornado.web.stream_request_body
class _UpdateHandler(tornado.web.RequestHandler):
    """One POST from Telegram: the secret, then at most `max_body` bytes, then one update."""

    def initialize(self, hook: _HookSettings) -> None:
        self._hook = hook
        self._body = bytearray()
        self._refused = False

    def prepare(self) -> None:
        # Both checks come before a byte of the body is read.
        given = self.request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._hook.secret):
            self._refuse(HTTPStatus.FORBIDDEN)
            return
        length = self.request.headers.get("Content-Length")
        if length is not None and (not length.isdigit() or int(length) > self._hook.max_body):
            self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)

    def data_received(self, chunk: bytes) -> None:
        if self._refused:
            return
        if len(self._body) + len(chunk) > self._hook.max_body:
            self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)  # cut off: a body without length
            return
        self._body += chunk

    async def post(self) -> None:
        if self._refused:
            return
        try:
            data = json.loads(self._body)
        except ValueError:
            self._refuse(HTTPStatus.BAD_REQUEST)
            return
        # An update that cannot be read is answered 200 all the same: Telegram would otherwise
        # send it again and again.
        if (update := read_update(data, self._hook.bot)) is not None:
            await self._hook.deliver(update)

    def _refuse(self, status: HTTPStatus) -> None:
        self._refused = True
        self.set_status(status)
        self.finish()


def _log_request(handler: tornado.web.RequestHandler) -> None:
    """Refusals only; the path is the webhook's and carries no secret."""
    status = handler.get_status()
    if status >= HTTPStatus.BAD_REQUEST:
        log.info("webhook request refused with %s", status)
