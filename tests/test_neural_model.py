"""The neural audio-to-controller model: export parity, smoke training, the shipped model's contract and quality.

* export: the shipped architecture (random weights) exported with the legacy exporter at opset 17 gives
  the PyTorch numbers in onnxruntime (max abs diff <= 1e-4), and streaming in chunks of 1-6 frames
  with the state carried equals one call;
* smoke training (< 60 s, toy audio made with numpy: no network, espeak or corpora) learns, exports,
  and the result loads and runs through ``mien.neural``;
* the bundled model (``mien/data/models/mien_a2c.onnx``): metadata, size, look-ahead, streaming ==
  offline through the runtime, and lip-sync / emotion on the held-out real speech fixtures (no
  transcript) at the levels measured in the model card.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pytest

from mien import Animator, Emotion, LineRequest
from mien.audio import Audio
from mien.channels import ARKIT52
from mien.emotion import EMOTIONS
from mien.neural import DEFAULT_MODEL, NeuralModel, load_metadata
from support.lipsync import SPEECH, clips, score

torch = pytest.importorskip("torch", reason="training and export need torch (the train extra)")
pytest.importorskip("onnx")

from training.neural import common  # noqa: E402
from training.neural.export import export, parity, streaming_parity  # noqa: E402
from training.neural.model import A2C, aperture  # noqa: E402
from training.neural.train import default_model_config, smoke  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "sidecar" / "mien" / "data" / "models" / DEFAULT_MODEL
EXPECTED_CHANNELS = tuple(n for n in ARKIT52 if not n.startswith(("eyeBlink", "eyeLook")))


def _wav(name: str) -> np.ndarray:
    import soundfile as sf

    x, rate = sf.read(SPEECH / f"{name}.wav", dtype="float32")
    assert rate == 16000
    return x


# ----------------------------------------------------------------------------------------------- export
def test_export_parity_torch_vs_onnxruntime(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = A2C(default_model_config()).eval()
    stats = {"mean": [0.0] * 40, "std": [1.0] * 40}
    meta = export(model, stats, tmp_path / "m.onnx", [], check=False)
    assert parity(model, tmp_path / "m.onnx") <= 1e-4
    assert streaming_parity(model, tmp_path / "m.onnx") <= 1e-4
    import onnx

    proto = onnx.load(str(tmp_path / "m.onnx"))
    assert [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [17]
    names = [i.name for i in proto.graph.input]
    assert names[:2] == ["features", "emotion"] and all(n.startswith("state_") for n in names[2:])
    assert [o.name for o in proto.graph.output] == ["curves", *[f"{n}_out" for n in names[2:]]]
    frames = proto.graph.input[0].type.tensor_type.shape.dim[1]
    assert frames.dim_param == "frames"  # dynamic frames axis
    assert meta["lookahead_frames"] == common.LOOKAHEAD_FRAMES
    assert tuple(meta["channels"]) == EXPECTED_CHANNELS


def test_aperture_matches_the_reference_scorer() -> None:
    from support.lipsync import SCORER

    rng = np.random.default_rng(0)
    v = rng.random((50, len(EXPECTED_CHANNELS))).astype(np.float32)
    ours = aperture(torch.from_numpy(v), EXPECTED_CHANNELS).numpy()
    ref = SCORER.aperture({c: v[:, EXPECTED_CHANNELS.index(c)] for c in SCORER.APERTURE_COLS})
    np.testing.assert_allclose(ours, ref, atol=1e-6)


def test_closure_gate_commits_and_smoothing_keeps_streaming_exact() -> None:
    """A confident closure logit shuts the lips (aperture 0) whatever the curves say; a confident "open" one
    leaves the curves alone; the smoothing FIR streams exactly like one call."""
    torch.manual_seed(0)
    model = A2C(default_model_config()).eval()
    feats, emo = torch.randn(1, 40, 40), torch.softmax(torch.randn(1, 40, 7), 2)
    head = model.speech_head[2]
    with torch.no_grad():
        bias = head.bias.clone()
        head.bias[model.n_speech] = 20.0  # certain closure everywhere
        shut = model.run(feats, emo)
        head.bias[model.n_speech] = -20.0
        open_ = model.run(feats, emo)
        head.bias.copy_(bias)
    assert float(aperture(shut, EXPECTED_CHANNELS).max()) < 1e-6
    assert float(aperture(open_, EXPECTED_CHANNELS).max()) > 0.05
    assert model.state_names[-1] == "state_smooth"
    whole = model.run(feats, emo)
    states, parts = model.initial_state(1), []
    for a in range(0, 40, 3):
        out, *states = model(feats[:, a:a + 3], emo[:, a:a + 3], *states)
        parts.append(out)
    assert float((torch.cat(parts, 1) - whole).abs().max()) < 1e-5


def test_labels_and_time_warp() -> None:
    from mien.track import PhoneSegment

    phones = (PhoneSegment(0.0, 0.5, "SIL"), PhoneSegment(0.5, 0.6, "M"), PhoneSegment(0.6, 0.8, "AA"),
              PhoneSegment(0.8, 0.85, "F"), PhoneSegment(0.85, 0.9, "T"), PhoneSegment(0.9, 1.0, "SIL"))
    lab = common.frame_labels(phones, 61)
    assert lab[3] == common.SIL and lab[12] == common.REST  # >= 150 ms into a 500 ms silence
    assert lab[32] == common.BILABIAL and lab[40] == common.VOWEL and lab[49] == common.LABIODENTAL
    assert lab[52] == common.CONSONANT and lab[58] == common.SIL
    warped = common.warp_frames(lab, 71, 71 / 61, nearest=True)
    assert warped[round(32 * 71 / 61)] == common.BILABIAL
    x = np.linspace(0, 1, 61)[:, None]
    np.testing.assert_allclose(common.warp_frames(x, 122, 2.0)[::2, 0], x[:, 0], atol=1e-9)


def test_emotion_sampling_is_seeded_and_valid() -> None:
    a = [common.sample_emotion(np.random.default_rng([3, i]), 3.0) for i in range(200)]
    b = [common.sample_emotion(np.random.default_rng([3, i]), 3.0) for i in range(200)]
    assert a == b
    kinds = {len(e.keys) for e in a}
    assert kinds == {1, 2}  # constant and mid-clip changes
    for e in a:
        w = e.weights(181)
        np.testing.assert_allclose(w.sum(1), 1.0, atol=1e-9)
    assert sum(e.describe() == "neutral" for e in a) > 20


# ----------------------------------------------------------------------------------------- smoke training
@pytest.mark.timeout(120)
def test_smoke_training_learns_exports_and_runs(tmp_path: Path) -> None:
    cpu0 = time.process_time()
    summary = smoke(tmp_path / "run")
    history = summary["history"]
    assert summary["steps"] == 60 and history  # type: ignore[index]
    from training.neural.train import load_checkpoint

    model, ck = load_checkpoint(tmp_path / "run" / "best.pt")
    out = tmp_path / "smoke.onnx"
    export(model, ck["stats"], out, ck["training_data"])  # type: ignore[arg-type]
    runtime = NeuralModel(out)
    assert runtime.metadata.lookahead_ms <= 80.0
    x = _wav("goforward")
    n = runtime.metadata.features.n_frames(len(x))
    curves = runtime.predict(Audio(x), np.tile(Emotion.of("happy").vector(), (n, 1)), 60.0)
    assert curves.shape == (n, len(EXPECTED_CHANNELS)) and np.isfinite(curves).all()
    assert curves.min() >= 0.0 and curves.max() <= 1.0
    # CPU seconds of this process (all threads): about the wall time on an idle 2-core machine (~15 s),
    # and not inflated when other jobs share the CPUs
    assert time.process_time() - cpu0 < 60.0


def test_smoke_training_loss_goes_down(tmp_path: Path) -> None:
    from training.neural.train import Split, TrainConfig, toy_data, train

    tr, va, mean, std = toy_data(6, 1)
    cfg = TrainConfig(steps=40, batch=4, max_frames=150, lr=3e-3, warmup=2, eval_every=20, ema=0.5)
    model_cfg = default_model_config(conv_channels=24, head_hidden=24, expr_hidden=8, dilations=(1, 2))
    summary = train(Split(tr, mean, std), Split(va, mean, std), model_cfg, cfg, tmp_path, log_every=1000)
    first, last = summary["history"][0], summary["history"][-1]  # type: ignore[index]
    assert last["total"] < first["total"] or last["curve"] < 0.1


# --------------------------------------------------------------------------------------- shipped model
shipped = pytest.mark.skipif(not SHIPPED.exists(), reason="no bundled neural model")


@pytest.fixture(scope="module")
def model() -> NeuralModel:
    return NeuralModel(SHIPPED)


@shipped
def test_shipped_model_metadata_and_size() -> None:
    assert SHIPPED.stat().st_size <= 5 * 1024 * 1024
    raw = json.loads(SHIPPED.with_name(SHIPPED.name + ".json").read_text())
    meta = load_metadata(SHIPPED.with_name(SHIPPED.name + ".json"))
    assert meta.sample_rate_hz == 16000 and meta.fps == 60.0
    assert meta.lookahead_frames <= 4 and meta.lookahead_ms <= 80.0
    assert meta.channels == EXPECTED_CHANNELS
    assert meta.emotions == EMOTIONS
    assert len(meta.features.mean) == len(meta.features.std) == meta.features.n_mels
    assert raw["onnx_opset"] == 17
    assert meta.training_data and all({"name", "source", "licence", "minutes", "use"} <= set(d)
                                      for d in meta.training_data)
    assert not any("pocketsphinx_testdata" in json.dumps(d) or "asterisk-core-sounds-en" in json.dumps(d)
                   for d in meta.training_data)
    # deterministic file: no timestamps
    assert not re.search(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}", json.dumps(raw))
    card = (SHIPPED.parent / "MODEL_CARD.md").read_text()
    for d in meta.training_data:
        assert d["name"] in card and d["licence"].split(" ")[0] in card


@shipped
def test_shipped_model_streams_exactly_like_offline(model: NeuralModel) -> None:
    x = _wav("cards_003")
    n = model.metadata.features.n_frames(len(x))
    angry, happy = Emotion.of("angry", 0.8).vector(), Emotion.of("happy", 1.0).vector()

    def emotion_of(t: np.ndarray) -> np.ndarray:  # the emotion changes 1 s into the line
        return np.where(np.asarray(t)[:, None] < 1.0, angry, happy)

    offline = model.predict(Audio(x), emotion_of(np.arange(n) / 60.0), 60.0)
    stream = model.stream()
    rng = np.random.default_rng(0)
    parts, i = [], 0
    while i < len(x):
        k = int(rng.integers(16, 2400))
        parts.append(stream.push(x[i:i + k], emotion_of))
        i += k
    parts.append(stream.finish(emotion_of))
    streamed = np.concatenate(parts)
    assert streamed.shape == offline.shape
    assert np.abs(streamed - offline).max() <= 1e-4


@pytest.fixture(scope="module")
def neural_animator(model: NeuralModel) -> Animator:
    return Animator(neural_model=model)


# Bilabial closure on real voices misses its target (model 2.0.0: 0.43 on these fixtures, 0.83 on the other
# held-out English speakers, 0.98 on held-out synthetic voices): it is a short fine-tune on 50 min of real
# speech, not yet the full retrain. MODEL_CARD.md ("Known gaps"). Strict: when a model reaches the target
# these tests fail until the marker goes.
PBM_GAP = pytest.mark.xfail(strict=True, reason="bilabial closure on real voices below 0.85: MODEL_CARD.md")


@pytest.fixture(scope="module")
def neutral_scores(neural_animator: Animator, tmp_path_factory: pytest.TempPathFactory) -> dict[str, float]:
    """Fixture speech (never trained on), no transcript, neutral, scored by the reference scorer."""
    tracks = {}
    for name in clips():
        track = neural_animator.animate(LineRequest(audio=Audio(_wav(name)), mode="neural"))
        assert track.info.mode == "neural"
        tracks[name] = track
    return score(tracks, tmp_path_factory.mktemp("neutral"))


@shipped
def test_shipped_model_lipsync_on_held_out_real_speech(neutral_scores: dict[str, float]) -> None:
    s = neutral_scores
    assert s["vowel"] >= 0.85, s
    assert s["rest"] >= 0.95, s
    assert abs(s["lag_ms"]) <= 40, s


@shipped
@PBM_GAP
def test_shipped_model_closes_the_lips_on_held_out_real_speech(neutral_scores: dict[str, float]) -> None:
    assert neutral_scores["pbm"] >= 0.85, neutral_scores


@pytest.fixture(scope="module")
def emotion_runs(neural_animator: Animator, tmp_path_factory: pytest.TempPathFactory) -> tuple[float, dict[str, dict]]:
    """(share of emotions recognised, lip-sync scores at full intensity per emotion)."""
    teacher = Animator()
    features = [i for i, n in enumerate(ARKIT52) if not n.startswith(("eyeLook", "eyeBlink"))]
    protos = {e: teacher.animate(LineRequest(idle_duration_s=6, emotion=Emotion.of(e))).values[:, features].mean(0)
              for e in EMOTIONS}
    hits = total = 0
    full: dict[str, dict[str, object]] = {e: {} for e in EMOTIONS}
    for name in clips():
        audio = Audio(_wav(name))
        for e in EMOTIONS:
            for intensity in (0.6, 1.0):
                request = LineRequest(audio=audio, mode="neural", emotion=Emotion.of(e, intensity))
                track = neural_animator.animate(request)
                avg = track.values[:, features].mean(0)
                guess = min(protos, key=lambda k: float(np.sum((avg - protos[k]) ** 2)))
                hits += guess == e
                total += 1
                if intensity == 1.0:
                    full[e][name] = track
    root = tmp_path_factory.mktemp("emotions")
    return hits / total, {e: score(full[e], root / e) for e in EMOTIONS}  # type: ignore[arg-type]


@shipped
def test_shipped_model_emotion_is_recognisable(emotion_runs: tuple[float, dict[str, dict]]) -> None:
    recognised, _ = emotion_runs
    assert recognised >= 0.90, recognised


@shipped
def test_shipped_model_keeps_vowels_and_rest_under_every_emotion(emotion_runs: tuple[float, dict[str, dict]]) -> None:
    for e, s in emotion_runs[1].items():
        assert s["vowel"] >= 0.85 and abs(s["lag_ms"]) <= 40, (e, s)


@shipped
@PBM_GAP
def test_shipped_model_closes_the_lips_under_every_emotion(emotion_runs: tuple[float, dict[str, dict]]) -> None:
    for e, s in emotion_runs[1].items():
        assert s["pbm"] >= 0.85, (e, s)
