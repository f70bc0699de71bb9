-- The walk of `baomi scan --queue` reports that it is alive (at each batch and every 30 s),
-- and a walk that stopped before its end says why: Ctrl-C or SIGTERM, an error, or no sign
-- of life for five minutes (killed, its machine gone), found by the workers. Such a job's
-- totals are final at what was enqueued; its batches are inspected as usual.
ALTER TABLE scan_jobs ADD COLUMN walk_seen_ms BIGINT;
ALTER TABLE scan_jobs ADD COLUMN walk_interrupted TEXT;
