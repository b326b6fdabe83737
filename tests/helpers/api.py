"""The admin API (docs/design.md §5; issue 3) as the suites drive it: a client for one dockhand
instance, builders for request bodies, and the checks every answer must pass.

- ensure_admin(D, name="alice", password=ADMIN_PASSWORD) → Api: creates the
  administrator once per instance with `dockhand admin create NAME --password-stdin`.
- Api(D, user, password): .get/.post/.put/.patch/.delete/.head(path, json=, params=,
  headers=, auth=) with paths relative to /api/v2.0. Every answer is checked on the way
  (X-Request-Id present, JSON content type, no secret or hash of any kind except the one
  secret a create or refresh answer hands out, 500 bodies saying only "internal server
  error"). Typed helpers (.create_robot, .robot, .update_robot, .refresh_secret,
  .create_project, .config, .audit, .list_all, …) assert the documented status and
  validate the body against Harbor's definitions (helpers.swagger).
- expect(r, status, model), expect_error(r, status, code), unauthorized(r),
  forbidden(r) … for the tests' own requests.
- Every secret seen (robot secrets, manual secrets sent, administrator passwords) is
  registered with helpers.secrets and here (seen_secrets()) so that the log checks can
  grep for them.
"""

import base64
import calendar
import json
import re
import time
import urllib.parse
import uuid

import requests

from helpers import http, realm, secrets, swagger
from helpers.jwtutil import access_map

API = "/api/v2.0"
ADMIN = "alice"
ADMIN_PASSWORD = "Passw0rd-long"
HTTP_TIMEOUT = 30
DAY = 86400
CLOCK_SLACK = 5           # seconds between our clock and the server's
AUDIT_WAIT = 5.0          # the contract says ~2 s for batched records; some slack for ASan
DEFAULT_PREFIX = "robot$"

GENERATED_SECRET = re.compile(r"^[A-Za-z0-9]{32}$")
RFC3339 = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")
LINK_ITEM = re.compile(r'^<(/api/v2\.0/[^<>\s]*)>; rel="(next|prev)"$')

# GET /permissions: the seed document's ten project permissions plus repository delete;
# system robots may also hold catalog read.
PROJECT_PERMISSIONS = frozenset({
    ("repository", "push"), ("repository", "pull"), ("artifact", "delete"),
    ("helm-chart", "read"), ("helm-chart-version", "create"),
    ("helm-chart-version", "delete"), ("tag", "create"), ("tag", "delete"),
    ("artifact-label", "create"), ("scan", "create"), ("repository", "delete"),
})
SYSTEM_ONLY_PERMISSIONS = frozenset({("catalog", "read")})

# What dockhand promises in each model on top of Harbor's (type-only) definitions.
ROBOT_FIELDS = {"id", "name", "description", "level", "duration", "editable", "disable",
                "expires_at", "permissions", "creation_time", "update_time", "last_used"}
CREATED_FIELDS = {"id", "name", "secret", "creation_time", "expires_at"}
PROJECT_FIELDS = {"project_id", "name", "metadata", "creation_time", "update_time"}
AUDIT_FIELDS = {"id", "username", "resource", "resource_type", "operation", "op_time",
                "client_ip", "request_id", "detail"}
CONFIG_KEYS = {"robot_token_duration", "robot_name_prefix", "token_expiration"}
CONFIG_DEFAULTS = {
    "robot_token_duration": {"value": 30, "editable": True},
    "robot_name_prefix": {"value": "robot$", "editable": True},
    "token_expiration": {"value": 30, "editable": True},
}
# Keys that would betray a secret if they appeared anywhere in an answer.
SECRET_KEYS = {"secret", "salt", "hash", "secret_hash", "password", "password_hash"}
DEFAULT_CODES = {400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN",
                 404: "NOT_FOUND", 409: "CONFLICT"}

SHORT_ACCESS = {"pull": ("repository", "pull"), "push": ("repository", "push"),
                "delete": ("artifact", "delete")}

