//! The [`Harness`] of the blocking adapter, shared by this crate's test binaries (`samba.rs`: the
//! scenarios against Samba; `hostile.rs`: the malicious-server suite).

// Each test binary uses part of it.
#![allow(dead_code)]

use smb_blocking::{Client, File, OpenOptions, Share};
use smb_core::driver::WatchEvent;
use smb_testkit::scenarios::ShareInfo;
use smb_testkit::scenarios::{
    BoxFut, EventLog, FileApi, Harness, Locking, Login, Negotiated, Watching,
};
use std::io::{self, SeekFrom};
use std::sync::Arc;
use std::sync::Mutex;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

mod fsx;

#[derive(Clone)]
pub struct Blocking;

/// Poll a future whose steps are synchronous (it never really waits on a waker).
pub fn run<T>(f: BoxFut<'static, T>) -> T {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = f;
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

impl Harness for Blocking {
    type Client = Client;
    type Share = Share;
    fn block_on<T: Send + 'static>(&self, f: BoxFut<'static, T>) -> T {
        run(f)
    }
    fn spawn<T: Send + 'static>(&self, f: BoxFut<'static, T>) -> BoxFut<'static, T> {
        // A real OS thread per task: the blocking adapter's concurrency.
        let j = std::thread::spawn(move || run(f));
        Box::pin(async move { j.join().expect("thread panicked") })
    }
    fn connect(&self, login: Login) -> BoxFut<'static, io::Result<(Client, Negotiated)>> {
        Box::pin(async move {
            let creds = login.who.credentials();
            let c = Client::connect(&login.target, creds, login.config)?;
            let i = c.info().clone();
            Ok((
                c,
                Negotiated {
                    dialect: i.dialect,
                    signing: i.signing,
                    encryption: i.encryption,
                    guest: i.guest,
                    anonymous: i.anonymous,
                },
            ))
        })
    }
    fn connect_recorded(&self, login: Login, log: EventLog) -> BoxFut<'static, io::Result<Client>> {
        Box::pin(async move {
            let (c, events) =
                Client::connect_with_events(&login.target, login.who.credentials(), login.config)?;
            std::thread::spawn(move || {
                for e in events {
                    log.push(e);
                }
            });
            Ok(c)
        })
    }
    fn stats(&self, c: &Client) -> BoxFut<'static, io::Result<smb_core::driver::StatsSnapshot>> {
        let c = c.clone();
        Box::pin(async move { c.stats() })
    }
    fn share(&self, c: &Client, name: &str) -> BoxFut<'static, io::Result<Share>> {
        let (c, name) = (c.clone(), name.to_string());
        Box::pin(async move { c.share(&name) })
    }
    fn write_file(
        &self,
        s: &Share,
        path: &str,
        data: Vec<u8>,
        piece: usize,
    ) -> BoxFut<'static, io::Result<()>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move {
            let mut f = s.create(&path)?;
            for c in data.chunks(piece) {
                io::Write::write_all(&mut f, c)?;
            }
            f.close()
        })
    }
    fn read_file(&self, s: &Share, path: &str) -> BoxFut<'static, io::Result<Vec<u8>>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move {
            let mut f = s.open(&path, OpenOptions::new().read(true))?;
            let mut v = Vec::new();
            io::Read::read_to_end(&mut f, &mut v)?;
            f.close()?;
            Ok(v)
        })
    }
    fn read_whole(&self, s: &Share, path: &str) -> BoxFut<'static, io::Result<Vec<u8>>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move { s.read(&path) })
    }
    fn read_range(
        &self,
        s: &Share,
        path: &str,
        offset: i64,
        len: usize,
    ) -> BoxFut<'static, io::Result<Vec<u8>>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move {
            let mut f = s.open(&path, OpenOptions::new().read(true))?;
            let pos = if offset < 0 {
                SeekFrom::End(offset)
            } else {
                SeekFrom::Start(offset as u64)
            };
            io::Seek::seek(&mut f, pos)?;
            let mut v = vec![0u8; len];
            io::Read::read_exact(&mut f, &mut v)?;
            Ok(v)
        })
    }
    fn write_at(
        &self,
        s: &Share,
        path: &str,
        offset: u64,
        data: Vec<u8>,
    ) -> BoxFut<'static, io::Result<()>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move {
            let f = s.open(&path, OpenOptions::read_write())?;
            f.write_at(offset, &data)?;
            f.close()
        })
    }
    fn list(&self, s: &Share, path: &str) -> BoxFut<'static, io::Result<Vec<String>>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move { s.read_dir(&path).map(|e| e.map(|e| e.name)).collect() })
    }
    fn metadata(&self, s: &Share, path: &str) -> BoxFut<'static, io::Result<(u64, bool)>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move { s.metadata(&path).map(|m| (m.len(), m.is_dir())) })
    }
    fn exists(&self, s: &Share, path: &str) -> BoxFut<'static, io::Result<bool>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move { s.exists(&path) })
    }
    fn write(&self, s: &Share, path: &str, data: Vec<u8>) -> BoxFut<'static, io::Result<()>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move { s.write(&path, data) })
    }
    fn create_dir(&self, s: &Share, path: &str) -> BoxFut<'static, io::Result<()>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move { s.create_dir(&path) })
    }
    fn create_dir_all(&self, s: &Share, path: &str) -> BoxFut<'static, io::Result<()>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move { s.create_dir_all(&path) })
    }
    fn remove_file(&self, s: &Share, path: &str) -> BoxFut<'static, io::Result<()>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move { s.remove_file(&path) })
    }
    fn remove_dir(&self, s: &Share, path: &str) -> BoxFut<'static, io::Result<()>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move { s.remove_dir(&path) })
    }
    fn remove_dir_all(&self, s: &Share, path: &str) -> BoxFut<'static, io::Result<()>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move { s.remove_dir_all(&path) })
    }
    fn rename(&self, s: &Share, from: &str, to: &str) -> BoxFut<'static, io::Result<()>> {
        let (s, from, to) = (s.clone(), from.to_string(), to.to_string());
        Box::pin(async move { s.rename(&from, &to) })
    }
    fn set_len(&self, s: &Share, path: &str, len: u64) -> BoxFut<'static, io::Result<()>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move { s.set_len(&path, len) })
    }
    fn copy(&self, s: &Share, from: &str, to: &str) -> BoxFut<'static, io::Result<u64>> {
        let (s, from, to) = (s.clone(), from.to_string(), to.to_string());
        Box::pin(async move { s.copy(&from, &to) })
    }
    fn create_new(&self, s: &Share, path: &str) -> BoxFut<'static, io::Result<()>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move {
            let f = s.open(
                &path,
                OpenOptions::new().read(true).write(true).create_new(true),
            )?;
            f.close()
        })
    }
    fn events(&self, c: &Client) -> Box<dyn FnMut() -> Option<smb_core::client::Event> + Send> {
        let mut events = c.events();
        Box::new(move || events.try_next())
    }
    fn shutdown(&self, c: Client) -> BoxFut<'static, ()> {
        Box::pin(async move { c.shutdown() })
    }
    fn fs_info(&self, s: &Share) -> BoxFut<'static, io::Result<smb_core::driver::FsInfo>> {
        let s = s.clone();
        Box::pin(async move { s.fs_info() })
    }
    fn space(&self, s: &Share) -> BoxFut<'static, io::Result<smb_core::driver::FsSpace>> {
        let s = s.clone();
        Box::pin(async move { s.space() })
    }
    fn watch(
        &self,
        s: &Share,
        path: &str,
        recursive: bool,
        filter: u32,
    ) -> BoxFut<'static, io::Result<Box<dyn Watching>>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move {
            let w = s.watch(&path, recursive, filter)?;
            Ok(Box::new(BlockingWatch(w)) as Box<dyn Watching>)
        })
    }
    fn drop_listing(&self, s: &Share, path: &str) {
        drop(s.read_dir(path));
    }
    fn list_shares(&self, c: &Client) -> BoxFut<'static, io::Result<Vec<ShareInfo>>> {
        let c = c.clone();
        Box::pin(async move { c.list_shares() })
    }
    fn pipe_transact(
        &self,
        c: &Client,
        pipe: &str,
        request: Vec<u8>,
    ) -> BoxFut<'static, io::Result<Vec<u8>>> {
        let (c, pipe) = (c.clone(), pipe.to_string());
        Box::pin(async move {
            let p = c.open_pipe(&pipe)?;
            let reply = p.transact(&request)?;
            p.close()?;
            Ok(reply)
        })
    }
    fn hold_open(
        &self,
        s: &Share,
        path: &str,
        share_access: u32,
    ) -> BoxFut<'static, io::Result<Box<dyn Send>>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move {
            let opts = OpenOptions::new()
                .read(true)
                .with_share_access(share_access)
                .with_lease(false)
                .with_durable(false);
            let f = s.open(&path, opts)?;
            Ok(Box::new(f) as Box<dyn Send>)
        })
    }
}

