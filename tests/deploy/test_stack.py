"""The compose stack of docker/compose.yml with the images built from Debian's packages
(docker/compose.local.yml) on the host's network (docker/compose.host.yml): the one-shot
migrate and keygen, a robot made with `compose exec`, docker login + push + pull through
the stack's registry, dockhand's container stopped and started again (the robot still
works: nothing lived in the container), then everything torn down with its volumes."""

import json
import subprocess
import time

import pytest
import requests

from helpers.compose import COMPOSE, DOCKER_DIR, figure, wait_for


@pytest.fixture(scope="module")
def stack(stack_factory):
    s = stack_factory("dhstack")
    t0 = time.monotonic()
    s.up_setup()
    s.compose("up", "-d")
    s.wait_healthy("dockhand")
    figure("stack_up_s", round(time.monotonic() - t0, 1))
    yield s
    t0 = time.monotonic()
    s.down()
    figure("stack_down_s", round(time.monotonic() - t0, 1))


def login(engine, registry, user, secret):
    return engine.docker("login", "-u", user, "--password-stdin", registry, input=secret)


def test_image_non_root_one_key_ready(stack):
    cid = stack.container("dockhand")
    cfg = json.loads(stack.engine.docker("inspect", cid, check=True).stdout)[0]["Config"]
    assert cfg["User"] == "dockhand"
    assert stack.exec("dockhand", "id", "-u").strip() != "0"
    assert cfg["Healthcheck"]["Test"][-2:] == ["dockhand", "probe"], cfg["Healthcheck"]
    # keygen ran twice (run, then up) and made one key.
    keys = stack.exec("dockhand", "ls", "/keys").split()
    assert len([k for k in keys if k.endswith(".crt")]) == 1, keys
    assert len([k for k in keys if k.endswith(".key")]) == 1, keys
    r = requests.get(stack.url("DOCKHAND1") + "/readyz", timeout=5)
    assert r.status_code == 200 and r.json()["status"] == "ready", r.text
    # Runtime libraries only: no compiler, no headers.
    assert stack.compose("exec", "-T", "dockhand", "sh", "-c", "command -v gcc || ls /usr/include/event2",
                         check=False).returncode != 0


def test_login_push_pull_restart(stack):
    engine = stack.engine
    registry = "127.0.0.1:%d" % stack.ports["REGISTRY"]
    stack.exec("dockhand", "dockhand", "project", "create", "demo")
    created = json.loads(stack.exec("dockhand", "dockhand", "robot", "create", "ci",
                                    "--project", "demo:pull,push", "--output", "json"))
    user, secret = created["name"], created["secret"]
    assert user == "robot$ci"

    p = login(engine, registry, user, secret)
    assert p.returncode == 0, p.stdout + p.stderr
    bad = login(engine, registry, user, secret[:-1] + ("x" if secret[-1] != "x" else "y"))
    assert bad.returncode != 0
    p = login(engine, registry, user, secret)
    assert p.returncode == 0, p.stdout + p.stderr

    ref = "%s/demo/app:1" % registry
    engine.import_files(ref, {"hello.txt": b"hello from the deploy suite\n"})
    engine.docker("push", ref, check=True)
    engine.docker("rmi", ref, check=True)
    engine.docker("pull", ref, check=True)
    # Refused: a project the robot holds nothing on.
    other = "%s/other/app:1" % registry
    engine.docker("tag", ref, other, check=True)
    assert engine.docker("push", other).returncode != 0

    # Stop dockhand's container and start it again: the robot, the schema and the keys
    # live in PostgreSQL and the keys volume, not in the container.
    t0 = time.monotonic()
    stack.compose("stop", "dockhand")
    with pytest.raises(requests.ConnectionError):
        requests.get(stack.url("DOCKHAND1") + "/readyz", timeout=5)
    engine.docker("logout", registry)
    assert login(engine, registry, user, secret).returncode != 0  # no token realm now
    stack.compose("start", "dockhand")
    stack.wait_healthy("dockhand")
    figure("stack_restart_to_healthy_s", round(time.monotonic() - t0, 1))
    p = wait_for(lambda: login(engine, registry, user, secret).returncode == 0 or None, 30,
                 "login after the restart", step=0.5)
    engine.docker("rmi", ref, other, check=True)
    engine.docker("pull", ref, check=True)


@pytest.mark.parametrize("files,profiles", [
    (["compose.yml", "compose.bridge.yml"], []),
    (["compose.yml", "compose.bridge.yml"], ["lb"]),
    (["compose.yml", "compose.local.yml", "compose.bridge.yml"], ["lb"]),
    (["compose.yml", "compose.local.yml", "compose.host.yml"], ["lb"]),
])
def test_compose_files_combine(files, profiles):
    """Every documented combination is a valid compose project (`config -q`), also the
    official images' one, which this machine cannot pull."""
    cmd = [COMPOSE, "-p", "dhconfig"]
    for f in files:
        cmd += ["-f", str(DOCKER_DIR / f)]
    for p in profiles:
        cmd += ["--profile", p]
    p = subprocess.run(cmd + ["config", "-q"], capture_output=True, text=True, timeout=60,
                       cwd=str(DOCKER_DIR))
    assert p.returncode == 0, p.stderr
