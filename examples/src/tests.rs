//! Commands run in-process against an in-memory share that can fail on cue: what a failed
//! or interrupted transfer leaves behind, the resolver and security checks, without a
//! server. (The same commands run against Samba in `tests/cli.rs`.)

use crate::cli::Cli;
use crate::credentials::{Prompt, Secret};
use crate::error::{Failure, Phase, exit};
use crate::remote::{
    ConnectSpec, Entry, Meta, Negotiated, Remote, RemoteWrite, Runtime, ShareInfo,
};
use crate::resolve::StaticResolver;
use crate::run::{System, run_with};
use clap::Parser;
use smb_core::client::Dialect;
use smb_core::url::split_parent;
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Fs {
    files: BTreeMap<String, Vec<u8>>,
    dirs: Vec<String>,
    /// Reads fail after this many bytes of a file.
    fail_read_after: Option<usize>,
    /// Writes fail after this many bytes of a file.
    fail_write_after: Option<usize>,
    /// The session reports itself as guest.
    guest: bool,
    /// The session is signed.
    signing: bool,
    closed: usize,
}

#[derive(Clone, Default)]
struct Mem(Arc<Mutex<Fs>>);

fn nf(p: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("not found: {p}"))
}

impl Mem {
    fn fs(&self) -> std::sync::MutexGuard<'_, Fs> {
        self.0.lock().unwrap()
    }
}

struct MemReader {
    data: Vec<u8>,
    pos: usize,
    fail_after: Option<usize>,
}

impl Read for MemReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.fail_after.is_some_and(|n| self.pos >= n) {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "connection lost",
            ));
        }
        let end = (self.pos + buf.len().min(300_000)).min(self.data.len());
        let end = self.fail_after.map_or(end, |n| end.min(n.max(self.pos)));
        let n = end - self.pos;
        buf[..n].copy_from_slice(&self.data[self.pos..end]);
        self.pos = end;
        Ok(n)
    }
}

struct MemWriter {
    mem: Mem,
    path: String,
    data: Vec<u8>,
    fail_after: Option<usize>,
}

impl Write for MemWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.fail_after.is_some_and(|n| self.data.len() >= n) {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "connection lost",
            ));
        }
        let n = buf.len().min(200_000);
        self.data.extend_from_slice(&buf[..n]);
        // What reached the server stays there, as on a real server.
        self.mem
            .fs()
            .files
            .insert(self.path.clone(), self.data.clone());
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl RemoteWrite for MemWriter {
    fn finish(self: Box<Self>) -> io::Result<()> {
        Ok(())
    }
}

