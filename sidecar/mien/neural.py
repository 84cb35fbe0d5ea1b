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

    def run(self, features: np.ndarray, emotion: np.ndarray, state: dict[str, np.ndarray]
            ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """One step over ``features`` (frames, n_mels) and ``emotion`` (frames, emotions)."""
        feeds = {"features": features[None].astype(np.float32), "emotion": emotion[None].astype(np.float32), **state}
        out = self._session.run(self._outputs, feeds)
        new_state = {name: value for name, value in zip(self._state_shapes, out[1:], strict=True)}
        return np.asarray(out[0][0]), new_state

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
