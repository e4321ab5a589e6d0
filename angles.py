"""Angle analysis: why the layer-selection strategy doesn't matter (much).

    python angles.py --task rt-sentiment --teacher runs/teachers/rt-sentiment --student runs/student --out runs/angles
    python angles.py --task rt-sentiment --teacher runs/teachers/rt-sentiment --student random --student-layers 3 \
        --out runs/angles-before
    (--student random or copy: an untrained student, built as distill.py builds it)
    python angles.py --task rt-sentiment --teacher T --student A B random --out out/a out/b out/before
    (several students of one teacher in one process: the teacher, tokenizer and dev subset load once)

The paper's explanation (Yu, Wen, Mou 2025, the angle analysis): the hidden-state
loss pulls a student hidden state s towards some teacher hidden state t_k. Seen from s,
the directions towards the different teacher layers, t_i - s and t_k - s, mostly form
*acute* angles (cos > 0), so whichever teacher layer a strategy picks, the pull points
roughly the same way, and forward, reverse or random matching end up similar.

For every real (non-padding) token of a dev subset, every chosen student layer l and
every pair of teacher hidden states i < k, this script computes

    cos angle(t_i - s_l, t_k - s_l)

and reports the share of acute angles and the mean cosine, with a histogram. It also
writes the layer-by-layer mean distance and mean cosine matrices (teacher-teacher,
teacher-student, student-student) as heat maps, as the authors plot them.

Indexing as in mapping.py: hidden state 0 is the embedding output, k the k-th block's.
By default teacher states 1..L_T and student states 1..L_S are used (the authors' loops
start at 1 too); --with-embeddings adds state 0 on both sides.

Memory stays bounded: each batch is reduced at once to sums, counts and a fixed-bin
histogram (angle_sums, layer_matrix_sums), which simply add up across batches.

The authors' own number is reproduced for comparison as `authors_single_pair`:
cos(t_1 - s_1, t_L - s_1) only, over every position *including padding* (the authors' code).
Students narrower than the teacher are compared through the learned width maps that
distill.py saves in hidden_projections.pt; a student layer without a map is skipped.
"""
import argparse
import csv
import math
import sys
from pathlib import Path

import matplotlib
matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

import data
import distill
import families
import mapping

BINS = 200  # histogram bins on [-1, 1]
EPS = 1e-5  # a direction shorter than EPS x the states' norm has no angle: s sits on t
MATRICES = ("teacher_teacher", "teacher_student", "student_student")
UNTRAINED = ("random", "copy")  # --student words: build an untrained student instead of loading one


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a = p.add_argument
    a("--teacher", required=True, help="fine-tuned teacher directory (model and tokenizer)")
    a("--student", required=True, nargs="+", help="student directory written by distill.py, or 'random' / "
      "'copy': an untrained student of --student-layers blocks, freshly initialised (the 'before training' "
      "point); several: one --out each, in the same order")
    a("--out", required=True, nargs="+", help="output directory per student; only angles.json, angles.csv, "
      "matrices.csv, angles_histogram.png and heatmaps_<stack>.png are written there")
    a("--task", default="rt-sentiment", help="task whose dev set is used (default: rt-sentiment; "
      "see distill.py --list-tasks)")
    a("--max-examples", type=int, default=200, help="use the first N dev examples (default: 200)")
    a("--batch-size", type=int, default=32, help="default: 32; memory grows with it, not with --max-examples")
    a("--max-length", type=int, default=128, help="tokens per input (default: 128, as distill.py)")
    a("--student-layers", type=int, default=3, help="depth of an untrained student, per stack (default: 3, "
      "as distill.py)")
    a("--student-layer", help="comma list of student hidden states to look from (default: every block, 1..L_S)")
    a("--with-embeddings", action="store_true", help="also use hidden state 0 (embeddings): teacher pairs "
      "include t_0 and the default student layers include s_0")
    a("--seed", type=int, default=0, help="seed of an untrained student (default: 0)")
    return p.parse_args(argv)


