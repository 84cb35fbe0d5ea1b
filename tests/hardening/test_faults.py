"""Faults: clients that cancel or vanish, SIGTERM, kill -9 of the sidecar and of a bake.

* a client that cancels (gRPC), closes its WebSocket, or whose process dies mid-stream frees its
  stream (``Sidecar.streams.active`` back to 0), its slot of the per-client limit, and its threads;
* SIGTERM: an in-flight unary request finishes OK, open streams (gRPC and WebSocket) end with a
  status, new calls are refused, the process exits 0 within ``server.shutdown_grace_s`` + a margin;
* ``kill -9`` while NPC states are being updated: after a restart on the same database every
  acknowledged update is there (GetState equals the last acknowledged state; at most the one update
  in flight at the kill may also be there), and the database passes SQLite's integrity check;
* ``kill -9`` of a bake (once ``mien bake`` exists): no finished line lost, no partial output file.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import itertools
import json
import signal
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from loguru import logger

from mien.v1 import common_pb2 as pb
from mien.v1 import emotion_state_pb2 as es
from mien.v1 import emotion_state_pb2_grpc as es_grpc
from mien.v1 import face_animation_pb2 as fa
from mien.v1 import face_animation_pb2_grpc as fa_grpc

from .conftest import Hardened
from .harness import FACE, REPO, MienProcess, speech_bytes, speech_pcm16, wait_until

HEADER = fa.StreamAnimateRequest(header=fa.StreamHeader(sample_rate_hz=16000))
LOOPBACK = "127.0.0.1"
"""The per-client key of the test clients: their address."""


def _paced(pcm: bytes, chunk_ms: int = 40, forever: bool = True) -> Iterator[fa.StreamAnimateRequest]:
    yield HEADER
    step = 16 * chunk_ms * 2
    while True:
        for i in range(0, len(pcm) - step, step):
            yield fa.StreamAnimateRequest(audio=fa.AudioChunk(data=pcm[i:i + step]))
            time.sleep(chunk_ms / 1000)
        if not forever:
            return


def _reader_threads() -> int:
    return sum(t.name == "mien-stream-reader" and t.is_alive() for t in threading.enumerate())


class _Logs:
    """Collects the in-process sidecar's log lines (loguru) while active."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._id: int | None = None

    def __enter__(self) -> _Logs:
        self._id = logger.add(lambda m: self.lines.append(str(m)), level="INFO")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._id is not None
        logger.remove(self._id)

    def text(self) -> str:
        return "".join(self.lines)


# ------------------------------------------------------------------------ cancel and disconnect


def test_grpc_cancel_frees_the_stream_and_the_client_slot(hardened: Hardened) -> None:
    sidecar = hardened.sidecar
    assert sidecar.streams is not None
    call = hardened.face.StreamAnimate(_paced(speech_pcm16()))
    for i, _ in enumerate(call):
        if i == 5:
            assert sidecar.streams.active == 1
            call.cancel()
            break
    assert wait_until(lambda: sidecar.streams.active == 0, 5.0), "the cancelled stream is still open"
    assert wait_until(lambda: sidecar.limiter.in_flight(LOOPBACK) == 0, 5.0), sidecar.limiter._inflight


def test_websocket_close_frees_the_stream(hardened: Hardened) -> None:
    sidecar = hardened.sidecar
    assert sidecar.streams is not None
    pcm = speech_pcm16()

    async def run() -> None:
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(f"{hardened.ws_base}/{FACE}/StreamAnimate")
            await ws.send_str(json.dumps({"header": {"sampleRateHz": 16000}}))
            for i in range(10):
                chunk = base64.b64encode(pcm[i * 1280:(i + 1) * 1280]).decode()
                await ws.send_str(json.dumps({"audio": {"data": chunk}}))
                await asyncio.sleep(0.04)
            await ws.receive(timeout=5)
            assert sidecar.streams is not None and sidecar.streams.active == 1
            await ws.close()

    asyncio.run(run())
    assert wait_until(lambda: sidecar.streams.active == 0, 5.0)
    assert wait_until(lambda: sidecar.limiter.in_flight(LOOPBACK) == 0, 5.0)


