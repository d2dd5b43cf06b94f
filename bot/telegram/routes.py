"""Which handler takes which update: the commands (and the menu Telegram shows for them), the
messages that are not commands, each kind of button, Telegram's Stop button and the access
gate before them all."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

from telegram import Update
from telegram.ext import (
    Application,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.telegram.access import AccessGate
from bot.telegram.buttons import (
    AnswerButton,
    ChatsButton,
    ForgetButton,
    LanguageButton,
    ModelButton,
    PullButton,
    RemoveButton,
    RoleButton,
    SettingsButton,
)
from bot.telegram.handlers.chat import GENERATION_STOPPED
from bot.telegram.handlers.conversations import AnswersRename
from bot.telegram.handlers.voice import AUDIO_DOCUMENTS

if TYPE_CHECKING:
    from bot.telegram.app import Handlers


class GenerationStoppedHandler(BaseHandler[Update, Any, None]):
    """Takes only the `stopped_message_generation` updates (newer than PTB, so found in the
    raw update): the other updates pass without a callback being run for them."""

    def check_update(self, update: object) -> bool:
        return isinstance(update, Update) and GENERATION_STOPPED in update.api_kwargs


BotApplication: TypeAlias = Application[Any, Any, Any, Any, Any, Any]

# The commands in Telegram's menu, in this order (each has a "cmd_" text in every catalog).
COMMANDS = (
    "start",
    "help",
    "new",
    "chats",
    "rename",
    "reset",
    "stop",
    "ask",
    "compare",
    "role",
    "settings",
    "model",
    "status",
    "stats",
    "lang",
    "export",
    "forget",
    "groupmode",
    "pull",
    "rm",
    "id",
)


def register_handlers(app: BotApplication, gate: AccessGate, handlers: Handlers) -> None:
    """Every command, message and button, behind the access gate; Telegram's Stop button
    (which names a draft, not a user) before it."""
    app.add_handler(GenerationStoppedHandler(handlers.talk.on_generation_stopped), group=-2)
    app.add_handler(TypeHandler(Update, gate), group=-1)
    register_commands(app, handlers)
    register_buttons(app, handlers)


def register_commands(app: BotApplication, handlers: Handlers) -> None:
    """Commands, then the messages that are not commands."""
    basics, talk, account = handlers.basics, handlers.talk, handlers.account
    models, installs = handlers.models, handlers.installs
    # New messages only: editing a question already answered does not ask it again.
    new = filters.UpdateType.MESSAGE
    app.add_handler(CommandHandler("start", basics.on_start, filters=new))
    app.add_handler(CommandHandler("help", basics.on_help, filters=new))
    app.add_handler(CommandHandler("id", basics.on_id, filters=new))
    app.add_handler(CommandHandler("model", models.on_model, filters=new))
    app.add_handler(CommandHandler("pull", installs.on_pull, filters=new))
    app.add_handler(CommandHandler("rm", installs.on_rm, filters=new))
    app.add_handler(CommandHandler("status", models.on_status, filters=new))
    app.add_handler(CommandHandler("settings", handlers.settings.on_settings, filters=new))
    app.add_handler(CommandHandler("forget", account.on_forget, filters=new))
    app.add_handler(CommandHandler("export", account.on_export, filters=new))
    app.add_handler(CommandHandler("stats", account.on_stats, filters=new))
    app.add_handler(CommandHandler("lang", account.on_lang, filters=new))
    app.add_handler(CommandHandler("groupmode", account.on_groupmode, filters=new))
    chats = handlers.conversations
    app.add_handler(CommandHandler("chats", chats.on_chats, filters=new))
    app.add_handler(CommandHandler("rename", chats.on_rename, filters=new))
    app.add_handler(MessageHandler(new & AnswersRename(chats.renames), chats.on_rename_reply))
    # Questions, /new and role switches wait their turn inside ChatService; block=False frees
    # PTB's update slot meanwhile, so a long queue never holds up /stop or other users.
    app.add_handler(CommandHandler(["new", "reset"], talk.on_new, filters=new, block=False))
    app.add_handler(CommandHandler("ask", talk.on_ask, filters=new, block=False))
    app.add_handler(CommandHandler("compare", talk.on_compare, filters=new, block=False))
    app.add_handler(CommandHandler("role", handlers.roles.on_role, filters=new, block=False))
    app.add_handler(CommandHandler("stop", talk.on_stop, filters=new))
    app.add_handler(
        MessageHandler(new & filters.TEXT & ~filters.COMMAND, talk.on_text, block=False)
    )
    # Photos and files download when their turn comes, inside ChatService: block=False too.
    app.add_handler(MessageHandler(new & filters.PHOTO, handlers.media.on_photo, block=False))
    # Audio sent as a file (a .wav, anything sent "as a file") is a Document: first, heard.
    heard_files = new & AUDIO_DOCUMENTS
    app.add_handler(MessageHandler(heard_files, handlers.voice.on_voice, block=False))
    app.add_handler(
        MessageHandler(new & filters.Document.ALL, handlers.media.on_document, block=False)
    )
    heard = filters.VOICE | filters.AUDIO | filters.VIDEO_NOTE
    app.add_handler(MessageHandler(new & heard, handlers.voice.on_voice, block=False))
    topic_opened = filters.ChatType.PRIVATE & filters.StatusUpdate.FORUM_TOPIC_CREATED
    app.add_handler(MessageHandler(new & topic_opened, talk.on_topic_created, block=False))
    topic_renamed = filters.ChatType.PRIVATE & filters.StatusUpdate.FORUM_TOPIC_EDITED
    app.add_handler(MessageHandler(new & topic_renamed, talk.on_topic_edited))
    app.add_handler(MessageHandler(new & filters.ChatType.PRIVATE & ~filters.TEXT, basics.on_other))


def register_buttons(app: BotApplication, handlers: Handlers) -> None:
    """Each kind of button to its handler (by its prefix: a malformed press of a kind is
    refused there), then every other press."""
    presses = [
        (ModelButton.PATTERN, handlers.models.on_model_button),
        (PullButton.PATTERN, handlers.installs.on_pull_button),
        (RemoveButton.PATTERN, handlers.installs.on_rm_button),
        (SettingsButton.PATTERN, handlers.settings.on_settings_button),
        (ForgetButton.PATTERN, handlers.account.on_forget_button),
        (LanguageButton.PATTERN, handlers.account.on_lang_button),
    ]
    for pattern, callback in presses:
        app.add_handler(CallbackQueryHandler(callback, pattern=pattern))
    # A role switch, Regenerate and Continue wait their turn inside ChatService, like a
    # question: block=False.
    app.add_handler(
        CallbackQueryHandler(handlers.roles.on_role_button, pattern=RoleButton.PATTERN, block=False)
    )
    app.add_handler(
        CallbackQueryHandler(handlers.talk.on_follow_up, pattern=AnswerButton.PATTERN, block=False)
    )
    chats = handlers.conversations.on_chats_button  # switching and deleting wait their turn too
    app.add_handler(CallbackQueryHandler(chats, pattern=ChatsButton.PATTERN, block=False))
    # Last of all: a press no handler above takes is still answered.
    app.add_handler(CallbackQueryHandler(handlers.unknown_buttons.on_press))
