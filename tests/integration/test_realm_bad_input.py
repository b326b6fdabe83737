"""Hostile and broken input to the token realm: each gets a clear 4xx, the server
keeps serving, and nothing in the database changes (docs/design.md §3.5, STYLE "Bounds")."""

import base64
import urllib.parse
from types import SimpleNamespace

import pytest

from helpers import http, realm
from helpers.dockhand import SERVICE
from helpers.jwtutil import access_map

SQL = "'; DROP TABLE robots; --"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def w(dockhand):
    d = dockhand
    d.create_project("alpha")
    d.create_project("pub", public=True)
    good = d.create_robot("good", projects={"alpha": ["pull", "push"]})
    return SimpleNamespace(d=d, good=good, auth=(good["name"], good["secret"]))


def counts(d):
    return d.sql("SELECT (SELECT count(*) FROM robots), (SELECT count(*) FROM projects),"
                 " (SELECT count(*) FROM schema_migrations)").strip()


@pytest.fixture
def intact(w):
    """Asserts after the test: still serving, same rows, the good robot still works."""
    before = counts(w.d)
    yield
    assert w.d.running, "dockhand died\n" + w.d.log_tail()
    assert w.d.healthz() == 200
    assert counts(w.d) == before
    r = w.d.token(auth=w.auth, scopes=["repository:alpha/app:pull"])
    _, claims = realm.token_ok(w.d, r, sub=w.auth[0])
    assert access_map(claims) == {("repository", "alpha/app", None): ["pull"]}


def basic(raw):
    return "Basic " + base64.b64encode(raw).decode()


def refused_login(r):
    """A bad Authorization header: 400, or the standard 401; never a token."""
    assert r is not None, "connection closed without a response"
    assert r.status_code in (400, 401), realm.show(r)
    assert b"access_token" not in r.content, realm.show(r)


@pytest.mark.parametrize("header", [
    b"Basic !!!not-base64!!!",
    b"Basic cm9ib3Qk",             # "robot$" cut inside a base64 quantum
    b"Basic ",
    b"Basic",
    b"Basic ====",
    b"Basic " + base64.b64encode(b"robot$good-no-colon"),
    b"Basic " + base64.b64encode(b"\xff\xfe:\xff"),
    b"Digest username=\"robot$good\"",
], ids=["not-base64", "truncated", "empty", "no-space", "padding", "no-colon", "not-utf8",
        "digest"])
def test_broken_authorization_header(w, intact, header):
    r = http.request(w.d.port, "GET", "/service/token?service=%s" % SERVICE,
                     headers={"Authorization": header})
    refused_login(r)
    if r.status_code == 401:
        realm.unauthorized(w.d, r)


def test_nul_in_basic_credentials_does_not_truncate(w, intact):
    name, secret = w.auth
    for raw in (name.encode() + b"\x00junk:" + secret.encode(),
                name.encode() + b":" + secret.encode() + b"\x00junk",
                name.encode() + b"\x00:" + secret.encode()):
        r = http.request(w.d.port, "GET", "/service/token?service=%s&scope=%s"
                         % (SERVICE, "repository:alpha/app:pull"),
                         headers={"Authorization": basic(raw)})
        refused_login(r)


def test_64k_authorization_header(w, intact):
    for value in (b"Basic " + b"A" * 65536,
                  basic(b"robot$good:" + b"a" * 49000)):
        r = http.request(w.d.port, "GET", "/service/token?service=" + SERVICE,
                         headers={"Authorization": value})
        assert r is not None, "closed without a response"
        assert r.status_code in (400, 401, 413, 431), realm.show(r)


def test_10000_scopes(w, intact):
    scopes = ["repository:alpha/app%d:pull" % i for i in range(10000)]
    query = "service=%s&" % SERVICE + "&".join("scope=" + urllib.parse.quote(s, safe="")
                                               for s in scopes)
    r = http.request(w.d.port, "GET", "/service/token?" + query,
                     headers={"Authorization": basic(("%s:%s" % w.auth).encode())})
    assert r is not None and r.status_code in (400, 413, 414, 431), r
    r = http.request(w.d.port, "POST", "/service/token", headers=FORM,
                     body=urllib.parse.urlencode([("grant_type", "password"),
                                                  ("username", w.auth[0]),
                                                  ("password", w.auth[1]),
                                                  ("service", SERVICE)]
                                                 + [("scope", s) for s in scopes]))
    assert r is not None and r.status_code in (400, 413), r
    r = http.request(w.d.port, "POST", "/service/token", headers=FORM,
                     body=urllib.parse.urlencode([("grant_type", "password"),
                                                  ("username", w.auth[0]),
                                                  ("password", w.auth[1]),
                                                  ("service", SERVICE),
                                                  ("scope", " ".join(scopes[:2000]))]))
    assert r is not None and r.status_code in (400, 413), r


