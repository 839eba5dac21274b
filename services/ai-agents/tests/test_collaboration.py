"""Collaboration agent: ranking with reasons, and splits that sum to exactly 100."""

from __future__ import annotations

from decimal import Decimal

import pytest
from ai_agents_service.collaboration import CollaborationAgent, ContributorInput, Profile
from ipheron_libs.errors import InvalidArgument

ME = Profile("u-me", "me", "europe", ("illustration",), 60)
CANDIDATES = [
    Profile("u-musician", "musician", "europe", ("music-production", "mixing"), 72, Decimal("14.5")),
    Profile("u-illustrator", "twin", "europe", ("illustration",), 95, Decimal("40")),
    Profile("u-remote-musician", "remote", "asia", ("music-production",), 40, Decimal("0")),
    Profile("u-newcomer", "newbie", "africa", ("writing",), 5, Decimal("0")),
]


async def test_complementary_skills_rank_first_with_reasons(collaboration: CollaborationAgent) -> None:
    ranked = await collaboration.rank(ME, [*CANDIDATES, ME], ["music-production", "mixing"])
    assert [r.profile.user_id for r in ranked] == ["u-musician", "u-remote-musician", "u-illustrator", "u-newcomer"]
    best = ranked[0]
    # skills-strong 40 + same-region 10 + renowned 20 + proven sales 15
    assert best.score == Decimal("85")
    assert [r.name for r in best.rules] == ["skills-strong", "same-region", "collaborator-renowned", "sales-proven"]
    assert "mixing, music-production" in best.rules[0].explanation
    assert all(r.profile.user_id != "u-me" for r in ranked)


async def test_without_wanted_skills_candidates_complementing_mine_win(collaboration: CollaborationAgent) -> None:
    ranked = await collaboration.rank(ME, CANDIDATES, [], limit=2)
    assert [r.profile.user_id for r in ranked] == ["u-musician", "u-remote-musician"]
    assert ranked[0].rules[0].explanation.startswith("complementary skills")


async def test_split_follows_contribution_and_sums_to_exactly_100(collaboration: CollaborationAgent) -> None:
    shares = await collaboration.split([
        ContributorInput("u-lead", "lead", Decimal("40"), owns_original_ip=True),
        ContributorInput("u-creator", "creator", Decimal("40")),
        ContributorInput("u-helper", "contributor", Decimal("20")),
    ])
    # weights: 3x1.25+1.6 = 5.35, 2+1.6 = 3.6, 1+0.8 = 1.8 (total 10.75)
    assert [(s.user_id, str(s.share_percent)) for s in shares] == [
        ("u-lead", "49.77"), ("u-creator", "33.49"), ("u-helper", "16.74")]
    assert sum(s.share_percent for s in shares) == Decimal("100.00")
    assert [r.name for r in shares[0].rules] == ["role-lead", "original-ip", "effort-share"]


async def test_equal_thirds_still_sum_to_exactly_100(collaboration: CollaborationAgent) -> None:
    shares = await collaboration.split([ContributorInput(f"u{i}", "creator", Decimal("1")) for i in range(3)])
    assert [str(s.share_percent) for s in shares] == ["33.34", "33.33", "33.33"]
    assert sum(s.share_percent for s in shares) == Decimal("100")


@pytest.mark.parametrize("contributors, message", [
    ([], "between 1 and 20"),
    ([ContributorInput("a", "boss", Decimal(1))], "role must be one of"),
    ([ContributorInput("a", "lead", Decimal(1)), ContributorInput("a", "creator", Decimal(1))], "distinct user_id"),
])
async def test_bad_split_requests_are_invalid(collaboration: CollaborationAgent, contributors: list[ContributorInput],
                                              message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        await collaboration.split(contributors)
