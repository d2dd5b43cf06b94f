"""English: the bot's own words."""

from __future__ import annotations

MESSAGES: dict[str, str] = {
    "not_allowed": (
        "Sorry, this bot is private and you are not on its list.\n"
        "Your Telegram id is {user_id}: send it to the owner if you should be let in."
    ),
    "start": (
        "Hello {name}! I answer with the language models running on this home machine; "
        "nothing you write leaves the house except through Telegram.\n\n"
        "Model: {model}\nRole: {role}\n\n"
        "Just write to me. /new starts a fresh conversation, /stop cuts an answer short, "
        "/help lists every command."
    ),
    "help": (
        "Write any message and the model answers, remembering the conversation.\n\n"
        "/start - greeting, your current model and role\n"
        "/new - start a fresh conversation (alias /reset)\n"
        "/stop - stop the answer being written\n"
        "/id - your user id and this chat's id\n"
        "/help - this list"
    ),
    "model_unset": "the first installed model",
    "new_conversation": (
        "Started a fresh conversation. Earlier messages are kept but no longer sent to the model."
    ),
    "stopped_nothing": "Nothing is being written for you right now.",
    "stopping": "Stopping.",
    "stopped_marker": "(stopped)",
    "empty_answer": "(the model gave an empty answer)",
    "unknown_model": "unknown while Ollama is unreachable",
    "shutting_down": (
        "I'm restarting right now and could not answer this. Please send it again in a minute."
    ),
    "model_replaced": (
        "Your model {removed} is no longer installed, so {now} answers instead. "
        "/model shows what is installed."
    ),
    "text_only": "I can only read text messages. Write your question as text.",
    "ids": "Your user id: {user_id}\nThis chat's id: {chat_id}",
    "error_unavailable": (
        "I can't reach Ollama at {host}. Is it running? (`ollama serve`, or "
        "`systemctl start ollama`). I'll work again by myself once it is back."
    ),
    "error_model_not_found": (
        "The model {model} is not installed on {host}. Install it with `ollama pull {model}`, "
        "or ask an admin."
    ),
    "error_no_model": (
        "No model is installed on {host} yet. Install one, e.g. `ollama pull llama3.2`."
    ),
    "error_stream_broken": (
        "The connection to Ollama at {host} broke in the middle of the answer. "
        "What arrived is above; ask again to retry."
    ),
    "error_model_failed": "Ollama could not answer with {model}: {detail}",
    "error_unexpected": (
        "Something went wrong on my side; the error is in the bot's log. Please try again."
    ),
    "cmd_start": "greeting, current model and role",
    "cmd_help": "every command",
    "cmd_new": "start a fresh conversation",
    "cmd_reset": "same as /new",
    "cmd_stop": "stop the answer being written",
    "cmd_id": "your user id and this chat's id",
}
