//! [`Remote`] over `smb-tokio`: every call runs to completion on a private multi-threaded
//! tokio runtime (`Runtime::block_on` may be called from several threads at once).

use super::{
    ConnectSpec, Entry, Meta, Negotiated, Remote, RemoteWrite, Runtime, ShareInfo, credentials,
    entry, meta, negotiated, share_info, write_existing,
};
use super::{RemoteWatch, WatchEvent, watch_step};
use crate::error::Phase;
use smb_core::client::Request;
use smb_tokio::{Client, File, OpenOptions, Share};
use std::io::{self, Read, SeekFrom, Write};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

pub(super) struct Tokio {
    // Dropped in this order: handles first, the runtime (and the driver task) last.
    share: Share,
    client: Client,
    rt: tokio::runtime::Runtime,
}

pub(super) fn connect(spec: &ConnectSpec) -> Result<Box<dyn Remote>, (Phase, io::Error)> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| (Phase::Connect, e))?;
    let client = rt
        .block_on(Client::connect(
            &spec.addr,
            credentials(spec),
            spec.config.clone(),
        ))
        .map_err(|e| (Phase::Connect, e))?;
    let share = rt
        .block_on(client.share(&spec.share))
        .map_err(|e| (Phase::Share, e))?;
    Ok(Box::new(Tokio { share, client, rt }))
}

struct TokioFile<'a> {
    rt: &'a tokio::runtime::Runtime,
    f: File,
}

impl Read for TokioFile<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.rt.block_on(self.f.read(buf))
    }
}

impl Write for TokioFile<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.rt.block_on(self.f.write(buf))
    }
    fn flush(&mut self) -> io::Result<()> {
        self.rt.block_on(self.f.flush())
    }
}

impl RemoteWrite for TokioFile<'_> {
    fn finish(self: Box<Self>) -> io::Result<()> {
        self.rt.block_on(self.f.close())
    }
}

impl Tokio {
    fn open_at(&self, path: &str, options: OpenOptions, offset: u64) -> io::Result<TokioFile<'_>> {
        self.rt.block_on(async {
            let mut f = self.share.open(path, options).await?;
            if offset > 0 {
                f.seek(SeekFrom::Start(offset)).await?;
            }
            Ok(TokioFile { rt: &self.rt, f })
        })
    }
}

impl Remote for Tokio {
    fn runtime(&self) -> Runtime {
        Runtime::Tokio
    }
    fn negotiated(&self) -> Negotiated {
        negotiated(self.client.info())
    }
    fn stats(&self) -> io::Result<smb_core::driver::StatsSnapshot> {
        self.rt.block_on(self.client.stats())
    }
    fn share_info(&self) -> io::Result<ShareInfo> {
        share_info(self.share.name(), |r| self.rt.block_on(self.client.raw(r)))
    }
    fn metadata(&self, path: &str) -> io::Result<Meta> {
        self.rt.block_on(self.share.metadata(path)).map(meta)
    }
    fn list(&self, path: &str, each: &mut dyn FnMut(Entry) -> io::Result<()>) -> io::Result<()> {
        let mut dir = self.share.read_dir(path);
        while let Some(e) = self.rt.block_on(dir.next_entry())? {
            each(entry(e))?;
        }
        Ok(())
    }
    fn open_read<'a>(&'a self, path: &str, offset: u64) -> io::Result<Box<dyn Read + Send + 'a>> {
        Ok(Box::new(self.open_at(
            path,
            OpenOptions::new().read(true),
            offset,
        )?))
    }
    fn create<'a>(&'a self, path: &str) -> io::Result<Box<dyn RemoteWrite + 'a>> {
        let f = self.rt.block_on(self.share.create(path))?;
        Ok(Box::new(TokioFile { rt: &self.rt, f }))
    }
    fn open_at<'a>(&'a self, path: &str, offset: u64) -> io::Result<Box<dyn RemoteWrite + 'a>> {
        Ok(Box::new(Tokio::open_at(
            self,
            path,
            write_existing(),
            offset,
        )?))
    }
    fn read_whole(&self, path: &str) -> io::Result<Vec<u8>> {
        self.rt.block_on(self.share.read(path))
    }
    fn write_whole(&self, path: &str, data: Vec<u8>) -> io::Result<()> {
        self.rt.block_on(self.share.write(path, data))
    }
    fn mkdir(&self, path: &str, parents: bool) -> io::Result<()> {
        match parents {
            true => self.rt.block_on(self.share.create_dir_all(path)),
            false => self.rt.block_on(self.share.create_dir(path)),
        }
    }
    fn remove_file(&self, path: &str) -> io::Result<()> {
        self.rt.block_on(self.share.remove_file(path))
    }
    fn remove_dir(&self, path: &str, recursive: bool) -> io::Result<()> {
        match recursive {
            true => self.rt.block_on(self.share.remove_dir_all(path)),
            false => self.rt.block_on(self.share.remove_dir(path)),
        }
    }
    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        self.rt.block_on(self.share.rename(from, to))
    }
    fn copy(&self, from: &str, to: &str) -> io::Result<u64> {
        self.rt.block_on(self.share.copy(from, to))
    }
    fn fs_info(&self) -> io::Result<smb_core::driver::FsInfo> {
        self.rt.block_on(self.share.fs_info())
    }
    fn watch<'a>(&'a self, path: &str, recursive: bool) -> io::Result<Box<dyn RemoteWatch + 'a>> {
        let filter = smb_tokio::DEFAULT_WATCH_FILTER;
        let w = self
            .rt
            .block_on(self.share.watch(path, recursive, filter))?;
        Ok(Box::new(TokioWatch { rt: &self.rt, w }))
    }
    fn list_shares(&self) -> io::Result<Vec<smb_core::wire::srvsvc::ShareInfo>> {
        self.rt.block_on(self.client.list_shares())
    }
    fn close(self: Box<Self>) -> io::Result<()> {
        let Tokio { share, client, rt } = *self;
        drop(share);
        // Wait for the server's answer to LOGOFF: the process may end right after this.
        // The driver is then left to the end of the process instead of shut down: the
        // engine's shutdown after an explicit LOGOFF trips its illegal-transition check
        // (Session Exiting -> Exiting), and the adapters' shutdown does not wait for the
        // LOGOFF it sends.
        let _ = rt.block_on(client.raw(Request::Logoff));
        std::mem::forget(client);
        rt.shutdown_timeout(Duration::from_millis(100));
        Ok(())
    }
}

struct TokioWatch<'a> {
    rt: &'a tokio::runtime::Runtime,
    w: smb_tokio::Watch,
}

impl RemoteWatch for TokioWatch<'_> {
    fn next(&mut self, wait: Duration) -> io::Result<Option<WatchEvent>> {
        let w = &mut self.w;
        match self
            .rt
            .block_on(async { tokio::time::timeout(wait, w.next_event()).await })
        {
            Ok(r) => watch_step(r.transpose()),
            Err(_) => Ok(None),
        }
    }
}
