//! CSV parse rate (not a test; run it in release):
//! `cargo test --release --test trace_bench -- --ignored --nocapture`

use std::io::Write;

#[test]
#[ignore = "benchmark: run with --release --ignored"]
fn csv_parse_rate() {
    let n: u64 = std::env::var("ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.csv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(f, "at,function,user,param.cpu_ms,blocking").unwrap();
    for i in 0..n {
        writeln!(
            f,
            "{}.{:03},fn{},user{},{},",
            i / 1000,
            i % 1000,
            i % 7,
            i % 3,
            i % 50
        )
        .unwrap();
    }
    drop(f);
    let bytes = std::fs::metadata(&path).unwrap().len();
    for label in ["with param.* column", "params as one JSON column"] {
        let p = if label.starts_with("with") {
            path.clone()
        } else {
            let q = dir.path().join("json.csv");
            let mut f = std::io::BufWriter::new(std::fs::File::create(&q).unwrap());
            writeln!(f, "at,function,user,params").unwrap();
            for i in 0..n {
                writeln!(
                    f,
                    "{}.{:03},fn{},user{},\"{{\"\"cpu_ms\"\":{}}}\"",
                    i / 1000,
                    i % 1000,
                    i % 7,
                    i % 3,
                    i % 50
                )
                .unwrap();
            }
            q
        };
        let t0 = std::time::Instant::now();
        let t = gale::trace::open(&p, &Default::default()).unwrap();
        let mut count = 0u64;
        for r in t.rows {
            std::hint::black_box(r.unwrap());
            count += 1;
        }
        let secs = t0.elapsed().as_secs_f64();
        assert_eq!(count, n);
        println!(
            "{label}: {count} rows ({:.0} MB) in {secs:.2} s: {:.2} M rows/s",
            bytes as f64 / 1e6,
            count as f64 / secs / 1e6
        );
    }
}
