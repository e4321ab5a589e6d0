"""Decoder-only language models (tiny random Llama, Qwen3 and GPT-2): plan, copy init, masked
losses, training, LoRA students, and the language-modeling metrics on hand-checked cases."""
import math
from types import SimpleNamespace

import pytest
import torch
import transformers as tf

import cli
import data
import distill
import families
import losses
import mapping
import scoring
from test_distill import losses_while_training, make_run, student_loss, teacher_pass, train_a_few_steps
from test_families import tiny_model

DECODERS = ("llama", "qwen3", "gpt2")


def lm_args(*extra):
    """distill.py's settings for a language-modeling task, resolved as distill.distill resolves them."""
    args = cli.parse_args(["--lr", "1e-3", "--student-layers", "2", *extra])
    return cli.resolve_settings(args, {"kind": "language-modeling", "name": "tiny", "offline": True})


def lm_batch():
    """Two rows of a causal-LM batch: the second is padded (pad id 0, labels -100 there)."""
    input_ids = torch.tensor([[5, 9, 12, 7, 30, 22], [8, 14, 3, 0, 0, 0]])
    attention_mask = (input_ids != 0).long()
    return {"input_ids": input_ids, "attention_mask": attention_mask,
            "labels": input_ids.masked_fill(attention_mask == 0, -100)}


def test_gradient_accumulation_steps_as_one_batch_of_all_its_rows():
    """--grad-accumulation 2 with batches of 4 takes the step one batch of 8 takes (the same rows: one
    shuffle, cut into batches; equal-length rows, so every loss term is a mean over the same tokens)."""
    teacher = tiny_model("llama", layers=4)
    generator = torch.Generator().manual_seed(3)
    rows = [{"input_ids": ids, "labels": ids} for ids in torch.randint(5, 60, (16, 6), generator=generator).tolist()]
    trained = []
    for batch_size, accumulation in ((8, 1), (4, 2)):
        args = lm_args("--batch-size", str(batch_size), "--grad-accumulation", str(accumulation))
        run = make_run(teacher, args, "random", "forward")
        plan = {**cli.schedule(args, len(rows), "student"), "steps": 2, "eval_steps": set()}
        assert plan["steps_per_epoch"] == 2  # 16 rows, 8 a step
        distill.train([run], teacher, {"train": rows, "dev": {}}, {"kind": "language-modeling"}, PAD, args, plan,
                      cli.loss_settings(args, "student"), desc="test")
        trained.append(run)
    one_batch, accumulated = trained
    assert one_batch.log[-1].keys() == accumulated.log[-1].keys() == {"step", "ce", "kl", "hid"}
    assert all(accumulated.log[-1][k] == pytest.approx(v, abs=1e-4) for k, v in one_batch.log[-1].items())
    for (name, a), b in zip(one_batch.model.named_parameters(), accumulated.model.parameters()):
        assert torch.allclose(a, b, atol=1e-5), name


# ------------------------------------------------------------------ plan and copy init
def test_language_models_match_blocks_only_normalised_and_copy_what_they_match():
    args = lm_args()
    assert (args.hid_norm, args.hid_reduction, args.match_embeddings) == ("l2", "token", False)
    teacher = tiny_model("qwen3", layers=4)
    plans = [distill.plan_run(teacher.config, args, "copy", strategy, 0, distill.Path(strategy))
             for strategy in ("forward", "reverse", "all-to-one")]
    assert [p.pairs for p in plans] == [{"decoder": [(1, 2), (2, 4)]}, {"decoder": [(1, 4), (2, 2)]},
                                        {"decoder": [(1, 2), (2, 2)]}]
    assert all(p.copied == {"decoder": [2, 4]} for p in plans)  # copy list = forward selection
    assert "note" not in mapping.describe_plans(plans, families.stack_depths(teacher.config))
    with_embeddings = distill.plan_run(teacher.config, lm_args("--match-embeddings", "yes"), "copy", "forward", 0,
                                       distill.Path("x"))
    assert with_embeddings.pairs == {"decoder": [(0, 0), (1, 2), (2, 4)]}
    asked = distill.plan_run(teacher.config, lm_args("--copy-from", "lower"), "copy", "forward", 0, distill.Path("x"))
    assert "x (decoder) copies teacher blocks [1, 2] but matches teacher layers [2, 4]" in \
        mapping.describe_plans([asked], families.stack_depths(teacher.config))
    pairs = distill.plan_run(teacher.config, lm_args("--pairs", "1:3,2:4"), "copy", "forward", 0, distill.Path("p"))
    assert "p (decoder) copies teacher blocks [2, 4] but matches teacher layers [3, 4]" in \
        mapping.describe_plans([pairs], families.stack_depths(teacher.config))