_SEEN = set()
_NO_BODY = object()
_SAME = object()


class ApiError(AssertionError):
    pass


# ----------------------------------------------------------------------------
# Secrets seen by the suites


def remember(secret, login=None):
    """Registers a secret (and with login its Basic encoding) for the log checks."""
    if not isinstance(secret, str) or len(secret) < 8:
        return
    _SEEN.add(secret)
    secrets.remember(secret, login)
    if login is not None:
        _SEEN.add(base64.b64encode(("%s:%s" % (login, secret)).encode()).decode())


def seen_secrets():
    return sorted(_SEEN)


# ----------------------------------------------------------------------------
# Small helpers


def new_name(prefix="r"):
    """A fresh valid robot or project name."""
    return "%s%s" % (prefix, uuid.uuid4().hex[:10])


def new_request_id(tag="t"):
    return "%s-%s" % (tag, uuid.uuid4().hex[:16])


def epoch(value):
    """RFC 3339 (with Z or an offset, fraction allowed) → Unix seconds."""
    m = RFC3339.match(value or "")
    assert m, "%r is not an RFC 3339 date-time" % (value,)
    y, mo, d, h, mi, s = (int(x) for x in m.groups()[:6])
    t = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
    tz = m.group(8)
    if tz not in ("Z", "z"):
        sign = 1 if tz[0] == "+" else -1
        t -= sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    return t


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def poll(fn, timeout=AUDIT_WAIT, what="condition", interval=0.05):
    """Calls fn until it returns something true; returns that, or fails after timeout
    naming what and the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise ApiError("%s not met within %.1fs (last: %r)" % (what, timeout, value))
        time.sleep(interval)


def keys_anywhere(obj):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield k
            yield from keys_anywhere(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from keys_anywhere(v)


def values_anywhere(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield v
            yield from values_anywhere(v)
    elif isinstance(obj, list):
        for v in obj:
            yield v
            yield from values_anywhere(v)
    else:
        return


def show(r):
    req = getattr(r, "request", None)
    line = "%s %s\n" % (req.method, req.url) if req is not None else ""
    return line + realm.show(r)


# ----------------------------------------------------------------------------
# Request bodies


def access(*items):
    """[{"resource","action"}…] from "pull"/"push"/"delete", "resource:action" or
    (resource, action)."""
    out = []
    for item in items:
        if isinstance(item, tuple):
            res, act = item
        elif item in SHORT_ACCESS:
            res, act = SHORT_ACCESS[item]
        else:
            res, _, act = item.partition(":")
        out.append({"resource": res, "action": act})
    return out


def perm(namespace, *items, kind="project"):
    """One RobotPermission: kind "project" on a project name or "*"."""
    return {"kind": kind, "namespace": namespace, "access": access(*items)}


def catalog_perm():
    """The system permission catalog:read (namespace "/")."""
    return {"kind": "system", "namespace": "/", "access": access(("catalog", "read"))}


def robot_body(name, *perms, level="system", duration=None, description=None, disable=None,
               **extra):
    body = {"name": name, "level": level, "permissions": list(perms)}
    if duration is not None:
        body["duration"] = duration
    if description is not None:
        body["description"] = description
    if disable is not None:
        body["disable"] = disable
    body.update(extra)
    return body


def normalize_permissions(perms):
    """Permissions as a comparable set: {(kind, namespace, frozenset((res, act)…))}."""
    out = set()
    for p in perms:
        pairs = frozenset((a["resource"], a["action"]) for a in p.get("access", []))
        out.add((p["kind"], p["namespace"], pairs))
    return out


# ----------------------------------------------------------------------------
# Checks of answers


def check_common(r, allowed_secret=None):
    """What every admin API answer must satisfy."""
    rid = r.headers.get("X-Request-Id")
    assert rid, "no X-Request-Id\n" + show(r)
    if r.status_code == 500:
        body = json.loads(r.content)
        assert isinstance(body, dict) and list(body) == ["errors"], show(r)
        assert [e.get("message") for e in body["errors"]] == ["internal server error"], show(r)
    if r.request.method != "HEAD" and r.content:
        ctype = r.headers.get("Content-Type", "").split(";")[0].strip()
        assert ctype == "application/json", "Content-Type %r\n%s" % (ctype, show(r))
    text = r.content.decode("utf-8", "replace")
    assert "pbkdf2" not in text.lower(), "a hash in an answer\n" + show(r)
    leaked = [s for s in _SEEN if s in text and s != allowed_secret]
    assert not leaked, "secrets in an answer: %r\n%s" % (leaked[:3], show(r))
    return r


def body_of(r):
    if not r.content:
        return None
    try:
        return json.loads(r.content)
    except ValueError:
        raise ApiError("answer is not JSON\n" + show(r))


def expect(r, status, model=None, many=False):
    """Asserts the status; validates the JSON body against Harbor's definition model
    (many: an array of it); returns the body (None when empty)."""
    assert r.status_code == status, "expected %s\n%s" % (status, show(r))
    body = body_of(r)
    if model is not None:
        assert body is not None, "empty body, expected %s\n%s" % (model, show(r))
        if many:
            assert isinstance(body, list), show(r)
            swagger.validate_list(model, body)
        else:
            assert isinstance(body, dict), show(r)
            swagger.validate(model, body)
    return body


def expect_error(r, status, code=_SAME):
    """An error answer: {"errors":[{"code","message"}…]}, Harbor's Errors model; code
    defaults to the one README "Admin API" names for the status (None: any)."""
    assert r.status_code == status, "expected %s\n%s" % (status, show(r))
    if r.request.method == "HEAD":
        assert not r.content, show(r)
        return None
    ctype = r.headers.get("Content-Type", "").split(";")[0].strip()
    assert ctype == "application/json", "Content-Type %r\n%s" % (ctype, show(r))
    body = body_of(r)
    assert isinstance(body, dict), show(r)
    swagger.validate("Errors", body)
    errors = body.get("errors")
    assert isinstance(errors, list) and errors, show(r)
    for e in errors:
        swagger.validate("Error", e)
        assert isinstance(e.get("code"), str) and e["code"], show(r)
        assert isinstance(e.get("message"), str) and e["message"].strip(), show(r)
    if code is _SAME:
        code = DEFAULT_CODES.get(status)
    if code is not None:
        assert errors[0]["code"] == code, "expected code %s\n%s" % (code, show(r))
    return body


def bad_request(r):
    return expect_error(r, 400)


def not_found(r):
    return expect_error(r, 404)


def conflict(r):
    return expect_error(r, 409)


def forbidden(r):
    return expect_error(r, 403)


def unauthorized(r):
    """401 with the Basic challenge and code UNAUTHORIZED (a HEAD answer has no body)."""
    assert r.status_code == 401, show(r)
    challenge = r.headers.get("WWW-Authenticate", "")
    assert re.match(r'^Basic realm="[^"]*"', challenge), "challenge %r\n%s" % (challenge,
                                                                             show(r))
    return expect_error(r, 401, "UNAUTHORIZED")


def check_generated_secret(s):
    assert isinstance(s, str) and GENERATED_SECRET.match(s), s
    assert re.search(r"[A-Z]", s) and re.search(r"[a-z]", s) and re.search(r"[0-9]", s), s


def check_created(created, prefix=DEFAULT_PREFIX):
    """A RobotCreated answer: exactly the export keys, a generated secret."""
    swagger.validate("RobotCreated", created)
    assert set(created) == CREATED_FIELDS, created
    assert isinstance(created["id"], int) and created["id"] > 0, created
    assert created["name"].startswith(prefix), created
    check_generated_secret(created["secret"])
    created_at = epoch(created["creation_time"])
    assert abs(created_at - time.time()) <= CLOCK_SLACK + 5, created
    return created


def check_robot(robot, prefix=DEFAULT_PREFIX, consistent=True):
    """A Robot as GET /robots[/{id}] shows it. consistent: expires_at follows from
    creation_time and duration (false for robots whose expiry a test forced)."""
    swagger.validate("Robot", robot)
    for p in robot.get("permissions") or []:
        swagger.validate("RobotPermission", p)
        for a in p.get("access") or []:
            swagger.validate("Access", a)
    missing = ROBOT_FIELDS - set(robot)
    assert not missing, "Robot without %s: %r" % (sorted(missing), robot)
    bad_keys = SECRET_KEYS & set(keys_anywhere(robot))
    assert not bad_keys, "Robot shows %s: %r" % (sorted(bad_keys), robot)
    assert isinstance(robot["id"], int) and robot["id"] > 0, robot
    assert robot["level"] in ("system", "project"), robot
    if prefix is not None:
        assert robot["name"].startswith(prefix), (prefix, robot)
    assert isinstance(robot["description"], str), robot
    assert type(robot["duration"]) is int, robot
    assert type(robot["disable"]) is bool and type(robot["editable"]) is bool, robot
    assert type(robot["expires_at"]) is int, robot
    assert isinstance(robot["permissions"], list), robot
    for p in robot["permissions"]:
        assert p.get("kind") in ("project", "system"), robot
        assert isinstance(p.get("namespace"), str) and p["namespace"], robot
        assert isinstance(p.get("access"), list), robot
    created_at = epoch(robot["creation_time"])
    epoch(robot["update_time"])
    if robot["last_used"] is not None:
        epoch(robot["last_used"])
    if consistent:
        if robot["duration"] == -1:
            assert robot["expires_at"] == -1, robot
        else:
            assert abs(robot["expires_at"] - (created_at + robot["duration"] * DAY)) <= 2, robot
    return robot


def check_project(project):
    swagger.validate("Project", project)
    missing = PROJECT_FIELDS - set(project)
    assert not missing, "Project without %s: %r" % (sorted(missing), project)
    assert isinstance(project["project_id"], int) and project["project_id"] > 0, project
    assert isinstance(project["metadata"], dict), project
    assert project["metadata"].get("public") in ("true", "false"), project
    epoch(project["creation_time"])
    epoch(project["update_time"])
    return project


def check_audit(entry):
    swagger.validate("AuditLog", entry)
    missing = AUDIT_FIELDS - set(entry)
    assert not missing, "AuditLog without %s: %r" % (sorted(missing), entry)
    assert isinstance(entry["id"], int), entry
    for k in ("username", "resource", "resource_type", "operation"):
        assert isinstance(entry[k], str), entry
    epoch(entry["op_time"])
    return entry


def detail_of(entry):
    """An audit record's detail as JSON (it may come as an object or as JSON text)."""
    d = entry.get("detail")
    if isinstance(d, str) and d[:1] in ("{", "["):
        try:
            return json.loads(d)
        except ValueError:
            return d
    return d


