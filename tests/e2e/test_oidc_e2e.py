"""Keyless robots end to end (README "Keyless CI"): skopeo, podman and the docker CLI log in
to the real registry with an identity token minted by the test OIDC issuer
(tests/helpers/oidc_issuer.py), push to the project the robot is granted, and are refused
elsewhere. The module's dockhand trusts the issuer's test CA (DOCKHAND_OIDC_CA_FILE); the
conftest's `registry` and `docker` fixtures use it through the `dockhand` override below."""

import pytest

from helpers import api as A


@pytest.fixture(scope="module")
def srv(oidc_server):
    return oidc_server


@pytest.fixture(scope="module")
def dockhand(dockhand_factory, srv):
    return dockhand_factory(DOCKHAND_OIDC_CA_FILE=srv.ca_path)


def keyless_robot(D, uniq, issuer, subject, claims=None):
    """A project robot with push on a fresh project, trusting issuer for subject; returns
    (project, robot). The rule is set through the API."""
    proj = uniq("k")
    D.create_project(proj)
    D.create_project(proj + "-other")
    rb = D.create_robot(uniq("ci"), projects={proj: ["pull", "push"]}, level="project")
    A.set_federation(D, rb["id"], [{"issuer": issuer.url, "subject": subject,
                                    "claims": claims or {}}])
    return proj, rb


def test_skopeo_and_podman_with_a_github_actions_token(dockhand, srv, registry, clients,
                                                       oci_image, pulled_dir, uniq):
    gh = srv.issuer("github")
    proj, rb = keyless_robot(dockhand, uniq, gh, "repo:octo-org/app:ref:refs/heads/main",
                             {"repository": "octo-org/app"})
    token = gh.github(dockhand.env["DOCKHAND_SERVICE"], repository="octo-org/app")
    creds = (rb["name"], token)
    image = oci_image()
    clients.ok(clients.push(image, registry.ref(proj + "/app", "v1"), creds))
    out = pulled_dir()
    clients.ok(clients.pull(registry.ref(proj + "/app", "v1"), out, creds))
    assert clients.read_layout(out)[1] == {"hello.txt": image.content.encode()}
    # refused elsewhere (another project: the registry's denial), and a token of another
    # repository (the realm's 401)
    clients.denied(clients.push(oci_image(), registry.ref(proj + "-other/app", "v1"), creds))
    other = gh.github(dockhand.env["DOCKHAND_SERVICE"], repository="octo-org/other")
    clients.bad_credentials(clients.push(oci_image(), registry.ref(proj + "/app", "v2"),
                                         (rb["name"], other)))
    # podman login takes the identity token as the password, and refuses the other one
    clients.ok(clients.podman_login(registry.host, rb["name"], token))
    clients.bad_credentials(clients.podman_login(registry.host, rb["name"], other))


def test_docker_cli_with_a_gitlab_token(dockhand, srv, registry, docker, logs, uniq):
    gl = srv.issuer("gitlab")
    proj, rb = keyless_robot(dockhand, uniq, gl, "project_path:grp/app:ref_type:branch:ref:*",
                             {"ref_protected": "true"})
    token = gl.gitlab(dockhand.env["DOCKHAND_SERVICE"], project_path="grp/app")
    ref = "%s/%s/app:1" % (registry.host, proj)
    docker.image(ref)
    p = docker.ok(docker.login(registry.host, rb["name"], token))
    assert "Login Succeeded" in p.stdout
    # no refresh token for an identity login: docker keeps the identity token itself
    saved = docker.saved_auth(registry.host)
    assert saved["user"] == rb["name"] and saved["secret"] == token and not saved["identitytoken"]
    docker.ok(docker.push(ref))
    logs.mark()
    docker.ok(docker.pull(ref))
    assert {t[:3] for t in logs.tokens()} == {(t[0], 200, rb["name"]) for t in logs.tokens()}
    elsewhere = "%s/%s-other/app:1" % (registry.host, proj)
    docker.image(elsewhere)
    docker.refused(docker.push(elsewhere))
    # an unprotected branch's token is refused at login
    docker.logout(registry.host)
    docker.refused(docker.login(registry.host, rb["name"],
                                gl.gitlab(dockhand.env["DOCKHAND_SERVICE"], project_path="grp/app",
                                          ref_protected=False)))
