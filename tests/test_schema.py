"""schema.keys_may_repeat: the cheap check that decides whether a pull de-duplicates keys."""

from __future__ import annotations

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from ordersync import schema as s

_IDS = st.one_of(st.none(), st.sampled_from(["A1", "A2", "a1", "", " A1", "1001"]))


@given(st.lists(st.tuples(_IDS, _IDS), min_size=1, max_size=12))
def test_repeated_keys_are_always_reported(rows: list[tuple[str | None, str | None]]) -> None:
    frame = pl.DataFrame(
        rows, schema={"order_id": pl.String, "shipment_id": pl.String}, orient="row"
    )
    repeats = frame.is_duplicated().any()
    if repeats:
        assert s.keys_may_repeat(frame, ["order_id", "shipment_id"])
    else:
        # No repeat and a 64-bit hash over a dozen rows: a collision is not a practical worry.
        assert not s.keys_may_repeat(frame, ["order_id", "shipment_id"])


def test_a_key_is_both_columns_together() -> None:
    frame = pl.DataFrame({"order_id": ["A1", "A1"], "shipment_id": ["1", "2"]})
    assert not s.keys_may_repeat(frame, ["order_id", "shipment_id"])
    assert s.keys_may_repeat(frame, ["order_id"])
