"""The Telegram side: the only package that imports `telegram` (python-telegram-bot).

`app` wires everything and serves; `ingress` reads updates (polling or webhook); `access` is the
gate before every handler; `handlers` are the thin callbacks; `streaming` shows answers as they
are written, paced by `pacing`.
"""
