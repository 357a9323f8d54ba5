"""A participant withdraws (studies.withdrawal): their speech is redacted in place, so that every
other coding keeps its positions and its text; their variables, survey answers, links and survey
texts are deleted; analyses and exports leave them out; and no import brings them back.

The study: FI-1's transcript (a facilitator, Aino = P01, Eero = P02 over two lines, P03) coded by
Alice and Bob; Aino (P01) withdraws.
"""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.urls import reverse
from lxml import etree

from coding.models import Code, Coding
from coding.services import CodingSpan, apply_codings
from exports.frame import analysis_frame, roster_frame
from exports.qdpx import write_qdpx
from exports.tables import build_table
from studies.importers import FileRejected
from studies.models import (
    AuditEvent,
    Document,
    Participant,
    ParticipantValue,
    Pseudonym,
    Study,
)
from studies.services import StudyError, import_roster, import_transcripts, update_participant
from studies.withdrawal import (
    REDACTION_MARK,
    WithdrawalRefused,
    withdraw_participant,
    withdrawal_preview,
)
from surveys.distribution import create_links
from surveys.models import Answer, Invitation, Response
from surveys.responses_import import import_responses
from surveys.services import publish_text_answers
from tests.conftest import ROSTER
from tests.helpers import client_for
from tests.test_survey_documents import STORY, submitted
from tests.test_survey_documents import survey as survey  # a fixture
from tests.test_transcript_import import FI_TXT, GB_SRT, GB_VTT


def withdraw_url(study: Study, code: str) -> str:
    return f"/api/v1/studies/{study.slug}/participants/{code}/withdraw/"


@pytest.fixture
def coded(roster_study: Study, people: dict[str, User]) -> dict:
    """FI-1's transcript with Alice's and Bob's codings on everyone's words, and across turns."""
    fi = roster_study.workshops.get(code="FI-1")
    [outcome] = import_transcripts(
        study=roster_study, workshop=fi, files=[("FI-1.txt", FI_TXT.encode())]
    )
    document = outcome.document
    concept = Code.objects.create(study=roster_study, name="Concept", codable=False)
    explain = Code.objects.create(study=roster_study, parent=concept, name="explainability")
    appeal = Code.objects.create(study=roster_study, parent=concept, name="negotiability", order=1)
    turns = {t.participant.code if t.participant else "F": t for t in document.turns.all()}
    text = document.text

    def at(words: str) -> tuple[int, int]:
        start = text.index(words)
        return start, start + len(words)

    spans = {
        "alice": [
            (explain, turns["P01"].start, turns["P01"].end),  # all of Aino's turn
            (explain, *at("selittää päätöksensä")),  # inside Aino's turn
            (appeal, *at("voi valittaa")),  # Eero's second line
            (appeal, *at("Olen samaa mieltä.")),  # Eero
            (explain, turns["F"].start, turns["F"].end),  # the facilitator
            (appeal, at("luottaa.")[0], at("Olen samaa")[1]),  # from Aino's turn into Eero's
        ],
        "bob": [
            (explain, *at("Minusta algoritmin")),  # Aino
            (appeal, turns["P02"].start, turns["P02"].end),  # Eero's turn
            (appeal, *at("ihminen on vielä puolueellisempi")),  # P03
            (explain, 0, len(text)),  # the whole text
            (appeal, *at("Työpaja FI-1")),  # the heading, nobody's turn
        ],
    }
    for name, coder_spans in spans.items():
        apply_codings(
            user=people[name],
            spans=[CodingSpan(document.pk, code.pk, s, e) for code, s, e in coder_spans],
            study=roster_study,
        )
    aino = turns["P01"]
    label = text.rindex("Aino", 0, aino.start)
    return {
        "study": roster_study,
        "document": document,
        "p01": Participant.objects.get(study=roster_study, code="P01"),
        # What Aino's withdrawal redacts: her label ("Aino") and her turn.
        "withdrawn": [(label, label + len("Aino")), (aino.start, aino.end)],
    }


