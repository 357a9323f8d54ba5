"""The codebook pages: who may see and change what, what the pages say, and the code report."""

from __future__ import annotations

import csv
import html
import io
import re

import openpyxl
import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from coding.models import Code, Coding, Memo
from coding.services import create_code
from studies.models import Document, Study
from studies.services import import_transcripts
from tests.helpers import client_for, db_snapshot

FI_TEXT = """Facilitator: Shall we talk about hiring first?
Aino: The system should explain why it said no.
Eero: I would want to argue with it, like with a person.
Aino: Yes, and I want to negotiate the outcome.
"""
GB_TEXT = """Amara: I was refused a loan and nobody could tell me why.
Callum: Negotiate? With a machine?
"""


def text_of(response: object) -> str:
    """The page as a reader sees it: tags dropped, entities decoded, spaces collapsed."""
    page = re.sub(r"<style[^>]*>.*?</style>", " ", response.content.decode(), flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


@pytest.fixture
def documents(roster_study: Study) -> dict[str, Document]:
    found = {}
    for code, name, text in (("FI-1", "FI-1.txt", FI_TEXT), ("GB-1", "GB-1.txt", GB_TEXT)):
        workshop = roster_study.workshops.get(code=code)
        [outcome] = import_transcripts(
            study=roster_study, workshop=workshop, files=[(name, text.encode())], language="en"
        )
        found[code] = outcome.document
    return found


def code_at(document: Document, code: Code, coder: User, words: str) -> Coding:
    start = document.text.index(words)
    return Coding.objects.create(
        document=document, code=code, coder=coder, start=start, end=start + len(words)
    )


@pytest.fixture
def coded(
    documents: dict[str, Document], codes: dict[str, Code], people: dict[str, User]
) -> dict[str, Code]:
    """Negotiability, coded by Bob and Alice:

    - Aino (P01) speaks in two turns, both coded (by Bob, then by Alice): one participant;
    - Alice's span overlaps Bob's in Aino's first turn: two segments;
    - both code the same span of Eero's (P02) turn: one segment, two coders;
    - Bob codes the facilitator, who is no participant;
    - Alice codes Callum (P05) in the British workshop.
    """
    fi, gb, code = documents["FI-1"], documents["GB-1"], codes["negotiability"]
    bob, alice = people["bob"], people["alice"]
    code_at(fi, code, bob, "should explain why")
    code_at(fi, code, alice, "explain why it said no")
    code_at(fi, code, alice, "negotiate the outcome")
    code_at(fi, code, bob, "argue with it")
    code_at(fi, code, alice, "argue with it")
    code_at(fi, code, bob, "talk about hiring")
    code_at(gb, code, alice, "Negotiate? With a machine?")
    Memo.objects.create(study=code.study, author=alice, code=code, text="Coined in FI-1.")
    return codes


def url(name: str, study: Study, *args: object) -> str:
    return reverse(f"coding:{name}", args=[study.slug, *args])


# --- Who may do what ------------------------------------------------------------------------


def test_the_permission_ladder_holds_on_every_codebook_page(
    coded: dict[str, Code], people: dict[str, User]
) -> None:
    study, code = coded["concept"].study, coded["negotiability"]
    rank = {"viewer": 0, "coder": 1, "owner": 2, None: 3}
    pages = [  # (url, who may read it, who may post to it (None: nobody), what is posted)
        (url("codebook", study), "viewer", "owner", {"code": code.pk, "direction": "down"}),
        (url("code", study, code.pk), "viewer", "coder", {"text": "A memo."}),
        (url("codebook_csv", study), "viewer", None, {}),
        (url("codebook_xlsx", study), "viewer", None, {}),
        (url("code_report_csv", study, code.pk), "viewer", None, {}),
        (url("code_report_xlsx", study, code.pk), "viewer", None, {}),
        (url("code_new", study), "owner", "owner", {}),
        (url("code_edit", study, code.pk), "owner", "owner", {}),
        (url("code_move", study, code.pk), "owner", "owner", {}),
        (url("code_merge", study, code.pk), "owner", "owner", {}),
        (url("code_delete", study, code.pk), "owner", "owner", {}),
        (url("codebook_import", study), "owner", "owner", {}),
    ]
    for page, reads, posts, data in pages:
        for method in ("get", "post"):
            anonymous = getattr(client_for(None), method)(page, data)
            assert anonymous.status_code == 302, (page, method)
            assert anonymous["Location"].startswith(reverse("login")), page
            outsider = getattr(client_for(people["mallory"]), method)(page, data)
            assert outsider.status_code == 404, (page, method)
        for name, role in (("victor", "viewer"), ("bob", "coder"), ("alice", "owner")):
            got = client_for(people[name]).get(page).status_code
            assert got == (200 if rank[role] >= rank[reads] else 403), (page, name, "GET")
            posted = client_for(people[name]).post(page, data).status_code
            if posts is None:
                assert posted in (403, 405), (page, name)
            elif rank[role] < rank[posts]:
                assert posted == 403, (page, name, "POST")
            else:
                assert posted in (200, 302, 409), (page, name, "POST")
    # Only the posts allowed above changed anything: Bob's and Alice's memos, Alice's reorder.
    assert [m.author.username for m in Memo.objects.order_by("pk")] == ["alice", "bob", "alice"]
    assert Code.objects.filter(study=study).count() == 3
    assert Coding.objects.filter(code=code).count() == 7
    assert Code.objects.get(pk=code.pk).order == 1


def test_a_code_of_another_study_is_not_found(
    coded: dict[str, Code], people: dict[str, User]
) -> None:
    other = Study.objects.create(slug="other", name="Other")
    other.memberships.create(user=people["mallory"], role="owner")
    code = coded["negotiability"]
    for name in ("code", "code_edit", "code_delete", "code_report_csv"):
        page = reverse(f"coding:{name}", args=["other", code.pk])
        assert client_for(people["mallory"]).get(page).status_code == 404, name


def test_readers_see_no_editing_tools_and_owners_do(
    coded: dict[str, Code], people: dict[str, User]
) -> None:
    page = url("codebook", coded["concept"].study)
    for name in ("victor", "bob"):
        shown = text_of(client_for(people[name]).get(page))
        assert "New code" not in shown and "Merge" not in shown and "Export .csv" in shown
    shown = text_of(client_for(people["alice"]).get(page))
    assert "New code" in shown and "Import" in shown and "Merge negotiability" in shown


# --- The codebook page ----------------------------------------------------------------------


def test_the_codebook_reads_like_a_methods_appendix(
    coded: dict[str, Code], people: dict[str, User]
) -> None:
    response = client_for(people["victor"]).get(url("codebook", coded["concept"].study))
    shown = text_of(response)
    assert "Concept dimension" in shown
    assert (
        "negotiability 6 coded segments · 2 documents · 3 participants · 2 coders "
        "Definition Working flexibly around a decision-maker. "
        "Include when Arguing, appealing, bargaining. "
        "Exclude when A wish for reasons alone. "
        "Example “I want to negotiate the outcome.”"
    ) in shown
    assert "explainability 0 coded segments · 0 documents · 0 participants · 0 coders" in shown
    colour = coded["negotiability"].colour
    assert f'class="swatch" style="background-color: {colour}"' in response.content.decode()


def test_the_counts_count_a_participant_once_and_each_span_once(
    coded: dict[str, Code], people: dict[str, User]
) -> None:
    """Aino's two coded turns make one participant; Alice's span overlapping Bob's is a segment
    of its own; the span both coded in Eero's turn is one segment; the facilitator is no one."""
    shown = text_of(client_for(people["alice"]).get(url("codebook", coded["concept"].study)))
    assert "negotiability 6 coded segments · 2 documents · 3 participants · 2 coders" in shown
    # The dimension's heading counts its whole branch.
    assert "In all: 6 coded segments · 2 documents · 3 participants · 2 coders" in shown
    mine = text_of(
        client_for(people["alice"]).get(url("codebook", coded["concept"].study) + "?layer=mine")
    )
    assert "negotiability 4 coded segments · 2 documents · 3 participants · 1 coder" in mine


def test_blind_coding_shows_a_coder_only_their_own_counts_and_excerpts(
    coded: dict[str, Code], people: dict[str, User]
) -> None:
    study = coded["concept"].study
    study.blind_coding = True
    study.save()
    bob = client_for(people["bob"])
    shown = text_of(bob.get(url("codebook", study)))
    assert "negotiability 3 coded segments · 1 document · 2 participants · 1 coder" in shown
    assert "6 coded segments" not in shown
    # Asking for every coder's layer changes nothing for him.
    assert "6 coded segments" not in text_of(bob.get(url("codebook", study) + "?layer=all"))
    report = text_of(bob.get(url("code", study, coded["negotiability"].pk) + "?layer=consensus"))
    assert "3 excerpts" in report
    assert "coded by alice" not in report and "With a machine" not in report
    rows = list(
        csv.reader(
            io.StringIO(
                bob.get(url("code_report_csv", study, coded["negotiability"].pk)).content.decode(
                    "utf-8-sig"
                )
            )
        )
    )
    assert {row[6] for row in rows[1:]} == {"bob"}
    # The viewer still sees everyone's.
    viewer = text_of(client_for(people["victor"]).get(url("codebook", study)))
    assert "6 coded segments" in viewer


def test_owners_reorder_codes_with_the_up_and_down_buttons(
    coded: dict[str, Code], people: dict[str, User]
) -> None:
    study = coded["concept"].study
    response = client_for(people["alice"]).post(
        url("codebook", study), {"code": coded["explainability"].pk, "direction": "up"}
    )
    assert response.status_code == 302
    shown = text_of(client_for(people["alice"]).get(url("codebook", study)))
    assert shown.index("explainability 0 coded") < shown.index("negotiability 6 coded")


# --- Editing --------------------------------------------------------------------------------


def test_an_owner_adds_and_edits_a_code_through_the_forms(
    coded: dict[str, Code], people: dict[str, User]
) -> None:
    study, alice = coded["concept"].study, client_for(people["alice"])
    response = alice.post(
        url("code_new", study),
        {
            "name": "accuracy",
            "parent": coded["concept"].pk,
            "colour": "#009e73",
            "definition": "Getting it right.",
            "codable": "on",
            "shortcut": "2",
        },
        follow=True,
    )
    assert "Added the code Concept/accuracy." in text_of(response)
    code = Code.objects.get(study=study, name="accuracy")
    assert (code.parent_id, code.colour, code.shortcut) == (coded["concept"].pk, "#009E73", 2)

    clash = alice.post(
        url("code_edit", study, code.pk),
        {"name": "Explainability", "colour": "#009E73", "codable": "on"},
    )
    assert "&#x27;Concept&#x27; already has a code named &#x27;explainability&#x27;" in (
        clash.content.decode()
    )
    alice.post(
        url("code_edit", study, code.pk),
        {"name": "precision", "colour": "#D55E00", "codable": "on", "shortcut": ""},
    )
    code.refresh_from_db()
    assert (code.name, code.colour, code.shortcut) == ("precision", "#D55E00", None)


def test_the_move_page_moves_a_code_and_offers_no_place_inside_itself(
    coded: dict[str, Code], people: dict[str, User]
) -> None:
    study, alice = coded["concept"].study, client_for(people["alice"])
    page = alice.get(url("code_move", study, coded["concept"].pk)).content.decode()
    assert "Concept/negotiability" not in page
    response = alice.post(
        url("code_move", study, coded["concept"].pk), {"parent": coded["negotiability"].pk}
    )
    assert "Select a valid choice" in response.content.decode()
    alice.post(url("code_move", study, coded["explainability"].pk), {"parent": ""})
    assert Code.objects.get(pk=coded["explainability"].pk).parent_id is None


def test_the_merge_confirmation_says_what_moves_and_then_moves_it(
    coded: dict[str, Code], people: dict[str, User]
) -> None:
    study, alice = coded["concept"].study, client_for(people["alice"])
    source, target = coded["negotiability"], coded["explainability"]
    page = url("code_merge", study, source.pk)
    chooser = text_of(alice.get(page))
    assert "Merge into" in chooser and "Concept/explainability" in chooser
    confirm = text_of(alice.get(page, {"target": target.pk}))
    assert (
        "7 codings and 1 memo move to Concept/explainability; Concept/negotiability is deleted."
    ) in confirm
    assert Code.objects.filter(pk=source.pk).exists()  # looking changed nothing

    codings_before = Coding.objects.count()
    done = alice.post(page, {"target": target.pk}, follow=True)
    assert "Merged Concept/negotiability into Concept/explainability: 7 codings and 1 memo" in (
        text_of(done)
    )
    assert not Code.objects.filter(pk=source.pk).exists()
    assert Coding.objects.count() == codings_before
    assert Coding.objects.filter(code=target).count() == 7
    assert Memo.objects.get().code_id == target.pk


def test_the_merge_page_refuses_a_grouping_with_the_reason(
    coded: dict[str, Code], people: dict[str, User]
) -> None:
    study = coded["concept"].study
    other = create_code(study=study, name="Domain", codable=False)
    page = url("code_merge", study, coded["negotiability"].pk)
    response = client_for(people["alice"]).post(page, {"target": other.pk})
    assert "&#x27;Domain&#x27; is not codable" in response.content.decode()
    assert Coding.objects.filter(code=coded["negotiability"]).count() == 7


def test_the_delete_page_refuses_a_code_with_codings_and_says_why(
    coded: dict[str, Code], people: dict[str, User]
) -> None:
    study, alice = coded["concept"].study, client_for(people["alice"])
    page = url("code_delete", study, coded["negotiability"].pk)
    shown = text_of(alice.get(page))
    assert "has 7 codings, so it cannot be deleted: merge it into another code instead" in shown
    assert alice.post(page).status_code == 409
    assert Code.objects.filter(pk=coded["negotiability"].pk).exists()


def test_the_delete_page_says_what_is_lost_and_deletes_on_confirmation(
    coded: dict[str, Code], people: dict[str, User]
) -> None:
    study, alice = coded["concept"].study, client_for(people["alice"])
    code = coded["explainability"]
    Memo.objects.create(study=study, author=people["bob"], code=code, text="Needed?")
    page = url("code_delete", study, code.pk)
    assert (
        "Deleting Concept/explainability also deletes its definition and criteria and 1 memo. "
        "This cannot be undone."
    ) in text_of(alice.get(page))
    done = alice.post(page, follow=True)
    assert "Deleted the code Concept/explainability and 1 memo." in text_of(done)
    assert not Code.objects.filter(pk=code.pk).exists()


# --- Import and export ----------------------------------------------------------------------


def test_an_import_is_previewed_then_applied_on_confirmation(
    coded: dict[str, Code], people: dict[str, User]
) -> None:
    study, alice = coded["concept"].study, client_for(people["alice"])
    table = b"path,definition\nConcept/negotiability,Changed.\nQuality/empathy,Being heard.\n"
    before = db_snapshot()
    preview = alice.post(
        url("codebook_import", study),
        {"file": SimpleUploadedFile("codebook.csv", table), "preview": "1"},
    )
    shown = text_of(preview)
    assert "Codebook codebook.csv: 2 new codes, 1 code updated, 1 unchanged." in shown
    assert "Quality/empathy new definition 3" in shown
    assert "Concept/negotiability updated definition 2" in shown
    assert db_snapshot() == before
    fields = dict(
        re.findall(r'name="(filename|payload|digest)" value="([^"]*)"', preview.content.decode())
    )
    done = alice.post(url("codebook_import", study), {**fields, "confirm": "1"}, follow=True)
    assert "Codebook codebook.csv: 2 new codes, 1 code updated" in text_of(done)
    assert Code.objects.get(pk=coded["negotiability"].pk).definition == "Changed."
    assert Code.objects.filter(study=study, name="empathy", parent__name="Quality").exists()


def test_a_bad_import_shows_its_row_and_column_and_writes_nothing(
    coded: dict[str, Code], people: dict[str, User]
) -> None:
    study = coded["concept"].study
    before = db_snapshot()
    response = client_for(people["alice"]).post(
        url("codebook_import", study),
        {"file": SimpleUploadedFile("codebook.csv", b"path,colour\nConcept/trust,teal\n")},
    )
    assert "codebook.csv, row 2, column &#x27;colour&#x27;: &#x27;teal&#x27; is not a colour" in (
        response.content.decode()
    )
    assert db_snapshot() == before


def test_the_codebook_downloads_as_csv_and_xlsx(
    coded: dict[str, Code], people: dict[str, User]
) -> None:
    study, victor = coded["concept"].study, client_for(people["victor"])
    response = victor.get(url("codebook_csv", study))
    assert response["Content-Disposition"] == 'attachment; filename="adm-codebook.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [row[0] for row in rows] == [
        "path",
        "Concept",
        "Concept/negotiability",
        "Concept/explainability",
    ]
    book = openpyxl.load_workbook(io.BytesIO(b"".join(victor.get(url("codebook_xlsx", study)))))
    assert book.active["A3"].value == "Concept/negotiability"


