"""The chat in a real headless Chromium against `clerk serve` on the bundled corpus index.

Each state is saved as a screenshot under tests/results/ui/ for a person to look at.
"""

from __future__ import annotations

import re
import shutil
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tests.helpers import ROOT, free_port, running_server

pytestmark = [pytest.mark.slow, pytest.mark.browser]
SHOTS = ROOT / "tests" / "results" / "ui"
PART6 = "Trafford Council Constitution Part 6: Members' allowances scheme"


@pytest.fixture(scope="module")
def server(index_settings) -> Iterator[str]:
    """`clerk serve` on a free port over the session's corpus index; yields its base URL."""
    port = free_port()
    cmd = [sys.executable, "-m", "clerk.cli", "serve", "--index", str(index_settings.index), "--port", str(port)]
    with running_server(cmd, ready="clerk is ready", timeout=180, cwd=ROOT):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def page(server):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Debian chromium is not installed (make system-deps installs it)")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server + "/")
        page.get_by_label("Your question").wait_for(timeout=60000)
        yield page
        browser.close()


def ask(page, question: str) -> None:
    box = page.get_by_label("Your question")
    box.fill(question)
    box.press("Enter")


def test_answer_streams_with_chips_that_open_the_quoted_page(page, server) -> None:
    ask(page, "What mileage rate does Trafford Council pay councillors who use their own car?")
    chip = page.locator("#chat a.cite").first
    chip.wait_for(timeout=90000)
    assert "46.9p" in page.locator("#chat").inner_text()
    assert re.search(r"Answered by extractive · retrieval \d+ ms", page.locator("#status").inner_text())
    page.screenshot(path=str(SHOTS / "01-answer.png"))

    chip.click()
    card = page.locator(".src-card.active")
    card.wait_for(timeout=5000)
    assert "46.9p per mile" in card.locator("mark").inner_text()
    assert PART6 in card.inner_text() and "page 9" in card.inner_text()
    href = card.locator("a.open").get_attribute("href")
    assert href.endswith("#page=9")
    page.screenshot(path=str(SHOTS / "02-source.png"))

    with urllib.request.urlopen(server + href.split("#")[0]) as resp:  # the app serves the cited file itself
        assert resp.headers["content-type"] == "application/pdf" and resp.read(5) == b"%PDF-"
    for bad in ("/files/..%2F..%2Fetc%2Fpasswd", "/files/not-a-document"):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(server + bad)
        assert err.value.code == 404


def test_a_question_outside_the_corpus_is_refused_plainly(page) -> None:
    ask(page, "What is the quorum for Leeds City Council's Licensing Committee?")
    refusal = page.locator("#chat .refusal").last
    refusal.wait_for(timeout=90000)
    assert "Not found in the documents" in refusal.inner_text() and "Leeds" in refusal.inner_text()
    page.screenshot(path=str(SHOTS / "03-refusal.png"))


def test_single_document_scope_is_visible_and_respected(page) -> None:
    page.get_by_text("Scope: which documents to search").click()
    picker = page.get_by_label("Ask one document")
    picker.click()
    picker.fill("Part 6: Members")
    page.get_by_role("option", name=PART6).click()
    page.keyboard.press("Escape")
    scope = page.locator("#scope-line")
    scope.get_by_text(PART6).wait_for(timeout=10000)

    ask(page, "What can councillors claim for subsistence?")
    page.locator("#sources section.turn h3").filter(has_text="subsistence").wait_for(timeout=90000)
    latest = page.locator("#sources section.turn").first
    latest.locator(".src-card").first.wait_for(timeout=30000)
    files = latest.locator(".src-file").all_inner_texts()
    assert files and all(f.endswith("trafford-constitution-part-6-members-allowances.pdf") for f in files), files
    page.screenshot(path=str(SHOTS / "04-document-scope.png"))
