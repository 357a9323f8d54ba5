"""Each rule about who may see or do what gives the same answer on the web page and in the API.

The rules (DESIGN.md, studies/access.py): members see their study, nobody else does; viewers
and owners see the agreement figures, every coder's codings, the memos on them and every layer
even with blind coding on, and coders see them only while blind coding is off; only owners
change the codebook, the members and the imports; coders and owners code.

Each test asks the page and the API the same question as one person (anonymous, Mallory the
outsider, Victor the viewer, Bob the coder, Alice the owner), and checks first that both give
the same answer, then that it is the answer the rule gives. Chloe is the other coder whose work
is at stake.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from coding.models import Code, Memo
from coding.services import CodingSpan, apply_codings
from exports.base import ExportRefused
from exports.tables import build_table
from studies.models import Document, Membership, Study
from tests.conftest import ROSTER
from tests.helpers import client_for

MARKER = "MARKER-7f3c9e"
ROLES = ("anonymous", "outsider", "viewer", "coder", "owner")
PERSON = {"outsider": "mallory", "viewer": "victor", "coder": "bob", "owner": "alice"}
BLIND = pytest.mark.parametrize("blind", [False, True], ids=["blind-off", "blind-on"])
EVERY_ROLE = pytest.mark.parametrize("role", ROLES)


@dataclass(frozen=True)
class Answer:
    allowed: bool
    said: str  # the status and what decided, for the failure message

    def __str__(self) -> str:
        return f"{'allowed' if self.allowed else 'refused'} ({self.said})"


def same_answer(page: Answer, api: Answer, expected: bool) -> None:
    assert page.allowed == api.allowed, f"the page says {page}, the API says {api}"
    assert page.allowed == expected, (
        f"page and API agree, but the rule says {'allowed' if expected else 'refused'}: "
        f"page {page}, API {api}"
    )


def sees_everything(role: str, blind: bool) -> bool:
    """The blind-coding rule: viewers and owners always, coders while blind coding is off."""
    return role in ("viewer", "owner") or (role == "coder" and not blind)


@pytest.fixture
def coded(document: Document, codes: dict[str, Code], people: dict[str, User]) -> Study:
    """FI-1's transcript coded by Bob and by Chloe, who wrote a memo on her coding."""
    study = document.study
    chloe = User.objects.create_user("chloe", "chloe@example.org", "pw-chloe")
    Membership.objects.create(study=study, user=chloe, role="coder")
    negotiability = codes["negotiability"].pk
    text = document.text
    bob_at = text.index("selittää päätöksensä")
    chloe_at = text.index("algoritmin pitäisi")
    apply_codings(
        user=people["bob"], spans=[CodingSpan(document.pk, negotiability, bob_at, bob_at + 20)]
    )
    [chloe_coding] = apply_codings(
        user=chloe, spans=[CodingSpan(document.pk, negotiability, chloe_at, chloe_at + 30)]
    ).created
    Memo.objects.create(study=study, author=chloe, coding=chloe_coding, text=MARKER)
    return study


def person(role: str, people: dict[str, User]) -> Client:
    client = Client()
    if role != "anonymous":
        client.force_login(people[PERSON[role]])
    return client


def status(response: object) -> str:
    location = response.get("Location", "")
    return f"{response.status_code}{f' -> {location}' if location else ''}"


def api_answer(response: object, *allowed_statuses: int) -> Answer:
    return Answer(response.status_code in (allowed_statuses or (200,)), status(response))


def workbench_data(response: object) -> dict | None:
    """The data the coding view's script draws from (`json_script` "wb-data"), if any."""
    if response.status_code != 200:
        return None
    found = re.search(
        r'<script id="wb-data" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.DOTALL,
    )
    return json.loads(found.group(1)) if found else None


# --- Seeing -----------------------------------------------------------------------------------


@EVERY_ROLE
def test_the_study_is_visible_to_its_members_only(
    coded: Study, people: dict[str, User], role: str
) -> None:
    client = person(role, people)
    page = client.get("/studies/adm/")
    api = client.get("/api/v1/studies/adm/")
    same_answer(
        Answer(page.status_code == 200, status(page)),
        api_answer(api),
        expected=role in ("viewer", "coder", "owner"),
    )


@BLIND
@EVERY_ROLE
def test_agreement_figures(coded: Study, people: dict[str, User], role: str, blind: bool) -> None:
    Study.objects.filter(pk=coded.pk).update(blind_coding=blind)
    client = person(role, people)
    page = client.get("/studies/adm/reliability/")
    figures = page.status_code == 200 and re.search(
        r'<th scope="row">[^<]*negotiability</th>', page.content.decode()
    )
    shown = "the agreement table" if figures else "no agreement table"
    api = client.get("/api/v1/studies/adm/reliability/")
    same_answer(
        Answer(bool(figures), f"{status(page)}, {shown}"),
        api_answer(api),
        expected=sees_everything(role, blind),
    )


@BLIND
@EVERY_ROLE
def test_other_coders_codings(
    coded: Study, document: Document, people: dict[str, User], role: str, blind: bool
) -> None:
    Study.objects.filter(pk=coded.pk).update(blind_coding=blind)
    client = person(role, people)
    page = client.get(f"/studies/adm/documents/{document.pk}/code/", {"layer": "all"})
    data = workbench_data(page)
    on_page = data is not None and any(c["coder"] == "chloe" for c in data["codings"])
    api = client.get("/api/v1/codings/", {"document": document.pk})
    in_api = api.status_code == 200 and any(c["coder"] == "chloe" for c in api.json())
    same_answer(
        Answer(on_page, f"{status(page)}, Chloe's coding {'shown' if on_page else 'absent'}"),
        Answer(in_api, f"{status(api)}, Chloe's coding {'listed' if in_api else 'absent'}"),
        expected=sees_everything(role, blind),
    )


