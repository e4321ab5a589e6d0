"""Every loss term of the paper and the two related studies, as pure tensor functions.

No models, hooks or command-line settings here: each function takes tensors and
returns a scalar tensor, so it can be copied into another project as it is.

    paper (Yu, Wen, Mou 2025, Section 3)     loss = a_ce * CE + a_kl * KL + a_hid * L_hid
        CE       comes from the model (its `labels` argument)
        KL       kd_loss
        L_hid    hidden_loss (one stack), summed over stacks by stacks_hidden_loss
    Wang et al. 2023 (attention transfer)    L_att = attention_loss (+ value relation),
                                             or attention_score_loss (TinyBERT's form)
    Ko et al. 2023 (CR-ILD)                  L_att = qkv_relation_loss (stage 1), L_IC = consistency_loss

Hidden-state tensors are [batch, tokens, hidden]; a `mask` is [batch, tokens] with 1 for
real tokens: padding never counts.
"""
import math

import torch
import torch.nn.functional as F

REDUCTIONS = ("bert", "token", "seq2seq", "llm")
NORMS = ("none", "layernorm", "l2")


def kd_loss(student_logits, teacher_logits, temperature=1.0, mask=None):
    """KL(teacher || student) at temperature T, times T^2 (Hinton et al. 2015).

        KL = T^2 * sum_c p_t(c) * (log p_t(c) - log p_s(c)),   p = softmax(logits / T)

    Classification (mask None): averaged over the batch, `kl_div(..., 'batchmean')`, as the
    authors' BERT code. Sequences ([batch, tokens, vocab] with a [batch, tokens] mask): the
    same per target token, averaged over real tokens, as their BART/T5 code.
    """
    log_p_student = F.log_softmax(student_logits / temperature, dim=-1)
    p_teacher = F.softmax(teacher_logits / temperature, dim=-1)
    if mask is None:
        return F.kl_div(log_p_student, p_teacher, reduction="batchmean") * temperature ** 2
    per_token = F.kl_div(log_p_student, p_teacher, reduction="none").sum(-1)
    return (per_token * mask).sum() / mask.sum() * temperature ** 2


KL_POSITIONS = ("scored", "every")


def kd_loss_every_position(student_logits, teacher_logits, attention_mask, temperature=1.0):
    """The authors' decoder-only KL (llm/sft_trainer.py, kl_loss): the same per-position KL as kd_loss,
    but at every position of the [batch, tokens] input, the prompt's and the padding's included (not
    only where CE scores a next token), averaged over all of them, then scaled by the share of real
    tokens, valid / total, where kd_loss divides by the real tokens alone. (Their T is 1.)"""
    per_position = F.kl_div(F.log_softmax(student_logits / temperature, dim=-1),
                            F.softmax(teacher_logits / temperature, dim=-1), reduction="none").sum(-1)
    return per_position.mean() * attention_mask.sum() / attention_mask.numel() * temperature ** 2


def normalise(states, how):
    """Hidden states before the hidden loss.

    none:      as they are (the authors' BERT and BART runs).
    layernorm: the authors' T5 runs: one standardisation per matched hidden-state tensor,
               a single mean and variance over its whole batch x tokens x hidden slab,
               padding included, no learned scale or bias. Their code applies
               `F.layer_norm(stack, stack.shape[1:])` to the stacked [pairs, batch, tokens,
               hidden] states (t5mt/distillation.py, calc_hidden_loss): the same per pair.
               (Not per token: a per-token norm would also erase each token's scale, which
               their runs keep.)
    l2:        unit length per token (the authors' decoder-only runs).
    """
    if how == "none":
        return states
    if how == "layernorm":
        return F.layer_norm(states, states.shape)
    if how == "l2":
        return F.normalize(states, dim=-1)
    raise ValueError(f"unknown hidden-state normalisation {how!r}; choose one of {', '.join(NORMS)}")


