"""Every job of the paper table runs: `bash run_all.sh paper --plan`, end to end, on a CPU.

Each job is its planned distill.py command line, run in process through distill.main, with
only three things swapped:
- the model: --teacher-base names a tiny random model of the planned architecture (BERT for
  GLUE, BART for DART, T5 for WMT16; hidden size 32, the planned depths), saved with a
  tokenizer of the same kind (the packaged MiniLM WordPiece, a byte-level BPE, a Unigram);
- the data: data.load_hub_dataset returns a few rows in the hub dataset's own schema (its
  columns, features and split names), so the loading code after the download is the real one;
- the length: --max-steps 2 --teacher-max-steps 2, and --out and --teacher-dir under tmp_path.
Every other flag is the plan's. A job passes when each of its students wrote metrics.json
with the task's metrics (MNLI matched and mismatched accuracy, QQP accuracy and F1, DART and
WMT16 dev and test BLEU) and with the plan's settings. What this cannot show: that the hub's
real models and data load (no network here) and anything about scores (random models).
About 45 s on 2 CPU cores, most of it beam search over 256 and 300 tokens by random BARTs and T5s.
"""
import collections
import json
import random
from pathlib import Path

import datasets
import pytest
import torch
import transformers as tf

import cli
import data
import distill
import experiments
import families

SWAPPED = ("out", "teacher-dir", "teacher-base")  # the flags this file replaces
SHORT = ["--max-steps", "2", "--teacher-max-steps", "2"]  # the flags it adds
ALIASES = {"max-source-length": "max_length"}  # plan flag -> distill.py setting, where they differ
EXPECTED_METRICS = {  # split -> metrics, in each student's metrics.json
    "mnli": {"dev-matched": {"accuracy"}, "dev-mismatched": {"accuracy"}}, "qqp": {"dev": {"accuracy", "f1"}},
    "qnli": {"dev": {"accuracy"}}, "sst2": {"dev": {"accuracy"}},
    "dart": {"dev": {"bleu"}, "test": {"bleu"}}, "wmt16-en-ro": {"dev": {"bleu"}, "test": {"bleu"}}}


def paper_plan():
    """The paper table's jobs: one distill.py argument list each, exactly as planned."""
    return [job.argv for job in experiments.jobs(experiments.TABLES["paper"])]


def flag(argv, name):
    return argv[argv.index(f"--{name}") + 1]


JOBS = paper_plan()
JOB_IDS = [f"{i:02d}-{Path(flag(job, 'out')).name}-{flag(job, 'init').replace(',', '+')}-"
           f"{flag(job, 'strategy').split(',')[0]}" for i, job in enumerate(JOBS)]


# ------------------------------------------------------------------ a few rows in the hub's schema
WORDS = ("the a red small old new city river house music food garden quick bright cold warm friend "
         "market winter summer train road book story light night morning").split()


def sentence(rng, n=6):
    return " ".join(rng.choice(WORDS) for _ in range(n))


GLUE = {  # text columns, label names (ClassLabel order), dev and test split names, as nyu-mll/glue
    "mnli": (("premise", "hypothesis"), ["entailment", "neutral", "contradiction"],
             ("validation_matched", "validation_mismatched"), ("test_matched", "test_mismatched")),
    "qqp": (("question1", "question2"), ["not_duplicate", "duplicate"], ("validation",), ("test",)),
    "qnli": (("question", "sentence"), ["entailment", "not_entailment"], ("validation",), ("test",)),
    "sst2": (("sentence",), ["negative", "positive"], ("validation",), ("test",)),
}


def glue(name, rng):
    columns, names, dev_splits, test_splits = GLUE[name]
    features = datasets.Features({**{c: datasets.Value("string") for c in columns},
                                  "label": datasets.ClassLabel(names=names), "idx": datasets.Value("int32")})

    def split(n, labelled=True):  # GLUE's test splits carry label -1
        rows = {c: [sentence(rng) for _ in range(n)] for c in columns}
        rows["label"] = [i % len(names) if labelled else -1 for i in range(n)]
        rows["idx"] = list(range(n))
        return datasets.Dataset.from_dict(rows, features=features)
    return datasets.DatasetDict({"train": split(8), **{s: split(4) for s in dev_splits},
                                 **{s: split(4, labelled=False) for s in test_splits}})


