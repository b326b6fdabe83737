"""Who may use the admin API (docs/design.md §4.6 "Robots cannot use the admin API", §5; issue 3):
administrators only (HTTP Basic), 401 for everyone else, 403 for valid robot
credentials, 429 after too many failures, X-Request-Id on every answer, and error bodies
that say nothing internal."""

import base64
import math
import time

import pytest

from helpers import api as A

# Every endpoint of the contract, with a body that would be valid for an administrator.
ENDPOINTS = [
    ("GET", "/robots", None),
    ("POST", "/robots", A.robot_body("viaauth", A.perm("p", "pull"))),
    ("GET", "/robots/1", None),
    ("PUT", "/robots/1", {"name": "robot$x", "level": "system", "permissions": []}),
    ("PATCH", "/robots/1", {}),
    ("DELETE", "/robots/1", None),
    ("GET", "/projects", None),
    ("POST", "/projects", {"project_name": "viaauth", "metadata": {"public": "false"}}),
    ("HEAD", "/projects?project_name=p", None),
    ("GET", "/projects/p", None),
    ("DELETE", "/projects/p", None),
    ("GET", "/configurations", None),
    ("PUT", "/configurations", {"token_expiration": 5}),
    ("GET", "/permissions", None),
    ("GET", "/audit-logs", None),
]
ENDPOINT_IDS = ["%s %s" % (m, p) for m, p, _ in ENDPOINTS]


@pytest.fixture(scope="module")
def admin(dockhand):
    return A.ensure_admin(dockhand)


@pytest.fixture(scope="module")
def robot(admin):
    """A robot holding everything a robot can hold, catalog included."""
    return admin.create_robot("authbot", A.perm("*", *sorted(A.PROJECT_PERMISSIONS)),
                              A.catalog_perm())


def call(client, method, path, body):
    if body is None:
        return client.request(method, path)
    return client.request(method, path, json=body)


def state(admin):
    """What a refused request must not have changed."""
    robots = sorted((r["id"], r["name"], r["description"], r["disable"], r["duration"],
                     r["expires_at"], frozenset(A.normalize_permissions(r["permissions"])))
                    for r in admin.list_all("/robots", page_size=100))
    projects = sorted(p["name"] for p in admin.list_all("/projects", model="Project",
                                                        page_size=100))
    return robots, projects, admin.config()


def test_an_administrator_is_let_in(admin):
    items, r = admin.robots()
    assert isinstance(items, list)
    assert A.total_count(r) == len(items)
    A.expect(admin.get("/permissions"), 200, "Permissions")


@pytest.mark.parametrize("method,path,body", ENDPOINTS, ids=ENDPOINT_IDS)
def test_no_credentials_is_401(admin, method, path, body):
    before = state(admin)
    A.unauthorized(call(admin.anonymous(), method, path, body))
    assert state(admin) == before


@pytest.mark.parametrize("method,path,body", ENDPOINTS, ids=ENDPOINT_IDS)
def test_wrong_password_is_401(admin, method, path, body):
    before = state(admin)
    A.unauthorized(call(admin.as_user(A.ADMIN, A.ADMIN_PASSWORD + "x"), method, path, body))
    assert state(admin) == before


@pytest.mark.parametrize("method,path,body", ENDPOINTS, ids=ENDPOINT_IDS)
def test_valid_robot_credentials_are_403(dockhand, admin, robot, method, path, body):
    before = state(admin)
    A.forbidden(call(admin.as_user(robot["name"], robot["secret"]), method, path, body))
    assert state(admin) == before
    assert A.can_login(dockhand, robot["name"], robot["secret"])


def test_every_kind_of_bad_login_is_the_same_401(admin, robot):
    cases = {
        "unknown user": ("mallory", A.ADMIN_PASSWORD),
        "wrong password": (A.ADMIN, "Passw0rd-wrong"),
        "password with one more character": (A.ADMIN, A.ADMIN_PASSWORD + "!"),
        "password cut short": (A.ADMIN, A.ADMIN_PASSWORD[:-1]),
        "empty password": (A.ADMIN, ""),
        "empty user": ("", A.ADMIN_PASSWORD),
        "upper-case name": (A.ADMIN.upper(), A.ADMIN_PASSWORD),
        "robot with a wrong secret": (robot["name"], robot["secret"][:-1] + "0"
                                      if robot["secret"][-1] != "0" else robot["secret"][:-1]
                                      + "1"),
        "robot name without prefix": ("authbot", robot["secret"]),
    }
    codes = {}
    for why, creds in cases.items():
        r = admin.as_user(*creds).get("/robots")
        try:
            codes[why] = A.unauthorized(r)["errors"][0]["code"]
        except AssertionError as e:
            raise AssertionError("%s: %s" % (why, e))
    assert set(codes.values()) == {"UNAUTHORIZED"}


