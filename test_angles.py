"""angles.py: hand-made angles, masking, streaming sums, and tiny models end to end (no downloads)."""
import json
import math

import pytest
import torch
import transformers as tf

import angles
import distill
import families
from test_distill import WIDTH, args_for, make_run, tiny_bert, tiny_seq2seq


# ------------------------------------------------------------------ angles on hand-made vectors
def test_known_angles_orthogonal_acute_obtuse_and_opposite():
    s = torch.tensor([[1.0, 1.0]], dtype=torch.float64)  # one token; only directions from s count
    offsets = [(1, 0), (0, 2), (1, 1), (-1, 0)]
    teacher = torch.stack([s + torch.tensor(o, dtype=torch.float64) for o in offsets])  # [4, 1, 2]
    cosines = angles.direction_cosines(teacher, s)
    root_half = math.sqrt(0.5)
    # pairs in order (0,1) (0,2) (0,3) (1,2) (1,3) (2,3)
    expected = [0.0, root_half, -1.0, root_half, 0.0, -root_half]
    assert cosines.shape == (1, 6)
    assert cosines[0].tolist() == pytest.approx(expected, abs=1e-12)
    sums = angles.angle_sums(cosines)
    report = angles.angle_report(sums)
    assert report["n_angles"] == 6 and report["acute_share"] == pytest.approx(2 / 6)  # a right angle is not acute
    assert report["mean_cosine"] == pytest.approx(sum(expected) / 6)
    assert sum(report["histogram"]) == 6


def test_a_student_state_on_a_teacher_state_has_no_angle():
    s = torch.tensor([[0.0, 1.0, 0.0]])
    teacher = torch.stack([s, s + torch.tensor([1.0, 0, 0]), s + torch.tensor([0, 0, 1.0])])
    cosines = angles.direction_cosines(teacher, s)
    assert cosines[0, :2].isnan().all() and cosines[0, 2].item() == pytest.approx(0.0, abs=1e-7)
    report = angles.angle_report(angles.angle_sums(cosines))
    assert report["n_angles"] == 1 and report["undefined_angles"] == 2


def test_padding_changes_nothing():
    generator = torch.Generator().manual_seed(0)
    teacher = [torch.randn(2, 5, 8, generator=generator) for _ in range(4)]
    student = torch.randn(2, 5, 8, generator=generator)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 0]])
    before = angles.angles_from_student(teacher, student, mask)
    assert before.shape == (7, 6)  # 7 real tokens, 4 * 3 / 2 teacher pairs
    padded = mask == 0
    for state in teacher + [student]:
        state[padded] = 1e3 * torch.randn(int(padded.sum()), 8, generator=generator)
    assert torch.equal(angles.angles_from_student(teacher, student, mask), before)
    matrices = angles.layer_matrix_sums(teacher, [student], mask)
    real_only = angles.layer_matrix_sums([t[mask.bool()][None] for t in teacher], [student[mask.bool()][None]],
                                         torch.ones(1, 7))
    assert matrices["n"] == 7 and torch.allclose(matrices["distance_sum"], real_only["distance_sum"])


def test_sums_over_several_batches_equal_one_batch():
    generator = torch.Generator().manual_seed(1)
    teacher = [torch.randn(6, 4, 16, generator=generator) for _ in range(5)]
    student = torch.randn(6, 4, 16, generator=generator)
    mask = (torch.rand(6, 4, generator=generator) > 0.3).long()
    whole = {"angles": angles.angle_sums(angles.angles_from_student(teacher, student, mask)),
             "matrix": angles.layer_matrix_sums(teacher, [student], mask)}
    streamed = None
    for rows in (slice(0, 1), slice(1, 4), slice(4, 6)):
        part = {"angles": angles.angle_sums(angles.angles_from_student([t[rows] for t in teacher], student[rows],
                                                                        mask[rows])),
                "matrix": angles.layer_matrix_sums([t[rows] for t in teacher], [student[rows]], mask[rows])}
        streamed = angles.add_sums(streamed, part)
    for group in whole:
        for key, value in whole[group].items():
            assert torch.allclose(torch.as_tensor(streamed[group][key]).double(), torch.as_tensor(value).double()), key
    assert torch.equal(streamed["angles"]["histogram"], whole["angles"]["histogram"])  # counts add exactly


def test_layer_matrices_by_hand():
    a = [torch.tensor([[[3.0, 0.0]]]), torch.tensor([[[0.0, 4.0]]])]
    sums = angles.layer_matrix_sums(a, a, torch.ones(1, 1))
    assert torch.allclose(sums["distance_sum"], torch.tensor([[0.0, 5.0], [5.0, 0.0]], dtype=torch.float64))
    assert torch.allclose(sums["cosine_sum"], torch.eye(2, dtype=torch.float64))