def overlaps(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(s < end and start < e for s, e in spans)


def excerpts(document: Document) -> dict[int, tuple[int, int, str]]:
    text = Document.objects.get(pk=document.pk).text
    return {c.pk: (c.start, c.end, text[c.start : c.end]) for c in document.codings.all()}


# --- The text -------------------------------------------------------------------------------


def test_withdrawal_keeps_every_other_codings_text_identical(coded: dict) -> None:
    document = coded["document"]
    before_doc = Document.objects.get(pk=document.pk)
    before = excerpts(document)
    sentences = list(document.sentences.values_list("seq", "start", "end"))
    turns = list(document.turns.values_list("seq", "start", "end", "participant__code"))
    withdrawn = coded["withdrawn"]

    withdraw_participant(participant=coded["p01"], confirmation="P01")

    after_doc = Document.objects.get(pk=document.pk)
    after = excerpts(document)
    assert after.keys() == before.keys()
    untouched = [pk for pk, (s, e, _t) in before.items() if not overlaps(s, e, withdrawn)]
    touched = [pk for pk in before if pk not in untouched]
    assert len(untouched) >= 6 and len(touched) >= 4  # the fixture covers both kinds
    for pk in untouched:
        assert after[pk] == before[pk], f"coding {pk} changed"
    for pk in touched:
        start, end, text = after[pk]
        assert (start, end) == before[pk][:2]
        assert REDACTION_MARK in text
    # Character by character: only Aino's label and turn change, whitespace aside.
    for i, (old, new) in enumerate(zip(before_doc.text, after_doc.text, strict=True)):
        if overlaps(i, i + 1, withdrawn):
            assert new == (old if old.isspace() else REDACTION_MARK)
        else:
            assert new == old, i
    assert "Aino" not in after_doc.text and "Minusta" not in after_doc.text
    assert after_doc.text_length == before_doc.text_length == len(after_doc.text)
    assert after_doc.text.count("\n") == before_doc.text.count("\n")
    assert after_doc.sha256 != before_doc.sha256
    aino_said = (
        "Minusta algoritmin pitäisi osata selittää päätöksensä. Muuten siihen ei voi luottaa."
    )
    assert after_doc.word_count == before_doc.word_count - len(aino_said.split()) - 1  # and "Aino"
    assert list(document.sentences.values_list("seq", "start", "end")) == sentences
    assert list(document.turns.values_list("seq", "start", "end", "participant__code")) == turns
    assert set(
        document.turns.filter(participant__code="P01").values_list("speaker", flat=True)
    ) == {"P01"}


def test_the_participant_loses_names_and_variables_and_the_event_is_recorded(coded: dict) -> None:
    p01 = coded["p01"]
    assert p01.aliases == "Aino" and ParticipantValue.objects.filter(participant=p01).count() == 2
    study = coded["study"]
    for original, replacement in [("Aino", "[P01]"), ("Ainon", "[P01]"), ("Eero", "[P02]")]:
        Pseudonym.objects.create(
            study=study, kind="participant", original=original, replacement=replacement
        )
    summary = withdraw_participant(participant=p01, confirmation="P01")
    p01.refresh_from_db()
    assert p01.withdrawn_at is not None and p01.aliases == ""
    assert not ParticipantValue.objects.filter(participant=p01).exists()
    assert ParticipantValue.objects.filter(participant__code="P02").count() == 2
    assert (summary.turns, summary.labels, summary.values, summary.pseudonyms) == (1, 1, 2, 2)
    assert list(Pseudonym.objects.values_list("original", flat=True)) == ["Eero"]
    assert summary.documents == ["FI-1"]
    assert summary.attached == {"codings": 5}
    event = AuditEvent.objects.get(action=AuditEvent.Action.WITHDRAWAL)
    assert event.study == coded["study"] and event.via == "command"
    assert event.summary.startswith("P01 withdrew: redacted 1 turn in 1 document")
    assert event.details["turns"] == 1 and event.details["variable_values"] == 2
    assert "Aino" not in json.dumps(event.details) + event.summary


def test_the_preview_says_what_will_happen_and_writes_nothing(coded: dict) -> None:
    text = Document.objects.get(pk=coded["document"].pk).text
    preview = withdrawal_preview(coded["p01"])
    assert Document.objects.get(pk=coded["document"].pk).text == text
    assert Participant.objects.get(code="P01").withdrawn_at is None
    lines = " ".join(preview.lines())
    assert "1 turn (11 words) in 1 document will be replaced" in lines
    assert "5 codings on their speech will show the redaction" in lines
    assert "2 variable values will be deleted" in lines
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.WITHDRAWAL).exists()


