"""Write the demo rewards catalog: `python -m loyalty.seed` (uses CATALOG_TABLE and the usual AWS settings).

A thin client of the catalog's store operations: each demo reward is created as the back office's
`POST /v1/rewards` would; one that exists already is left as it is (its stock is not reset).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from loyalty.domain import errors
from loyalty.domain.model import Reward
from loyalty.settings import ConfigurationError

DEMO_CATALOG = Path(__file__).parent / "data" / "catalog.json"


def demo_rewards() -> list[Reward]:
    return [Reward(**item) for item in json.loads(DEMO_CATALOG.read_text(encoding="utf-8"))]


def seed_demo(catalog_table: str | None = None, region: str | None = None, endpoint_url: str | None = None) -> int:
    """Create the demo rewards missing from `catalog_table` (default: CATALOG_TABLE); returns how many were created."""
    from loyalty.rewards.catalog_store import RewardStore
    from loyalty.store.models import bind_rewards

    table = catalog_table or os.environ.get("CATALOG_TABLE")
    if not table:
        raise ConfigurationError("name the catalog table: CATALOG_TABLE=<the stack's table> python -m loyalty.seed")
    rewards = RewardStore(bind_rewards(table, region, endpoint_url or os.environ.get("AWS_ENDPOINT_URL_DYNAMODB")))
    created = 0
    for reward in demo_rewards():
        try:
            rewards.create(reward)
            created += 1
        except errors.RewardExists:
            pass
    return created


if __name__ == "__main__":
    print(f"seeded {seed_demo()} of {len(demo_rewards())} demo rewards (those already there are left as they are)")
