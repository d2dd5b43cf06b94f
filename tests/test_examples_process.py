"""Every example value of README.md and config.example.env, given to the real bot process the two
ways an owner gives it: in the environment (systemd's EnvironmentFile, docker compose's env_file:
plain strings) and in config.env. Each starts and answers a message, then stops on SIGTERM with
exit code 0; an example meant to fail stops the start with exit code 2 and one line naming its
variable, never a traceback.

The examples are read from the two files, so a new one in the docs is tried without touching this
file; only the alternatives the docs name in running prose ("`-1` = always, or `5m`, `1h`") are
listed here, and a test keeps that list in step with the README.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import shutil
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.errors import ConfigError
from tests.fakes.ollama import FakeOllama
from tests.fakes.telegram import FakeTelegram, FakeUser

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
EXAMPLE_CONFIG = ROOT / "config.example.env"
ROLES_EXAMPLE = ROOT / "roles.example.toml"
VARIABLES = frozenset(name.upper() for name in Settings.model_fields)
PATH_VARIABLES = frozenset(
    name.upper()
    for name, info in Settings.model_fields.items()
    if info.annotation in (Path, Path | None)
)
USER = FakeUser(id=4242, first_name="Owner", language_code="en")
MODEL = "llama3.2:latest"
QUESTION = "hello from the docs"
LAUNCHES_AT_ONCE = 6  # each spends about 2 s of CPU on imports, then waits

# Alternatives the README's configuration table names in its prose column; the pattern reading
# the docs takes `NAME=value`, code blocks and the default column, not sentences.
# test_the_prose_alternatives_are_all_listed keeps this in step with the table.
PROSE_VALUES: dict[str, tuple[str, ...]] = {
    "OPENAI_BASE_URL": ("http://127.0.0.1:1234/v1", "http://127.0.0.1:8080/v1"),
    "MAX_ANSWER_TOKENS": ("0",),
    "VISION_MODEL": ("llava",),
    "ROLES_FILE": ("roles.example.toml",),
    "DEFAULT_ROLE": (
        "assistant",
        "english_translator",
        "chinese_translator",
        "supervisor",
        "professional",
        "generator",
        "content_creator",
    ),
    "LOG_LEVEL": ("DEBUG", "INFO", "WARNING", "ERROR"),
    "LOG_FORMAT": ("text", "json"),
    "STREAM_MODE": ("auto", "edit"),
    "LOG_CONTENT": ("true",),
    "AUTO_TITLES": ("false",),
    "KEEP_ALIVE": ("-1", "5m", "1h"),
}
# Words in backticks in that column that are not values of the row's variable: API fields,
# commands, a capability, a status, a character class, Ollama's own setting.
NOT_VALUES = frozenset(
    {
        "vision",
        "num_ctx",
        "num_predict",
        "max_tokens",
        "stopped",
        "A-Z a-z 0-9 _ -",
        "OLLAMA_NUM_PARALLEL",
    }
)

# Examples the docs ship meant to stop the start, and the variable the one line must name.
MEANT_TO_FAIL = {
    # config.example.env: "fill in at least TELEGRAM_BOT_TOKEN".
    ("TELEGRAM_BOT_TOKEN", ""): "TELEGRAM_BOT_TOKEN",
}
# Where the bot finds Telegram: always the fake's (the real api.telegram.org is never called from
# a test), so these examples are only read by the settings here.
TELEGRAM_VARIABLES = frozenset({"TELEGRAM_BOT_TOKEN", "TELEGRAM_API_URL"})


@dataclass(frozen=True, slots=True)
class Example:
    variable: str
    value: str
    where: str

    def __str__(self) -> str:
        return f"{self.variable}={self.value} ({self.where})"


_NAME = r"[A-Z][A-Z0-9_]*"


def _assignments(text: str) -> Iterator[tuple[str, str]]:
    """`NAME=value` in a line of shell or an env file: a line that is one assignment keeps the
    rest of the line (less a shell comment); assignments inside a command (`sudo env NAME=value
    cmd`) are one word each."""
    if whole := re.fullmatch(rf"\s*({_NAME})=(.*?)(?:\s+#.*)?", text):
        yield whole[1], whole[2]
        return
    for word in re.finditer(rf"(?<![\w$])({_NAME})=(\S*)", text):
        yield word[1], word[2]


def config_example_examples() -> list[Example]:
    """Every `NAME=value` line of config.example.env, set or commented out (`#   NAME=…`)."""
    examples = []
    for number, line in enumerate(EXAMPLE_CONFIG.read_text().splitlines(), 1):
        if match := re.fullmatch(rf"#?\s*({_NAME})=(.*)", line):
            examples.append(Example(match[1], match[2], f"config.example.env:{number}"))
    return examples


def table_rows() -> Iterator[tuple[int, list[str], str, str]]:
    """(line, variables, meaning, default) of each row of the README's configuration table."""
    for number, line in enumerate(README.read_text().splitlines(), 1):
        if not line.startswith("| `"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        names = re.findall(r"`([^`]*)`", cells[0])
        if names and all(name in VARIABLES for name in names):
            yield number, names, " | ".join(cells[1:-1]), cells[-1]


def readme_examples() -> list[Example]:
    """`NAME=value` in the README's code blocks and code spans, and the configuration table's
    defaults (a default naming another variable, `$STATE_DIRECTORY/…`, is a description)."""
    examples = []
    in_block = False
    for number, line in enumerate(README.read_text().splitlines(), 1):
        if line.startswith("```"):
            in_block = not in_block
            continue
        pieces = [line] if in_block else re.findall(r"`([^`]+)`", line)
        for piece in pieces:
            examples += [Example(n, v, f"README.md:{number}") for n, v in _assignments(piece)]
    for number, names, _, default in table_rows():
        values = [v for v in re.findall(r"`([^`]*)`", default) if "$" not in v]
        if len(names) == len(values):  # `WEBHOOK_LISTEN`, `WEBHOOK_PORT` | `127.0.0.1`, `8443`
            pairs = list(zip(names, values, strict=True))
        else:  # one variable and its defaults, or several that share "unset"
            pairs = [(names[0], v) for v in values] if len(names) == 1 else []
        examples += [Example(n, v, f"README.md:{number} (default)") for n, v in pairs]
    return examples


def prose_examples() -> list[Example]:
    return [
        Example(name, value, "README.md configuration table")
        for name, values in PROSE_VALUES.items()
        for value in values
    ]


def all_examples() -> list[Example]:
    """Each distinct (variable, value) once, where the docs first give it; only our variables
    (the README also sets PYTHON= and HYPOTHESIS_PROFILE=)."""
    found: dict[tuple[str, str], Example] = {}
    for example in [*config_example_examples(), *readme_examples(), *prose_examples()]:
        if example.variable in VARIABLES:
            found.setdefault((example.variable, example.value), example)
    return list(found.values())


@dataclass
class Launch:
    """One start of the bot: the examples it tries, and what the process must do."""

    examples: list[Example]
    in_environment: bool
    fails_on: str | None = None
    problems: list[str] = field(default_factory=list)

    def value(self, variable: str) -> str | None:
        return next((e.value for e in self.examples if e.variable == variable), None)

    def expects_an_answer(self) -> bool:
        """The model's answer, not a line about an unreachable server or the allow-list."""
        return self.value("OLLAMA_HOST") is None and self.value("ALLOWED_USER_IDS") is None

    def webhook(self) -> bool:
        return bool(self.value("WEBHOOK_URL"))

    def __str__(self) -> str:
        where = "the environment" if self.in_environment else "config.env"
        return f"in {where}: " + ", ".join(map(str, self.examples))


def launches(*, in_environment: bool) -> list[Launch]:
    """As few starts as try every example: one example of each variable a start, except that an
    example meant to fail starts alone. Examples that keep the question from the fake model
    (another OLLAMA_HOST, nobody allowed) go to the starts with the fewest others, so that most
    examples are tried with a real answer."""
    alone: list[Launch] = []
    together: list[dict[str, Example]] = []
    unanswered: list[Example] = []
    for example in all_examples():
        if example.variable in TELEGRAM_VARIABLES and (
            (example.variable, example.value) not in MEANT_TO_FAIL
        ):
            continue  # see test_telegram_examples_are_read
        if (fails_on := MEANT_TO_FAIL.get((example.variable, example.value))) is not None:
            alone.append(Launch([example], in_environment, fails_on=fails_on))
        elif example.variable in ("OLLAMA_HOST", "ALLOWED_USER_IDS"):
            unanswered.append(example)
        else:
            _place(example, together)
    for example in unanswered:
        _place(example, together, from_the_end=True)
    return [*alone, *(Launch(list(r.values()), in_environment) for r in together)]


# With a webhook on, the test chooses its port (starts run side by side) and its secret (the
# README's "a long random string"), so examples of those go to starts without a webhook.
CHOSEN_WITH_A_WEBHOOK = ("WEBHOOK_PORT", "WEBHOOK_SECRET")


def _opens_a_webhook(example: Example) -> bool:
    return example.variable == "WEBHOOK_URL" and bool(example.value.strip())


def _fits(example: Example, start: dict[str, Example]) -> bool:
    if example.variable in start:
        return False
    if _opens_a_webhook(example):
        return not any(variable in start for variable in CHOSEN_WITH_A_WEBHOOK)
    if example.variable in CHOSEN_WITH_A_WEBHOOK:
        return not any(_opens_a_webhook(other) for other in start.values())
    return True


def _place(
    example: Example, starts: list[dict[str, Example]], *, from_the_end: bool = False
) -> None:
    """Into the first (or last) start it fits, else a new one."""
    order = reversed(starts) if from_the_end else iter(starts)
    free = next((start for start in order if _fits(example, start)), None)
    if free is None:
        starts.append(free := {})
    free[example.variable] = example


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def config_text(launch: Launch, folder: Path, tg: FakeTelegram, ollama: FakeOllama) -> str:
    """config.example.env as an owner edits it: each variable the launch sets replaces the line
    that sets it (or is added), and what only the test can know points at the fakes."""
    values = {e.variable: e.value for e in launch.examples}
    for variable in PATH_VARIABLES & values.keys():
        values[variable] = _path_inside(values[variable], folder)
    values.setdefault("TELEGRAM_BOT_TOKEN", tg.token)
    values["TELEGRAM_API_URL"] = tg.url
    values.setdefault("OLLAMA_HOST", ollama.url)
    values.setdefault("ALLOWED_USER_IDS", str(USER.id))
    if launch.webhook():
        values["WEBHOOK_PORT"] = str(free_port())
        # The README: "WEBHOOK_SECRET= a long random string".
        values["WEBHOOK_SECRET"] = secrets.token_urlsafe(32)
    lines = EXAMPLE_CONFIG.read_text().splitlines()
    for variable, value in values.items():
        setting = next((i for i, ln in enumerate(lines) if ln.startswith(f"{variable}=")), None)
        if setting is None:
            lines.append(f"{variable}={value}")
        else:
            lines[setting] = f"{variable}={value}"
    return "\n".join(lines) + "\n"


def _path_inside(value: str, folder: Path) -> str:
    """An absolute path of the docs (/etc/ollagram/…, /var/lib/private/…) taken inside the
    launch's folder: a test writes nothing outside its own. A roles file the README installs
    before naming it is installed there, as the README says."""
    if not value.strip():
        return value
    path = folder / "root" / value.lstrip("/") if value.startswith("/") else folder / value
    if path.suffix == ".toml" and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROLES_EXAMPLE, path)
    return str(path) if value.startswith("/") else value


