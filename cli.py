"""distill.py's command line: every flag with its default, the checks that need no model, and
the defaults that depend on the task, resolved once.

    args = cli.parse_args()                  # the flags as given
    names = cli.run_names(args)              # every student to train; bad flags refused here
    settings = cli.resolve_settings(args, task)  # task-dependent defaults filled in, then never changed
    loss = cli.loss_settings(settings, "student")  # what the students' loss adds up (per training stage)
    directory, ready = cli.teacher_directory(task, settings)  # where the teacher is, and is it there yet

Nothing here loads a model or data: a bad flag ends before any work with one line that names
the problem and the fix.
"""
import argparse
import dataclasses
import itertools
import json
import math
import os
from pathlib import Path

import torch

import data
import families
import losses
import mapping
import processes
import related

OPTIMIZERS = ("adamw", "adafactor")
SELECT_BY = ("task-metric", "token-accuracy")


def parse_args(argv=None, description=None):
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    a = p.add_argument
    a("--task", default="rt-sentiment", help="task name (see --list-tasks; offline tasks need no network)")
    a("--list-tasks", action="store_true", help="print name<TAB>kind<TAB>offline|hub per task and exit")
    a("--train-file", help="local .csv/.tsv/.jsonl training file (columns text, [text_pair], label)")
    a("--dev-file", help="local dev file, same columns")
    a("--n-train", type=int, help="train on the first N training rows (default: all; the offline tasks' rows "
      "are in a fixed random order, your own files' in their own)")
    a("--n-dev", type=int, help="score only the first N examples of each dev split (quick runs; default: all); "
      "a teacher fine-tuned by this call also keeps its best checkpoint on them")
    a("--max-length", "--max-source-length", type=int, default=128,
      help="tokens per input (authors: 128); generation: per source (hence its second name)")
    a("--max-target-length", type=int, help="generation: tokens per target, and the most a prediction may have "
      "(default: --max-length)")
    a("--coqa-train-rows", default="lm-eval", choices=("lm-eval", "authors"),
      help="CoQA's training rows: lm-eval (the story, every earlier turn and the question, as evaluation "
      "shows them; completion: the answer) or authors (llm/tasks/coqa.py: the story and one question, "
      "completion 'A: answer', the last question's a bare 'A:'; cut at their end as TRL cuts; data.load_coqa)")
    a("--source-prefix", default="", help="generation: text put before every source, e.g. T5's "
      "'translate English to Romanian: ' (the authors' WMT16 runs)")
    # teacher
    a("--teacher", help="an already fine-tuned teacher directory; skips fine-tuning")
    a("--teacher-base", help="pretrained model to fine-tune as teacher "
      "(default: bert-base-uncased for GLUE, facebook/bart-large for dart, t5-base for wmt16-en-ro, "
      "Qwen/Qwen3-8B for hellaswag and coqa, the packaged MiniLM ('minilm') for the other offline tasks, "
      "and for bible-lm 'scratch-llama': a small Llama trained from scratch as the teacher step, see "
      "families.SCRATCH_TEACHERS); 'smollm2': the packaged SmolLM2-135M-Instruct, a pretrained 30-block "
      "Llama from a 4-bit GGUF file (requirements-smollm2.txt), for the language-modelling tasks")
    a("--teacher-dir", help="where the fine-tuned teacher is saved and looked up "
      "(default: runs/teachers/<task>-<base>); an existing one is reused, whatever its settings")
    a("--teacher-seed", type=int, default=0, help="seed of teacher fine-tuning (shared by all student seeds)")
    a("--task-vocab", default="auto", choices=("auto", "no"),
      help="auto: for offline tasks on the packaged MiniLM or SmolLM2, keep only the tokens the task uses "
      "(same tokenisation, much faster steps; a language model's probabilities are over those tokens; see "
      "data.task_vocabulary, data.bpe_task_vocabulary)")
    a("--teacher-epochs", type=float, default=3.0, help="teacher fine-tuning epochs (authors: 3)")
    a("--teacher-lr", type=float, help="teacher learning rate (default 2e-5, the authors' 2e-5 or 5e-5; "
      "1e-3 for a scratch-* teacher, trained from scratch)")
    a("--teacher-max-steps", type=int, help="cap on teacher fine-tuning steps")
    a("--teacher-batch-size", type=int, help="teacher fine-tuning batch size (default: --batch-size)")
    a("--teacher-grad-accumulation", type=int, help="teacher batches per optimiser step (default: "
      "--grad-accumulation)")
    a("--teacher-optimizer", default="adamw", choices=OPTIMIZERS, help="teacher optimiser (see --optimizer)")
    a("--teacher-warmup-steps", type=int, default=0, help="teacher linear warm-up steps")
    a("--teacher-eval-every-epochs", type=float, default=0.5, help="evaluate the teacher every F epochs and keep "
      "its best checkpoint (default 0.5: six evaluations over 3 epochs; 3 with --teacher-epochs 3 is once, at the end)")
    a("--teacher-max-target-length", type=int, help="generation: the teacher's --max-target-length, for its "
      "fine-tuning and evaluations (default: the students'; the authors' BART teacher: 256, students 128)")
    a("--teacher-num-beams", type=int, help="generation: the teacher's beam size in its evaluations "
      "(default: --num-beams; the authors' T5 teacher validates with 2, its students with 4)")
    a("--teacher-lora", type=int, default=0, help="fine-tune the teacher through LoRA adapters of this rank, "
      "merged into it before it is saved (authors' Qwen3-8B teacher: 32; 0: every weight trains)")
    # student
    a("--student-layers", type=int, default=3, help="student depth (encoder depth for seq2seq)")
    a("--student-decoder-layers", type=int, help="seq2seq student decoder depth (default: --student-layers)")
    a("--student-width", type=int, help="student hidden size, smaller than the teacher's; adds one learned "
      "bias-free projection per matched student hidden state (training only); random init only")
    a("--init", default="copy", help="copy | random (comma list: lockstep)")
    a("--copy-from", default="forward", help="teacher blocks copied into the student: forward | lower | "
      "upper | reverse, or an explicit 1-based list such as 1,7,12")
    a("--copy-source", default="teacher", choices=("teacher", "pretrained"),
      help="what copy init copies from: the fine-tuned teacher (the paper), or its pre-trained base "
      "--teacher-base before fine-tuning (CR-ILD, Ko et al. 2023, with --copy-from lower)")
    a("--freeze-embeddings", default="auto", choices=("auto", "yes", "no", "copied"),
      help="freeze the student's embeddings (families.FAMILIES 'frozen'). auto: as the authors, frozen in "
      "encoder-decoder models (their --freeze_embeds, both inits), trained in classifiers and in fully "
      "fine-tuned decoder-only students (a LoRA student's embeddings never train); copied: only "
      "when they are copied from the teacher (a speed trick of the offline profiles)")
    a("--lora", type=int, default=0, help="train the student through LoRA adapters of this rank (Hu et al. "
      "2022; authors' Qwen3 students: 128); the saved student has them merged in, a plain model. "
      "0 (default): full fine-tuning. Decoder-only language models only")
    a("--lora-alpha", type=float, default=32.0, help="LoRA scale alpha (update x alpha / rank; authors: 32)")
    a("--lora-dropout", type=float, default=0.1, help="dropout on the LoRA path (authors: 0.1)")
    a("--lora-targets", default="all-linear", help="modules that get adapters: all-linear (peft: every linear "
      "layer but the LM head, the authors' choice) or a comma list of module names, e.g. q_proj,v_proj")
    a("--projections", default="learned", choices=("learned", "fixed"),
      help="--student-width's maps: learned with the student, or fixed random maps (the authors' BERT code "
      "never registers them with the optimiser)")
    # loss
    a("--strategy", default="forward", help=f"layer matching: {', '.join(mapping.STRATEGIES)} (comma list: lockstep)")
    a("--pairs", help="explicit student:teacher hidden-state pairs, e.g. 0:0,1:4,2:8 (overrides --strategy)")
    a("--target-layer", type=int, help="all-to-one's teacher hidden state (default: the middle layer)")
    a("--match-embeddings", default="auto", choices=("auto", "yes", "no"),
      help="match the embedding outputs (hidden state 0) in forward, reverse, random and all-to-one. auto: "
      "yes, as the authors' BERT, BART and T5 code; no for decoder-only language models, as their LLM code")
    a("--a-ce", type=float, default=1.0, help="weight of CE on gold labels")
    a("--a-kl", type=float, default=1.0, help="weight of KL(teacher || student)")
    a("--a-hid", type=float, default=3.0, help="weight of the hidden-state loss")
    a("--temperature", type=float, default=1.0, help="KD temperature (authors: 1; 2 for T5 translation)")
    a("--kl-positions", default="scored", choices=losses.KL_POSITIONS,
      help="where KL(teacher || student) is taken (losses.kd_loss_every_position): scored, the positions CE "
      "scores (a language model's completion tokens), averaged over them; every, the authors' LLM code: every "
      "position, prompt and padding included, averaged and scaled by the share of real tokens (decoder-only "
      "language models only)")
    a("--hid-reduction", choices=losses.REDUCTIONS, help="hidden-loss reduction (see losses.hidden_loss); "
      "default: bert for classification, seq2seq for generation, as in the authors' code; token for "
      "language modeling (their LLM code's per-token mean, padding masked instead of rescaled; llm: theirs)")
    a("--hid-norm", choices=losses.NORMS, help="normalise hidden states before the loss (see "
      "losses.normalise); default: l2 for language modeling (the authors' LLM code), none otherwise")
    # the related studies' methods (Wang et al. 2023; Ko et al. 2023), see related.py
    a("--objective", default="hidden", choices=related.OBJECTIVES,
      help="what matched layers share: hidden states (the paper); the matched blocks' attention distributions "
      "(attention; +value: MiniLM's value relation) or pre-softmax scores (attention-scores, TinyBERT's MSE; "
      "both Wang et al. 2023); MiniLMv2's Q/K/V relations, unmasked (qkv-relations, CR-ILD's stage 1, Ko et "
      "al. 2023); or nothing (kd-only: CE + KL)")
    a("--a-att", type=float, default=1.0, help="weight of the attention-transfer loss (the attention objectives)")
    a("--stage1-epochs", type=float, help="train in two stages, as both related studies: first this many "
      "epochs on the matching terms alone (CE and KL weighted 0), then --epochs on a_ce * CE + a_kl * KL alone, "
      "with a fresh optimiser and schedule (see cli.loss_settings); --max-steps caps each stage")
    a("--supplementary", default="none", choices=("none", "mixup"),
      help="CR-ILD's supplementary inputs (Ko et al. 2023; see related.mixed_forward): mixup moves the matching "
      "loss to inputs mixed in embedding space; CE and KL stay on the clean batch")
    a("--consistency", type=float, default=0.0,
      help="CR-ILD's consistency weight w (study: 0.1; 0: off; needs --supplementary mixup): adds "
      "w * epoch/n_epochs * L_IC (losses.consistency_loss, related.consistency_ramp)")
    # optimisation
    a("--lr", type=float, help="student learning rate (default 1e-5, the authors' BERT 1e-5 or 2e-5; "
      "3e-4 for language modeling, the authors' Qwen3 students)")
    a("--optimizer", default="adamw", choices=OPTIMIZERS, help="adamw (fused), or adafactor with a fixed "
      "learning rate (scale_parameter=False, relative_step=False: the authors' T5 runs)")
    a("--warmup-steps", type=int, default=0, help="linear warm-up steps before the linear decay (authors: "
      "0 for BERT, 100 for BART, 500 for T5)")
    a("--hold-encoder-steps", type=int, default=0, help="sequence-to-sequence students: the encoder takes no "
      "update in the first N steps, so the decoder learns to read it before it can collapse (random-init "
      "BERT2BERT without matching collapses its encoder within 40 steps; distill.hold_encoder)")
    a("--batch-size", type=int, default=32)
    a("--grad-accumulation", type=int, default=1, help="batches whose gradients are averaged before each "
      "optimiser step: N x --batch-size rows a step (x processes under torchrun) in the memory of one batch; "
      "steps and epochs count optimiser steps (the authors' Qwen3 runs: 2, on 4 GPUs)")
    a("--epochs", type=float, default=10.0, help="student epochs (authors: 10; SST-2: 20)")
    a("--max-steps", type=int, help="cap on student steps (short runs)")
    a("--weight-decay", type=float, default=0.0)
    a("--max-grad-norm", type=float, default=1.0, help="gradient clipping (Hugging Face Trainer's default)")
    a("--eval-every", type=int, default=1000, help="dev evaluation interval in steps (authors: 1000)")
    a("--eval-every-epochs", type=float, help="dev evaluation interval in epochs instead, e.g. 0.3 (the "
      "authors' --val_check_interval 0.3 for BART and T5)")
    a("--eval-steps", help="extra comma-separated steps at which to evaluate (learning curves)")
    a("--select-by", default="task-metric", choices=SELECT_BY,
      help="what picks the best checkpoint at each dev evaluation: task-metric (the task's first metric), or "
      "token-accuracy (decoder-only language models: teacher-forced next-token accuracy on each dev row's "
      "gold completion, the authors' LLM trainers' mean_token_accuracy; scoring.token_accuracy). The test "
      "splits are scored by the task's metrics either way")
    a("--num-beams", type=int, help="beam size for generation (default: 5 for dart, 4 otherwise)")
    a("--test-num-beams", type=int, help="beam size for the test splits, scored once on the best checkpoint "
      "(default: --num-beams; the authors' test decoding: DART 6, WMT16 5)")
    a("--test-bleu", default="sacrebleu", choices=("sacrebleu", "multi-bleu"),
      help="how the test splits' BLEU is computed: sacrebleu (cased, its own tokeniser) or multi-bleu (the "
      "authors' DART scoring: lower-cased, split on non-word characters, three reference lines; "
      "scoring.multi_bleu)")
    a("--batch-order", default="shuffle", choices=("shuffle", "bucket"),
      help="training batches: shuffle (random rows), or bucket (random batches of rows of similar length: "
      "less padding, see data.batches)")
    a("--seed", default="0", help="random seed of a student: its init, dropout and (by default) data order "
      "(comma list: lockstep)")
    a("--data-seed", type=int, help="one data order for every student (default: each student's own --seed)")
    a("--out", default="runs/student", help="output directory")
    a("--overwrite", action="store_true", help="replace a finished run in --out")
    a("--keep-checkpoints", action="store_true", help="keep the job's checkpoint (--out/checkpoint) when it "
      "finishes; a stopped job resumes from it in any case (checkpoints.py)")
    a("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    a("--device", default="cuda" if torch.cuda.is_available() else "cpu",
      help="where models and batches live (default: cuda if available, else cpu); under torchrun each "
      "process takes the GPU of its LOCAL_RANK")
    a("--bf16", default="auto", choices=("auto", "yes", "no"),
      help="bf16 autocast for forward passes and losses; auto: on for CUDA, off on CPU")
    return p.parse_args(argv)


