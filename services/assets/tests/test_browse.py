"""Browsing: filters, full-text search, sort, pages with totals; and the query plans
on 10,000 assets use the indexes (EXPLAIN), so the catalog stays fast as it grows."""

from __future__ import annotations

import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import grpc
import pytest
from assets_service.domain import AssetFilter
from assets_service.repository import Repository
from conftest import rejected
from ipheron.assets.v1 import assets_service_pb2 as pb
from ipheron.common.v1 import common_pb2
from ipheron_libs import db
from sqlalchemy import Engine, text
from sqlalchemy.dialects import postgresql

U1, U2, U3 = ("11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222",
              "33333333-3333-3333-3333-333333333333")
W1, W2, W3 = "0x" + "a1" * 20, "0x" + "b2" * 20, "0x" + "c3" * 20

# Bulk rows straight in SQL: browsing does not depend on how assets got there, and
# minting 10,000 tokens on the embedded EVM would take minutes.
INSERT = """
INSERT INTO assets (id, name, asset_type, price, royalty_rate, status, listed, metadata, utility_features, region,
                    ipfs_hash, content_key, creator_user_id, owner_user_id, owner_wallet, version, created_at)
SELECT md5('asset' || g || :seed)::uuid,
       CASE WHEN g % 2000 = 7 THEN 'Aurora Borealis ' || g
            ELSE 'Item ' || g || ' ' || (ARRAY['blue','red','green','gold'])[g % 4 + 1] END,
       (ARRAY['art','music','video','literature','software','design','patent','trademark','other'])[g % 9 + 1],
       (g % 997 + 1) / 10.0,
       10, CASE WHEN g % 10 = 0 THEN 'pending_review' ELSE 'active' END, true,
       jsonb_build_object('description',
                          CASE WHEN g % 2500 = 3 THEN 'a quiet nocturne for piano' ELSE 'lorem ipsum ' || g END),
       '[]'::jsonb,
       (ARRAY['EU','US','Asia','Global'])[g % 4 + 1],
       'Qm' || g, 'key' || g || :seed,
       'u' || (g % 500), 'u' || (g % 500), '0x' || lpad(to_hex(g % 500), 40, '0'), 1,
       now() - (g || ' minutes')::interval
FROM generate_series(1, :n) AS g;
INSERT INTO asset_creators (asset_id, position, user_id, wallet, share_percent)
SELECT id, 0, owner_user_id, owner_wallet, 100 FROM assets;
"""


def _insert_small(engine: Engine) -> None:
    rows = [
        # name, type, price, status, region, owner, wallet, creators, description, minutes ago
        ("Moonlight Sonata", "music", "2.5", "active", "EU", U1, W1, [(U1, W1)], "piano nocturne", 5),
        ("City Lights", "art", "0.5", "active", "US", U2, W2, [(U2, W2), (U1, W1)], "neon skyline painting", 4),
        ("Patent 42", "patent", "10", "pending_review", "US", U3, W3, [(U3, W3)], "solar cell design", 3),
        ("Autumn Leaves", "art", "1.25", "active", "EU", U1, W1, [(U1, W1)], "watercolour of falling leaves", 2),
        ("Beat Pack", "music", "0.75", "active", "Asia", U2, W2, [(U2, W2)], "drum loops", 1),
    ]
    with engine.begin() as conn:
        for i, (name, typ, price, status, region, owner, wallet, creators, desc, ago) in enumerate(rows):
            aid = f"00000000-0000-0000-0000-00000000000{i + 1}"
            conn.execute(text(
                "INSERT INTO assets (id, name, asset_type, price, status, listed, metadata, region, ipfs_hash, "
                "content_key, creator_user_id, owner_user_id, owner_wallet, created_at) VALUES (:id, :name, :t, :p, "
                ":s, true, CAST(:m AS jsonb), :r, 'Qm', :k, :o, :o, :w, now() - make_interval(mins => :ago))"),
                {"id": aid, "name": name, "t": typ, "p": Decimal(price), "s": status,
                 "m": f'{{"description": "{desc}"}}',
                 "r": region, "k": aid, "o": owner, "w": wallet, "ago": ago})
            for pos, (cu, cw) in enumerate(creators):
                conn.execute(text("INSERT INTO asset_creators VALUES (:a, :p, :u, :w, :s)"),
                             {"a": aid, "p": pos, "u": cu, "w": cw, "s": Decimal(100) / len(creators)})


