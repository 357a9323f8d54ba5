"""REFI-QDA: a study to and from NVivo, ATLAS.ti, MAXQDA, QualCoder (.qdpx projects, .qdc
codebooks; the QDA-XML 1.0 schema and the REFI-QDA 1.5 specification).

What travels, and as what:
- coders are Users (the consensus layer is a User of its own, id `colloquy:consensus`); each
  coding is a Coding with its coder as `creatingUser`, inside one PlainTextSelection per span;
- the codebook is the CodeBook (hierarchy, colours; definition, when to apply, when not, example
  in the Description);
- participants are Cases, with their variables, their workshop and country and their survey
  answers (one Text variable per closed question, `survey:SLUG/CODE`) as VariableValues, and
  the sources they speak in as SourceRefs;
- documents (transcripts, survey answers, notes) are TextSources whose text is
  `sources/GUID.txt` (UTF-8); memos are Notes; workshops are Sets of their sources.
Positions are code points from 0, end exclusive: ours as they are.

GUIDs: an object that came in from a file keeps its GUID (`ExchangeId`); every other object's
is derived from the study and the object (uuid5), so it is the same in every export.

Reading is lenient about what tools write (upper- or lower-case GUIDs, GUIDs in braces, the old
codebook namespace, text inline or in a file, an empty .txt beside a .docx, `\\r\\n` line ends)
and strict about safety: no DTD or entity (defusedxml), member names that leave the package,
zip bombs and oversize files are refused. Nothing is written until the whole file is read and
checked, and then all of it in one transaction.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import re
import unicodedata
import uuid
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from xml.etree.ElementTree import Element as StdElement

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from lxml import etree

from coding.models import CODE_SECTIONS, Code, CodeTree, Coding, Memo
from coding.services import (
    CodebookError,
    CodebookPlan,
    CodebookRow,
    CodingSpan,
    CodingsRefused,
    apply_codebook,
    apply_codings,
    normalise_colour,
    plan_codebook_rows,
)
from studies.audit import covered, record
from studies.importers import (
    DEFAULT_MAX_RATIO,
    DEFAULT_MAX_UNZIPPED_BYTES,
    FileRejected,
    ParsedTranscript,
    ParsedTurn,
    Table,
    TableRow,
    parse_transcript,
)
from studies.importers.zipsafety import check_zip_package
from studies.models import (
    AuditEvent,
    Document,
    Membership,
    Participant,
    ParticipantValue,
    Study,
    Turn,
    Variable,
    Workshop,
)
from studies.pseudonymise import KINDS as PERSONAL_DATA
from studies.pseudonymise import Decisions
from studies.services import (
    RosterPlan,
    apply_roster,
    check_upload_size,
    plan_roster_table,
    preview_parsed,
    pseudonymise_transcript,
    store_transcript,
)
from studies.wording import plural

from .models import ExchangeId

PROJECT_NS = "urn:QDA-XML:project:1.0"
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
# Older files in the wild; read, never written.
CODEBOOK_NAMESPACES = {CODEBOOK_NS, "urn:QDA-XML:codebook:0:4", "urn:QDA-XML:codebook:0.4"}
ORIGIN = "Colloquy"
CONSENSUS_ID = "colloquy:consensus"
# The namespace every derived GUID hangs from; changing it would change every export's GUIDs.
GUID_ROOT = uuid.UUID("6f1d0a2e-3c1b-5e7a-9c55-2a4b1f7d9e01")
KIND = ExchangeId.Kind

# How a description carries what REFI-QDA has no field for: "Country: FI" lines.
FACT_RE = re.compile(r"^(?P<key>[A-Za-z][A-Za-z ]{0,30}):[ \t]*(?P<value>.*)$")
WORKSHOP_FACTS = (
    ("country", "Country"),
    ("language", "Language"),
    ("site", "Site"),
    ("date", "Date"),
    ("facilitators", "Facilitators"),
)
SOURCE_KINDS = {"Source", "TextSource", "PictureSource", "PDFSource", "AudioSource", "VideoSource"}
MAX_SOURCE_BYTES = 50 * 1024 * 1024


def _now() -> str:
    return timezone.now().astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@functools.lru_cache(maxsize=4096)
def _stamp(value: dt.datetime | None) -> str | None:
    """A time as the schema's xsd:dateTime in UTC (cached: codings imported or bulk-made
    together share theirs)."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Skip:
    """A reason an import leaves something out, worded for one and for several; `many` is its
    name in reports (the API's "what")."""

    one: str
    many: str

    def counted(self, n: int) -> str:
        return f"{n:,} {self.one if n == 1 else self.many}"


SKIP_IDLE_USER = Skip(
    "user with no codings or notes in the file (no account is made)",
    "users with no codings or notes in the file (no account is made)",
)
SKIP_SET = Skip(
    "Set that is not a workshop (no 'Country:' line): Colloquy groups documents by workshop",
    "Sets that are not workshops (no 'Country:' line): Colloquy groups documents by workshop",
)
SKIP_SURVEY_ANSWER = Skip(
    "survey answer already in this study's surveys",
    "survey answers already in this study's surveys",
)
SKIP_PDF = Skip("PDF source: Colloquy holds text only", "PDF sources: Colloquy holds text only")
SKIP_PICTURE = Skip(
    "picture source and its selections: Colloquy holds text only",
    "picture sources and their selections: Colloquy holds text only",
)
SKIP_AUDIO = Skip(
    "audio source and its selections: import the transcript itself",
    "audio sources and their selections: import the transcript itself",
)
SKIP_VIDEO = Skip(
    "video source and its selections: import the transcript itself",
    "video sources and their selections: import the transcript itself",
)
SKIP_NO_FOLDER = Skip(
    "text source whose text is missing (a lone .qde holds no sources/ folder)",
    "text sources whose text is missing (a lone .qde holds no sources/ folder)",
)
SKIP_NO_FILE = Skip(
    "text source whose text is missing (the package has no such file)",
    "text sources whose text is missing (the package has no such file)",
)
SKIP_OUTSIDE = Skip(
    "text source that points outside the project (a relative:// or absolute:// path)",
    "text sources that point outside the project (relative:// or absolute:// paths)",
)
SKIP_WHOLE_SOURCE = Skip(
    "coding of a whole source (not of a passage)", "codings of a whole source (not of a passage)"
)
SKIP_OUTSIDE_TEXT = Skip(
    "selection outside its source's text (or empty)",
    "selections outside their source's text (or empty)",
)
SKIP_UNKNOWN_CODE = Skip(
    "coding of a code the codebook does not hold", "codings of a code the codebook does not hold"
)
SKIP_UNKNOWN_USER = Skip(
    "coding by a user the file does not list", "codings by a user the file does not list"
)
SKIP_NOTE_FILE = Skip(
    "note without plain text (its text lives in a file we do not read)",
    "notes without plain text (their text lives in a file we do not read)",
)


# --- GUIDs ----------------------------------------------------------------------------------


class Guids:
    """Every object's GUID in one study's files: a stored one (it came from a file) or one
    derived from the study and the object, the same in every export."""

    def __init__(self, study: Study) -> None:
        self.study = study
        self.namespace = uuid.uuid5(
            GUID_ROOT, f"{study.pk}:{study.created_at.isoformat() if study.created_at else ''}"
        )
        self._prefix = self.namespace.bytes
        self.stored: dict[tuple[str, int], uuid.UUID] = {}
        self.found: dict[tuple[str, uuid.UUID], int] = {}
        self._ours: dict[str, dict[uuid.UUID, int]] = {}
        for kind, object_id, guid in ExchangeId.objects.filter(study=study).values_list(
            "kind", "object_id", "guid"
        ):
            self.stored[(kind, object_id)] = guid
            self.found[(kind, guid)] = object_id

    def derived(self, kind: str, pk: int | str) -> uuid.UUID:
        return uuid.uuid5(self.namespace, f"{kind}:{pk}")

    def derived_text(self, kind: str, pk: int | str) -> str:
        """str(self.derived(kind, pk)), worked out directly (an export asks for one per
        selection and coding): the name-based UUID of RFC 4122, version 5."""
        digest = bytearray(hashlib.sha1(self._prefix + f"{kind}:{pk}".encode()).digest()[:16])  # noqa: S324
        digest[6] = (digest[6] & 0x0F) | 0x50
        digest[8] = (digest[8] & 0x3F) | 0x80
        h = digest.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def of(self, kind: str, pk: int) -> str:
        stored = self.stored.get((kind, pk))
        return str(stored) if stored else self.derived_text(kind, pk)

    def find(self, kind: str, guid: uuid.UUID, candidates: Iterable[int]) -> int | None:
        """The object of `kind` with this GUID: one that came from a file, or one of ours (from
        `candidates`, the study's objects of that kind) whose derived GUID it is."""
        if (kind, guid) in self.found:
            return self.found[(kind, guid)]
        if kind not in self._ours:
            self._ours[kind] = {
                self.derived(kind, pk): pk for pk in candidates if (kind, pk) not in self.stored
            }
        return self._ours[kind].get(guid)


