"""The web page's sessions (issue 5): sign-in with an administrator's name and password
at /c/login (Harbor's form fields), a session cookie (HttpOnly, SameSite=Strict, Secure
under an https public URL), /c/session to resume, /c/log_out, the API authenticated by
the cookie with a CSRF header for changes, idle and absolute expiry, sessions in
PostgreSQL (any instance serves them), and the token stored only as its SHA-256."""

import hashlib
import json
import re
import time

import pytest
import requests

from helpers import api as A
from helpers import secrets

COOKIE = "dockhand_session"
CSRF = "X-Harbor-CSRF-Token"
TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")
SET_COOKIE = re.compile(r"^dockhand_session=([A-Za-z0-9_-]{43}); Path=/; HttpOnly; "
                        r"SameSite=Strict(; Secure)?$")
EXPIRE_COOKIE = re.compile(r"^dockhand_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; "
                           r"Expires=Thu, 01 Jan 1970 00:00:00 GMT(; Secure)?$")
FORBIDDEN_CSRF = {"errors": [{"code": "FORBIDDEN", "message": "CSRF token invalid"}]}
FORBIDDEN_ROBOT = {"errors": [{"code": "FORBIDDEN", "message": "robot accounts cannot sign in"}]}
TIMEOUT = 30

_SEEN = []  # every session and CSRF token handed out here, for the log check at the end


def remember(*values):
    for v in values:
        _SEEN.append(v)
        secrets.remember(v)


class Browser:
    """What the page does: sign in, then send the session cookie (explicitly, so that a
    test decides what is sent, not a cookie jar) and the CSRF header."""

    def __init__(self, d):
        self.d = d
        self.csrf = None
        self.token = None

    def cookies(self, headers=None):
        h = dict(headers or {})
        if self.token is not None:
            h.setdefault("Cookie", "%s=%s" % (COOKIE, self.token))
        return h

    def login(self, principal=A.ADMIN, password=A.ADMIN_PASSWORD, expect=200):
        r = requests.post(self.d.url + "/c/login", data={"principal": principal,
                                                         "password": password},
                          timeout=TIMEOUT, allow_redirects=False)
        assert r.status_code == expect, A.show(r)
        if expect == 200:
            body = r.json()
            assert set(body) == {"username", "csrf_token"}, body
            assert body["username"] == principal
            m = SET_COOKIE.match(r.headers.get("Set-Cookie", ""))
            assert m, r.headers.get("Set-Cookie")
            self.token = m.group(1)
            self.csrf = body["csrf_token"]
            assert TOKEN.match(self.csrf) and self.csrf != self.token
            remember(self.token, self.csrf)
        return r

    def session(self, method="GET"):
        return requests.request(method, self.d.url + "/c/session", headers=self.cookies(),
                                timeout=TIMEOUT)

    def log_out(self, csrf=True):
        headers = {CSRF: self.csrf} if csrf is True else ({CSRF: csrf} if csrf else {})
        return requests.post(self.d.url + "/c/log_out", headers=self.cookies(headers),
                             timeout=TIMEOUT)

    def api(self, method, path, csrf=True, **kw):
        headers = dict(kw.pop("headers", {}))
        if csrf is True and self.csrf:
            headers[CSRF] = self.csrf
        elif csrf not in (True, False, None):
            headers[CSRF] = csrf
        r = requests.request(method, self.d.url + A.API + path, headers=self.cookies(headers),
                             timeout=TIMEOUT, allow_redirects=False, **kw)
        A.check_common(r)
        return r

    def with_cookie(self, token):
        self.token = token
        return self


def unauthorized_body(r):
    """The one 401 of sign-in and sessions: no Basic challenge (a browser would pop up
    its password dialog), Harbor's error model."""
    assert r.status_code == 401, A.show(r)
    assert "WWW-Authenticate" not in r.headers, r.headers
    A.expect_error(r, 401, "UNAUTHORIZED")
    return r.content


def sessions(d):
    return int(d.sql("SELECT count(*) FROM sessions").strip())


def projects(d):
    return sorted(d.sql("SELECT name FROM projects").split())


