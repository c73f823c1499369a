"""Write the demo rewards catalog: `python -m loyalty.seed` (uses CATALOG_TABLE and the usual AWS settings)."""

from __future__ import annotations

import json
from pathlib import Path

from loyalty.domain.model import Reward

DEMO_CATALOG = Path(__file__).parent / "data" / "catalog.json"


def demo_rewards() -> list[Reward]:
    return [Reward(**item) for item in json.loads(DEMO_CATALOG.read_text(encoding="utf-8"))]


def seed_demo(catalog_table: str | None = None) -> None:
    """Write the demo catalog to the settings' CATALOG_TABLE (`catalog_table`, if given, must be that table)."""
    from loyalty.store import repository
    from loyalty.store.models import RewardModel

    if catalog_table and catalog_table != RewardModel.Meta.table_name:
        raise ValueError(f"CATALOG_TABLE is {RewardModel.Meta.table_name}, not {catalog_table}")
    repository.put_rewards(demo_rewards())


if __name__ == "__main__":
    seed_demo()
    print(f"seeded {len(demo_rewards())} rewards")
