"""Objects, the global resourceVersion, the change history, lists, watches and the fault
state, all behind one lock with one condition variable that every change notifies.

Real behaviour imitated (etcd + the apiserver's watch cache):
- One cluster-wide revision counter: every write of any kind bumps it; an object's
  metadata.resourceVersion is the revision of its last write; a list carries the revision
  it was read at.
- History: every change is kept (up to --history-limit, like the watch cache's window) so
  that a watch can start "after revision N" and a paginated list can be served at the
  revision its first page was read at. Compaction forgets history: older revisions then
  answer 410 Gone (reason Expired).
- Optimistic concurrency: an update carrying a metadata.resourceVersion that is not the
  stored one is a 409 Conflict; an update that changes nothing writes nothing.
"""

import base64
import bisect
import copy
import ipaddress
import json
import random
import threading
import time
import uuid
from dataclasses import dataclass

from . import crds, errors, resources
from .crds import CRDS
from .resources import NAMESPACES, validate_metadata, validate_name

# The real watch cache waits this long for a resourceVersion it has not seen yet.
TOO_LARGE_RV_WAIT_SECONDS = 3.0
_GENERATE_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # as names.SimpleNameGenerator
_SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")
_NODE_PORTS = range(30000, 32768)
_NOT_SERVER_SET = ("deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink")


@dataclass
class Change:
    rv: int
    storage: str
    type: str    # ADDED, MODIFIED or DELETED
    key: tuple   # (storage, namespace, name)
    obj: dict    # the stored object after the change (DELETED: its last state, at the deletion rv)
    prev: dict   # the stored object before the change, or None


class Watch:
    """One open watch stream. Fields are read and written under the store's lock."""

    def __init__(self, resource, namespace, labels, fields, path):
        self.resource = resource
        self.namespace = namespace
        self.labels = labels
        self.fields = fields
        self.path = path
        self.cursor = 0         # every change up to this revision has been delivered
        self.dropped = False    # /fake/drop-watches, /fake/errors: reset the connection
        self.expired = False    # /fake/compact: send ERROR 410 and end
        self.gone = False       # its CRD was deleted: send what is left and end

    def matches(self, view):
        meta = view.get("metadata", {})
        if self.namespace and meta.get("namespace") != self.namespace:
            return False
        return self.labels.matches(meta.get("labels")) and self.fields.matches(view)


def now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _sort_key(key):
    # etcd returns keys in byte order of /registry/<resource>/<namespace>/<name>.
    _, namespace, name = key
    return f"{namespace}/{name}" if namespace else name


def _without_type(view):
    # Items of a list from the real server carry no kind/apiVersion (the list has them).
    return {k: v for k, v in view.items() if k not in ("kind", "apiVersion")}


def _parse_rv(text, what="resourceVersion"):
    try:
        value = int(text)
        if value < 0:
            raise ValueError
        return value
    except (TypeError, ValueError):
        raise errors.bad_request(f'invalid {what}: "{text}"') from None


def encode_continue(rv, last_key):
    # Like the real token: base64 of {"v": "meta.k8s.io/v1", "rv": N, "start": "<key>\x00"}.
    token = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": last_key + "\x00"})
    return base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")


def decode_continue(token):
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if data.get("v") != "meta.k8s.io/v1" or not isinstance(data.get("rv"), int) or \
                not isinstance(data.get("start"), str):
            raise ValueError("unknown continue token version")
        return data["rv"], data["start"]
    except (ValueError, TypeError, AttributeError, UnicodeDecodeError) as error:
        raise errors.bad_request(f"continue key is not valid: {error}") from None


