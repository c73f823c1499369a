"""The back office's catalog: create, replace, retire rewards and move their stock."""

from __future__ import annotations

from dataclasses import dataclass

from loyalty.domain import redeeming
from loyalty.domain.model import Reward
from loyalty.program import Program
from loyalty.rewards.catalog_store import RewardStore


@dataclass
class CatalogAdmin:
    """The back office's catalog: create, replace, retire rewards and move their stock.

    Each call is one DynamoDB request (a refused stock change reads once more to say why). The functions
    that serve rewards see a change when their `Catalog` cache next loads (within its ttl, 60 s).
    """

    rewards: RewardStore
    program: Program

    def create(self, reward: Reward) -> Reward:
        redeeming.check_reward(reward, self.program)
        self.rewards.create(reward)
        return reward

    def replace(self, reward: Reward) -> Reward:
        redeeming.check_reward(reward, self.program)
        return self.rewards.replace(reward)

    def retire(self, reward_id: str) -> Reward:
        return self.rewards.retire(reward_id)

    def change_stock(self, reward_id: str, delta: int) -> Reward:
        return self.rewards.change_stock(reward_id, delta)
