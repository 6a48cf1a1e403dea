"""Reading an uploaded DICOM file: parsed and checked before anything is decoded or written.

Refused, each with a message for the user: a file over the size limit; a preamble carrying
hidden content; bytes that have the DICM mark but are no readable DICOM; a truncated file (the
last element must end where the file ends, encapsulated pixel data with its delimiter); no
pixel data; a transfer syntax the program cannot decode (named); a frame or a volume over the
pixel limits or over the memory that decoding one frame may take.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydicom
import pydicom.filereader
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.encaps import generate_fragments, parse_basic_offsets
from pydicom.pixels.decoders.base import Decoder, get_decoder
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian

from backend import imaging
from backend.dicom import PREAMBLE_BYTES, looks_like_dicom
from backend.dicom.facts import MAX_UID_CHARS, DicomFacts, MissingInstanceUid, read_facts
from backend.i18n import gettext, lazy_gettext, ngettext

MSG_NOT_DICOM = lazy_gettext(
    "The file is marked as DICOM (it has the DICM signature) but is not a readable DICOM "
    "file. Export the x-ray again from the x-ray program."
)
MSG_TRUNCATED = lazy_gettext(
    "The DICOM file is incomplete: it ends in the middle of its data (cut short while being "
    "copied or sent?). Copy or export it again from the x-ray program."
)
MSG_NO_PIXELS = lazy_gettext(
    "The DICOM file holds no image (no pixel data): it may be a report, a structured document "
    "or a presentation state. Only DICOM files with an image can be stored."
)
DEFAULT_LIMITS = imaging.ImageLimits()
_SEQUENCE_DELIMITER = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
_PIXEL_DATA_TAG = 0x7FE00010
_TRAILING_PADDING_TAG = 0xFFFCFFFC
# Peak bytes per sample of decoding one frame and windowing it: the decoded samples (up to 4),
# a float32 copy, the 8-bit result and the PIL image made from it.
_WORKING_BYTES_PER_SAMPLE = 10


@dataclass(frozen=True)
class DicomFile:
    """A parsed, checked DICOM file: its data set, what it says, and its pixel decoder."""

    dataset: Dataset
    facts: DicomFacts
    decoder: Decoder
    frame_working_bytes: int
    # Display facts worked out once for the whole file (see rendering), by name.
    display_range: dict[str, tuple[float, float] | None] = field(
        default_factory=dict, compare=False, repr=False
    )

    @property
    def is_native(self) -> bool:
        """Uncompressed pixel data, read in place rather than decoded."""
        return not UID(self.facts.transfer_syntax_uid).is_compressed


def read_dicom(data: bytes, limits: imaging.ImageLimits = DEFAULT_LIMITS) -> DicomFile:
    """Parse and check the DICOM Part 10 file `data` (see the module's list of refusals);
    raises imaging.InvalidImage with the user's message. Decodes no pixel."""
    if len(data) > limits.max_dicom_bytes:
        raise imaging.InvalidImage(
            gettext(
                "The DICOM file is {size}; the limit is {limit}.",
                size=imaging.mb(len(data)),
                limit=imaging.mb(limits.max_dicom_bytes),
            )
        )
    if not looks_like_dicom(data):
        raise imaging.InvalidImage(MSG_NOT_DICOM)
    if imaging.carries_hidden_payload(data[:PREAMBLE_BYTES]):
        raise imaging.InvalidImage(imaging.MSG_HIDDEN)
    ds = _parse(data)
    syntax = _transfer_syntax(ds)
    _check_complete(ds, data, syntax)
    if "PixelData" not in ds:
        if "FloatPixelData" in ds or "DoubleFloatPixelData" in ds:
            raise imaging.InvalidImage(
                gettext(
                    "The DICOM file holds floating-point pixel data (a parametric map), which "
                    "the program cannot show. Only x-ray and photo images can be stored."
                )
            )
        raise imaging.InvalidImage(MSG_NO_PIXELS)
    rows, columns, samples, frames = _geometry(ds)
    _check_size(rows, columns, frames, samples, limits)
    decoder = _decoder(syntax)
    _check_pixel_data_length(ds, syntax, frames, rows, columns)
    try:
        facts = read_facts(ds, frames)
    except MissingInstanceUid as exc:
        raise imaging.InvalidImage(_unidentified_message(exc)) from exc
    return DicomFile(ds, facts, decoder, rows * columns * samples * _WORKING_BYTES_PER_SAMPLE)


class _LastOpened:
    """The stored DICOM file read last, kept parsed: the viewer asks for one frame after the
    other of the same file (a CBCT of a few hundred MB), which must not be read and parsed
    again for each. Keyed by path, size, modification time and the row's checksum."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[object, ...] | None = None
        self._file: DicomFile | None = None

    def read(self, path: Path, checksum: str, limits: imaging.ImageLimits) -> DicomFile:
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns, checksum)
        with self._lock:
            if key == self._key and self._file is not None:
                return self._file
        dicom_file = read_dicom(path.read_bytes(), limits)
        with self._lock:
            self._key, self._file = key, dicom_file
        return dicom_file


_LAST_OPENED = _LastOpened()


def read_stored_dicom(
    path: Path, checksum: str, limits: imaging.ImageLimits = DEFAULT_LIMITS
) -> DicomFile:
    """`read_dicom` of the stored file at `path` (whose row says `checksum`), served from the
    last one read when it is the same file unchanged."""
    return _LAST_OPENED.read(path, checksum, limits)


_FILE_META_GROUP = b"\x02\x00"  # (0002,xxxx), little endian: a Part 10 header follows DICM


def _parse(data: bytes) -> Dataset:
    """The data set, its elements strictly in ascending tag order as the standard requires: a
    file of repeated or shuffled elements (millions of empty ones in a large file of zeros) is
    refused at the first one out of order instead of being parsed to its end."""
    start = PREAMBLE_BYTES + 4
    if data[start : start + 2] != _FILE_META_GROUP:
        raise imaging.InvalidImage(MSG_NOT_DICOM)
    last = [-1]

    def out_of_order(tag: Any, _vr: Any, _length: Any) -> bool:
        if int(tag) <= last[0]:
            raise ValueError(f"element {tag} out of order")
        last[0] = int(tag)
        return False

    try:
        return pydicom.filereader.read_partial(io.BytesIO(data), stop_when=out_of_order)
    except RecursionError as exc:  # sequences nested without end
        raise imaging.InvalidImage(MSG_NOT_DICOM) from exc
    except Exception as exc:  # pydicom's refusals are of many kinds; each means "not readable"
        raise imaging.InvalidImage(MSG_NOT_DICOM) from exc


def _unidentified_message(exc: MissingInstanceUid) -> str:
    if exc.length is None:
        return gettext(
            "The DICOM file cannot be told apart from others: it has no SOP Instance UID. "
            "Export it again from the x-ray program."
        )
    return gettext(
        "The DICOM file cannot be told apart from others: its SOP Instance UID has {length} "
        "characters (at most {limit}). Export it again from the x-ray program.",
        length=exc.length,
        limit=MAX_UID_CHARS,
    )


def _transfer_syntax(ds: Dataset) -> UID:
    meta = getattr(ds, "file_meta", None) or Dataset()
    if not meta.keys():
        raise imaging.InvalidImage(MSG_NOT_DICOM)  # a Part 10 file always has its header
    syntax = meta.get("TransferSyntaxUID")
    if not syntax:
        if not ds.keys():
            raise imaging.InvalidImage(MSG_TRUNCATED)  # cut right after its header
        raise imaging.InvalidImage(
            gettext(
                "The DICOM file does not say how its data is encoded (no transfer syntax in "
                "its header), so it cannot be read. Export it again from the x-ray program."
            )
        )
    uid = UID(str(syntax))
    if not uid.is_valid:
        raise imaging.InvalidImage(MSG_NOT_DICOM)
    return uid


def _check_complete(ds: Dataset, data: bytes, syntax: UID) -> None:
    """The last element read must end exactly where the file ends: pydicom stops quietly at a
    cut, leaving the elements it could not finish out of the data set."""
    if syntax == DeflatedExplicitVRLittleEndian:
        return  # inflating the data set already failed on a cut stream
    tags = sorted(ds.keys())
    if not tags:
        raise imaging.InvalidImage(MSG_TRUNCATED)
    last = ds.get_item(tags[-1])
    if not isinstance(last, RawDataElement) or last.value_tell is None:
        return  # already converted (a sequence): its own parse read to its end
    value = last.value or b""
    end = last.value_tell + len(value)
    if last.length == 0xFFFFFFFF:  # undefined length: the sequence delimiter follows
        if data[end : end + len(_SEQUENCE_DELIMITER)] != _SEQUENCE_DELIMITER:
            raise imaging.InvalidImage(MSG_TRUNCATED)
        end += len(_SEQUENCE_DELIMITER)
    elif len(value) != last.length:
        raise imaging.InvalidImage(MSG_TRUNCATED)
    if end != len(data):
        raise imaging.InvalidImage(MSG_TRUNCATED)


def _geometry(ds: Dataset) -> tuple[int, int, int, int]:
    try:
        rows, columns = int(ds.Rows), int(ds.Columns)
        samples = int(ds.get("SamplesPerPixel", 1) or 1)
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        int(ds.BitsAllocated)
        str(ds.PhotometricInterpretation)
    except (AttributeError, TypeError, ValueError) as exc:
        raise imaging.InvalidImage(
            gettext(
                "The DICOM file's image description (rows, columns, bits, photometric "
                "interpretation) is missing or unreadable. Export it again from the x-ray "
                "program."
            )
        ) from exc
    if rows < 1 or columns < 1 or frames < 1 or samples not in (1, 3):
        raise imaging.InvalidImage(
            gettext(
                "The DICOM file describes an image of {columns} × {rows} pixels, {frames} "
                "frames and {samples} samples per pixel, which is not a real image.",
                columns=columns,
                rows=rows,
                frames=frames,
                samples=samples,
            )
        )
    return rows, columns, samples, frames


def _check_size(
    rows: int, columns: int, frames: int, samples: int, limits: imaging.ImageLimits
) -> None:
    imaging.check_dimensions(columns, rows, limits)
    if rows * columns * frames > limits.max_volume_pixels:
        raise imaging.InvalidImage(
            gettext(
                "The DICOM volume is {columns} × {rows} pixels × {frames} frames ({millions} "
                "million pixels); the limit is {limit} million pixels. Export a smaller field "
                "of view or fewer slices.",
                columns=columns,
                rows=rows,
                frames=frames,
                millions=f"{rows * columns * frames / 1e6:.1f}",
                limit=f"{limits.max_volume_pixels / 1e6:g}",
            )
        )
    needed = rows * columns * samples * _WORKING_BYTES_PER_SAMPLE
    if needed > limits.max_decoded_bytes:
        raise imaging.InvalidImage(
            ngettext(
                "The DICOM image is {columns} × {rows} pixels with {n} sample per pixel; "
                "reading one frame needs {needed} of memory, the limit is {limit}.",
                "The DICOM image is {columns} × {rows} pixels with {n} samples per pixel; "
                "reading one frame needs {needed} of memory, the limit is {limit}.",
                samples,
                columns=columns,
                rows=rows,
                needed=imaging.mb(needed),
                limit=imaging.mb(limits.max_decoded_bytes),
            )
        )


def _decoder(syntax: UID) -> Decoder:
    name = f"{syntax.name} ({syntax})" if syntax.name != str(syntax) else str(syntax)
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError as exc:
        raise imaging.InvalidImage(
            gettext(
                "The DICOM file is encoded as {name}, which the program cannot read. Export it "
                "from the x-ray program as uncompressed, JPEG, JPEG-LS, JPEG 2000 or RLE DICOM.",
                name=name,
            )
        ) from exc
    if not decoder.is_available:
        missing = "; ".join(decoder.missing_dependencies) or "its decoder"
        raise imaging.InvalidImage(
            gettext(
                "The DICOM file is encoded as {name}, whose decoder is not installed with this "
                "program ({missing}). Export it from the x-ray program as uncompressed DICOM.",
                name=name,
                missing=missing,
            )
        )
    return decoder


def _check_pixel_data_length(
    ds: Dataset, syntax: UID, frames: int, rows: int, columns: int
) -> None:
    """Every frame present: native data as long as the image description needs, encapsulated
    data with at least one fragment per frame, each compressed frame of the size the header
    gives (a decoder allocates what its own codestream says: a 60000 × 60000 JPEG inside a
    file claiming 10 × 10 pixels would pass every other check)."""
    pixel_data = ds.PixelData
    if not syntax.is_compressed:
        from pydicom.pixels.utils import get_expected_length

        expected = get_expected_length(ds, unit="bytes")
        if len(pixel_data) < expected:
            raise imaging.InvalidImage(
                ngettext(
                    "The DICOM file is incomplete: its pixel data holds {held} of the {expected} "
                    "bytes its {n} frame needs. Copy or export it again.",
                    "The DICOM file is incomplete: its pixel data holds {held} of the {expected} "
                    "bytes its {n} frames need. Copy or export it again.",
                    frames,
                    held=len(pixel_data),
                    expected=expected,
                )
            )
        return
    fragments = 0
    try:
        items = io.BytesIO(pixel_data)
        parse_basic_offsets(items)  # leaves `items` at the first fragment
        for fragment in generate_fragments(items):
            fragments += 1
            size = codestream_size(fragment)
            if size is not None and size != (columns, rows):
                raise imaging.InvalidImage(
                    gettext(
                        "The DICOM file's compressed image is {width} × {height} pixels but "
                        "its header says {columns} × {rows}: the file is damaged and was "
                        "refused. Export it again from the x-ray program.",
                        width=size[0],
                        height=size[1],
                        columns=columns,
                        rows=rows,
                    )
                )
    except imaging.InvalidImage:
        raise
    except Exception as exc:  # a fragment whose length runs past the end
        raise imaging.InvalidImage(MSG_TRUNCATED) from exc
    if fragments < frames:
        raise imaging.InvalidImage(
            ngettext(
                "The DICOM file is incomplete: it holds {fragments} compressed fragments for "
                "{n} frame. Copy or export it again.",
                "The DICOM file is incomplete: it holds {fragments} compressed fragments for "
                "{n} frames. Copy or export it again.",
                frames,
                fragments=fragments,
            )
        )


_JPEG_FRAME_MARKERS = frozenset({*range(0xC0, 0xC4), *range(0xC5, 0xC8), *range(0xC9, 0xCC)})
_JPEG_FRAME_MARKERS |= frozenset({*range(0xCD, 0xD0), 0xF7})  # 0xF7: JPEG-LS
_J2K_START = b"\xff\x4f\xff\x51"  # SOC then SIZ


def codestream_size(fragment: bytes) -> tuple[int, int] | None:
    """(width, height) that a JPEG, JPEG-LS or JPEG 2000 codestream starting `fragment` declares;
    None for anything else (RLE, the continuation of a frame) or a height left to later (DNL)."""
    if fragment.startswith(b"\xff\xd8"):
        pos = 2
        while pos + 9 <= len(fragment) and fragment[pos] == 0xFF:
            marker = fragment[pos + 1]
            if marker in _JPEG_FRAME_MARKERS:
                height = int.from_bytes(fragment[pos + 5 : pos + 7], "big")
                width = int.from_bytes(fragment[pos + 7 : pos + 9], "big")
                return (width, height) if height else None
            if marker == 0xFF:  # fill byte
                pos += 1
                continue
            pos += 2 + int.from_bytes(fragment[pos + 2 : pos + 4], "big")
        return None
    start = fragment.find(_J2K_START, 0, 512)  # a raw codestream, or one inside a JP2 box
    if start < 0 or start + 24 > len(fragment):
        return None
    x_size, y_size, x_offset, y_offset = (
        int.from_bytes(fragment[at : at + 4], "big") for at in range(start + 8, start + 24, 4)
    )
    return x_size - x_offset, y_size - y_offset
