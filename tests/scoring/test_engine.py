import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from humanorai.errors import InputError, SettingsError
from humanorai.evaluation.metrics import binary_metrics
from humanorai.labels import AI, HUMAN
from humanorai.scoring.engine import Engine, EngineObserver
from humanorai.scoring.segments import is_mixed
from humanorai.segmentation import segment_spans, word_count
from humanorai.settings import BatchLimits, EngineSettings
from tests.synthetic import make_rows

pytestmark = pytest.mark.slow
TEXTS = [row["text"] for row in make_rows(40, seed=21)]


@pytest.fixture(scope="module")
def engine(tiny_bundle: Path) -> Engine:
    return Engine.load(tiny_bundle)


def test_every_member_is_loaded(engine: Engine) -> None:
    assert [member.name for member in engine.members] == ["DRF", "GBM", "GLM", "BERT", "RoBERTa"]
    assert engine.unavailable == {}


def test_verdict_is_the_majority_of_member_votes(engine: Engine) -> None:
    for prediction in engine.predict(TEXTS):
        human_votes = sum(vote.p_human >= 0.5 for vote in prediction.votes)
        assert prediction.verdict.vote_count == human_votes
        assert (prediction.verdict.prediction == HUMAN) == (human_votes >= 3)
        assert prediction.verdict.p_human == pytest.approx(np.mean([vote.p_human for vote in prediction.votes]))


def test_a_batch_gives_the_same_results_as_one_text_at_a_time(engine: Engine) -> None:
    together = engine.predict(TEXTS)
    alone = [engine.predict([text])[0] for text in TEXTS]
    for batched, single in zip(together, alone, strict=True):
        for vote_in_batch, vote_alone in zip(batched.votes, single.votes, strict=True):
            # MOJOs score row by row: identical. The transformers' runs differ in shape only (padding, batch
            # size), which moves FP32 by rounding; ORT's INT8 runs each window alone (test_member).
            tolerance = 0.0 if vote_alone.member in ("DRF", "GBM", "GLM") else 1e-5
            assert abs(vote_in_batch.p_human - vote_alone.p_human) <= tolerance


def test_the_engine_separates_the_classes(engine: Engine) -> None:
    held_out = make_rows(200, seed=1234)
    p_human = np.array([p.verdict.p_human for p in engine.predict([row["text"] for row in held_out])])
    labels = np.array([int(row["label"]) for row in held_out])
    assert binary_metrics(labels, p_human)["roc_auc"] > 0.8


class CtrlCDuringAStep(EngineObserver):
    """Sends SIGINT to the main thread from inside a member's step in a pool thread, once, and holds that step a
    moment: the interruption lands while the step still runs."""

    def __init__(self) -> None:
        self.once = threading.Lock()

    def on_member(self, member: str, seconds: float) -> None:
        if self.once.acquire(blocking=False):
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
            time.sleep(0.3)


