"""experiments.py: every table's distill.py jobs, checked against the authors' settings (PAPER.md), and
run_all.sh's arguments."""
import shutil
import subprocess
from pathlib import Path

import pytest
import transformers

import cli
import distill
import experiments
import mapping

HERE = Path(__file__).parent
TABLES = tuple(experiments.TABLES)


def plan(table, seeds=None, init=None, strategies=None):
    """A table's jobs as one dict of flags each (a flag given twice keeps its last value, as argparse does)."""
    jobs = []
    for job in experiments.jobs(experiments.TABLES[table], seeds, init, strategies):
        flags = {}
        for flag, value in zip(job.argv[::2], job.argv[1::2]):
            assert flag.startswith("--"), job.argv
            flags[flag[2:]] = value
        jobs.append(flags)
    return jobs


def run_all(tmp_path, *argv):
    """bash run_all.sh ARGV on a copy of the scripts in an empty directory (so it can create nothing here)."""
    for name in ("run_all.sh", "experiments.py"):
        shutil.copy(HERE / name, tmp_path / name)
    return subprocess.run(["bash", "run_all.sh", *argv], cwd=tmp_path, capture_output=True, text=True, timeout=60)


def one(jobs, **where):
    """The jobs whose flags include every `where` item (underscores stand for dashes)."""
    where = {key.replace("_", "-"): value for key, value in where.items()}
    return [job for job in jobs if all(job.get(key) == value for key, value in where.items())]


@pytest.mark.parametrize("table", TABLES)
def test_every_job_is_one_distill_py_command_line_distill_accepts(table):
    for job in experiments.jobs(experiments.TABLES[table]):
        assert job.out.startswith(f"runs/{table}/") and job.seconds > 0
        settings = cli.parse_args(job.argv)  # argparse exits on a flag distill.py does not know
        assert settings.seed and settings.strategy


@pytest.mark.parametrize("table", TABLES)
def test_no_job_trains_one_configuration_under_two_names(table):
    """Two strategies with the same layer pairs are one configuration: at one student layer, reverse is forward.
    ('random' is a seeded draw that may equal another list; the report says so where it does.)"""
    teacher_layers = 12 if table in ("paper", "mpnet") else 36 if table == "qwen3" else 6
    for job in plan(table):
        student_layers = int(job.get("student-layers", 3))
        strategies = [s for s in job.get("strategy", "forward").split(",") if s not in ("none", "random", "last")]
        pairs = [tuple(mapping.match(s, teacher_layers, student_layers)) for s in strategies]
        assert len(set(pairs)) == len(pairs), job


@pytest.mark.parametrize("table", TABLES)
def test_every_run_of_a_table_has_its_own_directory(table):
    """distill.py writes a single run to --out itself and several to --out/INIT-STRATEGY-seedN (cli.run_names):
    two jobs whose runs land in one directory would end the table half-way ("holds the finished run")."""
    directories = [str(out) for job in experiments.jobs(experiments.TABLES[table])
                   for *_, out in cli.run_names(cli.parse_args(job.argv))]
    assert len(directories) == len(set(directories)), [d for d in directories if directories.count(d) > 1][:3]


def test_a_part_of_a_table_is_the_same_jobs_as_in_the_whole():
    whole = plan("pairs")
    assert plan("pairs", init="random", seeds=[1]) == [job for job in whole if (job["init"], job["seed"]) == ("random", "1")]
    # one strategy's students: the same flags but --strategy; a single student gets its run's own directory
    (one,) = plan("pairs", init="random", seeds=[1], strategies=["random"])
    assert one["out"] == "runs/pairs/classification/bible-paraphrase/random-random-seed1" and one["strategy"] == "random"
    assert {k: v for k, v in one.items() if k not in ("out", "strategy")} == \
        {k: v for k, v in plan("pairs", init="random", seeds=[1])[0].items() if k not in ("out", "strategy")}
    assert [job["seed"] for job in plan("related", seeds=[0, 2])] == ["0,2"] * 6  # seeds in lockstep
    assert [job["init"] for job in plan("lm", init="random")] == ["random"] * 3  # copy,random narrowed


