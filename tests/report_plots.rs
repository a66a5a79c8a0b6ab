//! The plots module end to end: every figure is written as SVG and PNG, the PNG decodes and
//! is not blank, the SVG parses and carries text and paths; empty input is a clear error.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gale::backend::Outcome;
use gale::generate::dataset::{tail_columns, HEAD};
use gale::report::plot::{write_dirs_plots, write_run_plots, Options, PlotData, PlotError};
use gale::report::record::RecordWriter;
use gale::report::Record;

/// A small deterministic generator (splitmix64) for varied but reproducible inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A log-normal sample with median `median` and shape `sigma`.
    fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        let (u1, u2) = (self.next().max(1e-12), self.next());
        let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        median * (sigma * z).exp()
    }
}

const FUNCTIONS: [(&str, f64); 4] = [
    ("hello", 2.0),
    ("resize-image", 40.0),
    ("matmul", 120.0),
    ("db-query", 15.0),
];

/// Write `dir/invocations.csv` (through the results room's writer) for a run of `seconds` at
/// `rate`/s over four functions and three nodes; `slow` scales latencies, as a worse policy
/// would.
fn write_run(dir: &Path, seed: u64, seconds: u32, rate: u32, slow: f64) {
    std::fs::create_dir_all(dir).unwrap();
    let mut w = RecordWriter::create(&dir.join("invocations.csv")).unwrap();
    let mut rng = Rng(seed);
    let mut warm: Vec<(&str, usize)> = Vec::new();
    let user: Arc<str> = Arc::from("guest");
    for i in 0..seconds * rate {
        let scheduled_ns = i as u64 * 1_000_000_000 / rate as u64;
        let (function, median) = FUNCTIONS[(rng.next() * 4.0) as usize % 4];
        let node = (rng.next() * 3.0) as usize % 3;
        let cold = !warm.contains(&(function, node)) || rng.next() < 0.01;
        if cold {
            warm.push((function, node));
        }
        let mut completion_ms = rng.lognormal(median * slow, 0.35) + 0.3;
        if cold {
            completion_ms += 250.0;
        }
        let outcome = if rng.next() > 0.02 {
            Outcome::Success
        } else {
            Outcome::ApplicationError
        };
        let mut r = Record::unsent(
            i as u64,
            Arc::from(function),
            user.clone(),
            scheduled_ns,
            outcome,
            "",
        );
        let sent = scheduled_ns + 40_000;
        r.sent_ns = Some(sent);
        r.replied_ns = Some(sent + 200_000);
        r.start_ns = Some(sent + 100_000);
        r.end_ns = Some(scheduled_ns + (completion_ms * 1e6) as u64);
        r.status = Some(202);
        r.cold = Some(cold);
        r.duration_us = Some((completion_ms * 900.0) as u64);
        r.node = Some(Arc::from(format!("node{node}").as_str()));
        r.container = Some(format!("{function}-{node}-{}", warm.len()));
        w.write(&r).unwrap();
    }
    w.finish().unwrap();
}

/// Write `dir/dataset.csv` in the generator's column layout, with one parameter `p.quality`
/// and monitor measurements that grow with the input.
fn write_dataset(dir: &Path, rows: u32) {
    std::fs::create_dir_all(dir).unwrap();
    let mut header: Vec<&str> = HEAD.to_vec();
    header.push("p.quality");
    header.extend(tail_columns());
    let mut out = header.join(",") + "\n";
    let mut rng = Rng(7);
    for run in 0..rows {
        for (function, per_mb) in [("thumbnail", 4.0), ("compress", 11.0)] {
            let input_bytes = ((rng.next() * 9.0 + 1.0) * 1e6).round();
            let quality = (rng.next() * 100.0).round();
            let cpu =
                per_mb * input_bytes / 1e6 * (1.0 + quality / 200.0) * rng.lognormal(1.0, 0.1);
            let peak = (30e6 + 2.5 * input_bytes * rng.lognormal(1.0, 0.05)).round();
            let duration = cpu * 1.2 + 3.0;
            let mut cells: Vec<String> = vec![
                (2 * run + (per_mb as u32 % 2)).to_string(),
                function.into(),
                function.into(),
                "256".into(),
                run.to_string(),
                "large".into(),
                input_bytes.to_string(),
                "120".into(),
                quality.to_string(),
                "success".into(),
                "false".into(),
                "0.500".into(),
                String::new(),
                format!("{duration:.3}"),
                format!("{:.3}", duration + 2.0),
                format!("{:.3}", duration + 2.0),
                format!("a{run}"),
                format!("{cpu:.3}"),
                peak.to_string(),
                peak.to_string(),
                "true".into(),
                "false".into(),
                "12".into(),
                "false".into(),
                String::new(),
            ];
            assert_eq!(cells.len(), header.len());
            out += &(std::mem::take(&mut cells).join(",") + "\n");
        }
    }
    std::fs::write(dir.join("dataset.csv"), out).unwrap();
}

