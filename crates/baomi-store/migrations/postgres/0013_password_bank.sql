-- The password bank (密码库: the unit's passwords for encrypted archives and documents) held
-- in the store like the rest of the state nodes run on, sealed with the evidence key
-- (XChaCha20-Poly1305) so the database alone does not give the passwords away.
-- `digest` is a hash keyed by the evidence key, to tell an unchanged import. One row;
-- its counter in state_versions moves with every change (and is announced, 0010).
CREATE TABLE password_bank (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    sealed     BYTEA NOT NULL,
    entries    BIGINT NOT NULL,
    digest     TEXT NOT NULL,
    author     TEXT NOT NULL,
    updated_ms BIGINT NOT NULL
);
INSERT INTO state_versions (kind, version, changed_ms) VALUES ('passwords', 0, 0);

CREATE TRIGGER password_bank_state AFTER INSERT OR UPDATE OR DELETE ON password_bank
    FOR EACH STATEMENT EXECUTE FUNCTION baomi_state_bump('passwords');
