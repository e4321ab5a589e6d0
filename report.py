"""Tables from finished runs: results/<table>/tables.md, runs.csv, runs.json, and README's generated parts.

    python report.py offline          # one table of experiments.py
    python report.py --readme         # only README's claims at a glance and tables list, from results/

Reads every runs/<table>/.../metrics.json that distill.py wrote (and the committed rows of
results/<table>/runs.json for runs not on this machine) and every results/<table>/angles/*/angles.json
that angles.py wrote. Nothing is typed by hand except the authors' published numbers
(PAPER_RESULTS), printed beside ours for the tasks the paper reports; the claims a table tests come
from its declaration in experiments.py and are judged the same way for every table (judge).
README's generated parts sit between `<!-- NAME:begin -->` and `<!-- NAME:end -->` markers.
"""
import argparse
import csv
import functools
import json
import statistics
from pathlib import Path

import cli
import data
import distill
import experiments
import mapping
import scoring

STRATEGIES = ("none", "forward", "reverse", "all-to-one", "random")
MATCHING = ("forward", "reverse", "all-to-one", "random")

# The authors' published numbers: the README of github.com/MANGA-UOFA/Layer-Selection, copied in
# PAPER.md section 1.6 ("The authors' reported numbers"). One row per (init, strategy), one value per
# PAPER_COLUMNS entry (task, split, metric); None where the README has no number. Split: the README does
# not name one for GLUE (PAPER.md: probably GLUE test-server scores; we compare with our dev scores and
# say so under the table); DART and En-Ro are test-split BLEU (dart/scripts/run_eval_on_dart.sh,
# t5mt/scripts/run_eval.sh); HellaSwag and CoQA are lm-eval-harness on all of validation, our "test"
# (data.load_hellaswag, data.load_coqa), from copied weights only (their v2 students). The README has no
# row for out-of-order ("random") matching from copied weights except the decoder-only one, and no
# number for the depth and width ablations.
PAPER_COLUMNS = (("mnli", "dev-matched", "accuracy"), ("mnli", "dev-mismatched", "accuracy"),
                 ("qqp", "dev", "accuracy"), ("qqp", "dev", "f1"), ("qnli", "dev", "accuracy"),
                 ("sst2", "dev", "accuracy"), ("dart", "test", "bleu"), ("wmt16-en-ro", "test", "bleu"),
                 ("hellaswag", "test", "acc"), ("coqa", "test", "exact_match"))
PAPER_RESULTS = {
    #                         MNLI-m MNLI-mm QQP acc QQP F1 QNLI  SST-2  DART   En-Ro  HellaSwag CoQA
    ("teacher", "-"):         (84.5, 84.1,   89.0,   71.4,  90.8, 93.1,  48.80, 25.90, 63.11,    75.02),
    ("random", "none"):       (63.2, 63.6,   81.5,   56.4,  61.2, 81.1,  38.76, 8.02,  None,     None),
    ("random", "forward"):    (72.5, 72.0,   83.9,   61.3,  64.7, 85.1,  32.64, 18.13, None,     None),
    ("random", "reverse"):    (69.3, 68.9,   84.3,   61.8,  65.2, 83.3,  33.12, 17.15, None,     None),
    ("random", "all-to-one"): (74.0, 73.8,   83.4,   60.2,  65.0, 85.4,  33.86, 17.16, None,     None),
    ("random", "random"):     (71.2, 71.2,   82.4,   58.8,  64.4, 82.9,  32.67, 16.70, None,     None),
    ("copy", "none"):         (77.4, 76.5,   87.6,   67.1,  81.2, 88.7,  46.32, 22.36, 35.16,    33.73),
    ("copy", "forward"):      (79.7, 78.8,   88.2,   69.1,  83.8, 92.3,  47.94, 22.65, 37.85,    35.40),
    ("copy", "reverse"):      (79.2, 78.2,   88.1,   68.3,  83.2, 90.0,  48.45, 21.57, 35.01,    37.67),
    ("copy", "all-to-one"):   (79.4, 78.7,   87.6,   68.6,  82.8, 91.4,  47.10, 21.89, 34.99,    37.35),
    ("copy", "random"):       (None, None,   None,   None,  None, None,  None,  None,  35.47,    34.80),
}
METRIC_NAMES = {"accuracy": "accuracy", "f1": "F1", "bleu": "BLEU", "exact_match": "exact match"}
# metrics.json holds fractions, BLEU and perplexity as they are
METRIC_SCALE = {"accuracy": 100, "f1": 100, "acc": 100, "acc_norm": 100, "exact_match": 100, "token_accuracy": 100,
                "bleu": 1, "perplexity": 1}


# The settings the tables read, lifted to the top of each run so that runs.json (which leaves the
# other settings out) keeps them. A run or committed row without one has distill.py's default.
KEPT_SETTINGS = ("lr", "hold_encoder_steps", "n_dev", "projections", "objective", "copy_from", "supplementary",
                 "consistency", "a_kl")


@functools.cache
def setting_defaults():
    defaults = cli.parse_args([])
    return {key: getattr(defaults, key) for key in KEPT_SETTINGS}


def load_runs(name):
    runs = []
    for path in sorted(Path("runs", name).glob("*/**/metrics.json")):
        run = json.loads(path.read_text())
        if run.get("role") == "teacher":
            continue
        parts = path.relative_to(Path("runs", name)).parts
        run["table"], run["name"], run["dir"] = parts[0], "/".join(parts[1:-1]), str(path.parent)
        run.update({key: run.get("settings", {}).get(key, default) for key, default in setting_defaults().items()})
        runs.append(run)
    return runs


def committed_rows(name):
    """The rows of the committed results/<name>/runs.json (none if it has none), each with every
    kept setting (rows written before a setting was kept have its default)."""
    saved = Path("results", name, "runs.json")
    # Missing settings go after the row's own keys, so that writing the rows back keeps their order.
    return [{**r, **{k: v for k, v in setting_defaults().items() if k not in r}}
            for r in json.loads(saved.read_text())] if saved.exists() else []


def committed_runs(name, local):
    """The committed rows with no run under runs/<name>: a table run a part per call (bash run_all.sh
    generation --init random --seeds 2, on a fresh clone) keeps the parts it did not run again instead of
    overwriting them, and its tables say which rows were read. With no runs at all, `python report.py
    TABLE` rebuilds the table from its committed rows."""
    ran = {(r["table"], r["name"]) for r in local}
    return [r for r in committed_rows(name) if (r["table"], r.get("name")) not in ran]


