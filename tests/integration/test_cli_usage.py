"""The command line's grammar is checked before anything else: `dockhand COMMAND --help`
prints that command's usage and a usage error exits 2 — neither opens a database
connection. The "database" here is a Unix socket that counts who connects to it."""

import os
import re
import socket
import subprocess
import tempfile
import threading
import time

import pytest

CONNECT_WAIT_S = 0.3


class CountingSocket:
    """A listening Unix socket at <dir>/.s.PGSQL.<port>, as libpq looks for it; every
    connection is counted and closed."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="dh-nodb-")
        self.port = 5999
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(os.path.join(self.dir, ".s.PGSQL.%d" % self.port))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.count = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.count += 1
            conn.close()

    @property
    def url(self):
        return "postgresql:///dockhand?host=%s&port=%d&connect_timeout=2" % (self.dir, self.port)

    def close(self):
        self.stopping = True
        self.thread.join()
        self.sock.close()


@pytest.fixture
def nodb():
    s = CountingSocket()
    yield s
    s.close()


def run(dockhand_bin, nodb, *args, stdin=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKHAND_")}
    env.update(DOCKHAND_DATABASE_URL=nodb.url, DOCKHAND_KEYS_DIR="/nonexistent/keys")
    started = time.monotonic()
    p = subprocess.run([dockhand_bin] + list(args), capture_output=True, text=True, env=env,
                       input=stdin or "", timeout=30)
    time.sleep(CONNECT_WAIT_S)  # a connection made at the very end is counted too
    return p, time.monotonic() - started


def commands(dockhand_bin, nodb):
    """(group, verb) of every command the full usage text lists."""
    p, _ = run(dockhand_bin, nodb, "help")
    assert p.returncode == 0, p.stderr
    found = []
    for line in p.stdout.splitlines():
        m = re.match(r"^  ([a-z]+)(?: ([a-z|-]+))?(?:\s|$)", line)
        if m and m.group(1) != "help":
            for verb in (m.group(2).split("|") if m.group(2) else [None]):
                found.append((m.group(1), verb))
    return found


def test_every_command_has_help_without_the_database(dockhand_bin, nodb):
    cmds = commands(dockhand_bin, nodb)
    assert ("robot", "create") in cmds and ("serve", None) in cmds, cmds
    assert ("robot", "disable") in cmds and ("robot", "refresh-secret") in cmds, cmds
    assert len(cmds) >= 25, cmds
    for group, verb in cmds:
        args = [group] + ([verb] if verb else []) + ["--help"]
        p, _ = run(dockhand_bin, nodb, *args)
        assert p.returncode == 0, (args, p.stderr)
        assert p.stdout.startswith("usage:\n"), (args, p.stdout)
        first = p.stdout.splitlines()[1].split()
        assert first[0] == group, (args, p.stdout)
        assert not verb or verb in first[1].split("|"), (args, p.stdout)
        assert p.stderr == "", (args, p.stderr)
    # -h and help inside a group too
    for args in (["robot", "-h"], ["robot", "help"], ["audit", "prune", "-h"]):
        p, _ = run(dockhand_bin, nodb, *args)
        assert p.returncode == 0 and p.stdout.startswith("usage:\n"), (args, p.stdout)
    assert nodb.count == 0, "a --help opened %d database connection(s)" % nodb.count


@pytest.mark.parametrize("args, why", [
    (["robot", "create"], "robot create: an argument is missing"),
    (["robot", "create", "ci", "--bogus"], "unknown option --bogus"),
    (["robot", "create", "ci", "extra"], "unexpected argument extra"),
    (["robot", "create", "ci", "--project"], "--project needs a value"),
    (["robot", "frob", "ci"], "unknown subcommand frob"),
    (["robot"], "robot needs a subcommand"),
    (["robot", "list", "--project", "p:pull"], "unknown option --project"),
    (["project", "list", "--page", "2"], "unknown option --page"),
    (["project", "show"], "project show: an argument is missing"),
    (["admin", "create"], "admin create: an argument is missing"),
    (["admin", "list", "--password-stdin"], "unknown option --password-stdin"),
    (["audit", "prune"], "--before is required"),
    (["audit", "list", "--from"], "--from needs a value"),
    (["config", "set", "token_expiration"], "config set: an argument is missing"),
    (["config", "get", "a", "b"], "unexpected argument b"),
    (["keygen", "--days"], "--days needs a value"),
    (["serve", "now"], "unexpected argument now"),
    (["migrate", "--force"], "unknown option --force"),
    (["frobnicate"], "unknown command frobnicate"),
])
def test_usage_errors_exit_2_before_any_connection(dockhand_bin, nodb, args, why):
    p, took = run(dockhand_bin, nodb, *args)
    assert p.returncode == 2, (args, p.returncode, p.stderr)
    assert p.stderr.startswith("dockhand: %s\n" % why), (args, p.stderr)
    assert "usage" in p.stderr and p.stdout == "", (args, p.stderr)
    assert not re.search(r"connect|database|server", p.stderr.split("\n")[0]), p.stderr
    assert nodb.count == 0, "%s connected to the database" % args


def test_a_well_formed_command_does_connect(dockhand_bin, nodb):
    """The counting socket works: a command that passes the grammar tries the database
    (and fails there with 1, not 2)."""
    p, _ = run(dockhand_bin, nodb, "robot", "list")
    assert p.returncode == 1, p.stderr
    assert nodb.count >= 1
