"""Sign-in and roles against `clerk serve`: restricted documents reach officers only, by every path.

The index holds four real documents, two of them restricted (see ``access_settings``).
Members and the public must not get restricted text in answers, sources, pickers,
the library, file links or evaluation reports; an officer gets all of it.
"""

from __future__ import annotations

import shutil
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RESTRICTED_REASON
from tests.helpers import ROOT, free_port, index_copy, running_server
from ui.accounts import Accounts

pytestmark = [pytest.mark.slow, pytest.mark.browser]
SHOTS = ROOT / "tests" / "results" / "ui"
USERS = {"olivia": ("officer", "officer-pass-1"), "mo": ("member", "member-pass-1"), "pat": ("public", "public-pass-1")}
RESERVES = "How many months of expenditure should Hertingfordbury hold as a general reserve?"
RESTRICTED_FILES = ("hpc-reserves-policy.pdf", "wvcc-complaints-procedure.pdf")


@pytest.fixture(scope="module")
def app_index(access_settings, tmp_path_factory) -> Path:
    copy = index_copy(access_settings, tmp_path_factory, "signin")
    accounts = Accounts(copy / "users.toml")
    for name, (role, password) in USERS.items():
        accounts.add(name, role, password)
    return copy


@pytest.fixture(scope="module")
def server(app_index) -> Iterator[str]:
    port = free_port()
    cmd = [sys.executable, "-m", "clerk.cli", "serve", "--index", str(app_index), "--port", str(port)]
    env = {"CLERK_EVAL_RESULTS": str(app_index.parent / "eval-results")}
    with running_server(cmd, ready="clerk is ready", timeout=180, cwd=ROOT, env=env):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Debian chromium is not installed (make system-deps installs it)")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium,
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


