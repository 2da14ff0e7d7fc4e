//! `smb-smol` in a few lines: connect, write a file, read it back, list the share.
//! The same code runs under async-std (the adapter only needs futures-io and async-io).
//!
//! ```sh
//! SMB_PASSWORD=secret cargo run -p smb-examples --example smol -- smb://user@127.0.0.1:4455/share
//! ```
//! The URL may also come from `SMB_URL`; without a user name the client logs in as guest.

use smb_core::url::SmbUrl;
use smb_smol::{Client, ClientConfig, Credentials};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    smol::block_on(async {
        let url = std::env::args()
            .nth(1)
            .or_else(|| std::env::var("SMB_URL").ok())
            .ok_or("usage: smol smb://user@host[:port]/share (or set SMB_URL)")?;
        let url = SmbUrl::parse(&url)?;
        let share_name = url.share.clone().ok_or("the URL names no share")?;
        let password = std::env::var("SMB_PASSWORD").unwrap_or_default();
        let creds = match &url.user {
            Some(user) => Credentials::password(url.domain.as_deref(), user.as_str(), password),
            None => Credentials::guest(),
        };

        let client = Client::connect(&url.socket_addr(), creds, ClientConfig::default()).await?;
        let share = client.share(&share_name).await?;

        share
            .write("hello-smol.txt", b"Hello from smb-smol!\n".to_vec())
            .await?;
        let back = share.read("hello-smol.txt").await?;
        print!("read back: {}", String::from_utf8_lossy(&back));

        let mut entries = share.read_dir("");
        while let Some(entry) = entries.next_entry().await? {
            println!("{:>10}  {}", entry.attributes.end_of_file, entry.name);
        }
        client.shutdown().await;
        Ok(())
    })
}