@pytest.fixture()
def small_catalog(clean_assets: str) -> Iterator[None]:
    engine = db.make_engine(clean_assets, "assets", pool_size=1, max_overflow=0)
    _insert_small(engine)
    yield
    engine.dispose()


async def _names(replica, **fields) -> tuple[list[str], int]:  # type: ignore[no-untyped-def]
    resp = await replica.stub.ListAssets(pb.ListAssetsRequest(**fields))
    return [a.name for a in resp.assets], resp.page.total


async def test_filters_sort_and_full_text_search(replica, small_catalog) -> None:
    assert await _names(replica) == (["Beat Pack", "Autumn Leaves", "Patent 42", "City Lights", "Moonlight Sonata"], 5)
    assert await _names(replica, asset_type=pb.ASSET_TYPE_ART) == (["Autumn Leaves", "City Lights"], 2)
    assert (await _names(replica, status=pb.ASSET_STATUS_PENDING_REVIEW))[0] == ["Patent 42"]
    assert (await _names(replica, region="EU"))[0] == ["Autumn Leaves", "Moonlight Sonata"]
    assert (await _names(replica, creator=U1))[0] == ["Autumn Leaves", "City Lights", "Moonlight Sonata"]
    assert (await _names(replica, creator=W1.upper().replace("0X", "0x")))[1] == 3
    assert (await _names(replica, owner=U2))[0] == ["Beat Pack", "City Lights"]
    assert (await _names(replica, owner=W3))[0] == ["Patent 42"]
    assert (await _names(replica, min_price="0.75", max_price="2.5", sort_field=pb.ASSET_SORT_FIELD_PRICE))[0] == [
        "Beat Pack", "Autumn Leaves", "Moonlight Sonata"]
    by_price_desc = await _names(replica, sort_field=pb.ASSET_SORT_FIELD_PRICE, sort_direction=pb.SORT_DIRECTION_DESC)
    assert by_price_desc[0][0] == "Patent 42"
    assert (await _names(replica, sort_field=pb.ASSET_SORT_FIELD_NAME))[0][0] == "Autumn Leaves"
    oldest_first = await _names(replica, sort_field=pb.ASSET_SORT_FIELD_CREATED, sort_direction=pb.SORT_DIRECTION_ASC)
    assert oldest_first[0][0] == "Moonlight Sonata"
    # Full text over name and metadata, stemmed: "nocturnes" finds "nocturne", "painting" a description.
    assert (await _names(replica, q="nocturnes"))[0] == ["Moonlight Sonata"]
    assert (await _names(replica, q="skyline painting"))[0] == ["City Lights"]
    assert (await _names(replica, q="leaves"))[0] == ["Autumn Leaves"]
    assert (await _names(replica, q="music OR drum", asset_type=pb.ASSET_TYPE_MUSIC))[0] == ["Beat Pack"]
    assert await _names(replica, q="unicorn") == ([], 0)


async def test_pages_carry_the_total_and_per_page_is_bounded(replica, small_catalog) -> None:
    page1 = await replica.stub.ListAssets(pb.ListAssetsRequest(page=common_pb2.PageRequest(page=1, per_page=2)))
    page3 = await replica.stub.ListAssets(pb.ListAssetsRequest(page=common_pb2.PageRequest(page=3, per_page=2)))
    assert [len(page1.assets), len(page3.assets)] == [2, 1]
    assert (page1.page.total, page3.page.total, page3.page.page, page3.page.per_page) == (5, 5, 3, 2)
    for bad in (common_pb2.PageRequest(page=1, per_page=101), common_pb2.PageRequest(page=-1, per_page=10)):
        err = await rejected(replica.stub.ListAssets(pb.ListAssetsRequest(page=bad)))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    err = await rejected(replica.stub.ListAssets(pb.ListAssetsRequest(min_price="cheap")))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT


