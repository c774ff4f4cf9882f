"""The local web page's API, with FastAPI's TestClient: results, errors, limits, privacy."""

from __future__ import annotations

import io
import logging
import tempfile

import pytest
from fastapi.testclient import TestClient
from fpdf import FPDF

from her2extract.web import create_app

GOOD_PDF = "core-biopsy-her2-2plus-fish-not-amplified-er-5.pdf"
SCANNED_PDF = "scanned-garbled-text-layer-her2-3plus.pdf"
TEXT = "her2-2plus-fish-neg-er-low-5.txt"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde" + b"\x00" * 64


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app())


def _post(client, *files):
    return client.post("/api/extract", files=[("files", f) for f in files])


def test_page_is_self_contained_with_strict_headers(client):
    page = client.get("/")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-content-type-options"] == "nosniff" and page.headers["x-frame-options"] == "DENY"
    html = page.text
    assert "Not medical advice" in html
    assert "http://" not in html and "https://" not in html  # nothing loaded from elsewhere
    assert "<script>" not in html and "style=" not in html  # no inline script or style
    script = client.get("/static/app.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "http" not in script.text.replace("httpd", "")  # the script fetches only its own server
    assert client.get("/static/../web.py").status_code == 404


def test_text_report_gives_values_evidence_and_explanation(client, samples):
    response = _post(client, (TEXT, (samples / TEXT).read_bytes(), "text/plain"))
    assert response.status_code == 200
    report = response.json()["reports"][0]
    assert report["status"] == "ok" and report["filename"] == TEXT
    row, record = report["row"], report["record"]
    assert (row["her2_status"], row["her2_category"], row["er_status"]) == ("negative", "low", "low positive")
    evidence = record["evidence"]["her2_ihc_score"]
    assert evidence["page"] == 1 and evidence["text"] == "2+" and "2+" in evidence["context"]
    sentence = report["sentences"]["her2_ihc_score"]
    assert sentence["text"][sentence["mark_start"]:sentence["mark_end"]] == "2+"
    assert sentence["text"].startswith("HER2 IHC (4B5): 2+") and sentence["page"] == 1
    topics = [e["topic"] for e in record["explanation"]["results"]]
    assert "HER2" in topics and record["explanation"]["questions"] and record["explanation"]["disclaimer"]
    assert report["naaccr"]["3855 HER2 Overall Summary"] == "0" and report["naaccr"]["3826 Estrogen Receptor Percent Positive or Range"] == "005"
    assert report["fhir"]["resourceType"] == "Bundle"
    assert 'naaccrId="her2IhcSummary" naaccrNum="3850">2<' in response.json()["naaccr_xml"]


def test_text_layer_pdf(client, samples):
    response = _post(client, (GOOD_PDF, (samples / GOOD_PDF).read_bytes(), "application/pdf"))
    row = response.json()["reports"][0]["row"]
    sentences = response.json()["reports"][0]["sentences"]
    for field, sentence in sentences.items():  # every highlight covers the value's own text
        value = response.json()["reports"][0]["record"]["evidence"][field]["text"]
        assert sentence["text"][sentence["mark_start"]:sentence["mark_end"]] == " ".join(value.split()), field
    assert response.status_code == 200
    assert (row["her2_ihc_score"], row["her2_ish_result"], row["er_percent"]) == ("2+", "not amplified", "5")


def test_scanned_pdf_is_read_with_ocr(client, samples):
    response = _post(client, (SCANNED_PDF, (samples / SCANNED_PDF).read_bytes(), "application/pdf"))
    row = response.json()["reports"][0]["row"]
    assert response.status_code == 200
    assert row["her2_ihc_score"] == "3+" and row["text_source"] == "ocr"


def test_type_is_judged_by_content_not_name(client, samples):
    # a PDF named .txt is still read as a PDF
    response = _post(client, ("renamed.txt", (samples / GOOD_PDF).read_bytes(), "text/plain"))
    assert response.status_code == 200 and response.json()["reports"][0]["row"]["her2_ihc_score"] == "2+"


@pytest.mark.parametrize(("name", "data", "code", "words"), [
    ("picture.png", PNG, 422, "image"),  # an image is read by OCR; this one is a broken 1-pixel PNG
    ("picture.pdf", PNG, 422, "image"),
    ("letter.docx", b"PK\x03\x04\x14\x00\x06\x00" + b"word/document.xml" + b"\x00" * 64, 415, "save it as PDF"),
    ("archive.bin", b"\x00\x01\x02\x03" * 64, 415, "not a PDF, a text file or an image"),
    ("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage", 422, "corrupt PDF"),
    ("empty.pdf", b"", 422, "empty file"),
])
def test_bad_uploads_get_a_clear_4xx(client, name, data, code, words):
    response = _post(client, (name, data, "application/octet-stream"))
    assert response.status_code == code
    assert words in response.json()["detail"]


def test_oversize_upload_is_refused(samples):
    small = TestClient(create_app(max_bytes=2000))
    response = _post(small, (GOOD_PDF, (samples / GOOD_PDF).read_bytes(), "application/pdf"))
    assert response.status_code == 413 and "too large" in response.json()["detail"]


def test_too_many_pages_is_refused():
    pdf = FPDF()
    for _ in range(3):
        pdf.add_page()
        pdf.set_font("helvetica", size=12)
        pdf.cell(0, 10, "ER: positive")
    response = _post(TestClient(create_app(max_pages=2)), ("long.pdf", bytes(pdf.output()), "application/pdf"))
    assert response.status_code == 413 and "3 pages (limit 2)" in response.json()["detail"]


def test_one_bad_file_among_good_ones_gets_its_own_error(client, samples):
    response = _post(client, (TEXT, (samples / TEXT).read_bytes(), "text/plain"), ("x.png", PNG, "image/png"))
    assert response.status_code == 200
    statuses = [r["status"] for r in response.json()["reports"]]
    assert statuses == ["ok", "error"]


def test_nothing_is_left_in_the_temp_folder(tmp_path, monkeypatch, samples):
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    app = TestClient(create_app())
    big = (samples / TEXT).read_bytes() + b"\n" + b"Filler line of a long report.\n" * 60_000  # ~1.8 MB: spooled to disk
    for files in ([("big.txt", big, "text/plain")], [("x.png", PNG, "image/png")],
                  [("broken.pdf", b"%PDF-1.4 broken", "application/pdf")]):
        _post(app, *files)
        assert list(folder.iterdir()) == []


def test_token_is_required_when_set(samples):
    guarded = TestClient(create_app(token="s3cret"))
    assert guarded.get("/").status_code == 401
    assert guarded.get("/?token=wrong").status_code == 401
    assert guarded.get("/?token=s3cret").status_code == 200
    assert guarded.get("/static/app.js").status_code == 200  # the page's own script loads without the token
    body = [("files", (TEXT, (samples / TEXT).read_bytes(), "text/plain"))]
    assert guarded.post("/api/extract", files=body).status_code == 401
    assert guarded.post("/api/extract", files=body, headers={"X-Token": "s3cret"}).status_code == 200


def test_openapi_schema_describes_the_api(client):
    schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/api/extract"]["post"]
    assert {"200", "413", "415", "422"} <= set(operation["responses"])
    assert "ExtractResponse" in schema["components"]["schemas"]


def test_no_report_text_in_logs(client, caplog):
    marker = "QWXZ9917UNIQUE"
    report = f"Patient: {marker}\nFINAL DIAGNOSIS: invasive carcinoma of the left breast.\nER: positive (90%).\n"
    with caplog.at_level(logging.DEBUG):
        _post(client, ("r.txt", report.encode(), "text/plain"))
        _post(client, ("bad.pdf", f"%PDF-1.4 {marker}".encode(), "application/pdf"))
    assert caplog.records, "DEBUG logging captured nothing: the check would be empty"
    assert not any(marker in r.getMessage() for r in caplog.records)


def test_every_sample_value_is_highlighted_in_its_sentence(samples):
    from her2extract.pipeline import read_and_extract
    from her2extract.web import evidence_sentences

    checked = 0
    for path in sorted(p for p in samples.iterdir() if p.suffix in {".txt", ".pdf"}):
        document, record = read_and_extract(path)
        sentences = evidence_sentences(document, record)
        assert set(sentences) == {ev.field for ev in record.evidence}
        for ev in record.evidence:
            sentence = sentences[ev.field]
            shown = sentence["text"][sentence["mark_start"]:sentence["mark_end"]]
            assert shown == " ".join(ev.text.split()), (path.name, ev.field, shown, ev.text)
            assert len(sentence["text"]) <= 2 * 240 + len(ev.text) and sentence["page"] == ev.page
            checked += 1
    assert checked > 400


# --- server bounds (issue 20) ------------------------------------------------------------------

def test_an_empty_token_is_refused():
    with pytest.raises(ValueError, match="empty token"):
        create_app(token="")
    from typer.testing import CliRunner

    from her2extract.cli import app

    result = CliRunner().invoke(app, ["serve", "--token", ""])
    assert result.exit_code == 2 and "--token is empty" in result.output


def test_the_host_header_must_name_this_server():
    local = TestClient(create_app(allowed_hosts=["127.0.0.1", "localhost", "::1"]), base_url="http://127.0.0.1:8000")
    assert local.get("/").status_code == 200
    assert local.get("/", headers={"host": "localhost:8000"}).status_code == 200
    assert local.get("/", headers={"host": "[::1]:8000"}).status_code == 200
    refused = local.get("/", headers={"host": "attacker.example:8000"})
    assert refused.status_code == 421 and refused.headers["x-content-type-options"] == "nosniff"
    assert local.post("/api/extract", headers={"host": "attacker.example"},
                      files=[("files", ("r.txt", b"HER2 3+", "text/plain"))]).status_code == 421


@pytest.mark.parametrize("name", ["x/", "/", "a\\\\", "..", ""])
def test_any_file_name_the_multipart_allows_gets_an_answer_with_headers(client, name):
    response = _post(client, (name, b"Breast, core biopsy: invasive carcinoma. HER2 (IHC): 3+", "text/plain"))
    assert response.headers["x-content-type-options"] == "nosniff"
    if name:
        assert response.status_code == 200, response.text
        assert response.json()["reports"][0]["filename"] not in ("", "/", "..")
    else:  # no file name at all: the multipart part is a plain field, not a file
        assert response.status_code == 422


def test_an_internal_error_is_a_500_with_the_headers(monkeypatch):
    from her2extract import web

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(web, "naaccr_xml", broken)  # runs in the server, after the reader's answer
    local = TestClient(create_app(), raise_server_exceptions=False)
    response = local.post("/api/extract", files=[("files", ("r.txt", b"HER2 3+", "text/plain"))])
    assert response.status_code == 500 and response.headers["x-content-type-options"] == "nosniff"
    assert "a bug" not in response.text


def test_a_request_whose_only_file_was_refused_is_not_200(client):
    response = _post(client, ("repeat.txt", ("HER2 3+ positive. " * 40_000).encode(), "text/plain"))
    assert response.status_code == 422 and "repetitive" in response.json()["detail"]
