"""End-to-end fixtures: the real registry, real skopeo and podman, OCI images.

dockhand itself and PostgreSQL come from tests/conftest.py: `dockhand` (one
instance per module, service `test-registry`, issuer `test-issuer`). Here:

- `registry`: Debian's `docker-registry` (distribution 2.8) configured from
  docker/registry-config.yml.in with `auth.token` pointing at that dockhand.
- `oci_image(content)`: an OCI image layout directory built on the spot (no
  network), one layer holding `hello.txt` with `content`.
- `clients`: skopeo and podman with every configuration and state file in a
  temporary directory, so nothing touches the user's or the system's config.
- `registry_factory(realm, certs_pem, tls=None, ca=None, address="127.0.0.1")`: another
  registry (module scope) for a dockhand of the test's own, e.g. one serving HTTPS;
  tls=(cert, key) makes the registry itself HTTPS, ca checks its certificate.
- `uniq(prefix)`: a fresh lower-case name (projects, robots, repositories) so
  tests sharing one dockhand and one registry never collide.
- `docker_engine` (session): one private dockerd (helpers.dockerd.Dockerd, Debian's
  `docker.io`: dockerd 20.10 and the containerd 1.6 it starts) for the whole run,
  stopped at the end. Skipped, with the reason, only when not root; as root a
  missing docker.io fails.
- `docker`: /usr/bin/docker against that engine with this test's own client
  configuration directory (logins never leak between tests), ctr against its
  containerd, tiny images made by `docker import` (no base image, no network).
- `logs`: what dockhand and the registry logged since the test began.
"""

import base64
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import requests

from helpers import dockerd as dockerd_mod
from helpers.realm_proxy import RealmProxy

REPO_ROOT = Path(__file__).resolve().parents[2]
REGISTRY_TEMPLATE = REPO_ROOT / "docker" / "registry-config.yml.in"
REGISTRY_BIN = "docker-registry"
# Debian packages the suite needs (nothing is skipped when one is missing).
TOOLS = {"docker-registry": "docker-registry", "skopeo": "skopeo", "podman": "podman"}

SERVICE = "test-registry"
ISSUER = "test-issuer"

# Every client call gets this many seconds before it is killed.
CLIENT_TIMEOUT = 120
READY_TIMEOUT = 30

# What a refusal by the registry or by dockhand looks like in a client's stderr:
# "unauthorized: authentication required", "requested access to the resource
# is denied", and containers-image's "invalid username/password: unauthorized"
# when the token realm answered 401. (A crash, a refused connection or a
# timeout reads differently and fails the test.)
REFUSED = re.compile(r"unauthori[sz]ed|denied|authentication required", re.I)
BAD_CREDENTIALS = "invalid username/password"
# dockhand's access line for a token request: "[rid] POST /service/token 200 0.56ms token for
# robot$p+ci granted repository:p/app:pull" (a refusal ends after the time).
DOCKHAND_TOKEN_LINE = re.compile(r"\] (?P<method>GET|POST) /service/token (?P<status>\d{3}) "
                                 r"[\d.]+ms(?: token for (?P<who>\S+) granted (?P<granted>\S+))?$")
# One line of the registry's access log (combined format).
REGISTRY_ACCESS = re.compile(r'^\S+ - - \[[^\]]*\] "(?P<method>[A-Z]+) (?P<uri>\S+) HTTP/[\d.]+" '
                             r'(?P<status>\d{3}) \S+ "[^"]*" "(?P<agent>[^"]*)"', re.M)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def render_registry_config(**values):
    """The registry template without its comments, every @NAME@ replaced; a name
    the template lacks, or one left unreplaced, fails."""
    text = "".join(line for line in REGISTRY_TEMPLATE.read_text().splitlines(True)
                   if not line.lstrip().startswith("#"))
    for key, value in values.items():
        marker = "@%s@" % key
        assert marker in text, "template has no %s" % marker
        text = text.replace(marker, str(value))
    left = re.findall(r"@[A-Z_]+@", text)
    assert not left, "unreplaced template values: %s" % left
    return text