# ----------------------------------------------------------------------------- angles (pure functions)
def pair_indices(n_layers):
    """Rows i and columns k of every pair i < k: the upper triangle of an n x n matrix."""
    return torch.triu_indices(n_layers, n_layers, offset=1).unbind()


def direction_cosines(teacher_states, student_state):
    """cos angle(t_i - s, t_k - s) for every token and every pair i < k of teacher states.

    teacher_states: [L, N, d] (L teacher hidden states of N tokens); student_state: [N, d].
    Returns [N, L(L-1)/2], pairs in pair_indices order. When s coincides with some t_i the
    direction t_i - s has no length and its angles are undefined: they come back as NaN.
    """
    directions = teacher_states - student_state
    lengths = directions.norm(dim=-1, keepdim=True)
    scale = torch.maximum(teacher_states.norm(dim=-1, keepdim=True), student_state.norm(dim=-1, keepdim=True))
    units = torch.where(lengths > EPS * scale, directions / lengths, torch.nan)
    cosines = torch.einsum("ind,knd->nik", units, units).clamp(-1, 1)  # rounding can step past +-1
    rows, columns = pair_indices(len(teacher_states))
    return cosines[:, rows, columns]


def angles_from_student(teacher_states, student_state, mask):
    """The cosines of direction_cosines for the real tokens of a batch.

    teacher_states: a sequence of [B, T, d] tensors (the teacher layers to compare);
    student_state: [B, T, d], already at the teacher's width; mask: [B, T], 1 = real token.
    Padding is dropped before anything is computed, so it cannot change the result.
    """
    keep = mask.bool()
    return direction_cosines(torch.stack([t[keep] for t in teacher_states]), student_state[keep])


def angle_sums(cosines, bins=BINS):
    """A block of cosines [N, P] reduced to sums that add up across batches (see add_sums).

    n / acute / cos_sum give the acute share and the mean cosine; histogram counts the
    cosines in `bins` equal bins on [-1, 1]; pair_n / pair_cos_sum give the mean per
    teacher pair; undefined counts the NaNs (s on a teacher state), left out of the rest.
    """
    defined = ~cosines.isnan()
    values = cosines[defined].double()
    return {"n": defined.sum(), "acute": (values > 0).sum(), "cos_sum": values.sum(),
            "histogram": torch.histc(values, bins, -1, 1), "undefined": (~defined).sum(),
            "pair_n": defined.sum(0), "pair_cos_sum": cosines.double().nan_to_num(0.0).sum(0)}


def layer_matrix_sums(states_a, states_b, mask):
    """Sums over real tokens of ||a_i - b_j|| and cos(a_i, b_j) for every layer pair (i, j).

    states_a, states_b: sequences of [B, T, d] hidden states of the same tokens; mask: [B, T].
    Divided by n they are the authors' layer-by-layer mean distance and cosine matrices.
    """
    keep = mask.bool()
    a = torch.stack([s[keep] for s in states_a], dim=1).double()  # [N, La, d]
    b = torch.stack([s[keep] for s in states_b], dim=1).double()  # [N, Lb, d]
    distances = torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist")  # exact, not |a|^2+|b|^2-2ab
    cosines = F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).transpose(1, 2)
    return {"n": keep.sum(), "distance_sum": distances.sum(0), "cosine_sum": cosines.sum(0)}


def add_sums(total, part):
    """Add two (nested) dicts of sums key by key; None is the empty total."""
    if total is None:
        return part
    if isinstance(part, dict):
        return {key: add_sums(total[key], part[key]) for key in part}
    return total + part


# ----------------------------------------------------------------------------- width maps
def load_projections(student_dir):
    """families.save_model's learned student->teacher width maps, keyed 'encoder_1' etc. ({} if none)."""
    path = Path(student_dir, "hidden_projections.pt")
    if not path.exists():
        return {}
    state = torch.load(path, map_location="cpu")
    return {key.removeprefix("hidden_projections.").removesuffix(".weight"): weight for key, weight in state.items()}