def _describe(f: AssetFilter) -> str:
    default = AssetFilter()
    parts = [f"{k}={v!r}" for k, v in vars(f).items() if v != getattr(default, k)]
    return ", ".join(parts) or "no filter, newest first"


def _plan(conn, stmt) -> str:  # type: ignore[no-untyped-def]
    sql = str(stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    return "\n".join(r[0] for r in conn.execute(text("EXPLAIN " + sql)))


def test_list_queries_use_indexes_on_ten_thousand_assets(clean_assets: str) -> None:
    engine = db.make_engine(clean_assets, "assets", pool_size=1, max_overflow=0)
    with engine.begin() as conn:
        for statement in INSERT.split(";\n"):
            if statement.strip():
                conn.execute(text(statement), {"n": 10_000, "seed": "explain"})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # VACUUM as autovacuum would: it also flushes the GIN pending list, which the
        # planner otherwise counts against the full-text index after a bulk insert.
        conn.execute(text("VACUUM ANALYZE assets"))
        conn.execute(text("VACUUM ANALYZE asset_creators"))
        assert conn.execute(text("SELECT count(*) FROM assets")).scalar_one() == 10_000
        # Each case: the filter/sort, and the indexes its page query may use (the
        # planner rightly walks the sort index when the filter matches most rows).
        cases = [
            (AssetFilter(), {"ix_assets_created"}),
            (AssetFilter(q="aurora"), {"ix_assets_search"}),
            (AssetFilter(q="nocturne piano"), {"ix_assets_search"}),
            (AssetFilter(status="active", sort="price", descending=False),
             {"ix_assets_status_price", "ix_assets_price"}),
            (AssetFilter(status="active"), {"ix_assets_status_created", "ix_assets_created"}),
            (AssetFilter(status="archived"), {"ix_assets_status_created"}),
            (AssetFilter(status="pending_review", sort="price"), {"ix_assets_status_price"}),
            (AssetFilter(asset_type="music", status="active"), {"ix_assets_type_status_created", "ix_assets_created"}),
            (AssetFilter(sort="name", descending=False), {"ix_assets_name"}),
            (AssetFilter(sort="price", descending=True), {"ix_assets_price"}),
            (AssetFilter(min_price=Decimal("99.5"), sort="price"), {"ix_assets_price", "ix_assets_status_price"}),
            (AssetFilter(owner="u42"), {"ix_assets_owner_user"}),
            (AssetFilter(owner="0x" + "0" * 38 + "2a"), {"ix_assets_owner_wallet"}),
            (AssetFilter(creator="u42"), {"ix_asset_creators_user"}),
            (AssetFilter(creator="0x" + "0" * 38 + "2a"), {"ix_asset_creators_wallet"}),
        ]
        report = []
        for f, indexes in cases:
            page_q, _ = Repository.list_queries(f)
            plan = _plan(conn, page_q)
            report.append(f"-- {_describe(f)}\n{plan}\n")
            assert any(i in plan for i in indexes), f"{f}: expected one of {indexes} in\n{plan}"
            assert "Seq Scan on assets" not in plan, f"{f}: full scan\n{plan}"
        if os.environ.get("ASSETS_EXPLAIN_OUT"):  # to refresh the plans quoted in the README
            Path(os.environ["ASSETS_EXPLAIN_OUT"]).write_text("\n".join(report))
        # Counting the selective filters uses the same indexes.
        page_q, count_q = Repository.list_queries(AssetFilter(q="aurora"))
        assert "ix_assets_search" in _plan(conn, count_q)
        page_q, count_q = Repository.list_queries(AssetFilter(creator="u42"))
        assert "ix_asset_creators_user" in _plan(conn, count_q)
    engine.dispose()
