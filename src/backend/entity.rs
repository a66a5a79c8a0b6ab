//! What a trace row reaches on the platform, and how: an action or a sequence through the
//! actions API, a web action through its web URL, a trigger by firing it. The record of
//! every invocation names the kind ([`EntityKind`], the `entity` column).

use std::sync::Arc;

use serde::Serialize;

use crate::trace::{FunctionSpec, WebAuth, WebExtension, WebMethod};

/// How to address one function of the trace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Entity {
    /// `POST …/actions/{name}`, blocking or not.
    #[default]
    Action,
    /// The same request as an action; the platform runs the components.
    Sequence,
    /// `{method} /api/v1/web/{namespace}/{package|default}/{action}.{ext}`: the response
    /// is the result, no activation record is fetched.
    Web(Arc<WebRoute>),
    /// `POST …/triggers/{name}`: the fire's activation lists the activations its rules
    /// started, which are then waited for.
    Trigger,
}

/// A web action's request, as the trace declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebRoute {
    /// HTTP method.
    pub method: WebMethod,
    /// The URL's extension.
    pub extension: WebExtension,
    /// What the action requires of its callers.
    pub auth: Option<WebAuth>,
    /// `X-Require-Whisk-Auth: SECRET\r\n` for a secret, written with every request.
    pub(super) secret_header: Option<String>,
}

impl Entity {
    /// How rows reach `f`.
    pub fn of(f: &FunctionSpec) -> Entity {
        if f.is_trigger() {
            return Entity::Trigger;
        }
        if let Some(w) = &f.web {
            let secret_header = match &w.require_whisk_auth {
                Some(WebAuth::Secret(s)) => Some(format!("X-Require-Whisk-Auth: {s}\r\n")),
                _ => None,
            };
            return Entity::Web(Arc::new(WebRoute {
                method: w.method,
                extension: w.extension,
                auth: w.require_whisk_auth.clone(),
                secret_header,
            }));
        }
        if f.is_sequence() {
            Entity::Sequence
        } else {
            Entity::Action
        }
    }

    /// What the record calls it.
    pub fn kind(&self) -> EntityKind {
        match self {
            Entity::Action => EntityKind::Action,
            Entity::Sequence => EntityKind::Sequence,
            Entity::Web(_) => EntityKind::Web,
            Entity::Trigger => EntityKind::Trigger,
        }
    }

    /// The blocking mode a row of this entity is sent with, when `asked` is what the row,
    /// its function, the trace or the command line asked: a web request always waits for
    /// the result, a fire never waits for the actions it starts.
    pub fn blocking(&self, asked: bool) -> bool {
        match self {
            Entity::Action | Entity::Sequence => asked,
            Entity::Web(_) => true,
            Entity::Trigger => false,
        }
    }
}

/// What a record's row invoked: the `entity` column of `invocations.csv`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// An action through the actions API.
    #[default]
    Action,
    /// A sequence through the actions API.
    Sequence,
    /// A web action through its web URL.
    Web,
    /// A trigger, fired.
    Trigger,
}

impl EntityKind {
    /// All kinds.
    pub const ALL: [EntityKind; 4] = [
        EntityKind::Action,
        EntityKind::Sequence,
        EntityKind::Web,
        EntityKind::Trigger,
    ];

    /// The name in records.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Action => "action",
            EntityKind::Sequence => "sequence",
            EntityKind::Web => "web",
            EntityKind::Trigger => "trigger",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{WebSpec, TRIGGER_KIND};

    #[test]
    fn entities_and_their_blocking_modes() {
        let mut f = FunctionSpec::synthetic("f");
        assert_eq!(Entity::of(&f), Entity::Action);
        f.web = Some(WebSpec {
            require_whisk_auth: Some(WebAuth::Secret("s3".into())),
            ..WebSpec::default()
        });
        let web = Entity::of(&f);
        let Entity::Web(route) = &web else {
            panic!("{web:?}")
        };
        assert_eq!(
            route.secret_header.as_deref(),
            Some("X-Require-Whisk-Auth: s3\r\n")
        );
        assert!(web.blocking(false));
        f.web = None;
        f.kind = TRIGGER_KIND.into();
        assert_eq!(Entity::of(&f).kind().as_str(), "trigger");
        assert!(!Entity::of(&f).blocking(true));
    }
}
