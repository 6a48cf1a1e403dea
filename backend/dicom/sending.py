"""Sending DICOM to another node (a PACS, a referral's viewer): a Storage SCU (pynetdicom's
C-STORE) and a connection test (C-ECHO).

Each failure says what went wrong in the user's words: the node cannot be reached (no such
host, nothing listening, no answer), it rejected the association (its reason named: mostly an
AE title it does not know), it took none of the kinds of image offered, or it refused a file
(its DICOM status named). A file counts as sent only when the node answered success or a
warning for it.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, evt
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]
from pynetdicom.status import STATUS_FAILURE, STATUS_WARNING, code_to_category

from backend.errors import AppError
from backend.i18n import N_, gettext

log = logging.getLogger(__name__)

MAX_CONTEXTS = 128  # presentation contexts one association may propose (PS3.8)
TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 10.0
_UNCOMPRESSED = (ExplicitVRLittleEndian, ImplicitVRLittleEndian)
# The standard's names of the statuses a store may answer (PS3.4), in the person's language
# beside their number, which is what the PACS's own log shows.
_STORAGE_STATUS_NAMES = {
    0x0117: N_("Invalid SOP instance"),
    0x0122: N_("SOP class not supported"),
    0x0124: N_("Not authorised"),
    0x0210: N_("Duplicate invocation"),
    0x0211: N_("Unrecognised operation"),
    0x0212: N_("Mistyped argument"),
    0xB000: N_("Coercion of data elements"),
    0xB006: N_("Elements discarded"),
    0xB007: N_("Data set does not match SOP class"),
}
_CATEGORY_NAMES = {
    "Success": N_("Success"),
    "Warning": N_("Warning"),
    "Failure": N_("Failure"),
    "Cancel": N_("Cancel"),
    "Pending": N_("Pending"),
    "Unknown": N_("Unknown"),
}


@dataclass(frozen=True)
class Node:
    """Whom to send to (`ae_title` at `host`:`port`), and as whom (`calling_ae_title`)."""

    ae_title: str
    host: str
    port: int
    calling_ae_title: str
    timeout_s: float = TIMEOUT_S

    @property
    def named(self) -> str:
        return f"{self.ae_title} ({self.host}:{self.port})"


@dataclass(frozen=True)
class Pending:
    """One data set to send, made only when its turn comes (`make`, which raises NotMade when
    it cannot be), with the caller's key for it (an image id). Its SOP class and transfer syntax
    are known before, for the association's proposal."""

    key: str
    sop_class: str
    transfer_syntax: str
    make: Callable[[], Dataset]


class NotMade(Exception):
    """The data set of a Pending could not be made; the message is for the user."""


@dataclass(frozen=True)
class Sent:
    """What became of one data set: `error` None when the node stored it."""

    key: str
    status: int | None
    error: str | None = None
    warning: str | None = None

    @property
    def stored(self) -> bool:
        return self.error is None


class SendFailed(AppError):
    """Nothing was sent: the node could not be reached or refused the association."""

    status = 502
    code = "dicom_send_failed"


class NodeUnreachable(SendFailed):
    code = "dicom_node_unreachable"


class AssociationRejected(SendFailed):
    code = "dicom_association_rejected"


def status_text(code: int) -> str:
    """A DICOM status as people can look it up: its number and its name."""
    if 0xA700 <= code <= 0xA7FF:
        name = N_("Refused: Out of resources")
    elif 0xA900 <= code <= 0xA9FF:
        name = N_("Data set does not match SOP class")
    elif 0xC000 <= code <= 0xCFFF:
        name = N_("Cannot understand")
    else:
        category = code_to_category(code)
        name = _STORAGE_STATUS_NAMES.get(code, _CATEGORY_NAMES.get(category, category))
    return f"0x{code:04X} ({gettext(name)})"


