//! Recognising the result directories of one sharded run (`gale inject --shard K/N`): each
//! names its shard in run.yaml; directories that are shards of one split are merged into one
//! run by `gale report` without `--merge`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The part of run.yaml that says which shard a run is.
#[derive(Debug, Deserialize)]
struct RunHead {
    #[serde(default)]
    shard: Option<ShardHead>,
}

/// run.yaml's `shard:` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct ShardHead {
    /// This shard, from 0.
    pub index: u32,
    /// Shards in the split.
    pub count: u32,
}

/// The shard `input` (a result directory or a file in one) says it is, if any.
pub fn shard_of(input: &Path) -> Option<ShardHead> {
    let dir = if input.is_file() {
        input.parent()?
    } else {
        input
    };
    let text = std::fs::read_to_string(dir.join(super::output::RUN_FILE)).ok()?;
    let head: RunHead = serde_saphyr::from_str(&text).ok()?;
    head.shard
}

/// Whether `inputs` are distinct shards of one split (at least two): then they are one run.
pub fn one_sharded_run(inputs: &[PathBuf]) -> bool {
    if inputs.len() < 2 {
        return false;
    }
    let mut count = None;
    let mut seen = BTreeSet::new();
    for input in inputs {
        let Some(s) = shard_of(input) else {
            return false;
        };
        if *count.get_or_insert(s.count) != s.count || !seen.insert(s.index) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_dir(root: &Path, name: &str, shard: Option<(u32, u32)>) -> PathBuf {
        let d = root.join(name);
        std::fs::create_dir_all(&d).unwrap();
        let mut text = "gale_version: 0.1.0\nkind: inject\nlimits:\n  connections: 1\n".to_string();
        if let Some((i, n)) = shard {
            text.push_str(&format!(
                "shard:\n  index: {i}\n  count: {n}\n  by: function\n  start_at: null\n"
            ));
        }
        std::fs::write(d.join("run.yaml"), text).unwrap();
        d
    }

    #[test]
    fn shards_of_one_split_are_one_run() {
        let t = tempfile::tempdir().unwrap();
        let a = run_dir(t.path(), "a", Some((0, 3)));
        let b = run_dir(t.path(), "b", Some((2, 3)));
        let c = run_dir(t.path(), "c", Some((2, 3)));
        let d = run_dir(t.path(), "d", Some((1, 2)));
        let whole = run_dir(t.path(), "w", None);
        assert_eq!(shard_of(&a), Some(ShardHead { index: 0, count: 3 }));
        assert!(one_sharded_run(&[a.clone(), b.clone()]));
        assert!(!one_sharded_run(&[b.clone(), c]));
        assert!(!one_sharded_run(&[a.clone(), d]));
        assert!(!one_sharded_run(&[a.clone(), whole]));
        assert!(!one_sharded_run(&[a]));
    }
}