POSITIVE = ("max_length", "teacher_epochs", "student_layers", "temperature", "batch_size", "epochs",
            "max_grad_norm", "eval_every", "grad_accumulation")


POSITIVE_IF_GIVEN = ("n_train", "n_dev", "teacher_max_steps", "student_decoder_layers", "student_width", "max_steps",
                     "num_beams", "threads", "max_target_length", "teacher_batch_size", "eval_every_epochs",
                     "teacher_eval_every_epochs", "stage1_epochs", "lr", "teacher_lr", "lora_alpha",
                     "teacher_max_target_length", "teacher_num_beams", "test_num_beams",
                     "teacher_grad_accumulation")


NOT_NEGATIVE = ("a_ce", "a_kl", "a_hid", "a_att", "consistency", "weight_decay", "target_layer", "teacher_seed",
                "warmup_steps", "teacher_warmup_steps", "hold_encoder_steps", "lora", "teacher_lora", "lora_dropout")


def check_numbers(args):
    """Out-of-range numbers are refused here, not deep in training."""
    for name in POSITIVE + POSITIVE_IF_GIVEN + NOT_NEGATIVE:
        value = getattr(args, name)
        if value is None:
            continue
        if not (math.isfinite(value) and (value >= 0 if name in NOT_NEGATIVE else value > 0)):
            bound = "at least 0" if name in NOT_NEGATIVE else "greater than 0"
            raise ValueError(f"--{name.replace('_', '-')} {value} is out of range; give a number {bound}")


