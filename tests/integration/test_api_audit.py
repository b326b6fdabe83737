"""GET /audit-logs (docs/design.md §5; issue 3): changes made through the API with the
administrator's name, address and request id; token issuance and refused logins
(batched: polled for); q filters, paging, newest first; never a secret or a hash."""

import json
import time

import pytest

from helpers import api as A
from helpers import realm, secrets
from helpers.jwtutil import access_map


@pytest.fixture(scope="module")
def admin(dockhand):
    return A.ensure_admin(dockhand)


def rid_header(tag):
    rid = A.new_request_id(tag)
    return rid, {"X-Request-Id": rid}


def assert_by_admin(e, operation, resource_type, resource):
    assert e["username"] == A.ADMIN, e
    assert e["client_ip"] == "127.0.0.1", e
    assert e["operation"] == operation, e
    assert e["resource_type"] == resource_type, e
    assert e["resource"] == resource, e
    assert abs(A.epoch(e["op_time"]) - time.time()) <= A.CLOCK_SLACK + A.AUDIT_WAIT, e


def test_robot_and_project_changes_are_recorded(admin):
    name = A.new_name("aud")
    rid, h = rid_header("pcreate")
    admin.create_project(name, headers=h)
    assert_by_admin(admin.find_audit(request_id=rid), "create", "project", name)

    rid, h = rid_header("rcreate")
    created = admin.create_robot("robo", A.perm(name, "pull"), level="project", headers=h)
    robot_name = created["name"]
    assert_by_admin(admin.find_audit(request_id=rid), "create", "robot", robot_name)

    rid, h = rid_header("rupdate")
    admin.update_robot(created["id"], headers=h, description="changed")
    assert_by_admin(admin.find_audit(request_id=rid), "update", "robot", robot_name)

    rid, h = rid_header("rdisable")
    admin.update_robot(created["id"], headers=h, disable=True)
    e = admin.find_audit(request_id=rid)
    # disabling is an update; a record may name it more precisely
    assert_by_admin(e, e["operation"] if e["operation"] in ("update", "disable") else "update",
                    "robot", robot_name)

    rid, h = rid_header("rsecret")
    admin.refresh_secret(created["id"], headers=h)
    e = admin.find_audit(request_id=rid)
    assert e["username"] == A.ADMIN and e["client_ip"] == "127.0.0.1", e
    assert e["resource_type"] == "robot" and e["resource"] == robot_name, e
    assert e["operation"], e

    rid, h = rid_header("rmanual")
    admin.refresh_secret(created["id"], "Audit-Manual-9", headers=h)
    e = admin.find_audit(request_id=rid)
    assert e["resource_type"] == "robot" and e["resource"] == robot_name, e

    rid, h = rid_header("rdelete")
    admin.delete_robot(created["id"], headers=h)
    assert_by_admin(admin.find_audit(request_id=rid), "delete", "robot", robot_name)

    rid, h = rid_header("pdelete")
    admin.delete_project(name, headers=h)
    assert_by_admin(admin.find_audit(request_id=rid), "delete", "project", name)


def test_settings_changes_are_recorded(admin):
    rid, h = rid_header("config")
    admin.set_config(headers=h, token_expiration=29)
    e = admin.find_audit(request_id=rid)
    assert e["username"] == A.ADMIN and e["client_ip"] == "127.0.0.1", e
    assert e["operation"] == "update" and e["resource_type"] == "configuration", e
    admin.set_config(token_expiration=30)


def test_refused_changes_are_not_recorded_as_changes(admin):
    rid, h = rid_header("refused")
    A.bad_request(admin.post("/robots", json=A.robot_body("BAD NAME", A.perm("p", "pull")),
                             headers=h))
    A.conflict(admin.post("/projects", json={"project_name": "p"}, headers=h))
    time.sleep(1.0)
    items, _ = admin.audit({"page_size": "100"})
    assert [e for e in items if e["request_id"] == rid and e["operation"] == "create"] == []


def test_token_issuance_is_recorded(dockhand, admin):
    d = dockhand
    created = admin.create_robot(A.new_name("tok"), A.perm("p", "pull", "push"))
    name, secret = created["name"], created["secret"]
    for method in ("GET", "POST"):
        rid = A.new_request_id("token" + method)
        r = d.token(method=method, auth=(name, secret), scopes=["repository:p/app:pull,push"],
                    headers={"X-Request-Id": rid})
        _, claims = realm.token_ok(d, r, sub=name)
        e = admin.find_audit(request_id=rid)
        assert e["operation"] == "issue_token" and e["resource_type"] == "token", e
        assert e["resource"] == name, e
        assert e["username"] == name, e
        assert e["client_ip"] == "127.0.0.1", e
        detail = A.detail_of(e)
        assert claims["jti"] in list(A.values_anywhere(detail)), \
            "the token's jti %s is not in the record's detail %r" % (claims["jti"], detail)
        text = json.dumps(detail)
        assert "p/app" in text and "pull" in text and "push" in text, detail
        lists = [v for v in A.values_anywhere(detail) if isinstance(v, list)]
        assert any(_as_access(v) == access_map(claims) for v in lists), \
            "the granted access %r is not in the detail %r" % (claims["access"], detail)


