"""Slow, out-of-order answers in a real Chromium, and "what is shown = what the database says".

Playwright's `page.route` handlers run on the test's thread, so one that sleeps blocks the sync
API; instead an init script wraps the page's own `fetch` (and `XMLHttpRequest.send`, which the
uploads use) and delays each call whose address matches a rule by a seeded random amount. The
rules live in `window.__slow` and can be changed while the page runs."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import select

from backend.models import Image, Patient

DELAY_SCRIPT = """
(config) => {
  let seed = config.seed >>> 0;
  const random = () => { // mulberry32: the same delays for the same seed
    seed = (seed + 0x6D2B79F5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  window.__slow = { rules: config.rules, delayed: 0 };
  const delayFor = (url) => {
    const rule = window.__slow.rules.find((r) => new RegExp(r.pattern).test(url));
    return rule ? rule.min + random() * (rule.max - rule.min) : 0;
  };
  const realFetch = window.fetch.bind(window);
  window.fetch = async (input, init) => {
    const url = typeof input === "string" ? input : input.url;
    const ms = delayFor(url);
    if (ms) {
      window.__slow.delayed += 1;
      await new Promise((resolve) => setTimeout(resolve, ms));
    }
    return realFetch(input, init);
  };
  const open = XMLHttpRequest.prototype.open;
  const send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.open = function (method, url, ...rest) {
    this.__url = String(url);
    return open.call(this, method, url, ...rest);
  };
  XMLHttpRequest.prototype.send = function (body) {
    const ms = delayFor("upload " + this.__url);
    if (!ms) return send.call(this, body);
    window.__slow.delayed += 1;
    setTimeout(() => send.call(this, body), ms);
  };
}
"""


def slow_down(page, rules: list[dict], seed: int = 1) -> None:
    """Reload `page` with the delaying wrapper: rules are {pattern (a JS regular expression on
    the address; uploads are matched as "upload <address>"), min, max} in ms."""
    config = {"seed": seed, "rules": rules}
    page.add_init_script(script=f"({DELAY_SCRIPT})({json.dumps(config)})")
    page.reload()
    page.wait_for_selector("body[data-ready='true']")


def set_rules(page, rules: list[dict]) -> None:
    page.evaluate("(rules) => { window.__slow.rules = rules; }", rules)


def settle(page, timeout_ms: int = 20_000) -> None:
    """Wait until no request and no upload is on its way (twice, a moment apart: a debounced
    search starts its request a little after the keystroke)."""
    for _ in range(2):
        page.wait_for_function(
            "() => document.documentElement.dataset.requests === '0'"
            " && !document.querySelector('.upload-batch.running')",
            timeout=timeout_ms,
        )
        page.wait_for_timeout(180)


SHOWN_SCRIPT = """() => {
  const text = (sel) => document.querySelector(sel)?.textContent ?? null;
  const panel = document.querySelector('#tooth-panel');
  const tabs = {};
  for (const tab of document.querySelectorAll('#type-tabs [data-tab]')) {
    const count = tab.querySelector('.count');
    if (count) tabs[tab.dataset.tab] = count.textContent;
  }
  const badges = {};
  for (const tooth of document.querySelectorAll('#tooth-chart .tooth')) {
    const badge = tooth.querySelector('.badge text');
    badges[tooth.dataset.tooth] = badge ? badge.textContent : '0';
  }
  const selectedRow = document.querySelector('#patient-list li[aria-selected="true"]');
  const showingTimeline = !document.querySelector('#timeline').hidden;
  const root = showingTimeline ? '#timeline' : '#image-grid';
  const cards = document.querySelectorAll(`${root} .image-card`);
  return {
    patientView: !document.querySelector('#patient-view').hidden,
    loading: document.querySelector('#patient-view').classList.contains('loading'),
    patientName: text('#patient-name'),
    selectedPatientId: selectedRow ? selectedRow.dataset.patientId : null,
    listCounts: Object.fromEntries(
      [...document.querySelectorAll('#patient-list li[data-patient-id]')]
        .map((li) => [li.dataset.patientId, li.querySelector('.count').textContent])),
    panelOpen: !panel.hidden,
    panelBusy: panel.getAttribute('aria-busy') === 'true',
    title: text('#tooth-title'),
    selectedTooth: document.querySelector('#tooth-chart .tooth.selected')?.dataset.tooth ?? null,
    tab: document.querySelector('#type-tabs [aria-selected="true"]')?.dataset.tab ?? null,
    tabs,
    cards: [...cards].map((c) => c.dataset.imageId),
    badges,
  };
}"""


@dataclass
class Truth:
    """What the database holds for one patient."""

    name: str
    images: dict[str, tuple[str | None, str]]  # id → (tooth, type)

    def of_tooth(self, tooth: str) -> dict[str, str]:
        return {i: kind for i, (t, kind) in self.images.items() if t == tooth}

    def badge(self, tooth: str) -> str:
        n = len(self.of_tooth(tooth))
        return "99+" if n > 99 else str(n)


def truth(runtime, patient_id: str) -> Truth:
    with runtime.sessions() as session:
        patient = session.get(Patient, patient_id)
        rows = session.execute(
            select(Image.id, Image.tooth, Image.image_type).where(Image.patient_id == patient_id)
        ).all()
    return Truth(patient.full_name, {r.id: (r.tooth, r.image_type) for r in rows})


def shown(page) -> dict:
    return page.evaluate(SHOWN_SCRIPT)


TITLE = re.compile(r"^Tooth (\S+) · ")


def titled_tooth(view: dict) -> str | None:
    match = TITLE.match(view["title"] or "")
    return match.group(1) if match else None


def assert_never_wrong(page, runtime, patient_ids: dict[str, str]) -> dict:
    """At any moment, settled or not: every image card on screen belongs to the patient named
    in the heading and to the tooth named in the panel's title (universal numbering: labels are
    the codes); the tooth marked in the chart is the panel's tooth. Returns what was shown."""
    view = shown(page)
    if not view["patientView"] or not view["panelOpen"]:
        return view
    tooth = titled_tooth(view)
    assert tooth is not None, view["title"]
    assert view["selectedTooth"] == tooth, f"chart marks {view['selectedTooth']}, panel {tooth}"
    patient_id = patient_ids.get(view["patientName"])
    assert patient_id is not None, f"heading {view['patientName']!r} is no patient of the test"
    if view["cards"]:
        db = truth(runtime, patient_id)
        wrong = [c for c in view["cards"] if c not in db.of_tooth(tooth)]
        # a card deleted meanwhile cannot be told from a wrong one here: there are no deletions
        assert not wrong, f"images {wrong} shown under tooth {tooth} of {view['patientName']}"
    return view


def assert_shown_is_database(page, runtime, patient_ids: dict[str, str]) -> dict:
    """Settled: the heading, list selection, title, tab counts, the grid's images, every badge
    of the chart and the list's image counts are the database's."""
    view = shown(page)
    assert view["patientView"] and not view["loading"], view
    patient_id = view["selectedPatientId"]
    db = truth(runtime, patient_id)
    assert view["patientName"] == db.name
    assert patient_ids[db.name] == patient_id
    per_tooth = Counter(t for t, _ in db.images.values() if t is not None)
    for code, badge in view["badges"].items():
        assert badge == str(per_tooth.get(code, 0)), f"badge of {code}: {badge}, db {per_tooth}"
    for name, pid in patient_ids.items():
        if pid in view["listCounts"]:
            assert view["listCounts"][pid] == str(len(truth(runtime, pid).images)), name
    if view["panelOpen"]:
        assert not view["panelBusy"], view
        tooth = titled_tooth(view)
        assert view["selectedTooth"] == tooth
        images = db.of_tooth(tooth)
        counts = Counter(images.values())
        assert view["tabs"]["all"] == str(len(images)), (view["tabs"], images)
        for kind in ("before", "after", "xray", "clinical", "other"):
            assert view["tabs"][kind] == str(counts.get(kind, 0)), (kind, view["tabs"])
        tab = view["tab"]
        expected = (
            set(images)
            if tab in ("all", "timeline")
            else {i for i, k in images.items() if k == tab}
        )
        assert set(view["cards"]) == expected, (tab, view["cards"], images)
        assert len(view["cards"]) == len(expected)
    return view
