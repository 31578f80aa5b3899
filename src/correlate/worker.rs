//! Shard workers: one thread per shard, the single owner of its [`Shard`].
//!
//! The coordinator ([`super::Correlator`]) sends batches of hits and, per
//! watermark advance, one `Advance` per layer; each worker answers an advance
//! with its firings, evictions and counters. Channels are bounded, so a
//! coordinator that produces hits faster than shards apply them blocks
//! (backpressure) instead of buffering without limit.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::shard::{Evictions, Firing, Hit, Shard, ShardStats};
use super::window::GroupState;
use super::CorrelationSet;

/// Batches in flight per worker before the sender blocks.
const QUEUE: usize = 16;

enum Cmd {
    Hits(Vec<Hit>),
    Advance {
        layer: u8,
        wm: i64,
    },
    /// Encode the shard's state (a checkpoint); answered like an advance.
    Image,
    /// Groups and reported overflow periods from a checkpoint.
    Restore {
        groups: Vec<(u32, Box<str>, GroupState)>,
        reported: Vec<Option<i64>>,
    },
}

/// What a shard answers to an advance.
pub struct Reply {
    pub firings: Vec<Firing>,
    pub evictions: Vec<Evictions>,
    pub stats: ShardStats,
    /// [`super::shard::Shard::next_due`] after the command.
    pub next_due: i64,
    /// For [`Cmd::Image`]: the encoded [`super::shard::ShardImageRef`].
    pub image: Option<Result<Vec<u8>, postcard::Error>>,
}

pub struct Worker {
    tx: Option<SyncSender<Cmd>>,
    rx: Receiver<Reply>,
    handle: Option<JoinHandle<()>>,
}

impl Worker {
    pub fn spawn(id: usize, set: Arc<CorrelationSet>, mut shard: Shard) -> Worker {
        let (tx, cmds) = sync_channel::<Cmd>(QUEUE);
        let (replies, rx) = sync_channel::<Reply>(1);
        let handle = std::thread::Builder::new()
            .name(format!("tocsin-shard-{id}"))
            .spawn(move || {
                for cmd in cmds {
                    match cmd {
                        Cmd::Hits(hits) => hits.into_iter().for_each(|h| shard.push(h)),
                        Cmd::Advance { layer, wm } => {
                            let mut firings = Vec::new();
                            shard.advance(&set, layer, wm, &mut firings);
                            let reply = Reply {
                                firings,
                                evictions: shard.take_evictions(),
                                stats: shard.stats.clone(),
                                next_due: shard.next_due(&set),
                                image: None,
                            };
                            if replies.send(reply).is_err() {
                                return;
                            }
                        }
                        Cmd::Image => {
                            let reply = Reply {
                                firings: Vec::new(),
                                evictions: Vec::new(),
                                stats: shard.stats.clone(),
                                next_due: shard.next_due(&set),
                                image: Some(postcard::to_allocvec(&shard.image())),
                            };
                            if replies.send(reply).is_err() {
                                return;
                            }
                        }
                        Cmd::Restore { groups, reported } => {
                            for (corr, key, state) in groups {
                                shard.restore_group(&set, corr, key, state);
                            }
                            for (corr, period) in reported.into_iter().enumerate() {
                                shard.restore_reported(corr as u32, period);
                            }
                        }
                    }
                }
            })
            .expect("spawning a correlation shard thread");
        Worker {
            tx: Some(tx),
            rx,
            handle: Some(handle),
        }
    }

    pub fn send_hits(&self, hits: Vec<Hit>) {
        self.send(Cmd::Hits(hits));
    }

    /// Starts an advance; collect its answer with [`Worker::reply`].
    pub fn advance(&self, layer: u8, wm: i64) {
        self.send(Cmd::Advance { layer, wm });
    }

    /// Starts encoding the shard's state; collect it with [`Worker::reply`].
    pub fn image(&self) {
        self.send(Cmd::Image);
    }

    pub fn restore(&self, groups: Vec<(u32, Box<str>, GroupState)>, reported: Vec<Option<i64>>) {
        self.send(Cmd::Restore { groups, reported });
    }

    pub fn reply(&self) -> Reply {
        match self.rx.recv() {
            Ok(r) => r,
            Err(_) => self.died(),
        }
    }

    fn send(&self, cmd: Cmd) {
        let sent = self.tx.as_ref().map(|tx| tx.send(cmd).is_ok());
        if sent != Some(true) {
            self.died();
        }
    }

    /// A worker only stops early by panicking (a bug): surface it here
    /// rather than hang or lose its state silently.
    fn died(&self) -> ! {
        panic!("a correlation shard thread stopped unexpectedly (see the panic above)")
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
