"""Photos decoded once at the size the thumbnail needs (JPEG DCT scaling): the same refusals
as a full decode, the file's own size recorded, and a thumbnail as good."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image

from backend.imaging import MSG_DAMAGED, MSG_HIDDEN, InvalidImage, inspect_image, make_thumbnail


def photo(size=(1600, 1200), **params) -> bytes:
    picture = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=90, **params)
    return out.getvalue()


def test_a_jpeg_is_decoded_at_a_quarter_and_keeps_its_own_size():
    decoded = inspect_image(photo(), reduce_to=320)

    assert (decoded.info.width, decoded.info.height) == (1600, 1200)
    assert decoded.image.size == (400, 300)  # 1/4: the smallest scale that covers 320 × 240
    thumb = Image.open(io.BytesIO(make_thumbnail(decoded.image, 320)))
    assert thumb.size == (320, 240)


@pytest.mark.parametrize("params", [{}, {"progressive": True}, {"restart_marker_blocks": 1}])
@pytest.mark.parametrize("keep", [0.5, 0.9, 0.99])
def test_a_truncated_jpeg_is_still_refused_when_decoded_reduced(params, keep):
    data = photo((800, 600), **params)
    with pytest.raises(InvalidImage) as refused:
        inspect_image(data[: int(len(data) * keep)], reduce_to=320)
    assert str(refused.value) == MSG_DAMAGED


def test_hidden_content_is_still_refused_when_decoded_reduced():
    with pytest.raises(InvalidImage) as refused:
        inspect_image(photo() + b"<html><script>alert(1)</script></html>", reduce_to=320)
    assert str(refused.value) == MSG_HIDDEN


def test_other_formats_and_small_photos_are_decoded_whole():
    out = io.BytesIO()
    Image.new("RGB", (900, 300), "red").save(out, format="PNG")
    assert inspect_image(out.getvalue(), reduce_to=320).image.size == (900, 300)
    assert inspect_image(photo((300, 200)), reduce_to=320).image.size == (300, 200)


def test_an_upload_records_the_full_size_of_a_reduced_photo(client, patient):
    response = client.post(
        f"/api/patients/{patient.id}/teeth/8/images",
        data={"image_type": "clinical", "files": [(io.BytesIO(photo()), "smile.jpg")]},
        content_type="multipart/form-data",
    )
    image = response.get_json()["results"][0]["image"]
    assert (image["width"], image["height"]) == (1600, 1200)
    thumb = Image.open(io.BytesIO(client.get(image["thumbnail_url"]).data))
    assert thumb.size == (320, 240)
