"""The DICOM receiver's network side: a Storage SCP (pynetdicom) that x-ray units send to with
C-STORE, and that answers Verification (C-ECHO).

Only peers that were configured get in: a calling AE title not on the list is rejected at
association (A-ASSOCIATE-RJ, "calling AE title not recognised"), and a connection from an
address not on the list is closed before any association. What a peer sends is handed on as
the Part 10 file it makes (preamble, file meta, data set), encoded as sent, never decoded here;
`on_store` decides what becomes of it and gives the DICOM status to answer.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from pydicom.uid import (
    JPEG2000TransferSyntaxes,
    JPEGLSTransferSyntaxes,
    JPEGTransferSyntaxes,
    RLETransferSyntaxes,
    UncompressedTransferSyntaxes,
)
from pynetdicom import AE, evt
from pynetdicom.presentation import StoragePresentationContexts
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]
from pynetdicom.transport import ThreadedAssociationServer

from backend.dicom import normal_address

log = logging.getLogger(__name__)

SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700
CANNOT_UNDERSTAND = 0xC000
# Everything pydicom (with the pylibjpeg plugins) can read; backend.dicom.reading refuses
# what it cannot decode, with the syntax named in the log.
TRANSFER_SYNTAXES = [
    *UncompressedTransferSyntaxes,
    *JPEGTransferSyntaxes,
    *JPEGLSTransferSyntaxes,
    *JPEG2000TransferSyntaxes,
    *RLETransferSyntaxes,
]


@dataclass(frozen=True)
class ServerConfig:
    """Where and as whom the receiver listens, and whom it accepts (an empty list: no check
    of that kind; the caller makes sure at least one is set)."""

    ae_title: str
    port: int
    allowed_ae_titles: tuple[str, ...] = ()
    allowed_addresses: tuple[str, ...] = ()
    host: str = ""  # every network interface of this PC


# (the whole Part 10 file, the calling AE title, the peer's address) -> DICOM status
StoreHandler = Callable[[bytes, str, str], int]


class _CheckedServer(ThreadedAssociationServer):
    """Closes connections from addresses that are not allowed, before any association."""

    allowed_addresses: frozenset[str] = frozenset()

    def server_bind(self) -> None:
        """As pynetdicom binds, except on Windows: there SO_REUSEADDR (which pynetdicom sets)
        lets a second program bind a port that is in use, so the port is taken exclusively
        instead, and a port in use is refused as it is elsewhere."""
        if sys.platform != "win32":
            super().server_bind()
            return
        sock = cast(socket.socket, self.socket)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
        if self.ae.network_timeout is not None:
            sock.settimeout(self.ae.network_timeout)
        sock.bind(self.server_address)
        self.server_address = sock.getsockname()

    def verify_request(self, request: Any, client_address: Any) -> bool:
        host = client_address[0] if isinstance(client_address, tuple) else str(client_address)
        if not self.allowed_addresses:
            return True
        try:
            allowed = normal_address(str(host)) in self.allowed_addresses
        except ValueError:
            allowed = False
        if not allowed:
            log.warning("DICOM receiver: connection from %s refused (not an allowed address)", host)
        return allowed


class StorageServer:
    """One listening receiver. `start` binds the port (OSError when it is taken or not
    allowed) and serves on a thread of its own; `stop` ends the open associations and frees
    the port."""

    def __init__(self, config: ServerConfig, on_store: StoreHandler) -> None:
        self.config = config
        self._on_store = on_store
        self._server: _CheckedServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port listened on (the configured one, or the one the OS chose for port 0)."""
        if self._server is None:
            return self.config.port
        return int(self._server.server_address[1])

    def start(self) -> None:
        ae = AE(ae_title=self.config.ae_title)
        ae.require_called_aet = True
        ae.require_calling_aet = list(self.config.allowed_ae_titles)
        ae.maximum_pdu_size = 0  # as large as the peer sends: fewer PDUs, faster
        for context in StoragePresentationContexts:
            if context.abstract_syntax is not None:
                ae.add_supported_context(context.abstract_syntax, TRANSFER_SYNTAXES)
        ae.add_supported_context(Verification)
        handlers: list[Any] = [
            (evt.EVT_C_STORE, self._handle_store),
            (evt.EVT_REJECTED, _log_rejected),
        ]
        server = cast(
            _CheckedServer,
            ae.make_server(
                (self.config.host, self.config.port),
                evt_handlers=handlers,
                server_class=_CheckedServer,
            ),
        )
        server.allowed_addresses = frozenset(self.config.allowed_addresses)
        ae._servers.append(server)  # as ae.start_server does: the server's shutdown expects it
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="dicom-receiver", daemon=True
        )
        self._thread.start()
        log.info(
            "DICOM receiver listening on port %d as %s", self.port, self.config.ae_title.strip()
        )

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()  # pynetdicom's: stops serving, aborts open associations, closes
        if self._thread is not None:
            self._thread.join(timeout=10)
        log.info("DICOM receiver stopped")

    def _handle_store(self, event: Any) -> int:
        requestor = event.assoc.requestor
        try:
            data: bytes = event.encoded_dataset(include_meta=True)
        except Exception:  # a data set pynetdicom cannot give back: nothing to keep
            log.exception("DICOM receiver: a received data set could not be read")
            return CANNOT_UNDERSTAND
        return self._on_store(data, str(requestor.ae_title).strip(), str(requestor.address))


def _log_rejected(event: Any) -> None:
    requestor = event.assoc.requestor
    log.warning(
        "DICOM receiver: association from %s (%s) rejected",
        str(requestor.ae_title).strip(),
        requestor.address,
    )


def port_in_use(port: int) -> bool:
    """Whether something on this PC already listens on TCP `port` (for a message that names
    the cause when binding fails)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


# pynetdicom logs every PDU at INFO; the program's log keeps its warnings only.
logging.getLogger("pynetdicom").setLevel(logging.WARNING)
