"""Platform adapters of API connections (``base.Adapter``), looked up by the connection's ``transport``.
A new platform is one adapter module and one line here (and an emulator in ``channels.emulators``)."""

from __future__ import annotations

from .base import Adapter, AdapterError
from .booking_com import BookingComAdapter
from .channex import ChannexAdapter
from .google_vr import GoogleVrAdapter

__all__ = ["ADAPTERS", "Adapter", "AdapterError", "adapter_for"]

ADAPTERS: dict[str, Adapter] = {adapter.name: adapter for adapter in (ChannexAdapter(), BookingComAdapter(),
                                                                      GoogleVrAdapter())}


def adapter_for(connection) -> Adapter:
    try:
        return ADAPTERS[connection.transport]
    except KeyError:
        raise AdapterError("no_adapter", f"No adapter for {connection.transport!r} connections.") from None
