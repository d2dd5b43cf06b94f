"""The errors ollagram raises on purpose, each carrying what a user needs to act on it.

BotError
├── ConfigError            a setting is missing or malformed (the CLI prints it, exit code 2)
├── StoreUnavailable       the database file cannot be opened or migrated
├── ShuttingDown           the bot is stopping and takes no new question
├── LeftQueue              /stop took a question out of the line for the model
├── ReadingStopped         /stop came while the question's file was still being read
├── TooFewModels           /compare needs two models and fewer are installed or chosen
├── FileProblem            a photo or file the bot cannot take
│   ├── FileTooBig         over the size the bot (or Telegram's getFile, 20 MB) accepts
│   ├── UnreadableFile     not an image / text / PDF / audio it can read (damaged, encrypted…)
│   ├── DownloadFailed     Telegram would not hand the file over
│   ├── VoiceTooLong       a voice note or audio file longer than MAX_VOICE_SECONDS
│   ├── NoTranscriber      neither a transcription server nor an Ollama model that hears
│   ├── NothingHeard       the audio holds silence, or nothing the transcriber understood
│   └── TranscriptionFailed  the transcriber failed (its LLMError is kept as `cause`)
│       └── ServerTranscriptionFailed  the same by the transcription server (TRANSCRIBE_BASE_URL)
└── LLMError               the model server could not give an answer
    ├── OllamaUnavailable  nothing answers at the configured host (down, wrong address)
    │   └── ServerUnavailable   the same for an OpenAI-compatible server
    ├── ManagedElsewhere   /pull or /rm on a server whose models are managed in its own app
    ├── ModelNotFound      the model is not installed on that host
    ├── NoModelInstalled   the host answers but has no model at all
    ├── StreamBroken       the connection dropped in the middle of an answer
    ├── ModelTimeout       no word came within OLLAMA_TIMEOUT (a cold model loading, a hung server)
    ├── ModelPullFailed    Ollama could not pull a model (its text is kept)
    ├── NoVisionModel      a photo came, and neither the user's model nor VISION_MODEL can see
    └── ModelFailed        Ollama answered with an error of its own (its text is kept)

Transport and client exceptions become one of these in exactly one place, `bot.llm`,
always with `raise … from err`, so nothing above it knows which client library is used.
"""

from __future__ import annotations


class BotError(Exception):
    """Base of every error ollagram raises on purpose."""


class ConfigError(BotError):
    """A setting is missing or malformed; `variable` names it."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


class StoreUnavailable(BotError):
    """The database at `path` cannot be used; `reason` says why."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"cannot open the database {path}: {reason} (check DATABASE_PATH)")
        self.path = path
        self.reason = reason


class ShuttingDown(BotError):
    """The bot is stopping; a question that was still waiting is not answered."""

    def __init__(self) -> None:
        super().__init__("the bot is shutting down")


class LeftQueue(BotError):
    """The user stopped a question that was still waiting for the model."""

    def __init__(self) -> None:
        super().__init__("taken out of the queue")


class ReadingStopped(BotError):
    """The user stopped a question while its file was still being read."""

    def __init__(self) -> None:
        super().__init__("stopped while reading the file")


class TooFewModels(BotError):
    """/compare found only `count` models to ask."""

    def __init__(self, count: int) -> None:
        super().__init__(f"comparing needs two models, there are {count}")
        self.count = count


