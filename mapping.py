"""Layer-selection strategies for intermediate-layer matching, as pure functions.

Indexing, the same as Hugging Face's `output_hidden_states=True`:
hidden state 0 is the embedding output, hidden state k (1..L) is the output of
transformer block k. So "teacher layer 8" below means the 8th block's output,
which is `hidden_states[8]`, produced by the 0-based module `layer[7]`.

A matching is a list of (student_index, teacher_index) pairs; the hidden-state
loss pulls student hidden state `student_index` towards teacher hidden state
`teacher_index` (Yu, Wen, Mou 2025, Section 3). Run `python mapping.py 12 3` to
print every strategy's pairs for a 12-layer teacher and a 3-layer student.
"""
import math
import random
import sys

STRATEGIES = ("forward", "reverse", "random", "all-to-one", "none", "last")
COPY_CHOICES = ("forward", "lower", "upper", "reverse")


def check_depths(n_teacher, n_student):
    """Raise ValueError unless 1 <= n_student <= n_teacher."""
    if not (isinstance(n_teacher, int) and isinstance(n_student, int)):
        raise ValueError(f"depths must be integers, got teacher={n_teacher!r} student={n_student!r}")
    if n_teacher < 1 or n_student < 1:
        raise ValueError(f"depths must be positive, got teacher={n_teacher} student={n_student}")
    if n_student > n_teacher:
        raise ValueError(f"student ({n_student} layers) is deeper than teacher ({n_teacher} layers); "
                         f"use a student with at most {n_teacher} layers")


