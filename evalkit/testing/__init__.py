"""Test helpers that ship with evalkit (an OpenAI-compatible stub server that can misbehave on purpose)."""
