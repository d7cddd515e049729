"""Run by test_vllm_backend.py in a fresh process (vLLM spawns workers, so this needs a __main__ guard).

Prints one JSON object with what the in-process vLLM backend produced.
"""

import json
import sys

from evalkit.backends.chat_templates import load_chat_template
from evalkit.backends.vllm_backend import VLLMBackend
from evalkit.types import GenerationConfig, Message, Request

if __name__ == "__main__":
    model_dir = sys.argv[1]
    engine = {"dtype": "float32", "enforce_eager": True, "gpu_memory_utilization": 0.3, "max_model_len": 2048}
    backend = VLLMBackend(model_dir, engine)
    question = (Message("user", "What is the capital of France?"),)
    greedy = GenerationConfig(temperature=0.0, max_tokens=24)
    sampled = GenerationConfig(temperature=0.9, top_p=0.9, top_k=20, min_p=0.05, repetition_penalty=1.1,
                               max_tokens=24, seed=7)  # fmt: skip
    documents = (Message("documents", '[{"doc_id": 0, "content": "Paris is the capital."}]'), question[0])
    stop_at_paris = greedy.merged({"stop": ("Paris",)})
    requests = [Request(question, greedy), Request(question, greedy), Request(question, sampled),
                Request(question, sampled), Request(documents, greedy), Request(question, stop_at_paris)]
    seen = []
    completions = backend.generate(requests, lambda i, c: seen.append(i))
    tokenizer = backend.llm.get_tokenizer()
    backend.close()
    vicuna = VLLMBackend(model_dir, engine, chat_template=load_chat_template("vicuna"))
    templated = vicuna.generate([Request(question, greedy)])[0]
    vicuna_prompt = tokenizer.apply_chat_template(
        [m.to_dict() for m in question], chat_template=load_chat_template("vicuna"), tokenize=False,
        add_generation_prompt=True,
    )
    chatml_prompt = tokenizer.apply_chat_template([m.to_dict() for m in question], tokenize=False,
                                                  add_generation_prompt=True)  # fmt: skip
    print("RESULT " + json.dumps({
        "identity": backend.identity,
        "texts": [c.text for c in completions],
        "finish": [c.finish_reason for c in completions],
        "prompt_tokens": [c.usage.prompt_tokens for c in completions],
        "completion_tokens": [c.usage.completion_tokens for c in completions],
        "callbacks": sorted(seen),
        "vicuna_prompt_tokens": templated.usage.prompt_tokens,
        "vicuna_expected_tokens": len(tokenizer.encode(vicuna_prompt, add_special_tokens=False)),
        "chatml_expected_tokens": len(tokenizer.encode(chatml_prompt, add_special_tokens=False)),
        "vicuna_identity": vicuna.identity,
    }, ensure_ascii=False))
