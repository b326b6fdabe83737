"""containerd's own client (`ctr` 1.6, against the containerd the private dockerd starts) and
the grants the real clients choose, seen through a registry whose realm is a recording
pass-through to dockhand (`proxied_registry`): dockhand's access log names the method and
the outcome of a token request, the pass-through adds the grant and the query.

ctr with --user takes the realm's OAuth2 path: POST /service/token with grant_type=password
(it never received a refresh token). docker login asks with GET and offline_token=true,
keeps the refresh token as its identity token, and then uses the refresh_token grant.
"""

import re


def ref_of(registry, repo, tag="1"):
    return "%s/%s:%s" % (registry.host, repo, tag)


def test_ctr_pull_with_user_takes_the_password_grant(proxied_registry, docker, logs,
                                                     project_robot):
    reg, proxy = proxied_registry, proxied_registry.proxy
    logs = logs.of(reg)
    proj, robot = project_robot(["pull", "push"])
    user, secret = robot["name"], robot["secret"]
    repo = proj + "/app"
    ref = ref_of(reg, repo)
    docker.image(ref)
    docker.ok(docker.login(reg.host, user, secret))
    digest = re.search(r"digest: (sha256:[0-9a-f]{64})", docker.ok(docker.push(ref)).stdout)[1]
    proxy.taken()

    logs.mark()
    p = docker.ok(docker.ctr("images", "pull", "--plain-http", "--user",
                             "%s:%s" % (user, secret), ref))
    assert re.search(r"^done: ", p.stdout, re.M), p.stdout
    assert re.search(r"^unpacking linux/amd64 sha256:", p.stdout, re.M), p.stdout

    sent = proxy.taken()
    assert sent and all(r["method"] == "POST" and r["path"] == "/service/token"
                        and r["status"] == 200 for r in sent), sent
    for r in sent:
        assert r["form"]["grant_type"] == ["password"], r
        assert r["form"]["username"] == [user], r
        assert r["form"]["password"] == ["<set>"], r
        assert r["form"]["scope"] == ["repository:%s:pull" % repo], r
        assert r["form"]["service"] == ["test-registry"], r
        assert r["auth"] is None, r
    # dockhand's access log: the same POSTs, a token with pull for the robot.
    tokens = logs.tokens()
    assert len(tokens) == len(sent)
    assert set(tokens) == {("POST", 200, user, "repository:%s:pull" % repo)}, tokens
    # What the registry served containerd: the manifest and both blobs.
    got = logs.registry_requests(agent="containerd/")
    assert ("HEAD", "/v2/%s/manifests/1" % repo, 200) in got, got
    blobs = [r for r in got if r[0] == "GET" and "/blobs/sha256:" in r[1]]
    assert len(blobs) == 2 and {r[2] for r in blobs} == {200}, got

    # containerd holds the image docker pushed: the same manifest digest.
    p = docker.ok(docker.ctr("images", "ls"))
    line = [ln for ln in p.stdout.splitlines() if ln.split()[:1] == [ref]]
    assert line and digest in line[0].split(), p.stdout
    docker.ok(docker.ctr("images", "rm", "--sync", ref))


def test_ctr_pull_with_a_wrong_secret_is_refused(proxied_registry, docker, logs, project_robot):
    reg, proxy = proxied_registry, proxied_registry.proxy
    logs = logs.of(reg)
    proj, robot = project_robot(["pull", "push"])
    user, secret = robot["name"], robot["secret"]
    ref = ref_of(reg, proj + "/app")
    docker.image(ref)
    docker.ok(docker.login(reg.host, user, secret))
    docker.ok(docker.push(ref))
    proxy.taken()

    logs.mark()
    p = docker.ctr("images", "pull", "--plain-http", "--user", "%s:%sx" % (user, secret), ref)
    assert p.returncode != 0, p
    assert ("failed to resolve reference \"%s\": failed to authorize: failed to fetch oauth "
            "token: unexpected status: 401 Unauthorized" % ref) in p.stderr, p.stderr
    # The password grant refused, then containerd's fallback to GET (Basic), refused too:
    # one ctr pull counts two failures against the robot's and the address's limits.
    sent = proxy.taken()
    assert [(r["method"], r["path"], r["status"]) for r in sent] == [
        ("POST", "/service/token", 401), ("GET", "/service/token", 401)], sent
    assert sent[0]["form"]["grant_type"] == ["password"] and sent[0]["auth"] is None, sent
    assert sent[1]["auth"] == "Basic " + user, sent
    assert logs.tokens() == [("POST", 401, None, None), ("GET", 401, None, None)]
    assert logs.registry_requests(agent="containerd/") == [
        ("HEAD", "/v2/%s/app/manifests/1" % proj, 401)]


def test_docker_login_keeps_a_refresh_token_and_push_uses_the_refresh_grant(
        proxied_registry, docker, logs, project_robot):
    reg, proxy = proxied_registry, proxied_registry.proxy
    logs = logs.of(reg)
    proj, robot = project_robot(["pull", "push"])
    user, secret = robot["name"], robot["secret"]
    repo = proj + "/app"
    ref = ref_of(reg, repo)
    docker.image(ref)
    proxy.taken()

    p = docker.ok(docker.login(reg.host, user, secret))
    assert "Login Succeeded" in p.stdout
    sent = proxy.taken()
    assert len(sent) == 1, sent
    login = sent[0]
    assert (login["method"], login["path"], login["auth"], login["status"]) == \
        ("GET", "/service/token", "Basic " + user, 200), login
    assert login["query"] == {"account": [user], "client_id": ["docker"],
                              "offline_token": ["true"], "service": ["test-registry"]}, login
    assert docker.saved_auth(reg.host)["identitytoken"]

    logs.mark()
    docker.ok(docker.push(ref))
    sent = proxy.taken()
    assert sent, "docker push asked the realm nothing"
    for r in sent:
        assert (r["method"], r["path"], r["auth"], r["status"]) == \
            ("POST", "/service/token", None, 200), r
        assert r["form"]["grant_type"] == ["refresh_token"], r
        assert r["form"]["refresh_token"] == ["<set>"], r
        assert r["form"]["client_id"] == ["docker"], r
        assert "password" not in r["form"] and "username" not in r["form"], r
        # docker asks for push,pull; dockhand writes the grant in its own order.
        assert r["form"]["scope"] == ["repository:%s:push,pull" % repo], r
    assert set(logs.tokens()) == {("POST", 200, user, "repository:%s:pull,push" % repo)}
    assert ("PUT", "/v2/%s/manifests/1" % repo, 201) in logs.registry_requests()