@pytest.fixture(scope="module")
def d(dockhand):
    A.ensure_admin(dockhand)
    A.ensure_admin(dockhand, "carol", "Carol-Passw0rd-1")
    return dockhand


@pytest.fixture(scope="module")
def robot(d):
    return d.create_robot("webbot", projects={"p": ["pull", "push"]})


# -- sign-in ------------------------------------------------------------------


def test_login_sets_a_session_cookie_and_answers_the_csrf_token(d):
    b = Browser(d)
    r = b.login()
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers["Cache-Control"] == "no-store"
    assert "; Secure" not in r.headers["Set-Cookie"]  # the default realm is http
    assert r.headers.get("X-Request-Id")
    assert b.session().json() == {"username": A.ADMIN, "csrf_token": b.csrf}
    again = Browser(d)
    again.login()
    assert again.token != b.token and again.csrf != b.csrf


def test_login_form_may_carry_a_charset(d):
    r = requests.post(d.url + "/c/login", data="principal=alice&password=Passw0rd-long",
                      headers={"Content-Type":
                               "application/x-www-form-urlencoded; charset=UTF-8"},
                      timeout=TIMEOUT)
    assert r.status_code == 200, A.show(r)
    remember(SET_COOKIE.match(r.headers["Set-Cookie"]).group(1), r.json()["csrf_token"])


def test_secure_cookie_when_the_public_url_is_https(dockhand_factory):
    d = dockhand_factory(DOCKHAND_REALM="https://registry.example.com/service/token")
    A.ensure_admin(d)
    r = requests.post(d.url + "/c/login", data={"principal": A.ADMIN,
                                                "password": A.ADMIN_PASSWORD},
                      timeout=TIMEOUT)
    assert r.status_code == 200, A.show(r)
    m = SET_COOKIE.match(r.headers["Set-Cookie"])
    assert m and m.group(2) == "; Secure", r.headers["Set-Cookie"]
    token = m.group(1)
    remember(token, r.json()["csrf_token"])
    out = requests.post(d.url + "/c/log_out", headers={"Cookie": "%s=%s" % (COOKIE, token),
                                                       CSRF: r.json()["csrf_token"]},
                        timeout=TIMEOUT)
    assert out.status_code == 200, A.show(out)
    m = EXPIRE_COOKIE.match(out.headers["Set-Cookie"])
    assert m and m.group(1) == "; Secure", out.headers["Set-Cookie"]


def test_every_bad_sign_in_is_the_same_401(d, robot):
    before = sessions(d)
    wrong_secret = robot["secret"][:-1] + ("0" if robot["secret"][-1] != "0" else "1")
    cases = {
        "unknown name": ("mallory", A.ADMIN_PASSWORD),
        "wrong password": (A.ADMIN, "Passw0rd-wrong"),
        "password with one more character": (A.ADMIN, A.ADMIN_PASSWORD + "!"),
        "empty password": (A.ADMIN, ""),
        "empty name": ("", A.ADMIN_PASSWORD),
        "another administrator's password": ("carol", A.ADMIN_PASSWORD),
        "robot with a wrong secret": (robot["name"], wrong_secret),
        "robot name without prefix": ("webbot", robot["secret"]),
    }
    bodies = {}
    for why, (user, password) in cases.items():
        secrets.remember(password, user)
        r = Browser(d).login(user, password, expect=401)
        assert "Set-Cookie" not in r.headers, why
        bodies[why] = unauthorized_body(r)
    assert len(set(bodies.values())) == 1, bodies
    assert json.loads(next(iter(bodies.values()))) == {
        "errors": [{"code": "UNAUTHORIZED", "message": "administrator credentials required"}]}
    assert sessions(d) == before


def test_a_robot_cannot_sign_in(d, robot):
    before = sessions(d)
    r = Browser(d).login(robot["name"], robot["secret"], expect=403)
    assert r.json() == FORBIDDEN_ROBOT
    assert "Set-Cookie" not in r.headers
    assert sessions(d) == before
    assert A.can_login(d, robot["name"], robot["secret"])  # still a working robot


