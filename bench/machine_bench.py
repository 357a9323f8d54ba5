"""The learned engine's speed: training on the demo study (cross-validation by document
included) in under 10 s, and suggesting for a 20,000-word transcript in under 1 s.

Prints a table; run with `make bench`. Uses a throwaway SQLite database unless DATABASE_URL is
set (the benchmark loads the demo study into it and removes what it adds).
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import time

from common import build_transcript
from django.core.management import call_command
from django.db import connection

from coding.machine import learned
from coding.models import Coding, MachineCoder
from studies.models import Document, Study
from studies.services import import_transcripts


def main() -> None:
    call_command("migrate", verbosity=0)
    call_command("load_demo", "--password", "bench-only-password", stdout=io.StringIO())
    demo = Study.objects.get(slug="demo")

    started = time.perf_counter()
    machine = learned.train(demo, "bob")
    train_seconds = time.perf_counter() - started
    metrics = machine.metrics
    kappas = [row["kappa"] for row in metrics["codes"] if row.get("kappa") is not None]

    # A long transcript of the demo study, not coded by anyone: what suggestions are for.
    [outcome] = import_transcripts(
        study=demo, workshop=None, files=[("bench-session.txt", build_transcript(20_000))]
    )
    document: Document = outcome.document
    words = len(document.text.split())
    sentences = document.sentences.count()
    times = []
    for _ in range(5):
        started = time.perf_counter()
        written = learned.suggest(machine, [document])
        times.append(time.perf_counter() - started)

    trained = f"{metrics['sentences']:,} sentences, {metrics['documents']} docs"
    folds = f"{metrics['k']} folds by document"
    size = f"{words:,} words, {sentences:,} sentences"
    print(f"{'step':<30}{'data':>30}{'seconds':>9}  target")
    print(f"{'train on the demo (bob)':<30}{trained:>30}{train_seconds:>9.2f}  < 10 s")
    cross = metrics["seconds"]["cross_validation"]
    print(f"{'  of which cross-validation':<30}{folds:>30}{cross:>9.2f}")
    print(f"{'suggest (median of 5)':<30}{size:>30}{statistics.median(times):>9.2f}  < 1 s")
    print(
        f"Cross-validated kappa over {len(kappas)} learned codes: median "
        f"{statistics.median(kappas):.2f}, min {min(kappas):.2f}, max {max(kappas):.2f}; "
        f"{written:,} suggestions at >= 0.5; model {len(machine.artefact) / 1e6:.1f} MB."
    )
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {connection.vendor}.")
    Coding.objects.filter(coder=machine.user).delete()
    document.delete()
    MachineCoder.objects.filter(pk=machine.pk).delete()


if __name__ == "__main__":
    main()
