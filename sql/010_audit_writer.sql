-- The audit writer (issue 13, "an audit log that loses nothing it promised to keep").
--
-- audit_spill_replay: how far each spill file (DOCKHAND_AUDIT_OVERFLOW=spill) has been
-- replayed into audit_log. The writer commits a chunk's rows and the file's new offset in
-- one transaction, so a crash between the commit and emptying the file replays nothing
-- twice. file_id is the random id in the file's header (a new one each time the file is
-- emptied); the row of an emptied file is deleted.
CREATE TABLE audit_spill_replay (
    file_id    text PRIMARY KEY,
    replayed   bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Fewer indexes on the hot partition. Every token is a row, and on a machine where
-- PostgreSQL shares the cores with dockhand the writer's COPY is what bounds the audited
-- token rate. Measured (100,000 token rows by COPY, fsync on, this machine): 16,200 rows/s
-- with the primary key, the time index and the username index; 23,100 without the
-- username index (its keys are the widest). So the username index is no longer one index
-- of the partitioned table: each *cold* partition (whose day is over) and DEFAULT get
-- their own, audit_log_pYYYYMMDD_username, and today's does not. The audit writer builds
-- the missing ones with CREATE INDEX CONCURRENTLY on a connection of its own (never
-- blocking the COPYs), soon after midnight UTC; the API's and the CLI's username filter
-- uses them on past days and, on today's partition, walks the time index.
DROP INDEX audit_log_username;

-- The cold partition (or DEFAULT) with no valid username index, newest first: its name
-- and whether an invalid one (a build that was interrupted) is to be dropped first.
CREATE FUNCTION dockhand_audit_cold_unindexed(OUT part text, OUT invalid boolean)
RETURNS SETOF record LANGUAGE sql STABLE AS $$
    SELECT c.relname::text, ic.oid IS NOT NULL
    FROM pg_inherits h
    JOIN pg_class c ON c.oid = h.inhrelid
    LEFT JOIN pg_class ic ON ic.relname = c.relname || '_username'
                         AND ic.relnamespace = c.relnamespace
    LEFT JOIN pg_index i ON i.indexrelid = ic.oid
    LEFT JOIN LATERAL (SELECT regexp_match(pg_get_expr(c.relpartbound, c.oid),
                                           'TO \(''([^'']+)''\)$') AS m) b ON true
    WHERE h.inhparent = 'audit_log'::regclass
      AND (ic.oid IS NULL OR NOT i.indisvalid)
      AND (c.relname = 'audit_log_default'
           OR b.m[1]::timestamptz <= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')
    ORDER BY c.relname = 'audit_log_default', c.relname DESC
    LIMIT 1
$$;

DO $$
DECLARE
    p text;
BEGIN
    LOOP
        SELECT part INTO p FROM dockhand_audit_cold_unindexed();
        EXIT WHEN p IS NULL;
        EXECUTE format('CREATE INDEX %I ON %I (username, op_time DESC, id DESC)',
                       p || '_username', p);
    END LOOP;
END $$;
