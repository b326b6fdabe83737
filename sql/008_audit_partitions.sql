-- The audit log at scale (issue 12). Every token is a row, thousands a second, so
-- audit_log becomes a table partitioned by RANGE (op_time):
--
--   * one partition a UTC day, audit_log_pYYYYMMDD, [midnight, next midnight): `audit
--     prune` drops whole days (no dead rows, no vacuum storm) and deletes rows only in the
--     one day that straddles its time; 90 days kept is about 100 partitions, which the
--     planner prunes to the one or two a time filter touches;
--   * rows older than this month, moved here from the old table, get one partition a
--     month, audit_log_pYYYYMM (a long history would otherwise be hundreds of days);
--   * audit_log_default takes a row whose day has no partition (a clock far off, a
--     writer that could not make partitions for a week), so no row is ever refused; prune
--     deletes its old rows with DELETE, and making a day's partition moves that day's
--     rows out of it;
--   * partitions are made ahead, today to today + 7 days, by
--     dockhand_audit_partitions_ahead(): at the end of `dockhand migrate` and by every
--     instance's audit writer when it connects and then every hour.
--
-- The primary key of a partitioned table must hold the partition key: it is (id, op_time).
-- id still comes from the same sequence (audit_log_id_seq, continued, never reset), so
-- ids stay unique and increasing; only the constraint is wider.
--
-- The old table's rows are copied once, in this migration's transaction, with the
-- audit log locked meanwhile: prune a large log before migrating to shorten the copy.

ALTER TABLE audit_log RENAME TO audit_log_unpartitioned;
ALTER TABLE audit_log_unpartitioned RENAME CONSTRAINT audit_log_pkey
    TO audit_log_unpartitioned_pkey;
DROP INDEX audit_log_time, audit_log_operation, audit_log_resource_type, audit_log_username;
-- Kept when the old table goes: the new one continues it.
ALTER SEQUENCE audit_log_id_seq OWNED BY NONE;

CREATE TABLE audit_log (
    id            bigint NOT NULL DEFAULT nextval('audit_log_id_seq'),
    op_time       timestamptz NOT NULL DEFAULT now(),
    username      text NOT NULL DEFAULT '',
    operation     text NOT NULL,
    resource_type text NOT NULL,
    resource      text NOT NULL DEFAULT '',
    client_ip     text,
    request_id    text,
    detail        jsonb
) PARTITION BY RANGE (op_time);
ALTER SEQUENCE audit_log_id_seq OWNED BY audit_log.id;

CREATE TABLE audit_log_default PARTITION OF audit_log DEFAULT;

-- Makes the partition p_name for [p_from, p_to). Rows of that range already in the
-- DEFAULT partition (PostgreSQL would refuse the new partition over them) are moved
-- into it first. Callers hold the lock of dockhand_audit_partitions_ahead.
CREATE FUNCTION dockhand_audit_partition_add(p_name text, p_from timestamptz,
                                             p_to timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM audit_log_default WHERE op_time >= p_from AND op_time < p_to) THEN
        EXECUTE format('CREATE TABLE %I (LIKE audit_log)', p_name);
        EXECUTE format('WITH moved AS (DELETE FROM audit_log_default'
                       ' WHERE op_time >= $1 AND op_time < $2 RETURNING *)'
                       ' INSERT INTO %I SELECT * FROM moved', p_name) USING p_from, p_to;
        EXECUTE format('ALTER TABLE audit_log ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                       p_name, p_from, p_to);
    ELSE
        EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF audit_log'
                       ' FOR VALUES FROM (%L) TO (%L)', p_name, p_from, p_to);
    END IF;
END $$;

