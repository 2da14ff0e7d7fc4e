//! The CLI's Kerberos login (`-k`, `--use-ccache`, `--keytab`, `-I`) against a throwaway
//! Samba AD DC in a private network namespace.

use std::process::{Command, Output};

use smb_testkit::KerberosLab;

fn smb(lab: &KerberosLab, args: &[&str]) -> Output {
    smb_with(lab, &lab.krb5_conf(), args)
}

fn smb_with(lab: &KerberosLab, krb5_conf: &std::path::Path, args: &[&str]) -> Output {
    smb_env(lab, krb5_conf, &[], args)
}

/// The CLI with KRB5CCNAME naming an absent cache and no SMB_PASSWORD, unless `env` sets them.
fn smb_env(
    lab: &KerberosLab,
    krb5_conf: &std::path::Path,
    env: &[(&str, &str)],
    args: &[&str],
) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_smb"));
    cmd.args(args)
        .env("KRB5_CONFIG", krb5_conf)
        .env(
            "KRB5CCNAME",
            format!("FILE:{}", lab.ccache("none").display()),
        )
        .env_remove("SMB_PASSWORD");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn cli_kerberos_login() {
    if smb_testkit::in_private_netns("cli_kerberos_login") {
        return;
    }
    let lab = KerberosLab::start().unwrap();
    let cc = lab.ccache("alice");
    lab.kinit(&lab.principal(), KerberosLab::PASSWORD, &cc)
        .unwrap();
    let cc = cc.display().to_string();
    let url = format!(
        "smb://alice@{}:{}/data/",
        KerberosLab::HOST,
        KerberosLab::SMB_PORT
    );
    let ip = KerberosLab::IP.to_string();

    // put, ls, get, info with Kerberos required and signing.
    let local = lab.root().join("up.txt");
    std::fs::write(&local, b"kerberos from the CLI").unwrap();
    let o = smb(
        &lab,
        &[
            "-k",
            "--sign",
            "--use-ccache",
            &cc,
            "-I",
            &ip,
            "put",
            local.to_str().unwrap(),
            &url,
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = smb(&lab, &["-k", "--use-ccache", &cc, "-I", &ip, "ls", &url]);
    assert!(
        o.status.success() && text(&o).contains("up.txt"),
        "{}",
        text(&o)
    );
    let down = lab.root().join("down.txt");
    let o = smb(
        &lab,
        &[
            "--use-ccache",
            &cc,
            "-I",
            &ip,
            "get",
            &format!("{url}up.txt"),
            down.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read(&down).unwrap(), b"kerberos from the CLI");
    let o = smb(&lab, &["-k", "--use-ccache", &cc, "-I", &ip, "info", &url]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("(Kerberos)"), "{}", text(&o));
    let o = smb(
        &lab,
        &["--json", "-k", "--use-ccache", &cc, "-I", &ip, "info", &url],
    );
    assert!(
        text(&o).contains("\"mechanism\":\"Kerberos\""),
        "{}",
        text(&o)
    );

    // A keytab.
    let kt = lab.root().join("alice.keytab");
    lab.export_keytab(&lab.principal(), &kt).unwrap();
    let principal = lab.principal();
    let keytab_ls = [
        "--keytab",
        kt.to_str().unwrap(),
        "-U",
        &principal,
        "-I",
        &ip,
        "ls",
        &url,
    ];
    let o = smb(&lab, &keytab_ls);
    assert!(o.status.success(), "{}", text(&o));

    // The KDC unreachable (krb5.conf names a closed port): the cause and what to do.
    let conf = std::fs::read_to_string(lab.krb5_conf()).unwrap();
    let dead = lab.root().join("krb5-dead-kdc.conf");
    let port = format!(":{}", KerberosLab::KDC_PORT);
    std::fs::write(&dead, conf.replace(&port, ":1")).unwrap();
    let o = smb_with(&lab, &dead, &keytab_ls);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("cannot reach a KDC"), "{}", text(&o));

    // No ticket (KRB5CCNAME names an absent cache): the cause and what to do.
    let o = smb(&lab, &["-k", "-I", &ip, "ls", &url]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("no Kerberos ticket"), "{}", text(&o));

    // The wrong host name: no such SPN.
    let bad = format!("smb://nosuch.test.lan:{}/data/", KerberosLab::SMB_PORT);
    let o = smb(&lab, &["-k", "--use-ccache", &cc, "-I", &ip, "ls", &bad]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("no service principal cifs/nosuch.test.lan"),
        "{}",
        text(&o)
    );

    // An SPN registered on another account: the KDC issues the ticket, the server cannot
    // decrypt it and refuses the session; the error says what is likely wrong.
    lab.add_spn("cifs/alias.test.lan", KerberosLab::USER)
        .unwrap();
    let alias = format!("smb://alias.test.lan:{}/data/", KerberosLab::SMB_PORT);
    let o = smb(&lab, &["-k", "--use-ccache", &cc, "-I", &ip, "ls", &alias]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("refused the Kerberos ticket for cifs/alias.test.lan"),
        "{}",
        text(&o)
    );

    password_and_default_logins(&lab, &url, &ip);
    clock_skew(&lab, &cc, &url, &ip);
}

/// The CLI two hours ahead of the KDC (libfaketime on the CLI process only): the KDC refuses
/// the ticket request for cifs/<host> as skewed, and the error says so and what to do.
fn clock_skew(lab: &KerberosLab, cc: &str, url: &str, ip: &str) {
    let faketime = smb_testkit::find_program("faketime")
        .expect("faketime is not installed (scripts/test installs it)");
    let o = Command::new(faketime)
        .args(["-f", "+2h", env!("CARGO_BIN_EXE_smb")])
        .args(["-k", "--use-ccache", cc, "-I", ip, "ls", url])
        .env("KRB5_CONFIG", lab.krb5_conf())
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .env_remove("SMB_PASSWORD")
        .output()
        .unwrap();
    assert!(!o.status.success(), "{}", text(&o));
    eprintln!("clock skew: {}", String::from_utf8_lossy(&o.stderr).trim());
    assert!(
        text(&o).contains("clock skew") && text(&o).contains("synchronize the clocks"),
        "{}",
        text(&o)
    );
}

/// `-k` with a password given as NTLM takes one (no kinit), and kerberos-preferred as the
/// default when the ticket cache holds the named user's ticket.
fn password_and_default_logins(lab: &KerberosLab, url: &str, ip: &str) {
    let conf = lab.krb5_conf();
    let info = |env: &[(&str, &str)], extra: &[&str]| {
        let mut args = extra.to_vec();
        args.extend_from_slice(&["-I", ip, "info", url]);
        smb_env(lab, &conf, env, &args)
    };
    // SMB_PASSWORD with -k: a ticket from the KDC, Kerberos on the wire.
    let o = info(&[("SMB_PASSWORD", KerberosLab::PASSWORD)], &["-k"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("(Kerberos)"), "{}", text(&o));
    // -U user%PASSWORD with -k, and a put through it.
    let up = format!("{}%{}", KerberosLab::USER, KerberosLab::PASSWORD);
    let o = info(&[], &["-k", "-U", &up]);
    assert!(
        o.status.success() && text(&o).contains("(Kerberos)"),
        "{}",
        text(&o)
    );
    // A wrong password with -k: the KDC's refusal, not an SMB logon failure.
    let o = info(&[("SMB_PASSWORD", "Wr0ng!pass")], &["-k"]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("refused the password"), "{}", text(&o));

    // A ticket in the default cache for the URL's user: used without -k (kerberos-preferred).
    let cc = format!("FILE:{}", lab.ccache("alice").display());
    let with_ticket = [
        ("KRB5CCNAME", cc.as_str()),
        ("SMB_PASSWORD", KerberosLab::PASSWORD),
    ];
    let o = info(&with_ticket, &[]);
    assert!(
        o.status.success() && text(&o).contains("(Kerberos)"),
        "{}",
        text(&o)
    );
    // --no-kerberos: NTLM although the ticket is there.
    let o = info(&with_ticket, &["--no-kerberos"]);
    assert!(
        o.status.success() && text(&o).contains("(NTLMv2)"),
        "{}",
        text(&o)
    );
    // The ticket is alice's; a login named for another user does not take it.
    let other = format!(
        "smb://administrator@{}:{}/data/",
        KerberosLab::HOST,
        KerberosLab::SMB_PORT
    );
    let o = smb_env(
        lab,
        &conf,
        &[
            ("KRB5CCNAME", cc.as_str()),
            ("SMB_PASSWORD", KerberosLab::ADMIN_PASSWORD),
        ],
        &["-I", ip, "info", &other],
    );
    assert!(!text(&o).contains("(Kerberos)"), "{}", text(&o));
}
