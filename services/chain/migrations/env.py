"""Alembic environment for the chain schema (body shared via ipheron_libs.migrations)."""

from alembic import context
from chain_service.repository import Base
from ipheron_libs.migrations import run_env

run_env(context, Base.metadata, default_schema="chain")
