"""Issue 11 item 3: one client-address function for every limiter; X-Forwarded-For is read only from
TRUSTED_PROXIES (core.client_address)."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client, RequestFactory

from bookings.models import Booking
from core.client_address import client_ip, client_key
from payments import manual_views
from payments import views as payment_views
from tests.factories import PropertyFactory, future
from tests.limits.conftest import login, too_many_logins

pytestmark = pytest.mark.django_db
PROXY = "127.0.0.1"  # nginx on the same host


@pytest.fixture(autouse=True)
def _clear_cache(clear_cache):
    """The limits count in the cache: each test starts empty."""


def request(remote="203.0.113.10", xff=None):
    extra = {"REMOTE_ADDR": remote}
    if xff is not None:
        extra["HTTP_X_FORWARDED_FOR"] = xff
    return RequestFactory().get("/", **extra)


def hold_body(prop, start):
    return {"property_id": prop.pk, "check_in": future(start).isoformat(),
            "check_out": future(start + 2).isoformat(), "adults": 2, "children": 0}


# --- the function ------------------------------------------------------------------------------------------


def test_without_trusted_proxies_the_header_is_ignored(settings):
    settings.TRUSTED_PROXIES = []
    assert client_ip(request("203.0.113.10", "198.51.100.1")) == "203.0.113.10"
    assert client_ip(request(PROXY, "198.51.100.1")) == PROXY  # even from loopback: nobody was named


def test_behind_a_trusted_proxy_the_right_most_untrusted_address_is_the_client(settings):
    settings.TRUSTED_PROXIES = [PROXY]
    # The client wrote "6.6.6.6" itself; nginx appended the address it really came from.
    assert client_ip(request(PROXY, "6.6.6.6, 198.51.100.7")) == "198.51.100.7"
    assert client_ip(request(PROXY, "198.51.100.7")) == "198.51.100.7"
    assert client_ip(request(PROXY)) == PROXY  # no header: the proxy itself (a health check)


def test_a_chain_of_trusted_proxies_is_walked_from_the_right(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", PROXY]
    # load balancer (10.0.0.5) → nginx (127.0.0.1) → app; the client forged two entries of its own
    assert client_ip(request(PROXY, "10.1.1.1, 6.6.6.6, 198.51.100.7, 10.0.0.5")) == "198.51.100.7"
    assert client_ip(request(PROXY, "[2001:db8::7]:51234, 10.0.0.5")) == "2001:db8::7"
    assert client_ip(request(PROXY, "198.51.100.7:443")) == "198.51.100.7"


def test_the_header_is_ignored_from_an_address_that_is_not_a_trusted_proxy(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_ip(request("203.0.113.10", "10.0.0.5, 198.51.100.7")) == "203.0.113.10"


def test_garbage_in_the_chain_stops_at_the_nearest_known_hop(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_ip(request("10.0.0.5", "198.51.100.7, not-an-ip")) == "10.0.0.5"
    assert client_ip(request("10.0.0.5", "198.51.100.7, not-an-ip, 10.0.0.9")) == "10.0.0.9"


def test_unix_socket_peers_are_trusted_only_when_named(settings):
    settings.TRUSTED_PROXIES = []
    assert client_ip(request("", "198.51.100.7")) == "" and client_key(request("")) == "unknown"
    settings.TRUSTED_PROXIES = ["unix"]
    assert client_ip(request("", "6.6.6.6, 198.51.100.7")) == "198.51.100.7"


def test_rate_limit_keys_group_an_ipv6_network_and_unmap_ipv4(settings):
    settings.TRUSTED_PROXIES = []
    assert client_key(request("2001:db8:1:2::1")) == client_key(request("2001:db8:1:2:ffff::9")) == "2001:db8:1:2::/64"
    assert client_key(request("2001:db8:1:3::1")) != client_key(request("2001:db8:1:2::1"))
    assert client_key(request("::ffff:198.51.100.7")) == "198.51.100.7"
    assert client_key(request("not-an-address")) == "unknown"


def test_a_bad_trusted_proxies_entry_is_refused_by_the_system_checks(settings):
    settings.TRUSTED_PROXIES = ["nginx.local"]
    with pytest.raises(SystemCheckError, match="stayhold.E020"):
        call_command("check")
    settings.TRUSTED_PROXIES = ["0.0.0.0/0"]
    with pytest.raises(SystemCheckError, match="stayhold.E021"):
        call_command("check")


# --- every limiter uses it -----------------------------------------------------------------------------------


def test_api_create_throttle_is_not_escaped_by_a_new_forwarded_for_per_request(settings):
    """The probe: 80 holds with a fresh X-Forwarded-For each were never throttled."""
    settings.TRUSTED_PROXIES = []
    settings.API_THROTTLE_CREATE = "2/min"
    prop = PropertyFactory()
    client = Client(REMOTE_ADDR="203.0.113.10")
    statuses = [client.post("/api/v1/holds", hold_body(prop, 10 + 3 * i), content_type="application/json",
                            HTTP_X_FORWARDED_FOR=f"198.51.100.{i}").status_code for i in range(3)]

    assert statuses == [201, 201, 429]
    assert Booking.objects.count() == 2


def test_behind_a_trusted_proxy_the_api_throttle_counts_each_client(settings):
    settings.TRUSTED_PROXIES = [PROXY]
    settings.API_THROTTLE_CREATE = "1/min"
    prop = PropertyFactory()
    client = Client(REMOTE_ADDR=PROXY)

    def post(start, xff):
        return client.post("/api/v1/holds", hold_body(prop, start), content_type="application/json",
                           HTTP_X_FORWARDED_FOR=xff).status_code

    assert post(10, "198.51.100.1") == 201
    assert post(20, "6.6.6.6, 198.51.100.1") == 429  # a forged entry left of nginx's changes nothing
    assert post(30, "198.51.100.2") == 201  # another client behind the same proxy


def test_behind_a_trusted_proxy_the_details_form_counts_each_client(settings, details_data):
    settings.TRUSTED_PROXIES = [PROXY]
    settings.API_THROTTLE_CREATE = "1/min"
    prop = PropertyFactory()
    client = Client(REMOTE_ADDR=PROXY)

    first = client.post(f"/book/{prop.slug}/", details_data(start=10, nights=2), HTTP_X_FORWARDED_FOR="198.51.100.1")
    again = client.post(f"/book/{prop.slug}/", details_data(start=20, nights=2), HTTP_X_FORWARDED_FOR="198.51.100.1")
    other = client.post(f"/book/{prop.slug}/", details_data(start=30, nights=2), HTTP_X_FORWARDED_FOR="198.51.100.2")

    assert (first.status_code, again.status_code, other.status_code) == (302, 429, 302)
    assert Booking.objects.count() == 2


def test_the_details_form_limit_ignores_the_header_without_trusted_proxies(settings, details_data):
    settings.TRUSTED_PROXIES = []
    settings.API_THROTTLE_CREATE = "1/min"
    prop = PropertyFactory()
    client = Client(REMOTE_ADDR="203.0.113.10")

    first = client.post(f"/book/{prop.slug}/", details_data(start=10, nights=2), HTTP_X_FORWARDED_FOR="198.51.100.1")
    forged = client.post(f"/book/{prop.slug}/", details_data(start=20, nights=2), HTTP_X_FORWARDED_FOR="198.51.100.2")

    assert (first.status_code, forged.status_code) == (302, 429)


def test_behind_a_trusted_proxy_failed_logins_of_one_client_do_not_lock_out_another(settings, verified_owner):
    """allauth's per-IP login limit, through the adapter: one bucket per client, not one for the proxy."""
    settings.TRUSTED_PROXIES = [PROXY]
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login_failed": "3/m/ip"}
    attacker, user = Client(REMOTE_ADDR=PROXY), Client(REMOTE_ADDR=PROXY)
    for i in range(3):
        # the attacker also varies the part of the header it controls
        assert not too_many_logins(login(attacker, f"x{i}@example.com", "wrong",
                                         HTTP_X_FORWARDED_FOR=f"6.6.6.{i}, 198.51.100.66"))
    assert too_many_logins(login(attacker, "y@example.com", "wrong", HTTP_X_FORWARDED_FOR="7.7.7.7, 198.51.100.66"))

    response = login(user, verified_owner.email, HTTP_X_FORWARDED_FOR="198.51.100.5")

    assert response.status_code == 302 and "_auth_user_id" in user.session


def test_failed_logins_cannot_escape_the_limit_with_a_forged_header(settings, verified_owner):
    settings.TRUSTED_PROXIES = []
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login_failed": "3/m/ip"}
    client = Client(REMOTE_ADDR="203.0.113.10")
    for i in range(3):
        login(client, f"x{i}@example.com", "wrong", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}")

    response = login(client, verified_owner.email, HTTP_X_FORWARDED_FOR="198.51.100.99")

    assert too_many_logins(response) and "_auth_user_id" not in client.session


def test_payment_limits_count_each_client_behind_the_proxy(settings):
    settings.TRUSTED_PROXIES = [PROXY]
    settings.PAYMENT_THROTTLE = settings.MANUAL_PAYMENT_THROTTLE = "1/min"
    alice, bob = request(PROXY, "198.51.100.1"), request(PROXY, "198.51.100.2")
    alice_forging = request(PROXY, "6.6.6.6, 198.51.100.1")

    assert [payment_views._throttled(r, "PMS-1") for r in (alice, alice_forging, bob)] == [False, True, False]
    assert [manual_views.throttled(r, "claim") for r in (alice, alice_forging, bob)] == [False, True, False]
