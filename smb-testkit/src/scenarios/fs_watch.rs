//! File-system information ([MS-FSCC] 2.5) and change notification ([MS-SMB2] 3.2.4.14)
//! against Samba, on every runtime.

use super::*;
use smb_core::driver::{NotifyAction, WatchEvent};
use smb_core::wire::change_notify::CompletionFilter;

/// A watch under test ([`Harness::watch`]).
pub trait Watching: Send {
    /// The next event within `wait`: an error of kind `TimedOut` if none came, `None` once
    /// the watch ended.
    fn next(&mut self, wait: Duration) -> BoxFut<'_, Option<io::Result<WatchEvent>>>;
}

/// How long a change made by another connection may take to be reported.
const NOTICE: Duration = Duration::from_secs(10);

/// `(size, available)` in bytes of the file system holding `path`, as `df` reports them.
fn df(path: &std::path::Path) -> (u64, u64) {
    let out = std::process::Command::new("df")
        .args(["-B1", "--output=size,avail"])
        .arg(path)
        .output()
        .expect("run df");
    let text = String::from_utf8_lossy(&out.stdout);
    let nums: Vec<u64> = text
        .lines()
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    assert_eq!(nums.len(), 2, "df output: {text}");
    (nums[0], nums[1])
}

/// File-system information is what Samba serves: the share's volume is the disk of its
/// directory (sizes as `df` sees them, within what concurrent writers change), labelled
/// with the share name, file system "NTFS" (Samba's default `fstype`).
pub async fn fs_info_matches_the_disk<H: Harness>(h: H) {
    let (_c, s) = setup(&h, "fsinfo").await;
    let info = h.fs_info(&s).await.expect("fs_info");
    let sp = info.space;
    assert!(sp.total >= sp.free && sp.free > 0, "{sp:?}");
    assert!(sp.available > 0 && sp.available <= sp.total, "{sp:?}");
    assert!(sp.unit > 0 && sp.total % sp.unit == 0, "{sp:?}");
    assert_eq!(sp.used(), sp.total - sp.free);
    let (size, avail) = df(&SambaServer::shared().share_path(SHARE));
    let near = |a: u64, b: u64, slack: u64| a.abs_diff(b) <= slack;
    assert!(
        near(sp.total, size, size / 100 + sp.unit),
        "{sp:?} vs df {size}"
    );
    // Other processes write to the same disk meanwhile.
    let slack = (size / 20).max(256 << 20);
    assert!(near(sp.free, avail, slack), "{sp:?} vs df avail {avail}");
    assert_eq!(info.label, SHARE);
    assert_eq!(info.fs_name, "NTFS");
    assert!(info.max_name_len >= 255, "{info:?}");
    assert!(
        info.has(smb_core::wire::fscc::FileFsAttributeInformation::CASE_PRESERVED_NAMES),
        "{info:?}"
    );
    assert_eq!(h.space(&s).await.expect("space").total, sp.total);
}

/// Read events until one is `want` (an action on a name); fails after [`NOTICE`].
async fn expect_change(w: &mut dyn Watching, action: NotifyAction, name: &str) {
    let deadline = Instant::now() + NOTICE;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match w.next(left).await {
            Some(Ok(WatchEvent::Changed(c))) if c.action == action && c.file_name == name => {
                return;
            }
            Some(Ok(e)) => seen.push(e),
            other => panic!("waiting for {action:?} {name:?}: {other:?} after {seen:?}"),
        }
    }
}

/// A second session on the shared server, for changes the watcher did not make.
async fn other_session<H: Harness>(h: &H) -> (H::Client, H::Share) {
    let (c, _) = h
        .connect(user_login(SambaServer::shared(), ClientConfig::default()))
        .await
        .expect("second login");
    let s = h.share(&c, SHARE).await.expect("second tree connect");
    (c, s)
}

