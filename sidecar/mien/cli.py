"""The `mien` command: animate files in-process, serve the sidecar, bake, live.

    mien animate AUDIO... [--text T | --text-file F | --transcripts auto] [--no-text] [--emotion E]
                 [--fps 60] [--seed N] [--rig R] [--mode M] [--format csv|json|livelinkface] [--plot P.png] -o OUT
    mien serve [--host 127.0.0.1] [--port 50051] [--http-port 8080] [--config mien.yaml]
    mien bake MANIFEST.yaml -o OUT_DIR [...]
    mien live [--input FILE] [--device D] [--emotion E] [--seconds S] [--live-link HOST:PORT]

``mien animate`` is the sidecar's engine in this process: the same bundled models (the neural model
is loaded only when a line needs it) and the same choice of mode (``auto``: aligned with a
transcript, else neural when the model is there, else recognized).

Files it writes (``-o``, ``--plot``) replace only a regular file or nothing: a folder takes the
outputs inside it, and devices, pipes and sockets are refused. Everything about the outputs
(their kinds, names colliding between inputs, an output that is an input) is checked before any
input is animated; each file is written to a hidden temporary file beside it and renamed into
place, and the temporary file never outlives a failure. ``-`` reads the audio from stdin
(``AUDIO``) or writes the track to stdout (``-o -``).

Exit codes: 0 success, 1 some inputs failed (the others were written), 2 usage or config errors,
130 interrupted.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import socket
import stat
import sys
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from loguru import logger

from .audio import Audio, decode_audio
from .config import Config, load_config, with_settings
from .emotion import EMOTIONS, Emotion, EmotionKeyframe, parse_emotion
from .errors import FailedPrecondition, InvalidArgument, MienError
from .files import file_kind, read_limited, replace_file, safe_text, stat_or_none
from .pipeline import Animator
from .request import MODES, EncodedAudio, LineRequest
from .rig import INTERNAL_RIG, RigProfile, load_rig, shipped_rig_names
from .track import Track

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
FORMATS = ("csv", "json", "livelinkface")
_SUFFIX = {"csv": "csv", "json": "json", "livelinkface": "csv"}  # a Live Link Face take is a .csv
PLOT_FORMATS = ("png", "svg", "pdf")
STDIO = "-"
"""As AUDIO: read the audio from stdin; as ``-o``: write the track to stdout."""
_STDIN_NAME = "stdin"
_REQUEST_ID_CHARS = 128


def _not_regular(flag: str, path: Path, st: os.stat_result) -> InvalidArgument:
    return InvalidArgument(f"{flag} {path}: it is {file_kind(st)}, and only a regular file (or nothing) is ever "
                           "replaced; give a file name, a folder, or - for stdout", field=flag.lstrip("-"))


# --------------------------------------------------------------------------------------------
# mien animate: the plan (every usage check before any work), then one line per input
# --------------------------------------------------------------------------------------------


@dataclass
class _Input:
    label: str
    """As given on the command line (``-`` for stdin)."""
    path: Path | None
    """None for stdin."""
    name: str
    """Output file stem (``stdin`` for ``-``)."""
    transcript: str | None = None
    error: str = ""
    """Why this input fails before it is animated (its transcript file is unreadable)."""
    out: Path | None = None
    """Where its track goes (None = stdout)."""


def _regular(path: Path, flag: str, hint: str) -> None:
    """Refuse a folder, pipe or device before opening it (a pipe without a writer would block forever)."""
    st = stat_or_none(path)
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise InvalidArgument(f"{flag}it is {file_kind(st)}, not a file; {hint}", field="audio")


def _read_transcript(path: Path, flag: str) -> str:
    _regular(path, f"{flag} {path}: ", "give a UTF-8 text file")
    try:
        with path.open("rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise InvalidArgument(f"{flag} {path}: cannot read it: {exc.strerror}", field="transcript") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidArgument(f"transcript file {path} is not UTF-8 text (byte {error.start}); save it as UTF-8",
                              field="transcript") from None


def _beside_transcript(path: Path | None) -> Path | None:
    """X.txt beside X.wav (None for stdin and for paths without a file name)."""
    try:
        return path.with_suffix(".txt") if path is not None else None
    except ValueError:  # "/", ".", ".." ...
        return None


def _inputs(args: argparse.Namespace) -> list[_Input]:
    inputs: list[_Input] = []
    for label in args.audio:
        if label == STDIO:
            if any(i.path is None for i in inputs):
                raise InvalidArgument("- (stdin) is given twice; stdin holds one audio file", field="audio")
            inputs.append(_Input(label, None, _STDIN_NAME))
        else:
            path = Path(label)
            inputs.append(_Input(label, path, path.stem or path.name or "audio"))
    if len(inputs) > 1 and (args.text is not None or args.text_file is not None):
        raise InvalidArgument("--text/--text-file apply to one input; with several inputs use --transcripts auto "
                              "(X.txt beside X.wav)", field="text")
    if args.no_text:
        return inputs
    if args.text is not None:
        inputs[0].transcript = str(args.text)
    elif args.text_file is not None:
        inputs[0].transcript = _read_transcript(Path(args.text_file), "--text-file")
    elif args.transcripts == "auto":
        for item in inputs:
            beside = _beside_transcript(item.path)
            if beside is None:
                logger.warning("{}: no transcript file for it; animating without transcript", item.label)
            elif beside.is_file():
                try:
                    item.transcript = _read_transcript(beside, "transcript")
                except InvalidArgument as error:
                    item.error = str(error)
            else:
                logger.warning("{}: no {} beside it; animating without transcript", item.label, beside.name)
    return inputs


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _folder_target(flag: str, given: str, several: bool) -> Path | None:
    """The folder that takes the outputs, or None when ``given`` names a file."""
    path = Path(given)
    st = stat_or_none(path)
    if st is not None and stat.S_ISDIR(st.st_mode):
        return path
    if several or given.endswith(("/", os.sep)):
        if st is not None:
            need = "several inputs need" if several else "a path ending in / names"
            raise InvalidArgument(f"{flag} {given}: {need} a folder, and this is {file_kind(st)}",
                                  field=flag.lstrip("-"))
        return path
    return None


def _plan_outputs(args: argparse.Namespace, inputs: list[_Input]) -> tuple[str, Path | None]:
    """Set each input's output path; returns the track format and the plot's path. Raises on any problem."""
    several = len(inputs) > 1
    if not args.output:
        raise InvalidArgument("-o is empty; give an output file, a folder, or - for stdout", field="output")
    if args.output == STDIO:
        if several:
            raise InvalidArgument("-o - (stdout) takes one input; with several inputs give a folder", field="output")
        fmt = args.format or "csv"
    else:
        folder = _folder_target("-o", args.output, several)
        if folder is not None:
            fmt = args.format or "csv"
            seen: dict[str, tuple[str, Path]] = {}
            for item in inputs:
                item.out = folder / f"{item.name}.{_SUFFIX[fmt]}"
                key = unicodedata.normalize("NFC", item.out.name).casefold()  # case-insensitive file systems
                if key in seen:
                    label, first = seen[key]
                    raise InvalidArgument(
                        f"{label} and {item.label} would both be written to {first} (output files are named after "
                        "the input files, ignoring case); nothing was written: animate them into separate folders, "
                        "or rename one", field="output")
                seen[key] = (item.label, item.out)
        else:
            out = Path(args.output)
            fmt = args.format or out.suffix.lstrip(".").lower() or "csv"
            inputs[0].out = out
    plot: Path | None = None
    if args.plot:
        if several:
            raise InvalidArgument("--plot takes one input", field="plot")
        plot_folder = _folder_target("--plot", args.plot, False)
        plot = plot_folder / f"{inputs[0].name}.png" if plot_folder is not None else Path(args.plot)
    _check_targets(args, inputs, plot)
    if plot is not None and plot.suffix.lstrip(".").lower() not in PLOT_FORMATS:
        raise InvalidArgument(f"--plot {args.plot}: the picture's format comes from its extension; accepted: "
                              f"{', '.join('.' + f for f in PLOT_FORMATS)}", field="plot")
    return fmt, plot


def _check_targets(args: argparse.Namespace, inputs: list[_Input], plot: Path | None) -> None:
    """No output is a device, a pipe or a folder; none is an input file or another output."""
    sources: list[tuple[str, os.stat_result]] = []
    for item in inputs:
        st = stat_or_none(item.path) if item.path is not None else None
        if st is not None:
            sources.append((item.label, st))
        beside = _beside_transcript(item.path)
        if beside is not None and (st := stat_or_none(beside)) is not None:
            sources.append((str(beside), st))
    if args.text_file is not None and (st := stat_or_none(Path(args.text_file))) is not None:
        sources.append((args.text_file, st))
    targets = [("-o", item.out) for item in inputs if item.out is not None]
    if plot is not None:
        targets.append(("--plot", plot))
    written: list[tuple[Path, os.stat_result | None]] = []
    for flag, path in targets:
        st = stat_or_none(path)  # a symlink is followed: the file it names is written (as a shell's > would)
        if st is not None and not stat.S_ISREG(st.st_mode):
            raise _not_regular(flag, path, st)
        for label, source in sources:
            if st is not None and _same_file(st, source):
                raise InvalidArgument(f"{flag} {path} is the input {label}; writing there would destroy it; "
                                      "give another output", field=flag.lstrip("-"))
        for other, other_st in written:
            if os.path.realpath(other) == os.path.realpath(path) or (st and other_st and _same_file(st, other_st)):
                raise InvalidArgument(f"{flag} {path} and {other} are the same file; give each output its own name",
                                      field=flag.lstrip("-"))
        written.append((path, st))


def _resolve_rig(name: str | None) -> tuple[str | None, RigProfile | None]:
    """(rig for the request, user profile to apply to its track): a profile file is applied to the internal track
    (the bake does the same), so it works in every mode."""
    if name is None or name.strip() in shipped_rig_names():
        return name, None
    return INTERNAL_RIG, load_rig(name)  # a .yaml path; errors name the file and the shipped profiles


def _needs_neural(mode: str, inputs: Sequence[_Input]) -> bool:
    """As the sidecar resolves ``auto``: aligned with a transcript, else neural (when the model is there)."""
    return mode == "neural" or (mode == "auto" and any(not (i.transcript or "").strip() for i in inputs))


def _animator(config: Config, needs_neural: bool, mode: str) -> Animator:
    if not needs_neural:
        return Animator(config)
    from .server.app import load_neural_model  # the sidecar's loader: the same model, the same fallback

    model = load_neural_model(config)
    if model is None and mode == "neural":
        raise FailedPrecondition("--mode neural needs the neural model, and none is installed (config neural.model "
                                 "or the bundled mien_a2c.onnx); use --mode auto, aligned or recognized",
                                 field="mode")
    return Animator(config, neural_model=model)


def _request_id(name: str) -> str:
    """The input's name as valid text (file names may hold any bytes), bounded."""
    text = os.fsencode(name).decode("utf-8", "replace")
    return "".join(c if c.isprintable() else "?" for c in text)[:_REQUEST_ID_CHARS]


