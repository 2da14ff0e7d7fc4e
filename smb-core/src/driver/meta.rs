//! The std-like views of what the server reports: [`FileType`], [`Permissions`], the
//! `SystemTime` accessors of [`Metadata`] and the accessors of a directory entry
//! ([`DirEntry`]), shaped like `std::fs`' ones.

use super::Metadata;
use crate::client::{DirEntry, file_attributes};
#[cfg(feature = "std")]
use crate::time::FileTime;

/// What kind of object an entry is (like `std::fs::FileType`), from its FILE_ATTRIBUTE_*
/// bits ([MS-FSCC] 2.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileType {
    attributes: u32,
}

impl FileType {
    /// From FILE_ATTRIBUTE_* bits.
    pub fn from_attributes(attributes: u32) -> Self {
        FileType { attributes }
    }
    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.attributes & file_attributes::DIRECTORY != 0
    }
    /// Not a directory.
    pub fn is_file(&self) -> bool {
        !self.is_dir()
    }
    /// A reparse point (a symlink or junction on the server; FILE_ATTRIBUTE_REPARSE_POINT).
    pub fn is_symlink(&self) -> bool {
        self.attributes & file_attributes::REPARSE_POINT != 0
    }
}

/// Permissions as the FILE_ATTRIBUTE_READONLY bit (like `std::fs::Permissions`); set them
/// with the adapters' `Share::set_permissions`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Permissions {
    readonly: bool,
}

impl Permissions {
    /// From FILE_ATTRIBUTE_* bits.
    pub fn from_attributes(attributes: u32) -> Self {
        Permissions {
            readonly: attributes & file_attributes::READONLY != 0,
        }
    }
    /// FILE_ATTRIBUTE_READONLY is set.
    pub fn readonly(&self) -> bool {
        self.readonly
    }
    /// Set or clear read-only (takes effect through `Share::set_permissions`).
    pub fn set_readonly(&mut self, readonly: bool) {
        self.readonly = readonly;
    }
    /// The attribute mask `current` with the read-only bit of these permissions; never 0
    /// (in SET_INFO 0 means "unchanged", so "no attribute" is FILE_ATTRIBUTE_NORMAL,
    /// [MS-FSCC] 2.4.7).
    pub fn apply_to(&self, current: u32) -> u32 {
        let a = if self.readonly {
            current | file_attributes::READONLY
        } else {
            current & !file_attributes::READONLY
        };
        nonzero_attributes(a & !file_attributes::NORMAL)
    }
}

/// FILE_ATTRIBUTE_NORMAL for an empty mask: in SET_INFO a FileAttributes of 0 leaves the
/// attributes unchanged ([MS-FSCC] 2.4.7).
pub(crate) fn nonzero_attributes(a: u32) -> u32 {
    if a == 0 { file_attributes::NORMAL } else { a }
}

impl Metadata {
    /// The kind of object.
    pub fn file_type(&self) -> FileType {
        FileType::from_attributes(self.attributes)
    }
    /// The read-only bit as [`Permissions`].
    pub fn permissions(&self) -> Permissions {
        Permissions::from_attributes(self.attributes)
    }
}

/// A server time as `SystemTime`; an error when the server reported none (0).
#[cfg(feature = "std")]
fn system_time(t: FileTime) -> std::io::Result<std::time::SystemTime> {
    use std::time::{Duration, UNIX_EPOCH};
    if t == FileTime::DONT_CHANGE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "the server reported no time",
        ));
    }
    let (secs, nanos) = t.to_unix();
    let since = Duration::new(secs.unsigned_abs(), 0);
    let base = if secs >= 0 {
        UNIX_EPOCH + since
    } else {
        UNIX_EPOCH - since
    };
    Ok(base + Duration::from_nanos(u64::from(nanos)))
}

#[cfg(feature = "std")]
impl Metadata {
    /// LastWriteTime as `SystemTime` (like `std::fs::Metadata::modified`).
    pub fn modified(&self) -> std::io::Result<std::time::SystemTime> {
        system_time(self.modified)
    }
    /// LastAccessTime as `SystemTime`.
    pub fn accessed(&self) -> std::io::Result<std::time::SystemTime> {
        system_time(self.accessed)
    }
    /// CreationTime as `SystemTime`.
    pub fn created(&self) -> std::io::Result<std::time::SystemTime> {
        system_time(self.created)
    }
    /// ChangeTime (the last change of data or attributes) as `SystemTime`.
    pub fn changed(&self) -> std::io::Result<std::time::SystemTime> {
        system_time(self.changed)
    }
}

impl DirEntry {
    /// The entry's name (not a path).
    pub fn file_name(&self) -> &str {
        &self.name
    }
    /// The kind of object, from the listing (no round trip).
    pub fn file_type(&self) -> FileType {
        FileType::from_attributes(self.attributes.attributes)
    }
    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.file_type().is_dir()
    }
    /// Size, times and attributes as the listing reported them (no round trip; the link
    /// count is not in a listing and is 0).
    pub fn metadata(&self) -> Metadata {
        Metadata::from_attributes(&self.attributes, self.file_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::FileAttributes;

    #[test]
    fn entry_accessors_follow_the_attribute_bits() {
        let e = DirEntry {
            name: "d".into(),
            attributes: FileAttributes {
                attributes: file_attributes::DIRECTORY | file_attributes::READONLY,
                end_of_file: 7,
                last_write_time: FileTime::UNIX_EPOCH_TICKS + 10_000_000,
                ..FileAttributes::default()
            },
            file_id: 9,
        };
        assert!(e.is_dir() && !e.file_type().is_file() && !e.file_type().is_symlink());
        let m = e.metadata();
        assert_eq!((m.len(), m.file_id, m.is_dir()), (7, 9, true));
        assert!(m.permissions().readonly());
        #[cfg(feature = "std")]
        {
            let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1);
            assert_eq!(m.modified().expect("modified"), t);
            assert_eq!(
                m.created().expect_err("no time").kind(),
                std::io::ErrorKind::Unsupported
            );
        }
    }

    #[test]
    fn permissions_never_produce_zero_attributes() {
        let mut p = Permissions::from_attributes(file_attributes::READONLY);
        assert!(p.readonly());
        p.set_readonly(false);
        assert_eq!(
            p.apply_to(file_attributes::READONLY),
            file_attributes::NORMAL
        );
        assert_eq!(
            p.apply_to(file_attributes::READONLY | file_attributes::HIDDEN),
            file_attributes::HIDDEN
        );
        p.set_readonly(true);
        assert_eq!(
            p.apply_to(file_attributes::NORMAL),
            file_attributes::READONLY
        );
    }
}
