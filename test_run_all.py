"""run_all.sh --plan: every profile's distill.py command lines, checked against the authors' settings (PAPER.md)."""
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

import cli
import mapping

HERE = Path(__file__).parent
PROFILES = ("offline", "recipe", "pairs", "pairs-random", "generation", "generation-random", "ablations",
            "ablations-random", "width", "related", "crild", "quick", "mpnet", "paper")


def run_all(tmp_path, *argv, env=None):
    """bash run_all.sh ARGV on a copy of the script in an empty directory (so it can create nothing here)."""
    shutil.copy(HERE / "run_all.sh", tmp_path / "run_all.sh")
    return subprocess.run(["bash", "run_all.sh", *argv], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env=None if env is None else {**os.environ, **env})


def plan(tmp_path, profile, env=None):
    """The plan as one dict of flags per job (a flag given twice keeps its last value, as argparse does)."""
    result = run_all(tmp_path, profile, "--plan", env=env)
    assert result.returncode == 0, result.stderr
    jobs = []
    for line in result.stdout.splitlines():
        words = shlex.split(line)
        assert words[:2] == ["python", "distill.py"], line
        flags = {}
        for flag, value in zip(words[2::2], words[3::2]):
            assert flag.startswith("--"), line
            flags[flag[2:]] = value
        jobs.append(flags)
    return jobs


@pytest.fixture(scope="module")
def paper(tmp_path_factory):
    return plan(tmp_path_factory.mktemp("paper"), "paper")


def one(jobs, **where):
    """The jobs whose flags include every `where` item (underscores stand for dashes)."""
    where = {key.replace("_", "-"): value for key, value in where.items()}
    return [job for job in jobs if all(job.get(key) == value for key, value in where.items())]


