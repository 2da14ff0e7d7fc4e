//! Options and commands that do not depend on the runtime, run once.

use super::*;

#[test]
fn credential_sources() {
    let local = Scratch::new("creds");
    let (user, pw) = (lab().user(), lab().password());
    let plain = format!("smb://{}/{SHARE}", lab().addr());
    let no_env = |args: &[&str]| run(cmd(args).env_remove("SMB_PASSWORD"));
    ok(no_env(&["ls", &plain, "-U", &format!("{user}%{pw}")]));
    ok(no_env(&[
        "ls",
        &plain,
        "-U",
        &format!("WORKGROUP\\{user}%{pw}"),
    ]));
    ok(no_env(&["ls", &plain, "-U", user, "--password", pw]));
    let auth = local.path("auth");
    std::fs::write(
        &auth,
        format!("username = {user}\npassword = {pw}\ndomain = WORKGROUP\n"),
    )
    .unwrap();
    ok(no_env(&["ls", &plain, "-A", &auth.to_string_lossy()]));
    ok(no_env(&[
        "ls",
        &format!("smb://{user}:{pw}@{}/{SHARE}", lab().addr()),
    ]));
    ok(run(cmd(&["ls", &base()])));
    // An explicit password wins over the environment.
    let o = run(cmd(&["ls", &base(), "--password", "wrong"]));
    fails(o, LOGON_FAILURE, "logon failure");
    // No password anywhere and no terminal: say how to give one.
    fails(no_env(&["ls", &base()]), USAGE, "SMB_PASSWORD");
    std::fs::write(&auth, "user = x\n").unwrap();
    fails(
        no_env(&["ls", &plain, "-A", &auth.to_string_lossy()]),
        USAGE,
        "line 1",
    );
    let o = no_env(&["ls", &plain, "-A", &local.file("missing")]);
    fails(o, 10, "local file");
}

#[test]
fn password_prompt_without_echo() {
    // Under a pseudo-terminal (script(1)): the prompt appears, the typed password is not
    // echoed, and the listing works.
    let pw = lab().password();
    let line = format!("'{SMB}' ls '{}'", base());
    let mut child = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env_remove("SMB_PASSWORD")
        .env_remove("SMB_RUNTIME")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 {
                break;
            }
            s2.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    wait_until("the password prompt", Duration::from_secs(20), || {
        String::from_utf8_lossy(&seen.lock().unwrap()).contains("Password for")
    });
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(format!("{pw}\n").as_bytes()).unwrap();
    let status = child.wait().unwrap();
    drop(stdin);
    reader.join().unwrap();
    let text = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    assert!(status.success(), "{text}");
    assert!(
        text.contains(&format!(
            "Password for {} on {}",
            lab().user(),
            lab().addr()
        )),
        "{text}"
    );
    assert!(!text.contains(pw), "the password was echoed:\n{text}");
}

#[test]
fn guest_and_anonymous() {
    lab()
        .put_file(GUEST_SHARE, "hello.txt", b"hello guest\n")
        .unwrap();
    let guest = format!("smb://{}/{GUEST_SHARE}", lab().addr());
    let o = ok(run(
        cmd(&["cat", &format!("{guest}/hello.txt")]).env_remove("SMB_PASSWORD")
    ));
    assert_eq!(o.stdout, b"hello guest\n");
    assert!(
        stderr(&o).contains("as guest"),
        "the CLI must say it runs as guest\n{}",
        show(&o)
    );
    let o = ok(run(cmd(&["--guest", "info", &guest])));
    assert!(
        stdout(&o).contains("logon:           guest"),
        "{}",
        show(&o)
    );
    // -q silences the notice, not the facts.
    let o = ok(run(cmd(&["-q", "--guest", "ls", &guest])));
    assert!(stderr(&o).is_empty(), "{}", show(&o));
    fails(
        run(cmd(&["--guest", "ls", &format!("{}/x", base())])),
        USAGE,
        "--guest logs in without a user",
    );
    fails(
        run(cmd(&[
            "--anonymous",
            "ls",
            &format!("smb://{}/{SHARE}", lab().addr()),
        ])),
        ACCESS_DENIED,
        "access denied",
    );
}