def to_teacher_width(student_states, stack, projections, teacher_width):
    """Student states at the teacher's width: as they are when the widths agree, through the
    learned bias-free map (s W^T) otherwise; NaN for a layer without a map (nothing to compare)."""
    if student_states[0].shape[-1] == teacher_width:
        return list(student_states)
    return [state @ projections[f"{stack}_{l}"].T if f"{stack}_{l}" in projections
            else state.new_full((*state.shape[:-1], teacher_width), torch.nan)
            for l, state in enumerate(student_states)]


def make_plan(teacher, student, projections, chosen, with_embeddings):
    """Per stack: the teacher states to pair up, the student states to look from, and a
    note for every chosen student layer that cannot be compared (no width map)."""
    teacher_depths, student_depths = families.stack_depths(teacher.config), families.stack_depths(student.config)
    teacher_widths, student_widths = families.stack_widths(teacher.config), families.stack_widths(student.config)
    first = 0 if with_embeddings else 1
    plan, notes = {}, []
    for stack, depth in student_depths.items():
        layers = chosen or list(range(first, depth + 1))
        if not all(0 <= layer <= depth for layer in layers):
            raise ValueError(f"--student-layer {chosen} is out of range; {stack} student states are 0..{depth}")
        same_width = student_widths[stack] == teacher_widths[stack]
        usable = [l for l in layers if same_width or f"{stack}_{l}" in projections]
        notes += [f"{stack} student layer {l} skipped: width {student_widths[stack]} != teacher width "
                  f"{teacher_widths[stack]} and no learned map {stack}_{l} in hidden_projections.pt"
                  for l in layers if l not in usable]
        plan[stack] = {"teacher_layers": list(range(first, teacher_depths[stack] + 1)), "student_layers": usable,
                       "teacher_width": teacher_widths[stack]}
    if not any(p["student_layers"] for p in plan.values()):
        raise ValueError("no student layer can be compared with the teacher: " + "; ".join(notes))
    return plan, notes


# ----------------------------------------------------------------------------- streaming over the dev set
def stack_sums(teacher_states, student_states, mask, plan, projections, stack):
    """Every sum of one stack for one batch."""
    projected = to_teacher_width(student_states, stack, projections, plan["teacher_width"])
    compared = [teacher_states[i] for i in plan["teacher_layers"]]
    sums = {"angles": {l: angle_sums(angles_from_student(compared, projected[l], mask))
                       for l in plan["student_layers"]}}
    # The authors' number: one pair (t_1, t_L) seen from s_1, padding included.
    sums["authors_single_pair"] = angle_sums(angles_from_student(
        [teacher_states[1], teacher_states[-1]], projected[1], torch.ones_like(mask)))
    sums["teacher_teacher"] = layer_matrix_sums(teacher_states, teacher_states, mask)
    sums["teacher_student"] = layer_matrix_sums(teacher_states, projected, mask)
    sums["student_student"] = layer_matrix_sums(student_states, student_states, mask)
    return sums


@torch.no_grad()
def measure(teacher, student, batches, plan, projections):
    """Stream the batches through both models; return the summed statistics per stack."""
    teacher.eval()
    student.eval()
    totals = {}
    for batch in batches:
        inputs = data.model_inputs(batch)
        teacher_states = families.hidden_states(teacher(**inputs, output_hidden_states=True), teacher.config)
        student_states = families.hidden_states(student(**inputs, output_hidden_states=True), student.config)
        for stack, mask in families.token_masks(batch, teacher.config).items():
            part = stack_sums(teacher_states[stack], student_states[stack], mask, plan[stack], projections, stack)
            totals[stack] = add_sums(totals.get(stack), part)
    return totals


# ----------------------------------------------------------------------------- sums -> numbers
def angle_report(sums):
    """Acute share, mean cosine and the histogram from angle_sums (None where nothing was defined)."""
    n = int(sums["n"])
    return {"acute_share": float(sums["acute"]) / n if n else None,
            "mean_cosine": float(sums["cos_sum"]) / n if n else None,
            "n_angles": n, "undefined_angles": int(sums["undefined"]),
            "histogram": [int(c) for c in sums["histogram"].round()]}