# --- Writing --------------------------------------------------------------------------------


def _q(tag: str, ns: str = PROJECT_NS) -> str:
    return f"{{{ns}}}{tag}"


def _sub(parent: etree._Element, tag: str, ns: str = PROJECT_NS, **attrs: str | None):
    return etree.SubElement(
        parent, _q(tag, ns), {k: v for k, v in attrs.items() if v is not None and v != ""}
    )


def _text_element(parent: etree._Element, tag: str, text: str, ns: str = PROJECT_NS) -> None:
    if text:
        _sub(parent, tag, ns).text = _xml_safe(text)


_XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_safe(text: str) -> str:
    """XML 1.0 cannot carry most control characters; a text that holds one keeps its length
    (positions into it stay right) with U+FFFD in its place."""
    return _XML_UNSAFE.sub("\ufffd", text)


def _code_description(code: dict) -> str:
    parts = [code["definition"].strip()] if code["definition"].strip() else []
    for name, label in CODE_SECTIONS:
        if code[name].strip():
            parts.append(f"{label}: {code[name].strip()}")
    return "\n\n".join(parts)


def _codebook(parent: etree._Element, study: Study, guids: Guids, ns: str, notes: dict) -> int:
    codes = {
        c["pk"]: c
        for c in Code.objects.filter(study=study).values(
            "pk",
            "parent_id",
            "name",
            "colour",
            "codable",
            "order",
            "definition",
            "inclusion",
            "exclusion",
            "example",
        )
    }
    tree = CodeTree(
        (c["pk"], c["parent_id"], c["name"], c["codable"], c["order"]) for c in codes.values()
    )
    holder = _sub(_sub(parent, "CodeBook", ns), "Codes", ns)
    elements: dict[int | None, etree._Element] = {None: holder}
    for pk, _depth in tree.walk():
        code = codes[pk]
        element = _sub(
            elements[code["parent_id"]],
            "Code",
            ns,
            guid=guids.of(KIND.CODE, pk),
            name=_xml_safe(code["name"]),
            isCodable="true" if code["codable"] else "false",
            color=code["colour"].upper(),
        )
        _text_element(element, "Description", _code_description(code), ns)
        for note in notes.get(("code", pk), []):
            _sub(element, "NoteRef", ns, targetGUID=note)
        elements[pk] = element
    return len(codes)


def write_qdc(study: Study) -> bytes:
    """The study's codebook alone, as a REFI-QDA codebook (.qdc)."""
    root = etree.Element(_q("CodeBook", CODEBOOK_NS), nsmap={None: CODEBOOK_NS})
    root.set("origin", ORIGIN)
    guids = Guids(study)
    _codebook_into(root, study, guids)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def _codebook_into(root: etree._Element, study: Study, guids: Guids) -> None:
    # A .qdc's root is the CodeBook itself, holding Codes.
    scratch = etree.Element("scratch")
    _codebook(scratch, study, guids, CODEBOOK_NS, {})
    for child in scratch[0]:
        root.append(child)


@dataclass
class ExportCounts:
    users: int = 0
    codes: int = 0
    variables: int = 0
    cases: int = 0
    sources: int = 0
    selections: int = 0
    codings: int = 0
    notes: int = 0
    sets: int = 0


def write_qdpx(study: Study) -> tuple[bytes, ExportCounts]:
    """The whole study as a REFI-QDA project (.qdpx): everyone's codings and the survey
    answers of each participant, so only owners export it (the caller checks)."""
    guids = Guids(study)
    counts = ExportCounts()
    User = get_user_model()
    root = etree.Element(_q("Project"), nsmap={None: PROJECT_NS})
    root.set("name", _xml_safe(study.name))
    root.set("origin", ORIGIN)
    if study.created_at:
        root.set("creationDateTime", _stamp(study.created_at))
    root.set("modifiedDateTime", _now())

    # Memos first: every object that has one points at its Note.
    memos = list(
        Memo.objects.filter(study=study)
        .order_by("created_at", "pk")
        .values(
            "pk",
            "author_id",
            "document_id",
            "code_id",
            "coding_id",
            "text",
            "created_at",
            "updated_at",
        )
    )
    notes: dict[tuple[str, int | None], list[str]] = defaultdict(list)
    for memo in memos:
        target = (
            ("document", memo["document_id"])
            if memo["document_id"]
            else ("code", memo["code_id"])
            if memo["code_id"]
            else ("coding", memo["coding_id"])
            if memo["coding_id"]
            else ("project", None)
        )
        notes[target].append(guids.of(KIND.MEMO, memo["pk"]))

    codings = list(
        Coding.objects.filter(document__study=study)
        .by_people()
        .order_by("document_id", "start", "end", "consensus", "coder_id", "code_id")
        .values_list(
            "pk", "document_id", "code_id", "coder_id", "start", "end", "consensus", "created_at"
        )
    )
    user_ids = {row[3] for row in codings if not row[6]} | {m["author_id"] for m in memos}
    user_ids |= set(
        Membership.objects.filter(study=study, user__machine_coder__isnull=True)
        .exclude(role=Membership.Role.VIEWER)
        .values_list("user_id", flat=True)
    )
    users = dict(User.objects.filter(pk__in=user_ids).values_list("pk", User.USERNAME_FIELD))
    consensus_guid = str(guids.derived("consensus", 0))
    users_element = _sub(root, "Users")
    for pk, username in sorted(users.items(), key=lambda item: item[1].casefold()):
        _sub(users_element, "User", guid=guids.of(KIND.USER, pk), name=username, id=username)
    if any(row[6] for row in codings):
        _sub(users_element, "User", guid=consensus_guid, name="Consensus", id=CONSENSUS_ID)
    counts.users = len(users_element)
    if not len(users_element):
        root.remove(users_element)

    user_guids = {pk: guids.of(KIND.USER, pk) for pk in users}

    def user_guid(pk: int, consensus: bool) -> str:
        return consensus_guid if consensus else user_guids[pk]

    counts.codes = _codebook(root, study, guids, PROJECT_NS, notes)
    code_guid = {
        pk: guids.of(KIND.CODE, pk)
        for pk in Code.objects.filter(study=study).values_list("pk", flat=True)
    }
    if not counts.codes:
        root.remove(root[-1])

    # Variables: the workshop and country of each participant, the study's variables, and the
    # participants' answers to closed survey questions.
    variables = list(
        Variable.objects.filter(study=study).values_list("pk", "name", "kind", "choices")
    )
    # The survey answers come from the analysis frame's module, which loads pandas: only here.
    from .frame import survey_answer_labels, surveys_data

    survey_columns: dict[str, dict[str, str]] = {}
    for survey in surveys_data(study).values():
        survey_columns.update(survey_answer_labels(survey))
    variables_element = _sub(root, "Variables")
    fixed = {"workshop": "Workshop", "country": "Country"}
    for key, name in fixed.items():
        _sub(
            variables_element,
            "Variable",
            guid=str(guids.derived("variable", key)),
            name=name,
            typeOfVariable="Text",
        )
    for pk, name, kind, choices in variables:
        element = _sub(
            variables_element,
            "Variable",
            guid=guids.of(KIND.VARIABLE, pk),
            name=_xml_safe(name),
            typeOfVariable="Float" if kind == Variable.Kind.NUMBER else "Text",
        )
        if kind == Variable.Kind.CHOICE:
            _text_element(element, "Description", "Choices:\n" + choices.strip())
    for column in survey_columns:
        element = _sub(
            variables_element,
            "Variable",
            guid=str(guids.derived("survey", column)),
            name=_xml_safe(column),
            typeOfVariable="Text",
        )
        _text_element(element, "Description", "An answer to a closed survey question.")
    counts.variables = len(variables_element)

    participants = list(
        Participant.objects.current()
        .filter(study=study)
        .order_by("code")
        .values_list("pk", "code", "aliases", "workshop__code", "workshop__country")
    )
    values: dict[int, list[tuple[int, str, float | None]]] = defaultdict(list)
    for participant_id, variable_id, value, number in ParticipantValue.objects.filter(
        participant__study=study
    ).values_list("participant_id", "variable_id", "value", "number"):
        values[participant_id].append((variable_id, value, number))
    spoken: dict[int, set[int]] = defaultdict(set)
    for participant_id, document_id in (
        Turn.objects.filter(document__study=study, participant__isnull=False)
        .values_list("participant_id", "document_id")
        .distinct()
    ):
        spoken[participant_id].add(document_id)
    kinds = {pk: kind for pk, _n, kind, _c in variables}
    if participants:
        cases_element = _sub(root, "Cases")
        for pk, code, aliases, workshop, country in participants:
            case = _sub(cases_element, "Case", guid=guids.of(KIND.PARTICIPANT, pk), name=code)
            if aliases.strip():
                _text_element(case, "Description", f"Aliases: {aliases.strip()}")
            _value(case, str(guids.derived("variable", "workshop")), workshop)
            _value(case, str(guids.derived("variable", "country")), str(country or ""))
            for variable_id, value, number in values.get(pk, []):
                if kinds.get(variable_id) == Variable.Kind.NUMBER and number is not None:
                    _value(case, guids.of(KIND.VARIABLE, variable_id), number, "FloatValue")
                else:
                    _value(case, guids.of(KIND.VARIABLE, variable_id), value)
            for column, answers in survey_columns.items():
                if code in answers:
                    _value(case, str(guids.derived("survey", column)), answers[code])
            for document_id in sorted(spoken.get(pk, ())):
                _sub(case, "SourceRef", targetGUID=guids.of(KIND.DOCUMENT, document_id))
        counts.cases = len(participants)

    # Sources with their selections and codings.
    documents = list(
        Document.objects.filter(study=study)
        .order_by("title")
        .values_list(
            "pk",
            "title",
            "text",
            "kind",
            "language",
            "source_format",
            "workshop__code",
            "created_at",
            "imported_by_id",
        )
    )
    by_document: dict[int, list[tuple]] = defaultdict(list)
    for row in codings:
        by_document[row[1]].append(row)
    files: list[tuple[str, str]] = []
    kind_labels = dict(Document.Kind.choices)
    if documents:
        sources = _sub(root, "Sources")
        for pk, title, text, kind, language, fmt, _workshop, created, importer in documents:
            guid = guids.of(KIND.DOCUMENT, pk)
            source = _sub(
                sources,
                "TextSource",
                guid=guid,
                name=_xml_safe(title),
                plainTextPath=f"internal://{guid}.txt",
                creationDateTime=_stamp(created),
                creatingUser=guids.of(KIND.USER, importer) if importer in users else None,
            )
            facts = [f"Kind: {kind_labels.get(kind, kind)}", f"Language: {language}"]
            if fmt:
                facts.append(f"Format: {fmt}")
            _text_element(source, "Description", "\n".join(facts))
            files.append((f"sources/{guid}.txt", text))
            selection = None
            span = None
            for (
                coding_pk,
                _d,
                code_id,
                coder_id,
                start,
                end,
                consensus,
                created_at,
            ) in by_document.get(pk, []):
                if (start, end) != span:
                    span = (start, end)
                    selection = _sub(
                        source,
                        "PlainTextSelection",
                        guid=guids.derived_text("selection", f"{pk}:{start}:{end}"),
                        name=_xml_safe(_selection_name(text[start:end])),
                        startPosition=str(start),
                        endPosition=str(end),
                        creatingUser=user_guid(coder_id, consensus),
                        creationDateTime=_stamp(created_at),
                    )
                    counts.selections += 1
                coding = _sub(
                    selection,
                    "Coding",
                    guid=guids.derived_text("coding", coding_pk),
                    creatingUser=user_guid(coder_id, consensus),
                    creationDateTime=_stamp(created_at),
                )
                _sub(coding, "CodeRef", targetGUID=code_guid[code_id])
                for note in notes.get(("coding", coding_pk), []):
                    _sub(coding, "NoteRef", targetGUID=note)
                counts.codings += 1
            for note in notes.get(("document", pk), []):
                _sub(source, "NoteRef", targetGUID=note)
        counts.sources = len(documents)

    if memos:
        notes_element = _sub(root, "Notes")
        for memo in memos:
            note = _sub(
                notes_element,
                "Note",
                guid=guids.of(KIND.MEMO, memo["pk"]),
                name=_xml_safe(_selection_name(memo["text"])),
                creatingUser=guids.of(KIND.USER, memo["author_id"]),
                creationDateTime=_stamp(memo["created_at"]),
                modifiedDateTime=_stamp(memo["updated_at"]),
            )
            _text_element(note, "PlainTextContent", memo["text"])
        counts.notes = len(memos)

    workshops = list(
        Workshop.objects.filter(study=study).values_list(
            "pk", "code", "country", "language", "site", "date", "facilitators"
        )
    )
    members: dict[str, list[int]] = defaultdict(list)
    for pk, *_rest, workshop, _c, _i in documents:
        if workshop:
            members[workshop].append(pk)
    if workshops:
        sets = _sub(root, "Sets")
        for pk, code, country, language, site, date, facilitators in workshops:
            element = _sub(
                sets, "Set", guid=str(guids.derived("workshop", pk)), name=_xml_safe(code)
            )
            facts = {
                "country": str(country or ""),
                "language": language,
                "site": site,
                "date": date.isoformat() if date else "",
                "facilitators": facilitators,
            }
            lines = ["A workshop."] + [
                f"{label}: {facts[key]}" for key, label in WORKSHOP_FACTS if facts[key]
            ]
            _text_element(element, "Description", "\n".join(lines))
            for document_id in members.get(code, []):
                _sub(element, "MemberSource", targetGUID=guids.of(KIND.DOCUMENT, document_id))
        counts.sets = len(workshops)
    _text_element(root, "Description", study.description)
    for note in notes.get(("project", None), []):
        _sub(root, "NoteRef", targetGUID=note)

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "project.qde", etree.tostring(root, xml_declaration=True, encoding="utf-8")
        )
        for name, text in files:
            archive.writestr(name, text.encode("utf-8"))
    return buffer.getvalue(), counts