def test_a_robot_has_no_cookie_path_either(d, robot):
    """Its secret, its name or a token of its own shape as a cookie are no sessions."""
    for value in (robot["secret"], robot["name"], "A" * 43):
        b = Browser(d).with_cookie(value)
        unauthorized_body(b.session())
        unauthorized_body(b.api("GET", "/robots"))
        r = b.api("POST", "/projects", json={"project_name": "byrobot"}, csrf="x" * 43)
        assert r.status_code == 401, A.show(r)
    assert "byrobot" not in projects(d)


@pytest.mark.parametrize("case", ["no-principal", "no-password", "nothing", "bad-escape",
                                  "json", "no-content-type", "multipart", "too-large",
                                  "get", "put"])
def test_malformed_sign_in_is_a_4xx_and_changes_nothing(d, case):
    before = sessions(d)
    url = d.url + "/c/login"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    if case == "no-principal":
        r, status = requests.post(url, data={"password": A.ADMIN_PASSWORD}), 400
    elif case == "no-password":
        r, status = requests.post(url, data={"principal": A.ADMIN}), 400
    elif case == "nothing":
        r, status = requests.post(url, data="", headers=form), 400
    elif case == "bad-escape":
        r, status = requests.post(url, data="principal=%zz&password=x", headers=form), 400
    elif case == "json":
        r, status = requests.post(url, json={"principal": A.ADMIN,
                                             "password": A.ADMIN_PASSWORD}), 415
    elif case == "no-content-type":
        r, status = requests.post(url, data=b"principal=alice&password=Passw0rd-long",
                                  headers={"Content-Type": ""}), 415
    elif case == "multipart":
        r, status = requests.post(url, files={"principal": (None, A.ADMIN),
                                              "password": (None, A.ADMIN_PASSWORD)}), 415
    elif case == "too-large":
        r, status = requests.post(url, data={"principal": A.ADMIN,
                                             "password": A.ADMIN_PASSWORD,
                                             "pad": "x" * 9000}), 413
    elif case == "get":
        r, status = requests.get(url), 405
    else:
        r, status = requests.put(url, data={"principal": A.ADMIN,
                                            "password": A.ADMIN_PASSWORD}), 405
    assert r.status_code == status, A.show(r)
    A.expect_error(r, status, None)
    assert "Set-Cookie" not in r.headers
    if status == 405:
        assert r.headers.get("Allow") == "POST"
    assert sessions(d) == before
    assert d.running


def _assert_429(r):
    A.expect_error(r, 429, None)
    assert "Set-Cookie" not in r.headers
    ra = r.headers.get("Retry-After", "")
    assert ra.isdigit() and 1 <= int(ra) <= 60, A.show(r)


def test_too_many_failures_for_one_account_is_429(dockhand_factory):
    d = dockhand_factory(DOCKHAND_FAIL_LIMIT_ACCOUNT=3, DOCKHAND_FAIL_LIMIT_ADDRESS=1000)
    A.ensure_admin(d)
    bob = A.ensure_admin(d, "bob", "Bob-Passw0rd-1")
    for _ in range(3):
        Browser(d).login(A.ADMIN, "Wrong-Passw0rd", expect=401)
    _assert_429(Browser(d).login(A.ADMIN, "Wrong-Passw0rd", expect=429))
    # the right password is locked out too, here and on the API (one set of limits)
    _assert_429(Browser(d).login(expect=429))
    _assert_429(A.Api(d).get("/robots"))
    assert sessions(d) == 0
    # another administrator from the same address is not
    Browser(d).login("bob", "Bob-Passw0rd-1")
    A.expect(bob.get("/robots"), 200)


def test_too_many_failures_from_one_address_is_429(dockhand_factory):
    d = dockhand_factory(DOCKHAND_FAIL_LIMIT_ACCOUNT=1000, DOCKHAND_FAIL_LIMIT_ADDRESS=3)
    A.ensure_admin(d)
    Browser(d).login("guess0", "Wrong-Passw0rd", expect=401)
    A.unauthorized(A.Api(d, "guess1", "Wrong-Passw0rd").get("/robots"))  # Basic counts too
    Browser(d).login("guess2", "Wrong-Passw0rd", expect=401)
    _assert_429(Browser(d).login("guess3", "Wrong-Passw0rd", expect=429))
    _assert_429(Browser(d).login(expect=429))
    assert sessions(d) == 0


