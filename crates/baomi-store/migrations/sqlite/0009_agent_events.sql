-- Events delivered by `baomi agent` (USB media, printing), remembered by the id the agent
-- assigns, so a delivery repeated after a lost answer records nothing twice: the server
-- answers the recorded result instead (exactly once, together with the agent's durable
-- queue). Written in the same transaction as the event's incident. No foreign key to
-- incidents: retention may delete an incident, the memory of its event id stays.

CREATE TABLE agent_events (
    event_id        TEXT PRIMARY KEY,
    incident_id     BIGINT,
    incident_number TEXT,
    action          TEXT NOT NULL,
    -- The object's report as the first answer gave it (findings masked, as in incidents).
    report          TEXT NOT NULL,
    local_action    TEXT,
    source          TEXT,
    happened_ms     BIGINT NOT NULL,
    received_ms     BIGINT NOT NULL
);
