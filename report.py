"""Tables from finished runs: results/<profile>/tables.md, runs.csv, runs.json (and README).

    python report.py --profile offline

Reads every runs/<profile>/<table>/.../metrics.json that distill.py wrote and every
results/<profile>/angles/*/angles.json that angles.py wrote; nothing is typed by hand.
For the offline profile it also rewrites README's results section (between the
`<!-- results:begin -->` and `<!-- results:end -->` markers).
"""
import argparse
import csv
import json
import statistics
from pathlib import Path

import distill

STRATEGIES = ("none", "forward", "reverse", "all-to-one", "random")
MATCHING = ("forward", "reverse", "all-to-one", "random")


def load_runs(profile):
    runs = []
    for path in sorted(Path("runs", profile).glob("*/**/metrics.json")):
        run = json.loads(path.read_text())
        if run.get("role") == "teacher":
            continue
        parts = path.relative_to(Path("runs", profile)).parts
        run["table"], run["name"], run["dir"] = parts[0], "/".join(parts[1:-1]), str(path.parent)
        runs.append(run)
    return runs


def metric_name(run):
    return "BLEU" if run["kind"] == "generation" else "accuracy"


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


def grid_table(runs, teacher_score, scale, name):
    """Teacher row, then {random, copy} x strategies: mean ± std over seeds, and the verdict."""
    seeds = sorted({r["seed"] for r in runs})
    first_step = runs[0]["history"][0]["step"] if runs[0]["history"] else None
    lines = [f"| init | strategy | dev {name} (best) | dev {name} at step {first_step} | seeds |", "|---|---|---|---|---|",
             f"| teacher | - | {teacher_score * scale:.1f} | - | - |"]
    verdicts = []
    for init in ("random", "copy"):
        seed_stds, means = [], {}
        for strategy in STRATEGIES:
            chosen = [r for r in runs if r["init"] == init and r["strategy"] == strategy]
            if not chosen:
                continue
            scores = [r["score"] for r in chosen]
            lines.append(f"| {init} | {strategy} | {cell(scores, scale)} | "
                         f"{cell([first_eval(r) for r in chosen if first_eval(r) is not None], scale)} | {len(chosen)} |")
            means[strategy] = statistics.mean(scores) * scale
            if len(scores) > 1:
                seed_stds.append(statistics.stdev(scores) * scale)
        verdicts.append(verdict(init, means, seed_stds, name))
    return lines, [v for v in verdicts if v], seeds


def verdict(init, means, seed_stds, name):
    """Does the spread across matching strategies exceed the spread across seeds?"""
    matching = [means[s] for s in MATCHING if s in means]
    if len(matching) < 2:
        return None
    spread = max(matching) - min(matching)
    text = f"{init} init: matching strategies span {spread:.1f} {name} points"
    if "none" in means:
        text += f"; no matching scores {means['none']:.1f} vs {min(matching):.1f}-{max(matching):.1f} with matching"
    if not seed_stds:
        return text + " (one seed: no seed spread to compare with)."
    noise = statistics.median(seed_stds)  # the median: one collapsed seed must not set the yardstick
    judged = "exceeds" if spread > 2 * noise else "does not exceed"
    return text + f"; the median seed std is {noise:.1f}, so the strategy spread {judged} twice the seed noise."


def teacher_score(run):
    path = Path(run["teacher"]["dir"], "metrics.json")
    metrics = json.loads(path.read_text())["metrics"] if path.exists() else run["teacher"]["metrics"]
    first = next(iter(metrics.values()))
    return next(iter(first.values()))


def section_grid(runs, table, title):
    out = []
    for task in sorted({r["task"] for r in runs if r["table"] == table}):
        chosen = [r for r in runs if r["table"] == table and r["task"] == task]
        scale = 1 if chosen[0]["kind"] == "generation" else 100
        lines, verdicts, seeds = grid_table(chosen, teacher_score(chosen[0]), scale, metric_name(chosen[0]))
        out += [f"### {title}: {task} ({chosen[0]['steps']} steps, seeds {seeds})", "", *lines, "",
                *[f"- {v}" for v in verdicts], ""]
    return out


