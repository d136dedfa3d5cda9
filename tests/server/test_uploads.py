"""File uploads on the tiny bundle: /predict/file scores a document's text as /predict scores that text;
/extract reads it without scoring; every refusal has its status (413, 415, 422) and says why."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from humanorai.documents.readers import MEDIA_TYPES
from humanorai.server.uploads import FORM_FRAMING_BYTES
from tests.documents.samples import docx_bytes, encrypted_pdf_bytes, image_only_pdf_bytes, pdf_bytes
from tests.server.conftest import TEST_SETTINGS, in_process
from tests.synthetic import make_rows

pytestmark = pytest.mark.slow
PARAGRAPHS = [row["text"] for row in make_rows(4, seed=21)[:3]]
PDF = "application/pdf"


def test_a_pdf_is_scored_as_its_text_is(app_client: TestClient) -> None:
    answer = app_client.post("/predict/file", files={"file": ("essay.pdf", pdf_bytes(*PARAGRAPHS), PDF)})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    document = body["document"]
    assert document["filename"] == "essay.pdf" and document["format"] == "pdf"
    assert document["characters"] == len(document["text"]) and document["word_count"] == body["word_count"]
    assert PARAGRAPHS[0].split()[:6] == document["text"].split()[:6]  # the text layer, page by page
    direct = app_client.post("/predict", json={"text": document["text"]}).json()
    assert direct["cached"] is True  # the same text, so the same votes, from the cache
    assert direct["individual_results"] == body["individual_results"] and direct["ensemble"] == body["ensemble"]


def test_a_docx_with_segments_and_the_form_options(app_client: TestClient) -> None:
    data = docx_bytes(*PARAGRAPHS)
    answer = app_client.post("/predict/file", files={"file": ("essay.docx", data, MEDIA_TYPES[".docx"])},
                             data={"segments": "true", "ensemble": "soft", "operating_point": "fpr5"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    text = body["document"]["text"]
    assert text == "\n".join(PARAGRAPHS)
    assert (body["ensemble"]["method"], body["ensemble"]["operating_point"]) == ("soft", "fpr5")
    assert body["segments"][0]["start"] == 0 and body["segments"][-1]["end"] == len(text)
    assert isinstance(body["mixed"], bool)
    bad = app_client.post("/predict/file", files={"file": ("essay.docx", data)}, data={"ensemble": "loudest"})
    assert bad.status_code == 422 and "ensemble" in bad.json()["error"]


def test_a_file_without_a_telling_name_is_read_by_its_media_type(app_client: TestClient) -> None:
    answer = app_client.post("/extract", files={"file": ("essay", PARAGRAPHS[0].encode(), "text/plain; charset=utf-8")})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"filename": "essay", "format": "txt", "text": PARAGRAPHS[0],
                             "characters": len(PARAGRAPHS[0]), "word_count": len(PARAGRAPHS[0].split())}


def test_other_types_get_415_with_the_accepted_list(app_client: TestClient) -> None:
    for route in ("/predict/file", "/extract"):
        answer = app_client.post(route, files={"file": ("photo.png", b"\x89PNG\r\n", "image/png")})
        assert answer.status_code == 415
        body = answer.json()
        assert "'photo.png'" in body["error"] and ".pdf (application/pdf)" in body["error"]
        assert body["detail"]["accepted"] == list(MEDIA_TYPES.values())


@pytest.mark.parametrize(("name", "data", "message"), [
    ("scan.pdf", image_only_pdf_bytes(), "scan.pdf: PDF without a text layer"),
    ("locked.pdf", encrypted_pdf_bytes("Secret words.", user_password="pw"), "locked.pdf: encrypted PDF"),
    ("broken.docx", b"PK\x03\x04 not really a zip", "broken.docx: not a readable DOCX"),
    ("latin1.txt", "café".encode("latin-1"), "latin1.txt: not UTF-8 text"),
    ("blank.txt", b"  \n\t ", "the text of blank.txt is empty"),
], ids=["no-text-layer", "encrypted", "corrupt", "not-utf8", "blank"])
def test_unreadable_documents_get_422_saying_why(app_client: TestClient, name: str, data: bytes,
                                                  message: str) -> None:
    answer = app_client.post("/predict/file", files={"file": (name, data)})
    assert answer.status_code == 422
    assert answer.json()["error"].startswith(message)


def test_a_request_without_a_file_is_422(app_client: TestClient) -> None:
    answer = app_client.post("/predict/file", data={"segments": "true"})
    assert answer.status_code == 422 and "file" in answer.json()["error"]


def test_files_over_the_upload_limit_get_413(tiny_bundle: Path) -> None:
    settings = dataclasses.replace(TEST_SETTINGS, max_upload_bytes=4096, max_body_bytes=1024)
    with in_process(tiny_bundle, settings) as client:
        fits = client.post("/extract", files={"file": ("essay.txt", b"word " * 800)})  # over the JSON body limit
        assert fits.status_code == 200, fits.text
        over = client.post("/extract", files={"file": ("essay.txt", b"word " * 1000)})
        assert over.status_code == 413
        assert over.json()["error"] == "the file has 5000 bytes; the limit is 4096 (HUMANORAI_MAX_UPLOAD_BYTES)"
        huge = client.post("/predict/file", files={"file": ("essay.txt", b"x" * (4096 + FORM_FRAMING_BYTES))})
        assert huge.status_code == 413 and "HUMANORAI_MAX_UPLOAD_BYTES" in huge.json()["error"]
        assert client.post("/predict", json={"text": "word " * 300}).status_code == 413  # JSON keeps its own limit
