"""A tiny SMTP server for tests: it speaks just enough SMTP for ``smtplib`` and keeps what it receives.

``SmtpSink().start()`` listens on 127.0.0.1 (a port the system picks). Every complete message it
receives (after the final ``.``) is parsed and appended to ``received``, then ``on_data(raw)`` runs
*before* the server answers, and its return value picks the answer:

- ``None`` (the default): ``250``, the message is accepted (``accepted`` gets it too);
- a reply line such as ``"451 4.3.0 try later"``: the message is refused with that code;
- :data:`DROP`: the connection is closed without an answer (the client cannot know the outcome).

``on_data`` may also kill the client (a worker) there: the server has the message, the client never
hears the answer. ``silent=True`` accepts connections and never says anything (a hung server).
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import socketserver
import threading
from email.message import EmailMessage

DROP = object()


class SmtpSink:
    def __init__(self, on_data=None, *, silent: bool = False):
        self.on_data = on_data
        self.silent = silent
        self.received: list[EmailMessage] = []  # every message transmitted in full, whatever the answer
        self.accepted: list[EmailMessage] = []  # those answered 250
        self._lock = threading.Lock()
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                with contextlib.suppress(OSError):  # the client went away (or was killed)
                    sink._session(self.rfile, self.wfile)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self._server.daemon_threads = True
        self._server.allow_reuse_address = True
        self._server.server_bind()
        self._server.server_activate()
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="smtp-sink", daemon=True)

    def start(self) -> SmtpSink:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _session(self, rfile, wfile) -> None:
        if self.silent:
            rfile.read()  # until the client gives up and closes
            return

        def reply(line: str) -> None:
            wfile.write(line.encode() + b"\r\n")
            wfile.flush()

        reply("220 sink ESMTP")
        while True:
            line = rfile.readline()
            if not line:
                return
            verb = line.decode("ascii", "replace").strip().split(" ", 1)[0].upper()
            if verb == "EHLO":
                reply("250-sink")
                reply("250 8BITMIME")
            elif verb in ("HELO", "MAIL", "RCPT", "RSET", "NOOP"):
                reply("250 OK")
            elif verb == "QUIT":
                reply("221 bye")
                return
            elif verb == "DATA":
                reply("354 end with <CRLF>.<CRLF>")
                raw = self._read_data(rfile)
                if raw is None:
                    return
                message = email.message_from_bytes(raw, policy=email.policy.default)
                with self._lock:
                    self.received.append(message)
                answer = self.on_data(raw) if self.on_data else None
                if answer is DROP:
                    return
                if answer is None:
                    with self._lock:
                        self.accepted.append(message)
                    answer = "250 2.0.0 queued"
                reply(answer)
            else:
                reply("502 command not implemented")

    @staticmethod
    def _read_data(rfile) -> bytes | None:
        lines = []
        while True:
            line = rfile.readline()
            if not line:
                return None
            if line in (b".\r\n", b".\n"):
                return b"".join(lines)
            lines.append(line[1:] if line.startswith(b"..") else line)