/// A round trip on the watcher's connection: the server has read its CHANGE_NOTIFY (sent
/// before) once this is answered. Then a pause: a watch's start returns once its
/// CHANGE_NOTIFY is handed to the driver, not once the server has registered it (a known
/// gap: waiting for the interim STATUS_PENDING would close it), and a CI run on the blocking
/// runtime once missed the first change made right after.
async fn sync<H: Harness>(h: &H, s: &H::Share, dir: &str) {
    h.metadata(s, dir).await.expect("round trip");
    sleep(Duration::from_millis(300)).await;
    h.metadata(s, dir).await.expect("round trip");
}

/// A watch sees another connection create, modify, rename and delete a file.
pub async fn watch_sees_changes<H: Harness>(h: H) {
    let dir = "watch-basic";
    let (_c, s) = setup(&h, dir).await;
    let (_c2, s2) = other_session(&h).await;
    let mut w = h
        .watch(&s, dir, false, smb_core::driver::DEFAULT_WATCH_FILTER)
        .await
        .expect("watch");
    sync(&h, &s, dir).await;
    h.write(&s2, "watch-basic/a.txt", b"one".to_vec())
        .await
        .unwrap();
    expect_change(&mut *w, NotifyAction::Added, "a.txt").await;
    h.write_at(&s2, "watch-basic/a.txt", 3, b"two".to_vec())
        .await
        .unwrap();
    expect_change(&mut *w, NotifyAction::Modified, "a.txt").await;
    h.rename(&s2, "watch-basic/a.txt", "watch-basic/b.txt")
        .await
        .unwrap();
    expect_change(&mut *w, NotifyAction::RenamedOldName, "a.txt").await;
    expect_change(&mut *w, NotifyAction::RenamedNewName, "b.txt").await;
    h.remove_file(&s2, "watch-basic/b.txt").await.unwrap();
    expect_change(&mut *w, NotifyAction::Removed, "b.txt").await;
    // The watcher's own changes are reported too.
    h.create_dir(&s, "watch-basic/d").await.unwrap();
    expect_change(&mut *w, NotifyAction::Added, "d").await;
}

/// A recursive watch reports a change in a subdirectory (named from the watched
/// directory); a non-recursive one does not, but still sees its own level.
pub async fn watch_recursive_or_not<H: Harness>(h: H) {
    let dir = "watch-tree";
    let (_c, s) = setup(&h, dir).await;
    h.create_dir(&s, "watch-tree/sub").await.unwrap();
    let (_c2, s2) = other_session(&h).await;
    let names = CompletionFilter::FILE_NAME | CompletionFilter::DIR_NAME;
    let mut deep = h.watch(&s, dir, true, names).await.expect("watch -r");
    let mut flat = h.watch(&s, dir, false, names).await.expect("watch");
    sync(&h, &s, dir).await;
    h.write(&s2, "watch-tree/sub/x.txt", b"x".to_vec())
        .await
        .unwrap();
    expect_change(&mut *deep, NotifyAction::Added, "sub\\x.txt").await;
    match flat.next(Duration::from_millis(1500)).await {
        Some(Err(e)) if e.kind() == io::ErrorKind::TimedOut => {}
        other => panic!("a non-recursive watch saw a change below it: {other:?}"),
    }
    h.write(&s2, "watch-tree/y.txt", b"y".to_vec())
        .await
        .unwrap();
    expect_change(&mut *flat, NotifyAction::Added, "y.txt").await;
    expect_change(&mut *deep, NotifyAction::Added, "y.txt").await;
}

