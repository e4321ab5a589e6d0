"""How fast is the distillation loop? Its overhead, two peers, the lockstep sweep, peak memory.

    python bench.py --quick                              # small models: under a minute on 2 CPU cores
    python bench.py                                      # MiniLM-sized teacher (the offline setup)
    python bench.py --teacher bert-base --device cuda    # the paper's teacher size, on a GPU

1. overhead = t(distillation step) / (t(student step on CE alone) + t(teacher forward, no grad)),
   on the same batches: what distill.py adds to the work that no loop can avoid. Target <= 1.10.
2. peers, on the same models, batches, steps and losses (CE + KL + 3 x hidden, forward matching,
   copy init): the authors' approach, a Hugging Face Trainer whose compute_loss adds the KD terms,
   and TextBrewer's GeneralDistiller with intermediate_matches (when it imports). Reported as
   our time / their time: below 1 means we are faster.
3. sweep: the 5 strategies x 2 inits of one task, trained in lockstep (one train() call, one
   teacher forward per batch) against 10 separate train() calls. Target <= 0.6.
4. peak memory of each: how far the peak rose above the memory in use before the measured work
   (CPU: peak resident set, getrusage maxrss after resetting it through /proc/self/clear_refs,
   so Linux only; GPU: torch.cuda.max_memory_allocated). Every measurement runs in a fresh
   subprocess (`bench.py ... --measure NAME`), so that no peak and no warm cache leaks into another.

Models are built from their configs with random weights (a step costs the same whatever the
weights are), so only a tokenizer is needed: by default the packaged MiniLM's. A time per step is
(t(warm-up + n steps) - t(warm-up steps)) / n over two fresh trainings, the best of --repeats:
set-up costs (optimiser, Trainer, the first step's allocations) cancel. Results go to
results/bench-<device>[-quick].json and .md; the last line printed is machine-readable:
    overhead=<ratio> sweep=<ratio>
"""
import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import transformers as tf

import cli
import data
import distill
import families
import losses

TEACHERS = {  # BERT shapes: layers, width, heads, feed-forward width
    "tiny": dict(num_hidden_layers=6, hidden_size=128, num_attention_heads=2, intermediate_size=512),
    "minilm": dict(num_hidden_layers=6, hidden_size=384, num_attention_heads=12, intermediate_size=1536),
    "bert-base": dict(num_hidden_layers=12, hidden_size=768, num_attention_heads=12, intermediate_size=3072),
}
SWEEP = [(init, strategy) for init in ("copy", "random") for strategy in ("none", "forward", "reverse",
                                                                          "all-to-one", "random")]
MEASUREMENTS = ("teacher", "ce", "distill", "trainer", "textbrewer", "lockstep", "separate")
PEERS = ("trainer", "textbrewer")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a = p.add_argument
    a("--quick", action="store_true", help="small models and few steps (default settings below otherwise)")
    a("--teacher", choices=TEACHERS, help="teacher shape (default: minilm; tiny with --quick)")
    a("--student-layers", type=int, default=3, help="student depth (the paper's: 3)")
    a("--task", default="synth-sentiment", choices=("synth-sentiment", "rt-sentiment", "bible-paraphrase"),
      help="offline classification task whose sentences make the batches (default: synth-sentiment, the "
      "template task the committed timings ran on; rt-sentiment: real, longer snippets)")
    a("--batch-size", type=int, default=32, help="rows per batch (the paper's: 32)")
    a("--warmup", type=int, help="warm-up steps, excluded from times (default: 5; 2 with --quick)")
    a("--steps", type=int, help="timed steps per measurement and per sweep run (default: 30; 8 with --quick)")
    a("--repeats", type=int, help="timings per measurement, the best kept (default: 3; 1 with --quick)")
    a("--device", default="cuda" if torch.cuda.is_available() else "cpu",
      help="cpu or cuda (default: cuda if available); bf16 autocast on CUDA, as distill.py")
    a("--threads", type=int, help="torch CPU threads (default: torch's choice, one per core; 1 with --quick, "
      "since on a small shared machine one busy core makes multi-threaded steps collapse)")
    a("--tokenizer", help="tokenizer directory (default: the packaged MiniLM's)")
    a("--out", help="results file stem (default: results/bench-<device>[-quick])")
    a("--measure", choices=MEASUREMENTS, help=argparse.SUPPRESS)  # internal: one measurement, in a subprocess
    args = p.parse_args(argv)
    quick = args.quick
    args.teacher = args.teacher or ("tiny" if quick else "minilm")
    args.warmup = args.warmup or (2 if quick else 5)
    args.steps = args.steps or (8 if quick else 30)
    args.repeats = args.repeats or (1 if quick else 3)
    args.threads = args.threads or (1 if quick else None)
    args.out = args.out or f"results/bench-{torch.device(args.device).type}{'-quick' if quick else ''}"
    return args