@pytest.mark.parametrize("profile", PROFILES)
def test_plan_prints_every_job_and_creates_nothing(tmp_path, profile):
    jobs = plan(tmp_path, profile)
    assert jobs and all(job["out"].startswith(f"runs/{profile}/") for job in jobs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run_all.sh"]  # no .venv, runs/ or results/


@pytest.mark.parametrize("seeds", [None, "0 1"])
@pytest.mark.parametrize("profile", PROFILES)
def test_every_job_names_seeds_distill_accepts(tmp_path, profile, seeds):
    """A seed list is commas (0,1,2); a shell word like '0 1' would fail only when the job starts.
    SEEDS (space-separated, as README and run_all.sh document it) must give commas too."""
    for job in plan(tmp_path, profile, env=None if seeds is None else {"SEEDS": seeds}):
        assert re.fullmatch(r"\d+(,\d+)*", job.get("seed", "0")), job


@pytest.mark.parametrize("profile", PROFILES)
def test_no_job_trains_one_configuration_under_two_names(tmp_path, profile):
    """Two strategies with the same layer pairs are one configuration: at one student layer, reverse is forward.
    ('random' is a seeded draw that may equal another list; the report says so where it does.)"""
    teacher_layers = 12 if profile in ("paper", "mpnet") else 6  # bert/bart-large/t5-base and MPNet; MiniLM
    for job in plan(tmp_path, profile):
        student_layers = int(job.get("student-layers", 3))
        strategies = [s for s in job.get("strategy", "forward").split(",") if s not in ("none", "random")]
        pairs = [tuple(mapping.match(s, teacher_layers, student_layers)) for s in strategies]
        assert len(set(pairs)) == len(pairs), job


@pytest.mark.parametrize("profile", PROFILES + ("lm",))
def test_every_run_of_a_plan_has_its_own_directory(tmp_path, profile):
    """distill.py writes a single run to --out itself and several to --out/INIT-STRATEGY-seedN (cli.run_names):
    two jobs whose runs land in one directory would end the profile half-way ("holds the finished run")."""
    result = run_all(tmp_path, profile, "--plan")
    assert result.returncode == 0, result.stderr
    directories = [str(out) for line in result.stdout.splitlines()
                   for *_, out in cli.run_names(cli.parse_args(shlex.split(line)[2:]))]
    assert len(directories) == len(set(directories)), [d for d in directories if directories.count(d) > 1][:3]


def test_plan_gives_the_estimate_on_stderr_counting_a_teacher_not_yet_fine_tuned_once(tmp_path):
    # crild: jobs of 830 + 1065 + 1065 s, all on the rt-sentiment teacher: 400 steps of 0.7 s, counted once
    assert run_all(tmp_path, "crild", "--plan").stderr == "# 3 jobs, estimated 54 minutes on 2 CPU cores\n"
    teacher = tmp_path / "runs" / "teachers" / "rt-sentiment"
    teacher.mkdir(parents=True)
    (teacher / "metrics.json").write_text("{}")
    assert run_all(tmp_path, "crild", "--plan").stderr == "# 3 jobs, estimated 49 minutes on 2 CPU cores\n"


def test_a_call_over_the_hour_says_how_to_split_it(tmp_path):
    def advice(profile, seeds=None):
        stderr = run_all(tmp_path, profile, "--plan", env=None if seeds is None else {"SEEDS": seeds}).stderr
        return stderr.splitlines()[1:]  # after the estimate line
    assert "SEEDS=N bash run_all.sh generation-random for each N of: 0 1 2" in advice("generation-random")[0]
    assert advice("pairs-random", "0") == [] and advice("offline") == []  # each under the hour
    first_seed = " ".join(advice("generation-random", "0"))  # 50 min of students after a 38 min teacher
    assert "first fine-tunes the teacher in runs/teachers/kjv-bbe" in first_seed
    assert "SEEDS=0 bash run_all.sh generation" in first_seed
    teacher = tmp_path / "runs" / "teachers" / "kjv-bbe"
    teacher.mkdir(parents=True)
    (teacher / "metrics.json").write_text("{}")
    assert advice("generation-random", "0") == []


def test_plan_may_come_first_and_defaults_to_offline(tmp_path):
    result = run_all(tmp_path, "--plan")
    assert result.returncode == 0 and result.stdout.startswith("python distill.py --out runs/offline/")


@pytest.mark.parametrize("argv, message", [(["bogus"], "unknown profile 'bogus'"),
                                           (["paper", "--bogus"], "unknown option '--bogus'"),
                                           (["paper", "quick", "--plan"], "two profiles"),
                                           (["test", "--plan"], "the test profile has none")])
def test_bad_arguments_are_one_line_on_stderr_and_exit_2(tmp_path, argv, message):
    result = run_all(tmp_path, *argv)
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and message in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run_all.sh"]


def test_every_paper_job_trains_in_fp32_with_an_explicit_optimizer(paper):
    assert len(paper) == 24
    for job in paper:
        assert job["bf16"] == "no" and job["optimizer"] in ("adamw", "adafactor") and job["seed"] == "0"
        assert "warmup-steps" in job and "teacher-warmup-steps" in job and "teacher-dir" in job


def test_a_teacher_directory_always_gets_the_same_teacher_settings(paper):
    """The first job of a task fine-tunes its teacher; later jobs reuse it whatever they say, so they must agree."""
    settings = {}
    for job in paper:
        teacher = {k: v for k, v in job.items() if k.startswith("teacher-") or k in ("task", "max-length")}
        assert settings.setdefault(job["teacher-dir"], teacher) == teacher


def test_glue_jobs(paper):
    glue = [job for job in paper if job["out"].startswith("runs/paper/classification/")]
    assert {job["task"] for job in glue} == {"mnli", "qqp", "qnli", "sst2"}
    for job in glue:
        assert job["student-layers"] == "3" and job["batch-size"] == "32" and job["max-length"] == "128"
        assert job["optimizer"] == "adamw" and job["warmup-steps"] == "0" and job["freeze-embeddings"] == "no"
        assert job["teacher-base"] == "bert-base-uncased" and job["teacher-epochs"] == "3"
        assert job["teacher-batch-size"] == "32" and job["teacher-optimizer"] == "adamw"
        assert job["teacher-lr"] == {"mnli": "2e-5", "qqp": "2e-5", "qnli": "5e-5", "sst2": "5e-5"}[job["task"]]
        assert job["epochs"] == ("20" if job["task"] == "sst2" else "10")
    # every (task, init, strategy) cell is trained exactly once, with the authors' lr and evaluation interval
    cells = {}
    for job in glue:
        for strategy in job["strategy"].split(","):
            key = (job["task"], job["init"], strategy)
            assert key not in cells
            cells[key] = (job["lr"], job["eval-every"])
    assert len(cells) == 4 * 2 * 5
    for (task, init, strategy), (lr, eval_every) in cells.items():
        fast = task != "mnli" and strategy in ("none", "forward", "reverse")  # classification/scripts/*/<task>.sh
        assert lr == ("2e-5" if fast else "1e-5"), (task, strategy)
        frequent = fast and not (task == "qqp" and strategy == "reverse")  # reverse/qqp.sh: --eval_steps=1000
        assert eval_every == ("500" if frequent else "1000"), (task, strategy)


def test_dart_jobs(paper):
    dart = one(paper, task="dart")
    assert sorted(job["init"] for job in dart) == ["copy", "random"]
    for job in dart:
        assert job["strategy"] == "none,forward,reverse,all-to-one,random" and job["student-layers"] == "3"
        assert (job["optimizer"], job["lr"], job["batch-size"], job["epochs"], job["warmup-steps"]) == \
            ("adamw", "1e-4", "8", "18", "100")
        assert (job["max-source-length"], job["max-target-length"]) == ("128", "128")
        assert (job["eval-every-epochs"], job["num-beams"], job["temperature"]) == ("0.3", "5", "1")
        assert job["hid-norm"] == "none" and job["freeze-embeddings"] == "yes"
        assert (job["teacher-base"], job["teacher-lr"], job["teacher-epochs"], job["teacher-batch-size"],
                job["teacher-warmup-steps"], job["teacher-eval-every-epochs"]) == \
            ("facebook/bart-large", "1e-5", "16", "16", "100", "0.5")


def test_wmt16_jobs(paper):
    wmt = one(paper, task="wmt16-en-ro")
    assert sorted(job["init"] for job in wmt) == ["copy", "random"]
    for job in wmt:
        assert (job["optimizer"], job["lr"], job["warmup-steps"], job["batch-size"], job["epochs"]) == \
            ("adafactor", "1e-4", "500", "8", "40")
        assert job["source-prefix"] == "translate English to Romanian: "  # one word, trailing space kept
        assert (job["max-source-length"], job["max-target-length"]) == ("300", "300")
        assert (job["temperature"], job["num-beams"], job["eval-every-epochs"]) == ("2", "4", "0.3")
        assert job["hid-norm"] == "layernorm" and job["copy-from"] == "1,7,12" and job["freeze-embeddings"] == "yes"
        assert (job["teacher-base"], job["teacher-optimizer"], job["teacher-lr"], job["teacher-epochs"],
                job["teacher-batch-size"], job["teacher-warmup-steps"], job["teacher-eval-every-epochs"]) == \
            ("t5-base", "adafactor", "5e-4", "9", "8", "500", "0.5")


def test_ablations_use_mnli_settings_and_fixed_projections(paper):
    depth = [job for job in paper if job["out"].startswith("runs/paper/depth/")]
    width = [job for job in paper if job["out"].startswith("runs/paper/width/")]
    assert sorted(job["student-layers"] for job in depth) == ["6", "9"]
    assert sorted(job["student-width"] for job in width) == ["384", "576"]
    for job in depth + width:
        assert (job["task"], job["lr"], job["eval-every"], job["epochs"]) == ("mnli", "1e-5", "1000", "10")
        assert job["teacher-dir"] == "runs/paper/teachers/mnli"
    assert all(job["projections"] == "fixed" and job["init"] == "random" for job in width)


def evaluated_steps(job):
    """The steps a planned job's students evaluate at, as distill.schedule plans them (rows enough that
    --max-steps, not an epoch, ends the run)."""
    import distill
    settings = cli.parse_args([word for flag, value in job.items() for word in (f"--{flag}", value)])
    return distill.schedule(settings, 10 ** 6, "student")["eval_steps"]


def test_offline_plan_is_the_offline_grid(tmp_path):
    """Table 1 on rt-sentiment: every strategy, one job per init and seed, the same settings but the lr."""
    jobs = plan(tmp_path, "offline")
    assert len(jobs) == 6
    assert sorted((job["init"], job["seed"]) for job in jobs) == [(i, s) for i in ("copy", "random") for s in "012"]
    assert all(job["strategy"] == "none,forward,reverse,all-to-one,random" for job in jobs)
    per_init = ("init", "lr", "seed", "max-steps", "eval-every", "eval-steps")  # each init's lr and schedule
    shared = [{k: v for k, v in job.items() if k not in per_init} for job in jobs]
    assert all(flags == shared[0] for flags in shared)  # no per-strategy (or per-seed) tuning
    schedules = {(job["init"], job["lr"], job["max-steps"], job["eval-every"], job.get("eval-steps")) for job in jobs}
    # evaluated at steps 100, 150, 200 (copy) and 100, 200, 300 (random): none before step 100
    assert schedules == {("copy", "1e-4", "200", "100", "150"), ("random", "5e-4", "300", "100", None)}
    assert shared[0]["teacher-dir"] == "runs/teachers/rt-sentiment" and shared[0]["student-layers"] == "3"
    assert all("bf16" not in job for job in jobs)  # the offline profile keeps distill.py's defaults


def test_the_verse_pair_table_is_one_grid_over_two_profiles(tmp_path):
    """pairs (copy init) and pairs-random (random init, longer) share the teacher, the task, the dev cut
    and every student setting but the init's steps, lr and evaluation interval."""
    copy, random = plan(tmp_path, "pairs"), plan(tmp_path, "pairs-random")
    assert [job["init"] for job in copy] == ["copy"] * 3 and [job["init"] for job in random] == ["random"] * 3
    assert [job["seed"] for job in copy + random] == list("012012")
    per_init = ("init", "lr", "seed", "out", "max-steps", "eval-every")
    shared = [{k: v for k, v in job.items() if k not in per_init} for job in copy + random]
    assert all(flags == shared[0] for flags in shared)
    assert shared[0]["n-dev"] == "900" and shared[0]["strategy"] == "none,forward,reverse,all-to-one,random"
    assert (random[0]["max-steps"], random[0]["lr"]) == ("600", "3e-4")
    # over the hour as a whole, so README runs it one seed per call: the same job as in the full plan
    assert plan(tmp_path, "pairs-random", env={"SEEDS": "1"}) == [random[1]]


def test_table_2_is_one_grid_over_two_profiles(tmp_path):
    """generation (copy init) and generation-random share the teacher (and its fine-tuning flags), the
    task, the dev cut and every student setting but the init's steps, lr, warm-up, embeddings,
    evaluation interval and encoder hold (random init only: distill.hold_encoder)."""
    copy, random = plan(tmp_path, "generation"), plan(tmp_path, "generation-random")
    assert [job["init"] for job in copy] == ["copy"] * 3 and [job["init"] for job in random] == ["random"] * 3
    assert [job["seed"] for job in copy + random] == list("012012")
    per_init = ("init", "lr", "seed", "out", "max-steps", "eval-every", "warmup-steps", "freeze-embeddings",
                "hold-encoder-steps")
    assert [job.get("hold-encoder-steps") for job in copy + random] == [None] * 3 + ["200"] * 3
    shared = [{k: v for k, v in job.items() if k not in per_init} for job in copy + random]
    assert all(flags == shared[0] for flags in shared)
    assert shared[0]["teacher-dir"] == "runs/teachers/kjv-bbe" and shared[0]["student-layers"] == "3"
    assert shared[0]["strategy"] == "none,forward,reverse,all-to-one,random"
    assert plan(tmp_path, "generation-random", env={"SEEDS": "1"}) == [random[1]]


def test_the_depth_table_is_one_grid_over_two_profiles_at_table_1s_recipes(tmp_path):
    """ablations (copy init) and ablations-random train depths 1, 2 and 4 with Table 1's settings
    for each init, so the 3-layer rows the report borrows from Table 1 are the same recipe; they
    evaluate at every step Table 1 evaluates at, and also earlier (steps 25 and 50)."""
    copy, random, table1 = plan(tmp_path, "ablations"), plan(tmp_path, "ablations-random"), plan(tmp_path, "offline")
    per_init = ("init", "lr", "max-steps", "warmup-steps")
    for half in (copy, random):
        assert [job["student-layers"] for job in half] == list("124124") and [job["seed"] for job in half] == list("000111")
        assert [job["strategy"].split(",")[2] for job in half] == ["all-to-one", "reverse", "reverse"] * 2
        settings = {tuple(job[k] for k in per_init) for job in half}
        table1_half = [job for job in table1 if job["init"] == half[0]["init"]]
        assert settings == {tuple(job[k] for k in per_init) for job in table1_half}
        assert evaluated_steps(table1_half[0]) < evaluated_steps(half[0])
    assert {job["init"] for job in copy} == {"copy"} and {job["init"] for job in random} == {"random"}


def test_all_plans_every_offline_profile_in_turn(tmp_path):
    result = run_all(tmp_path, "all", "--plan")
    assert result.returncode == 0, result.stderr
    outs = {shlex.split(line)[3].split("/")[1] for line in result.stdout.splitlines()}
    assert outs == {"offline", "recipe", "pairs", "pairs-random", "generation", "generation-random", "ablations",
                    "ablations-random", "width", "related", "crild", "lm"}