# ----------------------------------------------------------------------------
# The registry


class Registry:
    """A running `docker-registry serve` whose auth is dockhand's token realm; with
    tls=(cert file, key file) it serves HTTPS, its certificate checked against ca."""

    def __init__(self, workdir, realm, certs_pem, tls=None, ca=None, address="127.0.0.1"):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.realm = realm
        self.port = free_port()
        self.host = "%s:%d" % (address, self.port)
        self.url = ("https://" if tls else "http://") + self.host
        self.verify = ca if (tls and ca) else True
        self.bundle = self.workdir / "rootcerts.pem"
        self.bundle.write_bytes(certs_pem)
        self.config = self.workdir / "config.yml"
        text = render_registry_config(
            REGISTRY_ADDR=self.host,
            STORAGE_DIR=self.workdir / "storage",
            REALM=realm,
            SERVICE=SERVICE,
            ISSUER=ISSUER,
            ROOTCERTBUNDLE=self.bundle,
            LOG_LEVEL="debug",
        )
        if tls:
            addr = "  addr: %s\n" % self.host
            assert addr in text
            text = text.replace(addr, addr + "  tls:\n    certificate: %s\n    key: %s\n" % tls)
        self.config.write_text(text)
        self.log_path = self.workdir / "registry.log"
        self.proc = None

    def start(self):
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen([REGISTRY_BIN, "serve", str(self.config)],
                                         stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, cwd=self.workdir)
        finally:
            log.close()
        deadline = time.monotonic() + READY_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("registry exited with %s:\n%s"
                                   % (self.proc.returncode, self.log()))
            try:
                r = requests.get(self.url + "/v2/", timeout=2, verify=self.verify)
            except requests.RequestException as e:
                last = e
                time.sleep(0.05)
                continue
            challenge = r.headers.get("WWW-Authenticate", "")
            if r.status_code == 401 and challenge.startswith("Bearer ") \
                    and 'realm="%s"' % self.realm in challenge:
                return
            raise RuntimeError("registry /v2/ answered %s %r, expected 401 Bearer realm=%s\n%s"
                               % (r.status_code, challenge, self.realm, self.log()))
        self.stop()
        raise RuntimeError("registry not ready after %ss (%s):\n%s"
                           % (READY_TIMEOUT, last, self.log()))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self, start=0):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(start)
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def log_size(self):
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def ref(self, repository, tag="latest"):
        """A containers-image reference: docker://127.0.0.1:PORT/REPO:TAG."""
        return "docker://%s/%s:%s" % (self.host, repository, tag)


# ----------------------------------------------------------------------------
# OCI images built on the spot


