"""Harbor's definitions as the API suites use them (helpers.swagger), and the suites'
own answer checks (helpers.api), proven on hand-written objects. No server needed."""

import copy

import pytest

from helpers import api, swagger

GOOD_ROBOT = {
    "id": 7, "name": "robot$demo+ci", "description": "ci for demo", "level": "project",
    "duration": 30, "editable": True, "disable": False, "expires_at": 1798761600,
    "permissions": [{"kind": "project", "namespace": "demo",
                     "access": [{"resource": "repository", "action": "pull"},
                                {"resource": "repository", "action": "push"}]}],
    "creation_time": "2026-11-28T10:00:00Z", "update_time": "2026-11-28T10:00:00.123Z",
    "last_used": None, "project_count": 1,
}
GOOD = {
    "Robot": GOOD_ROBOT,
    "RobotCreated": {"id": 7, "name": "robot$ci", "secret": "A" * 10 + "b" * 11 + "1" * 11,
                     "creation_time": "2026-11-28T10:00:00+00:00", "expires_at": -1},
    "RobotSec": {"secret": "Abcdefgh1"},
    "RobotPermission": GOOD_ROBOT["permissions"][0],
    "Access": {"resource": "catalog", "action": "read"},
    "Project": {"project_id": 3, "name": "demo", "metadata": {"public": "true"},
                "creation_time": "2026-11-28T10:00:00Z", "update_time": "2026-11-28T10:00:00Z"},
    "Errors": {"errors": [{"code": "NOT_FOUND", "message": "robot 9 not found"}]},
    "AuditLog": {"id": 1, "username": "alice", "resource": "robot$ci", "resource_type": "robot",
                 "operation": "create", "op_time": "2026-11-28T10:00:00Z",
                 "client_ip": "127.0.0.1", "request_id": "abc", "detail": {"jti": "x"}},
    "ConfigurationsResponse": {k: dict(v) for k, v in api.CONFIG_DEFAULTS.items()},
    "Permissions": {"system": [{"resource": "catalog", "action": "read"}],
                    "project": [{"resource": "repository", "action": "pull"}]},
    "RobotCreate": {"name": "ci", "level": "system", "duration": -1, "disable": False,
                    "description": "", "permissions": [
                        {"kind": "project", "namespace": "*",
                         "access": [{"resource": "repository", "action": "pull"}]}]},
    "ProjectReq": {"project_name": "demo", "metadata": {"public": "false"}},
    "Configurations": {"robot_token_duration": 7, "robot_name_prefix": "bot-",
                       "token_expiration": 5},
}


def _with(obj, path, value):
    """A deep copy of obj with the item at path (keys/indexes) replaced."""
    out = copy.deepcopy(obj)
    cur = out
    for step in path[:-1]:
        cur = cur[step]
    cur[path[-1]] = value
    return out


BAD = [
    ("Robot", _with(GOOD_ROBOT, ["id"], "7"), "$.id"),
    ("Robot", _with(GOOD_ROBOT, ["id"], True), "$.id"),
    ("Robot", _with(GOOD_ROBOT, ["id"], 7.5), "$.id"),
    ("Robot", _with(GOOD_ROBOT, ["expires_at"], None), "$.expires_at"),
    ("Robot", _with(GOOD_ROBOT, ["disable"], "false"), "$.disable"),
    ("Robot", _with(GOOD_ROBOT, ["creation_time"], "2026-11-28 10:00:00"), "$.creation_time"),
    ("Robot", _with(GOOD_ROBOT, ["creation_time"], 1798761600), "$.creation_time"),
    ("Robot", _with(GOOD_ROBOT, ["permissions"], {"kind": "project"}), "$.permissions"),
    ("Robot", _with(GOOD_ROBOT, ["permissions", 0, "access", 1, "action"], 5),
     "$.permissions[0].access[1].action"),
    ("RobotCreated", _with(GOOD["RobotCreated"], ["expires_at"], "never"), "$.expires_at"),
    ("RobotSec", {"secret": 12345678}, "$.secret"),
    ("Project", _with(GOOD["Project"], ["project_id"], 2 ** 31), "$.project_id"),
    ("Project", _with(GOOD["Project"], ["metadata", "public"], True), "$.metadata.public"),
    ("Errors", {"errors": [None]}, "$.errors[0]"),
    ("Errors", {"errors": [{"code": 404, "message": "x"}]}, "$.errors[0].code"),
    ("AuditLog", _with(GOOD["AuditLog"], ["op_time"], "yesterday"), "$.op_time"),
    ("ConfigurationsResponse",
     _with(GOOD["ConfigurationsResponse"], ["robot_token_duration", "value"], "30"),
     "$.robot_token_duration.value"),
    ("ConfigurationsResponse",
     _with(GOOD["ConfigurationsResponse"], ["robot_name_prefix", "editable"], "yes"),
     "$.robot_name_prefix.editable"),
    ("Permissions", {"system": [{"resource": 1, "action": "read"}]}, "$.system[0].resource"),
]


