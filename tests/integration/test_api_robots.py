"""Robot accounts through the admin API (docs/design.md §4, §5; issue 3): create, get, update,
refresh the secret, delete; every validation rule; fields a client may not set."""

import json
import time

import pytest

from helpers import api as A
from helpers import swagger

DAY = A.DAY


@pytest.fixture(scope="module")
def admin(dockhand):
    return A.ensure_admin(dockhand)


def project(admin, public=False):
    return admin.create_project(A.new_name("pr"), public=public)["name"]


def robot_count(admin):
    return A.total_count(admin.get("/robots", params={"page_size": "1"}))


def expire(d, robot_id, seconds_ago=60):
    d.sql("UPDATE robots SET expires_at = extract(epoch FROM now())::bigint - %d WHERE id = %d;"
          " NOTIFY dockhand, 'robot:%d'" % (seconds_ago, int(robot_id), int(robot_id)))


def stable(robot):
    """A robot without the fields that change by themselves."""
    return {k: v for k, v in robot.items() if k not in ("last_used",)}


# ----------------------------------------------------------------------------
# POST /robots and GET /robots/{id}


def test_create_system_robot_then_get_it(dockhand, admin):
    d = dockhand
    proj, elsewhere = project(admin), project(admin)
    perms = [A.perm(proj, "pull", "push"), A.perm("p", "pull")]
    before = time.time()
    created = admin.create_robot("sysbot", *perms, description="builds things")
    assert created["name"] == "robot$sysbot"
    created_at = A.epoch(created["creation_time"])
    assert before - A.CLOCK_SLACK <= created_at <= time.time() + A.CLOCK_SLACK
    assert abs(created["expires_at"] - (created_at + 30 * DAY)) <= 2, created

    robot = admin.robot(created["id"])
    assert robot["id"] == created["id"] and robot["name"] == created["name"]
    assert robot["level"] == "system"
    assert robot["description"] == "builds things"
    assert robot["duration"] == 30
    assert robot["disable"] is False and robot["editable"] is True
    assert robot["expires_at"] == created["expires_at"]
    assert A.epoch(robot["creation_time"]) == created_at
    assert robot["last_used"] is None
    assert A.normalize_permissions(robot["permissions"]) == A.normalize_permissions(perms)

    name, secret = created["name"], created["secret"]
    assert A.granted(d, name, secret, proj + "/app") == ["pull", "push"]
    assert A.granted(d, name, secret, "p/app") == ["pull"]
    assert A.granted(d, name, secret, elsewhere + "/app") == []

    listed = [r for r in admin.list_all("/robots", page_size=100) if r["id"] == created["id"]]
    assert len(listed) == 1 and stable(listed[0]) == stable(robot), (listed, robot)


def test_legacy_flag_is_shown(dockhand, admin):
    """`legacy` (robots imported from Harbor <= 2.1, which keep robot$): the web page marks
    them and leaves them read-only."""
    plain = admin.create_robot(A.new_name("plain"), A.perm("p", "pull"))
    old = admin.create_robot(A.new_name("old"), A.perm("p", "pull"))
    dockhand.sql("UPDATE robots SET legacy = true WHERE id = %d" % old["id"])
    assert admin.robot(plain["id"])["legacy"] is False
    assert admin.robot(old["id"])["legacy"] is True
    listed = {r["id"]: r["legacy"] for r in A.expect(admin.get("/robots", params={"page_size": "100"}), 200)}
    assert listed[plain["id"]] is False and listed[old["id"]] is True


def test_create_project_robot(dockhand, admin):
    proj, other = project(admin), project(admin)
    created = admin.create_robot("ci", A.perm(proj, "pull", "push"), level="project",
                                 description="")
    assert created["name"] == "robot$%s+ci" % proj
    robot = admin.robot(created["id"])
    assert robot["name"] == created["name"] and robot["level"] == "project"
    assert len(robot["permissions"]) == 1, robot
    assert A.normalize_permissions(robot["permissions"]) == \
        A.normalize_permissions([A.perm(proj, "pull", "push")])
    assert A.granted(dockhand, created["name"], created["secret"], proj + "/app") == \
        ["pull", "push"]
    assert A.granted(dockhand, created["name"], created["secret"], other + "/app") == []


