//! The [`Harness`] of tokio, shared by this crate's test binaries (`samba.rs`: the
//! scenarios against Samba; `hostile.rs`: the malicious-server suite).

// Each test binary uses part of it.
#![allow(dead_code)]

use smb_core::driver::WatchEvent;
use smb_testkit::scenarios::ShareInfo;
use smb_testkit::scenarios::{
    BoxFut, EventLog, FileApi, Harness, Locking, Login, Negotiated, Watching,
};
use smb_tokio::{Client, File, OpenOptions, Share};
use std::io::{self, SeekFrom};
use std::sync::Mutex;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

mod fsx;

#[derive(Clone)]
pub struct Tokio(Arc<tokio::runtime::Runtime>);

pub fn harness() -> Tokio {
    static RT: OnceLock<Arc<tokio::runtime::Runtime>> = OnceLock::new();
    Tokio(
        RT.get_or_init(|| {
            Arc::new(
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(4)
                    .enable_all()
                    .build()
                    .expect("runtime"),
            )
        })
        .clone(),
    )
}

impl Harness for Tokio {
    type Client = Client;
    type Share = Share;
    fn block_on<T: Send + 'static>(&self, f: BoxFut<'static, T>) -> T {
        // Run as a task so the scenario itself is on a worker thread.
        self.0
            .block_on(self.0.spawn(f))
            .expect("scenario task panicked")
    }
    fn spawn<T: Send + 'static>(&self, f: BoxFut<'static, T>) -> BoxFut<'static, T> {
        let j = self.0.spawn(f);
        Box::pin(async move { j.await.expect("task panicked") })
    }
    fn connect(&self, login: Login) -> BoxFut<'static, io::Result<(Client, Negotiated)>> {
        Box::pin(async move {
            let creds = login.who.credentials();
            let c = Client::connect(&login.target, creds, login.config).await?;
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
            let (c, mut events) =
                Client::connect_with_events(&login.target, login.who.credentials(), login.config)
                    .await?;
            tokio::spawn(async move {
                while let Some(e) = events.next().await {
                    log.push(e);
                }
            });
            Ok(c)
        })
    }
    fn stats(&self, c: &Client) -> BoxFut<'static, io::Result<smb_core::driver::StatsSnapshot>> {
        let c = c.clone();
        Box::pin(async move { c.stats().await })
    }
    fn share(&self, c: &Client, name: &str) -> BoxFut<'static, io::Result<Share>> {
        let (c, name) = (c.clone(), name.to_string());
        Box::pin(async move { c.share(&name).await })
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
            let mut f = s.create(&path).await?;
            for c in data.chunks(piece) {
                f.write_all(c).await?;
            }
            f.close().await
        })
    }
    fn read_file(&self, s: &Share, path: &str) -> BoxFut<'static, io::Result<Vec<u8>>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move {
            let mut f = s.open(&path, OpenOptions::new().read(true)).await?;
            let mut v = Vec::new();
            f.read_to_end(&mut v).await?;
            f.close().await?;
            Ok(v)
        })
    }
    fn read_whole(&self, s: &Share, path: &str) -> BoxFut<'static, io::Result<Vec<u8>>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move { s.read(&path).await })
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
            let mut f = s.open(&path, OpenOptions::new().read(true)).await?;
            let pos = if offset < 0 {
                SeekFrom::End(offset)
            } else {
                SeekFrom::Start(offset as u64)
            };
            f.seek(pos).await?;
            let mut v = vec![0u8; len];
            f.read_exact(&mut v).await?;
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
            let f = s.open(&path, OpenOptions::read_write()).await?;
            f.write_at(offset, &data).await?;
            f.close().await
        })
    }
    fn list(&self, s: &Share, path: &str) -> BoxFut<'static, io::Result<Vec<String>>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move {
            let mut d = s.read_dir(&path);
            let mut v = Vec::new();
            while let Some(e) = d.next_entry().await? {
                v.push(e.name);
            }
            Ok(v)
        })
    }
    fn metadata(&self, s: &Share, path: &str) -> BoxFut<'static, io::Result<(u64, bool)>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move { s.metadata(&path).await.map(|m| (m.len(), m.is_dir())) })
    }
    fn exists(&self, s: &Share, path: &str) -> BoxFut<'static, io::Result<bool>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move { s.exists(&path).await })
    }
    fn write(&self, s: &Share, path: &str, data: Vec<u8>) -> BoxFut<'static, io::Result<()>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move { s.write(&path, data).await })
    }
    fn create_dir(&self, s: &Share, path: &str) -> BoxFut<'static, io::Result<()>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move { s.create_dir(&path).await })
    }
    fn create_dir_all(&self, s: &Share, path: &str) -> BoxFut<'static, io::Result<()>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move { s.create_dir_all(&path).await })
    }
    fn remove_file(&self, s: &Share, path: &str) -> BoxFut<'static, io::Result<()>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move { s.remove_file(&path).await })
    }
    fn remove_dir(&self, s: &Share, path: &str) -> BoxFut<'static, io::Result<()>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move { s.remove_dir(&path).await })
    }
    fn remove_dir_all(&self, s: &Share, path: &str) -> BoxFut<'static, io::Result<()>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move { s.remove_dir_all(&path).await })
    }
    fn rename(&self, s: &Share, from: &str, to: &str) -> BoxFut<'static, io::Result<()>> {
        let (s, from, to) = (s.clone(), from.to_string(), to.to_string());
        Box::pin(async move { s.rename(&from, &to).await })
    }
    fn set_len(&self, s: &Share, path: &str, len: u64) -> BoxFut<'static, io::Result<()>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move { s.set_len(&path, len).await })
    }
    fn copy(&self, s: &Share, from: &str, to: &str) -> BoxFut<'static, io::Result<u64>> {
        let (s, from, to) = (s.clone(), from.to_string(), to.to_string());
        Box::pin(async move { s.copy(&from, &to).await })
    }
    fn create_new(&self, s: &Share, path: &str) -> BoxFut<'static, io::Result<()>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move {
            let f = s
                .open(
                    &path,
                    OpenOptions::new().read(true).write(true).create_new(true),
                )
                .await?;
            f.close().await
        })
    }
    fn events(&self, c: &Client) -> Box<dyn FnMut() -> Option<smb_core::client::Event> + Send> {
        let mut events = c.events();
        Box::new(move || events.try_next())
    }
    fn shutdown(&self, c: Client) -> BoxFut<'static, ()> {
        Box::pin(async move { c.shutdown().await })
    }
    fn fs_info(&self, s: &Share) -> BoxFut<'static, io::Result<smb_core::driver::FsInfo>> {
        let s = s.clone();
        Box::pin(async move { s.fs_info().await })
    }
    fn space(&self, s: &Share) -> BoxFut<'static, io::Result<smb_core::driver::FsSpace>> {
        let s = s.clone();
        Box::pin(async move { s.space().await })
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
            let w = s.watch(&path, recursive, filter).await?;
            Ok(Box::new(TokioWatch(w)) as Box<dyn Watching>)
        })
    }
    fn drop_listing(&self, s: &Share, path: &str) {
        drop(s.read_dir(path));
    }
    fn list_shares(&self, c: &Client) -> BoxFut<'static, io::Result<Vec<ShareInfo>>> {
        let c = c.clone();
        Box::pin(async move { c.list_shares().await })
    }
    fn pipe_transact(
        &self,
        c: &Client,
        pipe: &str,
        request: Vec<u8>,
    ) -> BoxFut<'static, io::Result<Vec<u8>>> {
        let (c, pipe) = (c.clone(), pipe.to_string());
        Box::pin(async move {
            let p = c.open_pipe(&pipe).await?;
            let reply = p.transact(&request).await?;
            p.close().await?;
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
            let f = s.open(&path, opts).await?;
            Ok(Box::new(f) as Box<dyn Send>)
        })
    }
}

