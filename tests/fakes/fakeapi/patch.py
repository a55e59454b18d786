"""PATCH bodies, applied as kube-apiserver applies them.

- application/merge-patch+json: RFC 7386 JSON merge patch (null deletes a key, lists are
  replaced whole).
- application/strategic-merge-patch+json: merge patch plus the strategic parts kubectl
  relies on: lists with a patch merge key are merged element by element (the key table
  comes from the resource, e.g. Service spec.ports by "port"), `$patch: delete|replace`,
  `$retainKeys`, `$setElementOrder/<list>` and `$deleteFromPrimitiveList/<list>`; other
  lists are replaced, as lists without a merge strategy are in the real API.
- application/json-patch+json: RFC 6902 operations on RFC 6901 JSON pointers.
A patch that cannot apply raises PatchError (the server answers 422).
"""

import copy


class PatchError(Exception):
    pass


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# ---- strategic merge patch ----

_DELETE = object()  # a map patched with {"$patch": "delete"}

# Lists of scalars whose patch strategy is "merge" (a set): their entries are added, not replaced.
_PRIMITIVE_MERGE_LISTS = {("metadata", "finalizers")}


def _strip_directives(value):
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value if not (isinstance(v, dict) and "$patch" in v and len(v) == 1)]
    return copy.deepcopy(value)


def strategic_merge_patch(target, patch, merge_keys, path=()):
    """`merge_keys` maps a field path such as ("spec", "ports") to the list's merge key."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "delete":
        return _DELETE
    if directive == "replace":
        return _strip_directives(patch)
    if directive is not None:
        raise PatchError(f"unknown patch type: {directive}")
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    orders = {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
        elif key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list) and isinstance(value, list):
                result[field] = [v for v in result[field] if v not in value]
        elif key.startswith("$"):
            continue
        elif value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = strategic_merge_patch(result.get(key), value, merge_keys, path + (key,))
            if merged is _DELETE:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            field = path + (key,)
            current = result.get(key) if isinstance(result.get(key), list) else []
            if field in merge_keys:
                result[key] = _merge_list(current, value, merge_keys[field], merge_keys, field)
            elif field in _PRIMITIVE_MERGE_LISTS:
                result[key] = current + [v for v in value if v not in current]
            else:
                result[key] = _strip_directives(value)
        else:
            result[key] = value
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    for field, order in orders.items():
        if isinstance(result.get(field), list) and isinstance(order, list):
            result[field] = _apply_order(result[field], order, merge_keys.get(path + (field,)))
    return result


def _merge_list(current, patch_items, key, merge_keys, field):
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch_items):
        return _strip_directives(patch_items)
    result = copy.deepcopy(current)
    for item in patch_items:
        if not isinstance(item, dict) or key not in item:
            raise PatchError(f"map: {item} does not contain declared merge key: {key}")
        at = next((i for i, existing in enumerate(result)
                   if isinstance(existing, dict) and existing.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if at is not None:
                del result[at]
        elif at is None:
            result.append(_strip_directives(item))
        else:
            result[at] = strategic_merge_patch(result[at], item, merge_keys, field)
    return result


def _apply_order(items, order, key):
    def identity(item):
        return item.get(key) if key and isinstance(item, dict) else item

    wanted = [identity(o) if isinstance(o, dict) else o for o in order]
    ranked = [(wanted.index(identity(item)) if identity(item) in wanted else len(wanted), i, item)
              for i, item in enumerate(items)]
    return [item for _, _, item in sorted(ranked, key=lambda t: (t[0], t[1]))]


# ---- JSON patch ----

def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _parent(doc, parts, path):
    node = doc
    for part in parts[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise PatchError(f"doc is missing path: {path!r}")
    return node


def _index(node, part, path, for_insert):
    if part == "-" and for_insert:
        return len(node)
    if not part.isdigit() or int(part) > len(node) or (int(part) == len(node) and not for_insert):
        raise PatchError(f"unable to access invalid index: {path!r}")
    return int(part)


def _get(doc, path):
    parts = _pointer(path)
    if not parts:
        return doc
    node = _parent(doc, parts, path)
    if isinstance(node, dict):
        if parts[-1] not in node:
            raise PatchError(f"doc is missing key: {path!r}")
        return node[parts[-1]]
    if isinstance(node, list):
        return node[_index(node, parts[-1], path, False)]
    raise PatchError(f"doc is missing path: {path!r}")


def _remove(doc, path):
    parts = _pointer(path)
    if not parts:
        raise PatchError("cannot remove the whole document")
    node = _parent(doc, parts, path)
    if isinstance(node, dict) and parts[-1] in node:
        return node.pop(parts[-1])
    if isinstance(node, list):
        return node.pop(_index(node, parts[-1], path, False))
    raise PatchError(f"unable to remove nonexistent key: {path!r}")


def _add(doc, path, value, replace=False):
    parts = _pointer(path)
    if not parts:
        return copy.deepcopy(value)
    node = _parent(doc, parts, path)
    if isinstance(node, dict):
        if replace and parts[-1] not in node:
            raise PatchError(f"replace operation does not apply: doc is missing key: {path!r}")
        node[parts[-1]] = copy.deepcopy(value)
    elif isinstance(node, list):
        at = _index(node, parts[-1], path, not replace)
        if replace:
            node[at] = copy.deepcopy(value)
        else:
            node.insert(at, copy.deepcopy(value))
    else:
        raise PatchError(f"doc is missing path: {path!r}")
    return doc


def json_patch(target, operations):
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or not isinstance(op.get("path"), str):
            raise PatchError(f"invalid JSON patch operation: {op}")
        kind, path = op["op"], op["path"]
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f"{kind} operation missing value")
        if kind == "add":
            doc = _add(doc, path, op["value"])
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "replace":
            doc = _add(doc, path, op["value"], replace=True)
        elif kind in ("move", "copy"):
            source = op.get("from")
            if not isinstance(source, str):
                raise PatchError(f"{kind} operation missing from")
            value = _remove(doc, source) if kind == "move" else copy.deepcopy(_get(doc, source))
            doc = _add(doc, path, value)
        elif kind == "test":
            if _get(doc, path) != op["value"]:
                raise PatchError(f"testing value {path} failed")
        else:
            raise PatchError(f"unknown JSON patch operation {kind!r}")
    return doc