def committed_note(name, kept):
    """One line naming the rows read from the committed runs.json."""
    if not kept:
        return []
    groups = sorted({(r["table"], r["task"]) for r in kept})
    seeds = "; ".join(f"{table} {task}: seeds {sorted({r['seed'] for r in kept if (r['table'], r['task']) == (table, task)})}"
                      for table, task in groups)
    return [f"Read from the committed `results/{name}/runs.json`, not run under `runs/{name}`: "
            f"{len(kept)} runs ({seeds}).", ""]


def score_metric(run):
    """The metric of a run's score: its first split's first metric (scoring.evaluate); without
    metrics, its kind's first."""
    if run.get("metrics"):
        return next(iter(next(iter(run["metrics"].values()))))
    return {"generation": "bleu", "language-modeling": "perplexity"}.get(run["kind"], "accuracy")


def metric_name(run):
    metric = score_metric(run)
    return {"perplexity": "perplexity (lower is better)", "acc": "accuracy",
            "token_accuracy": "token accuracy"}.get(metric, METRIC_NAMES.get(metric, metric))


def score_scale(run):
    """Points per unit of a run's score: accuracies x 100, BLEU and perplexity as they are."""
    return METRIC_SCALE.get(score_metric(run), 1)


def mean_std(values):
    if not values:
        return None, None
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else None


def cell(values, scale):
    average, spread = mean_std([v * scale for v in values])
    if average is None:
        return "-"
    return f"{average:.1f}" if spread is None else f"{average:.1f} ± {spread:.1f}"


def first_eval(run):
    return run["history"][0]["score"] if run["history"] else None


def first_step_text(runs):
    """'step 25', or each init's first evaluation where the inits evaluate on different steps."""
    first = {r["init"]: r["history"][0]["step"] for r in runs if r["history"]}
    if len(set(first.values())) <= 1:
        return f"step {next(iter(first.values()), None)}"
    return "the first evaluation (" + ", ".join(f"{init}: step {first[init]}" for init in ("random", "copy")
                                                 if init in first) + ")"


def seeds_by_init(runs):
    """'random init seeds [2], copy init seeds [0, 1, 2]'"""
    return ", ".join(f"{init} init seeds {sorted({r['seed'] for r in runs if r['init'] == init})}"
                     for init in ("random", "copy") if any(r["init"] == init for r in runs))


def runs_by_teacher(runs, scale):
    """{the teacher's score as the table prints it: the runs distilled from that teacher}."""
    by_score = {}
    for r in runs:
        by_score.setdefault(f"{teacher_score(r) * scale:.1f}", []).append(r)
    return by_score


def teacher_notes(by_teacher):
    """Which runs were distilled from which teacher, where a table's teachers score differently (the
    same teacher command run again on another machine: a seed run there joins the committed ones)."""
    if len(by_teacher) < 2:
        return []
    return ["the teacher differs between runs (one teacher command, fine-tuned twice): "
            + "; ".join(f"{score} for {seeds_by_init(by_teacher[score])}" for score in sorted(by_teacher, key=float))
            + ". Each paired difference compares runs of one seed and init, so of one teacher."]


def grid_table(runs, scale, name):
    """Teacher row, then {random, copy} x strategies: mean ± std over seeds, each seed's score, and
    the paired difference from forward matching (same init, seed and data order), then the verdicts."""
    seeds = sorted({r["seed"] for r in runs})
    by_teacher = runs_by_teacher(runs, scale)
    lines = [f"| init | strategy | dev {name} (best) | per seed ({', '.join(map(str, seeds))}) | "
             f"minus forward, paired | dev {name} at {first_step_text(runs)} |", "|---|---|---|---|---|---|",
             f"| teacher | - | {' / '.join(sorted(by_teacher, key=float))} | - | - | - |"]
    verdicts = []
    for init in ("random", "copy"):
        score = {(r["strategy"], r["seed"]): r["score"] * scale for r in runs if r["init"] == init}
        differences = paired_differences(score)
        for strategy in STRATEGIES:
            chosen = [r for r in runs if r["init"] == init and r["strategy"] == strategy]
            if not chosen:
                continue
            mean, per_seed, paired = seed_cells(score, differences, strategy, seeds)
            lines.append(f"| {init} | {strategy} | {mean} | {per_seed} | {paired} | "
                         f"{cell([first_eval(r) for r in chosen if first_eval(r) is not None], scale)} |")
        verdicts.append(verdict(init, score, differences, name))
    notes = (same_pairs_notes(runs) + constant_output_notes(runs) + majority_class_notes(runs)
             + teacher_notes(by_teacher))
    return lines, [v for v in verdicts if v] + notes, seeds


def seed_cells(score, differences, strategy, seeds):
    """One strategy's row from {(strategy, seed): score}: mean ± std, each seed's score ('-' where
    missing) and the paired difference from forward ('-' for forward itself)."""
    values = [score[(strategy, seed)] for seed in seeds if (strategy, seed) in score]
    per_seed = " / ".join(f"{score[(strategy, seed)]:.1f}" if (strategy, seed) in score else "-" for seed in seeds)
    return cell(values, 1), per_seed, "-" if strategy == "forward" else cell(differences[strategy], 1)


def paired_differences(score):
    """{strategy: [score - forward's score, one per seed that has both]} from {(strategy, seed): score}."""
    return {strategy: [value - score[("forward", seed)] for (s, seed), value in sorted(score.items())
                       if s == strategy and ("forward", seed) in score]
            for strategy in STRATEGIES if any(s == strategy for s, _ in score.keys())}


# Two-sided 95% critical values of Student's t by degrees of freedom (paired seeds - 1). With three
# seeds a paired difference must be 4.3 standard errors from zero: "twice the standard error" would be
# an 82% test there, and passed verdicts that flipped on a re-run.
T_95 = {2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26, 10: 2.23, 15: 2.13, 20: 2.09, 30: 2.04}
MIN_SEEDS = 3  # fewer paired seeds are shown but never judged (with two, t is 12.7 standard errors)


