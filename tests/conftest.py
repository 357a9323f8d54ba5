"""Shared fixtures: a study with named people, as in the tests of projects we learn from.

Alice owns the study, Bob codes in it, Victor views it, and Mallory is a user of the site who is
not a member (an outsider).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User

from studies.models import Membership, Study
from studies.services import import_roster

INTEROP = Path(__file__).resolve().parents[1].parent / "shared" / "interop"

ROSTER = """participant,workshop,country,site,date,language,facilitators,aliases,age band,gender
P01,FI-1,FI,Helsinki,2025-03-12,fi,Fasilitaattori,Aino,30-44,woman
P02,FI-1,FI,Helsinki,2025-03-12,fi,Fasilitaattori,Eero,18-29,man
P03,FI-1,FI,Helsinki,2025-03-12,fi,Fasilitaattori,Helmi,45-59,woman
P04,GB-1,GB,Manchester,2025-05-08,en-GB,,"Amara; Dr. Okafor",30-44,woman
P05,GB-1,GB,Manchester,2025-05-08,en-GB,,Callum,60+,man
"""


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