def test_narrow_student_states_go_through_the_learned_map():
    states = [torch.ones(1, 2, 4), 2 * torch.ones(1, 2, 4)]
    projections = {"encoder_1": torch.eye(4).repeat(2, 1)}  # [teacher 8, student 4]
    projected = angles.to_teacher_width(states, "encoder", projections, teacher_width=8)
    assert projected[0].shape == (1, 2, 8) and projected[0].isnan().all()  # no map for layer 0
    assert torch.equal(projected[1], 2 * torch.ones(1, 2, 8))
    assert angles.to_teacher_width(states, "encoder", {}, teacher_width=4) == states


# ------------------------------------------------------------------ end to end on tiny models
@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    """A tiny teacher, a copy-init 2-layer student and a narrow student with one learned map."""
    root = tmp_path_factory.mktemp("angles")
    tokenizer = tf.AutoTokenizer.from_pretrained(families.minilm_path())
    teacher = tiny_bert(layers=4)
    families.save_model(teacher, tokenizer, root / "teacher")
    student, _ = distill.build_student(teacher, "copy", {"encoder": 2})
    families.save_model(student, tokenizer, root / "student")
    run = make_run(teacher, args_for("--student-layers", "2", "--student-width", "16", "--init", "random"),
                   "random", "last")
    families.save_model(run.model, tokenizer, root / "narrow")  # maps only for the matched state: encoder_2
    return root


def angles_cli(*argv):
    """angles.main on the template task: built in memory, so the tiny models read no data file."""
    return angles.main([str(a) for a in argv] + ["--task", "synth-sentiment"])


def run_cli(*argv):
    """The numbers of the one student of a call."""
    (results,) = angles_cli(*argv)
    return results


