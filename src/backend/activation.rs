//! The parts of an OpenWhisk activation record that results carry.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::scan::Scan;

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
    /// `gale.node`: the node the container ran on.
    pub node: Option<String>,
    /// The `kind` annotation says `sequence`: `duration` is the sum of the components'
    /// durations, not the span from start to end.
    pub sequence: bool,
}

/// An activation's timings in µs: gale's µs annotations where the platform gave them,
/// else OpenWhisk's ms fields. Inject and generate map activations through this one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// OpenWhisk marks a cold start by the presence of `initTime`.
    pub cold: bool,
    /// `waitTime`: receipt to start.
    pub wait_us: Option<u64>,
    /// `initTime` (cold starts).
    pub init_us: Option<u64>,
    /// `duration` (includes init on a cold start).
    pub duration_us: u64,
    /// Start, epoch µs on the platform's clock.
    pub start_epoch_us: u64,
    /// End, epoch µs on the platform's clock.
    pub end_epoch_us: u64,
}

impl Activation {
    /// OpenWhisk marks a cold start by the presence of `initTime`.
    pub fn cold(&self) -> bool {
        self.init_ms.is_some()
    }

    /// Start and end, epoch µs: from gale's µs annotations when present, else from the
    /// record's ms `start`/`end`. A sequence ends at its record's `end` (ms): its duration
    /// leaves out the time between its components.
    pub fn window_us(&self) -> (u64, u64) {
        let start = self.start_us.unwrap_or(self.start_ms.saturating_mul(1000));
        let end = match self.duration_us {
            Some(d) if self.sequence => start
                .saturating_add(d)
                .max(self.end_ms.saturating_mul(1000)),
            Some(d) => start.saturating_add(d),
            None => self.end_ms.saturating_mul(1000).max(start),
        };
        (start, end)
    }

    /// The activation's timings in µs.
    pub fn timings(&self) -> Timings {
        let (start_epoch_us, end_epoch_us) = self.window_us();
        let ms = |m: u64| m.saturating_mul(1000);
        Timings {
            cold: self.cold(),
            wait_us: self.wait_us.or(self.wait_ms.map(ms)),
            init_us: self.init_us.or(self.init_ms.map(ms)),
            duration_us: self.duration_us.unwrap_or(ms(self.duration_ms)),
            start_epoch_us,
            end_epoch_us,
        }
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

/// The top-level fields of a record, however they were read.
struct Top<'a> {
    id: Cow<'a, str>,
    start: u64,
    end: u64,
    duration: Option<u64>,
    status_code: Option<u8>,
    response: Option<Response<'a>>,
}

#[derive(Default)]
struct Response<'a> {
    status: Option<Cow<'a, str>>,
    status_code: Option<u8>,
    /// The `result` value's JSON text.
    result: Option<&'a str>,
}

impl Activation {
    /// Parse an extended activation record (blocking invoke, GET activation).
    /// Returns `None` when the body is not an activation.
    pub fn from_json(body: &[u8]) -> Option<Activation> {
        // One UTF-8 check of the whole body (vectorised) instead of one per string.
        let text = std::str::from_utf8(body).ok()?;
        // Most records take the fast path (a fifth of serde_json's time); whatever it
        // declines, serde_json reads.
        Self::scanned(text).unwrap_or_else(|| Self::deserialized(text))
    }

    /// [`Activation::from_json`] with the fast scanner checked against serde_json: `Err`
    /// names the body when the scanner accepts it and reads it differently (for the fuzz
    /// target and the no-panic property test).
    pub fn check_scanner(body: &[u8]) -> Result<Option<Activation>, String> {
        let Ok(text) = std::str::from_utf8(body) else {
            return Ok(None);
        };
        let slow = Self::deserialized(text);
        match Self::scanned(text) {
            Some(fast) if fast != slow => Err(format!(
                "the scanner reads {text:?} as {fast:?}, serde_json as {slow:?}"
            )),
            _ => Ok(slow),
        }
    }

    /// Through [`scan::Scan`]: `None` when it declines.
    fn scanned(text: &str) -> Option<Option<Activation>> {
        let mut a = Activation::default();
        let top = scan_record(text, &mut a)?;
        Some(a.finish(top))
    }

