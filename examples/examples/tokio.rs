//! Connect with `smb-tokio`, write a file, read it back and list the share.
//!
//! ```sh
//! SMB_PASSWORD=secret cargo run -p smb-examples --example tokio -- smb://user@127.0.0.1:4455/share
//! ```
//! The URL may also come from `SMB_URL`.

use smb_core::url::SmbUrl;
use smb_tokio::{Client, ClientConfig, Credentials};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args().nth(1).or_else(|| std::env::var("SMB_URL").ok())
        .ok_or("usage: tokio smb://user@host[:port]/share (or set SMB_URL)")?;
    let url = SmbUrl::parse(&url)?;
    let password = std::env::var("SMB_PASSWORD").unwrap_or_default();
    let creds = match &url.user {
        Some(user) => Credentials::password(url.domain.as_deref(), user.as_str(), password),
        None => Credentials::guest(),
    };

    let client = Client::connect(url.socket_addr(), creds, ClientConfig::default()).await?;
    let share = client.share(url.share.as_deref().ok_or("the URL names no share")?).await?;

    share.write("hello-tokio.txt", b"Hello from smb-tokio!\n".to_vec()).await?;
    let back = share.read("hello-tokio.txt").await?;
    print!("read back: {}", String::from_utf8_lossy(&back));

    let mut entries = share.read_dir("").await?;
    while let Some(entry) = futures_lite::StreamExt::next(&mut entries).await {
        let entry = entry?;
        println!("{:>10}  {}", entry.metadata().len(), entry.name());
    }
    client.close().await?;
    Ok(())
}
