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
        "Write any message and the model answers, remembering the conversation. "
        "Send a photo (with your question as its caption) and a model that can see answers; "
        "send a text file or a PDF and its text becomes part of your message.\n\n"
        "/start - greeting, your current model and role\n"
        "/new - start a fresh conversation (alias /reset); in a chat with topics, in a topic of "
        "its own\n"
        "/chats - your conversations: continue, rename or delete one; /rename NAME names "
        "the current one\n"
        "/stop - stop the answer being written\n"
        "/ask PROMPT - one answer outside the conversation (/api/generate)\n"
        "/compare PROMPT - the same prompt to several models; /compare models a,b,c picks them\n"
        "/role - choose who the model is (translator, explain like I'm 5, …); "
        "/role add NAME PROMPT adds your own, %s in PROMPT wraps each message\n"
        "/settings - temperature, context size, thinking, answer footer\n"
        "/model - list the installed models and switch (or /model NAME)\n"
        "/status - Ollama, its loaded models, the bot\n"
        "/stats - your answers and tokens\n"
        "/lang - the bot's language\n"
        "/export - your conversations as a file; /forget deletes everything kept about you\n"
        "/groupmode - in a group: one shared conversation or one each\n"
        "/id - your user id and this chat's id\n"
        "/help - this list\n\n"
        "Admins: /pull NAME installs a model, /rm NAME removes one; "
        "their /role add makes a role everyone can use."
    ),
    "new_conversation": (
        "Started a fresh conversation. Earlier messages are kept but no longer sent to the model."
    ),
    "new_topic_name": "New chat",
    "new_topic_opened": (
        "💬 New conversation. Ask away: its title follows from your first question."
    ),
    "new_topic_elsewhere": "Opened a new topic for a fresh conversation: “{title}”.",
    "topics_off": (
        "Topics are not turned on for this bot, so /new started a fresh conversation here. "
        "/chats switches between your conversations."
    ),
    "stale_answer": (
        "That answer is no longer the last of its conversation, so it can't be written again "
        "or continued."
    ),
    "answer_not_yours": "These buttons are for whoever asked the question.",
    "button_regenerate": "🔄 Regenerate",
    "button_continue": "➡️ Continue",
    "chats_list": (
        "Your conversations here ({count}). Tap one to continue, rename or delete it; "
        "✅ is the one this chat continues. /new starts another."
    ),
    "chats_none": "No conversations yet: write a message to start one.",
    "chats_group": "/chats is for private chats; in a group, /new starts a fresh conversation.",
    "chats_label": "{mark}{title} · {date} · {messages}",
    "chats_untitled": "Untitled",
    "chats_topic": "Topic",
    "chats_detail": (
        "“{title}”\nStarted {started}, last message {last}, {messages} messages.{where}"
    ),
    "chats_in_topic": "\nIt lives in a topic of its own; writing there continues it too.",
    "button_chats_use": "▶️ Continue here",
    "button_chats_rename": "✏️ Rename",
    "button_chats_delete": "🗑 Delete",
    "button_chats_delete_yes": "Yes, delete it",
    "button_chats_back": "« All conversations",
    "chats_switched": "This chat now continues “{title}”. Write your next message.",
    "chats_rename_prompt": "Send the new name for “{title}” as a reply to this message.",
    "chats_renamed": "Renamed to “{title}”.",
    "chats_delete_ask": "Delete “{title}” and its {messages} messages? This can't be undone.",
    "chats_deleted": "Deleted “{title}”.",
    "chats_gone": "That conversation no longer exists. /chats shows the ones you have.",
    "rename_usage": "/rename NAME gives the current conversation a name of your own.",
    "stopped_nothing": "Nothing is being written for you right now.",
    "stopped_marker": "(stopped)",
    "cut_at_pages_marker": "(… answer cut: it passed {pages} messages)",
    "cut_at_length_marker": "(… answer cut: it reached the longest answer allowed)",
    "cut_while_thinking": (
        "The model thought for the whole length an answer may take and wrote no answer. Ask "
        "again more narrowly, or turn thinking off with /settings thinking off."
    ),
    "left_queue": "Stopped: it was still waiting for the model, so nothing was written.",
    "reading_stopped": "Stopped: your file was still being read, so nothing was written.",
    "working": "✍️ The model is working on your question…",
    "waiting": "⏳ Waiting for the model: {ahead} ahead of you…",
    "loading": "⏳ Loading {model} ({size})…",
    "loading_unsized": "⏳ Loading {model}…",
    "empty_answer": "(the model gave an empty answer)",
    "unknown_model": "unknown while Ollama is unreachable",
    "shutting_down": (
        "I'm restarting right now and could not answer this. Please send it again in a minute."
    ),
    "model_replaced": (
        "Your model {removed} is no longer installed, so {now} answers instead. "
        "/model shows what is installed."
    ),
    "text_only": (
        "I can read text, photos (also images sent as files: JPEG, PNG, WebP), text files "
        "(.txt, .md, source code, .csv, .json, .log …), PDFs and voice messages. Videos, "
        "stickers and other files I can't read: write your question as text."
    ),
    "unsupported_file": (
        "I can't read {name}. I read photos and images (JPEG, PNG, WebP), text files (.txt, "
        ".md, source code, .csv, .json, .log …), PDFs, voice messages and audio files."
    ),
    "images_cut": (
        "Only the first {kept} of your {sent} photos fit your model's context window; "
        "the answer is about those."
    ),
    "context_trimmed": (
        "Older messages of this conversation no longer fit your model's context window, so the "
        "model no longer sees them. /new starts fresh."
    ),
    "document_cut": (
        "{name} is longer than your model's context window, so only its beginning was read."
    ),
    "ids": "Your user id: {user_id}\nThis chat's id: {chat_id}",
    "error_unavailable": (
        "I can't reach Ollama at {host}. Is it running? (`ollama serve`, or "
        "`systemctl start ollama`). I'll work again by myself once it is back."
    ),
    "error_server_unavailable": (
        "I can't reach the model server at {host}. Is it running (LM Studio's server, "
        "llamafile, llama-server)? I'll work again by myself once it is back."
    ),
    "error_managed_elsewhere": (
        "Models on {name} are added and removed in that server's own app, not here."
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
    "error_timeout": (
        "{model} wrote nothing for {seconds} s, so I gave up. A large model can take that long "
        "to load: try again, or raise OLLAMA_TIMEOUT."
    ),
    "error_model_failed": "Ollama could not answer with {model}: {detail}",
    "error_no_vision": (
        "No model here can see images: your model can't, and {model} (VISION_MODEL) is not "
        "installed on {host}. An admin can install it with /pull {model}; "
        "/new goes on without the photos of this conversation."
    ),
    "error_vision_model_blind": (
        "Your model can't see images, and neither can {model}, the VISION_MODEL on {host}: "
        "set VISION_MODEL to a model with vision (llava, gemma3, qwen2.5vl…)."
    ),
    "error_file_too_big": "{name} has {size} MB; I can read files up to {limit} MB.",
    "error_unreadable": "I can't read {name}: {reason}.",
    "unreadable_too_many_pixels": (
        "the image has more than {limit} million pixels, the most I read "
        "(sent as a photo, Telegram makes it smaller)"
    ),
    "unreadable_not_an_image": "it is not a JPEG, PNG or WebP image, the kinds I read",
    "unreadable_too_slow": (
        "reading it takes more than {seconds} seconds, the most I spend on a file"
    ),
    "unreadable_too_much_memory": (
        "reading it needs more than {megabytes} MB of memory, the most I give a file"
    ),
    "unreadable_damaged": "the file is damaged",
    "unreadable_not_text": "it is not a text file",
    "unreadable_password": "the PDF is password-protected",
    "unreadable_no_text_layer": "the PDF has no text layer (a scan?)",
    "error_download": "Telegram would not give me {name} ({detail}). Please send it again.",
    "error_unexpected": (
        "Something went wrong on my side; the error is in the bot's log. Please try again."
    ),
    "error_telegram_slow": (
        "Telegram is slow to take my reply. If it doesn't show up in a moment, send that again."
    ),
    "cmd_start": "greeting, current model and role",
    "cmd_help": "every command",
    "cmd_new": "start a fresh conversation",
    "cmd_chats": "your conversations: continue, rename, delete",
    "cmd_rename": "name the current conversation",
    "cmd_reset": "same as /new",
    "cmd_stop": "stop the answer being written",
    "cmd_id": "your user id and this chat's id",
    "cmd_model": "list and switch models",
    "cmd_pull": "install a model (admins)",
    "cmd_rm": "remove a model (admins)",
    "cmd_status": "Ollama and the bot at a glance",
    "cmd_ask": "one answer outside the conversation",
    "cmd_compare": "the same prompt to several models",
    "cmd_role": "choose a role (system prompt)",
    "cmd_forget": "delete everything stored about you",
    "cmd_export": "your conversations as a Markdown file",
    "cmd_stats": "your answers and tokens",
    "cmd_lang": "choose the bot's language",
    "cmd_groupmode": "shared or personal threads (groups)",
    "cmd_settings": "temperature, context, thinking, footer",
    # Models
    "model_menu": "Models installed on {host}. Yours: {current}",
    "model_menu_page": "Models installed on {host} (page {page} of {pages}). Yours: {current}",
    "model_none": "No model is installed on {host} yet.",
    "model_none_admin": (
        "No model is installed on {host} yet. Install one with /pull NAME, e.g. /pull llama3.2"
    ),
    "model_switched": "Now answering with {model}.",
    "model_not_installed": "{name} is not installed on {host}. Ask an admin to pull it.",
    "model_not_installed_admin": "{name} is not installed on {host}. Pull it?",
    "model_gone": "That model is no longer installed; here is the current list.",
    "button_pull": "Pull {name}",
    "button_previous": "◀",
    "button_next": "▶",
    "button_page": "{page}/{pages}",
    "button_expired": "This button has expired; send the command again.",
    "admins_only": "Only admins can install or remove models.",
    "pull_usage": "Usage: /pull NAME, for example /pull llama3.2:3b",
    "pull_invalid": (
        "{name!r} is not a model name Ollama accepts: [host/][namespace/]model[:tag], "
        "letters, digits and . _ -, at most 200 characters."
    ),
    "pull_where": "Pull {model} on which Ollama host?",
    "button_rm_from": "Remove from {host}",
    "pull_running": "{model} is already being pulled.",
    "pull_started": "Pulling {model}…",
    "pull_progress": "Pulling {model}\n{status}",
    "pull_progress_sized": (
        "Pulling {model}\n{status}\n{bar} {percent}\n{done} of {total} MB · {speed} · {eta}"
    ),
    "pull_speed": "{mb_per_s:.1f} MB/s",
    "pull_speed_unknown": "measuring speed",
    "pull_eta": "{eta} left",
    "pull_eta_unknown": "time left unknown",
    "pull_done": "{model} is installed. Choose it with /model.",
    "pull_failed": "Pulling {model} failed: {detail}",
    "pull_cancelled": "Pulling {model} was cancelled.",
    "button_cancel": "Cancel",
    "rm_usage": "Usage: /rm NAME, for example /rm llama2:7b",
    "rm_confirm": "Remove {model} from {host}? Whoever uses it falls back to the default model.",
    "button_rm_yes": "Remove",
    "button_rm_no": "Keep it",
    "rm_done": "Removed {model}.",
    "rm_kept": "Kept {model}.",
    "rm_missing": "There is no model {model} on {host}. /model lists what is installed.",
    # Status
    "status": (
        "Ollama at {host}: {state}\n"
        "Installed models: {installed}\n"
        "Loaded now: {loaded}\n"
        "Bot running for {uptime}; database {database}"
    ),
    "status_up": "running, version {version}",
    "status_down": "not reachable",
    "status_unknown": "unknown",
    "status_none_loaded": "none",
    "status_loaded": "{model} ({size} in memory, {vram} on the GPU, {expiry})",
    "status_expires": "unloads in {left}",
    "status_kept": "kept loaded",
    "status_server": "• {name} ({host}): {state}",
    "status_server_up": "{version}, models: {models}",
    "status_users": "Users: {users}",
    # Roles
    "role_menu": (
        "Your role: {role}\n{prompt}\n\n"
        "Press a role to switch to it (that starts a fresh conversation). "
        "🔒 roles are yours alone, 👥 roles are shared. "
        "/role add NAME PROMPT adds your own (%s in PROMPT wraps each message), "
        "/role del NAME deletes it."
    ),
    "role_switched_topic": "This topic now answers as {role}; its conversation goes on.",
    "role_switched": "Now answering as {role}. Started a fresh conversation for the new role.",
    "role_unknown": "There is no role called {name}. /role lists them.",
    "role_gone": "That role no longer exists; here is the current list.",
    "role_prompt_hidden": "(a private role: its prompt is shown only in your private chat)",
    "role_replaced": (
        "Your role {removed} was deleted, so you are back to {now}. /role lists the roles."
    ),
    "menu_not_yours": "This menu belongs to someone else. Send {command} to get your own.",
    "role_add_usage": (
        "Usage: /role add NAME PROMPT, e.g. /role add pirate Answer like a pirate. "
        "Put %s in PROMPT to wrap each of your messages instead: "
        "/role add french Translate `%s` to French."
    ),
    "role_added_private": "Added your role {name} (only you see it). /role {name} switches to it.",
    "role_added_shared": "Added the shared role {name}: everyone can choose it with /role.",
    "role_del_usage": "Usage: /role del NAME",
    "role_deleted_private": "Deleted your role {name}.",
    "role_deleted_shared": "Deleted the shared role {name}.",
    "role_del_not_yours": (
        "You have no role called {name}. Shared roles can only be deleted by admins."
    ),
    "role_problem_bad_name": (
        "{name!r} can't be a role name: use 1-{max_name} of a-z, 0-9, _ and -, no spaces."
    ),
    "role_problem_empty_prompt": "The role {name} needs a prompt after its name.",
    "role_problem_long_prompt": (
        "That prompt is too long: a role's prompt can have at most {max_prompt} characters."
    ),
    "role_problem_taken": "There is already a role called {name}. Pick another name.",
    "role_problem_reserved": (
        "{name} is a built-in role (or comes from the roles file) and can't be changed here."
    ),
    "role_problem_missing": "There is no role called {name}.",
    # One-shot
    "ask_usage": (
        "Usage: /ask PROMPT, e.g. /ask Write a haiku about tea. It is answered on its own, "
        "outside the conversation. /ask in reply to a message asks about that message."
    ),
    "compare_usage": (
        "Usage: /compare PROMPT: the same prompt to several models, one message each. "
        "/compare models a,b,c chooses the models (2-4), /compare models shows them."
    ),
    "compare_too_few": (
        "Comparing needs at least two installed models. /model lists them; an admin can /pull more."
    ),
    "compare_set_is": "/compare asks: {models}",
    "compare_set_reset": "/compare asks your model and the newest installed ones again.",
    "compare_set_count": "Choose {low} to {high} different models, e.g. /compare models a,b,c",
    "compare_set_missing": "Not installed: {models}. /model lists what is installed.",
    "compare_set_done": "/compare will ask: {models}",
    # Settings
    "settings": (
        "Settings for your answers (model {model}):\n"
        "Temperature: {temperature} (0.0 exact - 2.0 creative)\n"
        "Context: {context} tokens (at most {context_max})\n"
        "Thinking: {thinking}\n"
        "Footer: {footer}\n\n"
        "Any value can be typed: /settings temperature 0.9, /settings context 12000, "
        "/settings thinking off, /settings footer on, /settings reset."
    ),
    "settings_default_mark": " (default)",
    "settings_on": "on",
    "settings_off": "off",
    "settings_cannot_think": "this model does not think",
    "settings_unknown": "There is no setting {name!r}: temperature, context, thinking, footer.",
    "settings_out_of_range": "{name} must be between {low} and {high}.",
    "settings_not_on_off": "{name} is on or off.",
    "settings_cannot_think_refused": (
        "Your model does not think, so thinking can't be switched. Thinking models list "
        "`thinking` among their capabilities (e.g. qwen3, deepseek-r1)."
    ),
    "settings_model_unknown": (
        "I can't ask Ollama right now whether your model thinks. Try again once it is back."
    ),
    "settings_usage": "Usage: /settings NAME VALUE, e.g. /settings temperature 0.9",
    "settings_saved": "Saved.",
    "settings_reset_done": "All settings are back to the defaults.",
    "button_thinking_on": "💭 Thinking: on",
    "button_thinking_off": "💭 Thinking: off",
    "button_footer_on": "Footer: on",
    "button_footer_off": "Footer: off",
    "button_settings_reset": "Reset to defaults",
    # Answers
    "footer_tokens": "{tokens} tokens",
    "footer_speed": "{speed:.1f} tokens/s",
    "thinking_now": "💭 Thinking…",
    "thought_for": "💭 Thought for {duration}",
    # Privacy, usage, language, groups
    "forget_confirm": (
        "Delete everything I keep about you: your conversations, photos, settings and private "
        "roles? This cannot be undone."
    ),
    "button_forget_yes": "Delete everything",
    "button_forget_no": "Keep it",
    "forget_done": "Done: nothing about you is stored any more. Write to me to start afresh.",
    "forget_kept": "Nothing was deleted.",
    "export_empty": "I keep no conversation of yours.",
    "export_sent_privately": "Sent to you in our private chat.",
    "export_open_private": (
        "Open a private chat with me first (press Start there), then /export again."
    ),
    "export_caption": "Your conversations with me: {count} messages.",
    "export_title": "# Conversations of {name} with ollagram",
    "export_exported": "Exported {date}.",
    "export_conversation": "## {chat}, from {date}",
    "export_private_chat": "Private chat",
    "export_group_chat": "Group {chat_id}",
    "export_you": "You",
    "export_images": "[{count} image(s)]",
    "export_stopped": "(stopped)",
    "export_failed": "(no answer: it failed)",
    "export_interrupted": "(cut off when the bot stopped)",
    "stats_none": "You have no answers yet.",
    "stats_mine": (
        "Your use: answers: {answers}; tokens in: {prompt_tokens}, out: {completion_tokens}; "
        "{speed}."
    ),
    "stats_all": "Everyone ({users} users):",
    "stats_line": (
        "{name}: answers: {answers}; tokens in: {prompt_tokens}, out: {completion_tokens}; {speed}"
    ),
    "stats_total": (
        "Total: answers: {answers}; tokens in: {prompt_tokens}, out: {completion_tokens}"
    ),
    "stats_speed": "{speed:.1f} tokens/s on average",
    "stats_speed_unknown": "speed unknown",
    "language_name": "English",
    "lang_menu": (
        "I speak {current} with you. Choose a language, or Auto to follow your Telegram app."
    ),
    "lang_set": "From now on I speak English with you.",
    "lang_auto": "From now on I follow your Telegram app's language.",
    "lang_unknown": "I speak: {languages}. /lang auto follows your Telegram app.",
    "button_lang_auto": "Auto (Telegram)",
    "groupmode_is": (
        "This group has {mode}. Admins change it with /groupmode shared or /groupmode personal."
    ),
    "groupmode_shared": "one shared conversation: everyone talks in the same thread",
    "groupmode_personal": "a conversation of its own for each member",
    "groupmode_set": "Done: this group now has {mode}.",
    "groupmode_private_chat": "/groupmode is for groups.",
    "groupmode_admins": "Only admins can change how a group's conversations work.",
    # Voice
    "voice_you_said": "🎙 You said:",
    "voice_name_voice": "your voice message",
    "voice_name_video_note": "your video message",
    "error_voice_too_long": "{name} lasts {length}; I transcribe up to {limit}.",
    "error_no_transcriber": (
        "I can't listen yet: no model here can hear. An admin can install one "
        "(ollama pull gemma4:e2b) or set TRANSCRIBE_BASE_URL to a transcription server."
    ),
    "error_audio_model_deaf": (
        "I can't listen yet: AUDIO_MODEL {model} is not installed or cannot hear. An admin can "
        "install it (ollama pull {model}) or set AUDIO_MODEL to a model that hears."
    ),
    "error_nothing_heard": "I couldn't make out any words in {name}.",
    "error_transcription_failed": "I couldn't transcribe {name}: {reason}",
    "unreadable_no_sound": "it has no sound",
    "settings_voice": (
        "Voice messages are heard in: {language}. /settings voice de (or en, zh, …) picks a "
        "language; /settings voice auto hears any."
    ),
    "settings_voice_auto": "any language (auto)",
    "settings_voice_unknown": (
        "I don't know that language for voice messages. One of: auto, {languages}."
    ),
    "transcriber_down": (
        "the transcription server at {host} does not answer. An admin can start it, or fix "
        "TRANSCRIBE_BASE_URL."
    ),
    "transcriber_not_found": (
        "the transcription server at {host} has no model {model}, or that address is not a "
        "transcription server's (whisper.cpp's needs --inference-path /v1/audio/transcriptions). "
        "An admin can fix TRANSCRIBE_MODEL or TRANSCRIBE_BASE_URL."
    ),
    "transcriber_timeout": (
        "the transcription server gave no text within {seconds} s. Try again, or ask an admin "
        "to look at it."
    ),
    "transcriber_failed": (
        "the transcription server answered with an error: {detail}. An admin can look at its "
        "log, TRANSCRIBE_BASE_URL and TRANSCRIBE_MODEL."
    ),
}