def test_end_to_end_writes_json_csv_and_figures(model_dirs, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    results = run_cli("--teacher", model_dirs / "teacher", "--student", model_dirs / "student", "--out", out,
                      "--max-examples", 12, "--batch-size", 5, "--max-length", 32)
    assert "angles acute, mean cosine" in capsys.readouterr().out
    for name in ("angles.json", "angles.csv", "matrices.csv", "angles_histogram.png", "heatmaps_encoder.png"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "keep.txt").read_text() == "mine"  # nothing else in --out is touched
    saved = json.loads((out / "angles.json").read_text())
    encoder = saved["stacks"]["encoder"]
    assert 0 <= saved["acute_share"] <= 1 and -1 <= saved["mean_cosine"] <= 1
    assert saved["acute_share"] == pytest.approx(results["acute_share"], rel=1e-5)
    assert encoder["teacher_layers"] == [1, 2, 3, 4] and encoder["student_layers"] == [1, 2]
    assert saved["n_angles"] == encoder["tokens"] * 2 * 6  # tokens x student layers x teacher pairs
    assert set(encoder["per_student_layer"]) == {"1", "2"}
    assert 0 <= encoder["authors_single_pair"]["acute_share"] <= 1
    assert len(encoder["matrices"]["teacher_student"]["mean_cosine"]) == 5  # teacher states 0..4
    assert len(encoder["matrices"]["teacher_student"]["mean_cosine"][0]) == 3  # student states 0..2
    assert encoder["matrices"]["teacher_teacher"]["mean_distance"][2][2] == 0
    rows = (out / "angles.csv").read_text().splitlines()
    assert rows[0].startswith("stack,measure,student_layer") and len(rows) == 1 + 2 + 1 + 1 + 1


def test_untrained_students_and_a_narrow_student_with_a_missing_map(model_dirs, tmp_path, capsys):
    for untrained in ("random", "copy"):
        results = run_cli("--teacher", model_dirs / "teacher", "--student", untrained, "--student-layers", 3,
                          "--out", tmp_path / untrained, "--max-examples", 6, "--max-length", 32)
        assert results["stacks"]["encoder"]["student_layers"] == [1, 2, 3]
    copied = results["stacks"]["encoder"]["matrices"]["teacher_student"]["mean_distance"]
    assert copied[0][0] == pytest.approx(0.0, abs=1e-5)  # a copy-init student starts on the teacher's embeddings
    results = run_cli("--teacher", model_dirs / "teacher", "--student", model_dirs / "narrow",
                      "--out", tmp_path / "narrow", "--max-examples", 6, "--max-length", 32)
    assert "student layer 1 skipped" in capsys.readouterr().out
    encoder = results["stacks"]["encoder"]
    assert encoder["student_layers"] == [2] and encoder["authors_single_pair"]["acute_share"] is None
    assert json.loads((tmp_path / "narrow" / "angles.json").read_text())["notes"]


def test_several_students_in_one_call_match_one_call_each(model_dirs, tmp_path, capsys):
    one_each = [run_cli("--teacher", model_dirs / "teacher", "--student", student, "--student-layers", 2,
                        "--out", tmp_path / f"alone-{i}", "--max-examples", 6, "--max-length", 32)
                for i, student in enumerate((model_dirs / "student", "random"))]
    capsys.readouterr()
    together = angles_cli("--teacher", model_dirs / "teacher", "--student", model_dirs / "student", "random",
                          "--student-layers", 2, "--out", tmp_path / "both-0", tmp_path / "both-1",
                          "--max-examples", 6, "--max-length", 32)
    assert [r["mean_cosine"] for r in together] == [r["mean_cosine"] for r in one_each]
    assert together[0]["mean_cosine"] != together[1]["mean_cosine"]  # two different students, not one twice
    for i in (0, 1):
        for name in ("angles.json", "angles.csv", "matrices.csv"):  # bit for bit what a call of its own writes
            assert (tmp_path / f"both-{i}" / name).read_text() == (tmp_path / f"alone-{i}" / name).read_text()
    assert capsys.readouterr().out.count("angles acute") == 2  # one line per student, as it finishes


def test_encoder_decoder_models_give_both_stacks():
    teacher = tiny_seq2seq("bart", layers=4)
    student, _ = distill.build_student(teacher, "random", {"encoder": 2, "decoder": 2})
    generator = torch.Generator().manual_seed(0)
    batch = {"input_ids": torch.randint(5, 60, (3, 6), generator=generator), "attention_mask": torch.ones(3, 6).long(),
             "labels": torch.randint(5, 60, (3, 4), generator=generator)}
    batch["attention_mask"][0, 4:] = 0
    batch["labels"][1, 2:] = -100
    plan, notes = angles.make_plan(teacher, student, {}, None, with_embeddings=False)
    results = angles.summarise(angles.measure(teacher, student, [batch], plan, {}), plan)
    assert set(results["stacks"]) == {"encoder", "decoder"} and not notes
    assert results["stacks"]["encoder"]["tokens"] == 16 and results["stacks"]["decoder"]["tokens"] == 10
    assert results["n_angles"] == (16 + 10) * 2 * 6


def test_decoder_only_models_give_one_decoder_stack():
    from test_families import tiny_model
    teacher = tiny_model("qwen3", layers=4)
    student, _ = distill.build_student(teacher, "copy", {"decoder": 2})
    input_ids = torch.randint(5, 60, (3, 6), generator=torch.Generator().manual_seed(0))
    batch = {"input_ids": input_ids, "attention_mask": torch.ones(3, 6).long(), "labels": input_ids.clone()}
    batch["attention_mask"][0, 4:] = 0
    plan, notes = angles.make_plan(teacher, student, {}, None, with_embeddings=False)
    results = angles.summarise(angles.measure(teacher, student, [batch], plan, {}), plan)
    assert set(results["stacks"]) == {"decoder"} and not notes
    assert results["stacks"]["decoder"]["tokens"] == 16 and results["n_angles"] == 16 * 2 * 6


@pytest.mark.parametrize("make_argv, message", [
    (lambda d, o: ["--teacher", d / "nowhere", "--student", d / "student", "--out", o], "no config.json"),
    (lambda d, o: ["--teacher", d / "teacher", "--student", d / "other", "--out", o], "not a student of this teacher"),
    (lambda d, o: ["--teacher", d / "teacher", "--student", "random", "--student-layers", 9, "--out", o],
     "deeper than teacher"),
    (lambda d, o: ["--teacher", d / "teacher", "--student", d / "student", "--student-layer", 5, "--out", o],
     "out of range"),
    (lambda d, o: ["--teacher", d / "teacher", "--student", d / "student", "--out", d / "teacher" / "config.json"],
     "is not a directory"),
    (lambda d, o: ["--teacher", d / "teacher", "--student", d / "student", "random", "--out", o],
     "1 --out: give one output directory per student"),
    (lambda d, o: ["--teacher", d / "teacher", "--student", d / "student", d / "other", "--out", o, o / "b"],
     "not a student of this teacher"),  # found before the first student is measured: nothing written
])
def test_bad_input_exits_with_one_clear_line(model_dirs, tmp_path, make_argv, message):
    if not (model_dirs / "other").exists():  # a classifier of another architecture
        tf.MPNetForSequenceClassification(tf.MPNetConfig(
            vocab_size=30522, hidden_size=WIDTH, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=64)).save_pretrained(model_dirs / "other")
    teacher_config = (model_dirs / "teacher" / "config.json").read_text()
    with pytest.raises(SystemExit) as exit_info:
        run_cli(*make_argv(model_dirs, tmp_path / "out"), "--max-examples", 4)
    assert str(exit_info.value).startswith("error: ") and message in str(exit_info.value)
    assert "\n" not in str(exit_info.value)
    assert not (tmp_path / "out").exists()
    assert (model_dirs / "teacher" / "config.json").read_text() == teacher_config
