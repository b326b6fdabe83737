"""A private PostgreSQL cluster for the tests (README "Tests", STYLE "Tests").

initdb into a temp dir, fsync off, a unix socket in a temp dir and no TCP listener
(PgCluster(tcp=True): also 127.0.0.1:<port>, for multi-host URLs and TcpStall).
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

    def __init__(self, name="pg", tcp=False):
        self.bindir = _bindir()
        self.as_root = os.geteuid() == 0
        self.root = tempfile.mkdtemp(prefix="dockhand-%s-" % name)
        self.datadir = os.path.join(self.root, "data")
        self.sockdir = os.path.join(self.root, "sock")
        self.log_path = os.path.join(self.root, "postgresql.log")
        # The port only names the socket file (.s.PGSQL.<port>); there is no TCP listener.
        self.port = free_port()
        self.tcp = tcp
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
                    "listen_addresses = '%s'\n"
                    "unix_socket_directories = '%s'\n"
                    "port = %d\n"
                    "fsync = off\n"
                    "synchronous_commit = off\n"
                    "full_page_writes = off\n"
                    "max_connections = 300\n"
                    "shared_buffers = 32MB\n"
                    "log_min_messages = warning\n"
                    "log_line_prefix = '%%m [%%p] %%d '\n"
                    % ("127.0.0.1" if self.tcp else "", self.sockdir, self.port))
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

    def standby(self, name="standby"):
        """A streaming standby of this running cluster (pg_basebackup -R), started: its own
        port and socket directory, TCP like this one. Promote it with promote()."""
        sb = PgCluster(name, tcp=self.tcp)
        os.makedirs(sb.sockdir)
        if sb.as_root:
            os.chmod(sb.root, 0o755)
            for path in (sb.root, sb.sockdir):
                os.chown(path, sb._pw.pw_uid, sb._pw.pw_gid)
        sb._run_server_tool([sb._bin("pg_basebackup"), "-D", sb.datadir, "-R", "-X", "stream", "-c", "fast",
                             "--no-sync", "-h", self.sockdir, "-p", str(self.port),
                             "-U", "postgres"])
        # The primary's settings came along; later lines win.
        with open(os.path.join(sb.datadir, "postgresql.conf"), "a") as f:
            f.write("\n# standby\nunix_socket_directories = '%s'\nport = %d\n"
                    % (sb.sockdir, sb.port))
        sb.initialized = True
        return sb.start()

    def promote(self):
        """pg_ctl promote -w: returns once the standby accepts writes."""
        self._run_server_tool([self._bin("pg_ctl"), "-D", self.datadir, "-w", "promote"])

    def backend_pids(self, dbname, app_prefix="dockhand-"):
        """{pid: application_name} of the sessions on dbname named app_prefix…"""
        out = self.psql("postgres", "SELECT pid, application_name FROM pg_stat_activity "
                        "WHERE datname = '%s' AND application_name LIKE '%s%%'"
                        % (dbname, app_prefix))
        return {int(l.split("|")[0]): l.split("|")[1] for l in out.splitlines() if l}

    # -- clients ----------------------------------------------------------

    def tcp_url(self, dbname, port=None):
        """postgresql://127.0.0.1:<port>/dbname?user=postgres (a tcp=True cluster)."""
        return "postgresql://127.0.0.1:%d/%s?user=postgres" % (port or self.port, dbname)

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


class TcpStall:
    """A TCP proxy 127.0.0.1:<port> → 127.0.0.1:upstream that can stop forwarding (pause:
    bytes wait in both directions, new connections are accepted and then left waiting)
    and go on (resume): PostgreSQL as a stalled network or server shows it. Runs on its
    own thread until close()."""

    def __init__(self, upstream_port):
        import selectors
        import threading
        self.upstream = upstream_port
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.paused = threading.Event()
        self.closed = threading.Event()
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.sock, selectors.EVENT_READ, None)
        self.pairs = {}  # socket -> its peer
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def pause(self):
        self.paused.set()

    def resume(self):
        self.paused.clear()

    def _drop(self, s):
        peer = self.pairs.pop(s, None)
        for x in (s, peer):
            if x is None:
                continue
            self.pairs.pop(x, None)
            try:
                self.sel.unregister(x)
            except (KeyError, ValueError):
                pass
            x.close()

    def _run(self):
        while not self.closed.is_set():
            for key, _ in self.sel.select(0.05):
                s = key.fileobj
                if s is self.sock:
                    try:
                        c, _ = self.sock.accept()
                    except OSError:
                        continue
                    u = socket.create_connection(("127.0.0.1", self.upstream))
                    self.pairs[c], self.pairs[u] = u, c
                    for x in (c, u):
                        x.setblocking(True)
                        self.sel.register(x, 1, None)
                    continue
                if self.paused.is_set():
                    continue  # readable stays readable: nothing moves until resume()
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    self._drop(s)
                    continue
                try:
                    self.pairs[s].sendall(data)
                except (OSError, KeyError):
                    self._drop(s)
            if self.paused.is_set():
                time.sleep(0.01)

    def close(self):
        self.closed.set()
        self.thread.join(5)
        for s in list(self.pairs):
            self._drop(s)
        self.sel.close()
        self.sock.close()
