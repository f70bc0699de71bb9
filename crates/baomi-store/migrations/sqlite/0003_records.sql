-- The records secrecy work keeps (DOMAIN.md §5): self-inspection runs and campaigns, the
-- figures officers enter for the statistics table, and violation clue reports.

-- One self-inspection run of one machine, sent by `baomi scan --report-to` or imported
-- from its report file. run_id is chosen by the scanning machine: a second import is a no-op.
CREATE TABLE scan_runs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id       TEXT NOT NULL UNIQUE,
    person       TEXT,
    department   TEXT,
    machine      TEXT NOT NULL,
    started_ms   BIGINT NOT NULL,
    finished_ms  BIGINT NOT NULL,
    paths        TEXT NOT NULL,
    files        BIGINT NOT NULL,
    flagged      BIGINT NOT NULL,
    alerting     BIGINT NOT NULL,
    errors       BIGINT NOT NULL,
    summary      TEXT NOT NULL,
    exit_code    BIGINT NOT NULL,
    signed_by    TEXT,
    via          TEXT NOT NULL CHECK (via IN ('network', 'import')),
    imported_ms  BIGINT NOT NULL,
    imported_by  TEXT NOT NULL,
    digest       TEXT NOT NULL
);
CREATE INDEX scan_runs_time ON scan_runs (finished_ms);
CREATE INDEX scan_runs_department ON scan_runs (department, finished_ms);

-- The files of a run with a finding, an error or an alert (clean files are only counted).
CREATE TABLE scan_run_files (
    run_id    TEXT NOT NULL REFERENCES scan_runs (run_id),
    seq       BIGINT NOT NULL,
    path      TEXT NOT NULL,
    file_type TEXT NOT NULL,
    size      BIGINT NOT NULL,
    verdict   TEXT NOT NULL,
    level     TEXT,
    findings  TEXT NOT NULL,
    errors    TEXT NOT NULL,
    blake3    TEXT,
    incident  TEXT,
    PRIMARY KEY (run_id, seq)
);

-- Objects uploaded by `--with-evidence`, by their plain BLAKE3, pointing into the vault.
CREATE TABLE scan_evidence (
    blake3        TEXT PRIMARY KEY,
    evidence      TEXT NOT NULL,
    evidence_size BIGINT NOT NULL,
    uploaded_ms   BIGINT NOT NULL
);

-- A self-inspection campaign: a period and the departments it covers (JSON array; empty
-- means every department of the directory).
CREATE TABLE campaigns (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    from_day    TEXT NOT NULL,
    to_day      TEXT NOT NULL,
    departments TEXT NOT NULL,
    note        TEXT,
    created_ms  BIGINT NOT NULL,
    created_by  TEXT NOT NULL
);

-- What the officer enters per department for a campaign: the chat groups and mini-programs
-- checked (no registry yet) and the main rectification measures.
CREATE TABLE campaign_entries (
    campaign_id   BIGINT NOT NULL REFERENCES campaigns (id),
    department    TEXT NOT NULL,
    chat_groups   BIGINT NOT NULL DEFAULT 0,
    mini_programs BIGINT NOT NULL DEFAULT 0,
    measures      TEXT,
    updated_ms    BIGINT NOT NULL,
    updated_by    TEXT NOT NULL,
    PRIMARY KEY (campaign_id, department)
);

-- 违规问题线索和存在隐患报告表. A draft is edited freely; an issued report is frozen (its
-- content hash is in the audit chain); a correction is a new version of the same number
-- that names the version it replaces.
CREATE TABLE clue_reports (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    number          TEXT NOT NULL,
    version         BIGINT NOT NULL,
    supersedes      BIGINT REFERENCES clue_reports (id),
    state           TEXT NOT NULL CHECK (state IN ('draft', 'issued', 'superseded')),
    reporting_unit  TEXT NOT NULL,
    occurring_unit  TEXT NOT NULL,
    category        TEXT NOT NULL CHECK (category IN ('photo', 'mini_program', 'chat', 'other')),
    documents       TEXT NOT NULL,
    facts           TEXT NOT NULL,
    remedy          TEXT NOT NULL,
    incidents       TEXT NOT NULL,
    content_hash    TEXT,
    created_ms      BIGINT NOT NULL,
    created_by      TEXT NOT NULL,
    updated_ms      BIGINT NOT NULL,
    issued_ms       BIGINT,
    issued_by       TEXT,
    UNIQUE (number, version)
);
CREATE INDEX clue_reports_issued ON clue_reports (state, issued_ms);
