"""``python manage.py channel_emulator <name> [--port N]``: serve one platform emulator on 127.0.0.1 until stopped
(``make run`` starts them for the demo). See ``channels.emulators``."""

from __future__ import annotations

import signal
import threading
from importlib import import_module

from django.core.management.base import BaseCommand, CommandError

from channels.emulators import EMULATORS, emulator_class
from channels.emulators.base import serve


class Command(BaseCommand):
    help = "Serve a channel platform emulator on 127.0.0.1."

    def add_arguments(self, parser):
        parser.add_argument("name", help=f"one of: {', '.join(sorted(EMULATORS)) or '(none yet)'}")
        parser.add_argument("--port", type=int, default=0, help="0: any free port (printed)")
        parser.add_argument("--demo", action="store_true",
                            help="start with the demo account (the one `seed_demo` connects to), where the emulator "
                                 "has one")

    def handle(self, *args, name: str, port: int, **options):
        if name not in EMULATORS:
            raise CommandError(f"Unknown emulator {name!r}; known: {', '.join(sorted(EMULATORS))}.")
        emulator = emulator_class(name)()
        if options.get("demo"):
            seed = getattr(import_module(emulator_class(name).__module__), "seed_demo", None)
            if seed is not None:
                seed(emulator)
        server = serve(emulator, port=port)
        self.stdout.write(f"{name} emulator on {emulator.base_url} (control routes under /_emulator/)")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            server.shutdown()
