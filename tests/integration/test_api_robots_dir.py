"""The robot directory (src/store/robotdir.c; README "How it runs"): the admin API's robot list,
sorted by name, is filtered and paged in memory. It must answer exactly what PostgreSQL
answers, see every change (its own at once, other instances' and the CLI's through NOTIFY,
lost notifications after a reconnect, SIGHUP or the TTL), and stand aside when there are
more robots than DOCKHAND_ROBOT_LIST_CACHE_SIZE."""

import itertools
import signal
import time

import pytest

from helpers import api as A

STORED = [
    # system robots: digits and every character a name may hold
    "alpha", "alpha.1", "alpha_2", "alpha-3", "build", "build-x", "bx", "x",
    "ci.deploy", "a1b2", "xylophone", "max", "nix",
]
# upper case, as an imported robot may have (put in with SQL: the API refuses them)
UPPER = ["Zeta", "CI", "MiXed"]


class World:
    pass


@pytest.fixture(scope="module")
def world(dockhand_factory):
    """Three instances on one database: the directory on (the default), off, and with a
    capacity below the number of robots (standing aside)."""
    w = World()
    w.on = dockhand_factory()
    w.off = dockhand_factory(db=w.on.db, DOCKHAND_ROBOT_LIST_CACHE_SIZE="0")
    w.small = dockhand_factory(db=w.on.db, DOCKHAND_ROBOT_LIST_CACHE_SIZE="5")
    w.api_on = A.ensure_admin(w.on)
    w.api_off = A.ensure_admin(w.off, create=False)
    w.api_small = A.ensure_admin(w.small, create=False)
    w.alpha = w.api_on.create_project("alpha")
    w.xp = w.api_on.create_project("xp")
    for name in STORED:
        w.api_on.create_robot(name, A.perm("p", "pull"))
    for name in ("ci", "x-push", "deploy"):
        w.api_on.create_robot(name, A.perm("alpha", "pull"), level="project")
    for name in ("ci", "mix"):
        w.api_on.create_robot(name, A.perm("xp", "pull"), level="project")
    for name in UPPER:
        w.on.sql("INSERT INTO robots (name, level, secret_hash, duration, expires_at)"
                 " VALUES ('%s', 'system', 'x', -1, -1)" % name)
    w.total = len(STORED) + len(UPPER) + 5
    for d in (w.on, w.off, w.small):
        d.sync()
    return w


def listing(api, params):
    items, r = api.robots({k: str(v) for k, v in params.items()})
    return [(x["id"], x["name"]) for x in items], A.total_count(r)


QUERIES = [None, "name=~x", "name=~-", "name=~CI", "name=~ci", "name=~X", "name=~", "name=x",
           "name=nosuch", "Level=project", "Level=system", "name=~x,Level=project",
           "name=~i,Level=system"]


def test_on_off_and_standing_aside_answer_alike(world):
    w = world
    qs = QUERIES + ["ProjectID=%d" % w.alpha["project_id"],
                    "ProjectID=%d,name=~i" % w.xp["project_id"]]
    checked = 0
    for q, sort, (page, size) in itertools.product(
            qs, [None, "name", "-name"], [(1, 100), (1, 3), (2, 3), (3, 4), (9, 3)]):
        params = {"page": page, "page_size": size}
        if q is not None:
            params["q"] = q
        if sort is not None:
            params["sort"] = sort
        want = listing(w.api_off, params)
        assert listing(w.api_on, params) == want, params
        assert listing(w.api_small, params) == want, params
        checked += 1
    assert checked == 15 * 3 * 5


def test_names_sort_bytewise(world):
    w = world
    got, total = listing(w.api_on, {"page_size": 100})
    stored = [n[len("robot$"):] for _, n in got]
    assert total == w.total
    assert stored == sorted(stored, key=lambda s: s.encode())
    assert stored[0] == "CI" and stored.index("Zeta") < stored.index("a1b2")
    rev, _ = listing(w.api_on, {"page_size": 100, "sort": "-name"})
    assert rev == list(reversed(got))


def test_search_finds_what_a_substring_search_finds(world):
    w = world
    got, total = listing(w.api_on, {"page_size": 100, "q": "name=~x"})
    stored = [n[len("robot$"):] for _, n in got]
    assert stored == sorted([s for s in STORED + UPPER if "x" in s] +
                            ["alpha+x-push", "xp+ci", "xp+mix"], key=lambda s: s.encode())
    assert total == len(stored)


