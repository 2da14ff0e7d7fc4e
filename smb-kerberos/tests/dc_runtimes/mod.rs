//! The three runtimes behind one small interface, so that every Kerberos case of `dc.rs` runs
//! on smb-blocking, smb-tokio and smb-smol alike (one DC for all of them).

use std::io;

use smb_blocking::{ClientConfig, Credentials, SessionInfo};
use smb_kerberos::KerberosFactory;

/// A runtime: how to connect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rt {
    Blocking,
    Tokio,
    Smol,
}

impl Rt {
    pub const ALL: [Rt; 3] = [Rt::Blocking, Rt::Tokio, Rt::Smol];

    /// Connect to `addr` with `f` and open `share`.
    pub fn connect(
        self,
        addr: &str,
        f: &KerberosFactory,
        cfg: ClientConfig,
        share: &str,
    ) -> io::Result<Box<dyn Conn>> {
        let creds = || Credentials::Custom(Box::new(f.clone()));
        match self {
            Rt::Blocking => {
                let client = smb_blocking::Client::connect(addr, creds(), cfg)?;
                let share = client.share(share)?;
                Ok(Box::new(Blocking { client, share }))
            }
            Rt::Tokio => {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                let (client, share) = rt.block_on(async {
                    let client = smb_tokio::Client::connect(addr, creds(), cfg).await?;
                    let share = client.share(share).await?;
                    io::Result::Ok((client, share))
                })?;
                Ok(Box::new(Tokio { rt, client, share }))
            }
            Rt::Smol => smol::block_on(async {
                let client = smb_smol::Client::connect(addr, creds(), cfg).await?;
                let share = client.share(share).await?;
                Ok(Box::new(Smol { client, share }) as Box<dyn Conn>)
            }),
        }
    }
}

/// A connected share on one runtime.
pub trait Conn {
    fn info(&self) -> SessionInfo;
    fn write(&self, name: &str, data: &[u8]) -> io::Result<()>;
    fn read(&self, name: &str) -> io::Result<Vec<u8>>;
    fn list(&self) -> io::Result<Vec<String>>;
    fn reconnects(&self) -> u64;
    fn shutdown(self: Box<Self>);
}

struct Blocking {
    client: smb_blocking::Client,
    share: smb_blocking::Share,
}

impl Conn for Blocking {
    fn info(&self) -> SessionInfo {
        self.client.info().clone()
    }
    fn write(&self, name: &str, data: &[u8]) -> io::Result<()> {
        self.share.write(name, data.to_vec())
    }
    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        self.share.read(name)
    }
    fn list(&self) -> io::Result<Vec<String>> {
        self.share.read_dir("").map(|e| e.map(|e| e.name)).collect()
    }
    fn reconnects(&self) -> u64 {
        self.client.stats().map(|s| s.stats.reconnects).unwrap_or(0)
    }
    fn shutdown(self: Box<Self>) {
        self.client.shutdown();
    }
}

struct Tokio {
    rt: tokio::runtime::Runtime,
    client: smb_tokio::Client,
    share: smb_tokio::Share,
}

impl Conn for Tokio {
    fn info(&self) -> SessionInfo {
        self.client.info().clone()
    }
    fn write(&self, name: &str, data: &[u8]) -> io::Result<()> {
        self.rt.block_on(self.share.write(name, data.to_vec()))
    }
    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        self.rt.block_on(self.share.read(name))
    }
    fn list(&self) -> io::Result<Vec<String>> {
        self.rt.block_on(async {
            let mut rd = self.share.read_dir("");
            let mut names = Vec::new();
            while let Some(e) = rd.next_entry().await? {
                names.push(e.name);
            }
            Ok(names)
        })
    }
    fn reconnects(&self) -> u64 {
        self.rt
            .block_on(self.client.stats())
            .map(|s| s.stats.reconnects)
            .unwrap_or(0)
    }
    fn shutdown(self: Box<Self>) {
        let Tokio { rt, client, share } = *self;
        drop(share);
        rt.block_on(client.shutdown());
    }
}

struct Smol {
    client: smb_smol::Client,
    share: smb_smol::Share,
}

impl Conn for Smol {
    fn info(&self) -> SessionInfo {
        self.client.info().clone()
    }
    fn write(&self, name: &str, data: &[u8]) -> io::Result<()> {
        smol::block_on(self.share.write(name, data.to_vec()))
    }
    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        smol::block_on(self.share.read(name))
    }
    fn list(&self) -> io::Result<Vec<String>> {
        smol::block_on(async {
            let mut rd = self.share.read_dir("");
            let mut names = Vec::new();
            while let Some(e) = rd.next_entry().await? {
                names.push(e.name);
            }
            Ok(names)
        })
    }
    fn reconnects(&self) -> u64 {
        smol::block_on(self.client.stats())
            .map(|s| s.stats.reconnects)
            .unwrap_or(0)
    }
    fn shutdown(self: Box<Self>) {
        let Smol { client, share } = *self;
        drop(share);
        smol::block_on(client.shutdown());
    }
}
