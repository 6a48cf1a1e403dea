; Inno Setup 6 script: a per-user installer for Dental Images that needs no administrator rights.
; Built by build\build.ps1, which passes the version from backend\__init__.py:
;   iscc /DAppVersion=<version> installer\windows\dental-images.iss
; The clinic's data lives in the per-user app-data folder (%APPDATA%\DentalImages), never in the
; install folder, so uninstalling removes the program and keeps every patient, image and backup.

#ifndef AppVersion
  #error Pass the version: iscc /DAppVersion=x.y.z (build\build.ps1 reads backend\__init__.py)
#endif
; Windows' version resource takes numbers only (1.0.0rc1 is 1.0.0): build.ps1 passes both.
#ifndef NumericVersion
  #define NumericVersion AppVersion
#endif
#define AppName "Dental Images"
#define AppPublisher "Dental Images"
#define AppExe "dental-images.exe"
; The bundle to pack: dist\dental-images by default; the Windows lane builds elsewhere and passes
; /DBundleDir=<folder>.
#ifndef BundleDir
  #define BundleDir "..\..\dist\dental-images"
#endif
#define IconFile "..\..\build\icons\dental-images.ico"

[Setup]
; The AppId ties upgrades and the uninstaller together: never change it.
AppId={{A6E7D8E6-6E43-42CB-AFA4-1D67DE159CE1}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher={#AppPublisher}
AppCopyright=(c) {#AppPublisher}. All rights reserved.
VersionInfoVersion={#NumericVersion}
VersionInfoProductName={#AppName}
VersionInfoCompany={#AppPublisher}
PrivilegesRequired=lowest
; Per user, always (PrivilegesRequired=lowest, no override): this is the folder {autopf} names
; in that mode, spelled out because {autopf} needs FOLDERID_UserProgramFiles, which some
; Windows-compatible environments (Wine) do not resolve.
DefaultDirName={localappdata}\Programs\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir=..\..\dist
OutputBaseFilename=DentalImages-{#AppVersion}-windows-setup
SetupIconFile={#IconFile}
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName}
CloseApplications=yes
; LZMA2's 32 MB window ("ultra", 8 MB by default) over the solid stream, in which the bundle
; keeps its modules uncompressed: 1% smaller for 9 s more of compiling. ultra64 needs 708 MB of
; compressor memory, more than the 32-bit compiler gets. Unpacking needs 32 MB.
Compression=lzma2/ultra
SolidCompression=yes
WizardStyle=modern
; The wizard speaks the language of Windows' user interface (Inno Setup's uilanguage detection),
; right to left in Arabic; it asks only when Windows speaks neither.
ShowLanguageDialog=auto

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"
Name: "arabic"; MessagesFile: "compiler:Languages\Arabic.isl"

[CustomMessages]
english.WebView2Missing=Dental Images shows its window with the Microsoft Edge WebView2 Runtime, which is not installed on this computer.%n%nInstall the WebView2 Runtime from Microsoft (free; the "Evergreen Bootstrapper" is enough), then run this setup again.%n%nOpen the download page now?
arabic.WebView2Missing=يعرض برنامج صور الأسنان نافذته باستخدام Microsoft Edge WebView2 Runtime، وهو غير مثبّت على هذا الحاسوب.%n%nثبّت WebView2 Runtime من Microsoft (مجاني؛ ويكفي «Evergreen Bootstrapper»)، ثم شغّل هذا المثبّت مرة أخرى.%n%nهل تريد فتح صفحة التنزيل الآن؟

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[Code]
const
  WebView2Key = 'SOFTWARE\Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}';
  WebView2Download = 'https://developer.microsoft.com/microsoft-edge/webview2/';

{ Microsoft's documented check: a version ("pv") under EdgeUpdate, per machine or per user. }
function WebView2VersionIn(RootKey: Integer): String;
begin
  if not RegQueryStringValue(RootKey, WebView2Key, 'pv', Result) then
    Result := '';
  if Result = '0.0.0.0' then
    Result := '';
end;

function WebView2Installed(): Boolean;
begin
  Result := (WebView2VersionIn(HKLM32) <> '') or (WebView2VersionIn(HKCU) <> '')
    or (IsWin64 and (WebView2VersionIn(HKLM64) <> ''));
end;

{ /SKIPWEBVIEW2: install without the runtime (IT installs it later, or a test machine has none);
  the program then opens in the default browser instead of its own window. }
function WebView2CheckSkipped(): Boolean;
var
  I: Integer;
begin
  Result := False;
  for I := 1 to ParamCount do
    if CompareText(ParamStr(I), '/SKIPWEBVIEW2') = 0 then
      Result := True;
end;

function InitializeSetup(): Boolean;
var
  ErrorCode: Integer;
begin
  Result := WebView2Installed() or WebView2CheckSkipped();
  if Result then
    Exit;
  if SuppressibleMsgBox(CustomMessage('WebView2Missing'), mbError, MB_YESNO, IDNO) = IDYES then
    ShellExec('open', WebView2Download, '', '', SW_SHOWNORMAL, ewNoWait, ErrorCode);
end;
