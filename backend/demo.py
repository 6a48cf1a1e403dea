"""Demo data for trying the program: a few patients with treatments and generated images (made
in memory with Pillow and stored through the ordinary upload path, so they pass every check a
real upload passes)."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from PIL import Image, ImageDraw, ImageFilter, ImageFont
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.errors import Conflict
from backend.i18n import gettext
from backend.models import Patient
from backend.storage import ImageStore
from backend.usecases import images, patients, trash, treatments

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _DemoImage:
    tooth: str
    image_type: str
    days_ago: int
    size: tuple[int, int]
    description: str
    treatment: str | None = None  # treatment_type of the same tooth's treatment to link to


@dataclass(frozen=True)
class _DemoPatient:
    fields: dict[str, Any]
    treatments: list[dict[str, Any]] = field(default_factory=list)
    images: list[_DemoImage] = field(default_factory=list)


def _treatment(
    tooth: str,
    kind: str,
    category: str,
    status: str,
    color: str,
    *,
    started: int | None = None,
    completed: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A treatment's fields; `started` and `completed` are days before today."""
    return {
        "tooth": tooth,
        "treatment_type": kind,
        "category": category,
        "status": status,
        "color": color,
        "start_date": started,
        "completion_date": completed,
        **extra,
    }


DEMO_PATIENTS: tuple[_DemoPatient, ...] = (
    _DemoPatient(
        fields={
            "full_name": "Sarah Mitchell",
            "gender": "female",
            "age": 34,
            "phone": "555-0142",
            "email": "sarah.mitchell@example.com",
            "allergies": "Penicillin",
            "notes": "Prefers morning appointments.",
        },
        treatments=[
            _treatment(
                "3",
                "Crown",
                "Prosthodontics",
                "completed",
                "#22c55e",
                started=245,
                completed=200,
                cost="850.00",
            ),
            _treatment("14", "Composite filling", "Restorative", "planned", "#3b82f6"),
            _treatment(
                "30",
                "Scaling and root planing",
                "Periodontics",
                "in_progress",
                "#f59e0b",
                started=60,
            ),
            # a second treatment of the same tooth: the chart splits its crown's colour
            _treatment("30", "Composite filling", "Restorative", "planned", "#3b82f6"),
        ],
        images=[
            _DemoImage(
                "3", "before", 245, (1200, 900), "Fractured cusp before preparation", "Crown"
            ),
            _DemoImage("3", "xray", 245, (700, 900), "Periapical before the crown", "Crown"),
            _DemoImage("3", "after", 200, (1200, 900), "Crown seated", "Crown"),
            _DemoImage("14", "clinical", 30, (1024, 768), "Occlusal caries"),
            _DemoImage("30", "xray", 60, (900, 700), "Bitewing", "Scaling and root planing"),
        ],
    ),
    _DemoPatient(
        fields={
            "full_name": "أحمد خليل",
            "gender": "male",
            "age": 52,
            "phone": "+971 50 123 4567",
            "medical_conditions": "Type 2 diabetes",
            "notes": "Speaks Arabic and English.",
        },
        treatments=[
            _treatment(
                "19", "Root canal treatment", "Endodontics", "in_progress", "#f97316", started=20
            ),
            _treatment(
                "30",
                "Implant",
                "Implantology",
                "completed",
                "#8b5cf6",
                started=300,
                completed=120,
                cost="2400.00",
            ),
        ],
        images=[
            _DemoImage(
                "19", "before", 20, (1024, 768), "Deep distal caries", "Root canal treatment"
            ),
            _DemoImage(
                "19", "xray", 20, (700, 900), "Pre-operative periapical", "Root canal treatment"
            ),
            _DemoImage("30", "before", 300, (800, 600), "Site of the missing tooth", "Implant"),
            _DemoImage("30", "xray", 180, (700, 900), "Implant fixture in place", "Implant"),
            _DemoImage("30", "after", 120, (800, 600), "Final restoration", "Implant"),
        ],
    ),
    _DemoPatient(
        fields={
            "full_name": "Daniel Okafor",
            "gender": "male",
            "age": 27,
            "phone": "555-0178",
            "email": "d.okafor@example.com",
        },
        treatments=[
            _treatment(
                "8",
                "Porcelain veneer",
                "Cosmetic",
                "completed",
                "#ec4899",
                started=150,
                completed=120,
            ),
            _treatment(
                "1",
                "Extraction",
                "Oral surgery",
                "cancelled",
                "#ef4444",
                notes="Patient chose to keep the tooth for now.",
            ),
            _treatment("9", "Whitening", "Cosmetic", "planned", "#eab308"),
        ],
        images=[
            _DemoImage("8", "before", 150, (1280, 960), "Chipped incisal edge", "Porcelain veneer"),
            _DemoImage("8", "after", 120, (1280, 960), "Veneer bonded", "Porcelain veneer"),
            _DemoImage("1", "xray", 160, (900, 700), "Impacted third molar"),
        ],
    ),
    _DemoPatient(
        fields={
            "full_name": "María González",
            "gender": "female",
            "age": 8,
            "phone": "555-0119",
            "notes": "Child patient: primary teeth. Parent: Lucía González.",
        },
        treatments=[
            _treatment("K", "Fissure sealant", "Preventive", "planned", "#14b8a6"),
            _treatment(
                "I", "Pulpotomy", "Paediatric", "completed", "#22c55e", started=90, completed=90
            ),
        ],
        images=[
            _DemoImage("K", "clinical", 10, (1024, 768), "Deep fissures"),
            _DemoImage("I", "xray", 90, (900, 700), "Bitewing", "Pulpotomy"),
            _DemoImage("I", "other", 90, (800, 600), "Mirror view after treatment", "Pulpotomy"),
        ],
    ),
)