@BLIND
@EVERY_ROLE
def test_memos_on_other_coders_codings(
    coded: Study, people: dict[str, User], role: str, blind: bool
) -> None:
    Study.objects.filter(pk=coded.pk).update(blind_coding=blind)
    client = person(role, people)
    page = client.get("/studies/adm/memos/")
    api = client.get("/api/v1/memos/")
    on_page = page.status_code == 200 and MARKER in page.content.decode()
    in_api = api.status_code == 200 and MARKER in api.content.decode()
    same_answer(
        Answer(on_page, f"{status(page)}, Chloe's memo {'shown' if on_page else 'absent'}"),
        Answer(in_api, f"{status(api)}, Chloe's memo {'listed' if in_api else 'absent'}"),
        expected=sees_everything(role, blind),
    )


@BLIND
@EVERY_ROLE
def test_exporting_another_coders_layer(
    coded: Study, people: dict[str, User], role: str, blind: bool
) -> None:
    Study.objects.filter(pk=coded.pk).update(blind_coding=blind)
    client = person(role, people)
    page = client.get("/studies/adm/exports/", {"table": "frequencies", "layer": "chloe"})
    made = page.status_code == 200 and 'class="exp-error"' not in page.content.decode()
    api = client.get("/api/v1/studies/adm/exports/frequencies/", {"layer": "chloe"})
    same_answer(
        Answer(made, f"{status(page)}, {'a table' if made else 'no table'}"),
        api_answer(api),
        expected=sees_everything(role, blind),
    )


# --- Doing ------------------------------------------------------------------------------------


@EVERY_ROLE
def test_changing_the_codebook(
    coded: Study, codes: dict[str, Code], people: dict[str, User], role: str
) -> None:
    client = person(role, people)
    concept = codes["concept"].pk
    page = client.post(
        "/studies/adm/codebook/new/",
        {"name": "accuracy", "colour": "#009E73", "codable": "on", "parent": concept},
    )
    added = Code.objects.filter(study=coded, name="accuracy").exists()
    api = client.post(
        "/api/v1/studies/adm/codes/",
        {"name": "humanity", "parent": concept},
        content_type="application/json",
    )
    same_answer(
        Answer(added, f"{status(page)}, {'added' if added else 'not added'}"),
        api_answer(api, 201),
        expected=role == "owner",
    )


@EVERY_ROLE
def test_managing_members(coded: Study, people: dict[str, User], role: str) -> None:
    for name in ("dora", "erin"):
        User.objects.create_user(name, password=f"pw-{name}")
    client = person(role, people)
    page = client.post(
        "/studies/adm/members/", {"action": "add", "username": "dora", "role": "viewer"}
    )
    joined = coded.memberships.filter(user__username="dora").exists()
    api = client.post(
        "/api/v1/studies/adm/memberships/",
        {"username": "erin", "role": "viewer"},
        content_type="application/json",
    )
    same_answer(
        Answer(joined, f"{status(page)}, Dora {'joined' if joined else 'did not join'}"),
        api_answer(api, 201),
        expected=role == "owner",
    )


@EVERY_ROLE
def test_importing(coded: Study, people: dict[str, User], role: str) -> None:
    """Uploading a roster: the page answers with the preview to confirm, the API with the
    plan (neither writes anything before it is confirmed)."""
    client = person(role, people)

    def roster() -> SimpleUploadedFile:
        return SimpleUploadedFile("roster.csv", ROSTER.encode(), content_type="text/csv")

    page = client.post("/studies/adm/import/", {"roster": "1", "r-file": roster()})
    preview = page.status_code == 302 and page["Location"].startswith("/studies/adm/import/")
    api = client.post("/api/v1/studies/adm/imports/roster/", {"file": roster()})
    same_answer(
        Answer(preview, f"{status(page)}, {'a preview' if preview else 'no preview'}"),
        api_answer(api),
        expected=role == "owner",
    )


@EVERY_ROLE
def test_coding(
    coded: Study, document: Document, codes: dict[str, Code], people: dict[str, User], role: str
) -> None:
    """The coding view offers its tools (`canCode`), and the API takes a new coding."""
    client = person(role, people)
    page = client.get(f"/studies/adm/documents/{document.pk}/code/")
    data = workbench_data(page)
    tools = data is not None and data["canCode"] is True
    api = client.post(
        "/api/v1/codings/",
        {"document": document.pk, "code": codes["explainability"].pk, "start": 0, "end": 6},
        content_type="application/json",
    )
    same_answer(
        Answer(tools, f"{status(page)}, {'coding tools' if tools else 'no coding tools'}"),
        api_answer(api, 201),
        expected=role in ("coder", "owner"),
    )


def test_a_blind_coder_exports_no_agreement_figures_as_the_reliability_pages_show_none(
    case: object,
) -> None:
    """One rule (Access.sees_others) for the reliability pages and the reliability table."""
    study = case.document.study
    Study.objects.filter(pk=study.pk).update(blind_coding=True)
    study.refresh_from_db()
    with pytest.raises(ExportRefused, match="blind coding"):
        build_table(study, "reliability", user=case.bob)
    response = client_for(case.bob).get(f"/api/v1/studies/{study.slug}/exports/reliability/")
    assert response.status_code == 403
    assert build_table(study, "reliability", user=case.alice).name == "reliability"
