-- PostgreSQL flavour of the SQLite file. The console's people (三员分立): one account holds exactly one of the three administrative
-- roles; the CHECK constraints make a fourth role, or none, impossible in the database too.
-- Changes proposed by the system administrator wait in the pending_* columns until a
-- security officer approves them.

CREATE TABLE accounts (
    id                    BIGSERIAL PRIMARY KEY,
    name                  TEXT NOT NULL UNIQUE,
    display_name          TEXT,
    department            TEXT,
    role                  TEXT NOT NULL CHECK (role IN ('sysadmin', 'secadmin', 'auditor')),
    status                TEXT NOT NULL CHECK (status IN ('pending', 'active', 'disabled', 'rejected')),
    password_hash         TEXT NOT NULL,
    must_change_password  BIGINT NOT NULL DEFAULT 0,
    pending_role          TEXT CHECK (pending_role IS NULL OR pending_role IN ('sysadmin', 'secadmin', 'auditor')),
    pending_password_hash TEXT,
    pending_by            TEXT,
    pending_ms            BIGINT,
    created_ms            BIGINT NOT NULL,
    created_by            TEXT NOT NULL,
    approved_by           TEXT,
    approved_ms           BIGINT,
    failed_logins         BIGINT NOT NULL DEFAULT 0,
    locked_until_ms       BIGINT,
    totp_secret           TEXT,
    totp_enabled          BIGINT NOT NULL DEFAULT 0,
    last_login_ms         BIGINT
);

-- Console sessions, server-side so that several nodes can share them; the cookie carries a
-- random id, the table only its hash.
CREATE TABLE sessions (
    id_hash      TEXT PRIMARY KEY,
    account_id   BIGINT NOT NULL REFERENCES accounts (id),
    created_ms   BIGINT NOT NULL,
    last_seen_ms BIGINT NOT NULL
);
CREATE INDEX sessions_account ON sessions (account_id);

-- Tokens made before accounts existed keep working as inspection-only (`scan`) tokens.
ALTER TABLE api_tokens ADD COLUMN account_id BIGINT REFERENCES accounts (id);
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'scan' CHECK (scope IN ('scan', 'account'));

-- The officer an incident is assigned to, and the discussion on it.
ALTER TABLE incidents ADD COLUMN assignee TEXT;
CREATE INDEX incidents_disposition ON incidents (disposition, created_ms);
CREATE INDEX incidents_channel ON incidents (channel, created_ms);

CREATE TABLE incident_comments (
    id         BIGSERIAL PRIMARY KEY,
    number     TEXT NOT NULL,
    author     TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX incident_comments_number ON incident_comments (number);

-- An officer's named queue filters.
CREATE TABLE saved_views (
    id         BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    name       TEXT NOT NULL,
    query      TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