# -- the session --------------------------------------------------------------


def test_session_resumes_and_touches_last_seen(d):
    b = Browser(d)
    b.login()
    h = hashlib.sha256(b.token.encode()).hexdigest()
    d.sql("UPDATE sessions SET last_seen = now() - interval '10 minutes' "
          "WHERE token_sha256 = '%s'" % h)
    r = b.session()
    assert r.status_code == 200, A.show(r)
    assert r.json() == {"username": A.ADMIN, "csrf_token": b.csrf}
    assert r.headers["Cache-Control"] == "no-store"
    age = float(d.sql("SELECT extract(epoch FROM now() - last_seen) FROM sessions "
                      "WHERE token_sha256 = '%s'" % h))
    assert age < 60, "last_seen not moved: %s s old" % age
    head = b.session("HEAD")
    assert head.status_code == 200 and head.content == b""


def test_no_or_unknown_cookie_is_401(d):
    unauthorized_body(Browser(d).session())
    for value in ("", "x", "A" * 43, "A" * 44, "%41" * 43, "a b", "x" * 5000):
        unauthorized_body(Browser(d).with_cookie(value).session())
    r = requests.post(d.url + "/c/session", timeout=TIMEOUT)
    assert r.status_code == 405 and r.headers.get("Allow") == "GET, HEAD"
    r = requests.get(d.url + "/c/nothing", timeout=TIMEOUT)
    A.expect_error(r, 404)


def test_the_cookie_is_found_among_others(d):
    b = Browser(d)
    b.login()
    for header in ("a=1; %s=%s; b=2", "%s=\"%s\"", "other=x;%s=%s", "%s = %s ;z=1"):
        r = requests.get(d.url + "/c/session",
                         headers={"Cookie": header % (COOKIE, b.token)}, timeout=TIMEOUT)
        assert r.status_code == 200, (header, A.show(r))
    r = requests.get(d.url + "/c/session",
                     headers={"Cookie": "x%s=%s" % (COOKIE, b.token)}, timeout=TIMEOUT)
    unauthorized_body(r)


def test_log_out_needs_the_csrf_header_and_kills_the_cookie(d):
    b = Browser(d)
    b.login()
    before = sessions(d)
    for csrf in (None, "", "x" * 43, b.csrf[:-1], b.csrf + "x", b.token):
        r = b.log_out(csrf=csrf)
        assert r.status_code == 403, A.show(r)
        assert r.json() == FORBIDDEN_CSRF
        assert "Set-Cookie" not in r.headers
    assert sessions(d) == before
    assert b.session().status_code == 200
    token = b.token
    r = b.log_out()
    assert r.status_code == 200, A.show(r)
    assert r.json() == {}
    assert EXPIRE_COOKIE.match(r.headers["Set-Cookie"]), r.headers["Set-Cookie"]
    assert sessions(d) == before - 1
    # replaying the old cookie does nothing any more
    replay = Browser(d).with_cookie(token)
    unauthorized_body(replay.session())
    unauthorized_body(replay.api("GET", "/robots"))
    unauthorized_body(replay.log_out(csrf=b.csrf))
    r = replay.api("POST", "/projects", json={"project_name": "afterlogout"}, csrf=b.csrf)
    unauthorized_body(r)
    assert "afterlogout" not in projects(d)
    r = requests.get(d.url + "/c/log_out", timeout=TIMEOUT)
    assert r.status_code == 405 and r.headers.get("Allow") == "POST"


def test_log_out_ends_only_that_session(d):
    one, two = Browser(d), Browser(d)
    one.login()
    two.login()
    assert one.log_out().status_code == 200
    assert two.session().status_code == 200
    assert one.session().status_code == 401


# -- the API with the cookie --------------------------------------------------


