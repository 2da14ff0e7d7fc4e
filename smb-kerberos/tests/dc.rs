//! Kerberos logins against a throwaway Samba AD DC (smb-testkit's KerberosLab), in a private
//! network namespace. One test, one DC for the whole binary: the runtime-independent checks
//! run once, then the same list of cases ([`per_runtime`]) runs on smb-blocking, smb-tokio and
//! smb-smol, then the expired-ticket case and the wire capture cover the three runtimes too.

mod dc_runtimes;

use std::time::{Duration, Instant};

use dc_runtimes::{Conn, Rt};
use smb_blocking::{ClientConfig, Dialect};
use smb_core::auth::spnego::{NegState, NegTokenInit, NegTokenResp, OID_NTLMSSP};
use smb_core::auth::testing::{Accept, NtlmAcceptor};
use smb_core::auth::{AuthContext, AuthFactory, AuthStep, NtlmCredentials};
use smb_kerberos::{KerberosCredentials, KerberosError, KerberosFactory, Mechanism, Policy};
use smb_testkit::KerberosLab;

fn config() -> ClientConfig {
    ClientConfig::default()
        .with_server_name(KerberosLab::HOST)
        .with_require_signing(true)
}

fn ntlm() -> NtlmCredentials {
    NtlmCredentials::password(
        KerberosLab::DOMAIN,
        KerberosLab::USER,
        KerberosLab::PASSWORD,
    )
}

fn ccache(path: &std::path::Path, policy: Policy) -> KerberosFactory {
    KerberosFactory::new(
        KerberosCredentials::Ccache(path.display().to_string()),
        policy,
    )
}

/// Write, read back and list one file.
fn list_get_put(c: &dyn Conn, rt: Rt, name: &str) {
    let name = format!("{rt:?}-{name}");
    let data = format!("written over Kerberos by {name}").into_bytes();
    c.write(&name, &data).unwrap();
    assert_eq!(c.read(&name).unwrap(), data, "{rt:?}");
    let names = c.list().unwrap();
    assert!(names.contains(&name), "{rt:?}: {names:?}");
}

/// What every runtime's cases share: the lab and its credentials.
struct Env {
    lab: KerberosLab,
    /// kinit's ccache for alice, Kerberos required.
    required: KerberosFactory,
    password: KerberosFactory,
    keytab: KerberosFactory,
}

#[test]
fn kerberos_against_samba_ad_dc() {
    if smb_testkit::in_private_netns("kerberos_against_samba_ad_dc") {
        return;
    }
    let t0 = Instant::now();
    let lab = KerberosLab::start().unwrap();
    eprintln!(
        "DC: provision {:?}, start {:?}",
        lab.provision_time, lab.start_time
    );
    // GSS-API reads KRB5_CONFIG from the environment; set before any thread of ours uses it.
    #[allow(unsafe_code)]
    // SAFETY: this process is the single test inside its namespace; no other thread reads
    // the environment concurrently at this point.
    unsafe {
        std::env::set_var("KRB5_CONFIG", lab.krb5_conf());
        std::env::set_var(
            "KRB5CCNAME",
            format!("FILE:{}", lab.ccache("none").display()),
        );
    }

    // The short ticket first: it expires while the other cases run.
    let short = lab.ccache("short");
    lab.kinit_with(
        &["-l", "4s"],
        &lab.principal(),
        KerberosLab::PASSWORD,
        &short,
    )
    .unwrap();
    let short_at = Instant::now();

    let cc = lab.ccache("alice");
    lab.kinit(&lab.principal(), KerberosLab::PASSWORD, &cc)
        .unwrap();
    let kt = lab.root().join("alice.keytab");
    lab.export_keytab(&lab.principal(), &kt).unwrap();
    let env = Env {
        required: ccache(&cc, Policy::Required),
        password: KerberosFactory::new(
            KerberosCredentials::Password {
                principal: lab.principal(),
                password: KerberosLab::PASSWORD.to_string().into(),
            },
            Policy::Required,
        ),
        keytab: KerberosFactory::new(
            KerberosCredentials::Keytab {
                keytab: kt,
                principal: Some(lab.principal()),
            },
            Policy::Required,
        ),
        lab,
    };

    typed_errors(&env);
    mechanism_lists(&env);
    server_picks_ntlm(&env);
    for rt in Rt::ALL {
        let t = Instant::now();
        per_runtime(&env, rt);
        eprintln!("{rt:?}: cases in {:?}", t.elapsed());
    }

    // An expired ticket: a clear error, typed from check(), and from every runtime's connect.
    if let Some(wait) = Duration::from_secs(6).checked_sub(short_at.elapsed()) {
        std::thread::sleep(wait);
    }
    let exp = ccache(&short, Policy::Required);
    assert!(
        matches!(
            exp.clone().with_host(KerberosLab::HOST).check(),
            Err(KerberosError::Expired(_))
        ),
        "{:?}",
        exp.check()
    );
    for rt in Rt::ALL {
        let e = connect_err(&env, rt, &exp);
        assert!(e.contains("expired") && e.contains("kinit"), "{rt:?}: {e}");
    }

    // On the wire: the AP-REQ inside SPNEGO, and no NTLMSSP at all, when Kerberos is required.
    wire_check(&env);

    let t = Instant::now();
    drop(env);
    eprintln!("DC stop {:?}; whole test {:?}", t.elapsed(), t0.elapsed());
}

