"""The browser preview page, in headless Chromium against a real sidecar: load a real clip, animate it,
let it play, and check that the drawn face follows the returned curves over time (lips closed at a
bilabial, the head moved at a pitch accent).

Writes test-artifacts/preview.png (the page at the most open mouth of the line).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mien.config import config_from_dict
from mien.server.app import Sidecar
from support.browser import Chromium, find_chromium

ROOT = Path(__file__).resolve().parents[1]
SPEECH = ROOT / "tests" / "fixtures" / "speech"
ARTIFACTS = ROOT / "test-artifacts"
CLIP = "goforward"
FACE = "mien.v1.FaceAnimation"

pytestmark = pytest.mark.skipif(find_chromium() is None,
                                reason="Chromium is not installed (apt-get install chromium; CI installs it)")

# The page's documented mouth geometry (preview.js header): the test's oracle.
MOUTH_OPEN_PX = 56.0
MOUTH_Y = 322.0
JAW_DROP_PX = 16.0

SNAPSHOT = """(() => {
  const p = window.mienPreview, r = p.lastRender;
  if (!r) return null;
  const inner = document.getElementById('mouth-inner');
  const box = inner.getBBox();
  return {state: p.state, clock: p.clockMode, time: r.time, frame: r.frame, values: r.values,
          aperture: r.aperture, boxY: box.y, boxHeight: box.height, d: inner.getAttribute('d'),
          lid: Number(document.getElementById('lid-l').getAttribute('height'))};
})()"""


def aperture(v: dict[str, float]) -> float:
    """preview.js's mouth aperture from the ARKit channel values."""
    x = (v["jawOpen"] - v["mouthClose"] + 0.3 * (v["mouthLowerDownLeft"] + v["mouthLowerDownRight"]) / 2
         + 0.2 * (v["mouthUpperUpLeft"] + v["mouthUpperUpRight"]) / 2)
    return min(1.0, max(0.0, x))


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    config = config_from_dict({"server": {"port": 0, "http_port": 0}, "state": {"db_path": ":memory:"}})
    sidecar = Sidecar(config).start()
    assert sidecar.gateway is not None
    yield f"http://127.0.0.1:{sidecar.gateway.port}"
    sidecar.stop(0.5)


NO_AUDIO = """HTMLMediaElement.prototype.play = function () {
  return Promise.reject(new DOMException('no audio output in this test', 'NotSupportedError'));
};"""


@pytest.mark.timeout(90)
@pytest.mark.parametrize("audio", [True, False], ids=["audio-clock", "page-clock"])
def test_preview_plays_a_line_on_the_face(base_url: str, audio: bool) -> None:
    """With audio, the face follows the <audio> element; where the browser cannot play it, the page's own
    clock (the same checks hold either way)."""
    samples, track, shot, errors, urls = asyncio.run(_play(base_url, audio))
    if not audio:
        assert {s["clock"] for s in samples} == {"clock"}

    # the page sent what the form said, and got an aligned ARKit track back
    assert track["metadata"]["mode"] == "aligned" and track["metadata"]["rig"] == "arkit52"
    assert track["metadata"]["emotion"].get("happy", 0) == pytest.approx(0.8, abs=1e-6)
    names = track["channelNames"]
    fps = float(track["fps"])
    values = np.asarray(track["values"], dtype=float).reshape(track["frameCount"], len(names))
    column = {n: i for i, n in enumerate(names)}

    playing = [s for s in samples if s["state"] == "playing"]
    assert len(playing) >= 6, f"too few samples while playing: {len(samples)} in all"
    times = [s["time"] for s in playing]
    assert all(b >= a for a, b in itertools.pairwise(times)), f"time went back: {times}"
    assert len(set(times)) >= 6 and times[-1] - times[0] > 1.2, f"time did not advance: {times}"
    assert samples[-1]["state"] == "ended"

    for s in samples:
        # the frame shown is the one at the page's clock, and the values are that frame's curves
        assert s["frame"] == min(track["frameCount"] - 1, round(s["time"] * fps))
        row = values[s["frame"]]
        shown = s["values"]
        assert set(shown) == set(names)
        assert np.allclose([shown[n] for n in names], row, atol=1e-6)
        # the drawn mouth follows the curves: its inner opening is MOUTH_OPEN_PX * aperture tall
        expected = aperture({n: float(row[column[n]]) for n in names})
        assert s["aperture"] == pytest.approx(expected, abs=1e-6)
        assert s["boxHeight"] == pytest.approx(MOUTH_OPEN_PX * expected, abs=0.15), s
        centre = MOUTH_Y + JAW_DROP_PX * float(row[column["jawOpen"]])
        if expected > 0.01:
            assert s["boxY"] == pytest.approx(centre - 0.4 * MOUTH_OPEN_PX * expected, abs=0.15), s

    # ... and changes over time with the speech
    assert len({s["d"] for s in playing}) >= 4
    apertures = [s["aperture"] for s in playing]
    assert max(apertures) - min(apertures) > 0.2, apertures

    # no script errors, no CSP violations, nothing loaded from anywhere else
    assert errors == [], errors
    foreign = [u for u in urls if not u.startswith((base_url, "data:", "blob:"))]
    assert foreign == [], foreign

    assert shot.startswith(b"\x89PNG\r\n\x1a\n") and len(shot) > 20_000
    if audio:
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "preview.png").write_bytes(shot)


