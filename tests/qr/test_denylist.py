"""Deny list: versioned documents, deltas applied in order, gaps and reordering refused."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qr.denylist import DenyList, DenyListDelta
from qr.errors import DenyListError, DenyListGapError, DenyListOrderError

ID_SETS = st.frozensets(st.integers(0, 60), max_size=20)


@given(st.lists(ID_SETS, min_size=1, max_size=8))
def test_applying_deltas_in_order_equals_the_full_list(snapshots: list[frozenset[int]]) -> None:
    lists = [DenyList(v, ids) for v, ids in enumerate(snapshots)]
    deltas = [a.delta_to(b) for a, b in itertools.pairwise(lists)]
    assert lists[0].apply_all(deltas) == lists[-1]
    # And through JSON, as a gate receives them.
    wired = [DenyListDelta.from_json(d.to_json()) for d in deltas]
    assert DenyList.from_json(lists[0].to_json()).apply_all(wired) == lists[-1]


def test_gap_and_out_of_order_deltas_are_refused() -> None:
    base = DenyList(5, frozenset({1}))
    with pytest.raises(DenyListGapError, match="5->6 are missing"):
        base.apply(DenyListDelta(6, 7, frozenset({2}), frozenset()))
    with pytest.raises(DenyListOrderError, match="already at version 5"):
        base.apply(DenyListDelta(4, 5, frozenset({2}), frozenset()))
    step = base.apply(DenyListDelta(5, 6, frozenset({2}), frozenset({1})))
    assert step == DenyList(6, frozenset({2}))
    with pytest.raises(DenyListOrderError):
        step.apply(DenyListDelta(5, 6, frozenset({2}), frozenset({1})))  # the same delta twice


def test_delta_must_move_forward_and_be_consistent() -> None:
    with pytest.raises(DenyListError):
        DenyListDelta(3, 3, frozenset(), frozenset())
    with pytest.raises(DenyListError):
        DenyListDelta(3, 4, frozenset({1}), frozenset({1}))


def test_documents() -> None:
    assert DenyList.from_json([3, 1]) == DenyList(0, frozenset({1, 3}))
    at = datetime(2025, 6, 1, tzinfo=UTC)
    doc = DenyList(4, frozenset({9}), issued_at=at).to_json()
    assert doc == {
        "format": "faregate-deny-list/1",
        "version": 4,
        "ids": ["9"],  # strings: ids above 2**53 are not safe as JSON numbers
        "issued_at": "2025-06-01T00:00:00Z",
    }
    assert DenyList.from_json(doc).issued_at == at
    assert 9 in DenyList.from_json(doc)
    assert 2**64 - 1 in DenyList.from_json({"version": 1, "ids": [str(2**64 - 1)]})
    assert DenyList.from_json({"version": 1, "ids": [7]}).ids == {7}  # numbers are read too


@pytest.mark.parametrize(
    "doc",
    [
        "x",
        {"ids": []},
        {"version": -1, "ids": []},
        {"version": 1, "ids": ["07"]},
        {"version": 1, "ids": ["-7"]},
        {"version": 1, "ids": [" 7"]},
        {"version": 1, "ids": [str(2**64)]},
        {"version": 1, "ids": [True]},
        [2**64],
    ],
)
def test_bad_documents_are_clear_errors(doc: object) -> None:
    with pytest.raises(DenyListError):
        DenyList.from_json(doc)