def test_names_are_unique_per_project(admin):
    a, b = project(admin), project(admin)
    ra = admin.create_robot("dup", A.perm(a, "pull"), level="project")
    rb = admin.create_robot("dup", A.perm(b, "pull"), level="project")
    rs = admin.create_robot("dup", A.perm(a, "pull"))
    assert {ra["name"], rb["name"], rs["name"]} == \
        {"robot$%s+dup" % a, "robot$%s+dup" % b, "robot$dup"}
    before = robot_count(admin)
    A.conflict(admin.post("/robots", json=A.robot_body("dup", A.perm(a, "push"),
                                                       level="project")))
    A.conflict(admin.post("/robots", json=A.robot_body("dup", A.perm(b, "pull"))))
    assert robot_count(admin) == before
    # the first one is untouched
    assert admin.robot(ra["id"])["permissions"] == [A.perm(a, "pull")]


@pytest.mark.parametrize("days", [1, 7, 365, 36500])
def test_duration_in_days(admin, days):
    created = admin.create_robot(A.new_name("dur"), A.perm("p", "pull"), duration=days)
    assert abs(created["expires_at"] - (A.epoch(created["creation_time"]) + days * DAY)) <= 2
    assert admin.robot(created["id"])["duration"] == days


def test_duration_never(dockhand, admin):
    created = admin.create_robot(A.new_name("never"), A.perm("p", "pull"), duration=-1)
    assert created["expires_at"] == -1
    robot = admin.robot(created["id"])
    assert robot["duration"] == -1 and robot["expires_at"] == -1
    assert A.can_login(dockhand, created["name"], created["secret"])


def test_created_disabled(dockhand, admin):
    created = admin.create_robot(A.new_name("off"), A.perm("p", "pull"), disable=True)
    assert admin.robot(created["id"])["disable"] is True
    assert not A.can_login(dockhand, created["name"], created["secret"])


def test_created_disabled_in_one_transaction(dockhand, admin):
    """A robot created disabled is written disabled by its INSERT: no second transaction
    that could fail and leave it enabled with its secret lost (a retry got 409). A
    trigger that refuses any UPDATE of `disabled` proves no UPDATE happens."""
    dockhand.sql("""
        CREATE FUNCTION test_no_disable_update() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'UPDATE of disabled refused by the test'; END $$;
        CREATE TRIGGER test_no_disable_update BEFORE UPDATE OF disabled ON robots
            FOR EACH ROW EXECUTE FUNCTION test_no_disable_update();""")
    try:
        name = A.new_name("offtx")
        created = admin.create_robot(name, A.perm("p", "pull"), disable=True)
        assert admin.robot(created["id"])["disable"] is True
        assert not A.can_login(dockhand, created["name"], created["secret"])
    finally:
        dockhand.sql("DROP TRIGGER test_no_disable_update ON robots;"
                     " DROP FUNCTION test_no_disable_update();")


def test_all_projects_and_catalog(dockhand, admin):
    created = admin.create_robot(A.new_name("all"), A.perm("*", "pull", "push"),
                                 A.catalog_perm())
    robot = admin.robot(created["id"])
    assert A.normalize_permissions(robot["permissions"]) == A.normalize_permissions(
        [A.perm("*", "pull", "push"), A.catalog_perm()])
    later = project(admin)
    name, secret = created["name"], created["secret"]
    for proj in ("p", later):
        assert A.granted(dockhand, name, secret, proj + "/app") == ["pull", "push"]
    r = dockhand.token(auth=(name, secret), scopes=["registry:catalog:*"])
    from helpers import realm
    from helpers.jwtutil import granted
    assert granted(realm.token_ok(dockhand, r, sub=name)[1], "registry", "catalog") == ["*"]


def test_every_grantable_permission_round_trips(dockhand, admin):
    proj = project(admin)
    every = sorted(A.PROJECT_PERMISSIONS)
    perms = [A.perm(proj, *every), A.catalog_perm()]
    created = admin.create_robot(A.new_name("every"), *perms)
    robot = admin.robot(created["id"])
    assert A.normalize_permissions(robot["permissions"]) == A.normalize_permissions(perms)
    # only pull, push and delete are registry actions
    assert A.granted(dockhand, created["name"], created["secret"], proj + "/app",
                     "pull,push,delete,*") == ["delete", "pull", "push"]
    # and a project robot may hold every project permission too
    created = admin.create_robot(A.new_name("every"), A.perm(proj, *every), level="project")
    assert A.normalize_permissions(admin.robot(created["id"])["permissions"]) == \
        A.normalize_permissions([A.perm(proj, *every)])


def test_push_brings_pull(dockhand, admin):
    proj = project(admin)
    created = admin.create_robot(A.new_name("pushonly"), A.perm(proj, "push"))
    assert A.granted(dockhand, created["name"], created["secret"], proj + "/app") == \
        ["pull", "push"]
    # stored exactly as granted
    assert admin.robot(created["id"])["permissions"] == [A.perm(proj, "push")]


