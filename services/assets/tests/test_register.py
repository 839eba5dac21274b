"""Registering assets: the four validation layers, the mint saga, creators' counters."""

from __future__ import annotations

import grpc
import orjson
from assets_service.cid import b58decode, parse_cid
from conftest import create_request, make_cid, rejected
from ipheron.assets.v1 import assets_service_pb2 as pb
from ipheron.auth.v1 import auth_service_pb2 as auth_pb
from ipheron.chain.v1 import chain_service_pb2 as chain_pb
from ipheron_libs import db
from sqlalchemy import text


def _v1_of(cid_v0: str) -> str:
    """The CID v1 (dag-pb, base32) of the same content as a CID v0."""
    import base64

    raw = bytes([0x01, 0x70]) + b58decode(cid_v0)
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


async def test_three_co_creators_asset_is_minted_with_their_splits_on_chain(replica, new_user, risk, chain_stub,
                                                                            auth_stub) -> None:
    alice, bob, carol = await new_user(), await new_user(), await new_user()
    req = create_request([(alice, "50"), (bob, "30"), (carol, "20")], alice, royalty_rate="12.5")
    asset = (await replica.stub.CreateAsset(req)).asset

    assert asset.status == pb.ASSET_STATUS_ACTIVE
    assert [(c.user_id, c.wallet, c.share_percent) for c in asset.creators] == [
        (alice.id, alice.wallet, "50"), (bob.id, bob.wallet, "30"), (carol.id, carol.wallet, "20")]
    assert asset.owner_user_id == alice.id and asset.owner_wallet == alice.wallet
    assert asset.price.amount == "1.5" and asset.price.currency == "ETH"
    token = await chain_stub.GetToken(chain_pb.GetTokenRequest(token_id=int(asset.token_id)))
    assert token.asset_id == asset.id
    assert token.owner_address.lower() == alice.wallet
    assert token.royalty_bps == 1250
    assert [(c.address.lower(), c.share_bps) for c in token.co_creators] == [
        (alice.wallet, 5000), (bob.wallet, 3000), (carol.wallet, 2000)]
    mint = await chain_stub.GetTransaction(chain_pb.GetTransactionRequest(tx_hash=asset.mint_tx_hash))
    assert mint.transaction.status == chain_pb.TRANSACTION_STATUS_CONFIRMED
    for user in (alice, bob, carol):
        got = await auth_stub.GetUser(auth_pb.GetUserRequest(id=user.id))
        assert got.user.total_assets_created == 1


async def test_creators_can_be_named_by_wallet(replica, new_user, risk) -> None:
    alice, bob = await new_user(), await new_user()
    req = create_request([], alice, creators=[pb.CreatorShare(user_id=alice.id, share_percent="60"),
                                              pb.CreatorShare(wallet=bob.wallet.upper().replace("0X", "0x"),
                                                              share_percent="40")])
    asset = (await replica.stub.CreateAsset(req)).asset
    assert [(c.user_id, c.share_percent) for c in asset.creators] == [(alice.id, "60"), (bob.id, "40")]


async def test_duplicate_content_hash_is_already_exists_naming_the_existing_asset(replica, new_user, risk) -> None:
    alice, bob = await new_user(), await new_user()
    cid = make_cid()
    first = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice, ipfs_hash=cid))).asset

    err = await rejected(replica.stub.CreateAsset(create_request([(bob, "100")], bob, ipfs_hash=cid)))
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS
    assert first.id in err.details()
    # The same content written as a CID v1 is the same content.
    v1 = _v1_of(cid)
    assert parse_cid(v1).content_key == parse_cid(cid).content_key
    err = await rejected(replica.stub.CreateAsset(create_request([(bob, "100")], bob, ipfs_hash=v1)))
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS and first.id in err.details()


