"""The `mien` command: animate files in-process, serve the sidecar, bake, live.

    mien animate AUDIO... [--text T | --text-file F | --transcripts auto] [--no-text] [--emotion E]
                 [--fps 60] [--seed N] [--rig R] [--mode M] [--format csv|json|livelinkface] [--plot P.png] -o OUT
    mien serve [--host 127.0.0.1] [--port 50051] [--http-port 8080] [--config mien.yaml]
    mien bake MANIFEST.yaml -o OUT_DIR [...]
    mien live [--input FILE] [--device D] [--emotion E] [--seconds S] [--live-link HOST:PORT]

Exit codes: 0 success, 1 some inputs failed (the others were written), 2 usage or config errors.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from loguru import logger

from .audio import Audio, decode_audio
from .config import Config, load_config
from .emotion import EMOTIONS, Emotion, EmotionKeyframe, emotion_from_vad
from .errors import FailedPrecondition, InvalidArgument, MienError
from .pipeline import Animator
from .request import MODES, EmotionInput, EncodedAudio, LineRequest
from .track import Track

__all__ = ["main", "parse_emotion"]

FORMATS = ("csv", "json", "livelinkface")
_SUFFIX = {"csv": "csv", "json": "json", "livelinkface": "csv"}  # a Live Link Face take is a .csv


def parse_emotion(text: str) -> EmotionInput:
    """CLI emotion syntax.

    ``angry`` | ``angry:0.7`` | ``vad:V,A,D`` | keyframes ``0:neutral;1.5:angry:0.8;3:sad``.
    """
    text = text.strip()
    if ";" in text or (text[:1].isdigit() and ":" in text):
        frames = []
        for i, part in enumerate(p for p in text.split(";") if p.strip()):
            time_s, _, value = part.strip().partition(":")
            try:
                t = float(time_s)
            except ValueError:
                raise InvalidArgument(f"--emotion keyframe {i}: {time_s!r} is not a time in seconds; "
                                      "format TIME:EMOTION[:INTENSITY];...", field="emotion") from None
            frames.append(EmotionKeyframe(t, _one_emotion(value)))
        return tuple(frames)
    return _one_emotion(text)


def _one_emotion(text: str) -> Emotion:
    if text.lower().startswith("vad:"):
        parts = text[4:].split(",")
        try:
            v, a, d = (float(x) for x in parts)
        except ValueError:
            raise InvalidArgument(f"--emotion {text!r}: vad needs three numbers, e.g. vad:0.5,0.3,-0.1",
                                  field="emotion") from None
        return emotion_from_vad(v, a, d)
    name, _, level = text.partition(":")
    try:
        intensity = float(level) if level else 1.0
    except ValueError:
        raise InvalidArgument(f"--emotion {text!r}: intensity {level!r} is not a number 0..1",
                              field="emotion") from None
    return Emotion.of(name, intensity)


def _read_transcript(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise InvalidArgument(f"transcript file {path} is not UTF-8 text (byte {error.start}); save it as UTF-8",
                              field="transcript") from None


def _transcript(args: argparse.Namespace, audio: Path, many: bool) -> str | None:
    if args.no_text:
        return None
    if args.text is not None:
        return str(args.text)
    if args.text_file is not None:
        return _read_transcript(Path(args.text_file))
    if args.transcripts == "auto":
        beside = audio.with_suffix(".txt")
        if beside.is_file():
            return _read_transcript(beside)
        logger.warning("{}: no {} beside it; animating without transcript", audio, beside.name)
    return None


def _output_path(args: argparse.Namespace, audio: Path, many: bool) -> tuple[Path, str]:
    out = Path(args.output)
    if many:
        fmt = args.format or "csv"
        return out / f"{audio.stem}.{_SUFFIX[fmt]}", fmt
    fmt = args.format or out.suffix.lstrip(".").lower() or "csv"
    if fmt not in FORMATS:
        raise InvalidArgument(f"output format {fmt!r} (from {out.name}); accepted: {', '.join(FORMATS)} "
                              "(by extension or --format)", field="format")
    return out, fmt


def _write(track: Track, path: Path, fmt: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "livelinkface":
        from .livelinkface import to_csv

        text = to_csv(track)
    else:
        text = track.to_csv() if fmt == "csv" else json.dumps(track.to_json(), separators=(",", ":"))
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _cmd_animate(args: argparse.Namespace, config: Config) -> int:
    inputs = [Path(a) for a in args.audio]
    many = len(inputs) > 1
    if many and (args.text is not None or args.text_file is not None):
        raise InvalidArgument("--text/--text-file apply to one input; with several inputs use --transcripts auto "
                              "(X.txt beside X.wav)", field="text")
    if many and args.plot:
        raise InvalidArgument("--plot takes one input", field="plot")
    emotion = parse_emotion(args.emotion) if args.emotion else Emotion.neutral()
    animator = Animator(config)
    failed = 0
    for path in inputs:
        try:
            out, fmt = _output_path(args, path, many)
            data = path.read_bytes()
            audio = decode_audio(data, max_duration_s=config.limits.max_audio_s) if args.plot else EncodedAudio(data)
            request = LineRequest(audio=audio, transcript=_transcript(args, path, many), emotion=emotion,
                                  fps=args.fps, rig=args.rig, seed=args.seed, mode=args.mode, request_id=path.name)
            track = animator.animate(request)
            _write(track, out, fmt)
            for w in track.info.warnings:
                logger.warning("{}: {}", path, w)
            logger.info("{} -> {} ({} frames, {}, {:.0f} ms)", path, out, track.n_frames, track.info.mode,
                        track.info.processing_ms)
            if isinstance(audio, Audio):
                from .plot import plot_track  # matplotlib only when asked

                plot_track(track, audio, args.plot, title=path.name)
        except (MienError, OSError) as error:
            failed += 1
            logger.error("{}: {}", path, error)
    return 1 if failed else 0


def _cmd_serve(args: argparse.Namespace, config: Config) -> int:
    from .server.app import serve

    server = dataclasses.replace(
        config.server,
        **{k: v for k, v in (("host", args.host), ("port", args.port), ("http_port", args.http_port)) if v is not None},
    )
    serve(dataclasses.replace(config, server=server))
    return 0


def _cmd_live(args: argparse.Namespace, config: Config) -> int:
    from .live import FileSource, MicrophoneSource, run_live
    from .server.app import load_neural_model
    from .streaming import StreamStart

    if args.list_devices:
        import sounddevice as sd

        print(sd.query_devices())
        return 0
    model = load_neural_model(config)
    if model is None:
        raise FailedPrecondition("mien live needs the neural model (neural.model)", field="neural.model")
    animator = Animator(config, neural_model=model)
    assert animator.streams is not None
    source = FileSource(Path(args.input), realtime=not args.fast) if args.input else MicrophoneSource(args.device)
    emotion = parse_emotion(args.emotion) if args.emotion else Emotion.neutral()
    if not isinstance(emotion, Emotion):
        raise InvalidArgument("mien live takes one emotion (keyframes need a timeline)", field="emotion")
    start = StreamStart(sample_rate_hz=source.sample_rate_hz, encoding="pcm_s16le", emotion=emotion, rig=args.rig,
                        fps=args.fps, seed=args.seed, live_link_target=args.live_link or "",
                        live_link_subject=args.live_link_subject or "")
    session = run_live(animator.streams, source, start, seconds=args.seconds)
    print(f"\n{session.audio_s:.1f} s of audio, {session.fps:g} fps")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mien", description="Emotional facial animation for game NPCs.")
    parser.add_argument("--config", help="sidecar config YAML (defaults are built in)")
    sub = parser.add_subparsers(dest="command", required=True)

    an = sub.add_parser("animate", help="animate audio files in-process (no server)")
    an.add_argument("audio", nargs="+", help="audio files (WAV, FLAC, OGG, MP3)")
    text = an.add_mutually_exclusive_group()
    text.add_argument("--text", help="the transcript (one input)")
    text.add_argument("--text-file", help="file holding the transcript (one input)")
    text.add_argument("--transcripts", choices=["auto"], help="auto: read X.txt beside each X.wav")
    an.add_argument("--no-text", action="store_true", help="ignore any transcript")
    an.add_argument("--emotion", help=f"{'|'.join(EMOTIONS)}[:INTENSITY], vad:V,A,D, or T:EMOTION;T:EMOTION...")
    an.add_argument("--fps", type=float, default=None, help="frames per second (default 60)")
    an.add_argument("--seed", type=int, default=0)
    an.add_argument("--rig", default=None, help="rig profile (default arkit52)")
    an.add_argument("--mode", choices=MODES, default="auto")
    an.add_argument("--format", choices=FORMATS, help="output format (default: from the extension, else csv); "
                    "livelinkface = a Live Link Face take CSV (rig arkit52)")
    an.add_argument("--plot", help="also draw the mouth curves under the waveform into this PNG")
    an.add_argument("-o", "--output", required=True, help="output file, or folder with several inputs")

    lv = sub.add_parser("live", help="microphone -> live face curves (terminal meters), in-process")
    lv.add_argument("--device", default=None, help="input device (index or name; see --list-devices)")
    lv.add_argument("--list-devices", action="store_true")
    lv.add_argument("--input", help="play this audio file as if it were the microphone")
    lv.add_argument("--fast", action="store_true", help="with --input: as fast as possible, not real time")
    lv.add_argument("--seconds", type=float, default=None, help="stop after this much audio")
    lv.add_argument("--emotion", help="emotion for the whole session")
    lv.add_argument("--fps", type=float, default=None)
    lv.add_argument("--seed", type=int, default=0)
    lv.add_argument("--rig", default=None)
    lv.add_argument("--live-link", metavar="HOST:PORT", default=None,
                    help="also send the frames as Live Link Face UDP packets (Unreal's Live Link; e.g. "
                         "127.0.0.1:11111); loopback unless the config sets live_link.allow_remote")
    lv.add_argument("--live-link-subject", default=None, help="Live Link subject name (default: live_link.subject)")

    from mien_bake.cli import add_bake_arguments  # the offline bake (bake/mien_bake)

    add_bake_arguments(sub.add_parser("bake", help="bake a manifest's lines to glTF/CSV/JSON in-process (no server)"))

    sv = sub.add_parser("serve", help="run the sidecar (gRPC + HTTP gateway)")
    sv.add_argument("--host", default=None)
    sv.add_argument("--port", type=int, default=None)
    sv.add_argument("--http-port", type=int, default=None)
    sv.add_argument("--config", dest="serve_config", help="sidecar config YAML")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logger.remove()
    logger.add(sys.stderr, level="INFO", format="<level>{level: <7}</level> {message}")
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

            return run_bake(args, config)
    except MienError as error:
        logger.error("{}", error)
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