def test_a_wrong_confirmation_or_a_second_withdrawal_is_refused(coded: dict) -> None:
    text = Document.objects.get(pk=coded["document"].pk).text
    with pytest.raises(WithdrawalRefused, match=r"Type the participant's code, P01.*'P02'"):
        withdraw_participant(participant=coded["p01"], confirmation="P02")
    with pytest.raises(WithdrawalRefused, match="Type the participant's code, P01"):
        withdraw_participant(participant=coded["p01"], confirmation="")
    assert Document.objects.get(pk=coded["document"].pk).text == text
    assert Participant.objects.get(code="P01").withdrawn_at is None

    withdraw_participant(participant=coded["p01"], confirmation="P01")
    redacted = Document.objects.get(pk=coded["document"].pk).text
    with pytest.raises(WithdrawalRefused, match=r"P01 already withdrew on \d{4}-\d\d-\d\d"):
        withdraw_participant(participant=coded["p01"], confirmation="P01")
    assert Document.objects.get(pk=coded["document"].pk).text == redacted
    assert AuditEvent.objects.filter(action=AuditEvent.Action.WITHDRAWAL).count() == 1


def test_every_label_of_theirs_is_redacted_whatever_the_format(
    roster_study: Study, people: dict[str, User]
) -> None:
    """P04 speaks as "Amara" in a WebVTT file and as "Dr. Okafor" in a SubRip one; Callum's
    words and the facilitator's stay as they were."""
    gb = roster_study.workshops.get(code="GB-1")
    outcomes = import_transcripts(
        study=roster_study,
        workshop=gb,
        files=[("GB-1.vtt", GB_VTT.encode()), ("GB-1b.srt", GB_SRT.encode())],
    )
    before = {o.document.pk: o.document.text for o in outcomes}
    summary = withdraw_participant(
        participant=Participant.objects.get(code="P04"), confirmation="P04"
    )
    assert (summary.turns, summary.labels, len(summary.documents)) == (2, 2, 2)
    for pk, old in before.items():
        new = Document.objects.get(pk=pk).text
        assert len(new) == len(old)
        assert "Amara" not in new and "Okafor" not in new and "bank" not in new
        assert "doctor" not in new
        for turn in Document.objects.get(pk=pk).turns.exclude(participant__code="P04"):
            assert new[turn.start : turn.end] == old[turn.start : turn.end]
        assert new.startswith("Facilitator: ") and "Callum: " in new
    assert "█████: ███ ███ ██████" in Document.objects.get(title="GB-1").text


def test_a_long_interview_is_redacted_turn_by_turn(
    roster_study: Study, people: dict[str, User]
) -> None:
    """1,500 turns each: every one of Aino's is redacted with its label, and each of Eero's
    coded turns keeps its text."""
    fi = roster_study.workshops.get(code="FI-1")
    lines = [f"Aino: kohta {n} minun.\nEero: vastaus {n} hänen." for n in range(1500)]
    [outcome] = import_transcripts(
        study=roster_study, workshop=fi, files=[("long.txt", "\n".join(lines).encode())]
    )
    document = outcome.document
    code = Code.objects.create(study=roster_study, name="accuracy")
    turns = list(document.turns.order_by("seq"))
    apply_codings(
        user=people["bob"],
        spans=[CodingSpan(document.pk, code.pk, t.start, t.end) for t in turns],
        study=roster_study,
    )
    before = excerpts(document)
    summary = withdraw_participant(
        participant=Participant.objects.get(code="P01"), confirmation="P01"
    )
    assert (summary.turns, summary.labels, summary.attached) == (1500, 1500, {"codings": 1500})
    after = excerpts(document)
    kept = [pk for pk, (_s, _e, text) in before.items() if "hänen" in text]
    assert len(kept) == 1500 and all(after[pk] == before[pk] for pk in kept)
    text = Document.objects.get(pk=document.pk).text
    assert "Aino" not in text and "minun" not in text and text.count("Eero: ") == 1500


