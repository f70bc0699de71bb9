-- The directory (people, departments, groups: from the TOML/CSV file or the LDAP sync) held
-- in the store, so every node sees the same people and a change reaches all of them like
-- the policy's (state_versions kind `directory`). One row: the snapshot as JSON.
CREATE TABLE directory (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    snapshot    TEXT NOT NULL,
    people      INTEGER NOT NULL,
    departments INTEGER NOT NULL,
    sha256      TEXT NOT NULL,
    source      TEXT NOT NULL,
    updated_ms  INTEGER NOT NULL
);
INSERT INTO state_versions (kind, version, changed_ms) VALUES ('directory', 0, 0);

CREATE TRIGGER directory_state_ins AFTER INSERT ON directory BEGIN
    UPDATE state_versions SET version = version + 1,
        changed_ms = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) WHERE kind = 'directory';
END;
CREATE TRIGGER directory_state_upd AFTER UPDATE ON directory BEGIN
    UPDATE state_versions SET version = version + 1,
        changed_ms = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) WHERE kind = 'directory';
END;
CREATE TRIGGER directory_state_del AFTER DELETE ON directory BEGIN
    UPDATE state_versions SET version = version + 1,
        changed_ms = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) WHERE kind = 'directory';
END;
