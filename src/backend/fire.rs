//! A trigger fire as the injector sees it: the trigger's activation record, whose `logs`
//! hold one JSON line per active rule (`{"statusCode":0,"success":true,"activationId":…,
//! "rule":"ns/r1","action":"ns/a"}`, or `success: false` with an `error`), and the
//! activations those rules started.

use serde::Deserialize;

use super::openwhisk::error_field;
use super::{Activation, Outcome, Reply};

/// The answer to a fire as a [`Reply`]: `202 {activationId}` is accepted (the trigger's
/// record and its rules' activations are then waited for), `204` means no rule is active
/// (a success that started nothing), `429` throttled, anything else an HTTP error.
pub fn classify_fire(status: u16, body: &[u8]) -> Reply {
    let id = || {
        serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("activationId")?.as_str().map(str::to_string))
    };
    let (outcome, activation_id, error) = match status {
        202 => match id() {
            Some(id) => (Outcome::Accepted, Some(id), None),
            None => (
                Outcome::HttpError,
                None,
                Some(format!(
                    "202 without an activation id: {}",
                    error_field(body)
                )),
            ),
        },
        204 => (Outcome::Success, None, None),
        429 => (Outcome::Throttled, None, Some(error_field(body))),
        _ => (Outcome::HttpError, None, Some(error_field(body))),
    };
    Reply {
        status: Some(status),
        activation_id,
        activation: None,
        outcome,
        error,
    }
}

/// One rule that a fire reached, as the trigger's record lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleStart {
    /// `namespace/rule`.
    pub rule: String,
    /// `namespace[/package]/action`.
    pub action: String,
    /// The activation the rule started; `None` when it could not start one.
    pub activation_id: Option<String>,
    /// Why it started none.
    pub error: Option<String>,
}

/// A trigger's activation record.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerRecord {
    /// Its own activation (start = the fire).
    pub activation: Activation,
    /// The rules it reached, in the record's order.
    pub rules: Vec<RuleStart>,
}

impl TriggerRecord {
    /// Parse a trigger's activation record; `None` when the body is not one.
    pub fn from_json(body: &[u8]) -> Option<TriggerRecord> {
        #[derive(Deserialize)]
        struct Logs {
            #[serde(default)]
            logs: Vec<String>,
        }
        #[derive(Deserialize)]
        struct Line {
            #[serde(default, rename = "activationId")]
            activation_id: Option<String>,
            #[serde(default)]
            rule: String,
            #[serde(default)]
            action: String,
            #[serde(default)]
            success: Option<bool>,
            #[serde(default)]
            error: Option<serde_json::Value>,
        }
        let activation = Activation::from_json(body)?;
        let logs: Logs = serde_json::from_slice(body).ok()?;
        // Lines that are not a rule's JSON are not a rule's.
        let rules = logs
            .logs
            .iter()
            .filter_map(|l| serde_json::from_str::<Line>(l).ok())
            .filter(|l| !l.rule.is_empty() || l.activation_id.is_some())
            .map(|l| {
                let started = l.success != Some(false);
                RuleStart {
                    rule: l.rule,
                    action: l.action,
                    activation_id: l.activation_id.filter(|_| started),
                    error: if started {
                        None
                    } else {
                        Some(
                            l.error
                                .as_ref()
                                .map(super::activation::error_text)
                                .unwrap_or_else(|| "the rule started no activation".into()),
                        )
                    },
                }
            })
            .collect();
        Some(TriggerRecord { activation, rules })
    }
}

/// How one rule's part of a fire ended.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleRun {
    /// `namespace/rule`.
    pub rule: String,
    /// `namespace[/package]/action`.
    pub action: String,
    /// The rule's activation, or why there is none.
    pub result: Result<Activation, String>,
}

/// A completed fire: the trigger's record and every rule's activation.
#[derive(Debug, Clone, PartialEq)]
pub struct Fire {
    /// The trigger's own activation.
    pub trigger: Activation,
    /// One per rule the fire reached.
    pub rules: Vec<RuleRun>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_rules_of_a_trigger_record() {
        let body = br#"{"activationId":"t1","start":5,"end":5,"duration":0,
            "response":{"status":"success","success":true,"result":{}},
            "logs":["{\"statusCode\":0,\"success\":true,\"activationId\":\"a1\",\"rule\":\"guest/r1\",\"action\":\"guest/hello\"}",
                    "{\"statusCode\":1,\"success\":false,\"error\":\"The requested resource does not exist.\",\"rule\":\"guest/r2\",\"action\":\"guest/gone\"}",
                    "not json"],
            "annotations":[{"key":"path","value":"guest/tick"}]}"#;
        let t = TriggerRecord::from_json(body).unwrap();
        assert_eq!(t.activation.id, "t1");
        assert_eq!(t.rules.len(), 2);
        assert_eq!(t.rules[0].activation_id.as_deref(), Some("a1"));
        assert_eq!(t.rules[0].action, "guest/hello");
        assert_eq!(t.rules[1].activation_id, None);
        assert_eq!(
            t.rules[1].error.as_deref(),
            Some("The requested resource does not exist.")
        );
        assert!(TriggerRecord::from_json(br#"{"activationId":"x"}"#).is_none());
    }

    #[test]
    fn fire_answers() {
        let r = classify_fire(202, br#"{"activationId":"t1"}"#);
        assert_eq!(
            (r.outcome, r.activation_id.as_deref()),
            (Outcome::Accepted, Some("t1"))
        );
        let r = classify_fire(204, b"");
        assert_eq!((r.outcome, r.activation_id), (Outcome::Success, None));
        assert_eq!(classify_fire(404, b"{}").outcome, Outcome::HttpError);
        assert_eq!(classify_fire(202, b"{}").outcome, Outcome::HttpError);
    }
}
