"""The filter builder's form encoding: a tree of groups and conditions as flat form fields.

A node's path is "0" (the root group), "0.2" (its third item), "0.2.1" …; a group posts
`n-<path>-op`, a condition `n-<path>-field`, `-operator`, `-value`. Structural buttons post
`builder_action` = add_cond:<path> | add_group:<path> | remove:<path>. The same code reads
the form for the live count, the htmx re-render and the save, so they cannot disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as dc_field

from rapport.segments import filters

_KEY = re.compile(r"^n-([0-9]+(?:\.[0-9]+)*)-(op|field|operator|value)$")
MAX_NODES = 200


def tree_from_post(data) -> dict:
    """The filter tree the form describes (not validated)."""
    nodes: dict[str, dict] = {}
    for key in list(data.keys())[: MAX_NODES * 4]:
        match = _KEY.match(key)
        if match:
            path, part = match.groups()
            nodes.setdefault(path, {})[part] = data.get(key, "")

    def build(path: str) -> dict:
        children = sorted(
            (p for p in nodes if p.startswith(path + ".") and "." not in p[len(path) + 1 :]),
            key=lambda p: int(p.rsplit(".", 1)[1]),
        )
        items = []
        for child in children:
            node = nodes[child]
            if "op" in node:
                items.append(build(child))
            elif "field" in node:
                items.append(
                    {
                        "field": node.get("field", ""),
                        "operator": node.get("operator", ""),
                        "value": node.get("value", ""),
                    }
                )
        return {"op": nodes.get(path, {}).get("op", "and") or "and", "items": items}

    return build("0")


def _at(tree: dict, path: str) -> dict | None:
    node = tree
    for index in path.split(".")[1:]:
        items = node.get("items", [])
        i = int(index)
        if i >= len(items):
            return None
        node = items[i]
    return node


def apply_action(tree: dict, action: str) -> dict:
    """The tree after an add / remove button."""
    verb, _, path = action.partition(":")
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)*", path or ""):
        return tree
    if verb in ("add_cond", "add_group"):
        node = _at(tree, path)
        if node is not None and "items" in node and len(node["items"]) < filters.MAX_ITEMS:
            blank = {"field": "first_name", "operator": "equals", "value": ""}
            node["items"].append(
                blank if verb == "add_cond" else {"op": "or", "items": [dict(blank)]}
            )
    elif verb == "remove" and "." in path:
        parent = _at(tree, path.rsplit(".", 1)[0])
        index = int(path.rsplit(".", 1)[1])
        if parent is not None and index < len(parent.get("items", [])):
            del parent["items"][index]
    return tree


@dataclass
class Row:
    path: str
    depth: int
    where: str  # the validation key prefix ("filter.items[0]")
    is_group: bool
    op: str = "and"
    field: str = ""
    operator: str = ""
    value: str = ""
    spec: filters.FieldSpec | None = None
    operators: list[tuple[str, str]] = dc_field(default_factory=list)
    errors: list[str] = dc_field(default_factory=list)
    children: list[Row] = dc_field(default_factory=list)

    @property
    def needs_value(self) -> bool:
        return self.operator not in filters.NO_VALUE

    @property
    def value_choices(self) -> list[tuple[str, str]]:
        if self.spec and self.spec.choices and self.operator in ("equals", "not_equals"):
            return list(self.spec.choices)
        return []

    @property
    def value_kind(self) -> str:
        if self.operator in ("within_days", "not_within_days"):
            return "days"
        if self.spec and self.spec.type == "date":
            return "date"
        if self.spec and self.spec.type in ("number", "aggregate", "product"):
            return "number"
        return "text"


def rows_for(tree: dict, errors: dict[str, list[str]] | None = None) -> Row:
    """The tree as nested rows for the template, with each row's errors."""
    catalogue = filters.field_catalogue()
    errors = errors or {}

    def mine(where: str) -> list[str]:
        out = []
        for key in (where, f"{where}.op", f"{where}.field", f"{where}.operator", f"{where}.value"):
            out.extend(errors.get(key, []))
        return out

    def build(node: dict, path: str, depth: int, where: str) -> Row:
        row = Row(path, depth, where, True, op=node.get("op", "and"), errors=mine(where))
        if depth == 0:
            row.errors += errors.get(f"{where}.items", [])
        for i, item in enumerate(node.get("items", [])):
            child_path, child_where = f"{path}.{i}", f"{where}.items[{i}]"
            if isinstance(item, dict) and "items" in item:
                row.children.append(build(item, child_path, depth + 1, child_where))
                continue
            spec = catalogue.get(item.get("field", ""))
            ops = filters.TYPE_OPERATORS[spec.type] if spec else []
            operator = item.get("operator", "")
            if spec and operator not in ops:
                operator = ops[0]
            row.children.append(
                Row(
                    child_path,
                    depth + 1,
                    child_where,
                    False,
                    field=item.get("field", ""),
                    operator=operator,
                    value=str(item.get("value", "") or ""),
                    spec=spec,
                    operators=[(o, filters.OPERATORS[o]) for o in ops],
                    errors=mine(child_where),
                )
            )
        return row

    return build(tree or {"op": "and", "items": []}, "0", 0, "filter")


def field_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    groups: dict[str, list[tuple[str, str]]] = {}
    for spec in filters.field_catalogue().values():
        groups.setdefault(spec.group, []).append((spec.key, spec.label))
    return list(groups.items())