struct BlockingWatch(smb_blocking::Watch);

impl Watching for BlockingWatch {
    fn next(&mut self, wait: Duration) -> BoxFut<'_, Option<io::Result<WatchEvent>>> {
        Box::pin(async move { self.0.next_timeout(wait) })
    }
}

impl FileApi for Blocking {
    fn open_write(
        &self,
        s: &Share,
        path: &str,
        options: OpenOptions,
        data: Vec<u8>,
    ) -> BoxFut<'static, io::Result<()>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move {
            let mut f = s.open(&path, options)?;
            io::Write::write_all(&mut f, &data)?;
            f.close()
        })
    }
    fn stat(
        &self,
        s: &Share,
        path: &str,
    ) -> BoxFut<'static, io::Result<smb_core::driver::Metadata>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move { s.metadata(&path) })
    }
    fn list_matching(
        &self,
        s: &Share,
        path: &str,
        pattern: &str,
    ) -> BoxFut<'static, io::Result<Vec<smb_core::client::DirEntry>>> {
        let (s, path, pattern) = (s.clone(), path.to_string(), pattern.to_string());
        Box::pin(async move { s.read_dir_matching(&path, &pattern).collect() })
    }
    fn set_attributes(
        &self,
        s: &Share,
        path: &str,
        attributes: u32,
    ) -> BoxFut<'static, io::Result<()>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move { s.set_attributes(&path, attributes) })
    }
    fn set_permissions(
        &self,
        s: &Share,
        path: &str,
        readonly: bool,
    ) -> BoxFut<'static, io::Result<()>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move {
            let mut p = s.metadata(&path)?.permissions();
            p.set_readonly(readonly);
            s.set_permissions(&path, p)
        })
    }
    fn walk(
        &self,
        s: &Share,
        path: &str,
        max_depth: Option<usize>,
    ) -> BoxFut<'static, io::Result<Vec<io::Result<smb_core::driver::WalkEntry>>>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move {
            let mut w = s.walk(&path);
            if let Some(d) = max_depth {
                w = w.max_depth(d);
            }
            Ok(w.collect())
        })
    }
    fn streams(
        &self,
        s: &Share,
        path: &str,
    ) -> BoxFut<'static, io::Result<Vec<smb_core::wire::fscc::FileStreamEntry>>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move { s.streams(&path) })
    }
    fn open_locking(&self, s: &Share, path: &str) -> BoxFut<'static, io::Result<Arc<dyn Locking>>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move {
            let opts = OpenOptions::new()
                .read(true)
                .write(true)
                .with_lease(false)
                .with_durable(false);
            let f = s.open(&path, opts)?;
            Ok(Arc::new(Locks(Mutex::new(Some(Arc::new(f))))) as Arc<dyn Locking>)
        })
    }
}

