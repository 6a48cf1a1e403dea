# Build the Windows bundle (dist\dental-images\) with PyInstaller and the per-user installer
# (dist\DentalImages-<version>-windows-setup.exe) with Inno Setup 6.
# Needs Python 3.11+ and Inno Setup 6 (iscc on PATH or in its default folder).
# Usage: powershell -ExecutionPolicy Bypass -File build\build.ps1   ($env:PYTHON picks a Python)
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..")
$python = if ($env:PYTHON) { $env:PYTHON } else { ".venv\Scripts\python.exe" }
if (-not (Test-Path $python)) {
    py -3 -m venv .venv
    if ($LASTEXITCODE) { throw "could not create .venv" }
    & $python -m pip install -q -e ".[window,build]"
    if ($LASTEXITCODE) { throw "pip install failed" }
}
$version = & $python build\bundle_info.py
$numeric = ([regex]::Matches($version, "\d+") | Select-Object -First 3 | ForEach-Object { $_.Value }) -join "."
$started = Get-Date
# Modules stored, not zlib-compressed, in the bundle: the installer's LZMA packs them a third
# smaller than zlib did (see scripts/windows-checks.sh, which builds the same way).
$env:PYINSTALLER_ZLIB_COMPRESSION_LEVEL = "0"
& $python -m PyInstaller --noconfirm --log-level WARN --distpath dist --workpath build\out `
    build\dental-images.spec
if ($LASTEXITCODE) { throw "PyInstaller failed" }
$iscc = (Get-Command iscc -ErrorAction SilentlyContinue).Source
if (-not $iscc) { $iscc = Join-Path ${env:ProgramFiles(x86)} "Inno Setup 6\ISCC.exe" }
& $iscc /Q "/DAppVersion=$version" "/DNumericVersion=$numeric" installer\windows\dental-images.iss
if ($LASTEXITCODE) { throw "Inno Setup failed" }
$seconds = [int]((Get-Date) - $started).TotalSeconds
Write-Output "Dental Images $version built in $seconds s: see dist\"
