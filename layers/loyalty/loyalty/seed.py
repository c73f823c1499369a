"""Write the demo rewards catalog: `python -m loyalty.seed` (uses CATALOG_TABLE and the usual AWS settings)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from loyalty.domain.model import Reward
from loyalty.settings import ConfigurationError

DEMO_CATALOG = Path(__file__).parent / "data" / "catalog.json"


def demo_rewards() -> list[Reward]:
    return [Reward(**item) for item in json.loads(DEMO_CATALOG.read_text(encoding="utf-8"))]


def seed_demo(catalog_table: str | None = None, region: str | None = None, endpoint_url: str | None = None) -> None:
    """Write the demo catalog to `catalog_table` (default: the CATALOG_TABLE environment variable)."""
    from loyalty.store.models import bind_rewards
    from loyalty.store.records import reward_to_record

    table = catalog_table or os.environ.get("CATALOG_TABLE")
    if not table:
        raise ConfigurationError("name the catalog table: CATALOG_TABLE=<the stack's table> python -m loyalty.seed")
    model = bind_rewards(table, region, endpoint_url or os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"))
    with model.batch_write() as batch:
        for reward in demo_rewards():
            batch.save(reward_to_record(reward, model))


if __name__ == "__main__":
    seed_demo()
    print(f"seeded {len(demo_rewards())} rewards")
