"""Request and response checking against Discourse's official OpenAPI description.

The description (OpenAPI 3.1, MIT, from discourse/discourse_api_docs) is found through
$DISCOURSE_OPENAPI or as shared/discourse/openapi.json in a parent directory of this file.

Discourse is a Rails application, so a request reaches a controller as Rails `params`:
form fields named like `post[raw]` or `tags[]` become nested hashes and arrays, and every
form value is a string.  `rails_params` rebuilds that structure and `coerce` converts the
strings to the types the description names (only where the conversion is exact: "12" to 12,
"true" to True); anything else is left as it is, so the JSON Schema check reports it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import parse_qsl

from jsonschema import Draft202012Validator

HTTP_METHODS = ("get", "put", "post", "delete", "patch")


def find_spec_path(explicit: str | None = None) -> Path:
    """The OpenAPI file: an explicit path, $DISCOURSE_OPENAPI, or shared/discourse/openapi.json
    in a parent directory (the CI clone has shared/ beside it: <clone>/../shared)."""
    candidates = []
    if explicit:
        candidates.append(Path(explicit))
    if os.environ.get("DISCOURSE_OPENAPI"):
        candidates.append(Path(os.environ["DISCOURSE_OPENAPI"]))
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidates.append(parent / "shared" / "discourse" / "openapi.json")
    for cand in candidates:
        if cand.is_file():
            return cand
    raise FileNotFoundError(
        "Discourse's OpenAPI description was not found: set DISCOURSE_OPENAPI or place it at "
        "shared/discourse/openapi.json in a parent directory of " + str(here.parent)
    )


# -- Rails params --------------------------------------------------------------------------
_KEY_RE = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def rails_params(pairs: Iterable[tuple[str, str]]) -> dict:
    """Build Rails-style nested params from (key, value) pairs, like Rack's nested query parser:
    `a[b]=1` -> {"a": {"b": "1"}}, `a[]=1&a[]=2` -> {"a": ["1", "2"]}; a plain repeated key keeps
    its last value."""
    out: dict = {}
    for key, value in pairs:
        m = _KEY_RE.match(key)
        if not m:
            out[key] = value
            continue
        head, rest = m.group(1), m.group(2)
        parts = re.findall(r"\[([^\[\]]*)\]", rest)
        _assign(out, [head] + parts, value)
    return out


def _assign(container: dict, parts: list[str], value: str) -> None:
    key = parts[0]
    if len(parts) == 1:
        container[key] = value
        return
    nxt = parts[1]
    if nxt == "":  # key[] -> array of scalars (key[][x] is rare in Discourse's API; treated as array too)
        lst = container.get(key)
        if not isinstance(lst, list):
            lst = []
            container[key] = lst
        if len(parts) == 2:
            lst.append(value)
        else:
            sub: dict = {}
            _assign(sub, parts[2:], value)
            lst.append(sub)
        return
    sub = container.get(key)
    if not isinstance(sub, dict):
        sub = {}
        container[key] = sub
    _assign(sub, parts[1:], value)


def parse_query(qs: str) -> dict:
    return rails_params(parse_qsl(qs, keep_blank_values=True))


# -- type coercion of form strings -----------------------------------------------------------
def _types(schema: dict) -> list[str]:
    t = schema.get("type") if isinstance(schema, dict) else None
    if t is None:
        return []
    return [t] if isinstance(t, str) else list(t)


def coerce(schema: Any, value: Any) -> Any:
    """Convert form strings to the schema's types where the conversion is exact."""
    if not isinstance(schema, dict):
        return value
    types = _types(schema)
    if isinstance(value, dict):
        props = schema.get("properties", {})
        addl = schema.get("additionalProperties")
        out = {}
        for k, v in value.items():
            if k in props:
                out[k] = coerce(props[k], v)
            elif isinstance(addl, dict):
                out[k] = coerce(addl, v)
            else:
                out[k] = v
        return out
    if isinstance(value, list):
        items = schema.get("items", {})
        return [coerce(items, v) for v in value]
    if not isinstance(value, str):
        return value
    if "string" in types:
        return value
    if "integer" in types and re.fullmatch(r"-?\d+", value.strip()):
        return int(value.strip())
    if "number" in types:
        try:
            return float(value) if not re.fullmatch(r"-?\d+", value.strip()) else int(value.strip())
        except ValueError:
            pass
    if "boolean" in types and value in ("true", "false"):
        return value == "true"
    if "null" in types and value == "":
        return None
    return value


