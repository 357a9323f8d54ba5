"""Coding under load: gunicorn (config/gunicorn.py) on PostgreSQL, driven by coders on loopback.

Two shapes, each bounded in time:
  (a) a working team: CODERS coders, each applying a code every 2 s (POST /api/v1/codings/ with
      their own token), opening the document now and then (GET the coding page, with their
      browser session) and asking for a crosstab (GET /api/v1/studies/SLUG/exports/crosstab/).
      Per action: p50/p95/p99 and errors. Target: applying a code under 50 ms at p95, 0 errors.
  (b) closed loop: CODERS clients applying codes as fast as the answers come.
      Throughput (requests/s), p50/p95/p99, errors.

The client is a small asyncio HTTP/1.1 client in one process (keep-alive where the server keeps
the connection, a new connection where it closes it). It runs on the same cores as the server,
so it takes CPU from it: the table shows its share.

Needs PostgreSQL: DATABASE_URL must name a disposable database (the benchmark creates and
deletes its own study there; it never touches anything but 127.0.0.1).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/colloquy_bench python bench/load.py
    options: --shape a|b|both  --seconds-a 60 --seconds-b 30  --coders 20
             --workers N --threads N (default: config/gunicorn.py's)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from serving import free_port, wait_until_listening

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SLUG = "load-bench"


class Gunicorn:
    """gunicorn with the production config (config/gunicorn.py) on a free loopback port,
    stopped when the benchmark ends. `workers`/`threads` override the config's defaults."""

    def __init__(
        self, *, workers: int | None = None, threads: int | None = None, env: dict | None = None
    ) -> None:
        self.port = free_port()
        environment = dict(
            os.environ,
            DEBUG="0",
            GUNICORN_BIND=f"127.0.0.1:{self.port}",
            GUNICORN_LOG_LEVEL="warning",
            # Production settings, with static files served from the app folders (no
            # collectstatic needed before the pages render).
            DJANGO_SETTINGS_MODULE="serve_settings",
            PYTHONPATH=os.pathsep.join([str(HERE), str(ROOT)]),
            **(env or {}),
        )
        if workers is not None:
            environment["GUNICORN_WORKERS"] = str(workers)
        if threads is not None:
            environment["GUNICORN_THREADS"] = str(threads)
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("gunicorn")),
                "-c",
                str(ROOT / "config" / "gunicorn.py"),
                "config.wsgi",
            ],
            cwd=ROOT,
            env=environment,
        )
        wait_until_listening(self.process, self.port, 60, "gunicorn")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the master and its workers."""
        pids = [self.process.pid]
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        if children.exists():
            pids += [int(pid) for pid in children.read_text().split()]
        return cpu_seconds(pids)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system) used so far by these processes (those still running)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def database_backends() -> list[int]:
    """The PostgreSQL server processes serving this database's other connections (the
    server's workers), when PostgreSQL runs on this machine."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        pids = [row[0] for row in cursor.fetchall()]
    connection.close()
    return pids


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of every core, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


# --- A small HTTP/1.1 client ----------------------------------------------------------------


class Connection:
    """One client connection to 127.0.0.1:port, kept alive while the server keeps it."""

    IDLE_SECONDS = 4.0  # below gunicorn's keep-alive of 5 s: never send on a closing socket

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.used = 0.0

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, method: str, path: str, headers: bytes, body: bytes = b"") -> int:
        if self.writer is not None and time.monotonic() - self.used > self.IDLE_SECONDS:
            self.close()
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
            + f"Content-Length: {len(body)}\r\n".encode()
            + headers
            + b"\r\n"
            + body
        )
        status_line = await self.reader.readline()
        if not status_line:
            self.close()
            raise ConnectionError("the server closed the connection without an answer")
        status = int(status_line.split()[1])
        length, keep = 0, True
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                keep = False
        await self.reader.readexactly(length)
        self.used = time.monotonic()
        if not keep:
            self.close()
        return status


