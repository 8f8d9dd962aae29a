"""Tool parameter JSON Schemas reshaped into what providers accept, never refused for being rich.

Two steps, both pure (the client's schema is never modified; the result may share unchanged
subtrees with it):

``inline_refs`` replaces every local ``$ref`` (``#``, ``#/$defs/...``, ``#/definitions/...``, any
JSON pointer into the document, with ``~0``/``~1`` and percent escapes) by the schema it points to,
and drops the then unused ``$defs``/``definitions``, for vendors that reject references. A
reference that cannot be inlined becomes the permissive schema ``{}`` (with the keywords that stood
beside it): one that points back into a schema it is already inside (recursion), one that is not
local or does not resolve, and any beyond ``MAX_REF_DEPTH`` nested references, ``MAX_NODES``
inlined schemas or ``MAX_DEPTH`` levels of nesting. Keywords beside a ``$ref`` are merged into the
target (theirs win) when they only annotate (title, description, ...), else both are kept under
``allOf``. ``$dynamicRef``/``$recursiveRef`` cannot be inlined and are dropped (permissive).

``object_root`` gives the root the ``{"type": "object", ...}`` that the OpenAI and Anthropic tool
APIs require. A root ``$ref`` is followed; a root ``allOf`` merges its object branches (properties
of all, every branch's ``required``); a root ``anyOf``/``oneOf`` merges its object branches
(properties of all, ``required`` only what every branch requires); branches that cannot be objects
(``{"type": "null"}``, strings, ...) are left out, and so are the branches' other keywords. A
property that two branches describe differently becomes ``anyOf`` (or, for ``allOf`` and against
the root's own properties, ``allOf``) of both. A root without ``type`` gets ``"object"``; a root
whose type cannot be an object becomes ``{"type": "object", "properties": {}}``. A root that is
already an object schema comes back equal.

Unknown keywords are carried as they are and never looked into.
"""

from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import unquote

MAX_REF_DEPTH = 32  # references followed inside one another
MAX_NODES = 5000  # schemas copied while inlining, so shared definitions cannot blow up exponentially
MAX_DEPTH = 100  # nesting levels walked (keeps far from the interpreter's recursion limit)
_ROOT_DEPTH = 8  # root combinators and references followed inside one another by object_root
_ROOT_BRANCHES = 256  # combinator branches object_root merges at most

# Keywords whose value is a schema, a list of schemas, or a map of names to schemas.
_ONE = frozenset(
    "additionalProperties additionalItems not if then else contains propertyNames unevaluatedProperties "
    "unevaluatedItems contentSchema items".split()
)
_LIST = frozenset("allOf anyOf oneOf prefixItems items".split())
_MAP = frozenset("properties patternProperties dependentSchemas dependencies".split())
_DEFS = ("$defs", "definitions")
_UNINLINABLE = frozenset("$dynamicRef $recursiveRef $dynamicAnchor $recursiveAnchor".split())
_ANNOTATIONS = frozenset("title description default examples deprecated readOnly writeOnly $comment".split())
_COMBINATORS = ("allOf", "anyOf", "oneOf")


def normalize(schema: Any, inline: bool = False) -> Dict[str, Any]:
    """The tool parameters to send: references inlined when ``inline``, then an object root."""
    return object_root(inline_refs(schema) if inline else schema)


def inline_refs(schema: Any) -> Any:
    """``schema`` with every ``$ref`` replaced by its target and no ``$defs``/``definitions`` left."""
    if not isinstance(schema, dict):
        return schema
    return _Inliner(schema).walk(schema, ((),), 0)


def object_root(schema: Any) -> Dict[str, Any]:
    """``schema`` as a root ``{"type": "object", ...}`` schema (a new dict; see the module docstring)."""
    if not isinstance(schema, dict):
        return {"type": "object", "properties": {}}
    if "$ref" in schema or any(keyword in schema for keyword in _COMBINATORS):
        return _Merger(schema).merge(schema, 0)
    kind = schema.get("type")
    if kind == "object":
        return dict(schema)
    if not _may_be_object(kind):
        return {"type": "object", "properties": {}}
    out = dict(schema, type="object")
    if kind is None:
        out.setdefault("properties", {})
    return out