@pytest.mark.parametrize("name", ["a", "0", "a.b-c_d", "x" * 255, "9lives", "a1.b2.c3"])
def test_valid_names(admin, name):
    created = admin.create_robot(name, A.perm("p", "pull"))
    assert created["name"] == "robot$" + name


@pytest.mark.parametrize("name", [
    "", "UPPER", "Mixed", "has space", "-lead", "trail-", ".dot", "dot.", "a..b", "a__b",
    "a-.b", "a+b", "robot$x", "a/b", "a:b", "café", "x" * 256, "a\u0000b", "a\nb", " a",
])
def test_invalid_names_are_400(admin, name):
    before = robot_count(admin)
    A.bad_request(admin.post("/robots", json=A.robot_body(name, A.perm("p", "pull"))))
    A.bad_request(admin.post("/robots", json=A.robot_body(name, A.perm("p", "pull"),
                                                          level="project")))
    assert robot_count(admin) == before


def _invalid_bodies():
    P = A.perm("p", "pull")
    n = "invalid"
    body = A.robot_body

    def without(key):
        b = body(n, P)
        del b[key]
        return b
    return [
        ("duration 0", body(n, P, duration=0)),
        ("duration -2", body(n, P, duration=-2)),
        ("duration -100", body(n, P, duration=-100)),
        ("duration past the limit", body(n, P, duration=36501)),
        ("duration as a string", body(n, P, duration="30")),
        ("duration as a float", body(n, P, duration=1.5)),
        ("duration as a bool", body(n, P, duration=True)),
        ("duration huge", body(n, P, duration=2 ** 63)),
        ("level unknown", body(n, P, level="global")),
        ("level upper case", body(n, P, level="System")),
        ("level a number", body(n, P, level=1)),
        ("permissions empty", body(n)),
        ("permissions missing", without("permissions")),
        ("permissions an object", dict(body(n), permissions=P)),
        ("permission a string", dict(body(n), permissions=["pull"])),
        ("unknown resource", body(n, A.perm("p", ("spaceship", "pull")))),
        ("unknown action", body(n, A.perm("p", ("repository", "fly")))),
        ("action of another resource", body(n, A.perm("p", ("helm-chart", "push")))),
        ("catalog on a project", body(n, A.perm("p", ("catalog", "read")))),
        ("system kind on a project", body(n, {"kind": "system", "namespace": "p",
                                              "access": A.access(("catalog", "read"))})),
        ("unknown kind", body(n, A.perm("p", "pull", kind="cluster"))),
        ("kind missing", body(n, {"namespace": "p", "access": A.access("pull")})),
        ("namespace missing", body(n, {"kind": "project", "access": A.access("pull")})),
        ("namespace empty", body(n, A.perm("", "pull"))),
        ("access not a list", body(n, dict(P, access={"resource": "repository",
                                                      "action": "pull"}))),
        ("access item without action", body(n, dict(P, access=[{"resource": "repository"}]))),
        ("access resource a number", body(n, dict(P, access=[{"resource": 1,
                                                             "action": "pull"}]))),
        ("name missing", without("name")),
        ("name a number", dict(body(n, P), name=5)),
        ("name null", dict(body(n, P), name=None)),
        ("description a number", body(n, P, description=7)),
        ("description too long", body(n, P, description="x" * 1025)),
        ("disable a string", body(n, P, disable="yes")),
        ("disable a number", body(n, P, disable=1)),
        ("project robot without permissions", body(n, level="project")),
        ("project robot on two projects", body(n, P, A.perm("p2", "pull"), level="project")),
        ("project robot on all projects", body(n, A.perm("*", "pull"), level="project")),
        ("project robot with catalog", body(n, P, A.catalog_perm(), level="project")),
        ("project robot with only catalog", body(n, A.catalog_perm(), level="project")),
    ]


INVALID = _invalid_bodies()


@pytest.fixture(scope="module")
def p2(admin):
    """A second project, so that two-project bodies fail for the rule, not for 404."""
    admin.create_project("p2")
    return "p2"


@pytest.mark.parametrize("why,body", INVALID, ids=[w for w, _ in INVALID])
def test_invalid_bodies_are_400(admin, p2, why, body):
    name = A.new_name("invalid")
    if isinstance(body.get("name"), str):
        body = dict(body, name=name)
    before = robot_count(admin)
    A.bad_request(admin.post("/robots", json=body))
    assert robot_count(admin) == before
    items, _ = admin.robots({"q": "name=~invalid"})
    assert items == []


