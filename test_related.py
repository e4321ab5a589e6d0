"""The related studies' methods (issue 6) on tiny random BERTs: attention transfer (distributions
and TinyBERT's scores), kd-only, lower/upper copy init, the two-stage schedule, CR-ILD's mixed
inputs, Q/K/V relations, pre-trained copy source and consistency term."""
import json
import math
import random

import pytest
import torch
import transformers as tf

import cli
import distill
import families
import losses
import mapping
import related
from test_distill import args_for, make_run as make_student, random_batch, run_cli, student_loss, teacher_pass, \
    tiny_bert, tiny_seq2seq, train_a_few_steps

OBJECTIVES = ("hidden", "attention", "attention+value", "attention-scores", "qkv-relations", "kd-only")


def make_run(teacher, *flags, init="copy", strategy="forward"):
    args = args_for(*flags)
    return make_student(teacher, args, init, strategy), args


def losses_with(run, teacher, batch, args, lam_seed=0, ramp=1.0, role="student"):
    """student_loss as train() calls it, with a chosen mixing seed and consistency ramp."""
    teacher_outputs = teacher_pass(teacher, batch, [run], args, lam_seed, ramp, role)
    return student_loss(run, batch, teacher_outputs, args, role), teacher_outputs


def projections(query, key, value=None):
    """One block's captured projections, (batch, heads, tokens, d), from nested lists."""
    as_tensor = lambda x: torch.tensor(x, dtype=torch.float32)  # noqa: E731
    value = value if value is not None else query
    return {"query": as_tensor(query), "key": as_tensor(key), "value": as_tensor(value)}


def sharp_bert():
    """A tiny teacher whose attention is far from uniform (a fresh one attends almost evenly)."""
    teacher = tiny_bert(layers=4)
    with torch.no_grad():
        for layer in teacher.bert.encoder.layer:
            for projection in (layer.attention.self.query, layer.attention.self.key, layer.attention.self.value):
                projection.weight.mul_(10)
    return teacher.eval()


# ------------------------------------------------------------------ attention transfer
def test_recomputed_attention_is_the_models_own():
    model = tiny_bert(layers=2)
    model.eval()
    model.set_attn_implementation("eager")  # only the eager kernel returns attention maps
    batch = random_batch()
    with related.capture_attention(model, [1, 2]) as captured:
        outputs = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], output_attentions=True)
    for block in (1, 2):
        ours = losses.relation(captured[block]["query"], captured[block]["key"], batch["attention_mask"]).exp()
        assert torch.allclose(ours, outputs.attentions[block - 1], atol=1e-6)


@pytest.mark.parametrize("objective", ["attention", "attention+value"])
def test_attention_loss_is_zero_for_a_full_copy_and_positive_otherwise(objective):
    teacher = sharp_bert()
    for layers, strategy, zero in ((4, "forward", True), (2, "reverse", False)):
        run, args = make_run(teacher, "--objective", objective, "--student-layers", str(layers), strategy=strategy)
        run.model.eval()  # no dropout: the copied blocks compute exactly the teacher's attention
        (loss, parts), _ = losses_with(run, teacher, random_batch(), args)
        assert "hid" not in parts
        assert (parts["att"].item() == pytest.approx(0.0, abs=1e-6)) == zero
        assert zero or parts["att"].item() > 1e-4


def test_attention_loss_matches_a_hand_computation():
    mask = torch.ones(1, 2)
    # one head, 2 tokens, d = 1. Student: Q = 0, so both rows are uniform (1/2, 1/2).
    # Teacher: Q = 1, K = (ln 3, 0): both rows are (3/4, 1/4).
    student = {1: projections([[[[0.0], [0.0]]]], [[[[1.0], [2.0]]]], [[[[0.0], [0.0]]]])}
    teacher = {1: projections([[[[1.0], [1.0]]]], [[[[math.log(3)], [0.0]]]], [[[[1.0], [0.0]]]])}
    row_kl = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    assert losses.attention_loss(student, teacher, [(1, 1)], mask).item() == pytest.approx(row_kl, rel=1e-5)
    # value relation: teacher V V^T rows are (1, 0) -> (e, 1)/(e+1) and (0, 0) -> uniform; student uniform
    p = math.e / (math.e + 1)
    value_kl = (p * math.log(p / 0.5) + (1 - p) * math.log((1 - p) / 0.5) + 0.0) / 2
    with_values = losses.attention_loss(student, teacher, [(1, 1)], mask, values=True).item()
    assert with_values == pytest.approx(row_kl + value_kl, rel=1e-5)


