"""Alembic environment of the skeleton test's schema."""

from alembic import context
from ipheron_libs.migrations import run_env
from sqlalchemy import MetaData

run_env(context, MetaData(), default_schema="libtest_skeleton")
