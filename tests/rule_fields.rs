//! Every field a shipped rule reads is a field its events carry.
//!
//! The rule pack runs on the normalized events of `schemas/` and on the
//! native shapes the profiles read. A rule that reads a field no source of
//! its logsource carries never matches (a filter on it always passes, a
//! correlation never counts), silently. So, for every rule of `rules/` —
//! its detection fields and `fieldref` targets (`coverage::detection_fields`),
//! a correlation's group-by (through its aliases) and counted field, read in
//! the events of each rule it references (`coverage::correlation_fields`) —
//! and for every *configured logsource* the rule applies to
//! (`classify::applies`), the field must:
//!
//! 1. be a field of `schemas/event.schema.json` (the normalized ECS event,
//!    which every source schema extends), or
//! 2. be native to a shape delivered under that logsource: a `field_map` key
//!    or target or a time field of a profile, of a profile the source schema
//!    names (`x-tocsin-profiles`) or of a `samples/tocsin.toml` source of that
//!    logsource; a bare name (no dot) when a profile or sample source of that
//!    logsource has `field_prefixes` (Windows EventData through
//!    `winlog.event_data.`); a path under a native
//!    object such a target reads (`objectRef.subresource` beside
//!    `objectRef.resource`; never under an ECS field set), or
//! 3. be on [`ALLOWED`], with the reason.
//!
//! The configured logsources are those of the source schemas
//! (`x-tocsin-logsource`), of the profiles and of the sample config's
//! sources. A rule none of them applies to is held to the event schema and
//! [`ALLOWED`] alone, and its logsource is pinned in [`NO_CONFIGURED_SOURCE`].
//! Fields the event schema has but a source carries under another name
//! (the schema says which) are refused for that source: [`MISREAD`].

mod common;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use tocsin::classify::{applies, parse_logsource};
use tocsin::config::{profile, Config};
use tocsin::coverage::{correlation_fields, detection_fields};
use tocsin::rules::load::Target;
use tocsin::rules::{load_paths, LoadedRules, LogSource};

/// Rule fields that no schema, profile or sample source provides, accepted
/// per rule logsource (`product=…,category=…,service=…`, as the rule writes
/// it) with the reason. A field ending in `.` stands for every field under it.
const ALLOWED: &[(&str, &str, &str)] = &[
    // Windows channels without a seed schema or profile: a source reading
    // them (Winlogbeat, flat evtx) takes `winlogbeat-security`'s or
    // `evtx-flat-security`'s field_map / field_prefixes, which give these
    // SigmaHQ names (README "Shipped rules").
    (
        "product=windows,service=system",
        "EventID",
        "Windows event ID (SigmaHQ name)",
    ),
    (
        "product=windows,service=system",
        "Provider_Name",
        "Windows event provider (SigmaHQ name)",
    ),
    (
        "product=windows,service=windefend",
        "EventID",
        "Windows event ID (SigmaHQ name)",
    ),
    // auditd records as SigmaHQ's `product: linux, service: auditd` rules
    // read them (Auditbeat/laurel JSON); no seed schema or profile.
    (
        "product=linux,service=auditd",
        "type",
        "auditd record type (SigmaHQ name)",
    ),
    (
        "product=linux,service=auditd",
        "unit",
        "systemd unit of SERVICE_STOP records (SigmaHQ name)",
    ),
    (
        "product=linux,service=auditd",
        "audit_enabled",
        "CONFIG_CHANGE record field (SigmaHQ name)",
    ),
    // Zeek dns.log's header flags are booleans; ECS has `dns.header_flags`
    // (a list: ["RD", "RA"]), which a profile cannot derive (it renames, it
    // does not rewrite values). The open-resolver rule so reads Zeek's.
    ("category=dns", "RA", "Zeek recursion-available flag (no ECS boolean)"),
    ("category=dns", "RD", "Zeek recursion-desired flag (no ECS boolean)"),
    // Kubernetes audit events: the request body and the admission
    // annotations have no ECS fields; `k8s-audit` renames what has one.
    (
        "product=kubernetes,category=application,service=audit",
        "requestObject.",
        "the object as the API server received it (pod spec, role binding)",
    ),
    (
        "product=kubernetes,category=application,service=audit",
        "annotations.",
        "admission annotations (pod security violations)",
    ),
    // CloudTrail's request payload differs per API call and has no ECS
    // fields; `aws-cloudtrail` renames the envelope only.
    (
        "product=aws,service=cloudtrail",
        "requestParameters.",
        "the API call's parameters as CloudTrail records them (security group rules)",
    ),
];