DART_FEATURES = datasets.Features({
    "gem_id": datasets.Value("string"), "gem_parent_id": datasets.Value("string"), "dart_id": datasets.Value("int32"),
    "tripleset": datasets.Sequence(datasets.Sequence(datasets.Value("string"))),
    "subtree_was_extended": datasets.Value("bool"), "target_sources": datasets.Sequence(datasets.Value("string")),
    "target": datasets.Value("string"), "references": datasets.Sequence(datasets.Value("string"))})


def dart(rng):
    """GEM/dart: training rows have no references; dev and test rows have about 3."""
    def split(name, n):
        rows = collections.defaultdict(list)
        for i in range(n):
            rows["gem_id"].append(f"dart-{name}-{i}")
            rows["gem_parent_id"].append(f"dart-{name}-{i}")
            rows["dart_id"].append(i)
            rows["tripleset"].append([[rng.choice(WORDS), "near", rng.choice(WORDS)] for _ in range(2)])
            rows["subtree_was_extended"].append(False)
            rows["target_sources"].append(["e2e"])
            references = [sentence(rng) for _ in range(3)] if name != "train" else []
            rows["target"].append(references[0] if references else sentence(rng))
            rows["references"].append(references)
        return datasets.Dataset.from_dict(dict(rows), features=DART_FEATURES)
    # 72 training rows: more than 3 student batches of 8 per 0.3 epoch, so one dev evaluation in 2 steps
    return datasets.DatasetDict({"train": split("train", 72), "validation": split("validation", 2),
                                 "test": split("test", 2)})


def wmt16(rng):
    features = datasets.Features({"translation": datasets.Translation(languages=("ro", "en"))})

    def split(n):
        pairs = [{"en": sentence(rng), "ro": " ".join(reversed(sentence(rng).split()))} for _ in range(n)]
        return datasets.Dataset.from_dict({"translation": pairs}, features=features)
    return datasets.DatasetDict({"train": split(72), "validation": split(2), "test": split(2)})


def fake_hub_dataset(path, name=None, **_):
    """data.load_hub_dataset for the three hub sources distill.py reads, a few rows each."""
    rng = random.Random(0)
    if path == "nyu-mll/glue":
        return glue(name, rng)
    if path == "GEM/dart":
        return dart(rng)
    assert (path, name) == ("wmt/wmt16", "ro-en"), (path, name)
    return wmt16(rng)


# ------------------------------------------------------------------ tiny models of the planned architectures
def all_text():
    """Every text the fake datasets hold, to train the tiny tokenizers on."""
    rng = random.Random(1)
    return [sentence(rng) for _ in range(200)] + ["translate English to Romanian: " + sentence(rng)] + WORDS


def bert_tokenizer():
    """The packaged MiniLM's uncased WordPiece (bert-base-uncased's vocabulary), restricted to the
    pieces the fake rows use (data.task_vocabulary): the same tokens, but the width ablation's
    five 576-wide students need not carry 30522 embedding rows each."""
    rows = [{"text": text} for text in all_text()]
    return data.task_vocabulary(tf.AutoTokenizer.from_pretrained(families.minilm_path()),
                                {"train": rows, "dev": {}})[0]


def bart_tokenizer():
    """A byte-level BPE in bart-large's layout (<s>=0, <pad>=1, </s>=2, <unk>=3, <mask>)."""
    from tokenizers import ByteLevelBPETokenizer
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(all_text(), vocab_size=300, min_frequency=1,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m)
              for m in json.loads(bpe._tokenizer.to_str())["model"]["merges"]]
    return tf.BartTokenizerFast(vocab=bpe.get_vocab(), merges=merges)