def test_attention_score_loss_matches_a_hand_computation():
    # one head, d = 4 (so scores are divided by 2), 2 tokens, the second one padding
    mask = torch.tensor([[1, 0]])
    student = {1: projections([[[[2.0, 0, 0, 0], [4.0, 0, 0, 0]]]], [[[[1.0, 0, 0, 0], [3.0, 0, 0, 0]]]])}
    teacher = {3: projections([[[[0.0, 0, 0, 0], [2.0, 0, 0, 0]]]], [[[[2.0, 0, 0, 0], [5.0, 0, 0, 0]]]])}
    # student scores q.k / 2 = [[1, 3], [2, 6]], teacher [[0, 0], [2, 5]]; the padding key's column is
    # zeroed on both sides: [[1, 0], [2, 0]] vs [[0, 0], [2, 0]]. MSE over all 4 elements (the padding
    # query row included, as the study's code): (1 - 0)^2 / 4
    assert losses.attention_score_loss(student, teacher, [(1, 3)], mask).item() == pytest.approx(0.25)
    # pairs are summed, not averaged; the embedding pair (0, 0) has no attention and is skipped
    both = {1: student[1], 2: student[1]}
    assert losses.attention_score_loss(both, teacher, [(0, 0), (1, 3), (2, 3)], mask).item() == pytest.approx(0.5)
    assert losses.attention_score_loss(student, student, [(1, 1)], mask).item() == 0.0


def test_qkv_relation_loss_matches_a_hand_computation_and_uses_no_mask():
    # one head, d = 1, 2 tokens. Student Q = K = V = 0: every relation row is uniform (1/2, 1/2).
    # Teacher Q = K = (sqrt(ln 3), 0): Q Q^T = [[ln 3, 0], [0, 0]], rows (3/4, 1/4) and uniform; V = 0.
    a = math.sqrt(math.log(3))
    student = {3: projections([[[[0.0], [0.0]]]], [[[[0.0], [0.0]]]], [[[[0.0], [0.0]]]])}
    teacher = {12: projections([[[[a], [0.0]]]], [[[[a], [0.0]]]], [[[[0.0], [0.0]]]])}
    row_kl = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    # Q and K each: (row_kl + 0) / 2 rows; V: 0. No mask: the second token counts as a row and a key
    # whatever it is (the study pads to 128 and masks nothing).
    assert losses.qkv_relation_loss(student, teacher, [(3, 12)]).item() == pytest.approx(row_kl, rel=1e-5)
    assert losses.qkv_relation_loss(teacher, teacher, [(12, 12)]).item() == pytest.approx(0.0, abs=1e-7)


def test_attention_loss_ignores_padding():
    torch.manual_seed(0)
    student = {1: {name: torch.randn(2, 2, 3, 4) for name in ("query", "key", "value")}}
    teacher = {1: {name: torch.randn(2, 2, 3, 4) for name in ("query", "key", "value")}}
    mask = torch.tensor([[1, 1, 0], [1, 1, 0]])
    padded = losses.attention_loss(student, teacher, [(1, 1)], mask, values=True)
    cut = {k: {n: v[:, :, :2] for n, v in s[1].items()} for k, s in (("s", student), ("t", teacher))}
    unpadded = losses.attention_loss({1: cut["s"]}, {1: cut["t"]}, [(1, 1)], mask[:, :2], values=True)
    assert padded.item() == pytest.approx(unpadded.item(), rel=1e-6)  # padding rows and keys do not count
    for side in (student, teacher):
        for value in side[1].values():
            value[:, :, 2] = 100.0  # anything at the padded position
    assert losses.attention_loss(student, teacher, [(1, 1)], mask, values=True).item() == pytest.approx(
        padded.item(), rel=1e-6)


