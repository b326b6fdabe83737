"""Refusals of the token realm (docs/design.md §3.5 "Failures"): one 401 for every bad
credential, 429 after too many failures, 400 for foreign services and malformed
requests, 503 while PostgreSQL is away."""

import concurrent.futures
import json
import time

import pytest
import requests

from helpers import http, realm
from helpers.dockhand import SERVICE
from helpers.pg import PgCluster

PUB = "repository:pub/app:pull"


def flip(s, i=-1):
    """s with the character at i replaced by another of the same class."""
    i %= len(s)
    c = s[i]
    if c.isdigit():
        repl = "1" if c != "1" else "2"
    elif c.isupper():
        repl = "B" if c != "B" else "C"
    elif c.islower():
        repl = "b" if c != "b" else "c"
    else:
        repl = "A"
    return s[:i] + repl + s[i + 1:]


def expire(d, robot, seconds_ago=60):
    d.sql("UPDATE robots SET expires_at = extract(epoch FROM now())::bigint - %d WHERE id = %d;"
          " NOTIFY dockhand, 'robot:%d'" % (seconds_ago, int(robot["id"]), int(robot["id"])))


@pytest.fixture(scope="module")
def bad(dockhand):
    d = dockhand
    d.create_project("pub", public=True)
    good = d.create_robot("good", projects={"p": ["pull"]})
    disabled = d.create_robot("disabled", projects={"p": ["pull"]})
    d.cli("robot", "disable", str(disabled["id"]))
    expired = d.create_robot("expired", projects={"p": ["pull"]}, duration=1)
    expire(d, expired)
    r = d.token(method="POST", auth=(good["name"], good["secret"]), access_type="offline")
    refresh = realm.token_ok(d, r, refresh=True)[0]["refresh_token"]
    tampered = flip(refresh, -10)
    cases = {
        "unknown robot": ("robot$nobody", good["secret"]),
        "wrong secret": (good["name"], flip(good["secret"])),
        "secret with one more character": (good["name"], good["secret"] + "x"),
        "empty secret": (good["name"], ""),
        "empty name": ("", good["secret"]),
        "disabled": (disabled["name"], disabled["secret"]),
        "expired": (expired["name"], expired["secret"]),
        "no prefix": ("good", good["secret"]),
        "other prefix": ("bot-good", good["secret"]),
        "upper case": ("ROBOT$GOOD", good["secret"]),
        "garbage refresh token": (good["name"], "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"),
        "tampered refresh token": (good["name"], tampered),
    }
    return d, good, refresh, tampered, cases


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_every_bad_credential_gets_the_same_401(bad, method):
    d, good, _, _, cases = bad
    bodies = {}
    wrong = []
    for why, auth in cases.items():
        r = d.token(method=method, auth=auth, scopes=[PUB], access_type="offline",
                    offline_token="true", client_id="docker")
        try:
            bodies[why] = realm.unauthorized(d, r)
        except AssertionError as e:
            wrong.append("%s: %s" % (why, str(e).splitlines()[0] + " " + r.text))
    assert not wrong, "\n".join(wrong)
    assert len(set(bodies.values())) == 1, bodies
    # and the good one still works (the failures did not lock it: limits are high here)
    r = d.token(method=method, auth=(good["name"], good["secret"]), scopes=[PUB])
    realm.token_ok(d, r, sub=good["name"])


def test_bad_refresh_grants_get_the_same_401(bad):
    d, good, refresh, tampered, cases = bad
    body = realm.unauthorized(d, d.token(auth=cases["wrong secret"]))
    for rt in ("garbage", tampered, "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl",
               refresh + "x", good["secret"]):
        r = d.token(method="POST", grant_type="refresh_token", refresh_token=rt,
                    scopes=[PUB], client_id="docker")
        assert realm.unauthorized(d, r) == body, rt
    r = d.token(method="POST", grant_type="refresh_token", refresh_token=refresh, scopes=[PUB])
    realm.token_ok(d, r, sub=good["name"])
    # no refresh token at all is a malformed request, or a failed login; never a token
    for rt in ("", None):
        r = d.token(method="POST", grant_type="refresh_token", refresh_token=rt, scopes=[PUB])
        assert r.status_code in (400, 401), realm.show(r)
        if r.status_code == 400:
            realm.bad_request(r)
        else:
            assert realm.unauthorized(d, r) == body


