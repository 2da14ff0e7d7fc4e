//! Kerberos logins against a throwaway Samba AD DC (smb-testkit's KerberosLab), in a private
//! network namespace. One test: one DC for the whole binary.

use std::time::Instant;

use smb_blocking::{Client, ClientConfig, Credentials};
use smb_core::auth::NtlmCredentials;
use smb_kerberos::{KerberosCredentials, KerberosError, KerberosFactory, Mechanism, Policy};
use smb_testkit::KerberosLab;

fn config() -> ClientConfig {
    ClientConfig::default()
        .with_server_name(KerberosLab::HOST)
        .with_require_signing(true)
}

fn connect(lab: &KerberosLab, f: &KerberosFactory, cfg: ClientConfig) -> std::io::Result<Client> {
    Client::connect(
        &lab.smb_addr(),
        Credentials::Custom(Box::new(f.clone())),
        cfg,
    )
}

fn list_get_put(client: &Client, name: &str) {
    let share = client.share(KerberosLab::SHARE).unwrap();
    let data = format!("written over Kerberos by {name}").into_bytes();
    share.write(name, data.clone()).unwrap();
    assert_eq!(share.read(name).unwrap(), data);
    let names: Vec<String> = share.read_dir("").map(|e| e.unwrap().name).collect();
    assert!(names.iter().any(|n| n == name), "{names:?}");
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

    // kinit, then list, get and put with Kerberos required (signed, 3.1.1).
    let cc = lab.ccache("alice");
    lab.kinit(&lab.principal(), KerberosLab::PASSWORD, &cc)
        .unwrap();
    let f = KerberosFactory::new(
        KerberosCredentials::Ccache(cc.display().to_string()),
        Policy::Required,
    );
    f.clone().with_host(KerberosLab::HOST).check().unwrap();
    let client = connect(&lab, &f, config()).unwrap();
    assert!(client.info().signing, "{:?}", client.info());
    assert_eq!(f.mechanism_used(), Some(Mechanism::Kerberos));
    list_get_put(&client, "ccache.txt");
    client.shutdown();

    // Encrypted too.
    let client = connect(&lab, &f, config().with_require_encryption(true)).unwrap();
    assert!(client.info().encryption, "{:?}", client.info());
    list_get_put(&client, "encrypted.txt");
    client.shutdown();

    // A password login without kinit.
    let pw = KerberosFactory::new(
        KerberosCredentials::Password {
            principal: lab.principal(),
            password: KerberosLab::PASSWORD.to_string().into(),
        },
        Policy::Required,
    );
    let client = connect(&lab, &pw, config()).unwrap();
    list_get_put(&client, "password.txt");
    client.shutdown();

    // A keytab login.
    let kt = lab.root().join("alice.keytab");
    lab.export_keytab(&lab.principal(), &kt).unwrap();
    let ktf = KerberosFactory::new(
        KerberosCredentials::Keytab {
            keytab: kt,
            principal: Some(lab.principal()),
        },
        Policy::Required,
    );
    let client = connect(&lab, &ktf, config()).unwrap();
    list_get_put(&client, "keytab.txt");
    client.shutdown();

    // The wrong SPN: a clear error, typed from check(), named in the connect error.
    let wrong = f.clone().with_host("nosuch.test.lan");
    match wrong.check() {
        Err(KerberosError::SpnNotFound { spn, .. }) => assert_eq!(spn, "cifs/nosuch.test.lan"),
        other => panic!("wrong SPN: {other:?}"),
    }
    let e = connect(&lab, &wrong, config()).unwrap_err().to_string();
    assert!(
        e.contains("no service principal cifs/nosuch.test.lan"),
        "{e}"
    );

    // No ticket: a clear error.
    let none = KerberosFactory::new(
        KerberosCredentials::Ccache(lab.ccache("missing").display().to_string()),
        Policy::Required,
    );
    assert!(
        matches!(none.check(), Err(KerberosError::NoTicket(_))),
        "{:?}",
        none.check()
    );
    let e = connect(&lab, &none, config()).unwrap_err().to_string();
    assert!(e.contains("no Kerberos ticket"), "{e}");
    // Nor in the default cache (KRB5CCNAME names an absent file).
    let dflt = KerberosFactory::new(KerberosCredentials::Default, Policy::Required);
    assert!(
        matches!(dflt.check(), Err(KerberosError::NoTicket(_))),
        "{:?}",
        dflt.check()
    );

    // Unknown principal.
    let who = KerberosFactory::new(
        KerberosCredentials::Password {
            principal: format!("nobody@{}", KerberosLab::REALM),
            password: "x".to_string().into(),
        },
        Policy::Required,
    );
    assert!(
        matches!(who.check(), Err(KerberosError::UnknownPrincipal(_))),
        "{:?}",
        who.check()
    );

    // kerberos-preferred falls back to NTLM when there is no ticket.
    let pref = KerberosFactory::new(
        KerberosCredentials::Ccache(lab.ccache("missing").display().to_string()),
        Policy::Preferred,
    )
    .with_ntlm(NtlmCredentials::password(
        KerberosLab::DOMAIN,
        KerberosLab::USER,
        KerberosLab::PASSWORD,
    ));
    let client = connect(&lab, &pref, config()).unwrap();
    assert_eq!(pref.mechanism_used(), Some(Mechanism::Ntlm));
    list_get_put(&client, "ntlm.txt");
    client.shutdown();

    // Reconnect: a cut connection comes back with a new session from the same ticket.
    reconnect(&lab, &f);

    // An expired ticket: a clear error.
    let short = lab.ccache("short");
    lab.kinit_with(
        &["-l", "4s"],
        &lab.principal(),
        KerberosLab::PASSWORD,
        &short,
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(6));
    let exp = KerberosFactory::new(
        KerberosCredentials::Ccache(short.display().to_string()),
        Policy::Required,
    )
    .with_host(KerberosLab::HOST);
    assert!(
        matches!(exp.check(), Err(KerberosError::Expired(_))),
        "{:?}",
        exp.check()
    );
    let e = connect(&lab, &exp, config()).unwrap_err().to_string();
    assert!(e.contains("expired"), "{e}");

    // The same login on the two async runtimes.
    tokio_login(&lab, &f);
    smol_login(&lab, &pw);

    // On the wire: the AP-REQ inside SPNEGO, and no NTLMSSP at all, when Kerberos is required.
    wire_check(&lab, &f);

    let t = Instant::now();
    drop(lab);
    eprintln!("DC stop {:?}; whole test {:?}", t.elapsed(), t0.elapsed());
}