#[test]
fn security_options() {
    let o = ok(run(cmd(&["--sign", "info", &base()])));
    // Samba 4.17 on 3.1.1 picks AES-128-GMAC from SIGNING_CAPABILITIES.
    assert!(
        stdout(&o).contains("signing:         yes (AES-128-GMAC)"),
        "{}",
        show(&o)
    );
    assert!(stdout(&o).contains("large-mtu"), "{}", show(&o));
    let o = ok(run(cmd(&["--encrypt", "--json", "info", &base()])));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["encryption"], true, "{doc}");
    assert_eq!(doc["dialect"], "3.1.1", "{doc}");
    assert_eq!(doc["cipher"], "AES-128-GCM", "{doc}");
    assert!(
        doc["server_capabilities"]
            .as_array()
            .is_some_and(|a| a.iter().any(|c| c == "large-mtu")),
        "{doc}"
    );
    let o = ok(run(cmd(&[
        "--sign",
        "--max-dialect",
        "3.0",
        "info",
        &base(),
    ])));
    assert!(
        stdout(&o).contains("signing:         yes (AES-128-CMAC)"),
        "{}",
        show(&o)
    );
    let guest = format!("smb://{}/{GUEST_SHARE}", lab().addr());
    fails(
        run(cmd(&["--guest", "--sign", "ls", &guest])),
        SECURITY,
        "signing refused",
    );
    fails(
        run(cmd(&["--encrypt", "--max-dialect", "2.1", "ls", &base()])),
        SECURITY,
        "encryption refused",
    );
    let o = ok(run(cmd(&[
        "--max-dialect",
        "2.1",
        "--json",
        "info",
        &base(),
    ])));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["dialect"], "2.1", "{doc}");
    fails(
        run(cmd(&[
            "--min-dialect",
            "3.1.1",
            "--max-dialect",
            "3.0",
            "ls",
            &base(),
        ])),
        USAGE,
        "--min-dialect is above --max-dialect",
    );
    // This lab does not offer multichannel: one channel, and info says why.
    let o = ok(run(cmd(&["--channels", "4", "info", &base()])));
    assert!(
        stdout(&o).contains("channels:        1 (the server does not offer multichannel)"),
        "{}",
        show(&o)
    );
    let o = ok(run(cmd(&["--channels", "1", "info", &base()])));
    assert!(
        stdout(&o).contains("channels:        1 (--channels 1)"),
        "{}",
        show(&o)
    );
    ok(run(cmd(&["--channels", "4", "ls", &base()])));
    // The encrypted share: reported as such.
    let enc = format!("smb://{}@{}/encrypted", lab().user(), lab().addr());
    let o = ok(run(cmd(&["info", &enc])));
    assert!(stdout(&o).contains("encryption:      yes"), "{}", show(&o));
}

#[test]
fn timeout_against_a_silent_server() {
    // Accepts TCP and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = std::thread::spawn(move || {
        let conns: Vec<_> = listener.incoming().take(1).collect();
        std::thread::sleep(Duration::from_secs(4));
        drop(conns);
    });
    let url = format!("smb://u@127.0.0.1:{port}/s");
    let o = run(cmd(&["--timeout", "1s", "ls", &url]));
    fails(o, UNREACHABLE, "127.0.0.1");
    hold.join().unwrap();
}

