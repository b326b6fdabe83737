-- dockhand schema, version 2: administrators and the audit log.
-- Applied by `dockhand migrate` inside one transaction.

-- Administrator accounts: the only ones allowed on the admin API and the web page.
CREATE TABLE admins (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL UNIQUE,
    -- pbkdf2-sha256$<iterations>$<salt>$<hex>: never the password itself
    password_hash text NOT NULL,
    -- bumped by a password change: cached logins carry it
    cred_version  integer NOT NULL DEFAULT 1,
    creation_time timestamptz NOT NULL DEFAULT now(),
    update_time   timestamptz NOT NULL DEFAULT now()
);

-- Who did what, when, from where. Administrative changes are written by the triggers
-- below in the changing transaction; token issuance and refused logins by the server's
-- batching writer (op_time is then the time of the event, not of the write).
CREATE TABLE audit_log (
    id            bigserial PRIMARY KEY,
    op_time       timestamptz NOT NULL DEFAULT now(),
    username      text NOT NULL DEFAULT '',
    operation     text NOT NULL,
    resource_type text NOT NULL,
    resource      text NOT NULL DEFAULT '',
    client_ip     text,
    request_id    text,
    detail        jsonb
);
-- Pages are read newest first; filters by operation, resource type or user keep that order.
CREATE INDEX audit_log_time ON audit_log (op_time DESC, id DESC);
CREATE INDEX audit_log_operation ON audit_log (operation, op_time DESC, id DESC);
CREATE INDEX audit_log_resource_type ON audit_log (resource_type, op_time DESC, id DESC);
CREATE INDEX audit_log_username ON audit_log (username, op_time DESC, id DESC);

-- One audit row for a change made by this session. Who and where come from the session
-- settings that dockhand sets on its connections (db_set_actor); a change made by hand
-- in psql is attributed to the database role as "db:<role>".
CREATE FUNCTION dockhand_audit_row(p_operation text, p_resource_type text, p_resource text,
                                   p_detail jsonb)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO audit_log (username, operation, resource_type, resource, client_ip, request_id,
                           detail)
    VALUES (coalesce(nullif(current_setting('dockhand.actor', true), ''), 'db:' || session_user),
            p_operation, p_resource_type, p_resource,
            nullif(current_setting('dockhand.client_ip', true), ''),
            nullif(current_setting('dockhand.request_id', true), ''),
            p_detail)
$$;

-- A robot's login name: the configured prefix, or 'robot$' for legacy robots.
CREATE FUNCTION dockhand_robot_full_name(p_name text, p_legacy boolean)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_legacy THEN 'robot$'
           ELSE coalesce((SELECT value FROM settings WHERE key = 'robot_name_prefix'), 'robot$')
           END || p_name
$$;

-- True when an UPDATE changed anything but last_used. The audit writer moves last_used
-- in batches; those updates are neither audited nor announced to the caches.
CREATE FUNCTION dockhand_robot_changed(o robots, n robots)
RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    n.last_used := o.last_used;
    RETURN n IS DISTINCT FROM o;
END $$;

-- robots: INSERT 'create', DELETE 'delete'; UPDATE 'refresh_secret' when the secret hash
-- changed, else 'disable'/'enable' when the flag flipped, else 'update' (also when only
-- update_time moved: robot_update bumps it when it replaces the permissions). detail
-- names the changed fields; the hash itself is never read into the log.
CREATE FUNCTION dockhand_audit_robots() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed text[] := '{}';
    op text := 'update';
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM dockhand_audit_row('create', 'robot',
                                   dockhand_robot_full_name(NEW.name, NEW.legacy),
                                   jsonb_build_object('level', NEW.level, 'duration', NEW.duration,
                                                      'expires_at', NEW.expires_at));
        RETURN NULL;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM dockhand_audit_row('delete', 'robot',
                                   dockhand_robot_full_name(OLD.name, OLD.legacy), NULL);
        RETURN NULL;
    END IF;
    IF NEW.name IS DISTINCT FROM OLD.name THEN changed := changed || 'name'::text; END IF;
    IF NEW.description IS DISTINCT FROM OLD.description THEN
        changed := changed || 'description'::text;
    END IF;
    IF NEW.duration IS DISTINCT FROM OLD.duration THEN
        changed := changed || 'duration'::text;
    END IF;
    IF NEW.expires_at IS DISTINCT FROM OLD.expires_at THEN
        changed := changed || 'expires_at'::text;
    END IF;
    IF NEW.disabled IS DISTINCT FROM OLD.disabled THEN
        changed := changed || 'disabled'::text;
    END IF;
    IF NEW.legacy IS DISTINCT FROM OLD.legacy THEN changed := changed || 'legacy'::text; END IF;
    IF NEW.secret_hash IS DISTINCT FROM OLD.secret_hash THEN
        op := 'refresh_secret';
    ELSIF NEW.disabled IS DISTINCT FROM OLD.disabled THEN
        op := CASE WHEN NEW.disabled THEN 'disable' ELSE 'enable' END;
    END IF;
    PERFORM dockhand_audit_row(op, 'robot', dockhand_robot_full_name(NEW.name, NEW.legacy),
                               jsonb_build_object('changed', to_jsonb(changed)));
    RETURN NULL;