async def test_invalid_registrations_are_refused_with_the_reason_and_nothing_is_stored(replica, new_user, risk,
                                                                                      clean_assets) -> None:
    alice, bob = await new_user(), await new_user()
    stranger_wallet = "0x" + "ab" * 20
    cases = [
        ({"creators": [pb.CreatorShare(user_id=alice.id, share_percent="60"),
                        pb.CreatorShare(user_id=bob.id, share_percent="39.99")]}, "sum to exactly 100"),
        ({"creators": [pb.CreatorShare(user_id=bob.id, share_percent="100")]}, "caller must be one of the creators"),
        ({"creators": [pb.CreatorShare(user_id=alice.id, share_percent="50"),
                        pb.CreatorShare(wallet=stranger_wallet, share_percent="50")]}, "not a registered user"),
        ({"ipfs_hash": "QmNotARealCidAtAllxxxxxxxxxxxxxxxxxxxxxxxxxxx"}, "not a valid CID"),
        ({"ipfs_hash": "bafy" + "a" * 55}, "not a valid CID"),
        ({"price": "0"}, "greater than 0"),
        ({"price": "1.0000000000000000001"}, "more than 18 decimal places"),
        ({"price": "abc"}, "decimal"),
        ({"royalty_rate": "50.5"}, "between 0 and 50"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"metadata_json": "[1, 2]"}, "JSON object"),
        ({"metadata_json": orjson.dumps({"blob": "x" * 17000}).decode()}, "larger than"),
        ({"utility_features": ["f"] * 21}, "utility_features"),
        ({"asset_type": pb.ASSET_TYPE_UNSPECIFIED}, "asset_type"),
    ]
    for fields, reason in cases:
        req = create_request([(alice, "100")], alice)
        req.MergeFrom(pb.CreateAssetRequest())  # keep defaults, then override
        for k, v in fields.items():
            if k == "creators":
                del req.creators[:]
                req.creators.extend(v)
            elif k == "utility_features":
                del req.utility_features[:]
                req.utility_features.extend(v)
            else:
                setattr(req, k, v)
        err = await rejected(replica.stub.CreateAsset(req))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, (fields, err.details())
        assert reason in err.details(), (reason, err.details())
    engine = db.make_engine(clean_assets, "assets", pool_size=1, max_overflow=0)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM assets")).scalar_one() == 0
    engine.dispose()


async def test_text_is_sanitised(replica, new_user, risk) -> None:
    alice = await new_user()
    req = create_request([(alice, "100")], alice, name="  <b>Bold</b>\u202e  <script>alert(1)</script>Song\x00 ",
                         metadata_json='{"description": "<img src=x onerror=alert(1)>nice"}')
    asset = (await replica.stub.CreateAsset(req)).asset
    assert asset.name == "Bold alert(1)Song"
    assert orjson.loads(asset.metadata_json) == {"description": "nice"}


async def test_high_risk_asset_is_held_for_review_with_reasons_and_not_minted(replica, new_user, risk) -> None:
    alice = await new_user()
    risk.asset_score, risk.asset_flags = 85, ["prohibited_terms"]
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    assert asset.status == pb.ASSET_STATUS_PENDING_REVIEW
    assert asset.risk_score == 85
    assert "prohibited_terms" in asset.review_reasons
    assert asset.token_id == ""
    # Stays held: the recovery loop does not mint it.
    assert await replica.app.service.recover_once() == 0
    got = (await replica.stub.GetAsset(pb.GetAssetRequest(asset_id=asset.id))).asset
    assert got.status == pb.ASSET_STATUS_PENDING_REVIEW


async def test_unreachable_ai_agents_accepts_asset_as_pending_review(start_replica, new_user, risk) -> None:
    alice = await new_user()
    # Nothing listens on this port: the agent is down.
    replica = await start_replica(ai_agents_addr="127.0.0.1:9", ai_timeout=0.5)
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    assert asset.status == pb.ASSET_STATUS_PENDING_REVIEW
    assert any("unavailable" in r for r in asset.review_reasons)
    got = (await replica.stub.GetAsset(pb.GetAssetRequest(asset_id=asset.id))).asset
    assert got.id == asset.id and got.status == pb.ASSET_STATUS_PENDING_REVIEW


async def test_asset_held_by_an_ai_outage_is_minted_once_the_agent_answers(replica, new_user, risk,
                                                                           clean_assets) -> None:
    alice = await new_user()
    risk.fail_asset = True
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    assert asset.status == pb.ASSET_STATUS_PENDING_REVIEW

    risk.fail_asset = False
    engine = db.make_engine(clean_assets, "assets", pool_size=1, max_overflow=0)
    with engine.begin() as conn:  # skip the back-off wait
        conn.execute(text("UPDATE sagas SET next_attempt_at = now()"))
    engine.dispose()
    assert await replica.app.service.recover_once() == 1
    got = (await replica.stub.GetAsset(pb.GetAssetRequest(asset_id=asset.id))).asset
    assert got.status == pb.ASSET_STATUS_ACTIVE and got.token_id and got.review_reasons == []


async def test_created_asset_emits_asset_created_through_the_outbox(replica, new_user, risk, clean_assets) -> None:
    alice = await new_user()
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    engine = db.make_engine(clean_assets, "assets", pool_size=1, max_overflow=0)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT type, payload FROM outbox ORDER BY occurred_at")).all()
    engine.dispose()
    types = [r.type for r in rows]
    assert types[0] == "asset.created" and rows[0].payload["asset_id"] == asset.id
    assert "asset.updated" in types  # the mint made it active