def signed_in(browser, server: str, name: str):
    """A fresh browser context signed in through the form, on the chat page."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(server + "/")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(USERS[name][1])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Your question").wait_for(timeout=60000)
    page.locator("#account").get_by_text(f"Signed in as {name}").wait_for(timeout=30000)
    return context, page


def ask(page, question: str) -> None:
    box = page.get_by_label("Your question")
    box.fill(question)
    box.press("Enter")
    page.locator("#chat .answer").last.wait_for(timeout=90000)
    page.locator("#sources section.turn").first.wait_for(timeout=30000)


def doc_ids(app_index: Path) -> dict[str, str]:
    from ingest.registry import Registry

    reg = Registry(app_index / "registry.sqlite3")
    try:
        return {Path(d.source).name: d.doc_id for d in reg.documents()}
    finally:
        reg.close()


def status(url: str, cookie: str | None = None) -> int:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(request) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def test_nothing_is_served_before_sign_in(server, app_index) -> None:
    ids = doc_ids(app_index)
    opener = urllib.request.build_opener(type("NoRedirect", (urllib.request.HTTPRedirectHandler,),
                                              {"redirect_request": lambda *a, **k: None}))
    with pytest.raises(urllib.error.HTTPError) as err:
        opener.open(server + "/")
    assert err.value.code == 303 and err.value.headers["location"] == "/login"
    assert status(server + "/config") == 401 and status(server + "/gradio_api/info") == 401
    assert {status(f"{server}/files/{i}") for i in ids.values()} == {401}
    form = urllib.parse.urlencode({"username": "olivia", "password": "wrong-password"}).encode()
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(server + "/login", data=form)
    assert err.value.code == 401 and b"do not match" in err.value.read()


@pytest.mark.parametrize("name", ["mo", "pat"])
def test_members_and_the_public_never_see_restricted_documents(browser, server, app_index, name) -> None:
    context, page = signed_in(browser, server, name)
    try:
        ask(page, RESERVES)
        page.screenshot(path=str(SHOTS / f"10-signed-in-{name}.png"))
        shown = page.locator("#chat").inner_text() + page.locator("#sources").inner_text()
        assert not any(f in shown for f in RESTRICTED_FILES) and "between 3 and 12" not in shown
        # Suggestions come from public documents only: built from every document, the restricted
        # Wye Valley policy would add "How much does Wye Valley Community Council keep in reserves?".
        html = page.content()
        assert "code of conduct?" in html and "Wye Valley" not in html

        page.get_by_text("Scope: which documents to search").click()
        page.get_by_label("Ask one document").click()
        options = page.get_by_role("option").all_inner_texts()
        assert options and not any("Reserves" in o or "Complaints" in o for o in options), options
        page.keyboard.press("Escape")

        page.get_by_role("tab", name="Documents").click()
        page.wait_for_function("document.querySelector('#library').textContent.includes('productivity-plan.txt')",
                               timeout=10000)
        library = page.locator("#library").text_content() or ""
        assert not any(f in library for f in RESTRICTED_FILES) and "restricted" not in library
        assert not page.locator("#upload").is_visible() and not page.locator("#delete-pick").is_visible()

        page.get_by_role("tab", name="Evaluation").click()
        page.locator("#eval-report").get_by_text("shown to officers").wait_for(timeout=10000)
        assert not page.get_by_role("button", name="Run evaluation").is_visible()

        cookie = "; ".join(f"{c['name']}={c['value']}" for c in context.cookies())
        ids = doc_ids(app_index)
        assert status(f"{server}/files/{ids['hpc-reserves-policy.pdf']}", cookie) == 404
        assert status(f"{server}/files/{ids['productivity-plan.txt']}", cookie) == 200
    finally:
        context.close()


def test_an_officer_sees_restricted_documents_and_can_restrict_an_upload(browser, server, app_index, tmp_path) -> None:
    context, page = signed_in(browser, server, "olivia")
    try:
        ask(page, RESERVES)
        page.locator("#chat a.cite").first.click()
        card = page.locator(".src-card.active")
        assert "hpc-reserves-policy.pdf" in card.inner_text() and "12" in card.locator("mark").inner_text()
        assert card.locator(".restricted").inner_text() == f"Restricted: {RESTRICTED_REASON}"
        assert f"[RESTRICTED: {RESTRICTED_REASON}]" in page.locator("#answer-markdown textarea").input_value()
        page.screenshot(path=str(SHOTS / "11-signed-in-officer.png"))
        cookie = "; ".join(f"{c['name']}={c['value']}" for c in context.cookies())
        assert status(f"{server}/files/{doc_ids(app_index)['hpc-reserves-policy.pdf']}", cookie) == 200

        page.get_by_role("tab", name="Documents").click()
        page.wait_for_function(f"document.querySelector('#library').textContent.includes('restricted: {RESTRICTED_REASON}')",
                               timeout=10000)
        exempt = tmp_path / "testshire-land-disposal.txt"
        exempt.write_text("Land disposal\n\nThe council will accept the offer of £310,000 for the depot site at "
                          "Mill Lane in Testshire.\n", encoding="utf-8")
        page.get_by_label("Restricted: reason").fill("Exempt: Schedule 12A paragraph 3")
        page.locator("#upload input[type=file]").set_input_files(str(exempt))
        page.locator("#upload-progress").get_by_text("Added 1 of 1 file(s).").wait_for(timeout=120000)
        assert (app_index / "uploads" / "testshire-land-disposal.txt.restricted").is_file()
    finally:
        context.close()

    context, page = signed_in(browser, server, "mo")  # the upload is as invisible to a member as the others
    try:
        ask(page, "What offer will the council accept for the depot site at Mill Lane?")
        shown = page.locator("#chat").inner_text() + page.locator("#sources").inner_text()
        assert "310,000" not in shown and "testshire-land-disposal" not in shown
        page.goto(server + "/logout")
        page.get_by_text("You have signed out.").wait_for(timeout=10000)
        page.goto(server + "/")
        page.get_by_label("User name").wait_for(timeout=10000)  # back at the sign-in form
    finally:
        context.close()


def test_the_sign_in_page_meets_wcag_a_and_aa(browser, server) -> None:
    axe = ROOT / ".cache" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
    if not axe.is_file():
        pytest.fail(f"{axe} is missing: `make test` installs it (npm install --prefix .cache/axe axe-core@4.14.1)")
    context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone
    page = context.new_page()
    try:
        page.goto(server + "/")
        page.get_by_label("User name").wait_for(timeout=10000)
        page.screenshot(path=str(SHOTS / "12-sign-in-phone.png"))
        page.add_script_tag(path=str(axe))
        result = page.evaluate("axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']})")
        assert [(v["id"], [n["target"] for n in v["nodes"][:3]]) for v in result["violations"]] == []
    finally:
        context.close()
