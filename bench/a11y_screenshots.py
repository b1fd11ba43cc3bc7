"""The screenshots of docs/accessibility.md, taken from a running demo site (`make run`). Not run in CI.

    .venv/bin/python bench/a11y_screenshots.py http://127.0.0.1:8000

Writes docs/screenshots/a11y-focus-ring.png (the keyboard focus on the quote form's date picker and on a
calendar day), a11y-countdown.png (a hold's time left, made through the booking form) and a11y-gallery.png (the
property page's photos, served from their WebP renditions).
"""

from __future__ import annotations

import sys
from datetime import date, timedelta
from pathlib import Path

from playwright.sync_api import sync_playwright

OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


def main(base: str, slug: str = "alfama-azulejo-loft") -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/properties/{slug}/")
        page.screenshot(path=str(OUT / "a11y-gallery.png"))

        page.locator("#quote-form input[type=date]").first.focus()
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Tab")  # a keyboard focus, so :focus-visible applies
        widget = page.locator("#book")
        widget.scroll_into_view_if_needed()
        box = widget.bounding_box()
        page.screenshot(path=str(OUT / "a11y-focus-ring.png"),
                        clip={"x": box["x"] - 12, "y": box["y"] - 12, "width": box["width"] + 24, "height": 300})

        for days in range(200, 320, 4):  # the first free stay (an earlier run's hold may keep some dates)
            check_in = date.today() + timedelta(days=days)
            page.goto(f"{base}/book/{slug}/?check_in={check_in}&check_out={check_in + timedelta(days=3)}&adults=2")
            if page.get_by_label("Full name").count():
                break
        page.get_by_label("Full name").fill("Ada Lovelace")
        page.get_by_label("Email").fill("ada@example.com")
        page.get_by_label("Phone").fill("+44 20 7946 0000")
        page.locator("#id_country").select_option("GB")
        page.locator("#id_accept").check()
        page.get_by_role("button", name="Continue to payment").click()
        page.locator(".countdown").wait_for()
        page.locator(".hold-timer").screenshot(path=str(OUT / "a11y-countdown.png"))
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/"))