def run_names(args):
    """Every (init, strategy, seed) combination and the directory it writes to; bad flags that
    need no model are refused here, before a teacher is loaded or fine-tuned."""
    check_numbers(args)
    inits, strategies, seeds = (v.split(",") for v in (args.init, args.strategy, args.seed))
    if not all(seed.strip().isdigit() for seed in seeds):
        raise ValueError(f"--seed {args.seed!r} must be whole numbers, e.g. 0 or 0,1,2")
    combos = list(itertools.product(inits, strategies, [int(s) for s in seeds]))
    for init, strategy, _ in combos:
        if init not in ("copy", "random"):
            raise ValueError(f"unknown init {init!r}; choose copy or random")
        if strategy not in mapping.STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(mapping.STRATEGIES)}")
        if init == "copy" and args.student_width:
            raise ValueError("copy init needs the teacher's width; use --init random with --student-width")
    if args.eval_steps and not all(s.strip().isdigit() for s in args.eval_steps.split(",")):
        raise ValueError(f"--eval-steps {args.eval_steps!r} must be comma-separated step numbers, e.g. 50,100")
    related.check_flags(args.objective, args.supplementary, args.consistency, int(os.environ.get("WORLD_SIZE", 1)))
    if args.coqa_train_rows != "lm-eval" and (args.task != "coqa" or args.train_file):
        raise ValueError(f"--coqa-train-rows is for --task coqa, not {args.task!r}; leave the flag out")
    if args.stage1_epochs and args.objective == "kd-only":
        raise ValueError("--stage1-epochs trains the matching terms first, but --objective kd-only has none")
    if len(combos) == 1:
        return [(*combos[0], Path(args.out))]
    return [(i, s, seed, Path(args.out, f"{i}-{s}-seed{seed}")) for i, s, seed in combos]


