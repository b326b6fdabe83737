-- dockhand schema, version 9: keyless robots and robots bound to networks.
-- Applied by `dockhand migrate` inside one transaction.

-- The networks a robot may log in from (IPv4 and IPv6); empty: from anywhere.
-- The limit is ROBOT_MAX_NETWORKS (robots.h).
ALTER TABLE robots ADD COLUMN networks cidr[] NOT NULL DEFAULT '{}'
    CHECK (cardinality(networks) <= 64);

-- Bumped whenever the robot's federation rules are replaced, so that the robots triggers
-- audit ('update', changed: federation) and announce ('robot:<id>') the change.
ALTER TABLE robots ADD COLUMN federation_version integer NOT NULL DEFAULT 0;

-- Federation rules: the robot trusts identity tokens (JWTs) of an OpenID Connect issuer
-- whose audience, subject and claims match. Several rules per robot (ROBOT_MAX_FEDERATION
-- in robots.h), kept in the order given. audience NULL: the service's name. subject and
-- each claim's value: exact, or a pattern where '*' matches any run of characters. claims
-- maps a claim name to that value.
CREATE TABLE robot_federation (
    id        bigserial PRIMARY KEY,
    robot_id  bigint NOT NULL REFERENCES robots(id) ON DELETE CASCADE,
    position  integer NOT NULL CHECK (position >= 0),
    issuer    text NOT NULL CHECK (starts_with(issuer, 'https://') AND length(issuer) <= 512),
    audience  text CHECK (length(audience) BETWEEN 1 AND 512),
    subject   text NOT NULL CHECK (length(subject) BETWEEN 1 AND 1024),
    claims    jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(claims) = 'object'),
    UNIQUE (robot_id, position)
);

-- Announcements: a rule written without bumping robots.federation_version (by hand) still
-- reaches the caches.
CREATE OR REPLACE FUNCTION dockhand_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    rec record;
BEGIN
    IF TG_OP = 'DELETE' THEN rec := OLD; ELSE rec := NEW; END IF;
    IF TG_TABLE_NAME = 'robots' THEN
        PERFORM pg_notify('dockhand', 'robot:' || rec.id);
    ELSIF TG_TABLE_NAME IN ('robot_permissions', 'robot_federation') THEN
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

CREATE TRIGGER robot_federation_notify AFTER INSERT OR UPDATE OR DELETE ON robot_federation
    FOR EACH ROW EXECUTE FUNCTION dockhand_notify();

-- As in 002, and the two new columns named in 'changed'.
CREATE OR REPLACE FUNCTION dockhand_audit_robots() RETURNS trigger LANGUAGE plpgsql AS $$
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
    IF NEW.networks IS DISTINCT FROM OLD.networks THEN
        changed := changed || 'networks'::text;
    END IF;
    IF NEW.federation_version IS DISTINCT FROM OLD.federation_version THEN
        changed := changed || 'federation'::text;
    END IF;
    IF NEW.secret_hash IS DISTINCT FROM OLD.secret_hash THEN
        op := 'refresh_secret';
    ELSIF NEW.disabled IS DISTINCT FROM OLD.disabled THEN
        op := CASE WHEN NEW.disabled THEN 'disable' ELSE 'enable' END;
    END IF;
    PERFORM dockhand_audit_row(op, 'robot', dockhand_robot_full_name(NEW.name, NEW.legacy),
                               jsonb_build_object('changed', to_jsonb(changed)));
    RETURN NULL;
END $$;

-- As in 007, and two more columns: the robot's networks (as text, '{}' when none) and its
-- federation rules ([{issuer, audience, subject, claims}, ...] in order, '[]' when none).
-- The return type changes, so the function is dropped and made again.
DROP FUNCTION dockhand_token_lookup(text, bigint, text[]);
CREATE FUNCTION dockhand_token_lookup(p_login text, p_robot_id bigint, p_projects text[])
RETURNS TABLE (robot_id bigint, full_name text, secret_hash text, cred_version integer,
               disabled boolean, expires_at bigint, catalog boolean, token_minutes integer,
               projects json, networks text[], federation json)
LANGUAGE sql STABLE AS $$
    WITH cfg AS (
        SELECT dockhand_robot_name_prefix() AS prefix,
               (SELECT value::integer FROM settings WHERE key = 'token_expiration') AS minutes
    ), r AS (
        SELECT rb.*, dockhand_robot_full_name(rb.name, rb.legacy) AS full_name
        FROM robots rb, cfg
        WHERE (p_robot_id IS NOT NULL AND rb.id = p_robot_id)
           OR (p_robot_id IS NULL AND p_login IS NOT NULL
               AND rb.name IN (substr(p_login, length(cfg.prefix) + 1), substr(p_login, 7))
               AND dockhand_robot_full_name(rb.name, rb.legacy) = p_login)
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
                     FROM projects p WHERE p.name = ANY (p_projects)), '[]'::json),
           coalesce(r.networks::text[], '{}'),
           coalesce((SELECT json_agg(json_build_object('issuer', f.issuer, 'audience', f.audience,
                                                       'subject', f.subject, 'claims', f.claims)
                                     ORDER BY f.position)
                     FROM robot_federation f WHERE f.robot_id = r.id), '[]'::json)
    FROM cfg LEFT JOIN r ON true
$$;
