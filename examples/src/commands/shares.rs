//! `smb shares`: the server's shares (srvsvc NetrShareEnum over IPC$, like `smbclient -L`).

use super::Printer;
use crate::error::Failure;
use crate::json::{Stream, Value};
use crate::location::Location;
use crate::run::Ctx;
use crate::session::{Session, finish};
use smb_core::wire::srvsvc::ShareInfo;

/// `smb://[user@]host[:port]` (a share or path after the host is ignored): where to log in,
/// connected to IPC$.
fn server_location(url: &str) -> Result<Location, Failure> {
    let loc = match Location::parse(url) {
        Ok(l) => l,
        Err(first) => {
            Location::parse(&format!("{}/IPC$", url.trim_end_matches('/'))).map_err(|_| first)?
        }
    };
    Ok(Location {
        share: "IPC$".into(),
        path: String::new(),
        trailing_slash: false,
        ..loc
    })
}

/// The TYPE column and the JSON `type`: the kind, then `special` / `temporary` when set.
fn type_text(s: &ShareInfo) -> String {
    let t = s.share_type;
    let mut text = t.kind.name().to_string();
    for (on, name) in [(t.special, ",special"), (t.temporary, ",temporary")] {
        if on {
            text.push_str(name);
        }
    }
    text
}

fn share_json(s: &ShareInfo) -> Value {
    Value::Obj(vec![
        ("name", Value::from(s.name.as_str())),
        ("type", Value::from(s.share_type.kind.name())),
        ("type_bits", Value::Num(u64::from(s.share_type.to_raw()))),
        ("special", Value::Bool(s.share_type.special)),
        ("temporary", Value::Bool(s.share_type.temporary)),
        ("hidden", Value::Bool(s.is_hidden())),
        ("comment", Value::from(s.comment.as_str())),
    ])
}

/// The table: NAME, TYPE, COMMENT, columns as wide as their longest cell.
fn table(shares: &[ShareInfo]) -> String {
    let types: Vec<String> = shares.iter().map(type_text).collect();
    let w_name = shares
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    let w_type = types.iter().map(String::len).max().unwrap_or(0).max(4);
    let mut out = format!("{:<w_name$}  {:<w_type$}  COMMENT\n", "NAME", "TYPE");
    for (s, t) in shares.iter().zip(&types) {
        let line = format!("{:<w_name$}  {t:<w_type$}  {}", s.name, s.comment);
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `smb shares URL`.
pub fn shares(ctx: &Ctx, url: &str) -> Result<(), Failure> {
    let loc = server_location(url)?;
    let s = Session::open(ctx, &loc)?;
    let r = (|| {
        let shares = s.remote.list_shares().map_err(s.err(""))?;
        let mut p = Printer::new();
        let written = if ctx.g.json {
            Stream::start(p.writer()).and_then(|mut j| {
                for sh in &shares {
                    j.entry(&share_json(sh))?;
                }
                j.finish()
            })
        } else {
            p.write(&table(&shares))
        };
        match written {
            Ok(()) => p.flush(),
            Err(e) => Err(p.explain(super::stdout_io(e), s.err(""))),
        }
    })();
    finish(s, r.or_else(|f| if f.code == 0 { Ok(()) } else { Err(f) }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use smb_core::wire::srvsvc::ShareType;

    fn share(name: &str, raw: u32, comment: &str) -> ShareInfo {
        ShareInfo {
            name: name.into(),
            share_type: ShareType::from_raw(raw),
            comment: comment.into(),
        }
    }

    #[test]
    fn table_and_json() {
        let list = [
            share("data", 0, "team files"),
            share("IPC$", 0x8000_0003, ""),
        ];
        assert_eq!(
            table(&list),
            "NAME  TYPE         COMMENT\ndata  disk         team files\nIPC$  ipc,special\n"
        );
        assert_eq!(
            share_json(&list[1]).to_text(),
            r#"{"name":"IPC$","type":"ipc","type_bits":2147483651,"special":true,"temporary":false,"hidden":true,"comment":""}"#
        );
    }

    #[test]
    fn urls_name_the_server() {
        let l = server_location("smb://alice@files:4450").unwrap();
        assert_eq!(
            (l.host.as_str(), l.port, l.share.as_str()),
            ("files", 4450, "IPC$")
        );
        let l = server_location("smb://files/projects/dir").unwrap();
        assert_eq!((l.share.as_str(), l.path.as_str()), ("IPC$", ""));
        assert!(server_location("http://files").is_err());
    }
}
