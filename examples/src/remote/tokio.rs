//! [`Remote`] over `smb-tokio`: every call runs to completion on a private tokio runtime.

use super::{Entry, Meta, Remote, RemoteWrite, Target, credentials, entry, meta};
use crate::error::Phase;
use smb_tokio::{Client, ClientConfig, File, OpenOptions, Share};
use std::io::{self, Read, Write};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;

pub(super) struct Tokio {
    // Dropped in this order: handles first, the runtime (and the driver task) last.
    share: Share,
    client: Client,
    rt: Runtime,
}

pub(super) fn connect(t: &Target) -> Result<Box<dyn Remote>, (Phase, io::Error)> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| (Phase::Connect, e))?;
    let client = rt
        .block_on(Client::connect(
            &t.addr,
            credentials(t),
            ClientConfig::default(),
        ))
        .map_err(|e| (Phase::Connect, e))?;
    let share = rt
        .block_on(client.share(&t.share))
        .map_err(|e| (Phase::Share, e))?;
    Ok(Box::new(Tokio { share, client, rt }))
}

struct TokioFile<'a> {
    rt: &'a Runtime,
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

impl Remote for Tokio {
    fn metadata(&mut self, path: &str) -> io::Result<Meta> {
        self.rt.block_on(self.share.metadata(path)).map(meta)
    }
    fn list(
        &mut self,
        path: &str,
        each: &mut dyn FnMut(Entry) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut dir = self.share.read_dir(path);
        while let Some(e) = self.rt.block_on(dir.next_entry())? {
            each(entry(e))?;
        }
        Ok(())
    }
    fn open_read<'a>(&'a mut self, path: &str) -> io::Result<Box<dyn Read + 'a>> {
        let f = self
            .rt
            .block_on(self.share.open(path, OpenOptions::read()))?;
        Ok(Box::new(TokioFile { rt: &self.rt, f }))
    }
    fn create<'a>(&'a mut self, path: &str) -> io::Result<Box<dyn RemoteWrite + 'a>> {
        let f = self.rt.block_on(self.share.create(path))?;
        Ok(Box::new(TokioFile { rt: &self.rt, f }))
    }
    fn mkdir(&mut self, path: &str, parents: bool) -> io::Result<()> {
        match parents {
            true => self.rt.block_on(self.share.create_dir_all(path)),
            false => self.rt.block_on(self.share.create_dir(path)),
        }
    }
    fn remove_file(&mut self, path: &str) -> io::Result<()> {
        self.rt.block_on(self.share.remove_file(path))
    }
    fn remove_dir(&mut self, path: &str, recursive: bool) -> io::Result<()> {
        match recursive {
            true => self.rt.block_on(self.share.remove_dir_all(path)),
            false => self.rt.block_on(self.share.remove_dir(path)),
        }
    }
    fn rename(&mut self, from: &str, to: &str) -> io::Result<()> {
        self.rt.block_on(self.share.rename(from, to))
    }
    fn close(self: Box<Self>) -> io::Result<()> {
        let Tokio { share, client, rt } = *self;
        drop(share);
        rt.block_on(client.shutdown());
        Ok(())
    }
}
