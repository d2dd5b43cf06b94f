"""Role handlers: /role (menu, switch, add, del) and its buttons."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update, User
from telegram.ext import ContextTypes

from bot.access import AccessPolicy
from bot.chat import ChatService
from bot.handlers.chat import profile_of
from bot.handlers.keyboards import answer, command_text, edit_quietly, paged_keyboard
from bot.roles import MAX_NAME_CHARS, MAX_PROMPT_CHARS, Role, RoleBook, RoleProblem
from bot.texts import say

ROLES_PER_PAGE = 12
PREVIEW_CHARS = 300


def role_label(role: Role, *, current: bool) -> str:
    """A role's button: ✅ for the user's, 🔒 for their private ones, 👥 for shared ones."""
    mark = {"private": "🔒 ", "shared": "👥 "}.get(role.source, "")
    return ("✅ " if current else "") + mark + role.name


def roles_keyboard(roles: list[Role], current: str, page: int) -> InlineKeyboardMarkup:
    """Every role this user may choose, two to a row, in pages."""
    buttons = [
        InlineKeyboardButton(
            role_label(role, current=role.name == current), callback_data=f"role:use:{role.name}"
        )
        for role in roles
    ]
    return paged_keyboard(
        buttons, page, per_page=ROLES_PER_PAGE, columns=2, page_data=lambda n: f"role:page:{n}"
    )


def page_of(roles: list[Role], name: str) -> int:
    """The page that shows the role called `name`."""
    names = [r.name for r in roles]
    return names.index(name) // ROLES_PER_PAGE if name in names else 0


class RoleHandlers:
    """Callbacks that show, switch, add and delete roles."""

    def __init__(self, chat: ChatService, book: RoleBook, policy: AccessPolicy) -> None:
        self._chat = chat
        self._book = book
        self._policy = policy

    async def on_role(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/role menu; /role NAME switches; /role add NAME PROMPT; /role del NAME."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        lang = user.language_code
        rest = command_text(message.text)
        action, _, argument = rest.partition(" ")
        if action.lower() == "add":
            reply = await self._add(user, argument.strip())
        elif action.lower() in {"del", "delete", "rm"}:
            reply = await self._delete(user, argument.strip())
        elif rest:
            role = await self._book.find(user.id, rest)
            if role is None:
                reply = say("role_unknown", lang, name=rest)
            else:
                await self._chat.switch_role(message.chat_id, profile_of(user), role)
                reply = say("role_switched", lang, role=role.name)
        else:
            text, keyboard = await self._menu(user, 0, note="")
            await message.reply_text(text, reply_markup=keyboard)
            return
        await message.reply_text(reply)

    async def on_role_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A press on a role (switch to it) or on ◀ ▶ (another page)."""
        query, user = update.callback_query, update.effective_user
        if query is None or user is None or query.data is None or query.message is None:
            return
        lang = user.language_code
        _, action, value = query.data.split(":", 2)
        if action == "page":
            await answer(query)
            text, keyboard = await self._menu(user, int(value), note="")
        else:
            role = await self._book.find(user.id, value)
            if role is None:
                await answer(query, say("role_gone", lang), alert=True)
                text, keyboard = await self._menu(user, 0, note="")
            else:
                note = say("role_switched", lang, role=role.name)
                # Answered first: the switch waits for an answer being written, and Telegram
                # stops waiting for the answer to a press after a few seconds.
                await answer(query, note)
                await self._chat.switch_role(query.message.chat.id, profile_of(user), role)
                text, keyboard = await self._menu(user, None, note=note)
        await edit_quietly(query.edit_message_text(text, reply_markup=keyboard))

    async def _menu(
        self, user: User, page: int | None, *, note: str
    ) -> tuple[str, InlineKeyboardMarkup]:
        """The menu text (the user's role and its prompt) and the keyboard; `page` None shows
        the page of the user's role."""
        lang = user.language_code
        _, current = await self._chat.current_choice(user.id)
        roles = await self._book.roles_for(user.id)
        prompt = current.prompt
        if len(prompt) > PREVIEW_CHARS:
            prompt = prompt[: PREVIEW_CHARS - 1] + "…"
        text = say("role_menu", lang, role=current.name, prompt=prompt)
        if note:
            text = f"{note}\n\n{text}"
        shown = page_of(roles, current.name) if page is None else page
        return text, roles_keyboard(roles, current.name, shown)

    async def _add(self, user: User, argument: str) -> str:
        lang = user.language_code
        name, _, prompt = argument.partition(" ")
        if not name or not prompt.strip():
            return say("role_add_usage", lang)
        shared = self._policy.is_admin(user.id)
        # The role's owner must be a known user (the database keeps private roles per user).
        await self._chat.remember(profile_of(user))
        problem = await self._book.add(user.id, name, prompt.strip(), shared=shared)
        if problem is None:
            return say("role_added_shared" if shared else "role_added_private", lang, name=name)
        return _problem_text(problem, name, lang)

    async def _delete(self, user: User, name: str) -> str:
        lang = user.language_code
        if not name:
            return say("role_del_usage", lang)
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
