"""How a backend retries: full-jitter exponential backoff. Kept apart from the HTTP client, so that code
which only needs the policy (the judge engine, the backend table) does not import the openai SDK."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 6
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    max_retry_after_s: float = 120.0

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff: uniform(0, min(max, base * 2**attempt))."""
        return random.uniform(0, min(self.max_delay_s, self.base_delay_s * 2**attempt))
