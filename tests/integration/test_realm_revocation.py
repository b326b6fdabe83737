"""Changes to robots, projects and settings take effect at the next token request,
on every instance sharing the database (docs/design.md §2.4, §3.8, §4.4)."""

import time

import pytest

from helpers import realm
from helpers.jwtutil import granted

APP = "repository:p/app:pull,push"


def login(d, robot, secret=None, method="GET"):
    return d.token(method=method, auth=(robot["name"], secret or robot["secret"]), scopes=[APP])


def ok(d, robot, secret=None, method="GET"):
    _, claims = realm.token_ok(d, login(d, robot, secret, method), sub=robot["name"])
    assert granted(claims, "repository", "p/app") == ["pull", "push"]
    return claims


def refused(d, robot, secret=None):
    realm.unauthorized(d, login(d, robot, secret, "GET"))
    realm.unauthorized(d, login(d, robot, secret, "POST"))


def refresh_token_of(d, robot):
    r = d.token(method="POST", auth=(robot["name"], robot["secret"]), access_type="offline")
    return realm.token_ok(d, r, refresh=True)[0]["refresh_token"]


def refresh_ok(d, robot, rt):
    r = d.token(method="POST", grant_type="refresh_token", refresh_token=rt, scopes=[APP])
    realm.token_ok(d, r, sub=robot["name"])
    r = d.token(auth=(robot["name"], rt), scopes=[APP])
    realm.token_ok(d, r, sub=robot["name"])


def refresh_refused(d, robot, rt):
    realm.unauthorized(d, d.token(method="POST", grant_type="refresh_token", refresh_token=rt,
                                  scopes=[APP]))
    realm.unauthorized(d, d.token(auth=(robot["name"], rt), scopes=[APP]))


