//! Helpers shared by the `gale generate` tests: reading a dataset, its parameter columns,
//! and the whole-rows check.
#![allow(dead_code)]

use std::path::Path;

/// A dataset read back: header and records.
pub struct Dataset {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Dataset {
    /// Read `dir/dataset.csv`, asserting it is made of whole rows: it ends with a newline
    /// and every record has as many fields as the header.
    pub fn read(dir: &Path) -> Dataset {
        let path = dir.join("dataset.csv");
        let bytes = std::fs::read(&path).expect("dataset.csv");
        assert!(
            bytes.ends_with(b"\n"),
            "{} ends in the middle of a row",
            path.display()
        );
        let mut r = csv::ReaderBuilder::new()
            .flexible(false)
            .from_reader(&bytes[..]);
        let header: Vec<String> = r
            .headers()
            .expect("header")
            .iter()
            .map(String::from)
            .collect();
        let rows = r
            .records()
            .map(|rec| {
                let rec = rec.unwrap_or_else(|e| panic!("{}: a broken row: {e}", path.display()));
                rec.iter().map(String::from).collect()
            })
            .collect();
        Dataset { header, rows }
    }

    /// Index of a column.
    pub fn col(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name} in {:?}", self.header))
    }

    /// The columns that identify a run and its inputs: everything before `outcome`
    /// (run id, function, action, memory, run index, input class and size, body size, and
    /// every `p.` parameter).
    pub fn inputs(&self) -> Vec<Vec<String>> {
        let end = self.col("outcome");
        self.rows.iter().map(|r| r[..end].to_vec()).collect()
    }

    /// The values of one column.
    pub fn column(&self, name: &str) -> Vec<&str> {
        let i = self.col(name);
        self.rows.iter().map(|r| r[i].as_str()).collect()
    }
}

/// The checkpoint's `state` object.
pub fn checkpoint_state(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("checkpoint.json")).expect("checkpoint.json");
    let v: serde_json::Value = serde_json::from_str(&text).expect("checkpoint JSON");
    v["state"].clone()
}

/// `samples.csv` of `dir`, checked against its dataset: whole lines with the documented
/// columns; each measured run's samples in one block keyed by its run_id, blocks in run_id
/// order (none repeated after a resume, none left from a run that was cut), time strictly
/// increasing within a block, and exactly `monitor_samples` of them inside the activation's
/// window (0 ≤ rel_us ≤ duration). Returns the number of sample lines.
pub fn check_samples(dir: &Path) -> usize {
    let path = dir.join("samples.csv");
    let bytes = std::fs::read(&path).expect("samples.csv");
    assert!(bytes.ends_with(b"\n"), "samples.csv ends mid-line");
    let mut r = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(&bytes[..]);
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        [
            "run_id",
            "t_us",
            "rel_us",
            "cpu_ns",
            "mem_bytes",
            "peak_bytes",
            "missed"
        ]
    );
    // run_id → (t_us, rel_us) in file order.
    let mut blocks: Vec<(u64, Vec<(u64, i64)>)> = Vec::new();
    let mut lines = 0;
    for rec in r.records() {
        let rec = rec.unwrap_or_else(|e| panic!("samples.csv: a broken line: {e}"));
        let run: u64 = rec[0].parse().unwrap();
        let t: u64 = rec[1].parse().unwrap();
        let rel: i64 = rec[2].parse().unwrap();
        assert!(
            rec[3].parse::<u64>().is_ok() && rec[4].parse::<u64>().is_ok(),
            "{rec:?}"
        );
        lines += 1;
        match blocks.last_mut() {
            Some((id, samples)) if *id == run => samples.push((t, rel)),
            last => {
                if let Some((id, _)) = last {
                    assert!(
                        run > *id,
                        "run {run} after run {id}: a block repeated or out of order"
                    );
                }
                blocks.push((run, vec![(t, rel)]));
            }
        }
    }
    let d = Dataset::read(dir);
    let (id, cpu, n, duration) = (
        d.col("run_id"),
        d.col("cpu_ms"),
        d.col("monitor_samples"),
        d.col("duration_ms"),
    );
    let mut by_id = blocks.iter().peekable();
    for row in &d.rows {
        let run: u64 = row[id].parse().unwrap();
        let block = by_id.next_if(|(b, _)| *b == run);
        if row[cpu].is_empty() {
            assert!(block.is_none(), "run {run} has samples but no measurement");
            continue;
        }
        let (_, samples) = block.unwrap_or_else(|| panic!("measured run {run} has no samples"));
        assert!(
            samples.windows(2).all(|w| w[0].0 < w[1].0),
            "run {run}: sample times not strictly increasing (a duplicate?)"
        );
        let dur_us: f64 = row[duration].parse::<f64>().unwrap() * 1000.0;
        let dur_us = dur_us.round() as i64;
        let inside = samples
            .iter()
            .filter(|(_, rel)| (0..=dur_us).contains(rel))
            .count();
        assert_eq!(
            inside.to_string(),
            row[n],
            "run {run}: samples inside the window vs monitor_samples"
        );
    }
    assert!(
        by_id.next().is_none(),
        "samples of a run that is not in the dataset"
    );
    lines
}
