"""The migration hook Jobs' command works today: each rendered Job's `python -c` program, run
with the Job's environment against a real (embedded) PostgreSQL, brings its service's schema
to head. Run in this process (the same code, without six interpreter start-ups)."""

from __future__ import annotations

import os
from collections.abc import Callable
from unittest import mock

from chart_render import Manifest, of_kind
from ipheron_libs.db import sqlalchemy_url
from sqlalchemy import create_engine, text

SCHEMAS = {"auth": "auth", "assets": "assets", "staking": "staking", "analytics": "analytics",
           "ai-agents": "ai_agents", "chain": "chain"}


def test_each_migration_job_command_migrates_its_schema(
        production_docs: list[Manifest], service_db_url: Callable[[str], str]) -> None:
    jobs = {j["metadata"]["labels"]["app.kubernetes.io/component"].removesuffix("-migrations"): j
            for j in of_kind(production_docs, "Job")}
    assert set(jobs) == set(SCHEMAS)
    for name, job in jobs.items():
        schema = SCHEMAS[name]
        url = service_db_url(schema)
        (c,) = job["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e["value"] for e in c["env"] if "value" in e}
        env |= {"DATABASE_URL": url, "PATH": os.environ["PATH"]}
        python, flag, program = c["command"]
        assert (python, flag) == ("python", "-c"), c["command"]
        with mock.patch.dict(os.environ, env, clear=True):
            exec(compile(program, f"<{name} migrations>", "exec"), {})  # noqa: S102 - the chart's own command
        engine = create_engine(sqlalchemy_url(url))
        try:
            with engine.connect() as conn:
                version = conn.execute(text(f"SELECT version_num FROM {schema}.alembic_version")).scalar()
        finally:
            engine.dispose()
        assert version, name
