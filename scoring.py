"""How a model is scored on a task: accuracy (and F1), BLEU against every reference,
perplexity, and the two hub tasks of the decoder-only setting as lm-eval-harness scores them
(HellaSwag: the log-likelihood of each ending; CoQA: exact match of greedy answers).

Each function takes a model in eval mode and encoded rows (data.encode), and returns plain numbers;
evaluate() puts the model in eval mode and scores every split with the task's metric.
"""
import math
import re

import sacrebleu
import torch

import data

MAX_ANSWER_TOKENS = 32  # CoQA answers are a few words; each is cut at its first line (greedy_answers)

def classification_metrics(model, rows, task, tokenizer, batch_size):
    """Accuracy (and F1) on encoded rows, and majority_note's warning (None for a classifier that learnt)."""
    predicted, gold = [], []
    for batch in data.batches(rows, batch_size, tokenizer.pad_token_id, order="length"):
        labels = batch.pop("labels")
        predicted.append(model(**data.model_inputs(data.to_device(batch, model.device))).logits.argmax(-1))
        gold.append(labels)
    predicted, gold = torch.cat(predicted).cpu(), torch.cat(gold)
    metrics = {"accuracy": (predicted == gold).float().mean().item()}
    if "f1" in task["metrics"] and task["num_labels"] == 2:  # F1 of the positive class, as GLUE reports
        true_pos = ((predicted == 1) & (gold == 1)).sum().item()
        metrics["f1"] = 2 * true_pos / max(1, (predicted == 1).sum().item() + (gold == 1).sum().item())
    return metrics, majority_note(predicted.tolist(), gold.tolist(), task.get("label_names"))


MAJORITY_MARGIN = 0.01  # a classifier this close to the majority-class rate scores what one answer for every row scores


def majority_note(predicted, gold, label_names=None):
    """A warning for a classifier that answers one class for every row, or scores within a point of
    the rows' majority-class rate: it has learnt nothing that the label counts alone do not give."""
    majority = max(map(gold.count, set(gold))) / len(gold)
    accuracy = sum(p == g for p, g in zip(predicted, gold)) / len(gold)
    if len(set(predicted)) == 1:
        name = label_names[predicted[0]] if label_names else predicted[0]
        return f"predicts one class ({name}) for every dev row (accuracy {accuracy:.1%}, majority class {majority:.1%})"
    if accuracy - majority < MAJORITY_MARGIN:
        return f"accuracy {accuracy:.1%} is within 1 point of the majority class ({majority:.1%}): it has not learnt"
    return None


def generation_metrics(model, rows, tokenizer, batch_size, num_beams, max_length, bleu="sacrebleu"):
    predictions = []
    for batch in data.batches(rows, batch_size, tokenizer.pad_token_id, order="given"):
        batch = data.to_device(batch, model.device)
        generated = model.generate(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                   num_beams=num_beams, max_new_tokens=max_length)
        predictions += tokenizer.batch_decode(generated, skip_special_tokens=True)
    references = [row.get("references") or [row["target"]] for row in rows]  # DART has about 3 an example
    if bleu == "multi-bleu":
        return {"bleu": multi_bleu(predictions, references)}, predictions
    # None where an example has fewer references than the most
    streams = [[refs[k] if k < len(refs) else None for refs in references] for k in range(max(map(len, references)))]
    # an uncased tokenizer (MiniLM's) can only write lower case: score case-insensitively, or a perfect
    # model would score 81 BLEU on kjv-bbe (the gold targets decoded back from their word pieces)
    lowercase = bool(getattr(tokenizer, "do_lower_case", False))
    return {"bleu": sacrebleu.corpus_bleu(predictions, streams, lowercase=lowercase).score}, predictions


def multi_bleu_words(text):
    """The authors' DART test text (dart/run_eval.py): every non-word character its own token, single
    spaces, lower case: "Alimentum's 5-star" -> "alimentum ' s 5 - star"."""
    return " ".join(" ".join(re.split(r"(\W)", text)).split()).lower()


def multi_bleu(predictions, references, files=3):
    """BLEU as the authors scored DART's test split: Moses' multi-bleu.perl over multi_bleu_words text
    against three reference files (dart/scripts/run_eval_on_dart.sh: test.ref0-2), one line an example,
    empty where an example has fewer references (a fourth and later reference is not read).
    multi-bleu.perl counts an empty line as a reference of length 0 when it picks each example's
    closest reference length, so those lines stay. sacrebleu computes the same number on text
    tokenised already: no tokeniser, no smoothing (multi-bleu.perl scores 0 when an n-gram order has
    no match), the closest reference length with ties to the shorter. Checked against multi-bleu.perl
    itself on 300 random corpora (results/paper/NOTES.md)."""
    streams = [[multi_bleu_words(refs[k]) if k < len(refs) else "" for refs in references] for k in range(files)]
    return sacrebleu.corpus_bleu([multi_bleu_words(p) for p in predictions], streams, tokenize="none",
                                 smooth_method="none", force=True).score


