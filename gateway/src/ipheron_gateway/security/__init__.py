"""Access-token verification at the edge: JWKS cache and local JWT checks (no auth hop)."""

from ipheron_gateway.security.jwt import Claims, JwksVerifier, TokenError

__all__ = ["Claims", "JwksVerifier", "TokenError"]
