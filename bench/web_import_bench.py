"""Importing a 20,000-word .vtt through the web, as an owner does, against gunicorn.

Signs in with a session, opens the import page, uploads the file (the upload answers with the
preview's address), opens the review page, confirms with the speaker mapping the review asks
for (turns and sentences are made in this request: the immediate task backend), and follows to
the documents page. Cold: the first import after the server starts (a fresh worker pays its
first-use costs: spaCy, pandas, templates); warm: the median of N more imports of new files.

Goal (the issue): warm under 0.15 s, the time Taguette 1.5.2 takes to upload the same file
without parsing turns.

Uses a throwaway SQLite database unless DATABASE_URL is set (then that database must be
disposable; the benchmark creates and deletes its own study). Talks only to 127.0.0.1.

    python bench/web_import_bench.py [--runs 10] [--words 20000] [--workers 1]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import time
from html import unescape
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ["COLLOQUY_TASKS"] = "immediate"

from common import DEMO, bench_study  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.db import connection  # noqa: E402
from load import Gunicorn  # noqa: E402

from studies.models import Document, Membership  # noqa: E402

SLUG = "web-import-bench"
PASSWORD = "bench-only-password-7"  # noqa: S105 (a throwaway account on a throwaway database)
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
SPEAKER = re.compile(r'name="(speaker_\d+)"')

import requests  # noqa: E402


def build_vtt(words: int, seed: int) -> bytes:
    """A WebVTT file of about `words` words: the demo's utterances as cues of 12 participants
    and a moderator (named with <v ...>), four seconds each."""
    rng = random.Random(seed)
    utterances = [
        line.split("] ", 1)[1]
        for line in DEMO.read_text(encoding="utf-8").splitlines()
        if line.startswith("[") and "] " in line
    ]
    speakers = ["Moderator"] + [f"P{n:02d}" for n in range(1, 13)]
    lines, total, second = ["WEBVTT", ""], 0, 0
    while total < words:
        text = rng.choice(utterances)

        def stamp(s: int) -> str:
            return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}.000"

        lines += [
            f"{stamp(second)} --> {stamp(second + 4)}",
            f"<v {rng.choice(speakers)}>{text}",
            "",
        ]
        total += len(text.split())
        second += 4
    return "\n".join(lines).encode()


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    if match is None:
        raise RuntimeError("no CSRF token on the page")
    return unescape(match.group(1))


def sign_in(base: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/login/", timeout=30)
    page.raise_for_status()
    answer = session.post(
        f"{base}/login/",
        data={
            "username": "bench-owner",
            "password": PASSWORD,
            "csrfmiddlewaretoken": csrf_of(page.text),
        },
        headers={"Referer": page.url},
        allow_redirects=False,
        timeout=30,
    )
    if answer.status_code != 302:
        raise RuntimeError(f"signing in failed: HTTP {answer.status_code}")
    return session


def import_once(session: requests.Session, base: str, workshop: int, name: str, data: bytes):
    """One import as a person does it; the seconds each step took."""
    start_url = f"{base}/studies/{SLUG}/import/"
    page = session.get(start_url, timeout=60)
    page.raise_for_status()
    times = {}
    started = time.perf_counter()
    upload = session.post(
        start_url,
        data={"csrfmiddlewaretoken": csrf_of(page.text), "t-workshop": workshop, "t-language": ""},
        files={"t-files": (name, data, "text/vtt")},
        headers={"Referer": start_url},
        allow_redirects=False,
        timeout=120,
    )
    times["upload (preview)"] = time.perf_counter() - started
    if upload.status_code != 302:
        raise RuntimeError(f"the upload was not accepted: HTTP {upload.status_code}")
    review_url = base + upload.headers["Location"]

    started = time.perf_counter()
    review = session.get(review_url, timeout=120)
    times["review page"] = time.perf_counter() - started
    review.raise_for_status()
    # Every speaker the roster does not name (the moderator) is "not a participant".
    fields = {field: "-" for field in SPEAKER.findall(review.text)}
    fields |= {"csrfmiddlewaretoken": csrf_of(review.text), "confirm": "1"}

    started = time.perf_counter()
    confirm = session.post(
        review_url,
        data=fields,
        headers={"Referer": review_url},
        allow_redirects=False,
        timeout=300,
    )
    times["confirm"] = time.perf_counter() - started
    if confirm.status_code != 302 or "/documents/" not in confirm.headers.get("Location", ""):
        raise RuntimeError(
            f"confirming did not lead to the documents page: HTTP {confirm.status_code} "
            f"{confirm.headers.get('Location', '')}"
        )
    started = time.perf_counter()
    documents = session.get(base + confirm.headers["Location"], timeout=60)
    times["documents page"] = time.perf_counter() - started
    documents.raise_for_status()
    times["total"] = sum(times.values())
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="warm imports (default 10)")
    parser.add_argument("--words", type=int, default=20_000)
    parser.add_argument(
        "--workers", type=int, default=1, help="gunicorn workers (default 1: every import "
        "reaches the same worker, so cold and warm are that worker's first and later imports)"
    )  # fmt: skip
    args = parser.parse_args()

    study = bench_study(SLUG, "Web import benchmark")
    owner, _ = User.objects.get_or_create(username="bench-owner")
    owner.set_password(PASSWORD)
    owner.save()
    Membership.objects.update_or_create(study=study, user=owner, defaults={"role": "owner"})
    workshop = study.workshops.get().pk
    files = [build_vtt(args.words, seed=n) for n in range(args.runs + 1)]
    vendor = connection.vendor
    connection.close()

    server = Gunicorn(workers=args.workers, env={"COLLOQUY_TASKS": "immediate"})
    try:
        base = f"http://127.0.0.1:{server.port}"
        session = sign_in(base)
        cold = import_once(session, base, workshop, "bench-0.vtt", files[0])
        warm = [
            import_once(session, base, workshop, f"bench-{n}.vtt", files[n])
            for n in range(1, args.runs + 1)
        ]
    finally:
        server.stop()
    document = Document.objects.filter(study=study).order_by("pk").first()
    words = len(document.text.split())
    turns, sentences = document.turns.count(), document.sentences.count()
    imported = Document.objects.filter(study=study).count()
    study.delete()

    print(
        f"Database: {vendor}; Python {sys.version.split()[0]}; {os.cpu_count()} cores; "
        f"gunicorn (config/gunicorn.py) with {args.workers} worker(s), immediate task backend"
    )
    print(
        f"One .vtt of {len(files[0]) / 1024:.0f} KiB: {words:,} words, {turns:,} turns, "
        f"{sentences:,} sentences; {imported} imports made\n"
    )
    steps = list(cold)
    print(f"| {'step':<18} | {'cold s':>7} | warm s (median of {args.runs}) | {'warm max s':>10} |")
    print(f"|{'-' * 20}|{'-' * 8}:|{'-' * 26}:|{'-' * 11}:|")
    for step in steps:
        values = [w[step] for w in warm]
        print(
            f"| {step:<18} | {cold[step]:>7.3f} | {statistics.median(values):>25.3f} "
            f"| {max(values):>10.3f} |"
        )
    print("\nGoal: warm under 0.15 s (Taguette 1.5.2 uploading the same file without turns).")


if __name__ == "__main__":
    main()