def finished(args, init, strategy, seed, out):
    """Has this run finished in `out` before? A single run writes to --out itself, so another run's
    metrics.json there means two jobs share one directory: refused, not taken as this run's."""
    path = out / "metrics.json"
    if not path.exists():
        return False
    done = json.loads(path.read_text())
    theirs = (done.get("init"), done.get("strategy"), done.get("seed"))
    this = (init, "pairs" if args.pairs else strategy, seed)
    if theirs != this:
        raise ValueError(f"{out} holds the finished run {'{}-{}-seed{}'.format(*theirs)}, not "
                         f"{'{}-{}-seed{}'.format(*this)}; give this run another --out")
    return True


def resolve_settings(args, task):
    """The command line with every task-dependent default filled in, once, right after the task is
    loaded: the rest of the program reads these settings and never changes them."""
    language_model = task["kind"] == "language-modeling"
    if (args.lora or args.teacher_lora) and not language_model:
        raise ValueError("--lora and --teacher-lora are implemented for decoder-only language models (the "
                         "authors' LLM setting), not for a task of kind " + repr(task["kind"]))
    if args.kl_positions == "every" and not language_model:
        raise ValueError(f"--kl-positions every is the authors' decoder-only KL, but task {task['name']!r} is "
                         f"{task['kind']}; leave the flag out")
    if args.select_by == "token-accuracy" and not language_model:
        raise ValueError(f"--select-by token-accuracy scores a language model's completions, but task "
                         f"{task['name']!r} is {task['kind']}; leave the flag out")
    if args.hold_encoder_steps and task["kind"] != "generation":
        raise ValueError(f"--hold-encoder-steps holds a sequence-to-sequence model's encoder, but task "
                         f"{task['name']!r} is {task['kind']}; leave the flag out")
    teacher_base = args.teacher_base or default_teacher_base(task)
    num_beams = args.num_beams or (5 if task["name"] == "dart" else 4)
    return argparse.Namespace(**{
        **vars(args),
        "hid_reduction": args.hid_reduction or {"classification": "bert", "generation": "seq2seq",
                                                "language-modeling": "token"}[task["kind"]],
        "hid_norm": args.hid_norm or ("l2" if language_model else "none"),
        "match_embeddings": args.match_embeddings == "yes" or (args.match_embeddings == "auto" and not language_model),
        "lr": args.lr or (3e-4 if language_model else 1e-5),
        "lr_given": args.lr is not None, "teacher_lr_given": args.teacher_lr is not None,
        "teacher_lr": args.teacher_lr or (1e-3 if teacher_base in families.SCRATCH_TEACHERS else 2e-5),
        "num_beams": num_beams,
        "teacher_num_beams": args.teacher_num_beams or num_beams,
        "test_num_beams": args.test_num_beams or num_beams,
        "teacher_max_target_length": args.teacher_max_target_length or args.max_target_length,
        "teacher_base": teacher_base,
        "bf16": args.bf16 == "yes" or (args.bf16 == "auto" and torch.device(args.device).type == "cuda")})


