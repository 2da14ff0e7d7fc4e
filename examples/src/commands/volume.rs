//! `smb df` (the share's volume: size, used, available, [MS-FSCC] 2.5) and `smb watch`
//! (changes in a directory as they happen, [MS-SMB2] 3.2.4.14).

use super::{Printer, stdout_io};
use crate::error::Failure;
use crate::format::{human_size, rfc3339};
use crate::json::Value;
use crate::location::Location;
use crate::remote::WatchEvent;
use crate::run::Ctx;
use crate::session::{Session, finish};
use smb_core::driver::{FsInfo, NotifyAction};
use std::time::Duration;

/// FileSystemAttributes names ([MS-FSCC] 2.5.1).
const FS_ATTRIBUTES: &[(u32, &str)] = &[
    (0x0000_0001, "case-sensitive-search"),
    (0x0000_0002, "case-preserved-names"),
    (0x0000_0004, "unicode-on-disk"),
    (0x0000_0008, "persistent-acls"),
    (0x0000_0010, "file-compression"),
    (0x0000_0020, "volume-quotas"),
    (0x0000_0040, "sparse-files"),
    (0x0000_0080, "reparse-points"),
    (0x0000_0100, "remote-storage"),
    (0x0000_8000, "volume-is-compressed"),
    (0x0001_0000, "object-ids"),
    (0x0002_0000, "encryption"),
    (0x0004_0000, "named-streams"),
    (0x0008_0000, "read-only-volume"),
    (0x0010_0000, "sequential-write-once"),
    (0x0020_0000, "transactions"),
    (0x0040_0000, "hard-links"),
    (0x0080_0000, "extended-attributes"),
    (0x0100_0000, "open-by-file-id"),
    (0x0200_0000, "usn-journal"),
    (0x0400_0000, "integrity-streams"),
    (0x0800_0000, "block-refcounting"),
    (0x1000_0000, "sparse-vdl"),
];

/// `Use%` as df computes it: used / (used + available), rounded up.
fn use_percent(used: u64, available: u64) -> u64 {
    let whole = u128::from(used) + u128::from(available);
    if whole == 0 {
        return 0;
    }
    (u128::from(used) * 100).div_ceil(whole) as u64
}

/// The JSON document of `smb df` (fields documented in the README).
fn df_json(server: &str, share: &str, fs: &FsInfo) -> Value {
    let sp = &fs.space;
    Value::Obj(vec![
        ("server", Value::from(server)),
        ("share", Value::from(share)),
        ("size", Value::Num(sp.total)),
        ("used", Value::Num(sp.used())),
        ("free", Value::Num(sp.free)),
        ("available", Value::Num(sp.available)),
        (
            "use_percent",
            Value::Num(use_percent(sp.used(), sp.available)),
        ),
        ("allocation_unit", Value::Num(sp.unit)),
        ("label", Value::from(fs.label.as_str())),
        ("serial", Value::Num(u64::from(fs.serial))),
        (
            "created",
            Value::opt_str(rfc3339(fs.created.to_unix_nanos())),
        ),
        ("filesystem", Value::from(fs.fs_name.as_str())),
        ("max_name_length", Value::Num(u64::from(fs.max_name_len))),
        (
            "attributes",
            Value::Arr(
                FS_ATTRIBUTES
                    .iter()
                    .filter(|(b, _)| fs.has(*b))
                    .map(|(_, n)| Value::from(*n))
                    .collect(),
            ),
        ),
        ("attribute_bits", Value::Num(u64::from(fs.attributes))),
    ])
}

/// The text of `smb df`: a header and one line, like df.
fn df_text(share: &str, fs: &FsInfo, human: bool) -> String {
    let sp = &fs.space;
    let n = |v: u64| if human { human_size(v) } else { v.to_string() };
    let w = if human { 6 } else { 15 };
    format!(
        "{:<20} {:>w$} {:>w$} {:>w$} {:>4} {}\n{:<20} {:>w$} {:>w$} {:>w$} {:>3}% {} {:?}\n",
        "Share",
        "Size",
        "Used",
        "Avail",
        "Use%",
        "Type Label",
        share,
        n(sp.total),
        n(sp.used()),
        n(sp.available),
        use_percent(sp.used(), sp.available),
        fs.fs_name,
        fs.label,
    )
}

/// `smb df [-h] URL`: the share's volume.
pub fn df(ctx: &Ctx, url: &str, human: bool) -> Result<(), Failure> {
    let loc = Location::parse(url)?;
    let s = Session::open(ctx, &loc)?;
    let r = (|| {
        let fs = s.remote.fs_info().map_err(s.err(""))?;
        let shown = format!("//{}/{}", loc.host, s.share);
        let text = if ctx.g.json {
            format!("{}\n", df_json(&s.server, &s.share, &fs).to_text())
        } else {
            df_text(&shown, &fs, human)
        };
        let mut p = Printer::new();
        match p.write(&text) {
            Ok(()) => p.flush(),
            Err(e) => Err(p.explain(stdout_io(e), s.err(""))),
        }
    })();
    finish(s, r.or_else(|f| if f.code == 0 { Ok(()) } else { Err(f) }))
}

