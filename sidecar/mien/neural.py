"""The emotion-aware neural audio-to-controller model, run with onnxruntime (no torch at run time).

A model is an ``.onnx`` file plus its metadata ``.onnx.json`` beside it; everything about the
model (rates, look-ahead, feature parameters, ordered channel and emotion names, version,
training data, licence) is read from the metadata, never declared here.

ONNX contract (format 1):

* inputs ``features`` (batch, frames, n_mels) float32 from :mod:`mien.features`, ``emotion``
  (batch, frames, len(emotions)) float32 category weights (rows sum to 1), and any number of
  recurrent/convolution state tensors named ``state_*``;
* outputs ``curves`` (batch, frames, len(channels)) float32 in [0, 1], and ``<state>_out`` for
  each state input;
* causal with a fixed look-ahead: output frame ``i`` of the stream is the animation frame
  ``i - lookahead_frames``. A stream therefore starts with zero state and ends by feeding
  ``lookahead_frames`` frames of silence.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .audio import Audio
from .errors import FailedPrecondition, InvalidArgument
from .features import FeatureConfig, StreamingFeatures, log_mel

__all__ = ["ModelMetadata", "NeuralModel", "NeuralStream", "DEFAULT_MODEL", "load_metadata"]

DEFAULT_MODEL = "mien_a2c.onnx"
"""File name of the bundled model in ``mien/data/models``."""
FORMAT = 1


@dataclass(frozen=True)
class ModelMetadata:
    """The ``*.onnx.json`` of a model."""

    name: str
    version: str
    sample_rate_hz: int
    fps: float
    lookahead_frames: int
    channels: tuple[str, ...]
    emotions: tuple[str, ...]
    features: FeatureConfig
    licence: str
    training_data: tuple[Mapping[str, Any], ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def lookahead_ms(self) -> float:
        """Audio after a frame's time needed to compute it: frames of look-ahead + half a window."""
        return 1000.0 * (self.lookahead_frames / self.fps + self.features.half_window_s)