def test_the_estimate_counts_a_teacher_not_yet_fine_tuned_once(monkeypatch):
    crild = experiments.jobs(experiments.TABLES["crild"])  # 830 + 1065 + 1065 s on the rt-sentiment teacher
    monkeypatch.setattr(experiments, "teacher_ready", lambda argv: False)
    assert experiments.estimate(crild) == 2960 + 400 * 700 // 1000
    monkeypatch.setattr(experiments, "teacher_ready", lambda argv: True)
    assert experiments.estimate(crild) == 2960
    # a job that trains both inits (lm: 740 s a seed) costs half as much for one of them
    assert experiments.estimate(experiments.jobs(experiments.TABLES["lm"], [0], "copy")) == 370


def test_a_call_over_the_hour_says_how_to_split_it_in_calls_under_the_hour(monkeypatch):
    monkeypatch.setattr(experiments, "teacher_ready", lambda argv: False)
    monkeypatch.setattr(experiments, "finished", lambda directory: False)  # as on a fresh clone
    advice = experiments.how_to_split(experiments.TABLES["generation"])
    # a seed of both inits is over the hour: one init of a seed per call; the first fine-tunes the kjv-bbe
    # teacher (2000 steps of 1.128 s) before its copy-init students: 55 min
    assert "--seeds 0 --init copy (55 min), --seeds 0 --init random (50 min)" in advice
    assert "bash run_all.sh generation --seeds 0 --init copy" in advice
    # Table 1's seeds fit the hour: whole seeds packed into calls (the first with the teacher)
    assert "--seeds 0,1,2 (" in experiments.how_to_split(experiments.TABLES["offline"])
    assert experiments.how_to_split(experiments.TABLES["offline"], seeds=[0, 1]) is None  # under the hour
    assert experiments.how_to_split(experiments.TABLES["paper"]) is None  # GPU time: no split


def test_a_seed_of_one_init_over_the_hour_is_split_by_grid_then_by_strategy(monkeypatch):
    """SmolLM2: a seed of copy init (five students, two grids of copied blocks) and the teacher's 24
    minutes are hours of work: one grid per call, the first one's strategies in parts that each fit
    the hour with the teacher in the first; the two copied-blocks grids packed while they fit."""
    monkeypatch.setattr(experiments, "teacher_ready", lambda argv: False)
    monkeypatch.setattr(experiments, "finished", lambda directory: False)
    advice = experiments.how_to_split(experiments.TABLES["smollm2"], seeds=[0])
    calls = [(part.split(" (")[0], int(part.split(" (")[1].split(" min")[0]))
             for part in advice.split("in this order: ")[1].split("; next:")[0].split(", --")]
    flags = [f if f.startswith("--") else "--" + f for f, _ in calls]
    assert all(minutes <= 60 for _, minutes in calls)
    main = [f for f in flags if "--init copy --grids language-modeling/bible-lm --strategies" in f]
    assert len(main) == 2 and sorted(",".join(f.split("--strategies ")[1] for f in main).split(",")) == \
        sorted(experiments.ALL.split(","))
    assert "--seeds 0 --grids no-teacher/ce-alone" in flags  # both inits in one job: no --init
    assert flags[0] == main[0] and advice.endswith(f"bash run_all.sh smollm2 {main[0]}")
    # every call of the advice, run in turn, trains exactly the seed's jobs
    parsed = [experiments.parse_args(["smollm2", *f.split()]) for f in flags]
    students = sorted((flag, s) for a in parsed for job in experiments.jobs(
        experiments.TABLES["smollm2"], a.seeds, a.init, a.strategies, a.grids)
        for flag in [job.out + " " + experiments.flag(job.argv, "--init")]
        for s in experiments.flag(job.argv, "--strategy").split(","))
    assert students == sorted((job.out + " " + experiments.flag(job.argv, "--init"), s)
                              for job in experiments.jobs(experiments.TABLES["smollm2"], [0])
                              for s in experiments.flag(job.argv, "--strategy").split(","))


