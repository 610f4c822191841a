"""Quote arithmetic, pure (no database): the one place the rounding rules live.

Per line: unit price = list price less the discount, rounded half-up to cents; net = quantity
× unit price (cents); tax = net × rate, rounded half-up to cents per line; total = net + tax.
The quote's totals are the sums of its lines, so every printed line adds up to the printed
total and the order made from an accepted quote carries exactly the quoted net amounts."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
HUNDRED = Decimal("100")


@dataclass(frozen=True)
class LineAmounts:
    unit_price: Decimal
    net: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def line_amounts(
    *, quantity: Decimal, list_price: Decimal, discount_percent: Decimal, tax_rate: Decimal
) -> LineAmounts:
    unit = cents(list_price * (HUNDRED - discount_percent) / HUNDRED)
    net = cents(quantity * unit)
    gross = cents(quantity * list_price)
    tax = cents(net * tax_rate / HUNDRED)
    return LineAmounts(unit_price=unit, net=net, discount=gross - net, tax=tax, total=net + tax)


@dataclass(frozen=True)
class QuoteAmounts:
    subtotal: Decimal  # before discounts
    discount_total: Decimal
    tax_total: Decimal
    total: Decimal


def quote_amounts(lines: list[tuple[Decimal, Decimal, LineAmounts]]) -> QuoteAmounts:
    """`lines`: (quantity, list_price, amounts) per line."""
    subtotal = sum((cents(q * p) for q, p, _ in lines), Decimal("0.00"))
    discount = sum((a.discount for _, _, a in lines), Decimal("0.00"))
    tax = sum((a.tax for _, _, a in lines), Decimal("0.00"))
    net = sum((a.net for _, _, a in lines), Decimal("0.00"))
    return QuoteAmounts(subtotal=subtotal, discount_total=discount, tax_total=tax, total=net + tax)
