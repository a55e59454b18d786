"""CustomResourceDefinitions: the apiextensions.k8s.io/v1 kind, the resources each CRD
makes the server serve, and what a CRD's schema does to its objects.

Real behaviour imitated (k8s.io/apiextensions-apiserver):
- Creating a CRD makes every `served` version of it appear in discovery (/apis, the
  group, the group version with `<plural>/status` when the version has the status
  subresource) and at its URLs; deleting it deletes its objects (the
  customresourcecleanup finalizer: watchers see each DELETED), then the resource goes:
  open watches on it end, its URLs and its group (if no other CRD serves it) answer 404.
- The versions share one storage; the conversion strategy None only changes apiVersion.
- Custom resources: generation 1 on create, bumped when anything but metadata (and
  status, with the status subresource) changes; with the status subresource, create
  drops status and the main resource keeps the stored one.
- Each write, /status included, is pruned (unknown fields dropped unless
  x-kubernetes-preserve-unknown-fields), defaulted (structural defaulting: a missing
  field with a default gets it, then defaulting goes on inside it) and validated against
  the version's openAPIV3Schema: type, required, enum, minimum/maximum, min/maxItems,
  min/maxLength, pattern, and the CEL transition rule `self == oldSelf` (immutable).
  Other CEL rules and formats are not evaluated.
- The CRD's status: NamesAccepted and Established true at once (a real server takes a
  moment), acceptedNames, storedVersions.
"""

import copy
import json
import re
import time
from pathlib import Path

from .resources import ResourceType, _immutable, _required, _unsupported

# The Gateway API standard channel's CRDs (trimmed: tests/fakes/trim_crds.py), installed
# unless --without-gateway-api, and applied by FakeApiServer::install_gateway_api().
GATEWAY_API_CRDS = Path(__file__).resolve().parent.parent / "gateway_api_crds.json"

_SCOPES = ("Namespaced", "Cluster")


def _now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def prepare_crd(obj, old, ctx):
    # apiextensions validation a CRD author runs into, its defaults, and the status the
    # naming and establishing controllers write.
    causes = []
    spec = obj.setdefault("spec", {})
    names = spec.setdefault("names", {})
    for field in ("group", "scope"):
        if not spec.get(field):
            causes.append(_required(f"spec.{field}"))
    for field in ("plural", "kind"):
        if not names.get(field):
            causes.append(_required(f"spec.names.{field}"))
    if spec.get("scope") and spec["scope"] not in _SCOPES:
        causes.append(_unsupported("spec.scope", spec["scope"], _SCOPES))
    versions = spec.get("versions") or []
    if not versions:
        causes.append(_required("spec.versions"))
    elif sum(1 for v in versions if v.get("storage")) != 1:
        causes.append(("spec.versions", "FieldValueInvalid", "Invalid value: must have exactly one version marked "
                                                             "as storage version"))
    if causes:
        return causes
    expected = f"{names['plural']}.{spec['group']}"
    if obj["metadata"]["name"] != expected:
        causes.append(("metadata.name", "FieldValueInvalid", f'Invalid value: "{obj["metadata"]["name"]}": must be '
                                                             f'spec.names.plural+"."+spec.group'))
    if old:
        for field in ("group", "scope"):
            if old["spec"].get(field) != spec[field]:
                causes.append(_immutable(f"spec.{field}", spec[field]))
    names.setdefault("singular", names["kind"].lower())
    names.setdefault("listKind", names["kind"] + "List")
    spec.setdefault("conversion", {"strategy": "None"})
    storage = next(v["name"] for v in versions if v.get("storage"))
    status = (old or {}).get("status") or {}
    stored = list(status.get("storedVersions") or [])
    now = _now()
    obj["status"] = {
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
             "message": "no conflicts found", "lastTransitionTime": now},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted", "lastTransitionTime": now},
        ],
        "acceptedNames": copy.deepcopy(names),
        "storedVersions": stored + [storage] if storage not in stored else stored,
    }
    if old and old.get("status", {}).get("conditions"):
        obj["status"]["conditions"] = old["status"]["conditions"]  # unchanged, so their times stay
    return causes


CRDS = ResourceType("apiextensions.k8s.io", "v1", "customresourcedefinitions", "customresourcedefinition",
                    "CustomResourceDefinition", False, ("crd", "crds"), ("api-extensions",), has_generation=True,
                    status_subresource=True, prepare=prepare_crd)


def served_types(crd):
    """The resource types a stored CRD serves: one per version with served: true. Their
    storage is the CRD's name (<plural>.<group>), shared by all of its versions."""
    spec = crd["spec"]
    names = spec["names"]
    storage_version = next(v["name"] for v in spec["versions"] if v.get("storage"))
    stored_api_version = f"{spec['group']}/{storage_version}"
    types = []
    for version in spec["versions"]:
        if not version.get("served"):
            continue
        api_version = f"{spec['group']}/{version['name']}"
        status = "status" in (version.get("subresources") or {})
        schema = Schema(((version.get("schema") or {}).get("openAPIV3Schema")) or {})
        types.append(ResourceType(
            spec["group"], version["name"], names["plural"], names["singular"], names["kind"],
            spec["scope"] == "Namespaced", tuple(names.get("shortNames") or ()), tuple(names.get("categories") or ()),
            has_generation=True, generation_ignores=("metadata", "status") if status else ("metadata",),
            status_subresource=status, empty_status=None, storage=crd["metadata"]["name"],
            to_view=_with_api_version(api_version), from_view=_with_api_version(stored_api_version),
            admit=schema.admit))
    return types


