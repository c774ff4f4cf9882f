"""The page in a real browser: Debian's Chromium driven by Playwright, offline.

scripts/test installs Chromium (apt) when it is missing; Playwright's own browser download is
never used (executable_path points at /usr/bin/chromium).
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import socket
import threading
import time

import pytest
import uvicorn

from her2extract.web import create_app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SAMPLE = "core-biopsy-her2-2plus-fish-not-amplified-er-5.pdf"


@pytest.fixture(scope="module")
def server():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning", access_log=False)
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert instance.started, "the server did not start"
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=10)


def test_upload_a_pdf_and_see_the_card_with_highlighted_evidence(server, samples, tmp_path):
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "Chromium is missing: scripts/test installs it (apt-get install chromium)"
    requested: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 1600})
            page.on("request", lambda request: requested.append(request.url))
            errors: list[str] = []
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.goto(server + "/")
            assert "Not medical advice" in page.inner_text("header")
            page.set_input_files("#file", str(samples / SAMPLE))
            card = page.wait_for_selector(".report-card[data-status=ok]", timeout=30_000)
            assert SAMPLE in card.inner_text()
            assert page.inner_text("[data-marker=HER2] [data-field=her2_status]").startswith("negative")
            assert "HER2-low" in page.inner_text("[data-marker=HER2] .badge")
            assert "IHC 2+" in page.inner_text("[data-marker=HER2]")
            assert "ER-low" in page.inner_text("[data-field=er_status]")
            ihc = page.locator("[data-evidence=her2_ihc_score]")
            assert "page 1" in ihc.inner_text()
            assert ihc.locator("mark").inner_text() == "2+"
            assert "HER2 immunohistochemistry (4B5) 2+ (equivocal)" in ihc.inner_text()  # the whole sentence
            assert page.locator(".evidence .ocr-note, .evidence img").count() == 0  # typed text: no OCR caution
            assert "not medical advice" in page.inner_text(".report-card .disclaimer")
            assert page.is_visible("#download-csv") and page.is_visible("#download-json")
            with page.expect_download() as download:
                page.click("#download-csv")
            csv_text = download.value.path().read_text()
            assert csv_text.startswith("source,status,error,") and SAMPLE in csv_text
            assert not page.is_visible("#download-naaccr-xml")  # registry formats are behind a fold
            page.click(".registry summary")
            with page.expect_download() as download:
                page.click("#download-naaccr-xml")
            assert 'naaccrId="her2OverallSummary" naaccrNum="3855">0<' in download.value.path().read_text()
            with page.expect_download() as download:
                page.click("#download-fhir")
            assert '"resourceType": "Bundle"' in download.value.path().read_text()
            page.screenshot(path=str(tmp_path / "card.png"), full_page=True)
            if os.environ.get("HER2EXTRACT_SCREENSHOT"):  # keep a copy for a reviewer
                shutil.copy(tmp_path / "card.png", os.environ["HER2EXTRACT_SCREENSHOT"])
            assert (tmp_path / "card.png").stat().st_size > 10_000
            assert not errors, errors
        finally:
            browser.close()
    outside = [u for u in requested if not u.startswith(server) and not u.startswith(("blob:", "data:"))]
    assert not outside, f"the page asked for something outside this computer: {outside}"


UNCLEAR_REPORTS = {
    "self-contradicting.txt": "Breast, left, core biopsy: invasive ductal carcinoma.\n"
                              "HER2/neu: Positive (IHC score 1+). No in situ hybridization was performed.\n"
                              "Estrogen receptor: positive (90%).\n",
    "unticked-form.txt": "TISSUE BANK PATHOLOGY FORM\nOrgan: Breast. Diagnosis: invasive ductal carcinoma.\n"
                         "ER         [ ] Negative   [ ] Positive\nPR         [ ] Negative   [ ] Positive\n"
                         "Her-2/neu  [ ] Negative   [ ] Positive\n",
    "two-specimens.txt": "A. Left breast, core biopsy: invasive ductal carcinoma, 1.5 cm.\n"
                         "   HER2 (IHC): 3+, positive.\n"
                         "B. Right breast, core biopsy: invasive lobular carcinoma, 1.1 cm.\n"
                         "   HER2 (IHC): 1+, negative.\n",
}


def test_unclear_reports_say_what_is_unclear_show_both_sides_and_assert_no_status(server, tmp_path):
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "Chromium is missing: scripts/test installs it (apt-get install chromium)"
    paths = []
    for name, text in UNCLEAR_REPORTS.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        paths.append(str(tmp_path / name))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 1600})
            errors: list[str] = []
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.goto(server + "/")
            page.set_input_files("#file", paths)
            page.wait_for_selector(".report-card >> nth=2", timeout=30_000)  # the page's CSP forbids eval
            cards = {card.query_selector("h2").inner_text(): card for card in page.query_selector_all(".report-card")}

            card = cards["self-contradicting.txt"]
            her2 = card.query_selector("[data-marker=HER2] [data-field=her2_status]").inner_text()
            assert her2.startswith("unclear"), her2  # no positive, no negative
            said = card.query_selector(".explain").inner_text()
            assert "do not agree" in said and "ask your care team" in said.lower()
            assert "trastuzumab" not in card.inner_text()
            sides = card.query_selector_all("[data-unclear=her2] .side")
            assert len(sides) >= 2, "both pieces of evidence are shown"
            assert any("Positive" in s.inner_text() for s in sides) and any("1+" in s.inner_text() for s in sides)

            card = cards["unticked-form.txt"]
            for marker in ("HER2", "ER (estrogen receptor)", "PR (progesterone receptor)"):
                assert card.query_selector(f"[data-marker='{marker}'] .value").inner_text().startswith("unclear")
            assert "no box is marked" in card.query_selector(".explain").inner_text()
            assert card.query_selector("[data-unclear=er] .side") is not None

            card = cards["two-specimens.txt"]
            assert card.query_selector("[data-marker=HER2] .value").inner_text().startswith("unclear")
            text = card.inner_text()
            assert "No HER2 result was found" not in text
            assert "A (left breast" in text and "B (right breast" in text and "IHC 3+" in text and "IHC 1+" in text
            assert len(card.query_selector_all("[data-unclear=her2] .side")) >= 2
            for card in cards.values():
                assert "her2_" not in card.inner_text() and "er_reported" not in card.inner_text()
            assert not errors, errors
        finally:
            browser.close()


def test_the_pages_csv_download_is_safe_to_open_in_a_spreadsheet(server, tmp_path):
    """A file named like a formula does not start a cell of the downloaded CSV."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "Chromium is missing: scripts/test installs it (apt-get install chromium)"
    hostile = tmp_path / "=HYPERLINK(1).txt"
    hostile.write_text("Breast, left, core biopsy: invasive carcinoma.\nHER2 (IHC): 1+\n", encoding="utf-8")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.goto(server + "/")
            page.set_input_files("#file", str(hostile))
            page.wait_for_selector(".report-card", timeout=30_000)
            page.click(".registry summary")
            for button in ("#download-csv", "#download-naaccr"):
                with page.expect_download() as download:
                    page.click(button)
                text = download.value.path().read_text()
                cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
                assert "'=HYPERLINK(1).txt" in cells, button
                assert not [c for c in cells if c.startswith(("=", "+", "-", "@"))], button
        finally:
            browser.close()


