import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from bookings.links import payment_url
from bookings.models import BookingStatus
from bookings.tokens import booking_access_token
from core.actor import Actor
from payments import manual
from payments.models import HostPaymentMethod, ManualPayment
from payments.models import ManualStatus as M
from tests.factories import PropertyFactory, UserFactory

from .conftest import image_bytes

pytestmark = pytest.mark.django_db
GUEST = Actor.guest("ada@example.com")


def _claim_url(mp):
    return manual.instructions_url(mp)


def test_pay_page_lists_active_methods_of_the_owner_only(client, reserved, zelle, owner_b):
    HostPaymentMethod.objects.create(owner=zelle.owner, kind="venmo", handle="@off", display_name="Off", active=False)
    HostPaymentMethod.objects.create(owner=owner_b, kind="cashapp", handle="$other", display_name="Other owner")
    body = client.get(payment_url(reserved)).content.decode()
    assert "Owner A" in body and "Off" not in body and "Other owner" not in body


def test_choose_then_instructions_page(client, reserved, zelle):
    url = reverse("payments:manual-choose", args=[reserved.reference])
    response = client.post(url, {"token": booking_access_token(reserved), "method": zelle.pk})
    mp = ManualPayment.objects.get(booking=reserved)
    assert response.status_code == 302 and mp.code in response["Location"]
    page = client.get(response["Location"])
    body = page.content.decode()
    assert page.status_code == 200
    assert mp.code in body and zelle.handle in body and "data-copy" in body and "I have sent it" in body
    assert mp.code in client.get(payment_url(reserved)).content.decode()  # the pay page links back to it


def test_choose_needs_the_token(client, reserved, zelle):
    url = reverse("payments:manual-choose", args=[reserved.reference])
    assert client.post(url, {"token": "nope", "method": zelle.pk}).status_code == 404
    assert not ManualPayment.objects.exists()


def test_claim_with_bad_upload_keeps_the_form(client, mp):
    bad = SimpleUploadedFile("x.png", b"not an image at all", content_type="image/png")
    response = client.post(_claim_url(mp), {"guest_reference": "TX-9", "proof": bad})
    body = response.content.decode()
    assert response.status_code == 400
    assert "not a PNG, JPEG or WebP image" in body and 'value="TX-9"' in body
    mp.refresh_from_db()
    assert mp.status == M.PENDING


def test_claim_too_big(client, mp, settings):
    settings.MANUAL_PAYMENT_PROOF_MAX_BYTES = 1000
    big = SimpleUploadedFile("x.png", image_bytes(size=(400, 400)), content_type="image/png")
    response = client.post(_claim_url(mp), {"guest_reference": "", "proof": big})
    assert response.status_code == 400 and "too large" in response.content.decode()


def test_claim_ok_and_duplicate(client, mp):
    proof = SimpleUploadedFile("x.webp", image_bytes("WEBP"), content_type="image/webp")
    response = client.post(_claim_url(mp), {"guest_reference": "TX-1", "proof": proof})
    assert response.status_code == 302
    mp.refresh_from_db()
    assert mp.status == M.CLAIMED and mp.proof_content_type == "image/webp"
    again = client.post(_claim_url(mp), {"guest_reference": "TX-2"})
    assert again.status_code == 409 and "already" in again.content.decode()


def test_claim_is_rate_limited(client, mp, settings):
    settings.MANUAL_PAYMENT_THROTTLE = "2/h"
    for _ in range(2):
        client.post(_claim_url(mp), {"proof": SimpleUploadedFile("x.png", b"bad", content_type="image/png")})
    response = client.post(_claim_url(mp), {"guest_reference": "ok"})
    assert response.status_code == 429
    mp.refresh_from_db()
    assert mp.status == M.PENDING


def test_proof_access(client, mp, owner, staffer, owner_b):
    manual.claim(mp_id=mp.pk, guest_reference="", actor=GUEST,
                 proof=SimpleUploadedFile("p.png", image_bytes(), content_type="image/png"))
    url = reverse("payments:manual-proof", args=[mp.code])
    assert client.get(url).status_code == 404  # anonymous
    client.force_login(owner_b)
    assert client.get(url).status_code == 404
    for user in (owner, staffer, UserFactory(email="root@example.com", is_staff=True, is_superuser=True)):
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == 200 and response["Content-Type"] == "image/png"
        assert b"".join(response.streaming_content).startswith(b"\x89PNG")


