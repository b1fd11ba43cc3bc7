"""axe-core in the browser tests: :func:`audit` runs the WCAG 2.1 A/AA rules (and 2.2's target size) on the
page Playwright shows, and :func:`serious` keeps the violations that fail a test (impact serious or critical).

axe-core comes from the PyPI package ``axe-playwright-python`` (pinned in pyproject.toml), which ships
``axe.min.js`` (axe-core, MPL-2.0, its licence header kept in the file): no network at test time. The script is
evaluated through the DevTools protocol, which the page's Content-Security-Policy does not apply to.
docs/accessibility.md lists the pages covered.
"""

from __future__ import annotations

from axe_playwright_python.sync_playwright import Axe

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]  # wcag22aa: target-size (24×24 CSS px)
FAILING_IMPACTS = {"serious", "critical"}

_axe = Axe()


def audit(page) -> list[dict]:
    """Every axe violation of the current page (the rules of ``WCAG_TAGS``)."""
    results = _axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS},
                                      "resultTypes": ["violations"]})
    return results.response["violations"]


def serious(violations: list[dict]) -> list[str]:
    """The violations that fail a test, one readable line per rule with the offending elements."""
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(" ".join(node["target"]) if isinstance(node["target"], list) else str(node["target"])
                    for node in v["nodes"][:5])
        for v in violations if v.get("impact") in FAILING_IMPACTS
    ]


def axe_version() -> str:
    return _axe.axe_script[:40].split("axe v", 1)[-1].split()[0]
