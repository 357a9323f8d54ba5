"""People in a real browser: an owner invites a new person by e-mail, who creates an account
through the link and lands in the study; the pages fit 1024 px; the top bar's username link is
readable (WCAG AA)."""

from __future__ import annotations

import re

from django.contrib.auth.models import User
from django.core import mail
from playwright.sync_api import expect

from studies.models import Membership, Study
from tests.e2e.conftest import log_in

PASSWORD = "pw-alice-long-enough"

# WCAG 2.x contrast of an element's text against the first opaque background behind it.
CONTRAST_JS = """
(element) => {
  const rgb = (css) => css.match(/[\\d.]+/g).map(Number);
  const luminance = ([r, g, b]) => {
    const channel = (c) => {
      c = c / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    };
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  };
  let node = element, background = null;
  while (node) {
    const parts = rgb(getComputedStyle(node).backgroundColor);
    if (parts.length < 4 || parts[3] > 0) { background = parts; break; }
    node = node.parentElement;
  }
  const [a, b] = [luminance(rgb(getComputedStyle(element).color)), luminance(background)];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}
"""


def fits(page: object, within: str = "body") -> bool:
    """Nothing in `within` reaches past the window's right edge (no sideways scrolling). Study
    pages are checked inside `main`: the study navigation above it is the layout's own."""
    return page.evaluate(
        """(within) => [...document.querySelectorAll(within + ' *')].every(
            e => e.getBoundingClientRect().right <= document.documentElement.clientWidth)""",
        within,
    )


def owner_and_study() -> Study:
    alice = User.objects.create_user("alice", "alice@example.org", PASSWORD)
    study = Study.objects.create(slug="adm", name="Algorithmic decision-making")
    Membership.objects.create(study=study, user=alice, role="owner")
    return study


def test_an_owner_invites_a_new_person_who_joins_through_the_link(
    page, live_server, transactional_db, script_errors
) -> None:
    study = owner_and_study()
    page.set_viewport_size({"width": 1024, "height": 800})
    log_in(page, live_server, "alice", PASSWORD)
    page.goto(f"{live_server.url}/studies/adm/members/")
    page.get_by_label("E-mail address or username").fill("dora@example.org")
    page.get_by_label("Role", exact=True).last.select_option("coder")
    page.get_by_role("button", name="Send invitation").click()

    expect(page.get_by_role("status")).to_contain_text(
        "Invitation for dora@example.org as coder sent to dora@example.org."
    )
    row = page.locator("table.data tr", has_text="dora@example.org")
    expect(row).to_contain_text("Coder")
    expect(row.get_by_role("button", name="Revoke")).to_be_visible()
    assert fits(page, "main")

    [message] = mail.outbox
    link = re.search(r"https?://\S+/invitations/\S+/", message.body).group(0)
    page.get_by_role("button", name="Log out").click()

    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Join Algorithmic decision-making")
    expect(page.get_by_label("E-mail address")).to_have_value("dora@example.org")
    assert fits(page)
    page.get_by_label("Username").fill("dora")
    page.get_by_label("Password", exact=True).fill("a long walk to Turku")
    page.get_by_label("Password confirmation").fill("a long walk to Turku")
    page.get_by_role("button", name="Create account and join").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Algorithmic decision-making")
    expect(page.get_by_role("status")).to_contain_text(
        "You joined Algorithmic decision-making as coder."
    )
    expect(page.locator("header.topbar .account")).to_contain_text("dora · coder")
    assert study.memberships.get(user__username="dora").role == "coder"

    # The link is used now: opening it again says so, and what to do.
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("This invitation was used already")
    # Served as 410 Gone, which the browser logs as an error.
    script_errors[:] = [e for e in script_errors if "410" not in e]


def test_the_top_bar_username_link_is_readable(page, live_server, transactional_db) -> None:
    owner_and_study()
    log_in(page, live_server, "alice", PASSWORD)
    for path in ("/", "/studies/adm/"):
        page.goto(live_server.url + path)
        link = page.locator("header.topbar").get_by_role("link", name="alice")
        expect(link).to_be_visible()
        assert link.evaluate(CONTRAST_JS) >= 4.5
        assert link.evaluate("e => getComputedStyle(e).textDecorationLine") == "underline"
    link.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Profile")


def test_the_account_pages_fit_1024_pixels_and_label_every_input(
    page, live_server, transactional_db, script_errors
) -> None:
    owner_and_study()
    page.set_viewport_size({"width": 1024, "height": 800})
    public = ["/login/", "/signup/", "/password/reset/", "/password/reset/sent/"]
    for path in public:
        page.goto(live_server.url + path)
        assert fits(page), path
        unlabelled = page.evaluate(
            """[...document.querySelectorAll('input:not([type=hidden]), select')]
               .filter(i => !(i.labels && i.labels.length)).map(i => i.name)"""
        )
        assert unlabelled == [], (path, unlabelled)
    page.goto(live_server.url + "/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reset your password")

    log_in(page, live_server, "alice", PASSWORD)
    page.goto(live_server.url + "/profile/")
    page.get_by_role("link", name="Change your password").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Change your password")
    assert fits(page)
    page.get_by_label("Old password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill("a long walk to Turku")
    page.get_by_label("New password confirmation").fill("a long walk to Turku")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Password changed")

    # A tampered link: a clear page (served as 404, which the browser logs as an error).
    page.goto(live_server.url + "/invitations/1:tampered:link/")
    expect(page.get_by_role("heading", level=1)).to_have_text("This invitation link does not work")
    assert "Algorithmic decision-making" not in page.content()
    assert fits(page)
    script_errors[:] = [e for e in script_errors if "404" not in e]
