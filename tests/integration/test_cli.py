"""The `dockhand` CLI for robots, projects and settings (README "Command line",
docs/design.md §4)."""

import calendar
import json
import os
import re
import stat
import subprocess
import time

import pytest

from helpers import realm
from helpers.api import keys_anywhere
from helpers.jwtutil import granted

EXPORT_KEYS = {"id", "name", "secret", "creation_time", "expires_at"}
DAY = 86400


def epoch(v):
    """creation_time as Unix seconds (RFC 3339 string or integer)."""
    if isinstance(v, int):
        return v
    m = re.match(r"^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]00:?00)?$", v)
    assert m, "creation_time %r is neither Unix seconds nor RFC 3339 UTC" % v
    return calendar.timegm(tuple(int(x) for x in m.groups()[:6]) + (0, 0, 0))


def check_generated_secret(s):
    assert re.fullmatch(r"[A-Za-z0-9]{32}", s), s
    assert re.search(r"[A-Z]", s) and re.search(r"[a-z]", s) and re.search(r"[0-9]", s), s


def row(d, robot_id):
    return json.loads(d.sql("SELECT row_to_json(r) FROM robots r WHERE id = %d" % int(robot_id)))


def can_pull(d, name, secret, repo="p/app"):
    r = d.token(auth=(name, secret), scopes=["repository:%s:pull" % repo])
    if r.status_code != 200:
        return False
    return granted(realm.token_ok(d, r, sub=name)[1], "repository", repo) == ["pull"]


def test_robot_create_output(dockhand):
    d = dockhand
    before = int(time.time())
    robot = d.create_robot("created")
    assert set(robot) == EXPORT_KEYS, robot
    assert robot["name"] == "robot$created"
    assert isinstance(robot["id"], int)
    check_generated_secret(robot["secret"])
    created = epoch(robot["creation_time"])
    assert before - 2 <= created <= time.time() + 2
    duration = int(d.config_get("robot_token_duration"))
    assert duration == 30  # the default
    assert abs(robot["expires_at"] - (created + duration * DAY)) <= 2, robot
    assert can_pull(d, robot["name"], robot["secret"])


def test_generated_secrets_are_strong_and_never_stored(dockhand):
    d = dockhand
    seen = set()
    salts = set()
    for i in range(12):
        robot = d.create_robot("many%d" % i)
        check_generated_secret(robot["secret"])
        seen.add(robot["secret"])
        stored = row(d, robot["id"])
        text = json.dumps(stored)
        assert robot["secret"] not in text
        hashes = [v for v in stored.values() if isinstance(v, str) and v.startswith("pbkdf2-")]
        assert len(hashes) == 1, stored
        m = re.fullmatch(r"pbkdf2-sha256\$(\d+)\$([^$]+)\$([0-9a-f]+)", hashes[0])
        assert m, hashes[0]
        assert int(m.group(1)) == 4096 and len(m.group(3)) == 32, hashes[0]
        salts.add(m.group(2))
    assert len(seen) == 12
    assert len(salts) == 12, "salts must be per robot"


def test_manual_secret_hash_uses_many_iterations(dockhand_factory):
    d = dockhand_factory(DOCKHAND_PASSWORD_ITERATIONS=None)  # the default, 600,000
    robot = d.create_robot("slowhash")
    d.refresh_secret(robot["id"], "Manual-Secret-42")
    stored = row(d, robot["id"])
    assert "Manual-Secret-42" not in json.dumps(stored)
    h = [v for v in stored.values() if isinstance(v, str) and v.startswith("pbkdf2-")][0]
    assert int(h.split("$")[1]) >= 600000, h
    assert can_pull(d, robot["name"], "Manual-Secret-42")


@pytest.mark.parametrize("days", [1, 7, 365])
def test_duration_days(dockhand, days):
    robot = dockhand.create_robot("dur%d" % days, duration=days)
    assert abs(robot["expires_at"] - (epoch(robot["creation_time"]) + days * DAY)) <= 2


def test_duration_never(dockhand):
    robot = dockhand.create_robot("never", duration=-1)
    assert robot["expires_at"] == -1
    assert can_pull(dockhand, robot["name"], robot["secret"])


@pytest.mark.parametrize("days", ["0", "-2", "-100"])
def test_bad_duration_rejected(dockhand, days):
    p = dockhand.cli("robot", "create", "baddur", "--project", "p:pull", "--duration", days,
                     check=False)
    assert p.returncode == 1, p
    assert p.stderr.strip()
    assert "baddur" not in dockhand.cli("robot", "list").stdout