def distinguishable(differences):
    """Does a paired difference pass a two-sided 95% t-test: its mean more than t standard errors
    (std / sqrt(n)) from zero, over at least MIN_SEEDS seeds? Between the listed degrees of freedom,
    the t of the next fewer (a slightly stricter test)."""
    if len(differences) < MIN_SEEDS:
        return False
    return abs(statistics.mean(differences)) > t_95(len(differences)) * statistics.stdev(differences) / len(differences) ** 0.5


def verdict(init, score, differences, name):
    """How far apart are the matching strategies, and which differences stand out from seed noise,
    judged on paired differences (the same seed and data order), not on two independent stds."""
    means = {s: statistics.mean([v for (strategy, _), v in score.items() if strategy == s])
             for s in STRATEGIES if any(strategy == s for strategy, _ in score.keys())}
    matching = [means[s] for s in MATCHING if s in means]
    if len(matching) < 2:
        return None
    unit = name.split(" (")[0]  # "perplexity (lower is better)" reads as "perplexity" mid-sentence
    text = f"{init} init: matching strategies span {max(matching) - min(matching):.1f} {unit} points"
    if "none" in means:
        text += f"; no matching scores {means['none']:.1f} vs {min(matching):.1f}-{max(matching):.1f} with matching"
    seeds = max(map(len, differences.values()), default=0)
    if seeds < MIN_SEEDS:
        return text + f" ({seeds} seed{'s' * (seeds != 1)}: too few to tell a paired difference from noise)."
    standing_out = [f"{s} {statistics.mean(d):+.1f}" for s, d in differences.items()
                    if s != "forward" and distinguishable(d)]
    return text + ("; paired with forward (same seed and data order), " +
                   (f"these differ at 95% (paired t-test): {', '.join(standing_out)}."
                    if standing_out else "no strategy differs at 95% (paired t-test)."))


def same_pairs_notes(runs):
    """Two strategies with the same layer pairs are one configuration (a seed's 'random' draw may be
    'reverse'), and two seeds' 'random' draws may be one draw (repeated_draw_notes): say so wherever
    it happens."""
    by_draw = {}
    for r in runs:
        if any(r.get("pairs", {}).values()):
            key = (r["init"], r["seed"], json.dumps(r["pairs"], sort_keys=True))
            by_draw.setdefault(key, []).append(r["strategy"])
    return [f"{init} init, seed {seed}: {' and '.join(sorted(strategies))} have the same layer pairs "
            "(one configuration)." for (init, seed, _), strategies in sorted(by_draw.items())
            if len(strategies) > 1] + repeated_draw_notes(runs)


def repeated_draw_notes(runs):
    """'random' draws its permutation from the seed alone, so two seeds may draw the same one: then
    the row holds fewer draws than seeds. Say so."""
    by_draw = {}
    for r in runs:
        if r["strategy"] == "random" and any(r.get("pairs", {}).values()):
            by_draw.setdefault((r["init"], json.dumps(r["pairs"], sort_keys=True)), []).append(r["seed"])
    return [f"{init} init, random: seeds {' and '.join(map(str, sorted(seeds)))} drew the same layer pairs "
            "(fewer draws than seeds)." for (init, _), seeds in sorted(by_draw.items()) if len(seeds) > 1]


def constant_output_notes(runs):
    """A generation student whose best checkpoint writes (nearly) one output for every dev row has
    learnt a language model of the targets and ignores the source: generation's majority class.
    Its predictions.txt (distill.py) tells; say so under the table."""
    notes = []
    for r in sorted((r for r in runs if r["kind"] == "generation" and r.get("dir")), key=lambda r: r["dir"]):
        path = Path(r["dir"], "predictions.txt")
        if not path.is_file():
            continue
        outputs = path.read_text().splitlines()
        distinct = len(set(outputs))
        if distinct * 10 < len(outputs):
            notes.append(f"{r['init']} init, {r['strategy']}, seed {r['seed']}: its best checkpoint writes "
                         f"{distinct} distinct output{'s' * (distinct != 1)} for {len(outputs)} dev rows "
                         "(it ignores the source).")
    return notes


@functools.lru_cache(maxsize=None)
def majority_rate(task_name, n_dev):
    """The share of the most frequent label among the task's (first n_dev) dev rows; None for a
    task whose dev rows this machine cannot read without the hub."""
    if data.TASKS.get(task_name, {}).get("source") != "offline":
        return None
    try:
        rows = next(iter(data.load_task(task_name)["dev"].values()))[:n_dev]
    except data.PackageMissing:
        return None
    labels = [row["label"] for row in rows]
    return max(map(labels.count, set(labels))) / len(labels)


def majority_class_notes(runs):
    """One line per classifier that has not learnt: the warning distill.py wrote into its metrics.json
    (scoring.majority_note, any task and local files), or for rows written before it did, a score
    within scoring.MAJORITY_MARGIN of the offline task's dev majority class. The teachers too."""
    notes = set()
    for r in runs:
        if r["kind"] != "classification":
            continue
        name = r.get("name") or f"{r['init']} init, {r['strategy']}, seed {r['seed']}"
        rate = majority_rate(r["task"], r.get("n_dev")) if "warning" not in r else None
        if r.get("warning"):
            notes.add(f"{name}: {r['warning']}.")
        elif rate is not None and r["score"] - rate < scoring.MAJORITY_MARGIN:
            notes.add(f"{name}: {r['score'] * 100:.1f}, within {scoring.MAJORITY_MARGIN * 100:.0f} point of the majority "
                      f"class ({rate * 100:.1f}): it did not learn.")
        if (r.get("teacher") or {}).get("warning"):
            notes.add(f"the teacher ({r['teacher'].get('dir', '-')}): {r['teacher']['warning']}.")
    return sorted(notes)


def teacher_metrics(run):
    """The teacher's metrics, {split: {metric: value}}: as the run measured them (on its own dev rows,
    which --n-dev may cut), else from the teacher's metrics.json."""
    return run["teacher"]["metrics"] or json.loads(Path(run["teacher"]["dir"], "metrics.json").read_text())["metrics"]


def teacher_score(run):
    first = next(iter(teacher_metrics(run).values()))
    return next(iter(first.values()))


def paper_number(task, split, metric, init, strategy):
    """The authors' published number for this cell, or None."""
    column = PAPER_COLUMNS.index((task, split, metric))
    row = PAPER_RESULTS.get((init, strategy))
    return row[column] if row else None


