"""Intermediate-layer matching knowledge distillation, in one readable loop.

    python distill.py                                     # offline default: synth-sentiment, MiniLM teacher
    python distill.py --task sst2                         # the paper's setup (bert-base-uncased; needs the hub)
    python distill.py --strategy forward,reverse --init copy,random   # 4 students in lockstep

Steps (Yu, Wen, Mou 2025, Section 3):
1. fine-tune the teacher on the task (or load one with --teacher DIR); it is saved
   and reused by every later student run of the same task;
2. build the student: the teacher's architecture with fewer layers, initialised by
   copying the teacher's embeddings and selected blocks (copy) or fresh (random);
3. train it on  a_ce * CE(gold) + a_kl * KL(teacher || student) + a_hid * L_hid,
   where L_hid pulls matched student hidden states towards teacher hidden states,
   the pairs coming from mapping.match(strategy);
4. evaluate on the dev set every --eval-every steps, keep the best checkpoint, and
   write metrics.json, the student (save_pretrained) and log.txt to --out.

Comma-separated values of --strategy, --init and --seed train every combination in
lockstep: each batch goes once through the teacher, then through every student (same
data order, each student its own optimiser), each writing to --out/<init>-<strategy>-seed<seed>.
Encoder-decoder models (BART, T5, BERT2BERT) use the same loop; their encoder and
decoder stacks are matched separately with the same strategy.
"""
import argparse
import contextlib
import copy
import datetime
import functools
import itertools
import json
import math
import os
import random
import re
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

import data
import mapping

OFFLINE_NOTE = ("OFFLINE profile: packaged 6-layer MiniLM teacher, synthetic task, short CPU training. "
                "A smaller real experiment, not the paper's setup.")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a = p.add_argument
    a("--task", default="synth-sentiment", help="task name (see --list-tasks); synth-* run offline")
    a("--list-tasks", action="store_true", help="print name<TAB>kind<TAB>offline|hub per task and exit")
    a("--train-file", help="local .csv/.tsv/.jsonl training file (columns text, [text_pair], label)")
    a("--dev-file", help="local dev file, same columns")
    a("--n-train", type=int, help="offline tasks: number of training examples (default: the task's)")
    a("--max-length", type=int, default=128, help="tokens per input (authors: 128)")
    # teacher
    a("--teacher", help="an already fine-tuned teacher directory; skips fine-tuning")
    a("--teacher-base", help="pretrained model to fine-tune as teacher "
      "(default: bert-base-uncased for GLUE, facebook/bart-large for dart, t5-base for wmt16-en-ro, "
      "the packaged MiniLM ('minilm') for synth-* tasks)")
    a("--teacher-dir", help="where the fine-tuned teacher is saved and looked up "
      "(default: runs/teachers/<task>-<base>); an existing one is reused, whatever its settings")
    a("--teacher-seed", type=int, default=0, help="seed of teacher fine-tuning (shared by all student seeds)")
    a("--task-vocab", default="auto", choices=("auto", "no"),
      help="auto: for synth-* tasks on the packaged MiniLM, keep only the task's word pieces "
      "(same tokenisation, much faster steps; see data.task_vocabulary)")
    a("--teacher-epochs", type=float, default=3.0, help="teacher fine-tuning epochs (authors: 3)")
    a("--teacher-lr", type=float, default=2e-5, help="teacher learning rate (authors: 2e-5 or 5e-5)")
    a("--teacher-max-steps", type=int, help="cap on teacher fine-tuning steps")
    # student
    a("--student-layers", type=int, default=3, help="student depth (encoder depth for seq2seq)")
    a("--student-decoder-layers", type=int, help="seq2seq student decoder depth (default: --student-layers)")
    a("--student-width", type=int, help="student hidden size, smaller than the teacher's; adds one learned "
      "bias-free projection per matched student hidden state (training only); random init only")
    a("--init", default="copy", help="copy | random (comma list: lockstep)")
    a("--copy-from", default="forward", help="teacher blocks copied into the student: forward | lower | "
      "upper | reverse, or an explicit 1-based list such as 1,7,12")
    a("--freeze-embeddings", default="auto", choices=("auto", "yes", "no"),
      help="freeze the student's word embeddings; auto: only when they are copied from the teacher")
    # loss
    a("--strategy", default="forward", help=f"layer matching: {', '.join(mapping.STRATEGIES)} (comma list: lockstep)")
    a("--pairs", help="explicit student:teacher hidden-state pairs, e.g. 0:0,1:4,2:8 (overrides --strategy)")
    a("--target-layer", type=int, help="all-to-one's teacher hidden state (default: the middle layer)")
    a("--a-ce", type=float, default=1.0, help="weight of CE on gold labels")
    a("--a-kl", type=float, default=1.0, help="weight of KL(teacher || student)")
    a("--a-hid", type=float, default=3.0, help="weight of the hidden-state loss")
    a("--temperature", type=float, default=1.0, help="KD temperature (authors: 1; 2 for T5 translation)")
    a("--hid-reduction", choices=("bert", "seq2seq", "token"), help="hidden-loss reduction (see hidden_loss); "
      "default: bert for classification, seq2seq for generation, as in the authors' code")
    a("--hid-norm", default="none", choices=("none", "layernorm", "l2"),
      help="normalise hidden states before the loss (layernorm: the authors' T5 runs)")
    # the related studies' methods (Wang et al. 2023; Ko et al. 2023)
    a("--objective", default="hidden", choices=("hidden", "attention", "attention+value", "kd-only"),
      help="what matched layers share. hidden: hidden states (the paper). attention: the attention "
      "distributions of the blocks whose outputs are matched, KL per head (Wang et al. 2023); pairs with "
      "hidden state 0 (embeddings, no attention) are skipped. attention+value: plus MiniLM's value relation. "
      "kd-only: no matching, CE + KL only, whatever --strategy says. attention*: BERT-style encoders only")
    a("--a-att", type=float, default=1.0, help="weight of the attention-transfer loss (--objective attention*)")
    a("--supplementary", default="none", choices=("none", "mixup"),
      help="CR-ILD's supplementary inputs (Ko et al. 2023). mixup: the matching loss is computed on each "
      "example mixed with the batch reversed in embedding space (lambda ~ Beta(1,1), folded to >= 0.5; the "
      "teacher sees the same mix); CE and KL stay on the clean batch. BERT-style encoders only")
    a("--consistency", type=float, default=0.0,
      help="CR-ILD's consistency weight w (study: 0.1; 0: off; needs --supplementary mixup): adds "
      "w * epoch/n_epochs * [lam * MSE(S(x_mix), S'(x)) + (1 - lam) * MSE(S(x_mix), S'(x) reversed)] on the "
      "student's last hidden state, S' = the student on the clean batch without gradient; epochs count from 0, "
      "so there is no term in the first epoch (a run shorter than one epoch ramps by step instead)")
    # optimisation
    a("--lr", type=float, default=1e-5, help="student learning rate (authors: 1e-5 or 2e-5)")
    a("--batch-size", type=int, default=32)
    a("--epochs", type=float, default=10.0, help="student epochs (authors: 10; SST-2: 20)")
    a("--max-steps", type=int, help="cap on student steps (short runs)")
    a("--weight-decay", type=float, default=0.0)
    a("--max-grad-norm", type=float, default=1.0, help="gradient clipping (Hugging Face Trainer's default)")
    a("--eval-every", type=int, default=1000, help="dev evaluation interval in steps (authors: 1000)")
    a("--eval-steps", help="extra comma-separated steps at which to evaluate (learning curves)")
    a("--num-beams", type=int, help="beam size for generation (default: 5 for dart, 4 otherwise)")
    a("--seed", default="0", help="random seed (comma list: lockstep)")
    a("--out", default="runs/student", help="output directory")
    a("--overwrite", action="store_true", help="replace a finished run in --out")
    a("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    a("--device", default="cuda" if torch.cuda.is_available() else "cpu",
      help="where models and batches live (default: cuda if available, else cpu); under torchrun each "
      "process takes the GPU of its LOCAL_RANK")
    a("--bf16", default="auto", choices=("auto", "yes", "no"),
      help="bf16 autocast for forward passes and losses; auto: on for CUDA, off on CPU")
    return p.parse_args(argv)


