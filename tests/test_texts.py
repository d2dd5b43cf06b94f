"""The catalog: every sentence the code asks for exists, with the values it is given."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from bot.errors import StaleAnswer
from bot.roles import RoleProblem
from bot.telegram.routes import COMMANDS
from bot.texts import describe_error, en, say, zh

BOT = Path(__file__).resolve().parents[1] / "bot"


def keys_asked_for() -> set[str]:
    """First arguments of say(...) calls in the code that are plain strings."""
    keys: set[str] = set()
    for source in BOT.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "say"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                keys.add(str(node.args[0].value))
    return keys


def test_every_key_the_code_says_is_in_the_english_catalog() -> None:
    asked = keys_asked_for()
    asked |= {f"cmd_{command}" for command in COMMANDS}
    asked |= {f"role_problem_{problem.value}" for problem in RoleProblem}
    media = (BOT / "media.py").read_text(encoding="utf-8")
    asked |= {f"unreadable_{key}" for key in re.findall(r'UnreadableFile\([^,]+, "(\w+)"', media)}
    asked |= {
        f"button_{name}_{state}" for name in ("thinking", "footer") for state in ("on", "off")
    }
    assert len(asked) > 100
    assert sorted(asked - en.MESSAGES.keys()) == []


@pytest.mark.parametrize("key", sorted(en.MESSAGES))
def test_templates_are_valid_format_strings(key: str) -> None:
    fields = [name for _, name, _, _ in string.Formatter().parse(en.MESSAGES[key]) if name]
    assert all(name.isidentifier() for name in fields), fields


def test_the_chinese_catalog_has_every_english_key_with_the_same_placeholders() -> None:
    def fields(template: str) -> list[tuple[str, str | None, str | None]]:
        return sorted(
            (name, conversion, spec)
            for _, name, spec, conversion in string.Formatter().parse(template)
            if name is not None
        )

    assert zh.MESSAGES.keys() == en.MESSAGES.keys()
    for key, template in en.MESSAGES.items():
        assert fields(zh.MESSAGES[key]) == fields(template), key


def test_a_language_code_picks_its_catalog() -> None:
    assert say("stopped_nothing", "zh-hans") == zh.MESSAGES["stopped_nothing"]
    assert say("stopped_nothing", "zh-TW") == zh.MESSAGES["stopped_nothing"]
    assert say("stopped_nothing", "de") == en.MESSAGES["stopped_nothing"]
    assert say("stopped_nothing", None) == en.MESSAGES["stopped_nothing"]


def test_a_stale_answer_button_is_explained_not_called_a_failure() -> None:
    for lang in ("en", "zh"):
        text = describe_error(StaleAnswer(), lang)
        assert text == say("stale_answer", lang)
        assert text != say("error_unexpected", lang)
