"""End to end in Debian's headless Chromium, driven by Playwright (never a downloaded browser).

Screenshots go to the test's tmp dir, and also to $HUBBLECLIP_WEB_SCREENSHOTS when set.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from test_web_api import M31_PNG, web_engine  # noqa: F401  (the session-scoped engine fixture)

CHROMIUM = "/usr/bin/chromium"
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

pytestmark = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK),
    reason=f"{CHROMIUM} not installed (apt-get install chromium; `make test` does it)",
)


@pytest.fixture(scope="module")
def base_url(web_engine):  # noqa: F811
    from hubbleclip.web.app import create_app
    from hubbleclip.web.server import running_server

    with running_server(create_app(web_engine)) as url:
        yield url


@pytest.fixture
def page(tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        yield page
        browser.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def shoot(page, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    page.mouse.wheel(0, -100_000)  # from the top, so the sticky header sits where it belongs
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5000
    if os.environ.get("HUBBLECLIP_WEB_SCREENSHOTS"):
        out = Path(os.environ["HUBBLECLIP_WEB_SCREENSHOTS"])
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, out / path.name)


def tile_ids(page) -> list[str]:
    return page.eval_on_selector_all("#sim-grid .tile", "els => els.map(e => e.dataset.imageId)")


def test_search_similar_select_and_upload(page, base_url, tmp_path, web_engine):  # noqa: F811
    from playwright.sync_api import expect

    page.goto(base_url)
    page.fill("#q", "andromeda galaxy")
    page.press("#q", "Enter")
    page.wait_for_selector("#results .card")
    first = page.locator("#results .card").first
    assert first.locator("h3").inner_text() == "NGC 224"
    assert "M31" in first.locator(".aliases").inner_text()
    assert "Andromeda" in first.locator(".facts").inner_text()
    assert "ms" in page.inner_text("#status")
    assert page.locator("#results .card .placeholder").count() > 0  # catalog-only objects get a placeholder
    shoot(page, tmp_path, "01-search")

    # similar view: the first page, then more as the user scrolls
    first.locator("button.similar-button").click()
    page.wait_for_selector("#sim-grid .tile")
    page.wait_for_selector("#clusters .tile")
    before = tile_ids(page)
    assert len(before) == 24 and "stellarium:m31" not in before
    page.mouse.wheel(0, 5000)
    expect(page.locator("#sim-grid .tile")).to_have_count(len(web_engine.space) - 1)
    shoot(page, tmp_path, "02-similar")

    # selecting two images frames them and re-ranks the rest by their combination
    page.click(f'#sim-grid .tile[data-image-id="{before[5]}"]')
    expect(page.locator("#sim-grid .tile.selected")).to_have_count(1)
    page.click(f'#sim-grid .tile[data-image-id="{before[9]}"]')
    expect(page.locator("#sim-status")).to_contain_text("2 selected images")
    expect(page.locator("#sim-grid .tile.selected")).to_have_count(2)
    after = tile_ids(page)
    assert after[:2] == [before[5], before[9]]
    rest_before = [i for i in before if i not in after[:2]]
    assert after[2 : 2 + len(rest_before)] != rest_before
    assert (
        page.locator("#sim-grid .tile.selected").first.evaluate("e => getComputedStyle(e).borderTopColor")
        != "rgba(0, 0, 0, 0)"
    )
    shoot(page, tmp_path, "03-selected")

    # a quick-select representative preselects its cluster's nearest members
    rep = page.locator("#clusters .tile").first
    rep_id = rep.get_attribute("data-image-id")
    rep.click()
    expect(page.locator("#sim-grid .tile.selected").first).to_have_attribute("data-image-id", rep_id)

    # upload a real image: results and its top-5 classes
    page.click("#back")
    page.set_input_files("#upload", str(M31_PNG))
    page.wait_for_selector("#upload-panel:not([hidden]) #classes li")
    assert page.locator("#classes li").count() == 5
    expect(page.locator("#status")).to_contain_text("m31.png")
    assert page.locator("#results .card").count() > 0
    shoot(page, tmp_path, "04-upload")

    # a file that is not an image gets the server's message, not a crash
    bad = tmp_path / "notes.txt"
    bad.write_text("not an image")
    page.set_input_files("#upload", str(bad))
    expect(page.locator("#status.error")).to_contain_text("unsupported upload type")


def test_url_reflects_the_view_and_restores_it(page, base_url, tmp_path):
    from urllib.parse import parse_qs, urlparse

    from playwright.sync_api import expect

    def query() -> dict[str, list[str]]:
        return parse_qs(urlparse(page.url).query)

    # a shared search link runs the search on load
    page.goto(f"{base_url}/?q=andromeda%20galaxy")
    page.wait_for_selector("#results .card")
    assert page.input_value("#q") == "andromeda galaxy"
    assert page.locator("#results .card h3").first.inner_text() == "NGC 224"

    # a new search is a new history entry
    page.fill("#q", "planetary nebula")
    page.press("#q", "Enter")
    expect(page.locator("#status")).to_contain_text("planetary nebula")
    assert query() == {"q": ["planetary nebula"]}
    page.go_back()
    expect(page.locator("#status")).to_contain_text("andromeda galaxy")
    assert query() == {"q": ["andromeda galaxy"]} and page.input_value("#q") == "andromeda galaxy"

    # the similar view and its selection live in the URL
    page.locator("#results .card").first.locator("button.similar-button").click()
    page.wait_for_selector("#sim-grid .tile")
    assert query() == {"similar": ["stellarium:m31"]}
    before = tile_ids(page)
    page.click(f'#sim-grid .tile[data-image-id="{before[2]}"]')
    page.click(f'#sim-grid .tile[data-image-id="{before[4]}"]')
    expect(page.locator("#sim-status")).to_contain_text("2 selected images")
    assert query() == {"similar": ["stellarium:m31"], "selected": [before[2], before[4]]}
    ranked = tile_ids(page)

    # reload: the same view, selection and order
    page.reload()
    expect(page.locator("#sim-status")).to_contain_text("2 selected images")
    expect(page.locator("#sim-grid .tile.selected")).to_have_count(2)
    assert tile_ids(page)[:10] == ranked[:10]
    shoot(page, tmp_path, "05-restored")

    # back: the search it came from; forward: the selection again
    page.go_back()
    expect(page.locator("#search-view")).to_be_visible()
    expect(page.locator("#results .card").first.locator("h3")).to_have_text("NGC 224")
    assert query() == {"q": ["andromeda galaxy"]}
    page.go_forward()
    expect(page.locator("#similar-view")).to_be_visible()
    expect(page.locator("#sim-grid .tile.selected")).to_have_count(2)
    # the page's own back button goes back in history too
    page.click("#back")
    expect(page.locator("#search-view")).to_be_visible()
    assert query() == {"q": ["andromeda galaxy"]}