def _with_api_version(api_version):
    return lambda obj: dict(obj, apiVersion=api_version)


def gateway_api_crds():
    """The CRD objects of the Gateway API standard install, as `kubectl apply` sends them."""
    with open(GATEWAY_API_CRDS, encoding="utf-8") as source:
        return json.load(source)["items"]


# ---- structural schemas ----

_TYPES = {"string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,), "object": (dict,),
          "array": (list,)}


def _type_ok(value, kind):
    if kind not in _TYPES:
        return True
    if isinstance(value, bool) and kind != "boolean":
        return False
    return isinstance(value, _TYPES[kind])


def _type_name(value):
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer"}.get(type(value), "number")


class Schema:
    """One version's openAPIV3Schema, applied to each object written through it."""

    def __init__(self, schema):
        self.schema = schema

    def admit(self, obj, old):
        # apiVersion, kind and metadata are the server's: never pruned or defaulted.
        kept = {key: obj.pop(key) for key in ("apiVersion", "kind", "metadata") if key in obj}
        _prune(obj, self.schema)
        _default(obj, self.schema)
        rest = {key: obj.pop(key) for key in list(obj)}
        obj.update(kept)
        obj.update(rest)
        causes = []
        _validate(obj, self.schema, "", causes, root=True)
        if old is not None:
            _check_transitions(obj, old, self.schema, "", causes)
        return causes


def _children(value, schema):
    """(key, child value, child schema) for the fields of an object or items of a list."""
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, child in value.items():
            child_schema = properties.get(key, extra if isinstance(extra, dict) else None)
            if child_schema is not None:
                yield key, child, child_schema
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, child in enumerate(value):
            yield i, child, schema["items"]


def _prune(value, schema):
    if isinstance(value, dict) and "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields") \
            and not schema.get("additionalProperties"):
        for key in [k for k in value if k not in schema["properties"]]:
            del value[key]
    for _, child, child_schema in _children(value, schema):
        _prune(child, child_schema)


def _default(value, schema):
    if isinstance(value, dict):
        for key, prop in (schema.get("properties") or {}).items():
            if "default" in prop and (key not in value or (value[key] is None and not prop.get("nullable"))):
                value[key] = copy.deepcopy(prop["default"])
    elif isinstance(value, list) and isinstance(schema.get("items"), dict) and "default" in schema["items"]:
        for i, item in enumerate(value):
            if item is None:
                value[i] = copy.deepcopy(schema["items"]["default"])
    for _, child, child_schema in _children(value, schema):
        _default(child, child_schema)


def _path(parent, key):
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def _validate(value, schema, where, causes, root=False):
    def invalid(message, reason="FieldValueInvalid"):
        causes.append((where, reason, message))

    if value is None:
        if not schema.get("nullable") and schema.get("type"):
            invalid(f'Invalid value: "null": {where} in body must be of type {schema["type"]}: "null"',
                    "FieldValueTypeInvalid")
        return
    kind = schema.get("type")
    if kind and not schema.get("x-kubernetes-int-or-string") and not _type_ok(value, kind):
        shown = _type_name(value)
        invalid(f'Invalid value: "{shown}": {where} in body must be of type {kind}: "{shown}"',
                "FieldValueTypeInvalid")
        return
    if "enum" in schema and value not in schema["enum"]:
        causes.append(_unsupported(where, value, schema["enum"]))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            invalid(f"Invalid value: {value}: {where} in body should be greater than or equal to {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            invalid(f"Invalid value: {value}: {where} in body should be less than or equal to {schema['maximum']}")
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            invalid(f'Invalid value: "{value}": {where} in body should be at least {schema["minLength"]} chars long')
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            invalid(f"Too long: may not be longer than {schema['maxLength']}", "FieldValueTooLong")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            invalid(f"Invalid value: \"{value}\": {where} in body should match '{schema['pattern']}'")
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            invalid(f"Invalid value: {len(value)}: {where} in body should have at least {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            invalid(f"Too many: {len(value)}: must have at most {schema['maxItems']} items", "FieldValueTooMany")
    if isinstance(value, dict):
        for key in schema.get("required") or []:
            if key not in value and not (root and key == "metadata"):
                causes.append((_path(where, key), "FieldValueRequired", "Required value"))
    for key, child, child_schema in _children(value, schema):
        if not (root and key == "metadata"):
            _validate(child, child_schema, _path(where, key), causes)


def _check_transitions(value, old, schema, where, causes):
    # The CEL rule `self == oldSelf` runs only where the field exists before and after; its
    # error shows the value's type, as CEL errors do.
    for rule in schema.get("x-kubernetes-validations") or []:
        if rule.get("rule") == "self == oldSelf" and value != old:
            causes.append((where, "FieldValueInvalid", f'Invalid value: "{_type_name(value)}": '
                                                       f"{rule.get('message') or 'failed rule: self == oldSelf'}"))
    if isinstance(value, dict) and isinstance(old, dict):
        for key, child, child_schema in _children(value, schema):
            if key in old:
                _check_transitions(child, old[key], child_schema, _path(where, key), causes)
