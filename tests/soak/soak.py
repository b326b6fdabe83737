"""The soak (issue 13 §2): mixed traffic against two instances on one database, for a fixed
time, with an oracle that checks every token issued.

Actors (threads; the machine has 2 cores, so the client stays light: keep-alive sessions,
no pacing on the token threads, the rest paced):
- TOKEN_THREADS token threads: GET with Basic, POST password grant (some asking for a
  refresh token), GET/POST with a refresh token obtained earlier, anonymous GET; on either
  instance; with the current secret of a live robot, and sometimes an old secret, a killed
  refresh token or a deleted robot;
- one admin thread that makes every change, one at a time, through either instance's API,
  with HTTP Basic or a web session's cookie + CSRF header: permissions updated,
  disable/enable, secret refreshed, robots created and deleted, projects created (private
  or public, with project robots) and deleted, token lifetime (`token_expiration`) changed;
- one web thread: sign-in on /c/login, /c/session, a few API reads with the cookie, a write
  without the CSRF header (403 expected), sign-out, the dead session refused (401).

The model. Every change is an event with the time it was sent and the time its answer
came (monotonic clock), the instance it went through, and the state of everything
(robots, projects, settings) after it. A token request sent at t0 and answered at t1 by
instance X may have seen any state from the last one X must already see to the newest one
it may see:
- the newest: after every change sent before t1;
- the oldest: before the first change touching that robot (or projects, or settings) that X
  might not see yet at t0: a change through X is seen once its answer came (README "How it
  runs": the API drops it from its own cache before answering); through the other instance,
  WINDOW seconds after its answer (the notification's propagation, milliseconds measured;
  1 s by default: SOAK_WINDOW).
A token must then be valid in one of those states (robot present, enabled, not expired, the
secret or the refresh token's credential version current) and grant, per resource, no more
than the union and no less than the intersection of what those states allow; its lifetime
must be one of theirs. A 401 is expected only when one of those states refuses the
credentials; any other error is unexpected.
"""

import base64
import bisect
import collections
import json
import os
import queue
import random
import re
import threading
import time
import uuid

import requests

from helpers import jwtutil

API = "/api/v2.0"
ADMIN = "soakadmin"
ADMIN_PASSWORD = "Soak-Passw0rd-long"
PREFIX = "robot$"
FIXED_PROJECTS = ["p", "p1", "p2", "p3"]
PUBLIC_PROJECT = "pub"
PERMS = ["repository:pull", "repository:push", "artifact:delete"]
REQUESTABLE = [["pull"], ["push"], ["pull", "push"], ["*"], ["delete"], ["pull", "delete"]]
TOKEN_MINUTES = [5, 15, 30]
HTTP_TIMEOUT = 30
NEVER = -1


def new_name(prefix):
    return "%s%s" % (prefix, uuid.uuid4().hex[:10])


# ----------------------------------------------------------------------------
# The model


class Robot:
    """One robot as the model holds it at one moment (immutable once in a state)."""

    __slots__ = ("id", "login", "level", "project", "disabled", "ver", "secret_gen",
                 "perms", "all_perms", "catalog", "expires_at")

    def __init__(self, **kw):
        for k in self.__slots__:
            setattr(self, k, kw.get(k))

    def copy(self, **changes):
        r = Robot(**{k: getattr(self, k) for k in self.__slots__})
        for k, v in changes.items():
            setattr(r, k, v)
        return r


class State:
    """Everything a token depends on: robots by id, projects (name → public), and the
    token lifetime in minutes."""

    def __init__(self, robots, projects, token_minutes):
        self.robots = robots
        self.projects = projects
        self.token_minutes = token_minutes


def actions_of(perm_names, public):
    acts = set()
    if "repository:pull" in perm_names or "repository:push" in perm_names:
        acts.add("pull")
    if "repository:push" in perm_names:
        acts.add("push")
    if "artifact:delete" in perm_names or "repository:delete" in perm_names:
        acts.add("delete")
    if public:
        acts.add("pull")
    return acts


def held(state, robot, project):
    """Registry actions robot (None: anonymous) holds on project in state."""
    if project not in state.projects:
        return set()
    public = state.projects[project]
    if robot is None:
        return {"pull"} if public else set()
    names = set(robot.perms.get(project, ()))
    if robot.level == "system":
        names |= set(robot.all_perms)
    return actions_of(names, public)


def expected_access(state, robot, items):
    """{(type, name): set of actions} a token for these requested items must grant."""
    out = {}
    for (typ, name), requested in items.items():
        if typ == "registry" and name == "catalog":
            ok = robot is not None and robot.catalog and "*" in requested
            out[(typ, name)] = {"*"} if ok else set()
            continue
        if typ != "repository" or "/" not in name:
            out[(typ, name)] = set()
            continue
        h = held(state, robot, name.split("/", 1)[0])
        out[(typ, name)] = set(h) if "*" in requested else (set(requested) & h)
    return out


