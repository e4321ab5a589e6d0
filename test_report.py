"""report.py: tables, verdicts and README section from metrics.json files as distill.py writes them."""
import json
import sys

import pytest

import report


def write_run(root, table, name, init, strategy, seed, score, kind="classification", **extra):
    directory = root / "runs" / "offline" / table / name
    directory.mkdir(parents=True)
    teacher_dir = root / "runs" / "offline" / "teachers" / "t"
    metrics = {"task": "synth-sentiment", "kind": kind, "offline": True, "strategy": strategy, "init": init,
               "seed": seed, "score": score, "metrics": {"dev": {"accuracy": score}}, "steps": 150,
               "wall_time_s": 1.0, "student_layers": {"encoder": 2}, "student_width": 384,
               "history": [{"step": 50, "score": score / 2}, {"step": 150, "score": score}],
               "teacher": {"dir": str(teacher_dir), "metrics": {"dev": {"accuracy": 0.99}}},
               "settings": extra}
    (directory / "metrics.json").write_text(json.dumps(metrics))


@pytest.fixture()
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "README.md").write_text("intro\n<!-- results:begin -->\nold\n<!-- results:end -->\ntail\n")
    return tmp_path


def run_report(*argv):
    sys.argv = ["report.py", *argv]
    report.main()


def test_grid_table_means_stds_and_verdicts(project):
    scores = {"none": (0.60, 0.62), "forward": (0.80, 0.82), "reverse": (0.79, 0.81),
              "all-to-one": (0.78, 0.80), "random": (0.81, 0.83)}
    for strategy, (first, second) in scores.items():
        for seed, score in enumerate((first, second)):
            write_run(project, "classification", f"synth-sentiment/random-{strategy}-seed{seed}", "random",
                      strategy, seed, score)
    run_report()
    tables = (project / "results" / "offline" / "tables.md").read_text()
    assert "| teacher | - | 99.0 | - | - |" in tables
    assert "| random | forward | 81.0 ± 1.4 | 40.5 ± 0.7 | 2 |" in tables  # (80, 82): mean 81, std 1.41
    # matching strategies span 82.0 - 79.0 = 3.0 points; seed std is 1.4 everywhere: 3.0 > 2 x 1.4
    assert "random init: matching strategies span 3.0 accuracy points" in tables
    assert "no matching scores 61.0 vs 79.0-82.0" in tables
    assert "exceeds twice the seed noise" in tables
    rows = (project / "results" / "offline" / "runs.csv").read_text().splitlines()
    assert len(rows) == 11 and rows[0].startswith("table,task,init,strategy,seed,score")
    assert len(json.loads((project / "results" / "offline" / "runs.json").read_text())) == 10
    readme = (project / "README.md").read_text()
    assert readme.startswith("intro\n<!-- results:begin -->\nProfile `offline`") and readme.endswith("tail\n")
    assert "old" not in readme


def test_related_claims_are_judged_from_the_numbers(project):
    for objective, lower, upper in (("kd-only", 0.70, 0.60), ("hidden", 0.75, 0.65), ("attention", 0.80, 0.79)):
        for copy_from, score in (("lower", lower), ("upper", upper)):
            write_run(project, "related", f"objective-{objective}-{copy_from}", "copy", "forward", 0, score,
                      objective=objective, copy_from=copy_from)
    run_report("--no-readme")
    tables = (project / "results" / "offline" / "tables.md").read_text()
    assert "mean of lower/upper: attention 79.5 vs best other 70.0: agrees" in tables
    assert "lower wins for kd-only, hidden: agrees" in tables
    assert "gap 1.0 (attention) vs 10.0 (kd-only), 10.0 (hidden): agrees" in tables
    assert "old" in (project / "README.md").read_text()  # --no-readme leaves it alone


def test_crild_claims_call_a_tie_a_tie(project):
    scores = {"clean": (0.70, 0.75), "mixup": (0.70, 0.75), "mixup-consistency": (0.70, 0.72)}
    for inputs, (forward, last) in scores.items():
        for strategy, score in (("forward", forward), ("last", last)):
            write_run(project, "related", f"crild-{inputs}/copy-{strategy}-seed0", "copy", strategy, 0, score,
                      copy_from="lower")
    run_report("--no-readme")
    tables = (project / "results" / "offline" / "tables.md").read_text()
    assert "last 75.0 vs all 70.0 on clean inputs: agrees" in tables
    assert "help last-layer matching -> 75.0 vs 75.0: tie" in tables
    assert "helps further -> 72.0 vs 75.0: disagrees" in tables


def test_no_runs_is_one_clear_error(project):
    with pytest.raises(SystemExit, match="no finished runs under runs/offline; run: bash run_all.sh offline"):
        run_report()