def short_schedule_note(role, lr_given, lr, steps, steps_per_epoch, epochs):
    """A note for a run whose --max-steps (or --teacher-max-steps) stops it well before the epochs its
    default learning rate was chosen for: which rate it uses, and why it may be too low."""
    if lr_given or steps >= steps_per_epoch * epochs:
        return None
    flag, advice = (("--teacher-lr", "the offline tables fine-tune MiniLM at 5e-5") if role == "teacher" else
                    ("--lr", "the offline tables train 200-300 steps at 1e-4 (copy init) or 5e-4 (random init)"))
    return (f"note: the {role} trains {steps} step{'s' * (steps != 1)} ({steps / steps_per_epoch:.2f} epochs) at {flag} "
            f"{lr:g}, the "
            f"authors' rate for {epochs:g} epochs; a run this short may need a larger one ({advice})")


def default_teacher_base(task):
    if task["kind"] == "language-modeling":
        return "scratch-llama" if task["offline"] else "Qwen/Qwen3-8B"
    if task["offline"]:
        return "minilm"
    return {"dart": "facebook/bart-large", "wmt16-en-ro": "t5-base"}.get(task["name"], "bert-base-uncased")


def teacher_directory(task, settings):
    """Where the fine-tuned teacher is, and whether it is there already (--teacher, or fine-tuned before)."""
    base = Path(settings.teacher_base).name
    directory = Path(settings.teacher or settings.teacher_dir or Path("runs", "teachers", f"{task['name']}-{base}"))
    return directory, bool(settings.teacher) or (directory / "metrics.json").exists()


