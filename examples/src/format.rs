//! How the CLI prints times, sizes, attributes and dialects (text and JSON forms).

use smb_core::client::Dialect;

/// `YYYY-MM-DD HH:MM:SS` (UTC) of nanoseconds since the Unix epoch; dashes when unknown (0).
pub fn format_time(unix_nanos: u64) -> String {
    if unix_nanos == 0 {
        return "-".repeat(19);
    }
    let (date, secs_of_day) = civil(unix_nanos);
    format!(
        "{date} {:02}:{:02}:{:02}",
        secs_of_day / 3600,
        secs_of_day / 60 % 60,
        secs_of_day % 60
    )
}

/// RFC 3339 (UTC) of nanoseconds since the Unix epoch, with the 100 ns precision of a
/// FILETIME when the time has a fraction; `None` when unknown (0).
pub fn rfc3339(unix_nanos: u64) -> Option<String> {
    if unix_nanos == 0 {
        return None;
    }
    let (date, s) = civil(unix_nanos);
    let frac = unix_nanos % 1_000_000_000 / 100;
    let frac = if frac == 0 {
        String::new()
    } else {
        format!(".{frac:07}")
    };
    Some(format!(
        "{date}T{:02}:{:02}:{:02}{frac}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    ))
}

/// (`YYYY-MM-DD`, seconds of the day).
fn civil(unix_nanos: u64) -> (String, u64) {
    let secs = unix_nanos / 1_000_000_000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    (format!("{y:04}-{m:02}-{d:02}"), rem)
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// FILE_ATTRIBUTE_* bits and their names ([MS-FSCC] 2.6).
const ATTRIBUTE_NAMES: &[(u32, &str)] = &[
    (0x1, "readonly"),
    (0x2, "hidden"),
    (0x4, "system"),
    (0x10, "directory"),
    (0x20, "archive"),
    (0x80, "normal"),
    (0x100, "temporary"),
    (0x200, "sparse"),
    (0x400, "reparse-point"),
    (0x800, "compressed"),
    (0x1000, "offline"),
    (0x2000, "not-indexed"),
    (0x4000, "encrypted"),
];

/// FILE_ATTRIBUTE_HIDDEN ([MS-FSCC] 2.6).
pub const ATTR_HIDDEN: u32 = 0x2;
/// FILE_ATTRIBUTE_DIRECTORY ([MS-FSCC] 2.6).
pub const ATTR_DIRECTORY: u32 = 0x10;

/// The names of the attribute bits that are set, in bit order.
pub fn attribute_names(a: u32) -> Vec<&'static str> {
    ATTRIBUTE_NAMES
        .iter()
        .filter(|(bit, _)| a & bit != 0)
        .map(|(_, n)| *n)
        .collect()
}

/// `directory, archive (0x30)`; just the hex value when no known bit is set.
pub fn format_attributes(a: u32) -> String {
    let names = attribute_names(a);
    if names.is_empty() {
        format!("0x{a:x}")
    } else {
        format!("{} (0x{a:x})", names.join(", "))
    }
}

/// `1023`, `1.0K`, `15M`, `2.5G`... like `du -h` (powers of 1024, one decimal below 10).
pub fn human_size(n: u64) -> String {
    const UNITS: &[&str] = &["K", "M", "G", "T", "P", "E"];
    if n < 1024 {
        return n.to_string();
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if v < 10.0 {
        // Round up like du does, so 1025 bytes never shows as 1.0K.
        format!("{:.1}{}", (v * 10.0).ceil() / 10.0, UNITS[unit])
    } else {
        format!("{}{}", v.ceil() as u64, UNITS[unit])
    }
}

/// `3.1.1`, `2.0.2`... as on the command line (`--max-dialect`).
pub fn dialect_name(d: Dialect) -> String {
    match d {
        Dialect::Smb202 => "2.0.2".into(),
        Dialect::Smb210 => "2.1".into(),
        Dialect::Smb300 => "3.0".into(),
        Dialect::Smb302 => "3.0.2".into(),
        Dialect::Smb311 => "3.1.1".into(),
        Dialect::Wildcard => "2.??".into(),
        Dialect::Other(v) => format!("0x{v:04x}"),
        #[allow(unreachable_patterns)]
        _ => format!("{d:?}"),
    }
}

/// The dialect a command-line value names (`3.1.1`, `311`, `smb3.1.1`, `SMB3_11`...).
pub fn parse_dialect(s: &str) -> Result<Dialect, String> {
    let t: String = s
        .to_ascii_lowercase()
        .trim_start_matches("smb")
        .chars()
        .filter(|c| c.is_ascii_digit())
        .collect();
    match t.as_str() {
        "202" | "2" | "20" => Ok(Dialect::Smb202),
        "21" | "210" => Ok(Dialect::Smb210),
        "3" | "30" | "300" => Ok(Dialect::Smb300),
        "302" => Ok(Dialect::Smb302),
        "311" => Ok(Dialect::Smb311),
        _ => Err(format!(
            "unknown dialect {s:?} (expected 2.0.2, 2.1, 3.0, 3.0.2 or 3.1.1)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(format_time(0), "-------------------");
        assert_eq!(
            format_time(1_700_000_000 * 1_000_000_000),
            "2023-11-14 22:13:20"
        );
        assert_eq!(
            format_time(951_782_400 * 1_000_000_000),
            "2000-02-29 00:00:00"
        );
        assert_eq!(rfc3339(0), None);
        assert_eq!(
            rfc3339(1_700_000_000 * 1_000_000_000).unwrap(),
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(
            rfc3339(1_700_000_000 * 1_000_000_000 + 1_234_567_800).unwrap(),
            "2023-11-14T22:13:21.2345678Z"
        );
    }

    #[test]
    fn attributes_and_sizes() {
        assert_eq!(format_attributes(0x30), "directory, archive (0x30)");
        assert_eq!(format_attributes(0), "0x0");
        assert_eq!(attribute_names(0x22), ["hidden", "archive"]);
        assert_eq!(human_size(0), "0");
        assert_eq!(human_size(1023), "1023");
        assert_eq!(human_size(1024), "1.0K");
        assert_eq!(human_size(1025), "1.1K");
        assert_eq!(human_size(15 * 1024 * 1024), "15M");
        assert_eq!(human_size(5 * 1024 * 1024 * 1024 / 2), "2.5G");
    }

    #[test]
    fn dialects() {
        for (s, d) in [
            ("3.1.1", Dialect::Smb311),
            ("SMB3_11", Dialect::Smb311),
            ("2.0.2", Dialect::Smb202),
            ("2.1", Dialect::Smb210),
            ("3.0", Dialect::Smb300),
            ("3.0.2", Dialect::Smb302),
        ] {
            assert_eq!(parse_dialect(s), Ok(d), "{s}");
            assert_eq!(parse_dialect(&dialect_name(d)), Ok(d));
        }
        assert!(parse_dialect("4.0").is_err());
        assert!(parse_dialect("").is_err());
    }
}