@pytest.mark.parametrize("model_type", DECODERS)
def test_copy_init_copies_the_planned_blocks_embeddings_norm_and_head(model_type):
    teacher = tiny_model(model_type, layers=4)
    student, copied = distill.build_student(teacher, "copy", {"decoder": 2})
    assert copied == {"decoder": [2, 4]}
    prefix = families.block_prefixes(teacher)["decoder"]
    teacher_state = teacher.state_dict()
    for key, value in student.state_dict().items():
        source = families.teacher_key(key, copied, {"decoder": prefix})
        assert torch.equal(value, teacher_state[source]), key  # every tensor: blocks, embeddings, norm, head
    assert {key.split(".")[2] for key in student.state_dict() if key.startswith(prefix + ".")} == {"0", "1"}


# ------------------------------------------------------------------ the loss
@pytest.mark.parametrize("model_type", DECODERS)
def test_the_loss_masks_padding(model_type):
    teacher = tiny_model(model_type, layers=4).eval()
    args = lm_args()
    run = make_run(teacher, args, "random", "reverse")
    run.model.eval()  # no dropout: the two passes must agree
    batch = lm_batch()
    loss, parts = student_loss(run, batch, teacher_pass(teacher, batch, [run], args), args)
    assert set(parts) == {"ce", "kl", "hid"} and all(value > 0 for value in parts.values())
    changed = {**batch, "input_ids": batch["input_ids"].clone()}
    changed["input_ids"][1, 3:] = torch.tensor([40, 41, 42])  # new ids where the row is padded
    again, _ = student_loss(run, changed, teacher_pass(teacher, changed, [run], args), args)
    assert torch.allclose(loss, again, atol=1e-6)
    changed["input_ids"][1, 1] = 40  # a real token does count
    assert not torch.allclose(loss, student_loss(run, changed, teacher_pass(teacher, changed, [run], args), args)[0])


def test_kl_is_per_next_token_and_masked_like_ce():
    config = tiny_model("llama").config
    batch = lm_batch()
    batch["labels"][0, :3] = -100  # a prompt: CE (and KL) score only the completion
    logits = torch.randn(2, 6, 64)
    scored, mask = families.scored_logits(logits, batch, config)
    assert scored.shape == (2, 5, 64) and torch.equal(scored, logits[:, :-1])
    assert mask.tolist() == [[0, 0, 1, 1, 1], [1, 1, 0, 0, 0]]  # position i predicts token i + 1


def test_kl_every_position_is_the_authors_llm_kl():
    """--kl-positions every (llm/sft_trainer.py, kl_loss): the per-position KL at every position of the
    input, prompt and padding included, mean over batch x tokens, times real / total tokens."""
    torch.manual_seed(0)
    batch = lm_batch()
    student_logits, teacher_logits = torch.randn(2, 6, 64), torch.randn(2, 6, 64)
    per_position = (torch.softmax(teacher_logits, -1) * (torch.log_softmax(teacher_logits, -1)
                                                          - torch.log_softmax(student_logits, -1))).sum(-1)
    expected = per_position.sum() / 12 * 9 / 12  # 12 positions, 9 of them real tokens
    assert torch.allclose(losses.kd_loss_every_position(student_logits, teacher_logits, batch["attention_mask"]),
                          expected, atol=1e-6)


