"""Import speed and memory: a 20,000-word transcript (target: under 0.5 s with turns and
sentences), the same pseudonymised (participants with names, a private list of 200 names; every
word is looked at), and a 5 MB one (target: within 500 MB), also as a single line that is one
turn (spaCy reads it in pieces). Prints a table; run with `make bench`, or name cases to run
only those: `python bench/import_bench.py "5 MB, one line"` (RSS is a high-water mark, so a
case run alone shows its own).

It uses a throwaway SQLite database unless DATABASE_URL is set (then that database must be
empty or disposable: the benchmark creates and deletes its own study).
"""

from __future__ import annotations

import os
import resource
import statistics
import sys
import time
import tracemalloc

import django
from common import bench_study, build_transcript

from studies.models import Document, Study
from studies.pseudonymise import add_private_names
from studies.services import TranscriptOutcome, import_transcripts


def one_line(data: bytes) -> bytes:
    """The same utterances as one participant's single turn on a single line, as some tools
    export a transcript."""
    lines = data.decode().splitlines()
    said = [line.split(": ", 1)[1] for line in lines if ": " in line]
    return ("P01: " + " ".join(said)).encode()


def import_once(
    study: Study, data: bytes, title: str, pseudonymise: bool = False
) -> TranscriptOutcome:
    Document.objects.filter(study=study).delete()
    [outcome] = import_transcripts(
        study=study,
        workshop=study.workshops.get(),
        files=[(f"{title}.txt", data)],
        pseudonymise=pseudonymise,
    )
    return outcome


NAMES = [
    "Aino",
    "Eero",
    "Helmi",
    "Ilkka",
    "Johanna",
    "Laura",
    "Mikko",
    "Noora",
    "Jürgen",
    "Anna",
    "Amara",
    "Callum",
]


def give_names(study: Study) -> None:
    """Names for the participants and a private list, as a study that pseudonymises has."""
    for participant, name in zip(study.participants.order_by("code"), NAMES, strict=True):
        participant.aliases = name
        participant.save(update_fields=["aliases"])
    staff = [f"Staff{n} Member{n}" for n in range(190)] + [f"Place{n}" for n in range(10)]
    add_private_names(study=study, names=staff)


def measure(study: Study, data: bytes, runs: int, pseudonymise: bool = False) -> dict[str, float]:
    """Median wall time over `runs` imports, then one more import under tracemalloc for the peak
    of Python allocations (tracemalloc slows code down, so it never runs while timing)."""
    times = []
    for run in range(runs):
        started = time.perf_counter()
        outcome = import_once(study, data, f"bench-{run}", pseudonymise)
        times.append(time.perf_counter() - started)
    tracemalloc.start()
    import_once(study, data, "bench-memory", pseudonymise)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "words": outcome.words,
        "turns": outcome.turns,
        "sentences": outcome.sentences,
        "median_s": statistics.median(times),
        "peak_mb": peak / 1048576,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    study = bench_study("bench", "Benchmark")
    # Warm up spaCy's pipeline once, as a running server would have.
    import_transcripts(
        study=study, workshop=study.workshops.get(), files=[("warm.txt", build_transcript(200))]
    )

    give_names(study)
    cases = [
        ("20,000 words", build_transcript(20_000), 7, "< 0.5 s"),
        ("20,000 words, pseudonymised", build_transcript(20_000), 7, ""),
        ("5 MB", build_transcript(850_000, seed=2), 3, "< 500 MB RSS"),
        ("5 MB, one line", one_line(build_transcript(910_000, seed=2)), 3, "< 500 MB RSS"),
    ]
    if sys.argv[1:]:
        cases = [case for case in cases if case[0] in sys.argv[1:]]
    print(
        f"{'case':<29}{'bytes':>11}{'words':>10}{'turns':>8}{'sentences':>11}"
        f"{'median s':>10}{'py peak MB':>12}{'RSS MB':>8}  target"
    )
    for name, data, runs, target in cases:
        row = measure(study, data, runs, pseudonymise="pseudonymised" in name)
        print(
            f"{name:<29}{len(data):>11,}{row['words']:>10,}{row['turns']:>8,}"
            f"{row['sentences']:>11,}{row['median_s']:>10.3f}{row['peak_mb']:>12.0f}"
            f"{row['rss_mb']:>8.0f}  {target}"
        )
    print(
        "RSS: the whole process's high-water mark so far (Django and spaCy included). "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {django.db.connection.vendor}."
    )
    study.delete()


if __name__ == "__main__":
    main()
