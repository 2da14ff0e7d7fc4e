//! Kerberos login for the Sluice SMB2/3 client, through the system GSS-API (MIT krb5).
//!
//! [`KerberosFactory`] is an [`AuthFactory`]: give it to a client as
//! `Credentials::Custom(Box::new(factory))`. Each exchange gets a [`KerberosAuthenticator`]
//! that asks GSS-API (krb5 mechanism) for an AP-REQ to `cifs/<host>`, wraps it in SPNEGO
//! (offering MS-KRB5 and KRB5), checks the server's AP-REP (mutual authentication) and the
//! mechListMIC when there is one, and hands the engine the context's session key
//! (GSS_C_INQ_SSPI_SESSION_KEY; SMB uses its first 16 bytes, [MS-SMB2] 3.2.5.3).
//!
//! Credentials ([`KerberosCredentials`]): the user's ticket cache after `kinit` (KRB5CCNAME
//! and KRB5_CONFIG are honoured, as everywhere in MIT krb5), a named ccache, a keytab, or a
//! password (an initial ticket is acquired in memory; nothing is written to disk).
//!
//! The host name in the SPN is the one the caller gives ([`KerberosFactory::with_host`]) or,
//! by default, the client's server name (`ClientConfig::with_server_name`, else the host of the
//! address): connect to an IP address, name the host. Nothing here resolves a name.
//!
//! ```no_run
//! use smb_kerberos::{KerberosCredentials, KerberosFactory, Policy};
//! let factory = KerberosFactory::new(KerberosCredentials::Default, Policy::Required)
//!     .with_host("dc1.test.lan");
//! factory.check().unwrap(); // typed error if there is no ticket, it expired, ...
//! # let _ = factory;
//! ```
//!
//! Policies ([`Policy`]): [`Policy::Required`] lists only MS-KRB5 and KRB5 and never sends
//! NTLMSSP; [`Policy::NtlmOnly`] never sends a Kerberos token; [`Policy::Preferred`] (the
//! default) lists MS-KRB5, KRB5 and then NTLMSSP in one SPNEGO NegTokenInit with the Kerberos
//! AP-REQ as the optimistic token. If the server picks NTLMSSP, the exchange goes on with NTLM
//! ([RFC 4178] 5; the server's mechListMIC is then required, so the choice cannot be forged);
//! if there is no ticket (or no ticket can be had for the SPN), NTLM is used from the start.
//! So "Kerberos when a ticket is available, else NTLM" is:
//!
//! ```no_run
//! use smb_core::auth::NtlmCredentials;
//! use smb_kerberos::{KerberosCredentials, KerberosFactory, Policy};
//! let ntlm = NtlmCredentials::password("TEST", "alice", "Alic3Pass!x");
//! let factory = KerberosFactory::new(KerberosCredentials::Default, Policy::default())
//!     .with_ntlm(ntlm);
//! // Credentials::Custom(Box::new(factory.clone())); afterwards factory.mechanism_used()
//! # let _ = factory;
//! ```
//!
//! Binding: `libgssapi-sys`, the raw bindings of the `libgssapi` project (bindgen against the
//! installed headers, so they match the system's MIT krb5). The safe `libgssapi` crate on top
//! of it offers neither `gss_inquire_sec_context_by_oid` (the session key) nor
//! `gss_acquire_cred_from` (a given ccache or keytab), so the dozen calls used here are wrapped
//! in the `gss` module instead, the only place with `unsafe`.
#![deny(unsafe_code)]

mod gss;

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use smb_core::auth::spnego::{
    NegState, NegTokenInit, NegTokenResp, OID_KRB5, OID_MS_KRB5, OID_NTLMSSP,
};
use smb_core::auth::{
    AuthContext, AuthError, AuthFactory, AuthKind, AuthStep, Authenticator, NtlmAuthenticator,
    NtlmCredentials,
};
use zeroize::Zeroizing;

/// Where the Kerberos identity comes from.
#[derive(Clone)]
pub enum KerberosCredentials {
    /// The default credential cache (KRB5CCNAME, else the system default): after `kinit`.
    Default,
    /// A given credential cache: `FILE:/path`, `KEYRING:...`, or a plain path (FILE:).
    Ccache(String),
    /// A keytab: initial tickets for `principal` (`None`: the keytab's first entry) are
    /// obtained from its keys, into a memory cache.
    Keytab {
        /// The keytab file.
        keytab: PathBuf,
        /// The client principal, `user@REALM`.
        principal: Option<String>,
    },
    /// A password: an initial ticket for `principal` is requested from the KDC.
    Password {
        /// The client principal, `user@REALM` (or `user`: the default realm).
        principal: String,
        /// The password (wiped on drop).
        password: Zeroizing<String>,
    },
}

