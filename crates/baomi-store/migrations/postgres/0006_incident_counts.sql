-- Incidents counted per Beijing day and per combination of the dimensions the dashboard
-- and the queue filter by, so that counting a year of incidents reads thousands of rows,
-- not a million. Kept by a trigger, so no write path (the doors, bulk dispositions,
-- retention, a script writing SQL) can leave it behind. NULL level/department are ''.
CREATE TABLE incident_counts (
    day         BIGINT NOT NULL,
    level       TEXT NOT NULL,
    channel     TEXT NOT NULL,
    department  TEXT NOT NULL,
    action      TEXT NOT NULL,
    disposition TEXT NOT NULL,
    rules       TEXT NOT NULL,
    n           BIGINT NOT NULL,
    PRIMARY KEY (day, level, channel, department, action, disposition, rules)
);

INSERT INTO incident_counts (day, level, channel, department, action, disposition, rules, n)
SELECT (created_ms + 28800000) / 86400000, COALESCE(level, ''), channel, COALESCE(department, ''),
       action, disposition, rules, COUNT(*)
FROM incidents
GROUP BY 1, 2, 3, 4, 5, 6, 7;

CREATE FUNCTION incident_counts_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE incident_counts SET n = n - 1
        WHERE day = (OLD.created_ms + 28800000) / 86400000 AND level = COALESCE(OLD.level, '')
          AND channel = OLD.channel AND department = COALESCE(OLD.department, '')
          AND action = OLD.action AND disposition = OLD.disposition AND rules = OLD.rules;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO incident_counts (day, level, channel, department, action, disposition, rules, n)
        VALUES ((NEW.created_ms + 28800000) / 86400000, COALESCE(NEW.level, ''), NEW.channel,
                COALESCE(NEW.department, ''), NEW.action, NEW.disposition, NEW.rules, 1)
        ON CONFLICT (day, level, channel, department, action, disposition, rules)
        DO UPDATE SET n = incident_counts.n + 1;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER incident_counts_insert_delete AFTER INSERT OR DELETE ON incidents
    FOR EACH ROW EXECUTE FUNCTION incident_counts_keep();
CREATE TRIGGER incident_counts_update
    AFTER UPDATE OF created_ms, level, channel, department, action, disposition, rules ON incidents
    FOR EACH ROW EXECUTE FUNCTION incident_counts_keep();
