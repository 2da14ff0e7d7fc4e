//! [`FsExtras`] for smb_blocking: security descriptors, sparse files, snapshots, symlinks.

use super::Blocking;
use smb_blocking::{OpenOptions, Share};
use smb_testkit::scenarios::{BoxFut, FsExtras, FsxOp, FsxOut};
use std::io;

impl FsExtras for Blocking {
    fn fsx(&self, s: &Share, op: FsxOp) -> BoxFut<'static, io::Result<FsxOut>> {
        let s = s.clone();
        Box::pin(async move {
            Ok(match op {
                FsxOp::Security(p, parts) => FsxOut::Sd(s.security(&p, parts)?),
                FsxOp::SetSecurity(p, sd, parts) => {
                    s.set_security(&p, &sd, parts)?;
                    FsxOut::Done
                }
                FsxOp::SetSparse(p, on) => {
                    s.set_sparse(&p, on)?;
                    FsxOut::Done
                }
                FsxOp::ZeroRange(p, o, l) => {
                    s.zero_range(&p, o, l)?;
                    FsxOut::Done
                }
                FsxOp::AllocatedRanges(p, o, l) => FsxOut::Ranges(s.allocated_ranges(&p, o, l)?),
                FsxOp::Snapshots(d) => FsxOut::Names(s.snapshots(&d)?),
                FsxOp::ReadSnapshot(p, t) => {
                    let opts = OpenOptions::new().read(true).snapshot(t);
                    let mut f = s.open(&p, opts)?;
                    let mut v = Vec::new();
                    io::Read::read_to_end(&mut f, &mut v)?;
                    f.close()?;
                    FsxOut::Data(v)
                }
                FsxOp::ReadLink(p) => FsxOut::Link(s.read_link(&p)?),
                FsxOp::Symlink(t, p, rel) => {
                    s.symlink(&t, &p, rel)?;
                    FsxOut::Done
                }
                FsxOp::SymlinkMetadata(p) => FsxOut::Meta(s.symlink_metadata(&p)?),
            })
        })
    }
}
