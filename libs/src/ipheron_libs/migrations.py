"""What each service's Alembic env.py calls: migrations run on the connection that
`ipheron_libs.db.migrate` opened, with the version table in the service's schema."""

from __future__ import annotations

from typing import Any

from sqlalchemy import MetaData, create_engine


def run_env(context: Any, target_metadata: MetaData, default_schema: str) -> None:
    """Body of a service's migrations/env.py (online mode only: we never emit SQL files)."""
    config = context.config
    connection = config.attributes.get("connection")
    schema = config.attributes.get("schema", default_schema)
    if connection is None:  # plain `alembic upgrade` from a shell
        from ipheron_libs.db import sqlalchemy_url

        url = config.get_main_option("sqlalchemy.url")
        engine = create_engine(sqlalchemy_url(url), connect_args={"options": f"-c search_path={schema},public"})
        with engine.connect() as conn:
            _run(context, conn, target_metadata, schema)
            conn.commit()
        return
    _run(context, connection, target_metadata, schema)


def _run(context: Any, connection: Any, target_metadata: MetaData, schema: str) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table_schema=schema,
        include_schemas=False,
    )
    with context.begin_transaction():
        context.run_migrations()
