use smb_testkit::KerberosLab;

#[test]
fn lab_starts() {
    if smb_testkit::in_private_netns("lab_starts") {
        return;
    }
    let lab = KerberosLab::start().unwrap();
    eprintln!(
        "provision {:?} start {:?}",
        lab.provision_time, lab.start_time
    );
    let cc = lab.ccache("alice");
    lab.kinit(&lab.principal(), KerberosLab::PASSWORD, &cc)
        .unwrap();
    let t = std::time::Instant::now();
    drop(lab);
    eprintln!("stop {:?}", t.elapsed());
}