def test_too_many_parameters(w, intact):
    r = http.request(w.d.port, "GET", "/service/token?service=%s&" % SERVICE
                     + "&".join("x%d=1" % i for i in range(1000)))
    assert r is not None and r.status_code in (400, 413, 414), r


def test_long_parameter_value(w, intact):
    r = http.request(w.d.port, "GET", "/service/token?service=%s&account=%s"
                     % (SERVICE, "a" * 100000))
    assert r is not None and r.status_code in (400, 413, 414, 431), r
    r = http.request(w.d.port, "GET", "/service/token?service=%s&scope=repository:alpha/%s:pull"
                     % (SERVICE, "a" * 5000))
    assert r is not None and r.status_code in (400, 413, 414), r


@pytest.mark.parametrize("bad", ["%00", "%FF", "a%00b", "%C3%28", "%ED%A0%80", "%C0%AF"],
                         ids=["nul", "ff", "inner-nul", "bad-utf8", "surrogate", "overlong"])
@pytest.mark.parametrize("field", ["account", "scope", "client_id", "service"])
def test_nul_and_invalid_utf8_in_query(w, intact, field, bad):
    params = {"service": SERVICE, "account": "robot$good", "client_id": "docker",
              "scope": "repository:alpha/app:pull"}
    params[field] = params[field] + bad if field != "scope" else "repository:alpha/app" + bad + ":pull"
    query = "&".join("%s=%s" % (k, urllib.parse.quote(v, safe=":/$%")) for k, v in params.items())
    r = http.request(w.d.port, "GET", "/service/token?" + query,
                     headers={"Authorization": basic(("%s:%s" % w.auth).encode())})
    realm.bad_request(r)


@pytest.mark.parametrize("bad", ["%00", "%FF", "x%00y", "%C3%28"],
                         ids=["nul", "ff", "inner-nul", "bad-utf8"])
@pytest.mark.parametrize("field", ["username", "password", "scope", "client_id",
                                   "refresh_token", "grant_type"])
def test_nul_and_invalid_utf8_in_form(w, intact, field, bad):
    fields = {"grant_type": "password", "username": w.auth[0], "password": w.auth[1],
              "service": SERVICE, "client_id": "docker", "scope": "repository:alpha/app:pull"}
    if field == "refresh_token":
        fields = {"grant_type": "refresh_token", "refresh_token": "x", "service": SERVICE}
    enc = {k: urllib.parse.quote(v, safe="") for k, v in fields.items()}
    enc[field] = enc[field] + bad
    body = "&".join("%s=%s" % kv for kv in enc.items())
    r = http.request(w.d.port, "POST", "/service/token", headers=FORM, body=body)
    realm.bad_request(r)


def test_sql_metacharacters_in_every_string_field(w, intact):
    d = w.d
    name, secret = w.auth
    # query fields that do not decide anything: still a normal answer
    for field in ("account", "client_id", "offline_token"):
        r = d.token(auth=w.auth, scopes=["repository:alpha/app:pull"], **{field: SQL})
        _, claims = realm.token_ok(d, r, sub=name)
        assert access_map(claims) == {("repository", "alpha/app", None): ["pull"]}
    realm.bad_request(d.token(auth=w.auth, service=SQL))
    # credentials
    for auth in ((SQL, secret), (name, SQL), ("robot$" + SQL, SQL), ("robot$good'--", secret),
                 ("robot$good' OR '1'='1", secret), (name, "x' OR '1'='1")):
        realm.unauthorized(d, d.token(auth=auth, scopes=["repository:alpha/app:pull"]))
        realm.unauthorized(d, d.token(method="POST", auth=auth))
    realm.unauthorized(d, d.token(method="POST", grant_type="refresh_token", refresh_token=SQL))
    realm.bad_grant(d.token(method="POST", grant_type=SQL))
    # scope names: a project name that would match everything if it reached SQL as text
    r = d.token(auth=w.auth, scopes=["repository:alpha'OR''='/app:pull",
                                     "repository:'OR'1'='1/app:pull,push",
                                     "repository:alpha\\/app:pull",
                                     'repository:"alpha"/app:pull'])
    _, claims = realm.token_ok(d, r, sub=name)
    assert all(a == [] for a in access_map(claims).values()), claims["access"]
    # with its spaces, the classic string splits into scopes that do not parse
    r = d.token(auth=w.auth, scopes=["repository:alpha/x%s:pull" % SQL])
    assert r.status_code in (200, 400), realm.show(r)
    if r.status_code == 200:
        claims = realm.token_ok(d, r)[1]
        assert set(n for (_, n, _) in access_map(claims)) <= {"alpha/x'"}
        assert all(a in ([], ["pull"]) for a in access_map(claims).values())
    assert d.sql("SELECT to_regclass('robots') IS NOT NULL").strip() == "t"