def check_reachable(node: Node) -> None:
    """Open and close a TCP connection to the node; NodeUnreachable saying why it failed."""
    try:
        with socket.create_connection((node.host, node.port), timeout=CONNECT_TIMEOUT_S):
            pass
    except socket.gaierror as exc:
        raise NodeUnreachable(
            gettext(
                "The DICOM node cannot be reached: this PC does not know the address {host}. "
                "Check the host name or IP address in Settings.",
                host=node.host,
            ),
            field="host",
        ) from exc
    except ConnectionRefusedError as exc:
        raise NodeUnreachable(
            gettext(
                "The DICOM node cannot be reached: nothing listens on port {port} at {host}. "
                "Check that the PACS is running and the port in Settings.",
                host=node.host,
                port=node.port,
            ),
            field="port",
        ) from exc
    except TimeoutError as exc:
        raise NodeUnreachable(
            gettext(
                "The DICOM node cannot be reached: {host} did not answer within {seconds} "
                "seconds (switched off, or a firewall in the way?).",
                host=node.host,
                seconds=int(CONNECT_TIMEOUT_S),
            ),
            field="host",
        ) from exc
    except OSError as exc:
        raise NodeUnreachable(
            gettext(
                "The DICOM node cannot be reached at {host}, port {port}: {reason}.",
                host=node.host,
                port=node.port,
                reason=exc.strerror or str(exc),
            ),
            field="host",
        ) from exc


def _contexts(items: list[Pending]) -> dict[tuple[str, str], set[str]]:
    """The presentation contexts to propose: per SOP class, one for each compressed transfer
    syntax of the files, and one with both uncompressed syntaxes for the uncompressed files
    (pynetdicom converts between them). A peer accepts one syntax per context, so a compressed
    file never shares a context with an uncompressed one the peer would accept instead."""
    wanted: dict[tuple[str, str], set[str]] = {}
    for item in items:
        if not item.sop_class:
            continue
        syntax = UID(item.transfer_syntax)
        if syntax.is_compressed:
            wanted.setdefault((item.sop_class, str(syntax)), set()).add(str(syntax))
        else:
            wanted.setdefault((item.sop_class, "uncompressed"), set()).update(
                str(uid) for uid in _UNCOMPRESSED
            )
    return wanted


def _associate(node: Node, contexts: dict[tuple[str, str], set[str]]) -> Any:
    """An established association with the node (check_reachable first), or SendFailed."""
    check_reachable(node)
    assoc, answers = _request(node, contexts)
    if assoc.is_aborted and not answers:
        # A peer that rejects and closes at once sometimes has the connection seen closed
        # before its answer is read: asked again, it says why.
        assoc, answers = _request(node, contexts)
    if assoc.is_established:
        return assoc
    if assoc.is_rejected or (assoc.is_aborted and not answers):
        reason = "; ".join(
            f"{a.result_str}, {a.source_str}: {a.reason_str}" for a in answers if a.result
        )
        log.warning("DICOM node %s rejected the association: %s", node.named, reason)
        raise AssociationRejected(
            gettext(
                "The DICOM node {node} rejected the connection ({reason}). Check that it knows "
                "this PC's AE title {calling} and that its own AE title is {called}.",
                node=node.named,
                reason=reason or gettext("it broke the connection off without a reason"),
                calling=node.calling_ae_title,
                called=node.ae_title,
            ),
            field="ae_title",
        )
    if assoc.is_aborted:
        raise SendFailed(
            gettext(
                "The DICOM node {node} accepted the connection but none of the kinds of "
                "image offered to it, so nothing was sent.",
                node=node.named,
            )
        )
    raise SendFailed(
        gettext(
            "The DICOM node {node} did not answer the connection request within {seconds} "
            "seconds (is it a DICOM node at that port?). Nothing was sent.",
            node=node.named,
            seconds=int(node.timeout_s),
        ),
        field="port",
    )


def _request(node: Node, contexts: dict[tuple[str, str], set[str]]) -> tuple[Any, list[Any]]:
    """An association asked for, whatever its outcome, and the answers the peer gave."""
    ae = AE(ae_title=node.calling_ae_title)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = node.timeout_s
    for (sop_class, _kind), syntaxes in contexts.items():
        ae.add_requested_context(sop_class, sorted(syntaxes))
    answers: list[Any] = []

    def keep_answer(event: Any) -> None:
        if hasattr(event.primitive, "result_str"):  # the A-ASSOCIATE answer
            answers.append(event.primitive)

    assoc = ae.associate(
        node.host,
        node.port,
        ae_title=node.ae_title,
        evt_handlers=[(evt.EVT_ACSE_RECV, keep_answer)],
    )
    return assoc, answers


