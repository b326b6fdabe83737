"""Federation rules of a robot (issue 15 §1), managed through dockhand's extension of Harbor's
API, GET/PUT /api/v2.0/robots/{id}/federation, and the CLI's `robot federation add|list|
remove`: every limit just under and just over, NULs, SQL metacharacters, 404s, the audit
record and the announcement (robots.federation_version bumped). Logging in with an identity
token is tested with the test OIDC issuer elsewhere."""

import pytest

from helpers import api as A

GH = "https://token.actions.githubusercontent.com"


@pytest.fixture(scope="module")
def admin(dockhand):
    return A.ensure_admin(dockhand)


@pytest.fixture(scope="module")
def bot(dockhand):
    r = dockhand.create_robot(A.new_name("fed"))
    A.remember(r["secret"], r["name"])
    return r


def path(robot_id):
    return "/robots/%d/federation" % robot_id


def put(admin, robot_id, rules):
    return admin.put(path(robot_id), json=rules)


def rule(issuer=GH, subject="repo:acme/app:ref:refs/heads/main", audience=None, claims=None):
    r = {"issuer": issuer, "subject": subject}
    if audience is not None:
        r["audience"] = audience
    if claims is not None:
        r["claims"] = claims
    return r


def stored(d, robot_id):
    return d.sql("SELECT count(*) FROM robot_federation WHERE robot_id = %d" % robot_id).strip()


def version(d, robot_id):
    return int(d.sql("SELECT federation_version FROM robots WHERE id = %d" % robot_id).strip())


def test_put_get_roundtrip_audit_and_version(dockhand, admin, bot):
    d = dockhand
    assert admin.get(path(bot["id"])).json() == []
    v0 = version(d, bot["id"])
    rules = [
        rule(claims={"repository": "acme/app", "ref": "refs/heads/*", "environment": "prod"}),
        rule(issuer="https://gitlab.example.com", subject="project_path:acme/*:ref_type:branch:*",
             audience="https://registry.example.com", claims={"ref_protected": "true"}),
        rule(issuer="https://kubernetes.default.svc.cluster.local",
             subject="system:serviceaccount:ci:builder"),
    ]
    r = put(admin, bot["id"], rules)
    assert r.status_code == 200, A.show(r)
    want = [dict(x, claims=x.get("claims", {})) for x in rules]
    assert r.json() == want
    assert admin.get(path(bot["id"])).json() == want
    assert version(d, bot["id"]) == v0 + 1
    rec = admin.find_audit(operation="update", resource=bot["name"], username=A.ADMIN)
    assert A.detail_of(rec) == {"changed": ["federation"]}, rec
    # the default audience is omitted on output; null in, omitted out
    r = put(admin, bot["id"], [dict(rule(), audience=None, claims=None)])
    assert r.status_code == 200 and r.json() == [dict(rule(), claims={})], A.show(r)
    # the token lookup sees them in order
    fed = d.sql("SELECT federation FROM dockhand_token_lookup(NULL, %d, '{}')" % bot["id"])
    assert GH in fed
    # replacing with [] removes them all (and bumps again)
    r = put(admin, bot["id"], [])
    assert r.status_code == 200 and r.json() == []
    assert stored(d, bot["id"]) == "0" and version(d, bot["id"]) == v0 + 3


def long(n, ch="a"):
    return ch * n


def url_of(n):
    """An https:// URL of exactly n bytes."""
    base = "https://i.example.com/"
    return base + "p" * (n - len(base))


def claims_of(n):
    return {"c%d" % i: "v" for i in range(n)}


# (rules that pass, rules that fail with this text in the message)
LIMITS = [
    ([rule()] * 16, [rule()] * 17, "at most 16 federation rules"),
    ([rule(issuer=url_of(512))], [rule(issuer=url_of(513))], "rules[0].issuer"),
    ([rule(audience=long(512))], [rule(audience=long(513))], "rules[0].audience"),
    ([rule(subject=long(1024))], [rule(subject=long(1025))], "rules[0].subject"),
    ([rule(claims=claims_of(16))], [rule(claims=claims_of(17))], "at most 16 claims"),
    ([rule(claims={long(128): "v"})], [rule(claims={long(129): "v"})], "claim name"),
    ([rule(claims={"c": long(512)})], [rule(claims={"c": long(513)})], 'rules[0].claims["c"]'),
]


@pytest.mark.parametrize("good, bad, why", LIMITS)
def test_limits_just_under_and_over(dockhand, admin, bot, good, bad, why):
    r = put(admin, bot["id"], good)
    assert r.status_code == 200 and len(r.json()) == len(good), A.show(r)
    r = put(admin, bot["id"], bad)
    A.bad_request(r)
    assert why in r.json()["errors"][0]["message"], A.show(r)
    assert admin.get(path(bot["id"])).json() == [dict(x, claims=x.get("claims", {}))
                                                 for x in good]


