"""Keyless robots (issue 15 §1-2; README "Keyless CI"): a robot with federation rules logs
in with the identity token of GitHub Actions, GitLab CI or a Kubernetes service account,
verified with its issuer's keys (tests/helpers/oidc_issuer.py: a real HTTPS issuer with a CA
made here). Rules are set through the API (PUT /api/v2.0/robots/{id}/federation)."""

import json
import os
import shutil
import socket
import threading
import time
import uuid

import pytest
import requests

from helpers import api as A
from helpers import jwtutil
from helpers.oidc_issuer import Issuer, Key, OidcServer
from helpers.pg import free_port

REFETCH = 1     # DOCKHAND_OIDC_REFETCH_INTERVAL of the instance under test
TIMEOUT_MS = 1500  # DOCKHAND_OIDC_TIMEOUT_MS
SCOPE = "repository:p/app:pull,push"


@pytest.fixture(scope="module")
def srv(oidc_server):
    return oidc_server


@pytest.fixture(scope="module")
def D(dockhand_factory, srv):
    return dockhand_factory(DOCKHAND_OIDC_CA_FILE=srv.ca_path,
                            DOCKHAND_OIDC_REFETCH_INTERVAL=REFETCH,
                            DOCKHAND_OIDC_TIMEOUT_MS=TIMEOUT_MS,
                            DOCKHAND_OIDC_MAX_AGE=3600,
                            # the floods below must not hit the failed-login throttle
                            DOCKHAND_FAIL_LIMIT_ACCOUNT=1000000,
                            DOCKHAND_FAIL_LIMIT_ADDRESS=1000000)


def q(s):
    return "$q$%s$q$" % s


def set_rules(D, robot_id, rules):
    A.set_federation(D, robot_id, rules)


def robot(D, rules, **kw):
    r = D.create_robot("ci-" + uuid.uuid4().hex[:10], **kw)
    set_rules(D, r["id"], rules)
    return r


def login(D, name, password, method="GET", scopes=(SCOPE,), **extra):
    return D.token(list(scopes), auth=(name, password), method=method, **extra)


def refused(r):
    assert r.status_code == 401, (r.status_code, r.text)
    assert r.json() == {"errors": [{"code": "UNAUTHORIZED",
                                    "message": "authentication failed"}]}, r.text


def granted(D, r, name):
    assert r.status_code == 200, (r.status_code, r.text)
    claims = D.decode(r.json()["token"])
    assert claims["sub"] == name
    assert sorted(jwtutil.granted(claims, "repository", "p/app")) == ["pull", "push"], claims
    return claims


def metric(D, name, labels):
    text = requests.get(D.metrics_url, timeout=10).text
    want = "%s{%s} " % (name, labels) if labels else name + " "
    for line in text.splitlines():
        if line.startswith(want):
            return float(line.split()[-1])
    raise AssertionError("no %s in the metrics" % want)


