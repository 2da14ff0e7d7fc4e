//! Per-runtime transfers: round trips of files and trees, many files in flight.

use super::*;

pub(super) fn round_trip(rt: &str) {
    let tag = format!("rt-{rt}");
    let (dir, disk) = remote_dir(&tag);
    let local = Scratch::new(&tag);

    // Several MiB and an odd size, so that reads and writes span many requests.
    let content = data(3 * 1024 * 1024 + 12_345, rt.len() as u64);
    std::fs::write(local.path("up.bin"), &content).unwrap();
    let o = ok(smb(
        rt,
        &["-vv", "put", &local.file("up.bin"), &format!("{dir}/")],
    ));
    assert_runtime(&o, rt);
    let summary = stderr(&o);
    assert!(
        summary.contains(&format!("put /share/{tag}/up.bin: {} bytes", content.len()))
            && summary.contains(&format!("MB/s, {rt})")),
        "no transfer summary naming the runtime\n{}",
        show(&o)
    );
    assert!(std::fs::read(disk.join("up.bin")).unwrap() == content);
    assert_eq!(names(&disk), ["up.bin"], "a temporary file was left behind");

    let o = ok(smb(
        rt,
        &["get", &format!("{dir}/up.bin"), &local.file("down.bin")],
    ));
    assert!(stderr(&o).contains(&format!(", {rt})")), "{}", show(&o));
    assert!(std::fs::read(local.path("down.bin")).unwrap() == content);
    assert_eq!(names(&local.0), ["down.bin", "up.bin"]);

    // ls: short names, then the long format with size.
    lab()
        .put_file(SHARE, &format!("{tag}/sub/small.txt"), b"small file\n")
        .unwrap();
    lab()
        .put_file(SHARE, &format!("{tag}/.hidden"), b"h")
        .unwrap();
    let ls = stdout(&ok(smb(rt, &["ls", &dir])));
    let mut lines: Vec<&str> = ls.lines().collect();
    lines.sort();
    assert_eq!(lines, ["sub/", "up.bin"], "ls:\n{ls}");
    let ls = stdout(&ok(smb(rt, &["ls", "-la", &dir])));
    let line = ls.lines().find(|l| l.ends_with(" up.bin")).unwrap_or("");
    assert!(
        line.starts_with('-') && line.contains(&content.len().to_string()),
        "{ls}"
    );
    assert!(ls.lines().any(|l| l.ends_with(" .hidden")), "ls -a:\n{ls}");
    assert!(
        ls.lines()
            .any(|l| l.starts_with('d') && l.ends_with(" sub/")),
        "{ls}"
    );
    let ls = stdout(&ok(smb(rt, &["ls", "-R", &dir])));
    assert!(
        ls.contains(&format!("/share/{tag}/sub:\nsmall.txt\n")),
        "ls -R:\n{ls}"
    );

    let st = stdout(&ok(smb(rt, &["stat", &format!("{dir}/up.bin")])));
    assert!(
        st.contains(&format!("size:       {}", content.len())),
        "{st}"
    );
    assert!(st.contains("type:       file"), "{st}");

    let cat = ok(smb(rt, &["cat", &format!("{dir}/sub/small.txt")]));
    assert_eq!(cat.stdout, b"small file\n");

    // Server-side copy, then moves.
    ok(smb(
        rt,
        &["cp", &format!("{dir}/up.bin"), &format!("/{tag}/copy.bin")],
    ));
    assert!(std::fs::read(disk.join("copy.bin")).unwrap() == content);
    ok(smb(
        rt,
        &["mv", &format!("{dir}/copy.bin"), &format!("/{tag}/sub/")],
    ));
    assert!(disk.join("sub/copy.bin").is_file() && !disk.join("copy.bin").exists());

    ok(smb(rt, &["rm", &format!("{dir}/up.bin")]));
    assert!(!disk.join("up.bin").exists(), "rm left the file");
    fails(
        smb(rt, &["stat", &format!("{dir}/up.bin")]),
        NOT_FOUND,
        "not found",
    );
    ok(smb(rt, &["rm", "-r", &dir]));
    assert!(!disk.exists(), "rm -r left the directory");
}