    /// Through serde_json.
    fn deserialized(text: &str) -> Option<Activation> {
        let wire: Wire = serde_json::from_str(text).ok()?;
        let mut a = Activation::default();
        for ann in &wire.annotations {
            a.annotate(&ann.key, ann.value.get());
        }
        a.finish(Top {
            id: wire.activation_id,
            start: wire.start,
            end: wire.end,
            duration: wire.duration,
            status_code: wire.status_code,
            response: wire.response.map(|r| Response {
                status: r.status,
                status_code: r.status_code,
                result: r.result.map(RawValue::get),
            }),
        })
    }

    fn annotate(&mut self, key: &str, value: &str) {
        let v = value;
        match key {
            "waitTime" => self.wait_ms = v.parse().ok(),
            "initTime" => self.init_ms = v.parse().ok(),
            "timeout" => self.timed_out = v == "true",
            "kind" => self.sequence = v == "\"sequence\"",
            "gale.startUs" => self.start_us = v.parse().ok(),
            "gale.waitTimeUs" => self.wait_us = v.parse().ok(),
            "gale.initTimeUs" => self.init_us = v.parse().ok(),
            "gale.durationUs" => self.duration_us = v.parse().ok(),
            "gale.container" => {
                self.container = serde_json::from_str::<String>(v).ok();
            }
            "gale.node" => {
                self.node = serde_json::from_str::<String>(v).ok();
            }
            _ => {}
        }
    }

    fn finish(mut self, top: Top<'_>) -> Option<Activation> {
        // `{"activationId": …}` alone is a 202's receipt, not a record.
        if top.response.is_none() && top.status_code.is_none() {
            return None;
        }
        self.id = top.id.into_owned();
        self.start_ms = top.start;
        self.end_ms = top.end;
        self.duration_ms = top.duration.unwrap_or(top.end.saturating_sub(top.start));
        self.status_code = top.status_code.unwrap_or(0);
        if let Some(resp) = top.response {
            if let Some(code) = resp.status_code {
                self.status_code = code;
            } else if let Some(status) = &resp.status {
                self.status_code = status_code_of(status);
            }
            if self.status_code != 0 {
                self.error = resp
                    .result
                    .and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok())
                    .and_then(|r| r.get("error").map(error_text));
            }
        }
        Some(self)
    }
}

/// Claim a field (set its bit in `seen`); a field given twice is serde's to judge.
fn once(seen: &mut u8, bit: u8) -> Option<()> {
    (*seen & bit == 0).then(|| *seen |= bit)
}

/// The record's fields with [`Scan`]; annotations go straight into `a`. `None`: declined.
fn scan_record<'a>(text: &'a str, a: &mut Activation) -> Option<Top<'a>> {
    let mut s = Scan::new(text);
    s.eat(b'{')?;
    let (mut id, mut start, mut end, mut duration, mut status_code, mut response) =
        (None, 0, 0, None, None, None);
    let mut seen = 0u8;
    loop {
        let key = s.plain_str()?;
        s.eat(b':')?;
        match key {
            "activationId" => {
                once(&mut seen, 1)?;
                id = Some(s.plain_str()?);
            }
            "start" => {
                once(&mut seen, 2)?;
                start = s.u64()?;
            }
            "end" => {
                once(&mut seen, 4)?;
                end = s.u64()?;
            }
            "duration" => {
                once(&mut seen, 8)?;
                duration = if s.null() { None } else { Some(s.u64()?) };
            }
            "statusCode" => {
                once(&mut seen, 16)?;
                status_code = scan_code(&mut s)?;
            }
            "response" => {
                once(&mut seen, 32)?;
                response = if s.null() {
                    None
                } else {
                    Some(scan_response(&mut s)?)
                };
            }
            "annotations" => {
                once(&mut seen, 64)?;
                scan_annotations(&mut s, a)?;
            }
            _ => {
                s.value(1)?;
            }
        }
        if s.end_or_comma(b'}')? {
            break;
        }
    }
    if !s.at_end() {
        return None;
    }
    Some(Top {
        id: Cow::Borrowed(id?),
        start,
        end,
        duration,
        status_code,
        response,
    })
}

