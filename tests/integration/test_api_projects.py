"""Projects through the admin API (docs/design.md §5; issue 3): create, list, HEAD, get by id or
name, delete — and what a deletion does to robots."""

import pytest

from helpers import api as A
from helpers import realm
from helpers.jwtutil import granted


@pytest.fixture(scope="module")
def admin(dockhand):
    return A.ensure_admin(dockhand)


def project_count(admin):
    return A.total_count(admin.get("/projects", params={"page_size": "1"}))


def anonymous_pull(d, proj):
    r = d.token(scopes=["repository:%s/app:pull" % proj])
    _, claims = realm.token_ok(d, r, sub="")
    return granted(claims, "repository", proj + "/app")


def test_create_private_and_public(dockhand, admin):
    before = project_count(admin)
    priv = admin.create_project(A.new_name("priv"))
    pub = admin.create_project(A.new_name("pub"), public=True)
    assert priv["metadata"]["public"] == "false" and pub["metadata"]["public"] == "true"
    assert project_count(admin) == before + 2
    for p in (priv, pub):
        by_name = admin.project(p["name"])
        by_id = admin.project(p["project_id"])
        assert by_name == by_id == p
    assert anonymous_pull(dockhand, pub["name"]) == ["pull"]
    assert anonymous_pull(dockhand, priv["name"]) == []


def test_create_without_metadata_is_private(admin):
    name = A.new_name("nometa")
    r = admin.post("/projects", json={"project_name": name})
    A.expect(r, 201)
    assert r.headers.get("Location", "").startswith(A.API + "/projects/"), A.show(r)
    assert admin.project(name)["metadata"]["public"] == "false"


def test_project_visible_to_the_cli(dockhand, admin):
    name = A.new_name("seen")
    p = admin.create_project(name)
    shown = dockhand.cli_json("project", "show", name)
    assert shown.get("name") == name and shown.get("project_id", p["project_id"]) == \
        p["project_id"], shown


def test_duplicate_is_409(admin):
    name = A.new_name("dup")
    admin.create_project(name)
    before = project_count(admin)
    A.conflict(admin.post("/projects", json={"project_name": name,
                                             "metadata": {"public": "true"}}))
    assert project_count(admin) == before
    assert admin.project(name)["metadata"]["public"] == "false"
    A.conflict(admin.post("/projects", json={"project_name": "p"}))


@pytest.mark.parametrize("name", [
    "", "UPPER", "Mixed", "has space", "a/b", "-lead", "trail-", "a..b", "café", "*", "/",
    "x" * 256, "a+b", "a:b", "a\u0000b", "robot$x",
])
def test_invalid_names_are_400(admin, name):
    before = project_count(admin)
    A.bad_request(admin.post("/projects", json={"project_name": name,
                                                "metadata": {"public": "false"}}))
    assert project_count(admin) == before


@pytest.mark.parametrize("name", ["a", "0ab", "a.b-c_d", "x" * 255])
def test_valid_names(admin, name):
    assert admin.create_project(name)["name"] == name


@pytest.mark.parametrize("raw", [
    "", "{", "[]", "null", "\"p\"", "{\"project_name\": 5}", "{\"project_name\": null}",
    "{\"metadata\": {\"public\": \"true\"}}",
    "{\"project_name\": \"badmeta1\", \"metadata\": {\"public\": \"yes\"}}",
    "{\"project_name\": \"badmeta2\", \"metadata\": \"public\"}",
    "{\"project_name\": \"badmeta3\", \"metadata\": {\"public\": 1}}",
], ids=["empty", "open", "array", "null", "string", "name-number", "name-null", "no-name",
        "public-yes", "metadata-string", "public-number"])
def test_invalid_bodies_are_400(admin, raw):
    before = project_count(admin)
    A.bad_request(admin.post("/projects", data=raw))
    assert project_count(admin) == before


def test_list_with_name_and_paging(admin):
    tag = A.new_name("lp")
    made = sorted(admin.create_project("%s-%02d" % (tag, i))["name"] for i in range(12))
    r = admin.get("/projects", params={"name": tag})
    items = A.expect(r, 200, "Project", many=True)
    for p in items:
        A.check_project(p)
    assert len(items) == 10 and A.total_count(r) == 12
    links = A.parse_link(r.headers.get("Link"))
    assert set(links) == {"next"}
    assert links["next"][0] == A.API + "/projects"
    assert links["next"][1] == {"page": "2", "page_size": "10", "name": tag}, links
    got = admin.list_all("/projects", {"name": tag}, model="Project", page_size=5)
    assert sorted(p["name"] for p in got) == made
    r = admin.get("/projects", params={"name": tag, "page": "2", "page_size": "5"})
    A.expect(r, 200, "Project", many=True)
    assert set(A.parse_link(r.headers.get("Link"))) == {"prev", "next"}
    # a substring from the middle
    got = admin.list_all("/projects", {"name": tag[2:] + "-0"}, model="Project", page_size=100)
    assert sorted(p["name"] for p in got) == made[:10]
    assert admin.list_all("/projects", {"name": "no-such-project-here"}, model="Project") == []
    every = admin.list_all("/projects", model="Project", page_size=100)
    assert "p" in [p["name"] for p in every]


