//! Checkpoints: the generator's whole state in one JSON file, replaced atomically.
//!
//! The file is `{"format":"gale-generate-checkpoint","version":1,"sha256":…,"state":{…}}`:
//! the checksum covers the exact bytes of `state`, so a damaged file is refused rather than
//! half-trusted, and the state names the config it belongs to by fingerprint.

use std::path::Path;

use rand_chacha::ChaCha12Rng;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::plan::Cursor;
use super::rng::sha256_hex;
use crate::config::ConfigError;

/// The `format` field.
pub const FORMAT: &str = "gale-generate-checkpoint";
/// The `version` field this build writes and reads.
pub const VERSION: u32 = 1;

/// One function's stream: where its next undrawn (or unfinished) point starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stream {
    /// Function name.
    pub function: String,
    /// ChaCha12 state: `{seed, stream, word_pos}`.
    pub rng: ChaCha12Rng,
}

/// Running totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Rows written.
    pub rows: u64,
    /// Rows whose outcome is not `success`.
    pub failed: u64,
    /// Rows that were cold starts.
    pub cold: u64,
}

/// Everything needed to continue a run exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// The config's fingerprint (seed included).
    pub fingerprint: String,
    /// The seed, for messages.
    pub seed: u64,
    /// Rows of the whole run.
    pub total_rows: u64,
    /// The plan's position.
    pub cursor: Cursor,
    /// One stream per function, in config order.
    pub streams: Vec<Stream>,
    /// Totals so far.
    pub counters: Counters,
    /// Length of `dataset.csv` covering exactly the rows counted.
    pub dataset_bytes: u64,
    /// Length of `samples.csv`, when raw samples are written.
    pub samples_bytes: Option<u64>,
    /// The last write to `dataset.csv` before `dataset_bytes`, checked on resume.
    #[serde(default)]
    pub dataset_tail: Option<super::dataset::Tail>,
    /// The last write to `samples.csv` before `samples_bytes`.
    #[serde(default)]
    pub samples_tail: Option<super::dataset::Tail>,
    /// The plan is complete.
    pub finished: bool,
    /// When it was written (RFC 3339).
    pub written_at: String,
}

#[derive(Serialize)]
struct FileOut<'a> {
    format: &'static str,
    version: u32,
    sha256: String,
    state: &'a RawValue,
}

#[derive(Deserialize)]
struct FileIn<'a> {
    format: String,
    version: u32,
    sha256: String,
    #[serde(borrow)]
    state: &'a RawValue,
}

