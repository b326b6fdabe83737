"""A private PostgreSQL cluster for the tests (README "Tests", STYLE "Tests").

initdb into a temp dir, fsync off, a unix socket in a temp dir and no TCP listener.
initdb refuses to run as root, and CI runs as root: then every server-side program
(initdb, pg_ctl) runs as the `postgres` user through `runuser`, on directories
chowned to it. Clients (psql, dockhand) connect as the `postgres` role with trust
authentication over the socket, whoever runs them.
"""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

from helpers import file_text

READY_TIMEOUT = 30
CLUSTERS = []  # every cluster started in this process, for logs on failure


def _bindir():
    forced = os.environ.get("DOCKHAND_PG_BINDIR")
    if forced:
        return forced
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if not found:
        raise RuntimeError("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin "
                           "(install Debian's `postgresql` package)")
    return os.path.dirname(found[-1])


def _runuser():
    found = shutil.which("runuser")
    for path in (found, "/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"):
        if path and os.access(path, os.X_OK):
            return path
    raise RuntimeError("running as root needs `runuser` (util-linux) to run initdb/pg_ctl "
                       "as the postgres user")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _quote_ident(name):
    return '"' + name.replace('"', '""') + '"'


class PgCluster:
    """A PostgreSQL cluster of its own; `start()` to use it, `destroy()` to remove it."""

    def __init__(self, name="pg"):
        self.bindir = _bindir()
        self.as_root = os.geteuid() == 0
        self.root = tempfile.mkdtemp(prefix="dockhand-%s-" % name)
        self.datadir = os.path.join(self.root, "data")
        self.sockdir = os.path.join(self.root, "sock")
        self.log_path = os.path.join(self.root, "postgresql.log")
        # The port only names the socket file (.s.PGSQL.<port>); there is no TCP listener.
        self.port = free_port()
        self.running = False
        self.initialized = False
        if self.as_root:
            try:
                self._pw = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("running as root needs the `postgres` user (Debian's "
                                   "postgresql package creates it) to run initdb/pg_ctl")
        CLUSTERS.append(self)

    # -- plumbing ---------------------------------------------------------

    def _server_cmd(self, argv):
        if self.as_root:
            return [_runuser(), "-u", "postgres", "--"] + argv
        return argv

    def _run_server_tool(self, argv, timeout=120):
        p = subprocess.run(self._server_cmd(argv), cwd=self.root, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError("%s failed (exit %d)\nstdout: %s\nstderr: %s\nlog:\n%s"
                               % (" ".join(argv), p.returncode, p.stdout, p.stderr,
                                  self.log_tail()))
        return p

    def _bin(self, name):
        return os.path.join(self.bindir, name)

    # -- lifecycle --------------------------------------------------------

    def init(self):
        os.makedirs(self.sockdir)
        if self.as_root:
            # The postgres user must reach the directories (and the temp root's parent).
            os.chmod(self.root, 0o755)
            for path in (self.root, self.sockdir):
                os.chown(path, self._pw.pw_uid, self._pw.pw_gid)
        self._run_server_tool([self._bin("initdb"), "-D", self.datadir, "--auth=trust",
                               "-U", "postgres", "-E", "UTF8", "--no-locale", "--no-sync"])
        with open(os.path.join(self.datadir, "postgresql.conf"), "a") as f:
            f.write("\n# dockhand tests\n"
                    "listen_addresses = ''\n"
                    "unix_socket_directories = '%s'\n"
                    "port = %d\n"
                    "fsync = off\n"
                    "synchronous_commit = off\n"
                    "full_page_writes = off\n"
                    "max_connections = 300\n"
                    "shared_buffers = 32MB\n"
                    "log_min_messages = warning\n"
                    "log_line_prefix = '%%m [%%p] %%d '\n" % (self.sockdir, self.port))
        self.initialized = True
        return self

    def start(self):
        if not self.initialized:
            self.init()
        self._run_server_tool([self._bin("pg_ctl"), "-D", self.datadir, "-l", self.log_path,
                               "-w", "-t", str(READY_TIMEOUT), "start"])
        self.running = True
        self.wait_ready()
        return self

    def wait_ready(self, timeout=READY_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            p = subprocess.run([self._bin("pg_isready"), "-q", "-h", self.sockdir,
                                "-p", str(self.port), "-U", "postgres"],
                               stdin=subprocess.DEVNULL, capture_output=True)
            if p.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError("PostgreSQL not ready after %ss:\n%s"
                                   % (timeout, self.log_tail()))
            time.sleep(0.05)

    def stop(self, mode="fast"):
        if self.running:
            self._run_server_tool([self._bin("pg_ctl"), "-D", self.datadir, "-m", mode,
                                   "-w", "stop"])
            self.running = False

    def destroy(self):
        from helpers import secrets  # the final grep's copies (DOCKHAND_TEST_ARTIFACTS)
        secrets.keep_cluster(self)
        try:
            self.stop(mode="immediate")
        finally:
            if not os.environ.get("DOCKHAND_TEST_KEEP"):
                shutil.rmtree(self.root, ignore_errors=True)
            if self in CLUSTERS:
                CLUSTERS.remove(self)

    # -- clients ----------------------------------------------------------

    def dsn(self, dbname):
        """A libpq key=value connection string for dbname."""
        return "host=%s port=%d user=postgres dbname=%s" % (self.sockdir, self.port, dbname)

    def url(self, dbname):
        """The same as a postgresql:// URL (socket directory as the host parameter)."""
        from urllib.parse import quote
        return "postgresql:///%s?host=%s&port=%d&user=postgres" % (
            quote(dbname, safe=""), quote(self.sockdir, safe=""), self.port)

    def psql(self, dbname, sql, check=True):
        """Runs sql (one or more statements) with psql; returns stdout (unaligned, tuples
        only, `|` between columns). Raises on an SQL error when check."""
        p = subprocess.run([self._bin("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                            "-h", self.sockdir, "-p", str(self.port), "-U", "postgres",
                            "-d", dbname, "-c", sql],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        if check and p.returncode != 0:
            raise RuntimeError("psql %s failed (exit %d): %s\nSQL: %s"
                               % (dbname, p.returncode, p.stderr, sql))
        return p.stdout if check else p

    def scalar(self, dbname, sql):
        return self.psql(dbname, sql).strip()

    def createdb(self, name):
        self.psql("postgres", "CREATE DATABASE %s" % _quote_ident(name))
        return name

    def dropdb(self, name):
        self.psql("postgres", "DROP DATABASE IF EXISTS %s WITH (FORCE)" % _quote_ident(name))

    def log_text(self):
        return file_text(self.log_path)

    def log_tail(self, lines=60):
        return "\n".join(self.log_text().splitlines()[-lines:])
