"""db.provision gives a service its own role and schema, with a password when one is given
(the container tests and the compose stack connect over TCP with it)."""

from __future__ import annotations

from ipheron_libs import db
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def test_a_password_with_quotes_colons_and_percent_signs_is_set_verbatim(pg_admin_url: str) -> None:
    password = "it's:a %s pass\\word"
    url = db.provision(pg_admin_url, "libtest_provision", password=password)
    assert make_url(url).password == password and make_url(url).username == db.role_for("libtest_provision")
    engine = create_engine(db.sqlalchemy_url(pg_admin_url))
    try:
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT rolpassword FROM pg_authid WHERE rolname = :r"),
                                  {"r": db.role_for("libtest_provision")}).scalar_one()
    finally:
        engine.dispose()
    assert stored.startswith("SCRAM-SHA-256$")  # hashed by the server, never stored in clear
