"""Who may call what: the one allow-list of callers for every RPC of every service.

Identities are the deployables' certificate common names (the chart issues each
deployable a certificate whose CN is its name) plus "operator", the identity of
the operator tools (reconcile, bench, demo data) that read a running stack.
An RPC that is not in this table is refused (default deny), so a new RPC is
unreachable until someone decides who may call it. The table mirrors the real
call graph: the gateway's routes, each service's `clients.py`, and the tools.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import grpc

from ipheron_libs.errors import PermissionDenied
from ipheron_libs.mtls import peer_identity

GATEWAY = "gateway"
AUTH = "auth"
ASSETS = "assets"
STAKING = "staking"
ANALYTICS = "analytics"
AI_AGENTS = "ai-agents"
CHAIN = "chain"
OPERATOR = "operator"

DEPLOYABLES = (GATEWAY, AUTH, ASSETS, STAKING, ANALYTICS, AI_AGENTS, CHAIN)
IDENTITIES = (*DEPLOYABLES, OPERATOR)

# The gRPC service each deployable serves (the gateway serves HTTP only).
SERVICE_OF = {
    AUTH: "ipheron.auth.v1.AuthService",
    ASSETS: "ipheron.assets.v1.AssetsService",
    STAKING: "ipheron.staking.v1.StakingService",
    ANALYTICS: "ipheron.analytics.v1.AnalyticsService",
    AI_AGENTS: "ipheron.ai_agents.v1.AiAgentsService",
    CHAIN: "ipheron.chain.v1.ChainService",
}


def _rpcs(callers: Iterable[str], *names: str) -> dict[str, frozenset[str]]:
    who = frozenset(callers)
    return {name: who for name in names}


_G = (GATEWAY,)
_GO = (GATEWAY, OPERATOR)

ALLOWED: Mapping[str, Mapping[str, frozenset[str]]] = {
    "ipheron.auth.v1.AuthService": {
        **_rpcs(_G, "CreateNonce", "Login", "Refresh", "Logout", "UpdateProfile"),
        # The gateway verifies tokens at the edge; the services that act for users verify them again.
        **_rpcs((GATEWAY, ASSETS, STAKING, AI_AGENTS), "GetJwks"),
        **_rpcs((GATEWAY, ASSETS, AI_AGENTS, OPERATOR), "GetUser"),
        **_rpcs((GATEWAY, AI_AGENTS, OPERATOR), "ListUsers"),
        **_rpcs((ASSETS, OPERATOR), "GetUserByWallet"),
        **_rpcs((ASSETS,), "RecordSale", "IncrementAssetsCreated"),
    },
    "ipheron.assets.v1.AssetsService": {
        **_rpcs(_G, "CreateAsset", "UpdateAsset", "ArchiveAsset", "PurchaseAsset", "GetPurchase", "UploadFile",
                "GetFile", "AttachFile", "GetListingTypedData", "PutListing", "GetListing", "CancelListing",
                "SubmitPurchaseTransaction"),
        **_rpcs((GATEWAY, STAKING, OPERATOR), "GetAsset"),
        **_rpcs(_GO, "ListAssets", "GetProvenance"),
    },
    "ipheron.staking.v1.StakingService": {
        **_rpcs(_G, "GetQuote", "OpenStake", "GetStake", "ClaimRewards", "Unstake", "SubmitStakeTransaction"),
        **_rpcs(_GO, "ListStakes"),
    },
    "ipheron.analytics.v1.AnalyticsService": {
        **_rpcs(_G, "GetMarket", "GetOverview", "GetAssetPerformance", "GetCreatorPerformance", "GetTop",
                "GetInsights"),
        **_rpcs((GATEWAY, AI_AGENTS), "GetMarketHistory"),
        **_rpcs((AI_AGENTS, OPERATOR), "RecordSales"),
        # The sales of record the pricing agent takes its comparables from.
        **_rpcs((AI_AGENTS,), "ListSales"),
    },
    "ipheron.ai_agents.v1.AiAgentsService": {
        **_rpcs(_G, "SuggestPrice", "FindCollaborators", "ProposeSplit", "ForecastMarket", "Analyze"),
        **_rpcs(_G, "GetAssetAnalysis", "ReanalyzeAsset"),
        **_rpcs((GATEWAY, ASSETS), "AssessAssetRisk", "AssessPurchaseRisk"),
    },
    "ipheron.chain.v1.ChainService": {
        # Value-moving and signing calls: only the service that owns the flow.
        **_rpcs((ASSETS,), "MintAsset", "BuildOrder", "VerifyOrder", "PrepareFulfill", "PrepareCancel"),
        **_rpcs((STAKING,), "PrepareStake", "PrepareStakeAction"),
        **_rpcs((AUTH,), "VerifySignature"),
        **_rpcs((ASSETS, STAKING, GATEWAY, OPERATOR), "SubmitRawTransaction", "GetTransaction"),
        **_rpcs((ASSETS, STAKING), "TrackTransaction"),
        **_rpcs((GATEWAY, STAKING, OPERATOR), "GetVault"),
        # The wallet page, development tools (faucet, vault funding) and the chain's status.
        **_rpcs((GATEWAY, OPERATOR), "Faucet", "FundVault", "Withdraw", "PrepareWithdraw", "GetBalance",
                "GetNetworkStatus", "PrepareFundVault"),
        **_rpcs((STAKING, OPERATOR), "GetToken"),
        **_rpcs(_GO, "GetRoyaltyInfo", "ListTransactions"),
        **_rpcs((OPERATOR,), "ListChainEvents", "Reconcile", "GetVaultStake", "PrepareTransaction"),
    },
}


# --- the end user behind a call --------------------------------------------------------
# The RPCs the gateway calls *for a signed-in user*, each with the request fields that name that
# user and the access-token claim each must equal. With mutual TLS a gateway call that fills one
# of these fields must carry the user's access token (`authorization` metadata, put there by
# `ipheron_libs.grpc_client.user_token_var`), which the service verifies itself against the auth
# service's JWKS (`ipheron_libs.grpc_server`): the gateway's certificate alone cannot act for a
# user. An empty field names nobody; the service's own rules refuse or scope it (an unscoped
# read is the operator's, `check_unscoped_read`). Other callers' calls (a service, the operator)
# carry no user and are admitted by the allow-list above alone.
SUBJECT = "sub"
WALLET = "wallet"
UserField = tuple[str, str]  # (dotted request field path, claim it must equal)

_ACTOR: tuple[UserField, ...] = (("actor.user_id", SUBJECT), ("actor.wallet", WALLET))
_STAKER: tuple[UserField, ...] = (("user_id", SUBJECT), ("wallet", WALLET))

ON_BEHALF: Mapping[str, Mapping[str, tuple[UserField, ...]]] = {
    "ipheron.auth.v1.AuthService": {"UpdateProfile": (("user_id", SUBJECT),)},
    "ipheron.assets.v1.AssetsService": {
        rpc: _ACTOR for rpc in ("CreateAsset", "UpdateAsset", "ArchiveAsset", "PurchaseAsset", "GetPurchase",
                                "UploadFile", "AttachFile", "GetListingTypedData", "PutListing", "CancelListing",
                                "SubmitPurchaseTransaction")},
    "ipheron.staking.v1.StakingService": {
        rpc: _STAKER for rpc in ("OpenStake", "GetStake", "ListStakes", "ClaimRewards", "Unstake",
                                 "SubmitStakeTransaction")},
    "ipheron.ai_agents.v1.AiAgentsService": {"ReanalyzeAsset": (("requester_user_id", SUBJECT),)},
}


def user_fields(method: str) -> tuple[UserField, ...]:
    """The fields of `method`'s request ("/pkg.Service/Rpc") that name the user it acts for; () if none."""
    service, _, rpc = method.lstrip("/").partition("/")
    return ON_BEHALF.get(service, {}).get(rpc, ())


