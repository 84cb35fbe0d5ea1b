"""The `mien` command in-process: animate one or many files (the sidecar's engine: models, modes, rig profile
files), formats, transcripts, plot, bad input, outputs that must never destroy anything, `mien serve` flags."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import stat
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from loguru import logger

from conftest import SPEECH
from mien import EncodedAudio, LineRequest
from mien.cli import main
from mien.emotion import Emotion, EmotionKeyframe, parse_emotion
from mien.errors import InvalidArgument
from mien.rig import load_rig
from mien.server.app import Sidecar

SHIPPED_RIGS = Path(__file__).resolve().parents[1] / "sidecar" / "mien" / "data" / "rigs"


def test_one_file_with_text_to_csv(tmp_path: Path) -> None:
    out = tmp_path / "go.csv"
    assert main(["animate", str(SPEECH / "goforward.wav"), "--text", "go forward ten meters", "-o", str(out)]) == 0
    lines = out.read_text().splitlines()
    header = lines[0].split(",")
    assert header[0] == "time" and "jawOpen" in header and "eyeYawLeft_deg" in header
    rows = np.array([[float(x) for x in line.split(",")] for line in lines[1:]])
    assert rows.shape[1] == len(header)
    assert np.allclose(np.diff(rows[:, 0]), 1 / 60, atol=1e-6)


def test_many_files_transcripts_auto_json(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for name in ("goforward", "cards_001"):
        shutil.copy(SPEECH / f"{name}.wav", src)
        shutil.copy(SPEECH / f"{name}.txt", src)
    out = tmp_path / "out"
    assert main(["animate", str(src / "goforward.wav"), str(src / "cards_001.wav"), "--transcripts", "auto",
                 "--format", "json", "--fps", "30", "--emotion", "happy:0.5", "-o", str(out)]) == 0
    for name in ("goforward", "cards_001"):
        doc = json.loads((out / f"{name}.json").read_text())
        assert doc["fps"] == 30 and doc["info"]["mode"] == "aligned"
        assert len(doc["values"]) == doc["frame_count"] and len(doc["values"][0]) == len(doc["channel_names"])
        assert doc["phones"] and doc["info"]["emotion"] == {"happy": 0.5}


def test_no_text_and_plot(tmp_path: Path) -> None:
    out, png = tmp_path / "x.csv", tmp_path / "x.png"
    assert main(["animate", str(SPEECH / "goforward.wav"), "--no-text", "--mode", "recognized", "-o", str(out),
                 "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_a_bad_file_fails_alone(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio")
    out = tmp_path / "out"
    code = main(["animate", str(bad), str(SPEECH / "goforward.wav"), "-o", str(out)])
    assert code == 1
    assert (out / "goforward.csv").exists() and not (out / "bad.csv").exists()


def test_usage_errors(tmp_path: Path) -> None:
    assert main(["animate", str(SPEECH / "goforward.wav"), "--emotion", "grumpy", "-o", str(tmp_path / "a.csv")]) == 2
    assert main(["animate", str(SPEECH / "goforward.wav"), "-o", str(tmp_path / "a.txt")]) == 1
    assert main(["--config", str(tmp_path / "missing.yaml"), "animate", str(SPEECH / "goforward.wav"),
                 "-o", str(tmp_path / "a.csv")]) == 2


def test_emotion_syntax() -> None:
    assert parse_emotion("angry:0.7") == Emotion.of("angry", 0.7)
    assert parse_emotion("joy") == Emotion.of("happy")
    frames = parse_emotion("0:neutral;1.5:angry:0.8")
    assert frames == (EmotionKeyframe(0.0, Emotion.neutral()), EmotionKeyframe(1.5, Emotion.of("angry", 0.8)))
    assert parse_emotion("vad:0.81,0.51,0.46").dominant == "happy"  # type: ignore[union-attr]
    with pytest.raises(InvalidArgument):
        parse_emotion("vad:1,2")


# ------------------------------------------------------------------------------------ helpers


def _stderr_sink(message: Any) -> None:
    sys.stderr.write(str(message))


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``mien ...`` in-process; (exit code, stderr). argparse errors count as their exit code."""
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    finally:
        logger.remove()
        logger.add(_stderr_sink, level="INFO")
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return code, err


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("ERROR")]


def litter(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".tmp"))


GO = str(SPEECH / "goforward.wav")


# ------------------------------------------------------------------------------------ one engine


