"""Scale-out: two sidecar replicas behind nginx (`grpc_pass`, consistent hash on the NPC id) on loopback
serve one client pool (docs/scaling.md; the config is scripts/nginx_grpc.conf.template).

Each replica has its own state database and no NPC is created in advance on both: an EmotionState call
routed to the wrong replica would get NOT_FOUND, so "every call succeeded" proves the NPC ids stick.
Both replicas must have served traffic: each owns some NPCs (asked directly, bypassing the proxy) and
both logged some of the pool's AnimateLine calls (by request id). Skipped only if nginx is not installed
(`make test` installs it).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from scripts.render_nginx_conf import prepare, render

from mien.v1 import common_pb2 as pb
from mien.v1 import emotion_state_pb2 as es
from mien.v1 import emotion_state_pb2_grpc as es_grpc
from mien.v1 import face_animation_pb2 as fa
from mien.v1 import face_animation_pb2_grpc as fa_grpc

from .harness import FACE, MienProcess, free_ports, speech_bytes, speech_pcm16

NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).is_file()),
                                      None)
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx)")

NPCS = [f"villager_{i:02d}" for i in range(16)]
PRESETS = ["stoic_guard", "anxious_merchant", "average", "timid_villager", "cheerful_innkeeper"]
LINES = ["Good morning!", "You again? Get out.", "Thank you, friend.", "The harvest failed this year."]


class Proxy:
    def __init__(self, prefix: Path, grpc_port: int, http_port: int, proc: subprocess.Popen[bytes]) -> None:
        self.prefix, self.grpc_port, self.http_port, self.proc = prefix, grpc_port, http_port, proc

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def access_log(self) -> str:
        path = self.prefix / "access.log"
        return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture(scope="module")
def replicas(toy_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[MienProcess]]:
    root = tmp_path_factory.mktemp("replicas")
    config = {"neural": {"model": str(toy_model)}}
    procs = [MienProcess(root / name, config, name=name) for name in ("replica_a", "replica_b")]
    for p in procs:  # start both, then wait: they load in parallel
        p.start()
    try:
        for p in procs:
            p.wait_ready()
        yield procs
    finally:
        for p in procs:
            p.stop()


@pytest.fixture(scope="module")
def proxy(replicas: list[MienProcess], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    assert NGINX is not None
    prefix = tmp_path_factory.mktemp("nginx")
    grpc_port, http_port = free_ports(2)
    text = render(prefix=prefix, listen=f"127.0.0.1:{grpc_port}", replicas=[r.target for r in replicas],
                  http_listen=f"127.0.0.1:{http_port}",
                  http_replicas=[f"127.0.0.1:{r.http_port}" for r in replicas],
                  user="root" if os.geteuid() == 0 else None, worker_processes="1")
    prepare(prefix)
    conf = prefix / "nginx.conf"
    conf.write_text(text)
    base = [NGINX, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
    check = subprocess.run([*base, "-t"], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen(base, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert proc.poll() is None, (prefix / "error.log").read_text(errors="replace")
            try:
                with socket.create_connection(("127.0.0.1", grpc_port), timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        yield Proxy(prefix, grpc_port, http_port, proc)
    finally:
        proc.terminate()  # SIGTERM: nginx's fast shutdown
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(15)


def _npc(npc: str) -> tuple[tuple[str, str], ...]:
    return (("x-mien-npc", npc),)


def _npc_conversation(target: str, npc: str, index: int) -> list[str]:
    """Create the NPC, talk to it, animate a line with its emotion: every call with its x-mien-npc header."""
    with grpc.insecure_channel(target) as channel:
        state = es_grpc.EmotionStateStub(channel)
        face = fa_grpc.FaceAnimationStub(channel)
        done = [state.SetPersona(es.SetPersonaRequest(npc_id=npc, preset=PRESETS[index % len(PRESETS)]),
                                 metadata=_npc(npc), timeout=60).npc_id]
        for turn in range(3):
            answer = state.ObserveUtterance(es.ObserveUtteranceRequest(
                npc_id=npc, speaker=es.SPEAKER_OTHER, text=LINES[(index + turn) % len(LINES)],
                game_time_s=10.0 * (turn + 1)), metadata=_npc(npc), timeout=60)
            done.append(answer.category)
        track = face.AnimateLine(fa.AnimateLineRequest(idle_duration_s=0.5, npc_id=npc, request_id=f"npc-{npc}",
                                                       emotion=pb.EmotionSpec(auto=pb.AutoEmotion())),
                                 metadata=_npc(npc), timeout=60)
        assert track.frame_count > 0
        assert state.GetState(es.GetStateRequest(npc_id=npc), metadata=_npc(npc), timeout=60).revision == 3
    return done


def _animate(target: str, i: int, wav: bytes) -> str:
    with grpc.insecure_channel(target) as channel:
        track = fa_grpc.FaceAnimationStub(channel).AnimateLine(
            fa.AnimateLineRequest(audio=pb.AudioInput(file=wav), transcript="go forward ten meters",
                                  request_id=f"pool-{i:03d}"), timeout=120)
    assert track.frame_count > 0 and track.metadata.request_id == f"pool-{i:03d}"
    return track.metadata.request_id


def _stream(target: str) -> int:
    pcm = speech_pcm16("cards_001")
    messages = [fa.StreamAnimateRequest(header=fa.StreamHeader(sample_rate_hz=16000))]
    messages += [fa.StreamAnimateRequest(audio=fa.AudioChunk(data=pcm[i:i + 1280])) for i in range(0, len(pcm), 1280)]
    messages.append(fa.StreamAnimateRequest(end=fa.EndOfAudio()))
    with grpc.insecure_channel(target) as channel:
        responses = list(fa_grpc.FaceAnimationStub(channel).StreamAnimate(iter(messages), timeout=60))
    assert responses[0].WhichOneof("message") == "header" and responses[-1].WhichOneof("message") == "end"
    return responses[-1].end.frame_count


def test_two_replicas_behind_nginx_serve_one_client_pool(replicas: list[MienProcess], proxy: Proxy) -> None:
    wav = speech_bytes("goforward")
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        conversations = [pool.submit(_npc_conversation, proxy.target, npc, i) for i, npc in enumerate(NPCS)]
        lines = [pool.submit(_animate, proxy.target, i, wav) for i in range(24)]
        streams = [pool.submit(_stream, proxy.target) for _ in range(4)]
        results = [f.result() for f in conversations + lines + streams]  # raises if any call failed
    elapsed = time.monotonic() - started
    assert len(results) == len(NPCS) + 24 + 4

    # Each NPC lives on exactly one replica (asked directly, not through the proxy), and both own some.
    owners: dict[str, list[str]] = {r.name: [] for r in replicas}
    for npc in NPCS:
        holders = []
        for replica in replicas:
            with grpc.insecure_channel(replica.target) as channel:
                try:
                    es_grpc.EmotionStateStub(channel).GetState(es.GetStateRequest(npc_id=npc), timeout=30)
                    holders.append(replica.name)
                except grpc.RpcError as error:
                    assert error.code() == grpc.StatusCode.NOT_FOUND, error
        assert len(holders) == 1, (npc, holders)
        owners[holders[0]].append(npc)
    assert all(owners.values()), owners

    # The pool's stateless lines were spread over both replicas (each logs one line per request, with its id).
    served = {r.name: len(re.findall(r"AnimateLine id=pool-\d+ ", r.log_text())) for r in replicas}
    assert sum(served.values()) == 24 and all(served.values()), served
    log = proxy.access_log()
    assert log.count("/mien.v1.EmotionState/ObserveUtterance") == 3 * len(NPCS), log[-2000:]
    print(f"scale-out: {len(results)} client calls through nginx in {elapsed:.1f} s; NPCs per replica "
          f"{ {k: len(v) for k, v in owners.items()} }; pool lines per replica {served}")


def test_http_gateway_through_the_proxy(replicas: list[MienProcess], proxy: Proxy) -> None:
    """The HTTP/JSON gateway behind the same proxy: stateless calls anywhere, NPC calls sticky."""
    base = f"http://127.0.0.1:{proxy.http_port}"

    def post(path: str, body: dict[str, object], npc: str | None = None) -> tuple[int, dict[str, object]]:
        headers = {"Content-Type": "application/json", **({"X-Mien-Npc": npc} if npc else {})}
        request = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=60) as reply:
                return reply.status, json.loads(reply.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    wav = base64.b64encode(speech_bytes("cards_001")).decode()
    for _ in range(4):
        status, body = post(f"/{FACE}/AnimateLine", {"audio": {"file": wav}, "transcript": "five of hearts"})
        assert status == 200 and body["frameCount"], body
    npc = "http_npc"
    assert post("/mien.v1.EmotionState/SetPersona", {"npcId": npc, "preset": "average"}, npc)[0] == 200
    for _ in range(3):
        status, body = post("/mien.v1.EmotionState/ObserveUtterance",
                            {"npcId": npc, "speaker": "SPEAKER_OTHER", "text": "Hello there"}, npc)
        assert status == 200, body
