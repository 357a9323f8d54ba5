"""A page per participant: their variables (owners edit them, typed as the roster's), every
turn they spoke, and the codings on their words as the viewer may see them (blind coding
included); the participants list links there and filters by workshop and variable value."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.urls import reverse

from coding.models import Code, Coding
from studies.models import Document, Participant, ParticipantValue, Study, Variable
from studies.services import import_roster
from tests.helpers import client_for


def page_of(participant: Participant) -> str:
    return reverse("studies:participant", args=[participant.study.slug, participant.pk])


def code_words(document: Document, code: Code, coder: User, words: str) -> Coding:
    start = document.text.index(words)
    return Coding.objects.create(
        document=document, code=code, coder=coder, start=start, end=start + len(words)
    )


def test_the_page_shows_variables_turns_with_links_and_the_codings_on_their_words(
    document: Document, codes: dict[str, Code], people: dict[str, User]
) -> None:
    eero = document.study.participants.get(code="P02")
    code_words(document, codes["negotiability"], people["bob"], "samaa mieltä")
    code_words(document, codes["explainability"], people["bob"], "selittää")  # Aino's words
    page = client_for(people["victor"]).get(page_of(eero)).content.decode()
    assert "Participant P02" in page and "FI-1" in page and "Eero" in page
    assert "18-29" in page and "man" in page
    # His turn (two lines), linked to its place in the transcript.
    [turn] = eero.turns.all()
    assert f"{document.get_absolute_url()}#turn-{turn.seq}" in page
    assert "Olen samaa mieltä." in page
    assert "Tärkeintä on, että päätöksestä voi valittaa." in page
    # The coding on his words, and not the one on Aino's.
    assert "Codings on P02&#x27;s words" in page
    assert "Concept/negotiability" in page and "samaa mieltä" in page
    assert "Concept/explainability" not in page


def test_with_blind_coding_a_coder_sees_only_their_own_codings_on_the_page(
    document: Document, codes: dict[str, Code], people: dict[str, User]
) -> None:
    study = document.study
    study.blind_coding = True
    study.save()
    eero = study.participants.get(code="P02")
    code_words(document, codes["negotiability"], people["alice"], "samaa mieltä")
    code_words(document, codes["explainability"], people["bob"], "Tärkeintä")
    as_bob = client_for(people["bob"]).get(page_of(eero)).content.decode()
    assert "Concept/explainability" in as_bob
    assert "Concept/negotiability" not in as_bob and "samaa mieltä</td>" not in as_bob
    assert "your own codings only" in as_bob
    as_owner = client_for(people["alice"]).get(page_of(eero)).content.decode()
    assert "Concept/negotiability" in as_owner and "Concept/explainability" in as_owner


def test_the_owner_edits_variables_typed_as_the_roster_and_the_number_follows(
    roster_study: Study, people: dict[str, User]
) -> None:
    study = roster_study
    age = Variable.objects.create(study=study, name="age", kind="number", order=5)
    notes = Variable.objects.create(study=study, name="notes", kind="text", order=6)
    aino = study.participants.get(code="P01")
    band = study.variables.get(name="age band")
    owner = client_for(people["alice"])
    form = {
        "aliases": "Aino, A.",
        f"var_{band.pk}": "18-29",
        f"var_{age.pk}": "34,5",
        f"var_{notes.pk}": "Came late",
        f"var_{study.variables.get(name='gender').pk}": "",
    }
    response = owner.post(page_of(aino), form, follow=True)
    assert "Saved P01&#x27;s variables." in response.content.decode()
    values = {v.variable.name: (v.value, v.number) for v in aino.values.select_related("variable")}
    assert values == {
        "age band": ("18-29", None),
        "age": ("34,5", 34.5),
        "notes": ("Came late", None),
    }
    aino.refresh_from_db()
    assert aino.aliases == "Aino, A."

    refused = owner.post(page_of(aino), form | {f"var_{age.pk}": "old", f"var_{band.pk}": "90+"})
    text = refused.content.decode()
    assert "&#x27;old&#x27; is not a number." in text
    assert "90+ is not one of the available choices" in text
    assert ParticipantValue.objects.get(participant=aino, variable=age).number == 34.5


def test_only_owners_edit_and_outsiders_find_nothing(
    roster_study: Study, people: dict[str, User]
) -> None:
    aino = roster_study.participants.get(code="P01")
    band = roster_study.variables.get(name="age band")
    assert client_for(None).get(page_of(aino)).status_code == 302
    assert client_for(people["mallory"]).get(page_of(aino)).status_code == 404
    viewer = client_for(people["victor"])
    assert 'name="aliases"' not in viewer.get(page_of(aino)).content.decode()
    assert viewer.post(page_of(aino), {f"var_{band.pk}": "18-29"}).status_code == 403
    assert client_for(people["bob"]).post(page_of(aino), {}).status_code == 403
    assert ParticipantValue.objects.get(participant=aino, variable=band).value == "30-44"
    other = reverse("studies:participant", args=[roster_study.slug, 999999])
    assert client_for(people["alice"]).get(other).status_code == 404


def test_the_list_links_to_each_page_and_filters_by_workshop_and_variable_value(
    roster_study: Study, people: dict[str, User]
) -> None:
    url = reverse("studies:participants", args=[roster_study.slug])
    client = client_for(people["victor"])
    everyone = client.get(url).content.decode()
    for participant in roster_study.participants.all():
        assert f'href="{page_of(participant)}"' in everyone
    gender = roster_study.variables.get(name="gender")
    women = client.get(url, {"where": f"{gender.pk}=woman"})
    assert [p.code for p, _values in women.context["rows"]] == ["P01", "P03", "P04"]
    assert f'value="{gender.pk}=woman" selected' in women.content.decode()
    finnish_women = client.get(url, {"where": f"{gender.pk}=woman", "workshop": "FI-1"})
    assert [p.code for p, _values in finnish_women.context["rows"]] == ["P01", "P03"]
    nobody = client.get(url, {"where": f"{gender.pk}=nobody"}).content.decode()
    assert "Nobody with gender = nobody" in nobody and "show everyone" in nobody


def test_a_panel_provider_adds_a_section_to_the_page(
    roster_study: Study, people: dict[str, User]
) -> None:
    from studies.views import PARTICIPANT_PANELS

    assert any(p.__module__ == "coding.views.participant" for p in PARTICIPANT_PANELS)
    import_roster(study=roster_study, filename="r.csv", data=b"participant,workshop\nP09,GB-1\n")
    page = client_for(people["alice"]).get(page_of(roster_study.participants.get(code="P09")))
    text = page.content.decode()
    assert "Nothing P09 said is coded yet" in text
    assert "P09 speaks in no transcript yet" in text