def test_auto_without_transcript_is_the_sidecars_neural_track(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                               sidecar: Sidecar) -> None:
    """The CLI loads the bundled model and resolves `auto` as the sidecar does: the same track, value for value."""
    assert sidecar.animator.neural_model is not None, "the bundled neural model is missing"
    out = tmp_path / "a.json"
    code, err = run(["animate", GO, "--seed", "3", "--emotion", "happy:0.5", "-o", str(out)], capsys)
    assert code == 0, err
    doc = json.loads(out.read_text())
    served = sidecar.animator.animate(LineRequest(audio=EncodedAudio((SPEECH / "goforward.wav").read_bytes()),
                                                  emotion=Emotion.of("happy", 0.5), seed=3))
    assert doc["info"]["mode"] == served.info.mode == "neural"
    assert doc["channel_names"] == list(served.channel_names)
    assert np.allclose(np.array(doc["values"]), served.values, rtol=0, atol=5e-7)  # JSON holds 6 decimals


def test_mode_neural_works_and_a_transcript_still_aligns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(["animate", GO, "--mode", "neural", "--format", "json", "-o", str(tmp_path / "n")], capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "n").read_text())["info"]["mode"] == "neural"
    code, err = run(["animate", GO, "--text", "go forward ten meters", "-o", str(tmp_path / "t.json")], capsys)
    assert code == 0 and json.loads((tmp_path / "t.json").read_text())["info"]["mode"] == "aligned", err


def test_the_neural_model_is_loaded_only_when_a_line_needs_it(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import mien.server.app as app

    def refuse(config: Any) -> None:
        raise AssertionError("the neural model was loaded for lines that do not need it")

    monkeypatch.setattr(app, "load_neural_model", refuse)
    code, err = run(["animate", GO, "--text", "go forward ten meters", "-o", str(tmp_path / "a.csv")], capsys)
    assert code == 0, err
    code, err = run(["animate", GO, "--mode", "recognized", "-o", str(tmp_path / "r.csv")], capsys)
    assert code == 0, err


def test_mode_neural_without_a_model_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import mien.server.app as app

    monkeypatch.setattr(app, "load_neural_model", lambda config: None)
    code, err = run(["animate", GO, "--mode", "neural", "-o", str(tmp_path / "a.csv")], capsys)
    assert code == 2 and errors(err) and "needs the neural model" in err, err
    code, err = run(["animate", GO, "-o", str(tmp_path / "b.json")], capsys)  # auto falls back, as the sidecar does
    assert code == 0 and json.loads((tmp_path / "b.json").read_text())["info"]["mode"] == "recognized", err


@pytest.mark.parametrize("mode", ["aligned", "neural"])
def test_rig_profile_file_gives_the_shipped_profiles_track(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                           mode: str) -> None:
    profile = tmp_path / "my rigs" / "face.yaml"
    profile.parent.mkdir()
    shutil.copy(SHIPPED_RIGS / "metahuman.yaml", profile)
    common = ["animate", GO, "--text", "go forward ten meters", "--mode", mode]
    assert run([*common, "--rig", "metahuman", "-o", str(tmp_path / "shipped.csv")], capsys)[0] == 0
    code, err = run([*common, "--rig", str(profile), "-o", str(tmp_path / "file.csv")], capsys)
    assert code == 0, err
    assert (tmp_path / "file.csv").read_bytes() == (tmp_path / "shipped.csv").read_bytes()
    assert (tmp_path / "file.csv").read_text().split("\n", 1)[0].split(",")[1:] == list(
        load_rig("metahuman").channel_names)


def test_a_bad_rig_is_a_usage_error_naming_the_profiles(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for rig in ("metahumn", str(tmp_path / "missing.yaml")):
        code, err = run(["animate", GO, "--rig", rig, "-o", str(tmp_path / "a.csv")], capsys)
        assert code == 2 and "arkit52, metahuman" in err and len(errors(err)) == 1, err
    assert not (tmp_path / "a.csv").exists()


# ------------------------------------------------------------------------------------ -o never destroys anything


def test_one_input_and_an_existing_folder_writes_inside_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "out").mkdir()
    code, err = run(["animate", GO, "-o", str(tmp_path / "out")], capsys)
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["goforward.csv"]
    code, err = run(["animate", GO, "--format", "json", "-o", str(tmp_path / "new") + "/"], capsys)  # a trailing /
    assert code == 0 and (tmp_path / "new" / "goforward.json").is_file(), err


def test_devices_pipes_and_sockets_are_refused_untouched(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = os.stat("/dev/null")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    sock_path = tmp_path / "sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock_path))
    link = tmp_path / "link.csv"
    link.symlink_to("/dev/null")
    try:
        for target, kind in (("/dev/null", "a character device"), (str(fifo), "a named pipe"),
                             (str(sock_path), "a socket"), (str(link), "a character device")):
            code, err = run(["animate", GO, "-o", target], capsys)
            assert code == 2 and kind in err and "only a regular file" in err and len(errors(err)) == 1, err
            code, err = run(["animate", GO, "--plot", target, "-o", str(tmp_path / "x.csv")], capsys)
            assert code == 2 and "only a regular file" in err, err
    finally:
        server.close()
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev and after.st_ino == before.st_ino
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and stat.S_ISSOCK(sock_path.lstat().st_mode) and link.is_symlink()
    assert not (tmp_path / "x.csv").exists()


def test_a_folder_where_an_output_file_goes_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "out" / "goforward.csv").mkdir(parents=True)
    code, err = run(["animate", GO, str(SPEECH / "cards_001.wav"), "-o", str(tmp_path / "out")], capsys)
    assert code == 2 and "a folder" in err, err
    assert not (tmp_path / "out" / "cards_001.csv").exists()  # checked before anything is written
    (tmp_path / "file").write_text("keep")
    code, err = run(["animate", GO, str(SPEECH / "cards_001.wav"), "-o", str(tmp_path / "file")], capsys)
    assert code == 2 and "several inputs need a folder" in err and (tmp_path / "file").read_text() == "keep", err


@pytest.mark.parametrize("names", [("a/line.wav", "b/line.wav"), ("a/Line.wav", "b/line.wav"),
                                   ("a/line.wav", "a/line.wav"), ("a/line.wav", "b/line.flac")])
def test_output_name_collisions_are_an_error_before_anything_is_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], names: tuple[str, str]) -> None:
    paths = []
    for name in names:
        path = tmp_path / name
        path.parent.mkdir(exist_ok=True)
        shutil.copy(SPEECH / "goforward.wav", path)
        paths.append(str(path))
    out = tmp_path / "out"
    code, err = run(["animate", GO, *paths, "-o", str(out)], capsys)
    assert code == 2 and "would both be written to" in err and "nothing was written" in err, err
    assert not out.exists()