BAD = [
    ([rule(issuer="http://insecure.example.com")], "rules[0].issuer"),
    ([rule(issuer="https://")], "rules[0].issuer"),
    ([rule(issuer="https://user:pw@example.com")], "rules[0].issuer"),
    ([rule(issuer="https://example.com/#frag")], "rules[0].issuer"),
    ([rule(issuer="https://example.com/?q=1")], "rules[0].issuer"),
    ([rule(issuer="https://exa mple.com")], "rules[0].issuer"),
    ([rule(), rule(issuer="ftp://x")], "rules[1].issuer"),
    ([rule(subject="")], "rules[0].subject"),
    ([rule(subject="a\nb")], "rules[0].subject"),
    ([rule(subject="a\u0000b")], ""),  # refused as JSON already
    ([rule(audience="")], "rules[0].audience"),
    ([rule(audience=5)], "rules[0].audience"),
    ([rule(claims={"c": ""})], 'rules[0].claims["c"]'),
    ([rule(claims={"c": 1})], "rules[0].claims"),
    ([rule(claims={"c": ["a"]})], "rules[0].claims"),
    ([rule(claims=["a"])], "rules[0].claims"),
    ([rule(claims={"": "v"})], "claim name"),
    ([{"subject": "s"}], "rules[0].issuer"),
    ([{"issuer": GH}], "rules[0].subject"),
    ([dict(rule(), extra=1)], "unknown field"),
    (["https://x"], "rules[0] must be an object"),
    ({"issuer": GH}, "array"),
    ('{"x": 1, "x": 2}', "malformed JSON"),
]


def test_bad_rules_are_400_and_change_nothing(dockhand, admin, bot):
    keep = [rule(claims={"repository": "acme/app"})]
    assert put(admin, bot["id"], keep).status_code == 200
    v = version(dockhand, bot["id"])
    for body, why in BAD:
        r = put(admin, bot["id"], body)
        A.bad_request(r)
        assert why in r.json()["errors"][0]["message"], (body, A.show(r))
    assert admin.get(path(bot["id"])).json() == keep
    assert version(dockhand, bot["id"]) == v


def test_sql_metacharacters_are_stored_as_text(dockhand, admin, bot):
    nasty = "x'); DELETE FROM robots; --\\ \"*%_$1"
    rules = [rule(subject=nasty, audience=nasty, claims={nasty: nasty, "é": "ü*"})]
    r = put(admin, bot["id"], rules)
    assert r.status_code == 200, A.show(r)
    assert r.json() == rules
    assert admin.get("/robots/%d" % bot["id"]).status_code == 200


def test_unknown_robot_bad_id_and_method(dockhand, admin):
    A.not_found(admin.get(path(999999999)))
    A.not_found(put(admin, 999999999, [rule()]))
    A.bad_request(admin.get("/robots/x/federation"))
    assert admin.get("/robots/1/federations").status_code in (400, 404)
    r = admin.request("POST", path(1), json=[])
    assert r.status_code == 405, A.show(r)


def test_robots_and_anonymous_cannot_use_it(dockhand, admin, bot):
    A.forbidden(admin.as_user(bot["name"], bot["secret"]).get(path(bot["id"])))
    A.unauthorized(admin.anonymous().put(path(bot["id"]), json=[]))


def test_a_deleted_robot_takes_its_rules(dockhand, admin):
    r = dockhand.create_robot(A.new_name("fedgone"))
    assert put(admin, r["id"], [rule()]).status_code == 200
    admin.delete_robot(r["id"])
    assert stored(dockhand, r["id"]) == "0"
    A.not_found(admin.get(path(r["id"])))


def test_cli_add_list_remove(dockhand):
    d = dockhand
    r = d.create_robot(A.new_name("fedcli"))
    n = r["name"]
    p = d.cli("robot", "federation", "add", n, "--issuer-url", GH, "--subject", "repo:acme/*",
              "--claim", "repository=acme/app", "--claim", "ref=refs/heads/*")
    assert "added federation rule 1" in p.stdout, p.stdout
    d.cli("robot", "federation", "add", str(r["id"]), "--issuer-url", "https://gitlab.com",
          "--subject", "project_path:acme/app:*", "--audience", "dockhand")
    got = d.cli_json("robot", "federation", "list", n)
    assert got == [rule(subject="repo:acme/*",
                        claims={"repository": "acme/app", "ref": "refs/heads/*"}),
                   rule(issuer="https://gitlab.com", subject="project_path:acme/app:*",
                        audience="dockhand", claims={})]
    table = d.cli("robot", "federation", "list", n).stdout
    assert "INDEX" in table and GH in table and "repository=acme/app" in table, table
    # refused: bad input (exit 1, nothing changes), an index that does not exist
    p = d.cli("robot", "federation", "add", n, "--issuer-url", "http://x", "--subject", "s",
              check=False)
    assert p.returncode == 1 and "issuer" in p.stderr, p.stderr
    p = d.cli("robot", "federation", "add", n, "--issuer-url", GH, "--subject", "s",
              "--claim", "novalue", check=False)
    assert p.returncode == 2 and "NAME=VALUE" in p.stderr, p.stderr
    p = d.cli("robot", "federation", "remove", n, "3", check=False)
    assert p.returncode == 1 and "no federation rule 3" in p.stderr, p.stderr
    assert len(d.cli_json("robot", "federation", "list", n)) == 2
    d.cli("robot", "federation", "remove", n, "1")
    assert [x["issuer"] for x in d.cli_json("robot", "federation", "list", n)] == \
        ["https://gitlab.com"]
    d.cli("robot", "federation", "remove", n, "--all")
    assert d.cli_json("robot", "federation", "list", n) == []
    assert "no federation rules" in d.cli("robot", "federation", "list", n).stdout
    p = d.cli("robot", "federation", "list", "no-such-robot", check=False)
    assert p.returncode == 1 and "not found" in p.stderr, p.stderr
    # the CLI's changes are audited as the CLI's
    items, _ = A.ensure_admin(d).audit({"page_size": "100", "q": "operation=update"})
    mine = [e for e in items if e["resource"] == n and A.detail_of(e) == {"changed": ["federation"]}]
    assert len(mine) == 4 and all(e["username"].startswith("cli:") for e in mine), mine