struct TokioWatch(smb_tokio::Watch);

impl Watching for TokioWatch {
    fn next(&mut self, wait: Duration) -> BoxFut<'_, Option<io::Result<WatchEvent>>> {
        Box::pin(async move {
            match tokio::time::timeout(wait, self.0.next_event()).await {
                Ok(r) => r.transpose(),
                Err(_) => Some(Err(io::ErrorKind::TimedOut.into())),
            }
        })
    }
}

impl FileApi for Tokio {
    fn open_write(
        &self,
        s: &Share,
        path: &str,
        options: OpenOptions,
        data: Vec<u8>,
    ) -> BoxFut<'static, io::Result<()>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move {
            let mut f = s.open(&path, options).await?;
            f.write_all(&data).await?;
            f.close().await
        })
    }
    fn stat(
        &self,
        s: &Share,
        path: &str,
    ) -> BoxFut<'static, io::Result<smb_core::driver::Metadata>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move { s.metadata(&path).await })
    }
    fn list_matching(
        &self,
        s: &Share,
        path: &str,
        pattern: &str,
    ) -> BoxFut<'static, io::Result<Vec<smb_core::client::DirEntry>>> {
        let (s, path, pattern) = (s.clone(), path.to_string(), pattern.to_string());
        Box::pin(async move {
            let mut list = s.read_dir_matching(&path, &pattern);
            let mut out = Vec::new();
            while let Some(e) = list.next_entry().await? {
                out.push(e);
            }
            Ok(out)
        })
    }
    fn set_attributes(
        &self,
        s: &Share,
        path: &str,
        attributes: u32,
    ) -> BoxFut<'static, io::Result<()>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move { s.set_attributes(&path, attributes).await })
    }
    fn set_permissions(
        &self,
        s: &Share,
        path: &str,
        readonly: bool,
    ) -> BoxFut<'static, io::Result<()>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move {
            let mut p = s.metadata(&path).await?.permissions();
            p.set_readonly(readonly);
            s.set_permissions(&path, p).await
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
            let mut out = Vec::new();
            while let Some(i) = w.next_entry().await {
                out.push(i);
            }
            Ok(out)
        })
    }
    fn streams(
        &self,
        s: &Share,
        path: &str,
    ) -> BoxFut<'static, io::Result<Vec<smb_core::wire::fscc::FileStreamEntry>>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move { s.streams(&path).await })
    }
    fn open_locking(&self, s: &Share, path: &str) -> BoxFut<'static, io::Result<Arc<dyn Locking>>> {
        let (s, path) = (s.clone(), path.to_string());
        Box::pin(async move {
            let opts = OpenOptions::new()
                .read(true)
                .write(true)
                .with_lease(false)
                .with_durable(false);
            let f = s.open(&path, opts).await?;
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
                (true, true) => f.lock(offset, len).await,
                (false, true) => f.lock_shared(offset, len).await,
                (true, false) => f.try_lock(offset, len).await,
                (false, false) => f.try_lock_shared(offset, len).await,
            }
        })
    }
    fn unlock(&self, offset: u64, len: u64) -> BoxFut<'static, io::Result<()>> {
        let f = self.file();
        Box::pin(async move { f?.unlock(offset, len).await })
    }
    fn close(&self) -> BoxFut<'static, io::Result<()>> {
        let f = self.0.lock().unwrap_or_else(|p| p.into_inner()).take();
        Box::pin(async move {
            let f = f.ok_or_else(|| io::Error::other("closed twice"))?;
            let f = Arc::try_unwrap(f).map_err(|_| io::Error::other("a lock call in flight"))?;
            f.close().await
        })
    }
}

impl smb_testkit::scenarios::UrlConnect for Tokio {
    fn connect_url(
        &self,
        url: &str,
        login: smb_core::driver::UrlLogin,
        config: smb_core::client::ClientConfig,
    ) -> BoxFut<'static, io::Result<(Client, Share)>> {
        let url = url.to_string();
        Box::pin(async move { Client::connect_url(&url, login, config).await })
    }
}