# --- Surveys --------------------------------------------------------------------------------


def test_survey_answers_links_and_survey_texts_go(coded: dict, survey: object) -> None:
    study = coded["study"]
    create_links(survey)
    mine = submitted(survey, "P01", trust="4", story=STORY)
    theirs = submitted(survey, "P02", trust="2", story=STORY)
    my_text, their_text = publish_text_answers(mine), publish_text_answers(theirs)
    code = Code.objects.get(study=study, name="negotiability")
    alice = User.objects.get(username="alice")
    for document in (my_text, their_text):
        Coding.objects.create(document=document, code=code, coder=alice, start=0, end=5)
    token = Invitation.objects.get(participant__code="P01").token

    preview = withdrawal_preview(coded["p01"])
    assert preview.deleted == {"survey responses": 1, "survey links": 1, "survey texts": 1}
    assert preview.deleted_documents == [my_text.title]
    assert preview.deleted_attached == {"coding": 1}
    summary = withdraw_participant(participant=coded["p01"], confirmation="P01")

    assert summary.deleted == {"survey responses": 1, "survey links": 1, "survey texts": 1}
    assert not Response.objects.filter(participant__code="P01").exists()
    assert not Answer.objects.filter(response=mine.pk).exists()
    assert not Invitation.objects.filter(participant__code="P01").exists()
    assert not Document.objects.filter(pk=my_text.pk).exists()
    assert Document.objects.filter(pk=their_text.pk).exists()
    assert Coding.objects.filter(document=their_text).count() == 1
    assert Response.objects.filter(participant__code="P02").count() == 1
    # Their old link no longer opens, and new links are not made for them.
    assert client_for(None).get(f"/s/{token}/").status_code == 404
    assert create_links(survey) == 0
    assert not Invitation.objects.filter(participant__code="P01").exists()


def test_a_responses_file_with_their_row_is_refused(coded: dict, survey: object) -> None:
    withdraw_participant(participant=coded["p01"], confirmation="P01")
    data = f'id,trust,story\nP02,3,"{STORY}"\nP01,2,\n'.encode()
    with pytest.raises(FileRejected, match=r"row 3, column 'id': P01 withdrew on \d{4}-"):
        import_responses(survey=survey, filename="pre.csv", data=data)
    assert not Response.objects.exists()


# --- Exports --------------------------------------------------------------------------------


def test_exports_no_longer_count_them(coded: dict) -> None:
    study = coded["study"]
    before = build_table(study, "crosstab", by="country", measure="participant_share")
    share = before.tidy[before.tidy["code_path"] == "Concept/explainability"]
    assert share[share["group"] == "FI"]["denominator"].item() == 3
    frame_before = analysis_frame(study)
    assert any("P01" in people for people in frame_before["participants"])

    withdraw_participant(participant=coded["p01"], confirmation="P01")

    assert "P01" not in set(roster_frame(study)["participant"])
    frame = analysis_frame(study)
    assert not any("P01" in people for people in frame["participants"])
    # Codings only on Aino's redacted words are gone; the one reaching into Eero's stays, his.
    assert len(frame) == len(frame_before) - 3
    crossing = frame[frame["participants"].apply(lambda p: p == ["P02"])]
    assert len(crossing) == 4
    after = build_table(study, "crosstab", by="country", measure="participant_share")
    share = after.tidy[after.tidy["code_path"] == "Concept/explainability"]
    assert share[share["group"] == "FI"]["denominator"].item() == 2
    participants = build_table(study, "participants")
    assert "P01" not in set(participants.tidy["participant"])
    frequencies = build_table(study, "frequencies")
    total = frequencies.wide[frequencies.wide["code_path"] == "Total"].iloc[0]
    assert total["participant_share"] == pytest.approx(2 / 4)  # P02 and P03 of four


