"""Token lifetime: the token_expiration setting, capped by the robot's own expiry."""

import time

import pytest

from helpers import realm


def lifetime(d, auth=None, method="GET", **extra):
    body, claims = realm.token_ok(d, d.token(auth=auth, method=method, **extra))
    assert claims["exp"] - claims["iat"] == body["expires_in"]
    return body["expires_in"]


def test_default_lifetime_follows_the_setting(dockhand):
    d = dockhand
    minutes = int(d.config_get("token_expiration"))
    assert minutes >= 1
    robot = d.create_robot("default")
    assert lifetime(d) == minutes * 60
    assert lifetime(d, auth=(robot["name"], robot["secret"])) == minutes * 60
    assert lifetime(d, auth=(robot["name"], robot["secret"]), method="POST") == minutes * 60


def test_token_expiration_setting(dockhand_factory):
    d = dockhand_factory()
    robot = d.create_robot("timed")
    auth = (robot["name"], robot["secret"])
    r = d.token(method="POST", auth=auth, access_type="offline")
    rt = realm.token_ok(d, r, refresh=True)[0]["refresh_token"]
    d.config_set("token_expiration", 5)
    assert int(d.config_get("token_expiration")) == 5
    assert lifetime(d, auth=auth) == 300
    assert lifetime(d) == 300
    assert lifetime(d, auth=auth, method="POST") == 300
    assert lifetime(d, method="POST", grant_type="refresh_token", refresh_token=rt) == 300
    d.config_set("token_expiration", 1)
    assert lifetime(d, auth=auth) == 60
    d.restart()
    assert lifetime(d, auth=auth) == 60


def test_token_never_outlives_its_robot(dockhand_factory):
    d = dockhand_factory()
    d.config_set("token_expiration", 30)
    robot = d.create_robot("short")
    until = int(time.time()) + 120
    d.sql("UPDATE robots SET expires_at = %d WHERE id = %d; NOTIFY dockhand, 'robot:%d'"
          % (until, int(robot["id"]), int(robot["id"])))
    for method in ("GET", "POST"):
        body, claims = realm.token_ok(d, d.token(method=method,
                                                 auth=(robot["name"], robot["secret"])))
        assert claims["exp"] <= until, (claims, until)
        assert body["expires_in"] <= 120
    # a never-expiring robot gets the full lifetime
    forever = d.create_robot("forever", duration=-1)
    assert lifetime(d, auth=(forever["name"], forever["secret"])) == 1800


@pytest.mark.parametrize("value", ["0", "-1", "abc", "", "1.5", "99999999999999999999"])
def test_token_expiration_validation(dockhand, value):
    d = dockhand
    before = d.config_get("token_expiration")
    p = d.cli("config", "set", "token_expiration", value, check=False)
    assert p.returncode == 1, p
    assert p.stderr.strip()
    assert d.config_get("token_expiration") == before
