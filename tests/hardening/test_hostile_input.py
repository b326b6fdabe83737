"""Hostile input to the admin API and the sign-in (issue 13 §5):

- SQL metacharacters and NUL bytes (a raw %00 in query parameters, \\u0000 in JSON strings,
  %00 in path segments) in every field and query parameter of robots, projects,
  configurations, audit logs and the sign-in: never a 5xx; a refusal is a clear 4xx that
  changed nothing in the database; an accepted value is stored and matched literally (a
  `%` or `_` in a substring search matches only itself).
- Mass assignment (README "Security cases"): fields a client may not set are ignored
  (robots: id, secret, salt, secret_hash, cred_version, creation_time, update_time,
  expires_at, editable, last_used, legacy; projects: project_id, creation_time, owner_id,
  …), a robot's name and level cannot change (400), an unknown configuration key is a
  400. Robots' create and PUT are also in tests/integration/test_api_robots.py.
- Searching or sorting by secret fields: refused on robots (400; also
  test_api_robots_list.py), refused as unknown q keys on projects and audit logs; their
  `sort` is not supported and changes nothing (no order by any field can be observed).
- The catalog only with catalog:read and a public project grants only pull: in
  tests/integration/test_realm_access.py (test_catalog_only_with_the_catalog_permission,
  test_public_project_pull_for_everyone); checked here again for robots that hold
  everything else.
"""

import subprocess
import urllib.parse

import pytest
import requests

from helpers import api as A
from helpers import http, secrets

HOSTILE = [
    "' OR '1'='1",
    "x'; DROP TABLE robots; --",
    "\" OR \"\"=\"",
    "a\\' OR 1=1 --",
    "%", "_", "\\", "$1 /*",
    "a\x00b", "lst\x00' OR 1=1",
    "robot$x' UNION SELECT secret_hash FROM robots --",
]
SNAPSHOT = ("SELECT coalesce(json_agg(t ORDER BY t::text), '[]') FROM ("
            " SELECT 'robot' AS k, to_jsonb(r) - 'last_used' AS v FROM robots r UNION ALL"
            " SELECT 'perm', to_jsonb(p) FROM robot_permissions p UNION ALL"
            " SELECT 'project', to_jsonb(p) FROM projects p UNION ALL"
            " SELECT 'setting', to_jsonb(s) FROM settings s UNION ALL"
            " SELECT 'admin', to_jsonb(a) FROM admins a) t")


class Psql:
    """One psql kept open: a snapshot per request must cost milliseconds, not a process."""

    def __init__(self, pg, db):
        self.p = subprocess.Popen([pg._bin("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                                   "-h", pg.sockdir, "-p", str(pg.port), "-U", "postgres",
                                   "-d", db], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True)

    def query(self, sql):
        self.p.stdin.write(sql + ";\n\\echo __end__\n")
        self.p.stdin.flush()
        out = []
        for line in self.p.stdout:
            if line == "__end__\n":
                return "".join(out)
            out.append(line)
        raise RuntimeError("psql ended")

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=30)


class World:
    def __init__(self, d):
        self.d = d
        self.psql = Psql(d.pg, d.db)
        self.admin = A.ensure_admin(d)
        self.robot = self.admin.create_robot("hostile-target", A.perm("p", "pull"))
        self.state = self.snapshot()
        self.seen = []

    def snapshot(self):
        return self.psql.query(SNAPSHOT)

    def check(self, what, r, literal=None):
        """r is no 5xx; a 4xx changed nothing; literal(r) checks an accepted answer."""
        self.seen.append((what, r.status_code))
        assert r.status_code < 500, "%s: %s" % (what, A.show(r))
        after = self.snapshot()
        if r.status_code >= 400:
            assert r.status_code in (400, 404, 405, 409, 413, 415), "%s: %s" % (what, A.show(r))
            assert after == self.state, "%s: refused with %d but the database changed" % (
                what, r.status_code)
            return
        self.state = after
        if literal:
            literal(r)
            self.state = self.snapshot()


@pytest.fixture(scope="module")
def world(dockhand_factory):
    # every refused sign-in costs DOCKHAND_PASSWORD_ITERATIONS: its minimum keeps this short
    d = dockhand_factory(DOCKHAND_PASSWORD_ITERATIONS=10000)
    w = World(d)
    yield w
    w.psql.close()
    d.stop()


def value_id(v):
    return repr(v)[:24]


