-- The directory (people, departments, groups: from the TOML/CSV file or the LDAP sync) held
-- in the store, so every node sees the same people and a change reaches all of them like
-- the policy's (state_versions kind `directory`, announced by 0010's trigger function).
-- One row: the snapshot as JSON.
CREATE TABLE directory (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    snapshot    TEXT NOT NULL,
    people      BIGINT NOT NULL,
    departments BIGINT NOT NULL,
    sha256      TEXT NOT NULL,
    source      TEXT NOT NULL,
    updated_ms  BIGINT NOT NULL
);
INSERT INTO state_versions (kind, version, changed_ms) VALUES ('directory', 0, 0);

CREATE TRIGGER directory_state AFTER INSERT OR UPDATE OR DELETE ON directory
    FOR EACH STATEMENT EXECUTE FUNCTION baomi_state_bump('directory');
