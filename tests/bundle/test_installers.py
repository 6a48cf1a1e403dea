"""The installer definitions, checked as far as this machine allows: Inno Setup and the macOS
tools cannot run here, so these tests parse the scripts and check that what they reference exists
in the bundle layout and that the version comes from its one place."""

from __future__ import annotations

import plistlib
import re
import shutil
import subprocess
from pathlib import Path, PureWindowsPath

import pytest
from PIL import Image

from backend import __version__
from backend.config import APP_NAME as DATA_FOLDER_NAME
from tests.bundle.build_cache import ROOT, load_bundle_info

pytestmark = pytest.mark.bundle

ISS = ROOT / "installer" / "windows" / "dental-images.iss"
bundle_info = load_bundle_info()


def iss_defines(text: str) -> dict[str, str]:
    return dict(re.findall(r'^\s*#define (\w+) "([^"]*)"$', text, re.MULTILINE))


def iss_section(text: str, name: str) -> list[str]:
    """The non-empty, non-comment lines of one [Section]."""
    found = re.search(rf"^\[{name}\]\n(.*?)(?=^\[|\Z)", text, re.MULTILINE | re.DOTALL)
    assert found, f"no [{name}] section"
    return [
        line for line in found.group(1).splitlines() if line.strip() and not line.startswith(";")
    ]


def expand(value: str, defines: dict[str, str]) -> str:
    return re.sub(r"\{#(\w+)\}", lambda m: defines[m.group(1)], value)


def iss_param(line: str, name: str) -> str:
    found = re.search(rf'\b{name}: "([^"]*)"', line)
    assert found, f"{name} missing in: {line}"
    return found.group(1)


def from_iss(relative: str) -> Path:
    """A path written in the .iss (Windows separators, relative to the script) as a path here."""
    return (ISS.parent / Path(*PureWindowsPath(relative).parts)).resolve()


def test_windows_installer_is_per_user_and_versioned_from_the_build():
    text = ISS.read_text(encoding="utf-8")
    setup = dict(line.split("=", 1) for line in iss_section(text, "Setup"))
    assert setup["PrivilegesRequired"] == "lowest"
    assert "PrivilegesRequiredOverridesAllowed" not in setup
    assert setup["DefaultDirName"].startswith("{localappdata}\\Programs\\")  # per user
    assert setup["AppVersion"] == "{#AppVersion}"
    assert setup["VersionInfoVersion"] == "{#NumericVersion}"  # numbers only, from the build
    assert re.search(r"^#ifndef AppVersion\n\s+#error ", text, re.MULTILINE)
    assert not re.search(r"\d+\.\d+\.\d+", "".join(setup.values())), "a version written in"
    assert iss_defines(text)["AppPublisher"] == bundle_info.PUBLISHER
    assert iss_defines(text)["AppName"] == bundle_info.APP_NAME
    build_ps1 = (ROOT / "build" / "build.ps1").read_text(encoding="utf-8")
    assert "$version = & $python build\\bundle_info.py" in build_ps1
    assert '"/DAppVersion=$version" "/DNumericVersion=$numeric" installer\\windows\\' in build_ps1


def test_windows_uninstaller_keeps_the_clinic_data():
    script = ISS.read_text(encoding="utf-8").split("[Code]")[0]
    lines = [line for line in script.splitlines() if not line.lstrip().startswith(";")]
    text = "\n".join(lines)
    assert "[UninstallDelete]" not in text and "[UninstallRun]" not in text
    # Nothing touches the data folder (config.APP_NAME under %APPDATA%).
    assert "{userappdata}" not in text and f"\\{DATA_FOLDER_NAME}" not in text


def test_windows_installer_checks_webview2_with_a_clear_message():
    text = ISS.read_text(encoding="utf-8")
    code = text.split("[Code]", 1)[1]
    assert "{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}" in code  # the WebView2 Runtime's client id
    assert "function InitializeSetup(): Boolean;" in code
    assert "SuppressibleMsgBox(CustomMessage('WebView2Missing')" in code
    messages = dict(line.split("=", 1) for line in iss_section(text, "CustomMessages"))
    assert "WebView2 Runtime" in messages["english.WebView2Missing"]


def test_windows_installer_speaks_english_and_arabic():
    """The wizard takes Windows' UI language; every message of ours exists in both."""
    text = ISS.read_text(encoding="utf-8")
    languages = {
        iss_param(line, "Name"): iss_param(line, "MessagesFile")
        for line in iss_section(text, "Languages")
    }
    assert languages == {
        "english": "compiler:Default.isl",
        "arabic": "compiler:Languages\\Arabic.isl",
    }
    setup = dict(line.split("=", 1) for line in iss_section(text, "Setup"))
    assert setup["ShowLanguageDialog"] == "auto"  # asks only when Windows speaks neither
    messages = dict(line.split("=", 1) for line in iss_section(text, "CustomMessages"))
    names = {key.split(".", 1)[1] for key in messages}
    assert set(messages) == {f"{language}.{name}" for language in languages for name in names}
    assert all(re.search("[\u0600-\u06ff]", messages[f"arabic.{name}"]) for name in names)
    used = set(re.findall(r"CustomMessage\('(\w+)'\)", text))
    assert used <= names and used


