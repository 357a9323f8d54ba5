"""A roster that gives no language for a new workshop: the preview asks for one (the study's
first language suggested) instead of silently choosing English, and the import uses the
answer; the API needs a `language` and names the workshops when it is missing."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from studies.models import PendingImport, Study
from studies.services import LanguageNeeded, apply_roster, plan_roster
from tests.helpers import client_for

NO_LANGUAGE = b"participant,workshop,country\nP01,DE-1,DE\nP02,DE-1,DE\nP03,AT-1,AT\n"


@pytest.fixture
def german_study(study: Study) -> Study:
    study.languages = "de, en"
    study.save()
    return study


def test_applying_a_plan_without_a_needed_language_is_refused(german_study: Study) -> None:
    plan = plan_roster(study=german_study, filename="r.csv", data=NO_LANGUAGE)
    assert plan.workshops_need_language == ["DE-1", "AT-1"]
    with pytest.raises(LanguageNeeded, match="DE-1, AT-1"):
        apply_roster(study=german_study, plan=plan)
    assert not german_study.workshops.exists()
    apply_roster(study=german_study, plan=plan, language="de-AT")
    assert set(german_study.workshops.values_list("language", flat=True)) == {"de-AT"}


def test_the_preview_asks_for_the_language_suggesting_the_studys_first(
    german_study: Study, people: dict[str, User]
) -> None:
    owner = client_for(people["alice"])
    upload = SimpleUploadedFile("roster.csv", NO_LANGUAGE, content_type="text/csv")
    response = owner.post(
        reverse("studies:import", args=[german_study.slug]), {"roster": "1", "r-file": upload}
    )
    review = response["Location"]
    page = owner.get(review).content.decode()
    assert "The roster gives no language for DE-1, AT-1" in page
    assert '<label for="id_language">Language of these workshops</label>' in page
    assert '<option value="de" selected>German (de)</option>' in page
    owner.post(review, {"confirm": "1", "language": "fr"})
    assert set(german_study.workshops.values_list("language", flat=True)) == {"fr"}
    assert not PendingImport.objects.exists()


def test_a_roster_that_names_its_languages_is_not_asked(
    roster_study: Study, people: dict[str, User]
) -> None:
    from tests.conftest import ROSTER

    changed = ROSTER.replace("Helsinki", "Espoo").encode()
    upload = SimpleUploadedFile("roster.csv", changed, content_type="text/csv")
    owner = client_for(people["alice"])
    response = owner.post(
        reverse("studies:import", args=[roster_study.slug]), {"roster": "1", "r-file": upload}
    )
    page = owner.get(response["Location"]).content.decode()
    assert "Language of these workshops" not in page


def test_the_api_needs_a_language_and_names_the_workshops(
    german_study: Study, people: dict[str, User]
) -> None:
    url = f"/api/v1/studies/{german_study.slug}/imports/roster/"
    owner = client_for(people["alice"])
    preview = owner.post(url, {"file": SimpleUploadedFile("r.csv", NO_LANGUAGE)})
    assert preview.json()["workshops_need_language"] == ["DE-1", "AT-1"]
    refused = owner.post(url, {"file": SimpleUploadedFile("r.csv", NO_LANGUAGE), "confirm": "1"})
    assert refused.status_code == 400
    assert "DE-1, AT-1" in refused.json()["language"][0]
    assert not german_study.workshops.exists()
    bad = owner.post(
        url, {"file": SimpleUploadedFile("r.csv", NO_LANGUAGE), "confirm": "1", "language": "?"}
    )
    assert bad.status_code == 400
    done = owner.post(
        url, {"file": SimpleUploadedFile("r.csv", NO_LANGUAGE), "confirm": "1", "language": "de"}
    )
    assert done.status_code == 200 and done.json()["applied"] is True
    assert set(german_study.workshops.values_list("language", flat=True)) == {"de"}


def test_the_command_uses_the_option_or_else_the_studys_first_language(
    german_study: Study, tmp_path: object
) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_bytes(NO_LANGUAGE)
    call_command("import_roster", "--study", german_study.slug, str(roster), stdout=io.StringIO())
    assert set(german_study.workshops.values_list("language", flat=True)) == {"de"}