fn connect(env: &Env, rt: Rt, f: &KerberosFactory, cfg: ClientConfig) -> Box<dyn Conn> {
    rt.connect(&env.lab.smb_addr(), f, cfg, KerberosLab::SHARE)
        .unwrap_or_else(|e| panic!("{rt:?}: {e}"))
}

fn connect_err(env: &Env, rt: Rt, f: &KerberosFactory) -> String {
    match rt.connect(&env.lab.smb_addr(), f, config(), KerberosLab::SHARE) {
        Ok(c) => {
            c.shutdown();
            panic!("{rt:?}: the login succeeded")
        }
        Err(e) => e.to_string(),
    }
}

/// The list of cases every runtime runs against the one DC.
fn per_runtime(env: &Env, rt: Rt) {
    // kinit, then list, get and put with Kerberos required (signed, 3.1.1).
    let c = connect(env, rt, &env.required, config());
    assert!(c.info().signing, "{rt:?}: {:?}", c.info());
    assert_eq!(env.required.mechanism_used(), Some(Mechanism::Kerberos));
    list_get_put(&*c, rt, "ccache.txt");
    c.shutdown();

    // Encrypted too.
    let c = connect(
        env,
        rt,
        &env.required,
        config().with_require_encryption(true),
    );
    assert!(c.info().encryption, "{rt:?}: {:?}", c.info());
    list_get_put(&*c, rt, "encrypted.txt");
    c.shutdown();

    // The Kerberos session key signs on every dialect ([MS-SMB2] 3.2.5.3: its first 16
    // bytes; HMAC-SHA256 on 2.x, AES-CMAC on 3.0/3.0.2, AES-GMAC/CMAC on 3.1.1).
    for d in [
        Dialect::Smb202,
        Dialect::Smb210,
        Dialect::Smb300,
        Dialect::Smb302,
    ] {
        let c = connect(env, rt, &env.required, config().with_dialects(d, d));
        assert!(
            c.info().signing && c.info().dialect == d,
            "{rt:?}: {:?}",
            c.info()
        );
        list_get_put(&*c, rt, &format!("{d:?}.txt"));
        c.shutdown();
    }

    // A password login without kinit; a keytab login.
    for (f, what) in [(&env.password, "password"), (&env.keytab, "keytab")] {
        let c = connect(env, rt, f, config());
        assert_eq!(
            f.mechanism_used(),
            Some(Mechanism::Kerberos),
            "{rt:?} {what}"
        );
        list_get_put(&*c, rt, &format!("{what}.txt"));
        c.shutdown();
    }

    // The wrong SPN and a missing ticket: clear errors naming the cause and what to do.
    let e = connect_err(env, rt, &env.required.clone().with_host("nosuch.test.lan"));
    assert!(
        e.contains("no service principal cifs/nosuch.test.lan") && e.contains("host name"),
        "{rt:?}: {e}"
    );
    let none = ccache(&env.lab.ccache("missing"), Policy::Required);
    let e = connect_err(env, rt, &none);
    assert!(
        e.contains("no Kerberos ticket") && e.contains("kinit"),
        "{rt:?}: {e}"
    );

    // kerberos-preferred: Kerberos when there is a ticket (NTLMSSP listed second, not used),
    // NTLM when there is none.
    let pref = ccache(&env.lab.ccache("alice"), Policy::Preferred).with_ntlm(ntlm());
    let c = connect(env, rt, &pref, config());
    assert_eq!(pref.mechanism_used(), Some(Mechanism::Kerberos), "{rt:?}");
    list_get_put(&*c, rt, "preferred.txt");
    c.shutdown();
    let fallback = ccache(&env.lab.ccache("missing"), Policy::Preferred).with_ntlm(ntlm());
    let c = connect(env, rt, &fallback, config());
    assert_eq!(fallback.mechanism_used(), Some(Mechanism::Ntlm), "{rt:?}");
    list_get_put(&*c, rt, "ntlm.txt");
    c.shutdown();
    // A ticket, but none to be had for this host name (no such SPN): NTLM too.
    let alias = pref.clone().with_host("nosuch.test.lan");
    let c = connect(env, rt, &alias, config());
    assert_eq!(alias.mechanism_used(), Some(Mechanism::Ntlm), "{rt:?}");
    c.shutdown();

    reconnect(env, rt);
}