/// A file under lock tests: the lock calls share it; `close` takes it back.
struct Locks(Mutex<Option<Arc<File>>>);

impl Locks {
    fn file(&self) -> io::Result<Arc<File>> {
        let g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        g.clone().ok_or_else(|| io::Error::other("closed"))
    }
}

impl Locking for Locks {
    fn lock(
        &self,
        offset: u64,
        len: u64,
        exclusive: bool,
        wait: bool,
    ) -> BoxFut<'static, io::Result<()>> {
        let f = self.file();
        Box::pin(async move {
            let f = f?;
            match (exclusive, wait) {
                (true, true) => f.lock(offset, len),
                (false, true) => f.lock_shared(offset, len),
                (true, false) => f.try_lock(offset, len),
                (false, false) => f.try_lock_shared(offset, len),
            }
        })
    }
    fn unlock(&self, offset: u64, len: u64) -> BoxFut<'static, io::Result<()>> {
        let f = self.file();
        Box::pin(async move { f?.unlock(offset, len) })
    }
    fn close(&self) -> BoxFut<'static, io::Result<()>> {
        let f = self.0.lock().unwrap_or_else(|p| p.into_inner()).take();
        Box::pin(async move {
            let f = f.ok_or_else(|| io::Error::other("closed twice"))?;
            let f = Arc::try_unwrap(f).map_err(|_| io::Error::other("a lock call in flight"))?;
            f.close()
        })
    }
}

impl smb_testkit::scenarios::UrlConnect for Blocking {
    fn connect_url(
        &self,
        url: &str,
        login: smb_core::driver::UrlLogin,
        config: smb_core::client::ClientConfig,
    ) -> BoxFut<'static, io::Result<(Client, Share)>> {
        let url = url.to_string();
        Box::pin(async move { Client::connect_url(&url, login, config) })
    }
}