def test_the_advice_marks_finished_calls_and_the_estimate_counts_what_is_left(monkeypatch):
    """A table of many calls spans sessions: the advice says which calls are done and which is next,
    and the summary what is left (a job's students each its share of the job's seconds)."""
    monkeypatch.setattr(experiments, "teacher_ready", lambda argv: True)
    t = experiments.TABLES["smollm2"]
    done = {f"runs/smollm2/language-modeling/bible-lm/copy-{s}-seed0" for s in ("none", "forward")}
    monkeypatch.setattr(experiments, "finished", lambda directory: directory in done)
    advice = experiments.how_to_split(t, seeds=[0])
    assert "--strategies none,forward (done), --seeds 0 --init copy --grids language-modeling/bible-lm " \
           "--strategies reverse,all-to-one,random (37 min)" in advice
    assert advice.endswith("next: bash run_all.sh smollm2 --seeds 0 --init copy --grids "
                           "language-modeling/bible-lm --strategies reverse,all-to-one,random")
    seed0 = experiments.jobs(t, [0])
    main = next(job for job in seed0 if "copy" == experiments.flag(job.argv, "--init") and "bible-lm" in job.out)
    assert experiments.estimate(seed0, left=True) == experiments.estimate(seed0) - main.seconds * 2 // 5
    assert "left" in experiments.summary(t, seed0, [0], None, None, None)
    done |= {run for job in seed0 for run in experiments.students(job)}
    assert experiments.how_to_split(t, seeds=[0]).endswith("; every call done")
    assert experiments.estimate(seed0, left=True) == 0


def test_plan_creates_nothing_and_defaults_to_offline(tmp_path):
    result = run_all(tmp_path, "--plan")
    assert result.returncode == 0 and result.stdout.startswith("python distill.py --out runs/offline/")
    assert "# offline: 10 jobs" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["experiments.py", "run_all.sh"]  # no .venv, runs/, results/


@pytest.mark.parametrize("argv, message", [(["bogus"], "invalid choice: 'bogus'"),
                                           (["paper", "--bogus"], "unrecognized arguments: --bogus"),
                                           (["offline", "--seeds", "7"], "table offline has seeds [0, 1, 2, 3, 4], not [7]"),
                                           (["offline", "--seeds", "a"], "give comma-separated integers"),
                                           (["smollm2", "--grids", "bogus"], "not bogus; choose among them"),
                                           (["test", "--plan"], "the tests have none")])
