"""One delivery attempt: a POST to the checked address (Host header and TLS server name are the URL's host),
10 s in all, no redirect followed, no retry here (the queue retries). urllib3, pooled per (address, host)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from loyalty.webhooks.addresses import Target

TIMEOUT_SECONDS = 10.0
ERROR_LENGTH = 300  # of a receiver's answer or an error, kept in the delivery log


@dataclass(frozen=True)
class Outcome:
    status: int | None  # the receiver's HTTP status; None if it never answered
    error: str | None  # None on success

    @property
    def succeeded(self) -> bool:
        return self.error is None


class HttpSender:
    """POSTs with urllib3, one connection pool per checked address and host."""

    def __init__(self, timeout: float = TIMEOUT_SECONDS, pool_size: int = 4) -> None:
        self.timeout, self.pool_size = timeout, pool_size
        self._pools: dict[tuple[str, str, int, str], object] = {}
        self._lock = threading.Lock()

    def _pool(self, target: Target):
        import urllib3

        key = (target.scheme, target.address, target.port, target.host)
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                timeout = urllib3.Timeout(total=self.timeout)
                if target.scheme == "https":
                    pool = urllib3.HTTPSConnectionPool(
                        target.address, target.port, timeout=timeout, maxsize=self.pool_size, retries=False,
                        server_hostname=target.host, assert_hostname=target.host, cert_reqs="CERT_REQUIRED")
                else:
                    pool = urllib3.HTTPConnectionPool(target.address, target.port, timeout=timeout,
                                                      maxsize=self.pool_size, retries=False)
                self._pools[key] = pool
        return pool

    def post(self, target: Target, body: bytes, headers: dict[str, str]) -> Outcome:
        import urllib3

        try:
            response = self._pool(target).urlopen(
                "POST", target.path, body=body, headers={**headers, "Host": target.host_header},
                redirect=False, retries=False, preload_content=False, assert_same_host=False)
        except urllib3.exceptions.HTTPError as error:
            return Outcome(None, f"{type(error).__name__}: {error}"[:ERROR_LENGTH])
        try:
            answer = response.read(ERROR_LENGTH, decode_content=False)
            response.drain_conn()  # the rest, so that the connection can be reused (within the same timeout)
        except urllib3.exceptions.HTTPError:
            answer = b""
        finally:
            response.release_conn()
        status = response.status
        if 200 <= status < 300:
            return Outcome(status, None)
        if 300 <= status < 400:
            return Outcome(status, f"redirect to {response.headers.get('Location', '?')[:200]} not followed")
        return Outcome(status, f"HTTP {status}: {answer.decode('utf-8', 'replace')}"[:ERROR_LENGTH])