def next_token_logits(model, batch):
    """Each position's logits for the next token, and that token's id (the labels shifted; -100 where
    nothing is scored)."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    return logits, batch["labels"][:, 1:]


def next_token_losses(model, batch):
    """Each row's summed NLL of its scored next tokens (labels != -100 after the shift), and their count."""
    logits, labels = next_token_logits(model, batch)
    nll = torch.nn.functional.cross_entropy(logits.float().transpose(1, 2), labels, ignore_index=-100, reduction="none")
    return nll.sum(1), (labels != -100).sum(1)


def perplexity(model, rows, tokenizer, batch_size):
    """exp of the mean NLL over every scored next token of the held-out text (not a mean of
    per-row perplexities: long rows weigh by their length)."""
    total, count = 0.0, 0
    for batch in data.batches(rows, batch_size, tokenizer.pad_token_id, order="length"):
        nll, n = next_token_losses(model, data.to_device(batch, model.device))
        total, count = total + nll.sum().item(), count + n.sum().item()
    return {"perplexity": math.exp(total / count), "nll": total / count}


def token_accuracy(model, rows, tokenizer, batch_size):
    """Teacher-forced next-token accuracy on each row's gold completion (data.gold_completion; plain
    text: the row itself): the share of scored tokens whose most likely next token is the gold one,
    over every scored token. The authors' LLM trainers keep the checkpoint with the best
    mean_token_accuracy (TRL's, a mean over evaluation batches; --select-by token-accuracy)."""
    correct, total = 0, 0
    for batch in data.batches([row.get("gold", row) for row in rows], batch_size, tokenizer.pad_token_id, order="length"):
        logits, labels = next_token_logits(model, data.to_device(batch, model.device))
        scored = labels != -100
        correct += ((logits.argmax(-1) == labels) & scored).sum().item()
        total += scored.sum().item()
    return {"token_accuracy": correct / total}


def multiple_choice(model, rows, tokenizer, batch_size):
    """lm-eval-harness's multiple-choice scores (HellaSwag): the log-likelihood of each choice's
    tokens given the prompt; acc picks the highest, acc_norm the highest per character of the
    choice (lm-eval's len(choice), the leading space not counted)."""
    sequences = [choice for row in rows for choice in row["choices"]]
    scores = []
    for batch in data.batches(sequences, batch_size, tokenizer.pad_token_id, order="given"):
        scores += (-next_token_losses(model, data.to_device(batch, model.device))[0]).tolist()
    acc = acc_norm = 0
    for row in rows:
        row_scores, scores = scores[:len(row["choices"])], scores[len(row["choices"]):]
        per_character = [score / length for score, length in zip(row_scores, row["lengths"])]
        acc += row_scores.index(max(row_scores)) == row["label"]  # the first best, as numpy's argmax
        acc_norm += per_character.index(max(per_character)) == row["label"]
    return {"acc": acc / len(rows), "acc_norm": acc_norm / len(rows)}


def greedy_answers(model, rows, tokenizer, batch_size):
    """Exact match of greedy answers (CoQA, data.coqa_exact_match): generate after the prompt,
    keep the first line, as lm-eval-harness (which stops at "\nQ:" and keeps the first line)."""
    total = 0.0
    for start in range(0, len(rows), batch_size):
        chunk = rows[start:start + batch_size]
        batch = data.to_device(data.collate_prompts(chunk, tokenizer.pad_token_id), model.device)
        generated = model.generate(**batch, max_new_tokens=MAX_ANSWER_TOKENS, do_sample=False, num_beams=1,
                                   pad_token_id=tokenizer.pad_token_id)
        answers = tokenizer.batch_decode(generated[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
        total += sum(data.coqa_exact_match(row["answers"], answer.strip().split("\n")[0])
                     for row, answer in zip(chunk, answers))
    return {"exact_match": total / len(rows)}


@torch.no_grad()
def evaluate(model, splits, task, tokenizer, batch_size, num_beams, max_length, bleu="sacrebleu",
             select_by="task-metric"):
    """Metrics per split ({'dev': {'accuracy': ...}}), the score that picks the best checkpoint
    (first split, first metric; select_by token-accuracy: a language model's token_accuracy alone),
    the generated predictions (generation only, else None), and a classifier's warning on the first
    split (majority_note; else None)."""
    model.eval()
    metrics, predictions, notes = {}, None, []
    for split, rows in splits.items():
        if task["kind"] == "classification":
            metrics[split], note = classification_metrics(model, rows, task, tokenizer, batch_size)
            notes.append(note)
        elif task["kind"] == "language-modeling":
            measure = token_accuracy if select_by == "token-accuracy" else LANGUAGE_MODEL_METRICS[task["metrics"][0]]
            metrics[split] = measure(model, rows, tokenizer, batch_size)
        else:
            metrics[split], split_predictions = generation_metrics(model, rows, tokenizer, batch_size, num_beams,
                                                                   max_length, bleu)
            predictions = predictions or split_predictions
    score = "token_accuracy" if select_by == "token-accuracy" else task["metrics"][0]
    return metrics, metrics[next(iter(metrics))][score], predictions, (notes or [None])[0]


LANGUAGE_MODEL_METRICS = {"perplexity": perplexity, "acc": multiple_choice, "exact_match": greedy_answers}
