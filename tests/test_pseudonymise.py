"""Pseudonymisation at import (studies.pseudonymise): names of participants in their inflected
forms in Finnish, German and English, a private list kept only as hashes, e-mail addresses,
phone numbers and web addresses; the review's decisions; the stored text and its offsets."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from studies.importers import parse_transcript
from studies.models import PrivateName, Pseudonym, Study
from studies.pseudonymise import (
    EMAIL,
    PARTICIPANT,
    PHONE,
    URL,
    Decisions,
    add_private_names,
    base_forms,
    find_in_parsed,
    name_forms,
    pseudonymise_parsed,
    pseudonymise_text,
)
from studies.services import import_roster, import_transcripts

ROSTER = """participant,workshop,country,site,date,language,facilitators,aliases
P01,FI-1,FI,Helsinki,2025-03-12,fi,Fasilitaattori,"Aino; Aino Virtanen"
P02,FI-1,FI,Helsinki,2025-03-12,fi,Fasilitaattori,Mikko
P03,DE-1,DE,Berlin,2025-04-02,de,Moderatorin,Jürgen
P04,DE-1,DE,Berlin,2025-04-02,de,Moderatorin,Anna
P05,GB-1,GB,Manchester,2025-05-08,en-GB,,"Amara; Dr. Okafor"
P06,GB-1,GB,Manchester,2025-05-08,en-GB,,Callum
"""

FI_TEXT = """Fasilitaattori: Tervetuloa. Aino, haluatko aloittaa?

Aino: Kiitos. Mikon kanssa puhuttiin tästä jo aiemmin, ja Mikolle sanoin, että hakemus hylättiin.

Mikko: Niin, Ainolle kävi huonosti. Virtasen perhe soitti, ja Aino Virtasen numero on 040 123 4567.

Fasilitaattori: Kiitos, Mikko. Lähetän linkin osoitteeseen aino.virtanen@example.fi.
"""

DE_TEXT = """Moderatorin: Willkommen. Jürgen, möchten Sie anfangen?

Jürgen: Ja. Annas Bewerbung wurde abgelehnt, und Anna hat bei der Hotline +49 30 1234567 angerufen.

Anna: Jürgens Erfahrung ist ähnlich. Mehr steht auf https://beispiel.de/fall?id=7.
"""

EN_TEXT = """Facilitator: Welcome. Amara, would you start?

Amara: Thanks. Callum's loan was refused, and Dr. Okafor said so too. Call me on (0161) 496 0000.

