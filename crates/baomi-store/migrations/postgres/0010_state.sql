-- The state every node runs on, held here instead of in files read at start (issue: hot
-- reload): the policy with its versions, the term lists, and a version counter per piece
-- of state. Every change of a counter is announced on the channel `baomi_state` (payload
-- `kind:version`, delivered at commit); nodes LISTEN and rebuild their engine without a
-- restart, and re-read the counters on reconnect and periodically in case they missed one.
-- The registry (fp_documents, fp_allow) was already here; its counter is kept by triggers,
-- so no write path can change it unnoticed.

CREATE TABLE policy_versions (
    version    BIGINT PRIMARY KEY,
    toml       TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    author     TEXT NOT NULL,
    comment    TEXT,
    created_ms BIGINT NOT NULL
);

CREATE TABLE dictionaries (
    name       TEXT PRIMARY KEY,
    terms      TEXT NOT NULL,
    term_count BIGINT NOT NULL,
    sha256     TEXT NOT NULL,
    author     TEXT NOT NULL,
    updated_ms BIGINT NOT NULL
);

CREATE TABLE state_versions (
    kind       TEXT PRIMARY KEY,
    version    BIGINT NOT NULL,
    changed_ms BIGINT NOT NULL
);
INSERT INTO state_versions (kind, version, changed_ms) VALUES
    ('policy', 0, 0), ('dictionaries', 0, 0), ('registry', 0, 0);

CREATE FUNCTION baomi_state_bump() RETURNS trigger AS $$
DECLARE
    v BIGINT;
BEGIN
    UPDATE state_versions
       SET version = version + 1,
           changed_ms = (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT
     WHERE kind = TG_ARGV[0]
    RETURNING version INTO v;
    PERFORM pg_notify('baomi_state', TG_ARGV[0] || ':' || v);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER dictionaries_state AFTER INSERT OR UPDATE OR DELETE ON dictionaries
    FOR EACH STATEMENT EXECUTE FUNCTION baomi_state_bump('dictionaries');
CREATE TRIGGER fp_documents_state AFTER INSERT OR UPDATE OR DELETE ON fp_documents
    FOR EACH STATEMENT EXECUTE FUNCTION baomi_state_bump('registry');
CREATE TRIGGER fp_allow_state AFTER INSERT OR UPDATE OR DELETE ON fp_allow
    FOR EACH STATEMENT EXECUTE FUNCTION baomi_state_bump('registry');

-- Each running `baomi serve`, with the versions it runs on; written every few seconds.
CREATE TABLE nodes (
    id         TEXT PRIMARY KEY,
    address    TEXT NOT NULL,
    started_ms BIGINT NOT NULL,
    seen_ms    BIGINT NOT NULL,
    versions   TEXT NOT NULL
);

-- Which policy version decided (NULL: recorded before versions existed).
ALTER TABLE incidents ADD COLUMN policy_version BIGINT;
