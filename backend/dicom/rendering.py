"""A DICOM frame as 8-bit pixels a screen shows, with the file's own window/level.

Order, as the standard applies it: the modality LUT (Rescale Slope/Intercept, or the Modality
LUT Sequence); then the VOI: a VOI LUT Sequence, else Window Center/Width (LINEAR,
LINEAR_EXACT or SIGMOID), else the 0.5-99.5 percentile range of the frame; MONOCHROME1 (bright
where the value is low) is inverted. Colour frames (RGB, YBR, palette) are shown as they are.

A thumbnail reads only every k-th pixel of uncompressed data, in place (decoded once, at the
size needed); compressed frames are decoded whole, one frame at a time. All decoding holds
its bytes of the process-wide decode budget.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.pixels.processing import apply_color_lut, apply_modality_lut

from backend import imaging
from backend.dicom.reading import DicomFile
from backend.i18n import gettext

_PERCENTILES = (0.5, 99.5)
_STATISTICS_SAMPLES = 250_000  # pixels the percentile fallback looks at, at most


def thumbnail(dicom_file: DicomFile, max_side: int = 320) -> bytes:
    """JPEG thumbnail bytes of the file's middle frame (a CBCT's first slices are often
    empty), at most `max_side` pixels long."""
    facts = dicom_file.facts
    step = max(1, max(facts.rows, facts.columns) // max_side)  # still at least max_side long
    picture = frame_image(dicom_file, facts.frames // 2, step)
    return imaging.make_thumbnail(picture, max_side)


def frame_png(dicom_file: DicomFile, index: int) -> bytes:
    """Frame `index` (from 0) at full size as PNG bytes, for the viewer."""
    picture = frame_image(dicom_file, index, 1)
    out = io.BytesIO()
    picture.save(out, format="PNG", compress_level=1)  # served at once: speed over size
    return out.getvalue()


def frame_image(dicom_file: DicomFile, index: int, step: int = 1) -> Image.Image:
    """Frame `index` as an 8-bit grey ("L") or RGB image, every `step`-th pixel of it."""
    if not 0 <= index < dicom_file.facts.frames:
        raise IndexError(index)
    ds = dicom_file.dataset
    photometric = str(ds.PhotometricInterpretation).upper()
    shared_range = None
    if dicom_file.facts.frames > 1 and photometric.startswith("MONOCHROME") and not _has_voi(ds):
        shared_range = _volume_range(dicom_file)  # every slice of a volume alike
    with _decode_budget(dicom_file, step):
        samples = _frame_samples(dicom_file, index, step)
        try:
            if photometric == "PALETTE COLOR":
                return Image.fromarray(_to_8bit_colour(apply_color_lut(samples, ds)), "RGB")
            if samples.ndim == 3:
                return Image.fromarray(_to_8bit_colour(samples), "RGB")
            grey = _voi(_modality(samples, ds), ds, shared_range)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            raise imaging.InvalidImage(
                gettext(
                    "The DICOM file's display settings (LUTs, window) are damaged, so its "
                    "image cannot be shown. Export it again from the x-ray program."
                )
            ) from exc
        if photometric == "MONOCHROME1":
            grey = 255 - grey
        return Image.fromarray(grey, "L")


@contextmanager
def _decode_budget(dicom_file: DicomFile, step: int) -> Iterator[None]:
    needed = dicom_file.frame_working_bytes
    if dicom_file.is_native:
        needed //= step * step
    with imaging.DECODE_BUDGET.reserve(needed):
        yield


def _frame_samples(dicom_file: DicomFile, index: int, step: int) -> np.ndarray:
    """The frame's stored values as an array (rows, columns) or (rows, columns, 3)."""
    ds = dicom_file.dataset
    try:
        if dicom_file.is_native and step > 1 and _in_place_readable(ds):
            # pydicom annotates its options as `**kwargs: DecodeOptions` (not Unpack[...]).
            view, _ = dicom_file.decoder.as_array(
                ds,
                index=index,
                view_only=True,  # type: ignore[arg-type]
                correct_unused_bits=False,  # type: ignore[arg-type]
            )
            return _stored_bits(np.ascontiguousarray(view[::step, ::step]), ds)
        array, _ = dicom_file.decoder.as_array(ds, index=index)
    except imaging.InvalidImage:
        raise
    except Exception as exc:  # each decoder fails its own way on damaged data
        raise imaging.InvalidImage(
            gettext(
                "The DICOM file's image data is damaged and cannot be decoded. Copy or export "
                "it again from the x-ray program."
            )
        ) from exc
    return array[::step, ::step] if step > 1 else array


def _in_place_readable(ds: Dataset) -> bool:
    """Grey samples of whole bytes, which every k-th of can be read without a copy."""
    return int(ds.BitsAllocated) in (8, 16, 32) and int(ds.get("SamplesPerPixel", 1)) == 1


def _stored_bits(array: np.ndarray, ds: Dataset) -> np.ndarray:
    """Only the Bits Stored of each value, sign-extended when signed: the bits above may hold
    overlays or noise (pydicom's own correction copies the whole frame, hence done here)."""
    allocated, stored = int(ds.BitsAllocated), int(ds.get("BitsStored", ds.BitsAllocated))
    if stored >= allocated or array.dtype.kind not in "iu":
        return array
    unused = allocated - stored
    if array.dtype.kind == "i":
        extended: np.ndarray = (array << unused) >> unused
        return extended
    masked: np.ndarray = array & np.array((1 << stored) - 1, dtype=array.dtype)
    return masked