/// Through a fault proxy: cut every connection, the client reconnects and sets up a new
/// session with a fresh Kerberos exchange from the same ccache.
fn reconnect(env: &Env, rt: Rt) {
    let target: std::net::SocketAddr = env.lab.smb_addr().parse().unwrap();
    let proxy = smb_testkit::FaultProxy::start(target).unwrap();
    let f = env.required.clone();
    let c = rt
        .connect(
            &proxy.addr().to_string(),
            &f,
            config().with_max_channels(1),
            KerberosLab::SHARE,
        )
        .unwrap();
    let (before, after) = (format!("{rt:?}-before.txt"), format!("{rt:?}-after.txt"));
    c.write(&before, b"before the cut").unwrap();
    proxy.cut_all();
    // A CREATE in flight at the cut is reported, not replayed (it may have been done): give
    // the client a moment to see the cut, and allow one such report.
    std::thread::sleep(Duration::from_millis(500));
    if let Err(e) = c.write(&after, b"after the cut") {
        assert_eq!(
            e.kind(),
            std::io::ErrorKind::ConnectionAborted,
            "{rt:?}: {e}"
        );
        c.write(&after, b"after the cut").unwrap();
    }
    assert_eq!(c.read(&after).unwrap(), b"after the cut");
    assert_eq!(c.read(&before).unwrap(), b"before the cut");
    assert!(c.reconnects() >= 1, "{rt:?}: no reconnect after the cut");
    assert_eq!(f.mechanism_used(), Some(Mechanism::Kerberos));
    c.shutdown();
}

