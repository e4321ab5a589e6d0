"""Intermediate-layer matching knowledge distillation, in one readable loop.

    python distill.py                                     # offline default: rt-sentiment, MiniLM teacher
    python distill.py --task sst2                         # the paper's setup (bert-base-uncased; needs the hub)
    python distill.py --strategy forward,reverse --init copy,random   # 4 students in lockstep

Steps (Yu, Wen, Mou 2025, Section 3):
1. fine-tune the teacher on the task (or load one with --teacher DIR); it is saved
   and reused by every later student run of the same task;
2. build the student: the teacher's architecture with fewer layers, initialised by
   copying the teacher's embeddings and selected blocks (copy) or fresh (random);
3. train it on  a_ce * CE(gold) + a_kl * KL(teacher || student) + a_hid * L_hid,
   where L_hid pulls matched student hidden states towards teacher hidden states,
   the pairs coming from mapping.match(strategy) and the terms from losses.py
   (--stage1-epochs: the matching term first, then CE + KL alone, as the related studies);
4. evaluate on the dev set every --eval-every steps, keep the best checkpoint, and
   write metrics.json, the student (save_pretrained) and log.txt to --out.

Comma-separated values of --strategy, --init and --seed train every combination in
lockstep, each writing to --out/<init>-<strategy>-seed<seed>. Students of the same data
seed share each batch and one teacher pass over it; each has its own optimiser and its own
random stream, so its result is the one it would get alone. Encoder-decoder models (BART,
T5, BERT2BERT) use the same loop; their encoder and decoder stacks are matched separately
with the same strategy. So do decoder-only language models (Llama, Qwen2/3, Mistral, GPT-2;
the paper's v2 LLM section): one 'decoder' stack, no embedding pair, hidden states
L2-normalised per token, KL per next token, perplexity or the task's metric on dev, and
optionally LoRA students (--lora). Where each model family keeps its parts is in families.py.
"""
import contextlib
import dataclasses
import functools
import json
import math
import os
import random
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

import checkpoints
import cli
import data
import families
import losses
import mapping
import processes
import related
import scoring


# ----------------------------------------------------------------------------- 1. the teacher
def get_teacher(task, settings, encoded):
    """The fine-tuned teacher: --teacher DIR, a saved one in --teacher-dir, or fine-tune now.
    Returns (teacher, tokenizer, {"metrics": its dev metrics, "warning": a classifier's warning or None},
    its directory). A generation teacher has targets and beams of its own (--teacher-max-target-length,
    --teacher-num-beams)."""
    import transformers as tf
    directory, ready = cli.teacher_directory(task, settings)
    if not ready:
        return fine_tune_teacher(task, settings, encoded, directory)
    teacher, tokenizer = families.load_model(directory, task["kind"]), tf.AutoTokenizer.from_pretrained(directory)
    families.check_label_order(teacher.config, task.get("label_names"))
    saved = json.loads((directory / "metrics.json").read_text()) if (directory / "metrics.json").exists() else {}
    if not settings.teacher:  # a --teacher-dir is reused as it is: say so when this command asks for another
        # (files written before a setting was recorded are compared on the settings they hold)
        asked = teacher_recipe(settings, len(encoded(tokenizer, settings.teacher_max_target_length)["train"]))
        shown = lambda value: f"{value:g}" if isinstance(value, float) else str(value)
        other = [f"{key.replace('_', ' ')} {shown(saved[key])} (this command: {shown(value)})"
                 for key, value in asked.items() if key in saved and saved[key] != value]
        if other:
            print(f"note: the teacher in {directory} was fine-tuned with {', '.join(other)}; it is reused as it "
                  f"is (give another --teacher-dir to fine-tune one with this command's settings)")
    dev_rows = {split: len(rows) for split, rows in task["dev"].items()}
    # its score must come from the dev rows its students see (--n-dev cuts them); older files lack dev_rows
    if "metrics" in saved and saved.get("dev_rows", None if settings.n_dev else dev_rows) == dev_rows:
        return teacher, tokenizer, {"metrics": saved["metrics"], "warning": saved.get("warning")}, directory
    dev = encoded(tokenizer, settings.teacher_max_target_length)["dev"]
    metrics, *_, warning = evaluate(teacher, dev, task, tokenizer, settings, "teacher")
    return teacher, tokenizer, {"metrics": metrics, "warning": warning}, directory