def test_an_output_that_is_an_input_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    audio = tmp_path / "line.wav"
    shutil.copy(SPEECH / "goforward.wav", audio)
    text = tmp_path / "line.txt"
    text.write_text("go forward ten meters")
    original = audio.read_bytes()
    for argv in (["--format", "csv", "-o", str(audio)], ["--text-file", str(text), "-o", str(text)],
                 ["--transcripts", "auto", "-o", str(text)], ["--plot", str(audio), "-o", str(tmp_path / "x.csv")]):
        code, err = run(["animate", str(audio), *argv], capsys)
        assert code == 2 and "would destroy it" in err, (argv, err)
    assert audio.read_bytes() == original and text.read_text() == "go forward ten meters"


def test_a_regular_file_is_replaced_keeping_its_mode_and_a_symlink_is_followed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "real.csv"
    target.write_text("old")
    target.chmod(0o640)
    link = tmp_path / "link.csv"
    link.symlink_to(target.name)
    code, err = run(["animate", GO, "-o", str(link)], capsys)
    assert code == 0, err
    assert link.is_symlink() and target.read_text().startswith("time,")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert litter(tmp_path) == []


def test_a_failed_or_interrupted_write_leaves_no_temporary_file_and_the_old_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import mien.files

    out = tmp_path / "a.csv"
    out.write_text("old")

    def disk_full(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(mien.files.os, "replace", disk_full)
    code, err = run(["animate", GO, "-o", str(out)], capsys)
    assert code == 1 and "No space left on device" in err, err
    assert out.read_text() == "old" and litter(tmp_path) == []

    def interrupted(src: Any, dst: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(mien.files.os, "replace", interrupted)
    code, err = run(["animate", GO, "-o", str(out)], capsys)
    assert code == 130 and "interrupted" in err, err
    assert out.read_text() == "old" and litter(tmp_path) == []


def test_stdin_and_stdout(tmp_path: Path, capfdbinary: pytest.CaptureFixture[bytes],
                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO((SPEECH / "goforward.wav").read_bytes())))
    try:
        code = main(["animate", "-", "--format", "json", "-o", "-"])
    finally:
        logger.remove()
        logger.add(_stderr_sink, level="INFO")
    captured = capfdbinary.readouterr()
    assert code == 0, captured.err.decode()
    doc = json.loads(captured.out)
    assert doc["frame_count"] == len(doc["values"]) > 100


def test_odd_inputs_fail_alone_with_a_clear_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "clips"
    folder.mkdir()
    (tmp_path / "empty.wav").write_bytes(b"")
    unicode = tmp_path / "наём 日本 ✓.wav"
    shutil.copy(SPEECH / "goforward.wav", unicode)
    raw = os.fsencode(tmp_path) + b"/bad\xff name.wav"
    shutil.copy(SPEECH / "cards_001.wav", raw.decode("utf-8", "surrogateescape"))
    out = tmp_path / "out"
    code, err = run(["animate", str(folder), str(tmp_path / "empty.wav"), str(tmp_path / "nope.wav"), str(unicode),
                     os.fsdecode(raw), "--format", "json", "-o", str(out)], capsys)
    assert code == 1, err
    assert "is a folder, not an audio file" in err and "audio is empty" in err and "No such file" in err, err
    assert len(errors(err)) == 3, err
    written = sorted(os.fsencode(p.name) for p in out.iterdir())
    assert written == sorted([b"bad\xff name.json", "наём 日本 ✓.json".encode()])
    for path in out.iterdir():
        json.loads(path.read_bytes())  # valid JSON whatever the file name


def test_an_input_larger_than_the_request_limit_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "small.yaml"
    config.write_text("limits:\n  max_message_bytes: 4096\n")
    code, err = run(["--config", str(config), "animate", GO, "-o", str(tmp_path / "a.csv")], capsys)
    assert code == 1 and "larger than 4096 bytes" in err and "limits.max_message_bytes" in err, err


# ------------------------------------------------------------------------------------ mien serve


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--port", "70000", "--port: server.port: 70000 is out of range; accepted: 0 to 65535"),
    ("--port", "-1", "--port: server.port: -1 is out of range; accepted: 0 to 65535"),
    ("--http-port", "65536", "--http-port: server.http_port: 65536 is out of range; accepted: -1 to 65535"),
    ("--http-port", "-2", "--http-port: server.http_port: -2 is out of range; accepted: -1 to 65535"),
])
def test_serve_ports_are_validated_like_the_config(capsys: pytest.CaptureFixture[str], tmp_path: Path, flag: str,
                                                   value: str, message: str) -> None:
    code, err = run(["serve", flag, value], capsys)
    assert code == 2 and errors(err) == [f"ERROR   {message}"], err
    key = "port" if flag == "--port" else "http_port"  # the config file says the same
    config = tmp_path / "mien.yaml"
    config.write_text(f"server:\n  {key}: {value}\n")
    code, err = run(["serve", "--config", str(config)], capsys)
    assert code == 2 and message.split(": ", 1)[1] in err, err


