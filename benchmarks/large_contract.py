"""A contract larger than the whole Cloud Backup v2 API, for the start-up and cache benchmarks.

The shipped contract has every operation of the API (61). This writes a larger document: the shipped
contract's operations once as they are, then its agent operations again for each of six made-up resource
families, each copy with its own paths, operationIds and its own copy of every schema (so nothing is
shared that real ones would not share).

    .venv/bin/python benchmarks/large_contract.py OUT.yaml
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = ["backups", "restores", "backup-configurations", "restore-configurations", "activities", "alerts"]


def _renamed(node: Any, schemas: dict[str, str]) -> Any:
    """``node`` with every schema reference pointing at the family's own copy."""
    if isinstance(node, dict):
        return {k: (schemas.get(v, v) if k == "$ref" else _renamed(v, schemas)) for k, v in node.items()}
    if isinstance(node, list):
        return [_renamed(v, schemas) for v in node]
    return node


def large_contract() -> dict[str, Any]:
    document = yaml.safe_load((ROOT / "spec" / "openapi.yaml").read_text())
    paths, components = document["paths"], document["components"]
    originals = dict(components["schemas"])
    for family in FAMILIES:
        suffix = "".join(part.title() for part in family.split("-"))
        schemas = {f"#/components/schemas/{name}": f"#/components/schemas/{name}{suffix}" for name in originals}
        for name, schema in originals.items():
            components["schemas"][f"{name}{suffix}"] = _renamed(copy.deepcopy(schema), schemas)
        for path, item in list(paths.items()):
            if "{project_id}/agents" not in path:
                continue
            new_path = path.replace("{project_id}/agents", f"{{project_id}}/{family}", 1)
            new_item = _renamed(copy.deepcopy(item), schemas)
            for method, operation in new_item.items():
                if isinstance(operation, dict) and "operationId" in operation:
                    operation["operationId"] = f"{operation['operationId']}{suffix}"
                    operation.pop("links", None)
                    for response in (operation.get("responses") or {}).values():
                        if isinstance(response, dict):
                            response.pop("links", None)
            paths[new_path] = new_item
    return document


def operation_count(document: dict[str, Any]) -> int:
    return sum(1 for item in document["paths"].values() for op in item.values()
               if isinstance(op, dict) and "operationId" in op)


def main() -> int:
    out = Path(sys.argv[1])
    document = large_contract()
    out.write_text(yaml.safe_dump(document, sort_keys=False))
    print(json.dumps({"operations": operation_count(document), "bytes": out.stat().st_size}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