_DATE_FIELDS = ("start_date", "completion_date")
_PHOTO_TINTS = {
    "before": ((196, 92, 104), (120, 40, 52)),
    "after": ((214, 120, 128), (150, 62, 74)),
    "clinical": ((188, 100, 112), (96, 36, 48)),
    "other": ((90, 120, 160), (30, 50, 80)),
}


def create_demo_data(
    session: Session, store: ImageStore, *, today: date | None = None
) -> dict[str, int]:
    """Add the demo patients with their treatments and images, dated back from `today`.
    Refuses (Conflict) when any patient exists. Returns how many of each were made."""
    if session.scalar(select(Patient.id).limit(1)) is not None:
        raise Conflict(
            gettext(
                "Demo data can only be added to an empty installation; this one already has "
                "patients."
            )
        )
    day = today or date.today()
    counts = {"patients": 0, "treatments": 0, "images": 0}
    created: list[str] = []
    try:
        for demo in DEMO_PATIENTS:
            patient = patients.create_patient(session, demo.fields)
            created.append(patient.id)
            counts["patients"] += 1
            linked: dict[tuple[str, str], str] = {}
            for data in demo.treatments:
                treatment = treatments.create_treatment(session, patient.id, _dated(data, day))
                linked[(treatment.tooth, treatment.treatment_type)] = treatment.id
                counts["treatments"] += 1
            for number, picture in enumerate(demo.images, start=1):
                counts["images"] += _add_image(
                    session, store, patient.id, picture, day, linked, number
                )
    except BaseException:
        # A half-made demo would block the next attempt: take away what was added.
        session.rollback()
        for patient_id in created:
            patients.delete_patient(session, store, patient_id)
        trash.purge(session, store, everything=True, patient_ids=created)  # not even in the trash
        raise
    log.info(
        "demo data created: %d patients, %d treatments, %d images",
        counts["patients"],
        counts["treatments"],
        counts["images"],
    )
    return counts


def _dated(data: dict[str, Any], today: date) -> dict[str, Any]:
    """A demo treatment with its day counts turned into dates before `today`."""
    return {
        key: today - timedelta(days=value) if key in _DATE_FIELDS and value is not None else value
        for key, value in data.items()
    }


def _add_image(
    session: Session,
    store: ImageStore,
    patient_id: str,
    picture: _DemoImage,
    today: date,
    linked: dict[tuple[str, str], str],
    number: int,
) -> int:
    taken = today - timedelta(days=picture.days_ago)
    label = f"Tooth {picture.tooth} - {picture.image_type} - {taken.isoformat()}"
    if picture.image_type == "xray":
        name, data = f"xray-{picture.tooth}-{number}.png", _xray(label, picture.size)
    elif picture.image_type == "other":
        name, data = f"photo-{picture.tooth}-{number}.webp", _photo(label, picture, "WEBP")
    else:
        name, data = f"photo-{picture.tooth}-{number}.jpg", _photo(label, picture, "JPEG")
    treatment_id = linked.get((picture.tooth, picture.treatment)) if picture.treatment else None
    results = images.add_images(
        session,
        store,
        patient_id,
        picture.tooth,
        picture.image_type,
        [images.Upload(name=name, data=data)],
        treatment_id=treatment_id,
        description=picture.description,
        taken_date=taken,
    )
    for result in results:
        if result.error is not None:
            raise result.error
    return len(results)