def test_api_reads_need_no_csrf_header(d):
    b = Browser(d)
    b.login()
    for path in ("/robots", "/projects", "/configurations", "/permissions", "/audit-logs"):
        r = b.api("GET", path, csrf=None)
        A.expect(r, 200)
    r = b.api("HEAD", "/projects", csrf=None, params={"project_name": "p"})
    assert r.status_code == 200


def test_api_changes_need_the_csrf_header(d):
    b = Browser(d)
    b.login()
    a = A.Api(d)
    name = A.new_name("csrf")
    robot = a.create_robot(A.new_name("csrfbot"), A.perm("p", "pull"))
    config = a.config()
    attempts = [
        ("POST", "/projects", {"project_name": name}),
        ("DELETE", "/projects/p", None),
        ("POST", "/robots", A.robot_body(name, A.perm("p", "pull"))),
        ("PUT", "/robots/%d" % robot["id"], {"name": robot["name"], "level": "system",
                                             "disable": True, "permissions": []}),
        ("PATCH", "/robots/%d" % robot["id"], {}),
        ("DELETE", "/robots/%d" % robot["id"], None),
        ("PUT", "/configurations", {"token_expiration": 7}),
    ]
    before = (projects(d), a.robot(robot["id"]), config)
    for method, path, body in attempts:
        for csrf in (None, "", "0" * 43, b.csrf.swapcase(), b.token):
            kw = {"json": body} if body is not None else {}
            r = b.api(method, path, csrf=csrf, **kw)
            assert r.status_code == 403, (method, path, csrf, A.show(r))
            assert r.json() == FORBIDDEN_CSRF
    assert (projects(d), a.robot(robot["id"]), a.config()) == before
    # with the header, as the administrator of the session
    r = b.api("POST", "/projects", json={"project_name": name, "metadata": {"public": "false"}})
    assert r.status_code == 201, A.show(r)
    assert name in projects(d)
    r = b.api("DELETE", "/robots/%d" % robot["id"])
    assert r.status_code == 200, A.show(r)
    entries = A.poll(lambda: [e for e in a.audit({"page_size": 100})[0]
                              if e["resource"] == name and e["operation"] == "create"],
                     what="the audit record of the project")
    assert entries[0]["username"] == A.ADMIN


def test_audit_names_the_session_administrator(d):
    b = Browser(d)
    b.login("carol", "Carol-Passw0rd-1")
    name = A.new_name("bycarol")
    r = b.api("POST", "/projects", json={"project_name": name})
    assert r.status_code == 201, A.show(r)
    row = d.sql("SELECT username FROM audit_log WHERE resource = '%s' AND operation = 'create'"
                % name).strip()
    assert row == "carol"
    logins = d.sql("SELECT count(*) FROM audit_log WHERE operation = 'login' "
                   "AND username = 'carol'").strip()
    assert int(logins) >= 1


def test_basic_still_works_and_wins_over_the_cookie(d):
    b = Browser(d)
    b.login("carol", "Carol-Passw0rd-1")
    A.expect(A.Api(d).get("/robots"), 200)  # Basic alone
    # Basic with a wrong password and a valid cookie: Basic decides
    r = b.api("GET", "/robots", auth=(A.ADMIN, "Wrong-Passw0rd"))
    A.unauthorized(r)
    # Basic as alice and carol's cookie: alice acts, and no CSRF header is needed
    name = A.new_name("basicwins")
    r = b.api("POST", "/projects", csrf=None, auth=(A.ADMIN, A.ADMIN_PASSWORD),
              json={"project_name": name})
    assert r.status_code == 201, A.show(r)
    row = d.sql("SELECT username FROM audit_log WHERE resource = '%s' AND operation = 'create'"
                % name).strip()
    assert row == A.ADMIN
    # and without a cookie or credentials, the Basic challenge is still there
    A.unauthorized(A.Api(d).anonymous().get("/robots"))