#[test]
fn json_documents() {
    let (dir, _) = remote_dir("json");
    lab().put_file(SHARE, "json/a.txt", b"12345").unwrap();
    lab().put_file(SHARE, "json/d/b.txt", b"1234567").unwrap();
    let parse = |o: Output| -> serde_json::Value {
        let o = ok(o);
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}\n{}", show(&o)))
    };
    let ls = parse(run(cmd(&["--json", "ls", "-R", &dir])));
    let entries = ls["entries"].as_array().unwrap();
    let a = entries.iter().find(|e| e["name"] == "a.txt").unwrap();
    assert_eq!(a["path"], "/share/json/a.txt");
    assert_eq!(a["type"], "file");
    assert_eq!(a["size"], 5);
    assert!(a["modified"].as_str().unwrap().ends_with('Z'));
    assert!(entries.iter().any(|e| e["path"] == "/share/json/d/b.txt"));
    let st = parse(run(cmd(&["stat", "--json", &format!("{dir}/d")])));
    assert_eq!(st["entries"][0]["type"], "directory");
    assert!(
        st["entries"][0]["attributes"]
            .as_array()
            .unwrap()
            .contains(&"directory".into())
    );
    let du = parse(run(cmd(&["du", "-s", "--json", &dir])));
    assert_eq!(du["entries"][0]["bytes"], 12);
    assert_eq!(du["entries"][0]["files"], 2);
    let info = parse(run(cmd(&["info", "--json", &dir])));
    for field in [
        "server",
        "share",
        "runtime",
        "dialect",
        "signing",
        "encryption",
        "guest",
    ] {
        assert!(!info[field].is_null(), "info has no {field}: {info}");
    }
    fails(
        run(cmd(&["--json", "mkdir", &format!("{dir}/x")])),
        USAGE,
        "--json is for",
    );
}

#[test]
fn du_and_tree() {
    let (dir, _) = remote_dir("du");
    lab().put_file(SHARE, "du/a.bin", &[0u8; 2048]).unwrap();
    lab().put_file(SHARE, "du/sub/b.bin", &[0u8; 1024]).unwrap();
    let du = stdout(&ok(run(cmd(&["du", &dir]))));
    assert_eq!(du, "1024\t/share/du/sub\n3072\t/share/du\n", "{du}");
    let du = stdout(&ok(run(cmd(&["du", "-sh", &dir]))));
    assert_eq!(du, "3.0K\t/share/du\n");
    let tree = stdout(&ok(run(cmd(&["tree", &dir]))));
    assert_eq!(
        tree,
        "/share/du\n├── a.bin\n└── sub/\n    └── b.bin\n\n1 directory, 2 files\n"
    );
}

#[test]
fn resume_get_and_put() {
    let (dir, disk) = remote_dir("resume");
    let local = Scratch::new("resume");
    let content = data(5 * 1024 * 1024 + 77, 42);
    lab().put_file(SHARE, "resume/f.bin", &content).unwrap();
    // A partial local file (as an interrupted download of another tool leaves it).
    let half = content.len() / 2;
    std::fs::write(local.path("f.bin"), &content[..half]).unwrap();
    let o = ok(run(cmd(&[
        "get",
        "-c",
        &format!("{dir}/f.bin"),
        &local.file("f.bin"),
    ])));
    assert!(std::fs::read(local.path("f.bin")).unwrap() == content);
    assert!(
        stderr(&o).contains(&format!("{} bytes", content.len() - half)),
        "only the rest is transferred\n{}",
        show(&o)
    );
    // Complete already: nothing to do.
    let o = ok(run(cmd(&[
        "get",
        "-c",
        &format!("{dir}/f.bin"),
        &local.file("f.bin"),
    ])));
    assert!(stderr(&o).contains("complete already"), "{}", show(&o));
    // A partial temporary file from an interrupted `get --continue`.
    std::fs::remove_file(local.path("f.bin")).unwrap();
    std::fs::write(local.path(".f.bin.smbpart"), &content[..1000]).unwrap();
    ok(run(cmd(&[
        "get",
        "--continue",
        &format!("{dir}/f.bin"),
        &local.file("f.bin"),
    ])));
    assert!(std::fs::read(local.path("f.bin")).unwrap() == content);
    assert_eq!(names(&local.0), ["f.bin"]);

    // put --continue from a partial remote temporary file.
    std::fs::write(local.path("up.bin"), &content).unwrap();
    lab()
        .put_file(SHARE, "resume/.up.bin.smbpart", &content[..half])
        .unwrap();
    let o = ok(run(cmd(&[
        "put",
        "-c",
        &local.file("up.bin"),
        &format!("{dir}/"),
    ])));
    assert!(std::fs::read(disk.join("up.bin")).unwrap() == content);
    assert!(
        stderr(&o).contains(&format!("{} bytes", content.len() - half)),
        "{}",
        show(&o)
    );
    assert!(!disk.join(".up.bin.smbpart").exists());
    // A local file larger than the remote one is not "resumed".
    std::fs::write(local.path("f.bin"), data(content.len() + 10, 1)).unwrap();
    let o = run(cmd(&[
        "get",
        "-c",
        &format!("{dir}/f.bin"),
        &local.file("f.bin"),
    ]));
    fails(o, 10, "larger");
}

