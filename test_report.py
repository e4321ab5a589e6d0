"""report.py: tables, verdicts and README section from metrics.json files as distill.py writes them."""
import json
import sys

import pytest

import report


METRIC = {"classification": "accuracy", "generation": "bleu", "language-modeling": "perplexity"}  # the score's


def write_run(root, table, name, init, strategy, seed, score, kind="classification", table_name="offline", **extra):
    directory = root / "runs" / table_name / table / name
    directory.mkdir(parents=True)
    teacher_dir = root / "runs" / "offline" / "teachers" / "t"
    metrics = {"task": "synth-sentiment", "kind": kind, "offline": True, "strategy": strategy, "init": init,
               "seed": seed, "score": score, "metrics": {"dev": {METRIC[kind]: score}}, "steps": 150,
               "wall_time_s": 1.0, "student_layers": {"encoder": 2}, "student_width": 384,
               "history": [{"step": 50, "score": score / 2}, {"step": 150, "score": score}],
               "teacher": {"dir": str(teacher_dir), "metrics": {"dev": {"accuracy": 0.99}}},
               "settings": extra}
    metrics.update({key: extra.pop(key) for key in ("student_layers", "student_width", "pairs", "steps", "stage1_steps", "history",
                                              "best_step", "hid_norm")
                    if key in extra})
    (directory / "metrics.json").write_text(json.dumps(metrics))


@pytest.fixture()
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "README.md").write_text("intro\n<!-- table offline:begin -->\nold\n<!-- table offline:end -->\ntail\n")
    return tmp_path


def run_report(*argv):
    report.main(list(argv))


def test_grid_table_means_stds_and_verdicts(project):
    scores = {"none": (0.60, 0.62, 0.61), "forward": (0.80, 0.82, 0.81), "reverse": (0.79, 0.81, 0.80),
              "all-to-one": (0.78, 0.80, 0.79), "random": (0.81, 0.83, 0.82)}
    for strategy, per_seed in scores.items():
        for seed, score in enumerate(per_seed):
            write_run(project, "classification", f"synth-sentiment/random-{strategy}-seed{seed}", "random",
                      strategy, seed, score)
    run_report("offline")
    tables = (project / "results" / "offline" / "tables.md").read_text()
    assert "| teacher | - | 99.0 | - | - |" in tables
    assert "| random | forward | 81.0 ± 1.0 | 80.0 / 82.0 / 81.0 | - | 40.5 ± 0.5 |" in tables
    assert "| random | reverse | 80.0 ± 1.0 | 79.0 / 81.0 / 80.0 | -1.0 ± 0.0 |" in tables  # paired: -1 in every seed
    assert "random init: matching strategies span 3.0 accuracy points" in tables
    assert "no matching scores 61.0 vs 79.0-82.0" in tables
    # the seed std (1.0) is as large as every gap, but each seed moves every strategy alike: paired, they differ
    assert ("these differ at 95% (paired t-test): none -20.0, reverse -1.0, all-to-one -2.0, "
            "random +1.0.") in tables
    rows = (project / "results" / "offline" / "runs.csv").read_text().splitlines()
    assert len(rows) == 16 and rows[0].startswith("table,task,init,strategy,seed,score")
    assert len(json.loads((project / "results" / "offline" / "runs.json").read_text())) == 15
    readme = (project / "README.md").read_text()
    assert readme.startswith("intro\n<!-- table offline:begin -->\nTable `offline`") and readme.endswith("tail\n")
    assert "old" not in readme


def test_a_cut_dev_set_is_named_in_the_heading_with_the_teacher_scored_on_it(project):
    for strategy in ("none", "forward"):
        write_run(project, "classification", f"synth-sentiment/copy-{strategy}-seed0", "copy", strategy, 0, 0.8,
                  table_name="pairs", n_dev=900)
    teacher = project / "runs" / "offline" / "teachers" / "t"
    teacher.mkdir(parents=True)  # the teacher's own file holds its full-dev score; the runs measured 0.99
    (teacher / "metrics.json").write_text(json.dumps({"metrics": {"dev": {"accuracy": 0.5}}}))
    run_report("pairs")
    tables = (project / "results" / "pairs" / "tables.md").read_text()
    assert "synth-sentiment (150 steps, seeds [0], scored on the first 900 dev rows)" in tables
    assert "| teacher | - | 99.0 | - | - |" in tables


def test_related_claims_are_judged_on_paired_seeds(project):
    # seed 1 moves every run by the same 5 points: paired differences see through it, two stds would not
    for seed, shift in ((0, 0.0), (1, 0.05), (2, 0.02)):
        for objective, lower, upper in (("kd-only", 0.70, 0.60), ("hidden", 0.75, 0.65), ("attention", 0.80, 0.79)):
            for copy_from, score in (("lower", lower), ("upper", upper + (0.001 * seed if objective == "attention" else 0))):
                write_run(project, "related", f"objective-{objective}-{copy_from}/copy-forward-seed{seed}", "copy",
                          "forward", seed, score + shift, objective=objective, copy_from=copy_from, table_name="related")
    run_report("related", "--no-readme")
    tables = (project / "results" / "related" / "tables.md").read_text()
    assert "| objective-kd-only-lower | kd-only | lower | forward | none | 0 | 72.3 ± 2.5 | 70.0 / 75.0 / 72.0 |" in tables
    assert ("| Attention transfer is the best objective (Wang et al. 2023) | vs hidden, mean of lower and upper "
            "blocks | +9.6 ± 0.0 SE | agrees |") in tables
    assert "| kd-only | +10.0 ± 0.0 SE | agrees |" in tables  # lower minus upper blocks
    assert "| gap of kd-only minus attention's | +9.1 ± 0.1 SE | agrees |" in tables
    assert "old" in (project / "README.md").read_text()  # --no-readme leaves it alone


