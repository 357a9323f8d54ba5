"""Every URL of the site and every path of the API schema, as every kind of person, with blind
coding off and on: nobody sees what the rules hide from them.

The rules (DESIGN.md, studies/access.py): study data never leaks across studies; an anonymous
visitor is sent to the login page by pages and refused (401/403) by the API; an outsider gets 404
for another study's objects; with blind coding on, a coder sees only their own codings and
nothing attached to or derived from other coders' codings (memos on them, their excerpts, their
counts, the consensus layer, agreement figures). Owners and viewers see everything.

Chloe, a second coder, leaves two traces that nobody but the people allowed may meet: a memo on
her coding whose text is a marker string, and her coding's span, which starts and ends inside
words, so that it shows up only where her coding is shown (as offsets, or as an excerpt cut
where she cut it). The consensus layer holds the same span (the owner adopted Chloe's coding), so
that a leak of the consensus layer shows up too.

The walk reads the URLconf and the schema, so a new endpoint is walked without anyone adding it
here; an endpoint with a parameter this file has no value for fails the test until one is added.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import re
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from drf_spectacular.generators import SchemaGenerator

from coding.adjudication import start_round
from coding.models import Coding, Memo
from coding.services import CodingSpan, apply_codings, create_code
from exports.qdpx import write_qdpx
from studies import invitations
from studies.models import (
    APIToken,
    Document,
    Job,
    MemberInvitation,
    Membership,
    PendingImport,
    Study,
)
from studies.recordings import attach_recording
from studies.services import import_transcripts
from surveys.models import Invitation as SurveyInvitation
from surveys.models import Question, Survey
from tests.test_recordings import wav_bytes
from tests.urlwalk import Values, fill, urlconf_urls

MARKER = "MARKER-7f3c9e"

# FI-1's session in English. Chloe codes "ould barter with the mach" in Eero's last turn: a span
# that starts inside "should" and ends inside "machine", far enough into the text that its
# offsets are four-digit numbers nothing else on a page is likely to be.
TRANSCRIPT = """Facilitator: Shall we talk about hiring first? What should a system do when it \
says no?
Aino: The system should explain why it said no. Otherwise nobody can trust it, and nobody can \
fix a wrong decision either.
Eero: I would want to argue with it, like with a person. A person listens, at least sometimes.
Facilitator: And in medicine? Would you accept a diagnosis from a program?
Aino: Only if a doctor talks to me about it. Accuracy is not everything; I want to be heard.
Eero: A program can be accurate on average and still wrong about me. Who do I appeal to then?
Facilitator: What about lending? Many of you said the bank's system refused you a loan.
Aino: It did. Nobody could tell me why, and the clerk only pointed at the screen.
Eero: The clerk could have phoned someone. People bend the rules when they see the whole story.
Aino: That flexibility is exactly what I miss. A machine never makes an exception for a good \
reason, and it never explains itself in words that I understand.
Facilitator: So what would you want from such a system, in one sentence?
Eero: Honestly, I think we should barter with the machine until it gives in, the way you would \
with a clerk who has a heart.
Aino: Or at least a way to reach a person who can decide differently.
"""
CHLOE_WORDS = "ould barter with the mach"
BOB_WORDS = "explain why it said no"

ROLES = ("anonymous", "outsider", "viewer", "coder", "owner")
PERSON = {"outsider": "mallory", "viewer": "victor", "coder": "bob", "owner": "alice"}


@dataclass
class Walked:
    """The study the walk runs in, with the values its URLs need."""

    study: Study
    document: Document
    chloe_coding: Coding
    start: int  # Chloe's span
    end: int
    values: dict[str, list[str]]  # URL parameter -> the values to walk it with
    pks: dict[str, str]  # API resource (the path segment before {pk}) -> the object to open


@pytest.fixture
def walked(roster_study: Study, people: dict[str, User]) -> Walked:
    study = roster_study
    alice, bob = people["alice"], people["bob"]
    chloe = User.objects.create_user("chloe", "chloe@example.org", "pw-chloe")
    Membership.objects.create(study=study, user=chloe, role="coder")
    fi = study.workshops.get(code="FI-1")
    [outcome] = import_transcripts(
        study=study, workshop=fi, files=[("FI-1.txt", TRANSCRIPT.encode())], language="en"
    )
    document = outcome.document
    text = document.text
    start = text.index(CHLOE_WORDS)
    end = start + len(CHLOE_WORDS)
    boundaries = {
        offset
        for unit in [*document.sentences.all(), *document.turns.all()]
        for offset in (unit.start, unit.end)
    }
    assert start >= 1000 and not {start, end} & boundaries, "Chloe's span must be distinctive"
    assert text[start - 1].isalpha() and text[end].isalpha(), "her span cuts into words"

    concept = create_code(study=study, name="Concept", codable=False)
    negotiability = create_code(study=study, name="negotiability", parent=concept)
    explainability = create_code(study=study, name="explainability", parent=concept)

    bob_start = text.index(BOB_WORDS)
    [bob_coding] = apply_codings(
        user=bob,
        spans=[CodingSpan(document.pk, explainability.pk, bob_start, bob_start + len(BOB_WORDS))],
    ).created
    Memo.objects.create(study=study, author=bob, coding=bob_coding, text="Bob's own note.")
    [chloe_coding] = apply_codings(
        user=chloe, spans=[CodingSpan(document.pk, negotiability.pk, start, end)]
    ).created
    Memo.objects.create(study=study, author=chloe, coding=chloe_coding, text=MARKER)
    # The owner adopts Chloe's coding into the consensus layer.
    apply_codings(
        user=alice,
        spans=[CodingSpan(document.pk, negotiability.pk, start, end, consensus=True)],
    )
    # The round assigns the document to both coders (and turns blind coding on; each test sets
    # blind coding as it needs).
    agreement_round = start_round(
        study=study, name="Pilot", user=alice, coders=[bob, chloe], documents=[document]
    )
    token, _secret = APIToken.issue(user=alice, name="laptop")
    pending = PendingImport.objects.create(
        study=study,
        user=alice,
        batch=uuid.uuid4(),
        kind=PendingImport.Kind.TRANSCRIPT,
        workshop=fi,
        language="en",
        filename="FI-1-again.txt",
        data=b"Aino: A second session.\n",
    )
    # A REFI-QDA project waiting for Alice's confirmation (the study's own export).
    project = PendingImport.objects.create(
        study=study, user=alice, kind="qdpx", filename="walk.qdpx", data=write_qdpx(study)[0]
    )
    # The transcript's recording, so that its URLs answer members with the file.
    attach_recording(
        document=document, upload=SimpleUploadedFile("FI-1.wav", wav_bytes(0.5)), user=alice
    )
    # An invitation to the study: its signed link is public by design (the token is the
    # credential), so the walk opens it as everyone, and a tampered link beside it.
    invitation = MemberInvitation.objects.create(
        study=study, email="dora@example.org", role="coder", invited_by=alice
    )
    # A participant's private link to a survey: public by design too (the token is the
    # credential); it shows the survey's questions and nothing else of the study.
    survey = Survey.objects.create(study=study, slug="walk", title="Walked survey")
    Question.objects.create(survey=survey, code="q1", kind="text", label="Your view?")
    survey_link = SurveyInvitation.objects.create(
        survey=survey, participant=study.participants.get(code="P02")
    )
    # One respondent's answers, which only owners may read.
    survey_response = survey.responses.create(participant=study.participants.get(code="P03"))
    survey_response.answers.create(question=survey.questions.get(code="q1"), value="Fair enough")
    # A page of the survey holding its question, for the builder's pages.
    survey_page = survey.pages.create(title="Your views")
    survey.questions.update(page=survey_page)
    # Chloe's finished job, its file holding her memo and excerpt: hers alone, even to owners.
    job = Job.objects.create(
        study=study, user=chloe, kind="pack", title="Chloe's pack", handler="x.y", status="done"
    )
    job.result.save("chloe.txt", ContentFile(f"{MARKER} {CHLOE_WORDS}".encode()))
    values = {
        "slug": [study.slug],
        "job_id": [str(job.pk)],
        "invitation_id": [str(invitation.pk)],
        "token": [invitations.token_for(invitation), "1:tampered:link"],
        "link": [survey_link.token, "not-a-link"],
        "survey": [survey.slug],
        "question_id": [str(survey.questions.get(code="q1").pk)],
        "page_id": [str(survey_page.pk)],
        "response_id": [str(survey_response.pk)],
        # Django's password reset link: the user's id in base 64 (with "token" above).
        "uidb64": ["MQ"],
        "document_id": [str(document.pk)],
        "code_id": [str(negotiability.pk)],
        "round_id": [str(agreement_round.pk)],
        "token_id": [str(token.pk)],
        "batch": [str(pending.batch)],
        "upload": [str(project.batch)],
        "workshop_id": [str(fi.pk)],
        # Eero, whose words Chloe coded: his page shows the codings on his words.
        "participant_id": [str(study.participants.get(code="P02").pk)],
        # A participant's code (their withdrawal's preview, owners only).
        "code": ["P02"],
        # Export tables: the quotes carry excerpts, the frequencies counts.
        "name": ["quotes", "frequencies"],
        "fmt": ["csv", "xlsx", "json"],
        # DRF's format suffixes: "codings.json" and the API root's "/api/v1/.json"; only the
        # one a pattern accepts is walked.
        "format": ["json", ".json"],
    }
    pks = {
        "codings": chloe_coding.pk,
        "memos": Memo.objects.get(text=MARKER).pk,
        "workshops": fi.pk,
        "participants": study.participants.get(code="P01").pk,
        "variables": study.variables.order_by("pk").first().pk,
        "documents": document.pk,
        "codes": negotiability.pk,
        "memberships": Membership.objects.get(study=study, user=chloe).pk,
        "assignments": agreement_round.documents.get().assignments.get(coder=chloe).pk,
        "invitations": invitation.pk,
        # The survey API's objects (the walked survey's question, link and response).
        "questions": survey.questions.get(code="q1").pk,
        "links": survey_link.pk,
        "responses": survey_response.pk,
    }
    return Walked(
        study=study,
        document=document,
        chloe_coding=chloe_coding,
        start=start,
        end=end,
        values=values,
        pks={resource: str(pk) for resource, pk in pks.items()},
    )


# --- Finding the URLs -----------------------------------------------------------------------

# Query strings that reach further than a bare GET: filters and layers that name other coders'
# work. Keyed by URL name; each is walked besides the bare URL.
QUERIES = {
    "coding-list": ["document={document_id}", "document={document_id}&coder=chloe"],
    "memo-list": ["coding={coding}"],
    "study-reliability": ["coders=bob,chloe"],
    "study-export-table": ["layer=all", "layer=chloe", "layer=consensus"],
    "study-export-file": ["layer=all", "layer=chloe"],
    "coding:workbench": ["layer=all", "layer=consensus"],
    "coding:codebook": ["layer=all"],
    "coding:code": ["coder=chloe"],
    "coding:code_report_csv": ["coder=chloe"],
    "coding:reliability": ["round={round_id}"],
    "coding:compare": ["a=bob&b=chloe"],
    "coding:side_by_side": ["a=bob&b=chloe"],
    "coding:search": ["q=barter", "q=barter&code={code_id}"],
    "exports:page": ["table=quotes&layer=all", "table=quotes&layer=chloe"],
    "exports:download": ["table=quotes&layer=all"],
}

# Parameters that name something of the study: a URL with one of them is a study URL.
STUDY_PARAMETERS = {
    "slug",
    "job_id",
    "document_id",
    "code_id",
    "round_id",
    "batch",
    "pk",
    "id",
    "name",
}
# Lists across studies whose query names a study object, making them study URLs: the codings
# list is the list of one document's codings.
QUERIED_STUDY_LISTS = {"coding-list"}


@dataclass(frozen=True)
class Target:
    url: str
    source: str  # the pattern or schema path it was built from
    study_url: bool

    @property
    def is_api(self) -> bool:
        return self.url.startswith("/api/")


def walk_values(walked: Walked) -> Values:
    where = "`values` in the walked fixture of tests/test_visibility_walk.py"
    return Values(walked.values, walked.pks, where)


def query_values(walked: Walked) -> dict[str, str]:
    single = {name: values[0] for name, values in walked.values.items()}
    return single | {"coding": str(walked.chloe_coding.pk)}


def urlconf_targets(walked: Walked) -> list[Target]:
    targets = []
    for built in urlconf_urls(walk_values(walked)):
        study_url = bool(set(built.params) & STUDY_PARAMETERS)
        targets.append(Target(built.url, built.written, study_url))
        for query in QUERIES.get(built.name, []):
            query = query.format(**query_values(walked))
            addressed = study_url or built.name in QUERIED_STUDY_LISTS
            targets.append(Target(f"{built.url}?{query}", built.written, addressed))
    return targets


@functools.cache
def schema_get_paths() -> list[tuple[str, list[str]]]:
    # The generator warns on stderr about views it cannot introspect; the paths are what count.
    with contextlib.redirect_stderr(io.StringIO()):
        schema = SchemaGenerator().get_schema(request=None, public=True)
    return [
        (path, [p["name"] for p in operations["get"].get("parameters", []) if p["in"] == "path"])
        for path, operations in schema["paths"].items()
        if "get" in operations
    ]


def schema_targets(walked: Walked) -> list[Target]:
    targets = []
    for path, params in schema_get_paths():
        template = re.sub(r"\{(\w+)\}", r"%(\1)s", path)
        for values in fill(template, params, walk_values(walked), f"schema {path}"):
            study_url = bool(set(params) & STUDY_PARAMETERS)
            targets.append(Target(template % values, f"schema {path}", study_url))
    return targets


# --- Reading the answers --------------------------------------------------------------------


def body_of(response: object) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def readable(data: bytes, depth: int = 0) -> str:
    """The bytes as text (latin-1, so that no byte is lost), and for a zip archive (.xlsx,
    .docx, the paper pack) the text of every member, archives inside it included."""
    parts = [data.decode("latin-1")]
    if data.startswith(b"PK\x03\x04") and depth < 3:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for member in archive.namelist():
                parts.append(readable(archive.read(member), depth + 1))
    return "\n".join(parts)


def traces(walked: Walked) -> dict[str, re.Pattern]:
    """What gives Chloe's work away: her memo, her span as offsets (start, then end close
    after it: JSON, CSV, HTML attributes, spreadsheet cells), and her span as an excerpt, cut
    where she cut it (inside the whole text the same words sit between letters)."""
    return {
        "her memo": re.compile(re.escape(MARKER)),
        "her span's offsets": re.compile(
            rf"(?<!\d){walked.start}(?!\d).{{1,80}}?(?<!\d){walked.end}(?!\d)", re.DOTALL
        ),
        "her excerpt": re.compile(rf"(?<![A-Za-z]){re.escape(CHLOE_WORDS)}(?![A-Za-z])"),
    }


def client_for_role(role: str, people: dict[str, User]) -> Client:
    client = Client(raise_request_exception=False)
    if role != "anonymous":
        client.force_login(people[PERSON[role]])
    return client


def status_problem(role: str, target: Target, response: object) -> str | None:
    """How the answer's status breaks the rules for anonymous visitors and outsiders, or None.
    405 (a URL that takes no GET) tells nothing, so it is accepted from anyone."""
    status = response.status_code
    if status >= 500:
        return f"server error {status}"
    if not target.study_url or status == 405:
        return None
    if role == "anonymous":
        if target.is_api and status not in (401, 403):
            return f"{status}, expected 401 or 403"
        location = response.get("Location", "")
        if not target.is_api and not (status == 302 and location.startswith("/login/")):
            return f"{status} {location}, expected a redirect to /login/"
    if role == "outsider" and status != 404:
        return f"{status}, expected 404"
    return None


@pytest.fixture(autouse=True)
def quiet_request_log() -> Iterator[None]:
    """Refusals (404, 405) and server errors are what the walk collects and reports; Django's
    log of each would bury the report."""
    logger = logging.getLogger("django.request")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    yield
    logger.setLevel(level)


@pytest.mark.parametrize("blind", [False, True], ids=["blind-off", "blind-on"])
@pytest.mark.parametrize("role", ROLES)
def test_nobody_sees_what_the_rules_hide_from_them(
    walked: Walked, people: dict[str, User], role: str, blind: bool
) -> None:
    Study.objects.filter(pk=walked.study.pk).update(blind_coding=blind)
    client = client_for_role(role, people)
    hidden_from_them = role in ("anonymous", "outsider") or (role == "coder" and blind)
    signs = traces(walked)

    targets = urlconf_targets(walked)
    seen = {target.url for target in targets}
    targets += [target for target in schema_targets(walked) if target.url not in seen]

    problems, bodies = [], {}
    for target in targets:
        response = client.get(target.url)
        text = readable(body_of(response))
        bodies[target.url] = text
        wrong = status_problem(role, target, response)
        if wrong:
            problems.append(f"{target.url}: {wrong} [{target.source}]")
        if hidden_from_them:
            found = [sign for sign, pattern in signs.items() if pattern.search(text)]
            if found:
                problems.append(
                    f"{target.url}: {response.status_code} shows {', '.join(found)} "
                    f"[{target.source}]"
                )
    if not hidden_from_them:
        # The traces are there for those who may see them, so the walk can see a leak.
        memos_page = f"/studies/{walked.study.slug}/memos/"
        codings = f"/api/v1/codings/?document={walked.document.pk}"
        for url, sign in [
            (memos_page, "her memo"),
            ("/api/v1/memos/", "her memo"),
            (codings, "her span's offsets"),
        ]:
            if not signs[sign].search(bodies[url]):
                problems.append(f"{url}: does not show {sign}, which this person may see")

    where = f"{role} ({PERSON.get(role, 'not logged in')}), blind coding {'on' if blind else 'off'}"
    assert not problems, f"As {where}:\n" + "\n".join(problems)
