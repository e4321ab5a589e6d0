"""scoring.py on real kjv-bbe rows: BLEU as a model with the packaged (uncased) tokenizer can score it."""
import torch
import transformers as tf

import data
import families
import scoring


def test_a_model_that_writes_every_gold_target_scores_near_100_bleu():
    """MiniLM's tokenizer can only write lower case: scored case-sensitively, these 16 rows score 72."""
    tokenizer = tf.AutoTokenizer.from_pretrained(families.minilm_path())
    task = data.load_task("kjv-bbe", seed=0)
    rows = data.encode(task, task["dev"]["dev"][:16], tokenizer, max_length=128)
    answers = {tuple(row["input_ids"]): row["labels"] for row in rows}

    class Oracle:  # generate() answers each source with its gold target's word pieces
        device = torch.device("cpu")

        def generate(self, input_ids, attention_mask, **kwargs):
            outputs = [answers[tuple(ids[mask.bool()].tolist())] for ids, mask in zip(input_ids, attention_mask)]
            width = max(map(len, outputs))
            return torch.tensor([out + [tokenizer.pad_token_id] * (width - len(out)) for out in outputs])

    metrics, predictions = scoring.generation_metrics(Oracle(), rows, tokenizer, batch_size=8, num_beams=1,
                                                      max_length=128)
    assert predictions[0] == task["dev"]["dev"][0]["target"].lower().replace("-", " - ")
    assert metrics["bleu"] > 90  # not 100: the tokenizer spaces hyphens ("living - place")


def test_multi_bleu_scores_as_the_authors_dart_evaluation():
    """dart/run_eval.py's text (lower case, every non-word character a token) scored as multi-bleu.perl
    scores three reference files: 65.22 is what the authors' multi-bleu.perl prints for these files
    (hyp_len 14, ref_len 10: "near" is closest to the empty line of the third file; the fourth reference
    is never read). Cased sacrebleu on the raw text gives 11.6."""
    assert scoring.multi_bleu_words("The cat's 5-star mat.") == "the cat ' s 5 - star mat ."
    predictions = ["The cat's mat.", "near", "A red-brick river, park"]
    references = [["the cat ' s mat ."], ["near the river park", "a b near"],
                  ["a red brick river", "red - brick park", "river park", "extra ignored"]]
    assert round(scoring.multi_bleu(predictions, references), 2) == 65.22
    fourth_is_the_answer = references[:2] + [references[2][:3] + ["A red-brick river, park"]]
    assert round(scoring.multi_bleu(predictions, fourth_is_the_answer), 2) == 65.22  # never read
    assert scoring.multi_bleu(["a b c d"], [["a b c e"]]) == 0.0  # no 4-gram matches: no smoothing
