"""Agreement speed: 10,000 sentence units, 50 codes, 3 coders, computed in under 1 s.

Prints a table; run with `make bench`. Uses a throwaway SQLite database unless DATABASE_URL is
set (the benchmark creates and deletes its own study).
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time

from common import bench_study, build_transcript
from django.contrib.auth.models import User
from django.db import connection

from coding.models import Code, Coding
from coding.reliability import compute_reliability
from studies.models import Sentence
from studies.services import import_transcripts


def main() -> None:
    study = bench_study("bench-agreement", "Agreement benchmark")
    documents = []
    while Sentence.objects.filter(document__study=study).count() < 10_000:
        n = len(documents)
        [outcome] = import_transcripts(
            study=study,
            workshop=study.workshops.get(),
            files=[(f"session-{n}.txt", build_transcript(20_000, seed=n))],
        )
        documents.append(outcome.document)
    parent = Code.objects.create(study=study, name="Theme", codable=False)
    codes = [
        Code.objects.create(study=study, parent=parent, name=f"code {i:02d}") for i in range(50)
    ]
    coders = [User.objects.get_or_create(username=f"bench-{name}")[0] for name in "abc"]
    rng = random.Random(7)
    rows = []
    for document in documents:
        sentences = list(document.sentences.values_list("start", "end"))
        for start, end in rng.sample(sentences, k=len(sentences) // 3):
            code = rng.choice(codes)
            for coder in coders:
                if rng.random() < 0.8:
                    rows.append(
                        Coding(document=document, code=code, coder=coder, start=start, end=end)
                    )
    Coding.objects.bulk_create(rows, ignore_conflicts=True)
    units = Sentence.objects.filter(document__study=study).count()

    times = []
    for _ in range(5):
        started = time.perf_counter()
        report = compute_reliability(study, unit="sentence", coders=coders)
        times.append(time.perf_counter() - started)
    print(
        f"{'units':>8}{'codes':>7}{'coders':>8}{'codings':>9}{'median s':>10}{'max s':>8}  target"
    )
    print(
        f"{units:>8,}{len(codes):>7}{len(coders):>8}{len(rows):>9,}"
        f"{statistics.median(times):>10.3f}{max(times):>8.3f}  < 1 s"
    )
    print(
        f"overall alpha {report.overall.krippendorff_alpha:.3f}; "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {connection.vendor}."
    )
    study.delete()


if __name__ == "__main__":
    main()
