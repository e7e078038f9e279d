"""The precisions a model is exported in (infermeter.export), in one place
that the CLI and sweep configs read without importing torch."""

PRECISIONS = ("fp32", "tf32", "fp16", "bf16", "mixed")