/// Capture a Kerberos-required login on lo with tshark and look at it.
fn wire_check(lab: &KerberosLab, f: &KerberosFactory) {
    use std::process::{Command, Stdio};
    if smb_testkit::find_program("tshark").is_none() {
        panic!("tshark is not installed (scripts/test installs it)");
    }
    let pcap = lab.root().join("krb.pcap");
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
    std::thread::sleep(std::time::Duration::from_millis(700));
    let client = connect(lab, f, config()).unwrap();
    list_get_put(&client, "wire.txt");
    client.shutdown();
    std::thread::sleep(std::time::Duration::from_millis(500));
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
    if ap_req == 0 {
        let _ = std::fs::copy(&pcap, "/tmp/smb-kerberos-wire.pcap");
    }
    let ntlm = count("ntlmssp");
    eprintln!("wire: {smb} SMB2 frames, {ap_req} with an AP-REQ in SPNEGO, {ntlm} with NTLMSSP");
    assert!(smb > 0, "nothing captured");
    assert!(ap_req >= 1, "no AP-REQ inside SPNEGO on the wire");
    assert_eq!(ntlm, 0, "NTLMSSP on the wire with Kerberos required");
}

/// Kerberos required (the ccache) on smb-tokio: list, get and put, signed.
fn tokio_login(lab: &KerberosLab, f: &KerberosFactory) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let creds = smb_tokio::Credentials::Custom(Box::new(f.clone()));
        let client = smb_tokio::Client::connect(&lab.smb_addr(), creds, config())
            .await
            .unwrap();
        assert!(client.info().signing);
        let share = client.share(KerberosLab::SHARE).await.unwrap();
        share
            .write("tokio.txt", &b"tokio over Kerberos"[..])
            .await
            .unwrap();
        assert_eq!(
            share.read("tokio.txt").await.unwrap(),
            b"tokio over Kerberos"
        );
        let mut rd = share.read_dir("");
        let mut names = Vec::new();
        while let Some(e) = rd.next_entry().await.unwrap() {
            names.push(e.name);
        }
        assert!(names.iter().any(|n| n == "tokio.txt"), "{names:?}");
        client.shutdown().await;
    });
}

/// Kerberos required (a password, no kinit) on smb-smol: list, get and put, signed.
fn smol_login(lab: &KerberosLab, f: &KerberosFactory) {
    smol::block_on(async {
        let creds = smb_smol::Credentials::Custom(Box::new(f.clone()));
        let client = smb_smol::Client::connect(&lab.smb_addr(), creds, config())
            .await
            .unwrap();
        assert!(client.info().signing);
        let share = client.share(KerberosLab::SHARE).await.unwrap();
        share
            .write("smol.txt", &b"smol over Kerberos"[..])
            .await
            .unwrap();
        assert_eq!(share.read("smol.txt").await.unwrap(), b"smol over Kerberos");
        let mut rd = share.read_dir("");
        let mut names = Vec::new();
        while let Some(e) = rd.next_entry().await.unwrap() {
            names.push(e.name);
        }
        assert!(names.iter().any(|n| n == "smol.txt"), "{names:?}");
        client.shutdown().await;
    });
}

/// Through a fault proxy: cut every connection, the client reconnects and sets up a new
/// session with a fresh Kerberos exchange from the same ccache.
fn reconnect(lab: &KerberosLab, f: &KerberosFactory) {
    let target: std::net::SocketAddr = lab.smb_addr().parse().unwrap();
    let proxy = smb_testkit::FaultProxy::start(target).unwrap();
    let client = Client::connect(
        &proxy.addr().to_string(),
        Credentials::Custom(Box::new(f.clone())),
        config().with_max_channels(1),
    )
    .unwrap();
    let share = client.share(KerberosLab::SHARE).unwrap();
    share.write("before.txt", &b"before the cut"[..]).unwrap();
    proxy.cut_all();
    // A CREATE in flight at the cut is reported, not replayed (it may have been done): give
    // the client a moment to see the cut, and allow one such report.
    std::thread::sleep(std::time::Duration::from_millis(500));
    if let Err(e) = share.write("after.txt", &b"after the cut"[..]) {
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionAborted, "{e}");
        share.write("after.txt", &b"after the cut"[..]).unwrap();
    }
    assert_eq!(share.read("after.txt").unwrap(), b"after the cut");
    assert_eq!(share.read("before.txt").unwrap(), b"before the cut");
    let reconnects = client.stats().unwrap().stats.reconnects;
    assert!(reconnects >= 1, "no reconnect after the cut");
    assert_eq!(f.mechanism_used(), Some(Mechanism::Kerberos));
    client.shutdown();
}
