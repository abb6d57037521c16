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

/// Why a number was refused (git's `errno`: `EINVAL` or `ERANGE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumError {
    /// Not a number, or an unknown unit.
    Invalid,
    /// A number that does not fit (with its unit).
    OutOfRange,
}

fn unit_factor(unit: &str) -> Result<i128, NumError> {
    match unit {
        "" => Ok(1),
        "k" | "K" => Ok(1 << 10),
        "m" | "M" => Ok(1 << 20),
        "g" | "G" => Ok(1 << 30),
        _ => Err(NumError::Invalid),
    }
}

/// Parses like `strtoimax(s, &end, 0)`: the value and the unparsed rest.
fn strtoi(s: &str) -> Result<(i128, &str), NumError> {
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
        return Err(NumError::Invalid);
    }
    let mut value: i128 = 0;
    for c in digits[..end].chars() {
        value = value
            .checked_mul(radix as i128)
            .and_then(|v| v.checked_add(c.to_digit(radix)? as i128))
            .ok_or(NumError::OutOfRange)?;
    }
    Ok((if neg { -value } else { value }, &digits[end..]))
}

fn with_unit(s: &str) -> Result<i128, NumError> {
    let (value, rest) = strtoi(s)?;
    value
        .checked_mul(unit_factor(rest)?)
        .ok_or(NumError::OutOfRange)
}

/// `git_parse_signed` into an `i64` (git's `ssize_t` on 64-bit machines).
pub fn parse_signed(s: &str) -> Option<i64> {
    with_unit(s).ok().and_then(|v| i64::try_from(v).ok())
}

/// `git_parse_int`, saying why a value is refused: like [`parse_signed`], within
/// `[-INT_MAX, INT_MAX]`.
pub fn parse_int_checked(s: &str) -> Result<i32, NumError> {
    let v = with_unit(s)?;
    if v.unsigned_abs() > i32::MAX as u128 {
        return Err(NumError::OutOfRange);
    }
    Ok(v as i32)
}

/// `git_parse_ulong`, saying why a value is refused: a `-` anywhere is invalid.
pub fn parse_unsigned_checked(s: &str) -> Result<u64, NumError> {
    if s.contains('-') {
        return Err(NumError::Invalid);
    }
    u64::try_from(with_unit(s)?).map_err(|_| NumError::OutOfRange)
}

/// `git_parse_ulong`: like [`parse_signed`] but a `-` anywhere is refused.
pub fn parse_unsigned(s: &str) -> Option<u64> {
    parse_unsigned_checked(s).ok()
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
    fn int_like_git() {
        assert_eq!(parse_int_checked("2"), Ok(2));
        assert_eq!(parse_int_checked("-1k"), Ok(-1024));
        assert_eq!(parse_int_checked("two"), Err(NumError::Invalid));
        assert_eq!(parse_int_checked("3g"), Err(NumError::OutOfRange));
    }

    #[test]
    fn unsigned_like_git() {
        assert_eq!(parse_unsigned("10"), Some(10));
        assert_eq!(parse_unsigned("1k"), Some(1024));
        assert_eq!(parse_unsigned(""), None);
        assert_eq!(parse_unsigned("1x"), None);
        assert_eq!(
            parse_unsigned_checked("99999999999999999999"),
            Err(NumError::OutOfRange)
        );
        assert_eq!(
            parse_unsigned_checked("99999999999999999k"),
            Err(NumError::OutOfRange)
        );
        assert_eq!(parse_unsigned_checked("1x"), Err(NumError::Invalid));
        assert_eq!(parse_unsigned_checked(""), Err(NumError::Invalid));
        assert_eq!(parse_unsigned_checked("-1"), Err(NumError::Invalid));
    }
}
