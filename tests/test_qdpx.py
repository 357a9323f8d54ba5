"""REFI-QDA (.qdpx, .qde, .qdc): what we write validates against the standard's schema and comes
back as it went out; what other tools write comes in leniently; unsafe files are refused with a
message and nothing written."""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile
from pathlib import Path

import docx
import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.urls import reverse
from lxml import etree

from coding.models import Code, CodeTree, Coding, Memo
from coding.services import CodingSpan, apply_codings
from exports.models import ExchangeId
from exports.qdpx import (
    CODEBOOK_NS,
    PROJECT_NS,
    Guids,
    apply_qdpx,
    import_qdpx,
    normalise_text,
    plan_qdpx,
    write_qdc,
    write_qdpx,
)
from exports.tables import build_table
from studies.importers import FileRejected
from studies.models import Document, Membership, Participant, Study, Turn
from studies.services import create_study
from tests.conftest import INTEROP

SCHEMA = INTEROP / "Project-mrt2019.xsd"
NS = {"q": PROJECT_NS}


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    if not SCHEMA.is_file():
        pytest.skip("../shared/interop/ is absent (it ships beside CI, not in a clone)")
    return etree.XMLSchema(etree.parse(str(SCHEMA)))


def project_xml(data: bytes) -> etree._Element:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return etree.fromstring(archive.read("project.qde"))


def assert_valid(schema: etree.XMLSchema, root: etree._Element) -> None:
    assert schema.validate(root), schema.error_log.last_error


def qdc_as_project(data: bytes) -> etree._Element:
    """A .qdc's codebook inside a project, so that the project schema checks its codes (the
    codebook schema is the same CodeBook type in its own namespace)."""
    text = data.decode().replace(CODEBOOK_NS, PROJECT_NS)
    codebook = etree.fromstring(text.encode())
    project = etree.Element(f"{{{PROJECT_NS}}}Project", nsmap={None: PROJECT_NS}, name="x")
    book = etree.SubElement(project, f"{{{PROJECT_NS}}}CodeBook")
    for child in codebook:
        book.append(child)
    return project


def new_study(owner: User, slug: str = "copy") -> Study:
    return create_study(owner=owner, name=f"Study {slug}", slug=slug)


def coding_rows(study: Study, names: dict[str, str] | None = None) -> list[tuple]:
    """Every coding as (document title, code path, coder, start, end): the coder by the name
    the file gave them (`names`: username -> that name), "consensus" for that layer."""
    names = names or {}
    paths = CodeTree.of(study).path
    rows = []
    for coding in Coding.objects.filter(document__study=study).select_related("document", "coder"):
        coder = "consensus" if coding.consensus else coding.coder.username
        rows.append(
            (
                coding.document.title,
                paths[coding.code_id],
                names.get(coder, coder),
                coding.start,
                coding.end,
            )
        )
    return sorted(rows)


