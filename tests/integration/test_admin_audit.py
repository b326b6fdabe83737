"""Administrators (`dockhand admin …`), the audit triggers and `dockhand audit list`
(issue 3; docs/design.md §4.6 "Robots cannot use the admin API", §5 "Audit log", §6)."""

import calendar
import hashlib
import json
import re

import pytest

from helpers import secrets

ACTOR_USER = "auditor"
ACTOR = "cli:" + ACTOR_USER
HASH = re.compile(r"^pbkdf2-sha256\$600000\$([A-Za-z0-9]{16,128})\$([0-9a-f]{32})$")
GOOD_PASSWORD = "Adm1n-Password"
OTHER_PASSWORD = "An0ther-Password"


@pytest.fixture
def d(dockhand_factory):
    """A fresh, migrated database (with project "p") for each test; no server needed."""
    # the default password iterations (600,000): the hashes are checked for them
    return dockhand_factory(start=False, DOCKHAND_PASSWORD_ITERATIONS=None)


def cli(d, *args, input=None, check=True, user=ACTOR_USER):
    """The CLI as a known login user (the audit log names it "cli:<user>")."""
    return d.cli(*args, input=input, check=check, env={"SUDO_USER": None, "USER": user})


def cli_json(d, *args, input=None, user=ACTOR_USER):
    return json.loads(cli(d, *args, "--output", "json", input=input, user=user).stdout)


def rows(d, where="TRUE"):
    """audit_log rows (oldest first) as dicts."""
    out = d.sql("SELECT coalesce(json_agg(a ORDER BY a.id), '[]') FROM audit_log a WHERE %s"
                % where)
    return json.loads(out)


def max_id(d):
    return int(d.sql("SELECT coalesce(max(id), 0) FROM audit_log").strip())


def rows_after(d, mark):
    return rows(d, "id > %d" % mark)


def admin_row(d, name):
    out = d.sql("SELECT row_to_json(a) FROM admins a WHERE name = '%s'" % name).strip()
    return json.loads(out) if out else None


def verify(hash_text, password):
    m = HASH.match(hash_text)
    assert m, "administrator hash %r is not pbkdf2-sha256$600000$salt$hex" % hash_text
    salt, digest = m.groups()
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 600000,
                               16).hex() == digest


def check_generated(p):
    assert re.fullmatch(r"[A-Za-z0-9]{32}", p), p
    assert re.search(r"[A-Z]", p) and re.search(r"[a-z]", p) and re.search(r"[0-9]", p), p


def audit_list(d, *args):
    return cli_json(d, "audit", "list", *args)


# ---- administrators ------------------------------------------------------------------


