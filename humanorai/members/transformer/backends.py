"""Where a transformer's logits are computed: ONNX Runtime or OpenVINO on the CPU, PyTorch on CUDA (FP16)
or the CPU (FP32), and the rule that picks one for this machine and bundle folder."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from humanorai.cpus import usable_cpus
from humanorai.errors import SettingsError
from humanorai.settings import Backend, Device, Precision

if TYPE_CHECKING:
    from humanorai.members.transformer.cuda_graphs import CapturedForward

logger = logging.getLogger(__name__)

ONNX_FP32 = "model.onnx"
ONNX_INT8 = "model.int8.onnx"
#: OpenVINO IR with static INT8 (NNCF, calibrated on training texts): opt-in at training (``--openvino-int8``).
OPENVINO_INT8 = "openvino.int8.xml"
#: The IR's weights, beside its graph.
OPENVINO_INT8_WEIGHTS = "openvino.int8.bin"
#: The PyTorch weights (HF format); like the FP32 ONNX, absent from a ``--serving-only`` bundle.
WEIGHTS = "model.safetensors"


class LogitsBackend(Protocol):
    """Runs the classifier on token ids: ``(batch, seq)`` int64 arrays in, ``(batch, 2)`` logits out."""

    description: str
    #: Where the model runs, ``cpu`` or ``cuda``: a GPU needs wider runs of windows to be kept busy.
    device: str
    #: Whether a window's logits depend on that window alone, not on the windows run beside it. ORT's
    #: dynamic INT8 scales a run's activations by their joint range, so its windows run one at a time: else a
    #: text's score moved with its batch (by up to 0.106 on the demo's BERT, docs/benchmarks.md).
    batch_invariant: bool

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray: ...


class OnnxBackend:
    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.description = f"onnx {'int8' if path.name == ONNX_INT8 else 'fp32'}"
        self.device = "cpu"
        self.batch_invariant = path.name != ONNX_INT8

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        outputs = self._session.run(["logits"], {"input_ids": input_ids, "attention_mask": attention_mask})
        return np.asarray(outputs[0], dtype=np.float64)


class OpenVinoBackend:
    """OpenVINO on the CPU: FP32 and BF16 read the same fused FP32 ONNX (OpenVINO implements ORT's contrib
    ops); INT8 reads the statically quantised IR (``path`` is then :data:`OPENVINO_INT8`).

    BF16 (``INFERENCE_PRECISION_HINT``) pays off on CPUs with AMX or AVX-512 BF16; elsewhere FP32. INT8 runs
    what its graph leaves unquantised (softmax, layer norms) in FP32, not in the CPU's default BF16 on AMX:
    its parity with PyTorch FP32 was measured so, and it then holds on every CPU alike.
    """

    def __init__(self, path: Path, precision: str, threads: int) -> None:
        import openvino

        core = openvino.Core()
        config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY",
                  "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32"}
        self._compiled = core.compile_model(core.read_model(str(path)), "CPU", config)
        self._output = self._compiled.output(0)
        self._requests = threading.local()  # an infer request serves one call at a time
        self.description = f"openvino {precision}"
        self.device = "cpu"
        self.batch_invariant = True  # its INT8 activation ranges are fixed at export

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        request = getattr(self._requests, "request", None)
        if request is None:
            request = self._requests.request = self._compiled.create_infer_request()
        outputs = request.infer({"input_ids": input_ids, "attention_mask": attention_mask})
        return np.asarray(outputs[self._output], dtype=np.float64)


class TorchBackend:
    """PyTorch inference; on CUDA out-of-memory it frees the cache and moves to the CPU for good.

    Given ``graph_window_length`` on CUDA, runs of windows up to that many tokens replay CUDA graphs captured
    here (see :mod:`~humanorai.members.transformer.cuda_graphs`) instead of launching each kernel; where the
    capture fails or disagrees with the eager run, it runs eagerly and its description says so.
    """

    def __init__(self, folder: Path, device: str, precision: str, threads: int,
                 graph_window_length: int | None = None) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification

        self._torch = torch
        self._threads = threads
        self._folder = folder
        if device == "cpu":
            torch.set_num_threads(threads)
        dtype = torch.float16 if precision == "fp16" else torch.float32
        model = AutoModelForSequenceClassification.from_pretrained(folder, dtype=dtype)
        self._model = model.to(device).eval()
        self.device = device
        self.batch_invariant = True
        self._graphs: CapturedForward | None = None
        if graph_window_length is not None and device == "cuda":
            from humanorai.members.transformer.cuda_graphs import CapturedForward

            pad_id = self._model.config.pad_token_id
            self._graphs = CapturedForward.capture(self._model, graph_window_length, 0 if pad_id is None else pad_id,
                                                   self._eager, folder.name)
        self.description = f"torch {precision} on {device}" + (" with cuda graphs" if self._graphs else "")

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        try:
            return self._forward(input_ids, attention_mask)
        except self._torch.cuda.OutOfMemoryError:
            if self.description == "torch fp32 on cpu":
                raise
            self._fall_back_to_cpu()
            return self._forward(input_ids, attention_mask)

    def _forward(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """A captured graph's replay where one holds the run, else the eager forward pass."""
        if self._graphs is not None:
            replayed = self._graphs.logits(input_ids, attention_mask)
            if replayed is not None:
                return replayed
        return self._eager(input_ids, attention_mask)

    def _eager(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            output = self._model(input_ids=torch.from_numpy(input_ids).to(self.device),
                                 attention_mask=torch.from_numpy(attention_mask).to(self.device)).logits
        return output.float().cpu().numpy().astype(np.float64)

    def _fall_back_to_cpu(self) -> None:
        torch = self._torch
        from transformers import AutoModelForSequenceClassification

        logger.warning("%s ran out of GPU memory; continuing on the CPU in fp32", self.description)
        self._model = None
        self._graphs = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        torch.set_num_threads(self._threads)
        self._model = AutoModelForSequenceClassification.from_pretrained(self._folder, dtype=torch.float32).eval()
        self.device = "cpu"
        self.description = "torch fp32 on cpu"


#: CPU features with integer dot-product instructions, which make INT8 matrix products faster than FP32.
INT8_DOT_PRODUCT_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8", "asimddp"})
#: CPU features with native BF16 matrix instructions (OpenVINO BF16 beat ORT INT8 there, issue 3).
BF16_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})
#: CPU features whose INT8 matrix units OpenVINO's static INT8 uses (AMX tiles, AVX-512 VNNI) and ORT's
#: dynamic INT8 leaves idle on AMX (issue 13).
OPENVINO_INT8_FLAGS = frozenset({"amx_int8", "avx512_vnni"})