def test_ctrl_c_while_members_score_side_by_side_is_a_keyboard_interrupt(engine: Engine, tiny_engine: Engine,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # The first member to finish does so while the other groups still score (each group has steps left), so
    # its step runs in a pool thread; closing that running step used to turn Ctrl-C into a ValueError.
    texts = [row["text"] for row in make_rows(8, seed=88)]
    monkeypatch.setattr(engine, "observer", CtrlCDuringAStep())
    with pytest.raises(KeyboardInterrupt):
        engine.predict(texts)
    monkeypatch.undo()
    # The engine outlives the interruption (a notebook user goes on) while the interrupted step may still run:
    # it computes the same answers as another engine on the bundle.
    again = engine.predict(texts[:2])
    assert not any(prediction.cached for prediction in again)
    assert np.allclose(p_humans(again), p_humans(tiny_engine.predict(texts[:2])), rtol=0, atol=1e-6)


@pytest.mark.parametrize(("texts", "message"), [
    ([], "no text given"), (["fine", "  "], "text 1 is empty"), (["fine", 3], "text 1 is a int"),
    ("a bare string", "single string"),
])
def test_bad_input_is_an_input_error(engine: Engine, texts: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        engine.predict(texts)  # type: ignore[arg-type]


def p_humans(predictions: list) -> list[list[float]]:  # type: ignore[type-arg]
    return [[vote.p_human for vote in prediction.votes] for prediction in predictions]


def test_a_cached_answer_equals_the_computed_one(tiny_bundle: Path) -> None:
    engine = Engine.load(tiny_bundle, settings=EngineSettings(cache_size=100))
    first = engine.predict(TEXTS[:5])
    again = engine.predict([TEXTS[0], "  " + TEXTS[1].replace(" ", "  ") + "\n", TEXTS[2]])
    assert [p.cached for p in first] == [False] * 5
    assert [p.cached for p in again] == [True, True, True]
    assert p_humans(again) == p_humans(first[:3])
    assert [p.verdict for p in again] == [p.verdict for p in first[:3]]
    engine.close()


def test_concurrent_batched_requests_equal_sequential_ones(tiny_bundle: Path) -> None:
    sequential = Engine.load(tiny_bundle, settings=EngineSettings(cache_size=0, parallel_members=False))
    expected = [sequential.predict([text])[0] for text in TEXTS[:16]]
    observer = BatchCounter()
    batched = Engine.load(tiny_bundle, settings=EngineSettings(
        cache_size=0, batching=BatchLimits(max_wait_ms=30, max_batch_texts=8)), observer=observer)
    with ThreadPoolExecutor(8) as pool:
        concurrent = list(pool.map(lambda text: batched.predict([text])[0], TEXTS[:16]))
    assert max(observer.sizes) > 1  # requests were really merged
    for got, want in zip(concurrent, expected, strict=True):
        for vote, reference in zip(got.votes, want.votes, strict=True):
            # MOJO scores are exact; the transformers' differ by rounding at most (see the test above).
            tolerance = 0.0 if vote.member in ("DRF", "GBM", "GLM") else 1e-5
            assert abs(vote.p_human - reference.p_human) <= tolerance
    batched.close()
    sequential.close()


def test_every_method_answers_from_one_cached_scoring(tiny_bundle: Path) -> None:
    engine = Engine.load(tiny_bundle, settings=EngineSettings(cache_size=100))
    majority = engine.predict(TEXTS[:6])
    soft = engine.predict(TEXTS[:6], "soft")
    stacked = engine.predict(TEXTS[:6], "stacked")
    assert [p.cached for p in soft + stacked] == [True] * 12
    stacker = engine.ensemble.stacker
    assert stacker is not None
    for first, by_mean, by_stacker in zip(majority, soft, stacked, strict=True):
        assert first.verdict.method == "majority" and p_humans([first, first]) == p_humans([by_mean, by_stacker])
        mean = float(np.mean([vote.p_human for vote in first.votes]))
        assert (by_mean.verdict.method, by_mean.verdict.p_human, by_mean.verdict.prediction) == (
            "soft", pytest.approx(mean), int(mean >= 0.5))
        logits = [np.log(v.p_human / (1 - v.p_human)) for v in first.votes]
        by_hand = 1 / (1 + np.exp(-(stacker.intercept + np.dot(stacker.weights, logits))))
        assert by_stacker.verdict.p_human == pytest.approx(by_hand, abs=1e-9)
        assert by_stacker.verdict.vote_count == first.verdict.vote_count
    with pytest.raises(InputError, match="unknown ensemble method"):
        engine.predict(TEXTS[:1], "median")
    engine.close()


def test_a_members_calibration_is_applied_before_it_votes(tiny_bundle: Path, tmp_path: Path) -> None:
    copy = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    glm = next(entry for entry in manifest["members"] if entry["name"] == "GLM")
    glm["calibration"] = {"slope": 0.5, "intercept": 1.0}
    (copy / "manifest.json").write_text(json.dumps(manifest))
    raw = Engine.load(tiny_bundle, settings=EngineSettings(cache_size=0)).predict(TEXTS[:8])
    calibrated = Engine.load(copy, settings=EngineSettings(cache_size=0)).predict(TEXTS[:8])
    for before, after in zip(raw, calibrated, strict=True):
        p, q = before.votes[2].p_human, after.votes[2].p_human
        assert q == pytest.approx(1 / (1 + np.exp(-(0.5 * np.log(p / (1 - p)) + 1.0))), abs=1e-9)
        assert [v.p_human for v in after.votes[:2]] == [v.p_human for v in before.votes[:2]]


class BatchCounter(EngineObserver):
    def __init__(self) -> None:
        self.sizes: list[int] = []

    def on_batch(self, texts: int, tokens: int, waited_ms: float) -> None:
        self.sizes.append(texts)


def test_a_member_whose_file_is_corrupt_is_unavailable_and_the_rest_serve(tiny_bundle: Path, tmp_path: Path) -> None:
    copy = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, copy)
    (copy / "roberta" / "model.int8.onnx").write_bytes(b"garbage")
    engine = Engine.load(copy)
    assert list(engine.unavailable) == ["RoBERTa"]
    assert "roberta/model.int8.onnx: sha256 mismatch" in engine.unavailable["RoBERTa"]
    prediction = engine.predict([TEXTS[0]])[0]
    assert prediction.verdict.total_models == 4 and prediction.unavailable == ["RoBERTa"]
    assert engine.predict([TEXTS[0]], "stacked")[0].verdict.method == "soft"  # the stacker needs RoBERTa
    engine.close()


def test_a_corrupt_shared_tfidf_file_takes_down_only_the_h2o_members(tiny_bundle: Path, tmp_path: Path) -> None:
    copy = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, copy)
    (copy / "tfidf" / "idf.npz").write_bytes(b"not numbers")
    engine = Engine.load(copy)
    assert sorted(engine.unavailable) == ["DRF", "GBM", "GLM"]
    assert all("tfidf/idf.npz: sha256 mismatch" in why for why in engine.unavailable.values())
    prediction = engine.predict([TEXTS[0]])[0]
    assert [vote.member for vote in prediction.votes] == ["BERT", "RoBERTa"] and "tfidf" not in prediction.timings_ms
    engine.close()


