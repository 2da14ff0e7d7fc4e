//! [`Remote`] over `smb-smol`: every call runs to completion with `smol::block_on`.

use super::{Entry, Meta, Remote, RemoteWrite, Target, credentials, entry, meta};
use crate::error::Phase;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use smb_smol::{Client, ClientConfig, File, OpenOptions, Share};
use smol::block_on;
use std::io::{self, Read, Write};

pub(super) struct Smol {
    share: Share,
    client: Client,
}

pub(super) fn connect(t: &Target) -> Result<Box<dyn Remote>, (Phase, io::Error)> {
    let client = block_on(Client::connect(
        &t.addr,
        credentials(t),
        ClientConfig::default(),
    ))
    .map_err(|e| (Phase::Connect, e))?;
    let share = block_on(client.share(&t.share)).map_err(|e| (Phase::Share, e))?;
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

impl Remote for Smol {
    fn metadata(&mut self, path: &str) -> io::Result<Meta> {
        block_on(self.share.metadata(path)).map(meta)
    }
    fn list(
        &mut self,
        path: &str,
        each: &mut dyn FnMut(Entry) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut dir = self.share.read_dir(path);
        while let Some(e) = block_on(dir.next_entry())? {
            each(entry(e))?;
        }
        Ok(())
    }
    fn open_read<'a>(&'a mut self, path: &str) -> io::Result<Box<dyn Read + 'a>> {
        let f = block_on(self.share.open(path, OpenOptions::read()))?;
        Ok(Box::new(SmolFile(f)))
    }
    fn create<'a>(&'a mut self, path: &str) -> io::Result<Box<dyn RemoteWrite + 'a>> {
        Ok(Box::new(SmolFile(block_on(self.share.create(path))?)))
    }
    fn mkdir(&mut self, path: &str, parents: bool) -> io::Result<()> {
        match parents {
            true => block_on(self.share.create_dir_all(path)),
            false => block_on(self.share.create_dir(path)),
        }
    }
    fn remove_file(&mut self, path: &str) -> io::Result<()> {
        block_on(self.share.remove_file(path))
    }
    fn remove_dir(&mut self, path: &str, recursive: bool) -> io::Result<()> {
        match recursive {
            true => block_on(self.share.remove_dir_all(path)),
            false => block_on(self.share.remove_dir(path)),
        }
    }
    fn rename(&mut self, from: &str, to: &str) -> io::Result<()> {
        block_on(self.share.rename(from, to))
    }
    fn close(self: Box<Self>) -> io::Result<()> {
        let Smol { share, client } = *self;
        drop(share);
        block_on(client.shutdown());
        Ok(())
    }
}