def environment_file(text: str) -> dict[str, str]:
    """The variables systemd's EnvironmentFile (and compose's env_file) makes of `text`: each
    `NAME=value` line as plain strings; `#` lines are comments."""
    variables = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith(("#", ";")):
            name, _, value = line.partition("=")
            variables[name.strip()] = value.strip()
    return variables


async def start(
    folder: Path, env: dict[str, str], *command: str | Path
) -> tuple[asyncio.subprocess.Process, asyncio.Future[tuple[bytes, bytes]]]:
    """`command` (`python -m bot run` unless given, as `make run` starts the bot) in `folder`
    with only `env`; the process and its output, read as it comes."""
    process = await asyncio.create_subprocess_exec(
        *(command or (sys.executable, "-m", "bot", "run")),
        cwd=folder,
        env={"PATH": "/usr/bin:/bin", **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    return process, asyncio.ensure_future(process.communicate())


async def stopped(
    process: asyncio.subprocess.Process, output: asyncio.Future[tuple[bytes, bytes]]
) -> str:
    """SIGTERM it as systemd stops a service, unless it has ended; its output."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    try:
        stdout, _ = await asyncio.wait_for(asyncio.shield(output), 30)
    except TimeoutError:
        process.kill()
        stdout, _ = await output
        return stdout.decode(errors="replace") + "\n(still running 30 s after SIGTERM: killed)"
    return stdout.decode(errors="replace")


def model_answered(tg: FakeTelegram) -> bool:
    """FakeOllama's answer (the question, wrapped by a template role or not) is there, whole:
    an answer streamed by edits shows its first words first."""
    return any(t.startswith("Echo:") and QUESTION in t for t in tg.bot_texts(USER.id))


def anything_said(tg: FakeTelegram) -> bool:
    return bool(tg.bot_messages(USER.id))


async def answered(
    tg: FakeTelegram, process: asyncio.subprocess.Process, done: Callable[[FakeTelegram], bool]
) -> bool:
    """Wait until `done(tg)` holds (True), the process has ended or 30 s passed (False)."""
    waiting = asyncio.ensure_future(tg.wait_for(lambda: done(tg), 30))
    ended = asyncio.ensure_future(process.wait())
    await asyncio.wait({waiting, ended}, return_when=asyncio.FIRST_COMPLETED)
    for task in (waiting, ended):
        task.cancel()
    await asyncio.gather(waiting, ended, return_exceptions=True)
    return done(tg)


async def try_launch(launch: Launch, folder: Path, ollama: FakeOllama) -> None:
    """Start the bot with the launch's examples, check what it does, record what went wrong."""
    folder.mkdir(parents=True)
    shutil.copy(ROLES_EXAMPLE, folder)  # `make run` runs in the checkout, next to it
    async with FakeTelegram() as tg:
        text = config_text(launch, folder, tg, ollama)
        settings = environment_file(text)
        if not launch.in_environment:
            (folder / "config.env").write_text(text)
        process, output = await start(folder, settings if launch.in_environment else {})
        try:
            if launch.fails_on is not None:
                await asyncio.wait_for(process.wait(), 30)
            else:
                if launch.webhook():
                    await _through_the_proxy(tg, settings)
                else:
                    tg.user_sends(USER, QUESTION)
                done = model_answered if launch.expects_an_answer() else anything_said
                if not await answered(tg, process, done):
                    launch.problems.append(f"answered {tg.bot_texts(USER.id)} in 30 s")
        except (TimeoutError, AssertionError) as err:
            launch.problems.append(f"{type(err).__name__} {err}")
        finally:
            log = await stopped(process, output)
    expected = 2 if launch.fails_on is not None else 0
    if process.returncode != expected:
        launch.problems.append(f"exit code {process.returncode}, not {expected}")
    if "Traceback" in log:
        launch.problems.append("a traceback")
    if launch.fails_on is not None:
        lines = log.strip().splitlines()
        if len(lines) != 1 or launch.fails_on not in lines[0]:
            launch.problems.append(f"not one line naming {launch.fails_on}")
    if launch.problems:
        launch.problems.append("its output:\n" + log[-3000:])


async def _through_the_proxy(tg: FakeTelegram, settings: dict[str, str]) -> None:
    """Once the bot has registered its webhook, deliver a message as the owner's reverse proxy
    would: to WEBHOOK_LISTEN:WEBHOOK_PORT, on the public URL's path."""
    await tg.wait_for(lambda: tg.webhook_url is not None, 30)
    assert tg.webhook_url == settings["WEBHOOK_URL"]
    path = tg.webhook_url.split("/", 3)[3]
    tg.webhook_url = f"http://{settings['WEBHOOK_LISTEN']}:{settings['WEBHOOK_PORT']}/{path}"
    tg.user_sends(USER, QUESTION)


async def test_every_documented_example_starts_the_bot(tmp_path: Path) -> None:
    plan = [*launches(in_environment=True), *launches(in_environment=False)]
    at_once = asyncio.Semaphore(LAUNCHES_AT_ONCE)
    async with FakeOllama() as ollama:
        ollama.add_model(MODEL)

        async def one(number: int, launch: Launch) -> None:
            async with at_once:
                await try_launch(launch, tmp_path / f"launch-{number}", ollama)

        await asyncio.gather(*(one(n, launch) for n, launch in enumerate(plan)))
    failed = [f"{launch}:\n  " + "\n  ".join(launch.problems) for launch in plan if launch.problems]
    assert not failed, "\n\n".join(failed)


def test_telegram_examples_are_read() -> None:
    """Where the bot finds Telegram is always the fake in the starts above; the documented
    values are read by the settings here instead (none reaches the real api.telegram.org)."""
    for example in all_examples():
        if example.variable in TELEGRAM_VARIABLES and (
            (example.variable, example.value) not in MEANT_TO_FAIL
        ):
            setting = {example.variable.lower(): example.value}
            load_settings(None, **{"telegram_bot_token": "1:x", **setting})


def test_every_setting_has_an_example_and_every_example_is_a_setting() -> None:
    documented = {e.variable for e in config_example_examples()}
    assert documented == VARIABLES, "config.example.env has a line for every setting, no other"
    named = {name for _, names, _, _ in table_rows() for name in names}
    assert named == VARIABLES, "the README's table has a row for every setting"


def test_the_prose_alternatives_are_all_listed() -> None:
    """Every value the table's prose column names for its variable is in PROSE_VALUES (so it is
    tried above); the rest are other things' names."""
    unlisted = []
    for number, names, meaning, _ in table_rows():
        for word in re.findall(r"`([^`]*)`", meaning):
            other = word in VARIABLES or word.startswith("/") or word in NOT_VALUES
            if not other and not any(word in PROSE_VALUES.get(name, ()) for name in names):
                unlisted.append(f"README.md:{number} {names}: {word!r}")
    assert not unlisted, "add these to PROSE_VALUES (or NOT_VALUES):\n" + "\n".join(unlisted)


def test_examples_meant_to_fail_fail_in_the_settings() -> None:
    for (variable, value), named in MEANT_TO_FAIL.items():
        with pytest.raises(ConfigError) as caught:
            load_settings(None, **{variable.lower(): value})
        assert caught.value.variable == named


# -- the ways the bot is started, with several Ollama servers in the environment ----------------

OLLAGRAM = Path(sys.executable).with_name("ollagram")  # the console script pip installs


def two_servers_in_the_environment(tg: FakeTelegram, ollama: FakeOllama) -> dict[str, str]:
    """The fakes, and a second Ollama that is down, as a unit's EnvironmentFile passes them."""
    return {
        "TELEGRAM_BOT_TOKEN": tg.token,
        "TELEGRAM_API_URL": tg.url,
        "OLLAMA_HOST": f"{ollama.url},http://laptop:11434",
        "ALLOWED_USER_IDS": str(USER.id),
    }


async def test_console_script_runs_with_two_ollama_hosts_in_the_environment(
    tmp_path: Path,
) -> None:
    """`ollagram`, as the service starts it (the package `ollama` read OLLAMA_HOST when imported
    and took the list for one broken address)."""
    async with FakeTelegram() as tg, FakeOllama() as ollama:
        ollama.add_model(MODEL)
        tg.user_sends(USER, QUESTION)
        env = two_servers_in_the_environment(tg, ollama)
        process, output = await start(tmp_path, env, OLLAGRAM)
        try:
            await answered(tg, process, model_answered)
        finally:
            log = await stopped(process, output)
    assert tg.bot_texts(USER.id) == [f"Echo: {QUESTION}"], log
    assert process.returncode == 0, log
    assert "Traceback" not in log


async def test_doctor_reports_each_of_two_ollama_hosts_in_the_environment(tmp_path: Path) -> None:
    async with FakeTelegram() as tg, FakeOllama() as ollama:
        ollama.add_model(MODEL)
        env = two_servers_in_the_environment(tg, ollama)
        process, output = await start(tmp_path, env, OLLAGRAM, "doctor")
        log = (await asyncio.wait_for(output, 60))[0].decode()
    lines = log.splitlines()
    assert "Traceback" not in log
    assert any(line.startswith("✓ Ollama") and f"at {ollama.url}," in line for line in lines), log
    down = "✗ Ollama at http://laptop:11434 is not reachable"
    assert any(line.startswith(down) for line in lines), log
    assert process.returncode == 1, "one server is down"


async def test_importing_the_gateway_leaves_ollama_host_to_the_settings(tmp_path: Path) -> None:
    """The import of `ollama` must not see our OLLAMA_HOST, but the settings read after it must."""
    hosts = "http://gpu-desktop:11434,http://laptop:11434"
    process, output = await start(
        tmp_path,
        {"OLLAMA_HOST": hosts, "TELEGRAM_BOT_TOKEN": "1:x"},
        sys.executable,
        "-c",
        "import os, bot.llm.ollama\n"
        "from bot.config import load_settings\n"
        "print(os.environ['OLLAMA_HOST'])\n"
        "print(load_settings(None).ollama_hosts())",
    )
    printed = (await asyncio.wait_for(output, 60))[0].decode()
    assert process.returncode == 0, printed
    assert printed.splitlines() == [hosts, str(hosts.split(","))]
