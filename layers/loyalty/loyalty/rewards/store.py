"""The redemptions' store operations: the reads of a redemption and its cancel, the catalog's query, vouchers and
their use; the redemption's parts of the ledger's transaction (stock, per-member counts, voucher, redemption)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from pynamodb.exceptions import (
    DoesNotExist,
    GetError,
    QueryError,
    TransactGetError,
    TransactWriteError,
)
from pynamodb.transactions import TransactGet, TransactWrite

from loyalty.domain import errors
from loyalty.domain.model import BLOCKED, Entry, EntryRef, Member, Redemption, Reward, Voucher
from loyalty.settings import ConfigurationError
from loyalty.store import keys
from loyalty.store.ledger import Store, Write
from loyalty.store.transaction import LOST_RACE, LostRace, Meaning, Transaction, busy, found, response_code
from loyalty.store.records import (
    entry_from_record,
    member_from_record,
    redemption_from_record,
    redemption_to_record,
    reward_from_record,
    voucher_from_record,
    voucher_to_record,
)

if TYPE_CHECKING:  # the campaign engine is imported only by the functions that evaluate campaigns
    pass

def out_of_stock(reward: Reward) -> Meaning:
    return Meaning(2, lambda: errors.OutOfStock(f"{reward.name} is out of stock", reward_id=reward.reward_id))


def limit_reached(reward: Reward) -> Meaning:
    return Meaning(2, lambda: errors.RewardLimitReached(
        f"{reward.name} may be redeemed {reward.per_member_limit} time(s) per member",
        reward_id=reward.reward_id, per_member_limit=reward.per_member_limit,
    ))


class RedemptionStore:
    """The rewards feature's reads and writes, on the store base."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def redeemed(self, member_id: str, *, stock_reward: Reward | None, counted_reward: Reward | None, voucher: Voucher,
                 redemption: Redemption) -> Write:
        """A redemption's part of the ledger's transaction.

        stock_reward: a reward with limited stock, taken one off only while some is left.
        counted_reward: the reward `member_id` redeemed: its count for the member goes up by one, only while under
            the reward's per_member_limit.
        voucher: the redemption's voucher, new (a taken code is a lost race: the retry draws another).
        redemption: the new redemption, kept under its redemption_id for a cancel to find.
        """
        tables = self.store.tables

        def write(transaction: Transaction) -> None:
            if stock_reward:
                transaction.update(
                    self._rewards("REWARD", stock_reward.reward_id), actions=[tables.rewards.stock.add(-1)],
                    condition=tables.rewards.stock > 0, meaning=out_of_stock(stock_reward),
                )
            if counted_reward:
                self._count_redemption(transaction, member_id, counted_reward)
            transaction.save(voucher_to_record(voucher, tables.vouchers), tables.vouchers.pk.does_not_exist(), LOST_RACE)
            transaction.save(redemption_to_record(redemption, tables.redemptions),
                             tables.redemptions.pk.does_not_exist(), LOST_RACE)

        return write

    def cancelled(self, redemption: Redemption) -> Write:
        """A cancel's part of the ledger's transaction: the voucher cancelled only while issued, the stock back, and
        the member's count of the reward one down."""
        return lambda transaction: self._cancel_redemption(transaction, redemption)

    @property
    def _rewards(self):
        if self.store.tables.rewards is None:
            raise ConfigurationError("this function was given no CATALOG_TABLE")
        return self.store.tables.rewards

    def get_for_redemption(self, member_id: str, ref: EntryRef, reward_id: str) -> tuple[Member | None, Entry | None, int]:
        """The member, the redemption entry of `ref` if written, and how often the member redeemed the reward: one round trip."""
        member, entries, count = self.store.read_member(member_id, [ref], keys.redemption_count(member_id, reward_id))
        return member, entries.get(ref), count

    def get_for_cancel(self, member_id: str, redemption_id: str) -> tuple[Member | None, Redemption | None, Entry | None]:
        """The member, the redemption of that id and its cancel entry if written: one consistent round trip."""
        try:
            with TransactGet(connection=self.store.connection()) as reads:
                member = reads.get(self.store.tables.members, keys.member_pk(member_id))
                redemption = reads.get(self.store.tables.redemptions, keys.redemption_pk(member_id, redemption_id))
                cancel = reads.get(self.store.tables.entries, member_id, keys.entry_key(EntryRef("cancel", redemption_id)))
        except TransactGetError as error:
            if response_code(error) == "TransactionCanceledException":
                raise LostRace() from error
            raise busy(error) from error
        return (found(member, member_from_record), found(redemption, redemption_from_record),
                found(cancel, entry_from_record))

    def rewards(self) -> list[Reward]:
        try:
            return [reward_from_record(record) for record in self._rewards.query("REWARD")]
        except QueryError as error:
            raise busy(error) from error

    def get_voucher(self, code: str) -> Voucher | None:
        try:
            return voucher_from_record(self.store.tables.vouchers.get(keys.voucher_pk(code), consistent_read=True))
        except DoesNotExist:
            return None
        except GetError as error:
            raise busy(error) from error

    def use_voucher(self, code: str, used_at: datetime, store_id: str | None) -> Voucher:
        """Mark an issued voucher used, once, while its member is not blocked: one read, one transaction."""
        current = self.get_voucher(code)
        if current is None:
            raise errors.VoucherNotFound(f"no voucher {code}")
        if current.status != "issued":
            self._refuse_use(current)
        model, members = self.store.tables.vouchers, self.store.tables.members
        actions = [model.status.set("used"), model.used_at.set(used_at)]
        if store_id is not None:
            actions.append(model.store_id.set(store_id))
        try:
            with TransactWrite(connection=self.store.connection()) as writes:
                # pynamodb sends condition checks first: reasons[0] is the member's, reasons[1] the voucher's.
                writes.condition_check(members, keys.member_pk(current.member_id),
                                       condition=members.status.does_not_exist() | (members.status != BLOCKED))
                writes.update(model(keys.voucher_pk(code)), actions=actions, condition=model.status == "issued")
        except TransactWriteError as error:
            failed = [reason is not None and reason.code == "ConditionalCheckFailed"
                      for reason in error.cancellation_reasons or []]
            if failed[:1] == [True]:
                raise errors.MemberBlocked(f"member {current.member_id} is blocked; their vouchers cannot be used") from error
            if failed[1:2] == [True]:
                self._refuse_use(self.get_voucher(code) or current)  # another till used it a moment ago
            raise busy(error) from error
        return replace(current, status="used", used_at=used_at,
                       store_id=store_id if store_id is not None else current.store_id)

    def _refuse_use(self, current: Voucher) -> None:
        raise _voucher_refusal(current)

    def _cancel_redemption(self, transaction: Transaction, redemption: Redemption) -> None:
        vouchers, rewards, counts = self.store.tables.vouchers, self.store.tables.rewards, self.store.tables.redemption_counts
        transaction.update(vouchers(keys.voucher_pk(redemption.voucher_code)), actions=[vouchers.status.set("cancelled")],
                           condition=vouchers.status == "issued", meaning=self._voucher_not_issued(redemption.voucher_code))
        if redemption.stock_taken:
            transaction.update(self._rewards("REWARD", redemption.reward_id), actions=[rewards.stock.add(1)],
                               condition=rewards.stock.exists())
        if redemption.reward_id:  # counted by the redemption (store.commit's counted_reward)
            transaction.update(counts(keys.redemption_count(redemption.member_id, redemption.reward_id)),
                               actions=[counts.count.add(-1)], condition=counts.count > 0)

    def _voucher_not_issued(self, code: str) -> Meaning:
        def refusal() -> Exception:
            current = self.get_voucher(code)
            if current is not None and current.status == "used":
                return _voucher_refusal(current)
            return LostRace()  # cancelled by a cancel of the same redemption a moment ago: the retry replays it

        return Meaning(2, refusal)

    def _count_redemption(self, transaction: Transaction, member_id: str, reward: Reward) -> None:
        # Counted on every redemption, so a limit set later counts the redemptions made before it.
        model = self.store.tables.redemption_counts
        limit = reward.per_member_limit
        transaction.update(
            model(keys.redemption_count(member_id, reward.reward_id)), actions=[model.count.add(1)],
            condition=(model.count.does_not_exist() | (model.count < limit)) if limit is not None else None,
            meaning=limit_reached(reward) if limit is not None else None,
        )


def _voucher_refusal(current: Voucher) -> errors.DomainError:
    """Why a voucher that is not issued cannot be used (or its redemption cancelled)."""
    if current.status == "cancelled":
        return errors.VoucherCancelled(f"voucher {current.voucher_code} was cancelled")
    used_at = keys.time_key(current.used_at) if current.used_at else None  # RFC 3339, UTC, "Z"
    return errors.VoucherAlreadyUsed(f"voucher {current.voucher_code} was used at {used_at}",
                                     used_at=used_at, store_id=current.store_id)