/// Where figures go: a temporary directory, or `GALE_PLOT_DIR` to look at them.
fn out_dir(name: &str) -> (Option<tempfile::TempDir>, PathBuf) {
    match std::env::var_os("GALE_PLOT_DIR") {
        Some(d) => {
            let p = Path::new(&d).join(name);
            std::fs::create_dir_all(&p).unwrap();
            (None, p)
        }
        None => {
            let t = tempfile::tempdir().unwrap();
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    }
}

/// Decode a PNG and return (width, height, variance of its grey levels).
fn png_variance(path: &Path) -> (u32, u32, f64) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb, "{}", path.display());
    let px = &buf[..info.buffer_size()];
    let grey: Vec<f64> = px
        .chunks(3)
        .map(|c| (c[0] as f64 + c[1] as f64 + c[2] as f64) / 3.0)
        .collect();
    let mean = grey.iter().sum::<f64>() / grey.len() as f64;
    let var = grey.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / grey.len() as f64;
    (info.width, info.height, var)
}

/// Every figure: both files exist, the PNG is a real non-blank image, the SVG parses and has
/// text (labels) and drawn shapes.
fn check_files(written: &[PathBuf], stems: &[&str]) {
    for stem in stems {
        for ext in ["svg", "png"] {
            let want = format!("{stem}.{ext}");
            assert!(
                written
                    .iter()
                    .any(|p| p.file_name().unwrap() == want.as_str()),
                "{want} not written; got {written:?}"
            );
        }
    }
    for path in written {
        assert!(path.metadata().unwrap().is_file());
        match path.extension().unwrap().to_str().unwrap() {
            "png" => {
                let (w, h, var) = png_variance(path);
                assert!(w >= 800 && h >= 400, "{}: {w}x{h}", path.display());
                // A white image with a few axis lines has variance well under 100; a drawn
                // figure with filled areas and text is far above.
                assert!(
                    var > 150.0,
                    "{} looks blank: variance {var}",
                    path.display()
                );
            }
            "svg" => {
                let text = std::fs::read_to_string(path).unwrap();
                let doc = roxmltree::Document::parse(&text)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let count = |tag: &str| {
                    doc.descendants()
                        .filter(|n| n.tag_name().name() == tag)
                        .count()
                };
                let texts: Vec<String> = doc
                    .descendants()
                    .filter(|n| n.tag_name().name() == "text")
                    .filter_map(|n| n.text().map(str::to_string))
                    .collect();
                assert!(
                    texts.len() >= 5,
                    "{}: {} text nodes",
                    path.display(),
                    texts.len()
                );
                assert!(
                    count("polyline") + count("path") + count("rect") + count("circle") >= 10,
                    "{}: too few shapes",
                    path.display()
                );
                // Axis descriptions name their units (the node figure's axes are counts).
                let counts_only = path.file_stem().unwrap() == "nodes";
                assert!(
                    counts_only
                        || texts.iter().any(|t| t.contains("(ms")
                            || t.contains("per second")
                            || t.contains("(MiB)")),
                    "{}: no axis with a unit among {texts:?}",
                    path.display()
                );
            }
            other => panic!("unexpected file {other}"),
        }
    }
}

#[test]
fn one_run_writes_every_invocation_figure_into_its_plots_dir() {
    let (_keep, dir) = out_dir("one-run");
    write_run(&dir, 1, 60, 40, 1.0);
    let written = write_run_plots(&dir, &Options::default()).unwrap();
    check_files(
        &written.files,
        &[
            "latency-box",
            "latency-mean",
            "latency-cdf",
            "timeline",
            "nodes",
        ],
    );
    assert!(written.skipped.is_empty(), "{:?}", written.skipped);
    assert_eq!(written.files.len(), 10);
    assert!(written
        .files
        .iter()
        .all(|p| p.parent() == Some(dir.join("plots").as_path())));
}

#[test]
fn several_runs_give_one_series_per_run_and_a_timeline_each() {
    let (_keep, dir) = out_dir("three-runs");
    let runs = ["round-robin", "least-used", "random"];
    for (i, run) in runs.iter().enumerate() {
        write_run(
            &dir.join("runs").join(run),
            i as u64 + 1,
            30,
            30,
            [1.0, 0.7, 1.6][i],
        );
    }
    let dirs: Vec<PathBuf> = runs.iter().map(|r| dir.join("runs").join(r)).collect();
    let out = dir.join("report");
    let written = write_dirs_plots(&dirs, &out, &Options::default()).unwrap();
    check_files(
        &written.files,
        &[
            "latency-box",
            "latency-mean",
            "latency-cdf",
            "timeline-round-robin",
            "timeline-least-used",
            "timeline-random",
            "nodes",
        ],
    );
    // One legend entry per run.
    let svg = std::fs::read_to_string(out.join("latency-cdf.svg")).unwrap();
    for run in runs {
        assert!(svg.contains(run), "no {run} in the CDF legend");
    }
}

