//! The parts of an OpenWhisk activation record that results carry.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

/// An activation record, reduced to what the injector records.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Activation {
    /// 32 hex characters.
    pub id: String,
    /// 0 success, 1 application error, 2 developer error, 3 internal error.
    pub status_code: u8,
    /// Start, epoch ms (on a cold start, the start of initialisation).
    pub start_ms: u64,
    /// End, epoch ms.
    pub end_ms: u64,
    /// `duration` (includes init on a cold start).
    pub duration_ms: u64,
    /// `waitTime` annotation: receipt to start (container creation on a cold start).
    pub wait_ms: Option<u64>,
    /// `initTime` annotation: present only on a cold start.
    pub init_ms: Option<u64>,
    /// The `timeout` annotation.
    pub timed_out: bool,
    /// `response.result.error` as text, when the activation failed.
    pub error: Option<String>,
    /// `gale.startUs`: start in µs since the epoch (gale's platform only).
    pub start_us: Option<u64>,
    /// `gale.waitTimeUs`: `waitTime` in µs.
    pub wait_us: Option<u64>,
    /// `gale.initTimeUs`: `initTime` in µs (cold starts).
    pub init_us: Option<u64>,
    /// `gale.durationUs`: `duration` in µs.
    pub duration_us: Option<u64>,
    /// `gale.container`: the container that ran the activation, as the platform names it.
    pub container: Option<String>,
}

impl Activation {
    /// OpenWhisk marks a cold start by the presence of `initTime`.
    pub fn cold(&self) -> bool {
        self.init_ms.is_some()
    }

    /// Start and end, epoch µs: from gale's µs annotations when present, else from the
    /// record's ms `start`/`end`.
    pub fn window_us(&self) -> (u64, u64) {
        let start = self.start_us.unwrap_or(self.start_ms * 1000);
        let end = match self.duration_us {
            Some(d) => start + d,
            None => (self.end_ms * 1000).max(start),
        };
        (start, end)
    }
}

// Borrowed views of the wire format: an activation is parsed per invocation, so strings
// and unneeded values stay in the input buffer instead of being copied.
#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(rename = "activationId", borrow)]
    activation_id: Cow<'a, str>,
    #[serde(default)]
    start: u64,
    #[serde(default)]
    end: u64,
    #[serde(default)]
    duration: Option<u64>,
    #[serde(default, borrow)]
    response: Option<WireResponse<'a>>,
    /// List summaries carry the code at top level.
    #[serde(default, rename = "statusCode")]
    status_code: Option<u8>,
    #[serde(default, borrow)]
    annotations: Vec<WireAnnotation<'a>>,
}

#[derive(Deserialize)]
struct WireResponse<'a> {
    #[serde(default, borrow)]
    status: Option<Cow<'a, str>>,
    #[serde(default, rename = "statusCode")]
    status_code: Option<u8>,
    #[serde(default, borrow)]
    result: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct WireAnnotation<'a> {
    #[serde(borrow)]
    key: Cow<'a, str>,
    #[serde(borrow)]
    value: &'a RawValue,
}

fn status_code_of(status: &str) -> u8 {
    match status {
        "success" => 0,
        "application error" => 1,
        "action developer error" => 2,
        _ => 3,
    }
}

