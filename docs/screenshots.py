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


def main() -> None:
    OUT.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(f"{BASE}/login/")
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill("colloquy-demo")
        page.get_by_role("button", name="Log in").click()
        page.goto(f"{BASE}/studies/demo/")
        page.screenshot(path=OUT / "overview.png")
        page.goto(f"{BASE}/studies/demo/documents/")
        page.get_by_role("link", name="DE-1", exact=True).click()
        page.screenshot(path=OUT / "transcript.png")
        page.goto(f"{BASE}/studies/demo/import/")
        page.screenshot(path=OUT / "import.png")
        browser.close()


if __name__ == "__main__":
    main()