-- Makes the missing daily partitions from today to today + p_days (UTC days) and returns
-- how many it made. Nothing missing: a few catalog look-ups, no lock. Two callers at
-- once (two instances' writers, a migrate) are serialised by an advisory lock, and the
-- second finds the first one's partitions: it looks in pg_class with each statement's
-- own snapshot (to_regclass could answer from this session's cache of "no such table").
CREATE FUNCTION dockhand_audit_partitions_ahead(p_days integer DEFAULT 7)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    today date := (now() AT TIME ZONE 'UTC')::date;
    ns oid := (SELECT relnamespace FROM pg_class WHERE oid = 'audit_log'::regclass);
    d date;
    part_name text;
    locked boolean := false;
    made integer := 0;
BEGIN
    FOR i IN 0 .. greatest(p_days, 0) LOOP
        d := today + i;
        part_name := 'audit_log_p' || to_char(d, 'YYYYMMDD');
        CONTINUE WHEN EXISTS (SELECT 1 FROM pg_class WHERE relname = part_name
                              AND relnamespace = ns);
        IF NOT locked THEN
            -- migrate's lock key + 1
            PERFORM pg_advisory_xact_lock(7234316232706246757);
            locked := true;
            CONTINUE WHEN EXISTS (SELECT 1 FROM pg_class WHERE relname = part_name
                                  AND relnamespace = ns);
        END IF;
        BEGIN
            PERFORM dockhand_audit_partition_add(part_name, d::timestamp AT TIME ZONE 'UTC',
                                                 (d + 1)::timestamp AT TIME ZONE 'UTC');
            made := made + 1;
        EXCEPTION WHEN duplicate_table THEN
            NULL; -- made by another caller since our look: what we wanted
        END;
    END LOOP;
    RETURN made;
END $$;

-- Deletes the audit records older than p_before and records that it did (operation
-- 'prune', type 'audit', detail {before, deleted}), in the caller's transaction; returns
-- the count. A partition wholly before p_before is counted and dropped; the one that
-- straddles p_before, and the DEFAULT partition, lose their older rows by DELETE.
-- The drops come last: each takes an exclusive lock on audit_log (writers and readers
-- wait) held to the end of the transaction, so the slow parts (counting, deleting) run
-- before it, with each partition to be dropped share-locked (its count cannot change).
CREATE FUNCTION dockhand_audit_prune(p_before timestamptz)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    part record;
    doomed regclass[] := '{}';
    n bigint;
    deleted bigint := 0;
BEGIN
    FOR part IN
        SELECT c.oid::regclass AS rel, b.m[1]::timestamptz AS lo, b.m[2]::timestamptz AS hi
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        LEFT JOIN LATERAL (SELECT regexp_match(pg_get_expr(c.relpartbound, c.oid),
                                               '^FOR VALUES FROM \(''([^'']+)''\) TO \(''([^'']+)''\)$')
                           AS m) b ON true
        WHERE i.inhparent = 'audit_log'::regclass
        ORDER BY c.relname
    LOOP
        IF part.hi IS NOT NULL AND part.hi <= p_before THEN
            EXECUTE format('LOCK TABLE %s IN SHARE MODE', part.rel);
            EXECUTE format('SELECT count(*) FROM %s', part.rel) INTO n;
            deleted := deleted + n;
            doomed := doomed || part.rel;
        ELSIF part.lo IS NULL OR part.lo < p_before THEN
            -- DEFAULT (or bounds we cannot read), or the partition that straddles p_before
            EXECUTE format('DELETE FROM %s WHERE op_time < $1', part.rel) USING p_before;
            GET DIAGNOSTICS n = ROW_COUNT;
            deleted := deleted + n;
        END IF;
    END LOOP;
    FOR i IN 1 .. coalesce(array_length(doomed, 1), 0) LOOP
        EXECUTE format('DROP TABLE %s', doomed[i]);
    END LOOP;
    INSERT INTO audit_log (username, operation, resource_type, resource, client_ip, request_id,
                           detail)
    VALUES (coalesce(nullif(current_setting('dockhand.actor', true), ''), 'db:' || current_user),
            'prune', 'audit', 'audit_log',
            nullif(current_setting('dockhand.client_ip', true), ''),
            nullif(current_setting('dockhand.request_id', true), ''),
            jsonb_build_object('before', p_before, 'deleted', deleted));
    RETURN deleted;
END $$;

-- Partitions for the old rows: a month each before this month, a day each from the first
-- day with rows this month (today at the latest) on; rows older than five years go to
-- DEFAULT rather than into sixty-odd partitions of their own (prune deletes them there).
DO $$
DECLARE
    today date := (now() AT TIME ZONE 'UTC')::date;
    this_month date := date_trunc('month', today)::date;
    oldest date;
    m date;
    d date;
BEGIN
    SELECT (min(op_time) AT TIME ZONE 'UTC')::date INTO oldest FROM audit_log_unpartitioned;
    oldest := least(coalesce(oldest, today), today);
    m := greatest(date_trunc('month', oldest)::date, (this_month - interval '5 years')::date);
    WHILE m < this_month LOOP
        PERFORM dockhand_audit_partition_add('audit_log_p' || to_char(m, 'YYYYMM'),
                                             m::timestamp AT TIME ZONE 'UTC',
                                             (m + interval '1 month') AT TIME ZONE 'UTC');
        m := (m + interval '1 month')::date;
    END LOOP;
    d := greatest(oldest, this_month);
    WHILE d < today LOOP
        PERFORM dockhand_audit_partition_add('audit_log_p' || to_char(d, 'YYYYMMDD'),
                                             d::timestamp AT TIME ZONE 'UTC',
                                             (d + 1)::timestamp AT TIME ZONE 'UTC');
        d := d + 1;
    END LOOP;
END $$;
SELECT dockhand_audit_partitions_ahead();

INSERT INTO audit_log SELECT * FROM audit_log_unpartitioned;
DROP TABLE audit_log_unpartitioned;

-- The indexes of 002 and 006, on every partition, built once the rows are in.
ALTER TABLE audit_log ADD PRIMARY KEY (id, op_time);
CREATE INDEX audit_log_time ON audit_log (op_time DESC, id DESC);
CREATE INDEX audit_log_operation ON audit_log (operation, op_time DESC, id DESC)
    WHERE operation <> 'issue_token';
CREATE INDEX audit_log_resource_type ON audit_log (resource_type, op_time DESC, id DESC)
    WHERE resource_type <> 'token';
CREATE INDEX audit_log_username ON audit_log (username, op_time DESC, id DESC);
ANALYZE audit_log;