# --- One code's page and report -------------------------------------------------------------


def test_the_code_report_lists_every_excerpt_with_speaker_workshop_and_country(
    coded: dict[str, Code], documents: dict[str, Document], people: dict[str, User]
) -> None:
    study, code = coded["concept"].study, coded["negotiability"]
    response = client_for(people["victor"]).get(url("code", study, code.pk))
    shown = text_of(response)
    assert "7 excerpts" in shown
    assert "Coined in FI-1." in shown  # the memo
    assert "Callum (P05) · GB-1, United Kingdom · GB-1" in shown
    assert "Aino (P01) · FI-1, Finland" in shown
    assert "Facilitator (not a participant)" in shown
    assert "coded by alice" in shown and "coded by bob" in shown
    fi = documents["FI-1"]
    link = reverse("coding:workbench", args=[study.slug, fi.pk]) + "#turn-4"
    assert link in response.content.decode()
    # The quote is marked inside a little of the text around it.
    assert "<mark>negotiate the outcome</mark>" in response.content.decode()
    assert "Yes, and I want to </span><mark>negotiate" in response.content.decode()


def test_the_code_report_filters_by_workshop_country_and_coder(
    coded: dict[str, Code], people: dict[str, User]
) -> None:
    study, code = coded["concept"].study, coded["negotiability"]
    viewer = client_for(people["victor"])
    page = url("code", study, code.pk)
    assert "1 excerpt." in text_of(viewer.get(page, {"workshop": "GB-1"}))
    assert "6 excerpts" in text_of(viewer.get(page, {"country": "FI"}))
    by_bob = text_of(viewer.get(page, {"coder": "bob"}))
    assert "3 excerpts" in by_bob and "coded by alice" not in by_bob


