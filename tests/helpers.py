from __future__ import annotations

from django.apps import apps
from django.contrib.auth.models import User
from django.test import Client


def db_snapshot() -> dict[str, list[tuple]]:
    """Every row of every study-data table, to show that a refused import wrote nothing."""
    snapshot = {}
    for label in ("studies", "surveys", "coding", "exports"):
        for model in apps.get_app_config(label).get_models():
            # An upload waiting for its confirmation, and the job that reports on the work
            # (what was asked, and why it failed), are not study data.
            if model._meta.model_name in ("pendingimport", "job"):
                continue
            snapshot[model._meta.label] = sorted(
                tuple(str(v) for v in row) for row in model.objects.values_list()
            )
    return snapshot


def client_for(user: User | None) -> Client:
    """A test client logged in as `user`, or anonymous for None."""
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def require_postgresql(why: str) -> None:
    """Skip the test on SQLite, saying why it needs PostgreSQL (the tests of concurrent writers
    and of second processes: a worker, a server). CI runs the suite on PostgreSQL too."""
    from django.db import connection

    if connection.vendor != "postgresql":
        import pytest

        pytest.skip(f"needs PostgreSQL (a DATABASE_URL of postgres://USER@HOST/NAME): {why}")
