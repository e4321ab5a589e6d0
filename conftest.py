"""Fixtures shared by the test files."""
import pytest
import transformers as tf

import families
from test_distill import tiny_bert


@pytest.fixture(scope="session")
def tiny_teacher_dir(tmp_path_factory):
    """A tiny 'fine-tuned' classifier saved with the packaged MiniLM tokenizer."""
    directory = tmp_path_factory.mktemp("teacher")
    tiny_bert(layers=4).save_pretrained(directory)
    tf.AutoTokenizer.from_pretrained(families.minilm_path()).save_pretrained(directory)
    return directory