def test_the_code_report_downloads_as_csv_and_xlsx_with_every_row(
    coded: dict[str, Code], people: dict[str, User]
) -> None:
    study, code = coded["concept"].study, coded["negotiability"]
    viewer = client_for(people["victor"])
    columns = [
        "code_path",
        "document",
        "workshop",
        "country",
        "participant",
        "speaker",
        "coder",
        "start",
        "end",
        "text",
    ]
    response = viewer.get(url("code_report_csv", study, code.pk))
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == columns
    assert len(rows) == 8
    callum = next(row for row in rows if row[5] == "Callum")
    assert callum[:7] == ["Concept/negotiability", "GB-1", "GB-1", "GB", "P05", "Callum", "alice"]
    assert callum[9] == "Negotiate? With a machine?"
    assert next(row for row in rows if row[5] == "Facilitator")[4] == ""

    filtered = viewer.get(url("code_report_xlsx", study, code.pk), {"workshop": "FI-1"})
    sheet = openpyxl.load_workbook(io.BytesIO(filtered.content)).active
    table = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert table[0] == columns and len(table) == 7
    assert {row[2] for row in table[1:]} == {"FI-1"}
    assert ["P01", "Aino", "alice"] in [row[4:7] for row in table]
    assert sheet["A1"].font.bold and sheet.freeze_panes == "A2"