def test_the_refi_qda_project_has_no_case_for_them(coded: dict) -> None:
    withdraw_participant(participant=coded["p01"], confirmation="P01")
    data, counts = write_qdpx(coded["study"])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        project = etree.fromstring(archive.read("project.qde"))
    names = [case.get("name") for case in project.iter("{*}Case")]
    assert counts.cases == 4 and "P01" not in names and "P02" in names


# --- Nothing brings them back ---------------------------------------------------------------


def test_a_transcript_with_their_speech_is_refused(coded: dict) -> None:
    study = coded["study"]
    fi = study.workshops.get(code="FI-1")
    withdraw_participant(participant=coded["p01"], confirmation="P01")
    day = Participant.objects.get(code="P01").withdrawn_at.date().isoformat()
    again = FI_TXT.replace("Aino:", "P01:")
    with pytest.raises(FileRejected) as refused:
        import_transcripts(study=study, workshop=fi, files=[("FI-2.txt", again.encode())])
    assert str(refused.value) == (
        f"FI-2.txt: P01 withdrew on {day}; remove their speech from the file before importing"
    )
    # Their real name is no longer an alias; mapped to them, it is refused by name too.
    with pytest.raises(FileRejected, match=f"the speaker 'Aino' is P01, who withdrew on {day}"):
        import_transcripts(
            study=study, workshop=fi, files=[("FI-2.txt", FI_TXT.encode())], mapping={"Aino": "P01"}
        )
    assert not Document.objects.filter(title="FI-2").exists()


def test_a_roster_row_or_a_page_edit_for_them_is_refused(coded: dict) -> None:
    study = coded["study"]
    withdraw_participant(participant=coded["p01"], confirmation="P01")
    with pytest.raises(FileRejected, match=r"row 2, column 'participant': P01 withdrew on"):
        import_roster(study=study, filename="roster.csv", data=ROSTER.encode())
    assert not ParticipantValue.objects.filter(participant__code="P01").exists()
    with pytest.raises(StudyError, match="P01 withdrew"):
        update_participant(participant=Participant.objects.get(code="P01"), aliases="Aino")


# --- The command ----------------------------------------------------------------------------


def test_the_command_previews_without_yes_and_withdraws_with_it(coded: dict) -> None:
    text = Document.objects.get(pk=coded["document"].pk).text
    out = io.StringIO()
    with pytest.raises(CommandError, match=r"Nothing was changed: .* add --yes to withdraw P01"):
        call_command("withdraw", "P01", "--study", "adm", stdout=out)
    assert "will be replaced" in out.getvalue()
    assert Document.objects.get(pk=coded["document"].pk).text == text
    assert Participant.objects.get(code="P01").withdrawn_at is None

    call_command("withdraw", "P01", "--study", "adm", "--yes", stdout=out)
    assert "P01 withdrew: redacted 1 turn in 1 document" in out.getvalue()
    assert Participant.objects.get(code="P01").withdrawn_at is not None

    with pytest.raises(CommandError, match=r"^P01 already withdrew on \d{4}-\d\d-\d\d"):
        call_command("withdraw", "P01", "--study", "adm", "--yes")
    with pytest.raises(CommandError, match="'P99': no such participant in adm"):
        call_command("withdraw", "P99", "--study", "adm", "--yes")
    with pytest.raises(CommandError, match="--study 'nope': no such study"):
        call_command("withdraw", "P01", "--study", "nope", "--yes")


# --- The API --------------------------------------------------------------------------------


