"""Resumable jobs: every model of a job writes its training state at each dev evaluation (and once on
SIGTERM or SIGINT), and the same command run again carries on from there, to the same result.

A job's checkpoint is the folder <directory>/checkpoint/ (the job's --out, or the teacher's directory):
one file per model (<name>-<stage>-step<k>.pt: weights, optimiser and schedule, its random stream, the
best dev checkpoint so far, its history and log), one for the job (the batch order's position and the
mixup stream), then manifest.json naming them with the stage, the step and the settings. Each file is
written to a temporary name and renamed, the manifest last, and the files it no longer names are
removed only after it is written: a kill at any moment leaves the previous checkpoint whole.
"""
import dataclasses
import json
import os
import shutil
import signal
from pathlib import Path

import torch

# Settings that may differ between the run that wrote a checkpoint and the one that resumes it: where
# and how fast it runs, not what it computes.
FREE_TO_CHANGE = ("overwrite", "keep_checkpoints", "threads", "device", "list_tasks")
STOP = {"signal": None}  # set by the handler; train() checks it at every log step


def stop_on_signals():
    """SIGTERM and SIGINT (pre-emption, a time limit, Ctrl-C) ask the job to write a checkpoint at its next
    log step (every 50 steps and at each evaluation: distill.train) and exit; a second signal stops it at
    once, as the default handlers do."""
    def handler(number, frame):
        STOP["signal"] = number
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    STOP["signal"] = None
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def settings_record(args):
    """The command line as the checkpoint keeps it: every flag that changes what the job computes."""
    return {key: value for key, value in sorted(vars(args).items()) if key not in FREE_TO_CHANGE}


# What a teacher's fine-tuning depends on: its checkpoint is refused only when one of these differs.
TEACHER_SETTINGS = ("task", "train_file", "dev_file", "n_train", "n_dev", "max_length", "max_target_length",
                    "source_prefix", "batch_size", "grad_accumulation", "batch_order", "task_vocab", "weight_decay",
                    "max_grad_norm", "bf16", "lora_alpha", "lora_dropout", "lora_targets", "select_by",
                    "coqa_train_rows")


def teacher_record(settings):
    return {key: value for key, value in sorted(vars(settings).items())
            if (key.startswith("teacher") or key in TEACHER_SETTINGS) and key not in ("teacher", "teacher_lr_given")}


def differences(saved, now):
    return [f"--{key.replace('_', '-')} {saved.get(key)} (now {now.get(key)})"
            for key in sorted(set(saved) | set(now)) if saved.get(key) != now.get(key)]


def run_state(run):
    return {"model": run.model.state_dict(), "optimizer": run.optimizer.state_dict() if run.optimizer else None,
            "scheduler": run.scheduler.state_dict() if run.scheduler else None, "random_state": run.random_state,
            "cuda_random_state": run.cuda_random_state, "loss_sums": run.loss_sums, "log": run.log,
            "history": run.history, "best": dataclasses.asdict(run.best) if run.best else None, "failed": run.failed}


def write(path, payload):
    temporary = path.with_name(path.name + ".tmp")
    torch.save(payload, temporary)
    os.replace(temporary, path)


def save(directory, runs, stage, step, job_state, record):
    """Write every run's state and the job's, then the manifest; print the size per run the first time."""
    folder = Path(directory, "checkpoint")
    first = not (folder / "manifest.json").exists()
    folder.mkdir(parents=True, exist_ok=True)
    names = {}
    for run in runs:
        names[run_name(run)] = f"{run_name(run)}-{stage}-step{step}.pt"
        write(folder / names[run_name(run)], run_state(run))
    job_file = f"job-{stage}-step{step}.pt"
    write(folder / job_file, job_state)
    manifest = {"stage": stage, "step": step, "runs": names, "job": job_file, "settings": record}
    temporary = folder / "manifest.json.tmp"
    temporary.write_text(json.dumps(manifest, indent=1) + "\n")
    os.replace(temporary, folder / "manifest.json")
    kept = set(names.values()) | {job_file, "manifest.json"}
    for path in folder.iterdir():
        if path.name not in kept:
            path.unlink()
    if first:
        size = max((folder / name).stat().st_size for name in names.values())
        print(f"checkpoint: {folder}, {size / 2 ** 20:.0f} MiB per model, rewritten at every evaluation")


def run_name(run):
    return run.plan.name if run.plan else "teacher"


def load(directory, record):
    """The checkpoint in <directory>/checkpoint as {stage, step, runs: {name: state}, job: state}, or None.
    One written under other settings is refused, naming every flag that differs."""
    folder = Path(directory, "checkpoint")
    if not (folder / "manifest.json").exists():
        return None
    manifest = json.loads((folder / "manifest.json").read_text())
    changed = differences(manifest["settings"], json.loads(json.dumps(record)))
    if changed:
        raise ValueError(f"{folder} holds a checkpoint of this job under other settings: {'; '.join(changed)}. "
                         f"Run it with the same flags to resume, or delete {folder} to start over")
    return {"stage": manifest["stage"], "step": manifest["step"], "job": torch.load(folder / manifest["job"]),
            "runs": {name: torch.load(folder / file, weights_only=False) for name, file in manifest["runs"].items()}}


def restore(run, state, checkpoint_type):
    """A run as it was when `state` was written (its optimiser and schedule already made by train())."""
    run.model.load_state_dict(state["model"])
    if state["optimizer"] is not None and run.optimizer is not None:
        run.optimizer.load_state_dict(state["optimizer"])
        run.scheduler.load_state_dict(state["scheduler"])
    run.random_state, run.cuda_random_state = state["random_state"], state["cuda_random_state"]
    run.loss_sums, run.log, run.history, run.failed = state["loss_sums"], state["log"], state["history"], state["failed"]
    run.best = checkpoint_type(**state["best"]) if state["best"] else None
    if run.failed:
        run.model.to("cpu")
        run.optimizer = run.scheduler = None


def remove(directory):
    shutil.rmtree(Path(directory, "checkpoint"), ignore_errors=True)
