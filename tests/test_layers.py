"""The layers stay layers: each client library is imported by its one gateway, and nothing below
the Telegram side knows Telegram."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[1] / "bot"

# library → the only modules (or packages) of bot/ that may import it
OWNERS = {
    "telegram": ("telegram/",),
    "ollama": ("llm/ollama.py",),
    "openai": ("llm/openai_compat.py",),
    "aiosqlite": ("store/",),
    "av": ("audio.py",),
}


def imported(source: Path) -> set[str]:
    """The top-level names of the modules `source` imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("library", sorted(OWNERS))
def test_only_its_gateway_imports_a_client_library(library: str) -> None:
    importers = {
        str(source.relative_to(BOT)) for source in BOT.rglob("*.py") if library in imported(source)
    }
    strangers = {m for m in importers if not m.startswith(OWNERS[library])}
    assert not strangers, f"{library} imported outside {OWNERS[library]}: {sorted(strangers)}"
    assert importers, f"nothing imports {library}: the table is out of date"


def test_nothing_outside_the_telegram_side_imports_it() -> None:
    below = [s for s in BOT.rglob("*.py") if "telegram" not in s.relative_to(BOT).parts]
    leaks = {
        str(source.relative_to(BOT))
        for source in below
        if any(name.startswith("bot.telegram") for name in dotted_imports(source))
    }
    leaks.discard("cli.py")  # the entry point starts the Telegram side
    assert not leaks, f"imports of bot.telegram from below it: {sorted(leaks)}"


def dotted_imports(source: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    return names


@pytest.mark.parametrize(
    "module", ["bot.context", "bot.render", "bot.records", "bot.answer_view", "bot.chat"]
)
def test_the_pure_parts_and_the_chat_service_load_no_client_library(module: str) -> None:
    # Not only their own imports: a package's __init__ can pull a gateway in behind them.
    shown = subprocess.run(
        [sys.executable, "-c", f"import sys, {module}; print(' '.join(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    loaded = [name for name in OWNERS if name in shown]
    assert not loaded, f"importing {module} loads {loaded}"
