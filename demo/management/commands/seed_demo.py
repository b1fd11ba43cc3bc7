"""``python manage.py seed_demo``: demo users, properties and bookings. Idempotent.

Creates (only what is missing; a second run changes nothing):

* users (all with the password ``demo-pass-1234``): ``admin@demo.stayhold.test``
  (superuser), ``owner1@demo.stayhold.test`` and ``owner2@demo.stayhold.test``
  (owners), ``staff@demo.stayhold.test`` (staff assigned to some of owner 1's
  properties); owners and staff can sign in to the admin and see only their
  properties;
* amenities, and 13 properties in Lisbon (EUR), Asheville (USD), Kyoto (JPY, no
  minor unit), Cape Town (ZAR) and Edinburgh (GBP) — 12 active, 1 draft — with
  descriptions, house rules, generated placeholder photos, varied stay rules,
  pricing rules of every kind, date overrides and owner blocks;
* bookings over the coming months from every source, all through
  ``bookings.services``: direct reservations (confirmed, still reserved, one
  cancelled), channel imports (Airbnb, Booking.com, FeWo-direkt, Expedia,
  Google), owner stays, a live hold, a guest in house and a finished stay;
* three reviews of past stays on each active property (``reviews.services``), one with the owner's public
  reply, and one of owner 1's flagged for staff (the moderation queue).

Keys: users by email, properties by slug; a property's photos, rules, overrides,
blocks and bookings are created only when it has none of that kind yet. Dates
are relative to today and random choices use a fixed seed.

Everything is written as a backfill (``core.outbox.backfill``): it has already
happened when the demo starts, so nobody is emailed about it (no "manual payment
to verify" for payments verified long ago, no "thank you for staying" for stays a
year old), while the outbox consumers that keep data in step still run. Cleanings
of stays that ended before today are marked done, each on its own day, through
``bookings.turnover``. What happens after the seed (the reservation that expires
30 minutes later, a booking you make) notifies as usual.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from bookings import blocks as block_services
from bookings import services, turnover
from bookings.availability import check_availability
from bookings.models import CONFIRMED_STATUSES, Booking, BookingGroup, BookingStatus, Source, TurnoverTask
from bookings.turnover import sync_turnover_for_booking
from channels import services as channel_services
from channels.emulators.channex import DEMO_ACCOUNT
from channels.models import ChannelConnection, Platform, Transport
from core import outbox
from core.actor import Actor
from guests.models import User
from guests.services import GuestInput
from payments import manual
from payments.models import HostPaymentMethod, PaymentSchedule
from properties import services as property_services
from properties.models import Amenity, DateOverride, PricingRule, Property, weekday_mask
from properties.pricing import local_today
from properties.stay_rules import stay_rules_for
from reviews import services as review_services
from reviews.models import Review

DEMO_PASSWORD = "demo-pass-1234"  # noqa: S105 - documented demo credentials
SEED = 20260401
# Where the past year's stays came from (direct twice as likely as each channel).
# The demo reviews: (overall rating, title, text), spread over the properties' past stays by ``seed_reviews``.
DEMO_REVIEWS = [
    (5, "Everything we hoped for", "Spotless, quiet and exactly as in the photos. The check-in instructions were "
                                   "clear and the host answered within minutes."),
    (4, "Great base for exploring", "Lovely place in a great location. The bed was comfortable; the street gets a "
                                    "little noisy on Friday nights."),
    (5, "We will be back", "Beautiful light in the mornings and a very well equipped kitchen. The children loved it."),
    (3, "Good, with a few issues", "The location is perfect but the shower pressure was weak and the Wi-Fi dropped "
                                   "a few times. The host sent someone the next day."),
    (4, "Comfortable and calm", "Comfortable beds, good coffee, easy parking. A small fan would help in summer."),
]
HISTORY_SOURCES = [Source.DIRECT, Source.DIRECT, Source.AIRBNB, Source.BOOKING_COM, Source.FEWO_DIREKT]
URL = f"http://127.0.0.1:{os.environ.get('PORT') or 8000}/"  # `make run` passes PORT to runserver too

USERS = [
    # (key, email, full name, role)
    ("admin", "admin@demo.stayhold.test", "Ada Admin", "admin"),
    ("owner1", "owner1@demo.stayhold.test", "Marta Ferreira", "owner"),
    ("owner2", "owner2@demo.stayhold.test", "James Whitaker", "owner"),
    ("staff", "staff@demo.stayhold.test", "Kenji Sato", "staff"),
]

AMENITIES = [
    ("wifi", "Wi-Fi"), ("kitchen", "Kitchen"), ("parking", "Free parking"), ("pool", "Pool"),
    ("washer", "Washer"), ("air-conditioning", "Air conditioning"), ("hot-tub", "Hot tub"),
    ("pets-allowed", "Pets allowed"), ("workspace", "Dedicated workspace"), ("fireplace", "Fireplace"),
    ("sea-view", "Sea view"), ("heating", "Heating"), ("balcony", "Balcony or terrace"),
    ("bbq-grill", "BBQ grill"), ("ev-charger", "EV charger"), ("crib", "Crib"),
]  # fmt: skip

# The demo superuser's TOTP secret (base32). Public on purpose: MFA is required for superusers, and the demo
# admin must be able to sign in. Add it to an authenticator app (or run `manage.py demo_totp` for the current
# code). Only this seeded demo account has it; real superusers activate their own on first sign-in.
DEMO_ADMIN_TOTP_SECRET = "STAYHOLDDEMOADMINTOTPSECRET23456"  # noqa: S105 - documented demo credential

SAT = weekday_mask(5)
FRI_SAT = weekday_mask(4, 5)

GUESTS = [
    GuestInput("Sophie Laurent", "sophie.laurent@example.com", "+33 6 12 34 56 78", "FR"),
    GuestInput("Daniel Okafor", "daniel.okafor@example.com", "+234 803 555 0142", "NG"),
    GuestInput("Emily Carter", "emily.carter@example.com", "+1 828 555 0199", "US"),
    GuestInput("Lukas Becker", "lukas.becker@example.de", "+49 151 2345 6789", "DE"),
    GuestInput("Aiko Tanaka", "aiko.tanaka@example.jp", "+81 90 1234 5678", "JP"),
    GuestInput("Mateo Fernández", "mateo.fernandez@example.es", "+34 612 345 678", "ES"),
    GuestInput("Priya Raman", "priya.raman@example.in", "+91 98450 12345", "IN"),
    GuestInput("Oliver Grant", "oliver.grant@example.co.uk", "+44 7700 900123", "GB"),
    GuestInput("Chloé Martin", "chloe.martin@example.fr", "+33 7 98 76 54 32", "FR"),
    GuestInput("Noah Williams", "noah.williams@example.com", "+1 415 555 0123", "US"),
    GuestInput("Thandiwe Nkosi", "thandiwe.nkosi@example.co.za", "+27 82 555 0134", "ZA"),
    GuestInput("Ingrid Johansson", "ingrid.johansson@example.se", "+46 70 123 45 67", "SE"),
    GuestInput("Marco Rossi", "marco.rossi@example.it", "+39 347 123 4567", "IT"),
    GuestInput("Hannah Schmidt", "hannah.schmidt@example.at", "+43 664 1234567", "AT"),
    GuestInput("Liam O'Connor", "liam.oconnor@example.ie", "+353 87 123 4567", "IE"),
    GuestInput("Yuki Nakamura", "yuki.nakamura@example.jp", "+81 80 2345 6789", "JP"),
    GuestInput("Ana Sousa", "ana.sousa@example.pt", "+351 912 345 678", "PT"),
    GuestInput("Grace Thompson", "grace.thompson@example.com.au", "+61 412 345 678", "AU"),
]

SPECIAL_REQUESTS = [
    "", "", "We will arrive late, around 22:00. Is self check-in possible?",
    "Travelling with a baby; could you leave a crib in the bedroom?",
    "Celebrating our anniversary, any restaurant recommendations welcome.",
    "Could we drop our bags a little before check-in time?", "",
    "Early flight on departure day, we'll leave the keys inside.",
]

def _place(city, region, country, tz, currency):
    return {"city": city, "region": region, "country": country, "timezone": tz, "currency": currency}


CITY = {
    "lisbon": _place("Lisbon", "Lisboa", "PT", "Europe/Lisbon", "EUR"),
    "asheville": _place("Asheville", "North Carolina", "US", "America/New_York", "USD"),
    "kyoto": _place("Kyoto", "Kyoto Prefecture", "JP", "Asia/Tokyo", "JPY"),
    "cape_town": _place("Cape Town", "Western Cape", "ZA", "Africa/Johannesburg", "ZAR"),
    "edinburgh": _place("Edinburgh", "Scotland", "GB", "Europe/London", "GBP"),
}

# Pricing rules: "season" is ((month, day) first night, (month, day) day after the last night), the next
# occurrence from today; "offset" is (days from today, nights).
PROPERTIES = [
    {
        "slug": "alfama-azulejo-loft", "name": "Alfama Azulejo Loft", "place": "lisbon", "owner": "owner1",
        "staff": True, "street": "Rua de São Miguel 27", "postal_code": "1100-544",
        "latitude": "38.711660", "longitude": "-9.129310",
        "max_guests": 2, "bedrooms": 1, "bathrooms": "1", "base_price": "95", "cleaning_fee": "40",
        "tax_rate": "6", "cancellation_policy": "moderate", "min_stay": 2,
        # A deposit at booking, the balance 30 days before arrival, and a security deposit (docs/payments-schedule.md).
        "payment_schedule": {"mode": "deposit", "deposit_percent": "30", "balance_days_before": 30,
                             "deadline_days_before": 14, "security_deposit": "150"},
        "amenities": ["wifi", "kitchen", "washer", "air-conditioning", "workspace", "balcony"],
        "description": (
            "A sunlit loft on the top floor of an 18th-century building in the heart of Alfama, its walls still "
            "lined with the original blue-and-white azulejo tiles. From the small balcony you look over "
            "terracotta roofs to the Tagus; tram 28 stops two streets away and the fado houses of Rua de São "
            "Miguel start playing after dinner."
        ),
        "house_rules": "No smoking indoors.\nQuiet hours 22:00–08:00 (the neighbours are early risers).\n"
                       "Three flights of stairs and no lift.",
        "colors": ("#1f4e8c", "#f2e8cf"),
        "pricing": [
            {"name": "Weekend nights", "kind": "weekend", "value": "15"},
            {"name": "Last-minute deal", "kind": "last_minute", "value": "-10", "days": 5},
        ],
        "overrides": [
            {"season": ((12, 29), (1, 2)), "nightly_price": "185", "min_stay": 3, "note": "New Year's Eve"},
        ],
        "blocks": [{"offset": (38, 5), "reason": "maintenance", "note": "Repainting the balcony shutters"}],
        "bookings": ["in_house", "past", "direct", "airbnb", "direct", "booking_com"],
    },
    {
        "slug": "principe-real-garden-house", "name": "Príncipe Real Garden House", "place": "lisbon",
        "owner": "owner1", "staff": True, "street": "Rua da Escola Politécnica 118", "postal_code": "1250-101",
        "latitude": "38.716770", "longitude": "-9.149020",
        "max_guests": 6, "bedrooms": 3, "bathrooms": "2.5", "base_price": "240", "cleaning_fee": "90",
        "extra_guest_fee": "20", "guests_included": 4, "tax_rate": "6", "cancellation_policy": "strict",
        "min_stay": 3, "amenities": ["wifi", "kitchen", "washer", "pool", "air-conditioning", "bbq-grill", "crib"],
        "description": (
            "A restored townhouse with a walled garden, lemon trees and a plunge pool, five minutes from the "
            "Príncipe Real market and the viewpoint of São Pedro de Alcântara. Three double bedrooms, a "
            "kitchen that opens onto the garden, and a long table for dinners that run late."
        ),
        "house_rules": "No parties or events.\nPool unheated and unsupervised; children must be accompanied.\n"
                       "Please separate recycling (bins in the courtyard).",
        "colors": ("#2d6a4f", "#d8f3dc"),
        "pricing": [
            {"name": "Summer season", "kind": "seasonal", "value": "25", "season": ((6, 15), (9, 16))},
            {"name": "Weekly discount", "kind": "length_of_stay", "value": "-10", "min_nights": 7},
            {"name": "Monthly discount", "kind": "length_of_stay", "value": "-25", "min_nights": 28, "priority": 10},
        ],
        "overrides": [],
        "blocks": [],
        "bookings": ["direct", "reserved", "fewo_direkt", "direct", "expedia"],
    },
    {
        "slug": "belem-riverside-apartment", "name": "Belém Riverside Apartment", "place": "lisbon",
        "owner": "owner1", "staff": False, "street": "Rua de Belém 63", "postal_code": "1300-085",
        "latitude": "38.697450", "longitude": "-9.203380",
        "max_guests": 4, "bedrooms": 2, "bathrooms": "1", "base_price": "120", "cleaning_fee": "45",
        "tax_rate": "6", "cancellation_policy": "flexible",
        "amenities": ["wifi", "kitchen", "parking", "washer", "air-conditioning"],
        "description": (
            "A quiet two-bedroom flat by the river in Belém, a short walk from the Jerónimos Monastery, the "
            "Tower and, of course, the bakery that has made pastéis de Belém since 1837. Free parking in the "
            "building's garage; the train to Cascais beaches leaves from the corner."
        ),
        "house_rules": "No smoking.\nCheck-in from 15:00 with a key box; the code is sent on the morning of arrival.",
        "colors": ("#e76f51", "#f4a261"),
        "pricing": [
            {"name": "Early bird (60+ days ahead)", "kind": "early_bird", "value": "-8", "days": 60},
            {"name": "Last-minute deal", "kind": "last_minute", "value": "-15", "days": 7},
        ],
        "overrides": [],
        "blocks": [],
        "bookings": ["booking_com", "direct", "owner", "airbnb"],
    },
    {
        "slug": "blue-ridge-a-frame", "name": "Blue Ridge A-Frame with Hot Tub", "place": "asheville",
        "owner": "owner2", "staff": False, "street": "41 Laurel Ridge Rd", "postal_code": "28804",
        "latitude": "35.653420", "longitude": "-82.540150",
        "max_guests": 4, "bedrooms": 2, "bathrooms": "1.5", "base_price": "189", "cleaning_fee": "110",
        "tax_rate": "13", "cancellation_policy": "moderate", "buffer_days": 1, "min_stay": 2,
        "amenities": ["wifi", "kitchen", "parking", "hot-tub", "pets-allowed", "fireplace", "bbq-grill", "heating"],
        "description": (
            "A glass-fronted A-frame on a wooded ridge twenty minutes north of downtown Asheville. Watch the "
            "fog lift off the Blue Ridge from the cedar hot tub, light the wood stove in the evening, and walk "
            "the dog straight onto the trail behind the cabin. We keep a day between guests to drain and "
            "refill the hot tub."
        ),
        "house_rules": "Dogs welcome (max 2, $0 pet fee), please keep them off the beds.\n"
                       "4WD or AWD recommended in winter: the last half mile is gravel.\nNo fireworks.",
        "colors": ("#264653", "#a8dadc"),
        "pricing": [
            {"name": "Weekend nights", "kind": "weekend", "value": "20"},
            {"name": "Leaf season", "kind": "seasonal", "value": "30", "season": ((10, 1), (11, 10))},
            {"name": "Weekly stay", "kind": "length_of_stay", "value": "-12", "min_nights": 7},
        ],
        "overrides": [],
        "blocks": [{"offset": (60, 4), "reason": "blocked", "note": "Hot tub service"}],
        "bookings": ["direct", "owner", "airbnb", "direct", "fewo_direkt"],
    },
    {
        "slug": "river-arts-district-bungalow", "name": "River Arts District Bungalow", "place": "asheville",
        "owner": "owner2", "staff": False, "street": "12 Depot St", "postal_code": "28801",
        "latitude": "35.586120", "longitude": "-82.567300",
        "max_guests": 4, "bedrooms": 2, "bathrooms": "1", "base_price": "139", "cleaning_fee": "75",
        "tax_rate": "13", "cancellation_policy": "flexible", "min_lead_days": 2,
        "amenities": ["wifi", "kitchen", "parking", "washer", "air-conditioning", "workspace", "ev-charger"],
        "description": (
            "A 1920s mill worker's bungalow, freshly renovated, a block from the studios and galleries of the "
            "River Arts District. Walk to breweries and the French Broad River greenway; downtown is five "
            "minutes by car. Level-2 EV charger in the driveway."
        ),
        "house_rules": "No smoking anywhere on the property.\nBookings at least 2 days ahead (we clean in person).",
        "colors": ("#6d597a", "#eaac8b"),
        "pricing": [
            {"name": "Book early (60+ days)", "kind": "early_bird", "value": "-10", "days": 60},
            {"name": "Holiday markets", "kind": "seasonal", "adjustment": "fixed", "value": "25",
             "season": ((12, 1), (12, 24))},
        ],
        "overrides": [],
        "blocks": [],
        "bookings": ["direct", "reserved_short", "booking_com", "direct", "google_vr"],
    },
    {
        "slug": "mountain-laurel-lodge", "name": "Mountain Laurel Lodge", "place": "asheville", "owner": "owner2",
        "staff": False, "street": "300 Bent Creek Ranch Rd", "postal_code": "28806",
        "latitude": "35.500810", "longitude": "-82.611540",
        "max_guests": 10, "bedrooms": 5, "bathrooms": "3.5", "base_price": "425", "cleaning_fee": "250",
        "extra_guest_fee": "25", "guests_included": 8, "tax_rate": "13", "cancellation_policy": "strict",
        "min_stay": 7, "max_stay": 28, "checkin_weekdays": SAT, "checkout_weekdays": SAT,
        "amenities": ["wifi", "kitchen", "parking", "hot-tub", "fireplace", "washer", "bbq-grill", "crib", "heating"],
        "description": (
            "A timber lodge for big families and reunions, on twelve acres beside the Bent Creek Experimental "
            "Forest. Five bedrooms, a great room with a stone fireplace, a games loft and a wraparound porch. "
            "Rented by the week, Saturday to Saturday, like the old mountain lodges."
        ),
        "house_rules": "Saturday to Saturday stays only.\nMaximum 10 guests, including children.\n"
                       "Quiet hours from 23:00; the lodge is in a residential valley.",
        "colors": ("#3a5a40", "#dad7cd"),
        "pricing": [
            {"name": "Summer weeks", "kind": "seasonal", "value": "15", "season": ((6, 1), (8, 31))},
            {"name": "Two weeks or more", "kind": "length_of_stay", "value": "-7", "min_nights": 14},
        ],
        "overrides": [],
        "blocks": [],
        "bookings": ["direct", "fewo_direkt", "direct"],
    },
    {
        "slug": "higashiyama-machiya", "name": "Higashiyama Machiya Townhouse", "place": "kyoto", "owner": "owner1",
        "staff": True, "street": "Higashiyama-ku, Kiyomizu 2-204", "postal_code": "605-0862",
        "latitude": "34.996560", "longitude": "135.780570",
        "max_guests": 4, "bedrooms": 2, "bathrooms": "1", "base_price": "28000", "cleaning_fee": "6000",
        "extra_guest_fee": "3500", "guests_included": 2, "tax_rate": "10", "cancellation_policy": "moderate",
        "min_stay": 2, "check_in_time": "16:00", "check_out_time": "10:00",
        "amenities": ["wifi", "kitchen", "air-conditioning", "washer", "heating"],
        "description": (
            "A hundred-year-old wooden machiya on a stone lane below Kiyomizu-dera, restored by local "
            "carpenters: tatami rooms, a cedar soaking tub and a tiny moss garden. Walk to Yasaka Shrine and "
            "Gion in fifteen minutes, early in the morning before the crowds."
        ),
        "house_rules": "Shoes off inside (slippers provided).\nNo smoking.\nQuiet after 21:00: the lane is "
                       "residential.\nKyoto accommodation tax is collected separately at check-in.",
        "colors": ("#9d0208", "#ffba08"),
        "pricing": [
            {"name": "Cherry blossom season", "kind": "seasonal", "value": "40", "season": ((3, 25), (4, 15))},
            {"name": "Autumn leaves", "kind": "seasonal", "value": "30", "season": ((11, 10), (12, 6))},
            {"name": "Weekend nights", "kind": "weekend", "adjustment": "fixed", "value": "4000"},
        ],
        "overrides": [
            {"season": ((3, 25), (4, 15)), "min_stay": 3, "note": "Hanami: 3 nights minimum"},
        ],
        "blocks": [{"offset": (50, 6), "reason": "owner_use", "note": "Owner visiting"}],
        "bookings": ["direct", "booking_com", "expedia_cancelled", "airbnb", "direct"],
    },
    {
        "slug": "arashiyama-bamboo-suite", "name": "Arashiyama Bamboo Grove Suite", "place": "kyoto",
        "owner": "owner1", "staff": True, "street": "Ukyo-ku, Saga-Tenryuji 11", "postal_code": "616-8385",
        "latitude": "35.015400", "longitude": "135.671840",
        "max_guests": 2, "bedrooms": 1, "bathrooms": "1", "base_price": "19500", "cleaning_fee": "4000",
        "tax_rate": "10", "cancellation_policy": "flexible",
        "amenities": ["wifi", "air-conditioning", "heating", "workspace"],
        "description": (
            "A calm suite for two at the edge of the Arashiyama bamboo grove, with a private tea room that "
            "looks onto the Hozu river. The Sagano scenic railway and Tenryū-ji temple are a short walk; the "
            "Randen tram takes you into the city."
        ),
        "house_rules": "Adults only.\nNo smoking.\nPlease keep the sliding doors closed when the heating is on.",
        "colors": ("#386641", "#f2e8cf"),
        "pricing": [
            {"name": "Stay 5+ nights", "kind": "length_of_stay", "value": "-8", "min_nights": 5},
            {"name": "Last-minute", "kind": "last_minute", "value": "-12", "days": 5},
        ],
        "overrides": [],
        "blocks": [],
        "bookings": ["airbnb", "direct", "booking_com"],
    },
    {
        "slug": "camps-bay-ocean-villa", "name": "Camps Bay Ocean Villa", "place": "cape_town", "owner": "owner2",
        "staff": False, "street": "18 Victoria Road, Camps Bay", "postal_code": "8005",
        "latitude": "-33.951460", "longitude": "18.377810",
        "max_guests": 8, "bedrooms": 4, "bathrooms": "4", "base_price": "6500", "cleaning_fee": "1200",
        "extra_guest_fee": "350", "guests_included": 6, "tax_rate": "15", "cancellation_policy": "strict",
        "min_stay": 3,
        "amenities": ["wifi", "kitchen", "parking", "pool", "sea-view", "bbq-grill", "air-conditioning", "washer"],
        "description": (
            "A white villa on the slopes between the Twelve Apostles and the Atlantic, with an infinity pool "
            "and a braai deck made for sunsets. Camps Bay beach and its cafés are a five-minute walk down; "
            "Table Mountain's cableway is ten minutes by car."
        ),
        "house_rules": "No parties.\nGate and alarm must be set when you leave.\nLoad-shedding: the villa has "
                       "a battery backup for lights and Wi-Fi.",
        "colors": ("#0077b6", "#caf0f8"),
        "pricing": [
            {"name": "Festive season", "kind": "seasonal", "value": "35", "season": ((12, 15), (1, 11))},
            {"name": "Weekend nights", "kind": "weekend", "value": "10"},
        ],
        "overrides": [
            {"season": ((12, 20), (1, 6)), "min_stay": 5, "note": "Festive season: 5 nights minimum"},
        ],
        "blocks": [{"offset": (75, 9), "reason": "owner_use", "note": "Family holiday"}],
        "bookings": ["direct", "airbnb", "booking_com", "direct"],
    },
    {
        "slug": "bo-kaap-colour-cottage", "name": "Bo-Kaap Colour Cottage", "place": "cape_town",
        "owner": "owner2", "staff": False, "street": "74 Wale Street, Bo-Kaap", "postal_code": "8001",
        "latitude": "-33.920510", "longitude": "18.414640",
        "max_guests": 3, "bedrooms": 1, "bathrooms": "1", "base_price": "1400", "cleaning_fee": "350",
        "tax_rate": "15", "cancellation_policy": "moderate", "min_lead_days": 1,
        "amenities": ["wifi", "kitchen", "washer", "balcony"],
        "description": (
            "A bright pink cottage on one of the cobbled streets of the Bo-Kaap, with a roof terrace that looks "
            "across to Lion's Head and Table Mountain. Walk to Bree Street's restaurants and the city centre; "
            "the V&A Waterfront is a short ride away."
        ),
        "house_rules": "No smoking inside (the roof terrace is fine).\nPlease respect the call to prayer from the "
                       "neighbouring mosque: it's part of the neighbourhood's life.",
        "colors": ("#d62828", "#fcbf49"),
        "pricing": [
            {"name": "Weekend nights", "kind": "weekend", "value": "10"},
            {"name": "Book 90 days ahead", "kind": "early_bird", "value": "-7", "days": 90},
        ],
        "overrides": [],
        "blocks": [],
        "bookings": ["direct", "hold", "expedia", "direct"],
    },
    {
        "slug": "old-town-royal-mile-flat", "name": "Old Town Royal Mile Flat", "place": "edinburgh",
        "owner": "owner1", "staff": False, "street": "287 Canongate", "postal_code": "EH8 8BQ",
        "latitude": "55.951190", "longitude": "-3.180670",
        "max_guests": 4, "bedrooms": 2, "bathrooms": "1", "base_price": "155", "cleaning_fee": "60",
        "tax_rate": "0", "cancellation_policy": "moderate", "min_stay": 2,
        "amenities": ["wifi", "kitchen", "washer", "heating", "workspace"],
        "description": (
            "A second-floor flat in a 17th-century close off the Royal Mile, between the Castle and Holyrood. "
            "Stone walls, sash windows and a wood-panelled sitting room; Arthur's Seat is a fifteen-minute walk "
            "and the Festival venues are on the doorstep."
        ),
        "house_rules": "No smoking.\nThe close is shared: please keep the stair door shut.\nCheck-in by key safe.",
        "colors": ("#22223b", "#c9ada7"),
        "pricing": [
            {"name": "Festival August", "kind": "seasonal", "value": "60", "season": ((8, 1), (9, 1)),
             "priority": 10},
            {"name": "Early bird (45+ days)", "kind": "early_bird", "value": "-5", "days": 45},
        ],
        "overrides": [
            {"season": ((12, 29), (1, 2)), "nightly_price": "260", "min_stay": 3, "note": "Hogmanay"},
        ],
        "blocks": [],
        "bookings": ["direct", "cancelled", "owner", "booking_com", "direct"],
    },
    {
        "slug": "leith-shore-townhouse", "name": "Leith Shore Townhouse", "place": "edinburgh", "owner": "owner1",
        "staff": False, "street": "9 The Shore, Leith", "postal_code": "EH6 6QW",
        "latitude": "55.976230", "longitude": "-3.170550",
        "max_guests": 6, "bedrooms": 3, "bathrooms": "2", "base_price": "210", "cleaning_fee": "85",
        "extra_guest_fee": "15", "guests_included": 4, "tax_rate": "0", "cancellation_policy": "custom",
        "custom_cancellation_tiers": [{"days_before": 14, "refund_percent": 100},
                                      {"days_before": 3, "refund_percent": 50}],
        "amenities": ["wifi", "kitchen", "washer", "heating", "pets-allowed", "crib", "parking"],
        "description": (
            "A Georgian townhouse on the Water of Leith, among Michelin-starred restaurants and old whisky "
            "bond warehouses. Three bedrooms over three floors, a kitchen with an Aga, and a tram to Princes "
            "Street from the end of the street."
        ),
        "house_rules": "Well-behaved dogs welcome.\nNo parties.\nStairs throughout; not suitable for wheelchairs.",
        "colors": ("#005f73", "#94d2bd"),
        "pricing": [
            {"name": "Weekend nights", "kind": "weekend", "value": "12"},
            {"name": "Winter quiet season", "kind": "seasonal", "value": "-15", "season": ((1, 6), (3, 1))},
        ],
        "overrides": [],
        "blocks": [],
        "bookings": ["airbnb", "direct", "fewo_direkt"],
    },
    {
        "slug": "stockbridge-colony-cottage", "name": "Stockbridge Colony Cottage", "place": "edinburgh",
        "owner": "owner1", "status": "draft", "staff": False, "street": "5 Glenogle Place", "postal_code": "EH3 5HW",
        "latitude": "55.960050", "longitude": "-3.208570",
        "max_guests": 3, "bedrooms": 1, "bathrooms": "1", "base_price": "130", "cleaning_fee": "50",
        "tax_rate": "0", "cancellation_policy": "moderate",
        "amenities": ["wifi", "kitchen", "heating"],
        "description": (
            "A colony cottage with a front garden by the Water of Leith walkway, being refurbished for next "
            "season (draft: not bookable yet)."
        ),
        "house_rules": "",
        "colors": ("#7f5539", "#ede0d4"),
        "pricing": [], "overrides": [], "blocks": [], "bookings": [],
    },
]

PHOTO_CAPTIONS = ["Living room", "Bedroom", "The view", "Kitchen"]
# Where a property's bookings start (days from today) by position in its plan: spread over the coming months.
PLAN_OFFSETS = [4, 21, 40, 62, 88, 115]


@dataclass
class Stats:
    reviews: int = 0
    users: int = 0
    properties: int = 0
    photos: int = 0
    bookings: int = 0
    connections: int = 0


def next_season(today: date, start_md: tuple[int, int], end_md: tuple[int, int]) -> tuple[date, date]:
    """The next [start, end) with these month/days whose end is after today (an end before the start is next year)."""
    for year in (today.year - 1, today.year, today.year + 1):
        start = date(year, *start_md)
        end = date(year + (1 if end_md < start_md else 0), *end_md)
        if end > today:
            return start, end
    raise ValueError("unreachable")  # pragma: no cover


def date_range(today: date, spec: dict) -> tuple[date, date]:
    if "season" in spec:
        return next_season(today, *spec["season"])
    offset, nights = spec["offset"]
    return today + timedelta(days=offset), today + timedelta(days=offset + nights)


def placeholder_photo(title: str, subtitle: str, colors: tuple[str, str], index: int) -> ContentFile:
    """A 1200×800 JPEG: a gradient in the property's colours with its name on it."""
    from PIL import Image, ImageDraw, ImageFont, ImageOps

    width, height = 1200, 800
    gradient = Image.linear_gradient("L").rotate(90 * index).resize((width, height))
    first, second = colors if index % 2 == 0 else colors[::-1]
    image = ImageOps.colorize(gradient, first, second)
    draw = ImageDraw.Draw(image)
    for i in range(5):  # soft hills, so the photos are not all alike
        y = height - 140 - i * 35 + (index * 17) % 40
        draw.ellipse((-200 + i * 280, y, 500 + i * 280, y + 500), fill=first if i % 2 else second)
    try:
        # DejaVu (Debian's fonts-dejavu) has every accented letter of the demo names ("Belém"); Pillow's own
        # default font lacks some of them and draws a box.
        big, small = ImageFont.truetype("DejaVuSans.ttf", 64), ImageFont.truetype("DejaVuSans.ttf", 34)
    except OSError:
        try:
            big, small = ImageFont.load_default(size=64), ImageFont.load_default(size=34)
        except TypeError:  # pragma: no cover - Pillow without FreeType
            big = small = ImageFont.load_default()
    draw.rectangle((0, 300, width, 480), fill=(0, 0, 0))
    draw.text((width / 2, 365), title, fill=(255, 255, 255), font=big, anchor="mm")
    draw.text((width / 2, 435), subtitle, fill=(230, 230, 230), font=small, anchor="mm")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return ContentFile(buffer.getvalue())


