"""Tests of backend.imaging: validation of uploaded bytes, decoding once, thumbnails."""

from __future__ import annotations

import io
import os
import struct
import time
import zipfile
import zlib

import pytest
from PIL import Image, ImageFile
from PIL.PngImagePlugin import PngInfo

from backend.imaging import (
    ALLOWED_FORMATS,
    MIME_TYPES,
    DecodedImage,
    ImageInfo,
    ImageLimits,
    InvalidImage,
    inspect_image,
    make_thumbnail,
    sniff_extension,
    thumbnail_from_file,
)

NOT_AN_IMAGE = (
    "The file is not an image the program accepts. Accepted: PNG, JPEG, WebP, BMP, GIF, TIFF, "
    "HEIC/HEIF images, and DICOM x-rays."
)
DAMAGED = "The image is damaged or incomplete and cannot be read."
HIDDEN = (
    "The file carries hidden content after or inside the image "
    "(HTML, script, archive or program) and was refused."
)


def noise(size: tuple[int, int] = (64, 48), mode: str = "RGB") -> Image.Image:
    """Random pixels, so that compressed files are big enough to cut in meaningful places."""
    rgb = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    return rgb.convert(mode)


def encode(image: Image.Image, pillow_format: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=pillow_format, **params)
    return out.getvalue()


