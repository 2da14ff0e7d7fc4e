//! Multichannel ([MS-SMB2] 3.2.4.2.3, 3.2.4.20.10, 3.2.5.3.1): discovery of the server's
//! interfaces, binding of extra channels to the live session, and their replacement.
//!
//! Once the session is Good on a 3.x connection whose server offers
//! SMB2_GLOBAL_CAP_MULTI_CHANNEL, and `ClientConfig::max_channels` is above 1, the client
//! sends FSCTL_QUERY_NETWORK_INTERFACE_INFO on the first connected tree and hands the answer
//! to `ClientConfig::channel_addrs`, which picks the addresses (by default only the first
//! connection's). Extra channels are then opened one at a time: each does its own NEGOTIATE
//! (same ClientGuid), then SESSION_SETUP with SMB2_SESSION_FLAG_BINDING and the SessionId,
//! signed with the session's key; the authenticator runs again, and the channel's signing
//! key is derived from that exchange's session key (and, on 3.1.1, the channel's own
//! pre-auth hash). The final response must verify with that key. The session stays Good
//! throughout; a channel that fails is replaced after a backoff; a server that refuses
//! binding is not asked again.

use super::*;
use crate::wire::ioctl::NetworkInterfaceInfoList;

impl Client {
    /// The negotiation of the session's established channels (not binding ones).
    fn session_neg(&self) -> Option<&Negotiated> {
        self.channels
            .values()
            .filter(|c| c.usable())
            .find_map(|c| c.neg.as_ref())
    }

    /// Whether the session may get extra channels now.
    fn multichannel_possible(&self) -> bool {
        !self.shut_down
            && !self.multi.disabled
            && self.config.max_channels > 1
            && self.session.machine.state() == SessionState::Good
            // Binding is signed with the session's key: guest and anonymous sessions have none.
            && self.session.security.is_some()
            && self.session_neg().is_some_and(|n| {
                n.dialect.is_smb3() && n.capabilities & Capabilities::MULTI_CHANNEL != 0
            })
    }

    /// Discovery and extra channels: called whenever the engine pumps.
    pub(super) fn multichannel_tick(&mut self, now: Instant) {
        if self.config.max_channels <= 1 || !self.multichannel_possible() {
            return;
        }
        if !self.multi.asked {
            self.query_interfaces();
            return;
        }
        if !self.multi.answered || self.multi.addrs.is_empty() {
            return;
        }
        if self.multi.next_at.is_some_and(|t| t > now) {
            return;
        }
        // One binding at a time; every channel that exists counts.
        if self.channels.len() >= self.config.max_channels
            || self
                .channels
                .values()
                .any(|c| c.machine.state() != ChannelState::Good)
        {
            return;
        }
        let addr = self.multi.addrs[self.multi.next_addr % self.multi.addrs.len()].clone();
        self.multi.next_addr = self.multi.next_addr.wrapping_add(1);
        self.multi.next_at = None;
        let ch = self.open_channel(addr, now);
        if let Some(c) = self.channels.get_mut(&ch) {
            c.binding = true;
        }
    }

    /// FSCTL_QUERY_NETWORK_INTERFACE_INFO on the first connected tree (it needs one).
    fn query_interfaces(&mut self) {
        let Some(tw) = self
            .trees
            .values()
            .find(|t| t.machine.state() == TreeState::Good)
            .map(|t| t.wire_id)
        else {
            return;
        };
        let Some(ch) = self.pick_channel() else {
            return;
        };
        let max_out = self.clamp_to_transact(65536);
        let hdr = self.header(Command::Ioctl, tw);
        let body = IoctlRequest {
            ctl_code: fsctl::QUERY_NETWORK_INTERFACE_INFO,
            file_id: FileId::RELATED,
            input: &[],
            output: &[],
            max_input_response: 0,
            max_output_response: max_out,
            flags: IoctlFlags(IoctlFlags::IS_FSCTL),
        };
        let msg = encode_msg(&hdr, &body);
        let mut m = self.out_msg(
            msg,
            None,
            Command::Ioctl,
            u64::from(max_out),
            Part::Interfaces,
            tw,
        );
        // Where channels connect depends on it: signed whenever it can be.
        m.sign = !m.encrypt && self.session.security.is_some();
        if self.transmit(ch, None, Vec::from([m])).is_ok() {
            self.multi.asked = true;
        }
    }

