-- Self-inspection of shares too large for one machine (`baomi scan PATH --queue`, `baomi
-- worker`): a job is one walk of a tree, cut into batches of files; workers on any machine
-- claim a batch (PostgreSQL: FOR UPDATE SKIP LOCKED; here the write lock serialises the
-- claim, for workers on one machine), hold it by a lease they renew, and complete it
-- in one transaction with its results and incidents, only while the lease is still theirs.
-- A lease that runs out (a worker killed, a machine gone) is claimed again by another
-- worker. Every file of a job has at most one result: (job_id, path) is the key.
-- The index remembers what each path was when last inspected, for incremental re-scans.

CREATE TABLE scan_jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    paths        TEXT NOT NULL,
    machine      TEXT NOT NULL,
    person       TEXT,
    department   TEXT,
    created_ms   INTEGER NOT NULL,
    created_by   TEXT NOT NULL,
    -- The walk finished: the totals are final.
    enqueued_ms  INTEGER,
    -- Every batch done.
    finished_ms  INTEGER,
    total_files  INTEGER NOT NULL DEFAULT 0,
    total_bytes  INTEGER NOT NULL DEFAULT 0,
    -- Files left out because the index shows them unchanged (path, size, mtime).
    unchanged    INTEGER NOT NULL DEFAULT 0,
    walk_errors  INTEGER NOT NULL DEFAULT 0,
    batches      INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE scan_batches (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id         INTEGER NOT NULL REFERENCES scan_jobs (id),
    seq            INTEGER NOT NULL,
    -- JSON: [{"path", "size", "mtime_ms", "prev_blake3"}]
    files          TEXT NOT NULL,
    file_count     INTEGER NOT NULL,
    bytes          INTEGER NOT NULL,
    -- queued | leased | done
    state          TEXT NOT NULL DEFAULT 'queued',
    lease_owner    TEXT,
    lease_token    TEXT,
    lease_until_ms INTEGER,
    attempts       INTEGER NOT NULL DEFAULT 0,
    -- The worker whose lease ran out when this batch was claimed again.
    reclaimed_from TEXT,
    claimed_ms     INTEGER,
    done_ms        INTEGER,
    done_by        TEXT,
    UNIQUE (job_id, seq)
);
CREATE INDEX scan_batches_open ON scan_batches (state, id);

CREATE TABLE scan_results (
    job_id       INTEGER NOT NULL REFERENCES scan_jobs (id),
    path         TEXT NOT NULL,
    batch_id     INTEGER NOT NULL,
    size         INTEGER NOT NULL,
    mtime_ms     INTEGER NOT NULL,
    blake3       TEXT,
    -- inspected | unchanged (same bytes as last time) | gone | error
    outcome      TEXT NOT NULL,
    file_type    TEXT,
    verdict      TEXT,
    level        TEXT,
    -- Masked, as in incidents.
    findings     TEXT NOT NULL,
    errors       TEXT NOT NULL,
    alerts       INTEGER NOT NULL DEFAULT 0,
    incident     TEXT,
    worker       TEXT NOT NULL,
    inspected_ms INTEGER NOT NULL,
    PRIMARY KEY (job_id, path)
);

CREATE TABLE scan_file_index (
    path         TEXT PRIMARY KEY,
    size         INTEGER NOT NULL,
    mtime_ms     INTEGER NOT NULL,
    blake3       TEXT NOT NULL,
    -- The versions of policy, term lists and registry that judged it (StateVersions::tag).
    state_tag    TEXT NOT NULL,
    verdict      TEXT,
    job_id       INTEGER NOT NULL,
    inspected_ms INTEGER NOT NULL
);
