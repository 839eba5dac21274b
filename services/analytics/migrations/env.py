"""Alembic environment for the analytics schema (body shared via ipheron_libs.migrations)."""

from alembic import context
from analytics_service.repository import Base
from ipheron_libs.migrations import run_env

run_env(context, Base.metadata, default_schema="analytics")