def _as_access(value):
    try:
        return access_map({"access": value})
    except Exception:
        return None


def test_refused_logins_are_recorded(dockhand, admin):
    d = dockhand
    created = admin.create_robot(A.new_name("refused"), A.perm("p", "pull"))
    wrong = "Wrong-Secret-7731"
    A.remember(wrong, created["name"])
    for login in (created["name"], "robot$nobody-here"):
        rid = A.new_request_id("fail")
        r = d.token(auth=(login, wrong), headers={"X-Request-Id": rid})
        realm.unauthorized(d, r)
        e = admin.find_audit(request_id=rid)
        assert e["operation"] == "login_failed", e
        assert login in (e["username"], e["resource"]), e
        assert e["client_ip"] == "127.0.0.1", e
        assert wrong not in json.dumps(e), e


@pytest.fixture(scope="module")
def tagged(admin):
    """Three changes on robots named after one tag, to filter on (and a project
    created and deleted, so that every resource type and operation is there)."""
    other = A.new_name("prj")
    admin.create_project(other)
    admin.delete_project(other)
    tag = A.new_name("flt")
    created = admin.create_robot(tag + "-a", A.perm("p", "pull"))
    admin.update_robot(created["id"], description="x")
    admin.delete_robot(created["id"])
    admin.find_audit(operation="delete", resource=created["name"])
    return tag, created["name"]


def all_entries(admin, params):
    return admin.list_all("/audit-logs", params, model="AuditLog", page_size=100)


def test_q_resource_substring(admin, tagged):
    tag, name = tagged
    got = all_entries(admin, {"q": "resource=~" + tag})
    assert sorted(e["operation"] for e in got) == ["create", "delete", "update"], got
    assert {e["resource"] for e in got} == {name}


@pytest.mark.parametrize("q,field,value", [
    ("operation=create", "operation", "create"),
    ("operation=delete", "operation", "delete"),
    ("resource_type=robot", "resource_type", "robot"),
    ("resource_type=project", "resource_type", "project"),
    ("username=alice", "username", "alice"),
])
def test_q_exact(admin, tagged, q, field, value):
    got = all_entries(admin, {"q": q})
    assert got, q
    assert {e[field] for e in got} == {value}, q


def test_q_combined(admin, tagged):
    tag, name = tagged
    got = all_entries(admin, {"q": "operation=create,resource=~%s" % tag})
    assert [(e["operation"], e["resource"]) for e in got] == [("create", name)]
    got = all_entries(admin, {"q": "operation=create,resource_type=project,resource=~%s" % tag})
    assert got == []
    assert all_entries(admin, {"q": "username=nobody-at-all"}) == []


def test_q_op_time_range(admin, tagged):
    now = time.time()
    inside = "op_time=[%s~%s]" % (A.rfc3339(now - 3600), A.rfc3339(now + 3600))
    got = all_entries(admin, {"q": inside + ",resource=~" + tagged[0]})
    assert len(got) == 3
    items, r = admin.audit({"q": "op_time=[2000-01-01T00:00:00Z~2000-12-31T00:00:00Z]"})
    assert items == [] and A.total_count(r) == 0
    later = "op_time=[%s~%s]" % (A.rfc3339(now + 3600), A.rfc3339(now + 7200))
    assert all_entries(admin, {"q": later}) == []


def test_q_op_time_every_form_of_the_one_grammar(admin, tagged):
    """The CLI's --from/--to grammar (timefmt.h): Unix seconds, RFC 3339 with an offset or
    a fraction, Harbor's zone-less forms (UTC), a date; open ends; blanks around bounds."""
    now = int(time.time())
    gm = lambda t, f: time.strftime(f, time.gmtime(t))  # noqa: E731
    bounds = [
        (str(now - 3600), str(now + 3600)),
        (gm(now - 3600, "%Y-%m-%dT%H:%M:%S.25+00:00"), gm(now + 3600, "%Y-%m-%dT%H:%M:%S-00:00")),
        (gm(now - 3600, "%Y-%m-%d %H:%M:%S"), gm(now + 3600, "%Y-%m-%dT%H:%M:%S")),
        (gm(now - 86400, "%Y-%m-%d"), gm(now + 2 * 86400, "%Y-%m-%d")),
        (" " + str(now - 3600) + " ", ""),
        ("", str(now + 3600)),
    ]
    for lo, hi in bounds:
        got = all_entries(admin, {"q": "op_time=[%s~%s],resource=~%s" % (lo, hi, tagged[0])})
        assert len(got) == 3, (lo, hi)
    # An offset moves the moment: two hours ahead of UTC, now+1h is in the past.
    ahead = gm(now + 3600, "%Y-%m-%dT%H:%M:%S+02:00")
    assert all_entries(admin, {"q": "op_time=[%s~],resource=~%s" % (ahead, tagged[0])}) != []
    assert all_entries(admin, {"q": "op_time=[%s~],resource=~%s" % (
        gm(now + 3600, "%Y-%m-%dT%H:%M:%SZ"), tagged[0])}) == []


