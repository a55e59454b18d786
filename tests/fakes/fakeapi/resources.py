"""The resource types the fake serves, their discovery documents, and what the real
registry strategies do to each kind on create/update (defaults, validation, immutable
fields). Only the rules a client of these kinds can run into are imitated.
"""

import base64
import binascii
import re
from dataclasses import dataclass, field

from .selectors import valid_label_key, valid_label_value


def _identity(obj):
    return obj


@dataclass(eq=False)
class ResourceType:
    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple = ()
    categories: tuple = ()
    # Real strategies (Ingress, IngressClass, EndpointSlice) set metadata.generation=1 on
    # create and bump it when anything but these top-level fields changes.
    has_generation: bool = False
    generation_ignores: tuple = ("metadata", "status")
    # With a /status subresource, an update of the main resource keeps the old status and
    # an update of /status changes only status; create starts from an empty status (None:
    # from none, as custom resources do).
    status_subresource: bool = False
    empty_status: dict = field(default_factory=dict)
    # Several APIs can serve one storage (core/v1 and events.k8s.io/v1 Events).
    storage: str = ""
    # fieldSelector labels beyond metadata.name/metadata.namespace: label -> getter(obj).
    field_labels: dict = field(default_factory=dict)
    # Strategic merge patch: field path -> patch merge key.
    merge_keys: dict = field(default_factory=dict)
    to_view: object = _identity    # stored form -> this API's form
    from_view: object = _identity  # this API's form -> stored form
    # prepare(obj, old, ctx): applies defaults in place, returns validation causes
    # [(field, reason, message)]; `old` is None on create.
    prepare: object = None
    # admit(obj, old) -> causes, on every write, /status included: a CRD's schema (pruning,
    # defaults, validation) for custom resources; None for built-in kinds.
    admit: object = None
    name_rule: str = "subdomain"

    def __post_init__(self):
        self.storage = self.storage or self.plural
        self.field_labels = {"metadata.name": lambda o: _get(o, "metadata.name"),
                             "metadata.namespace": lambda o: _get(o, "metadata.namespace"),
                             **self.field_labels}
        self.merge_keys = {("metadata", "ownerReferences"): "uid", **self.merge_keys}

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self):
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def list_kind(self):
        return self.kind + "List"

    def path(self, namespace=None, name=None):
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        base += f"/namespaces/{namespace}/{self.plural}" if namespace else f"/{self.plural}"
        return base + (f"/{name}" if name else "")


def _get(obj, dotted):
    """A field's value as a fieldSelector sees it: missing fields are ""."""
    node = obj
    for part in dotted.split("."):
        if not isinstance(node, dict):
            return ""
        node = node.get(part)
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


def _getter(dotted):
    return lambda obj: _get(obj, dotted)


# ---- name and metadata validation (k8s.io/apimachinery/pkg/util/validation) ----

_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_NAME_RULES = {
    "subdomain": (re.compile(rf"^{_DNS_LABEL}(\.{_DNS_LABEL})*$"), 253,
                  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                  "and must start and end with an alphanumeric character"),
    "label": (re.compile(rf"^{_DNS_LABEL}$"), 63,
              "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
              "and end with an alphanumeric character"),
    "dns1035": (re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$"), 63,
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                "alphabetic character, and end with an alphanumeric character"),
}


def validate_name(rule, name, field="metadata.name"):
    pattern, limit, text = _NAME_RULES[rule]
    if not name:
        return [(field, "FieldValueRequired", "Required value: name or generateName is required")]
    if len(name) > limit:
        return [(field, "FieldValueInvalid", f'Invalid value: "{name}": must be no more than {limit} characters')]
    if not pattern.match(name):
        return [(field, "FieldValueInvalid", f'Invalid value: "{name}": {text}')]
    return []


def validate_metadata(meta):
    causes = []
    for key, value in (meta.get("labels") or {}).items():
        if not valid_label_key(key):
            causes.append((f"metadata.labels", "FieldValueInvalid", f'Invalid value: "{key}": name part must '
                           "consist of alphanumeric characters, '-', '_' or '.'"))
        elif not isinstance(value, str) or not valid_label_value(value):
            causes.append((f"metadata.labels", "FieldValueInvalid", f'Invalid value: "{value}": a valid label '
                           "must be an empty string or consist of alphanumeric characters, '-', '_' or '.'"))
    annotations = meta.get("annotations") or {}
    for key, value in annotations.items():
        if not valid_label_key(key.lower()) or not isinstance(value, str):
            causes.append(("metadata.annotations", "FieldValueInvalid", f'Invalid value: "{key}"'))
    if sum(len(k) + len(v) for k, v in annotations.items() if isinstance(v, str)) > 256 * 1024:
        causes.append(("metadata.annotations", "FieldValueTooLong", "Too long: must have at most 262144 bytes"))
    return causes