def _encode(track: Track, fmt: str) -> bytes:
    if fmt == "csv":
        return track.to_csv().encode("utf-8")
    if fmt == "livelinkface":
        from .livelinkface import to_csv

        return to_csv(track).encode("utf-8")
    import json

    return json.dumps(track.to_json(), separators=(",", ":"), allow_nan=False).encode("utf-8")


def _render_plot(track: Track, audio: Audio, path: Path, title: str) -> bytes:
    import io

    from .plot import plot_track  # matplotlib only when asked

    buffer = io.BytesIO()
    plot_track(track, audio, buffer, title=title, fmt=path.suffix.lstrip(".").lower())
    return buffer.getvalue()


def _write_stdout(data: bytes) -> None:
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        # the reader went away (`| head`); stop writing there, and let the interpreter's final flush go nowhere
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        raise OSError(errno.EPIPE, "stdout was closed by its reader") from None


class _Lines:
    """Animates the planned inputs one by one; a failed input is logged and the others go on."""

    def __init__(self, args: argparse.Namespace, config: Config, inputs: list[_Input], fmt: str,
                 plot: Path | None) -> None:
        self.args, self.config, self.inputs, self.fmt, self.plot = args, config, inputs, fmt, plot
        self.emotion: Emotion | tuple[EmotionKeyframe, ...] = (
            parse_emotion(args.emotion, "--emotion") if args.emotion else Emotion.neutral())
        self.rig, self.profile = _resolve_rig(args.rig)
        if fmt == "livelinkface":  # written from the internal channels
            if args.rig not in (None, INTERNAL_RIG):
                raise InvalidArgument(f"--format livelinkface writes the ARKit blendshapes of the internal track; "
                                      f"--rig {args.rig} does not apply (leave it out, or use --rig {INTERNAL_RIG})",
                                      field="rig")
            self.rig = INTERNAL_RIG
        self.animator = _animator(config, _needs_neural(args.mode, inputs), args.mode)

    def read(self, item: _Input) -> bytes:
        limit = self.config.limits.max_message_bytes
        if item.path is None:
            return read_limited(sys.stdin.buffer, limit, "stdin")
        if item.path.is_dir():
            raise InvalidArgument(f"it is a folder, not an audio file; give its files (e.g. "
                                  f"{os.path.join(item.label, '*.wav')})", field="audio")
        _regular(item.path, "", "give an audio file, or - to read one from stdin")
        try:
            with item.path.open("rb") as handle:
                return read_limited(handle, limit, "the file")
        except OSError as exc:
            raise InvalidArgument(f"cannot read it: {exc.strerror or exc}", field="audio") from None

    def animate(self, item: _Input) -> None:
        if item.error:
            raise InvalidArgument(item.error, field="transcript")
        if self.fmt not in FORMATS:
            raise InvalidArgument(f"output format {self.fmt!r} (from {self.args.output}); accepted: "
                                  f"{', '.join(FORMATS)} (by extension or --format)", field="format")
        data = self.read(item)
        audio = decode_audio(data, max_duration_s=self.config.limits.max_audio_s) if self.plot else EncodedAudio(data)
        request = LineRequest(audio=audio, transcript=item.transcript, emotion=self.emotion, fps=self.args.fps,
                              rig=self.rig, seed=self.args.seed, mode=self.args.mode,
                              request_id=_request_id(item.name))
        track = self.animator.animate(request)
        if self.profile is not None:
            track = self.profile.apply(track)
        encoded = _encode(track, self.fmt)
        picture = (_render_plot(track, audio, self.plot, title=item.label)
                   if self.plot is not None and isinstance(audio, Audio) else None)
        if item.out is None:
            _write_stdout(encoded)
        else:
            replace_file(item.out, encoded)
        if picture is not None and self.plot is not None:
            replace_file(self.plot, picture)
        for warning in track.info.warnings:
            logger.warning("{}: {}", item.label, warning)
        logger.info("{} -> {} ({} frames, {}, {:.0f} ms)", item.label, item.out or "stdout", track.n_frames,
                    track.info.mode, track.info.processing_ms)

    def run(self) -> int:
        _work_begins()
        failed = 0
        for item in self.inputs:
            try:
                self.animate(item)
            except (MienError, OSError) as error:
                failed += 1
                logger.error("{}: {}", item.label, error)
            except Exception as error:  # noqa: BLE001 - one input's internal error must not stop the others
                failed += 1
                logger.error("{}: internal error ({}: {}); please report it with this audio file", item.label,
                             type(error).__name__, error)
        return EXIT_FAILED if failed else EXIT_OK


