"""GET /healthz (liveness: the process answers) and GET /readyz (readiness: the database
answers, the schema is this binary's, a signing key is loaded), as load balancers, compose
health checks and Kubernetes probes use them."""

import os
import signal
import subprocess
import time

import requests

from helpers import http
from helpers.pg import PgCluster

RECOVER_LIMIT_S = 10


def expected_schema(d):
    out = subprocess.run([d.bin, "version"], capture_output=True, text=True, check=True).stdout
    # "dockhand X (schema N)"
    return int(out.rsplit("schema", 1)[1].strip(" )\n"))


def readyz(d):
    r = requests.get(d.url + "/readyz", timeout=10)
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    return r.status_code, r.json()


def test_ready_names_schema_and_keys(dockhand):
    status, body = readyz(dockhand)
    assert status == 200, body
    assert body == {"status": "ready", "schema": expected_schema(dockhand), "keys": 1}
    assert int(dockhand.sql("SELECT max(version) FROM schema_migrations")) == body["schema"]


def test_head_answers_and_other_methods_are_404(dockhand):
    for path in ("/readyz", "/healthz"):
        r = requests.head(dockhand.url + path, timeout=10)
        assert r.status_code == 200 and r.content == b"", (path, r.status_code)
        for method in ("POST", "PUT", "DELETE"):
            r = http.request(dockhand.port, method, path)
            assert r.status_code == 404, (path, method, r.status_code)
    # Only the exact paths: nothing below them.
    assert requests.get(dockhand.url + "/readyz/x", timeout=10).status_code == 404


def test_database_down_is_not_ready_but_alive_then_ready_again(dockhand_factory):
    cluster = PgCluster("pgready").start()
    d = None
    try:
        d = dockhand_factory(pg=cluster)
        assert readyz(d)[0] == 200
        cluster.stop()
        status, body = readyz(d)
        assert status == 503, body
        assert body["status"] == "not ready" and body["failing"] == ["database"], body
        assert body["database"] == "unavailable" and body["keys"] == 1, body
        # Liveness does not depend on the database: a restart would not help.
        h = requests.get(d.url + "/healthz", timeout=10)
        assert h.status_code == 200 and h.json()["status"] == "ok", h.text

        cluster.start()
        started = time.monotonic()
        while readyz(d)[0] != 200:
            assert time.monotonic() - started < RECOVER_LIMIT_S, readyz(d)
            time.sleep(0.05)
        print("ready %.2f s after PostgreSQL was back" % (time.monotonic() - started))
        assert d.running
    finally:
        if d is not None:
            d.stop()
        cluster.destroy()


def test_schema_behind_the_binary_is_not_ready_until_migrated(dockhand_factory):
    d = dockhand_factory()
    want = expected_schema(d)
    name = d.sql("DELETE FROM schema_migrations WHERE version = %d RETURNING name" % want)
    try:
        status, body = readyz(d)
        assert status == 503, body
        assert body["failing"] == ["schema"], body
        assert body["schema"] == want - 1 and body["schema_wanted"] == want, body
        assert requests.get(d.url + "/healthz", timeout=10).status_code == 200
    finally:
        d.sql("INSERT INTO schema_migrations (version, name) VALUES (%d, '%s')" % (want, name))
    assert readyz(d) == (200, {"status": "ready", "schema": want, "keys": 1})


def test_failed_key_reload_keeps_the_keys_and_stays_ready(dockhand_factory):
    d = dockhand_factory()
    before = requests.get(d.url + "/keys/jwks.json", timeout=10).json()
    # A key without its certificate: the reload fails and the old ring stays.
    broken = os.path.join(d.keys_dir, "broken.key")
    with open(broken, "w") as f:
        f.write("not a key\n")
    try:
        d.signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "not reloaded" not in d.log_text():
            assert time.monotonic() < deadline, d.log_tail()
            time.sleep(0.05)
        status, body = readyz(d)
        assert status == 200 and body["keys"] == 1, body
        assert requests.get(d.url + "/keys/jwks.json", timeout=10).json() == before
    finally:
        os.unlink(broken)


def test_probes_that_pass_are_logged_at_debug_only(dockhand_factory):
    """Load balancers probe every few seconds: a passing probe is not an info line; a
    failing one is."""
    d = dockhand_factory()
    for _ in range(3):
        assert requests.get(d.url + "/readyz", timeout=10).status_code == 200
        assert requests.get(d.url + "/healthz", timeout=10).status_code == 200
    d.token()  # an ordinary request, logged at info, after the probes
    deadline = time.monotonic() + 5
    while "/service/token" not in d.log_text():
        assert time.monotonic() < deadline, d.log_tail()
        time.sleep(0.05)
    # The harness logs at debug: the probes' lines are there, at debug level.
    probes = [l for l in d.log_text().splitlines()
              if "GET /readyz 200" in l or "GET /healthz 200" in l]
    assert len(probes) >= 6, probes  # 6 here, and the harness's own wait for readiness
    assert all(" debug " in l for l in probes), probes

    want = expected_schema(d)
    name = d.sql("DELETE FROM schema_migrations WHERE version = %d RETURNING name" % want)
    try:
        assert requests.get(d.url + "/readyz", timeout=10).status_code == 503
    finally:
        d.sql("INSERT INTO schema_migrations (version, name) VALUES (%d, '%s')" % (want, name))
    deadline = time.monotonic() + 5
    while "GET /readyz 503" not in d.log_text():
        assert time.monotonic() < deadline, d.log_tail()
        time.sleep(0.05)
    failed = [l for l in d.log_text().splitlines() if "GET /readyz 503" in l]
    assert len(failed) == 1 and " info " in failed[0], failed


