//! Secret redaction for alert evidence.
//!
//! # Why
//!
//! Alerts copy the matching events into their `evidence` and are shipped to
//! places with a wider audience than the raw logs (SIEM, tickets, chat). The
//! logging standards this project follows (`/work/shared/reference`, "Data to
//! exclude") say session identifiers, access tokens, authentication
//! passwords, database connection strings, encryption keys and payment card
//! data must be "removed, masked, sanitized, hashed or encrypted" before they
//! are recorded. Security logs are full of them: process command lines carry
//! `net use /user:x P@ss`, `curl -H "Authorization: Bearer …"`, URLs carry
//! `?access_token=`, cloud audit logs carry `sessionToken`. This module
//! removes those values from evidence while keeping the context (users,
//! hosts, process names, the rest of the command line) that analysts need.
//!
//! # Contract
//!
//! [`Redactor::redact`] walks a JSON value in place and:
//!
//! * **Secret field names.** A key whose name (case-insensitive, with `-`,
//!   `_`, spaces, `@`, `#` and `$` removed; each `.`-separated segment of a
//!   flattened key checked on its own) contains `password`, `passwd`,
//!   `passphrase`, `passcode`, `pwd`, `secret`, `token`, `apikey`,
//!   `privatekey`, `credential`, `accesskey`, `accountkey`, `connectionstring`,
//!   … (see `SECRET_NAME_PARTS`), or the configured `extra_field_patterns`,
//!   has its whole value replaced (string, number, array or object).
//!   `authorization` and `cookie` keys are replaced when they hold a scalar or
//!   an array (HTTP headers) but recursed into when they hold an object (the
//!   Azure Activity Log's `authorization` object describes an RBAC decision,
//!   not a credential). Session identifiers (`sessionid`, `session_id`,
//!   `jsessionid`, `phpsessid`, `sessionkey`, a segment named exactly
//!   `session`) are replaced too, except small integers (≤ 6 digits): those
//!   are operating-system session numbers (Windows terminal session 2), not
//!   bearer values. `null`, booleans and empty strings are never secrets and
//!   are left alone.
//! * **Known-benign names.** Names that contain a secret word but describe
//!   metadata stay readable: an explicit list (`BENIGN_NAMES`: Windows
//!   `TokenElevationType`, `ElevatedToken`, `PasswordLastSet`, AD
//!   `pwdLastSet`, Sysmon `TerminalSessionId`, `SessionName`,
//!   `CountOfCredentialsReturned`, Okta `credentialType`, Azure AD
//!   `tokenIssuerType`, GitHub `hashed_token`, …) and names ending in a
//!   descriptor (`type`, `name`, `count`, `length`, `lastset`, `expires`,
//!   `policy`, `provider`, … see `BENIGN_SUFFIXES`). The environment
//!   variables `PWD`/`OLDPWD` (exact, upper case) are working directories.
//!   Their string values are still scanned for secret-looking values.
//! * **Name/value pairs.** In objects shaped `{"name": "Authorization",
//!   "value": "Bearer …"}` (AWS WAF headers, Kubernetes env vars,
//!   CloudFormation `parameterKey`/`parameterValue`), the value sibling of a
//!   secret name is redacted as if it were keyed by that name.
//! * **Secret-looking values.** Every other string is scanned and only the
//!   secret part is replaced, so `curl -H "Authorization: Bearer [REDACTED]"
//!   https://x` stays readable. Covered (see `VALUE_PATTERNS`):
//!   - HTTP `Authorization:` headers (any scheme), `Cookie:`/`Set-Cookie:`
//!     headers (the whole header value: cookie names say little about which
//!     cookie is the session), standalone `Bearer <token>` and
//!     `Basic <base64 of user:pass>`;
//!   - JWTs; AWS access key ids (`AKIA`/`ASIA`/`ABIA`/`ACCA`); GitHub
//!     (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_`), GitLab
//!     (`glpat-`), Slack (`xox[abposr]-`, webhook URLs), Google (`AIza`),
//!     Stripe (`sk_live_`…), npm (`npm_`) and OpenAI/Anthropic-style (`sk-`)
//!     tokens;
//!   - PEM private key blocks (the body between `BEGIN … PRIVATE KEY` and
//!     `END`, or to the end of a truncated string);
//!   - payment card numbers: 13–19 digits, optionally separated by single
//!     spaces or dashes, first digit 2–6 (the major networks; this excludes
//!     epoch-millisecond timestamps) and Luhn-valid — only then. JSON numbers
//!     under any key are checked too;
//!   - `name=value` / `name: value` pairs whose name ends with a secret word
//!     (`password=`, `pwd=`, `pass=`/`db_pass=` but not `bypass=`,
//!     `token=`, `access_token=`, `apikey=`, `x-api-key:`, `sessionid=`,
//!     `PHPSESSID=`, `aws_secret_access_key =`, `AccountKey=`, …) in URLs,
//!     query strings, connection strings (`Server=x;Password=y;`), JSON or
//!     XML embedded in a string (`"password":"x"`, `<password>x</password>`),
//!     environment assignments and Windows switches (`/password:x`,
//!     `/pass:x`); query-string-only names (`sig`, `signature`,
//!     `X-Amz-Signature`, `key`, `auth`, `sid`, `jwt`); card data
//!     (`cvv=`, `card_number=`);
//!   - URL user-info (`scheme://user:pass@host`) and impacket-style
//!     `domain/user:pass@host`;
//!   - command-line flags whose name ends with a secret word, `--password X`,
//!     `--password=X`, `-Password 'X'`, `--token X`, `--client-secret X`
//!     (values starting with `-` or `(`, and unquoted `$variables`, are not
//!     taken: `--no-password -h`, `-Credential $cred`), `--connection-string`;
//!   - tool-specific forms where a short flag is known to be a password:
//!     `net use \\host [pw] /user:x [pw]`, `net user bob pw /add`,
//!     `schtasks /rp pw`, `mysql -pPW`, `sqlcmd -P pw`, `psexec`/`paexec`/
//!     `crackmapexec`/`nxc`/`evil-winrm`/`hydra`/`sshpass`/impacket `-p pw`,
//!     `docker|podman|helm|oc login -p pw`, `7z|rar -pPW`, `zip -P pw`,
//!     `curl -u user:pw`, `smbclient -U user%pw`, `xfreerdp /p:pw /pth:h`,
//!     `openssl -passin pass:pw`, `aws configure set aws_secret_access_key
//!     X`, `-hashes LM:NT`, mimikatz/Rubeus
//!     `/ntlm:` `/rc4:` `/aes256:` `/ticket:`, PowerShell
//!     `ConvertTo-SecureString 'pw'` (either argument or pipeline form) and
//!     `NetworkCredential('user','pw')`, `echo user:pw | chpasswd`,
//!     `echo pw | passwd --stdin` / `| sudo -S`.
//!
//!   A bare `-p X` is deliberately *not* treated as a password in general
//!   (it is a port, a path or a profile for too many tools), nor `/p:X`
//!   outside FreeRDP (MSBuild properties).
//!
//! Modes: [`RedactMode::Mask`] writes `"[REDACTED]"`; [`RedactMode::Drop`]
//! removes secret-named keys (and pair values) entirely, masking secrets found
//! inside strings as Mask does; [`RedactMode::Hash`] writes `hmac-sha256:` and
//! the first 16 hex digits of HMAC-SHA256(key, secret) so the same session id
//! can be followed across alerts without being revealed (strings are hashed as
//! their text, so a session id hashes the same in a field and in a URL; other
//! values as their compact JSON). Whoever holds the HMAC key can confirm
//! guesses of low-entropy secrets (passwords) against their hashes: keep the
//! key out of the alert consumers' reach, or use Mask for passwords.
//!
//! Fields listed in `allow_fields` (exact key, or dotted path from the root
//! of the redacted value, array indices omitted) are left entirely untouched,
//! including their strings.
//!
//! Redaction is idempotent (`[REDACTED]` and `hmac-sha256:` values are not
//! redacted again, and text glued to an earlier replacement counts as part of
//! it), never panics, stays linear on hostile strings, and fails closed on
//! absurdly deep values (anything below depth 256 is replaced wholesale).
//!
//! # Cost
//!
//! Each string is scanned once for the literal anchors of all value
//! patterns; a pattern's regex runs only where all its anchors are present
//! (see `Scanner`), so most strings run none. Field-name classifications are
//! remembered per thread. A 1.5 KB Sysmon process-creation event with no
//! secret costs ~2 µs (`benches/redact.rs`, `benches/README.md`).
//!
//! # Known gaps
//!
//! Secrets in object *keys* are not looked for; free-text passwords with no
//! marker (`mysql -u root secret`) cannot be recognised; a quoted value
//! containing its own (escaped) quote is redacted only up to that quote;
//! Digest authorization headers are only partly covered (their response is a
//! hash, not the password); PuTTY `.ppk` bodies and base64-encoded PowerShell
//! (`-EncodedCommand`) are not decoded; Kubernetes `Secret` objects in audit
//! logs are only redacted where their `data` keys have secret-sounding names.
//! Patterns are ASCII-oriented (`pаssword` with a Cyrillic `а` is not seen).
//! After 16 rejected candidates per pattern in one string, the search stops
//! looking inside rejected matches (linear time over completeness on hostile
//! input). Card detection can mask a 13–19 digit identifier that starts with
//! 2–6 and happens to pass Luhn (about one in ten such numbers).

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use base64::Engine as _;
use regex::{CaptureLocations, Regex};
use rustc_hash::FxHashMap;
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The string that replaces a secret in Mask mode (and for in-string secrets
/// in Drop mode).
pub const MASK: &str = "[REDACTED]";

/// Prefix of Hash-mode replacements.
pub const HASH_PREFIX: &str = "hmac-sha256:";

/// Hex digits of the HMAC kept in Hash mode (64 bits: collisions are
/// negligible at alert volumes). The key, not the truncation, is what stops a
/// low-entropy secret (a password) from being guessed back from its hash.
const HASH_HEX_DIGITS: usize = 16;

/// How many times, per pattern and string, the search resumes inside a
/// rejected match before it moves past whole matches.
const MAX_RESCANS: usize = 16;

/// Values nested deeper than this are replaced wholesale (fail closed, and no
/// stack exhaustion on hostile input).
const MAX_DEPTH: usize = 256;

/// Config section `[redact]`.
#[derive(Clone, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedactConfig {
    /// Default true. When false, [`Redactor`] leaves everything as it is.
    pub enabled: bool,
    /// Default [`RedactMode::Mask`].
    pub mode: RedactMode,
    /// The HMAC key; required (non-empty) for [`RedactMode::Hash`].
    pub hmac_key: Option<String>,
    /// More case-insensitive substrings of field names to treat as secret
    /// (normalised like field names: `-`, `_`, spaces removed).
    pub extra_field_patterns: Vec<String>,
    /// Exact field names, or dotted paths from the event root, never redacted.
    pub allow_fields: Vec<String>,
}

impl Default for RedactConfig {
    fn default() -> Self {
        RedactConfig {
            enabled: true,
            mode: RedactMode::Mask,
            hmac_key: None,
            extra_field_patterns: Vec::new(),
            allow_fields: Vec::new(),
        }
    }
}

// Written by hand so a debug print of the config never shows the HMAC key.
impl fmt::Debug for RedactConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedactConfig")
            .field("enabled", &self.enabled)
            .field("mode", &self.mode)
            .field("hmac_key", &self.hmac_key.as_ref().map(|_| MASK))
            .field("extra_field_patterns", &self.extra_field_patterns)
            .field("allow_fields", &self.allow_fields)
            .finish()
    }
}

/// What replaces a secret.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RedactMode {
    /// Replace with `"[REDACTED]"`.
    #[default]
    Mask,
    /// Remove secret-named keys; secrets inside strings are masked.
    Drop,
    /// Replace with `hmac-sha256:<16 hex digits>` of the secret.
    Hash,
}

/// Why a [`RedactConfig`] was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RedactError {
    #[error("redact.mode = \"hash\" needs a non-empty redact.hmac_key")]
    MissingHmacKey,
    #[error("redact.extra_field_patterns contains an empty pattern (it would match every field)")]
    EmptyFieldPattern,
}

/// Applies a [`RedactConfig`]; cheap to share (`Send + Sync`).
#[derive(Clone)]
pub struct Redactor {
    enabled: bool,
    mode: RedactMode,
    hmac: Option<HmacKey>,
    extra_name_parts: Vec<String>,
    allow_fields: HashSet<String>,
    scanner: &'static Scanner,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("enabled", &self.enabled)
            .field("mode", &self.mode)
            .field("extra_name_parts", &self.extra_name_parts)
            .field("allow_fields", &self.allow_fields)
            .finish_non_exhaustive()
    }
}

impl Redactor {
    /// Builds a redactor; errors when Hash mode has no key or a field pattern is empty.
    pub fn new(cfg: &RedactConfig) -> Result<Redactor, RedactError> {
        let hmac = match (cfg.mode, cfg.hmac_key.as_deref()) {
            (RedactMode::Hash, Some(k)) if !k.is_empty() => Some(HmacKey::new(k.as_bytes())),
            (RedactMode::Hash, _) => return Err(RedactError::MissingHmacKey),
            _ => None,
        };
        let mut extra_name_parts = Vec::with_capacity(cfg.extra_field_patterns.len());
        for p in &cfg.extra_field_patterns {
            let n = normalize_name(p);
            if n.is_empty() {
                return Err(RedactError::EmptyFieldPattern);
            }
            extra_name_parts.push(n);
        }
        Ok(Redactor {
            enabled: cfg.enabled,
            mode: cfg.mode,
            hmac,
            extra_name_parts,
            allow_fields: cfg.allow_fields.iter().cloned().collect(),
            scanner: &SCANNER,
        })
    }

    /// Mask mode with the built-in rules.
    pub fn default_on() -> Redactor {
        Redactor {
            enabled: true,
            mode: RedactMode::Mask,
            hmac: None,
            extra_name_parts: Vec::new(),
            allow_fields: HashSet::new(),
            scanner: &SCANNER,
        }
    }

