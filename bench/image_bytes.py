"""Bytes of photos a guest's browser downloads on the search page and a property page (docs/accessibility.md,
"Responsive images"). Not run in CI.

    .venv/bin/python bench/image_bytes.py http://127.0.0.1:8000 [slug]

Opens each page in Debian's Chromium (headless, Playwright) at a desktop (1280×900, DPR 1) and a phone viewport
(390×844, DPR 3), scrolls to the bottom so lazy images load too, and adds up the bodies of every image response.
"""

from __future__ import annotations

import sys

from playwright.sync_api import sync_playwright

VIEWPORTS = {"desktop 1280×900": ({"width": 1280, "height": 900}, 1),
             "phone 390×844 @3x": ({"width": 390, "height": 844}, 3)}


def measure(base: str, slug: str) -> None:
    pages = {"search": f"{base}/", "property": f"{base}/properties/{slug}/"}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        for label, (viewport, scale) in VIEWPORTS.items():
            for name, url in pages.items():
                context = browser.new_context(viewport=viewport, device_scale_factor=scale)
                page = context.new_page()
                sizes: dict[str, int] = {}

                def on_response(response, sizes=sizes):
                    if response.request.resource_type == "image" and "/media/" in response.url:
                        sizes[response.url] = len(response.body())

                page.on("response", on_response)
                page.goto(url, wait_until="networkidle")
                above_fold = sum(sizes.values())
                page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
                page.wait_for_timeout(1500)
                page.wait_for_load_state("networkidle")
                print(f"{label:20} {name:9} first view {above_fold / 1024:7.1f} KiB   whole page "
                      f"{sum(sizes.values()) / 1024:7.1f} KiB in {len(sizes)} images")
                context.close()
        browser.close()


if __name__ == "__main__":
    measure(sys.argv[1].rstrip("/"), sys.argv[2] if len(sys.argv) > 2 else "alfama-azulejo-loft")
