"""DOCKHAND_TRUSTED_PROXIES (issue 15 §3): X-Forwarded-For names the client only when the TCP
peer is a trusted proxy, and then the right-most address that is not itself a trusted proxy.
The one address serves the network check, the failed-login throttle, the audit record's
client_ip (realm and admin API) and the access log line. A forged header from any other peer
is ignored by all of them."""

import time

import pytest

from helpers import api as A
from helpers.netlogin import login, refused, robot, set_networks

PROXY = "127.0.0.1"  # the test plays the proxy from here
OTHER = "127.0.0.2"  # and an untrusted peer from here


def xff(value):
    return {"X-Forwarded-For": value}


@pytest.fixture(scope="module")
def behind(dockhand_factory):
    """An instance that trusts 127.0.0.1 (and a documentation network) as proxies."""
    return dockhand_factory(DOCKHAND_TRUSTED_PROXIES="%s/32, 192.0.2.0/24" % PROXY)


@pytest.fixture(scope="module")
def plain(dockhand_factory):
    """An instance that trusts no proxy (the default)."""
    return dockhand_factory()


def audited_ips(adm, login_name):
    items, _ = adm.audit({"page_size": "100", "q": "operation=login_failed"})
    return {e["client_ip"] for e in items if e["resource"] == login_name}


def test_untrusted_peer_header_is_ignored(plain):
    d = plain
    adm = A.ensure_admin(d)
    r = robot(d)
    set_networks(d, adm, r["id"], ["203.0.113.0/24"])
    for peer in (PROXY, OTHER):
        for method in ("GET", "POST"):
            refused(*login(d, r["name"], r["secret"], src=peer, method=method,
                           headers=xff("203.0.113.5"))[:2])
    A.poll(lambda: audited_ips(adm, r["name"]) == {PROXY, OTHER},
           what="refusals audited with the TCP peers' addresses")
    assert "203.0.113.5" not in open(d.log_path).read()


def test_trusted_proxy_header_is_used(behind):
    d = behind
    adm = A.ensure_admin(d)
    r = robot(d)
    name, secret = r["name"], r["secret"]
    set_networks(d, adm, r["id"], ["198.51.100.0/24", "2001:db8::/32"])
    # through the proxy: the client the proxy names
    assert login(d, name, secret, src=PROXY, headers=xff("198.51.100.7"))[0] == 200
    assert login(d, name, secret, src=PROXY, method="POST",
                 headers=xff("2001:db8::7"))[0] == 200
    # the right-most untrusted hop counts, not what the client wrote to the left of it
    assert login(d, name, secret, src=PROXY,
                 headers=xff("203.0.113.9, 198.51.100.7, 192.0.2.10"))[0] == 200
    refused(*login(d, name, secret, src=PROXY, headers=xff("198.51.100.7, 203.0.113.9"))[:2])
    # several header lines are one list, in order
    refused(*login(d, name, secret, src=PROXY,
                   headers=[("X-Forwarded-For", "198.51.100.7"),
                            ("X-Forwarded-For", "203.0.113.8")])[:2])
    # no header through the proxy: the proxy itself is the client (outside the networks)
    refused(*login(d, name, secret, src=PROXY)[:2])
    # garbage: the walk stops at the proxy that handed it over
    refused(*login(d, name, secret, src=PROXY, headers=xff("not-an-address"))[:2])
    # an untrusted peer cannot forge it
    refused(*login(d, name, secret, src=OTHER, headers=xff("198.51.100.7"))[:2])
    A.poll(lambda: {"203.0.113.9", "203.0.113.8", PROXY, OTHER} <= audited_ips(adm, name),
           what="refusals audited with the forwarded addresses")
    # the access log line names client and proxy
    A.poll(lambda: "(client 198.51.100.7 via 127.0.0.1)" in open(d.log_path).read(),
           what="the access line with the forwarded client")


def test_admin_api_audit_uses_the_forwarded_address(behind):
    d = behind
    adm = A.ensure_admin(d)
    name = A.new_name("xffproj")
    r = adm.post("/projects", json={"project_name": name}, headers=xff("198.51.100.44"))
    assert r.status_code == 201, A.show(r)
    rec = adm.find_audit(operation="create", resource_type="project", resource=name)
    assert rec["client_ip"] == "198.51.100.44", rec


def test_throttle_counts_the_forwarded_address(dockhand_factory):
    d = dockhand_factory(DOCKHAND_TRUSTED_PROXIES=PROXY, DOCKHAND_FAIL_LIMIT_ADDRESS="3")
    r = robot(d)
    for i in range(3):
        refused(*login(d, "robot$nobody%d" % i, "x", src=PROXY, headers=xff("198.51.100.1"))[:2])
    status, _, hdrs = login(d, "robot$nobody9", "x", src=PROXY, headers=xff("198.51.100.1"))
    assert status == 429 and "Retry-After" in hdrs, (status, hdrs)
    # another client behind the same proxy is not throttled
    assert login(d, r["name"], r["secret"], src=PROXY, headers=xff("198.51.100.2"))[0] == 200


def test_forged_header_does_not_dodge_the_throttle(dockhand_factory):
    d = dockhand_factory(DOCKHAND_FAIL_LIMIT_ADDRESS="3")
    for i in range(3):
        refused(*login(d, "robot$nobody%d" % i, "x", src=OTHER,
                       headers=xff("198.51.100.%d" % i))[:2])
    status, _, _ = login(d, "robot$nobody9", "x", src=OTHER, headers=xff("198.51.100.99"))
    assert status == 429, status
    # the real peer 127.0.0.1 is someone else
    refused(*login(d, "robot$nobody9", "x", src=PROXY)[:2])


def test_bad_setting_refused_at_start(plain):
    for bad in ("10.0.0.1/8", "bogus", "10.0.0.0/8,,::1/129", ",".join(["10.0.0.%d" % i
                                                                         for i in range(65)])):
        p = plain.cli("version", env={"DOCKHAND_TRUSTED_PROXIES": bad}, check=False)
        assert p.returncode == 2 and "DOCKHAND_TRUSTED_PROXIES" in p.stderr, (bad, p.stderr)
    p = plain.cli("version", env={"DOCKHAND_TRUSTED_PROXIES": " 10.0.0.0/8 ,::1 "}, check=False)
    assert p.returncode == 0, p.stderr
