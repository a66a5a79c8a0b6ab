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