def test_a_signed_token_is_not_a_refresh_token(bad):
    """An access token (signed by the same service) must not pass as a refresh token."""
    d, good, _, _, _ = bad
    r = d.token(auth=(good["name"], good["secret"]))
    access = realm.token_ok(d, r)[0]["token"]
    realm.unauthorized(d, d.token(method="POST", grant_type="refresh_token",
                                  refresh_token=access))
    realm.unauthorized(d, d.token(auth=(good["name"], access), scopes=[PUB]))


def test_password_grant_with_missing_fields_is_refused(bad):
    d, good, _, _, _ = bad
    for fields in ({"username": good["name"]}, {"password": good["secret"]}, {}):
        r = d.token(method="POST", grant_type="password", scopes=[PUB], **fields)
        assert r.status_code in (400, 401), realm.show(r)
        if r.status_code == 401:
            realm.unauthorized(d, r)
        else:
            realm.bad_request(r)


def test_realm_setting_names_the_basic_realm(dockhand_factory):
    d = dockhand_factory(DOCKHAND_REALM="https://auth.example.test/service/token")
    r = d.token(auth=("robot$nobody", "Nope12345"))
    assert r.headers["WWW-Authenticate"] == 'Basic realm="https://auth.example.test/service/token"'
    realm.unauthorized(d, r)


def _assert_429(r, window=60):
    assert r.status_code == 429, realm.show(r)
    ra = r.headers.get("Retry-After")
    assert ra is not None and ra.isdigit(), realm.show(r)
    assert 1 <= int(ra) <= window, realm.show(r)
    assert "token" not in r.text


def test_too_many_failures_for_one_account(dockhand_factory):
    d = dockhand_factory(DOCKHAND_FAIL_LIMIT_ACCOUNT=3, DOCKHAND_FAIL_LIMIT_ADDRESS=1000)
    victim = d.create_robot("victim")
    other = d.create_robot("other")
    realm.unauthorized(d, d.token(auth=(victim["name"], "Wrong1aaa")))
    realm.unauthorized(d, d.token(method="POST", auth=(victim["name"], "Wrong2aaa")))
    realm.unauthorized(d, d.token(auth=(victim["name"], "Wrong3aaa")))
    _assert_429(d.token(auth=(victim["name"], "Wrong4aaa")))
    # the right secret is locked out too (else the limit would not stop guessing)
    _assert_429(d.token(auth=(victim["name"], victim["secret"])))
    _assert_429(d.token(method="POST", auth=(victim["name"], victim["secret"])))
    # other accounts from the same address are not
    realm.token_ok(d, d.token(auth=(other["name"], other["secret"])), sub=other["name"])
    # unknown names are counted as well
    for i in range(3):
        realm.unauthorized(d, d.token(auth=("robot$ghost", "Wrong%daaa" % i)))
    _assert_429(d.token(auth=("robot$ghost", "Wrong9aaa")))
    assert d.healthz() == 200


def test_too_many_failures_from_one_address(dockhand_factory):
    d = dockhand_factory(DOCKHAND_FAIL_LIMIT_ACCOUNT=1000, DOCKHAND_FAIL_LIMIT_ADDRESS=3)
    good = d.create_robot("good")
    for i in range(3):
        realm.unauthorized(d, d.token(auth=("robot$guess%d" % i, "Wrong1aaa")))
    _assert_429(d.token(auth=("robot$guess9", "Wrong1aaa")))
    _assert_429(d.token(auth=(good["name"], good["secret"])))


def test_failures_are_forgotten_after_the_window(dockhand_factory):
    # each refusal costs DOCKHAND_PASSWORD_ITERATIONS: at its minimum both fit in the window
    d = dockhand_factory(DOCKHAND_FAIL_LIMIT_ACCOUNT=2, DOCKHAND_FAIL_WINDOW=2,
                         DOCKHAND_PASSWORD_ITERATIONS=10000)
    robot = d.create_robot("patient")
    realm.unauthorized(d, d.token(auth=(robot["name"], "Wrong1aaa")))
    realm.unauthorized(d, d.token(auth=(robot["name"], "Wrong2aaa")))
    r = d.token(auth=(robot["name"], robot["secret"]))
    _assert_429(r, window=2)
    deadline = time.monotonic() + 10
    while True:
        r = d.token(auth=(robot["name"], robot["secret"]))
        if r.status_code == 200:
            break
        assert r.status_code == 429, realm.show(r)
        assert time.monotonic() < deadline, "still 429 10 s after a 2 s window"
        time.sleep(0.2)
    realm.token_ok(d, r, sub=robot["name"])


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_foreign_service_is_400(bad, method):
    d, good, _, _, _ = bad
    for auth in (None, (good["name"], good["secret"])):
        for service in ("other-registry", "", "TEST-REGISTRY", "test-registry "):
            r = d.token(method=method, auth=auth, service=service, scopes=[PUB])
            realm.bad_request(r)