def select_layers(n_teacher, n_student):
    """Teacher layers that "forward" matching (and copy init) uses, 1-based.

    Evenly spaced and ending at the teacher's last layer: student layer k gets
    teacher layer ceil(k * n_teacher / n_student). For a 12-layer teacher this is
    exactly the authors' table (their code's layer lists): 3 -> [4, 8, 12], 4 -> [3, 6, 9, 12],
    9 -> [2, 3, 4, 6, 7, 8, 10, 11, 12]. Because n_teacher / n_student >= 1, the
    list is strictly increasing, so every student layer gets its own teacher layer.
    """
    check_depths(n_teacher, n_student)
    return [-(-k * n_teacher // n_student) for k in range(1, n_student + 1)]


def middle_layer(n_teacher):
    """The all-to-one default: the middle teacher layer (6 of 12, as the authors use)."""
    return max(1, n_teacher // 2)


def match(strategy, n_teacher, n_student, seed=0, target=None, embeddings=True):
    """(student_index, teacher_index) pairs for the hidden-state loss.

    forward    student k <- k-th selected teacher layer; embeddings <- embeddings.
    reverse    the selected list reversed: student 1 <- the teacher's last layer.
    random     a permutation of the selected list drawn from `seed` (the same seed
               gives the same permutation; distinct seeds distinct ones while there
               are enough: out_of_order). Neither forward nor reverse is drawn,
               except with 2 student layers, where the only other order is reverse.
    all-to-one every student hidden state, embeddings included, <- one teacher
               hidden state, `target` (default: the middle layer).
    none       no hidden-state loss at all: prediction matching only.
    last       only the student's last layer <- the teacher's last layer
               (the CR-ILD study's choice, Ko et al. 2023).

    embeddings=False drops every pair of the student's embedding output (index 0): the
    authors' decoder-only LLM runs match blocks only (distill.py --match-embeddings).
    """
    if not embeddings:
        return [(s, t) for s, t in match(strategy, n_teacher, n_student, seed, target) if s != 0]
    check_depths(n_teacher, n_student)
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    if target is not None and strategy != "all-to-one":
        raise ValueError(f"a target layer only applies to all-to-one, not to {strategy!r}")
    selected = select_layers(n_teacher, n_student)
    students = range(1, n_student + 1)
    if strategy == "forward":
        return [(0, 0)] + list(zip(students, selected))
    if strategy == "reverse":
        return [(0, 0)] + list(zip(students, reversed(selected)))
    if strategy == "random":
        return [(0, 0)] + list(zip(students, out_of_order(selected, seed)))
    if strategy == "all-to-one":
        target = middle_layer(n_teacher) if target is None else target
        if not (isinstance(target, int) and 0 <= target <= n_teacher):
            raise ValueError(f"all-to-one target {target!r} is out of range; choose 0..{n_teacher}")
        return [(k, target) for k in range(0, n_student + 1)]
    if strategy == "last":
        return [(n_student, n_teacher)]
    return []  # none


def out_of_order(layers, seed):
    """A permutation of `layers` that is neither the given order nor its reverse (where it can be:
    2 layers have only the reverse), a pure function of `seed`, and distinct from every lower
    seed's while such permutations remain: seeds 0, 1, 2, ... draw distinct ones, then start a new
    round (3 layers have 4: seeds 0-3, then 4-7, ...). So no seed's 'random' row is secretly another
    strategy's or another seed's configuration. Each seed shuffles from its own stream; a draw that
    is excluded is drawn again from that stream, so seeds whose draws were already distinct keep them."""
    layers = list(layers)
    excluded = [layers, layers[::-1]] if len(layers) > 2 else [layers]
    orders = math.factorial(len(layers)) - len(excluded)
    drawn = []
    for s in range(seed + 1):
        this_round = drawn[len(drawn) - len(drawn) % orders:] if orders > 0 else []
        rng, shuffled = random.Random(s), list(layers)
        while orders > 0 and (shuffled in excluded or shuffled in this_round):
            rng.shuffle(shuffled)
        drawn.append(shuffled)
    return drawn[-1]


def copy_layers(n_teacher, n_student, which="forward"):
    """Teacher blocks (1-based) whose weights initialise student blocks 1..n_student.

    forward  the selected layers in order (the authors' copy init);
    lower    the first n_student blocks; upper: the last n_student blocks
             (Wang et al. 2023 compare these two);
    reverse  the selected layers reversed;
    or an explicit list, e.g. "1,7,12" (the authors' T5 list; parse_layer_list).
    Embeddings (and the pooler) are always copied as well; see distill.build_student.
    """
    if which.replace(",", "").replace(" ", "").isdigit():
        return parse_layer_list(which, n_teacher, n_student)
    check_depths(n_teacher, n_student)
    if which == "forward":
        return select_layers(n_teacher, n_student)
    if which == "lower":
        return list(range(1, n_student + 1))
    if which == "upper":
        return list(range(n_teacher - n_student + 1, n_teacher + 1))
    if which == "reverse":
        return select_layers(n_teacher, n_student)[::-1]
    raise ValueError(f"unknown copy choice {which!r}; choose one of {', '.join(COPY_CHOICES)}")


def parse_pairs(text, n_teacher, n_student):
    """Explicit pairs from the command line: "0:0,1:4,2:8" -> [(0, 0), (1, 4), (2, 8)]."""
    check_depths(n_teacher, n_student)
    pairs = []
    for item in text.split(","):
        parts = item.strip().split(":")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise ValueError(f"bad pair {item!r}; write pairs as student:teacher, e.g. 0:0,1:4,2:8")
        student_index, teacher_index = int(parts[0]), int(parts[1])
        if student_index > n_student or teacher_index > n_teacher:
            raise ValueError(f"pair {item.strip()} is out of range; student indices are 0..{n_student}, "
                             f"teacher indices 0..{n_teacher}")
        pairs.append((student_index, teacher_index))
    return pairs


def parse_layer_list(text, n_teacher, n_student):
    """An explicit copy list from the command line: "1,7,12" -> [1, 7, 12]."""
    check_depths(n_teacher, n_student)
    items = [item.strip() for item in text.split(",")]
    if not all(item.isdigit() for item in items):
        raise ValueError(f"bad layer list {text!r}; write 1-based teacher blocks, e.g. 1,7,12")
    layers = [int(item) for item in items]
    if len(layers) != n_student or not all(1 <= layer <= n_teacher for layer in layers):
        raise ValueError(f"layer list {text!r} needs {n_student} teacher blocks, each in 1..{n_teacher}")
    return layers


def format_pairs(pairs):
    return ", ".join(f"{s}<-{t}" for s, t in pairs) if pairs else "(no hidden-state loss)"


def describe_plans(plans, teacher_depths):
    """The mapping and copy plan of every student (distill.Plan), as the markdown table distill.py
    prints before training, and a note wherever copied blocks and matched teacher layers differ
    (only when asked for with --copy-from or --pairs: the authors' LLM code copied blocks 1, 5,
    10, ... of 36 but matched 4, 8, 12, ..., a defect the qwen3 table reproduces, experiments.qwen3)."""
    rows = [f"teacher: {teacher_depths} blocks; hidden state 0 = embeddings",
            "| run | stack | pairs (student<-teacher) | copied teacher blocks |", "|---|---|---|---|"]
    notes = []
    for plan in plans:
        for stack, pairs in plan.pairs.items():
            copied = plan.copied[stack] if plan.copied else "none (random init)"
            rows.append(f"| {plan.name} | {stack} | {format_pairs(pairs)} | {copied} |")
            matched = sorted(t for s, t in pairs if s > 0)
            matching_selection = plan.strategy in ("forward", "reverse", "random", "pairs")
            if plan.copied and matching_selection and matched != sorted(copied):
                notes.append(f"note: {plan.name} ({stack}) copies teacher blocks {copied} but matches teacher "
                             f"layers {matched}")
    return "\n".join(rows + notes)


def mapping_table(n_teacher, n_student, seed=0):
    """A markdown table: every strategy's pairs and every copy choice's blocks."""
    rows = [f"Teacher {n_teacher} layers, student {n_student} layers "
            f"(student<-teacher hidden states; 0 = embeddings; random seed {seed})", "",
            "| strategy | pairs (student<-teacher) |", "|---|---|"]
    rows += [f"| {s} | {format_pairs(match(s, n_teacher, n_student, seed))} |" for s in STRATEGIES]
    rows += ["", "| copy init | teacher blocks copied into student blocks 1.. |", "|---|---|"]
    rows += [f"| {c} | {copy_layers(n_teacher, n_student, c)} |" for c in COPY_CHOICES]
    return "\n".join(rows)


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: python mapping.py N_TEACHER N_STUDENT [SEED]")
    try:
        print(mapping_table(*[int(a) for a in sys.argv[1:]]))
    except ValueError as error:
        sys.exit(f"error: {error}")
