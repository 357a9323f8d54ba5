"""REFI-QDA speed: a study with 100,000 codings exported as a .qdpx and imported into an empty
study in under 10 s each, with a number of SQL queries that does not grow with the data; and a
second import of the same file, which finds nothing new ("No changes"). Prints a table; run with
`make bench`, or give the sizes to run: `python bench/qdpx_bench.py 10000`.

The study: six 20,000-word transcripts (the same six at every size, so only the codings grow),
a roster of 12 participants with three variables, two coders' codings of sentences, some
consensus codings by the owner, and memos on the project, a document, a code and codings.

Uses a throwaway SQLite database unless DATABASE_URL is set (then that database must be empty
or disposable: the benchmark creates and deletes its own studies and users).
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from collections.abc import Callable

from common import ROOT, build_transcript
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from coding.models import Code, Coding, Memo
from coding.services import import_codebook
from exports.qdpx import import_qdpx, write_qdpx
from studies.models import Membership, Study
from studies.services import import_roster, import_transcripts

DOCUMENTS = 6
SIZES = (10_000, 100_000)
OWNER = "bench-qdpx-owner"
CODERS = ("bench-qdpx-a", "bench-qdpx-b")
CONSENSUS_SHARE = 0.05


def roster() -> bytes:
    rng = random.Random(5)
    lines = ["participant,workshop,country,age band,gender,years in post [number]"]
    for n in range(1, 13):
        band = rng.choice(["18-29", "30-44", "45-59", "60+"])
        gender = rng.choice(["woman", "man", "non-binary"])
        lines.append(f"P{n:02d},B-1,GB,{band},{gender},{rng.randint(0, 30)}")
    return ("\n".join(lines) + "\n").encode()


def owner() -> User:
    user, _ = User.objects.get_or_create(username=OWNER)
    return user


def empty_study(slug: str) -> Study:
    Study.objects.filter(slug=slug).delete()
    study = Study.objects.create(slug=slug, name="REFI-QDA benchmark")
    Membership.objects.create(study=study, user=owner(), role=Membership.Role.OWNER)
    return study


def populate(study: Study, codings: int) -> None:
    """`codings` codings over the same DOCUMENTS transcripts, whatever their number: each
    coder codes about 85% of the sentences, round after round with other codes, and the owner
    adds a consensus coding to about 5% of them."""
    import_roster(study=study, filename="roster.csv", data=roster())
    codebook = ROOT / "coding" / "demo" / "codebook.csv"
    import_codebook(study=study, filename=codebook.name, data=codebook.read_bytes())
    codes = list(Code.objects.filter(study=study, codable=True).order_by("pk"))
    coders = []
    for name in CODERS:
        user, _ = User.objects.get_or_create(username=name)
        Membership.objects.create(study=study, user=user, role=Membership.Role.CODER)
        coders.append(user)
    outcomes = import_transcripts(
        study=study,
        workshop=study.workshops.get(),
        files=[(f"session-{n}.txt", build_transcript(20_000, seed=n)) for n in range(DOCUMENTS)],
    )
    sentences = [
        (outcome.document, start, end)
        for outcome in outcomes
        for start, end in outcome.document.sentences.values_list("start", "end")
    ]
    rng = random.Random(3)
    rows: dict[tuple, Coding] = {}

    def add(document: object, code: Code, coder: User, start: int, end: int, agreed: bool) -> None:
        key = (document.pk, code.pk, coder.pk, start, end, agreed)
        if key not in rows and len(rows) < codings:
            rows[key] = Coding(
                document=document, code=code, coder=coder, start=start, end=end, consensus=agreed
            )

    while len(rows) < codings:
        for document, start, end in sentences:
            for coder in coders:
                if rng.random() < 0.85:
                    add(document, rng.choice(codes), coder, start, end, False)
            if rng.random() < CONSENSUS_SHARE:
                add(document, rng.choice(codes), owner(), start, end, True)
    created = Coding.objects.bulk_create(rows.values(), batch_size=5000)
    some = Coding.objects.filter(document__study=study).order_by("pk")[:5]
    author = owner()
    memos = [
        Memo(study=study, author=author, text="What the study is after, in one note."),
        Memo(study=study, author=author, document=outcomes[0].document, text="A lively session."),
        Memo(study=study, author=coders[0], code=codes[0], text="Where this code begins."),
    ] + [
        Memo(study=study, author=coding.coder, coding=coding, text=f"Why I coded this ({n}).")
        for n, coding in enumerate(some, start=1)
    ]
    Memo.objects.bulk_create(memos)
    assert len(created) == codings


def timed(
    action: Callable[[object], object], runs: int, prepare: Callable[[], object] = lambda: None
) -> tuple[float, int, object]:
    """Median seconds over `runs` of `action(prepare())` (`prepare` untimed), the queries of
    the last run, and its result."""
    times = []
    for _ in range(runs):
        ready = prepare()
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            result = action(ready)
            times.append(time.perf_counter() - started)
    return statistics.median(times), len(queries), result


def forget_imports() -> None:
    """Remove the studies imported into and the accounts the imports made, so that every
    import meets the same database."""
    Study.objects.filter(slug__startswith="bench-qdpx-in-").delete()
    User.objects.filter(username__startswith="bench-qdpx-").exclude(
        username__in=(OWNER, *CODERS)
    ).delete()


def main(sizes: tuple[int, ...]) -> None:
    call_command("migrate", verbosity=0)
    print(
        f"{'what':<10}{'codings':>9}{'documents':>11}{'median s':>10}{'queries':>9}"
        f"{'file MB':>9}  result"
    )
    for size in sizes:
        runs = 3 if size <= 10_000 else 1
        source = empty_study(f"bench-qdpx-{size}")
        populate(source, size)
        seconds, queries, (data, counts) = timed(lambda _r, s=source: write_qdpx(s), runs)
        megabytes = len(data) / 1048576
        row = f"{size:>9,}{counts.sources:>11}"
        print(
            f"{'export':<10}{row}{seconds:>10.2f}{queries:>9}{megabytes:>9.1f}  "
            f"{counts.codings:,} codings, {counts.selections:,} selections"
        )

        def fresh(size: int = size) -> Study:
            forget_imports()
            return empty_study(f"bench-qdpx-in-{size}")

        def into(target: Study, data: bytes = data) -> Study:
            import_qdpx(study=target, filename="bench.qdpx", data=data, user=owner())
            return target

        seconds, queries, target = timed(into, runs, fresh)
        imported = Coding.objects.filter(document__study=target).count()
        print(
            f"{'import':<10}{row}{seconds:>10.2f}{queries:>9}{megabytes:>9.1f}  "
            f"{imported:,} codings in the study"
        )
        seconds, queries, plan = timed(
            lambda _r, t=target, d=data: import_qdpx(
                study=t, filename="bench.qdpx", data=d, user=owner()
            ),
            3,
        )
        print(
            f"{'re-import':<10}{row}{seconds:>10.2f}{queries:>9}{megabytes:>9.1f}  "
            f"{plan.summary().split(':')[0]}"
        )
        forget_imports()
        source.delete()
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {connection.vendor}.")


if __name__ == "__main__":
    main(tuple(int(arg.replace(",", "").replace("_", "")) for arg in sys.argv[1:]) or SIZES)
