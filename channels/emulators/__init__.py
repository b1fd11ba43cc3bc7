"""Local emulators of the channel platforms' APIs (``base`` holds what they share). See ``base`` for the control
routes every emulator has; each platform's module documents the platform API it follows and its own controls."""

from __future__ import annotations

from importlib import import_module

# name → "module:class"; the management command ``channel_emulator`` and the tests look emulators up here.
EMULATORS: dict[str, str] = {}
EMULATORS["google_vr"] = "channels.emulators.google_vr:GoogleVrEmulator"


def emulator_class(name: str):
    module, _, cls = EMULATORS[name].partition(":")
    return getattr(import_module(module), cls)