@pytest.mark.parametrize("width", [390, 1280])
def test_the_page_fits_the_screen_shows_no_empty_downloads_and_every_control_takes_a_visible_focus(server, width):
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "Chromium is missing: scripts/test installs it (apt-get install chromium)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": width, "height": 800})
            page.goto(server + "/")
            assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scroll
            for button in ("#download-csv", "#download-json", "#download-naaccr", "#download-fhir"):
                assert not page.is_visible(button), f"{button} shows before there is anything to download"
            reached = []
            for _ in range(6):  # Tab through the page: the drop zone, then the file input
                page.keyboard.press("Tab")
                focused = page.evaluate("""() => {
                    const el = document.activeElement;
                    const ring = (node) => { const s = getComputedStyle(node);
                        return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2 ? s.outlineColor : ''; };
                    return {id: el.id, ring: ring(el) || ring(el.closest('.drop') || el)};
                }""")
                if not focused["id"]:
                    break
                reached.append(focused["id"])
                assert focused["ring"], f"no visible focus on #{focused['id']}"
            assert "drop" in reached and "file" in reached, reached
        finally:
            browser.close()


def test_a_phone_photo_gives_the_values_with_the_ocr_caution(server, tmp_path):
    from playwright.sync_api import sync_playwright

    from test_images import SAMPLE, phone_photo

    assert CHROMIUM, "Chromium is missing: scripts/test installs it (apt-get install chromium)"
    photo = tmp_path / "IMG_2041.jpg"
    photo.write_bytes(phone_photo(SAMPLE))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 390, "height": 900})
            page.goto(server + "/")
            page.set_input_files("#file", str(photo))
            card = page.wait_for_selector(".report-card[data-status=ok]", timeout=60_000)
            assert page.inner_text("[data-marker=HER2] [data-field=her2_status]").startswith("negative")
            assert "IHC 2+" in page.inner_text("[data-marker=HER2]")
            ihc = page.locator("[data-evidence=her2_ihc_score]")
            assert ihc.locator("mark").inner_text() == "2+"
            assert "misread" in ihc.locator(".ocr-note").inner_text()
            # beside it, the strip of the photo the value was read from, drawn and within the screen
            picture = ihc.locator("img.picture")
            assert picture.evaluate("img => img.complete && img.naturalWidth > 100 && img.naturalHeight > 10")
            assert picture.bounding_box()["width"] <= 390
            if os.environ.get("HER2EXTRACT_SCREENSHOTS"):
                ihc.screenshot(path=os.path.join(os.environ["HER2EXTRACT_SCREENSHOTS"], "photo-value.png"))
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            assert "IMG_2041.jpg" in card.inner_text()
        finally:
            browser.close()
