"""Image bytes: validating uploads, decoding them once, thumbnails. No Flask, database or disk."""

import io
import os
import re
import threading
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

from PIL import Image, ImageOps

from backend import heif
from backend.i18n import gettext, lazy_gettext

ALLOWED_FORMATS: dict[str, str] = {
    "PNG": "png",
    "JPEG": "jpg",
    "WEBP": "webp",
    "BMP": "bmp",
    "GIF": "gif",
    "TIFF": "tif",
    heif.FORMAT: heif.EXTENSION,  # a phone's photo, kept as it is; shown through a JPEG
}
# The names people know the formats by, in the order messages and the page list them: the one
# list of what is accepted (DICOM files are accepted besides, see backend.dicom).
FORMAT_NAMES: tuple[str, ...] = ("PNG", "JPEG", "WebP", "BMP", "GIF", "TIFF", "HEIC/HEIF")
# image/<format>, for our extensions and for the other spellings "jpeg", "tiff" and "heif".
MIME_TYPES: dict[str, str] = {
    ext: f"image/{fmt.lower()}"
    for fmt, ext in [*ALLOWED_FORMATS.items(), ("JPEG", "jpeg"), ("TIFF", "tiff")]
}
MIME_TYPES.update(heif.MIME_TYPES)
MIME_TYPES["dcm"] = "application/dicom"  # a DICOM image's stored file (see backend.dicom)

_FORMAT_OF_EXTENSION = {ext: fmt for fmt, ext in ALLOWED_FORMATS.items()}
_MAGIC = re.compile(  # each group is named after the extension it identifies
    rb"(?P<png>\x89PNG\r\n\x1a\n)|(?P<jpg>\xff\xd8\xff)|(?P<gif>GIF8[79]a)|(?P<bmp>BM)"
    rb"|(?P<tif>II[*+]\x00|MM\x00[*+])|(?P<webp>RIFF....WEBP)"  # [*+]: classic and BigTIFF
    rb"|(?P<heic>" + heif.MAGIC + rb")",
    re.DOTALL,
)
# A delimiter must follow the tag name, as browsers and PHP require; without it the 4-byte "<svg"
# would match by chance in a few percent of large compressed photos.
_MARKUP = re.compile(rb"<(?:script|html|\?php|svg|!doctype)[\s>/]", re.IGNORECASE)
_PAYLOADS = (b"PK\x03\x04", b"PK\x05\x06", b"%PDF-")
# Inside metadata (text, not compressed pixels), where 3 bytes do not match by chance: any tag
# a browser or PHP would act on, PHP's short tags included; the XMP packet's "<?xpacket" is not.
_METADATA_MARKUP = re.compile(
    rb"<(?:script|html|body|iframe|object|embed|svg|!doctype|\?php|\?=|\?\s)", re.IGNORECASE
)
MAX_METADATA_TEXT = 4 * 1024 * 1024  # decompressed text of one PNG chunk, at most
_EXECUTABLE_STARTS = (b"MZ", b"\x7fELF", b"<", b"#!", b"Rar!", b"7z\xbc\xaf")
_PADDING = b"\x00 \t\r\n"
_TEXT_BYTES = b"\t\n\r" + bytes(range(0x20, 0x7F))
_JPEG_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")  # ends entropy-coded data
_HIGH_DEPTH_MODES = ("I", "F", "I;16", "I;16L", "I;16B", "I;16N")

MSG_DAMAGED = lazy_gettext("The image is damaged or incomplete and cannot be read.")
MSG_HIDDEN = lazy_gettext(
    "The file carries hidden content after or inside the image "
    "(HTML, script, archive or program) and was refused."
)
MSG_UNREADABLE = lazy_gettext("The image file cannot be read.")


