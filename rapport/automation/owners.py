"""Rules another module owns (a sequence's steps are one rule: rapport.sequences): that
module registers a lookup here at start-up, the settings pages show such a rule read-only
with a link to its owner, and the rule services refuse to change or delete it (the owner
keeps it in step with its own rows through `rule_save_for_module`)."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class RuleOwner:
    label: str  # "the sequence “Welcome”"
    url: str  # where the rule is changed


_lookups: list[Callable[[list[int]], dict[int, RuleOwner]]] = []


def register_rule_owner(lookup: Callable[[list[int]], dict[int, RuleOwner]]) -> None:
    """`lookup(rule_ids)` → {rule id: owner} for the rules among `rule_ids` the module owns
    (one query for a whole list)."""
    if lookup not in _lookups:
        _lookups.append(lookup)


def rule_owners(rule_ids: Iterable[int]) -> dict[int, RuleOwner]:
    ids = [pk for pk in rule_ids if pk is not None]
    owners: dict[int, RuleOwner] = {}
    if ids:
        for lookup in _lookups:
            owners.update(lookup(ids))
    return owners


def rule_owner(rule_id: int) -> RuleOwner | None:
    return rule_owners([rule_id]).get(rule_id)