impl fmt::Debug for KerberosCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KerberosCredentials::Default => f.write_str("Default"),
            KerberosCredentials::Ccache(c) => f.debug_tuple("Ccache").field(c).finish(),
            KerberosCredentials::Keytab { keytab, principal } => f
                .debug_struct("Keytab")
                .field("keytab", keytab)
                .field("principal", principal)
                .finish(),
            KerberosCredentials::Password { principal, .. } => f
                .debug_struct("Password")
                .field("principal", principal)
                .finish_non_exhaustive(),
        }
    }
}

/// Which mechanism a login may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Policy {
    /// Kerberos only: fail (with the Kerberos cause) rather than use NTLM.
    Required,
    /// Kerberos when a ticket can be had, else NTLM with the NTLM credentials given; NTLMSSP
    /// is offered after Kerberos in the same exchange, for a server that picks it.
    #[default]
    Preferred,
    /// NTLM only.
    NtlmOnly,
}

/// Why a Kerberos login failed, by cause.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KerberosError {
    /// No ticket: no credential cache, or none for this principal.
    NoTicket(String),
    /// The ticket (or the cached TGT) has expired.
    Expired(String),
    /// The KDC does not know the client principal.
    UnknownPrincipal(String),
    /// The KDC does not know the service principal `cifs/<host>`.
    SpnNotFound {
        /// The SPN asked for.
        spn: String,
        /// The library's text.
        detail: String,
    },
    /// The clocks of this machine and the KDC or server differ too much.
    ClockSkew(String),
    /// No KDC could be reached for the realm.
    KdcUnreachable(String),
    /// The password (or key) is wrong.
    BadPassword(String),
    /// The server's answer did not authenticate it (no AP-REP, bad MIC).
    MutualAuthFailed(String),
    /// The server does not offer Kerberos, or chose another mechanism, and the policy
    /// forbids the fallback. The text lists what the server offered or chose.
    NotOffered(String),
    /// Anything else GSS-API reported.
    Other(String),
}

impl fmt::Display for KerberosError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KerberosError::NoTicket(d) => write!(
                f,
                "no Kerberos ticket ({d}); run kinit, or give a keytab or password"
            ),
            KerberosError::Expired(d) => {
                write!(f, "the Kerberos ticket has expired ({d}); run kinit again")
            }
            KerberosError::UnknownPrincipal(d) => write!(
                f,
                "unknown Kerberos principal ({d}); check the user name and realm"
            ),
            KerberosError::SpnNotFound { spn, detail } => write!(
                f,
                "the KDC has no service principal {spn} ({detail}); give the server's real host \
                 name (the URL's host, with -I for the address), not an IP or alias"
            ),
            KerberosError::ClockSkew(d) => write!(
                f,
                "clock skew too great between this machine and the KDC or server ({d}); \
                 synchronize the clocks"
            ),
            KerberosError::KdcUnreachable(d) => write!(
                f,
                "cannot reach a KDC for the realm ({d}); check krb5.conf (KRB5_CONFIG) and the \
                 network"
            ),
            KerberosError::BadPassword(d) => {
                write!(f, "the KDC refused the password or key ({d})")
            }
            KerberosError::MutualAuthFailed(d) => {
                write!(f, "the server did not prove its identity ({d})")
            }
            KerberosError::NotOffered(d) => write!(
                f,
                "the server does not take Kerberos here ({d}); it may not be joined to a domain \
                 or may lack a cifs/ key: log in with a password (NTLM), or allow the fallback \
                 (kerberos-preferred with NTLM credentials)"
            ),
            KerberosError::Other(d) => write!(f, "Kerberos failed: {d}"),
        }
    }
}

impl std::error::Error for KerberosError {}

impl From<KerberosError> for AuthError {
    fn from(e: KerberosError) -> AuthError {
        AuthError::Mechanism {
            mechanism: "Kerberos",
            message: e.to_string(),
        }
    }
}

