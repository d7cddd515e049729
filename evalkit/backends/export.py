"""Convert the embedded SmolLM2 GGUF into a safetensors checkpoint that vLLM (and transformers) can load.

vLLM loads safetensors, so the quantised GGUF is dequantised once through transformers' GGUF reader
(needs `transformers`, `gguf` and `torch`, which `make setup-vllm` installs). The result is ~540 MB in
float32 (or ~270 MB in bfloat16) and takes about 20 s on two cores.
"""

from __future__ import annotations

from pathlib import Path

from evalkit.backends.base import BackendError
from evalkit.backends.local import smollm2_gguf_path


def export_smollm2(target: Path, dtype: str = "float32") -> Path:
    """Write config, weights and tokenizer to `target` (skipped when already complete)."""
    if (target / "config.json").is_file() and any(target.glob("*.safetensors")):
        return target
    try:
        import torch  # noqa: PLC0415 - optional, heavy
        from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig  # noqa: PLC0415
    except ImportError as exc:
        raise BackendError(f"export needs torch, transformers and gguf ({exc}): run `make setup-vllm`") from None
    gguf = smollm2_gguf_path()
    # dequantize=True yields plain tensors; without it the model stays "GGUF-quantised" and cannot be saved.
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=getattr(torch, dtype),
        quantization_config=GgufConfig(gguf_file=gguf.name, dequantize=True),
    )  # fmt: skip
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(target), safe_serialization=True)
    tokenizer.save_pretrained(str(target))
    return target