def _claimed(prop_owner, book, start):
    prop = PropertyFactory(owner=prop_owner)
    method = HostPaymentMethod.objects.create(owner=prop_owner, kind="venmo", handle="@h", display_name="H")
    booking = book(prop, start=start)
    mp = manual.choose_method(booking_id=booking.pk, method_id=method.pk, actor=GUEST)
    return manual.claim(mp_id=mp.pk, guest_reference="", actor=GUEST)


def test_queue_is_scoped_and_confirm_works(client, book, mp, owner, staffer, owner_b):
    manual.claim(mp_id=mp.pk, guest_reference="", actor=GUEST)
    other = _claimed(owner_b, book, 30)
    queue_url = reverse("admin:payments_manualpayment_queue")
    client.force_login(staffer)
    body = client.get(queue_url).content.decode()
    assert mp.code in body and other.code not in body
    client.force_login(owner_b)
    body = client.get(queue_url).content.decode()
    assert other.code in body and mp.code not in body
    # owner B cannot act on owner A's payment by URL
    verify_url = reverse("admin:payments_manualpayment_verify", args=[mp.pk])
    assert client.post(verify_url, {"action": "confirm", "amount_received": str(mp.amount)}).status_code == 404
    mp.refresh_from_db()
    assert mp.status == M.CLAIMED
    client.force_login(staffer)
    response = client.post(verify_url, {"action": "confirm", "amount_received": str(mp.amount), "note": "seen"},
                           REMOTE_ADDR="192.0.2.7")
    assert response.status_code == 302
    mp.refresh_from_db()
    assert mp.status == M.CONFIRMED and mp.verified_by == staffer and mp.verified_from_ip == "192.0.2.7"
    assert mp.booking.status == BookingStatus.CONFIRMED
    assert f'data-code="{mp.code}"' not in client.get(queue_url).content.decode()


def test_queue_needs_staff_login(client, mp):
    response = client.get(reverse("admin:payments_manualpayment_queue"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_host_method_admin_scoped_to_owner(client, zelle, owner_b):
    theirs = HostPaymentMethod.objects.create(owner=owner_b, kind="cashapp", handle="$b", display_name="B")
    client.force_login(zelle.owner)
    listing = client.get(reverse("admin:payments_hostpaymentmethod_changelist")).content.decode()
    assert "Owner A" in listing and "$b" not in listing
    change = reverse("admin:payments_hostpaymentmethod_change", args=[theirs.pk])
    assert client.get(change).status_code in (302, 403, 404)
    client.post(change, {"kind": "zelle", "handle": "hacked", "display_name": "x", "active": "on"})
    theirs.refresh_from_db()
    assert theirs.handle == "$b"
    client.post(reverse("admin:payments_hostpaymentmethod_add"),
                {"kind": "venmo", "handle": "@new", "display_name": "New", "active": "on", "owner": owner_b.pk})
    assert HostPaymentMethod.objects.get(handle="@new").owner == zelle.owner


def test_the_queue_offers_decisions_only_to_those_who_may_verify(client, book, mp, prop):
    """A user who may view manual payments but not verify them sees the queue without the decision forms,
    and a forged decision is refused."""
    from django.contrib.auth.models import Permission

    manual.claim(mp_id=mp.pk, guest_reference="", actor=GUEST)
    viewer = UserFactory(email="viewer@example.com", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_manualpayment"))
    prop.staff.add(viewer)
    client.force_login(viewer)
    body = client.get(reverse("admin:payments_manualpayment_queue")).content.decode()
    assert f'data-code="{mp.code}"' in body
    assert 'name="action"' not in body and "Needs the verify permission." in body
    verify_url = reverse("admin:payments_manualpayment_verify", args=[mp.pk])
    assert client.post(verify_url, {"action": "confirm", "amount_received": str(mp.amount)}).status_code == 403
    mp.refresh_from_db()
    assert mp.status == M.CLAIMED
