#!/usr/bin/env python3
"""Starts what the browser suite drives: a private PostgreSQL cluster and one `dockhand serve`
on a fresh, migrated database (project "p", administrator alice), with the suites' helpers
(tests/helpers). Prints one JSON line — url, admin, password, dsn, db, bin, env (the
DOCKHAND_* settings, for the CLI), service, log — then waits until standard input closes,
stops both (dockhand must exit 0) and exits. A test file runs one of these for itself."""

import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.dont_write_bytecode = True

from helpers import api, pg as pgmod  # noqa: E402
from helpers import dockhand as dh  # noqa: E402


def main():
    cluster = pgmod.PgCluster("browser")
    tmp = tempfile.mkdtemp(prefix="dockhand-browser-")
    factory = None
    status = 0
    try:
        cluster.start()
        factory = dh.Factory(cluster, tmp)
        d = factory(DOCKHAND_LOG_LEVEL="info")
        api.ensure_admin(d)
        print(json.dumps({
            "url": d.url,
            "admin": api.ADMIN,
            "password": api.ADMIN_PASSWORD,
            "dsn": cluster.dsn(d.db),
            "psql": os.path.join(cluster.bindir, "psql"),
            "db": d.db,
            "bin": d.bin,
            "env": d.env,
            "service": d.env["DOCKHAND_SERVICE"],
            "log": d.log_path,
        }), flush=True)
        sys.stdin.read()  # until the test file closes our stdin (or exits)
    except BaseException as e:  # noqa: BLE001 - reported, then the cleanup below runs
        print(json.dumps({"error": str(e)}), flush=True)
        status = 1
    finally:
        try:
            if factory:
                factory.close()
        except Exception as e:  # an unclean exit of dockhand fails the file
            print("dockhand: %s" % e, file=sys.stderr, flush=True)
            status = 1
        cluster.destroy()
        if not os.environ.get("DOCKHAND_TEST_KEEP"):
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
