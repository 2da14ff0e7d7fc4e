//! Real SMB2 messages captured from Samba (scripts/capture-fixtures): every fixture's header
//! decodes and agrees with its file name and the index.

use smb_core::wire::{Header, HeaderFlags};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/samba")
}

struct Entry {
    file: String,
    dir: String,
    command: String,
    message_id: u64,
    status: u32,
    len: usize,
    chain: Vec<String>,
}

fn index() -> Vec<Entry> {
    let text = std::fs::read_to_string(fixtures_dir().join("index.tsv")).expect("index.tsv");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 8, "bad index line {l:?}");
            Entry {
                file: f[0].to_string(),
                dir: f[2].to_string(),
                command: f[3].to_string(),
                message_id: f[4].parse().unwrap(),
                status: u32::from_str_radix(f[5].trim_start_matches("0x"), 16).unwrap(),
                len: f[6].parse().unwrap(),
                chain: f[7].split(',').map(str::to_string).collect(),
            }
        })
        .collect()
}

#[test]
fn every_fixture_header_decodes_and_matches_its_name() {
    let entries = index();
    assert!(
        entries.len() > 100,
        "expected the captured set, got {}",
        entries.len()
    );
    for e in &entries {
        let bytes = std::fs::read(fixtures_dir().join(&e.file)).expect(&e.file);
        assert_eq!(bytes.len(), e.len, "{}", e.file);
        let name = Path::new(&e.file).file_stem().unwrap().to_str().unwrap();
        // <seq>-<COMMAND>-<req|resp>
        let mut parts = name.splitn(2, '-');
        let _seq: u32 = parts.next().unwrap().parse().expect("sequence number");
        let rest = parts.next().unwrap();
        let (cmd_name, dir) = rest.rsplit_once('-').unwrap();
        assert_eq!(dir, e.dir, "{}", e.file);
        assert_eq!(cmd_name, e.command, "{}", e.file);

        let h = Header::decode(&bytes).unwrap_or_else(|err| panic!("{}: {err:?}", e.file));
        assert_eq!(h.command.name(), cmd_name, "{}", e.file);
        assert_eq!(h.is_response(), dir == "resp", "{}", e.file);
        assert_eq!(h.message_id, e.message_id, "{}", e.file);
        if h.is_response() {
            assert_eq!(h.status.0, e.status, "{}", e.file);
            // Interim responses are the only async ones Samba sends for these sessions.
            if h.flags.has(HeaderFlags::ASYNC_COMMAND) {
                assert!(h.async_id().is_some());
            }
        }

        // Walk the compound chain (if any) and check every element's command.
        let mut off = 0usize;
        let mut seen = Vec::new();
        loop {
            let h =
                Header::decode(&bytes[off..]).unwrap_or_else(|err| panic!("{}: {err:?}", e.file));
            seen.push(h.command.name().to_string());
            if h.next_command == 0 {
                break;
            }
            assert_eq!(
                h.next_command % 8,
                0,
                "{}: NextCommand must be 8-aligned",
                e.file
            );
            off += h.next_command as usize;
            assert!(
                off + 64 <= bytes.len(),
                "{}: chain runs past the end",
                e.file
            );
        }
        assert_eq!(seen, e.chain, "{}", e.file);
    }
}

#[test]
fn index_covers_every_file_and_every_dialect() {
    let entries = index();
    let listed: BTreeSet<String> = entries.iter().map(|e| e.file.clone()).collect();
    let mut on_disk = BTreeSet::new();
    let mut dialects = BTreeSet::new();
    for d in std::fs::read_dir(fixtures_dir()).unwrap() {
        let d = d.unwrap();
        if !d.file_type().unwrap().is_dir() {
            continue;
        }
        let dialect = d.file_name().into_string().unwrap();
        for f in std::fs::read_dir(d.path()).unwrap() {
            let f = f.unwrap().file_name().into_string().unwrap();
            on_disk.insert(format!("{dialect}/{f}"));
        }
        dialects.insert(dialect);
    }
    assert_eq!(listed, on_disk);
    for d in ["SMB2_02", "SMB2_10", "SMB3_00", "SMB3_02", "SMB3_11"] {
        assert!(dialects.contains(d), "no fixtures for {d}");
        for cmd in [
            "NEGOTIATE",
            "SESSION_SETUP",
            "TREE_CONNECT",
            "CREATE",
            "CLOSE",
            "READ",
            "WRITE",
        ] {
            for dir in ["req", "resp"] {
                assert!(
                    entries
                        .iter()
                        .any(|e| e.file.starts_with(d) && e.command == cmd && e.dir == dir),
                    "{d}: no {cmd} {dir}"
                );
            }
        }
    }
}