@pytest.mark.parametrize("raw", [
    "", "{", "}", "{\"name\": \"x\",}", "nul", "null", "[]", "[{}]", "\"robot\"", "42",
    "{\"name\": \"malformed\"} trailing", "{'name': 'malformed'}", b"\xff\xfe{}",
    "{\"name\": \"malformed\", \"level\": \"system\", \"permissions\": [",
], ids=["empty", "open", "close", "trailing-comma", "nul", "null", "array", "array-of-object",
        "string", "number", "trailing-garbage", "single-quotes", "not-utf8", "truncated"])
def test_malformed_json_is_400(admin, raw):
    before = robot_count(admin)
    A.bad_request(admin.post("/robots", data=raw))
    assert robot_count(admin) == before


def test_unknown_project_is_404(admin):
    before = robot_count(admin)
    for body in (A.robot_body("orphan", A.perm("nosuchproject", "pull")),
                 A.robot_body("orphan", A.perm("p", "pull"), A.perm("nosuchproject", "pull")),
                 A.robot_body("orphan", A.perm("nosuchproject", "pull"), level="project")):
        A.not_found(admin.post("/robots", json=body))
    assert robot_count(admin) == before


def test_a_large_valid_body_is_accepted(dockhand, admin):
    """A system robot over 200 projects with every permission (~110 KB of JSON): well
    within the robot limits (ROBOT_MAX_PERMS, ROBOT_MAX_ACCESS), so not a 413."""
    tag = A.new_name("many")
    names = ["%s-%03d" % (tag, i) for i in range(200)]
    for n in names:
        A.expect(admin.post("/projects", json={"project_name": n}), 201)
    every = sorted(A.PROJECT_PERMISSIONS)
    perms = [A.perm(n, *every) for n in names]
    assert len(json.dumps(A.robot_body("big", *perms))) > 100000
    created = admin.create_robot(A.new_name("big"), *perms)
    robot = admin.robot(created["id"])
    assert A.normalize_permissions(robot["permissions"]) == A.normalize_permissions(perms)
    assert A.granted(dockhand, created["name"], created["secret"], names[-1] + "/app") == \
        ["delete", "pull", "push"]


API_MAX_BODY = 256 * 1024  # include/dockhand/api.h
HTTP_MAX_BODY = 1024 * 1024  # include/dockhand/server.h: evhttp's own cut-off


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_body_over_the_limit_is_413(admin, chunked):
    body = json.dumps(dict(A.robot_body("toobig", A.perm("p", "pull")),
                           padding="x" * API_MAX_BODY))
    r = admin.raw("POST", "/robots", body=body, chunked=chunked)
    assert r is not None, "no answer to an oversized body"
    assert r.status_code == 413, r
    # like every answer of the API: a request id and a JSON error
    assert r.headers.get("X-Request-Id"), r
    assert r.headers.get("Content-Type", "").split(";")[0] == "application/json", r
    swagger.validate("Errors", r.json())
    assert admin.robots({"q": "name=toobig"})[0] == []


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_body_over_the_buffer_limit_is_413_and_nothing_breaks(dockhand, admin, chunked):
    # Past HTTP_MAX_BODY libevent itself refuses the body (with its own small HTML page,
    # which libevent 2.1 gives no way to replace) before any of it is buffered further.
    body = json.dumps(dict(A.robot_body("huge", A.perm("p", "pull")),
                           padding="x" * (HTTP_MAX_BODY + 1)))
    r = admin.raw("POST", "/robots", body=body, chunked=chunked)
    assert r is not None and r.status_code == 413, r
    assert admin.robots({"q": "name=huge"})[0] == []
    assert dockhand.running


def test_unknown_top_level_fields_are_ignored(admin):
    body = A.robot_body(A.new_name("extra"), A.perm("p", "pull"), color="blue",
                        project_count=9, creator_type="robot", creator_ref=1,
                        nested={"secret": "x"})
    r = admin.post("/robots", json=body)
    created = A.expect(r, 201, "RobotCreated")
    A.remember(created["secret"], created["name"])
    robot = admin.robot(created["id"])
    assert "color" not in robot and "nested" not in robot