def test_crild_claims_say_undecided_when_seeds_disagree(project):
    scores = {"clean": ((0.70, 0.75), (0.72, 0.75), (0.71, 0.75)),  # last ahead in every seed: +5, +3, +4
              "mixup": ((0.70, 0.77), (0.72, 0.72), (0.71, 0.75)),  # mixup - clean for last: +2, -3, 0
              "mixup-consistency": ((0.70, 0.72), (0.70, 0.69), (0.70, 0.72))}  # consistency - mixup: -5, -3, -3
    for inputs, per_seed in scores.items():
        for seed, (forward, last) in enumerate(per_seed):
            for strategy, score in (("forward", forward), ("last", last)):
                write_run(project, "related", f"crild-{inputs}/copy-{strategy}-seed{seed}", "copy", strategy, seed,
                          score, copy_from="lower", table_name="crild")
    run_report("crild", "--no-readme")
    tables = (project / "results" / "crild" / "tables.md").read_text()
    assert "| clean inputs | +4.0 ± 0.6 SE | agrees |" in tables
    assert "\n\nA score's ± is its standard deviation over seeds.\n" in tables  # no paired column here
    assert "help last-layer matching (Ko et al. 2023) | - | -0.3 ± 1.5 SE | undecided |" in tables
    assert "helps further (CR-ILD) (Ko et al. 2023) | - | -3.7 ± 0.7 SE | disagrees |" in tables


def test_a_claim_that_strategies_do_not_differ_needs_every_interval_inside_the_margin():
    """'within' claims are equivalence tests: the 95% interval of the paired difference inside +-margin
    agrees, wholly outside disagrees, anything else is undecided (never read as 'no difference')."""
    assert report.judge_within([0.1, -0.2, 0.0], 3) == ("agrees", "-0.0 [-0.4, +0.3]")
    assert report.judge_within([-5.0, -4.5, -5.5], 3)[0] == "disagrees"
    outcome, text = report.judge_within([1.0, -2.0, 3.0], 3)  # mean +0.7, interval about -5.5 to +6.9
    assert outcome == "undecided" and "seeds would decide" in text
    assert report.seeds_to_decide([1.0, -2.0, 3.0], 3) == 7  # mean +0.67, std 2.52: t(6) 2.45 x 2.52 / sqrt 7 = 2.33
    assert report.judge_within([0.0, 0.1], 3)[0] == "too few seeds"


def test_a_classifier_within_a_point_of_the_majority_class_is_flagged_in_every_table(project):
    rate = report.majority_rate("synth-sentiment", None)
    assert 0.5 < rate < 0.6  # synth-sentiment's dev labels: 52.6% one class
    for seed in range(3):
        for strategy, score in (("forward", rate + 0.005), ("last", rate + 0.05)):
            write_run(project, "related", f"crild-mixup/copy-{strategy}-seed{seed}", "copy", strategy, seed, score,
                      copy_from="lower", stage1_steps=102, steps=200)
        write_run(project, "classification", f"synth-sentiment/random-none-seed{seed}", "random", "none", seed,
                  rate if seed == 1 else 0.8)
    run_report("offline", "--no-readme")
    tables = (project / "results" / "offline" / "tables.md").read_text()
    assert "copy init, two stages: 102 steps of the matching terms, then 200 steps of CE + KL" in tables
    near = f"{(rate + 0.005) * 100:.1f}, within 1 point of the majority class ({rate * 100:.1f}): it did not learn."
    assert all(f"- crild-mixup/copy-forward-seed{seed}: {near}" in tables for seed in range(3))
    assert "copy-last" not in tables.split("Related studies")[1].split("\n- ", 1)[1]  # 5 points above: learnt
    assert f"- synth-sentiment/random-none-seed1: {rate * 100:.1f}, within 1 point" in tables
    assert "random-none-seed0" not in tables


def test_a_paired_difference_is_judged_by_a_95_percent_t_test_not_twice_its_standard_error():
    # +1, +2, +3: the mean (2) is 3.5 standard errors from zero, beyond twice its standard error, but a
    # two-sided 95% t-test over 2 degrees of freedom needs 4.30; +2, +3, +4 is 5.2 standard errors away
    assert not report.distinguishable([1.0, 2.0, 3.0])
    assert report.distinguishable([2.0, 3.0, 4.0])
    assert report.distinguishable([-4.0, -3.0, -2.0])  # either sign
    # a fourth seed (3 degrees of freedom) lowers the bar to 3.18: +1, +2, +3, +1 is 3.7 standard errors away
    assert report.distinguishable([1.0, 2.0, 3.0, 1.0])
    assert not report.distinguishable([1.0, 2.0])  # under MIN_SEEDS, never judged
    # 40 seeds (39 degrees of freedom, past the table's 30): the t of the next fewer listed, 30's 2.04
    # (the exact value is 2.02). 20 at 1 + x and 20 at 1 - x are sqrt(39) / x standard errors from zero.
    assert report.distinguishable([1 + 39 ** 0.5 / 2.06] * 20 + [1 - 39 ** 0.5 / 2.06] * 20)
    assert not report.distinguishable([1 + 39 ** 0.5 / 2.03] * 20 + [1 - 39 ** 0.5 / 2.03] * 20)


def test_a_part_way_table_gives_the_seeds_of_each_init_where_they_differ():
    def row(init, seed):
        return {"init": init, "seed": seed, "task": "rt-sentiment", "steps": 300, "lr": 1e-4, "kind": "classification"}
    part_way = [row("copy", s) for s in range(4)] + [row("random", s) for s in range(3)]
    assert report.scale_text(part_way).endswith("; copy init 4 seeds, random init 3 seeds")
    assert report.scale_text(part_way[:3] + part_way[4:]) == "rt-sentiment; 300 steps; 3 seeds"


def test_two_seeds_are_shown_but_not_judged(project):
    for seed, (forward, last) in enumerate(((0.70, 0.75), (0.72, 0.76))):
        for strategy, score in (("forward", forward), ("last", last)):
            write_run(project, "related", f"crild-clean/copy-{strategy}-seed{seed}", "copy", strategy, seed, score,
                      copy_from="lower")
    for seed, per_strategy in enumerate(((0.70, 0.60), (0.72, 0.61))):
        for strategy, score in zip(("forward", "reverse"), per_strategy):
            write_run(project, "classification", f"t/random-{strategy}-seed{seed}", "random", strategy, seed, score)
    run_report("offline", "--no-readme")
    tables = (project / "results" / "offline" / "tables.md").read_text()
    assert "| +4.5 (2 seeds) | too few seeds |" not in tables  # the offline table tests no CR-ILD claim
    assert "(2 seeds: too few to tell a paired difference from noise)" in tables


