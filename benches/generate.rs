//! Generator checkpoint benchmark (run with `cargo bench --bench generate`; not a test).
//!
//! Writes a dataset of GALE_BENCH_ROWS rows (default 1 000 000) with realistic rows, then
//! reports:
//! - the cost of one checkpoint as the engine takes it (fsync of the dataset after 100 new
//!   rows, then the checkpoint file written to a temporary, fsync'd, renamed, directory
//!   fsync'd), p50/p99/max over GALE_BENCH_CHECKPOINTS (default 200);
//! - the time to resume: load and verify the checkpoint (checksum, fingerprint, every
//!   stream's position), cut the dataset back to the checkpoint's length (a partial row is
//!   appended first, so there is something to cut), restore the streams and re-draw the
//!   pending point, p50/p99/max over 50 rounds.
//!
//! The temporary directory is GALE_BENCH_DIR or the system's (its file system decides fsync
//! costs: say which when quoting figures).

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use gale::generate::checkpoint::{self, Counters, State, Stream};
use gale::generate::config::{self, Generator};
use gale::generate::dataset::{Appender, Columns, Row};
use gale::generate::plan::Cursor;
use gale::generate::{load_state, rng};

const CONFIG: &str = r#"seed: 7
order: shuffled
functions:
  - name: burn
    runs: 400000
    memory_mb: [128, 256]
    space:
      cpu_ms: {uniform: [1, 50]}
      mem_mb: {int: [1, 256]}
  - name: mix
    runs: 600000
    space:
      n: {log_uniform: [1, 100000]}
      x: {normal: {mean: 10, std: 3, min: 0}}
      mode: {choice: [a, b, c]}
"#;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentiles(mut xs: Vec<Duration>) -> String {
    xs.sort();
    let at = |q: f64| xs[((xs.len() - 1) as f64 * q).round() as usize];
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    format!(
        "p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs (n={})",
        us(at(0.5)),
        us(at(0.99)),
        us(at(1.0)),
        xs.len()
    )
}

/// Rows as the engine makes them: drawn inputs, plausible measurements.
struct RowMaker<'a> {
    g: &'a Generator,
    columns: Columns,
    cursor: Cursor,
    rngs: Vec<rand_chacha::ChaCha12Rng>,
    points: Vec<Option<gale::generate::space::Point>>,
}

impl RowMaker<'_> {
    fn next(&mut self) -> Option<Row> {
        let u = self.cursor.next(self.g)?;
        let f = &self.g.functions[u.function];
        if u.new_point {
            self.points[u.function] = Some(f.space.draw(&mut self.rngs[u.function]));
        }
        let point = self.points[u.function].as_ref()?;
        let mut params = vec![None; self.columns.params.len()];
        for ((name, _), v) in f.space.params.iter().zip(&point.values) {
            params[self.columns.index(name)?] = Some(v.clone());
        }
        let v = &f.variants[u.variant];
        Some(Row {
            run_id: u.row,
            function: f.name.clone(),
            action: v.action.clone(),
            memory_mb: v.memory_mb,
            run: u.run,
            body_bytes: 60,
            params,
            outcome: Some(gale::backend::Outcome::Success),
            cold: Some(u.row % 50 == 0),
            wait_us: Some(61),
            init_us: None,
            duration_us: Some(4_310 + u.row % 997),
            completion_us: Some(4_735 + u.row % 991),
            response_us: Some(4_700 + u.row % 991),
            activation_id: Some(format!("{:032x}", u.row.wrapping_mul(0x9e3779b97f4a7c15))),
            ..Row::default()
        })
    }

    /// The state the engine would checkpoint now (streams at their next point; a pending
    /// point's stream at its start).
    fn state(&self, fingerprint: &str, dataset: &Appender) -> State {
        State {
            fingerprint: fingerprint.to_string(),
            seed: self.g.seed,
            total_rows: self.g.total_rows(),
            cursor: self.cursor.clone(),
            streams: self
                .g
                .functions
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    let k = match self.cursor.pending {
                        Some(p) if p.function == i => p.run,
                        _ => self.cursor.next_run[i],
                    };
                    let mut rng = rng::function_stream(self.g.seed, &f.name);
                    rng.set_word_pos(2 * u128::from(f.space.width()) * u128::from(k));
                    Stream {
                        function: f.name.clone(),
                        rng,
                    }
                })
                .collect(),
            counters: Counters {
                rows: self.cursor.next_row,
                failed: 0,
                cold: self.cursor.next_row / 50,
            },
            dataset_bytes: dataset.len(),
            samples_bytes: None,
            dataset_tail: Some(dataset.tail().clone()),
            samples_tail: None,
            finished: false,
            written_at: gale::timefmt::rfc3339(SystemTime::now()),
        }
    }
}

