-- The dashboard over long periods: per Beijing day, how many incidents had each level,
-- channel, department, action, disposition and rule — one dimension at a time, so a year
-- reads a few hundred rows per chart instead of every combination of incident_counts.
-- Kept by a trigger like incident_counts; NULL level/department are ''.
CREATE TABLE incident_facets (
    dim   TEXT NOT NULL,
    day   BIGINT NOT NULL,
    value TEXT NOT NULL,
    n     BIGINT NOT NULL,
    PRIMARY KEY (dim, day, value)
);

INSERT INTO incident_facets (dim, day, value, n)
SELECT 'level', day, level, SUM(n) FROM incident_counts GROUP BY day, level
UNION ALL SELECT 'channel', day, channel, SUM(n) FROM incident_counts GROUP BY day, channel
UNION ALL SELECT 'department', day, department, SUM(n) FROM incident_counts GROUP BY day, department
UNION ALL SELECT 'action', day, action, SUM(n) FROM incident_counts GROUP BY day, action
UNION ALL SELECT 'disposition', day, disposition, SUM(n) FROM incident_counts GROUP BY day, disposition
UNION ALL SELECT 'rule', c.day, j.value, SUM(c.n)
          FROM incident_counts c, jsonb_array_elements_text(c.rules::jsonb) AS j(value)
          GROUP BY c.day, j.value;

CREATE FUNCTION incident_facets_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE incident_facets SET n = n - 1
        WHERE day = (OLD.created_ms + 28800000) / 86400000
          AND ((dim = 'level' AND value = COALESCE(OLD.level, ''))
            OR (dim = 'channel' AND value = OLD.channel)
            OR (dim = 'department' AND value = COALESCE(OLD.department, ''))
            OR (dim = 'action' AND value = OLD.action)
            OR (dim = 'disposition' AND value = OLD.disposition)
            OR (dim = 'rule' AND value IN (SELECT jsonb_array_elements_text(OLD.rules::jsonb))));
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO incident_facets (dim, day, value, n)
        SELECT d, (NEW.created_ms + 28800000) / 86400000, v, COUNT(*) FROM (
            VALUES ('level', COALESCE(NEW.level, '')), ('channel', NEW.channel),
                   ('department', COALESCE(NEW.department, '')), ('action', NEW.action),
                   ('disposition', NEW.disposition)
            UNION ALL SELECT 'rule', r FROM jsonb_array_elements_text(NEW.rules::jsonb) AS x(r)
        ) AS f(d, v)
        GROUP BY d, v
        ON CONFLICT (dim, day, value) DO UPDATE SET n = incident_facets.n + EXCLUDED.n;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER incident_facets_insert_delete AFTER INSERT OR DELETE ON incidents
    FOR EACH ROW EXECUTE FUNCTION incident_facets_keep();
CREATE TRIGGER incident_facets_update
    AFTER UPDATE OF created_ms, level, channel, department, action, disposition, rules ON incidents
    FOR EACH ROW EXECUTE FUNCTION incident_facets_keep();