    /// Redacts `v` in place; returns how many redactions were made (a value
    /// under a secret key counts one, each secret found inside a string one).
    pub fn redact(&self, v: &mut Value) -> usize {
        if !self.enabled {
            return 0;
        }
        let mut path = String::new();
        with_scratch(|scratch| self.walk(v, &mut path, 0, scratch))
    }

    /// `Some(replacement)` when `s` contains a secret-looking value: `s` with
    /// each secret part replaced (masked in Mask and Drop modes, hashed in Hash).
    pub fn redact_str(&self, s: &str) -> Option<String> {
        if !self.enabled {
            return None;
        }
        with_scratch(|scratch| self.redact_text(s, scratch)).map(|(out, _)| out)
    }

    fn walk(&self, v: &mut Value, path: &mut String, depth: usize, scratch: &mut Scratch) -> usize {
        if depth >= MAX_DEPTH {
            *v = Value::String(MASK.into());
            return 1;
        }
        match v {
            Value::Object(map) => self.walk_object(map, path, depth, scratch),
            Value::Array(items) => items
                .iter_mut()
                .map(|item| self.walk(item, path, depth + 1, scratch))
                .sum(),
            Value::String(s) => match self.redact_text(s, scratch) {
                Some((out, n)) => {
                    *s = out;
                    n
                }
                None => 0,
            },
            Value::Number(n) => {
                if number_is_card(n) {
                    *v = Value::String(self.replacement(&n.to_string()));
                    1
                } else {
                    0
                }
            }
            Value::Null | Value::Bool(_) => 0,
        }
    }

    fn walk_object(
        &self,
        map: &mut Map<String, Value>,
        path: &mut String,
        depth: usize,
        scratch: &mut Scratch,
    ) -> usize {
        // Only objects with a `value`-like key can hold a name/value pair.
        let pair_value_key = if map.keys().any(|k| may_be_pair_value_key(k)) {
            self.secret_pair_value_key(map)
        } else {
            None
        };
        let mut count = 0;
        let mut to_drop: Vec<String> = Vec::new();
        // The dotted path only serves `allow_fields`: not built without them.
        let track_path = !self.allow_fields.is_empty();
        for (key, child) in map.iter_mut() {
            let saved = path.len();
            if track_path {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                if self.allow_fields.contains(key.as_str()) || self.allow_fields.contains(path.as_str()) {
                    path.truncate(saved);
                    continue;
                }
            }
            let class = match &pair_value_key {
                Some((value_key, class)) if value_key == key => Some(*class),
                _ => self.classify_key(key, scratch),
            };
            if class.is_some_and(|c| needs_whole_redaction(c, child)) {
                if self.mode == RedactMode::Drop {
                    to_drop.push(key.clone());
                } else {
                    *child = Value::String(self.replacement_for_value(child));
                }
                count += 1;
            } else {
                count += self.walk(child, path, depth + 1, scratch);
            }
            path.truncate(saved);
        }
        if !to_drop.is_empty() {
            map.retain(|k, _| !to_drop.contains(k));
        }
        count
    }

    /// In `{"name": "<secret name>", "value": "…"}`-shaped objects, the key of
    /// the value sibling to redact and the class of the name.
    fn secret_pair_value_key(&self, map: &Map<String, Value>) -> Option<(String, NameClass)> {
        // Only identifier-like names (header, variable, parameter names), not
        // free text such as a task called "Password expiry reminder".
        let identifier = |name: &str| name.len() <= 128 && !name.chars().any(char::is_whitespace);
        let class = map.iter().find_map(|(k, v)| {
            if with_normalized(k, |n| PAIR_NAME_KEYS.iter().any(|p| p.as_bytes() == n)) {
                v.as_str()
                    .filter(|n| identifier(n))
                    .and_then(|name| self.classify_name(name))
            } else {
                None
            }
        })?;
        let value_key = map
            .keys()
            .find(|k| with_normalized(k, |n| PAIR_VALUE_KEYS.iter().any(|p| p.as_bytes() == n)))?;
        Some((value_key.clone(), class))
    }

    /// [`Redactor::classify_name`] of an object key, remembered per thread
    /// for the built-in name rules (field names repeat from event to event).
    fn classify_key(&self, key: &str, scratch: &mut Scratch) -> Option<NameClass> {
        if !self.extra_name_parts.is_empty() || key.len() > NAME_MEMO_KEY_MAX {
            return self.classify_name(key);
        }
        if let Some(&class) = scratch.names.get(key) {
            return class;
        }
        let class = self.classify_name(key);
        if scratch.names.len() >= NAME_MEMO_MAX {
            scratch.names.clear();
        }
        scratch.names.insert(key.into(), class);
        class
    }

    /// Whether a field name denotes a secret, and which kind.
    fn classify_name(&self, key: &str) -> Option<NameClass> {
        if key == "PWD" || key == "OLDPWD" {
            return None; // shell working directories, not passwords
        }
        let mut found = None;
        for segment in key.split('.') {
            if with_normalized(segment, |n| self.classify_segment(n, &mut found)) {
                return Some(NameClass::Secret);
            }
        }
        found
    }

    /// One normalised segment of a field name: true if it makes the name a
    /// secret; records a header or session class in `found`.
    fn classify_segment(&self, n: &[u8], found: &mut Option<NameClass>) -> bool {
        if n.is_empty() {
            return false;
        }
        if self.extra_name_parts.iter().any(|p| contains_bytes(n, p.as_bytes())) {
            return true;
        }
        // One automaton pass rules out the common case (`Image`, `User`,
        // `CommandLine`): without any of the secret, header or session parts
        // the checks below cannot change anything.
        if !NAME_PARTS_AC.is_match(n) {
            return false;
        }
        let Ok(n) = std::str::from_utf8(n) else {
            return false; // unreachable: normalised names are text
        };
        if is_benign_name(n) {
            return false;
        }
        if SECRET_NAME_PARTS.iter().any(|p| n.contains(p)) {
            return true;
        }
        if HEADER_NAME_PARTS.iter().any(|p| n.contains(p)) {
            *found = Some(NameClass::Header);
        } else if found.is_none() && (n == "session" || SESSION_NAME_PARTS.iter().any(|p| n.contains(p))) {
            *found = Some(NameClass::Session);
        }
        false
    }

    /// Replacement for a whole value under a secret key.
    fn replacement_for_value(&self, v: &Value) -> String {
        match v {
            Value::String(s) => self.replacement(s),
            other => self.replacement(&other.to_string()),
        }
    }

    fn replacement(&self, secret: &str) -> String {
        match (&self.mode, &self.hmac) {
            (RedactMode::Hash, Some(key)) => {
                let mac = key.mac(secret.as_bytes());
                let mut out = String::with_capacity(HASH_PREFIX.len() + HASH_HEX_DIGITS);
                out.push_str(HASH_PREFIX);
                for b in &mac[..HASH_HEX_DIGITS / 2] {
                    out.push_str(&format!("{b:02x}"));
                }
                out
            }
            _ => MASK.to_string(),
        }
    }

    /// `s` with each secret part replaced, and how many were; `None` if clean.
    fn redact_text(&self, s: &str, scratch: &mut Scratch) -> Option<(String, usize)> {
        let spans = self.scanner.find_secret_spans(s, scratch);
        if spans.is_empty() {
            return None;
        }
        let mut out = String::with_capacity(s.len());
        let mut last = 0;
        for &(start, end) in &spans {
            out.push_str(&s[last..start]);
            out.push_str(&self.replacement(&s[start..end]));
            last = end;
        }
        out.push_str(&s[last..]);
        Some((out, spans.len()))
    }
}

/// Kinds of secret field names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NameClass {
    /// Always replaced whole.
    Secret,
    /// HTTP header-like (`authorization`, `cookie`): replaced unless an object.
    Header,
    /// Session identifier: replaced unless a small integer (an OS session number).
    Session,
}

fn needs_whole_redaction(class: NameClass, v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(_) => return false,
        Value::String(s) if s.is_empty() || is_already_redacted(s) => return false,
        _ => {}
    }
    match class {
        NameClass::Secret => true,
        NameClass::Header => !v.is_object(),
        NameClass::Session => match v {
            Value::Number(n) => n.as_u64().is_none_or(|n| n >= 1_000_000),
            Value::String(s) => !(s.len() <= 6 && s.bytes().all(|b| b.is_ascii_digit())),
            _ => true,
        },
    }
}

