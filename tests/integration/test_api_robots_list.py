"""GET /robots (docs/design.md §5; issue 3): q filters, sort, page/page_size with X-Total-Count
and Link, and names that follow the robot_name_prefix setting."""

import urllib.parse

import pytest

from helpers import api as A

LIST = 25


class World:
    pass


@pytest.fixture(scope="module")
def world(dockhand):
    """A fresh database with 25 system robots lst00…lst24 (durations a permutation of
    1…25 days, so expiry order differs from creation order), project robots in alpha
    (3) and beta (1), and one more system robot."""
    w = World()
    w.d = dockhand
    w.admin = A.ensure_admin(dockhand)
    w.alpha = w.admin.create_project("alpha")
    w.beta = w.admin.create_project("beta")
    w.lst = []
    for i in range(LIST):
        w.lst.append(w.admin.create_robot("lst%02d" % i, A.perm("p", "pull"),
                                          duration=(i * 7) % LIST + 1,
                                          description="list robot %d" % i))
    w.alpha_robots = [w.admin.create_robot(n, A.perm("alpha", "pull", "push"), level="project")
                      for n in ("ci", "cd", "build")]
    w.beta_robots = [w.admin.create_robot("ci", A.perm("beta", "pull"), level="project")]
    w.other = w.admin.create_robot("other", A.perm("alpha", "pull"), A.perm("beta", "pull"))
    w.total = LIST + 3 + 1 + 1
    return w


def names(items):
    return [r["name"] for r in items]


def stored(items):
    return [r["name"][len("robot$"):] for r in items]


def page(w, **params):
    items, r = w.admin.robots({k: str(v) for k, v in params.items()})
    return items, r


def link_params(r):
    return {rel: v[1] for rel, v in A.parse_link(r.headers.get("Link")).items()}


def test_default_page_is_the_first_ten(world):
    items, r = page(world, q="name=~lst")
    assert len(items) == 10
    assert A.total_count(r) == LIST
    links = A.parse_link(r.headers.get("Link"))
    assert set(links) == {"next"}, r.headers.get("Link")
    path, params, _ = links["next"]
    assert path == "/api/v2.0/robots"
    assert params == {"page": "2", "page_size": "10", "q": "name=~lst"}, params


def test_everything_without_q(world):
    items, r = page(world, page_size=100)
    assert A.total_count(r) == world.total and len(items) == world.total
    assert not A.parse_link(r.headers.get("Link")), r.headers.get("Link")
    assert len({x["id"] for x in items}) == world.total


def test_pages_linked_by_prev_and_next(world):
    seen = []
    items, r = page(world, q="name=~lst", sort="name", page_size=10)
    assert link_params(r) == {"next": {"page": "2", "page_size": "10", "q": "name=~lst",
                                       "sort": "name"}}
    seen += items
    items, r = page(world, q="name=~lst", sort="name", page_size=10, page=2)
    assert link_params(r) == {
        "prev": {"page": "1", "page_size": "10", "q": "name=~lst", "sort": "name"},
        "next": {"page": "3", "page_size": "10", "q": "name=~lst", "sort": "name"}}
    assert A.total_count(r) == LIST
    seen += items
    items, r = page(world, q="name=~lst", sort="name", page_size=10, page=3)
    assert link_params(r) == {"prev": {"page": "2", "page_size": "10", "q": "name=~lst",
                                       "sort": "name"}}
    assert len(items) == 5
    seen += items
    assert stored(seen) == ["lst%02d" % i for i in range(LIST)]