def make_qdpx(qde: str, files: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("project.qde", qde.encode("utf-8"))
        for name, data in (files or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


G = {
    "user": "0A1B2C3D-0000-4000-8000-000000000001",
    "user2": "0a1b2c3d-0000-4000-8000-000000000002",
    "root": "{11111111-1111-4111-8111-111111111111}",
    "child": "22222222-2222-4222-8222-222222222222",
    "other": "33333333-3333-4333-8333-333333333333",
    "src": "44444444-4444-4444-8444-444444444444",
    "src2": "55555555-5555-4555-8555-555555555555",
    "sel": "66666666-6666-4666-8666-666666666666",
    "sel2": "77777777-7777-4777-8777-777777777777",
    "cod": "88888888-8888-4888-8888-888888888888",
    "cod2": "99999999-9999-4999-8999-999999999999",
    "note": "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa",
    "pdf": "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb",
    "pdfsel": "cccccccc-cccc-4ccc-8ccc-cccccccccccc",
    "case": "dddddddd-dddd-4ddd-8ddd-dddddddddddd",
    "var": "eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee",
}

# Written by hand as other tools write: upper-case GUIDs and GUIDs in braces, the text of one
# source inline and of another in a file with Windows line ends, a PDF we cannot hold.
WINDOWS_TEXT = "Interviewer: Why?\r\nAnna: Because I could argue with a person.\r\n"
FOREIGN_QDE = f"""<?xml version="1.0" encoding="utf-8"?>
<Project xmlns="urn:QDA-XML:project:1.0" name="Foreign project" origin="Some QDA 3.1"
    creatingUserGUID="{G["user"]}">
  <Users>
    <User guid="{G["user"]}" name="Riikka K"/>
    <User guid="{{{G["user2"]}}}" name="Sam"/>
  </Users>
  <CodeBook><Codes>
    <Code guid="{G["root"]}" name="Qualities" isCodable="false" color="#336699">
      <Description>What people value in a decision.</Description>
      <Code guid="{G["child"]}" name="argue/appeal" isCodable="true" color="#C00"/>
    </Code>
    <Code guid="{G["other"]}" name="Lending" isCodable="true"/>
  </Codes></CodeBook>
  <Variables>
    <Variable guid="{G["var"]}" name="Age" typeOfVariable="Integer"/>
  </Variables>
  <Cases>
    <Case guid="{G["case"]}" name="Anna">
      <VariableValue>
        <VariableRef targetGUID="{G["var"]}"/><IntegerValue>41</IntegerValue>
      </VariableValue>
      <SourceRef targetGUID="{G["src2"]}"/>
    </Case>
  </Cases>
  <Sources>
    <TextSource guid="{G["src"]}" name="Memo text">
      <PlainTextContent>Lending needs a human.</PlainTextContent>
      <PlainTextSelection guid="{G["sel"]}" startPosition="0" endPosition="7"
          creatingUser="{G["user"]}">
        <Coding guid="{G["cod"]}" creatingUser="{G["user"]}">
          <CodeRef targetGUID="{G["other"].upper()}"/>
        </Coding>
      </PlainTextSelection>
    </TextSource>
    <TextSource guid="{G["src2"]}" name="Interview Anna"
        plainTextPath="internal://{G["src2"]}.txt">
      <PlainTextSelection guid="{G["sel2"]}" startPosition="25" endPosition="60"
          creatingUser="{G["user2"]}">
        <Coding guid="{G["cod2"]}" creatingUser="{G["user2"]}">
          <CodeRef targetGUID="{G["child"]}"/>
          <NoteRef targetGUID="{G["note"]}"/>
        </Coding>
      </PlainTextSelection>
    </TextSource>
    <PDFSource guid="{G["pdf"]}" name="Consent form" path="internal://{G["pdf"]}.pdf">
      <PDFSelection guid="{G["pdfsel"]}" page="1" firstX="1" firstY="1" secondX="2" secondY="2"/>
    </PDFSource>
  </Sources>
  <Notes>
    <Note guid="{G["note"]}" name="why" creatingUser="{G["user2"]}">
      <PlainTextContent>Arguing is the point.</PlainTextContent>
    </Note>
  </Notes>
</Project>
"""


# --- Writing ---------------------------------------------------------------------------------


def test_the_demo_round_trips_and_the_copy_is_usable(demo: Study, schema, client) -> None:
    alice = User.objects.get(username="alice")
    data, counts = write_qdpx(demo)
    root = project_xml(data)
    assert_valid(schema, root)

    # The package: project.qde and a lower-case sources/ folder with one text per source.
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        texts = {n: archive.read(n).decode() for n in names if n != "project.qde"}
    assert all(n.startswith("sources/") and n.endswith(".txt") for n in texts)
    sources = root.findall("q:Sources/q:TextSource", NS)
    assert len(sources) == demo.documents.count() == counts.sources
    by_title = {d.title: d for d in demo.documents.all()}
    for source in sources:
        guid = source.get("guid")
        assert source.get("plainTextPath") == f"internal://{guid}.txt"
        text = texts[f"sources/{guid}.txt"]
        assert text == by_title[source.get("name")].text
        for selection in source.findall("q:PlainTextSelection", NS)[:5]:
            start, end = int(selection.get("startPosition")), int(selection.get("endPosition"))
            assert 0 <= start < end <= len(text)
    assert counts.codings == Coding.objects.filter(document__study=demo).count()
    # One Coding per coder in a selection, each with its creatingUser.
    users = {u.get("guid"): u.get("name") for u in root.findall("q:Users/q:User", NS)}
    coders = {
        users[c.get("creatingUser")] for c in root.iterfind(".//q:PlainTextSelection/q:Coding", NS)
    }
    assert {"bob", "chloe"} <= coders
    # Workshops are Sets of their sources; participants are Cases with their workshop.
    assert {s.get("name") for s in root.findall("q:Sets/q:Set", NS)} == set(
        demo.workshops.values_list("code", flat=True)
    )
    assert len(root.findall("q:Cases/q:Case", NS)) == demo.participants.count()
    # Survey answers travel as variables, survey answers as sources.
    variables = [v.get("name") for v in root.findall("q:Variables/q:Variable", NS)]
    assert any(name.startswith("survey:") for name in variables)
    kinds = [s.findtext("q:Description", namespaces=NS) for s in sources]
    assert any("Kind: Survey text" in (k or "") for k in kinds)

    # GUIDs are the same in the next export.
    again = project_xml(write_qdpx(demo)[0])
    assert _guids(again) == _guids(root)

    # Into a new study: the same codes, documents, text, turns and codings per coder.
    copy = new_study(alice)
    plan = import_qdpx(study=copy, filename="demo.qdpx", data=data, user=alice)
    report = plan.report()
    assert report["in_file"]["codings"] == counts.codings
    assert report["skipped"] == []
    assert _code_rows(copy) == _code_rows(demo)
    assert _documents(copy) == _documents(demo)
    assert _turns(copy) == _turns(demo)
    names = {
        u.username: u.first_name
        for u in User.objects.filter(memberships__study=copy)
        if u.first_name and u.username != u.first_name
    }
    assert coding_rows(copy, names) == coding_rows(demo)
    assert Memo.objects.filter(study=copy).count() == Memo.objects.filter(study=demo).count()
    assert sorted(Participant.objects.filter(study=copy).values_list("code", "workshop__code")) == (
        sorted(Participant.objects.filter(study=demo).values_list("code", "workshop__code"))
    )

    # A second import of the same file changes nothing.
    before = Coding.objects.count(), Document.objects.count(), Code.objects.count()
    second = import_qdpx(study=copy, filename="demo.qdpx", data=data, user=alice)
    assert not second.has_changes
    assert second.summary().startswith("No changes")
    assert (Coding.objects.count(), Document.objects.count(), Code.objects.count()) == before

    # The copy hands the objects back under the GUIDs they came with.
    copied = project_xml(write_qdpx(copy)[0])
    assert_valid(schema, copied)
    assert _guids(copied)["codes"] == _guids(root)["codes"]
    assert _guids(copied)["sources"] == _guids(root)["sources"]

    # Immediately usable: a document opens in the coding view, the codings count in the
    # tables, and each file user is a coder whose agreement is measured.
    document = copy.documents.filter(kind=Document.Kind.TRANSCRIPT).first()
    client.force_login(alice)
    page = client.get(reverse("coding:workbench", args=[copy.slug, document.pk]))
    assert page.status_code == 200
    table = build_table(copy, "frequencies", layer="all")
    original = build_table(demo, "frequencies", layer="all")
    assert table.tidy["value"].sum() == original.tidy["value"].sum()
    out = io.StringIO()
    call_command(
        "reliability", "--study", copy.slug, "--unit", "sentence", "--format", "json", stdout=out
    )
    coded_by = set(json.loads(out.getvalue())["coders"])
    assert {u for u, name in names.items() if name in ("bob", "chloe")} <= coded_by


def _guids(root: etree._Element) -> dict[str, list[str]]:
    return {
        "codes": sorted(c.get("guid") for c in root.iterfind(".//q:Code", NS)),
        "sources": sorted(s.get("guid") for s in root.iterfind("q:Sources/q:TextSource", NS)),
        "selections": sorted(s.get("guid") for s in root.iterfind(".//q:PlainTextSelection", NS)),
        "cases": sorted(s.get("guid") for s in root.iterfind("q:Cases/q:Case", NS)),
    }


def _code_rows(study: Study) -> list[tuple]:
    paths = CodeTree.of(study).path
    return sorted(
        (paths[c.pk], c.colour.upper(), c.codable, c.definition, c.inclusion, c.exclusion)
        for c in Code.objects.filter(study=study)
    )


def _documents(study: Study) -> list[tuple]:
    return sorted(
        (d.title, d.text, d.kind, d.language, d.workshop.code if d.workshop else None)
        for d in study.documents.select_related("workshop")
    )


def _turns(study: Study) -> list[tuple]:
    return sorted(
        Turn.objects.filter(document__study=study).values_list(
            "document__title", "seq", "speaker", "participant__code", "start", "end"
        )
    )


def test_positions_are_code_points_and_layers_and_memos_travel(
    case, schema, people: dict[str, User]
) -> None:
    """Characters outside the Basic Multilingual Plane count once (as in Python, not UTF-16),
    and the consensus layer and memos on a code, a document and a coding come back."""
    study = case.document.study
    alice = people["alice"]
    text = "Päätös 🤖 ei kuuntele.\nEmoji 👩🏽‍⚖️ tuomari.\n"
    document = Document.objects.create(study=study, title="Emoji", text=text, sha256="x")
    code = case.codes["negotiability"]
    start = text.index("ei")
    apply_codings(user=case.bob, spans=[CodingSpan(document.pk, code.pk, start, start + 13)])
    apply_codings(
        user=alice, spans=[CodingSpan(document.pk, code.pk, start, start + 13, consensus=True)]
    )
    coding = Coding.objects.get(document=document, consensus=False)
    Memo.objects.create(study=study, author=case.bob, coding=coding, text="Listening!")
    Memo.objects.create(study=study, author=alice, code=code, text="Our new quality.")
    Memo.objects.create(study=study, author=alice, document=document, text="Robot pun.")
    Memo.objects.create(study=study, author=alice, text="About the study.")

    data, _counts = write_qdpx(study)
    root = project_xml(data)
    assert_valid(schema, root)
    source = next(
        s for s in root.iterfind("q:Sources/q:TextSource", NS) if s.get("name") == "Emoji"
    )
    selection = source.find("q:PlainTextSelection", NS)
    assert (int(selection.get("startPosition")), int(selection.get("endPosition"))) == (
        start,
        start + 13,
    )
    assert {u.get("id") for u in root.iterfind("q:Users/q:User", NS)} >= {"colloquy:consensus"}

    copy = new_study(alice)
    import_qdpx(study=copy, filename="s.qdpx", data=data, user=alice)
    copied = Document.objects.get(study=copy, title="Emoji")
    assert copied.text == text
    layers = sorted(
        (c.consensus, copied.text[c.start : c.end]) for c in Coding.objects.filter(document=copied)
    )
    assert layers == [(False, "ei kuuntele.\n"), (True, "ei kuuntele.\n")]
    assert Coding.objects.get(document=copied, consensus=True).coder == alice
    memos = {m.text: m for m in Memo.objects.filter(study=copy)}
    assert memos["Listening!"].coding.document == copied
    assert memos["Our new quality."].code.name == "negotiability"
    assert memos["Robot pun."].document == copied
    assert memos["About the study."].document is None and memos["About the study."].code is None


def test_the_codebook_alone_validates_and_comes_back(codes, schema, people) -> None:
    study = Study.objects.get(pk=codes["negotiability"].study_id)
    code = codes["negotiability"]
    code.definition = "Being able to argue."
    code.inclusion = "Appeals, workarounds."
    code.example = "I could ask a person."
    code.save()
    data = write_qdc(study)
    assert etree.fromstring(data).tag == f"{{{CODEBOOK_NS}}}CodeBook"
    assert_valid(schema, qdc_as_project(data))
    copy = new_study(people["alice"])
    plan = import_qdpx(study=copy, filename="book.qdc", data=data)
    assert plan.new["codes"] == Code.objects.filter(study=study).count()
    assert _code_rows(copy) == _code_rows(study)
    assert not import_qdpx(study=copy, filename="book.qdc", data=data).has_changes


def test_an_old_codebook_namespace_is_read(people) -> None:
    old = write_qdc_like("urn:QDA-XML:codebook:0:4")
    study = new_study(people["alice"])
    import_qdpx(study=study, filename="old.qdc", data=old)
    assert sorted(CodeTree.of(study).path.values()) == ["Concept", "Concept/negotiability"]


def write_qdc_like(namespace: str) -> bytes:
    return f"""<?xml version="1.0"?>
<CodeBook xmlns="{namespace}" origin="elsewhere"><Codes>
  <Code guid="{{ABCDEF01-2345-4678-9ABC-DEF012345678}}" name="Concept" isCodable="false">
    <Code guid="abcdef01-2345-4678-9abc-def012345679" name="negotiability" isCodable="true"/>
  </Code>
</Codes></CodeBook>""".encode()


# --- Reading other tools' files ---------------------------------------------------------------


def test_nvivo_project_comes_in_with_the_counts_its_xml_declares(
    interop: Path, people, client
) -> None:
    path = interop / "nvivo15_mac_codebook_two_sources.qdpx"
    data = path.read_bytes()
    declared = project_xml(data)
    n_codes = len(list(declared.iterfind(".//q:Code", NS)))
    n_sources = len(declared.findall("q:Sources/q:TextSource", NS))
    study = new_study(people["alice"])
    plan = import_qdpx(study=study, filename=path.name, data=data, user=people["alice"])
    assert plan.in_file["codes"] == n_codes == Code.objects.filter(study=study).count() == 262
    assert plan.in_file["sources"] == n_sources == study.documents.count() == 2
    assert plan.in_file["users"] == 2
    # The nesting is kept: rq1_definition/concepts/abstraction.
    assert "rq1_definition/concepts/abstraction" in CodeTree.of(study).path.values()
    # Its sources are a one-byte .txt beside an empty .docx: empty documents that still open.
    assert set(study.documents.values_list("text", flat=True)) == {""}
    client.force_login(people["alice"])
    for document in study.documents.all():
        assert (
            client.get(reverse("coding:workbench", args=[study.slug, document.pk])).status_code
            == 200
        )
        assert client.get(document.get_absolute_url()).status_code == 200
    assert not import_qdpx(study=study, filename=path.name, data=data).has_changes


def test_atlas_ti_upper_case_guids(interop: Path, people) -> None:
    path = interop / "atlasti23_codebook_only.qdpx"
    study = new_study(people["alice"])
    plan = import_qdpx(study=study, filename=path.name, data=path.read_bytes())
    assert plan.in_file["codes"] == 3 and plan.new["codes"] == 3
    assert sorted(CodeTree.of(study).path.values()) == [
        "Commits",
        "Commits/2022-02-11T10:39:25Z cdbfd92",
        "Commits/2022-05-10T02:05:59Z 19e4dce",
    ]
    stored = set(ExchangeId.objects.filter(study=study, kind="code").values_list("guid", flat=True))
    assert str(sorted(stored)[0]) == str(sorted(stored)[0]).lower()
    # Users without a coding or a note get no account.
    assert plan.skipped and not User.objects.filter(first_name="ATLAS.ti").exists()


def test_a_foreign_project_comes_in_leniently(people, roster_study) -> None:
    alice = people["alice"]
    workshop = roster_study.workshops.get(code="GB-1")
    data = make_qdpx(FOREIGN_QDE, {f"Sources/{G['src2']}.TXT": WINDOWS_TEXT.encode("utf-8")})
    plan = plan_qdpx(
        study=roster_study, filename="f.qdpx", data=data, user=alice, workshop=workshop
    )
    report = plan.report()
    assert report["in_file"] == {
        "users": 2,
        "codes": 3,
        "variables": 1,
        "cases": 1,
        "sources": 3,
        "selections": 2,
        "codings": 2,
        "notes": 1,
        "sets": 0,
    }
    assert [s["what"] for s in report["skipped"]] == ["PDF sources: Colloquy holds text only"]
    assert Code.objects.filter(study=roster_study, name="Lending").count() == 0  # a plan only

    import_qdpx(study=roster_study, filename="f.qdpx", data=data, user=alice, workshop=workshop)
    paths = CodeTree.of(roster_study).path
    assert "Qualities/argue-appeal" in paths.values()
    lending = Code.objects.get(study=roster_study, name="Lending")
    assert lending.colour == lending.colour.upper()
    assert Code.objects.get(study=roster_study, name="argue-appeal").colour == "#CC0000"
    assert Code.objects.get(study=roster_study, name="Qualities").definition == (
        "What people value in a decision."
    )
    interview = Document.objects.get(study=roster_study, title="Interview Anna")
    # "\r\n" became "\n": the selection still covers the same words.
    assert interview.text == WINDOWS_TEXT.replace("\r\n", "\n")
    coding = Coding.objects.get(document=interview)
    assert interview.text[coding.start : coding.end] == "Because I could argue with a person"
    assert coding.coder.first_name == "Sam"
    assert Membership.objects.get(study=roster_study, user=coding.coder).role == "coder"
    # The case is a participant of the chosen workshop, with the variable, and speaks there.
    anna = Participant.objects.get(study=roster_study, code="Anna")
    assert anna.workshop == workshop
    assert anna.values.get().value == "41"
    turn = Turn.objects.get(document=interview, speaker="Anna")
    assert turn.participant == anna
    assert Memo.objects.get(study=roster_study, text="Arguing is the point.").coding == coding
    inline = Document.objects.get(study=roster_study, title="Memo text")
    assert Coding.objects.get(document=inline).code == lending


def test_crlf_positions_map_onto_our_text() -> None:
    raw = "a\r\nb\rc e\u0301\r\n"
    text, offsets = normalise_text(raw)
    assert text == "a\nb\nc \u00e9\n"
    assert text[offsets[raw.index("b")]] == "b"
    assert text[offsets[raw.index("c")]] == "c"
    assert offsets[len(raw)] == len(text)
    assert normalise_text("plain\n") == ("plain\n", None)


def test_the_quick_guids_of_selections_and_codings_are_version_5_uuids(roster_study) -> None:
    """An export writes a GUID per selection and coding without building UUID objects; they
    are exactly the name-based UUIDs a later import looks for."""
    guids = Guids(roster_study)
    for kind, pk in [("coding", 1), ("selection", "3:0:17"), ("coding", 10**9), ("user", 7)]:
        assert guids.derived_text(kind, pk) == str(guids.derived(kind, pk))
        assert guids.derived(kind, pk).version == 5


def test_a_docx_stands_in_for_an_empty_text(people) -> None:
    rich = docx.Document()
    rich.add_paragraph("Facilitator: What would you change?")
    rich.add_paragraph("Anna: I would ask for a person.")
    buffer = io.BytesIO()
    rich.save(buffer)
    qde = f"""<Project xmlns="urn:QDA-XML:project:1.0" name="p">
      <Sources><TextSource guid="{G["src"]}" name="Rich" plainTextPath="internal://{G["src"]}.txt"
        richTextPath="internal://{G["src"]}.docx"/></Sources></Project>"""
    data = make_qdpx(
        qde, {f"sources/{G['src']}.txt": b"\n", f"sources/{G['src']}.docx": buffer.getvalue()}
    )
    study = new_study(people["alice"])
    import_qdpx(study=study, filename="r.qdpx", data=data)
    document = Document.objects.get(study=study)
    assert document.text == ("Facilitator: What would you change?\nAnna: I would ask for a person.")
    assert document.sentences.count() >= 2


def test_audio_picture_and_whole_source_codings_are_reported(people) -> None:
    qde = f"""<Project xmlns="urn:QDA-XML:project:1.0" name="p">
      <Users><User guid="{G["user"]}" name="u"/></Users>
      <CodeBook><Codes><Code guid="{G["other"]}" name="C" isCodable="true"/></Codes></CodeBook>
      <Sources>
        <TextSource guid="{G["src"]}" name="T"><PlainTextContent>Some text.</PlainTextContent>
          <PlainTextSelection guid="{G["sel"]}" startPosition="5" endPosition="500">
            <Coding guid="{G["cod"]}" creatingUser="{G["user"]}">
              <CodeRef targetGUID="{G["other"]}"/></Coding>
          </PlainTextSelection>
          <Coding guid="{G["cod2"]}" creatingUser="{G["user"]}">
            <CodeRef targetGUID="{G["other"]}"/></Coding>
        </TextSource>
        <AudioSource guid="{G["pdf"]}" name="A" path="relative://a.mp3">
          <AudioSelection guid="{G["pdfsel"]}" begin="0" end="10"/>
        </AudioSource>
        <PictureSource guid="{G["src2"]}" name="P" path="internal://p.png"/>
        <TextSource guid="{G["case"]}" name="Far" plainTextPath="relative://far.txt"/>
      </Sources></Project>"""
    study = new_study(people["alice"])
    plan = import_qdpx(study=study, filename="m.qdpx", data=make_qdpx(qde), user=people["alice"])
    skipped = {s["what"]: s["count"] for s in plan.report()["skipped"]}
    assert skipped == {
        "selections outside their source's text (or empty)": 1,
        "codings of a whole source (not of a passage)": 1,
        "audio sources and their selections: import the transcript itself": 1,
        "picture sources and their selections: Colloquy holds text only": 1,
        "text sources that point outside the project (relative:// or absolute:// paths)": 1,
        "users with no codings or notes in the file (no account is made)": 1,
    }
    assert list(study.documents.values_list("title", flat=True)) == ["T"]
    texts = [s["text"] for s in plan.report()["skipped"]]
    assert "1 selection outside its source's text (or empty)" in texts
    assert "1 picture source and its selections: Colloquy holds text only" in texts


# --- Refusing unsafe and broken files ---------------------------------------------------------


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE Project [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Project xmlns="urn:QDA-XML:project:1.0" name="&secret;"/>"""
LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<Project xmlns="urn:QDA-XML:project:1.0" name="&lol2;"/>"""


def _bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("project.qde", b'<Project xmlns="urn:QDA-XML:project:1.0" name="x"/>')
        archive.writestr("sources/big.txt", b"\0" * (300 * 1024 * 1024))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("filename", "data", "message"),
    [
        ("x.qde", XXE, "declares a DTD or entities"),
        ("x.qde", LAUGHS, "declares a DTD or entities"),
        ("x.qdpx", make_qdpx("<Project/>", {"../../evil.txt": b"x"}), "points outside the package"),
        ("x.qdpx", make_qdpx("<Project/>", {"/etc/evil.txt": b"x"}), "points outside the package"),
        ("x.qdpx", b"PK\x03\x04 not really a zip", "not a .qdpx package"),
        ("x.qdpx", make_qdpx("<Project", {}), "not well-formed XML"),
        ("x.qde", b"<Codebook/>", "its root element is <Codebook>"),
        ("x.pdf", b"%PDF-1.4", "unsupported file type '.pdf'"),
        (
            "x.qde",
            b'<Project xmlns="urn:QDA-XML:project:1.0" name="p"><Users>'
            b'<User guid="not-a-guid" name="u"/></Users></Project>',
            "User 1 has no valid GUID ('not-a-guid')",
        ),
    ],
)
def test_unsafe_and_broken_files_are_refused(people, filename, data, message) -> None:
    study = new_study(people["alice"])
    with pytest.raises(FileRejected, match=re.escape(message)):
        plan_qdpx(study=study, filename=filename, data=data)


def test_a_zip_bomb_is_refused(people) -> None:
    study = new_study(people["alice"])
    with pytest.raises(FileRejected, match="zip bomb"):
        plan_qdpx(study=study, filename="bomb.qdpx", data=_bomb())


def test_a_package_without_a_project_is_refused(people) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", b"hello")
    study = new_study(people["alice"])
    with pytest.raises(FileRejected, match=r"has no project\.qde"):
        plan_qdpx(study=study, filename="p.qdpx", data=buffer.getvalue())


def test_a_refused_import_writes_nothing(people, roster_study) -> None:
    """A case the roster rules refuse (a code over 32 characters) stops the whole import, the
    codebook and the sources before it included."""
    long_case = FOREIGN_QDE.replace('name="Anna"', 'name="' + "A" * 40 + '"')
    data = make_qdpx(long_case, {f"sources/{G['src2']}.txt": WINDOWS_TEXT.encode()})
    workshop = roster_study.workshops.get(code="GB-1")
    before = (Code.objects.count(), Document.objects.count(), User.objects.count())
    with pytest.raises(FileRejected, match="over 32 characters"):
        import_qdpx(study=roster_study, filename="f.qdpx", data=data, workshop=workshop)
    assert (Code.objects.count(), Document.objects.count(), User.objects.count()) == before


def test_cases_without_a_workshop_need_one(people) -> None:
    study = new_study(people["alice"])
    data = make_qdpx(FOREIGN_QDE, {f"sources/{G['src2']}.txt": WINDOWS_TEXT.encode()})
    with pytest.raises(FileRejected, match="Case 'Anna' belongs to no workshop"):
        plan_qdpx(study=study, filename="f.qdpx", data=data)


def test_a_changed_text_under_a_known_guid_is_refused(case, people) -> None:
    study = case.document.study
    data, _ = write_qdpx(study)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {n: archive.read(n) for n in archive.namelist()}
    name = next(n for n, body in files.items() if n != "project.qde" and body.startswith(b"I want"))
    files[name] = files[name].replace(b"I want", b"I need")
    qde = files.pop("project.qde").decode()
    with pytest.raises(FileRejected, match="with a different text"):
        plan_qdpx(study=study, filename="changed.qdpx", data=make_qdpx(qde, files))


# --- Commands ---------------------------------------------------------------------------------


def test_commands_export_and_import(case, tmp_path: Path, people) -> None:
    study = case.document.study
    target = tmp_path / "study.qdpx"
    out = io.StringIO()
    call_command("export_qdpx", "--study", study.slug, "-o", str(target), stdout=out)
    assert out.getvalue().startswith(f"Wrote {target}:")
    book = tmp_path / "book.qdc"
    call_command("export_qdpx", "--study", study.slug, "-o", str(book), stdout=io.StringIO())
    assert etree.fromstring(book.read_bytes()).tag == f"{{{CODEBOOK_NS}}}CodeBook"

    copy = new_study(people["alice"])
    out = io.StringIO()
    call_command("import_qdpx", str(target), "--study", copy.slug, "--dry-run", stdout=out)
    assert out.getvalue().startswith("Would import: study.qdpx: adds")
    assert not copy.documents.exists()
    out = io.StringIO()
    call_command("import_qdpx", str(target), "--study", copy.slug, stdout=out)
    assert "In the file:" in out.getvalue()
    assert coding_rows(copy, _names(copy)) == coding_rows(study)
    out = io.StringIO()
    call_command("import_qdpx", str(target), "--study", copy.slug, "--json", stdout=out)
    assert json.loads(out.getvalue())["summary"].startswith("No changes")


def _names(study: Study) -> dict[str, str]:
    return {
        u.username: u.first_name
        for u in User.objects.filter(memberships__study=study)
        if u.first_name and u.first_name != u.username
    }


def test_commands_refuse_bad_input_in_one_line(people, tmp_path: Path) -> None:
    study = new_study(people["alice"])
    bad = tmp_path / "evil.qde"
    bad.write_bytes(XXE)
    with pytest.raises(CommandError, match=r"^evil.qde: is refused: it declares a DTD"):
        call_command("import_qdpx", str(bad), "--study", study.slug)
    with pytest.raises(CommandError, match="no such workshop"):
        call_command("import_qdpx", str(bad), "--study", study.slug, "--workshop", "XX")
    with pytest.raises(CommandError, match=r"name a \.qdpx"):
        call_command("export_qdpx", "--study", study.slug, "-o", str(tmp_path / "x.zip"))


def test_known_participants_stay_where_they_are_and_variables_keep_their_type(
    people, roster_study
) -> None:
    """A case named like a participant of the study is that participant: without a workshop
    in the file they stay in theirs, and a variable the study has keeps its type."""
    qde = f"""<Project xmlns="urn:QDA-XML:project:1.0" name="p">
      <Variables><Variable guid="{G["var"]}" name="Age band" typeOfVariable="Integer"/></Variables>
      <Cases><Case guid="{G["case"]}" name="p01">
        <VariableValue><VariableRef targetGUID="{G["var"]}"/><TextValue>45-59</TextValue>
        </VariableValue></Case></Cases></Project>"""
    gb = roster_study.workshops.get(code="GB-1")
    plan = import_qdpx(study=roster_study, filename="p.qde", data=qde.encode(), workshop=gb)
    assert plan.roster.participants_changed == ["P01"]
    p01 = Participant.objects.get(study=roster_study, code="P01")
    assert p01.workshop.code == "FI-1"
    assert p01.values.get(variable__name="age band").value == "45-59"


def test_a_project_is_pseudonymised_on_the_way_in_and_its_codings_move_with_the_text(
    people, roster_study
) -> None:
    """Names of participants, phone numbers and the like in a source's text are replaced as
    in a transcript import; every coding still covers the same words."""
    from studies.models import Pseudonym

    roster_study.keep_pseudonyms = True
    roster_study.save()
    text = (
        "Interviewer: Did Callum call you?\n"
        "Amara: Yes, Callum phoned me on 0161 496 0000, and I could argue with a person.\n"
    )
    start = text.index("I could argue")
    end = start + len("I could argue with a person")
    qde = f"""<?xml version="1.0" encoding="utf-8"?>
<Project xmlns="urn:QDA-XML:project:1.0" name="P" creatingUserGUID="{G["user"]}">
  <Users><User guid="{G["user"]}" name="Riikka K"/></Users>
  <CodeBook><Codes><Code guid="{G["other"]}" name="argue" isCodable="true"/></Codes></CodeBook>
  <Sources>
    <TextSource guid="{G["src"]}" name="GB interview">
      <PlainTextContent>{text}</PlainTextContent>
      <PlainTextSelection guid="{G["sel"]}" startPosition="{start}" endPosition="{end}">
        <Coding guid="{G["cod"]}" creatingUser="{G["user"]}">
          <CodeRef targetGUID="{G["other"]}"/>
        </Coding>
      </PlainTextSelection>
    </TextSource>
  </Sources>
</Project>"""
    gb = roster_study.workshops.get(code="GB-1")
    plan = plan_qdpx(
        study=roster_study,
        filename="p.qdpx",
        data=make_qdpx(qde),
        user=people["alice"],
        workshop=gb,
        pseudonymise=True,
    )
    report = plan.report()
    assert {(p["kind"], p["count"]) for p in report["pseudonymised"]} == {
        ("participant", 3),
        ("phone", 1),
    }
    assert ["Callum", "[P05]"] in report["pseudonymised"][0]["examples"]
    assert "replaces 4 pieces of personal data" in plan.summary()
    kept = plan_qdpx(
        study=roster_study,
        filename="p.qdpx",
        data=make_qdpx(qde),
        user=people["alice"],
        workshop=gb,
        pseudonymise=True,
        keep_kinds=["phone"],
    )
    assert "0161 496 0000" in kept.sources[uuid.UUID(G["src"])].text  # kept on the owner's word
    assert {(p["kind"], p["found"], p["count"]) for p in kept.report()["pseudonymised"]} == {
        ("participant", 3, 3),
        ("phone", 1, 0),
    }
    apply_qdpx(study=roster_study, plan=plan, user=people["alice"])
    document = roster_study.documents.get(title="GB interview")
    assert "Callum" not in document.text and "0161" not in document.text
    assert document.text.startswith("Interviewer: Did [P05] call you?\n[P04]: Yes, [P05] phoned")
    [coding] = Coding.objects.filter(document=document)
    assert document.text[coding.start : coding.end] == "I could argue with a person"
    speakers = [(t.speaker, t.participant_id is not None) for t in document.turns.all()]
    assert speakers == [("Interviewer", False), ("P04", True)]
    assert Pseudonym.objects.filter(document=document, original="Callum").get().count == 2
