"""IPheron auth service: Sign-In with Ethereum, JWT access tokens with JWKS, users."""