@dataclass(frozen=True)
class ImageLimits:
    """Upper bounds an upload must respect before its pixels are decoded. `max_decoded_bytes`
    bounds the memory its pixels take while decoded and turned into a thumbnail (pixels × bytes
    per pixel of its mode, see `working_bytes`): a 190 KB 16-bit PNG of 100 megapixels is
    small on disk, and its pixel count alone says nothing of the 1 GB it takes."""

    max_bytes: int = 64 * 1024 * 1024
    max_pixels: int = 120_000_000
    max_side: int = 30_000
    max_decoded_bytes: int = 768 * 1024 * 1024
    # A DICOM file may hold a CBCT volume: more bytes than a photo, read one frame at a time,
    # and at most this many pixels in all its frames together (512 × 512 × 512).
    max_dicom_bytes: int = 256 * 1024 * 1024
    max_volume_pixels: int = 512 * 512 * 512


# Peak bytes per pixel of decoding an image of each mode and making its thumbnail (the decoded
# pixels, the upright copy, the conversions to 8-bit RGB), as measured with ru_maxrss on
# 30-megapixel images: 2 for 8-bit grey, 8 for RGB, 10 for 16-bit grey, 12 for RGBA.
_BYTES_PER_PIXEL = {"1": 2, "L": 2, "P": 10, "RGB": 8, "YCbCr": 8, "LAB": 8, "HSV": 8}
_BYTES_PER_PIXEL.update({"I;16": 10, "I;16L": 10, "I;16B": 10, "I;16N": 10, "I": 17, "F": 17})
_DEFAULT_BYTES_PER_PIXEL = 12  # RGBA, LA, CMYK and the rest
# All decodes of this process at once stay within this (eight 16-bit 100-megapixel PNGs took
# the server to 6.5 GB); a decode waits for others to finish, up to DECODE_WAIT_S.
DECODING_BUDGET_BYTES = 1024 * 1024 * 1024
DECODE_WAIT_S = 120.0
MSG_BUSY = lazy_gettext(
    "The program is busy reading other large images; try this one again in a minute."
)


def working_bytes(mode: str, width: int, height: int) -> int:
    """The memory an image of `mode` and size takes decoded and thumbnailed, in bytes."""
    return width * height * _BYTES_PER_PIXEL.get(mode, _DEFAULT_BYTES_PER_PIXEL)


class DecodeBudget:
    """A semaphore counted in bytes: how much decoded pixel memory may be held at once."""

    def __init__(self, total_bytes: int) -> None:
        self.total_bytes = total_bytes
        self.in_use = 0
        self._changed = threading.Condition()

    @contextmanager
    def reserve(self, nbytes: int, wait_s: float = DECODE_WAIT_S) -> Iterator[None]:
        """Hold `nbytes` (at most the total) for the block; InvalidImage(MSG_BUSY) if they do
        not become free within `wait_s` seconds."""
        nbytes = min(nbytes, self.total_bytes)
        with self._changed:
            if not self._changed.wait_for(
                lambda: self.in_use + nbytes <= self.total_bytes, timeout=wait_s
            ):
                raise InvalidImage(MSG_BUSY)
            self.in_use += nbytes
        try:
            yield
        finally:
            with self._changed:
                self.in_use -= nbytes
                self._changed.notify_all()


DECODE_BUDGET = DecodeBudget(DECODING_BUDGET_BYTES)


@dataclass(frozen=True)
class ImageInfo:
    """What the upload really is: Pillow format name, canonical extension, MIME type, size."""

    format: str
    extension: str
    mime: str
    width: int
    height: int


class InvalidImage(ValueError):
    """The bytes are not an acceptable image; the message is written for the user."""


@dataclass
class DecodedImage:
    """A validated image and its fully loaded pixels (first frame), kept for reuse."""

    info: ImageInfo
    image: Image.Image


def sniff_extension(data: bytes) -> str | None:
    """Return the extension matching the magic number at the start of `data`, without decoding."""
    match = _MAGIC.match(data)
    return match.lastgroup if match else None


def not_accepted_message() -> str:
    """The refusal of a file that is none of the accepted formats, naming them all."""
    return gettext(
        "The file is not an image the program accepts. Accepted: {formats} images, and DICOM "
        "x-rays.",
        formats=", ".join(FORMAT_NAMES),
    )


