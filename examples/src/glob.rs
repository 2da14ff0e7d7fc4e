//! Wildcards in remote paths and local sources: `*` (any run of characters) and `?` (one
//! character), matched case-insensitively as SMB servers do. Like a shell, a wildcard does
//! not match a leading `.` (use a pattern that starts with `.` for hidden files).

/// Whether `s` contains a wildcard.
pub fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?'])
}

/// Whether `name` matches `pattern`.
pub fn matches(pattern: &str, name: &str) -> bool {
    if name.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    let p: Vec<char> = pattern.chars().flat_map(char::to_lowercase).collect();
    let n: Vec<char> = name.chars().flat_map(char::to_lowercase).collect();
    // Iterative matcher with one backtrack point (the last `*`): linear in practice.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(&c) if c == '?' || c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(has_wildcard("*.gz") && has_wildcard("a?") && !has_wildcard("a.b"));
        assert!(matches("*.gz", "log.1.gz"));
        assert!(matches("*.GZ", "Log.gz"));
        assert!(!matches("*.gz", "log.gzip"));
        assert!(matches("log?.txt", "log1.txt"));
        assert!(!matches("log?.txt", "log12.txt"));
        assert!(matches("*", "anything"));
        assert!(!matches("*", ".hidden"));
        assert!(matches(".*", ".hidden"));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a*b*c", "aXXbYY"));
        assert!(matches("**a", "a"));
        assert!(matches("", ""));
        assert!(!matches("", "x"));
        assert!(matches("ä*", "Äpfel"));
    }
}
