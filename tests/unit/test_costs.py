"""Cost allocation arithmetic: worked examples, rounding edge cases, bad terms (tenants/costs.py)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tenants.costs import MAX_YEN, AllocationError, Member, Terms, allocate, decimal_text, largest_remainder


def amounts(members: list[Member], terms: Terms) -> dict[str, int]:
    result = allocate(members, terms)
    assert sum(share.amount for share in result.shares) == result.total
    return {share.tenant: share.amount for share in result.shares}


def people(**populations: int | None) -> list[Member]:
    return [Member(name, population) for name, population in populations.items()]


KINKI = [Member("osaka", 8_763_000, {"readRequests": 9000, "entitiesStored": 300}),
         Member("hyogo", 5_402_000, {"readRequests": 1000, "entitiesStored": 100}),
         Member("kyoto", 2_550_000, {})]


# --- equal (等分) --------------------------------------------------------------------------------

@pytest.mark.parametrize(("total", "expected"), [
    (100, {"a": 34, "b": 33, "c": 33}),   # 33.33… each: the one yen left goes to the first name
    (101, {"a": 34, "b": 34, "c": 33}),
    (102, {"a": 34, "b": 34, "c": 34}),
    (0, {"a": 0, "b": 0, "c": 0}),
    (1, {"a": 1, "b": 0, "c": 0}),
    (2, {"a": 1, "b": 1, "c": 0}),
])
def test_equal_split_gives_the_left_over_yen_in_name_order(total, expected):
    assert amounts(people(c=1, a=1, b=1), Terms("equal", total=total)) == expected


def test_equal_split_of_the_largest_total_is_exact():
    assert amounts(people(a=None, b=None), Terms("equal", total=MAX_YEN)) == {"a": MAX_YEN // 2 + 1, "b": MAX_YEN // 2}


# --- population (人口比) -------------------------------------------------------------------------

def test_population_split_worked_example():
    # 1,000,000 yen over 8,763,000 / 5,402,000 / 2,550,000 (total 16,715,000):
    # osaka 524,259.647…, hyogo 323,182.769…, kyoto 152,557.583… → floors 999,998;
    # the two yen left go to the largest remainders: hyogo (.769), osaka (.647)
    result = allocate(KINKI, Terms("population", total=1_000_000))
    assert {share.tenant: share.amount for share in result.shares} == {"hyogo": 323_183, "kyoto": 152_557,
                                                                        "osaka": 524_260}
    assert [share.tenant for share in result.shares] == ["hyogo", "kyoto", "osaka"]
    assert decimal_text(result.shares[2].exact) == "524259.647024"


def test_population_with_equal_remainders_breaks_ties_by_name():
    # 10 yen over populations 1:1:1:1 → 2.5 each: floors 8, two yen to the first two names
    assert amounts(people(d=5, c=5, b=5, a=5), Terms("population", total=10)) == {"a": 3, "b": 3, "c": 2, "d": 2}


def test_a_tenant_with_population_zero_pays_nothing_by_population():
    assert amounts(people(a=0, b=3, c=1), Terms("population", total=7)) == {"a": 0, "b": 5, "c": 2}


def test_population_zero_for_every_tenant_is_refused():
    with pytest.raises(AllocationError,
                       match=r"^Every tenant's population is 0: the cost cannot be split by population$"):
        allocate(people(a=0, b=0), Terms("population", total=100))


def test_population_missing_is_refused_naming_the_tenants():
    with pytest.raises(AllocationError, match=r"^No population registered for b, c: set it with PATCH"):
        allocate(people(a=1, b=None, c=None), Terms("population", total=100))


# --- usage (従量) --------------------------------------------------------------------------------

PRICES = {"readRequests": Decimal("0.5"), "entitiesStored": Decimal("10")}


def test_usage_without_a_total_charges_meter_times_unit_price():
    # osaka 9000×0.5 + 300×10 = 7500, hyogo 1000×0.5 + 100×10 = 1500, kyoto 0
    result = allocate(KINKI, Terms("usage", unit_prices=PRICES))
    assert result.total == 9000
    assert {share.tenant: (share.amount, share.weighted_usage) for share in result.shares} == {
        "osaka": (7500, 7500), "hyogo": (1500, 1500), "kyoto": (0, 0)}


def test_usage_with_a_total_splits_it_in_proportion_and_zero_usage_pays_nothing():
    # 1000 yen by weights 7500 : 1500 : 0 → 833.33…, 166.66…, 0 → 833 + 166 = 999, one yen to hyogo (.666)
    assert amounts(KINKI, Terms("usage", total=1000, unit_prices=PRICES)) == {"osaka": 833, "hyogo": 167, "kyoto": 0}


def test_usage_with_fractional_prices_rounds_the_sum_half_up_and_stays_exact():
    members = [Member("a", None, {"bytesOut": 3}), Member("b", None, {"bytesOut": 3}), Member("c", None, {})]
    # 3 × 0.25 = 0.75 each: the total 1.5 rounds half up to 2 → one yen each to a and b (equal remainders)
    result = allocate(members, Terms("usage", unit_prices={"bytesOut": Decimal("0.25")}))
    assert (result.total, [share.amount for share in result.shares]) == (2, [1, 1, 0])
    members = [Member("a", None, {"bytesOut": 1}), Member("b", None, {"bytesOut": 1})]
    result = allocate(members, Terms("usage", unit_prices={"bytesOut": Decimal("0.2")}))
    assert (result.total, [share.amount for share in result.shares]) == (0, [0, 0])


def test_usage_of_a_total_with_no_priced_usage_is_refused_but_zero_total_is_zero():
    idle = [Member("a", 1, {}), Member("b", 1, {"readRequests": 5})]
    with pytest.raises(AllocationError, match=r"^No tenant has priced usage in the period"):
        allocate(idle, Terms("usage", total=100, unit_prices={"writeRequests": Decimal(1)}))
    assert amounts(idle, Terms("usage", total=0, unit_prices={"writeRequests": Decimal(1)})) == {"a": 0, "b": 0}


# --- hybrid -------------------------------------------------------------------------------------

def test_hybrid_with_a_total_splits_fixed_by_population_and_the_rest_by_usage():
    # fixed 600 by population 8763:5402:2550 → 314.555…, 193.909…, 91.534…;
    # variable 400 by usage 7500:1500:0 → 333.333…, 66.666…, 0;
    # exact: osaka 647.889, hyogo 260.576, kyoto 91.534 → floors 998, two yen: osaka (.889), hyogo (.576)
    result = allocate(KINKI, Terms("hybrid", total=1000, fixed=600, unit_prices=PRICES))
    shares = {share.tenant: share for share in result.shares}
    assert {name: share.amount for name, share in shares.items()} == {"osaka": 648, "hyogo": 261, "kyoto": 91}
    assert decimal_text(shares["kyoto"].base_part) == "91.534550"
    assert shares["kyoto"].usage_part == 0


def test_hybrid_without_a_total_adds_the_charges_to_the_fixed_part():
    result = allocate(KINKI, Terms("hybrid", fixed=90, unit_prices=PRICES, fixed_split="equal"))
    assert result.total == 90 + 9000
    assert {share.tenant: share.amount for share in result.shares} == {"osaka": 7530, "hyogo": 1530, "kyoto": 30}


def test_hybrid_with_a_total_below_the_fixed_part_is_refused():
    with pytest.raises(AllocationError, match=r"^total \(10\) is less than fixed \(20\)"):
        allocate(KINKI, Terms("hybrid", total=10, fixed=20, unit_prices=PRICES))


# --- terms and tenants that cannot give an allocation -------------------------------------------

@pytest.mark.parametrize(("terms", "message"), [
    (Terms("lottery", total=1), "Unknown method 'lottery'; use one of usage, population, equal, hybrid"),
    (Terms("equal", total=-1), f"total must be a whole number of yen from 0 to {MAX_YEN}, got -1"),
    (Terms("equal", total=MAX_YEN + 1), f"total must be a whole number of yen from 0 to {MAX_YEN}, got {MAX_YEN + 1}"),
    (Terms("equal"), "Method 'equal' needs a total"),
    (Terms("population"), "Method 'population' needs a total"),
    (Terms("equal", total=5, fixed=1), "Method 'equal' splits a total: fixed and unitPrices belong to methods "
                                       "usage and hybrid"),
    (Terms("usage", total=5), "Method 'usage' needs unitPrices (yen per unit of at least one meter)"),
    (Terms("usage", fixed=5, unit_prices={"bytesIn": Decimal(1)}),
     "Method 'usage' has no fixed part: use method 'hybrid' for fixed + usage"),
    (Terms("hybrid", total=5, unit_prices={"bytesIn": Decimal(1)}),
     "Method 'hybrid' needs fixed (yen split by population or equally) and unitPrices (for the variable part)"),
    (Terms("hybrid", fixed=5, unit_prices={"bytesIn": Decimal(1)}, fixed_split="area"),
     "fixedSplit must be one of population, equal, got 'area'"),
    (Terms("usage", unit_prices={"cpuSeconds": Decimal(1)}), "Unknown meter(s) in unitPrices: cpuSeconds; meters: "),
    (Terms("usage", unit_prices={"bytesIn": Decimal(-1)}), "unitPrices.bytesIn must be a price of 0 or more, got -1"),
])
def test_bad_terms_are_refused_with_a_precise_message(terms, message):
    with pytest.raises(AllocationError) as raised:
        allocate(people(a=1), terms)
    assert str(raised.value).startswith(message)


def test_no_tenants_or_a_tenant_twice_is_refused():
    with pytest.raises(AllocationError, match=r"^No tenants to allocate the cost to$"):
        allocate([], Terms("equal", total=1))
    with pytest.raises(AllocationError, match=r"^A tenant is listed more than once: a$"):
        allocate(people(a=1) + people(a=2), Terms("equal", total=1))


def test_charges_beyond_64_bits_are_refused():
    members = [Member("a", None, {"bytesIn": MAX_YEN})]
    with pytest.raises(AllocationError, match=r"^The charges add up to"):
        allocate(members, Terms("usage", unit_prices={"bytesIn": Decimal(2)}))


# --- largest remainder --------------------------------------------------------------------------

def test_largest_remainder_prefers_the_largest_remainder_over_the_name():
    exact = {"a": Fraction(1, 10), "b": Fraction(7, 10), "c": Fraction(22, 10)}
    assert largest_remainder(exact, 3) == {"a": 0, "b": 1, "c": 2}


@given(st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=12),
       st.integers(min_value=0, max_value=10**15))
def test_population_split_always_sums_to_the_total_and_stays_within_one_yen(populations, total):
    members = [Member(f"t{index:02d}", population) for index, population in enumerate(populations)]
    if not any(populations):
        return
    result = allocate(members, Terms("population", total=total))
    assert sum(share.amount for share in result.shares) == total
    assert all(abs(share.amount - share.exact) < 1 for share in result.shares)
