"""Every secret the suites create, so a final test can prove none reached a log.

Registered: robot secrets (create and refresh-secret, generated or manual), the
base64 of `name:secret` as it travels in an Authorization header, refresh tokens.
"""

import base64

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