def png_chunk(chunk_type: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(chunk_type + body)
    return struct.pack(">I", len(body)) + chunk_type + body + struct.pack(">I", crc)


def png_declaring(width: int, height: int) -> bytes:
    """A few hundred bytes of 1-bit PNG whose header claims `width` × `height` pixels."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def zip_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("payload.js", "alert(document.cookie);")
    return out.getvalue()


def refusal(data: bytes, limits: ImageLimits | None = None) -> str:
    with pytest.raises(InvalidImage) as caught:
        inspect_image(data, limits or ImageLimits())
    return str(caught.value)


def thumbnail_image(thumbnail: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(thumbnail))
    assert image.format == "JPEG"
    assert image.mode == "RGB"
    return image


# --- accepted formats ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pillow_format", "extension", "mime"),
    [
        ("PNG", "png", "image/png"),
        ("JPEG", "jpg", "image/jpeg"),
        ("WEBP", "webp", "image/webp"),
        ("BMP", "bmp", "image/bmp"),
        ("GIF", "gif", "image/gif"),
        ("TIFF", "tif", "image/tiff"),
    ],
)
def test_each_allowed_format_is_accepted_with_its_real_info(
    pillow_format: str, extension: str, mime: str
) -> None:
    data = encode(noise((120, 80)), pillow_format)

    decoded = inspect_image(data)

    assert isinstance(decoded, DecodedImage)
    assert decoded.info == ImageInfo(pillow_format, extension, mime, 120, 80)
    assert decoded.image.size == (120, 80)
    assert decoded.image.im is not None  # pixels already decoded, ready for the thumbnail
    assert sniff_extension(data) == extension


def test_public_tables_map_formats_to_extensions_and_mime_types() -> None:
    assert ALLOWED_FORMATS == {
        "PNG": "png",
        "JPEG": "jpg",
        "WEBP": "webp",
        "BMP": "bmp",
        "GIF": "gif",
        "TIFF": "tif",
        "HEIF": "heic",
    }
    assert MIME_TYPES["heic"] == "image/heic" and MIME_TYPES["heif"] == "image/heif"
    assert MIME_TYPES["jpeg"] == MIME_TYPES["jpg"] == "image/jpeg"
    assert MIME_TYPES["tiff"] == MIME_TYPES["tif"] == "image/tiff"
    assert all(extension in MIME_TYPES for extension in ALLOWED_FORMATS.values())


def test_animated_gif_is_accepted_and_decoded_as_its_first_frame() -> None:
    frames = [Image.new("RGB", (40, 30), color) for color in ("red", "blue", "green")]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)

    decoded = inspect_image(data)

    assert decoded.info.format == "GIF"
    assert decoded.image.convert("RGB").getpixel((0, 0)) == (255, 0, 0)


def test_jpeg_with_trailing_zero_and_whitespace_padding_is_accepted() -> None:
    data = encode(noise(), "JPEG") + b"\x00" * 4096 + b" \r\n"

    assert inspect_image(data).info.format == "JPEG"


JPEG_VARIANTS = {
    "baseline": {},
    "progressive": {"progressive": True},
    "restart-markers": {"restart_marker_blocks": 1},
    "cmyk": {"mode": "CMYK"},
    "exif": {"exif": Image.Exif()},
}


def jpeg_variant(name: str) -> bytes:
    params = dict(JPEG_VARIANTS[name])
    return encode(noise((300, 200), str(params.pop("mode", "RGB"))), "JPEG", **params)


@pytest.mark.parametrize("name", JPEG_VARIANTS)
def test_jpeg_variants_are_accepted_and_their_end_is_found(name: str) -> None:
    data = jpeg_variant(name)

    assert inspect_image(data).info.format == "JPEG"
    assert refusal(data + b"\n/* */ alert(document.cookie);\n") == HIDDEN


def test_multi_picture_jpeg_from_a_phone_is_accepted_as_jpeg() -> None:
    out = io.BytesIO()
    noise((300, 200)).save(out, "MPO", save_all=True, append_images=[noise((300, 200))])

    decoded = inspect_image(out.getvalue())

    assert decoded.info == ImageInfo("JPEG", "jpg", "image/jpeg", 300, 200)


def test_jpeg_whose_metadata_holds_an_end_marker_is_accepted() -> None:
    # An embedded EXIF thumbnail carries its own FFD9 long before the real end of the image.
    exif = b"Exif\x00\x00" + b"\xff\xd8\xff\xdb" + os.urandom(200) + b"\xff\xd9"

    assert inspect_image(encode(noise(), "JPEG", exif=exif)).info.format == "JPEG"


# --- refused content ----------------------------------------------------------------------


def test_empty_bytes_are_refused() -> None:
    assert refusal(b"") == "The file is empty."


@pytest.mark.parametrize(
    "data",
    [
        b"Patient notes: tooth 36 needs a crown.\n",
        b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>",
        zip_bytes(),
        b"%PDF-1.7\n1 0 obj\n",
        b"MZ\x90\x00\x03" + bytes(100),
    ],
    ids=["text", "html", "zip", "pdf", "exe"],
)
def test_files_that_are_not_images_are_refused(data: bytes) -> None:
    assert refusal(data) == NOT_AN_IMAGE


@pytest.mark.parametrize("pillow_format", ["PNG", "JPEG"])
def test_truncated_image_is_refused(pillow_format: str) -> None:
    data = encode(noise((200, 150)), pillow_format)

    assert refusal(data[: len(data) // 2]) == DAMAGED


def test_png_without_its_end_chunk_is_refused() -> None:
    data = encode(noise(), "PNG")
    assert data.endswith(png_chunk(b"IEND", b""))

    assert refusal(data[:-12]) == DAMAGED


def test_header_of_a_known_format_followed_by_garbage_is_refused() -> None:
    assert refusal(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10) == DAMAGED


def test_pixel_bomb_is_refused_before_its_pixels_are_decoded() -> None:
    data = png_declaring(50_000, 50_000)
    assert len(data) < 200

    started = time.perf_counter()
    message = refusal(data)

    assert time.perf_counter() - started < 1.0
    assert "the limit is 120 million pixels" in message


def test_too_many_pixels_for_our_own_limit_is_refused_with_the_size() -> None:
    limits = ImageLimits(max_pixels=1_000_000)

    message = refusal(png_declaring(2000, 1000), limits)

    assert message == "The image is 2000 × 1000 pixels; the limit is 1 million pixels."


def test_too_long_side_is_refused() -> None:
    limits = ImageLimits(max_side=1000)

    message = refusal(png_declaring(1200, 10), limits)

    assert message == "The image is 1200 × 10 pixels; the limit is 1000 pixels per side."


def test_file_over_the_byte_limit_is_refused_before_anything_else() -> None:
    data = encode(noise(), "PNG") + bytes(80 * 1024 * 1024)

    assert refusal(data) == "The file is 80.0 MB; the limit is 64.0 MB."


def test_byte_limit_is_configurable() -> None:
    data = encode(noise((400, 300)), "BMP")  # 360 KB

    assert refusal(data, ImageLimits(max_bytes=200 * 1024)) == (
        "The file is 0.3 MB; the limit is 0.2 MB."
    )


# --- polyglots ----------------------------------------------------------------------------


def png_with_text(text: str) -> bytes:
    info = PngInfo()
    info.add_text("Comment", text)
    return encode(noise(), "PNG", pnginfo=info)


@pytest.mark.parametrize(
    "data",
    [
        encode(noise(), "PNG") + zip_bytes(),
        encode(noise(), "JPEG") + b"<html><body><img src=x onerror=alert(1)></body></html>",
        encode(noise(), "GIF") + b"\n*/=1;alert(document.cookie);//",
        png_with_text("<script>alert(1)</script>"),
        png_with_text("<SVG onload=alert(1)>"),
        png_with_text("<?php system($_GET['c']); ?>"),
        encode(noise(), "JPEG") + b"MZ\x90\x00" + bytes(64),
        encode(noise(), "JPEG") + b"%PDF-1.4\n" + os.urandom(64),
        encode(noise(), "WEBP") + zip_bytes(),
        encode(noise(), "BMP") + b"<!doctype html>",
        encode(noise(), "JPEG") + zip_bytes() + b"\xff\xd9",
    ],
    ids=[
        "png+zip",
        "jpeg+html",
        "gif+javascript",
        "png-text-script",
        "png-text-svg-uppercase",
        "png-text-php",
        "jpeg+exe",
        "jpeg+pdf",
        "webp+zip",
        "bmp+doctype",
        "jpeg+zip-ending-in-eoi",
    ],
)
def test_image_carrying_hidden_content_is_refused(data: bytes) -> None:
    assert refusal(data) == HIDDEN


# --- decoding once, thumbnails ------------------------------------------------------------


def test_inspection_and_thumbnail_decode_the_upload_only_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = encode(noise((1600, 1200)), "JPEG", quality=90)
    opened: list[ImageFile.ImageFile] = []
    original_open = Image.open

    def counting_open(*args: object, **kwargs: object) -> Image.Image:
        opened.append(original_open(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(Image, "open", counting_open)

    thumbnail = make_thumbnail(inspect_image(data).image)

    assert [image.format for image in opened] == ["JPEG"]  # one file opened, decoded once
    assert thumbnail_image(thumbnail).size == (320, 240)


@pytest.mark.parametrize("pillow_format", sorted(ALLOWED_FORMATS))
def test_thumbnail_of_each_format_is_an_rgb_jpeg_within_the_size(pillow_format: str) -> None:
    decoded = inspect_image(encode(noise((900, 300)), pillow_format))

    image = thumbnail_image(make_thumbnail(decoded.image))

    assert image.size == (320, 107)


def test_thumbnail_respects_a_custom_size_and_never_enlarges() -> None:
    small = noise((50, 40))

    assert thumbnail_image(make_thumbnail(noise((400, 1000)), max_side=100)).size == (40, 100)
    assert thumbnail_image(make_thumbnail(small)).size == (50, 40)


def test_thumbnail_applies_exif_orientation() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    data = encode(noise((200, 100)), "JPEG", exif=exif)
    decoded = inspect_image(data)

    image = thumbnail_image(make_thumbnail(decoded.image))

    assert image.size == (100, 200)
    assert decoded.image.size == (200, 100)  # the decoded image itself is left as it was


def test_transparent_areas_become_white_in_the_thumbnail() -> None:
    rgba = Image.new("RGBA", (100, 100), (255, 0, 0, 0))
    rgba.paste((0, 0, 255, 255), (0, 0, 50, 100))
    decoded = inspect_image(encode(rgba, "PNG"))

    image = thumbnail_image(make_thumbnail(decoded.image))

    left, right = image.getpixel((10, 50)), image.getpixel((90, 50))
    assert left[2] > 200 and left[0] < 50  # opaque blue stays blue
    assert min(right) > 240  # transparent red is shown on white


def sixteen_bit_xray(mode: str = "I;16", size: tuple[int, int] = (256, 200)) -> Image.Image:
    """A 12-bit ramp stored in 16 bits, as many x-ray sensors deliver it."""
    ramp = Image.linear_gradient("L").resize(size).convert("I")
    return ramp.point(lambda value: value * 16).convert(mode)


@pytest.mark.parametrize("pillow_format", ["PNG", "TIFF"])
@pytest.mark.parametrize("size", [(256, 200), (2000, 1500)])
def test_sixteen_bit_grayscale_xray_gives_a_full_range_rgb_thumbnail(
    pillow_format: str, size: tuple[int, int]
) -> None:
    decoded = inspect_image(encode(sixteen_bit_xray(size=size), pillow_format))
    assert decoded.image.mode == "I;16"

    image = thumbnail_image(make_thumbnail(decoded.image))

    darkest, brightest = image.convert("L").getextrema()
    assert darkest < 20
    assert brightest > 235  # stretched, not divided by 256 into a black picture


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "PA", "CMYK", "I", "F", "I;16B", "RGBa"])
def test_thumbnail_converts_any_mode_to_rgb(mode: str) -> None:
    size = (800, 600)  # large enough for Pillow to reduce before resampling
    source = sixteen_bit_xray(mode, size) if mode in ("I", "F", "I;16B") else noise(size, mode)

    image = thumbnail_image(make_thumbnail(source))

    assert image.size == (320, 240)


def test_thumbnail_of_a_flat_sixteen_bit_image_does_not_fail() -> None:
    flat = Image.new("I;16", (30, 20), 1000)

    assert thumbnail_image(make_thumbnail(flat)).size == (30, 20)


def test_thumbnail_from_file_rebuilds_a_thumbnail_of_a_stored_image(tmp_path) -> None:
    path = tmp_path / "xray.tif"
    path.write_bytes(encode(sixteen_bit_xray(), "TIFF"))

    image = thumbnail_image(thumbnail_from_file(path, max_side=128))

    assert image.size == (128, 100)


def test_thumbnail_from_file_refuses_unreadable_files(tmp_path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(encode(noise(), "PNG")[:100])

    with pytest.raises(InvalidImage, match="damaged"):
        thumbnail_from_file(broken)
    with pytest.raises(InvalidImage, match="cannot be read"):
        thumbnail_from_file(tmp_path / "missing.png")
    with pytest.raises(InvalidImage, match="the limit is"):
        thumbnail_from_file(broken, limits=ImageLimits(max_bytes=10))


# --- sniffing and global state ------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "extension"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", "png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "jpg"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "webp"),
        (b"BM\x36\x00\x00\x00", "bmp"),
        (b"GIF87a\x01\x00", "gif"),
        (b"GIF89a\x01\x00", "gif"),
        (b"II*\x00\x08\x00\x00\x00", "tif"),
        (b"MM\x00*\x00\x00\x00\x08", "tif"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", None),
        (b"PK\x03\x04", None),
        (b"<svg xmlns=", None),
        (b"", None),
    ],
)
def test_sniff_extension_reads_only_the_magic_number(head: bytes, extension: str | None) -> None:
    assert sniff_extension(head) == extension


def test_validation_leaves_pillow_global_settings_alone() -> None:
    before = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES)

    refusal(png_declaring(50_000, 50_000))
    inspect_image(encode(noise(), "JPEG"))

    assert before == (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
