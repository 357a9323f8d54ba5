"""Every page of the site, as the demo study's owner, at 1024 and 1280 pixels wide: no page
scrolls sideways (a wide table scrolls inside its own box), and all visible text meets WCAG AA
contrast against what is behind it (4.5:1, or 3:1 for large text).

The pages come from the URLconf (tests/urlwalk.py, shared with the visibility walk), so a page
added anywhere is checked without being listed here; a URL parameter this file has no value for
fails the test, naming it. Only pages are checked: what answers with anything but HTML (the
API's JSON, downloads, recordings) is left out by its content type.
"""

from __future__ import annotations

import io
import re
import uuid
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from playwright.sync_api import Page
from pytest_django.live_server_helper import LiveServer

from coding.adjudication import start_round
from coding.models import Assignment, Coding, Memo
from exports.qdpx import write_qdpx
from studies import invitations
from studies.models import APIToken, Job, MemberInvitation, Membership, PendingImport, Study
from studies.recordings import attach_recording
from surveys.models import Invitation as SurveyInvitation
from surveys.models import Question, Survey
from tests.e2e.conftest import log_in
from tests.test_recordings import wav_bytes
from tests.urlwalk import Values, urlconf_urls

PASSWORD = "demo-pass-123"
WIDTHS = (1024, 1280)

# For each visible element holding text: its colour against the first opaque background found
# walking up its ancestors (semi-transparent ones blended on the way), and whether it is large
# text. WCAG 2.1: relative luminance of sRGB, ratio (L1 + 0.05) / (L2 + 0.05).
CONTRAST = """() => {
  const parse = (value) => {
    const m = value.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const parts = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return { r: parts[0], g: parts[1], b: parts[2], a: parts.length > 3 ? parts[3] : 1 };
  };
  const over = (top, bottom) => ({
    r: top.r * top.a + bottom.r * (1 - top.a),
    g: top.g * top.a + bottom.g * (1 - top.a),
    b: top.b * top.a + bottom.b * (1 - top.a),
    a: 1,
  });
  const background = (el) => {
    const layers = [];
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
      const colour = parse(getComputedStyle(node).backgroundColor);
      if (colour && colour.a > 0) {
        layers.push(colour);
        if (colour.a >= 1) break;
      }
    }
    let result = { r: 255, g: 255, b: 255, a: 1 }; // the canvas
    for (const layer of layers.reverse()) result = over(layer, result);
    return result;
  };
  const luminance = (c) => {
    const [r, g, b] = [c.r, c.g, c.b].map((v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const describe = (el) => {
    let name = el.tagName.toLowerCase();
    if (el.id) name += "#" + el.id;
    else if (el.classList.length) name += "." + [...el.classList].join(".");
    return name;
  };
  const failures = [];
  for (const el of document.body.querySelectorAll("*")) {
    if (el.closest("svg, script, style, noscript, template")) continue;
    const own = [...el.childNodes]
      .filter((n) => n.nodeType === 3)
      .map((n) => n.textContent)
      .join("")
      .trim();
    const field = el.matches("input:not([type=hidden]):not([type=checkbox]):not([type=radio])"
      + ":not([type=file]):not([type=range]):not([type=color]), select, textarea");
    const text = field ? (el.value || "").trim() : own;
    if (!text) continue;
    if (el.closest(":disabled, [aria-disabled=true]")) continue; // exempt in WCAG
    const style = getComputedStyle(el);
    if (style.visibility !== "visible" || Number(style.opacity) === 0) continue;
    const rect = el.getBoundingClientRect();
    // Not rendered, clipped to a pixel (visually hidden), or parked off screen (a skip link).
    if (rect.width <= 1 || rect.height <= 1) continue;
    if (rect.right <= 0 || rect.bottom <= 0) continue;
    let foreground = parse(style.color);
    if (!foreground) continue;
    const behind = background(el);
    if (foreground.a < 1) foreground = over(foreground, behind);
    const [a, b] = [luminance(foreground), luminance(behind)];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(style.fontSize);
    const bold = Number(style.fontWeight) >= 700;
    const large = size >= 24 || (size >= 18.66 && bold);
    const needed = large ? 3 : 4.5;
    if (ratio + 1e-9 < needed) {
      failures.push(
        `${describe(el)} "${text.slice(0, 40)}": ${ratio.toFixed(2)}:1 < ${needed}:1 `
        + `(${style.color} on rgb(${Math.round(behind.r)}, ${Math.round(behind.g)}, `
        + `${Math.round(behind.b)}), ${size}px${bold ? " bold" : ""})`
      );
    }
  }
  return failures;
}"""