def test_bad_arguments_are_refused_before_the_set_up_and_exit_2(tmp_path, argv, message):
    result = run_all(tmp_path, *argv)
    assert result.returncode != 0 and result.stdout == "" and message in result.stderr.splitlines()[-1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["experiments.py", "run_all.sh"]


def test_all_is_every_table_sized_for_2_cpu_cores():
    assert set(experiments.OFFLINE) == {name for name, t in experiments.TABLES.items() if not t.gpu} - {"quick"}


def test_a_claim_of_a_table_with_several_grids_says_which_grid_it_judges():
    """Unnarrowed, a selector such as {init: copy, strategy: forward} averages a seed's runs over every
    grid (smollm2's copied-blocks students joined its strategy claims before this test)."""
    for t in experiments.TABLES.values():
        outs = {grid.out.split("/{")[0] for grid in t.grids}
        if len(outs) < 2:
            continue
        for claim in t.claims:
            selectors = (claim.a if isinstance(claim.a, list) else [claim.a]) + [claim.b]
            for selector in [part for s in selectors for part in s.get("gap", [s])]:
                assert "out" in selector or "task" in selector, (t.name, claim.label, selector)


def test_every_claim_names_runs_its_table_trains():
    """A claim's selectors match planned students (an 'out' names one of the table's grids)."""
    for t in experiments.TABLES.values():
        outs = {grid.out for grid in t.grids}
        for claim in t.claims:
            for selector in (claim.a if isinstance(claim.a, list) else [claim.a]) + [claim.b]:
                for part in selector.get("gap", [selector]):
                    named = part.get("out", [])
                    assert set([named] if isinstance(named, str) else named) <= outs, (t.name, claim.text)


# ------------------------------------------------------------------ the offline tables
def evaluated_steps(job):
    """The steps a planned job's students evaluate at, as cli.schedule plans them (rows enough that
    --max-steps, not an epoch, ends the run)."""
    settings = cli.parse_args([word for flag, value in job.items() for word in (f"--{flag}", value)])
    return cli.schedule(settings, 10 ** 6, "student")["eval_steps"]


def test_table_1_is_the_offline_grid():
    """Table 1 on rt-sentiment: every strategy, one job per init and seed, the same settings but the lr."""
    jobs = plan("offline")
    assert len(jobs) == 10
    assert sorted((job["init"], job["seed"]) for job in jobs) == [(i, s) for i in ("copy", "random") for s in "01234"]
    assert all(job["strategy"] == "none,forward,reverse,all-to-one,random" for job in jobs)
    per_init = ("init", "lr", "seed", "max-steps", "eval-every", "eval-steps")  # each init's lr and schedule
    shared = [{k: v for k, v in job.items() if k not in per_init} for job in jobs]
    assert all(flags == shared[0] for flags in shared)  # no per-strategy (or per-seed) tuning
    schedules = {(job["init"], job["lr"], job["max-steps"], job["eval-every"], job.get("eval-steps")) for job in jobs}
    # evaluated at steps 100, 150, 200 (copy) and 100, 200, 300 (random): none before step 100
    assert schedules == {("copy", "1e-4", "200", "100", "150"), ("random", "5e-4", "300", "100", None)}
    assert shared[0]["teacher-dir"] == "runs/teachers/rt-sentiment" and shared[0]["student-layers"] == "3"
    assert all("bf16" not in job for job in jobs)  # the offline tables keep distill.py's defaults


def test_the_verse_pair_table_shares_every_setting_but_each_inits_schedule():
    jobs = plan("pairs")
    assert sorted((job["init"], job["seed"]) for job in jobs) == [(i, s) for i in ("copy", "random") for s in "012"]
    per_init = ("init", "lr", "seed", "max-steps", "eval-every")
    shared = [{k: v for k, v in job.items() if k not in per_init} for job in jobs]
    assert all(flags == shared[0] for flags in shared)
    assert shared[0]["n-dev"] == "900" and shared[0]["strategy"] == "none,forward,reverse,all-to-one,random"
    assert {(job["max-steps"], job["lr"]) for job in one(jobs, init="random")} == {("600", "3e-4")}


def test_table_2_shares_the_teacher_and_holds_the_random_init_encoder():
    """Copy and random init share the teacher (and its fine-tuning flags), the task, the dev cut and every
    student setting but the init's steps, lr, embeddings, evaluation interval and encoder hold."""
    jobs = plan("generation")
    per_init = ("init", "lr", "seed", "max-steps", "eval-every", "freeze-embeddings", "hold-encoder-steps")
    assert {job.get("hold-encoder-steps") for job in one(jobs, init="copy")} == {None}
    assert {job.get("hold-encoder-steps") for job in one(jobs, init="random")} == {"200"}
    shared = [{k: v for k, v in job.items() if k not in per_init} for job in jobs]
    assert all(flags == shared[0] for flags in shared)
    assert shared[0]["teacher-dir"] == "runs/teachers/kjv-bbe" and shared[0]["student-layers"] == "3"


def test_the_depth_table_trains_at_the_sweeps_recipes_evaluating_where_table_1_does_and_earlier():
    """Depths 1, 2 and 4 with the lr and steps of Table 1 for each init, so that the 3-layer rows the report
    borrows from Table 1 are the same recipe; they evaluate at every step Table 1 evaluates at, and earlier."""
    depth, table1 = plan("ablations"), plan("offline")
    per_init = ("lr", "max-steps", "warmup-steps")
    for init in ("copy", "random"):
        half = one(depth, init=init)
        assert [job["student-layers"] for job in half] == list("124124") and [job["seed"] for job in half] == list("000111")
        assert [job["strategy"].split(",")[2] for job in half] == ["all-to-one", "reverse", "reverse"] * 2
        table1_half = one(table1, init=init)
        assert {tuple(job[k] for k in per_init) for job in half} == {tuple(job[k] for k in per_init) for job in table1_half}
        assert evaluated_steps(table1_half[0]) < evaluated_steps(half[0])


def test_lm_table_is_the_decoder_only_grid_on_bible_lm():
    jobs = plan("lm")
    assert [job["seed"] for job in jobs] == ["0", "1", "2"]
    for job in jobs:
        assert job["task"] == "bible-lm" and job["teacher-base"] == "scratch-llama"
        assert job["init"] == "copy,random" and job["strategy"] == "none,forward,reverse,all-to-one,random"
        assert job["teacher-dir"] == "runs/lm/teachers/bible-lm" and job["student-layers"] == "3"


# ------------------------------------------------------------------ the authors' settings
@pytest.fixture(scope="module")
def paper():
    return plan("paper")


def test_every_paper_job_trains_in_fp32_with_an_explicit_optimizer(paper):
    assert len(paper) == 24
    for job in paper:
        assert job["bf16"] == "no" and job["optimizer"] in ("adamw", "adafactor") and job["seed"] == "0"
        assert "warmup-steps" in job and "teacher-warmup-steps" in job and "teacher-dir" in job


@pytest.mark.parametrize("table", TABLES)
def test_a_teacher_directory_always_gets_the_same_teacher_settings(table):
    """The first job of a task fine-tunes its teacher; later jobs reuse it whatever they say, so they must agree."""
    settings = {}
    for job in plan(table):
        teacher = {k: v for k, v in job.items() if k.startswith("teacher-") or k == "task"}
        assert settings.setdefault(job["teacher-dir"], teacher) == teacher


def test_glue_jobs(paper):
    glue = [job for job in paper if job["out"].startswith("runs/paper/classification/")]
    assert {job["task"] for job in glue} == {"mnli", "qqp", "qnli", "sst2"}
    for job in glue:
        assert job["student-layers"] == "3" and job["batch-size"] == "32" and job["max-length"] == "128"
        assert job["optimizer"] == "adamw" and job["warmup-steps"] == "0" and job["freeze-embeddings"] == "no"
        assert job["teacher-base"] == "bert-base-uncased" and job["teacher-epochs"] == "3"
        assert job["teacher-eval-every-epochs"] == "3"  # one evaluation, at the end: their teacher keeps its last weights
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
        assert (job["eval-every-epochs"], job["num-beams"], job["test-num-beams"], job["temperature"]) == \
            ("0.3", "5", "6", "1")
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
        assert (job["temperature"], job["num-beams"], job["test-num-beams"], job["eval-every-epochs"]) == \
            ("2", "4", "5", "0.3")
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


def test_qwen3_table_follows_the_authors_llm_scripts():
    jobs = plan("qwen3")
    assert sorted((job["task"], job["strategy"]) for job in jobs) == sorted(
        (task, strategy) for task in ("hellaswag", "coqa")
        for strategy in ("none", "forward", "reverse", "all-to-one", "random"))
    for job in jobs:
        assert (job["init"], job["student-layers"], job["lora"], job["lora-alpha"]) == ("copy", "9", "128", "32")
        assert (job["teacher-base"], job["teacher-lora"], job["bf16"]) == ("Qwen/Qwen3-8B", "32", "yes")
        assert (job["a-ce"], job["a-kl"], job["a-hid"], job["temperature"]) == ("1", "1", "3", "1")
        # their per-GPU batch, accumulated over 2 batches on each of 4 GPUs: 8 batches on one
        assert (job["lr"], job["batch-size"], job["grad-accumulation"]) == {
            "hellaswag": ("3e-4", "3", "8"), "coqa": ("1e-4", "1", "8")}[job["task"]]
        assert (job["teacher-batch-size"], job["teacher-grad-accumulation"]) == {
            "hellaswag": ("6", "4"), "coqa": ("2", "8")}[job["task"]]
        # the authors' KL and hidden loss over every position, and their copied blocks (not the matched ones: PAPER.md 1.3)
        assert (job["kl-positions"], job["hid-reduction"], job["copy-from"]) == ("every", "llm",
                                                                                  "1,5,10,14,19,23,28,32,36")
        assert job["select-by"] == "token-accuracy"  # their trainers keep the best mean_token_accuracy
        assert job.get("coqa-train-rows") == {"hellaswag": None, "coqa": "authors"}[job["task"]]


def test_qwen3_students_copy_the_authors_blocks_and_match_theirs():
    """Against a 36-block Qwen3 config: blocks 1, 5, ..., 36 copied (llm/model_utils.py, 0-based there),
    hidden states 4, 8, ..., 36 matched (llm/sft_trainer.py), and the plan says they differ."""
    config = transformers.Qwen3Config(num_hidden_layers=36, hidden_size=8, intermediate_size=16,
                                      num_attention_heads=2, num_key_value_heads=1, head_dim=4, vocab_size=32)
    job = experiments.jobs(experiments.TABLES["qwen3"])[1]
    assert "runs/qwen3/language-modeling/hellaswag/forward" == job.out
    args = cli.resolve_settings(cli.parse_args(job.argv),
                                {"kind": "language-modeling", "name": "hellaswag", "offline": False})
    student = distill.plan_run(config, args, "copy", "forward", 0, Path("forward"))
    assert student.copied == {"decoder": [1, 5, 10, 14, 19, 23, 28, 32, 36]}
    assert student.pairs == {"decoder": [(i, 4 * i) for i in range(1, 10)]}
    assert "copies teacher blocks [1, 5, 10, 14, 19, 23, 28, 32, 36] but matches teacher layers [4, 8, 12" in \
        mapping.describe_plans([student], {"decoder": 36})