@dataclass
class Action:
    name: str
    times: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    async def run(
        self, connection: Connection, method: str, path: str, headers: bytes, body: bytes = b""
    ) -> None:
        started = time.perf_counter()
        try:
            status = await asyncio.wait_for(connection.request(method, path, headers, body), 30)
        except (TimeoutError, OSError, ConnectionError, ValueError) as exc:
            connection.close()
            self.errors.append(f"{type(exc).__name__}: {exc}")
            return
        self.times.append(time.perf_counter() - started)
        if status not in (200, 201):
            self.errors.append(f"HTTP {status}")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


# --- The study ------------------------------------------------------------------------------


@dataclass
class Coder:
    token: bytes  # the request headers of a script with a personal token
    session: bytes  # the request headers of a browser with a session


@dataclass
class Setup:
    document: int
    length: int
    codes: list[int]
    coders: list[Coder]


def make_study(coders: int) -> Setup:
    from common import bench_study, build_transcript
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.test import Client

    from coding.models import Code, Coding
    from studies.models import Membership
    from studies.services import import_transcripts
    from studies.tokens import issue_token

    settings.STORAGES["staticfiles"]["BACKEND"] = (
        "django.contrib.staticfiles.storage.StaticFilesStorage"
    )
    study = bench_study(SLUG, "Load benchmark")
    parent = Code.objects.create(study=study, name="Concept", codable=False)
    codes = [
        Code.objects.create(study=study, parent=parent, name=f"code {n}", order=n)
        for n in range(12)
    ]
    [outcome] = import_transcripts(
        study=study,
        workshop=study.workshops.get(),
        files=[("load-10000.txt", build_transcript(10_000, seed=7))],
    )
    document = outcome.document
    people = []
    for n in range(coders):
        user, _ = User.objects.get_or_create(username=f"load-coder-{n:02d}")
        Membership.objects.get_or_create(study=study, user=user, defaults={"role": "coder"})
        people.append(user)
    rng = random.Random(7)
    length = len(document.text)
    rows = []
    for _ in range(1_000):  # a document already half coded
        start = rng.randrange(0, length - 200)
        rows.append(
            Coding(
                document=document,
                code=rng.choice(codes),
                coder=rng.choice(people),
                start=start,
                end=start + rng.randrange(20, 200),
            )
        )
    Coding.objects.bulk_create(rows, ignore_conflicts=True)
    result = []
    for user in people:
        _token, secret = issue_token(user, name="load benchmark")
        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
        result.append(
            Coder(
                token=(
                    f"Authorization: Token {secret}\r\nContent-Type: application/json\r\n"
                ).encode(),
                session=f"Cookie: {settings.SESSION_COOKIE_NAME}={cookie}\r\n".encode(),
            )
        )
    return Setup(document.pk, length, [c.pk for c in codes], result)


def coding_body(setup: Setup, rng: random.Random) -> bytes:
    start = rng.randrange(0, setup.length - 100)
    return json.dumps(
        {
            "document": setup.document,
            "code": rng.choice(setup.codes),
            "start": start,
            "end": start + rng.randrange(5, 100),
        }
    ).encode()


# --- The two shapes -------------------------------------------------------------------------


async def every(seconds: float, until: float, rng: random.Random, job) -> None:
    """Run `job` every `seconds` (open loop: a slow answer does not delay the schedule more
    than itself), starting at a random phase, until the deadline."""
    next_at = time.monotonic() + rng.uniform(0, seconds)
    while True:
        await asyncio.sleep(max(0.0, min(next_at, until) - time.monotonic()))
        if time.monotonic() >= until:
            return
        await job()
        next_at += seconds


