"""Scopes and access end to end (docs/design.md §3.6 "Scopes and access"): what a robot asks
for, what it holds, what the token grants."""

from types import SimpleNamespace

import pytest

from helpers import realm
from helpers.jwtutil import access_map, granted


@pytest.fixture(scope="module")
def w(dockhand):
    d = dockhand
    for p in ("alpha", "beta", "gamma"):
        d.create_project(p)
    d.create_project("pub", public=True)
    mk = d.create_robot
    robots = dict(
        rw=mk("rw", projects={"alpha": ["pull", "push"]}),
        pushonly=mk("pushonly", projects={"alpha": ["push"]}),
        pullonly=mk("pullonly", projects={"alpha": ["pull"]}),
        deleter=mk("deleter", projects={"alpha": ["pull", "delete"]}),
        repodeleter=mk("repodeleter", projects={"alpha": ["repository/delete"]}),
        full=mk("full", projects={"alpha": ["pull", "push", "delete"]}),
        cat=mk("cat", projects={"alpha": ["pull"]}, catalog=True),
        stranger=mk("stranger", projects={"beta": ["pull"]}),
        pubpusher=mk("pubpusher", projects={"pub": ["push"]}),
        seedonly=mk("seedonly", projects={"alpha": ["tag/create", "tag/delete", "helm-chart/read",
                                                    "helm-chart-version/create", "scan/create",
                                                    "artifact-label/create"]}),
        everywhere=mk("everywhere", projects={}, all_projects=["pull", "push"]),
    )
    return SimpleNamespace(d=d, **robots)


def ask(w, robot, *scopes):
    """Claims of a GET token for robot (None: anonymous) asking scopes (one each)."""
    auth = None if robot is None else (robot["name"], robot["secret"])
    r = w.d.token(scopes=list(scopes), auth=auth)
    _, claims = realm.token_ok(w.d, r, sub="" if robot is None else robot["name"])
    return claims


def acts(claims, name, type_="repository", cls=None):
    return granted(claims, type_, name, cls)


def test_granted_is_requested_intersected_with_held(w):
    c = ask(w, w.rw, "repository:alpha/app:pull,push,delete", "repository:beta/app:pull",
            "repository:gamma/app:pull")
    assert acts(c, "alpha/app") == ["pull", "push"]
    assert acts(c, "beta/app") == []
    assert acts(c, "gamma/app") == []
    assert acts(ask(w, w.pullonly, "repository:alpha/app:push"), "alpha/app") == []
    assert acts(ask(w, w.pullonly, "repository:alpha/app:pull,push"), "alpha/app") == ["pull"]


def test_nested_repository_belongs_to_its_first_component(w):
    c = ask(w, w.rw, "repository:alpha/team/deep/app:pull,push")
    assert acts(c, "alpha/team/deep/app") == ["pull", "push"]


def test_push_brings_pull(w):
    assert acts(ask(w, w.pushonly, "repository:alpha/app:pull"), "alpha/app") == ["pull"]
    assert acts(ask(w, w.pushonly, "repository:alpha/app:push"), "alpha/app") == ["push"]
    assert acts(ask(w, w.pushonly, "repository:alpha/app:pull,push"),
                "alpha/app") == ["pull", "push"]
    assert acts(ask(w, w.pushonly, "repository:alpha/app:delete"), "alpha/app") == []


def test_delete_comes_from_artifact_or_repository_delete(w):
    assert acts(ask(w, w.deleter, "repository:alpha/app:delete"), "alpha/app") == ["delete"]
    assert acts(ask(w, w.deleter, "repository:alpha/app:pull,push,delete"),
                "alpha/app") == ["delete", "pull"]
    assert acts(ask(w, w.repodeleter, "repository:alpha/app:delete"), "alpha/app") == ["delete"]
    assert acts(ask(w, w.repodeleter, "repository:alpha/app:pull"), "alpha/app") == []
    assert acts(ask(w, w.rw, "repository:alpha/app:delete"), "alpha/app") == []


def test_star_on_a_repository_is_every_held_action(w):
    assert acts(ask(w, w.full, "repository:alpha/app:*"), "alpha/app") == \
        ["delete", "pull", "push"]
    assert acts(ask(w, w.rw, "repository:alpha/app:*"), "alpha/app") == ["pull", "push"]
    assert acts(ask(w, w.pullonly, "repository:alpha/app:*"), "alpha/app") == ["pull"]
    assert acts(ask(w, w.deleter, "repository:alpha/app:*"), "alpha/app") == ["delete", "pull"]
    assert acts(ask(w, w.stranger, "repository:alpha/app:*"), "alpha/app") == []
    assert acts(ask(w, None, "repository:pub/app:*"), "pub/app") == ["pull"]


def test_catalog_only_with_the_catalog_permission(w):
    assert acts(ask(w, w.cat, "registry:catalog:*"), "catalog", "registry") == ["*"]
    assert acts(ask(w, w.pullonly, "registry:catalog:*"), "catalog", "registry") == []
    assert acts(ask(w, w.everywhere, "registry:catalog:*"), "catalog", "registry") == []
    assert acts(ask(w, w.full, "registry:catalog:*"), "catalog", "registry") == []
    assert acts(ask(w, None, "registry:catalog:*"), "catalog", "registry") == []
    # the catalog permission widens nothing else
    assert acts(ask(w, w.cat, "repository:beta/app:pull"), "beta/app") == []


