"""Alembic environment: migrate the engine handed over by :func:`survey.db.upgrade`.

Migrations are written in batch mode (``render_as_batch``), so that on SQLite a column change
copies the table instead of failing. Copying a table means dropping it, which SQLite refuses
while other rows point at it ("FOREIGN KEY constraint failed") — so on SQLite foreign keys
are off during the migration (the pragma only works outside a transaction) and checked as a
whole at the end, before the commit: a migration that leaves a dangling reference fails and
changes nothing.
"""

from typing import Any

from alembic import context
from sqlalchemy import text

from survey.models import Base

engine = context.config.attributes["engine"]


def _set_sqlite_foreign_keys(connection: Any, on: bool) -> None:
    """Switch SQLite's foreign-key enforcement on this connection, outside any transaction."""
    connection.connection.driver_connection.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        _set_sqlite_foreign_keys(connection, False)
    try:
        with connection.begin():
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=True,
            )
            context.run_migrations()
            if sqlite:
                dangling = connection.execute(text("PRAGMA foreign_key_check")).fetchall()
                if dangling:
                    raise RuntimeError(f"the migration leaves dangling references: {dangling}")
    finally:
        if sqlite:
            # The connection goes back to the pool: give it back as it came.
            _set_sqlite_foreign_keys(connection, True)
