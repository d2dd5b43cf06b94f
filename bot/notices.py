"""Things worth telling a user before their answer; the Telegram side words them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ModelReplaced:
    """The user's model was removed from the server; `now` answers instead."""

    removed: str
    now: str


Notice = ModelReplaced
