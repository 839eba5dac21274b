"""Chain service settings (env prefix CHAIN_, plus the shared WEB3_PROVIDER_URI)."""

from __future__ import annotations

from pathlib import Path

from ipheron_libs.devkeys import DEV_QUOTE_SIGNER_ADDRESS
from ipheron_libs.settings import InsecureSettingError, ServiceSettings
from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

# eth-tester's first funded development account (private key 0x…01). Public knowledge, so
# only the embedded development chain may use it; production refuses it.
DEV_SIGNER_KEY = "0x" + "00" * 31 + "01"
# The embedded development chain's vault starts with this reward pool (1000 ETH).
DEV_INITIAL_POOL_WEI = 1000 * 10**18


class ChainSettings(ServiceSettings):
    """What the chain service reads; every amount is in wei, every duration in seconds."""

    model_config = SettingsConfigDict(env_prefix="CHAIN_", extra="ignore", populate_by_name=True)

    grpc_port: int = 50056
    # Alembic scripts live beside the package (the container sets CHAIN_MIGRATIONS_DIR).
    migrations_dir: Path | None = None
    # Empty: the embedded in-process EVM (py-evm). Otherwise any JSON-RPC node (http/ws).
    web3_provider_uri: str | None = Field(
        default=None, validation_alias=AliasChoices("WEB3_PROVIDER_URI", "CHAIN_WEB3_PROVIDER_URI")
    )
    # A secret: its repr is '**********', so neither a log line nor an error message shows it.
    signer_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("CHAIN_SIGNER_KEY"))
    # Locate contracts deployed elsewhere instead of deploying ours (JSON-RPC networks).
    token_address: str | None = None
    marketplace_address: str | None = None
    timelock_address: str | None = None  # None with configured addresses: the marketplace's governor()
    # The StakingVault: a deployed one's address (empty: deploy ours, owned by the timelock),
    # the address whose quotes it accepts (None: the development quote key's, refused in
    # production), its immutable early-exit penalty, and the reward pool a deployment on the
    # embedded chain outside production is funded with from the platform signer (None: 1000 ETH
    # there, 0 elsewhere).
    vault_address: str | None = None
    vault_quote_signer: str | None = None
    vault_penalty_bps: int = Field(default=1000, ge=0, le=10_000)
    vault_initial_pool_wei: int | None = Field(default=None, ge=0)
    # IPheronTimelock's minDelay for a deployment the service makes. The service wires
    # token.setMarketplace(market) through the timelock (schedule, wait, execute) at start when
    # the delay is at most `timelock_wait_max_s`; a longer delay (production: e.g. 172800) is
    # scheduled and the service refuses to start, naming the time, until the operator (or a
    # restart after that time) executes it. None: 1 s on the embedded chain and outside production.
    timelock_delay_s: int | None = Field(default=None, ge=1, le=30 * 86_400)
    timelock_wait_max_s: float = Field(default=30.0, ge=0)
    # Embedded chain: prepare fulfill with domain.FULFILL_GAS_BOUND instead of estimating its gas.
    fixed_fulfill_gas: bool = True
    # Health entry "reconcile": compare chain and index every so often (0: only on request).
    reconcile_interval_s: float = Field(default=60.0, ge=0)
    # Tokens and payees one periodic run checks at most (the next run goes on from there; the
    # Reconcile RPC / `make reconcile` always checks everything).
    reconcile_window: int = Field(default=200, ge=1, le=100_000)
    # A payee may have the platform pay the gas of its withdrawal (withdrawFor) once per this many seconds.
    withdraw_cooldown_s: int = Field(default=3600, ge=0)
    confirmations: int = Field(default=1, ge=1, le=64)
    receipt_timeout_s: float = Field(default=120.0, gt=0)
    poll_interval_s: float = Field(default=0.05, gt=0)
    # A transaction without a receipt after this long is re-sent with higher fees.
    stuck_after_s: float = Field(default=30.0, gt=0)
    fee_bump_percent: int = Field(default=25, ge=11, le=500)
    max_replacements: int = Field(default=3, ge=0, le=10)
    gas_margin_percent: int = Field(default=20, ge=0, le=200)
    priority_fee_wei: int = Field(default=1_000_000_000, ge=0)
    # Embedded chain: mine the pending transactions together in one block every this many
    # milliseconds (0: each transaction in its own block at once, as a dev node's automine).
    block_interval_ms: int = Field(default=200, ge=0, le=60_000)
    # Embedded chain: journal signed transactions and replay them at start.
    journal: bool = True
    # Embedded chain: snapshot its database every so often (and at shutdown) once this many
    # journal entries arrived since the last one, so a restart replays only the tail.
    snapshot_every: int = Field(default=500, ge=1)
    snapshot_interval_s: float = Field(default=60.0, gt=0)
    # The event indexer (indexer.py) indexes a block once it has `confirmations` confirmations (1: at the
    # head, a depth of 0 blocks on top, the embedded chain; e.g. 3 on a public chain: 2 blocks on top).
    indexer_interval_s: float = Field(default=0.5, ge=0)  # 0: no indexer
    indexer_max_blocks: int = Field(default=500, ge=1, le=10_000)  # blocks read per poll
    indexer_max_lag_blocks: int = Field(default=50, ge=0)  # health "indexer" NOT_SERVING beyond this
    indexer_start_block: int | None = Field(default=None, ge=0)  # None: the contracts' deployment block

    @property
    def embedded(self) -> bool:
        """True when the service runs its own in-process EVM."""
        return not self.web3_provider_uri

    @property
    def effective_timelock_delay_s(self) -> int:
        """The timelock delay of a deployment the service makes (see `timelock_delay_s`)."""
        if self.timelock_delay_s is not None:
            return self.timelock_delay_s
        return 1 if self.embedded or self.env != "production" else 172_800

    @property
    def effective_signer_key(self) -> str:
        """The signer key; the development key only for the embedded chain outside production."""
        return self.signer_key.get_secret_value() if self.signer_key else DEV_SIGNER_KEY

    @property
    def effective_vault_quote_signer(self) -> str:
        """The vault's quote signer: the development quote key's address unless configured."""
        return self.vault_quote_signer or DEV_QUOTE_SIGNER_ADDRESS

    @property
    def effective_vault_initial_pool_wei(self) -> int:
        """Pool a fresh vault deployment is funded with (only the embedded chain outside production)."""
        if not self.embedded or self.env == "production":
            return 0
        return DEV_INITIAL_POOL_WEI if self.vault_initial_pool_wei is None else self.vault_initial_pool_wei

    @model_validator(mode="after")
    def _production_needs_a_real_key(self) -> ChainSettings:
        key = self.signer_key.get_secret_value() if self.signer_key else ""
        if self.env == "production":
            if self.embedded:
                raise InsecureSettingError("WEB3_PROVIDER_URI (a JSON-RPC node) is required when "
                                           "IPHERON_ENV=production: the embedded development chain is not a network")
            if not key or key.lower().removeprefix("0x") == DEV_SIGNER_KEY[2:]:
                raise InsecureSettingError("CHAIN_SIGNER_KEY must be set to a real key when IPHERON_ENV=production")
            signer = (self.vault_quote_signer or "").lower()
            if not signer or signer == DEV_QUOTE_SIGNER_ADDRESS.lower():
                raise InsecureSettingError("CHAIN_VAULT_QUOTE_SIGNER must be set to the staking service's real "
                                           "quote key address when IPHERON_ENV=production")
        elif not self.embedded and not self.signer_key:
            raise InsecureSettingError("CHAIN_SIGNER_KEY is required with WEB3_PROVIDER_URI")
        return self
