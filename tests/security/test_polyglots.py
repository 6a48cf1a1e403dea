"""Files that are an image and something else at once are refused; originals and thumbnails
are served so that a browser opening one as a page runs nothing."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import pytest
from PIL import Image

from backend.imaging import MSG_HIDDEN, InvalidImage, inspect_image
from tests.helpers import image_bytes
from tests.security.pngs import chunk


def jpeg_with_segment(marker: int, payload: bytes) -> bytes:
    jpeg = image_bytes("JPEG")
    segment = bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:2] + segment + jpeg[2:]


def png_with_chunk(kind: bytes, body: bytes) -> bytes:
    png = image_bytes("PNG")
    end = png.rindex(b"IEND") - 4
    return png[:end] + chunk(kind, body) + png[end:]


def zip_archive() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("payload.js", "alert(document.domain)")
    return out.getvalue()


def gif_javascript() -> bytes:
    """GIF89a/*…*/=alert(1)//: the header opens a JS comment, a comment extension closes it."""
    out = io.BytesIO()
    Image.new("P", (16, 16), 1).save(out, format="GIF")
    gif = bytearray(out.getvalue())
    gif[6:8] = b"/*"  # logical screen width 10799: "GIF89a/*" starts a JavaScript comment
    comment = b"*/=alert(1)//"
    extension = b"\x21\xfe" + bytes([len(comment)]) + comment + b"\x00"
    return bytes(gif[:-1]) + extension + b"\x3b"


PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
POLYGLOTS = {
    "gif that is javascript": gif_javascript,
    "jpeg with a zip in a COM segment": lambda: jpeg_with_segment(0xFE, zip_archive()),
    "jpeg carrying a pdf": lambda: jpeg_with_segment(0xEF, PDF),
    "jpeg with the php short tag": lambda: jpeg_with_segment(0xFE, b"<?= `$_GET[0]` ?>"),
    "png with the php short tag": lambda: png_with_chunk(b"tEXt", b"Comment\x00<?=`id`?>"),
    "png with html in a compressed zTXt": lambda: png_with_chunk(
        b"zTXt", b"Comment\x00\x00" + zlib.compress(b"<html><script>alert(1)</script></html>")
    ),
    "png with html in a compressed iTXt": lambda: png_with_chunk(
        b"iTXt", b"XML\x00\x01\x00en\x00\x00" + zlib.compress(b"<svg onload=alert(1)>")
    ),
}


@pytest.mark.parametrize("name", list(POLYGLOTS))
def test_each_polyglot_is_refused(name):
    data = POLYGLOTS[name]()
    assert Image.open(io.BytesIO(data)).size  # still an image to Pillow
    with pytest.raises(InvalidImage) as refused:
        inspect_image(data)
    assert str(refused.value) == MSG_HIDDEN


@pytest.mark.parametrize("name", list(POLYGLOTS))
def test_an_upload_of_each_polyglot_stores_nothing(client, patient, settings, name):
    response = client.post(
        f"/api/patients/{patient.id}/teeth/8/images",
        data={"image_type": "xray", "files": [(io.BytesIO(POLYGLOTS[name]()), "x.img")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert response.get_json()["results"][0]["error"]["message"] == MSG_HIDDEN
    assert not [p for p in (settings.data_dir / "dental_images").rglob("*") if p.is_file()]


def test_a_text_bomb_in_a_ztxt_chunk_is_refused():
    bomb = zlib.compress(b"a" * (64 * 1024 * 1024))  # 64 KB that inflate to 64 MB
    with pytest.raises(InvalidImage):
        inspect_image(png_with_chunk(b"zTXt", b"Comment\x00\x00" + bomb))


def test_ordinary_metadata_passes():
    exif = Image.Exif()
    exif[0x010F] = "Clinic camera"  # Make
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 20, 30)).save(out, format="JPEG", exif=exif.tobytes())
    xmp = (
        b"http://ns.adobe.com/xap/1.0/\x00<?xpacket begin='' id='W5M0MpCehiHzreSzNTczkc9d'?>"
        b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF/></x:xmpmeta><?xpacket end='w'?>"
    )
    ordinary = [
        out.getvalue(),
        jpeg_with_segment(0xE1, xmp),
        jpeg_with_segment(0xFE, b"Taken at the clinic, 2024 <b>before</b> treatment"),
        png_with_chunk(b"tEXt", b"Comment\x00Periapical, tooth 8"),
        png_with_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"Bitewing, left side")),
    ]
    for data in ordinary:
        assert inspect_image(data).info.width == 64


def test_originals_and_thumbnails_are_served_sandboxed_and_unsniffed(client, patient):
    stored = client.post(
        f"/api/patients/{patient.id}/teeth/8/images",
        data={"image_type": "xray", "files": [(io.BytesIO(image_bytes("PNG")), "a.png")]},
        content_type="multipart/form-data",
    ).get_json()["results"][0]["image"]
    for url in (stored["url"], stored["thumbnail_url"]):
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