def test_windows_installer_references_only_files_of_the_bundle_layout(bundle):
    text = ISS.read_text(encoding="utf-8")
    defines = iss_defines(text)
    assert defines["AppExe"] == f"{bundle_info.EXE_NAME}.exe"
    # The Windows bundle has the Linux one's layout with dental-images.exe for dental-images.
    assert (bundle.folder / bundle_info.EXE_NAME).is_file()
    assert from_iss(defines["BundleDir"]) == bundle.folder.resolve()
    for line in iss_section(text, "Files"):
        source = expand(iss_param(line, "Source"), defines)
        folder = from_iss(source.removesuffix("\\*"))
        assert folder.is_dir() and any(folder.iterdir()), source
    for line in iss_section(text, "Icons"):
        target = expand(iss_param(line, "Filename"), defines)
        assert target == "{app}\\" + defines["AppExe"]
    setup = dict(line.split("=", 1) for line in iss_section(text, "Setup"))
    assert from_iss(expand(setup["SetupIconFile"], defines)).is_file()
    assert from_iss(setup["OutputDir"]) == (ROOT / "dist").resolve()


def test_spec_gives_each_os_its_icon():
    spec = (ROOT / "build" / "dental-images.spec").read_text(encoding="utf-8")
    for name in ("dental-images.ico", "dental-images.icns", "dental-images.png"):
        assert name in spec or name in str(bundle_info.DATA_FILES)
        with Image.open(bundle_info.ICONS_DIR / name) as icon:
            assert icon.size[0] >= 256


def test_mac_info_plist_matches_the_spec_and_takes_the_version():
    raw = bundle_info.INFO_PLIST.read_bytes()
    template = plistlib.loads(raw)
    assert template["CFBundleShortVersionString"] == bundle_info.VERSION_PLACEHOLDER
    filled = plistlib.loads(plistlib.dumps(bundle_info.mac_info_plist(__version__)))
    assert filled["CFBundleIdentifier"] == bundle_info.BUNDLE_ID
    assert filled["CFBundleExecutable"] == bundle_info.EXE_NAME
    assert filled["CFBundleShortVersionString"] == __version__
    assert filled["CFBundleVersion"] == __version__
    assert filled["CFBundleIconFile"] == "dental-images.icns"
    assert (bundle_info.ICONS_DIR / filled["CFBundleIconFile"]).is_file()
    assert filled["CFBundlePackageType"] == "APPL"
    entitlements = plistlib.loads((ROOT / "installer/macos/entitlements.plist").read_bytes())
    assert all(value is True for value in entitlements.values())


def test_mac_dmg_script_has_the_applications_link_and_no_secrets():
    script = (ROOT / "installer" / "macos" / "make-dmg.sh").read_text(encoding="utf-8")
    assert 'ln -s /Applications "$stage/Applications"' in script
    assert f'app="dist/{bundle_info.APP_NAME}.app"' in script
    for name in ("MACOS_SIGN_IDENTITY", "APPLE_ID", "APPLE_TEAM_ID", "APPLE_APP_PASSWORD"):
        assert f"${{{name}" in script  # taken from the environment only
    subprocess.run(["bash", "-n", str(ROOT / "installer/macos/make-dmg.sh")], check=True)


def test_linux_desktop_entry_is_valid():
    if not shutil.which("desktop-file-validate"):
        pytest.fail("desktop-file-validate is missing: run scripts/test.sh")
    entry = ROOT / "installer" / "linux" / "dental-images.desktop"
    done = subprocess.run(
        ["desktop-file-validate", str(entry)], capture_output=True, text=True, encoding="utf-8"
    )
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout
    for script in ("package.sh", "install.sh"):
        subprocess.run(["bash", "-n", str(ROOT / "installer" / "linux" / script)], check=True)


def test_release_workflow_builds_all_three_on_version_tags():
    workflow = (ROOT / ".github" / "workflows" / "release.yml").read_text(encoding="utf-8")
    assert 'tags: ["v*"]' in workflow
    for runner in ("windows-latest", "macos-latest", "ubuntu-"):
        assert runner in workflow
    assert "build\\build.ps1" in workflow and "bash build/build.sh" in workflow
    assert 'test "v$(python build/bundle_info.py)" = "$GITHUB_REF_NAME"' in workflow
