"""Vocabularies more than one deployable must agree on; one source for each."""

from __future__ import annotations

from typing import Final

# The kinds of IP asset the catalog accepts (the seed's asset types).
ASSET_TYPES: Final[tuple[str, ...]] = (
    "art", "music", "video", "literature", "software", "design", "patent", "trademark", "other",
)

# A new user's reputation score (0..100) and what agents assume for an unknown user.
DEFAULT_REPUTATION: Final[int] = 50
MIN_REPUTATION: Final[int] = 0
MAX_REPUTATION: Final[int] = 100
