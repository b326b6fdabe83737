-- dockhand schema, version 4: web page sessions. (Number 3 is reserved for another
-- change; versions are the numbers the file names start with, see db.c.)
-- Applied by `dockhand migrate` inside one transaction.

-- One row per signed-in browser. The session token itself (256 random bits, in the
-- dockhand_session cookie) is never stored: the row is found by its SHA-256. The CSRF
-- token is not stored either: it is derived from the session token (HMAC-SHA256), so
-- only the holder of the cookie can know it.
CREATE TABLE sessions (
    token_sha256 text PRIMARY KEY CHECK (token_sha256 ~ '^[0-9a-f]{64}$'),
    -- deleting an administrator ends his sessions
    admin_id     bigint NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen    timestamptz NOT NULL DEFAULT now(),
    client_ip    text
);
CREATE INDEX sessions_admin ON sessions (admin_id);
-- the sweep of expired sessions (DOCKHAND_SESSION_IDLE, DOCKHAND_SESSION_MAX)
CREATE INDEX sessions_last_seen ON sessions (last_seen);
CREATE INDEX sessions_created_at ON sessions (created_at);

-- A new password ends the administrator's sessions, as it ends his cached logins.
CREATE FUNCTION dockhand_end_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM sessions WHERE admin_id = NEW.id;
    RETURN NULL;
END $$;

CREATE TRIGGER admins_end_sessions AFTER UPDATE ON admins
    FOR EACH ROW WHEN (OLD.password_hash IS DISTINCT FROM NEW.password_hash)
    EXECUTE FUNCTION dockhand_end_sessions();
