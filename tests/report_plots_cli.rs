//! End-of-run plots of the real commands on the embedded platform: `gale inject` and
//! `gale generate` draw their default figures into `<out>/plots/`, and `--no-plots` skips them.

mod inject_support;

use std::path::Path;

use inject_support::{inject, Sandbox};

/// The PNG decodes to a non-trivial image.
fn assert_png(path: &Path) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let px = &buf[..info.buffer_size()];
    let distinct: std::collections::HashSet<&[u8]> = px.chunks(3).collect();
    assert!(
        distinct.len() > 20,
        "{}: {} colours",
        path.display(),
        distinct.len()
    );
}

#[test]
fn inject_draws_its_plots_unless_told_not_to() {
    let sb = Sandbox::new();
    let mut trace = String::from("at,function\n");
    for i in 0..40 {
        trace += &format!("{},{}\n", i as f64 * 0.05, ["f", "g"][i % 2]);
    }
    let trace = sb.write("t.csv", &trace);
    let (out, dir) = inject(&sb, &trace, "with", &[]);
    out.expect_code(0);
    assert!(out.stdout.contains("plots: "), "{}", out.stdout);
    for stem in [
        "latency-box",
        "latency-mean",
        "latency-cdf",
        "timeline",
        "nodes",
    ] {
        assert!(
            dir.join("plots").join(format!("{stem}.svg")).is_file(),
            "{stem}.svg"
        );
        assert_png(&dir.join("plots").join(format!("{stem}.png")));
    }

    let (out, dir) = inject(&sb, &trace, "without", &["--no-plots"]);
    out.expect_code(0);
    assert!(dir.join("invocations.csv").is_file());
    assert!(!dir.join("plots").exists(), "--no-plots drew plots");
    assert!(!out.stdout.contains("plots: "), "{}", out.stdout);
}

#[test]
fn generate_draws_dataset_plots() {
    let sb = Sandbox::new();
    let cfg = sb.write(
        "g.yml",
        "seed: 3\nfunctions:\n  - {name: f, runs: 12, space: {cpu_ms: {uniform: [0.1, 3]}}}\n",
    );
    let dir = sb.join("gen");
    let out = sb.run([
        "generate".as_ref(),
        cfg.as_os_str(),
        "--out".as_ref(),
        dir.as_os_str(),
        "--no-progress".as_ref(),
    ]);
    out.expect_code(0);
    assert!(out.stdout.contains("plots: "), "{}", out.stdout);
    assert_png(&dir.join("plots/latency-box.png"));
    assert_png(&dir.join("plots/dataset-p.cpu_ms.png"));
}
