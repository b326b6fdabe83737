"""`dockhand robot import` of robots exported from a real Harbor database (README
"Importing robots from Harbor", docs/design.md §4).

A Harbor database is built in the test cluster from Harbor's own migration files (the
project's shared folder, reference/harbor-schema), filled the way Harbor stores robots,
exported with the README's own query (run through bash exactly as written there) and
imported. The robots then log in at the token realm with their Harbor secrets."""

import glob
import hashlib
import json
import os
import random
import re
import string
import subprocess
import time
import uuid
from types import SimpleNamespace

import pytest

from helpers import dockhand as dh
from helpers import pg as pgmod
from helpers import realm, secrets
from helpers.jwtutil import granted

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
README = os.path.join(ROOT, "README.md")
MAX_BYTES = 64 * 1024 * 1024  # HARBOR_IMPORT_MAX_BYTES (harbor.h)
DAY = 86400
ALL_ACTIONS = "pull,push,delete"


# -- Harbor's schema ----------------------------------------------------------------

def harbor_schema_dir():
    """reference/harbor-schema of the project's shared folder: $DOCKHAND_SHARED_DIR, or
    `shared` beside the repository (where CI puts it)."""
    tried = []
    for base in (os.environ.get("DOCKHAND_SHARED_DIR"), os.path.join(ROOT, "..", "shared")):
        if not base:
            continue
        d = os.path.realpath(os.path.join(base, "reference", "harbor-schema"))
        tried.append(d)
        if glob.glob(os.path.join(d, "0*.up.sql")):
            return d
    pytest.fail("Harbor's migration files (reference/harbor-schema/0*.up.sql of the project's "
                "shared folder) not found; looked in: %s. Set DOCKHAND_SHARED_DIR to the shared "
                "folder." % ", ".join(tried), pytrace=False)


def lit(v):
    """An SQL literal for the values these tests make (no user input)."""
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


def random_alnum(n=32):
    """Like Harbor's utils.GenerateRandomString: letters and digits, with each class."""
    rnd = random.SystemRandom()
    while True:
        s = "".join(rnd.choice(string.ascii_letters + string.digits) for _ in range(n))
        if re.search("[A-Z]", s) and re.search("[a-z]", s) and re.search("[0-9]", s):
            return s


def harbor_hash(secret, salt):
    """Harbor's utils.Encrypt(secret, salt, "sha256")."""
    return hashlib.pbkdf2_hmac("sha256", secret.encode(), (salt or "").encode(), 4096, 16).hex()


class Harbor:
    """A Harbor database in the test cluster, migrated with Harbor's own files."""

    def __init__(self, pg):
        self.pg = pg
        self.db = pg.createdb("harbor_%s" % uuid.uuid4().hex[:10])
        schema = harbor_schema_dir()
        # As reference/harbor-schema/README.md says: Harbor's migrator makes its
        # bookkeeping table before 0030.
        self.sql("create table schema_migrations(version bigint primary key, "
                 "dirty boolean not null)")
        self.sql("insert into schema_migrations values (15, false)")
        for f in sorted(glob.glob(os.path.join(schema, "0*.up.sql"))):
            p = subprocess.run([pg._bin("psql"), "-X", "-h", pg.sockdir, "-p", str(pg.port),
                                "-U", "postgres", "-d", self.db, "-v", "ON_ERROR_STOP=1", "-q",
                                "-f", f], stdin=subprocess.DEVNULL, capture_output=True,
                               text=True, timeout=120)
            assert p.returncode == 0, "%s does not apply: %s" % (os.path.basename(f), p.stderr)

    def sql(self, statement):
        return self.pg.psql(self.db, statement).strip()

    def project(self, name, public=None, deleted=False):
        pid = int(self.sql("INSERT INTO project (owner_id, name) VALUES (1, %s) "
                           "RETURNING project_id" % lit(name)))
        if public is not None:
            self.sql("INSERT INTO project_metadata (project_id, name, value) VALUES (%d, 'public', "
                     "%s)" % (pid, lit("true" if public else "false")))
        if deleted:
            # What Harbor does on deletion: the row stays, marked and renamed.
            self.sql("UPDATE project SET deleted = true, name = name || '#' || project_id "
                     "WHERE project_id = %d" % pid)
        return pid

    def robot(self, name, project_id=0, secret=None, salt=None, duration=None, expiresat=-1,
              disabled=False, visible=True, created=None, description=None):
        """One row of Harbor's robot table; secret is the plaintext (hashed here as Harbor
        does) or None. created: Unix seconds, stored as Harbor's UTC timestamp."""
        created = int(time.time()) if created is None else created
        hashed = harbor_hash(secret, salt) if secret is not None else None
        return int(self.sql(
            "INSERT INTO robot (name, description, project_id, expiresat, disabled, visible, "
            "secret, salt, duration, creation_time, update_time) VALUES (%s, %s, %d, %s, %s, %s, "
            "%s, %s, %s, to_timestamp(%d) AT TIME ZONE 'UTC', to_timestamp(%d) AT TIME ZONE "
            "'UTC') RETURNING id"
            % (lit(name), lit(description), project_id, lit(expiresat), lit(disabled),
               lit(visible), lit(hashed), lit(salt), lit(duration), created, created)))

    def grant(self, robot_id, scope, resource, action, effect="allow"):
        """A permission the way Harbor's robot controller stores it: a shared
        permission_policy row and the robot's role_permission row pointing at it."""
        self.sql("INSERT INTO permission_policy (scope, resource, action, effect) VALUES "
                 "(%s, %s, %s, %s) ON CONFLICT DO NOTHING"
                 % (lit(scope), lit(resource), lit(action), lit(effect)))
        self.sql("INSERT INTO role_permission (role_type, role_id, permission_policy_id) SELECT "
                 "'robotaccount', %d, id FROM permission_policy WHERE scope = %s AND resource = "
                 "%s AND action = %s AND effect = %s"
                 % (robot_id, lit(scope), lit(resource), lit(action), lit(effect)))