def test_total_count_on_every_shape_of_page(world):
    """X-Total-Count is exact whether the page is full (counted apart), partial (the page
    tells), exactly the last (full and nothing after), empty, or past the end."""
    for size in (1, 5, 24, 25, 26, 100):
        last = -(-LIST // size)
        for number in sorted({1, 2, last - 1, last, last + 1} - {0}):
            items, r = page(world, q="name=~lst", page_size=size, page=number)
            want = max(0, min(size, LIST - (number - 1) * size))
            assert len(items) == want, (size, number)
            assert A.total_count(r) == LIST, (size, number)
    items, r = page(world, q="name=~nomatch", page_size=10)
    assert items == [] and A.total_count(r) == 0
    items, r = page(world, q="name=~nomatch", page_size=10, page=3)
    assert items == [] and A.total_count(r) == 0


def test_following_the_links_visits_every_robot_once(world):
    for size in (1, 7, 10, 25, 100):
        got = world.admin.list_all("/robots", {"q": "name=~lst"}, page_size=size)
        assert sorted(stored(got)) == ["lst%02d" % i for i in range(LIST)], size
    got = world.admin.list_all("/robots", page_size=4)
    assert len({r["id"] for r in got}) == world.total


def test_link_keeps_the_query_encoded(world):
    """The Link targets are usable as they are, q and sort included."""
    _, r = page(world, q="name=~lst,Level=system", sort="-name", page_size=5, page=2)
    links = A.parse_link(r.headers.get("Link"))
    for rel, want in (("prev", "1"), ("next", "3")):
        path, params, target = links[rel]
        assert params == {"page": want, "page_size": "5", "q": "name=~lst,Level=system",
                          "sort": "-name"}, params
        nxt = world.admin.session.get(world.d.url + target, auth=world.admin.auth, timeout=30)
        A.check_common(nxt)
        items = A.expect(nxt, 200, "Robot", many=True)
        first = {"1": "lst24", "3": "lst14"}[want]
        assert stored(items)[0] == first, stored(items)


def test_page_size_100_is_the_most(world):
    items, r = page(world, page_size=100)
    assert len(items) == world.total
    items, r = page(world, page_size=1)
    assert len(items) == 1 and A.total_count(r) == world.total


@pytest.mark.parametrize("params", [
    {"page_size": "101"}, {"page_size": "1000"}, {"page_size": "0"}, {"page_size": "-1"},
    {"page_size": "abc"}, {"page_size": "1.5"}, {"page": "0"},
    {"page": "-1"}, {"page": "abc"}, {"page": "1e2"},
    {"page_size": "99999999999999999999999"}, {"page": "99999999999999999999999"},
], ids=lambda p: "&".join("%s=%s" % kv for kv in p.items()))
def test_bad_paging_is_400(world, params):
    A.bad_request(world.admin.get("/robots", params=params))


def test_a_page_past_the_end_is_empty(world):
    items, r = page(world, q="name=~lst", page=4)
    assert items == [] and A.total_count(r) == LIST
    items, r = page(world, page=99, page_size=100)
    assert items == [] and A.total_count(r) == world.total


@pytest.mark.parametrize("q,expected", [
    ("name=~lst1", ["lst%02d" % i for i in range(10, 20)]),
    ("name=~lst", ["lst%02d" % i for i in range(LIST)]),
    ("name=lst05", ["lst05"]),
    ("name=lst5", []),
    ("name=robot$lst05", []),
    ("name=~robot$", []),
    ("name=~alpha", ["alpha+build", "alpha+cd", "alpha+ci"]),
    ("name=~ci", ["alpha+ci", "beta+ci"]),
    ("name=~nothing-like-this", []),
    ("Level=system,name=~lst2", ["lst20", "lst21", "lst22", "lst23", "lst24"]),
    ("name=~lst2,Level=system", ["lst20", "lst21", "lst22", "lst23", "lst24"]),
    ("name=~lst%30", ["lst%02d" % i for i in range(10)]),  # values are URL-encoded
    (",name=~lst2,,Level=system,", ["lst20", "lst21", "lst22", "lst23", "lst24"]),  # empty terms
    ("name=~lst0,name=~lst1", ["lst%02d" % i for i in range(10, 20)]),  # the last one counts
])
def test_q_filters(world, q, expected):
    got = world.admin.list_all("/robots", {"q": q, "sort": "name"}, page_size=100)
    assert stored(got) == sorted(expected), (q, stored(got))


def test_q_by_level(world):
    system = world.admin.list_all("/robots", {"q": "Level=system"}, page_size=100)
    assert sorted(stored(system)) == sorted(["lst%02d" % i for i in range(LIST)] + ["other"])
    assert {r["level"] for r in system} == {"system"}
    alpha = world.admin.list_all(
        "/robots", {"q": "Level=project,ProjectID=%d" % world.alpha["project_id"]},
        page_size=100)
    assert sorted(stored(alpha)) == ["alpha+build", "alpha+cd", "alpha+ci"]
    assert {r["level"] for r in alpha} == {"project"}
    for r in alpha:
        assert [p["namespace"] for p in r["permissions"]] == ["alpha"], r
    beta = world.admin.list_all(
        "/robots", {"q": "Level=project,ProjectID=%d" % world.beta["project_id"]},
        page_size=100)
    assert stored(beta) == ["beta+ci"]
    p = world.admin.project("p")
    assert world.admin.list_all("/robots", {"q": "Level=project,ProjectID=%d" % p["project_id"]},
                                page_size=100) == []


def test_system_robot_lists_its_projects(world):
    got = world.admin.list_all("/robots", {"q": "name=other"}, page_size=100)
    assert len(got) == 1
    assert sorted(p["namespace"] for p in got[0]["permissions"]) == ["alpha", "beta"]


@pytest.mark.parametrize("q", [
    "foo=bar", "secret=abc", "secret=~a", "salt=abc", "hash=abc", "secret_hash=~pbkdf2",
    "password=x", "name", "name=~lst,secret=x", "Secret=x",
    # Forms the grammar knows that no robot key takes, and broken syntax (query.h).
    "name=[a~b]", "name={lst00 lst01}", "name=(a b)", "Level=~system", "Level={system}",
    "ProjectID=[1~2]", "ProjectID=~1", "name=[a~b", "name=[a~[b]]", "name=~%zz",
    "name=%C0%AF", "=lst00", "na me=x",
])
def test_bad_q_is_400(world, q):
    A.bad_request(world.admin.get("/robots", params={"q": q}))


def _expected_order(world, key):
    full = [world.admin.robot(r["id"]) for r in world.lst]
    if key == "name":
        return sorted(r["name"] for r in full)
    if key == "id":
        return [r["name"] for r in sorted(full, key=lambda r: r["id"])]
    if key == "expires_at":
        return [r["name"] for r in sorted(full, key=lambda r: r["expires_at"])]
    raise KeyError(key)


@pytest.mark.parametrize("key", ["name", "id", "expires_at"])
def test_sort_orders_strictly(world, key):
    want = _expected_order(world, key)
    got = world.admin.list_all("/robots", {"q": "name=~lst", "sort": key}, page_size=100)
    assert names(got) == want, key
    got = world.admin.list_all("/robots", {"q": "name=~lst", "sort": "-" + key}, page_size=100)
    assert names(got) == list(reversed(want)), "-" + key


@pytest.mark.parametrize("key", ["creation_time", "update_time"])
def test_sort_by_time(world, key):
    got = world.admin.list_all("/robots", {"q": "name=~lst", "sort": key}, page_size=100)
    times = [A.epoch(r[key]) for r in got]
    assert times == sorted(times), key
    assert len(got) == LIST
    got = world.admin.list_all("/robots", {"q": "name=~lst", "sort": "-" + key}, page_size=100)
    times = [A.epoch(r[key]) for r in got]
    assert times == sorted(times, reverse=True), "-" + key


def test_sort_applies_before_paging(world):
    items, _ = page(world, q="name=~lst", sort="-name", page=2, page_size=10)
    assert stored(items) == ["lst%02d" % i for i in range(14, 4, -1)]
    want = _expected_order(world, "expires_at")
    items, _ = page(world, q="name=~lst", sort="expires_at", page=3, page_size=10)
    assert names(items) == want[20:]


@pytest.mark.parametrize("sort", ["secret", "-secret", "salt", "-salt", "secret_hash", "hash",
                                  "name,secret", "password"])
def test_sort_by_secret_fields_is_400(world, sort):
    A.bad_request(world.admin.get("/robots", params={"sort": sort}))


@pytest.mark.parametrize("sort", ["bogus", "Name", "-", "--name", "+name", "name,", ",name",
                                  "name,id", "name,-name"])
def test_bad_sort_is_400(world, sort):
    A.bad_request(world.admin.get("/robots", params={"sort": sort}))


def test_q_and_sort_values_travel_url_encoded(world):
    """A raw query string exactly as Harbor's UI sends it."""
    q = urllib.parse.quote("name=~lst2", safe="")
    r = world.admin.get("/robots?q=%s&sort=%s&page_size=100" % (q, urllib.parse.quote("-name")))
    items = A.expect(r, 200, "Robot", many=True)
    assert stored(items) == ["lst24", "lst23", "lst22", "lst21", "lst20"]


def test_prefix_change_renames_every_robot_in_the_list(dockhand_factory):
    d = dockhand_factory()
    admin = A.ensure_admin(d)
    admin.create_project("pfx")
    sysr = admin.create_robot("pfxsys", A.perm("pfx", "pull"))
    projr = admin.create_robot("pfxci", A.perm("pfx", "pull"), level="project")
    assert A.can_login(d, "robot$pfxsys", sysr["secret"])

    admin.set_config(robot_name_prefix="bot-")
    got = admin.list_all("/robots", page_size=100)
    assert sorted(names(got)) == ["bot-pfx+pfxci", "bot-pfxsys"]
    for r in got:
        A.check_robot(r, prefix="bot-")
    assert admin.robot(sysr["id"], prefix="bot-")["name"] == "bot-pfxsys"
    assert admin.robot(projr["id"], prefix="bot-")["name"] == "bot-pfx+pfxci"
    # search is on the stored name, without any prefix
    assert names(admin.list_all("/robots", {"q": "name=pfxsys"})) == ["bot-pfxsys"]
    assert names(admin.list_all("/robots", {"q": "name=~pfxsys"})) == ["bot-pfxsys"]
    assert admin.list_all("/robots", {"q": "name=bot-pfxsys"}) == []
    # logins follow
    assert A.can_login(d, "bot-pfxsys", sysr["secret"])
    assert A.can_login(d, "bot-pfx+pfxci", projr["secret"])
    assert not A.can_login(d, "robot$pfxsys", sysr["secret"])
    # new robots get the new prefix
    new = admin.create_robot("pfxnew", A.perm("pfx", "pull"), prefix="bot-")
    assert new["name"] == "bot-pfxnew"

    admin.set_config(robot_name_prefix="robot$")
    assert sorted(names(admin.list_all("/robots", page_size=100))) == \
        ["robot$pfx+pfxci", "robot$pfxnew", "robot$pfxsys"]
    assert A.can_login(d, "robot$pfxnew", new["secret"])
    assert not A.can_login(d, "bot-pfxnew", new["secret"])
