//! The results room: statistics over result records.

pub mod stats;