/// The file's bytes for `state`.
pub fn encode(state: &State) -> Vec<u8> {
    let text = serde_json::to_string(state).unwrap_or_default();
    let raw = RawValue::from_string(text).unwrap_or_else(|_| {
        // A serialized struct is always valid JSON; keep the type checker honest anyway.
        RawValue::from_string("null".into()).expect("null is JSON")
    });
    let out = FileOut {
        format: FORMAT,
        version: VERSION,
        sha256: sha256_hex(&[raw.get().as_bytes()]),
        state: &raw,
    };
    let mut bytes = serde_json::to_vec(&out).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// Replace the checkpoint at `path` atomically.
pub fn save(path: &Path, state: &State) -> std::io::Result<()> {
    crate::atomic::write_atomic(path, &encode(state))
}

fn refuse(path: &Path, message: String) -> ConfigError {
    ConfigError {
        file: Some(path.to_path_buf()),
        line: None,
        message,
    }
}

/// Read and check a checkpoint: its format, its checksum, and that it belongs to the config
/// whose fingerprint is `fingerprint`.
pub fn load(path: &Path, fingerprint: &str) -> Result<State, ConfigError> {
    let bytes = std::fs::read(path)
        .map_err(|e| refuse(path, format!("cannot read the checkpoint: {e}")))?;
    parse(path, &bytes, fingerprint)
}

/// [`load`] of bytes already read; `path` names them in errors.
pub fn parse(path: &Path, bytes: &[u8], fingerprint: &str) -> Result<State, ConfigError> {
    let corrupt = |why: String| {
        refuse(
            path,
            format!(
                "corrupt checkpoint ({why}); it cannot be resumed. Remove the output directory \
                 to start over, or restore the checkpoint"
            ),
        )
    };
    let file: FileIn = serde_json::from_slice(bytes).map_err(|e| {
        // A foreign JSON document parses but lacks the fields; anything else is damage.
        match serde_json::from_slice::<serde_json::Value>(bytes) {
            Ok(v) if v.get("format").is_none() => refuse(
                path,
                "not a gale generate checkpoint (no `format` field)".to_string(),
            ),
            _ => corrupt(e.to_string()),
        }
    })?;
    if file.format != FORMAT {
        return Err(refuse(
            path,
            format!(
                "not a gale generate checkpoint (format `{}`, expected `{FORMAT}`)",
                file.format
            ),
        ));
    }
    if file.version != VERSION {
        return Err(refuse(
            path,
            format!(
                "checkpoint format version {}; this gale reads version {VERSION}",
                file.version
            ),
        ));
    }
    if sha256_hex(&[file.state.get().as_bytes()]) != file.sha256 {
        return Err(corrupt("its checksum does not match its content".into()));
    }
    let state: State =
        serde_json::from_str(file.state.get()).map_err(|e| corrupt(e.to_string()))?;
    if state.fingerprint != fingerprint {
        return Err(refuse(
            path,
            format!(
                "the checkpoint belongs to another config (fingerprint {}…, seed {}; this config \
                 and seed give {}…). Resume with the config and --seed it was written for, or \
                 give another --out",
                state.fingerprint.get(..12).unwrap_or(&state.fingerprint),
                state.seed,
                fingerprint.get(..12).unwrap_or(fingerprint)
            ),
        ));
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    fn state() -> State {
        let mut rng = super::super::rng::function_stream(1, "f");
        rng.next_u64();
        State {
            fingerprint: "ab".repeat(32),
            seed: 1,
            total_rows: 10,
            cursor: Cursor {
                next_row: 3,
                next_run: vec![3],
                turn: 0,
                plan_rng: super::super::rng::plan_stream(1),
                pending: None,
            },
            streams: vec![Stream {
                function: "f".into(),
                rng,
            }],
            counters: Counters {
                rows: 3,
                failed: 0,
                cold: 1,
            },
            dataset_bytes: 120,
            samples_bytes: None,
            dataset_tail: None,
            samples_tail: None,
            finished: false,
            written_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn round_trips_and_refuses_damage_and_strangers() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("checkpoint.json");
        let s = state();
        save(&p, &s).unwrap();
        let back = load(&p, &s.fingerprint).unwrap();
        assert_eq!(back, s);
        let mut a = back.streams[0].rng.clone();
        let mut b = s.streams[0].rng.clone();
        assert_eq!(
            a.next_u64(),
            b.next_u64(),
            "the stream continues where it was"
        );

        let e = load(&p, &"cd".repeat(32)).unwrap_err().to_string();
        assert!(e.contains("another config"), "{e}");

        let good = std::fs::read_to_string(&p).unwrap();
        std::fs::write(
            &p,
            good.replace("\"dataset_bytes\":120", "\"dataset_bytes\":121"),
        )
        .unwrap();
        let e = load(&p, &s.fingerprint).unwrap_err().to_string();
        assert!(
            e.contains("corrupt checkpoint") && e.contains("checksum"),
            "{e}"
        );

        std::fs::write(&p, &good[..good.len() / 2]).unwrap();
        let e = load(&p, &s.fingerprint).unwrap_err().to_string();
        assert!(e.contains("corrupt checkpoint"), "{e}");

        std::fs::write(&p, r#"{"hello": "world"}"#).unwrap();
        let e = load(&p, &s.fingerprint).unwrap_err().to_string();
        assert!(e.contains("not a gale generate checkpoint"), "{e}");

        std::fs::write(&p, good.replace(FORMAT, "something-else")).unwrap();
        let e = load(&p, &s.fingerprint).unwrap_err().to_string();
        assert!(e.contains("not a gale generate checkpoint"), "{e}");
    }
}
