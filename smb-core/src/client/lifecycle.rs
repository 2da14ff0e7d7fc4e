//! Connection and channel lifecycle: connect, transport events, deadlines, the loss of a
//! channel, the recovery scheduler that replaces it, and shutdown.
//!
//! A lost connection is never reused: its channel goes `NeedReconnect` and is dropped, and
//! the recovery opens a new channel with a new [`ChannelId`] (first attempt at once, then
//! exponential backoff with jitter) until the session is back or `reconnect_give_up` passed.
//! Inputs for a channel that is gone are dropped and counted (`Stats::stale_inputs`).

use super::*;

impl Channel {
    /// Requests wait for an answer (those that got an interim STATUS_PENDING wait for the
    /// server's own time, e.g. CHANGE_NOTIFY, and do not count).
    pub(super) fn awaiting(&self) -> bool {
        self.pending.values().any(|p| p.async_id.is_none())
    }

    /// Good, connected, and able to carry requests.
    pub(super) fn usable(&self) -> bool {
        self.connected && self.machine.state() == ChannelState::Good
    }
}

impl Client {
    /// Start connecting to `addr`: creates the first channel and emits [`Output::Connect`].
    /// The returned operation completes with [`Response::Connected`] once the session is
    /// established, or with the error that prevented it (the first login is not retried).
    pub fn connect(&mut self, addr: ServerAddr, now: Instant) -> OpId {
        self.last_now = now;
        let dl = now + self.config.request_timeout;
        let op = self.alloc_op(OpKind::Connect, Some(dl));
        if self.shut_down {
            self.complete(op, Err(OpError::new(ErrorKind::ShutDown)));
            return op;
        }
        if self.addr.is_some() {
            // One session per client: a second connect joins the first, or reports it.
            if self.session.machine.state() == SessionState::Good {
                let r = self.connected_response();
                self.complete(op, Ok(r));
            } else if !self.session.machine.join(op) {
                let r = Err(OpError::new(ErrorKind::Protocol("already connected")));
                self.complete(op, r);
            }
            return op;
        }
        self.server_name = self
            .config
            .server_name
            .clone()
            .unwrap_or_else(|| String::from(addr.host()));
        self.addr = Some(addr.clone());
        self.connect_op = Some(op);
        match self
            .session
            .machine
            .begin(SessionState::InSetup, Owner::Op(op), dl)
        {
            Ok(t) => self.emit(t),
            Err(_) => {
                self.complete(op, Err(OpError::new(ErrorKind::Protocol("session state"))));
                return op;
            }
        }
        self.open_channel(addr, now);
        op
    }

    /// A new channel (a new id, never reused) and the [`Output::Connect`] for it.
    pub(super) fn open_channel(&mut self, addr: ServerAddr, now: Instant) -> ChannelId {
        let ch = ChannelId(self.next_channel);
        self.next_channel += 1;
        self.channels.insert(
            ch,
            Channel {
                machine: Machine::new(ObjectRef::Channel(ch), ChannelState::New),
                reader: FrameReader::new(self.config.max_frame_len),
                credits: CreditWindow::new(self.config.credit_target),
                connected: false,
                pending: BTreeMap::new(),
                neg: None,
                preauth: PreauthHash::new(),
                last_traffic: now,
                sent_neg: None,
                waiting_since: None,
                signer: None,
                setup: None,
                heard_smb2: false,
                binding: false,
                bytes_sent: 0,
                bytes_received: 0,
                requests_sent: 0,
                last_used: 0,
            },
        );
        self.entered.insert(ObjectRef::Channel(ch), now);
        self.out.push_back(Output::Connect { channel: ch, addr });
        ch
    }

    /// The adapter's TCP connection for `ch` is up.
    pub fn handle_connected(&mut self, ch: ChannelId, now: Instant) {
        self.last_now = now;
        let Some(c) = self.channels.get_mut(&ch) else {
            self.stats.stale_inputs += 1;
            return;
        };
        if c.connected || c.machine.state() != ChannelState::New {
            return;
        }
        c.connected = true;
        c.machine.bump_epoch();
        c.last_traffic = now;
        let r = c.machine.set(ChannelState::NeedNegotiate);
        self.emit_opt(r);
        self.start_negotiate(ch, now);
    }

