//! [`FsExtras`] for smb_smol: security descriptors, sparse files, snapshots, symlinks.

use super::Smol;
use futures_lite::AsyncReadExt;
use smb_smol::{OpenOptions, Share};
use smb_testkit::scenarios::{BoxFut, FsExtras, FsxOp, FsxOut};
use std::io;

impl FsExtras for Smol {
    fn fsx(&self, s: &Share, op: FsxOp) -> BoxFut<'static, io::Result<FsxOut>> {
        let s = s.clone();
        Box::pin(async move {
            Ok(match op {
                FsxOp::Security(p, parts) => FsxOut::Sd(s.security(&p, parts).await?),
                FsxOp::SetSecurity(p, sd, parts) => {
                    s.set_security(&p, &sd, parts).await?;
                    FsxOut::Done
                }
                FsxOp::SetSparse(p, on) => {
                    s.set_sparse(&p, on).await?;
                    FsxOut::Done
                }
                FsxOp::ZeroRange(p, o, l) => {
                    s.zero_range(&p, o, l).await?;
                    FsxOut::Done
                }
                FsxOp::AllocatedRanges(p, o, l) => {
                    FsxOut::Ranges(s.allocated_ranges(&p, o, l).await?)
                }
                FsxOp::Snapshots(d) => FsxOut::Names(s.snapshots(&d).await?),
                FsxOp::ReadSnapshot(p, t) => {
                    let opts = OpenOptions::new().read(true).snapshot(t);
                    let mut f = s.open(&p, opts).await?;
                    let mut v = Vec::new();
                    f.read_to_end(&mut v).await?;
                    f.close().await?;
                    FsxOut::Data(v)
                }
                FsxOp::ReadLink(p) => FsxOut::Link(s.read_link(&p).await?),
                FsxOp::Symlink(t, p, rel) => {
                    s.symlink(&t, &p, rel).await?;
                    FsxOut::Done
                }
                FsxOp::SymlinkMetadata(p) => FsxOut::Meta(s.symlink_metadata(&p).await?),
            })
        })
    }
}