def test_github_actions_rule(D, srv):
    gh = srv.issuer("github")
    aud = D.env["DOCKHAND_SERVICE"]
    rb = robot(D, [{"issuer": gh.url, "subject": "repo:octo-org/app:ref:refs/heads/main",
                    "claims": {"repository": "octo-org/app",
                               "job_workflow_ref": "octo-org/app/.github/workflows/*@refs/heads/main"}}])
    name = rb["name"]
    tok = gh.github(aud, repository="octo-org/app")
    r = login(D, name, tok, offline_token="true")
    claims = granted(D, r, name)
    idexp = json.loads(jwtutil.b64url_decode(tok.split(".")[1]))["exp"]
    minutes = 30  # token_expiration's default
    assert claims["exp"] <= idexp + minutes * 60
    assert "refresh_token" not in r.json()  # it would outlive the identity token
    granted(D, login(D, name, tok, method="POST"), name)  # the OAuth2 password grant too

    # another subject, a claim that does not match, another audience, another issuer
    refused(login(D, name, gh.github(aud, repository="octo-org/app", ref="refs/heads/dev")))
    refused(login(D, name, gh.github(aud, repository="octo-org/app",
                                     job_workflow_ref="evil/x/.github/workflows/a.yml@refs/heads/main")))
    refused(login(D, name, gh.github("another-registry", repository="octo-org/app")))
    refused(login(D, name, gh.github([aud + "-not"], repository="octo-org/app")))
    other = srv.issuer("github-other")
    refused(login(D, name, other.github(aud, repository="octo-org/app")))
    # an aud list that holds the service is fine
    granted(D, login(D, name, gh.github(["x", aud], repository="octo-org/app")), name)

    now = int(time.time())
    # expired (past the 60 s leeway), not yet valid, issued in the future, too old
    refused(login(D, name, gh.github(aud, repository="octo-org/app", now=now - 400,
                                     lifetime=300)))
    late = gh.github(aud, repository="octo-org/app", now=now - 330, lifetime=300)
    claims = granted(D, login(D, name, late), name)
    # the registry token ends no later than the token lifetime past the identity's exp
    late_exp = json.loads(jwtutil.b64url_decode(late.split(".")[1]))["exp"]
    assert late_exp + minutes * 60 - 5 <= claims["exp"] <= late_exp + minutes * 60, claims
    refused(login(D, name, gh.github(aud, repository="octo-org/app", nbf=now + 120)))
    refused(login(D, name, gh.github(aud, repository="octo-org/app", iat=now + 120)))
    refused(login(D, name, gh.github(aud, repository="octo-org/app", now=now - 3800,
                                     lifetime=7200)))
    granted(D, login(D, name, gh.github(aud, repository="octo-org/app", now=now - 3500,
                                        lifetime=7200)), name)

    # forgeries: alg none, HS256 keyed with the public key, a key not in the JWKS (same kid)
    good = dict(json.loads(jwtutil.b64url_decode(tok.split(".")[1])), iat=now, exp=now + 300)
    refused(login(D, name, gh.mint(good, alg="none")))
    refused(login(D, name, gh.mint(good, alg="HS256")))
    refused(login(D, name, gh.mint(good, key=Key("RS256"), kid=gh.key.kid)))
    refused(login(D, name, gh.mint(good, key=Key("RS256"))))  # unknown kid
    t_ok = gh.mint(good)
    granted(D, login(D, name, t_ok), name)
    tampered = t_ok.split(".")
    tampered[1] = jwtutil.b64url_encode(json.dumps(dict(good, sub="repo:octo-org/app:ref:refs/heads/main", repository="octo-org/app", actor="mallory")).encode())
    refused(login(D, name, ".".join(tampered)))
    # the robot's own name only: another robot without rules refuses the same token
    plain = D.create_robot("plain-" + uuid.uuid4().hex[:8])
    refused(login(D, plain["name"], t_ok))
    # expired and disabled robots are refused as usual
    D.sql("UPDATE robots SET expires_at = extract(epoch FROM now())::bigint - 10 WHERE id = %d"
          % rb["id"])
    refused(login(D, name, gh.github(aud, repository="octo-org/app")))
    D.sql("UPDATE robots SET expires_at = -1, disabled = true WHERE id = %d" % rb["id"])
    refused(login(D, name, gh.github(aud, repository="octo-org/app")))
    D.sql("UPDATE robots SET disabled = false WHERE id = %d" % rb["id"])
    granted(D, login(D, name, gh.github(aud, repository="octo-org/app")), name)


def test_gitlab_rule_and_secret_beside_it(D, srv):
    gl = srv.issuer("gitlab")
    gl.chunked = True  # its JWKS comes with Transfer-Encoding: chunked
    aud = D.env["DOCKHAND_SERVICE"]
    rb = robot(D, [{"issuer": gl.url,
                    "subject": "project_path:my-group/my-project:ref_type:branch:ref:*",
                    "claims": {"ref_protected": "true", "namespace_path": "my-group"}}])
    name = rb["name"]
    granted(D, login(D, name, gl.gitlab(aud)), name)
    granted(D, login(D, name, gl.gitlab(aud, ref="release-1"), method="POST"), name)
    refused(login(D, name, gl.gitlab(aud, ref_protected=False)))
    refused(login(D, name, gl.gitlab(aud, project_path="my-group/other")))
    refused(login(D, name, gl.gitlab(aud, project_path="other-group/my-project")))
    # a robot with rules keeps its secret; a wrong secret and a bad JWT are the same 401
    granted(D, login(D, name, rb["secret"]), name)
    refused(login(D, name, rb["secret"] + "x"))
    refused(login(D, name, gl.gitlab(aud, ref_protected=False)))
    # the audit record names the identity: issuer, subject, the claims the rule used
    D.sync()
    deadline = time.monotonic() + 5
    rows = []
    while time.monotonic() < deadline and len(rows) < 2:
        out = D.sql("SELECT detail::text FROM audit_log WHERE operation = 'issue_token' AND "
                    "username = %s AND detail ? 'identity' ORDER BY id" % q(name))
        rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        time.sleep(0.1)
    assert len(rows) == 2, rows
    ident = rows[0]["identity"]
    assert ident["issuer"] == gl.url
    assert ident["subject"] == "project_path:my-group/my-project:ref_type:branch:ref:main"
    assert ident["claims"] == {"ref_protected": "true", "namespace_path": "my-group"}
    assert ident["rule"] == 0


