"""Roles: what the model is asked to be. Pure rules plus the RoleBook that finds a user's roles.

A role's prompt is either a system prompt, or a template with `%s` that wraps each message the
user writes (the article's `generate` style: "Translate `%s` to English.").

Roles come from four places, and a name means one role for a user: the built-ins (the article's
six plus a plain assistant), ROLES_FILE (TOML, loaded at start), shared roles admins add in the
chat, and private roles any user adds for themselves. Built-in and file names are reserved; a
private role wins over a shared role of the same name added later, for its owner only.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Literal, Protocol

PLACEHOLDER = "%s"
MAX_NAME_CHARS = 32
MAX_PROMPT_CHARS = 2000
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")

RoleSource = Literal["builtin", "file", "shared", "private"]


@dataclass(frozen=True, slots=True)
class Role:
    """A named prompt, and where it came from."""

    name: str
    prompt: str
    source: RoleSource = "builtin"

    @property
    def is_template(self) -> bool:
        """True when the prompt wraps each message instead of being a system prompt."""
        return PLACEHOLDER in self.prompt

    def system_prompt(self) -> str | None:
        """The system message to send first, if this role has one."""
        return None if self.is_template else self.prompt

    def wrap(self, text: str) -> str:
        """The user's text as the model should see it."""
        # str.replace, not %: a user's text or prompt may contain other % signs.
        return self.prompt.replace(PLACEHOLDER, text, 1) if self.is_template else text


DEFAULT_ROLE = "assistant"
BUILTIN_ROLES: dict[str, Role] = {
    role.name: role
    for role in (
        Role(
            "assistant",
            "You are a helpful assistant running privately on the user's own computer. "
            "Answer clearly and concisely. Use Markdown when it helps (lists, code blocks).",
        ),
        Role("english_translator", "Translate `%s` to English."),
        Role("chinese_translator", "Translate `%s` to Chinese."),
        Role("supervisor", "Explain `%s` like I'm a 5 year old."),
        Role("professional", "Explain `%s` as a professional."),
        Role("generator", "%s"),
        Role("content_creator", "Expand your writing according to the prompts given: `%s`"),
    )
}


class RoleProblem(Enum):
    """Why a role cannot be added or deleted."""

    BAD_NAME = "bad_name"
    EMPTY_PROMPT = "empty_prompt"
    LONG_PROMPT = "long_prompt"
    TAKEN = "taken"
    RESERVED = "reserved"  # built in or from ROLES_FILE: not changeable in the chat
    MISSING = "missing"


def name_problem(name: str) -> RoleProblem | None:
    """None for a good role name: 1-32 of a-z 0-9 _ -, starting with a letter or digit."""
    if len(name) > MAX_NAME_CHARS or not _NAME.fullmatch(name):
        return RoleProblem.BAD_NAME
    return None


def prompt_problem(prompt: str) -> RoleProblem | None:
    """None for a usable prompt: not blank, at most MAX_PROMPT_CHARS characters."""
    if not prompt.strip():
        return RoleProblem.EMPTY_PROMPT
    if len(prompt) > MAX_PROMPT_CHARS:
        return RoleProblem.LONG_PROMPT
    return None