def pair_matrix(sums, teacher_layers):
    """Mean cos angle(t_i - s, t_k - s) per teacher pair, as a symmetric matrix (NaN diagonal)."""
    size = len(teacher_layers)
    matrix = torch.full((size, size), torch.nan, dtype=torch.float64)
    rows, columns = pair_indices(size)
    means = sums["pair_cos_sum"] / sums["pair_n"]
    matrix[rows, columns] = matrix[columns, rows] = means
    return matrix


def pool(all_sums):
    """Angle sums of several student layers (or stacks) added into one; per-pair detail dropped."""
    total = None
    for sums in all_sums:
        total = add_sums(total, {key: sums[key] for key in ("n", "acute", "cos_sum", "histogram", "undefined")})
    return total


def summarise_stack(sums, plan):
    """Sums of one stack -> its numbers: pooled over student layers, per layer, per teacher pair, matrices."""
    per_layer = sums["angles"]
    return {
        **angle_report(pool(per_layer.values())),
        "teacher_layers": plan["teacher_layers"], "student_layers": plan["student_layers"],
        "tokens": int(sums["teacher_teacher"]["n"]),
        "per_student_layer": {l: angle_report(s) for l, s in per_layer.items()},
        "pair_mean_cosine": {l: pair_matrix(s, plan["teacher_layers"]) for l, s in per_layer.items()},
        "authors_single_pair": angle_report(sums["authors_single_pair"]),
        "matrices": {name: {"mean_distance": sums[name]["distance_sum"] / sums[name]["n"],
                            "mean_cosine": sums[name]["cosine_sum"] / sums[name]["n"]} for name in MATRICES},
    }


def summarise(totals, plan):
    """The numbers of angles.json: per stack, and pooled over every stack and student layer."""
    everything = pool(layer_sums for sums in totals.values() for layer_sums in sums["angles"].values())
    return {**angle_report(everything),
            "stacks": {stack: summarise_stack(sums, plan[stack]) for stack, sums in totals.items()}}


# ----------------------------------------------------------------------------- outputs
def plain(value, digits=6):
    """Tensors, numbers and dicts as JSON-ready data: floats rounded, NaN (undefined) as null."""
    if isinstance(value, torch.Tensor):
        value = value.tolist()
    if isinstance(value, dict):
        return {str(key): plain(item, digits) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item, digits) for item in value]
    if isinstance(value, float):
        return None if math.isnan(value) else float(f"{value:.{digits}g}")
    return value


def percent(share):
    return "n/a" if share is None else f"{100 * share:.1f}%"


def decimal(value):
    return "n/a" if value is None else f"{value:.3f}"


