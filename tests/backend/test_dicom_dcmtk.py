"""DICOM files as other programs write them: compressed by dcmtk (JPEG baseline, extended and
lossless, JPEG-LS, RLE) and made from a photo by img2dcm, then uploaded through the app.
dcmtk is a Debian package: without it (Windows) these tests are skipped with the reason."""

from __future__ import annotations

import io
import subprocess

import numpy as np
import pytest
from PIL import Image

from tests.dicom_data import dcmtk_convert, dcmtk_missing, dicom_bytes, dicom_dataset, ramp
from tests.helpers import disk_snapshot

pytestmark = pytest.mark.skipif(dcmtk_missing() is not None, reason=str(dcmtk_missing()))

COMPRESSIONS = {
    "jpeg lossless": ("dcmcjpeg", (), 12, "1.2.840.10008.1.2.4.70"),
    "jpeg extended 12-bit": ("dcmcjpeg", ("+ee",), 12, "1.2.840.10008.1.2.4.51"),
    "jpeg baseline": ("dcmcjpeg", ("+eb",), 8, "1.2.840.10008.1.2.4.50"),
    "jpeg-ls lossless": ("dcmcjpls", (), 12, "1.2.840.10008.1.2.4.80"),
    "rle": ("dcmcrle", (), 12, "1.2.840.10008.1.2.5"),
}


def upload(client, patient_id, name, data, **form):
    return client.post(
        f"/api/patients/{patient_id}/teeth/8/images",
        data={"image_type": "xray", **form, "files": [(io.BytesIO(data), name)]},
        content_type="multipart/form-data",
    )


def thumbnail_pixels(client, image) -> np.ndarray:
    response = client.get(image["thumbnail_url"])
    assert response.status_code == 200
    return np.asarray(Image.open(io.BytesIO(response.data)).convert("L"), dtype=int)


@pytest.mark.parametrize("name", list(COMPRESSIONS))
def test_a_file_compressed_by_dcmtk_is_stored_as_sent_and_shown(
    client, patient, settings, tmp_path, name
):
    tool, options, bits, syntax = COMPRESSIONS[name]
    plain = dicom_bytes(dicom_dataset(ramp(rows=240, columns=320, bits=bits), bits=bits))
    compressed = dcmtk_convert(tool, plain, tmp_path, *options)

    response = upload(client, patient.id, f"{name}.dcm", compressed)

    assert response.status_code == 201, response.get_json()
    image = response.get_json()["results"][0]["image"]
    assert image["dicom"]["transfer_syntax_uid"] == syntax
    assert (settings.data_dir / image["path"]).read_bytes() == compressed
    pixels = thumbnail_pixels(client, image)
    assert pixels[:, :4].mean() < 20 and pixels[:, -4:].mean() > 235  # the ramp, dark to light
    frame = client.get(image["url"])
    assert Image.open(io.BytesIO(frame.data)).size == (320, 240)


def test_the_same_instance_compressed_losslessly_is_still_a_duplicate(
    client, patient, settings, tmp_path
):
    plain = dicom_bytes()
    assert upload(client, patient.id, "plain.dcm", plain).status_code == 201
    before = disk_snapshot(settings.data_dir)

    again = upload(client, patient.id, "ls.dcm", dcmtk_convert("dcmcjpls", plain, tmp_path))

    assert again.status_code == 409
    assert again.get_json()["results"][0]["error"]["code"] == "duplicate_image"
    assert disk_snapshot(settings.data_dir) == before


def test_a_multi_frame_jpeg_ls_file_serves_each_frame(client, patient, tmp_path):
    stack = ramp(rows=64, columns=96, frames=3)
    stack[2] = 4095
    stack[2, :, :8] = 0
    data = dcmtk_convert("dcmcjpls", dicom_bytes(dicom_dataset(stack)), tmp_path)

    response = upload(client, patient.id, "cbct.dcm", data)

    image = response.get_json()["results"][0]["image"]
    assert image["dicom"]["frames"] == 3
    last = client.get(image["dicom"]["frame_url"].replace("{n}", "3"))
    pixels = np.asarray(Image.open(io.BytesIO(last.data)).convert("L"), dtype=int)
    assert pixels[:, :8].max() < 10 and pixels[:, 20:].min() > 245


def test_a_photo_made_into_dicom_by_img2dcm_keeps_its_colours(client, patient, tmp_path):
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (160, 120), (200, 30, 30)).save(photo, quality=95)
    made = tmp_path / "photo.dcm"
    subprocess.run(["img2dcm", str(photo), str(made)], check=True, capture_output=True)

    response = upload(client, patient.id, "photo.dcm", made.read_bytes())  # names no patient

    assert response.status_code == 201, response.get_json()
    image = response.get_json()["results"][0]["image"]
    assert image["dicom"]["transfer_syntax_uid"] == "1.2.840.10008.1.2.4.50"
    thumb = client.get(image["thumbnail_url"])
    red, green, blue = Image.open(io.BytesIO(thumb.data)).convert("RGB").getpixel((80, 60))
    assert red > 170 and green < 70 and blue < 70