def teacher_recipe(settings, n_train):
    """What a fine-tuned teacher depends on, as its metrics.json keeps it: a reused --teacher-dir is
    compared on these (get_teacher). Its dev rows are not among them: a teacher is re-scored on the
    dev rows its students see."""
    stage = cli.schedule(settings, n_train, "teacher")
    recipe = {"base": settings.teacher_base, "lr": stage["lr"], "seed": settings.teacher_seed, "steps": stage["steps"],
              "batch_size": stage["batch_size"], "accumulation": stage["accumulation"],
              "optimizer": stage["optimizer"], "warmup_steps": stage["warmup_steps"],
              **{key: getattr(settings, key) for key in ("max_length", "teacher_max_target_length", "task_vocab",
                                                         "train_file", "n_train", "weight_decay", "teacher_lora",
                                                         "select_by", "coqa_train_rows")}}
    return json.loads(json.dumps(recipe, default=str))  # as read back from the file (paths as text)


def fine_tune_teacher(task, settings, encoded, directory):
    """--teacher-base fine-tuned on the task (CE alone, the same loop as the students), its best dev
    checkpoint saved to `directory` for every later student run of the task."""
    torch.manual_seed(settings.teacher_seed)  # a fresh head, or a scratch-* teacher, starts from this seed
    teacher, tokenizer = families.pretrained_for_task(settings.teacher_base, task, settings.task_vocab)
    if settings.teacher_lora:  # the authors' Qwen3-8B teacher: LoRA r 32, merged before distillation
        teacher = families.with_lora(teacher, settings.teacher_lora, settings.lora_alpha, settings.lora_dropout,
                                     settings.lora_targets)
    rows = encoded(tokenizer, settings.teacher_max_target_length)
    stage = cli.schedule(settings, len(rows["train"]), "teacher")
    run = Run(teacher, seed=settings.teacher_seed, data_seed=settings.teacher_seed)
    print(f"fine-tuning teacher {settings.teacher_base} on {task['name']} for {stage['steps']} steps -> {directory}")
    note = cli.short_schedule_note("teacher", settings.teacher_lr_given, stage["lr"], stage["steps"],
                                   stage["steps_per_epoch"], settings.teacher_epochs)
    if note:
        print(note)
    started, record = time.time(), checkpoints.teacher_record(settings)
    checkpoint = {"directory": directory, "record": record, "resume": checkpoints.load(directory, record)}
    train([run], None, rows, task, tokenizer, settings, stage, cli.loss_settings(settings, "teacher"), desc="teacher",
          checkpoint=checkpoint)
    if run.failed:
        raise ValueError(f"teacher fine-tuning {run.failed}")
    if processes.is_main():  # only rank 0 evaluated; it saves the best checkpoint
        teacher.load_state_dict(run.best.state)
        teacher = families.plain_model(teacher)
        families.save_model(teacher, tokenizer, directory)
        write_json(directory / "metrics.json", {"task": task["name"], "role": "teacher",
                                                **teacher_recipe(settings, len(rows["train"])),
                                                "metrics": run.best.metrics, "warning": run.best.warning,
                                                "best_step": run.best.step, "history": run.history,
                                                "dev_rows": {split: len(r) for split, r in rows["dev"].items()},
                                                "wall_time_s": round(time.time() - started, 1)})
        if not settings.keep_checkpoints:
            checkpoints.remove(directory)
    processes.barrier()
    if processes.world_size() > 1:  # every rank goes on with rank 0's best checkpoint
        teacher = families.load_model(directory, task["kind"])
    scores = {"metrics": run.best.metrics, "warning": run.best.warning} if run.best else {"metrics": None, "warning": None}
    return teacher, tokenizer, scores, directory


# ----------------------------------------------------------------------------- 2. the students
@dataclasses.dataclass
class Plan:
    """One student's shape, from the teacher's config alone (plan_run), printed before any work."""
    name: str  # its directory's name
    out: Path
    init: str  # copy | random
    strategy: str  # one of mapping.STRATEGIES, or 'pairs' (--pairs)
    seed: int
    depths: dict  # {stack: blocks}
    pairs: dict  # {stack: [(student hidden state, teacher hidden state), ...]}, 0 = embeddings
    copied: dict | None  # {stack: [teacher block, ...]} (copy init); None (random init)


def plan_run(config, settings, init, strategy, seed, out):
    """Depths, matched pairs and copied blocks of one student, from the teacher's config alone."""
    teacher_depths = families.stack_depths(config)  # {'encoder'}, {'encoder', 'decoder'} or {'decoder'} (LMs)
    depths = {stack: settings.student_layers for stack in teacher_depths}
    if len(depths) == 2:
        depths["decoder"] = settings.student_decoder_layers or settings.student_layers
    pairs, copied = {}, {}
    for stack, depth in depths.items():
        mapping.check_depths(teacher_depths[stack], depth)
        target = settings.target_layer if strategy == "all-to-one" else None
        pairs[stack] = (mapping.parse_pairs(settings.pairs, teacher_depths[stack], depth) if settings.pairs
                        else mapping.match(strategy, teacher_depths[stack], depth, seed, target,
                                           embeddings=settings.match_embeddings))
        if init == "copy":
            copied[stack] = mapping.copy_layers(teacher_depths[stack], depth, settings.copy_from)
    if settings.objective == "kd-only":  # vanilla KD (Wang et al. 2023): the strategy's pairs are not used
        pairs = {stack: [] for stack in pairs}
    return Plan(out.name, out, init, "pairs" if settings.pairs else strategy, seed, depths, pairs, copied or None)