def test_admin_create_with_password_from_stdin(d):
    secrets.remember(GOOD_PASSWORD)
    p = cli(d, "admin", "create", "alice", "--password-stdin", input=GOOD_PASSWORD + "\n")
    assert GOOD_PASSWORD not in p.stdout + p.stderr
    assert "alice" in p.stdout
    row = admin_row(d, "alice")
    assert row["cred_version"] == 1
    assert verify(row["password_hash"], GOOD_PASSWORD)
    assert not verify(row["password_hash"], GOOD_PASSWORD + "x")
    assert GOOD_PASSWORD not in json.dumps(row)

    listed = cli_json(d, "admin", "list")
    assert [a["name"] for a in listed] == ["alice"]
    assert set(listed[0]) == {"id", "name", "creation_time", "update_time"}
    assert listed[0]["id"] == row["id"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", listed[0]["creation_time"])
    text = cli(d, "admin", "list").stdout
    assert "alice" in text and "pbkdf2" not in text


def test_admin_create_generates_a_password_shown_once(d):
    out = cli_json(d, "admin", "create", "bob")
    assert out["name"] == "bob"
    check_generated(out["password"])
    secrets.remember(out["password"])
    assert verify(admin_row(d, "bob")["password_hash"], out["password"])

    p = cli(d, "admin", "create", "carol")
    m = re.search(r"password: ([A-Za-z0-9]{32})\n", p.stdout)
    assert m, p.stdout
    pw = m.group(1)
    secrets.remember(pw)
    check_generated(pw)
    assert p.stdout.count(pw) == 1
    assert pw not in p.stderr
    assert verify(admin_row(d, "carol")["password_hash"], pw)
    assert pw != out["password"]


@pytest.mark.parametrize("bad", [
    "Sh0rt",                      # under 8
    "alllowercase1",              # no upper case
    "ALLUPPERCASE1",              # no lower case
    "NoDigitsAtAll",              # no digit
    "A1" + "a" * 127,             # over 128
])
def test_admin_password_policy(d, bad):
    p = cli(d, "admin", "create", "dave", "--password-stdin", input=bad, check=False)
    assert p.returncode == 1, p
    assert "password" in p.stderr
    assert bad not in p.stdout + p.stderr
    assert admin_row(d, "dave") is None

    cli(d, "admin", "create", "erin", "--password-stdin", input=GOOD_PASSWORD)
    before = admin_row(d, "erin")
    p = cli(d, "admin", "passwd", "erin", "--password-stdin", input=bad, check=False)
    assert p.returncode == 1, p
    assert bad not in p.stdout + p.stderr
    assert admin_row(d, "erin") == before


@pytest.mark.parametrize("name", ["Alice", "a b", "-a", "a$b", "x" * 256])
def test_admin_names_follow_the_name_rules(d, name):
    p = cli(d, "admin", "create", name, "--password-stdin", input=GOOD_PASSWORD, check=False)
    assert p.returncode == 1, p
    assert d.sql("SELECT count(*) FROM admins").strip() == "0"


def test_admin_duplicate_is_refused(d):
    cli(d, "admin", "create", "alice", "--password-stdin", input=GOOD_PASSWORD)
    before = admin_row(d, "alice")
    p = cli(d, "admin", "create", "alice", "--password-stdin", input=OTHER_PASSWORD,
            check=False)
    assert p.returncode == 1
    assert "exists" in p.stderr
    assert admin_row(d, "alice") == before


def test_admin_passwd(d):
    cli(d, "admin", "create", "alice", "--password-stdin", input=GOOD_PASSWORD)
    first = admin_row(d, "alice")
    p = cli(d, "admin", "passwd", "alice", "--password-stdin", input=OTHER_PASSWORD)
    assert OTHER_PASSWORD not in p.stdout + p.stderr
    second = admin_row(d, "alice")
    assert second["cred_version"] == first["cred_version"] + 1
    assert verify(second["password_hash"], OTHER_PASSWORD)
    assert not verify(second["password_hash"], GOOD_PASSWORD)
    assert second["update_time"] >= first["update_time"]

    out = cli_json(d, "admin", "passwd", "alice")
    check_generated(out["password"])
    secrets.remember(out["password"])
    third = admin_row(d, "alice")
    assert third["cred_version"] == second["cred_version"] + 1
    assert verify(third["password_hash"], out["password"])

    p = cli(d, "admin", "passwd", "nobody", "--password-stdin", input=GOOD_PASSWORD,
            check=False)
    assert p.returncode == 1 and "not found" in p.stderr


def test_admin_delete(d):
    cli(d, "admin", "create", "alice", "--password-stdin", input=GOOD_PASSWORD)
    cli(d, "admin", "create", "bob", "--password-stdin", input=GOOD_PASSWORD)
    assert "deleted" in cli(d, "admin", "delete", "alice").stdout
    assert [a["name"] for a in cli_json(d, "admin", "list")] == ["bob"]
    p = cli(d, "admin", "delete", "alice", check=False)
    assert p.returncode == 1 and "not found" in p.stderr
    assert cli_json(d, "admin", "delete", "bob") == {"deleted": True}
    assert cli_json(d, "admin", "list") == []


@pytest.mark.parametrize("args", [
    ["admin"],
    ["admin", "frob"],
    ["admin", "create"],
    ["admin", "create", "a", "b"],
    ["admin", "create", "a", "--bogus"],
    ["admin", "list", "x"],
    ["admin", "list", "--password-stdin"],
    ["admin", "delete"],
    ["admin", "delete", "a", "--password-stdin"],
])
def test_admin_usage_errors(d, args):
    p = cli(d, *args, check=False, input="")
    assert p.returncode == 2, p
    assert d.sql("SELECT count(*) FROM admins").strip() == "0"


def test_admin_changes_are_audited_without_the_hash(d):
    mark = max_id(d)
    cli(d, "admin", "create", "alice", "--password-stdin", input=GOOD_PASSWORD)
    h1 = admin_row(d, "alice")["password_hash"]
    cli(d, "admin", "passwd", "alice", "--password-stdin", input=OTHER_PASSWORD)
    h2 = admin_row(d, "alice")["password_hash"]
    cli(d, "admin", "delete", "alice")
    got = rows_after(d, mark)
    assert [(r["operation"], r["resource_type"], r["resource"], r["username"]) for r in got] == [
        ("create", "admin", "alice", ACTOR),
        ("change_password", "admin", "alice", ACTOR),
        ("delete", "admin", "alice", ACTOR),
    ]
    dump = json.dumps(got)
    for s in (h1, h2, h1.split("$")[2], h2.split("$")[3], GOOD_PASSWORD, OTHER_PASSWORD):
        assert s not in dump


# ---- audit triggers ------------------------------------------------------------------


def ops(got):
    return [(r["operation"], r["resource_type"], r["resource"]) for r in got]


def test_robot_changes_write_one_row_each(d):
    mark = max_id(d)
    robot = d.create_robot("ci")  # through the CLI, as the test runner's user
    rid = robot["id"]
    steps = [
        (["robot", "update", str(rid), "--description", "builds"], "update",
         ["description"]),
        (["robot", "update", str(rid), "--duration", "7"], "update", ["duration", "expires_at"]),
        (["robot", "disable", str(rid)], "disable", ["disabled"]),
        (["robot", "enable", str(rid)], "enable", ["disabled"]),
        (["robot", "refresh-secret", str(rid)], "refresh_secret", []),
        (["robot", "update", str(rid), "--project", "p:pull"], "update", []),
    ]
    for args, op, changed in steps:
        before = max_id(d)
        out = cli(d, *args, "--output", "json")
        if "refresh-secret" in args:
            secrets.remember(json.loads(out.stdout)["secret"])
        got = rows_after(d, before)
        assert len(got) == 1, (args, got)
        r = got[0]
        assert (r["operation"], r["resource_type"], r["resource"]) == (op, "robot", "robot$ci")
        assert r["username"] == ACTOR
        assert r["client_ip"] == "local"
        assert r["detail"] == {"changed": changed}, (args, r)

    before = max_id(d)
    manual = "Manual-Secret-1"
    secrets.remember(manual)
    cli(d, "robot", "refresh-secret", str(rid), "--secret-stdin", input=manual)
    assert ops(rows_after(d, before)) == [("refresh_secret", "robot", "robot$ci")]

    before = max_id(d)
    cli(d, "robot", "delete", str(rid))
    got = rows_after(d, before)
    assert ops(got) == [("delete", "robot", "robot$ci")]
    assert got[0]["username"] == ACTOR

    created = rows_after(d, mark)[0]
    assert ops([created]) == [("create", "robot", "robot$ci")]
    assert created["detail"]["level"] == "system"
    assert created["detail"]["expires_at"] == robot["expires_at"]
    assert created["op_time"] and created["id"] > mark


def test_a_refused_change_writes_nothing(d):
    robot = d.create_robot("ci")
    mark = max_id(d)
    p = cli(d, "robot", "update", str(robot["id"]), "--project", "nosuch:pull", check=False)
    assert p.returncode == 1
    p = cli(d, "robot", "create", "ci", "--project", "p:pull", check=False)
    assert p.returncode == 1
    assert rows_after(d, mark) == []


def test_robot_resources_carry_the_prefix_that_applies(d):
    cli(d, "config", "set", "robot_name_prefix", "bot-")
    mark = max_id(d)
    cli(d, "robot", "create", "sys", "--project", "p:pull")
    cli(d, "robot", "create", "prj", "--level", "project", "--project", "p:pull")
    legacy = cli_json(d, "robot", "create", "old", "--project", "p:pull")
    d.sql("UPDATE robots SET legacy = true WHERE id = %d" % legacy["id"])
    cli(d, "robot", "delete", str(legacy["id"]))
    assert ops(rows_after(d, mark)) == [
        ("create", "robot", "bot-sys"),
        ("create", "robot", "bot-p+prj"),
        ("create", "robot", "bot-old"),
        ("update", "robot", "robot$old"),   # the hand-made change, by the database role
        ("delete", "robot", "robot$old"),   # legacy robots keep robot$
    ]


def test_changes_made_outside_dockhand_name_the_database_role(d):
    robot = d.create_robot("ci")
    mark = max_id(d)
    d.sql("UPDATE robots SET description = 'by hand' WHERE id = %d" % robot["id"])
    got = rows_after(d, mark)
    assert ops(got) == [("update", "robot", "robot$ci")]
    assert got[0]["username"] == "db:postgres"
    assert got[0]["client_ip"] is None and got[0]["request_id"] is None


def test_project_create_and_delete(d):
    mark = max_id(d)
    cli(d, "project", "create", "q", "--public")
    cli(d, "robot", "create", "r", "--level", "project", "--project", "q:pull")
    cli(d, "robot", "create", "s", "--project", "q:pull,push", "--project", "p:pull")
    got = rows_after(d, mark)
    assert ops(got) == [("create", "project", "q"), ("create", "robot", "robot$q+r"),
                        ("create", "robot", "robot$s")]
    assert got[0]["detail"] == {"public": True}
    assert got[0]["username"] == ACTOR

    mark = max_id(d)
    cli(d, "project", "delete", "q")
    got = rows_after(d, mark)
    # The project robot goes with its project, in the same transaction; the system
    # robot only loses its permissions there (its update_time is untouched: no row).
    assert sorted(ops(got)) == [("delete", "project", "q"), ("delete", "robot", "robot$q+r")]
    assert len({r["op_time"] for r in got}) == 1
    assert all(r["username"] == ACTOR for r in got)


def test_settings_updates(d):
    mark = max_id(d)
    cli(d, "config", "set", "token_expiration", "45")
    cli(d, "config", "set", "token_expiration", "45")  # no change: no row
    cli(d, "config", "set", "robot_token_duration", "-1")
    got = rows_after(d, mark)
    assert ops(got) == [("update", "configuration", "token_expiration"),
                        ("update", "configuration", "robot_token_duration")]
    assert [r["detail"] for r in got] == [{"value": "45"}, {"value": "-1"}]
    assert all(r["username"] == ACTOR and r["client_ip"] == "local" for r in got)


def test_last_used_alone_writes_no_row_and_no_notification(d):
    robot = d.create_robot("ci")
    mark = max_id(d)
    out = d.sql("LISTEN dockhand; UPDATE robots SET last_used = now() WHERE id = %d; "
                "SELECT 'done'" % robot["id"])
    assert "Asynchronous notification" not in out, out
    assert rows_after(d, mark) == []
    assert d.sql("SELECT last_used IS NOT NULL FROM robots WHERE id = %d"
                 % robot["id"]).strip() == "t"
    # Anything else with it is a change: audited and announced.
    out = d.sql("LISTEN dockhand; UPDATE robots SET last_used = now(), description = 'x' "
                "WHERE id = %d; SELECT 'done'" % robot["id"])
    assert "robot:%d" % robot["id"] in out, out
    assert ops(rows_after(d, mark)) == [("update", "robot", "robot$ci")]


def test_no_secret_or_hash_reaches_the_audit_log(d):
    seen = []
    hashes = []

    def robot_hash(rid):
        hashes.append(d.sql("SELECT secret_hash FROM robots WHERE id = %d" % rid).strip())

    robot = d.create_robot("ci", description="has a secret")
    seen.append(robot["secret"])
    robot_hash(robot["id"])
    out = d.refresh_secret(robot["id"])
    seen.append(out["secret"])
    robot_hash(robot["id"])
    manual = "Manual-Secret-2"
    d.refresh_secret(robot["id"], secret=manual)
    seen.append(manual)
    robot_hash(robot["id"])
    cli(d, "robot", "disable", str(robot["id"]))
    cli(d, "robot", "update", str(robot["id"]), "--description", "still secret-free")

    cli(d, "admin", "create", "alice", "--password-stdin", input=GOOD_PASSWORD)
    seen.append(GOOD_PASSWORD)
    hashes.append(admin_row(d, "alice")["password_hash"])
    gen = cli_json(d, "admin", "passwd", "alice")["password"]
    secrets.remember(gen)
    seen.append(gen)
    hashes.append(admin_row(d, "alice")["password_hash"])
    cli(d, "robot", "delete", str(robot["id"]))
    cli(d, "admin", "delete", "alice")

    dump = d.sql("SELECT row_to_json(a) FROM audit_log a ORDER BY id")
    assert dump.count("\n") >= 9
    for s in seen:
        assert s not in dump
    for h in hashes:
        _, _, salt, digest = h.split("$")
        assert h not in dump and salt not in dump and digest not in dump
    assert "pbkdf2" not in dump
    # Nor in what the CLI shows.
    shown = json.dumps(audit_list(d, "--page-size", "100"))
    for s in seen + hashes:
        assert s not in shown


# ---- audit list ----------------------------------------------------------------------


def epoch(ts):
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?Z", ts)
    assert m, ts
    return calendar.timegm(tuple(int(x) for x in m.groups()[:6]) + (0, 0, 0))


def make_history(d):
    """A known history: returns the ids of the rows made, oldest first."""
    mark = max_id(d)
    cli(d, "project", "create", "alpha")
    cli(d, "project", "create", "beta", user="other")
    cli(d, "robot", "create", "build-one", "--project", "alpha:pull")
    cli(d, "robot", "create", "build-two", "--level", "project", "--project", "beta:pull",
        user="other")
    cli(d, "config", "set", "token_expiration", "50")
    cli(d, "project", "delete", "beta", user="other")
    return [r["id"] for r in rows_after(d, mark)]


def test_audit_list_json_model_and_order(d):
    make_history(d)
    out = audit_list(d, "--page-size", "100")
    assert set(out) == {"total", "page", "page_size", "items"}
    items = out["items"]
    assert out["total"] == len(items) == len(rows(d))
    for e in items:
        assert set(e) == {"id", "username", "resource", "resource_type", "operation",
                          "op_time", "client_ip", "request_id", "detail"}
        assert isinstance(e["id"], int)
        epoch(e["op_time"])
    keys = [(epoch(e["op_time"]), e["op_time"], e["id"]) for e in items]
    assert keys == sorted(keys, reverse=True), "not newest first"
    top = items[0]
    assert (top["operation"], top["resource_type"]) == ("delete", "robot") or \
        (top["operation"], top["resource_type"]) == ("delete", "project")
    cfg = [e for e in items if e["resource_type"] == "configuration"]
    assert cfg and cfg[0]["detail"] == {"value": "50"} and cfg[0]["client_ip"] == "local"


def test_audit_list_filters(d):
    make_history(d)

    def names(*args):
        return [(e["operation"], e["resource_type"], e["resource"], e["username"])
                for e in audit_list(d, "--page-size", "100", *args)["items"]]

    assert set(names("--operation", "delete")) == {
        ("delete", "project", "beta", "cli:other"),
        ("delete", "robot", "robot$beta+build-two", "cli:other")}
    assert {n[2] for n in names("--resource-type", "project")} == {"p", "alpha", "beta"}
    assert {n[2] for n in names("--resource", "build")} == {"robot$build-one",
                                                            "robot$beta+build-two"}
    assert {n[2] for n in names("--resource", "two")} == {"robot$beta+build-two"}
    assert {(n[0], n[2]) for n in names("--username", "cli:other")} == {
        ("create", "beta"), ("create", "robot$beta+build-two"), ("delete", "beta"),
        ("delete", "robot$beta+build-two")}
    assert names("--operation", "create", "--resource-type", "robot", "--username",
                 "cli:other") == [("create", "robot", "robot$beta+build-two", "cli:other")]
    assert names("--operation", "nothing-like-this") == []
    out = audit_list(d, "--operation", "nothing-like-this")
    assert out["total"] == 0 and out["items"] == []


def test_audit_list_time_range(d):
    ids = make_history(d)
    # Move three rows to known times.
    d.sql("UPDATE audit_log SET op_time = '2020-01-01T00:00:00Z' WHERE id = %d" % ids[0])
    d.sql("UPDATE audit_log SET op_time = '2020-01-01T00:00:59.900Z' WHERE id = %d" % ids[1])
    d.sql("UPDATE audit_log SET op_time = '2020-06-01T12:00:00Z' WHERE id = %d" % ids[2])

    def got(*args):
        return [e["id"] for e in audit_list(d, "--page-size", "100", *args)["items"]]

    assert got("--from", "2020-01-01T00:00:00Z", "--to", "2020-01-01T00:00:59Z") == [ids[1],
                                                                                     ids[0]]
    assert got("--from", "2020-01-01T00:00:01Z", "--to", "2020-12-31T00:00:00Z") == [ids[2],
                                                                                     ids[1]]
    # The same as Unix seconds, and with an offset.
    t0 = calendar.timegm((2020, 1, 1, 0, 0, 0))
    assert got("--from", str(t0), "--to", str(t0 + 59)) == [ids[1], ids[0]]
    assert got("--from", "2020-01-01T01:00:00+01:00", "--to", "2020-01-01T01:00:00.5+01:00") == [
        ids[0]]
    assert got("--to", "2020-12-31T23:59:59Z") == [ids[2], ids[1], ids[0]]
    # The API's forms too (one time grammar): no offset means UTC, a date its first second.
    assert got("--from", "2020-01-01 00:00:00", "--to", "2020-01-01T00:00:59") == [ids[1],
                                                                                   ids[0]]
    assert got("--from", "2020-01-02", "--to", "2020-12-31") == [ids[2]]
    newer = got("--from", "2021-01-01T00:00:00Z")
    assert set(newer).isdisjoint(ids[:3]) and len(newer) == len(rows(d)) - 3


def test_audit_list_paging(d):
    make_history(d)
    everything = audit_list(d, "--page-size", "100")
    total = everything["total"]
    assert total >= 7
    paged = []
    page = 1
    while True:
        out = audit_list(d, "--page", str(page), "--page-size", "2")
        assert out["total"] == total and out["page"] == page and out["page_size"] == 2
        if not out["items"]:
            break
        assert len(out["items"]) <= 2
        paged += out["items"]
        page += 1
    assert paged == everything["items"]
    assert page == (total + 1) // 2 + 1
    # The default page size is 20.
    assert audit_list(d)["page_size"] == 20


def test_audit_list_text(d):
    make_history(d)
    # A name a client sent can hold terminal escapes: shown as '?'.
    d.sql("INSERT INTO audit_log (username, operation, resource_type, resource) "
          "VALUES (E'evil\\x1b[31mname', 'login_failed', 'token', 'x')")
    out = cli(d, "audit", "list", "--page-size", "3").stdout
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["ID", "TIME", "USERNAME", "OPERATION"]
    assert len(lines) == 5, out
    assert "\x1b" not in out and "evil?[31mname" in out
    assert re.fullmatch(r"page 1 of \d+, \d+ records", lines[-1]), lines[-1]


@pytest.mark.parametrize("args", [
    ["audit"],
    ["audit", "show"],
    ["audit", "list", "extra"],
    ["audit", "list", "--bogus", "x"],
    ["audit", "list", "--operation"],
    ["audit", "list", "--from", "yesterday"],
    ["audit", "list", "--from", "2020-02-30T00:00:00Z"],
    ["audit", "list", "--to", "2020-01-01T00:00"],
    ["audit", "list", "--to", "2020-1-1"],
    ["audit", "list", "--to", "-5"],
    ["audit", "list", "--from", "2020-01-02T00:00:00Z", "--to", "2020-01-01T00:00:00Z"],
    ["audit", "list", "--page", "0"],
    ["audit", "list", "--page", "x"],
    ["audit", "list", "--page-size", "0"],
    ["audit", "list", "--page-size", "101"],
])
def test_audit_list_usage_errors(d, args):
    p = cli(d, *args, check=False)
    assert p.returncode == 2, p


# --- dockhand audit prune, dockhand permissions -----------------------------------------

def test_audit_prune_deletes_only_older_records_and_records_itself(d):
    cli(d, "project", "create", "prunea")
    d.sql("UPDATE audit_log SET op_time = now() - interval '100 days'")
    cli(d, "project", "create", "pruneb")
    recent = max_id(d)
    cutoff = calendar.timegm(__import__("time").gmtime()) - 50 * 86400
    out = cli_json(d, "audit", "prune", "--before", str(cutoff))
    old = int(d.sql("SELECT count(*) FROM audit_log WHERE op_time < now() - interval '99 days'"))
    assert old == 0
    assert out["deleted"] >= 1
    left = rows(d)
    assert any(r["resource"] == "pruneb" for r in left), left
    assert not any(r["resource"] == "prunea" for r in left), left
    prune = [r for r in left if r["operation"] == "prune"]
    assert len(prune) == 1 and prune[0]["id"] > recent
    assert prune[0]["username"] == ACTOR and prune[0]["detail"]["deleted"] == out["deleted"]


@pytest.mark.parametrize("bad", ["yesterday", "", "2026-13-01T00:00:00Z"])
def test_audit_prune_refuses_a_bad_time_and_deletes_nothing(d, bad):
    cli(d, "project", "create", "keepme")
    before = len(rows(d))
    r = cli(d, "audit", "prune", "--before", bad, check=False)
    assert r.returncode == 2, r
    assert len(rows(d)) == before


def test_permissions_lists_the_catalogue(d):
    out = cli_json(d, "permissions")
    project = {(p["resource"], p["action"]) for p in out["project"]}
    system = {(p["resource"], p["action"]) for p in out["system"]}
    seed = {("repository", "push"), ("repository", "pull"), ("artifact", "delete"),
            ("helm-chart", "read"), ("helm-chart-version", "create"),
            ("helm-chart-version", "delete"), ("tag", "create"), ("tag", "delete"),
            ("artifact-label", "create"), ("scan", "create")}
    assert seed <= project
    assert ("catalog", "read") in system and ("catalog", "read") not in project
    text = cli(d, "permissions").stdout
    assert "helm-chart-version" in text and "catalog" in text


def test_token_rows_stay_out_of_the_operation_and_type_indexes(d):
    """sql/006: token rows (nearly all of them) are found through the time index; the
    operation and resource-type indexes hold only the rare kinds, so each token row costs
    the writer two index entries fewer, and a filter by a rare kind still reads a small
    index."""
    def size(index):
        """Bytes of every partition's index (sql/008); an empty one is a page or two."""
        return int(d.sql("SELECT sum(pg_relation_size(relid)) FROM pg_partition_tree('%s')"
                         % index))

    empty = {i: size(i) for i in ("audit_log_operation", "audit_log_resource_type",
                                  "audit_log_time")}
    cli(d, "robot", "create", "ci", "--project", "p:pull")
    d.sql("INSERT INTO audit_log (operation, resource_type, resource, username)"
          " SELECT 'issue_token', 'token', 'robot$ci', 'robot$ci'"
          " FROM generate_series(1, 20000); ANALYZE audit_log")

    def plan(where):
        """The partitioned indexes (sql/008: each partition has its own) the plan reads."""
        out = json.loads(d.sql("EXPLAIN (FORMAT JSON) SELECT id FROM audit_log WHERE %s"
                               " ORDER BY op_time DESC, id DESC LIMIT 10" % where))
        names = set()

        def walk(node):
            if "Index Name" in node:
                names.add(node["Index Name"])
            for child in node.get("Plans", []):
                walk(child)

        walk(out[0]["Plan"])
        return {d.sql("SELECT pg_partition_root('%s'::regclass)" % n).strip() for n in names}

    assert "audit_log_operation" in plan("operation = 'create'")
    assert "audit_log_resource_type" in plan("resource_type = 'robot'")
    assert "audit_log_time" in plan("operation = 'issue_token'")
    assert "audit_log_time" in plan("resource_type = 'token'")

    def grown(index):
        return size(index) - empty[index]

    assert grown("audit_log_operation") * 20 < grown("audit_log_time")
    assert grown("audit_log_resource_type") * 20 < grown("audit_log_time")
    # the rows themselves are all there for every filter
    assert audit_list(d, "--operation", "issue_token")["total"] == 20000
    assert audit_list(d, "--resource-type", "robot")["total"] == 1
