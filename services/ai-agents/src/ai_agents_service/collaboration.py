"""Collaboration agent: ranks creators to work with and proposes revenue splits.

Ranking: each candidate's skill fit, region, reputation and past sales become
levels; the rules in kb/collaboration.metta give points for each, with reasons.
Split: the rules give a weight per role, a factor for bringing the original IP
and points for the share of effort; shares are the normalised weights rounded to
hundredths with the largest-remainder method, so they sum to exactly 100.00.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from ipheron_libs.errors import InvalidArgument

from ai_agents_service.domain import FiredRule, factor, region_of
from ai_agents_service.engine import RulePool

MODULE = "collaboration"
ROLES = ("lead", "creator", "contributor", "advisor")
MAX_CANDIDATES = 200
MAX_CONTRIBUTORS = 20


@dataclass(frozen=True)
class Profile:
    user_id: str
    username: str = ""
    region: str = ""
    skills: tuple[str, ...] = ()
    reputation: int = 0
    total_sales: Decimal = Decimal(0)
    wallet: str = ""


@dataclass
class RankedCandidate:
    profile: Profile
    score: Decimal
    rules: list[FiredRule] = field(default_factory=list)


@dataclass(frozen=True)
class ContributorInput:
    user_id: str
    role: str
    effort: Decimal
    owns_original_ip: bool = False
    reputation: int = 0


@dataclass
class ShareResult:
    user_id: str
    share_percent: Decimal
    rules: list[FiredRule] = field(default_factory=list)


def _skills(values: Sequence[str]) -> set[str]:
    return {s.strip().lower() for s in values if s.strip()}


class CollaborationAgent:
    """Ranks collaborators and splits revenue by contribution."""

    def __init__(self, pool: RulePool) -> None:
        self.pool = pool

    async def rank(self, requester: Profile, candidates: Sequence[Profile], wanted: Sequence[str] = (),
                   limit: int = 10) -> list[RankedCandidate]:
        kb = self.pool.kb
        assert kb is not None
        wanted_skills = _skills(wanted)
        own = _skills(requester.skills)
        region = region_of(requester.region) if requester.region else ""
        pool_: list[Profile] = []
        seen: set[str] = set()
        for c in candidates:
            if c.user_id == requester.user_id or c.user_id in seen:
                continue
            seen.add(c.user_id)
            pool_.append(c)
            if len(pool_) >= MAX_CANDIDATES:
                break
        requests = []
        facts = []
        for c in pool_:
            skills = _skills(c.skills)
            matching = sorted(skills & wanted_skills) if wanted_skills else sorted(skills - own)
            same = bool(region) and region_of(c.region) == region
            fit = kb.level("skill-fit", len(matching))
            rep = kb.level("collaborator-reputation", max(0, min(100, c.reputation)))
            sales = kb.level("sales", c.total_sales)
            requests.append(((
                f"(skill-points {fit})",
                f"(region-points {'same' if same else 'other'})",
                f"(reputation-points {rep})",
                f"(sales-points {sales})",
            ), None))
            facts.append((
                f"{'wanted' if wanted_skills else 'complementary'} skills: {', '.join(matching) or 'none'}",
                f"region {region_of(c.region) if c.region else 'unknown'}" + (" (same as yours)" if same else ""),
                f"reputation {c.reputation}",
                f"past sales {c.total_sales} ETH",
            ))
        answers = await self.pool.evaluate_many(requests) if requests else []
        ranked = []
        for c, results, reasons in zip(pool_, answers, facts, strict=True):
            rules = [FiredRule(r.name, MODULE, str(r.value), f"{factor(r.value):+}", reason)
                     for r, reason in zip(results, reasons, strict=True)]
            score = sum((factor(r.value) for r in results), Decimal(0))
            ranked.append(RankedCandidate(c, score, rules))
        ranked.sort(key=lambda r: (-r.score, -r.profile.reputation, r.profile.user_id))
        return ranked[: max(1, min(50, limit or 10))]

    async def split(self, contributors: Sequence[ContributorInput]) -> list[ShareResult]:
        if not 1 <= len(contributors) <= MAX_CONTRIBUTORS:
            raise InvalidArgument(f"between 1 and {MAX_CONTRIBUTORS} contributors", field="contributors")
        ids = [c.user_id for c in contributors]
        if any(not i for i in ids) or len(set(ids)) != len(ids):
            raise InvalidArgument("every contributor needs a distinct user_id", field="contributors")
        for c in contributors:
            if c.role not in ROLES:
                raise InvalidArgument(f"role must be one of {', '.join(ROLES)}; got {c.role!r}", field="role")
        total_effort = sum((c.effort for c in contributors), Decimal(0))
        answers = await self.pool.evaluate_many([
            ((f"(role-weight {c.role})", f"(ip-factor {'yes' if c.owns_original_ip else 'no'})", "(effort-points)"),
             None)
            for c in contributors
        ])
        weights = []
        for c, (role, ip, effort) in zip(contributors, answers, strict=True):
            effort_share = c.effort / total_effort if total_effort > 0 else Decimal(0)
            effort_part = factor(effort.value) * effort_share
            weight = factor(role.value) * factor(ip.value) + effort_part
            weights.append((weight, [
                FiredRule(role.name, MODULE, str(role.value), str(factor(role.value)), f"role {c.role}"),
                FiredRule(ip.name, MODULE, str(ip.value), f"x{factor(ip.value)}",
                          "brings the original IP" if c.owns_original_ip else "does not bring the original IP"),
                FiredRule(effort.name, MODULE, str(effort.value), f"+{effort_part.quantize(Decimal('0.0001'))}",
                          f"{(effort_share * 100).quantize(Decimal('0.01'))}% of the effort"),
            ]))
        total = sum((w for w, _ in weights), Decimal(0))
        # Largest remainder over hundredths of a percent: exact 100.00 total.
        raw = [w / total * 10000 for w, _ in weights]
        units = [int(r) for r in raw]
        remaining = 10000 - sum(units)
        order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - units[i]), i))
        for i in order[:remaining]:
            units[i] += 1
        return [ShareResult(c.user_id, (Decimal(u) / 100).quantize(Decimal("0.01")), rules)
                for c, u, (_, rules) in zip(contributors, units, weights, strict=True)]
