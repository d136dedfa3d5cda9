"""The demo's tokenizers give the same token ids and windows in every install.

transformers 5.17 cut a long text at the window length *before* making its overflow windows (a 482-token
text became windows over tokens 0–254 and 190–256: its last 226 tokens were never scored), 5.24 does not;
the ids themselves were the same in both. humanorai now tokenises without truncation and cuts windows
itself (``window_spans``), so only the ids could still move between versions: they are pinned here, by
count and digest, for a fixed text. A new demo retrains RoBERTa's tokenizer: re-pin its row then.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from humanorai.members.base import TextBatch
from humanorai.members.transformer.backends import make_backend
from humanorai.members.transformer.member import TransformerMember, WindowSettings
from humanorai.settings import DEMO_BUNDLE
from humanorai.text import RAW

pytestmark = pytest.mark.slow  # loads two models of the demo
PINNED_TEXT = " ".join([
    "When I moved to the coast I expected the sea to feel like a holiday every day. It did not.",
    "The fog sat on the harbour for most of June, the ferry timetable changed twice, and my neighbour's dog",
    "barked at every gull. Still, by August I had learned which bakery kept a loaf back for late customers.",
    "Naïve café owners — and their déjà-vu menus — cost €12.50; 東京 and 😀 appear once, as does C++/ℝ².",
] * 3)
#: folder → token count, sha256 of the ids as JSON (first 16 hex digits), and the lengths of its 128-token
#: windows (stride 32) with special tokens. The same under transformers 5.17 / tokenizers 0.23.2 and 5.24 /
#: 0.23.3.
PINNED: dict[str, tuple[int, str, list[int]]] = {
    "bert": (309, "aed86dcb60d4ad9d", [128, 128, 123]),
    "roberta": (411, "c649e6cd0c75be28", [128, 128, 128, 128, 37]),
}


@pytest.mark.parametrize("folder", sorted(PINNED))
def test_token_ids_and_windows_of_a_fixed_text_are_pinned(folder: str) -> None:
    path = DEMO_BUNDLE / folder
    member = TransformerMember(folder, path, RAW, make_backend(path, "onnx", "int8", "cpu", threads=1),
                               WindowSettings(max_length=128, stride=32))
    batch = TextBatch([PINNED_TEXT])
    ids = member._token_ids(batch)[0]
    count, digest, windows = PINNED[folder]
    assert (len(ids), hashlib.sha256(json.dumps(ids).encode()).hexdigest()[:16]) == (count, digest)
    built, owners = member._windows_of(batch)
    assert [len(window) for window in built] == windows and set(owners.tolist()) == {0}
