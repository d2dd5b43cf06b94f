"""Roles: what the model is asked to be. The built-ins are the article's, plus a plain assistant.

A role's prompt is either a system prompt, or a template with `%s` that wraps each message the
user writes (the article's `generate` style: "Translate `%s` to English.").
"""

from __future__ import annotations

from dataclasses import dataclass

PLACEHOLDER = "%s"


@dataclass(frozen=True, slots=True)
class Role:
    """A named prompt."""

    name: str
    prompt: str

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


def find_role(name: str | None, default: str = DEFAULT_ROLE) -> Role:
    """The role called `name`, else the default one, else the plain assistant."""
    for candidate in (name, default):
        if candidate and candidate in BUILTIN_ROLES:
            return BUILTIN_ROLES[candidate]
    return BUILTIN_ROLES[DEFAULT_ROLE]
