"""The JSON API on the tiny bundle: routes and errors in process; readiness while loading and a client that
goes away over real HTTP against a live uvicorn server."""

from __future__ import annotations

import dataclasses
import re
import shutil
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from humanorai.java_runtime import java_runtime
from humanorai.scoring.segments import MIXED_MARGIN, MIXED_WORD_SHARE
from tests.server.conftest import TEST_SETTINGS, LiveServer, in_process, start_server, stop_server
from tests.synthetic import make_rows

pytestmark = pytest.mark.slow
LONG_ENOUGH = " ".join(row["text"] for row in make_rows(4, seed=8)[:2])
SHORT = "Only a handful of words here."


def test_readiness_was_503_with_retry_after_then_200(live_server: LiveServer) -> None:
    assert live_server.ready_answers[-1] == 200
    assert 503 in live_server.ready_answers, "the first /ready answers should come while loading"
    assert live_server.predict_while_loading == (503, "5")
    with live_server.client() as client:
        ready = client.get("/ready").json()
        assert ready["ready"] is True and ready["status"] == "ok"
        assert set(ready["members"]) == {"DRF", "GBM", "GLM", "BERT", "RoBERTa"}
        assert client.get("/health").json() == {"status": "ok"}


def test_ready_says_how_each_member_runs(app_client: TestClient) -> None:
    ready = app_client.get("/ready").json()
    mojo = f"in-process MOJO on {java_runtime().describe()}"  # e.g. Java 17 (PATH)
    assert ready["members"] == {"DRF": mojo, "GBM": mojo, "GLM": mojo, "BERT": "onnx fp32", "RoBERTa": "onnx fp32"}
    assert ready["unavailable"] == {} and ready["status"] == "ok"
    assert ready["request_timeout_s"] == TEST_SETTINGS.request_timeout_s  # the page's wait derives from it


def test_predict_keeps_the_original_shape_and_adds_the_new_fields(app_client: TestClient) -> None:
    response = app_client.post("/predict", json={"text": LONG_ENOUGH})
    assert response.status_code == 200
    body = response.json()
    assert list(body["individual_results"]) == ["DRF", "GBM", "GLM", "BERT", "RoBERTa"]
    for member in body["individual_results"].values():
        assert set(member) == {"prediction", "label", "confidence", "p_human", "threshold"}
    ensemble = body["ensemble"]
    votes = sum(member["prediction"] for member in body["individual_results"].values())
    assert (ensemble["vote_count"], ensemble["total_models"]) == (votes, 5)
    assert ensemble["label"] == ("HUMAN" if votes >= 3 else "AI")
    assert {"tfidf", "DRF", "BERT", "RoBERTa", "total"} <= set(body["timings_ms"])
    assert set(body["windows"]) == {"BERT", "RoBERTa"}
    assert min(body["windows"].values()) >= 2  # ~160 words exceed the tiny models' 128-token window
    assert body["bundle"].startswith("humanorai-") and body["unavailable_models"] == []
    assert body["low_reliability"] is False and body["word_count"] == len(LONG_ENOUGH.split())


def test_short_text_is_accepted_but_marked_low_reliability(app_client: TestClient) -> None:
    body = app_client.post("/predict", json={"text": SHORT}).json()
    assert body["low_reliability"] is True and body["word_count"] == 6


def test_batch_equals_single_calls_and_repeats_are_cached(app_client: TestClient) -> None:
    texts = [row["text"] for row in make_rows(6, seed=31)[:3]]
    batch = app_client.post("/predict/batch", json={"texts": texts}).json()["results"]
    singles = [app_client.post("/predict", json={"text": text}).json() for text in texts]
    assert [r["ensemble"]["label"] for r in batch] == [r["ensemble"]["label"] for r in singles]
    assert all(single["cached"] for single in singles)
    assert [r["individual_results"] for r in batch] == [r["individual_results"] for r in singles]