def test_rolling_upgrade_a_newer_schema_that_keeps_this_binary_working(dockhand_factory):
    """Rolling upgrades (README "Upgrades"): after the migration of a newer release that
    declares `-- oldest-binary-schema: N` with N at most this binary's schema, the
    instances of this release stay ready and keep serving, a new one starts and the CLI
    works. A newer migration that declares nothing (or a newer N) turns them not ready, a
    new one refuses to start and the CLI refuses; an older schema is refused as before."""
    d = dockhand_factory()
    want = expected_schema(d)
    bot = d.create_robot("rolling")
    # As the newer release's migrate records it: its number, its file, its declaration.
    d.sql("INSERT INTO schema_migrations (version, name, oldest_binary) "
          "VALUES (%d, '%03d_next.sql', %d)" % (want + 1, want + 1, want))
    try:
        assert readyz(d) == (200, {"status": "ready", "schema": want + 1, "keys": 1})
        r = d.token(["repository:p/app:pull"], auth=(bot["name"], bot["secret"]))
        assert r.status_code == 200, r.text
        other = dockhand_factory(db=d.db, keys_dir=d.keys_dir)
        assert ("database schema is at version %d, newer than this binary's %d"
                % (want + 1, want)) in other.log_text()
        assert readyz(other)[0] == 200
        other.stop()
        assert d.cli("robot", "list").returncode == 0

        # A second newer migration that declares nothing: this release can no longer use it.
        d.sql("INSERT INTO schema_migrations (version, name) VALUES (%d, '%03d_later.sql')"
              % (want + 2, want + 2))
        status, body = readyz(d)
        assert status == 503 and body["failing"] == ["schema"], body
        assert body["schema"] == want + 2 and body["schema_wanted"] == want, body
        p = d.cli("serve", check=False, timeout=15)
        assert p.returncode != 0, p
        assert ("database schema is at version %d, newer than this binary's %d and not usable "
                "by it" % (want + 2, want)) in p.stderr, p.stderr
        p = d.cli("robot", "list", check=False)
        assert p.returncode != 0 and "not usable by it" in p.stderr, p.stderr
        # Declaring a schema newer than this binary's is the same as declaring nothing.
        d.sql("UPDATE schema_migrations SET oldest_binary = %d WHERE version = %d"
              % (want + 1, want + 2))
        assert readyz(d)[0] == 503
        d.sql("UPDATE schema_migrations SET oldest_binary = %d WHERE version = %d"
              % (want - 1, want + 2))
        assert readyz(d) == (200, {"status": "ready", "schema": want + 2, "keys": 1})
    finally:
        d.sql("DELETE FROM schema_migrations WHERE version > %d" % want)
    assert readyz(d) == (200, {"status": "ready", "schema": want, "keys": 1})


def test_schema_table_of_an_older_release_without_the_oldest_binary_column(dockhand_factory):
    """A database last migrated by a release before `oldest_binary` existed: readiness
    still reads its version, and `migrate` adds the column (the rows of before keep NULL:
    only their own version's binaries)."""
    d = dockhand_factory()
    want = expected_schema(d)
    d.sql("ALTER TABLE schema_migrations DROP COLUMN oldest_binary")
    assert readyz(d) == (200, {"status": "ready", "schema": want, "keys": 1})
    assert d.cli("migrate").returncode == 0
    rows = d.sql("SELECT version || ':' || coalesce(oldest_binary::text, '-') "
                 "FROM schema_migrations ORDER BY version").split()
    assert rows and all(r.endswith(":-") for r in rows), rows
    assert readyz(d) == (200, {"status": "ready", "schema": want, "keys": 1})


def test_the_image_probe(dockhand_factory):
    """`dockhand probe [PATH]`, the image's HEALTHCHECK: GET PATH (default /readyz) at the
    address of DOCKHAND_LISTEN (a wildcard host becomes loopback); exit 0 on a 200, 1 on
    another status or no answer (one line on stderr saying which), 2 for a bad PATH."""
    d = dockhand_factory()
    assert d.cli("probe").returncode == 0
    assert d.cli("probe", "/healthz").returncode == 0
    p = d.cli("probe", env={"DOCKHAND_LISTEN": "0.0.0.0:%d" % d.port})
    assert p.returncode == 0
    p = d.cli("probe", "/nothing-here", check=False)
    assert p.returncode == 1 and "/nothing-here answered 404" in p.stderr, p.stderr
    p = d.cli("probe", "no-slash", check=False)
    assert p.returncode == 2 and "PATH must start with /" in p.stderr, p.stderr
    want = expected_schema(d)
    name = d.sql("DELETE FROM schema_migrations WHERE version = %d RETURNING name" % want)
    try:
        p = d.cli("probe", check=False)
        assert p.returncode == 1 and "/readyz answered 503" in p.stderr, p.stderr
        assert d.cli("probe", "/healthz").returncode == 0  # alive, not ready
    finally:
        d.sql("INSERT INTO schema_migrations (version, name) VALUES (%d, '%s')"
              % (want, name.strip()))
    d.stop()
    t0 = time.monotonic()
    p = d.cli("probe", check=False)
    assert p.returncode == 1 and "cannot connect to 127.0.0.1 port %d" % d.port in p.stderr, \
        p.stderr
    assert time.monotonic() - t0 < 3.5
