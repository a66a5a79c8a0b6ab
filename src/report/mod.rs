//! The results room: records, summaries, statistics and plots of runs.

pub mod plot;
