"""Harbor's own API definition as JSON Schema, to validate the admin API's models.

docs/design.md §5: the admin API's models validate against Harbor's own definitions in
`reference/harbor-v2.0-swagger.yaml` in the project's shared folder. The shared folder
sits beside the clone (`<repo>/../shared`; CI keeps a copy there). The file is read with
python3-yaml and checked with python3-jsonschema after converting its Swagger 2.0
`definitions` to JSON Schema (draft 4, which Swagger 2.0 is built on):

- `$ref: '#/definitions/X'` stays a reference into the converted definitions;
- `x-*` vendor keys, `example`, `description`, `readOnly`, … are dropped;
- `x-nullable: true` lets the value be null (Swagger 2.0 has no null otherwise);
- `format` is checked loosely: `date-time` must be RFC 3339, `int32`/`int64`/`int`
  integers must fit; every other format (uri, float64, …) is accepted as is.

Swagger 2.0 definitions rarely say `required`, and never forbid extra properties, so a
schema check proves types, not presence: the suites check the fields dockhand promises
on top (helpers.api).
"""

import os
import re
from pathlib import Path

import jsonschema
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DIR = REPO_ROOT.parent / "shared"
SWAGGER_PATH = SHARED_DIR / "reference" / "harbor-v2.0-swagger.yaml"

# The definitions the admin API answers with (and the request bodies the suites send).
RESPONSE_MODELS = ("Robot", "RobotCreated", "RobotSec", "RobotPermission", "Access",
                   "Project", "Errors", "Error", "AuditLog", "ConfigurationsResponse",
                   "IntegerConfigItem", "StringConfigItem", "Permissions", "Permission")
REQUEST_MODELS = ("RobotCreate", "Robot", "RobotSec", "ProjectReq", "Configurations")

# Keys of a Swagger schema object that say nothing a validator can check.
_DROPPED = {"description", "example", "readOnly", "discriminator", "xml", "externalDocs",
            "title", "default"}

_RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$",
                      re.IGNORECASE)
_INT_RANGES = {"int8": 8, "int32": 32, "int": 64, "int64": 64}


class SwaggerError(AssertionError):
    """A model that does not validate, or a definitions file that cannot be used."""


def swagger_path():
    return SWAGGER_PATH


def _missing_message():
    return ("Harbor's API definition is not at %s. The suites expect the project's shared "
            "folder beside the clone (<repo>/../shared, as CI provides it) holding "
            "reference/harbor-v2.0-swagger.yaml." % SWAGGER_PATH)


def convert(schema, where="?"):
    """One Swagger 2.0 schema object → a JSON Schema (draft 4) object."""
    if not isinstance(schema, dict):
        raise SwaggerError("%s: a schema must be an object, got %r" % (where, schema))
    nullable = schema.get("x-nullable") is True
    out = {}
    for key, value in schema.items():
        if key.startswith("x-") or key in _DROPPED:
            continue
        if key == "properties":
            out[key] = {name: convert(sub, "%s.%s" % (where, name))
                        for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = convert(value, "%s.%s" % (where, key))
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [convert(sub, "%s.%s[%d]" % (where, key, i))
                        for i, sub in enumerate(value)]
        elif key == "$ref":
            if not (isinstance(value, str) and value.startswith("#/definitions/")):
                raise SwaggerError("%s: unsupported $ref %r" % (where, value))
            out[key] = value
        else:
            out[key] = value
    if "$ref" in out:
        # In Swagger 2.0 (and draft 4), keys beside $ref are ignored.
        ref = {"$ref": out["$ref"]}
        return {"anyOf": [ref, {"type": "null"}]} if nullable else ref
    if nullable:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = out["enum"] + [None]
    return out


def _format_checker():
    checker = jsonschema.FormatChecker(formats=())

    @checker.checks("date-time")
    def _date_time(value):
        return not isinstance(value, str) or bool(_RFC3339.match(value))

    for name, bits in _INT_RANGES.items():
        def _fits(value, bits=bits):
            if isinstance(value, bool) or not isinstance(value, int):
                return True
            return -(1 << (bits - 1)) <= value < (1 << (bits - 1))
        checker.checks(name)(_fits)
    return checker


class Swagger:
    """The converted definitions of one Swagger 2.0 file."""

    def __init__(self, path=None):
        path = Path(path) if path is not None else SWAGGER_PATH
        if not path.is_file():
            raise SwaggerError(_missing_message())
        with open(path, "rb") as f:
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            doc = yaml.load(f, Loader=loader)
        if not isinstance(doc, dict) or doc.get("swagger") != "2.0" \
                or not isinstance(doc.get("definitions"), dict):
            raise SwaggerError("%s is not a Swagger 2.0 document with definitions" % path)
        self.path = path
        self.document = doc
        self.base_path = doc.get("basePath")
        self.raw = doc["definitions"]
        self.definitions = {name: convert(s, name) for name, s in self.raw.items()}
        self._checker = _format_checker()
        self._validators = {}

    def names(self):
        return sorted(self.definitions)

    def has(self, name):
        return name in self.definitions

    def properties(self, name):
        """The property names a definition declares."""
        return set(self._require(name).get("properties", {}))

    def _require(self, name):
        if name not in self.definitions:
            raise SwaggerError("%s has no definition %r (it has: %s)"
                               % (self.path, name, ", ".join(self.names())))
        return self.definitions[name]

    def _validator(self, name, many):
        key = (name, many)
        v = self._validators.get(key)
        if v is None:
            self._require(name)
            ref = {"$ref": "#/definitions/" + name}
            root = {"definitions": self.definitions}
            if many:
                root.update({"type": "array", "items": ref})
            else:
                root["allOf"] = [ref]
            jsonschema.Draft4Validator.check_schema(root)
            v = jsonschema.Draft4Validator(root, format_checker=self._checker)
            self._validators[key] = v
        return v

    def errors(self, name, instance, many=False):
        """Every way instance fails definition name (many: an array of them), as text."""
        v = self._validator(name, many)
        out = []
        for e in sorted(v.iter_errors(instance), key=lambda e: list(e.absolute_path)):
            path = "$" + "".join("[%d]" % p if isinstance(p, int) else ".%s" % p
                                 for p in e.absolute_path)
            out.append("%s: %s" % (path, e.message))
        return out

    def validate(self, name, instance, many=False):
        """Raises SwaggerError listing every violation; returns instance."""
        problems = self.errors(name, instance, many)
        if problems:
            shown = repr(instance)
            if len(shown) > 1500:
                shown = shown[:1500] + "…"
            raise SwaggerError("%s%s does not validate against Harbor's definition:\n  %s\n"
                               "value: %s" % (name, "[]" if many else "",
                                              "\n  ".join(problems[:20]), shown))
        return instance


_LOADED = None


def load():
    """The Swagger of the shared folder (read once per process)."""
    global _LOADED
    if _LOADED is None:
        _LOADED = Swagger()
    return _LOADED


def validate(name, instance):
    """Validates one object against definition name; returns it."""
    return load().validate(name, instance)


def validate_list(name, instances):
    """Validates a JSON array of definition name; returns it."""
    return load().validate(name, instances, many=True)


def available():
    """None when the definitions file is present, else why not."""
    return None if os.path.isfile(SWAGGER_PATH) else _missing_message()
