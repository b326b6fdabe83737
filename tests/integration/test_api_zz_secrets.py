"""After the whole API suite (file order: test_api_* run before this): no secret the
API handed out or was handed — robot secrets, manual secrets, administrator passwords,
their Basic encodings — reached any dockhand log (server or CLI) or PostgreSQL's log.
The session-wide check (test_zz_secrets_not_logged) covers them again at the very end."""

from helpers import api as A
from helpers import secrets


def test_no_api_secret_in_any_log():
    found = A.seen_secrets()
    assert len(found) >= 20, "the API suites registered only %d secrets" % len(found)
    texts, leaks = secrets.scan_logs(found)
    assert texts, "no log to check"
    for path, text in texts.items():
        assert "pbkdf2-sha256$" not in text, "a password hash in %s" % path
    assert not leaks, "secrets in logs:\n" + "\n".join(leaks)
