"""distill.py on tiny random models (no downloads): init, losses, training, outputs, errors."""
import csv
import json
import random
import shutil
import types

import pytest
import torch
import transformers as tf

import cli
import data
import distill
import families
import losses
import scoring

WIDTH = 32


def tiny_bert(layers=4, labels=2, width=WIDTH):
    config = tf.BertConfig(vocab_size=30522, hidden_size=width, num_hidden_layers=layers, num_attention_heads=4,
                           intermediate_size=64, max_position_embeddings=64, num_labels=labels)
    torch.manual_seed(0)
    return tf.BertForSequenceClassification(config)


def tiny_seq2seq(kind, layers=4):
    torch.manual_seed(0)
    if kind == "bart":
        return tf.BartForConditionalGeneration(tf.BartConfig(
            vocab_size=64, d_model=WIDTH, encoder_layers=layers, decoder_layers=layers, encoder_attention_heads=4,
            decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64))
    if kind == "t5":
        return tf.T5ForConditionalGeneration(tf.T5Config(
            vocab_size=64, d_model=WIDTH, d_kv=8, d_ff=64, num_layers=layers, num_decoder_layers=layers, num_heads=4,
            decoder_start_token_id=0))
    bert = dict(vocab_size=64, hidden_size=WIDTH, num_hidden_layers=layers, num_attention_heads=4,
                intermediate_size=64, max_position_embeddings=64)
    config = tf.EncoderDecoderConfig.from_encoder_decoder_configs(
        tf.BertConfig(**bert), tf.BertConfig(**bert, is_decoder=True, add_cross_attention=True))
    config.decoder_start_token_id, config.pad_token_id = 1, 0
    return tf.EncoderDecoderModel(config=config)


def args_for(*extra, kind="classification"):
    """distill.py's settings for a tiny task of this kind, resolved as distill.distill resolves them."""
    args = cli.parse_args(["--lr", "1e-3", *extra])
    return cli.resolve_settings(args, {"kind": kind, "name": "tiny", "offline": True})


def make_run(teacher, args, init="copy", strategy="forward", seed=0):
    """One student as distill.distill makes it: planned from the teacher's config, then built."""
    plan = distill.plan_run(teacher.config, args, init, strategy, seed, distill.Path("x"))
    return distill.make_run(teacher, plan, args)


def teacher_pass(teacher, batch, runs, args, mixing_seed=0, ramp=1.0, role="student"):
    """The teacher's side of a step, as distill.train computes it (loss: the role's cli.loss_settings)."""
    with torch.no_grad():
        return distill.teacher_pass(teacher, batch, runs, cli.loss_settings(args, role), random.Random(mixing_seed),
                                    ramp)


def student_loss(run, batch, teacher_outputs, args, role="student"):
    """distill.student_loss with the loss that these settings give the role's stage."""
    return distill.student_loss(run, batch, teacher_outputs, cli.loss_settings(args, role))


def losses_while_training(teacher, args, batch, strategy, steps):
    """A copy-init student's losses over a few AdamW steps on one batch, and the last loss parts."""
    run = make_run(teacher, args, "copy", strategy)
    teacher_outputs = teacher_pass(teacher, batch, [run], args)
    return train_a_few_steps(run, lambda: student_loss(run, batch, teacher_outputs, args), steps)


def train_a_few_steps(run, loss_and_parts, steps):
    """AdamW steps on whatever loss_and_parts() returns; the losses seen, and the last parts."""
    optimizer = torch.optim.AdamW([p for p in run.model.parameters() if p.requires_grad], lr=1e-3)
    seen = []
    for _ in range(steps):
        loss, parts = loss_and_parts()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        seen.append(loss.item())
    return seen, parts