def test_kubernetes_rule_es256_and_own_audience(D, srv):
    k8s = srv.issuer("k8s", alg="ES256")
    rb = robot(D, [
        {"issuer": "https://unrelated.example", "subject": "*"},
        {"issuer": k8s.url, "audience": "registry.example.com",
         "subject": "system:serviceaccount:ci:*",
         "claims": {"/kubernetes.io/namespace": "ci",
                    "/kubernetes.io/serviceaccount/name": "builder"}}])
    name = rb["name"]
    granted(D, login(D, name, k8s.kubernetes("registry.example.com")), name)
    refused(login(D, name, k8s.kubernetes("registry.example.com", namespace="prod")))
    refused(login(D, name, k8s.kubernetes("registry.example.com", serviceaccount="other")))
    # the rule names its own audience: the service's name is not enough
    refused(login(D, name, k8s.kubernetes(D.env["DOCKHAND_SERVICE"])))
    # PS256 and ES384 keys of the same issuer
    k8s.rotate("PS256", keep_old=True)
    k8s.rotate("ES384", keep_old=True)
    time.sleep(REFETCH + 0.2)
    granted(D, login(D, name, k8s.kubernetes("registry.example.com")), name)
    assert k8s.key.alg == "ES384"
    k8s.keys = [k8s.keys[1]] + k8s.keys
    assert k8s.key.alg == "PS256"
    granted(D, login(D, name, k8s.kubernetes("registry.example.com")), name)