# ----------------------------------------------------------------------------- models
def default_teacher_base(task):
    if task["offline"]:
        return "minilm"
    return {"dart": "facebook/bart-large", "wmt16-en-ro": "t5-base"}.get(task["name"], "bert-base-uncased")


def from_pretrained(cls, name, **kwargs):
    """cls.from_pretrained, with 'minilm' meaning the packaged model and a clear hub error."""
    path = data.offline_teacher_path() if name == "minilm" else name
    try:
        return cls.from_pretrained(path, **kwargs)
    except OSError as error:
        raise data.HubUnavailable(f"could not load {name!r}: not a local directory and the Hugging Face hub "
                                  f"is unreachable ({str(error).splitlines()[0][:120]}); run offline with "
                                  f"--task synth-sentiment (see --list-tasks)") from error


def pretrained_teacher(task, base, small_vocabulary=False):
    """A pretrained model with the task's head (classifier or seq2seq LM), and its tokenizer."""
    import transformers as tf
    tokenizer = from_pretrained(tf.AutoTokenizer, base)
    if task["kind"] == "classification":
        model = from_pretrained(tf.AutoModelForSequenceClassification, base, num_labels=task["num_labels"])
    elif base == "minilm":
        # No seq2seq model ships in a package: warm-start BERT2BERT from two copies of
        # MiniLM (Rothe et al. 2020); the decoder's cross-attention starts random.
        path = data.offline_teacher_path()
        model = tf.EncoderDecoderModel.from_encoder_decoder_pretrained(path, path)
    else:
        model = from_pretrained(tf.AutoModelForSeq2SeqLM, base)
    if small_vocabulary:
        tokenizer, kept_ids = data.task_vocabulary(tokenizer, task)
        model = shrink_vocabulary(model, kept_ids)
    if model.config.model_type == "encoder-decoder":  # BERT2BERT: [CLS] starts, [SEP] ends a target
        for config in (model.config, model.generation_config):
            config.decoder_start_token_id = tokenizer.cls_token_id
            config.eos_token_id = tokenizer.sep_token_id
            config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def shrink_vocabulary(model, kept_ids):
    """The same model with only the word pieces `kept_ids` (see data.task_vocabulary).

    Every tensor indexed by the vocabulary (word embeddings, a tied LM head and its
    bias) keeps just those rows; the model is rebuilt from a config with the small
    vocabulary, so it saves and loads like any other.
    """
    config = copy.deepcopy(model.config)
    configs = [config.encoder, config.decoder] if config.model_type == "encoder-decoder" else [config]
    old_size = configs[0].vocab_size
    for sub_config in configs:
        sub_config.vocab_size = len(kept_ids)
    index = torch.tensor(kept_ids)
    state = {key: value[index] if value.dim() and value.shape[0] == old_size else value
             for key, value in model.state_dict().items()}
    small = type(model)(config=config)
    small.load_state_dict(state)
    return small


def load_model(task, directory):
    """A saved teacher or student: a classifier, a seq2seq LM, or BERT2BERT (not an Auto class)."""
    import transformers as tf
    if task["kind"] == "classification":
        return tf.AutoModelForSequenceClassification.from_pretrained(directory)
    if tf.AutoConfig.from_pretrained(directory).model_type == "encoder-decoder":
        return tf.EncoderDecoderModel.from_pretrained(directory)
    return tf.AutoModelForSeq2SeqLM.from_pretrained(directory)


def depth_fields(config):
    """Where each stack's depth lives: {stack: (config object, attribute name)}."""
    if config.model_type == "encoder-decoder":  # BERT2BERT: one BERT config per stack
        return {"encoder": (config.encoder, "num_hidden_layers"), "decoder": (config.decoder, "num_hidden_layers")}
    if config.model_type == "t5":
        return {"encoder": (config, "num_layers"), "decoder": (config, "num_decoder_layers")}
    if config.is_encoder_decoder:  # BART and its relatives
        return {"encoder": (config, "encoder_layers"), "decoder": (config, "decoder_layers")}
    return {"encoder": (config, "num_hidden_layers")}


def stack_depths(config):
    """Number of blocks per stack: {'encoder': n} or {'encoder': n, 'decoder': m}."""
    return {stack: getattr(owner, name) for stack, (owner, name) in depth_fields(config).items()}


def student_config(teacher_config, depths, width):
    """The teacher's config with the student's depth per stack (and optionally width)."""
    config = copy.deepcopy(teacher_config)
    for stack, (owner, name) in depth_fields(config).items():
        setattr(owner, name, depths[stack])
    if width:
        if config.is_encoder_decoder or not hasattr(config, "intermediate_size"):
            raise ValueError("--student-width is implemented for BERT-style encoders only (the paper's width ablation)")
        if width % config.num_attention_heads:
            raise ValueError(f"--student-width {width} must be a multiple of the teacher's "
                             f"{config.num_attention_heads} attention heads")
        config.intermediate_size = config.intermediate_size * width // config.hidden_size
        config.hidden_size = width
    return config


BLOCK_INDEX = re.compile(r"\.(layer|layers|block)\.(\d+)\.")


