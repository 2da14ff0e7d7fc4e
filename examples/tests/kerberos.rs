//! The CLI's Kerberos login (`-k`, `--use-ccache`, `--keytab`, `-I`) against a throwaway
//! Samba AD DC in a private network namespace.

use std::process::{Command, Output};

use smb_testkit::KerberosLab;

fn smb(lab: &KerberosLab, args: &[&str]) -> Output {
    smb_with(lab, &lab.krb5_conf(), args)
}

fn smb_with(lab: &KerberosLab, krb5_conf: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_smb"))
        .args(args)
        .env("KRB5_CONFIG", krb5_conf)
        .env(
            "KRB5CCNAME",
            format!("FILE:{}", lab.ccache("none").display()),
        )
        .env_remove("SMB_PASSWORD")
        .output()
        .unwrap()
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
}