def test_serve_on_a_port_in_use_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for flags in (["--port", str(port)], ["--port", "0", "--http-port", str(port)]):
            code, err = run(["serve", *flags], capsys)
            assert code == 2 and len(err.strip().splitlines()) == 1 and f"port {port}" in err and "in use" in err, err


def test_serve_on_a_bad_config_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    for text in ("server: [\n", "server:\n  port: fast\n", "servr: {}\n"):
        bad.write_text(text)
        code, err = run(["serve", "--config", str(bad)], capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1, err
    bad.write_bytes(b"server:\n  host: \xff\n")
    code, err = run(["serve", "--config", str(bad)], capsys)
    assert code == 2 and "not UTF-8" in err and len(err.strip().splitlines()) == 1, err
    code, err = run(["serve", "--config", str(tmp_path)], capsys)
    assert code == 2 and "cannot read config file" in err, err


# ------------------------------------------------------------------------------------ plot, live


def test_plot_formats_and_a_plot_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(["animate", GO, "--plot", str(tmp_path / "p.svg"), "-o", str(tmp_path / "a.csv")], capsys)
    assert code == 0 and (tmp_path / "p.svg").read_text().lstrip().startswith("<?xml"), err
    (tmp_path / "pics").mkdir()
    code, err = run(["animate", GO, "--plot", str(tmp_path / "pics"), "-o", str(tmp_path / "b.csv")], capsys)
    assert code == 0 and (tmp_path / "pics" / "goforward.png").read_bytes()[:4] == b"\x89PNG", err


def test_live_with_a_rig_profile_file_and_bad_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    profile = tmp_path / "face.yaml"
    shutil.copy(SHIPPED_RIGS / "vrm.yaml", profile)
    code, err = run(["live", "--input", str(SPEECH / "cards_001.wav"), "--fast", "--rig", str(profile)], capsys)
    assert code == 0, err
    for argv, needle in ((["--input", str(tmp_path)], "it is a folder"), (["--input", str(tmp_path / "no.wav")],
                         "cannot read it"), (["--seconds", "-1"], "must be a number of seconds > 0"),
                         (["--emotion", "0:happy;1:sad"], "takes one emotion")):
        code, err = run(["live", *argv, "--fast"], capsys)
        assert code == 2 and needle in err and len(errors(err)) == 1, (argv, err)


def test_livelinkface_is_written_from_the_internal_track(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(["animate", GO, "--format", "livelinkface", "-o", str(tmp_path) + "/"], capsys)
    assert code == 0 and (tmp_path / "goforward.csv").read_text().startswith("Timecode,BlendShapeCount,"), err
    code, err = run(["animate", GO, "--format", "livelinkface", "--rig", "metahuman", "-o", str(tmp_path / "m")],
                    capsys)
    assert code == 2 and "does not apply" in err, err