_VANISHING_CLIENT = """
import sys, time, grpc
from mien.v1 import face_animation_pb2 as fa, face_animation_pb2_grpc as fa_grpc
def gen():
    yield fa.StreamAnimateRequest(header=fa.StreamHeader(sample_rate_hz=16000))
    while True:
        yield fa.StreamAnimateRequest(audio=fa.AudioChunk(data=b"\\x01\\x00" * 640))
        time.sleep(0.04)
stub = fa_grpc.FaceAnimationStub(grpc.insecure_channel(sys.argv[1]))
for i, _ in enumerate(stub.StreamAnimate(gen())):
    if i == 3:
        print("streaming", flush=True)
"""


def test_client_process_killed_mid_stream_frees_the_stream(hardened: Hardened) -> None:
    """A game that crashes (TCP connection gone without a goodbye): the stream is freed."""
    sidecar = hardened.sidecar
    assert sidecar.streams is not None
    client = subprocess.Popen([sys.executable, "-c", _VANISHING_CLIENT, f"127.0.0.1:{sidecar.grpc_port}"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert client.stdout is not None
        assert client.stdout.readline().strip() == "streaming"
        assert sidecar.streams.active == 1
        client.kill()  # SIGKILL
        client.wait(10)
        started = time.monotonic()
        assert wait_until(lambda: sidecar.streams.active == 0, 10.0), "the dead client's stream is still open"
        print(f"stream freed {time.monotonic() - started:.2f} s after the client was killed")
    finally:
        if client.poll() is None:
            client.kill()
            client.wait(10)


def test_a_cancelled_stream_is_logged_as_cancelled(hardened: Hardened) -> None:
    """A player quitting mid-line is routine: one request log line with status=CANCELLED, no ERROR, no traceback."""
    with _Logs() as logs:
        for _ in range(3):
            call = hardened.face.StreamAnimate(_paced(speech_pcm16()))
            for i, _ in enumerate(call):
                if i == 3:
                    call.cancel()
                    break
            assert hardened.sidecar.streams is not None
            assert wait_until(lambda: hardened.sidecar.streams.active == 0, 5.0)
        time.sleep(0.5)
    lines = [line for line in logs.lines if "StreamAnimate" in line and f"client={LOOPBACK}" in line]
    assert len(lines) == 3 and all("status=CANCELLED" in line for line in lines), lines
    assert "unexpected error" not in logs.text() and "Traceback" not in logs.text(), logs.text()[-3000:]


def test_a_fast_sender_that_fails_or_cancels_leaks_no_threads(hardened: Hardened) -> None:
    """A TTS client sends a whole line at once (faster than real time); the stream ends early (a bad chunk, or a
    cancel) while the sidecar is still busy with a long first chunk and the rest of the line is queued."""
    baseline = _reader_threads()
    long = fa.StreamAnimateRequest(audio=fa.AudioChunk(data=b"\x01\x00" * 16000 * 9))  # 9 s: keeps the stream busy
    chunk = fa.StreamAnimateRequest(audio=fa.AudioChunk(data=b"\x01\x00" * 640))
    bad = fa.StreamAnimateRequest(audio=fa.AudioChunk(data=b"\x00\x00\x00"))  # odd bytes: INVALID_ARGUMENT
    for _ in range(3):
        with pytest.raises(grpc.RpcError) as err:
            list(hardened.face.StreamAnimate(iter([HEADER, long, bad, *[chunk] * 300]), timeout=30))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        call = hardened.face.StreamAnimate(iter([HEADER, long, long, *[chunk] * 300]), timeout=30)
        next(call)  # the track header: the stream is open
        call.cancel()
    assert hardened.sidecar.streams is not None
    assert wait_until(lambda: hardened.sidecar.streams.active == 0, 5.0)
    freed = wait_until(lambda: _reader_threads() <= baseline, 5.0)
    assert freed, f"{_reader_threads() - baseline} stream reader threads leaked"


# ------------------------------------------------------------------------------------------ SIGTERM

GRACE_S = 6.0


@pytest.fixture(scope="module")
def sigterm(toy_model: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One drain, observed from every side: SIGTERM while a long unary call, a gRPC stream and a WebSocket
    stream are in flight; then a new call. Returns what each saw and when."""
    speech_file = speech_bytes("goforward")
    config = {"server": {"shutdown_grace_s": GRACE_S}, "neural": {"model": str(toy_model)},
              "limits": {"stream_stall_timeout_s": 5.0}}
    results: dict[str, Any] = {}
    with MienProcess(tmp_path_factory.mktemp("sigterm"), config) as server:
        channel = grpc.insecure_channel(server.target)
        face = fa_grpc.FaceAnimationStub(channel)

        def unary() -> None:  # a long request: speech recognition of a 2.8 s line (~1-3 s of CPU)
            started = time.monotonic()
            try:
                track = face.AnimateLine(fa.AnimateLineRequest(audio=pb.AudioInput(file=speech_file),
                                                               mode=fa.ANIMATION_MODE_RECOGNIZED), timeout=60)
                results["unary"] = ("OK", track.frame_count)
            except grpc.RpcError as error:
                results["unary"] = (error.code().name, error.details())
            results["unary_s"] = time.monotonic() - started

        streaming = threading.Event()

        def stream() -> None:
            received: list[fa.StreamAnimateResponse] = []
            results["stream_messages"] = received
            try:
                for response in face.StreamAnimate(_paced(speech_pcm16()), timeout=60):
                    received.append(response)
                    if len(received) == 3:
                        streaming.set()
                results["stream"] = ("OK", "")
            except grpc.RpcError as error:
                results["stream"] = (error.code().name, error.details())
            results["stream_end"] = time.monotonic()

        ws_open = threading.Event()

        async def websocket() -> None:
            async with aiohttp.ClientSession() as session:
                ws = await session.ws_connect(f"ws://127.0.0.1:{server.http_port}/{FACE}/StreamAnimate")
                await ws.send_str(json.dumps({"header": {"sampleRateHz": 16000}}))
                texts: list[Any] = []

                async def send() -> None:
                    chunk = base64.b64encode(b"\x01\x00" * 640).decode()
                    while not ws.closed:
                        await ws.send_str(json.dumps({"audio": {"data": chunk}}))
                        await asyncio.sleep(0.04)

                sender = asyncio.create_task(send())
                async for message in ws:
                    if message.type == aiohttp.WSMsgType.TEXT:
                        texts.append(json.loads(message.data))
                        ws_open.set()
                sender.cancel()
                last = texts[-1] if texts else {}
                results["ws"] = (last.get("status"), ws.close_code)
                results["ws_end"] = time.monotonic()

        threads = [threading.Thread(target=stream), threading.Thread(target=lambda: asyncio.run(websocket()))]
        for t in threads:
            t.start()
        assert streaming.wait(30) and ws_open.wait(30), "the streams did not start"
        unary_thread = threading.Thread(target=unary)
        unary_thread.start()
        time.sleep(0.3)  # the unary request is in flight
        signalled = time.monotonic()
        server.signal(signal.SIGTERM)
        time.sleep(0.5)
        try:  # draining: no new calls
            fa_grpc.FaceAnimationStub(grpc.insecure_channel(server.target)).Describe(fa.DescribeRequest(), timeout=5)
            results["new_call"] = "OK"
        except grpc.RpcError as error:
            results["new_call"] = error.code().name
        results["exit_code"] = server.wait(GRACE_S + 15)
        results["exit_s"] = time.monotonic() - signalled
        unary_thread.join(30)
        for t in threads:
            t.join(30)
        channel.close()
        results["stream_s"] = results.get("stream_end", signalled) - signalled
        results["ws_s"] = results.get("ws_end", signalled) - signalled
        results["log"] = server.log_text()
    print(f"SIGTERM: exit {results['exit_code']} after {results['exit_s']:.2f} s (grace {GRACE_S} s); new call "
          f"{results['new_call']}; in-flight unary {results.get('unary')} after {results.get('unary_s', 0):.2f} s; "
          f"gRPC stream {results.get('stream')} after {results['stream_s']:.2f} s; WebSocket {results.get('ws')} "
          f"after {results['ws_s']:.2f} s")
    return results


def test_sigterm_drains_grpc_within_the_grace(sigterm: dict[str, Any]) -> None:
    assert sigterm["new_call"] == "UNAVAILABLE", sigterm["new_call"]
    assert sigterm["unary"][0] == "OK", sigterm["unary"]
    assert sigterm["stream_s"] <= GRACE_S + 3.0
    assert sigterm["exit_code"] == 0, sigterm["log"][-3000:]
    assert sigterm["exit_s"] <= GRACE_S + 5.0, sigterm["exit_s"]


def test_sigterm_ends_grpc_streams_with_their_frames_end_and_unavailable(sigterm: dict[str, Any]) -> None:
    """An open StreamAnimate, still sending at the end of the grace, gets the frames of the audio it sent, its
    StreamEnd (with a warning), then UNAVAILABLE naming the shutdown: as the WebSocket path does."""
    code, details = sigterm["stream"]
    assert code == "UNAVAILABLE" and "shutting down" in details, sigterm["stream"]
    kinds = [m.WhichOneof("message") for m in sigterm["stream_messages"]]
    assert kinds[0] == "header" and kinds[-1] == "end" and kinds.count("end") == 1, kinds
    frames = [m.frames for m in sigterm["stream_messages"] if m.WhichOneof("message") == "frames"]
    assert frames and all(b.first_frame == a.first_frame + a.frame_count for a, b in itertools.pairwise(frames))
    end = sigterm["stream_messages"][-1].end
    assert end.frame_count == frames[-1].first_frame + frames[-1].frame_count
    assert any("shutting down" in w for w in end.warnings), end.warnings
    assert sigterm["stream_s"] >= GRACE_S - 1.0, "the stream was ended before its grace"


def test_sigterm_ends_websocket_streams_with_a_status(sigterm: dict[str, Any]) -> None:
    status, close_code = sigterm["ws"]
    assert status is not None and status["code"] == "unavailable", sigterm["ws"]
    assert close_code == 1001
    assert "cannot schedule new futures after shutdown" not in sigterm["log"]


# --------------------------------------------------------------------------------- kill -9 (state)

_LINES = ["Good morning, traveller.", "You dare threaten me?", "Thank you, you saved my family!",
          "I have had enough of your lies.", "What a lovely day for a walk.", "Get out of my shop!"]


def _observe_forever(target: str, npc: str, acked: list[es.NpcState], stop: threading.Event) -> None:
    with grpc.insecure_channel(target) as channel:
        state = es_grpc.EmotionStateStub(channel)
        t = 0.0
        while not stop.is_set():
            t += 1.5
            try:
                answer = state.ObserveUtterance(es.ObserveUtteranceRequest(
                    npc_id=npc, speaker=es.SPEAKER_OTHER if int(t) % 2 else es.SPEAKER_SELF,
                    text=_LINES[int(t) % len(_LINES)], game_time_s=t), timeout=10)
            except grpc.RpcError:
                return  # the sidecar is gone
            acked.append(answer.state)


def test_kill9_loses_no_acknowledged_npc_state(tmp_path: Path) -> None:
    npcs = [f"npc_{i}" for i in range(4)]
    acked: dict[str, list[es.NpcState]] = {npc: [] for npc in npcs}
    first = MienProcess(tmp_path, {"server": {"http_port": -1}}, name="sidecar").start().wait_ready()
    try:
        with grpc.insecure_channel(first.target) as channel:
            for i, npc in enumerate(npcs):
                es_grpc.EmotionStateStub(channel).SetPersona(es.SetPersonaRequest(
                    npc_id=npc, preset=["stoic_guard", "anxious_merchant", "average", "timid_villager"][i]))
        stop = threading.Event()
        workers = [threading.Thread(target=_observe_forever, args=(first.target, npc, acked[npc], stop))
                   for npc in npcs]
        for w in workers:
            w.start()
        assert wait_until(lambda: all(len(a) >= 5 for a in acked.values()), 60), {k: len(v) for k, v in acked.items()}
        time.sleep(0.3)
        first.kill9()  # mid-stream of updates
        stop.set()
        for w in workers:
            w.join(15)
    finally:
        first.stop()
    db = Path(first.config["state"]["db_path"])
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with MienProcess(tmp_path, {"server": {"http_port": -1}}, name="sidecar") as second, \
            grpc.insecure_channel(second.target) as channel:
        state = es_grpc.EmotionStateStub(channel)
        report = {}
        for npc in npcs:
            last = acked[npc][-1]
            now = state.GetState(es.GetStateRequest(npc_id=npc), timeout=10)
            report[npc] = (len(acked[npc]), last.revision, now.revision)
            assert last.revision <= now.revision <= last.revision + 1, report[npc]  # + the one in flight at the kill
            if now.revision == last.revision:
                assert now == last, (npc, now, last)
    print(f"kill -9: acknowledged updates / last acknowledged revision / revision after restart: {report}")


# ---------------------------------------------------------------------------------- kill -9 (bake)


def _bake_cli_available() -> bool:
    from .test_bad_input_matrix import bake_cli_available

    return bake_cli_available()


def _complete(path: Path) -> str | None:
    """None if the output file is whole, else what is wrong."""
    data = path.read_bytes()
    if path.suffix == ".json":
        try:
            json.loads(data)
        except ValueError as error:
            return f"not whole JSON: {error}"
    elif path.suffix == ".csv":
        rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
        if not rows or not data.endswith(b"\n") or len({len(r) for r in rows}) != 1:
            return "ragged or unterminated CSV"
    elif path.suffix == ".glb":
        if len(data) < 12 or data[:4] != b"glTF" or struct.unpack("<I", data[8:12])[0] != len(data):
            return "GLB length does not match its header"
    return None


def test_kill9_of_a_bake_loses_no_finished_line_and_leaves_no_partial_file(tmp_path: Path) -> None:
    if not _bake_cli_available():
        pytest.skip("bake not available (`mien bake` is not a subcommand yet)")
    project = tmp_path / "project"
    (project / "audio").mkdir(parents=True)
    names = ["goforward", "cards_001", "cards_002", "cards_003", "cards_004", "cards_005", "librivox_0880",
             "librivox_0930"]
    lines = []
    for i, name in enumerate(names):
        (project / "audio" / f"{name}.wav").write_bytes(speech_bytes(name))
        lines.append(f"  - {{id: line_{i:02d}, character: guard, audio: audio/{name}.wav}}")
    manifest = project / "manifest.yaml"
    manifest.write_text("version: 1\ndefaults: {formats: [glb, csv, json]}\ncharacters:\n  guard: {rig: arkit52}\n"
                        "lines:\n" + "\n".join(lines) + "\n")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "mien", "bake", str(manifest), "-o", str(out), "--progress", "json"]
    bake = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=REPO)
    done: list[str] = []
    assert bake.stderr is not None
    try:
        for row in bake.stderr:
            try:
                event = json.loads(row)
            except ValueError:
                continue
            if event.get("event") == "line" and event.get("status") == "done":
                done.append(event["id"])
                if len(done) >= 2:
                    bake.kill()  # SIGKILL, mid-bake
                    break
    finally:
        if bake.poll() is None:
            bake.kill()
        bake.wait(30)
    assert len(done) >= 2, "the bake finished too few lines before the kill"
    outputs = [p for p in out.rglob("*") if p.is_file() and ".mien-bake" not in p.parts]
    broken = {str(p.relative_to(out)): why for p in outputs if (why := _complete(p))}
    assert not broken, broken
    for line_id in done:
        assert any(p.name.startswith(line_id) for p in outputs), f"finished line {line_id} lost"
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=REPO)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    events = [json.loads(r) for r in rerun.stderr.splitlines() if r.startswith("{")]
    status = {e["id"]: e["status"] for e in events if e.get("event") == "line"}
    assert all(status[line_id] == "skipped" for line_id in done), status  # finished lines are kept
    assert not [p for p in (out / ".mien-bake" / "tmp").glob("*")], "temporary files left behind"
