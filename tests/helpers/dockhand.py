"""A `dockhand serve` process under test, and the factory that makes them.

See tests/conftest.py for the fixtures built on these. Everything here drives the
real binary ($DOCKHAND_BIN) against a real PostgreSQL (helpers.pg.PgCluster).
"""

import itertools
import json
import os
import shlex
import signal
import subprocess
import time
import uuid

import requests

from helpers import file_text, jwtutil, secrets
from helpers.pg import free_port

SERVICE = "test-registry"
ISSUER = "test-issuer"
DEFAULT_PROJECT = "p"  # created in every fresh database, for create_robot()'s default

START_TIMEOUT = float(os.environ.get("DOCKHAND_TEST_START_TIMEOUT", "10"))
STOP_TIMEOUT = 20
CLI_TIMEOUT = 120
HTTP_TIMEOUT = 15

INSTANCES = []       # every instance ever made in this session (logs are grepped at the end)
PER_TEST = None      # instances made while a test runs (stopped when it ends), or None
CURRENT_TEST = None  # node id of the running test, for attaching logs on failure
_counter = itertools.count(1)
_sync = itertools.count(1)
SYNC_TIMEOUT = 10.0
_DEFAULT = object()


class DockhandError(AssertionError):
    pass


def binary():
    """$DOCKHAND_BIN, checked; fails loudly when missing (nothing is skipped)."""
    path = os.environ.get("DOCKHAND_BIN")
    if not path:
        raise DockhandError(
            "DOCKHAND_BIN is not set: run the suites through `meson test` (which passes the "
            "built binary) or export DOCKHAND_BIN=/path/to/build/dockhand")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise DockhandError("DOCKHAND_BIN=%s is not an executable file (build it first: "
                            "`meson compile -C build`)" % path)
    return os.path.abspath(path)