def test_the_ensemble_method_is_chosen_per_request(app_client: TestClient) -> None:
    ready = app_client.get("/ready").json()
    answers = {method: app_client.post("/predict", json={"text": LONG_ENOUGH, "ensemble": method}).json()
               for method in ("majority", "soft", "stacked")}
    batch = app_client.post("/predict/batch", json={"texts": [LONG_ENOUGH], "ensemble": "soft"}).json()
    assert ready["ensemble"] == {"default": "majority", "methods": ["majority", "soft", "stacked"],
                                 "operating_points": ["balanced", "fpr5", "fpr1"]}
    assert {method: answer["ensemble"]["method"] for method, answer in answers.items()} == {
        "majority": "majority", "soft": "soft", "stacked": "stacked"}
    members = [answer["individual_results"] for answer in answers.values()]
    assert members[0] == members[1] == members[2]  # one scoring, three ways to combine it
    mean = sum(member["p_human"] for member in members[0].values()) / 5
    assert answers["soft"]["ensemble"]["p_human"] == pytest.approx(mean, abs=1e-5)
    assert batch["results"][0]["ensemble"] == answers["soft"]["ensemble"]


@pytest.mark.parametrize(("body", "status", "message"), [
    (b"this is not json", 422, "the body is not valid JSON"),
    (b"null", 422, "send a JSON object"),
    (b"{}", 422, "text: Field required"),
    (b'{"text": 5}', 422, "text: Input should be a valid string"),
    (b'{"text": null}', 422, "text: Input should be a valid string"),
    (b'{"text": "   \\n "}', 422, "text is empty or only whitespace"),
    (b'{"text": ""}', 422, "text is empty or only whitespace"),
    (b'{"text": "fine", "ensemble": "median"}', 422, "ensemble: Input should be 'majority', 'soft' or 'stacked'"),
    (b'{"text": "x \\ud800 y"}', 422, "text has an unpaired surrogate (U+D800) at character 2"),
    (b'{"text": "fine", "operating_point": "fpr2"}', 422,
     "operating_point: Input should be 'balanced', 'fpr5' or 'fpr1'"),
    (b'{"text": "fine", "segments": "yes"}', 422, "segments: Input should be a valid boolean"),
    (b'{"text": "fine", "segments": 1}', 422, "segments: Input should be a valid boolean"),
    (('{"text": "' + "a" * 20001 + '"}').encode(), 413, "text has 20001 characters; the limit is 20000"),
])
def test_bad_input_gets_a_clear_4xx(app_client: TestClient, body: bytes, status: int, message: str) -> None:
    response = app_client.post("/predict", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status
    assert message in response.json()["error"]
    assert "Traceback" not in response.text and "File \"" not in response.text


@pytest.mark.parametrize(("payload", "status", "message"), [
    ({"texts": []}, 422, "texts: List should have at least 1 item after validation, not 0"),
    ({"texts": ["a b c"] * 5}, 413, "5 texts; the limit per call is 4"),
    ({"texts": ["fine", 3]}, 422, "texts.1: Input should be a valid string"),
    ({"texts": ["fine", ""]}, 422, "texts[1] is empty"),
])
def test_bad_batches_get_a_clear_4xx(app_client: TestClient, payload: dict, status: int, message: str) -> None:  # type: ignore[type-arg]
    response = app_client.post("/predict/batch", json=payload)
    assert response.status_code == status and message in response.json()["error"]


def test_unknown_route_and_wrong_method_are_json(app_client: TestClient) -> None:
    assert app_client.get("/nowhere").json()["error"] == "Not Found"
    wrong_method = app_client.get("/predict")
    assert wrong_method.status_code == 405 and wrong_method.json()["error"] == "Method Not Allowed"


def test_models_lists_the_manifest(app_client: TestClient) -> None:
    manifest = app_client.get("/models").json()
    assert [member["name"] for member in manifest["members"]] == ["DRF", "GBM", "GLM", "BERT", "RoBERTa"]
    assert manifest["label_map"] == {"1": "HUMAN", "0": "AI"}


def metric(text: str, name: str, **labels: str) -> float:
    selector = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    pattern = re.escape(name) + (r"\{" + re.escape(selector) + r"\}" if labels else "") + r" ([0-9.e+-]+)"
    match = re.search(pattern, text)
    return float(match.group(1)) if match else 0.0


def test_metrics_counters_move(app_client: TestClient) -> None:
    text = " ".join(row["text"] for row in make_rows(4, seed=55))
    before = app_client.get("/metrics").text
    app_client.post("/predict", json={"text": text})
    app_client.post("/predict", json={"text": text})
    app_client.post("/predict", json={"text": ""})
    after = app_client.get("/metrics").text
    requests_ok = {"route": "/predict", "status": "200"}
    assert metric(after, "humanorai_requests_total", **requests_ok) - metric(before, "humanorai_requests_total",
                                                                             **requests_ok) == 2
    rejected = {"route": "/predict", "status": "422"}
    assert metric(after, "humanorai_requests_total", **rejected) - metric(before, "humanorai_requests_total",
                                                                          **rejected) == 1
    assert metric(after, "humanorai_cache_lookups_total", result="hit") > metric(
        before, "humanorai_cache_lookups_total", result="hit")
    assert metric(after, "humanorai_member_seconds_count", member="BERT") > metric(
        before, "humanorai_member_seconds_count", member="BERT")
    assert metric(after, "humanorai_batch_texts_count") > metric(before, "humanorai_batch_texts_count")
    assert "humanorai_queue_depth" in after and "humanorai_request_seconds_bucket" in after


def test_a_corrupt_member_leaves_the_server_up_and_honest(tiny_bundle: Path, tmp_path: Path) -> None:
    copy = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, copy)
    (copy / "bert" / "model.int8.onnx").write_bytes(b"corrupted")
    with in_process(copy, dataclasses.replace(TEST_SETTINGS, api_key="s3cret")) as client:
        ready = client.get("/ready").json()
        assert ready["status"] == "degraded" and list(ready["unavailable"]) == ["BERT"]
        assert "bert/model.int8.onnx" in ready["unavailable"]["BERT"]
        assert client.post("/predict", json={"text": LONG_ENOUGH}).status_code == 401
        assert client.get("/models", headers={"X-API-Key": "wrong"}).status_code == 401
        response = client.post("/predict", json={"text": LONG_ENOUGH}, headers={"X-API-Key": "s3cret"})
        body = response.json()
        assert response.status_code == 200 and body["unavailable_models"] == ["BERT"]
        assert body["ensemble"]["total_models"] == 4 and "BERT" not in body["individual_results"]
        assert client.get("/health").status_code == 200  # health and page need no key
        assert client.get("/").status_code == 200


