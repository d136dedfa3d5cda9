"""The registry is the one list of families: names are unique, kinds resolve, ``--members`` parses."""

from __future__ import annotations

import pytest

from humanorai.errors import BundleError
from humanorai.members.registry import FAMILIES, all_members, family_of_kind, find_family, parse_members


def test_kinds_and_member_names_are_unique() -> None:
    kinds = [family.kind for family in FAMILIES]
    assert len(kinds) == len(set(kinds))
    names = [name.lower() for name in all_members()]
    assert len(names) == len(set(names))


def test_a_kind_resolves_to_its_family_and_an_unknown_one_names_the_known() -> None:
    for family in FAMILIES:
        assert family_of_kind(family.kind) is family
    assert find_family("svm") is None
    with pytest.raises(BundleError, match="unknown member kind 'svm'; this humanorai knows h2o-mojo, transformer"):
        family_of_kind("svm")


def test_parse_members() -> None:
    assert parse_members("all") == all_members() == ("DRF", "GBM", "GLM", "BERT", "RoBERTa")
    assert parse_members("roberta, GLM,glm") == ("GLM", "RoBERTa")
    with pytest.raises(ValueError, match=r"unknown member\(s\) XGBOOST; choose from drf, gbm, glm, bert, roberta"):
        parse_members("xgboost")
    with pytest.raises(ValueError, match=r"unknown member\(s\) \(none\)"):
        parse_members(" , ")
