"""Agreement speed and memory: 10,000 sentence units, 50 codes, 3 coders, computed in under 1 s;
and a large study (60,000 sentences, 50 codes, 4 coders), which the Reliability page hands to a
job, with the peak memory of the computation.

Prints a table; run with `make bench`. Uses a throwaway SQLite database unless DATABASE_URL is
set (the benchmark creates and deletes its own studies).
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
import tracemalloc

from common import bench_study, build_transcript
from django.contrib.auth.models import User
from django.db import connection

from coding.models import Code, Coding
from coding.reliability import compute_reliability
from studies.models import Sentence
from studies.services import import_transcripts

CASES = [
    # slug, sentences at least, words per transcript, coders, runs, target
    ("bench-agreement", 10_000, 20_000, 3, 5, "< 1 s"),
    ("bench-agreement-large", 60_000, 50_000, 4, 3, ""),
]


def build(slug: str, sentences: int, words: int, n_coders: int):
    study = bench_study(slug, "Agreement benchmark")
    documents = []
    while Sentence.objects.filter(document__study=study).count() < sentences:
        n = len(documents)
        [outcome] = import_transcripts(
            study=study,
            workshop=study.workshops.get(),
            files=[(f"session-{n}.txt", build_transcript(words, seed=n))],
        )
        documents.append(outcome.document)
    parent = Code.objects.create(study=study, name="Theme", codable=False)
    codes = [
        Code.objects.create(study=study, parent=parent, name=f"code {i:02d}") for i in range(50)
    ]
    coders = [User.objects.get_or_create(username=f"bench-{n}")[0] for n in "abcd"[:n_coders]]
    rng = random.Random(7)
    rows = []
    for document in documents:
        spans = list(document.sentences.values_list("start", "end"))
        for start, end in rng.sample(spans, k=len(spans) // 3):
            code = rng.choice(codes)
            for coder in coders:
                if rng.random() < 0.8:
                    rows.append(
                        Coding(document=document, code=code, coder=coder, start=start, end=end)
                    )
    Coding.objects.bulk_create(rows, ignore_conflicts=True, batch_size=5_000)
    units = Sentence.objects.filter(document__study=study).count()
    return study, coders, len(codes), units, len(rows)


def main() -> None:
    print(
        f"{'units':>8}{'codes':>7}{'coders':>8}{'codings':>9}{'median s':>10}{'max s':>8}"
        f"{'peak MB':>9}  target"
    )
    for slug, sentences, words, n_coders, runs, target in CASES:
        study, coders, codes, units, codings = build(slug, sentences, words, n_coders)
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            report = compute_reliability(study, unit="sentence", coders=coders)
            times.append(time.perf_counter() - started)
        # Memory in a separate run: tracing allocations slows the computation down.
        tracemalloc.start()
        compute_reliability(study, unit="sentence", coders=coders)
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        print(
            f"{units:>8,}{codes:>7}{len(coders):>8}{codings:>9,}"
            f"{statistics.median(times):>10.3f}{max(times):>8.3f}{peak:>9.0f}  {target}"
            f"  (overall alpha {report.overall.krippendorff_alpha:.3f})"
        )
        study.delete()
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {connection.vendor}.")


if __name__ == "__main__":
    main()