def test_an_operating_point_calls_ai_only_below_its_threshold(engine: Engine) -> None:
    points = engine.manifest.ensemble["operating_points"]
    assert set(points) == {"majority", "soft", "stacked"}
    for method, thresholds in points.items():
        assert thresholds["fpr1"] <= thresholds["fpr5"]  # fewer humans flagged: a lower bar for AI
        for point in ("fpr5", "fpr1"):
            for prediction in engine.predict(TEXTS, method, point):
                verdict = prediction.verdict
                assert (verdict.method, verdict.operating_point) == (method, point)
                assert verdict.prediction == (HUMAN if verdict.p_human >= thresholds[point] else AI)
    balanced = engine.predict(TEXTS[:3])
    assert {prediction.verdict.operating_point for prediction in balanced} == {"balanced"}


def test_segments_cover_the_text_and_score_the_mean_of_the_segment_members(engine: Engine) -> None:
    text = "\n\n".join(TEXTS[:4]) + "  \n"
    (prediction,) = engine.predict([text], segments=True)
    assert prediction.segments is not None and len(prediction.segments) > 1
    assert [(s.start, s.end) for s in prediction.segments] == [(s.start, s.end) for s in segment_spans(text)]
    assert [member.name for member in engine.segment_members] == ["DRF", "GBM", "GLM", "BERT", "RoBERTa"]
    alone = engine.predict([text[segment.start:segment.end] for segment in prediction.segments])
    for segment, scored in zip(prediction.segments, alone, strict=True):
        mean = np.mean([vote.p_human for vote in scored.votes])
        assert segment.p_human == pytest.approx(mean, abs=0.01)  # INT8 BERT moves with the batch's padding
        assert segment.words == word_count(text[segment.start:segment.end])
    assert prediction.mixed is is_mixed(prediction.segments)
    plain = engine.predict([text])[0]
    assert (plain.segments, plain.mixed, plain.cached, plain.votes) == (None, None, True, prediction.votes)
    assert engine.cost([text], segments=True) > engine.cost([text])
    assert engine.cost_over([text], engine.cost([text]), segments=True) == engine.cost([text], segments=True)