def test_a_request_whose_client_went_away_is_dropped_before_it_costs_compute(tiny_bundle: Path,
                                                                             tmp_path: Path) -> None:
    # Batches wait up to 3 s to fill, so the abandoned request is still queued when its client leaves.
    server = start_server(tiny_bundle, tmp_path / "server.log",
                          {"HUMANORAI_BATCH_WAIT_MS": "3000", "HUMANORAI_CACHE_SIZE": "0"})
    try:
        before = httpx.get(f"{server.url}/metrics").text
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{server.url}/predict", json={"text": LONG_ENOUGH}, timeout=0.5)
        time.sleep(4.0)  # past the batch deadline: a live request would have run by now
        after = httpx.get(f"{server.url}/metrics").text
        dropped = "humanorai_dropped_requests_total"
        assert metric(after, dropped, reason="disconnected") - metric(before, dropped, reason="disconnected") == 1
        assert metric(after, "humanorai_batch_texts_count") == metric(before, "humanorai_batch_texts_count")
        served = httpx.post(f"{server.url}/predict", json={"text": LONG_ENOUGH}, timeout=30)
        assert served.status_code == 200  # the server carries on normally
        assert metric(httpx.get(f"{server.url}/metrics").text, "humanorai_batch_texts_count") == metric(
            before, "humanorai_batch_texts_count") + 1
    finally:
        stop_server(server)


def test_past_the_concurrency_limit_requests_are_told_to_retry(tiny_bundle: Path) -> None:
    with in_process(tiny_bundle, dataclasses.replace(TEST_SETTINGS, max_concurrent_requests=0)) as client:
        response = client.post("/predict", json={"text": LONG_ENOUGH})
    assert response.status_code == 429 and response.headers["Retry-After"] == "1"
    assert response.json()["error"] == "server busy: 0 requests in progress; retry shortly"


