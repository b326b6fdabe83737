-- One login-name rule. A robot logs in as <prefix><name>, a legacy robot (imported from
-- Harbor 2.1 or older) as robot$<name>, and the prefix is the robot_name_prefix setting,
-- 'robot$' when that row is absent. These two functions are the rule's only home: the
-- token lookup, the audit triggers and every name dockhand shows (the admin API, the CLI,
-- the Harbor import report) read it from them. Before, the token lookup and the service's
-- queries concatenated a missing prefix into NULL (no robot could log in, the API showed
-- an empty name) while the audit triggers fell back to 'robot$'.
CREATE FUNCTION dockhand_robot_name_prefix()
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT value FROM settings WHERE key = 'robot_name_prefix'), 'robot$')
$$;

CREATE OR REPLACE FUNCTION dockhand_robot_full_name(p_name text, p_legacy boolean)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_legacy THEN 'robot$' ELSE dockhand_robot_name_prefix() END || p_name
$$;

-- As in 001, but the login is matched by the rule itself: the name after either prefix
-- only picks the candidates (at most two, through the unique index on name), and
-- dockhand_robot_full_name decides.
CREATE OR REPLACE FUNCTION dockhand_token_lookup(p_login text, p_robot_id bigint,
                                                 p_projects text[])
RETURNS TABLE (robot_id bigint, full_name text, secret_hash text, cred_version integer,
               disabled boolean, expires_at bigint, catalog boolean, token_minutes integer,
               projects json)
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
                     FROM projects p WHERE p.name = ANY (p_projects)), '[]'::json)
    FROM cfg LEFT JOIN r ON true
$$;