def test_attention_pairs_skip_the_embeddings_and_head_counts_must_agree():
    pairs = mapping.match("all-to-one", 4, 2)
    assert pairs == [(0, 2), (1, 2), (2, 2)] and losses.attention_pairs(pairs) == [(1, 2), (2, 2)]
    assert losses.attention_pairs(mapping.match("reverse", 4, 2)) == [(1, 4), (2, 2)]
    two_heads, four_heads = torch.zeros(1, 2, 3, 3), torch.zeros(1, 4, 3, 3)
    with pytest.raises(ValueError, match="student has 2 heads and the teacher 4"):
        losses.relation_kl(two_heads, four_heads, torch.ones(1, 3))
    # a narrower student keeps the teacher's head count (smaller heads), so attention transfer works
    teacher = tiny_bert(layers=4)
    run, args = make_run(teacher, "--objective", "attention", "--student-layers", "2", "--student-width", "16",
                         init="random")
    assert not hasattr(run.model, "hidden_projections")  # projections only serve hidden states
    (loss, parts), _ = losses_with(run, teacher, random_batch(), args)
    assert parts["att"].item() > 0


# ------------------------------------------------------------------ copy init under every objective
@pytest.mark.parametrize("objective", OBJECTIVES)
def test_copy_from_lower_and_upper_under_every_objective(objective):
    teacher = tiny_bert(layers=4)
    for copy_from, blocks in (("lower", [1, 2]), ("upper", [3, 4])):
        run, args = make_run(teacher, "--objective", objective, "--student-layers", "2", "--copy-from", copy_from)
        assert run.plan.copied == {"encoder": blocks}
        for student_block, teacher_block in enumerate(blocks):
            assert torch.equal(run.model.bert.encoder.layer[student_block].attention.self.query.weight,
                               teacher.bert.encoder.layer[teacher_block - 1].attention.self.query.weight)
        (loss, parts), _ = losses_with(run, teacher, random_batch(), args)
        loss.backward()
        assert torch.isfinite(loss)
        assert run.pairs["encoder"] == ([] if objective == "kd-only" else [(0, 0), (1, 2), (2, 4)])


# ------------------------------------------------------------------ CR-ILD: mixed inputs
def test_mixing_weight_is_at_least_one_half():
    rng = random.Random(0)
    draws = [related.mixing_weight(rng) for _ in range(2000)]
    assert min(draws) >= 0.5 and max(draws) <= 1.0
    assert 0.7 < sum(draws) / len(draws) < 0.8  # max(U, 1 - U) is uniform on [0.5, 1]: mean 0.75


def test_mixed_inputs_mix_embedding_outputs_or_masks_and_are_the_same_for_teacher_and_student():
    teacher = tiny_bert(layers=4)
    teacher.eval()
    run, args = make_run(teacher, "--supplementary", "mixup", "--student-layers", "2")
    student = run.model
    student.eval()
    batch, lam = random_batch(), 0.7
    batch["attention_mask"][3, 4:] = 0  # row 3 padded from 4 on, row 0 (its partner) from 5 on
    clean = student(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                    output_hidden_states=True).hidden_states[0]
    mixed, _, mask = related.mixed_forward(student, batch, lam, [])
    assert torch.allclose(mixed.hidden_states[0], lam * clean + (1 - lam) * clean.flip(0), atol=1e-6)
    assert mask[0].tolist() == [1, 1, 1, 1, 1, 0, 0] and mask[3].tolist() == mask[0].tolist()
    assert torch.equal(mask, torch.maximum(batch["attention_mask"], batch["attention_mask"].flip(0)))
    # the teacher mixes with the same lambda and order (copied embeddings: the very same mixed input)
    extras = teacher_pass(teacher, batch, [run], args)
    again, _, _ = related.mixed_forward(student, batch, extras.lam, [])
    assert extras.lam == related.mixing_weight(random.Random(0))
    assert torch.allclose(extras.mixed_hidden["encoder"][0], again.hidden_states[0], atol=1e-6)


def test_matching_moves_to_the_mixed_inputs():
    teacher = tiny_bert(layers=4)
    teacher.eval()
    for objective, name in (("hidden", "hid"), ("attention", "att")):
        run, args = make_run(teacher, "--supplementary", "mixup", "--objective", objective, "--student-layers", "4")
        run.model.eval()
        (loss, parts), extras = losses_with(run, teacher, random_batch(), args)
        assert parts[name].item() == pytest.approx(0.0, abs=1e-5)  # full copy: identical on the mixed inputs too
        assert extras.lam >= 0.5 and extras.mixed_hidden is not None


