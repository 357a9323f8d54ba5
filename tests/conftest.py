"""Shared fixtures: a study with named people, as in the tests of projects we learn from.

Alice owns the study, Bob codes in it, Victor views it, and Mallory is a user of the site who is
not a member (an outsider). On top of the study: its Finnish transcript (`document`), a small
codebook (`codes`), the hand-built hiring session that two coders disagree on (`case`), and the
demo study (`demo`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from coding.models import Code, Coding
from coding.services import create_code
from studies.models import Document, Membership, Sentence, Study, Turn
from studies.services import import_roster, import_transcripts
from tests.test_transcript_import import FI_TXT

INTEROP = Path(__file__).resolve().parents[1].parent / "shared" / "interop"

ROSTER = """participant,workshop,country,site,date,language,facilitators,aliases,age band,gender
P01,FI-1,FI,Helsinki,2025-03-12,fi,Fasilitaattori,Aino,30-44,woman
P02,FI-1,FI,Helsinki,2025-03-12,fi,Fasilitaattori,Eero,18-29,man
P03,FI-1,FI,Helsinki,2025-03-12,fi,Fasilitaattori,Helmi,45-59,woman
P04,GB-1,GB,Manchester,2025-05-08,en-GB,,"Amara; Dr. Okafor",30-44,woman
P05,GB-1,GB,Manchester,2025-05-08,en-GB,,Callum,60+,man
"""

DEMO_PASSWORD = "demo-pass-123"


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """On PostgreSQL, the test connection commits without waiting for the disk: a throwaway
    database loses nothing that matters, and the tests that commit (live servers, flushes
    after transactional tests) stop waiting on fsync. The suite's second processes (a worker,
    gunicorn) connect as a server does."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.postgresql":
        database.setdefault("OPTIONS", {})["options"] = "-c synchronous_commit=off"


@pytest.fixture(autouse=True)
def media_root(settings: object, tmp_path: Path) -> Path:
    """Uploaded media (recordings) go to a folder of the test's own, never the project's."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def people(db: None) -> dict[str, User]:
    return {
        name: User.objects.create_user(name, f"{name}@example.org", "pw-" + name)
        for name in ("alice", "bob", "victor", "mallory")
    }


@pytest.fixture
def study(people: dict[str, User]) -> Study:
    study = Study.objects.create(slug="adm", name="Algorithmic decision-making")
    Membership.objects.create(study=study, user=people["alice"], role="owner")
    Membership.objects.create(study=study, user=people["bob"], role="coder")
    Membership.objects.create(study=study, user=people["victor"], role="viewer")
    return study


@pytest.fixture
def roster_study(study: Study) -> Study:
    """The study with two workshops (FI-1, GB-1) and five participants."""
    import_roster(study=study, filename="roster.csv", data=ROSTER.encode())
    return study


@pytest.fixture
def document(roster_study: Study) -> Document:
    """FI-1's transcript, imported with its turns and sentences."""
    fi = roster_study.workshops.get(code="FI-1")
    [outcome] = import_transcripts(
        study=roster_study, workshop=fi, files=[("FI-1.txt", FI_TXT.encode())]
    )
    return outcome.document


@pytest.fixture
def codes(roster_study: Study) -> dict[str, Code]:
    """The dimension Concept with two codable children: negotiability, described (a definition,
    rules and an example), and explainability, bare."""
    concept = create_code(study=roster_study, name="Concept", codable=False)
    return {
        "concept": concept,
        "negotiability": create_code(
            study=roster_study,
            name="negotiability",
            parent=concept,
            definition="Working flexibly around a decision-maker.",
            inclusion="Arguing, appealing, bargaining.",
            exclusion="A wish for reasons alone.",
            example="I want to negotiate the outcome.",
        ),
        "explainability": create_code(study=roster_study, name="explainability", parent=concept),
    }


@pytest.fixture
def demo(db: None) -> Study:
    """The demo study (Alice owns it, Bob and Chloe code, Victor views; every password is
    DEMO_PASSWORD), and Mallory, a user of the site who is not a member."""
    call_command("load_demo", "--password", DEMO_PASSWORD, stdout=io.StringIO())
    User.objects.create_user("mallory", password="pw-mallory")
    return Study.objects.get(slug="demo")


# The hiring session -------------------------------------------------------------------------------
#
# Two turns, four sentences, coded by Bob (coder A) and Carol (coder B); Alice, the owner,
# adjudicates. Who applied what, sentence by sentence:
#
#     s1 "I want a person."          negotiability: Bob "a person", Carol "want a person" (agree)
#     s2 "A machine never listens."  accuracy: Bob "machine never" only
#     s3 "It was accurate."          accuracy: Carol "accurate" only; negotiability: Bob only
#     s4 "Nobody wants a guess."     negotiability: Bob only (his coding runs on from s3);
#                                    explainability: Bob "Nobody wants", Carol "wants a guess."
#                                    (agree)

HIRING_TEXT = "I want a person. A machine never listens.\nIt was accurate. Nobody wants a guess.\n"
HIRING_SENTENCES = [
    "I want a person.",
    "A machine never listens.",
    "It was accurate.",
    "Nobody wants a guess.",
]


@dataclass
class Case:
    document: Document
    bob: User
    carol: User
    alice: User
    units: list[tuple[int, int]]  # the four sentences
    codes: dict[str, Code]

    def unit(self, n: int) -> tuple[int, int]:
        return self.units[n - 1]


def hiring_span(words: str, after: int = 0) -> tuple[int, int]:
    start = HIRING_TEXT.index(words, after)
    return start, start + len(words)


@pytest.fixture
def case(study: Study, people: dict[str, User]) -> Case:
    """The hiring session described above; Carol joins the study as a coder."""
    carol = User.objects.create_user("carol", "carol@example.org", "pw-carol")
    Membership.objects.create(study=study, user=carol, role="coder")
    document = Document.objects.create(study=study, title="Hiring session", text=HIRING_TEXT)
    units = [hiring_span(sentence) for sentence in HIRING_SENTENCES]
    for seq, (start, end) in enumerate(units, start=1):
        Sentence.objects.create(document=document, seq=seq, start=start, end=end)
    first_line = HIRING_TEXT.index("\n")
    Turn.objects.create(document=document, seq=1, speaker="Aino", start=0, end=first_line)
    Turn.objects.create(
        document=document, seq=2, speaker="Eero", start=first_line + 1, end=len(HIRING_TEXT) - 1
    )
    codes = {
        name: Code.objects.create(study=study, name=name, order=order)
        for order, name in enumerate(["negotiability", "accuracy", "explainability", "humanity"])
    }
    bob = people["bob"]
    for coder, code, words in [
        (bob, "negotiability", "a person"),
        (carol, "negotiability", "want a person"),
        (bob, "accuracy", "machine never"),
        (carol, "accuracy", "accurate"),
        (bob, "negotiability", "It was accurate. Nobody"),
        (bob, "explainability", "Nobody wants"),
        (carol, "explainability", "wants a guess."),
    ]:
        start, end = hiring_span(words)
        Coding.objects.create(
            document=document, code=codes[code], coder=coder, start=start, end=end
        )
    return Case(document, bob, carol, people["alice"], units, codes)


@pytest.fixture
def interop() -> Path:
    if not INTEROP.is_dir():
        pytest.skip("../shared/interop/ is absent (it ships beside CI, not in a clone)")
    return INTEROP


@pytest.fixture(autouse=True)
def plain_static_storage(settings) -> None:
    """Production serves hashed static files after collectstatic; tests read them from the
    source folders instead."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:
    # Production hashes slowly on purpose; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