impl Remote for Mem {
    fn runtime(&self) -> Runtime {
        Runtime::Blocking
    }
    fn stats(&self) -> io::Result<smb_core::driver::StatsSnapshot> {
        Err(io::Error::other("no engine behind the in-memory share"))
    }
    fn negotiated(&self) -> Negotiated {
        let fs = self.fs();
        Negotiated {
            dialect: Dialect::Smb311,
            signing: fs.signing,
            encryption: false,
            guest: fs.guest,
            anonymous: false,
            signing_algorithm: fs
                .signing
                .then_some(smb_core::client::SigningAlgorithm::AesGmac),
            cipher: None,
            capabilities: 0,
        }
    }
    fn share_info(&self) -> io::Result<ShareInfo> {
        Ok(ShareInfo::default())
    }
    fn metadata(&self, p: &str) -> io::Result<Meta> {
        let fs = self.fs();
        if p.is_empty() || fs.dirs.iter().any(|d| d == p) {
            return Ok(Meta {
                is_dir: true,
                attributes: 0x10,
                ..Meta::default()
            });
        }
        let f = fs.files.get(p).ok_or_else(|| nf(p))?;
        Ok(Meta {
            size: f.len() as u64,
            attributes: 0x20,
            ..Meta::default()
        })
    }
    fn list(&self, p: &str, each: &mut dyn FnMut(Entry) -> io::Result<()>) -> io::Result<()> {
        let names: Vec<String> = {
            let fs = self.fs();
            fs.files
                .keys()
                .chain(fs.dirs.iter())
                .filter(|k| split_parent(k).0 == p)
                .cloned()
                .collect()
        };
        for n in names {
            let meta = self.metadata(&n)?;
            let name = split_parent(&n).1.to_string();
            each(Entry { name, meta })?;
        }
        Ok(())
    }
    fn open_read<'a>(&'a self, p: &str, offset: u64) -> io::Result<Box<dyn Read + Send + 'a>> {
        let fs = self.fs();
        let data = fs.files.get(p).cloned().ok_or_else(|| nf(p))?;
        Ok(Box::new(MemReader {
            data,
            pos: offset as usize,
            fail_after: fs.fail_read_after,
        }))
    }
    fn create<'a>(&'a self, p: &str) -> io::Result<Box<dyn RemoteWrite + 'a>> {
        self.open_at(p, 0)
    }
    fn open_at<'a>(&'a self, p: &str, offset: u64) -> io::Result<Box<dyn RemoteWrite + 'a>> {
        let mut fs = self.fs();
        let mut data = fs.files.get(p).cloned().unwrap_or_default();
        data.truncate(offset as usize);
        fs.files.insert(p.to_string(), data.clone());
        Ok(Box::new(MemWriter {
            mem: self.clone(),
            path: p.to_string(),
            data,
            fail_after: fs.fail_write_after,
        }))
    }
    fn read_whole(&self, p: &str) -> io::Result<Vec<u8>> {
        let mut r = self.open_read(p, 0)?;
        let mut v = Vec::new();
        r.read_to_end(&mut v)?;
        Ok(v)
    }
    fn write_whole(&self, p: &str, data: Vec<u8>) -> io::Result<()> {
        let mut w = self.create(p)?;
        w.write_all(&data)?;
        w.finish()
    }
    fn mkdir(&self, p: &str, _parents: bool) -> io::Result<()> {
        self.fs().dirs.push(p.to_string());
        Ok(())
    }
    fn remove_file(&self, p: &str) -> io::Result<()> {
        self.fs().files.remove(p).map(drop).ok_or_else(|| nf(p))
    }
    fn remove_dir(&self, p: &str, _recursive: bool) -> io::Result<()> {
        self.fs().dirs.retain(|d| d != p);
        Ok(())
    }
    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let mut fs = self.fs();
        let data = fs.files.remove(from).ok_or_else(|| nf(from))?;
        fs.files.insert(to.to_string(), data);
        Ok(())
    }
    fn copy(&self, from: &str, to: &str) -> io::Result<u64> {
        let mut fs = self.fs();
        let data = fs.files.get(from).cloned().ok_or_else(|| nf(from))?;
        fs.files.insert(to.to_string(), data.clone());
        Ok(data.len() as u64)
    }
    fn fs_info(&self) -> io::Result<smb_core::driver::FsInfo> {
        Err(io::ErrorKind::Unsupported.into())
    }
    fn watch<'a>(
        &'a self,
        _path: &str,
        _recursive: bool,
    ) -> io::Result<Box<dyn crate::remote::RemoteWatch + 'a>> {
        Err(io::ErrorKind::Unsupported.into())
    }
    fn list_shares(&self) -> io::Result<Vec<smb_core::wire::srvsvc::ShareInfo>> {
        Ok(Vec::new())
    }
    fn close(self: Box<Self>) -> io::Result<()> {
        self.fs().closed += 1;
        Ok(())
    }
}

struct NoPrompt;

impl Prompt for NoPrompt {
    fn available(&self) -> bool {
        false
    }
    fn ask(&self, _: &str) -> io::Result<Secret> {
        Err(io::Error::other("no terminal"))
    }
}