@pytest.mark.parametrize("v", HOSTILE, ids=value_id)
def test_robot_bodies(world, v):
    a, rid = world.admin, world.robot["id"]
    p = A.perm("p", "pull")
    for what, body in [
        ("name", A.robot_body(v, p)),
        ("description", A.robot_body(A.new_name("hd"), p, description=v)),
        ("namespace", A.robot_body(A.new_name("hn"), A.perm(v, "pull"))),
        ("resource", A.robot_body(A.new_name("hr"), {"kind": "project", "namespace": "p",
                                                       "access": [{"resource": v,
                                                                   "action": "pull"}]})),
        ("action", A.robot_body(A.new_name("ha"), {"kind": "project", "namespace": "p",
                                                     "access": [{"resource": "repository",
                                                                 "action": v}]})),
        ("kind", A.robot_body(A.new_name("hk"), {"kind": v, "namespace": "p",
                                                   "access": A.access(("repository", "pull"))})),
        ("level", A.robot_body(A.new_name("hl"), p, level=v)),
        ("duration", A.robot_body(A.new_name("hu"), p, duration=v)),
    ]:
        r = a.post("/robots", json=body)
        if r.status_code == 201:
            A.remember(r.json()["secret"], r.json()["name"])

        def literal(r, what=what, body=body):
            got = a.robot(r.json()["id"])
            assert what == "description" and got["description"] == v, (what, got)
        world.check("POST /robots %s=%r" % (what, v), r, literal)
    for what, body in [("description", {"description": v}), ("name", {"name": v}),
                       ("level", {"level": v}), ("duration", {"duration": v})]:
        r = a.put("/robots/%d" % rid, json=body)

        def literal(r, what=what):
            assert what == "description" and r.json()["description"] == v, (what, r.text)
        world.check("PUT /robots %s=%r" % (what, v), r, literal)
    secrets.remember(v + "Aa1-padding")
    r = a.patch("/robots/%d" % rid, json={"secret": v + "Aa1-padding"})

    def literal_secret(r):
        # a manual secret with metacharacters is stored as given: it logs in, literally
        assert A.can_login(world.d, world.robot["name"], v + "Aa1-padding")
    world.check("PATCH /robots secret=%r" % v, r, literal_secret)


@pytest.mark.parametrize("v", HOSTILE, ids=value_id)
def test_robot_queries_and_paths(world, v):
    a = world.admin
    for params in ({"q": "name=" + v}, {"q": "name=~" + v}, {"q": v}, {"q": "Level=" + v},
                   {"q": "ProjectID=" + v}, {"sort": v}, {"page": v}, {"page_size": v},
                   {"q": "name=~" + v, "sort": "-" + v}):
        r = a.get("/robots", params=params)

        def literal(r, params=params):
            q = params.get("q", "")
            part = q.split("=~", 1)[1] if "=~" in q else None
            for item in r.json():
                assert part is None or part in item["name"], (params, item["name"])
            if q.startswith("name=") and "=~" not in q:
                assert all(i["name"].endswith(q[5:]) for i in r.json()), (params, r.text)
        world.check("GET /robots %r" % params, r, literal)
    quoted = urllib.parse.quote(v, safe="")
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        r = a.request(method, "/robots/" + quoted, json={} if method in ("PUT", "PATCH") else
                      A._NO_BODY)
        world.check("%s /robots/%r" % (method, v), r)


@pytest.mark.parametrize("v", HOSTILE, ids=value_id)
def test_project_bodies_queries_and_paths(world, v):
    a = world.admin
    for body in ({"project_name": v}, {"project_name": A.new_name("hp"), "metadata": {"public": v}},
                 {"project_name": A.new_name("hp"), "public": v}):
        world.check("POST /projects %r" % body, a.post("/projects", json=body))
    for params in ({"q": "name=" + v}, {"q": "name=~" + v}, {"q": v}, {"name": v}, {"page": v},
                   {"page_size": v}, {"sort": v}):
        r = a.get("/projects", params=params)

        def literal(r, params=params):
            q = params.get("q", "")
            part = q.split("=~", 1)[1] if "=~" in q else params.get("name")
            for item in r.json():
                assert part is None or part in item["name"], (params, item["name"])
        world.check("GET /projects %r" % params, r, literal)
    world.check("HEAD /projects?project_name", a.head("/projects", params={"project_name": v}))
    quoted = urllib.parse.quote(v, safe="")
    for method in ("GET", "DELETE"):
        world.check("%s /projects/%r" % (method, v), a.request(method, "/projects/" + quoted))