def test_the_shared_definitions_file_is_found():
    assert swagger.available() is None, swagger.available()
    s = swagger.load()
    assert s.base_path == api.API
    assert len(s.names()) > 100


@pytest.mark.parametrize("name", sorted(set(swagger.RESPONSE_MODELS + swagger.REQUEST_MODELS)))
def test_every_model_the_suites_use_is_defined(name):
    s = swagger.load()
    assert s.has(name), "%s is not in %s" % (name, s.path)
    assert s.definitions[name].get("type") == "object", s.definitions[name]


def test_harbor_robot_declares_what_dockhand_shows():
    """Dockhand's extras (last_used, …) are extra; the rest is Harbor's."""
    declared = swagger.load().properties("Robot")
    assert api.ROBOT_FIELDS - declared == {"last_used"}
    assert api.CREATED_FIELDS <= swagger.load().properties("RobotCreated")
    assert api.PROJECT_FIELDS <= swagger.load().properties("Project")
    assert {"id", "username", "resource", "resource_type", "operation", "op_time"} \
        <= swagger.load().properties("AuditLog")
    assert api.CONFIG_KEYS <= swagger.load().properties("ConfigurationsResponse")


@pytest.mark.parametrize("name", sorted(GOOD))
def test_known_good_objects_validate(name):
    assert swagger.validate(name, GOOD[name]) is GOOD[name]


def test_known_good_lists_validate():
    swagger.validate_list("Robot", [GOOD_ROBOT, GOOD_ROBOT])
    swagger.validate_list("Robot", [])
    swagger.validate_list("AuditLog", [GOOD["AuditLog"]])


def test_x_nullable_allows_null_and_only_there():
    swagger.validate("Robot", _with(GOOD_ROBOT, ["duration"], None))  # x-nullable: true
    with pytest.raises(swagger.SwaggerError):
        swagger.validate("Robot", _with(GOOD_ROBOT, ["level"], None))
    swagger.validate("ProjectReq", {"project_name": "x", "storage_limit": None})


@pytest.mark.parametrize("name,obj,where", BAD, ids=["%s %s" % (b[0], b[2]) for b in BAD])
def test_known_bad_objects_fail_where_they_are_bad(name, obj, where):
    with pytest.raises(swagger.SwaggerError) as e:
        swagger.validate(name, obj)
    assert where + ":" in str(e.value), str(e.value)


def test_a_list_of_models_fails_on_its_bad_item():
    with pytest.raises(swagger.SwaggerError) as e:
        swagger.validate_list("Robot", [GOOD_ROBOT, _with(GOOD_ROBOT, ["name"], 5)])
    assert "$[1].name:" in str(e.value)
    with pytest.raises(swagger.SwaggerError):
        swagger.validate_list("Robot", GOOD_ROBOT)


def test_unknown_definition_is_reported():
    with pytest.raises(swagger.SwaggerError) as e:
        swagger.validate("NoSuchModel", {})
    assert "NoSuchModel" in str(e.value)


def test_conversion_rules_on_a_small_document(tmp_path):
    doc = tmp_path / "mini.yaml"
    doc.write_text("""
swagger: '2.0'
basePath: /api/v2.0
paths: {}
definitions:
  Outer:
    type: object
    x-go-name: Outer
    properties:
      when: {type: string, format: date-time, example: '2006-01-02T15:04:05Z'}
      n: {type: integer, format: int32, x-omitempty: false}
      tag: {type: string, format: uri}
      inner: {$ref: '#/definitions/Inner', description: ignored beside a $ref}
      maybe: {$ref: '#/definitions/Inner', x-nullable: true}
      list: {type: array, items: {$ref: '#/definitions/Inner'}}
  Inner:
    type: object
    required: [k]
    properties:
      k: {type: string, enum: [a, b], x-nullable: true}
""")
    s = swagger.Swagger(doc)
    assert "x-go-name" not in s.definitions["Outer"]
    assert s.definitions["Outer"]["properties"]["inner"] == {"$ref": "#/definitions/Inner"}
    assert s.definitions["Inner"]["properties"]["k"]["enum"] == ["a", "b", None]
    good = {"when": "2026-01-02T03:04:05+01:00", "n": 5, "tag": "not a uri at all",
            "inner": {"k": "a"}, "maybe": None, "list": [{"k": None}]}
    assert s.errors("Outer", good) == []
    assert s.errors("Outer", dict(good, n=2 ** 40)) == ["$.n: 1099511627776 is not a 'int32'"]
    assert s.errors("Outer", dict(good, inner=None)) == ["$.inner: None is not of type 'object'"]
    assert s.errors("Outer", dict(good, inner={})) == ["$.inner: 'k' is a required property"]
    assert s.errors("Outer", dict(good, list=[{"k": "c"}])) == \
        ["$.list[0].k: 'c' is not one of ['a', 'b', None]"]
    assert s.errors("Outer", dict(good, when="2026-01-02")) == \
        ["$.when: '2026-01-02' is not a 'date-time'"]


