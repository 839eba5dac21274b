"""Hot-route JSON: exact decimals stay strings; unknown types fail loudly."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest
from ipheron_gateway.responses import fast_json


def test_decimal_money_is_serialised_as_an_exact_string() -> None:
    resp = fast_json({"price": Decimal("1.234567890123456789")}, status_code=201)
    assert resp.status_code == 201 and resp.media_type == "application/json"
    assert orjson.loads(resp.body) == {"price": "1.234567890123456789"}


def test_unserialisable_values_are_an_error_not_a_guess() -> None:
    with pytest.raises(TypeError):
        fast_json({"x": object()})