class Command(BaseCommand):
    help = "Load demo users, properties and bookings (idempotent: a second run changes nothing)."

    def add_arguments(self, parser):
        parser.add_argument("--no-photos", action="store_true", help="Skip generating placeholder photos.")

    def handle(self, *args, **options):
        self.rng = random.Random(SEED)
        self.stats = Stats()
        with outbox.backfill():  # demo history: the consumers keep their data in step, nobody is notified
            users = self.seed_users()
            amenities = self.seed_amenities()
            for spec in PROPERTIES:
                with transaction.atomic():
                    self.seed_property(spec, users, amenities, photos=not options["no_photos"])
            self.seed_channel_connections(users["owner1"])
            self.seed_reviews()
            self.seed_messaging(users["owner1"])
            with transaction.atomic():
                self.seed_group_booking()
        self.seed_channex_connection(users["owner1"])  # not history: it pushes the calendar for real
        self.print_summary()

    # --- users ------------------------------------------------------------------------------

    def seed_users(self) -> dict[str, User]:
        """The demo accounts, in their roles (``guests.roles``), with verified addresses so they can sign in.

        The staff member works for owner 1 (``employer``). The admin gets an activated TOTP authenticator
        with :data:`DEMO_ADMIN_TOTP_SECRET` (superusers must have one)."""
        from allauth.account.models import EmailAddress
        from allauth.mfa.models import Authenticator
        from allauth.mfa.totp.internal.auth import TOTP

        from guests.roles import OWNERS, STAFF, assign_role, sync_roles

        sync_roles()  # normally done by migrate; cheap and idempotent
        users = {}
        for key, email, full_name, role in USERS:
            user = User.objects.filter(email=email).first()
            if user is None:
                user = User.objects.create_user(
                    email=email, password=DEMO_PASSWORD, full_name=full_name, is_staff=True,
                    is_superuser=role == "admin", employer=users.get("owner1") if role == "staff" else None,
                )
                if role == "owner":
                    assign_role(user, OWNERS)
                elif role == "staff":
                    assign_role(user, STAFF)
                self.stats.users += 1
            EmailAddress.objects.get_or_create(user=user, email=email, defaults={"verified": True, "primary": True})
            if role == "admin" and not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
                TOTP.activate(user, DEMO_ADMIN_TOTP_SECRET)
            users[key] = user
        return users

    def seed_amenities(self) -> dict[str, Amenity]:
        return {code: Amenity.objects.get_or_create(code=code, defaults={"name": name})[0] for code, name in AMENITIES}

    # --- properties -------------------------------------------------------------------------

    def seed_property(self, spec: dict, users: dict, amenities: dict, photos: bool) -> None:
        prop = Property.objects.filter(slug=spec["slug"]).first()
        if prop is None:
            fields = {k: v for k, v in spec.items() if k in PROPERTY_FIELDS}
            for money in ("base_price", "cleaning_fee", "extra_guest_fee", "tax_rate", "bathrooms",
                          "latitude", "longitude"):
                if money in fields:
                    fields[money] = Decimal(fields[money])
            prop = Property(owner=users[spec["owner"]], status=spec.get("status", "active"),
                            **CITY[spec["place"]], **fields)
            prop.full_clean()
            prop.save()
            prop.amenities.set([amenities[code] for code in spec["amenities"]])
            if spec["staff"]:
                prop.staff.add(users["staff"])
            self.stats.properties += 1
        if spec.get("payment_schedule"):
            terms = {k: Decimal(v) if isinstance(v, str) and k != "mode" else v
                     for k, v in spec["payment_schedule"].items()}
            PaymentSchedule.objects.get_or_create(property=prop, defaults=terms)
        today = local_today(prop)
        if photos and not prop.photos.exists():
            self.seed_photos(prop, spec)
        if not prop.pricing_rules.exists() and spec["pricing"]:
            for rule in spec["pricing"]:
                self.create_rule(prop, rule, today)
            property_services.announce_pricing(prop)
        if not prop.date_overrides.exists():
            for override in spec["overrides"]:
                start, end = date_range(today, override)
                fields = {k: v for k, v in override.items() if k not in ("season", "offset")}
                if "nightly_price" in fields:
                    fields["nightly_price"] = Decimal(fields["nightly_price"])
                DateOverride(property=prop, start_date=start, end_date=end, **fields).save()
        if not prop.blocks.exists():
            for block in spec["blocks"]:
                start, end = date_range(today, block)
                block_services.create_block(property_id=prop.pk, start_date=start, end_date=end,
                                               reason=block["reason"], note=block["note"], user=prop.owner)
        if not Booking.objects.filter(property=prop).exists():
            for position, kind in enumerate(spec["bookings"]):
                offset = PLAN_OFFSETS[position % len(PLAN_OFFSETS)] + self.rng.randint(0, 9)
                self.seed_booking(prop, kind, offset, today)
            if prop.status == Property.Status.ACTIVE:
                self.seed_history(prop, today)
            # Turnover tasks of the stays, now rather than when the outbox is delivered (the consumer makes them
            # too; the sync is idempotent), and the cleanings of the stays that have ended done. Only for the
            # bookings made here: a later run leaves the tasks of a demo in use alone.
            stays = Booking.objects.filter(property=prop, status__in=CONFIRMED_STATUSES)
            for booking_id in stays.values_list("pk", flat=True):
                sync_turnover_for_booking(booking_id)
            self.close_past_turnovers(prop)

    def seed_photos(self, prop: Property, spec: dict) -> None:
        count = 2 + sum(map(ord, prop.slug)) % 3  # 2–4, stable per property
        for index in range(count):
            caption = PHOTO_CAPTIONS[index % len(PHOTO_CAPTIONS)]
            content = placeholder_photo(prop.name, f"{caption} · {prop.city}", spec["colors"], index)
            photo = prop.photos.model(property=prop, alt_text=f"{prop.name}: {caption.lower()}", position=index)
            photo.image.save(f"{prop.slug}-{index + 1}.jpg", content, save=True)
            self.stats.photos += 1

    @staticmethod
    def create_rule(prop: Property, rule: dict, today: date) -> None:
        fields = {k: v for k, v in rule.items() if k != "season"}
        fields["value"] = Decimal(fields["value"])
        if "season" in rule:
            fields["start_date"], fields["end_date"] = next_season(today, *rule["season"])
        pricing_rule = PricingRule(property=prop, **fields)
        pricing_rule.full_clean()
        pricing_rule.save()

    # --- bookings ---------------------------------------------------------------------------

    def party(self, prop: Property) -> tuple[int, int]:
        guests = self.rng.randint(1, prop.max_guests)
        children = self.rng.randint(0, guests // 2) if prop.max_guests > 2 else 0
        return guests - children, children

    def find_stay(self, prop: Property, offset: int, nights: int, guests: int, today: date,
                  at: datetime | None = None) -> tuple[date, date]:
        """The first stay from ``today + offset`` that the property's rules and calendar allow (as of ``at``)."""
        for delta in range(0, 180):
            check_in = today + timedelta(days=offset + delta)
            rules = stay_rules_for(prop, check_in)
            if not rules.checkin_weekdays & (1 << check_in.weekday()):
                continue
            length = min(max(nights, rules.min_stay), rules.max_stay)
            check_out = check_in + timedelta(days=length)
            while not rules.checkout_weekdays & (1 << check_out.weekday()):
                check_out += timedelta(days=1)
            if check_availability(prop, check_in, check_out, guests, at=at).available:
                return check_in, check_out
        raise CommandError(f"No free stay found for {prop.slug} around day {offset}.")

    def seed_booking(self, prop: Property, kind: str, offset: int, today: date) -> None:
        rng = self.rng
        guest = rng.choice(GUESTS)
        adults, children = self.party(prop)
        nights = rng.choice([2, 3, 3, 4, 5, 7])
        owner_actor = Actor.for_user(prop.owner)
        stay = {"property_id": prop.pk, "adults": adults, "children": children}

        if kind in ("in_house", "past"):
            # Stays that began before today arrive from a channel (rules are the channel's business).
            check_in = today - timedelta(days=2 if kind == "in_house" else 12)
            check_out = check_in + timedelta(days=5 if kind == "in_house" else 4)
            source = Source.AIRBNB if kind == "in_house" else Source.BOOKING_COM
            result = services.import_external(source=source, external_id=f"DEMO-{prop.pk}-{kind}", guest=guest,
                                              check_in=check_in, check_out=check_out, **stay)
            services.check_in(booking_id=result.booking.pk, actor=owner_actor)
            if kind == "past":
                services.check_out(booking_id=result.booking.pk, actor=owner_actor)
            self.stats.bookings += 1
            return

        check_in, check_out = self.find_stay(prop, offset, nights, adults + children, today)
        stay.update(check_in=check_in, check_out=check_out)
        channel = kind.removesuffix("_cancelled")
        if channel in {s.value for s in Source} and channel not in (Source.DIRECT, Source.OWNER):
            external_id = f"{channel[:3].upper()}-{rng.randint(10**7, 10**8 - 1)}"
            services.import_external(source=channel, external_id=external_id, guest=guest, **stay)
            if kind.endswith("_cancelled"):
                services.import_external(source=channel, external_id=external_id, guest=guest, cancelled=True,
                                         **stay)
        elif kind == "hold":
            services.hold(email=guest.email, actor=Actor.api(label="demo widget"), **stay)
        elif kind == "owner":
            booking = services.reserve(
                guest=GuestInput(prop.owner.full_name, prop.owner.email), actor=owner_actor, source=Source.OWNER,
                special_requests="Owner stay", override_rules=True, override_reason="Owner's own stay", **stay,
            )
            services.confirm(booking_id=booking.pk, actor=owner_actor, reason="Owner stay.")
        else:
            expires_in = {"reserved": timedelta(days=2), "reserved_short": None}.get(kind)
            booking = services.reserve(guest=guest, actor=Actor.guest(guest.email), expires_in=expires_in,
                                       special_requests=rng.choice(SPECIAL_REQUESTS), **stay)
            if kind in ("direct", "cancelled"):
                services.confirm(booking_id=booking.pk, actor=owner_actor, reason="Payment received.")
            if kind == "cancelled":
                services.cancel(booking_id=booking.pk, actor=Actor.guest(guest.email),
                                reason="Guest cancelled: travel plans changed.")
            if kind == "reserved":
                self.extend_by_a_night(booking, Actor.guest(guest.email))
        self.stats.bookings += 1

    def extend_by_a_night(self, booking, actor) -> None:
        """The guest changed their stay (docs/changes.md): one more night, when it is free and the rules allow it."""
        from core.errors import DomainError
        from payments.changes import change_with_payment

        # The next night taken, or breaking a rule: the demo keeps the stay as booked.
        with contextlib.suppress(DomainError):
            change_with_payment(booking_id=booking.pk, actor=actor, by_guest=True,
                                check_out=booking.check_out + timedelta(days=1))

    def seed_history(self, prop: Property, today: date) -> None:
        """About a year of past stays, so that the reports and the calendar's past have something to show.

        Each one goes through the services as of its own dates (``at=``): booked 2–16 days ahead, direct
        ones paid by a manual payment the owner verified, channel ones imported; then checked in and out
        (about one in eight is cancelled instead). Their turnover tasks are marked done by
        :meth:`close_past_turnovers`."""
        rng = self.rng
        owner = prop.owner
        owner_actor = Actor.for_user(owner)
        method = HostPaymentMethod.objects.filter(owner=owner, active=True).first() or HostPaymentMethod.objects.create(
            owner=owner, kind="bank_transfer", handle="IBAN DE02 1203 0000 0000 2020 51", active=True,
            display_name=owner.full_name or owner.email, instructions="Put the code in the transfer's reference.")
        cursor = today - timedelta(days=365)
        while True:
            booked_at = datetime.combine(cursor, time(12), tzinfo=UTC)
            nights = rng.choice([2, 3, 3, 4, 5, 7])
            adults, children = self.party(prop)
            try:
                check_in, check_out = self.find_stay(prop, rng.randint(2, 16), nights, adults + children, cursor,
                                                     at=booked_at)
            except CommandError:
                break
            if check_out > today - timedelta(days=21):  # leave the last weeks to the seeded recent stays
                break
            cursor = check_out  # the next guest books once this one has left, for a stay 2–16 days later
            guest = rng.choice(GUESTS)
            stay = {"property_id": prop.pk, "check_in": check_in, "check_out": check_out, "adults": adults,
                    "children": children}
            source = rng.choice(HISTORY_SOURCES)
            if source == Source.DIRECT:
                booking = services.reserve(guest=guest, actor=Actor.guest(guest.email), at=booked_at, **stay)
                mp = manual.choose_method(booking_id=booking.pk, method_id=method.pk,
                                          actor=Actor.guest(guest.email), at=booked_at)
                paid_at = booked_at + timedelta(hours=3)
                manual.claim(mp_id=mp.pk, guest_reference=f"Transfer {mp.code}", actor=Actor.guest(guest.email),
                             at=paid_at)
                manual.verify(mp_id=mp.pk, action="confirm", user=owner, amount_received=mp.amount,
                              note="Seen on the bank statement.", at=paid_at + timedelta(hours=2))
            else:
                booking = services.import_external(source=source, external_id=f"HIST-{prop.pk}-{check_in:%Y%m%d}",
                                                   guest=guest, at=booked_at, **stay).booking
            if rng.random() < 0.125:
                cancel_at = booked_at + timedelta(days=2)
                if source == Source.DIRECT:
                    services.cancel(booking_id=booking.pk, actor=Actor.guest(guest.email), at=cancel_at,
                                    reason="Guest cancelled: travel plans changed.")
                else:
                    services.import_external(source=source, external_id=booking.external_id, guest=guest,
                                             cancelled=True, at=cancel_at, **stay)
            else:
                services.check_in(booking_id=booking.pk, actor=owner_actor,
                                  at=datetime.combine(check_in, time(16), tzinfo=UTC))
                services.check_out(booking_id=booking.pk, actor=owner_actor,
                                   at=datetime.combine(check_out, time(10), tzinfo=UTC))
            self.stats.bookings += 1

    def seed_reviews(self) -> None:
        """Three reviews of each active property's latest finished stays, written two days after check-out, through
        ``reviews.services``; the owner replies to the best one; owner 1's first property has one flagged for staff.
        Only for a property without reviews (idempotent); their own random stream, so the rest stays as it was."""
        rng = random.Random(SEED + 15)
        for prop in Property.objects.filter(status=Property.Status.ACTIVE).select_related("owner").order_by("pk"):
            if Review.objects.filter(property=prop).exists():
                continue
            stays = list(prop.bookings.filter(status="checked_out").select_related("guest").order_by("-check_out")[:3])
            written = []
            for i, booking in enumerate(stays):
                overall, title, body = DEMO_REVIEWS[(prop.pk + i) % len(DEMO_REVIEWS)]
                ratings = {"overall": overall, **{name: max(1, min(5, overall + rng.choice([-1, 0, 0, 1])))
                                                  for name in ("cleanliness", "location", "value")}}
                at = datetime.combine(booking.check_out + timedelta(days=2), time(18), tzinfo=UTC)
                written.append(review_services.submit_review(
                    booking_id=booking.pk, ratings=ratings, title=title, body=body,
                    actor=Actor.guest_of(booking), at=at))
                self.stats.reviews += 1
            if written:
                best = max(written, key=lambda r: (r.overall, r.pk))
                review_services.set_reply(review_id=best.pk, user=prop.owner,
                                          text="Thank you for staying with us. We hope to welcome you back!")
            low = [r for r in written if r.overall <= 3]
            if low and prop.owner.email == "owner1@demo.stayhold.test" and not Review.objects.filter(
                    property__owner=prop.owner, status="flagged").exists():
                review_services.flag_review(review_id=low[0].pk, user=prop.owner,
                                            reason="Mentions our neighbour by name; please check.")

    def seed_channel_connections(self, owner: User) -> None:
        """Owner 1's active properties get an Airbnb and a Booking.com connection, export-only (the demo cannot
        reach the platforms): their pages show our export URL and the set-up guides. One Airbnb calendar has
        the platform's rolling "not available" window as a channel block, as a sync would leave it."""
        for prop in Property.objects.filter(owner=owner, status=Property.Status.ACTIVE).order_by("pk"):
            for platform in (Platform.AIRBNB, Platform.BOOKING_COM):
                connection, created = ChannelConnection.objects.get_or_create(property=prop, platform=platform)
                self.stats.connections += created
        first = ChannelConnection.objects.filter(property__owner=owner, platform=Platform.AIRBNB).order_by("pk").first()
        if first is not None and not first.channel_blocks.exists():
            horizon = local_today(first.property) + timedelta(days=first.property.max_advance_days or 365)
            block_services.replace_channel_blocks(
                connection=first, blocks=[(horizon, horizon + timedelta(days=30), False, "Airbnb (Not available)")])

    def seed_messaging(self, owner: User) -> None:
        """Owner 1's messaging: a template, the first property's door code, Wi-Fi and automatic messages, and one
        conversation with a guest (in the backfill: nobody is emailed). Idempotent."""
        from messaging import services as messaging
        from messaging.models import MessageSettings, MessageTemplate, Thread

        template, _ = MessageTemplate.objects.get_or_create(owner=owner, name="Arrival details", defaults={"body": (
            "Hello {{guest_name}}! Check-in at {{property_name}} is from {{check_in_time}} on {{check_in}}. "
            "The door code is {{door_code}}; Wi-Fi {{wifi_name}}, password {{wifi_password}}.")})
        prop = Property.objects.filter(owner=owner).order_by("pk").first()
        if prop is None:
            return
        MessageSettings.objects.get_or_create(property=prop, defaults={
            "door_code": "4711", "wifi_name": f"{prop.name[:20]} guests", "wifi_password": "demo-wifi-2026",
            "check_in_enabled": True, "check_in_template": template, "mid_stay_enabled": True,
            "review_request_enabled": True})
        booking = (Booking.objects.filter(property=prop, source=Source.DIRECT, status=BookingStatus.CONFIRMED)
                   .order_by("check_in").first())
        if booking is None or Thread.objects.filter(booking=booking).exists():
            return
        messaging.post_from_guest(booking_id=booking.pk, body="Hello! We arrive around 21:00. Is a late check-in "
                                                             "possible, and where can we park?")
        messaging.reply_from_owner(booking_id=booking.pk, user=owner, body="Late check-in is no problem: the door "
                                   "has a code, I will send it two days before you arrive. Parking is free in the "
                                   "street.")
        messaging.post_from_guest(booking_id=booking.pk, body="Perfect, thank you!")

    def seed_channex_connection(self, owner: User) -> None:
        """Owner 1's first active property is connected to Channex through the API, against the local emulator
        that ``make run`` starts with the same demo account (``channels.emulators.channex.DEMO_ACCOUNT``): once
        the worker runs, the calendar is pushed there and reservations made there (its control routes) arrive."""
        prop = Property.objects.filter(owner=owner, status=Property.Status.ACTIVE).order_by("pk").first()
        if prop is None or ChannelConnection.objects.filter(property=prop, transport=Transport.CHANNEX).exists():
            return
        demo = DEMO_ACCOUNT["properties"][0]
        channel_services.connect_api(
            property_id=prop.pk, transport=Transport.CHANNEX, credentials={"api_key": DEMO_ACCOUNT["api_key"]},
            remote_property_id=demo["id"], remote_room_type_id=demo["room_type_id"],
            remote_rate_plan_id=demo["rate_plan_id"], name="Demo listing on Channex")
        self.stats.connections += 1

    @staticmethod
    def close_past_turnovers(prop: Property) -> None:
        """The cleanings due before today (the site's date, as the dashboard counts overdue tasks) were done on
        their day, by the assigned staff member or else the owner, through the turnover service."""
        past = prop.turnover_tasks.filter(status=TurnoverTask.Status.OPEN, due_date__lt=timezone.localdate())
        for task in past.select_related("assignee").order_by("due_date"):
            turnover.mark_done(task_id=task.pk, user=task.assignee or prop.owner,
                               at=datetime.combine(task.due_date, prop.check_out_time, tzinfo=prop.tz)
                               + timedelta(hours=2))

    def seed_group_booking(self) -> None:
        """One group booking ("book all", docs/group-bookings.md): a family takes two Lisbon homes for the same
        week, reserved together by ``reserve_group`` and confirmed. Once: a second run finds the group."""
        if BookingGroup.objects.exists():
            return
        props = list(Property.objects.filter(slug__in=["alfama-azulejo-loft", "principe-real-garden-house"])
                     .order_by("slug"))
        if len(props) < 2:
            return
        today = timezone.localdate()
        for offset in range(60, 240, 7):  # the first week both are free
            stays = [self.find_stay(prop, offset, 4, 2, today) for prop in props]
            if len({stay[0] for stay in stays}) == 1:
                break
        guest = GuestInput("Família Costa", "familia.costa@example.com", "+351 912 345 678", "PT")
        group = services.reserve_group(stays=[services.GroupStay(prop.pk, ci, co, 2) for prop, (ci, co) in
                                              zip(props, stays, strict=True)],
                                       guest=guest, actor=Actor.guest(guest.email))
        for booking in group.bookings.all():
            services.confirm(booking_id=booking.pk, actor=Actor.for_user(props[0].owner), reason="Payment received.")
            sync_turnover_for_booking(booking.pk)  # now, like the other demo stays (the consumer would, later)
        self.stats.bookings += len(props)

    # --- output -----------------------------------------------------------------------------

    def print_summary(self) -> None:
        s = self.stats
        out = self.stdout
        out.write(self.style.SUCCESS(
            f"Demo data ready: created {s.users} users, {s.properties} properties, {s.photos} photos, "
            f"{s.bookings} bookings, {s.connections} channel connections, {s.reviews} reviews "
            f"(now {Property.objects.count()} properties, "
            f"{Booking.objects.count()} bookings in total)."
        ))
        out.write("")
        out.write(f"  Site:      {URL}")
        out.write(f"  Admin:     {URL}admin/")
        out.write(f"  API docs:  {URL}api/docs/")
        out.write("")
        out.write(f"  Demo logins (password for all: {DEMO_PASSWORD}):")
        for _key, email, _name, role in USERS:
            out.write(f"    {role:<6} {email}")
        out.write(f"  The admin also needs a TOTP code: authenticator-app secret {DEMO_ADMIN_TOTP_SECRET},")
        out.write("  or print the current code with: python manage.py demo_totp")
        out.write("")


PROPERTY_FIELDS = {
    "slug", "name", "street", "postal_code", "latitude", "longitude", "max_guests", "bedrooms", "bathrooms",
    "base_price", "cleaning_fee", "extra_guest_fee", "guests_included", "tax_rate", "cancellation_policy",
    "custom_cancellation_tiers", "min_stay", "max_stay", "buffer_days", "checkin_weekdays", "checkout_weekdays",
    "min_lead_days", "max_advance_days", "check_in_time", "check_out_time", "description", "house_rules",
}