def test_duration_not_a_number(dockhand):
    p = dockhand.cli("robot", "create", "nandur", "--project", "p:pull", "--duration", "ten",
                     check=False)
    assert p.returncode in (1, 2), p


def test_default_duration_from_setting(dockhand_factory):
    d = dockhand_factory()
    d.config_set("robot_token_duration", 10)
    assert int(d.config_get("robot_token_duration")) == 10
    robot = d.create_robot("tenday")
    assert abs(robot["expires_at"] - (epoch(robot["creation_time"]) + 10 * DAY)) <= 2


def test_project_robots(dockhand):
    d = dockhand
    d.create_project("alpha")
    d.create_project("beta")
    a = d.create_robot("ci", projects={"alpha": ["pull", "push"]}, level="project")
    assert a["name"] == "robot$alpha+ci"
    b = d.create_robot("ci", projects={"beta": ["pull"]}, level="project")
    assert b["name"] == "robot$beta+ci" and b["id"] != a["id"]
    r = d.token(auth=(a["name"], a["secret"]),
                scopes=["repository:alpha/app:pull,push", "repository:beta/app:pull"])
    _, claims = realm.token_ok(d, r, sub="robot$alpha+ci")
    assert granted(claims, "repository", "alpha/app") == ["pull", "push"]
    assert granted(claims, "repository", "beta/app") == []
    # without the project part, or with the wrong one, no login
    realm.unauthorized(d, d.token(auth=("robot$ci", a["secret"])))
    realm.unauthorized(d, d.token(auth=("robot$beta+ci", a["secret"])))


@pytest.mark.parametrize("args", [
    ["--level", "project"],
    ["--level", "project", "--project", "alpha:pull", "--project", "beta:pull"],
    ["--level", "project", "--all-projects", "pull"],
    ["--level", "project", "--project", "alpha:pull", "--catalog"],
    ["--level", "galaxy", "--project", "alpha:pull"],
], ids=["no-project", "two-projects", "all-projects", "catalog", "bad-level"])
def test_project_robot_rules(dockhand, args):
    d = dockhand
    for p in ("alpha", "beta"):
        d.cli("project", "create", p, check=False)
    p = d.cli("robot", "create", "rulebreaker", *args, check=False)
    assert p.returncode in (1, 2), p
    assert p.stderr.strip()
    assert "rulebreaker" not in d.cli("robot", "list").stdout


@pytest.mark.parametrize("perm", ["p:fly", "p:pull,fly", "nosuchproject:pull", "p:", ":pull",
                                  "p:repository/fly", "p:catalog/read"])
def test_bad_permissions_rejected(dockhand, perm):
    p = dockhand.cli("robot", "create", "badperm", "--project", perm, check=False)
    assert p.returncode in (1, 2), p
    assert p.stderr.strip()


def test_seed_permissions_accepted(dockhand):
    robot = dockhand.create_robot("seed", projects={"p": [
        "pull", "push", "delete", "repository/delete", "tag/create", "tag/delete",
        "helm-chart/read", "helm-chart-version/create", "helm-chart-version/delete",
        "artifact-label/create", "scan/create"]})
    shown = dockhand.cli("robot", "show", str(robot["id"])).stdout
    for word in ("tag", "helm-chart", "scan", "artifact-label"):
        assert word in shown, shown


def test_duplicate_robot_rejected(dockhand):
    dockhand.create_robot("twice")
    p = dockhand.cli("robot", "create", "twice", "--project", "p:pull", check=False)
    assert p.returncode == 1, p
    assert p.stderr.strip()


def test_list_show_search(dockhand):
    d = dockhand
    builder = d.create_robot("builder", description="builds things")
    d.create_robot("deployer")
    for args in (["robot", "list"], ["robot", "list", "--output", "json"],
                 ["robot", "show", str(builder["id"])],
                 ["robot", "show", str(builder["id"]), "--output", "json"]):
        out = d.cli(*args).stdout
        assert "builder" in out, (args, out)
        assert builder["secret"] not in out
        if "json" in args:
            assert "secret" not in set(keys_anywhere(json.loads(out))), out
    assert "builds things" in d.cli("robot", "show", str(builder["id"])).stdout
    found = d.cli("robot", "list", "--search", "uild").stdout
    assert "builder" in found and "deployer" not in found
    found = d.cli("robot", "list", "--search", "robot$").stdout
    assert "builder" not in found and "deployer" not in found  # the prefix is not stored
    p = d.cli("robot", "show", "999999", check=False)
    assert p.returncode == 1, p


