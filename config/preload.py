"""Load a web worker's heavy libraries after it starts, off the request path.

The URLconf and the commands import pandas, numpy, scipy, matplotlib and spaCy only where they are
used, so a worker starts in about a second and stays small while idle; the first request that
shows a table, draws a figure or splits a transcript into sentences then pays for loading them.
With COLLOQUY_PRELOAD on, `preload_heavy_modules()`, called by the server once a worker has
started (gunicorn's `post_worker_init`), loads them in a background thread instead. Python's
import lock makes a request that needs a module while the thread is loading it wait for that one
import, never load it twice.

A server that loads the application once and forks its workers from it (gunicorn's
`preload_app`) can instead call `warm()` in the parent before forking, never a thread there:
the workers then share the loaded libraries' memory rather than each loading its own copy.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time

from django.conf import settings

logger = logging.getLogger(__name__)

# What the first table, figure, significance test, agreement figure or search suggestion would
# otherwise import, each of these loading one or more of the heavy libraries.
MODULES = (
    "exports.tables",  # pandas, numpy
    "exports.cells",
    "exports.renderers",
    "exports.figures",  # matplotlib
    "scipy.stats",  # significance notes, survey tests
    "krippendorff",  # agreement
    "spacy",
)


def warm() -> None:
    """Import MODULES and build the sentence pipeline for the site's language."""
    from studies.nlp import sentence_pipeline

    started = time.monotonic()
    for name in MODULES:
        importlib.import_module(name)
    sentence_pipeline(settings.LANGUAGE_CODE)
    logger.info("Heavy libraries preloaded in %.1f s", time.monotonic() - started)


def _warm_logged() -> None:
    try:
        warm()
    except Exception:  # a failed preload only means the first request loads it
        logger.exception("Preloading the heavy libraries failed")


def preload_heavy_modules() -> threading.Thread | None:
    """Start loading the heavy libraries in a daemon thread when COLLOQUY_PRELOAD is on, and
    return the thread (None when it is off)."""
    if not settings.COLLOQUY_PRELOAD:
        return None
    thread = threading.Thread(target=_warm_logged, name="colloquy-preload", daemon=True)
    thread.start()
    return thread