def plot_histograms(results, path):
    """One panel per stack: all angles (filled) and each student layer (outline), acute side shaded."""
    stacks = results["stacks"]
    figure, axes = plt.subplots(1, len(stacks), figsize=(6 * len(stacks), 4), squeeze=False)
    edges = torch.linspace(-1, 1, BINS + 1).numpy()
    for ax, (stack, result) in zip(axes[0], stacks.items()):
        ax.axvspan(0, 1, color="tab:green", alpha=0.08, label="acute (cos > 0)")
        ax.stairs(shares(result["histogram"]), edges, fill=True, alpha=0.5, color="tab:blue", label="all layers")
        for layer, report in result["per_student_layer"].items():
            ax.stairs(shares(report["histogram"]), edges,
                      label=f"student layer {layer}: {percent(report['acute_share'])} acute")
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_title(f"{stack}: {percent(result['acute_share'])} acute, mean cos {decimal(result['mean_cosine'])}")
        ax.set_xlabel(r"cos angle($t_i - s$, $t_k - s$), all teacher pairs $i < k$")
        ax.set_ylabel("share of angles per bin")
        ax.set_xlim(-1, 1)
        ax.legend(fontsize=8, loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def shares(histogram):
    total = max(1, sum(histogram))
    return [count / total for count in histogram]


def plot_heatmaps(stack, result, path):
    """Mean distance (top) and mean cosine (bottom): teacher-teacher, teacher-student, student-student."""
    axis_names = {"teacher": "teacher hidden state", "student": "student hidden state"}
    figure, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    for column, name in enumerate(MATRICES):
        rows_of, columns_of = name.split("_")
        for row, quantity in enumerate(("mean_distance", "mean_cosine")):
            ax, matrix = axes[row][column], result["matrices"][name][quantity].numpy()
            image = ax.imshow(matrix, aspect="auto", cmap="viridis" if quantity == "mean_distance" else "coolwarm",
                              **({} if quantity == "mean_distance" else {"vmin": -1, "vmax": 1}))
            figure.colorbar(image, ax=ax, shrink=0.8)
            ax.set_title(f"{stack}: {quantity.replace('_', ' ')}, {rows_of}-{columns_of}")
            ax.set_ylabel(f"{axis_names[rows_of]} (0 = embeddings)")
            ax.set_xlabel(f"{axis_names[columns_of]} (0 = embeddings)")
            ax.set_yticks(range(matrix.shape[0]))
            ax.set_xticks(range(matrix.shape[1]))
            if max(matrix.shape) <= 13:  # numbers on the cells while they stay readable
                for i in range(matrix.shape[0]):
                    for j in range(matrix.shape[1]):
                        if not math.isnan(matrix[i, j]):
                            ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_csvs(results, out):
    """angles.csv: one row per stack and student layer (and 'all'); matrices.csv: every matrix cell."""
    with open(out / "angles.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["stack", "measure", "student_layer", "n_angles", "undefined_angles", "acute_share",
                         "mean_cosine"])

        def row(stack, measure, layer, report):
            writer.writerow([stack, measure, layer, report["n_angles"], report["undefined_angles"],
                             plain(report["acute_share"]), plain(report["mean_cosine"])])
        for stack, result in results["stacks"].items():
            for layer, report in result["per_student_layer"].items():
                row(stack, "all_teacher_pairs", layer, report)
            row(stack, "all_teacher_pairs", "all", result)
            row(stack, "authors_single_pair_t1_tL_unmasked", 1, result["authors_single_pair"])
        row("all", "all_teacher_pairs", "all", results)
    with open(out / "matrices.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["stack", "matrix", "quantity", "row_layer", "column_layer", "value"])

        def cells(stack, name, quantity, matrix, row_layers, column_layers):
            for i, row_layer in enumerate(row_layers):
                for j, column_layer in enumerate(column_layers):
                    writer.writerow([stack, name, quantity, row_layer, column_layer, plain(matrix[i, j].item())])
        for stack, result in results["stacks"].items():
            for name in MATRICES:
                for quantity, matrix in result["matrices"][name].items():
                    cells(stack, name, quantity, matrix, range(matrix.shape[0]), range(matrix.shape[1]))
            for layer, matrix in result["pair_mean_cosine"].items():  # rows and columns: teacher pairs i, k
                teacher_layers = result["teacher_layers"]
                cells(stack, f"angles_from_student_{layer}", "mean_cosine", matrix, teacher_layers, teacher_layers)


def write_outputs(results, meta, out):
    out.mkdir(parents=True, exist_ok=True)
    plot_histograms(results, out / "angles_histogram.png")
    for stack, result in results["stacks"].items():
        plot_heatmaps(stack, result, out / f"heatmaps_{stack}.png")
    write_csvs(results, out)
    payload = {**meta, **plain(results), "histogram_bins": {"bins": BINS, "range": [-1, 1]}}
    distill.write_json(out / "angles.json", payload)


# ----------------------------------------------------------------------------- main
def check_paths(args):
    """Every bad path refused with one line before any model loads."""
    if len(args.student) != len(args.out):
        raise ValueError(f"{len(args.student)} --student but {len(args.out)} --out: give one output "
                         f"directory per student, in the same order")
    for name, directory in [("teacher", args.teacher)] + [("student", student) for student in args.student]:
        if directory not in UNTRAINED and not Path(directory, "config.json").is_file():
            raise ValueError(f"--{name} {directory} is not a saved model directory (no config.json)")
    for out in args.out:
        if Path(out).exists() and not Path(out).is_dir():
            raise ValueError(f"--out {out} exists and is not a directory")


def load_student(args, name, teacher, task):
    """The student `name` (a directory, or 'random'/'copy') and its width maps, checked against the teacher."""
    if name in UNTRAINED:  # built here exactly as distill.py builds it before training
        depths = {stack: args.student_layers for stack in families.stack_depths(teacher.config)}
        for stack, depth in depths.items():
            mapping.check_depths(families.stack_depths(teacher.config)[stack], depth)
        student, _ = distill.build_student(teacher, name, depths, seed=args.seed)
        return student, {}
    student = families.load_model(name, task["kind"])
    if student.config.model_type != teacher.config.model_type:
        raise ValueError(f"student is a {student.config.model_type!r} model but the teacher a "
                         f"{teacher.config.model_type!r} one: not a student of this teacher")
    if student.get_input_embeddings().num_embeddings != teacher.get_input_embeddings().num_embeddings:
        raise ValueError("student and teacher vocabularies differ: not a student of this teacher")
    return student, load_projections(name)


def analyse(args):
    """Load the teacher, the dev subset and every student (each checked before any is measured); then
    for each student stream the subset and write every output. Returns the numbers, one dict per student."""
    import transformers as tf
    chosen = [int(x) for x in args.student_layer.split(",")] if args.student_layer else None
    check_paths(args)
    task = data.load_task(args.task)
    teacher = families.load_model(args.teacher, task["kind"])
    tokenizer = tf.AutoTokenizer.from_pretrained(args.teacher)
    rows = next(iter(task["dev"].values()))[:args.max_examples]
    encoded = data.encode(task, rows, tokenizer, args.max_length)
    students = [load_student(args, name, teacher, task) for name in args.student]  # every check before any work
    plans = [make_plan(teacher, student, projections, chosen, args.with_embeddings) for student, projections in students]
    every = []
    for name, out, (student, projections), (plan, notes) in zip(args.student, args.out, students, plans):
        for note in notes:
            print(f"note: {note}")
        batches = data.batches(encoded, args.batch_size, tokenizer.pad_token_id, order="given")
        results = summarise(measure(teacher, student, batches, plan, projections), plan)
        meta = {"task": task["name"], "teacher": str(args.teacher), "student": str(name),
                "student_seed": args.seed if name in UNTRAINED else None, "examples": len(rows),
                "with_embeddings": args.with_embeddings, "notes": notes,
                "definition": "cos angle(t_i - s_l, t_k - s_l) over real tokens, every teacher pair i < k "
                              "(teacher_layers) and every student layer l (student_layers); acute = cos > 0",
                "authors_single_pair_definition": "cos angle(t_1 - s_1, t_L - s_1), padding positions included "
                                                  "(the authors' analysis code)"}
        write_outputs(results, meta, Path(out))
        authors = ", ".join(f"{stack} {percent(r['authors_single_pair']['acute_share'])}"
                            for stack, r in results["stacks"].items())
        print(f"{percent(results['acute_share'])} of {results['n_angles']} angles acute, mean cosine "
              f"{decimal(results['mean_cosine'])} (authors' single pair: {authors}) -> {Path(out, 'angles.json')}",
              flush=True)
        every.append(results)
    return every


def main(argv=None):
    """The numbers of every student, in --student's order."""
    args = parse_args(argv)
    import transformers
    transformers.logging.set_verbosity_error()  # keep load reports and progress bars out of the output
    transformers.utils.logging.disable_progress_bar()
    try:
        return analyse(args)
    except (ValueError, OSError, data.HubUnavailable) as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