# The widest elements past the window's right edge, outermost first: what makes a page scroll
# sideways.
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  // Inside a box that scrolls or clips sideways, being wider is that box's business.
  const contained = (el) => {
    for (let node = el.parentElement; node && node !== document.body; node = node.parentElement) {
      if (getComputedStyle(node).overflowX !== "visible") return true;
    }
    return false;
  };
  const wide = [...document.body.querySelectorAll("*")].filter((el) => {
    const rect = el.getBoundingClientRect();
    return rect.width > 0 && rect.right > width + 0.5 && !contained(el);
  });
  const outermost = wide.filter((el) => !wide.includes(el.parentElement));
  return {
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    culprits: outermost.slice(0, 5).map((el) => {
      let name = el.tagName.toLowerCase();
      if (el.id) name += "#" + el.id;
      else if (el.classList.length) name += "." + [...el.classList].join(".");
      return `${name} (right edge at ${Math.round(el.getBoundingClientRect().right)}px)`;
    }),
  };
}"""


DOWNLOAD = re.compile(r"\.(zip|csv|xlsx|sav|dta|pdf|png|svg)$")


@dataclass
class Site:
    values: Values
    owner: User


@pytest.fixture
def site(transactional_db: None, media_root: object) -> Site:
    """The demo study, seen by its owner Alice, with one of everything a URL can name: an
    agreement round, an API token, a pending import, a recording and an invitation."""
    call_command("load_demo", "--password", PASSWORD, stdout=io.StringIO())
    study = Study.objects.get(slug="demo")
    alice = User.objects.get(username="alice")
    document = study.documents.order_by("pk").first()
    coders = list(User.objects.filter(memberships__study=study, memberships__role="coder"))
    agreement_round = start_round(
        study=study, name="Pilot", user=alice, coders=coders[:2], documents=[document]
    )
    # The round turns blind coding on; the pages are walked as most studies are, with it off.
    Study.objects.filter(pk=study.pk).update(blind_coding=False)
    token, _secret = APIToken.issue(user=alice, name="laptop")
    workshop = document.workshop
    pending = PendingImport.objects.create(
        study=study,
        user=alice,
        batch=uuid.uuid4(),
        kind=PendingImport.Kind.TRANSCRIPT,
        workshop=workshop,
        language="en",
        filename=f"{workshop.code}-again.txt",
        # Personal data, so that the review's findings table is walked too.
        data=b"Facilitator: A second session.\nGuest: May I say something? Write to "
        b"guest@example.org or call 0161 496 0000.\n",
    )
    # A REFI-QDA project waiting for Alice's confirmation: its preview is a page too.
    project = PendingImport.objects.create(
        study=study, user=alice, kind="qdpx", filename="demo.qdpx", data=write_qdpx(study)[0]
    )
    attach_recording(
        document=document, upload=SimpleUploadedFile("session.wav", wav_bytes(0.5)), user=alice
    )
    invitation = MemberInvitation.objects.create(
        study=study, email="dora@example.org", role="coder", invited_by=alice
    )
    code = study.codes.filter(codable=True).order_by("pk").first()
    # A participant's private link to a survey (the respondent's pages).
    survey, _ = Survey.objects.get_or_create(
        study=study, slug="layout", defaults={"title": "Before the workshop"}
    )
    Question.objects.get_or_create(
        survey=survey, code="q1", defaults={"kind": "text", "label": "Your view?"}
    )
    survey_link, _ = SurveyInvitation.objects.get_or_create(
        survey=survey, participant=study.participants.order_by("pk").first()
    )
    # One respondent's answers, as the owner reads them.
    survey_response, _ = survey.responses.get_or_create(
        participant=study.participants.order_by("pk")[1]
    )
    survey_response.answers.get_or_create(
        question=survey.questions.get(code="q1"), defaults={"value": "Fair enough"}
    )
    # A Likert question with a submitted answer, so that the results page draws its bars.
    trust, _ = Question.objects.get_or_create(
        survey=survey,
        code="trust",
        defaults={"kind": "likert5", "label": "I trust automated decisions.", "order": 1},
    )
    scale = ["Strongly disagree", "Disagree", "Neither", "Agree", "Strongly agree"]
    for order, label in enumerate(scale):
        trust.options.get_or_create(
            code=f"s{order + 1}", role="choice", defaults={"label": label, "order": order}
        )
    submitted, _ = survey.responses.get_or_create(
        participant=study.participants.order_by("pk")[2],
        defaults={"submitted_at": survey.created_at},
    )
    submitted.answers.get_or_create(question=trust, defaults={"value": "s4"})
    # Alice's finished paper pack, with its file: the job pages.
    job = Job.objects.create(
        study=study,
        user=alice,
        kind="pack",
        title="Paper pack",
        handler="exports.jobs.paper_pack",
        status=Job.Status.DONE,
        message="The paper pack is ready: every table and figure of the demo study.",
        result_name="demo_pack.zip",
        result_type="application/zip",
        result_size=4,
    )
    job.result.save("demo_pack.zip", ContentFile(b"PK\x05\x06"))
    # A page of the survey holding its question, for the builder's pages.
    survey_page, _ = survey.pages.get_or_create(title="Your views")
    survey.questions.update(page=survey_page)
    values = {
        "slug": [study.slug],
        "document_id": [str(document.pk)],
        "code_id": [str(code.pk)],
        "round_id": [str(agreement_round.pk)],
        "token_id": [str(token.pk)],
        "batch": [str(pending.batch)],
        "upload": [str(project.batch)],
        "workshop_id": [str(workshop.pk)],
        "participant_id": [str(study.participants.order_by("pk").first().pk)],
        # A participant's code: the API's withdrawal preview (JSON, so not walked as a page).
        "code": [study.participants.order_by("pk").first().code],
        "invitation_id": [str(invitation.pk)],
        "token": [invitations.token_for(invitation)],
        "link": [survey_link.token],
        "survey": [survey.slug],
        "question_id": [str(survey.questions.get(code="q1").pk)],
        "page_id": [str(survey_page.pk)],
        "response_id": [str(survey_response.pk)],
        "job_id": [str(job.pk)],
        "uidb64": ["MQ"],
        # The widest tables: a crosstab by workshop and the quotes.
        "name": ["crosstab", "quotes"],
        "fmt": ["csv"],
        "format": ["json", ".json"],
    }
    # The API's objects: its answers are JSON, which the walk leaves out by content type.
    pks = {
        "codings": Coding.objects.filter(document__study=study).order_by("pk").first().pk,
        "memos": Memo.objects.filter(study=study).order_by("pk").first().pk,
        "workshops": workshop.pk,
        "participants": study.participants.order_by("pk").first().pk,
        "variables": study.variables.order_by("pk").first().pk,
        "documents": document.pk,
        "codes": code.pk,
        "memberships": Membership.objects.filter(study=study).order_by("pk").first().pk,
        "assignments": Assignment.objects.filter(coder__in=coders).order_by("pk").first().pk,
        "invitations": invitation.pk,
        "questions": survey.questions.get(code="q1").pk,
        "links": survey_link.pk,
        "responses": survey_response.pk,
    }
    where = "`values` or `pks` in the site fixture of tests/e2e/test_layout.py"
    return Site(Values(values, {k: str(v) for k, v in pks.items()}, where), alice)


def pages(page: Page, live_server: LiveServer, site: Site) -> list[str]:
    """Every URL of the URLconf that answers Alice's GET with an HTML page: the API's JSON,
    downloads and recordings are left out by their content type."""
    urls = []
    for built in urlconf_urls(site.values):
        # A file's address (the paper pack, a spreadsheet) is a download, not a page; the
        # visibility walk opens those as every role.
        if DOWNLOAD.search(built.url):
            continue
        response = page.request.get(live_server.url + built.url)
        assert response.status < 500, f"{built.url}: server error {response.status}"
        # A URL that takes no GET (405), or wants a query (400), shows no page.
        html = response.headers.get("content-type", "").startswith("text/html")
        if response.status == 200 and html:
            urls.append(built.url)
    # The pages behind a query that makes them widest: a crosstab by workshop, and results.
    urls += [
        "/studies/demo/exports/?table=crosstab&by=workshop&measure=participant_share",
        "/studies/demo/exports/?table=quotes",
        # The joint displays: quotes in every cell, and a row of figures per code.
        "/studies/demo/exports/?table=quote_matrix&by=country",
        "/studies/demo/exports/?table=code_summary",
        "/studies/demo/exports/?table=crosstab&by=survey:pre/trust&measure=participant_share",
        "/studies/demo/exports/cell/?table=crosstab&by=country&row=Concept/negotiability&group=FI",
        "/studies/demo/surveys/post/results/?by=country",
        "/studies/demo/search/?q=explain",
        # The audit trail with a filter applied (the unfiltered page comes from the URLconf).
        "/studies/demo/audit/?kind=coding",
    ]
    return list(dict.fromkeys(urls))


def test_every_page_fits_the_window_and_its_text_is_readable(
    page: Page, live_server: LiveServer, site: Site
) -> None:
    log_in(page, live_server, "alice", PASSWORD)
    urls = pages(page, live_server, site)
    assert "/studies/demo/" in urls and "/studies/demo/documents/" in urls, urls

    overflowing, unreadable = [], []
    for url in urls:
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 800})
            page.goto(live_server.url + url)
            page.wait_for_load_state("load")
            found = page.evaluate(OVERFLOW)
            if found["scrollWidth"] > found["innerWidth"]:
                overflowing.append(
                    f"{url} at {width}px: {found['scrollWidth']}px wide; "
                    + ", ".join(found["culprits"])
                )
            unreadable += [f"{url} at {width}px: {failure}" for failure in page.evaluate(CONTRAST)]

    problems = []
    if overflowing:
        problems.append("Pages scroll sideways:\n" + "\n".join(overflowing))
    if unreadable:
        problems.append("Text below WCAG AA contrast:\n" + "\n".join(unreadable))
    assert not problems, f"{len(urls)} pages checked.\n" + "\n\n".join(problems)


def test_the_checks_find_faint_text_and_a_page_wider_than_the_window(page: Page) -> None:
    """The two checks above can fail: grey on white below 4.5:1, a faint large heading below
    3:1, and a box wider than the window are each reported; what passes stays quiet."""
    page.set_viewport_size({"width": 1024, "height": 800})
    page.set_content(
        """<body style="margin:0;background:#fff">
        <p id="faint" style="color:#959595">Faint small text</p>
        <p id="fine" style="color:#767676">Just enough small text</p>
        <h1 id="large" style="font-size:24px;font-weight:400;color:#a0a0a0">Faint heading</h1>
        <div style="background:rgba(0,0,0,0.5)">
          <span id="veiled" style="color:#333">On grey</span>
        </div>
        <p style="position:absolute;width:1px;height:1px;overflow:hidden;color:#eee">hidden</p>
        <div style="overflow-x:auto">
          <table style="width:2000px"><tr><td>Wide, scrolls in its box</td></tr></table>
        </div>
        </body>"""
    )
    failures = page.evaluate(CONTRAST)
    assert [failure.split(" ", 1)[0] for failure in failures] == [
        "p#faint",
        "h1#large",
        "span#veiled",
    ], failures
    assert page.evaluate(OVERFLOW)["scrollWidth"] <= 1024
    page.evaluate(
        """() => { const d = document.createElement('div'); d.id = 'too-wide';
        d.style.width = '1500px'; d.textContent = 'x'; document.body.append(d); }"""
    )
    found = page.evaluate(OVERFLOW)
    assert found["scrollWidth"] > found["innerWidth"]
    assert found["culprits"] == ["div#too-wide (right edge at 1500px)"]
