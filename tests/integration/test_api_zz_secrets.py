"""After the whole API suite (file order: test_api_* run before this): no secret the
API handed out or was handed — robot secrets, manual secrets, administrator passwords,
their Basic encodings — reached any dockhand log (server or CLI) or PostgreSQL's log.
The session-wide check (test_zz_secrets_not_logged) covers them again at the very end."""

import os

from helpers import api as A
from helpers import dockhand as dh
from helpers import pg as pgmod


def test_no_api_secret_in_any_log():
    found = A.seen_secrets()
    assert len(found) >= 20, "the API suites registered only %d secrets" % len(found)
    paths = []
    for d in dh.INSTANCES:
        paths += [d.log_path, d.cli_log_path]
    for c in pgmod.CLUSTERS:
        paths.append(c.log_path)
    checked = 0
    leaks = []
    for path in paths:
        if not os.path.exists(path):
            continue
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        checked += 1
        for s in found:
            if s in text:
                line = next(l for l in text.splitlines() if s in l)
                leaks.append("%s: %s" % (path, line[:300]))
        assert "pbkdf2-sha256$" not in text, "a password hash in %s" % path
    assert checked, "no log to check"
    assert not leaks, "secrets in logs:\n" + "\n".join(leaks)
