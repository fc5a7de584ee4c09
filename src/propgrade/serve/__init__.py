"""``propgrade serve``: a self-hosted submission service.

Students upload the graded file (or their notebook) and get the feedback page the batch
writes, graded by the same sandboxed workers. The parts:

- ``db``: the tables (SQLAlchemy Core) and the engine, SQLite in WAL mode or PostgreSQL;
  ``migrations/`` holds the Alembic scripts that create and upgrade them.
- ``tokens``: the roster's random tokens, stored hashed.
- ``store``: every read and write of a submission: stored before it is acknowledged,
  claimed by one worker at a time, finished once.
- ``workers``: the grading processes (``python -m propgrade.serve.workers``), which claim
  work from the database, so several servers can share it.
- ``app`` and ``pages``: the Starlette application and its HTML.
"""
