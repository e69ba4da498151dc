"""Build the JSON Schemas in this folder from Argo Rollouts' and Flagger's own CRDs (see README.md).

    python tests/data/crds/build_schemas.py ARGO_ROLLOUTS_CHECKOUT FLAGGER_CHECKOUT

Each CRD's ``openAPIV3Schema`` becomes a draft-07 JSON Schema that is as strict as
``kubectl apply --validate=strict`` would be on a cluster with the CRD installed:
- an object with ``properties`` and no ``x-kubernetes-preserve-unknown-fields`` refuses
  unknown keys (``additionalProperties: false``), as strict validation reports fields
  the structural schema would prune;
- ``x-kubernetes-int-or-string`` becomes integer-or-string, ``nullable`` adds null;
- ``apiVersion`` and ``kind`` must be the CRD's own, and ``metadata`` is checked as
  an ObjectMeta a manifest writes (name, namespace, labels, annotations);
- descriptions are dropped (they are most of the bytes and validate nothing).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

HERE = Path(__file__).resolve().parent
SOURCES = [
    # (checkout argument index, path in the repository, CRD name, output file)
    (1, "manifests/crds/analysis-template-crd.yaml", "analysistemplates.argoproj.io", "analysistemplate-argoproj.io-v1alpha1.json"),
    (2, "artifacts/flagger/crd.yaml", "canaries.flagger.app", "canary-flagger.app-v1beta1.json"),
]
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
OBJECT_META = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "maxLength": 253, "pattern": DNS_SUBDOMAIN},
        "namespace": {"type": "string", "maxLength": 63, "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
        "labels": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 63}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


def convert(node: Any) -> Any:
    if isinstance(node, list):
        return [convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "description" or key.startswith("x-kubernetes-") or key == "nullable":
            continue
        if key in ("properties", "patternProperties", "definitions"):
            out[key] = {name: convert(schema) for name, schema in value.items()}
        else:
            out[key] = convert(value)
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if "properties" in out and "additionalProperties" not in out and not node.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out


def crd_schema(text: str, name: str) -> dict[str, Any]:
    for document in yaml.safe_load_all(text):
        if document and document.get("kind") == "CustomResourceDefinition" and document["metadata"]["name"] == name:
            spec = document["spec"]
            version = next(v for v in spec["versions"] if v.get("storage"))
            schema: dict[str, Any] = convert(version["schema"]["openAPIV3Schema"])
            schema["properties"]["apiVersion"] = {"const": f"{spec['group']}/{version['name']}"}
            schema["properties"]["kind"] = {"const": spec["names"]["kind"]}
            schema["properties"]["metadata"] = OBJECT_META
            schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata", "spec"})
            schema["additionalProperties"] = False
            return {"$schema": "http://json-schema.org/draft-07/schema#", "title": f"{spec['names']['kind']} {spec['group']}/{version['name']}", **schema}
    raise SystemExit(f"no CRD {name}")


def main() -> None:
    checkouts = sys.argv[1:3]
    for index, path, name, output in SOURCES:
        git_dir = checkouts[index - 1]
        text = subprocess.run(["git", "--git-dir", git_dir, "show", f"HEAD:{path}"], capture_output=True, text=True, check=True).stdout
        commit = subprocess.run(["git", "--git-dir", git_dir, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        schema = crd_schema(text, name)
        schema["$comment"] = f"built by build_schemas.py from {path} at commit {commit}"
        (HERE / output).write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"wrote {output} from {path} at {commit}")


if __name__ == "__main__":
    main()