def test_kl_every_position_reaches_the_loss_and_padding_counts():
    """In a student's loss, --kl-positions every changes the KL term, and new ids under the padding
    change it (the authors' KL reads the padded positions' logits), where the default ignores them."""
    teacher = tiny_model("llama", layers=4).eval()
    args = lm_args("--kl-positions", "every")
    run = make_run(teacher, args, "random", "forward")
    run.model.eval()
    batch = lm_batch()
    _, parts = student_loss(run, batch, teacher_pass(teacher, batch, [run], args), args)
    _, default_parts = student_loss(run, batch, teacher_pass(teacher, batch, [run], lm_args()), lm_args())
    assert not torch.allclose(parts["kl"], default_parts["kl"]) and torch.equal(parts["ce"], default_parts["ce"])
    changed = {**batch, "input_ids": batch["input_ids"].clone()}
    changed["input_ids"][1, 3:] = torch.tensor([40, 41, 42])
    _, again = student_loss(run, changed, teacher_pass(teacher, changed, [run], args), args)
    assert not torch.allclose(parts["kl"], again["kl"])


def test_kl_every_position_is_refused_outside_language_modeling():
    args = cli.parse_args(["--kl-positions", "every"])
    with pytest.raises(ValueError, match="--kl-positions every is the authors' decoder-only KL"):
        cli.resolve_settings(args, {"kind": "generation", "name": "tiny", "offline": True})


@pytest.mark.parametrize("model_type", DECODERS)
@pytest.mark.parametrize("strategy", ["forward", "reverse", "random", "all-to-one", "none"])
def test_every_strategy_trains_and_the_loss_goes_down(model_type, strategy):
    seen, parts = losses_while_training(tiny_model(model_type, layers=4), lm_args(), lm_batch(), strategy, 6)
    assert ("hid" in parts) == (strategy != "none")
    assert seen[-1] < seen[0]


def test_ce_alone_never_runs_the_teacher_and_trains_the_same_bits(monkeypatch):
    """--a-kl 0 without matching (smollm2's no-teacher grid) is CE alone: the teacher's forward pass,
    several times a small student's, is skipped, and the student is what it was with the pass (its KL
    weighted 0); with a KL weight the pass runs every step."""
    teacher = tiny_model("llama", layers=4)
    calls = []
    teacher.register_forward_pre_hook(lambda module, inputs: calls.append(1))
    rows = [{"input_ids": ids, "labels": ids} for ids in torch.randint(5, 60, (8, 6)).tolist()]

    def trained(a_kl):
        calls.clear()
        args = lm_args("--batch-size", "4", "--a-kl", a_kl)
        run = make_run(teacher, args, "random", "none")
        plan = {**cli.schedule(args, len(rows), "student"), "steps": 2, "eval_steps": set()}
        distill.train([run], teacher, {"train": rows, "dev": {}}, {"kind": "language-modeling"}, PAD, args, plan,
                      cli.loss_settings(args, "student"), desc="test")
        return run, len(calls)

    (ce_alone, ce_calls), (with_kl, kl_calls) = trained("0"), trained("1")
    assert (ce_calls, kl_calls) == (0, 2)
    assert ce_alone.log[-1].keys() == {"step", "ce"} and with_kl.log[-1].keys() == {"step", "ce", "kl"}
    monkeypatch.setattr(distill, "reads_teacher", lambda runs, loss: True)
    forced, forced_calls = trained("0")
    assert forced_calls == 2 and forced.log[-1].keys() == {"step", "ce", "kl"}
    for (name, a), b in zip(ce_alone.model.named_parameters(), forced.model.parameters()):
        assert torch.equal(a, b), name