class Event:
    __slots__ = ("sent", "answered", "instance", "state", "robots", "broad", "what")

    def __init__(self, sent, answered, instance, state, robots, broad, what):
        self.sent = sent
        self.answered = answered
        self.instance = instance
        self.state = state
        self.robots = robots  # ids of robots whose entry changed
        self.broad = broad    # projects or settings changed: every robot's view may change
        self.what = what


class Model:
    def __init__(self, window):
        self.window = window
        self.lock = threading.Lock()
        self.events = []
        self.sent = []            # events' sent times, for bisect
        self.inflight = None      # sent time of the change on its way, or None
        self.cond = threading.Condition(self.lock)

    def initial(self, state):
        self.events = [Event(float("-inf"), float("-inf"), None, state, set(), True, "initial")]
        self.sent = [float("-inf")]

    @property
    def current(self):
        return self.events[-1].state

    def begin(self):
        with self.lock:
            self.inflight = time.monotonic()
            return self.inflight

    def commit(self, sent, instance, state, robots, broad, what):
        with self.cond:
            answered = time.monotonic()
            if state is not None:
                self.events.append(Event(sent, answered, instance, state, set(robots), broad,
                                         what))
                self.sent.append(sent)
            self.inflight = None
            self.cond.notify_all()

    def wait_settled(self, t1):
        """Blocks while a change sent before t1 has not been answered yet."""
        with self.cond:
            while self.inflight is not None and self.inflight < t1:
                self.cond.wait(1.0)

    def candidates(self, instance, robot_id, t0, t1):
        """The states instance may have seen for robot_id (None: anonymous) during
        [t0, t1], oldest first, and whether more than one was possible."""
        with self.lock:
            events = self.events
            k_max = bisect.bisect_left(self.sent, t1) - 1
            k_min = k_max
            i = k_max
            while i > 0:
                e = events[i]
                lag = 0.0 if e.instance == instance else self.window
                if e.answered + lag <= t0 and e.answered + self.window <= t0:
                    break  # this one and everything before it: seen for sure
                if e.broad or robot_id in e.robots:
                    if e.answered + lag > t0:
                        k_min = i - 1
                i -= 1
            return [events[k].state for k in range(k_min, k_max + 1)], events[k_min:k_max + 2]


# ----------------------------------------------------------------------------
# Counters


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = collections.Counter()
        self.errors = collections.Counter()       # expected errors, by kind
        self.unexpected = collections.Counter()   # unexpected answers, by kind
        self.examples = collections.defaultdict(list)
        self.violations = collections.Counter()   # oracle violations, by kind
        self.violation_examples = []
        self.status_5xx = 0
        self.tokens_issued = 0
        self.jtis = set()
        self.oracle = collections.Counter()
        self.lags = {"own": [], "other": []}  # seconds a change answered went unseen

    def add(self, kind):
        with self.lock:
            self.requests[kind] += 1

    def expected(self, kind):
        with self.lock:
            self.errors[kind] += 1

    def bad(self, kind, detail):
        with self.lock:
            self.unexpected[kind] += 1
            if len(self.examples[kind]) < 5:
                self.examples[kind].append(detail[:600])

    def violation(self, kind, detail):
        with self.lock:
            self.violations[kind] += 1
            if len(self.violation_examples) < 20:
                self.violation_examples.append("%s: %s" % (kind, detail[:1500]))

    def status(self, code):
        if code >= 500:
            with self.lock:
                self.status_5xx += 1


# ----------------------------------------------------------------------------
# Clients


class Client:
    """Keep-alive HTTP to one instance."""

    def __init__(self, d, name):
        self.d = d
        self.name = name
        self.url = d.url
        self.s = requests.Session()

    def get(self, path, **kw):
        kw.setdefault("timeout", HTTP_TIMEOUT)
        kw.setdefault("allow_redirects", False)
        return self.s.get(self.url + path, **kw)

    def post(self, path, **kw):
        kw.setdefault("timeout", HTTP_TIMEOUT)
        kw.setdefault("allow_redirects", False)
        return self.s.post(self.url + path, **kw)

    def request(self, method, path, **kw):
        kw.setdefault("timeout", HTTP_TIMEOUT)
        kw.setdefault("allow_redirects", False)
        return self.s.request(method, self.url + path, **kw)


def basic(user, secret):
    return "Basic " + base64.b64encode(("%s:%s" % (user, secret)).encode()).decode()


def sign_in(c, stats, kind="web_login"):
    """POST /c/login as the soak's administrator → (cookie value, csrf token)."""
    stats.add(kind)
    r = c.post("/c/login", data={"principal": ADMIN, "password": ADMIN_PASSWORD})
    stats.status(r.status_code)
    if r.status_code != 200:
        stats.bad(kind, "%s %s" % (r.status_code, r.text))
        return None
    return r.cookies.get("dockhand_session"), r.json()["csrf_token"]


# ----------------------------------------------------------------------------
# The soak