# -- response shaping ---------------------------------------------------------------------------
def _default_for(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return None
    types = _types(schema)
    if "enum" in schema and schema["enum"]:
        return schema["enum"][0]
    if "null" in types or not types:
        if "object" in types or (not types and "properties" in schema):
            return conform(schema, {})
        return None
    t = types[0]
    return {
        "string": "",
        "integer": 0,
        "number": 0,
        "boolean": False,
        "array": [],
        "object": None,
    }.get(t) if t != "object" else conform(schema, {})


def _matches(types: list[str], value: Any) -> bool:
    if not types:
        return True
    for t in types:
        if t == "null" and value is None:
            return True
        if t == "string" and isinstance(value, str):
            return True
        if t == "boolean" and isinstance(value, bool):
            return True
        if t == "integer" and isinstance(value, int) and not isinstance(value, bool):
            return True
        if t == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
            return True
        if t == "array" and isinstance(value, list):
            return True
        if t == "object" and isinstance(value, dict):
            return True
    return False


def conform(schema: Any, value: Any) -> Any:
    """Shape a response built from the double's state to the documented response schema:
    required fields the double has no data for get an empty value of their type, fields the
    schema forbids (additionalProperties: false) are left out, and a value of the wrong JSON
    type is converted where that is lossless (12 -> "12" where a string is documented)."""
    if not isinstance(schema, dict) or not schema:
        return value
    types = _types(schema)
    if isinstance(value, dict) and ("object" in types or (not types and ("properties" in schema or "required" in schema))):
        props = schema.get("properties", {})
        addl = schema.get("additionalProperties", True)
        out = {}
        for k, v in value.items():
            if k in props:
                out[k] = conform(props[k], v)
            elif addl is False:
                continue
            elif isinstance(addl, dict):
                out[k] = conform(addl, v)
            else:
                out[k] = v
        for k in schema.get("required", []):
            if k not in out:
                out[k] = _default_for(props.get(k, {}))
        return out
    if isinstance(value, list) and ("array" in types or not types):
        items = schema.get("items")
        return [conform(items, v) for v in value] if isinstance(items, dict) else value
    if _matches(types, value):
        return value
    if value is None:
        return _default_for(schema)
    if "string" in types:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return str(value)
    if "integer" in types and isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    if "null" in types:
        return None
    return _default_for(schema)


# -- the description --------------------------------------------------------------------------
@dataclass
class Operation:
    method: str
    template: str
    op: dict

    @property
    def operation_id(self) -> str:
        return self.op.get("operationId", f"{self.method} {self.template}")

    def parameters(self, where: str) -> list[dict]:
        return [p for p in self.op.get("parameters") or [] if p.get("in") == where]

    def body_schema(self) -> dict | None:
        rb = self.op.get("requestBody")
        if not rb:
            return None
        content = rb.get("content", {})
        for ct in ("application/json", "multipart/form-data", "application/x-www-form-urlencoded"):
            if ct in content and "schema" in content[ct]:
                return content[ct]["schema"]
        return None

    def response_schema(self, status: int) -> dict | None:
        r = (self.op.get("responses") or {}).get(str(status))
        if not r:
            return None
        return (r.get("content") or {}).get("application/json", {}).get("schema")


@dataclass
class Match:
    template: str
    path_params: dict
    operations: dict  # method -> Operation
    aliases: list = field(default_factory=list)  # notes on Rails route aliases used


@dataclass
class Problem:
    """One way a request breaks the description."""

    where: str  # "path", "query", "body", "endpoint"
    field: str | None
    kind: str  # "required", "type", "unknown_endpoint", "additional", ...
    message: str


class Spec:
    def __init__(self, path: str | Path | None = None):
        self.path = find_spec_path(str(path) if path else None)
        self.doc = json.loads(Path(self.path).read_text())
        self._routes: list[tuple[re.Pattern, str, dict]] = []
        for template, item in self.doc.get("paths", {}).items():
            ops = {m: Operation(m, template, item[m]) for m in HTTP_METHODS if m in item}
            rx = "^" + re.sub(r"\\\{([^}]+)\\\}", lambda m: f"(?P<{_group(m.group(1))}>[^/]+?)", re.escape(template)) + "$"
            self._routes.append((re.compile(rx), template, ops))
        # literal segments win over placeholders: /t/-/{id}.json before /t/{id}.json
        self._routes.sort(key=lambda r: -len(re.sub(r"\{[^}]+\}", "", r[1])))

    def operations(self) -> Iterable[Operation]:
        for _, _, ops in self._routes:
            yield from ops.values()

    def match_exact(self, path: str, method: str | None = None) -> Match | None:
        """The documented path for `path`; among templates of the same shape (/groups/{name}/members.json
        and /groups/{id}/members.json) the one that documents `method` wins."""
        first = None
        for rx, template, ops in self._routes:
            m = rx.match(path)
            if m:
                params = {_ungroup(k): v for k, v in m.groupdict().items()}
                found = Match(template, params, ops)
                if method is None or method.lower() in ops:
                    return found
                first = first or found
        return first

    def operation(self, method: str, template: str) -> Operation | None:
        for _, t, ops in self._routes:
            if t == template:
                return ops.get(method.lower())
        return None

    # -- validation ---------------------------------------------------------------------------
    def check_params(self, op: Operation, path_params: dict, query: dict) -> tuple[dict, dict, list[Problem]]:
        problems: list[Problem] = []
        typed_path: dict = {}
        for p in op.parameters("path"):
            name = p["name"]
            raw = path_params.get(name)
            val = coerce(p.get("schema", {}), raw)
            typed_path[name] = val
            problems += _schema_problems(p.get("schema", {}), val, "path", name)
        typed_query = dict(query)
        for p in op.parameters("query"):
            name = p["name"]
            if name not in query:
                if p.get("required"):
                    problems.append(Problem("query", name, "required", f"required query parameter '{name}' is missing"))
                continue
            val = coerce(p.get("schema", {}), query[name])
            typed_query[name] = val
            problems += _schema_problems(p.get("schema", {}), val, "query", name)
        return typed_path, typed_query, problems

    def check_body(self, op: Operation, body: Any, from_form: bool) -> tuple[Any, list[Problem]]:
        schema = op.body_schema()
        if schema is None:
            return body, []
        if from_form:
            body = coerce(schema, body)
        if body is None:
            body = {}
        return body, _schema_problems(schema, body, "body", None)

    def check_response(self, op: Operation, status: int, body: Any) -> list[str]:
        schema = op.response_schema(status)
        if schema is None:
            return []
        v = Draft202012Validator(schema)
        return [f"{'/'.join(str(x) for x in e.absolute_path) or '<root>'}: {e.message}" for e in v.iter_errors(body)]

    def shape_response(self, op: Operation, status: int, body: Any) -> Any:
        schema = op.response_schema(status)
        return conform(schema, body) if schema else body


def _group(name: str) -> str:
    return "p_" + re.sub(r"\W", "_", name)


def _ungroup(name: str) -> str:
    return name[2:]


def _schema_problems(schema: dict, value: Any, where: str, name: str | None) -> list[Problem]:
    if not schema:
        return []
    problems = []
    for e in sorted(Draft202012Validator(schema).iter_errors(value), key=lambda e: list(e.absolute_path)):
        loc = [str(x) for x in e.absolute_path]
        if name:
            loc = [name] + loc
        kind = e.validator
        field_name = ".".join(loc) if loc else None
        if kind == "required":
            missing = re.findall(r"'([^']+)' is a required property", e.message)
            field_name = ".".join(loc + missing[:1]) if missing else field_name
        elif kind == "additionalProperties":
            extra = re.findall(r"'([^']+)'", e.message)
            field_name = ".".join(loc + extra[:1]) if extra else field_name
        where_txt = f"{where} parameter" if where != "body" else "request body"
        problems.append(Problem(where, field_name, kind, f"{where_txt} {'/'.join(loc) or '<root>'}: {e.message}"))
    return problems