def test_token_exchange(D, srv):
    gh = srv.issuer("github-exchange")
    aud = D.env["DOCKHAND_SERVICE"]
    rb = robot(D, [{"issuer": gh.url, "subject": "repo:octo-org/app:*"}])
    name = rb["name"]
    ex = "urn:ietf:params:oauth:grant-type:token-exchange"
    jwt_type = "urn:ietf:params:oauth:token-type:jwt"
    r = D.token([SCOPE], method="POST", grant_type=ex, subject_token_type=jwt_type,
                subject_token=gh.github(aud, repository="octo-org/app"), client_id=name)
    granted(D, r, name)
    assert r.json()["issued_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    assert r.json()["token_type"] == "Bearer"
    refused(D.token([SCOPE], method="POST", grant_type=ex, subject_token_type=jwt_type,
                    subject_token=gh.github(aud, repository="evil/app"), client_id=name))
    # the robot's secret is no subject token
    refused(D.token([SCOPE], method="POST", grant_type=ex, subject_token_type=jwt_type,
                    subject_token=rb["secret"], client_id=name))
    r = D.token([SCOPE], method="POST", grant_type=ex, subject_token_type=jwt_type,
                subject_token=gh.github(aud, repository="octo-org/app"))
    assert r.status_code == 400, r.text
    r = D.token([SCOPE], method="POST", grant_type=ex,
                subject_token_type="urn:ietf:params:oauth:token-type:saml2",
                subject_token=gh.github(aud, repository="octo-org/app"), client_id=name)
    assert r.status_code == 400, r.text


def test_key_rotation_and_bogus_kid_flood(D, srv):
    iss = srv.issuer("rotating")
    aud = D.env["DOCKHAND_SERVICE"]
    rb = robot(D, [{"issuer": iss.url, "subject": "repo:org/app:*"}])
    name = rb["name"]
    granted(D, login(D, name, iss.github(aud, repository="org/app")), name)
    assert iss.server.fetches("rotating") == 1
    # a flood of made-up kids right after: at most one refetch per interval (none when the
    # flood is quicker than the interval), the rest refused without a fetch
    refused_before = metric(D, "dockhand_oidc_refetches_refused_total", None)
    claims = json.loads(jwtutil.b64url_decode(iss.github(aud, repository="org/app").split(".")[1]))
    start = time.monotonic()
    for _ in range(40):
        refused(login(D, name, iss.mint(claims, kid=uuid.uuid4().hex)))
    elapsed = time.monotonic() - start
    during = iss.server.fetches("rotating") - 1
    assert during <= int(elapsed / REFETCH), (during, elapsed)
    assert metric(D, "dockhand_oidc_refetches_refused_total", None) >= \
        refused_before + 40 - during
    # the issuer rotates its key; after the interval, one refetch picks it up
    time.sleep(REFETCH + 0.2)
    iss.rotate()
    before = iss.server.fetches("rotating")
    granted(D, login(D, name, iss.github(aud, repository="org/app")), name)
    assert iss.server.fetches("rotating") == before + 1
    # a flood spread over 3 intervals: at most one fetch per interval
    start = time.monotonic()
    while time.monotonic() - start < 3 * REFETCH:
        refused(login(D, name, iss.mint(claims, kid=uuid.uuid4().hex)))
    fetched = iss.server.fetches("rotating") - before - 1
    assert 1 <= fetched <= 3 + 1, fetched
    # the old key is gone from the JWKS: its tokens are refused
    old = Key("RS256")
    refused(login(D, name, iss.mint(claims, key=old, kid=old.kid)))


def timed_secret_logins(D, name, secret, stop, out):
    while not stop.is_set():
        t0 = time.monotonic()
        r = login(D, name, secret)
        out.append((time.monotonic() - t0, r.status_code))
        time.sleep(0.02)  # a steady stream, not a CPU hog on a 2-core machine


def test_issuer_down_or_slow_fails_only_its_logins(D, srv, tmp_path):
    aud = D.env["DOCKHAND_SERVICE"]
    # an issuer nobody listens for: connection refused
    gone = Issuer(srv, "gone")
    gone.url = "https://localhost:%d/gone" % free_port()
    rb = robot(D, [{"issuer": gone.url, "subject": "*"}])
    t0 = time.monotonic()
    refused(login(D, rb["name"], gone.github(aud)))
    down_first = time.monotonic() - t0
    t0 = time.monotonic()
    refused(login(D, rb["name"], gone.github(aud)))
    down_again = time.monotonic() - t0
    assert down_first < 1.0 and down_again < 1.0, (down_first, down_again)
    assert "cannot fetch the keys of %s: cannot connect" % gone.url in D.log_text()

    # a slow issuer: its first login waits for the timeout, the next fail at once; a
    # secret robot's logins meanwhile are as fast as ever
    slow = srv.issuer("slow")
    slow.mode = "slow"
    slow.slow_seconds = 10
    srb = robot(D, [{"issuer": slow.url, "subject": "*"}])
    plain = D.create_robot("plain-" + uuid.uuid4().hex[:8])
    granted(D, login(D, plain["name"], plain["secret"]), plain["name"])  # warm
    stop, lat = threading.Event(), []
    th = threading.Thread(target=timed_secret_logins, args=(D, plain["name"], plain["secret"],
                                                            stop, lat))
    th.start()
    try:
        t0 = time.monotonic()
        refused(login(D, srb["name"], slow.github(aud)))
        slow_first = time.monotonic() - t0
        t0 = time.monotonic()
        refused(login(D, srb["name"], slow.github(aud)))
        slow_again = time.monotonic() - t0
    finally:
        stop.set()
        th.join()
    assert TIMEOUT_MS / 1000 - 0.1 <= slow_first < TIMEOUT_MS / 1000 + 1.5, slow_first
    assert slow_again < 0.5, slow_again
    assert all(code == 200 for _, code in lat), lat
    assert len(lat) >= 5, lat
    worst = max(d for d, _ in lat)
    assert worst < 0.5, sorted(d for d, _ in lat)[-5:]
    print("issuer down: first %.3f s, again %.3f s; slow issuer: first %.3f s, again %.3f s; "
          "secret logins meanwhile: %d, worst %.3f s"
          % (down_first, down_again, slow_first, slow_again, len(lat), worst))
    assert "timed out" in D.log_text()


class SilentNameServer:
    """A UDP socket on 127.0.0.77:53 that takes DNS queries and never answers (counted)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.77", 53))
        self.sock.settimeout(0.2)
        self.queries = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            try:
                self.sock.recv(4096)
                self.queries += 1
            except OSError:
                pass

    def close(self):
        self.stop.set()
        self.thread.join()
        self.sock.close()


def test_issuer_whose_name_server_does_not_answer(dockhand_factory, srv, tmp_path):
    """The fetch deadline covers resolving the issuer's host: with a name server that never
    answers (the instance runs in a private mount namespace whose /etc/resolv.conf names
    it, with the resolver's own timeouts at 4 s a try, twice), a login whose issuer is
    behind that name is refused at DOCKHAND_OIDC_TIMEOUT_MS, not at the resolver's 8 s, and
    an issuer whose name resolves (localhost, from /etc/hosts) keeps working meanwhile."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare for a private /etc/resolv.conf")
    ns = SilentNameServer()
    try:
        conf = tmp_path / "resolv.conf"
        conf.write_text("nameserver 127.0.0.77\noptions timeout:4 attempts:2\n")
        d = dockhand_factory(start=False, DOCKHAND_OIDC_CA_FILE=srv.ca_path,
                             DOCKHAND_OIDC_TIMEOUT_MS=TIMEOUT_MS,
                             DOCKHAND_OIDC_REFETCH_INTERVAL=REFETCH,
                             DOCKHAND_FAIL_LIMIT_ACCOUNT=1000000,
                             DOCKHAND_FAIL_LIMIT_ADDRESS=1000000)
        d.wrapper = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                     'mount --bind "$0" /etc/resolv.conf && exec "$@"', str(conf)]
        d.start()
        aud = d.env["DOCKHAND_SERVICE"]
        hung = srv.issuer("unresolved")
        hung.url = "https://issuer.dockhand-test.example:%d/unresolved" % srv.port
        rb = robot(d, [{"issuer": hung.url, "subject": "*"}])
        fine = srv.issuer("resolved")
        frb = robot(d, [{"issuer": fine.url, "subject": "*"}])
        t0 = time.monotonic()
        refused(login(d, rb["name"], hung.github(aud)))
        took = time.monotonic() - t0
        granted(d, login(d, frb["name"], fine.github(aud)), frb["name"])
        print("unanswered name server: refused after %.2f s (%d queries dropped)"
              % (took, ns.queries))
        assert ns.queries >= 1, "the name server was not asked"
        assert took < TIMEOUT_MS / 1000 + 1.0, took
        assert ("cannot fetch the keys of %s: timed out resolving the host" % hung.url
                in d.log_text()), d.log_tail()
        d.stop()
    finally:
        ns.close()