class _Inliner:
    """One inlining pass over one document: its root, and the budget of schemas still to copy."""

    def __init__(self, root: Dict[str, Any]) -> None:
        self.root = root
        self.budget = MAX_NODES

    def walk(self, node: Any, inside: Tuple[Tuple[str, ...], ...], depth: int) -> Any:
        """A copy of one schema with its references inlined; ``inside`` holds the targets being expanded."""
        if not isinstance(node, dict):
            return node
        if depth > MAX_DEPTH:
            return {}
        if len(inside) > 1:
            self.budget -= 1
        out: Dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" or key in _UNINLINABLE or key in _DEFS:
                continue
            out[key] = self._children(key, value, inside, depth)
        if "$ref" not in node:
            return out
        return _beside(self._target(node["$ref"], inside, depth), out)

    def _children(self, key: str, value: Any, inside: Tuple[Tuple[str, ...], ...], depth: int) -> Any:
        if key in _MAP and isinstance(value, dict):
            return {name: self.walk(item, inside, depth + 1) for name, item in value.items()}
        if key in _LIST and isinstance(value, list):
            return [self.walk(item, inside, depth + 1) for item in value]
        if key in _ONE:
            return self.walk(value, inside, depth + 1)
        return value

    def _target(self, ref: Any, inside: Tuple[Tuple[str, ...], ...], depth: int) -> Dict[str, Any]:
        """The inlined target of a reference, or ``{}`` when it must not or cannot be inlined."""
        path, target = resolve_pointer(self.root, ref)
        if path is None or path in inside or len(inside) > MAX_REF_DEPTH or self.budget <= 0:
            return {}
        expanded = self.walk(target, inside + (path,), depth + 1)
        if isinstance(expanded, dict):
            return expanded
        return {} if expanded is True else {"not": {}}


def resolve_pointer(root: Any, ref: Any) -> Tuple[Optional[Tuple[str, ...]], Any]:
    """(path, target) of a local reference such as ``#/$defs/a~1b``; (None, None) when it does not resolve."""
    if not isinstance(ref, str) or not ref.startswith("#"):
        return None, None
    fragment = unquote(ref[1:])
    if not fragment:
        return (), root
    if not fragment.startswith("/"):
        return None, None  # a plain-name anchor: not followed
    path = tuple(token.replace("~1", "/").replace("~0", "~") for token in fragment[1:].split("/"))
    node = root
    for token in path:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and str(int(token)) == token and int(token) < len(node):
            node = node[int(token)]
        else:
            return None, None
    return path, node


def _beside(target: Dict[str, Any], siblings: Dict[str, Any]) -> Dict[str, Any]:
    """A reference's target together with the keywords written beside the reference."""
    if set(target).intersection(siblings) - _ANNOTATIONS:
        return {"allOf": [target, siblings]}
    return dict(target, **siblings)


def _may_be_object(kind: Any) -> bool:
    """Whether a ``type`` value allows objects (no type allows everything)."""
    if kind is None:
        return True
    if isinstance(kind, list):
        return "object" in kind
    return kind == "object"


class _Merger:
    """One root merge: its document, and the budget of branches still to merge."""

    def __init__(self, root: Dict[str, Any]) -> None:
        self.root = root
        self.budget = _ROOT_BRANCHES

    def merge(self, node: Dict[str, Any], depth: int) -> Dict[str, Any]:
        """One object schema for a node with a ``$ref`` or combinators (see the module docstring)."""
        node = self._follow(node)
        if not _may_be_object(node.get("type")):
            return {"type": "object", "properties": {}}
        out = {key: value for key, value in node.items() if key not in _COMBINATORS and key != "$ref"}
        out["type"] = "object"
        properties = dict(node["properties"]) if isinstance(node.get("properties"), dict) else {}
        required = _names(node.get("required"))
        for keyword in _COMBINATORS:
            merged = self._branches(node.get(keyword), depth)
            if not merged:
                continue
            joiner = "allOf" if keyword == "allOf" else "anyOf"
            branch_properties: Dict[str, Any] = {}
            for branch in merged:
                for name, value in branch["properties"].items():
                    branch_properties[name] = _join(joiner, branch_properties.get(name), value)
            for name, value in branch_properties.items():
                properties[name] = _join("allOf", properties.get(name), value)
            names = [_names(branch.get("required")) for branch in merged]
            if keyword == "allOf":
                required += [name for branch_names in names for name in branch_names]
            else:
                required += [name for name in names[0] if all(name in branch_names for branch_names in names)]
        out["properties"] = properties
        out.pop("required", None)
        if required:
            out["required"] = list(dict.fromkeys(required))
        return out

    def _branches(self, branches: Any, depth: int) -> List[Dict[str, Any]]:
        """The object branches of one combinator, each merged into one object schema."""
        if not isinstance(branches, list) or depth >= _ROOT_DEPTH:
            return []
        merged = []
        for branch in branches:
            if not isinstance(branch, dict) or self.budget <= 0:
                continue
            self.budget -= 1
            branch = self._follow(branch)
            if _may_be_object(branch.get("type")):
                merged.append(self.merge(branch, depth + 1))
        return merged

    def _follow(self, node: Dict[str, Any]) -> Dict[str, Any]:
        """A node with a local ``$ref``: its target with the node's other keywords laid over it."""
        for _hop in range(_ROOT_DEPTH):
            if "$ref" not in node:
                break
            _path, target = resolve_pointer(self.root, node["$ref"])
            siblings = {key: value for key, value in node.items() if key != "$ref"}
            node = dict(target, **siblings) if isinstance(target, dict) else siblings
        return node


def _join(joiner: str, old: Any, new: Any) -> Any:
    if old is None or old == new:
        return new
    return {joiner: [old, new]}


def _names(value: Any) -> List[str]:
    return [name for name in value if isinstance(name, str)] if isinstance(value, list) else []
