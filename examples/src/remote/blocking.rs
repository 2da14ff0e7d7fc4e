//! [`Remote`] over `smb-blocking`: no async runtime at all.

use super::{Entry, Meta, Remote, RemoteWrite, Target, credentials, entry, meta};
use crate::error::Phase;
use smb_blocking::{Client, ClientConfig, File, OpenOptions, Share};
use std::io::{self, Read, Write};

pub(super) struct Blocking {
    share: Share,
    client: Client,
}

pub(super) fn connect(t: &Target) -> Result<Box<dyn Remote>, (Phase, io::Error)> {
    let client = Client::connect(&t.addr, credentials(t), ClientConfig::default())
        .map_err(|e| (Phase::Connect, e))?;
    let share = client.share(&t.share).map_err(|e| (Phase::Share, e))?;
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

impl Remote for Blocking {
    fn metadata(&mut self, path: &str) -> io::Result<Meta> {
        self.share.metadata(path).map(meta)
    }
    fn list(
        &mut self,
        path: &str,
        each: &mut dyn FnMut(Entry) -> io::Result<()>,
    ) -> io::Result<()> {
        for e in self.share.read_dir(path) {
            each(entry(e?))?;
        }
        Ok(())
    }
    fn open_read<'a>(&'a mut self, path: &str) -> io::Result<Box<dyn Read + 'a>> {
        Ok(Box::new(BlockingFile(
            self.share.open(path, OpenOptions::read())?,
        )))
    }
    fn create<'a>(&'a mut self, path: &str) -> io::Result<Box<dyn RemoteWrite + 'a>> {
        Ok(Box::new(BlockingFile(self.share.create(path)?)))
    }
    fn mkdir(&mut self, path: &str, parents: bool) -> io::Result<()> {
        match parents {
            true => self.share.create_dir_all(path),
            false => self.share.create_dir(path),
        }
    }
    fn remove_file(&mut self, path: &str) -> io::Result<()> {
        self.share.remove_file(path)
    }
    fn remove_dir(&mut self, path: &str, recursive: bool) -> io::Result<()> {
        match recursive {
            true => self.share.remove_dir_all(path),
            false => self.share.remove_dir(path),
        }
    }
    fn rename(&mut self, from: &str, to: &str) -> io::Result<()> {
        self.share.rename(from, to)
    }
    fn close(self: Box<Self>) -> io::Result<()> {
        let Blocking { share, client } = *self;
        drop(share);
        client.shutdown();
        Ok(())
    }
}