/// `check()` names the cause with a typed error (no connection needed).
fn typed_errors(env: &Env) {
    let lab = &env.lab;
    env.required
        .clone()
        .with_host(KerberosLab::HOST)
        .check()
        .unwrap();
    match env.required.clone().with_host("nosuch.test.lan").check() {
        Err(KerberosError::SpnNotFound { spn, .. }) => assert_eq!(spn, "cifs/nosuch.test.lan"),
        other => panic!("wrong SPN: {other:?}"),
    }
    let none = ccache(&lab.ccache("missing"), Policy::Required);
    assert!(
        matches!(none.check(), Err(KerberosError::NoTicket(_))),
        "{:?}",
        none.check()
    );
    // Nor in the default cache (KRB5CCNAME names an absent file).
    let dflt = KerberosFactory::new(KerberosCredentials::Default, Policy::Required);
    assert!(
        matches!(dflt.check(), Err(KerberosError::NoTicket(_))),
        "{:?}",
        dflt.check()
    );
    let who = KerberosFactory::new(
        KerberosCredentials::Password {
            principal: format!("nobody@{}", KerberosLab::REALM),
            password: "x".to_string().into(),
        },
        Policy::Required,
    );
    match who.check() {
        Err(e @ KerberosError::UnknownPrincipal(_)) => {
            assert!(e.to_string().contains("check the user name"), "{e}")
        }
        other => panic!("unknown principal: {other:?}"),
    }
    let bad = KerberosFactory::new(
        KerberosCredentials::Password {
            principal: lab.principal(),
            password: "Wr0ng!pass".to_string().into(),
        },
        Policy::Required,
    );
    assert!(
        matches!(bad.check(), Err(KerberosError::BadPassword(_))),
        "{:?}",
        bad.check()
    );
}

fn auth_ctx(rng: &mut rand_core::OsRng) -> AuthContext<'_> {
    AuthContext {
        now: smb_core::time::FileTime(133_000_000_000_000_000),
        rng,
        server_name: KerberosLab::HOST,
    }
}

/// The first token of each policy: what it offers, and which token it carries.
fn mechanism_lists(env: &Env) {
    use smb_core::auth::spnego::{OID_KRB5, OID_MS_KRB5};
    let mut rng = rand_core::OsRng;
    let first = |f: KerberosFactory, rng: &mut rand_core::OsRng| {
        let mut a = { f }.start().unwrap();
        let AuthStep::Send(t) = a.step(&[], &mut auth_ctx(rng)).unwrap() else {
            panic!("the first step sends")
        };
        t
    };
    let cc = env.lab.ccache("alice");
    let t = first(ccache(&cc, Policy::Required).with_ntlm(ntlm()), &mut rng);
    let init = NegTokenInit::decode(&t).unwrap();
    assert_eq!(init.mech_types, vec![OID_MS_KRB5, OID_KRB5], "required");
    // The optimistic token is a krb5 InitialContextToken (60 .. 06 09 <krb5 OID>).
    let tok = init.mech_token.unwrap();
    assert_eq!(tok[0], 0x60);
    assert!(!tok.windows(7).any(|w| w == b"NTLMSSP"));
    let t = first(ccache(&cc, Policy::Preferred).with_ntlm(ntlm()), &mut rng);
    let init = NegTokenInit::decode(&t).unwrap();
    assert_eq!(
        init.mech_types,
        vec![OID_MS_KRB5, OID_KRB5, OID_NTLMSSP],
        "preferred"
    );
    assert_eq!(init.mech_token.unwrap()[0], 0x60);
    let t = first(ccache(&cc, Policy::NtlmOnly).with_ntlm(ntlm()), &mut rng);
    let init = NegTokenInit::decode(&t).unwrap();
    assert_eq!(init.mech_types, vec![OID_NTLMSSP], "ntlm-only");
    assert!(init.mech_token.unwrap().starts_with(b"NTLMSSP\0"));
}