def load_roles_file(path: Path) -> list[Role]:
    """The roles of a TOML file; ValueError with a readable reason when it is not usable.

    Either form works, under a `[roles]` table:
        translator_fr = "Translate `%s` to French."
        [roles.reviewer]
        prompt = "You review code..."
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ValueError(f"cannot read {path}: {err.strerror or err}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not valid TOML: {err}") from None
    table = data.get("roles")
    if not isinstance(table, dict):
        raise ValueError(f"{path} has no [roles] table")  # noqa: TRY004 - pydantic wants ValueError
    roles = []
    for name, value in table.items():
        prompt = value.get("prompt") if isinstance(value, dict) else value
        if not isinstance(prompt, str):
            raise ValueError(f"role {name!r} in {path} needs a prompt string")  # noqa: TRY004
        if name_problem(name) is not None:
            raise ValueError(f"role name {name!r} in {path}: use 1-{MAX_NAME_CHARS} of a-z 0-9 _ -")
        if name in BUILTIN_ROLES:
            raise ValueError(f"role {name!r} in {path} has the name of a built-in role")
        if (problem := prompt_problem(prompt)) is not None:
            limit = "is empty" if problem is RoleProblem.EMPTY_PROMPT else "is too long"
            raise ValueError(f"the prompt of role {name!r} in {path} {limit}")
        roles.append(Role(name, prompt, "file"))
    return roles


class RoleRow(Protocol):
    """A role as the database keeps it: shared when `owner_id` is None."""

    @property
    def name(self) -> str: ...
    @property
    def prompt(self) -> str: ...
    @property
    def owner_id(self) -> int | None: ...


class RoleStore(Protocol):
    """What the RoleBook needs from the database."""

    async def roles_for(self, user_id: int) -> Sequence[RoleRow]: ...
    async def add_role(
        self, name: str, prompt: str, owner_id: int | None, *, created_by: int
    ) -> bool: ...
    async def delete_role(self, name: str, owner_id: int | None) -> bool: ...


class RoleBook:
    """Every role a user may choose, and adding or deleting the ones made in the chat."""

    def __init__(
        self, store: RoleStore, file_roles: Sequence[Role] = (), default: str = DEFAULT_ROLE
    ) -> None:
        self._store = store
        self._fixed = {**BUILTIN_ROLES, **{role.name: role for role in file_roles}}
        self._default = default if default in self._fixed else DEFAULT_ROLE

    @property
    def default(self) -> Role:
        """The role of users who chose none (DEFAULT_ROLE)."""
        return self._fixed[self._default]

    async def roles_for(self, user_id: int) -> list[Role]:
        """Built-in, file, shared, then the user's own roles; one per name."""
        found = dict(self._fixed)
        stored = await self._store.roles_for(user_id)
        # Shared first, then private: a private role of the same name wins for its owner.
        for row in sorted(stored, key=lambda r: r.owner_id is not None):
            if row.name not in self._fixed:
                found[row.name] = Role(
                    row.name, row.prompt, "shared" if row.owner_id is None else "private"
                )
        return list(found.values())

    async def find(self, user_id: int, name: str) -> Role | None:
        """The role this user means by `name` (any case), if there is one."""
        wanted = name.strip().lower()
        return next((r for r in await self.roles_for(user_id) if r.name == wanted), None)

    async def current(self, user_id: int, chosen: str | None) -> Role:
        """The role a user's answers use: their choice while it exists, else the default."""
        if chosen and (role := await self.find(user_id, chosen)) is not None:
            return role
        return self.default

    async def add(
        self, user_id: int, name: str, prompt: str, *, shared: bool
    ) -> RoleProblem | None:
        """Add a shared role (admins) or a private one; None when added."""
        name = name.lower()
        if (problem := name_problem(name) or prompt_problem(prompt)) is not None:
            return problem
        if name in self._fixed:
            return RoleProblem.RESERVED
        if any(r.name == name for r in await self._store.roles_for(user_id)):
            return RoleProblem.TAKEN
        owner = None if shared else user_id
        added = await self._store.add_role(name, prompt.strip(), owner, created_by=user_id)
        return None if added else RoleProblem.TAKEN

    async def delete(self, user_id: int, name: str, *, admin: bool) -> RoleSource | RoleProblem:
        """Delete the user's private role `name`, else (admins) the shared one: which went."""
        name = name.strip().lower()
        if name in self._fixed:
            return RoleProblem.RESERVED
        if await self._store.delete_role(name, user_id):
            return "private"
        if admin and await self._store.delete_role(name, None):
            return "shared"
        return RoleProblem.MISSING
