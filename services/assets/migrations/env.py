"""Alembic environment of the assets service (version table in schema "assets")."""

from alembic import context
from assets_service.config import SCHEMA
from assets_service.repository import Base
from ipheron_libs.migrations import run_env

run_env(context, Base.metadata, SCHEMA)