async def _play(base_url: str, audio: bool) -> tuple[list[dict[str, Any]], dict[str, Any], bytes, list[str], list[str]]:
    async with Chromium.launch(width=1280, height=860) as browser:
        if not audio:
            await browser.add_init_script(NO_AUDIO)
        await browser.goto(f"{base_url}/preview")
        await browser.wait_for("window.mienPreview && mienPreview.info", timeout_s=15)
        transcript = (SPEECH / f"{CLIP}.txt").read_text().strip()
        await browser.evaluate(f"document.getElementById('transcript').value = {json.dumps(transcript)}")
        await browser.evaluate("document.getElementById('emotion').value = 'happy'")
        await browser.evaluate("document.getElementById('intensity').value = '0.8'")
        await browser.evaluate("document.getElementById('rig').value = 'arkit52'")
        await browser.set_files("#audio-file", [SPEECH / f"{CLIP}.wav"])
        await browser.click("#animate")
        await browser.wait_for("['playing', 'ended'].includes(mienPreview.state)", timeout_s=20)

        samples: list[dict[str, Any]] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while loop.time() < deadline:
            snapshot = await browser.evaluate(SNAPSHOT)
            if snapshot:
                samples.append(snapshot)
                if snapshot["state"] == "ended":
                    break
            await asyncio.sleep(0.12)
        track = await browser.evaluate("mienPreview.track")

        # the screenshot: the moment of the most open mouth
        fps = float(track["fps"])
        n = len(track["channelNames"])
        jaw = track["channelNames"].index("jawOpen")
        widest = int(np.argmax(np.asarray(track["values"], dtype=float)[jaw::n]))
        await browser.evaluate(f"mienPreview.seek({widest / fps})")
        await browser.wait_for(f"mienPreview.lastRender.frame === {widest}", timeout_s=5)
        await asyncio.sleep(0.1)
        shot = await browser.screenshot()
        return samples, track, shot, browser.console_errors(), browser.requested_urls()


# ----------------------------------------------------------------------------------- head and lips
HEAD_CLIP = "librivox_0880"
HEAD_PX_PER_DEG = 3.0  # preview.js header: the face moves 3 px per degree of head yaw / pitch


def _accent_frames(track: dict[str, Any]) -> list[int]:
    """Frames of the deepest head nod in the 0.4 s after each pitch accent of the line (accents from a
    whole-line F0 analysis: voiced local maxima >= 1.5 semitones above the median, mien.prosody's rule)."""
    from mien.audio import decode_audio
    from mien.prosody import line_pitch_hz

    samples = decode_audio((SPEECH / f"{HEAD_CLIP}.wav").read_bytes(), max_duration_s=60).samples
    f0 = line_pitch_hz(samples, 16000)
    voiced = f0 > 0
    semis = np.zeros_like(f0)
    semis[voiced] = 12 * np.log2(f0[voiced] / np.median(f0[voiced]))
    accents = [i * 0.01 for i in range(2, len(f0) - 2)
               if voiced[i - 2:i + 3].all() and semis[i] >= 1.5 and semis[i] == semis[i - 2:i + 3].max()]
    names, fps = track["channelNames"], float(track["fps"])
    pitch = np.asarray(track["values"], dtype=float).reshape(track["frameCount"], len(names))[
        :, names.index("headPitch_deg")]
    frames = []
    for a in accents:
        lo, hi = int(a * fps), min(len(pitch), int((a + 0.4) * fps))
        frames.append(lo + int(np.argmin(pitch[lo:hi])))
    return frames


