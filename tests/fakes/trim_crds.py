#!/usr/bin/python3
"""Writes tests/fakes/gateway_api_crds.json from a Gateway API release's standard install.

The fake API server installs these CRDs (unless --without-gateway-api) and
FakeApiServer::install_gateway_api() applies them. They are the release's CRDs with what
the fake does not use taken out, so the file stays small: descriptions, printer columns,
formats and CEL rules other than `self == oldSelf`. Every field, type, default, enum,
bound and pattern stays, so pruning, defaulting and validation are the real ones.
Needs PyYAML (Debian: python3-yaml); the fake itself does not.

    curl -sSLO https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.2.1/standard-install.yaml
    python3 tests/fakes/trim_crds.py standard-install.yaml > tests/fakes/gateway_api_crds.json
"""

import json
import sys

import yaml

KEEP = ("type", "properties", "items", "required", "default", "enum", "nullable", "minimum", "maximum",
        "minItems", "maxItems", "minLength", "maxLength", "pattern", "additionalProperties",
        "x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string")
NOTE = ("descriptions, printer columns, formats and CEL rules other than self == oldSelf removed by "
        "tests/fakes/trim_crds.py")


def trim(schema):
    out = {key: value for key, value in schema.items() if key in KEEP}
    if "properties" in out:
        out["properties"] = {name: trim(prop) for name, prop in out["properties"].items()}
    for key in ("items", "additionalProperties"):
        if isinstance(out.get(key), dict):
            out[key] = trim(out[key])
    rules = [rule for rule in schema.get("x-kubernetes-validations", []) if rule.get("rule") == "self == oldSelf"]
    if rules:
        out["x-kubernetes-validations"] = rules
    return out


def main(path):
    with open(path, encoding="utf-8") as source:
        documents = [d for d in yaml.safe_load_all(source) if d and d.get("kind") == "CustomResourceDefinition"]
    for crd in documents:
        crd["metadata"].pop("creationTimestamp", None)
        crd["metadata"].setdefault("annotations", {})["grpc-ingress.io/trimmed"] = NOTE
        crd.pop("status", None)
        for version in crd["spec"]["versions"]:
            version.pop("additionalPrinterColumns", None)
            schema = version.get("schema", {}).get("openAPIV3Schema")
            if schema:
                version["schema"]["openAPIV3Schema"] = trim(schema)
    json.dump({"apiVersion": "v1", "kind": "List", "items": documents}, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