def test_chosen_segment_members_score_segments_through_the_batcher_and_cache(tiny_bundle: Path) -> None:
    engine = Engine.load(tiny_bundle, settings=EngineSettings(batching=BatchLimits(max_wait_ms=1),
                                                              segment_members=("glm", "drf")))
    text = "\n\n".join(TEXTS[4:8])
    first, again = engine.predict([text], segments=True)[0], engine.predict([text], segments=True)[0]
    assert [member.name for member in engine.segment_members] == ["DRF", "GLM"]
    assert first.segments is not None and again.cached and again.segments == first.segments
    for segment in first.segments:
        votes = engine.predict([text[segment.start:segment.end]])[0].votes
        assert segment.p_human == pytest.approx((votes[0].p_human + votes[2].p_human) / 2, abs=1e-12)
    engine.close()
    with pytest.raises(SettingsError, match="segment member.* SVM not in this bundle"):
        Engine.load(tiny_bundle, settings=EngineSettings(segment_members=("SVM",)))


def test_segments_need_a_segment_member_loaded(engine: Engine) -> None:
    roberta_only = Engine(engine.manifest, engine.context, engine.members[-1:], {},
                          EngineSettings(cache_size=0, segment_members=("GLM", "DRF")))  # neither loaded
    assert roberta_only.segment_members == []
    assert roberta_only.predict(TEXTS[:1])[0].segments is None
    with pytest.raises(InputError, match="segment scores need one of the members GLM, DRF"):
        roberta_only.predict(TEXTS[:1], segments=True)
    roberta_only.close()


def test_a_cancelled_segmented_request_costs_no_scoring(engine: Engine) -> None:
    observer = BatchCounter()
    waiting = Engine(engine.manifest, engine.context, engine.members, {},
                     EngineSettings(cache_size=0, batching=BatchLimits(max_wait_ms=300)), observer)
    future = waiting.submit(["\n\n".join(TEXTS[8:12])], segments=True)
    assert waiting.queued_texts > 2  # the text and its segments wait for company
    future.cancel()
    time.sleep(0.6)  # past the wait: the batcher finds only cancelled requests
    assert observer.sizes == [] and waiting.queued_texts == 0
    waiting.close()


def test_a_text_with_more_segments_than_the_queue_holds_is_accepted_alone(engine: Engine) -> None:
    small_queue = Engine(engine.manifest, engine.context, engine.members, {},
                         EngineSettings(cache_size=0, batching=BatchLimits(max_wait_ms=1, max_queued_texts=2)))
    (prediction,) = small_queue.predict(["\n\n".join(TEXTS[12:18])], segments=True)
    assert prediction.segments is not None and len(prediction.segments) > 2  # text and segments queued as one
    small_queue.close()


def test_loading_a_bundle_for_onnx_imports_neither_pytorch_nor_scikit_learn(tiny_bundle: Path) -> None:
    # Each costs every CLI call and server start seconds (8 s -> 3 s for `predict` on the demo bundle);
    # serving needs neither on the ONNX path.
    probe = ("import sys; from pathlib import Path; from humanorai.scoring.engine import Engine; "
             "from humanorai.settings import TransformerSettings; "
             f"Engine.load(Path({str(tiny_bundle)!r}), TransformerSettings(backend='onnx')).close(); "
             "print(sorted(name for name in ('torch', 'sklearn') if name in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[-2] == "[]"