def parse_link(header):
    """A Link header of the contract's form → {"next": (path, {param: value}),
    "prev": …}; asserts the exact form `<PATH?QUERY>; rel="next"`, joined by ", "."""
    out = {}
    if not header:
        return out
    for item in header.split(", "):
        m = LINK_ITEM.match(item)
        assert m, "Link item %r is not </api/v2.0/…>; rel=\"next|prev\" (header %r)" % (
            item, header)
        target, rel = m.groups()
        assert rel not in out, "rel=%s twice in %r" % (rel, header)
        parsed = urllib.parse.urlsplit(target)
        params = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        for k, v in params.items():
            assert len(v) == 1, "%s repeated in %r" % (k, target)
        out[rel] = (parsed.path, {k: v[0] for k, v in params.items()}, target)
    return out


def total_count(r):
    v = r.headers.get("X-Total-Count")
    assert v is not None and v.isdigit(), "X-Total-Count %r\n%s" % (v, show(r))
    return int(v)


# ----------------------------------------------------------------------------
# Tokens (the realm), for checking what robots made through the API can do


def login_status(d, name, secret, scopes=()):
    """The realm's status for these credentials (200 or 401; anything else fails)."""
    r = d.token(auth=(name, secret), scopes=list(scopes))
    assert r.status_code in (200, 401), realm.show(r)
    if r.status_code == 401:
        realm.unauthorized(d, r)
    return r.status_code


