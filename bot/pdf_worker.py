"""A PDF's text, read in a child process held to a time and a memory limit.

A small PDF can make pypdf work for minutes or take gigabytes: 40 pages sharing one content
stream that inflates to tens of MB of drawing operators is 8 KB to send. Read in a thread,
nothing could stop it: /stop and shutdown would wait for it. A child process ends the moment
the task awaiting it is cancelled, and the kernel holds it to its limits even if the bot dies.

The parent runs `python -m bot.pdf_worker MAX_CHARS MAX_PAGES CPU_SECONDS MEMORY_BYTES` with
the PDF on stdin; the child writes the text (UTF-8) on stdout and exits 0, or writes an
UnreadableFile reason and exits EXIT_UNREADABLE, or exits EXIT_MEMORY.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from bot.errors import UnreadableFile
from bot.media import MAX_DOCUMENT_CHARS, MAX_PDF_PAGES, document_text

# An ordinary PDF of a few hundred pages is read in a second or two on a small machine.
READ_SECONDS = 15
# pypdf itself inflates a stream to 75 MB at most and parses 2 million tokens of it (about
# 250 MB of Python objects); the interpreter, Pillow and pypdf take about 60 MB more.
READ_MEMORY_MB = 512
EXIT_UNREADABLE = 3
EXIT_MEMORY = 4
# Where `bot` lives, so the child finds it also when the bot runs from a source checkout.
_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """What reading one PDF may take."""

    seconds: float = READ_SECONDS
    memory_mb: int = READ_MEMORY_MB
    max_pages: int = MAX_PDF_PAGES
    max_chars: int = MAX_DOCUMENT_CHARS


LIMITS = ReadLimits()


async def pdf_text(data: bytes, name: str, limits: ReadLimits | None = None) -> str:
    """The text of the PDF `data`, read in a child process within `limits`; UnreadableFile
    when it has none, is damaged or locked, or takes more time or memory than allowed.
    Cancelling the awaiting task kills the child at once."""
    limits = limits or LIMITS
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-P",  # not the bot's working directory on sys.path: only the package root below
        "-m",
        __name__,
        str(limits.max_chars),
        str(limits.max_pages),
        # The CPU limit is a backstop for a child the bot can no longer kill (the bot killed
        # itself): the wall-clock limit below ends it first.
        str(max(1, round(limits.seconds)) + 1),
        str(limits.memory_mb * 1024 * 1024),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        # Nothing of the bot's environment (the token above all) is the PDF's business.
        env={"PYTHONPATH": _PACKAGE_ROOT},
    )
    try:
        async with asyncio.timeout(limits.seconds):
            output, _ = await child.communicate(data)
    except TimeoutError:
        raise UnreadableFile(name, "too_slow", seconds=f"{limits.seconds:g}") from None
    finally:
        if child.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                child.kill()
            await child.wait()
    if child.returncode == 0:
        return output.decode("utf-8", errors="replace")
    if child.returncode == EXIT_UNREADABLE:
        raise UnreadableFile(name, output.decode("ascii", errors="replace"))
    if child.returncode == EXIT_MEMORY:
        raise UnreadableFile(name, "too_much_memory", megabytes=limits.memory_mb)
    if child.returncode == -signal.SIGXCPU:
        raise UnreadableFile(name, "too_slow", seconds=f"{limits.seconds:g}")
    raise UnreadableFile(name, "damaged")  # a crash in a library, on this file's bytes


def main(argv: list[str]) -> int:
    """The child: limits itself, reads the PDF from stdin, writes its text to stdout."""
    max_chars, max_pages, cpu_seconds, memory_bytes = (int(arg) for arg in argv)
    _hold_to(resource.RLIMIT_CPU, cpu_seconds, cpu_seconds + 1)  # SIGXCPU first, then SIGKILL
    _hold_to(resource.RLIMIT_AS, memory_bytes, memory_bytes)
    _hold_to(resource.RLIMIT_CORE, 0, 0)  # SIGXCPU would dump one otherwise
    data = sys.stdin.buffer.read()
    try:
        text = document_text(data, "application/pdf", "file.pdf", max_chars, max_pages)
    except UnreadableFile as err:
        sys.stdout.buffer.write(err.reason.encode("ascii"))
        return EXIT_UNREADABLE
    except MemoryError:
        return EXIT_MEMORY
    sys.stdout.buffer.write(text.encode("utf-8", errors="replace"))
    return 0


def _hold_to(limit: int, soft: int, hard: int) -> None:
    """Lower a resource limit of this process (never above what it already is)."""
    _, current = resource.getrlimit(limit)
    if current != resource.RLIM_INFINITY:
        soft, hard = min(soft, current), min(hard, current)
    # A system call filter may forbid it (older systemd put prlimit64 in @resources, which the
    # unit denies): the parent's clock still ends the reading, only the memory is not held.
    with contextlib.suppress(PermissionError):
        resource.setrlimit(limit, (soft, hard))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