Callum: Amara's point is fair. Email callum.b@example.co.uk or see www.example.org/loans.
"""


@pytest.fixture
def study(people: dict[str, User]) -> Study:
    from studies.models import Membership

    study = Study.objects.create(slug="priv", name="Privacy", languages="fi, de, en")
    Membership.objects.create(study=study, user=people["alice"], role="owner")
    import_roster(study=study, filename="roster.csv", data=ROSTER.encode())
    return study


def parsed(text: str, name: str = "t.txt") -> object:
    return parse_transcript(text.encode(), name)


def found(study: Study, text: str, workshop: str, language: str) -> dict[str, tuple[str, str]]:
    """text -> (kind, replacement) of every finding."""
    findings = find_in_parsed(
        study, parsed(text), workshop=study.workshops.get(code=workshop), language=language
    )
    return {f.text: (f.kind, f.replacement) for f in findings}


def test_finnish_names_are_found_in_their_cases_and_the_full_name_wins(study: Study) -> None:
    findings = found(study, FI_TEXT, "FI-1", "fi")
    assert findings["Aino"] == (PARTICIPANT, "[P01]")
    assert findings["Mikon"] == (PARTICIPANT, "[P02]")  # genitive, consonant gradation
    assert findings["Mikolle"] == (PARTICIPANT, "[P02]")  # allative
    assert findings["Ainolle"] == (PARTICIPANT, "[P01]")
    assert findings["Aino Virtasen"] == (PARTICIPANT, "[P01]")  # -nen name, genitive
    assert findings["040 123 4567"] == (PHONE, "[PHONE]")
    assert findings["aino.virtanen@example.fi"] == (EMAIL, "[EMAIL]")
    # "Virtasen perhe" alone is the family, not the participant: not on the roster or the list.
    assert "Virtasen" not in findings
    assert "Fasilitaattori" not in findings


def test_german_and_english_genitives_and_patterns(study: Study) -> None:
    de = found(study, DE_TEXT, "DE-1", "de")
    assert de["Annas"] == (PARTICIPANT, "[P04]")
    assert de["Jürgens"] == (PARTICIPANT, "[P03]")
    assert de["+49 30 1234567"] == (PHONE, "[PHONE]")
    assert de["https://beispiel.de/fall?id=7"] == (URL, "[URL]")  # the full stop stays out
    en = found(study, EN_TEXT, "GB-1", "en-GB")
    assert en["Callum"] == (PARTICIPANT, "[P06]")  # "Callum's": the tokenizer splits the 's
    assert en["Dr. Okafor"] == (PARTICIPANT, "[P05]")
    assert en["(0161) 496 0000"] == (PHONE, "[PHONE]")
    assert en["callum.b@example.co.uk"] == (EMAIL, "[EMAIL]")
    assert en["www.example.org/loans"] == (URL, "[URL]")


def test_years_times_and_counts_are_not_phone_numbers(study: Study) -> None:
    text = "Facilitator: In 2025 at 10:30, 40 of 1,200 applicants [00:01:23] paid 1 500 euros.\n"
    assert not [f for f in found(study, text, "GB-1", "en").values() if f[0] == PHONE]


def test_inflection_rules_go_both_ways() -> None:
    assert {"ainolle", "ainon", "ainoa", "ainoon", "ainossa"} <= name_forms("Aino", "fi")
    assert {"mikon", "mikolle", "mikkoa", "mikkoon"} <= name_forms("Mikko", "fi")
    assert {"virtasen", "virtasta", "virtaselle"} <= name_forms("Virtanen", "fi")
    assert {"Aino virtasen", "Aino virtaselle"} <= name_forms("Aino Virtanen", "fi")
    assert {"annas", "anna's"} <= name_forms("Anna", "de")
    for form in ("ainolle", "ainoon", "mikolle", "virtasen", "virtasta"):
        assert base_forms(form, "fi") & {"aino", "mikko", "virtanen"}, form
    assert "müller" in base_forms("müllers", "de")


def test_the_private_list_is_hashed_and_found_inflected(study: Study, people) -> None:
    change = add_private_names(
        study=study, names=["Nokia", "", "  Kallion   terveysasema ", "nokia"], kind="organisation"
    )
    assert (change.added, change.already) == (2, 0)
    again = add_private_names(study=study, names=["NOKIA"], kind="organisation")
    assert (again.added, again.already) == (0, 1)
    assert "Added 0 organisations" in again.summary() and "1 was already on it" in again.summary()
    stored = list(PrivateName.objects.filter(study=study).values_list("digest", flat=True))
    assert len(stored) == 2 and not any("nokia" in d for d in stored)
    add_private_names(study=study, names=["Leena Salo"], kind="name", user=people["alice"])
    add_private_names(study=study, names=["Straße der Pariser Kommune"], kind="place")
    text = (
        "Aino: Olin Nokialla töissä, ja Leena Salon tiimi oli Kallion terveysasemalla. "
        "Später in der STRASSE DER PARISER KOMMUNE.\n"
    )
    findings = found(study, text, "FI-1", "fi")
    assert findings["Nokialla"] == ("organisation", "[ORGANISATION]")
    assert findings["Leena Salon"] == ("name", "[NAME]")
    assert findings["Kallion terveysasemalla"] == ("organisation", "[ORGANISATION]")
    # Case-folded as the list was ("ß" is "ss"), and found where it is in the text.
    assert findings["STRASSE DER PARISER KOMMUNE"] == ("place", "[PLACE]")


def test_a_bad_private_list_is_refused_whole(study: Study) -> None:
    from studies.importers import FileRejected

    with pytest.raises(FileRejected, match="the list, line 2: a name of at most 6 words"):
        add_private_names(study=study, names=["Nokia", "a b c d e f g"])
    assert not PrivateName.objects.exists()


def test_applying_moves_turns_and_relabels_speakers(study: Study) -> None:
    source = parsed(FI_TEXT)
    fi = study.workshops.get(code="FI-1")
    result = pseudonymise_parsed(
        study, source, workshop=fi, language="fi", speakers={"Aino": "P01", "Mikko": "P02"}
    )
    new = result.parsed
    assert "Aino" not in new.text and "Mikko" not in new.text and "Mikon" not in new.text
    assert "[P02]: Niin, [P01] kävi huonosti." in new.text
    assert "[P01] numero on [PHONE]." in new.text
    assert [t.speaker for t in new.turns] == ["Fasilitaattori", "P01", "P02", "Fasilitaattori"]
    for old, turn in zip(source.turns, new.turns, strict=True):
        # Each turn still ends on the same character, and starts where the new text says.
        assert new.text[turn.end - 1] == source.text[old.end - 1]
        assert new.text[turn.start : turn.start + 4] in ("Terv", "Kiit", "Niin")
    assert result.report() == "replaced 1 e-mail address, 8 participant names, 1 phone number"


def test_the_reviewer_dismisses_changes_and_bulk_decides(study: Study) -> None:
    source = parsed(EN_TEXT)
    gb = study.workshops.get(code="GB-1")
    findings = find_in_parsed(study, source, workshop=gb, language="en")
    okafor = next(f for f in findings if f.text == "Dr. Okafor")
    label = next(f for f in findings if f.label)
    decisions = Decisions(each={okafor.key: "the doctor", label.key: ""}, kinds={PHONE: "dismiss"})
    result = pseudonymise_parsed(study, source, workshop=gb, language="en", decisions=decisions)
    text = result.parsed.text
    assert "the doctor said so too" in text
    assert "(0161) 496 0000" in text  # phone numbers dismissed in bulk
    assert "[EMAIL]" in text
    assert not text.startswith("Facilitator: Welcome. Amara")  # a name in speech: replaced
    assert "\n[P05]: Thanks." in text  # a speaker label cannot be dismissed
    with pytest.raises(ValueError, match="one line of at most 100 characters"):
        pseudonymise_parsed(
            study,
            source,
            workshop=gb,
            language="en",
            decisions=Decisions(each={okafor.key: "x" * 101}),
        )


def test_an_import_stores_only_the_pseudonymised_text(study: Study, people) -> None:
    de = study.workshops.get(code="DE-1")
    [outcome] = import_transcripts(
        study=study,
        workshop=de,
        files=[("DE-1.txt", DE_TEXT.encode())],
        user=people["alice"],
        pseudonymise=True,
    )
    document = outcome.document
    assert "Jürgen" not in document.text and "Anna" not in document.text
    assert "1234567" not in document.text and "beispiel.de" not in document.text
    speakers = {
        t.speaker: t.participant.code if t.participant else None for t in document.turns.all()
    }
    assert speakers == {"Moderatorin": None, "P03": "P03", "P04": "P04"}
    for turn in document.turns.all():
        assert document.text[turn.start : turn.end].strip()
    for sentence in document.sentences.all():
        assert sentence.end <= document.text_length
    assert not Pseudonym.objects.exists()  # the study does not keep the mapping
    assert outcome.pseudonymised.startswith("replaced")


def test_the_mapping_is_kept_only_when_the_study_says_so(study: Study, people) -> None:
    study.keep_pseudonyms = True
    study.save()
    gb = study.workshops.get(code="GB-1")
    [outcome] = import_transcripts(
        study=study,
        workshop=gb,
        files=[("GB-1.txt", EN_TEXT.encode())],
        user=people["alice"],
        pseudonymise=True,
    )
    kept = {(p.original, p.replacement): p.count for p in Pseudonym.objects.all()}
    assert kept[("Amara", "[P05]")] == 2  # in speech and as the speaker's label
    assert kept[("Amara's", "[P05]")] == 1
    assert kept[("Dr. Okafor", "[P05]")] == 1
    assert all(p.document == outcome.document for p in Pseudonym.objects.all())


def test_importing_the_same_file_again_changes_nothing(study: Study) -> None:
    fi = study.workshops.get(code="FI-1")
    files = [("FI-1.txt", FI_TEXT.encode())]
    import_transcripts(study=study, workshop=fi, files=files, pseudonymise=True)
    [again] = import_transcripts(study=study, workshop=fi, files=files, pseudonymise=True)
    assert again.status == "unchanged"


def test_a_text_without_turns(study: Study) -> None:
    result = pseudonymise_text(study, "Ask Callum at callum@example.org.", language="en")
    assert result.parsed.text == "Ask [P06] at [EMAIL]."


def test_the_command_pseudonymises_and_reports_every_replacement(
    study: Study, tmp_path, capsys
) -> None:
    from django.core.management import call_command

    path = tmp_path / "FI-1.txt"
    path.write_text(FI_TEXT, encoding="utf-8")
    call_command("import_transcripts", "--study", "priv", "--workshop", "FI-1", str(path),
                 "--pseudonymise")  # fmt: skip
    out = capsys.readouterr().out.splitlines()
    assert "FI-1.txt:1:29: participant name 'Aino' -> [P01]" in out
    assert "FI-1.txt:5:63: participant name 'Aino Virtasen' -> [P01]" in out
    assert "FI-1.txt:5:87: phone number '040 123 4567' -> [PHONE]" in out
    assert out[-2] == "FI-1: replaced 1 e-mail address, 8 participant names, 1 phone number."
    assert out[-1].startswith("Imported 1 transcript")
    text = study.documents.get().text
    assert "Aino" not in text and "[P01]" in text