# ----------------------------------------------------------------------------- set-up
def setup(args):
    """Tokenizer, training rows, a random teacher and distill.py's settings, as one plain dict."""
    tokenizer = tf.AutoTokenizer.from_pretrained(args.tokenizer or families.minilm_path())
    n_rows = args.batch_size * max(args.warmup + args.steps, 2)
    task = data.load_task(args.task, n_train=n_rows)
    rows = data.encode(task, task["train"], tokenizer, max_length=128)
    config = tf.BertConfig(vocab_size=tokenizer.vocab_size, num_labels=task["num_labels"], **TEACHERS[args.teacher])
    torch.manual_seed(0)
    teacher = tf.BertForSequenceClassification(config).to(args.device).eval()
    settings = cli.resolve_settings(cli.parse_args([
        "--batch-size", str(args.batch_size), "--student-layers", str(args.student_layers), "--device", args.device,
        "--lr", "1e-5"]), task)
    return dict(tokenizer=tokenizer, task=task, rows=rows, teacher=teacher, settings=settings,
                device=torch.device(args.device), out=Path(tempfile.mkdtemp(prefix="bench-")))


def new_run(s, init="copy", strategy="forward"):
    plan = distill.plan_run(s["teacher"].config, s["settings"], init, strategy, 0, s["out"] / f"{init}-{strategy}")
    return distill.make_run(s["teacher"], plan, s["settings"])


def ours(s, runs, teacher, steps):
    plan = {**cli.schedule(s["settings"], len(s["rows"]), "student"), "steps": steps, "eval_steps": set()}
    distill.train(runs, teacher, {"train": s["rows"], "dev": {}}, s["task"], s["tokenizer"], s["settings"], plan,
                  cli.loss_settings(s["settings"], "student"), desc="bench")


# ----------------------------------------------------------------------------- what is timed
def first_epoch(rows):
    """The rows in the order of distill.train's first epoch (data.batches' shuffle with seed 0):
    the peers read them in this order, so that every loop sees the same batches."""
    indices = list(range(len(rows)))
    random.Random(0).shuffle(indices)
    return [rows[i] for i in indices]


def teacher_forwards(s, steps):
    batches = data.batches(s["rows"], s["settings"].batch_size, s["tokenizer"].pad_token_id, order="shuffle", seed=0)
    for step in range(steps):
        batch = data.to_device(batches[step % len(batches)], s["device"])
        with torch.no_grad(), distill.autocast(s["device"], s["settings"].bf16):
            s["teacher"](**data.model_inputs(batch))


def ce_steps(s, steps):
    ours(s, [new_run(s)], None, steps)


def distill_steps(s, steps):
    ours(s, [new_run(s)], s["teacher"], steps)


def trainer_steps(s, steps):
    """The authors' approach: a Hugging Face Trainer whose compute_loss adds KL and the hidden loss
    (distill.py's own loss functions, so that only the loop around them differs)."""
    teacher, settings = s["teacher"], s["settings"]
    run = new_run(s)
    pairs = run.pairs["encoder"]

    class DistillationTrainer(tf.Trainer):
        def _get_train_sampler(self, *args):
            return torch.utils.data.SequentialSampler(self.train_dataset)  # rows come in first_epoch order

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            # Trainer's bf16 covers the student only
            with torch.no_grad(), distill.autocast(s["device"], settings.bf16):
                teacher_outputs = teacher(**inputs, output_hidden_states=True)
            outputs = model(**inputs, output_hidden_states=True)
            loss = (outputs.loss + losses.kd_loss(outputs.logits, teacher_outputs.logits)
                    + 3 * losses.hidden_loss(outputs.hidden_states, teacher_outputs.hidden_states, pairs,
                                             inputs["attention_mask"], "bert"))
            return (loss, outputs) if return_outputs else loss

    arguments = tf.TrainingArguments(
        output_dir=str(s["out"] / "trainer"), per_device_train_batch_size=settings.batch_size, max_steps=steps,
        learning_rate=settings.lr, lr_scheduler_type="linear", warmup_steps=0, max_grad_norm=settings.max_grad_norm,
        optim="adamw_torch_fused", logging_steps=50, save_strategy="no", report_to="none", disable_tqdm=True,
        remove_unused_columns=False, use_cpu=s["device"].type == "cpu", bf16=s["device"].type == "cuda", seed=0)
    DistillationTrainer(model=run.model, args=arguments, train_dataset=first_epoch(s["rows"]),
                        data_collator=lambda rows: data.collate(rows, s["tokenizer"].pad_token_id)).train()