def build_student(teacher, init, depths, width=None, copy_from="forward", seed=0, copied=None, source=None):
    """A student with `depths` blocks per stack, copied from the teacher or fresh.

    copy: embeddings, pooler and the `copied` teacher blocks per stack (default: the
    `copy_from` choice of mapping.copy_layers) are copied; the task head stays fresh, as in
    the authors' code. They are copied from `source` when given: a model of the teacher's
    architecture, e.g. its pre-trained base (related.copy_source). random: fresh weights from the
    teacher's config, seeded. Returns (student, copied blocks per stack or None).
    """
    torch.manual_seed(seed)
    teacher_depths = families.stack_depths(teacher.config)
    if init == "copy":
        copied = copied or {stack: mapping.copy_layers(teacher_depths[stack], depth, copy_from)
                            for stack, depth in depths.items()}
    student = type(teacher)(families.student_config(teacher.config, depths, width, copied if init == "copy" else None))
    if init == "random":
        return student, None
    if width:
        raise ValueError("copy init needs the teacher's width; use --init random with --student-width")
    source = source if source is not None else teacher
    source_state, prefixes = source.state_dict(), families.block_prefixes(source)
    with torch.no_grad():
        for key, value in student.state_dict().items():
            if families.is_fresh(teacher.config, key):
                continue
            source_key = families.teacher_key(key, copied, prefixes)
            if source_key not in source_state:  # e.g. T5's relative bias lives in block 0 only
                source_key = key
            if source_key in source_state and source_state[source_key].shape == value.shape:
                value.copy_(source_state[source_key])
    return student, copied


@dataclasses.dataclass
class Checkpoint:
    """The best dev evaluation so far, and the weights that scored it (on the CPU)."""
    step: int
    score: float
    metrics: dict
    predictions: list | None  # generation: the dev predictions
    state: dict
    warning: str | None = None  # a classifier that has not learnt (scoring.majority_note)


@dataclasses.dataclass
class Run:
    """One model in training: a student, or the teacher while it is fine-tuned (plan None).

    Its random stream (dropout and anything else it draws) is its own, seeded by its seed:
    students in lockstep never share draws, so each gets the result it would get alone."""
    model: torch.nn.Module
    seed: int
    data_seed: int  # its batches' order: runs of one data seed share each batch and the teacher's pass
    plan: Plan | None = None
    random_state: torch.Tensor = dataclasses.field(init=False)  # its CPU stream between its turns (random_stream)
    cuda_random_state: torch.Tensor | None = dataclasses.field(init=False, default=None)  # its CUDA one, on a GPU
    wrapped: torch.nn.Module | None = None  # the model as train() runs it (DistributedDataParallel under torchrun)
    optimizer: torch.optim.Optimizer | None = None  # train() makes both, fresh in every stage
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
    loss_sums: dict = dataclasses.field(default_factory=dict)  # each loss term summed since the last log line
    log: list = dataclasses.field(default_factory=list)  # each term's mean per log window (log.txt)
    history: list = dataclasses.field(default_factory=list)  # every dev evaluation: step, score, metrics
    best: Checkpoint | None = None
    failed: str | None = None  # why it stopped: a non-finite loss

    def __post_init__(self):
        self.random_state = torch.Generator().manual_seed(self.seed).get_state()

    @property
    def pairs(self):
        return self.plan.pairs if self.plan else {}


def make_run(teacher, plan, settings, source=None):
    """A student built from its plan, ready to train. source: what copy init copies from
    (related.copy_source; None: the teacher)."""
    student, _ = build_student(teacher, plan.init, plan.depths, settings.student_width, seed=plan.seed,
                               copied=plan.copied, source=source)
    if settings.student_width and any(plan.pairs.values()) and settings.objective == "hidden":
        # the paper's width ablation: one bias-free map per matched student hidden state, student width ->
        # teacher width; on the student so that it trains with it, but training-only (see save_model)
        student.hidden_projections = torch.nn.ModuleDict({
            f"{stack}_{s}": torch.nn.Linear(settings.student_width, teacher.config.hidden_size, bias=False)
            for stack, stack_pairs in plan.pairs.items() for s, _ in stack_pairs})
        student.hidden_projections.requires_grad_(settings.projections == "learned")
    if families.freezes_embeddings(settings.freeze_embeddings, plan.init, teacher.config):
        for module in families.frozen_embeddings(student):
            module.weight.requires_grad_(False)
    if settings.lora:
        student = families.with_lora(student, settings.lora, settings.lora_alpha, settings.lora_dropout,
                                     settings.lora_targets)
    data_seed = plan.seed if settings.data_seed is None else settings.data_seed
    return Run(student, seed=plan.seed, data_seed=data_seed, plan=plan)