def scale_note(task, teacher_base):
    """What kind of experiment a run is, written into every metrics.json and table."""
    if task["name"] == "local":
        return "local data files"
    if not task["offline"]:
        return "paper setup (hub models and data)"
    about = f"task {task['name']} ({data.TASKS[task['name']]['about']})"
    if teacher_base == "mpnet":  # bash run_all.sh mpnet: the paper's teacher size, for a bigger machine
        return (f"OFFLINE profile: packaged 12-layer MPNet teacher (all-mpnet-base-v2, the paper's teacher size), "
                f"{about}. Smaller real tasks than the paper's, not the paper's setup.")
    if teacher_base == "smollm2":  # a real pretrained causal LM, packaged as a 4-bit GGUF file
        return (f"OFFLINE profile: packaged SmolLM2-135M-Instruct teacher (a pretrained 30-block Llama; its weights "
                f"carry the 4-bit rounding of the GGUF file it ships as), {about}. Not the paper's setup.")
    teacher = "packaged 6-layer MiniLM teacher" if teacher_base == "minilm" else f"teacher {teacher_base}"
    return f"OFFLINE profile: {teacher}, {about}, short CPU training. A smaller real experiment, not the paper's setup."


@dataclasses.dataclass(frozen=True)
class Loss:
    """What a loss adds up in one training stage (distill.student_loss): Section 3's
    a_ce * CE(gold) + a_kl * KL(teacher || student) + a_hid * L_hid, and the related studies' terms."""
    weights: dict  # per term: ce, kl, hid, att (attention transfer), ic (CR-ILD's consistency)
    objective: str  # what matched layers share: hidden states (the paper), attention, ... or nothing (kd-only)
    supplementary: str  # none, or mixup: the matching terms move to inputs mixed in embedding space
    temperature: float
    kl_positions: str  # scored (the tokens CE scores) or every (the authors' LLM KL)
    hid_reduction: str  # losses.hidden_loss
    hid_norm: str


