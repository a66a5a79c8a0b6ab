//! A small validating JSON scanner, for pulling a few fields out of a document that is read
//! once per invocation (an activation record) at a fraction of a general parser's cost.
//!
//! It reads the common shape only. Whatever it is not sure about (an escape in a string it
//! returns, a number that is not a plain integer, deep nesting) it declines by returning
//! `None`, and the caller falls back to serde_json. Everything it skips it still checks
//! against the JSON grammar, so it never accepts a document that serde_json rejects.

/// A cursor over a JSON text.
pub(crate) struct Scan<'a> {
    text: &'a str,
    i: usize,
}

/// Deeper than this, decline (serde_json's own limit is 128).
const MAX_DEPTH: u32 = 100;

impl<'a> Scan<'a> {
    pub(crate) fn new(text: &'a str) -> Scan<'a> {
        Scan { text, i: 0 }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// The next byte after whitespace, not consumed.
    pub(crate) fn peek(&mut self) -> Option<u8> {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes().get(self.i) {
            self.i += 1;
        }
        self.bytes().get(self.i).copied()
    }

    /// Consume `c` (after whitespace), or decline.
    pub(crate) fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// Consume `null` if it comes next.
    pub(crate) fn null(&mut self) -> bool {
        let null = self.peek() == Some(b'n') && self.bytes()[self.i..].starts_with(b"null");
        if null {
            self.i += 4;
        }
        null
    }

    /// Consume `c` if it comes next (an empty object or array).
    pub(crate) fn close(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        if hit {
            self.i += 1;
        }
        hit
    }

    /// After a member or element: true at `close`, false at a comma; else decline.
    pub(crate) fn end_or_comma(&mut self, close: u8) -> Option<bool> {
        let c = self.peek()?;
        self.i += 1;
        match c {
            b',' => Some(false),
            _ if c == close => Some(true),
            _ => None,
        }
    }

    /// True when only whitespace is left.
    pub(crate) fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    /// A string without escapes; declines one with escapes.
    pub(crate) fn plain_str(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.i;
        self.i = special(self.bytes(), self.i);
        if *self.bytes().get(self.i)? != b'"' {
            return None;
        }
        self.i += 1;
        // Both ends sit next to an ASCII quote: char boundaries.
        Some(&self.text[start..self.i - 1])
    }

    /// A non-negative integer that fits a u64, written plainly (no fraction, no exponent);
    /// declines anything else.
    pub(crate) fn u64(&mut self) -> Option<u64> {
        self.peek()?;
        let b = self.bytes();
        let start = self.i;
        let mut n: u64 = 0;
        let mut end = start;
        while let Some(d @ b'0'..=b'9') = b.get(end) {
            n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
            end += 1;
        }
        let digits = end - start;
        if digits == 0
            || (digits > 1 && b[start] == b'0')
            || matches!(b.get(end), Some(b'.' | b'e' | b'E'))
        {
            return None;
        }
        self.i = end;
        Some(n)
    }

    /// Any value, checked against the grammar; its text.
    pub(crate) fn value(&mut self, depth: u32) -> Option<&'a str> {
        let start = {
            self.peek()?;
            self.i
        };
        self.skip_value(depth)?;
        Some(&self.text[start..self.i])
    }

    fn skip_value(&mut self, depth: u32) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'{' => {
                self.i += 1;
                if self.peek()? == b'}' {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.skip_string()?;
                    self.eat(b':')?;
                    self.skip_value(depth + 1)?;
                    if self.end_or_comma(b'}')? {
                        return Some(());
                    }
                }
            }
            b'[' => {
                self.i += 1;
                if self.peek()? == b']' {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.skip_value(depth + 1)?;
                    if self.end_or_comma(b']')? {
                        return Some(());
                    }
                }
            }
            b'"' => self.skip_string(),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.skip_number(),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.bytes()[self.i..]
            .starts_with(word)
            .then(|| self.i += word.len())
    }

    fn skip_string(&mut self) -> Option<()> {
        self.eat(b'"')?;
        loop {
            self.i = special(self.bytes(), self.i);
            match *self.bytes().get(self.i)? {
                b'"' => {
                    self.i += 1;
                    return Some(());
                }
                b'\\' => {
                    match *self.bytes().get(self.i + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 2,
                        b'u' => {
                            let hex = self.bytes().get(self.i + 2..self.i + 6)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            // A lone surrogate is an error to serde_json: leave those to it.
                            let unit =
                                u16::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
                            if (0xD800..0xE000).contains(&unit) {
                                return None;
                            }
                            self.i += 6;
                        }
                        _ => return None,
                    }
                }
                _ => return None,
            }
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn skip_number(&mut self) -> Option<()> {
        let b = self.bytes();
        let mut i = self.i;
        let digits = |i: &mut usize| {
            let n = b[*i..].iter().take_while(|c| c.is_ascii_digit()).count();
            *i += n;
            n
        };
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i)? {
            b'0' => i += 1,
            b'1'..=b'9' => {
                digits(&mut i);
            }
            _ => return None,
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            if digits(&mut i) == 0 {
                return None;
            }
        }
        if let Some(b'e' | b'E') = b.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            if digits(&mut i) == 0 {
                return None;
            }
        }
        self.i = i;
        Some(())
    }
}

