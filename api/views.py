"""REST API v1 views: parse with a serializer, call a selector or service, render.

No business rule lives here: availability, prices and transitions are decided by
``properties`` and ``bookings.services``; their domain errors become JSON by
``api.errors.api_exception_handler``.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.decorators import method_decorator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from bookings import services
from bookings.availability import calendar, check_availability
from bookings.errors import HoldMismatch
from bookings.idempotency import KEY_PATTERN, MAX_KEY_LENGTH, fingerprint, run_idempotent
from bookings.models import HAND_MOVE_PERMISSIONS, MANAGE_BOOKING, Booking, BookingStatus
from bookings.search import SearchQuery, search
from bookings.tokens import booking_for_guest_token, check_hold_release_token
from core.actor import Actor
from core.errors import DomainError
from core.replica import reads_from_replica
from guests.authority import NoPendingMfa, StaffAuthority
from guests.services import GuestInput
from payments.services import cancel_with_refund
from properties.models import PropertyPhoto
from properties.pricing import quote
from reviews.selectors import rating_summary, review_page

from . import serializers as s
from .errors import ErrorSerializer
from .parsers import SafeJSONParser
from .permissions import manageable_bookings, manages_property, visible_properties
from .schema import days_from_today
from .throttles import CreateRateThrottle

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key", {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH,
                        "pattern": KEY_PATTERN.pattern.replace(r"\A", "^").replace(r"\Z", "$")},
    OpenApiParameter.HEADER, required=False,
    description=f"Any unique string of 1 to {MAX_KEY_LENGTH} visible ASCII characters (spaces only between them), "
                "e.g. a UUID. Retrying with the same key and body returns the first response (with "
                "`Idempotent-Replayed: true`) and creates nothing; the same key with another body gets 422 "
                "`idempotency_key_reused`. Keys are kept 24 hours.",
)


class ApiView(APIView):
    """Base of every v1 view: JSON in (safely parsed), JSON out.

    Every endpoint first refuses a session that still owes its second factor (403 ``mfa_required``,
    ``guests.authority.NoPendingMfa``), whatever ``permission_classes`` a view sets: such a session must not reach
    owner data through the public endpoints either (draft properties, holds of managed properties).
    """

    parser_classes = [SafeJSONParser]

    def get_permissions(self):
        return [NoPendingMfa(), *super().get_permissions()]


def _parse(serializer_class, data, request):
    serializer = serializer_class(data=data, context={"request": request, "user": request.user})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data, serializer.context.get("property")


def _query(request) -> dict:
    """Query parameters as a plain dict (the last value of a repeated name wins).

    An empty value (``?min_price=``, what a web form sends for an empty field) means the
    parameter was not given: its default applies, as the schema documents."""
    params = {key: request.query_params.get(key) for key in request.query_params}
    return {key: value for key, value in params.items() if value != ""}


def _properties_with_media(qs):
    return qs.prefetch_related("amenities", Prefetch("photos", queryset=PropertyPhoto.objects.order_by("position",
                                                                                                         "id")))


def _client_identity(request) -> str:
    return f"user:{request.user.pk}" if request.user.is_authenticated else "anon"


def _create_response(request, scope: str, handler) -> Response:
    """Run ``handler`` (→ (status, body)), once per Idempotency-Key when the client sent one."""

    def guarded():
        try:
            return handler()
        except DomainError as exc:  # stored with the key, so a retry gets the same answer
            return exc.http_status, exc.as_dict()

    key = request.headers.get("Idempotency-Key")
    if key is None:
        code, body = guarded()
        return Response(body, status=code)
    stored = run_idempotent(scope=f"{scope} {_client_identity(request)}", key=key,
                            request_hash=fingerprint(request.data), handler=guarded)
    response = Response(stored.body, status=stored.status)
    if stored.replayed:
        response["Idempotent-Replayed"] = "true"
    return response


def _token(request, header: str) -> str:
    return request.query_params.get("token") or request.headers.get(header) or ""


# --- properties ------------------------------------------------------------------------------


class PropertyListView(ApiView):
    """Active properties (plus, for a signed-in owner or staff member, the ones they manage)."""

    @extend_schema(operation_id="properties_list", parameters=[s.PageQuerySerializer],
                   responses={200: s.PropertyPageSerializer, 400: ErrorSerializer})
    def get(self, request):
        params, _ = _parse(s.PageQuerySerializer, _query(request), request)
        page, size = params["page"], params["page_size"]
        qs = visible_properties(request.user).order_by("name", "id")
        total = qs.count()
        rows = list(_properties_with_media(qs)[(page - 1) * size:page * size])
        return Response({
            "results": s.PropertySerializer(rows, many=True, context={"request": request}).data,
            "total": total, "page": page, "page_size": size, "pages": max(1, -(-total // size)),
        })


class PropertyDetailView(ApiView):
    @extend_schema(operation_id="properties_retrieve",
                   responses={200: s.PropertyDetailSerializer, 404: ErrorSerializer})
    def get(self, request, pk: int):
        prop = _properties_with_media(visible_properties(request.user)).filter(pk=pk).first()
        if prop is None:
            raise exceptions.NotFound("There is no property with this id.")
        return Response(s.PropertyDetailSerializer(prop, context={"request": request}).data)


class PropertyReviewsView(ApiView):
    """The public reviews of a property the caller may see (published ones, newest first)."""

    @extend_schema(operation_id="properties_reviews", parameters=[s.PageQuerySerializer],
                   responses={200: s.ReviewPageSerializer, 400: ErrorSerializer, 404: ErrorSerializer})
    def get(self, request, pk: int):
        params, _ = _parse(s.PageQuerySerializer, _query(request), request)
        page, size = params["page"], params["page_size"]
        if not visible_properties(request.user).filter(pk=pk).exists():
            raise exceptions.NotFound("There is no property with this id.")
        summary = rating_summary(pk)
        rows = review_page(pk, page=page, per_page=size) if summary.count else []
        return Response(s.ReviewPageSerializer({
            "results": rows, "average": summary.overall, "total": summary.count, "page": page, "page_size": size,
            "pages": max(1, -(-summary.count // size)),
        }).data)


# --- search, availability, quote --------------------------------------------------------------


class SearchView(ApiView):
    """Active properties free for the dates (when given), filtered, sorted and paginated, each with its quote."""

    @extend_schema(operation_id="search", parameters=[s.SearchQuerySerializer],
                   responses={200: s.SearchPageSerializer, 400: ErrorSerializer})
    @method_decorator(reads_from_replica)  # may be a moment old (docs/deployment.md "Read replica")
    def get(self, request):
        params, _ = _parse(s.SearchQuerySerializer, _query(request), request)
        result = search(SearchQuery(
            check_in=params.get("check_in"), check_out=params.get("check_out"), guests=params["guests"],
            text=params["q"], min_price=params.get("min_price"), max_price=params.get("max_price"),
            bedrooms=params.get("bedrooms"), amenities=params["amenities"], sort=params["sort"],
            page=params["page"], page_size=params["page_size"],
        ))
        context = {"request": request}
        return Response({
            "results": [
                {"property": s.PropertySerializer(r.property, context=context).data,
                 "quote": r.quote.as_dict() if r.quote is not None else None}
                for r in result.results
            ],
            "total": result.total, "page": result.page, "page_size": result.page_size, "pages": result.pages,
        })


class AvailabilityView(ApiView):
    """Per-day calendar of [start, end) plus whether a stay from start to end is bookable now, with reasons."""

    @extend_schema(operation_id="availability", parameters=[s.AvailabilityQuerySerializer],
                   responses={200: s.AvailabilityResponseSerializer, 400: ErrorSerializer})
    @method_decorator(reads_from_replica)  # a display; holds and bookings re-check on the primary under the lock
    def get(self, request):
        params, prop = _parse(s.AvailabilityQuerySerializer, _query(request), request)
        now = timezone.now()
        start, end, guests = params["start"], params["end"], params["guests"]
        result = check_availability(prop, start, end, guests, at=now)
        return Response({
            "property_id": prop.pk, "start": start.isoformat(), "end": end.isoformat(), "guests": guests,
            "days": [day.as_dict() for day in calendar(prop, start, end, at=now)],
            "bookable": result.available, "reasons": [r.as_dict() for r in result.reasons],
        })


class QuoteView(ApiView):
    """The price of a stay. Dates that cannot be booked still get a price, with ``available: false`` and why."""

    @extend_schema(operation_id="quote", parameters=[s.QuoteQuerySerializer],
                   responses={200: s.QuoteResponseSerializer, 400: ErrorSerializer})
    def get(self, request):
        params, prop = _parse(s.QuoteQuerySerializer, _query(request), request)
        now = timezone.now()
        ci, co, guests = params["check_in"], params["check_out"], params["guests"]
        result = check_availability(prop, ci, co, guests, at=now)
        return Response({
            **quote(prop, ci, co, guests, at=now).as_dict(), "property_id": prop.pk,
            "available": result.available, "reasons": [r.as_dict() for r in result.reasons],
        })


# --- holds -------------------------------------------------------------------------------------


class HoldCreateView(ApiView):
    throttle_classes = [CreateRateThrottle]

    @extend_schema(
        operation_id="holds_create", request=s.HoldCreateSerializer, parameters=[IDEMPOTENCY_HEADER],
        responses={201: s.HoldSerializer, 400: ErrorSerializer, 409: ErrorSerializer, 422: ErrorSerializer,
                   429: ErrorSerializer},
    )
    def post(self, request):
        """Hold dates for ``API_HOLD_MINUTES`` (15 by default). Open to anonymous clients, throttled.

        The 201 body carries a signed ``release_token``: keep it to release the
        hold or to turn it into a booking.
        """
        data, prop = _parse(s.HoldCreateSerializer, request.data, request)

        def handler():
            held = services.hold(
                property_id=prop.pk, check_in=data["check_in"], check_out=data["check_out"], adults=data["adults"],
                children=data["children"], email=data["email"],
                actor=Actor.api(request.user, label=data["email"] or "api"),
            )
            return status.HTTP_201_CREATED, dict(s.HoldSerializer(held).data)

        return _create_response(request, "POST /api/v1/holds", handler)


class HoldDetailView(ApiView):
    @extend_schema(
        operation_id="holds_release",
        parameters=[OpenApiParameter("token", OpenApiTypes.STR, OpenApiParameter.QUERY, required=False,
                                     description="The hold's release_token (or send it as X-Hold-Token).")],
        responses={204: None, 404: ErrorSerializer, 409: ErrorSerializer},
    )
    def delete(self, request, pk: int):
        """Release a hold.

        Decision: hold ids are sequential, so the id alone is not enough. The
        caller must present the hold's signed ``release_token`` (``?token=`` or
        the ``X-Hold-Token`` header), or be the owner, assigned staff or a
        superuser of the property. Otherwise the answer is 404, the same as for
        an unknown id, so ids cannot be probed.

        Releasing is idempotent: a hold already released, or whose time ran out
        (it is marked expired here if the job has not run yet), answers 204 —
        its dates are free either way. A hold that has become a booking answers
        409 ``hold_mismatch``.
        """
        held = Booking.objects.filter(pk=pk).only("pk", "reference", "property_id", "status").first()
        allowed = held is not None and (
            check_hold_release_token(_token(request, "X-Hold-Token"), held)
            or manages_property(request.user, held.property_id)
        )
        if not allowed:
            raise exceptions.NotFound("There is no hold with this id (or the release token is missing or wrong).")
        with transaction.atomic():  # both steps under one property lock
            held = services.expire(booking_id=held.pk)
            if held.status == BookingStatus.HELD:
                services.release_hold(hold_id=held.pk, actor=Actor.api(request.user, label="api"))
            elif held.status not in (BookingStatus.RELEASED, BookingStatus.EXPIRED):
                raise HoldMismatch("This hold has already become a booking; cancel the booking instead.")
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- bookings -------------------------------------------------------------------------------


class BookingCreateView(ApiView):
    throttle_classes = [CreateRateThrottle]

    @extend_schema(
        operation_id="bookings_create", request=s.BookingCreateSerializer, parameters=[IDEMPOTENCY_HEADER],
        responses={201: s.BookingCreatedSerializer, 400: ErrorSerializer, 409: ErrorSerializer,
                   422: ErrorSerializer, 429: ErrorSerializer},
        examples=[OpenApiExample("Direct booking", request_only=True, value={
            # Dates relative to the day the schema is served (api.schema), so the example never rots.
            "property_id": 1, "check_in": days_from_today(60), "check_out": days_from_today(64), "adults": 2,
            "children": 0,
            "guest": {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+44 20 7946 0000",
                      "country": "GB"},
            "special_requests": "Late arrival",
        })],
    )
    def post(self, request):
        """Reserve a stay: status ``reserved`` until ``expires_at`` while the guest pays.

        Open to anonymous clients (throttled). The 201 body carries the guest's
        signed ``access_token`` for reading the booking back. With ``hold_id``
        (and that hold's ``release_token`` as ``hold_token``, unless the caller
        manages the property) the hold becomes the booking.
        """
        data, _ = _parse(s.BookingCreateSerializer, request.data, request)
        hold_id = data.get("hold_id")
        if hold_id is not None:
            held = Booking.objects.filter(pk=hold_id).only("pk", "reference", "property_id").first()
            if held is None or not (
                check_hold_release_token(data.get("hold_token", ""), held)
                or manages_property(request.user, held.property_id)
            ):
                raise exceptions.ValidationError({"hold_token": ["This is not the release token of that hold."]})
        guest = data["guest"]

        def handler():
            booking = services.reserve(
                property_id=data["property_id"], check_in=data["check_in"], check_out=data["check_out"],
                adults=data["adults"], children=data["children"], special_requests=data["special_requests"],
                hold_id=hold_id,
                guest=GuestInput(name=guest["name"], email=guest["email"], phone=guest["phone"],
                                 country=guest["country"]),
                actor=Actor.api(request.user, label=guest["email"]),
                # the guest's emails in the client's Accept-Language when it sends one, else the property's default
                language=request.LANGUAGE_CODE if request.headers.get("Accept-Language") else "",
            )
            return status.HTTP_201_CREATED, s.booking_created_body(booking)

        return _create_response(request, "POST /api/v1/bookings", handler)


def _booking_detail(booking: Booking, manager: bool) -> dict:
    if manager:
        return s.ManagerBookingSerializer(booking).data
    return s.BookingSerializer(booking).data


class BookingDetailView(ApiView):
    @extend_schema(
        operation_id="bookings_retrieve",
        parameters=[OpenApiParameter("token", OpenApiTypes.STR, OpenApiParameter.QUERY, required=False,
                                     description="The guest's access_token (or send it as X-Booking-Token).")],
        responses={200: s.ManagerBookingSerializer, 403: ErrorSerializer, 404: ErrorSerializer},
    )
    def get(self, request, reference: str):
        """Read a booking.

        Allowed for the owner or assigned staff of its property and superusers
        (session or basic auth; the answer includes the audit trail ``events``),
        or for whoever presents the guest's signed ``access_token`` (``?token=``
        or ``X-Booking-Token``). Everyone else gets 404, exactly as for an
        unknown reference, so references cannot be probed. A session that has not proved its second factor
        where the account needs one gets 403 ``mfa_required`` for every reference.
        """
        managed = manageable_bookings(request.user).filter(reference=reference).values_list("pk", flat=True).first()
        if managed is not None:
            booking = Booking.objects.select_related("property", "guest").prefetch_related("events").get(pk=managed)
            return Response(_booking_detail(booking, manager=True))
        booking = booking_for_guest_token(reference, _token(request, "X-Booking-Token"))
        if booking is not None:
            return Response(_booking_detail(booking, manager=False))
        raise exceptions.NotFound("There is no booking with this reference.")


class BookingChangeView(BookingDetailView):
    """``GET`` reads (as :class:`BookingDetailView`); ``PATCH`` changes the dates and/or guests."""

    @extend_schema(
        operation_id="bookings_change", request=s.BookingChangeSerializer,
        parameters=[IDEMPOTENCY_HEADER,
                    OpenApiParameter("token", OpenApiTypes.STR, OpenApiParameter.QUERY, required=False,
                                     description="The guest's access_token (or send it as X-Booking-Token).")],
        responses={200: s.ChangedBookingSerializer, 400: ErrorSerializer, 403: ErrorSerializer,
                   404: ErrorSerializer, 409: ErrorSerializer, 422: ErrorSerializer},
    )
    def patch(self, request, reference: str):
        """Change a booking's dates and/or guests, re-priced on the server.

        Allowed, as for reading, to whoever presents the guest's signed ``access_token`` (the guest: before the
        arrival day, where the property lets guests change bookings, stay rules always enforced, refunds per the
        cancellation policy) and to the owner or assigned staff of the property with the
        ``bookings.manage_booking`` permission (they may override the stay rules with a reason and refund a
        decrease in full). Another signed-in manager of the property without that permission gets 403; everyone
        else 404, as for an unknown reference.

        A price increase raises ``balance_due``: the guest gets an email with the payment link. A decrease is
        refunded under the booking's cancellation-policy snapshot. Send the ``difference`` you showed as
        ``expected_difference`` so that a price that moved meanwhile answers 409 ``change_price_changed`` instead.
        Channel bookings answer 409 ``change_on_channel``: they change on their platform.
        """
        from payments.changes import change_with_payment

        managed = manageable_bookings(request.user).filter(reference=reference).values_list("pk", flat=True).first()
        booking = None
        if managed is None:
            booking = booking_for_guest_token(reference, _token(request, "X-Booking-Token"))
            if booking is None:
                raise exceptions.NotFound("There is no booking with this reference.")
        elif not request.user.has_perm(MANAGE_BOOKING):
            raise exceptions.PermissionDenied(f"Your role may not change bookings (needs the {MANAGE_BOOKING} "
                                              "permission).")
        by_guest = booking is not None
        data, _ = _parse(s.BookingChangeSerializer, request.data, request)
        if by_guest and (data["override_rules"] or data["full_refund"]):
            raise exceptions.PermissionDenied("Only the owner or staff may override the stay rules or refund in full.")
        booking_id = managed if managed is not None else booking.pk
        stay = {name: data[name] for name in ("check_in", "check_out", "adults", "children") if name in data}
        actor = (Actor.guest(booking.guest.email if booking.guest else "") if by_guest
                 else Actor.for_user(request.user))

        def answer(change=None) -> dict:
            row = Booking.objects.select_related("property", "guest").prefetch_related("events").get(pk=booking_id)
            body = dict(_booking_detail(row, manager=not by_guest))
            if change is not None:
                body["change"] = change.terms.as_dict()
            return body

        def handler():
            current = Booking.objects.only("check_in", "check_out", "adults", "children").get(pk=booking_id)
            if all(getattr(current, name) == value for name, value in stay.items()):
                return status.HTTP_200_OK, answer()  # nothing to change: PATCH is idempotent
            result = change_with_payment(
                booking_id=booking_id, actor=actor, by_guest=by_guest, override_rules=data["override_rules"],
                override_reason=data["override_reason"], full_refund=data["full_refund"],
                expected_difference=data.get("expected_difference"), expected_refund=data.get("expected_refund"),
                **stay)
            return status.HTTP_200_OK, answer(result.change)

        return _create_response(request, f"PATCH /api/v1/bookings/{reference}", handler)


STATUS_SERVICES = {
    BookingStatus.CONFIRMED: lambda booking, actor, reason: services.confirm(
        booking_id=booking.pk, actor=actor, reason=reason),
    # An owner's cancellation refunds everything paid (payments.services; no-op refund when unpaid).
    BookingStatus.CANCELLED: lambda booking, actor, reason: cancel_with_refund(
        booking_id=booking.pk, actor=actor, reason=reason or f"Cancelled by {actor.label or 'staff'}.", by_owner=True),
    BookingStatus.CHECKED_IN: lambda booking, actor, reason: services.check_in(booking_id=booking.pk, actor=actor),
    BookingStatus.CHECKED_OUT: lambda booking, actor, reason: services.check_out(booking_id=booking.pk, actor=actor),
}


# The same role permissions as the admin's buttons (guests.roles): staff check guests in and out; confirming and
# cancelling (which refunds) are the owner's.
class BookingStatusView(ApiView):
    permission_classes = [StaffAuthority]

    @extend_schema(
        operation_id="bookings_status", request=s.StatusChangeSerializer,
        responses={200: s.ManagerBookingSerializer, 400: ErrorSerializer, 401: ErrorSerializer,
                   403: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
    )
    def patch(self, request, reference: str):
        """Change a booking's status: ``confirmed``, ``cancelled``, ``checked_in`` or ``checked_out``.

        Owners and assigned staff of the property and superusers only, each by role:
        ``confirmed``/``cancelled`` need ``bookings.manage_booking`` (owners),
        ``checked_in``/``checked_out`` ``bookings.checkin_booking`` (owners and staff). Anyone
        else signed in gets 403 whether or not the reference exists (only a
        superuser sees 404 for an unknown reference); anonymous callers 403
        ``not_authenticated``; a session that has not proved its second factor where the account needs one
        (superusers: ``MFA_REQUIRED_FOR_SUPERUSERS``) 403 ``mfa_required``. A transition the state machine
        forbids is 409 ``invalid_transition``.
        """
        booking = manageable_bookings(request.user).filter(reference=reference).first()
        if booking is None:
            if request.user.is_superuser:
                raise exceptions.NotFound("There is no booking with this reference.")
            raise exceptions.PermissionDenied("You do not manage a booking with this reference.")
        data, _ = _parse(s.StatusChangeSerializer, request.data, request)
        needed = HAND_MOVE_PERMISSIONS[data["status"]]
        if not request.user.has_perm(needed):
            raise exceptions.PermissionDenied(f"Your role may not set this status (needs the {needed} permission).")
        STATUS_SERVICES[data["status"]](booking, Actor.for_user(request.user), data["reason"])
        booking = Booking.objects.select_related("property", "guest").prefetch_related("events").get(pk=booking.pk)
        return Response(_booking_detail(booking, manager=True))


@extend_schema(exclude=True)
class NotFoundView(ApiView):
    """Any other path under /api/v1/: a JSON 404 instead of Django's HTML page."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        raise exceptions.NotFound("There is no such API endpoint.")