def test_a_coder_writes_a_memo_on_a_code(coded: dict[str, Code], people: dict[str, User]) -> None:
    study, code = coded["concept"].study, coded["explainability"]
    page = url("code", study, code.pk)
    done = client_for(people["bob"]).post(page, {"text": "Overlaps with accuracy?"}, follow=True)
    assert "Memo saved on explainability." in text_of(done)
    assert "bob," in text_of(done) and "Overlaps with accuracy?" in text_of(done)
    assert client_for(people["victor"]).post(page, {"text": "Me too"}).status_code == 403
    assert Memo.objects.filter(code=code).count() == 1


def test_the_codebook_page_costs_the_same_queries_however_many_codes_and_codings(
    coded: dict[str, Code], documents: dict[str, Document], people: dict[str, User]
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    study, alice = coded["concept"].study, client_for(people["alice"])
    with CaptureQueriesContext(connection) as few:
        alice.get(url("codebook", study))
    for n in range(10):
        code = create_code(study=study, name=f"quality {n}", parent=coded["concept"])
        code_at(documents["FI-1"], code, people["bob"], "explain why")
        code_at(documents["GB-1"], code, people["alice"], "refused a loan")
    with CaptureQueriesContext(connection) as many:
        shown = text_of(alice.get(url("codebook", study)))
    assert "quality 9 2 coded segments · 2 documents · 2 participants · 2 coders" in shown
    assert len(many) == len(few)


def test_an_import_confirmed_after_the_codebook_changed_is_shown_again(
    coded: dict[str, Code], people: dict[str, User]
) -> None:
    study, alice = coded["concept"].study, client_for(people["alice"])
    table = b"path,definition\nConcept/explainability,Giving reasons.\n"
    preview = alice.post(
        url("codebook_import", study), {"file": SimpleUploadedFile("codebook.csv", table)}
    )
    fields = dict(
        re.findall(r'name="(filename|payload|digest)" value="([^"]*)"', preview.content.decode())
    )
    Code.objects.filter(pk=coded["explainability"].pk).update(name="transparency")
    again = alice.post(url("codebook_import", study), {**fields, "confirm": "1"})
    assert "The codebook changed since this preview was made" in text_of(again)
    assert "Concept/explainability new definition 2" in text_of(again)
    assert not Code.objects.filter(study=study, name="explainability").exists()
