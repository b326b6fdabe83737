"""Fixtures of the deploy suite (README "Deployment"): the images of docker/ built once
per session in a private Docker engine, and compose stacks made from docker/compose.yml.

- `engine` (session): helpers.dockerd.Dockerd with overlay2 (vfs would copy each image's
  whole file system at every build step), stopped and removed at the end.
- `images` (session): docker/make-base (the Debian base image from the mmdebstrap tarball
  cached in ${XDG_CACHE_HOME:-~/.cache}/dockhand, made when absent), then
  `docker-compose build` of postgres, registry, haproxy and dockhand from
  docker/compose.local.yml. Build times go to the figures file.
- `stack_factory` (session): stack_factory(name, profiles=()) → helpers.compose.Stack, a
  compose project on docker/compose.yml + compose.local.yml + compose.host.yml (host
  networking, free ports); every stack is torn down with its volumes (`down -v`) at the
  end of the session, and the suite checks that no container or volume is left.

Figures (times, request counts) are written to $DEPLOY_FIGURES (JSON) when it is set
(meson sets <build>/tests/deploy-figures.json) and printed at the end of the session.
"""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from helpers import dockerd
from helpers.compose import DOCKER_DIR, FIGURES, Stack, figure

BASE_TAG = "dockhand-local/debian:12"
BUILD_TIMEOUT = 1200


@pytest.fixture(scope="session")
def engine():
    reason = dockerd.unavailable()
    if reason:
        pytest.skip(reason)
    # A short path: the engine's sockets live below it.
    d = dockerd.Dockerd(storage_driver="overlay2")
    try:
        d.start()
    except Exception:
        d.stop()
        raise
    yield d
    d.stop()


@pytest.fixture(scope="session")
def images(engine):
    env = engine.env(DOCKER=dockerd.DOCKER, COMPOSE_DOCKER_CLI_BUILD="0", DOCKER_BUILDKIT="0")
    t0 = time.monotonic()
    p = subprocess.run([str(DOCKER_DIR / "make-base"), BASE_TAG], capture_output=True,
                       text=True, env=env, timeout=900)
    assert p.returncode == 0, "make-base: %s%s" % (p.stdout, p.stderr)
    t1 = time.monotonic()
    builder = Stack(engine, "dhbuild", profiles=["lb"])
    p = builder.compose("build", "--parallel", "postgres", "registry", "haproxy", "dockhand",
                        check=False, timeout=BUILD_TIMEOUT)
    assert p.returncode == 0, "build: exit %d\n%s\n%s" % (p.returncode, p.stdout[-6000:],
                                                         p.stderr[-3000:])
    t2 = time.monotonic()
    figure("base_image_s", round(t1 - t0, 1))
    figure("image_builds_s", round(t2 - t1, 1))
    sizes = engine.docker("images", "--format", "{{.Repository}}:{{.Tag}} {{.Size}}").stdout
    figure("images", sorted(l for l in sizes.splitlines() if not l.startswith("<none>")))
    return True


@pytest.fixture(scope="session")
def stack_factory(engine, images):
    made = []

    def make(name, profiles=()):
        s = Stack(engine, name, profiles)
        made.append(s)
        return s
    yield make
    for s in made:
        s.down()
    # Nothing of any stack is left: containers, volumes, networks.
    left = engine.docker("ps", "-aq").stdout.split() + engine.docker("volume", "ls", "-q").stdout.split()
    assert not left, "left after down -v: %s" % left


def pytest_sessionfinish(session, exitstatus):
    if not FIGURES:
        return
    text = json.dumps(FIGURES, indent=2, sort_keys=True)
    print("\ndeploy figures:\n" + text)
    path = os.environ.get("DEPLOY_FIGURES")
    if path:
        Path(path).write_text(text + "\n")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure, the logs of every stack the test used."""
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and rep.failed:
        for name in ("stack", "lb"):
            s = item.funcargs.get(name)
            if isinstance(s, Stack):
                rep.sections.append(("compose logs (%s)" % s.project, s.logs()[-20000:]))