@contextlib.contextmanager
def random_stream(run, device):
    """Inside, torch's global generator (CPU, and CUDA on a GPU) is the run's own; outside, as before."""
    on_gpu = device.type == "cuda"
    outer = torch.get_rng_state(), torch.cuda.get_rng_state(device) if on_gpu else None
    torch.set_rng_state(run.random_state)
    if on_gpu:
        if run.cuda_random_state is None:
            run.cuda_random_state = torch.Generator(device).manual_seed(run.seed).get_state()
        torch.cuda.set_rng_state(run.cuda_random_state, device)
    try:
        yield
    finally:
        run.random_state = torch.get_rng_state()
        torch.set_rng_state(outer[0])
        if on_gpu:
            run.cuda_random_state = torch.cuda.get_rng_state(device)
            torch.cuda.set_rng_state(outer[1], device)


# ----------------------------------------------------------------------------- 3. the loss
def projections(model):
    """The width maps' weights per stack and student index (None for a student of the teacher's width)."""
    maps = getattr(model, "hidden_projections", None)
    if maps is None:
        return None
    weights = {}
    for key, linear in maps.items():
        stack, index = key.rsplit("_", 1)
        weights.setdefault(stack, {})[int(index)] = linear.weight
    return weights


@dataclasses.dataclass
class TeacherOutputs:
    """The teacher's outputs on one batch (teacher_pass), shared by every student of the batch."""
    logits: torch.Tensor
    hidden: dict | None  # {stack: hidden states} (families.hidden_states), when some student matches them
    attention: dict  # the Q/K/V projections of the blocks attention transfer matches (related.py)
    ramp: float  # CR-ILD's consistency ramp at this step (related.consistency_ramp)
    lam: float | None = None  # --supplementary mixup: this step's mixing weight,
    mixed_hidden: dict | None = None  # and the teacher's hidden states and projections on the mixed inputs
    mixed_attention: dict | None = None


def any_matched(runs):
    """Whether any student of the group matches a layer pair (a strategy other than none)."""
    return any(any(run.pairs.values()) for run in runs)


def teacher_pass(teacher, batch, runs, loss, mixing_rng, ramp):
    """The teacher's outputs on the batch (call it under no_grad), with its side of the related studies' terms."""
    blocks = sorted({t for run in runs for t in related.attention_blocks(run.pairs.get("encoder", []), "teacher",
                                                                         loss.objective)})
    matched = any_matched(runs)
    with related.capture_attention(teacher, [] if loss.supplementary == "mixup" else blocks) as attention:
        outputs = teacher(**data.model_inputs(batch), output_hidden_states=matched)
    hidden = families.hidden_states(outputs, teacher.config) if matched else None
    return TeacherOutputs(outputs.logits, hidden, attention, ramp,
                          **related.teacher_mixed(teacher, batch, blocks, loss.supplementary, mixing_rng))


def student_loss(run, batch, teacher_outputs, loss):
    """One student's loss on one batch (Section 3), and its parts:

        a_ce * CE(gold) + a_kl * KL(teacher || student) + a_hid * L_hid   (+ the related studies' terms)

    CE alone (teacher_outputs None) while the teacher itself is fine-tuned, and where no term reads
    the teacher (reads_teacher).
    """
    on_clean_batch = teacher_outputs is not None and loss.supplementary == "none"
    matches_hidden = on_clean_batch and loss.objective == "hidden" and any(run.pairs.values())
    needs_hidden = matches_hidden or (teacher_outputs is not None and loss.weights["ic"] > 0)
    blocks = related.attention_blocks(run.pairs.get("encoder", []), "student", loss.objective)
    with related.capture_attention(run.model, blocks if on_clean_batch else []) as attention:
        model = run.wrapped if run.wrapped is not None else run.model
        outputs = model(**data.model_inputs(batch), output_hidden_states=needs_hidden)
    parts = {"ce": outputs.loss}  # CE(gold), from the batch's labels
    if teacher_outputs is not None:
        config, maps = run.model.config, projections(run.model)
        student_logits, mask = families.scored_logits(outputs.logits, batch, config)
        teacher_logits, _ = families.scored_logits(teacher_outputs.logits, batch, config)
        if loss.kl_positions == "every":  # the authors' LLM KL: every position, scaled by the real tokens' share
            parts["kl"] = losses.kd_loss_every_position(outputs.logits, teacher_outputs.logits,
                                                        batch["attention_mask"], loss.temperature)
        else:
            parts["kl"] = losses.kd_loss(student_logits, teacher_logits, loss.temperature, mask)
        if matches_hidden:  # L_hid: (s - t)^2 over the matched pairs' real tokens, reduced as the authors' code
            parts["hid"] = losses.stacks_hidden_loss(families.hidden_states(outputs, config), teacher_outputs.hidden,
                                                     run.pairs, families.token_masks(batch, config),
                                                     loss.hid_reduction, loss.hid_norm, maps)
        parts.update(related.terms(run, batch, outputs, attention, teacher_outputs, loss, maps))
    return sum(loss.weights[name] * value for name, value in parts.items()), parts


