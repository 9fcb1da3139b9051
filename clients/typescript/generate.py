"""src/types.ts from the server's OpenAPI document: `python clients/typescript/generate.py` (a test checks it is current)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


def ts_type(schema: dict[str, Any]) -> str:
    """A JSON schema as a TypeScript type."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[1]
    if "anyOf" in schema:
        return " | ".join(dict.fromkeys(ts_type(s) for s in schema["anyOf"]))
    kind = schema.get("type")
    if kind == "string":
        return "string"
    if kind in ("integer", "number"):
        return "number"
    if kind == "boolean":
        return "boolean"
    if kind == "null":
        return "null"
    if kind == "array":
        return f"{ts_type(schema.get('items', {}))}[]"
    if kind == "object":
        if "properties" in schema:
            return "{ " + "; ".join(f"{k}: {ts_type(v)}" for k, v in schema["properties"].items()) + " }"
        return "Record<string, unknown>"
    return "unknown"


def render(openapi: dict[str, Any]) -> str:
    out = ["// Generated from yurudb serve's OpenAPI document by generate.py: do not edit by hand.", ""]
    for name, schema in openapi["components"]["schemas"].items():
        if schema.get("description"):
            out.append(f"/** {schema['description'].splitlines()[0]} */")
        required = set(schema.get("required", []))
        props = schema.get("properties", {})
        if not props:
            out += [f"export type {name} = Record<string, unknown>;", ""]
            continue
        out.append(f"export interface {name} {{")
        for prop, sub in props.items():
            optional = "" if prop in required else "?"
            out.append(f"  {prop}{optional}: {ts_type(sub)};")
        if schema.get("additionalProperties") is not False and name.startswith("Update"):
            out.append("  [field: string]: unknown;")
        out += ["}", ""]
    out.append("/** Every operation of /api/v1: method and path. */")
    out.append("export const OPERATIONS = {")
    for path, methods in openapi["paths"].items():
        for method, op in methods.items():
            out.append(f'  {op["operationId"]}: {{ method: "{method.upper()}", path: "{path}" }},')
    out += ["} as const;", ""]
    return "\n".join(out)


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parents[1]))
    from yurudb.serve.app import OPENAPI

    (HERE / "src" / "types.ts").write_text(render(OPENAPI))