def can_login(d, name, secret):
    return login_status(d, name, secret) == 200


def granted(d, name, secret, repo, actions="pull,push,delete"):
    """Sorted registry actions the realm grants on repo (None: login refused)."""
    r = d.token(auth=(name, secret), scopes=["repository:%s:%s" % (repo, actions)])
    if r.status_code == 401:
        realm.unauthorized(d, r)
        return None
    _, claims = realm.token_ok(d, r, sub=name)
    return access_map(claims).get(("repository", repo, None), [])


def refresh_token(d, name, secret):
    r = d.token(method="POST", auth=(name, secret), access_type="offline")
    body, _ = realm.token_ok(d, r, sub=name, refresh=True)
    return body["refresh_token"]


def refresh_works(d, rt):
    r = d.token(method="POST", grant_type="refresh_token", refresh_token=rt)
    assert r.status_code in (200, 401), realm.show(r)
    return r.status_code == 200


# ----------------------------------------------------------------------------
# The client


class Api:
    """The admin API of one dockhand instance, as one user (or none)."""

    def __init__(self, d, user=ADMIN, password=ADMIN_PASSWORD):
        self.d = d
        self.user = user
        self.password = password
        self.auth = (user, password) if user is not None else None
        self.session = requests.Session()
        if user is not None:
            remember(password, user)

    def __repr__(self):
        return "Api(%s as %s)" % (self.d.url, self.user)

    def as_user(self, user, password):
        return Api(self.d, user, password)

    def anonymous(self):
        return Api(self.d, None, None)

    def url(self, path):
        return self.d.url + API + path

    # -- raw requests -----------------------------------------------------

    def request(self, method, path, json=_NO_BODY, data=None, params=None, headers=None,
                auth=_SAME, timeout=HTTP_TIMEOUT):
        """One request; the answer passes check_common(). json: a body to encode (or
        data: bytes/str sent as application/json unless headers say otherwise)."""
        self.d.touched_by.add(_current_test())
        hdrs = dict(headers or {})
        kw = {}
        if json is not _NO_BODY:
            kw["data"] = _json_dumps(json)
            hdrs.setdefault("Content-Type", "application/json")
        elif data is not None:
            kw["data"] = data
            hdrs.setdefault("Content-Type", "application/json")
        r = self.session.request(method, self.url(path), params=params, headers=hdrs,
                                 auth=self.auth if auth is _SAME else auth,
                                 allow_redirects=False, timeout=timeout, **kw)
        allowed = None
        if method in ("POST", "PATCH") and r.status_code in (200, 201):
            b = _maybe_json(r)
            if isinstance(b, dict) and isinstance(b.get("secret"), str):
                allowed = b["secret"]
        check_common(r, allowed_secret=allowed)
        secrets.keep_error_body(r)
        if allowed:
            remember(allowed)
        return r

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, json=_NO_BODY, **kw):
        return self.request("POST", path, json=json, **kw)

    def put(self, path, json=_NO_BODY, **kw):
        return self.request("PUT", path, json=json, **kw)

    def patch(self, path, json=_NO_BODY, **kw):
        return self.request("PATCH", path, json=json, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def head(self, path, **kw):
        return self.request("HEAD", path, **kw)

    def raw(self, method, path, body=None, headers=None, auth=_SAME, chunked=False):
        """Byte-level request (helpers.http): bodies `requests` would not send as
        written, or that the server may refuse before reading."""
        hdrs = {"Content-Type": "application/json"}
        creds = self.auth if auth is _SAME else auth
        if creds is not None:
            hdrs["Authorization"] = "Basic " + base64.b64encode(
                ("%s:%s" % creds).encode()).decode()
        hdrs.update(headers or {})
        return http.request(self.d.port, method, API + path, headers=hdrs, body=body,
                            chunked=chunked, timeout=HTTP_TIMEOUT)

    # -- robots -----------------------------------------------------------

    def create_robot(self, name, *perms, level="system", prefix=DEFAULT_PREFIX, headers=None,
                     **fields):
        """POST /robots → the RobotCreated answer (checked: 201, Location, model)."""
        body = robot_body(name, *perms, level=level, **fields)
        swagger.validate("RobotCreate", body)
        r = self.post("/robots", json=body, headers=headers)
        created = expect(r, 201, "RobotCreated")
        check_created(created, prefix=prefix)
        assert r.headers.get("Location") == "%s/robots/%d" % (API, created["id"]), show(r)
        remember(created["secret"], created["name"])
        return created

    def robot(self, robot_id, prefix=DEFAULT_PREFIX, consistent=True):
        r = self.get("/robots/%s" % robot_id)
        return check_robot(expect(r, 200, "Robot"), prefix=prefix, consistent=consistent)

    def robots(self, params=None, prefix=DEFAULT_PREFIX):
        """GET /robots → (list of Robot, response); 200 asserted, each robot checked."""
        r = self.get("/robots", params=params)
        items = expect(r, 200, "Robot", many=True)
        for robot in items:
            check_robot(robot, prefix=prefix, consistent=False)
        total_count(r)
        return items, r

    def update_robot(self, robot_id, headers=None, **changes):
        """GET, change, PUT the whole Robot back (as Harbor's UI does); 200 asserted.
        Returns the robot as GET shows it afterwards."""
        robot = self.robot(robot_id, consistent=False)
        robot.update(changes)
        swagger.validate("Robot", robot)
        r = self.put("/robots/%s" % robot_id, json=robot, headers=headers)
        expect(r, 200)
        return self.robot(robot_id, consistent=False)

    def refresh_secret(self, robot_id, secret=None, headers=None):
        """PATCH /robots/{id}: {} → the new generated secret; {"secret": s} → s (the
        answer must not echo it)."""
        body = {} if secret is None else {"secret": secret}
        if secret is not None:
            remember(secret)
        swagger.validate("RobotSec", body)
        r = self.patch("/robots/%s" % robot_id, json=body, headers=headers)
        out = expect(r, 200)
        if secret is None:
            swagger.validate("RobotSec", out)
            assert set(out) == {"secret"}, show(r)
            check_generated_secret(out["secret"])
            return out["secret"]
        assert secret not in r.text, "manual secret echoed\n" + show(r)
        if out is not None:
            assert isinstance(out, dict), show(r)
            swagger.validate("RobotSec", out)
            assert not out.get("secret"), show(r)
        return secret

    def delete_robot(self, robot_id, headers=None):
        expect(self.delete("/robots/%s" % robot_id, headers=headers), 200)
        not_found(self.get("/robots/%s" % robot_id))

    # -- projects ---------------------------------------------------------

    def create_project(self, name, public=False, headers=None):
        """POST /projects, then GET its Location → the Project."""
        body = {"project_name": name, "metadata": {"public": "true" if public else "false"}}
        swagger.validate("ProjectReq", body)
        r = self.post("/projects", json=body, headers=headers)
        expect(r, 201)
        loc = r.headers.get("Location", "")
        m = re.fullmatch(re.escape(API) + r"/projects/(\d+)", loc)
        assert m, "Location %r\n%s" % (loc, show(r))
        project = self.project(m.group(1))
        assert project["project_id"] == int(m.group(1)), project
        assert project["name"] == name, project
        assert project["metadata"]["public"] == ("true" if public else "false"), project
        return project

    def project(self, ref):
        r = self.get("/projects/%s" % urllib.parse.quote(str(ref), safe=""))
        return check_project(expect(r, 200, "Project"))

    def delete_project(self, ref, headers=None):
        expect(self.delete("/projects/%s" % ref, headers=headers), 200)
        not_found(self.get("/projects/%s" % ref))

    # -- settings ---------------------------------------------------------

    def config(self):
        body = expect(self.get("/configurations"), 200, "ConfigurationsResponse")
        for key, item in body.items():
            swagger.validate("IntegerConfigItem" if isinstance(item.get("value"), int)
                             else "StringConfigItem", item)
        return body

    def set_config(self, headers=None, **values):
        swagger.validate("Configurations", values)
        expect(self.put("/configurations", json=values, headers=headers), 200)
        now = self.config()
        for k, v in values.items():
            assert now[k]["value"] == v, (k, now)
        return now

    # -- audit ------------------------------------------------------------

    def audit(self, params=None):
        """GET /audit-logs → (entries, response); each entry checked."""
        r = self.get("/audit-logs", params=params)
        items = expect(r, 200, "AuditLog", many=True)
        for e in items:
            check_audit(e)
        total_count(r)
        return items, r

    def find_audit(self, timeout=AUDIT_WAIT, **match):
        """Polls the newest 100 audit records for one whose fields equal match."""
        def look():
            items, _ = self.audit({"page_size": "100"})
            found = [e for e in items if all(e.get(k) == v for k, v in match.items())]
            return found[0] if found else None
        return poll(look, timeout, "an audit record with %r" % (match,))

    # -- lists ------------------------------------------------------------

    def list_all(self, path, params=None, model="Robot", page_size=None):
        """Every item of a paged list, following the Link header's rel="next" from page
        one; checks X-Total-Count on every page and that the count adds up."""
        params = dict(params or {})
        if page_size is not None:
            params["page_size"] = str(page_size)
        r = self.get(path, params=params)
        out = []
        total = None
        pages = 0
        while True:
            items = expect(r, 200, model, many=True)
            n = total_count(r)
            assert total is None or n == total, "X-Total-Count changed while paging"
            total = n
            out += items
            pages += 1
            assert pages <= 1000, "endless paging"
            links = parse_link(r.headers.get("Link"))
            if "next" not in links:
                break
            target = links["next"][2]
            r = self.session.get(self.d.url + target, auth=self.auth, allow_redirects=False,
                                 timeout=HTTP_TIMEOUT)
            check_common(r)
        assert len(out) == total, "paged %d items, X-Total-Count %d" % (len(out), total)
        return out


def ensure_admin(d, name=ADMIN, password=ADMIN_PASSWORD, create=True):
    """The administrator name on instance d (created once per instance, through the
    CLI; create=False when another instance on the same database made it) → Api."""
    made = d.__dict__.setdefault("_api_admins", {})
    if create and made.get(name) != password:
        remember(password, name)
        d.cli("admin", "create", name, "--password-stdin", input=password)
        made[name] = password
    return Api(d, name, password)


def set_federation(d, robot_id, rules):
    """Replaces robot_id's federation rules on instance d through the API (PUT
    /api/v2.0/robots/{id}/federation, as the administrator); returns the rules stored."""
    r = ensure_admin(d).put("/robots/%d/federation" % robot_id, json=rules)
    assert r.status_code == 200, (r.status_code, r.text)
    return r.json()


def _json_dumps(obj):
    if isinstance(obj, (bytes, str)):
        return obj
    return json.dumps(obj)


def _maybe_json(r):
    try:
        return json.loads(r.content)
    except ValueError:
        return None


def _current_test():
    from helpers import dockhand as dh
    return dh.CURRENT_TEST