# ------------------------------------------------------------------ CR-ILD: consistency
def test_consistency_ramp_counts_epochs_from_zero():
    assert [related.consistency_ramp(s, 2, 6) for s in range(6)] == [0, 0, 1 / 3, 1 / 3, 2 / 3, 2 / 3]
    assert related.consistency_ramp(4, 2, 5) == pytest.approx(2 / 2.5)  # --max-steps: n_epochs = 2.5
    assert [related.consistency_ramp(s, 8, 4) for s in range(4)] == [0, 0.25, 0.5, 0.75]  # shorter than 1 epoch


def test_consistency_term_is_zero_in_the_first_epoch_then_hand_computed_and_added():
    teacher = tiny_bert(layers=4)
    teacher.eval()
    run, args = make_run(teacher, "--supplementary", "mixup", "--consistency", "0.1", "--student-layers", "2")
    student = run.model
    student.eval()  # deterministic passes, so the term can be recomputed by hand
    batch = random_batch()
    (first_loss, first), _ = losses_with(run, teacher, batch, args, ramp=0.0)
    assert first["ic"].item() == 0.0
    (loss, parts), extras = losses_with(run, teacher, batch, args, ramp=0.5)
    lam, mask = extras.lam, batch["attention_mask"]
    clean = student(input_ids=batch["input_ids"], attention_mask=mask, output_hidden_states=True).hidden_states[-1]
    mixed = related.mixed_forward(student, batch, lam, [])[0].hidden_states[-1]

    def mse(a, b, m):  # element-wise mean over real tokens x hidden units
        return ((a - b).pow(2) * m[..., None]).sum() / (m.sum() * a.shape[-1])
    by_hand = 0.5 * (lam * mse(mixed, clean, mask) + (1 - lam) * mse(mixed, clean.flip(0), mask.flip(0)))
    assert parts["ic"].item() == pytest.approx(by_hand.item(), rel=1e-5) and by_hand.item() > 0
    weights = {"ce": 1.0, "kl": 1.0, "hid": 3.0, "ic": 0.1}
    assert loss.item() == pytest.approx(sum(weights[k] * v.item() for k, v in parts.items()), rel=1e-6)
    assert loss.item() - first_loss.item() == pytest.approx(0.1 * by_hand.item(), rel=1e-3)  # it is added


def test_consistency_is_added_in_a_real_run(tiny_teacher_dir, tmp_path):
    out = tmp_path / "crild"
    run_cli("--teacher", tiny_teacher_dir, "--n-train", 64, "--batch-size", 32, "--student-layers", 2,
            "--max-steps", 4, "--max-length", 32, "--lr", "1e-3", "--strategy", "last", "--objective", "attention",
            "--supplementary", "mixup", "--consistency", "0.1", "--out", out)
    log = [json.loads(line) for line in (out / "log.txt").read_text().splitlines()]
    losses = next(line for line in log if "ce" in line)
    assert losses["ic"] > 0 and "att" in losses and "hid" not in losses  # 2 epochs of 2 steps: ramp 0, 0, .5, .5
    settings = json.loads((out / "metrics.json").read_text())["settings"]
    assert (settings["objective"], settings["supplementary"], settings["consistency"]) == ("attention", "mixup", 0.1)


# ------------------------------------------------------------------ training and errors
@pytest.mark.parametrize("objective", OBJECTIVES)
@pytest.mark.parametrize("supplementary", ["none", "mixup"])
def test_every_objective_trains_and_the_loss_goes_down(objective, supplementary):
    teacher = sharp_bert()
    flags = ["--objective", objective, "--student-layers", "2", "--supplementary", supplementary]
    run, args = make_run(teacher, *flags, *(["--consistency", "0.1"] if supplementary == "mixup" else []))
    run.model.eval()  # no dropout: 8 steps on one batch must lower a deterministic loss
    batch = random_batch()  # the same mixing weight every step:
    losses, parts = train_a_few_steps(run, lambda: losses_with(run, teacher, batch, args)[0], 8)
    expected = {"hid"} if objective == "hidden" else set() if objective == "kd-only" else {"att"}
    assert set(parts) - {"ce", "kl"} == expected | ({"ic"} if supplementary == "mixup" else set())
    assert losses[-1] < losses[0]


