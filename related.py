"""The model-side machinery of the two related studies, as options of the same loop.

- Wang et al. 2023, *How to Distill your BERT*: attention transfer (--objective attention,
  attention+value, attention-scores). It needs the query, key and value projections of the
  matched blocks, recorded during the ordinary forward pass by capture_attention. Their two
  stages (intermediate loss first, then CE + KD) are distill.py's --stage1-epochs.
- Ko et al. 2023, CR-ILD: matching on supplementary inputs mixed in embedding space
  (--supplementary mixup), their Q/K/V relation objective (--objective qkv-relations) and
  consistency regularisation (--consistency w). The mixed inputs need a second forward pass
  of teacher and student (mixed_forward). Their student starts from the pre-trained model's
  bottom blocks (distill.py --copy-source pretrained --copy-from lower).

The loss terms themselves are pure functions in losses.py; this file only runs models and
hooks. distill.py enters it through copy_source when it builds the students, capture_attention
around its forward passes, teacher_mixed for the teacher's side, and terms for each student.
Where a model family keeps its attention and embeddings comes from families.py.
"""
import contextlib

import torch

import families
import losses

OBJECTIVES = ("hidden", "attention", "attention+value", "attention-scores", "qkv-relations", "kd-only")
ATTENTION_OBJECTIVES = ("attention", "attention+value", "attention-scores", "qkv-relations")  # need projections


def check_flags(objective, supplementary, consistency, processes):
    """The related studies' options outside their setting, refused before any work starts."""
    if supplementary != "none" and processes > 1:
        raise ValueError("--supplementary runs the student outside DistributedDataParallel; run it without torchrun")
    if consistency > 0 and supplementary != "mixup":
        raise ValueError("--consistency compares the student on mixed and clean inputs: add --supplementary mixup")


def check_teacher(config, objective, supplementary):
    """Attention transfer and mixed inputs hook into BERT-style modules: refuse other families."""
    if (objective in ATTENTION_OBJECTIVES or supplementary != "none") and not families.supports_attention(config):
        raise ValueError(f"--objective {objective} / --supplementary {supplementary} are implemented for "
                         f"BERT-style encoders (classification), as in both studies; this teacher is a "
                         f"{config.model_type!r} model")


def copy_source(teacher, task, settings):
    """What copy init copies from (distill.build_student): the fine-tuned teacher (the paper), or
    with --copy-source pretrained its pre-trained base (--teacher-base) before any fine-tuning, as
    CR-ILD initialises its student from the bottom blocks of pre-trained BERT-base. Its classifier
    is fresh and left fresh; the offline profile's smaller vocabulary is applied to it as well."""
    if settings.copy_source == "teacher":
        return teacher
    source, _ = families.pretrained_for_task(settings.teacher_base, task, settings.task_vocab)
    if families.vocabulary_size(source.config) != families.vocabulary_size(teacher.config):
        raise ValueError(f"--copy-source pretrained: {settings.teacher_base} has another vocabulary than the "
                         f"teacher; give the --teacher-base the teacher was fine-tuned from")
    return source


def attention_blocks(pairs, side, objective):
    """The blocks whose projections attention transfer needs, on side 'student' or 'teacher'."""
    if objective not in ATTENTION_OBJECTIVES:
        return []
    return sorted({pair[0 if side == "student" else 1] for pair in losses.attention_pairs(pairs)})


