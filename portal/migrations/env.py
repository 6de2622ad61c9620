"""Alembic environment: the engine comes from the Flask app, the metadata from portal.models."""

from alembic import context
from sqlmodel import SQLModel

import portal.models  # noqa: F401  (registers every table on SQLModel.metadata)

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    connectable = config.attributes["connection"]
    context.configure(
        connection=connectable,
        target_metadata=target_metadata,
        render_as_batch=connectable.dialect.name == "sqlite",  # SQLite needs table copies for ALTER
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
