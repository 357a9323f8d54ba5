"""Agreement on hand-built codings whose kappa is known on paper, from the command and the API."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from coding.models import Code, Coding
from coding.reliability import compare_coders, compute_reliability, presence_blocks
from studies.models import Document, Study
from studies.services import import_transcripts

TEN_SENTENCES = (
    "Fasilitaattori: Aloitetaan.\n\n"
    "Aino: Yksi. Kaksi. Kolme. Neljä. Viisi. Kuusi. Seitsemän. Kahdeksan. Yhdeksän.\n"
)


@pytest.fixture
def ten_sentences(roster_study: Study) -> Document:
    fi = roster_study.workshops.get(code="FI-1")
    [outcome] = import_transcripts(
        study=roster_study, workshop=fi, files=[("ten.txt", TEN_SENTENCES.encode())]
    )
    return outcome.document


@pytest.fixture
def rated_codes(roster_study: Study) -> dict[str, Code]:
    """Two concepts: the pooled figures count exactly two codes per unit."""
    concept = Code.objects.create(study=roster_study, name="Concept", codable=False)
    return {
        name: Code.objects.create(study=roster_study, parent=concept, name=name)
        for name in ("negotiability", "humanity")
    }


def code_sentences(document: Document, code: Code, coder: User, numbers: list[int]) -> None:
    sentences = list(document.sentences.order_by("seq"))
    for n in numbers:
        sentence = sentences[n - 1]
        Coding.objects.create(
            document=document, code=code, coder=coder, start=sentence.start, end=sentence.end
        )


@pytest.fixture
def known_case(
    ten_sentences: Document, rated_codes: dict[str, Code], people: dict[str, User]
) -> Document:
    """Ten sentences. Bob codes negotiability on 2-5, Alice on 2-4 and 6-7: they agree on 7 of
    10 (po = .7); Bob says yes 4 times, Alice 5 (pe = .4 x .5 + .6 x .5 = .5); kappa = .4."""
    assert ten_sentences.sentences.count() == 10
    code_sentences(ten_sentences, rated_codes["negotiability"], people["bob"], [2, 3, 4, 5])
    code_sentences(ten_sentences, rated_codes["negotiability"], people["alice"], [2, 3, 4, 6, 7])
    return ten_sentences


def test_the_known_kappa_comes_out_of_the_computation(known_case: Document) -> None:
    report = compute_reliability(known_case.study)

    assert report.coders == ["alice", "bob"]
    negotiability = next(c for c in report.codes if c.path == "Concept/negotiability")
    assert negotiability.units == 10
    assert negotiability.coded_units == 6
    assert negotiability.percent_agreement == pytest.approx(0.7)
    assert negotiability.cohen_kappa == pytest.approx(0.4)
    humanity = next(c for c in report.codes if c.path == "Concept/humanity")
    assert humanity.cohen_kappa is None
    assert humanity.percent_agreement == 1.0
    # Pooled over 20 (unit, code) decisions: agree on 17; yes rates .2 and .25.
    assert report.overall.units == 20
    assert report.overall.percent_agreement == pytest.approx(17 / 20)
    expected = 0.2 * 0.25 + 0.8 * 0.75
    assert report.overall.cohen_kappa == pytest.approx((0.85 - expected) / (1 - expected))


def test_the_reliability_command_prints_the_design_json(known_case: Document) -> None:
    out = io.StringIO()
    call_command("reliability", "--study", "adm", "--format", "json", stdout=out)

    data = json.loads(out.getvalue())
    assert data["unit"] == "sentence"
    assert data["coders"] == ["alice", "bob"]
    assert set(data["overall"]) >= {"percent_agreement", "cohen_kappa", "krippendorff_alpha"}
    row = next(c for c in data["codes"] if c["code"] == "Concept/negotiability")
    assert row["units"] == 10
    assert row["percent_agreement"] == pytest.approx(0.7)
    assert row["cohen_kappa"] == pytest.approx(0.4)
    assert isinstance(row["krippendorff_alpha"], float)


def test_the_reliability_command_prints_a_table(known_case: Document) -> None:
    out = io.StringIO()
    call_command("reliability", "--study", "adm", "--coders", "bob,alice", stdout=out)
    table = out.getvalue()
    assert "Unit: sentence; coders: bob, alice; documents: 1" in table
    assert "Concept/negotiability" in table
    assert "0.700   0.400" in table


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--study", "nope"], "--study 'nope': no such study"),
        (["--study", "adm", "--coders", "bob,zed"], "--coders: no such user: zed"),
        (["--study", "adm", "--coders", "bob,mallory"], "--coders: not a member of adm: mallory"),
        (["--study", "adm", "--coders", "bob"], "agreement needs two or more coders; found: bob"),
    ],
)
def test_the_reliability_command_refuses_bad_input(known_case, args, message) -> None:
    with pytest.raises(CommandError) as excinfo:
        call_command("reliability", *args, stdout=io.StringIO())
    assert str(excinfo.value) == message


def test_turn_and_character_units(known_case: Document) -> None:
    by_turn = compute_reliability(known_case.study, unit="turn")
    negotiability = next(c for c in by_turn.codes if c.path == "Concept/negotiability")
    # Two turns: the facilitator's (nobody coded) and Aino's (both coded).
    assert negotiability.units == 2
    assert negotiability.percent_agreement == 1.0
    by_character = compute_reliability(known_case.study, unit="character")
    row = next(c for c in by_character.codes if c.path == "Concept/negotiability")
    assert row.units == len(known_case.text)


def test_a_coder_who_never_saw_a_document_is_missing_not_disagreeing(
    known_case: Document, roster_study: Study, people: dict[str, User], rated_codes
) -> None:
    fi = roster_study.workshops.get(code="FI-1")
    [other] = import_transcripts(
        study=roster_study, workshop=fi, files=[("other.txt", TEN_SENTENCES.encode())]
    )
    code_sentences(other.document, rated_codes["negotiability"], people["bob"], [1])
    report = compute_reliability(roster_study)
    row = next(c for c in report.codes if c.path == "Concept/negotiability")
    assert row.units == 20
    # Alice has no judgement on the second document: percent agreement and kappa use the first.
    assert row.percent_agreement == pytest.approx(0.7)
    assert row.cohen_kappa == pytest.approx(0.4)


def test_the_api_gives_the_same_numbers(known_case: Document, people: dict[str, User]) -> None:
    client = Client()
    client.force_login(people["victor"])
    response = client.get("/api/v1/studies/adm/reliability/", {"unit": "sentence"})
    assert response.status_code == 200
    row = next(c for c in response.json()["codes"] if c["code"] == "Concept/negotiability")
    assert row["cohen_kappa"] == pytest.approx(0.4)
    outsider = Client()
    outsider.force_login(people["mallory"])
    assert outsider.get("/api/v1/studies/adm/reliability/").status_code == 404
    assert client.get("/api/v1/studies/adm/reliability/", {"unit": "page"}).status_code == 400


def test_blind_coding_keeps_reliability_from_coders_in_the_api(
    known_case: Document, people: dict[str, User]
) -> None:
    Study.objects.filter(pk=known_case.study_id).update(blind_coding=True)
    bob = Client()
    bob.force_login(people["bob"])
    assert bob.get("/api/v1/studies/adm/reliability/").status_code == 403
    alice = Client()
    alice.force_login(people["alice"])
    assert alice.get("/api/v1/studies/adm/reliability/").status_code == 200
    # A viewer reads every layer anyway, so the figures hide nothing from them (as on the page).
    victor = Client()
    victor.force_login(people["victor"])
    assert victor.get("/api/v1/studies/adm/reliability/").status_code == 200


def test_comparing_two_coders_lists_every_unit(known_case, people, rated_codes) -> None:
    rows = compare_coders(known_case, people["bob"], people["alice"])
    assert len(rows) == 10
    assert [r.differs for r in rows] == [False, False, False, False, True, True, True] + [False] * 3
    assert rows[4].a == {rated_codes["negotiability"].pk} and rows[4].b == set()


def test_presence_is_right_for_a_coding_spanning_several_units(
    known_case, people, rated_codes
) -> None:
    sentences = list(known_case.sentences.order_by("seq"))
    Coding.objects.create(
        document=known_case,
        code=rated_codes["humanity"],
        coder=people["bob"],
        start=sentences[7].start + 2,
        end=sentences[8].start + 1,
    )
    [block] = presence_blocks([known_case], [people["bob"]], [rated_codes["humanity"]], "sentence")
    assert block.shape == (1, 1, 10)
    assert np.flatnonzero(block[0, 0]).tolist() == [7, 8]


def test_the_reliability_page_shows_the_same_kappa(
    known_case: Document, people: dict[str, User]
) -> None:
    client = Client()
    client.force_login(people["alice"])
    response = client.get(reverse("coding:reliability", args=["adm"]), {"unit": "sentence"})
    assert response.status_code == 200
    html = response.content.decode()
    row = html[html.index("Concept/negotiability") :]
    row = row[: row.index("</tr>")]
    assert "0.700" in row
    assert "0.400" in row