async def team(setup: Setup, port: int, seconds: float, intervals: dict[str, float]) -> list:
    apply, open_doc, crosstab = (
        Action("apply a code"),
        Action("open the document"),
        Action("crosstab"),
    )
    until = time.monotonic() + seconds
    page = f"/studies/{SLUG}/documents/{setup.document}/code/"
    table = f"/api/v1/studies/{SLUG}/exports/crosstab/"
    tasks = []
    for n, coder in enumerate(setup.coders):
        rng = random.Random(n)
        post_conn, page_conn, table_conn = Connection(port), Connection(port), Connection(port)

        def post(c=coder, r=rng, conn=post_conn):
            return apply.run(conn, "POST", "/api/v1/codings/", c.token, coding_body(setup, r))

        def view(c=coder, conn=page_conn):
            return open_doc.run(conn, "GET", page, c.session)

        def cross(c=coder, conn=table_conn):
            return crosstab.run(conn, "GET", table, c.token)

        tasks += [
            every(intervals["apply"], until, rng, post),
            every(intervals["open"], until, random.Random(100 + n), view),
            every(intervals["crosstab"], until, random.Random(200 + n), cross),
        ]
    await asyncio.gather(*tasks)
    return [apply, open_doc, crosstab]


async def closed_loop(setup: Setup, port: int, seconds: float) -> Action:
    apply = Action("apply a code")
    until = time.monotonic() + seconds

    async def client(n: int, coder: Coder) -> None:
        rng, conn = random.Random(1000 + n), Connection(port)
        while time.monotonic() < until:
            await apply.run(conn, "POST", "/api/v1/codings/", coder.token, coding_body(setup, rng))
        conn.close()

    await asyncio.gather(*(client(n, coder) for n, coder in enumerate(setup.coders)))
    return apply


def measured(server: Gunicorn, run) -> tuple[object, dict[str, float]]:
    """Run the coroutine `run()` and what it cost: wall time, the client's and the server's CPU
    as shares of the whole machine, and the machine's busy share (PostgreSQL included)."""
    cores = os.cpu_count() or 1
    backends = database_backends()  # the workers' connections, opened by the warm-up
    client0, server0, (busy0, total0) = os.times(), server.cpu_seconds(), machine_busy()
    database0 = cpu_seconds(backends)
    started = time.perf_counter()
    result = asyncio.run(run())
    wall = time.perf_counter() - started
    client1, server1, (busy1, total1) = os.times(), server.cpu_seconds(), machine_busy()
    database1 = cpu_seconds(backends)
    if set(database_backends()) != set(backends):
        database1 = database0 = float("nan")  # connections came or went: not measurable
    client_cpu = (client1.user - client0.user) + (client1.system - client0.system)
    actions = result if isinstance(result, list) else [result]
    requests = sum(len(a.times) + len(a.errors) for a in actions) or 1
    return result, {
        "wall": wall,
        "client": client_cpu / (wall * cores),
        "server": (server1 - server0) / (wall * cores),
        "machine": (busy1 - busy0) / max(1, total1 - total0),
        # CPU milliseconds per request: what the answers cost, whatever else ran meanwhile.
        "client_ms": client_cpu * 1000 / requests,
        "server_ms": (server1 - server0) * 1000 / requests,
        "database_ms": (database1 - database0) * 1000 / requests,
    }


def print_rows(actions: list[Action], wall: float) -> None:
    print(
        f"| {'action':<18} | {'requests':>8} | {'req/s':>6} | {'p50 ms':>7} | {'p95 ms':>7} "
        f"| {'p99 ms':>7} | {'max ms':>7} | {'errors':>6} |"
    )
    print(
        f"|{'-' * 20}|{'-' * 9}:|{'-' * 7}:|{'-' * 8}:|{'-' * 8}:|{'-' * 8}:|{'-' * 8}:|{'-' * 7}:|"
    )
    for a in actions:
        ms = [t * 1000 for t in a.times]
        print(
            f"| {a.name:<18} | {len(a.times):>8} | {len(a.times) / wall:>6.1f} | "
            f"{pct(ms, 0.5):>7.1f} | {pct(ms, 0.95):>7.1f} | {pct(ms, 0.99):>7.1f} | "
            f"{max(ms, default=float('nan')):>7.1f} | {len(a.errors):>6} |"
        )
    for a in actions:
        if a.errors:
            seen = sorted(set(a.errors))[:5]
            print(f"  {a.name} errors (first kinds): {'; '.join(seen)}")


