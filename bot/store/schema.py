"""The database's schema, as the numbered migrations that build it."""

from __future__ import annotations

# Each entry upgrades the schema by one version; never edit an applied one, append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE users (
        id            INTEGER PRIMARY KEY,
        first_name    TEXT NOT NULL DEFAULT '',
        username      TEXT,
        language_code TEXT,
        first_seen    REAL NOT NULL,
        last_seen     REAL NOT NULL
    );
    CREATE TABLE user_settings (
        user_id     INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
        model       TEXT,
        role        TEXT,
        temperature REAL,
        num_ctx     INTEGER,
        think       INTEGER,
        footer      INTEGER
    );
    CREATE TABLE conversations (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        chat_id    INTEGER NOT NULL,
        user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        started_at REAL NOT NULL
    );
    CREATE INDEX conversations_by_thread ON conversations(chat_id, user_id, id);
    CREATE TABLE messages (
        id                   INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id      INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        role                 TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
        content              TEXT NOT NULL,
        model                TEXT,
        status               TEXT NOT NULL DEFAULT 'complete'
                             CHECK (status IN ('complete', 'stopped', 'error')),
        prompt_tokens        INTEGER,
        completion_tokens    INTEGER,
        total_duration_ns    INTEGER,
        eval_duration_ns     INTEGER,
        created_at           REAL NOT NULL
    );
    CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
    """,
    # 2: answers are written while they stream, so a crash leaves them `interrupted`.
    """
    CREATE TABLE messages_v2 (
        id                   INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id      INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        role                 TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
        content              TEXT NOT NULL,
        model                TEXT,
        status               TEXT NOT NULL DEFAULT 'complete'
                             CHECK (status IN ('complete', 'stopped', 'error', 'interrupted')),
        prompt_tokens        INTEGER,
        completion_tokens    INTEGER,
        total_duration_ns    INTEGER,
        eval_duration_ns     INTEGER,
        created_at           REAL NOT NULL
    );
    INSERT INTO messages_v2 SELECT * FROM messages;
    DROP TABLE messages;
    ALTER TABLE messages_v2 RENAME TO messages;
    CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
    """,
    # 3: custom roles (shared when owner_id is NULL, else private) and each user's /compare set.
    """
    ALTER TABLE user_settings ADD COLUMN compare_models TEXT;
    CREATE TABLE roles (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        name       TEXT NOT NULL,
        prompt     TEXT NOT NULL,
        owner_id   INTEGER REFERENCES users(id) ON DELETE CASCADE,
        created_by INTEGER NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE UNIQUE INDEX roles_by_owner_and_name ON roles(COALESCE(owner_id, 0), name);
    """,
    # 4: images sent with a message, each stored once (by the sha256 of the prepared JPEG).
    """
    CREATE TABLE images (
        sha256     TEXT PRIMARY KEY,
        data       BLOB NOT NULL,
        width      INTEGER NOT NULL,
        height     INTEGER NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE message_images (
        message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        position   INTEGER NOT NULL,
        sha256     TEXT NOT NULL REFERENCES images(sha256),
        PRIMARY KEY (message_id, position)
    );
    CREATE INDEX message_images_by_image ON message_images(sha256);
    """,
    # 5: who asked (a shared group thread holds many users' messages; /forget, /stats and
    # /export go by it), each chat's thread mode, each user's language.
    """
    ALTER TABLE messages ADD COLUMN author_id INTEGER REFERENCES users(id) ON DELETE CASCADE;
    UPDATE messages SET author_id =
        (SELECT user_id FROM conversations c WHERE c.id = messages.conversation_id);
    CREATE INDEX messages_by_author ON messages(author_id);
    CREATE INDEX messages_by_time ON messages(created_at);
    ALTER TABLE user_settings ADD COLUMN language TEXT;
    CREATE TABLE chat_settings (
        chat_id INTEGER PRIMARY KEY,
        shared  INTEGER NOT NULL DEFAULT 0
    );
    """,
    # 6: where the context sent to the model starts (the id of the oldest message still sent),
    # so the prompt's front stays put between requests and the model server reuses its cache.
    """
    ALTER TABLE conversations ADD COLUMN context_from INTEGER;
    """,
    # 7: several conversations per user: a private chat's topics (each topic its own
    # conversation, with its own model and role when set there; `topic_owned`: the bot opened
    # the topic, so the model's title may rename it), titles, the one /chats
    # switched to, the message carrying an answer's Regenerate/Continue buttons, why an answer
    # ended (Continue is offered for answers cut at the token cap), and each user's language
    # for transcribing voice messages.
    """
    ALTER TABLE conversations ADD COLUMN topic_id INTEGER;
    ALTER TABLE conversations ADD COLUMN title TEXT;
    ALTER TABLE conversations ADD COLUMN model TEXT;
    ALTER TABLE conversations ADD COLUMN role TEXT;
    ALTER TABLE conversations ADD COLUMN buttons_message_id INTEGER;
    ALTER TABLE conversations ADD COLUMN topic_owned INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX conversations_by_topic ON conversations(chat_id, user_id, topic_id, id);
    CREATE TABLE current_conversations (
        chat_id         INTEGER NOT NULL,
        user_id         INTEGER NOT NULL,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        PRIMARY KEY (chat_id, user_id)
    );
    ALTER TABLE messages ADD COLUMN done_reason TEXT;
    ALTER TABLE user_settings ADD COLUMN voice_language TEXT;
    """,
)
