//! [`Remote`] over `smb-smol`: every call runs to completion with `smol::block_on`.

use super::{
    ConnectSpec, Entry, Meta, Negotiated, Remote, RemoteWrite, Runtime, ShareInfo, credentials,
    entry, meta, negotiated, share_info, write_existing,
};
use super::{RemoteWatch, WatchEvent, watch_step};
use crate::error::Phase;
use futures_lite::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use smb_core::client::Request;
use smb_smol::{Client, File, OpenOptions, Share};
use smol::block_on;
use std::io::{self, Read, SeekFrom, Write};

pub(super) struct Smol {
    share: Share,
    client: Client,
}

pub(super) fn connect(spec: &ConnectSpec) -> Result<Box<dyn Remote>, (Phase, io::Error)> {
    let client = block_on(Client::connect(
        &spec.addr,
        credentials(spec),
        spec.config.clone(),
    ))
    .map_err(|e| (Phase::Connect, e))?;
    let share = block_on(client.share(&spec.share)).map_err(|e| (Phase::Share, e))?;
    Ok(Box::new(Smol { share, client }))
}

struct SmolFile(File);

impl Read for SmolFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        block_on(self.0.read(buf))
    }
}

impl Write for SmolFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        block_on(self.0.write(buf))
    }
    fn flush(&mut self) -> io::Result<()> {
        block_on(self.0.flush())
    }
}

impl RemoteWrite for SmolFile {
    fn finish(self: Box<Self>) -> io::Result<()> {
        block_on(self.0.close())
    }
}

impl Smol {
    fn open_at(&self, path: &str, options: OpenOptions, offset: u64) -> io::Result<SmolFile> {
        block_on(async {
            let mut f = self.share.open(path, options).await?;
            if offset > 0 {
                f.seek(SeekFrom::Start(offset)).await?;
            }
            Ok(SmolFile(f))
        })
    }
}

impl Remote for Smol {
    fn runtime(&self) -> Runtime {
        Runtime::Smol
    }
    fn negotiated(&self) -> Negotiated {
        negotiated(self.client.info())
    }
    fn stats(&self) -> io::Result<smb_core::driver::StatsSnapshot> {
        smol::block_on(self.client.stats())
    }
    fn share_info(&self) -> io::Result<ShareInfo> {
        share_info(self.share.name(), |r| block_on(self.client.raw(r)))
    }
    fn metadata(&self, path: &str) -> io::Result<Meta> {
        block_on(self.share.metadata(path)).map(meta)
    }
    fn list(&self, path: &str, each: &mut dyn FnMut(Entry) -> io::Result<()>) -> io::Result<()> {
        let mut dir = self.share.read_dir(path);
        while let Some(e) = block_on(dir.next_entry())? {
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
        Ok(Box::new(SmolFile(block_on(self.share.create(path))?)))
    }
    fn open_at<'a>(&'a self, path: &str, offset: u64) -> io::Result<Box<dyn RemoteWrite + 'a>> {
        Ok(Box::new(Smol::open_at(
            self,
            path,
            write_existing(),
            offset,
        )?))
    }
    fn read_whole(&self, path: &str) -> io::Result<Vec<u8>> {
        block_on(self.share.read(path))
    }
    fn write_whole(&self, path: &str, data: Vec<u8>) -> io::Result<()> {
        block_on(self.share.write(path, data))
    }
    fn mkdir(&self, path: &str, parents: bool) -> io::Result<()> {
        match parents {
            true => block_on(self.share.create_dir_all(path)),
            false => block_on(self.share.create_dir(path)),
        }
    }
    fn remove_file(&self, path: &str) -> io::Result<()> {
        block_on(self.share.remove_file(path))
    }
    fn remove_dir(&self, path: &str, recursive: bool) -> io::Result<()> {
        match recursive {
            true => block_on(self.share.remove_dir_all(path)),
            false => block_on(self.share.remove_dir(path)),
        }
    }
    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        block_on(self.share.rename(from, to))
    }
    fn copy(&self, from: &str, to: &str) -> io::Result<u64> {
        block_on(self.share.copy(from, to))
    }
    fn fs_info(&self) -> io::Result<smb_core::driver::FsInfo> {
        block_on(self.share.fs_info())
    }
    fn watch<'a>(&'a self, path: &str, recursive: bool) -> io::Result<Box<dyn RemoteWatch + 'a>> {
        let filter = smb_smol::DEFAULT_WATCH_FILTER;
        Ok(Box::new(SmolWatch(block_on(
            self.share.watch(path, recursive, filter),
        )?)))
    }
    fn list_shares(&self) -> io::Result<Vec<smb_core::wire::srvsvc::ShareInfo>> {
        block_on(self.client.list_shares())
    }
    fn close(self: Box<Self>) -> io::Result<()> {
        let Smol { share, client } = *self;
        drop(share);
        // Wait for the server's answer to LOGOFF: the process may end right after this.
        // The driver is then left to the end of the process instead of shut down: the
        // engine's shutdown after an explicit LOGOFF trips its illegal-transition check
        // (Session Exiting -> Exiting), and the adapters' shutdown does not wait for the
        // LOGOFF it sends.
        let _ = block_on(client.raw(Request::Logoff));
        std::mem::forget(client);
        Ok(())
    }
}

struct SmolWatch(smb_smol::Watch);

impl RemoteWatch for SmolWatch {
    fn next(&mut self, wait: std::time::Duration) -> io::Result<Option<WatchEvent>> {
        let w = &mut self.0;
        block_on(futures_lite::future::or(
            async { watch_step(w.next_event().await.transpose()) },
            async {
                smol::Timer::after(wait).await;
                Ok(None)
            },
        ))
    }
}
