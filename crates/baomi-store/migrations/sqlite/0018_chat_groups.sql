-- 工作群: the registry of work chat groups (谁建群谁负责、实名入群、定期清理). A group has its
-- platform and the platform's id of it (a Matrix room id, a WeChat group id when known), its
-- purpose, the responsible person (群主) and department, the approval (who, which day; may be
-- missing until recorded), its state (active, or dissolved with who/when/why) and the last
-- message time (entered by the officer, or reported by the chat door for Matrix rooms).
-- Members are real names (and the optional account, mail, phone masked), joined and removed.
-- Each check an officer runs leaves one row per group checked, with its result counts: the
-- statistics table's 检查工作群数 counts these.

CREATE TABLE chat_groups (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    platform            TEXT NOT NULL CHECK (platform IN ('wechat', 'wecom', 'dingtalk', 'matrix', 'other')),
    name                TEXT NOT NULL,
    platform_id         TEXT,
    purpose             TEXT,
    owner               TEXT NOT NULL,
    department          TEXT NOT NULL,
    approved_by         TEXT,
    approved_day        TEXT,
    approval_note       TEXT,
    created_day         TEXT,
    registered_ms       BIGINT NOT NULL,
    registered_by       TEXT NOT NULL,
    state               TEXT NOT NULL CHECK (state IN ('active', 'dissolved')),
    dissolved_ms        BIGINT,
    dissolved_by        TEXT,
    dissolved_reason    TEXT,
    last_message_ms     BIGINT,
    last_message_source TEXT CHECK (last_message_source IN ('entered', 'reported')),
    updated_ms          BIGINT NOT NULL,
    UNIQUE (platform, platform_id)
);
CREATE INDEX chat_groups_department ON chat_groups (department);

CREATE TABLE chat_group_members (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id       BIGINT NOT NULL REFERENCES chat_groups (id),
    name           TEXT,
    nickname       TEXT,
    account        TEXT,
    mail           TEXT,
    -- Masked at import (138****5678): the registry never needs the whole number.
    phone          TEXT,
    joined_day     TEXT,
    added_ms       BIGINT NOT NULL,
    added_by       TEXT NOT NULL,
    removed_ms     BIGINT,
    removed_by     TEXT,
    removed_reason TEXT
);
CREATE INDEX chat_group_members_group ON chat_group_members (group_id);

CREATE TABLE chat_group_checks (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    run           TEXT NOT NULL,
    group_id      BIGINT NOT NULL REFERENCES chat_groups (id),
    ts_ms         BIGINT NOT NULL,
    actor         TEXT NOT NULL,
    zombie_days   BIGINT NOT NULL,
    members       BIGINT NOT NULL,
    not_real_name BIGINT NOT NULL,
    departed      BIGINT NOT NULL,
    zombie        BIGINT NOT NULL,
    unapproved    BIGINT NOT NULL
);
CREATE INDEX chat_group_checks_time ON chat_group_checks (ts_ms);
CREATE INDEX chat_group_checks_group ON chat_group_checks (group_id, ts_ms);