def section_ablation(runs, table, title, column, value):
    """An ablation's runs, plus Table 1's seed-0 cells of the same task, inits and strategies
    (the default depth and width), so that every row of the ablation is in one table."""
    ablation = [r for r in runs if r["table"] == table]
    if not ablation:
        return []
    cells = {(r["task"], r["init"], r["strategy"]) for r in ablation}
    baseline = [r for r in runs if r["table"] == "classification" and r["seed"] == 0
                and (r["task"], r["init"], r["strategy"]) in cells]
    chosen = sorted(ablation + baseline, key=lambda r: (value(r), r["init"], r["strategy"]))
    lines = [f"### {title} ({chosen[0]['task']}, seed 0, {chosen[0]['steps']} steps)", "",
             f"| {column} | init | strategy | dev {metric_name(chosen[0])} |", "|---|---|---|---|"]
    lines += [f"| {value(r)} | {r['init']} | {r['strategy']} | {r['score'] * 100:.1f} |" for r in chosen]
    return lines + [""]


def related_rows(runs):
    rows = []
    for r in sorted((r for r in runs if r["table"] == "related"), key=lambda r: r["dir"]):
        settings = r["settings"]
        rows.append({"run": r["name"], "objective": settings.get("objective", "hidden"),
                     "copy_from": settings.get("copy_from"), "strategy": r["strategy"],
                     "supplementary": settings.get("supplementary") or "-",
                     "consistency": settings.get("consistency") or 0, "score": r["score"] * 100})
    return rows


def seed_noise(runs, task, init):
    """Median std over seeds of Table 1's cells for this task and init (None with one seed)."""
    stds = []
    for strategy in STRATEGIES:
        scores = [r["score"] * 100 for r in runs if r["table"] == "classification" and r["task"] == task
                  and r["init"] == init and r["strategy"] == strategy]
        if len(scores) > 1:
            stds.append(statistics.stdev(scores))
    return statistics.median(stds) if stds else None


def section_related(runs):
    rows = related_rows(runs)
    if not rows:
        return []
    noise = seed_noise(runs, "synth-sentiment", "copy")
    lines = ["### Related studies (synth-sentiment, copy init, seed 0)", "",
             "| run | objective | copied blocks | strategy | supplementary inputs | consistency w | dev accuracy |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['run']} | {r['objective']} | {r['copy_from']} | {r['strategy']} | {r['supplementary']} | "
              f"{r['consistency']} | {r['score']:.1f} |" for r in rows]
    caution = ("One seed per run" + (f"; Table 1's median copy-init seed std on synth-sentiment is {noise:.1f} points, so "
                                     f"gaps under {2 * noise:.1f} points are within seed noise." if noise else "."))
    return lines + ["", caution, ""] + [f"- {claim}" for claim in related_claims(rows)] + [""]


def judged(better, worse):
    """'agrees' when the claimed winner is ahead, 'disagrees' when behind, 'tie' when level."""
    if abs(better - worse) < 0.05:
        return "tie"
    return "agrees" if better > worse else "disagrees"