def textbrewer_steps(s, steps):
    """TextBrewer's GeneralDistiller, the same pairs as intermediate_matches. Its hidden_mse is an
    element-wise mean (ours: the authors' reduction), a different scale for the same work."""
    import textbrewer
    run, settings = new_run(s), s["settings"]
    pairs = run.pairs["encoder"]
    matches = [{"layer_T": t, "layer_S": st, "feature": "hidden", "loss": "hidden_mse", "weight": 3 / len(pairs)}
               for st, t in pairs]
    distillation = textbrewer.DistillationConfig(temperature=1, hard_label_weight=1, kd_loss_type="ce",
                                                 kd_loss_weight=1, intermediate_matches=matches)
    training = textbrewer.TrainingConfig(device=s["device"], output_dir=str(s["out"] / "textbrewer"),
                                         ckpt_steps=steps)

    def adaptor(batch, outputs):
        return {"logits": outputs.logits, "hidden": outputs.hidden_states, "inputs_mask": batch["attention_mask"],
                "losses": outputs.loss}
    distiller = textbrewer.GeneralDistiller(train_config=training, distill_config=distillation,
                                            model_T=s["teacher"], model_S=run.model.to(s["device"]),
                                            adaptor_T=adaptor, adaptor_S=adaptor)
    loader = torch.utils.data.DataLoader(first_epoch(s["rows"]), batch_size=settings.batch_size,
                                         collate_fn=lambda rows: data.collate(rows, s["tokenizer"].pad_token_id))
    optimizer = torch.optim.AdamW([p for p in run.model.parameters() if p.requires_grad], lr=settings.lr,
                                  fused=True)
    # TextBrewer has no bf16 switch: autocast from outside
    with distiller, distill.autocast(s["device"], settings.bf16):
        distiller.train(optimizer, loader, num_steps=steps, max_grad_norm=settings.max_grad_norm,
                        scheduler_class=distill.linear_schedule,
                        scheduler_args={"warmup_steps": 0, "total_steps": steps},
                        output_hidden_states=True)


def lockstep_sweep(s, steps):
    ours(s, [new_run(s, init, strategy) for init, strategy in SWEEP], s["teacher"], steps)


def separate_sweep(s, steps):
    for init, strategy in SWEEP:
        ours(s, [new_run(s, init, strategy)], s["teacher"], steps)


STEPS = {"teacher": teacher_forwards, "ce": ce_steps, "distill": distill_steps, "trainer": trainer_steps,
         "textbrewer": textbrewer_steps, "lockstep": lockstep_sweep, "separate": separate_sweep}


# ----------------------------------------------------------------------------- one measurement
def clock(device):
    """Wall time; on a CPU with one torch thread, this process's CPU time instead: the same on a
    quiet machine, and blind to the other processes that share the cores of a busy one."""
    if device.type == "cpu" and torch.get_num_threads() == 1:
        return time.process_time
    return time.perf_counter


def timed(work, s, steps):
    now = clock(s["device"])
    if s["device"].type == "cuda":
        torch.cuda.synchronize()
    started = now()
    work(s, steps)
    if s["device"].type == "cuda":
        torch.cuda.synchronize()
    return now() - started


