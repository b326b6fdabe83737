"""The token realm over HTTPS (issue 12): a dockhand with DOCKHAND_TLS_CERT/KEY from a CA
made here, the real registry pointing its realm at https://…, skopeo and podman logging
in, pushing and pulling through it while trusting that CA, and refused when they do not.

containers/image checks the realm's certificate with the same TLS settings as the
registry's (`--tls-verify=false` would skip both), so the registry serves HTTPS too, from
a second CA. The clients trust CAs through SSL_CERT_FILE (Go's crypto/x509 reads it on
Linux): both roots, or only the registry's (then the realm alone is untrusted)."""

import os
import re
import subprocess

import pytest
import requests

from helpers import dockerd
from helpers.tlsca import TestCA

X509_UNKNOWN = "x509: certificate signed by unknown authority"


class Setup:
    pass


@pytest.fixture(scope="module")
def tls_setup(e2e_tools, dockhand_factory, registry_factory, tmp_path_factory):
    root = str(tmp_path_factory.mktemp("tls-e2e"))
    realm_ca = TestCA(os.path.join(root, "realm-ca"), cn="dockhand realm test CA")
    registry_ca = TestCA(os.path.join(root, "registry-ca"), cn="registry test CA")
    leaf = realm_ca.intermediate("realm intermediate CA").issue("dockhand e2e")
    d = dockhand_factory(ca=realm_ca.cert_path, DOCKHAND_TLS_CERT=leaf.cert_path,
                         DOCKHAND_TLS_KEY=leaf.key_path)
    assert d.url.startswith("https://")
    r = d.get("/keys/certs.pem")
    assert r.status_code == 200, r.text
    reg_leaf = registry_ca.issue("registry e2e")
    reg = registry_factory(d.url + "/service/token", r.content,
                           tls=(reg_leaf.cert_path, reg_leaf.key_path), ca=registry_ca.cert_path)
    s = Setup()
    s.d, s.registry = d, reg
    s.registry_ca, s.certs_pem = registry_ca, r.content
    s.both = os.path.join(root, "both-roots.pem")
    s.registry_only = registry_ca.cert_path
    with open(s.both, "wb") as out:
        for path in (registry_ca.cert_path, realm_ca.cert_path):
            with open(path, "rb") as f:
                out.write(f.read())
    return s


def trusting(clients, bundle):
    clients.env["SSL_CERT_FILE"] = bundle
    clients.env.pop("SSL_CERT_DIR", None)
    return clients


def podman_login(clients, host, user, secret):
    """podman login with TLS verification on (the fixture's helper turns it off)."""
    return clients.podman("--log-level=debug", "login", "--authfile", clients.authfile,
                          "-u", user, "--password-stdin", host, input=secret + "\n")


def tokens_issued(d, user):
    return d.log_text().count("token for %s granted" % user)


def test_the_registry_points_clients_at_the_https_realm(tls_setup):
    s = tls_setup
    r = requests.get(s.registry.url + "/v2/", timeout=10, verify=s.registry.verify)
    assert r.status_code == 401
    assert 'realm="%s/service/token"' % s.d.url in r.headers["WWW-Authenticate"]
    assert s.d.url.startswith("https://127.0.0.1:")


def test_skopeo_pushes_and_pulls_through_the_https_realm(tls_setup, clients, oci_image,
                                                        pulled_dir, uniq):
    s = tls_setup
    proj = uniq("tls")
    s.d.create_project(proj)
    robot = s.d.create_robot(uniq("ci"), projects={proj: ["pull", "push"]})
    user, secret = robot["name"], robot["secret"]
    trusting(clients, s.both)
    image = oci_image()
    ref = "docker://%s/%s/app:v1" % (s.registry.host, proj)
    before = tokens_issued(s.d, user)
    clients.ok(clients.skopeo("copy", "--dest-creds", "%s:%s" % (user, secret), image.ref, ref))
    dest = pulled_dir()
    clients.ok(clients.skopeo("copy", "--src-creds", "%s:%s" % (user, secret), ref,
                              "oci:%s:latest" % dest))
    manifest, files = clients.read_layout(dest)
    assert files == {"hello.txt": image.content.encode()}
    assert tokens_issued(s.d, user) > before  # the tokens came from the https realm


def test_podman_logs_in_pushes_and_pulls_through_the_https_realm(tls_setup, clients, oci_image,
                                                                uniq):
    s = tls_setup
    proj = uniq("tls")
    s.d.create_project(proj)
    robot = s.d.create_robot(uniq("ci"), projects={proj: ["pull", "push"]})
    user, secret = robot["name"], robot["secret"]
    trusting(clients, s.both)
    host = s.registry.host
    p = clients.ok(podman_login(clients, host, user, secret))
    assert "Login Succeeded" in p.stdout
    # An image into the registry (skopeo, with podman's saved login), then podman pulls it
    # and pushes it under another name, authenticated by the login above.
    image = oci_image()
    clients.ok(clients.skopeo("copy", "--authfile", clients.authfile, image.ref,
                              "docker://%s/%s/app:v1" % (host, proj)))
    clients.ok(clients.podman("pull", "--authfile", clients.authfile,
                              "%s/%s/app:v1" % (host, proj)))
    clients.ok(clients.podman("push", "--authfile", clients.authfile,
                              "%s/%s/app:v1" % (host, proj), "%s/%s/copy:v2" % (host, proj)))
    r = clients.ok(clients.skopeo("inspect", "--authfile", clients.authfile,
                                  "docker://%s/%s/copy:v2" % (host, proj)))
    assert '"dockhand.test"' in r.stdout


