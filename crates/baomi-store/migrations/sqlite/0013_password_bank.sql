-- The password bank (密码库: the unit's passwords for encrypted archives and documents) held
-- in the store like the rest of the state nodes run on, sealed with the evidence key
-- (XChaCha20-Poly1305) so the database alone does not give the passwords away.
-- `digest` is a hash keyed by the evidence key, to tell an unchanged import. One row;
-- its counter in state_versions moves with every change.
CREATE TABLE password_bank (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    sealed     BLOB NOT NULL,
    entries    INTEGER NOT NULL,
    digest     TEXT NOT NULL,
    author     TEXT NOT NULL,
    updated_ms INTEGER NOT NULL
);
INSERT INTO state_versions (kind, version, changed_ms) VALUES ('passwords', 0, 0);

CREATE TRIGGER password_bank_state_ins AFTER INSERT ON password_bank BEGIN
    UPDATE state_versions SET version = version + 1,
        changed_ms = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) WHERE kind = 'passwords';
END;
CREATE TRIGGER password_bank_state_upd AFTER UPDATE ON password_bank BEGIN
    UPDATE state_versions SET version = version + 1,
        changed_ms = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) WHERE kind = 'passwords';
END;
CREATE TRIGGER password_bank_state_del AFTER DELETE ON password_bank BEGIN
    UPDATE state_versions SET version = version + 1,
        changed_ms = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) WHERE kind = 'passwords';
END;
