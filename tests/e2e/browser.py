"""How the browser tests run Chromium, where they leave their screenshots, and how they ask axe-core about a page."""

from pathlib import Path

from playwright.async_api import Page

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"  # screenshots of the pages the browser tests visit
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# axe-core's rules for WCAG 2.1 levels A and AA, the city's policy for every service.
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PHONE = {"width": 375, "height": 740}  # a small phone's viewport in CSS pixels


async def accessibility_violations(page: Page, axe: Path) -> list[dict]:
    """What axe-core (the file `axe`, see the `axe` fixture) finds against WCAG 2.1 A and AA on the page as it is
    now: each violated rule with its impact and the elements that break it. The page's context needs script and
    `bypass_csp=True` (the pages' policy rightly refuses injected scripts)."""
    await page.add_script_tag(path=axe)
    result = await page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})", WCAG_21_AA
    )
    return [
        {"rule": v["id"], "impact": v["impact"], "help": v["help"], "where": [n["target"] for n in v["nodes"]]}
        for v in result["violations"]
    ]