def test_ablation_rows_bring_table_1s_cells_of_the_same_seeds_and_flag_one_configuration(project):
    pairs = {"forward": {"encoder": [[0, 0], [1, 6]]}, "reverse": {"encoder": [[0, 0], [1, 6]]}}
    for seed in (0, 1):
        for strategy, score in (("forward", 0.70 + seed / 100), ("reverse", 0.68 + seed / 100)):
            write_run(project, "depth", f"layers-1/copy-{strategy}-seed{seed}", "copy", strategy, seed, score,
                      student_layers={"encoder": 1}, pairs=pairs[strategy])
    for seed, score in ((0, 0.80), (1, 0.81), (2, 0.90)):  # Table 1's seed 2 is not in the ablation
        write_run(project, "classification", f"t/copy-forward-seed{seed}", "copy", "forward", seed, score)
    run_report("offline", "--no-readme")
    tables = (project / "results" / "offline" / "tables.md").read_text()
    assert "| 1 | copy | reverse | 68.5 ± 0.7 | 68.0 / 69.0 | -2.0 ± 0.0 |" in tables
    assert "| 2 | copy | forward | 80.5 ± 0.7 | 80.0 / 81.0 | - |" in tables  # Table 1's seeds 0 and 1 only
    assert "student layers 1, copy init: matching strategies span 2.0 accuracy points" in tables
    assert "student layers 1: copy init, seed 0: forward and reverse have the same layer pairs" in tables


def test_a_random_permutation_drawn_by_two_seeds_is_flagged(project):
    draws = {0: [[0, 0], [1, 2], [2, 6], [3, 4]], 1: [[0, 0], [1, 4], [2, 6], [3, 2]],
             2: [[0, 0], [1, 4], [2, 6], [3, 2]]}  # seeds 1 and 2 drew the same permutation
    for seed, pairs in draws.items():
        write_run(project, "classification", f"t/copy-random-seed{seed}", "copy", "random", seed, 0.8,
                  pairs={"encoder": pairs})
        write_run(project, "classification", f"t/copy-forward-seed{seed}", "copy", "forward", seed, 0.8,
                  pairs={"encoder": [[0, 0], [1, 2], [2, 4], [3, 6]]})
    run_report("offline", "--no-readme")
    tables = (project / "results" / "offline" / "tables.md").read_text()
    assert "copy init, random: seeds 1 and 2 drew the same layer pairs (fewer draws than seeds)." in tables
    assert "seeds 0 and" not in tables  # forward's identical lists across seeds are not a repeated draw


def test_a_generation_student_writing_one_output_for_every_source_is_flagged(project):
    for strategy, outputs in (("none", ["and the lord said to moses,"] * 20),
                              ("forward", [f"verse {i}" for i in range(20)])):
        write_run(project, "generation", f"kjv-bbe/random-{strategy}-seed0", "random", strategy, 0, 5.0,
                  kind="generation", table_name="generation")
        run_dir = project / "runs" / "generation" / "generation" / "kjv-bbe" / f"random-{strategy}-seed0"
        (run_dir / "predictions.txt").write_text("\n".join(outputs) + "\n")
    run_report("generation")
    tables = (project / "results" / "generation" / "tables.md").read_text()
    assert ("random init, none, seed 0: its best checkpoint writes 1 distinct output for 20 dev rows "
            "(it ignores the source).") in tables
    assert "forward, seed 0" not in tables


def test_the_depth_table_takes_its_default_depth_from_the_committed_table_1(project):
    for seed in (0, 1):
        write_run(project, "depth", f"layers-2/random-forward-seed{seed}", "random", "forward", seed, 0.70,
                  table_name="ablations", student_layers={"encoder": 2})
    table1 = [{"table": "classification", "kind": "classification", "task": "synth-sentiment", "init": "random", "strategy": "forward",
               "seed": seed, "score": 0.75, "steps": 150, "metrics": {"dev": {"accuracy": 0.75}},
               "student_layers": {"encoder": 3}, "student_width": 384} for seed in (0, 1, 2)]
    (project / "results" / "offline").mkdir(parents=True)
    (project / "results" / "offline" / "runs.json").write_text(json.dumps(table1))  # no runs/offline here
    run_report("ablations")
    tables = (project / "results" / "ablations" / "tables.md").read_text()
    assert "| 3 | random | forward | 75.0 ± 0.0 | 75.0 / 75.0 | - |" in tables  # Table 1's seeds 0 and 1
    assert len(json.loads((project / "results" / "ablations" / "runs.json").read_text())) == 2  # its own runs only