def test_clients_that_do_not_trust_the_realm_ca_fail(tls_setup, clients, oci_image, uniq):
    s = tls_setup
    proj = uniq("tls")
    s.d.create_project(proj)
    robot = s.d.create_robot(uniq("ci"), projects={proj: ["pull", "push"]})
    user, secret = robot["name"], robot["secret"]
    trusting(clients, s.registry_only)  # the registry is trusted, the realm is not
    before = tokens_issued(s.d, user)
    realm_host = "127.0.0.1:%d" % s.d.port

    p = podman_login(clients, s.registry.host, user, secret)
    assert p.returncode != 0, p.stdout
    assert X509_UNKNOWN in p.stderr and realm_host in p.stderr, p.stderr[-3000:]
    assert clients.saved_auth(s.registry.host) is None

    p = clients.skopeo("copy", "--dest-creds", "%s:%s" % (user, secret), oci_image().ref,
                       "docker://%s/%s/app:v1" % (s.registry.host, proj))
    assert p.returncode != 0, p.stdout
    assert X509_UNKNOWN in p.stderr and realm_host in p.stderr, p.stderr[-3000:]
    assert tokens_issued(s.d, user) == before

    # Trusting the realm's CA as well, the same client gets in.
    trusting(clients, s.both)
    clients.ok(podman_login(clients, s.registry.host, user, secret))


# ----------------------------------------------------------------------------
# The real Docker engine (tests/helpers/dockerd.py): the daemon, not the CLI, fetches the
# tokens, so the daemon's SSL_CERT_FILE decides whom it trusts. The daemon fetches tokens
# with the registry's TLS settings, and it always counts a registry on 127.0.0.0/8 as
# insecure (no certificate checked, the realm's included): the registry here listens on
# the machine's own non-loopback address; dockhand stays on 127.0.0.1.


def outward_address():
    """This machine's first global IPv4 address, or None."""
    try:
        out = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"],
                             capture_output=True, text=True, timeout=10).stdout
    except OSError:
        return None
    found = re.findall(r"\binet (\d+\.\d+\.\d+\.\d+)/", out)
    return found[0] if found else None


@pytest.fixture(scope="module")
def docker_registry(tls_setup, registry_factory):
    address = outward_address()
    if address is None:
        pytest.fail("no global IPv4 address: dockerd treats a registry on 127.0.0.0/8 as "
                    "insecure and would not check the realm's certificate", pytrace=False)
    s = tls_setup
    leaf = s.registry_ca.issue("registry e2e for docker", hosts=(address,))
    return registry_factory(s.d.url + "/service/token", s.certs_pem,
                            tls=(leaf.cert_path, leaf.key_path), ca=s.registry_ca.cert_path,
                            address=address)


@pytest.fixture
def tls_docker_engine():
    reason = dockerd.unavailable()
    if reason and os.geteuid() != 0:
        pytest.skip(reason)  # as the other Docker tests: only root runs a private dockerd
    if reason:
        pytest.fail("the docker part of the TLS e2e needs a private dockerd: " + reason,
                    pytrace=False)
    made = []

    def make(bundle):
        engine = dockerd.Dockerd(env={"SSL_CERT_FILE": bundle})
        made.append(engine)
        return engine.start()

    yield make
    for engine in made:
        engine.stop()


def test_docker_engine_logs_in_pushes_and_pulls_through_the_https_realm(
        tls_setup, docker_registry, tls_docker_engine, uniq):
    s = tls_setup
    proj = uniq("tls")
    s.d.create_project(proj)
    robot = s.d.create_robot(uniq("ci"), projects={proj: ["pull", "push"]})
    user, secret = robot["name"], robot["secret"]
    engine = tls_docker_engine(s.both)
    host = docker_registry.host
    before = tokens_issued(s.d, user)
    p = engine.docker("login", "-u", user, "--password-stdin", host, input=secret + "\n")
    assert p.returncode == 0 and "Login Succeeded" in p.stdout, p.stderr + engine.log_tail()
    tag = "%s/%s/app:v1" % (host, proj)
    engine.import_files(tag, {"hello.txt": b"dockhand tls e2e\n"})
    engine.docker("push", tag, check=True)
    engine.docker("rmi", tag, check=True)
    engine.docker("pull", tag, check=True)
    assert tokens_issued(s.d, user) >= before + 3  # login, push, pull: all from the realm


def test_docker_engine_without_the_realm_ca_fails(tls_setup, docker_registry, tls_docker_engine,
                                                  uniq):
    s = tls_setup
    robot = s.d.create_robot(uniq("ci"), projects={"p": ["pull"]})
    user, secret = robot["name"], robot["secret"]
    engine = tls_docker_engine(s.registry_only)  # trusts the registry, not the realm
    before = tokens_issued(s.d, user)
    p = engine.docker("login", "-u", user, "--password-stdin", docker_registry.host,
                      input=secret + "\n")
    assert p.returncode != 0, p.stdout
    assert X509_UNKNOWN in p.stderr and "127.0.0.1:%d" % s.d.port in p.stderr, p.stderr
    assert tokens_issued(s.d, user) == before