def test_fields_a_client_may_not_set_are_ignored_on_create(dockhand, admin):
    d = dockhand
    given = "Given-Secret-1234"
    A.remember(given)
    name = A.new_name("mass")
    body = A.robot_body(name, A.perm("p", "pull"), id=999999, secret=given, salt="abcdef0123",
                        creation_time="2000-01-01T00:00:00Z", expires_at=1, editable=False,
                        update_time="2000-01-01T00:00:00Z", last_used="2000-01-01T00:00:00Z",
                        legacy=True, cred_version=77)
    before = time.time()
    r = admin.post("/robots", json=body)
    created = A.expect(r, 201, "RobotCreated")
    A.check_created(created)
    A.remember(created["secret"], created["name"])
    assert created["id"] != 999999
    assert created["secret"] != given
    created_at = A.epoch(created["creation_time"])
    assert before - A.CLOCK_SLACK <= created_at <= time.time() + A.CLOCK_SLACK
    assert abs(created["expires_at"] - (created_at + 30 * DAY)) <= 2

    robot = admin.robot(created["id"])
    assert robot["editable"] is True and robot["last_used"] is None
    assert A.epoch(robot["update_time"]) >= before - A.CLOCK_SLACK
    A.not_found(admin.get("/robots/999999"))
    assert A.login_status(d, created["name"], given) == 401
    assert A.can_login(d, created["name"], created["secret"])
    assert d.sql("SELECT legacy FROM robots WHERE id = %d" % created["id"]).strip() in ("f",)


@pytest.mark.parametrize("ref", ["999999", "4294967297"])
def test_unknown_robot_is_404_everywhere(admin, ref):
    A.not_found(admin.get("/robots/" + ref))
    A.not_found(admin.put("/robots/" + ref, json={"name": "robot$x", "level": "system",
                                                  "description": "", "duration": 30,
                                                  "disable": False,
                                                  "permissions": [A.perm("p", "pull")]}))
    A.not_found(admin.patch("/robots/" + ref, json={}))
    A.not_found(admin.delete("/robots/" + ref))


@pytest.mark.parametrize("ref", ["0", "abc", "1.5", "-1", "1e3", "0x10", "1abc",
                                 "99999999999999999999999", "%20"])
def test_malformed_robot_id_is_400_or_404(admin, ref):
    for r in (admin.get("/robots/" + ref), admin.patch("/robots/" + ref, json={}),
              admin.delete("/robots/" + ref)):
        assert r.status_code in (400, 404), A.show(r)
        A.expect_error(r, r.status_code)


# ----------------------------------------------------------------------------
# PUT /robots/{id}


def test_put_changes_description_duration_permissions(dockhand, admin):
    d = dockhand
    proj, other = project(admin), project(admin)
    created = admin.create_robot(A.new_name("upd"), A.perm(proj, "pull"), description="before",
                                 duration=10)
    name, secret = created["name"], created["secret"]
    first = admin.robot(created["id"])
    time.sleep(1.1)  # update_time has at least second resolution
    robot = admin.update_robot(created["id"], description="after", duration=20,
                               permissions=[A.perm(other, "pull", "push")])
    assert robot["description"] == "after" and robot["duration"] == 20
    A.check_robot(robot)  # expires_at = creation + the new duration
    assert robot["creation_time"] == first["creation_time"]
    assert A.epoch(robot["update_time"]) > A.epoch(first["update_time"])
    assert A.normalize_permissions(robot["permissions"]) == \
        A.normalize_permissions([A.perm(other, "pull", "push")])
    assert robot["name"] == name and robot["id"] == created["id"]
    assert A.granted(d, name, secret, other + "/app") == ["pull", "push"]
    assert A.granted(d, name, secret, proj + "/app") == []
    # duration -1: never expires
    robot = admin.update_robot(created["id"], duration=-1)
    assert robot["duration"] == -1 and robot["expires_at"] == -1


def test_put_disable_and_enable(dockhand, admin):
    d = dockhand
    created = admin.create_robot(A.new_name("toggle"), A.perm("p", "pull"))
    name, secret = created["name"], created["secret"]
    rt = A.refresh_token(d, name, secret)
    assert admin.update_robot(created["id"], disable=True)["disable"] is True
    assert not A.can_login(d, name, secret)
    assert not A.refresh_works(d, rt)
    assert admin.update_robot(created["id"], disable=False)["disable"] is False
    assert A.can_login(d, name, secret)
    assert not A.refresh_works(d, rt), "enable must not revive refresh tokens"


def test_put_cannot_change_name_or_level(admin):
    proj = project(admin)
    created = admin.create_robot(A.new_name("fixed"), A.perm(proj, "pull"))
    pcreated = admin.create_robot(A.new_name("fixed"), A.perm(proj, "pull"), level="project")
    for rid in (created["id"], pcreated["id"]):
        robot = admin.robot(rid)
        other_level = "project" if robot["level"] == "system" else "system"
        for change in ({"name": "robot$renamed"}, {"name": robot["name"] + "x"},
                       {"name": "renamed"}, {"level": other_level},
                       {"name": "robot$renamed", "level": other_level}):
            A.bad_request(admin.put("/robots/%d" % rid, json=dict(robot, **change)))
            assert stable(admin.robot(rid)) == stable(robot)