def test_a_table_run_one_init_per_call_joins_the_committed_other_init_and_table_1_at_each_inits_steps(project):
    """bash run_all.sh ablations --init random on a fresh clone: the committed copy-init rows join, and
    Table 1's 3-layer rows come in at the steps each init trained."""
    for seed in (0, 1):
        write_run(project, "depth", f"layers-2/random-forward-seed{seed}", "random", "forward", seed, 0.70,
                  table_name="ablations", student_layers={"encoder": 2}, steps=300, lr=5e-4)
    copy_half = [{"table": "depth", "kind": "classification", "task": "synth-sentiment", "init": "copy",
                  "strategy": "forward", "seed": seed, "score": 0.80, "steps": 200, "lr": 1e-4, "wall_time_s": 1.0, "dir": "-",
                  "metrics": {"dev": {"accuracy": 0.80}}, "student_layers": {"encoder": 2}, "student_width": 384,
                  "name": f"layers-2/copy-forward-seed{seed}"} for seed in (0, 1)]
    table1 = [{"table": "classification", "kind": "classification", "task": "synth-sentiment", "init": init,
               "strategy": "forward", "seed": seed, "score": score, "steps": steps, "lr": lr,
               "metrics": {"dev": {"accuracy": score}}, "student_layers": {"encoder": 3}, "student_width": 384}
              for seed in (0, 1) for init, steps, lr, score in (("random", 300, 5e-4, 0.75), ("copy", 200, 1e-4, 0.85),
                                                                ("random", 200, 1e-3, 0.55))]  # an earlier recipe
    for name, saved in (("ablations", copy_half), ("offline", table1)):
        (project / "results" / name).mkdir(parents=True)
        (project / "results" / name / "runs.json").write_text(json.dumps(saved))
    run_report("ablations")
    tables = (project / "results" / "ablations" / "tables.md").read_text()
    assert "(synth-sentiment; random init 300 steps at lr 5e-4; copy init 200 steps at lr 1e-4; seeds [0, 1])" in tables
    assert "| 2 | copy | forward | 80.0 ± 0.0 | 80.0 / 80.0 | - |" in tables
    assert "| 3 | random | forward | 75.0 ± 0.0 | 75.0 / 75.0 | - |" in tables and "55.0" not in tables
    assert "| 3 | copy | forward | 85.0 ± 0.0 | 85.0 / 85.0 | - |" in tables


def test_one_init_run_here_replaces_its_committed_rows_and_the_heading_gives_each_inits_schedule(project):
    """bash run_all.sh pairs --init random: its runs replace the committed random-init rows of the same
    names, the committed copy-init rows join, and the heading gives each init's schedule."""
    for strategy, score in (("none", 0.60), ("forward", 0.70)):
        write_run(project, "classification", f"synth-sentiment/random-{strategy}-seed0", "random", strategy, 0,
                  score, table_name="pairs", steps=600, lr=3e-4, n_dev=900)
    copy_half = [{"table": "classification", "kind": "classification", "task": "synth-sentiment", "init": init,
                  "strategy": "forward", "seed": 0, "score": score, "lr": 1e-4, "steps": 200, "wall_time_s": 1.0, "dir": "-",
                  "student_layers": {"encoder": 2}, "student_width": 384,
                  "metrics": {"dev": {"accuracy": score}}, "history": [{"step": 25, "score": 0.5}],
                  "teacher": {"metrics": {"dev": {"accuracy": 0.99}}},
                  "name": f"synth-sentiment/{init}-forward-seed0"}
                 for init, score in (("copy", 0.88), ("random", 0.50))]  # an earlier random-init row
    (project / "results" / "pairs").mkdir(parents=True)
    (project / "results" / "pairs" / "runs.json").write_text(json.dumps(copy_half))
    run_report("pairs")
    tables = (project / "results" / "pairs" / "tables.md").read_text()
    assert ("synth-sentiment (random init 600 steps at lr 3e-4; copy init 200 steps at lr 1e-4; seeds [0]; "
            "scored on the first 900 dev rows)") in tables
    assert "| copy | forward | 88.0 | 88.0 | - |" in tables
    assert "| random | forward | 70.0 | 70.0 | - |" in tables and "50.0 | 50.0" not in tables
    assert len(json.loads((project / "results" / "pairs" / "runs.json").read_text())) == 3  # 2 run here, 1 kept


def committed_row(table, name, seed, score, teacher=0.99, strategy="forward"):
    return {"table": table, "name": name, "kind": "classification", "offline": True, "task": "synth-sentiment",
            "init": "random", "strategy": strategy, "seed": seed, "score": score, "lr": 1e-3, "steps": 150,
            "wall_time_s": 1.0,
            "dir": f"runs/offline/{table}/{name}", "student_layers": {"encoder": 2}, "student_width": 384,
            "metrics": {"dev": {"accuracy": score}}, "history": [{"step": 150, "score": score}],
            "teacher": {"metrics": {"dev": {"accuracy": teacher}}}}


def test_a_seed_run_alone_keeps_the_committed_seeds_and_says_which_were_read(project):
    """--seeds 2 on a fresh clone: the committed seeds 0 and 1 join the table instead of being overwritten;
    a seed run here again replaces its committed row; the related rows keep the settings they print."""
    (project / "results" / "offline").mkdir(parents=True)
    committed = [committed_row("classification", f"synth-sentiment/random-forward-seed{seed}", seed, score)
                 for seed, score in ((0, 0.70), (1, 0.72))]
    committed.append({**committed_row("related", "objective-kd-only-upper/copy-forward-seed0", 0, 0.5),
                      "objective": "kd-only", "copy_from": "upper"})
    (project / "results" / "offline" / "runs.json").write_text(json.dumps(committed))
    for seed, score in ((1, 0.60), (2, 0.74)):
        write_run(project, "classification", f"synth-sentiment/random-forward-seed{seed}", "random", "forward", seed,
                  score)
    run_report("offline")
    tables = (project / "results" / "offline" / "tables.md").read_text()
    assert ("Read from the committed `results/offline/runs.json`, not run under `runs/offline`: 2 runs "
            "(classification synth-sentiment: seeds [0]; related synth-sentiment: seeds [0]).") in tables
    assert "seeds [0, 1, 2]" in tables and "| 70.0 / 60.0 / 74.0 |" in tables  # seed 1 as run here
    assert "the teacher differs" not in tables
    assert "| objective-kd-only-upper | kd-only | upper | forward | none | 0 | 50.0 | 50.0 |" in tables
    saved = json.loads((project / "results" / "offline" / "runs.json").read_text())
    assert sorted((r["table"], r["seed"], r["score"]) for r in saved) == [
        ("classification", 0, 0.70), ("classification", 1, 0.60), ("classification", 2, 0.74), ("related", 0, 0.5)]
    # runs.json keeps the settings the tables read, so the next rebuild prints the same rows
    assert {(r["objective"], r["copy_from"]) for r in saved} == {("hidden", "forward"), ("kd-only", "upper")}


