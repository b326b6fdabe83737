"""Prometheus metrics on their own listener: the text passes `promtool check metrics`,
names follow Prometheus' conventions, label sets stay bounded whatever the traffic, known
traffic moves the counters by exact amounts, and a real Prometheus server scrapes them."""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
import requests

from helpers import realm
from helpers.pg import PgCluster

PROMTOOL = "/usr/bin/promtool"
PROMETHEUS = "/usr/bin/prometheus"
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$')
# The label values each labelled family may have: fixed sets, never a robot, repository
# or address.
BOUNDED = {
    "grant": {"none", "basic", "password", "refresh", "token_exchange"},
    "outcome": {"granted", "partial", "empty", "anonymous", "bad_credentials", "throttled",
                "bad_request", "db_unavailable", "error"},
    "result": {"match", "mismatch", "malformed",  # secret verifications
               "accepted", "refused",  # identity logins
               "ok", "error"},  # identity issuers' key fetches
    "route": {"token", "api", "web", "keys", "health", "other"},
    "cache": {"robot", "credential", "robot_directory"},
    "cause": {"robot", "project", "project_deleted", "settings", "everything"},
    "state": {"open", "in_use", "max"},
    "reason": {"idle_timeout", "header_timeout", "body_timeout", "evicted",  # connections
               "connection_cap", "descriptors"},
    "le": None,  # histogram bounds: checked against the family's own list below
    "version": None, "revision": None,  # dockhand_build_info only
}


