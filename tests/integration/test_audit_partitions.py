"""The audit log at scale (issue 12; sql/008_audit_partitions.sql): audit_log partitioned
by UTC day, a DEFAULT partition for rows whose day has none, partitions made ahead by
`migrate` and by the audit writer, `audit prune` dropping whole partitions, existing rows
migrated from version 7, the API's list paging across partitions."""

import datetime
import json
import os
import subprocess
import threading
import time

import pytest

from helpers import api as A

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AHEAD_DAYS = 7  # dockhand_audit_partitions_ahead's default
ACTOR_USER = "pruner"


def cli_json(d, *args):
    p = d.cli(*args, "--output", "json", env={"SUDO_USER": None, "USER": ACTOR_USER})
    return json.loads(p.stdout)


def today(d):
    return datetime.date.fromisoformat(d.sql("SELECT (now() AT TIME ZONE 'UTC')::date").strip())


def day_name(day):
    return "audit_log_p" + day.strftime("%Y%m%d")


def partitions(d):
    """{name: bounds text} of audit_log's partitions, from the catalog."""
    out = d.sql("SELECT c.relname || '|' || pg_get_expr(c.relpartbound, c.oid)"
                " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " WHERE i.inhparent = 'audit_log'::regclass")
    return dict(line.split("|", 1) for line in out.split("\n") if line)


def exists(d, rel):
    return d.sql("SELECT to_regclass('%s') IS NOT NULL" % rel).strip() == "t"


def add_day(d, day):
    """Makes the partition of a past day, as migrate does for old rows."""
    d.sql("SELECT dockhand_audit_partition_add('%s', '%s 00:00+00', '%s 00:00+00')"
          % (day_name(day), day, day + datetime.timedelta(days=1)))


def insert_at(d, times, operation="update", resource="partition-test"):
    """One audit row at each time (SQL timestamptz text); returns their ids in order."""
    ids = []
    for t in times:
        ids.append(int(d.sql(
            "INSERT INTO audit_log (op_time, username, operation, resource_type, resource)"
            " VALUES ('%s', 'cli:test', '%s', 'robot', '%s') RETURNING id"
            % (t, operation, resource)).split()[0]))
    return ids


def where_is(d, row_id):
    """The partition that holds the row."""
    return d.sql("SELECT tableoid::regclass FROM audit_log WHERE id = %d" % row_id).strip()


def snapshot(d):
    return json.loads(d.sql("SELECT coalesce(json_agg(a ORDER BY a.id), '[]') FROM audit_log a"))


# ---- migration from version 7 --------------------------------------------------------


def test_migrating_version_7_keeps_every_audit_row(dockhand_factory):
    """A database at version 7 (the unpartitioned table) with rows over three months, some
    from the triggers: after `migrate`, every row is there with its id and contents, the
    table is partitioned (months before this one, days of this one, DEFAULT, days ahead),
    the id sequence continues and the triggers still write."""
    d = dockhand_factory(migrate=False, start=False)
    d.sql("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
          " applied_at timestamptz NOT NULL DEFAULT now())")
    names = sorted(f for f in os.listdir(os.path.join(ROOT, "sql")) if f.endswith(".sql"))
    for name in names:
        version = int(name.split("_")[0])
        if version > 7:
            continue
        with open(os.path.join(ROOT, "sql", name)) as f:
            d.sql("BEGIN;\n" + f.read() + "\nCOMMIT;")
        d.sql("INSERT INTO schema_migrations (version, name) VALUES (%d, '%s')"
              % (version, name))
    assert d.sql("SELECT relkind FROM pg_class WHERE relname = 'audit_log'").strip() == "r"
    d.sql("INSERT INTO projects (name) VALUES ('old-project')")  # a trigger's row
    d.sql("INSERT INTO audit_log (op_time, username, operation, resource_type, resource,"
          " client_ip, request_id, detail)"
          " SELECT now() - (i * interval '1 hour'), 'robot$r' || i, 'issue_token', 'token',"
          " 'robot$r' || i, '10.0.0.' || (i % 250), 'rid-' || i,"
          " jsonb_build_object('jti', 'j' || i, 'n', i)"
          " FROM generate_series(1, 24 * 75) i")
    before = snapshot(d)
    assert len(before) == 24 * 75 + 1
    last = int(d.sql("SELECT last_value FROM audit_log_id_seq").strip())

    p = d.cli("migrate")
    assert "008_audit_partitions.sql" in p.stdout, p.stdout
    assert d.sql("SELECT relkind FROM pg_class WHERE relname = 'audit_log'").strip() == "p"
    assert snapshot(d) == before
    assert not exists(d, "audit_log_unpartitioned")

    parts = partitions(d)
    assert parts["audit_log_default"] == "DEFAULT"
    t = today(d)
    month = t.replace(day=1)
    oldest = datetime.date.fromisoformat(
        d.sql("SELECT (min(op_time) AT TIME ZONE 'UTC')::date FROM audit_log").strip())
    assert (t - oldest).days >= 74
    m = oldest.replace(day=1)
    while m < month:  # one partition a month before this one
        assert "audit_log_p" + m.strftime("%Y%m") in parts, (m, sorted(parts))
        m = (m + datetime.timedelta(days=32)).replace(day=1)
    for k in range((t - month).days + AHEAD_DAYS + 1):  # then one a day, to a week ahead
        assert day_name(month + datetime.timedelta(days=k)) in parts, sorted(parts)
    # nothing landed in DEFAULT: every old row found its partition
    assert d.sql("SELECT count(*) FROM ONLY audit_log_default").strip() == "0"

    # ids continue from the same sequence; the triggers write into the new table
    d.sql("INSERT INTO projects (name) VALUES ('new-project')")
    new = json.loads(d.sql("SELECT row_to_json(a) FROM audit_log a WHERE resource = 'new-project'"))
    assert new["id"] > last and new["operation"] == "create", new
    # the primary key and every index of 002 and 006 are there; the username index is
    # each cold partition's own since 010 (today's partition has none)
    idx = set(d.sql("SELECT indexrelid::regclass FROM pg_index"
                    " WHERE indrelid = 'audit_log'::regclass").split())
    assert idx == {"audit_log_pkey", "audit_log_time", "audit_log_operation",
                   "audit_log_resource_type"}, idx
    for name in parts:
        cold = name == "audit_log_default" or name < day_name(t)
        assert exists(d, name + "_username") == cold, name
    assert "WHERE (operation <> 'issue_token'::text)" in d.sql(
        "SELECT pg_get_indexdef('audit_log_operation'::regclass)")


# ---- partitions ahead, DEFAULT -------------------------------------------------------


def test_migrate_makes_partitions_a_week_ahead(dockhand_factory):
    d = dockhand_factory(start=False)
    t = today(d)
    parts = partitions(d)
    for k in range(AHEAD_DAYS + 1):
        day = t + datetime.timedelta(days=k)
        assert parts.get(day_name(day)) == (
            "FOR VALUES FROM ('%s 00:00:00+00') TO ('%s 00:00:00+00')"
            % (day, day + datetime.timedelta(days=1))), sorted(parts)
    assert parts["audit_log_default"] == "DEFAULT"
    # a later migrate makes what is missing (a day has passed, or someone dropped one)
    d.sql("DROP TABLE %s" % day_name(t + datetime.timedelta(days=AHEAD_DAYS)))
    d.cli("migrate")
    assert exists(d, day_name(t + datetime.timedelta(days=AHEAD_DAYS)))


def test_a_row_with_no_partition_lands_in_default_and_moves_when_its_day_is_made(
        dockhand_factory):
    d = dockhand_factory(start=False)
    t = today(d)
    far = t + datetime.timedelta(days=40)
    ids = insert_at(d, ["%s 10:00+00" % far, "1999-01-02 03:04:05+00"])
    assert [where_is(d, i) for i in ids] == ["audit_log_default"] * 2
    row = snapshot(d)[-2]
    # making partitions further ahead moves the row out of DEFAULT into its day, intact
    assert int(d.sql("SELECT dockhand_audit_partitions_ahead(45)").strip()) == 45 - AHEAD_DAYS
    assert where_is(d, ids[0]) == day_name(far)
    assert json.loads(d.sql("SELECT row_to_json(a) FROM audit_log a WHERE id = %d"
                            % ids[0])) == row
    assert where_is(d, ids[1]) == "audit_log_default"
    # and the API's list still shows both
    total = cli_json(d, "audit", "list", "--resource", "partition-test")["total"]
    assert total == 2


def test_concurrent_partition_making_does_not_fail(dockhand_factory):
    """Two instances' writers and a migrate may make the same day at once."""
    d = dockhand_factory(start=False)
    t = today(d)
    for _ in range(3):
        for k in range(1, AHEAD_DAYS + 1):
            d.sql("DROP TABLE %s" % day_name(t + datetime.timedelta(days=k)))
        results = []

        def call():
            results.append(d.pg.psql(d.db, "SELECT dockhand_audit_partitions_ahead()",
                                     check=False))

        threads = [threading.Thread(target=call) for _ in range(6)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
        assert sum(int(r.stdout) for r in results) == AHEAD_DAYS
        for k in range(AHEAD_DAYS + 1):
            assert exists(d, day_name(t + datetime.timedelta(days=k)))


def test_two_migrates_at_once_on_a_fresh_database(dockhand_factory):
    d = dockhand_factory(migrate=False, start=False)
    procs = [subprocess.Popen([d.bin, "migrate"], env=d._full_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert exists(d, day_name(today(d) + datetime.timedelta(days=AHEAD_DAYS)))


def test_the_writer_makes_missing_partitions_at_start(dockhand_factory):
    """An instance's audit writer makes the days ahead when it connects (and then every
    hour): tomorrow's partition, dropped, comes back; today's, dropped while rows of today
    went to DEFAULT, comes back with those rows."""
    d = dockhand_factory(start=False)
    t = today(d)
    tomorrow = t + datetime.timedelta(days=1)
    d.sql("DROP TABLE %s; DROP TABLE %s" % (day_name(t), day_name(tomorrow)))
    [row_id] = insert_at(d, ["now"])
    assert where_is(d, row_id) == "audit_log_default"
    d.start()
    A.poll(lambda: exists(d, day_name(tomorrow)) and exists(d, day_name(t)),
           what="the writer making today's and tomorrow's partitions")
    assert where_is(d, row_id) == day_name(t)
    assert "made 2 daily partition(s)" in d.log_text()
    # tokens are recorded into today's partition
    r = d.token()
    assert r.status_code == 200
    A.poll(lambda: d.sql("SELECT count(*) FROM %s WHERE operation = 'issue_token'"
                         % day_name(t)).strip() != "0", what="the token's audit row")


# ---- prune ---------------------------------------------------------------------------


def test_prune_drops_whole_partitions_and_deletes_only_the_straddling_rows(dockhand_factory):
    d = dockhand_factory(start=False)
    t = today(d)
    days = [t - datetime.timedelta(days=k) for k in (4, 3, 2, 1)]
    for day in days:
        add_day(d, day)
    for day in days:  # ten rows a day, 06:00 to 15:00
        insert_at(d, ["%s %02d:00+00" % (day, h) for h in range(6, 16)])
    old = insert_at(d, ["1999-01-02 03:04:05+00", "2001-01-01 00:00+00", "2020-05-05 05:05+00"])
    assert {where_is(d, i) for i in old} == {"audit_log_default"}
    newer_default = insert_at(d, ["%s 00:00+00" % (t + datetime.timedelta(days=60))])
    oid_kept = d.sql("SELECT '%s'::regclass::oid" % day_name(days[2])).strip()
    before_rows = {r["id"]: r for r in snapshot(d)}

    cutoff = "%sT12:30:00Z" % days[2]  # in day -2: its rows of 06:00-12:00 go, 13-15 stay
    out = cli_json(d, "audit", "prune", "--before", cutoff)
    assert out == {"deleted": 10 + 10 + 7 + 3}, out

    # the two days wholly before the cutoff are gone as tables, not emptied
    for day in days[:2]:
        assert not exists(d, day_name(day))
    assert day_name(days[0]) not in partitions(d)
    assert d.sql("SELECT count(*) FROM pg_class WHERE relname IN ('%s', '%s')"
                 % (day_name(days[0]), day_name(days[1]))).strip() == "0"
    # the straddling day lost only its older rows, in place (the same table)
    assert d.sql("SELECT '%s'::regclass::oid" % day_name(days[2])).strip() == oid_kept
    left = d.sql("SELECT to_char(op_time AT TIME ZONE 'UTC', 'HH24') FROM %s ORDER BY 1"
                 % day_name(days[2])).split()
    assert left == ["13", "14", "15"], left
    assert d.sql("SELECT count(*) FROM %s" % day_name(days[3])).strip() == "10"
    # DEFAULT: its old rows deleted, the newer one kept
    assert d.sql("SELECT array_agg(id) FROM ONLY audit_log_default").strip() == \
        "{%d}" % newer_default[0]
    # every remaining row is the same as before, and nothing older than the cutoff is left
    after = snapshot(d)
    prune = [r for r in after if r["operation"] == "prune"]
    assert len(prune) == 1, prune
    assert prune[0]["username"] == "cli:" + ACTOR_USER
    assert prune[0]["detail"]["deleted"] == 30
    assert prune[0]["resource_type"] == "audit" and prune[0]["resource"] == "audit_log"
    for r in after:
        if r["operation"] != "prune":
            assert before_rows[r["id"]] == r
    assert len(after) == len(before_rows) - 30 + 1
    assert d.sql("SELECT count(*) FROM audit_log WHERE op_time < '%s'" % cutoff).strip() == "0"

    # a second prune with the same cutoff finds nothing and still records itself
    assert cli_json(d, "audit", "prune", "--before", cutoff) == {"deleted": 0}
    assert d.sql("SELECT count(*) FROM audit_log WHERE operation = 'prune'").strip() == "2"


def test_prune_into_the_future_drops_today_and_the_record_is_kept(dockhand_factory):
    """A cutoff past every partition drops them all; the prune's own record then lands in
    DEFAULT, and the next partitions ahead take it back into today's."""
    d = dockhand_factory(start=False)
    t = today(d)
    n = int(d.sql("SELECT count(*) FROM audit_log").strip())
    assert n > 0  # project "p" was created
    cutoff = "%sT00:00:00Z" % (t + datetime.timedelta(days=AHEAD_DAYS + 1))
    out = cli_json(d, "audit", "prune", "--before", cutoff)
    assert out == {"deleted": n}
    assert set(partitions(d)) == {"audit_log_default"}
    [row_id] = d.sql("SELECT id FROM audit_log WHERE operation = 'prune'").split()
    assert where_is(d, int(row_id)) == "audit_log_default"
    d.cli("migrate")
    assert where_is(d, int(row_id)) == day_name(t)


# ---- the API's list across partitions ------------------------------------------------


def test_api_list_pages_across_partitions(dockhand_factory):
    d = dockhand_factory()
    admin = A.ensure_admin(d)
    t = today(d)
    days = [t - datetime.timedelta(days=k) for k in (3, 2, 1)]
    for day in days:
        add_day(d, day)
    # three days of rows, the same second twice (ids break the tie), plus DEFAULT
    for day in days:
        insert_at(d, ["%s 08:00+00" % day, "%s 08:00+00" % day, "%s 23:59:59+00" % day])
    insert_at(d, ["1999-01-02 03:04:05+00"])
    expected = d.sql("SELECT id FROM audit_log WHERE resource = 'partition-test'"
                     " ORDER BY op_time DESC, id DESC").split()
    assert len(expected) == 10
    got = admin.list_all("/audit-logs", params={"q": "resource=~partition-test"},
                         model="AuditLog", page_size=3)
    assert [str(e["id"]) for e in got] == expected
    # a time range over two partitions: only their rows, newest first
    q = "resource=~partition-test,op_time=[%s 00:00:00~%s 23:59:59]" % (days[0], days[1])
    got = admin.list_all("/audit-logs", params={"q": q}, model="AuditLog", page_size=2)
    assert [str(e["id"]) for e in got] == expected[3:9]
    assert {e["op_time"][:10] for e in got} == {str(days[0]), str(days[1])}


def test_writer_indexes_cold_partitions_by_username(dockhand_factory):
    """Today's partition has no username index (sql/010: the COPYs of the tokens are
    cheaper); a partition whose day is over gets one from the audit writer, built
    concurrently on a connection of its own, and the username filter uses it."""
    d = dockhand_factory(start=False)
    t = today(d)
    y = t - datetime.timedelta(days=1)
    add_day(d, y)
    insert_at(d, ["%s 12:00+00" % y], resource="cold")
    assert not exists(d, day_name(y) + "_username")
    assert not exists(d, day_name(t) + "_username")
    d.start()
    deadline = time.monotonic() + 30
    done = "audit: the audit log's partition %s is indexed by username" % day_name(y)
    while done not in d.log_text():
        assert time.monotonic() < deadline, d.log_tail()
        time.sleep(0.1)
    assert d.sql("SELECT count(*) FROM pg_index WHERE indisvalid AND"
                 " indexrelid = to_regclass('%s_username')" % day_name(y)).strip() == "1"
    assert not exists(d, day_name(t) + "_username")
    plan = d.sql("SET enable_seqscan = off; EXPLAIN SELECT * FROM audit_log"
                 " WHERE username = 'cli:test' AND op_time >= '%s' AND op_time < '%s'"
                 " ORDER BY op_time DESC, id DESC LIMIT 10" % (y, t))
    assert "%s_username" % day_name(y) in plan, plan
    # An interrupted build (an invalid index) is dropped and built again.
    d.stop()
    d.sql("UPDATE pg_index SET indisvalid = false"
          " WHERE indexrelid = '%s_username'::regclass" % day_name(y))
    d.start()
    deadline = time.monotonic() + 30
    while d.sql("SELECT count(*) FROM pg_index WHERE indisvalid AND"
                " indexrelid = to_regclass('%s_username')" % day_name(y)).strip() != "1":
        assert time.monotonic() < deadline, d.log_tail()
        time.sleep(0.1)
