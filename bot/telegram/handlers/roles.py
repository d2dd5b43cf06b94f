"""Role handlers: /role (menu, switch, add, del) and its buttons."""

from __future__ import annotations

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MaybeInaccessibleMessage,
    Update,
    User,
)
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bot.chat import ChatService
from bot.languages import LanguageChoices
from bot.roles import MAX_NAME_CHARS, MAX_PROMPT_CHARS, Role, RoleBook, RoleProblem
from bot.telegram.access import AccessPolicy
from bot.telegram.buttons import RoleButton
from bot.telegram.handlers.common import (
    Speaking,
    answer,
    clip,
    command_text,
    edit_quietly,
    paged_keyboard,
    profile_of,
    refuse_button,
    refuse_not_yours,
    topic_of,
    where_of,
)
from bot.texts import say

ROLES_PER_PAGE = 12
PREVIEW_CHARS = 300
ECHO_LIMIT = 64  # of a name the user typed, quoted back


def role_label(role: Role, *, current: bool) -> str:
    """A role's button: ✅ for the user's, 🔒 for their private ones, 👥 for shared ones."""
    mark = {"private": "🔒 ", "shared": "👥 "}.get(role.source, "")
    return ("✅ " if current else "") + mark + role.name


def roles_keyboard(
    roles: list[Role], current: str, page: int, owner_id: int
) -> InlineKeyboardMarkup:
    """Every role shown, two to a row, in pages; the buttons work for `owner_id` only."""
    buttons = [
        InlineKeyboardButton(
            role_label(role, current=role.name == current),
            callback_data=RoleButton(owner_id, name=role.name).build(),
        )
        for role in roles
    ]
    return paged_keyboard(
        buttons,
        page,
        per_page=ROLES_PER_PAGE,
        columns=2,
        page_data=lambda n: RoleButton(owner_id, page=n).build(),
    )


def page_of(roles: list[Role], name: str) -> int:
    """The page that shows the role called `name`."""
    names = [r.name for r in roles]
    return names.index(name) // ROLES_PER_PAGE if name in names else 0


class RoleHandlers(Speaking):
    """Callbacks that show, switch, add and delete roles."""

    def __init__(
        self, chat: ChatService, book: RoleBook, policy: AccessPolicy, langs: LanguageChoices
    ) -> None:
        super().__init__(langs)
        self._chat = chat
        self._book = book
        self._policy = policy

    async def on_role(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/role menu; /role NAME switches; /role add NAME PROMPT; /role del NAME."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        lang = self._lang(user)
        rest = command_text(message.text)
        action, _, argument = rest.partition(" ")
        if action.lower() == "add":
            reply = await self._add(user, argument.strip())
        elif action.lower() in {"del", "delete", "rm"}:
            reply = await self._delete(user, argument.strip())
        elif rest:
            # The first await: the switch takes its place behind earlier questions now.
            role = await self._chat.switch_role(
                message.chat_id, profile_of(user), rest, topic_of(message)
            )
            if role is None:
                reply = say("role_unknown", lang, name=clip(rest, ECHO_LIMIT))
            else:
                key = "role_switched" if topic_of(message) is None else "role_switched_topic"
                reply = say(key, lang, role=role.name)
        else:
            private = message.chat.type == ChatType.PRIVATE
            text, keyboard = await self._menu(user, 0, note="", private=private, shown_in=message)
            await message.reply_text(text, reply_markup=keyboard)
            return
        await message.reply_text(reply)

    async def on_role_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A press on a role (switch to it) or on ◀ ▶ (another page); only the user who
        opened the menu may press."""
        query, user = update.callback_query, update.effective_user
        if query is None or user is None:
            return
        lang = self._lang(user)
        pressed = RoleButton.parse(query.data)
        if pressed is None or query.message is None:
            await refuse_button(query, lang)
            return
        if pressed.owner != user.id:
            await refuse_not_yours(query, "/role", lang)
            return
        private = query.message.chat.type == ChatType.PRIVATE
        if (name := pressed.name) is None:
            await answer(query)
            text, keyboard = await self._menu(
                user, pressed.page, note="", private=private, shown_in=query.message
            )
            await edit_quietly(query.edit_message_text(text, reply_markup=keyboard))
            return
        # Its place is taken before the press is answered: a message sent right after the press
        # is answered in the new role.
        switching = self._chat.switch_role(
            query.message.chat.id, profile_of(user), name, topic_of(query.message)
        )
        found = await self._book.find(user.id, name)
        key = "role_switched" if topic_of(query.message) is None else "role_switched_topic"
        note = say(key, lang, role=name) if found else say("role_gone", lang)
        await answer(query, note, alert=found is None)
        role = await switching
        text, keyboard = await self._menu(
            user,
            None if role else 0,
            note=note if role else "",
            private=private,
            shown_in=query.message,
        )
        await edit_quietly(query.edit_message_text(text, reply_markup=keyboard))

    async def _menu(
        self,
        user: User,
        page: int | None,
        *,
        note: str,
        private: bool,
        shown_in: MaybeInaccessibleMessage,
    ) -> tuple[str, InlineKeyboardMarkup]:
        """The menu text (the role answers use where the menu is: a topic's own, else the
        user's; and its prompt) and the keyboard; `page` None shows the page of that role. In
        a group, private roles and prompts stay hidden."""
        lang = self._lang(user)
        _, current = await self._chat.current_choice(user.id, where_of(shown_in))
        roles = [
            role
            for role in await self._book.roles_for(user.id)
            if private or role.source != "private"
        ]
        if private or current.source != "private":
            prompt = clip(current.prompt, PREVIEW_CHARS)
        else:
            prompt = say("role_prompt_hidden", lang)
        text = say("role_menu", lang, role=current.name, prompt=prompt)
        if note:
            text = f"{note}\n\n{text}"
        shown = page_of(roles, current.name) if page is None else page
        return text, roles_keyboard(roles, current.name, shown, user.id)

    async def _add(self, user: User, argument: str) -> str:
        lang = self._lang(user)
        name, _, prompt = argument.partition(" ")
        if not name or not prompt.strip():
            return say("role_add_usage", lang)
        shared = self._policy.is_admin(user.id)
        # The role's owner must be a known user (the database keeps private roles per user).
        await self._chat.remember(profile_of(user))
        problem = await self._book.add(user.id, name, prompt.strip(), shared=shared)
        if problem is None:
            return say("role_added_shared" if shared else "role_added_private", lang, name=name)
        return _problem_text(problem, clip(name, ECHO_LIMIT), lang)

    async def _delete(self, user: User, name: str) -> str:
        lang = self._lang(user)
        if not name:
            return say("role_del_usage", lang)
        name = clip(name, ECHO_LIMIT)
        outcome = await self._book.delete(user.id, name, admin=self._policy.is_admin(user.id))
        if outcome == "private":
            return say("role_deleted_private", lang, name=name)
        if outcome == "shared":
            return say("role_deleted_shared", lang, name=name)
        if outcome is RoleProblem.MISSING and not self._policy.is_admin(user.id):
            return say("role_del_not_yours", lang, name=name)
        return _problem_text(outcome, name, lang) if isinstance(outcome, RoleProblem) else ""


def _problem_text(problem: RoleProblem, name: str, lang: str | None) -> str:
    """Why a role was not added or deleted, with what would work."""
    return say(
        f"role_problem_{problem.value}",
        lang,
        name=name,
        max_name=MAX_NAME_CHARS,
        max_prompt=MAX_PROMPT_CHARS,
    )
