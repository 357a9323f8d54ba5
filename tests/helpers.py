from __future__ import annotations

from django.apps import apps


def db_snapshot() -> dict[str, list[tuple]]:
    """Every row of every study-data table, to show that a refused import wrote nothing."""
    snapshot = {}
    for label in ("studies", "coding", "exports"):
        for model in apps.get_app_config(label).get_models():
            if model._meta.model_name == "pendingimport":
                continue
            snapshot[model._meta.label] = sorted(
                tuple(str(v) for v in row) for row in model.objects.values_list()
            )
    return snapshot
