"""GET /health/ for load balancers and monitors: is the database answering, and (with
COLLOQUY_TASKS=database) is the task queue being worked through?

200 with {"status": "ok", ...} when all is well; 503 with {"status": "error", "problems": [...]}
naming what does not answer. No login, no session, no cookies, no study data: just two cheap
queries. It is exempt from the HTTPS redirect (SECURE_REDIRECT_EXEMPT), since a load balancer
usually probes a backend over plain HTTP.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Count, Min
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from studies.jobs import runs_in_background

logger = logging.getLogger("colloquy.health")


def check_database() -> str | None:
    """None when the database answers a SELECT 1, else what went wrong."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        logger.error("health: the database does not answer: %s", exc)
        return f"the database does not answer ({type(exc).__name__})"
    return None


def check_tasks() -> tuple[dict[str, object], str | None]:
    """The task queue's state (ready tasks, the oldest one's wait in seconds) and a problem, if
    the table does not answer or a task has waited longer than COLLOQUY_HEALTH_QUEUE_MAX_WAIT."""
    from django_tasks_db.models import DBTaskResult

    try:
        ready = DBTaskResult.objects.ready().aggregate(count=Count("pk"), oldest=Min("enqueued_at"))
    except DatabaseError as exc:
        logger.error("health: the task queue does not answer: %s", exc)
        return {"backend": "database"}, f"the task queue does not answer ({type(exc).__name__})"
    waited = (
        round((timezone.now() - ready["oldest"]).total_seconds())
        if ready["oldest"] is not None
        else 0
    )
    limit = settings.COLLOQUY_HEALTH_QUEUE_MAX_WAIT
    state: dict[str, object] = {
        "backend": "database",
        "ready": ready["count"],
        "oldest_wait_seconds": waited,
        "max_wait_seconds": limit,
    }
    if ready["count"] and waited > limit:
        return state, (
            f"the task queue is stuck: a task has waited {waited} s for a worker "
            f"(more than {limit} s); are the workers (manage.py db_worker) running?"
        )
    return state, None


@never_cache
@require_safe  # GET, and HEAD for probes that only read the status
def health(request: HttpRequest) -> JsonResponse:
    problems: list[str] = []
    body: dict[str, object] = {"status": "ok", "database": "ok"}
    problem = check_database()
    if problem:
        body["database"] = "error"
        problems.append(problem)
    if runs_in_background():
        if problem:
            body["tasks"] = {"backend": "database", "status": "unknown"}
        else:
            state, problem = check_tasks()
            state["status"] = "error" if problem else "ok"
            body["tasks"] = state
            if problem:
                problems.append(problem)
    else:
        body["tasks"] = {"backend": "immediate", "status": "ok"}
    if problems:
        body["status"] = "error"
        body["problems"] = problems
    return JsonResponse(body, status=503 if problems else 200)
