//! `smb info`: what the connection negotiated (smbclient's showconnect and more).

use super::Printer;
use crate::credentials::Login;
use crate::error::Failure;
use crate::format::dialect_name;
use crate::json::Value;
use crate::location::Location;
use crate::run::Ctx;
use crate::session::{Session, finish};

/// ShareFlags bits ([MS-SMB2] 2.2.10).
const SHARE_FLAGS: &[(u32, &str)] = &[
    (0x0000_0010, "auto-caching"),
    (0x0000_0020, "vdo-caching"),
    (0x0000_0030, "no-caching"),
    (0x0000_0001, "dfs"),
    (0x0000_0002, "dfs-root"),
    (0x0000_0100, "restrict-exclusive-opens"),
    (0x0000_0200, "force-shared-delete"),
    (0x0000_0400, "allow-namespace-caching"),
    (0x0000_0800, "access-based-directory-enum"),
    (0x0000_1000, "force-levelii-oplock"),
    (0x0000_2000, "enable-hash-v1"),
    (0x0000_4000, "enable-hash-v2"),
    (0x0000_8000, "encrypt-data"),
    (0x0004_0000, "identity-remoting"),
    (0x0010_0000, "compress-data"),
    (0x0020_0000, "isolated-transport"),
];

/// Share Capabilities bits ([MS-SMB2] 2.2.10).
const SHARE_CAPS: &[(u32, &str)] = &[
    (0x0000_0008, "dfs"),
    (0x0000_0010, "continuous-availability"),
    (0x0000_0020, "scaleout"),
    (0x0000_0040, "cluster"),
    (0x0000_0080, "asymmetric"),
    (0x0000_0100, "redirect-to-owner"),
];

