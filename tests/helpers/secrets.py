"""Every secret the suites create, so a final test can prove none reached a log.

Registered: robot secrets (create and refresh-secret, generated or manual), the
base64 of `name:secret` as it travels in an Authorization header, refresh tokens.
"""

import base64
import os

_SECRETS = set()


def remember(secret, login=None):
    """Registers a secret (and, with login, its Basic-auth encoding)."""
    if not secret or len(secret) < 8:
        return
    _SECRETS.add(secret)
    if login is not None:
        _SECRETS.add(base64.b64encode(("%s:%s" % (login, secret)).encode()).decode())


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
