//! Oplock and lease break notifications and their acknowledgments ([MS-SMB2] 3.2.5.19).

use super::*;

impl Client {
    /// Lease and oplock break notifications ([MS-SMB2] 3.2.5.19): emitted as events, then
    /// acknowledged as the configured [`BreakPolicy`] decides. A lease break is acknowledged
    /// only when the server set ACK_REQUIRED ([MS-SMB2] 3.2.5.19.2).
    pub(super) fn on_break(&mut self, ch: ChannelId, msg: &Bytes, _now: Instant) {
        use crate::wire::oplock_break::{LeaseBreakFlags, OplockBreakMessage};
        let Ok(m) = OplockBreakMessage::decode(msg) else {
            self.stats.malformed += 1;
            return;
        };
        let policy = self.config.break_policy.clone();
        match m {
            OplockBreakMessage::LeaseNotification(n) => {
                let files: Vec<FileHandle> = self
                    .opens
                    .iter()
                    .filter(|(_, o)| o.lease_key == Some(n.lease_key))
                    .map(|(f, _)| *f)
                    .collect();
                let ack = n.flags.0 & LeaseBreakFlags::ACK_REQUIRED != 0;
                for f in &files {
                    if let Some(o) = self.opens.get_mut(f) {
                        o.lease_state = n.new_state.0;
                    }
                }
                // Handles their owner closes on a break: no acknowledgment (see
                // Client::close_on_lease_break).
                let closing = !files.is_empty()
                    && files
                        .iter()
                        .all(|f| self.opens.get(f).is_some_and(|o| o.close_on_break));
                let lb = LeaseBreak {
                    files,
                    lease_key: n.lease_key.0,
                    current: n.current_state.0,
                    new: n.new_state.0,
                    ack_required: ack,
                };
                let action = if ack && !closing {
                    policy.lease_break(&lb)
                } else {
                    BreakAction::Defer
                };
                self.out.push_back(Output::Event(Event::LeaseBreak(lb)));
                if let BreakAction::Ack(state) = action {
                    if let Ok(m) = self.lease_ack_msg(n.lease_key.0, state, Part::Internal) {
                        let _ = self.transmit(ch, None, Vec::from([m]));
                    }
                }
            }
            OplockBreakMessage::Oplock(b) => {
                let found = self
                    .opens
                    .iter()
                    .find(|(_, o)| o.wire.volatile == b.file_id.volatile)
                    .map(|(f, _)| *f);
                if let Some(file) = found {
                    let level = b.oplock_level.to_u8();
                    self.out
                        .push_back(Output::Event(Event::OplockBreak { file, level }));
                    if let BreakAction::Ack(l) = policy.oplock_break(file, level) {
                        if let Ok(m) = self.oplock_ack_msg(file, l as u8, Part::Internal) {
                            let _ = self.transmit(ch, None, Vec::from([m]));
                        }
                    }
                }
            }
            OplockBreakMessage::LeaseAck(_) => {}
        }
    }

    /// A LEASE_BREAK acknowledgment ([MS-SMB2] 2.2.24.2), on the tree of a file holding the
    /// lease (TreeId 0 if none is known).
    pub(super) fn lease_ack_msg(
        &self,
        key: [u8; 16],
        state: u32,
        part: Part,
    ) -> Result<OutMsg, OpError> {
        use crate::wire::oplock_break::LeaseBreakAck;
        let tree_wire = self
            .opens
            .values()
            .find(|o| o.lease_key == Some(Guid(key)))
            .and_then(|o| self.trees.get(&o.tree))
            .map_or(0, |t| t.wire_id);
        let body = LeaseBreakAck {
            flags: 0,
            lease_key: Guid(key),
            lease_state: LeaseState(state),
            lease_duration: 0,
        };
        let hdr = self.header(Command::OplockBreak, tree_wire);
        let msg = encode_msg(&hdr, &body);
        Ok(self.out_msg(msg, None, Command::OplockBreak, 0, part, tree_wire))
    }

    /// An OPLOCK_BREAK acknowledgment ([MS-SMB2] 2.2.24.1).
    pub(super) fn oplock_ack_msg(
        &self,
        file: FileHandle,
        level: u8,
        part: Part,
    ) -> Result<OutMsg, OpError> {
        use crate::wire::oplock_break::OplockBreak;
        let o = self
            .opens
            .get(&file)
            .ok_or(OpError::new(ErrorKind::InvalidHandle))?;
        let tree_wire = self.trees.get(&o.tree).map_or(0, |t| t.wire_id);
        let hdr = self.header(Command::OplockBreak, tree_wire);
        let body = OplockBreak {
            oplock_level: OplockLevel::from_u8(level),
            file_id: o.wire,
        };
        let msg = encode_msg(&hdr, &body);
        Ok(self.out_msg(msg, None, Command::OplockBreak, 0, part, tree_wire))
    }
}