fn names(bits: u32, table: &[(u32, &'static str)]) -> Vec<&'static str> {
    let caching = bits & 0x30;
    table
        .iter()
        .filter(|(b, _)| {
            if *b & 0x30 != 0 && *b & !0x30 == 0 {
                caching == *b
            } else {
                bits & b != 0
            }
        })
        .map(|(_, n)| *n)
        .collect()
}

/// Channels in use once the extra ones the session asks for are bound (they bind in the
/// background after the first TREE_CONNECT): waits up to 2 s for `wanted`.
fn live_channels(s: &Session, wanted: usize) -> usize {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let good = s.remote.stats().map_or(1, |snap| snap.good_channels());
        if good >= wanted || std::time::Instant::now() >= deadline {
            return good.max(1);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn share_type(t: u8) -> &'static str {
    match t {
        1 => "disk",
        2 => "pipe",
        3 => "print",
        _ => "unknown",
    }
}

/// `smb info URL`.
pub fn info(ctx: &Ctx, url: &str) -> Result<(), Failure> {
    let loc = Location::parse(url)?;
    let s = Session::open(ctx, &loc)?;
    let r = (|| {
        let n = s.remote.negotiated();
        let share = s.remote.share_info().map_err(s.err(""))?;
        let logon = match &s.login {
            Login::Guest => "guest".to_string(),
            Login::Anonymous => "anonymous".to_string(),
            Login::User { .. } if n.guest => "guest (the server's choice)".to_string(),
            l @ Login::User { .. } => format!("user {}", l.describe()),
        };
        // The authentication mechanism: Kerberos for -k (the factory saw it through), NTLMv2
        // for a user's password, none for guest and anonymous sessions.
        let mechanism = match (&s.kerberos, &s.login) {
            (Some(k), _) => k.mechanism_used().map_or("Kerberos", |m| match m {
                smb_kerberos::Mechanism::Kerberos => "Kerberos",
                smb_kerberos::Mechanism::Ntlm => "NTLMv2",
            }),
            (None, Login::User { .. }) if !n.guest => "NTLMv2",
            _ => "none",
        };
        let logon = match mechanism {
            "none" => logon,
            m => format!("{logon} ({m})"),
        };
        let flags = names(share.flags, SHARE_FLAGS);
        let caps = names(share.capabilities, SHARE_CAPS);
        let runtime = s.remote.runtime().name();
        // ShareFlags SMB2_SHAREFLAG_ENCRYPT_DATA ([MS-SMB2] 2.2.10).
        let share_requires = share.flags & 0x8000 != 0;
        let encryption = match (n.encryption, share.encrypted || share_requires) {
            (true, _) => "yes (the whole session)",
            (false, true) => "yes (this share requires it)",
            (false, false) => "no",
        };
        let signing_alg = n.signing_algorithm.map(signing_name);
        let cipher = n.cipher.map(cipher_name);
        let server_caps = server_capabilities(n.capabilities);
        let offered = n.capabilities & 0x08 != 0; // SMB2_GLOBAL_CAP_MULTI_CHANNEL
        let wanted = if offered {
            usize::from(ctx.g.channels)
        } else {
            1
        };
        let live = live_channels(&s, wanted);
        let mut p = Printer::new();
        let text = if ctx.g.json {
            let strs = |v: &[&str]| Value::Arr(v.iter().map(|s| Value::from(*s)).collect());
            let doc = Value::Obj(vec![
                ("server", Value::from(s.server.as_str())),
                ("host", Value::from(loc.host.as_str())),
                ("port", Value::Num(u64::from(loc.port))),
                ("share", Value::from(s.share.as_str())),
                ("runtime", Value::from(runtime)),
                ("dialect", Value::from(dialect_name(n.dialect))),
                ("logon", Value::from(logon.as_str())),
                ("mechanism", Value::from(mechanism)),
                (
                    "user",
                    Value::opt_str(match &s.login {
                        l @ Login::User { .. } => Some(l.describe()),
                        _ => None,
                    }),
                ),
                ("guest", Value::Bool(n.guest || s.login == Login::Guest)),
                ("anonymous", Value::Bool(n.anonymous)),
                ("signing", Value::Bool(n.signing)),
                (
                    "signing_algorithm",
                    Value::opt_str(signing_alg.map(String::from)),
                ),
                ("encryption", Value::Bool(n.encryption)),
                ("cipher", Value::opt_str(cipher.map(String::from))),
                ("server_capabilities", strs(&server_caps)),
                (
                    "share_encrypted",
                    Value::Bool(share.encrypted || share_requires),
                ),
                ("channels", Value::Num(live as u64)),
                ("max_channels", Value::Num(u64::from(ctx.g.channels))),
                ("multichannel_offered", Value::Bool(offered)),
                ("share_type", Value::from(share_type(share.share_type))),
                ("share_flags", strs(&flags)),
                ("share_capabilities", strs(&caps)),
                (
                    "maximal_access",
                    Value::Num(u64::from(share.maximal_access)),
                ),
            ]);
            format!("{}\n", doc.to_text())
        } else {
            let yn = |b: bool| if b { "yes" } else { "no" };
            let list = |v: &[&str]| {
                if v.is_empty() {
                    "-".to_string()
                } else {
                    v.join(", ")
                }
            };
            format!(
                "server:          {} (host {})\n\
                 share:           {} ({})\n\
                 runtime:         {runtime}\n\
                 dialect:         SMB {}\n\
                 logon:           {logon}\n\
                 signing:         {}\n\
                 encryption:      {encryption}{}\n\
                 server caps:     {}\n\
                 channels:        {}\n\
                 share flags:     {}\n\
                 share caps:      {}\n\
                 maximal access:  {:#010x}\n",
                s.server,
                loc.host,
                s.share,
                share_type(share.share_type),
                dialect_name(n.dialect),
                match signing_alg {
                    Some(a) => format!("yes ({a})"),
                    None => yn(n.signing).to_string(),
                },
                cipher.map_or(String::new(), |c| format!(", cipher {c}")),
                list(&server_caps),
                match (offered, ctx.g.channels) {
                    (_, 1) => "1 (--channels 1)".to_string(),
                    (true, max) =>
                        format!("{live} of up to {max} (the server offers multichannel)"),
                    (false, _) => "1 (the server does not offer multichannel)".to_string(),
                },
                list(&flags),
                list(&caps),
                share.maximal_access,
            )
        };
        match p.write(&text) {
            Ok(()) => p.flush(),
            Err(e) => Err(p.explain(super::stdout_io(e), s.err(""))),
        }
    })();
    finish(s, r.or_else(|f| if f.code == 0 { Ok(()) } else { Err(f) }))
}

fn signing_name(a: smb_core::client::SigningAlgorithm) -> &'static str {
    use smb_core::client::SigningAlgorithm as A;
    match a {
        A::HmacSha256 => "HMAC-SHA256",
        A::AesCmac => "AES-128-CMAC",
        A::AesGmac => "AES-128-GMAC",
        A::Other(_) => "unknown",
    }
}

fn cipher_name(c: smb_core::client::Cipher) -> &'static str {
    use smb_core::client::Cipher as C;
    match c {
        C::Aes128Ccm => "AES-128-CCM",
        C::Aes128Gcm => "AES-128-GCM",
        C::Aes256Ccm => "AES-256-CCM",
        C::Aes256Gcm => "AES-256-GCM",
        _ => "unknown",
    }
}

/// SMB2_GLOBAL_CAP_* names ([MS-SMB2] 2.2.4).
fn server_capabilities(bits: u32) -> Vec<&'static str> {
    [
        (0x01, "dfs"),
        (0x02, "leasing"),
        (0x04, "large-mtu"),
        (0x08, "multi-channel"),
        (0x10, "persistent-handles"),
        (0x20, "directory-leasing"),
        (0x40, "encryption"),
        (0x80, "notifications"),
    ]
    .into_iter()
    .filter(|(b, _)| bits & b != 0)
    .map(|(_, n)| n)
    .collect()
}
