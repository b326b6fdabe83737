"""Fixtures for the integration and end-to-end suites.

- `pg` (session): a private PostgreSQL cluster (helpers.pg.PgCluster): temp dir,
  fsync off, unix socket only; as root, initdb/pg_ctl run as `postgres` via runuser.
  pg.dsn(db), pg.createdb(name), pg.psql(db, sql), pg.stop()/pg.start(), pg.log_path.
- `dockhand_factory` (session): dockhand_factory(**env) → a started `dockhand serve`
  (helpers.dockhand.Dockhand, "D") on a fresh, migrated database that holds one private
  project "p"; service test-registry, issuer test-issuer, 2 workers, fail limits 1000,
  DOCKHAND_PASSWORD_ITERATIONS 10000 (its minimum: refusals are cheap), log level debug. Keyword arguments: DOCKHAND_* settings (None removes one), db=
  (reuse a database, no migrate), pg= (another cluster), keys_dir=, alg= (fresh keys
  by `keygen --alg`), migrate=, start=False. Instances made during a test are stopped
  (and must exit 0) when the test ends; the others at the end of the session.
- `dockhand` (module): dockhand_factory() with the defaults.
- `oidc_server` (module): a test OIDC issuer (helpers.oidc_issuer.OidcServer: HTTPS with a
  CA made here, .ca_path for DOCKHAND_OIDC_CA_FILE).

D: .url .port .db .env .keys_dir .log_path .pg, .cli(*args, input=None, check=True),
.cli_json(*args), .create_project(name, public=False), .create_robot(name,
projects={"p": ["pull","push"]}, level="system", all_projects=None, duration=None,
catalog=False), .refresh_secret(id, secret=None), .config_get(k), .config_set(k, v),
.token(scopes=[], auth=None, method="GET", **extra) → requests.Response,
.decode(token) → verified claims, .decode_full(token), .keys(), .sql(statement),
.stop() (SIGTERM, exit 0 asserted), .start(), .restart().

On a failed test, the tail of every dockhand log it touched and of PostgreSQL's log
is attached to the report.
"""

import os

import pytest

from helpers import dockhand as dh
from helpers import pg as pgmod
from helpers import secrets


@pytest.fixture(scope="session")
def pg():
    cluster = pgmod.PgCluster("pg")
    try:
        cluster.start()
    except Exception:
        cluster.destroy()
        raise
    yield cluster
    secrets.keep_dockhand_logs()  # for the final grep (DOCKHAND_TEST_ARTIFACTS)
    cluster.destroy()


@pytest.fixture(scope="session")
def dockhand_bin():
    message = None
    try:
        return dh.binary()
    except dh.DockhandError as e:
        message = str(e)
    pytest.fail(message, pytrace=False)


@pytest.fixture(scope="session")
def dockhand_factory(pg, dockhand_bin, tmp_path_factory):
    factory = dh.Factory(pg, str(tmp_path_factory.mktemp("dockhand")))
    yield factory
    factory.close()


@pytest.fixture(scope="module")
def dockhand(dockhand_factory):
    d = dockhand_factory()
    yield d
    d.stop()


@pytest.fixture(scope="module")
def oidc_server(tmp_path_factory):
    from helpers.oidc_issuer import OidcServer
    s = OidcServer(str(tmp_path_factory.mktemp("oidc")))
    yield s
    s.close()


@pytest.fixture(autouse=True)
def _stop_instances_made_by_the_test():
    dh.PER_TEST = []
    yield
    made, dh.PER_TEST = dh.PER_TEST, None
    errors = []
    for d in made:
        try:
            d.stop()
        except Exception as e:
            errors.append(str(e))
    if errors:
        raise dh.DockhandError("\n\n".join(errors))


def pytest_runtest_setup(item):
    dh.CURRENT_TEST = item.nodeid


def pytest_runtest_teardown(item, nextitem):
    dh.CURRENT_TEST = item.nodeid


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    for d in dh.INSTANCES:
        if d.running or item.nodeid in d.touched_by:
            rep.sections.append(("dockhand log %s (%s)" % (d.url, rep.when), d.log_tail(60)))
    for c in list(pgmod.CLUSTERS):
        if os.path.exists(c.log_path):
            rep.sections.append(("postgresql log %s (%s)" % (c.root, rep.when),
                                 c.log_tail(40)))