def _value(case: etree._Element, variable_guid: str, value: object, tag: str = "TextValue") -> None:
    if value is None or value == "":
        return
    element = _sub(case, "VariableValue")
    _sub(element, "VariableRef", targetGUID=variable_guid)
    if tag == "FloatValue":
        number = float(value)
        text = str(int(number)) if number.is_integer() else repr(number)
    else:
        text = _xml_safe(str(value))
    _sub(element, tag).text = text


def _selection_name(text: str) -> str:
    words = " ".join(text.split())
    return words if len(words) <= 60 else words[:59].rstrip() + "…"


# --- Reading --------------------------------------------------------------------------------


def _local(element: StdElement) -> str:
    tag = element.tag if isinstance(element.tag, str) else ""
    return tag.rsplit("}", 1)[-1]


def _namespace(element: StdElement) -> str:
    tag = element.tag if isinstance(element.tag, str) else ""
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def _kids(element: StdElement | None, name: str) -> list[StdElement]:
    if element is None:
        return []
    return [child for child in element if _local(child) == name]


def _grouped(element: StdElement) -> dict[str, list[StdElement]]:
    """An element's children by local name, in one pass (for elements read by the thousand)."""
    groups: dict[str, list[StdElement]] = {}
    for child in element:
        groups.setdefault(_local(child), []).append(child)
    return groups


def _kid(element: StdElement | None, name: str) -> StdElement | None:
    found = _kids(element, name)
    return found[0] if found else None


def _text_of(element: StdElement | None, name: str) -> str:
    child = _kid(element, name)
    return (child.text or "") if child is not None else ""


def _facts(description: str) -> dict[str, str]:
    """The "Key: value" lines of a description, by lower-case key."""
    found = {}
    for line in description.splitlines():
        match = FACT_RE.match(line.strip())
        if match:
            found.setdefault(match["key"].strip().casefold(), match["value"].strip())
    return found


GUID_RE = re.compile(
    r"^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?$"
)


@dataclass
class FileUser:
    guid: uuid.UUID
    name: str
    consensus: bool = False
    user: object | None = None  # the account it maps to; None: a new one
    username: str = ""


@dataclass
class FileSource:
    guid: uuid.UUID
    title: str
    text: str
    kind: str
    language: str
    format: str
    element: int  # its place among the file's sources, for messages
    workshop: str = ""  # a workshop code
    document: Document | None = None  # the study's document it is, when it is one
    turns: list[ParsedTurn] = field(default_factory=list)
    pseudonyms: object | None = None  # studies.pseudonymise.Pseudonymised, when it ran


@dataclass
class FileCoding:
    source: uuid.UUID
    code: uuid.UUID
    user: uuid.UUID | None
    start: int
    end: int
    notes: list[uuid.UUID] = field(default_factory=list)


@dataclass
class FileNote:
    guid: uuid.UUID
    text: str
    user: uuid.UUID | None
    target: tuple[str, object] = ("project", None)


