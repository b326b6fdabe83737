"""A private Docker engine for the tests: Debian's `docker.io` (dockerd 20.10 with the
containerd it starts itself), run as root with every path in a temporary directory and no
networking of its own, so it touches nothing of the machine's:

    dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs
            --data-root D --exec-root E -H unix://S --pidfile P

`Dockerd.docker(...)` runs the engine's own CLI (`/usr/bin/docker`, not whatever `docker`
is first on PATH) against that socket, with a client configuration directory of its own
(`DOCKER_CONFIG`), so a `docker login` saves its credentials there and nowhere else.
`Dockerd.ctr(...)` runs containerd's `ctr` against the engine's containerd.

`Dockerd(root, storage_driver="overlay2")` uses another storage driver: vfs (the default)
copies an image's whole file system for every step of a build and every container, which
is fine for the few-file images the e2e tests import but costs ~20 s per Dockerfile step
on a 500 MB image; the deploy suite builds images and runs them with overlay2.

Only root can run it; `unavailable()` says why when it cannot run here. `Dockerd(env=…)`
adds variables to the daemon's own environment (e.g. `SSL_CERT_FILE`: the engine, not the
CLI, fetches registry tokens, so it is the daemon that must trust a token realm's CA).
"""

import io
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

DOCKER = "/usr/bin/docker"
DOCKERD = "/usr/sbin/dockerd"
CTR = "/usr/bin/ctr"
START_TIMEOUT = 60
CLIENT_TIMEOUT = 180


def unavailable():
    """Why a private engine cannot run here (None when it can)."""
    if os.geteuid() != 0:
        return "a private dockerd needs root (CI runs as root)"
    missing = [p for p in (DOCKER, DOCKERD, CTR) if not os.access(p, os.X_OK)]
    if missing:
        return "%s missing: apt-get install docker.io" % ", ".join(missing)
    return None


class Dockerd:
    def __init__(self, root=None, env=None, storage_driver="vfs"):
        self.storage_driver = storage_driver
        # Short paths: the sockets live below root and a unix socket path has 107 bytes.
        self.root = Path(root or tempfile.mkdtemp(prefix="dh-dockerd-"))
        self.data_root = self.root / "data"
        self.exec_root = self.root / "exec"
        self.socket = self.root / "docker.sock"
        self.pidfile = self.root / "docker.pid"
        self.log_path = self.root / "dockerd.log"
        self.config = self.root / "client"
        self.proc = None
        self._log = None
        self.daemon_env = dict(env or {})

    @property
    def host(self):
        return "unix://%s" % self.socket

    @property
    def containerd_socket(self):
        return str(self.exec_root / "containerd" / "containerd.sock")

    def start(self):
        reason = unavailable()
        if reason:
            raise RuntimeError(reason)
        for d in (self.data_root, self.exec_root, self.config):
            d.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [DOCKERD, "--iptables=false", "--ip6tables=false", "--bridge=none",
             "--storage-driver=%s" % self.storage_driver, "--data-root", str(self.data_root),
             "--exec-root", str(self.exec_root), "-H", self.host,
             "--pidfile", str(self.pidfile)],
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
            env=dict(os.environ, **self.daemon_env) if self.daemon_env else None)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("dockerd exited with %s:\n%s"
                                   % (self.proc.returncode, self.log_tail()))
            if self.socket.exists() and self.docker("version", timeout=10).returncode == 0:
                return self
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("dockerd not ready in %ds:\n%s"
                                   % (START_TIMEOUT, self.log_tail()))
            time.sleep(0.2)

    def env(self, **extra):
        env = dict(os.environ)
        env.update({"DOCKER_HOST": self.host, "DOCKER_CONFIG": str(self.config)})
        env.update(extra)
        return env

    def docker(self, *args, input=None, timeout=CLIENT_TIMEOUT, config=None, check=False):
        """Runs /usr/bin/docker ARGS against this engine; returns the CompletedProcess
        (text). config: another client configuration directory."""
        env = self.env()
        if config is not None:
            env["DOCKER_CONFIG"] = str(config)
        p = subprocess.run([DOCKER, "-H", self.host] + [str(a) for a in args], input=input,
                           capture_output=True, text=True, timeout=timeout, env=env)
        if check and p.returncode != 0:
            raise RuntimeError("docker %s: exit %d\n%s%s"
                               % (" ".join(map(str, args)), p.returncode, p.stdout, p.stderr))
        return p

    def ctr(self, *args, timeout=CLIENT_TIMEOUT):
        """Runs ctr ARGS against the engine's containerd (namespace `dockhand-test`)."""
        return subprocess.run([CTR, "-a", self.containerd_socket, "-n", "dockhand-test"]
                              + [str(a) for a in args],
                              capture_output=True, text=True, timeout=timeout)

    def import_files(self, tag, files):
        """Makes image tag from files ({path: bytes}) with `docker import` (no registry
        is reachable here: images are made, not pulled)."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for name, data in sorted(files.items()):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mtime = 0
                tar.addfile(info, io.BytesIO(data))
        p = subprocess.run([DOCKER, "-H", self.host, "import", "-", tag], input=buf.getvalue(),
                           capture_output=True, timeout=CLIENT_TIMEOUT, env=self.env())
        if p.returncode != 0:
            raise RuntimeError("docker import %s: %s" % (tag, p.stderr.decode(errors="replace")))
        return tag

    def log_tail(self, lines=60):
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _mounts_below_root(self):
        prefix = str(self.root.resolve()) + "/"
        mounts = []
        try:
            with open("/proc/self/mounts") as f:
                for line in f:
                    target = line.split()[1].replace("\\040", " ")
                    if target.startswith(prefix):
                        mounts.append(target)
        except OSError:
            pass
        return sorted(mounts, key=len, reverse=True)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        if self._log:
            self._log.close()
            self._log = None
        # dockerd leaves its default network namespace (exec-root/netns/default, an nsfs
        # bind mount) and, killed, maybe overlay mounts: unmount what is below root
        # (deepest first), or rm fails with EBUSY.
        for mnt in self._mounts_below_root():
            subprocess.run(["umount", "-l", mnt], check=False, capture_output=True)
        # vfs keeps plain directories; a container's leftovers may be read-only.
        subprocess.run(["rm", "-rf", str(self.root)], check=False)
        if self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)
