-- Baomi's records, SQLite flavour (the PostgreSQL file has the same tables).
-- Times are milliseconds since the Unix epoch (UTC) in BIGINT columns so both backends
-- bucket them with the same integer arithmetic.

CREATE TABLE incidents (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    number           TEXT NOT NULL UNIQUE,
    created_ms       BIGINT NOT NULL,
    channel          TEXT NOT NULL,
    user_name        TEXT,
    department       TEXT,
    source           TEXT,
    destination      TEXT,
    object_name      TEXT,
    object_size      BIGINT,
    object_type      TEXT,
    action           TEXT NOT NULL,
    severity         TEXT NOT NULL,
    level            TEXT,
    rules            TEXT NOT NULL,
    findings         TEXT NOT NULL,
    evidence         TEXT,
    evidence_size    BIGINT,
    content_hash     TEXT NOT NULL,
    disposition      TEXT NOT NULL DEFAULT 'open',
    disposition_note TEXT,
    disposition_by   TEXT,
    disposition_ms   BIGINT,
    quarantine_id    TEXT,
    quarantine_state TEXT
);
CREATE INDEX incidents_created ON incidents (created_ms);
CREATE INDEX incidents_department ON incidents (department, created_ms);
CREATE INDEX incidents_user ON incidents (user_name, created_ms);

CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY,
    ts_ms     BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_ms   BIGINT NOT NULL,
    last_used_ms BIGINT,
    revoked      BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE fp_documents (
    id          TEXT PRIMARY KEY,
    title       TEXT NOT NULL,
    level       TEXT NOT NULL,
    source_name TEXT NOT NULL,
    chars       BIGINT NOT NULL,
    added_ms    BIGINT NOT NULL,
    data        BLOB NOT NULL
);

CREATE TABLE fp_allow (
    id         BIGINT PRIMARY KEY,
    documents  BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    data       BLOB NOT NULL
);
