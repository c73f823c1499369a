"""The background loop every local stand-in for an AWS poller shares (the bus's events file, SQS event source
mappings, table streams): poll on a thread, again at once while there is work, after a pause when there is none;
a failed round is logged and tried again, as the AWS services retry, instead of ending the thread."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Poller:
    def __init__(self, name: str, interval_seconds: float, log: Callable[[str], None] = print) -> None:
        self.name, self.interval_seconds, self.log = name, interval_seconds, log
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def poll_once(self) -> int:
        """One round; how much it handled (0: nothing to do, so wait before the next)."""
        raise NotImplementedError

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                handled = self.poll_once()
            except Exception as error:  # noqa: BLE001 - keep polling: the next round may succeed
                self.log(f"[{self.name}] polling failed: {error}")
                handled = 0
            if not handled:
                self.stopping.wait(self.interval_seconds)
