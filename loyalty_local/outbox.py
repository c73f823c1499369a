"""The local outbox: member e-mail that `make run` would have sent through Amazon SES.

Locally the message sender runs with LOCAL_OUTBOX_FILE (next to the events file, `outbox.jsonl`): the platform's
mail sender (local_platform.FileOutbox) appends each e-mail there as the SES v2 SendEmail request it would be, headers
included. `GET /_local/outbox` on the API port and `make outbox` list them, newest first.

    python -m loyalty_local.outbox [--to sam@example.com] [--json] [--api http://127.0.0.1:3000]
    python -m loyalty_local.outbox --link <member_id>   # the one-click unsubscribe link of the member's marketing e-mail
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from pathlib import Path

LOCAL_UNSUBSCRIBE_KEY = "loyalty-local-unsubscribe-key-not-for-production"  # what `make run` signs unsubscribe links with


def outbox_file(events_file: Path) -> Path:
    return events_file.with_name("outbox.jsonl")


def outbox_environment(events_file: Path) -> dict[str, str]:
    """What the functions get: where the platform's mail sender appends."""
    return {"LOCAL_OUTBOX_FILE": str(outbox_file(events_file))}


def read_outbox(path: Path) -> list[dict]:
    """Every e-mail in the outbox, newest first: {message_id, sent_at, request}."""
    if not path.exists():
        return []
    with open(path, encoding="utf-8") as lines:
        found = [json.loads(line) for line in lines if line.endswith("\n")]
    return found[::-1]


def summary(message: dict) -> str:
    request = message["request"]
    simple = request["Content"]["Simple"]
    headers = "".join(f"\n  {h['Name']}: {h['Value']}" for h in simple.get("Headers", []))
    return (f"{message['sent_at']}  {message['message_id']}\n  From: {request['FromEmailAddress']}\n"
            f"  To: {', '.join(request['Destination']['ToAddresses'])}\n  Subject: {simple['Subject']['Data']}{headers}\n\n"
            + "\n".join(f"  | {line}" for line in simple["Body"]["Text"]["Data"].splitlines()) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loyalty_local.outbox", description=__doc__.splitlines()[0])
    parser.add_argument("--api", default="http://127.0.0.1:3000", help="the running `make run`'s API")
    parser.add_argument("--to", help="only the e-mail to this address")
    parser.add_argument("--json", action="store_true", help="as GET /_local/outbox answers")
    parser.add_argument("--link", metavar="MEMBER_ID", help="print the member's unsubscribe link (signed with the local key)")
    args = parser.parse_args(argv)
    if args.link:
        from urllib.parse import quote

        from loyalty.messages.unsubscribe import UnsubscribeTokens

        print(f"{args.api.rstrip('/')}/v1/unsubscribe?token={quote(UnsubscribeTokens(LOCAL_UNSUBSCRIBE_KEY).token(args.link))}")
        return 0
    try:
        with urllib.request.urlopen(f"{args.api.rstrip('/')}/_local/outbox", timeout=10) as answer:  # noqa: S310 - a local URL
            items = json.loads(answer.read())["items"]
    except OSError as error:
        print(f"cannot reach {args.api} ({error}): is `make run` running?", file=sys.stderr)
        return 1
    items = [m for m in items if args.to in (None, *m["request"]["Destination"]["ToAddresses"])]
    if args.json:
        print(json.dumps(items, indent=2))
    else:
        print("\n".join(summary(m) for m in items) if items else "the outbox is empty")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `make outbox | head`: the reader had enough; not an error
        sys.stderr.close()  # nothing more to say, and no "Exception ignored" when the interpreter flushes it
        sys.exit(0)
