"""The eligible amount of a basket, with plain values."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from loyalty.domain.basket import base_points, eligible
from loyalty.domain.model import BasketItem, Purchase

EXCLUDED = {"gift_card", "tax"}


def purchase(amount_minor: int, *items: BasketItem) -> Purchase:
    return Purchase("t1", amount_minor, "EUR", items=items)


def test_without_items_everything_paid_is_eligible():
    result = eligible(purchase(1299), EXCLUDED)
    assert (result.amount_minor, result.lines) == (1299, ())


def test_excluded_categories_earn_nothing():
    coffee, card = BasketItem("espresso", 300, 2, "coffee"), BasketItem("card-50", 5000, 1, "gift_card")
    result = eligible(purchase(5300, coffee, card), EXCLUDED)
    assert result.amount_minor == 300
    assert [(line.item, line.amount_minor, line.excluded) for line in result.lines] == [(coffee, 300, False), (card, 0, True)]


def test_a_line_without_category_is_never_excluded():
    result = eligible(purchase(500, BasketItem("misc", 500)), EXCLUDED)
    assert result.amount_minor == 500 and not result.lines[0].excluded


def test_nothing_is_excluded_by_default():
    assert eligible(purchase(500, BasketItem("card", 500, 1, "gift_card"))).amount_minor == 500


def test_lines_exactly_paid_are_not_reduced():
    result = eligible(purchase(1000, BasketItem("a", 600), BasketItem("b", 400)), EXCLUDED)
    assert [line.amount_minor for line in result.lines] == [600, 400]


def test_what_the_lines_leave_out_earns_nothing():
    # 1000 paid, the lines say 700: the basket is what was bought, the rest is not eligible.
    assert eligible(purchase(1000, BasketItem("a", 700)), EXCLUDED).amount_minor == 700


def test_a_basket_discount_reduces_every_line_in_proportion_excluded_lines_included():
    # Lines 1000 (coffee) + 1000 (gift card) = 2000, 1500 paid: each line is worth 3/4.
    result = eligible(purchase(1500, BasketItem("a", 1000, 1, "coffee"), BasketItem("g", 1000, 1, "gift_card")), EXCLUDED)
    assert [line.amount_minor for line in result.lines] == [750, 0]
    assert result.amount_minor == 750


def test_each_discounted_line_rounds_down_and_the_total_is_their_sum():
    # 500 / 1000 of 333, 333, 334 = 166.5, 166.5, 167: rounded down per line.
    result = eligible(purchase(500, BasketItem("a", 333), BasketItem("b", 333), BasketItem("c", 334)), EXCLUDED)
    assert [line.amount_minor for line in result.lines] == [166, 166, 167]
    assert result.amount_minor == 499


def test_a_basket_of_free_lines_is_worth_nothing():
    assert eligible(purchase(100, BasketItem("free", 0)), EXCLUDED).amount_minor == 0


def test_base_points_are_per_whole_unit_rounded_down():
    assert base_points(199, 1, 100) == 1
    assert base_points(200, 1, 100) == 2
    assert base_points(250, 3, 100) == 7


items = st.lists(
    st.builds(BasketItem, sku=st.sampled_from(["a", "b", "c"]), amount_minor=st.integers(0, 10_000),
              quantity=st.integers(1, 5), category=st.sampled_from([None, "coffee", "gift_card", "tax"])),
    max_size=8,
)


@given(amount_minor=st.integers(1, 50_000), basket=items)
def test_never_more_than_paid_nor_from_excluded_lines(amount_minor, basket):
    result = eligible(purchase(amount_minor, *basket), EXCLUDED)
    assert 0 <= result.amount_minor <= amount_minor
    assert result.amount_minor == (sum(line.amount_minor for line in result.lines) if basket else amount_minor)
    for line in result.lines:
        assert 0 <= line.amount_minor <= line.item.amount_minor
        assert line.excluded == (line.item.category in EXCLUDED)
        if line.excluded:
            assert line.amount_minor == 0
