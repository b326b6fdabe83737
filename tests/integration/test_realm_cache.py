"""The token realm's robot cache (docs/design.md §2.3): a warm request needs no database, a change
is seen through NOTIFY, and a notification that never arrives is made up for by the TTL
(DOCKHAND_CACHE_TTL_MS). The revocation tests in test_realm_revocation.py run with the
cache on (the default)."""

import signal
import time

from helpers import realm
from helpers.jwtutil import granted
from helpers.pg import PgCluster

APP = "repository:p/app:pull,push"
TTL_MS = 1500


def login(d, robot):
    return d.token(auth=(robot["name"], robot["secret"]), scopes=[APP])


def ok(d, robot):
    _, claims = realm.token_ok(d, login(d, robot), sub=robot["name"])
    assert granted(claims, "repository", "p/app") == ["pull", "push"]


def refused_within(d, robot, seconds):
    """Polls until robot's login is refused; returns the seconds it took."""
    start = time.monotonic()
    while True:
        r = login(d, robot)
        if r.status_code == 401:
            realm.unauthorized(d, r)
            return time.monotonic() - start
        assert r.status_code == 200, realm.show(r)
        assert time.monotonic() - start < seconds, \
            "still logging in %.1f s after the change" % seconds
        time.sleep(0.05)


def listeners(d):
    return int(d.sql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                     " AND application_name = 'dockhand-listen'").strip())


def accepted_within(d, robot, seconds):
    deadline = time.monotonic() + seconds
    while login(d, robot).status_code != 200:
        assert time.monotonic() < deadline, "still refused %.1f s after the change" % seconds
        time.sleep(0.02)
    ok(d, robot)


def silently(d, statement):
    """Runs statement with triggers off (session_replication_role = replica, as logical
    replication does): the change sends no NOTIFY, so no instance hears of it."""
    d.sql("SET session_replication_role = replica; %s" % statement)


def test_a_lost_notification_is_healed_by_the_ttl(dockhand_factory):
    ttl = 3.0
    d = dockhand_factory(DOCKHAND_CACHE_TTL_MS=str(int(ttl * 1000)))
    robot = d.create_robot("quiet")
    ok(d, robot)
    cached = time.monotonic()
    silently(d, "UPDATE robots SET disabled = true WHERE id = %d" % int(robot["id"]))
    # The cache still answers: this is what the TTL is for (and shows the cache is used).
    # (Unless the machine was so slow that the TTL is nearly over already.)
    if time.monotonic() - cached < ttl / 2:
        ok(d, robot)
    refused_within(d, robot, ttl + 2 - (time.monotonic() - cached))


def test_a_dropped_listener_connection_is_healed(dockhand_factory):
    d = dockhand_factory(DOCKHAND_CACHE_TTL_MS=str(TTL_MS))
    robot = d.create_robot("listener")
    ok(d, robot)
    assert listeners(d) == 1
    killed = d.sql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                   " WHERE datname = current_database() AND query = 'LISTEN dockhand'")
    assert killed.strip() == "1", killed
    # Changed while nobody listens, and silently: reconnecting or the TTL must catch it.
    silently(d, "UPDATE robots SET disabled = true WHERE id = %d" % int(robot["id"]))
    refused_within(d, robot, TTL_MS / 1000 + 2)
    # Once the listener is back, a change with its NOTIFY is seen well before the TTL.
    deadline = time.monotonic() + 10
    while listeners(d) != 1:
        assert time.monotonic() < deadline, "the listener did not reconnect"
        time.sleep(0.05)
    d.cli("robot", "enable", str(robot["id"]))
    accepted_within(d, robot, 1.0)


def test_sighup_empties_the_cache(dockhand_factory):
    d = dockhand_factory()  # the default TTL: minutes
    robot = d.create_robot("hup")
    ok(d, robot)
    silently(d, "UPDATE robots SET disabled = true WHERE id = %d" % int(robot["id"]))
    ok(d, robot)
    d.proc.send_signal(signal.SIGHUP)
    refused_within(d, robot, 2.0)


def test_notified_changes_are_seen_before_the_ttl(dockhand_factory):
    d = dockhand_factory(DOCKHAND_CACHE_TTL_MS="600000")
    robot = d.create_robot("loud")
    ok(d, robot)
    d.sql("UPDATE robots SET disabled = true WHERE id = %d" % int(robot["id"]))
    assert refused_within(d, robot, 1.0) < 1.0
    d.sql("UPDATE robots SET disabled = false WHERE id = %d" % int(robot["id"]))
    accepted_within(d, robot, 1.0)
    # a project's change reaches robots that hold answers about it
    d.sql("DELETE FROM projects WHERE name = 'p'")
    deadline = time.monotonic() + 1.0
    while True:
        _, claims = realm.token_ok(d, login(d, robot), sub=robot["name"])
        if granted(claims, "repository", "p/app") == []:
            break
        assert time.monotonic() < deadline, "project delete not seen within 1 s"
        time.sleep(0.02)


def test_warm_requests_need_no_database_until_the_ttl(dockhand_factory):
    cluster = PgCluster("pgcache").start()
    d = None
    try:
        d = dockhand_factory(pg=cluster, DOCKHAND_CACHE_TTL_MS=str(TTL_MS))
        robot = d.create_robot("warm")
        ok(d, robot)
        cluster.stop()
        stopped = time.monotonic()
        ok(d, robot)  # cached: no round trip
        r = d.token(auth=("robot$cold", "Cold1aaaaa"), scopes=[APP])
        realm.error(r, 503)  # not cached: needs the database
        time.sleep(max(0.0, TTL_MS / 1000 + 0.2 - (time.monotonic() - stopped)))
        realm.error(login(d, robot), 503)  # past the TTL the cache is not trusted
        cluster.start()
        deadline = time.monotonic() + 10
        while login(d, robot).status_code != 200:
            assert time.monotonic() < deadline, "no recovery after PostgreSQL came back"
            time.sleep(0.1)
        d.stop()
    finally:
        if d is not None:
            d.stop()
        cluster.destroy()


def test_cache_off_reads_the_database_every_time(dockhand_factory):
    d = dockhand_factory(DOCKHAND_ROBOT_CACHE_SIZE="0")
    robot = d.create_robot("uncached")
    ok(d, robot)
    silently(d, "UPDATE robots SET disabled = true WHERE id = %d" % int(robot["id"]))
    realm.unauthorized(d, login(d, robot))


def test_healthz_reports_the_last_sync_notification(dockhand_factory):
    """The barrier the tests use after every CLI or SQL change (helpers.dockhand.sync):
    notifications arrive in commit order, so once /healthz reports sync:n, every change
    committed before it has reached the caches."""
    d = dockhand_factory(DOCKHAND_CACHE_TTL_MS="600000")
    robot = d.create_robot("barrier")
    ok(d, robot)
    assert d.get("/healthz").json()["notify_sync"] > 0  # create_robot synced already
    d.pg.psql(d.db, "UPDATE robots SET disabled = true WHERE id = %d;"
                    " NOTIFY dockhand, 'sync:2000000000'" % int(robot["id"]))
    deadline = time.monotonic() + 5
    while d.get("/healthz").json()["notify_sync"] < 2000000000:
        assert time.monotonic() < deadline, "sync:2000000000 not reported"
        time.sleep(0.01)
    realm.unauthorized(d, login(d, robot))  # the change before it is seen: no waiting
    d.pg.psql(d.db, "NOTIFY dockhand, 'sync:5'")  # lower: the highest stays
    time.sleep(0.2)
    assert d.get("/healthz").json()["notify_sync"] == 2000000000
