"""A stalled transaction must not hang the admin API (issue 14, defect 4; README "Failure
behaviour"). The API threads connect with a lock timeout (DOCKHAND_DB_TIMEOUT_MS) and a
statement timeout, so a request that meets a held lock answers 503 within the timeout;
and the robot directory reads the database without holding its lock, so a list it can
answer from memory does not wait behind a list stuck in a database read.

Before the fix both API threads hung for as long as the lock was held: the first list
waited in the directory's reload with the directory's mutex held, the second waited for
the mutex."""

import subprocess
import threading
import time

from helpers import api as A

LOCK_WAIT_MS = 1000  # DOCKHAND_DB_TIMEOUT_MS of the instance: the API's lock timeout
TTL_MS = 100  # DOCKHAND_CACHE_TTL_MS: every list after this reloads the robot directory
ANSWER_WITHIN = LOCK_WAIT_MS / 1000 + 4  # seconds: the timeout plus a loaded machine's slack
HUNG = 20  # seconds after which a request counts as hung


class LockHolder:
    """A psql session that holds `LOCK TABLE ...` in an open transaction until release()."""

    def __init__(self, d, table, mode):
        pg = d.pg
        self.p = subprocess.Popen(
            [pg._bin("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", pg.sockdir,
             "-p", str(pg.port), "-U", "postgres", "-d", d.db],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.p.stdin.write("BEGIN;\nLOCK TABLE %s IN %s MODE;\nSELECT 'held';\n" % (table, mode))
        self.p.stdin.flush()
        line = self.p.stdout.readline().strip()  # psql answers once the lock is granted
        assert line == "held", (line, self.p.stderr.read() if self.p.poll() is not None else "")

    def release(self):
        if self.p.poll() is None:
            self.p.stdin.write("ROLLBACK;\n")
            self.p.stdin.close()
            self.p.wait(timeout=30)


def timed(fn):
    t0 = time.monotonic()
    r = fn()
    return r, time.monotonic() - t0


def waiting_backend(d, query_like):
    """Whether a session waits for a lock in a statement like query_like."""
    return d.sql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                 " AND wait_event_type = 'Lock' AND query LIKE '%s'" % query_like).strip() != "0"


def test_a_held_lock_answers_503_in_time_and_lists_from_memory_do_not_wait(dockhand_factory):
    d = dockhand_factory(DOCKHAND_DB_TIMEOUT_MS=str(LOCK_WAIT_MS), DOCKHAND_CACHE_TTL_MS=str(TTL_MS),
                         DOCKHAND_API_THREADS="2")
    api = A.ensure_admin(d)
    for name in ("stall-a", "stall-b"):
        api.create_robot(name, A.perm("p", "pull"))
    items, _ = api.robots({"q": "name=~stall"})
    assert sorted(x["name"] for x in items) == ["robot$stall-a", "robot$stall-b"]
    time.sleep(2 * TTL_MS / 1000)  # the directory's age passes the TTL: the next list reloads

    holder = LockHolder(d, "robots", "ACCESS EXCLUSIVE")
    stalled = {}
    try:
        # 1. A list whose directory reload meets the lock.
        def stalled_list():
            stalled["r"], stalled["t"] = timed(
                lambda: api.get("/robots", params={"q": "name=~stall"}, timeout=HUNG))

        t = threading.Thread(target=stalled_list)
        t.start()
        A.poll(lambda: waiting_backend(d, "SELECT id, name, level = %FROM robots LIMIT%")
               or not t.is_alive(), timeout=HUNG, what="the directory's reload waiting for the lock")
        assert t.is_alive(), "the reload did not wait for the lock: %r" % stalled

        # 2. Meanwhile, on the other API thread: a list the directory answers from memory
        # (no robot matches, so no robot row is read) does not wait for the stalled one.
        r, took = timed(lambda: api.get("/robots", params={"q": "name=~no-such-robot"},
                                        timeout=HUNG))
        assert A.expect(r, 200) == [] and A.total_count(r) == 0, A.show(r)
        assert t.is_alive(), "answered only after the stalled list: %.2f s" % took

        t.join(HUNG)
        assert not t.is_alive(), "the stalled list hung"
        A.expect_error(stalled["r"], 503, "UNAVAILABLE")
        assert stalled["t"] < ANSWER_WITHIN, stalled["t"]

        # 3. Anything else that needs the locked table: 503 within the lock timeout.
        r, took = timed(lambda: api.post("/robots", json=A.robot_body("stall-c", A.perm("p", "pull")),
                                         timeout=HUNG))
        A.expect_error(r, 503, "UNAVAILABLE")
        assert took < ANSWER_WITHIN, took
        assert "did not answer in time" in A.body_of(r)["errors"][0]["message"], A.show(r)
        r, took = timed(lambda: api.get("/robots", params={"q": "name=~stall"}, timeout=HUNG))
        A.expect_error(r, 503, "UNAVAILABLE")
        assert took < ANSWER_WITHIN, took
    finally:
        holder.release()
        if "t" in locals():
            t.join(HUNG)

    # The lock gone, everything works again, nothing half-done: stall-c was not created.
    items, _ = api.robots({"q": "name=~stall"})
    assert sorted(x["name"] for x in items) == ["robot$stall-a", "robot$stall-b"]
    api.create_robot("stall-c", A.perm("p", "pull"))
    items, _ = api.robots({"q": "name=~stall"})
    assert len(items) == 3


def test_a_list_missing_a_change_is_503_not_stale_and_the_change_is_kept(dockhand_factory):
    """A robot created through this instance is listed at once (read-your-writes): a list
    the directory cannot bring up to date answers 503, never a stale page from memory, and
    the change it could not read is read by the next list."""
    d = dockhand_factory(DOCKHAND_DB_TIMEOUT_MS=str(LOCK_WAIT_MS))  # TTL: minutes
    api = A.ensure_admin(d)
    api.create_robot("fresh-a", A.perm("p", "pull"))
    assert len(api.robots({"q": "name=~fresh"})[0]) == 1
    created = api.create_robot("fresh-b", A.perm("p", "pull"))  # pending in the directory
    holder = LockHolder(d, "robots", "ACCESS EXCLUSIVE")
    try:
        r, took = timed(lambda: api.get("/robots", params={"q": "name=~no-such-robot"},
                                        timeout=HUNG))
        A.expect_error(r, 503, "UNAVAILABLE")  # not a stale 200 from memory
        assert took < ANSWER_WITHIN, took
    finally:
        holder.release()
    items, _ = api.robots({"q": "name=~fresh"})
    assert sorted(x["id"] for x in items)[-1] == created["id"] and len(items) == 2