def hidden_loss(student_states, teacher_states, pairs, mask, reduction, norm="none", projections=None):
    """L_hid of one stack over matched (student_index, teacher_index) pairs.

    student_states, teacher_states: sequences of [batch, tokens, hidden] tensors indexed as
    `output_hidden_states` (0 = embeddings). A student narrower than the teacher (the
    paper's width ablation) is compared through one bias-free linear map per matched
    student state: projections = {student_index: W}, s -> s W^T.
    Per pair, d = sum over hidden units of (s - t)^2 at every real token. Then:

        'bert':    sum(d) / (batch_size * n_valid_tokens), averaged over pairs.
                   The authors' BERT code (`.mean(dim=0).sum() / n_valid`): 1/B of a
                   per-token mean, so its effective weight is a_hid / B.
        'token':   sum(d) / n_valid_tokens, averaged over pairs: a plain per-token mean.
        'seq2seq': sum(d) / (n_valid_tokens * hidden_size), summed over pairs: the authors'
                   BART/T5 code (element-wise MSE over real tokens).
        'llm':     d at every position, padding included, averaged over batch x tokens and
                   over pairs, times n_valid_tokens / (batch x tokens): the authors' decoder-only
                   code (llm/sft_trainer.py, hidden_loss), which rescales instead of masking.

    The reduction has no default: they differ by factors of B, of the hidden size and of the
    share of real tokens.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown hidden-loss reduction {reduction!r}; choose one of {', '.join(REDUCTIONS)}")
    if not pairs:
        return teacher_states[0].new_zeros(())
    mask = mask.to(teacher_states[0].dtype)
    n_valid = mask.sum()
    losses = []
    for s, t in pairs:
        student = student_states[s] if projections is None else student_states[s] @ projections[s].T
        diff = normalise(student, norm) - normalise(teacher_states[t], norm)
        per_token = diff.pow(2).sum(-1)
        if reduction == "llm":
            losses.append(per_token.mean() * n_valid / mask.numel())
            continue
        per_token = per_token * mask
        if reduction == "bert":
            losses.append(per_token.sum() / (mask.shape[0] * n_valid))
        elif reduction == "token":
            losses.append(per_token.sum() / n_valid)
        else:
            losses.append(per_token.sum() / (n_valid * diff.shape[-1]))
    total = torch.stack(losses)
    return total.sum() if reduction == "seq2seq" else total.mean()


def stacks_hidden_loss(student, teacher, pairs, masks, reduction, norm="none", projections=None):
    """L_hid summed over stacks: encoder-decoder models match their encoder and decoder
    separately, with the same strategy, and add the two (the authors' BART/T5 code).

    student, teacher, pairs, masks (and projections, if any): dicts keyed by stack
    ('encoder', 'decoder').
    """
    return sum(hidden_loss(student[stack], teacher[stack], stack_pairs, masks[stack], reduction, norm,
                           projections and projections[stack]) for stack, stack_pairs in pairs.items())


def scaled_dot(left, right):
    """left right^T / sqrt(d) per head: [batch, heads, T, d] x2 -> [batch, heads, T, T].
    (Q, K) gives a block's pre-softmax attention scores."""
    return left @ right.transpose(-1, -2) / math.sqrt(left.shape[-1])


def relation(left, right, mask):
    """log softmax(left right^T / sqrt(d)) per head, padding keys masked: [batch, heads, T, T].

    (Q, K) gives the block's own attention distribution (MiniLM's attention transfer);
    (V, V) gives MiniLM's value relation (Wang et al. 2020). Inputs: [batch, heads, T, d].
    """
    scores = scaled_dot(left, right)
    padding_keys = mask[:, None, None, :] == 0
    return F.log_softmax(scores.masked_fill(padding_keys, torch.finfo(scores.dtype).min), dim=-1)


def relation_kl(student, teacher, mask):
    """KL(teacher row || student row) of two relations (log-probabilities), averaged over
    heads and real query rows. Padding keys have probability 0 on both sides, so they add
    nothing. Heads are matched one to one, so their counts must agree.
    """
    check_heads(student, teacher)
    per_row = F.kl_div(student, teacher, log_target=True, reduction="none").sum(-1)  # [batch, heads, T]
    rows = mask[:, None, :].to(per_row.dtype).expand_as(per_row)
    return (per_row * rows).sum() / rows.sum()


def check_heads(student, teacher):
    """[batch, heads, ...] tensors of both sides: attention transfer matches heads one to one."""
    if student.shape[1] != teacher.shape[1]:
        raise ValueError(f"attention transfer matches heads one to one, but the student has {student.shape[1]} "
                         f"heads and the teacher {teacher.shape[1]}; give the student the teacher's head count")


def attention_pairs(pairs):
    """Block pairs from hidden-state pairs: hidden state k >= 1 is block k's output, so its
    attention is block k's; pairs with index 0 (the embeddings have no attention) are skipped."""
    return [(s, t) for s, t in pairs if s > 0 and t > 0]


def attention_loss(student, teacher, pairs, mask, values=False):
    """L_att of Wang et al. 2023 (MiniLM-style attention transfer), averaged over pairs.

    student, teacher: {block: {"query": q, "key": k, "value": v}}, each [batch, heads, T, d].
    Per matched block pair: relation_kl(softmax(Q K^T / sqrt d)), plus with values=True
    relation_kl(softmax(V V^T / sqrt d)) (MiniLM: L_AT + L_VR). Scale: a mean over real query
    rows and heads, as MiniLM writes it; the study's code divides the sum over keys by
    batch x heads x query rows (padding rows included), so its scale differs from ours only
    by the share of padding rows.
    """
    losses = []
    for s, t in attention_pairs(pairs):
        loss = relation_kl(relation(student[s]["query"], student[s]["key"], mask),
                           relation(teacher[t]["query"], teacher[t]["key"], mask), mask)
        if values:
            loss = loss + relation_kl(relation(student[s]["value"], student[s]["value"], mask),
                                      relation(teacher[t]["value"], teacher[t]["value"], mask), mask)
        losses.append(loss)
    return torch.stack(losses).mean() if losses else mask.new_zeros((), dtype=torch.float32)


def attention_score_loss(student, teacher, pairs, mask):
    """L_att in the first form of Wang et al. 2023 (TinyBERT's, Jiao et al. 2020): MSE between
    the pre-softmax attention scores of matched blocks, summed over block pairs.

        A = Q K^T / sqrt(d) per head, [batch, heads, T, T], with A[b, h, i, j] = 0 where key j is padding
        L = sum over pairs (s, t) of  1 / (B H T T) * sum_{b,h,i,j} (A^S[b,h,i,j] - A^T[b,h,i,j])^2

    As the study's code (methods/method_comparison.py, att_mse_learn): the masked scores
    (-inf at padding keys) are set to 0 on both sides and F.mse_loss averages over every
    element, the zeroed keys and the padding query rows (unmasked there) included; the
    block pairs are summed, not averaged. student, teacher: as in attention_loss.
    """
    padding_keys = mask[:, None, None, :] == 0
    losses = []
    for s, t in attention_pairs(pairs):
        student_scores = scaled_dot(student[s]["query"], student[s]["key"])
        teacher_scores = scaled_dot(teacher[t]["query"], teacher[t]["key"])
        check_heads(student_scores, teacher_scores)
        losses.append(F.mse_loss(student_scores.masked_fill(padding_keys, 0.0),
                                 teacher_scores.masked_fill(padding_keys, 0.0)))
    return torch.stack(losses).sum() if losses else mask.new_zeros((), dtype=torch.float32)


def qkv_relation_loss(student, teacher, pairs):
    """CR-ILD's stage-1 objective (Ko et al. 2023): the self-relations of MiniLMv2 (Wang et al.
    2021) for queries, keys and values, with no padding mask, averaged over block pairs.

        R_X = softmax(X X^T / sqrt(d)) per head, for X in {Q, K, V}: [batch, heads, T, T]
        L = mean over pairs of  sum over X of  1 / (B H T) * sum_{b,h,i} KL(R^T_X[b,h,i] || R^S_X[b,h,i])

    No mask: padding tokens are rows and keys like any other, as in the study's code
    (training_functions.py: Attention_KL on the Q, K and V relations, called without a mask);
    it pads every batch to 128 tokens, ours to the batch's longest row, so fewer padding rows
    count here. Their code computes the soft cross-entropy -sum p_T log p_S: this KL plus the
    teacher's entropy, the same gradient, but ours is 0 when the student matches. The study
    matches the last block only (--strategy last). student, teacher: as in attention_loss.
    """
    losses = []
    for s, t in attention_pairs(pairs):
        batch, _, tokens, _ = student[s]["query"].shape
        no_mask = student[s]["query"].new_ones(batch, tokens)  # every row and key counts
        losses.append(sum(relation_kl(relation(student[s][x], student[s][x], no_mask),
                                      relation(teacher[t][x], teacher[t][x], no_mask), no_mask)
                          for x in ("query", "key", "value")))
    return torch.stack(losses).mean() if losses else torch.zeros(())


def consistency_loss(mixed_last, clean_last, lam, mask):
    """CR-ILD's L_IC before its weight w and ramp (Ko et al. 2023 and their code):

        lam * L(S(x_mix), S'(x)) + (1 - lam) * L(S(x_mix), S'(x)[reversed])

    mixed_last: the student's last hidden state on the mixed inputs; clean_last: on the
    clean batch (S', detached here: no gradient flows through the target). L: the study's
    hidden variant, element-wise MSE, here over the real tokens of the clean side (the
    study's includes padding). The batch is mixed with itself reversed, hence the flip.
    """
    clean_last = clean_last.detach()
    return (lam * hidden_loss((mixed_last,), (clean_last,), [(0, 0)], mask, "seq2seq")
            + (1 - lam) * hidden_loss((mixed_last,), (clean_last.flip(0),), [(0, 0)], mask.flip(0), "seq2seq"))
