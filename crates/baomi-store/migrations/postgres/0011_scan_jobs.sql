-- Self-inspection of shares too large for one machine (`baomi scan PATH --queue`, `baomi
-- worker`): a job is one walk of a tree, cut into batches of files; workers on any machine
-- claim a batch (FOR UPDATE SKIP LOCKED), hold it by a lease they renew, and complete it
-- in one transaction with its results and incidents, only while the lease is still theirs.
-- A lease that runs out (a worker killed, a machine gone) is claimed again by another
-- worker. Every file of a job has at most one result: (job_id, path) is the key.
-- The index remembers what each path was when last inspected, for incremental re-scans.

CREATE TABLE scan_jobs (
    id           BIGSERIAL PRIMARY KEY,
    paths        TEXT NOT NULL,
    machine      TEXT NOT NULL,
    person       TEXT,
    department   TEXT,
    created_ms   BIGINT NOT NULL,
    created_by   TEXT NOT NULL,
    -- The walk finished: the totals are final.
    enqueued_ms  BIGINT,
    -- Every batch done.
    finished_ms  BIGINT,
    total_files  BIGINT NOT NULL DEFAULT 0,
    total_bytes  BIGINT NOT NULL DEFAULT 0,
    -- Files left out because the index shows them unchanged (path, size, mtime).
    unchanged    BIGINT NOT NULL DEFAULT 0,
    walk_errors  BIGINT NOT NULL DEFAULT 0,
    batches      BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE scan_batches (
    id             BIGSERIAL PRIMARY KEY,
    job_id         BIGINT NOT NULL REFERENCES scan_jobs (id),
    seq            BIGINT NOT NULL,
    -- JSON: [{"path", "size", "mtime_ms", "prev_blake3"}]
    files          TEXT NOT NULL,
    file_count     BIGINT NOT NULL,
    bytes          BIGINT NOT NULL,
    -- queued | leased | done
    state          TEXT NOT NULL DEFAULT 'queued',
    lease_owner    TEXT,
    lease_token    TEXT,
    lease_until_ms BIGINT,
    attempts       BIGINT NOT NULL DEFAULT 0,
    -- The worker whose lease ran out when this batch was claimed again.
    reclaimed_from TEXT,
    claimed_ms     BIGINT,
    done_ms        BIGINT,
    done_by        TEXT,
    UNIQUE (job_id, seq)
);
CREATE INDEX scan_batches_open ON scan_batches (state, id);

CREATE TABLE scan_results (
    job_id       BIGINT NOT NULL REFERENCES scan_jobs (id),
    path         TEXT NOT NULL,
    batch_id     BIGINT NOT NULL,
    size         BIGINT NOT NULL,
    mtime_ms     BIGINT NOT NULL,
    blake3       TEXT,
    -- inspected | unchanged (same bytes as last time) | gone | error
    outcome      TEXT NOT NULL,
    file_type    TEXT,
    verdict      TEXT,
    level        TEXT,
    -- Masked, as in incidents.
    findings     TEXT NOT NULL,
    errors       TEXT NOT NULL,
    alerts       BIGINT NOT NULL DEFAULT 0,
    incident     TEXT,
    worker       TEXT NOT NULL,
    inspected_ms BIGINT NOT NULL,
    PRIMARY KEY (job_id, path)
);

CREATE TABLE scan_file_index (
    path         TEXT PRIMARY KEY,
    size         BIGINT NOT NULL,
    mtime_ms     BIGINT NOT NULL,
    blake3       TEXT NOT NULL,
    -- The versions of policy, term lists and registry that judged it (StateVersions::tag).
    state_tag    TEXT NOT NULL,
    verdict      TEXT,
    job_id       BIGINT NOT NULL,
    inspected_ms BIGINT NOT NULL
);
