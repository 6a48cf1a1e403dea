"""The program speaks the PC's language: the setting kept per PC, its default from the OS, API
errors, tooth names in every numbering, the catalog the page reads, and the command line."""

from __future__ import annotations

import ctypes
import json
import re
import sys
import types

import pytest

from backend import cli, i18n, teeth
from backend.backup.archive_safety import name_problem
from backend.backup.fsutil import data_tree_problem
from backend.config import MACHINE_CONFIG, read_pc_preferences, write_machine_config
from tests.backend.test_api import new_patient, upload
from tests.backend.test_error_shape import assert_error_shape
from tests.helpers import image_bytes

ARABIC_LETTERS = re.compile(r"^[\u0600-\u06FF ]+$")
LATIN_LETTER = re.compile(r"[A-Za-z]")


@pytest.fixture
def arabic_pc(settings):
    write_machine_config(settings.data_dir, language="ar")
    return settings


# ------------------------------------------------------------------ the setting, kept per PC


def test_language_theme_and_digits_are_kept_in_this_pcs_config(client, settings):
    response = client.patch(
        "/api/settings", json={"language": "ar", "theme": "dark", "digits": "arabic"}
    )
    assert response.status_code == 200
    body = response.get_json()
    assert (body["language"], body["theme"], body["digits"]) == ("ar", "dark", "arabic")
    assert body["locale"] == "ar"  # the answer is already in the chosen language
    stored = json.loads((settings.data_dir / MACHINE_CONFIG).read_text(encoding="utf-8"))
    assert (stored["language"], stored["theme"], stored["digits"]) == ("ar", "dark", "arabic")
    assert i18n.process_locale() == "ar"  # background jobs speak it too
    client.patch("/api/settings", json={"language": "en", "theme": "system"})
    again = client.get("/api/settings").get_json()
    assert (again["language"], again["locale"], again["theme"]) == ("en", "en", "system")


def test_a_bad_display_value_changes_nothing_not_even_the_clinic_setting(client, settings):
    error = assert_error_shape(
        client.patch("/api/settings", json={"numbering": "fdi", "theme": "purple"}),
        400,
        "invalid_input",
    )
    assert error["field"] == "theme" and "purple" in error["message"]
    body = client.get("/api/settings").get_json()
    assert body["numbering"] == "universal" and body["theme"] == "system"
    assert not (settings.data_dir / MACHINE_CONFIG).exists()


def test_an_unusable_stored_value_falls_back_to_the_default(settings):
    write_machine_config(settings.data_dir, language="klingon", theme="dark")
    assert read_pc_preferences(settings.data_dir) == {
        "language": "system",
        "theme": "dark",
        "digits": "latin",
    }


# ------------------------------------------------------------------ default from the OS


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({"LANG": "ar_EG.UTF-8"}, "ar"),
        ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "ar_SA.UTF-8"}, "ar"),
        ({"LANG": "ar_EG.UTF-8", "LC_ALL": "en_GB.UTF-8"}, "en"),
        ({"LANG": "fr_FR.UTF-8"}, "en"),
        ({"LANG": "en_US.UTF-8", "LANGUAGE": "fr:ar:en"}, "ar"),
        ({"LANG": "ar_EG.UTF-8", "LANGUAGE": "fr"}, "ar"),
        ({"LANGUAGE": "ar"}, "en"),
        ({"LANG": "C.UTF-8", "LANGUAGE": "ar"}, "en"),
        ({}, "en"),
    ],
)
def test_posix_default_language_comes_from_the_locale_variables(monkeypatch, environment, expected):
    monkeypatch.setattr(i18n.sys, "platform", "linux")
    for name in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert i18n.os_language() == expected