/// A server that takes NTLMSSP although a Kerberos ticket was offered first (Samba never does
/// when it has the key, so the server side is the test acceptor): kerberos-preferred goes on
/// with NTLM in the same exchange; kerberos-required refuses with the cause.
fn server_picks_ntlm(env: &Env) {
    let mut rng = rand_core::OsRng;
    let cc = env.lab.ccache("alice");
    let pref = ccache(&cc, Policy::Preferred).with_ntlm(ntlm());
    let mut client = pref.clone().start().unwrap();
    let mut acc = NtlmAcceptor::new(ntlm(), [9; 8], Some(133_000_000_000_000_000));
    let mut token = Vec::new();
    let session_key = loop {
        let AuthStep::Send(t) = client.step(&token, &mut auth_ctx(&mut rng)).unwrap() else {
            panic!("the client finished before the acceptor")
        };
        match acc.step(&t).unwrap() {
            Accept::Continue(b) => token = b,
            Accept::Complete {
                token, session_key, ..
            } => {
                let done = client.step(&token, &mut auth_ctx(&mut rng)).unwrap();
                assert_eq!(done, AuthStep::Done);
                break session_key.unwrap();
            }
        }
    };
    assert_eq!(client.session_key(), Some(&session_key[..]));
    assert_eq!(pref.mechanism_used(), Some(Mechanism::Ntlm));

    // Required: the same answer is a clear refusal, and nothing NTLM was sent.
    let mut client = ccache(&cc, Policy::Required)
        .with_ntlm(ntlm())
        .start()
        .unwrap();
    let AuthStep::Send(t) = client.step(&[], &mut auth_ctx(&mut rng)).unwrap() else {
        panic!("the first step sends")
    };
    assert!(!NegTokenInit::decode(&t).unwrap().offers(OID_NTLMSSP));
    let choice = NegTokenResp {
        neg_state: Some(NegState::AcceptIncomplete),
        supported_mech: Some(OID_NTLMSSP),
        ..Default::default()
    }
    .encode();
    let e = client
        .step(&choice, &mut auth_ctx(&mut rng))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("chose NTLMSSP over the Kerberos ticket") && e.contains("password"),
        "{e}"
    );
}

/// Capture Kerberos-required logins of the three runtimes on lo with tshark and look at them.
fn wire_check(env: &Env) {
    use std::process::{Command, Stdio};
    if smb_testkit::find_program("tshark").is_none() {
        panic!("tshark is not installed (scripts/test installs it)");
    }
    let pcap = env.lab.root().join("krb.pcap");
    let mut cap = Command::new("tshark")
        .args(["-i", "lo", "-n", "-q", "-f", "tcp port 4495", "-w"])
        .arg(&pcap)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // tshark says "Capturing on 'Loopback: lo'" once it listens.
    let mut err = cap.stderr.take().unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&seen).contains("Capturing on") {
        use std::io::Read;
        let n = err.read(&mut buf).unwrap();
        assert!(n > 0, "tshark: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    // "Capturing on" can come a moment before the filter is in place.
    std::thread::sleep(Duration::from_millis(700));
    for rt in Rt::ALL {
        let c = connect(env, rt, &env.required, config());
        list_get_put(&*c, rt, "wire.txt");
        c.shutdown();
    }
    std::thread::sleep(Duration::from_millis(500));
    let _ = Command::new("kill")
        .args(["-INT", &cap.id().to_string()])
        .status();
    let _ = cap.wait();
    let count = |filter: &str| {
        let out = Command::new("tshark")
            .args(["-r"])
            .arg(&pcap)
            .args(["-n", "-d", "tcp.port==4495,nbss", "-Y", filter])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    let smb = count("smb2");
    let ap_req = count("smb2 && spnego && kerberos.msg_type == 14");
    // One TCP connection per runtime's login: each must carry its own AP-REQ.
    let out = Command::new("tshark")
        .args(["-r"])
        .arg(&pcap)
        .args([
            "-n",
            "-d",
            "tcp.port==4495,nbss",
            "-T",
            "fields",
            "-e",
            "tcp.stream",
        ])
        .args(["-Y", "smb2 && spnego && kerberos.msg_type == 14"])
        .output()
        .unwrap();
    let streams: std::collections::BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert!(
        streams.len() >= 3,
        "AP-REQs on {} connections, not one per runtime: {streams:?}",
        streams.len()
    );
    if ap_req < 3 {
        let _ = std::fs::copy(&pcap, "/tmp/smb-kerberos-wire.pcap");
    }
    let ntlm = count("ntlmssp");
    eprintln!("wire: {smb} SMB2 frames, {ap_req} with an AP-REQ in SPNEGO, {ntlm} with NTLMSSP");
    assert!(smb > 0, "nothing captured");
    assert!(
        ap_req >= 3,
        "fewer AP-REQs inside SPNEGO than logins (3 runtimes)"
    );
    assert_eq!(ntlm, 0, "NTLMSSP on the wire with Kerberos required");
}
