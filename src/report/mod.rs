//! The results room: what every run writes and `gale report` reads back.
//!
//! - [`record`]: the schema of `invocations.csv`, its writer; [`read`]: its reader;
//! - [`clock`]: the run's clock, on which records place every instant;
//! - [`summary`]: the streaming summary (`summary.json`, the printed table);
//! - [`stats`]: the statistics (accumulators, intervals, comparison of samples);
//! - [`group`]: per-group figures (counts, one metric per timing) shared by the summary and
//!   `gale report`; [`analysis`], [`render`], [`check`]: `gale report` itself;
//! - [`writer`]: the writer thread that records, measures and sums up as records arrive;
//! - [`output`]: the result directory, `run.yaml` and the summary files;
//! - [`measure`]: the monitor join (each record's CPU and memory);
//! - [`plot`]: the figures (SVG and PNG) of one or more runs, from one streaming pass.
//!
//! `gale inject`, `gale generate` and `gale simulate` write only through here; nothing here
//! reaches into a platform or the injector.

pub mod analysis;
pub mod check;
pub mod clock;
pub mod group;
pub mod measure;
pub mod output;
pub mod plot;
pub mod read;
pub mod record;
pub mod render;
pub mod stats;
pub mod summary;
pub mod writer;

pub use clock::RunClock;
pub use read::{FileKind, ReadError, RecordReader};
pub use record::Record;