# ------------------------------------------------------------------ LoRA students
def test_a_lora_student_trains_adapters_only_and_saves_as_a_plain_model(tmp_path):
    teacher = tiny_model("llama", layers=4)
    args = lm_args("--lora", "4", "--lora-alpha", "8")
    run = make_run(teacher, args, "copy", "forward")
    trainable = [name for name, p in run.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in name for name in trainable)
    batch = lm_batch()
    train_a_few_steps(run, lambda: student_loss(run, batch, teacher_pass(teacher, batch, [run], args), args), 3)
    run.model.eval()
    with torch.no_grad():
        expected = run.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    families.save_model(run.model, tf.AutoTokenizer.from_pretrained(families.minilm_path()), tmp_path)
    assert not list(tmp_path.glob("adapter_*"))
    loaded = tf.AutoModelForCausalLM.from_pretrained(tmp_path)
    assert type(loaded) is tf.LlamaForCausalLM and loaded.config.num_hidden_layers == 2
    with torch.no_grad():
        logits = loaded(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    assert torch.allclose(logits, expected, atol=1e-5)


def test_task_kind_and_teacher_family_must_agree():
    families.check_task_kind(tiny_model("gpt2").config, "language-modeling")
    with pytest.raises(ValueError, match="'bert' teacher cannot serve a language-modeling task"):
        families.check_task_kind(tiny_model("bert").config, "language-modeling")
    with pytest.raises(ValueError, match="'llama' teacher cannot serve a classification task"):
        families.check_task_kind(tiny_model("llama").config, "classification")


def test_lora_is_refused_outside_language_modeling():
    args = cli.parse_args(["--lora", "8"])
    with pytest.raises(ValueError, match="decoder-only language models"):
        cli.resolve_settings(args, {"kind": "classification", "name": "tiny", "offline": True})


# ------------------------------------------------------------------ metrics, hand-checked
class BigramModel(torch.nn.Module):
    """A language model whose next-token probabilities depend on the current token only."""

    def __init__(self, probabilities):
        super().__init__()
        self.log_probs = torch.log(torch.tensor(probabilities))

    @property
    def device(self):
        return torch.device("cpu")

    def forward(self, input_ids, attention_mask=None):
        return SimpleNamespace(logits=self.log_probs[input_ids])


# token 0 is padding; P[a][b] = p(next b | current a)
BIGRAM = BigramModel([[.25, .25, .25, .25], [.1, .2, .5, .2], [.25, .25, .25, .25], [.125, .125, .5, .25]])
PAD = SimpleNamespace(pad_token_id=0)


def test_perplexity_is_exp_of_the_mean_nll_over_real_next_tokens():
    rows = [{"input_ids": [1, 2, 2], "labels": [1, 2, 2]}, {"input_ids": [3, 1], "labels": [3, 1]}]
    # NLL: -ln P[1][2] - ln P[2][2] - ln P[3][1] = ln 2 + ln 4 + ln 8 = 6 ln 2 over 3 tokens
    metrics = scoring.perplexity(BIGRAM, rows, PAD, batch_size=2)
    assert metrics["perplexity"] == pytest.approx(4.0) and metrics["nll"] == pytest.approx(2 * math.log(2))


def test_multiple_choice_scores_as_lm_eval_harness():
    # prompt [1]; choice A: [2, 2] ("a long ending", 13 characters), choice B: [3] ("b", 1)
    long_ending = {"input_ids": [1, 2, 2], "labels": [-100, 2, 2]}  # ln .5 + ln .25 = ln .125
    short_ending = {"input_ids": [1, 3], "labels": [-100, 3]}  # ln .2: more likely, but per character less
    rows = [{"choices": [long_ending, short_ending], "lengths": [13, 1], "label": 0}]
    assert scoring.multiple_choice(BIGRAM, rows, PAD, batch_size=4) == {"acc": 0.0, "acc_norm": 1.0}


def test_token_accuracy_counts_the_gold_completions_most_likely_next_tokens():
    # BIGRAM's most likely next token: 2 after 1 and after 3; after 2 a tie, which argmax gives to token 0
    hit = {"input_ids": [1, 2, 3], "labels": [-100, 2, 3]}  # 2 after 1: right; 3 after 2: wrong
    rows = [{"choices": [], "label": 0, "gold": hit},  # a row to choose from: its gold completion is scored
            {"input_ids": [3, 2], "labels": [3, 2]}]  # plain text: the row itself (2 after 3: right)
    assert scoring.token_accuracy(BIGRAM, rows, PAD, batch_size=2) == {"token_accuracy": pytest.approx(2 / 3)}


def test_rows_to_choose_or_answer_from_carry_their_gold_completion():
    tokenizer = tf.AutoTokenizer.from_pretrained(families.minilm_path())
    task = {"kind": "language-modeling"}
    (choose,) = data.encode(task, [{"prompt": "the man", "choices": ["ran", "went home"], "label": 1}], tokenizer, 64)
    assert choose["gold"] == choose["choices"][1]  # the right ending, scored as lm-eval scores it
    (answer,) = data.encode(task, [{"prompt": "who went?", "answers": ["the man", "a man"]}], tokenizer, 64)
    assert tokenizer.decode([t for t in answer["gold"]["labels"] if t != -100]) == "the man"


def test_select_by_token_accuracy_scores_dev_by_it_and_keeps_the_task_metric_for_test(monkeypatch):
    """--select-by token-accuracy: dev evaluations report token accuracy alone and a higher one is
    better, even for perplexity's task; the test split is scored by the task's metric."""
    settings = lm_args("--select-by", "token-accuracy")
    task = {"kind": "language-modeling", "metrics": ("perplexity",), "higher_is_better": False}
    rows = {"dev": [{"input_ids": [1, 2, 3], "labels": [1, 2, 3]}]}
    metrics, score, *_ = distill.evaluate(BIGRAM, rows, task, PAD, settings)
    assert metrics == {"dev": {"token_accuracy": 0.5}} and score == 0.5
    test_metrics, *_ = distill.evaluate(BIGRAM, rows, task, PAD, settings, role="test")
    assert set(test_metrics["dev"]) == {"perplexity", "nll"}
    run = SimpleNamespace(model=torch.nn.Linear(1, 1), history=[], best=None)
    for step, score in ((1, 0.4), (2, 0.6), (3, 0.5)):
        monkeypatch.setattr(distill, "evaluate", lambda *a, score=score: ({"dev": {"token_accuracy": score}}, score,
                                                                          None, None))
        distill.record_evaluation(run, step, rows["dev"], task, PAD, settings, "student")
    assert run.best.step == 2
    with pytest.raises(ValueError, match="--select-by token-accuracy scores a language model's completions"):
        cli.resolve_settings(cli.parse_args(["--select-by", "token-accuracy"]),
                             {"kind": "classification", "name": "rt-sentiment", "offline": True})


def test_scored_completion_scores_the_completion_only():
    tokenizer = tf.AutoTokenizer.from_pretrained(families.minilm_path())
    task = {"kind": "language-modeling"}
    (row,) = data.encode(task, [{"prompt": "the man went", "completion": " to the river"}], tokenizer, 64)
    scored = [tokenizer.convert_ids_to_tokens(t) for t in row["labels"] if t != -100]
    assert scored == ["to", "the", "river"]  # [CLS], the prompt and [SEP] are never scored
    (cut,) = data.encode(task, [{"prompt": "the man went", "completion": " to the river"}], tokenizer, 4)
    assert cut["labels"][-1] == -100 and len(cut["input_ids"]) == 4  # cut from the left: the end stays


class FixedAnswers(torch.nn.Module):
    """generate() appends fixed token ids to every prompt (greedy decoding, as far as the caller can tell)."""

    def __init__(self, answer_ids):
        super().__init__()
        self.answer_ids = torch.tensor(answer_ids)

    @property
    def device(self):
        return torch.device("cpu")

    def generate(self, input_ids, attention_mask, **kwargs):
        assert attention_mask[:, -1].all()  # padded on the left: every prompt ends at the last column
        return torch.cat([input_ids, self.answer_ids.expand(len(input_ids), -1)], dim=1)


class Characters:
    """A tokenizer with one id per character (its code point; 0 pads)."""
    pad_token_id = 0

    @staticmethod
    def ids(text):
        return [ord(c) for c in text]

    @staticmethod
    def batch_decode(rows, skip_special_tokens=True):
        return ["".join(chr(i) for i in row.tolist() if i) for row in rows]


def test_greedy_answers_are_cut_at_the_first_line_and_scored_by_exact_match():
    model = FixedAnswers(Characters.ids(" The Blue house\nQ: and then?"))
    rows = [{"input_ids": Characters.ids("Q: Where?\n\nA:"), "answers": ["blue house!"]},
            {"input_ids": Characters.ids("A:"), "answers": ["a red car", "blue house"]}]
    # row 2 has two gold answers: lm-eval's leave-one-out mean, (0 + 1) / 2
    assert scoring.greedy_answers(model, rows, Characters, 2) == {"exact_match": pytest.approx(0.75)}


@pytest.mark.parametrize("task", ["hellaswag", "coqa"])
def test_hub_tasks_fail_at_the_hub_with_one_clear_line(task, tmp_path, monkeypatch):
    import datasets
    import huggingface_hub
    # both hub clients read HF_HUB_OFFLINE once, at import: patch their constants to fail at once
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    with pytest.raises(SystemExit) as exit_info:
        distill.main(["--task", task, "--teacher-base", "Qwen/Qwen3-0.6B", "--out", str(tmp_path)])
    assert str(exit_info.value).startswith("error: could not load dataset") and "bible-lm" in str(exit_info.value)


def test_hub_rows_become_prompts_completions_choices_and_answers(monkeypatch):
    """The loaders on two hand-made rows in the hub datasets' schemas (Rowan/hellaswag, EleutherAI/coqa)."""
    swag = {"activity_label": "Roof", "ctx_a": "A man climbs up.", "ctx_b": "he", "label": "1",
            "endings": ["falls [header] off.", "fixes the roof.", "sings.", "leaves."]}
    story = {"story": "Ann went home.", "questions": {"input_text": ["Who went?", "Where?"]},
             "answers": {"input_text": ["Ann", "home"]}, "additional_answers": {"0": {"input_text": ["Ann", "Home"]}}}
    fake = {"Rowan/hellaswag": {"train": [swag], "validation": [swag] * 10},
            "EleutherAI/coqa": {"train": [story], "validation": [story] * 10}}
    monkeypatch.setattr(data, "load_hub_dataset", lambda name: fake[name])
    train, dev, test = data.load_hellaswag()
    assert train == [{"prompt": "Roof: A man climbs up. He", "completion": " fixes the roof."}]
    assert dev["dev"] == test["test"][:1] and len(test["test"]) == 10
    assert dev["dev"][0] == {"prompt": "Roof: A man climbs up. He", "label": 1,
                             "choices": ["falls off.", "fixes the roof.", "sings.", "leaves."]}
    train, dev, test = data.load_coqa()
    assert [row["completion"] for row in train] == [" Ann", " home"]
    assert train[1]["prompt"] == "Ann went home.\n\nQ: Who went?\n\nA: Ann\n\nQ: Where?\n\nA:"
    assert test["test"][0] == {"prompt": train[1]["prompt"], "answers": ["home"]}  # "Home" is the same answer


def test_the_authors_coqa_rows_hold_one_question_and_lose_their_end_when_cut(monkeypatch):
    """--coqa-train-rows authors: llm/tasks/coqa.py's rows (one question each, "A: answer" completions,
    the last a bare "A:"), cut at the end as TRL cuts; a row cut before its completion is left out."""
    story = {"story": "Ann went home.", "questions": {"input_text": ["Who went?", "Where?"]},
             "answers": {"input_text": ["Ann", "home"]}}
    monkeypatch.setattr(data, "load_hub_dataset", lambda name: {"train": [story], "validation": [story] * 10})
    train, _, _ = data.load_coqa("authors")
    assert [(row["prompt"], row["completion"]) for row in train] == [
        ("Ann went home.\n\nQ: Who went?\n\n", "A: Ann\n\n"), ("Ann went home.\n\nQ: Where?\n\n", "A:")]
    tokenizer = tf.AutoTokenizer.from_pretrained(families.minilm_path())
    task = {"kind": "language-modeling"}
    whole = data.encode(task, train[:1], tokenizer, 64)[0]
    (cut,) = data.encode(task, train[:1], tokenizer, len(whole["input_ids"]) - 2)
    assert cut["input_ids"] == whole["input_ids"][:-2]  # the end goes, the story stays
    assert data.encode(task, train[:1], tokenizer, 5) == []  # nothing of the answer left
    with pytest.raises(ValueError, match="--coqa-train-rows is for --task coqa"):
        cli.run_names(cli.parse_args(["--task", "bible-lm", "--coqa-train-rows", "authors"]))


def test_coqa_prompts_and_exact_match_follow_lm_eval_harness():
    assert data.coqa_prompt("Story.", ["Who?", "Where?"], ["Ann"]) == "Story.\n\nQ: Who?\n\nA: Ann\n\nQ: Where?\n\nA:"
    assert data.coqa_exact_match(["The park."], "park") == 1.0
    assert data.hellaswag_text("Roof: [header] How to fix [title] a roof") == "Roof: How to fix. a roof"
