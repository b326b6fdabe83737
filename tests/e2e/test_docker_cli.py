"""The real docker CLI (Debian's docker.io: CLI and dockerd 20.10) against the real registry
and dockhand: login, push, pull, refusals, logout, and a delete through the registry API.

Each test checks the CLI's exit code and message, what dockhand logged for the token
requests (`logs.tokens()`: method, status, who, granted) and what the registry received
(`logs.registry_requests()`: method, path, status). The exact request shapes of docker's
flow stay pinned, request by request, in tests/integration/test_realm_clients.py and in
test_login.py here; test_containerd.py checks the grants the real clients choose.

The engine is one private dockerd for the whole run (conftest `docker_engine`); each test
has its own client configuration directory, so a login never leaks into another test.
"""

import re

import requests

DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")


def ref_of(registry, repo, tag="1"):
    return "%s/%s:%s" % (registry.host, repo, tag)


def pushed_digest(p):
    m = DIGEST.search(p.stdout)
    assert m, "no digest in docker push's output\n" + p.stdout
    return m.group(1)


def wrong(secret):
    return secret[:-1] + ("A" if secret[-1] != "A" else "B")


def assert_saved_login_refused(docker, logs, ref):
    """The identity token a login saved is refused now: docker pull REF fails with
    "unauthorized" after one refresh-token grant (POST) that dockhand answered 401, and the
    registry served nothing but 401s.

    A pull, not a push: docker 20.10 retries a layer upload whose token request got
    dockhand's 401 five times over 50 s before it gives up (it decodes the body's
    "authentication required", distribution's default message for UNAUTHORIZED, to a bare
    error code that its retry rule does not recognise), while a pull fails at once."""
    logs.mark()
    p = docker.refused(docker.pull(ref))
    assert re.search(r'Error response from daemon: Head "http://[^"]+/manifests/[^"]+": '
                     r'unauthorized$', p.stderr.strip()), p.stderr
    assert logs.tokens() == [("POST", 401, None, None)]
    got = logs.registry_requests()
    assert got and {r[2] for r in got} == {401}, got
    return p


def assert_login_refused(docker, logs, registry, user, secret):
    """docker login fails with "unauthorized": dockhand answered the login's token request
    (GET, Basic) with 401, and the registry saw only the unauthenticated GET /v2/."""
    logs.mark()
    p = docker.login(registry.host, user, secret)
    assert p.returncode == 1, p
    assert "Login Succeeded" not in p.stdout
    assert re.search(r'Error response from daemon: Get "http://%s/v2/": unauthorized'
                     % re.escape(registry.host), p.stderr), p.stderr
    assert logs.tokens() == [("GET", 401, None, None)]
    assert logs.registry_requests() == [("GET", "/v2/", 401)]
    return p


def test_login_push_and_pull_with_the_right_secret(registry, docker, logs, project_robot):
    proj, robot = project_robot(["pull", "push"])
    user, secret = robot["name"], robot["secret"]
    repo = proj + "/app"
    ref = ref_of(registry, repo)
    content = docker.image(ref)

    p = docker.ok(docker.login(registry.host, user, secret))
    assert "Login Succeeded" in p.stdout
    # dockhand answered the login with a refresh token: docker saves that identity token
    # and not the secret.
    saved = docker.saved_auth(registry.host)
    assert saved["user"] == user and saved["secret"] == "" and saved["identitytoken"], saved
    assert secret not in docker.config_text()
    assert logs.tokens() == [("GET", 200, user, "-")]
    assert logs.registry_requests() == [("GET", "/v2/", 401), ("GET", "/v2/", 200)]

    logs.mark()
    p = docker.ok(docker.push(ref))
    digest = pushed_digest(p)
    tokens = logs.tokens()
    assert tokens and set(tokens) == {("POST", 200, user, "repository:%s:pull,push" % repo)}
    got = logs.registry_requests()
    assert ("PUT", "/v2/%s/manifests/1" % repo, 201) in got, got
    assert [r for r in got if r[0] == "PUT" and "/blobs/uploads/" in r[1]
            and r[2] == 201], got
    assert [r for r in got if r[2] == 401] == [("GET", "/v2/", 401)], got

    logs.mark()
    p = docker.ok(docker.pull(ref))
    assert "Downloaded newer image for " + ref in p.stdout, p.stdout
    assert "Digest: " + digest in p.stdout
    tokens = logs.tokens()
    assert tokens and set(tokens) == {("POST", 200, user, "repository:%s:pull" % repo)}
    got = logs.registry_requests()
    assert ("GET", "/v2/%s/manifests/%s" % (repo, digest), 200) in got, got
    blobs = [r for r in got if r[0] == "GET" and "/blobs/sha256:" in r[1]]
    assert len(blobs) == 2 and {r[2] for r in blobs} == {200}, got  # the layer and the config
    assert docker.files(ref) == {"hello.txt": content.encode()}


