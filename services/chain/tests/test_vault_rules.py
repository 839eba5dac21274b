"""The vault's pure rules and settings: the contract's arithmetic mirrored exactly (rounding up
the reservation, flooring accrual, the penalty), previews refusing what would revert, the quote
decision, FundVault's key and its refusal in production, and the settings (production refuses the
development quote signer; the pool is funded at deployment only on the embedded chain outside
production)."""

from __future__ import annotations

import pytest
from chain_service import vault
from chain_service.config import DEV_INITIAL_POOL_WEI, ChainSettings
from ipheron_libs.devkeys import DEV_QUOTE_SIGNER_ADDRESS
from ipheron_libs.errors import FailedPrecondition
from pydantic import ValidationError

PROD = {"env": "production", "database_url": "postgresql://x@h/db", "redis_url": "redis://h:6379/0",
        "tls_dir": "/etc/ipheron/tls",
        "signer_key": "0x" + "ab" * 32, "web3_provider_uri": "https://rpc.example"}
STAKER = "0x" + "12" * 20


def stake(**kw: object) -> vault.StakeOnChain:
    base: dict[str, object] = dict(stake_id=1, staker=STAKER, start=1000, end=1100, closed=False, token_id=1,
                                   amount=10**18, apr_bps=1000, reward=1001, claimed=0, nonce=1, quote_hash=b"\0" * 32,
                                   accrued=0, at=1000)
    base.update(kw)
    return vault.StakeOnChain(**base)  # type: ignore[arg-type]


def test_accrual_is_floored_linear_and_capped() -> None:
    assert [vault.accrued(1001, 1000, 1100, t) for t in (999, 1000, 1001, 1050, 1099, 1100, 5000)] == [
        0, 0, 10, 500, 990, 1001, 1001]


def test_previews_pay_what_the_contract_pays_and_refuse_what_would_revert() -> None:
    assert vault.preview(stake(claimed=10), "claim", 1000, 1050) == vault.ActionPreview(490, False, 0)
    early = vault.preview(stake(claimed=10), "unstake", 1000, 1050)
    assert early == vault.ActionPreview(10**18 + 500 - 10 - 10**17, True, 10**17)
    assert vault.preview(stake(claimed=10), "unstake", 1000, 1100) == vault.ActionPreview(10**18 + 991, False, 0)
    with pytest.raises(FailedPrecondition, match="nothing accrued"):
        vault.preview(stake(), "claim", 1000, 1000)
    with pytest.raises(FailedPrecondition, match="closed"):
        vault.preview(stake(closed=True), "unstake", 1000, 1200)


def test_the_quote_decision_names_why_a_stake_would_revert() -> None:
    quote = vault.StakeQuote(STAKER, 1, 10, 100, 60, 2000, 5)
    ok = vault.QuoteReading(DEV_QUOTE_SIGNER_ADDRESS, False, 10**18, 2000)
    vault.stake_decision(quote, True, ok)
    with pytest.raises(FailedPrecondition, match="quote signer"):
        vault.stake_decision(quote, False, ok)
    with pytest.raises(FailedPrecondition, match="expired"):
        vault.stake_decision(quote, True, vault.QuoteReading(DEV_QUOTE_SIGNER_ADDRESS, False, 10**18, 2001))
    with pytest.raises(FailedPrecondition, match="already used"):
        vault.stake_decision(quote, True, vault.QuoteReading(DEV_QUOTE_SIGNER_ADDRESS, True, 10**18, 2000))


def test_fund_keys_and_production() -> None:
    assert vault.parse_fund_key(" k ") == "vault_fund:k"
    with pytest.raises(FailedPrecondition):
        vault.fund_decision("production")
    vault.fund_decision("development")


def test_production_refuses_the_development_quote_signer() -> None:
    for signer in (None, DEV_QUOTE_SIGNER_ADDRESS, DEV_QUOTE_SIGNER_ADDRESS.lower()):
        with pytest.raises(ValidationError, match="CHAIN_VAULT_QUOTE_SIGNER"):
            ChainSettings(**PROD, vault_quote_signer=signer)
    prod = ChainSettings(**PROD, vault_quote_signer="0x" + "cd" * 20)
    assert prod.effective_vault_quote_signer == "0x" + "cd" * 20 and prod.effective_vault_initial_pool_wei == 0


def test_the_pool_is_funded_at_deployment_only_on_the_embedded_chain_outside_production() -> None:
    dev = ChainSettings()
    assert dev.effective_vault_quote_signer == DEV_QUOTE_SIGNER_ADDRESS and dev.vault_penalty_bps == 1000
    assert dev.effective_vault_initial_pool_wei == DEV_INITIAL_POOL_WEI == 1000 * 10**18
    assert ChainSettings(vault_initial_pool_wei=5).effective_vault_initial_pool_wei == 5
    assert ChainSettings(web3_provider_uri="http://n:8545", signer_key="0x" + "ab" * 32,
                         vault_initial_pool_wei=5).effective_vault_initial_pool_wei == 0
    with pytest.raises(ValidationError):
        ChainSettings(vault_penalty_bps=10_001)


def test_a_quote_is_parsed_strictly() -> None:
    import json

    from ipheron_libs.errors import InvalidArgument

    good = {"staker": STAKER, "tokenId": "1", "amount": "5", "aprBps": 1200, "duration": "60", "expiry": "9",
            "nonce": str(2**255)}
    quote = vault.parse_quote(json.dumps(good))
    assert (quote.amount, quote.apr_bps, quote.nonce) == (5, 1200, 2**255)
    for field, value in (("aprBps", str(2**32)), ("tokenId", str(2**64)), ("amount", "0"), ("duration", "0"),
                         ("duration", str(100 * 365 * 86_400 + 1)), ("nonce", str(2**256)), ("expiry", "-1"),
                         ("amount", True), ("staker", "0x" + "00" * 20), ("staker", 5)):
        with pytest.raises(InvalidArgument) as err:
            vault.parse_quote(json.dumps({**good, field: value}))
        assert err.value.field == f"quote.{field}"
