"""Reading DICOM files: the facts they carry, the window/level of their renditions, and the
refusal of damaged or hostile ones (backend.dicom)."""

from __future__ import annotations

import io
import os
import struct

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import RLELossless

from backend import dicom, imaging
from backend.dicom import reading, rendering
from backend.dicom.patients import readable_name, same_patient
from backend.imaging import ImageLimits, InvalidImage
from tests.dicom_data import dicom_bytes, dicom_dataset, ramp


def bundled(name: str) -> bytes:
    """A file shipped inside the pydicom package (never downloaded)."""
    path = get_testdata_file(name, download=False)
    assert path is not None, f"{name} is not bundled with pydicom"
    return open(path, "rb").read()


def grey(picture: Image.Image) -> np.ndarray:
    return np.asarray(picture.convert("L"), dtype=np.int32)


def thumbnail_array(data: bytes) -> np.ndarray:
    thumb = Image.open(io.BytesIO(rendering.thumbnail(reading.read_dicom(data))))
    assert thumb.format == "JPEG"
    return grey(thumb)


def refusal(data: bytes, limits: ImageLimits | None = None) -> str:
    with pytest.raises(InvalidImage) as refused:
        reading.read_dicom(data, limits or ImageLimits())
    return str(refused.value)


# --- recognising -----------------------------------------------------------------------------


def test_a_part_10_file_is_recognised_by_its_preamble_and_dicm_mark():
    data = dicom_bytes()
    assert dicom.looks_like_dicom(data)
    assert not dicom.looks_like_dicom(data[128:])  # no preamble: not Part 10
    assert not dicom.looks_like_dicom(b"DICM" + bytes(200))
    assert imaging.sniff_extension(data) is None  # never mistaken for a photo format


# --- facts -----------------------------------------------------------------------------------


def test_facts_of_an_intraoral_xray_are_read():
    ds = dicom_dataset(
        PixelSpacing=[0.0187, 0.0188], SeriesDate="20240306", PatientName="Haddad^Layla^M"
    )
    facts = reading.read_dicom(dicom_bytes(ds)).facts

    assert facts.sop_instance_uid == ds.SOPInstanceUID
    assert facts.study_instance_uid == ds.StudyInstanceUID
    assert facts.series_instance_uid == ds.SeriesInstanceUID
    assert facts.modality == "IO"
    assert facts.study_date.isoformat() == "2024-03-05"
    assert facts.series_date.isoformat() == "2024-03-06"
    assert facts.taken_date == facts.study_date
    assert facts.pixel_spacing_mm == (0.0187, 0.0188)
    assert facts.pixel_spacing_source == "PixelSpacing"
    assert facts.patient_name == "Haddad^Layla^M" and facts.patient_id == "P-1"
    assert (facts.columns, facts.rows, facts.frames, facts.bits_stored) == (128, 96, 1, 12)


def test_imager_pixel_spacing_is_the_fallback_and_bad_values_count_as_absent():
    with_imager = dicom_dataset(ImagerPixelSpacing=[0.02, 0.02])
    facts = reading.read_dicom(dicom_bytes(with_imager)).facts
    assert facts.pixel_spacing_mm == (0.02, 0.02)
    assert facts.pixel_spacing_source == "ImagerPixelSpacing"

    nonsense = dicom_dataset(PixelSpacing=[0, -1], StudyDate="20241341")
    facts = reading.read_dicom(dicom_bytes(nonsense)).facts
    assert facts.pixel_spacing_mm is None and facts.study_date is None


def test_a_file_without_instance_uid_is_refused_as_indistinguishable():
    ds = dicom_dataset()
    del ds.SOPInstanceUID
    del ds.file_meta.MediaStorageSOPInstanceUID
    ds.preamble = bytes(128)
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=False)  # as a careless program would write it
    assert dicom.looks_like_dicom(out.getvalue())
    assert "cannot be told apart" in refusal(out.getvalue())


# --- window / level --------------------------------------------------------------------------


def test_a_12_bit_ramp_without_window_spans_black_to_white():
    pixels = thumbnail_array(dicom_bytes(bits=12))
    assert pixels[:, :3].mean() < 15 and pixels[:, -3:].mean() > 240


def test_monochrome1_is_inverted_bright_where_the_value_is_low():
    pixels = thumbnail_array(dicom_bytes(photometric="MONOCHROME1"))
    assert pixels[:, :3].mean() > 240  # raw values near 0 on the left
    assert pixels[:, -3:].mean() < 15


