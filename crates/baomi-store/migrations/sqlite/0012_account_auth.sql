-- Where an account's password is checked: 'local' (the Argon2id hash in password_hash) or
-- 'ldap' (a bind as the person's DN in the unit's directory, `[directory.ldap]`; nothing is
-- stored here, password_hash holds '!', which no password matches).
ALTER TABLE accounts ADD COLUMN auth TEXT NOT NULL DEFAULT 'local' CHECK (auth IN ('local', 'ldap'));
-- The person's DN at the last LDAP login (shown to the administrators; the DN is found
-- again by account at every login).
ALTER TABLE accounts ADD COLUMN directory_dn TEXT;
