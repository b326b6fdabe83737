"""Compose stacks of docker/ for the deploy suite (tests/deploy): Stack runs
/usr/bin/docker-compose on docker/compose.yml + compose.local.yml (images built from
Debian's packages) + compose.host.yml (host networking: each port free, chosen here, passed
in the environment) against a helpers.dockerd.Dockerd.

Stack(engine, name, profiles=()): .compose(*args, check=True, input=None) → CompletedProcess,
.exec(service, *cmd, input=None) → stdout, .container(service) → id, .health(service),
.wait_healthy(*services), .ports {PG, DOCKHAND1..3, REGISTRY, LB, METRICS1..3}, .url(key),
.up_setup() (postgres, then the one-shot migrate and keygen, each exit 0), .logs(), .down()
(`down -v`). figure(key, value) records a figure of the run (FIGURES); wait_for(pred,
timeout, what) polls; get_ok(url) is True on a 200.
"""

import socket
import subprocess
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
DOCKER_DIR = ROOT / "docker"
COMPOSE = "/usr/bin/docker-compose"
FILES = ["compose.yml", "compose.local.yml", "compose.host.yml"]
HEALTH_TIMEOUT = 90

FIGURES = {}


def figure(key, value):
    FIGURES[key] = value


def free_ports(n):
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class Stack:
    def __init__(self, engine, name, profiles=()):
        self.engine = engine
        self.project = name
        self.profiles = list(profiles)
        pg, d1, d2, d3, reg, lb, m1, m2, m3 = free_ports(9)
        self.ports = {"PG": pg, "DOCKHAND1": d1, "DOCKHAND2": d2, "DOCKHAND3": d3,
                      "REGISTRY": reg, "LB": lb, "METRICS1": m1, "METRICS2": m2,
                      "METRICS3": m3}
        realm_port = lb if "lb" in self.profiles else d1
        self.env = engine.env(
            PG_PORT=str(pg), DOCKHAND1_PORT=str(d1), DOCKHAND2_PORT=str(d2),
            DOCKHAND3_PORT=str(d3), REGISTRY_PORT=str(reg), LB_PORT=str(lb),
            DOCKHAND1_METRICS_PORT=str(m1), DOCKHAND2_METRICS_PORT=str(m2),
            DOCKHAND3_METRICS_PORT=str(m3),
            DOCKHAND_PUBLIC_REALM="http://127.0.0.1:%d/service/token" % realm_port,
            # Behind the balancer every client has its address (no X-Forwarded-For).
            DOCKHAND_FAIL_LIMIT_ADDRESS="1000000" if "lb" in self.profiles else "50",
            # test_lb times how soon a disabled robot is refused: at the default 600,000
            # iterations every refusal pays ~250 ms of PBKDF2 here (200-360 ms seen), which
            # is not propagation; the minimum keeps it a few milliseconds.
            DOCKHAND_PASSWORD_ITERATIONS="10000" if "lb" in self.profiles else "600000",
            COMPOSE_DOCKER_CLI_BUILD="0", DOCKER_BUILDKIT="0",
            COMPOSE_PROJECT_NAME=name)
        self.up = False

    def compose(self, *args, check=True, input=None, timeout=600):
        cmd = [COMPOSE, "--no-ansi", "-p", self.project]
        for f in FILES:
            cmd += ["-f", str(DOCKER_DIR / f)]
        for p in self.profiles:
            cmd += ["--profile", p]
        cmd += [str(a) for a in args]
        p = subprocess.run(cmd, input=input, capture_output=True, text=True,
                           timeout=timeout, env=self.env, cwd=str(DOCKER_DIR))
        if check and p.returncode != 0:
            raise AssertionError("docker-compose %s: exit %d\n%s\n%s"
                                 % (" ".join(map(str, args)), p.returncode, p.stdout,
                                    p.stderr))
        return p

    def exec(self, service, *cmd, input=None):
        return self.compose("exec", "-T", service, *cmd, input=input).stdout

    def container(self, service):
        cid = self.compose("ps", "-q", service).stdout.strip()
        assert cid, "no container for %s" % service
        return cid

    def health(self, service):
        return self.engine.docker("inspect", "-f", "{{.State.Health.Status}}",
                                  self.container(service)).stdout.strip()

    def wait_healthy(self, *services, timeout=HEALTH_TIMEOUT):
        deadline = time.monotonic() + timeout
        for s in services:
            while self.health(s) != "healthy":
                assert time.monotonic() < deadline, \
                    "%s not healthy in %ds\n%s" % (s, timeout, self.logs(s))
                time.sleep(0.3)

    def url(self, key):
        return "http://127.0.0.1:%d" % self.ports[key]

    def up_setup(self):
        """postgres, then the one-shot migrate and keygen, each checked to exit 0."""
        self.up = True
        self.compose("up", "-d", "postgres")
        self.wait_healthy("postgres")
        self.compose("run", "--rm", "migrate")
        self.compose("run", "--rm", "keygen")

    def logs(self, *services):
        return self.compose("logs", "--no-color", "--tail", "80", *services,
                            check=False).stdout

    def down(self):
        if self.up:
            self.compose("down", "-v", "--remove-orphans", "--timeout", "5", check=False)
            self.up = False


def wait_for(pred, timeout, what, step=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        assert time.monotonic() < deadline, "%s: not within %ss" % (what, timeout)
        time.sleep(step)


def get_ok(url, **kw):
    try:
        return requests.get(url, timeout=2, **kw).status_code == 200
    except requests.RequestException:
        return False


