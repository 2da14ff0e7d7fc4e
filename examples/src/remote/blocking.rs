//! [`Remote`] over `smb-blocking`: no async runtime at all.

use super::{
    ConnectSpec, Entry, Meta, Negotiated, Remote, RemoteWrite, Runtime, ShareInfo, credentials,
    entry, meta, negotiated, share_info, write_existing,
};
use super::{RemoteWatch, WatchEvent, watch_step};
use crate::error::Phase;
use smb_blocking::{Client, File, OpenOptions, Share};
use smb_core::client::Request;
use std::io::{self, Read, Seek, SeekFrom, Write};

pub(super) struct Blocking {
    share: Share,
    client: Client,
}

pub(super) fn connect(spec: &ConnectSpec) -> Result<Box<dyn Remote>, (Phase, io::Error)> {
    let client = Client::connect(&spec.addr, credentials(spec), spec.config.clone())
        .map_err(|e| (Phase::Connect, e))?;
    let share = client.share(&spec.share).map_err(|e| (Phase::Share, e))?;
    Ok(Box::new(Blocking { share, client }))
}

struct BlockingFile(File);

impl Read for BlockingFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for BlockingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl RemoteWrite for BlockingFile {
    fn finish(self: Box<Self>) -> io::Result<()> {
        self.0.close()
    }
}

impl Blocking {
    fn open_at(&self, path: &str, options: OpenOptions, offset: u64) -> io::Result<BlockingFile> {
        let mut f = self.share.open(path, options)?;
        if offset > 0 {
            f.seek(SeekFrom::Start(offset))?;
        }
        Ok(BlockingFile(f))
    }
}

impl Remote for Blocking {
    fn runtime(&self) -> Runtime {
        Runtime::Blocking
    }
    fn negotiated(&self) -> Negotiated {
        negotiated(self.client.info())
    }
    fn stats(&self) -> io::Result<smb_core::driver::StatsSnapshot> {
        self.client.stats()
    }
    fn share_info(&self) -> io::Result<ShareInfo> {
        share_info(self.share.name(), |r| self.client.raw(r))
    }
    fn metadata(&self, path: &str) -> io::Result<Meta> {
        self.share.metadata(path).map(meta)
    }
    fn list(&self, path: &str, each: &mut dyn FnMut(Entry) -> io::Result<()>) -> io::Result<()> {
        for e in self.share.read_dir(path) {
            each(entry(e?))?;
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
        Ok(Box::new(BlockingFile(self.share.create(path)?)))
    }
    fn open_at<'a>(&'a self, path: &str, offset: u64) -> io::Result<Box<dyn RemoteWrite + 'a>> {
        Ok(Box::new(Blocking::open_at(
            self,
            path,
            write_existing(),
            offset,
        )?))
    }
    fn read_whole(&self, path: &str) -> io::Result<Vec<u8>> {
        self.share.read(path)
    }
    fn write_whole(&self, path: &str, data: Vec<u8>) -> io::Result<()> {
        self.share.write(path, data)
    }
    fn mkdir(&self, path: &str, parents: bool) -> io::Result<()> {
        match parents {
            true => self.share.create_dir_all(path),
            false => self.share.create_dir(path),
        }
    }
    fn remove_file(&self, path: &str) -> io::Result<()> {
        self.share.remove_file(path)
    }
    fn remove_dir(&self, path: &str, recursive: bool) -> io::Result<()> {
        match recursive {
            true => self.share.remove_dir_all(path),
            false => self.share.remove_dir(path),
        }
    }
    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        self.share.rename(from, to)
    }
    fn copy(&self, from: &str, to: &str) -> io::Result<u64> {
        self.share.copy(from, to)
    }
    fn fs_info(&self) -> io::Result<smb_core::driver::FsInfo> {
        self.share.fs_info()
    }
    fn watch<'a>(&'a self, path: &str, recursive: bool) -> io::Result<Box<dyn RemoteWatch + 'a>> {
        let filter = smb_blocking::DEFAULT_WATCH_FILTER;
        Ok(Box::new(BlockingWatch(
            self.share.watch(path, recursive, filter)?,
        )))
    }
    fn list_shares(&self) -> io::Result<Vec<smb_core::wire::srvsvc::ShareInfo>> {
        self.client.list_shares()
    }
    fn close(self: Box<Self>) -> io::Result<()> {
        let Blocking { share, client } = *self;
        drop(share);
        // Wait for the server's answer to LOGOFF: the process may end right after this.
        // The driver is then left to the end of the process instead of shut down: the
        // engine's shutdown after an explicit LOGOFF trips its illegal-transition check
        // (Session Exiting -> Exiting), and the adapters' shutdown does not wait for the
        // LOGOFF it sends.
        let _ = client.raw(Request::Logoff);
        std::mem::forget(client);
        Ok(())
    }
}

struct BlockingWatch(smb_blocking::Watch);

impl RemoteWatch for BlockingWatch {
    fn next(&mut self, wait: std::time::Duration) -> io::Result<Option<WatchEvent>> {
        watch_step(self.0.next_timeout(wait))
    }
}