def split_heads(projection, heads):
    """[batch, tokens, heads * d] -> [batch, heads, tokens, d]: one slice per attention head."""
    batch, tokens, width = projection.shape
    return projection.view(batch, tokens, heads, width // heads).transpose(1, 2)


@contextlib.contextmanager
def capture_attention(model, blocks):
    """Record the query, key and value projections of `blocks` during the forward passes inside.

    Yields {block: {"query": q, "key": k, "value": v}}, each [batch, heads, tokens, head size];
    with no blocks it does nothing. Why not output_attentions=True: in transformers 5 only the
    eager kernel returns maps (the default sdpa kernel returns none), and the map it returns is
    taken *after* attention dropout, so a training student's rows hold zeros and
    KL(teacher || student) is infinite. Recomputing softmax(Q K^T / sqrt(d)) from the
    projections (losses.relation) gives the clean distributions, with any kernel.
    """
    captured = {block: {} for block in blocks}
    heads = model.config.num_attention_heads if blocks else 0

    def keep(store, name):
        return lambda _module, _inputs, output: store.update({name: split_heads(output, heads)})

    hooks = [module.register_forward_hook(keep(captured[block], name))
             for block in blocks for name, module in families.attention_projections(model, block).items()]
    try:
        yield captured
    finally:
        for hook in hooks:
            hook.remove()


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
    mix = families.embedding_module(model).register_forward_hook(
        lambda _module, _inputs, embedded: lam * embedded + (1 - lam) * embedded.flip(0))
    inputs = {"input_ids": batch["input_ids"], "attention_mask": mask}
    if "token_type_ids" in batch:
        inputs["token_type_ids"] = batch["token_type_ids"]
    try:
        with capture_attention(model, blocks) as attention:
            outputs = model(**inputs, output_hidden_states=True)
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


def teacher_mixed(teacher, batch, blocks, supplementary, rng):
    """The teacher's side of CR-ILD for this step: {} without mixed inputs, else this step's
    mixing weight (one for all students) and the teacher's hidden states and projections on
    the mixed inputs (fields of distill.TeacherOutputs)."""
    if supplementary != "mixup":
        return {}
    lam = mixing_weight(rng)
    mixed, attention, _ = mixed_forward(teacher, batch, lam, blocks)
    return {"lam": lam, "mixed_hidden": {"encoder": mixed.hidden_states}, "mixed_attention": attention}


def attention_term(student, teacher, pairs, mask, objective):
    """The attention-transfer loss of `objective` (losses.py) on captured projections."""
    if objective == "attention-scores":  # Wang et al. 2023, TinyBERT's form
        return losses.attention_score_loss(student, teacher, pairs, mask)
    if objective == "qkv-relations":  # Ko et al. 2023, MiniLMv2's relations, no mask
        return losses.qkv_relation_loss(student, teacher, pairs)
    return losses.attention_loss(student, teacher, pairs, mask, values=objective == "attention+value")


def terms(run, batch, outputs, attention, teacher_outputs, loss, projections):
    """The related studies' terms for one student, {} when none of their options is on.

    outputs, attention: the student's clean pass and its captured projections; teacher_outputs:
    the teacher's (distill.TeacherOutputs), with its clean projections and teacher_mixed's fields;
    loss: this stage's cli.Loss. Attention transfer on the clean batch gives {"att"}; with mixed
    inputs the matching term ({"hid"} or {"att"}) moves to the mixed inputs and CR-ILD's
    consistency weight adds {"ic"}.
    """
    pairs = run.pairs.get("encoder", [])
    if loss.supplementary == "none":
        if loss.objective in ATTENTION_OBJECTIVES and pairs:
            return {"att": attention_term(attention, teacher_outputs.attention, pairs, batch["attention_mask"],
                                          loss.objective)}
        return {}
    parts, consistency = {}, loss.weights["ic"] > 0
    if pairs or consistency:
        blocks = attention_blocks(pairs, "student", loss.objective)
        mixed, mixed_attention, mask = mixed_forward(run.model, batch, teacher_outputs.lam, blocks)
        if pairs and loss.objective == "hidden":
            parts["hid"] = losses.stacks_hidden_loss({"encoder": mixed.hidden_states}, teacher_outputs.mixed_hidden,
                                                     run.pairs, {"encoder": mask}, loss.hid_reduction, loss.hid_norm,
                                                     projections)
        elif pairs:
            parts["att"] = attention_term(mixed_attention, teacher_outputs.mixed_attention, pairs, mask,
                                          loss.objective)
        if consistency:
            parts["ic"] = teacher_outputs.ramp * losses.consistency_loss(
                mixed.hidden_states[-1], outputs.hidden_states[-1], teacher_outputs.lam, batch["attention_mask"])
    return parts