def _cmd_animate(args: argparse.Namespace, config: Config) -> int:
    inputs = _inputs(args)
    fmt, plot = _plan_outputs(args, inputs)
    lines = _Lines(args, config, inputs, fmt, plot)
    return lines.run()


# --------------------------------------------------------------------------------------------
# mien serve / mien live
# --------------------------------------------------------------------------------------------


def _port_free(host: str, port: int, flag: str) -> None:
    """Fail now, in one line, when another process listens on the port (before any model is loaded)."""
    if port <= 0:
        return
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise InvalidArgument(f"--host {host!r}: not an address of this machine ({exc.strerror})",
                              field="server.host") from None
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind
            try:
                probe.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise InvalidArgument(f"{flag} {port}: port {port} on {host} is in use by another process; "
                                          f"stop it, or pick another port (0 = any free port)",
                                          field="server.port") from None


def _cmd_serve(args: argparse.Namespace, config: Config) -> int:
    overrides = {"server.host": args.host, "server.port": args.port, "server.http_port": args.http_port}
    flags = {"server.host": "--host", "server.port": "--port", "server.http_port": "--http-port"}
    for key, value in overrides.items():
        if value is not None:
            config = with_settings(config, {key: value}, flags[key])  # the config's own ranges and messages
    s = config.server
    _port_free(s.host, s.port, "--port")
    if s.http_port >= 0:
        _port_free(s.host, s.http_port, "--http-port")
    from .server.app import serve

    try:
        serve(config)
    except RuntimeError as exc:  # grpc's bind failure (another process took the port since the check)
        if "bind" not in str(exc).lower():
            raise
        raise InvalidArgument(f"--port {s.port}: cannot listen on {s.host}:{s.port} (in use, or not an address of "
                              "this machine); pick another port (0 = any free port)", field="server.port") from None
    return EXIT_OK


