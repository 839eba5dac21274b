"""Alembic environment of the auth service (version table in schema "auth")."""

from alembic import context
from auth_service.repository import SCHEMA, Base
from ipheron_libs.migrations import run_env

run_env(context, Base.metadata, SCHEMA)