/// Rule logsources that no schema, profile or sample source provides
/// (each rule under them is checked against the event schema and [`ALLOWED`]).
const NO_CONFIGURED_SOURCE: &[&str] = &[
    "product=linux,service=auditd",
    "product=windows,service=system",
    "product=windows,service=windefend",
];

/// (source schema, field prefix, why): fields of the event schema that a
/// source carries under another name, as the event schema's descriptions say.
const MISREAD: &[(&str, &str, &str)] = &[(
    "hypervisor",
    "cloud.instance.",
    "the VM a hypervisor acts on is `vm.*`; `cloud.instance.*` is the instance an event comes from (event.schema.json `vm`)",
)];

/// One shape delivered under a logsource.
struct Provider {
    /// `schema hypervisor`, `profile zeek-dns`, `samples/tocsin.toml source zeek-dns`.
    what: String,
    logsource: LogSource,
    /// `field_map` keys (rule names) and targets (event paths), time fields.
    names: BTreeSet<String>,
    /// `field_map` targets and time fields: the native event paths.
    paths: BTreeSet<String>,
    prefixes: bool,
}

fn read_json(rel: &str) -> Value {
    let p = common::repo().join(rel);
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Every property path of the event schema (objects and leaves).
fn event_fields() -> BTreeSet<String> {
    fn walk(s: &Value, path: &str, out: &mut BTreeSet<String>) {
        for (k, v) in s["properties"].as_object().into_iter().flatten() {
            let p = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            out.insert(p.clone());
            walk(v, &p, out);
        }
    }
    let mut out = BTreeSet::new();
    walk(&read_json("schemas/event.schema.json"), "", &mut out);
    out
}

fn norm(ls: &LogSource) -> LogSource {
    let l = |v: &Option<String>| v.as_ref().map(|s| s.to_ascii_lowercase());
    LogSource {
        product: l(&ls.product),
        category: l(&ls.category),
        service: l(&ls.service),
    }
}

fn key(ls: &LogSource) -> String {
    let ls = norm(ls);
    [
        ("product", &ls.product),
        ("category", &ls.category),
        ("service", &ls.service),
    ]
    .iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
    .collect::<Vec<_>>()
    .join(",")
}

fn profile_provider(name: &str, what: String, logsource: Option<LogSource>) -> Provider {
    let p = profile::get(name).unwrap_or_else(|e| panic!("{e}"));
    let mut names = BTreeSet::new();
    let mut paths = BTreeSet::new();
    for (k, v) in &p.field_map {
        names.insert(k.clone());
        paths.extend(v.to_strings());
    }
    paths.extend(p.time_fields.clone().unwrap_or_default());
    names.extend(paths.iter().cloned());
    Provider {
        what,
        logsource: logsource.unwrap_or(LogSource {
            product: p.product.clone(),
            category: p.category.clone(),
            service: p.service.clone(),
        }),
        names,
        paths,
        prefixes: !p.field_prefixes.is_empty(),
    }
}

/// The shapes of every configured logsource.
fn providers() -> Vec<Provider> {
    let mut out = Vec::new();
    for name in profile::names() {
        out.push(profile_provider(&name, format!("profile {name}"), None));
    }
    for entry in std::fs::read_dir(common::repo().join("schemas/sources")).unwrap() {
        let p = entry.unwrap().path();
        let name = p
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .trim_end_matches(".schema.json");
        let s = read_json(&format!("schemas/sources/{name}.schema.json"));
        let ls: LogSource = {
            let l = &s["x-tocsin-logsource"];
            assert!(
                l.is_object(),
                "{name}: x-tocsin-logsource (the Sigma logsource of its events)"
            );
            let get = |k: &str| l.get(k).map(|v| v.as_str().unwrap().to_string());
            for k in l.as_object().unwrap().keys() {
                assert!(
                    ["product", "category", "service"].contains(&k.as_str()),
                    "{name}: `{k}`"
                );
            }
            LogSource {
                product: get("product"),
                category: get("category"),
                service: get("service"),
            }
        };
        // The normalized (ECS) events themselves.
        out.push(Provider {
            what: format!("schema {name}"),
            logsource: ls.clone(),
            names: BTreeSet::new(),
            paths: BTreeSet::new(),
            prefixes: false,
        });
        // And the native shapes it is delivered in, under its logsource.
        for pr in s["x-tocsin-profiles"].as_array().into_iter().flatten() {
            let pr = pr.as_str().unwrap();
            // Its renamed fields only: field_prefixes reach the native names
            // of the profile's own logsource (EventData of `windows/sysmon`),
            // not those of the schema's.
            let mut p = profile_provider(pr, format!("schema {name} through profile {pr}"), Some(ls.clone()));
            p.prefixes = false;
            out.push(p);
        }
    }
    let text = std::fs::read_to_string(common::repo().join("samples/tocsin.toml")).unwrap();
    let config = Config::parse(&text, "samples/tocsin.toml").unwrap();
    for s in &config.sources {
        let mut names = BTreeSet::new();
        let mut paths = BTreeSet::new();
        for (k, v) in &s.field_map {
            names.insert(k.clone());
            paths.extend(v.to_strings());
        }
        paths.extend(s.time_fields.clone().unwrap_or_default());
        names.extend(paths.iter().cloned());
        out.push(Provider {
            what: format!("samples/tocsin.toml source {}", s.name),
            logsource: LogSource {
                product: s.product.clone(),
                category: s.category.clone(),
                service: s.service.clone(),
            },
            names,
            paths,
            prefixes: !s.field_prefixes.is_empty(),
        });
    }
    out
}

struct Checker {
    ecs: BTreeSet<String>,
    /// Top-level field sets of the event schema.
    ecs_sets: BTreeSet<String>,
    /// Per configured logsource (its key), its providers.
    by_logsource: BTreeMap<String, Vec<Provider>>,
}

impl Checker {
    fn new() -> Checker {
        let ecs = event_fields();
        let ecs_sets = ecs.iter().map(|f| f.split('.').next().unwrap().to_string()).collect();
        let mut by_logsource: BTreeMap<String, Vec<Provider>> = BTreeMap::new();
        for p in providers() {
            by_logsource.entry(key(&p.logsource)).or_default().push(p);
        }
        Checker {
            ecs,
            ecs_sets,
            by_logsource,
        }
    }

    /// The configured logsources a rule written for `rule` applies to.
    fn applicable(&self, rule: &LogSource) -> Vec<&str> {
        self.by_logsource
            .iter()
            .filter(|(_, ps)| applies(&norm(rule), &norm(&ps[0].logsource)))
            .map(|(k, _)| k.as_str())
            .collect()
    }

    fn allowed(rule: &LogSource, field: &str) -> bool {
        ALLOWED.iter().any(|(ls, f, _)| {
            key(&parse_logsource(ls).unwrap()) == key(rule)
                && (*f == field || (f.ends_with('.') && field.starts_with(f)))
        })
    }

    /// Why `field`, read by a rule for `rule`, is not carried under the
    /// configured logsource `ls` (`None`: it is).
    fn problem(&self, rule: &LogSource, ls: Option<&str>, field: &str) -> Option<String> {
        if Self::allowed(rule, field) {
            return None;
        }
        let Some(ls) = ls else {
            return (!self.ecs.contains(field))
                .then(|| "not in the event schema, and no configured source has the rule's logsource".to_string());
        };
        let providers = &self.by_logsource[ls];
        for (schema, prefix, why) in MISREAD {
            if field.starts_with(prefix) && providers.iter().any(|p| p.what == format!("schema {schema}")) {
                return Some(format!("schema {schema}: {why}"));
            }
        }
        let head = field.split('.').next().unwrap_or(field);
        let carried = self.ecs.contains(field)
            || providers.iter().any(|p| {
                p.names.contains(field)
                    || (p.prefixes && !field.contains('.'))
                    || (!self.ecs_sets.contains(head)
                        && field.contains('.')
                        && p.paths
                            .iter()
                            .any(|n| n.split('.').next() == Some(head) && n.contains('.')))
            });
        (!carried).then(|| {
            let what: Vec<&str> = providers.iter().map(|p| p.what.as_str()).collect();
            format!("not in the event schema, nor native to {ls} ({})", what.join("; "))
        })
    }

    /// Problems of `field` read by a rule for `rule`, over every configured
    /// logsource it applies to.
    fn check(&self, rule: &LogSource, field: &str) -> Vec<String> {
        let applicable = self.applicable(rule);
        if applicable.is_empty() {
            return self.problem(rule, None, field).into_iter().collect();
        }
        applicable
            .into_iter()
            .filter_map(|ls| self.problem(rule, Some(ls), field).map(|p| format!("[{ls}] {p}")))
            .collect()
    }
}

fn shipped() -> LoadedRules {
    let loaded = load_paths(&[common::repo().join("rules")]);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    assert!(loaded.rules.len() + loaded.correlations.len() >= 100);
    loaded
}

/// The detection rules behind a reference (through correlations of correlations).
fn detections(loaded: &LoadedRules, reference: &str, out: &mut Vec<usize>) {
    match loaded.resolve(reference) {
        Some(Target::Detection(i)) => out.push(i),
        Some(Target::Correlation(j)) => {
            for r in &loaded.correlations[j].rules {
                detections(loaded, &r.reference, out);
            }
        }
        None => panic!("unresolved reference `{reference}`"),
    }
}

/// Every (rule, field) the pack reads that its sources do not carry.
fn problems(loaded: &LoadedRules) -> Vec<String> {
    let c = Checker::new();
    let mut out = Vec::new();
    for r in &loaded.rules {
        for f in detection_fields(r) {
            for p in c.check(&r.logsource, &f) {
                out.push(format!("{} ({}): `{f}` {p}", r.title, r.location.file.display()));
            }
        }
    }
    for corr in &loaded.correlations {
        for (reference, f) in correlation_fields(corr) {
            let mut ds = Vec::new();
            detections(loaded, &reference, &mut ds);
            for d in ds {
                let r = &loaded.rules[d];
                for p in c.check(&r.logsource, &f) {
                    out.push(format!(
                        "{} ({}): `{f}` in events of `{}` {p}",
                        corr.title,
                        corr.location.file.display(),
                        r.title
                    ));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn every_field_a_shipped_rule_reads_is_carried_by_its_sources() {
    let problems = problems(&shipped());
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn the_logsources_without_a_configured_source_are_pinned() {
    let loaded = shipped();
    let c = Checker::new();
    let none: BTreeSet<String> = loaded
        .rules
        .iter()
        .filter(|r| c.applicable(&r.logsource).is_empty())
        .map(|r| key(&r.logsource))
        .collect();
    let pinned: BTreeSet<String> = NO_CONFIGURED_SOURCE
        .iter()
        .map(|l| key(&parse_logsource(l).unwrap()))
        .collect();
    assert_eq!(none, pinned);
}

#[test]
fn every_allow_list_entry_is_used() {
    let loaded = shipped();
    let mut reads: Vec<(LogSource, String)> = Vec::new();
    for r in &loaded.rules {
        reads.extend(detection_fields(r).into_iter().map(|f| (r.logsource.clone(), f)));
    }
    for corr in &loaded.correlations {
        for (reference, f) in correlation_fields(corr) {
            let mut ds = Vec::new();
            detections(&loaded, &reference, &mut ds);
            reads.extend(ds.into_iter().map(|d| (loaded.rules[d].logsource.clone(), f.clone())));
        }
    }
    for (ls, f, why) in ALLOWED {
        let ls = parse_logsource(ls).unwrap();
        assert!(
            reads
                .iter()
                .any(|(rl, rf)| key(rl) == key(&ls) && (rf == f || (f.ends_with('.') && rf.starts_with(f)))),
            "allow-list entry ({ls}, {f}: {why}) matches no rule field: remove it"
        );
    }
}

/// The check finds what it is for: a rule reading a field its source's
/// schema does not have, or has under another name.
#[test]
fn a_field_no_source_carries_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("r.yml"),
        "title: Wrong names\nid: rf-1\nlogsource:\n    category: hypervisor\ndetection:\n    sel:\n        event.action: vm-created\n        cloud.image.id: x\n        cloud.instance.id: y\n        vm.image.name: z\n    condition: sel\nlevel: low\n---\ntitle: Scope\nid: rf-2\nname: rf_lease\nlogsource:\n    category: dhcp\ndetection:\n    sel:\n        event.action: dhcp-request\n    condition: sel\nlevel: low\n---\ntitle: Starvation\nid: rf-3\ncorrelation:\n    type: value_count\n    rules:\n        - rf_lease\n    group-by:\n        - network.name\n    timespan: 5m\n    condition:\n        field: source.mac\n        gte: 50\nlevel: low\n",
    )
    .unwrap();
    let loaded = load_paths(&[dir.path().to_path_buf()]);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let found = problems(&loaded);
    let fields: BTreeSet<&str> = found.iter().filter_map(|p| p.split('`').nth(1)).collect();
    assert_eq!(
        fields,
        BTreeSet::from(["cloud.image.id", "cloud.instance.id", "network.name"]),
        "{found:#?}"
    );
}
