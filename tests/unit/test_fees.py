from datetime import date

import pytest

from clearing.domain.fees import FeeSchedule, Matter, in_force, registration_fee
from clearing.errors import InvalidRequest

V1 = FeeSchedule(1, date(2016, 10, 1), 8000, 55000, 1000, frozenset({"small_micro_enterprise"}))
V2 = FeeSchedule(2, date(2027, 1, 1), 6000, 40000, 1000, frozenset())


@pytest.mark.parametrize(
    ("matter", "fen"),
    [
        (Matter("residential"), 80_00),
        (Matter("non_residential"), 550_00),
        (Matter("residential", extra_certificates=2), 100_00),
        (Matter("non_residential", extra_certificates=1), 560_00),
        (Matter("non_residential", exemption="small_micro_enterprise"), 0),
    ],
)
def test_published_fees(matter: Matter, fen: int) -> None:
    assert registration_fee(V1, matter) == fen


def test_the_version_in_force_on_the_day() -> None:
    assert in_force([V1, V2], date(2026, 12, 31)).version == 1
    assert in_force([V1, V2], date(2027, 1, 1)).version == 2
    with pytest.raises(InvalidRequest) as e:
        in_force([V1, V2], date(2016, 9, 30))
    assert e.value.code == "NO_FEE_SCHEDULE"


def test_an_exemption_the_schedule_does_not_grant_is_refused() -> None:
    with pytest.raises(InvalidRequest) as e:
        registration_fee(V2, Matter("non_residential", exemption="small_micro_enterprise"))
    assert e.value.code == "UNKNOWN_EXEMPTION"


@pytest.mark.parametrize("matter", [Matter("garage"), Matter("residential", extra_certificates=-1)])
def test_bad_matters(matter: Matter) -> None:
    with pytest.raises(InvalidRequest):
        registration_fee(V1, matter)
