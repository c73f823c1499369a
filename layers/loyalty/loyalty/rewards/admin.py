"""The back office's catalog: create, replace, retire rewards and move their stock."""

from __future__ import annotations

from dataclasses import dataclass

from loyalty.core.programs import Programs
from loyalty.domain import redeeming
from loyalty.domain.model import Reward
from loyalty.rewards.catalog_store import RewardStore


@dataclass
class CatalogAdmin:
    """The back office's catalog: create, replace, retire rewards and move their stock.

    Each call is one DynamoDB request (a refused stock change reads once more to say why; a `min_tier` the cached
    versions do not name reads them once more, and when they are stale, they are read first). The functions
    that serve rewards see a change when their `Catalog` cache next loads (within its ttl, 60 s).
    """

    rewards: RewardStore
    programs: Programs  # the program's versions, cached: `min_tier` names a tier of the newest

    def _check(self, reward: Reward) -> None:
        """`min_tier` names a tier of the newest version, a future one included: a reward for a tier a published
        version adds may be prepared before that version is in force (nobody holds the tier until then, so nobody
        may redeem it). Without a `min_tier` the versions are not read."""
        if reward.min_tier is not None:
            redeeming.check_reward(reward, self.programs.newest_naming([reward.min_tier]))

    def create(self, reward: Reward) -> Reward:
        self._check(reward)
        self.rewards.create(reward)
        return reward

    def replace(self, reward: Reward) -> Reward:
        self._check(reward)
        return self.rewards.replace(reward)

    def retire(self, reward_id: str) -> Reward:
        return self.rewards.retire(reward_id)

    def change_stock(self, reward_id: str, delta: int) -> Reward:
        return self.rewards.change_stock(reward_id, delta)