def echo(node: Node) -> None:
    """A connection test (C-ECHO); SendFailed saying why it failed."""
    assoc = _associate(node, {(str(Verification), "echo"): {str(ExplicitVRLittleEndian)}})
    try:
        answer = assoc.send_c_echo()
    finally:
        assoc.release()
    code = int(answer.get("Status", -1)) if answer else -1
    if code != 0:
        raise SendFailed(
            gettext(
                "The DICOM node {node} did not confirm the connection test (status {status}).",
                node=node.named,
                status=status_text(code) if code >= 0 else gettext("no answer"),
            )
        )


def send(
    node: Node, items: list[Pending], on_each: Callable[[Sent], None] = lambda _sent: None
) -> list[Sent]:
    """C-STORE every data set of `items` on one association; `on_each` hears of each as it
    ends. Raises SendFailed when no association could be made (nothing was sent); a refusal or
    a lost connection after that is said per data set."""
    contexts = _contexts(items)
    if len(contexts) > MAX_CONTEXTS:
        raise ValueError(f"{len(contexts)} presentation contexts in one association")
    if not contexts:
        raise SendFailed(gettext("None of the images can be sent as DICOM."))
    assoc = _associate(node, contexts)
    results: list[Sent] = []
    try:
        accepted = {str(cx.abstract_syntax) for cx in assoc.accepted_contexts}
        for number, item in enumerate(items, start=1):
            result = _send_one(assoc, node, item, number, accepted)
            results.append(result)
            on_each(result)
            if not assoc.is_established:
                break
    finally:
        if assoc.is_established:
            assoc.release()
    lost = gettext(
        "Not sent: the connection to the DICOM node {node} was lost before this image.",
        node=node.named,
    )
    for item in items[len(results) :]:
        result = Sent(item.key, None, lost)
        results.append(result)
        on_each(result)
    return results


def could_not_export(exc: BaseException) -> str:
    """What an image's export failed with, for an error no check foresaw."""
    return gettext(
        "It could not be exported ({reason}).", reason=str(exc)[:200] or type(exc).__name__
    )


def _send_one(assoc: Any, node: Node, item: Pending, number: int, accepted: set[str]) -> Sent:
    sop_class = UID(item.sop_class)
    if not item.sop_class or item.sop_class not in accepted:
        return Sent(
            item.key,
            None,
            gettext(
                "The DICOM node {node} does not take images of this kind ({kind}).",
                node=node.named,
                kind=sop_class.name if item.sop_class else gettext("no SOP class"),
            ),
        )
    try:
        dataset = item.make()
    except NotMade as exc:
        return Sent(item.key, None, str(exc))
    except Exception as exc:  # one image that cannot be made never costs the others theirs
        log.exception("DICOM export: the data set of %s could not be made", item.key)
        return Sent(item.key, None, could_not_export(exc))
    try:
        answer = assoc.send_c_store(dataset, msg_id=number % 65536)
    except ValueError as exc:  # no accepted context fits the file's transfer syntax
        log.warning("DICOM node %s: %s", node.named, exc)
        return Sent(
            item.key,
            None,
            gettext(
                "The DICOM node {node} does not take this image's encoding ({syntax}).",
                node=node.named,
                syntax=UID(item.transfer_syntax).name,
            ),
        )
    if not answer or "Status" not in answer:
        return Sent(
            item.key,
            None,
            gettext(
                "The DICOM node {node} did not answer for this image (the connection broke "
                "off or timed out); it may not have been stored.",
                node=node.named,
            ),
        )
    code = int(answer.Status)
    category = code_to_category(code)
    if category == STATUS_FAILURE or (category not in (STATUS_WARNING,) and code != 0):
        return Sent(
            item.key,
            code,
            gettext(
                "The DICOM node {node} refused this image: status {status}.",
                node=node.named,
                status=status_text(code),
            ),
        )
    warning = status_text(code) if category == STATUS_WARNING else None
    return Sent(item.key, code, None, warning)
