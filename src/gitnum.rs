//! Numbers the way git parses them (`git_parse_signed` / `git_parse_ulong`):
//! leading blanks and a sign are accepted, the base follows C's `strtoimax(.., 0)`
//! (`0x10` is 16, `010` is 8), and one unit letter `k`, `m` or `g` may follow.
//!
//! ```
//! use git_http_backend_rs::gitnum::{parse_signed, parse_unsigned};
//! assert_eq!(parse_signed(" +1k"), Some(1024));
//! assert_eq!(parse_signed("0x10"), Some(16));
//! assert_eq!(parse_signed("1 "), None);
//! assert_eq!(parse_unsigned("100M"), Some(100 << 20));
//! assert_eq!(parse_unsigned("-1"), None);
//! ```

fn unit_factor(unit: &str) -> Option<i128> {
    match unit {
        "" => Some(1),
        "k" | "K" => Some(1 << 10),
        "m" | "M" => Some(1 << 20),
        "g" | "G" => Some(1 << 30),
        _ => None,
    }
}

/// Parses like `strtoimax(s, &end, 0)`: returns the value and the unparsed rest,
/// or `None` if no digits were found or the value does not fit in an `i128`.
fn strtoi(s: &str) -> Option<(i128, &str)> {
    let s = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if (s.starts_with("0x") || s.starts_with("0X"))
        && s[2..].starts_with(|c: char| c.is_ascii_hexdigit())
    {
        (16, &s[2..])
    } else if s.starts_with('0') {
        (8, s)
    } else {
        (10, s)
    };
    let end = digits
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(digits.len());
    if end == 0 {
        return None;
    }
    let mut value: i128 = 0;
    for c in digits[..end].chars() {
        value = value
            .checked_mul(radix as i128)?
            .checked_add(c.to_digit(radix)? as i128)?;
    }
    Some((if neg { -value } else { value }, &digits[end..]))
}

/// `git_parse_signed` into an `i64` (git's `ssize_t` on 64-bit machines).
pub fn parse_signed(s: &str) -> Option<i64> {
    let (value, rest) = strtoi(s)?;
    let value = value.checked_mul(unit_factor(rest)?)?;
    i64::try_from(value).ok()
}

/// `git_parse_ulong`: like [`parse_signed`] but a `-` anywhere is refused.
pub fn parse_unsigned(s: &str) -> Option<u64> {
    if s.contains('-') {
        return None;
    }
    let (value, rest) = strtoi(s)?;
    let value = value.checked_mul(unit_factor(rest)?)?;
    u64::try_from(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_like_git() {
        assert_eq!(parse_signed("123"), Some(123));
        assert_eq!(parse_signed("-1"), Some(-1));
        assert_eq!(parse_signed("010"), Some(8));
        assert_eq!(parse_signed("1g"), Some(1 << 30));
        assert_eq!(parse_signed(""), None);
        assert_eq!(parse_signed("abc"), None);
        assert_eq!(parse_signed("1e30"), None);
        assert_eq!(parse_signed("99999999999999999999999"), None);
        assert_eq!(parse_signed("0x"), None);
        assert_eq!(parse_signed("08"), None);
    }

    #[test]
    fn unsigned_like_git() {
        assert_eq!(parse_unsigned("10"), Some(10));
        assert_eq!(parse_unsigned("1k"), Some(1024));
        assert_eq!(parse_unsigned(""), None);
        assert_eq!(parse_unsigned("1x"), None);
    }
}
