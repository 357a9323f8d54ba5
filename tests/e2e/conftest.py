"""Browser tests drive Debian's Chromium through Playwright; no browser is ever downloaded."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("COLLOQUY_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Playwright's sync API runs an event loop in the test's thread; Django's ORM calls from the
# same thread (fixtures, assertions) are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


# How long an action (a click, a navigation) and an assertion (`expect`) wait. Generous, since
# a test only waits that long when it is about to fail, and a busy two-core machine running the
# suite on every core can take seconds over a page whose request runs an import.
TIMEOUT_MS = 15_000


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium package to run browser tests")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def script_errors() -> list[str]:
    """What the page's JavaScript threw or logged as errors; a test that expects one clears it."""
    return []


@pytest.fixture
def page(browser: object, script_errors: list[str]) -> Iterator[object]:
    """A fresh page; the test fails if the page's JavaScript throws or logs an error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors = script_errors
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and "favicon" not in message.location.get("url", "")
            else None
        ),
    )
    # Requests the page still waits for when the test ends (a figure, an htmx poll): the live
    # server would go on answering them while the next test's data is written and, with
    # SQLite, on the same connection. Teardown waits for them first.
    pending: set[object] = set()
    page.on("request", lambda request: pending.add(request))
    page.on("requestfinished", lambda request: pending.discard(request))
    page.on("requestfailed", lambda request: pending.discard(request))
    yield page
    for _ in range(TIMEOUT_MS // 50):
        if not pending:
            break
        page.wait_for_timeout(50)
    context.close()
    assert errors == [], errors


def log_in(page: object, live_server: object, username: str, password: str) -> None:
    page.goto(live_server.url + "/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def wait_until(page: object, expression: str, timeout: float = 10.0) -> None:
    """Wait until a JavaScript expression is truthy in the page.

    Playwright's wait_for_function evaluates a string predicate with eval() inside the page, which
    our content security policy (no 'unsafe-eval') refuses whenever the first check is false; each
    check here is a separate evaluate, which the policy does not govern.
    """
    import time

    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout:.0f} s: {expression}")
        page.wait_for_timeout(50)