def test_own_changes_are_listed_at_once(world):
    w = world
    q = {"page_size": 100, "q": "name=~fresh"}
    assert listing(w.api_on, q) == ([], 0)
    made = w.api_on.create_robot("fresh1", A.perm("p", "pull"))
    assert listing(w.api_on, q) == ([(made["id"], made["name"])], 1)
    w.api_on.delete_robot(made["id"])
    assert listing(w.api_on, q) == ([], 0)
    # a project's deletion takes its robots along
    proj = w.api_on.create_project("gone")
    w.api_on.create_robot("fresh2", A.perm("gone", "pull"), level="project")
    assert listing(w.api_on, q)[1] == 1
    w.api_on.delete_project(proj["project_id"])
    assert listing(w.api_on, q) == ([], 0)


def test_other_processes_changes_are_listed_after_their_notify(world):
    w = world
    q = {"page_size": 100, "q": "name=~other"}
    assert listing(w.api_on, q) == ([], 0)
    # the CLI (its helper waits for the NOTIFY to reach the instances: sync())
    w.on.cli("robot", "create", "otherproc", "--project", "p:pull")
    got, total = listing(w.api_on, q)
    assert total == 1 and got[0][1] == "robot$otherproc"
    # another instance's API
    made = w.api_off.create_robot("otherinst", A.perm("p", "pull"))
    w.on.sync()
    assert listing(w.api_on, q)[1] == 2
    w.on.cli("robot", "delete", "otherproc")
    w.api_off.delete_robot(made["id"])
    w.on.sync()
    assert listing(w.api_on, q) == ([], 0)


def test_more_changes_than_it_tracks_reload_it(world):
    w = world
    q = {"page_size": 5, "q": "name=~bulk"}
    assert listing(w.api_on, q) == ([], 0)
    w.on.sql("INSERT INTO robots (name, level, secret_hash, duration, expires_at)"
             " SELECT 'bulk' || g, 'system', 'x', -1, -1 FROM generate_series(1, 1500) g")
    assert listing(w.api_on, q) == listing(w.api_off, q)
    assert listing(w.api_on, q)[1] == 1500
    w.on.sql("DELETE FROM robots WHERE name LIKE 'bulk%'")
    assert listing(w.api_on, q) == ([], 0)


def silently(d, statement):
    """Triggers off: no NOTIFY, as a restore or logical replication would (so nothing to
    wait for either: d.pg.psql, not d.sql)."""
    d.pg.psql(d.db, "SET session_replication_role = replica; %s" % statement)


def ghost(d, name):
    silently(d, "INSERT INTO robots (name, level, secret_hash, duration, expires_at)"
                " VALUES ('%s', 'system', 'x', -1, -1)" % name)


def test_a_silent_change_is_seen_after_the_ttl(dockhand_factory):
    ttl = 2.0
    d = dockhand_factory(DOCKHAND_CACHE_TTL_MS=str(int(ttl * 1000)))
    api = A.ensure_admin(d)
    q = {"q": "name=~ghost"}
    assert listing(api, q) == ([], 0)
    loaded = time.monotonic()
    ghost(d, "ghost1")
    # The directory still answers from memory (which shows it is used), unless the machine
    # was so slow that the TTL is nearly over.
    if time.monotonic() - loaded < ttl / 2:
        assert listing(api, q) == ([], 0)
    deadline = loaded + ttl + 3
    while listing(api, q)[1] != 1:
        assert time.monotonic() < deadline, "a silent insert still unlisted after the TTL"
        time.sleep(0.1)


def test_sighup_and_a_dropped_listener_reload_it(dockhand_factory):
    d = dockhand_factory()  # the default TTL: minutes
    api = A.ensure_admin(d)
    q = {"q": "name=~ghost"}
    assert listing(api, q) == ([], 0)
    ghost(d, "ghost1")
    assert listing(api, q) == ([], 0)  # memory, for minutes
    d.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while listing(api, q)[1] != 1:
        assert time.monotonic() < deadline, "SIGHUP did not reload the robot directory"
        time.sleep(0.05)

    def listener():
        return d.sql("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                     " AND application_name = 'dockhand-listen'").strip()

    old = listener()
    assert old
    d.sql("SELECT pg_terminate_backend(%s)" % old)
    ghost(d, "ghost2")  # while nobody listens, and silently
    deadline = time.monotonic() + 10
    while listener() in ("", old):
        assert time.monotonic() < deadline, "the listener did not reconnect"
        time.sleep(0.05)
    assert listing(api, q)[1] == 2

