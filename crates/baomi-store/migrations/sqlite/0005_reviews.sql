-- no-transaction
-- The four business roles of the publication review join the three administrative ones.
-- SQLite cannot change a CHECK constraint in place: the accounts table is rebuilt (the
-- documented procedure, foreign keys off for the copy, all of it one transaction).
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE accounts_new (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    name                  TEXT NOT NULL UNIQUE,
    display_name          TEXT,
    department            TEXT,
    role                  TEXT NOT NULL CHECK (role IN ('sysadmin', 'secadmin', 'auditor', 'drafter', 'reviewer', 'director', 'approver')),
    status                TEXT NOT NULL CHECK (status IN ('pending', 'active', 'disabled', 'rejected')),
    password_hash         TEXT NOT NULL,
    must_change_password  BIGINT NOT NULL DEFAULT 0,
    pending_role          TEXT CHECK (pending_role IS NULL OR pending_role IN ('sysadmin', 'secadmin', 'auditor', 'drafter', 'reviewer', 'director', 'approver')),
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
INSERT INTO accounts_new SELECT * FROM accounts;
DROP TABLE accounts;
ALTER TABLE accounts_new RENAME TO accounts;

-- The publication secrecy review (信息发布保密审查, 一事一审、先审查后公开): an item is a text
-- and its files, submitted by a drafter and decided step by step. Each submission is a
-- version; its text and files are in the encrypted evidence vault (by BLAKE3), their SHA-256
-- here so that a portal can ask whether what it is about to publish was approved.
CREATE TABLE reviews (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    title      TEXT NOT NULL,
    drafter    TEXT NOT NULL,
    -- The name the drafter signs with (display name) when the item was submitted.
    drafter_name TEXT,
    department TEXT,
    state      TEXT NOT NULL CHECK (state IN ('self_review', 'office_review', 'leader_approval', 'approved', 'rejected')),
    version    BIGINT NOT NULL,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE INDEX reviews_state ON reviews (state, updated_ms);
CREATE INDEX reviews_drafter ON reviews (drafter, updated_ms);

CREATE TABLE review_versions (
    review_id      BIGINT NOT NULL REFERENCES reviews (id),
    version        BIGINT NOT NULL,
    submitted_ms   BIGINT NOT NULL,
    title          TEXT NOT NULL,
    text_blake3    TEXT,
    text_sha256    TEXT,
    -- The same text with LF line ends and no trailing white space (lines or end): what a
    -- portal that re-flows line ends or trims the text still matches.
    text_norm_sha256 TEXT,
    text_chars     BIGINT NOT NULL,
    content_sha256 TEXT NOT NULL,
    action         TEXT NOT NULL,
    blocking       BIGINT NOT NULL,
    scan           TEXT NOT NULL,
    PRIMARY KEY (review_id, version)
);
CREATE INDEX review_versions_text ON review_versions (text_sha256);
CREATE INDEX review_versions_text_norm ON review_versions (text_norm_sha256);
CREATE INDEX review_versions_content ON review_versions (content_sha256);

CREATE TABLE review_files (
    review_id BIGINT NOT NULL REFERENCES reviews (id),
    version   BIGINT NOT NULL,
    seq       BIGINT NOT NULL,
    name      TEXT NOT NULL,
    size      BIGINT NOT NULL,
    sha256    TEXT NOT NULL,
    blake3    TEXT NOT NULL,
    true_type TEXT NOT NULL,
    action    TEXT NOT NULL,
    PRIMARY KEY (review_id, version, seq)
);
CREATE INDEX review_files_sha256 ON review_files (sha256);

-- Every submission and decision: who (account name and the names on the form), in which
-- role, on which version, with the comment. The audit chain has each one too.
CREATE TABLE review_steps (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    review_id    BIGINT NOT NULL REFERENCES reviews (id),
    version      BIGINT NOT NULL,
    step         TEXT NOT NULL,
    decision     TEXT NOT NULL CHECK (decision IN ('submit', 'approve', 'reject')),
    account      TEXT NOT NULL,
    display_name TEXT,
    role         TEXT NOT NULL,
    comment      TEXT,
    acknowledged BIGINT NOT NULL DEFAULT 0,
    created_ms   BIGINT NOT NULL
);
CREATE INDEX review_steps_review ON review_steps (review_id, id);
CREATE INDEX review_steps_account ON review_steps (account);

COMMIT;
PRAGMA foreign_keys = ON;