def test_a_missing_definitions_file_fails_clearly(tmp_path):
    with pytest.raises(swagger.SwaggerError) as e:
        swagger.Swagger(tmp_path / "nothing.yaml")
    assert "shared" in str(e.value) and "harbor-v2.0-swagger.yaml" in str(e.value)
    bad = tmp_path / "openapi3.yaml"
    bad.write_text("openapi: 3.0.0\ncomponents: {}\n")
    with pytest.raises(swagger.SwaggerError):
        swagger.Swagger(bad)


# --- the answer checks of helpers.api ------------------------------------------------


def test_check_robot_accepts_a_good_robot_and_names_what_is_wrong():
    robot = _with(GOOD_ROBOT, ["expires_at"], api.epoch(GOOD_ROBOT["creation_time"]) + 30 * 86400)
    api.check_robot(robot)
    for bad, why in ((dict(robot, secret="x"), "secret"),
                     (_with(robot, ["permissions", 0, "salt"], "x"), "salt"),
                     ({k: v for k, v in robot.items() if k != "last_used"}, "last_used"),
                     (dict(robot, expires_at=robot["expires_at"] + 3600), "expires_at"),
                     (dict(robot, name="bot-x"), "robot$"),
                     (dict(robot, duration=None), "duration")):
        with pytest.raises(AssertionError) as e:
            api.check_robot(bad)
        assert why in str(e.value), (why, str(e.value))
    api.check_robot(dict(robot, duration=-1, expires_at=-1))
    api.check_robot(dict(robot, expires_at=5), consistent=False)
    api.check_robot(dict(robot, name="bot-x"), prefix="bot-")


def test_check_created_wants_exactly_the_export_fields():
    import time
    good = dict(GOOD["RobotCreated"], secret="Abcdefghij0123456789KLMNOPqrstuv",
                creation_time=api.rfc3339(time.time()))
    api.check_created(good)
    with pytest.raises(AssertionError):
        api.check_created(dict(good, description=""))
    with pytest.raises(AssertionError):
        api.check_created(dict(good, secret="short1A"))
    with pytest.raises(AssertionError):
        api.check_created(dict(good, secret="a" * 32))  # no upper case, no digit


def test_parse_link_reads_the_contract_form():
    header = ('</api/v2.0/robots?page=1&page_size=10&q=name%3D~lst>; rel="prev", '
              '</api/v2.0/robots?page=3&page_size=10&q=name%3D~lst>; rel="next"')
    links = api.parse_link(header)
    assert links["prev"][0] == "/api/v2.0/robots"
    assert links["prev"][1] == {"page": "1", "page_size": "10", "q": "name=~lst"}
    assert links["next"][1]["page"] == "3"
    assert api.parse_link(None) == {} and api.parse_link("") == {}
    for bad in ('<http://x/api/v2.0/robots?page=2>; rel="next"',
                '</api/v2.0/robots?page=2>; rel=next',
                '</api/v2.0/robots?page=2>;rel="next"',
                '</api/v2.0/robots?page=2>; rel="next",</api/v2.0/robots?page=1>; rel="prev"',
                '</api/v2.0/robots?page=2>; rel="last"'):
        with pytest.raises(AssertionError):
            api.parse_link(bad)


def test_epoch_reads_rfc3339():
    assert api.epoch("1970-01-01T00:00:10Z") == 10
    assert api.epoch("1970-01-01T01:00:10+01:00") == 10
    assert api.epoch("1970-01-01T00:00:10.999Z") == 10
    with pytest.raises(AssertionError):
        api.epoch("1970-01-01 00:00:10")
    assert api.epoch(api.rfc3339(1798761600)) == 1798761600


def test_normalize_permissions_ignores_order():
    a = [api.perm("x", "pull", "push"), api.catalog_perm()]
    b = [api.catalog_perm(), api.perm("x", "push", "pull")]
    assert api.normalize_permissions(a) == api.normalize_permissions(b)
    assert api.normalize_permissions(a) != api.normalize_permissions([api.perm("x", "pull")])
    assert api.access("pull", "delete", "tag:create", ("catalog", "read")) == [
        {"resource": "repository", "action": "pull"},
        {"resource": "artifact", "action": "delete"},
        {"resource": "tag", "action": "create"},
        {"resource": "catalog", "action": "read"}]
