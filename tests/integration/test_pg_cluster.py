"""The private PostgreSQL cluster fixture itself (needs no dockhand binary)."""

import os
import pwd

from helpers.pg import PgCluster


def test_session_cluster_answers_on_its_socket_only(pg):
    assert pg.scalar("postgres", "SELECT current_user") == "postgres"
    assert pg.scalar("postgres", "SHOW fsync") == "off"
    assert pg.scalar("postgres", "SHOW listen_addresses") == ""
    assert pg.scalar("postgres", "SHOW unix_socket_directories") == pg.sockdir
    assert os.path.exists(os.path.join(pg.sockdir, ".s.PGSQL.%d" % pg.port))
    assert pg.dsn("x") == "host=%s port=%d user=postgres dbname=x" % (pg.sockdir, pg.port)


def test_server_never_runs_as_root(pg):
    with open(os.path.join(pg.datadir, "postmaster.pid")) as f:
        pid = int(f.readline())
    uid = os.stat("/proc/%d" % pid).st_uid
    assert uid != 0
    if os.geteuid() == 0:
        assert uid == pwd.getpwnam("postgres").pw_uid
    else:
        assert uid == os.geteuid()


def test_createdb_and_psql(pg):
    pg.createdb("fixture_check")
    pg.psql("fixture_check", "CREATE TABLE t (a int); INSERT INTO t VALUES (1), (2)")
    assert pg.scalar("fixture_check", "SELECT sum(a) FROM t") == "3"
    assert "fixture_check" in pg.psql("postgres", "SELECT datname FROM pg_database")
    failed = pg.psql("fixture_check", "SELECT * FROM nosuchtable", check=False)
    assert failed.returncode != 0 and "nosuchtable" in failed.stderr
    pg.dropdb("fixture_check")


def test_stop_and_start_keep_the_data():
    c = PgCluster("pgcheck")
    try:
        c.start()
        c.createdb("keep")
        c.psql("keep", "CREATE TABLE t AS SELECT 42 AS v")
        c.stop()
        assert not os.path.exists(os.path.join(c.datadir, "postmaster.pid"))
        assert c.psql("keep", "SELECT 1", check=False).returncode != 0
        c.start()
        assert c.scalar("keep", "SELECT v FROM t") == "42"
        assert os.path.getsize(c.log_path) > 0
    finally:
        root = c.root
        c.destroy()
    assert not os.path.exists(root)