/// Run `smb -q --password pw ARGS` against `mem`; `connects` counts connection attempts.
fn mem_run(mem: &Mem, connects: &Arc<AtomicUsize>, args: &[&str]) -> Result<(), Failure> {
    let mut argv = vec!["smb", "-q"];
    if !args.contains(&"--guest") {
        argv.extend(["--password", "pw"]);
    }
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv).map_err(|e| Failure::usage(e.to_string()))?;
    let (mem, connects) = (mem.clone(), connects.clone());
    let sys = System {
        connect: Arc::new(move |_: Runtime, spec: &ConnectSpec| {
            connects.fetch_add(1, Ordering::SeqCst);
            if spec.addr != "127.0.0.1:445" {
                return Err(Some((
                    Phase::Connect,
                    io::Error::new(io::ErrorKind::ConnectionRefused, "refused"),
                )));
            }
            Ok(Box::new(mem.clone()) as Box<dyn Remote>)
        }),
        resolver: Arc::new(StaticResolver::parse("fileserver=127.0.0.1").unwrap()),
        prompt: Box::new(NoPrompt),
        env_password: None,
        stderr_terminal: false,
    };
    run_with(&cli, &sys)
}

fn content(n: usize) -> Vec<u8> {
    (0..n as u32).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn scratch(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("smb-cli-unit-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn local_names(d: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_failed_download_leaves_the_old_file_and_no_partial_one() {
    let mem = Mem::default();
    let n = Arc::new(AtomicUsize::new(0));
    let data = content(3_000_000);
    mem.fs().files.insert("f.bin".into(), data.clone());
    mem.fs().fail_read_after = Some(1_500_000);
    let dir = scratch("getfail");
    let dst = dir.join("f.bin");
    std::fs::write(&dst, b"the previous version").unwrap();
    let url = "smb://u@fileserver/s/f.bin";
    let e = mem_run(&mem, &n, &["get", url, dst.to_str().unwrap()]).unwrap_err();
    assert_eq!(e.code, exit::UNREACHABLE, "{e}");
    assert_eq!(std::fs::read(&dst).unwrap(), b"the previous version");
    assert_eq!(local_names(&dir), ["f.bin"], "a temporary file was left");
    assert_eq!(mem.fs().closed, 1, "the session was not closed");

    // --continue does not take a different file for the start of this one.
    let e = mem_run(&mem, &n, &["get", "-c", url, dst.to_str().unwrap()]).unwrap_err();
    assert!(e.message.contains("does not match"), "{e}");
    assert_eq!(std::fs::read(&dst).unwrap(), b"the previous version");
    // With --continue the partial download stays under the temporary name, and the next
    // run completes it.
    std::fs::remove_file(&dst).unwrap();
    assert!(mem_run(&mem, &n, &["get", "-c", url, dst.to_str().unwrap()]).is_err());
    assert_eq!(local_names(&dir), [".f.bin.smbpart"]);
    let partial = std::fs::read(dir.join(".f.bin.smbpart")).unwrap();
    assert!(partial.len() >= 1_000_000 && data.starts_with(&partial));
    mem.fs().fail_read_after = None;
    mem_run(&mem, &n, &["get", "-c", url, dst.to_str().unwrap()]).unwrap();
    assert!(std::fs::read(&dst).unwrap() == data);
    assert_eq!(local_names(&dir), ["f.bin"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failed_upload_leaves_the_old_file_and_no_partial_one() {
    let mem = Mem::default();
    let n = Arc::new(AtomicUsize::new(0));
    mem.fs().files.insert("f.bin".into(), b"old".to_vec());
    mem.fs().fail_write_after = Some(1_000_000);
    let dir = scratch("putfail");
    let src = dir.join("f.bin");
    let data = content(2_500_000);
    std::fs::write(&src, &data).unwrap();
    let url = "smb://u@fileserver/s/";
    let e = mem_run(&mem, &n, &["put", src.to_str().unwrap(), url]).unwrap_err();
    assert_eq!(e.code, exit::UNREACHABLE, "{e}");
    let files: Vec<String> = mem.fs().files.keys().cloned().collect();
    assert_eq!(
        files,
        ["f.bin"],
        "the temporary file was left on the server"
    );
    assert_eq!(mem.fs().files["f.bin"], b"old");

    // --continue does not take a different file for the start of this one.
    let e = mem_run(&mem, &n, &["put", "-c", src.to_str().unwrap(), url]).unwrap_err();
    assert!(e.message.contains("does not match"), "{e}");
    assert_eq!(mem.fs().files["f.bin"], b"old");
    // --continue keeps what arrived and resumes from it.
    mem.fs().files.clear();
    assert!(mem_run(&mem, &n, &["put", "-c", src.to_str().unwrap(), url]).is_err());
    assert!(mem.fs().files.contains_key(".f.bin.smbpart"));
    mem.fs().fail_write_after = None;
    mem_run(&mem, &n, &["put", "-c", src.to_str().unwrap(), url]).unwrap();
    assert!(mem.fs().files["f.bin"] == data);
    assert!(!mem.fs().files.contains_key(".f.bin.smbpart"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unknown_host_never_connects() {
    let mem = Mem::default();
    let n = Arc::new(AtomicUsize::new(0));
    let e = mem_run(&mem, &n, &["ls", "smb://u@elsewhere/s"]).unwrap_err();
    assert_eq!(e.code, exit::NAME_RESOLUTION, "{e}");
    assert!(e.message.contains("\"elsewhere\""), "{e}");
    assert_eq!(
        n.load(Ordering::SeqCst),
        0,
        "connected although the name did not resolve"
    );
    mem_run(&mem, &n, &["ls", "smb://u@FileServer/s"]).unwrap();
    assert_eq!(n.load(Ordering::SeqCst), 1);
}

#[test]
fn a_guest_session_for_a_user_is_refused_and_closed() {
    let mem = Mem::default();
    let n = Arc::new(AtomicUsize::new(0));
    mem.fs().guest = true;
    let e = mem_run(&mem, &n, &["ls", "smb://u@fileserver/s"]).unwrap_err();
    assert_eq!(e.code, exit::LOGON_FAILURE, "{e}");
    assert!(e.message.contains("as guest"), "{e}");
    assert_eq!(mem.fs().closed, 1);
    // Asked for: fine.
    mem_run(&mem, &n, &["--guest", "ls", "smb://fileserver/s"]).unwrap();
}

#[test]
fn unsigned_session_with_sign_is_refused() {
    let mem = Mem::default();
    let n = Arc::new(AtomicUsize::new(0));
    let e = mem_run(&mem, &n, &["--sign", "ls", "smb://u@fileserver/s"]).unwrap_err();
    assert_eq!(e.code, exit::SECURITY, "{e}");
    mem.fs().signing = true;
    mem_run(&mem, &n, &["--sign", "ls", "smb://u@fileserver/s"]).unwrap();
}

#[test]
fn rm_goes_on_after_failures_with_the_worst_code() {
    let mem = Mem::default();
    let n = Arc::new(AtomicUsize::new(0));
    for f in ["a", "b", "c"] {
        mem.fs().files.insert(f.into(), b"x".to_vec());
    }
    mem.fs().dirs.push("d".into());
    let e = mem_run(
        &mem,
        &n,
        &["rm", "smb://u@fileserver/s/a", "/missing", "/d", "/c"],
    )
    .unwrap_err();
    assert_eq!(
        e.code,
        exit::USAGE,
        "usage (a directory without -r) beats not found"
    );
    assert!(e.message.contains("2 of 4 removals failed"), "{e}");
    let left: Vec<String> = mem.fs().files.keys().cloned().collect();
    assert_eq!(left, ["b"]);
    let e = mem_run(&mem, &n, &["rm", "smb://u@fileserver/s/missing"]).unwrap_err();
    assert_eq!(e.code, exit::NOT_FOUND);
    mem_run(
        &mem,
        &n,
        &["rm", "-f", "smb://u@fileserver/s/missing", "/*.zip"],
    )
    .unwrap();
}
