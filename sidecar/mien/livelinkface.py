"""Live Link Face: the take CSV and the UDP stream of Epic's Live Link Face app, from Mien tracks.

**CSV** (what the app writes for each take; ``mien animate --format livelinkface``, the bake's
``livelinkface`` format). The columns are exactly those of a real take, for instance the header of
``MySlate_3_Jason_Millers_iPhone.csv`` (JMTechArt/Pipeline-Examples, Blender/Blender Example Files)::

    Timecode,BlendShapeCount,EyeBlinkLeft,EyeLookDownLeft,...,EyeWideRight,JawForward,JawRight,JawLeft,
    JawOpen,MouthClose,MouthFunnel,MouthPucker,MouthRight,MouthLeft,MouthSmileLeft,...,TongueOut,
    HeadYaw,HeadPitch,HeadRoll,LeftEyeYaw,LeftEyePitch,LeftEyeRoll,RightEyeYaw,RightEyePitch,RightEyeRoll

(:data:`CSV_COLUMNS` holds all 63; note the app's order JawRight before JawLeft and MouthRight before
MouthLeft), rows like ``00:32:09:07.867,61,0.0491091609,...``: the timecode ``HH:MM:SS:FF.fff``
(frame within the second at the take's rate, with its fraction), the count 61, then the values with
10 decimals. Blendshapes are ARKit's 0..1 weights; the nine rotations are in the app's units,
degrees / 180 (Unreal's Apple ARKit face support maps -180..180 to -1..1: ``ToBlendShapeMap`` in
AppleARKitFaceSupport/AppleARKitConversion.h). Mien's signs are kept (yaw > 0 toward the
character's left, pitch > 0 up, roll > 0 toward the character's left); eye roll is 0.

**UDP** (what the app sends to Unreal's Live Link, packet version 6, as read by the Apple ARKit Face
Support plugin's ``FAppleARKitLiveLinkRemoteListener`` and by open tools such as JimWest/PyLiveLinkFace).
All numbers big-endian (Unreal's ``FNboSerializeToBuffer``, network byte order)::

    uint8   version = 6
    int32   device id length, then its UTF-8 bytes (no terminator)
    int32   subject name length, then its UTF-8 bytes
    int32   frame number     } FQualifiedFrameTime: FFrameTime
    float32 sub-frame        }
    int32   rate numerator   }                      FFrameRate
    int32   rate denominator }
    uint8   blendshape count = 61
    61 x float32: the values in EARFaceBlendShape order (:data:`PACKET_ORDER`: ARKit's order, JawLeft
            before JawRight), rotations in the same units as the CSV

A :class:`LiveLinkFaceSender` sends one packet per frame; it is off unless a target is given, and a
target that is not a loopback address is refused unless the configuration allows remote targets.
"""

from __future__ import annotations

import io
import ipaddress
import math
import socket
import struct
import uuid
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from .channels import ARKIT52, CHANNELS
from .errors import InvalidArgument
from .track import Track

__all__ = [
    "BLENDSHAPE_COUNT",
    "CSV_COLUMNS",
    "PACKET_ORDER",
    "PACKET_VERSION",
    "LiveLinkFaceSender",
    "encode_packet",
    "frame_rate",
    "livelink_values",
    "parse_target",
    "read_csv",
    "timecode",
    "to_csv",
]

PACKET_VERSION = 6
BLENDSHAPE_COUNT = 61
ROTATIONS = ("HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll",
             "RightEyeYaw", "RightEyePitch", "RightEyeRoll")
_ROTATION_SOURCE = {"HeadYaw": "headYaw_deg", "HeadPitch": "headPitch_deg", "HeadRoll": "headRoll_deg",
                    "LeftEyeYaw": "eyeYawLeft_deg", "LeftEyePitch": "eyePitchLeft_deg",
                    "RightEyeYaw": "eyeYawRight_deg", "RightEyePitch": "eyePitchRight_deg"}
_DEG_PER_UNIT = 180.0

