"""The prepared-transaction record the assets and staking services share: its JSON form keeps wei
exact beyond 64 bits (strings) and reads rows written with numbers as strings too; its wire form
round-trips."""

from __future__ import annotations

from ipheron.chain.v1 import chain_service_pb2 as chain_pb
from ipheron_libs.prepared import PreparedTx, prepared_of, prepared_pb, tx_status_of

TX = PreparedTx(from_address="0x" + "11" * 20, to="0x" + "22" * 20, data="0xabcdef", value_wei=10**30 + 7,
                chain_id=31337, gas=1_000_000, max_fee_per_gas_wei=2**70, max_priority_fee_per_gas_wei=10**9, nonce=3)


def test_the_json_form_keeps_wei_exact_as_strings_and_round_trips() -> None:
    data = TX.to_json()
    assert data["value_wei"] == str(10**30 + 7) and data["max_fee_per_gas_wei"] == str(2**70)
    assert PreparedTx.from_json(data) == TX


def test_rows_written_with_every_number_as_a_string_still_read() -> None:
    data = {k: str(v) for k, v in TX.to_json().items()}
    assert PreparedTx.from_json(data) == TX


def test_the_wire_form_round_trips_and_a_status_reads_its_name() -> None:
    assert prepared_of(prepared_pb(TX)) == TX
    status = tx_status_of(chain_pb.Transaction(status=chain_pb.TRANSACTION_STATUS_FAILED, error="OrderAlreadyFilled",
                                               block_number=12))
    assert (status.status, status.error, status.block_number) == ("FAILED", "OrderAlreadyFilled", 12)
