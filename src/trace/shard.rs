//! Splitting a trace over N injectors: shard K of N keeps the rows whose function (or user)
//! hashes to K. Every row of a function (or of a user) goes to the same shard, so each
//! per-function arrival process stays whole on one injector, and rows keep the ids they
//! have in the whole trace, so that the shards' records merge back into the unsharded run.

use super::{Invocation, Rows};

/// What decides a row's shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ShardBy {
    /// The function's name: each function's arrivals on one injector.
    #[default]
    Function,
    /// The user's name: each tenant on one injector (with all its functions).
    User,
}

impl ShardBy {
    /// The name on the command line and in run.yaml.
    pub fn name(self) -> &'static str {
        match self {
            ShardBy::Function => "function",
            ShardBy::User => "user",
        }
    }

    /// The key named `s`.
    pub fn parse(s: &str) -> Option<ShardBy> {
        [ShardBy::Function, ShardBy::User]
            .into_iter()
            .find(|b| b.name() == s)
    }
}

/// Shard `index` (0-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Shard {
    /// This shard, 0 to count − 1 (a Kubernetes Indexed Job's completion index).
    pub index: u32,
    /// How many shards split the trace.
    pub count: u32,
    /// What decides a row's shard.
    pub by: ShardBy,
}

impl Shard {
    /// Parse `K/N` (0 ≤ K < N).
    pub fn parse(s: &str) -> Result<(u32, u32), String> {
        let bad = || format!("expected K/N with 0 <= K < N (e.g. 0/3, 2/3), got `{s}`");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (k, n): (u32, u32) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if n == 0 || k >= n {
            return Err(bad());
        }
        Ok((k, n))
    }

    /// The shard a name belongs to.
    pub fn of(&self, name: &str) -> u32 {
        (fnv1a(name.as_bytes()) % u64::from(self.count)) as u32
    }

    /// Whether this shard sends `inv`.
    pub fn keeps(&self, inv: &Invocation) -> bool {
        let key = match self.by {
            ShardBy::Function => &inv.function,
            ShardBy::User => &inv.user,
        };
        self.of(key) == self.index
    }

    /// Whether this shard deploys `function` (all of them when sharding by user).
    pub fn deploys(&self, function: &str) -> bool {
        self.by == ShardBy::User || self.of(function) == self.index
    }

    /// The rows of this shard; ids stay those of the whole trace; errors pass through.
    pub fn filter(self, rows: Rows) -> Rows {
        Box::new(rows.filter(move |r| r.as_ref().map_or(true, |inv| self.keeps(inv))))
    }
}

/// FNV-1a, 64 bits: fixed by its definition, so a name's shard is the same on every host
/// and every gale version (std's hasher is randomly keyed per process).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn inv(row: u64, f: &str, u: &str) -> Invocation {
        Invocation {
            row,
            at_ns: row,
            function: Arc::from(f),
            user: Arc::from(u),
            params: None,
            blocking: None,
        }
    }

    #[test]
    fn shards_partition_the_rows_and_keep_functions_whole() {
        let all: Vec<Invocation> = (0..3000)
            .map(|i| inv(i, &format!("f{}", i % 37), &format!("u{}", i % 5)))
            .collect();
        for by in [ShardBy::Function, ShardBy::User] {
            let mut seen = Vec::new();
            for k in 0..3 {
                let s = Shard {
                    index: k,
                    count: 3,
                    by,
                };
                let rows: Rows = Box::new(all.clone().into_iter().map(Ok));
                let mine: Vec<Invocation> = s.filter(rows).map(Result::unwrap).collect();
                for i in &mine {
                    let key = if by == ShardBy::Function {
                        &i.function
                    } else {
                        &i.user
                    };
                    assert_eq!(s.of(key), k);
                }
                seen.extend(mine);
            }
            seen.sort_by_key(|i| i.row);
            assert_eq!(seen, all);
        }
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn parse_checks_bounds() {
        assert_eq!(Shard::parse("0/3"), Ok((0, 3)));
        assert_eq!(Shard::parse("2/3"), Ok((2, 3)));
        assert!(Shard::parse("3/3").is_err());
        assert!(Shard::parse("1/0").is_err());
        assert!(Shard::parse("x").is_err());
    }
}