def load_metadata(path: Path) -> ModelMetadata:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidArgument(f"model metadata {path}: cannot read it ({exc}); every model needs its .onnx.json",
                              field="neural.model") from None
    if raw.get("format") != FORMAT:
        raise InvalidArgument(f"model metadata {path}: format {raw.get('format')!r}; this sidecar reads format "
                              f"{FORMAT}", field="neural.model")
    try:
        sample_rate = int(raw["sample_rate_hz"])
        fps = float(raw["fps"])
        return ModelMetadata(
            name=str(raw["name"]),
            version=str(raw["version"]),
            sample_rate_hz=sample_rate,
            fps=fps,
            lookahead_frames=int(raw["lookahead_frames"]),
            channels=tuple(raw["channels"]),
            emotions=tuple(raw["emotions"]),
            features=FeatureConfig.from_metadata(raw["features"], sample_rate, fps),
            licence=str(raw["licence"]),
            training_data=tuple(raw.get("training_data", ())),
            extra={k: v for k, v in raw.items() if k not in {
                "name", "version", "sample_rate_hz", "fps", "lookahead_frames", "channels", "emotions", "features",
                "licence", "training_data", "format"}},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidArgument(f"model metadata {path}: missing or bad field ({exc})", field="neural.model") from None


def _bundled(name: str) -> Path:
    return Path(str(resources.files("mien") / "data" / "models" / name))


class NeuralModel:
    """An onnxruntime session of the model plus its metadata. Thread-safe (sessions are)."""

    def __init__(self, path: str | Path | None = None, *, threads: int = 1) -> None:
        import onnxruntime as ort

        self.path = Path(path) if path else _bundled(DEFAULT_MODEL)
        if not self.path.is_file():
            raise FailedPrecondition(f"neural model {self.path} is missing", field="neural.model")
        self.metadata = load_metadata(self.path.with_name(self.path.name + ".json"))
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(self.path), sess_options=options,
                                             providers=["CPUExecutionProvider"])
        inputs = {i.name: i for i in self._session.get_inputs()}
        missing = {"features", "emotion"} - set(inputs)
        if missing:
            raise InvalidArgument(f"model {self.path.name}: inputs {sorted(missing)} missing", field="neural.model")
        self._state_shapes = {
            name: tuple(d if isinstance(d, int) else 1 for d in i.shape)
            for name, i in inputs.items() if name.startswith("state_")
        }
        outputs = [o.name for o in self._session.get_outputs()]
        self._outputs = ["curves", *[f"{name}_out" for name in self._state_shapes]]
        if not set(self._outputs) <= set(outputs):
            raise InvalidArgument(f"model {self.path.name}: outputs must be curves and <state>_out, got {outputs}",
                                  field="neural.model")
        self._lock = threading.Lock()
        self.active_streams = 0
        batch_axis_free = all(not isinstance(i.shape[0], int) for i in inputs.values() if i.shape)
        self._batcher = _Batcher(self) if batch_axis_free and self._rows_independent() else None

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def version(self) -> str:
        return self.metadata.version

    @property
    def channel_names(self) -> tuple[str, ...]:
        return self.metadata.channels

    def initial_state(self) -> dict[str, np.ndarray]:
        return {name: np.zeros(shape, dtype=np.float32) for name, shape in self._state_shapes.items()}

    @property
    def batching(self) -> bool:
        """Whether concurrent steps of several streams run as one call (see :class:`_Batcher`)."""
        return self._batcher is not None

    def run(self, features: np.ndarray, emotion: np.ndarray, state: dict[str, np.ndarray]
            ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """One step over ``features`` (frames, n_mels) and ``emotion`` (frames, emotions).

        Steps of other streams that arrive while a call is running are batched into the next call (the same
        rows as alone, see :meth:`_rows_independent`)."""
        step = _Step(np.asarray(features, dtype=np.float32), np.asarray(emotion, dtype=np.float32), state)
        if self._batcher is None:
            return self._run_batch([step])[0]
        return self._batcher.run(step)

    def _run_batch(self, steps: list[_Step]) -> list[tuple[np.ndarray, dict[str, np.ndarray]]]:
        """One onnxruntime call for steps of equal length, their explicit states stacked on the batch axis."""
        if len(steps) == 1:
            one = steps[0]
            feeds = {"features": one.features[None], "emotion": one.emotion[None], **one.state}
        else:
            feeds = {"features": np.stack([s.features for s in steps]),
                     "emotion": np.stack([s.emotion for s in steps]),
                     **{name: np.concatenate([s.state[name] for s in steps]) for name in self._state_shapes}}
        out = self._session.run(self._outputs, feeds)
        return [(np.asarray(out[0][i]), {name: value[i:i + 1] for name, value in zip(self._state_shapes, out[1:],
                                                                                      strict=True)})
                for i in range(len(steps))]

    def _rows_independent(self) -> bool:
        """Whether each stream's rows of a batched call are bit-identical to its own call, checked once on random
        inputs (batches of 1-3 streams, 1-5 frames): only then may concurrent streams share a call, so a stream's
        frames never depend on which other streams ran at the same moment."""
        rng = np.random.default_rng(0)
        n_mels, n_emotions = self.metadata.features.n_mels, len(self.metadata.emotions)
        for frames, size in ((1, 3), (2, 2), (5, 3)):
            steps = [_Step(rng.standard_normal((frames, n_mels)).astype(np.float32),
                           rng.random((frames, n_emotions)).astype(np.float32),
                           {k: rng.standard_normal(v).astype(np.float32) for k, v in self._state_shapes.items()})
                     for _ in range(size)]
            try:
                together = self._run_batch(steps)
            except Exception:  # noqa: BLE001 - a probe: any runtime's refusal of a batch means no batching
                return False
            for step, (curves, state) in zip(steps, together, strict=True):
                alone, alone_state = self._run_batch([step])[0]
                if not np.array_equal(alone, curves) or any(
                        not np.array_equal(alone_state[k], state[k]) for k in state):
                    return False
        return True

    def _emotion_at_model_rate(self, weights: np.ndarray, fps: float, n_model: int) -> np.ndarray:
        """Per input step, the category weights (given at ``fps``) of the animation frame that step produces.

        Input step k yields animation frame k - lookahead (as in `NeuralStream` and in training), in the
        model's emotion order.
        """
        from .emotion import EMOTIONS

        order = [EMOTIONS.index(e) for e in self.metadata.emotions]
        t_in = np.arange(len(weights)) / fps
        t_model = np.maximum(np.arange(n_model) - self.metadata.lookahead_frames, 0) / self.metadata.fps
        return np.stack([np.interp(t_model, t_in, weights[:, j]) for j in order], axis=1)

    def predict(self, audio: Audio, weights: np.ndarray, fps: float) -> np.ndarray:
        """Offline: curves for the whole line at ``fps`` (len(weights) frames)."""
        meta = self.metadata
        if audio.sample_rate_hz != meta.sample_rate_hz:
            raise InvalidArgument(f"model {meta.name} wants {meta.sample_rate_hz} Hz audio", field="audio")
        n_model = meta.features.n_frames(len(audio.samples))
        feats = log_mel(audio.samples, meta.features, n_model + meta.lookahead_frames)
        emotion = self._emotion_at_model_rate(weights, fps, n_model + meta.lookahead_frames)
        curves, _ = self.run(feats, emotion, self.initial_state())
        curves = curves[meta.lookahead_frames:meta.lookahead_frames + n_model]
        return _resample_frames(curves, meta.fps, len(weights), fps)

    def stream(self) -> NeuralStream:
        return NeuralStream(self)


@dataclass(eq=False)
class _Step:
    """One stream's model step: its features and emotion (frames x ...) and explicit state; then its result."""

    features: np.ndarray
    emotion: np.ndarray
    state: dict[str, np.ndarray]
    result: tuple[np.ndarray, dict[str, np.ndarray]] | None = None
    error: BaseException | None = None
    done: bool = False


class _Batcher:
    """Cross-stream batching without waiting for company: a step that arrives while the model is running
    (onnxruntime releases the interpreter lock, so other streams' threads get that far) queues; when the call
    ends, one of the queued threads runs every queued step of its length in one call. A lone stream runs at
    once; a queued one waits at most for the call in progress. A failed batch is retried step by step, so a
    step's error is its own."""

    def __init__(self, model: NeuralModel) -> None:
        self._model = model
        self._cond = threading.Condition()
        self._queue: list[_Step] = []
        self._busy = False
        self.calls = 0
        self.steps = 0

    def run(self, step: _Step) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        with self._cond:
            self._queue.append(step)
            while self._busy and not step.done:
                self._cond.wait()
            if not step.done:  # lead: take every queued step of this length
                self._busy = True
                frames = len(step.features)
                batch = [s for s in self._queue if len(s.features) == frames]
                self._queue = [s for s in self._queue if len(s.features) != frames]
                if step not in batch:  # taken by a batch that died before computing it (identity: eq=False)
                    batch.append(step)
        if not step.done:
            try:
                self._compute(batch)
            finally:
                with self._cond:
                    self.calls += 1
                    self.steps += len(batch)
                    self._busy = False
                    self._cond.notify_all()
        if step.error is not None:
            raise step.error
        assert step.result is not None
        return step.result

    def _compute(self, batch: list[_Step]) -> None:
        try:
            results = self._model._run_batch(batch)
        except Exception as error:  # noqa: BLE001 - not swallowed: raised again in the thread of its step
            if len(batch) == 1:
                batch[0].error, batch[0].done = error, True
                return
            for step in batch:
                self._compute([step])
            return
        for step, result in zip(batch, results, strict=True):
            step.result, step.done = result, True


def _resample_frames(curves: np.ndarray, from_fps: float, n_out: int, to_fps: float) -> np.ndarray:
    if from_fps == to_fps and len(curves) >= n_out:
        return curves[:n_out]
    t_in = np.arange(len(curves)) / from_fps
    t_out = np.arange(n_out) / to_fps
    return np.stack([np.interp(t_out, t_in, curves[:, j]) for j in range(curves.shape[1])], axis=1)


class NeuralStream:
    """Streaming inference: push audio (and the emotion for the new frames), get finished frames.

    Frames come out at the model's rate (``metadata.fps``) in order, each as soon as the audio
    ``metadata.lookahead_ms`` after it has arrived.
    """

    def __init__(self, model: NeuralModel) -> None:
        self.model = model
        self.meta = model.metadata
        self._features = StreamingFeatures(self.meta.features)
        self._state = model.initial_state()
        self._fed = 0  # feature frames fed to the network
        self.emitted = 0  # animation frames produced

    def _feed(self, feats: np.ndarray, emotion_of: Any) -> np.ndarray:
        if not len(feats):
            return np.zeros((0, len(self.meta.channels)), dtype=np.float32)
        frames = np.arange(self._fed, self._fed + len(feats))
        # the emotion belongs to the animation frame an input frame will produce (lookahead earlier)
        emotion = np.asarray(emotion_of(np.maximum(frames - self.meta.lookahead_frames, 0) / self.meta.fps))
        curves, self._state = self.model.run(feats, emotion, self._state)
        self._fed += len(feats)
        skip = max(0, self.meta.lookahead_frames - (self._fed - len(feats)))
        out = curves[skip:]
        self.emitted += len(out)
        return out

    def push(self, samples: np.ndarray, emotion_of: Any) -> np.ndarray:
        """``emotion_of(times_s) -> (n, len(metadata.emotions))`` weights; returns new frames."""
        return self._feed(self._features.push(samples), emotion_of)

    def finish(self, emotion_of: Any) -> np.ndarray:
        """End of audio: the remaining frames of the line (its last frame included)."""
        total = self.meta.features.n_frames(self._features.samples)
        return self._feed(self._features.flush(total + self.meta.lookahead_frames), emotion_of)

    @property
    def audio_s(self) -> float:
        return self._features.samples / self.meta.sample_rate_hz
