"""Language detection per reply, as evalkit does it for every generated reply (`evalkit.scoring.language`).

Replies: the 495 texts of tests/fixtures/langid/sentences.jsonl plus 200 long replies made of them (reasoning
paragraphs with a code block and a formula, ~1,500 characters), measured side by side with the bare
py3langid classify call on the same text, so the cost of evalkit's own preprocessing shows as a ratio.
Target: ≤ 2 ms per reply on this machine.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from evalkit.scoring.language import _identifier, detect_language, prose_of

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 5


def replies() -> list[str]:
    rows = [json.loads(x) for x in (ROOT / "tests/fixtures/langid/sentences.jsonl").read_text("utf-8").splitlines()]
    texts = [r["text"] for r in rows]
    long = []
    for i in range(200):
        body = " ".join(texts[(i + k) % len(texts)] for k in range(0, 90, 9))
        long.append(f"<think>{body}</think>\n{body}\n\n```python\nprint(sum(range(10)))\n```\n$x^2 + 1 = 5$\n{body}")
    return texts + long


def best_of(fn, items) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for item in items:
            fn(item)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> dict[str, float]:
    items = replies()
    identifier = _identifier()
    detect_language(items[0])  # the model is loaded once per process
    ours = best_of(detect_language, items)
    bare = best_of(lambda text: identifier.classify(prose_of(text)), items)
    raw = best_of(identifier.classify, items)
    figures = {"replies": len(items), "evalkit_ms_per_reply": round(1000 * ours / len(items), 3),
               "bare_classify_on_prose_ms": round(1000 * bare / len(items), 3),
               "bare_classify_on_raw_text_ms": round(1000 * raw / len(items), 3),
               "evalkit_over_bare": round(ours / bare, 3)}  # fmt: skip
    return figures


if __name__ == "__main__":
    result = main()
    print(json.dumps(result, indent=2))
    print(f"language detection: {result['evalkit_ms_per_reply']} ms per reply (target <= 2 ms); "
          f"evalkit / bare py3langid on the same prose: {result['evalkit_over_bare']}")
