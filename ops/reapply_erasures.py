"""Re-apply erasures after a point-in-time restore.

A restore brings back the tables as they were at the restore point: members erased after it are live again,
with their e-mail and markers. The erasures to re-apply are listed by the ledger table that was live before the
restore (its `erase` entries; DynamoDB restores into a new table and leaves the old one), or by the MemberErased
events (an EventBridge archive, or a subscriber's store), one member id a line. Run with the enroll function's
environment aimed at the RESTORED tables (MEMBERS_TABLE, LEDGER_TABLE, STATS_TABLE, EMAIL_HASH_KEY_PARAMETER):

    python -m ops.reapply_erasures --erased-in <ledger table live before the restore>
    python -m ops.reapply_erasures --member-ids erased.txt

Each erasure is the API's (one transaction, idempotent), so a rerun changes nothing. This is the one Scan of the
project: an operator's tool, never on a request path.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence

from loyalty.core.platform import platform
from loyalty.domain.model import EntryRef
from loyalty.core.directory import Directory
from loyalty.core.email_hash import EmailHasher
from loyalty.privacy.store import PrivacyStore
from loyalty.privacy.use_cases import Privacy
from loyalty.core.programs import Programs
from loyalty.program import load_program
from loyalty.settings import ApiSettings, EmailHashSettings
from loyalty.store import keys
from loyalty.store.ledger import Store

ERASE_KEY = keys.entry_key(EntryRef("erase", "erase"))  # each erased member's one erase entry


def erased_member_ids(client, ledger_table: str) -> list[str]:
    """The members with an `erase` entry in a ledger table (a filtered Scan, keys only)."""
    pages = client.get_paginator("scan").paginate(
        TableName=ledger_table, FilterExpression="entry_key = :erase", ExpressionAttributeValues={":erase": {"S": ERASE_KEY}},
        ProjectionExpression="member_id", ConsistentRead=True,
    )
    return sorted({item["member_id"]["S"] for page in pages for item in page["Items"]})


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if env is None else env
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--erased-in", metavar="LEDGER_TABLE", help="the ledger table live before the restore")
    source.add_argument("--member-ids", metavar="FILE", help="member ids of MemberErased events, one a line")
    args = parser.parse_args(argv)
    settings = ApiSettings.from_environment(env)
    store = Store.from_settings(settings)
    clock = platform().clock(env)
    privacy = Privacy(store, PrivacyStore(store), Directory(store), clock, Programs.fixed(load_program(settings.program_file), clock),
                      EmailHasher.from_settings(EmailHashSettings.from_environment(env)))
    if args.erased_in:
        import boto3

        client = boto3.client("dynamodb", region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url_dynamodb)
        member_ids = erased_member_ids(client, args.erased_in)
    else:
        with open(args.member_ids, encoding="utf-8") as lines:
            member_ids = [line.strip() for line in lines if line.strip()]
    erased = privacy.reapply_erasures(member_ids)
    print(f"{len(member_ids)} erasures listed; {len(erased)} members were live again and are erased now")
    return erased


if __name__ == "__main__":
    main()
