"""Hostile use of `mien animate`, `mien serve` and `mien bake`: odd paths, special files, collisions, odd names,
empty and huge input, stdin/stdout, signals, and links leaving the manifest's folder.

Every case checks the contract: the exit code (0 ok, 1 some inputs failed and the others were written, 2 usage or
config, 130 interrupted), a message naming the problem, never a traceback, and that nothing outside the output
was changed (every file of the case's folder, and /dev/null, are compared before and after).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import SPEECH

from .harness import mien_command
from .test_bad_input_matrix import run_cli

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Hostile:
    id: str
    argv: list[str]
    expect: int
    needle: str
    written: tuple[str, ...] = ()
    """Files (relative to the case folder) that must exist afterwards."""


def _snapshot(folder: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        st = path.lstat()
        out[rel] = path.read_bytes() if stat.S_ISREG(st.st_mode) else (stat.S_IFMT(st.st_mode), st.st_ino)
    return out


@pytest.fixture
def case_folder(tmp_path: Path) -> Iterator[Path]:
    """in/: audio, odd names and special files; out/ is where outputs may go."""
    d = tmp_path / "in"
    d.mkdir()
    for name in ("goforward", "cards_001"):
        shutil.copy(SPEECH / f"{name}.wav", d / f"{name}.wav")
        shutil.copy(SPEECH / f"{name}.txt", d / f"{name}.txt")
    (d / "a").mkdir()
    (d / "b").mkdir()
    shutil.copy(SPEECH / "goforward.wav", d / "a" / "line.wav")
    shutil.copy(SPEECH / "cards_001.wav", d / "b" / "line.wav")
    shutil.copy(SPEECH / "cards_001.wav", d / "b" / "LINE.wav")
    (d / "empty.wav").write_bytes(b"")
    (d / "garbage.wav").write_bytes(b"\x00\xff" * 3000)
    shutil.copy(SPEECH / "goforward.wav", d / "日本語 ünï ✓.wav")
    shutil.copy(SPEECH / "goforward.wav", d / "-dash.wav")
    os.mkfifo(d / "fifo")
    (d / "folder.csv").mkdir()
    (d / "devnull.csv").symlink_to("/dev/null")
    (d / "dangling.csv").symlink_to(d / "nowhere" / "x.csv")
    (d / "keep.csv").write_text("precious\n")
    (d / "small.yaml").write_text("limits:\n  max_message_bytes: 2048\n")
    (d / "bad.yaml").write_text("server: {port: 1\n")
    (d / "huge_text.txt").write_text("word " * 3000)
    (d / "text_dir").mkdir()
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(d / "sock"))
    try:
        yield tmp_path
    finally:
        sock.close()


G, C = "{in}/goforward.wav", "{in}/cards_001.wav"
CASES = [
    # -o never destroys anything
    Hostile("H01-o-dev-null", ["animate", G, "-o", "/dev/null"], 2, "a character device"),
    Hostile("H02-o-symlink-to-dev-null", ["animate", G, "-o", "{in}/devnull.csv"], 2, "a character device"),
    Hostile("H03-o-fifo", ["animate", G, "-o", "{in}/fifo"], 2, "a named pipe (FIFO)"),
    Hostile("H04-o-socket", ["animate", G, "-o", "{in}/sock"], 2, "a socket"),
    Hostile("H05-o-folder-named-csv", ["animate", G, "-o", "{in}/folder.csv"], 0, "goforward.csv",
            ("in/folder.csv/goforward.csv",)),
    Hostile("H06-o-is-the-input", ["animate", G, "--format", "csv", "-o", G], 2, "would destroy it"),
    Hostile("H07-o-is-the-beside-transcript", ["animate", G, "--transcripts", "auto", "-o", "{in}/goforward.txt"], 2,
            "would destroy it"),
    Hostile("H08-plot-is-the-track", ["animate", G, "--plot", "{out}/x.png", "--format", "csv", "-o", "{out}/x.png"],
            2, "are the same file"),
    Hostile("H09-plot-on-a-device", ["animate", G, "--plot", "/dev/null", "-o", "{out}/a.csv"], 2,
            "a character device"),
    Hostile("H10-several-into-a-file", ["animate", G, C, "-o", "{in}/keep.csv"], 2, "several inputs need a folder"),
    Hostile("H11-same-name-two-folders", ["animate", "{in}/a/line.wav", "{in}/b/line.wav", "-o", "{out}"], 2,
            "would both be written to"),
    Hostile("H12-same-name-but-case", ["animate", "{in}/b/line.wav", "{in}/b/LINE.wav", "-o", "{out}"], 2,
            "ignoring case"),
    Hostile("H13-same-input-twice", ["animate", G, G, "-o", "{out}"], 2, "would both be written to"),
    Hostile("H14-o-empty", ["animate", G, "-o", ""], 2, "-o is empty"),
    Hostile("H15-stdout-with-two-inputs", ["animate", G, C, "-o", "-"], 2, "takes one input"),
    Hostile("H16-dangling-symlink-is-followed", ["animate", G, "-o", "{in}/dangling.csv"], 0, "->",
            ("in/nowhere/x.csv",)),
    Hostile("H17-replace-a-regular-file", ["animate", G, "-o", "{in}/keep.csv"], 0, "->", ("in/keep.csv",)),
    # odd inputs: fail alone, clearly
    Hostile("H20-input-is-a-folder", ["animate", "{in}/a", G, "-o", "{out}"], 1, "is a folder, not an audio file",
            ("out/goforward.csv",)),
    Hostile("H21-input-is-empty", ["animate", "{in}/empty.wav", "-o", "{out}/a.csv"], 1, "audio is empty"),
    Hostile("H22-input-is-garbage", ["animate", "{in}/garbage.wav", "-o", "{out}/a.csv"], 1,
            "not a readable audio file"),
    Hostile("H23-input-is-a-socket", ["animate", "{in}/sock", G, "-o", "{out}"], 1, "it is a socket",
            ("out/goforward.csv",)),
    Hostile("H24-input-larger-than-the-limit", ["--config", "{in}/small.yaml", "animate", G, "-o", "{out}/a.csv"], 1,
            "larger than 2048 bytes"),
    Hostile("H25-unicode-name", ["animate", "{in}/日本語 ünï ✓.wav", "--format", "json", "-o", "{out}/"], 0, "->",
            ("out/日本語 ünï ✓.json",)),
    Hostile("H26-name-starting-with-a-dash", ["animate", "-o", "{out}/", "--", "{in}/-dash.wav"], 0, "->",
            ("out/-dash.csv",)),
    Hostile("H27-stdin-twice", ["animate", "-", "-", "-o", "{out}"], 2, "stdin) is given twice"),
    Hostile("H28-text-file-is-a-folder", ["animate", G, "--text-file", "{in}/text_dir", "-o", "{out}/a.csv"], 2,
            "it is a folder"),
    Hostile("H28b-text-file-missing", ["animate", G, "--text-file", "{in}/nope.txt", "-o", "{out}/a.csv"], 2,
            "cannot read it: No such file"),
    Hostile("H29-text-too-long", ["animate", G, "--text-file", "{in}/huge_text.txt", "-o", "{out}/a.csv"], 1,
            "the maximum is 5000"),
    Hostile("H30-rig-file-missing", ["animate", G, "--rig", "{in}/nope.yaml", "-o", "{out}/a.csv"], 2,
            "does not exist"),
    Hostile("H31-rig-file-not-a-profile", ["animate", G, "--rig", "{in}/small.yaml", "-o", "{out}/a.csv"], 2, "rig"),
    Hostile("H32-plot-format-unknown", ["animate", G, "--plot", "{out}/p.gif", "-o", "{out}/a.csv"], 2,
            "accepted: .png, .svg, .pdf"),
    Hostile("H33-fps-nan", ["animate", G, "--fps", "nan", "-o", "{out}/a.csv"], 1, "fps = nan"),
    Hostile("H34-seed-negative", ["animate", G, "--seed", "-1", "-o", "{out}/a.csv"], 1, "seed = -1"),
    Hostile("H35-emotion-keyframes-backwards", ["animate", G, "--emotion", "1:happy;0.5:sad", "-o", "{out}/a.csv"],
            2, "increasing"),
    Hostile("H36-emotion-keyframe-infinite", ["animate", G, "--emotion", "0:happy;inf:sad", "-o", "{out}/a.csv"], 2,
            "increasing"),
    # mien serve / config
    Hostile("H40-serve-port-too-big", ["serve", "--port", "70000"], 2, "accepted: 0 to 65535"),
    Hostile("H41-serve-http-port-negative", ["serve", "--http-port", "-5"], 2, "accepted: -1 to 65535"),
    Hostile("H42-serve-port-not-a-number", ["serve", "--port", "80a"], 2, "invalid int value"),
    Hostile("H43-serve-bad-host", ["serve", "--host", "no such host.invalid", "--http-port", "-1"], 2, "--host"),
    Hostile("H44-serve-config-not-yaml", ["serve", "--config", "{in}/bad.yaml"], 2, "not valid YAML"),
    Hostile("H45-config-is-a-fifo", ["--config", "{in}/fifo", "animate", G, "-o", "{out}/a.csv"], 2,
            "cannot read config file"),
    Hostile("H47-input-is-a-fifo", ["animate", "{in}/fifo", G, "-o", "{out}"], 1, "a named pipe (FIFO), not a file",
            ("out/goforward.csv",)),
    Hostile("H48-text-file-is-a-fifo", ["animate", G, "--text-file", "{in}/fifo", "-o", "{out}/a.csv"], 2,
            "a named pipe"),
    Hostile("H46-config-is-binary", ["--config", "{in}/garbage.wav", "animate", G, "-o", "{out}/a.csv"], 2,
            "not UTF-8"),
]


def _fill(arg: str, root: Path) -> str:
    return arg.replace("{in}", str(root / "in")).replace("{out}", str(root / "out"))


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_cli(case: Hostile, case_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    protected = {p: path for p, path in (("in/keep.csv", case_folder / "in" / "keep.csv"),)}
    before = _snapshot(case_folder / "in")
    null_before = os.stat("/dev/null")
    code, stderr = run_cli([_fill(a, case_folder) for a in case.argv], capsys, stdout=True)
    assert code == case.expect, stderr[-3000:]
    assert case.needle in stderr, stderr[-3000:]
    assert "Traceback" not in stderr
    after = _snapshot(case_folder / "in")
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    allowed = {w[3:] for w in case.written if w.startswith("in/")}
    allowed |= {str(Path(w).parent) for w in allowed}  # a created folder
    assert changed <= allowed, changed - allowed
    for name in case.written:
        assert (case_folder / name).is_file(), name
    if "in/keep.csv" not in case.written:
        assert protected["in/keep.csv"].read_text() == "precious\n"
    null_after = os.stat("/dev/null")
    assert stat.S_ISCHR(null_after.st_mode) and null_after.st_ino == null_before.st_ino
    assert not [p for p in case_folder.rglob("*.tmp")], "temporary files left behind"
    if case.expect == 2:
        assert not (case_folder / "out").exists() or not any((case_folder / "out").iterdir()), "usage error wrote"


# ------------------------------------------------------------------------------------ real processes


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "sidecar"), str(REPO / "bake"),
                                                         os.environ.get("PYTHONPATH", "")])}


def test_o_dev_stdout_on_a_pipe_is_refused_and_dash_writes_stdout(tmp_path: Path) -> None:
    good = str(SPEECH / "goforward.wav")
    refused = subprocess.run([*mien_command(), "animate", good, "-o", "/dev/stdout"], capture_output=True, text=True,
                             timeout=300, env=_env(), check=False)
    assert refused.returncode == 2 and "named pipe" in refused.stderr and "- for stdout" in refused.stderr, \
        refused.stderr
    assert refused.stdout == "" and "Traceback" not in refused.stderr
    piped = subprocess.run([*mien_command(), "animate", "-", "-o", "-"], input=(SPEECH / "goforward.wav").read_bytes(),
                           capture_output=True, timeout=300, env=_env(), check=False)
    assert piped.returncode == 0, piped.stderr.decode()[-2000:]
    assert piped.stdout.startswith(b"time,") and piped.stdout.count(b"\n") > 100


def test_a_closed_stdout_is_one_error_not_a_traceback(tmp_path: Path) -> None:
    proc = subprocess.Popen([*mien_command(), "animate", str(SPEECH / "goforward.wav"), "-o", "-"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader went away before the track was written (`| head` that already ended)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 1, err
    assert "stdout was closed by its reader" in err and "Traceback" not in err and "Exception ignored" not in err, err


_READ_SYSCALL = {"x86_64": "0", "aarch64": "63"}


def _wait_until_reading_stdin(proc: subprocess.Popen[bytes], timeout_s: float = 240.0) -> None:
    """Until the process's main thread blocks in read(0): started up, models loaded (a fixed sleep is a race)."""
    number = _READ_SYSCALL.get(os.uname().machine)
    if number is None:
        pytest.skip(f"no read syscall number for {os.uname().machine}")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"exited {proc.returncode} before reading stdin"
        with contextlib.suppress(OSError):  # the task may be between states
            if Path(f"/proc/{proc.pid}/syscall").read_text().split()[:2] == [number, "0x0"]:
                return
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"not reading stdin after {timeout_s} s")


