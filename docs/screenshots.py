"""Take the README's screenshots from a running Colloquy (`make run`), with Debian's Chromium.

.venv/bin/python docs/screenshots.py [http://127.0.0.1:8000]
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"
OUT = Path(__file__).resolve().parent / "img"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def log_in(page: object, username: str) -> None:
    page.goto(f"{BASE}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("colloquy-demo")
    page.get_by_role("button", name="Log in").click()


def main() -> None:
    OUT.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        log_in(page, "alice")
        page.goto(f"{BASE}/studies/demo/")
        page.screenshot(path=OUT / "overview.png")
        page.goto(f"{BASE}/studies/demo/documents/")
        page.get_by_role("link", name="DE-1", exact=True).click()
        page.screenshot(path=OUT / "transcript.png")
        page.goto(f"{BASE}/studies/demo/import/")
        page.screenshot(path=OUT / "import.png")
        page.goto(f"{BASE}/studies/demo/codebook/")
        page.screenshot(path=OUT / "codebook.png")
        page.goto(f"{BASE}/studies/demo/search/?q=explained&mode=lemma")
        page.screenshot(path=OUT / "search.png")
        page.goto(f"{BASE}/studies/demo/reliability/")
        page.screenshot(path=OUT / "reliability.png")
        page.set_viewport_size({"width": 1280, "height": 1200})
        page.goto(
            f"{BASE}/studies/demo/exports/?table=crosstab&by=country&measure=participant_share"
        )
        page.wait_for_load_state("networkidle")
        page.screenshot(path=OUT / "exports.png")

        page = browser.new_page(viewport={"width": 1280, "height": 800})
        log_in(page, "bob")
        page.goto(f"{BASE}/studies/demo/documents/")
        page.get_by_role("link", name="Code GB-1").click()
        page.wait_for_selector("#wb-transcript.wb-ready", state="attached")
        utterance = page.locator("#turn-4 .wb-utt").bounding_box()
        page.mouse.move(utterance["x"] + 5, utterance["y"] + 8)
        page.mouse.down()
        page.mouse.move(utterance["x"] + 300, utterance["y"] + 8)
        page.mouse.up()
        page.wait_for_timeout(300)
        page.screenshot(path=OUT / "coding.png")
        browser.close()


if __name__ == "__main__":
    main()
