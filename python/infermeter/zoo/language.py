"""Transformer models from `transformers`, built from their architecture
configs (random weights) unless the model is in the local Hugging Face cache."""

from __future__ import annotations

import transformers

from infermeter.input_spec import InputSpec
from infermeter.zoo.registry import RANDOM, BuiltModel, ModelEntry, example_inputs, register

# transformers' attention code compares shapes and takes sqrt(head size) in
# Python while tracing; both are constant for every input the spec generates.
# Its own deprecation notice fires from inside the model during tracing.
TRACER_NOISE = (r"Converting a tensor to a Python (boolean|float)", r"torch\.tensor results are registered as constants",
                r"`is_gradient_checkpointing` is deprecated")


def from_local_cache(model_class, model_id: str):
    """The real model when its files are cached locally; None otherwise."""
    try:
        config = transformers.AutoConfig.from_pretrained(model_id, local_files_only=True)
        config.torchscript = True  # tuple outputs, which tracing needs
        return model_class.from_pretrained(model_id, config=config, local_files_only=True)
    except OSError:
        return None


def build_transformer(name: str, model_class, config, model_id: str | None, specs: list[InputSpec],
                      batch_size: int, options: dict) -> BuiltModel:
    module = from_local_cache(model_class, model_id) if model_id != RANDOM else None
    weights = "pretrained" if module is not None else "random"
    if module is None:
        config.torchscript = True  # tuple outputs, which tracing needs
        module = model_class(config)
    return BuiltModel(name, module.eval(), example_inputs(specs, batch_size), specs, weights, options,
                      TRACER_NOISE)


def token_specs(vocab: int, seq_len: int, with_mask: bool) -> list[InputSpec]:
    specs = [InputSpec("input_ids", (-1, seq_len), "int64", 0, vocab)]
    if with_mask:
        specs.append(InputSpec("attention_mask", (-1, seq_len), "int64", 1, 2))
    return specs


def bert(name: str, model_id: str, config_overrides: dict):
    def build(batch_size=1, seq_len=128, weights=None, **overrides) -> BuiltModel:
        config = transformers.BertConfig(**(config_overrides | overrides))
        return build_transformer(name, transformers.BertForQuestionAnswering, config, weights or model_id,
                                 token_specs(config.vocab_size, seq_len, True), batch_size,
                                 {"seq_len": seq_len, **overrides})
    return build


def gpt(batch_size=1, seq_len=7, weights=None, **overrides) -> BuiltModel:
    config = transformers.OpenAIGPTConfig(**overrides)  # the defaults are openai-gpt's
    return build_transformer("gpt", transformers.OpenAIGPTLMHeadModel, config, weights or "openai-gpt",
                             token_specs(config.vocab_size, seq_len, False), batch_size,
                             {"seq_len": seq_len, **overrides})


def hugging_face(model_id: str, batch_size=1, seq_len=128, weights=None, **overrides) -> BuiltModel:
    """Any model whose config is available locally (a cached id or a folder)."""
    try:
        config = transformers.AutoConfig.from_pretrained(model_id, local_files_only=True, **overrides)
    except OSError as e:
        raise ValueError(f"no local config for Hugging Face model {model_id!r}: nothing can be downloaded here; "
                         f"put the model in the Hugging Face cache or pass a local folder ({e})") from None
    module = from_local_cache(transformers.AutoModel, model_id) if weights != RANDOM else None
    weights_kind = "pretrained" if module is not None else "random"
    if module is None:
        config.torchscript = True
        module = transformers.AutoModel.from_config(config)
    specs = token_specs(config.vocab_size, seq_len, True)
    return BuiltModel(f"hf:{model_id}", module.eval(), example_inputs(specs, batch_size), specs, weights_kind,
                      {"seq_len": seq_len}, TRACER_NOISE)


# bert-base-uncased's architecture is BertConfig's default; SQuAD2 fine-tuning adds only the QA head.
register(ModelEntry("bert-base-squad2", "BERT-base uncased, question answering (twmkn9/bert-base-uncased-squad2)",
                    "input_ids + attention_mask, seq 128", bert("bert-base-squad2", "twmkn9/bert-base-uncased-squad2", {})))
register(ModelEntry("bert-large", "BERT-large uncased, question answering head", "input_ids + attention_mask, seq 128",
                    bert("bert-large", "bert-large-uncased",
                         {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
                          "intermediate_size": 4096})))
register(ModelEntry("gpt", "OpenAI GPT (openai-gpt), language-model head", "input_ids, 7 tokens", gpt))