@pytest.mark.parametrize("why,change", [
    ("duration 0", {"duration": 0}),
    ("duration -2", {"duration": -2}),
    ("duration a string", {"duration": "30"}),
    ("description a number", {"description": 5}),
    ("description too long", {"description": "x" * 1025}),
    ("disable a string", {"disable": "true"}),
    ("permissions empty", {"permissions": []}),
    ("permissions not a list", {"permissions": "all"}),
    ("unknown resource", {"permissions": [A.perm("p", ("spaceship", "pull"))]}),
    ("unknown action", {"permissions": [A.perm("p", ("repository", "fly"))]}),
    ("unknown kind", {"permissions": [A.perm("p", "pull", kind="cluster")]}),
], ids=lambda v: v if isinstance(v, str) else None)
def test_put_invalid_values_are_400_and_change_nothing(admin, why, change):
    created = admin.create_robot(A.new_name("putbad"), A.perm("p", "pull"))
    robot = admin.robot(created["id"])
    A.bad_request(admin.put("/robots/%d" % created["id"], json=dict(robot, **change)))
    assert stable(admin.robot(created["id"])) == stable(robot)


def test_put_malformed_json_is_400(admin):
    created = admin.create_robot(A.new_name("putraw"), A.perm("p", "pull"))
    robot = admin.robot(created["id"])
    for raw in ("", "{", "[]", "null", "{\"description\": }"):
        A.bad_request(admin.put("/robots/%d" % created["id"], data=raw))
    assert stable(admin.robot(created["id"])) == stable(robot)


def test_put_unknown_project_is_404_and_changes_nothing(admin):
    created = admin.create_robot(A.new_name("putnp"), A.perm("p", "pull"))
    robot = admin.robot(created["id"])
    A.not_found(admin.put("/robots/%d" % created["id"],
                          json=dict(robot, permissions=[A.perm("nosuchproject", "pull")])))
    assert stable(admin.robot(created["id"])) == stable(robot)


def test_put_project_robot_keeps_to_its_project(dockhand, admin):
    proj, other = project(admin), project(admin)
    created = admin.create_robot(A.new_name("pput"), A.perm(proj, "pull"), level="project")
    robot = admin.robot(created["id"])
    for perms in ([A.perm(proj, "pull"), A.perm(other, "pull")], [A.perm(other, "pull")],
                  [A.perm("*", "pull")], [A.catalog_perm()], []):
        A.bad_request(admin.put("/robots/%d" % created["id"], json=dict(robot, permissions=perms)))
        assert stable(admin.robot(created["id"])) == stable(robot)
    robot = admin.update_robot(created["id"], permissions=[A.perm(proj, "pull", "push")])
    assert A.normalize_permissions(robot["permissions"]) == \
        A.normalize_permissions([A.perm(proj, "pull", "push")])
    assert A.granted(dockhand, created["name"], created["secret"], proj + "/app") == \
        ["pull", "push"]


def test_fields_a_client_may_not_set_are_ignored_on_put(dockhand, admin):
    d = dockhand
    other = admin.create_robot(A.new_name("other"), A.perm("p", "pull"))
    created = admin.create_robot(A.new_name("putmass"), A.perm("p", "pull"), duration=5)
    robot = admin.robot(created["id"])
    given = "Given-Put-Secret-1"
    A.remember(given)
    body = dict(robot, id=other["id"], secret=given, salt="abcdef0123", expires_at=1,
                creation_time="2000-01-01T00:00:00Z", update_time="2000-01-01T00:00:00Z",
                editable=False, last_used="2000-01-01T00:00:00Z", legacy=True,
                description="changed")
    A.expect(admin.put("/robots/%d" % created["id"], json=body), 200)
    after = admin.robot(created["id"])
    assert after["description"] == "changed"
    assert after["id"] == created["id"] and after["creation_time"] == robot["creation_time"]
    assert after["expires_at"] == robot["expires_at"] and after["editable"] is True
    assert after["last_used"] is None or A.epoch(after["last_used"]) > 946684800
    assert A.epoch(after["update_time"]) > 946684800 + 86400
    assert A.login_status(d, created["name"], given) == 401
    assert A.can_login(d, created["name"], created["secret"])
    # the robot whose id was sent is untouched
    assert admin.robot(other["id"])["description"] == ""
    assert d.sql("SELECT legacy FROM robots WHERE id = %d" % created["id"]).strip() == "f"