fn is_already_redacted(s: &str) -> bool {
    s == MASK
        || (s.len() == HASH_PREFIX.len() + HASH_HEX_DIGITS
            && s.starts_with(HASH_PREFIX)
            && s[HASH_PREFIX.len()..].bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Lower case, without `-`, `_`, spaces, `@`, `#`, `$`.
fn normalize_name(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '-' | '_' | ' ' | '@' | '#' | '$'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// `f` of [`normalize_name`]`(name)`, without allocating for the usual short
/// ASCII names (for ASCII, `char::to_lowercase` is `to_ascii_lowercase`).
fn with_normalized<R>(name: &str, f: impl FnOnce(&[u8]) -> R) -> R {
    const CAP: usize = 64;
    if name.len() > CAP || !name.is_ascii() {
        return f(normalize_name(name).as_bytes());
    }
    let mut buf = [0u8; CAP];
    let mut len = 0;
    for &b in name.as_bytes() {
        if !matches!(b, b'-' | b'_' | b' ' | b'@' | b'#' | b'$') {
            buf[len] = b.to_ascii_lowercase();
            len += 1;
        }
    }
    f(&buf[..len])
}

/// Whether `needle` occurs in `haystack`.
fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every part of [`SECRET_NAME_PARTS`], [`HEADER_NAME_PARTS`] and
/// [`SESSION_NAME_PARTS`], and `session`: a normalised name containing none
/// of them is neither secret, header nor session.
static NAME_PARTS_AC: LazyLock<AhoCorasick> = LazyLock::new(|| {
    let parts = SECRET_NAME_PARTS
        .iter()
        .chain(HEADER_NAME_PARTS)
        .chain(SESSION_NAME_PARTS)
        .chain(&["session"]);
    // Names are short: a plain DFA pass beats a prefilter's set-up.
    AhoCorasick::builder()
        .kind(Some(AhoCorasickKind::DFA))
        .prefilter(false)
        .build(parts)
        .expect("name parts build")
});

/// Substrings of (normalised) field names that make the field secret.
const SECRET_NAME_PARTS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "passcode",
    "pwd",
    "secret",
    "token",
    "apikey",
    "privatekey",
    "privkey",
    "credential",
    "accesskey",
    "accountkey",
    "sharedkey",
    "encryptionkey",
    "masterkey",
    "signingkey",
    "authkey",
    "connectionstring",
    "connstring",
    "connstr",
    "cardnumber",
    "creditcard",
    "cvv",
    "ntlmhash",
    "nthash",
    "lmhash",
];

/// HTTP header-like names: replaced when a scalar or array, recursed when an object.
const HEADER_NAME_PARTS: &[&str] = &["authorization", "cookie"];

/// Session identifier names (besides a segment named exactly `session`).
const SESSION_NAME_PARTS: &[&str] = &["sessionid", "sessid", "sessionkey", "sessioncookie"];

/// Known-benign names (normalised) that contain a secret word.
const BENIGN_NAMES: &[&str] = &[
    "tokenelevationtype",         // Windows 4688: elevation kind (%%1936), not a token
    "elevatedtoken",              // Windows 4624: yes/no
    "passwordlastset",            // Windows 4720/4738: a date
    "pwdlastset",                 // AD attribute: a date
    "pwdproperties",              // AD domain policy flags
    "terminalsessionid",          // Sysmon: console session number
    "sessionname",                // Windows 4778/4779: RDP-Tcp#3
    "countofcredentialsreturned", // Windows 5379
    "credentialtype",             // Okta authenticationContext
    "credentialprovider",         // Okta authenticationContext
    "tokenissuertype",            // Azure AD sign-in
    "tokenissuername",            // Azure AD sign-in
    "incomingtokentype",          // Azure AD sign-in
    "hashedtoken",                // GitHub audit log: SHA-256 of the token
    "secretname",                 // Kubernetes: the Secret object's name
    "secretid",                   // CloudTrail Secrets Manager: which secret, not its value
    "secretarn",                  // idem
    "tokenid",                    // GitHub audit log: the token's database id
    "uniquetokenidentifier",      // Azure AD sign-in: correlation id of the token
    "credentialid",               // WebAuthn: public credential id
];

/// Descriptor suffixes: a secret word followed by one of these names metadata
/// about the secret (`PasswordLastSet`, `token_type`, `password_length`).
const BENIGN_SUFFIXES: &[&str] = &[
    "type",
    "name",
    "count",
    "length",
    "lastset",
    "lastchanged",
    "lastused",
    "changed",
    "age",
    "policy",
    "provider",
    "expired",
    "expires",
    "expiresat",
    "expiresin",
    "expiry",
    "expiration",
    "expirationtime",
    "neverexpires",
    "required",
    "notrequired",
    "status",
    "state",
    "enabled",
    "issuer",
    "version",
    "algorithm",
    "format",
    "scope",
    "scopes",
    "lifetime",
    "ttl",
];

fn is_benign_name(n: &str) -> bool {
    BENIGN_NAMES.contains(&n) || BENIGN_SUFFIXES.iter().any(|s| n.len() > s.len() && n.ends_with(s))
}

/// Keys naming the pair in `{"name": …, "value": …}` objects (normalised).
const PAIR_NAME_KEYS: &[&str] = &["name", "key", "parametername", "parameterkey", "attributename", "field"];
/// Keys holding the pair's value (normalised).
const PAIR_VALUE_KEYS: &[&str] = &["value", "parametervalue", "attributevalue", "text"];

/// False only if `key` is not one of [`PAIR_VALUE_KEYS`] (all end in `value`
/// or `text`) once normalised; cheap, without normalising.
fn may_be_pair_value_key(key: &str) -> bool {
    if !key.is_ascii() {
        return true;
    }
    let mut tail = key
        .bytes()
        .rev()
        .filter(|b| !matches!(b, b'-' | b'_' | b' ' | b'@' | b'#' | b'$'))
        .map(|b| b.to_ascii_lowercase());
    let mut last4 = [0u8; 4];
    for slot in last4.iter_mut().rev() {
        match tail.next() {
            Some(b) => *slot = b,
            None => return false,
        }
    }
    &last4 == b"text" || (&last4 == b"alue" && tail.next() == Some(b'v'))
}

// ---------------------------------------------------------------------------
// Secret-looking values inside strings.
// ---------------------------------------------------------------------------

type Check = fn(&Caps<'_>, &str) -> bool;

/// A regex whose group `s`, `q` or `a` (the first that took part) is the secret.
struct ValuePattern {
    name: &'static str,
    re: Regex,
    check: Option<Check>,
    /// What every match of `re` contains (all of them): the prefilter.
    need: &'static [Anchor],
    groups: GroupIndex,
}

/// Something every match of a pattern contains. The prefilter runs a pattern
/// on a string only if the string has all of the pattern's anchors, so an
/// anchor must be *implied* by the regex: each literal listed must be one
/// that any match spells out, ignoring ASCII case (the regexes' `(?i)` is
/// Unicode-aware: the two non-ASCII characters that fold to ASCII letters,
/// `ſ` and the Kelvin sign, make every pattern a candidate; see
/// [`FOLDS_TO_ASCII`]).
#[derive(Clone, Copy, Debug)]
enum Anchor {
    /// One of these literals (lower case), ASCII case-insensitively.
    Lit(&'static [&'static str]),
    /// One of these bytes (never letters).
    Bytes(&'static [u8]),
    /// What `card_number` needs: see [`has_card_digits`].
    CardDigits,
}
use Anchor::{Bytes, CardDigits, Lit};

/// The non-ASCII characters that a `(?i)` regex matches for an ASCII
/// character (`(?i)s` matches `ſ`, `(?i)k` the Kelvin sign). A string holding
/// one is searched with every pattern.
const FOLDS_TO_ASCII: [char; 2] = ['\u{17F}', '\u{212A}'];

/// Indices of the named groups in a pattern's [`CaptureLocations`].
#[derive(Clone, Copy, Debug, Default)]
struct GroupIndex {
    s: Option<usize>,
    q: Option<usize>,
    a: Option<usize>,
    n: Option<usize>,
    u: Option<usize>,
}

impl GroupIndex {
    fn of(re: &Regex) -> GroupIndex {
        let find = |name: &str| re.capture_names().position(|n| n == Some(name));
        GroupIndex {
            s: find("s"),
            q: find("q"),
            a: find("a"),
            n: find("n"),
            u: find("u"),
        }
    }
}

/// One match's groups, as the checks see them.
struct Caps<'h> {
    hay: &'h str,
    locs: &'h CaptureLocations,
    groups: GroupIndex,
}

impl<'h> Caps<'h> {
    fn span(&self, group: Option<usize>) -> Option<(usize, usize)> {
        group.and_then(|i| self.locs.get(i))
    }

    fn text(&self, group: Option<usize>) -> Option<&'h str> {
        self.span(group).map(|(a, b)| &self.hay[a..b])
    }

    /// The secret group: `s`, `q` or `a`, whichever took part.
    fn secret(&self) -> Option<(usize, usize)> {
        let g = self.groups;
        self.span(g.s).or_else(|| self.span(g.q)).or_else(|| self.span(g.a))
    }

    /// Whether the value was bare (group `s`), not quoted.
    fn bare(&self) -> bool {
        self.span(self.groups.s).is_some()
    }
}

/// A value after a tool's flag: double-quoted, single-quoted or bare.
const TOOL_VAL: &str = r#"(?:"(?P<q>[^"]*)"|'(?P<a>[^']*)'|(?P<s>[^\s"']+))"#;

/// A positional value: like [`TOOL_VAL`], but a bare value cannot look like a
/// switch or a prompt (`/add`, `-x`, `*`), so the regex moves on to a later
/// candidate (`net use \\h /user:a /user:b pw`) instead of stopping there.
const POS_VAL: &str = r#"(?:"(?P<q>[^"]*)"|'(?P<a>[^']*)'|(?P<s>[^\s"'/*-][^\s"']*))"#;

/// A value after `name=`/`name:`: quoted (also JSON-escaped `\"…\"`) or bare
/// up to a separator of query strings / connection strings.
const KV_VAL: &str = r#"(?:\\?"(?P<q>[^"]*?)\\?"|'(?P<a>[^']*)'|(?P<s>[^\s"'&;]+))"#;

/// Names (in `name=value`) ending with a secret word.
const KV_NAMES: &str = r"(?P<n>[a-z0-9_.-]*(?:password|passwd|passphrase|passcode|pwd|secret|token|api[_-]?key|access[_-]?key|account[_-]?key|private[_-]?key|auth[_-]?key|session[_-]?id|sessid|session[_-]?key|credentials?|connection[_-]?string|conn[_-]?str|cvv2?|cvc2?|card[_-]?number)|pass)";

static VALUE_PATTERNS: LazyLock<Vec<ValuePattern>> = LazyLock::new(|| {
    let p = |name: &'static str, need: &'static [Anchor], re: &str, check: Option<Check>| {
        let re = Regex::new(re).unwrap_or_else(|e| panic!("built-in redaction pattern {name}: {e}"));
        ValuePattern {
            name,
            groups: GroupIndex::of(&re),
            re,
            check,
            need,
        }
    };
    // Program-specific prefix: the program name, then anything on the same
    // command (not past a pipe or command separator).
    let tool = |progs: &str| format!(r"(?i)\b(?:{progs})(?:\.exe)?\b[^\r\n|;&]*?");
    vec![
        // --- HTTP authorization -------------------------------------------------
        p(
            "authorization_header",
            &[Lit(&["authorization"]), Bytes(b":=")],
            r#"(?i)\b(?:proxy-)?authorization\\?["']?[ \t]*[:=][ \t]*\\?["']?(?:(?:bearer|basic|digest|negotiate|ntlm|token|aws4-hmac-sha256|sharedkey|sharedkeylite|apikey|key|sso-key|splunk)[ \t]+)?(?P<s>[^\s"',]+(?:,[ \t]*[^\s"',]+)*)"#,
            Some(check_authorization),
        ),
        p(
            "cookie_header",
            &[Lit(&["cookie"]), Bytes(b":")],
            r#"(?i)\b(?:set-)?cookie\\?["']?[ \t]*:[ \t]*\\?["']?(?P<s>[^"'\r\n]+)"#,
            Some(check_authorization),
        ),
        p(
            "bearer",
            &[Lit(&["bearer"])],
            r"(?i)\bbearer[ \t]+(?P<s>[a-z0-9\-._~+/]{8,}=*)",
            Some(check_bearer),
        ),
        p(
            "basic",
            &[Lit(&["basic"])],
            r"(?i)\bbasic[ \t]+(?P<s>[a-z0-9+/]{4,}={0,2})",
            Some(check_basic),
        ),
        // --- Well-known token formats ------------------------------------------
        p(
            "jwt",
            &[Lit(&["eyj"]), Bytes(b".")],
            r"\b(?P<s>eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)",
            None,
        ),
        p(
            "aws_access_key_id",
            &[Lit(&["akia", "asia", "abia", "acca"])],
            r"\b(?P<s>(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16})\b",
            None,
        ),
        p(
            "github_token",
            &[Lit(&["ghp_", "gho_", "ghu_", "ghs_", "ghr_"])],
            r"\b(?P<s>(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255})\b",
            None,
        ),
        p(
            "github_pat",
            &[Lit(&["github_pat_"])],
            r"\b(?P<s>github_pat_[A-Za-z0-9_]{22,255})",
            None,
        ),
        p(
            "gitlab_token",
            &[Lit(&["glpat-"])],
            r"\b(?P<s>glpat-[A-Za-z0-9_-]{20,})",
            None,
        ),
        p(
            "slack_token",
            &[Lit(&["xox"])],
            r"\b(?P<s>xox[abposr]-[A-Za-z0-9-]{10,})",
            None,
        ),
        p(
            "slack_webhook",
            &[Lit(&["hooks.slack.com/services/"])],
            r"(?i)hooks\.slack\.com/services/(?P<s>[A-Za-z0-9/_-]+)",
            None,
        ),
        p(
            "google_api_key",
            &[Lit(&["aiza"])],
            r"(?P<s>AIza[0-9A-Za-z_-]{35})",
            None,
        ),
        p(
            "stripe_key",
            &[Lit(&["k_live_", "k_test_"])],
            r"\b(?P<s>(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{16,})",
            None,
        ),
        p("npm_token", &[Lit(&["npm_"])], r"\b(?P<s>npm_[A-Za-z0-9]{36})\b", None),
        p(
            "sk_api_key",
            &[Lit(&["sk-"])],
            r"\b(?P<s>sk-(?:proj-|ant-[a-z0-9]+-)?[A-Za-z0-9_-]{32,})",
            None,
        ),
        // --- Key material ------------------------------------------------------
        p(
            "pem_private_key",
            &[Lit(&["-----begin"]), Lit(&["private key"])],
            r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?P<s>[\s\S]*?)(?:-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\z)",
            None,
        ),
        p(
            "card_number",
            &[CardDigits],
            r"\b(?P<s>[2-6][0-9]{3}(?:[ -]?[0-9]){9,15})\b",
            Some(check_card),
        ),
        // --- name=value pairs --------------------------------------------------
        p(
            "secret_kv",
            &[
                Lit(&[
                    "pass",
                    "pwd",
                    "secret",
                    "token",
                    "key",
                    "session",
                    "sessid",
                    "credential",
                    "conn",
                    "cvv",
                    "cvc",
                    "card",
                ]),
                Bytes(b":="),
            ],
            &format!(r#"(?i)(?:^|[^a-z0-9]){KV_NAMES}\\?["']?[ \t]*[:=][ \t]*{KV_VAL}"#),
            Some(check_kv),
        ),
        p(
            "query_param",
            &[
                Lit(&[
                    "sig=",
                    "signature=",
                    "credential=",
                    "key=",
                    "auth=",
                    "sid=",
                    "jwt=",
                    "code_verifier=",
                ]),
                Bytes(b"?&;#"),
            ],
            r#"(?i)[?&;#](?:sig|signature|x-amz-signature|x-amz-credential|x-goog-signature|x-goog-credential|key|auth|sid|jwt|code_verifier)=(?P<s>[^&\s#"']+)"#,
            Some(check_plain),
        ),
        p(
            "xml_element",
            &[
                Lit(&[
                    "password>",
                    "passwd>",
                    "pwd>",
                    "secret>",
                    "token>",
                    "apikey>",
                    "api_key>",
                    "sessionid>",
                    "credential>",
                ]),
                Lit(&["</"]),
            ],
            r"(?i)<(?P<n>[a-z0-9_:.-]*(?:password|passwd|pwd|secret|token|apikey|api_key|sessionid|credential))>(?P<s>[^<]+)</",
            Some(check_kv),
        ),
        p(
            "url_userinfo",
            &[Lit(&["://"]), Bytes(b"@")],
            r#"(?i)\b[a-z][a-z0-9+.-]*://[^\s/:@"']*:(?P<s>[^\s/"']+)@[a-z0-9_.\[\]-]+"#,
            Some(check_plain),
        ),
        p(
            "user_pass_at_host",
            &[Bytes(b"@"), Bytes(b":")],
            r#"(?i)(?:^|[\s"'])(?:[a-z0-9_.-]+[/\\])?(?P<u>[a-z0-9_.$-]+):(?P<s>[^\s"'/]+)@[a-z0-9_-]+(?:\.[a-z0-9_-]+)*(?:[\s"':/]|$)"#,
            Some(check_user_pass),
        ),
        // --- Command-line flags -------------------------------------------------
        p(
            "secret_flag",
            &[
                Lit(&["pass", "pwd", "secret", "token", "key", "credential", "connection"]),
                Bytes(b"-"),
            ],
            &format!(
                r"(?i)(?:^|\s)--?(?P<n>[a-z0-9-]*(?:password|passwd|passphrase|pwd|secret|token|api-?key|access-?key|private-?key|credentials?|connection-?string))[ \t]+{TOOL_VAL}"
            ),
            Some(check_flag_value),
        ),
        p(
            "windows_hash_switch",
            &[
                Lit(&[
                    "/ntlm", "/rc4", "/aes128", "/aes256", "/des", "/ticket", "/krbkey", "/pth",
                ]),
                Bytes(b":="),
            ],
            &format!(r"(?i)(?:^|\s)/(?:ntlm|rc4|aes128|aes256|des|ticket|krbkey|pth)[:=]{TOOL_VAL}"),
            Some(check_flag_value),
        ),
        p(
            "schtasks_rp",
            &[Lit(&["schtasks"]), Lit(&["/rp"])],
            &format!(r"{}[ \t]/rp[ \t:]+{TOOL_VAL}", tool("schtasks")),
            Some(check_flag_value),
        ),
        p(
            "net_use_after_user",
            &[Lit(&["net"]), Lit(&["use"]), Lit(&["/u:", "/user:"])],
            &format!(r#"(?i)\bnet1?(?:\.exe)?"?[ \t]+use\b[^\r\n|;&]*?[ \t]/u(?:ser)?:(?:"[^"]*"|\S+)[ \t]+{POS_VAL}"#),
            Some(check_positional),
        ),
        p(
            "net_use_after_share",
            &[Lit(&["net"]), Lit(&["use"]), Lit(&["\\\\"])],
            &format!(r#"(?i)\bnet1?(?:\.exe)?"?[ \t]+use[ \t]+(?:(?:[a-z]:|\*)[ \t]+)?\\\\\S+[ \t]+{POS_VAL}"#),
            Some(check_positional),
        ),
        p(
            "net_user",
            &[Lit(&["net"]), Lit(&["user"])],
            &format!(r#"(?i)\bnet1?(?:\.exe)?"?[ \t]+user[ \t]+(?:"[^"]*"|[^\s/"]+)[ \t]+{POS_VAL}"#),
            Some(check_positional),
        ),
        p(
            "mysql_p",
            &[Lit(&["mysql", "mariadb"]), Lit(&["-p"])],
            &format!(
                r"{}[ \t](?-i:-p){TOOL_VAL}",
                tool("mysql|mysqldump|mysqladmin|mysqlimport|mysqlshow|mysqlcheck|mariadb|mariadb-dump")
            ),
            Some(check_flag_value),
        ),
        p(
            "sqlcmd_p",
            &[Lit(&["sqlcmd", "osql", "bcp", "isql"]), Lit(&["-p"])],
            &format!(r"{}[ \t](?-i:-P)[ \t]*{TOOL_VAL}", tool("sqlcmd|osql|bcp|isql")),
            Some(check_flag_value),
        ),
        p(
            "remote_exec_p",
            &[
                Lit(&[
                    "psexec",
                    "paexec",
                    "crackmapexec",
                    "cme",
                    "nxc",
                    "netexec",
                    "evil-winrm",
                    "hydra",
                    "medusa",
                    "smbmap",
                    "sshpass",
                    "exec.py",
                    "impacket-",
                ]),
                Lit(&["-p"]),
            ],
            &format!(
                r"{}[ \t](?-i:-p)[ \t]*{TOOL_VAL}",
                tool(
                    r"psexec|psexec64|paexec|crackmapexec|cme|nxc|netexec|evil-winrm|hydra|medusa|smbmap|sshpass|[a-z]+exec\.py|impacket-[a-z]+"
                )
            ),
            Some(check_flag_value),
        ),
        p(
            "registry_login_p",
            &[Lit(&["login"]), Lit(&["-p"])],
            &format!(
                r"(?i)\b(?:docker|podman|nerdctl|helm|oc|buildah|skopeo)(?:\.exe)?[ \t]+(?:registry[ \t]+)?login\b[^\r\n|;&]*?[ \t](?-i:-p)[ \t]+{TOOL_VAL}"
            ),
            Some(check_flag_value),
        ),
        p(
            "archive_p",
            &[Lit(&["7z", "rar"]), Lit(&["-p"])],
            &format!(r"{}[ \t](?-i:-p){TOOL_VAL}", tool("7z|7za|7zr|7zg|rar|winrar|unrar")),
            Some(check_flag_value),
        ),
        p(
            "zip_p",
            &[Lit(&["zip"]), Lit(&["-p"])],
            &format!(r"{}[ \t](?-i:-P)[ \t]+{TOOL_VAL}", tool("zip|unzip")),
            Some(check_flag_value),
        ),
        p(
            "curl_user",
            &[Lit(&["curl"]), Lit(&["-u"]), Bytes(b":")],
            &format!(
                r#"{}[ \t](?:-u|--user|--proxy-user|-U)[ \t]*["']?[^\s:"']*:(?P<s>[^\s"']+)"#,
                tool("curl")
            ),
            Some(check_plain),
        ),
        p(
            "smb_user_percent",
            &[
                Lit(&["smbclient", "rpcclient", "smbcacls", "winexe", "pth-"]),
                Lit(&["-u"]),
                Bytes(b"%"),
            ],
            &format!(
                r#"{}[ \t](?:-U|--user(?:name)?)[ \t=]*["']?[^\s%"']*%(?P<s>[^\s"']+)"#,
                tool("smbclient|rpcclient|smbcacls|winexe|pth-[a-z]+")
            ),
            Some(check_plain),
        ),
        p(
            "freerdp_p",
            &[Lit(&["freerdp"]), Lit(&["/p:", "/pth:"])],
            &format!(
                r"{}[ \t]/(?:p|pth):{TOOL_VAL}",
                tool("xfreerdp|wfreerdp|sdl-freerdp|freerdp|xfreerdp3")
            ),
            Some(check_flag_value),
        ),
        p(
            "openssl_pass",
            &[Lit(&["-pass"]), Lit(&["pass:"])],
            r#"(?i)[ \t]-pass(?:in|out|word)?[ \t]+pass:(?P<s>[^\s"']+)"#,
            Some(check_plain),
        ),
        p(
            "aws_configure_set",
            &[
                Lit(&["configure"]),
                Lit(&["aws_secret_access_key", "aws_session_token", "aws_access_key_id"]),
            ],
            &format!(
                r"(?i)\baws(?:\.exe)?[ \t]+configure[ \t]+set[ \t]+(?:[a-z0-9_.-]*\.)?(?:aws_secret_access_key|aws_session_token|aws_access_key_id)[ \t]+{TOOL_VAL}"
            ),
            Some(check_plain),
        ),
        p(
            "ntlm_hashes",
            &[Lit(&["-hashes"]), Bytes(b":")],
            r"(?i)[ \t]-hashes[ \t]+(?P<s>[0-9a-f]*:[0-9a-f]{32})",
            None,
        ),
        p(
            "convertto_securestring",
            &[Lit(&["convertto-securestring"])],
            &format!(r"(?i)\bConvertTo-SecureString\b[ \t]+(?:-String[ \t]+)?{TOOL_VAL}"),
            Some(check_flag_value),
        ),
        p(
            "convertto_securestring_named",
            &[Lit(&["convertto-securestring"]), Lit(&["-string"])],
            &format!(r"(?i)\bConvertTo-SecureString\b[^\r\n|;]*?[ \t]-String[ \t]+{TOOL_VAL}"),
            Some(check_flag_value),
        ),
        p(
            "securestring_pipeline",
            &[Lit(&["convertto-securestring"]), Bytes(b"|")],
            r#"(?i)(?:"(?P<q>[^"]*)"|'(?P<a>[^']*)')[ \t]*\|[ \t]*ConvertTo-SecureString\b"#,
            Some(check_plain),
        ),
        p(
            "network_credential",
            &[Lit(&["networkcredential", "pscredential"]), Bytes(b",")],
            &format!(
                r#"(?i)\b(?:NetworkCredential|PSCredential)\b\]?(?:::new)?[ \t]*(?:\(|-ArgumentList[ \t]*\(?)[ \t]*(?:"[^"]*"|'[^']*'|\$[a-z0-9_:]+)[ \t]*,[ \t]*{TOOL_VAL}"#
            ),
            Some(check_flag_value),
        ),
        p(
            "chpasswd",
            &[Lit(&["chpasswd"]), Bytes(b"|")],
            r#"(?i)\b(?:echo|printf)[ \t]+["']?[a-z0-9_.-]+:(?P<s>[^\s"'|]+)["']?[ \t]*\|[ \t]*(?:sudo[ \t]+)?chpasswd"#,
            Some(check_plain),
        ),
        p(
            "echo_to_passwd",
            &[Lit(&["echo"]), Lit(&["sudo", "passwd"]), Bytes(b"|")],
            r#"(?i)\becho[ \t]+(?:-[a-z]+[ \t]+)?(?:"(?P<q>[^"]*)"|'(?P<a>[^']*)'|(?P<s>[^\s"'|]+))[ \t]*\|[ \t]*(?:sudo[ \t]+-S\b|(?:sudo[ \t]+)?passwd\b)"#,
            Some(check_plain),
        ),
    ]
});

/// The built-in value patterns and their prefilter.
static SCANNER: LazyLock<Scanner> = LazyLock::new(|| Scanner::new(&VALUE_PATTERNS));

/// Fragments that stand in for the longer anchor literals containing them
/// in the gate search (such a literal is only present where its fragment
/// is): fewer gates, a smaller automaton.
const GATE_FRAGMENTS: &[&str] = &[
    "pass", "pwd", "secret", "token", "key", "sess", "cred", "conn", "auth", "sig", "sql", "exec", "smb", "pth", "aes",
    "rdp", "-----",
];

/// The value patterns, and a prefilter that picks, per string, the few that
/// can match. Two steps:
///
/// 1. *Gates.* Each pattern's first [`Anchor::Lit`] is its gate: its
///    literals (or the [`GATE_FRAGMENTS`] entry each contains) are searched
///    for, all patterns' at once, ASCII-case-insensitively (one automaton
///    pass over the string; most strings of an event — paths, host and user
///    names, GUIDs, hashes — have none). A pattern whose gate has no hit is
///    out.
/// 2. *Anchors.* For the patterns left, and those without a `Lit` anchor
///    (`card_number`, `user_pass_at_host`), every anchor is checked exactly.
///
/// Only then does a pattern's regex run. A typical Sysmon process-creation
/// event runs no regex at all; 46 `captures_at` per string was the cost
/// before (`benches/redact.rs`).
struct Scanner {
    patterns: &'static [ValuePattern],
    /// The gate strings (lower case), searched leftmost-longest.
    gates: AhoCorasick,
    /// Per gate: the patterns (bit `i`: `patterns[i]`) it lets through, with
    /// those of the gates that are its prefixes (found at the same place,
    /// but not reported by a leftmost-longest search).
    gate_patterns: Vec<u64>,
    /// The patterns without a `Lit` anchor.
    ungated: u64,
}

/// Working memory of a redaction, kept per thread between calls: field-name
/// classifications (built-in rules), a buffer for a lower-cased string, and
/// one [`CaptureLocations`] per pattern, made on first use.
#[derive(Default)]
struct Scratch {
    names: FxHashMap<Box<str>, Option<NameClass>>,
    lower: String,
    locs: Vec<Option<CaptureLocations>>,
}

/// [`Scratch::lower`] is given back when it grew beyond this.
const LOWER_KEEP: usize = 1 << 16;

/// Field names longer than this are classified every time.
const NAME_MEMO_KEY_MAX: usize = 128;
/// The name memo is emptied when it reaches this many names (a stream with
/// ever new field names costs a classification per name, as without memo).
const NAME_MEMO_MAX: usize = 4096;

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// `f` with this thread's [`Scratch`] (a fresh one if it is unavailable).
fn with_scratch<R>(mut f: impl FnMut(&mut Scratch) -> R) -> R {
    SCRATCH
        .try_with(|cell| cell.try_borrow_mut().ok().map(|mut scratch| f(&mut scratch)))
        .ok()
        .flatten()
        .unwrap_or_else(|| f(&mut Scratch::default()))
}

impl Scratch {
    fn locs(&mut self, i: usize, re: &Regex) -> &mut CaptureLocations {
        if self.locs.len() <= i {
            self.locs.resize_with(i + 1, || None);
        }
        self.locs[i].get_or_insert_with(|| re.capture_locations())
    }
}

impl Scanner {
    fn new(patterns: &'static [ValuePattern]) -> Scanner {
        assert!(patterns.len() <= 64, "pattern sets are a u64");
        let mut gates: Vec<&'static str> = Vec::new();
        let mut gate_patterns: Vec<u64> = Vec::new();
        let mut ungated = 0u64;
        for (i, pat) in patterns.iter().enumerate() {
            for anchor in pat.need {
                if let Lit(lits) = anchor {
                    assert!(!lits.is_empty(), "{}: empty anchor", pat.name);
                    for lit in lits.iter() {
                        assert!(
                            !lit.is_empty() && lit.is_ascii() && *lit == lit.to_ascii_lowercase(),
                            "{}: anchor literals are non-empty lower-case ASCII",
                            pat.name
                        );
                    }
                }
            }
            let Some(lits) = pat.need.iter().find_map(|a| match a {
                Lit(lits) => Some(*lits),
                _ => None,
            }) else {
                ungated |= 1 << i;
                continue;
            };
            for lit in lits {
                let gate = GATE_FRAGMENTS.iter().find(|f| lit.contains(*f)).unwrap_or(lit);
                let g = gates.iter().position(|x| x == gate).unwrap_or_else(|| {
                    gates.push(gate);
                    gate_patterns.push(0);
                    gates.len() - 1
                });
                gate_patterns[g] |= 1 << i;
            }
        }
        let closed: Vec<u64> = gates
            .iter()
            .map(|g| {
                gates
                    .iter()
                    .zip(&gate_patterns)
                    .filter(|(p, _)| g.starts_with(**p))
                    .fold(0, |acc, (_, bits)| acc | bits)
            })
            .collect();
        // No prefilter: with this many short gates, a SIMD literal prefilter
        // stops too often to beat one DFA pass (and there is none for
        // ASCII-case-insensitive searches anyway).
        let gates = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(AhoCorasickKind::DFA))
            .prefilter(false)
            .build(&gates)
            .expect("gates build");
        Scanner {
            patterns,
            gates,
            gate_patterns: closed,
            ungated,
        }
    }

    /// The patterns (bit `i`: `patterns[i]`) that can match somewhere in `s`
    /// (`lower`: scratch space for `s` lower-cased).
    fn candidates(&self, s: &str, lower: &mut String) -> u64 {
        // A `(?i)` regex matches `ſ` for `s` and the Kelvin sign for `k`,
        // which ASCII lower-casing does not see: with one of them, only the
        // byte and digit anchors (no letters) can rule a pattern out.
        let folds = !s.is_ascii() && s.contains(FOLDS_TO_ASCII);
        let mut gated = 0u64;
        if folds {
            gated = self.all();
        } else {
            // Every place where a gate starts, by restarting one byte after
            // each match's start (a gate inside or across another is seen).
            let hay = s.as_bytes();
            let mut at = 0;
            while at < hay.len() {
                let Some(m) = self.gates.find(aho_corasick::Input::new(hay).range(at..)) else {
                    break;
                };
                gated |= self.gate_patterns[m.pattern().as_usize()];
                at = m.start() + 1;
            }
        }
        let mut card = None;
        let mut lowered = false;
        let mut out = 0u64;
        let mut rest = gated | self.ungated;
        while rest != 0 {
            let i = rest.trailing_zeros() as usize;
            rest &= rest - 1;
            let ok = self.patterns[i].need.iter().all(|anchor| match *anchor {
                Lit(_) if folds => true,
                Lit(lits) => {
                    if !lowered {
                        lower.clear();
                        lower.push_str(s);
                        lower.make_ascii_lowercase();
                        lowered = true;
                    }
                    lits.iter().any(|l| lower.contains(l))
                }
                Bytes(set) => set.iter().any(|b| s.as_bytes().contains(b)),
                CardDigits => *card.get_or_insert_with(|| has_card_digits(s)),
            });
            if ok {
                out |= 1 << i;
            }
        }
        if lower.capacity() > LOWER_KEEP {
            *lower = String::new(); // do not keep a huge string's buffer per thread
        }
        out
    }

    /// Every pattern.
    fn all(&self) -> u64 {
        u64::MAX.checked_shr(64 - self.patterns.len() as u32).unwrap_or(0)
    }

    /// Byte spans of secrets in `s`, sorted and merged.
    fn find_secret_spans(&self, s: &str, scratch: &mut Scratch) -> Vec<(usize, usize)> {
        match self.candidates(s, &mut scratch.lower) {
            0 => Vec::new(),
            candidates => self.spans_of(s, candidates, scratch),
        }
    }

    /// Like [`Scanner::find_secret_spans`], running the patterns in `which`.
    fn spans_of(&self, s: &str, which: u64, scratch: &mut Scratch) -> Vec<(usize, usize)> {
        // Computed on the first secret found: most strings have none.
        let mut done: Option<Vec<(usize, usize)>> = None;
        let mut spans: Vec<(usize, usize)> = Vec::new();
        let mut rest = which;
        while rest != 0 {
            let i = rest.trailing_zeros() as usize;
            rest &= rest - 1;
            let pat = &self.patterns[i];
            scan_pattern(pat, s, scratch.locs(i, &pat.re), &mut done, &mut spans);
        }
        if spans.is_empty() {
            return spans;
        }
        spans.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
        for (start, end) in spans {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        merged
    }
}

/// Pushes the spans of `pat`'s accepted secrets in `s` onto `spans`.
fn scan_pattern(
    pat: &ValuePattern,
    s: &str,
    locs: &mut CaptureLocations,
    done: &mut Option<Vec<(usize, usize)>>,
    spans: &mut Vec<(usize, usize)>,
) {
    // Not `captures_iter`: a rejected match (`--no-password --token x`)
    // must not hide a real one that starts inside it, so the search
    // resumes just after a rejected match's start, and after an accepted
    // secret's end. Resuming inside rejected matches is budgeted so that
    // hostile input (`password=[REDACTED]` × 100 000) stays linear.
    let mut pos = 0;
    let mut retries = 0;
    while pos <= s.len() {
        let Some(m) = pat.re.captures_read_at(locs, s, pos) else {
            break;
        };
        let whole = (m.start(), m.end());
        let caps = Caps {
            hay: s,
            locs,
            groups: pat.groups,
        };
        let accepted = caps.secret().filter(|&(a, b)| {
            let secret = &s[a..b];
            !secret.is_empty() && !is_placeholder(secret) && pat.check.is_none_or(|check| check(&caps, secret))
        });
        let pushed = accepted.is_some_and(|m| {
            let done = done.get_or_insert_with(|| already_redacted_ranges(s));
            push_outside(done, s, m, spans)
        });
        pos = match accepted {
            Some((_, end)) if pushed => end.max(whole.0 + 1),
            _ if retries < MAX_RESCANS => {
                retries += 1;
                whole.0 + 1
            }
            _ => whole.1.max(whole.0 + 1),
        };
        while pos < s.len() && !s.is_char_boundary(pos) {
            pos += 1;
        }
    }
}

/// Whether `s` may hold a `card_number` match
/// (`\b[2-6][0-9]{3}(?:[ -]?[0-9]){9,15}`): 13 or more ASCII digits,
/// consecutive ones separated by at most one space or dash, the first a 2–6
/// at a word boundary (after a space or dash, or not after a letter, digit
/// or `_`).
///
/// Such a run lies inside a stretch of digits, spaces and dashes at least 13
/// bytes long, which covers one of every 13 positions: only the stretches
/// around those probes are looked at (text has few).
fn has_card_digits(s: &str) -> bool {
    const SPAN: usize = 13;
    let b = s.as_bytes();
    let in_run = |c: u8| c.is_ascii_digit() || c == b' ' || c == b'-';
    // Bytes before `floor` are known to hold no run of interest.
    let mut floor = 0;
    let mut probe = SPAN - 1;
    while probe < b.len() {
        if !in_run(b[probe]) {
            probe += SPAN;
            continue;
        }
        let mut start = probe;
        while start > floor && in_run(b[start - 1]) {
            start -= 1;
        }
        let mut end = probe + 1;
        while end < b.len() && in_run(b[end]) {
            end += 1;
        }
        for i in start..end {
            if !(b'2'..=b'6').contains(&b[i]) {
                continue;
            }
            let boundary = if i == start {
                // The byte before the stretch: a word character (ASCII
                // letter, digit, `_`) leaves no boundary; a non-ASCII one
                // might be a letter, or not.
                i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')
            } else {
                b[i - 1] == b' ' || b[i - 1] == b'-'
            };
            if boundary && card_run_from(&b[..end], i) {
                return true;
            }
        }
        // `b[end]` is not in a run: the next run starts after it.
        floor = end;
        probe = end + SPAN;
    }
    false
}

/// Whether 13 digits follow from `b[i]` on, consecutive ones separated by
/// at most one space or dash.
fn card_run_from(b: &[u8], mut i: usize) -> bool {
    let mut digits = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        digits += 1;
        if digits >= 13 {
            return true;
        }
        i += 1;
        if i + 1 < b.len() && (b[i] == b' ' || b[i] == b'-') && b[i + 1].is_ascii_digit() {
            i += 1;
        }
    }
    false
}

/// Pushes the parts of `span` outside earlier replacements (`done`, sorted by
/// start) that still hold a letter or digit and do not touch a replacement.
/// A match straddling a replacement (`hmac-sha256:…:` read as `user:pass`,
/// or a value that now runs on past `[REDACTED]` because the delimiter it
/// stopped at was replaced) must not redact again what the first pass left
/// readable: that keeps redaction idempotent. Returns whether anything was pushed.
fn push_outside(done: &[(usize, usize)], s: &str, span: (usize, usize), spans: &mut Vec<(usize, usize)>) -> bool {
    let before = spans.len();
    let (mut start, end) = span;
    let mut touches_left = false;
    // `done` is sorted and disjoint: skip to the first range ending at or after `start`.
    let first = done.partition_point(|&(_, b)| b < start);
    for &(a, b) in &done[first..] {
        if a > end {
            break;
        }
        if a > start && !touches_left {
            keep_piece(s, (start, a), false, true, spans);
        }
        touches_left = true;
        start = start.max(b);
    }
    keep_piece(s, (start, end), touches_left, false, spans);
    spans.len() > before
}

fn keep_piece(
    s: &str,
    (a, b): (usize, usize),
    touches_left: bool,
    touches_right: bool,
    spans: &mut Vec<(usize, usize)>,
) {
    if a < b && !touches_left && !touches_right && s[a..b].chars().any(char::is_alphanumeric) {
        spans.push((a, b));
    }
}

/// Ranges of `s` that are earlier replacements (`[REDACTED]`, `hmac-sha256:…`),
/// so that redaction is idempotent (a hash's hex digits are not a card number).
fn already_redacted_ranges(s: &str) -> Vec<(usize, usize)> {
    let mut ranges: Vec<(usize, usize)> = s.match_indices(MASK).map(|(i, m)| (i, i + m.len())).collect();
    for (i, _) in s.match_indices(HASH_PREFIX) {
        let end = i + HASH_PREFIX.len() + HASH_HEX_DIGITS;
        if s.get(i..end).is_some_and(is_already_redacted) {
            ranges.push((i, end));
        }
    }
    ranges.sort_unstable();
    ranges
}

/// Values that look like a slot for a secret but are not one: already
/// redacted, masks (`****`), yes/no, Windows message insertion strings
/// (`%%1842`), environment references (`%PASSWORD%`).
fn is_placeholder(v: &str) -> bool {
    if is_already_redacted(v) || v.starts_with(HASH_PREFIX) {
        return true;
    }
    const WORDS: &[&str] = &[
        "yes", "no", "true", "false", "null", "none", "nil", "n/a", "-", "required", "optional",
    ];
    if WORDS.iter().any(|w| v.eq_ignore_ascii_case(w)) {
        return true;
    }
    if v.bytes().all(|b| b == b'*' || b == b'x' || b == b'X') && v.contains('*') {
        return true;
    }
    if let Some(rest) = v.strip_prefix("%%") {
        return !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit());
    }
    v.len() > 2
        && v.starts_with('%')
        && v.ends_with('%')
        && v[1..v.len() - 1]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn check_plain(_: &Caps<'_>, _: &str) -> bool {
    true
}

fn check_authorization(_: &Caps<'_>, v: &str) -> bool {
    !v.starts_with('{') && !v.starts_with('[')
}

/// A bearer token has a digit or token punctuation ("Bearer authentication" is prose).
fn check_bearer(_: &Caps<'_>, v: &str) -> bool {
    v.bytes().any(|b| b.is_ascii_digit() || b"-._~+/=".contains(&b))
}

/// `Basic` credentials are base64 of `user:password`.
fn check_basic(_: &Caps<'_>, v: &str) -> bool {
    base64::engine::general_purpose::STANDARD
        .decode(v)
        .is_ok_and(|bytes| bytes.contains(&b':') && std::str::from_utf8(&bytes).is_ok())
}

fn check_kv(caps: &Caps<'_>, _: &str) -> bool {
    // `PWD=/home/bob` in sudo and auditd records is the working directory.
    !caps.text(caps.groups.n).is_some_and(|n| matches!(n, "PWD" | "OLDPWD"))
}

/// A flag's value: not the next flag, a sub-expression, a prompt request or
/// a variable reference.
fn check_flag_value(caps: &Caps<'_>, v: &str) -> bool {
    let bare = caps.bare();
    !(bare && (v.starts_with('-') || v.starts_with('(') || v == "*" || is_shell_variable(v)))
}

/// A positional password (`net use`, `net user`): not a switch or a prompt.
fn check_positional(caps: &Caps<'_>, v: &str) -> bool {
    let bare = caps.bare();
    !(bare && (v.starts_with('/') || v.starts_with('*') || v.starts_with('-')))
}

/// An unquoted `$name`, `$env:NAME` or `${NAME}` (with trailing `)`, `;`, `,`)
/// on a command line is a PowerShell or shell variable, not a literal: a
/// literal containing `$` has to be single-quoted in both shells.
fn is_shell_variable(v: &str) -> bool {
    let Some(rest) = v.strip_prefix('$') else {
        return false;
    };
    let rest = rest.trim_end_matches([')', ';', ',']);
    let name = rest
        .strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .or_else(|| rest.strip_prefix("env:"))
        .unwrap_or(rest);
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `user:pass@host`, unless it is a URI scheme or header label before an email.
fn check_user_pass(caps: &Caps<'_>, _: &str) -> bool {
    let user = caps.text(caps.groups.u).unwrap_or("").to_ascii_lowercase();
    !matches!(
        user.as_str(),
        "mailto" | "sip" | "sips" | "tel" | "smtp" | "from" | "to" | "cc" | "bcc" | "email" | "mail" | "user" | "upn"
    )
}

fn check_card(_: &Caps<'_>, v: &str) -> bool {
    let mut seps = v.bytes().filter(|b| !b.is_ascii_digit());
    // One kind of separator at most (`4111 1111-1111 1111` is not a card).
    if let Some(first) = seps.next() {
        if seps.any(|b| b != first) {
            return false;
        }
    }
    let digits: Vec<u8> = v.bytes().filter(u8::is_ascii_digit).map(|b| b - b'0').collect();
    (13..=19).contains(&digits.len()) && luhn_valid(&digits)
}

/// A JSON number that is a plausible card number (same rules as in strings).
fn number_is_card(n: &serde_json::Number) -> bool {
    let Some(mut u) = n.as_u64() else { return false };
    // 13 digits or more, the first 2–6: at least 2 000 000 000 000 (most
    // numbers in events, ids and counts, stop here).
    if u < 2_000_000_000_000 {
        return false;
    }
    let mut buf = [0u8; 20];
    let mut start = buf.len();
    while u > 0 {
        start -= 1;
        buf[start] = (u % 10) as u8;
        u /= 10;
    }
    let digits = &buf[start..];
    (13..=19).contains(&digits.len()) && (2..=6).contains(&digits[0]) && luhn_valid(digits)
}

/// The Luhn (mod 10) check over decimal digits (values 0–9).
fn luhn_valid(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    !digits.is_empty() && sum.is_multiple_of(10)
}

// ---------------------------------------------------------------------------
// HMAC-SHA256 (RFC 2104) over the crate's sha2, keyed once.
// ---------------------------------------------------------------------------

/// Hash states with the padded key already absorbed.
#[derive(Clone)]
struct HmacKey {
    inner: Sha256,
    outer: Sha256,
}

impl HmacKey {
    fn new(key: &[u8]) -> Self {
        let mut block = [0u8; 64];
        if key.len() > block.len() {
            block[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let ipad: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
        let opad: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
        HmacKey {
            inner: Sha256::new().chain_update(ipad),
            outer: Sha256::new().chain_update(opad),
        }
    }

    fn mac(&self, msg: &[u8]) -> [u8; 32] {
        let inner = self.inner.clone().chain_update(msg).finalize();
        self.outer.clone().chain_update(inner).finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mask() -> Redactor {
        Redactor::default_on()
    }

    fn with_mode(mode: RedactMode, key: Option<&str>) -> Redactor {
        Redactor::new(&RedactConfig {
            mode,
            hmac_key: key.map(str::to_string),
            ..RedactConfig::default()
        })
        .expect("valid config")
    }

    /// Redacts `s` and asserts that `secret` is gone and `keep` is still there.
    #[track_caller]
    fn hides(s: &str, secret: &str, keep: &[&str]) -> String {
        let out = mask()
            .redact_str(s)
            .unwrap_or_else(|| panic!("nothing redacted in {s:?}"));
        assert!(!out.contains(secret), "{secret:?} still in {out:?}");
        assert!(out.contains(MASK), "{out:?}");
        for k in keep {
            assert!(out.contains(k), "{k:?} lost from {out:?}");
        }
        out
    }

    #[track_caller]
    fn clean(s: &str) {
        assert_eq!(mask().redact_str(s), None, "false positive in {s:?}");
    }

    #[test]
    fn all_builtin_patterns_compile_and_are_named_uniquely() {
        let names: HashSet<_> = VALUE_PATTERNS.iter().map(|p| p.name).collect();
        assert_eq!(names.len(), VALUE_PATTERNS.len());
    }

    // --- HMAC -----------------------------------------------------------------

    #[test]
    fn hmac_matches_rfc4231() {
        let hex = |b: [u8; 32]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        // Test case 2.
        assert_eq!(
            hex(HmacKey::new(b"Jefe").mac(b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: key longer than the block.
        assert_eq!(
            hex(HmacKey::new(&[0xaa; 131]).mac(b"Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    // --- Luhn / cards ---------------------------------------------------------

    #[test]
    fn luhn_accepts_valid_and_rejects_invalid() {
        let d = |s: &str| s.bytes().map(|b| b - b'0').collect::<Vec<_>>();
        for ok in [
            "4111111111111111",
            "5500000000000004",
            "378282246310005",
            "6011111111111117",
            "79927398713",
        ] {
            assert!(luhn_valid(&d(ok)), "{ok}");
        }
        for bad in ["4111111111111112", "5500000000000005", "378282246310006", "79927398710"] {
            assert!(!luhn_valid(&d(bad)), "{bad}");
        }
        assert!(!luhn_valid(&[]));
    }

    #[test]
    fn card_numbers_only_when_luhn_valid() {
        hides(
            "card 4111 1111 1111 1111 exp 12/27",
            "1111 1111",
            &["card", "exp 12/27"],
        );
        hides("pan=5500-0000-0000-0004&amt=10", "0000-0004", &["amt=10"]);
        hides("amex 378282246310005.", "378282246310005", &["amex"]);
        clean("card 4111 1111 1111 1112");
        clean("ts=1714557600000 offset 4111111111111112");
        // Epoch milliseconds that happen to be Luhn-valid start with 1: not a card.
        clean("at 1714557600006");
        // Mixed separators are not a card layout.
        clean("4111 1111-1111 1111");
        // A JSON number is checked too.
        let mut v = json!({"amount": 12, "cc": 4111111111111111u64, "ts": 1714557600006u64});
        assert_eq!(mask().redact(&mut v), 1);
        assert_eq!(v, json!({"amount": 12, "cc": MASK, "ts": 1714557600006u64}));
    }

    // --- Value patterns -------------------------------------------------------

    #[test]
    fn authorization_headers() {
        let out = hides(
            r#"curl -H "Authorization: Bearer abc.def-123" https://x"#,
            "abc.def-123",
            &["curl -H \"Authorization: Bearer ", "\" https://x"],
        );
        assert_eq!(out, r#"curl -H "Authorization: Bearer [REDACTED]" https://x"#);
        hides(
            "Authorization: token ghx0123456789",
            "ghx0123456789",
            &["Authorization: token"],
        );
        hides(
            "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=abc123",
            "abc123",
            &["AWS4-HMAC-SHA256"],
        );
        hides(
            "proxy-authorization: Basic dXNlcjpwYXNz\r\nHost: x",
            "dXNlcjpwYXNz",
            &["Host: x"],
        );
        clean("Authorization failed for user bob");
    }

    #[test]
    fn bearer_and_basic_standalone() {
        hides("token is Bearer 0a1b2c3d4e5f", "0a1b2c3d4e5f", &["token is Bearer"]);
        hides(
            "sent Basic dXNlcjpwQHNzdzByZA== to proxy",
            "dXNlcjpwQHNzdzByZA==",
            &["to proxy"],
        );
        clean("Bearer authentication is required");
        clean("Basic authentication failed");
        clean("basic auth Zm9vYmFy"); // base64 of "foobar": no user:pass
    }

    #[test]
    fn jwt() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        hides(&format!("id_token_hint {jwt} end"), jwt, &["id_token_hint", "end"]);
        hides(&format!("x?jwt={jwt}"), "dozjgNryP4J3", &["x?jwt="]);
    }

    #[test]
    fn cloud_and_saas_tokens() {
        hides("key AKIAIOSFODNN7EXAMPLE used", "AKIAIOSFODNN7EXAMPLE", &["used"]);
        hides("ASIAY34FZKBOKMUTVV7A", "ASIAY34FZKBOKMUTVV7A", &[]);
        hides(
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "wJalrXUtnFEMI",
            &["aws_secret_access_key"],
        );
        hides(
            "git clone https://x:ghp_0123456789abcdefghijABCDEFGHIJ012345@github.com/o/r",
            "ghp_0123",
            &["github.com/o/r"],
        );
        hides(
            "GH github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuv",
            "github_pat_11",
            &["GH"],
        );
        hides("glpat-abcdefghij0123456789", "glpat-abcdef", &[]);
        hides(
            "slack xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
            "xoxb-1234",
            &["slack"],
        );
        hides(
            "https://hooks.slack.com/services/T000/B000/XXXXXXXX",
            "T000/B000",
            &["hooks.slack.com/services/"],
        );
        hides(
            "maps?key=AIzaSyA-abcdefghijklmnopqrstuvwxyz01234",
            "AIzaSyA",
            &["maps?key="],
        );
        hides("STRIPE sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_4eC", &["STRIPE"]);
        hides("npm_abcdefghijklmnopqrstuvwxyz0123456789", "npm_abc", &[]);
        hides(
            "OPENAI_KEY sk-proj-abcdefghijklmnopqrstuvwxyz0123456789AB",
            "sk-proj-abc",
            &["OPENAI_KEY"],
        );
        // AWS unique ids of users/roles are identifiers, not secrets.
        clean("principal AIDAJQABLZS4A3QDU576Q");
    }

    #[test]
    fn pem_private_key() {
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7\nabc\n-----END RSA PRIVATE KEY-----";
        let out = hides(
            &format!("echo '{pem}' > id_rsa"),
            "MIIEpAIBAAKCAQEA7",
            &["-----BEGIN RSA PRIVATE KEY-----", "> id_rsa"],
        );
        assert!(out.contains("-----END RSA PRIVATE KEY-----"));
        hides(
            "-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXktdjEAAAA",
            "b3BlbnNzaC1rZXk",
            &["OPENSSH"],
        );
        hides(
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF\n-----END PGP PRIVATE KEY BLOCK-----",
            "lQOYBF",
            &[],
        );
        clean("-----BEGIN PUBLIC KEY-----\nMFkwEwYH\n-----END PUBLIC KEY-----");
    }

    #[test]
    fn key_value_pairs() {
        hides(
            "GET /login?user=bob&password=hunter2&next=/",
            "hunter2",
            &["user=bob", "next=/"],
        );
        hides(
            "/cb#access_token=ya29.a0AfH6SM&token_type=Bearer",
            "ya29.a0AfH6SM",
            &["token_type=Bearer"],
        );
        hides(
            "GET /app;jsessionid=1A2B3C4D5E6F HTTP/1.1",
            "1A2B3C4D5E6F",
            &["GET /app;jsessionid=", "HTTP/1.1"],
        );
        let out = hides(
            "Cookie: connect.sid=s%3Aabc; theme=dark\r\nHost: x",
            "s%3Aabc",
            &["Host: x"],
        );
        assert!(out.starts_with("Cookie: [REDACTED]\r\n"), "{out}");
        hides("PHPSESSID=el4ukv0kqbvoirg7nkp4dncpk3", "el4ukv0kq", &[]);
        hides("x-api-key: 9f8e7d6c5b4a", "9f8e7d6c5b4a", &["x-api-key"]);
        hides(
            "Server=db01;Database=hr;User Id=sa;Password=Sup3r$ecret;",
            "Sup3r$ecret",
            &["Server=db01", "User Id=sa"],
        );
        hides(
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=bXlrZXk+/abc==;EndpointSuffix=core.windows.net",
            "bXlrZXk",
            &["AccountName=acct", "EndpointSuffix"],
        );
        hides(r#"{"username":"bob","password":"two words"}"#, "two words", &["bob"]);
        hides(r#"-Body "{\"pwd\":\"S3cr3t\"}""#, "S3cr3t", &["-Body"]);
        hides(
            "cmdkey /generic:srv /user:bob /pass:Pa55w0rd",
            "Pa55w0rd",
            &["/user:bob"],
        );
        hides(
            "<soap:Body><Password>hunter2</Password></soap:Body>",
            "hunter2",
            &["<Password>"],
        );
        hides(
            "https://acct.blob.core.windows.net/c/f?sv=2022&sig=abc%2Bdef%3D&se=2024",
            "abc%2Bdef",
            &["sv=2022", "se=2024"],
        );
        hides("export MYSQL_PWD=rootpw", "rootpw", &["MYSQL_PWD="]);
        hides(
            "name=Bob&card_number=x1&cvv=123&zip=1",
            "cvv=123",
            &["name=Bob", "zip=1"],
        );
        hides(
            "aws configure set aws_secret_access_key wJalrXUtnFEMIK7MDENG --profile p",
            "wJalrXUtnFEMIK7MDENG",
            &["--profile p"],
        );
    }

    #[test]
    fn key_value_non_secrets_left_alone() {
        clean("COMMAND=/bin/ls ; PWD=/home/bob ; USER=root");
        clean("Elevated Token:\t\tYes");
        clean("Token Elevation Type:\t%%1936");
        clean("Elevated Token: %%1842");
        clean("event.action=password-reset user=bob");
        clean("Failure Reason: Unknown user name or bad password.");
        clean("password=******** user=bob");
        clean("net use Z: \\\\srv\\share * /user:bob");
        clean("bypass=1 compass=north");
        clean("Password Last Set: 5/1/2024");
    }

    #[test]
    fn urls_with_credentials() {
        hides(
            "postgres://app:s3cr3t@db.internal:5432/hr",
            "s3cr3t",
            &["postgres://app:", "@db.internal:5432/hr"],
        );
        hides("redis://:p@ss@cache:6379", "p@ss", &["@cache:6379"]);
        hides(
            "secretsdump.py corp.local/admin:P@ssw0rd!@10.0.0.5",
            "P@ssw0rd!",
            &["corp.local/admin:", "@10.0.0.5"],
        );
        clean("mailto:bob@example.com");
        clean("http://host:8080/path@foo");
        clean("git@github.com:org/repo.git");
    }

    #[test]
    fn command_line_flags() {
        hides("app --password Hunter2 --user bob", "Hunter2", &["--user bob"]);
        hides("app --db-password=Hunter2", "Hunter2", &["--db-password="]);
        hides(
            "az storage blob list --connection-string 'AccountName=a;AccountKey=k'",
            "AccountKey=k",
            &["az storage blob list --connection-string"],
        );
        hides("kubectl --token eyXtok123 get pods", "eyXtok123", &["get pods"]);
        hides(
            "kubectl get secrets --token=abcd1234efgh",
            "abcd1234efgh",
            &["get secrets"],
        );
        hides("New-ADUser -Name x -AccountPassword 'Pa ss'", "Pa ss", &["-Name x"]);
        hides(
            "az login --service-principal -u app --client-secret 'c~S3cret'",
            "c~S3cret",
            &["-u app"],
        );
        clean("psql --no-password -h db");
        clean("docker login --password-stdin -u bob");
        clean("app --token-file /run/secrets/t");
        clean("Set-ADUser bob -PasswordNeverExpires $true");
        // Variables are references, not literals.
        clean("Invoke-Command -ComputerName dc01 -Credential $cred");
        clean("New-Object PSCredential('CORP\\bob', $pw); New-LocalUser x -Password ${pw}");
        clean("app --token $env:API_TOKEN");
        hides("app --token $3cr3t!x", "$3cr3t!x", &["app --token"]);
        // A rejected match does not hide the next one.
        hides(
            "app --reset-password --token abc123",
            "abc123",
            &["--reset-password --token"],
        );
        hides("net use \\\\h\\s /user:a /user:b Pw9!", "Pw9!", &["/user:b"]);
    }

    #[test]
    fn tool_specific_forms() {
        hides(
            r"net use \\fs01\c$ /user:CORP\admin Winter2024!",
            "Winter2024!",
            &[r"/user:CORP\admin"],
        );
        hides(
            r"net.exe use Z: \\fs01\share Winter2024! /user:bob",
            "Winter2024!",
            &["/user:bob"],
        );
        hides(
            "net user backdoor P@ssw0rd1 /add",
            "P@ssw0rd1",
            &["net user backdoor", "/add"],
        );
        clean("net user bob /domain");
        hides(
            "schtasks /create /tn t /tr x.exe /ru admin /rp Secr3t!",
            "Secr3t!",
            &["/ru admin"],
        );
        hides("mysql -u root -pS3cret hr", "S3cret", &["-u root", " hr"]);
        clean("mysql -u root -p -h db01");
        clean("mysql -P3306 -h db01");
        hides("sqlcmd -S db -U sa -P Sup3rS3cret -Q x", "Sup3rS3cret", &["-U sa"]);
        hides(
            "PsExec64.exe \\\\host -u CORP\\adm -p Adm1nPw cmd",
            "Adm1nPw",
            &["-u CORP\\adm"],
        );
        hides(
            "nxc smb 10.0.0.0/24 -u admin -p 'Spring2024'",
            "Spring2024",
            &["-u admin"],
        );
        hides("sshpass -p 'rootpw' ssh root@h", "rootpw", &["ssh root@h"]);
        hides(
            "docker login -u bob -p dckr_pat_xyz registry.io",
            "dckr_pat_xyz",
            &["registry.io"],
        );
        clean("docker run -p 8080:80 nginx");
        hides("7z a -pInfected1 out.7z docs", "Infected1", &["out.7z"]);
        hides("zip -P zippw out.zip f", "zippw", &["out.zip"]);
        hides(
            "curl -u admin:adminpw https://x",
            "adminpw",
            &["-u admin:", "https://x"],
        );
        hides("smbclient //h/s -U 'CORP\\bob%Pa55'", "Pa55", &["CORP\\bob%"]);
        hides("xfreerdp /v:h /u:bob /p:RdpPw1", "RdpPw1", &["/u:bob"]);
        hides(
            "openssl pkcs12 -in k.p12 -passin pass:p12pw -nodes",
            "p12pw",
            &["-nodes"],
        );
        hides(
            "wmiexec.py -hashes aad3b435b51404eeaad3b435b51404ee:8846f7eaee8fb117ad06bdd830b7586c corp/adm@h",
            "8846f7eaee8fb117",
            &["wmiexec.py"],
        );
        hides(
            "mimikatz sekurlsa::pth /user:adm /domain:corp /ntlm:8846f7eaee8fb117ad06bdd830b7586c",
            "8846f7eaee8fb117",
            &["/user:adm"],
        );
        hides(
            "$p = ConvertTo-SecureString 'Summer2024!' -AsPlainText -Force",
            "Summer2024!",
            &["-AsPlainText"],
        );
        hides(
            "ConvertTo-SecureString -AsPlainText -Force -String \"Fall2024\"",
            "Fall2024",
            &["-AsPlainText"],
        );
        hides(
            "'Pipe2024' | ConvertTo-SecureString -AsPlainText",
            "Pipe2024",
            &["ConvertTo-SecureString"],
        );
        hides(
            "[System.Net.NetworkCredential]::new('bob','NcPw2024')",
            "NcPw2024",
            &["'bob'"],
        );
        hides("echo 'bob:ChpwPw1' | chpasswd", "ChpwPw1", &["bob:"]);
        hides("echo SudoPw1 | sudo -S id", "SudoPw1", &["sudo -S id"]);
        // Bare -p / msbuild /p: are not passwords.
        clean("msbuild /p:Configuration=Release app.sln");
        clean("ssh -p 2222 bob@host");
    }

    #[test]
    fn only_the_secret_part_is_replaced() {
        let out = mask().redact_str("a password=x1 b token=y2 c").unwrap();
        assert_eq!(out, "a password=[REDACTED] b token=[REDACTED] c");
        assert_eq!(mask().redact_str("no secrets here"), None);
        assert_eq!(mask().redact_str(""), None);
        // Idempotent.
        assert_eq!(mask().redact_str(&out), None);
    }

    // --- Field names --------------------------------------------------------

    #[test]
    fn secret_field_names_are_replaced_whole() {
        let mut v = json!({
            "user": "bob",
            "Password": "hunter2",
            "db-pwd": 1234,
            "client_secret": {"a": 1},
            "api_key": ["k1", "k2"],
            "X-Auth-Token": "t",
            "PrivateKey": "pk",
            "ConnectionString": "Server=x",
            "credentials": {"accessKeyId": "A", "secretAccessKey": "B"},
            "http.request.headers.authorization": "Bearer abc",
            "Cookie": "a=b",
            "sessionId": "9f3c1a",
            "session_id": "8d6e0b1c",
            "JSESSIONID": "xyz",
            "session": "abc123def",
            "userIdentity": {"sessionContext": {"mfaAuthenticated": "true"}},
            "empty_password": "",
            "token_present": true,
            "password_hash": null,
        });
        let n = mask().redact(&mut v);
        assert_eq!(n, 14, "{v:#}");
        for k in [
            "Password",
            "db-pwd",
            "client_secret",
            "api_key",
            "X-Auth-Token",
            "PrivateKey",
            "ConnectionString",
            "credentials",
            "http.request.headers.authorization",
            "Cookie",
            "sessionId",
            "session_id",
            "JSESSIONID",
            "session",
        ] {
            assert_eq!(v[k], json!(MASK), "{k}");
        }
        assert_eq!(v["user"], "bob");
        assert_eq!(v["userIdentity"]["sessionContext"]["mfaAuthenticated"], "true");
        assert_eq!(v["empty_password"], "");
        assert_eq!(v["token_present"], true);
        assert_eq!(v["password_hash"], Value::Null);
    }

    #[test]
    fn benign_field_names_stay_readable() {
        let benign = json!({
            "TargetUserName": "bob",
            "SubjectLogonId": "0x3e7",
            "LogonType": 10,
            "TokenElevationType": "%%1936",
            "ElevatedToken": "%%1842",
            "PasswordLastSet": "5/1/2024 10:00:00 AM",
            "pwdLastSet": 133589000000000000u64,
            "pwdProperties": 1,
            "TerminalSessionId": 1,
            "SessionName": "RDP-Tcp#3",
            "SessionID": 2,
            "CountOfCredentialsReturned": 3,
            "event": {"action": "password-reset", "category": ["iam"]},
            "authenticationContext": {"credentialType": "PASSWORD", "credentialProvider": "OKTA_CREDENTIAL_PROVIDER"},
            "tokenIssuerType": "AzureAD",
            "token_type": "Bearer",
            "hashed_token": "hxj1o2fJ8Gm0mD0G2oG1pNq7Ea0=",
            "secretName": "db-creds",
            "PWD": "/home/bob",
            "authorization": {"action": "Microsoft.Compute/virtualMachines/write", "scope": "/subscriptions/x"},
            "password_expires_at": "2024-08-01",
            "requestParameters": {"secretId": "prod/db/creds"},
            "task": {"name": "Password expiry reminder", "value": "weekly"},
        });
        let mut v = benign.clone();
        assert_eq!(mask().redact(&mut v), 0, "{v:#}");
        assert_eq!(v, benign);
    }

    #[test]
    fn benign_names_still_have_values_scanned() {
        let mut v = json!({"token_type": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcdefghijk"});
        assert_eq!(mask().redact(&mut v), 1);
        assert_eq!(v["token_type"], "Bearer [REDACTED]");
    }

    #[test]
    fn name_value_pairs() {
        let mut v = json!({"headers": [
            {"name": "Host", "value": "shop.example"},
            {"name": "Authorization", "value": "opaque"},
            {"name": "DB_PASSWORD", "value": "pw"},
        ], "parameters": [{"parameterKey": "DbPassword", "parameterValue": "pw2"}]});
        assert_eq!(mask().redact(&mut v), 3);
        assert_eq!(v["headers"][0]["value"], "shop.example");
        assert_eq!(v["headers"][1]["value"], MASK);
        assert_eq!(v["headers"][1]["name"], "Authorization");
        assert_eq!(v["headers"][2]["value"], MASK);
        assert_eq!(v["parameters"][0]["parameterValue"], MASK);

        let mut v = json!({"name": "Authorization", "value": "opaque"});
        assert_eq!(with_mode(RedactMode::Drop, None).redact(&mut v), 1);
        assert_eq!(v, json!({"name": "Authorization"}));
    }

    // --- Modes and config ---------------------------------------------------

    #[test]
    fn drop_mode_removes_keys_and_masks_in_strings() {
        let r = with_mode(RedactMode::Drop, None);
        let mut v = json!({"a": 1, "password": "x", "b": {"token": "y", "c": 2}, "cmd": "app --password z", "z": 3});
        assert_eq!(r.redact(&mut v), 3);
        assert_eq!(
            v,
            json!({"a": 1, "b": {"c": 2}, "cmd": "app --password [REDACTED]", "z": 3})
        );
        // Order of the remaining keys is kept.
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["a", "b", "cmd", "z"]);
        assert_eq!(r.redact_str("password=x").as_deref(), Some("password=[REDACTED]"));
    }

    #[test]
    fn hash_mode_is_deterministic_key_dependent_and_consistent() {
        let r1 = with_mode(RedactMode::Hash, Some("k1"));
        let r2 = with_mode(RedactMode::Hash, Some("k2"));
        let mut a = json!({"sessionId": "sess-8f2a", "url": "/x?sessionid=sess-8f2a"});
        let mut b = a.clone();
        let mut c = a.clone();
        assert_eq!(r1.redact(&mut a), 2);
        r1.redact(&mut b);
        r2.redact(&mut c);
        assert_eq!(a, b);
        assert_ne!(a, c);
        let h = a["sessionId"].as_str().unwrap();
        assert!(h.starts_with(HASH_PREFIX) && h.len() == HASH_PREFIX.len() + 16, "{h}");
        assert!(!a.to_string().contains("sess-8f2a"));
        // The same secret hashes the same in a field and inside a URL.
        assert_eq!(a["url"], format!("/x?sessionid={h}"));
        // Hashing again changes nothing.
        let before = a.clone();
        assert_eq!(r1.redact(&mut a), 0);
        assert_eq!(a, before);
    }

    #[test]
    fn config_validation_and_defaults() {
        assert_eq!(
            Redactor::new(&RedactConfig {
                mode: RedactMode::Hash,
                ..RedactConfig::default()
            })
            .unwrap_err(),
            RedactError::MissingHmacKey
        );
        assert_eq!(
            Redactor::new(&RedactConfig {
                mode: RedactMode::Hash,
                hmac_key: Some(String::new()),
                ..RedactConfig::default()
            })
            .unwrap_err(),
            RedactError::MissingHmacKey
        );
        assert_eq!(
            Redactor::new(&RedactConfig {
                extra_field_patterns: vec!["_-".into()],
                ..RedactConfig::default()
            })
            .unwrap_err(),
            RedactError::EmptyFieldPattern
        );
        let cfg: RedactConfig = toml::from_str("").unwrap();
        assert!(cfg.enabled && cfg.mode == RedactMode::Mask && cfg.hmac_key.is_none());
        let cfg: RedactConfig = toml::from_str("mode = \"hash\"\nhmac_key = \"topsecret\"").unwrap();
        assert_eq!(cfg.mode, RedactMode::Hash);
        assert!(!format!("{cfg:?}").contains("topsecret"));
        assert!(!format!("{:?}", Redactor::new(&cfg).unwrap()).contains("topsecret"));
        assert!(toml::from_str::<RedactConfig>("colour = 1").is_err());
        assert!(toml::from_str::<RedactConfig>("mode = \"shred\"").is_err());
    }

    #[test]
    fn disabled_does_nothing() {
        let r = Redactor::new(&RedactConfig {
            enabled: false,
            ..RedactConfig::default()
        })
        .unwrap();
        let mut v = json!({"password": "x", "cmd": "--password y"});
        let before = v.clone();
        assert_eq!(r.redact(&mut v), 0);
        assert_eq!(v, before);
        assert_eq!(r.redact_str("password=x"), None);
    }

    #[test]
    fn extra_patterns_and_allow_fields() {
        let r = Redactor::new(&RedactConfig {
            extra_field_patterns: vec!["SSN".into(), "mfa-code".into()],
            allow_fields: vec!["debug_token".into(), "http.request.body".into()],
            ..RedactConfig::default()
        })
        .unwrap();
        let mut v = json!({
            "user_ssn": "078-05-1120",
            "MfaCode": 123456,
            "debug_token": "keep-me",
            "http": {"request": {"body": "password=visible", "headers": {"x": "password=hidden"}}},
        });
        assert_eq!(r.redact(&mut v), 3);
        assert_eq!(v["user_ssn"], MASK);
        assert_eq!(v["MfaCode"], MASK);
        assert_eq!(v["debug_token"], "keep-me");
        assert_eq!(v["http"]["request"]["body"], "password=visible");
        assert_eq!(v["http"]["request"]["headers"]["x"], "password=[REDACTED]");
    }

    #[test]
    fn session_numbers_are_not_session_secrets() {
        let mut v = json!({"SessionID": 3, "sessionId": "42", "session_id": "b1946ac92492d2347c6235b4d2611184"});
        assert_eq!(mask().redact(&mut v), 1);
        assert_eq!(v["SessionID"], 3);
        assert_eq!(v["sessionId"], "42");
        assert_eq!(v["session_id"], MASK);
    }

    #[test]
    fn deep_and_hostile_input_never_panics() {
        let mut v = json!("leaf");
        for _ in 0..(MAX_DEPTH + 10) {
            v = json!([v]);
        }
        assert!(mask().redact(&mut v) >= 1);
        for s in [
            "password=",
            "password=\"",
            "\\\"",
            "-----BEGIN RSA PRIVATE KEY-----",
            "Authorization:",
            "é password=ü€ 4111\u{a0}1111",
            "net use \\\\",
            "ConvertTo-SecureString",
            "%%",
            "%",
            "::@@//",
        ] {
            let _ = mask().redact_str(s);
            let _ = with_mode(RedactMode::Hash, Some("k")).redact_str(s);
        }
        let r = mask();
        assert_eq!(r.redact_str("password=ü€").as_deref(), Some("password=[REDACTED]"));
    }
}

/// The fast paths (value prefilter, name memo and shortcuts) against the
/// plain computations they stand for: same results, always.
#[cfg(test)]
mod fast_path_tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    use serde_json::json;

    /// Spans with every pattern run (no prefilter), the reference.
    fn reference_spans(s: &str) -> Vec<(usize, usize)> {
        SCANNER.spans_of(s, SCANNER.all(), &mut Scratch::default())
    }

    fn filtered_spans(s: &str) -> Vec<(usize, usize)> {
        SCANNER.find_secret_spans(s, &mut Scratch::default())
    }

    /// Asserts that the prefilter keeps every pattern that matches `s` and
    /// changes no result.
    #[track_caller]
    fn same_as_reference(s: &str) {
        let candidates = SCANNER.candidates(s, &mut String::new());
        for (i, pat) in SCANNER.patterns.iter().enumerate() {
            if pat.re.is_match(s) {
                assert!(candidates >> i & 1 == 1, "prefilter drops {} on {s:?}", pat.name);
            }
        }
        assert_eq!(filtered_spans(s), reference_spans(s), "{s:?}");
    }

    /// `re` without its assertions (`\b`, `\B`, `\A`, `\z`, `^`, `$`): a
    /// regex whose language includes every match of `re`, and that
    /// proptest can generate strings from.
    fn without_assertions(re: &str) -> String {
        let mut out = String::with_capacity(re.len());
        let mut chars = re.chars();
        let mut in_class = 0usize;
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    let Some(next) = chars.next() else {
                        out.push(c);
                        break;
                    };
                    if in_class == 0 && matches!(next, 'b' | 'B' | 'A' | 'z') {
                        continue;
                    }
                    out.push(c);
                    out.push(next);
                }
                '[' => {
                    in_class += 1;
                    out.push(c);
                }
                ']' if in_class > 0 => {
                    in_class -= 1;
                    out.push(c);
                }
                '^' | '$' if in_class == 0 => {}
                _ => out.push(c),
            }
        }
        out
    }

    #[test]
    fn only_two_non_ascii_characters_fold_to_ascii() {
        // The prefilter compares anchors ASCII-case-insensitively; the
        // patterns' `(?i)` is Unicode-aware. Every non-ASCII character that
        // `(?i)` lets match an ASCII one must be in FOLDS_TO_ASCII.
        let ascii = Regex::new(r"(?i)^[\x00-\x7F]$").unwrap();
        let folding: Vec<char> = ('\u{80}'..=char::MAX)
            .filter(|c| ascii.is_match(c.encode_utf8(&mut [0; 4])))
            .collect();
        assert_eq!(folding, FOLDS_TO_ASCII);
    }

    #[test]
    fn anchors_are_lower_case_and_gates_fit() {
        for pat in SCANNER.patterns {
            for anchor in pat.need {
                match anchor {
                    Lit(lits) => assert!(lits.iter().all(|l| !l.is_empty() && *l == l.to_ascii_lowercase())),
                    Bytes(set) => assert!(set.iter().all(|b| b.is_ascii() && !b.is_ascii_alphabetic())),
                    CardDigits => assert_eq!(pat.name, "card_number"),
                }
            }
        }
        assert_eq!(SCANNER.gate_patterns.len(), SCANNER.gates.patterns_len());
        // Ungated patterns are checked on every string: keep them few.
        assert_eq!(SCANNER.ungated.count_ones(), 2);
    }

    /// Every pattern, on strings generated from the pattern itself: wherever
    /// the pattern matches, the prefilter lets it through, and the result is
    /// the reference's.
    #[test]
    fn prefilter_keeps_every_match_of_every_pattern() {
        let mut runner = TestRunner::deterministic();
        for pat in SCANNER.patterns {
            let source = without_assertions(pat.re.as_str());
            let strategy =
                proptest::string::string_regex(&source).unwrap_or_else(|e| panic!("{}: {e} in {source}", pat.name));
            let mut matched = 0;
            for _ in 0..200 {
                let core = strategy.new_tree(&mut runner).unwrap().current();
                for s in [core.clone(), format!(" {core} "), format!("x={core}\n")] {
                    matched += usize::from(pat.re.is_match(&s));
                    same_as_reference(&s);
                }
            }
            assert!(matched >= 100, "{}: only {matched} generated strings match", pat.name);
        }
    }

    /// Fragments that steer random strings into the patterns (and their
    /// anchors), in several cases, with the characters that fold to ASCII.
    const FRAGMENTS: &[&str] = &[
        "password=",
        "PassWord: ",
        "pwd=",
        "--password ",
        "--Token ",
        "-p",
        "-P ",
        "Authorization: Bearer ",
        "authorization=",
        "Cookie: ",
        "Basic dXNlcjpwYXNz",
        "eyJhbGciOiJIUzI1NiJ9.",
        "AKIA",
        "asia",
        "ghp_",
        "github_pat_",
        "xoxb-",
        "AIza",
        "sk_live_",
        "sk-",
        "npm_",
        "glpat-",
        "hooks.slack.com/services/",
        "-----BEGIN RSA PRIVATE KEY-----",
        "-----END RSA PRIVATE KEY-----",
        "4111 1111 1111 ",
        "5500-0000-0000-0004",
        "2223000048400011",
        "net use \\\\h\\s /user:x ",
        "NET USER bob ",
        "net1.exe use Z: \\\\fs\\c$ ",
        "schtasks /rp ",
        "mysql -u root -p",
        "sqlcmd -P ",
        "psexec \\\\h -p ",
        "docker login -p ",
        "7z a -p",
        "zip -P ",
        "curl -u a:",
        "smbclient -U a%",
        "xfreerdp /p:",
        "openssl -passin pass:",
        "aws configure set aws_secret_access_key ",
        " -hashes aa:",
        "/ntlm:",
        "ConvertTo-SecureString ",
        "-String ",
        "' | ",
        "NetworkCredential('u', ",
        "echo 'a:b' | chpasswd",
        "echo pw | sudo -S",
        "https://u:",
        "@host",
        "user:",
        "<password>",
        "</password>",
        "?sig=",
        "&key=",
        "\"token\":\"",
        "[REDACTED]",
        "hmac-sha256:0123456789abcdef",
        "%%",
        "$",
        "\u{17F}",
        "\u{212A}",
        "pa\u{17F}\u{17F}word=",
        "to\u{212A}en=",
        "®",
        " ",
        "\t",
        "'",
        "\"",
    ];

    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                4 => prop::sample::select(FRAGMENTS).prop_map(str::to_string),
                1 => "\\PC{0,8}",
                2 => "[ -~]{0,10}",
                1 => "[0-9 -]{0,20}",
            ],
            0..10,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 2000,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn prefilter_changes_nothing(s in text()) {
            same_as_reference(&s);
        }

        #[test]
        fn card_digit_check_keeps_every_card_match(s in "[0-9a-z_ \\-.,=é]{0,40}") {
            let card = SCANNER.patterns.iter().find(|p| p.name == "card_number").unwrap();
            if card.re.is_match(&s) {
                prop_assert!(has_card_digits(&s), "{:?}", s);
            }
        }

        #[test]
        fn card_digit_check_keeps_every_long_card_match(
            pre in "[a-z ,=\\-é]{0,30}",
            digits in "[2-6][0-9]{3}([ \\-]?[0-9]){9,15}",
            post in "[a-z ,=\\-é]{0,30}",
        ) {
            let s = format!("{pre}{digits}{post}");
            let card = SCANNER.patterns.iter().find(|p| p.name == "card_number").unwrap();
            if card.re.is_match(&s) {
                prop_assert!(has_card_digits(&s), "{:?}", s);
            }
        }

        #[test]
        fn normalisation_without_allocation_is_the_same(name in "\\PC{0,12}|[a-zA-Z_ .@#$-]{0,80}") {
            let fast = with_normalized(&name, |n| n.to_vec());
            prop_assert_eq!(fast, normalize_name(&name).into_bytes());
        }

        #[test]
        fn pair_value_shortcut_never_misses(name in "[a-zA-Z_ @#$-]{0,20}|\\PC{0,6}", pick in 0usize..4) {
            let n = normalize_name(&name);
            if PAIR_VALUE_KEYS.contains(&n.as_str()) {
                prop_assert!(may_be_pair_value_key(&name));
            }
            // Spelled-out pair value keys, with separators and case.
            let key = PAIR_VALUE_KEYS[pick].to_uppercase().replace('a', "_a-");
            prop_assert!(may_be_pair_value_key(&key));
        }

        #[test]
        fn card_numbers_in_json_numbers_are_unchanged(u in any::<u64>(), small in 0u64..10_000_000_000_000) {
            // The former implementation, through the decimal string.
            let reference = |u: u64| {
                let digits: Vec<u8> = u.to_string().bytes().map(|b| b - b'0').collect();
                (13..=19).contains(&digits.len()) && (2..=6).contains(&digits[0]) && luhn_valid(&digits)
            };
            for x in [u, small, 4111111111111111, 1714557600006, u64::MAX] {
                prop_assert_eq!(number_is_card(&serde_json::Number::from(x)), reference(x), "{}", x);
            }
        }
    }

    #[test]
    fn card_digit_check_finds_runs_at_every_offset() {
        let card = SCANNER.patterns.iter().find(|p| p.name == "card_number").unwrap();
        let numbers = [
            "2223000048401",
            "4111111111111111",
            "6011111111111117123",
            "4111 1111 1111 1111",
            "5500-0000-0000-0004",
            "3782-822463-10005",
        ];
        for number in numbers {
            for before in 0..30 {
                for (open, close) in [(".", "."), ("=", "&"), (" ", " "), ("é", "é"), ("", "")] {
                    let s = format!("{}{open}{number}{close}{}", "x".repeat(before), "y".repeat(before % 7));
                    if open == "é" {
                        // `é` is a word character: no match, but the check
                        // does not know non-ASCII letters and says maybe.
                        assert!(!card.re.is_match(&s) && has_card_digits(&s), "{s:?}");
                    } else {
                        assert_eq!(card.re.is_match(&s), has_card_digits(&s), "{s:?}");
                    }
                    same_as_reference(&s);
                }
            }
        }
        for s in [
            "1714557600006",
            "x4111111111111111",
            "9876543210123456",
            "4111 1111  1111 1111",
            "41111111111",
        ] {
            assert!(!has_card_digits(s), "{s:?}");
        }
    }

    #[test]
    fn every_test_string_gives_the_reference_result() {
        // Strings from the tests above and tests/redaction.rs, plus events'.
        for s in [
            r#"curl -H "Authorization: Bearer abc.def-123" https://x"#,
            "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=abc123",
            "proxy-authorization: Basic dXNlcjpwYXNz\r\nHost: x",
            "sent Basic dXNlcjpwQHNzdzByZA== to proxy",
            "Cookie: connect.sid=s%3Aabc; theme=dark\r\nHost: x",
            "Server=db01;Database=hr;User Id=sa;Password=Sup3r$ecret;",
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=bXlrZXk+/abc==;EndpointSuffix=core.windows.net",
            r#"-Body "{\"pwd\":\"S3cr3t\"}""#,
            "<soap:Body><Password>hunter2</Password></soap:Body>",
            "https://acct.blob.core.windows.net/c/f?sv=2022&sig=abc%2Bdef%3D&se=2024",
            "postgres://app:s3cr3t@db.internal:5432/hr",
            "secretsdump.py corp.local/admin:P@ssw0rd!@10.0.0.5",
            "redis://:p@ss@cache:6379",
            "app --reset-password --token abc123",
            r"net use \\fs01\c$ /user:CORP\admin Winter2024!",
            "net use \\\\h\\s /user:a /user:b Pw9!",
            "PsExec64.exe \\\\host -u CORP\\adm -p Adm1nPw cmd",
            "wmiexec.py -hashes aad3b435b51404eeaad3b435b51404ee:8846f7eaee8fb117ad06bdd830b7586c corp/adm@h",
            "mimikatz sekurlsa::pth /user:adm /domain:corp /ntlm:8846f7eaee8fb117ad06bdd830b7586c",
            "$p = ConvertTo-SecureString 'Summer2024!' -AsPlainText -Force",
            "'Pipe2024' | ConvertTo-SecureString -AsPlainText",
            "[System.Net.NetworkCredential]::new('bob','NcPw2024')",
            "echo 'bob:ChpwPw1' | chpasswd",
            "echo SudoPw1 | sudo -S id",
            "card 4111 1111 1111 1111 exp 12/27",
            "pan=5500-0000-0000-0004&amt=10",
            "ts=1714557600000 offset 4111111111111112",
            "-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXktdjEAAAA",
            "key AKIAIOSFODNN7EXAMPLE used",
            "OPENAI_KEY sk-proj-abcdefghijklmnopqrstuvwxyz0123456789AB",
            "bob : TTY=pts/1 ; PWD=/home/bob ; USER=root ; COMMAND=/usr/bin/mysql -u root -pMyS3cretDB payroll",
            "password=[REDACTED] password=[REDACTED] token=x",
            "pa\u{17F}\u{17F}word=hunter2",
            "to\u{212A}en=abc123",
            "C:\\Windows\\System32\\svchost.exe -k netsvcs -p -s Appinfo",
            "HKU\\S-1-5-21-3623811015-3361044348-30300820-1108\\Software\\Microsoft\\OneDrive",
            "\"C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE\" /recycle",
        ] {
            same_as_reference(s);
        }
    }

    #[test]
    fn remembered_field_names_classify_as_before() {
        let r = Redactor::default_on();
        let mut scratch = Scratch::default();
        let names = [
            "Password",
            "TokenElevationType",
            "sessionId",
            "session",
            "authorization",
            "a.b.password",
            "PWD",
            "User",
            "http.request.headers.cookie",
            "SessionName",
        ];
        for _ in 0..3 {
            for name in names {
                assert_eq!(r.classify_key(name, &mut scratch), r.classify_name(name), "{name}");
            }
        }
        // Past the memo's size it starts over, with the same answers.
        for i in 0..NAME_MEMO_MAX + 10 {
            let name = format!("field{i}_token");
            assert_eq!(r.classify_key(&name, &mut scratch), Some(NameClass::Secret));
        }
        assert!(scratch.names.len() <= NAME_MEMO_MAX);
        for name in names {
            assert_eq!(r.classify_key(name, &mut scratch), r.classify_name(name), "{name}");
        }
        // Configured extra parts are never answered from the memo.
        let extra = Redactor::new(&RedactConfig {
            extra_field_patterns: vec!["user".into()],
            ..RedactConfig::default()
        })
        .unwrap();
        assert_eq!(extra.classify_key("User", &mut scratch), Some(NameClass::Secret));
        assert_eq!(r.classify_key("User", &mut scratch), None);
    }

    #[test]
    fn redaction_is_the_same_on_every_call_of_a_thread() {
        // The per-thread scratch carries over between calls: results do not.
        let r = Redactor::default_on();
        let event = json!({"CommandLine": "app --password hunter2", "Password": "x", "User": "bob"});
        for _ in 0..3 {
            let mut v = event.clone();
            assert_eq!(r.redact(&mut v), 2);
            assert_eq!(
                v,
                json!({"CommandLine": "app --password [REDACTED]", "Password": MASK, "User": "bob"})
            );
        }
        let handle = std::thread::spawn(move || {
            let mut v = event.clone();
            (r.redact(&mut v), v)
        });
        let (n, v) = handle.join().unwrap();
        assert_eq!(n, 2);
        assert_eq!(v["CommandLine"], "app --password [REDACTED]");
    }
}