def _sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class OciImage:
    """An OCI image layout directory with one image tagged `latest`."""

    def __init__(self, path, content):
        self.path = Path(path)
        self.content = content
        blobs = self.path / "blobs" / "sha256"
        blobs.mkdir(parents=True)

        def put(data):
            digest = _sha256(data)
            (blobs / digest[len("sha256:"):]).write_bytes(data)
            return {"digest": digest, "size": len(data)}

        data = content.encode()
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            info = tarfile.TarInfo("hello.txt")
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
        layer_tar = raw.getvalue()
        layer = put(gzip.compress(layer_tar, mtime=0))
        config = put(json.dumps({
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": {"dockhand.test": content[:64]}},
            "rootfs": {"type": "layers", "diff_ids": [_sha256(layer_tar)]},
        }, sort_keys=True).encode())
        manifest = put(json.dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": dict(config, mediaType="application/vnd.oci.image.config.v1+json"),
            "layers": [dict(layer, mediaType="application/vnd.oci.image.layer.v1.tar+gzip")],
        }, sort_keys=True).encode())
        (self.path / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
        (self.path / "index.json").write_text(json.dumps({
            "schemaVersion": 2,
            "manifests": [dict(manifest,
                               mediaType="application/vnd.oci.image.manifest.v1+json",
                               annotations={"org.opencontainers.image.ref.name": "latest"})],
        }))
        self.layer_digest = layer["digest"]
        self.config_digest = config["digest"]
        self.manifest_digest = manifest["digest"]

    @property
    def ref(self):
        return "oci:%s:latest" % self.path


def read_oci_layout(path, tag="latest"):
    """(manifest dict, {layer digest: file bytes}) of the image `tag` in an OCI layout."""
    path = Path(path)
    index = json.loads((path / "index.json").read_text())
    desc = [m for m in index["manifests"]
            if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag]
    assert len(desc) == 1, index
    blob = lambda d: (path / "blobs" / d.split(":", 1)[0] / d.split(":", 1)[1]).read_bytes()
    manifest = json.loads(blob(desc[0]["digest"]))
    files = {}
    for layer in manifest["layers"]:
        data = blob(layer["digest"])
        assert _sha256(data) == layer["digest"]
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            for member in tar.getmembers():
                if member.isfile():
                    files[member.name] = tar.extractfile(member).read()
    return manifest, files


# ----------------------------------------------------------------------------
# skopeo and podman, isolated


class Clients:
    """skopeo and podman with HOME, XDG dirs, auth file, policy, registries.conf,
    containers.conf and storage all in a private directory."""

    def __init__(self, workdir):
        self.dir = Path(workdir)
        d = self.dir
        for sub in ("home", "config", "data", "cache", "run", "tmp", "registries.d",
                    "podman/net", "podman/volumes"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        # podman refuses a runroot longer than 50 characters (pytest's tmp_path
        # is longer): its runroot and tmp dir live in a short directory of their own.
        base = tempfile.gettempdir()
        self.short = Path(tempfile.mkdtemp(prefix="dhpod-",
                                           dir=base if len(base) <= 24 else "/tmp"))
        self.runroot = self.short / "runroot"
        self.podman_tmp = self.short / "tmp"
        os.chmod(d / "run", 0o700)
        self.authfile = d / "auth.json"
        (d / "policy.json").write_text(json.dumps(
            {"default": [{"type": "insecureAcceptAnything"}]}))
        (d / "registries.conf").write_text("unqualified-search-registries = []\n")
        # podman (even for `login`) opens its runtime; as root its defaults live
        # under /run and /var/lib/containers. These keep them here. The CNI
        # backend is chosen because netavark creates /run/containers/networks.
        (d / "containers.conf").write_text(
            '[engine]\ntmp_dir = "%s"\nvolume_path = "%s"\nevents_logger = "none"\n'
            '[network]\nnetwork_backend = "cni"\nnetwork_config_dir = "%s"\n'
            % (self.podman_tmp, d / "podman/volumes", d / "podman/net"))
        (d / "storage.conf").write_text(
            '[storage]\ndriver = "vfs"\ngraphroot = "%s"\nrunroot = "%s"\n'
            % (d / "podman/storage", self.runroot))
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(d / "home"),
            "XDG_CONFIG_HOME": str(d / "config"),
            "XDG_DATA_HOME": str(d / "data"),
            "XDG_CACHE_HOME": str(d / "cache"),
            "XDG_RUNTIME_DIR": str(d / "run"),
            "TMPDIR": str(d / "tmp"),
            "REGISTRY_AUTH_FILE": str(self.authfile),
            "CONTAINERS_REGISTRIES_CONF": str(d / "registries.conf"),
            "CONTAINERS_CONF": str(d / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(d / "storage.conf"),
            "LC_ALL": "C.UTF-8",
        }
        self.history = []

    def cleanup(self):
        shutil.rmtree(self.short, ignore_errors=True)

    def run(self, *args, input=None):
        """Run a client; returns CompletedProcess (text), never raises on exit codes."""
        try:
            p = subprocess.run([str(a) for a in args], env=self.env, input=input,
                               capture_output=True, text=True, timeout=CLIENT_TIMEOUT,
                               cwd=self.dir)
        except subprocess.TimeoutExpired as e:
            raise AssertionError("%s timed out after %ss\nstdout: %s\nstderr: %s"
                                 % (" ".join(map(str, args)), CLIENT_TIMEOUT, e.stdout, e.stderr))
        self.history.append(p)
        return p

    def skopeo(self, *args):
        return self.run("skopeo", "--policy", self.dir / "policy.json",
                        "--registries.d", self.dir / "registries.d",
                        "--tmpdir", self.dir / "tmp", *args)

    @staticmethod
    def _creds(prefix, creds):
        if creds is None:
            return ["--%sno-creds" % prefix]
        return ["--%screds" % prefix, "%s:%s" % creds]

    def push(self, image, ref, creds):
        """skopeo copy IMAGE → REF; creds is (user, secret) or None (anonymous)."""
        src = image.ref if isinstance(image, OciImage) else image
        return self.skopeo("copy", "--dest-tls-verify=false", *self._creds("dest-", creds),
                           src, ref)

    def pull(self, ref, dest, creds):
        """skopeo copy REF → oci:DEST:latest."""
        return self.skopeo("copy", "--src-tls-verify=false", *self._creds("src-", creds),
                           ref, "oci:%s:latest" % dest)

    def delete(self, ref, creds):
        return self.skopeo("delete", "--tls-verify=false", *self._creds("", creds), ref)

    def podman(self, *args, input=None):
        return self.run("podman", "--root", self.dir / "podman/storage",
                        "--runroot", self.runroot,
                        "--tmpdir", self.podman_tmp, *args, input=input)

    def podman_login(self, host, user, secret):
        """podman login; the secret goes through stdin. Debug logging because
        podman's own message for a 401 from the realm is only "invalid
        username/password"; the debug line adds the realm's error code
        ("... invalid username/password: unauthorized")."""
        return self.podman("--log-level=debug", "login", "--tls-verify=false",
                           "--authfile", self.authfile, "-u", user, "--password-stdin", host,
                           input=secret + "\n")

    def podman_logout(self, host):
        return self.podman("logout", "--authfile", self.authfile, host)

    # Assertions and helpers the tests reach through this fixture (test modules
    # cannot import conftest.py: tests/conftest.py has the same module name).
    @staticmethod
    def creds(robot):
        """(login name, secret) of a robot dict from D.create_robot."""
        return robot["name"], robot["secret"]

    @staticmethod
    def ok(p):
        return assert_ok(p)

    @staticmethod
    def denied(p):
        return assert_denied(p)

    @staticmethod
    def bad_credentials(p):
        return assert_bad_credentials(p)

    @staticmethod
    def missing(p):
        """The client failed because the manifest is not there."""
        assert p.returncode != 0, "expected manifest unknown\n" + describe(p)
        assert "manifest unknown" in p.stderr, describe(p)
        return p

    @staticmethod
    def read_layout(path, tag="latest"):
        return read_oci_layout(path, tag)

    def saved_auth(self, host):
        """The credentials podman stored for host, as (user, secret), or None."""
        try:
            auths = json.loads(self.authfile.read_text()).get("auths", {})
        except FileNotFoundError:
            return None
        entry = auths.get(host)
        if not entry:
            return None
        user, _, secret = base64.b64decode(entry["auth"]).decode().partition(":")
        return user, secret


def describe(p):
    return "exit %s\nargs: %s\nstdout: %s\nstderr: %s" % (
        p.returncode, " ".join(p.args), p.stdout[-3000:], p.stderr[-3000:])


def assert_ok(p):
    assert p.returncode == 0, describe(p)
    return p


def assert_denied(p):
    """The registry refused an access that dockhand did not grant; the robot's
    credentials themselves were accepted (a partial or empty grant is a token,
    not a 401 from the realm)."""
    assert p.returncode != 0, "expected a refusal\n" + describe(p)
    assert REFUSED.search(p.stderr), "refused for another reason\n" + describe(p)
    assert BAD_CREDENTIALS not in p.stderr, \
        "the token realm refused the credentials, expected a registry denial\n" + describe(p)
    return p


def assert_bad_credentials(p):
    """The token realm answered 401: containers-image reports "invalid
    username/password" followed by the realm's error code."""
    assert p.returncode != 0, "expected a login failure\n" + describe(p)
    assert BAD_CREDENTIALS + ": unauthorized" in p.stderr, \
        "expected the realm to refuse the credentials\n" + describe(p)
    return p


# ----------------------------------------------------------------------------
# Fixtures


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "e2e_rep_" + rep.when, rep)


@pytest.fixture(scope="session")
def e2e_tools():
    missing = sorted(pkg for tool, pkg in TOOLS.items() if shutil.which(tool) is None)
    if missing:
        pytest.fail("the e2e suite needs %s: apt-get install %s"
                    % (", ".join(missing), " ".join(missing)), pytrace=False)


@pytest.fixture(scope="module")
def registry(e2e_tools, dockhand, tmp_path_factory):
    """The real registry in front of the module's dockhand; started after dockhand
    has its keys (the registry reads the bundle once)."""
    assert dockhand.env["DOCKHAND_SERVICE"] == SERVICE
    assert dockhand.env["DOCKHAND_ISSUER"] == ISSUER
    r = requests.get(dockhand.url + "/keys/certs.pem", timeout=10)
    assert r.status_code == 200, (r.status_code, r.text)
    assert b"-----BEGIN CERTIFICATE-----" in r.content, r.text
    reg = Registry(tmp_path_factory.mktemp("registry"), dockhand.url + "/service/token",
                   r.content)
    reg.start()
    yield reg
    reg.stop()


@pytest.fixture(scope="module")
def registry_factory(e2e_tools, tmp_path_factory):
    """registry_factory(realm, certs_pem, tls=None, ca=None, address="127.0.0.1") → a
    started Registry (stopped at the end of the module)."""
    made = []

    def make(realm, certs_pem, tls=None, ca=None, address="127.0.0.1"):
        reg = Registry(tmp_path_factory.mktemp("registry"), realm, certs_pem, tls=tls, ca=ca,
                       address=address)
        made.append(reg)
        reg.start()
        return reg

    yield make
    for reg in made:
        reg.stop()


@pytest.fixture(scope="module")
def proxied_registry(e2e_tools, dockhand, tmp_path_factory):
    """A second registry whose realm is a recording pass-through to the module's dockhand
    (helpers/realm_proxy.py): `.proxy.requests` is what the clients sent the realm
    (method, path, query, form fields, auth scheme and user; never a secret)."""
    r = requests.get(dockhand.url + "/keys/certs.pem", timeout=10)
    assert r.status_code == 200, (r.status_code, r.text)
    proxy = RealmProxy(dockhand.url).start()
    reg = Registry(tmp_path_factory.mktemp("proxied-registry"), proxy.url + "/service/token",
                   r.content)
    try:
        reg.start()
    except Exception:
        proxy.stop()
        raise
    reg.proxy = proxy
    yield reg
    reg.stop()
    proxy.stop()


@pytest.fixture(autouse=True)
def _registry_log_on_failure(request):
    """Print what the registry logged during a failed test (pytest shows it)."""
    if "registry" not in request.fixturenames:
        yield
        return
    reg = request.getfixturevalue("registry")
    assert reg.proc.poll() is None, "the registry exited with %s\n%s" % (
        reg.proc.returncode, reg.log()[-20000:])
    start = reg.log_size()
    yield
    rep = getattr(request.node, "e2e_rep_call", None)
    if rep is not None and rep.failed:
        state = "running" if reg.proc.poll() is None else "exited %s" % reg.proc.returncode
        print("----- registry log during %s (%s) -----" % (request.node.nodeid, state))
        print(reg.log(start)[-20000:])


@pytest.fixture
def clients(e2e_tools, tmp_path):
    c = Clients(tmp_path / "clients")
    yield c
    c.cleanup()


@pytest.fixture
def oci_image(tmp_path):
    """oci_image(content) → OciImage; each call a distinct image."""
    n = [0]

    def make(content=None):
        n[0] += 1
        if content is None:
            content = "dockhand e2e %s" % uuid.uuid4()
        return OciImage(tmp_path / ("image%d" % n[0]), content)

    return make


@pytest.fixture
def pulled_dir(tmp_path):
    """pulled_dir() → a fresh path for a pulled OCI layout."""
    n = [0]

    def make():
        n[0] += 1
        return tmp_path / ("pulled%d" % n[0])

    return make


@pytest.fixture
def uniq():
    def make(prefix):
        return "%s%s" % (prefix, uuid.uuid4().hex[:10])
    return make


@pytest.fixture
def project_robot(dockhand, uniq):
    """project_robot(actions): a new project and a project robot holding actions on it;
    returns (project name, robot)."""
    def make(actions, prefix="ci"):
        proj = uniq("p")
        dockhand.create_project(proj)
        return proj, dockhand.create_robot(uniq(prefix), projects={proj: list(actions)},
                                           level="project")
    return make


# ----------------------------------------------------------------------------
# The real docker CLI and containerd's ctr, against one private engine


class DockerClient:
    """/usr/bin/docker with a client configuration directory (DOCKER_CONFIG) of its
    own, against the session's engine. Every call returns the CompletedProcess (text)
    and never raises on an exit code."""

    def __init__(self, engine, workdir):
        self.engine = engine
        self.config = Path(workdir)
        self.config.mkdir(parents=True, exist_ok=True)
        self.history = []
        self.images = []

    def _record(self, args, call):
        try:
            p = call()
        except subprocess.TimeoutExpired as e:
            raise AssertionError("%s timed out\nstdout: %s\nstderr: %s"
                                 % (" ".join(map(str, args)), e.stdout, e.stderr))
        self.history.append(p)
        return p

    def run(self, *args, input=None):
        return self._record(("docker",) + args, lambda: self.engine.docker(
            *args, input=input, config=self.config, timeout=CLIENT_TIMEOUT))

    def login(self, host, user, secret):
        """docker login; the secret goes through stdin."""
        return self.run("login", "--username", user, "--password-stdin", host,
                        input=secret + "\n")

    def logout(self, host):
        return self.run("logout", host)

    def push(self, ref):
        return self.run("push", ref)

    def pull(self, ref):
        """docker pull REF after removing any local copy, so the layers come from the
        registry and not from the engine's store."""
        self.forget(ref)
        return self.run("pull", ref)

    def forget(self, ref):
        self.run("image", "rm", "--force", ref)

    def image(self, ref, content=None):
        """Makes image REF (one file, hello.txt, with content: unique unless given)
        with `docker import`; returns the content."""
        if content is None:
            content = "dockhand docker e2e %s" % uuid.uuid4()
        self.engine.import_files(ref, {"hello.txt": content.encode()})
        self.images.append(ref)
        return content

    def files(self, ref):
        """{path: bytes} of every file in image ref's layers, read from `docker save`."""
        p = subprocess.run([dockerd_mod.DOCKER, "-H", self.engine.host, "save", ref],
                           capture_output=True, timeout=CLIENT_TIMEOUT, env=self.engine.env(
                               DOCKER_CONFIG=str(self.config)))
        assert p.returncode == 0, "docker save %s: %s" % (ref, p.stderr.decode(errors="replace"))
        files = {}
        with tarfile.open(fileobj=io.BytesIO(p.stdout)) as outer:
            manifest = json.load(outer.extractfile("manifest.json"))
            for layer in manifest[0]["Layers"]:
                with tarfile.open(fileobj=outer.extractfile(layer)) as tar:
                    for member in tar.getmembers():
                        if member.isfile():
                            files[member.name] = tar.extractfile(member).read()
        return files

    def saved_auth(self, host):
        """What `docker login` saved for host in this client's config.json:
        {"user", "secret", "identitytoken"} (absent fields None), or None."""
        try:
            auths = json.loads((self.config / "config.json").read_text()).get("auths", {})
        except FileNotFoundError:
            return None
        entry = auths.get(host)
        if entry is None:
            return None
        user = secret = None
        if entry.get("auth"):
            user, _, secret = base64.b64decode(entry["auth"]).decode().partition(":")
        return {"user": user, "secret": secret, "identitytoken": entry.get("identitytoken")}

    def config_text(self):
        try:
            return (self.config / "config.json").read_text()
        except FileNotFoundError:
            return ""

    def ctr(self, *args):
        return self._record(("ctr",) + args,
                            lambda: self.engine.ctr(*args, timeout=CLIENT_TIMEOUT))

    def cleanup(self):
        for ref in self.images:
            self.forget(ref)

    @staticmethod
    def ok(p):
        return assert_ok(p)

    @staticmethod
    def refused(p):
        """docker says "unauthorized", "denied" or "authentication required"."""
        assert p.returncode != 0, "expected a refusal\n" + describe(p)
        assert REFUSED.search(p.stdout + p.stderr), "refused for another reason\n" + describe(p)
        return p


class Logs:
    """What dockhand and the registry logged from the moment this was made."""

    def __init__(self, dockhand, registry):
        self.d = dockhand
        self.reg = registry
        self.d_start = len(dockhand.log_text().encode())
        self.reg_start = registry.log_size()

    def dockhand(self):
        """dockhand's lines since the start (its access lines are written before the
        answer leaves, see tests/integration/test_access_log.py)."""
        data = Path(self.d.log_path).read_bytes()[self.d_start:]
        return data.decode(errors="replace").splitlines()

    def tokens(self):
        """dockhand's access lines for the token realm since the start, as
        (method, status, who, granted): who and granted are None for a refusal,
        who is "anonymous" for an anonymous token, granted "-" for no access."""
        out = []
        for line in self.dockhand():
            m = DOCKHAND_TOKEN_LINE.search(line)
            if m:
                out.append((m.group("method"), int(m.group("status")), m.group("who"),
                            m.group("granted")))
        return out

    def registry(self):
        return self.reg.log(self.reg_start)

    def registry_requests(self, agent=None):
        """(method, uri, status) of every request in the registry's access log since the
        start; agent: only those whose User-Agent holds it."""
        out = []
        for m in REGISTRY_ACCESS.finditer(self.registry()):
            if agent is None or agent in m.group("agent"):
                out.append((m.group("method"), m.group("uri"), int(m.group("status"))))
        return out

    def mark(self):
        """Starts over from now."""
        self.__init__(self.d, self.reg)

    def of(self, registry):
        """The same, for another registry in front of the same dockhand, from now."""
        return Logs(self.d, registry)


@pytest.fixture(scope="session")
def docker_engine():
    """One private dockerd for the whole run (see helpers/dockerd.py)."""
    reason = dockerd_mod.unavailable()
    if reason:
        if os.geteuid() != 0:
            pytest.skip(reason)
        pytest.fail("the docker e2e tests need %s" % reason, pytrace=False)
    engine = dockerd_mod.Dockerd()
    try:
        engine.start()
    except Exception:
        engine.stop()
        raise
    yield engine
    engine.stop()


@pytest.fixture
def docker(docker_engine, tmp_path, request):
    """A docker (and ctr) client of this test's own; on failure its commands and the
    engine's log are printed."""
    c = DockerClient(docker_engine, tmp_path / "docker-config")
    yield c
    rep = getattr(request.node, "e2e_rep_call", None)
    if rep is not None and rep.failed:
        print("----- docker and ctr commands of %s -----" % request.node.nodeid)
        for p in c.history:
            # ctr --user takes "name:secret" on its command line: not printed.
            args = [("%s:<secret>" % a.partition(":")[0]) if prev == "--user" else a
                    for prev, a in zip([""] + list(p.args), p.args)]
            print(describe(subprocess.CompletedProcess(args, p.returncode, p.stdout,
                                                       p.stderr)))
        print("----- dockerd log (%s) -----" % docker_engine.log_path)
        print(docker_engine.log_tail(40))
    c.cleanup()


@pytest.fixture
def logs(dockhand, registry):
    return Logs(dockhand, registry)