fn scan_code(s: &mut Scan<'_>) -> Option<Option<u8>> {
    if s.null() {
        return Some(None);
    }
    u8::try_from(s.u64()?).ok().map(Some)
}

fn scan_response<'a>(s: &mut Scan<'a>) -> Option<Response<'a>> {
    let mut r = Response::default();
    s.eat(b'{')?;
    if s.close(b'}') {
        return Some(r);
    }
    let mut seen = 0u8;
    loop {
        let key = s.plain_str()?;
        s.eat(b':')?;
        match key {
            "status" => {
                once(&mut seen, 1)?;
                r.status = if s.null() {
                    None
                } else {
                    Some(Cow::Borrowed(s.plain_str()?))
                };
            }
            "statusCode" => {
                once(&mut seen, 2)?;
                r.status_code = scan_code(s)?;
            }
            "result" => {
                once(&mut seen, 4)?;
                r.result = if s.null() { None } else { Some(s.value(2)?) };
            }
            _ => {
                s.value(2)?;
            }
        }
        if s.end_or_comma(b'}')? {
            return Some(r);
        }
    }
}

fn scan_annotations(s: &mut Scan<'_>, a: &mut Activation) -> Option<()> {
    s.eat(b'[')?;
    if s.close(b']') {
        return Some(());
    }
    loop {
        s.eat(b'{')?;
        let (mut key, mut value) = (None, None);
        if !s.close(b'}') {
            loop {
                let field = s.plain_str()?;
                s.eat(b':')?;
                match field {
                    "key" if key.is_none() => key = Some(s.plain_str()?),
                    "value" if value.is_none() => value = Some(s.value(3)?),
                    "key" | "value" => return None,
                    _ => {
                        s.value(3)?;
                    }
                }
                if s.end_or_comma(b'}')? {
                    break;
                }
            }
        }
        a.annotate(key?, value?);
        if s.end_or_comma(b']')? {
            return Some(());
        }
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

    /// The fast path and serde_json agree on every record the fast path reads, and the
    /// fast path reads the usual ones.
    fn agree(text: &str) -> bool {
        let fast = Activation::scanned(text);
        if let Some(fast) = &fast {
            assert_eq!(fast, &Activation::deserialized(text), "{text}");
        }
        fast.is_some()
    }

    #[test]
    fn fast_path_reads_usual_records_as_serde_does() {
        for body in [
            &br#"{"namespace":"guest","name":"hello","activationId":"5a5c2c2f3b4e4a2a9c2c2f3b4e4a2a9c","start":1700000000000,"end":1700000000047,"duration":47,"response":{"status":"success","success":true,"result":{"x":1},"size":7},"annotations":[{"key":"waitTime","value":512},{"key":"initTime","value":42},{"key":"timeout","value":false}]}"#[..],
            br#"{"activationId":"ab","start":1,"end":3,"response":{"status":"action developer error","success":false,"result":{"error":"time \"limit\""}},"annotations":[{"key":"timeout","value":true},{"key":"gale.container","value":"c\u00e912"}]}"#,
            br#"{"activationId":"cd","start":5,"end":9,"statusCode":1}"#,
            br#" { "activationId" : "ab" , "response" : { "statusCode" : 2 , "result" : null } , "logs" : [ "a" , "b" ] } "#,
            br#"{"activationId":"ab","response":{},"annotations":[]}"#,
        ] {
            let text = std::str::from_utf8(body).unwrap();
            assert!(agree(text), "declined: {text}");
        }
        for declined in [
            r#"{"activationId":"a\"b","response":{}}"#,
            r#"{"activationId":"ab","start":1.0,"response":{}}"#,
            r#"{"activationId":"ab","start":1,"start":2,"response":{}}"#,
            r#"{"activationId":"ab","response":{}} x"#,
            r#"{"activationId":"ab","statusCode":256}"#,
            r#"{"activationId":"ab","response":{},"annotations":[{"key":"a"}]}"#,
            r#"{"activationId":"ab","response":{},"annotations":null}"#,
            r#"{"activationId":"ab","response":{},"x":[1,]}"#,
            r#"{"activationId":"ab","response":{"result":{"error":"\ud800"}}}"#,
        ] {
            assert!(!agree(declined), "read: {declined}");
        }
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            (-1e9f64..1e9).prop_map(Value::from),
            "[a-z\\\"\\n\\u{1}é☃ ]{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
                proptest::collection::vec(("[a-zA-Z]{0,6}", inner), 0..4)
                    .prop_map(|kv| serde_json::Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    fn record() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        use serde_json::{json, Value};
        let field = |name: &'static str, v: BoxedStrategy<Value>| {
            proptest::option::weighted(0.8, v).prop_map(move |v| v.map(|v| (name.to_string(), v)))
        };
        let id = prop_oneof![
            4 => "[0-9a-f]{32}".prop_map(Value::String),
            1 => json_value(),
        ]
        .boxed();
        let int =
            prop_oneof![8 => (0u64..u64::MAX).prop_map(Value::from), 1 => json_value()].boxed();
        let code = prop_oneof![8 => (0u64..4).prop_map(Value::from), 1 => (0u64..1000).prop_map(Value::from), 1 => json_value()].boxed();
        let status = prop_oneof![
            Just(json!("success")),
            Just(json!("application error")),
            Just(json!("action developer error")),
            json_value(),
        ];
        let response = (
            proptest::option::of(status),
            proptest::option::of(code.clone()),
            proptest::option::of(json_value()),
        )
            .prop_map(|(st, c, r)| {
                let mut m = serde_json::Map::new();
                st.map(|v| m.insert("status".into(), v));
                c.map(|v| m.insert("statusCode".into(), v));
                r.map(|v| m.insert("result".into(), json!({"error": v})));
                Value::Object(m)
            });
        let key = prop_oneof![
            Just("waitTime"),
            Just("initTime"),
            Just("timeout"),
            Just("gale.startUs"),
            Just("gale.container"),
            Just("kind"),
        ];
        let annotations = proptest::collection::vec((key, json_value()), 0..5).prop_map(|v| {
            Value::Array(
                v.into_iter()
                    .map(|(k, v)| json!({"key": k, "value": v}))
                    .collect(),
            )
        });
        (
            field("activationId", id),
            field("start", int.clone()),
            field("end", int.clone()),
            field("duration", int),
            field("statusCode", code),
            field(
                "response",
                prop_oneof![4 => response, 1 => json_value()].boxed(),
            ),
            field(
                "annotations",
                prop_oneof![4 => annotations, 1 => json_value()].boxed(),
            ),
            proptest::collection::vec(
                ("[a-z]{1,6}|start|end|response|duration", json_value()),
                0..3,
            ),
            any::<bool>(),
            proptest::option::of((any::<proptest::sample::Index>(), any::<u8>())),
        )
            .prop_flat_map(|(a, b, c, d, e, f, g, extra, pretty, cut)| {
                let members: Vec<(String, Value)> = [a, b, c, d, e, f, g]
                    .into_iter()
                    .flatten()
                    .chain(extra)
                    .collect();
                (Just(members).prop_shuffle(), Just(pretty), Just(cut))
            })
            .prop_map(|(members, spaced, cut)| {
                // Members in any order (and extra ones that may repeat a known name),
                // compact or spaced out.
                let (sep, colon) = if spaced {
                    (" ,\n  ", " : ")
                } else {
                    (",", ":")
                };
                let body: Vec<String> = members
                    .iter()
                    .map(|(k, v)| {
                        let v = if spaced {
                            serde_json::to_string_pretty(v).unwrap()
                        } else {
                            v.to_string()
                        };
                        format!("{}{colon}{v}", Value::from(k.as_str()))
                    })
                    .collect();
                let mut text = format!("{{{}}}", body.join(sep));
                // Sometimes break it: one byte replaced (at a char boundary).
                if let Some((at, byte)) = cut {
                    let at = at.index(text.len().max(1));
                    if text.is_char_boundary(at) && text.is_char_boundary(at + 1) && byte.is_ascii()
                    {
                        text.replace_range(at..at + 1, &(byte as char).to_string());
                    }
                }
                text
            })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]
        #[test]
        fn fast_path_never_disagrees_with_serde(text in record()) {
            agree(&text);
        }
    }
}
