//! `smb2-peer`: the `smb2` crate (0.39) driven the way a user of that crate would drive it,
//! for `scripts/bench`. Not part of the workspace.
//!
//! ```text
//! smb2-peer ADDR USER SHARE connect
//! smb2-peer ADDR USER SHARE get REMOTE LOCAL     streaming download to a local file
//! smb2-peer ADDR USER SHARE put LOCAL REMOTE     streaming upload from a local file
//! smb2-peer ADDR USER SHARE ls DIR               one name per line
//! smb2-peer ADDR USER SHARE mget DIR LOCALDIR    every file of DIR, many in flight
//! smb2-peer ADDR USER SHARE mput LOCALDIR DIR    every file of LOCALDIR, many in flight
//! ```
//!
//! The password comes from `SMB2_PASS`. Signing and encryption follow the server: the
//! crate signs when the server requires it and encrypts when the share or server requires it,
//! which is how the bench's signed and encrypted labs are configured.

use futures::stream::{self, StreamExt, TryStreamExt};
use std::error::Error;
use std::path::Path;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// Small-file operations kept in flight at once on the one session (compounded
/// CREATE+READ+CLOSE or CREATE+WRITE each), as the crate's batch helpers do.
const IN_FLIGHT: usize = 64;
/// Bytes handed to the writer per call in `put`.
const PUT_CHUNK: usize = 8 << 20;

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("smb2-peer: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 {
        return Err("usage: smb2-peer ADDR USER SHARE (connect|get|put|ls|mget|mput) ...".into());
    }
    let (addr, user, share_name, op) = (&args[0], &args[1], &args[2], args[3].as_str());
    let rest = &args[4..];
    let pass = std::env::var("SMB2_PASS").map_err(|_| "set SMB2_PASS")?;
    let mut client = smb2::connect(addr, user, &pass).await?;
    let mut tree = client.connect_share(share_name).await?;
    let arg = |i: usize| -> Res<&str> {
        rest.get(i)
            .map(String::as_str)
            .ok_or_else(|| format!("{op}: missing argument {}", i + 1).into())
    };
    match op {
        "connect" => {}
        "get" => {
            let mut download = client.download(&tree, arg(0)?).await?;
            let mut file = tokio::fs::File::create(arg(1)?).await?;
            let mut total = 0u64;
            while let Some(chunk) = download.next_chunk().await {
                let chunk = chunk?;
                total += chunk.len() as u64;
                file.write_all(&chunk).await?;
            }
            file.flush().await?;
            eprintln!("get {}: {total} bytes", arg(0)?);
        }
        "put" => {
            let mut local = tokio::fs::File::open(arg(0)?).await?;
            let mut writer = client.create_file_writer(&tree, arg(1)?).await?;
            let mut buf = vec![0u8; PUT_CHUNK];
            loop {
                let n = read_full(&mut local, &mut buf).await?;
                if n == 0 {
                    break;
                }
                writer.write_chunk(&buf[..n]).await?;
            }
            let total = writer.finish().await?;
            eprintln!("put {}: {total} bytes", arg(1)?);
        }
        "ls" => {
            let entries = client.list_directory(&mut tree, arg(0)?).await?;
            let mut out = String::new();
            for e in &entries {
                out.push_str(&e.name);
                out.push('\n');
            }
            tokio::io::stdout().write_all(out.as_bytes()).await?;
        }
        "mget" => {
            let dir = arg(0)?.trim_end_matches('/').to_string();
            let local = Path::new(arg(1)?).to_path_buf();
            tokio::fs::create_dir_all(&local).await?;
            let names: Vec<String> = client
                .list_directory(&mut tree, &dir)
                .await?
                .into_iter()
                .filter(|e| !e.is_directory && e.name != "." && e.name != "..")
                .map(|e| e.name)
                .collect();
            let count = names.len();
            let conn = client.connection().clone();
            in_flight(names, |name| {
                let (tree, mut conn, local, dir) =
                    (tree.clone(), conn.clone(), local.clone(), dir.clone());
                async move {
                    let data = tree
                        .read_file_compound(&mut conn, &format!("{dir}/{name}"))
                        .await?;
                    tokio::fs::write(local.join(&name), data).await?;
                    Ok(())
                }
            })
            .await?;
            eprintln!("mget {dir}: {count} files");
        }
        "mput" => {
            let local = Path::new(arg(0)?).to_path_buf();
            let dir = arg(1)?.trim_end_matches('/').to_string();
            let mut names = Vec::new();
            let mut rd = tokio::fs::read_dir(&local).await?;
            while let Some(e) = rd.next_entry().await? {
                if e.file_type().await?.is_file() {
                    names.push(e.file_name().to_string_lossy().into_owned());
                }
            }
            let count = names.len();
            let conn = client.connection().clone();
            in_flight(names, |name| {
                let (tree, mut conn, local, dir) =
                    (tree.clone(), conn.clone(), local.clone(), dir.clone());
                async move {
                    let data = tokio::fs::read(local.join(&name)).await?;
                    tree.write_file_compound(&mut conn, &format!("{dir}/{name}"), &data)
                        .await?;
                    Ok(())
                }
            })
            .await?;
            eprintln!("mput {dir}: {count} files");
        }
        other => return Err(format!("unknown operation {other}").into()),
    }
    client.disconnect_share(&tree).await?;
    Ok(())
}

/// Run `op` for every name with [`IN_FLIGHT`] of them in flight; the first error ends it.
async fn in_flight<F, Fut>(names: Vec<String>, op: F) -> Res<()>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Res<()>>,
{
    stream::iter(names)
        .map(op)
        .buffer_unordered(IN_FLIGHT)
        .try_collect::<()>()
        .await
}

async fn read_full(file: &mut tokio::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = file.read(&mut buf[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}