@pytest.mark.parametrize("size", [70 * 1024, 1024 * 1024])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_post_body_over_the_limit_is_413(w, intact, size, chunked):
    body = ("grant_type=password&username=robot%24good&password=x&scope="
            + "a" * size).encode()
    r = http.request(w.d.port, "POST", "/service/token", headers=FORM, body=body,
                     chunked=chunked)
    assert r is not None, "closed without a response"
    assert r.status_code == 413, r


@pytest.mark.parametrize("grant", ["client_credentials", "authorization_code", "", "PASSWORD",
                                   "password ", "implicit"])
def test_unknown_grant_type_is_400(w, intact, grant):
    r = w.d.token(method="POST", grant_type=grant, username=w.auth[0], password=w.auth[1],
                  scopes=["repository:alpha/app:pull"])
    realm.bad_grant(r)


def test_post_without_grant_type_is_400(w, intact):
    r = w.d.token(method="POST", username=w.auth[0], password=w.auth[1], grant_type=None,
                  scopes=["repository:alpha/app:pull"])
    realm.bad_grant(r)
    r = w.d.post("/service/token", data="", headers=FORM)
    realm.bad_grant(r)


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_are_refused(w, intact, method):
    r = http.request(w.d.port, method, "/service/token?service=" + SERVICE, body="")
    assert r is not None and r.status_code in (404, 405), r
    assert b"token\"" not in r.content


@pytest.mark.parametrize("name", ["x'; DROP TABLE robots; --", "robots; --", "a'b", 'a"b',
                                  "a\\b", "A", "a b", "a/b", "-a", "a--b", "x" * 256, "é",
                                  ""])
def test_cli_rejects_bad_robot_and_project_names(w, intact, name):
    # "" and "-a" may also be taken for a missing argument or an option: usage (2)
    codes = (1, 2) if name in ("", "-a") else (1,)
    p = w.d.cli("robot", "create", name, "--project", "alpha:pull", check=False)
    assert p.returncode in codes, p
    assert p.stderr.strip(), "no message on stderr"
    p = w.d.cli("project", "create", name, check=False)
    assert p.returncode in codes, p
    assert p.stderr.strip()


def test_cli_stores_sql_metacharacters_as_plain_text(w, intact):
    d = w.d
    p = d.cli("robot", "list", "--search", SQL, check=False)
    assert p.returncode == 0, p
    assert "robot$good" not in p.stdout
    p = d.cli("robot", "list", "--search", "' OR '1'='1", check=False)
    assert p.returncode == 0 and "robot$good" not in p.stdout, p
    p = d.cli("project", "delete", SQL, check=False)
    assert p.returncode == 1, p
    p = d.cli("robot", "show", "1 OR 1=1", check=False)
    assert p.returncode in (1, 2), p
    p = d.cli("robot", "create", "good", "--project", "alpha'--:pull", check=False)
    assert p.returncode == 1, p
    robot = d.create_robot("withdesc", projects={"alpha": ["pull"]}, description=SQL)
    try:
        shown = d.cli("robot", "show", str(robot["id"]))
        assert SQL in shown.stdout
        assert d.sql("SELECT count(*) FROM robots WHERE description = '%s'"
                     % SQL.replace("'", "''")).strip() == "1"
    finally:
        d.cli("robot", "delete", str(robot["id"]))