def test_tables_rebuild_from_the_committed_rows_alone(project):
    (project / "results" / "offline").mkdir(parents=True)
    rows = [committed_row("classification", f"synth-sentiment/random-{strategy}-seed0", 0, score, strategy=strategy)
            for strategy, score in (("none", 0.60), ("forward", 0.70))]
    (project / "results" / "offline" / "runs.json").write_text(json.dumps(rows))
    run_report("offline", "--no-readme")
    tables = (project / "results" / "offline" / "tables.md").read_text()
    assert "not run under `runs/offline`: 2 runs" in tables and "| random | none | 60.0 | 60.0 | -10.0 |" in tables
    # the rows written back keep their keys' order: a rebuild leaves a committed runs.json's diff clean
    saved = json.loads((project / "results" / "offline" / "runs.json").read_text())
    assert [[key for key in r if key in rows[0]] for r in saved] == [list(rows[0])] * 2


def test_rows_read_from_another_teacher_are_named(project):
    (project / "results" / "offline").mkdir(parents=True)
    row = committed_row("classification", "synth-sentiment/random-forward-seed0", 0, 0.70, teacher=0.95)
    (project / "results" / "offline" / "runs.json").write_text(json.dumps([row]))
    write_run(project, "classification", "synth-sentiment/random-forward-seed1", "random", "forward", 1, 0.72)
    run_report("offline")
    tables = (project / "results" / "offline" / "tables.md").read_text()
    assert "| teacher | - | 95.0 / 99.0 | - | - | - |" in tables
    assert ("the teacher differs between runs (one teacher command, fine-tuned twice): 95.0 for random init "
            "seeds [0]; 99.0 for random init seeds [1].") in tables


def test_the_heading_says_how_long_a_random_init_encoder_was_held(project):
    for init, steps, lr, hold in (("random", 800, 1e-3, 200), ("copy", 300, 1e-4, 0)):
        write_run(project, "generation", f"kjv/{init}-forward-seed0", init, "forward", 0, 0.5, steps=steps, lr=lr,
                  hold_encoder_steps=hold)
    run_report("offline")
    tables = (project / "results" / "offline" / "tables.md").read_text()
    assert "(random init 800 steps at lr 1e-3, encoder held for the first 200; copy init 300 steps at lr 1e-4;" in tables


def test_the_first_evaluation_column_names_each_inits_step_where_they_differ(project):
    for init, first in (("random", 200), ("copy", 100)):
        write_run(project, "generation", f"kjv/{init}-forward-seed0", init, "forward", 0, 0.5, kind="generation",
                  history=[{"step": first, "score": 0.2}, {"step": 300, "score": 0.5}])
    run_report("offline")
    tables = (project / "results" / "offline" / "tables.md").read_text()
    assert "| dev BLEU at the first evaluation (random: step 200, copy: step 100) |" in tables


def test_learning_rate_table_takes_the_default_lr_from_table_1(project):
    for seed in (0, 1):
        for strategy, score in (("none", 0.60), ("forward", 0.70 + seed / 100)):
            write_run(project, "lr", f"random-lr3e-3/random-{strategy}-seed{seed}", "random", strategy, seed, score,
                      table_name="recipe", lr=3e-3)
    table1 = [{"table": "classification", "kind": "classification", "task": "synth-sentiment", "init": "random",
               "strategy": strategy, "seed": seed, "score": 0.75, "lr": 1e-3, "steps": 150,
               "history": [{"step": 50, "score": 0.5}, {"step": 150, "score": 0.75}]}
              for strategy in ("none", "forward", "reverse") for seed in (0, 1, 2)]
    (project / "results" / "offline").mkdir(parents=True)
    (project / "results" / "offline" / "runs.json").write_text(json.dumps(table1))
    run_report("recipe")
    tables = (project / "results" / "recipe" / "tables.md").read_text()
    assert "| init | lr | strategy | dev accuracy (best) | per seed (0, 1) | step 50 | step 150 |" in tables
    assert "| random | 1e-3 | forward | 75.0 ± 0.0 | 75.0 / 75.0 | 50.0 ± 0.0 | 75.0 ± 0.0 |" in tables
    assert "| random | 3e-3 | forward | 70.5 ± 0.7 | 70.0 / 71.0 | 35.2 ± 0.4 | 70.5 ± 0.7 |" in tables


@pytest.mark.parametrize("sweep_best, where", [(150, "every best checkpoint fell on a step both evaluate"),
                                               (50, "some best checkpoints fell on a step only one of them evaluates")])
def test_rows_borrowed_from_table_1_name_their_other_evaluation_steps(project, sweep_best, where):
    for seed in (0, 1):
        write_run(project, "lr", f"random-lr3e-3/random-forward-seed{seed}", "random", "forward", seed, 0.7,
                  table_name="recipe", lr=3e-3, best_step=sweep_best)  # evaluated at steps 50 and 150
    table1 = [{"table": "classification", "kind": "classification", "task": "synth-sentiment", "init": "random",
               "strategy": "forward", "seed": seed, "score": 0.75, "lr": 1e-3, "steps": 150, "best_step": 150,
               "history": [{"step": 100, "score": 0.6}, {"step": 150, "score": 0.75}]} for seed in (0, 1)]
    (project / "results" / "offline").mkdir(parents=True)
    (project / "results" / "offline" / "runs.json").write_text(json.dumps(table1))
    run_report("recipe")
    tables = (project / "results" / "recipe" / "tables.md").read_text()
    assert ("- random init: Table 1's runs (the default lr's rows) evaluated at steps 100, 150, the other rows at "
            f"steps 50, 150; {where}.") in tables
    assert "| random | 1e-3 | forward | 75.0 ± 0.0 | 75.0 / 75.0 | - | 60.0 ± 0.0 | 75.0 ± 0.0 |" in tables