def t5_tokenizer():
    """A Unigram model in t5-base's layout (<pad>=0, </s>=1, <unk>=2, pieces marked with '▁')."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    unigram = Tokenizer(models.Unigram())
    unigram.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    unigram.train_from_iterator(all_text(), trainers.UnigramTrainer(
        vocab_size=200, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>"))
    vocab = [tuple(piece) for piece in json.loads(unigram.to_str())["model"]["vocab"]]
    return tf.T5TokenizerFast(vocab=vocab, extra_ids=0)


def tiny_base(hub_name):
    """A tiny random 'pre-trained' model standing in for the plan's --teacher-base, and its tokenizer."""
    torch.manual_seed(0)
    if hub_name == "bert-base-uncased":  # 12 blocks as bert-base; a fresh classifier is added on loading
        tokenizer = bert_tokenizer()
        return tf.BertForMaskedLM(tf.BertConfig(
            vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=12, num_attention_heads=4,
            intermediate_size=64, max_position_embeddings=512)), tokenizer
    if hub_name == "facebook/bart-large":  # 12 + 12 blocks as bart-large
        tokenizer = bart_tokenizer()
        return tf.BartForConditionalGeneration(tf.BartConfig(
            vocab_size=len(tokenizer), d_model=32, encoder_layers=12, decoder_layers=12, encoder_attention_heads=4,
            decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=1024,
            pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2)), tokenizer
    assert hub_name == "t5-base", hub_name  # 12 + 12 blocks as t5-base; the decoder starts from <pad>
    tokenizer = t5_tokenizer()
    return tf.T5ForConditionalGeneration(tf.T5Config(
        vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=64, num_layers=12, num_decoder_layers=12, num_heads=4,
        pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)), tokenizer


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """Tiny bases (built on first use) and the teachers' directories, shared by the jobs: the first
    job of a task fine-tunes its teacher, the later ones reuse it, as in the real profile."""
    root = tmp_path_factory.mktemp("paper")
    bases = {}

    def base(hub_name):
        if hub_name not in bases:
            bases[hub_name] = root / "bases" / hub_name.replace("/", "--")
            model, tokenizer = tiny_base(hub_name)
            model.save_pretrained(bases[hub_name])
            tokenizer.save_pretrained(bases[hub_name])
        return str(bases[hub_name])
    return {"base": base, "teachers": root / "teachers"}


def shortened(argv, shared, out):
    """The planned argument list with the model, the output directories and the length swapped."""
    assert not {"--max-steps", "--teacher-max-steps"} & set(argv)
    replacements = {"--out": str(out), "--teacher-dir": str(shared["teachers"] / Path(flag(argv, "teacher-dir")).name),
                    "--teacher-base": shared["base"](flag(argv, "teacher-base"))}
    short = list(argv)
    for name, value in replacements.items():
        short[short.index(name) + 1] = value
    return short + SHORT


def planned_settings(argv):
    """{setting: value} of every flag the plan gives, parsed as distill.py parses it."""
    parsed = vars(cli.parse_args(argv))
    names = [ALIASES.get(word[2:], word[2:].replace("-", "_")) for word in argv
             if word.startswith("--") and word[2:] not in SWAPPED]
    return {name: parsed[name] for name in names}


# ------------------------------------------------------------------ the jobs
@pytest.mark.parametrize("argv", JOBS, ids=JOB_IDS)
def test_paper_job_runs_and_records_the_planned_settings(argv, shared, tmp_path, monkeypatch):
    monkeypatch.setattr(data, "load_hub_dataset", fake_hub_dataset)
    short = shortened(argv, shared, tmp_path / "out")
    distill.main(short)
    task = flag(argv, "task")
    expected = planned_settings(argv)
    runs = cli.run_names(cli.parse_args(short))
    for init, strategy, seed, out in runs:
        metrics = json.loads((out / "metrics.json").read_text())
        assert (metrics["task"], metrics["init"], metrics["strategy"], metrics["seed"]) == (task, init, strategy, seed)
        assert metrics["steps"] == 2 and metrics["scale"] == "paper setup (hub models and data)"
        assert {split: set(values) for split, values in metrics["metrics"].items()} == EXPECTED_METRICS[task]
        assert metrics["teacher"]["metrics"], "the teacher's own dev score is reported beside the student's"
        check_settings(metrics, expected, short)


