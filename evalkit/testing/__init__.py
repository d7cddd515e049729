"""Test helpers that ship with evalkit (a misbehaving OpenAI-compatible stub server)."""
