//! Running the plan: draw, invoke (blocking), record, checkpoint; stop cleanly on signals.
//!
//! One row at a time, in plan order. A row is appended with one write once its invocation
//! is over, then the in-memory cursor moves past it: a checkpoint therefore always describes
//! whole rows, and a row abandoned by a second signal is simply run again on resume.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use rand_chacha::ChaCha12Rng;
use serde_json::{Map, Value};
use tokio::sync::watch;

use super::checkpoint::{self, Counters, State, Stream};
use super::config::{Function, Generator};
use super::dataset::{Appender, Columns, Row};
use super::monitor::{self, Monitored};
use super::plan::{Cursor, Unit};
use super::space::{Pass, Point};
use crate::backend::completion::Poller;
use crate::backend::{Call, Entity, Outcome, Platform, Reply};
use crate::report::clock::mono_now_ns;
use crate::report::RunClock;

/// When to checkpoint besides signals and the end.
#[derive(Debug, Clone, Copy)]
pub struct Cadence {
    /// Every this many rows (0: never by count).
    pub every_rows: u64,
    /// At least this often.
    pub interval: Duration,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The plan is complete.
    Finished,
    /// Stopped by SIGINT/SIGTERM after a checkpoint.
    Interrupted,
}

/// A function's stream, with the state at the start of its current point so a point whose
/// variants are not all run can be drawn again.
pub struct Sampler {
    rng: ChaCha12Rng,
    point_start: ChaCha12Rng,
    point: Option<Point>,
}

impl Sampler {
    /// A sampler continuing from `rng`.
    pub fn new(rng: ChaCha12Rng) -> Sampler {
        Sampler {
            point_start: rng.clone(),
            rng,
            point: None,
        }
    }

    fn draw(&mut self, f: &Function) {
        self.point_start = self.rng.clone();
        self.point = Some(f.space.draw(&mut self.rng));
    }

    fn undraw(&mut self) {
        self.rng = self.point_start.clone();
        self.point = None;
    }
}

/// The files a run writes to.
pub struct Files {
    /// `dataset.csv`.
    pub dataset: Appender,
    /// `samples.csv`, when raw samples are kept.
    pub samples: Option<Appender>,
    /// `checkpoint.json`.
    pub checkpoint: PathBuf,
    /// The exclusive lock on the output directory, held for the run.
    pub lock: std::fs::File,
}

/// Totals the progress bar reads while the run goes on.
#[derive(Debug, Default)]
pub struct Live {
    /// Rows written by this process.
    pub rows: AtomicU64,
    /// Of which failed.
    pub failed: AtomicU64,
    /// Of which cold.
    pub cold: AtomicU64,
}

/// A run in progress.
pub struct Engine<'a, P: Platform> {
    /// The config.
    pub g: &'a Generator,
    /// Its fingerprint.
    pub fingerprint: String,
    /// Parameter columns.
    pub columns: Columns,
    /// The platform.
    pub backend: Arc<P>,
    /// Output files.
    pub files: Files,
    /// Committed position: just past the last row written.
    pub cursor: Cursor,
    /// One sampler per function.
    pub samplers: Vec<Sampler>,
    /// Totals.
    pub counters: Counters,
    /// Resource measurements.
    pub monitor: Option<Monitored>,
    /// Checkpoint cadence.
    pub cadence: Cadence,
    /// Signals received so far (1: stop after this row; 2: stop now).
    pub signals: watch::Receiver<u32>,
    /// What the progress bar shows.
    pub live: Arc<Live>,
    /// Completes accepted invocations.
    pub poller: Poller,
    /// Places activations' ends on this process's clock.
    pub clock: Arc<RunClock>,
}