def check_settings(metrics, expected, short):
    """Every planned flag reached metrics.json's settings, and the authors' key settings by name."""
    settings = metrics["settings"]
    for name, value in expected.items():
        if name != "bf16":
            assert settings[name] == value, name
    assert settings["bf16"] is False and expected["bf16"] == "no"  # the paper's runs are fp32
    assert settings["teacher_base"] == short[short.index("--teacher-base") + 1]
    if metrics["task"] == "wmt16-en-ro":  # the authors' T5 settings
        assert (settings["optimizer"], settings["teacher_optimizer"]) == ("adafactor", "adafactor")
        assert (settings["warmup_steps"], settings["temperature"], settings["hid_norm"]) == (500, 2.0, "layernorm")
        assert settings["source_prefix"] == "translate English to Romanian: "
        assert (settings["max_length"], settings["max_target_length"]) == (300, 300)
        assert (settings["num_beams"], settings["teacher_num_beams"], settings["test_num_beams"]) == (4, 2, 5)
        if metrics["init"] == "copy":
            assert metrics["copied_blocks"] == {"encoder": [1, 7, 12], "decoder": [1, 7, 12]}
    if metrics["task"] == "dart":  # the authors' BART settings
        assert (settings["num_beams"], settings["warmup_steps"], settings["freeze_embeddings"]) == (5, 100, "yes")
        assert (settings["max_length"], settings["max_target_length"], settings["lr"]) == (128, 128, 1e-4)
        assert (settings["teacher_max_target_length"], settings["teacher_num_beams"], settings["test_num_beams"]) == \
            (256, 5, 6)
    if settings["student_width"]:  # the width ablation: the authors' never-trained BERT maps
        assert settings["projections"] == "fixed" and metrics["student_width"] == settings["student_width"]


def test_the_teacher_trains_and_decodes_with_its_own_target_length_and_beams(shared, tmp_path, monkeypatch):
    """The authors' BART teacher trains on 256-token targets, its students on 128 (the DART job as
    planned); their T5 teacher validates with beam 2, its students with 4 (added here to the DART job,
    whose beam search is the cheaper). Seen where they act: the target length the rows are encoded
    with, and each evaluation's beam search and BLEU."""
    argv = next(job for job in JOBS if flag(job, "task") == "dart")
    short = shortened(argv, shared, tmp_path / "out") + ["--teacher-num-beams", "2"]
    short[short.index("--teacher-dir") + 1] = str(tmp_path / "teacher")  # fine-tuned by this call
    short[short.index("--strategy") + 1] = "forward"
    monkeypatch.setattr(data, "load_hub_dataset", fake_hub_dataset)
    encoded, decoded, sources = [], [], []
    encode, generation_metrics = data.encode, distill.scoring.generation_metrics

    def spy_encode(task, examples, tokenizer, max_length, max_target_length=None, source_prefix=""):
        encoded.append(max_target_length)
        sources.append(examples[0]["source"])
        return encode(task, examples, tokenizer, max_length, max_target_length, source_prefix)

    def spy_generation_metrics(model, rows, tokenizer, batch_size, num_beams, max_length, bleu):
        decoded.append((num_beams, max_length, bleu))
        return generation_metrics(model, rows, tokenizer, batch_size, num_beams, max_length, bleu)
    monkeypatch.setattr(data, "encode", spy_encode)
    monkeypatch.setattr(distill.scoring, "generation_metrics", spy_generation_metrics)
    distill.main(short)
    assert encoded == [256] * 3 + [128] * 3  # train, dev and test: the teacher's, then the students'
    assert all(" : near : " in source and " | " in source for source in sources)  # the authors' triples (dart/utils.py)
    first_student = decoded.index((5, 128, "sacrebleu"))  # the teacher's evaluations come first, then the students'
    assert first_student > 0 and set(decoded[:first_student]) == {(2, 256, "sacrebleu")}
    assert set(decoded[first_student:-1]) == {(5, 128, "sacrebleu")}
    # the test split, once, on the best checkpoint: the authors' beam 6 (run_eval.sh) and multi-bleu.perl's scoring
    assert decoded[-1] == (6, 128, "multi-bleu")


def test_no_two_paper_runs_share_a_directory():
    """Two runs writing to one directory: the second would be skipped as finished (or now refused)."""
    directories = collections.Counter(out for argv in JOBS for *_, out in cli.run_names(cli.parse_args(argv)))
    assert not [str(out) for out, count in directories.items() if count > 1]
