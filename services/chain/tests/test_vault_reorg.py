"""A reorg of vault events on a JSON-RPC node (hardhat, see test_json_rpc_node.py): the service
deploys the vault there (no initial pool off the embedded chain; FundVault funds it), a wallet
stakes directly on the contract and claims; the indexer publishes chain.vault.funded,
chain.stake.opened and chain.stake.claimed; `evm_revert` to a snapshot taken before the stake,
then new blocks, removes those blocks: each of their events is undone with a
chain.event.reverted naming its id and type, the checkpoint follows the new branch, and
Reconcile agrees with the chain again (the stake no longer exists on either)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from chain_service import index_rules as rules
from chain_service import vault
from chain_service.config import ChainSettings
from chain_service.index_repository import IndexRepository
from chain_service.indexer import Indexer
from chain_service.repository import SCHEMA, ChainRepository
from chain_service.service import ChainService
from conftest import chain_database
from eth_account import Account
from ipheron_libs import db
from ipheron_libs.devkeys import DEV_QUOTE_SIGNER_KEY
from test_indexer_reorg import outbox, send_as
from test_json_rpc_node import SIGNER_KEY, node_uri, rpc  # noqa: F401 - node_uri is the module's hardhat node

ETH = 10**18


@pytest.fixture(scope="module")
async def hardhat_chain(node_uri: str, pg_admin_url: str) -> AsyncIterator[ChainService]:  # noqa: F811
    url = chain_database(pg_admin_url, "ipheron_chain_vault_reorg")
    settings = ChainSettings(database_url=url, web3_provider_uri=node_uri, signer_key=SIGNER_KEY, poll_interval_s=0.02)
    engine = db.make_engine(url, SCHEMA, pool_size=4, max_overflow=8)
    service = await ChainService.open(settings, ChainRepository(engine))
    yield service
    service.close()
    engine.dispose()


def signed_quote(service: ChainService, staker: str, amount: int, now: int) -> tuple[vault.StakeQuote, bytes]:
    quote = vault.StakeQuote(staker=staker, token_id=1, amount=amount, apr_bps=50_000, duration=3600,
                             expiry=now + 3600, nonce=42)
    document = vault.typed_data(quote, service.chain_id, service.vault.address)
    return quote, bytes(Account.from_key(DEV_QUOTE_SIGNER_KEY).sign_typed_data(full_message=document).signature)


async def test_a_reorg_undoes_the_vault_events_of_the_orphaned_blocks(hardhat_chain: ChainService,
                                                                      node_uri: str) -> None:  # noqa: F811
    service = hardhat_chain
    state = await service.get_vault()
    assert state.pool_free == 0 and state.balance == 0  # no initial pool off the embedded chain
    staker = Account.create()
    rpc(node_uri, "hardhat_setBalance", [staker.address, hex(10 * ETH)])
    indexer = Indexer(ChainSettings(web3_provider_uri=node_uri, signer_key=SIGNER_KEY, indexer_max_blocks=3),
                      IndexRepository(service.repo.engine), service)
    await indexer.catch_up()

    snapshot = rpc(node_uri, "evm_snapshot")
    await service.fund_vault(str(5 * ETH), "reorg-fund")
    quote, signature = signed_quote(service, staker.address, 2 * ETH, await service.ledger.head_timestamp())
    opened = await send_as(service, staker, service.vault.address,
                           service.vault.stake_data(quote, signature), 2 * ETH)
    rpc(node_uri, "evm_increaseTime", [600])
    claimed = await send_as(service, staker, service.vault.address, service.vault.claim_data(1))
    await indexer.catch_up()
    published: dict[str, dict[str, Any]] = {}
    for type_ in (rules.VAULT_FUNDED, rules.STAKE_OPENED, rules.STAKE_CLAIMED):
        (published[type_],) = outbox(service, type_)
    assert published[rules.STAKE_OPENED]["block_hash"] == "0x" + bytes(opened["blockHash"]).hex()
    assert published[rules.STAKE_CLAIMED]["tx_hash"] == "0x" + bytes(claimed["transactionHash"]).hex()
    clean = await service.reconcile()
    assert clean.differences == () and clean.stakes_checked == 1

    # The funding, the stake and the claim leave the chain: back to the snapshot, other blocks on top.
    assert rpc(node_uri, "evm_revert", [snapshot]) is True
    for _ in range(4):
        rpc(node_uri, "evm_mine")
    assert (await service.get_vault()).stake_count == 0
    await indexer.catch_up()

    reverted = {r["event_type"]: r for r in outbox(service, rules.EVENT_REVERTED)}
    for type_, event in published.items():
        undo = reverted[type_]
        assert undo["event_id"] == event["id"] and undo["reason"] == "reorg"
        assert undo["undone"]["tx_hash"] == event["tx_hash"]
    assert {r["event"] for r in reverted.values()} >= {"PoolFunded", "StakeOpened", "RewardsClaimed"}
    live = indexer.repo.events(service.chain_id, include_removed=False)
    assert not [r for r in live if r.event.domain_type.startswith(("chain.stake.", "chain.vault."))]
    after = await service.reconcile()
    assert after.differences == () and after.stakes_checked == 0