def _required(field):
    return (field, "FieldValueRequired", "Required value")


def _immutable(field, value):
    return (field, "FieldValueInvalid", f'Invalid value: "{value}": field is immutable')


def _unsupported(field, value, allowed):
    quoted = ", ".join(f'"{a}"' for a in allowed)
    return (field, "FieldValueNotSupported", f'Unsupported value: "{value}": supported values: {quoted}')


# ---- per-kind strategies ----

def prepare_namespace(obj, old, ctx):
    # Namespace strategy: the "kubernetes" finalizer, phase Active, and (since 1.21) the
    # immutable kubernetes.io/metadata.name label.
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    obj["status"] = (old or {}).get("status") or {"phase": "Active"}
    obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
    return []


def prepare_service(obj, old, ctx):
    # Service defaults and the ClusterIP/NodePort allocators.
    causes = []
    spec = obj.setdefault("spec", {})
    old_spec = (old or {}).get("spec", {})
    kind = spec.setdefault("type", "ClusterIP")
    types = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
    if kind not in types:
        return [_unsupported("spec.type", kind, types)]
    spec.setdefault("sessionAffinity", "None")
    ports = spec.get("ports") or []
    if kind == "ExternalName":
        if not spec.get("externalName"):
            causes.append(_required("spec.externalName"))
    names = set()
    for i, port in enumerate(ports):
        where = f"spec.ports[{i}]"
        number = port.get("port")
        if not isinstance(number, int) or not 1 <= number <= 65535:
            causes.append((f"{where}.port", "FieldValueInvalid",
                           f"Invalid value: {number}: must be between 1 and 65535, inclusive"))
        port.setdefault("protocol", "TCP")
        if kind != "ExternalName":
            port.setdefault("targetPort", number)
        if len(ports) > 1 and not port.get("name"):
            causes.append(_required(f"{where}.name"))
        if port.get("name") in names:
            causes.append((f"{where}.name", "FieldValueDuplicate", f'Duplicate value: "{port["name"]}"'))
        names.add(port.get("name"))
        if kind in ("NodePort", "LoadBalancer") and not port.get("nodePort"):
            old_port = next((p for p in old_spec.get("ports") or [] if p.get("port") == number), {})
            port["nodePort"] = old_port.get("nodePort") or ctx.allocate_node_port()
    if kind == "ExternalName":
        return causes
    cluster_ip = spec.get("clusterIP")
    if old and old_spec.get("clusterIP"):
        if not cluster_ip:
            cluster_ip = old_spec["clusterIP"]
        elif cluster_ip != old_spec["clusterIP"]:
            causes.append(_immutable("spec.clusterIP", cluster_ip))
    elif not cluster_ip:
        cluster_ip = ctx.allocate_cluster_ip()
    spec["clusterIP"] = cluster_ip
    spec["clusterIPs"] = [cluster_ip]
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    spec.setdefault("internalTrafficPolicy", "Cluster")
    if kind in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    return causes


_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


def prepare_secret(obj, old, ctx):
    # Secret: stringData is merged into data (base64) and dropped; type defaults to Opaque
    # and is immutable; a kubernetes.io/tls Secret needs tls.crt and tls.key; an
    # `immutable: true` Secret keeps its data.
    causes = []
    data = obj.get("data") or {}
    for key, value in (obj.pop("stringData", None) or {}).items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    for key, value in data.items():
        if not _SECRET_KEY.match(key):
            causes.append((f"data[{key}]", "FieldValueInvalid", f'Invalid value: "{key}": a valid config key '
                           "must consist of alphanumeric characters, '-', '_' or '.'"))
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, TypeError, ValueError):
            causes.append((f"data[{key}]", "FieldValueInvalid", "Invalid value: illegal base64 data"))
    if data:
        obj["data"] = data
    kind = obj.setdefault("type", "Opaque")
    if kind == "kubernetes.io/tls":
        causes += [_required(f"data[{key}]") for key in ("tls.crt", "tls.key") if key not in data]
    if old:
        if old.get("type") != kind:
            causes.append(_immutable("type", kind))
        if old.get("immutable") and (old.get("data") != obj.get("data") or not obj.get("immutable")):
            causes.append(("data", "FieldForbidden", "Forbidden: field is immutable when `immutable` is set"))
    return causes


_PATH_TYPES = ("Exact", "Prefix", "ImplementationSpecific")