def teacher_key(student_key, copied):
    """The teacher parameter a student parameter is copied from.

    copied[stack][k] is the 1-based teacher block copied into student block k+1, so
    'bert.encoder.layer.1.attention...' <- 'bert.encoder.layer.7.attention...' when
    copied['encoder'] = [4, 8, 12]. Works for BERT, BART, T5 and BERT2BERT key names.
    """
    stack = "decoder" if "decoder" in student_key.split(".") else "encoder"
    found = BLOCK_INDEX.search(student_key)
    if not found:
        return student_key
    teacher_block = copied[stack][int(found.group(2))] - 1
    return student_key[:found.start(2)] + str(teacher_block) + student_key[found.end(2):]


def build_student(teacher, init, depths, width=None, copy_from="forward", seed=0):
    """A student with `depths` blocks per stack, copied from the teacher or fresh.

    copy: embeddings, pooler and the `copy_from` teacher blocks (mapping.copy_layers)
    are copied; the classifier head stays fresh, as in the authors' code.
    random: fresh weights from the teacher's config, seeded.
    Returns (student, copied blocks per stack or None).
    """
    torch.manual_seed(seed)
    config = student_config(teacher.config, depths, width)
    student = type(teacher)(config)
    if init == "random":
        return student, None
    if init != "copy":
        raise ValueError(f"unknown init {init!r}; choose copy or random")
    if width:
        raise ValueError("copy init needs the teacher's width; use --init random with --student-width")
    teacher_depths = stack_depths(teacher.config)
    copied = {stack: copy_plan(teacher_depths[stack], depth, copy_from) for stack, depth in depths.items()}
    teacher_state = teacher.state_dict()
    with torch.no_grad():
        for key, value in student.state_dict().items():
            if key.startswith(("classifier.", "score.")):
                continue
            source = teacher_key(key, copied)
            if source not in teacher_state:  # e.g. T5's relative bias lives in block 0 only
                source = key
            if source in teacher_state and teacher_state[source].shape == value.shape:
                value.copy_(teacher_state[source])
    return student, copied


def copy_plan(n_teacher, n_student, copy_from):
    if copy_from.replace(",", "").replace(" ", "").isdigit():
        return mapping.parse_layer_list(copy_from, n_teacher, n_student)
    return mapping.copy_layers(n_teacher, n_student, copy_from)


def freeze_word_embeddings(model):
    model.get_input_embeddings().weight.requires_grad_(False)
    if model.config.model_type == "encoder-decoder":  # BERT2BERT's decoder has its own table
        model.decoder.get_input_embeddings().weight.requires_grad_(False)


def add_projections(student, teacher_width, pairs):
    """One bias-free linear map per matched student hidden state, student width -> teacher width.

    They live on the student (`student.hidden_projections`) so they train with it, but
    they are training-only: save_model leaves them out of the saved model and writes
    them separately to hidden_projections.pt.
    """
    width = student.config.hidden_size
    student.hidden_projections = torch.nn.ModuleDict({
        f"{stack}_{s}": torch.nn.Linear(width, teacher_width, bias=False)
        for stack, stack_pairs in pairs.items() for s, _ in stack_pairs})


# ----------------------------------------------------------------------------- losses
def hidden_states(outputs):
    """{'encoder': tuple of hidden states} (+ 'decoder' for seq2seq), index 0 = embeddings."""
    if getattr(outputs, "encoder_hidden_states", None) is not None:
        return {"encoder": outputs.encoder_hidden_states, "decoder": outputs.decoder_hidden_states}
    return {"encoder": outputs.hidden_states}


def token_masks(batch):
    """Which positions are real tokens, per stack (padding is never matched)."""
    masks = {"encoder": batch["attention_mask"]}
    if batch["labels"].dim() == 2:
        masks["decoder"] = (batch["labels"] != -100).long()
    return masks


def normalise(states, how):
    if how == "layernorm":
        return F.layer_norm(states, states.shape[-1:])
    if how == "l2":
        return F.normalize(states, dim=-1)
    return states


def hidden_loss(student_states, teacher_states, pairs, mask, reduction="bert", norm="none", projections=None,
                stack="encoder"):
    """L_hid over matched (student_index, teacher_index) pairs of one stack.

    Per pair, d = sum over hidden units of (s - t)^2 at every non-padding token.
    reduction='bert':    sum(d) / (batch_size * n_valid_tokens), averaged over pairs:
                         the authors' BERT code (`.mean(dim=0).sum() / n_valid`), so 1/B
                         of a per-token mean; its effective weight is a_hid / B.
    reduction='token':   sum(d) / n_valid_tokens, averaged over pairs: a plain per-token mean.
    reduction='seq2seq': sum(d) / (n_valid_tokens * hidden_size), summed over pairs:
                         the authors' BART/T5 code (element-wise MSE over valid tokens).
    """
    if not pairs:
        return student_states[0].new_zeros(())
    mask = mask.to(student_states[0].dtype)
    n_valid = mask.sum()
    losses = []
    for s, t in pairs:
        student = student_states[s]
        if projections is not None:
            student = projections[f"{stack}_{s}"](student)
        diff = normalise(student, norm) - normalise(teacher_states[t], norm)
        per_token = diff.pow(2).sum(-1) * mask
        if reduction == "bert":
            losses.append(per_token.sum() / (mask.shape[0] * n_valid))
        elif reduction == "token":
            losses.append(per_token.sum() / n_valid)
        else:
            losses.append(per_token.sum() / (n_valid * diff.shape[-1]))
    total = torch.stack(losses)
    return total.sum() if reduction == "seq2seq" else total.mean()


def kd_loss(student_logits, teacher_logits, temperature=1.0, mask=None):
    """KL(teacher || student) at temperature T, times T^2 (Hinton et al. 2015).

    Classification: kl_div(..., 'batchmean'), as the authors. Sequences: the same per
    target token, averaged over non-padding tokens.
    """
    log_p_student = F.log_softmax(student_logits / temperature, dim=-1)
    p_teacher = F.softmax(teacher_logits / temperature, dim=-1)
    if mask is None:
        return F.kl_div(log_p_student, p_teacher, reduction="batchmean") * temperature ** 2
    per_token = F.kl_div(log_p_student, p_teacher, reduction="none").sum(-1)
    return (per_token * mask).sum() / mask.sum() * temperature ** 2


# ----------------------------------------------------------------------------- related studies (issue 6)
# Two neighbouring studies as options of the same loop:
# attention transfer (Wang et al. 2023: --objective attention, attention+value) and
# CR-ILD (Ko et al. 2023: --strategy last, --supplementary mixup, --consistency).
# Both distil BERT encoders, so their hooks assume BERT's module layout.
def is_bert_style(model):
    return hasattr(getattr(model.base_model, "encoder", None), "layer")