@pytest.mark.parametrize(
    ("langid", "expected"),
    [(0x0401, "ar"), (0x0C01, "ar"), (0x1401, "ar"), (0x0409, "en"), (0x0809, "en")],
)
def test_windows_default_language_comes_from_the_ui_language(monkeypatch, langid, expected):
    """GetUserDefaultUILanguage's LANGID: Arabic (Saudi Arabia, Egypt, Algeria...) -> ar."""
    calls = []

    def ui_language() -> int:
        calls.append(langid)
        return langid

    kernel32 = types.SimpleNamespace(GetUserDefaultUILanguage=ui_language)
    monkeypatch.setattr(ctypes, "windll", types.SimpleNamespace(kernel32=kernel32), raising=False)
    monkeypatch.setattr(i18n.sys, "platform", "win32")
    assert i18n.os_language() == expected and calls == [langid]


def test_windows_languages_the_program_does_not_have_start_in_english():
    assert i18n.windows_language_of_langid(0x040C) is None  # French
    assert i18n.effective_language("system") in i18n.SUPPORTED


@pytest.mark.skipif(not sys.platform.startswith("win"), reason="the real Windows API call")
def test_the_real_windows_ui_language_is_read():  # pragma: no cover - Windows only
    langid = ctypes.windll.kernel32.GetUserDefaultUILanguage()
    assert i18n.os_language() == (i18n.windows_language_of_langid(langid) or "en")


