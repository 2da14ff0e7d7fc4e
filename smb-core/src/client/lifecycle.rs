//! Connection and channel lifecycle: connect, transport events, deadlines, failure and shutdown.

use super::*;

impl Channel {
    /// Requests wait for an answer (those that got an interim STATUS_PENDING wait for the
    /// server's own time, e.g. CHANGE_NOTIFY, and do not count).
    pub(super) fn awaiting(&self) -> bool {
        self.pending.values().any(|p| p.async_id.is_none())
    }
}

impl Client {
    /// Start connecting to `addr`: creates channel 0 and emits [`Output::Connect`]. The
    /// returned operation completes with [`Response::Connected`] once the session is
    /// established, or with the error that prevented it.
    pub fn connect(&mut self, addr: ServerAddr, now: Instant) -> OpId {
        self.last_now = now;
        let dl = now + self.config.request_timeout;
        let deadline = Some(dl);
        let op = self.alloc_op(OpKind::Connect, deadline);
        if self.shut_down {
            self.complete(op, Err(OpError::new(ErrorKind::ShutDown)));
            return op;
        }
        if !self.channels.is_empty() {
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
        let ch = ChannelId(0);
        self.channels.push(Channel {
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
        });
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
        self.out.push_back(Output::Connect { channel: ch, addr });
        op
    }

    /// The adapter's TCP connection for `ch` is up.
    pub fn handle_connected(&mut self, ch: ChannelId, now: Instant) {
        self.last_now = now;
        let target = self.config.credit_target;
        let max_frame = self.config.max_frame_len;
        let Some(c) = self.channels.get_mut(ch.0 as usize) else {
            return;
        };
        if c.connected || c.machine.state() == ChannelState::Exiting {
            return;
        }
        c.connected = true;
        c.machine.bump_epoch();
        c.credits = CreditWindow::new(target);
        c.reader = FrameReader::new(max_frame);
        c.pending.clear();
        c.last_traffic = now;
        c.waiting_since = None;
        let r = c.machine.set(ChannelState::NeedNegotiate);
        self.emit_opt(r);
        self.start_negotiate(ch, now);
    }

    /// The transport of `ch` closed (EOF, error, or connect failure).
    pub fn handle_closed(&mut self, ch: ChannelId, reason: CloseReason, now: Instant) {
        self.last_now = now;
        match self.channels.get_mut(ch.0 as usize) {
            Some(c) if c.machine.state() == ChannelState::Exiting => {
                c.connected = false;
            }
            Some(_) => self.fail_channel(ch, ChannelError::Closed(reason), now),
            None => {}
        }
    }

    /// A deadline the client asked for (through [`Output::Timeout`]) has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.last_now = now;
        // Operations past their deadline.
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
            self.complete(op, Err(OpError::new(ErrorKind::TimedOut)));
        }
        // Session setup and negotiate that take too long: back to Need*, fail the waiters.
        if let Some((t, flight)) = self.session.machine.expire(now) {
            self.emit(t);
            for op in flight.everyone() {
                self.complete(op, Err(OpError::new(ErrorKind::TimedOut)));
            }
            for i in 0..self.channels.len() {
                self.fail_channel(ChannelId(i as u32), ChannelError::NegotiateTimeout, now);
            }
        }
        for i in 0..self.channels.len() {
            let was = self.channels[i].machine.state();
            let expired = self.channels[i].machine.expire(now);
            if let Some((t, _)) = expired {
                self.emit(t);
                let e = if was == ChannelState::InSessSetup {
                    ChannelError::SessionSetupTimeout
                } else {
                    ChannelError::NegotiateTimeout
                };
                self.fail_channel(ChannelId(i as u32), e, now);
            }
        }
        // A server that stopped answering while requests wait for it: fail the channel so
        // nothing waits forever (kernel: 3 x echo interval; here `unresponsive_timeout`).
        if let Some(bound) = self.config.unresponsive_timeout {
            for i in 0..self.channels.len() {
                let c = &self.channels[i];
                if let Some(since) = c.waiting_since.filter(|_| c.connected && c.awaiting()) {
                    if since + bound <= now {
                        let ms = (now - since).as_millis();
                        self.fail_channel(ChannelId(i as u32), ChannelError::Unresponsive(ms), now);
                    }
                }
            }
        }
        // Idle channels: ECHO.
        if let Some(interval) = self.config.echo_interval {
            for i in 0..self.channels.len() {
                let c = &self.channels[i];
                if c.machine.state() == ChannelState::Good
                    && c.connected
                    && !c.awaiting()
                    && c.last_traffic + interval <= now
                {
                    self.channels[i].last_traffic = now;
                    let hdr = self.header(Command::Echo, 0);
                    let msg = encode_msg(&hdr, &crate::wire::echo::EchoRequest);
                    let m = self.out_msg(msg, None, Command::Echo, 0, Part::Internal, 0);
                    let _ = self.transmit(ChannelId(i as u32), None, Vec::from([m]), None);
                }
            }
        }
        self.pump(now);
    }

    /// Log off and close every channel. Every pending operation completes with
    /// [`ErrorKind::ShutDown`]; nothing is sent afterwards.
    pub fn shutdown(&mut self, _now: Instant) {
        if self.shut_down {
            return;
        }
        let ops: Vec<OpId> = self.ops.keys().copied().collect();
        for op in ops {
            self.complete(op, Err(OpError::new(ErrorKind::ShutDown)));
        }
        if self.session.machine.state() == SessionState::Good {
            let hdr = self.header(Command::Logoff, 0);
            let msg = encode_msg(&hdr, &crate::wire::logoff::LogoffRequest);
            let m = self.out_msg(msg, None, Command::Logoff, 0, Part::Internal, 0);
            let _ = self.transmit(ChannelId(0), None, Vec::from([m]), None);
        }
        self.shut_down = true;
        let r = self.session.machine.set(SessionState::Exiting);
        self.emit_opt(r);
        let trees: Vec<TreeId> = self.trees.keys().copied().collect();
        for t in trees {
            if let Some(tr) = self.trees.get_mut(&t) {
                let r = tr.machine.set(TreeState::Exiting);
                self.emit_opt(r);
            }
        }
        for i in 0..self.channels.len() {
            let c = &mut self.channels[i];
            let connected = c.connected;
            c.connected = false;
            c.pending.clear();
            let r = c.machine.set(ChannelState::Exiting);
            self.emit_opt(r);
            if connected {
                self.out.push_back(Output::Close {
                    channel: ChannelId(i as u32),
                });
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
            .iter()
            .filter_map(|c| c.machine.deadline())
            .chain(self.session.machine.deadline());
        let echo = self.config.echo_interval.and_then(|iv| {
            self.channels
                .iter()
                .filter(|c| c.connected && c.machine.state() == ChannelState::Good && !c.awaiting())
                .map(|c| c.last_traffic + iv)
                .min()
        });
        let silent = self.config.unresponsive_timeout.and_then(|b| {
            self.channels
                .iter()
                .filter(|c| c.connected && c.awaiting())
                .filter_map(|c| c.waiting_since.map(|t| t + b))
                .min()
        });
        ops.chain(flights).chain(echo).chain(silent).min()
    }

    pub(super) fn fail_channel(&mut self, ch: ChannelId, error: ChannelError, _now: Instant) {
        let Some(c) = self.channels.get_mut(ch.0 as usize) else {
            return;
        };
        if matches!(
            c.machine.state(),
            ChannelState::Exiting | ChannelState::NeedReconnect
        ) && !c.connected
        {
            return;
        }
        let was_connected = c.connected;
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
        // Session setup waiters fail with the channel's error.
        if let Ok((t, flight)) = self.session.machine.fail() {
            self.emit(t);
            let e = self.channel_op_error(&error);
            for op in flight.everyone() {
                self.complete(op, Err(e.clone()));
            }
        } else if self.session.machine.state() == SessionState::Good {
            // The only channel is gone: the session must be re-established.
            if let Ok((t, _)) = self.session.machine.set(SessionState::NeedReconnect) {
                self.emit(t);
            }
            self.session.previous_id = self.session.id;
            let trees: Vec<TreeId> = self.trees.keys().copied().collect();
            for t in trees {
                if let Some(tr) = self.trees.get_mut(&t) {
                    let r = tr.machine.set(TreeState::NeedReconnect);
                    self.emit_opt(r);
                }
            }
            let files: Vec<FileHandle> = self.opens.keys().copied().collect();
            for f in files {
                if let Some(o) = self.opens.get_mut(&f) {
                    let r = o.machine.set(OpenState::NeedReopen);
                    self.emit_opt(r);
                }
            }
        }
        // Everything in flight or queued fails as retryable: nothing is silently dropped.
        let mut victims: Vec<OpId> = pending.iter().filter_map(|p| p.op).collect();
        victims.extend(self.queue.iter().copied());
        // Requests waiting for a TREE_CONNECT in flight on this channel (not queued, nothing
        // of theirs in flight) fail with it instead of waiting for their deadline.
        victims.extend(
            self.ops
                .iter()
                .filter(|(_, o)| matches!(o.kind, OpKind::Tcon { .. }) && o.in_flight.is_empty())
                .map(|(id, _)| *id),
        );
        victims.sort();
        victims.dedup();
        let e = self.channel_op_error(&error);
        for op in victims {
            self.complete(op, Err(e.clone()));
        }
    }

    /// The error given to operations that a failed channel takes down: the server is gone
    /// (naming the address and the cause) or timed out; other channel errors as they are.
    pub(super) fn channel_op_error(&self, error: &ChannelError) -> OpError {
        let addr = self.addr.as_ref().map_or("", |a| a.0.as_str());
        match error {
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
            other => OpError::from(other.clone()),
        }
    }

    pub(super) fn fail_connect(&mut self, err: OpError, now: Instant) {
        if let Ok((t, flight)) = self.session.machine.fail() {
            self.emit(t);
            for op in flight.everyone() {
                self.complete(op, Err(err.clone()));
            }
        }
        if let Some(se) = match &err.kind {
            ErrorKind::Session(s) => Some(s.clone()),
            ErrorKind::LogonFailure | ErrorKind::AccessDenied => {
                err.status.map(SessionError::LogonFailure)
            }
            ErrorKind::SigningRequired => Some(SessionError::SigningUnavailable),
            ErrorKind::EncryptionRequired => Some(SessionError::EncryptionUnavailable),
            _ => None,
        } {
            self.out.push_back(Output::Event(Event::SessionFailed(se)));
        }
        let queued: Vec<OpId> = self.queue.iter().copied().collect();
        for op in queued {
            self.complete(op, Err(err.clone()));
        }
        // The channel is of no use without a session.
        let ce = match &err.kind {
            ErrorKind::Channel(c) => c.clone(),
            _ => ChannelError::Shutdown,
        };
        if let Some(c) = self.channels.first() {
            if c.connected {
                self.fail_channel(ChannelId(0), ce, now);
            }
        }
    }
}