def cpu_flags() -> frozenset[str]:
    """Feature flags of the first CPU in /proc/cpuinfo (empty where there is no such file)."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in cpuinfo.splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def fast_int8() -> bool:
    """INT8 pays off only with integer dot-product instructions: on a 2-core AVX2-only EPYC, ORT INT8 and
    FP32 ran at the same speed (docs/benchmarks.md), so there FP32 — closer to the reference — is chosen."""
    return bool(cpu_flags() & INT8_DOT_PRODUCT_FLAGS)


def fast_bf16() -> bool:
    return bool(cpu_flags() & BF16_FLAGS)


def fast_openvino_int8() -> bool:
    return bool(cpu_flags() & OPENVINO_INT8_FLAGS)


def make_backend(folder: Path, backend: Backend = "auto", precision: Precision = "auto",
                 device: Device | str = "auto", threads: int | None = None,
                 graph_window_length: int | None = None) -> LogitsBackend:
    """Pick the backend from what this machine has: PyTorch FP16 on CUDA; on a CPU with AMX-INT8 or AVX-512
    VNNI the OpenVINO static INT8, where the bundle has it; on a CPU with BF16 matrix instructions OpenVINO
    BF16; otherwise ONNX Runtime — INT8 with integer dot products, else FP32.

    ``auto`` only picks what the bundle holds: a ``--serving-only`` bundle keeps just the INT8 files, so it
    runs on ONNX Runtime INT8 (or the OpenVINO INT8 it was given); asking explicitly for a missing file is
    an error that says so. ``graph_window_length`` asks PyTorch on CUDA for CUDA graphs of runs up to that
    many tokens (see :class:`TorchBackend`); the other backends have none and ignore it.
    """
    chosen = _pick_backend(folder, backend, precision, device, threads, graph_window_length)
    warm_up(chosen)
    return chosen


#: The token ids of the one-window run :func:`warm_up` makes (any vocabulary has id 0).
WARM_UP_IDS = np.zeros((1, 2), dtype=np.int64)


def warm_up(backend: LogitsBackend) -> None:
    """Run ``backend`` once, in the thread that made it, before it serves concurrent calls.

    The first inference of a process initialises its runtime's pybind11 statics (numpy's C API behind
    OpenVINO's ``tensor.data``). Two members' first calls at once in fresh server processes deadlocked
    there (one thread in ``__cxa_guard_acquire``, the other holding the GIL: every thread stopped, the
    server with them), in about one server start in ten of the page tests. One call here, while members
    load one after another, makes that happen before any concurrency; it also takes the first inference's
    setup out of the first request.
    """
    backend.logits(WARM_UP_IDS, np.ones_like(WARM_UP_IDS))


def _pick_backend(folder: Path, backend: Backend, precision: Precision, device: Device | str, threads: int | None,
                  graph_window_length: int | None) -> LogitsBackend:
    """The backend :func:`make_backend` describes, not run yet."""
    threads = threads or usable_cpus()
    has_fp32, has_weights = (folder / ONNX_FP32).is_file(), (folder / WEIGHTS).is_file()
    has_openvino_int8 = (folder / OPENVINO_INT8).is_file()
    has_onnx = has_fp32 or (folder / ONNX_INT8).is_file()
    if device == "auto":
        device = "cuda" if backend in ("auto", "torch") and has_weights and _cuda_available() else "cpu"
    if backend == "auto":
        backend = _auto_backend(device, has_onnx, has_fp32, has_openvino_int8)
    if backend == "openvino":
        fast = "int8" if has_openvino_int8 and (fast_openvino_int8() or not has_fp32) else (
            "bf16" if fast_bf16() else "fp32")
        chosen = _cpu_precision("openvino", device, precision, ("int8", "bf16", "fp32"), fast)
        path = _bundle_file(folder, OPENVINO_INT8 if chosen == "int8" else ONNX_FP32)
        return OpenVinoBackend(path, chosen, threads)
    if backend == "onnx":
        fast = "int8" if fast_int8() or not has_fp32 else "fp32"
        chosen = _cpu_precision("onnx", device, precision, ("int8", "fp32"), fast)
        return OnnxBackend(_bundle_file(folder, ONNX_FP32 if chosen == "fp32" else ONNX_INT8), threads)
    if precision == "auto":
        precision = "fp16" if device == "cuda" else "fp32"
    if precision not in ("fp16", "fp32"):
        raise SettingsError(f"the torch backend has fp16 (CUDA) and fp32, not {precision}")
    _bundle_file(folder, WEIGHTS)
    return TorchBackend(folder, device, precision, threads, graph_window_length)


def _auto_backend(device: str, has_onnx: bool, has_fp32: bool, has_openvino_int8: bool) -> Backend:
    """The backend ``auto`` means for this device, CPU and bundle folder (see :func:`make_backend`)."""
    if device == "cuda" or not (has_onnx or has_openvino_int8):
        return "torch"  # a plain HF folder (not exported yet) still runs, in PyTorch
    if (has_openvino_int8 and fast_openvino_int8()) or (has_fp32 and fast_bf16()):
        return "openvino"
    return "onnx" if has_onnx else "openvino"


def _bundle_file(folder: Path, name: str) -> Path:
    """``folder / name``, or an error naming what is missing and what still works."""
    path = folder / name
    if not path.is_file():
        int8_backends = {ONNX_INT8: "onnx", OPENVINO_INT8: "openvino"}
        held = [file for file in (*int8_backends, ONNX_FP32, WEIGHTS) if (folder / file).is_file()]
        usable = " or ".join(int8_backends[file] for file in held if file in int8_backends)
        hint = (f" (a --serving-only bundle keeps only its INT8 files; use --backend {usable} --precision int8)"
                if held and set(held) <= set(int8_backends) else "")
        raise SettingsError(f"{folder.name}/{name} is not in this bundle; it has "
                            f"{', '.join(held) or 'no model file'}{hint}")
    return path


def _cpu_precision(backend: str, device: str, precision: str, offered: tuple[str, ...], fast: str) -> str:
    """Check a CPU backend's device and precision (one of ``offered``); ``auto`` means ``fast``, the
    precision this CPU and bundle run best."""
    if device != "cpu":
        raise SettingsError(f"the {backend} backend runs on the CPU; use --backend torch for CUDA")
    if precision != "auto" and precision not in offered:
        raise SettingsError(f"--precision: the {backend} backend has {', '.join(offered)}, not {precision}")
    return fast if precision == "auto" else precision


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())
