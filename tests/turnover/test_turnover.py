"""Turnover tasks: made, moved and removed from booking events; the scoped staff list; mark done."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from bookings import services
from bookings.models import Booking
from core import outbox
from core.actor import Actor
from core.models import OutboxDelivery, OutboxEvent
from guests.services import GuestInput
from properties.models import TurnoverTask
from properties.turnover import mark_done, sync_turnover_for_booking
from tests.factories import PropertyFactory, UserFactory, future

pytestmark = pytest.mark.django_db
OWNER = Actor.system("test")
CHANGELIST = reverse("admin:properties_turnovertask_changelist")


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Run the on-commit callbacks (outbox delivery → consumers) of what happens inside."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def confirmed(book, prop, start=10, nights=3):
    booking = book(prop, start=start, nights=nights)
    return services.confirm(booking_id=booking.pk, actor=OWNER)


def channel(prop, external_id, check_in, check_out, **kwargs):
    return services.import_external(property_id=prop.pk, source="airbnb", external_id=external_id,
                                    check_in=check_in, check_out=check_out,
                                    guest=GuestInput("Bo Jensen", "bo@example.com"), **kwargs).booking


def back_office_user(email, **kwargs):
    user = UserFactory(email=email, is_staff=True, **kwargs)
    user.user_permissions.add(*Permission.objects.filter(
        codename__in=["view_turnovertask", "change_turnovertask", "view_property"]))
    return user


# --- the sync ----------------------------------------------------------------------------------------


def test_confirmation_creates_one_task_through_the_outbox_consumer(prop, book, on_commit):
    cleaner = UserFactory(email="cleaner@example.com")
    prop.staff.add(cleaner)
    with on_commit():
        booking = book(prop, start=10, nights=3)
    assert not TurnoverTask.objects.exists()  # a reservation is not a stay yet
    with on_commit():
        services.confirm(booking_id=booking.pk, actor=OWNER)
    task = TurnoverTask.objects.get()
    assert (task.booking_id, task.property_id) == (booking.pk, prop.pk)
    assert task.due_date == booking.check_out == future(13)
    assert task.window_end == future(14)  # no next stay: the next day
    assert task.assignee == cleaner and task.status == TurnoverTask.Status.OPEN
    assert OutboxDelivery.objects.filter(consumer="turnover").count() == OutboxEvent.objects.count() == 2


def test_sync_directly_creates_for_confirmed_and_nothing_for_reserved(prop, book):
    booking = book(prop, start=10, nights=3)
    assert sync_turnover_for_booking(booking.pk) is None
    services.confirm(booking_id=booking.pk, actor=OWNER)
    task = sync_turnover_for_booking(booking.pk)
    assert task.due_date == booking.check_out and task.assignee is None  # no staff assigned
    assert sync_turnover_for_booking(10**9) is None  # unknown booking: nothing


def test_channel_date_change_moves_the_task_and_the_previous_window(prop, on_commit):
    with on_commit():
        first = channel(prop, "A-1", future(5), future(8))
        second = channel(prop, "A-2", future(12), future(15))
    tasks = {t.booking_id: t for t in TurnoverTask.objects.all()}
    assert tasks[first.pk].window_end == future(12)
    assert tasks[second.pk].due_date == future(15)
    with on_commit():
        channel(prop, "A-2", future(10), future(11))
    moved = TurnoverTask.objects.get(booking=second)
    assert (moved.due_date, moved.window_end) == (future(11), future(12))
    assert TurnoverTask.objects.get(booking=first).window_end == future(10)
    assert TurnoverTask.objects.count() == 2


def test_cancel_removes_the_open_task_and_the_previous_window_falls_back(prop, book, on_commit):
    with on_commit():
        first = confirmed(book, prop, start=10, nights=3)
        second = confirmed(book, prop, start=14, nights=2)
    assert TurnoverTask.objects.get(booking=first).window_end == second.check_in
    with on_commit():
        services.cancel(booking_id=second.pk, actor=OWNER, reason="Plans changed.")
    assert not TurnoverTask.objects.filter(booking=second).exists()
    assert TurnoverTask.objects.get(booking=first).window_end == first.check_out + timedelta(days=1)


def test_same_day_turnover_window_ends_on_the_checkout_day(prop):
    first = channel(prop, "S-1", future(5), future(8))
    second = channel(prop, "S-2", future(8), future(9))
    sync_turnover_for_booking(first.pk)
    sync_turnover_for_booking(second.pk)
    assert TurnoverTask.objects.get(booking=first).window_end == future(8)


def test_a_done_task_is_kept_when_the_booking_is_cancelled(prop, owner):
    booking = channel(prop, "D-1", future(5), future(8))
    task = sync_turnover_for_booking(booking.pk)
    mark_done(task_id=task.pk, user=owner)
    channel(prop, "D-1", future(5), future(8), cancelled=True)
    assert Booking.objects.get(pk=booking.pk).status == "cancelled"
    task = sync_turnover_for_booking(booking.pk)
    assert task is None
    kept = TurnoverTask.objects.get(booking=booking)
    assert kept.status == TurnoverTask.Status.DONE and kept.done_by == owner


def test_replay_and_redelivery_change_nothing(prop, on_commit):
    with on_commit():
        first = channel(prop, "R-1", future(5), future(8))
        channel(prop, "R-2", future(9), future(12))
    before = sorted(TurnoverTask.objects.values_list("pk", "booking_id", "due_date", "window_end", "updated_at"))
    for event in OutboxEvent.objects.all():  # replay: delivered already
        assert outbox.deliver(event.pk) is True
    OutboxDelivery.objects.filter(consumer="turnover").delete()  # redelivery: the consumer's record lost
    OutboxEvent.objects.update(delivered_at=None)
    for event in OutboxEvent.objects.all():
        assert outbox.deliver(event.pk) is True
    sync_turnover_for_booking(first.pk)
    after = sorted(TurnoverTask.objects.values_list("pk", "booking_id", "due_date", "window_end", "updated_at"))
    assert after == before and len(after) == 2


def test_assignee_is_the_first_assigned_staff_member_by_id(prop):
    early, late = UserFactory(email="early@example.com"), UserFactory(email="late@example.com")
    prop.staff.add(late, early)
    task = sync_turnover_for_booking(channel(prop, "X-1", future(5), future(8)).pk)
    assert task.assignee == early


def test_mark_done_audits_and_refuses_someone_elses_task(prop, owner):
    task = sync_turnover_for_booking(channel(prop, "M-1", future(5), future(8)).pk)
    stranger = UserFactory(email="stranger@example.com")
    with pytest.raises(Exception, match="No such turnover task"):
        mark_done(task_id=task.pk, user=stranger)
    done = mark_done(task_id=task.pk, user=owner, notes="Towels replaced.")
    assert done.status == "done" and done.done_by == owner and done.done_at is not None
    assert done.notes == "Towels replaced."
    again = mark_done(task_id=task.pk, user=owner)
    assert again.done_at == done.done_at  # no second effect


# --- the staff list ------------------------------------------------------------------------------


@pytest.fixture
def two_owners(prop):
    """Owner A's property (with staff) and owner B's, each with a task due today and one in 3 weeks."""
    a = prop.owner
    a.is_staff = True
    a.save()
    a.user_permissions.add(*Permission.objects.filter(
        codename__in=["view_turnovertask", "change_turnovertask", "view_property"]))
    staff = back_office_user("staff@example.com")
    prop.staff.add(staff)
    b = back_office_user("b@example.com")
    other = PropertyFactory(owner=b, name="B's House")
    today = timezone.localdate()
    tasks = {}
    for key, p in (("a", prop), ("b", other)):
        tasks[key] = sync_turnover_for_booking(channel(p, f"{key}-today", today - timedelta(days=2), today).pk)
        tasks[f"{key}-later"] = sync_turnover_for_booking(
            channel(p, f"{key}-later", future(20), future(22)).pk)
    return {"a": a, "b": b, "staff": staff, "tasks": tasks}



def test_list_is_scoped_per_owner_staff_and_superuser(two_owners, client):
    tasks = two_owners["tasks"]
    ref = {k: t.booking.reference for k, t in tasks.items()}
    for user, sees, hidden in ((two_owners["a"], "a", "b"), (two_owners["staff"], "a", "b"),
                               (two_owners["b"], "b", "a")):
        client.force_login(user)
        page = client.get(CHANGELIST).content.decode()
        assert ref[sees] in page and ref[hidden] not in page, user
        assert ref[f"{sees}-later"] not in page  # default: this week only
        page = client.get(CHANGELIST, {"due": "all"}).content.decode()
        assert ref[f"{sees}-later"] in page and ref[f"{hidden}-later"] not in page
        page = client.get(CHANGELIST, {"due": "all", "q": ref[hidden]}).content.decode()
        assert page.count('class="action-select"') == 0 and "0 results" in page  # search stays scoped
    root = UserFactory(email="root@example.com", is_staff=True, is_superuser=True)
    client.force_login(root)
    page = client.get(CHANGELIST).content.decode()
    assert ref["a"] in page and ref["b"] in page


def test_anonymous_is_sent_to_login(two_owners, client):
    response = client.get(CHANGELIST)
    assert response.status_code == 302 and "/login/" in response["Location"]
    task = two_owners["tasks"]["a"]
    response = client.post(CHANGELIST, {"action": "mark_done", "_selected_action": [task.pk]})
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.status == "open"


def test_staff_marks_their_task_done_with_the_action(two_owners, client):
    staff, task = two_owners["staff"], two_owners["tasks"]["a"]
    client.force_login(staff)
    response = client.post(CHANGELIST, {"action": "mark_done", "_selected_action": [task.pk]}, follow=True)
    assert "1 turnover task(s) marked done." in response.content.decode()
    task.refresh_from_db()
    assert task.status == "done" and task.done_by == staff and task.done_at is not None


def test_nobody_changes_another_owners_task_by_url_or_tampering(two_owners, client):
    theirs = two_owners["tasks"]["a"]
    client.force_login(two_owners["b"])
    change = reverse("admin:properties_turnovertask_change", args=[theirs.pk])
    assert client.get(change).status_code == 302  # "doesn't exist" redirect
    client.post(change, {"notes": "hacked"})
    client.post(CHANGELIST, {"action": "mark_done", "_selected_action": [theirs.pk]})
    client.post(CHANGELIST + "?due=all", {"action": "mark_done", "_selected_action": [theirs.pk],
                                          "select_across": "1", "index": "0"})
    theirs.refresh_from_db()
    assert theirs.status == "open" and theirs.notes == "" and theirs.done_by is None
    # "select all" reached only B's own tasks
    assert set(TurnoverTask.objects.filter(status="done").values_list("pk", flat=True)) == {
        two_owners["tasks"]["b"].pk, two_owners["tasks"]["b-later"].pk}
    # their own task: the change page opens, only the notes are editable
    mine = two_owners["tasks"]["b"]
    assert client.get(reverse("admin:properties_turnovertask_change", args=[mine.pk])).status_code == 200
    client.post(reverse("admin:properties_turnovertask_change", args=[mine.pk]),
                {"notes": "Key under the mat", "status": "open", "due_date": "2000-01-01"})
    mine.refresh_from_db()
    assert mine.notes == "Key under the mat" and mine.status == "done" and mine.due_date == timezone.localdate()
    assert client.get(reverse("admin:properties_turnovertask_add")).status_code == 403
    assert client.get(reverse("admin:properties_turnovertask_delete", args=[mine.pk])).status_code == 403


def test_list_runs_a_bounded_number_of_queries(two_owners, client, django_assert_max_num_queries):
    client.force_login(two_owners["staff"])
    prop = two_owners["tasks"]["a"].property
    with django_assert_max_num_queries(20) as few:
        assert client.get(CHANGELIST, {"due": "all"}).status_code == 200
    for start in range(30, 60, 3):
        sync_turnover_for_booking(channel(prop, f"Q-{start}", future(start), future(start + 2)).pk)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(CHANGELIST, {"due": "all"})
    assert response.content.count(b'class="action-select"') == 12


def test_seed_demo_makes_the_tasks_of_its_stays_idempotently():
    import io

    from django.core.management import call_command

    call_command("seed_demo", "--no-photos", stdout=io.StringIO())
    stays = Booking.objects.filter(status__in=["confirmed", "checked_in", "checked_out"])  # ended stays too
    columns = ("pk", "booking_id", "due_date", "window_end", "assignee_id")
    first = sorted(TurnoverTask.objects.values_list(*columns))
    assert len(first) == stays.count() > 0
    assert {b for _, b, *_ in first} == set(stays.values_list("pk", flat=True))
    assert TurnoverTask.objects.filter(assignee__email="staff@demo.stayhold.test").exists()
    call_command("seed_demo", "--no-photos", stdout=io.StringIO())
    assert sorted(TurnoverTask.objects.values_list(*columns)) == first