def test_list_with_q(admin):
    """q=name=~part and q=name=value (a substring too), values percent-decoded (query.h)."""
    tag = A.new_name("lq")
    made = sorted(admin.create_project("%s-%d" % (tag, i))["name"] for i in range(3))
    for q in ("name=~" + tag, "name=" + tag, "name=~%%%02X%s" % (ord(tag[0]), tag[1:]),
              ",name=~%s," % tag):
        got = admin.list_all("/projects", {"q": q}, model="Project", page_size=100)
        assert sorted(p["name"] for p in got) == made, q
    got = admin.list_all("/projects", {"q": "name=~%s-1" % tag}, model="Project")
    assert [p["name"] for p in got] == [made[1]]


@pytest.mark.parametrize("q", ["", "name", "foo=x", "Name=x", "name=~a,name=~b", "name=[a~b]",
                               "name={a b}", "name=(a)", "name=%zz", "name=%C0%AF", "=x"])
def test_bad_q_is_400(admin, q):
    A.bad_request(admin.get("/projects", params={"q": q}))


@pytest.mark.parametrize("params", [{"page_size": "101"}, {"page_size": "0"}, {"page": "0"},
                                    {"page": "x"}])
def test_bad_paging_is_400(admin, params):
    A.bad_request(admin.get("/projects", params=params))


def test_head(admin):
    name = A.new_name("head")
    r = admin.head("/projects", params={"project_name": name})
    assert r.status_code == 404 and not r.content, A.show(r)
    admin.create_project(name)
    r = admin.head("/projects", params={"project_name": name})
    assert r.status_code == 200 and not r.content, A.show(r)
    r = admin.head("/projects", params={"project_name": name[:-1]})
    assert r.status_code == 404, A.show(r)
    r = admin.head("/projects")
    assert r.status_code == 400, A.show(r)


@pytest.mark.parametrize("ref", ["nosuchproject", "999999", "0"])
def test_unknown_project_is_404(admin, ref):
    A.not_found(admin.get("/projects/" + ref))
    A.not_found(admin.delete("/projects/" + ref))


@pytest.mark.parametrize("by", ["id", "name"])
def test_delete(dockhand, admin, by):
    p = admin.create_project(A.new_name("gone"))
    ref = str(p["project_id"]) if by == "id" else p["name"]
    before = project_count(admin)
    admin.delete_project(ref)
    assert project_count(admin) == before - 1
    A.not_found(admin.get("/projects/%s" % p["name"]))
    A.not_found(admin.get("/projects/%d" % p["project_id"]))
    A.not_found(admin.delete("/projects/%s" % ref))
    r = admin.head("/projects", params={"project_name": p["name"]})
    assert r.status_code == 404, A.show(r)


def test_delete_removes_its_project_robots_and_every_permission_on_it(dockhand, admin):
    d = dockhand
    name, other = A.new_name("doomed"), A.new_name("stays")
    doomed = admin.create_project(name)
    admin.create_project(other)
    prob = admin.create_robot("ci", A.perm(name, "pull", "push"), level="project")
    sysr = admin.create_robot(A.new_name("sys"), A.perm(name, "pull", "push", "delete"),
                              A.perm(other, "pull"))
    only = admin.create_robot(A.new_name("only"), A.perm(name, "pull"))
    allr = admin.create_robot(A.new_name("all"), A.perm("*", "pull"))
    rt = A.refresh_token(d, prob["name"], prob["secret"])
    assert A.granted(d, sysr["name"], sysr["secret"], name + "/app") == \
        ["delete", "pull", "push"]

    admin.delete_project(name)

    # its project robot is gone
    A.not_found(admin.get("/robots/%d" % prob["id"]))
    assert not A.can_login(d, prob["name"], prob["secret"])
    assert not A.refresh_works(d, rt)
    assert admin.list_all("/robots", {"q": "Level=project,ProjectID=%d" % doomed["project_id"]}
                          ) == []
    # system robots stay, without the deleted project in their permissions
    robots = admin.list_all("/robots", page_size=100)
    ids = {r["id"] for r in robots}
    assert {sysr["id"], only["id"], allr["id"]} <= ids and prob["id"] not in ids
    assert A.normalize_permissions(admin.robot(sysr["id"])["permissions"]) == \
        A.normalize_permissions([A.perm(other, "pull")])
    assert admin.robot(only["id"])["permissions"] == []
    assert A.can_login(d, only["name"], only["secret"])
    assert A.granted(d, sysr["name"], sysr["secret"], name + "/app") == []
    assert A.granted(d, sysr["name"], sysr["secret"], other + "/app") == ["pull"]

    # a project re-created with the same name grants nothing to the old robots …
    again = admin.create_project(name)
    assert again["project_id"] != doomed["project_id"]
    assert A.granted(d, sysr["name"], sysr["secret"], name + "/app") == []
    assert A.granted(d, only["name"], only["secret"], name + "/app") == []
    assert not A.can_login(d, prob["name"], prob["secret"])
    assert admin.robot(only["id"])["permissions"] == []
    # … except to those that cover every project, which includes future ones
    assert A.granted(d, allr["name"], allr["secret"], name + "/app") == ["pull"]
    # and the project robot's name is free in the new project
    new = admin.create_robot("ci", A.perm(name, "pull"), level="project")
    assert new["name"] == prob["name"] and new["id"] != prob["id"]
    assert not A.can_login(d, prob["name"], prob["secret"])
    assert A.can_login(d, new["name"], new["secret"])


def test_deleting_a_public_project_ends_anonymous_pulls(dockhand, admin):
    name = A.new_name("pubgone")
    admin.create_project(name, public=True)
    assert anonymous_pull(dockhand, name) == ["pull"]
    admin.delete_project(name)
    assert anonymous_pull(dockhand, name) == []