def related_claims(rows):
    """One sentence per claim of the related studies: does the offline run agree?"""
    score = {(r["objective"], r["copy_from"]): r["score"] for r in rows if r["run"].startswith("objective-")}
    claims = []
    if all((o, c) in score for o in ("kd-only", "hidden", "attention") for c in ("lower", "upper")):
        attention_mean = (score[("attention", "lower")] + score[("attention", "upper")]) / 2
        others_best = max((score[(o, "lower")] + score[(o, "upper")]) / 2 for o in ("kd-only", "hidden"))
        claims.append(f"Wang et al.: attention transfer is best overall -> mean of lower/upper: attention "
                      f"{attention_mean:.1f} vs best other {others_best:.1f}: {judged(attention_mean, others_best)}.")
        lower_wins = [o for o in ("kd-only", "hidden") if score[(o, "lower")] > score[(o, "upper")]]
        claims.append(f"Wang et al.: lower-layer init beats upper for vanilla KD and hidden transfer -> lower wins "
                      f"for {', '.join(lower_wins) or 'neither'}: "
                      f"{'agrees' if len(lower_wins) == 2 else 'partly agrees' if lower_wins else 'disagrees'}.")
        gaps = {o: abs(score[(o, "lower")] - score[(o, "upper")]) for o in ("kd-only", "hidden", "attention")}
        stable = gaps["attention"] <= min(gaps["kd-only"], gaps["hidden"])
        claims.append(f"Wang et al.: attention transfer is the most stable across inits -> lower/upper gap "
                      f"{gaps['attention']:.1f} (attention) vs {gaps['kd-only']:.1f} (kd-only), "
                      f"{gaps['hidden']:.1f} (hidden): {'agrees' if stable else 'disagrees'}.")
    crild = {r["run"]: r["score"] for r in rows if r["run"].startswith("crild-")}
    names = [f"crild-{inputs}/copy-{strategy}-seed0" for inputs in ("clean", "mixup", "mixup-consistency")
             for strategy in ("forward", "last")]
    if all(name in crild for name in names):
        clean_forward, clean_last, mixup_forward, mixup_last, _, consistent_last = (crild[n] for n in names)
        claims.append(f"Ko et al.: matching only the last layer overfits less than matching all layers -> "
                      f"last {clean_last:.1f} vs all {clean_forward:.1f} on clean inputs: "
                      f"{judged(clean_last, clean_forward)}.")
        claims.append(f"Ko et al.: supplementary (mixup) inputs help last-layer matching -> {mixup_last:.1f} vs "
                      f"{clean_last:.1f}: {judged(mixup_last, clean_last)}.")
        claims.append(f"Ko et al.: consistency regularisation helps further -> {consistent_last:.1f} vs "
                      f"{mixup_last:.1f}: {judged(consistent_last, mixup_last)}.")
    return claims


def section_angles(profile):
    rows = []
    for path in sorted(Path("results", profile, "angles").glob("*/angles.json")):
        result = json.loads(path.read_text())
        single = "; ".join(f"{s} {v['authors_single_pair']['acute_share'] * 100:.1f}%"
                           for s, v in result["stacks"].items())
        rows.append(f"| {path.parent.name} | {result['acute_share'] * 100:.1f}% | {result['mean_cosine']:.3f} | "
                    f"{single} | [histogram](angles/{path.parent.name}/angles_histogram.png) |")
    if not rows:
        return []
    return ["### Angles: cos(t_i - s, t_k - s) over dev tokens (synth-sentiment unless named d2t)", "",
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


def update_readme(markdown):
    readme = Path("README.md")
    text = readme.read_text()
    begin, end = "<!-- results:begin -->", "<!-- results:end -->"
    if begin not in text or end not in text:
        raise SystemExit("error: README.md lacks the results markers; add them back around the results section")
    head, rest = text.split(begin, 1)
    readme.write_text(head + begin + "\n" + markdown + "\n" + end + rest.split(end, 1)[1])


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", default="offline")
    parser.add_argument("--no-readme", action="store_true", help="do not rewrite README's results section")
    args = parser.parse_args()
    runs = load_runs(args.profile)
    if not runs:
        raise SystemExit(f"error: no finished runs under runs/{args.profile}; run: bash run_all.sh {args.profile}")
    results = Path("results", args.profile)
    results.mkdir(parents=True, exist_ok=True)
    scale = distill.OFFLINE_NOTE if runs[0]["offline"] else "Paper setup (hub models and data)."
    lines = [f"Profile `{args.profile}`, made by `bash run_all.sh {args.profile}`. {scale}", ""]
    lines += section_grid(runs, "classification", "Table 1, classification")
    lines += section_grid(runs, "generation", "Table 2, generation")
    lines += section_ablation(runs, "depth", "Table 3, student depth", "student layers",
                              lambda r: r["student_layers"]["encoder"])
    lines += section_ablation(runs, "width", "Table 4, student width (random init, learned projections)", "width",
                              lambda r: r["student_width"])
    lines += section_related(runs)
    lines += section_angles(args.profile)
    markdown = "\n".join(lines)
    (results / "tables.md").write_text(markdown + "\n")
    write_machine_readable(runs, results)
    print(markdown)
    if args.profile == "offline" and not args.no_readme:
        update_readme(markdown.replace("](angles/", f"](results/{args.profile}/angles/"))


if __name__ == "__main__":
    main()