def inspect_image(
    data: bytes, limits: ImageLimits = ImageLimits(), reduce_to: int | None = None
) -> DecodedImage:
    """Check that `data` is a real, complete, harmless image within `limits`; decode it once.
    With `reduce_to`, a JPEG is decoded straight at the smallest DCT scale (1/2, 1/4, 1/8)
    that still covers a thumbnail of that many pixels on its long side: every entropy-coded
    byte is still read (a truncated file is still refused), but the pixels are a fraction. The
    info keeps the file's own size."""
    if not data:
        raise InvalidImage(gettext("The file is empty."))
    if len(data) > limits.max_bytes:
        raise InvalidImage(too_big_message(len(data), limits.max_bytes))
    extension = sniff_extension(data)
    if extension is None:
        raise InvalidImage(not_accepted_message())
    if _MARKUP.search(data):
        raise InvalidImage(MSG_HIDDEN)
    if extension == heif.EXTENSION and not heif.AVAILABLE:
        raise InvalidImage(
            gettext(
                "This installation of the program cannot read HEIC photos. Save the photo as "
                "JPEG on the phone (or in Photos) and add it again."
            )
        )
    pillow_format = _FORMAT_OF_EXTENSION[extension]
    image, size = _decode(data, pillow_format, limits, reduce_to)
    metadata, end = _layout(data, extension)
    _check_trailer(data, end)
    _check_metadata(data, extension, metadata)
    info = ImageInfo(pillow_format, extension, MIME_TYPES[extension], *size)
    return DecodedImage(info=info, image=image)


@contextmanager
def inspected(
    data: bytes, limits: ImageLimits = ImageLimits(), reduce_to: int | None = None
) -> Iterator[DecodedImage]:
    """`inspect_image`, holding the image's working bytes of DECODE_BUDGET while the block uses
    the decoded pixels (make its thumbnail inside)."""
    with DECODE_BUDGET.reserve(_header_cost(data)):
        yield inspect_image(data, limits, reduce_to)


def carries_hidden_payload(chunk: bytes) -> bool:
    """True when `chunk` (bytes no decoder looks at, such as a DICOM file's preamble) holds
    markup, an archive, a PDF or the start of a program."""
    head = chunk.lstrip(_PADDING)
    return bool(
        _MARKUP.search(chunk)
        or any(p in chunk for p in _PAYLOADS)
        or head.startswith(_EXECUTABLE_STARTS)
    )


def _header_cost(data: bytes) -> int:
    """The working bytes the header of `data` announces; 0 when it cannot be read (the
    inspection that follows says why)."""
    extension = sniff_extension(data)
    if extension is None:
        return 0
    try:
        with Image.open(io.BytesIO(data), formats=[_FORMAT_OF_EXTENSION[extension]]) as image:
            return working_bytes(image.mode, image.width, image.height)
    except Exception:  # damaged or a bomb: inspect_image refuses it with its reason
        return 0


def make_thumbnail(image: Image.Image, max_side: int = 320) -> bytes:
    """Return JPEG bytes of `image` upright (EXIF orientation), in RGB, at most `max_side` long."""
    small = ImageOps.exif_transpose(image)  # a new image: the caller's one stays as decoded
    if small.mode in _HIGH_DEPTH_MODES:
        small = _stretch_to_8bit(small)  # Pillow cannot reduce 16-bit and float images
    elif small.mode not in ("RGB", "RGBA", "L", "LA"):
        small = _to_rgb(small)  # palette and bilevel images resample badly
    small.thumbnail((max_side, max_side))
    out = io.BytesIO()
    _to_rgb(small).save(out, format="JPEG", quality=82)
    return out.getvalue()


def make_rendition(image: Image.Image, quality: int = 90) -> bytes:
    """Return JPEG bytes of `image` upright, in RGB, at full size: what the viewer shows of a
    photo the browser cannot show itself (HEIC)."""
    upright = ImageOps.exif_transpose(image)
    if upright.mode in _HIGH_DEPTH_MODES:
        upright = _stretch_to_8bit(upright)
    out = io.BytesIO()
    _to_rgb(upright).save(out, format="JPEG", quality=quality)
    return out.getvalue()


