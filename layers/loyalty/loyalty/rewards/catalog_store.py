"""The catalog's store operations: what the back office (CatalogFunction) and the seed script write.

Each is one DynamoDB request on the normal path; a refused stock change reads the reward once more to
say why (unknown, unlimited or not enough left).
"""

from __future__ import annotations

from pynamodb.exceptions import DeleteError, DoesNotExist, GetError, PutError, UpdateError

from loyalty.domain import errors
from loyalty.domain.model import Reward
from loyalty.settings import RewardAdminSettings
from loyalty.store.models import RewardModel, bind_rewards
from loyalty.store.records import reward_from_record, reward_to_record
from loyalty.store.transaction import RequestHook, busy, hook_requests, response_code

PK = "REWARD"
CONDITION_FAILED = "ConditionalCheckFailedException"


def _condition_failed(error: PutError | UpdateError | DeleteError) -> bool:
    return response_code(error) == CONDITION_FAILED


class RewardStore:
    """The rewards of one catalog table."""

    def __init__(self, model: type[RewardModel]) -> None:
        self.model = model

    @classmethod
    def from_settings(cls, settings: RewardAdminSettings) -> RewardStore:
        return cls(bind_rewards(settings.catalog_table, settings.aws_region, settings.aws_endpoint_url_dynamodb))

    def on_request(self, hook: RequestHook) -> None:
        hook_requests([self.model], hook)

    def get(self, reward_id: str) -> Reward | None:
        try:
            return reward_from_record(self.model.get(PK, reward_id, consistent_read=True))
        except DoesNotExist:
            return None
        except GetError as error:
            raise busy(error) from error

    def create(self, reward: Reward) -> None:
        """Write a new reward; `REWARD_EXISTS` if its id is taken (whatever the stored one holds)."""
        try:
            reward_to_record(reward, self.model).save(condition=self.model.sk.does_not_exist())
        except PutError as error:
            if _condition_failed(error):
                raise errors.RewardExists(f"a reward {reward.reward_id} exists already") from None
            raise busy(error) from error

    def _update(self, reward_id: str, actions: list, condition=None) -> Reward:
        record = self.model(PK, reward_id)
        exists = self.model.sk.exists()
        try:
            record.update(actions=actions, condition=exists & condition if condition is not None else exists)
        except UpdateError as error:
            if _condition_failed(error):
                raise errors.RewardNotFound(f"no reward {reward_id}") from None
            raise busy(error) from error
        return reward_from_record(record)

    def replace(self, reward: Reward) -> Reward:
        """Replace every field but the stock (which only moves by deltas); `REWARD_NOT_FOUND` if unknown."""
        model, values = self.model, reward_to_record(reward, self.model)
        actions = []
        for attribute in (model.name, model.description, model.kind, model.points, model.value_minor, model.min_tier,
                          model.active, model.starts_at, model.ends_at, model.per_member_limit):
            value = getattr(values, attribute.attr_name)
            actions.append(attribute.remove() if value is None else attribute.set(value))
        return self._update(reward.reward_id, actions)

    def retire(self, reward_id: str) -> Reward:
        """Mark the reward inactive (again: the same); `REWARD_NOT_FOUND` if unknown."""
        return self._update(reward_id, [self.model.active.set(False)])

    def change_stock(self, reward_id: str, delta: int) -> Reward:
        """Add `delta` to the stock in one conditional update, never below zero."""
        model = self.model
        # Both conditions need a numeric stock: an unlimited reward (no stock attribute) fails them.
        enough = model.stock >= -delta if delta < 0 else model.stock.exists()
        try:
            record = model(PK, reward_id)
            record.update(actions=[model.stock.add(delta)], condition=model.sk.exists() & enough)
            return reward_from_record(record)
        except UpdateError as error:
            if not _condition_failed(error):
                raise busy(error) from error
        current = self.get(reward_id)  # refused: say why
        if current is None:
            raise errors.RewardNotFound(f"no reward {reward_id}")
        if current.stock is None:
            raise errors.StockUnlimited(f"{current.name} has unlimited stock: there is no count to change")
        raise errors.OutOfStock(f"{current.name} has {current.stock} left; {-delta} cannot be taken",
                                reward_id=reward_id, stock=current.stock)