@pytest.mark.timeout(90)
def test_preview_closes_the_lips_at_a_bilabial_and_moves_the_head_at_a_pitch_accent(base_url: str) -> None:
    asyncio.run(_head_and_lips(base_url))


async def _show(browser: Chromium, frame: int, fps: float) -> dict[str, Any]:
    await browser.evaluate(f"mienPreview.seek({(frame + 0.25) / fps})")
    await browser.wait_for(f"mienPreview.lastRender.frame === {frame}", timeout_s=5)
    return await browser.evaluate("""(() => {
      const r = mienPreview.lastRender, nose = document.getElementById('nose').getBoundingClientRect();
      const svg = document.getElementById('face').getBoundingClientRect();
      return {frame: r.frame, aperture: r.aperture, head: r.head,
              mouth: document.getElementById('mouth-inner').getBBox().height,
              transform: document.getElementById('head').getAttribute('transform'),
              noseX: nose.x, noseY: nose.y, scale: svg.width / 400};
    })()""")


async def _head_and_lips(base_url: str) -> None:
    async with Chromium.launch(width=1280, height=860) as browser:
        await browser.add_init_script(NO_AUDIO)
        await browser.goto(f"{base_url}/preview")
        await browser.wait_for("window.mienPreview && mienPreview.info", timeout_s=15)
        transcript = (SPEECH / f"{HEAD_CLIP}.txt").read_text().strip()
        await browser.evaluate(f"document.getElementById('transcript').value = {json.dumps(transcript)}")
        await browser.evaluate("document.getElementById('rig').value = 'arkit52'")
        await browser.set_files("#audio-file", [SPEECH / f"{HEAD_CLIP}.wav"])
        await browser.click("#animate")
        await browser.wait_for("mienPreview.state === 'ended'", timeout_s=30)
        track = await browser.evaluate("mienPreview.track")
        names, fps = track["channelNames"], float(track["fps"])
        values = np.asarray(track["values"], dtype=float).reshape(track["frameCount"], len(names))

        # a bilabial: the frame of the p/b/m with the least aperture shows the lips together
        bilabials = [p for p in track["phones"] if p["phone"] in ("P", "B", "M")]
        assert bilabials, track["phones"]
        best = None
        for p in bilabials:
            for f in range(int(np.ceil(p["startS"] * fps)), int(np.floor(p["endS"] * fps)) + 1):
                row = {n: float(values[f, i]) for i, n in enumerate(names)}
                if best is None or aperture(row) < best[0]:
                    best = (aperture(row), f)
        assert best is not None
        closed = await _show(browser, best[1], fps)
        assert closed["aperture"] < 0.05 and closed["mouth"] < 0.05 * MOUTH_OPEN_PX, closed

        # a pitch accent: the head has nodded, and the drawn face has moved with it
        rest = await _show(browser, 0, fps)
        frames = _accent_frames(track)
        assert frames
        for f in frames:
            shown = await _show(browser, f, fps)
            yaw, pitch, roll = (float(values[f, names.index(n)])
                                for n in ("headYaw_deg", "headPitch_deg", "headRoll_deg"))
            assert shown["head"]["pitch"] == pytest.approx(pitch, abs=1e-6)
            assert shown["transform"] == (f"translate({HEAD_PX_PER_DEG * yaw:.3f} {-HEAD_PX_PER_DEG * pitch:.3f}) "
                                          f"rotate({roll:.3f} 200 400)")
            moved = np.hypot(shown["noseX"] - rest["noseX"], shown["noseY"] - rest["noseY"]) / shown["scale"]
            assert moved > 1.0, (f, moved, shown["head"])  # more than a pixel of the face's 400
        assert browser.console_errors() == []
