"""Alembic's environment: always run by ``propgrade.serve.db.migrate`` on its connection."""

from __future__ import annotations

from alembic import context

from propgrade.serve.db import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