def paper_columns(task, runs):
    """[(split, metric, paper_split)]: every (split, metric) our runs report, those compared with a
    published number first. paper_split is the split of that number: ours when we report it, else the
    paper's column goes with our only split of the same metric (e.g. dev BLEU next to the paper's test
    BLEU) and the header says so; None: not published."""
    ours = list(dict.fromkeys((split, metric) for r in runs for split, values in r["metrics"].items()
                              for metric in values))
    matched = {}
    for _, split, metric in (c for c in PAPER_COLUMNS if c[0] == task):
        if (split, metric) in ours:
            matched[(split, metric)] = split
            continue
        candidates = [column for column in ours if column[1] == metric and column not in matched]
        if len(candidates) == 1:
            matched[candidates[0]] = split
    columns = [(split, metric, matched.get((split, metric))) for split, metric in ours]
    return sorted(columns, key=lambda column: column[2] is None)


def column_header(split, metric, paper_split):
    name = f"{split} {METRIC_NAMES.get(metric, metric)}"
    if paper_split is None:
        return name
    if paper_split == split:
        return f"{name}: ours (paper, delta)"
    return f"{name}: ours (paper's {paper_split} {METRIC_NAMES.get(metric, metric)}, delta)"


def compared(values, paper, metric, is_compared):
    """'ours', 'ours ± std' over seeds, then '(paper, ours - paper)' or '(-)' when nothing was published."""
    scale, digits = METRIC_SCALE.get(metric, 1), 2 if metric in ("bleu", "acc", "exact_match") else 1
    average, spread = mean_std([v * scale for v in values])
    if average is None:
        return "-"
    text = f"{average:.{digits}f}" + ("" if spread is None else f" ± {spread:.{digits}f}")
    if not is_compared:
        return text
    if paper is None:
        return f"{text} (-)"
    return f"{text} ({paper:.{digits}f}, {average - paper:+.{digits}f})"


def paper_table(runs, task, name):
    """Table 1/2 for a task the paper reports: every (split, metric) column as ours (paper, delta),
    the teacher row first, then {random, copy} x strategies, and the verdicts on the score."""
    columns = paper_columns(task, runs)
    lines = ["| init | strategy | " + " | ".join(column_header(*c) for c in columns) + " | seeds |",
             "|---|---|" + "---|" * len(columns) + "---|"]
    teacher = teacher_metrics(runs[0])
    cells = [compared([teacher[s][m]] if m in teacher.get(s, {}) else [],
                      paper_number(task, p, m, "teacher", "-") if p else None, m, p is not None)
             for s, m, p in columns]
    lines.append("| teacher | - | " + " | ".join(cells) + " | - |")
    scale = score_scale(runs[0])
    verdicts = []
    for init in ("random", "copy"):
        for strategy in STRATEGIES:
            chosen = [r for r in runs if r["init"] == init and r["strategy"] == strategy]
            if not chosen:
                continue
            cells = [compared([r["metrics"][s][m] for r in chosen if m in r["metrics"].get(s, {})],
                              paper_number(task, p, m, init, strategy) if p else None, m, p is not None)
                     for s, m, p in columns]
            lines.append(f"| {init} | {strategy} | " + " | ".join(cells) + f" | {len(chosen)} |")
        score = {(r["strategy"], r["seed"]): r["score"] * scale for r in runs if r["init"] == init}
        verdicts.append(verdict(init, score, paired_differences(score), name))
    if runs[0]["kind"] == "classification":
        source = ("Paper: the authors' README (PAPER.md section 1); it names no split, and its GLUE numbers are "
                  "probably test-server scores (its 'previous work' teacher row is BERT-base's published test "
                  "scores), so dev-vs-paper deltas include a split difference.")
    elif runs[0]["kind"] == "generation":
        source = ("Paper: the authors' README (PAPER.md section 1): test-split BLEU (DART: multi-bleu against "
                  "its ~3 references).")
    else:
        source = ("Paper: the authors' README, v2 (PAPER.md section 1.6): lm-eval-harness on all of validation "
                  "(HellaSwag acc, CoQA exact match), students from copied weights only.")
    notes = [source] + (["(-): no published number for this row."] if any(" (-) " in line for line in lines) else [])
    return lines, notes, [v for v in verdicts if v]


def schedule(runs):
    """'200 steps', or each init's steps and learning rate where the inits differ in steps or rate (and
    how long a random-init encoder was held, distill.hold_encoder; how the hidden states were
    normalised, where that differs between the inits)."""
    steps, lrs = {r["init"]: r["steps"] for r in runs}, {r["init"]: r["lr"] for r in runs}
    holds = {r["init"]: r.get("hold_encoder_steps") for r in runs}
    # runs written before metrics.json kept hid_norm used their kind's default (cli.resolve_settings)
    norms = {r["init"]: r.get("hid_norm") or ("l2" if r["kind"] == "language-modeling" else "none") for r in runs}
    norms_differ = len(set(norms.values())) > 1
    if len(set(steps.values())) == 1 and len(set(lrs.values())) == 1 and not any(holds.values()) and not norms_differ:
        return f"{runs[0]['steps']} steps"
    return "; ".join(f"{init} init {steps[init]} steps at lr {lr_text(lrs[init])}"
                     + (f", encoder held for the first {holds[init]}" if holds[init] else "")
                     + (f", hidden states normalised: {norms[init]}" if norms_differ else "")
                     for init in ("random", "copy") if init in steps)


def in_brackets(parts):
    """'(a, b, c)', or '(a; b; c)' when a part holds a semicolon of its own (schedule's two inits)."""
    return "(" + ("; " if any(";" in part for part in parts) else ", ").join(parts) + ")"


def lr_text(lr):
    """1e-4, 2.5e-4: as run_all.sh writes them."""
    return f"{lr:.1e}".replace(".0e", "e").replace("e-0", "e-")


def section_grid(runs, table, title):
    out = []
    for task in sorted({r["task"] for r in runs if r["table"] == table}):
        chosen = [r for r in runs if r["table"] == table and r["task"] == task]
        n_dev = next((r["n_dev"] for r in chosen if r.get("n_dev")), None)
        parts = [schedule(chosen), f"seeds {sorted({r['seed'] for r in chosen})}"]
        parts += [f"scored on the first {n_dev} dev rows"] if n_dev else []
        heading = f"### {title}: {task} {in_brackets(parts)}"
        if any(column[0] == task for column in PAPER_COLUMNS):
            lines, notes, verdicts = paper_table(chosen, task, metric_name(chosen[0]))
            out += [heading, "", *lines, "", *notes, "", *[f"- {v}" for v in verdicts], ""]
            continue
        scale = score_scale(chosen[0])
        lines, verdicts, seeds = grid_table(chosen, scale, metric_name(chosen[0]))
        out += [heading, "", *lines, "", *[f"- {v}" for v in verdicts], ""]
    return out