PACKET_ORDER: tuple[str, ...] = tuple(n[0].upper() + n[1:] for n in ARKIT52) + ROTATIONS
"""The 61 values of a packet, in Unreal's EARFaceBlendShape order (ARKit's 52, then the rotations)."""

_CSV_VALUES = list(PACKET_ORDER)
for _a, _b in (("JawLeft", "JawRight"), ("MouthLeft", "MouthRight")):  # the app writes these two pairs swapped
    _i, _j = _CSV_VALUES.index(_a), _CSV_VALUES.index(_b)
    _CSV_VALUES[_i], _CSV_VALUES[_j] = _CSV_VALUES[_j], _CSV_VALUES[_i]
CSV_COLUMNS: tuple[str, ...] = ("Timecode", "BlendShapeCount", *_CSV_VALUES)
"""The 63 columns of a Live Link Face take, in the app's order."""
_CSV_INDEX = [PACKET_ORDER.index(n) for n in CSV_COLUMNS[2:]]


def livelink_values(values: np.ndarray, channel_names: Sequence[str] = CHANNELS) -> np.ndarray:
    """(frames, 61) float64 in :data:`PACKET_ORDER` from curves on the internal channel names (the arkit52 rig)."""
    index = {n: i for i, n in enumerate(channel_names)}
    missing = [n for n in (*ARKIT52, *_ROTATION_SOURCE.values()) if n not in index]
    if missing:
        raise InvalidArgument(
            f"Live Link Face needs the 52 ARKit blendshapes and the eye/head rotations; this track lacks "
            f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}. Animate with rig arkit52",
            field="format")
    arr = np.asarray(values, dtype=np.float64)
    out = np.zeros((arr.shape[0], BLENDSHAPE_COUNT))
    for k, name in enumerate(ARKIT52):
        out[:, k] = arr[:, index[name]]
    for k, name in enumerate(ROTATIONS, start=len(ARKIT52)):
        if name in _ROTATION_SOURCE:
            out[:, k] = arr[:, index[_ROTATION_SOURCE[name]]] / _DEG_PER_UNIT
    return out


def frame_rate(fps: float) -> Fraction:
    """The timecode rate of ``fps`` as a fraction (60 -> 60/1, 29.97 -> 30000/1001)."""
    return Fraction(fps).limit_denominator(1001)


def timecode(frame: int, fps: float) -> str:
    """``HH:MM:SS:FF.fff`` of frame ``frame`` (at ``frame / fps`` s), as the app writes it."""
    t = frame / fps
    seconds = math.floor(t + 1e-9)
    within = (t - seconds) * fps
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h:02d}:{m:02d}:{s:02d}:{within:06.3f}"


def _parse_timecode(text: str, fps: float, row: int) -> float:
    try:
        h, m, s, f = text.split(":")
        return int(h) * 3600 + int(m) * 60 + int(s) + float(f) / fps
    except ValueError:
        raise InvalidArgument(f"Live Link Face CSV row {row}: timecode {text!r} is not HH:MM:SS:FF.fff",
                              field="csv") from None


def to_csv(track: Track) -> str:
    """The track as a Live Link Face take CSV (the track must carry the internal channel names: rig arkit52)."""
    values = livelink_values(track.values, track.channel_names)[:, _CSV_INDEX]
    out = io.StringIO()
    out.write(",".join(CSV_COLUMNS) + "\n")
    for i, row in enumerate(values):
        out.write(f"{timecode(i, track.fps)},{BLENDSHAPE_COUNT},")
        out.write(",".join(f"{v:.10f}" for v in row))
        out.write("\n")
    return out.getvalue()


