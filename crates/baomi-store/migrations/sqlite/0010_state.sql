-- The state every node runs on, held here instead of in files read at start (issue: hot
-- reload): the policy with its versions, the term lists, and a version counter per piece
-- of state that nodes poll (SQLite) or are notified of (PostgreSQL) to rebuild their engine
-- without a restart. The registry (fp_documents, fp_allow) was already here; its counter is
-- kept by triggers, so no write path can change it unnoticed.

CREATE TABLE policy_versions (
    version    INTEGER PRIMARY KEY,
    toml       TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    author     TEXT NOT NULL,
    comment    TEXT,
    created_ms INTEGER NOT NULL
);

CREATE TABLE dictionaries (
    name       TEXT PRIMARY KEY,
    terms      TEXT NOT NULL,
    term_count INTEGER NOT NULL,
    sha256     TEXT NOT NULL,
    author     TEXT NOT NULL,
    updated_ms INTEGER NOT NULL
);

CREATE TABLE state_versions (
    kind       TEXT PRIMARY KEY,
    version    INTEGER NOT NULL,
    changed_ms INTEGER NOT NULL
);
INSERT INTO state_versions (kind, version, changed_ms) VALUES
    ('policy', 0, 0), ('dictionaries', 0, 0), ('registry', 0, 0);

CREATE TRIGGER dictionaries_state_ins AFTER INSERT ON dictionaries BEGIN
    UPDATE state_versions SET version = version + 1,
        changed_ms = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) WHERE kind = 'dictionaries';
END;
CREATE TRIGGER dictionaries_state_upd AFTER UPDATE ON dictionaries BEGIN
    UPDATE state_versions SET version = version + 1,
        changed_ms = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) WHERE kind = 'dictionaries';
END;
CREATE TRIGGER dictionaries_state_del AFTER DELETE ON dictionaries BEGIN
    UPDATE state_versions SET version = version + 1,
        changed_ms = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) WHERE kind = 'dictionaries';
END;
CREATE TRIGGER fp_documents_state_ins AFTER INSERT ON fp_documents BEGIN
    UPDATE state_versions SET version = version + 1,
        changed_ms = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) WHERE kind = 'registry';
END;
CREATE TRIGGER fp_documents_state_upd AFTER UPDATE ON fp_documents BEGIN
    UPDATE state_versions SET version = version + 1,
        changed_ms = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) WHERE kind = 'registry';
END;
CREATE TRIGGER fp_documents_state_del AFTER DELETE ON fp_documents BEGIN
    UPDATE state_versions SET version = version + 1,
        changed_ms = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) WHERE kind = 'registry';
END;
CREATE TRIGGER fp_allow_state_ins AFTER INSERT ON fp_allow BEGIN
    UPDATE state_versions SET version = version + 1,
        changed_ms = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) WHERE kind = 'registry';
END;
CREATE TRIGGER fp_allow_state_del AFTER DELETE ON fp_allow BEGIN
    UPDATE state_versions SET version = version + 1,
        changed_ms = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) WHERE kind = 'registry';
END;

-- Each running `baomi serve`, with the versions it runs on; written every few seconds.
CREATE TABLE nodes (
    id         TEXT PRIMARY KEY,
    address    TEXT NOT NULL,
    started_ms INTEGER NOT NULL,
    seen_ms    INTEGER NOT NULL,
    versions   TEXT NOT NULL
);

-- Which policy version decided (NULL: recorded before versions existed).
ALTER TABLE incidents ADD COLUMN policy_version INTEGER;
