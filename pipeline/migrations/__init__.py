"""The Alembic migrations that make and evolve the schema (see pipeline.store.migrate).

``SCHEMA_HEAD`` is the newest revision, known without loading Alembic: a command whose
database is already there opens it with one query instead of importing Alembic (about a
tenth of a second). Add a migration, and set it to the new revision;
tests/integration/test_store.py checks that it is Alembic's head.
"""

SCHEMA_HEAD = "0006"