    /// The answer to FSCTL_QUERY_NETWORK_INTERFACE_INFO (verified like any response). An
    /// error or a malformed list leaves the list empty; the address policy decides.
    pub(super) fn on_interfaces(&mut self, hdr: &Header, msg: &Bytes, now: Instant) {
        let list = if hdr.status == NtStatus::SUCCESS {
            IoctlResponse::decode(msg)
                .ok()
                .and_then(|r| NetworkInterfaceInfoList::decode_data(r.output).ok())
                .map(|l| l.0)
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let first = self.addr.clone().unwrap_or_else(|| ServerAddr::from(""));
        self.multi.addrs = (self.config.channel_addrs)(&first, &list);
        self.multi.interfaces = list;
        self.multi.answered = true;
        self.multichannel_tick(now);
    }

    /// The NEGOTIATE of a binding channel is done: it must match the session's ([MS-SMB2]
    /// 3.3.5.5.2: same dialect, cipher and signing algorithm), then the binding starts.
    pub(super) fn start_binding(&mut self, ch: ChannelId, now: Instant) {
        let (Some(mine), Some(session)) = (
            self.channels.get(&ch).and_then(|c| c.neg.as_ref()),
            self.session_neg(),
        ) else {
            return self.bind_failed(ch, ChannelError::Protocol("no negotiate"), false, now);
        };
        let same = mine.dialect == session.dialect
            && mine.cipher == session.cipher
            && mine.signing_algorithm == session.signing_algorithm
            && mine.server_guid == session.server_guid;
        let multi = mine.capabilities & Capabilities::MULTI_CHANNEL != 0;
        if !same || !multi {
            let e = ChannelError::BadNegotiate("the extra channel negotiated differently");
            return self.bind_failed(ch, e, true, now);
        }
        self.start_session_setup(ch, SetupKind::Bind, now);
    }

    /// A SESSION_SETUP exchange failed on `ch`: a binding fails its channel only; anything
    /// else fails the login (see `fail_connect`).
    pub(super) fn setup_failed(&mut self, ch: ChannelId, e: OpError, now: Instant) {
        if self.channels.get(&ch).is_some_and(|c| c.binding) {
            let (ce, final_) = match &e.kind {
                ErrorKind::Channel(c) => (c.clone(), c.is_misbehaviour()),
                // Tried again later (backing off): the next exchange may verify.
                ErrorKind::Integrity(c) => (c.clone(), false),
                ErrorKind::Session(SessionError::LogonFailure(s)) => {
                    (ChannelError::BindRefused(*s), true)
                }
                _ => (
                    ChannelError::BindRefused(e.status.unwrap_or(NtStatus::SUCCESS)),
                    // The server said no (NOT_SUPPORTED, REQUEST_NOT_ACCEPTED...), or the
                    // credentials do not work any more: do not ask again.
                    true,
                ),
            };
            self.bind_failed(ch, ce, final_, now);
        } else {
            self.fail_connect(e, now);
        }
    }

    /// Drop a binding channel; `final_`: the server will not bind, stop trying.
    pub(super) fn bind_failed(
        &mut self,
        ch: ChannelId,
        e: ChannelError,
        final_: bool,
        now: Instant,
    ) {
        self.stats.bind_failures += 1;
        if final_ {
            self.multi.disabled = true;
        }
        if let Some(c) = self.channels.get_mut(&ch) {
            c.setup = None;
        }
        self.fail_channel(ch, e, now);
    }

    /// A channel of a session that stays Good was lost (an extra one, or the first while
    /// others remain): replace it after a backoff (longer after every failed binding).
    pub(super) fn channel_dropped(&mut self, was_good: bool, now: Instant) {
        if was_good {
            self.multi.failures = 0;
        } else {
            self.multi.failures = self.multi.failures.saturating_add(1);
        }
        let n = self.multi.failures.min(16);
        let base = self.config.reconnect_backoff.as_nanos();
        let cap = self.config.reconnect_backoff_max.as_nanos().max(base);
        let delay = base.saturating_mul(1u64 << n).min(cap);
        self.multi.next_at = Some(now + Duration::from_nanos(delay));
    }

    /// The session's last established channel is gone: bindings in progress are of no use
    /// (the session comes back with a new SessionId, and then binds again).
    pub(super) fn drop_bindings(&mut self, now: Instant) {
        let ids: Vec<ChannelId> = self
            .channels
            .iter()
            .filter(|(_, c)| c.binding && c.machine.state() != ChannelState::Good)
            .map(|(id, _)| *id)
            .collect();
        for ch in ids {
            if let Some(c) = self.channels.get_mut(&ch) {
                c.setup = None;
            }
            self.fail_channel(ch, ChannelError::Shutdown, now);
        }
        self.multi.next_at = None;
    }

    /// The final SESSION_SETUP response of a binding: the channel's signing key from this
    /// exchange's session key (and, on 3.1.1, the channel's pre-auth hash); the response
    /// must be signed with it ([MS-SMB2] 3.2.5.3.1).
    pub(super) fn bind_keys(
        &mut self,
        ch: ChannelId,
        hdr: &Header,
        msg: &Bytes,
    ) -> Result<Signer, OpError> {
        let keys = self.exchange_keys(ch)?;
        let signer = keys
            .signer(&*self.config.crypto_provider)
            .map_err(|_| OpError::new(ErrorKind::Protocol("signer")))?;
        if !hdr.flags.has(HeaderFlags::SIGNED) {
            return Err(self.channel_op_error(&ChannelError::Unsigned(Command::SessionSetup)));
        }
        if signer.verify(msg).is_err() {
            return Err(self.channel_op_error(&ChannelError::BadSignature(Command::SessionSetup)));
        }
        Ok(signer)
    }

    /// An interim response of a binding: signed (when it is) with the session's key.
    pub(super) fn verify_bind_leg(&self, hdr: &Header, msg: &Bytes) -> Result<(), OpError> {
        if hdr.session_id != self.session.id {
            return Err(OpError::from(ChannelError::Protocol(
                "binding answered for another session",
            )));
        }
        if hdr.flags.has(HeaderFlags::SIGNED) {
            let ok = self
                .session
                .security
                .as_ref()
                .is_some_and(|s| s.signer.verify(msg).is_ok());
            if !ok {
                return Err(
                    self.channel_op_error(&ChannelError::BadSignature(Command::SessionSetup))
                );
            }
        }
        Ok(())
    }

    /// The binding of `ch` succeeded: it carries requests from now on.
    pub(super) fn channel_bound(&mut self, ch: ChannelId, signer: Signer, now: Instant) {
        if let Some(c) = self.channels.get_mut(&ch) {
            c.signer = Some(signer);
            c.setup = None;
            c.last_traffic = now;
            if let Ok((t, _)) = c.machine.finish(ChannelState::Good) {
                self.emit(t);
            }
        }
        self.stats.channels_bound += 1;
        self.multi.failures = 0;
        self.out
            .push_back(Output::Event(Event::ChannelBound { channel: ch }));
        self.pump(now);
    }

    /// The interfaces the server reported (empty until FSCTL_QUERY_NETWORK_INTERFACE_INFO
    /// was answered).
    pub fn interfaces(&self) -> &[crate::wire::ioctl::NetworkInterfaceInfo] {
        &self.multi.interfaces
    }

    /// Counters of every channel that exists now.
    pub fn channel_stats(&self) -> Vec<ChannelStats> {
        self.channels
            .iter()
            .map(|(id, c)| ChannelStats {
                channel: *id,
                state: c.machine.state(),
                bound: c.binding,
                bytes_sent: c.bytes_sent,
                bytes_received: c.bytes_received,
                requests_sent: c.requests_sent,
                credits: c.credits.available(),
                in_flight: c.pending.len(),
            })
            .collect()
    }
}
