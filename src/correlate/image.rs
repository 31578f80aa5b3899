//! Correlator checkpoints: the whole correlation state as bytes, so a
//! restarted engine continues open windows exactly where they were.
//!
//! An image holds what the shards hold (buffered hits not yet passed by the
//! watermark, every group's window state, reported overflow periods) plus the
//! coordinator's admitted watermark. It does not depend on the shard count:
//! restoring re-routes every group and hit by `hash(correlation, group)`, so
//! `--shards` may change across a restart. Correlations are identified by rule
//! key and a fingerprint of their semantics; state of a rule that is gone or
//! changed is dropped (and reported), never fed into a different window.

use std::hash::Hasher;

use super::shard::{Hit, ShardImage};
use super::window::GroupState;
use super::{route, CorrSpec, Correlator, Fnv64, RefTarget};

/// Correlation state at a flush point.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct CorrelatorImage {
    /// Per correlation of the writer's rule set: rule key and fingerprint.
    pub rules: Vec<(String, u64)>,
    pub target: i64,
    pub applied: i64,
    pub late: u64,
    /// Per correlation: overflow period of its last meta-alert.
    pub overflow: Vec<Option<i64>>,
    /// One encoded [`ShardImage`] per shard of the writer.
    pub shards: Vec<Vec<u8>>,
}

/// What a restore kept and dropped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Restored {
    pub groups: usize,
    pub pending_hits: usize,
    /// Rule keys whose state was dropped: no longer loaded, or changed.
    pub dropped_rules: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("encoding correlation state: {0}")]
    Encode(postcard::Error),
    #[error("decoding correlation state: {0}")]
    Decode(postcard::Error),
}

/// Stable across processes and versions as long as the rule means the same:
/// type, condition, timespan, referenced rules, group-by and value fields.
fn fingerprint(spec: &CorrSpec, specs: &[CorrSpec]) -> u64 {
    let refs: Vec<&str> = spec
        .refs
        .iter()
        .map(|r| match r {
            RefTarget::Detection(k) => k.as_str(),
            RefTarget::Correlation(i) => specs[*i as usize].rule.key(),
        })
        .collect();
    let c = &spec.window.condition;
    let text = format!(
        "{:?}|{:?}|{:?}|{:?}|{}|{:?}|{:?}|{:?}|{:?}",
        spec.window.kind,
        c.bounds,
        c.field,
        c.percentile,
        spec.window.span,
        refs,
        spec.group_names,
        spec.group_fields,
        spec.value_fields
    );
    let mut h = Fnv64::default();
    h.write(text.as_bytes());
    h.finish()
}

impl Correlator {
    /// The state as of now: call right after a flush (the pipeline does), so
    /// the image and the input positions it is stored with agree.
    pub fn image(&mut self) -> Result<CorrelatorImage, ImageError> {
        for (w, out) in self.workers.iter().zip(&mut self.outbox) {
            if !out.is_empty() {
                w.send_hits(std::mem::take(out));
            }
            w.image();
        }
        let mut shards = Vec::with_capacity(self.workers.len());
        for w in &self.workers {
            let bytes = w.reply().image.unwrap_or_else(|| Ok(Vec::new()));
            shards.push(bytes.map_err(ImageError::Encode)?);
        }
        let specs = &self.set.specs;
        Ok(CorrelatorImage {
            rules: specs
                .iter()
                .map(|s| (s.rule.key().to_string(), fingerprint(s, specs)))
                .collect(),
            target: self.target,
            applied: self.applied,
            late: self.late,
            overflow: self.overflow.clone(),
            shards,
        })
    }

    /// Loads an image into this (fresh) correlator, re-routing its groups
    /// and buffered hits over this correlator's shards.
    pub fn restore(&mut self, image: CorrelatorImage) -> Result<Restored, ImageError> {
        let specs = &self.set.specs;
        let mine: Vec<(String, u64)> = specs
            .iter()
            .map(|s| (s.rule.key().to_string(), fingerprint(s, specs)))
            .collect();
        // Writer's correlation index → this set's, when the rule is unchanged.
        let map: Vec<Option<u32>> = image
            .rules
            .iter()
            .map(|r| mine.iter().position(|m| m == r).map(|i| i as u32))
            .collect();
        let mut restored = Restored {
            dropped_rules: image
                .rules
                .iter()
                .zip(&map)
                .filter(|(_, m)| m.is_none())
                .map(|((k, _), _)| k.clone())
                .collect(),
            ..Restored::default()
        };
        self.target = self.target.max(image.target);
        self.applied = self.applied.max(image.applied);
        // Restored hits and windows are not in `next_due` yet: the next
        // watermark movement flushes (and the shards report it exactly).
        self.next_due = i64::MIN;
        self.late += image.late;
        for (old, period) in image.overflow.iter().enumerate() {
            if let Some(Some(new)) = map.get(old) {
                self.overflow[*new as usize] = *period;
            }
        }
        let n = self.workers.len();
        let mut groups: Vec<Vec<(u32, Box<str>, GroupState)>> = vec![Vec::new(); n];
        let mut reported = vec![None; specs.len()];
        let mut hits: Vec<Hit> = Vec::new();
        for bytes in &image.shards {
            let shard: ShardImage = postcard::from_bytes(bytes).map_err(ImageError::Decode)?;
            for (corr, key, state) in shard.groups {
                if let Some(Some(c)) = map.get(corr as usize) {
                    restored.groups += 1;
                    groups[route(*c, &key, n)].push((*c, key, state));
                }
            }
            for (old, period) in shard.reported.into_iter().enumerate() {
                if let Some(Some(c)) = map.get(old) {
                    let r: &mut Option<i64> = &mut reported[*c as usize];
                    *r = (*r).max(period);
                }
            }
            hits.extend(shard.pending.into_iter().filter_map(|mut h| {
                let c = (*map.get(h.corr as usize)?)?;
                h.corr = c;
                Some(h)
            }));
        }
        for (w, g) in self.workers.iter().zip(groups) {
            w.restore(g, reported.clone());
        }
        restored.pending_hits = hits.len();
        for h in hits {
            self.route_hit(h);
        }
        Ok(restored)
    }
}
