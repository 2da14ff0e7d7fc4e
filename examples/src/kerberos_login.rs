//! Which Kerberos login the options ask for, if any.
//!
//! - `--keytab FILE` or `--use-ccache FILE`: Kerberos required, from that file.
//! - `-k`: Kerberos required. A password given the way NTLM takes one (`-U user%PASSWORD`,
//!   `--password`, `-A FILE`, the URL, `SMB_PASSWORD`) logs in to the KDC with it, no kinit
//!   needed. Without one: the default ticket cache (KRB5CCNAME) when it holds a valid ticket,
//!   else the password prompt (in a terminal, for a named user), else the ticket cache's error
//!   ("no Kerberos ticket; run kinit ...").
//! - No Kerberos option: kerberos-preferred when the default ticket cache holds a valid ticket
//!   of the user named (-U or the URL) and the URL names a host (not an address): SPNEGO offers
//!   Kerberos first and NTLM second, and a password given without prompting is the NTLM
//!   fallback. `--no-kerberos` (and --guest, --anonymous) never use a ticket.

use smb_core::auth::NtlmCredentials;
use smb_kerberos::{KerberosCredentials, KerberosFactory, Policy};

use crate::credentials::{self, Login, Prompt, Secret};
use crate::error::Failure;
use crate::location::Location;
use crate::run::Ctx;

/// A prompt nobody answers: resolve a password only from what was given.
struct NoPrompt;

impl Prompt for NoPrompt {
    fn available(&self) -> bool {
        false
    }
    fn ask(&self, _: &str) -> std::io::Result<Secret> {
        Err(std::io::Error::other("no prompt"))
    }
}

/// The Kerberos factory for this login, or `None` for an NTLM (guest, anonymous) one.
pub fn factory(ctx: &Ctx, loc: &Location) -> Result<Option<KerberosFactory>, Failure> {
    let g = ctx.g;
    let with_host = |f: KerberosFactory| Some(f.with_host(loc.host.clone()));
    if let Some(kt) = &g.keytab {
        let creds = KerberosCredentials::Keytab {
            keytab: kt.clone(),
            principal: user(ctx, loc),
        };
        return Ok(with_host(KerberosFactory::new(creds, Policy::Required)));
    }
    if let Some(cc) = &g.use_ccache {
        let creds = KerberosCredentials::Ccache(cc.clone());
        return Ok(with_host(KerberosFactory::new(creds, Policy::Required)));
    }
    let ticket = || KerberosFactory::new(KerberosCredentials::Default, Policy::Required);
    if g.kerberos {
        let creds = match password(ctx, loc, &NoPrompt) {
            Some((principal, password)) => KerberosCredentials::Password {
                principal,
                password: password.expose().to_string().into(),
            },
            None if ticket().principal().is_ok() || !ctx.sys.prompt.available() => {
                KerberosCredentials::Default
            }
            None => match prompted(ctx, loc)? {
                Some((principal, password)) => KerberosCredentials::Password {
                    principal,
                    password: password.expose().to_string().into(),
                },
                None => KerberosCredentials::Default,
            },
        };
        return Ok(with_host(KerberosFactory::new(creds, Policy::Required)));
    }
    if g.no_kerberos || g.guest || g.anonymous || loc.host.parse::<std::net::IpAddr>().is_ok() {
        return Ok(None);
    }
    let Some(named) = user(ctx, loc) else {
        return Ok(None);
    };
    let preferred = KerberosFactory::new(KerberosCredentials::Default, Policy::Preferred);
    match preferred.principal() {
        Ok(p) if same_user(&p, &named) => {}
        _ => return Ok(None),
    }
    let mut f = preferred;
    if let Some((user, password)) = password(ctx, loc, &NoPrompt) {
        let domain = ntlm_domain(ctx, loc).unwrap_or_default();
        f = f.with_ntlm(NtlmCredentials::password(
            &domain,
            user.split('@').next().unwrap_or(&user),
            password.expose(),
        ));
    }
    Ok(with_host(f))
}

/// The user of a Kerberos login as given (-U, else the URL), `user@REALM` or `user`.
pub fn user(ctx: &Ctx, loc: &Location) -> Option<String> {
    ctx.g
        .user
        .as_ref()
        .map(|u| u.user.clone())
        .or_else(|| loc.login.user.clone())
}

fn ntlm_domain(ctx: &Ctx, loc: &Location) -> Option<String> {
    ctx.g
        .user
        .as_ref()
        .and_then(|u| u.domain.clone())
        .or_else(|| loc.login.domain.clone())
}

/// `alice@TEST.LAN` is the ticket of `alice`, `alice@TEST.LAN` and `ALICE`.
fn same_user(principal: &str, named: &str) -> bool {
    let (p_user, p_realm) = principal.split_once('@').unwrap_or((principal, ""));
    match named.split_once('@') {
        Some((u, realm)) => u.eq_ignore_ascii_case(p_user) && realm.eq_ignore_ascii_case(p_realm),
        None => named.eq_ignore_ascii_case(p_user),
    }
}

/// The user and password as the NTLM login would take them (`prompt` last).
fn password(ctx: &Ctx, loc: &Location, prompt: &dyn Prompt) -> Option<(String, Secret)> {
    match credentials::resolve(
        &ctx.credential_args(),
        loc.login.clone(),
        ctx.sys.env_password.clone(),
        prompt,
        &loc.server(),
    ) {
        Ok(Login::User { user, password, .. }) => Some((user, password)),
        _ => None,
    }
}

/// As [`password`] with the terminal prompt; a failed prompt (interrupted) is an error.
fn prompted(ctx: &Ctx, loc: &Location) -> Result<Option<(String, Secret)>, Failure> {
    if user(ctx, loc).is_none() {
        return Ok(None);
    }
    match credentials::resolve(
        &ctx.credential_args(),
        loc.login.clone(),
        ctx.sys.env_password.clone(),
        &*ctx.sys.prompt,
        &loc.server(),
    )? {
        Login::User { user, password, .. } => Ok(Some((user, password))),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::same_user;

    #[test]
    fn ticket_user_matching() {
        assert!(same_user("alice@TEST.LAN", "alice"));
        assert!(same_user("alice@TEST.LAN", "ALICE"));
        assert!(same_user("alice@TEST.LAN", "alice@test.lan"));
        assert!(!same_user("alice@TEST.LAN", "alice@OTHER.LAN"));
        assert!(!same_user("alice@TEST.LAN", "bob"));
        assert!(!same_user("alice@TEST.LAN", "ali"));
    }
}
