//! How an invocation ended: the `outcome` column of every record.

use serde::Serialize;

use super::Activation;

/// The kind of ending of one invocation. Every invocation gets exactly one, including those
/// that were never sent: nothing is dropped silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The activation succeeded (status 0).
    Success,
    /// The action returned an error (status 1, HTTP 502 on blocking calls).
    ApplicationError,
    /// The action crashed, timed out or failed to initialise (status 2).
    DeveloperError,
    /// The platform failed (status 3, or HTTP 500 carrying an activation).
    InternalError,
    /// Accepted (202) but no activation record could be had: the record stayed pending.
    Accepted,
    /// Refused by the platform's admission limits (HTTP 429).
    Throttled,
    /// Any other HTTP error status (401, 403, 404, 413, 500, 503 …).
    HttpError,
    /// No reply within the request timeout.
    Timeout,
    /// No HTTP exchange: connection refused or reset, TLS failure.
    ConnectError,
    /// Not sent: the in-flight cap was reached when it was due (`--on-overload shed`).
    Shed,
    /// Still in flight when the run was stopped and the drain time ran out.
    Interrupted,
}

impl Outcome {
    /// All kinds, in report order.
    pub const ALL: [Outcome; 11] = [
        Outcome::Success,
        Outcome::ApplicationError,
        Outcome::DeveloperError,
        Outcome::InternalError,
        Outcome::Accepted,
        Outcome::Throttled,
        Outcome::HttpError,
        Outcome::Timeout,
        Outcome::ConnectError,
        Outcome::Shed,
        Outcome::Interrupted,
    ];

    /// The name used in records and summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::ApplicationError => "application_error",
            Outcome::DeveloperError => "developer_error",
            Outcome::InternalError => "internal_error",
            Outcome::Accepted => "accepted",
            Outcome::Throttled => "throttled",
            Outcome::HttpError => "http_error",
            Outcome::Timeout => "timeout",
            Outcome::ConnectError => "connect_error",
            Outcome::Shed => "shed",
            Outcome::Interrupted => "interrupted",
        }
    }

    /// Index into [`Outcome::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The outcome an activation's status code stands for.
    pub fn of_status_code(code: u8) -> Outcome {
        match code {
            0 => Outcome::Success,
            1 => Outcome::ApplicationError,
            2 => Outcome::DeveloperError,
            _ => Outcome::InternalError,
        }
    }
}

/// The reply to one invoke request.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// HTTP status, when there was an HTTP exchange.
    pub status: Option<u16>,
    /// Activation id (from the body or the `x-openwhisk-activation-id` header).
    pub activation_id: Option<String>,
    /// The activation record, when the reply carried one (blocking calls).
    pub activation: Option<Activation>,
    /// How it ended (for a 202: `Accepted`, to be resolved by fetching the record).
    pub outcome: Outcome,
    /// Error text: the platform's `error` field or the transport error.
    pub error: Option<String>,
    /// Size of the reply's body, bytes (de-chunked), when there was an HTTP exchange.
    pub body_bytes: Option<u64>,
    /// The reply is the function's completion (a plain HTTP function): its end is the
    /// activation's end. An OpenWhisk reply never is: only an activation record says when
    /// the function ended.
    pub completes: bool,
}

impl Reply {
    /// A reply with no HTTP exchange.
    pub fn failed(outcome: Outcome, error: String) -> Reply {
        Reply {
            status: None,
            activation_id: None,
            activation: None,
            outcome,
            error: Some(error),
            body_bytes: None,
            completes: false,
        }
    }
}