def print_cpu(cost: dict[str, float]) -> None:
    print(
        f"\nCPU over {cost['wall']:.0f} s, as shares of all {os.cpu_count()} cores: "
        f"client {cost['client']:.0%}, gunicorn {cost['server']:.0%}, "
        f"whole machine busy {cost['machine']:.0%} (PostgreSQL and the rest included)"
    )
    print(
        f"CPU per request: gunicorn {cost['server_ms']:.2f} ms, PostgreSQL "
        f"{cost['database_ms']:.2f} ms (nan: its connections changed meanwhile), "
        f"client {cost['client_ms']:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=("a", "b", "both"), default="both")
    parser.add_argument("--coders", type=int, default=20)
    parser.add_argument("--seconds-a", type=float, default=60)
    parser.add_argument("--seconds-b", type=float, default=30)
    parser.add_argument("--workers", type=int, help="gunicorn workers (default: the config's)")
    parser.add_argument("--threads", type=int, help="threads per worker (default: the config's)")
    parser.add_argument("--apply-every", type=float, default=2.0, help="seconds (shape a)")
    parser.add_argument("--open-every", type=float, default=15.0, help="seconds (shape a)")
    parser.add_argument("--crosstab-every", type=float, default=30.0, help="seconds (shape a)")
    args = parser.parse_args()

    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit(
            "bench/load.py measures the production setup and needs PostgreSQL: set DATABASE_URL "
            "to a disposable database, e.g. "
            "DATABASE_URL=postgres://postgres@127.0.0.1:5432/colloquy_bench"
        )
    from studies.models import Study

    setup = make_study(args.coders)
    connection.close()  # the server's workers are the ones talking to the database now
    server = Gunicorn(workers=args.workers, threads=args.threads)
    try:
        # Every worker thread answers first (and opens its database connection): a fresh
        # worker's first answer pays one-off costs.
        asyncio.run(closed_loop(setup, server.port, 3.0))
        workers = args.workers or "config default (one per core, at least 2)"
        threads = args.threads or "config default (4)"
        print(
            f"PostgreSQL; Python {sys.version.split()[0]}; {os.cpu_count()} cores shared by "
            f"client, gunicorn and PostgreSQL; gunicorn workers: {workers}, threads: {threads}\n"
        )
        if args.shape in ("a", "both"):
            intervals = {
                "apply": args.apply_every,
                "open": args.open_every,
                "crosstab": args.crosstab_every,
            }
            actions, cost = measured(
                server, lambda: team(setup, server.port, args.seconds_a, intervals)
            )
            print(
                f"(a) {args.coders} coders for {args.seconds_a:.0f} s, each applying a code every "
                f"{args.apply_every:g} s, opening the coding page every {args.open_every:g} s and "
                f"a crosstab every {args.crosstab_every:g} s "
                "(target: apply p95 < 50 ms, 0 errors)\n"
            )
            print_rows(actions, cost["wall"])
            print_cpu(cost)
            print()
        if args.shape in ("b", "both"):
            action, cost = measured(server, lambda: closed_loop(setup, server.port, args.seconds_b))
            print(
                f"(b) {args.coders} closed-loop clients applying codes as fast as answered, "
                f"{args.seconds_b:.0f} s\n"
            )
            print_rows([action], cost["wall"])
            print_cpu(cost)
    finally:
        server.stop()
        Study.objects.filter(slug=SLUG).delete()


if __name__ == "__main__":
    if "DATABASE_URL" not in os.environ or not os.environ["DATABASE_URL"].startswith("postgres"):
        raise SystemExit(
            "bench/load.py measures the production setup and needs PostgreSQL: set DATABASE_URL "
            "to a disposable database, e.g. "
            "DATABASE_URL=postgres://postgres@127.0.0.1:5432/colloquy_bench"
        )
    sys.path.insert(0, str(HERE))
    import common  # noqa: F401  (sets Django up)

    main()