def evaluation_notes(own, borrowed, rows):
    """Where `rows` (runs borrowed from another table) were evaluated at other steps than the table's own
    runs of the same init: which steps, and whether a best checkpoint fell on a step only one evaluates."""
    notes = []
    for init in ("random", "copy"):
        mine = {h["step"] for r in own if r["init"] == init for h in r.get("history", [])}
        theirs = {h["step"] for r in borrowed if r["init"] == init for h in r.get("history", [])}
        if not mine or not theirs or mine == theirs:
            continue
        bests = {r["best_step"] for r in own + borrowed if r["init"] == init and r.get("best_step")}
        where = ("every best checkpoint fell on a step both evaluate" if bests <= mine & theirs
                 else "some best checkpoints fell on a step only one of them evaluates")
        notes.append(f"{init} init: {rows} evaluated at steps {', '.join(map(str, sorted(theirs)))}, the other "
                     f"rows at steps {', '.join(map(str, sorted(mine)))}; {where}.")
    return notes


def section_ablation(runs, table, title, column, value, base="classification"):
    """An ablation's runs, plus the cells of the `base` grid (Table 1's: the default depth and width)
    of the same task, inits, strategies, seeds and steps unless the ablation ran that value itself;
    per value and init, the paired differences from forward and a verdict, as in Table 1."""
    ablation = [r for r in runs if r["table"] == table]
    if not ablation:
        return []
    cells = {(r["task"], r["init"], r["strategy"], r["seed"]) for r in ablation}
    values, steps = {value(r) for r in ablation}, {r["init"]: r["steps"] for r in ablation}
    baseline = [r for r in runs if r["table"] == base and value(r) not in values
                and r["steps"] == steps.get(r["init"])
                and any((r["task"], r["init"], r["seed"]) == (task, init, seed) for task, init, _, seed in cells)
                and r["strategy"] in {strategy for _, _, strategy, _ in cells}]
    chosen = ablation + baseline
    seeds = sorted({r["seed"] for r in ablation})
    scale = score_scale(chosen[0])
    split = next(iter(chosen[0]["metrics"]))  # the score's split: dev, or MNLI's dev-matched
    paired_column = any(r["strategy"] == "forward" for r in chosen)  # with no forward rows, nothing pairs
    header = [column, "init", "strategy", f"{split} {metric_name(chosen[0])}",
              f"per seed ({', '.join(map(str, seeds))})"] + ["minus forward, paired"] * paired_column
    lines = [f"### {title} {in_brackets([chosen[0]['task'], schedule(chosen), f'seeds {seeds}'])}", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    verdicts = []
    for group_value in sorted({value(r) for r in chosen}):
        for init in ("random", "copy"):
            group = [r for r in chosen if value(r) == group_value and r["init"] == init]
            if not group:
                continue
            score = {(r["strategy"], r["seed"]): r["score"] * scale for r in group}
            differences = paired_differences(score)
            for strategy in (s for s in STRATEGIES if any(r["strategy"] == s for r in group)):
                mean, per_seed, paired = seed_cells(score, differences, strategy, seeds)
                cells = [group_value, init, strategy, mean, per_seed] + [paired] * paired_column
                lines.append("| " + " | ".join(map(str, cells)) + " |")
            verdicts.append(verdict(f"{column} {group_value}, {init}", score, differences, metric_name(group[0])))
            verdicts += [f"{column} {group_value}: {note}" for note in same_pairs_notes(group)]
    verdicts += majority_class_notes(chosen)
    rows = "Table 1's runs" if base == "classification" else f"the {base} grid's runs"
    verdicts += evaluation_notes(ablation, baseline, f"{rows} (the rows this table did not train)")
    if not chosen[0]["offline"]:
        verdicts.append("Paper: the authors' README publishes no number for this ablation (PAPER.md section 1.6), "
                        "so nothing stands beside ours.")
    return lines + [""] + [f"- {v}" for v in verdicts if v] + [""]


def table_runs(name):
    """A table's runs under runs/<name>, and the committed rows of results/<name>/runs.json that are not
    among them (a table run a part per call keeps the parts it did not run again)."""
    local = load_runs(name)
    return local, committed_runs(name, local)


def borrowed_runs(t):
    """The runs of the table t borrows its default rows from (experiments.Table.borrows): Table 1's
    3-layer, 384-wide students at each init's lr are the ablations' default depth and width and the
    recipe's default lr, trained once."""
    if not t.borrows:
        return []
    local, kept = table_runs(t.borrows)
    return [r for r in local + kept if r["table"] == "classification"]


def section_learning_rate(runs, borrowed):
    """The recipe's learning rate per init: every lr's learning curve (mean over seeds at each
    evaluation) and best score, none and forward matching; Table 1's runs are the default lr's rows."""
    sweep = [r for r in runs if r["table"] == "lr"]
    if not sweep:
        return []
    cells = {(r["task"], r["init"], r["seed"]) for r in sweep}
    strategies = {r["strategy"] for r in sweep}
    sweep_steps = {r["steps"] for r in sweep}
    defaults = [r for r in borrowed if (r["task"], r["init"], r["seed"]) in cells
                and r["strategy"] in strategies and r["steps"] in sweep_steps]
    chosen = sweep + defaults
    seeds = sorted({r["seed"] for r in sweep})
    steps = sorted({h["step"] for r in chosen for h in r["history"]})  # each init's evaluations ('-' where none)
    per_init = {r["init"]: r["steps"] for r in sweep}
    length = (f"{sweep[0]['steps']} steps" if len(set(per_init.values())) == 1 else
              "; ".join(f"{init} init {per_init[init]} steps" for init in ("random", "copy") if init in per_init))
    lines = [f"### Learning rate per init ({sweep[0]['task']}, {length}, seeds {seeds})", "",
             f"| init | lr | strategy | dev accuracy (best) | per seed ({', '.join(map(str, seeds))}) | "
             + " | ".join(f"step {step}" for step in steps) + " |", "|---|---|---|---|---|" + "---|" * len(steps)]
    for init, lr, strategy in sorted({(r["init"], r["lr"], r["strategy"]) for r in chosen},
                                     key=lambda key: (key[0] != "random", key[1], STRATEGIES.index(key[2]))):
        group = sorted((r for r in chosen if (r["init"], r["lr"], r["strategy"]) == (init, lr, strategy)),
                       key=lambda r: r["seed"])
        curve = [cell([h["score"] for r in group for h in r["history"] if h["step"] == step], 100) for step in steps]
        lines.append(f"| {init} | {lr_text(lr)} | {strategy} | {cell([r['score'] for r in group], 100)} | "
                     + " / ".join(f"{r['score'] * 100:.1f}" for r in group) + " | " + " | ".join(curve) + " |")
    notes = majority_class_notes(chosen) + evaluation_notes(sweep, defaults, "Table 1's runs (the default lr's rows)")
    return lines + [""] + [f"- {note}" for note in notes] + [""]


def related_rows(runs):
    """One row per related-studies setting and strategy, its scores by seed."""
    rows = {}
    for r in sorted((r for r in runs if r["table"] == "related"), key=lambda r: r["dir"]):
        setting = r["name"].split("/")[0]
        row = rows.setdefault((setting, r["strategy"]), {
            "setting": setting, "objective": r["objective"], "copy_from": r["copy_from"],
            "strategy": r["strategy"], "supplementary": r["supplementary"],
            "consistency": r["consistency"] or 0, "task": r["task"], "steps": r["steps"],
            "stage1_steps": r.get("stage1_steps") or 0, "scores": {}})
        row["scores"][r["seed"]] = r["score"] * 100
    return list(rows.values())


def section_related(runs):
    rows = related_rows(runs)
    if not rows:
        return []
    seeds = sorted({seed for row in rows for seed in row["scores"]})
    steps = f"{rows[0]['steps']} steps"
    if rows[0]["stage1_steps"]:  # --stage1-epochs: the matching terms alone, then prediction alone
        steps = f"two stages: {rows[0]['stage1_steps']} steps of the matching terms, then {steps} of CE + KL"
    lines = [f"### Related studies ({rows[0]['task']}, copy init, {steps}, seeds {seeds})", "",
             "| setting | objective | copied blocks | strategy | supplementary inputs | consistency w | "
             f"dev accuracy | per seed ({', '.join(map(str, seeds))}) |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        per_seed = " / ".join(f"{r['scores'][seed]:.1f}" if seed in r["scores"] else "-" for seed in seeds)
        lines.append(f"| {r['setting']} | {r['objective']} | {r['copy_from']} | {r['strategy']} | "
                     f"{r['supplementary']} | {r['consistency']} | {cell(list(r['scores'].values()), 1)} | {per_seed} |")
    notes = majority_class_notes([r for r in runs if r["table"] == "related"])
    return lines + [""] + [f"- {note}" for note in notes] + ([""] if notes else [])


def section_angles(name):
    rows, tasks = [], set()
    for path in sorted(Path("results", name, "angles").glob("*/angles.json")):
        result = json.loads(path.read_text())
        tasks.add(result["task"])
        single = "; ".join(f"{s} {v['authors_single_pair']['acute_share'] * 100:.1f}%"
                           for s, v in result["stacks"].items())
        rows.append(f"| {path.parent.name} | {result['acute_share'] * 100:.1f}% | {result['mean_cosine']:.3f} | "
                    f"{single} | [histogram](angles/{path.parent.name}/angles_histogram.png) |")
    if not rows:
        return []
    return [f"### Angles: cos(t_i - s, t_k - s) over dev tokens ({', '.join(sorted(tasks))})", "",
            "| student | acute share | mean cosine | authors' single pair (acute) | figure |", "|---|---|---|---|---|",
            *rows, ""]


def write_machine_readable(runs, results):
    fields = ["table", "task", "init", "strategy", "seed", "score", "steps", "wall_time_s", "dir"]
    with (results / "runs.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(fields + ["student_layers", "student_width", "metrics"])
        for r in runs:
            writer.writerow([r[f] for f in fields] + [json.dumps(r["student_layers"]), r["student_width"],
                                                     json.dumps(r["metrics"])])
    distill.write_json(results / "runs.json", [{k: v for k, v in r.items() if k != "settings"} for r in runs])


# ----------------------------------------------------------------------------- claims (experiments.Claim)
def run_out(run):
    """The grid a run belongs to, as experiments.Grid.out names it: its directory without the run's own."""
    return "/".join([run["table"], *run["name"].split("/")[:-1]])


def matches(run, selector):
    for key, wanted in selector.items():
        value = run_out(run) if key == "out" else run.get(key)
        if value not in (wanted if isinstance(wanted, list) else [wanted]):
            return False
    return True


def lower_is_better(run):
    return score_metric(run) == "perplexity"


def per_seed(selector, runs):
    """{seed: value}: the mean score (in the table's points) of the runs a selector picks, per seed;
    for {"gap": [s1, s2]}, the absolute difference of the two selectors' values."""
    if "gap" in selector:
        first, second = (per_seed(part, runs) for part in selector["gap"])
        return {seed: abs(first[seed] - second[seed]) for seed in first if seed in second}
    by_seed = {}
    for r in runs:
        if matches(r, selector):
            by_seed.setdefault(r["seed"], []).append(r["score"] * score_scale(r))
    return {seed: statistics.mean(values) for seed, values in by_seed.items()}


def paired(a, b, runs):
    """Per-seed a - b over the seeds both have, signed so that positive means a is better (a gap
    between two selectors is a distance: never flipped)."""
    sign = -1 if "gap" not in b and any(lower_is_better(r) for r in runs if matches(r, b)) else 1
    value_a, value_b = per_seed(a, runs), per_seed(b, runs)
    return [sign * (value_a[seed] - value_b[seed]) for seed in sorted(value_a) if seed in value_b]


def t_95(n):
    """Student's t for a two-sided 95% interval over n paired seeds (the next fewer degrees of freedom listed)."""
    return T_95[max(degrees for degrees in T_95 if degrees <= n - 1)]


def interval(differences):
    """The mean paired difference and its 95% confidence interval."""
    n, mean = len(differences), statistics.mean(differences)
    half = t_95(n) * statistics.stdev(differences) / n ** 0.5
    return mean, mean - half, mean + half


def seeds_to_decide(differences, margin):
    """The fewest seeds whose 95% interval would lie wholly inside or wholly outside +-margin, at the
    observed mean and spread (None: over 200, or a mean on the margin)."""
    room, spread = abs(margin - abs(statistics.mean(differences))), statistics.stdev(differences)
    for n in range(len(differences) + 1, 201):
        if t_95(n) * spread / n ** 0.5 < room:
            return n
    return None


def judge_above(differences):
    """'a above b': agrees / disagrees when the paired difference passes a two-sided 95% t-test, else
    undecided (within noise: not evidence of no difference)."""
    mean = statistics.mean(differences)
    if len(differences) < MIN_SEEDS:
        return "too few seeds", f"{mean:+.1f} ({len(differences)} seed{'s' * (len(differences) != 1)})"
    error = statistics.stdev(differences) / len(differences) ** 0.5
    outcome = "undecided" if not distinguishable(differences) else "agrees" if mean > 0 else "disagrees"
    return outcome, f"{mean:+.1f} ± {error:.1f} SE"


def judge_within(differences, margin):
    """'a within margin of b' (equivalence): agrees when the 95% interval of the paired difference lies
    inside +-margin, disagrees when it lies wholly outside, else undecided, with the seeds that would decide."""
    if len(differences) < MIN_SEEDS:
        n = len(differences)
        return "too few seeds", f"{statistics.mean(differences):+.1f} ({n} seed{'s' * (n != 1)})"
    mean, low, high = interval(differences)
    text = f"{mean:+.1f} [{low:+.1f}, {high:+.1f}]"
    if -margin < low and high < margin:
        return "agrees", text
    if low >= margin or high <= -margin:
        return "disagrees", text
    needed = seeds_to_decide(differences, margin)
    return "undecided", text + (f", ~{needed} seeds would decide" if needed else ", over 200 seeds would decide")


def judge(claim, runs):
    """(outcome, text) of one claim on a table's runs, or None when its runs are not there."""
    if claim.kind == "above":
        differences = paired(claim.a, claim.b, runs)
        return judge_above(differences) if differences else None
    results = []
    for selector in claim.a:
        differences = paired(selector, claim.b, runs)
        if differences:
            outcome, text = judge_within(differences, claim.margin)
            results.append((outcome, f"{selector.get('strategy', '')} {text}".strip()))
    if not results:
        return None
    outcomes = {outcome for outcome, _ in results}
    combined = next(o for o in ("too few seeds", "disagrees", "undecided", "agrees") if o in outcomes)
    return combined, "; ".join(text for _, text in results)


HOW_JUDGED = ("How a claim is judged, on per-seed paired differences (same seed, so the same data order): "
              "'above' claims by a two-sided 95% paired t-test (with 3 seeds, a mean more than 4.3 standard "
              "errors from zero); 'within' claims by the 95% confidence interval of each difference, which must "
              "lie inside the margin (equivalence). 'undecided' is neither: not evidence of no difference. A difference "
              "is signed so that positive means the claim's first side scores better (for perplexity: lower).")


def section_claims(t, runs):
    rows = []
    for claim in t.claims:
        result = judge(claim, runs)
        if result:
            rows.append(f"| {claim.text} ({claim.source}) | {claim.label or '-'} | {result[1]} | {result[0]} |")
    if not rows:
        return []
    return ["### Claims", "", HOW_JUDGED, "", "| claim | judged on | ours: paired difference (mean ± SE, or [95% interval]) | verdict |",
            "|---|---|---|---|", *rows, ""]


# ----------------------------------------------------------------------------- README's generated parts
PAPER_COLUMN_NAMES = {("mnli", "dev-matched"): "MNLI-m", ("qqp", "dev"): "QQP", ("qnli", "dev"): "QNLI",
                      ("sst2", "dev"): "SST-2", ("dart", "test"): "DART", ("wmt16-en-ro", "test"): "En-Ro",
                      ("hellaswag", "test"): "HellaSwag", ("coqa", "test"): "CoQA"}


PAPER_KINDS = {"classification": ("mnli", "qqp", "qnli", "sst2"), "generation": ("dart", "wmt16-en-ro"),
               "language-modeling": ("hellaswag", "coqa")}


def paper_evidence(claim):
    """The paper's numbers behind a grid claim (experiments.grid_claims), from PAPER_RESULTS: forward
    minus none, or the largest distance of another strategy from forward, per task and init
    ("paper-table KIND": that kind's tasks only), where the paper has the numbers."""
    kind = claim.evidence.split()[1] if " " in claim.evidence else None
    parts = []
    for init in ("random", "copy"):
        cells = []
        for (task, split), name in PAPER_COLUMN_NAMES.items():
            if kind and task not in PAPER_KINDS[kind]:
                continue
            metric = next(m for t, s, m in PAPER_COLUMNS if (t, s) == (task, split))
            number = functools.partial(paper_number, task, split, metric, init)
            if number("forward") is None:
                continue
            if claim.kind == "above":
                cells.append(f"{name} {number('forward') - number('none'):+.1f}")
            else:
                others = [number(s) for s in experiments.MATCHING if number(s) is not None]
                cells.append(f"{name} {max(abs(o - number('forward')) for o in others):.1f}")
        parts += [f"{init} init: " + ", ".join(cells)] if cells else []
    what = "forward minus none" if claim.kind == "above" else "largest distance from forward"
    return f"{what}: " + "; ".join(parts)


def scale_text(runs):
    """Tasks, schedule and seeds of a table's runs; the seeds per init where a table is part-way."""
    tasks = sorted({r["task"] for r in runs})
    per_init = {init: len({r["seed"] for r in runs if r["init"] == init}) for init in sorted({r["init"] for r in runs})}
    if len(set(per_init.values())) > 1:
        seeds = ", ".join(f"{init} init {n} seed{'s' * (n != 1)}" for init, n in per_init.items())
    else:
        n = len({r["seed"] for r in runs})
        seeds = f"{n} seed{'s' * (n != 1)}"
    return f"{', '.join(tasks)}; {schedule(runs)}; {seeds}"


def claims_at_a_glance():
    """One row per claim and table that tests it: the paper's evidence, ours (table and scale), the verdict."""
    groups = {}
    for t in experiments.TABLES.values():
        if t.name == "quick":
            continue
        local, kept = table_runs(t.name)
        runs = local + kept
        for claim in t.claims:
            result = judge(claim, runs)
            if result:
                group = groups.setdefault(claim.text, {"claim": claim, "tables": {}})
                group["tables"].setdefault(t.name, (runs, []))[1].append((claim.label, *result))
    lines = ["| claim | the paper's evidence | ours: table (scale) | verdict |", "|---|---|---|---|"]
    for text, group in groups.items():
        claim = group["claim"]
        evidence = paper_evidence(claim) if claim.evidence.startswith("paper-table") else claim.evidence
        first = True
        for name, (runs, results) in group["tables"].items():
            verdicts = "; ".join(f"{label + ': ' if label else ''}**{outcome}**, {detail}"
                                 for label, outcome, detail in results)
            lines.append(f"| {f'{text} ({claim.source})' if first else '〃'} | {evidence if first else '〃'} | "
                         f"[{name}](results/{name}/tables.md): {scale_text(runs)} | {verdicts} |")
            first = False
    return "\n".join(lines + ["", HOW_JUDGED])


def tables_list():
    """Every table of experiments.py: what it is, its jobs, the estimate on 2 CPU cores (from measured job
    times, teachers included) or of GPU time, and where its results and notes are."""
    lines = ["| table | what | jobs | estimated time | results |", "|---|---|---|---|---|"]
    for t in experiments.TABLES.values():
        job_list = experiments.jobs(t)
        seconds = experiments.estimate(job_list, fresh=True)
        time_text = (f"{seconds / 3600:.0f} h of GPU time" if t.gpu else
                     f"{seconds // 60} min on 2 CPU cores")
        links = [f"[tables](results/{t.name}/tables.md)"] if Path("results", t.name, "tables.md").exists() else []
        links += [f"[notes](results/{t.name}/NOTES.md)"] if Path("results", t.name, "NOTES.md").exists() else []
        lines.append(f"| `{t.name}` | {t.title} | {len(job_list)} | {time_text} | {', '.join(links) or '-'} |")
    return "\n".join(lines)


def update_readme(blocks):
    """Rewrite README's generated parts, each between <!-- NAME:begin --> and <!-- NAME:end -->."""
    readme = Path("README.md")
    text = readme.read_text()
    for name, markdown in blocks.items():
        begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
        if begin not in text or end not in text:
            continue
        head, rest = text.split(begin, 1)
        text = head + begin + "\n" + markdown + "\n" + end + rest.split(end, 1)[1]
    readme.write_text(text)


def readme_blocks():
    """README's generated parts: the claims at a glance, the tables list, each table README shows, the
    strategies' pairs (mapping.py) and the speed table (bench.py's results/bench-cpu.md)."""
    blocks = {"claims": claims_at_a_glance(), "tables": tables_list(), "mapping": mapping.mapping_table(12, 3)}
    bench = Path("results", "bench-cpu.md")
    if bench.exists():
        blocks["bench"] = bench.read_text().rstrip("\n")
    for name in experiments.TABLES:
        path = Path("results", name, "tables.md")
        if path.exists():
            blocks[f"table {name}"] = path.read_text().rstrip("\n").replace("](angles/", f"](results/{name}/angles/")
    return blocks


def spread_legend(lines):
    """What a table's ± means; the paired column's clause only where the table has that column."""
    paired = any("minus forward, paired" in line for line in lines)
    return ("A score's ± is its standard deviation over seeds" + (
        "; 'minus forward, paired' is the mean ± standard deviation of each seed's score minus forward "
        "matching's at that seed (same data order)" if paired else "") + ".")


def report(t):
    """Write results/<t.name>/: tables.md (the markdown also printed), runs.csv and runs.json."""
    local, kept = table_runs(t.name)
    if not local and not kept:
        raise SystemExit(f"error: no finished runs under runs/{t.name}; run: bash run_all.sh {t.name}")
    runs = local + kept
    results = Path("results", t.name)
    results.mkdir(parents=True, exist_ok=True)
    scale = runs[0].get("scale") or ("Paper setup (hub models and data)." if not runs[0]["offline"] else "")
    lines = committed_note(t.name, kept)
    with_borrowed = runs + borrowed_runs(t)
    lines += section_grid(runs, "classification", "Table 1, classification")
    lines += section_grid(runs, "generation", "Table 2, generation")
    lines += section_grid(runs, "language-modeling", "Decoder-only students")
    lines += section_ablation(with_borrowed, "depth", "Table 3, student depth", "student layers",
                              lambda r: r["student_layers"]["encoder"])
    projections = sorted({r["projections"] for r in runs if r["table"] == "width"})
    lines += section_ablation(with_borrowed, "width", f"Table 4, student width (random init, {'/'.join(projections)} "
                              "projections)", "width", lambda r: r["student_width"])
    lines += section_ablation(runs, "copied-blocks", "Copied teacher blocks (copy init)", "copied blocks",
                              lambda r: r["copy_from"], base="language-modeling")
    lines += section_ablation(runs, "no-teacher", "Without a teacher (no matching)", "loss",
                              lambda r: "CE alone" if r["a_kl"] == 0 else "CE + KL", base="language-modeling")
    lines += section_learning_rate(runs, borrowed_runs(t))
    lines += section_related(runs)
    lines += section_claims(t, runs)
    lines += section_angles(t.name)
    header = [f"Table `{t.name}`, made by `bash run_all.sh {t.name}`. {scale}", "", spread_legend(lines), ""]
    markdown = "\n".join(header + lines)
    (results / "tables.md").write_text(markdown + "\n")
    write_machine_readable(runs, results)
    return markdown


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("table", nargs="?", choices=list(experiments.TABLES), help="the table to report")
    parser.add_argument("--readme", action="store_true", help="only rewrite README's generated parts from results/")
    parser.add_argument("--no-readme", action="store_true", help="do not rewrite README's generated parts")
    args = parser.parse_args(argv)
    if args.table is None and not args.readme:
        parser.error("name a table (e.g. python report.py offline) or give --readme")
    if args.table:
        print(report(experiments.TABLES[args.table]))
    if (args.readme or args.table != "quick") and not args.no_readme:
        update_readme(readme_blocks())


if __name__ == "__main__":
    main()
