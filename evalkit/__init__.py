"""evalkit: evaluation harness for Slavic-language LLMs."""

__version__ = "0.1.0"
