//! The plots module end to end: every figure is written as SVG and PNG, the PNG decodes and
//! is not blank, the SVG parses and carries text and paths; empty input is a clear error.

use std::path::{Path, PathBuf};

use gale::report::plot::{DatasetRow, Invocation, Options, PlotData, PlotError};

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

/// One run of `seconds` at `rate`/s over four functions and three nodes; `slow` scales
/// latencies, as a worse policy would.
fn add_run(data: &mut PlotData, label: &str, seed: u64, seconds: u32, rate: u32, slow: f64) {
    data.begin_run(label);
    let mut rng = Rng(seed);
    let mut warm: Vec<(String, usize)> = Vec::new();
    for i in 0..seconds * rate {
        let scheduled = i as f64 * 1e6 / rate as f64;
        let (function, median) = FUNCTIONS[(rng.next() * 4.0) as usize % 4];
        let node = (rng.next() * 3.0) as usize % 3;
        let key = (function.to_string(), node);
        let cold = !warm.contains(&key) || rng.next() < 0.01;
        if cold {
            warm.push(key);
        }
        let mut completion_ms = rng.lognormal(median * slow, 0.35) + 0.3;
        if cold {
            completion_ms += 250.0;
        }
        let success = rng.next() > 0.02;
        let node_name = format!("node{node}");
        let container = format!("{function}-{node}-{}", warm.len());
        let sent = scheduled + 40.0;
        data.add(&Invocation {
            function,
            scheduled_us: scheduled,
            sent_us: Some(sent),
            end_us: Some(scheduled + completion_ms * 1000.0),
            completion_us: Some(completion_ms * 1000.0),
            success,
            cold: Some(cold),
            node: Some(&node_name),
            container: Some(&container),
        });
    }
}

fn add_dataset(data: &mut PlotData, rows: u32) {
    let mut rng = Rng(7);
    for _ in 0..rows {
        for (function, per_mb) in [("thumbnail", 4.0), ("compress", 11.0)] {
            let input_bytes = (rng.next() * 9.0 + 1.0) * 1e6;
            let quality = (rng.next() * 100.0).round();
            let params = [("input_bytes", input_bytes), ("p.quality", quality)];
            let cpu =
                per_mb * input_bytes / 1e6 * (1.0 + quality / 200.0) * rng.lognormal(1.0, 0.1);
            data.add_dataset_row(&DatasetRow {
                function,
                params: &params,
                success: true,
                cpu_ms: Some(cpu),
                mem_peak_bytes: Some(30e6 + 2.5 * input_bytes * rng.lognormal(1.0, 0.05)),
                duration_ms: Some(cpu * 1.2 + 3.0),
            });
        }
    }
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
fn one_run_writes_every_invocation_figure() {
    let mut data = PlotData::new();
    add_run(&mut data, "demo", 1, 60, 40, 1.0);
    let (_keep, dir) = out_dir("one-run");
    let written = data.write_all(&dir, &Options::default()).unwrap();
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
}

#[test]
fn several_runs_give_one_series_per_run_and_a_timeline_each() {
    let mut data = PlotData::new();
    add_run(&mut data, "round-robin", 1, 30, 30, 1.0);
    add_run(&mut data, "least-used", 2, 30, 30, 0.7);
    add_run(&mut data, "../escape", 3, 30, 30, 1.6);
    let (_keep, dir) = out_dir("three-runs");
    let written = data.write_all(&dir, &Options::default()).unwrap();
    check_files(
        &written.files,
        &[
            "latency-box",
            "latency-mean",
            "latency-cdf",
            "timeline-round-robin",
            "timeline-least-used",
            "timeline-_escape",
            "nodes",
        ],
    );
    // A label with a path separator stays inside the directory.
    assert!(written
        .files
        .iter()
        .all(|p| p.parent() == Some(dir.as_path())));
    // One legend entry per run in the CDF.
    let svg = std::fs::read_to_string(dir.join("latency-cdf.svg")).unwrap();
    for run in ["round-robin", "least-used", "../escape"] {
        assert!(svg.contains(run), "no {run} in the CDF legend");
    }
}

#[test]
fn dataset_rows_give_scatter_figures() {
    let mut data = PlotData::new();
    add_dataset(&mut data, 300);
    let (_keep, dir) = out_dir("dataset");
    let written = data.write_all(&dir, &Options::default()).unwrap();
    check_files(
        &written.files,
        &["dataset-input_bytes", "dataset-p.quality"],
    );
    let one = Options {
        dataset_x: Some("quality".to_string()),
        ..Options::default()
    };
    let (_keep2, dir2) = out_dir("dataset-one");
    let written = data.write_all(&dir2, &one).unwrap();
    assert_eq!(written.files.len(), 2, "{:?}", written.files);
    let missing = Options {
        dataset_x: Some("size".to_string()),
        ..Options::default()
    };
    let written = data.write_all(&dir2, &missing).unwrap();
    assert!(
        written.skipped[0].contains("\"size\""),
        "{:?}",
        written.skipped
    );
    assert!(written.skipped[0].contains("input_bytes, p.quality"));
}

#[test]
fn empty_input_is_a_clear_error_not_a_blank_image() {
    let dir = tempfile::tempdir().unwrap();
    let err = PlotData::new()
        .write_all(dir.path(), &Options::default())
        .unwrap_err();
    assert!(matches!(err, PlotError::NoData(_)));
    assert!(err.to_string().contains("no invocation records"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

    // Records but no success and no node: the latency and node figures say why they are
    // missing; the timeline still shows what was sent and failed.
    let mut data = PlotData::new();
    for i in 0..50 {
        data.add(&Invocation {
            function: "f",
            scheduled_us: i as f64 * 1e5,
            sent_us: Some(i as f64 * 1e5),
            end_us: None,
            completion_us: None,
            success: false,
            cold: None,
            node: None,
            container: None,
        });
    }
    let written = data.write_all(dir.path(), &Options::default()).unwrap();
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