def random_batch(seq2seq=False, batch_size=4, length=7):
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(5, 60, (batch_size, length), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[0, 5:] = 0  # one padded row
    input_ids[0, 5:] = 0
    labels = (torch.randint(5, 60, (batch_size, 5), generator=generator) if seq2seq
              else torch.tensor([0, 1, 0, 1]))
    if seq2seq:
        labels[1, 3:] = -100
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


# ------------------------------------------------------------------ student initialisation
def test_copy_init_copies_the_selected_blocks():
    teacher = tiny_bert(layers=4)
    student, copied = distill.build_student(teacher, "copy", {"encoder": 2})
    assert copied == {"encoder": [2, 4]}
    for student_block, teacher_block in ((0, 1), (1, 3)):
        for (name, value), (_, source) in zip(student.bert.encoder.layer[student_block].state_dict().items(),
                                              teacher.bert.encoder.layer[teacher_block].state_dict().items()):
            assert torch.equal(value, source), name
    assert torch.equal(student.bert.embeddings.word_embeddings.weight, teacher.bert.embeddings.word_embeddings.weight)
    assert torch.equal(student.bert.pooler.dense.weight, teacher.bert.pooler.dense.weight)
    assert not torch.equal(student.classifier.weight, teacher.classifier.weight)  # the head stays fresh


def test_copy_from_lower_upper_and_explicit_list():
    teacher = tiny_bert(layers=4)
    for copy_from, expected in (("lower", [1, 2]), ("upper", [3, 4]), ("4,1", [4, 1])):
        student, copied = distill.build_student(teacher, "copy", {"encoder": 2}, copy_from=copy_from)
        assert copied["encoder"] == expected
        teacher_block = teacher.bert.encoder.layer[expected[0] - 1]
        assert torch.equal(student.bert.encoder.layer[0].output.dense.weight, teacher_block.output.dense.weight)


def test_random_init_is_fresh_and_seeded():
    teacher = tiny_bert(layers=4)
    student, copied = distill.build_student(teacher, "random", {"encoder": 2}, seed=3)
    again, _ = distill.build_student(teacher, "random", {"encoder": 2}, seed=3)
    assert copied is None
    assert not torch.equal(student.bert.encoder.layer[0].output.dense.weight,
                           teacher.bert.encoder.layer[0].output.dense.weight)
    assert not torch.equal(student.bert.embeddings.word_embeddings.weight,
                           teacher.bert.embeddings.word_embeddings.weight)
    assert torch.equal(student.bert.encoder.layer[0].output.dense.weight, again.bert.encoder.layer[0].output.dense.weight)


@pytest.mark.parametrize("kind", ["bart", "t5", "bert2bert"])
def test_copy_init_for_encoder_decoder_models(kind):
    teacher = tiny_seq2seq(kind, layers=4)
    student, copied = distill.build_student(teacher, "copy", {"encoder": 2, "decoder": 2}, copy_from="upper")
    assert copied == {"encoder": [3, 4], "decoder": [3, 4]}
    teacher_state, copied_keys = teacher.state_dict(), 0
    prefixes = families.block_prefixes(teacher)
    for key, value in student.state_dict().items():
        for prefix in prefixes.values():
            if key.startswith(prefix + ".1."):  # student block 1 <- teacher block 3 (0-based), both stacks
                source = families.teacher_key(key, copied, prefixes)
                assert source.startswith(prefix + ".3.")
                assert torch.equal(value, teacher_state[source]), key
                copied_keys += 1
    assert copied_keys > 4
    assert families.stack_depths(student.config) == {"encoder": 2, "decoder": 2}


def test_width_projections_and_copy_width_error():
    teacher = tiny_bert(layers=4)
    args = args_for("--student-layers", "2", "--student-width", "16", "--init", "random")
    run = make_run(teacher, args, "random", "forward")
    projections = run.model.hidden_projections
    assert sorted(projections) == ["encoder_0", "encoder_1", "encoder_2"]
    assert all(p.weight.shape == (WIDTH, 16) and p.bias is None for p in projections.values())
    loss, parts = student_loss(run, random_batch(), teacher_pass(teacher, random_batch(), [run], args), args)
    loss.backward()
    assert projections["encoder_1"].weight.grad.abs().sum() > 0  # the projections are trained
    with pytest.raises(ValueError, match="copy init needs the teacher's width"):
        distill.build_student(teacher, "copy", {"encoder": 2}, width=16)
    with pytest.raises(ValueError, match="multiple of the teacher's 4 attention heads"):
        distill.build_student(teacher, "random", {"encoder": 2}, width=18)


# ------------------------------------------------------------------ losses
def test_hidden_loss_is_zero_for_identical_states():
    states = tuple(torch.randn(2, 5, 8) for _ in range(3))
    mask = torch.ones(2, 5)
    for reduction in losses.REDUCTIONS:
        assert losses.hidden_loss(states, states, [(0, 0), (1, 1), (2, 2)], mask, reduction).item() == 0.0


def test_hidden_loss_matches_a_hand_computation_with_padding():
    student = (torch.zeros(2, 3, 2),)
    teacher = (torch.tensor([[[1.0, 1.0], [2.0, 0.0], [9.0, 9.0]],
                             [[0.0, 3.0], [5.0, 5.0], [5.0, 5.0]]]),)
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    # valid squared norms: 2, 4 (row 0) and 9 (row 1); padding (9+9+..., 50, 50) must not count
    assert losses.hidden_loss(student, teacher, [(0, 0)], mask, "token").item() == pytest.approx(15 / 3)
    assert losses.hidden_loss(student, teacher, [(0, 0)], mask, "bert").item() == pytest.approx(15 / (2 * 3))
    assert losses.hidden_loss(student, teacher, [(0, 0)], mask, "seq2seq").item() == pytest.approx(15 / (3 * 2))
    doubled_student, doubled_teacher = (student[0] * 2,), (teacher[0] * 2,)
    two_pairs = losses.hidden_loss(doubled_student, doubled_teacher, [(0, 0), (0, 0)], mask, "seq2seq").item()
    assert two_pairs == pytest.approx(2 * 4 * 15 / 6)  # seq2seq sums over pairs; states doubled -> x4
    # llm (the authors' decoder-only code): every position, padding included, mean over 2 x 3 positions,
    # times 3 real / 6 positions: squared norms 2 + 4 + 162 + 9 + 50 + 50 = 277
    assert losses.hidden_loss(student, teacher, [(0, 0)], mask, "llm").item() == pytest.approx(277 / 6 * 3 / 6)


def test_hidden_loss_normalisation_ignores_scale():
    states = (torch.randn(2, 4, 8),)
    mask = torch.ones(2, 4)
    assert losses.hidden_loss(states, (states[0] * 5,), [(0, 0)], mask, "token", norm="l2").item() < 1e-10
    assert losses.hidden_loss(states, (states[0] * 5 + 1,), [(0, 0)], mask, "token", norm="layernorm").item() < 1e-6


def test_kd_loss_is_zero_when_student_equals_teacher_and_masks_padding():
    logits = torch.randn(4, 3)
    assert losses.kd_loss(logits, logits).item() == pytest.approx(0.0, abs=1e-6)
    student, teacher = torch.zeros(1, 2, 3), torch.tensor([[[5.0, 0.0, 0.0], [0.0, 0.0, 0.0]]])
    masked = losses.kd_loss(student, teacher, mask=torch.tensor([[0, 1]]))
    assert masked.item() == pytest.approx(0.0, abs=1e-6)  # only the uniform, identical token counts
    assert losses.kd_loss(student, teacher, temperature=2.0, mask=torch.tensor([[1, 0]])).item() > 0


# ------------------------------------------------------------------ training
@pytest.mark.parametrize("strategy", ["forward", "reverse", "random", "all-to-one", "none", "last"])
def test_every_strategy_trains_and_the_loss_goes_down(strategy):
    seen, parts = losses_while_training(tiny_bert(layers=4), args_for("--student-layers", "2"), random_batch(),
                                        strategy, 8)
    assert ("hid" in parts) == (strategy != "none")
    assert seen[-1] < seen[0]


@pytest.mark.parametrize("kind", ["bart", "t5", "bert2bert"])
def test_encoder_decoder_students_match_both_stacks(kind):
    teacher = tiny_seq2seq(kind, layers=4)
    args = args_for("--student-layers", "2", "--temperature", "2", kind="generation")
    assert args.hid_reduction == "seq2seq"
    run = make_run(teacher, args, "random", "reverse")
    assert run.pairs == {"encoder": [(0, 0), (1, 4), (2, 2)], "decoder": [(0, 0), (1, 4), (2, 2)]}
    batch = random_batch(seq2seq=True)
    teacher_outputs = teacher_pass(teacher, batch, [run], args)
    assert set(teacher_outputs.hidden) == {"encoder", "decoder"}
    seen, parts = train_a_few_steps(run, lambda: student_loss(run, batch, teacher_outputs, args), 6)
    assert parts["hid"].item() > 0 and seen[-1] < seen[0]


@pytest.mark.parametrize("kind", ["bart", "t5", "bert2bert"])
def test_hold_encoder_drops_the_encoders_gradients_and_keeps_the_decoders(kind):
    model = tiny_seq2seq(kind, layers=2)
    model(**random_batch(seq2seq=True)).loss.backward()
    distill.hold_encoder(model)
    assert all(p.grad is None for p in model.get_encoder().parameters())
    decoder_blocks = families.attribute(model, families.family(model.config)["stacks"]["decoder"]["blocks"])
    assert all(p.grad is not None for p in decoder_blocks.parameters())


def seq2seq_rows(n=8):
    generator = torch.Generator().manual_seed(2)
    return [{"input_ids": torch.randint(5, 60, (6,), generator=generator).tolist(),
             "labels": torch.randint(5, 60, (4,), generator=generator).tolist()} for _ in range(n)]


@pytest.mark.parametrize("steps, encoder_moves", [(2, False), (3, True)])
def test_a_held_encoder_takes_no_update_in_its_first_steps(steps, encoder_moves):
    teacher = tiny_seq2seq("bert2bert")
    args = args_for("--student-layers", "2", "--hold-encoder-steps", "2", kind="generation")
    run = make_run(teacher, args, "random", "none")
    before = {name: p.detach().clone() for name, p in run.model.named_parameters()}
    plan = {**cli.schedule(args, 8, "student"), "steps": steps, "eval_steps": set()}
    assert plan["hold_encoder_steps"] == 2 and cli.schedule(args, 8, "teacher")["hold_encoder_steps"] == 0
    distill.train([run], None, {"train": seq2seq_rows(), "dev": {}}, {"kind": "generation"},
                  types.SimpleNamespace(pad_token_id=0), args, plan, cli.loss_settings(args, "student"), desc="test")
    moved = {name for name, p in run.model.named_parameters() if not torch.equal(p, before[name])}
    assert any(name.startswith("decoder.") for name in moved)
    assert any(name.startswith("encoder.") for name in moved) == encoder_moves


# ------------------------------------------------------------------ end to end (tiny_teacher_dir: conftest.py)

def run_cli(*argv):
    distill.main(list(map(str, argv)))


def test_end_to_end_writes_metrics_and_a_loadable_student(tiny_teacher_dir, tmp_path, capsys):
    out = tmp_path / "student"
    run_cli("--teacher", tiny_teacher_dir, "--n-train", 64, "--student-layers", 2, "--max-steps", 4,
            "--eval-every", 2, "--max-length", 32, "--lr", "1e-3", "--out", out)
    metrics = json.loads((out / "metrics.json").read_text())
    for field in ("task", "strategy", "init", "student_layers", "student_width", "seed", "metrics", "steps",
                  "wall_time_s", "teacher", "offline", "pairs", "copied_blocks", "hid_reduction", "history"):
        assert field in metrics, field
    assert metrics["offline"] is True and metrics["steps"] == 4 and metrics["student_layers"] == {"encoder": 2}
    assert metrics["pairs"] == {"encoder": [[0, 0], [1, 2], [2, 4]]}
    assert 0 <= metrics["metrics"]["dev"]["accuracy"] <= 1 and "accuracy" in metrics["teacher"]["metrics"]["dev"]
    assert [h["step"] for h in metrics["history"]] == [2, 4]
    # no progress bar off a terminal: a log still shows each evaluation as it happens
    assert [line.split(", dev ")[0].split(": ")[-1] for line in capsys.readouterr().out.splitlines()
            if ", dev " in line] == ["step 2/4", "step 4/4"]
    student = tf.AutoModelForSequenceClassification.from_pretrained(out)
    assert student.config.num_hidden_layers == 2
    # a finished run is not redone, and nothing is overwritten
    before = (out / "metrics.json").read_text()
    run_cli("--teacher", tiny_teacher_dir, "--n-train", 64, "--student-layers", 2, "--max-steps", 4, "--out", out)
    assert (out / "metrics.json").read_text() == before


def test_a_saved_teacher_is_scored_again_on_a_cut_dev_set(tiny_teacher_dir, tmp_path):
    """--n-dev scores the students on the first N dev rows: the teacher's row must come from the same rows,
    not from the full-dev score saved beside it."""
    teacher = tmp_path / "teacher"
    shutil.copytree(tiny_teacher_dir, teacher)
    (teacher / "metrics.json").write_text(json.dumps({"metrics": {"dev": {"accuracy": 0.123}}}))
    for out, cut in (("all", []), ("cut", ["--n-dev", 20])):
        run_cli("--teacher-dir", teacher, "--n-train", 64, "--student-layers", 2, "--max-steps", 1,
                "--max-length", 32, *cut, "--out", tmp_path / out)

    def teacher_accuracy(out):
        return json.loads((tmp_path / out / "metrics.json").read_text())["teacher"]["metrics"]["dev"]["accuracy"]
    assert teacher_accuracy("all") == 0.123
    assert teacher_accuracy("cut") != 0.123 and round(teacher_accuracy("cut") * 20, 4).is_integer()


def test_lockstep_runs_write_one_directory_each(tiny_teacher_dir, tmp_path):
    run_cli("--teacher", tiny_teacher_dir, "--n-train", 64, "--student-layers", 2, "--max-steps", 2,
            "--max-length", 32, "--strategy", "forward,none", "--init", "copy,random", "--out", tmp_path)
    names = sorted(p.parent.name for p in tmp_path.glob("*/metrics.json"))
    assert names == ["copy-forward-seed0", "copy-none-seed0", "random-forward-seed0", "random-none-seed0"]
    assert json.loads((tmp_path / "random-none-seed0" / "metrics.json").read_text())["lockstep_students"] == 4


def test_local_files_are_real_data_not_the_synthetic_profile(tmp_path):
    for split in ("train", "dev"):
        (tmp_path / f"{split}.csv").write_text("text,label\ngood film,pos\nbad film,neg\n")
    task = data.load_task(None, train_file=tmp_path / "train.csv", dev_file=tmp_path / "dev.csv")
    assert task["offline"] is False and task["label_names"] == ["neg", "pos"]
    assert cli.default_teacher_base(task) == "bert-base-uncased"  # and so no task-vocabulary shrinking
    first = data.load_task(None, train_file=tmp_path / "train.csv", dev_file=tmp_path / "dev.csv", n_train=1)
    assert first["train"] == [{"text": "good film", "text_pair": None, "label": 1}]  # --n-train: the file's first rows
    with pytest.raises(ValueError, match="--n-train for .*train.csv must be between 1 and 2"):
        data.load_task(None, train_file=tmp_path / "train.csv", dev_file=tmp_path / "dev.csv", n_train=3)


@pytest.mark.parametrize("name, text, message", [
    ("train.jsonl", '{"text": "good", "label": "pos"}\n{"text": "bad", "label": neg}\n',
     "train.jsonl, line 2: not valid JSON (Expecting value, column 26)"),
    ("train.jsonl", '{"text": "good", "label": "pos"}\n["bad", "neg"]\n', "train.jsonl, line 2: a JSON list, not an object"),
    ("train.jsonl", '{"text": "good", "label": "pos"}\n\n{"text": "", "label": "neg"}\n', "train.jsonl, line 3: empty text"),
    ("train.jsonl", '{"text": "good", "label": "pos"}\n{"text": "bad"}\n', "train.jsonl, line 2: no label"),
    ("train.csv", "text,label\ngood,pos\nbad\n", "train.csv, line 3: no label"),
    ("train.csv", "text,label\ngood,pos\nbad, sad,neg\n", "train.csv, line 3: more fields than the header names"),
    ("train.csv", 'text,label\ngood,pos\n"a\nlong review",\n', "train.csv, line 4: no label"),  # a quoted line break
    ("train.csv", "text,label\n", "train.csv has no rows"),
])
def test_a_bad_row_of_a_local_file_is_one_line_naming_the_file_and_the_line(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    (tmp_path / "dev.csv").write_text("text,label\ngood,pos\n")
    with pytest.raises(SystemExit) as exit_info:
        run_cli("--train-file", tmp_path / name, "--dev-file", tmp_path / "dev.csv", "--teacher-dir",
                tmp_path / "teacher", "--out", tmp_path / "out")
    assert str(exit_info.value).startswith(f"error: {tmp_path}/{message}")
    assert len(str(exit_info.value).splitlines()) == 1 and not (tmp_path / "teacher").exists()


def test_a_dev_label_the_training_file_lacks_is_named_with_its_line(tmp_path):
    (tmp_path / "train.csv").write_text("text,label\ngood,pos\nbad,neg\n")
    (tmp_path / "dev.csv").write_text("text,label\ngood,pos\nso-so,mixed\n")
    with pytest.raises(ValueError, match=r"dev.csv, line 3: label 'mixed' never occurs in the training file"):
        data.load_local(tmp_path / "train.csv", tmp_path / "dev.csv")


def test_a_classifier_that_has_not_learnt_is_flagged_in_its_log_line_and_metrics(tiny_teacher_dir, tmp_path, capsys):
    """Any classification run, local files included: one class for every row, or within a point of the
    majority-class rate (scoring.majority_note), for the students and the teacher alike."""
    assert scoring.majority_note([1, 1, 1, 1], [1, 0, 1, 1], ["neg", "pos"]).startswith(
        "predicts one class (pos) for every dev row (accuracy 75.0%, majority class 75.0%)")
    assert scoring.majority_note([1, 0, 1, 1], [1, 0, 1, 1]) is None
    assert "within 1 point of the majority class (75.0%)" in scoring.majority_note([0, 1, 1, 1] * 25, [1, 1, 1, 0] * 25)
    for split in ("train", "dev"):
        (tmp_path / f"{split}.csv").write_text("text,label\n" + "".join(f"film number {i},{'pos' if i % 3 else 'neg'}\n"
                                                                         for i in range(30)))
    run_cli("--teacher", tiny_teacher_dir, "--train-file", tmp_path / "train.csv", "--dev-file", tmp_path / "dev.csv",
            "--student-layers", 2, "--max-steps", 1, "--max-length", 16, "--out", tmp_path / "out")
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    out = capsys.readouterr().out
    assert metrics["warning"] and f"WARNING: {metrics['warning']}" in out
    assert metrics["teacher"]["warning"]  # the untrained tiny teacher has not learnt either
    # one step of a 10-epoch schedule at the default lr: the run says which lr it uses and why it may not learn
    assert "note: the student trains 1 step (1.00 epochs) at --lr 1e-05, the authors' rate for 10 epochs" in out


def test_a_reused_teacher_made_with_other_settings_is_named(tiny_teacher_dir, tmp_path, capsys):
    """A --teacher-dir is reused as it is; when this command asks another rate (or base, seed, steps), it says so."""
    teacher = tmp_path / "teacher"
    shutil.copytree(tiny_teacher_dir, teacher)
    (teacher / "metrics.json").write_text(json.dumps({"metrics": {"dev": {"accuracy": 0.5}}, "base": "minilm",
                                                      "lr": 5e-5, "seed": 0, "steps": 3}))
    notes = []
    for lr in ("5e-5", "1e-4"):
        run_cli("--teacher-dir", teacher, "--teacher-base", "minilm", "--teacher-lr", lr, "--teacher-max-steps", 3,
                "--n-train", 64, "--student-layers", 2, "--max-steps", 1, "--max-length", 32, "--out", tmp_path / lr)
        notes.append([line for line in capsys.readouterr().out.splitlines() if line.startswith("note: the teacher")])
    assert notes[0] == [] and notes[1] == [f"note: the teacher in {teacher} was fine-tuned with lr 5e-05 (this "
                                           "command: 0.0001); it is reused as it is (give another --teacher-dir to "
                                           "fine-tune one with this command's settings)"]


def test_a_teacher_fine_tuned_here_is_compared_on_its_whole_recipe(tmp_path, capsys):
    """A teacher fine-tuned by one command records what it depends on (length, batch, rows, ...); a later
    command asking another length or batch size is told, one asking the same is not."""
    teacher = tmp_path / "teacher"
    common = ("--teacher-dir", teacher, "--teacher-base", "minilm", "--teacher-max-steps", 1, "--n-train", 64,
              "--n-dev", 32, "--student-layers", 2, "--max-steps", 1)
    run_cli(*common, "--max-length", 32, "--batch-size", 8, "--out", tmp_path / "first")
    capsys.readouterr()
    saved = json.loads((teacher / "metrics.json").read_text())
    assert (saved["max_length"], saved["batch_size"], saved["n_train"], saved["steps"]) == (32, 8, 64, 1)
    notes = []
    for name, shape in (("same", (32, 8)), ("other", (24, 16))):
        run_cli(*common, "--max-length", shape[0], "--batch-size", shape[1], "--out", tmp_path / name)
        notes.append([line for line in capsys.readouterr().out.splitlines() if line.startswith("note: the teacher")])
    assert notes[0] == [] and notes[1] == [f"note: the teacher in {teacher} was fine-tuned with batch size 8 (this "
                                           "command: 16), max length 32 (this command: 24); it is reused as it is "
                                           "(give another --teacher-dir to fine-tune one with this command's settings)"]


def test_the_defaults_learn_a_small_real_data_set_of_your_own(tmp_path):
    """The words of the Moral Foundations Dictionary 2.0, virtue or vice (data.moral_words: a real set no
    offline task uses), as a user's CSV files, 512 training rows, the packaged MiniLM teacher and every
    other setting distill.py's default: the teacher fine-tunes 3 epochs at 2e-5 and keeps its best dev
    evaluation, the copy-init student trains 10 epochs at 1e-5. Both end well above the majority class
    (51% of dev; measured: teacher 78%, student 70%) and carry no not-learnt warning."""
    train_file, dev_file = data.write_example("moral-words", tmp_path / "data")
    run_cli("--train-file", train_file, "--dev-file", dev_file, "--n-train", 512, "--teacher-base", "minilm",
            "--strategy", "forward", "--init", "copy", "--teacher-dir", tmp_path / "teacher", "--out", tmp_path / "out")
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    dev = [row["label"] for row in csv.DictReader(open(dev_file))]
    majority = max(map(dev.count, set(dev))) / len(dev)
    assert majority < 0.52 and len(dev) == 420
    assert metrics["teacher"]["metrics"]["dev"]["accuracy"] > majority + 0.15 and not metrics["teacher"]["warning"]
    assert metrics["score"] > majority + 0.10 and not metrics["warning"]


def test_hub_failure_is_one_clear_line(tmp_path, monkeypatch):
    import huggingface_hub
    # the hub client reads HF_HUB_OFFLINE once, at import: patch its constant, so the
    # test fails at once instead of retrying a network this machine does not have
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(SystemExit) as exit_info:
        run_cli("--task", "synth-sentiment", "--teacher-base", "bert-base-uncased", "--out", tmp_path)
    assert "could not load 'bert-base-uncased'" in str(exit_info.value)
    assert "--task rt-sentiment" in str(exit_info.value)


# ------------------------------------------------------------------ reproducible lockstep
def student_weights(directory):
    from safetensors.torch import load_file
    return load_file(directory / "model.safetensors")


def test_a_student_trains_the_same_alone_and_in_lockstep(tiny_teacher_dir, tmp_path):
    """Dropout is on (the tiny teacher's config): each student draws from its own stream, so its
    place among lockstep companions, and their number, change nothing."""
    common = ["--teacher", tiny_teacher_dir, "--n-train", 64, "--student-layers", 2, "--max-steps", 6,
              "--eval-every", 3, "--max-length", 32, "--lr", "1e-3", "--batch-size", 16]
    run_cli(*common, "--init", "random", "--strategy", "reverse", "--seed", 1, "--out", tmp_path / "alone")
    run_cli(*common, "--init", "copy,random", "--strategy", "forward,reverse", "--seed", "0,1",
            "--out", tmp_path / "lockstep")
    alone, inside = tmp_path / "alone", tmp_path / "lockstep" / "random-reverse-seed1"
    first, second = (json.loads((d / "metrics.json").read_text()) for d in (alone, inside))
    assert second["lockstep_students"] == 8 and first["data_seed"] == second["data_seed"] == 1
    assert first["history"] == second["history"] and first["score"] == second["score"]
    weights, again = student_weights(alone), student_weights(inside)
    assert weights.keys() == again.keys() and all(torch.equal(weights[k], again[k]) for k in weights)
    # a shared --data-seed gives every seed the same batches: seeds then differ only in init and dropout
    run_cli(*common, "--init", "random", "--strategy", "reverse", "--seed", "0,1", "--data-seed", 1,
            "--out", tmp_path / "shared-order")
    shared = json.loads((tmp_path / "shared-order" / "random-reverse-seed1" / "metrics.json").read_text())
    assert shared["history"] == first["history"]


# ------------------------------------------------------------------ failing fast and clearly
def test_a_non_finite_loss_stops_the_run_with_one_line_and_no_metrics(tiny_teacher_dir, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli("--teacher", tiny_teacher_dir, "--n-train", 64, "--student-layers", 2, "--max-steps", 6,
                "--eval-every", 2, "--max-length", 32, "--lr", "1e30", "--init", "copy,random", "--out", tmp_path)
    assert "2 student(s) stopped on a non-finite loss" in str(exit_info.value)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 2 and all("stopped at step" in line and "loss term" in line for line in lines)
    assert lines[0].startswith("error: copy-forward-seed0: stopped at step 2: loss term ce is nan")
    assert not list(tmp_path.glob("*/metrics.json"))


def test_only_the_failing_student_stops_in_lockstep(tiny_teacher_dir):
    teacher = distill.families.load_model(tiny_teacher_dir, "classification")
    tokenizer = tf.AutoTokenizer.from_pretrained(tiny_teacher_dir)
    task = data.load_task("synth-sentiment", n_train=32)
    rows = data.encode(task, task["train"], tokenizer, 32)
    args = args_for("--student-layers", "2")
    runs = [make_run(teacher, args, "copy", strategy) for strategy in ("forward", "none")]
    with torch.no_grad():
        runs[0].model.classifier.weight.fill_(float("nan"))  # as if an update had gone wrong
    plan = {**cli.schedule(args, len(rows), "student"), "steps": 4, "eval_steps": {2, 4}}
    distill.train(runs, teacher, {"train": rows, "dev": {"dev": rows[:8]}}, task, tokenizer, args, plan,
                  cli.loss_settings(args, "student"), desc="test")
    assert runs[0].failed.startswith("stopped at step 2: loss term ce is nan")
    assert runs[1].failed is None and [h["step"] for h in runs[1].history] == [2, 4]
    assert runs[0].history == []  # a failed run is never evaluated


@pytest.mark.parametrize("argv, message", [
    (["--batch-size", "0"], "--batch-size 0 is out of range"),
    (["--eval-every", "0"], "--eval-every 0 is out of range"),
    (["--temperature", "0"], "--temperature 0.0 is out of range"),
    (["--lr", "-1"], "--lr -1.0 is out of range"),
    (["--max-steps", "0"], "--max-steps 0 is out of range"),
    (["--a-hid", "nan"], "--a-hid nan is out of range"),
    (["--hold-encoder-steps", "-1"], "--hold-encoder-steps -1 is out of range"),
    (["--seed", "one"], "must be whole numbers"),
    (["--eval-steps", "10,x"], "must be comma-separated step numbers"),
    (["--strategy", "sideways"], "unknown strategy 'sideways'"),
    (["--init", "warm"], "unknown init 'warm'"),
    (["--task", "nope"], "unknown task 'nope'"),
    (["--copy-from", "middle"], "unknown copy choice 'middle'"),
    (["--hold-encoder-steps", "5"], "holds a sequence-to-sequence model's encoder"),
    (["--train-file", "/nonexistent.csv", "--dev-file", "/nonexistent.csv"], "does not exist"),
    (["--consistency", "0.1"], "add --supplementary mixup"),
    (["--init", "copy", "--student-width", "96"], "copy init needs the teacher's width"),
    # checks on the teacher's config: the packaged MiniLM (6 layers) would be fine-tuned first
    (["--student-layers", "9"], "deeper than teacher"),
    (["--pairs", "0:0,1:99"], "pair 1:99 is out of range"),
    (["--strategy", "all-to-one", "--target-layer", "7"], "all-to-one target 7 is out of range"),
])
def test_bad_flags_are_one_line_before_a_teacher_is_fine_tuned_and_write_nothing(tmp_path, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        run_cli("--teacher-dir", tmp_path / "teacher", "--out", tmp_path / "student", *argv)
    assert str(exit_info.value).startswith("error: ") and message in str(exit_info.value)
    assert not (tmp_path / "teacher").exists() and not (tmp_path / "student").exists()


def test_a_corrupt_teacher_config_is_one_clear_line(tiny_teacher_dir, tmp_path):
    broken = tmp_path / "teacher"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "bert", ')
    with pytest.raises(SystemExit) as exit_info:
        run_cli("--teacher", broken, "--out", tmp_path / "student")
    assert str(exit_info.value).startswith(f"error: {broken}/config.json cannot be read")
    assert not (tmp_path / "student").exists()


def test_a_single_run_does_not_take_another_runs_metrics_as_its_own(tiny_teacher_dir, tmp_path):
    """A single run writes to --out itself: a second job with another run and the same --out is
    refused, instead of being skipped as 'already finished' (the paper plan's QQP reverse jobs)."""
    common = ("--teacher", tiny_teacher_dir, "--n-train", 32, "--student-layers", 2, "--max-steps", 1,
              "--max-length", 32, "--strategy", "reverse", "--out", tmp_path)
    run_cli(*common, "--init", "copy")
    run_cli(*common, "--init", "copy")  # the same run: finished, skipped
    with pytest.raises(SystemExit, match="holds the finished run copy-reverse-seed0, not random-reverse-seed0"):
        run_cli(*common, "--init", "random")


def test_the_scale_note_names_the_packaged_teacher_and_never_calls_mpnet_runs_short():
    task = {"name": "rt-sentiment", "offline": True}
    minilm, mpnet = cli.scale_note(task, "minilm"), cli.scale_note(task, "mpnet")
    assert minilm.startswith("OFFLINE profile: packaged 6-layer MiniLM teacher, task rt-sentiment (")
    assert "packaged 12-layer MPNet teacher" in mpnet and "short CPU training" not in mpnet
    assert cli.scale_note({"name": "sst2", "offline": False}, "bert-base-uncased") == "paper setup (hub models and data)"
    smollm2 = cli.scale_note({"name": "bible-lm", "offline": True}, "smollm2")
    assert "packaged SmolLM2-135M-Instruct teacher" in smollm2 and "4-bit rounding" in smollm2