def test_put_revives_an_expired_robot(dockhand, admin):
    d = dockhand
    created = admin.create_robot(A.new_name("revive"), A.perm("p", "pull"), duration=1)
    expire(d, created["id"])
    assert not A.can_login(d, created["name"], created["secret"])
    robot = admin.robot(created["id"], consistent=False)
    assert robot["expires_at"] < time.time()
    robot = admin.update_robot(created["id"], duration=3650)
    A.check_robot(robot)
    assert robot["expires_at"] > time.time() + 3000 * DAY
    assert A.can_login(d, created["name"], created["secret"])


# ----------------------------------------------------------------------------
# PATCH /robots/{id}


def test_patch_generates_a_new_secret(dockhand, admin):
    d = dockhand
    created = admin.create_robot(A.new_name("rot"), A.perm("p", "pull"))
    name, old = created["name"], created["secret"]
    rt = A.refresh_token(d, name, old)
    new = admin.refresh_secret(created["id"])
    A.remember(new, name)
    assert new != old
    assert not A.can_login(d, name, old)
    assert A.can_login(d, name, new)
    assert not A.refresh_works(d, rt)
    robot = admin.robot(created["id"])
    assert robot["name"] == name and robot["disable"] is False
    newer = admin.refresh_secret(created["id"])
    assert newer not in (old, new)
    assert not A.can_login(d, name, new) and A.can_login(d, name, newer)


@pytest.mark.parametrize("manual", ["Manual1secret", "Abcdefg1", "Ab1:" + "c" * 20,
                                    "Z9" + "y" * 126, "Pass word 1 with spaces"],
                         ids=["contract-example", "8-chars", "colon", "128-chars", "spaces"])
def test_patch_sets_a_manual_secret(dockhand, admin, manual):
    d = dockhand
    created = admin.create_robot(A.new_name("man"), A.perm("p", "pull"))
    name, old = created["name"], created["secret"]
    rt = A.refresh_token(d, name, old)
    assert admin.refresh_secret(created["id"], manual) == manual
    A.remember(manual, name)
    assert A.can_login(d, name, manual)
    assert not A.can_login(d, name, old)
    assert not A.refresh_works(d, rt)


@pytest.mark.parametrize("manual", [
    "Short1A", "alllowercase123", "ALLUPPERCASE123", "NoDigitsHere", "12345678",
    "A1" + "a" * 127, "Abc\u0000defg1",
], ids=["7-chars", "no-upper", "no-lower", "no-digit", "digits-only", "129-chars", "nul"])
def test_patch_manual_secret_policy(dockhand, admin, manual):
    d = dockhand
    created = admin.create_robot(A.new_name("pol"), A.perm("p", "pull"))
    if not manual.isdigit():  # a digit string could turn up in any id or time
        A.remember(manual)
    r = admin.patch("/robots/%d" % created["id"], json={"secret": manual})
    body = A.bad_request(r)
    assert manual not in r.text, "the refused secret is echoed\n" + A.show(r)
    assert len(body["errors"][0]["message"]) >= 10, A.show(r)
    assert A.can_login(d, created["name"], created["secret"])
    if "\u0000" not in manual:  # the realm refuses a NUL in credentials as malformed (400)
        assert A.login_status(d, created["name"], manual) == 401


@pytest.mark.parametrize("body", ["{\"secret\": 12345678}", "{\"secret\": [\"Xyzzy-Plugh-9\"]}",
                                  "[]", "{", "\"Xyzzy-Plugh-9\""],
                         ids=["number", "list", "array", "open", "string"])
def test_patch_malformed_is_400(dockhand, admin, body):
    created = admin.create_robot(A.new_name("pmal"), A.perm("p", "pull"))
    A.bad_request(admin.patch("/robots/%d" % created["id"], data=body))
    assert A.can_login(dockhand, created["name"], created["secret"])


@pytest.mark.parametrize("raw", [
    '{"secret": "%s',
    '{"secret" "%s"}',
    '{"secret": "%s",}',
    '{"secret": "%s" "x"}',
    '{"secret": "%s\\q"}',
    '{"secret": %s}',
    '"%s"',
], ids=["unterminated", "no-colon", "trailing-comma", "two-strings", "bad-escape",
        "unquoted (a shell quoting slip)", "a bare string"])
def test_a_secret_in_a_malformed_body_is_never_echoed_or_logged(dockhand, admin, raw):
    """docs/design.md §4.3: the plaintext appears in exactly two answers, create and refresh."""
    created = admin.create_robot(A.new_name("echo"), A.perm("p", "pull"))
    secret = "Leaky9" + A.new_name("S") + "Zq"  # shaped like a generated secret
    A.remember(secret)
    r = admin.patch("/robots/%d" % created["id"], data=raw % secret)  # check_common greps
    A.bad_request(r)
    assert secret not in r.text
    r = admin.post("/robots", data=('{"name": "echo", "level": "system", "secret": "%s", '
                                    '"permissions": [' % secret))
    A.bad_request(r)
    assert secret not in dockhand.log_text()