// krb5 com_err codes (krb5.h) seen as GSS minor status.
const KDC_ERR_C_PRINCIPAL_UNKNOWN: i32 = -1765328378;
const KDC_ERR_S_PRINCIPAL_UNKNOWN: i32 = -1765328377;
const KDC_ERR_PREAUTH_FAILED: i32 = -1765328360;
const AP_ERR_BAD_INTEGRITY: i32 = -1765328353;
const AP_ERR_TKT_EXPIRED: i32 = -1765328352;
const AP_ERR_SKEW: i32 = -1765328347;
const CC_NOTFOUND: i32 = -1765328243;
const CC_END: i32 = -1765328242;
const REALM_UNKNOWN: i32 = -1765328230;
const KDC_UNREACH: i32 = -1765328228;
const KT_NOTFOUND: i32 = -1765328203;
const FCC_NOFILE: i32 = -1765328189;
const REALM_CANT_RESOLVE: i32 = -1765328164;
const GSS_S_NO_CRED: u32 = 7 << 16;
const GSS_S_CREDENTIALS_EXPIRED: u32 = 11 << 16;

fn classify(st: gss::Status, spn: Option<&str>) -> KerberosError {
    let d = st.message;
    match st.minor as i32 {
        KDC_ERR_C_PRINCIPAL_UNKNOWN | KT_NOTFOUND => KerberosError::UnknownPrincipal(d),
        KDC_ERR_S_PRINCIPAL_UNKNOWN => KerberosError::SpnNotFound {
            spn: spn.unwrap_or("?").to_string(),
            detail: d,
        },
        KDC_ERR_PREAUTH_FAILED | AP_ERR_BAD_INTEGRITY => KerberosError::BadPassword(d),
        AP_ERR_TKT_EXPIRED => KerberosError::Expired(d),
        AP_ERR_SKEW => KerberosError::ClockSkew(d),
        KDC_UNREACH | REALM_CANT_RESOLVE | REALM_UNKNOWN => KerberosError::KdcUnreachable(d),
        FCC_NOFILE | CC_NOTFOUND | CC_END => KerberosError::NoTicket(d),
        _ if st.major & 0xffff0000 == GSS_S_CREDENTIALS_EXPIRED => KerberosError::Expired(d),
        _ if st.major & 0xffff0000 == GSS_S_NO_CRED => KerberosError::NoTicket(d),
        _ => KerberosError::Other(d),
    }
}

/// Which mechanism the last completed exchange of a factory used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    /// Kerberos 5 inside SPNEGO.
    Kerberos,
    /// NTLMv2 inside SPNEGO (the fallback of [`Policy::Preferred`], or [`Policy::NtlmOnly`]).
    Ntlm,
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mechanism::Kerberos => "Kerberos",
            Mechanism::Ntlm => "NTLMv2",
        })
    }
}

/// The [`AuthFactory`] for Kerberos (with an optional NTLM fallback). Cheap to clone; clones
/// share the [`KerberosFactory::mechanism_used`] slot.
#[derive(Clone, Debug)]
pub struct KerberosFactory {
    creds: KerberosCredentials,
    policy: Policy,
    ntlm: Option<NtlmCredentials>,
    host: Option<String>,
    used: Arc<Mutex<Option<Mechanism>>>,
}