def rendition_from_file(path: str | os.PathLike[str], limits: ImageLimits = ImageLimits()) -> bytes:
    """Validate the stored photo at `path` and return its full-size JPEG rendition (see
    `make_rendition`); InvalidImage if unreadable."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise InvalidImage(MSG_UNREADABLE) from error
    with inspected(data, limits) as decoded:
        return make_rendition(decoded.image)


def thumbnail_from_file(
    path: str | os.PathLike[str],
    max_side: int = 320,
    limits: ImageLimits = ImageLimits(),
) -> bytes:
    """Validate the stored photo at `path` and return its thumbnail; InvalidImage if unreadable.
    (A stored DICOM file's is `backend.dicom.thumbnail_from_file`.)"""
    try:
        size = Path(path).stat().st_size
        if size > limits.max_bytes:
            raise InvalidImage(too_big_message(size, limits.max_bytes))
        data = Path(path).read_bytes()
    except OSError as error:
        raise InvalidImage(MSG_UNREADABLE) from error
    with inspected(data, limits, reduce_to=max_side) as decoded:
        return make_thumbnail(decoded.image, max_side)


def mb(size: int) -> str:
    """A byte count as the messages write it: "12.3 MB"."""
    return f"{size / (1024 * 1024):.1f} MB"


_mb = mb


def too_big_message(size: int, limit: int) -> str:
    """The refusal of a file of `size` bytes over the `limit`, naming both."""
    return gettext("The file is {size}; the limit is {limit}.", size=mb(size), limit=mb(limit))


def _decode(
    data: bytes, pillow_format: str, limits: ImageLimits, reduce_to: int | None
) -> tuple[Image.Image, tuple[int, int]]:
    """The decoded image (reduced by DCT scaling when `reduce_to` allows) and the file's size."""
    try:
        image = Image.open(io.BytesIO(data), formats=[pillow_format])
        size = image.size
        check_dimensions(image.width, image.height, limits)
        _check_working_bytes(image, limits)
        if reduce_to and max(size) > reduce_to:
            ratio = reduce_to / max(size)
            box = (max(1, int(size[0] * ratio)), max(1, int(size[1] * ratio)))
            image.draft(image.mode, box)  # JPEG only; other formats ignore it
        image.load()
    except InvalidImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        # Pillow's own global limit tripped while reading the header; size is not known here.
        raise InvalidImage(
            gettext(
                "The image is too large; the limit is {millions} million pixels.",
                millions=f"{limits.max_pixels / 1e6:g}",
            )
        ) from error
    except Exception as error:  # the magic number matched but the decoder failed: damaged
        raise InvalidImage(MSG_DAMAGED) from error
    return image, size


def check_dimensions(width: int, height: int, limits: ImageLimits) -> None:
    """Refuse an image over the pixel or side limits, naming its size and the limit."""
    if width * height > limits.max_pixels:
        message = gettext(
            "The image is {width} × {height} pixels; the limit is {millions} million pixels.",
            width=width,
            height=height,
            millions=f"{limits.max_pixels / 1e6:g}",
        )
    elif max(width, height) > limits.max_side:
        message = gettext(
            "The image is {width} × {height} pixels; the limit is {side} pixels per side.",
            width=width,
            height=height,
            side=limits.max_side,
        )
    else:
        return
    raise InvalidImage(message)


def _check_working_bytes(image: Image.Image, limits: ImageLimits) -> None:
    needed = working_bytes(image.mode, image.width, image.height)
    if needed > limits.max_decoded_bytes:
        raise InvalidImage(
            gettext(
                "The image is {width} × {height} pixels of mode {mode}; reading it needs "
                "{needed} of memory, the limit is {limit}.",
                width=image.width,
                height=image.height,
                mode=image.mode,
                needed=_mb(needed),
                limit=_mb(limits.max_decoded_bytes),
            )
        )


def _layout(data: bytes, extension: str) -> tuple[Iterable[tuple[bytes, bool]], int]:
    """The metadata payloads of the image (with whether each is text) and where it ends."""
    if extension == "jpg":
        return _jpeg_layout(data)
    metadata = _METADATA.get(extension, lambda _data: iter(()))(data)
    return metadata, _END_FINDERS.get(extension, len)(data)


def _check_trailer(data: bytes, end: int) -> None:
    trailer = data[end:].strip(_PADDING)
    sample = trailer[:1024]
    looks_like_text = bool(sample) and len(sample.translate(None, _TEXT_BYTES)) <= len(sample) / 50
    payload = trailer.startswith(_EXECUTABLE_STARTS) or any(p in trailer for p in _PAYLOADS)
    if payload or looks_like_text:  # text: a script appended to the image, as in GIF/JS polyglots
        raise InvalidImage(MSG_HIDDEN)


def _check_metadata(data: bytes, extension: str, metadata: Iterable[tuple[bytes, bool]]) -> None:
    """Refuse markup, an archive, a PDF or a program hidden in the image's metadata: JPEG APPn
    and COM segments, PNG text chunks (zTXt and iTXt decompressed) and other ancillary chunks,
    GIF extension blocks, WebP chunks other than the image's; and the GIF that is also
    JavaScript (`GIF89a/*…*/=…`)."""
    if extension == "gif" and (data[6:8] == b"//" or (data[6:8] == b"/*" and b"*/" in data)):
        raise InvalidImage(MSG_HIDDEN)
    for payload, textual in metadata:
        # PHP's short tags are 3 bytes: looked for in text only, where they do not occur by
        # chance as they would in an EXIF thumbnail's or an ICC profile's bytes.
        markup = _METADATA_MARKUP if textual else _MARKUP
        head = payload.lstrip(_PADDING)
        if (
            markup.search(payload)
            or any(p in payload for p in _PAYLOADS)
            or head.startswith((b"MZ", b"\x7fELF", b"#!"))
        ):
            raise InvalidImage(MSG_HIDDEN)


def _jpeg_layout(data: bytes) -> tuple[list[tuple[bytes, bool]], int]:
    """One walk over a JPEG's segments: its APPn and COM bodies (with whether each is text)
    and where the image ends. The segments are walked rather than trusting the last FFD9: an
    appended payload may contain one. The entropy-coded data after each SOS is skipped to its
    next marker, once."""
    metadata: list[tuple[bytes, bool]] = []
    pos = 2
    while pos + 2 <= len(data):
        if data[pos] != 0xFF:
            return metadata, pos  # not a marker: whatever follows is not part of the image
        marker = data[pos + 1]
        if marker == 0xD9:
            return metadata, pos + 2
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            pos += 2
            continue
        end = pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        if (0xE0 <= marker <= 0xEF or marker == 0xFE) and pos + 4 <= len(data):
            body = data[pos + 4 : end]
            metadata.append((body, marker == 0xFE or body.startswith(b"http://ns.adobe.com/")))
        pos = end
        if marker == 0xDA:
            match = _JPEG_MARKER.search(data, pos)
            pos = match.start() if match else len(data)
    return metadata, len(data)


_PNG_IMAGE_CHUNKS = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND", b"fdAT", b"tRNS"})


def _png_metadata(data: bytes) -> Iterator[tuple[bytes, bool]]:
    pos = 8
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind in _PNG_IMAGE_CHUNKS:
            continue
        yield body, kind in (b"tEXt", b"iTXt")
        if kind == b"zTXt":
            yield _inflate(body.partition(b"\x00")[2][1:]), True
        elif kind == b"iTXt":
            _keyword, _, rest = body.partition(b"\x00")
            if rest[:1] == b"\x01":  # compressed
                yield _inflate(rest[2:].split(b"\x00", 2)[-1]), True


def _inflate(compressed: bytes) -> bytes:
    """At most MAX_METADATA_TEXT bytes of `compressed`; beyond that (a text bomb) refused."""
    inflater = zlib.decompressobj()
    try:
        text = inflater.decompress(compressed, MAX_METADATA_TEXT)
    except zlib.error as error:
        raise InvalidImage(MSG_DAMAGED) from error
    if inflater.unconsumed_tail:
        raise InvalidImage(
            gettext(
                "The image holds more than {limit} of compressed text and was refused.",
                limit=_mb(MAX_METADATA_TEXT),
            )
        )
    return text


def _gif_metadata(data: bytes) -> Iterator[tuple[bytes, bool]]:
    pos, size = 13 + _color_table_size(data, 10), len(data)
    while pos < size and data[pos] in b"!,":
        is_extension = data[pos] == 0x21
        label = data[pos + 1] if is_extension and pos + 1 < size else None
        pos += 2 if is_extension else 11 + _color_table_size(data, pos + 9)
        blocks = []
        while pos < size and data[pos]:
            blocks.append(data[pos + 1 : pos + 1 + data[pos]])
            pos += 1 + data[pos]
        pos += 1
        if is_extension:
            yield b"".join(blocks), label in (0xFE, 0x01)  # comment, plain text


_WEBP_IMAGE_CHUNKS = frozenset({b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF"})


def _webp_metadata(data: bytes) -> Iterator[tuple[bytes, bool]]:
    pos, end = 12, min(len(data), 8 + int.from_bytes(data[4:8], "little"))
    while pos + 8 <= end:
        kind, length = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        if kind not in _WEBP_IMAGE_CHUNKS:
            yield data[pos + 8 : pos + 8 + length], kind == b"XMP "
        pos += 8 + length + (length & 1)


_METADATA = {"png": _png_metadata, "gif": _gif_metadata}
_METADATA["webp"] = _webp_metadata


def _png_end(data: bytes) -> int:
    pos = 8
    while pos + 8 <= len(data):
        chunk_type = data[pos + 4 : pos + 8]
        pos += 12 + int.from_bytes(data[pos : pos + 4], "big")
        if chunk_type == b"IEND" and pos <= len(data):
            return pos
    raise InvalidImage(MSG_DAMAGED)  # IEND is mandatory, but Pillow alone does not insist on it


def _gif_end(data: bytes) -> int:
    pos, size = 13 + _color_table_size(data, 10), len(data)
    while pos < size and data[pos] in b"!,":  # an extension or an image
        pos += 2 if data[pos] == 0x21 else 11 + _color_table_size(data, pos + 9)
        while pos < size and data[pos]:  # data sub-blocks, up to the empty one
            pos += 1 + data[pos]
        pos += 1
    return pos + 1 if pos < size and data[pos] == 0x3B else pos


def _color_table_size(data: bytes, flags_at: int) -> int:
    flags = data[flags_at] if flags_at < len(data) else 0
    return 3 * (2 << (flags & 7)) if flags & 0x80 else 0


def _to_rgb(image: Image.Image) -> Image.Image:
    if {"A", "a"} & set(image.getbands()) or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _stretch_to_8bit(image: Image.Image) -> Image.Image:
    # X-rays often hold 10-14 bits in 16, sometimes with bright burned-in labels: stretch the
    # 0.5-99.5 percentile range to 0-255 instead of dividing by 256 or by the maximum.
    image = image.convert("F" if image.mode == "F" else "I")
    low, high = image.getextrema()
    # One band (F or I): the extrema are a pair of numbers, not one pair per band.
    assert isinstance(low, int | float) and isinstance(high, int | float)
    if high <= low:
        return Image.new("L", image.size, 0)
    cumulative = list(accumulate(image.histogram(extrema=(low, high))))  # 256 bins
    low_bin = next(i for i, count in enumerate(cumulative) if count > cumulative[-1] * 0.005)
    high_bin = next(i for i, count in enumerate(cumulative) if count >= cumulative[-1] * 0.995) + 1
    step = (high - low) / len(cumulative)
    black, scale = low + low_bin * step, 255 / ((high_bin - low_bin) * step)
    return image.point(lambda value: (value - black) * scale).convert("L")


def _webp_end(data: bytes) -> int:
    return 8 + int.from_bytes(data[4:8], "little")


# Where each image's own bytes end (len: BMP and TIFF have no end marker).
_END_FINDERS = {"png": _png_end, "gif": _gif_end, "webp": _webp_end}
_END_FINDERS[heif.EXTENSION] = heif.end_of_boxes
