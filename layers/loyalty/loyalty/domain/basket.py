"""What part of a purchase earns points: the eligible amount of its basket.

Rules (API.md, "The basket, and what a purchase earns"):
- Without items, all of `amount_minor` is eligible.
- With items, the lines earn: a line whose category is excluded (gift cards, tax, shipping...) earns nothing.
  What the lines leave out of `amount_minor` earns nothing either: the basket says what was bought.
- Nothing earns on more than was paid. When the lines add up to more than `amount_minor` (a basket-level
  discount), every line is reduced in the same proportion: line × amount_minor ÷ sum of all lines
  (excluded lines included, since the discount covered them too), rounded down per line.
- The eligible amount is the sum of the eligible lines, so the lines a campaign counts never add up to
  more than the whole.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from loyalty.domain.model import BasketItem, Purchase


@dataclass(frozen=True)
class EligibleLine:
    item: BasketItem
    amount_minor: int  # what this line earns on, after the basket-level discount
    excluded: bool  # its category earns nothing


@dataclass(frozen=True)
class Eligible:
    amount_minor: int
    lines: tuple[EligibleLine, ...] = ()  # in basket order; empty without items


def eligible(purchase: Purchase, excluded_categories: Collection[str] = ()) -> Eligible:
    if not purchase.items:
        return Eligible(purchase.amount_minor)
    listed = sum(item.amount_minor for item in purchase.items)
    paid = min(listed, purchase.amount_minor)
    lines = []
    for item in purchase.items:
        excluded = item.category is not None and item.category in excluded_categories
        # Integer arithmetic, rounded down; `listed` is never 0 here unless every line is 0 (then paid is 0).
        amount = 0 if excluded or not listed else item.amount_minor * paid // listed
        lines.append(EligibleLine(item, amount, excluded))
    return Eligible(sum(line.amount_minor for line in lines), tuple(lines))


def base_points(amount_minor: int, points_per_unit: int, unit_minor: int) -> int:
    """Points for an amount before tier and campaigns: per whole currency unit, rounded down."""
    return amount_minor * points_per_unit // unit_minor
