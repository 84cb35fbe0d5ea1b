"""Text encoder run time: all-MiniLM-L6-v2 as a fused, fully int8 ONNX graph + a ``tokenizers`` WordPiece tokenizer.

The graph (exported by ``training/emotion_state/export_encoder.py``) already does masked mean
pooling and L2 normalisation, so :meth:`TextEncoder.encode` returns the same 384-d unit vector as
``SentenceTransformer("all-MiniLM-L6-v2").encode(text)`` up to quantisation error (cosine >= 0.98 on
the parity sentences). No torch is imported here.

Texts are truncated to the first :data:`MAX_TOKENS` word pieces ([CLS] and [SEP] included): game
lines are short (PELD's dialogue lines: median 11, 99th percentile 43 word pieces), and the cap
bounds the cost of a long text. The transition head is trained on embeddings made with the same cap.

Each text runs on its own (one ONNX run, one intra-op thread, in the caller's thread), so
concurrent callers use every core and a text's embedding never depends on what else was being
encoded at the time (dynamic quantisation picks activation scales per run, so a padded batch would
change the vectors; batching was also measured not to pay on 2 cores, see ``docs/emotion_state.md``).

Two caches, neither of which changes a result: an LRU cache of recent embeddings keyed by the exact
text (game dialogue repeats: barks, a line heard by a crowd), and *single flight*: a caller asking
for a text that another thread is encoding right now waits for that run instead of starting its own.

:meth:`TextEncoder.prefetch` encodes a text in the background (one worker thread at normal priority;
a caller that needs the text while it is being encoded waits for that run) so that a later
:meth:`~TextEncoder.encode` finds it in the cache: the engine prefetches the NPC's own lines, which
are only needed as the context of the next reply.
"""

from __future__ import annotations

import atexit
import contextlib
import queue
import threading
import weakref
from collections import OrderedDict
from importlib.resources import as_file, files
from pathlib import Path

import numpy as np

__all__ = ["EMBEDDING_DIM", "ENCODER_FILE", "MAX_TOKENS", "TOKENIZER_FILE", "TextEncoder", "data_path"]

EMBEDDING_DIM = 384
ENCODER_FILE = "minilm_l6_v2.int8.onnx"
TOKENIZER_FILE = "minilm_l6_v2.tokenizer.json"
MAX_TOKENS = 64
"""Word pieces kept per text ([CLS] and [SEP] included); the head is trained with the same cap."""
PREFETCH_QUEUE = 256
"""Texts waiting for the background worker; further prefetches are dropped (encoded on demand)."""


def data_path(name: str) -> Path:
    """Filesystem path of a file shipped in ``mien/data/emotion_state`` (package data)."""
    resource = files("mien") / "data" / "emotion_state" / name
    # Package data installed from a wheel or a source tree is a real file; as_file() keeps this
    # correct for zipped installs too (it extracts to a temporary file for the process lifetime).
    with as_file(resource) as path:
        return Path(path)


def _close_encoder(ref: weakref.ref[TextEncoder]) -> None:
    encoder = ref()
    if encoder is not None:
        encoder.close()


class _Flight:
    """One in-progress encoding that other callers of the same text wait for."""

    __slots__ = ("done", "error", "result")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: np.ndarray | None = None
        self.error: BaseException | None = None


class TextEncoder:
    """Sentence embeddings on CPU with ONNX Runtime; thread-safe, deterministic."""

    def __init__(
        self,
        model_path: Path | None = None,
        tokenizer_path: Path | None = None,
        *,
        threads: int = 1,
        max_tokens: int = MAX_TOKENS,
        cache_size: int = 1024,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        if max_tokens < 2:
            raise ValueError(f"max_tokens must be >= 2, got {max_tokens}")
        if cache_size < 0:
            raise ValueError(f"cache_size must be >= 0, got {cache_size}")
        model_path = model_path if model_path is not None else data_path(ENCODER_FILE)
        tokenizer_path = tokenizer_path if tokenizer_path is not None else data_path(TOKENIZER_FILE)
        self.max_tokens = max_tokens
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=max_tokens)
        options = ort.SessionOptions()
        # One thread per run: the run happens in the caller's thread, so N concurrent callers use
        # min(N, cores) cores and no ORT thread pool spins beside the rest of the sidecar.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads == 1:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._flights: dict[str, _Flight] = {}
        self._lock = threading.Lock()
        self._prefetch: queue.Queue[str | None] = queue.Queue(maxsize=PREFETCH_QUEUE)
        self._worker: threading.Thread | None = None
        self.runs = 0
        """Number of ONNX runs so far (cache hits and shared flights do not count)."""

    def token_count(self, text: str) -> int:
        """Word pieces the encoder sees for ``text`` (after truncation, [CLS] and [SEP] included)."""
        return len(self._tokenizer.encode(text).ids)

    def _run(self, text: str) -> np.ndarray:
        ids = np.array([self._tokenizer.encode(text).ids], dtype=np.int64)
        (out,) = self._session.run(["embedding"], {"input_ids": ids, "attention_mask": np.ones_like(ids)})
        emb = np.array(out[0], dtype=np.float32)
        emb.setflags(write=False)
        return emb

    def encode(self, text: str) -> np.ndarray:
        """The 384-d unit embedding of ``text`` (float32, read-only)."""
        with self._lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
                return hit
            flight = self._flights.get(text)
            owner = flight is None
            if flight is None:
                flight = self._flights[text] = _Flight()
                self.runs += 1
        if not owner:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            assert flight.result is not None
            return flight.result
        try:
            emb = self._run(text)
        except BaseException as exc:
            flight.error = exc
            with self._lock:
                del self._flights[text]
            flight.done.set()
            raise
        flight.result = emb
        with self._lock:
            del self._flights[text]
            if self._cache_size > 0:
                self._cache[text] = emb
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        flight.done.set()
        return emb

    def prefetch(self, text: str) -> None:
        """Encode ``text`` in the background if it is not cached; returns at once (never raises).

        Only useful with a cache (``cache_size`` > 0). A later :meth:`encode` of the same text finds
        it cached, or waits for the background run if it is under way (single flight).
        """
        if self._cache_size == 0:
            return
        with self._lock:
            if text in self._cache or text in self._flights:
                return
            if self._worker is None:
                self._worker = threading.Thread(target=self._prefetch_loop, name="mien-encoder-prefetch", daemon=True)
                self._worker.start()
                # Stop it before the interpreter tears down (a daemon thread inside ONNX Runtime at exit
                # aborts the process); a weak reference, so the hook keeps no encoder alive.
                atexit.register(_close_encoder, weakref.ref(self))
        with contextlib.suppress(queue.Full):  # if full, the text is encoded on demand instead
            self._prefetch.put_nowait(text)

    def _prefetch_loop(self) -> None:
        while True:
            text = self._prefetch.get()
            if text is None:
                return
            try:
                self.encode(text)
            except Exception:  # noqa: BLE001 - the foreground encode of the same text reports errors
                continue

    def close(self) -> None:
        """Stop the background worker (idempotent); pending prefetches are dropped."""
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            while True:
                try:
                    self._prefetch.get_nowait()
                except queue.Empty:
                    break
            self._prefetch.put(None)
            worker.join(timeout=5.0)

    def encode_many(self, texts: list[str]) -> np.ndarray:
        """Embeddings of many texts, shape (len(texts), 384), bypassing the caches (for training).

        Each text runs on its own, exactly as :meth:`encode` runs it, so training sees the vectors
        the sidecar computes.
        """
        out = np.zeros((len(texts), EMBEDDING_DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            out[row] = self._run(text)
        return out
