"""The demo study's workshop data, written for Colloquy: a roster of sixty participants in five
workshops (Finland, Germany, the UK and the US) and their transcripts in four formats, so that
the demo also shows what each importer reads. `manage.py load_demo` adds the codebook, the
coders and their codings (coding.demo) on top."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from studies.models import Study
from studies.services import describe_outcomes, import_roster, import_transcripts

DEMO_DIR = Path(__file__).resolve().parent
TRANSCRIPTS = {
    "FI-1": "FI-1.txt",
    "DE-1": "DE-1.vtt",
    "GB-1": "GB-1.srt",
    "US-1": "US-1.txt",
    "US-2": "US-2.md",
}


def load_workshops(study: Study, say: Callable[[str], object]) -> None:
    """Import the roster and every transcript; importing them again changes nothing."""
    roster = DEMO_DIR / "roster.csv"
    plan = import_roster(study=study, filename=roster.name, data=roster.read_bytes())
    say(plan.summary())
    for code, filename in TRANSCRIPTS.items():
        path = DEMO_DIR / filename
        outcomes = import_transcripts(
            study=study,
            workshop=study.workshops.get(code=code),
            files=[(path.name, path.read_bytes())],
        )
        say(f"{code}: {describe_outcomes(outcomes)}")