def test_learning_rate_table_gives_each_inits_steps_and_every_evaluation(project):
    for init, steps, history in (("random", 300, [{"step": 100, "score": 0.6}, {"step": 300, "score": 0.7}]),
                                 ("copy", 200, [{"step": 25, "score": 0.65}, {"step": 200, "score": 0.8}])):
        for seed in (0, 1):
            write_run(project, "lr", f"{init}-lr1e-3/{init}-forward-seed{seed}", init, "forward", seed,
                      history[-1]["score"], table_name="recipe", lr=1e-3, steps=steps, history=history)
    run_report("recipe")
    tables = (project / "results" / "recipe" / "tables.md").read_text()
    assert "(synth-sentiment, random init 300 steps; copy init 200 steps, seeds [0, 1])" in tables
    assert "| step 25 | step 100 | step 200 | step 300 |" in tables
    assert "| random | 1e-3 | forward | 70.0 ± 0.0 | 70.0 / 70.0 | - | 60.0 ± 0.0 | - | 70.0 ± 0.0 |" in tables
    assert "reverse" not in tables  # only the swept strategies, and only the swept seeds of Table 1


def test_an_ablation_that_runs_its_own_default_gets_no_table_1_rows(project):
    for width, score in ((192, 0.70), (384, 0.72)):
        write_run(project, "width", f"width-{width}/random-forward-seed0", "random", "forward", 0, score,
                  table_name="width", student_width=width, steps=400)
    table1 = [{"table": "classification", "kind": "classification", "task": "synth-sentiment", "init": "random",
               "strategy": "forward", "seed": 0, "score": 0.75, "steps": 150, "metrics": {"dev": {"accuracy": 0.75}},
               "student_layers": {"encoder": 3}, "student_width": 384}]
    (project / "results" / "offline").mkdir(parents=True)
    (project / "results" / "offline" / "runs.json").write_text(json.dumps(table1))
    run_report("width")
    tables = (project / "results" / "width" / "tables.md").read_text()
    assert "| 384 | random | forward | 72.0 | 72.0 | - |" in tables and "75.0" not in tables  # 150 steps is not 400


def test_no_runs_is_one_clear_error(project):
    with pytest.raises(SystemExit, match="no finished runs under runs/offline; run: bash run_all.sh offline"):
        run_report("offline")


def write_paper_run(root, task, init, strategy, metrics, kind="classification", seed=0, table=None, name="paper"):
    """A run of a GPU table (`name`: paper or qwen3) as distill.py writes it: metrics per split, the
    score = the first split's first metric."""
    table = table or kind
    directory = root / "runs" / name / table / task / f"{init}-{strategy}-seed{seed}"
    directory.mkdir(parents=True)
    first = next(iter(metrics.values()))
    run = {"task": task, "kind": kind, "offline": False, "strategy": strategy, "init": init, "seed": seed,
           "score": next(iter(first.values())), "metrics": metrics, "steps": 1000, "wall_time_s": 1.0,
           "student_layers": {"encoder": 3}, "student_width": 768, "history": [{"step": 1000, "score": 0.5}],
           "teacher": {"dir": str(root / "runs" / name / "teachers" / task), "metrics": {}}, "settings": {}}
    (directory / "metrics.json").write_text(json.dumps(run))


def write_teacher(root, task, metrics, name="paper"):
    directory = root / "runs" / name / "teachers" / task
    directory.mkdir(parents=True)
    (directory / "metrics.json").write_text(json.dumps({"task": task, "role": "teacher", "metrics": metrics}))


def test_paper_cells_are_ours_paper_and_delta_with_mnli_and_qqp_columns(project):
    write_teacher(project, "mnli", {"dev-matched": {"accuracy": 0.843}, "dev-mismatched": {"accuracy": 0.846}})
    write_paper_run(project, "mnli", "copy", "forward",
                    {"dev-matched": {"accuracy": 0.801}, "dev-mismatched": {"accuracy": 0.785}})
    write_paper_run(project, "mnli", "copy", "random",  # the README has no copy-init random-matching row
                    {"dev-matched": {"accuracy": 0.790}, "dev-mismatched": {"accuracy": 0.780}})
    write_teacher(project, "qqp", {"dev": {"accuracy": 0.905, "f1": 0.874}})
    write_paper_run(project, "qqp", "random", "none", {"dev": {"accuracy": 0.820, "f1": 0.760}})
    run_report("paper")
    tables = (project / "results" / "paper" / "tables.md").read_text()
    assert ("| init | strategy | dev-matched accuracy: ours (paper, delta) | dev-mismatched accuracy: ours "
            "(paper, delta) | seeds |") in tables
    assert "| teacher | - | 84.3 (84.5, -0.2) | 84.6 (84.1, +0.5) | - |" in tables
    assert "| copy | forward | 80.1 (79.7, +0.4) | 78.5 (78.8, -0.3) | 1 |" in tables
    assert "| copy | random | 79.0 (-) | 78.0 (-) | 1 |" in tables
    assert "| init | strategy | dev accuracy: ours (paper, delta) | dev F1: ours (paper, delta) | seeds |" in tables
    assert "| teacher | - | 90.5 (89.0, +1.5) | 87.4 (71.4, +16.0) | - |" in tables
    assert "| random | none | 82.0 (81.5, +0.5) | 76.0 (56.4, +19.6) | 1 |" in tables
    assert "probably test-server scores" in tables and "(-): no published number" in tables


def test_generation_columns_name_split_and_metric_and_compare_like_with_like(project):
    # DART reports test and dev BLEU: the paper's test BLEU goes with ours; dev is ours only
    write_teacher(project, "dart", {"test": {"bleu": 48.0}, "dev": {"bleu": 50.0}})
    write_paper_run(project, "dart", "copy", "forward", {"test": {"bleu": 47.5}, "dev": {"bleu": 49.25}},
                    kind="generation")
    # WMT16 reporting only dev BLEU: compared with the paper's test BLEU, and the header says so
    write_teacher(project, "wmt16-en-ro", {"dev": {"bleu": 26.0}})
    write_paper_run(project, "wmt16-en-ro", "random", "reverse", {"dev": {"bleu": 17.0}}, kind="generation")
    run_report("paper")
    tables = (project / "results" / "paper" / "tables.md").read_text()
    assert "| init | strategy | test BLEU: ours (paper, delta) | dev BLEU | seeds |" in tables
    assert "| teacher | - | 48.00 (48.80, -0.80) | 50.00 | - |" in tables
    assert "| copy | forward | 47.50 (47.94, -0.44) | 49.25 | 1 |" in tables
    assert "| init | strategy | dev BLEU: ours (paper's test BLEU, delta) | seeds |" in tables
    assert "| random | reverse | 17.00 (17.15, -0.15) | 1 |" in tables
    assert "test-split BLEU" in tables and "(-): no published number" not in tables