# ----------------------------------------------------------------------------- 3. the training loop
def autocast(device, enabled):
    """bf16 autocast (--bf16; auto: CUDA only). Softmax, log-softmax and layer norm stay fp32 under it."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)


def hold_encoder(model):
    """Drop this step's gradients of a sequence-to-sequence model's encoder (--hold-encoder-steps).

    Why: a random-init BERT2BERT student trained without matching collapses its encoder within
    40 steps, every source position to one vector, and then writes one sentence for every source.
    Probably because, while the cross-attention is near-uniform, every source position receives
    the same gradient, and Adam's per-parameter steps turn it into a large constant output. Held
    for the first steps, the encoder keeps its random, token-specific states until the decoder
    has learnt to read them (results/generation/diagnostics.md, runs 10-13). In BART and T5 the encoder's
    word vectors are the table both stacks share, so those are held too.
    """
    for parameter in model.get_encoder().parameters():
        parameter.grad = None


def make_optimizer(params, name, lr, weight_decay):
    if name == "adafactor":  # a fixed learning rate, as in the authors' T5 runs (t5mt/finetune.py)
        from transformers.optimization import Adafactor
        return Adafactor(params, lr=lr, scale_parameter=False, relative_step=False, warmup_init=False,
                         weight_decay=weight_decay)
    # fused: one kernel updates every parameter; on CPU about 8x faster than the default
    # per-parameter loop for a MiniLM-sized student (measured: 5 vs 45 ms a step)
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=True)


def linear_schedule(optimizer, warmup_steps, total_steps):
    """Linear warm-up from 0 over warmup_steps, then linear decay to 0: transformers'
    get_linear_schedule_with_warmup, the authors' schedule in every setup (no warm-up for BERT)."""
    def factor(step):
        if step < warmup_steps:
            return step / warmup_steps
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def batch_stream(rows, batch_size, pad_id, seed, order):
    """Training batches forever: each epoch a fresh shuffle seeded by `seed` and the step, so every
    student of the same data seed sees the same batches (under torchrun: this rank's share)."""
    step = 0
    while True:
        for batch in processes.shard(data.batches(rows, batch_size, pad_id, order=order, seed=seed + step)):
            step += 1
            yield batch


