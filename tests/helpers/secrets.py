"""Every secret the suites create, so a final test can prove none reached a log.

Registered: robot secrets (create and refresh-secret, generated or manual), the
base64 of `name:secret` as it travels in an Authorization header, refresh tokens,
administrator passwords, session and CSRF tokens.

With DOCKHAND_TEST_ARTIFACTS set (scripts/test sets it), what the final grep
(tests/secrets/test_no_secret_anywhere.py) needs is also kept under that directory,
by every pytest process of both builds: secrets/<pid>.jsonl (each secret registered),
bodies/<pid>.jsonl (every 4xx/5xx body the helpers received), logs/ (every dockhand
server and CLI log and PostgreSQL log, copied when the session's clusters go away) and
audit/ (every database's audit_log rows, dumped then).
"""

import base64
import json
import os
import shutil
import uuid

_SECRETS = set()
ARTIFACTS = os.environ.get("DOCKHAND_TEST_ARTIFACTS") or None


def _keep(kind, value):
    if not ARTIFACTS:
        return
    d = os.path.join(ARTIFACTS, kind)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "%d.jsonl" % os.getpid()), "a", encoding="utf-8") as f:
        f.write(json.dumps(value) + "\n")


def _add(value):
    if value not in _SECRETS:
        _SECRETS.add(value)
        _keep("secrets", value)


def remember(secret, login=None):
    """Registers a secret (and, with login, its Basic-auth encoding)."""
    if not secret or len(secret) < 8:
        return
    _add(secret)
    if login is not None:
        _add(base64.b64encode(("%s:%s" % (login, secret)).encode()).decode())


def keep_error_body(r):
    """Keeps the body of a 4xx/5xx requests.Response for the final grep."""
    if ARTIFACTS and r is not None and r.status_code >= 400 and r.content:
        _keep("bodies", {"status": r.status_code, "url": r.url,
                         "body": r.content.decode("utf-8", "replace")})


def keep_file(path):
    """Copies a log file for the final grep (a fresh name: paths repeat across runs)."""
    if not ARTIFACTS or not path or not os.path.exists(path):
        return
    d = os.path.join(ARTIFACTS, "logs")
    os.makedirs(d, exist_ok=True)
    shutil.copyfile(path, os.path.join(d, "%s-%s" % (uuid.uuid4().hex[:12],
                                                     os.path.basename(path))))


def keep_dockhand_logs():
    """Copies every dockhand server and CLI log of this process: at the session's end,
    when every instance has stopped."""
    from helpers import dockhand as dh
    for d in dh.INSTANCES:
        keep_file(d.log_path)
        keep_file(d.cli_log_path)


def keep_cluster(cluster):
    """Dumps every database's audit_log rows of a running cluster and copies its log."""
    if not ARTIFACTS:
        return
    if cluster.running:
        try:
            dbs = cluster.psql("postgres", "SELECT datname FROM pg_database WHERE NOT "
                                           "datistemplate").split()
            d = os.path.join(ARTIFACTS, "audit")
            os.makedirs(d, exist_ok=True)
            for db in dbs:
                if not cluster.psql(db, "SELECT to_regclass('public.audit_log')").strip():
                    continue
                rows = cluster.psql(db, "SELECT to_jsonb(a)::text FROM audit_log a")
                with open(os.path.join(d, "%s-%s.jsonl" % (uuid.uuid4().hex[:12], db)),
                          "w", encoding="utf-8") as f:
                    f.write(rows)
        except Exception as e:  # a cluster a test broke on purpose: say so, keep going
            _keep("notes", "audit of %s not dumped: %s" % (cluster.root, e))
    keep_file(cluster.log_path)


def all_secrets():
    return sorted(_SECRETS)


def scan_logs(found):
    """Reads every log the suites produced (each dockhand's server and CLI log, each
    PostgreSQL cluster's) and returns (logs read, {path: text}, leak lines for found)."""
    from helpers import dockhand as dh
    from helpers import pg as pgmod

    paths = []
    for d in dh.INSTANCES:
        paths += [d.log_path, d.cli_log_path]
    for c in pgmod.CLUSTERS:
        paths.append(c.log_path)
    texts, leaks = {}, []
    for path in paths:
        if not os.path.exists(path):
            continue
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        texts[path] = text
        for s in found:
            if s in text:
                line = next(l for l in text.splitlines() if s in l)
                leaks.append("%s: %s" % (path, line[:300]))
    return texts, leaks
