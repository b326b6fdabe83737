"""The audit log loses nothing it promised to keep (issue 13, 3b): one instance saturated
with the audit on, its writer held up by a lock on audit_log (a small
DOCKHAND_AUDIT_QUEUE_MAX makes the queue overflow at once), and after the drain the tokens
issued (counted here) compared with the audit rows (counted in the database):

- block (the default): equal; the requests that found no room within
  DOCKHAND_AUDIT_BLOCK_MS got 503 and no token, counted in the metrics; the event loop kept
  serving meanwhile;
- spill: equal, through the spill file; after kill -9 with records in the file, a restart
  replays them exactly once, and a replay offset already committed (a crash between the
  COPY's commit and emptying the file) is not replayed again;
- drop: the dropped count in the metrics and in the log equals the difference;
- PostgreSQL restarted under load: the records queued meanwhile are written after.
"""

import os
import re
import shutil
import subprocess
import threading
import time

import pytest
import requests

from helpers.pg import PgCluster

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*) (\S+)$')
DRAIN_TIMEOUT = 60


def metrics(d):
    r = requests.get(d.metrics_url, timeout=10)
    assert r.status_code == 200, r.text
    out = {}
    for line in r.text.splitlines():
        m = SAMPLE.match(line)
        if m and m.group(1).startswith("dockhand_audit_"):
            out[m.group(1)] = int(float(m.group(2)))
    return out


def rows(d, prefix):
    return int(d.sql("SELECT count(*) FROM audit_log WHERE operation = 'issue_token'"
                     " AND request_id LIKE '%s-%%'" % prefix).strip())


def distinct_rows(d, prefix):
    return int(d.sql("SELECT count(DISTINCT request_id) FROM audit_log WHERE"
                     " operation = 'issue_token' AND request_id LIKE '%s-%%'" % prefix).strip())


def drain(d, timeout=DRAIN_TIMEOUT):
    """Waits until the writer has nothing queued or spilled and its written count is
    steady; returns the last metrics."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        m = metrics(d)
        if m["dockhand_audit_queue_depth"] == 0 and m["dockhand_audit_spill_bytes"] == 0:
            if last and last["dockhand_audit_rows_written_total"] == \
                    m["dockhand_audit_rows_written_total"]:
                return m
            last = m
        else:
            last = None
        assert time.monotonic() < deadline, "audit writer not drained: %r" % m
        time.sleep(0.3)


class LockHolder:
    """A psql session that holds ACCESS EXCLUSIVE on audit_log for `seconds`, or until
    release(): the writer's COPY waits, and its queue fills."""

    def __init__(self, d, seconds):
        pg = d.pg
        self.d = d
        self.released = False
        self.proc = subprocess.Popen(
            [pg._bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", pg.sockdir,
             "-p", str(pg.port), "-U", "postgres", "-d", d.db, "-c",
             "BEGIN; LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE;"
             " SELECT pg_sleep(%s); COMMIT;" % seconds],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env=dict(os.environ, PGAPPNAME="audit-lock-holder"))
        # The lock is taken once the session shows it.
        deadline = time.monotonic() + 10
        while d.sql("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                    " WHERE c.relname = 'audit_log' AND l.mode = 'AccessExclusiveLock'"
                    " AND l.granted").strip() != "1":
            assert time.monotonic() < deadline, "the lock was not taken"
            assert self.proc.poll() is None, self.proc.stderr.read()
            time.sleep(0.02)

    def wait(self):
        self.proc.wait(timeout=120)
        assert self.released or self.proc.returncode == 0, self.proc.stderr.read()

    def release(self):
        self.released = True
        self.d.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                   " WHERE application_name = 'audit-lock-holder'")
        self.wait()


