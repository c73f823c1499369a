"""List the domain events published locally (schemas: docs/events.md).

Locally the publisher function runs with EVENT_BUS_NAME=local: instead of EventBridge it logs each
event and appends it to LOCAL_EVENTS_FILE, one JSON object per line.

    python -m loyalty_local.events [--type PointsExpiringSoon] [--member <member_id>] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from loyalty_local.template import ROOT

EVENTS_FILE = ROOT / ".local" / "events.jsonl"  # where `make run` has the publisher write
SCHEMAS = ROOT / "docs" / "events.md"  # its table names every detail-type (tests/test_docs.py checks the publisher's)


def known_types(schemas: Path = SCHEMAS) -> list[str]:
    """The detail-types docs/events.md documents, from its table's rows: | `PointsEarned` | when | detail |."""
    return re.findall(r"(?m)^\| `([A-Z][A-Za-z]+)` \|", schemas.read_text(encoding="utf-8"))


def events_file() -> Path:
    return Path(os.environ.get("LOCAL_EVENTS_FILE") or EVENTS_FILE)


def read_events(path: Path, detail_type: str | None = None, member_id: str | None = None) -> Iterator[dict]:
    """The events published, each once: delivery is at least once (a stream batch retried, a replay), so this
    consumer drops an event whose event_id it has already read, as every consumer must."""
    if not path.exists():
        return
    seen: set[str] = set()
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            event = json.loads(line)
            event_id = event["detail"].get("event_id")
            if event_id is not None:
                if event_id in seen:
                    continue
                seen.add(event_id)
            if detail_type in (None, event["detail-type"]) and member_id in (None, event["detail"].get("member_id")):
                yield event


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loyalty_local.events", description=__doc__.splitlines()[0])
    parser.add_argument("--type", help="only this detail-type, e.g. PointsExpiringSoon")
    parser.add_argument("--member", help="only this member's events")
    parser.add_argument("--json", action="store_true", help="the events as stored, one JSON object per line")
    parser.add_argument("--file", type=Path, default=None, help=f"default: $LOCAL_EVENTS_FILE or {EVENTS_FILE}")
    args = parser.parse_args(argv)
    path = args.file or events_file()
    if args.type and args.type not in (known := known_types()):
        print(f"no event type {args.type!r}: the types are {', '.join(known)} (docs/events.md)", file=sys.stderr)
        return 2
    count = 0
    for event in read_events(path, args.type, args.member):
        count += 1
        print(json.dumps(event) if args.json else f"{event['time']}  {event['detail-type']:<18} {json.dumps(event['detail'])}")
    if not count and not args.json:
        print(f"no events in {path}" + ("" if path.exists() else ": start `make run` and use the API or run a job"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
