-- 台账: the ledger of classified carriers (DOMAIN.md §5) — classified computers, removable
-- media (with the USB serial the endpoint agent reads), documents — and every change of
-- hands, with who and when. A destruction names a second person (销毁须两人).

CREATE TABLE carriers (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    number         TEXT NOT NULL UNIQUE,
    kind           TEXT NOT NULL CHECK (kind IN ('computer', 'removable', 'document', 'optical', 'other')),
    name           TEXT NOT NULL,
    serial         TEXT,
    level          TEXT NOT NULL,
    copies         TEXT,
    source         TEXT,
    responsible    TEXT NOT NULL,
    department     TEXT,
    since_day      TEXT,
    state          TEXT NOT NULL CHECK (state IN ('registered', 'issued', 'returned', 'destroyed', 'archived')),
    fingerprint_id TEXT,
    created_ms     BIGINT NOT NULL,
    created_by     TEXT NOT NULL,
    updated_ms     BIGINT NOT NULL
);
CREATE INDEX carriers_serial ON carriers (serial);

CREATE TABLE carrier_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    carrier_id BIGINT NOT NULL REFERENCES carriers (id),
    event      TEXT NOT NULL CHECK (event IN ('registered', 'issued', 'returned', 'destroyed', 'archived')),
    ts_ms      BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    holder     TEXT,
    witness    TEXT,
    note       TEXT
);
CREATE INDEX carrier_events_carrier ON carrier_events (carrier_id, ts_ms);
