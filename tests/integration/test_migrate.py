"""`dockhand migrate` and the schema check of `serve` (docs/design.md §6)."""

import os
import re

from helpers import realm

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SCHEMA_WORDS = re.compile(r"schema|migrat", re.I)


def tables(d):
    return set(d.sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").split())


def test_migrate_is_idempotent(dockhand_factory):
    d = dockhand_factory(start=False)  # fresh database, migrated once already
    before = d.sql("SELECT * FROM schema_migrations ORDER BY 1")
    assert before.strip(), "schema_migrations is empty after migrate"
    t = tables(d)
    assert {"schema_migrations", "robots", "projects"} <= t, t
    for _ in range(2):
        p = d.cli("migrate", check=False)
        assert p.returncode == 0, p
    assert d.sql("SELECT * FROM schema_migrations ORDER BY 1") == before
    assert tables(d) == t
    d.start()
    realm.token_ok(d, d.token(), sub="")


def test_settings_as_flags(dockhand_factory):
    d = dockhand_factory(migrate=False, start=False)
    dsn = d.env["DOCKHAND_DATABASE_URL"]
    p = d.cli("migrate", "--database-url", dsn, env={"DOCKHAND_DATABASE_URL": None},
              check=False)
    assert p.returncode == 0, p
    assert "schema_migrations" in tables(d)
    p = d.cli("config", "get", "robot_name_prefix", "--database-url", dsn,
              env={"DOCKHAND_DATABASE_URL": "host=/nonexistent dbname=nothing"}, check=False)
    assert p.returncode == 0, p
    assert "robot$" in p.stdout


def test_serve_refuses_an_old_schema(dockhand_factory):
    d = dockhand_factory(start=False)
    d.sql("DELETE FROM schema_migrations WHERE ctid = "
          "(SELECT ctid FROM schema_migrations ORDER BY 1 DESC LIMIT 1)")
    p = d.cli("serve", check=False, timeout=15)
    assert p.returncode != 0, p
    assert SCHEMA_WORDS.search(p.stderr + p.stdout), p


def test_serve_refuses_an_empty_database(dockhand_factory):
    d = dockhand_factory(migrate=False, start=False)
    p = d.cli("serve", check=False, timeout=15)
    assert p.returncode != 0, p
    assert SCHEMA_WORDS.search(p.stderr + p.stdout), p


def test_migrate_reports_an_unreachable_database(dockhand_factory, tmp_path):
    d = dockhand_factory(start=False)
    p = d.cli("migrate", check=False, timeout=30,
              env={"DOCKHAND_DATABASE_URL": "host=%s port=1 user=postgres dbname=x" % tmp_path})
    assert p.returncode != 0, p
    assert p.stderr.strip()


def test_versions_are_the_numbers_of_the_file_names(dockhand_factory):
    """A migration's version is the number its file name starts with, not its place in
    the list: a database keeps its numbering when a lower-numbered file lands later."""
    d = dockhand_factory(start=False)
    rows = d.sql("SELECT version || ':' || name FROM schema_migrations ORDER BY version").split()
    names = sorted(f for f in os.listdir(os.path.join(ROOT, "sql")) if f.endswith(".sql"))
    assert rows == ["%d:%s" % (int(f.split("_")[0]), f) for f in names], rows
    assert "3:003_sessions.sql" in rows


def test_each_migration_records_the_oldest_binary_it_keeps_working(dockhand_factory):
    """`migrate` records for each migration the oldest binary schema it declares (a line
    "-- oldest-binary-schema: N"), or its own version: what readiness and `serve` of an
    older release read during a rolling upgrade (README "Upgrades")."""
    d = dockhand_factory(start=False)
    got = dict(tuple(map(int, line.split(":"))) for line in d.sql(
        "SELECT version || ':' || oldest_binary FROM schema_migrations").split())
    want = {}
    for f in os.listdir(os.path.join(ROOT, "sql")):
        if not f.endswith(".sql"):
            continue
        v = int(f.split("_")[0])
        with open(os.path.join(ROOT, "sql", f)) as fh:
            m = re.search(r"^-- oldest-binary-schema:[ \t]*(\d+)$", fh.read(), re.M)
        want[v] = int(m.group(1)) if m and 0 < int(m.group(1)) <= v else v
    assert got == want


def test_serve_refuses_a_schema_missing_a_lower_numbered_migration(dockhand_factory):
    """A migration numbered below one already applied (it landed later) keeps the
    schema old until `migrate` applies it."""
    d = dockhand_factory(start=False)
    d.sql("DELETE FROM schema_migrations WHERE version = 2")
    p = d.cli("serve", check=False, timeout=15)
    assert p.returncode != 0, p
    assert "version 1" in p.stderr, p
    p = d.cli("robot", "list", check=False)
    assert p.returncode != 0 and SCHEMA_WORDS.search(p.stderr), p