@pytest.mark.parametrize("mode,reason", [("huge", "answer too large"),
                                         ("malformed", "malformed JWKS"),
                                         ("fail", "HTTP status is not 200"),
                                         ("trickle", "timed out reading the answer")])
def test_bad_jwks(D, srv, mode, reason):
    iss = srv.issuer("bad-" + mode)
    iss.mode = mode
    rb = robot(D, [{"issuer": iss.url, "subject": "*"}])
    t0 = time.monotonic()
    refused(login(D, rb["name"], iss.github(D.env["DOCKHAND_SERVICE"])))
    assert time.monotonic() - t0 < (1.5 if mode != "trickle" else TIMEOUT_MS / 1000 + 1.5)
    assert "cannot fetch the keys of %s: %s" % (iss.url, reason) in D.log_text()
    # the issuer mends: after the interval its logins work
    iss.mode = "ok"
    time.sleep(REFETCH + 0.2)
    granted(D, login(D, rb["name"], iss.github(D.env["DOCKHAND_SERVICE"])), rb["name"])


def test_untrusted_issuer_certificate(D, tmp_path):
    """An issuer whose certificate chains to a CA dockhand does not trust (another test CA
    than DOCKHAND_OIDC_CA_FILE's): no key, no login."""
    other = OidcServer(str(tmp_path / "other-ca"))
    try:
        iss = other.issuer("untrusted")
        rb = robot(D, [{"issuer": iss.url, "subject": "*"}])
        refused(login(D, rb["name"], iss.github(D.env["DOCKHAND_SERVICE"])))
        assert "cannot fetch the keys of %s: certificate not trusted" % iss.url in D.log_text()
        assert other.fetches("untrusted", "discovery") == 0  # nothing was asked over TLS
    finally:
        other.close()


def test_identity_metrics_and_throttle(dockhand_factory, srv):
    D3 = dockhand_factory(DOCKHAND_OIDC_CA_FILE=srv.ca_path, DOCKHAND_FAIL_LIMIT_ACCOUNT=3)
    iss = srv.issuer("metrics")
    aud = D3.env["DOCKHAND_SERVICE"]
    rb = robot(D3, [{"issuer": iss.url, "subject": "repo:org/app:*"}])
    granted(D3, login(D3, rb["name"], iss.github(aud, repository="org/app")), rb["name"])
    for _ in range(3):
        refused(login(D3, rb["name"], iss.github(aud, repository="org/other")))
    # failed identity logins count toward the same throttle as bad secrets
    r = login(D3, rb["name"], iss.github(aud, repository="org/app"))
    assert r.status_code == 429, r.text
    assert metric(D3, "dockhand_identity_logins_total", 'result="accepted"') == 1
    assert metric(D3, "dockhand_identity_logins_total", 'result="refused"') == 3
    assert metric(D3, "dockhand_oidc_key_fetches_total", 'result="ok"') == 1
    assert metric(D3, "dockhand_oidc_issuers", None) == 1