fn main() {
    let rows: u64 = env_or("GALE_BENCH_ROWS", 1_000_000);
    let checkpoints: usize = env_or("GALE_BENCH_CHECKPOINTS", 200);
    let base = std::env::var_os("GALE_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::tempdir_in(&base).expect("temp dir");
    let cfg_path = dir.path().join("bench.yml");
    std::fs::write(&cfg_path, CONFIG).expect("config");
    let g = config::load(&cfg_path, None).expect("config loads");
    let fingerprint = g.fingerprint();
    let columns = Columns::of(&g);
    let data_path = dir.path().join("dataset.csv");
    let ckpt_path = dir.path().join("checkpoint.json");
    let mut maker = RowMaker {
        g: &g,
        columns: columns.clone(),
        cursor: Cursor::new(&g),
        rngs: g
            .functions
            .iter()
            .map(|f| rng::function_stream(g.seed, &f.name))
            .collect(),
        points: vec![None; g.functions.len()],
    };

    // The dataset, one write per row as the engine does.
    let mut data = Appender::create(&data_path, &columns.header()).expect("dataset");
    let t = Instant::now();
    let fill = rows.saturating_sub((checkpoints * 100) as u64);
    for _ in 0..fill {
        let row = maker.next().expect("plan long enough");
        data.append(&row.to_csv()).expect("append");
    }
    data.sync().expect("sync");
    let write = t.elapsed();
    println!(
        "dataset: {fill} rows, {:.1} MB in {:.2} s ({:.0} rows/s, one write per row) in {}",
        data.len() as f64 / 1e6,
        write.as_secs_f64(),
        fill as f64 / write.as_secs_f64(),
        base.display()
    );

    // Checkpoints: 100 new rows, then fsync + atomic state write.
    let mut costs = Vec::with_capacity(checkpoints);
    for _ in 0..checkpoints {
        for _ in 0..100 {
            let row = maker.next().expect("plan long enough");
            data.append(&row.to_csv()).expect("append");
        }
        let t = Instant::now();
        data.sync().expect("sync");
        checkpoint::save(&ckpt_path, &maker.state(&fingerprint, &data)).expect("save");
        costs.push(t.elapsed());
    }
    let size = std::fs::metadata(&ckpt_path).map(|m| m.len()).unwrap_or(0);
    println!(
        "checkpoint at {} rows ({size} B file): {}",
        maker.cursor.next_row,
        percentiles(costs)
    );
    drop(data);

    // Resume: a partial row past the checkpoint, then load + verify + cut + restore.
    let mut resumes = Vec::new();
    for _ in 0..50 {
        append_partial(&data_path);
        let t = Instant::now();
        let state = load_state(&ckpt_path, &g, &fingerprint).expect("checkpoint loads");
        let dataset =
            Appender::resume(&data_path, state.dataset_bytes, state.dataset_tail.as_ref())
                .expect("cut back");
        let mut samplers: Vec<_> = state.streams.iter().map(|s| s.rng.clone()).collect();
        if let Some(p) = state.cursor.pending {
            let _ = g.functions[p.function]
                .space
                .draw(&mut samplers[p.function]);
        }
        resumes.push(t.elapsed());
        assert_eq!(dataset.len(), state.dataset_bytes);
    }
    println!(
        "resume (load + verify + truncate + restore streams): {}",
        percentiles(resumes)
    );
}

fn append_partial(path: &Path) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open");
    f.write_all(b"999999999,burn,burn-m128,128,12")
        .expect("partial row");
}
