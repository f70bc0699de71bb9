-- Print jobs held for approval on an office computer (the CUPS backend's
-- CUPS_BACKEND_HOLD for the policy action `quarantine`): the security officer's decision,
-- release or cancel, made in the console or the API on the job's incident, waits here
-- until the agent of the computer it came from (`source`, agent:MACHINE) fetches it,
-- carries it out against its local cupsd and reports the outcome. One decision per held
-- job (its agent event id). No foreign key to incidents: retention may delete an incident.

CREATE TABLE print_decisions (
    id              BIGSERIAL PRIMARY KEY,
    event_id        TEXT NOT NULL UNIQUE,
    incident_number TEXT NOT NULL,
    source          TEXT NOT NULL,
    -- release | cancel
    decision        TEXT NOT NULL,
    decided_by      TEXT NOT NULL,
    decided_ms      BIGINT NOT NULL,
    -- Reported by the agent: when and what (released, canceled, or why it could not).
    done_ms         BIGINT,
    outcome         TEXT
);

CREATE INDEX print_decisions_waiting ON print_decisions (source, done_ms);
