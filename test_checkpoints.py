"""A stopped job resumes where it stopped, with the same result (checkpoints.py): real processes, real
signals, tiny models."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import distill

HERE = Path(__file__).parent


def job(teacher, out, *extra):
    """Two students in lockstep, evaluated every 25 of 150 steps (a checkpoint at each evaluation)."""
    return ["--teacher", str(teacher), "--n-train", "64", "--n-dev", "64", "--student-layers", "2", "--max-length", "16", "--epochs", "200",
            "--max-steps", "150", "--eval-every", "25", "--lr", "1e-3", "--strategy", "forward,reverse",
            "--threads", "1", "--out", str(out), *map(str, extra)]


def start(argv):
    return subprocess.Popen([sys.executable, "distill.py", *argv], cwd=HERE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def wait_for_checkpoint(process, out, step=50):
    """Block until the job's manifest names a step of at least `step`; the job must still be running."""
    manifest = out / "checkpoint" / "manifest.json"
    while not (manifest.exists() and json.loads(manifest.read_text())["step"] >= step):
        assert process.poll() is None, process.stdout.read()
        time.sleep(0.01)


def result(out):
    """Every student's metrics (but its wall time) and weights."""
    runs = {}
    for metrics in sorted(out.glob("*/metrics.json")):
        saved = json.loads(metrics.read_text())
        saved.pop("wall_time_s")
        saved["settings"].pop("threads"), saved["settings"].pop("out")
        runs[metrics.parent.name] = (saved, (metrics.parent / "model.safetensors").read_bytes())
    return runs


@pytest.fixture(scope="module")
def uninterrupted(tiny_teacher_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("whole") / "out"
    distill.main(job(tiny_teacher_dir, out))
    assert not (out / "checkpoint").exists()  # removed when the job finishes
    return result(out)


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_job_resumes_to_the_same_metrics_and_weights(tiny_teacher_dir, tmp_path, uninterrupted, how):
    """SIGKILL: a node failure, resumed from the last evaluation's checkpoint. SIGTERM: pre-emption, the job
    writes a checkpoint after its current step (under torchrun, at its next log step) and exits."""
    out = tmp_path / "out"
    process = start(job(tiny_teacher_dir, out))
    wait_for_checkpoint(process, out)
    process.send_signal(how)
    output = process.communicate(timeout=120)[0]
    assert process.returncode != 0 and not list(out.glob("*/metrics.json"))
    if how == signal.SIGTERM:
        assert "stopped by a signal at step" in output and "run the same command again" in output
    assert "MiB per model" in output  # the checkpoint's size, at its first write
    resumed = start(job(tiny_teacher_dir, out))
    output = resumed.communicate(timeout=300)[0]
    assert resumed.returncode == 0, output
    assert "resumed at step" in output
    assert result(out) == uninterrupted
    assert not (out / "checkpoint").exists()


def test_a_kill_during_a_checkpoint_write_leaves_the_previous_one_whole(tiny_teacher_dir, tmp_path, uninterrupted):
    out = tmp_path / "out"
    process = start(job(tiny_teacher_dir, out))
    wait_for_checkpoint(process, out)
    process.kill()
    process.communicate(timeout=60)
    # what a kill half-way through the next write leaves: a temporary file and a run file no manifest names
    folder = out / "checkpoint"
    (folder / "copy-forward-seed0-student-step999.pt.tmp").write_bytes(b"half a file")
    (folder / "copy-forward-seed0-student-step999.pt").write_bytes(b"half a file")
    distill.main(job(tiny_teacher_dir, out))
    assert result(out) == uninterrupted


def test_a_checkpoint_of_other_settings_is_refused_naming_the_flags(tiny_teacher_dir, tmp_path):
    out = tmp_path / "out"
    process = start(job(tiny_teacher_dir, out))
    wait_for_checkpoint(process, out, step=25)
    process.kill()
    process.communicate(timeout=60)
    manifest = (out / "checkpoint" / "manifest.json").read_text()
    with pytest.raises(SystemExit) as exit_info:
        distill.main(job(tiny_teacher_dir, out, "--lr", "2e-3", "--temperature", "2"))
    message = str(exit_info.value)
    assert message.startswith(f"error: {out}/checkpoint holds a checkpoint of this job under other settings: ")
    assert "--lr 0.001 (now 0.002); --temperature 1.0 (now 2.0)" in message and len(message.splitlines()) == 1
    assert (out / "checkpoint" / "manifest.json").read_text() == manifest  # nothing touched
    distill.main(job(tiny_teacher_dir, out, "--threads", "2"))  # where and how fast it runs may change
    assert len(list(out.glob("*/metrics.json"))) == 2
