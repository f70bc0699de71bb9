-- The dashboard over long periods: per Beijing day, how many incidents had each level,
-- channel, department, action, disposition and rule — one dimension at a time, so a year
-- reads a few hundred rows per chart instead of every combination of incident_counts.
-- Kept by triggers like incident_counts; NULL level/department are ''.
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
UNION ALL SELECT 'rule', c.day, j.value, SUM(c.n) FROM incident_counts c, json_each(c.rules) j GROUP BY c.day, j.value;

CREATE TRIGGER incident_facets_insert AFTER INSERT ON incidents BEGIN
    INSERT INTO incident_facets (dim, day, value, n) VALUES
        ('level', (NEW.created_ms + 28800000) / 86400000, COALESCE(NEW.level, ''), 1),
        ('channel', (NEW.created_ms + 28800000) / 86400000, NEW.channel, 1),
        ('department', (NEW.created_ms + 28800000) / 86400000, COALESCE(NEW.department, ''), 1),
        ('action', (NEW.created_ms + 28800000) / 86400000, NEW.action, 1),
        ('disposition', (NEW.created_ms + 28800000) / 86400000, NEW.disposition, 1)
    ON CONFLICT (dim, day, value) DO UPDATE SET n = n + 1;
    INSERT INTO incident_facets (dim, day, value, n)
    SELECT 'rule', (NEW.created_ms + 28800000) / 86400000, value, 1 FROM json_each(NEW.rules) WHERE true
    ON CONFLICT (dim, day, value) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER incident_facets_delete AFTER DELETE ON incidents BEGIN
    UPDATE incident_facets SET n = n - 1
    WHERE day = (OLD.created_ms + 28800000) / 86400000
      AND ((dim = 'level' AND value = COALESCE(OLD.level, ''))
        OR (dim = 'channel' AND value = OLD.channel)
        OR (dim = 'department' AND value = COALESCE(OLD.department, ''))
        OR (dim = 'action' AND value = OLD.action)
        OR (dim = 'disposition' AND value = OLD.disposition)
        OR (dim = 'rule' AND value IN (SELECT value FROM json_each(OLD.rules))));
END;

CREATE TRIGGER incident_facets_update
AFTER UPDATE OF created_ms, level, channel, department, action, disposition, rules ON incidents
BEGIN
    UPDATE incident_facets SET n = n - 1
    WHERE day = (OLD.created_ms + 28800000) / 86400000
      AND ((dim = 'level' AND value = COALESCE(OLD.level, ''))
        OR (dim = 'channel' AND value = OLD.channel)
        OR (dim = 'department' AND value = COALESCE(OLD.department, ''))
        OR (dim = 'action' AND value = OLD.action)
        OR (dim = 'disposition' AND value = OLD.disposition)
        OR (dim = 'rule' AND value IN (SELECT value FROM json_each(OLD.rules))));
    INSERT INTO incident_facets (dim, day, value, n) VALUES
        ('level', (NEW.created_ms + 28800000) / 86400000, COALESCE(NEW.level, ''), 1),
        ('channel', (NEW.created_ms + 28800000) / 86400000, NEW.channel, 1),
        ('department', (NEW.created_ms + 28800000) / 86400000, COALESCE(NEW.department, ''), 1),
        ('action', (NEW.created_ms + 28800000) / 86400000, NEW.action, 1),
        ('disposition', (NEW.created_ms + 28800000) / 86400000, NEW.disposition, 1)
    ON CONFLICT (dim, day, value) DO UPDATE SET n = n + 1;
    INSERT INTO incident_facets (dim, day, value, n)
    SELECT 'rule', (NEW.created_ms + 28800000) / 86400000, value, 1 FROM json_each(NEW.rules) WHERE true
    ON CONFLICT (dim, day, value) DO UPDATE SET n = n + 1;
END;