# A colour as Pillow's drawing takes it: a grey level (L pictures) or an RGB triple.
Colour = int | tuple[int, int, int]


def _font(height: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(14, height // 22))


def _draw_tooth(
    draw: ImageDraw.ImageDraw, box: tuple[float, float, float, float], fill: Colour
) -> None:
    """A molar-like outline: a rounded crown over two tapering roots."""
    left, top, right, bottom = box
    width, height = right - left, bottom - top
    neck = top + height * 0.45
    middle = left + width / 2
    draw.rounded_rectangle(
        (left, top, right, neck + height * 0.06), radius=int(width * 0.28), fill=fill
    )
    draw.polygon(
        [
            (left + width * 0.08, neck),
            (middle - width * 0.02, neck),
            (middle - width * 0.12, bottom),
            (left + width * 0.24, bottom - height * 0.04),
        ],
        fill=fill,
    )
    draw.polygon(
        [
            (middle + width * 0.02, neck),
            (right - width * 0.08, neck),
            (right - width * 0.24, bottom - height * 0.04),
            (middle + width * 0.12, bottom),
        ],
        fill=fill,
    )


def _caption(picture: Image.Image, label: str, fill: Colour, background: Colour) -> None:
    draw = ImageDraw.Draw(picture)
    font = _font(picture.height)
    margin = max(8, picture.height // 60)
    x0, y0, _x1, y1 = draw.textbbox((0, 0), label, font=font)
    top = picture.height - (y1 - y0) - 3 * margin
    draw.rectangle((0, top, picture.width, picture.height), fill=background)
    draw.text((margin - x0, top + margin - y0), label, font=font, fill=fill)


def _photo(label: str, picture: _DemoImage, fmt: str) -> bytes:
    """A clinical-photo-like colour picture: gum-toned gradient, an ivory tooth, a caption."""
    width, height = picture.size
    light, dark = _PHOTO_TINTS.get(picture.image_type, _PHOTO_TINTS["clinical"])
    canvas = Image.linear_gradient("L").resize((width, height))
    canvas = Image.composite(
        Image.new("RGB", (width, height), dark), Image.new("RGB", (width, height), light), canvas
    )
    draw = ImageDraw.Draw(canvas)
    shade = (246, 240, 222) if picture.image_type == "after" else (226, 214, 180)
    _draw_tooth(draw, (width * 0.34, height * 0.12, width * 0.66, height * 0.8), shade)
    if picture.image_type == "before":
        draw.ellipse(
            (width * 0.44, height * 0.2, width * 0.52, height * 0.3), fill=(92, 70, 48)
        )  # a dark lesion, so before and after differ at a glance
    canvas = canvas.filter(ImageFilter.GaussianBlur(radius=max(1, width // 400)))
    _caption(canvas, label, fill=(255, 255, 255), background=(20, 20, 20))
    out = io.BytesIO()
    canvas.save(out, format=fmt, quality=85)
    return out.getvalue()


def _xray(label: str, size: tuple[int, int]) -> bytes:
    """An x-ray-like grayscale picture: grainy dark film, bright tooth and neighbours, dark pulp."""
    width, height = size
    film = Image.effect_noise((width, height), 24).point(lambda v: v // 4)
    draw = ImageDraw.Draw(film)
    for offset, brightness in ((-0.36, 120), (0.36, 120), (0.0, 205)):
        left = width * (0.33 + offset)
        _draw_tooth(draw, (left, height * 0.1, left + width * 0.34, height * 0.82), brightness)
    draw.rounded_rectangle(
        (width * 0.47, height * 0.22, width * 0.53, height * 0.62),
        radius=max(2, width // 60),
        fill=70,
    )
    film = film.filter(ImageFilter.GaussianBlur(radius=max(2, width // 250)))
    _caption(film, label, fill=235, background=10)
    out = io.BytesIO()
    film.save(out, format="PNG")
    return out.getvalue()