#[test]
fn get_to_a_closed_pipe_exits_0() {
    lab()
        .put_file(SHARE, "pipe/big.bin", &data(8 << 20, 3))
        .unwrap();
    for args in [
        vec![
            "get".to_string(),
            format!("{}/pipe/big.bin", base()),
            "-".into(),
        ],
        vec!["cat".to_string(), format!("{}/pipe/big.bin", base())],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut child = cmd(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut head = [0u8; 100];
        child
            .stdout
            .as_mut()
            .unwrap()
            .read_exact(&mut head)
            .unwrap();
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?} | head\n{}", show(&o));
        assert!(stderr(&o).is_empty(), "{}", show(&o));
    }
}

#[test]
fn bad_input() {
    let (dir, disk) = remote_dir("bad");
    lab().put_file(SHARE, "bad/a.txt", b"a").unwrap();
    lab().put_file(SHARE, "bad/b.txt", b"b").unwrap();
    lab().put_file(SHARE, "bad/full/x.txt", b"x").unwrap();
    fails(
        run(cmd(&["ls", "http://host/share"])),
        BAD_URL,
        "invalid url",
    );
    fails(
        run(cmd(&["ls", "smb://user@host:99999/share"])),
        BAD_URL,
        "invalid port",
    );
    fails(
        run(cmd(&["ls", "smb://127.0.0.1"])),
        BAD_URL,
        "no share name",
    );
    fails(run(cmd(&["ls", &format!("{dir}/../x")])), BAD_URL, "\"..\"");
    // Existing targets.
    fails(
        run(cmd(&["mkdir", &format!("{dir}/full")])),
        ALREADY_EXISTS,
        "already exists",
    );
    ok(run(cmd(&["mkdir", "-p", &format!("{dir}/full")])));
    let o = run(cmd(&["mv", &format!("{dir}/a.txt"), "/bad/b.txt"]));
    fails(o, ALREADY_EXISTS, "use mv -f");
    assert_eq!(
        std::fs::read(disk.join("b.txt")).unwrap(),
        b"b",
        "mv replaced the target"
    );
    ok(run(cmd(&[
        "mv",
        "-f",
        &format!("{dir}/a.txt"),
        "/bad/b.txt",
    ])));
    assert_eq!(std::fs::read(disk.join("b.txt")).unwrap(), b"a");
    // A directory that is not empty.
    fails(
        run(cmd(&["rmdir", &format!("{dir}/full")])),
        OTHER,
        "not empty",
    );
    fails(
        run(cmd(&["rm", &format!("{dir}/full")])),
        USAGE,
        "use rm -r",
    );
    // A pattern that matches nothing.
    fails(
        run(cmd(&["rm", &format!("{dir}/*.zip")])),
        NOT_FOUND,
        "no match",
    );
    ok(run(cmd(&[
        "rm",
        "-f",
        &format!("{dir}/*.zip"),
        "/bad/nothing",
    ])));
    // rm goes on after a failure and reports each: the existing file still goes.
    let o = run(cmd(&[
        "rm",
        &format!("{dir}/missing"),
        "/bad/full",
        "/bad/b.txt",
    ]));
    let err = stderr(&o);
    assert_eq!(
        o.status.code(),
        Some(USAGE),
        "worst of not found and usage\n{}",
        show(&o)
    );
    assert!(
        err.contains("/share/bad/missing") && err.contains("use rm -r"),
        "{err}"
    );
    assert!(err.contains("2 of 3 removals failed"), "{err}");
    assert!(
        !disk.join("b.txt").exists(),
        "rm stopped at the first failure"
    );
    // Local side: a missing source, a directory without -r.
    let local = Scratch::new("bad");
    fails(
        run(cmd(&["put", &local.file("nope"), &format!("{dir}/")])),
        10,
        "local file",
    );
    fails(
        run(cmd(&[
            "put",
            &local.0.to_string_lossy(),
            &format!("{dir}/"),
        ])),
        USAGE,
        "use put -r",
    );
    fails(
        run(cmd(&["get", &format!("{dir}/full"), &local.file("x")])),
        USAGE,
        "use get -r",
    );
    let o = run(cmd(&["frobnicate"]));
    assert_eq!(o.status.code(), Some(USAGE), "{}", show(&o));
    assert!(
        stderr(&o).contains("unrecognized subcommand"),
        "{}",
        show(&o)
    );
}