def test_update(dockhand):
    d = dockhand
    robot = d.create_robot("changing", description="before")
    d.cli("robot", "update", str(robot["id"]), "--description", "after")
    assert "after" in d.cli("robot", "show", str(robot["id"])).stdout
    d.cli("robot", "update", str(robot["id"]), "--duration", "-1")
    assert int(d.sql("SELECT expires_at FROM robots WHERE id = %d" % robot["id"])) == -1
    assert can_pull(d, robot["name"], robot["secret"])
    p = d.cli("robot", "update", str(robot["id"]), "--duration", "0", check=False)
    assert p.returncode == 1, p
    p = d.cli("robot", "update", "999999", "--description", "x", check=False)
    assert p.returncode == 1, p


def test_disable_enable_delete(dockhand):
    d = dockhand
    robot = d.create_robot("lifecycle")
    rid = str(robot["id"])
    d.cli("robot", "disable", rid)
    assert not can_pull(d, robot["name"], robot["secret"])
    d.cli("robot", "enable", rid)
    assert can_pull(d, robot["name"], robot["secret"])
    d.cli("robot", "delete", rid)
    assert not can_pull(d, robot["name"], robot["secret"])
    for cmd in ("show", "delete", "disable", "enable", "refresh-secret"):
        p = d.cli("robot", cmd, rid, check=False)
        assert p.returncode == 1, (cmd, p)


def test_export_files(dockhand, tmp_path):
    d = dockhand
    path = tmp_path / "robot.json"
    robot = d.create_robot("exported", export=str(path))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    data = json.loads(path.read_text())
    assert set(data) == EXPORT_KEYS and data == robot
    # mode 0600 whatever the umask
    path2 = tmp_path / "refreshed.json"
    p = d.cli("robot", "refresh-secret", str(robot["id"]), "--export", str(path2),
              "--output", "json", umask=0)
    out = json.loads(p.stdout)
    assert stat.S_IMODE(os.stat(path2).st_mode) == 0o600
    data2 = json.loads(path2.read_text())
    assert set(data2) == EXPORT_KEYS and data2 == out
    assert data2["id"] == robot["id"] and data2["name"] == robot["name"]
    assert data2["secret"] != robot["secret"]
    from helpers import secrets
    secrets.remember(data2["secret"], data2["name"])
    assert can_pull(d, robot["name"], data2["secret"])
    path3 = tmp_path / "umask.json"
    p = d.cli("robot", "create", "exported2", "--project", "p:pull", "--export", str(path3),
              "--output", "json", umask=0)
    secrets.remember(json.loads(p.stdout)["secret"])
    assert stat.S_IMODE(os.stat(path3).st_mode) == 0o600
    p = d.cli("robot", "create", "exported3", "--project", "p:pull", "--export",
              str(tmp_path / "no" / "such" / "dir.json"), check=False)
    assert p.returncode == 1, p


def test_refresh_secret_random(dockhand):
    d = dockhand
    robot = d.create_robot("refreshed")
    out = d.refresh_secret(robot["id"])
    assert set(out) == EXPORT_KEYS, out
    assert out["id"] == robot["id"] and out["name"] == robot["name"]
    check_generated_secret(out["secret"])
    assert out["secret"] != robot["secret"]
    assert not can_pull(d, robot["name"], robot["secret"])
    assert can_pull(d, robot["name"], out["secret"])


@pytest.mark.parametrize("bad", ["Short1A", "alllowercase123", "ALLUPPERCASE123",
                                 "NoDigitsAtAllHere", "A1" + "b" * 127, "Has\x00Nul123",
                                 ""], ids=["short", "lower", "upper", "nodigit", "long", "nul",
                                           "empty"])
def test_refresh_secret_policy(dockhand, bad):
    d = dockhand
    robot = d.create_robot("policy")
    try:
        p = subprocess.run([d.bin, "robot", "refresh-secret", str(robot["id"]), "--secret-stdin"],
                           input=bad.encode(), capture_output=True, timeout=60,
                           env=dict(d._full_env()))
        assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
        assert p.stderr.strip()
        if len(bad) >= 4:
            assert bad.encode() not in p.stdout + p.stderr, "the secret was echoed"
        assert can_pull(d, robot["name"], robot["secret"])
    finally:
        d.cli("robot", "delete", str(robot["id"]))