def test_login_with_a_wrong_secret_or_an_unknown_robot(registry, docker, logs, project_robot,
                                                       uniq):
    proj, robot = project_robot(["pull", "push"])
    user, secret = robot["name"], robot["secret"]
    for name, password in ((user, wrong(secret)), (uniq("robot$nobody"), secret)):
        assert_login_refused(docker, logs, registry, name, password)
        assert docker.saved_auth(registry.host) is None
    # Nothing was spoiled for the right secret.
    docker.ok(docker.login(registry.host, user, secret))


def test_disabled_robot_cannot_log_in_nor_use_its_saved_login(dockhand, registry, docker, logs,
                                                              project_robot):
    proj, robot = project_robot(["pull", "push"])
    user, secret = robot["name"], robot["secret"]
    repo = proj + "/app"
    docker.image(ref_of(registry, repo, "1"))
    docker.ok(docker.login(registry.host, user, secret))
    docker.ok(docker.push(ref_of(registry, repo, "1")))

    dockhand.cli("robot", "disable", str(robot["id"]))
    assert_login_refused(docker, logs, registry, user, secret)

    # The identity token saved by the earlier login died with the disable.
    assert docker.saved_auth(registry.host)["identitytoken"]
    assert_saved_login_refused(docker, logs, ref_of(registry, repo, "1"))

    dockhand.cli("robot", "enable", str(robot["id"]))
    logs.mark()
    docker.ok(docker.login(registry.host, user, secret))
    assert logs.tokens() == [("GET", 200, user, "-")]
    docker.ok(docker.pull(ref_of(registry, repo, "1")))


def test_expired_robot_cannot_log_in_nor_use_its_saved_login(dockhand, registry, docker, logs,
                                                             project_robot):
    proj, robot = project_robot(["pull", "push"])
    user, secret = robot["name"], robot["secret"]
    repo = proj + "/app"
    docker.image(ref_of(registry, repo))
    docker.ok(docker.login(registry.host, user, secret))
    docker.ok(docker.push(ref_of(registry, repo)))

    dockhand.sql("UPDATE robots SET expires_at = extract(epoch FROM now())::bigint - 60"
                 " WHERE id = %d; NOTIFY dockhand, 'robot:%d'"
                 % (int(robot["id"]), int(robot["id"])))
    assert_login_refused(docker, logs, registry, user, secret)
    assert_saved_login_refused(docker, logs, ref_of(registry, repo))


