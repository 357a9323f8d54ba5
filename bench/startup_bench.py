"""Start-up: how long a command or a web worker takes to start, and what an idle worker holds.

Each row is the median of 5 fresh processes on a throwaway SQLite database: wall time, and CPU
time (user + system), which a busy machine disturbs less. The web worker is one gunicorn worker
on a free loopback port, asked for /health/ once; its resident memory is read from /proc after
that request. Heavy libraries (pandas, matplotlib, scipy, spaCy) load on first use, or in the
background with COLLOQUY_PRELOAD=1 (config.preload); set it to compare.

Prints a table; run with `make bench` or `.venv/bin/python bench/startup_bench.py`.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from serving import free_port

ROOT = Path(__file__).resolve().parents[1]
RUNS = 5
START_TIMEOUT = 60  # seconds for a worker to answer its first request


def environment(database: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"sqlite:///{database}",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only"),
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
    }


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall, cpu) seconds of one run of `args`, which must succeed."""
    cpu, started = children_cpu(), time.perf_counter()
    subprocess.run(args, cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - started, children_cpu() - cpu


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def serve_once(env: dict[str, str]) -> tuple[float, float]:
    """(seconds until the first answer, the worker's resident MB after it) for one gunicorn
    worker started, asked for /health/ once, and stopped."""
    port = free_port()
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "-w", "1", "-b", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            if time.perf_counter() - started > START_TIMEOUT or server.poll() is not None:
                raise RuntimeError("gunicorn did not answer /health/")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/", timeout=5):
                    break
            except urllib.error.HTTPError:
                break  # an answer all the same (503 when a job waits for a worker)
            except OSError:
                time.sleep(0.05)
        first_answer = time.perf_counter() - started
        [worker] = worker_pids(server.pid)
        return first_answer, resident_mb(worker)
    finally:
        server.terminate()
        server.wait(timeout=30)


def median_of(run: Callable[[], tuple[float, float]]) -> tuple[float, float]:
    results = [run() for _ in range(RUNS)]
    return statistics.median(r[0] for r in results), statistics.median(r[1] for r in results)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="colloquy-startup-") as folder:
        env = environment(Path(folder) / "bench.sqlite3")
        python = sys.executable
        subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        slugs = (f"startup-{n}" for n in range(1000))
        commands = [
            (
                "import config.urls",
                lambda: [python, "-c", "import django; django.setup(); import config.urls"],
            ),
            ("manage.py check", lambda: [python, "manage.py", "check"]),
            ("manage.py help", lambda: [python, "manage.py", "help"]),
            ("manage.py create_study --help", lambda: [python, "manage.py", "create_study", "-h"]),
            (
                "manage.py create_study (writes a study)",
                lambda: [python, "manage.py", "create_study", next(slugs), "--name", "Start-up"],
            ),
        ]
        print(f"Start-up, median of {RUNS} fresh processes")
        print(f"{'what':44} {'wall s':>8} {'CPU s':>8}")
        for label, args in commands:
            wall, cpu = median_of(lambda args=args: timed(args(), env))
            print(f"{label:44} {wall:8.2f} {cpu:8.2f}")
        first_answer, rss = median_of(lambda: serve_once(env))
        preload = "on" if env.get("COLLOQUY_PRELOAD", "0") not in ("", "0") else "off"
        print(f"{'gunicorn worker: first answer to /health/':44} {first_answer:8.2f}")
        print(
            f"gunicorn worker resident memory after one request: {rss:.0f} MB (preload {preload})"
        )


if __name__ == "__main__":
    main()