class FileProblem(BotError):
    """A photo or file the bot cannot take; `name` is what the user sent."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


class FileTooBig(FileProblem):
    """`name` has `size` bytes, more than `limit`."""

    def __init__(self, name: str, size: int, limit: int) -> None:
        super().__init__(name, f"{name} has {size} bytes, more than {limit}")
        self.size = size
        self.limit = limit


class UnreadableFile(FileProblem):
    """`name` cannot be read; `reason` says why, as a key of the texts' `unreadable_*` (e.g.
    `password`, `damaged`, `not_an_image`), whose text `details` fill in (e.g. a limit)."""

    def __init__(self, name: str, reason: str, **details: object) -> None:
        super().__init__(name, f"{name} cannot be read ({reason})")
        self.reason = reason
        self.details = details


class DownloadFailed(FileProblem):
    """Telegram would not hand `name` over."""

    def __init__(self, name: str, detail: str) -> None:
        super().__init__(name, f"downloading {name} failed: {detail}")
        self.detail = detail


class LLMError(BotError):
    """The model server could not give an answer."""


class OllamaUnavailable(LLMError):
    """Nothing answers at `host`."""

    def __init__(self, host: str) -> None:
        super().__init__(f"Ollama is not reachable at {host}")
        self.host = host


class ModelNotFound(LLMError):
    """`model` is not installed on `host`."""

    def __init__(self, model: str, host: str) -> None:
        super().__init__(f"model {model!r} is not installed on {host}")
        self.model = model
        self.host = host


class NoModelInstalled(LLMError):
    """The server at `host` has no model installed at all."""

    def __init__(self, host: str) -> None:
        super().__init__(f"no model is installed on {host}")
        self.host = host


class StreamBroken(LLMError):
    """The connection to `host` dropped while an answer was streaming."""

    def __init__(self, host: str) -> None:
        super().__init__(f"the connection to {host} broke during the answer")
        self.host = host


class ModelTimeout(LLMError):
    """`model` on `host` wrote nothing for `seconds`."""

    def __init__(self, model: str, host: str, seconds: float) -> None:
        super().__init__(f"{model} on {host} was silent for {seconds:g} s")
        self.model = model
        self.host = host
        self.seconds = seconds


class ModelFailed(LLMError):
    """Ollama reported an error of its own; `detail` is its text."""

    def __init__(self, model: str, detail: str) -> None:
        super().__init__(f"{model}: {detail}")
        self.model = model
        self.detail = detail


class ModelPullFailed(LLMError):
    """Pulling `model` failed; `detail` is Ollama's own text."""

    def __init__(self, model: str, detail: str) -> None:
        super().__init__(f"pulling {model} failed: {detail}")
        self.model = model
        self.detail = detail


class NoVisionModel(LLMError):
    """Neither the user's model nor `model` (VISION_MODEL) on `host` can see images; `installed`
    says whether VISION_MODEL is there at all (installed, it lacks the capability)."""

    def __init__(self, model: str, host: str, *, installed: bool = False) -> None:
        super().__init__(f"no model that can see images is installed on {host} ({model})")
        self.model = model
        self.host = host
        self.installed = installed


class ServerUnavailable(OllamaUnavailable):
    """Nothing answers at `host`, an OpenAI-compatible server (LM Studio, llamafile…)."""


class ManagedElsewhere(LLMError):
    """The server called `name` installs and removes models in its own app, not through us."""

    def __init__(self, name: str) -> None:
        super().__init__(f"models on {name} are managed in that server's own app")
        self.name = name


class VoiceTooLong(FileProblem):
    """`name` lasts `seconds`, more than `limit` (MAX_VOICE_SECONDS)."""

    def __init__(self, name: str, seconds: float, limit: float) -> None:
        super().__init__(name, f"{name} lasts {seconds:.0f} s, more than {limit:.0f} s")
        self.seconds = seconds
        self.limit = limit


class NoTranscriber(FileProblem):
    """Nothing can transcribe `name`: no TRANSCRIBE_BASE_URL and no Ollama model that hears;
    `model` is AUDIO_MODEL when it is set (then it is missing or cannot hear)."""

    def __init__(self, name: str, model: str | None = None) -> None:
        super().__init__(name, f"nothing here can transcribe {name} ({model or 'no audio model'})")
        self.model = model


class NothingHeard(FileProblem):
    """`name` holds silence, or nothing the transcriber made into words."""

    def __init__(self, name: str) -> None:
        super().__init__(name, f"no words heard in {name}")


class TranscriptionFailed(FileProblem):
    """The transcriber of `name` failed; `cause` says how (server down, model error…)."""

    def __init__(self, name: str, cause: LLMError) -> None:
        super().__init__(name, f"transcribing {name} failed: {cause}")
        self.cause = cause


class StaleAnswer(BotError):
    """A button under an answer that is no longer its conversation's last (or was deleted)."""


class ServerTranscriptionFailed(TranscriptionFailed):
    """The transcription server (TRANSCRIBE_BASE_URL), not Ollama, failed on `name`: its
    fixes are that server's and TRANSCRIBE_MODEL's, never an `ollama pull`."""
