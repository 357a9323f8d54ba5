"""Export speed: the paper pack for a study with 100,000 codings in under 5 s, with a number of
SQL queries that does not grow with the data. Prints a table; run with `make bench`.

Uses a throwaway SQLite database unless DATABASE_URL is set (the benchmark creates and deletes
its own study).
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time

from common import ROOT, bench_study, build_transcript
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from coding.models import Code, Coding
from coding.services import import_codebook
from exports.pack import build_pack
from studies.models import Membership, Study
from studies.services import import_transcripts


def populate(study: Study, codings: int) -> int:
    codebook = ROOT / "coding" / "demo" / "codebook.csv"
    import_codebook(study=study, filename=codebook.name, data=codebook.read_bytes())
    codes = list(Code.objects.filter(study=study, codable=True))
    coders = []
    for name in ("bench-a", "bench-b"):
        user, _ = User.objects.get_or_create(username=name)
        Membership.objects.get_or_create(study=study, user=user, defaults={"role": "coder"})
        coders.append(user)
    rng = random.Random(3)
    rows: list[Coding] = []
    n = 0
    while len(rows) < codings:
        [outcome] = import_transcripts(
            study=study,
            workshop=study.workshops.get(),
            files=[(f"session-{n}.txt", build_transcript(20_000, seed=n))],
        )
        n += 1
        sentences = list(outcome.document.sentences.values_list("start", "end"))
        for start, end in sentences:
            for code in rng.sample(codes, k=3):
                for coder in coders:
                    if rng.random() < 0.85:
                        rows.append(
                            Coding(
                                document=outcome.document,
                                code=code,
                                coder=coder,
                                start=start,
                                end=end,
                            )
                        )
    Coding.objects.bulk_create(rows[:codings], batch_size=5000)
    return n


def measure(study: Study) -> tuple[float, int, int]:
    times = []
    for _ in range(3):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            content = build_pack(study)
            times.append(time.perf_counter() - started)
    return statistics.median(times), len(queries), len(content)


def main() -> None:
    print(f"{'codings':>9}{'documents':>11}{'median s':>10}{'queries':>9}{'zip KB':>8}  target")
    for size in (10_000, 100_000):
        study = bench_study(f"bench-export-{size}", "Export benchmark")
        documents = populate(study, size)
        seconds, queries, length = measure(study)
        print(
            f"{size:>9,}{documents:>11}{seconds:>10.2f}{queries:>9}{length // 1024:>8,}"
            f"  {'< 5 s' if size == 100_000 else ''}"
        )
        study.delete()
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {connection.vendor}.")


if __name__ == "__main__":
    main()