END $$;

CREATE TRIGGER robots_audit AFTER INSERT OR DELETE ON robots
    FOR EACH ROW EXECUTE FUNCTION dockhand_audit_robots();
CREATE TRIGGER robots_audit_update AFTER UPDATE ON robots
    FOR EACH ROW WHEN (dockhand_robot_changed(OLD, NEW)) EXECUTE FUNCTION dockhand_audit_robots();

-- projects: 'create', 'delete' (its project robots get their own 'delete' rows through the
-- cascade), and 'update' when the name or the public flag changes.
CREATE FUNCTION dockhand_audit_projects() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed text[] := '{}';
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM dockhand_audit_row('create', 'project', NEW.name,
                                   jsonb_build_object('public', NEW.public));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM dockhand_audit_row('delete', 'project', OLD.name, NULL);
    ELSE
        IF NEW.name IS DISTINCT FROM OLD.name THEN changed := changed || 'name'::text; END IF;
        IF NEW.public IS DISTINCT FROM OLD.public THEN changed := changed || 'public'::text; END IF;
        PERFORM dockhand_audit_row('update', 'project', NEW.name,
                                   jsonb_build_object('changed', to_jsonb(changed),
                                                      'public', NEW.public));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER projects_audit AFTER INSERT OR DELETE ON projects
    FOR EACH ROW EXECUTE FUNCTION dockhand_audit_projects();
CREATE TRIGGER projects_audit_update AFTER UPDATE ON projects
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.public IS DISTINCT FROM NEW.public)
    EXECUTE FUNCTION dockhand_audit_projects();

-- settings: 'update' of resource type 'configuration' when a value changes.
CREATE FUNCTION dockhand_audit_settings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM dockhand_audit_row('update', 'configuration', NEW.key,
                               jsonb_build_object('value', NEW.value));
    RETURN NULL;
END $$;

CREATE TRIGGER settings_audit AFTER UPDATE ON settings
    FOR EACH ROW WHEN (OLD.value IS DISTINCT FROM NEW.value)
    EXECUTE FUNCTION dockhand_audit_settings();

-- admins: 'create', 'delete', 'change_password' (resource type 'admin'); never the hash.
CREATE FUNCTION dockhand_audit_admins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM dockhand_audit_row('create', 'admin', NEW.name, NULL);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM dockhand_audit_row('delete', 'admin', OLD.name, NULL);
    ELSIF NEW.password_hash IS DISTINCT FROM OLD.password_hash THEN
        PERFORM dockhand_audit_row('change_password', 'admin', NEW.name, NULL);
    ELSE
        PERFORM dockhand_audit_row('update', 'admin', NEW.name, NULL);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER admins_audit AFTER INSERT OR UPDATE OR DELETE ON admins
    FOR EACH ROW EXECUTE FUNCTION dockhand_audit_admins();

-- Cache announcements (see 001): administrators too ('admin:<id>', so a changed password
-- or a deleted account ends cached logins on every instance), and no announcement when
-- only robots.last_used moved (the audit writer's batches would otherwise empty every
-- instance's credential cache of every robot in use).
CREATE OR REPLACE FUNCTION dockhand_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    rec record;
BEGIN
    IF TG_OP = 'DELETE' THEN rec := OLD; ELSE rec := NEW; END IF;
    IF TG_TABLE_NAME = 'robots' THEN
        PERFORM pg_notify('dockhand', 'robot:' || rec.id);
    ELSIF TG_TABLE_NAME = 'robot_permissions' THEN
        PERFORM pg_notify('dockhand', 'robot:' || rec.robot_id);
    ELSIF TG_TABLE_NAME = 'projects' THEN
        PERFORM pg_notify('dockhand', 'project:' || rec.id);
    ELSIF TG_TABLE_NAME = 'admins' THEN
        PERFORM pg_notify('dockhand', 'admin:' || rec.id);
    ELSE
        PERFORM pg_notify('dockhand', 'settings:' || rec.key);
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER robots_notify ON robots;
CREATE TRIGGER robots_notify AFTER INSERT OR DELETE ON robots
    FOR EACH ROW EXECUTE FUNCTION dockhand_notify();
CREATE TRIGGER robots_notify_update AFTER UPDATE ON robots
    FOR EACH ROW WHEN (dockhand_robot_changed(OLD, NEW)) EXECUTE FUNCTION dockhand_notify();
CREATE TRIGGER admins_notify AFTER INSERT OR UPDATE OR DELETE ON admins
    FOR EACH ROW EXECUTE FUNCTION dockhand_notify();