def test_browsers_get_no_basic_challenge(d):
    """The page's fetch() calls (Sec-Fetch-Mode other than navigate, or a session
    cookie) get a 401 without WWW-Authenticate, so the browser shows no password
    dialog; scripts and navigations keep the challenge."""
    url = d.url + A.API + "/robots"
    for mode in ("cors", "same-origin", "no-cors"):
        r = requests.get(url, headers={"Sec-Fetch-Mode": mode}, timeout=TIMEOUT)
        unauthorized_body(r)
    A.unauthorized(requests.get(url, headers={"Sec-Fetch-Mode": "navigate"}, timeout=TIMEOUT))
    A.unauthorized(requests.get(url, timeout=TIMEOUT))
    r = requests.get(url, headers={"Sec-Fetch-Mode": "cors", "Cookie": COOKIE + "=x"},
                     auth=(A.ADMIN, "Wrong-Passw0rd"), timeout=TIMEOUT)
    A.unauthorized(r)  # Basic sent: a script, challenged


def test_a_dead_session_on_the_api_is_the_same_401_as_a_bad_sign_in(d):
    bad = unauthorized_body(Browser(d).login(A.ADMIN, "Wrong-Passw0rd", expect=401))
    r = Browser(d).with_cookie("B" * 43).api("GET", "/robots")
    assert unauthorized_body(r) == bad


# -- expiry -------------------------------------------------------------------


def _token_hash(b):
    return hashlib.sha256(b.token.encode()).hexdigest()


def test_idle_session_expires(d):
    b = Browser(d)
    b.login()
    h = _token_hash(b)
    d.sql("UPDATE sessions SET last_seen = now() - interval '29 minutes' "
          "WHERE token_sha256 = '%s'" % h)
    assert b.session().status_code == 200  # within 30 minutes: alive, and touched
    d.sql("UPDATE sessions SET last_seen = now() - interval '30 minutes 1 second' "
          "WHERE token_sha256 = '%s'" % h)
    unauthorized_body(b.api("GET", "/robots"))
    assert d.sql("SELECT count(*) FROM sessions WHERE token_sha256 = '%s'" % h).strip() == "0"
    unauthorized_body(b.session())


def test_absolute_limit_ends_a_busy_session(d):
    b = Browser(d)
    b.login()
    h = _token_hash(b)
    d.sql("UPDATE sessions SET created_at = now() - interval '11 hours 59 minutes' "
          "WHERE token_sha256 = '%s'" % h)
    A.expect(b.api("GET", "/robots"), 200)
    d.sql("UPDATE sessions SET created_at = now() - interval '12 hours 1 second' "
          "WHERE token_sha256 = '%s'" % h)
    r = b.session()
    unauthorized_body(r)
    assert EXPIRE_COOKIE.match(r.headers.get("Set-Cookie", "")), r.headers
    assert d.sql("SELECT count(*) FROM sessions WHERE token_sha256 = '%s'" % h).strip() == "0"


def test_tiny_settings_expire_sessions(dockhand_factory):
    idle_s, max_s = 5, 14
    d = dockhand_factory(DOCKHAND_SESSION_IDLE=idle_s, DOCKHAND_SESSION_MAX=max_s)
    A.ensure_admin(d)
    t0 = time.monotonic()
    busy = Browser(d)
    busy.login()
    idle = Browser(d)
    idle.login()
    assert idle.session().status_code == 200
    t_idle = time.monotonic()
    # busy keeps making requests; idle makes none
    while time.monotonic() - t_idle < idle_s + 1:
        assert busy.session().status_code == 200
        time.sleep(1)
    unauthorized_body(idle.session())
    # busy still dies once DOCKHAND_SESSION_MAX has passed since it signed in
    while busy.session().status_code == 200:
        assert time.monotonic() - t0 < max_s + 20, "a session outlived DOCKHAND_SESSION_MAX"
        time.sleep(0.5)
    assert time.monotonic() - t0 >= max_s - 1
    unauthorized_body(busy.api("GET", "/robots"))


def test_sign_in_sweeps_expired_sessions(d):
    b = Browser(d)
    b.login()
    d.sql("UPDATE sessions SET last_seen = now() - interval '2 hours' "
          "WHERE token_sha256 = '%s'" % _token_hash(b))
    Browser(d).login()
    assert d.sql("SELECT count(*) FROM sessions WHERE last_seen < now() - interval '1 hour'"
                 ).strip() == "0"