@pytest.mark.parametrize("query", [
    "scope=%zz", "scope=%", "scope=%4", "account=%G0", "service=%",
    "scope=nocolon", "scope=repository:alpha", "scope=repository::pull", "scope=:alpha/app:pull",
    "scope=repository(:alpha/app:pull", "scope=repository(plugin:alpha/app:pull",
])
def test_malformed_query_is_400(bad, query):
    d = bad[0]
    r = http.request(d.port, "GET", "/service/token?service=%s&%s" % (SERVICE, query))
    realm.bad_request(r)
    assert d.healthz() == 200


@pytest.mark.parametrize("body", [
    "grant_type=password&username=%zz&password=x",
    "grant_type=refresh_token&refresh_token=%",
    "grant_type=password&username=a&password=b&scope=nocolon",
])
def test_malformed_form_is_400(bad, body):
    d = bad[0]
    r = http.request(d.port, "POST", "/service/token", body=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    realm.bad_request(r)


def test_post_that_is_not_a_form_is_refused(bad):
    d, good, _, _, _ = bad
    r = requests.post(d.url + "/service/token", timeout=10,
                      json={"grant_type": "password", "username": good["name"],
                            "password": good["secret"], "service": SERVICE})
    assert r.status_code in (400, 415), realm.show(r)
    assert "token" not in r.text


def test_database_down_is_503_then_recovers_without_restart(dockhand_factory):
    cluster = PgCluster("pgdown").start()
    d = None
    try:
        d = dockhand_factory(pg=cluster)
        d.create_project("pub", public=True)
        early = d.create_robot("early")
        late = d.create_robot("late")  # never used before the outage: nothing cached
        realm.token_ok(d, d.token(auth=(early["name"], early["secret"])))
        pid = d.proc.pid

        cluster.stop()
        for method in ("GET", "POST"):
            r = d.token(method=method, auth=(late["name"], late["secret"]), scopes=[PUB])
            assert r.headers.get("Content-Type", "").startswith("application/json"), \
                realm.show(r)
            realm.error(r, 503)
        assert d.running

        cluster.start()
        # PostgreSQL is back. A quiet moment first, so that no request has told the workers
        # yet: each must find out on its own that its pooled connections died, reconnect
        # and answer — requests arriving now get tokens, not 503s.
        time.sleep(1.5)

        def one(i):
            robot = (early, late)[i % 2]
            r = d.token(method=("GET", "POST")[i // 2 % 2],
                        auth=(robot["name"], robot["secret"]), scopes=[PUB])
            return r.status_code, r.text if r.status_code != 200 else robot["name"]
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(one, range(48)))
        bad = [a for a in answers if a[0] != 200]
        assert not bad, "after recovery, %d of 48 failed: %s" % (len(bad), bad[:3])
        _, claims = realm.token_ok(d, d.token(auth=(late["name"], late["secret"]), scopes=[PUB]),
                                   sub=late["name"])
        assert claims["access"] == [{"type": "repository", "name": "pub/app",
                                     "actions": ["pull"]}]
        assert d.proc.pid == pid and d.running
        realm.unauthorized(d, d.token(auth=(late["name"], "Wrong1aaa")))
    finally:
        if d is not None:
            d.stop()
        cluster.destroy()


def test_json_log_lines_stay_json_when_the_database_drops(dockhand_factory):
    """DOCKHAND_LOG_FORMAT=json: every line the server writes is one JSON object, also
    what libpq has to say when PostgreSQL goes away."""
    cluster = PgCluster("pgjson").start()
    d = None
    try:
        d = dockhand_factory(pg=cluster, DOCKHAND_LOG_FORMAT="json")
        robot = d.create_robot("jsonlog")
        realm.token_ok(d, d.token(auth=(robot["name"], robot["secret"])))
        realm.unauthorized(d, d.token(auth=(robot["name"], "Wrong1aaa")))
        cluster.stop()
        r = d.token(auth=("robot$uncached", "Another1aaa"))  # a cached robot needs no database
        realm.error(r, 503)
        cluster.start()
        d.stop()
        lines = [l for l in d.log_text().splitlines()
                 if l.strip() and not l.startswith("----- dockhand serve")]
        assert lines
        bad = []
        for line in lines:
            try:
                assert isinstance(json.loads(line), dict)
            except (ValueError, AssertionError):
                bad.append(line)
        assert not bad, "not JSON lines:\n" + "\n".join(bad[:10])
    finally:
        if d is not None:
            d.stop()
        cluster.destroy()