@dataclass
class QdpxPlan:
    """What importing a REFI-QDA file would do, read and checked completely before anything
    is written: what the file holds, what of it is new, and what is skipped and why."""

    filename: str
    origin: str = ""
    name: str = ""
    in_file: Counter = field(default_factory=Counter)
    new: Counter = field(default_factory=Counter)
    unchanged: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)  # Skip -> how many
    notes: list[str] = field(default_factory=list)  # remarks worth reading (renames, ...)
    users: dict[uuid.UUID, FileUser] = field(default_factory=dict, repr=False)
    codebook: CodebookPlan | None = field(default=None, repr=False)
    code_paths: dict[uuid.UUID, str] = field(default_factory=dict, repr=False)
    codes_updated: int = 0
    roster: RosterPlan | None = field(default=None, repr=False)
    sources: dict[uuid.UUID, FileSource] = field(default_factory=dict, repr=False)
    codings: list[FileCoding] = field(default_factory=list, repr=False)
    memos: list[FileNote] = field(default_factory=list, repr=False)
    variables: dict[uuid.UUID, str] = field(default_factory=dict, repr=False)
    workshop: Workshop | None = field(default=None, repr=False)
    case_guids: dict[uuid.UUID, str] = field(default_factory=dict, repr=False)
    case_speakers: dict[uuid.UUID, list[str]] = field(default_factory=dict, repr=False)
    # Pseudonymisation of the sources' text: whether it runs, the kinds of personal data the
    # owner keeps as they are, and what it replaces (kind -> how many; a few examples each).
    pseudonymise: bool = False
    keep_kinds: frozenset[str] = frozenset()
    found: Counter = field(default_factory=Counter)
    pseudonymised: Counter = field(default_factory=Counter)
    examples: dict[str, list[tuple[str, str]]] = field(default_factory=dict, repr=False)

    ORDER = (
        "users",
        "codes",
        "variables",
        "cases",
        "sources",
        "selections",
        "codings",
        "notes",
        "sets",
    )

    @property
    def has_changes(self) -> bool:
        return (
            any(self.new.values())
            or self.codes_updated > 0
            or bool(self.roster and self.roster.has_changes)
        )

    def counted(self, counter: Counter) -> str:
        names = {
            "users": "user",
            "codes": "code",
            "variables": "variable",
            "cases": "case",
            "sources": "source",
            "selections": "selection",
            "codings": "coding",
            "notes": "note",
            "sets": "set",
            "participants": "participant",
            "documents": "document",
            "memos": "memo",
            "coders": "coder",
            "workshops": "workshop",
        }
        return ", ".join(plural(counter[key], names[key]) for key in names if counter.get(key))

    def summary(self) -> str:
        if not self.has_changes:
            return f"No changes: everything in {self.filename} is already in the study."
        parts = [f"{self.filename}: adds {self.counted(self.new) or 'nothing new'}"]
        if self.codes_updated:
            parts.append(f"updates {plural(self.codes_updated, 'code')}")
        if self.roster and (self.roster.participants_changed or self.roster.workshops_changed):
            parts.append(f"updates {plural(len(self.roster.participants_changed), 'participant')}")
        if self.pseudonymised:
            replaced = sum(self.pseudonymised.values())
            parts.append(f"replaces {plural(replaced, 'piece')} of personal data")
        if self.skipped:
            parts.append(f"skips {plural(sum(self.skipped.values()), 'item')}")
        return "; ".join(parts) + "."

    def report(self) -> dict[str, object]:
        """The import report: what the file holds, what comes in, what is skipped and why."""
        return {
            "file": self.filename,
            "origin": self.origin,
            "project": self.name,
            "in_file": {k: self.in_file.get(k, 0) for k in self.ORDER},
            "new": dict(self.new),
            "unchanged": dict(self.unchanged),
            "codes_updated": self.codes_updated,
            "participants_updated": len(self.roster.participants_changed) if self.roster else 0,
            "skipped": [
                {"what": reason.many, "count": n, "text": reason.counted(n)}
                for reason, n in self.skipped.items()
            ],
            "notes": list(self.notes),
            "pseudonymised": [
                {
                    "kind": kind,
                    "what": PERSONAL_DATA[kind][0],
                    "found": found,
                    "count": self.pseudonymised[kind],
                    "examples": [list(e) for e in self.examples.get(kind, [])],
                }
                for kind, found in sorted(self.found.items())
            ],
            "summary": self.summary(),
        }


class _Reader:
    """One file, read and checked: the package's members and the project's XML."""

    def __init__(self, filename: str, data: bytes) -> None:
        self.filename = filename
        self.members: dict[str, zipfile.ZipInfo] = {}
        self.archive: zipfile.ZipFile | None = None
        check_upload_size(data, filename)
        suffix = PurePosixPath(filename).suffix.lower()
        if suffix == ".qdpx" or data[:4] == b"PK\x03\x04":
            xml = self._open_package(data)
        elif suffix in (".qde", ".qdc", ".xml"):
            xml = data
        else:
            raise FileRejected(
                f"unsupported file type '{suffix or '(none)'}': use a REFI-QDA project (.qdpx, "
                ".qde) or codebook (.qdc)",
                filename=filename,
            )
        try:
            self.root = SafeET.fromstring(
                xml, forbid_dtd=True, forbid_entities=True, forbid_external=True
            )
        except DefusedXmlException as exc:
            raise FileRejected(
                f"is refused: it declares a DTD or entities ({type(exc).__name__}), which a "
                "REFI-QDA file never needs and which can read files or exhaust memory",
                filename=filename,
            ) from None
        except SafeET.ParseError as exc:
            line = getattr(exc, "position", (None,))[0]
            raise FileRejected(
                f"is not well-formed XML ({exc.msg if hasattr(exc, 'msg') else exc})",
                filename=self.xml_name,
                line=line,
            ) from None

    @property
    def xml_name(self) -> str:
        return f"{self.filename} (project.qde)" if self.archive else self.filename

    def _open_package(self, data: bytes) -> bytes:
        if not zipfile.is_zipfile(io.BytesIO(data)):
            raise FileRejected("is not a .qdpx package (not a zip archive)", filename=self.filename)
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            infos = archive.infolist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise FileRejected(f"is damaged ({exc})", filename=self.filename) from None
        for info in infos:
            name = info.filename
            parts = PurePosixPath(name.replace("\\", "/")).parts
            if name.startswith(("/", "\\")) or ".." in parts or re.match(r"^[A-Za-z]:", name):
                raise FileRejected(
                    f"is refused: the member '{name}' points outside the package",
                    filename=self.filename,
                )
        project = [
            i.filename
            for i in infos
            if "/" not in i.filename and i.filename.lower().endswith(".qde")
        ]
        if not project:
            raise FileRejected(
                "is not a REFI-QDA project: the package has no project.qde", filename=self.filename
            )
        check_zip_package(
            data,
            self.filename,
            kind="a REFI-QDA project (.qdpx)",
            required_part=project[0],
            max_unzipped_bytes=DEFAULT_MAX_UNZIPPED_BYTES,
            max_ratio=DEFAULT_MAX_RATIO,
        )
        self.archive = archive
        self.members = {i.filename.lower(): i for i in infos if not i.is_dir()}
        return archive.read(project[0])

    def internal(self, path: str) -> bytes | None:
        """The bytes of `internal://NAME` (the package's sources/ folder), or None."""
        if self.archive is None:
            return None
        name = path[len("internal://") :].lstrip("/")
        info = self.members.get(f"sources/{name}".lower()) or self.members.get(name.lower())
        if info is None:
            return None
        if info.file_size > MAX_SOURCE_BYTES:
            raise FileRejected(
                f"the source '{info.filename}' is {info.file_size / 1048576:.0f} MB, over the "
                f"limit of {MAX_SOURCE_BYTES / 1048576:.0f} MB",
                filename=self.filename,
            )
        return self.archive.read(info)


@functools.lru_cache(maxsize=65536)
def _parse_guid(value: str) -> uuid.UUID | None:
    """A GUID as written in any tool's file (any case, braces or not), or None. Cached: a
    project names the same users and codes in every one of its codings."""
    match = GUID_RE.match(value.strip())
    return uuid.UUID(match.group(1).lower()) if match else None


def _guid(
    value: str | None, where: str, filename: str, *, required: bool = True
) -> uuid.UUID | None:
    guid = _parse_guid(value or "")
    if guid is None:
        if not required and not (value or "").strip():
            return None
        raise FileRejected(f"{where} has no valid GUID ({value!r})", filename=filename)
    return guid


def normalise_text(raw: str) -> tuple[str, list[int] | None]:
    """Our form of a source's text (NFC, "\\n" line ends) and where each of the file's
    positions lands in it (None: the same place). A position inside a "\\r\\n" or inside
    characters that NFC joins lands on the start of what they became."""
    if "\r" not in raw and unicodedata.is_normalized("NFC", raw):
        return raw, None
    pieces: list[str] = []
    offsets = [0] * (len(raw) + 1)
    length = 0
    i = 0
    n = len(raw)
    while i < n:
        j = i + 1
        if raw[i] == "\r":
            if j < n and raw[j] == "\n":
                j += 1
            piece = "\n"
        else:
            while j < n and unicodedata.combining(raw[j]):
                j += 1
            piece = unicodedata.normalize("NFC", raw[i:j])
        for k in range(i, j):
            offsets[k] = length
        pieces.append(piece)
        length += len(piece)
        i = j
    offsets[n] = length
    text = "".join(pieces)
    if not unicodedata.is_normalized("NFC", text):
        # Characters that compose across what we cut apart (Hangul jamo): positions are kept
        # as they are, which is right for nearly all of the text.
        text = unicodedata.normalize("NFC", text)
    return text, offsets