def test_refreshed_secret_old_one_refused_new_one_works(dockhand, registry, docker, logs,
                                                        project_robot):
    proj, robot = project_robot(["pull", "push"])
    user, old = robot["name"], robot["secret"]
    repo = proj + "/app"
    docker.image(ref_of(registry, repo, "1"))
    docker.image(ref_of(registry, repo, "2"))
    docker.ok(docker.login(registry.host, user, old))
    docker.ok(docker.push(ref_of(registry, repo, "1")))

    new = dockhand.refresh_secret(robot["id"])["secret"]
    assert new and new != old

    # The identity token from the login with the old secret is dead too.
    assert_saved_login_refused(docker, logs, ref_of(registry, repo, "1"))
    assert_login_refused(docker, logs, registry, user, old)

    logs.mark()
    p = docker.ok(docker.login(registry.host, user, new))
    assert "Login Succeeded" in p.stdout
    assert logs.tokens() == [("GET", 200, user, "-")]
    logs.mark()
    docker.ok(docker.push(ref_of(registry, repo, "2")))
    assert ("POST", 200, user, "repository:%s:pull,push" % repo) in logs.tokens()
    assert ("PUT", "/v2/%s/manifests/2" % repo, 201) in logs.registry_requests()


def test_push_refused_where_only_pull_is_granted(dockhand, registry, docker, logs, uniq):
    proj = uniq("p")
    dockhand.create_project(proj)
    pusher = dockhand.create_robot(uniq("pusher"), projects={proj: ["pull", "push"]},
                                   level="project")
    puller = dockhand.create_robot(uniq("puller"), projects={proj: ["pull"]}, level="project")
    repo = proj + "/app"
    content = docker.image(ref_of(registry, repo, "1"))
    docker.image(ref_of(registry, repo, "2"))
    docker.ok(docker.login(registry.host, pusher["name"], pusher["secret"]))
    docker.ok(docker.push(ref_of(registry, repo, "1")))

    docker.ok(docker.login(registry.host, puller["name"], puller["secret"]))
    docker.ok(docker.pull(ref_of(registry, repo, "1")))
    assert docker.files(ref_of(registry, repo, "1")) == {"hello.txt": content.encode()}

    logs.mark()
    p = docker.refused(docker.push(ref_of(registry, repo, "2")))
    assert "denied: requested access to the resource is denied" in p.stderr, p.stderr
    # dockhand gave the puller a token, with pull only; the registry refused the upload.
    tokens = logs.tokens()
    assert tokens and set(tokens) == {("POST", 200, puller["name"],
                                       "repository:%s:pull" % repo)}, tokens
    got = logs.registry_requests()
    assert ("POST", "/v2/%s/blobs/uploads/" % repo, 401) in got, got
    assert not [r for r in got if r[0] in ("PUT", "PATCH") or r[2] in (201, 202)], got
    assert "insufficient scope" in logs.registry()
    # Nothing arrived under the refused tag.
    docker.ok(docker.login(registry.host, pusher["name"], pusher["secret"]))
    p = docker.pull(ref_of(registry, repo, "2"))
    assert p.returncode != 0 and "manifest unknown" in p.stderr, p


def test_pull_from_a_public_project_without_login(dockhand, registry, docker, logs, uniq):
    proj = uniq("pub")
    dockhand.create_project(proj, public=True)
    robot = dockhand.create_robot(uniq("ci"), projects={proj: ["pull", "push"]},
                                  level="project")
    repo = proj + "/app"
    ref = ref_of(registry, repo)
    content = docker.image(ref)
    docker.image(ref_of(registry, repo, "2"))
    docker.ok(docker.login(registry.host, robot["name"], robot["secret"]))
    docker.ok(docker.push(ref))
    docker.ok(docker.logout(registry.host))
    assert docker.saved_auth(registry.host) is None

    logs.mark()
    p = docker.ok(docker.pull(ref))
    assert "Downloaded newer image for " + ref in p.stdout
    assert docker.files(ref) == {"hello.txt": content.encode()}
    tokens = logs.tokens()
    assert tokens and set(tokens) == {("GET", 200, "anonymous", "repository:%s:pull" % repo)}
    assert [r for r in logs.registry_requests() if "/blobs/sha256:" in r[1] and r[2] == 200]

    # Anonymous push: a token without push, refused by the registry.
    logs.mark()
    p = docker.refused(docker.push(ref_of(registry, repo, "2")))
    assert set(logs.tokens()) == {("GET", 200, "anonymous", "repository:%s:pull" % repo)}
    assert not [r for r in logs.registry_requests() if r[2] in (201, 202)]