#[test]
fn progress_bars_only_on_a_terminal() {
    lab()
        .put_file(SHARE, "bars/f.bin", &data(16 << 20, 5))
        .unwrap();
    let local = Scratch::new("bars");
    let proxy = FaultProxy::start(lab().addr()).unwrap();
    proxy.set_response_delay(Duration::from_millis(5));
    let url = format!("smb://{}@{}/{SHARE}/bars/f.bin", lab().user(), proxy.addr());
    let line = format!("'{SMB}' get '{url}' '{}'", local.file("a.bin"));
    let o = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env("SMB_PASSWORD", lab().password())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{text}");
    assert!(
        text.contains("eta") && text.contains("a.bin ["),
        "no progress bar:\n{text}"
    );
    // Not a terminal: no bar, only the summary.
    let o = ok(run(cmd(&["get", &url, &local.file("b.bin")])));
    assert!(!stderr(&o).contains("eta"), "{}", show(&o));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", show(&o));
}

#[test]
fn password_never_printed() {
    let pw = lab().password();
    let o = ok(run(cmd(&["-vvv", "ls", &base()])));
    assert!(stderr(&o).contains("smb_tokio"), "no trace\n{}", show(&o));
    assert!(!stderr(&o).contains(pw) && !stdout(&o).contains(pw));
    let url = format!("smb://{}:{pw}@{}/no-such-share", lab().user(), lab().addr());
    let o = run(cmd(&["-vv", "ls", &url]).env_remove("SMB_PASSWORD"));
    assert_eq!(o.status.code(), Some(SHARE_NOT_FOUND), "{}", show(&o));
    assert!(
        stderr(&o).contains("smb_tokio") && !stderr(&o).contains(pw),
        "{}",
        show(&o)
    );
    let o = run(cmd(&["ls", &format!("smb://u:{pw}@host:0/s")]));
    assert!(!stderr(&o).contains(pw), "{}", show(&o));
    let o = run(cmd(&["--help"]).env("SMB_PASSWORD", "hunter2"));
    assert!(!stdout(&o).contains("hunter2"));
}

#[test]
fn help_reads_well() {
    let o = ok(run(cmd(&["--help"])));
    let help = stdout(&o);
    for needle in [
        "Examples:",
        "Exit codes",
        "-U, --user",
        "--runtime",
        "SMB_PASSWORD",
        "130",
    ] {
        assert!(help.contains(needle), "smb --help lacks {needle:?}\n{help}");
    }
    for c in [
        "ls", "tree", "get", "put", "cat", "mkdir", "rm", "rmdir", "mv", "cp", "stat", "du", "info",
    ] {
        let o = ok(run(cmd(&[c, "--help"])));
        assert!(
            stdout(&o).contains("Examples:"),
            "smb {c} --help has no examples"
        );
    }
}

