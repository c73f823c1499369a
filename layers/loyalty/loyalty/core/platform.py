"""What the platform a function runs on provides: the business clock, the job queue, the event sink, the mail.

On AWS Lambda: the system clock, and None for the queue and the sink, which the compositions then build from their
settings (SQS in jobs/batches.py, EventBridge in events.py). A runtime that is not Lambda (the local one of
`make run`, and the tests' in-process functions) installs its own `Platform` before a function is imported, as
loyalty_local/local_platform.py does; the shipped package asks `platform()` and knows nothing else of it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from loyalty.clock import Clock, SystemClock

JobSender = Callable[[list[Any]], None]  # job batches (jobs/batches.py's Batch) -> worked or queued
EventSink = Callable[[list[Any], Callable[..., None]], None]  # domain events, a log line writer -> delivered
MailSender = Callable[[Any], str]  # an e-mail (messages/mail.py's Email) -> its message id


class Platform:
    """AWS Lambda's. `env`: the function's variables (default: the process's)."""

    def clock(self, env: Mapping[str, str] | None = None) -> Clock:
        return SystemClock()

    def job_sender(self, env: Mapping[str, str] | None = None) -> JobSender | None:
        """Who works the batches a dispatcher finds; None: the job queue (SQS) of the dispatcher's settings."""
        return None

    def event_sink(self, env: Mapping[str, str] | None = None) -> EventSink | None:
        """Where the publisher's domain events go; None: the event bus (EventBridge) of the publisher's settings."""
        return None

    def mail_sender(self, env: Mapping[str, str] | None = None) -> MailSender | None:
        """Who sends member e-mail; None: Amazon SES v2, as the message settings configure it."""
        return None


_installed: list[Platform] = [Platform()]


def install(platform: Platform) -> None:
    """Make `platform` this process's, before the function is imported (a runtime's worker does it)."""
    _installed[0] = platform


def platform() -> Platform:
    return _installed[0]