def _finish(proc: subprocess.Popen[bytes], timeout_s: float = 120.0) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"still running {timeout_s} s after Ctrl-C: {err.decode(errors='replace')[-2000:]}")
    return proc.returncode, err.decode(errors="replace")


def test_ctrl_c_is_exit_130_without_traceback_or_litter(tmp_path: Path) -> None:
    proc = subprocess.Popen([*mien_command(), "animate", "-", "-o", str(tmp_path / "x.csv")], stdin=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=_env(), cwd=tmp_path)
    _wait_until_reading_stdin(proc)
    proc.send_signal(signal.SIGINT)
    code, err = _finish(proc)
    assert code == 130, err
    assert "interrupted" in err and "Traceback" not in err, err
    assert list(tmp_path.iterdir()) == []


_INTERRUPTED_WHILE_LOADING = """
import os, signal, sys, time
import mien.cli as cli

def loading(*args):  # Ctrl-C lands inside a native import, which hands it back as ImportError (onnxruntime does)
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(30)
    except KeyboardInterrupt:
        raise ImportError("initialization failed") from None
    return None  # or a guarded import swallowed it: the command would go on and wait for stdin

cli._animator = loading
sys.exit(cli.main(["animate", "-", "-o", "x.csv"]))
"""


def test_ctrl_c_while_models_load_is_exit_130_not_another_error(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", _INTERRUPTED_WHILE_LOADING], stdin=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=_env(), cwd=tmp_path)
    code, err = _finish(proc)
    assert code == 130, err
    assert "interrupted" in err and "Traceback" not in err and "ImportError" not in err, err
    assert list(tmp_path.iterdir()) == []


def test_serve_on_a_port_in_use_is_one_line_as_a_real_process(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run([*mien_command(), "serve", "--port", str(port), "--http-port", "-1"],
                              capture_output=True, text=True, timeout=120, env=_env(), check=False, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "in use" in done.stderr, done.stderr


def test_serve_when_the_port_is_taken_after_the_check_is_still_one_clear_error(tmp_path: Path) -> None:
    """The race (another process binds between the check and gRPC's bind): exit 2, no traceback."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        script = ("import sys, mien.cli as cli\ncli._port_free = lambda *args: None\n"
                  f"sys.exit(cli.main(['serve', '--port', '{port}', '--http-port', '-1']))\n")
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=_env(),
                              check=False, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and f"--port {port}: cannot listen" in done.stderr, done.stderr


# ------------------------------------------------------------------------------------ bake


def _project(root: Path) -> Path:
    folder = root / "project"
    (folder / "audio").mkdir(parents=True)
    for name in ("cards_001", "goforward"):
        shutil.copy(SPEECH / f"{name}.wav", folder / "audio" / f"{name}.wav")
    shutil.copy(SPEECH / "bake_sample_face.glb", folder / "face.glb")
    (root / "outside").mkdir()
    shutil.copy(SPEECH / "cards_003.wav", root / "outside" / "secret.wav")
    (folder / "audio" / "escape.wav").symlink_to(root / "outside" / "secret.wav")
    (folder / "linked").symlink_to(root / "outside", target_is_directory=True)
    os.mkfifo(folder / "audio" / "pipe.wav")
    (folder / "audio" / "empty.wav").write_bytes(b"")
    return folder


GOOD = "  - {id: good, character: npc, audio: audio/cards_001.wav}\n"
HEAD = "version: 1\ncharacters:\n  npc: {rig: arkit52}\nlines:\n" + GOOD
BAKE_CASES = [
    # (id, manifest text, output folder relative to the case root, extra args, exit code, needle)
    ("K01-symlink-leaves-the-folder", HEAD + "  - {id: bad, character: npc, audio: audio/escape.wav}\n", "out", [], 1,
     "outside the manifest's folder"),
    ("K02-linked-folder-leaves", HEAD + "  - {id: bad, character: npc, audio: linked/secret.wav}\n", "out", [], 1,
     "--allow-outside-inputs"),
    ("K03-allowed-outside", HEAD + "  - {id: far, character: npc, audio: audio/escape.wav}\n", "out",
     ["--allow-outside-inputs"], 0, "2 baked"),
    ("K04-report-id", HEAD + "  - {id: BAKE_REPORT, character: npc, audio: audio/cards_001.wav}\n", "out", [], 1,
     "the bake's own report"),
    ("K05-duplicate-id-by-case", HEAD + "  - {id: GOOD, character: npc, audio: audio/cards_001.wav}\n", "out", [], 1,
     "is already used"),
    ("K06-output-on-the-face-mesh", "version: 1\ncharacters:\n  npc: {rig: arkit52, face_mesh: face.glb}\nlines:\n"
     "  - {id: face, character: npc, audio: audio/cards_001.wav}\n", "project", [], 2, "would replace the input"),
    ("K07-output-on-the-manifest", "version: 1\ncharacters:\n  npc: {rig: arkit52}\nlines:\n"  # named m.json
     "  - {id: manifest, character: npc, audio: audio/cards_001.wav}\n", "project", [], 2, "would replace the input"),
    ("K08-audio-is-a-pipe", HEAD + "  - {id: bad, character: npc, audio: audio/pipe.wav}\n", "out", [], 1,
     "a named pipe"),
    ("K09-audio-is-a-folder", HEAD + "  - {id: bad, character: npc, audio: audio}\n", "out", [], 1, "a folder"),
    ("K10-audio-empty", HEAD + "  - {id: bad, character: npc, audio: audio/empty.wav}\n", "out", [], 1,
     "audio is empty"),
    ("K11-unicode-id", HEAD + "  - {id: 'línea_1', character: npc, audio: audio/cards_001.wav}\n", "out", [], 1,
     "not a safe file name"),
    ("K12-output-is-a-file", HEAD, "project/face.glb", [], 2, "cannot use the output folder"),
    ("K13-output-is-dev-null", HEAD, "/dev/null", [], 2, "cannot use the output folder"),
    ("K14-jobs-negative", HEAD, "out", ["--jobs", "-1"], 2, "--jobs must be >= 0"),
    ("K15-reserved-device-name", HEAD + "  - {id: con, character: npc, audio: audio/cards_001.wav}\n", "out", [], 1,
     "reserved device name"),
    ("K16-manifest-is-empty", "", "out", [], 2, "the manifest must be a mapping"),
    ("K17-output-is-a-dash", HEAD, "-", [], 2, "give the output folder"),
    ("K18-jobs-huge", HEAD, "out", ["--jobs", "100000"], 2, "accepted: 0 to 256"),
    ("K19-livelinkface-name-clash", "version: 1\ndefaults: {formats: [csv, livelinkface]}\ncharacters:\n"
     "  npc: {rig: arkit52}\nlines:\n" + GOOD + "  - {id: good.livelinkface, character: npc, audio: "
     "audio/cards_001.wav}\n", "out", [], 1, "the name of a file of lines[0]"),
]


@pytest.mark.parametrize(("text", "out", "extra", "expect", "needle"),
                         [pytest.param(*c[1:], id=c[0]) for c in BAKE_CASES])
def test_bake(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, out: str, extra: list[str],
              expect: int, needle: str) -> None:
    folder = _project(tmp_path)
    manifest = folder / ("manifest.json" if "id: manifest," in text else "manifest.yaml")  # YAML is a JSON superset
    manifest.write_text(text)
    before = _snapshot(folder)
    outside = _snapshot(tmp_path / "outside")
    target = out if out.startswith("/") or out == "-" else str(tmp_path / out)
    code, stderr = run_cli(["bake", str(manifest), "-o", target, "--jobs", "1", "--progress", "none", *extra], capsys,
                           stdout=True)
    output = stderr
    assert code == expect, output[-3000:]
    assert needle in output, output[-3000:]
    assert "Traceback" not in output
    after = _snapshot(folder)
    if out == "project":
        assert after == before, "the bake changed its own inputs"
    else:
        assert {k: v for k, v in after.items() if not k.startswith(".mien-bake")} == before
    assert _snapshot(tmp_path / "outside") == outside
