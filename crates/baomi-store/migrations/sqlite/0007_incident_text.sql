-- The queue's free text (part of an object's name or of an incident number) through a
-- trigram index, so that a search reads the matching incidents only. External content: the
-- text stays in `incidents`; triggers keep the index.
CREATE VIRTUAL TABLE incident_text USING fts5 (
    object_name, number, content = 'incidents', content_rowid = 'id', tokenize = 'trigram'
);
INSERT INTO incident_text (incident_text) VALUES ('rebuild');

CREATE TRIGGER incident_text_insert AFTER INSERT ON incidents BEGIN
    INSERT INTO incident_text (rowid, object_name, number) VALUES (NEW.id, NEW.object_name, NEW.number);
END;
CREATE TRIGGER incident_text_delete AFTER DELETE ON incidents BEGIN
    INSERT INTO incident_text (incident_text, rowid, object_name, number)
    VALUES ('delete', OLD.id, OLD.object_name, OLD.number);
END;
CREATE TRIGGER incident_text_update AFTER UPDATE OF object_name, number ON incidents BEGIN
    INSERT INTO incident_text (incident_text, rowid, object_name, number)
    VALUES ('delete', OLD.id, OLD.object_name, OLD.number);
    INSERT INTO incident_text (rowid, object_name, number) VALUES (NEW.id, NEW.object_name, NEW.number);
END;
