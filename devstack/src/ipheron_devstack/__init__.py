"""The local orchestrator: embedded PostgreSQL + Redis, every service as its own process, the gateway."""
