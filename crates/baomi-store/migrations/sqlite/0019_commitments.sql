-- 保密承诺书: templates of three kinds (上岗 onboarding, 涉密岗位 classified, 离岗 leaving),
-- each with versions whose text never changes once written (a new text is a new version,
-- so what someone signed stays what they read), and the signatures: typed in the console by
-- the person, or a paper signature an officer recorded with its scan in the evidence vault.
-- One signature per person and version (UNIQUE): a second one is refused, not duplicated.

CREATE TABLE commitment_templates (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL CHECK (kind IN ('onboarding', 'classified', 'leaving')),
    title           TEXT NOT NULL UNIQUE,
    -- Only people of this directory group must sign (涉密人员); NULL: everyone the kind
    -- concerns (every person; for 离岗 every person with a leaving date).
    person_group    TEXT,
    current_version INTEGER NOT NULL DEFAULT 1,
    created_ms      INTEGER NOT NULL,
    created_by      TEXT NOT NULL
);

CREATE TABLE commitment_versions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    template_id INTEGER NOT NULL REFERENCES commitment_templates (id),
    version     INTEGER NOT NULL,
    body        TEXT NOT NULL,
    -- SHA-256 (hex) of the text as UTF-8, exactly as stored.
    text_sha256 TEXT NOT NULL,
    note        TEXT,
    author      TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    UNIQUE (template_id, version)
);

CREATE TABLE commitment_signatures (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    version_id       INTEGER NOT NULL REFERENCES commitment_versions (id),
    template_id      INTEGER NOT NULL,
    version          INTEGER NOT NULL,
    kind             TEXT NOT NULL,
    -- The directory's name of the person (or the account's display name when unlisted).
    person           TEXT NOT NULL,
    account          TEXT,
    department       TEXT,
    -- console: typed by the person; paper: recorded by an officer with the scan.
    method           TEXT NOT NULL CHECK (method IN ('console', 'paper')),
    typed_name       TEXT,
    signed_day       TEXT NOT NULL,
    text_sha256      TEXT NOT NULL,
    -- SHA-256 over the signature's fields and the text's hash: what the audit entry seals.
    signature_sha256 TEXT NOT NULL,
    scan_blake3      TEXT,
    scan_name        TEXT,
    scan_size        INTEGER,
    scan_sha256      TEXT,
    recorded_by      TEXT NOT NULL,
    recorded_ms      INTEGER NOT NULL,
    UNIQUE (version_id, person)
);

CREATE INDEX commitment_signatures_person ON commitment_signatures (person);
CREATE INDEX commitment_signatures_template ON commitment_signatures (template_id);