def loss_settings(settings, role):
    """The loss of a training stage: 'teacher' (its fine-tuning: a_ce * CE alone, as no teacher
    outputs come with it), 'student', or with --stage1-epochs (Wang et al. 2023; Ko et al. 2023)
    'stage1' then 'student' as stage 2.

    Stage 1: the matching terms alone (hidden or attention loss, and CR-ILD's consistency
    term), CE and KL weighted 0. Stage 2: prediction matching alone, a_ce * CE + a_kl * KL
    (Wang: (1 - b) CE + b KD, e.g. --a-ce 0.5 --a-kl 0.5 --temperature 2; CR-ILD: soft CE on
    the teacher's logits, --a-ce 0 --a-kl 1 --temperature 2), on clean inputs.

    Each stage gets a fresh optimiser and schedule (warm-up included), as in both studies,
    where stage 2 is a separate run started from stage 1's last checkpoint. Wang et al.:
    a second fairseq run with --restore-file and the same epochs, lr and warm-up; its config
    template is not in their repository, but experiments.py removes --reset-optimizer,
    --reset-dataloader and --reset-meters from it only to resume an interrupted run, so a
    normal stage 2 resets the optimiser, and with it fairseq resets the lr scheduler and the
    update count. CR-ILD: a second run_finetune.py with a new BertAdam and warm-up. The data
    order restarts too. Deviation: CR-ILD's stage 2 uses batch 16 and 4 epochs (stage 1:
    batch 32, 5 to 20 epochs); here both stages share --batch-size and --lr.
    """
    weights = {"ce": settings.a_ce, "kl": settings.a_kl, "hid": settings.a_hid, "att": settings.a_att,
               "ic": settings.consistency}
    loss = Loss(weights, settings.objective, settings.supplementary, settings.temperature, settings.kl_positions,
                settings.hid_reduction, settings.hid_norm)
    if role == "stage1":
        return dataclasses.replace(loss, weights={**weights, "ce": 0.0, "kl": 0.0})
    if role == "student" and settings.stage1_epochs:
        return dataclasses.replace(loss, weights={**weights, "ic": 0.0}, objective="kd-only", supplementary="none")
    return loss


def schedule(settings, n_rows, role):
    """How the teacher (role 'teacher') or the students ('student'; 'stage1': the first of two
    stages, --stage1-epochs) train: lr, batch size, optimiser, warm-up, steps, and the steps
    after which the dev set is scored (the best of those is kept; none in stage 1)."""
    teacher = role == "teacher"
    batch_size = (settings.teacher_batch_size if teacher else None) or settings.batch_size
    accumulation = (settings.teacher_grad_accumulation if teacher else None) or settings.grad_accumulation
    # under torchrun each of the N processes takes its own batches per step: an epoch is N times fewer steps
    steps_per_epoch = -(-n_rows // (batch_size * accumulation * processes.world_size()))
    epochs, max_steps = (settings.teacher_epochs, settings.teacher_max_steps) if teacher else (settings.epochs,
                                                                                              settings.max_steps)
    if role == "stage1":
        epochs = settings.stage1_epochs
    steps = max(1, int(steps_per_epoch * epochs))
    steps = min(steps, max_steps) if max_steps else steps
    every_epochs = settings.teacher_eval_every_epochs if teacher else settings.eval_every_epochs
    # an interval in epochs counts on across epochs (the authors' Lightning restarts it each epoch)
    interval = (max(1, round(every_epochs * steps_per_epoch)) if every_epochs else steps if teacher
                else settings.eval_every)
    eval_steps = set(range(interval, steps + 1, interval)) | {steps}
    if settings.eval_steps and not teacher:
        eval_steps |= {int(s) for s in settings.eval_steps.split(",") if 0 < int(s) <= steps}
    if role == "stage1":  # the task head is untrained until stage 2, which keeps the best checkpoint
        eval_steps = set()
    return dict(role=role, lr=settings.teacher_lr if teacher else settings.lr, batch_size=batch_size,
                accumulation=accumulation,
                optimizer=settings.teacher_optimizer if teacher else settings.optimizer,
                warmup_steps=settings.teacher_warmup_steps if teacher else settings.warmup_steps,
                steps=steps, steps_per_epoch=steps_per_epoch, eval_steps=eval_steps,
                hold_encoder_steps=0 if teacher else settings.hold_encoder_steps)
