"""Housekeeping steps of the apps above studies, which `manage.py cleanup` (in studies, which
may not import them) runs after its own: each app registers its step in its AppConfig.ready.

A step is called with (now, dry_run) and returns (how many, (singular, plural), suffix), e.g.
(12, ("idempotency key", "idempotency keys"), " older than a day"); with dry_run it only counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

Step = Callable[[dt.datetime, bool], tuple[int, tuple[str, str], str]]

STEPS: list[Step] = []


def register(step: Step) -> Step:
    if step not in STEPS:
        STEPS.append(step)
    return step
