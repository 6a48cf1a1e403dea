"""A patient's chart: per tooth, image counts per type and treatments."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend import teeth
from backend.models import IMAGE_TYPES, Image, Treatment
from backend.usecases.image_teeth import link_counts
from backend.usecases.patients import get_patient


def patient_chart(session: Session, patient_id: str) -> dict[str, Any]:
    """{"patient_id", "teeth": {code: {"counts": {type: n}, "total": n, "treatments": [..]}},
    "general": {"counts", "total"}} for every tooth that has images or treatments (absent teeth
    have none); "general" counts the patient-level images (no tooth), always present. A tooth
    counts its own images and those linked to it (one image counts on each tooth it shows;
    the patient's images are counted once elsewhere, by row)."""
    patient = get_patient(session, patient_id)
    chart: dict[str, dict[str, Any]] = {}

    def entry(code: str) -> dict[str, Any]:
        if code not in chart:
            chart[code] = {"counts": dict.fromkeys(IMAGE_TYPES, 0), "total": 0, "treatments": []}
        return chart[code]

    counts = session.execute(
        select(Image.tooth, Image.image_type, func.count(), func.max(Image.updated_at))
        .where(Image.patient_id == patient.id, Image.deleted_at.is_(None))
        .group_by(Image.tooth, Image.image_type)
    )
    changes = [patient.updated_at]
    general: dict[str, Any] = {"counts": dict.fromkeys(IMAGE_TYPES, 0), "total": 0}
    for tooth, image_type, count, changed in counts:
        item = general if tooth is None else entry(tooth)
        item["counts"][image_type] = count
        item["total"] += count
        changes.append(changed)
    links = 0
    for tooth, image_type, count, changed in link_counts(session, patient.id):
        item = entry(tooth)
        item["counts"][image_type] += count
        item["total"] += count
        links += count
        changes.append(changed)
    treatments = session.execute(
        select(
            Treatment.id,
            Treatment.tooth,
            Treatment.treatment_type,
            Treatment.status,
            Treatment.color,
            Treatment.priority,
            Treatment.updated_at,
        )
        .where(Treatment.patient_id == patient.id)
        .order_by(Treatment.priority, Treatment.created_at)
    )
    for row in treatments:
        changes.append(row.updated_at)
        entry(row.tooth)["treatments"].append(
            {
                "id": row.id,
                "treatment_type": row.treatment_type,
                "status": row.status,
                "color": row.color,
                "priority": row.priority,
            }
        )
    ordered = dict(sorted(chart.items(), key=lambda kv: teeth.sort_key(kv[0])))
    revision = _revision(ordered, changes, general["total"] - links)
    return {"patient_id": patient.id, "teeth": ordered, "general": general, "revision": revision}


def _revision(chart: dict[str, Any], changes: list[Any], general: int = 0) -> str:
    """Changes whenever anything of the patient shown on screen changes (an edited description,
    one image deleted and another added): another PC polls it to know when to refresh."""
    images = general + sum(item["total"] for item in chart.values())
    treatments = sum(len(item["treatments"]) for item in chart.values())
    latest = max((c for c in changes if c is not None), default=None)
    return f"{images}.{treatments}.{latest.isoformat() if latest else '-'}"
