"""The token realm as real clients call it, request by request (docs/design.md §3.2, §3.3).

docker login + refresh grant, containers/image (skopeo, podman), containerd, crane,
and the three paths of the realm.
"""

import urllib.parse
from types import SimpleNamespace

import pytest
import requests

from helpers import realm
from helpers.jwtutil import access_map
from helpers.dockhand import SERVICE

FORM = "application/x-www-form-urlencoded"


@pytest.fixture(scope="module")
def world(dockhand):
    d = dockhand
    d.create_project("alpha")
    d.create_project("beta")
    d.create_project("pub", public=True)
    ci = d.create_robot("ci", projects={"alpha": ["pull", "push"], "beta": ["pull"]})
    assert ci["name"] == "robot$ci"
    return SimpleNamespace(d=d, ci=ci, auth=(ci["name"], ci["secret"]))


EXPECTED = {("repository", "alpha/app", None): ["pull", "push"],
            ("repository", "beta/app", None): ["pull"]}
EXPECTED_SCOPE_FIELD = {("repository", "alpha/app"): ["pull", "push"],
                        ("repository", "beta/app"): ["pull"]}
ASKED = ["repository:alpha/app:pull,push", "repository:beta/app:pull,push"]


def test_docker_login_then_refresh_grant(world):
    d, (user, secret) = world.d, world.auth
    # docker login: GET with Basic, account/client_id/offline_token, no scope.
    r = requests.get(d.url + "/service/token", auth=(user, secret), allow_redirects=False,
                     params=[("account", user), ("client_id", "docker"),
                             ("offline_token", "true"), ("service", SERVICE)], timeout=10)
    assert "account=robot%24ci" in r.request.url
    body, claims = realm.token_ok(d, r, sub="robot$ci", refresh=True)
    assert claims["access"] == []
    refresh = body["refresh_token"]
    assert refresh != body["token"]

    # docker pull/push with the identity token: POST refresh_token grant.
    r = requests.post(d.url + "/service/token", allow_redirects=False, timeout=10,
                      data=[("grant_type", "refresh_token"), ("refresh_token", refresh),
                            ("service", SERVICE), ("client_id", "docker"),
                            ("scope", " ".join(ASKED))])
    assert r.request.headers["Content-Type"] == FORM
    assert "scope=repository%3Aalpha%2Fapp%3Apull%2Cpush+repository" in r.request.body
    body2, claims2 = realm.token_ok(d, r, sub="robot$ci")
    assert access_map(claims2) == EXPECTED
    assert body2["refresh_token"] == refresh, "the refresh grant must return the same token"
    assert realm.granted_scope_field(body2["scope"]) == EXPECTED_SCOPE_FIELD
    # reusable: a second refresh works the same
    r = d.token(method="POST", grant_type="refresh_token", refresh_token=refresh,
                client_id="docker", scopes=["repository:alpha/app:pull"])
    body3, claims3 = realm.token_ok(d, r, sub="robot$ci")
    assert access_map(claims3) == {("repository", "alpha/app", None): ["pull"]}
    assert claims3["jti"] != claims2["jti"]


def test_no_refresh_token_unless_asked_for_and_authenticated(world):
    d = world.d
    r = d.token(auth=world.auth, account=world.auth[0], client_id="docker")
    realm.token_ok(d, r, sub="robot$ci", refresh=False)
    r = d.token(auth=world.auth, offline_token="false")
    realm.token_ok(d, r, sub="robot$ci", refresh=False)
    r = d.token(offline_token="true", client_id="docker")  # anonymous
    realm.token_ok(d, r, sub="", refresh=False)
    r = d.token(method="POST", auth=world.auth, client_id="docker")  # no access_type
    body, _ = realm.token_ok(d, r, sub="robot$ci", refresh=False)
    r = d.token(method="POST", auth=world.auth, client_id="docker", access_type="offline")
    realm.token_ok(d, r, sub="robot$ci", refresh=True)


def test_containers_image_get_with_repeated_scope(world):
    d, (user, secret) = world.d, world.auth
    r = requests.get(d.url + "/service/token", auth=(user, secret), allow_redirects=False,
                     params=[("account", user), ("service", SERVICE),
                             ("scope", ASKED[0]), ("scope", ASKED[1])], timeout=10)
    _, claims = realm.token_ok(d, r, sub=user)
    assert access_map(claims) == EXPECTED


def test_containers_image_post_chunked_with_repeated_scope_fields(world):
    d, (user, secret) = world.d, world.auth
    body = urllib.parse.urlencode([
        ("grant_type", "password"), ("username", user), ("password", secret),
        ("service", SERVICE), ("client_id", "containers/image"), ("access_type", "offline"),
        ("scope", ASKED[0]), ("scope", ASKED[1])]).encode()

    def chunks():
        yield body[:7]
        yield body[7:40]
        yield body[40:]

    r = requests.post(d.url + "/service/token", data=chunks(), timeout=10,
                      allow_redirects=False, headers={"Content-Type": FORM})
    assert r.request.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in r.request.headers
    out, claims = realm.token_ok(d, r, sub=user, refresh=True)
    assert access_map(claims) == EXPECTED
    assert realm.granted_scope_field(out["scope"]) == EXPECTED_SCOPE_FIELD