def prepare_ingress(obj, old, ctx):
    # Ingress validation people trip over: pathType is required, and Exact/Prefix paths
    # must be absolute.
    causes = []
    for i, rule in enumerate((obj.get("spec") or {}).get("rules") or []):
        for j, path in enumerate(((rule or {}).get("http") or {}).get("paths") or []):
            where = f"spec.rules[{i}].http.paths[{j}]"
            path_type = path.get("pathType")
            if not path_type:
                causes.append((f"{where}.pathType", "FieldValueRequired",
                               "Required value: pathType must be specified"))
            elif path_type not in _PATH_TYPES:
                causes.append(_unsupported(f"{where}.pathType", path_type, _PATH_TYPES))
            elif path_type != "ImplementationSpecific" and not str(path.get("path", "")).startswith("/"):
                causes.append((f"{where}.path", "FieldValueInvalid",
                               f'Invalid value: "{path.get("path", "")}": must be an absolute path'))
    return causes


def prepare_ingress_class(obj, old, ctx):
    controller = (obj.get("spec") or {}).get("controller")
    if not controller:
        return [_required("spec.controller")]
    if old and old.get("spec", {}).get("controller") != controller:
        return [_immutable("spec.controller", controller)]
    return []


_ADDRESS_TYPES = ("IPv4", "IPv6", "FQDN")


def prepare_endpoint_slice(obj, old, ctx):
    # EndpointSlice: addressType required and immutable, every endpoint has addresses,
    # ports default to protocol TCP and name "".
    causes = []
    address_type = obj.get("addressType")
    if not address_type:
        causes.append(_required("addressType"))
    elif address_type not in _ADDRESS_TYPES:
        causes.append(_unsupported("addressType", address_type, _ADDRESS_TYPES))
    elif old and old.get("addressType") != address_type:
        causes.append(_immutable("addressType", address_type))
    for i, endpoint in enumerate(obj.get("endpoints") or []):
        if not (endpoint or {}).get("addresses"):
            causes.append(_required(f"endpoints[{i}].addresses"))
    for port in obj.get("ports") or []:
        port.setdefault("protocol", "TCP")
        port.setdefault("name", "")
    return causes


def prepare_lease(obj, old, ctx):
    duration = (obj.get("spec") or {}).get("leaseDurationSeconds")
    if duration is not None and (not isinstance(duration, int) or duration <= 0):
        return [("spec.leaseDurationSeconds", "FieldValueInvalid",
                 f"Invalid value: {duration}: must be greater than 0")]
    return []


_EVENT_TYPES = ("Normal", "Warning")


def prepare_core_event(obj, old, ctx):
    kind = obj.get("type")
    if kind and kind not in _EVENT_TYPES:
        return [_unsupported("type", kind, _EVENT_TYPES)]
    return []


def prepare_events_v1_event(obj, old, ctx):
    # events.k8s.io/v1 requires what the new Event API promises its readers.
    causes = [_required(f) for f in ("eventTime", "reportingController", "reportingInstance", "action", "reason")
              if not obj.get(f)]
    if obj.get("type") not in _EVENT_TYPES:
        causes.append(_unsupported("type", obj.get("type", ""), _EVENT_TYPES))
    return causes


# core/v1 Event field <-> events.k8s.io/v1 Event field: the two APIs are views of one
# stored object, converted on the way in and out.
_EVENT_RENAMES = {
    "involvedObject": "regarding", "message": "note", "reportingComponent": "reportingController",
    "source": "deprecatedSource", "firstTimestamp": "deprecatedFirstTimestamp",
    "lastTimestamp": "deprecatedLastTimestamp", "count": "deprecatedCount",
}
_EVENT_SHARED = ("metadata", "eventTime", "series", "action", "reason", "related", "reportingInstance", "type")


def _convert_event(obj, renames, api_version):
    out = {"kind": "Event", "apiVersion": api_version}
    for key in _EVENT_SHARED:
        if key in obj:
            out[key] = obj[key]
    for source, target in renames.items():
        if source in obj:
            out[target] = obj[source]
    return out


def core_event_to_events_v1(obj):
    return _convert_event(obj, _EVENT_RENAMES, "events.k8s.io/v1")


def events_v1_to_core_event(obj):
    return _convert_event(obj, {v: k for k, v in _EVENT_RENAMES.items()}, "v1")


