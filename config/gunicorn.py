"""gunicorn's settings for serving Colloquy: `gunicorn -c config/gunicorn.py config.wsgi`.

Every knob comes from the environment and fails loudly on a bad value, like config/settings.py:

  GUNICORN_BIND          where to listen (default 127.0.0.1:8000; a reverse proxy in front)
  GUNICORN_WORKERS       worker processes (default: one per core, at least 2)
  GUNICORN_THREADS       threads per worker (default 4; 1 makes plain synchronous workers)
  GUNICORN_TIMEOUT       seconds before a silent worker is killed and replaced (default 60)
  GUNICORN_MAX_REQUESTS  requests after which a worker is replaced (default 5000; 0: never)
  GUNICORN_ACCESS_LOG    1 to log every request to standard output (default 0)

Why these defaults (bench/load.py measures them on PostgreSQL, 20 clients applying codes):
- Threaded workers (`gthread`), one process per core with 4 threads each. A request spends
  part of its time waiting for the database, so a core serves best with more than one request
  in flight; threads give that without a process each, and they keep connections alive, which
  synchronous workers cannot (a new TCP connection for every request cost the worker and the
  client about a millisecond of CPU each). On 2 cores this served about 1.8 times the requests
  per second of 2, 3 or 5 synchronous workers. Everything the workers share in memory (the
  spaCy pipelines, the remembered statements and parses) is safe to share between threads;
  figures are drawn without pyplot's global state.
- The application is loaded once in the master before the workers are forked (preload_app):
  workers start in milliseconds and share the imported code's memory, and a worker replaced
  after max_requests does not import Django again. Nothing opens a database connection or a
  thread at import time, so nothing is shared by mistake; the price is that a code change
  needs a restart of the master, not only a HUP.
- max_requests with jitter replaces each worker now and then (a slow leak in any library stays
  bounded), and the jitter keeps the workers from being replaced all at once.
- The timeout is generous because imports and exports run inside the request with the immediate
  task backend; with COLLOQUY_TASKS=database long work leaves the request and 30 s would do.
"""

from __future__ import annotations

import multiprocessing
import os


def _envint(name: str, default: int, *, minimum: int = 0) -> int:
    value = os.getenv(name, str(default)).strip()
    try:
        number = int(value)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, not {value!r}") from None
    if number < minimum:
        raise SystemExit(f"{name} must be at least {minimum}, not {number}")
    return number


def _envbool(name: str, default: str) -> bool:
    value = os.getenv(name, default).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise SystemExit(f"{name} must be a boolean (1/0, true/false), not {value!r}")


bind = os.getenv("GUNICORN_BIND", "127.0.0.1:8000").split(",")
workers = _envint("GUNICORN_WORKERS", max(2, multiprocessing.cpu_count()), minimum=1)
threads = _envint("GUNICORN_THREADS", 4, minimum=1)
worker_class = "gthread" if threads > 1 else "sync"
timeout = _envint("GUNICORN_TIMEOUT", 60, minimum=1)
graceful_timeout = 30
keepalive = 5  # seconds; threaded workers only (sync workers close after each answer)

max_requests = _envint("GUNICORN_MAX_REQUESTS", 5000)
max_requests_jitter = max_requests // 10

preload_app = True


def when_ready(server: object) -> None:
    """With COLLOQUY_PRELOAD on, the heavy libraries (pandas, matplotlib, scipy, spaCy) are
    loaded here, once, in the master that already holds the application and is about to fork
    its workers: every worker shares them, and no worker's first table or transcript waits for
    them (config.preload.warm: imports only, no thread, no database connection). Runs only with
    preload_app; with it off, each worker would have to load them itself."""
    from django.conf import settings

    if preload_app and settings.COLLOQUY_PRELOAD:
        from config.preload import _warm_logged

        _warm_logged()


# Errors go to standard error; requests to standard output only when asked for (a reverse proxy
# usually logs them already, and a line per request costs the worker time).
errorlog = "-"
loglevel = os.getenv("GUNICORN_LOG_LEVEL", "info")
accesslog = "-" if _envbool("GUNICORN_ACCESS_LOG", "0") else None
# Behind a reverse proxy on the same host: trust its X-Forwarded-* headers from loopback only.
forwarded_allow_ips = os.getenv("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