@pytest.mark.parametrize("v", HOSTILE, ids=value_id)
def test_configurations_and_audit_logs(world, v):
    a = world.admin
    for body in ({"robot_name_prefix": v}, {"robot_token_duration": v},
                 {"token_expiration": v}, {v: 1}, {v: v}):
        r = a.put("/configurations", json=body)

        def literal(r, body=body):
            assert a.config()["robot_name_prefix"]["value"] == v, a.config()
            A.expect(a.put("/configurations", json={"robot_name_prefix": "robot$"}), 200)
        world.check("PUT /configurations %r" % body, r, literal)
    for params in ({"q": "operation=" + v}, {"q": "username=" + v}, {"q": "resource=~" + v},
                   {"q": "resource=" + v}, {"q": "resource_type=" + v}, {"q": v},
                   {"q": "op_time=[%s~%s]" % (v, v)}, {"page": v}, {"page_size": v},
                   {"sort": v}):
        r = a.get("/audit-logs", params=params)

        def literal(r, params=params):
            q = params.get("q", "")
            for item in r.json():
                if q.startswith("resource="):  # =x and =~x are both substrings (Harbor's)
                    assert q.split("=", 1)[1].lstrip("~") in item["resource"], (params, item)
                elif "=" in q and not q.startswith("op_time"):
                    key, val = q.split("=", 1)
                    assert item[key] == val, (params, item)
        world.check("GET /audit-logs %r" % params, r, literal)


@pytest.mark.parametrize("v", HOSTILE, ids=value_id)
def test_sign_in(world, v):
    d = world.d
    for form in ({"principal": v, "password": A.ADMIN_PASSWORD},
                 {"principal": A.ADMIN, "password": v}, {"principal": v, "password": v}):
        r = requests.post(d.url + "/c/login", data=form, timeout=30, allow_redirects=False)
        assert r.status_code in (400, 401), A.show(r)
        assert world.snapshot() == world.state
    # raw %00 in the form, not through requests' encoder
    for body in (b"principal=alice%00&password=" + A.ADMIN_PASSWORD.encode(),
                 b"principal=alice&password=" + A.ADMIN_PASSWORD.encode() + b"%00",
                 b"principal=" + urllib.parse.quote(v).encode() + b"&password=%00"):
        r = http.request(d.port, "POST", "/c/login", body=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded"},
                         timeout=30)
        assert r.status_code in (400, 401), (body, r.status_code, r.content)
        assert world.snapshot() == world.state


def test_raw_nul_in_query_strings(world):
    """%00 straight on the wire (requests would send the same, but be explicit)."""
    a = world.admin
    for path in ("/robots?q=name%3D~a%00b", "/robots?sort=name%00", "/robots?page=1%00",
                 "/projects?name=p%00", "/projects?q=name%3D~%00", "/audit-logs?q=username%3D%00",
                 "/audit-logs?page_size=10%00", "/robots/1%00", "/projects/p%00"):
        r = a.raw("GET", path)
        assert r.status_code < 500 and r.status_code in (200, 400, 404), (path, r.status_code)
        if r.status_code == 200 and path.startswith("/robots?q"):
            assert r.json() == [], (path, r.content)
        assert world.snapshot() == world.state


def test_no_5xx_anywhere(world):
    bad = [(w, s) for w, s in world.seen if s >= 500]
    assert len(world.seen) > 300 and not bad, (len(world.seen), bad[:5])


# ----------------------------------------------------------------------------
# Mass assignment


def test_mass_assignment_on_robot_create_and_patch(world):
    a, d = world.admin, world.d
    fake_hash = "pbkdf2-sha256$1$salt$00112233445566778899aabbccddeeff"
    given = "Given-Secret-9876"
    secrets.remember(given)
    body = A.robot_body(A.new_name("mass"), A.perm("p", "pull"), secret=given,
                        secret_hash=fake_hash, password_hash=fake_hash, salt="x",
                        cred_version=77, id=424242, legacy=True, last_used="2001-01-01T00:00:00Z")
    created = A.expect(a.post("/robots", json=body), 201, "RobotCreated")
    A.remember(created["secret"], created["name"])
    row = d.sql("SELECT id, cred_version, secret_hash <> '%s', legacy FROM robots WHERE id = %d"
                % (fake_hash, created["id"])).strip()
    assert row == "%d|1|t|f" % created["id"], row
    assert not A.can_login(d, created["name"], given)
    # PATCH (refresh secret): only `secret` counts
    r = a.patch("/robots/%d" % created["id"],
                json={"secret": "Patched-Secret-1234", "cred_version": 1, "id": 1,
                      "secret_hash": fake_hash, "disable": True, "expires_at": 1})
    secrets.remember("Patched-Secret-1234")
    A.expect(r, 200)
    after = a.robot(created["id"])
    assert after["disable"] is False and after["expires_at"] == created["expires_at"], after
    assert A.can_login(d, created["name"], "Patched-Secret-1234")
    # a level or name change is refused, nothing changes
    before = world.snapshot()
    for change in ({"level": "project"}, {"name": "renamed"}):
        A.bad_request(a.put("/robots/%d" % created["id"], json=dict(after, **change)))
    assert world.snapshot() == before
    world.state = world.snapshot()