impl Activation {
    /// Parse an extended activation record (blocking invoke, GET activation).
    /// Returns `None` when the body is not an activation.
    pub fn from_json(body: &[u8]) -> Option<Activation> {
        // One UTF-8 check of the whole body (vectorised) instead of one per string, as
        // parsing from bytes does: a third of the parse on a typical record.
        let wire: Wire = serde_json::from_str(std::str::from_utf8(body).ok()?).ok()?;
        // `{"activationId": …}` alone is a 202's receipt, not a record.
        if wire.response.is_none() && wire.status_code.is_none() {
            return None;
        }
        let mut a = Activation {
            id: wire.activation_id.into_owned(),
            start_ms: wire.start,
            end_ms: wire.end,
            duration_ms: wire.duration.unwrap_or(wire.end.saturating_sub(wire.start)),
            status_code: wire.status_code.unwrap_or(0),
            ..Activation::default()
        };
        if let Some(resp) = wire.response {
            if let Some(code) = resp.status_code {
                a.status_code = code;
            } else if let Some(status) = &resp.status {
                a.status_code = status_code_of(status);
            }
            if a.status_code != 0 {
                a.error = resp
                    .result
                    .and_then(|r| serde_json::from_str::<serde_json::Value>(r.get()).ok())
                    .and_then(|r| r.get("error").map(error_text));
            }
        }
        for ann in wire.annotations {
            let v = ann.value.get();
            match &*ann.key {
                "waitTime" => a.wait_ms = v.parse().ok(),
                "initTime" => a.init_ms = v.parse().ok(),
                "timeout" => a.timed_out = v == "true",
                "gale.startUs" => a.start_us = v.parse().ok(),
                "gale.waitTimeUs" => a.wait_us = v.parse().ok(),
                "gale.initTimeUs" => a.init_us = v.parse().ok(),
                "gale.durationUs" => a.duration_us = v.parse().ok(),
                "gale.container" => {
                    a.container = serde_json::from_str::<String>(v).ok();
                }
                _ => {}
            }
        }
        Some(a)
    }
}

/// `error` values are strings in OpenWhisk's own messages but any JSON from actions.
pub(crate) fn error_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cold_success() {
        let body = br#"{"namespace":"guest","name":"hello","activationId":"5a5c2c2f3b4e4a2a9c2c2f3b4e4a2a9c",
          "start":1700000000000,"end":1700000000047,"duration":47,
          "response":{"status":"success","success":true,"result":{"x":1},"size":7},
          "annotations":[{"key":"waitTime","value":512},{"key":"initTime","value":42},{"key":"timeout","value":false}]}"#;
        let a = Activation::from_json(body).unwrap();
        assert_eq!(a.status_code, 0);
        assert_eq!(a.duration_ms, 47);
        assert_eq!((a.wait_ms, a.init_ms), (Some(512), Some(42)));
        assert!(a.cold());
        assert_eq!(a.error, None);
        assert_eq!(a.container, None);
        assert_eq!(
            a.window_us(),
            (1_700_000_000_000_000, 1_700_000_000_047_000)
        );
    }

    #[test]
    fn parses_gale_annotations() {
        let body = br#"{"activationId":"ab","start":1700000000000,"end":1700000000003,"duration":3,
          "response":{"status":"success","statusCode":0,"result":{}},
          "annotations":[{"key":"gale.node","value":"local"},{"key":"gale.container","value":"c12"},
            {"key":"gale.startUs","value":1700000000000250},{"key":"gale.durationUs","value":2500}]}"#;
        let a = Activation::from_json(body).unwrap();
        assert_eq!(a.container.as_deref(), Some("c12"));
        assert_eq!(
            a.window_us(),
            (1_700_000_000_000_250, 1_700_000_000_002_750)
        );
    }

    #[test]
    fn parses_developer_error_and_summary() {
        let body = br#"{"activationId":"ab","start":1,"end":3,
          "response":{"status":"action developer error","success":false,"result":{"error":"The action exceeded its time limits of 100 milliseconds."}},
          "annotations":[{"key":"timeout","value":true},{"key":"waitTime","value":3}]}"#;
        let a = Activation::from_json(body).unwrap();
        assert_eq!(a.status_code, 2);
        assert!(a.timed_out && !a.cold());
        assert_eq!(
            a.error.as_deref(),
            Some("The action exceeded its time limits of 100 milliseconds.")
        );
        let summary = br#"{"activationId":"cd","start":5,"end":9,"statusCode":1}"#;
        let s = Activation::from_json(summary).unwrap();
        assert_eq!((s.status_code, s.duration_ms), (1, 4));
        assert!(Activation::from_json(br#"{"error":"nope"}"#).is_none());
        assert!(
            Activation::from_json(br#"{"activationId":"5a5c2c2f3b4e4a2a9c2c2f3b4e4a2a9c"}"#)
                .is_none()
        );
        assert!(Activation::from_json(b"not json").is_none());
    }
}
