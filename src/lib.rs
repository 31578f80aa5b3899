//! Tocsin: a stream-processing detection engine for security logs.
pub mod alert;
pub mod classify;
pub mod cli;
pub mod config;
pub mod correlate;
pub mod coverage;
pub mod decode;
pub mod detector;
pub mod event;
pub mod matcher;
pub mod metrics;
pub mod pipeline;
pub mod rules;
pub mod sink;
pub mod source;