def test_public_project_pull_for_everyone(w):
    c = ask(w, None, "repository:pub/app:pull,push,delete", "repository:alpha/app:pull")
    assert acts(c, "pub/app") == ["pull"]
    assert acts(c, "alpha/app") == []
    assert acts(ask(w, w.stranger, "repository:pub/app:pull,push"), "pub/app") == ["pull"]
    assert acts(ask(w, w.pubpusher, "repository:pub/app:pull,push"), "pub/app") == \
        ["pull", "push"]


def test_names_without_slash_and_unknown_projects_get_nothing(w):
    c = ask(w, w.everywhere, "repository:alpha:pull,push", "repository:nosuch/app:pull,push",
            "repository:/app:pull", "repository:pub:pull")
    assert acts(c, "alpha") == []
    assert acts(c, "nosuch/app") == []
    assert acts(c, "/app") == []
    assert acts(c, "pub") == []
    c = ask(w, None, "repository:pub:pull")
    assert acts(c, "pub") == []


def test_unknown_types_and_action_words_get_nothing(w):
    c = ask(w, w.full, "foo:alpha/app:pull", "artifact:alpha/app:pull,push",
            "repository:alpha/app:pull,fly,*x")
    assert acts(c, "alpha/app", "foo") == []
    assert acts(c, "alpha/app", "artifact") == []
    assert acts(c, "alpha/app") == ["pull"]


def test_seed_permissions_that_are_not_registry_actions_widen_nothing(w):
    c = ask(w, w.seedonly, "repository:alpha/app:pull,push,delete")
    assert acts(c, "alpha/app") == []
    assert acts(ask(w, w.seedonly, "repository:alpha/app:*"), "alpha/app") == []


def test_all_projects_robot_covers_projects_created_after_it(w):
    w.d.create_project("late")
    c = ask(w, w.everywhere, "repository:late/app:pull,push,delete", "repository:beta/x:pull")
    assert acts(c, "late/app") == ["pull", "push"]
    assert acts(c, "beta/x") == ["pull"]


def test_deleted_project_grants_nothing_even_when_recreated(w):
    d = w.d
    d.create_project("doomed")
    robot = d.create_robot("doomer", projects={"doomed": ["pull", "push"]})
    assert acts(ask(w, robot, "repository:doomed/app:pull"), "doomed/app") == ["pull"]
    d.cli("project", "delete", "doomed")
    assert acts(ask(w, robot, "repository:doomed/app:pull"), "doomed/app") == []
    d.create_project("doomed")
    assert acts(ask(w, robot, "repository:doomed/app:pull"), "doomed/app") == []


def test_same_resource_scopes_merge_and_duplicates_collapse(w):
    c = ask(w, w.rw, "repository:alpha/app:pull", "repository:alpha/app:push",
            "repository:alpha/app:pull,pull")
    entries = [e for e in c["access"] if e["name"] == "alpha/app"]
    assert len(entries) == 1, c["access"]
    assert sorted(entries[0]["actions"]) == ["pull", "push"]
    assert entries[0] == {"type": "repository", "name": "alpha/app",
                          "actions": entries[0]["actions"]}
    c = ask(w, w.rw, "repository:alpha/app:pull repository:alpha/app:push")
    assert access_map(c) == {("repository", "alpha/app", None): ["pull", "push"]}


def test_host_port_names_parse(w):
    c = ask(w, w.everywhere, "repository:localhost:5000/alpha/app:pull",
            "repository:alpha/app:pull")
    m = access_map(c)
    assert m[("repository", "alpha/app", None)] == ["pull"]
    for (typ, name, cls), actions in m.items():
        if name != "alpha/app":
            assert (typ, name, cls) == ("repository", "localhost:5000/alpha/app", None), m
            assert actions == [], m


def test_class_is_kept(w):
    c = ask(w, w.rw, "repository(plugin):alpha/app:pull")
    assert c["access"] == [{"type": "repository", "class": "plugin", "name": "alpha/app",
                            "actions": ["pull"]}]
    c = ask(w, w.rw, "repository(plugin):alpha/app:pull", "repository:alpha/app:push")
    m = access_map(c)
    assert m[("repository", "alpha/app", "plugin")] == ["pull"]
    assert m[("repository", "alpha/app", None)] == ["push"]  # a separate resource


def test_no_scope_no_access(w):
    assert ask(w, w.full)["access"] == []
    assert ask(w, None)["access"] == []


def test_post_scope_field_lists_what_was_granted(w):
    d = w.d
    r = d.token(method="POST", auth=(w.rw["name"], w.rw["secret"]),
                scopes=["repository:alpha/app:pull,push,delete", "repository:beta/app:pull",
                        "registry:catalog:*"])
    body, claims = realm.token_ok(d, r, sub=w.rw["name"])
    assert acts(claims, "alpha/app") == ["pull", "push"]
    assert realm.granted_scope_field(body["scope"]) == {("repository", "alpha/app"):
                                                        ["pull", "push"]}


def test_post_scope_field_lists_every_grant_of_a_full_request(w):
    """SCOPE_MAX_ITEMS (64) scopes on long names, all granted: the `scope` field names
    every one of them, none cut short (it once held about 4 KiB and dropped the rest)."""
    d = w.d
    names = ["alpha/%s%03d" % ("n" * 190, k) for k in range(64)]
    r = d.token(method="POST", auth=(w.rw["name"], w.rw["secret"]),
                scopes=["repository:%s:pull,push" % n for n in names])
    body, claims = realm.token_ok(d, r, sub=w.rw["name"])
    assert all(acts(claims, n) == ["pull", "push"] for n in names)
    assert realm.granted_scope_field(body["scope"]) == \
        {("repository", n): ["pull", "push"] for n in names}