#[test]
fn df_table_human_and_json() {
    let url = base();
    let o = ok(run(cmd(&["df", &url])));
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with("Share") && lines[0].contains("Use%"),
        "{text}"
    );
    let cols: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(cols[0], format!("//127.0.0.1/{SHARE}"), "{text}");
    let num = |i: usize| cols[i].parse::<u64>().unwrap_or_else(|_| panic!("{text}"));
    let (size, used, avail) = (num(1), num(2), num(3));
    assert!(size >= used && size >= avail && avail > 0, "{text}");
    assert!(cols[4].ends_with('%'), "{text}");
    assert_eq!(&cols[5..], ["NTFS", &format!("{SHARE:?}")], "{text}");

    let h = stdout(&ok(run(cmd(&["df", "-h", &url]))));
    let hcols: Vec<String> = h
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .map(String::from)
        .collect();
    for c in &hcols[1..4] {
        assert!(
            c.ends_with(['K', 'M', 'G', 'T', 'P', 'E']) || c.parse::<u64>().is_ok(),
            "{h}"
        );
    }
    assert!(
        hcols[1].ends_with(['G', 'T', 'P']),
        "a test disk of gigabytes at least: {h}"
    );

    let o = ok(run(cmd(&["--json", "df", &url])));
    let j: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}\n{}", show(&o)));
    let n = |f: &str| j[f].as_u64().unwrap_or_else(|| panic!("no {f}: {j}"));
    assert!(
        n("size") >= n("free") && n("free") >= n("available") && n("available") > 0,
        "{j}"
    );
    assert_eq!(n("used"), n("size") - n("free"), "{j}");
    assert!(n("use_percent") <= 100 && n("allocation_unit") > 0, "{j}");
    assert_eq!(j["label"], SHARE);
    assert_eq!(j["filesystem"], "NTFS");
    assert_eq!(j["share"], SHARE);
    assert!(
        j["attributes"]
            .as_array()
            .unwrap()
            .contains(&"case-preserved-names".into()),
        "{j}"
    );
    for c in ["df", "watch"] {
        let o = ok(run(cmd(&[c, "--help"])));
        assert!(
            stdout(&o).contains("Examples:"),
            "smb {c} --help has no examples"
        );
    }
    fails(run(cmd(&["--json", "watch", &url])), USAGE, "--json is for");
}

