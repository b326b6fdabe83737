-- dockhand schema, version 1: projects, robots, permissions, settings.
-- Applied by `dockhand migrate` inside one transaction.

CREATE TABLE projects (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL UNIQUE,
    public        boolean NOT NULL DEFAULT false,
    creation_time timestamptz NOT NULL DEFAULT now(),
    update_time   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE robots (
    id             bigserial PRIMARY KEY,
    -- stored without prefix; project robots as "<project>+<name>"
    name           text NOT NULL UNIQUE,
    description    text NOT NULL DEFAULT '',
    level          text NOT NULL CHECK (level IN ('system', 'project')),
    project_id     bigint REFERENCES projects(id) ON DELETE CASCADE,
    -- pbkdf2-sha256$<iterations>$<salt>$<hex>: never the secret itself
    secret_hash    text NOT NULL,
    -- bumped by a secret refresh and by disable: refresh tokens carry it
    cred_version   integer NOT NULL DEFAULT 1,
    disabled       boolean NOT NULL DEFAULT false,
    duration       integer NOT NULL CHECK (duration = -1 OR duration > 0),
    expires_at     bigint NOT NULL,
    legacy         boolean NOT NULL DEFAULT false,
    creation_time  timestamptz NOT NULL DEFAULT now(),
    update_time    timestamptz NOT NULL DEFAULT now(),
    last_used      timestamptz,
    CHECK ((level = 'project') = (project_id IS NOT NULL))
);

-- One row per granted (namespace, resource, action). kind 'system' rows have no
-- project; kind 'project' rows name a project, or all projects (all_projects).
CREATE TABLE robot_permissions (
    id           bigserial PRIMARY KEY,
    robot_id     bigint NOT NULL REFERENCES robots(id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('system', 'project')),
    project_id   bigint REFERENCES projects(id) ON DELETE CASCADE,
    all_projects boolean NOT NULL DEFAULT false,
    resource     text NOT NULL,
    action       text NOT NULL,
    CHECK (kind = 'project' OR (project_id IS NULL AND NOT all_projects)),
    CHECK (kind = 'system' OR ((project_id IS NULL) = all_projects))
);
CREATE UNIQUE INDEX robot_permissions_uniq
    ON robot_permissions (robot_id, kind, coalesce(project_id, 0), all_projects, resource, action);
CREATE INDEX robot_permissions_project ON robot_permissions (project_id);

CREATE TABLE settings (
    key   text PRIMARY KEY,
    value text NOT NULL
);
INSERT INTO settings (key, value) VALUES
    ('robot_token_duration', '30'),
    ('robot_name_prefix', 'robot$'),
    ('token_expiration', '30');

-- Everything the token realm needs in one round trip. The robot is found by its
-- login name (the configured prefix for ordinary robots, 'robot$' for legacy ones)
-- or, for refresh tokens, by id. For each requested project that exists: whether it
-- is public and the robot's "resource:action" permissions there (own or all-projects).
CREATE FUNCTION dockhand_token_lookup(p_login text, p_robot_id bigint, p_projects text[])
RETURNS TABLE (robot_id bigint, full_name text, secret_hash text, cred_version integer,
               disabled boolean, expires_at bigint, catalog boolean, token_minutes integer,
               projects json)
LANGUAGE sql STABLE AS $$
    WITH cfg AS (
        SELECT (SELECT value FROM settings WHERE key = 'robot_name_prefix') AS prefix,
               (SELECT value::integer FROM settings WHERE key = 'token_expiration') AS minutes
    ), r AS (
        SELECT rb.*, CASE WHEN rb.legacy THEN 'robot$' ELSE cfg.prefix END || rb.name AS full_name
        FROM robots rb, cfg
        WHERE (p_robot_id IS NOT NULL AND rb.id = p_robot_id)
           OR (p_robot_id IS NULL AND p_login IS NOT NULL AND (
                 (NOT rb.legacy AND starts_with(p_login, cfg.prefix)
                  AND rb.name = substr(p_login, length(cfg.prefix) + 1))
              OR (rb.legacy AND starts_with(p_login, 'robot$') AND rb.name = substr(p_login, 7))))
    )
    SELECT r.id, r.full_name, r.secret_hash, r.cred_version, r.disabled, r.expires_at,
           EXISTS (SELECT 1 FROM robot_permissions rp WHERE rp.robot_id = r.id AND rp.kind = 'system'
                   AND rp.resource = 'catalog' AND rp.action = 'read'),
           cfg.minutes,
           coalesce((SELECT json_agg(json_build_array(p.name, p.public,
                        coalesce((SELECT json_agg(rp.resource || ':' || rp.action)
                                  FROM robot_permissions rp
                                  WHERE rp.robot_id = r.id AND rp.kind = 'project'
                                    AND (rp.project_id = p.id OR rp.all_projects)), '[]'::json)))
                     FROM projects p WHERE p.name = ANY (p_projects)), '[]'::json)
    FROM cfg LEFT JOIN r ON true
$$;

-- Every change that an instance's caches depend on is announced on channel
-- 'dockhand' as '<kind>:<id>' in the same transaction.
CREATE FUNCTION dockhand_notify() RETURNS trigger LANGUAGE plpgsql AS $$
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
    ELSE
        PERFORM pg_notify('dockhand', 'settings:' || rec.key);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER robots_notify AFTER INSERT OR UPDATE OR DELETE ON robots
    FOR EACH ROW EXECUTE FUNCTION dockhand_notify();
CREATE TRIGGER robot_permissions_notify AFTER INSERT OR UPDATE OR DELETE ON robot_permissions
    FOR EACH ROW EXECUTE FUNCTION dockhand_notify();
CREATE TRIGGER projects_notify AFTER INSERT OR UPDATE OR DELETE ON projects
    FOR EACH ROW EXECUTE FUNCTION dockhand_notify();
CREATE TRIGGER settings_notify AFTER INSERT OR UPDATE OR DELETE ON settings
    FOR EACH ROW EXECUTE FUNCTION dockhand_notify();