_CORE_EVENT_FIELDS = {f"involvedObject.{f}": _getter(f"involvedObject.{f}")
                      for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")}
_CORE_EVENT_FIELDS.update({"reason": _getter("reason"), "reportingComponent": _getter("reportingComponent"),
                           "source": _getter("source.component"), "type": _getter("type")})
_EVENTS_V1_FIELDS = {f"regarding.{f}": _getter(f"regarding.{f}")
                     for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")}
_EVENTS_V1_FIELDS.update({"reason": _getter("reason"), "reportingController": _getter("reportingController"),
                          "type": _getter("type")})

RESOURCES = [
    ResourceType("", "v1", "namespaces", "namespace", "Namespace", False, ("ns",), status_subresource=True,
                 prepare=prepare_namespace, name_rule="label",
                 field_labels={"status.phase": _getter("status.phase")}),
    ResourceType("", "v1", "services", "service", "Service", True, ("svc",), ("all",), status_subresource=True,
                 empty_status={"loadBalancer": {}}, merge_keys={("spec", "ports"): "port"},
                 prepare=prepare_service, name_rule="dns1035"),
    ResourceType("", "v1", "secrets", "secret", "Secret", True, prepare=prepare_secret,
                 field_labels={"type": _getter("type")}),
    ResourceType("", "v1", "events", "event", "Event", True, ("ev",), prepare=prepare_core_event,
                 field_labels=_CORE_EVENT_FIELDS),
    ResourceType("networking.k8s.io", "v1", "ingresses", "ingress", "Ingress", True, ("ing",),
                 has_generation=True, status_subresource=True, empty_status={"loadBalancer": {}},
                 prepare=prepare_ingress),
    ResourceType("networking.k8s.io", "v1", "ingressclasses", "ingressclass", "IngressClass", False,
                 has_generation=True, prepare=prepare_ingress_class),
    ResourceType("discovery.k8s.io", "v1", "endpointslices", "endpointslice", "EndpointSlice", True,
                 has_generation=True, prepare=prepare_endpoint_slice),
    ResourceType("coordination.k8s.io", "v1", "leases", "lease", "Lease", True, prepare=prepare_lease),
    ResourceType("events.k8s.io", "v1", "events", "event", "Event", True, ("ev",), storage="events",
                 to_view=core_event_to_events_v1, from_view=events_v1_to_core_event,
                 prepare=prepare_events_v1_event, field_labels=_EVENTS_V1_FIELDS),
]

NAMESPACES = next(r for r in RESOURCES if r.plural == "namespaces")
INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
# NamespaceLifecycle refuses to delete these.
UNDELETABLE_NAMESPACES = ("default", "kube-system", "kube-public")


def find(group, version, plural, served=RESOURCES):
    return next((r for r in served if (r.group, r.version, r.plural) == (group, version, plural)), None)


def for_object(obj, served=RESOURCES):
    """The resource type of an object by its apiVersion and kind, or None."""
    return next((r for r in served if r.api_version == obj.get("apiVersion") and r.kind == obj.get("kind")), None)


# ---- discovery (the legacy, non-aggregated documents; kubectl falls back to them) ----
# `served` is every resource type the server serves now: the built-in ones and those of
# the CustomResourceDefinitions that exist (Store.served()).

_VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


def api_versions(server_address):
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def version_priority(version):
    """Sort key of kube-aware version order (v1 > v1beta2 > v1beta1 > v1alpha1 > other),
    which decides a group's order of versions and its preferred version."""
    match = re.fullmatch(r"v([0-9]+)(?:(alpha|beta)([0-9]+))?", version)
    if not match:
        return (3, version)
    major, stage, minor = match.groups()
    return ({None: 0, "beta": 1, "alpha": 2}[stage], -int(major), -int(minor or 0))


def _group_versions(served):
    groups = {}
    for r in served:
        if r.group and r.version not in groups.setdefault(r.group, []):
            groups[r.group].append(r.version)
    return {group: sorted(versions, key=version_priority) for group, versions in groups.items()}


def api_group(name, served):
    versions = _group_versions(served).get(name)
    if not versions:
        return None
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": name, "versions": entries,
            "preferredVersion": entries[0]}


def api_group_list(served):
    groups = [api_group(name, served) for name in _group_versions(served)]
    for group in groups:
        del group["kind"], group["apiVersion"]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_resource_list(group, version, served):
    served = [r for r in served if (r.group, r.version) == (group, version)]
    if not served:
        return None
    resources = []
    for r in served:
        entry = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind,
                 "verbs": _VERBS}
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        resources.append(entry)
        if r.status_subresource:
            resources.append({"name": f"{r.plural}/status", "singularName": "", "namespaced": r.namespaced,
                              "kind": r.kind, "verbs": ["get", "patch", "update"]})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": served[0].api_version,
            "resources": resources}