def _cmd_live(args: argparse.Namespace, config: Config) -> int:
    from .live import FileSource, MicrophoneSource, run_live
    from .server.app import load_neural_model
    from .streaming import FrameBatch, StreamStart

    if args.list_devices:
        try:
            import sounddevice as sd
        except (ImportError, OSError) as exc:
            raise FailedPrecondition(f"listing devices needs sounddevice and PortAudio ({exc}); install the `live` "
                                     "extra and apt libportaudio2", field="device") from None
        print(sd.query_devices())
        return EXIT_OK
    if args.seconds is not None and not 0 < args.seconds < float("inf"):
        raise InvalidArgument(f"--seconds {args.seconds}: must be a number of seconds > 0", field="seconds")
    emotion = parse_emotion(args.emotion, "--emotion") if args.emotion else Emotion.neutral()
    if not isinstance(emotion, Emotion):
        raise InvalidArgument("mien live takes one emotion (keyframes need a timeline)", field="emotion")
    rig, profile = _resolve_rig(args.rig)
    model = load_neural_model(config)
    if model is None:
        raise FailedPrecondition("mien live needs the neural model (neural.model)", field="neural.model")
    animator = Animator(config, neural_model=model)
    assert animator.streams is not None
    _work_begins()
    if args.input:
        _regular(Path(args.input), f"--input {args.input}: ", "give an audio file")
        try:
            source: FileSource | MicrophoneSource = FileSource(Path(args.input), realtime=not args.fast,
                                                                max_audio_s=config.limits.max_audio_s)
        except OSError as exc:
            raise InvalidArgument(f"--input {args.input}: cannot read it: {exc.strerror or exc}",
                                  field="input") from None
    else:
        source = MicrophoneSource(args.device)
    start = StreamStart(sample_rate_hz=source.sample_rate_hz, encoding="pcm_s16le", emotion=emotion, rig=rig,
                        fps=args.fps, seed=args.seed, live_link_target=args.live_link or "",
                        live_link_subject=args.live_link_subject or "")
    sink: Callable[[FrameBatch], None] | None = None
    if profile is not None:  # the stream is on the internal channel set: retarget each batch
        from .live import Meters

        meters, user = Meters(profile.channel_names), profile

        def retargeted(batch: FrameBatch) -> None:
            meters(replace(batch, values=user.retarget(batch.values)))

        sink = retargeted
    session = run_live(animator.streams, source, start, sink, seconds=args.seconds)
    print(f"\n{session.audio_s:.1f} s of audio, {session.fps:g} fps")
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# The parser and the entry point
# --------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mien", description="Emotional facial animation for game NPCs.")
    parser.add_argument("--config", help="sidecar config YAML (defaults are built in)")
    sub = parser.add_subparsers(dest="command", required=True)

    an = sub.add_parser("animate", help="animate audio files in-process (no server)")
    an.add_argument("audio", nargs="+", help="audio files (WAV, FLAC, OGG, MP3, AIFF); - reads one from stdin")
    text = an.add_mutually_exclusive_group()
    text.add_argument("--text", help="the transcript (one input)")
    text.add_argument("--text-file", help="file holding the transcript (one input)")
    text.add_argument("--transcripts", choices=["auto"], help="auto: read X.txt beside each X.wav")
    an.add_argument("--no-text", action="store_true", help="ignore any transcript")
    an.add_argument("--emotion", help=f"{'|'.join(EMOTIONS)}[:INTENSITY], vad:V,A,D, or T:EMOTION;T:EMOTION...")
    an.add_argument("--fps", type=float, default=None, help="frames per second (default 60)")
    an.add_argument("--seed", type=int, default=0)
    an.add_argument("--rig", default=None, help="rig profile: a shipped name (default arkit52) or a profile .yaml")
    an.add_argument("--mode", choices=MODES, default="auto",
                    help="auto (default): aligned with a transcript, else neural (else recognized)")
    an.add_argument("--format", choices=FORMATS, help="output format (default: from the extension, else csv); "
                    "livelinkface = a Live Link Face take CSV (from the internal channels, rig arkit52)")
    an.add_argument("--plot", help="also draw the mouth curves under the waveform into this PNG (or .svg, .pdf)")
    an.add_argument("-o", "--output", required=True,
                    help="output file, or folder (several inputs, an existing folder, or a path ending in /); "
                         "- for stdout")

    lv = sub.add_parser("live", help="microphone -> live face curves (terminal meters), in-process")
    lv.add_argument("--device", default=None, help="input device (index or name; see --list-devices)")
    lv.add_argument("--list-devices", action="store_true")
    lv.add_argument("--input", help="play this audio file as if it were the microphone")
    lv.add_argument("--fast", action="store_true", help="with --input: as fast as possible, not real time")
    lv.add_argument("--seconds", type=float, default=None, help="stop after this much audio")
    lv.add_argument("--emotion", help="emotion for the whole session")
    lv.add_argument("--fps", type=float, default=None)
    lv.add_argument("--seed", type=int, default=0)
    lv.add_argument("--rig", default=None, help="a shipped profile name or a profile .yaml")
    lv.add_argument("--live-link", metavar="HOST:PORT", default=None,
                    help="also send the frames as Live Link Face UDP packets (Unreal's Live Link; e.g. "
                         "127.0.0.1:11111); loopback unless the config sets live_link.allow_remote")
    lv.add_argument("--live-link-subject", default=None, help="Live Link subject name (default: live_link.subject)")

    from mien_bake.cli import add_bake_arguments  # the offline bake (bake/mien_bake; it does not import this module)

    add_bake_arguments(sub.add_parser("bake", help="bake a manifest's lines to glTF/CSV/JSON in-process (no server)"))

    sv = sub.add_parser("serve", help="run the sidecar (gRPC + HTTP gateway)")
    sv.add_argument("--host", default=None, help="interface to bind (config server.host; default 127.0.0.1)")
    sv.add_argument("--port", type=int, default=None, help="gRPC port (config server.port; 0 = any free port)")
    sv.add_argument("--http-port", type=int, default=None,
                    help="HTTP/WebSocket gateway port (config server.http_port; 0 = any free port, -1 = none)")
    sv.add_argument("--config", dest="serve_config", help="sidecar config YAML")
    return parser