#[test]
fn run_labels_cannot_escape_the_output_directory() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = PlotData::new();
    for (i, label) in ["../../escape", "a/b", ""].iter().enumerate() {
        let run = dir.path().join(format!("r{i}"));
        write_run(&run, i as u64, 3, 10, 1.0);
        data.begin_run(label);
        data.add_file(&run.join("invocations.csv")).unwrap();
    }
    let out = dir.path().join("out");
    let written = data.write_all(&out, &Options::default()).unwrap();
    assert!(written
        .files
        .iter()
        .all(|p| p.parent() == Some(out.as_path())));
    for stem in ["timeline-_.._escape", "timeline-a_b", "timeline-run"] {
        assert!(out.join(format!("{stem}.png")).is_file(), "{stem}");
    }
}

#[test]
fn dataset_rows_give_scatter_and_latency_figures() {
    let (_keep, dir) = out_dir("dataset");
    write_dataset(&dir, 300);
    let written = write_run_plots(&dir, &Options::default()).unwrap();
    check_files(
        &written.files,
        &[
            "dataset-input_bytes",
            "dataset-p.quality",
            "latency-box",
            "latency-mean",
            "latency-cdf",
        ],
    );
    // Constant columns (memory_mb, body_bytes) would draw vertical stripes: left out.
    assert!(!dir.join("plots/dataset-memory_mb.png").exists());
    assert!(
        !dir.join("plots/timeline.png").exists(),
        "a dataset has no schedule"
    );
    let one = Options {
        dataset_x: Some("quality".to_string()),
        ..Options::default()
    };
    // As `gale report` feeds it: records from its own reader.
    let mut data = PlotData::new();
    let mut reader = gale::report::RecordReader::open(&dir.join("dataset.csv")).unwrap();
    while let Some(rec) = reader.next_record() {
        data.add_read(&rec.unwrap(), &reader);
    }
    let out = tempfile::tempdir().unwrap();
    let written = data.write_all(out.path(), &one).unwrap();
    let scatter: Vec<_> = written
        .files
        .iter()
        .filter(|p| p.to_string_lossy().contains("dataset-"))
        .collect();
    assert_eq!(scatter.len(), 2, "{scatter:?}");
    let missing = Options {
        dataset_x: Some("size".to_string()),
        ..Options::default()
    };
    let written = data.write_all(out.path(), &missing).unwrap();
    let note = written.skipped.join("\n");
    assert!(note.contains("\"size\""), "{note}");
    assert!(
        note.contains("memory_mb, input_bytes, body_bytes, p.quality"),
        "{note}"
    );
}

#[test]
fn empty_input_is_a_clear_error_not_a_blank_image() {
    let dir = tempfile::tempdir().unwrap();
    let err = write_run_plots(dir.path(), &Options::default()).unwrap_err();
    assert!(matches!(err, PlotError::NoResults(_)), "{err}");
    assert!(
        err.to_string()
            .contains("no invocations.csv or dataset.csv"),
        "{err}"
    );

    // A run that wrote its header and no record.
    RecordWriter::create(&dir.path().join("invocations.csv"))
        .unwrap()
        .finish()
        .unwrap();
    let err = write_run_plots(dir.path(), &Options::default()).unwrap_err();
    assert!(matches!(err, PlotError::NoData(_)));
    assert!(err.to_string().contains("no invocation records"), "{err}");
    assert!(
        !dir.path().join("plots").exists(),
        "no empty plots directory"
    );

    // Records but no success and no node: the latency and node figures say why they are
    // missing; the timeline still shows what was sent and failed.
    let mut w = RecordWriter::create(&dir.path().join("invocations.csv")).unwrap();
    for i in 0..50u64 {
        let mut r = Record::unsent(
            i,
            Arc::from("f"),
            Arc::from("u"),
            i * 100_000_000,
            Outcome::Timeout,
            "no reply",
        );
        r.sent_ns = Some(i * 100_000_000);
        w.write(&r).unwrap();
    }
    w.finish().unwrap();
    let written = write_run_plots(dir.path(), &Options::default()).unwrap();
    let names: Vec<_> = written
        .files
        .iter()
        .map(|p| p.file_name().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["timeline.svg", "timeline.png"]);
    let skipped = written.skipped.join("\n");
    assert!(
        skipped.contains("latency-box: no successful invocation"),
        "{skipped}"
    );
    assert!(skipped.contains("nodes: no node names"), "{skipped}");
}

#[test]
fn a_broken_results_file_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = RecordWriter::create(&dir.path().join("invocations.csv")).unwrap();
    let r = Record::unsent(0, Arc::from("f"), Arc::from("u"), 0, Outcome::Success, "");
    w.write(&r).unwrap();
    w.finish().unwrap();
    let path = dir.path().join("invocations.csv");
    let mut text = std::fs::read_to_string(&path).unwrap();
    let mut cells: Vec<String> = text
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .map(String::from)
        .collect();
    cells[4] = "soon".into(); // scheduled_us
    text += &(cells.join(",") + "\n");
    std::fs::write(&path, text).unwrap();
    let err = write_run_plots(dir.path(), &Options::default()).unwrap_err();
    assert!(matches!(err, PlotError::Read(_)), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("invocations.csv:3") && msg.contains("scheduled_us"),
        "{msg}"
    );
}