def test_paper_numbers_are_the_readme_tables(project):
    """Spot checks against PAPER.md's two tables (row, column) so a shifted tuple cannot go unnoticed."""
    assert report.paper_number("mnli", "dev-mismatched", "accuracy", "teacher", "-") == 84.1
    assert report.paper_number("qqp", "dev", "f1", "random", "all-to-one") == 60.2
    assert report.paper_number("qnli", "dev", "accuracy", "copy", "none") == 81.2
    assert report.paper_number("sst2", "dev", "accuracy", "random", "random") == 82.9
    assert report.paper_number("dart", "test", "bleu", "random", "none") == 38.76
    assert report.paper_number("wmt16-en-ro", "test", "bleu", "copy", "all-to-one") == 21.89
    assert report.paper_number("mnli", "dev-matched", "accuracy", "copy", "random") is None
    assert report.paper_number("hellaswag", "test", "acc", "copy", "reverse") == 35.01
    assert report.paper_number("coqa", "test", "exact_match", "copy", "random") == 34.80
    assert report.paper_number("coqa", "test", "exact_match", "random", "forward") is None
    assert all(len(row) == len(report.PAPER_COLUMNS) for row in report.PAPER_RESULTS.values())


def test_qwen3_table_sets_the_papers_decoder_only_numbers_beside_ours(project):
    """HellaSwag acc and CoQA exact match (fractions in metrics.json) in points with two decimals, beside
    the v2 README's numbers; copy init only, random matching included (the one copy-init random row)."""
    for task, metric, teacher_score, scores in (("hellaswag", "acc", 0.6401, {"forward": 0.3700, "random": 0.3600}),
                                                ("coqa", "exact_match", 0.7500, {"none": 0.3300})):
        write_teacher(project, task, {"test": {metric: teacher_score}}, name="qwen3")
        for strategy, score in scores.items():
            write_paper_run(project, task, "copy", strategy, {"dev": {metric: score + 0.01}, "test": {metric: score}},
                            kind="language-modeling", name="qwen3")
    run_report("qwen3", "--no-readme")
    tables = (project / "results" / "qwen3" / "tables.md").read_text()
    assert "| init | strategy | test acc: ours (paper, delta) | dev acc | seeds |" in tables
    assert "| teacher | - | 64.01 (63.11, +0.90) | - | - |" in tables
    assert "| copy | forward | 37.00 (37.85, -0.85) | 38.00 | 1 |" in tables
    assert "| copy | random | 36.00 (35.47, +0.53) | 37.00 | 1 |" in tables
    assert "| copy | none | 33.00 (33.73, -0.73) | 34.00 | 1 |" in tables
    assert "lm-eval-harness on all of validation" in tables


def test_paper_ablation_names_the_split_and_the_projections(project):
    write_teacher(project, "mnli", {"dev-matched": {"accuracy": 0.84}, "dev-mismatched": {"accuracy": 0.84}})
    write_paper_run(project, "mnli", "random", "forward",
                    {"dev-matched": {"accuracy": 0.70}, "dev-mismatched": {"accuracy": 0.69}}, table="width")
    path = project / "runs" / "paper" / "width" / "mnli" / "random-forward-seed0" / "metrics.json"
    run = json.loads(path.read_text())
    run.update(student_width=384, settings={"projections": "fixed"})
    path.write_text(json.dumps(run))
    run_report("paper")
    tables = (project / "results" / "paper" / "tables.md").read_text()
    assert "### Table 4, student width (random init, fixed projections) (mnli, 1000 steps, seeds [0])" in tables
    assert "| width | init | strategy | dev-matched accuracy |" in tables
    assert "| 384 | random | forward | 70.0 |" in tables
    assert "the authors' README publishes no number for this ablation" in tables


def test_paper_angles_table_names_its_task(project):
    write_teacher(project, "mnli", {"dev-matched": {"accuracy": 0.84}, "dev-mismatched": {"accuracy": 0.84}})
    write_paper_run(project, "mnli", "copy", "forward",
                    {"dev-matched": {"accuracy": 0.80}, "dev-mismatched": {"accuracy": 0.79}})
    angles = project / "results" / "paper" / "angles" / "copy-forward"
    angles.mkdir(parents=True)
    (angles / "angles.json").write_text(json.dumps({
        "task": "mnli", "acute_share": 0.8, "mean_cosine": 0.25,
        "stacks": {"encoder": {"authors_single_pair": {"acute_share": 0.9}}}}))
    run_report("paper")
    tables = (project / "results" / "paper" / "tables.md").read_text()
    assert "### Angles: cos(t_i - s, t_k - s) over dev tokens (mnli)" in tables
    assert "| copy-forward | 80.0% | 0.250 | encoder 90.0% |" in tables


def test_language_modeling_table_is_perplexity_as_it_is(project):
    for strategy, (first, second) in {"none": (140.0, 150.0), "forward": (120.0, 126.0)}.items():
        for seed, score in enumerate((first, second)):
            write_run(project, "language-modeling", f"bible-lm/random-{strategy}-seed{seed}", "random", strategy,
                      seed, score, kind="language-modeling")
    run_report("offline", "--no-readme")
    tables = (project / "results" / "offline" / "tables.md").read_text()
    assert "### Decoder-only students: synth-sentiment" in tables
    assert "dev perplexity (lower is better) (best)" in tables
    assert "\n\nA score's ± is its standard deviation over seeds; 'minus forward, paired' is the mean ±" in tables
    assert "| random | forward | 123.0 ± 4.2 | 120.0 / 126.0 | - |" in tables  # not scaled by 100
    assert "| random | none | 145.0 ± 7.1 | 140.0 / 150.0 | 22.0 ± 2.8 |" in tables


