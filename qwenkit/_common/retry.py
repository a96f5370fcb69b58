"""One retry policy for long transfers: an Ollama pull and a registry download."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential back-off between tries. A try that moved bytes resets the count of
    consecutive failures, so a flaky link that keeps making progress is never given up on.

    >>> policy = RetryPolicy(attempts=3)
    >>> failures = policy.failed(0, progressed=False)        # first failure
    >>> failures = policy.failed(failures, progressed=True)  # it got further: counts as first
    >>> failures, policy.gives_up(failures), policy.gives_up(policy.failed(2, progressed=False))
    (1, False, True)
    """

    attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0

    def delay(self, failures: int) -> float:
        """Seconds to wait after the `failures`-th consecutive failure.

        >>> [RetryPolicy().delay(n) for n in (1, 2, 3, 6, 9)]
        [1.0, 2.0, 4.0, 30.0, 30.0]
        """
        return float(min(self.max_delay, self.base_delay * 2 ** (failures - 1)))

    def failed(self, failures: int, *, progressed: bool) -> int:
        """The count of consecutive failures after one more failed try."""
        return 1 if progressed else failures + 1

    def gives_up(self, failures: int) -> bool:
        """Whether `failures` consecutive failures use up the attempts."""
        return failures >= self.attempts
