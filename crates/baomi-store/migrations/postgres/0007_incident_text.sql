-- The queue's free text (part of an object's name or of an incident number): trigram
-- indexes, which LIKE '%…%' uses by itself. pg_trgm ships with PostgreSQL and is a trusted
-- extension (13+); where it cannot be installed, searching still works, by reading every
-- incident, and the server says nothing worse than that.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE INDEX incidents_object_name_trgm ON incidents USING gin (object_name gin_trgm_ops);
    CREATE INDEX incidents_number_trgm ON incidents USING gin (number gin_trgm_ops);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm unavailable (%): free-text search reads every incident', SQLERRM;
END
$$;
