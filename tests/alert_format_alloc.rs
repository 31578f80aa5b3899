//! Rendering an alert into a reused buffer allocates nothing, in every
//! format (unsigned): counted by a global allocator in this test binary.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use serde_json::{json, Map};
use tocsin::alert::format::{AlertFormat, AlertRenderer};
use tocsin::alert::{Alert, AlertKind, Evidence, LogSourceRef, RuleRef, TimeSource};
use tocsin::event::Position;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

fn alert() -> Alert {
    let mut group = Map::new();
    group.insert("TargetUserName".into(), json!("carol|=\\\n]\""));
    group.insert("IpAddress".into(), json!("203.0.113.50"));
    group.insert("Attempts".into(), json!(12));
    Alert {
        alert_id: "fedcba9876543210fedcba9876543210".into(),
        kind: AlertKind::Correlation,
        rule: RuleRef {
            id: "brute".into(),
            title: "Brute Force | then = success".into(),
            level: Some("high"),
            tags: vec!["attack.t1110".into()],
            author: None,
        },
        event_time: "2026-11-02T09:10:00.123456789Z".into(),
        time_source: TimeSource::Event,
        logsource: LogSourceRef::default(),
        count: 6,
        group,
        source: Position::Kafka {
            topic: "winlogbeat".into(),
            partition: 2,
            offset: 41,
        },
        evidence: vec![Evidence {
            source: Position::File {
                file: "x".into(),
                line: 1,
            },
            event_time: "2026-11-02T09:10:00Z".into(),
            event: json!({"host": {"name": "dc01"}, "n": 0.25}),
        }],
        window: None,
        first_event_time: Some("2026-11-02T09:10:00Z".into()),
        last_event_time: Some("2026-11-02T09:11:29.5Z".into()),
        value: None,
        contributing_rules: vec![],
        evidence_refs: vec![],
        updates: 0,
    }
}

#[test]
fn rendering_into_a_reused_buffer_allocates_nothing() {
    let a = alert();
    let before = allocations();
    drop(std::hint::black_box(Vec::<u8>::with_capacity(16)));
    assert_eq!(allocations() - before, 1, "the counter counts");
    for format in [AlertFormat::Json, AlertFormat::Cef, AlertFormat::Syslog] {
        let r = AlertRenderer::new(format).with_hostname("h");
        let mut buf = Vec::new();
        r.render(&a, &mut buf).unwrap(); // grows the buffer once
        let before = allocations();
        for _ in 0..100 {
            buf.clear();
            r.render(&a, &mut buf).unwrap();
        }
        assert_eq!(allocations() - before, 0, "{format} allocated per alert");
        assert!(!buf.is_empty());
    }
}