@pytest.mark.parametrize("header", [
    "Bearer " + "x" * 40,
    "Basic",
    "Basic ",
    "Basic !!!not-base64!!!",
    "Basic " + base64.b64encode(b"alice").decode(),            # no colon
    "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),     # not UTF-8
    "Digest username=\"alice\"",
    "basic " + base64.b64encode(b"alice:wrong").decode(),
], ids=["bearer", "basic-alone", "basic-empty", "garbage", "no-colon", "not-utf8", "digest",
        "lower-case-wrong"])
def test_malformed_authorization_is_refused(admin, header):
    """401 with the challenge; a Basic header that cannot be decoded may be a 400, as
    the token realm answers it (README "Failures")."""
    r = admin.anonymous().get("/robots", headers={"Authorization": header})
    if r.status_code == 400 and header.startswith("Basic "):
        A.bad_request(r)
    else:
        A.unauthorized(r)


def test_password_split_at_the_first_colon(dockhand):
    """Basic credentials split at the first ':' (a password may hold ':')."""
    a = A.ensure_admin(dockhand, "colonadmin", "Colon:Passw0rd:x")
    A.expect(a.get("/robots"), 200, "Robot", many=True)
    A.unauthorized(a.as_user("colonadmin", "Colon").get("/robots"))


def test_changed_password_and_deleted_admin_take_effect_at_once(dockhand):
    bob = A.ensure_admin(dockhand, "bob", "Bob-Passw0rd-1")
    A.expect(bob.get("/robots"), 200)
    A.remember("Bob-Passw0rd-2", "bob")
    dockhand.cli("admin", "passwd", "bob", "--password-stdin", input="Bob-Passw0rd-2")
    A.unauthorized(bob.get("/robots"))
    new = bob.as_user("bob", "Bob-Passw0rd-2")
    A.expect(new.get("/robots"), 200)
    dockhand.cli("admin", "delete", "bob")
    A.unauthorized(new.get("/robots"))
    A.unauthorized(bob.get("/robots"))


def test_a_robot_refused_by_the_api_still_gets_tokens(dockhand, admin, robot):
    """403 on the API says nothing about the realm: the same credentials log in there."""
    A.forbidden(admin.as_user(robot["name"], robot["secret"]).get("/robots"))
    assert A.granted(dockhand, robot["name"], robot["secret"], "p/app") == \
        ["delete", "pull", "push"]


def test_a_disabled_robot_is_refused(admin):
    created = admin.create_robot("authdisabled", A.perm("p", "pull"))
    admin.update_robot(created["id"], disable=True)
    r = admin.as_user(created["name"], created["secret"]).get("/robots")
    assert r.status_code in (401, 403), A.show(r)
    if r.status_code == 401:
        A.unauthorized(r)
    else:
        A.forbidden(r)


def _assert_429(r, window=60):
    A.expect_error(r, 429, None)
    ra = r.headers.get("Retry-After")
    assert ra is not None and ra.isdigit() and 1 <= int(ra) <= window, A.show(r)


def test_too_many_failures_for_one_administrator_is_429(dockhand_factory):
    d = dockhand_factory(DOCKHAND_FAIL_LIMIT_ACCOUNT=3, DOCKHAND_FAIL_LIMIT_ADDRESS=1000)
    alice = A.ensure_admin(d)
    bob = A.ensure_admin(d, "bob", "Bob-Passw0rd-1")
    wrong = alice.as_user(A.ADMIN, "Wrong-Passw0rd")
    for _ in range(3):
        A.unauthorized(wrong.get("/robots"))
    _assert_429(wrong.get("/robots"))
    # the right password is locked out too, on every endpoint
    _assert_429(alice.get("/robots"))
    _assert_429(alice.post("/projects", json={"project_name": "locked"}))
    # another administrator from the same address is not
    A.expect(bob.get("/robots"), 200)
    A.not_found(bob.get("/projects/locked"))


def test_too_many_failures_from_one_address_is_429(dockhand_factory):
    d = dockhand_factory(DOCKHAND_FAIL_LIMIT_ACCOUNT=1000, DOCKHAND_FAIL_LIMIT_ADDRESS=3)
    alice = A.ensure_admin(d)
    for i in range(3):
        A.unauthorized(alice.as_user("guess%d" % i, "Wrong-Passw0rd").get("/robots"))
    _assert_429(alice.as_user("guess9", "Wrong-Passw0rd").get("/robots"))
    _assert_429(alice.get("/robots"))


