"""The one list of member families. A new family is a folder under ``members/`` and one line here.

Everything that needs to know which members exist — the engine (loading, grouping), the training pipeline,
the CLI's ``--members`` — asks this module.
"""

from __future__ import annotations

from humanorai.errors import BundleError
from humanorai.members.base import Family
from humanorai.members.h2o.family import H2OFamily
from humanorai.members.transformer.family import TransformerFamily

FAMILIES: tuple[Family, ...] = (H2OFamily(), TransformerFamily())


def find_family(kind: str) -> Family | None:
    """The family whose members the manifest records as ``kind``, if this humanorai has it."""
    return next((family for family in FAMILIES if family.kind == kind), None)


def family_of_kind(kind: str) -> Family:
    """Like :func:`find_family`, but an unknown kind is a :class:`BundleError` naming the known ones."""
    family = find_family(kind)
    if family is not None:
        return family
    raise BundleError(f"unknown member kind {kind!r}; this humanorai knows "
                      f"{', '.join(family.kind for family in FAMILIES)}")


def all_members() -> tuple[str, ...]:
    """Every member any family can train, in registry order."""
    return tuple(name for family in FAMILIES for name in family.members)


def parse_members(value: str) -> tuple[str, ...]:
    """Parse ``--members``: comma-separated names in any case, or ``all``; returned in registry order."""
    asked = {name.strip().lower() for name in value.split(",") if name.strip()}
    known = all_members()
    if asked == {"all"}:
        return known
    unknown = sorted(asked - {name.lower() for name in known})
    if unknown or not asked:
        raise ValueError(f"unknown member(s) {', '.join(name.upper() for name in unknown) or '(none)'}; choose from "
                         f"{', '.join(name.lower() for name in known)} or all")
    return tuple(name for name in known if name.lower() in asked)