def test_no_choice_follows_the_os_and_the_browser_tab(client, monkeypatch):
    monkeypatch.setattr(i18n, "os_language", lambda: "ar")
    assert client.get("/api/i18n").get_json()["locale"] == "ar"
    english_tab = client.get("/api/i18n", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert english_tab.get_json()["locale"] == "en"
    french_tab = client.get("/api/i18n", headers={"Accept-Language": "fr-FR, ar;q=0.5"})
    assert french_tab.get_json()["locale"] == "ar"


def test_accept_language_is_read_by_its_quality_values():
    assert i18n.language_of_accept_header("en;q=0.3, ar-SA;q=0.9") == "ar"
    assert i18n.language_of_accept_header("fr, de;q=0.9") is None
    assert i18n.language_of_accept_header("ar;q=0, en") == "en"
    assert i18n.language_of_accept_header(None) is None


# ------------------------------------------------------------------ API errors


def test_api_errors_are_in_arabic_when_this_pc_says_ar(arabic_pc, client):
    error = assert_error_shape(client.get("/api/patients/no-such-id"), 404, "not_found")
    assert error["message"] == "لا يوجد مريض بالمعرّف 'no-such-id'."
    assert error["code"] == "not_found"  # codes stay the same in every language
    body = assert_error_shape(
        client.patch("/api/settings", data="x", content_type="text/plain"), 400, "invalid_input"
    )
    assert body["message"] == "يجب أن يكون محتوى الطلب كائن JSON."


def test_refused_files_are_explained_in_arabic(arabic_pc, client):
    """The refusals of the image checks (written with placeholders and plural forms) reach the
    receptionist in Arabic, numbers filled in."""
    patient = new_patient(client)
    too_tall = image_bytes("PNG", (4, 30_001), (10, 20, 30))
    answer = upload(client, patient["id"], "8", ("empty.png", b""), ("tall.png", too_tall))
    results = answer.get_json()["results"]
    messages = [result["error"]["message"] for result in results]
    assert messages[0] == "الملف فارغ."
    assert messages[1] == "الصورة من 4 × 30001 بكسل؛ والحد 30000 بكسل لكل ضلع."
    assert all(not LATIN_LETTER.search(message) for message in messages), messages


def test_the_pc_setting_wins_over_the_browser_tab(arabic_pc, client):
    error = client.get("/api/patients/x", headers={"Accept-Language": "en"}).get_json()["error"]
    assert ARABIC_LETTERS.match(error["message"].split("'")[0].strip())


def test_api_errors_stay_english_when_this_pc_says_en(settings, client):
    write_machine_config(settings.data_dir, language="en")
    error = client.get("/api/patients/x", headers={"Accept-Language": "ar"}).get_json()["error"]
    assert error["message"] == "No patient with id 'x'."


# ------------------------------------------------------------------ tooth names

# The side and jaw words of each FDI quadrant (1-4 permanent, 5-8 primary), and each position's
# tooth from the midline: the earlier app's words (legacy-formats.md, its tooth_name column).
SIDE = {1: "الأيمن العلوي", 2: "الأيسر العلوي", 3: "الأيسر السفلي", 4: "الأيمن السفلي"}
PERMANENT_WORDS = [
    "القاطع المركزي",
    "القاطع الجانبي",
    "الناب",
    "الضاحك الأول",
    "الضاحك الثاني",
    "الضرس الأول",
    "الضرس الثاني",
    "ضرس العقل",
]
PRIMARY_WORDS = [
    "القاطع المركزي اللبني",
    "القاطع الجانبي اللبني",
    "الناب اللبني",
    "الضرس اللبني الأول",
    "الضرس اللبني الثاني",
]


def _expected_arabic_name(fdi: int) -> str:
    quadrant, position = divmod(fdi, 10)
    words = PRIMARY_WORDS if quadrant > 4 else PERMANENT_WORDS
    return f"{words[position - 1]} {SIDE[(quadrant - 1) % 4 + 1]}"


@pytest.mark.parametrize("notation", ["universal", "fdi", "palmer"])
def test_every_tooth_has_its_arabic_name_in_every_numbering(arabic_pc, client, notation):
    body = client.get(f"/api/teeth?notation={notation}").get_json()
    assert len(body["teeth"]) == 52
    for code, tooth in body["teeth"].items():
        assert tooth["name"] == _expected_arabic_name(teeth.to_fdi(code)), (notation, code)
        assert ARABIC_LETTERS.match(tooth["name"]) and not LATIN_LETTER.search(tooth["name"])
        assert tooth["label"] == teeth.label(code, notation)  # labels stay as they are
    names = {tooth["name"] for tooth in body["teeth"].values()}
    assert len(names) == 52
    assert body["places"]["general"] == {
        "label": "الفم كاملًا",
        "name": "صور لا تخص سنًّا بعينها",
    }


def test_tooth_names_use_the_earlier_apps_wording():
    """Names the earlier app showed for upper teeth (Universal numbers agree there), and for
    lower teeth read through its mirrored chart (early n is standard 49 - n)."""
    shown = {
        "1": "ضرس العقل الأيمن العلوي",
        "3": "الضرس الأول الأيمن العلوي",
        "5": "الضاحك الأول الأيمن العلوي",
        "8": "القاطع المركزي الأيمن العلوي",
        "9": "القاطع المركزي الأيسر العلوي",
        "16": "ضرس العقل الأيسر العلوي",
        str(49 - 17): "ضرس العقل الأيمن السفلي",
        str(49 - 24): "القاطع المركزي الأيمن السفلي",
        str(49 - 25): "القاطع المركزي الأيسر السفلي",
    }
    with i18n.use_locale("ar"):
        assert {code: teeth.tooth_name(code) for code in shown} == shown
    with i18n.use_locale("en"):
        assert teeth.tooth_name("1") == "Upper right third molar"
        assert teeth.tooth_name("M") == "Lower left primary canine"


def test_a_wrong_tooth_is_refused_in_arabic():
    with i18n.use_locale("ar"), pytest.raises(teeth.InvalidTooth) as refused:
        teeth.parse("99", "fdi")
    assert "رقم سن بنظام FDI" in str(refused.value)


# ------------------------------------------------------------------ the page's catalog


def test_the_catalog_for_javascript_holds_arabic_and_its_rules(arabic_pc, client):
    response = client.get("/api/i18n")
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert (body["locale"], body["direction"]) == ("ar", "rtl")
    assert body["plural_forms"].startswith("nplurals=6;")
    assert body["messages"]["third molar"] == "ضرس العقل"
    forms = body["messages"]["{current} of {n} file"]
    assert isinstance(forms, list) and len(forms) == 6 and forms[1] == "{current} من ملف واحد"
    assert body["labels"]["image_types"] == {
        "before": "قبل العلاج",
        "after": "بعد العلاج",
        "xray": "أشعة",
        "clinical": "صورة سريرية",
        "other": "أخرى",
    }
    assert body["labels"]["statuses"]["in_progress"] == "قيد العلاج"
    assert (body["theme"], body["digits"]) == ("system", "latin")


def test_the_english_catalog_is_the_source_text(settings, client):
    write_machine_config(settings.data_dir, language="en", theme="light")
    body = client.get("/api/i18n").get_json()
    assert (body["locale"], body["direction"], body["messages"]) == ("en", "ltr", {})
    assert body["plural_forms"] == i18n.ENGLISH_PLURAL_FORMS and body["theme"] == "light"
    assert body["labels"]["image_types"]["xray"] == "X-ray"


def test_the_page_is_told_its_language_direction_and_theme(arabic_pc, app):
    write_machine_config(arabic_pc.data_dir, theme="dark")
    with app.test_request_context("/"):
        from backend.api.i18n import page_language

        assert page_language() == {"lang": "ar", "dir": "rtl", "theme": "dark"}


def test_templates_translate_with_the_request_language(arabic_pc, app):
    with app.test_request_context("/"):
        template = app.jinja_env.from_string(
            '{{ _("Cancelled") }} / {{ ngettext("%(num)d x", "%(num)d xs", 3) }}'
        )
        assert template.render() == "ملغى / 3 xs"


# ------------------------------------------------------------------ the command line


def test_the_command_line_speaks_the_language_chosen_on_this_pc(arabic_pc, capsys):
    args = ["--data-dir", str(arabic_pc.data_dir)]
    assert cli.choose_language([*args, "serve"]) == "ar"
    assert i18n.process_locale() == "ar"
    help_text = cli.build_parser().format_help()
    assert "التشغيل دون نافذة" in help_text  # the `serve` command's help
    with pytest.raises(SystemExit):
        cli.main([*args, "restore", "--help"])
    assert "دون طلب تأكيد" in capsys.readouterr().out


def test_the_command_line_follows_the_os_without_a_choice(settings, monkeypatch):
    monkeypatch.setattr(i18n, "os_language", lambda: "ar")
    assert cli.choose_language(["--data-dir", str(settings.data_dir)]) == "ar"
    write_machine_config(settings.data_dir, language="en")
    assert cli.choose_language(["--data-dir", str(settings.data_dir)]) == "en"
    monkeypatch.setenv("DENTAL_IMAGES_HOME", str(settings.data_dir))
    assert cli.choose_language(["--data-dir"]) == "en"  # the full parser reports the error


# ------------------------------------------------------------------ the Python helpers


def test_lazy_texts_are_translated_when_they_are_shown():
    text = i18n.lazy_gettext("third molar")
    with i18n.use_locale("ar"):
        assert str(text) == "ضرس العقل" and text == "ضرس العقل"
    with i18n.use_locale("en"):
        assert str(text) == "third molar" and text + "!" == "third molar!"
    assert i18n.N_("canine") == "canine"  # marked for the catalog, not translated


def test_the_process_language_is_used_outside_requests_and_inside_use_locale_wins():
    i18n.set_process_locale("ar_SA.UTF-8")
    assert i18n.process_locale() == "ar" and i18n.gettext("Cancelled") == "ملغى"
    with i18n.use_locale("en"):
        assert i18n.gettext("Cancelled") == "Cancelled"
    i18n.set_process_locale("fr")  # not a language of the program: English
    assert i18n.gettext("Cancelled") == "Cancelled"


def test_the_message_table_for_javascript_keeps_the_plural_forms_in_order():
    table = i18n.messages("ar")
    assert table["canine"] == "الناب"
    assert table["Preparing the backup ({n} file)"][2] == "تحضير النسخة الاحتياطية (ملفان)"
    assert "" not in table and i18n.messages("en") == {}
    assert i18n.direction("ar") == "rtl" and i18n.direction("en") == "ltr"


def test_file_dialog_filters_are_in_arabic_and_pywebview_reads_them():
    util = pytest.importorskip("webview.util", reason="pywebview (the window extra)")
    from backend import bridge

    with i18n.use_locale("ar"):
        shown = bridge.shown_file_types(bridge.IMAGE_FILE_TYPES + bridge.BACKUP_FILE_TYPES)
    assert shown[0].startswith("الصور (") and shown[2].startswith("النسخ الاحتياطية (")
    for file_type in shown:
        description, extensions = util.parse_file_type(file_type)
        assert ARABIC_LETTERS.match(description) and extensions.startswith("*.")
    with i18n.use_locale("en"):
        assert bridge.shown_file_types(bridge.IMAGE_FILE_TYPES) == bridge.IMAGE_FILE_TYPES


def test_whole_numbers_in_messages_follow_this_pcs_digits_and_names_do_not():
    i18n.set_process_digits("arabic")
    with i18n.use_locale("ar"):
        text = i18n.ngettext("{n} image", "{n} images", 12)
        named = i18n.gettext("The folder {folder} does not exist.", folder="C:\\2024\\x-rays")
    assert "١٢" in text and "12" not in text
    assert "C:\\2024\\x-rays" in named  # a path keeps its own digits
    i18n.set_process_digits("latin")
    with i18n.use_locale("ar"):
        assert "12" in i18n.ngettext("{n} image", "{n} images", 12)
    i18n.set_process_digits("roman")  # not a choice: Latin
    assert i18n.number_text(7) == "7"


def test_choosing_arabic_indic_digits_in_settings_makes_the_servers_messages_use_them(client):
    answer = client.patch("/api/settings", json={"digits": "arabic", "language": "ar"})
    assert answer.status_code == 200, answer.get_json()
    patient = new_patient(client)
    too_many = [f"id-{n}" for n in range(101)]
    refused = client.post(
        f"/api/patients/{patient['id']}/dicom-export", json={"image_ids": too_many, "to": "folder"}
    )
    assert refused.status_code == 400
    message = refused.get_json()["error"]["message"]
    assert "١٠٠" in message and "١٠١" in message and "100" not in message, message


def test_a_refused_backup_entry_and_backup_folder_are_explained_in_arabic(settings):
    """What a receptionist reads when a backup is refused: an entry leaving its folder, a backup
    folder chosen inside the data folder. The names and paths stay as they are."""
    inside = settings.data_dir / "thumbnails"
    with i18n.use_locale("ar"):
        entry = name_problem("dental_images/../../config.json")
        folder = data_tree_problem(inside, settings)
    assert entry is not None and "المدخل" in entry and "يشير إلى خارج مجلد الأرشيف" in entry
    assert "'dental_images/../../config.json'" in entry and "points outside" not in entry
    assert folder is not None and "مجلد بيانات البرنامج" in folder
    assert str(inside) in folder and str(settings.data_dir) in folder
    assert "lies inside" not in folder and "Choose a folder" not in folder
    with i18n.use_locale("en"):
        assert "points outside the archive's folder ('..')" in str(name_problem("a/../b"))
        assert "lies inside the program's data folder" in str(data_tree_problem(inside, settings))


def test_a_dicom_status_is_named_in_the_persons_language_beside_its_number():
    from backend.dicom.sending import status_text

    assert status_text(0xA700) == "0xA700 (Refused: Out of resources)"
    with i18n.use_locale("ar"):
        assert status_text(0xA700) == "0xA700 (مرفوض: نفدت الموارد)"
        assert status_text(0xB007) == "0xB007 (مجموعة البيانات لا تطابق فئة SOP)"