/// The index of the first `"`, `\\` or control character at or after `i` (or the length),
/// eight bytes at a time.
fn special(b: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = b.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        let quote = w ^ (ONES * u64::from(b'"'));
        let slash = w ^ (ONES * u64::from(b'\\'));
        // A byte of `x` is zero (or, for the control test, below 0x20) where this sets its
        // high bit; bits above the first hit may be spurious, the lowest is exact.
        let hits = (quote.wrapping_sub(ONES) & !quote)
            | (slash.wrapping_sub(ONES) & !slash)
            | (w.wrapping_sub(ONES * 0x20) & !w);
        let hits = hits & HIGH;
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < b.len() && !matches!(b[i], b'"' | b'\\' | 0..=0x1f) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scanner's verdict on a whole value: its text, or None (declined or invalid).
    fn value(text: &str) -> Option<&str> {
        let mut s = Scan::new(text);
        let v = s.value(0)?;
        s.at_end().then_some(v)
    }

    #[test]
    fn accepts_only_what_serde_accepts() {
        let cases = [
            r#"{}"#,
            r#"[]"#,
            r#" {"a" : [1, -2.5e3, 0, 0.1, 1E+2, true, false, null, "x\"\\\/\b\f\n\r\t\u00e9"], "b": {}} "#,
            r#""é ☃ 😀""#,
            r#"{"a":1,}"#,
            r#"[1,]"#,
            r#"01"#,
            r#"1."#,
            r#".5"#,
            r#"-"#,
            r#"1e"#,
            r#"+1"#,
            r#""\x""#,
            r#""\u12g4""#,
            r#""\ud800""#,
            "\"tab\tinside\"",
            r#"{"a" 1}"#,
            r#"{1:2}"#,
            r#"[1 2]"#,
            r#"tru"#,
            r#"nul"#,
            r#"{"a":1}}"#,
            r#""unterminated"#,
            r#"[[[[]]]]"#,
        ];
        for text in cases {
            let serde_ok = serde_json::from_str::<serde_json::Value>(text).is_ok();
            if let Some(v) = value(text) {
                assert!(serde_ok, "accepted what serde_json rejects: {text}");
                assert_eq!(v, text.trim(), "{text}");
            }
        }
        // The common shapes are not declined.
        assert!(value(r#"{"a":[1,{"b":null}],"c":"d"}"#).is_some());
        let deep = format!("{}{}", "[".repeat(120), "]".repeat(120));
        assert!(value(&deep).is_none());
    }

    #[test]
    fn finds_the_first_special_byte_at_any_offset() {
        for len in 0..40 {
            for at in 0..=len {
                for c in [b'"', b'\\', 0x00, 0x1f] {
                    let mut b = vec![b'a'; len];
                    // Bytes that must not count: high bytes, 0x20, 0x7f.
                    for (k, x) in b.iter_mut().enumerate() {
                        *x = [b'a', 0x20, 0x7f, 0xc3, 0xff][k % 5];
                    }
                    if at < len {
                        b[at] = c;
                    }
                    for from in 0..=at {
                        assert_eq!(special(&b, from), at, "len {len} at {at} from {from}");
                    }
                }
            }
        }
    }

    #[test]
    fn reads_plain_strings_and_integers_and_declines_the_rest() {
        let mut s = Scan::new(r#" "abc" 123 0 "a\"b" 1.5 -1 01 18446744073709551616 null"#);
        assert_eq!(s.plain_str(), Some("abc"));
        assert_eq!(s.u64(), Some(123));
        assert_eq!(s.u64(), Some(0));
        assert_eq!(Scan::new(r#""a\"b""#).plain_str(), None);
        assert_eq!(Scan::new("1.5").u64(), None);
        assert_eq!(Scan::new("-1").u64(), None);
        assert_eq!(Scan::new("01").u64(), None);
        assert_eq!(Scan::new("1e3").u64(), None);
        assert_eq!(Scan::new("18446744073709551616").u64(), None);
        assert_eq!(Scan::new("18446744073709551615").u64(), Some(u64::MAX));
        let mut n = Scan::new(" null,");
        assert!(n.null());
        assert_eq!(n.end_or_comma(b'}'), Some(false));
    }
}