def test_delete_through_the_registry_api_with_a_token_for_delete(dockhand, registry, docker,
                                                                 logs, uniq):
    proj = uniq("p")
    dockhand.create_project(proj)
    pusher = dockhand.create_robot(uniq("pusher"), projects={proj: ["pull", "push"]},
                                   level="project")
    deleter = dockhand.create_robot(uniq("deleter"), projects={proj: ["pull", "delete"]},
                                    level="project")
    repo = proj + "/app"
    ref = ref_of(registry, repo)
    docker.image(ref)
    docker.ok(docker.login(registry.host, pusher["name"], pusher["secret"]))
    digest = pushed_digest(docker.ok(docker.push(ref)))
    url = "%s/v2/%s/manifests/%s" % (registry.url, repo, digest)

    # What a client does: DELETE, read the challenge, ask the realm for that scope.
    logs.mark()
    r = requests.delete(url, timeout=10)
    assert r.status_code == 401, r.text
    challenge = dict(re.findall(r'(\w+)="([^"]*)"', r.headers["WWW-Authenticate"]))
    assert challenge["scope"] == "repository:%s:delete" % repo, challenge

    def token(robot):
        t = requests.get(challenge["realm"], params={"service": challenge["service"],
                                                     "scope": challenge["scope"]},
                         auth=(robot["name"], robot["secret"]), timeout=10)
        assert t.status_code == 200, t.text
        return t.json()["token"]

    # push does not bring delete: the pusher's token holds nothing, the registry refuses.
    r = requests.delete(url, headers={"Authorization": "Bearer " + token(pusher)}, timeout=10)
    assert r.status_code == 401, r.text
    r = requests.delete(url, headers={"Authorization": "Bearer " + token(deleter)}, timeout=10)
    assert r.status_code == 202, r.text
    assert logs.tokens() == [("GET", 200, pusher["name"], "-"),
                             ("GET", 200, deleter["name"], "repository:%s:delete" % repo)]
    assert logs.registry_requests() == [
        ("DELETE", "/v2/%s/manifests/%s" % (repo, digest), 401),
        ("DELETE", "/v2/%s/manifests/%s" % (repo, digest), 401),
        ("DELETE", "/v2/%s/manifests/%s" % (repo, digest), 202)]

    p = docker.pull(ref)
    assert p.returncode != 0 and "manifest unknown" in p.stderr, p
    p = docker.pull("%s/%s@%s" % (registry.host, repo, digest))
    assert p.returncode != 0 and "manifest unknown" in p.stderr, p


def test_logout_forgets_the_login(registry, docker, logs, project_robot):
    proj, robot = project_robot(["pull", "push"])
    repo = proj + "/app"
    ref = ref_of(registry, repo)
    docker.image(ref)
    docker.ok(docker.login(registry.host, robot["name"], robot["secret"]))
    assert registry.host in docker.config_text()

    logs.mark()
    p = docker.ok(docker.logout(registry.host))
    assert "Removing login credentials for %s" % registry.host in p.stdout
    assert docker.saved_auth(registry.host) is None
    assert registry.host not in docker.config_text()
    # logout is local: neither dockhand nor the registry hears of it.
    assert logs.tokens() == [] and logs.registry_requests() == []

    p = docker.refused(docker.push(ref))
    # Anonymous now: dockhand's token holds nothing on the private project.
    tokens = logs.tokens()
    assert tokens and set(tokens) == {("GET", 200, "anonymous", "-")}, tokens
    got = logs.registry_requests()
    assert got and not [r for r in got if r[2] in (200, 201, 202)], got