# ----------------------------------------------------------------------------
# DELETE /robots/{id}


def test_delete(dockhand, admin):
    d = dockhand
    created = admin.create_robot(A.new_name("del"), A.perm("p", "pull"))
    rt = A.refresh_token(d, created["name"], created["secret"])
    admin.delete_robot(created["id"])
    A.not_found(admin.delete("/robots/%d" % created["id"]))
    A.not_found(admin.put("/robots/%d" % created["id"],
                          json=dict(A.robot_body(created["name"], A.perm("p", "pull")))))
    A.not_found(admin.patch("/robots/%d" % created["id"], json={}))
    assert not A.can_login(d, created["name"], created["secret"])
    assert not A.refresh_works(d, rt)
    assert all(r["id"] != created["id"] for r in admin.list_all("/robots", page_size=100))
    # the name is free again
    again = admin.create_robot(created["name"][len("robot$"):], A.perm("p", "pull"))
    assert again["id"] != created["id"]
    assert not A.can_login(d, created["name"], created["secret"])


# ----------------------------------------------------------------------------
# last_used


def test_last_used_is_set_by_the_first_token(dockhand, admin):
    d = dockhand
    created = admin.create_robot(A.new_name("used"), A.perm("p", "pull"))
    assert admin.robot(created["id"])["last_used"] is None
    before = time.time()
    assert A.can_login(d, created["name"], created["secret"])
    robot = A.poll(lambda: (lambda rb: rb if rb["last_used"] else None)(
        admin.robot(created["id"])), what="last_used set after a token")
    used = A.epoch(robot["last_used"])
    assert before - A.CLOCK_SLACK <= used <= time.time() + A.CLOCK_SLACK
    listed = [r for r in admin.list_all("/robots", page_size=100) if r["id"] == created["id"]]
    assert listed[0]["last_used"] == robot["last_used"]
    # a refused login does not count as use
    other = admin.create_robot(A.new_name("unused"), A.perm("p", "pull"))
    assert A.login_status(d, other["name"], "Wrong-Secret-1") == 401
    time.sleep(1.0)
    assert admin.robot(other["id"])["last_used"] is None


def test_last_used_moves_at_most_once_a_minute(dockhand, admin):
    """Every token does not rewrite its robot's row: last_used is kept to the minute."""
    d = dockhand
    created = admin.create_robot(A.new_name("minute"), A.perm("p", "pull"))
    other = admin.create_robot(A.new_name("minute"), A.perm("p", "pull"))
    assert A.can_login(d, created["name"], created["secret"])
    first = A.poll(lambda: admin.robot(created["id"])["last_used"], what="last_used set")
    time.sleep(1.1)  # now() moves past the first use, to the millisecond shown
    assert A.can_login(d, created["name"], created["secret"])
    # The other robot's first token is written with or after the second one, and its
    # last_used moved in the same statement or a later one: once it shows, the second
    # token has been dealt with.
    assert A.can_login(d, other["name"], other["secret"])
    A.poll(lambda: admin.robot(other["id"])["last_used"], what="the other robot's last_used")
    assert admin.robot(created["id"])["last_used"] == first


def test_last_used_moves_with_token_audit_off(dockhand_factory):
    """DOCKHAND_AUDIT_TOKENS=0 records no token, but last_used is still kept (to the
    minute), and no audit row is written for it."""
    d = dockhand_factory(DOCKHAND_AUDIT_TOKENS="0")
    admin = A.ensure_admin(d)
    created = admin.create_robot(A.new_name("quiet"), A.perm("p", "pull"))
    before = time.time()
    for _ in range(3):
        assert A.can_login(d, created["name"], created["secret"])
    used = A.poll(lambda: admin.robot(created["id"])["last_used"], what="last_used set")
    assert before - A.CLOCK_SLACK <= A.epoch(used) <= time.time() + A.CLOCK_SLACK
    assert int(d.sql("SELECT count(*) FROM audit_log WHERE operation = 'issue_token'"
                     " OR operation = ''")) == 0
    # once a minute: a later token in the same minute leaves it
    other = admin.create_robot(A.new_name("quiet"), A.perm("p", "pull"))
    time.sleep(1.1)
    assert A.can_login(d, created["name"], created["secret"])
    assert A.can_login(d, other["name"], other["secret"])
    A.poll(lambda: admin.robot(other["id"])["last_used"], what="the other robot's last_used")
    assert admin.robot(created["id"])["last_used"] == used
