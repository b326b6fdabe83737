"""Secrets never reach a log (STYLE "Logging", docs/design.md §4.3 "Secrets").

Runs last (file order): after exercising every path that handles a secret here, it
greps the logs of every dockhand instance of the session (server and CLI stderr)
and of PostgreSQL for every secret, Basic credential and refresh token the suites
created (helpers.secrets).
"""

import pytest

from helpers import realm, secrets


def exercise(d):
    robot = d.create_robot("logcheck", projects={"p": ["pull", "push"]})
    auth = (robot["name"], robot["secret"])
    realm.token_ok(d, d.token(auth=auth, scopes=["repository:p/app:pull"], offline_token="true",
                              account=robot["name"], client_id="docker"))
    body, _ = realm.token_ok(d, d.token(method="POST", auth=auth, access_type="offline",
                                        scopes=["repository:p/app:push"]), refresh=True)
    rt = body["refresh_token"]
    realm.token_ok(d, d.token(method="POST", grant_type="refresh_token", refresh_token=rt,
                              scopes=["repository:p/app:pull"]))
    realm.token_ok(d, d.token(auth=(robot["name"], rt)))
    # one character off (a secret that ends in "Q" must not be "changed" to itself)
    off_by_one = robot["secret"][:-1] + ("R" if robot["secret"].endswith("Q") else "Q")
    for wrong in ("Wrong-Guess-0001", off_by_one, rt[:-3] + ("abc" if rt.endswith("xyz") else "xyz")):
        secrets.remember(wrong, robot["name"])
        realm.unauthorized(d, d.token(auth=(robot["name"], wrong)))
        realm.unauthorized(d, d.token(method="POST", auth=(robot["name"], wrong)))
    r = d.token(method="POST", auth=auth, scopes=["nocolon"])  # a 400 with a secret inside
    assert r.status_code == 400, realm.show(r)
    r = d.token(auth=auth, service="elsewhere")
    assert r.status_code == 400, realm.show(r)
    manual = "Logged-Never-1234"
    d.refresh_secret(robot["id"], manual)
    realm.token_ok(d, d.token(auth=(robot["name"], manual)))
    realm.unauthorized(d, d.token(auth=auth))  # the old one, now wrong
    rt2 = realm.token_ok(d, d.token(method="POST", auth=(robot["name"], manual),
                                    access_type="offline"), refresh=True)[0]["refresh_token"]
    d.refresh_secret(robot["id"])
    realm.unauthorized(d, d.token(method="POST", grant_type="refresh_token", refresh_token=rt2))
    d.cli("robot", "refresh-secret", str(robot["id"]), "--secret-stdin", input="short",
          check=False)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_exercise_secret_paths_at_debug_level(dockhand_factory, fmt):
    d = dockhand_factory(DOCKHAND_LOG_LEVEL="debug", DOCKHAND_LOG_FORMAT=fmt)
    exercise(d)
    d.stop()
    assert d.log_text().strip(), "a debug-level server logged nothing"


def test_no_secret_in_any_log():
    found = secrets.all_secrets()
    assert len(found) >= 10, "the secret registry is nearly empty: %d" % len(found)
    texts, leaks = secrets.scan_logs(found)
    assert texts, "no log to check"
    assert not leaks, "secrets in logs:\n" + "\n".join(leaks)