def scrape(d):
    r = requests.get(d.metrics_url, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers
    return r.text


def parse(text):
    """{(name, frozenset(labels.items())): value}"""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        labels = {}
        if m.group(3):
            for part in re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"', m.group(3)):
                labels[part[0]] = part[1]
        out[(m.group(1), frozenset(labels.items()))] = float(m.group(4))
    return out


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def tokens(samples, grant, outcome):
    return value(samples, "dockhand_token_requests_total", grant=grant, outcome=outcome)


def check_conventions(text):
    """What promtool does not check: our own naming and label rules."""
    families = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            families[name] = kind
    problems = []
    for name, kind in families.items():
        if not re.fullmatch(r"(dockhand|process)_[a-z0-9_]+", name):
            problems.append("%s: not dockhand_* or process_*" % name)
        if kind == "counter" and not name.endswith("_total"):
            problems.append("%s: a counter without _total" % name)
        if kind != "counter" and name.endswith("_total"):
            problems.append("%s: _total on a %s" % (name, kind))
        if kind == "histogram" and not name.endswith("_seconds"):
            problems.append("%s: a histogram not in seconds" % name)
        if re.search(r"_(ms|milliseconds|us|kb|mb)(_|$)", name):
            problems.append("%s: not in base units" % name)
    for (name, labels), _ in parse(text).items():
        for k, v in labels:
            if k not in BOUNDED:
                problems.append("%s: unexpected label %s" % (name, k))
            elif BOUNDED[k] is not None and v not in BOUNDED[k]:
                problems.append("%s: label %s=%r outside its set" % (name, k, v))
            elif k in ("version", "revision") and name != "dockhand_build_info":
                problems.append("%s: label %s belongs to dockhand_build_info" % (name, k))
    return problems


@pytest.fixture(scope="module")
def tools():
    missing = [p for p in (PROMTOOL, PROMETHEUS) if not os.access(p, os.X_OK)]
    if missing:
        pytest.fail("the metrics tests need %s: apt-get install prometheus" % ", ".join(missing),
                    pytrace=False)


def test_exposition_passes_promtool_and_our_conventions(dockhand, tools):
    robot = dockhand.create_robot("promtool")
    realm.token_ok(dockhand, dockhand.token(auth=(robot["name"], robot["secret"])))
    text = scrape(dockhand)
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert check_conventions(text) == []
    s = parse(text)
    for family in ("dockhand_token_requests_total", "dockhand_http_request_duration_seconds_bucket",
                   "dockhand_cache_hits_total", "dockhand_db_connections",
                   "dockhand_audit_rows_written_total", "dockhand_signing_keys",
                   "dockhand_build_info", "process_resident_memory_bytes",
                   "process_cpu_seconds_total", "process_open_fds", "process_start_time_seconds",
                   "dockhand_hash_queue_depth", "dockhand_ratelimit_entries",
                   "dockhand_notify_messages_total", "dockhand_cache_invalidations_total",
                   "dockhand_db_wait_seconds_total", "dockhand_signing_key_age_seconds"):
        assert any(n == family for n, _ in s), family
    assert value(s, "dockhand_signing_keys") == 1
    assert value(s, "process_resident_memory_bytes") > 1e6


def test_checkers_catch_bad_names_and_unbounded_labels():
    bad = ("# HELP dockhand_tokens a\n# TYPE dockhand_tokens counter\ndockhand_tokens 1\n"
           "# HELP dockhand_lat_ms a\n# TYPE dockhand_lat_ms histogram\n"
           "dockhand_lat_ms_count 1\n"
           "# HELP dockhand_token_requests_total a\n# TYPE dockhand_token_requests_total counter\n"
           'dockhand_token_requests_total{robot="robot$ci"} 1\n'
           'dockhand_token_requests_total{outcome="robot$ci"} 1\n')
    problems = check_conventions(bad)
    assert any("dockhand_tokens: a counter without _total" in p for p in problems), problems
    assert any("dockhand_lat_ms: a histogram not in seconds" in p for p in problems), problems
    assert any("unexpected label robot" in p for p in problems), problems
    assert any("outcome='robot$ci' outside" in p for p in problems), problems


def test_series_do_not_grow_with_robots_repositories_or_addresses(dockhand_factory):
    d = dockhand_factory()
    d.create_project("pub", public=True)
    first = d.create_robot("series0", projects={"pub": ["pull"]})
    realm.token_ok(d, d.token(auth=(first["name"], first["secret"]), scopes=["repository:pub/a:pull"]))
    before = set(parse(scrape(d)))
    for i in range(1, 25):
        r = d.create_robot("series%d" % i, projects={"pub": ["pull"]})
        d.token(auth=(r["name"], r["secret"]), scopes=["repository:pub/app%d:pull,push" % i],
                headers={"X-Forwarded-For": "10.0.0.%d" % i})
        d.token(auth=(r["name"], "Wrong%daaaa" % i))
    after = set(parse(scrape(d)))
    assert after == before, sorted(after ^ before)[:10]


def test_known_traffic_moves_counters_by_exact_amounts(dockhand_factory):
    d = dockhand_factory(DOCKHAND_FAIL_LIMIT_ACCOUNT="3")
    d.create_project("alpha")
    d.create_project("open", public=True)
    robot = d.create_robot("exact", projects={"alpha": ["pull"]})
    locked = d.create_robot("locked", projects={"alpha": ["pull"]})
    auth = (robot["name"], robot["secret"])
    s0 = parse(scrape(d))

    N, M = 7, 2  # M under the account limit of 3
    for _ in range(N):  # everything asked is granted
        realm.token_ok(d, d.token(auth=auth, scopes=["repository:alpha/app:pull"]))
    for i in range(M):  # bad secrets
        realm.unauthorized(d, d.token(auth=(robot["name"], "Wrong%daaaa" % i)))
    d.token(auth=auth, scopes=["repository:alpha/app:pull,push"])  # partial
    d.token(auth=auth, scopes=["repository:other/app:pull"])  # empty
    d.token(scopes=["repository:open/app:pull"])  # anonymous
    body = d.token(method="POST", auth=auth, scopes=["repository:alpha/app:pull"],
                   access_type="offline")  # password grant, with a refresh token
    assert body.status_code == 200, body.text
    refresh = body.json()["refresh_token"]
    r = d.token(method="POST", grant_type="refresh_token", refresh_token=refresh,
                scopes=["repository:alpha/app:pull"])
    assert r.status_code == 200, r.text
    d.token(method="POST", grant_type="password")  # no username: bad request
    for i in range(3):
        d.token(auth=(locked["name"], "Wrong%daaaa" % i))
    assert d.token(auth=(locked["name"], locked["secret"])).status_code == 429

    s1 = parse(scrape(d))
    delta = {(g, o): tokens(s1, g, o) - tokens(s0, g, o)
             for g in BOUNDED["grant"] for o in BOUNDED["outcome"]}
    want = {("basic", "granted"): N, ("basic", "bad_credentials"): M + 3,
            ("basic", "partial"): 1, ("basic", "empty"): 1, ("none", "anonymous"): 1,
            ("password", "granted"): 1, ("refresh", "granted"): 1,
            ("password", "bad_request"): 1, ("basic", "throttled"): 1}
    assert {k: v for k, v in delta.items() if v} == want
    # One hash per first use of a secret; the credential cache answers the rest.
    hashed = sum(value(s1, "dockhand_secret_verifications_total", result=x)
                 - value(s0, "dockhand_secret_verifications_total", result=x)
                 for x in ("match", "mismatch"))
    assert hashed >= M + 3 and value(s1, "dockhand_cache_hits_total", cache="credential") > \
        value(s0, "dockhand_cache_hits_total", cache="credential")
    # Every one of them is a token request in the duration histogram too.
    count = (value(s1, "dockhand_http_request_duration_seconds_count", route="token")
             - value(s0, "dockhand_http_request_duration_seconds_count", route="token"))
    assert count == sum(want.values())


def test_database_outage_counts_as_db_unavailable(dockhand_factory):
    cluster = PgCluster("pgmetrics").start()
    d = None
    try:
        d = dockhand_factory(pg=cluster)
        s0 = parse(scrape(d))
        cluster.stop()
        for _ in range(3):
            realm.error(d.token(auth=("robot$nobody", "Whatever1a")), 503)
        s1 = parse(scrape(d))
        assert tokens(s1, "basic", "db_unavailable") - tokens(s0, "basic", "db_unavailable") == 3
        assert value(s1, "dockhand_db_query_errors_total") > value(s0, "dockhand_db_query_errors_total")
        cluster.start()
    finally:
        if d is not None:
            d.stop()
        cluster.destroy()


def test_off_means_no_listener_and_the_public_port_never_shows_them(dockhand_factory):
    d = dockhand_factory(DOCKHAND_METRICS_LISTEN="off")
    robot = d.create_robot("nometrics")
    realm.token_ok(d, d.token(auth=(robot["name"], robot["secret"])))
    assert d.metrics_url is None
    assert requests.get(d.url + "/metrics", timeout=10).status_code == 404
    assert "metrics on" not in d.log_text()
    on = dockhand_factory()
    assert requests.get(on.url + "/metrics", timeout=10).status_code == 404
    # The metrics port answers /metrics only.
    base = on.metrics_url[: -len("/metrics")]
    assert requests.get(base + "/service/token", timeout=10).status_code == 404
    assert requests.post(on.metrics_url, timeout=10).status_code == 405


def test_a_taken_metrics_port_stops_serve_with_a_clear_message(dockhand_factory):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        d = dockhand_factory(start=False, DOCKHAND_METRICS_LISTEN="127.0.0.1:%d" % port)
        p = d.cli("serve", check=False, timeout=15)
    assert p.returncode == 1, p.stderr
    assert "DOCKHAND_METRICS_LISTEN: cannot listen on 127.0.0.1:%d" % port in p.stderr, p.stderr


def test_a_real_prometheus_scrapes_and_sees_exact_deltas(dockhand_factory, tools, tmp_path):
    d = dockhand_factory()
    robot = d.create_robot("scraped")
    target = d.metrics_url[len("http://"):-len("/metrics")]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        prom_port = s.getsockname()[1]
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: dockhand\n"
        "    static_configs: [{targets: ['%s']}]\n" % target)
    log = open(tmp_path / "prometheus.log", "wb")
    prom = subprocess.Popen([PROMETHEUS, "--config.file=%s" % (tmp_path / "prometheus.yml"),
                             "--storage.tsdb.path=%s" % (tmp_path / "data"),
                             "--web.listen-address=127.0.0.1:%d" % prom_port],
                            stdout=log, stderr=subprocess.STDOUT)
    api = "http://127.0.0.1:%d/api/v1/query" % prom_port

    def query(q):
        r = requests.get(api, params={"query": q}, timeout=10)
        r.raise_for_status()
        res = r.json()["data"]["result"]
        return float(res[0]["value"][1]) if res else None

    def wait_for(q, want, limit=30):
        deadline = time.monotonic() + limit
        got = None
        while time.monotonic() < deadline:
            try:
                got = query(q)
            except requests.RequestException:
                got = None
            if got == want:
                return got
            time.sleep(0.25)
        raise AssertionError("%s: %r, wanted %r\n%s" % (
            q, got, want, (tmp_path / "prometheus.log").read_text()[-3000:]))

    try:
        wait_for('up{job="dockhand"}', 1.0)
        granted = 'sum(dockhand_token_requests_total{outcome="granted"})'
        refused = 'sum(dockhand_token_requests_total{outcome="bad_credentials"})'
        base_g = wait_for(granted, 0.0)
        base_b = wait_for(refused, 0.0)
        N, M = 5, 3
        for _ in range(N):
            realm.token_ok(d, d.token(auth=(robot["name"], robot["secret"])))
        for i in range(M):
            realm.unauthorized(d, d.token(auth=(robot["name"], "Wrong%daaaa" % i)))
        assert wait_for(granted, base_g + N) == N
        assert wait_for(refused, base_b + M) == M
        print("prometheus: up=1, %s=%d, %s=%d" % (granted, N, refused, M))
    finally:
        prom.terminate()
        prom.wait(timeout=30)
        log.close()