def test_api_failures_are_forgotten_after_the_window(dockhand_factory):
    d = dockhand_factory(DOCKHAND_FAIL_LIMIT_ACCOUNT=2, DOCKHAND_FAIL_WINDOW=2)
    alice = A.ensure_admin(d)
    # An administrator's password costs 600,000 PBKDF2 rounds per wrong guess (over a
    # second in a sanitizer build): the window must outlast two of them.
    start = time.monotonic()
    A.unauthorized(alice.as_user("probe", "Wrong-Passw0rd").get("/robots"))
    window = max(2, int(math.ceil(4 * (time.monotonic() - start))) + 1)
    if window != 2:
        d.stop()
        d.env["DOCKHAND_FAIL_WINDOW"] = str(window)
        d.start()
    for _ in range(2):
        A.unauthorized(alice.as_user(A.ADMIN, "Wrong-Passw0rd").get("/robots"))
    _assert_429(alice.get("/robots"), window=window)
    deadline = time.monotonic() + window + 10
    while True:
        r = alice.get("/robots")
        if r.status_code == 200:
            break
        _assert_429(r, window=window)
        assert time.monotonic() < deadline, "still 429 10 s after a %d s window" % window
        time.sleep(0.2)


def test_request_id_on_every_answer_and_echoed_when_sane(admin, robot):
    anon = admin.anonymous()
    as_robot = admin.as_user(robot["name"], robot["secret"])
    answers = [
        (admin.get("/robots"), 200),
        (anon.get("/robots"), 401),
        (as_robot.get("/robots"), 403),
        (admin.get("/robots/999999"), 404),
        (admin.get("/robots", params={"page_size": "1000"}), 400),
        (admin.post("/robots", json=A.robot_body(A.new_name("rid"), A.perm("p", "pull"))), 201),
        (admin.head("/projects", params={"project_name": "p"}), 200),
        (admin.get("/nothing-here"), 404),
    ]
    ids = []
    for r, status in answers:
        assert r.status_code == status, A.show(r)
        ids.append(r.headers["X-Request-Id"])
    assert len(set(ids)) == len(ids), ids
    for i, (client, method, path, status) in enumerate([
            (admin, "GET", "/robots", 200), (anon, "GET", "/robots", 401),
            (as_robot, "GET", "/configurations", 403), (admin, "GET", "/robots/999999", 404),
            (admin, "GET", "/robots?page_size=0", 400), (admin, "HEAD", "/projects?project_name=p", 200),
            (admin, "DELETE", "/projects/nosuchproject", 404)]):
        rid = "trace-api.%d_X" % i
        r = client.request(method, path, headers={"X-Request-Id": rid})
        assert r.status_code == status, A.show(r)
        assert r.headers.get("X-Request-Id") == rid, A.show(r)


@pytest.mark.parametrize("rid", ["has space", "x" * 65, "quote\"d", "semi;colon", "<tag>"],
                         ids=["space", "too-long", "quote", "semicolon", "angle"])
def test_an_insane_request_id_is_replaced(admin, rid):
    r = admin.get("/robots", headers={"X-Request-Id": rid})
    A.expect(r, 200)
    got = r.headers.get("X-Request-Id")
    assert got and got != rid, A.show(r)


def test_unknown_api_paths_are_404_json(admin):
    for path in ("/nothing-here", "/users", "/projects/p/robots/x", "/robotsx", "/"):
        A.not_found(admin.get(path))
    # below a collection, a path that is no id is a malformed id (400) or unknown (404)
    r = admin.get("/robots/1/extra")
    assert r.status_code in (400, 404), A.show(r)
    A.expect_error(r, r.status_code)


def test_unsupported_methods_are_refused_with_json(admin):
    for method, path in (("DELETE", "/robots"), ("PATCH", "/projects"),
                         ("POST", "/permissions"), ("DELETE", "/configurations"),
                         ("PUT", "/audit-logs")):
        r = admin.request(method, path)
        assert r.status_code in (404, 405), A.show(r)
        A.expect_error(r, r.status_code, None)


def test_internal_errors_say_nothing_more(dockhand_factory):
    """500 bodies say only "internal server error"; the log has the details with the
    request id."""
    d = dockhand_factory()
    alice = A.ensure_admin(d)
    alice.create_robot(A.new_name("e500"), A.perm("p", "pull"))  # a page to read
    A.expect(alice.get("/robots"), 200)
    d.sql("ALTER TABLE robots RENAME TO robots_gone")
    try:
        rid = "broken-db-1"
        r = alice.get("/robots", headers={"X-Request-Id": rid})
        A.expect_error(r, 500, None)
        assert A.body_of(r)["errors"][0]["message"] == "internal server error"
        assert "robots" not in r.text and "relation" not in r.text, A.show(r)
        assert r.headers.get("X-Request-Id") == rid
        assert rid in d.log_text(), "the request id is not in the server log"
    finally:
        d.sql("ALTER TABLE robots_gone RENAME TO robots")
    A.expect(alice.get("/robots"), 200)

