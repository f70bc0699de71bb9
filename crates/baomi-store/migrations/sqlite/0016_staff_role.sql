-- no-transaction
-- 工作人员 (staff): every employee gets an account to sign secrecy commitments and take the
-- knowledge tests. SQLite cannot change a CHECK constraint in place: the accounts table is
-- rebuilt as in 0005 (foreign keys off for the copy, all of it one transaction), keeping the
-- columns 0012 added.
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE accounts_new (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    name                  TEXT NOT NULL UNIQUE,
    display_name          TEXT,
    department            TEXT,
    role                  TEXT NOT NULL CHECK (role IN ('sysadmin', 'secadmin', 'auditor', 'drafter', 'reviewer', 'director', 'approver', 'staff')),
    status                TEXT NOT NULL CHECK (status IN ('pending', 'active', 'disabled', 'rejected')),
    password_hash         TEXT NOT NULL,
    must_change_password  BIGINT NOT NULL DEFAULT 0,
    pending_role          TEXT CHECK (pending_role IS NULL OR pending_role IN ('sysadmin', 'secadmin', 'auditor', 'drafter', 'reviewer', 'director', 'approver', 'staff')),
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
    last_login_ms         BIGINT,
    auth                  TEXT NOT NULL DEFAULT 'local' CHECK (auth IN ('local', 'ldap')),
    directory_dn          TEXT
);
INSERT INTO accounts_new SELECT * FROM accounts;
DROP TABLE accounts;
ALTER TABLE accounts_new RENAME TO accounts;
COMMIT;
PRAGMA foreign_keys = ON;