def _modality(samples: np.ndarray, ds: Dataset) -> np.ndarray:
    if "ModalityLUTSequence" in ds or "RescaleSlope" in ds or "RescaleIntercept" in ds:
        return np.asarray(apply_modality_lut(samples, ds), dtype=np.float32)
    return samples.astype(np.float32)


def _has_voi(ds: Dataset) -> bool:
    """Whether the file brings its own VOI (a LUT, or a window)."""
    lut = _first(ds.get("VOILUTSequence"))
    has_lut = lut is not None and "LUTData" in lut
    return has_lut or ("WindowCenter" in ds and "WindowWidth" in ds)


def _volume_range(dicom_file: DicomFile) -> tuple[float, float] | None:
    """The percentile range of the middle frame, computed once per file and used for every
    frame of a multi-frame file without its own VOI (slices then compare by brightness);
    None when that frame is flat (each frame then gets its own range)."""
    if "volume" in dicom_file.display_range:
        return dicom_file.display_range["volume"]
    facts = dicom_file.facts
    step = max(1, int((facts.rows * facts.columns / _STATISTICS_SAMPLES) ** 0.5))
    with _decode_budget(dicom_file, step):
        samples = _frame_samples(dicom_file, facts.frames // 2, step)
        low, high = _percentile_range(_modality(samples, dicom_file.dataset))
    found = (low, high) if high > low else None
    dicom_file.display_range["volume"] = found
    return found


def _voi(
    values: np.ndarray, ds: Dataset, shared_range: tuple[float, float] | None = None
) -> np.ndarray:
    lut = _first(ds.get("VOILUTSequence"))
    if lut is not None and "LUTData" in lut and "LUTDescriptor" in lut:
        return _apply_lut(values, lut, ds)
    center, width = _first(ds.get("WindowCenter")), _first(ds.get("WindowWidth"))
    if center is not None and width is not None:
        function = str(ds.get("VOILUTFunction", "LINEAR") or "LINEAR").upper()
        windowed = _window(values, float(center), float(width), function)
        if windowed is not None:
            return windowed
    return _scale(values, *(shared_range or _percentile_range(values)))


def _first(value: Any) -> Any:
    """The first of a multi-valued attribute (several windows: the first is the default)."""
    if value is None:
        return None
    try:
        return value[0] if not isinstance(value, str | bytes) and len(value) else value
    except TypeError:
        return value


def _apply_lut(values: np.ndarray, lut: Dataset, ds: Dataset) -> np.ndarray:
    entries, first_mapped, _bits = (int(v) for v in lut.LUTDescriptor)
    entries = entries or 65536
    data = lut.LUTData
    if isinstance(data, bytes | bytearray):
        order = "<" if getattr(ds, "is_little_endian", True) in (True, None) else ">"
        table = np.frombuffer(data, dtype=f"{order}u2")[:entries].astype(np.float32)
    else:
        table = np.asarray(data if not isinstance(data, int) else [data], dtype=np.float32)
    if table.size == 0:
        raise ValueError("empty VOI LUT")
    index = np.clip(np.rint(values) - first_mapped, 0, table.size - 1).astype(np.intp)
    mapped = table[index]
    low, high = float(table.min()), float(table.max())
    return _scale(mapped, low, high)


def _window(values: np.ndarray, center: float, width: float, function: str) -> np.ndarray | None:
    """PS3.3 C.11.2.1.2; None for a width that defines no window."""
    if function == "SIGMOID":
        if width <= 0:
            return None
        out = 255.0 / (1.0 + np.exp(-4.0 * (values - center) / width))
        return out.astype(np.uint8)
    if function == "LINEAR_EXACT":
        if width <= 0:
            return None
        return _scale(values, center - width / 2, center + width / 2)
    if width < 1:
        return None
    low = center - 0.5 - (width - 1) / 2
    return _scale(values, low, low + (width - 1))


def _percentile_range(values: np.ndarray) -> tuple[float, float]:
    sample = values.reshape(-1)
    if sample.size > _STATISTICS_SAMPLES:
        sample = sample[:: sample.size // _STATISTICS_SAMPLES]
    low, high = (float(v) for v in np.percentile(sample, _PERCENTILES))
    if high <= low:
        low, high = float(sample.min()), float(sample.max())
    return low, high


def _scale(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """`low` to black, `high` to white, linearly; a flat range is all black."""
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    out = (values - low) * (255.0 / (high - low))
    return np.clip(out, 0, 255, out=out).astype(np.uint8)


def _to_8bit_colour(rgb: np.ndarray) -> np.ndarray:
    if rgb.dtype == np.uint8:
        return np.ascontiguousarray(rgb)
    top = float(rgb.max()) or 1.0
    bits = max(8, int(np.ceil(np.log2(top + 1))))
    return np.ascontiguousarray((rgb >> (bits - 8)).astype(np.uint8))