def _printable(record: Any) -> bool:
    record["message"] = safe_text(record["message"])  # a file name that is not UTF-8 never fails a message
    return True


def _leave_at_once(signum: int, frame: object) -> None:
    """Ctrl-C while a command starts up (models loading, nothing written yet): exit 130 now.

    Raised there, the interrupt need not come back as KeyboardInterrupt: onnxruntime's import turns it into
    ImportError, and a library's guarded import may swallow it and go on to wait for stdin."""
    os.write(2, b"ERROR   interrupted\n")
    os._exit(EXIT_INTERRUPTED)


def _work_begins() -> None:
    """From here on Ctrl-C raises KeyboardInterrupt, so a file being written is finished or removed."""
    if signal.getsignal(signal.SIGINT) is _leave_at_once:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def main(argv: Sequence[str] | None = None) -> int:
    if threading.current_thread() is not threading.main_thread():  # signals are set on the main thread only
        return _main(argv)
    previous = signal.signal(signal.SIGINT, _leave_at_once)
    try:
        return _main(argv)
    finally:  # None: the handler was not set from Python (treated as the default)
        signal.signal(signal.SIGINT, signal.default_int_handler if previous is None else previous)


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    logger.remove()
    logger.add(sys.stderr, level="INFO", format="<level>{level: <7}</level> {message}", filter=_printable)
    try:
        config = load_config(getattr(args, "serve_config", None) or args.config)
        if args.command == "animate":
            return _cmd_animate(args, config)
        if args.command == "serve":
            return _cmd_serve(args, config)
        if args.command == "live":
            return _cmd_live(args, config)
        if args.command == "bake":
            from mien_bake.cli import run_bake

            _work_begins()  # the bake keeps its finished lines on Ctrl-C, and its lock is released
            return run_bake(args, config)
    except MienError as error:
        logger.error("{}", error)
        return EXIT_USAGE
    except KeyboardInterrupt:
        logger.error("interrupted")
        return EXIT_INTERRUPTED
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