def read_csv(text: str, fps: float) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A Live Link Face CSV back into (times in s, {column: values}); rotations stay in the app's units."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines or tuple(c.strip() for c in lines[0].split(",")) != CSV_COLUMNS:
        raise InvalidArgument("not a Live Link Face CSV: the header differs from the app's 63 columns "
                              "(Timecode,BlendShapeCount,EyeBlinkLeft,...)", field="csv")
    rows = [ln.split(",") for ln in lines[1:]]
    times = np.array([_parse_timecode(r[0], fps, i + 1) for i, r in enumerate(rows)])
    table = np.array([[float(v) for v in r[1:]] for r in rows]).reshape(len(rows), len(CSV_COLUMNS) - 1)
    return times, {name: table[:, k] for k, name in enumerate(CSV_COLUMNS[1:])}


# ------------------------------------------------------------------------------------------- UDP
def _fstring(text: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack(">i", len(data)) + data


def encode_packet(values: np.ndarray, frame_number: int, rate: Fraction, *, device_id: str, subject: str,
                  sub_frame: float = 0.0) -> bytes:
    """One Live Link Face packet (version 6) of 61 values in :data:`PACKET_ORDER`."""
    return (struct.pack(">B", PACKET_VERSION) + _fstring(device_id) + _fstring(subject)
            + struct.pack(">if", frame_number, sub_frame)
            + struct.pack(">ii", rate.numerator, rate.denominator)
            + struct.pack(">B", BLENDSHAPE_COUNT)
            + struct.pack(f">{BLENDSHAPE_COUNT}f", *(float(v) for v in values)))


def parse_target(target: str, *, allow_remote: bool, field: str = "live_link_target") -> tuple[str, int]:
    """``HOST:PORT`` (IPv4 or [IPv6]) -> (host, port); a non-loopback host needs ``allow_remote``."""
    host, sep, port_text = target.strip().rpartition(":")
    host = host.strip("[]")
    try:
        port = int(port_text)
        address = ipaddress.ip_address(host)
    except ValueError:
        raise InvalidArgument(f"{field} = {target!r}; accepted: HOST:PORT with a numeric IP address, "
                              "e.g. 127.0.0.1:11111 (Live Link Face's default port)", field=field) from None
    if not sep or not 1 <= port <= 65535:
        raise InvalidArgument(f"{field} = {target!r}: the port must be 1 to 65535", field=field)
    if not address.is_loopback and not allow_remote:
        raise InvalidArgument(f"{field} = {target!r} is not a loopback address; sending face data to another "
                              "machine needs live_link.allow_remote: true in the sidecar config", field=field)
    return str(address), port


class LiveLinkFaceSender:
    """Sends frames over UDP as the Live Link Face app does: one packet per frame, frame numbers at the
    track's rate from ``first_frame_number`` (so the timecode starts at 00:00:00:00 by default).

    Send errors (nobody listening, network down) never stop the animation: they are counted in
    :attr:`errors` and the first one is kept in :attr:`last_error`.
    """

    def __init__(self, host: str, port: int, fps: float, *, subject: str = "Mien", device_id: str = "",
                 first_frame_number: int = 0) -> None:
        self.address = (host, port)
        self.rate = frame_rate(fps)
        self.fps = fps
        self.subject = subject
        self.device_id = device_id or str(uuid.uuid4())
        self.first_frame_number = first_frame_number
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_DGRAM)
        self._socket.setblocking(False)
        self.sent = 0
        self.errors = 0
        self.last_error = ""

    def send(self, values: np.ndarray, first_frame: int, channel_names: Sequence[str] = CHANNELS) -> None:
        """Send frames first_frame .. (values: frames x channels on the internal channel names)."""
        rows = livelink_values(values, channel_names)
        for i, row in enumerate(rows):
            # the frame number at the timecode rate (equal to the frame index when fps is a whole number)
            number = self.first_frame_number + round((first_frame + i) / self.fps * float(self.rate))
            packet = encode_packet(row, number, self.rate, device_id=self.device_id, subject=self.subject)
            try:
                self._socket.sendto(packet, self.address)
                self.sent += 1
            except OSError as exc:  # a datagram that cannot go out is dropped, like the app's
                self.errors += 1
                self.last_error = str(exc)

    def close(self) -> None:
        self._socket.close()