class Load:
    """Token requests from `threads` threads (one robot, warm), each with a request id
    prefix-N, until stop() or `total` requests; counts the statuses."""

    def __init__(self, d, robot, prefix, threads=6, total=None):
        self.d, self.robot, self.prefix, self.total = d, robot, prefix, total
        self.lock = threading.Lock()
        self.n = 0
        self.status = {}
        self.slowest_503 = 0.0
        self.stopping = threading.Event()
        self.errors = []
        self.threads = [threading.Thread(target=self._run) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def _next(self):
        with self.lock:
            if self.stopping.is_set() or (self.total is not None and self.n >= self.total):
                return None
            self.n += 1
            return self.n

    def _run(self):
        s = requests.Session()
        auth = (self.robot["name"], self.robot["secret"])
        try:
            while True:
                i = self._next()
                if i is None:
                    return
                t0 = time.monotonic()
                r = s.get(self.d.url + "/service/token", auth=auth,
                          params={"service": "test-registry", "scope": "repository:p/a:pull"},
                          headers={"X-Request-Id": "%s-%d" % (self.prefix, i)}, timeout=30)
                took = time.monotonic() - t0
                with self.lock:
                    self.status[r.status_code] = self.status.get(r.status_code, 0) + 1
                    if r.status_code == 503:
                        self.slowest_503 = max(self.slowest_503, took)
                if r.status_code == 200:
                    assert "token" in r.json()
                elif r.status_code == 503:
                    assert "audit" in r.text, r.text
                    assert r.headers.get("Retry-After") == "1"
                else:
                    raise AssertionError("unexpected %d: %s" % (r.status_code, r.text))
        except Exception as e:  # reported by join()
            self.errors.append(repr(e))
        finally:
            s.close()

    def stop(self):
        self.stopping.set()
        return self.join()

    def join(self):
        for t in self.threads:
            t.join(timeout=120)
        assert not self.errors, self.errors[:3]
        return self.status


def make(dockhand_factory, **env):
    base = {"DOCKHAND_AUDIT_QUEUE_MAX": "100", "DOCKHAND_LOG_LEVEL": "info"}
    base.update(env)
    d = dockhand_factory(**base)
    robot = d.create_robot("audit-load")
    # Warm: the robot and its credential cached, so the lock on audit_log touches only
    # the writer.
    r = d.token(scopes=["repository:p/a:pull"], auth=(robot["name"], robot["secret"]))
    assert r.status_code == 200, r.text
    return d, robot


def test_drop_counts_each_lost_record_in_metrics_and_log(dockhand_factory):
    d, robot = make(dockhand_factory, DOCKHAND_AUDIT_OVERFLOW="drop")
    lock = LockHolder(d, 60)
    load = Load(d, robot, "drop", total=600)
    status = load.join()
    lock.release()
    m = drain(d)
    issued = status.get(200, 0)
    assert issued == 600, status  # drop never refuses a token
    got = rows(d, "drop")
    assert m["dockhand_audit_rows_dropped_total"] == issued - got
    assert issued - got >= 400, (issued, got)  # the queue held 100, the batch in flight <= 100
    d.stop()
    totals = [int(x) for x in re.findall(r"audit: \d+ record\(s\) dropped in the last [\d.]+ s"
                                         r" \(queue full\), (\d+) dropped in all",
                                         d.log_text())]
    assert totals and totals[-1] == issued - got, totals


def test_block_loses_nothing_and_answers_503_in_bounded_time(dockhand_factory):
    block_ms = 300
    d, robot = make(dockhand_factory, DOCKHAND_AUDIT_BLOCK_MS=str(block_ms))
    lock = LockHolder(d, 2.5)
    load = Load(d, robot, "block", threads=8)
    # The event loops keep serving while requests are parked: a health probe answers at
    # once (measured: a few ms; 1 s is the bound on a loaded machine).
    time.sleep(1.0)
    for _ in range(3):
        t0 = time.monotonic()
        assert requests.get(d.url + "/healthz", timeout=5).status_code == 200
        assert time.monotonic() - t0 < 1.0
    lock.wait()
    time.sleep(0.5)  # some requests after the release: they wait, then pass
    status = load.stop()
    m = drain(d)
    assert status.get(200, 0) == rows(d, "block") == distinct_rows(d, "block"), status
    assert status.get(503, 0) == m["dockhand_audit_block_timeouts_total"] > 0, (status, m)
    assert m["dockhand_audit_blocked_requests_total"] >= status[503]
    assert m["dockhand_audit_rows_dropped_total"] == 0
    # A 503 came after about block_ms (parked, then given up), not after the lock's
    # 2.5 s: the bound holds (measured ~0.31 s; 1.5 s allows for a loaded machine).
    assert load.slowest_503 < 1.5, load.slowest_503
    d.stop()
    assert re.search(r"audit: queue full \(100 records\): \d+ token request\(s\) waited for"
                     r" room .* answered 503 in all", d.log_text())


def spill_lines(path):
    with open(path, "rb") as f:
        data = f.read()
    head, _, body = data.partition(b"\n")
    assert head.startswith(b"dockhand-audit-spill 1 "), head
    return head.split(b" ")[2].decode(), len(head) + 1, body.count(b"\n"), data


def test_spill_survives_kill_and_replays_exactly_once(dockhand_factory, tmp_path):
    spill = str(tmp_path / "audit.spill")
    d, robot = make(dockhand_factory, DOCKHAND_AUDIT_OVERFLOW="spill",
                    DOCKHAND_AUDIT_SPILL=spill)
    lock = LockHolder(d, 60)
    status = Load(d, robot, "spill", total=400).join()
    assert status == {200: 400}, status
    m = metrics(d)
    spilled = m["dockhand_audit_records_spilled_total"]
    assert spilled >= 200, m  # all beyond the queue's 100 and the batch in flight (<= 100)
    file_id, hdr, lines, data = spill_lines(spill)
    assert lines == spilled
    assert m["dockhand_audit_spill_bytes"] == len(data) - hdr
    # kill -9 with the records in the file (the ones queued in memory are lost: the
    # documented crash window); then the database comes back.
    d.kill()
    lock.release()
    shutil.copy(spill, spill + ".copy")
    d.start()
    m = drain(d)
    assert m["dockhand_audit_records_replayed_total"] == spilled
    assert rows(d, "spill") == distinct_rows(d, "spill") == spilled
    # Emptied, with a new id, and the old id's offset row gone.
    new_id, _, left, _ = spill_lines(spill)
    assert left == 0 and new_id != file_id
    assert d.sql("SELECT count(*) FROM audit_spill_replay").strip() == "0"

    # A crash after the COPY of the first 10 lines committed, before the file was
    # emptied: the file as it was, its offset row saying 10 lines. A restart replays
    # only the rest.
    d.stop()
    shutil.copy(spill + ".copy", spill)
    ten = data.index(b"\n", hdr)
    for _ in range(9):
        ten = data.index(b"\n", ten + 1)
    d.sql("INSERT INTO audit_spill_replay (file_id, replayed) VALUES ('%s', %d)"
          % (file_id, ten + 1))
    d.sql("DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log"
          " WHERE request_id LIKE 'spill-%%' ORDER BY id DESC LIMIT %d)" % (spilled - 10))
    assert rows(d, "spill") == 10
    d.start()
    m = drain(d)
    assert m["dockhand_audit_records_replayed_total"] == spilled - 10
    assert rows(d, "spill") == distinct_rows(d, "spill") == spilled
    assert spill_lines(spill)[2] == 0
    assert "holds %d bytes of records from an earlier run" % (len(data) - hdr) in d.log_text()


def test_spill_file_refused_when_unusable(dockhand_factory, tmp_path):
    d = dockhand_factory(start=False, DOCKHAND_AUDIT_OVERFLOW="spill")
    p = d.spawn()
    assert p.wait(timeout=30) != 0
    assert "DOCKHAND_AUDIT_OVERFLOW=spill needs DOCKHAND_AUDIT_SPILL" in d.log_text()
    other = tmp_path / "notes.txt"
    other.write_text("someone's file\n")
    d.env["DOCKHAND_AUDIT_SPILL"] = str(other)
    p = d.spawn()
    assert p.wait(timeout=30) != 0
    assert "is not a dockhand audit spill file: refusing to use it" in d.log_text()
    assert other.read_text() == "someone's file\n"
    d.env["DOCKHAND_AUDIT_OVERFLOW"] = "sometimes"
    p = d.spawn()
    assert p.wait(timeout=30) == 2
    assert "DOCKHAND_AUDIT_OVERFLOW must be block, spill or drop" in d.log_text()
    d.reported = True  # its refusals were the point: no complaint at teardown


def test_postgres_restart_under_load_writes_queued_records_after(dockhand_factory):
    cluster = PgCluster("pgaudit").start()
    try:
        d = dockhand_factory(pg=cluster, DOCKHAND_LOG_LEVEL="info")
        robot = d.create_robot("audit-restart")
        r = d.token(scopes=["repository:p/a:pull"], auth=(robot["name"], robot["secret"]))
        assert r.status_code == 200
        load = Load(d, robot, "restart", threads=4)
        time.sleep(1.0)
        cluster.stop()
        time.sleep(1.5)  # tokens keep coming for the cached robot; records wait in memory
        waiting = metrics(d)["dockhand_audit_queue_depth"]
        cluster.start()
        time.sleep(1.0)
        status = load.stop()
        m = drain(d)
        assert waiting > 0
        assert status.get(200, 0) == rows(d, "restart") == distinct_rows(d, "restart"), status
        assert m["dockhand_audit_rows_dropped_total"] == 0
        d.stop()
    finally:
        cluster.destroy()


def test_spill_file_reaches_the_disk_while_the_database_waits(dockhand_factory, tmp_path):
    """Records appended to the spill file are flushed to the disk (fdatasync) within about
    a second, while the writer thread is still stuck on the locked table: a machine crash
    loses at most the last second of them. Watched with strace on the running instance."""
    strace = shutil.which("strace")
    assert strace, "strace is needed (scripts/install-deps installs it)"
    spill = str(tmp_path / "audit.spill")
    d, robot = make(dockhand_factory, DOCKHAND_AUDIT_OVERFLOW="spill",
                    DOCKHAND_AUDIT_SPILL=spill)
    out = str(tmp_path / "strace.txt")
    tracer = subprocess.Popen([strace, "-f", "-qq", "-y", "-e", "trace=fdatasync,fsync",
                               "-o", out, "-p", str(d.proc.pid)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    lock = None
    try:
        time.sleep(1.0)  # attached to every thread
        if tracer.poll() is not None:
            err = tracer.stderr.read().decode()
            if "Operation not permitted" in err:  # Yama's ptrace_scope, not as root
                pytest.skip("strace may not attach here: " + err.strip())
            raise AssertionError(err)
        lock = LockHolder(d, 60)
        status = Load(d, robot, "sync", total=300).join()
        assert status == {200: 300}, status
        spilled = metrics(d)["dockhand_audit_records_spilled_total"]
        assert spilled > 0
        t0 = time.monotonic()
        synced = False
        while time.monotonic() - t0 < 3.0 and not synced:
            time.sleep(0.1)
            with open(out) as f:
                synced = any("fdatasync(" in x and "audit.spill" in x for x in f)
        took = time.monotonic() - t0
        with open(out) as f:
            calls = [line for line in f if "audit.spill" in line]
        print("%d records spilled; flushed %.1f s after the load ended; %d flush(es) of the "
              "spill file" % (spilled, took, len(calls)))
        assert calls and all(" = 0" in line for line in calls), calls[:3]
        assert took < 2.5
    finally:
        if lock:
            lock.release()
        tracer.terminate()
        tracer.wait(timeout=10)
    drain(d)
    assert rows(d, "sync") == 300