@pytest.mark.parametrize("env,value", [("DOCKHAND_SESSION_IDLE", "0"),
                                       ("DOCKHAND_SESSION_MAX", "-1"),
                                       ("DOCKHAND_SESSION_IDLE", "30m"),
                                       ("DOCKHAND_SESSION_MAX", "x")])
def test_bad_settings_are_refused(d, env, value):
    p = d.cli("serve", check=False, timeout=15, env={env: value})
    assert p.returncode != 0 and env in p.stderr, p


# -- administrators -----------------------------------------------------------


def test_deleting_an_administrator_ends_his_sessions(d):
    A.ensure_admin(d, "dave", "Dave-Passw0rd-1")
    b = Browser(d)
    b.login("dave", "Dave-Passw0rd-1")
    other = Browser(d)
    other.login()
    assert b.session().status_code == 200
    d.cli("admin", "delete", "dave")
    unauthorized_body(b.session())
    r = b.api("POST", "/projects", json={"project_name": "bydave"})
    unauthorized_body(r)
    assert d.sql("SELECT count(*) FROM sessions s WHERE NOT EXISTS "
                 "(SELECT 1 FROM admins a WHERE a.id = s.admin_id)").strip() == "0"
    assert other.session().status_code == 200


def test_a_new_password_ends_his_sessions(d):
    A.ensure_admin(d, "erin", "Erin-Passw0rd-1")
    b = Browser(d)
    b.login("erin", "Erin-Passw0rd-1")
    other = Browser(d)
    other.login("carol", "Carol-Passw0rd-1")
    A.remember("Erin-Passw0rd-2", "erin")
    d.cli("admin", "passwd", "erin", "--password-stdin", input="Erin-Passw0rd-2")
    unauthorized_body(b.session())
    unauthorized_body(b.api("GET", "/robots"))
    Browser(d).login("erin", "Erin-Passw0rd-1", expect=401)
    Browser(d).login("erin", "Erin-Passw0rd-2")
    assert other.session().status_code == 200


# -- more than one instance ---------------------------------------------------


def test_two_instances_share_sessions(dockhand_factory):
    one = dockhand_factory()
    A.ensure_admin(one)
    two = dockhand_factory(db=one.db)
    b = Browser(one)
    b.login()
    on_two = Browser(two).with_cookie(b.token)
    on_two.csrf = b.csrf
    assert on_two.session().json() == {"username": A.ADMIN, "csrf_token": b.csrf}
    name = A.new_name("ontwo")
    r = on_two.api("POST", "/projects", json={"project_name": name})
    assert r.status_code == 201, A.show(r)
    assert on_two.log_out().status_code == 200
    unauthorized_body(b.session())  # signed out on the other instance
    unauthorized_body(b.api("GET", "/robots"))


# -- secrets ------------------------------------------------------------------


def test_tokens_are_not_stored_in_plain_text(d):
    b = Browser(d)
    b.login()
    rows = d.sql("SELECT row_to_json(s) FROM sessions s")
    assert b.token not in rows and b.csrf not in rows
    assert hashlib.sha256(b.token.encode()).hexdigest() in rows
    cols = set(d.sql("SELECT column_name FROM information_schema.columns "
                     "WHERE table_name = 'sessions'").split())
    assert cols == {"token_sha256", "admin_id", "created_at", "last_seen", "client_ip"}, cols
    everything = d.sql("SELECT row_to_json(x) FROM audit_log x") + rows
    for s in _SEEN:
        assert s not in everything


def test_no_session_token_password_or_csrf_token_in_any_log(d):
    assert len(_SEEN) >= 20, "only %d tokens seen" % len(_SEEN)
    found = list(_SEEN) + ["Carol-Passw0rd-1", "Dave-Passw0rd-1", "Erin-Passw0rd-1",
                           "Erin-Passw0rd-2", A.ADMIN_PASSWORD]
    found += [hashlib.sha256(t.encode()).hexdigest() for t in _SEEN if TOKEN.match(t)]
    texts, leaks = secrets.scan_logs(found)
    assert texts, "no log to check"
    assert not leaks, "secrets in logs:\n" + "\n".join(leaks)