def eventually(check, timeout=1.0, what="condition"):
    """Polls check() (which raises AssertionError while not yet true) for timeout s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise AssertionError("%s not seen within %.1f s" % (what, timeout))
            time.sleep(0.02)


def test_disable_and_enable(dockhand):
    d = dockhand
    robot = d.create_robot("switch")
    ok(d, robot)
    ok(d, robot, method="POST")
    rt = refresh_token_of(d, robot)
    refresh_ok(d, robot, rt)
    d.cli("robot", "disable", str(robot["id"]))
    refused(d, robot)
    refresh_refused(d, robot, rt)
    d.cli("robot", "enable", str(robot["id"]))
    ok(d, robot)
    ok(d, robot, method="POST")


def test_delete(dockhand):
    d = dockhand
    robot = d.create_robot("gone")
    ok(d, robot)
    rt = refresh_token_of(d, robot)
    d.cli("robot", "delete", str(robot["id"]))
    refused(d, robot)
    refresh_refused(d, robot, rt)
    # a new robot of the same name is another robot: the old secret does not work
    again = d.create_robot("gone")
    assert again["name"] == robot["name"] and again["id"] != robot["id"]
    refused(d, again, robot["secret"])
    refresh_refused(d, again, rt)
    ok(d, again)


def test_refresh_secret_random(dockhand):
    d = dockhand
    robot = d.create_robot("rotate")
    ok(d, robot)
    rt = refresh_token_of(d, robot)
    out = d.refresh_secret(robot["id"])
    new = out["secret"]
    assert new != robot["secret"] and len(new) == 32 and new.isalnum()
    refused(d, robot)
    ok(d, robot, new)
    refresh_refused(d, robot, rt)
    rt2 = refresh_token_of(d, dict(robot, secret=new))
    refresh_ok(d, robot, rt2)


def test_refresh_secret_manual(dockhand):
    d = dockhand
    robot = d.create_robot("manual")
    ok(d, robot)
    rt = refresh_token_of(d, robot)
    manual = "Manual-Secret-9x"
    d.refresh_secret(robot["id"], manual)
    refused(d, robot)
    refresh_refused(d, robot, rt)
    ok(d, robot, manual)
    ok(d, robot, manual, method="POST")


def test_permission_change(dockhand):
    d = dockhand
    robot = d.create_robot("narrowed")
    ok(d, robot)
    d.cli("robot", "update", str(robot["id"]), "--project", "p:pull")
    _, claims = realm.token_ok(d, login(d, robot), sub=robot["name"])
    assert granted(claims, "repository", "p/app") == ["pull"]
    d.cli("robot", "update", str(robot["id"]), "--all-projects", "pull,push,delete")
    _, claims = realm.token_ok(d, login(d, robot), sub=robot["name"])
    assert granted(claims, "repository", "p/app") == ["pull", "push"]  # asked pull,push


def test_unknown_then_created(dockhand):
    d = dockhand
    realm.unauthorized(d, d.token(auth=("robot$soon", "Whatever123")))
    robot = d.create_robot("soon")
    ok(d, robot)


def test_expiry_is_checked_at_every_request(dockhand):
    d = dockhand
    robot = d.create_robot("ephemeral")
    until = int(time.time()) + 3
    d.sql("UPDATE robots SET expires_at = %d WHERE id = %d; NOTIFY dockhand, 'robot:%d'"
          % (until, int(robot["id"]), int(robot["id"])))
    r = login(d, robot)
    assert r.status_code == 200, realm.show(r)
    body = r.json()
    claims = d.decode(body["token"])
    assert claims["exp"] <= until, "token outlives its robot: %r > %d" % (claims["exp"], until)
    assert body["expires_in"] <= until - claims["iat"]
    r = d.token(method="POST", auth=(robot["name"], robot["secret"]), access_type="offline")
    assert r.status_code == 200, realm.show(r)
    rt = r.json()["refresh_token"]
    deadline = time.monotonic() + 10
    while login(d, robot).status_code == 200:
        assert time.monotonic() < deadline, "still logging in 7 s after expiry"
        time.sleep(0.2)
    assert time.time() >= until - 1
    refused(d, robot)
    refresh_refused(d, robot, rt)


def test_raising_duration_revives_an_expired_robot(dockhand):
    d = dockhand
    robot = d.create_robot("revived", duration=1)
    d.sql("UPDATE robots SET expires_at = extract(epoch FROM now())::bigint - 10 WHERE id = %d;"
          " NOTIFY dockhand, 'robot:%d'" % (int(robot["id"]), int(robot["id"])))
    refused(d, robot)
    d.cli("robot", "update", str(robot["id"]), "--duration", "30")
    claims = ok(d, robot)
    exp_at = int(d.sql("SELECT expires_at FROM robots WHERE id = %d" % int(robot["id"])))
    assert exp_at > time.time() + 29 * 86400
    assert claims["exp"] <= exp_at


def test_prefix_change(dockhand_factory):
    d = dockhand_factory()
    robot = d.create_robot("builder")
    assert robot["name"] == "robot$builder"
    ok(d, robot)
    rt = refresh_token_of(d, robot)
    d.config_set("robot_name_prefix", "bot-")
    refused(d, robot)
    renamed = dict(robot, name="bot-builder")
    ok(d, renamed)
    ok(d, renamed, method="POST")
    r = d.token(method="POST", grant_type="refresh_token", refresh_token=rt, scopes=[APP])
    _, claims = realm.token_ok(d, r, sub="bot-builder")
    fresh = d.create_robot("fresh")
    assert fresh["name"] == "bot-fresh"
    ok(d, fresh)
    realm.unauthorized(d, login(d, dict(fresh, name="robot$fresh")))
    d.config_set("robot_name_prefix", "robot$")
    ok(d, robot)
    refused(d, renamed)


def test_legacy_robots_keep_the_old_prefix(dockhand_factory):
    d = dockhand_factory()
    old = d.create_robot("imported")
    d.sql("UPDATE robots SET legacy = true WHERE id = %d" % int(old["id"]))
    ok(d, old)
    d.config_set("robot_name_prefix", "bot-")
    ok(d, old)  # still robot$imported
    refused(d, dict(old, name="bot-imported"))


@pytest.fixture
def pair(dockhand_factory):
    a = dockhand_factory()
    b = dockhand_factory(db=a.db)
    assert b.db == a.db and b.url != a.url
    return a, b


def test_two_instances_see_each_others_changes(pair):
    a, b = pair
    robot = a.create_robot("shared")
    for d in (a, b):
        ok(d, robot)
    rt = refresh_token_of(a, robot)
    refresh_ok(b, robot, rt)

    a.cli("robot", "disable", str(robot["id"]))
    refused(a, robot)
    eventually(lambda: refused(b, robot), what="disable on the other instance")
    eventually(lambda: refresh_refused(b, robot, rt), what="refresh token dead on the other")

    b.cli("robot", "enable", str(robot["id"]))
    ok(b, robot)
    eventually(lambda: ok(a, robot), what="enable on the other instance")

    new = b.refresh_secret(robot["id"])["secret"]
    eventually(lambda: refused(a, robot), what="old secret on the other instance")
    ok(a, robot, new)

    b.cli("robot", "update", str(robot["id"]), "--project", "p:pull")
    def narrowed():
        _, claims = realm.token_ok(a, login(a, robot, new), sub=robot["name"])
        assert granted(claims, "repository", "p/app") == ["pull"]
    eventually(narrowed, what="permission change on the other instance")

    a.cli("robot", "delete", str(robot["id"]))
    eventually(lambda: refused(b, robot, new), what="delete on the other instance")


def test_two_instances_see_project_and_setting_changes(pair):
    a, b = pair
    a.create_project("shared")
    robot = a.create_robot("proj", projects={"shared": ["pull"]})
    scope = ["repository:shared/app:pull"]
    for d in (a, b):
        _, claims = realm.token_ok(d, d.token(auth=(robot["name"], robot["secret"]),
                                              scopes=scope))
        assert granted(claims, "repository", "shared/app") == ["pull"]
    a.cli("project", "delete", "shared")

    def gone():
        _, claims = realm.token_ok(b, b.token(auth=(robot["name"], robot["secret"]),
                                              scopes=scope))
        assert granted(claims, "repository", "shared/app") == []
    eventually(gone, what="project delete on the other instance")

    other = b.create_robot("other")
    a.config_set("token_expiration", 7)

    def seven_minutes():
        body, claims = realm.token_ok(b, b.token(auth=(other["name"], other["secret"])))
        assert claims["exp"] - claims["iat"] == 420 and body["expires_in"] == 420
    eventually(seven_minutes, what="token_expiration on the other instance")