def _docx_text(data: bytes, name: str, filename: str) -> str:
    import docx

    check_zip_package(
        data,
        f"{filename} ({name})",
        kind="a Word .docx document",
        required_part="word/document.xml",
        max_unzipped_bytes=DEFAULT_MAX_UNZIPPED_BYTES,
        max_ratio=DEFAULT_MAX_RATIO,
    )
    document = docx.Document(io.BytesIO(data))
    return "\n".join(paragraph.text for paragraph in document.paragraphs).strip("\n")


def _decode(data: bytes) -> str:
    for codec in ("utf-8-sig", "utf-16"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    return data.decode("cp1252", errors="replace")


def _turns(text: str, fmt: str, speakers: list[str]) -> list[ParsedTurn]:
    """Speaker turns of an imported text, where our own reading of it as a transcript keeps
    the text exactly as it is (positions must not move); else one turn for the one case the
    source belongs to; else none."""
    if text.strip():
        best: list[ParsedTurn] = []
        for name in ("source.md", "source.txt") if fmt == "md" else ("source.txt", "source.md"):
            try:
                parsed = parse_transcript(text.encode("utf-8"), name)
            except FileRejected:
                continue
            if parsed.text == text and len(parsed.turns) > len(best):
                best = parsed.turns
        if best:
            return best
        if len(speakers) == 1:
            start = len(text) - len(text.lstrip())
            end = len(text.rstrip())
            return [ParsedTurn(speakers[0], start, end)]
    return []


def plan_qdpx(
    *,
    study: Study,
    filename: str,
    data: bytes,
    user: object | None = None,
    workshop: Workshop | None = None,
    pseudonymise: bool = False,
    keep_kinds: Iterable[str] = (),
) -> QdpxPlan:
    """Read and check a REFI-QDA file completely, writing nothing. `workshop` takes the cases
    and sources the file does not place in one. Bad input is a FileRejected naming the file and
    the element; what we cannot represent is counted in the plan's `skipped`. With
    `pseudonymise`, the personal data in new sources' text is replaced (all but `keep_kinds`)
    and the codings move with the text."""
    reader = _Reader(filename, data)
    root = reader.root
    where = reader.xml_name
    plan = QdpxPlan(
        filename=filename,
        workshop=workshop,
        pseudonymise=pseudonymise,
        keep_kinds=frozenset(keep_kinds),
    )
    kind = _local(root)
    namespace = _namespace(root)
    if kind == "CodeBook":
        if namespace and namespace not in CODEBOOK_NAMESPACES | {PROJECT_NS}:
            raise FileRejected(
                f"is a CodeBook in an unknown namespace '{namespace}'", filename=where
            )
        codebook = root
    elif kind == "Project":
        if namespace not in ("", PROJECT_NS):
            raise FileRejected(
                f"is a Project in an unknown namespace '{namespace}'", filename=where
            )
        codebook = _kid(root, "CodeBook")
        plan.name = root.get("name", "")
    else:
        raise FileRejected(
            f"is not a REFI-QDA file: its root element is <{kind}>, not <Project> or <CodeBook>",
            filename=where,
        )
    plan.origin = root.get("origin", "")
    guids = Guids(study)
    default_user = _guid(root.get("creatingUserGUID"), "the project", where, required=False)

    _plan_users(plan, study, root, guids, where)
    codes_element = _kid(codebook, "Codes") if codebook is not None else None
    coded = {
        _guid(ref.get("targetGUID"), "a CodeRef", where)
        for ref in root.iter()
        if _local(ref) == "CodeRef" and ref.get("targetGUID")
    }
    _plan_codes(plan, study, codes_element, guids, where, coded)
    if kind == "Project":
        sets = _plan_sets(plan, root, where)
        _plan_cases(plan, study, root, guids, where, sets)
        _plan_sources(plan, study, root, reader, guids, where, sets, default_user)
        _plan_notes(plan, study, root, guids, where)
    _keep_authors(plan)
    _plan_codings(plan, study)
    authorless = any(c.user is None or plan.users[c.user].consensus for c in plan.codings) or any(
        n.user is None for n in plan.memos
    )
    if authorless and _holder(study, user) is None:
        raise FileRejected(
            "has codings or notes without an author, or a consensus layer, and the study has no "
            "owner to hold them (they are written as the importing owner's): add an owner first",
            filename=plan.filename,
        )
    return plan


def _keep_authors(plan: QdpxPlan) -> None:
    """Only users who coded or wrote something here become coders of the study."""
    authors = {c.user for c in plan.codings} | {n.user for n in plan.memos}
    idle = [guid for guid, entry in plan.users.items() if guid not in authors]
    for guid in idle:
        del plan.users[guid]
    if idle:
        plan.skipped[SKIP_IDLE_USER] += len(idle)
    plan.notes[:] = [
        note
        for note in plan.notes
        if not note.startswith("User ")
        or any(note.startswith(f"User '{e.name}'") for e in plan.users.values())
    ]


def _plan_users(
    plan: QdpxPlan,
    study: Study,
    root: StdElement,
    guids: Guids,
    where: str,
) -> None:
    User = get_user_model()
    members = dict(
        Membership.objects.filter(study=study).values_list(
            "user_id", "user__" + User.USERNAME_FIELD
        )
    )
    taken: set[str] = set()
    for index, element in enumerate(_kids(_kid(root, "Users"), "User"), start=1):
        guid = _guid(element.get("guid"), f"User {index}", where)
        name = (element.get("name") or element.get("id") or "").strip()
        plan.in_file["users"] += 1
        if guid in plan.users:
            continue
        if element.get("id") == CONSENSUS_ID:
            plan.users[guid] = FileUser(guid, name or "Consensus", consensus=True)
            continue
        found = guids.find(KIND.USER, guid, members)
        account = User.objects.filter(pk=found).first() if found else None
        entry = FileUser(guid, name or f"coder {index}", user=account)
        if account is None:
            base = slugify(entry.name)[:140] or "coder"
            entry.username = base
            number = 1
            while (
                entry.username.casefold() in taken
                or User.objects.filter(
                    **{f"{User.USERNAME_FIELD}__iexact": entry.username}
                ).exists()
            ):
                number += 1
                entry.username = f"{base}-{number}"
            taken.add(entry.username.casefold())
            if entry.username != (element.get("name") or ""):
                plan.notes.append(
                    f"User '{entry.name}' becomes the coder account '{entry.username}' "
                    "(without a password: an owner can invite the person to it)"
                )
        plan.users[guid] = entry


def _plan_codes(
    plan: QdpxPlan,
    study: Study,
    codes_element: StdElement | None,
    guids: Guids,
    where: str,
    coded: set[uuid.UUID],
) -> None:
    rows: list[CodebookRow] = []
    existing = {pk: path for pk, path in CodeTree.of(study).path.items()}
    by_path = {path: pk for pk, path in existing.items()}
    counter = 0
    stack: list[tuple[StdElement, str]] = [
        (element, "") for element in reversed(_kids(codes_element, "Code"))
    ]
    used: set[str] = set()
    while stack:
        element, parent_path = stack.pop()
        counter += 1
        plan.in_file["codes"] += 1
        guid = _guid(element.get("guid"), f"Code {counter} ('{element.get('name', '')}')", where)
        raw = " ".join((element.get("name") or "").split())
        name = raw.replace("/", "-")[:100] or f"code {counter}"
        # A code found by its GUID keeps the name it has here, wherever it was renamed.
        known = guids.find(KIND.CODE, guid, existing)
        path = existing.get(known, f"{parent_path}/{name}" if parent_path else name)
        if path.casefold() in used:
            suffix = 2
            while f"{path} ({suffix})".casefold() in used:
                suffix += 1
            plan.notes.append(
                f"Code '{path}' appears twice under one parent: the second is '{path} ({suffix})'"
            )
            path = f"{path} ({suffix})"
        if name != raw and raw:
            plan.notes.append(f"Code '{raw}' is named '{name}' ('/' separates the names in a path)")
        used.add(path.casefold())
        plan.code_paths[guid] = path
        values: dict[str, object] = {}
        codable = (element.get("isCodable") or "true").strip().lower() in ("true", "1")
        values["codable"] = codable or guid in coded
        colour = element.get("color")
        if colour:
            try:
                values["colour"] = normalise_colour(_full_colour(colour))
            except CodebookError:
                plan.notes.append(
                    f"Code '{path}': the colour {colour!r} is not #RRGGBB and is left out"
                )
        values.update(_code_fields(_text_of(element, "Description")))
        if path in by_path or known is None:
            rows.append(CodebookRow(counter, path, values))
        stack.extend((child, path) for child in reversed(_kids(element, "Code")))
    try:
        plan.codebook = plan_codebook_rows(study=study, filename=where, specs=rows, rows=len(rows))
    except FileRejected as exc:
        raise FileRejected(f"code {exc.line}: {exc.reason}", filename=where) from None
    plan.new["codes"] = len(plan.codebook.new)
    plan.codes_updated = len(plan.codebook.updated)
    plan.unchanged["codes"] = plan.codebook.unchanged


def _full_colour(value: str) -> str:
    value = value.strip()
    if re.fullmatch(r"#[0-9A-Fa-f]{3}", value):
        return "#" + "".join(c * 2 for c in value[1:])
    return value


def _code_fields(description: str) -> dict[str, str]:
    """Definition, when to apply, when not and example, from a code's description as we write
    it; a description from another tool is the definition."""
    labels = {label.casefold(): name for name, label in CODE_SECTIONS}
    fields = {"definition": "", "inclusion": "", "exclusion": "", "example": ""}
    current = "definition"
    parts: dict[str, list[str]] = defaultdict(list)
    for block in description.replace("\r\n", "\n").split("\n\n"):
        head, _, rest = block.partition(":")
        if head.strip().casefold() in labels and rest:
            current = labels[head.strip().casefold()]
            parts[current].append(rest.strip())
        else:
            parts[current].append(block.strip())
    for name, blocks in parts.items():
        fields[name] = "\n\n".join(b for b in blocks if b).strip()
    return fields


def _plan_sets(plan: QdpxPlan, root: StdElement, where: str) -> dict[uuid.UUID, dict]:
    """Sets that are workshops (their description gives a country), by source GUID."""
    placed: dict[uuid.UUID, dict] = {}
    for index, element in enumerate(_kids(_kid(root, "Sets"), "Set"), start=1):
        plan.in_file["sets"] += 1
        facts = _facts(_text_of(element, "Description"))
        name = (element.get("name") or "").strip()
        members = [
            _guid(ref.get("targetGUID"), f"a MemberSource of Set {index}", where)
            for ref in _kids(element, "MemberSource")
        ]
        if "country" not in facts or not name:
            plan.skipped[SKIP_SET] += 1
            continue
        workshop = {"code": name[:32]} | {
            key: facts.get(label.casefold(), "") for key, label in WORKSHOP_FACTS
        }
        for guid in members:
            placed.setdefault(guid, workshop)
    return placed


def _plan_cases(
    plan: QdpxPlan,
    study: Study,
    root: StdElement,
    guids: Guids,
    where: str,
    sets: dict[uuid.UUID, dict],
) -> None:
    variables: dict[uuid.UUID, tuple[str, str]] = {}  # guid -> (header, type)
    survey_slugs = {slug.casefold() for slug in study.surveys.values_list("slug", flat=True)}
    # A variable the study has keeps its type; the file's values must fit it.
    current = {v.name.casefold(): v.kind for v in Variable.objects.filter(study=study)}
    placed_already = {
        code.casefold(): workshop
        for code, workshop in Participant.objects.filter(study=study).values_list(
            "code", "workshop__code"
        )
    }
    for index, element in enumerate(_kids(_kid(root, "Variables"), "Variable"), start=1):
        plan.in_file["variables"] += 1
        guid = _guid(element.get("guid"), f"Variable {index}", where)
        name = " ".join((element.get("name") or "").split())[:100] or f"variable {index}"
        kind = (element.get("typeOfVariable") or "Text").strip()
        description = _text_of(element, "Description")
        if (
            name.casefold().startswith("survey:")
            and name[7:].split("/", 1)[0].casefold() in survey_slugs
        ):
            plan.skipped[SKIP_SURVEY_ANSWER] += 1
            continue
        if name.casefold() in ("workshop", "country"):
            header = name.casefold()
        elif name.casefold() in current:
            header = f"{name} [{current[name.casefold()]}]"
        elif kind in ("Integer", "Float"):
            header = f"{name} [number]"
        elif kind == "Boolean" or description.strip().startswith("Choices:"):
            header = f"{name} [choice]"
        else:
            header = f"{name} [text]"
        variables[guid] = (header, kind)
        plan.variables[guid] = name
    cases = _kids(_kid(root, "Cases"), "Case")
    if not cases:
        return
    has_workshop = any(header == "workshop" for header, _k in variables.values())
    if not has_workshop:
        # Without a workshop variable, a "Country" is the participant's own, not a workshop's.
        variables = {
            g: (f"{h.title()} [text]" if h == "country" else h, k)
            for g, (h, k) in variables.items()
        }
    headers = ["participant", "workshop", "aliases", "language", "site", "date", "facilitators"]
    headers += [h for h, _k in variables.values() if h not in headers]
    if "country" not in headers:
        headers.insert(2, "country")
    source_speakers: dict[uuid.UUID, list[str]] = defaultdict(list)
    rows: list[TableRow] = []
    names: list[str] = []
    for index, element in enumerate(cases, start=1):
        plan.in_file["cases"] += 1
        guid = _guid(element.get("guid"), f"Case {index}", where)
        name = " ".join((element.get("name") or "").split()) or f"case {index}"
        names.append(name)
        plan.case_guids[guid] = name
        values = dict.fromkeys(headers, "")
        values["participant"] = name
        values["aliases"] = _facts(_text_of(element, "Description")).get("aliases", "")
        for value in _kids(element, "VariableValue"):
            ref = _guid(
                _kid(value, "VariableRef").get("targetGUID")
                if _kid(value, "VariableRef") is not None
                else "",
                f"a VariableValue of Case '{name}'",
                where,
            )
            if ref not in variables:
                continue
            text = ""
            for tag in (
                "TextValue",
                "IntegerValue",
                "FloatValue",
                "BooleanValue",
                "DateValue",
                "DateTimeValue",
            ):
                if _kid(value, tag) is not None:
                    text = (_kid(value, tag).text or "").strip()
                    break
            values[variables[ref][0]] = text
        refs = [
            _guid(ref.get("targetGUID"), f"a SourceRef of Case '{name}'", where)
            for ref in _kids(element, "SourceRef")
        ]
        for ref in refs:
            source_speakers[ref].append(name)
        if not values["workshop"]:
            placed = next((sets[ref] for ref in refs if ref in sets), None)
            if name.casefold() in placed_already:
                # A participant the study has stays where they are when the file says nothing.
                values["workshop"] = placed_already[name.casefold()]
            elif placed:
                values["workshop"] = placed["code"]
            elif plan.workshop is not None:
                values["workshop"] = plan.workshop.code
            else:
                raise FileRejected(
                    f"Case '{name}' belongs to no workshop: choose the workshop for the "
                    "participants the file does not place in one",
                    filename=where,
                )
        workshop_facts = next(
            (w for w in sets.values() if w["code"].casefold() == values["workshop"].casefold()), {}
        )
        for key, _label in WORKSHOP_FACTS:
            if not values.get(key) and workshop_facts.get(key):
                values[key] = workshop_facts[key]
        if plan.workshop is not None and values["workshop"] == plan.workshop.code:
            values["country"] = values.get("country") or str(plan.workshop.country)
        rows.append(TableRow(index, values))
    plan.case_speakers = dict(source_speakers)
    try:
        plan.roster = plan_roster_table(
            study=study, filename=where, table=Table(headers=headers, rows=rows)
        )
    except FileRejected as exc:
        case = names[exc.line - 1] if exc.line and 0 < exc.line <= len(names) else None
        what = f"Case '{case}'" if case else "the cases"
        column = f", {exc.column}" if exc.column and exc.column != "participant" else ""
        raise FileRejected(f"{what}{column}: {exc.reason}", filename=where) from None
    plan.new["participants"] = len(plan.roster.participants_new)
    plan.new["workshops"] = len(plan.roster.workshops_new)
    plan.new["variables"] = len(plan.roster.variables_new)
    plan.unchanged["participants"] = plan.roster.participants_unchanged


def _pseudonymise_source(
    plan: QdpxPlan, study: Study, source: FileSource, where: str
) -> Callable[..., int]:
    """Replace the personal data in a source's text (and its speakers) as a transcript import
    does; returns where the file's offsets land in the new text."""
    workshop = None
    if source.workshop:
        workshop = Workshop.objects.filter(study=study, code__iexact=source.workshop).first()
    result = pseudonymise_transcript(
        study=study,
        workshop=workshop,
        filename=where,
        parsed=ParsedTranscript(source.text, source.turns, "qdpx", "utf-8"),
        language=source.language or (workshop.language if workshop else study.language),
        decisions=Decisions(kinds=dict.fromkeys(plan.keep_kinds, "dismiss")),
    )
    source.text = result.parsed.text
    source.turns = result.parsed.turns
    source.pseudonyms = result
    return result.move


def _plan_sources(
    plan: QdpxPlan,
    study: Study,
    root: StdElement,
    reader: _Reader,
    guids: Guids,
    where: str,
    sets: dict[uuid.UUID, dict],
    default_user: uuid.UUID | None,
) -> None:
    documents = {
        d.pk: d
        for d in Document.objects.filter(study=study).only(
            "pk", "title", "sha256", "workshop_id", "text_length"
        )
    }
    titles = {d.title.casefold(): d for d in documents.values()}
    taken = set(titles)
    kinds = {label.casefold(): value for value, label in Document.Kind.choices} | {
        value: value for value, _l in Document.Kind.choices
    }
    speakers = plan.case_speakers
    skipped_kinds = {
        "PDFSource": SKIP_PDF,
        "PictureSource": SKIP_PICTURE,
        "AudioSource": SKIP_AUDIO,
        "VideoSource": SKIP_VIDEO,
    }
    index = 0
    for element in list(_kid(root, "Sources") or []):
        local = _local(element)
        if local in skipped_kinds:
            plan.in_file["sources"] += 1
            plan.skipped[skipped_kinds[local]] += 1
            continue
        if local != "TextSource":
            continue
        index += 1
        plan.in_file["sources"] += 1
        guid = _guid(element.get("guid"), f"TextSource {index}", where)
        title = " ".join((element.get("name") or "").split())[:200] or f"Source {index}"
        raw = None
        content = _kid(element, "PlainTextContent")
        path = (element.get("plainTextPath") or "").strip()
        if content is not None:
            raw = content.text or ""
        elif path.lower().startswith("internal://"):
            data = reader.internal(path)
            if data is None:
                plan.skipped[SKIP_NO_FOLDER if reader.archive is None else SKIP_NO_FILE] += 1
                continue
            raw = _decode(data) if data.strip() else ""
        elif path:
            plan.skipped[SKIP_OUTSIDE] += 1
            continue
        else:
            raw = ""
        rich = (element.get("richTextPath") or "").strip()
        if (
            not raw.strip()
            and rich.lower().startswith("internal://")
            and rich.lower().endswith(".docx")
        ):
            data = reader.internal(rich)
            if data:
                raw = _docx_text(data, rich[len("internal://") :], reader.filename)
        if len(raw) > MAX_SOURCE_BYTES:
            raise FileRejected(
                f"TextSource '{title}' is over {MAX_SOURCE_BYTES // 1048576} MB of text",
                filename=where,
            )
        text, offsets = normalise_text(raw)
        if not text.strip():
            text, offsets = "", None
        facts = _facts(_text_of(element, "Description"))
        workshop = sets.get(guid, {}).get("code", "") or (
            plan.workshop.code if plan.workshop else ""
        )
        source = FileSource(
            guid=guid,
            title=title,
            text=text,
            kind=kinds.get(facts.get("kind", "").casefold(), Document.Kind.TRANSCRIPT),
            language=facts.get("language", ""),
            format=facts.get("format", ""),
            element=index,
            workshop=workshop,
        )
        found = guids.find(KIND.DOCUMENT, guid, documents)
        same_title = titles.get(title.casefold())
        existing = documents[found] if found is not None else same_title
        sha = _sha(text)
        move = None
        if plan.pseudonymise and text and not (existing and existing.sha256 == sha):
            # A text already stored as it is (imported before without pseudonymisation, or
            # with nothing to replace then) stays what it is; any other is pseudonymised
            # first, so that a second import finds the text it stored the first time.
            source.turns = _turns(text, source.format, speakers.get(guid, []))
            move = _pseudonymise_source(plan, study, source, where)
            text = source.text
            sha = _sha(text)
        if found is not None:
            source.document = documents[found]
            if source.document.sha256 != sha:
                raise FileRejected(
                    f"TextSource '{title}' is the study's document '{source.document.title}' "
                    "with a different text; a document's text never changes once coded: import "
                    "the file into a new study, or delete the document first",
                    filename=where,
                )
        elif same_title is not None and same_title.sha256 == sha:
            source.document = same_title
        elif same_title is not None or title.casefold() in taken:
            number = 2
            while f"{title} ({number})".casefold() in taken:
                number += 1
            plan.notes.append(
                f"Source '{title}' comes in as '{title} ({number})': the study has another "
                "document of that name"
            )
            source.title = f"{title} ({number})"
        taken.add(source.title.casefold())
        if source.document is None:
            plan.new["documents"] += 1
            if move is None:
                source.turns = _turns(text, source.format, speakers.get(guid, []))
            elif source.pseudonyms is not None:
                for finding in source.pseudonyms.applied:
                    plan.pseudonymised[finding.kind] += 1
                for finding in source.pseudonyms.findings:
                    plan.found[finding.kind] += 1
                    shown = plan.examples.setdefault(finding.kind, [])
                    if len(shown) < 3 and (finding.text, finding.replacement) not in shown:
                        shown.append((finding.text, finding.replacement))
        else:
            plan.unchanged["documents"] += 1
        plan.sources[guid] = source

        if _kids(element, "Coding"):
            plan.skipped[SKIP_WHOLE_SOURCE] += len(_kids(element, "Coding"))
        for number, selection in enumerate(_kids(element, "PlainTextSelection"), start=1):
            plan.in_file["selections"] += 1
            label = f"PlainTextSelection {number} of '{title}'"
            try:
                start = int(selection.get("startPosition", ""))
                end = int(selection.get("endPosition", ""))
            except ValueError:
                raise FileRejected(
                    f"{label} has no whole-number startPosition and endPosition", filename=where
                ) from None
            selection_user = (
                _guid(selection.get("creatingUser"), label, where, required=False) or default_user
            )
            parts = _grouped(selection)
            codings = parts.get("Coding", [])
            plan.in_file["codings"] += len(codings)
            if offsets is not None and 0 <= start <= end <= len(raw):
                start, end = offsets[start], offsets[end]
            if move is not None and 0 <= start <= end:
                start, end = move(start), move(end, end=True)
            if not (0 <= start < end <= len(text)):
                plan.skipped[SKIP_OUTSIDE_TEXT] += 1
                continue
            selection_notes = [
                _guid(ref.get("targetGUID"), f"a NoteRef of {label}", where)
                for ref in parts.get("NoteRef", [])
            ]
            for coding in codings:
                inside = _grouped(coding)
                ref = inside["CodeRef"][0] if "CodeRef" in inside else None
                code = _guid(
                    ref.get("targetGUID") if ref is not None else "", f"a Coding of {label}", where
                )
                if code not in plan.code_paths:
                    plan.skipped[SKIP_UNKNOWN_CODE] += 1
                    continue
                coder = (
                    _guid(coding.get("creatingUser"), label, where, required=False)
                    or selection_user
                )
                if coder is not None and coder not in plan.users:
                    plan.skipped[SKIP_UNKNOWN_USER] += 1
                    continue
                notes = [
                    _guid(r.get("targetGUID"), f"a NoteRef of {label}", where)
                    for r in inside.get("NoteRef", [])
                ]
                plan.codings.append(
                    FileCoding(guid, code, coder, start, end, notes + selection_notes)
                )
                selection_notes = []


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _plan_notes(plan: QdpxPlan, study: Study, root: StdElement, guids: Guids, where: str) -> None:
    targets: dict[uuid.UUID, tuple[str, object]] = {}
    for ref in _kids(root, "NoteRef"):
        targets.setdefault(
            _guid(ref.get("targetGUID"), "a NoteRef of the project", where), ("project", None)
        )
    for element in root.iter():
        tag = element.tag
        # A cheap test first: a project has an element per selection and coding.
        if not isinstance(tag, str) or not tag.endswith(("Code", "TextSource")):
            continue
        local = _local(element)
        if local == "Code":
            for ref in _kids(element, "NoteRef"):
                guid = _guid(element.get("guid"), "a Code", where)
                targets.setdefault(_guid(ref.get("targetGUID"), "a NoteRef", where), ("code", guid))
        elif local == "TextSource" and element.get("guid"):
            guid = _guid(element.get("guid"), "a TextSource", where)
            for ref in _kids(element, "NoteRef"):
                targets.setdefault(
                    _guid(ref.get("targetGUID"), "a NoteRef", where), ("document", guid)
                )
    for coding in plan.codings:
        for note in coding.notes:
            targets.setdefault(note, ("coding", coding))
    existing = set(Memo.objects.filter(study=study).values_list("pk", flat=True))
    for index, element in enumerate(_kids(_kid(root, "Notes"), "Note"), start=1):
        plan.in_file["notes"] += 1
        guid = _guid(element.get("guid"), f"Note {index}", where)
        text = _text_of(element, "PlainTextContent").strip()
        if not text:
            plan.skipped[SKIP_NOTE_FILE] += 1
            continue
        if guids.find(KIND.MEMO, guid, existing) is not None:
            plan.unchanged["memos"] += 1
            continue
        author = _guid(element.get("creatingUser"), f"Note {index}", where, required=False)
        target = targets.get(guid, ("project", None))
        if target[0] == "document" and target[1] not in plan.sources:
            target = ("project", None)
        plan.memos.append(
            FileNote(
                guid, normalise_text(text)[0], author if author in plan.users else None, target
            )
        )
    plan.new["memos"] = len(plan.memos)


def _plan_codings(plan: QdpxPlan, study: Study) -> None:
    """Which of the file's codings the study has already: a second import adds nothing."""
    documents = {s.document.pk: guid for guid, s in plan.sources.items() if s.document is not None}
    paths = CodeTree.of(study).path
    have: set[tuple] = set()
    agreed: set[tuple] = set()
    if documents:
        for document_id, code_id, coder_id, start, end, consensus in Coding.objects.filter(
            document_id__in=documents
        ).values_list("document_id", "code_id", "coder_id", "start", "end", "consensus"):
            span = (documents[document_id], paths.get(code_id), start, end)
            if consensus:
                agreed.add(span)  # the consensus layer's coder is whoever holds it here
            else:
                have.add((*span, coder_id))
    wanted = set()
    for coding in plan.codings:
        entry = plan.users.get(coding.user) if coding.user else None
        consensus = bool(entry and entry.consensus)
        coder = getattr(entry.user, "pk", None) if entry and not consensus else None
        span = (coding.source, plan.code_paths[coding.code], coding.start, coding.end)
        key = (*span, "consensus" if consensus else coder or coding.user)
        if key in wanted:
            continue
        wanted.add(key)
        if (consensus and span in agreed) or (coder is not None and key in have):
            plan.unchanged["codings"] += 1
        else:
            plan.new["codings"] += 1
    plan.new["coders"] = sum(1 for u in plan.users.values() if u.user is None and not u.consensus)


# --- Applying -------------------------------------------------------------------------------


def _holder(study: Study, user: object | None) -> object | None:
    """Who writes what the file gives no author for (and holds its consensus layer): the
    person importing, or (a command) the study's first owner."""
    if getattr(user, "pk", None):
        return user
    membership = (
        Membership.objects.filter(study=study, role=Membership.Role.OWNER)
        .select_related("user")
        .order_by("pk")
        .first()
    )
    return membership.user if membership else None


def _coding_ids(keys: Iterable[tuple[int, tuple]]) -> dict[tuple[int, tuple], int]:
    """The ids of the codings with these (coder, Coding.key): a query per 500 of them (notes
    on codings are few), asking for a superset and keeping the wanted."""
    wanted = sorted(set(keys))
    found: dict[tuple[int, tuple], int] = {}
    for at in range(0, len(wanted), 500):
        chunk = set(wanted[at : at + 500])
        rows = Coding.objects.filter(
            coder_id__in={coder for coder, _key in chunk},
            document_id__in={key[0] for _coder, key in chunk},
            start__in={key[2] for _coder, key in chunk},
        ).only("pk", "document_id", "code_id", "coder_id", "start", "end", "consensus")
        found.update(((c.coder_id, c.key), c.pk) for c in rows if (c.coder_id, c.key) in chunk)
    return found


def apply_qdpx(*, study: Study, plan: QdpxPlan, user: object | None = None) -> QdpxPlan:
    """Write a checked plan, all of it or (on any refusal) nothing."""
    if not plan.has_changes:
        return plan
    User = get_user_model()
    holder = _holder(study, user)
    identities: list[ExchangeId] = []
    with transaction.atomic():
        accounts: dict[uuid.UUID, object] = {}
        for guid, entry in plan.users.items():
            if entry.consensus:
                continue
            account = entry.user
            if account is None:
                account = User(**{User.USERNAME_FIELD: entry.username}, first_name=entry.name[:150])
                account.set_unusable_password()
                account.save()
                identities.append(
                    ExchangeId(study=study, kind=KIND.USER, object_id=account.pk, guid=guid)
                )
            Membership.objects.get_or_create(
                study=study, user=account, defaults={"role": Membership.Role.CODER}
            )
            accounts[guid] = account

        if plan.codebook is not None and plan.codebook.has_changes:
            with covered():  # part of this import's one audit event
                apply_codebook(study=study, plan=plan.codebook)
        code_ids = {path: pk for pk, path in CodeTree.of(study).path.items()}
        for guid, path in plan.code_paths.items():
            identities.append(
                ExchangeId(study=study, kind=KIND.CODE, object_id=code_ids[path], guid=guid)
            )

        if plan.roster is not None and plan.roster.has_changes:
            with covered():
                apply_roster(study=study, plan=plan.roster, language=study.language)
        participants = dict(Participant.objects.filter(study=study).values_list("code", "pk"))
        workshops = {w.code.casefold(): w for w in Workshop.objects.filter(study=study)}
        variables = dict(Variable.objects.filter(study=study).values_list("name", "pk"))
        for guid, name in plan.variables.items():
            if name in variables:
                identities.append(
                    ExchangeId(
                        study=study, kind=KIND.VARIABLE, object_id=variables[name], guid=guid
                    )
                )
        for guid, code in plan.case_guids.items():
            if code in participants:
                identities.append(
                    ExchangeId(
                        study=study, kind=KIND.PARTICIPANT, object_id=participants[code], guid=guid
                    )
                )

        documents: dict[uuid.UUID, int] = {}
        for guid, source in plan.sources.items():
            if source.document is not None:
                documents[guid] = source.document.pk
                continue
            workshop = workshops.get(source.workshop.casefold()) if source.workshop else None
            language = source.language or (workshop.language if workshop else study.language)
            parsed = ParsedTranscript(source.text, source.turns, "qdpx", "utf-8")
            preview = preview_parsed(
                study=study,
                workshop=workshop,
                filename=plan.filename,
                parsed=parsed,
                title=source.title,
            )
            preview.pseudonymised = source.pseudonyms
            outcome = store_transcript(
                preview,
                study=study,
                workshop=workshop,
                language=language,
                kind=source.kind,
                user=holder,
            )
            documents[guid] = outcome.document.pk
            identities.append(
                ExchangeId(
                    study=study, kind=KIND.DOCUMENT, object_id=outcome.document.pk, guid=guid
                )
            )

        by_coder: dict[tuple[int, bool], list[CodingSpan]] = defaultdict(list)
        people: dict[int, object] = {}
        noted: dict[int, tuple[int, tuple]] = {}  # a coding with notes -> (coder, Coding.key)
        for coding in plan.codings:
            entry = plan.users.get(coding.user) if coding.user else None
            consensus = bool(entry and entry.consensus)
            person = holder if consensus or entry is None else accounts[coding.user]
            people[person.pk] = person
            span = CodingSpan(
                documents[coding.source],
                code_ids[plan.code_paths[coding.code]],
                coding.start,
                coding.end,
                consensus,
            )
            by_coder[(person.pk, consensus)].append(span)
            if coding.notes:
                noted[id(coding)] = (person.pk, span.key)
        for (person_pk, _consensus), spans in by_coder.items():
            person = people[person_pk]
            if (
                not Membership.objects.filter(study=study, user=person).exists()
                and not person.is_superuser
            ):
                Membership.objects.create(study=study, user=person, role=Membership.Role.CODER)
            try:
                apply_codings(user=person, spans=spans, study=study, rows=False)
            except CodingsRefused as exc:
                raise FileRejected(
                    f"codings refused: {exc.describe(spans)}", filename=plan.filename
                ) from None

        written = _coding_ids(noted.values())
        memos = []
        for note in plan.memos:
            author = accounts.get(note.user) if note.user else None
            author = author or holder
            memo = Memo(study=study, author=author, text=note.text)
            what, target = note.target
            if what == "document" and target in documents:
                memo.document_id = documents[target]
            elif what == "code" and target in plan.code_paths:
                memo.code_id = code_ids[plan.code_paths[target]]
            elif what == "coding":
                memo.coding_id = written.get(noted.get(id(target)))
            memos.append((memo, note.guid))
        Memo.objects.bulk_create([m for m, _g in memos])
        for memo, guid in memos:
            identities.append(ExchangeId(study=study, kind=KIND.MEMO, object_id=memo.pk, guid=guid))
        ExchangeId.objects.bulk_create(identities, ignore_conflicts=True)
        record(
            study,
            AuditEvent.Action.IMPORT,
            f"Imported the REFI-QDA project {plan.summary()}",
            user=user,
            details={
                "file": plan.filename,
                "origin": plan.origin,
                "new": dict(plan.new),
                "codes_updated": plan.codes_updated,
            },
        )
    return plan


def import_qdpx(
    *,
    study: Study,
    filename: str,
    data: bytes,
    user: object | None = None,
    workshop: Workshop | None = None,
    pseudonymise: bool = False,
) -> QdpxPlan:
    """Plan and apply in one go (the command, the API, scripts)."""
    plan = plan_qdpx(
        study=study,
        filename=filename,
        data=data,
        user=user,
        workshop=workshop,
        pseudonymise=pseudonymise,
    )
    return apply_qdpx(study=study, plan=plan, user=user)
