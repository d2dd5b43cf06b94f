"""简体中文: the bot's own words (keys as in en.py)."""

from __future__ import annotations

MESSAGES: dict[str, str] = {
    "not_allowed": (
        "抱歉，这是一个私人机器人，你不在允许名单里。\n"
        "你的 Telegram id 是 {user_id}：如果你应该有权限，请把它发给机器人的主人。"
    ),
    "start": (
        "你好，{name}！我用这台家用电脑上运行的语言模型来回答你；"
        "除了经由 Telegram 传输，你写的内容不会离开这个家。\n\n"
        "模型：{model}\n"
        "角色：{role}\n\n"
        "直接给我发消息就行。/new 开始新对话，/stop 中止正在写的回答，/help 列出所有命令。"
    ),
    "help": (
        "发送任意消息，模型就会回答，并记住对话内容。"
        "发送照片（把问题写在图片说明里），能看图的模型会回答；"
        "发送文本文件或 PDF，其中的文字会成为你消息的一部分。\n\n"
        "/start - 问候，显示当前模型和角色\n"
        "/new - 开始新对话（别名 /reset）；在开启话题的聊天中会新开一个话题\n"
        "/chats - 你的对话：继续、重命名或删除；/rename 名称 给当前对话命名\n"
        "/stop - 停止正在写的回答\n"
        "/ask PROMPT - 在对话之外单独回答一次（/api/generate）\n"
        "/compare PROMPT - 把同一个提示词发给多个模型；用 /compare models a,b,c 指定模型\n"
        "/role - 选择模型扮演的角色（翻译、用五岁小孩能听懂的话解释等）；"
        "/role add NAME PROMPT 添加自己的角色，PROMPT 中的 %s 处会填入你的每条消息\n"
        "/settings - 温度、上下文长度、思考、回答页脚\n"
        "/model - 列出已安装的模型并切换（或 /model NAME）\n"
        "/status - Ollama、已加载的模型、机器人状态\n"
        "/stats - 你的回答次数和 token 用量\n"
        "/lang - 机器人的语言\n"
        "/export - 把你的对话导出为文件；/forget 删除保存的关于你的一切\n"
        "/groupmode - 群组里：大家共享一个对话，或每人各自一个\n"
        "/id - 你的用户 id 和本聊天的 id\n"
        "/help - 本列表\n\n"
        "管理员：/pull NAME 安装模型，/rm NAME 删除模型；"
        "管理员用 /role add 添加的角色所有人都能用。"
    ),
    "new_conversation": "已开始新对话。之前的消息仍会保留，但不再发送给模型。",
    "new_topic_name": "新对话",
    "new_topic_opened": "💬 新对话。请提问：标题会根据你的第一个问题自动生成。",
    "new_topic_elsewhere": "已为新对话开了一个话题：“{title}”。",
    "topics_off": (
        "这个机器人没有开启话题，所以 /new 在这里开始了新对话。/chats 可在你的对话之间切换。"
    ),
    "stale_answer": "这个回答已经不是对话中的最后一条，无法重新生成或继续。",
    "answer_not_yours": "这些按钮只供提问的人使用。",
    "button_regenerate": "🔄 重新生成",
    "button_continue": "➡️ 继续",
    "chats_list": (
        "你在这里的对话（{count} 个）。点一个可继续、重命名或删除；✅ 是当前对话。/new 开始新对话。"
    ),
    "chats_none": "还没有对话：发一条消息就开始了。",
    "chats_group": "/chats 只用于私聊；在群里请用 /new 开始新对话。",
    "chats_label": "{mark}{title} · {date} · {messages}",
    "chats_untitled": "未命名",
    "chats_topic": "话题",
    "chats_detail": "“{title}”\n开始于 {started}，最后一条 {last}，共 {messages} 条消息。{where}",
    "chats_in_topic": "\n它有自己的话题；在那里发消息也会继续它。",
    "button_chats_use": "▶️ 在这里继续",
    "button_chats_rename": "✏️ 重命名",
    "button_chats_delete": "🗑 删除",
    "button_chats_delete_yes": "确定删除",
    "button_chats_back": "« 所有对话",
    "chats_switched": "此聊天现在继续“{title}”。请发送下一条消息。",
    "chats_rename_prompt": "请回复这条消息，发送“{title}”的新名称。",
    "chats_renamed": "已重命名为“{title}”。",
    "chats_delete_ask": "删除“{title}”及其 {messages} 条消息？此操作无法撤销。",
    "chats_deleted": "已删除“{title}”。",
    "chats_gone": "这个对话已不存在。/chats 会列出你现有的对话。",
    "rename_usage": "/rename 名称：给当前对话起一个你自己的名字。",
    "stopped_nothing": "现在没有正在为你写的回答。",
    "stopped_marker": "（已停止）",
    "cut_at_pages_marker": "（……回答已截断：超过了 {pages} 条消息）",
    "cut_at_length_marker": "（……回答已截断：达到了允许的最大长度）",
    "cut_while_thinking": (
        "模型把一个回答允许的全部长度都用在了思考上，没有写出回答。请把问题问得更具体一些，"
        "或用 /settings thinking off 关闭思考。"
    ),
    "left_queue": "已停止：它还在排队等待模型，所以什么都没有写。",
    "reading_stopped": "已停止：你的文件还在读取中，所以什么都没有写。",
    "working": "✍️ 模型正在处理你的问题……",
    "waiting": "⏳ 正在排队等待模型，前面还有 {ahead} 个请求……",
    "loading": "⏳ 正在加载 {model}（{size}）……",
    "loading_unsized": "⏳ 正在加载 {model}……",
    "empty_answer": "（模型返回了空回答）",
    "unknown_model": "未知（无法连接 Ollama）",
    "shutting_down": "我正在重启，没能回答这条消息。请过一分钟再发一次。",
    "model_replaced": (
        "你的模型 {removed} 已不再安装，现改由 {now} 回答。/model 可查看已安装的模型。"
    ),
    "text_only": (
        "我能读取文字、照片（也包括以文件形式发送的图片：JPEG、PNG、WebP）、"
        "文本文件（.txt、.md、源代码、.csv、.json、.log 等）、PDF 和语音消息。"
        "视频、贴纸和其他文件我读不了：请用文字写下你的问题。"
    ),
    "unsupported_file": (
        "我读不了 {name}。我能读取照片和图片（JPEG、PNG、WebP）、"
        "文本文件（.txt、.md、源代码、.csv、.json、.log 等）、PDF、语音消息和音频文件。"
    ),
    "images_cut": "你的 {sent} 张照片中只有前 {kept} 张能放进模型的上下文窗口，回答只针对这几张。",
    "context_trimmed": (
        "这段对话中较早的消息已超出你的模型的上下文窗口，模型将看不到它们。发送 /new 开始新的对话。"
    ),
    "document_cut": "{name} 超出了你的模型的上下文窗口，所以只读取了开头部分。",
    "ids": "你的用户 id：{user_id}\n本聊天的 id：{chat_id}",
    "error_unavailable": (
        "我连不上 {host} 上的 Ollama。它在运行吗？（`ollama serve` 或 `systemctl start ollama`）。"
        "等它恢复后，我会自动重新开始工作。"
    ),
    "error_server_unavailable": (
        "我连不上 {host} 上的模型服务器。它在运行吗（LM Studio 的服务器、llamafile、"
        "llama-server）？等它恢复后，我会自动重新开始工作。"
    ),
    "error_managed_elsewhere": (
        "{name} 上的模型要在那个服务器自己的应用里添加和删除，不能在这里操作。"
    ),
    "error_model_not_found": (
        "{host} 上没有安装模型 {model}。请用 `ollama pull {model}` 安装，或者找管理员。"
    ),
    "error_no_model": "{host} 上还没有安装任何模型。请先安装一个，例如 `ollama pull llama3.2`。",
    "error_stream_broken": (
        "回答到一半时，与 {host} 上 Ollama 的连接断开了。已收到的内容在上面；再问一次即可重试。"
    ),
    "error_timeout": (
        "{model} 已经 {seconds} 秒没有输出，所以我放弃了。"
        "大模型加载可能需要这么久：请重试，或调大 OLLAMA_TIMEOUT。"
    ),
    "error_model_failed": "Ollama 无法用 {model} 回答：{detail}",
    "error_no_vision": (
        "这里没有能看图的模型：你的模型不支持看图，而 {model}（VISION_MODEL）没有安装在 {host} 上。"
        "管理员可以用 /pull {model} 安装；也可以用 /new 开始新对话，不再带上本次对话中的照片。"
    ),
    "error_vision_model_blind": (
        "你的模型看不了图片，{host} 上的 VISION_MODEL {model} 也看不了："
        "请把 VISION_MODEL 设为能看图的模型（llava、gemma3、qwen2.5vl 等）。"
    ),
    "error_file_too_big": "{name} 有 {size} MB；我最多能读取 {limit} MB 的文件。",
    "error_unreadable": "我读不了 {name}：{reason}。",
    "unreadable_too_many_pixels": (
        "图片超过 {limit} 百万像素，这是我能读取的上限（以照片形式发送，Telegram 会把它缩小）"
    ),
    "unreadable_not_an_image": "它不是 JPEG、PNG 或 WebP 图片，我只读取这几种",
    "unreadable_too_slow": "读取它需要超过 {seconds} 秒，这是我在一个文件上花的最长时间",
    "unreadable_too_much_memory": "读取它需要超过 {megabytes} MB 内存，这是我给一个文件的上限",
    "unreadable_damaged": "文件已损坏",
    "unreadable_not_text": "这不是文本文件",
    "unreadable_password": "PDF 有密码保护",
    "unreadable_no_text_layer": "PDF 没有文字层（是扫描件吗？）",
    "error_download": "Telegram 没能把 {name} 交给我（{detail}）。请再发一次。",
    "error_unexpected": "我这边出了点问题，错误已记录在机器人的日志里。请再试一次。",
    "error_telegram_slow": "Telegram 接收我的回复很慢。如果稍后仍没有看到回复，请再发一次。",
    "cmd_start": "问候，当前模型和角色",
    "cmd_help": "所有命令",
    "cmd_new": "开始新对话",
    "cmd_chats": "你的对话：继续、重命名、删除",
    "cmd_rename": "给当前对话命名",
    "cmd_reset": "同 /new",
    "cmd_stop": "停止正在写的回答",
    "cmd_id": "你的用户 id 和本聊天的 id",
    "cmd_model": "查看并切换模型",
    "cmd_pull": "安装模型（管理员）",
    "cmd_rm": "删除模型（管理员）",
    "cmd_status": "Ollama 和机器人状态一览",
    "cmd_ask": "在对话之外单独回答一次",
    "cmd_compare": "把同一个提示词发给多个模型",
    "cmd_role": "选择角色（系统提示词）",
    "cmd_forget": "删除保存的关于你的一切",
    "cmd_export": "把你的对话导出为 Markdown 文件",
    "cmd_stats": "你的回答次数和 token 用量",
    "cmd_lang": "选择机器人的语言",
    "cmd_groupmode": "群组里共享或各自的对话",
    "cmd_settings": "温度、上下文、思考、页脚",
    # Models
    "model_menu": "{host} 上已安装的模型。你当前用的是：{current}",
    "model_menu_page": (
        "{host} 上已安装的模型（第 {page} 页，共 {pages} 页）。你当前用的是：{current}"
    ),
    "model_none": "{host} 上还没有安装任何模型。",
    "model_none_admin": "{host} 上还没有安装任何模型。用 /pull NAME 安装一个，例如 /pull llama3.2",
    "model_switched": "现在由 {model} 回答。",
    "model_not_installed": "{host} 上没有安装 {name}。请让管理员下载它。",
    "model_not_installed_admin": "{host} 上没有安装 {name}。要下载吗？",
    "model_gone": "该模型已不再安装；这是当前的列表。",
    "button_pull": "下载 {name}",
    "button_previous": "◀",
    "button_next": "▶",
    "button_page": "{page}/{pages}",
    "button_expired": "这个按钮已失效，请重新发送命令。",
    "admins_only": "只有管理员可以安装或删除模型。",
    "pull_usage": "用法：/pull NAME，例如 /pull llama3.2:3b",
    "pull_invalid": (
        "{name!r} 不是 Ollama 接受的模型名：[host/][namespace/]model[:tag]，"
        "只能包含字母、数字和 . _ -，最多 200 个字符。"
    ),
    "pull_where": "要在哪台 Ollama 主机上下载 {model}？",
    "button_rm_from": "从 {host} 删除",
    "pull_running": "{model} 已经在下载中。",
    "pull_started": "正在下载 {model}……",
    "pull_progress": "正在下载 {model}\n{status}",
    "pull_progress_sized": (
        "正在下载 {model}\n{status}\n{bar} {percent}\n{done} / {total} MB · {speed} · {eta}"
    ),
    "pull_speed": "{mb_per_s:.1f} MB/s",
    "pull_speed_unknown": "正在测速",
    "pull_eta": "剩余 {eta}",
    "pull_eta_unknown": "剩余时间未知",
    "pull_done": "{model} 已安装。用 /model 选择它。",
    "pull_failed": "下载 {model} 失败：{detail}",
    "pull_cancelled": "已取消下载 {model}。",
    "button_cancel": "取消",
    "rm_usage": "用法：/rm NAME，例如 /rm llama2:7b",
    "rm_confirm": "要从 {host} 删除 {model} 吗？正在用它的人会改用默认模型。",
    "button_rm_yes": "删除",
    "button_rm_no": "保留",
    "rm_done": "已删除 {model}。",
    "rm_kept": "已保留 {model}。",
    "rm_missing": "{host} 上没有模型 {model}。/model 可查看已安装的模型。",
    # Status
    "status": (
        "{host} 上的 Ollama：{state}\n"
        "已安装模型：{installed}\n"
        "当前已加载：{loaded}\n"
        "机器人已运行 {uptime}；数据库占用 {database}"
    ),
    "status_up": "运行中，版本 {version}",
    "status_down": "无法连接",
    "status_unknown": "未知",
    "status_none_loaded": "无",
    "status_loaded": "{model}（占用内存 {size}，其中 GPU 上 {vram}，{expiry}）",
    "status_expires": "{left} 后卸载",
    "status_kept": "常驻内存",
    "status_server": "• {name}（{host}）：{state}",
    "status_server_up": "{version}，模型：{models} 个",
    "status_users": "用户数：{users}",
    # Roles
    "role_menu": (
        "你的角色：{role}\n"
        "{prompt}\n\n"
        "点一下角色即可切换（会开始新对话）。🔒 角色只属于你自己，👥 角色是共享的。"
        "/role add NAME PROMPT 添加自己的角色（PROMPT 中的 %s 处会填入你的每条消息），"
        "/role del NAME 删除角色。"
    ),
    "role_switched_topic": "此话题现在以 {role} 的身份回答；对话继续。",
    "role_switched": "现在以 {role} 的身份回答。已为新角色开始新对话。",
    "role_unknown": "没有名为 {name} 的角色。/role 可查看所有角色。",
    "role_gone": "该角色已不存在；这是当前的列表。",
    "role_prompt_hidden": "（私人角色：它的提示词只在你的私聊中显示）",
    "role_replaced": "你的角色 {removed} 已被删除，已切回 {now}。/role 可查看所有角色。",
    "menu_not_yours": "这个菜单是别人的。发送 {command} 打开你自己的菜单。",
    "role_add_usage": (
        "用法：/role add NAME PROMPT，例如 /role add pirate 像海盗一样说话。"
        "如果在 PROMPT 中写入 %s，你的每条消息会被填进这个位置："
        "/role add french 把 `%s` 翻译成法语。"
    ),
    "role_added_private": "已添加你的角色 {name}（只有你能看到）。/role {name} 即可切换过去。",
    "role_added_shared": "已添加共享角色 {name}：所有人都可以用 /role 选择它。",
    "role_del_usage": "用法：/role del NAME",
    "role_deleted_private": "已删除你的角色 {name}。",
    "role_deleted_shared": "已删除共享角色 {name}。",
    "role_del_not_yours": "你没有名为 {name} 的角色。共享角色只能由管理员删除。",
    "role_problem_bad_name": (
        "{name!r} 不能用作角色名：只能用 1-{max_name} 个 a-z、0-9、_ 和 - 字符，不能有空格。"
    ),
    "role_problem_empty_prompt": "角色 {name} 的名字后面需要写上提示词。",
    "role_problem_long_prompt": "提示词太长了：角色的提示词最多只能有 {max_prompt} 个字符。",
    "role_problem_taken": "已经有名为 {name} 的角色了，请换个名字。",
    "role_problem_reserved": "{name} 是内置角色（或来自角色文件），不能在这里修改。",
    "role_problem_missing": "没有名为 {name} 的角色。",
    # One-shot
    "ask_usage": (
        "用法：/ask PROMPT，例如 /ask 写一首关于茶的俳句。它会在对话之外单独回答。"
        "回复某条消息时发送 /ask，就是针对那条消息提问。"
    ),
    "compare_usage": (
        "用法：/compare PROMPT：把同一个提示词发给多个模型，每个模型各回一条消息。"
        "/compare models a,b,c 选择要比较的模型（2-4 个），/compare models 查看当前选择。"
    ),
    "compare_too_few": (
        "比较至少需要安装两个模型。/model 可查看已安装的模型；管理员可以用 /pull 安装更多。"
    ),
    "compare_set_is": "/compare 会询问：{models}",
    "compare_set_reset": "/compare 将重新询问你的模型和最新安装的几个模型。",
    "compare_set_count": "请选择 {low} 到 {high} 个不同的模型，例如 /compare models a,b,c",
    "compare_set_missing": "未安装：{models}。/model 可查看已安装的模型。",
    "compare_set_done": "/compare 将询问：{models}",
    # Settings
    "settings": (
        "你的回答设置（模型 {model}）：\n"
        "温度：{temperature}（0.0 精确 - 2.0 有创意）\n"
        "上下文：{context} 个 token（最多 {context_max}）\n"
        "思考：{thinking}\n"
        "页脚：{footer}\n\n"
        "每一项都可以直接输入：/settings temperature 0.9，/settings context 12000，"
        "/settings thinking off，/settings footer on，/settings reset。"
    ),
    "settings_default_mark": "（默认）",
    "settings_on": "开",
    "settings_off": "关",
    "settings_cannot_think": "此模型不支持思考",
    "settings_unknown": (
        "没有 {name!r} 这个设置项：可用的有 temperature、context、thinking、footer。"
    ),
    "settings_out_of_range": "{name} 必须在 {low} 到 {high} 之间。",
    "settings_not_on_off": "{name} 只能是 on 或 off。",
    "settings_cannot_think_refused": (
        "你的模型不支持思考，所以无法切换思考模式。"
        "支持思考的模型会在能力（capabilities）中列出 `thinking`（例如 qwen3、deepseek-r1）。"
    ),
    "settings_model_unknown": "我现在没法向 Ollama 确认你的模型是否支持思考。等它恢复后再试吧。",
    "settings_usage": "用法：/settings NAME VALUE，例如 /settings temperature 0.9",
    "settings_saved": "已保存。",
    "settings_reset_done": "所有设置已恢复默认。",
    "button_thinking_on": "💭 思考：开",
    "button_thinking_off": "💭 思考：关",
    "button_footer_on": "页脚：开",
    "button_footer_off": "页脚：关",
    "button_settings_reset": "恢复默认",
    # Answers
    "footer_tokens": "{tokens} 个 token",
    "footer_speed": "{speed:.1f} token/s",
    "thinking_now": "💭 思考中……",
    "thought_for": "💭 思考了 {duration}",
    # 隐私、用量、语言、群组
    "forget_confirm": (
        "要删除我保存的关于你的一切吗？包括你的对话、照片、设置和私人角色。此操作无法撤销。"
    ),
    "button_forget_yes": "全部删除",
    "button_forget_no": "保留",
    "forget_done": "完成：关于你的任何内容都不再保存。给我发消息即可重新开始。",
    "forget_kept": "没有删除任何内容。",
    "export_empty": "我没有保存你的任何对话。",
    "export_sent_privately": "已通过私聊发给你。",
    "export_open_private": "请先和我开始私聊（在那里点“开始”），然后再发送 /export。",
    "export_caption": "你和我的对话：共 {count} 条消息。",
    "export_title": "# {name} 与 ollagram 的对话",
    "export_exported": "导出时间：{date}。",
    "export_conversation": "## {chat}，开始于 {date}",
    "export_private_chat": "私聊",
    "export_group_chat": "群组 {chat_id}",
    "export_you": "你",
    "export_images": "[{count} 张图片]",
    "export_stopped": "（已停止）",
    "export_failed": "（没有回答：出错了）",
    "export_interrupted": "（机器人停止时被中断）",
    "stats_none": "你还没有任何回答。",
    "stats_mine": (
        "你的用量：{answers} 次回答，输入 {prompt_tokens} 个 token，"
        "输出 {completion_tokens} 个 token，{speed}。"
    ),
    "stats_all": "所有人（{users} 位用户）：",
    "stats_line": (
        "{name}：{answers} 次回答，输入 {prompt_tokens}，输出 {completion_tokens}，{speed}"
    ),
    "stats_total": (
        "合计：{answers} 次回答，输入 {prompt_tokens} 个 token，输出 {completion_tokens} 个"
    ),
    "stats_speed": "平均每秒 {speed:.1f} 个 token",
    "stats_speed_unknown": "速度未知",
    "language_name": "简体中文",
    "lang_menu": "我现在用{current}和你交流。请选择语言，或选“自动”以跟随你的 Telegram 应用。",
    "lang_set": "从现在起，我用简体中文和你交流。",
    "lang_auto": "从现在起，我跟随你的 Telegram 应用的语言。",
    "lang_unknown": "我会说：{languages}。/lang auto 跟随你的 Telegram 应用。",
    "button_lang_auto": "自动（Telegram）",
    "groupmode_is": (
        "本群目前是{mode}。管理员可以用 /groupmode shared 或 /groupmode personal 修改。"
    ),
    "groupmode_shared": "共享对话：所有人在同一个对话里交流",
    "groupmode_personal": "每位成员各自一个对话",
    "groupmode_set": "完成：本群现在是{mode}。",
    "groupmode_private_chat": "/groupmode 只能在群组里使用。",
    "groupmode_admins": "只有管理员可以修改群组的对话方式。",
    # Voice
    "voice_you_said": "🎙 你说：",
    "voice_name_voice": "你的语音消息",
    "voice_name_video_note": "你的视频消息",
    "error_voice_too_long": "{name}长 {length}；我最多转写 {limit}。",
    "error_no_transcriber": (
        "我现在还听不了：这里没有能听音频的模型。管理员可以安装一个"
        "（ollama pull gemma4:e2b），或把 TRANSCRIBE_BASE_URL 设为一个转写服务器。"
    ),
    "error_audio_model_deaf": (
        "我现在还听不了：AUDIO_MODEL {model} 没有安装或不能听音频。管理员可以安装它"
        "（ollama pull {model}），或把 AUDIO_MODEL 设为一个能听的模型。"
    ),
    "error_nothing_heard": "我在{name}里没听出任何话。",
    "error_transcription_failed": "我没能转写{name}：{reason}",
    "unreadable_no_sound": "它没有声音",
    "settings_voice": (
        "语音消息按此语言识别：{language}。/settings voice zh（或 en、de……）选择一种语言；"
        "/settings voice auto 识别任何语言。"
    ),
    "settings_voice_auto": "任何语言（自动）",
    "settings_voice_unknown": "我不认识这个语音语言。可选：auto、{languages}。",
    "transcriber_down": (
        "{host} 的转写服务器没有响应。管理员可以启动它，或修改 TRANSCRIBE_BASE_URL。"
    ),
    "transcriber_not_found": (
        "{host} 的转写服务器没有模型 {model}，或者这个地址不是转写服务器的"
        "（whisper.cpp 的服务器需要 --inference-path /v1/audio/transcriptions）。"
        "管理员可以修改 TRANSCRIBE_MODEL 或 TRANSCRIBE_BASE_URL。"
    ),
    "transcriber_timeout": "转写服务器在 {seconds} 秒内没有给出文字。请重试，或请管理员检查它。",
    "transcriber_failed": (
        "转写服务器返回了错误：{detail}。管理员可以查看它的日志、TRANSCRIBE_BASE_URL 和 "
        "TRANSCRIBE_MODEL。"
    ),
}