def test_mass_assignment_on_project_create(world):
    a, d = world.admin, world.d
    name = A.new_name("mp")
    body = {"project_name": name, "project_id": 777777, "owner_id": 5, "owner_name": "eve",
            "creation_time": "2001-01-01T00:00:00Z", "update_time": "2001-01-01T00:00:00Z",
            "deleted": True, "repo_count": 9, "registry_id": 3, "id": 777777}
    r = a.post("/projects", json=body)
    assert r.status_code == 201, A.show(r)
    got = a.project(name)
    assert got["project_id"] != 777777 and A.epoch(got["creation_time"]) > 1e9 + 86400 * 365 * 20
    assert "owner_name" not in got or got["owner_name"] != "eve"
    assert d.sql("SELECT count(*) FROM projects WHERE name = '%s'" % name).strip() == "1"
    world.state = world.snapshot()


def test_mass_assignment_on_configurations(world):
    a = world.admin
    before = a.config()
    for body in ({"robot_name_prefix": "bot-", "editable": False},
                 {"token_expiration": 5, "secret": "x"},
                 {"robot_token_duration": 5, "robot_name_prefix": {"value": "x", "editable": False}}):
        A.bad_request(a.put("/configurations", json=body))
    assert a.config() == before
    assert world.snapshot() == world.state


# ----------------------------------------------------------------------------
# Searching and sorting by secret fields


@pytest.mark.parametrize("q", ["secret=x", "secret=~a", "secret_hash=~pbkdf2", "salt=x",
                               "password=x", "password_hash=~p", "cred_version=1", "hash=x"])
def test_search_by_secret_fields_is_refused(world, q):
    a = world.admin
    for path in ("/robots", "/projects", "/audit-logs"):
        A.bad_request(a.get(path, params={"q": q}))


@pytest.mark.parametrize("sort", ["secret", "-secret", "secret_hash", "salt", "password_hash",
                                  "cred_version"])
def test_sort_by_secret_fields_is_refused_or_has_no_effect(world, sort):
    a = world.admin
    A.bad_request(a.get("/robots", params={"sort": sort}))
    for path in ("/projects", "/audit-logs"):
        plain = a.get(path, params={"page_size": 100})
        sorted_ = a.get(path, params={"page_size": 100, "sort": sort})
        assert plain.status_code == 200 and sorted_.status_code in (200, 400), A.show(sorted_)
        if sorted_.status_code == 200:
            assert [x.get("id", x.get("project_id")) for x in sorted_.json()] == \
                [x.get("id", x.get("project_id")) for x in plain.json()], (path, sort)


# ----------------------------------------------------------------------------
# Catalog and public projects


def test_catalog_and_public_project_grants(world):
    a, d = world.admin, world.d
    pub = A.new_name("pub")
    a.create_project(pub, public=True)
    everything = A.access(("repository", "pull"), ("repository", "push"),
                          ("artifact", "delete"), ("repository", "delete"))
    full = a.create_robot(A.new_name("full"), {"kind": "project", "namespace": "p",
                                               "access": everything})
    cat = a.create_robot(A.new_name("cat"), A.perm("p", "pull"), A.catalog_perm())
    scopes = ["registry:catalog:*", "repository:%s/app:pull,push,delete,*" % pub]
    for who in (None, (full["name"], full["secret"])):
        r = d.token(scopes=scopes, auth=who)
        assert r.status_code == 200, A.show(r)
        claims = d.decode(r.json()["token"])
        got = {(x["type"], x["name"]): sorted(x["actions"]) for x in claims["access"]}
        assert got.get(("registry", "catalog"), []) == [], (who, got)
        assert got.get(("repository", pub + "/app")) == ["pull"], (who, got)
    r = d.token(scopes=scopes, auth=(cat["name"], cat["secret"]))
    claims = d.decode(r.json()["token"])
    got = {(x["type"], x["name"]): sorted(x["actions"]) for x in claims["access"]}
    assert got.get(("registry", "catalog")) == ["*"], got
    assert got.get(("repository", pub + "/app")) == ["pull"], got
