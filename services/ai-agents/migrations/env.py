"""Alembic environment for the ai_agents schema (body shared via ipheron_libs.migrations)."""

from alembic import context
from ipheron_libs.migrations import run_env

from ai_agents_service.repository import Base

run_env(context, Base.metadata, default_schema="ai_agents")
