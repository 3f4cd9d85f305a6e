"""Alembic migrations for the feedback store (run by ``Store.open``)."""