def acts_for_users(service: str) -> bool:
    """Whether `service` (a deployable name) has RPCs that act for a user (it then verifies their tokens)."""
    return bool(ON_BEHALF.get(SERVICE_OF.get(service, ""), {}))


def allowed_callers(method: str) -> frozenset[str]:
    """The identities that may call `method` ("/pkg.Service/Rpc"); empty when nobody may (default deny)."""
    service, _, rpc = method.lstrip("/").partition("/")
    return ALLOWED.get(service, {}).get(rpc, frozenset())


def callers_of(service: str) -> set[str]:
    """Every identity that may call at least one RPC of `service` (a deployable name): its network peers."""
    table = ALLOWED.get(SERVICE_OF[service], {})
    return {who for callers in table.values() for who in callers}


def check_unscoped_read(context: grpc.aio.ServicerContext, what: str) -> None:
    """A read not scoped to a user (an empty `user_id`: every user's records) is the operator's.

    The gateway always scopes reads to the signed-in user; an identified caller other than the
    operator asking for everyone's records is refused. Without mutual TLS (callers unidentified:
    development and in-process tests) there is nobody to check.
    """
    caller = peer_identity(context)
    if caller is not None and caller != OPERATOR:
        raise PermissionDenied(f"{what} of every user are for the operator: name the user_id")