def test_refresh_secret_manual_is_not_echoed(dockhand):
    d = dockhand
    robot = d.create_robot("manualecho")
    manual = "Quiet-Secret-77"
    p = d.cli("robot", "refresh-secret", str(robot["id"]), "--secret-stdin", input=manual)
    assert manual not in p.stderr
    assert can_pull(d, robot["name"], manual)
    assert not can_pull(d, robot["name"], robot["secret"])


def test_projects(dockhand):
    d = dockhand
    d.create_project("listed")
    d.create_project("open", public=True)
    out = d.cli("project", "list").stdout
    assert "listed" in out and "open" in out
    js = json.dumps(d.cli_json("project", "list"))
    assert "listed" in js and "open" in js
    p = d.cli("project", "create", "listed", check=False)
    assert p.returncode == 1, p
    p = d.cli("project", "delete", "nosuchproject", check=False)
    assert p.returncode == 1, p
    r = d.token(scopes=["repository:open/app:pull", "repository:listed/app:pull"])
    _, claims = realm.token_ok(d, r, sub="")
    assert granted(claims, "repository", "open/app") == ["pull"]
    assert granted(claims, "repository", "listed/app") == []


def test_project_delete_removes_its_robots(dockhand):
    d = dockhand
    d.create_project("temp")
    robot = d.create_robot("worker", projects={"temp": ["pull"]}, level="project")
    assert can_pull(d, robot["name"], robot["secret"], "temp/app")
    d.cli("project", "delete", "temp")
    realm.unauthorized(d, d.token(auth=(robot["name"], robot["secret"])))
    p = d.cli("robot", "show", str(robot["id"]), check=False)
    assert p.returncode == 1, p
    assert "temp" not in d.cli("project", "list").stdout


def test_config(dockhand_factory):
    d = dockhand_factory()
    out = d.cli("config", "get").stdout
    for key in ("robot_token_duration", "robot_name_prefix", "token_expiration"):
        assert key in out, out
    assert d.config_get("robot_name_prefix") == "robot$"
    for key, value in (("robot_name_prefix", ""), ("robot_name_prefix", "a b"),
                       ("robot_name_prefix", "a:b"), ("robot_name_prefix", "x" * 65),
                       ("robot_name_prefix", "tab\t"),
                       ("robot_token_duration", "0"), ("robot_token_duration", "abc"),
                       ("robot_token_duration", "-5"), ("token_expiration", "0")):
        p = d.cli("config", "set", key, value, check=False)
        assert p.returncode == 1, (key, value, p)
        assert p.stderr.strip()
    assert d.config_get("robot_name_prefix") == "robot$"
    p = d.cli("config", "set", "no_such_setting", "1", check=False)
    assert p.returncode in (1, 2), p
    p = d.cli("config", "get", "no_such_setting", check=False)
    assert p.returncode in (1, 2), p
    d.config_set("robot_name_prefix", "svc_")
    assert d.config_get("robot_name_prefix") == "svc_"
    assert d.create_robot("named")["name"] == "svc_named"


@pytest.mark.parametrize("args", [[], ["robot"], ["robot", "create"], ["frobnicate"],
                                  ["robot", "create", "x", "--no-such-flag"],
                                  ["config", "set", "token_expiration"]],
                         ids=["nothing", "robot", "create-no-name", "unknown-command",
                              "unknown-flag", "set-no-value"])
def test_usage_errors_exit_2(dockhand, args):
    p = dockhand.cli(*args, check=False)
    assert p.returncode == 2, p
    assert p.stderr.strip()


def test_database_never_holds_a_secret(dockhand):
    """pg_dump of the whole database: no secret created in this module appears."""
    from helpers import secrets
    d = dockhand
    dump = subprocess.run([os.path.join(d.pg.bindir, "pg_dump"), "-h", d.pg.sockdir,
                           "-p", str(d.pg.port), "-U", "postgres", "-d", d.db],
                          capture_output=True, text=True, timeout=120)
    assert dump.returncode == 0, dump.stderr
    assert "pbkdf2-sha256$" in dump.stdout
    leaked = [s for s in secrets.all_secrets() if s in dump.stdout]
    assert not leaked, "secrets stored in the database"