def train(runs, teacher, rows, task, tokenizer, settings, stage, loss, desc, checkpoint=None):
    """Train every run in lockstep on rows['train'] for stage['steps'] steps (stage: cli.schedule(); loss:
    cli.loss_settings), scoring rows['dev'] at stage['eval_steps'] and keeping each run's best checkpoint.

    Runs of the same data seed form a group: one batch and one teacher pass per group and step.
    A run whose loss turns non-finite is stopped (run.failed says why); the others go on.
    checkpoint: {directory, record, resume}: write the job's state at every evaluation and on a signal
    (checkpoints.py), and first carry on from `resume` (checkpoints.load) if it holds this stage.
    """
    device = torch.device(settings.device)
    for run in (run for run in runs if not run.failed):  # a fresh optimiser and schedule in every stage
        run.model.to(device).train()
        run.wrapped = processes.wrap_for_training(run.model, device)
        params = [p for p in run.model.parameters() if p.requires_grad]
        run.optimizer = make_optimizer(params, stage["optimizer"], stage["lr"], settings.weight_decay)
        run.scheduler = linear_schedule(run.optimizer, stage["warmup_steps"], stage["steps"])
        run.loss_sums = {}
    if teacher is not None:
        teacher.to(device).eval()
    groups = [{"runs": [r for r in runs if r.data_seed == seed], "mixing_rng": random.Random(seed),
               "batches": batch_stream(rows["train"], stage["batch_size"], tokenizer.pad_token_id, seed,
                                       settings.batch_order)}
              for seed in sorted({r.data_seed for r in runs})]
    total_steps, eval_steps, logged, start = stage["steps"], stage["eval_steps"], 0, 1
    resume = checkpoint and checkpoint["resume"]
    if resume and resume["stage"] == stage["role"]:  # the same state, the same batches and draws as before the stop
        for run in runs:
            checkpoints.restore(run, resume["runs"][checkpoints.run_name(run)], Checkpoint)
        for group, mixing_state in zip(groups, resume["job"]["mixing_states"]):
            group["mixing_rng"].setstate(mixing_state)
            for _ in range(resume["step"] * stage["accumulation"]):
                next(group["batches"])
        start, logged = resume["step"] + 1, resume["job"]["logged"]
        print(f"{desc}: resumed at step {resume['step']} from {checkpoint['directory']}/checkpoint", flush=True)
    progress = tqdm(total=total_steps, initial=start - 1, desc=desc, dynamic_ncols=True,
                    disable=not processes.is_main() or None)
    for step in range(start, total_steps + 1):
        for group in groups:
            active = [run for run in group["runs"] if not run.failed]
            ramp = related.consistency_ramp(step - 1, stage["steps_per_epoch"], total_steps)
            backward(active, group, teacher, loss, stage["accumulation"], ramp, settings.bf16, device)
            for run in active:
                if step <= stage["hold_encoder_steps"]:
                    hold_encoder(run.model)
                torch.nn.utils.clip_grad_norm_(run.model.parameters(), settings.max_grad_norm)
                run.optimizer.step()
                run.scheduler.step()
                run.optimizer.zero_grad(set_to_none=True)
        progress.update(1)
        logs = step % 50 == 0 or step == total_steps or step in eval_steps
        if logs:
            log_window(runs, step, step - logged, progress)
            logged = step
        if step in eval_steps and processes.is_main():  # under torchrun the others wait for rank 0 at the next step
            for run in runs:
                if not run.failed:
                    record_evaluation(run, step, rows["dev"], task, tokenizer, settings, stage["role"])
            scores = " ".join(f"{r.history[-1]['score']:.3f}" for r in runs if r.history)
            progress.set_postfix(dev=scores)
            if progress.disable:  # no bar (output not a terminal, e.g. run_all.log): one line per evaluation
                print(f"{desc}: step {step}/{total_steps}, dev {scores}", flush=True)
        # a signal is acted on after this step; under torchrun at the next log step (one collective per window)
        alone = processes.world_size() == 1
        stop = checkpoint and (logs or alone) and processes.any_process(checkpoints.STOP["signal"] is not None)
        if checkpoint and (step in eval_steps or stop):
            if processes.is_main():
                job_state = {"mixing_states": [group["mixing_rng"].getstate() for group in groups], "logged": logged}
                checkpoints.save(checkpoint["directory"], runs, stage["role"], step, job_state, checkpoint["record"])
            processes.barrier()
        if stop:
            progress.close()
            sys.exit(f"stopped by a signal at step {step}: run the same command again to resume from "
                     f"{checkpoint['directory']}/checkpoint")
    progress.close()


def reads_teacher(runs, loss):
    """Whether a step's loss reads the teacher: its KL, CR-ILD's consistency, or a matched pair. CE alone
    (--a-kl 0, strategy none) skips the teacher's pass, the larger part of a small student's step."""
    return loss.weights["kl"] > 0 or loss.weights["ic"] > 0 or any_matched(runs)


def backward(runs, group, teacher, loss, accumulation, ramp, bf16, device):
    """The gradients of one optimiser step: `accumulation` batches of the group's stream (--grad-accumulation),
    each student's loss on each divided by their number (their mean); one teacher pass per batch."""
    for _ in range(accumulation):
        batch = data.to_device(next(group["batches"]), device)
        teacher_outputs = None
        if teacher is not None and runs and reads_teacher(runs, loss):
            # the teacher never holds gradients. no_grad, not inference_mode: as fast here (measured),
            # and a loss that saves a teacher tensor for backward (a matmul with a student tensor) works
            with torch.no_grad(), autocast(device, bf16):
                teacher_outputs = teacher_pass(teacher, batch, runs, loss, group["mixing_rng"], ramp)
        for run in runs:
            with random_stream(run, device), autocast(device, bf16):
                total, parts = student_loss(run, batch, teacher_outputs, loss)
            (total / accumulation).backward()
            for name, value in parts.items():  # summed as tensors: no sync with the device per step
                run.loss_sums[name] = run.loss_sums.get(name, 0.0) + value.detach() / accumulation


def log_window(runs, step, window, progress):
    """Each loss term's mean over the `window` steps since the last log, and the non-finite check: a
    student whose loss turned NaN or infinite stops here (one device sync per window, not per step)."""
    for run in runs:
        if run.failed or not run.loss_sums:
            continue
        means = {name: float(total) / window for name, total in run.loss_sums.items()}
        run.log.append({"step": step, **{name: round(mean, 5) for name, mean in means.items()}})
        run.loss_sums = {}
        bad = [name for name, mean in means.items() if not math.isfinite(mean)]
        if processes.any_process(bool(bad)):
            run.failed = (f"stopped at step {step}: loss term {bad[0] if bad else '(on another process)'} is "
                          f"{means[bad[0]] if bad else 'not finite'}; lower --lr or check the inputs")
            print(f"error: {(run.plan.name if run.plan else 'teacher')}: {run.failed}", file=sys.stderr)
            run.model.to("cpu")
            run.optimizer = run.scheduler = None
    progress.set_postfix({k: v for k, v in runs[0].log[-1].items() if k != "step"} if runs[0].log else {})