def base_env():
    """The caller's environment without any DOCKHAND_* setting (no leaks into tests)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("DOCKHAND_")}


def describe(p):
    args = p.args if isinstance(p.args, (list, tuple)) else [p.args]
    return "exit %s: %s\nstdout: %s\nstderr: %s" % (
        p.returncode, " ".join(shlex.quote(str(a)) for a in args),
        (p.stdout or "")[-4000:], (p.stderr or "")[-4000:])


def run_cli(bin_, env, args, input=None, check=True, timeout=CLI_TIMEOUT, cwd=None,
            umask=None, stderr_log=None):
    """Runs `dockhand ARGS` with env; returns CompletedProcess (text)."""
    argv = [bin_] + [str(a) for a in args]
    preexec = None
    if umask is not None:
        def preexec():
            os.umask(umask)
    try:
        p = subprocess.run(argv, env=env, input=input, capture_output=True, text=True,
                           timeout=timeout, cwd=cwd, preexec_fn=preexec,
                           stdin=None if input is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise DockhandError("%s timed out after %ss\nstdout: %s\nstderr: %s"
                            % (" ".join(argv), timeout, e.stdout, e.stderr))
    if stderr_log is not None and p.stderr:
        with open(stderr_log, "a") as f:
            f.write("$ %s\n%s\n" % (" ".join(argv[1:]), p.stderr))
    if check and p.returncode != 0:
        raise DockhandError("dockhand command failed\n" + describe(p))
    return p


def keygen(bin_, keys_dir, alg=None, env=None):
    """`dockhand keygen [--alg ALG]` into keys_dir; returns the new KeyInfo."""
    os.makedirs(keys_dir, exist_ok=True)
    before = set(os.listdir(keys_dir))
    e = dict(env or base_env())
    e["DOCKHAND_KEYS_DIR"] = keys_dir
    args = ["keygen"] + (["--alg", alg] if alg else [])
    run_cli(bin_, e, args)
    new = sorted(f[:-4] for f in set(os.listdir(keys_dir)) - before if f.endswith(".crt"))
    if len(new) != 1:
        raise DockhandError("keygen should add one <name>.key/.crt pair to %s, added %r"
                            % (keys_dir, sorted(set(os.listdir(keys_dir)) - before)))
    return [k for k in jwtutil.load_keys_dir(keys_dir) if k.name == new[0]][0]


class Dockhand:
    """One `dockhand serve` (the `D` of the fixtures).

    Attributes: url, port, db, env (the full DOCKHAND_* environment it runs with),
    keys_dir, log_path, pg, workdir, proc, verify.

    With DOCKHAND_TLS_CERT in env the instance speaks HTTPS: url is https://…, and every
    request this helper makes (readiness, sync, get/post/token) checks the server's
    certificate against ca (a PEM bundle path; None: the system's trust store), which is
    also `verify`, for tests' own requests (pass it per request: requests lets
    REQUESTS_CA_BUNDLE override a Session's `verify`).
    """

    def __init__(self, bin_, pg, db, keys_dir, env, workdir, ca=None):
        self.bin = bin_
        self.pg = pg
        self.db = db
        self.keys_dir = keys_dir
        self.workdir = workdir
        self.port = int(env["DOCKHAND_LISTEN"].rsplit(":", 1)[1])
        m = env.get("DOCKHAND_METRICS_LISTEN", "off")
        self.metrics_url = None if m == "off" else "http://%s/metrics" % m
        self.env = env
        self.ca = ca
        self.log_path = os.path.join(workdir, "dockhand.log")
        self.cli_log_path = os.path.join(workdir, "cli-stderr.log")
        self.proc = None
        # A command that `serve` runs under (it must exec it in the same process, so that
        # signals and the pid stay the instance's): e.g. unshare for a private mount.
        self.wrapper = []
        self.killed = False
        self.reported = False
        self.touched_by = set()
        self.session = requests.Session()
        INSTANCES.append(self)

    @property
    def tls(self):
        return bool(self.env.get("DOCKHAND_TLS_CERT"))

    @property
    def url(self):
        return "%s://127.0.0.1:%d" % ("https" if self.tls else "http", self.port)

    @property
    def verify(self):
        """requests' `verify` for this instance: its CA bundle, or True."""
        return self.ca if (self.tls and self.ca) else True

    def __repr__(self):
        return "Dockhand(%s, db=%s)" % (self.url, self.db)

    # -- process ----------------------------------------------------------

    def _full_env(self):
        e = base_env()
        e.update(self.env)
        return e

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def spawn(self):
        """Starts `dockhand serve` without waiting for it (see start())."""
        assert not self.running, "already running"
        self.killed = False
        self.reported = False
        self.touched_by.add(CURRENT_TEST)
        with open(self.log_path, "ab") as log:
            log.write(("----- dockhand serve (%s) started by %s -----\n"
                       % (self.url, CURRENT_TEST)).encode())
            log.flush()
            self.proc = subprocess.Popen(self.wrapper + [self.bin, "serve"], env=self._full_env(),
                                         stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, cwd=self.workdir)
        return self.proc

    def start(self, timeout=START_TIMEOUT):
        """Starts serve and polls GET /readyz until 200 (database, schema and keys ready)."""
        self.spawn()
        deadline = time.monotonic() + timeout
        last = None
        while True:
            if self.proc.poll() is not None:
                raise DockhandError("dockhand serve exited with %s before it was ready\n%s"
                                    % (self.proc.returncode, self.log_tail()))
            try:
                r = requests.get(self.url + "/readyz", timeout=1, verify=self.verify)
                if r.status_code == 200:
                    return self
                last = "readyz answered %s %r" % (r.status_code, r.text[:200])
            except requests.RequestException as e:
                last = repr(e)
            if time.monotonic() > deadline:
                self.kill()
                raise DockhandError("dockhand serve not ready after %ss (%s)\n%s"
                                    % (timeout, last, self.log_tail()))
            time.sleep(0.02)

    def stop(self, check=True):
        """SIGTERM, wait; asserts a clean exit (0) when check."""
        self.touched_by.add(CURRENT_TEST)
        self.session.close()
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()
                raise DockhandError("dockhand serve did not exit %ss after SIGTERM\n%s"
                                    % (STOP_TIMEOUT, self.log_tail()))
        rc = self.proc.returncode
        if check and rc != 0 and not self.killed and not self.reported:
            self.reported = True  # once: later stops (teardown, session end) stay quiet
            raise DockhandError("dockhand serve exited with %s (expected 0 after SIGTERM)\n%s"
                                % (rc, self.log_tail()))
        return rc

    def kill(self):
        """SIGKILL (a deliberate end: stop() will not complain about it)."""
        if self.proc is not None and self.proc.poll() is None:
            self.killed = True
            self.proc.kill()
            self.proc.wait()

    def restart(self):
        self.stop()
        return self.start()

    def signal(self, sig):
        assert self.running, "not running"
        self.proc.send_signal(sig)

    # -- logs -------------------------------------------------------------

    def log_text(self):
        return file_text(self.log_path)

    def log_tail(self, lines=80):
        return "----- %s log (%s) -----\n%s" % (
            self.url, self.log_path, "\n".join(self.log_text().splitlines()[-lines:]))

    # -- CLI --------------------------------------------------------------

    def cli(self, *args, input=None, check=True, timeout=CLI_TIMEOUT, umask=None, env=None):
        """`dockhand ARGS` with this instance's settings; CompletedProcess (text)."""
        e = self._full_env()
        if env:
            for k, v in env.items():
                if v is None:
                    e.pop(k, None)
                else:
                    e[k] = str(v)
        p = run_cli(self.bin, e, args, input=input, check=check, timeout=timeout,
                    cwd=self.workdir, umask=umask, stderr_log=self.cli_log_path)
        self.sync()
        return p

    def sync(self):
        """Waits until this instance has processed every change committed so far: a
        `sync:<n>` notification goes after them (notifications arrive in commit order)
        and GET /healthz reports the highest n its listener has seen. A change made by
        another process (the CLI, psql) reaches a running instance's caches through its
        NOTIFY, milliseconds later; the tests wait for exactly that, not for a time."""
        if not self.running or self.killed:
            return
        n = next(_sync)
        try:
            self.pg.psql(self.db, "NOTIFY dockhand, 'sync:%d'" % n)
        except Exception:
            return  # PostgreSQL stopped by the test: nothing to wait for
        deadline = time.monotonic() + SYNC_TIMEOUT
        while time.monotonic() < deadline:
            try:
                r = requests.get(self.url + "/healthz", timeout=HTTP_TIMEOUT,
                                 verify=self.verify)
                if r.status_code == 200 and r.json().get("notify_sync", 0) >= n:
                    return
                if r.status_code != 200:
                    return  # no database: the instance cannot hear anything now
            except (requests.RequestException, ValueError):
                return
            time.sleep(0.005)
        raise DockhandError("%s did not process notification sync:%d within %.0f s"
                            % (self.url, n, SYNC_TIMEOUT))

    def cli_json(self, *args, input=None):
        """`dockhand ARGS --output json`, parsed."""
        p = self.cli(*args, "--output", "json", input=input)
        try:
            return json.loads(p.stdout)
        except ValueError:
            raise DockhandError("not JSON on stdout\n" + describe(p))

    def create_project(self, name, public=False):
        """`project create NAME [--public]`; returns the parsed JSON output, or None when
        the command prints no JSON."""
        p = self.cli("project", "create", name, *(["--public"] if public else []),
                     "--output", "json")
        try:
            return json.loads(p.stdout)
        except ValueError:
            return None

    def create_robot(self, name, projects=_DEFAULT, level="system", all_projects=None,
                     duration=None, catalog=False, description=None, export=None):
        """`robot create … --output json` → {"id","name","secret","creation_time",
        "expires_at"}. projects maps project → [PERM…] (default {"p": ["pull","push"]},
        but none when all_projects is given); all_projects is [PERM…] or None."""
        if projects is _DEFAULT:
            projects = {DEFAULT_PROJECT: ["pull", "push"]} if all_projects is None else {}
        args = ["robot", "create", name, "--level", level]
        for proj, perms in (projects or {}).items():
            args += ["--project", "%s:%s" % (proj, ",".join(perms))]
        if all_projects is not None:
            args += ["--all-projects", ",".join(all_projects)]
        if catalog:
            args.append("--catalog")
        if duration is not None:
            args += ["--duration", str(duration)]
        if description is not None:
            args += ["--description", description]
        if export is not None:
            args += ["--export", export]
        robot = self.cli_json(*args)
        if isinstance(robot, dict) and "secret" in robot:
            secrets.remember(robot["secret"], robot.get("name"))
        return robot

    def refresh_secret(self, robot_id, secret=None):
        """`robot refresh-secret ID [--secret-stdin]` → the JSON it prints."""
        if secret is None:
            out = self.cli_json("robot", "refresh-secret", str(robot_id))
        else:
            secrets.remember(secret)
            out = self.cli_json("robot", "refresh-secret", str(robot_id), "--secret-stdin",
                                input=secret)
        if isinstance(out, dict) and out.get("secret"):
            secrets.remember(out["secret"], out.get("name"))
        return out

    def config_get(self, key):
        """The value of one setting, from `config get KEY --output json` (accepts
        {"KEY": v}, {"KEY": {"value": v}}, {"value": v} or a bare v)."""
        out = self.cli_json("config", "get", key)
        if isinstance(out, dict):
            if key in out:
                out = out[key]
            elif "value" in out:
                out = out["value"]
            else:
                raise DockhandError("config get %s: no value in %r" % (key, out))
            if isinstance(out, dict) and "value" in out:
                out = out["value"]
        return out

    def config_set(self, key, value):
        return self.cli("config", "set", key, str(value))

    def sql(self, statement):
        """psql on this instance's database; returns stdout. A statement that may change
        something is followed by sync()."""
        out = self.pg.psql(self.db, statement)
        if not statement.lstrip().upper().startswith("SELECT"):
            self.sync()
        return out

    # -- HTTP -------------------------------------------------------------

    def healthz(self):
        return requests.get(self.url + "/healthz", timeout=HTTP_TIMEOUT,
                            verify=self.verify).status_code

    def get(self, path, **kw):
        kw.setdefault("timeout", HTTP_TIMEOUT)
        kw.setdefault("allow_redirects", False)
        kw.setdefault("verify", self.verify)
        r = requests.get(self.url + path, **kw)
        secrets.keep_error_body(r)
        return r

    def post(self, path, **kw):
        kw.setdefault("timeout", HTTP_TIMEOUT)
        kw.setdefault("allow_redirects", False)
        kw.setdefault("verify", self.verify)
        r = requests.post(self.url + path, **kw)
        secrets.keep_error_body(r)
        return r

    def token(self, scopes=(), auth=None, method="GET", path="/service/token", headers=None,
              timeout=HTTP_TIMEOUT, **extra):
        """One token request; returns the requests.Response (no redirects followed).

        GET: query `service` (this instance's, unless service=None or another value is
        passed), one `scope` per item of scopes, then extra as query parameters; auth
        (user, secret) as HTTP Basic.
        POST: a form with `service`, `scope` (scopes joined by spaces, as docker and
        containerd send them) and extra; with auth and no grant_type in extra, it is
        grant_type=password with username/password. Values of None are left out."""
        service = extra.pop("service", self.env["DOCKHAND_SERVICE"])
        fields = []
        if service is not None:
            fields.append(("service", service))
        if method.upper() == "GET":
            fields += [("scope", s) for s in scopes]
            fields += [(k, v) for k, v in extra.items() if v is not None]
            r = requests.get(self.url + path, params=fields, auth=auth, headers=headers,
                             timeout=timeout, allow_redirects=False, verify=self.verify)
        elif method.upper() == "POST":
            if scopes:
                fields.append(("scope", " ".join(scopes)))
            if auth is not None and "grant_type" not in extra:
                fields += [("grant_type", "password"), ("username", auth[0]),
                           ("password", auth[1])]
            fields += [(k, v) for k, v in extra.items() if v is not None]
            r = requests.post(self.url + path, data=fields, headers=headers, timeout=timeout,
                              allow_redirects=False, verify=self.verify)
        else:
            raise ValueError(method)
        try:
            body = r.json()
            if isinstance(body, dict) and isinstance(body.get("refresh_token"), str):
                secrets.remember(body["refresh_token"])
        except ValueError:
            pass
        secrets.keep_error_body(r)
        return r

    # -- tokens -----------------------------------------------------------

    def keys(self):
        return jwtutil.load_keys_dir(self.keys_dir)

    @property
    def kid_format(self):
        return self.env.get("DOCKHAND_KID_FORMAT", "libtrust")

    def decode_full(self, token):
        """(header, claims) after verifying the signature against keys_dir."""
        return jwtutil.verify(token, self.keys(), self.kid_format)

    def decode(self, token):
        """The claims of token after verifying its signature against keys_dir."""
        return self.decode_full(token)[1]


class Factory:
    """dockhand_factory(**env) → a started Dockhand; see tests/conftest.py."""

    def __init__(self, pg, tmp_root):
        self.bin = binary()
        self.pg = pg
        self.tmp_root = tmp_root
        self._session_keys = None
        self.made = []

    def session_keys_dir(self):
        if self._session_keys is None:
            d = os.path.join(self.tmp_root, "keys-session")
            keygen(self.bin, d)
            self._session_keys = d
        return self._session_keys

    def new_keys_dir(self, alg=None):
        d = os.path.join(self.tmp_root, "keys-%d" % next(_counter))
        keygen(self.bin, d, alg)
        return d

    def __call__(self, db=None, pg=None, keys_dir=None, alg=None, migrate=None, start=True,
                 ca=None, **env):
        """A new instance. db: reuse that database (no migrate unless migrate=True);
        otherwise a fresh database is created, migrated and given project "p".
        pg: another PgCluster. keys_dir: use it; alg: a fresh keys dir made by
        `keygen --alg ALG`; neither: the session's ES256 keys. start=False: only
        prepared (call .start()). ca: the CA bundle that checks the instance's certificate
        when DOCKHAND_TLS_CERT/DOCKHAND_TLS_KEY make it serve HTTPS. Upper-case keyword arguments are DOCKHAND_* settings
        (None removes one)."""
        pg = pg or self.pg
        n = next(_counter)
        fresh = db is None
        if fresh:
            db = "dh_%d_%s" % (n, uuid.uuid4().hex[:8])
            pg.createdb(db)
        if migrate is None:
            migrate = fresh
        if keys_dir is None:
            keys_dir = self.new_keys_dir(alg) if alg else self.session_keys_dir()
        workdir = os.path.join(self.tmp_root, "dockhand-%d" % n)
        os.makedirs(workdir)
        full = {
            "DOCKHAND_DATABASE_URL": pg.dsn(db),
            "DOCKHAND_LISTEN": "127.0.0.1:%d" % free_port(),
            "DOCKHAND_METRICS_LISTEN": "127.0.0.1:%d" % free_port(),
            "DOCKHAND_KEYS_DIR": keys_dir,
            "DOCKHAND_SERVICE": SERVICE,
            "DOCKHAND_ISSUER": ISSUER,
            "DOCKHAND_WORKERS": "2",
            "DOCKHAND_FAIL_LIMIT_ACCOUNT": "1000",
            "DOCKHAND_FAIL_LIMIT_ADDRESS": "1000",
            # every refused login costs this many PBKDF2 iterations (README "Security
            # cases"): its minimum keeps the suites' hundreds of refusals cheap; the tests
            # of the default pass None
            "DOCKHAND_PASSWORD_ITERATIONS": "10000",
            "DOCKHAND_LOG_LEVEL": "debug",
        }
        for k, v in env.items():
            if not k.startswith("DOCKHAND_"):
                raise TypeError("dockhand_factory: unknown argument %r (settings are "
                                "DOCKHAND_* names)" % k)
            if v is None:
                full.pop(k, None)
            else:
                full[k] = str(v)
        d = Dockhand(self.bin, pg, db, keys_dir, full, workdir, ca=ca)
        self.made.append(d)
        if PER_TEST is not None:
            PER_TEST.append(d)
        d.touched_by.add(CURRENT_TEST)
        if migrate:
            d.cli("migrate")
        if fresh and migrate:
            d.create_project(DEFAULT_PROJECT)
        if start:
            d.start()
        return d

    def close(self):
        errors = []
        for d in self.made:
            try:
                d.stop()
            except Exception as e:  # report every unclean exit, stop all the others
                errors.append(str(e))
        if errors:
            raise DockhandError("\n\n".join(errors))