def test_related_flags_outside_their_setting_are_one_clear_error():
    with pytest.raises(ValueError, match="add --supplementary mixup"):
        cli.run_names(args_for("--consistency", "0.1", "--student-layers", "2"))
    with pytest.raises(ValueError, match="--consistency -1.0 is out of range"):
        cli.run_names(args_for("--consistency", "-1", "--supplementary", "mixup", "--student-layers", "2"))
    with pytest.raises(ValueError, match="BERT-style encoders"):
        related.check_teacher(tiny_seq2seq("bart").config, "attention", "none")


def test_bad_related_flag_exits_with_one_line(tiny_teacher_dir, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        run_cli("--teacher", tiny_teacher_dir, "--n-train", 32, "--max-steps", 1, "--consistency", "0.1",
                "--out", tmp_path)
    assert str(exit_info.value).startswith("error: --consistency compares")


# ------------------------------------------------------------------ two stages (Wang et al. 2023; Ko et al. 2023)
def test_stage_one_counts_only_matching_and_stage_two_only_ce_and_kd():
    teacher = sharp_bert()
    args = args_for("--student-layers", "2", "--stage1-epochs", "1", "--a-ce", "0.5", "--a-kl", "0.5",
                    "--temperature", "2")
    run = make_student(teacher, args, "copy", "forward")
    run.model.eval()
    batch = random_batch()
    (loss, parts), _ = losses_with(run, teacher, batch, args, role="stage1")
    assert set(parts) == {"ce", "kl", "hid"} and parts["ce"].item() > 0 and parts["kl"].item() > 0
    assert loss.item() == pytest.approx(3.0 * parts["hid"].item(), rel=1e-6)  # a_hid * L_hid alone
    (loss, parts), _ = losses_with(run, teacher, batch, args, role="student")  # stage 2
    assert set(parts) == {"ce", "kl"}
    with torch.no_grad():
        student_logits = run.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        teacher_logits = teacher(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    p_t, log_p_s = torch.softmax(teacher_logits / 2, -1), torch.log_softmax(student_logits / 2, -1)
    kd = 4 * (p_t * (p_t.log() - log_p_s)).sum(-1).mean()  # T^2 KL, averaged over the batch
    ce = torch.nn.functional.cross_entropy(student_logits, batch["labels"])
    assert loss.item() == pytest.approx(0.5 * ce.item() + 0.5 * kd.item(), rel=1e-5)
    # stage 2 drops CR-ILD's mixed inputs and consistency term as well
    crild = cli.loss_settings(args_for("--supplementary", "mixup", "--consistency", "0.1", "--stage1-epochs", "1"),
                              "student")
    assert (crild.objective, crild.supplementary, crild.weights["ic"]) == ("kd-only", "none", 0.0)


def test_stage_one_schedule_has_its_own_length_and_no_evaluation():
    args = args_for("--stage1-epochs", "2", "--epochs", "3", "--batch-size", "10", "--eval-every", "4")
    stage1, stage2 = (cli.schedule(args, 100, role) for role in ("stage1", "student"))
    assert (stage1["steps"], stage1["eval_steps"]) == (20, set())
    assert (stage2["steps"], min(stage2["eval_steps"])) == (30, 4)
    capped = args_for("--stage1-epochs", "2", "--max-steps", "5")
    assert cli.schedule(capped, 100, "stage1")["steps"] == 5  # --max-steps caps each stage


def test_two_stages_run_with_a_fresh_optimiser_each(tiny_teacher_dir, tmp_path, monkeypatch):
    schedules = []
    real = distill.linear_schedule
    monkeypatch.setattr(distill, "linear_schedule",
                        lambda optimizer, warmup, total: schedules.append((id(optimizer), warmup, total))
                        or real(optimizer, warmup, total))
    out = tmp_path / "wang"
    run_cli("--teacher", tiny_teacher_dir, "--n-train", 64, "--batch-size", 32, "--student-layers", 2,
            "--max-length", 32, "--lr", "1e-3", "--objective", "attention-scores", "--stage1-epochs", 1,
            "--epochs", 1.5, "--warmup-steps", 1, "--a-ce", 0.5, "--a-kl", 0.5, "--temperature", 2, "--out", out)
    assert [(warmup, total) for _, warmup, total in schedules] == [(1, 2), (1, 3)]  # stage 1: 1 epoch, 2: 1.5
    assert schedules[0][0] != schedules[1][0]  # two optimisers
    log = [json.loads(line) for line in (out / "log.txt").read_text().splitlines()]
    stage1 = [line for line in log if line.get("stage") == 1]
    stage2 = [line for line in log if "stage" not in line and "ce" in line]
    assert stage1 and stage2 and all("att" in line for line in stage1) and all("att" not in l for l in stage2)
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["stage1_steps"], metrics["steps"], metrics["best_step"]) == (2, 3, 3)
    assert metrics["settings"]["objective"] == "attention-scores"  # the run's own settings, not stage 2's


def test_stage_one_needs_a_matching_term():
    with pytest.raises(ValueError, match="--objective kd-only has none"):
        cli.run_names(args_for("--stage1-epochs", "1", "--objective", "kd-only"))


# ------------------------------------------------------------------ CR-ILD: copy from the pre-trained model
@pytest.fixture(scope="module")
def pretrained_dir(tmp_path_factory):
    """A tiny 'pre-trained' BERT (no classifier) saved with the packaged MiniLM tokenizer."""
    directory = tmp_path_factory.mktemp("pretrained")
    torch.manual_seed(5)
    tf.BertForMaskedLM(tiny_bert(layers=4).config).save_pretrained(directory)
    tf.AutoTokenizer.from_pretrained(families.minilm_path()).save_pretrained(directory)
    return directory


def test_copy_source_pretrained_copies_the_base_not_the_fine_tuned_teacher(pretrained_dir):
    teacher = tiny_bert(layers=4)  # stands for the fine-tuned teacher: other weights than the base
    base = tf.BertModel.from_pretrained(pretrained_dir)
    task = {"kind": "classification", "num_labels": 2, "offline": False}
    args = args_for("--student-layers", "2", "--copy-source", "pretrained", "--copy-from", "lower",
                    "--teacher-base", str(pretrained_dir))
    plan = distill.plan_run(teacher.config, args, "copy", "last", 0, distill.Path("x"))
    student = distill.make_run(teacher, plan, args, related.copy_source(teacher, task, args)).model
    assert plan.copied == {"encoder": [1, 2]} and plan.pairs == {"encoder": [(2, 4)]}
    for block in (0, 1):  # the bottom blocks of the pre-trained model, as CR-ILD's pkd_initialization
        assert torch.equal(student.bert.encoder.layer[block].output.dense.weight,
                           base.encoder.layer[block].output.dense.weight)
        assert not torch.equal(student.bert.encoder.layer[block].output.dense.weight,
                               teacher.bert.encoder.layer[block].output.dense.weight)
    assert torch.equal(student.bert.embeddings.word_embeddings.weight, base.embeddings.word_embeddings.weight)
    assert related.copy_source(teacher, task, args_for("--copy-source", "teacher")) is teacher


def test_crild_recipe_runs_end_to_end(tiny_teacher_dir, pretrained_dir, tmp_path):
    """Ko et al. 2023: pre-trained bottom blocks, stage 1 = last-layer Q/K/V relations on mixed inputs,
    stage 2 = soft cross-entropy on the teacher's logits at T = 2, no gold labels."""
    out = tmp_path / "crild"
    run_cli("--teacher", tiny_teacher_dir, "--teacher-base", pretrained_dir, "--n-train", 64, "--batch-size", 32,
            "--student-layers", 2, "--max-length", 32, "--lr", "1e-3", "--max-steps", 2,
            "--copy-source", "pretrained", "--copy-from", "lower", "--strategy", "last",
            "--objective", "qkv-relations", "--supplementary", "mixup", "--stage1-epochs", 1,
            "--a-ce", 0, "--a-kl", 1, "--temperature", 2, "--out", out)
    log = [json.loads(line) for line in (out / "log.txt").read_text().splitlines()]
    assert any(line.get("stage") == 1 and line["att"] > 0 for line in log)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["copied_blocks"] == {"encoder": [1, 2]} and metrics["pairs"] == {"encoder": [[2, 4]]}
    assert metrics["settings"]["copy_source"] == "pretrained" and metrics["stage1_steps"] == 2