def test_containerd_post_password_grant_then_refresh_token_as_basic_password(world):
    d, (user, secret) = world.d, world.auth
    r = requests.post(d.url + "/service/token", timeout=10, allow_redirects=False,
                      headers={"Content-Type": FORM + "; charset=utf-8"},
                      data=urllib.parse.urlencode([
                          ("access_type", "offline"), ("client_id", "containerd-client"),
                          ("grant_type", "password"), ("password", secret),
                          ("scope", " ".join(ASKED)), ("service", SERVICE),
                          ("username", user)]))
    out, claims = realm.token_ok(d, r, sub=user, refresh=True)
    assert access_map(claims) == EXPECTED
    assert realm.granted_scope_field(out["scope"]) == EXPECTED_SCOPE_FIELD
    refresh = out["refresh_token"]

    # containerd's fallback: GET with Basic whose password is the refresh token.
    r = d.token(scopes=ASKED, auth=(user, refresh))
    _, claims = realm.token_ok(d, r, sub=user)
    assert access_map(claims) == EXPECTED

    # and the refresh grant with that token
    r = d.token(method="POST", scopes=ASKED, grant_type="refresh_token",
                refresh_token=refresh, client_id="containerd-client")
    out, claims = realm.token_ok(d, r, sub=user)
    assert access_map(claims) == EXPECTED
    assert out["refresh_token"] == refresh


@pytest.mark.parametrize("query", [
    "scope=repository%3Aalpha%2Fapp%3Apull%2Cpush%20repository%3Abeta%2Fapp%3Apull%2Cpush",
    "scope=repository%3Aalpha%2Fapp%3Apull%2Cpush+repository%3Abeta%2Fapp%3Apull%2Cpush",
    "scope=repository:alpha/app:pull,push+repository:beta/app:pull,push",
    "scope=repository:alpha/app:pull,push%20%20repository:beta/app:pull,push",
], ids=["pct20", "plus", "plus-unescaped", "double-space"])
def test_crane_several_scopes_in_one_parameter(world, query):
    d = world.d
    r = requests.get("%s/service/token?service=%s&%s" % (d.url, SERVICE, query),
                     auth=world.auth, timeout=10, allow_redirects=False)
    assert query in r.request.url, "requests re-encoded the query: %s" % r.request.url
    _, claims = realm.token_ok(d, r, sub=world.auth[0])
    assert access_map(claims) == EXPECTED


def test_missing_service_means_the_configured_one(world):
    d = world.d
    r = d.token(service=None, auth=world.auth, scopes=["repository:alpha/app:pull"])
    _, claims = realm.token_ok(d, r, sub=world.auth[0])
    assert claims["aud"] == SERVICE
    assert access_map(claims) == {("repository", "alpha/app", None): ["pull"]}


@pytest.mark.parametrize("path", ["/service/token", "/token", "/token/"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_every_realm_path_answers_without_redirect(world, path, method):
    d = world.d
    r = d.token(path=path, method=method, auth=world.auth, scopes=ASKED,
                client_id="containers/image")
    assert r.history == [] and r.status_code == 200, realm.show(r)
    _, claims = realm.token_ok(d, r, sub=world.auth[0])
    assert access_map(claims) == EXPECTED
    # anonymous, public project
    r = d.token(path=path, method="GET", scopes=["repository:pub/app:pull,push"])
    _, claims = realm.token_ok(d, r, sub="")
    assert access_map(claims) == {("repository", "pub/app", None): ["pull"]}


def test_secret_containing_colons_splits_at_the_first_colon(world):
    d = world.d
    robot = d.create_robot("colon", projects={"alpha": ["pull"]})
    manual = "Ab1:cd:Ef2:gh"
    d.refresh_secret(robot["id"], manual)
    r = d.token(auth=(robot["name"], manual), scopes=["repository:alpha/app:pull"])
    _, claims = realm.token_ok(d, r, sub="robot$colon")
    assert access_map(claims) == {("repository", "alpha/app", None): ["pull"]}
    r = d.token(method="POST", auth=(robot["name"], manual), scopes=["repository:alpha/app:pull"])
    realm.token_ok(d, r, sub="robot$colon")
    realm.unauthorized(d, d.token(auth=(robot["name"], "Ab1")))
    realm.unauthorized(d, d.token(auth=(robot["name"], "Ab1:cd")))


def test_request_id_on_every_response(world):
    d = world.d
    responses = [d.token(auth=world.auth), d.token(auth=(world.auth[0], "Wrong1234")),
                 d.token(service="elsewhere"), d.get("/healthz"), d.get("/keys/jwks.json"),
                 d.get("/keys/certs.pem")]
    ids = [r.headers.get("X-Request-Id") for r in responses]
    assert all(ids), [(r.url, r.status_code, r.headers) for r in responses]
    assert len(set(ids)) == len(ids), ids
    r = d.token(auth=world.auth, headers={"X-Request-Id": "trace-4711"})
    assert r.status_code == 200 and r.headers.get("X-Request-Id") == "trace-4711", realm.show(r)