class Store:
    def __init__(self, history_limit=100000, clock=time.monotonic):
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.clock = clock
        self.history_limit = max(1, history_limit)
        self.rv = 0
        self.objects = {}          # (storage, namespace, name) -> stored object
        self.base = {}             # the objects at compacted_rv; history replays on top
        self.compacted_rv = 0
        self.history = []          # Change, oldest first
        self.watches = set()
        self.stall_until = 0.0
        self.failure = None        # (code, until, path_prefix)
        self.custom = {}           # CRD name -> the resource types it serves
        with self.lock:
            for name in resources.INITIAL_NAMESPACES:
                self._create(NAMESPACES, None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
                             False)

    # ---- writes ----

    def _commit(self, change_type, key, obj, prev):
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        if change_type == "DELETED":
            del self.objects[key]
        else:
            self.objects[key] = obj
        if key[0] == CRDS.storage:
            if change_type == "DELETED":
                self.custom.pop(key[2], None)
            else:
                self.custom[key[2]] = crds.served_types(obj)
        self.history.append(Change(self.rv, key[0], change_type, key, obj, prev))
        if len(self.history) > self.history_limit:
            # Drop the oldest tenth at once, as the watch cache's ring buffer forgets.
            self._compact_to(self.history[len(self.history) - self.history_limit + self.history_limit // 10].rv - 1)
        self.changed.notify_all()
        return obj

    # ---- what is served: the built-in kinds, and those of the CRDs that exist ----

    def served(self):
        with self.lock:
            custom = sorted((t for types in self.custom.values() for t in types), key=lambda t: (t.group, t.plural))
            return resources.RESOURCES + [CRDS] + custom

    def find(self, group, version, plural):
        return resources.find(group, version, plural, self.served())

    def resource_for(self, obj):
        return resources.for_object(obj, self.served())

    def _key(self, resource, namespace, name):
        return (resource.storage, (namespace or "") if resource.namespaced else "", name)

    def _require_namespace(self, resource, namespace):
        # NamespaceLifecycle admission: objects can only be created in existing namespaces.
        if resource.namespaced and (NAMESPACES.storage, "", namespace) not in self.objects:
            raise errors.not_found(NAMESPACES, namespace)

    def create(self, resource, namespace, body, dry_run=False):
        with self.lock:
            return self._create(resource, namespace, body, dry_run)

    def _create(self, resource, namespace, body, dry_run):
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        if meta.get("resourceVersion"):
            raise errors.bad_request("resourceVersion should not be set on objects to be created")
        if not meta.get("name") and meta.get("generateName"):
            for _ in range(10):
                meta["name"] = meta["generateName"] + "".join(random.choices(_GENERATE_NAME_CHARS, k=5))
                if self._key(resource, namespace, meta["name"]) not in self.objects:
                    break
        name = meta.get("name", "")
        if resource.namespaced:
            if meta.get("namespace") not in (None, "", namespace):
                raise errors.bad_request("the namespace of the provided object does not match the namespace sent "
                                         "on the request")
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        for field in _NOT_SERVER_SET:
            meta.pop(field, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        if resource.has_generation:
            meta["generation"] = 1
        if resource.status_subresource:
            if resource.empty_status is None:
                obj.pop("status", None)
            else:
                obj["status"] = copy.deepcopy(resource.empty_status)
        causes = validate_name(resource.name_rule, name)
        if not causes:
            causes = validate_metadata(meta) + (resource.prepare(obj, None, self) if resource.prepare else [])
        if not causes and resource.admit:
            causes = resource.admit(obj, None)
        if causes:
            raise errors.invalid(resource, name, causes)
        self._require_namespace(resource, namespace)
        key = self._key(resource, namespace, name)
        if key in self.objects:
            raise errors.already_exists(resource, name)
        stored = resource.from_view(obj)
        if dry_run:
            return resource.to_view(stored)
        return resource.to_view(self._commit("ADDED", key, stored, None))

    def _current(self, resource, namespace, name):
        stored = self.objects.get(self._key(resource, namespace, name))
        if stored is None:
            raise errors.not_found(resource, name)
        return stored

    def update(self, resource, namespace, name, body, subresource=None, dry_run=False):
        with self.lock:
            return self._update(resource, namespace, name, body, subresource, dry_run)

    def patch(self, resource, namespace, name, apply_patch, subresource=None, dry_run=False):
        """`apply_patch(view) -> view`. The patched object keeps the stored resourceVersion
        unless the patch sets one, which then acts as a precondition (409 when stale)."""
        with self.lock:
            current = copy.deepcopy(resource.to_view(self._current(resource, namespace, name)))
            patched = apply_patch(current)
            if not isinstance(patched, dict):
                raise errors.ApiError(422, "Invalid", "the patch did not produce an object")
            return self._update(resource, namespace, name, patched, subresource, dry_run)

    def _update(self, resource, namespace, name, body, subresource, dry_run):
        stored = self._current(resource, namespace, name)
        current = resource.to_view(stored)
        meta = body.get("metadata")
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata is required")
        if meta.get("name") != name:
            raise errors.bad_request(f"the name of the object ({meta.get('name')}) does not match the name on "
                                     f"the URL ({name})")
        if resource.namespaced and meta.get("namespace") not in (None, "", namespace):
            raise errors.bad_request("the namespace of the provided object does not match the namespace sent on "
                                     "the request")
        old_meta = current["metadata"]
        if meta.get("resourceVersion") and meta["resourceVersion"] != old_meta["resourceVersion"]:
            raise errors.conflict(resource, name)
        if meta.get("uid") and meta["uid"] != old_meta["uid"]:
            raise errors.conflict(resource, name, f"Precondition failed: UID in precondition: {meta['uid']}, "
                                                  f"UID in object meta: {old_meta['uid']}")
        if subresource == "status":
            new = copy.deepcopy(current)
            if "status" in body:
                new["status"] = copy.deepcopy(body["status"])
            else:
                new.pop("status", None)
            causes = resource.admit(new, current) if resource.admit else []
        else:
            new = copy.deepcopy(body)
            new_meta = new["metadata"]
            for field in _NOT_SERVER_SET:
                new_meta.pop(field, None)
            new_meta.pop("namespace", None)
            for field in ("uid", "creationTimestamp", "generation", "namespace"):
                if field in old_meta:
                    new_meta[field] = old_meta[field]
            if resource.status_subresource:
                new.pop("status", None)
                if "status" in current:
                    new["status"] = copy.deepcopy(current["status"])
            causes = validate_metadata(new_meta) + (resource.prepare(new, current, self) if resource.prepare else [])
            if not causes and resource.admit:
                causes = resource.admit(new, current)
            if resource.has_generation:
                def body_of(o):
                    return {k: v for k, v in o.items() if k not in resource.generation_ignores}
                if body_of(new) != body_of(current):
                    new_meta["generation"] = old_meta.get("generation", 0) + 1
        if causes:
            raise errors.invalid(resource, name, causes)
        new["metadata"]["resourceVersion"] = old_meta["resourceVersion"]
        if new == current:
            return current  # a no-op update writes nothing and keeps the resourceVersion
        new_stored = resource.from_view(new)
        if dry_run:
            return resource.to_view(new_stored)
        return resource.to_view(self._commit("MODIFIED", self._key(resource, namespace, name), new_stored, stored))

    def delete(self, resource, namespace, name, preconditions=None, dry_run=False):
        with self.lock:
            stored = self._current(resource, namespace, name)
            if resource is NAMESPACES and name in resources.UNDELETABLE_NAMESPACES:
                raise errors.ApiError(403, "Forbidden", f'namespaces "{name}" is forbidden: this namespace may not '
                                                        "be deleted", {"name": name, "kind": "namespaces"})
            meta = stored["metadata"]
            preconditions = preconditions or {}
            for field in ("uid", "resourceVersion"):
                if preconditions.get(field) and preconditions[field] != meta.get(field):
                    raise errors.conflict(resource, name, f"Precondition failed: {field} in precondition: "
                                                          f"{preconditions[field]}, {field} in object meta: "
                                                          f"{meta.get(field)}")
            details = {"name": name, "kind": resource.plural, "uid": meta["uid"]}
            if resource.group:
                details["group"] = resource.group
            if not dry_run:
                if resource is NAMESPACES:
                    # The namespace controller deletes everything in a deleted namespace.
                    for key in sorted(k for k in self.objects if k[1] == name and k[0] != NAMESPACES.storage):
                        self._delete_key(key)
                if resource is CRDS:
                    # The CRD's finalizer deletes its objects; then its resources go, and the
                    # watches on them end (a CRD's storage is its name: <plural>.<group>).
                    for key in sorted(k for k in self.objects if k[0] == name):
                        self._delete_key(key)
                    for watch in self.watches:
                        watch.gone = watch.gone or watch.resource.storage == name
                self._delete_key(self._key(resource, namespace, name))
            return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}

    def _delete_key(self, key):
        stored = self.objects[key]
        last = copy.deepcopy(stored)
        self._commit("DELETED", key, last, stored)

    def ensure_namespace(self, name):
        with self.lock:
            if (NAMESPACES.storage, "", name) not in self.objects:
                self._create(NAMESPACES, None, {"apiVersion": "v1", "kind": "Namespace",
                                                "metadata": {"name": name}}, False)

    # ---- allocators (called by Service preparation, under the lock) ----

    def _services(self):
        return [o for k, o in self.objects.items() if k[0] == "services"]

    def allocate_cluster_ip(self):
        used = {s.get("spec", {}).get("clusterIP") for s in self._services()}
        for offset in range(10, _SERVICE_CIDR.num_addresses - 1):
            ip = str(_SERVICE_CIDR.network_address + offset)
            if ip not in used:
                return ip
        raise errors.ApiError(500, "InternalError", "failed to allocate a serviceIP: range is full")

    def allocate_node_port(self):
        used = {p.get("nodePort") for s in self._services() for p in s.get("spec", {}).get("ports") or []}
        for port in _NODE_PORTS:
            if port not in used:
                return port
        raise errors.ApiError(500, "InternalError", "failed to allocate a nodePort: range is full")

    # ---- reads ----

    def get(self, resource, namespace, name):
        with self.lock:
            return resource.to_view(self._current(resource, namespace, name))

    def _wait_for_rv(self, wanted):
        deadline = self.clock() + TOO_LARGE_RV_WAIT_SECONDS
        while self.rv < wanted:
            remaining = deadline - self.clock()
            if remaining <= 0:
                raise errors.too_large_resource_version(wanted, self.rv)
            self.changed.wait(remaining)

    def _snapshot(self, rv):
        """The objects as they were at revision `rv` (not older than compacted_rv)."""
        state = dict(self.base)
        for change in self.history:
            if change.rv > rv:
                break
            if change.type == "DELETED":
                state.pop(change.key, None)
            else:
                state[change.key] = change.obj
        return state

    def list(self, resource, namespace, labels, fields, limit=0, token=None, rv_param=None, rv_match=None):
        """A list response. Imitates the real resourceVersion rules: unset = a consistent
        read of the newest state; "0" = any state, served from the watch cache, so `limit`
        is ignored; N with limit (or resourceVersionMatch=Exact) = exactly revision N;
        N otherwise = not older than N. `continue` serves the rest of a list at the
        revision of its first page, 410 once that revision is compacted."""
        with self.lock:
            if token:
                if rv_param:
                    raise errors.bad_request("specifying resource version is not allowed when using continue")
                rv, start = decode_continue(token)
                if rv < self.compacted_rv:
                    raise errors.expired("The provided continue parameter is too old to display a consistent list "
                                         "result. You can start a new list without the continue parameter.")
                state = self._snapshot(rv)
            else:
                start = ""
                if rv_match and not rv_param:
                    raise errors.bad_request("resourceVersionMatch is forbidden unless resourceVersion is provided")
                if rv_match not in (None, "", "Exact", "NotOlderThan"):
                    raise errors.bad_request(f'resourceVersionMatch: Unsupported value: "{rv_match}"')
                exact = rv_match == "Exact" or (limit and rv_param not in (None, "", "0") and not rv_match)
                if rv_param not in (None, ""):
                    wanted = _parse_rv(rv_param)
                    self._wait_for_rv(wanted)
                if exact:
                    if wanted < self.compacted_rv:
                        raise errors.expired("The resourceVersion for the provided list is too old.")
                    rv, state = wanted, self._snapshot(wanted)
                else:
                    rv, state = self.rv, self.objects
                    if rv_param == "0":
                        limit = 0
            keys = sorted((k for k in state if k[0] == resource.storage and (not namespace or k[1] == namespace)),
                          key=_sort_key)
            keys = [k for k in keys if _sort_key(k) >= start]
            items, remaining = [], []
            for i, key in enumerate(keys):
                view = resource.to_view(state[key])
                meta = view["metadata"]
                if labels.matches(meta.get("labels")) and fields.matches(view):
                    items.append(_without_type(view))
                    if limit and len(items) == limit:
                        remaining = keys[i + 1:]
                        break
            list_meta = {"resourceVersion": str(rv)}
            if remaining:
                # Like etcd paging, a token is handed out whenever keys remain, even if none
                # of them matches the selectors: the next page may then be empty.
                list_meta["continue"] = encode_continue(rv, _sort_key(keys[len(keys) - len(remaining) - 1]))
                if labels.empty() and fields.empty():
                    list_meta["remainingItemCount"] = len(remaining)
            return {"kind": resource.list_kind, "apiVersion": resource.api_version, "metadata": list_meta,
                    "items": items}

    # ---- watches ----

    def open_watch(self, watch, rv_param, initial_events):
        """Registers `watch`; returns (events to send first, error Status or None).
        rv unset/"0" (or sendInitialEvents) = synthetic ADDED for every matching object,
        then changes; rv N = every change after N, or one ERROR 410 if N is compacted."""
        with self.lock:
            events = []
            if rv_param in (None, "", "0") or initial_events:
                keys = sorted((k for k in self.objects if k[0] == watch.resource.storage), key=_sort_key)
                for key in keys:
                    view = watch.resource.to_view(self.objects[key])
                    if watch.matches(view):
                        events.append(("ADDED", view))
                watch.cursor = self.rv
            else:
                wanted = _parse_rv(rv_param)
                self._wait_for_rv(wanted)
                if wanted < self.compacted_rv:
                    return [], errors.expired(f"too old resource version: {wanted} ({self.compacted_rv})").status()
                watch.cursor = wanted
            self.watches.add(watch)
            return events, None

    def close_watch(self, watch):
        with self.lock:
            self.watches.discard(watch)

    def poll_watch(self, watch, timeout):
        """Waits up to `timeout` s for changes; returns (state, events, cursor) where state
        is "events", "idle", "stalled", "dropped", "expired" or "gone" (events, then end)."""
        with self.lock:
            deadline = self.clock() + timeout
            while True:
                if watch.dropped:
                    return "dropped", [], watch.cursor
                if watch.expired or watch.cursor < self.compacted_rv:
                    return "expired", [], watch.cursor
                stalled = self._stalled()
                if watch.gone or (not stalled and self.rv > watch.cursor):
                    break
                remaining = deadline - self.clock()
                if remaining <= 0:
                    return ("stalled" if stalled else "idle"), [], watch.cursor
                if stalled:
                    remaining = min(remaining, self.stall_until - self.clock())
                self.changed.wait(max(remaining, 0.001))
            start = bisect.bisect_right(self.history, watch.cursor, key=lambda c: c.rv)
            events = [e for c in self.history[start:] if c.storage == watch.resource.storage
                      for e in [self._watch_event(watch, c)] if e]
            watch.cursor = self.rv
            return ("gone" if watch.gone else "events"), events, watch.cursor

    def _watch_event(self, watch, change):
        # The watch cache filters each change against the watcher's selectors using the
        # object before and after: entering the selection is ADDED, leaving it is DELETED
        # (the old object at the new revision), staying in it is MODIFIED.
        resource = watch.resource
        now_matches = watch.matches(resource.to_view(change.obj))
        if change.type != "MODIFIED":
            return (change.type, resource.to_view(change.obj)) if now_matches else None
        before_matches = watch.matches(resource.to_view(change.prev))
        if now_matches and before_matches:
            return "MODIFIED", resource.to_view(change.obj)
        if now_matches:
            return "ADDED", resource.to_view(change.obj)
        if before_matches:
            old = copy.deepcopy(resource.to_view(change.prev))
            old["metadata"]["resourceVersion"] = str(change.rv)
            return "DELETED", old
        return None

    def watch_counts(self):
        with self.lock:
            counts = {}
            for watch in self.watches:
                counts[watch.path] = counts.get(watch.path, 0) + 1
            return counts

    # ---- faults ----

    def drop_watches(self, path_prefix=""):
        with self.lock:
            dropped = [w for w in self.watches if w.path.startswith(path_prefix)]
            for watch in dropped:
                watch.dropped = True
            self.changed.notify_all()
            return len(dropped)

    def _compact_to(self, rv):
        while self.history and self.history[0].rv <= rv:
            change = self.history.pop(0)
            if change.type == "DELETED":
                self.base.pop(change.key, None)
            else:
                self.base[change.key] = change.obj
        self.compacted_rv = max(self.compacted_rv, rv)

    def compact(self):
        """Forgets all history (etcd compaction): older revisions answer 410, and every open
        watch gets an ERROR 410 and ends, as watches on a compacted revision do."""
        with self.lock:
            self._compact_to(self.rv)
            for watch in self.watches:
                watch.expired = True
            self.changed.notify_all()
            return self.compacted_rv, len(self.watches)

    def _stalled(self):
        return self.clock() < self.stall_until

    def stall(self, seconds):
        with self.lock:
            self.stall_until = self.clock() + seconds
            self.changed.notify_all()

    def wait_while_stalled(self):
        with self.lock:
            while self._stalled():
                self.changed.wait(self.stall_until - self.clock())

    def fail_requests(self, code, seconds, path_prefix=""):
        with self.lock:
            self.failure = (code, self.clock() + seconds, path_prefix) if seconds > 0 else None
        if seconds > 0:
            self.drop_watches(path_prefix)

    def injected_failure(self, path):
        """The HTTP code API requests to `path` must answer now, or None."""
        with self.lock:
            if self.failure is None:
                return None
            code, until, prefix = self.failure
            if self.clock() >= until:
                self.failure = None
                return None
            return code if path.startswith(prefix) else None

    def state(self):
        with self.lock:
            return {"resourceVersion": str(self.rv), "compactedResourceVersion": str(self.compacted_rv),
                    "historyLength": len(self.history), "objects": len(self.objects),
                    "stalledSeconds": max(0.0, round(self.stall_until - self.clock(), 3)),
                    "failing": self.failure is not None and self.clock() < self.failure[1]}