def check_related_flags(args):
    """The related studies' options outside their setting, checked before any work starts."""
    if args.consistency < 0:
        raise ValueError(f"--consistency {args.consistency} is a weight: give 0 (off) or e.g. 0.1 (CR-ILD)")
    if args.supplementary != "none" and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ValueError("--supplementary runs the student outside DistributedDataParallel; "
                         "run it without torchrun")
    if args.consistency > 0 and args.supplementary != "mixup":
        raise ValueError("--consistency compares the student on mixed and clean inputs: add --supplementary mixup")


def check_related_teacher(args, teacher):
    """Attention transfer and mixup hook into BERT's modules: refuse any other teacher."""
    if (args.objective.startswith("attention") or args.supplementary != "none") and not is_bert_style(teacher):
        raise ValueError(f"--objective {args.objective} / --supplementary {args.supplementary} are implemented "
                         f"for BERT-style encoders (classification), as in both studies; this teacher is a "
                         f"{teacher.config.model_type}")


def self_attention(model, block):
    """The self-attention module of block `block` (1-based, like hidden-state indices)."""
    return model.base_model.encoder.layer[block - 1].attention.self


def split_heads(projection, heads):
    """(batch, tokens, heads * d) -> (batch, heads, tokens, d): one slice per attention head."""
    batch, tokens, width = projection.shape
    return projection.view(batch, tokens, heads, width // heads).transpose(1, 2)


@contextlib.contextmanager
def capture_attention(model, blocks):
    """Record the query, key and value projections of `blocks` during one forward pass.

    Yields {block: {"query": q, "key": k, "value": v}}, each (batch, heads, tokens, head size).
    Why not output_attentions=True: in transformers 5 only the eager kernel returns maps (the
    default sdpa kernel returns none), and the map it returns is taken *after* attention
    dropout, so a training student's rows hold zeros and KL(teacher || student) is infinite.
    Recomputing softmax(Q K^T / sqrt(d)) from the projections gives the clean distributions
    (both studies' code also starts from the scores), with any kernel, and V comes for free.
    """
    captured = {block: {} for block in blocks}

    def keep(store, name, heads):
        return lambda _module, _inputs, output: store.update({name: split_heads(output, heads)})

    hooks = []
    for block in blocks:
        attention = self_attention(model, block)
        for name in ("query", "key", "value"):
            hooks.append(getattr(attention, name).register_forward_hook(
                keep(captured[block], name, attention.num_attention_heads)))
    try:
        yield captured
    finally:
        for hook in hooks:
            hook.remove()


def relation(left, right, mask):
    """log softmax(left right^T / sqrt(d)) per head, padding keys masked: (batch, heads, T, T).

    (Q, K) is the block's own attention distribution (MiniLM's attention transfer);
    (V, V) is MiniLM's value relation (Wang et al. 2020).
    """
    scores = left @ right.transpose(-1, -2) / math.sqrt(left.shape[-1])
    padding_keys = mask[:, None, None, :] == 0
    return F.log_softmax(scores.masked_fill(padding_keys, torch.finfo(scores.dtype).min), dim=-1)


def relation_kl(student, teacher, mask):
    """KL(teacher row || student row), averaged over heads and real (non-padding) query rows.

    Padding keys have probability 0 on both sides, so they add nothing. Heads are matched one
    to one, so their counts must agree; distill.py's students keep the teacher's head count
    (--student-width shrinks the head size, not the count), so this only guards direct use.
    """
    if student.shape[1] != teacher.shape[1]:
        raise ValueError(f"attention transfer matches heads one to one, but the student has {student.shape[1]} "
                         f"heads and the teacher {teacher.shape[1]}; give the student the teacher's head count")
    per_row = F.kl_div(student, teacher, log_target=True, reduction="none").sum(-1)  # (batch, heads, T)
    rows = mask[:, None, :].to(per_row.dtype).expand_as(per_row)
    return (per_row * rows).sum() / rows.sum()


def attention_pairs(pairs):
    """Block pairs from hidden-state pairs: hidden state k >= 1 is block k's output, so its
    attention is block k's; pairs with index 0 (the embeddings have no attention) are skipped."""
    return [(s, t) for s, t in pairs if s > 0 and t > 0]


def attention_loss(student, teacher, pairs, mask, values=False):
    """L_att over the matched blocks' captured projections (capture_attention), averaged over pairs.

    Per pair: relation_kl of the attention distributions, plus, with values=True, relation_kl
    of the value relations (MiniLM: L_AT + L_VR). Scale: a mean over real query rows and heads,
    as MiniLM writes it. The ACL 2023 study's code sums over query rows (padding included) and
    divides by batch x heads, about T times ours; CR-ILD averages the cross-entropy over all rows.
    """
    losses = []
    for s, t in attention_pairs(pairs):
        loss = relation_kl(relation(student[s]["query"], student[s]["key"], mask),
                           relation(teacher[t]["query"], teacher[t]["key"], mask), mask)
        if values:
            loss = loss + relation_kl(relation(student[s]["value"], student[s]["value"], mask),
                                      relation(teacher[t]["value"], teacher[t]["value"], mask), mask)
        losses.append(loss)
    return torch.stack(losses).mean() if losses else torch.zeros(())


def attention_blocks(pairs, side, args):
    """The blocks whose projections attention transfer needs, on side "student" or "teacher"."""
    if not args.objective.startswith("attention"):
        return []
    return sorted({pair[0 if side == "student" else 1] for pair in attention_pairs(pairs)})


def mixing_weight(rng):
    """CR-ILD's lambda ~ Beta(1, 1), folded to max(lambda, 1 - lambda): each mixed example
    stays closer to its own original than to its partner."""
    lam = rng.betavariate(1.0, 1.0)
    return max(lam, 1.0 - lam)


def mixed_forward(model, batch, lam, blocks):
    """The model on CR-ILD's supplementary inputs; returns (outputs, attention projections, mask).

    Example i becomes lam * e(x_i) + (1 - lam) * e(x_{B-1-i}), e = the output of the model's
    own embedding layer (word + position + token type, LayerNorm, dropout), mixed by a hook
    exactly where the study's code mixes; the teacher and every student use the same lam and
    the same reversed order. The attention mask is the OR of both rows' masks, so no real
    token of either is hidden.
    """
    mask = torch.maximum(batch["attention_mask"], batch["attention_mask"].flip(0))
    mix = model.base_model.embeddings.register_forward_hook(
        lambda _module, _inputs, embedded: lam * embedded + (1 - lam) * embedded.flip(0))
    try:
        with capture_attention(model, blocks) as attention:
            outputs = model(input_ids=batch["input_ids"], attention_mask=mask,
                            token_type_ids=batch.get("token_type_ids"), output_hidden_states=True)
    finally:
        mix.remove()
    return outputs, attention, mask


def consistency_ramp(step, steps_per_epoch, total_steps):
    """CR-ILD's epoch / n_epochs for the 0-based `step`, with epochs counted from 0.

    n_epochs is this run's length (total_steps / steps_per_epoch, so --max-steps counts), and
    the first epoch gets no consistency term, as in the study. Deviation: in a run shorter
    than one epoch the term would never appear, so there the ramp is step / total_steps.
    """
    if total_steps <= steps_per_epoch:
        return step / total_steps
    return (step // steps_per_epoch) / (total_steps / steps_per_epoch)


def consistency_loss(mixed_last, clean_last, lam, mask):
    """CR-ILD's L_IC before its weight w and ramp (Ko et al. 2023 and their code):

        lam * L(S(x_mix), S'(x)) + (1 - lam) * L(S(x_mix), S'(x)[reversed])

    S'(x): the student's own last hidden state on the clean batch, detached. We take it from
    the clean pass that gives CE and KL; the study runs a third, no-grad pass (the same
    quantity under another dropout draw). L: the study's hidden variant, element-wise MSE,
    here over the real tokens of the clean side (the study's includes padding).
    """
    clean_last = clean_last.detach()
    return (lam * hidden_loss((mixed_last,), (clean_last,), [(0, 0)], mask, "seq2seq")
            + (1 - lam) * hidden_loss((mixed_last,), (clean_last.flip(0),), [(0, 0)], mask.flip(0), "seq2seq"))


def teacher_forward(teacher, batch, runs, args, needs_hidden, rng):
    """The teacher's pass over the batch, plus its side of the related studies' losses.

    Returns (outputs, extras). extras["attention"]: the projections of every teacher block a
    student's attention transfer needs. With --supplementary mixup, matching moves to the mixed
    inputs: extras["lam"] is this step's mixing weight (one for all students) and
    extras["mixed"] the teacher's hidden states and projections on the mixed inputs.
    """
    blocks = sorted({t for run in runs for t in attention_blocks(run["pairs"].get("encoder", []), "teacher", args)})
    mixing = args.supplementary == "mixup"
    with capture_attention(teacher, [] if mixing else blocks) as attention:
        outputs = teacher(**model_inputs(batch), output_hidden_states=needs_hidden)
    extras = {"attention": attention}
    if mixing:
        extras["lam"] = mixing_weight(rng)
        mixed, mixed_attention, _ = mixed_forward(teacher, batch, extras["lam"], blocks)
        extras["mixed"] = {"hidden": hidden_states(mixed), "attention": mixed_attention}
    return outputs, extras


def matching_losses(run, student, teacher, masks, args):
    """The layer-matching term between a student and a teacher pass over the same inputs.

    student, teacher: {"hidden": {stack: hidden states}, "attention": {block: projections}}.
    --objective hidden gives {"hid": L_hid} (the paper), attention* gives {"att": L_att}.
    """
    if args.objective == "hidden":
        projections = getattr(run["model"], "hidden_projections", None)
        return {"hid": sum(hidden_loss(student["hidden"][stack], teacher["hidden"][stack], pairs, masks[stack],
                                       args.hid_reduction, args.hid_norm, projections, stack)
                           for stack, pairs in run["pairs"].items())}
    return {"att": attention_loss(student["attention"], teacher["attention"], run["pairs"]["encoder"],
                                  masks["encoder"], values=args.objective == "attention+value")}


def supplementary_losses(run, batch, clean_outputs, extras, args):
    """CR-ILD for one student: the matching term on the mixed inputs, and L_IC (--consistency)."""
    matching = any(run["pairs"].values())
    if not matching and args.consistency == 0:
        return {}
    blocks = attention_blocks(run["pairs"]["encoder"], "student", args) if matching else []
    mixed, attention, mask = mixed_forward(run["model"], batch, extras["lam"], blocks)
    parts = {}
    if matching:
        student = {"hidden": hidden_states(mixed), "attention": attention}
        parts.update(matching_losses(run, student, extras["mixed"], {"encoder": mask}, args))
    if args.consistency > 0:
        parts["ic"] = extras["ramp"] * consistency_loss(mixed.hidden_states[-1], clean_outputs.hidden_states[-1],
                                                        extras["lam"], batch["attention_mask"])
    return parts


# ----------------------------------------------------------------------------- one student
def make_run(teacher, task, args, init, strategy, seed, out):
    """A student with everything its training needs, as a plain dict."""
    check_related_teacher(args, teacher)
    teacher_depths = stack_depths(teacher.config)
    depths = {"encoder": args.student_layers}
    if "decoder" in teacher_depths:
        depths["decoder"] = args.student_decoder_layers or args.student_layers
    for stack, depth in depths.items():
        mapping.check_depths(teacher_depths[stack], depth)
    student, copied = build_student(teacher, init, depths, args.student_width, args.copy_from, seed)
    pairs = {stack: (mapping.parse_pairs(args.pairs, teacher_depths[stack], depth) if args.pairs else
                     mapping.match(strategy, teacher_depths[stack], depth, seed,
                                   args.target_layer if strategy == "all-to-one" else None))
             for stack, depth in depths.items()}
    if args.objective == "kd-only":  # vanilla KD (issue 6): the strategy's pairs are not used
        pairs = {stack: [] for stack in pairs}
    if args.student_width and any(pairs.values()) and args.objective == "hidden":
        add_projections(student, teacher.config.hidden_size, pairs)
    if args.freeze_embeddings == "yes" or (args.freeze_embeddings == "auto" and init == "copy"):
        freeze_word_embeddings(student)
    return dict(name=out.name, out=out, init=init, strategy="pairs" if args.pairs else strategy, seed=seed,
                model=student, depths=depths, copied=copied, pairs=pairs)


def describe_runs(runs, teacher):
    """The mapping and copy plan of every run, as a markdown table printed before training."""
    rows = [f"teacher: {stack_depths(teacher.config)} blocks; hidden state 0 = embeddings",
            "| run | stack | pairs (student<-teacher) | copied teacher blocks |", "|---|---|---|---|"]
    for run in runs:
        for stack, pairs in run["pairs"].items():
            copied = run["copied"][stack] if run["copied"] else "none (random init)"
            rows.append(f"| {run['name']} | {stack} | {mapping.format_pairs(pairs)} | {copied} |")
    return "\n".join(rows)


# ----------------------------------------------------------------------------- devices and processes
def start_processes(args):
    """Under torchrun (WORLD_SIZE > 1): join the process group and take this process's device.

    gloo on CPU, nccl on GPU. Rank 0 evaluates, prints and saves; the other ranks' prints
    would only repeat it, so their stdout goes to /dev/null.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) == 1:
        return
    on_gpu = torch.device(args.device).type == "cuda"
    if on_gpu:
        args.device = f"cuda:{os.environ['LOCAL_RANK']}"
        torch.cuda.set_device(args.device)
    # rank 0 evaluates alone while the others wait at the next step: allow slow evaluations
    torch.distributed.init_process_group("nccl" if on_gpu else "gloo", timeout=datetime.timedelta(hours=2))
    if not is_main():
        sys.stdout = open(os.devnull, "w")


def stop_processes():
    if torch.distributed.is_initialized():
        barrier()  # nobody leaves while rank 0 is still writing results
        torch.distributed.destroy_process_group()


def barrier():
    """Wait for every process (under torchrun; a single process never waits)."""
    if torch.distributed.is_initialized():
        torch.distributed.barrier()


def is_main():
    return not torch.distributed.is_initialized() or torch.distributed.get_rank() == 0


def world_size():
    return torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1


def shard(batches):
    """This process's share of an epoch: every world_size-th batch. The list is first cut to a
    multiple of world_size, so that every rank starts its next epoch (a fresh shuffle, seeded
    by the step) at the same step; a single process keeps every batch."""
    n = world_size()
    if len(batches) < n:
        raise ValueError(f"{len(batches)} batch(es) per epoch cannot feed {n} processes; use more data")
    rank = torch.distributed.get_rank() if n > 1 else 0
    return batches[:len(batches) - len(batches) % n][rank::n]


def wrap_for_training(model, device):
    """DistributedDataParallel under torchrun (it averages gradients over ranks during backward,
    hidden_projections included: they are submodules of the student), else the model itself."""
    if not torch.distributed.is_initialized():
        return model
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)


def to_device(batch, device):
    return {key: value.to(device) for key, value in batch.items()}


def autocast(args):
    """bf16 autocast (--bf16; auto: CUDA only). Softmax, log-softmax and layer norm stay fp32 under it."""
    device_type = torch.device(args.device).type
    enabled = args.bf16 == "yes" or (args.bf16 == "auto" and device_type == "cuda")
    return torch.autocast(device_type, dtype=torch.bfloat16, enabled=enabled)


# ----------------------------------------------------------------------------- training
def model_inputs(batch):
    return {key: value for key, value in batch.items()
            if key in ("input_ids", "attention_mask", "token_type_ids", "labels")}


def distillation_loss(run, batch, teacher_outputs, args, extras=None):
    """a_ce * CE + a_kl * KL + a_hid * L_hid for one student; CE alone without a teacher.

    Issue 6: --objective attention* replaces a_hid * L_hid by a_att * L_att; --supplementary
    mixup moves the matching term to mixed inputs and --consistency adds w * L_IC (CR-ILD).
    `extras` is the teacher's side of these (teacher_forward). CE and KL use the clean batch.
    """
    model = run["model"]
    matching = teacher_outputs is not None and any(run["pairs"].values())
    on_batch = matching and args.supplementary == "none"  # match on this very pass
    needs_hidden = (on_batch and args.objective == "hidden") or args.consistency > 0
    blocks = attention_blocks(run["pairs"].get("encoder", []), "student", args) if on_batch else []
    forward = run.get("wrapped", model)  # DistributedDataParallel under torchrun (see train)
    with capture_attention(model, blocks) as attention:
        outputs = forward(**model_inputs(batch), output_hidden_states=needs_hidden)
    parts = {"ce": outputs.loss}
    if teacher_outputs is not None:
        masks = token_masks(batch)
        parts["kl"] = kd_loss(outputs.logits, teacher_outputs.logits, args.temperature, masks.get("decoder"))
    if on_batch:
        student = {"hidden": hidden_states(outputs), "attention": attention}
        teacher = {"hidden": hidden_states(teacher_outputs), "attention": extras and extras["attention"]}
        parts.update(matching_losses(run, student, teacher, masks, args))
    if teacher_outputs is not None and args.supplementary == "mixup":
        parts.update(supplementary_losses(run, batch, outputs, extras, args))
    weights = {"ce": args.a_ce, "kl": args.a_kl, "hid": args.a_hid, "att": args.a_att, "ic": args.consistency}
    return sum(weights[name] * value for name, value in parts.items()), parts


def linear_decay(optimizer, total_steps):
    """AdamW's learning rate decays linearly to 0, no warm-up (the authors' schedule)."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: max(0.0, 1 - step / total_steps))


def train(runs, teacher, train_rows, dev_rows, task, tokenizer, args, lr, total_steps, eval_steps, desc, seed):
    """Train every run in lockstep; keep each run's best dev checkpoint in run['best_state']."""
    device = torch.device(args.device)
    for run in runs:
        run["model"].to(device)
        run["wrapped"] = wrap_for_training(run["model"], device)
        params = [p for p in run["model"].parameters() if p.requires_grad]
        # fused: one kernel updates every parameter; on CPU about 8x faster than the default
        # per-parameter loop for a MiniLM-sized student (measured: 5 vs 45 ms a step)
        run["optimizer"] = torch.optim.AdamW(params, lr=lr, weight_decay=args.weight_decay, fused=True)
        run["scheduler"] = linear_decay(run["optimizer"], total_steps)
        run.update(best_score=-1.0, best_step=0, history=[], log=[], loss_sums={})
        run["model"].train()
    if teacher is not None:
        teacher.to(device).eval()
    teacher_needs_hidden = any(any(run["pairs"].values()) for run in runs)
    mixing_rng = random.Random(seed)  # CR-ILD's mixing weights (issue 6): one per step, shared by all students
    steps_per_epoch = -(-len(train_rows) // args.batch_size)
    epoch_batches, step = [], 0
    progress = tqdm(total=total_steps, desc=desc, dynamic_ncols=True, disable=None if is_main() else True)
    while step < total_steps:
        if not epoch_batches:  # a new epoch: a fresh shuffle, the same for every student
            epoch_batches = shard(data.batches(train_rows, args.batch_size, tokenizer.pad_token_id,
                                               order="shuffle", seed=seed + step))
        batch = to_device(epoch_batches.pop(0), device)
        teacher_outputs, extras = None, None
        if teacher is not None:
            # the teacher never holds gradients. no_grad, not inference_mode: as fast here (measured),
            # and a loss that saves a teacher tensor for backward (a matmul with a student tensor) works
            with torch.no_grad(), autocast(args):
                teacher_outputs, extras = teacher_forward(teacher, batch, runs, args, teacher_needs_hidden,
                                                          mixing_rng)
            extras["ramp"] = consistency_ramp(step, steps_per_epoch, total_steps)
        for run in runs:
            with autocast(args):
                loss, parts = distillation_loss(run, batch, teacher_outputs, args, extras)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(run["model"].parameters(), args.max_grad_norm)
            run["optimizer"].step()
            run["scheduler"].step()
            run["optimizer"].zero_grad(set_to_none=True)
            for name, value in parts.items():  # summed as tensors: no sync with the device per step
                run["loss_sums"][name] = run["loss_sums"].get(name, 0.0) + value.detach()
        step += 1
        progress.update(1)
        if step % 50 == 0 or step == total_steps:  # log each loss term's mean over the window
            for run in runs:
                window = step - (run["log"][-1]["step"] if run["log"] else 0)
                run["log"].append({"step": step, **{k: round(float(v) / window, 5) for k, v in run["loss_sums"].items()}})
                run["loss_sums"] = {}
            progress.set_postfix({k: v for k, v in runs[0]["log"][-1].items() if k != "step"})
        if step in eval_steps and is_main():  # under torchrun the others wait for rank 0 at the next step
            for run in runs:
                record_evaluation(run, step, dev_rows, task, tokenizer, args)
            progress.set_postfix(dev=" ".join(f"{r['history'][-1]['score']:.3f}" for r in runs))
    progress.close()


def record_evaluation(run, step, dev_rows, task, tokenizer, args):
    metrics, score, predictions = evaluate(run["model"], dev_rows, task, tokenizer, args)
    run["history"].append({"step": step, "score": score, "metrics": metrics})
    if score > run["best_score"]:  # keep the best checkpoint, on the CPU
        run.update(best_score=score, best_step=step, best_metrics=metrics, best_predictions=predictions,
                   best_state={k: v.detach().to("cpu", copy=True) for k, v in run["model"].state_dict().items()})
    run["model"].train()


# ----------------------------------------------------------------------------- evaluation
@torch.no_grad()
def evaluate(model, dev_rows, task, tokenizer, args):
    """Dev metrics per split ({'dev': {'accuracy': ...}}), the score that picks the best
    checkpoint (first split, first metric), and generated predictions (generation only)."""
    model.eval()
    metrics, predictions = {}, None
    for split, rows in dev_rows.items():
        if task["kind"] == "classification":
            metrics[split] = classification_metrics(model, rows, task, tokenizer, args)
        else:
            metrics[split], split_predictions = generation_metrics(model, rows, tokenizer, args)
            predictions = predictions or split_predictions
    first_split = next(iter(metrics))
    return metrics, metrics[first_split][task["metrics"][0]], predictions


def classification_metrics(model, rows, task, tokenizer, args):
    predicted, gold = [], []
    for batch in data.batches(rows, 2 * args.batch_size, tokenizer.pad_token_id, order="length"):
        labels = batch.pop("labels")
        predicted.append(model(**model_inputs(to_device(batch, model.device))).logits.argmax(-1))
        gold.append(labels)
    predicted, gold = torch.cat(predicted).cpu(), torch.cat(gold)
    metrics = {"accuracy": (predicted == gold).float().mean().item()}
    if "f1" in task["metrics"] and task["num_labels"] == 2:  # F1 of the positive class, as GLUE reports
        true_pos = ((predicted == 1) & (gold == 1)).sum().item()
        metrics["f1"] = 2 * true_pos / max(1, (predicted == 1).sum().item() + (gold == 1).sum().item())
    return metrics


def generation_metrics(model, rows, tokenizer, args):
    import sacrebleu
    predictions = []
    for batch in data.batches(rows, 2 * args.batch_size, tokenizer.pad_token_id, order="given"):
        batch = to_device(batch, model.device)
        generated = model.generate(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                   num_beams=args.num_beams, max_new_tokens=args.max_length)
        predictions += tokenizer.batch_decode(generated, skip_special_tokens=True)
    references = [row["target"] for row in rows]
    return {"bleu": sacrebleu.corpus_bleu(predictions, [references]).score}, predictions


# ----------------------------------------------------------------------------- outputs
def write_json(path, payload):
    """Write atomically (temp file, then rename): a killed run never leaves a half file."""
    path = Path(path)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(payload, indent=2) + "\n")
    os.replace(temporary, path)


def save_model(model, tokenizer, out):
    """save_pretrained without the training-only projections (saved beside it instead)."""
    out.mkdir(parents=True, exist_ok=True)
    state = model.state_dict()
    projections = {k: v for k, v in state.items() if k.startswith("hidden_projections.")}
    model.save_pretrained(out, state_dict={k: v for k, v in state.items() if k not in projections})
    tokenizer.save_pretrained(out)
    if projections:
        torch.save(projections, out / "hidden_projections.pt")


def finish_run(run, tokenizer, task, args, summary):
    """Load the best checkpoint, save the student, predictions, log and metrics.json (last: it marks done)."""
    run["model"].load_state_dict(run["best_state"])
    out = run["out"]
    save_model(run["model"], tokenizer, out)
    if run.get("best_predictions"):
        (out / "predictions.txt").write_text("\n".join(run["best_predictions"]) + "\n")
    (out / "log.txt").write_text("\n".join(json.dumps(line) for line in run["log"] + run["history"]) + "\n")
    write_json(out / "metrics.json", {
        "task": task["name"], "kind": task["kind"], "offline": task["offline"],
        "scale": OFFLINE_NOTE if task["offline"] else "local data files" if task["name"] == "local"
                 else "paper setup (hub models and data)",
        "strategy": run["strategy"], "init": run["init"], "seed": run["seed"],
        "student_layers": run["depths"], "student_width": args.student_width or summary["teacher_width"],
        "pairs": run["pairs"], "copied_blocks": run["copied"],
        "metrics": run["best_metrics"], "score": run["best_score"], "best_step": run["best_step"],
        "history": [{"step": h["step"], "score": h["score"]} for h in run["history"]],
        **summary, "settings": vars(args)})


# ----------------------------------------------------------------------------- teacher
def get_teacher(task, args, encoded):
    """The fine-tuned teacher: --teacher DIR, a saved one in --teacher-dir, or fine-tune now."""
    import transformers as tf
    base = args.teacher_base or default_teacher_base(task)
    directory = Path(args.teacher or args.teacher_dir or Path("runs", "teachers", f"{task['name']}-{Path(base).name}"))
    if (directory / "metrics.json").exists() or args.teacher:
        if not (directory / "config.json").exists():
            raise ValueError(f"--teacher {directory} is not a saved model directory (no config.json)")
        teacher, tokenizer = load_model(task, directory), tf.AutoTokenizer.from_pretrained(directory)
        check_label_order(teacher, task)
        metrics_file = directory / "metrics.json"
        if metrics_file.exists():
            return teacher, tokenizer, json.loads(metrics_file.read_text())["metrics"], directory
        return teacher, tokenizer, evaluate(teacher, encoded(tokenizer)["dev"], task, tokenizer, args)[0], directory
    small_vocabulary = args.task_vocab == "auto" and base == "minilm" and task["offline"]
    teacher, tokenizer = pretrained_teacher(task, base, small_vocabulary)
    if task["label_names"]:
        teacher.config.id2label = dict(enumerate(task["label_names"]))
        teacher.config.label2id = {name: i for i, name in enumerate(task["label_names"])}
    rows = encoded(tokenizer)
    steps = total_steps(len(rows["train"]), args.batch_size * world_size(), args.teacher_epochs,
                        args.teacher_max_steps)
    run = dict(name="teacher", model=teacher, pairs={})
    print(f"fine-tuning teacher {base} on {task['name']} for {steps} steps -> {directory}")
    started = time.time()
    train([run], None, rows["train"], rows["dev"], task, tokenizer, args, args.teacher_lr, steps,
          {steps}, desc="teacher", seed=args.teacher_seed)
    if is_main():  # only rank 0 evaluated; the others hold the same, final (= best: one evaluation) weights
        teacher.load_state_dict(run["best_state"])
        save_model(teacher, tokenizer, directory)
        write_json(directory / "metrics.json", {"task": task["name"], "role": "teacher", "base": base,
                                                "metrics": run["best_metrics"], "steps": steps,
                                                "lr": args.teacher_lr, "seed": args.teacher_seed,
                                                "wall_time_s": round(time.time() - started, 1)})
    barrier()
    return teacher, tokenizer, run.get("best_metrics"), directory


def check_label_order(teacher, task):
    """A teacher fine-tuned elsewhere must use the task's label order (a classic reproduction bug)."""
    names = task.get("label_names")
    id2label = getattr(teacher.config, "id2label", None) or {}
    given = [str(id2label[i]).lower() for i in sorted(id2label)]
    if names and given and not given[0].startswith("label_") and given != [n.lower() for n in names]:
        raise ValueError(f"teacher label order {given} differs from the task's {names}; "
                         f"re-fine-tune the teacher or fix its config.json id2label")


def total_steps(n_rows, batch_size, epochs, max_steps):
    steps = max(1, int(-(-n_rows // batch_size) * epochs))
    return min(steps, max_steps) if max_steps else steps


# ----------------------------------------------------------------------------- main
def run_names(args):
    """Every (init, strategy, seed) combination and the directory it writes to; bad flags that
    need no model are refused here, before a teacher is loaded or fine-tuned."""
    inits, strategies, seeds = (v.split(",") for v in (args.init, args.strategy, args.seed))
    combos = list(itertools.product(inits, strategies, [int(s) for s in seeds]))
    for init, strategy, _ in combos:
        if init not in ("copy", "random"):
            raise ValueError(f"unknown init {init!r}; choose copy or random")
        if strategy not in mapping.STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(mapping.STRATEGIES)}")
        if init == "copy" and args.student_width:
            raise ValueError("copy init needs the teacher's width; use --init random with --student-width")
    check_related_flags(args)
    if len(combos) == 1:
        return [(*combos[0], Path(args.out))]
    return [(i, s, seed, Path(args.out, f"{i}-{s}-seed{seed}")) for i, s, seed in combos]


def distill(args):
    task = data.load_task(args.task if not args.train_file else None, seed=0, train_file=args.train_file,
                          dev_file=args.dev_file, n_train=args.n_train)
    args.hid_reduction = args.hid_reduction or ("bert" if task["kind"] == "classification" else "seq2seq")
    args.num_beams = args.num_beams or (5 if task["name"] == "dart" else 4)
    todo = [(i, s, seed, out) for i, s, seed, out in run_names(args)
            if args.overwrite or not (out / "metrics.json").exists()]
    if not todo:
        print(f"all runs already finished in {args.out} (pass --overwrite to redo them)")
        return
    if task["offline"]:
        print(OFFLINE_NOTE)

    @functools.lru_cache(maxsize=1)  # the teacher's fine-tuning and the students share one tokenisation
    def encoded(tokenizer):
        return {"train": data.encode(task, task["train"], tokenizer, args.max_length),
                "dev": {split: data.encode(task, rows, tokenizer, args.max_length)
                        for split, rows in task["dev"].items()}}
    teacher, tokenizer, teacher_metrics, teacher_dir = get_teacher(task, args, encoded)
    print(f"teacher {teacher_dir}: dev {teacher_metrics}")
    runs = [make_run(teacher, task, args, i, s, seed, out) for i, s, seed, out in todo]
    print(describe_runs(runs, teacher))
    rows = encoded(tokenizer)
    # under torchrun each of the N processes takes its own batch per step: an epoch is N times fewer steps
    steps = total_steps(len(rows["train"]), args.batch_size * world_size(), args.epochs, args.max_steps)
    eval_steps = set(range(args.eval_every, steps + 1, args.eval_every)) | {steps}
    if args.eval_steps:
        eval_steps |= {int(s) for s in args.eval_steps.split(",") if 0 < int(s) <= steps}
    started = time.time()
    train(runs, teacher, rows["train"], rows["dev"], task, tokenizer, args, args.lr, steps, eval_steps,
          desc=f"{len(runs)} student(s)", seed=runs[0]["seed"])  # data order: the first run's seed
    summary = {"steps": steps, "wall_time_s": round(time.time() - started, 1), "lockstep_students": len(runs),
               "processes": world_size(),
               "teacher": {"dir": str(teacher_dir), "metrics": teacher_metrics},
               "teacher_width": teacher.config.hidden_size if hasattr(teacher.config, "hidden_size") else None,
               "hid_reduction": args.hid_reduction}
    if not is_main():
        return  # rank 0 writes the results
    for run in runs:
        finish_run(run, tokenizer, task, args, summary)
        print(f"{run['out']}: best dev {run['best_metrics']} at step {run['best_step']}")


def main(argv=None):
    args = parse_args(argv)
    if args.list_tasks:
        print(data.list_tasks())
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    import transformers
    transformers.logging.set_verbosity_error()  # keep load reports and save bars out of the run's output
    transformers.utils.logging.disable_progress_bar()
    start_processes(args)
    try:
        distill(args)
    except (ValueError, data.HubUnavailable) as error:
        sys.exit(f"error: {error}")
    stop_processes()


if __name__ == "__main__":
    main()
