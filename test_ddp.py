"""distill.py under torchrun: 2 CPU processes (gloo) on a tiny model."""
import json
import os
import subprocess
import sys

import pytest
import torch
import transformers as tf
from safetensors.torch import load_file

import distill
import families
from test_distill import tiny_bert

COMMON = ["--n-train", 64, "--max-steps", 6, "--max-length", 32, "--lr", "1e-3", "--init", "random",
          "--student-layers", 2, "--student-width", 16]


@pytest.fixture(scope="module")
def teacher_without_dropout(tmp_path_factory):
    """A tiny teacher whose students have no dropout, so that runs can be compared exactly."""
    directory = tmp_path_factory.mktemp("teacher")
    teacher = tiny_bert(layers=4)
    teacher.config.hidden_dropout_prob = teacher.config.attention_probs_dropout_prob = 0.0
    teacher.save_pretrained(directory)
    tf.AutoTokenizer.from_pretrained(families.minilm_path()).save_pretrained(directory)
    return directory


def test_two_processes_equal_one_process_with_twice_the_batch(teacher_without_dropout, tmp_path):
    """DDP averages the two ranks' gradients, and rank r takes every other batch of the same
    shuffle: with CE + KL (means over the batch), 2 processes x 8 rows must train exactly like
    1 process x 16 rows. A second lockstep student checks the hidden loss and its projections."""
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
              "distill.py", "--teacher", teacher_without_dropout, "--batch-size", 8, "--strategy", "none,forward",
              "--device", "cpu", "--out", tmp_path / "ddp", *COMMON]
    one_thread_each = {**os.environ, "OMP_NUM_THREADS": "1"}  # two processes on a small machine
    finished = subprocess.run(list(map(str, launch)), capture_output=True, text=True, timeout=120,
                              env=one_thread_each)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert finished.stdout.count("best dev") == 2  # rank 0 alone reports (one line per student)
    assert sorted(p.parent.name for p in (tmp_path / "ddp").glob("*/metrics.json")) == [
        "random-forward-seed0", "random-none-seed0"]
    metrics = json.loads((tmp_path / "ddp" / "random-none-seed0" / "metrics.json").read_text())
    assert metrics["processes"] == 2 and metrics["steps"] == 6

    distill.main(list(map(str, ["--teacher", teacher_without_dropout, "--batch-size", 16, "--strategy", "none",
                                "--out", tmp_path / "single", *COMMON])))
    ddp = load_file(tmp_path / "ddp" / "random-none-seed0" / "model.safetensors")
    single = load_file(tmp_path / "single" / "model.safetensors")
    assert ddp.keys() == single.keys()
    for key in single:
        torch.testing.assert_close(ddp[key], single[key], rtol=1e-4, atol=1e-5, msg=key)


def test_a_ddp_job_stopped_by_sigterm_resumes_as_a_whole_to_the_same_result(teacher_without_dropout, tmp_path):
    """torchrun forwards SIGTERM to both ranks; they stop together at the same step, rank 0 writes the
    checkpoint, and the same command resumes both ranks from it to the uninterrupted run's weights."""
    import signal
    import time
    from test_checkpoints import result

    def launch(out):
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                   "distill.py", "--teacher", teacher_without_dropout, "--batch-size", 8, "--strategy", "none,forward",
                   "--device", "cpu", "--n-train", 64, "--max-length", 32, "--lr", "1e-3", "--init", "random",
                   "--student-layers", 2, "--epochs", 100, "--max-steps", 120, "--eval-every", 20, "--out", out]
        return subprocess.Popen(list(map(str, command)), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env={**os.environ, "OMP_NUM_THREADS": "1"})
    whole = launch(tmp_path / "whole")
    assert whole.wait(timeout=300) == 0, whole.stdout.read()[-2000:]
    stopped = launch(tmp_path / "cut")
    manifest = tmp_path / "cut" / "checkpoint" / "manifest.json"
    while not (manifest.exists() and json.loads(manifest.read_text())["step"] >= 40):
        assert stopped.poll() is None, stopped.stdout.read()[-2000:]
        time.sleep(0.01)
    stopped.send_signal(signal.SIGTERM)
    output = stopped.communicate(timeout=120)[0]
    assert stopped.returncode != 0 and "stopped by a signal at step" in output
    resumed = launch(tmp_path / "cut")
    output = resumed.communicate(timeout=300)[0]
    assert resumed.returncode == 0 and "resumed at step" in output, output[-2000:]
    assert result(tmp_path / "cut") == result(tmp_path / "whole")