/// The word `smb watch` prints for an action ([MS-FSCC] 2.7.1).
fn action_word(a: NotifyAction) -> String {
    use NotifyAction::*;
    match a {
        Added => "added",
        Removed => "removed",
        Modified => "modified",
        RenamedOldName => "renamed-from",
        RenamedNewName => "renamed-to",
        AddedStream => "stream-added",
        RemovedStream => "stream-removed",
        ModifiedStream => "stream-modified",
        RemovedByDelete => "removed-by-delete",
        IdNotTunnelled => "id-not-tunnelled",
        TunnelledIdCollision => "tunnelled-id-collision",
        Other(v) => return format!("action-{v:#x}"),
    }
    .to_string()
}

/// One line of `smb watch`: the action and the path from the share root (`/`-separated).
fn watch_line(dir: &str, e: &WatchEvent) -> String {
    let join = |name: &str| {
        let name = name.replace('\\', "/");
        if dir.is_empty() {
            name
        } else {
            format!("{}/{name}", dir.replace('\\', "/"))
        }
    };
    match e {
        WatchEvent::Changed(c) => format!("{:<14} {}\n", action_word(c.action), join(&c.file_name)),
        WatchEvent::Overflow => format!(
            "{:<14} {}\n",
            "rescan",
            if dir.is_empty() {
                "/".to_string()
            } else {
                join("")
            }
        ),
    }
}

/// How often `smb watch` looks for Ctrl-C while no change comes.
const WATCH_TICK: Duration = Duration::from_millis(200);

/// `smb watch [-r] URL`: print changes until interrupted.
pub fn watch(ctx: &Ctx, url: &str, recursive: bool) -> Result<(), Failure> {
    let loc = Location::parse(url)?;
    let s = Session::open(ctx, &loc)?;
    let dir = loc.path.clone();
    let r = (|| {
        let mut w = s.remote.watch(&dir, recursive).map_err(s.err(&dir))?;
        if !ctx.ui.quiet {
            eprintln!(
                "watching {}{} (Ctrl-C to stop)",
                s.shown(&dir),
                if recursive { " and below" } else { "" }
            );
        }
        let mut p = Printer::new();
        loop {
            crate::interrupt::check()?;
            let Some(e) = w.next(WATCH_TICK).map_err(s.err(&dir))? else {
                continue;
            };
            if e == WatchEvent::Overflow && !ctx.ui.quiet {
                eprintln!("smb: the server lost track of the changes: list the directory again");
            }
            if let Err(e) = p
                .write(&watch_line(&dir, &e))
                .and_then(|_| std::io::Write::flush(&mut p))
            {
                return Err(p.explain(stdout_io(e), s.err(&dir)));
            }
        }
    })();
    finish(s, r.or_else(|f| if f.code == 0 { Ok(()) } else { Err(f) }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use smb_core::driver::{FileNotifyInformation, FsSpace};

    #[test]
    fn df_lines_and_json() {
        let fs = FsInfo {
            space: FsSpace {
                total: 1 << 30,
                free: 3 << 28,
                available: 1 << 28,
                unit: 4096,
            },
            label: "data".into(),
            serial: 7,
            created: smb_core::time::FileTime(0),
            fs_name: "NTFS".into(),
            attributes: 0x3,
            max_name_len: 255,
        };
        assert_eq!(use_percent(1 << 28, 1 << 28), 50);
        assert_eq!(use_percent(1, 2), 34);
        assert_eq!(use_percent(0, 0), 0);
        let t = df_text("//h/s", &fs, true);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("Share"), "{t}");
        let cols: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(
            cols,
            ["//h/s", "1.0G", "256M", "256M", "50%", "NTFS", "\"data\""]
        );
        let t = df_text("//h/s", &fs, false);
        assert!(t.contains(&(1u64 << 30).to_string()), "{t}");
        let j = df_json("h:445", "s", &fs).to_text();
        assert!(
            j.starts_with(r#"{"server":"h:445","share":"s","size":1073741824,"used":268435456,"#),
            "{j}"
        );
        assert!(j.contains(r#""created":null"#), "{j}");
        assert!(
            j.contains(r#""attributes":["case-sensitive-search","case-preserved-names"]"#),
            "{j}"
        );
    }

    #[test]
    fn watch_lines() {
        let c = |a, n: &str| {
            WatchEvent::Changed(FileNotifyInformation {
                action: a,
                file_name: n.into(),
            })
        };
        assert_eq!(
            watch_line("a\\b", &c(NotifyAction::Added, "x\\y.txt")),
            "added          a/b/x/y.txt\n"
        );
        assert_eq!(
            watch_line("", &c(NotifyAction::RenamedNewName, "n")),
            "renamed-to     n\n"
        );
        assert_eq!(
            watch_line("", &c(NotifyAction::Other(0x42), "n")),
            "action-0x42    n\n"
        );
        assert_eq!(watch_line("", &WatchEvent::Overflow), "rescan         /\n");
        assert_eq!(
            watch_line("d", &WatchEvent::Overflow),
            "rescan         d/\n"
        );
    }
}