/// `smb watch` prints one line per change made by another `smb`, and Ctrl-C ends it with
/// 130 after cancelling the watch, closing the directory and logging off.
#[test]
fn watch_prints_changes_until_interrupted() {
    use smb_core::wire::Command as C;
    use std::io::BufRead;
    use std::sync::mpsc;
    for rt in ["tokio", "smol", "blocking"] {
        let tag = format!("watch-cli-{rt}");
        let (dir, _) = remote_dir(&tag);
        let proxy = FaultProxy::start(lab().addr()).unwrap();
        let url = format!("smb://{}@{}/{SHARE}/{tag}", lab().user(), proxy.addr());
        let mut child = spawn(rt, &["watch", "-r", &url]);
        let lines = |r: Box<dyn Read + Send>| {
            let (tx, rx) = mpsc::channel();
            let t = std::thread::spawn(move || {
                let mut all = String::new();
                for l in std::io::BufReader::new(r).lines().map_while(Result::ok) {
                    all.push_str(&l);
                    all.push('\n');
                    let _ = tx.send(l);
                }
                all
            });
            (rx, t)
        };
        let (out, out_t) = lines(Box::new(child.stdout.take().unwrap()));
        let (err, err_t) = lines(Box::new(child.stderr.take().unwrap()));
        let first = err
            .recv_timeout(Duration::from_secs(30))
            .expect("smb watch started");
        assert!(
            first.starts_with("watching /share/watch-cli-"),
            "{rt}: {first}"
        );
        ok(run(cmd(&["mkdir", &format!("{dir}/new")])));
        let l = out
            .recv_timeout(Duration::from_secs(10))
            .expect("a change line");
        assert_eq!(l, format!("added          {tag}/new"), "{rt}");
        ok(run(cmd(&["mkdir", &format!("{dir}/new/sub")])));
        let want = format!("{tag}/new/sub");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let l = out.recv_timeout(left).expect("the recursive change");
            if l.starts_with("added") && l.ends_with(&want) {
                break;
            }
        }
        let pid = child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-INT", &pid])
                .status()
                .unwrap()
                .success()
        );
        let status = child.wait().unwrap();
        let (_, errs) = (out_t.join().unwrap(), err_t.join().unwrap());
        assert_eq!(status.code(), Some(INTERRUPTED), "{rt}: {errs}");
        assert!(
            errs.contains("interrupted") && !errs.contains("panicked"),
            "{rt}: {errs}"
        );
        assert_eq!(
            proxy.request_count(C::Cancel),
            1,
            "{rt}: the watch was not cancelled"
        );
        assert!(
            proxy.request_count(C::Close) >= 1,
            "{rt}: the directory was not closed"
        );
        assert_eq!(
            proxy.request_count(C::Logoff),
            1,
            "{rt}: no LOGOFF after Ctrl-C"
        );
    }
}

/// `smb shares`: the lab's shares with their types and comments, as a table and as JSON, on
/// every runtime; a wrong password is a logon failure.
#[test]
fn shares_listing() {
    let url = format!("smb://{}@{}", lab().user(), lab().addr());
    for rt in ["tokio", "smol", "blocking"] {
        let table = stdout(&ok(smb(rt, &["shares", &url])));
        let mut lines = table.lines();
        assert_eq!(
            lines
                .next()
                .map(|l| l.split_whitespace().collect::<Vec<_>>()),
            Some(vec!["NAME", "TYPE", "COMMENT"]),
            "{table}"
        );
        for name in [SHARE, GUEST_SHARE, smb_testkit::READONLY_SHARE] {
            let line = table
                .lines()
                .find(|l| l.split_whitespace().next() == Some(name))
                .unwrap_or_else(|| panic!("{name} missing\n{table}"));
            let cols: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(cols[1], "disk", "{line}");
            assert!(line.ends_with(&smb_testkit::share_comment(name)), "{line}");
        }
        let ipc = table.lines().find(|l| l.starts_with("IPC$")).expect("IPC$");
        assert!(
            ipc.contains("ipc,special") && ipc.contains("IPC Service"),
            "{ipc}"
        );

        let json = stdout(&ok(smb(rt, &["shares", "--json", &url])));
        assert!(json.starts_with("{\"entries\":[\n"), "{json}");
        let want = format!(
            "{{\"name\":\"{SHARE}\",\"type\":\"disk\",\"type_bits\":0,\"special\":false,\
             \"temporary\":false,\"hidden\":false,\"comment\":\"{}\"}}",
            smb_testkit::share_comment(SHARE)
        );
        assert!(
            json.lines().any(|l| l.trim_end_matches(',') == want),
            "{json}"
        );
        assert!(
            json.contains("{\"name\":\"IPC$\",\"type\":\"ipc\",\"type_bits\":2147483651,\"special\":true,\"temporary\":false,\"hidden\":true,\"comment\":\"IPC Service"),
            "{json}"
        );
        assert_eq!(json.lines().count(), lab().shares().len() + 3, "{json}");
    }
    let o = run(cmd(&["shares", &url]).env("SMB_PASSWORD", "wrong"));
    fails(o, LOGON_FAILURE, "logon failure");
    let help = stdout(&ok(run(cmd(&["shares", "--help"]))));
    assert!(help.contains("smb shares smb://alice@files"), "{help}");
}