impl<P: Platform> Engine<'_, P> {
    /// The state to checkpoint.
    pub fn state(&self, finished: bool) -> State {
        let pending = self.cursor.pending.map(|p| p.function);
        State {
            fingerprint: self.fingerprint.clone(),
            seed: self.g.seed,
            total_rows: self.g.total_rows(),
            cursor: self.cursor.clone(),
            streams: self
                .g
                .functions
                .iter()
                .zip(&self.samplers)
                .enumerate()
                .map(|(i, (f, s))| Stream {
                    function: f.name.clone(),
                    rng: if pending == Some(i) {
                        s.point_start.clone()
                    } else {
                        s.rng.clone()
                    },
                })
                .collect(),
            counters: self.counters,
            dataset_bytes: self.files.dataset.len(),
            samples_bytes: self.files.samples.as_ref().map(Appender::len),
            dataset_tail: Some(self.files.dataset.tail().clone()),
            samples_tail: self.files.samples.as_ref().map(|s| s.tail().clone()),
            finished,
            written_at: crate::timefmt::rfc3339(SystemTime::now()),
        }
    }

    /// Make the files durable, then record the state pointing at them.
    pub fn checkpoint(&self, finished: bool) -> anyhow::Result<()> {
        self.files
            .dataset
            .sync()
            .context("cannot sync dataset.csv")?;
        if let Some(s) = &self.files.samples {
            s.sync().context("cannot sync samples.csv")?;
        }
        checkpoint::save(&self.files.checkpoint, &self.state(finished))
            .with_context(|| format!("cannot write {}", self.files.checkpoint.display()))
    }

    /// Re-draw the point a resumed cursor is in the middle of.
    pub fn restore_pending(&mut self) {
        if let Some(p) = self.cursor.pending {
            self.samplers[p.function].draw(&self.g.functions[p.function]);
        }
    }

    /// Run the plan to its end or to a signal.
    pub async fn run(&mut self) -> anyhow::Result<End> {
        let mut last_checkpoint = Instant::now();
        let mut since_checkpoint = 0u64;
        loop {
            if *self.signals.borrow() >= 1 {
                self.checkpoint(false)?;
                return Ok(End::Interrupted);
            }
            let mut next = self.cursor.clone();
            let Some(unit) = next.next(self.g) else {
                self.checkpoint(true)?;
                return Ok(End::Finished);
            };
            let f = &self.g.functions[unit.function];
            if unit.new_point {
                self.samplers[unit.function].draw(f);
            }
            let Some(row) = self.run_one(unit).await? else {
                // Abandoned by a second signal: draw it again on resume.
                if unit.new_point {
                    self.samplers[unit.function].undraw();
                }
                self.checkpoint(false)?;
                return Ok(End::Interrupted);
            };
            if self.g.functions[unit.function].cold_start && row.cold == Some(false) {
                // Checked, not assumed: the dataset's `cold` column is the activation's word.
                tracing::warn!(
                    "row {}: `{}` was warm although a cold start was forced",
                    self.counters.rows,
                    row.action
                );
            }
            // Samples first: a row in the dataset always has its samples on disk already.
            // Either file's lines past the checkpoint are cut on resume.
            if let Some(s) = &mut self.files.samples {
                s.append(&row.samples_csv())?;
            }
            self.files.dataset.append(&row.to_csv())?;
            self.cursor = next;
            self.counters.rows += 1;
            self.counters.failed += u64::from(row.outcome != Some(Outcome::Success));
            self.counters.cold += u64::from(row.cold == Some(true));
            self.live.rows.fetch_add(1, Ordering::Relaxed);
            self.live.failed.fetch_add(
                u64::from(row.outcome != Some(Outcome::Success)),
                Ordering::Relaxed,
            );
            self.live
                .cold
                .fetch_add(u64::from(row.cold == Some(true)), Ordering::Relaxed);
            since_checkpoint += 1;
            let by_count =
                self.cadence.every_rows > 0 && since_checkpoint >= self.cadence.every_rows;
            if by_count || last_checkpoint.elapsed() >= self.cadence.interval {
                self.checkpoint(false)?;
                last_checkpoint = Instant::now();
                since_checkpoint = 0;
            }
            if !f.pause.is_zero() {
                let mut signals = self.signals.clone();
                tokio::select! {
                    _ = tokio::time::sleep(f.pause) => {}
                    _ = signals.wait_for(|n| *n >= 1) => {}
                }
            }
        }
    }

    /// The invocation body of a point, and the row's identity columns.
    fn prepare(&self, unit: Unit) -> anyhow::Result<(String, Row)> {
        let f = &self.g.functions[unit.function];
        let variant = &f.variants[unit.variant];
        let sampler = &self.samplers[unit.function];
        let point = sampler
            .point
            .as_ref()
            .context("internal: no point drawn for this run")?;
        let mut body: Map<String, Value> = f.params.clone();
        let mut params = vec![None; self.columns.params.len()];
        for ((name, _), v) in f.space.params.iter().zip(&point.values) {
            body.insert(name.clone(), v.clone());
            if let Some(i) = self.columns.index(name) {
                params[i] = Some(v.clone());
            }
        }
        let mut input = None;
        if let (Some(inp), Some((class, file))) = (&f.space.inputs, f.space.file(point)) {
            let sent = match inp.pass {
                Pass::Path => std::fs::canonicalize(&file.path)
                    .unwrap_or_else(|_| file.path.clone())
                    .display()
                    .to_string(),
                Pass::Name => file
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                Pass::Content => {
                    crate::regular_file::read_text(&file.path, crate::regular_file::MAX_CODE_BYTES)
                        .with_context(|| format!("cannot read input {}", file.path.display()))?
                }
            };
            body.insert(inp.param.clone(), Value::String(sent));
            if let Some(i) = self.columns.index(&inp.param) {
                params[i] = Some(Value::String(file.label.clone()));
            }
            input = Some((class.name.clone(), file.bytes));
        }
        let body = Value::Object(body).to_string();
        let row = Row {
            run_id: unit.row,
            function: f.name.clone(),
            action: variant.action.clone(),
            memory_mb: variant.memory_mb,
            run: unit.run,
            input,
            body_bytes: body.len(),
            params,
            ..Row::default()
        };
        Ok((body, row))
    }

    /// Run one row; `None` when a second signal abandoned it.
    async fn run_one(&mut self, unit: Unit) -> anyhow::Result<Option<Row>> {
        let (body, mut row) = self.prepare(unit)?;
        let f = &self.g.functions[unit.function];
        let mut hurry = self.signals.clone();
        let hurry = async move {
            let _ = hurry.wait_for(|n| *n >= 2).await;
        };
        tokio::pin!(hurry);
        if f.cold_start {
            // The mechanism of `gale inject --force-cold`: an update of the action (deployed
            // with this variant's memory at the start) retires its warm containers.
            tokio::select! {
                r = self.backend.force_cold(0, &row.action) => r.with_context(|| {
                    format!("cannot update `{}` to force a cold start", row.action)
                })?,
                _ = &mut hurry => return Ok(None),
            }
        }
        let call = Call {
            user: 0,
            function: &row.action,
            params: &body,
            blocking: true,
            entity: &Entity::Action,
        };
        let mut sent = None;
        let reply = tokio::select! {
            r = self.backend.invoke(call, || sent = Some(mono_now_ns())) => r,
            _ = &mut hurry => return Ok(None),
        };
        let (replied, replied_ns) = (Instant::now(), mono_now_ns());
        row.response_us = sent.map(|s| replied_ns.saturating_sub(s) / 1000);
        let Reply {
            activation_id,
            activation,
            outcome,
            error,
            ..
        } = reply;
        let mut activation = activation;
        let mut outcome = outcome;
        let mut error = error;
        if let (Outcome::Accepted, Some(id)) = (outcome, activation_id.as_deref()) {
            let action: Arc<str> = Arc::from(row.action.as_str());
            tokio::select! {
                r = self.poller.complete(&*self.backend, 0, id, &action, replied, None) => match r {
                    Ok(a) => {
                        outcome = Outcome::of_status_code(a.status_code);
                        error = a.error.clone();
                        activation = Some(a);
                    }
                    Err(e) => error = Some(e),
                },
                _ = &mut hurry => return Ok(None),
            }
        }
        row.outcome = Some(outcome);
        row.activation_id = activation_id;
        if let Some(a) = &activation {
            let t = a.timings();
            row.cold = Some(t.cold);
            row.wait_us = t.wait_us;
            row.init_us = t.init_us;
            row.duration_us = Some(t.duration_us);
            // From the send to the activation's end, as a record's completion counts from
            // its (here: immediate) scheduled instant.
            row.completion_us = sent.map(|s| {
                let end = self.clock.run_ns(t.end_epoch_us);
                end.saturating_sub(self.clock.rel(s)) / 1000
            });
        }
        let (measured, why) = monitor::join(self.monitor.as_mut(), activation.as_ref());
        row.measured = measured;
        row.error = error.or(why);
        Ok(Some(row))
    }
}
