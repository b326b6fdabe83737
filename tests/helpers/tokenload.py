"""A steady stream of token requests for the fault tests (tests/hardening/test_faults_*.py).

- Call(d, label, user, secret, scopes, expect): one request's plan; expect is the access
  the robot holds for those scopes, {(type, name, None): sorted actions} without empty
  entries (what a correct token grants, exactly).
- Load(kinds, threads=4): each thread loops over kinds (callables n → Call, or None to
  skip this turn), sending GET /service/token with keep-alive, until stop(); every answer
  is kept as a Rec (t0, t1: time.monotonic() around the request; status; token).
- check_token(rec) → None, or why the token is wrong (signature against the instance's
  keys directory, sub, access compared exactly with the plan).
- insert_robots(psql, prefix, n, project_id, ...): n robots made by SQL with one secret
  (hashed here in dockhand's format), for requests that need the database once each.
"""

import hashlib
import threading
import time

import requests

from helpers import jwtutil, secrets

COLD_SECRET = "Cold-robot-secret-A1b2C3d4e5F6g7H8"  # 4,096 iterations: a generated secret's cost
COLD_SALT = "coldsalt"
HTTP_TIMEOUT = 15


def robot_hash(secret, salt):
    dk = hashlib.pbkdf2_hmac("sha256", secret.encode(), salt.encode(), 4096, 16)
    return "pbkdf2-sha256$4096$%s$%s" % (salt, dk.hex())


def insert_robots(psql, prefix, n, project_id, actions=("pull",)):
    """Robots <prefix>1..n (system level, never expiring, COLD_SECRET) with the actions on
    repository in project_id, by one SQL statement (notifications as any change)."""
    secrets.remember(COLD_SECRET)
    h = robot_hash(COLD_SECRET, COLD_SALT)
    psql("WITH r AS (INSERT INTO robots (name, level, secret_hash, duration, expires_at)"
         " SELECT '%s' || i, 'system', '%s', -1, -1 FROM generate_series(1, %d) i"
         " RETURNING id)"
         " INSERT INTO robot_permissions (robot_id, kind, project_id, resource, action)"
         " SELECT r.id, 'project', %d, 'repository', a FROM r, unnest(ARRAY[%s]) a"
         % (prefix, h, n, project_id, ",".join("'%s'" % a for a in actions)))


def repo_access(name, actions):
    """The expected access of one repository scope: {} when nothing is granted."""
    return {("repository", name, None): sorted(actions)} if actions else {}


class Call:
    def __init__(self, d, label, user, secret, scopes, expect, needs_db=False):
        self.d = d
        self.label = label
        self.user = user
        self.secret = secret
        self.scopes = list(scopes)
        self.expect = expect
        self.needs_db = needs_db  # no cache can answer it: it must wait for PostgreSQL

    def __repr__(self):
        return "Call(%s %s %s)" % (self.label, self.user, self.scopes)


class Rec:
    __slots__ = ("t0", "t1", "call", "status", "token", "text")

    def __init__(self, t0, t1, call, status, token, text):
        self.t0, self.t1, self.call, self.status, self.token, self.text = \
            t0, t1, call, status, token, text

    def __repr__(self):
        return "Rec(%.3f-%.3f %s %s %s)" % (self.t0, self.t1, self.call.label, self.call.user,
                                           self.status if self.status else self.text[:120])


class Load:
    """threads threads sending the kinds in turn until stop() (or limit_s), each waiting
    pause seconds between requests."""

    def __init__(self, kinds, threads=4, pause=0.0, limit_s=180):
        self.kinds = list(kinds)
        self.threads = threads
        self.pause = pause
        self.limit_s = limit_s
        self.records = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._workers = []
        self._n = 0

    def _next(self):
        with self._lock:
            self._n += 1
            return self._n

    def _run(self, idx):
        sessions = {}
        end = time.monotonic() + self.limit_s
        k = idx
        while not self._stop.is_set() and time.monotonic() < end:
            kind = self.kinds[k % len(self.kinds)]
            k += 1
            call = kind(self._next())
            if call is None:
                continue
            s = sessions.setdefault(call.d.url, requests.Session())
            params = [("service", call.d.env["DOCKHAND_SERVICE"])]
            params += [("scope", x) for x in call.scopes]
            t0 = time.monotonic()
            try:
                r = s.get(call.d.url + "/service/token", params=params,
                          auth=(call.user, call.secret), timeout=HTTP_TIMEOUT,
                          verify=call.d.verify)
                status, text = r.status_code, r.text
                token = r.json().get("token") if status == 200 else None
            except (requests.RequestException, ValueError) as e:
                status, text, token = 0, repr(e), None
                s.close()
                sessions.pop(call.d.url, None)
            rec = Rec(t0, time.monotonic(), call, status, token, text)
            with self._lock:
                self.records.append(rec)
            if self.pause:
                time.sleep(self.pause)
        for s in sessions.values():
            s.close()

    def start(self):
        for i in range(self.threads):
            t = threading.Thread(target=self._run, args=(i,), daemon=True)
            t.start()
            self._workers.append(t)
        return self

    def stop(self):
        self._stop.set()
        for t in self._workers:
            t.join(HTTP_TIMEOUT + 5)
        with self._lock:
            return sorted(self.records, key=lambda r: r.t0)


_KEYS = {}


def check_token(rec, keys_dir=None):
    """None when rec's token is signed by a key of its instance's keys directory, names
    the robot, and grants exactly the plan's access; else the reason."""
    d = rec.call.d
    kd = keys_dir or d.keys_dir
    if kd not in _KEYS:
        _KEYS[kd] = jwtutil.load_keys_dir(kd)
    try:
        claims = jwtutil.verify(rec.token, _KEYS[kd], d.kid_format)[1]
    except Exception as e:  # a key added since: read the directory again once
        _KEYS[kd] = jwtutil.load_keys_dir(kd)
        try:
            claims = jwtutil.verify(rec.token, _KEYS[kd], d.kid_format)[1]
        except Exception:
            return "does not verify: %s" % e
    if claims.get("sub") != rec.call.user:
        return "sub %r for %r" % (claims.get("sub"), rec.call.user)
    got = {k: v for k, v in jwtutil.access_map(claims).items() if v}
    if got != rec.call.expect:
        return "access %r, the robot holds %r" % (got, rec.call.expect)
    return None


def summary(records):
    """{label: {status: count}}"""
    out = {}
    for r in records:
        by = out.setdefault(r.call.label, {})
        by[r.status] = by.get(r.status, 0) + 1
    return out
