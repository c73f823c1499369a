"""The rewards use cases: the page of rewards a caller may redeem, a redemption and its cancel, vouchers.

Each makes at most two DynamoDB round trips on its normal path (one read, one transactional write; the catalog is
cached in the warm function); a lost race is decided again on a fresh read (the retry policy).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from loyalty.clock import Clock
from loyalty.core.ledger import Outcome, commit, request_hash
from loyalty.core.ledger import replay as replayed
from loyalty.core.retry import RetryPolicy
from loyalty.domain import errors, redeeming
from loyalty.domain.access import Caller
from loyalty.domain.model import ERASED, EntryRef, Redemption, Reward, Voucher
from loyalty.core.programs import Programs
from loyalty.program import Program
from loyalty.rewards.store import RedemptionStore
from loyalty.store.ledger import Store


class Catalog:
    """The rewards catalog: `rewards()` loads it (a cache in the warm function, read with one Query when stale)."""

    def __init__(self, rewards: Callable[[], list[Reward]]) -> None:
        self.rewards = rewards

    def find(self, reward_id: str) -> Reward:
        """The reward, active or not (whether it may be redeemed is the rules' call)."""
        for reward in self.rewards():
            if reward.reward_id == reward_id:
                return reward
        raise errors.RewardNotFound(f"no reward {reward_id}")


@dataclass(frozen=True)
class RewardsPage:
    items: list[tuple[Reward, bool]]  # each reward with whether the caller may redeem it now
    next_cursor: str | None


@dataclass
class Redemptions:
    store: Store
    redemptions: RedemptionStore
    catalog: Catalog
    clock: Clock
    programs: Programs  # the program's versions, cached
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    @property
    def program(self) -> Program:
        """The program version in force now (`programs` caches the versions at most 60 s)."""
        return self.programs.current()

    def caller_tier(self, caller: Caller) -> str | None:
        """The tier a member token's rewards are offered for; None for staff, who see every reward."""
        if not caller.is_member:
            return None
        member_id = self.store.member_id_for_sub(caller.sub) if caller.sub else None
        member = self.store.get_member(member_id) if member_id else None
        return member.tier if member and member.status != ERASED else self.program.base_tier.name

    def rewards_page(self, caller: Caller, limit: int, cursor: str | None) -> RewardsPage:
        """The active rewards by id, `limit` at a time after `cursor` (the last id of the previous page)."""
        tier = self.caller_tier(caller)
        active = sorted((reward for reward in self.catalog.rewards() if reward.active), key=lambda reward: reward.reward_id)
        after = [reward for reward in active if cursor is None or reward.reward_id > cursor]
        page = after[:limit]
        return RewardsPage(
            items=[(reward, redeeming.reward_available(reward, self.program, tier, self.clock.now())) for reward in page],
            next_cursor=page[-1].reward_id if len(after) > limit else None,
        )

    def redeem(
        self, caller: Caller, member_id: str, *, idempotency_key: str, payload: dict,
        reward_id: str | None = None, points: int | None = None,
    ) -> Outcome:
        ref, fingerprint = EntryRef("redeem", idempotency_key), request_hash(payload)
        written: list[str] = []

        def attempt() -> Outcome:
            if reward_id:  # the member's count of this reward is read with the member (its per-member limit)
                member, replay, redeemed_before = self.redemptions.get_for_redemption(member_id, ref, reward_id)
            else:
                member, entries = self.store.get_member_and_entries(member_id, [ref])
                replay, redeemed_before = entries.get(ref), 0
            member = caller.ensure_may_access(member, member_id)
            if replay:  # answered before the catalog is consulted: a stale cache must not hide a charged redemption
                return replayed(replay, fingerprint, "Idempotency-Key", written)
            reward = self.catalog.find(reward_id) if reward_id else None
            change = redeeming.redeem(
                member, self.program, self.clock.now(), idempotency_key=idempotency_key, request_hash=fingerprint,
                reward=reward, points=points, redeemed_before=redeemed_before,
            )
            stock_reward = reward if reward and reward.stock is not None else None
            written.append(change.entry.entry_id)
            commit(self.store, self.program, change, {member.member_id: member.version}, [self.redemptions.redeemed(
                member.member_id, stock_reward=stock_reward, counted_reward=reward, voucher=Voucher.of(change.entry),
                redemption=Redemption.of(change.entry, stock_reward is not None),
            )])
            return Outcome(change.entry, replayed=False)

        return self.retry.run(attempt)

    def cancel_redemption(self, caller: Caller, member_id: str, redemption_id: str) -> Outcome:
        """Undo a redemption whose voucher is unused: points back to the lots not expired since, stock back, voucher
        cancelled, all in one transaction with the `cancel` entry, whose key derives from the redemption's id, so a
        replay is found in the first read (one read, one write)."""

        written: list[str] = []

        def attempt() -> Outcome:
            member, redemption, cancelled = self.redemptions.get_for_cancel(member_id, redemption_id)
            member = caller.ensure_may_access(member, member_id)
            if cancelled:
                return Outcome(cancelled, replayed=cancelled.entry_id not in written)
            if redemption is None:
                raise errors.RedemptionNotFound(f"member {member_id} has no redemption {redemption_id}")
            change = redeeming.cancel_redemption(member, redemption, self.clock.now(), self.program)
            written.append(change.entry.entry_id)
            commit(self.store, self.program, change, {member.member_id: member.version},
                   [self.redemptions.cancelled(redemption)])
            return Outcome(change.entry, replayed=False)

        return self.retry.run(attempt)

    def voucher(self, code: str) -> Voucher:
        voucher = self.redemptions.get_voucher(code)
        if voucher is None:
            raise errors.VoucherNotFound(f"no voucher {code}")
        return voucher

    def use_voucher(self, code: str, store_id: str | None) -> Voucher:
        """Mark the voucher used, once: a second use (from another till, at the same moment too) is refused."""
        return self.redemptions.use_voucher(code, self.clock.now(), store_id)