impl KerberosFactory {
    /// Kerberos with `creds` under `policy`.
    pub fn new(creds: KerberosCredentials, policy: Policy) -> Self {
        KerberosFactory {
            creds,
            policy,
            ntlm: None,
            host: None,
            used: Arc::new(Mutex::new(None)),
        }
    }
    /// The server's host name for the SPN `cifs/<host>` (default: the client's server name).
    pub fn with_host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }
    /// NTLM credentials for [`Policy::Preferred`]'s fallback and [`Policy::NtlmOnly`].
    pub fn with_ntlm(mut self, creds: NtlmCredentials) -> Self {
        self.ntlm = Some(creds);
        self
    }
    /// The mechanism of the last completed login (`None` before one).
    pub fn mechanism_used(&self) -> Option<Mechanism> {
        *self.used.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn acquire(&self) -> Result<gss::Cred, KerberosError> {
        let cls = |s| classify(s, None);
        let cred = match &self.creds {
            KerberosCredentials::Default => gss::Cred::acquire_from(None, &[]).map_err(cls)?,
            KerberosCredentials::Ccache(c) => {
                let c = if c.contains(':') {
                    c.clone()
                } else {
                    format!("FILE:{c}")
                };
                if let Some(path) = c.strip_prefix("FILE:") {
                    if !std::path::Path::new(path).exists() {
                        return Err(KerberosError::NoTicket(format!(
                            "credential cache {path} does not exist"
                        )));
                    }
                }
                gss::Cred::acquire_from(None, &[("ccache", &c)]).map_err(cls)?
            }
            KerberosCredentials::Keytab { keytab, principal } => {
                let name = principal
                    .as_deref()
                    .map(gss::Name::principal)
                    .transpose()
                    .map_err(cls)?;
                let kt = format!("FILE:{}", keytab.display());
                let cc = format!("MEMORY:smb-kerberos-{}", next_id());
                gss::Cred::acquire_from(name.as_ref(), &[("client_keytab", &kt), ("ccache", &cc)])
                    .map_err(cls)?
            }
            KerberosCredentials::Password {
                principal,
                password,
            } => {
                let name = gss::Name::principal(principal).map_err(cls)?;
                gss::Cred::with_password(&name, password).map_err(cls)?
            }
        };
        match cred.lifetime() {
            Ok(0) => Err(KerberosError::Expired(
                "the ticket's lifetime is over".into(),
            )),
            Ok(_) => Ok(cred),
            Err(e) => Err(cls(e)),
        }
    }

    /// The client principal of the credentials (`alice@TEST.LAN`), with a typed error when
    /// there is no valid ticket (or keys to get one). For a login that should use a ticket
    /// only when it is the named user's: compare before choosing [`Policy::Preferred`].
    pub fn principal(&self) -> Result<String, KerberosError> {
        self.acquire()?.principal().map_err(|e| classify(e, None))
    }

    /// Check the credentials now, with a typed error: a ticket (or the keys to get one) is
    /// there and valid and, when a host is set, the KDC issues a ticket for `cifs/<host>`.
    pub fn check(&self) -> Result<(), KerberosError> {
        let cred = self.acquire()?;
        if let Some(host) = &self.host {
            let spn = format!("cifs/{host}");
            let target = gss::Name::principal(&spn).map_err(|e| classify(e, Some(&spn)))?;
            gss::Ctx::new()
                .step(&cred, &target, None)
                .map_err(|e| classify(e, Some(&spn)))?;
        }
        Ok(())
    }
}

/// The names of SPNEGO mechanism OIDs, for messages.
fn mech_names(oids: &[&[u8]]) -> String {
    let names: Vec<&str> = oids
        .iter()
        .map(|o| match *o {
            x if x == OID_KRB5 => "KRB5",
            x if x == OID_MS_KRB5 => "MS-KRB5",
            x if x == OID_NTLMSSP => "NTLMSSP",
            x if x == smb_core::auth::spnego::OID_NEGOEX => "NEGOEX",
            _ => "an unknown mechanism",
        })
        .collect();
    if names.is_empty() {
        "nothing".into()
    } else {
        names.join(", ")
    }
}

fn next_id() -> u64 {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    (std::process::id() as u64) << 32 | n
}

impl AuthFactory for KerberosFactory {
    fn start(&mut self) -> Result<Box<dyn Authenticator>, AuthError> {
        let ntlm = |used: &Arc<Mutex<Option<Mechanism>>>, c: &NtlmCredentials| {
            Box::new(Tracked {
                inner: NtlmAuthenticator::new(c.clone()),
                used: used.clone(),
            }) as Box<dyn Authenticator>
        };
        match (self.policy, &self.ntlm) {
            (Policy::NtlmOnly, Some(c)) => return Ok(ntlm(&self.used, c)),
            (Policy::NtlmOnly, None) => {
                return Err(AuthError::Mechanism {
                    mechanism: "NTLM",
                    message: "ntlm-only without NTLM credentials".into(),
                });
            }
            _ => {}
        }
        match self.acquire() {
            Ok(cred) => Ok(Box::new(KerberosAuthenticator {
                cred,
                host: self.host.clone(),
                ctx: gss::Ctx::new(),
                target: None,
                state: State::Start,
                mech_types: Vec::new(),
                key: None,
                fallback: if self.policy == Policy::Preferred {
                    self.ntlm.clone()
                } else {
                    None
                },
                ntlm: None,
                used: self.used.clone(),
            })),
            Err(e) => match (self.policy, &self.ntlm) {
                (Policy::Preferred, Some(c)) => Ok(ntlm(&self.used, c)),
                _ => Err(e.into()),
            },
        }
    }
    fn kind(&self) -> AuthKind {
        AuthKind::User
    }
}

/// An NTLM authenticator that records its use.
struct Tracked {
    inner: NtlmAuthenticator,
    used: Arc<Mutex<Option<Mechanism>>>,
}

