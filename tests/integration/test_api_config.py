"""GET/PUT /configurations and GET /permissions (docs/design.md §5; issue 3)."""

import pytest

from helpers import api as A
from helpers import realm, swagger

DAY = A.DAY


@pytest.fixture
def admin(dockhand_factory):
    """A fresh instance per test: settings are shared by everything on a database."""
    return A.ensure_admin(dockhand_factory())


@pytest.fixture(scope="module")
def shared_admin(dockhand):
    return A.ensure_admin(dockhand)


def test_defaults(shared_admin):
    got = shared_admin.config()
    assert got == A.CONFIG_DEFAULTS


def test_the_cli_and_the_api_agree(admin):
    admin.set_config(robot_token_duration=12, robot_name_prefix="svc.", token_expiration=9)
    d = admin.d
    assert int(d.config_get("robot_token_duration")) == 12
    assert d.config_get("robot_name_prefix") == "svc."
    assert int(d.config_get("token_expiration")) == 9
    d.config_set("token_expiration", 11)
    assert admin.config()["token_expiration"] == {"value": 11, "editable": True}


def test_put_one_key_leaves_the_others(admin):
    admin.set_config(token_expiration=5)
    assert admin.config() == dict(A.CONFIG_DEFAULTS,
                                  token_expiration={"value": 5, "editable": True})


def test_robot_token_duration_is_the_default_duration(admin):
    admin.set_config(robot_token_duration=7)
    created = admin.create_robot(A.new_name("seven"), A.perm("p", "pull"))
    assert abs(created["expires_at"] - (A.epoch(created["creation_time"]) + 7 * DAY)) <= 2
    assert admin.robot(created["id"])["duration"] == 7
    admin.set_config(robot_token_duration=-1)
    created = admin.create_robot(A.new_name("forever"), A.perm("p", "pull"))
    assert created["expires_at"] == -1
    assert admin.robot(created["id"])["duration"] == -1
    # an explicit duration wins
    created = admin.create_robot(A.new_name("three"), A.perm("p", "pull"), duration=3)
    assert admin.robot(created["id"])["duration"] == 3


def test_token_expiration_is_the_token_lifetime(admin):
    d = admin.d
    created = admin.create_robot(A.new_name("tok"), A.perm("p", "pull"), duration=-1)
    r = d.token(auth=(created["name"], created["secret"]))
    body, _ = realm.token_ok(d, r, sub=created["name"])
    assert body["expires_in"] == 30 * 60
    admin.set_config(token_expiration=5)
    r = d.token(auth=(created["name"], created["secret"]))
    body, claims = realm.token_ok(d, r, sub=created["name"])
    assert body["expires_in"] == 5 * 60
    assert claims["exp"] - claims["iat"] == 300


def test_prefix_applies_to_new_robots(admin):
    admin.set_config(robot_name_prefix="ci@")
    created = admin.create_robot("pfx", A.perm("p", "pull"), prefix="ci@")
    assert created["name"] == "ci@pfx"
    assert A.can_login(admin.d, "ci@pfx", created["secret"])


@pytest.mark.parametrize("body", [
    {"robot_token_duration": 0},
    {"robot_token_duration": -2},
    {"robot_token_duration": "30"},
    {"robot_token_duration": 1.5},
    {"robot_token_duration": True},
    {"robot_token_duration": None},
    {"robot_token_duration": 36501},
    {"token_expiration": 0},
    {"token_expiration": -1},
    {"token_expiration": 1441},
    {"token_expiration": "5"},
    {"robot_name_prefix": ""},
    {"robot_name_prefix": 5},
    {"robot_name_prefix": None},
    {"robot_name_prefix": "has space"},
    {"robot_name_prefix": "co:lon"},
    {"robot_name_prefix": "x" * 65},
    {"robot_name_prefix": "tab\t"},
    {"robot_name_prefix": "nul\u0000"},
    {"robot_name_prefix": "é$"},
    {"unknown_key": 1},
    {"auth_mode": "db_auth"},
    {"robot_token_duration": 7, "unknown_key": 1},
    {"robot_token_duration": 7, "token_expiration": 0},
    {"robot_name_prefix": "ok-", "robot_token_duration": "x"},
    {"token_expiration": {"value": 5}},
], ids=lambda b: ",".join("%s=%r" % kv for kv in b.items())[:60])
def test_invalid_values_are_400_and_change_nothing(shared_admin, body):
    before = shared_admin.config()
    A.bad_request(shared_admin.put("/configurations", json=body))
    assert shared_admin.config() == before


@pytest.mark.parametrize("raw", ["", "{", "[]", "null", "5", "\"robot_name_prefix\"",
                                 "[{\"token_expiration\": 5}]"])
def test_malformed_bodies_are_400(shared_admin, raw):
    before = shared_admin.config()
    A.bad_request(shared_admin.put("/configurations", data=raw))
    assert shared_admin.config() == before


@pytest.mark.parametrize("key,value", [
    ("robot_token_duration", 1), ("robot_token_duration", 36500),
    ("robot_token_duration", -1), ("token_expiration", 1), ("token_expiration", 1440),
    ("robot_name_prefix", "x"), ("robot_name_prefix", "y" * 64),
    ("robot_name_prefix", "robot$"), ("robot_name_prefix", "svc_acct."),
])
def test_limits_accepted(admin, key, value):
    admin.set_config(**{key: value})
    assert admin.config()[key] == {"value": value, "editable": True}


def test_permissions_catalogue(shared_admin):
    r = shared_admin.get("/permissions")
    body = A.expect(r, 200, "Permissions")
    assert set(body) == {"system", "project"}, body
    for scope in ("system", "project"):
        for item in body[scope]:
            swagger.validate("Permission", item)
            assert set(item) == {"resource", "action"}, item
    project = [(p["resource"], p["action"]) for p in body["project"]]
    system = [(p["resource"], p["action"]) for p in body["system"]]
    assert len(project) == len(set(project)) and len(system) == len(set(system)), body
    assert set(project) == A.PROJECT_PERMISSIONS, sorted(set(project) ^ A.PROJECT_PERMISSIONS)
    assert set(system) == A.PROJECT_PERMISSIONS | A.SYSTEM_ONLY_PERMISSIONS, \
        sorted(set(system) ^ (A.PROJECT_PERMISSIONS | A.SYSTEM_ONLY_PERMISSIONS))


def test_every_listed_permission_is_grantable(shared_admin):
    """What /permissions lists, POST /robots accepts (project rows on a project,
    system-only rows as kind system)."""
    body = A.expect(shared_admin.get("/permissions"), 200, "Permissions")
    project = [(p["resource"], p["action"]) for p in body["project"]]
    system_only = [(p["resource"], p["action"]) for p in body["system"]
                   if (p["resource"], p["action"]) not in set(project)]
    created = shared_admin.create_robot(
        A.new_name("cat"), A.perm("p", *project),
        {"kind": "system", "namespace": "/", "access": A.access(*system_only)})
    robot = shared_admin.robot(created["id"])
    got = set()
    for p in robot["permissions"]:
        got |= {(a["resource"], a["action"]) for a in p["access"]}
    assert got == set(project) | set(system_only)
