"""What every benchmark shares: Django set up on a throwaway SQLite database (unless
DATABASE_URL names another one, which must be disposable), a realistic transcript of any
length, and a study with a small roster to import it into.

Import this module first in a benchmark script: it configures Django before models load.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault(
    "DATABASE_URL", f"sqlite:///{tempfile.mkdtemp(prefix='colloquy-bench-')}/bench.sqlite3"
)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,testserver")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from studies.models import Study  # noqa: E402
from studies.services import import_roster  # noqa: E402

DEMO = ROOT / "studies" / "demo" / "US-1.txt"


def build_transcript(words: int, seed: int = 1) -> bytes:
    """A transcript of about `words` words: the demo's US-1 utterances shuffled among 12
    speakers and a moderator, so that turn lengths and punctuation are realistic."""
    rng = random.Random(seed)
    utterances = [
        line.split("] ", 1)[1]
        for line in DEMO.read_text(encoding="utf-8").splitlines()
        if line.startswith("[") and "] " in line
    ]
    speakers = ["Moderator"] + [f"P{n:02d}" for n in range(1, 13)]
    lines, total = ["Benchmark workshop", ""], 0
    while total < words:
        text = rng.choice(utterances)
        lines += [f"{rng.choice(speakers)}: {text}", ""]
        total += len(text.split())
    return "\n".join(lines).encode()


def bench_study(slug: str, name: str) -> Study:
    """A fresh study (migrating the database first) with one workshop, B-1, of 12 participants
    P01-P12 whom build_transcript's speakers match."""
    call_command("migrate", verbosity=0)
    Study.objects.filter(slug=slug).delete()
    study = Study.objects.create(slug=slug, name=name)
    roster = "participant,workshop,country\n" + "".join(f"P{n:02d},B-1,GB\n" for n in range(1, 13))
    import_roster(study=study, filename="roster.csv", data=roster.encode())
    return study