impl Authenticator for Tracked {
    fn step(&mut self, t: &[u8], ctx: &mut AuthContext<'_>) -> Result<AuthStep, AuthError> {
        let r = self.inner.step(t, ctx)?;
        if r == AuthStep::Done {
            *self.used.lock().unwrap_or_else(|e| e.into_inner()) = Some(Mechanism::Ntlm);
        }
        Ok(r)
    }
    fn session_key(&self) -> Option<&[u8]> {
        self.inner.session_key()
    }
    fn kind(&self) -> AuthKind {
        AuthKind::User
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Start,
    Sent,
    Done,
    Failed,
}

/// One Kerberos exchange (krb5 in SPNEGO). Made by [`KerberosFactory`].
pub struct KerberosAuthenticator {
    cred: gss::Cred,
    host: Option<String>,
    ctx: gss::Ctx,
    target: Option<gss::Name>,
    state: State,
    /// DER of the MechTypeList we sent (what mechListMIC covers).
    mech_types: Vec<u8>,
    key: Option<Zeroizing<Vec<u8>>>,
    /// Policy::Preferred: NTLM credentials to fall back to, before anything was sent (no
    /// ticket) or when the server picks NTLMSSP from the offered list.
    fallback: Option<NtlmCredentials>,
    ntlm: Option<Tracked>,
    used: Arc<Mutex<Option<Mechanism>>>,
}

impl fmt::Debug for KerberosAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KerberosAuthenticator")
            .field("host", &self.host)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl KerberosAuthenticator {
    fn first(&mut self, hint: &[u8], ctx: &mut AuthContext<'_>) -> Result<AuthStep, AuthError> {
        if !hint.is_empty() {
            let init = NegTokenInit::decode(hint)?;
            if !init.mech_types.is_empty() && !init.offers(OID_KRB5) && !init.offers(OID_MS_KRB5) {
                return Err(KerberosError::NotOffered(format!(
                    "it offers {}",
                    mech_names(&init.mech_types)
                ))
                .into());
            }
        }
        let host = self
            .host
            .clone()
            .unwrap_or_else(|| ctx.server_name.to_string());
        if host.is_empty() || host.parse::<std::net::IpAddr>().is_ok() {
            return Err(KerberosError::SpnNotFound {
                spn: format!("cifs/{host}"),
                detail: "Kerberos needs the server's host name, not an address".into(),
            }
            .into());
        }
        let spn = format!("cifs/{host}");
        let target = gss::Name::principal(&spn).map_err(|e| classify(e, Some(&spn)))?;
        let token = self
            .ctx
            .step(&self.cred, &target, None)
            .map_err(|e| classify(e, Some(&spn)))?;
        self.target = Some(target);
        // Kerberos first (MS-KRB5 as Windows and Samba list it, then the standard OID); under
        // Policy::Preferred NTLMSSP second, so that a server without a key for us can pick it
        // in this same exchange ([RFC 4178] 5; [MS-SPNG] 3.1.5.1). Required never lists it.
        let mut mech_types = vec![OID_MS_KRB5, OID_KRB5];
        if self.fallback.is_some() {
            mech_types.push(OID_NTLMSSP);
        }
        let init = NegTokenInit {
            mech_types,
            mech_token: Some(&token),
        };
        self.mech_types = init.mech_types_der();
        let out = init.encode();
        self.state = State::Sent;
        Ok(AuthStep::Send(out))
    }

    fn next(&mut self, server: &[u8]) -> Result<AuthStep, AuthError> {
        if let Some(r) = self.switch_to_ntlm(server)? {
            return Ok(r);
        }
        let mutual = |d: &str| AuthError::from(KerberosError::MutualAuthFailed(d.into()));
        if server.is_empty() {
            // A final SUCCESS without a buffer: only fine if the context is already complete.
            if self.ctx.is_complete() {
                return self.finish();
            }
            return Err(mutual("no AP-REP from the server"));
        }
        let resp = NegTokenResp::decode(server)?;
        if resp.neg_state == Some(NegState::Reject) {
            return Err(AuthError::Rejected);
        }
        if let Some(m) = resp.supported_mech {
            if m != OID_KRB5 && m != OID_MS_KRB5 {
                return Err(KerberosError::NotOffered(format!(
                    "it chose {} over the Kerberos ticket offered",
                    mech_names(&[m])
                ))
                .into());
            }
        }
        if let Some(tok) = resp.response_token {
            if !self.ctx.is_complete() {
                let Some(target) = self.target.as_ref() else {
                    return Err(mutual("no target name"));
                };
                let out = self
                    .ctx
                    .step(&self.cred, target, Some(tok))
                    .map_err(|e| AuthError::from(classify(e, None)))?;
                if !out.is_empty() {
                    return Ok(AuthStep::Send(
                        NegTokenResp {
                            response_token: Some(&out),
                            ..Default::default()
                        }
                        .encode(),
                    ));
                }
            }
        }
        if !self.ctx.is_complete() {
            return Err(mutual("the server's token did not complete the context"));
        }
        if !self.ctx.mutual() {
            return Err(mutual("mutual authentication was not performed"));
        }
        if let Some(mic) = resp.mech_list_mic {
            self.ctx
                .verify_mic(&self.mech_types, mic)
                .map_err(|_| AuthError::ServerMicInvalid)?;
        }
        match resp.neg_state {
            Some(NegState::AcceptIncomplete) | Some(NegState::RequestMic) => {
                let mic = self
                    .ctx
                    .get_mic(&self.mech_types)
                    .map_err(|e| AuthError::from(classify(e, None)))?;
                Ok(AuthStep::Send(
                    NegTokenResp {
                        mech_list_mic: Some(&mic),
                        ..Default::default()
                    }
                    .encode(),
                ))
            }
            _ => self.finish(),
        }
    }

    /// The server's first answer chose NTLMSSP (listed second under [`Policy::Preferred`]):
    /// go on with NTLM in the same exchange. The NTLM side then requires the server's
    /// mechListMIC over the whole list, Kerberos included, so a downgrade is detected.
    fn switch_to_ntlm(&mut self, server: &[u8]) -> Result<Option<AuthStep>, AuthError> {
        if self.fallback.is_none() || server.is_empty() {
            return Ok(None);
        }
        let resp = NegTokenResp::decode(server)?;
        if resp.supported_mech != Some(OID_NTLMSSP) || resp.neg_state == Some(NegState::Reject) {
            return Ok(None);
        }
        let c = self.fallback.take().unwrap_or_else(|| unreachable!());
        let mut inner = NtlmAuthenticator::new(c);
        let r = inner.switch_from(self.mech_types.clone())?;
        self.ntlm = Some(Tracked {
            inner,
            used: self.used.clone(),
        });
        Ok(Some(r))
    }

    fn finish(&mut self) -> Result<AuthStep, AuthError> {
        let mut key = self
            .ctx
            .session_key()
            .map_err(|e| AuthError::from(classify(e, None)))?;
        if key.is_empty() {
            return Err(AuthError::MissingToken {
                what: "Kerberos session key",
            });
        }
        // [MS-SMB2] 3.2.5.3.1: the first 16 bytes, right-padded with zeros if shorter.
        if key.len() < 16 {
            key.resize(16, 0);
        }
        self.key = Some(Zeroizing::new(key));
        self.state = State::Done;
        *self.used.lock().unwrap_or_else(|e| e.into_inner()) = Some(Mechanism::Kerberos);
        Ok(AuthStep::Done)
    }
}

impl Authenticator for KerberosAuthenticator {
    fn step(
        &mut self,
        server_token: &[u8],
        ctx: &mut AuthContext<'_>,
    ) -> Result<AuthStep, AuthError> {
        if let Some(n) = self.ntlm.as_mut() {
            return n.step(server_token, ctx);
        }
        let r = match self.state {
            State::Start => match self.first(server_token, ctx) {
                Err(e) if self.fallback.is_some() => {
                    // Policy::Preferred, nothing sent yet: NTLM instead.
                    let _ = e;
                    let c = self.fallback.take().unwrap_or_else(|| unreachable!());
                    let mut n = Tracked {
                        inner: NtlmAuthenticator::new(c),
                        used: self.used.clone(),
                    };
                    let r = n.step(server_token, ctx);
                    self.ntlm = Some(n);
                    return r;
                }
                r => r,
            },
            State::Sent => self.next(server_token),
            State::Done | State::Failed => Err(AuthError::UnexpectedStep {
                state: "the Kerberos exchange is over",
            }),
        };
        if r.is_err() {
            self.state = State::Failed;
        }
        r
    }

    fn session_key(&self) -> Option<&[u8]> {
        if let Some(n) = &self.ntlm {
            return n.session_key();
        }
        self.key.as_deref().map(|k| k.as_slice())
    }

    fn kind(&self) -> AuthKind {
        AuthKind::User
    }
}
