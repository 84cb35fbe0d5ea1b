"""Plain helpers of the hardening tests (fixtures live in conftest.py).

* :class:`MienProcess`: ``mien serve`` as a subprocess on free ports, with its own config file, state
  database and log file; ready when its gRPC health check says SERVING.
* media builders: WAV headers with any (wrong) field, FLAC with a forged length, PCM of the speech fixtures.
* small gRPC helpers: raw (bytes in, bytes out) callables to send what the generated stubs cannot
  (invalid UTF-8, broken protobuf).
"""

from __future__ import annotations

import io
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import soundfile as sf
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

REPO = Path(__file__).resolve().parents[2]
SPEECH = REPO / "tests" / "fixtures" / "speech"
FACE = "mien.v1.FaceAnimation"
EMOTION = "mien.v1.EmotionState"


# --------------------------------------------------------------------------------------------- ports


def free_ports(count: int = 1, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct ports free right now (all sockets held until every port is chosen)."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port(host: str = "127.0.0.1") -> int:
    return free_ports(1, host)[0]


# ------------------------------------------------------------------------------------------- configs


def merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge of two config mappings (``extra`` wins)."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


# ---------------------------------------------------------------------------------------- processes


class MienProcess:
    """``python -m mien serve --config <tmp>/mien.yaml`` on free ports; a context manager.

    ``config`` is merged over: loopback, free gRPC and HTTP ports, a state database in ``workdir``,
    INFO logs (one line per request) into ``workdir/<name>.log``.
    """

    def __init__(self, workdir: Path, config: Mapping[str, Any] | None = None, *, name: str = "mien",
                 http: bool = True) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.name = name
        grpc_port, http_port = free_ports(2)
        base: dict[str, Any] = {
            "server": {"host": "127.0.0.1", "port": grpc_port, "http_port": http_port if http else -1,
                       "log_level": "INFO"},
            "state": {"db_path": str(self.workdir / f"{name}.sqlite3")},
        }
        self.config = merge(base, config or {})
        self.config_path = self.workdir / f"{name}.yaml"
        self.log_path = self.workdir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_file: Any = None

    # addresses
    @property
    def grpc_port(self) -> int:
        return int(self.config["server"]["port"])

    @property
    def http_port(self) -> int:
        return int(self.config["server"]["http_port"])

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    # lifecycle
    def start(self) -> MienProcess:
        self.config_path.write_text(yaml.safe_dump(self.config), encoding="utf-8")
        self._log_file = self.log_path.open("ab")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mien", "serve", "--config", str(self.config_path)],
            stdout=self._log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=self.workdir,
        )
        return self

    def wait_ready(self, timeout_s: float = 120.0) -> MienProcess:
        """Until the gRPC health check answers SERVING (raises with the log tail if the process dies)."""
        deadline = time.monotonic() + timeout_s
        with grpc.insecure_channel(self.target) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                if self.proc is None or self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.returncode} before serving:\n{self.log_tail()}")
                try:
                    answer = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
                    if answer.status == health_pb2.HealthCheckResponse.SERVING:
                        return self
                except grpc.RpcError:
                    pass
                time.sleep(0.2)
        raise TimeoutError(f"{self.name} not serving after {timeout_s:.0f} s:\n{self.log_tail()}")

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def wait(self, timeout_s: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout_s)

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time (idempotent)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> MienProcess:
        return self.start().wait_ready()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # observation
    def rss_bytes(self) -> int:
        return rss_bytes(self.pid)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


def mien_command() -> list[str]:
    """The installed console script of *this* interpreter's environment (not whatever `mien` is on PATH)."""
    script = Path(sys.executable).with_name("mien")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "mien"]


def rss_bytes(pid: int) -> int:
    """Resident set size of a process (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


# --------------------------------------------------------------------------------------------- media


def speech_bytes(name: str = "goforward") -> bytes:
    return (SPEECH / f"{name}.wav").read_bytes()


def speech_pcm16(name: str = "goforward") -> bytes:
    """The fixture's 16 kHz mono samples as s16le bytes (the fixtures are 16 kHz mono PCM_16)."""
    data, rate = sf.read(SPEECH / f"{name}.wav", dtype="int16", always_2d=True)
    assert rate == 16000 and data.shape[1] == 1
    return data[:, 0].astype("<i2").tobytes()


def encode(samples: np.ndarray, rate: int = 16000, *, fmt: str = "WAV", subtype: str | None = None) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def tone(seconds: float = 0.2, rate: int = 16000, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    x = 0.3 * np.sin(2 * np.pi * 220 * t)
    return np.repeat(x[:, None], channels, axis=1) if channels > 1 else x


def wav(*, channels: int = 1, rate: int = 16000, bits: int = 16, fmt_tag: int = 1, data: bytes | None = None,
        data_size: int | None = None, riff_size: int | None = None, byte_rate: int | None = None,
        block_align: int | None = None) -> bytes:
    """A canonical 44-byte-header WAV whose every header field can be forged."""
    if data is None:
        data = (tone() * 32767).astype("<i2").tobytes()
    align = block_align if block_align is not None else (channels * bits // 8) & 0xFFFF
    rate_bytes = byte_rate if byte_rate is not None else (rate * align) & 0xFFFFFFFF
    fmt_chunk = struct.pack("<HHIIHH", fmt_tag, channels, rate & 0xFFFFFFFF, rate_bytes, align, bits)
    size = len(data) if data_size is None else data_size
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt_chunk + b"data" + struct.pack("<I", size) + data
    return b"RIFF" + struct.pack("<I", len(body) if riff_size is None else riff_size) + body


def flac_declaring(total_samples: int, seconds: float = 0.1) -> bytes:
    """A short FLAC whose STREAMINFO claims ``total_samples`` (36-bit field)."""
    data = bytearray(encode(tone(seconds), fmt="FLAC"))
    assert data[:4] == b"fLaC"
    info = 8  # 'fLaC' + the metadata block header; STREAMINFO's bytes 10..17 end with the 36-bit total
    packed = int.from_bytes(data[info + 10:info + 18], "big")
    mask = (1 << 36) - 1
    packed = (packed & ~mask) | (total_samples & mask)
    data[info + 10:info + 18] = packed.to_bytes(8, "big")
    return bytes(data)


# ---------------------------------------------------------------------------------------------- gRPC


def raw_unary(channel: grpc.Channel, method: str) -> grpc.UnaryUnaryMultiCallable:
    """Bytes in, bytes out: sends exactly the serialized request it is given."""
    return channel.unary_unary(method, request_serializer=lambda b: b, response_deserializer=lambda b: b)


def raw_stream(channel: grpc.Channel, method: str) -> grpc.StreamStreamMultiCallable:
    return channel.stream_stream(method, request_serializer=lambda b: b, response_deserializer=lambda b: b)


def field_bytes(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (wire type 2): how a string/bytes/message field is encoded."""
    key = (number << 3) | 2
    return _varint(key) + _varint(len(payload)) + payload


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def wait_until(predicate: Any, timeout_s: float, interval_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return bool(predicate())