def test_the_api_withdraws_for_owners_only(coded: dict, people: dict[str, User]) -> None:
    study = coded["study"]
    url = withdraw_url(study, "P01")
    body = json.dumps({"confirm": "P01"})
    assert client_for(None).post(url, body, content_type="application/json").status_code in (
        401,
        403,
    )
    assert (
        client_for(people["mallory"]).post(url, body, content_type="application/json").status_code
        == 404
    )
    for name in ("victor", "bob"):
        response = client_for(people[name]).post(url, body, content_type="application/json")
        assert response.status_code == 403, name
    alice = client_for(people["alice"])
    assert alice.get(url).json()["turns"] == 1
    wrong = alice.post(url, json.dumps({"confirm": "p01"}), content_type="application/json")
    assert wrong.status_code == 400
    assert "Type the participant's code, P01" in wrong.json()["confirm"][0]
    assert alice.post(url, "{}", content_type="application/json").status_code == 400
    assert Participant.objects.get(code="P01").withdrawn_at is None

    done = alice.post(url, body, content_type="application/json")
    assert done.status_code == 200
    data = done.json()
    assert data["participant"] == "P01" and data["withdrawn_at"]
    assert data["turns"] == 1 and data["attached"] == {"codings": 5}
    assert AuditEvent.objects.get(action=AuditEvent.Action.WITHDRAWAL).via == "api"
    assert AuditEvent.objects.get(action=AuditEvent.Action.WITHDRAWAL).username == "alice"
    again = alice.post(url, body, content_type="application/json")
    assert again.status_code == 400 and "already withdrew" in again.json()["detail"][0]
    assert (
        alice.post(withdraw_url(study, "P99"), body, content_type="application/json").status_code
        == 404
    )


# --- The pages ------------------------------------------------------------------------------


def test_the_pages_ask_for_the_code_and_show_the_withdrawn_state(
    coded: dict, people: dict[str, User]
) -> None:
    study = coded["study"]
    p01 = coded["p01"]
    page = reverse("studies:participant", args=[study.slug, p01.pk])
    confirm = reverse("studies:participant_withdraw", args=[study.slug, p01.pk])
    alice = client_for(people["alice"])
    assert confirm in alice.get(page).content.decode()
    assert confirm not in client_for(people["bob"]).get(page).content.decode()
    assert client_for(people["bob"]).get(confirm).status_code == 403
    assert client_for(people["victor"]).post(confirm, {"code": "P01"}).status_code == 403
    assert client_for(people["mallory"]).get(confirm).status_code == 404
    assert client_for(None).get(confirm).status_code == 302

    shown = alice.get(confirm).content.decode()
    assert "cannot be undone" in shown and "2 variable values will be deleted" in shown
    refused = alice.post(confirm, {"code": "P02"})
    assert refused.status_code == 400
    assert "Type the participant&#x27;s code, P01" in refused.content.decode()
    assert Participant.objects.get(pk=p01.pk).withdrawn_at is None

    done = alice.post(confirm, {"code": "P01"}, follow=True)
    assert done.redirect_chain[-1][0] == page
    html = done.content.decode()
    day = Participant.objects.get(pk=p01.pk).withdrawn_at.date().isoformat()
    assert f"P01 withdrew on {day}." in html and "P01 withdrew: redacted 1 turn" in html
    assert confirm not in html and 'name="aliases"' not in html
    listing = alice.get(reverse("studies:participants", args=[study.slug])).content.decode()
    assert f"withdrawn on {day}" in listing
    assert alice.get(confirm).status_code == 302


def test_the_overview_counts_only_current_participants_and_says_who_withdrew(
    roster_study, people
) -> None:
    from django.urls import reverse

    from studies.withdrawal import withdraw_participant
    from tests.helpers import client_for

    participant = roster_study.participants.get(code="P05")
    withdraw_participant(participant=participant, confirmation="P05")
    page = client_for(people["alice"]).get(reverse("studies:overview", args=[roster_study.slug]))
    text = " ".join(page.content.decode().split())
    assert "<dt>Participants</dt><dd>4 (1 withdrew)</dd>" in text
    listed = client_for(people["alice"]).get(reverse("studies:list")).content.decode()
    # The study's row: its workshops (2), participants (4), documents (0).
    cells = re.findall(r'<td class="num">([^<]*)</td>', listed)
    assert cells[:3] == ["2", "4", "0"]