def test_the_operating_point_is_chosen_per_request_and_said_in_the_answer(app_client: TestClient) -> None:
    thresholds = app_client.get("/models").json()["ensemble"]["operating_points"]["soft"]
    for point in ("balanced", "fpr5", "fpr1"):
        body = app_client.post("/predict", json={"text": LONG_ENOUGH, "ensemble": "soft",
                                                  "operating_point": point}).json()
        ensemble = body["ensemble"]
        assert ensemble["operating_point"] == point
        bar = 0.5 if point == "balanced" else thresholds[point]
        assert ensemble["label"] == ("HUMAN" if ensemble["p_human"] >= bar else "AI")
    default = app_client.post("/predict", json={"text": LONG_ENOUGH}).json()
    assert default["ensemble"]["operating_point"] == "balanced"


def test_a_lone_surrogate_in_a_batch_is_named(app_client: TestClient) -> None:
    response = app_client.post("/predict/batch", content=b'{"texts": ["fine", "a \\udfff"]}',
                               headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"] == "texts[1] has an unpaired surrogate (U+DFFF) at character 2; send valid Unicode"


def test_every_answer_carries_the_security_headers(app_client: TestClient) -> None:
    for response in (app_client.get("/"), app_client.get("/health"), app_client.get("/nowhere"),
                     app_client.get("/static/app.js"), app_client.post("/predict", json={})):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in app_client.get("/").headers["Content-Security-Policy"]


def test_head_works_on_the_page_and_health_and_405_says_what_is_allowed(app_client: TestClient) -> None:
    assert app_client.head("/").status_code == 200 and app_client.head("/health").status_code == 200
    wrong = app_client.get("/predict")
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "POST"


def test_the_api_docs_need_no_cdn(app_client: TestClient) -> None:
    docs = app_client.get("/docs")
    assert docs.status_code == 200 and "/static-offline-docs/swagger-ui-bundle.js" in docs.text
    assert "https://" not in docs.text
    assert app_client.get("/static-offline-docs/swagger-ui-bundle.js").status_code == 200
    schema = app_client.get("/openapi.json").json()["components"]["schemas"]
    assert schema["PredictRequest"]["properties"]["text"]["minLength"] == 1
    assert schema["BatchPredictRequest"]["properties"]["texts"]["minItems"] == 1


def test_segments_are_given_when_asked_and_cover_the_text(app_client: TestClient) -> None:
    text = "\n\n".join(row["text"] for row in make_rows(6, seed=12)[:4]) + " 😀 \n"
    plain = app_client.post("/predict", json={"text": text}).json()
    body = app_client.post("/predict", json={"text": text, "segments": True}).json()
    assert (plain["segments"], plain["mixed"]) == (None, None)
    assert isinstance(body["mixed"], bool) and len(body["segments"]) > 1
    assert body["individual_results"] == plain["individual_results"] and body["cached"] is True
    starts = [segment["start"] for segment in body["segments"]]
    ends = [segment["end"] for segment in body["segments"]]
    assert starts == [0, *ends[:-1]] and ends[-1] == len(text)  # code points: the emoji counts once
    for segment in body["segments"]:
        assert set(segment) == {"start", "end", "p_human", "label"}
        assert segment["label"] == ("HUMAN" if segment["p_human"] >= 0.5 else "AI")
    batch = app_client.post("/predict/batch", json={"texts": [text, LONG_ENOUGH], "segments": True}).json()
    assert batch["results"][0]["segments"] == body["segments"]
    assert batch["results"][1]["segments"][-1]["end"] == len(LONG_ENOUGH)


def test_the_schema_documents_segments_and_the_mixed_rule(app_client: TestClient) -> None:
    schemas = app_client.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["PredictRequest"]["properties"]["segments"] == {
        "type": "boolean", "default": False, "title": "Segments",
        "description": schemas["BatchPredictRequest"]["properties"]["segments"]["description"]}
    mixed = schemas["PredictResponse"]["properties"]["mixed"]["description"]
    assert f"at least {MIXED_WORD_SHARE:.0%} of the words" in mixed and f"at least {MIXED_MARGIN:g} from 0.5" in mixed
    segment = schemas["SegmentResult"]["properties"]
    assert segment["start"]["minimum"] == 0 and (segment["p_human"]["minimum"], segment["p_human"]["maximum"]) == (0, 1)