def memory_now(device):
    """Memory in use, and the peak reset to it."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        return torch.cuda.memory_allocated()
    Path("/proc/self/clear_refs").write_text("5")  # Linux: the peak resident set restarts from here
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_peak(device):
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def measure(args):
    """Seconds (per step; for the sweeps, the whole sweep) and the peak memory rise, as a dict."""
    s = setup(args)
    work = STEPS[args.measure]
    before = memory_now(s["device"])
    sweep = args.measure in ("lockstep", "separate")
    # untimed: one-time costs (lazy imports, thread pools, first allocations, CUDA kernels) stay out
    (distill_steps if sweep else work)(s, args.warmup)
    if sweep:
        seconds = min(timed(work, s, args.steps) for _ in range(args.repeats))
    else:
        short = min(timed(work, s, args.warmup) for _ in range(args.repeats))
        long = min(timed(work, s, args.warmup + args.steps) for _ in range(args.repeats))
        seconds = (long - short) / args.steps
    return {"seconds": seconds, "peak_mib": (memory_peak(s["device"]) - before) / 2 ** 20}


def run_measurement(name, argv):
    """One measurement in a fresh subprocess; a peer that cannot run gives its reason instead."""
    done = subprocess.run([sys.executable, __file__, *argv, "--measure", name], capture_output=True, text=True)
    if done.returncode == 0:
        return json.loads(done.stdout.strip().splitlines()[-1])
    reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
    if name in PEERS:
        return {"error": reason}
    sys.exit(f"error: measurement {name} failed: {reason}")


# ----------------------------------------------------------------------------- report
def machine(args):
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    device = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU, {cpu}"
    return {"device": device, "host": platform.node(), "cpu_cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "torch": torch.__version__, "transformers": tf.__version__,
            "python": platform.python_version(), "date": datetime.date.today().isoformat(),
            **{package: installed_version(package) for package in ("accelerate", "textbrewer")}}


def installed_version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def ratios(results):
    step = {name: results[name].get("seconds") for name in results}
    found = {"overhead": step["distill"] / (step["ce"] + step["teacher"]),
             "sweep": step["lockstep"] / step["separate"]}
    for peer in PEERS:
        found[f"ours/{peer}"] = step["distill"] / step[peer] if step[peer] else None
    return found


def table(args, results, found, about):
    def row(label, name, ratio=""):
        result = results[name]
        if "error" in result:
            return f"| {label} | - | not run: {result['error'][:90]} | - |"
        unit = "s (whole sweep)" if name in ("lockstep", "separate") else "s/step"
        return f"| {label} | {result['seconds']:.4f} {unit} | {ratio} | {result['peak_mib']:.0f} |"
    peer_ratio = {p: f"ours/peer = {found[f'ours/{p}']:.2f}" if found[f"ours/{p}"] else "" for p in PEERS}
    memory = "GPU max_memory_allocated" if args.device.startswith("cuda") else "peak RSS (getrusage maxrss)"
    return "\n".join([
        f"{about['device']}, {about['cpu_cores']} cores, torch {about['torch']} ({about['torch_threads']} threads), "
        f"transformers {about['transformers']}, {about['date']}",
        f"teacher {args.teacher} ({TEACHERS[args.teacher]['num_hidden_layers']} layers x "
        f"{TEACHERS[args.teacher]['hidden_size']}), student {args.student_layers} layers, batch {args.batch_size}, "
        f"{args.task}, {args.steps} timed steps after {args.warmup}, best of {args.repeats}, "
        f"{'process CPU time' if clock(torch.device(args.device)) is time.process_time else 'wall time'}"
        f"{', bf16 autocast' if args.device.startswith('cuda') else ', fp32'}",
        "",
        f"| measurement | time | ratio | peak memory rise (MiB, {memory}) |",
        "|---|---|---|---|",
        row("teacher forward, no grad", "teacher"),
        row("student step, CE only", "ce"),
        row("distillation step (ours: CE + KL + 3 x hidden, forward, copy init)", "distill",
            f"overhead = {found['overhead']:.3f}"),
        row("Hugging Face Trainer subclass, same losses (authors' approach)", "trainer", peer_ratio["trainer"]),
        row("TextBrewer GeneralDistiller, same pairs", "textbrewer", peer_ratio["textbrewer"]),
        row("sweep 5 strategies x 2 inits: 10 separate train() calls", "separate"),
        row("sweep 5 strategies x 2 inits: lockstep, one train() call", "lockstep",
            f"sweep = {found['sweep']:.3f}"),
    ])


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    tf.logging.set_verbosity_error()
    if args.measure:
        print(json.dumps(measure(args)))
        return
    results = {}
    for name in MEASUREMENTS:
        print(f"measuring {name} ...", file=sys.stderr, flush=True)
        results[name] = run_measurement(name, sys.argv[1:])
    found, about = ratios(results), machine(args)
    report = table(args, results, found, about)
    print(report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(report + "\n")
    settings = {key: value for key, value in vars(args).items() if key != "measure"}
    out.with_suffix(".json").write_text(json.dumps({"machine": about, "settings": settings, "results": results,
                                                    "ratios": found}, indent=2) + "\n")
    print(f"overhead={found['overhead']:.3f} sweep={found['sweep']:.3f}")


if __name__ == "__main__":
    main()