def record_evaluation(run, step, dev_rows, task, tokenizer, settings, role):
    """Score the dev set; keep the weights (on the CPU) if they are the best so far."""
    metrics, score, predictions, note = evaluate(run.model, dev_rows, task, tokenizer, settings, role)
    run.history.append({"step": step, "score": score, "metrics": metrics})
    best = run.best.score if run.best else None
    higher_is_better = task.get("higher_is_better", True) or settings.select_by == "token-accuracy"
    if best is None or (score > best if higher_is_better else score < best):
        run.best = Checkpoint(step, score, metrics, predictions,
                              {k: v.detach().to("cpu", copy=True) for k, v in run.model.state_dict().items()}, note)
    run.model.train()


# ----------------------------------------------------------------------------- 4. evaluation and outputs
def evaluate(model, rows, task, tokenizer, settings, role="student"):
    """Metrics per split, the score that picks the best checkpoint, predictions and a classifier's
    warning (scoring.evaluate). A generation teacher decodes with beams and a target length of its own
    (--teacher-num-beams), the test splits with theirs (--test-num-beams) and their BLEU (--test-bleu).
    --select-by token-accuracy scores the dev splits by token accuracy alone, the test splits as always."""
    teacher = role == "teacher"
    num_beams = {"teacher": settings.teacher_num_beams, "test": settings.test_num_beams}.get(role, settings.num_beams)
    max_target_length = settings.teacher_max_target_length if teacher else settings.max_target_length
    bleu = settings.test_bleu if role == "test" else "sacrebleu"
    select_by = "task-metric" if role == "test" else settings.select_by
    return scoring.evaluate(model, rows, task, tokenizer, 2 * settings.batch_size, num_beams,
                            max_target_length or settings.max_length, bleu, select_by)


def write_json(path, payload):
    """Write atomically (temp file, then rename): a killed run never leaves a half file."""
    path = Path(path)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(payload, indent=2) + "\n")
    os.replace(temporary, path)


def finish_run(run, tokenizer, task, settings, summary, test_rows):
    """Load the best checkpoint, score it on the test splits (if the task has any), save the student,
    predictions, log and metrics.json (last: it marks the run done)."""
    plan, best = run.plan, run.best
    run.model.load_state_dict(best.state)
    if test_rows:
        best.metrics.update(evaluate(run.model, test_rows, task, tokenizer, settings, "test")[0])
    families.save_model(run.model, tokenizer, plan.out)
    if best.predictions:
        (plan.out / "predictions.txt").write_text("\n".join(best.predictions) + "\n")
    (plan.out / "log.txt").write_text("\n".join(json.dumps(line) for line in run.log + run.history) + "\n")
    write_json(plan.out / "metrics.json", {
        "task": task["name"], "kind": task["kind"], "offline": task["offline"],
        "scale": cli.scale_note(task, settings.teacher_base),
        "strategy": plan.strategy, "init": plan.init, "seed": plan.seed, "data_seed": run.data_seed,
        "student_layers": plan.depths, "student_width": settings.student_width or summary["teacher_width"],
        "pairs": plan.pairs, "copied_blocks": plan.copied,
        "metrics": best.metrics, "score": best.score, "best_step": best.step, "warning": best.warning,
        "history": [{"step": h["step"], "score": h["score"]} for h in run.history],
        **summary, "settings": vars(settings)})