/// Dropping a watch cancels its CHANGE_NOTIFY (CANCEL, answered STATUS_CANCELLED) and
/// closes the directory; the connection goes on working.
pub async fn dropped_watch_is_cancelled<H: Harness>(h: H) {
    let (proxy, _c, s) = via_proxy(&h, SambaServer::shared()).await;
    let dir = "watch-drop";
    let _ = h.remove_dir_all(&s, dir).await;
    h.create_dir(&s, dir).await.unwrap();
    let w = h
        .watch(&s, dir, true, smb_core::driver::DEFAULT_WATCH_FILTER)
        .await
        .expect("watch");
    sync(&h, &s, dir).await;
    let pending = |p: &FaultProxy| {
        messages(&p.log()).iter().any(|m| {
            m.command == Command::ChangeNotify
                && m.response
                && m.status == smb_core::wire::NtStatus::PENDING
        })
    };
    assert!(
        wait_until(&proxy, NOTICE, pending).await,
        "no interim answer"
    );
    drop(w);
    // CANCEL, then the CLOSE of the directory; the notify answered STATUS_CANCELLED.
    let cancelled = |p: &FaultProxy| {
        let log = p.log();
        let reqs = requests(&log);
        let cancel = reqs.iter().position(|m| m.command == Command::Cancel);
        let closed = cancel.is_some_and(|i| reqs[i..].iter().any(|m| m.command == Command::Close));
        closed
            && messages(&log).iter().any(|m| {
                m.command == Command::ChangeNotify
                    && m.response
                    && m.status == smb_core::wire::NtStatus::CANCELLED
            })
    };
    assert!(
        wait_until(&proxy, NOTICE, cancelled).await,
        "no CANCEL + CLOSE, or the CHANGE_NOTIFY not cancelled: {:?}",
        requests(&proxy.log())
    );
    h.write(&s, "watch-drop/after.txt", b"ok".to_vec())
        .await
        .expect("the connection still works");
    assert_eq!(h.list(&s, dir).await.unwrap(), ["after.txt"]);
}

/// A watch waiting when the connection is cut: the client reconnects, but the directory
/// handle is not durable, so the watch ends with a clear error (not a hang); a new watch on
/// the recovered session works.
pub async fn watch_across_a_cut_ends_clearly<H: Harness>(h: H) {
    let (proxy, _c, s) = via_proxy(&h, SambaServer::shared()).await;
    let dir = "watch-cut";
    let _ = h.remove_dir_all(&s, dir).await;
    h.create_dir(&s, dir).await.unwrap();
    let names = CompletionFilter::FILE_NAME | CompletionFilter::DIR_NAME;
    let mut w = h.watch(&s, dir, false, names).await.expect("watch");
    sync(&h, &s, dir).await;
    proxy.cut_all();
    match w.next(Duration::from_secs(60)).await {
        Some(Err(e)) if e.kind() != io::ErrorKind::TimedOut => {
            assert!(e.to_string().contains("open it again"), "{e}");
        }
        other => panic!("a watch across a cut: {other:?}"),
    }
    assert!(w.next(Duration::from_millis(10)).await.is_none(), "ended");
    let mut again = h.watch(&s, dir, false, names).await.expect("watch again");
    sync(&h, &s, dir).await;
    h.create_dir(&s, "watch-cut/after").await.unwrap();
    expect_change(&mut *again, NotifyAction::Added, "after").await;
}

/// More changes than the server keeps while no CHANGE_NOTIFY is outstanding (Samba drops
/// its list past 1000 and answers the next request STATUS_NOTIFY_ENUM_DIR): the watch
/// reports [`WatchEvent::Overflow`] and goes on.
pub async fn watch_overflow_says_rescan<H: Harness>(h: H) {
    let dir = "watch-flood";
    let (_c, s) = setup(&h, dir).await;
    let (_c2, s2) = other_session(&h).await;
    let mut w = h
        .watch(
            &s,
            dir,
            false,
            CompletionFilter::FILE_NAME | CompletionFilter::DIR_NAME,
        )
        .await
        .expect("watch");
    sync(&h, &s, dir).await;
    h.create_dir(&s2, "watch-flood/first").await.unwrap();
    // Not polled meanwhile: the answer about "first" waits in the client and nothing is
    // outstanding, so the server queues what follows.
    sleep(Duration::from_millis(300)).await;
    for i in 0..1100 {
        h.create_dir(&s2, &format!("watch-flood/d{i}"))
            .await
            .unwrap();
    }
    expect_change(&mut *w, NotifyAction::Added, "first").await;
    let deadline = Instant::now() + NOTICE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match w.next(left).await {
            Some(Ok(WatchEvent::Overflow)) => break,
            Some(Ok(WatchEvent::Changed(_))) => {}
            other => panic!("waiting for the overflow: {other:?}"),
        }
    }
    // Still watching after the overflow.
    h.create_dir(&s2, "watch-flood/last").await.unwrap();
    expect_change(&mut *w, NotifyAction::Added, "last").await;
}
