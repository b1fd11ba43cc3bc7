"""The schedule's arithmetic: deposit, balance day, all-at-booking for short notice, security deposit days."""

from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError

from payments.models import PaymentSchedule, ScheduleMode
from payments.schedule import security_deposit_days, terms_for

TODAY = date(2027, 3, 1)


def booking(total="1000.00", check_in=TODAY + timedelta(days=60), nights=5):
    return SimpleNamespace(total=Decimal(total), currency="EUR", check_in=check_in,
                           check_out=check_in + timedelta(days=nights))


def schedule(**kw):
    base = {"mode": ScheduleMode.DEPOSIT, "deposit_percent": Decimal(30), "deposit_fixed": None,
            "balance_days_before": 30, "deadline_days_before": 14, "auto_cancel": True,
            "security_deposit": Decimal(0), "security_deposit_days_before": 1, "security_deposit_release_days": 2}
    return PaymentSchedule(**{**base, **kw})


def test_no_schedule_means_everything_at_booking():
    terms = terms_for(booking(), None, TODAY)
    assert (terms.deposit, terms.balance_due_on, terms.has_balance) == (Decimal("1000.00"), None, False)


def test_a_percentage_deposit_and_the_balance_days():
    b = booking(total="777.51")
    terms = terms_for(b, schedule(), TODAY)
    assert terms.deposit == Decimal("233.25")  # 30% of 777.51 = 233.253, rounded to the cent
    assert terms.balance_due_on == b.check_in - timedelta(days=30)
    assert terms.deadline_on == b.check_in - timedelta(days=14)
    assert terms.auto_cancel is True


def test_a_fixed_deposit_is_capped_at_the_total_and_then_means_all_at_booking():
    assert terms_for(booking(), schedule(deposit_percent=None, deposit_fixed=Decimal(150)), TODAY).deposit == 150
    terms = terms_for(booking(total="100"), schedule(deposit_percent=None, deposit_fixed=Decimal(150)), TODAY)
    assert (terms.deposit, terms.has_balance) == (Decimal("100.00"), False)


@pytest.mark.parametrize("days_out, all_now", [(31, False), (30, True), (10, True)])
def test_a_stay_starting_sooner_than_the_balance_days_is_paid_in_full(days_out, all_now):
    terms = terms_for(booking(check_in=TODAY + timedelta(days=days_out)), schedule(), TODAY)
    assert terms.has_balance is not all_now
    assert (terms.deposit == Decimal("1000.00")) is all_now


def test_security_deposit_days_short_and_long_stays():
    check_in = date(2027, 5, 10)
    # 3 nights: placed 1 day before arrival, released 2 days after check-out (6 days apart: inside 7).
    assert security_deposit_days(check_in, check_in + timedelta(days=3), 1, 2) == (date(2027, 5, 9), date(2027, 5, 15))
    # 21 nights: a hold placed before arrival would lapse mid-stay; it is placed 6 days before its release day.
    place_on, release_on = security_deposit_days(check_in, check_in + timedelta(days=21), 1, 2)
    assert release_on == date(2027, 6, 2) and place_on == date(2027, 5, 27)
    assert (release_on - place_on).days < 7  # the authorisation is alive on its release day


def test_the_schedule_form_rules():
    with pytest.raises(ValidationError) as exc:
        schedule(deposit_percent=None, deposit_fixed=None).clean()
    assert "deposit_percent" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        schedule(deadline_days_before=30).clean()
    assert "deadline_days_before" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        schedule(deposit_percent=Decimal(100)).clean()
    with pytest.raises(ValidationError) as exc:
        schedule(security_deposit_release_days=6).clean()
    assert "security_deposit_release_days" in exc.value.message_dict
    schedule().clean()  # a sound one passes