class Soak:
    def __init__(self, d1, d2, seconds, window=1.0, token_threads=3, seed=None, log=print):
        self.d = [d1, d2]
        self.names = ["A", "B"]
        self.seconds = seconds
        self.window = window
        self.token_threads = token_threads
        self.rng = random.Random(seed)
        self.log = log
        self.model = Model(window)
        self.stats = Stats()
        self.stop = threading.Event()
        self.creds_lock = threading.Lock()
        self.secrets = {}   # robot id → [secret of generation 0, 1, …]
        self.logins = {}    # robot id → login name
        self.rts = collections.defaultdict(list)  # robot id → [refresh token, …] (last few)
        self.deleted = []   # ids of deleted robots (their credentials stay in use)
        self.expiring = set()
        self.churn_projects = []   # live churn project names
        self.dead_projects = []
        self.admin_ops = collections.Counter()
        self.check_q = queue.Queue(maxsize=20000)
        self.keys = d1.keys()
        self.kid_format = d1.kid_format
        self.samples = {}
        self.t_start = None

    # -- setup ---------------------------------------------------------------

    def api(self, c, method, path, body=None, auth="basic", csrf=None, cookie=None):
        headers = {}
        kw = {}
        if body is not None:
            kw["data"] = json.dumps(body)
            headers["Content-Type"] = "application/json"
        if auth == "basic":
            headers["Authorization"] = basic(ADMIN, ADMIN_PASSWORD)
            c.s.cookies.clear()
        else:
            c.s.cookies.clear()
            headers["Cookie"] = "dockhand_session=" + cookie
            if csrf:
                headers["X-Harbor-CSRF-Token"] = csrf
        return c.request(method, API + path, headers=headers, **kw)

    def random_perms(self, projects, level="system", project=None):
        """(perms dict project → [names], all_perms list, catalog, body permissions)."""
        rng = self.rng
        perms, all_perms, catalog = {}, [], False
        if level == "project":
            perms[project] = sorted(rng.sample(PERMS, rng.randint(1, 3)))
        else:
            for p in rng.sample(projects, rng.randint(0, min(3, len(projects)))):
                perms[p] = sorted(rng.sample(PERMS, rng.randint(1, 3)))
            if rng.random() < 0.2:
                all_perms = sorted(rng.sample(PERMS, rng.randint(1, 2)))
            catalog = rng.random() < 0.25
            if not perms and not all_perms and not catalog:
                perms[rng.choice(projects)] = ["repository:pull"]
        body = []
        for p, names in perms.items():
            body.append({"kind": "project", "namespace": p,
                         "access": [dict(zip(("resource", "action"), n.split(":")))
                                    for n in names]})
        if all_perms:
            body.append({"kind": "project", "namespace": "*",
                         "access": [dict(zip(("resource", "action"), n.split(":")))
                                    for n in all_perms]})
        if catalog:
            body.append({"kind": "system", "namespace": "/",
                         "access": [{"resource": "catalog", "action": "read"}]})
        return perms, all_perms, catalog, body

    def setup(self, n_robots, n_expiring):
        d1 = self.d[0]
        d1.cli("admin", "create", ADMIN, "--password-stdin", input=ADMIN_PASSWORD)
        c = Client(d1, "setup")
        for p in FIXED_PROJECTS[1:] + [PUBLIC_PROJECT]:
            r = self.api(c, "POST", "/projects",
                         {"project_name": p, "metadata": {"public": str(p == PUBLIC_PROJECT)
                                                          .lower()}})
            assert r.status_code == 201, r.text
        projects = {p: False for p in FIXED_PROJECTS}
        projects[PUBLIC_PROJECT] = True
        r = self.api(c, "GET", "/configurations")
        minutes = r.json()["token_expiration"]["value"]
        robots = {}
        for i in range(n_robots):
            robot = self._create(c, projects, robots, "system")
            assert robot is not None, self.stats.examples
            robots[robot.id] = robot
        # Robots that expire during the run (expires_at set in the database: durations are
        # whole days), at moments spread over it; they stay out of the admin churn.
        now = int(time.time())
        for i, rid in enumerate(list(robots)[:n_expiring]):
            at = now + int(self.seconds * (0.2 + 0.6 * i / max(1, n_expiring - 1))) + 5
            d1.sql("UPDATE robots SET expires_at = %d WHERE id = %d" % (at, rid))
            robots[rid] = robots[rid].copy(expires_at=at)
            self.expiring.add(rid)
        for d in self.d:
            d.sync()
        self.model.initial(State(robots, projects, minutes))
        c.s.close()

    def _create(self, c, projects, robots, level, project=None, auth="basic", cookie=None,
                csrf=None):
        name = new_name("s")
        perms, all_perms, catalog, body = self.random_perms(
            [p for p in projects], level, project)
        req = {"name": name, "level": level, "duration": -1, "permissions": body,
               "description": "soak"}
        r = self.api(c, "POST", "/robots", req, auth=auth, cookie=cookie, csrf=csrf)
        self.stats.status(r.status_code)
        if r.status_code != 201:
            self.stats.bad("admin_create_%d" % r.status_code, r.text)
            return None
        out = r.json()
        robot = Robot(id=out["id"], login=out["name"], level=level, project=project,
                      disabled=False, ver=1, secret_gen=0, perms=perms, all_perms=all_perms,
                      catalog=catalog, expires_at=NEVER)
        with self.creds_lock:
            self.secrets[robot.id] = [out["secret"]]
            self.logins[robot.id] = robot.login
        return robot

    # -- sampling ------------------------------------------------------------

    def sample(self, label):
        out = {}
        for name, d in zip(self.names, self.d):
            pid = d.proc.pid
            with open("/proc/%d/status" % pid) as f:
                status = f.read()
            kb = {k: int(re.search(r"^%s:\s+(\d+) kB" % k, status, re.M).group(1))
                  for k in ("VmRSS", "RssAnon", "RssFile")}
            fds = len(os.listdir("/proc/%d/fd" % pid))
            out[name] = {"rss_kb": kb["VmRSS"], "anon_kb": kb["RssAnon"],
                         "file_kb": kb["RssFile"], "fds": fds}
        self.samples[label] = out
        return out

    def metrics(self, d):
        text = requests.get(d.metrics_url, timeout=HTTP_TIMEOUT).text
        out = {}
        for line in text.splitlines():
            if line.startswith("dockhand_audit_") or line.startswith("dockhand_notify"):
                k, _, v = line.rpartition(" ")
                out[k] = float(v)
        return out

    # -- token traffic -------------------------------------------------------

    def pick_items(self, rng, projects):
        items = {}
        for _ in range(rng.choice((1, 1, 2))):
            if rng.random() < 0.06:
                items[("registry", "catalog")] = ["*"]
                continue
            pool = projects
            x = rng.random()
            if x < 0.05 and self.dead_projects:
                pool = self.dead_projects
            elif x < 0.08:
                pool = ["nope"]
            proj = rng.choice(pool)
            repo = "%s/app%d" % (proj, rng.randint(0, 2))
            items[("repository", repo)] = rng.choice(REQUESTABLE)
        return items

    def token_thread(self, n):
        rng = random.Random(self.rng.random())
        clients = [Client(d, nm) for d, nm in zip(self.d, self.names)]
        service = self.d[0].env["DOCKHAND_SERVICE"]
        while not self.stop.is_set():
            inst = rng.randrange(2)
            c = clients[inst]
            state = self.model.current
            projects = list(state.projects)
            items = self.pick_items(rng, projects)
            scopes = ["%s:%s:%s" % (t, nm, ",".join(a)) for (t, nm), a in items.items()]
            kind = rng.choices(["get_basic", "post_password", "get_offline", "post_refresh",
                                "get_refresh", "anonymous"],
                               [30, 24, 4, 14, 6, 12])[0]
            with self.creds_lock:
                kind, rid, cred = self.pick_cred(rng, kind, state)
            req = {"kind": kind, "instance": self.names[inst], "items": items, "rid": rid,
                   "cred": cred}
            try:
                t0 = time.monotonic()
                if kind == "anonymous":
                    r = c.get("/service/token", params=[("service", service)] +
                              [("scope", s) for s in scopes])
                elif kind in ("get_basic", "get_offline", "get_refresh"):
                    params = [("service", service)] + [("scope", s) for s in scopes]
                    if kind == "get_offline":
                        params.append(("offline_token", "true"))
                    r = c.get("/service/token", params=params,
                              headers={"Authorization": basic(self.logins[rid], cred[1])})
                elif kind == "post_password":
                    form = [("service", service), ("scope", " ".join(scopes)),
                            ("grant_type", "password"), ("username", self.logins[rid]),
                            ("password", cred[1]), ("client_id", "soak")]
                    if rng.random() < 0.3:
                        form.append(("access_type", "offline"))
                    r = c.post("/service/token", data=form)
                else:  # post_refresh
                    form = [("service", service), ("scope", " ".join(scopes)),
                            ("grant_type", "refresh_token"), ("refresh_token", cred[1]),
                            ("client_id", "soak")]
                    r = c.post("/service/token", data=form)
                t1 = time.monotonic()
            except requests.RequestException as e:
                self.stats.add("token_" + kind)
                self.stats.bad("client_exception", "%s: %r" % (kind, e))
                continue
            self.stats.add("token_" + kind)
            self.stats.status(r.status_code)
            req.update(t0=t0, t1=t1, status=r.status_code, body=r.content, wall=time.time())
            if r.status_code == 200:
                with self.stats.lock:
                    self.stats.tokens_issued += 1
            self.check_q.put(req)

    def pick_cred(self, rng, kind, state):
        """(kind, robot id, (what, secret-or-token, generation or ver)): a refresh kind
        without a refresh token becomes get_basic; anonymous has (None, None)."""
        live = list(state.robots)
        if kind == "anonymous" or not live:
            return "anonymous", None, None
        if self.deleted and rng.random() < 0.04:
            rid = rng.choice(self.deleted)
        else:
            rid = rng.choice(live)
        if kind in ("post_refresh", "get_refresh"):
            rts = self.rts.get(rid)
            if not rts:
                kind = "get_basic"
            else:
                rt = rts[-1] if rng.random() < 0.7 else rng.choice(rts)
                return kind, rid, ("rt", rt[0], rt[1])
        gens = self.secrets[rid]
        gen = len(gens) - 1
        if gen > 0 and rng.random() < 0.15:
            gen = rng.randrange(gen)
        return kind, rid, ("secret", gens[gen], gen)

    # -- the oracle ----------------------------------------------------------

    def checker(self):
        while True:
            req = self.check_q.get()
            if req is None:
                return
            self.model.wait_settled(req["t1"])
            try:
                self.check(req)
            except Exception as e:  # a bug of the oracle is a failure too
                self.stats.violation("oracle_exception", "%r %r" % (e, req))

    def valid(self, state, req, iat=None, t_wall=None):
        """Whether the credentials of req are good in state (at iat, or at t_wall)."""
        if req["kind"] == "anonymous":
            return True
        robot = state.robots.get(req["rid"])
        if robot is None or robot.disabled:
            return False
        if robot.expires_at != NEVER:
            now = iat if iat is not None else t_wall
            if robot.expires_at <= now:
                return False
        what, _, gen = req["cred"]
        if what == "rt":
            return robot.ver == gen
        return robot.secret_gen == gen

    def check(self, req):
        st = self.stats
        rid = req["rid"]
        inst = req["instance"]
        states, events = self.model.candidates(inst, rid, req["t0"], req["t1"])
        if len(states) > 1:
            st.oracle["checked_inside_a_window"] += 1
        status = req["status"]
        desc = "%s on %s robot %s cred %s items %s states %d: %s %s" % (
            req["kind"], inst, rid, (req["cred"] or ("", "", ""))[::2], req["items"],
            len(states), status, req["body"][:300])
        if status == 401:
            # the server's clock at its check lies in [t1 wall - (t1 - t0), t1 wall]
            if any(not self.valid(s, req, t_wall=req["wall"]) for s in states):
                st.expected("token_401_" + self.refusal_reason(states, req))
            else:
                st.bad("token_401_valid_credentials", desc)
            return
        if status != 200:
            st.bad("token_%d" % status, desc)
            return
        st.oracle["tokens_checked"] += 1
        try:
            body = json.loads(req["body"])
            _, claims = jwtutil.verify(body["token"], self.keys, self.kid_format)
        except Exception as e:
            st.violation("token_unverifiable", "%r %s" % (e, desc))
            return
        with st.lock:
            if claims["jti"] in st.jtis:
                st.violations["jti_repeated"] += 1
            st.jtis.add(claims["jti"])
        iat = claims["iat"]
        sub = "" if req["kind"] == "anonymous" else self.logins[rid]
        if claims.get("sub") != sub or claims.get("aud") != self.d[0].env["DOCKHAND_SERVICE"] \
                or claims.get("iss") != self.d[0].env["DOCKHAND_ISSUER"]:
            st.violation("token_wrong_identity", "%r %s" % (claims, desc))
        good = [s for s in states if self.valid(s, req, iat=iat)]
        if not good:
            st.violation("token_for_" + self.refusal_reason(states, req), desc)
            return
        if len(good) < len(states):
            st.oracle["tokens_valid_only_in_older_or_newer_state"] += 1
        granted = {}
        for e in claims["access"]:
            granted[(e["type"], e["name"])] = set(e["actions"])
        extra = set(granted) - set(req["items"])
        if extra:
            st.violation("token_grants_unrequested_resource", "%r %s" % (extra, desc))
        exps = [expected_access(s, s.robots.get(rid), req["items"]) for s in good]
        exact = [all(granted.get(k, set()) == e[k] for k in req["items"]) for e in exps]
        if not any(exact):
            st.oracle["tokens_matching_no_single_state"] += 1
        else:
            # The newest state the token matches; when a later change was answered before
            # the request left, that instance had not seen it yet: its lag, by who made it.
            newest = good[max(i for i, x in enumerate(exact) if x)]
            j = states.index(newest)
            if j + 1 < len(states):
                e = events[j + 1]
                lag = req["t0"] - e.answered
                if lag > 0:
                    key = "own" if e.instance == inst else "other"
                    with st.lock:
                        st.lags[key].append(lag)
        for k in req["items"]:
            g = granted.get(k, set())
            union = set().union(*(e[k] for e in exps))
            inter = set.intersection(*(set(e[k]) for e in exps))
            if not g <= union:
                st.violation("token_grants_more_than_held", "%s: %s > %s; %s"
                             % (k, sorted(g), sorted(union), desc))
            elif not inter <= g:
                st.violation("token_grants_less_than_held", "%s: %s < %s; %s"
                             % (k, sorted(g), sorted(inter), desc))
        lifetimes = set()
        for s in good:
            life = s.token_minutes * 60
            robot = s.robots.get(rid)
            if robot is not None and robot.expires_at != NEVER:
                life = min(life, robot.expires_at - iat)
            lifetimes.add(life)
        if claims["exp"] - iat not in lifetimes:
            st.violation("token_lifetime", "%s not in %s; %s"
                         % (claims["exp"] - iat, sorted(lifetimes), desc))
        rt = body.get("refresh_token")
        if rt:
            st.oracle["refresh_tokens_received"] += 1
            _, rc = jwtutil.verify(rt, self.keys, self.kid_format)
            if rc.get("rid") != rid or not any(s.robots[rid].ver == rc.get("ver") for s in good):
                st.violation("refresh_token_version", "%r %s" % (rc, desc))
            with self.creds_lock:
                lst = self.rts[rid]
                if rt not in [x[0] for x in lst]:
                    lst.append((rt, rc.get("ver")))
                    del lst[:-4]

    def refusal_reason(self, states, req):
        reasons = set()
        for s in states:
            robot = s.robots.get(req["rid"])
            if robot is None:
                reasons.add("deleted_robot")
            elif robot.disabled:
                reasons.add("disabled_robot")
            elif robot.expires_at != NEVER and robot.expires_at <= req["wall"]:
                reasons.add("expired_robot")
            elif req["cred"][0] == "rt" and robot.ver != req["cred"][2]:
                reasons.add("dead_refresh_token")
            elif req["cred"][0] == "secret" and robot.secret_gen != req["cred"][2]:
                reasons.add("old_secret")
        return "+".join(sorted(reasons)) or "valid"

    # -- admin churn ---------------------------------------------------------

    def admin_thread(self):
        rng = random.Random(self.rng.random())
        clients = [Client(d, nm) for d, nm in zip(self.d, self.names)]
        sessions = [None, None]
        pace = 0.05
        while not self.stop.is_set():
            inst = rng.randrange(2)
            c = clients[inst]
            use_cookie = rng.random() < 0.3
            auth = {"auth": "basic"}
            if use_cookie:
                if sessions[inst] is None:
                    sessions[inst] = sign_in(c, self.stats, "admin_web_login")
                if sessions[inst] is not None:
                    auth = {"auth": "cookie", "cookie": sessions[inst][0],
                            "csrf": sessions[inst][1]}
            state = self.model.current
            op = rng.choices(["perms", "toggle", "secret", "create", "delete", "project_create",
                              "project_delete", "project_robot", "settings"],
                             [30, 20, 14, 8, 6, 5, 4, 4, 2])[0]
            try:
                self.admin_op(rng, op, inst, c, state, auth)
            except requests.RequestException as e:
                self.stats.bad("admin_client_exception", "%s: %r" % (op, e))
                self.model.commit(self.model.inflight, inst, None, (), False, op)
            self.stop.wait(pace)

    def admin_op(self, rng, op, inst, c, state, auth):
        churnable = [rid for rid in state.robots if rid not in self.expiring]
        system = [rid for rid in churnable if state.robots[rid].level == "system"]
        n_live = len(state.robots)
        if op == "create" and n_live > 60:
            op = "delete"
        if op == "delete" and n_live < 30:
            op = "create"
        if op == "project_create" and len(self.churn_projects) >= 4:
            op = "project_delete"
        if op in ("project_delete", "project_robot") and not self.churn_projects:
            op = "project_create"
        if op in ("perms", "toggle", "secret", "delete") and not churnable:
            op = "create"
        if op == "perms" and not system:
            op = "toggle"
        robots = dict(state.robots)
        projects = dict(state.projects)
        minutes = state.token_minutes
        changed, broad = set(), False
        kind = "admin_" + op + ("_cookie" if auth["auth"] == "cookie" else "")
        self.stats.add(kind)

        def done(r, want):
            self.stats.status(r.status_code)
            if r.status_code != want:
                self.stats.bad(kind + "_%d" % r.status_code, r.text)
                return False
            return True

        if op == "perms":
            rid = rng.choice(system)
            perms, all_perms, catalog, body = self.random_perms(list(projects))
            sent = self.model.begin()
            r = self.api(c, "PUT", "/robots/%d" % rid, {"permissions": body}, **auth)
            if done(r, 200):
                robots[rid] = robots[rid].copy(perms=perms, all_perms=all_perms,
                                               catalog=catalog)
                changed.add(rid)
        elif op == "toggle":
            rid = rng.choice(churnable)
            robot = robots[rid]
            want = not robot.disabled
            sent = self.model.begin()
            r = self.api(c, "PUT", "/robots/%d" % rid, {"disable": want}, **auth)
            if done(r, 200):
                robots[rid] = robot.copy(disabled=want, ver=robot.ver + (1 if want else 0))
                changed.add(rid)
        elif op == "secret":
            rid = rng.choice(churnable)
            robot = robots[rid]
            sent = self.model.begin()
            r = self.api(c, "PATCH", "/robots/%d" % rid, {}, **auth)
            if done(r, 200):
                with self.creds_lock:
                    self.secrets[rid].append(r.json()["secret"])
                robots[rid] = robot.copy(ver=robot.ver + 1, secret_gen=robot.secret_gen + 1)
                changed.add(rid)
        elif op == "create":
            sent = self.model.begin()
            robot = self._create(c, projects, robots, "system", **auth)
            if robot is not None:
                robots[robot.id] = robot
                changed.add(robot.id)
        elif op == "delete":
            rid = rng.choice(churnable)
            sent = self.model.begin()
            r = self.api(c, "DELETE", "/robots/%d" % rid, **auth)
            if done(r, 200):
                del robots[rid]
                changed.add(rid)
                with self.creds_lock:
                    self.deleted.append(rid)
        elif op == "project_create":
            name = new_name("c")
            public = rng.random() < 0.5
            sent = self.model.begin()
            r = self.api(c, "POST", "/projects",
                         {"project_name": name, "metadata": {"public": str(public).lower()}},
                         **auth)
            if done(r, 201):
                projects[name] = public
                self.churn_projects.append(name)
                broad = True
        elif op == "project_robot":
            proj = rng.choice(self.churn_projects)
            sent = self.model.begin()
            robot = self._create(c, projects, robots, "project", project=proj, **auth)
            if robot is not None:
                robots[robot.id] = robot
                changed.add(robot.id)
        elif op == "project_delete":
            proj = self.churn_projects.pop(rng.randrange(len(self.churn_projects)))
            sent = self.model.begin()
            r = self.api(c, "DELETE", "/projects/%s" % proj, **auth)
            if done(r, 200):
                del projects[proj]
                self.dead_projects.append(proj)
                broad = True
                for rid, robot in list(robots.items()):
                    if robot.level == "project" and robot.project == proj:
                        del robots[rid]
                        changed.add(rid)
                        with self.creds_lock:
                            self.deleted.append(rid)
                    elif proj in robot.perms:
                        perms = dict(robot.perms)
                        del perms[proj]
                        robots[rid] = robot.copy(perms=perms)
                        changed.add(rid)
            else:
                self.churn_projects.append(proj)
        elif op == "settings":
            new = rng.choice([m for m in TOKEN_MINUTES if m != minutes])
            sent = self.model.begin()
            r = self.api(c, "PUT", "/configurations", {"token_expiration": new}, **auth)
            if done(r, 200):
                minutes = new
                broad = True
        if changed or broad:
            self.admin_ops[op] += 1
            self.model.commit(sent, self.names[inst], State(robots, projects, minutes),
                              changed, broad, op)
        else:
            self.model.commit(sent, self.names[inst], None, (), False, op)

    # -- web sessions --------------------------------------------------------

    def web_thread(self):
        rng = random.Random(self.rng.random())
        clients = [Client(d, nm) for d, nm in zip(self.d, self.names)]
        st = self.stats
        while not self.stop.is_set():
            c = clients[rng.randrange(2)]
            c.s.cookies.clear()
            got = sign_in(c, st)
            if got is None:
                self.stop.wait(1)
                continue
            cookie, csrf = got
            c.s.cookies.clear()
            hdr = {"Cookie": "dockhand_session=" + cookie}
            # the same session on either instance (sessions live in PostgreSQL)
            for kind, path in [("web_session", "/c/session"),
                               ("web_api_robots", API + "/robots?page_size=20"),
                               ("web_api_projects", API + "/projects?page_size=20"),
                               ("web_api_audit", API + "/audit-logs?page_size=5"),
                               ("web_api_config", API + "/configurations")]:
                other = clients[rng.randrange(2)]
                other.s.cookies.clear()
                st.add(kind)
                r = other.get(path, headers=hdr)
                st.status(r.status_code)
                if r.status_code != 200:
                    st.bad(kind + "_%d" % r.status_code, r.text)
            # a write without the CSRF header: refused, nothing changes
            st.add("web_api_write_without_csrf")
            r = c.request("PUT", API + "/configurations", headers=dict(hdr, **{
                "Content-Type": "application/json"}), data='{"token_expiration": 7}')
            st.status(r.status_code)
            if r.status_code == 403:
                st.expected("web_403_csrf_missing")
            else:
                st.bad("web_write_without_csrf_%d" % r.status_code, r.text)
            st.add("web_log_out")
            r = c.post("/c/log_out", headers=dict(hdr, **{"X-Harbor-CSRF-Token": csrf}))
            st.status(r.status_code)
            if r.status_code != 200:
                st.bad("web_log_out_%d" % r.status_code, r.text)
            st.add("web_session_after_log_out")
            other = clients[rng.randrange(2)]
            other.s.cookies.clear()
            r = other.get("/c/session", headers=hdr)
            st.status(r.status_code)
            if r.status_code == 401:
                st.expected("web_401_after_log_out")
            else:
                st.bad("web_session_after_log_out_%d" % r.status_code, r.text)
            self.stop.wait(1.0)

    # -- the run -------------------------------------------------------------

    def run(self, n_robots=40, n_expiring=4):
        self.setup(n_robots, n_expiring)
        self.t_start = time.monotonic()
        threads = [threading.Thread(target=self.token_thread, args=(i,), daemon=True)
                   for i in range(self.token_threads)]
        threads += [threading.Thread(target=self.admin_thread, daemon=True),
                    threading.Thread(target=self.web_thread, daemon=True)]
        check = threading.Thread(target=self.checker, daemon=True)
        check.start()
        for t in threads:
            t.start()
        # RSS and descriptors: a sample every 5 % of the run (at least 5 s apart), the one
        # at 20 % of it (10 to 120 s) as the warm-up figure, the last one under traffic.
        warm = self.t_start + min(max(10.0, self.seconds * 0.2), 120.0)
        end = self.t_start + self.seconds
        last = time.monotonic()
        step = max(5.0, self.seconds / 20)
        next_sample = self.t_start + step
        while not self.stop.is_set() and time.monotonic() < end:
            self.stop.wait(min(1.0, max(0.0, end - time.monotonic())))
            now = time.monotonic()
            if warm is not None and now >= warm:
                warm = None
                self.sample("warm-up")
                self.log("soak: warm-up sample after %.0f s: %s"
                         % (now - self.t_start, self.samples["warm-up"]))
            elif now >= next_sample and now < end - 1:
                self.sample("%.0f s" % (now - self.t_start))
            while next_sample <= now:
                next_sample += step
            if time.monotonic() - last >= 60:
                last = time.monotonic()
                self.log("soak: %.0f s, %d token requests, %d tokens, %d violations, "
                         "%d unexpected" % (last - self.t_start,
                                            sum(v for k, v in self.stats.requests.items()
                                                if k.startswith("token_")),
                                            self.stats.tokens_issued,
                                            sum(self.stats.violations.values()),
                                            sum(self.stats.unexpected.values())))
        self.sample("end")
        self.stop.set()
        for t in threads:
            t.join(HTTP_TIMEOUT + 10)
        self.elapsed = time.monotonic() - self.t_start
        self.check_q.put(None)
        check.join()

    def audit_counts(self, pg, db):
        rows = pg.psql(db, "SELECT detail->>'jti' FROM audit_log WHERE operation = "
                       "'issue_token'").split()
        return rows

    def report(self, audit_jtis, metrics):
        st = self.stats
        tokens = {k: v for k, v in st.requests.items() if k.startswith("token_")}
        growth = {}
        for name in self.names:
            w, e = self.samples["warm-up"][name], self.samples["end"][name]
            growth[name] = {"rss_kb": [w["rss_kb"], e["rss_kb"]],
                            "rss_growth_pct": round(100.0 * (e["rss_kb"] - w["rss_kb"]) /
                                                    w["rss_kb"], 1),
                            "fds": [w["fds"], e["fds"]],
                            "fds_growth_pct": round(100.0 * (e["fds"] - w["fds"]) / w["fds"], 1)}
        audit = set(audit_jtis)
        series = {name: [[label, v[name]["rss_kb"], v[name]["anon_kb"], v[name]["file_kb"],
                          v[name]["fds"]]
                         for label, v in self.samples.items()] for name in self.names}
        return {
            "rss_anon_file_kb_fds_series": series,
            "seconds": round(self.elapsed, 1),
            "window_s": self.window,
            "requests": dict(sorted(st.requests.items())),
            "token_requests": sum(tokens.values()),
            "token_requests_per_s": round(sum(tokens.values()) / self.elapsed, 1),
            "tokens_issued": st.tokens_issued,
            "tokens_checked": st.oracle["tokens_checked"],
            "admin_changes": dict(sorted(self.admin_ops.items())),
            "expected_errors": dict(sorted(st.errors.items())),
            "unexpected_errors": dict(sorted(st.unexpected.items())),
            "unexpected_examples": {k: v for k, v in st.examples.items()},
            "status_5xx": st.status_5xx,
            "violations": dict(sorted(st.violations.items())),
            "violation_examples": st.violation_examples,
            "oracle": dict(sorted(st.oracle.items())),
            "stale_answers": {k: {"count": len(v), "max_ms": round(1000 * max(v), 1) if v else 0,
                                  "p99_ms": round(1000 * sorted(v)[int(0.99 * (len(v) - 1))], 1)
                                  if v else 0}
                              for k, v in st.lags.items()},
            "instances": growth,
            "audit_rows": len(audit_jtis),
            "audit_distinct_jti": len(audit),
            "tokens_without_audit_row": len(st.jtis - audit),
            "audit_rows_without_token": len(audit - st.jtis),
            "metrics": metrics,
        }
