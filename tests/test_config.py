"""Configuration: defaults, id lists, and errors that name the variable without a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import load_settings, parse_id_list
from bot.errors import ConfigError
from bot.roles import load_roles_file

TOKEN = "123456:SECRET-do-not-print"


def test_defaults_from_design(tmp_path: Path) -> None:
    settings = load_settings(None, telegram_bot_token=TOKEN)
    assert settings.telegram_api_url == "https://api.telegram.org"
    assert settings.ollama_host == "http://127.0.0.1:11434"
    assert settings.allowed_user_ids == frozenset()
    assert settings.vision_model == "llava"
    assert settings.default_role == "assistant"
    assert settings.default_model is None
    assert settings.database_path == Path("data/ollagram.sqlite3")
    assert settings.stream_mode == "auto"
    assert (settings.edit_interval_private, settings.edit_interval_group) == (1.0, 3.0)
    assert (settings.draft_interval, settings.pull_progress_interval) == (0.3, 2.0)
    assert (settings.num_ctx, settings.temperature) == (8192, 0.7)
    assert (settings.keep_alive, settings.ollama_timeout) == (None, 300.0)


def test_state_directory_sets_database_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/ollagram")
    settings = load_settings(None, telegram_bot_token=TOKEN)
    assert settings.database_path == Path("/var/lib/ollagram/ollagram.sqlite3")


def test_config_file_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / "config.env"
    env_file.write_text(
        f"TELEGRAM_BOT_TOKEN={TOKEN}\nALLOWED_USER_IDS=1, 2 ,3\nDEFAULT_MODEL=qwen:7b\n"
    )
    monkeypatch.setenv("DEFAULT_MODEL", "mistral")
    settings = load_settings(env_file)
    assert settings.allowed_user_ids == frozenset({1, 2, 3})
    assert settings.default_model == "mistral", "the environment wins over the file"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", set()),
        ("42", {42}),
        ("1,2", {1, 2}),
        (" -1001234 , 5,", {-1001234, 5}),
        ("7;8", {7, 8}),
    ],
)
def test_id_lists(raw: str, expected: set[int]) -> None:
    assert parse_id_list(raw) == frozenset(expected)


def test_missing_token_names_the_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None)
    assert caught.value.variable == "TELEGRAM_BOT_TOKEN"


def test_malformed_id_list_names_variable_and_item(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("ADMIN_USER_IDS", "12, bob")
    with pytest.raises(ConfigError) as caught:
        load_settings(None)
    assert caught.value.variable == "ADMIN_USER_IDS"
    assert "'bob'" in caught.value.problem
    assert TOKEN not in str(caught.value)


def run_cli(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_without_token_says_so_in_one_line(tmp_path: Path) -> None:
    result = run_cli(tmp_path, {})
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "TELEGRAM_BOT_TOKEN" in lines[0]
    assert "config.example.env" in lines[0]


def test_cli_bad_id_list_never_shows_the_token(tmp_path: Path) -> None:
    result = run_cli(tmp_path, {"TELEGRAM_BOT_TOKEN": TOKEN, "ALLOWED_USER_IDS": "1,two"})
    assert result.returncode == 2
    assert "ALLOWED_USER_IDS" in result.stderr
    assert "Traceback" not in result.stderr
    assert TOKEN not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("raw", "sent"), [("-1", -1), ("300", 300), ("5m", "5m"), ("1h30m", "1h30m"), ("", None)]
)
def test_keep_alive_as_ollama_parses_it(raw: str, sent: str | int | None) -> None:
    assert load_settings(None, telegram_bot_token=TOKEN, keep_alive=raw).keep_alive == sent


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("KEEP_ALIVE", "5 minutes"),
        ("DEFAULT_ROLE", "pirate"),
        ("STREAM_MODE", "draft"),
        ("WEBHOOK_SECRET", "spaces are not allowed"),
        ("WEBHOOK_URL", "http://bot.example.org/hook"),
    ],
)
def test_bad_values_name_their_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings(None)
    assert caught.value.variable == variable


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1:11434", "http://127.0.0.1:11434"),
        (":11434", "http://127.0.0.1:11434"),
        ("gpu-box", "http://gpu-box:11434"),
        ("http://[::1]", "http://[::1]:11434"),
        ("https://ollama.example/", "https://ollama.example:443"),
    ],
)
def test_ollama_host_is_read_as_ollama_reads_it(host: str, url: str) -> None:
    assert load_settings(None, telegram_bot_token=TOKEN, ollama_host=host).ollama_host == url


def test_cli_with_a_missing_config_file_says_so(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--config", "nowhere.env"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "nowhere.env does not exist" in result.stderr


def test_webhook_url_needs_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("WEBHOOK_URL", "https://bot.example.org/hook")
    with pytest.raises(ConfigError) as caught:
        load_settings(None)
    assert caught.value.variable == "WEBHOOK_SECRET"


ROLE_FILE_PROBLEMS = [
    ("missing.toml", None, "cannot read"),
    ("broken.toml", "[roles\nx = 1", "is not valid TOML"),
    ("empty.toml", "title = 'no roles here'", "has no [roles] table"),
    ("builtin.toml", '[roles]\nsupervisor = "Mine"', "has the name of a built-in role"),
    ("badname.toml", '[roles]\n"two words" = "x"', "use 1-32 of a-z 0-9 _ -"),
    ("noprompt.toml", "[roles.critic]\ntemperature = 1", "needs a prompt string"),
    ("blank.toml", '[roles]\ncritic = "  "', "is empty"),
    ("long.toml", f'[roles]\ncritic = "{"x" * 2001}"', "is too long"),
]


@pytest.mark.parametrize(("name", "content", "reason"), ROLE_FILE_PROBLEMS)
def test_a_bad_roles_file_stops_the_start_with_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, content: str | None, reason: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("ROLES_FILE", str(path))
    with pytest.raises(ConfigError) as caught:
        load_settings(None)
    assert caught.value.variable == "ROLES_FILE"
    assert reason in caught.value.problem


def test_default_role_may_come_from_the_roles_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "roles.toml"
    path.write_text('[roles]\ncritic = "You criticise kindly."', encoding="utf-8")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("ROLES_FILE", str(path))
    monkeypatch.setenv("DEFAULT_ROLE", "critic")
    settings = load_settings(None)
    assert [(r.name, r.prompt, r.source) for r in settings.file_roles()] == [
        ("critic", "You criticise kindly.", "file")
    ]
    monkeypatch.setenv("DEFAULT_ROLE", "stranger")
    with pytest.raises(ConfigError) as caught:
        load_settings(None)
    assert caught.value.variable == "DEFAULT_ROLE"
    assert "critic" in caught.value.problem, "the file's roles are listed among the choices"


def test_cli_with_a_broken_roles_file_says_so_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "roles.toml").write_text("[roles\n", encoding="utf-8")
    result = run_cli(tmp_path, {"TELEGRAM_BOT_TOKEN": TOKEN, "ROLES_FILE": "roles.toml"})
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "ROLES_FILE" in line
    assert "not valid TOML" in line


def test_the_example_roles_file_loads() -> None:
    example = Path(__file__).resolve().parents[1] / "roles.example.toml"
    roles = {role.name: role for role in load_roles_file(example)}
    assert set(roles) == {"french_translator", "haiku", "code_reviewer"}
    assert roles["french_translator"].is_template
    assert roles["code_reviewer"].system_prompt() is not None


def test_the_example_config_loads_as_it_is_shipped(tmp_path: Path) -> None:
    """Copying config.example.env and setting the token is all `make run` needs."""
    example = (Path(__file__).resolve().parents[1] / "config.example.env").read_text()
    config = tmp_path / "config.env"
    config.write_text(
        "\n".join(
            f"TELEGRAM_BOT_TOKEN={TOKEN}" if line.startswith("TELEGRAM_BOT_TOKEN=") else line
            for line in example.splitlines()
        )
    )
    settings = load_settings(config)
    assert settings.max_answer_tokens == 4096, "the shipped cap"
    assert settings.max_answer_pages == 12
    assert settings.history_retention_days is None
    assert settings.openai_base_url is None
    assert settings.ollama_hosts() == ["http://127.0.0.1:11434"]
    assert settings.roles_file is None
