//! Handles closed instead of acknowledged on a lease break (`Client::close_on_lease_break`,
//! what the adapters' lease cache uses): against the simulated server granting leases.

mod sim;

use sim::*;
use smb_core::client::*;
use smb_core::wire::create_context::LeaseState;

fn leased_sim() -> Sim {
    let server = ServerConfig {
        grant_leases: true,
        ..ServerConfig::default()
    };
    let mut s = Sim::new(client_config(), server);
    s.login();
    s
}

fn key_of(s: &Sim, path: &str) -> [u8; 16] {
    let (_, k) = s
        .server
        .leases
        .iter()
        .find(|(p, _)| p == path)
        .expect("a lease granted");
    k.to_le_bytes()
}

#[test]
fn a_break_of_handles_marked_close_on_break_is_not_acknowledged() {
    let mut s = leased_sim();
    let t = s.tree();
    let reader = OpenOptions::new().read(true).create(true);
    let kept = s.open(t, "kept", reader.clone());
    let other = s.open(t, "other", reader);
    let rh = LeaseState::READ_CACHING | LeaseState::HANDLE_CACHING;
    assert_eq!(s.client.lease_state(kept), Some(rh));
    assert!(s.client.close_on_lease_break(kept));
    assert!(!s.client.close_on_lease_break(FileHandle(999)), "not open");
    // The marked handle's lease: the event says so, no acknowledgment goes out (its owner
    // closes the handle instead), the state is lowered.
    s.notify(lease_break_body(key_of(&s, "kept"), true));
    assert!(s.server.break_acks.is_empty(), "{:?}", s.server.break_acks);
    assert!(s.events.iter().any(|e| matches!(
        e,
        Event::LeaseBreak(b) if b.files == [kept] && b.ack_required
    )));
    assert_eq!(s.client.lease_state(kept), Some(LeaseState::READ_CACHING));
    // An unmarked handle's lease is acknowledged as the policy says (the state asked for).
    let k = key_of(&s, "other");
    s.notify(lease_break_body(k, true));
    assert_eq!(s.server.break_acks, [(u128::from_le_bytes(k), 1)]);
    assert_eq!(s.client.lease_state(other), Some(LeaseState::READ_CACHING));
    // Closing answers the break on the server; the handle is gone.
    s.op(Request::Close { file: kept }).expect("close");
    assert_eq!(s.client.lease_state(kept), None);
    assert_eq!(s.client.stats().unknown_responses, 0);
}
