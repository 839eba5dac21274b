"""Alembic environment for the staking schema (body shared via ipheron_libs.migrations)."""

from alembic import context
from ipheron_libs.migrations import run_env
from staking_service.repository import Base

run_env(context, Base.metadata, default_schema="staking")
