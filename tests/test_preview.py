"""The browser preview page, in headless Chromium against a real sidecar: load a real clip, animate it,
let it play, and check that the drawn face follows the returned curves over time.

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