def readme_export_command():
    """The export command exactly as the README's "Importing robots from Harbor" shows it."""
    text = open(README, encoding="utf-8").read()
    assert "## Importing robots from Harbor" in text, "the README lost its Harbor section"
    section = text.split("## Importing robots from Harbor", 1)[1].split("\n## ", 1)[0]
    m = re.search(r'^psql -X -At -c "\n.*?\n" > robots\.json$', section, re.S | re.M)
    assert m, "no `psql -X -At -c \"...\" > robots.json` block in the README's Harbor section"
    return m.group(0)


def export(h, workdir):
    """Runs the README's command (bash, psql from the cluster) against Harbor's database;
    returns the path of robots.json."""
    os.makedirs(workdir, exist_ok=True)
    env = dict(os.environ, PATH=h.pg.bindir + os.pathsep + os.environ.get("PATH", ""),
               PGHOST=h.pg.sockdir, PGPORT=str(h.pg.port), PGUSER="postgres", PGDATABASE=h.db)
    p = subprocess.run(["bash", "-e", "-c", readme_export_command()], cwd=workdir, env=env,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and not p.stderr, "the README's export failed: %s" % p.stderr
    return os.path.join(workdir, "robots.json")


# -- the Harbor installation of these tests -------------------------------------------

@pytest.fixture(scope="module")
def harbor(pg, tmp_path_factory):
    h = Harbor(pg)
    now = int(time.time())
    pid = dict(alpha=h.project("alpha", public=False), beta=h.project("beta", public=True),
               gamma=h.project("gamma"), gone=h.project("gone", deleted=True))
    scope = {k: "/project/%d" % v for k, v in pid.items()}
    robots = {}

    def robot(key, login, **kw):
        secret = random_alnum() if kw.pop("has_secret", True) else None
        if "salt" not in kw:
            kw["salt"] = random_alnum()
        rid = h.robot(secret=secret, **kw)
        robots[key] = SimpleNamespace(id=rid, login=login, secret=secret, salt=kw["salt"],
                                      name=kw["name"])
        if secret:
            secrets.remember(secret, login)
        return rid

    # A system robot over two projects with different permissions, some of which dockhand
    # does not grant, one on a project Harbor has deleted since, and a denied pair.
    r = robot("sys", "robot$sysbot", name="sysbot", duration=-1, expiresat=-1,
              description="CI: builds\r\nand pushes")
    for res, act in [("repository", "pull"), ("repository", "push"), ("artifact", "read"),
                     ("repository", "list"), ("artifact", "delete")]:
        h.grant(r, scope["alpha"], res, act)
    h.grant(r, scope["alpha"], "artifact", "delete", effect="deny")
    for res, act in [("repository", "pull"), ("artifact", "delete"), ("tag", "list")]:
        h.grant(r, scope["beta"], res, act)
    h.grant(r, "/system", "catalog", "read")
    h.grant(r, "/system", "audit-log", "list")
    h.grant(r, scope["gone"], "repository", "pull")
    # Cover all projects (namespace "*").
    # 1,024 characters are 2,048 bytes here: dockhand keeps 1,024 bytes of them.
    r = robot("all", "robot$coverall", name="coverall", duration=30, expiresat=now + 30 * DAY,
              created=now, description="\u00e9" * 1024)
    for res, act in [("repository", "pull"), ("repository", "push"), ("tag", "create"),
                     ("artifact", "list")]:
        h.grant(r, "/project/*", res, act)
    # A project robot: stored as <project>+<name> by Harbor 2.2+.
    r = robot("proj", "robot$gamma+deployer", name="gamma+deployer", project_id=pid["gamma"],
              duration=10, expiresat=now + 10 * DAY, created=now)
    for res, act in [("repository", "pull"), ("artifact", "delete"), ("scan", "create"),
                     ("artifact", "read")]:
        h.grant(r, scope["gamma"], res, act)
    # Disabled.
    r = robot("off", "robot$alpha+off", name="alpha+off", project_id=pid["alpha"],
              disabled=True)
    h.grant(r, scope["alpha"], "repository", "pull")
    # Expired yesterday.
    r = robot("old", "robot$old", name="old", duration=1, expiresat=now - DAY,
              created=now - 2 * DAY)
    h.grant(r, scope["alpha"], "repository", "pull")
    # Legacy, as Harbor 2.1 left it and 2.2+ kept it: "robot$" in the stored name, a
    # project id, no secret, salt or duration (its token was a JWT holding its access).
    robot("relic", "robot$relic", name="robot$relic", project_id=pid["alpha"],
          has_secret=False, salt=None, duration=None, expiresat=now + 365 * DAY,
          created=now - 900 * DAY)
    # Legacy, then given a secret by Harbor 2.2+ (RefreshSec hashes it with the robot's
    # salt, which the 2.2 migration left NULL, and writes duration 0), then given
    # permissions in Harbor 2.2+'s editor.
    r = robot("vet", "robot$veteran", name="robot$veteran", project_id=pid["beta"], salt=None,
              duration=0, expiresat=now + 300 * DAY, created=now - 800 * DAY)
    h.grant(r, scope["beta"], "repository", "pull")
    h.grant(r, scope["beta"], "repository", "push")
    # Harbor's own scan-job robot: invisible, not exported.
    robot("scanner", "robot$library+scanner", name="library+scanner-trivy-0042",
          project_id=1, visible=False, duration=-1, expiresat=-1)

    path = export(h, str(tmp_path_factory.mktemp("harbor-export")))
    with open(path) as f:
        doc = json.load(f)
    return SimpleNamespace(h=h, robots=robots, pid=pid, now=now, path=path, doc=doc,
                           text=open(path).read())


def new_dockhand(factory):
    """A fresh dockhand; "alpha" exists in it already (private), as in Harbor."""
    d = factory()
    d.create_project("alpha")
    return d


def do_import(d, path, check=True, input=None):
    p = d.cli("robot", "import", path, "--output", "json", check=check, input=input)
    return json.loads(p.stdout) if p.returncode == 0 else p


def snapshot(d):
    """Everything an import may write, as text."""
    out = {}
    for table in ("projects", "robots", "robot_permissions"):
        out[table] = d.sql("SELECT coalesce(json_agg(t ORDER BY t.id), '[]') FROM %s t" % table)
    if d.sql("SELECT to_regclass('audit_log') IS NOT NULL").strip() == "t":
        out["audit_log"] = d.sql("SELECT count(*) FROM audit_log")
    return out


def veteran_imported(report):
    row = [r for r in report["robots"] if r["harbor_name"] == "robot$veteran"]
    assert len(row) == 1, report["robots"]
    # Its hash has an empty salt (Harbor 2.2+ refreshed it): it must import all the same.
    assert row[0]["status"] in ("created", "unchanged"), row[0]
    return True


def ask(d, robot, *scopes, login=None):
    """The claims of a GET token for robot (its Harbor secret) asking scopes."""
    name = login or robot.login
    r = d.token(scopes=list(scopes), auth=(name, robot.secret))
    return realm.token_ok(d, r, sub=name)[1]


def refused(d, login, secret):
    realm.unauthorized(d, d.token(scopes=["repository:alpha/app:pull"], auth=(login, secret)))


# -- the export ------------------------------------------------------------------------

def test_export_is_one_document_of_visible_robots(harbor):
    rows = harbor.doc["harbor_robots"]
    names = [r["name"] for r in rows]
    assert names == ["sysbot", "coverall", "gamma+deployer", "alpha+off", "old", "robot$relic",
                     "robot$veteran"], names
    sysbot = rows[0]
    assert set(sysbot) == {"id", "name", "description", "level", "project_name",
                           "project_public", "secret", "salt", "duration", "expiresat",
                           "disabled", "creation_time", "permissions"}
    assert sysbot["level"] == "system" and sysbot["project_name"] is None
    perms = {(p["kind"], p["namespace"]): sorted((a["resource"], a["action"]) for a in p["access"])
             for p in sysbot["permissions"]}
    assert perms == {
        # artifact:delete is both allowed and denied: denied wins, as in Harbor.
        ("project", "alpha"): [("artifact", "read"), ("repository", "list"),
                               ("repository", "pull"), ("repository", "push")],
        ("project", "beta"): [("artifact", "delete"), ("repository", "pull"), ("tag", "list")],
        ("system", "/"): [("audit-log", "list"), ("catalog", "read")],
        ("project", None): [("repository", "pull")],  # the deleted project
    }, perms
    public = {p["namespace"]: p["public"] for p in sysbot["permissions"]}
    assert public["beta"] is True and public["alpha"] is False, public
    relic = rows[5]
    assert relic["level"] == "project" and relic["project_name"] == "alpha"
    assert relic["secret"] is None and relic["salt"] is None and relic["permissions"] == []
    assert rows[4]["creation_time"] == harbor.now - 2 * DAY


# -- the import ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def imported(harbor, dockhand_factory):
    d = new_dockhand(dockhand_factory)
    report = do_import(d, harbor.path)
    yield SimpleNamespace(d=d, report=report, vet=veteran_imported(report))
    d.stop()


def test_import_report(harbor, imported):
    rep, vet = imported.report, imported.vet
    assert rep["robots_created"] == 5 + vet, rep
    assert rep["robots_unchanged"] == 0 and rep["robots_skipped"] == 2 - vet, rep
    assert rep["projects_created"] == 2, rep  # beta, gamma; alpha existed
    assert rep["skipped_permissions"] == {"artifact:read": 2, "repository:list": 1,
                                          "tag:list": 1, "audit-log:list": 1,
                                          "artifact:list": 1}, rep
    assert rep["permissions_on_missing_projects"] == 1, rep
    assert rep["permissions_skipped"] == 7, rep
    status = {r["harbor_name"]: (r["name"], r["status"], r["legacy"]) for r in rep["robots"]}
    assert status["sysbot"] == ("robot$sysbot", "created", False)
    assert status["gamma+deployer"] == ("robot$gamma+deployer", "created", False)
    assert status["robot$relic"] == ("robot$relic", "skipped", True)
    relic = [r for r in rep["robots"] if r["harbor_name"] == "robot$relic"][0]
    assert "never given a secret" in relic["reason"], relic
    text = json.dumps(rep)
    for r in harbor.robots.values():
        if r.secret:
            assert harbor_hash(r.secret, r.salt) not in text
        if r.salt:
            assert r.salt not in text


def test_rows_keep_harbor_hashes_and_fields(harbor, imported):
    d, rb = imported.d, harbor.robots
    rows = {r["name"]: r for r in json.loads(d.sql(
        "SELECT json_agg(json_build_object('name', r.name, 'level', r.level, 'project',"
        " p.name, 'hash', r.secret_hash, 'disabled', r.disabled, 'legacy', r.legacy,"
        " 'duration', r.duration, 'expires_at', r.expires_at, 'description', r.description,"
        " 'created', extract(epoch FROM r.creation_time)::bigint))"
        " FROM robots r LEFT JOIN projects p ON p.id = r.project_id"))}
    expected_names = {"sysbot", "coverall", "gamma+deployer", "alpha+off", "old"}
    if imported.vet:
        expected_names.add("veteran")
    assert set(rows) == expected_names, sorted(rows)
    for key in ("sys", "all", "proj", "off", "old"):
        r = rb[key]
        assert rows[r.name]["hash"] == "pbkdf2-sha256$4096$%s$%s" % (
            r.salt, harbor_hash(r.secret, r.salt)), r.name
        assert rows[r.name]["legacy"] is False
    assert rows["sysbot"]["level"] == "system" and rows["sysbot"]["project"] is None
    assert rows["sysbot"]["description"] == "CI: builds\r\nand pushes"
    assert rows["sysbot"]["duration"] == -1 and rows["sysbot"]["expires_at"] == -1
    assert rows["coverall"]["description"] == "\u00e9" * 512
    assert rows["gamma+deployer"]["level"] == "project"
    assert rows["gamma+deployer"]["project"] == "gamma"
    assert rows["gamma+deployer"]["duration"] == 10
    assert rows["gamma+deployer"]["expires_at"] == harbor.now + 10 * DAY
    assert rows["gamma+deployer"]["created"] == harbor.now
    assert rows["alpha+off"]["disabled"] is True
    assert rows["old"]["expires_at"] == harbor.now - DAY and rows["old"]["duration"] == 1
    if imported.vet:
        v = rows["veteran"]
        assert v["legacy"] is True and v["level"] == "system" and v["project"] is None
        assert v["hash"] == "pbkdf2-sha256$4096$$%s" % harbor_hash(rb["vet"].secret, "")
        assert v["expires_at"] == harbor.now + 300 * DAY
        # No duration in Harbor: the whole days from creation to expiry.
        assert v["duration"] == 1100 and v["created"] == harbor.now - 800 * DAY
    projects = dict(line.split("|") for line in d.sql(
        "SELECT name, public FROM projects ORDER BY name").splitlines())
    assert projects == {"p": "f", "alpha": "f", "beta": "t", "gamma": "f"}, projects


def test_robots_log_in_with_their_harbor_secrets(harbor, imported):
    d, rb = imported.d, harbor.robots
    scopes = ["repository:%s/app:%s" % (p, ALL_ACTIONS) for p in ("alpha", "beta", "gamma")]

    c = ask(d, rb["sys"], *scopes, "registry:catalog:*")
    assert granted(c, "repository", "alpha/app") == ["pull", "push"]  # delete was denied
    assert granted(c, "repository", "beta/app") == ["delete", "pull"]
    assert granted(c, "repository", "gamma/app") == []
    assert granted(c, "registry", "catalog") == ["*"]

    c = ask(d, rb["all"], *scopes, "registry:catalog:*")
    for p in ("alpha", "beta", "gamma"):
        assert granted(c, "repository", "%s/app" % p) == ["pull", "push"], p
    assert granted(c, "registry", "catalog") == []
    d.create_project("later")  # "*" covers projects made after the import too
    c = ask(d, rb["all"], "repository:later/app:%s" % ALL_ACTIONS)
    assert granted(c, "repository", "later/app") == ["pull", "push"]

    c = ask(d, rb["proj"], *scopes, "repository:p/app:pull")
    assert granted(c, "repository", "gamma/app") == ["delete", "pull"]
    assert granted(c, "repository", "alpha/app") == []
    assert granted(c, "repository", "beta/app") == ["pull"]  # beta is public
    assert granted(c, "repository", "p/app") == []

    refused(d, rb["off"].login, rb["off"].secret)  # disabled
    refused(d, rb["old"].login, rb["old"].secret)  # expired
    refused(d, rb["sys"].login, rb["all"].secret)  # another robot's secret
    refused(d, rb["relic"].login, "anything-at-all-1A")  # skipped: not there
    if imported.vet:
        c = ask(d, rb["vet"], *scopes)
        assert granted(c, "repository", "beta/app") == ["pull", "push"]
        assert granted(c, "repository", "alpha/app") == []


def test_import_summary_in_text(harbor, imported):
    """The text report names every robot; a second run finds them all unchanged."""
    p = imported.d.cli("robot", "import", harbor.path)
    out = p.stdout
    assert "0 robots created, %d unchanged" % (5 + imported.vet) in out, out
    assert "unchanged robot$sysbot" in re.sub(r" +", " ", out), out
    assert "skipped robot$relic (legacy): created by Harbor 2.1 or older" in re.sub(
        r" +", " ", out), out


# -- the prefix, legacy robots -----------------------------------------------------------

def test_prefix_change_renames_all_but_legacy_robots(harbor, dockhand_factory):
    d = new_dockhand(dockhand_factory)
    report = do_import(d, harbor.path)
    rb = harbor.robots
    d.config_set("robot_name_prefix", "bot-")
    c = ask(d, rb["sys"], "repository:alpha/app:pull", login="bot-sysbot")
    assert granted(c, "repository", "alpha/app") == ["pull"]
    c = ask(d, rb["proj"], "repository:gamma/app:pull", login="bot-gamma+deployer")
    assert granted(c, "repository", "gamma/app") == ["pull"]
    refused(d, "robot$sysbot", rb["sys"].secret)
    refused(d, "robot$gamma+deployer", rb["proj"].secret)
    c = ask(d, rb["vet"], "repository:beta/app:pull,push", login="robot$veteran")
    assert granted(c, "repository", "beta/app") == ["pull", "push"]
    refused(d, "bot-veteran", rb["vet"].secret)
    shown = d.cli_json("robot", "show", "robot$veteran")
    assert shown["name"] == "robot$veteran", shown


# -- idempotence -------------------------------------------------------------------------

def test_reimport_changes_nothing(harbor, dockhand_factory):
    d = new_dockhand(dockhand_factory)
    first = do_import(d, harbor.path)
    before = snapshot(d)
    again = do_import(d, harbor.path)
    assert again["robots_created"] == 0 and again["projects_created"] == 0, again
    assert again["robots_unchanged"] == first["robots_created"], again
    assert again["robots_skipped"] == first["robots_skipped"], again
    assert again["permissions_skipped"] == 0, again
    assert snapshot(d) == before
    # Through standard input, the same.
    again = do_import(d, "-", input=harbor.text)
    assert again["robots_created"] == 0, again
    assert snapshot(d) == before


def test_same_name_with_another_secret_is_refused(harbor, dockhand_factory):
    d = new_dockhand(dockhand_factory)
    d.create_robot("coverall", projects={"alpha": ["pull"]})
    before = snapshot(d)
    p = do_import(d, harbor.path, check=False)
    assert p.returncode == 1, p
    assert "harbor_robots[1] (robot \"coverall\")" in p.stderr, p.stderr
    assert "another secret" in p.stderr and "nothing was imported" in p.stderr, p.stderr
    assert snapshot(d) == before


# -- bad files ---------------------------------------------------------------------------

def _row(doc, name):
    return next(r for r in doc["harbor_robots"] if r["name"] == name)


def _set(name, key, value):
    def change(doc):
        row = _row(doc, name)
        row[key] = value
        return doc["harbor_robots"].index(row)
    return change


def _drop(name, key):
    def change(doc):
        row = _row(doc, name)
        del row[key]
        return doc["harbor_robots"].index(row)
    return change


def _other_project(doc):
    row = _row(doc, "gamma+deployer")
    row["permissions"][0]["namespace"] = "alpha"
    return doc["harbor_robots"].index(row)


def _bad_access_type(doc):
    row = _row(doc, "coverall")
    row["permissions"][0]["access"][0]["resource"] = 5
    return doc["harbor_robots"].index(row)


def _duplicate(doc):
    doc["harbor_robots"].append(json.loads(json.dumps(_row(doc, "old"))))
    return len(doc["harbor_robots"]) - 1


BAD_ROWS = {
    "bad-name": (_set("sysbot", "name", "Sys Bot"), "must match"),
    "wrong-type": (_set("coverall", "disabled", "false"), "disabled must be a boolean"),
    "project-robot-shape": (_set("gamma+deployer", "name", "deployer"),
                            "must be <project>+<name>"),
    "project-robot-elsewhere": (_other_project, "only hold permissions on its project"),
    "missing-member": (_drop("old", "salt"), "salt is missing"),
    "not-a-hash": (_set("old", "secret", "0123456789abcdef"), "is not Harbor's hash"),
    "unknown-level": (_set("coverall", "level", "global"), "level must be"),
    "access-type": (_bad_access_type, "permissions[0].access[0].resource must be a string"),
    "same-stored-name": (_duplicate, "would be stored as"),
    "legacy-bad-name": (_set("robot$veteran", "name", "robot$Veteran!"), "does not fit"),
    # A robot that would be skipped is still checked: the file must be sound.
    "skipped-row-types": (_set("robot$relic", "permissions",
                               [{"kind": "project", "namespace": "alpha", "public": None,
                                 "access": "all"}]),
                          "permissions[0].access must be an array"),
}


@pytest.fixture(scope="module")
def blank(dockhand_factory):
    d = new_dockhand(dockhand_factory)
    yield d
    d.stop()


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_a_bad_row_imports_nothing(harbor, blank, tmp_path, case):
    change, message = BAD_ROWS[case]
    doc = json.loads(harbor.text)
    index = change(doc)
    shown_name = doc["harbor_robots"][index]["name"]
    path = tmp_path / "robots.json"
    path.write_text(json.dumps(doc))
    before = snapshot(blank)
    p = do_import(blank, str(path), check=False)
    assert p.returncode == 1, p
    assert p.stdout == "", p.stdout
    assert "harbor_robots[%d] (robot \"%s\")" % (index, shown_name) in p.stderr, p.stderr
    assert message in p.stderr and "nothing was imported" in p.stderr, p.stderr
    for r in harbor.robots.values():
        if r.secret:
            assert harbor_hash(r.secret, r.salt) not in p.stderr
        if r.salt:
            assert r.salt not in p.stderr
    assert snapshot(blank) == before


def test_bad_files_import_nothing(harbor, blank, tmp_path):
    before = snapshot(blank)
    cases = {
        "not-json.json": ("{\"harbor_robots\": [", "not valid JSON (line 1"),
        "array.json": ("[]", "must be an object {\"harbor_robots\""),
        "rows-not-array.json": ("{\"harbor_robots\": {}}", "must be an object {\"harbor_robots\""),
        "row-not-object.json": ("{\"harbor_robots\": [7]}", "harbor_robots[0] (no name): must be"),
    }
    for name, (text, message) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        p = do_import(blank, str(path), check=False)
        assert p.returncode == 1 and message in p.stderr, (name, p.stderr)
    p = do_import(blank, str(tmp_path / "absent.json"), check=False)
    assert p.returncode == 1 and "absent.json" in p.stderr, p.stderr
    assert snapshot(blank) == before


def test_oversize_file_is_refused(harbor, blank, dockhand_factory, tmp_path):
    before = snapshot(blank)
    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.write(harbor.text.encode())
        f.truncate(MAX_BYTES + 1)
    p = do_import(blank, str(big), check=False)
    assert p.returncode == 1 and "larger than %d bytes" % MAX_BYTES in p.stderr, p.stderr
    # The same through a pipe, where the size is only known by reading.
    p = do_import(blank, "-", check=False, input=" " * (MAX_BYTES + 1))
    assert p.returncode == 1 and "larger than %d bytes" % MAX_BYTES in p.stderr, p.stderr
    assert snapshot(blank) == before
    # Exactly at the limit is read (and then judged on its content).
    exact = tmp_path / "exact.json"
    with open(exact, "w") as f:
        f.write(harbor.text)
        f.write(" " * (MAX_BYTES - len(harbor.text.encode())))
    assert os.path.getsize(exact) == MAX_BYTES
    report = do_import(new_dockhand(dockhand_factory), str(exact))
    assert report["robots_created"] >= 5, report


def test_no_hash_or_salt_reaches_a_log(harbor):
    """The export holds Harbor's hashes and salts: none may reach a server, CLI or
    PostgreSQL log (the plaintext secrets are checked by test_zz_secrets_not_logged)."""
    secret_bits = []
    for r in harbor.robots.values():
        if r.secret:
            secret_bits.append(harbor_hash(r.secret, r.salt))
        if r.salt:
            secret_bits.append(r.salt)
    paths = [p for d in dh.INSTANCES for p in (d.log_path, d.cli_log_path)]
    paths += [c.log_path for c in pgmod.CLUSTERS]
    checked = 0
    for path in paths:
        if not os.path.exists(path):
            continue
        checked += 1
        text = open(path, "rb").read().decode("utf-8", "replace")
        for bit in secret_bits:
            assert bit not in text, "%s holds a Harbor hash or salt" % path
    assert checked
