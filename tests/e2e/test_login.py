"""Logging in: podman, and docker's flow reproduced request by request."""

import re

import requests


def parse_challenge(header):
    """`Bearer realm="…",service="…",scope="…"` → ("Bearer", {realm, service, scope})."""
    scheme, _, rest = header.partition(" ")
    return scheme, dict(re.findall(r'(\w+)="([^"]*)"', rest))


def test_podman_login_good_and_wrong_secret(registry, clients, pulled_dir, uniq, project_robot):
    proj, robot = project_robot(["pull"])
    user, secret = clients.creds(robot)

    wrong = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    # containers-image says "invalid username/password" only when the token
    # realm answered 401, and adds the realm's error code.
    for name, password in ((user, wrong), (uniq("robot$nobody"), secret),
                           (user, secret + ":" + secret)):
        clients.bad_credentials(clients.podman_login(registry.host, name, password))
        assert clients.saved_auth(registry.host) is None
    # skopeo asks the realm for a scoped token: refused the same way.
    clients.bad_credentials(clients.pull(registry.ref(proj + "/app", "v1"), pulled_dir(),
                                         (user, wrong)))

    p = clients.ok(clients.podman_login(registry.host, user, secret))
    assert "Login Succeeded" in p.stdout
    assert clients.saved_auth(registry.host) == (user, secret)


def test_docker_style_login_and_token_for_a_repository(dockhand, registry, clients, oci_image,
                                                       project_robot):
    proj, robot = project_robot(["pull", "push"])
    user, secret = clients.creds(robot)
    repo = proj + "/app"
    clients.ok(clients.push(oci_image(), registry.ref(repo, "v1"), (user, secret)))

    # docker login: GET /v2/ → Bearer challenge → token without scope → /v2/ with it.
    r = requests.get(registry.url + "/v2/", timeout=10)
    assert r.status_code == 401
    scheme, params = parse_challenge(r.headers["WWW-Authenticate"])
    assert scheme == "Bearer"
    assert params["realm"] == dockhand.url + "/service/token"
    assert params["service"] == "test-registry"
    r = requests.get(params["realm"], params={"account": user, "client_id": "docker",
                                              "offline_token": "true",
                                              "service": params["service"]},
                     auth=(user, secret), timeout=10)
    assert r.status_code == 200, r.text
    login_token = r.json()["token"]
    r = requests.get(registry.url + "/v2/", timeout=10,
                     headers={"Authorization": "Bearer " + login_token})
    assert r.status_code == 200, r.text

    # The login token holds no access: the registry asks for a scoped one.
    r = requests.get(registry.url + "/v2/%s/tags/list" % repo, timeout=10,
                     headers={"Authorization": "Bearer " + login_token})
    assert r.status_code == 401, r.text
    scheme, params = parse_challenge(r.headers["WWW-Authenticate"])
    assert params["scope"] == "repository:%s:pull" % repo

    r = requests.get(params["realm"], params={"service": params["service"],
                                              "scope": params["scope"]},
                     auth=(user, secret), timeout=10)
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    r = requests.get(registry.url + "/v2/%s/tags/list" % repo, timeout=10,
                     headers={"Authorization": "Bearer " + token})
    assert r.status_code == 200, r.text
    assert r.json() == {"name": repo, "tags": ["v1"]}

    # A wrong secret gets no token at all (never an anonymous one).
    r = requests.get(params["realm"], params={"service": params["service"],
                                              "scope": params["scope"]},
                     auth=(user, secret + "x"), timeout=10)
    assert r.status_code == 401, r.text
    assert "token" not in r.text
