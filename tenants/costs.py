"""Cost allocation (費用負担): a period's cost split among tenants in whole yen that sum exactly to the total.

Pure: plain data in, plain data out, exact arithmetic (int, Fraction, Decimal), never floats.
The methods and how total, fixed and unit prices combine are in README "Usage meters and cost allocation".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from fractions import Fraction
from math import floor
from typing import Literal, get_args

from tenants.meters import METERS

MAX_YEN = 2**63 - 1
"""Amounts are stored as 64-bit integers."""
Method = Literal["usage", "population", "equal", "hybrid"]
BaseSplit = Literal["population", "equal"]
METHODS: tuple[str, ...] = get_args(Method)
BASE_SPLITS: tuple[str, ...] = get_args(BaseSplit)


class AllocationError(ValueError):
    """Terms or tenants that cannot give an allocation; the message says what to change."""


@dataclass(frozen=True)
class Member:
    """A tenant as the allocation sees it: its population and its usage over the period."""

    name: str
    population: int | None
    usage: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Terms:
    method: str
    total: int | None = None
    fixed: int | None = None
    unit_prices: Mapping[str, Decimal] = field(default_factory=dict)
    fixed_split: str = "population"
    """hybrid: how the fixed part is split (population | equal)."""


@dataclass(frozen=True)
class Share:
    tenant: str
    weighted_usage: Fraction
    """Σ meter × unit price over the priced meters (0 without unit prices)."""
    base_part: Fraction
    """The exact share split by population or equally (equal, population, hybrid's fixed part)."""
    usage_part: Fraction
    """The exact share split by weighted usage (usage, hybrid's variable part)."""
    amount: int
    """Whole yen after largest-remainder rounding."""

    @property
    def exact(self) -> Fraction:
        return self.base_part + self.usage_part


@dataclass(frozen=True)
class Allocation:
    total: int
    shares: list[Share]
    """In tenant name order."""


def allocate(members: Sequence[Member], terms: Terms) -> Allocation:
    """Each tenant's amount in whole yen; the amounts sum exactly to the total."""
    _check_terms(terms)
    if not members:
        raise AllocationError("No tenants to allocate the cost to")
    names = [member.name for member in members]
    if len(set(names)) != len(names):
        duplicates = sorted({name for name in names if names.count(name) > 1})
        raise AllocationError(f"A tenant is listed more than once: {', '.join(duplicates)}")
    members = sorted(members, key=lambda member: member.name)
    weighted = {member.name: weighted_usage(member.usage, terms.unit_prices) for member in members}
    zero = dict.fromkeys(weighted, Fraction(0))
    base, by_usage = zero, zero
    if terms.method in ("equal", "population"):
        assert terms.total is not None
        total = terms.total
        base = _split_base(total, members, terms.method)
    elif terms.method == "usage":
        if terms.total is None:
            by_usage = weighted
            total = round_half_up(sum(weighted.values(), Fraction(0)))
        else:
            total = terms.total
            by_usage = _split_by_usage(total, weighted)
    else:
        assert terms.fixed is not None
        base = _split_base(terms.fixed, members, terms.fixed_split)
        if terms.total is None:
            by_usage = weighted
            total = terms.fixed + round_half_up(sum(weighted.values(), Fraction(0)))
        else:
            if terms.total < terms.fixed:
                raise AllocationError(f"total ({terms.total}) is less than fixed ({terms.fixed}): the variable "
                                      "part would be negative")
            total = terms.total
            by_usage = _split_by_usage(total - terms.fixed, weighted)
    if total > MAX_YEN:
        raise AllocationError(f"The charges add up to {total} yen, more than the largest amount kept ({MAX_YEN})")
    amounts = largest_remainder({name: base[name] + by_usage[name] for name in weighted}, total)
    return Allocation(total, [Share(name, weighted[name], base[name], by_usage[name], amounts[name])
                              for name in weighted])


def weighted_usage(usage: Mapping[str, int], unit_prices: Mapping[str, Decimal]) -> Fraction:
    return sum((Fraction(usage.get(meter, 0)) * Fraction(price) for meter, price in unit_prices.items()),
               Fraction(0))


def largest_remainder(exact: Mapping[str, Fraction], total: int) -> dict[str, int]:
    """Whole amounts summing to `total`: each name gets its exact share rounded down, and the yen left
    over go one each to the largest fractional remainders; equal remainders in name order."""
    floors = {name: floor(share) for name, share in exact.items()}
    left = total - sum(floors.values())
    if not 0 <= left <= len(exact):
        raise ValueError(f"exact shares summing to {sum(exact.values())} cannot be rounded to {total}")
    order = sorted(exact, key=lambda name: (-(exact[name] - floors[name]), name))
    for name in order[:left]:
        floors[name] += 1
    return floors


def round_half_up(value: Fraction) -> int:
    return floor(value + Fraction(1, 2))


def decimal_text(value: Fraction, places: int = 6) -> str:
    """An exact share as a decimal string, rounded half-even to `places` (for people and CSV, not sums)."""
    with localcontext() as context:
        context.prec = 80
        return str((Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal(1).scaleb(-places)))


def _check_terms(terms: Terms) -> None:
    if terms.method not in METHODS:
        raise AllocationError(f"Unknown method {terms.method!r}; use one of {', '.join(METHODS)}")
    for name, value in (("total", terms.total), ("fixed", terms.fixed)):
        if value is not None and not 0 <= value <= MAX_YEN:
            raise AllocationError(f"{name} must be a whole number of yen from 0 to {MAX_YEN}, got {value}")
    unknown = sorted(set(terms.unit_prices) - set(METERS))
    if unknown:
        raise AllocationError(f"Unknown meter(s) in unitPrices: {', '.join(unknown)}; meters: {', '.join(METERS)}")
    for meter, price in terms.unit_prices.items():
        if not price.is_finite() or price < 0:
            raise AllocationError(f"unitPrices.{meter} must be a price of 0 or more, got {price}")
    method = terms.method
    if method in ("equal", "population"):
        if terms.total is None:
            raise AllocationError(f"Method {method!r} needs a total")
        if terms.fixed is not None or terms.unit_prices:
            raise AllocationError(f"Method {method!r} splits a total: fixed and unitPrices belong to methods "
                                  "usage and hybrid")
    elif method == "usage":
        if not terms.unit_prices:
            raise AllocationError("Method 'usage' needs unitPrices (yen per unit of at least one meter)")
        if terms.fixed is not None:
            raise AllocationError("Method 'usage' has no fixed part: use method 'hybrid' for fixed + usage")
    else:
        if terms.fixed is None or not terms.unit_prices:
            raise AllocationError("Method 'hybrid' needs fixed (yen split by population or equally) and unitPrices "
                                  "(for the variable part)")
        if terms.fixed_split not in BASE_SPLITS:
            raise AllocationError(f"fixedSplit must be one of {', '.join(BASE_SPLITS)}, got {terms.fixed_split!r}")


def _split_base(amount: int, members: Sequence[Member], how: str) -> dict[str, Fraction]:
    if how == "equal":
        return {member.name: Fraction(amount, len(members)) for member in members}
    missing = [member.name for member in members if member.population is None]
    if missing:
        raise AllocationError(f"No population registered for {', '.join(missing)}: set it with PATCH "
                              "/admin/v1/tenants/{name}, or split equally")
    weights = {member.name: Fraction(member.population or 0) for member in members}
    if not any(weights.values()):
        raise AllocationError("Every tenant's population is 0: the cost cannot be split by population")
    return _proportional(amount, weights)


def _split_by_usage(amount: int, weighted: dict[str, Fraction]) -> dict[str, Fraction]:
    if not any(weighted.values()):
        if amount == 0:
            return dict.fromkeys(weighted, Fraction(0))
        raise AllocationError("No tenant has priced usage in the period: the cost cannot be split by usage")
    return _proportional(amount, weighted)


def _proportional(amount: int, weights: dict[str, Fraction]) -> dict[str, Fraction]:
    whole = sum(weights.values(), Fraction(0))
    return {name: amount * weight / whole for name, weight in weights.items()}