    /// The transport of `ch` closed (EOF, error, or connect failure).
    pub fn handle_closed(&mut self, ch: ChannelId, reason: CloseReason, now: Instant) {
        self.last_now = now;
        if self.channels.contains_key(&ch) {
            self.fail_channel(ch, ChannelError::Closed(reason), now);
        } else {
            self.stats.stale_inputs += 1;
        }
    }

    /// A deadline the client asked for (through [`Output::Timeout`]) has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.last_now = now;
        self.expire_ops(now);
        // Session setup that takes too long: the channel doing it fails (and the session
        // step with it, see fail_channel).
        if self.session.machine.deadline().is_some_and(|d| d <= now) {
            let setup_channels: Vec<ChannelId> = self
                .channels
                .iter()
                .filter(|(_, c)| !c.usable())
                .map(|(id, _)| *id)
                .collect();
            if setup_channels.is_empty() {
                if let Some((t, flight)) = self.session.machine.expire(now) {
                    self.emit(t);
                    self.session_step_failed(flight, OpError::new(ErrorKind::TimedOut), now);
                }
            }
            for ch in setup_channels {
                self.fail_channel(ch, ChannelError::SessionSetupTimeout, now);
            }
        }
        let ids: Vec<ChannelId> = self.channels.keys().copied().collect();
        for ch in ids {
            let Some(c) = self.channels.get(&ch) else {
                continue;
            };
            if c.machine.deadline().is_some_and(|d| d <= now) {
                let e = if c.machine.state() == ChannelState::InSessSetup {
                    ChannelError::SessionSetupTimeout
                } else {
                    ChannelError::NegotiateTimeout
                };
                self.fail_channel(ch, e, now);
                continue;
            }
            // A server that stopped answering while requests wait for it: fail the channel so
            // nothing waits forever (kernel: 3 x echo interval; here `unresponsive_timeout`).
            if let Some(bound) = self.config.unresponsive_timeout {
                if let Some(since) = c.waiting_since.filter(|_| c.connected && c.awaiting()) {
                    if since + bound <= now {
                        let ms = (now - since).as_millis();
                        self.fail_channel(ch, ChannelError::Unresponsive(ms), now);
                        continue;
                    }
                }
            }
            // Idle channels: ECHO, so a dead server is noticed before anyone needs it.
            if let Some(interval) = self.config.echo_interval {
                if c.usable() && !c.awaiting() && c.last_traffic + interval <= now {
                    if let Some(c) = self.channels.get_mut(&ch) {
                        c.last_traffic = now;
                    }
                    let hdr = self.header(Command::Echo, 0);
                    let msg = encode_msg(&hdr, &crate::wire::echo::EchoRequest);
                    let m = self.out_msg(msg, None, Command::Echo, 0, Part::Internal, 0);
                    let _ = self.transmit(ch, None, Vec::from([m]));
                }
            }
        }
        self.expire_steps(now);
        self.recovery_tick(now);
        self.pump(now);
    }

    /// Operations past their own deadline fail with TimedOut (a request in flight is
    /// cancelled on the server).
    fn expire_ops(&mut self, now: Instant) {
        let expired: Vec<OpId> = self
            .ops
            .iter()
            .filter(|(_, o)| o.deadline.is_some_and(|d| d <= now))
            .map(|(id, _)| *id)
            .collect();
        for op in expired {
            if !self.ops.contains_key(&op) {
                continue;
            }
            if !self.tcon_hand_over(op) {
                self.send_cancels(op);
            }
            let waiting = self.ops.get(&op).is_some_and(|o| o.in_flight.is_empty())
                && self.session.machine.state() != SessionState::Good;
            let e = OpError::new(ErrorKind::TimedOut);
            let e = if waiting {
                e.with_context("waiting for the connection to the server to come back")
            } else {
                e
            };
            self.complete(op, Err(e));
        }
    }

    /// Tree and open steps past their deadline go back to `Need*` (nothing stays `In*`).
    fn expire_steps(&mut self, now: Instant) {
        let trees: Vec<TreeId> = self.trees.keys().copied().collect();
        for t in trees {
            let expired = self.trees.get_mut(&t).and_then(|tr| tr.machine.expire(now));
            if let Some((tr, flight)) = expired {
                self.emit(tr);
                for op in flight.everyone() {
                    let e = OpError::new(ErrorKind::TimedOut).with_command(Command::TreeConnect);
                    self.complete(op, Err(e));
                }
            }
        }
        let files: Vec<FileHandle> = self.opens.keys().copied().collect();
        for f in files {
            let expired = self.opens.get_mut(&f).and_then(|o| o.machine.expire(now));
            if let Some((tr, flight)) = expired {
                self.emit(tr);
                for op in flight.everyone() {
                    let e = OpError::new(ErrorKind::TimedOut).with_context("reopening the file");
                    self.complete(op, Err(e));
                }
            }
        }
    }

    /// Log off and close every channel. Every pending operation completes with
    /// [`ErrorKind::ShutDown`]; nothing is sent afterwards and nothing reconnects.
    pub fn shutdown(&mut self, now: Instant) {
        self.last_now = now;
        if self.shut_down {
            return;
        }
        let ops: Vec<OpId> = self.ops.keys().copied().collect();
        for op in ops {
            self.complete(op, Err(OpError::new(ErrorKind::ShutDown)));
        }
        if self.session.machine.state() == SessionState::Good {
            if let Some(ch) = self.pick_channel() {
                let hdr = self.header(Command::Logoff, 0);
                let msg = encode_msg(&hdr, &crate::wire::logoff::LogoffRequest);
                let m = self.out_msg(msg, None, Command::Logoff, 0, Part::Internal, 0);
                let _ = self.transmit(ch, None, Vec::from([m]));
            }
        }
        self.shut_down = true;
        self.recovery = Recovery::default();
        // After an explicit LOGOFF (or TREE_DISCONNECT) the object is already on its way out.
        if self.session.machine.state() != SessionState::Exiting {
            let r = self.session.machine.set(SessionState::Exiting);
            self.emit_opt(r);
        }
        let trees: Vec<TreeId> = self.trees.keys().copied().collect();
        for t in trees {
            if let Some(tr) = self.trees.get_mut(&t) {
                if tr.machine.state() != TreeState::Exiting {
                    let r = tr.machine.set(TreeState::Exiting);
                    self.emit_opt(r);
                }
            }
        }
        let ids: Vec<ChannelId> = self.channels.keys().copied().collect();
        for ch in ids {
            let Some(c) = self.channels.get_mut(&ch) else {
                continue;
            };
            let connected = c.connected;
            c.connected = false;
            c.pending.clear();
            c.setup = None;
            let r = c.machine.set(ChannelState::Exiting);
            self.emit_opt(r);
            if connected {
                self.out.push_back(Output::Close { channel: ch });
            }
        }
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        if self.shut_down {
            return None;
        }
        let ops = self.ops.values().filter_map(|o| o.deadline);
        let flights = self
            .channels
            .values()
            .filter_map(|c| c.machine.deadline())
            .chain(self.session.machine.deadline())
            .chain(self.trees.values().filter_map(|t| t.machine.deadline()))
            .chain(self.opens.values().filter_map(|o| o.machine.deadline()))
            .chain(
                self.opens
                    .values()
                    .filter(|o| o.machine.state() == OpenState::NeedReopen)
                    .filter_map(|o| o.reopen_retry_at)
                    // Once due, the retry waits for its tree like any reopen; a past
                    // deadline here would make the caller's loop spin.
                    .filter(|t| *t > self.last_now),
            )
            .chain(
                self.ops
                    .values()
                    .filter_map(|o| match &o.kind {
                        OpKind::Io(io, _) => io.retry_at,
                        _ => None,
                    })
                    .filter(|t| *t > self.last_now),
            );
        let echo = self.config.echo_interval.and_then(|iv| {
            self.channels
                .values()
                .filter(|c| c.usable() && !c.awaiting())
                .map(|c| c.last_traffic + iv)
                .min()
        });
        let silent = self.config.unresponsive_timeout.and_then(|b| {
            self.channels
                .values()
                .filter(|c| c.connected && c.awaiting())
                .filter_map(|c| c.waiting_since.map(|t| t + b))
                .min()
        });
        let rebind = self
            .multi
            .next_at
            .filter(|t| *t > self.last_now && self.session.machine.state() == SessionState::Good);
        let recovery = self.recovery.next_at.into_iter().chain(rebind).chain(
            self.recovery
                .since
                .filter(|_| !self.recovery.gave_up)
                .zip(self.config.reconnect_give_up)
                .map(|(s, g)| s + g),
        );
        ops.chain(flights)
            .chain(echo)
            .chain(silent)
            .chain(recovery)
            .min()
    }

    // ----------------------------------------------------------------------------------
    // Losing a channel
    // ----------------------------------------------------------------------------------

    /// The channel `ch` is unusable (transport gone, protocol violation, integrity failure,
    /// timeout): close it, drop it, and decide the fate of everything that depended on it.
    /// Requests in flight on it are sent again after the recovery when that is safe, or fail
    /// with a retryable error; nothing is silently dropped. Operations that were not on it
    /// are not touched.
    pub(super) fn fail_channel(&mut self, ch: ChannelId, error: ChannelError, now: Instant) {
        let Some(c) = self.channels.get_mut(&ch) else {
            return;
        };
        if c.machine.state() == ChannelState::Exiting {
            c.connected = false;
            return;
        }
        let was_connected = c.connected;
        let was_good = c.machine.state() == ChannelState::Good;
        let binding = c.binding;
        // Decided with this connection's dialect (the channel is gone by the time its
        // requests are looked at).
        let smb3 = c.neg.as_ref().is_some_and(|n| n.dialect.is_smb3());
        let had_setup = c.setup.take().is_some()
            || matches!(
                c.machine.state(),
                ChannelState::New
                    | ChannelState::NeedNegotiate
                    | ChannelState::InNegotiate
                    | ChannelState::NeedSessSetup
                    | ChannelState::InSessSetup
            );
        c.connected = false;
        let pending: Vec<Pending> = core::mem::take(&mut c.pending).into_values().collect();
        let r = c.machine.set(ChannelState::NeedReconnect);
        self.emit_opt(r);
        if was_connected {
            self.out.push_back(Output::Close { channel: ch });
        }
        self.out.push_back(Output::Event(Event::ChannelFailed {
            channel: ch,
            error: error.clone(),
        }));
        // The connection is never used again: a recovery opens a new channel.
        if let Some(mut c) = self.channels.remove(&ch) {
            let r = c.machine.set(ChannelState::Exiting);
            self.emit_opt(r);
        }
        self.entered.remove(&ObjectRef::Channel(ch));
        if self.recovery.channel == Some(ch) {
            self.recovery.channel = None;
        }
        let e = self.channel_op_error(&error);
        let others_good = self.channels.values().any(|c| c.usable());
        if had_setup && self.session.machine.state() == SessionState::InSetup && !others_good {
            // The session step ran on this channel.
            if let Ok((t, flight)) = self.session.machine.fail() {
                self.emit(t);
                self.session_step_failed(flight, e.clone(), now);
            }
        } else if was_good && !others_good && self.session.machine.state() == SessionState::Good {
            self.session_lost(&error, now);
        } else if self.session.machine.state() == SessionState::Good && (binding || was_good) {
            // One channel of several: the session stays; what was in flight on it is
            // replayed on the others (with a new ChannelSequence, [MS-SMB2] 3.2.4.1), and
            // the channel is replaced after a while.
            if was_good && smb3 && !pending.is_empty() {
                self.session.channel_sequence = self.session.channel_sequence.wrapping_add(1);
            }
            self.channel_dropped(was_good, now);
        }
        for p in pending {
            self.request_lost(ch, p, &e, smb3);
        }
        let session_good = self.session.machine.state() == SessionState::Good;
        if !self.recovers() && !session_good {
            // No recovery will come: everything waiting fails now, retryably.
            self.fail_waiting(e);
        } else if self.session.machine.state() != SessionState::Good
            && self.recovery.since.is_some()
        {
            self.schedule_attempt(now);
        }
    }

    /// The session's last channel is gone: the session must be re-established (a new
    /// SESSION_SETUP with PreviousSessionId), every tree reconnected and every durable
    /// handle reclaimed. Starts the recovery.
    pub(super) fn session_lost(&mut self, cause: &ChannelError, now: Instant) {
        if let Ok((t, _)) = self.session.machine.set(SessionState::NeedReconnect) {
            self.emit(t);
        }
        self.drop_bindings(now);
        self.session.previous_id = self.session.id;
        // [MS-SMB2] 3.2.7.1: requests replayed after the loss carry a new ChannelSequence.
        self.session.channel_sequence = self.session.channel_sequence.wrapping_add(1);
        let trees: Vec<TreeId> = self.trees.keys().copied().collect();
        for t in trees {
            self.tree_lost(t);
        }
        self.start_recovery(cause.clone(), now);
    }

    /// A tree's connection on the server is gone (its session was lost, or the server said
    /// STATUS_NETWORK_NAME_DELETED): back to NeedReconnect. A TREE_CONNECT in flight fails
    /// back first so its operations can take it up again.
    pub(super) fn tree_lost(&mut self, t: TreeId) {
        let Some(tr) = self.trees.get_mut(&t) else {
            return;
        };
        if tr.machine.state().in_progress() {
            if let Ok((x, flight)) = tr.machine.fail() {
                self.emit(x);
                // Everyone who waited for that step takes it up again once the session is
                // back (the owner's TREE_CONNECT is requeued by request_lost).
                for op in flight.everyone() {
                    self.requeue(op);
                }
            }
        }
        let Some(tr) = self.trees.get_mut(&t) else {
            return;
        };
        if tr.machine.state() != TreeState::NeedReconnect {
            let r = tr.machine.set(TreeState::NeedReconnect);
            self.emit_opt(r);
        }
    }

    /// Whether a lost session is brought back (the client was logged in once, is not shut
    /// down, and reconnecting is configured).
    pub(super) fn recovers(&self) -> bool {
        !self.shut_down && self.session.established_once && self.config.reconnect_give_up.is_some()
    }

    /// The session step (NEGOTIATE and SESSION_SETUP of a channel) failed with `e`. The first
    /// login fails with it; a recovery tries again later unless the error is final (the
    /// credentials were refused).
    pub(super) fn session_step_failed(
        &mut self,
        flight: crate::state::Flight,
        e: OpError,
        now: Instant,
    ) {
        if !self.session.established_once || !self.recovers() {
            for op in flight.everyone() {
                self.complete(op, Err(e.clone()));
            }
            if let Some(se) = session_error_of(&e) {
                self.out.push_back(Output::Event(Event::SessionFailed(se)));
            }
            let queued: Vec<OpId> = self.queue.iter().copied().collect();
            for op in queued {
                self.complete(op, Err(e.clone()));
            }
            return;
        }
        if !e.is_retryable() {
            // Logon refused, signing impossible...: trying again will not help.
            if let Some(se) = session_error_of(&e) {
                self.out.push_back(Output::Event(Event::SessionFailed(se)));
            }
            self.give_up(e, now);
            return;
        }
        self.schedule_attempt(now);
    }

    /// The error given to operations that a failed channel takes down: the server is gone
    /// (naming the address and the cause) or timed out; integrity failures and downgrades
    /// have their own kinds; other channel errors as they are.
    pub(super) fn channel_op_error(&self, error: &ChannelError) -> OpError {
        let addr = self.addr.as_ref().map_or("", |a| a.0.as_str());
        match error {
            // No address for the name: its own kind, not "server gone" (which is retried).
            ChannelError::Closed(super::CloseReason::NameNotResolved(_)) => {
                OpError::from(error.clone())
            }
            ChannelError::Closed(r) => {
                OpError::new(ErrorKind::ServerGone).with_context(alloc::format!("{addr}: {r}"))
            }
            ChannelError::NegotiateTimeout
            | ChannelError::SessionSetupTimeout
            | ChannelError::Unresponsive(_) => {
                OpError::new(ErrorKind::TimedOut).with_context(alloc::format!("{addr}: {error}"))
            }
            ChannelError::Shutdown => {
                OpError::new(ErrorKind::ServerGone).with_context(alloc::format!("{addr}: {error}"))
            }
            ChannelError::BadSignature(_)
            | ChannelError::Unsigned(_)
            | ChannelError::DecryptFailed
            | ChannelError::BadTransform(_)
            | ChannelError::Unencrypted(_) => {
                OpError::new(ErrorKind::Integrity(error.clone())).with_context(addr)
            }
            ChannelError::Downgrade => OpError::new(ErrorKind::Downgrade).with_context(addr),
            other => OpError::from(other.clone()),
        }
    }

    /// The first login failed before any channel could carry it (negotiate refused, bad
    /// dialect...): fail the login and everything queued behind it.
    pub(super) fn fail_connect(&mut self, err: OpError, now: Instant) {
        // The channel is of no use without a session.
        let ids: Vec<ChannelId> = self
            .channels
            .iter()
            .filter(|(_, c)| !c.usable())
            .map(|(id, _)| *id)
            .collect();
        let ce = match &err.kind {
            ErrorKind::Channel(c) => c.clone(),
            _ => ChannelError::Shutdown,
        };
        if let Ok((t, flight)) = self.session.machine.fail() {
            self.emit(t);
            self.session_step_failed(flight, err.clone(), now);
        }
        for ch in ids {
            if let Some(c) = self.channels.get_mut(&ch) {
                c.setup = None;
            }
            self.fail_channel(ch, ce.clone(), now);
        }
    }

    // ----------------------------------------------------------------------------------
    // The recovery scheduler
    // ----------------------------------------------------------------------------------

    /// The session was lost: bring it back (first attempt at once).
    pub(super) fn start_recovery(&mut self, cause: ChannelError, now: Instant) {
        if !self.recovers() {
            return;
        }
        if self.recovery.since.is_none() || self.recovery.gave_up {
            // A session lost again soon after it came back keeps backing off: a server that
            // breaks every session at once must not make the client reconnect in a loop.
            let flapping = self
                .recovery
                .restored_at
                .is_some_and(|t| now - t < FLAPPING_WINDOW);
            let streak = if flapping {
                self.recovery.streak.saturating_add(1)
            } else {
                0
            };
            let first = if streak == 0 {
                now
            } else {
                now + self.backoff(streak)
            };
            self.recovery = Recovery {
                since: Some(now),
                attempts: 0,
                next_at: Some(first),
                channel: None,
                gave_up: false,
                cause: Some(cause.clone()),
                restored_at: self.recovery.restored_at,
                streak,
            };
            self.out
                .push_back(Output::Event(Event::Recovery(RecoveryEvent::Started {
                    cause,
                })));
        }
        self.recovery_tick(now);
    }

    /// The next connection attempt after a failed one: exponential backoff from
    /// `reconnect_backoff` up to `reconnect_backoff_max`, with up to 25 % jitter from the
    /// injected RNG (so traces replay exactly).
    pub(super) fn schedule_attempt(&mut self, now: Instant) {
        if self.recovery.since.is_none() || self.recovery.gave_up || self.recovery.channel.is_some()
        {
            return;
        }
        let n = self.recovery.attempts + self.recovery.streak;
        self.recovery.next_at = Some(now + self.backoff(n));
    }

    /// The delay before attempt `n + 1` (n >= 1): `reconnect_backoff * 2^(n-1)`, at most
    /// `reconnect_backoff_max`, minus up to 25 % jitter.
    fn backoff(&mut self, n: u32) -> Duration {
        let n = n.saturating_sub(1).min(16);
        let base = self.config.reconnect_backoff.as_nanos();
        let cap = self.config.reconnect_backoff_max.as_nanos().max(base);
        let delay = base.saturating_mul(1u64 << n).min(cap);
        let jitter = if delay >= 4 {
            self.rng.next_u64() % (delay / 4)
        } else {
            0
        };
        Duration::from_nanos(delay - jitter)
    }

    /// Open the next connection when its time has come; give up when the bound has passed.
    pub(super) fn recovery_tick(&mut self, now: Instant) {
        let Some(since) = self.recovery.since else {
            return;
        };
        if self.recovery.gave_up || self.shut_down {
            return;
        }
        if let Some(bound) = self.config.reconnect_give_up {
            if since + bound <= now && self.session.machine.state() != SessionState::Good {
                let secs = (now - since).as_millis();
                let addr = self.addr.as_ref().map_or("", |a| a.0.as_str());
                let cause = self
                    .recovery
                    .cause
                    .as_ref()
                    .map(|c| alloc::format!(": {c}"))
                    .unwrap_or_default();
                let e = OpError::new(ErrorKind::ServerGone).with_context(alloc::format!(
                    "{addr}: gave up reconnecting after {}.{:01} s ({} attempts){cause}",
                    secs / 1000,
                    (secs % 1000) / 100,
                    self.recovery.attempts
                ));
                self.give_up(e, now);
                return;
            }
        }
        if self.recovery.channel.is_some() || self.recovery.next_at.is_none_or(|t| t > now) {
            return;
        }
        let Some(addr) = self.addr.clone() else {
            return;
        };
        self.recovery.attempts += 1;
        self.recovery.next_at = None;
        self.out
            .push_back(Output::Event(Event::Recovery(RecoveryEvent::Attempt {
                attempt: self.recovery.attempts,
            })));
        let ch = self.open_channel(addr, now);
        self.recovery.channel = Some(ch);
    }

    /// The recovery gives up: every waiting operation fails with `e`; the next submission
    /// starts a new recovery.
    fn give_up(&mut self, e: OpError, now: Instant) {
        let since = self.recovery.since.unwrap_or(now);
        self.recovery.gave_up = true;
        self.recovery.next_at = None;
        self.out
            .push_back(Output::Event(Event::Recovery(RecoveryEvent::GaveUp {
                after: now - since,
                attempts: self.recovery.attempts,
            })));
        if let Some(ch) = self.recovery.channel.take() {
            self.fail_channel(ch, ChannelError::Shutdown, now);
        }
        if self.session.machine.state() == SessionState::InSetup {
            if let Ok((t, _)) = self.session.machine.fail() {
                self.emit(t);
            }
        }
        self.fail_waiting(e);
    }

    /// Fail every operation that waits for the session (queued, or waiting for a tree or an
    /// open to come back), with `e`.
    pub(super) fn fail_waiting(&mut self, e: OpError) {
        let victims: Vec<OpId> = self
            .ops
            .iter()
            .filter(|(_, o)| o.in_flight.is_empty())
            .map(|(id, _)| *id)
            .collect();
        for op in victims {
            self.complete(op, Err(e.clone()));
        }
    }

    /// The session is established again: the recovery is over.
    pub(super) fn recovery_done(&mut self, now: Instant) {
        let Some(since) = self.recovery.since.take() else {
            return;
        };
        self.stats.reconnects += 1;
        self.out
            .push_back(Output::Event(Event::Recovery(RecoveryEvent::Restored {
                after: now - since,
                attempts: self.recovery.attempts,
            })));
        let streak = self.recovery.streak;
        self.recovery = Recovery {
            restored_at: Some(now),
            streak,
            ..Recovery::default()
        };
    }
}

/// A session lost again within this time after it came back counts as flapping: the next
/// recovery keeps backing off instead of reconnecting at once.
const FLAPPING_WINDOW: Duration = Duration::from_secs(10);

/// The session-level error an operation error stands for (for `Event::SessionFailed`).
fn session_error_of(e: &OpError) -> Option<SessionError> {
    match &e.kind {
        ErrorKind::Session(s) => Some(s.clone()),
        ErrorKind::LogonFailure | ErrorKind::AccessDenied => {
            e.status.map(SessionError::LogonFailure)
        }
        ErrorKind::SigningRequired => Some(SessionError::SigningUnavailable),
        ErrorKind::EncryptionRequired => Some(SessionError::EncryptionUnavailable),
        _ => None,
    }
}
