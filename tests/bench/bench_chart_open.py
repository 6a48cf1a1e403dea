"""Chart and tooth panel benchmark, in Debian's Chromium against the real local server:
opening a patient with 2,000 images to the first painted chart (target <= 150 ms), and opening
a tooth with 300 images to its first thumbnails shown (target <= 300 ms).

Each figure is timed in the page, from the click to the frame painted after what a person
waits for is on screen (the patient's name and every tooth's badge; the first row of decoded
thumbnails). The reference, measured in the same page in the same run, is the bare fetch of
the answers that view asks for (the patient and its chart; the tooth's image list and its first
thumbnails), so the ratio is what rendering adds to the server's answer.

The 300 images of the tooth are real uploads (JPEG photos, thumbnails made by the program); the
other 1,700 are rows on the other teeth (the chart reads counts only).

Run: .venv/bin/python -m tests.bench.bench_chart_open [--rounds 15] [--tooth-images 300]
     [--patient-images 2000]"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import uuid
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import insert

from backend.config import load_settings
from backend.models import Image as ImageRow
from backend.models import utcnow
from backend.server import bind_server
from backend.startup import open_runtime
from backend.teeth import PERMANENT
from backend.usecases import patients
from backend.usecases.images import Upload, add_images
from tests.bench.common import percentile
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.helpers import image_bytes

TOOTH = "8"
FIRST_ROW = 4  # thumbnails in the panel's first row at 1366 px

# In the page: click, then resolve with the milliseconds until the frame after `ready()` holds.
OPEN_AND_TIME = """async ([selector, readyBody]) => {
  const ready = new Function(readyBody);
  const painted = () => new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)));
  const start = performance.now();
  const shown = new Promise((resolve) => {
    const check = () => {
      if (!ready()) return false;
      observer.disconnect();
      resolve();
      return true;
    };
    const observer = new MutationObserver(check);
    observer.observe(document.body, { subtree: true, childList: true, attributes: true,
                                      characterData: true });
    document.addEventListener('load', check, true);  // a thumbnail decoded after the DOM is in
  });
  // a tooth is an SVG group, which has no click(): send the click a mouse would
  document.querySelector(selector).dispatchEvent(new MouseEvent('click', { bubbles: true }));
  await shown;
  await painted();
  return performance.now() - start;
}"""

FETCH_AND_TIME = """async (paths) => {
  const token = document.querySelector('meta[name="dental-token"]').content;
  const start = performance.now();
  await Promise.all(paths.map(async (path) => {
    const answer = await fetch(path, { headers: { 'X-Dental-Token': token } });
    if (path.includes('/thumbnail')) await createImageBitmap(await answer.blob());
    else await answer.json();
  }));
  return performance.now() - start;
}"""

LIST = """(path) => fetch(path, { headers: { 'X-Dental-Token':
  document.querySelector('meta[name="dental-token"]').content } }).then((r) => r.json())"""


def chart_ready(name: str, teeth_with_images: int) -> str:
    return (
        f"return document.querySelector('#patient-name').textContent === {name!r} && "
        "!document.querySelector('#patient-view').classList.contains('loading') && "
        f"document.querySelectorAll('#tooth-chart .badge').length >= {teeth_with_images};"
    )


def tooth_ready(images: int) -> str:
    return (
        f"const cards = document.querySelectorAll('#image-grid .image-card img');"
        f"return cards.length === {images} && "
        f"[...cards].slice(0, {FIRST_ROW}).every((i) => i.complete && i.naturalWidth > 0);"
    )


def seed(runtime, tooth_images: int, patient_images: int) -> tuple[dict, dict]:
    rng = random.Random(7)
    with runtime.sessions() as session:
        big = patients.create_patient(session, {"full_name": "Busy Patient"})
        small = patients.create_patient(session, {"full_name": "Quiet Patient"})
        for n in range(tooth_images):
            colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
            upload = Upload(f"photo-{n}.jpg", image_bytes("JPEG", (1024, 768), colour))
            [result] = add_images(session, runtime.store, big.id, TOOTH, "clinical", [upload])
            assert result.image is not None, result
        upload = Upload("only.jpg", image_bytes("JPEG", (640, 480), (90, 90, 90)))
        add_images(session, runtime.store, small.id, TOOTH, "clinical", [upload])
        big_id, small_id = big.id, small.id
    other_teeth = [code for code in PERMANENT if code != TOOTH]
    now = utcnow()
    rows = []
    for n in range(patient_images - tooth_images):
        tooth = other_teeth[n % len(other_teeth)]
        rows.append(
            {
                "id": str(uuid.uuid4()),
                "patient_id": big_id,
                "tooth": tooth,
                "image_type": "xray",
                "folder_path": f"dental_images/{big_id}/{tooth}/xray/",
                "file_name": f"row-{n}.jpg",
                "taken_date": date(2024, 1, 1) + timedelta(days=n % 700),
                "size_bytes": 1,
                "sha256": "0" * 64,
                "width": 1,
                "height": 1,
                "format": "JPEG",
                "created_at": now,
                "updated_at": now,
            }
        )
    with runtime.engine.begin() as connection:
        connection.execute(insert(ImageRow), rows)
    return {"id": big_id, "name": "Busy Patient"}, {"id": small_id, "name": "Quiet Patient"}


def describe(label: str, samples: list[float], reference: list[float], target: float) -> str:
    ours, ref = statistics.median(samples), statistics.median(reference)
    p95 = percentile(samples, 0.95)
    return (
        f"{label}: p50={ours:.1f} ms p95={p95:.1f} ms "
        f"(target <= {target:.0f} ms: {'met' if p95 <= target else 'NOT met'})"
        f"; reference (bare fetch of its answers) p50={ref:.1f} ms; ratio {ours / ref:.2f}x"
    )


def run(rounds: int, tooth_images: int, patient_images: int) -> list[str]:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        runtime = open_runtime(load_settings(Path(folder) / "data"))
        try:
            big, small = seed(runtime, tooth_images, patient_images)
            server = bind_server(runtime, 0)
            server.start_in_thread()
            try:
                with sync_playwright() as playwright:
                    browser = playwright.chromium.launch(
                        executable_path=CHROMIUM, args=CHROMIUM_ARGS
                    )
                    page = browser.new_page(viewport={"width": 1366, "height": 900})
                    page.goto(server.launch_url)
                    page.wait_for_selector("body[data-ready='true']")
                    lines = measure(page, rounds, big, small, tooth_images, patient_images)
                    browser.close()
            finally:
                server.close()
        finally:
            runtime.close()
    return lines


def measure(
    page, rounds: int, big: dict, small: dict, tooth_images: int, patient_images: int
) -> list[str]:
    item = "#patient-list li[data-patient-id='{id}']"
    tooth = f"#tooth-chart [data-tooth='{TOOTH}']"
    opens, open_refs, teeth, tooth_refs = [], [], [], []
    for n in range(rounds + 1):  # the first round warms the page up and is not counted
        page.evaluate(OPEN_AND_TIME, [item.format(**small), chart_ready(small["name"], 1)])
        opened = page.evaluate(OPEN_AND_TIME, [item.format(**big), chart_ready(big["name"], 32)])
        reference = page.evaluate(
            FETCH_AND_TIME, [f"api/patients/{big['id']}", f"api/patients/{big['id']}/chart"]
        )
        shown = page.evaluate(OPEN_AND_TIME, [tooth, tooth_ready(tooth_images)])
        listed = page.evaluate(LIST, f"api/patients/{big['id']}/teeth/{TOOTH}/images")
        first = [image["thumbnail_url"].lstrip("/") for image in listed["images"][:FIRST_ROW]]
        tooth_reference = page.evaluate(
            FETCH_AND_TIME, [f"api/patients/{big['id']}/teeth/{TOOTH}/images", *first]
        )
        if n:
            opens.append(opened)
            open_refs.append(reference)
            teeth.append(shown)
            tooth_refs.append(tooth_reference)
    return [
        describe(f"open a patient of {patient_images} images", opens, open_refs, 150),
        describe(f"open a tooth of {tooth_images} images", teeth, tooth_refs, 300),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--tooth-images", type=int, default=300)
    parser.add_argument("--patient-images", type=int, default=2000)
    args = parser.parse_args(argv)
    for line in run(args.rounds, args.tooth_images, args.patient_images):
        print(line)


if __name__ == "__main__":
    main()