@pytest.mark.parametrize("q", ["foo=bar", "secret=x", "password=~x", "hash=x", "operation",
                               "op_time=[yesterday~today]", "op_time=2026-01-01T00:00:00Z~",
                               "op_time=[2020-02-30~]", "op_time=[~2020-1-1]",
                               "op_time=[-5~]", "op_time=[2020-01-01T00:00:00+0100~]",
                               "op_time=[1~2~3]", "op_time=[1~2", "op_time=[[1~2]]",
                               "op_time={1 2}", "op_time=~1", "operation={create delete}",
                               "operation=~create", "username=[a~b]", "resource=(a b)",
                               "resource=%zz", "resource=%C0%AF", "=x", "a b=c"])
def test_bad_q_is_400(admin, q):
    A.bad_request(admin.get("/audit-logs", params={"q": q}))


def test_newest_first_and_paging(admin, tagged):
    tag, _ = tagged
    r = admin.get("/audit-logs", params={"q": "resource=~" + tag, "page_size": "2"})
    items = A.expect(r, 200, "AuditLog", many=True)
    assert [e["operation"] for e in items] == ["delete", "update"]
    assert A.total_count(r) == 3
    links = A.parse_link(r.headers.get("Link"))
    assert set(links) == {"next"}
    assert links["next"][0] == A.API + "/audit-logs"
    assert links["next"][1] == {"page": "2", "page_size": "2", "q": "resource=~" + tag}
    r = admin.get("/audit-logs", params={"q": "resource=~" + tag, "page_size": "2", "page": "2"})
    assert [e["operation"] for e in A.expect(r, 200, "AuditLog", many=True)] == ["create"]
    assert set(A.parse_link(r.headers.get("Link"))) == {"prev"}
    every = all_entries(admin, {})
    ids = [e["id"] for e in every]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    times = [A.epoch(e["op_time"]) for e in every]
    assert times == sorted(times, reverse=True)
    items, r = admin.audit()
    assert len(items) == min(10, A.total_count(r))
    A.bad_request(admin.get("/audit-logs", params={"page_size": "101"}))
    A.bad_request(admin.get("/audit-logs", params={"page": "0"}))


def test_no_secret_or_hash_in_any_record(dockhand, admin):
    d = dockhand
    created = admin.create_robot(A.new_name("sec"), A.perm("p", "pull"))
    name = created["name"]
    rt = A.refresh_token(d, name, created["secret"])
    new = admin.refresh_secret(created["id"])
    admin.refresh_secret(created["id"], "Audit-Manual-Secret-5")
    realm.unauthorized(d, d.token(auth=(name, new)))
    realm.unauthorized(d, d.token(method="POST", grant_type="refresh_token", refresh_token=rt))
    assert A.can_login(d, name, "Audit-Manual-Secret-5")
    admin.find_audit(operation="issue_token", resource=name)
    time.sleep(0.5)
    every = all_entries(admin, {})  # every page passed check_common: no seen secret, no hash
    text = json.dumps(every)
    leaked = [s for s in secrets.all_secrets() if s in text]
    assert not leaked, leaked[:3]
    assert "pbkdf2" not in text.lower()
    assert A.ADMIN_PASSWORD not in text


def test_queued_token_records_survive_a_clean_shutdown(dockhand_factory):
    """Tokens issued right before SIGTERM: every record is written before the exit."""
    # Records wait up to a minute in the queue: every one is still there at SIGTERM.
    d = dockhand_factory(DOCKHAND_AUDIT_FLUSH_MS="60000")
    robot = d.create_robot(A.new_name("flush"))
    n = 200
    for i in range(n):
        r = d.token(auth=(robot["name"], robot["secret"]),
                    headers={"X-Request-Id": "flush-%d" % i})
        assert r.status_code == 200, r.text
    assert int(d.sql("SELECT count(*) FROM audit_log WHERE operation = 'issue_token'")) == 0
    d.stop()
    got = int(d.sql("SELECT count(*) FROM audit_log WHERE operation = 'issue_token'"
                    " AND request_id LIKE 'flush-%%'").strip())
    assert got == n
    used = d.sql("SELECT last_used IS NOT NULL FROM robots WHERE id = %d" % robot["id"]).strip()
    assert used == "t"
