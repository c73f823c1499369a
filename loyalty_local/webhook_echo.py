"""`make webhook-echo`: a webhook receiver on this machine that verifies each delivery as a real receiver should.

    python -m loyalty_local.webhook_echo --secret whsec_... [--port 4000] [--fail 2]

It checks `Loyalty-Signature` (HMAC-SHA256 of "<t>.<body>" with the secret, at most 5 minutes old), drops an
event id it has already had (delivery is at least once), prints each event, and answers 200; a delivery whose
signature does not verify gets 400. `--fail N` answers 500 to the first N deliveries, to watch the retries.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from loyalty.webhooks.signing import HEADER, SignatureRefused, verify


def make_handler(secret: str, fail: int = 0, out=sys.stdout):
    seen: set[str] = set()
    state = {"to_fail": fail}
    lock = threading.Lock()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                verify(secret, body, self.headers.get(HEADER), int(time.time()))
            except SignatureRefused as refused:
                print(f"REFUSED: {refused}", file=out, flush=True)
                self._answer(400)
                return
            event_id = self.headers.get("Loyalty-Event-Id", "")
            with lock:
                if state["to_fail"] > 0:
                    state["to_fail"] -= 1
                    print(f"failing on purpose: {event_id}", file=out, flush=True)
                    self._answer(500)
                    return
                duplicate = event_id in seen
                seen.add(event_id)
            if not duplicate:
                event = json.loads(body)
                print(f"verified {self.headers.get('Loyalty-Event-Type')} {json.dumps(event['detail'])}", file=out, flush=True)
            self._answer(200)

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args) -> None:
            pass

    return Receiver


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loyalty_local.webhook_echo", description=__doc__.splitlines()[0])
    parser.add_argument("--secret", required=True, help="the subscription's secret (POST /v1/webhooks answered it)")
    parser.add_argument("--port", type=int, default=4000)
    parser.add_argument("--fail", type=int, default=0, help="answer 500 to the first N deliveries")
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(args.secret, args.fail))
    print(f"receiving webhooks on http://127.0.0.1:{args.port}/hook (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