/// Many small files: `put -r` and `get -r` on one session with requests of many files in
/// flight at once (seen at a proxy), and patterns.
pub(super) fn many_files(rt: &str) {
    const FILES: usize = 300;
    let tag = format!("many-{rt}");
    let (_, disk) = remote_dir(&tag);
    let local = Scratch::new(&tag);
    let src = local.path("src");
    std::fs::create_dir_all(src.join("deeper")).unwrap();
    for i in 0..FILES {
        let sub = if i % 10 == 0 { "deeper/" } else { "" };
        let ext = if i % 3 == 0 { "log" } else { "dat" };
        std::fs::write(
            src.join(format!("{sub}f{i:03}.{ext}")),
            data(4096, i as u64),
        )
        .unwrap();
    }
    let proxy = FaultProxy::start(lab().addr()).unwrap();
    let url = format!("smb://{}@{}/{SHARE}/{tag}", lab().user(), proxy.addr());
    ok(smb(
        rt,
        &["put", "-r", &local.file("src"), &format!("{url}/")],
    ));
    assert_eq!(proxy.connections(), 1, "one session for every file");
    let peak = peak_in_flight(&proxy, smb_core::wire::Command::Write);
    assert!(
        peak >= 4,
        "WRITEs of different files never overlapped (peak {peak})"
    );
    for i in (0..FILES).step_by(37) {
        let sub = if i % 10 == 0 { "deeper/" } else { "" };
        let ext = if i % 3 == 0 { "log" } else { "dat" };
        let p = disk.join(format!("src/{sub}f{i:03}.{ext}"));
        assert!(
            std::fs::read(&p).unwrap() == data(4096, i as u64),
            "{}",
            p.display()
        );
    }
    assert_eq!(names(&disk.join("src")).len(), FILES - FILES / 10 + 1);

    proxy.clear_log();
    let back = local.path("back");
    ok(smb(
        rt,
        &[
            "get",
            "-r",
            &format!("{url}/src"),
            &format!("{}/", back.display()),
        ],
    ));
    let peak = peak_in_flight(&proxy, smb_core::wire::Command::Read);
    assert!(
        peak >= 4,
        "READs of different files never overlapped (peak {peak})"
    );
    let got = back.join("src");
    assert_eq!(names(&got).len(), FILES - FILES / 10 + 1);
    assert_eq!(names(&got.join("deeper")).len(), FILES / 10);
    for i in (0..FILES).step_by(41) {
        let sub = if i % 10 == 0 { "deeper/" } else { "" };
        let ext = if i % 3 == 0 { "log" } else { "dat" };
        let name = format!("{sub}f{i:03}.{ext}");
        assert!(
            std::fs::read(got.join(&name)).unwrap() == data(4096, i as u64),
            "{name}"
        );
    }

    // A pattern into a new directory (trailing /), then a pattern that matches nothing.
    let logs = local.path("logs");
    ok(smb(
        rt,
        &[
            "get",
            &format!("{url}/src/*.log"),
            &format!("{}/", logs.display()),
        ],
    ));
    let expected = (0..FILES).filter(|i| i % 3 == 0 && i % 10 != 0).count();
    assert_eq!(names(&logs).len(), expected);
    assert!(names(&logs).iter().all(|n| n.ends_with(".log")));
    fails(
        smb(
            rt,
            &["get", &format!("{url}/src/*.zip"), &local.file("none/")],
        ),
        NOT_FOUND,
        "no match",
    );
    ok(smb(rt, &["rm", "-r", &url]));
}

/// The most requests of `command` waiting for their response at any point of the proxy's
/// log (an interim STATUS_PENDING response counts as the answer).
fn peak_in_flight(proxy: &FaultProxy, command: smb_core::wire::Command) -> usize {
    use smb_testkit::Seen;
    let mut open = std::collections::HashSet::new();
    let mut peak = 0;
    for e in proxy.log() {
        if let Seen::Smb2 {
            command: c,
            message_id,
            response,
            ..
        } = e.what
        {
            if c != command {
                continue;
            }
            if response {
                open.remove(&message_id);
            } else {
                open.insert(message_id);
                peak = peak.max(open.len());
            }
        }
    }
    peak
}
