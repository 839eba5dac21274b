"""Alembic environment for the ai_agents schema (body shared via ipheron_libs.migrations)."""

from ai_agents_service.repository import Base
from alembic import context
from ipheron_libs.migrations import run_env

run_env(context, Base.metadata, default_schema="ai_agents")