# ----------------------------------------------------------------------------- main
def distill(args, names):
    """Train the students `names` (cli.run_names); returns how many failed (0: every run finished)."""
    todo = [(i, s, seed, out) for i, s, seed, out in names if args.overwrite or not cli.finished(args, i, s, seed, out)]
    task = data.load_task(args.task if not args.train_file else None, seed=0, train_file=args.train_file,
                          dev_file=args.dev_file, n_train=args.n_train, coqa_train_rows=args.coqa_train_rows)
    settings = cli.resolve_settings(args, task)
    if args.n_dev:
        task["dev"] = {split: rows[:args.n_dev] for split, rows in task["dev"].items()}
    if not todo:
        print(f"all runs already finished in {args.out} (pass --overwrite to redo them)")
        return 0
    record = checkpoints.settings_record(args)  # a stopped job's checkpoint, refused under other settings
    resume = None if args.overwrite else checkpoints.load(args.out, record)
    checkpoints.stop_on_signals()
    # the teacher's config, read before any weights: every check that needs only its shape (depths,
    # pairs) runs on it, before a teacher is fine-tuned
    directory, ready = cli.teacher_directory(task, settings)
    config = (families.read_config(directory) if ready
              else families.pretrained_config(settings.teacher_base, task["kind"]))
    families.check_task_kind(config, task["kind"])
    related.check_teacher(config, settings.objective, settings.supplementary)
    plans = [plan_run(config, settings, *combo) for combo in todo]
    print(mapping.describe_plans(plans, families.stack_depths(config)))
    print(cli.scale_note(task, settings.teacher_base))

    @functools.lru_cache(maxsize=1)  # the teacher's fine-tuning and the students share one tokenisation
    def encoded(tokenizer, max_target_length):  # unless the teacher has targets of its own length
        encode = functools.partial(data.encode, task, tokenizer=tokenizer, max_length=settings.max_length,
                                   max_target_length=max_target_length, source_prefix=settings.source_prefix)
        return {"train": encode(task["train"]), "dev": {split: encode(rows) for split, rows in task["dev"].items()},
                "test": {split: encode(rows) for split, rows in task.get("test", {}).items()}}
    teacher, tokenizer, teacher_scores, teacher_dir = get_teacher(task, settings, encoded)
    warning = f" WARNING: {teacher_scores['warning']}" if teacher_scores["warning"] else ""
    print(f"teacher {teacher_dir}: dev {teacher_scores['metrics']}{warning}")
    source = related.copy_source(teacher, task, settings) if any(p.init == "copy" for p in plans) else None
    runs = [make_run(teacher, plan, settings, source) for plan in plans]
    del source  # a pre-trained copy source is not needed any more
    rows = encoded(tokenizer, settings.max_target_length)
    started, stage1_steps = time.time(), 0
    checkpoint = {"directory": args.out, "record": record, "resume": resume}
    if settings.stage1_epochs:  # the related studies' two stages: the matching terms alone first, no evaluation
        stage1 = cli.schedule(settings, len(rows["train"]), "stage1")
        if not (resume and resume["stage"] == "student"):  # a job stopped in stage 2 has done stage 1
            train(runs, teacher, rows, task, tokenizer, settings, stage1, cli.loss_settings(settings, "stage1"),
                  desc=f"stage 1: {len(runs)} student(s)", checkpoint=checkpoint)
            for run in runs:
                run.log = [{"stage": 1, **line} for line in run.log]
        stage1_steps = stage1["steps"]
    stage = cli.schedule(settings, len(rows["train"]), "student")
    note = cli.short_schedule_note("student", settings.lr_given, stage["lr"], stage["steps"], stage["steps_per_epoch"],
                                   settings.epochs)
    if note:
        print(note)
    train(runs, teacher, rows, task, tokenizer, settings, stage, cli.loss_settings(settings, "student"),
          desc=f"{len(runs)} student(s)", checkpoint=checkpoint)
    summary = {"steps": stage["steps"], "stage1_steps": stage1_steps,
               "wall_time_s": round(time.time() - started, 1), "lockstep_students": len(runs),
               "processes": processes.world_size(), "teacher": {"dir": str(teacher_dir), **teacher_scores},
               "teacher_width": next(iter(families.stack_widths(teacher.config).values())),
               "hid_reduction": settings.hid_reduction, "hid_norm": settings.hid_norm}
    if processes.is_main():  # rank 0 writes the results
        for run in runs:
            if not run.failed:
                finish_run(run, tokenizer, task, settings, summary, rows["test"])
                warning = f" WARNING: {run.best.warning}" if run.best.warning else ""
                print(f"{run.plan.out}: best dev {run.best.metrics} at step {run.best.step}{warning}")
        if not settings.keep_checkpoints:
            checkpoints.remove(args.out)
    return sum(bool(run.failed) for run in runs)


def main(argv=None):
    args = cli.parse_args(argv, description=__doc__)
    if args.list_tasks:
        print(data.list_tasks())
        return
    import transformers
    transformers.logging.set_verbosity_error()  # keep load reports and save bars out of the run's output
    transformers.utils.logging.disable_progress_bar()
    import huggingface_hub
    huggingface_hub.utils.logging.set_verbosity_error()  # no retry chatter before our one line when the hub fails
    try:
        names = cli.run_names(args)  # every check that needs no model and no data, first
        if args.threads:
            torch.set_num_threads(args.threads)
        args.device = processes.start(args.device)
        failed = distill(args, names)
    except (ValueError, data.HubUnavailable) as error:
        sys.exit(f"error: {error}")
    processes.stop()
    if failed:
        sys.exit(f"error: {failed} student(s) stopped on a non-finite loss (see above); no metrics.json was "
                 f"written for them")


if __name__ == "__main__":
    main()
