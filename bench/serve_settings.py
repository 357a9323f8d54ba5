"""Settings for the gunicorn that the benchmarks start: production's, except that static files
are served from the app folders, so pages render without a `collectstatic` run first."""

from config.settings import *  # noqa: F403
from config.settings import STORAGES

STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
