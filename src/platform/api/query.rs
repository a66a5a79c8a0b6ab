//! Query strings: a small percent-decoding parser and OpenWhisk's parameter checks.

use std::borrow::Cow;

/// Parsed `a=b&c=d` pairs, decoded lazily only when they contain escapes.
pub struct Query<'a> {
    pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Query<'a> {
    /// Parse a raw query (without the `?`); empty and missing are the same.
    pub fn parse(raw: Option<&'a str>) -> Query<'a> {
        let pairs = raw
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(k, true), decode(v, true))
            })
            .collect();
        Query { pairs }
    }

    /// Every pair, decoded, in order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref()))
    }

    /// The last value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
    }

    /// A boolean parameter, as Pekko's unmarshaller reads them.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, String> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        match v.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok(Some(true)),
            "false" | "no" | "off" | "0" => Ok(Some(false)),
            _ => Err(format!(
                "The query parameter '{name}' was malformed:\n'{v}' is not a valid Boolean value"
            )),
        }
    }

    /// `limit` of a list: default 30, `0` means the maximum 200.
    pub fn list_limit(&self, collection: &str) -> Result<usize, String> {
        match self.get("limit") {
            None => Ok(30),
            Some(v) => match v.parse::<i64>() {
                Ok(0) => Ok(200),
                Ok(n) if (1..=200).contains(&n) => Ok(n as usize),
                Ok(n) => Err(format!(
                    "The value '{n}' is not in the range of 0 to 200 for {collection}."
                )),
                Err(_) => Err(format!(
                    "The value '{v}' is not an integer for {collection}."
                )),
            },
        }
    }

    /// `skip` of a list: default 0.
    pub fn list_skip(&self, collection: &str) -> Result<usize, String> {
        match self.get("skip") {
            None => Ok(0),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n >= 0 => Ok(n as usize),
                Ok(n) => Err(format!(
                    "The value '{n}' is not greater than or equal to 0 for {collection}."
                )),
                Err(_) => Err(format!(
                    "The value '{v}' is not an integer for {collection}."
                )),
            },
        }
    }
}

/// Percent-decode (and `+` as space in queries); invalid escapes are kept as they are.
pub fn decode(s: &str, plus_is_space: bool) -> Cow<'_, str> {
    if !s.bytes().any(|b| b == b'%' || (plus_is_space && b == b'+')) {
        return Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_decodes() {
        let q = Query::parse(Some("blocking=true&name=a%20b&x&limit=5&name=c+d"));
        assert_eq!(q.get("blocking"), Some("true"));
        assert_eq!(q.get("name"), Some("c d"));
        assert_eq!(q.get("x"), Some(""));
        assert_eq!(q.list_limit("actions"), Ok(5));
        assert_eq!(decode("a%2", false), "a%2");
        assert_eq!(decode("%41%zz", false), "A%zz");
        assert_eq!(decode("50%", false), "50%");
        assert!(Query::parse(Some("blocking=maybe"))
            .bool("blocking")
            .is_err());
        assert_eq!(
            Query::parse(Some("limit=201"))
                .list_limit("actions")
                .unwrap_err(),
            "The value '201' is not in the range of 0 to 200 for actions."
        );
        assert_eq!(Query::parse(Some("limit=0")).list_limit("actions"), Ok(200));
        assert_eq!(Query::parse(None).list_skip("actions"), Ok(0));
        assert_eq!(
            Query::parse(Some("skip=-1"))
                .list_skip("actions")
                .unwrap_err(),
            "The value '-1' is not greater than or equal to 0 for actions."
        );
    }
}