def test_a_verdict_names_the_unit_without_the_metrics_direction():
    """'span 3.5 perplexity points', not 'span 3.5 perplexity (lower is better) points'."""
    score = {("none", 0): 140.0, ("forward", 0): 120.0, ("reverse", 0): 123.5}
    text = report.verdict("random", score, {"reverse": [3.5]}, "perplexity (lower is better)")
    assert text.startswith("random init: matching strategies span 3.5 perplexity points; no matching scores 140.0")


def test_readme_gets_the_claims_at_a_glance_and_the_tables_list_between_its_markers(project):
    (project / "README.md").write_text("intro\n<!-- claims:begin -->\nold\n<!-- claims:end -->\n"
                                       "<!-- tables:begin -->\n<!-- tables:end -->\ntail\n")
    for seed, shift in enumerate((0.0, 0.01, 0.02)):
        for strategy, score in (("none", 0.70), ("forward", 0.75), ("reverse", 0.745), ("all-to-one", 0.75),
                                ("random", 0.755)):
            write_run(project, "classification", f"synth-sentiment/copy-{strategy}-seed{seed}", "copy", strategy,
                      seed, score + shift + (0.001 * seed if strategy != "forward" else 0))
    run_report("offline")
    readme = (project / "README.md").read_text()
    assert "old" not in readme and readme.endswith("tail\n")
    helps = next(line for line in readme.splitlines() if line.startswith("| Matching intermediate layers helps"))
    assert "forward minus none: random init: MNLI-m +9.3" in helps  # the paper's numbers, from PAPER_RESULTS
    assert "[offline](results/offline/tables.md): synth-sentiment; 150 steps; 3 seeds" in helps
    assert "copy init: **agrees**, +4.9 ± 0.1 SE" in helps
    within = next(line for line in readme.splitlines() if "within 3 accuracy points" in line)
    assert "copy init: **agrees**, reverse -0.4 [-0.6, -0.2]" in within  # every interval inside +-3
    assert "| `offline` | Table 1, classification: rt-sentiment | 10 |" in readme  # the tables list


def test_readme_names_only_functions_that_exist():
    import importlib
    import re
    from pathlib import Path
    readme = (Path(__file__).parent / "README.md").read_text()
    named = re.findall(r"`(\w+)\.py:(\w+)`", readme)
    assert len(named) > 10
    for module, name in named:
        assert hasattr(importlib.import_module(module), name), f"README names {module}.py:{name}"


def test_claims_read_every_accuracy_in_points_whatever_the_task_kind():
    """A language model's accuracy (HellaSwag acc, token accuracy) is judged in points as a classifier's
    is, against margins in points; perplexity as it is."""
    rows = [{"kind": "language-modeling", "seed": 0, "score": 0.31, "metrics": {"dev": {"acc": 0.31, "acc_norm": 0.3}}},
            {"kind": "language-modeling", "seed": 1, "score": 0.42, "metrics": {"dev": {"token_accuracy": 0.42}}},
            {"kind": "language-modeling", "seed": 2, "score": 61.5, "metrics": {"dev": {"perplexity": 61.5}}}]
    assert report.per_seed({"kind": "language-modeling"}, rows) == {0: pytest.approx(31), 1: pytest.approx(42), 2: 61.5}
    assert [report.metric_name(r) for r in rows] == ["accuracy", "token accuracy", "perplexity (lower is better)"]


def test_the_copied_blocks_axis_and_the_ce_alone_baseline_stand_beside_the_main_grids_rows(project):
    """smollm2's second axis: each copied-block choice with and without matching, the main grid's
    evenly spaced copies as the 'forward' rows; and CE alone beside the main grid's no-matching rows."""
    for seed in (0, 1, 2):
        for strategy, perplexity in (("none", 30.0), ("forward", 28.0)):
            write_run(project, "language-modeling", f"bible-lm/copy-{strategy}-seed{seed}", "copy", strategy, seed,
                      perplexity + seed / 10, kind="language-modeling", table_name="smollm2")
            write_run(project, "copied-blocks", f"lower/copy-{strategy}-seed{seed}", "copy", strategy, seed,
                      perplexity + 5, kind="language-modeling", table_name="smollm2", copy_from="lower")
        write_run(project, "no-teacher", f"ce-alone/copy-none-seed{seed}", "copy", "none", seed, 33.0,
                  kind="language-modeling", table_name="smollm2", a_kl=0.0)
    run_report("smollm2")
    tables = (project / "results" / "smollm2" / "tables.md").read_text()
    assert "| copied blocks | init | strategy | dev perplexity (lower is better) | per seed (0, 1, 2) |" in tables
    assert "| forward | copy | forward | 28.1 ± 0.1 | 28.0 / 28.1 / 28.2 | - |" in tables  # the main grid's rows
    assert "| lower | copy | none | 35.0 ± 0.0 | 35.0 / 35.0 / 35.0 | 2.0 ± 0.0 |" in tables
    no_teacher = tables.split("### Without a teacher")[1].split("###")[0]
    assert "| loss | init | strategy | dev perplexity (lower is better) | per seed (0, 1, 2) |\n" in no_teacher
    assert "| CE + KL | copy | none | 30.1 ± 0.1 | 30.0 / 30.1 / 30.2 |\n" in no_teacher  # no forward: no paired column
    assert "| CE alone | copy | none | 33.0 ± 0.0 | 33.0 / 33.0 / 33.0 |\n" in no_teacher


def test_the_heading_names_each_inits_rate_and_normalisation_where_they_differ(project):
    """mpnet: both inits train 300 steps, at their own rates, random init on standardised hidden states."""
    for init, lr, norm in (("random", 2.5e-4, "layernorm"), ("copy", 1e-4, "none")):
        write_run(project, "classification", f"t/{init}-forward-seed0", init, "forward", 0, 0.7, lr=lr, hid_norm=norm)
    run_report("offline")
    tables = (project / "results" / "offline" / "tables.md").read_text()
    assert ("(random init 150 steps at lr 2.5e-4, hidden states normalised: layernorm; copy init 150 steps at lr "
            "1e-4, hidden states normalised: none;") in tables