def test_window_center_and_width_decide_the_grey_levels():
    # A window over the lower half of the 12-bit range: the upper half is all white.
    ds = dicom_dataset(WindowCenter=1024, WindowWidth=2048)
    picture = rendering.frame_image(reading.read_dicom(dicom_bytes(ds)), 0)
    row = grey(picture)[10]
    assert row[0] < 5
    assert 110 < row[len(row) // 4] < 145  # a quarter of the range: the window's middle
    assert (row[len(row) // 2 + 2 :] == 255).all()


def test_a_voi_lut_comes_before_the_window():
    lut = Dataset()
    lut.LUTDescriptor = [4096, 0, 16]
    lut.LUTData = (4095 - np.arange(4096, dtype="<u2")).tobytes()  # an inverting curve (OW)
    ds = dicom_dataset(WindowCenter=1024, WindowWidth=2048, VOILUTSequence=Sequence([lut]))
    row = grey(rendering.frame_image(reading.read_dicom(dicom_bytes(ds)), 0))[10]
    assert row[0] > 250 and row[-1] < 5


def test_16_bit_signed_ct_with_rescale_is_shown_with_its_window():
    picture = rendering.frame_image(reading.read_dicom(bundled("CT_small.dcm")), 0)
    pixels = grey(picture)
    assert picture.size == (128, 128)
    assert pixels.std() > 20 and pixels.min() < 30 and pixels.max() > 200


def test_high_bits_above_bits_stored_are_ignored_in_the_thumbnail():
    pixels = ramp(rows=400, columns=800, bits=12) | np.uint16(0xF000)  # noise above bit 11
    clean = thumbnail_array(dicom_bytes(dicom_dataset(pixels)))
    assert clean[:, :3].mean() < 15 and clean[:, -3:].mean() > 240


# --- frames and bundled files ----------------------------------------------------------------


def test_each_frame_of_a_multi_frame_file_is_rendered_on_its_own():
    stack = ramp(frames=4)
    stack[2, :, :] = 0  # one black frame in the middle
    stack[2, :, :10] = 4095
    dicom_file = reading.read_dicom(dicom_bytes(dicom_dataset(stack)))
    assert dicom_file.facts.frames == 4
    frames = [grey(Image.open(io.BytesIO(rendering.frame_png(dicom_file, n)))) for n in range(4)]
    assert frames[2][:, 20:].max() == 0 and frames[0][:, -1].min() > 240
    with pytest.raises(IndexError):
        rendering.frame_png(dicom_file, 4)


@pytest.mark.parametrize(
    "name",
    [
        "MR_small_RLE.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
        "JPEG2000.dcm",
        "JPGExtended.dcm",
        "SC_rgb_rle_2frame.dcm",
        "examples_palette.dcm",
        "examples_ybr_color.dcm",
        "ExplVR_BigEnd.dcm",
        "image_dfl.dcm",
    ],
)
def test_bundled_compressed_colour_and_big_endian_files_are_read(name):
    dicom_file = reading.read_dicom(bundled(name))
    picture = rendering.frame_image(dicom_file, 0)
    assert picture.size == (dicom_file.facts.columns, dicom_file.facts.rows)
    assert np.asarray(picture).std() > 5  # an image, not a flat field
    assert Image.open(io.BytesIO(rendering.thumbnail(dicom_file))).format == "JPEG"


def test_rle_made_by_pydicom_matches_the_uncompressed_rendition():
    ds = dicom_dataset(ramp(rows=64, columns=256))
    plain = grey(rendering.frame_image(reading.read_dicom(dicom_bytes(ds)), 0))
    ds.compress(RLELossless)
    rle = reading.read_dicom(dicom_bytes(ds))
    assert rle.facts.transfer_syntax_uid == RLELossless
    assert (grey(rendering.frame_image(rle, 0)) == plain).all()


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize("cut", [1, 100, 2000])
def test_a_truncated_file_is_refused(cut):
    data = dicom_bytes()
    assert "incomplete" in refusal(data[:-cut])


def test_the_truncated_file_bundled_with_pydicom_is_refused():
    assert "incomplete" in refusal(bundled("MR_truncated.dcm"))


def test_truncated_encapsulated_pixel_data_is_refused():
    ds = dicom_dataset()
    ds.compress(RLELossless)
    data = dicom_bytes(ds)
    assert "incomplete" in refusal(data[:-1])  # the sequence delimiter is cut
    assert "incomplete" in refusal(data[:-40])


@pytest.mark.parametrize("name", ["rtplan.dcm", "reportsi.dcm"])
def test_a_file_without_pixel_data_is_refused(name):
    assert "no pixel data" in refusal(bundled(name))


def test_an_unsupported_transfer_syntax_is_refused_by_name():
    ds = dicom_dataset()
    ds.compress(RLELossless)
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.102"  # MPEG-4 AVC/H.264
    message = refusal(dicom_bytes(ds))
    assert "MPEG-4 AVC/H.264 High Profile / Level 4.1" in message
    assert "1.2.840.10008.1.2.4.102" in message and "cannot read" in message


def test_a_missing_transfer_syntax_is_refused():
    assert "no transfer syntax" in refusal(bundled("meta_missing_tsyntax.dcm"))


def test_a_pixel_bomb_is_refused_from_its_header_naming_the_limit():
    ds = dicom_dataset(ramp(rows=4, columns=4))
    ds.Rows, ds.Columns = 60000, 60000
    assert "the limit is 120 million pixels" in refusal(dicom_bytes(ds))


def test_a_volume_over_the_limit_is_refused_naming_the_limit():
    ds = dicom_dataset(ramp(rows=4, columns=4))
    ds.Rows, ds.Columns, ds.NumberOfFrames = 512, 512, 1000
    message = refusal(dicom_bytes(ds))
    assert "512 × 512 pixels × 1000 frames" in message
    assert "the limit is 134.218 million pixels" in message


def test_a_frame_over_the_decode_memory_limit_is_refused():
    ds = dicom_dataset(ramp(rows=4, columns=4))
    ds.Rows, ds.Columns = 4000, 4000
    message = refusal(dicom_bytes(ds), ImageLimits(max_decoded_bytes=64 * 1024 * 1024))
    assert "the limit is 64.0 MB" in message


def test_a_file_over_the_dicom_size_limit_is_refused():
    message = refusal(dicom_bytes(), ImageLimits(max_dicom_bytes=10_000))
    assert "the limit is 0.0 MB" in message and "DICOM file is" in message


def test_a_file_with_the_dicm_mark_that_is_not_dicom_is_refused():
    fake = bytes(128) + b"DICM" + b"\x02\x00\x10\x00UI\xff\xff" + b"garbage" * 50
    assert refusal(fake) == reading.MSG_NOT_DICOM
    png_inside = bytes(128) + b"DICM" + imaging.MIME_TYPES["png"].encode() * 10
    assert refusal(png_inside) == reading.MSG_NOT_DICOM


def test_a_wrong_length_in_a_tag_is_refused():
    data = bytearray(dicom_bytes())
    at = data.index(b"\x10\x00\x10\x00PN")  # (0010,0010) Patient's Name, explicit VR
    struct.pack_into("<H", data, at + 6, 60000)  # longer than what follows
    assert "incomplete" in refusal(bytes(data)) or refusal(bytes(data)) == reading.MSG_NOT_DICOM


def test_a_recursive_sequence_is_refused():
    # Sequences nested 5000 deep, written by hand (pydicom itself cannot write them).
    opening = b"\x08\x00\x40\x11SQ\x00\x00\xff\xff\xff\xff" + b"\xfe\xff\x00\xe0\xff\xff\xff\xff"
    closing = b"\xfe\xff\x0d\xe0\x00\x00\x00\x00" + b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
    data = dicom_bytes()
    at = data.index(b"\x10\x00\x10\x00PN")  # (0008,1140) goes just before (0010,0010)
    nested = data[:at] + opening * 5000 + closing * 5000 + data[at:]
    assert refusal(nested) == reading.MSG_NOT_DICOM


def test_a_preamble_carrying_html_or_a_program_is_refused():
    data = dicom_bytes()
    html = b"<html><script>alert(1)</script></html>".ljust(128, b"\x00")
    assert refusal(html + data[128:]) == imaging.MSG_HIDDEN
    program = b"MZ\x90\x00".ljust(128, b"\x00")
    assert refusal(program + data[128:]) == imaging.MSG_HIDDEN
    tiff = b"II*\x00\x08\x00\x00\x00".ljust(128, b"\x00")  # a dual TIFF/DICOM file is fine
    assert reading.read_dicom(tiff + data[128:]).facts.rows == 96


def test_parsing_really_reads_the_file_and_not_a_cache():
    data = dicom_bytes(patient_name="FIRST^ONE")
    assert reading.read_dicom(data).facts.patient_name == "FIRST^ONE"
    assert pydicom.dcmread(io.BytesIO(data)).PatientName == "FIRST^ONE"


# --- the patient in the file -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("file_name", "file_id", "matches"),
    [
        ("HADDAD^LAYLA", "", True),
        ("haddad^layla^m", "X-9", True),  # a middle name in the file only
        ("Haddad^Laylá", "", True),  # accents
        ("DOE^JOHN", "12", True),  # the ID is our serial number
        ("DOE^JOHN", "X-9", False),
        ("", "X-9", False),
        ("", "", True),  # anonymised: nothing to compare
    ],
)
def test_the_patient_in_the_file_is_compared_by_name_words_or_serial(file_name, file_id, matches):
    assert same_patient(file_name, file_id, "Layla Haddad", "12") is matches


def test_a_dicom_name_is_written_as_people_write_it():
    assert readable_name("HADDAD^LAYLA^M^Dr") == "Dr LAYLA M HADDAD"
    assert readable_name(None) == ""


def test_a_compressed_frame_larger_than_the_header_says_is_refused():
    ds = dicom_dataset(ramp(rows=16, columns=16, bits=8), bits=8)
    out = io.BytesIO()
    Image.new("L", (16, 16), 90).save(out, format="JPEG")
    codestream = bytearray(out.getvalue())
    sof = codestream.index(b"\xff\xc0")
    struct.pack_into(">HH", codestream, sof + 5, 60000, 60000)  # height, width
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.50"  # JPEG Baseline
    ds.PixelData = pydicom.encaps.encapsulate([bytes(codestream)])
    ds["PixelData"].VR = "OB"
    message = refusal(dicom_bytes(ds))
    assert "60000 × 60000 pixels but its header says 16 × 16" in message


@pytest.mark.parametrize(
    "name", ["JPEG2000.dcm", "MR_small_jpeg_ls_lossless.dcm", "JPGExtended.dcm"]
)
def test_the_size_in_each_bundled_codestream_is_read(name):
    ds = pydicom.dcmread(io.BytesIO(bundled(name)))
    [first] = list(pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=1))[:1]
    assert reading.codestream_size(first) == (ds.Columns, ds.Rows)


def test_a_stored_file_read_for_frame_after_frame_is_parsed_once_while_unchanged(tmp_path):
    path = tmp_path / "cbct.dcm"
    path.write_bytes(dicom_bytes(dicom_dataset(ramp(frames=3))))
    first = reading.read_stored_dicom(path, "sum")
    assert reading.read_stored_dicom(path, "sum") is first
    path.write_bytes(dicom_bytes(dicom_dataset(ramp(frames=2))))  # replaced: read afresh
    os.utime(path, ns=(1, 1))
    changed = reading.read_stored_dicom(path, "sum")
    assert changed is not first and changed.facts.frames == 2
    assert reading.read_stored_dicom(path, "other sum") is not changed


def test_frames_without_a_window_share_the_middle_frames_range():
    # Slices of a volume: the first is darker than the middle one, and stays so when shown.
    stack = ramp(frames=3, bits=12) // 4
    stack[1] *= 4
    stack[2] *= 2
    dicom_file = reading.read_dicom(dicom_bytes(dicom_dataset(stack)))
    shown = [grey(rendering.frame_image(dicom_file, n)).mean() for n in range(3)]
    assert shown[0] < shown[2] < shown[1]
    assert shown[0] < 0.5 * shown[1]


def test_a_large_file_of_zeros_behind_a_dicm_mark_is_refused_without_parsing_it_all():
    """64 MB of zeros after the mark would be 8 million empty elements for the parser (it
    took 52 s): no file meta group refuses it at once, and elements out of the ascending order
    the standard requires refuse it at the first one."""
    zeros = bytearray(64 * 1024 * 1024)
    zeros[128:132] = b"DICM"
    with pytest.raises(InvalidImage) as no_header:
        reading.read_dicom(bytes(zeros))
    assert "not a readable DICOM file" in str(no_header.value)
    good = dicom_bytes()
    with pytest.raises(InvalidImage) as shuffled:
        reading.read_dicom(good + bytes(8 * 1024 * 1024))  # valid header and data, then zeros
    assert "not a readable DICOM file" in str(shuffled.value)
    assert reading.read_dicom(good).facts.sop_instance_uid  # the file itself still reads
