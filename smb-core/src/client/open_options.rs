//! CREATE options ([MS-SMB2] 2.2.13) and their bit masks: access, disposition, create
//! options, share access and file attributes, with [`OpenOptions`] shaped like
//! `std::fs::OpenOptions`.

use core::fmt;

/// Access mask bits for [`OpenOptions::desired_access`] ([MS-SMB2] 2.2.13.1).
pub mod access {
    /// Read data / list directory.
    pub const FILE_READ_DATA: u32 = 0x0000_0001;
    /// Write data / add file.
    pub const FILE_WRITE_DATA: u32 = 0x0000_0002;
    /// Append data / add subdirectory.
    pub const FILE_APPEND_DATA: u32 = 0x0000_0004;
    /// Read extended attributes.
    pub const FILE_READ_EA: u32 = 0x0000_0008;
    /// Write extended attributes.
    pub const FILE_WRITE_EA: u32 = 0x0000_0010;
    /// Traverse a directory.
    pub const FILE_TRAVERSE: u32 = 0x0000_0020;
    /// Read attributes.
    pub const FILE_READ_ATTRIBUTES: u32 = 0x0000_0080;
    /// Write attributes.
    pub const FILE_WRITE_ATTRIBUTES: u32 = 0x0000_0100;
    /// Delete.
    pub const DELETE: u32 = 0x0001_0000;
    /// Read the security descriptor.
    pub const READ_CONTROL: u32 = 0x0002_0000;
    /// Change the DACL ([MS-SMB2] 2.2.13.1.1 WRITE_DAC).
    pub const WRITE_DAC: u32 = 0x0004_0000;
    /// Change the owner ([MS-SMB2] 2.2.13.1.1 WRITE_OWNER).
    pub const WRITE_OWNER: u32 = 0x0008_0000;
    /// Synchronize.
    pub const SYNCHRONIZE: u32 = 0x0010_0000;
    /// Maximum allowed.
    pub const MAXIMUM_ALLOWED: u32 = 0x0200_0000;
    /// Generic all.
    pub const GENERIC_ALL: u32 = 0x1000_0000;
    /// Generic write.
    pub const GENERIC_WRITE: u32 = 0x4000_0000;
    /// Generic read.
    pub const GENERIC_READ: u32 = 0x8000_0000;
}

/// CreateDisposition values ([MS-SMB2] 2.2.13).
pub mod disposition {
    /// Replace if exists, else create.
    pub const SUPERSEDE: u32 = 0;
    /// Open if exists, else fail.
    pub const OPEN: u32 = 1;
    /// Fail if exists, else create.
    pub const CREATE: u32 = 2;
    /// Open if exists, else create.
    pub const OPEN_IF: u32 = 3;
    /// Overwrite if exists, else fail.
    pub const OVERWRITE: u32 = 4;
    /// Overwrite if exists, else create.
    pub const OVERWRITE_IF: u32 = 5;
}

/// CreateOptions bits ([MS-SMB2] 2.2.13).
pub mod create_options {
    /// The target must be a directory.
    pub const DIRECTORY_FILE: u32 = 0x0000_0001;
    /// Write-through.
    pub const WRITE_THROUGH: u32 = 0x0000_0002;
    /// Sequential access hint.
    pub const SEQUENTIAL_ONLY: u32 = 0x0000_0004;
    /// The target must not be a directory.
    pub const NON_DIRECTORY_FILE: u32 = 0x0000_0040;
    /// Delete when the last handle closes.
    pub const DELETE_ON_CLOSE: u32 = 0x0000_1000;
    /// Open a reparse point itself.
    pub const OPEN_REPARSE_POINT: u32 = 0x0020_0000;
}

/// ShareAccess bits ([MS-SMB2] 2.2.13).
pub mod share_access {
    /// Others may read.
    pub const READ: u32 = 1;
    /// Others may write.
    pub const WRITE: u32 = 2;
    /// Others may delete/rename.
    pub const DELETE: u32 = 4;
    /// All of the above.
    pub const ALL: u32 = 7;
}

/// FILE_ATTRIBUTE_* bits for [`OpenOptions::file_attributes`] and `set_attributes`
/// ([MS-FSCC] 2.6), the subset a user sets (the others are the server's to report).
pub mod file_attributes {
    use crate::wire::create::FileAttributes as A;
    /// FILE_ATTRIBUTE_READONLY.
    pub const READONLY: u32 = A::READONLY;
    /// FILE_ATTRIBUTE_HIDDEN.
    pub const HIDDEN: u32 = A::HIDDEN;
    /// FILE_ATTRIBUTE_SYSTEM.
    pub const SYSTEM: u32 = A::SYSTEM;
    /// FILE_ATTRIBUTE_DIRECTORY (reported, not set).
    pub const DIRECTORY: u32 = A::DIRECTORY;
    /// FILE_ATTRIBUTE_ARCHIVE.
    pub const ARCHIVE: u32 = A::ARCHIVE;
    /// FILE_ATTRIBUTE_NORMAL: no other attribute (only valid alone; in SET_INFO it clears
    /// them all, as 0 there means "unchanged", [MS-FSCC] 2.4.7).
    pub const NORMAL: u32 = A::NORMAL;
    /// FILE_ATTRIBUTE_TEMPORARY.
    pub const TEMPORARY: u32 = A::TEMPORARY;
    /// FILE_ATTRIBUTE_REPARSE_POINT (reported: symlinks and junctions).
    pub const REPARSE_POINT: u32 = A::REPARSE_POINT;
}

/// The std-like part of [`OpenOptions`]: what `create`, `truncate` and `create_new` asked,
/// from which the CreateDisposition is computed (so the order of the calls does not matter).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Mode {
    create: bool,
    truncate: bool,
    create_new: bool,
    append: bool,
}

impl Mode {
    /// [MS-SMB2] 2.2.13 CreateDisposition for `std::fs::OpenOptions`' flags.
    fn disposition(self) -> u32 {
        match (self.create_new, self.create, self.truncate) {
            (true, _, _) => disposition::CREATE,
            (false, true, true) => disposition::OVERWRITE_IF,
            (false, true, false) => disposition::OPEN_IF,
            (false, false, true) => disposition::OVERWRITE,
            (false, false, false) => disposition::OPEN,
        }
    }
}

/// Options of a CREATE ([MS-SMB2] 2.2.13), built like `std::fs::OpenOptions`:
///
/// ```
/// use smb_core::client::{OpenOptions, file_attributes, share_access};
/// // Append to a log, creating it; let others read it meanwhile.
/// let log = OpenOptions::new()
///     .append(true)
///     .create(true)
///     .share_mode(share_access::READ);
/// // A new hidden file, failing if it exists.
/// let new = OpenOptions::new()
///     .write(true)
///     .create_new(true)
///     .attributes(file_attributes::HIDDEN);
/// assert_eq!(
///     format!("{new:?}"),
///     "OpenOptions { access: GENERIC_WRITE | SYNCHRONIZE, disposition: CREATE, \
///      share: READ | WRITE, create_options: NON_DIRECTORY_FILE, attributes: HIDDEN, \
///      durable: default, lease: default }"
/// );
/// # let _ = log;
/// ```
///
/// Unlike std's, the builder takes and returns the options by value, and opening is
/// `share.open(path, options)`. Shortcuts for common cases: [`OpenOptions::create_truncate`],
/// [`OpenOptions::read_write`], [`OpenOptions::directory`], [`OpenOptions::mkdir`],
/// [`OpenOptions::metadata_only`], [`OpenOptions::delete_on_close`].
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpenOptions {
    /// DesiredAccess ([`access`]).
    pub desired_access: u32,
    /// FileAttributes for a created file (0 = normal).
    pub file_attributes: u32,
    /// ShareAccess ([`share_access`]).
    pub share_access: u32,
    /// CreateDisposition ([`disposition`]).
    pub disposition: u32,
    /// CreateOptions ([`create_options`]).
    pub create_options: u32,
    /// Durable handle v2: `None` = the client's default.
    pub durable: Option<bool>,
    /// Lease v2 (read+handle for readers, +write for writers): `None` = the client's default.
    pub lease: Option<bool>,
    /// Open the file as it was in a previous version: the snapshot's time as FILETIME,
    /// sent as the TWrp create context ([MS-SMB2] 2.2.13.2.7). `None`: the current file.
    pub snapshot: Option<u64>,
    mode: Mode,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl OpenOptions {
    /// No access asked yet (add [`read`](Self::read), [`write`](Self::write) or
    /// [`append`](Self::append)), open an existing file, others may read and write it.
    pub fn new() -> Self {
        OpenOptions {
            desired_access: access::SYNCHRONIZE,
            file_attributes: 0,
            share_access: share_access::READ | share_access::WRITE,
            disposition: disposition::OPEN,
            create_options: create_options::NON_DIRECTORY_FILE,
            durable: None,
            lease: None,
            snapshot: None,
            mode: Mode::default(),
        }
    }
    fn access_bit(mut self, bit: u32, on: bool) -> Self {
        if on {
            self.desired_access |= bit;
        } else {
            self.desired_access &= !bit;
        }
        self
    }
    fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self.disposition = mode.disposition();
        self
    }
    /// Read access (GENERIC_READ).
    pub fn read(self, on: bool) -> Self {
        self.access_bit(access::GENERIC_READ, on)
    }
    /// Write access (GENERIC_WRITE).
    pub fn write(self, on: bool) -> Self {
        self.access_bit(access::GENERIC_WRITE, on)
    }
    /// Append: FILE_APPEND_DATA access (with FILE_READ_ATTRIBUTES, to learn the size) and the
    /// file's cursor starts at its end. As with std, `append` implies write access; unlike
    /// std, with `write(true)` as well a seek can still move the cursor before the end.
    pub fn append(self, on: bool) -> Self {
        let mut o = self.access_bit(access::FILE_APPEND_DATA | access::FILE_READ_ATTRIBUTES, on);
        o.mode.append = on;
        o
    }
    /// Whether the cursor starts at the end of the file ([`append`](Self::append)).
    pub fn is_append(&self) -> bool {
        self.mode.append
    }
    /// Create the file if it does not exist.
    pub fn create(self, on: bool) -> Self {
        let mode = Mode {
            create: on,
            ..self.mode
        };
        self.with_mode(mode)
    }
    /// Truncate an existing file to 0 bytes.
    pub fn truncate(self, on: bool) -> Self {
        let mode = Mode {
            truncate: on,
            ..self.mode
        };
        self.with_mode(mode)
    }
    /// Create the file, failing if it exists (`create` and `truncate` are then ignored).
    pub fn create_new(self, on: bool) -> Self {
        let mode = Mode {
            create_new: on,
            ..self.mode
        };
        self.with_mode(mode)
    }
    /// What others may do while this handle is open ([`share_access`] bits).
    pub fn share_mode(mut self, share: u32) -> Self {
        self.share_access = share;
        self
    }
    /// Ask (or not) for a durable handle, kept by the server across a reconnect.
    pub fn durable(mut self, on: bool) -> Self {
        self.durable = Some(on);
        self
    }
    /// Ask (or not) for a lease.
    pub fn lease(mut self, on: bool) -> Self {
        self.lease = Some(on);
        self
    }
    /// The attributes of a file this open creates ([`file_attributes`] bits).
    pub fn attributes(mut self, attrs: u32) -> Self {
        self.file_attributes = attrs;
        self
    }

    /// Open or create a file for reading and writing, truncating it.
    pub fn create_truncate() -> Self {
        Self::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
    }
    /// Open or create a file for reading and writing, keeping its content.
    pub fn read_write() -> Self {
        Self::new().read(true).write(true).create(true)
    }
    /// Open a directory for listing.
    pub fn directory() -> Self {
        OpenOptions {
            desired_access: access::FILE_READ_DATA
                | access::FILE_READ_ATTRIBUTES
                | access::SYNCHRONIZE,
            share_access: share_access::ALL,
            create_options: create_options::DIRECTORY_FILE,
            durable: Some(false),
            lease: Some(false),
            ..Self::new()
        }
    }
    /// Open the version of the file in the snapshot taken at `time` (a FILETIME, e.g. from
    /// [`gmt_token_time`](crate::wire::fsctl_fs::gmt_token_time) of a token
    /// [`snapshots`](crate::driver::ShareOps::snapshots) listed): the TWrp create context
    /// ([MS-SMB2] 2.2.13.2.7). Snapshots are read-only. A path with one
    /// `@GMT-YYYY.MM.DD-HH.MM.SS` element (`docs/@GMT-2026.01.01-00.00.00/f.txt`) does the
    /// same without this option: the element is taken out of the name and sent as TWrp
    /// ([`split_gmt_token`](crate::wire::fsctl_fs::split_gmt_token)); this option wins over
    /// such an element.
    pub fn snapshot(mut self, time: u64) -> Self {
        self.snapshot = Some(time);
        self
    }
    /// Create a directory.
    pub fn mkdir() -> Self {
        OpenOptions {
            disposition: disposition::CREATE,
            mode: Mode {
                create_new: true,
                ..Mode::default()
            },
            ..Self::directory()
        }
    }
    /// Open anything (file or directory) just to read its attributes (stat).
    pub fn metadata_only() -> Self {
        OpenOptions {
            desired_access: access::FILE_READ_ATTRIBUTES | access::SYNCHRONIZE,
            share_access: share_access::ALL,
            create_options: 0,
            durable: Some(false),
            lease: Some(false),
            ..Self::new()
        }
    }
    /// Open for deletion on close.
    pub fn delete_on_close() -> Self {
        OpenOptions {
            desired_access: access::DELETE | access::SYNCHRONIZE,
            share_access: share_access::ALL,
            create_options: create_options::DELETE_ON_CLOSE,
            durable: Some(false),
            lease: Some(false),
            ..Self::new()
        }
    }
    /// Replace the access mask.
    pub fn with_access(mut self, mask: u32) -> Self {
        self.desired_access = mask;
        self
    }
    /// Replace the disposition.
    pub fn with_disposition(mut self, d: u32) -> Self {
        self.disposition = d;
        self
    }
    /// Replace the create options.
    pub fn with_create_options(mut self, o: u32) -> Self {
        self.create_options = o;
        self
    }
    /// Replace the share access.
    pub fn with_share_access(self, s: u32) -> Self {
        self.share_mode(s)
    }
    /// Ask (or not) for a durable handle.
    pub fn with_durable(self, on: bool) -> Self {
        self.durable(on)
    }
    /// Ask (or not) for a lease.
    pub fn with_lease(self, on: bool) -> Self {
        self.lease(on)
    }
}

/// Names of the bits of a mask, `|`-separated; bits without a name in hex; `0` for none.
struct Bits<'a>(u32, &'a [(u32, &'a str)]);

impl fmt::Debug for Bits<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        let mut first = true;
        let mut sep = |f: &mut fmt::Formatter<'_>| {
            let s = if first { "" } else { " | " };
            first = false;
            f.write_str(s)
        };
        for &(bit, name) in self.1 {
            if bit != 0 && rest & bit == bit {
                sep(f)?;
                f.write_str(name)?;
                rest &= !bit;
            }
        }
        if rest != 0 {
            sep(f)?;
            write!(f, "{rest:#x}")?;
        }
        if self.0 == 0 {
            f.write_str("0")?;
        }
        Ok(())
    }
}

const ACCESS_NAMES: &[(u32, &str)] = &[
    (access::GENERIC_READ, "GENERIC_READ"),
    (access::GENERIC_WRITE, "GENERIC_WRITE"),
    (access::GENERIC_ALL, "GENERIC_ALL"),
    (access::MAXIMUM_ALLOWED, "MAXIMUM_ALLOWED"),
    (access::FILE_READ_DATA, "FILE_READ_DATA"),
    (access::FILE_WRITE_DATA, "FILE_WRITE_DATA"),
    (access::FILE_APPEND_DATA, "FILE_APPEND_DATA"),
    (access::FILE_READ_EA, "FILE_READ_EA"),
    (access::FILE_WRITE_EA, "FILE_WRITE_EA"),
    (access::FILE_TRAVERSE, "FILE_TRAVERSE"),
    (access::FILE_READ_ATTRIBUTES, "FILE_READ_ATTRIBUTES"),
    (access::FILE_WRITE_ATTRIBUTES, "FILE_WRITE_ATTRIBUTES"),
    (access::DELETE, "DELETE"),
    (access::READ_CONTROL, "READ_CONTROL"),
    (access::SYNCHRONIZE, "SYNCHRONIZE"),
];

const SHARE_NAMES: &[(u32, &str)] = &[
    (share_access::READ, "READ"),
    (share_access::WRITE, "WRITE"),
    (share_access::DELETE, "DELETE"),
];

const OPTION_NAMES: &[(u32, &str)] = &[
    (create_options::DIRECTORY_FILE, "DIRECTORY_FILE"),
    (create_options::WRITE_THROUGH, "WRITE_THROUGH"),
    (create_options::SEQUENTIAL_ONLY, "SEQUENTIAL_ONLY"),
    (create_options::NON_DIRECTORY_FILE, "NON_DIRECTORY_FILE"),
    (create_options::DELETE_ON_CLOSE, "DELETE_ON_CLOSE"),
    (create_options::OPEN_REPARSE_POINT, "OPEN_REPARSE_POINT"),
];

/// Names of the [`file_attributes`] bits (for `Debug` output).
pub(crate) const ATTRIBUTE_NAMES: &[(u32, &str)] = &[
    (file_attributes::READONLY, "READONLY"),
    (file_attributes::HIDDEN, "HIDDEN"),
    (file_attributes::SYSTEM, "SYSTEM"),
    (file_attributes::DIRECTORY, "DIRECTORY"),
    (file_attributes::ARCHIVE, "ARCHIVE"),
    (file_attributes::NORMAL, "NORMAL"),
    (file_attributes::TEMPORARY, "TEMPORARY"),
];

/// `Debug` of a FILE_ATTRIBUTE_* mask as flag names.
pub(crate) fn attribute_bits(a: u32) -> impl fmt::Debug {
    Bits(a, ATTRIBUTE_NAMES)
}

fn disposition_name(d: u32) -> &'static str {
    match d {
        disposition::SUPERSEDE => "SUPERSEDE",
        disposition::OPEN => "OPEN",
        disposition::CREATE => "CREATE",
        disposition::OPEN_IF => "OPEN_IF",
        disposition::OVERWRITE => "OVERWRITE",
        disposition::OVERWRITE_IF => "OVERWRITE_IF",
        _ => "invalid",
    }
}

struct Tri(Option<bool>);

impl fmt::Debug for Tri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            None => "default",
            Some(true) => "yes",
            Some(false) => "no",
        })
    }
}

impl fmt::Debug for OpenOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("OpenOptions");
        d.field("access", &Bits(self.desired_access, ACCESS_NAMES))
            .field(
                "disposition",
                &format_args!("{}", disposition_name(self.disposition)),
            )
            .field("share", &Bits(self.share_access, SHARE_NAMES))
            .field("create_options", &Bits(self.create_options, OPTION_NAMES))
            .field("attributes", &attribute_bits(self.file_attributes))
            .field("durable", &Tri(self.durable))
            .field("lease", &Tri(self.lease));
        if self.mode.append {
            d.field("append", &true);
        }
        if let Some(t) = self.snapshot {
            d.field("snapshot", &t);
        }
        d.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn std_flags_map_to_dispositions_in_any_order() {
        let d = |o: OpenOptions| o.disposition;
        assert_eq!(d(OpenOptions::new()), disposition::OPEN);
        assert_eq!(d(OpenOptions::new().create(true)), disposition::OPEN_IF);
        assert_eq!(d(OpenOptions::new().truncate(true)), disposition::OVERWRITE);
        assert_eq!(
            d(OpenOptions::new().truncate(true).create(true)),
            disposition::OVERWRITE_IF
        );
        let cn = OpenOptions::new()
            .create_new(true)
            .create(true)
            .truncate(true);
        assert_eq!(d(cn.clone()), disposition::CREATE);
        assert_eq!(d(cn.create_new(false)), disposition::OVERWRITE_IF);
    }

    #[test]
    fn access_bits_and_shortcuts() {
        let rw = OpenOptions::new().read(true).write(true);
        assert_eq!(
            rw.desired_access,
            access::GENERIC_READ | access::GENERIC_WRITE | access::SYNCHRONIZE
        );
        assert_eq!(
            rw.clone().write(false).desired_access,
            access::GENERIC_READ | access::SYNCHRONIZE
        );
        let ct = OpenOptions::create_truncate();
        assert_eq!(ct.disposition, disposition::OVERWRITE_IF);
        assert_eq!(ct.desired_access, rw.desired_access);
        assert_eq!(OpenOptions::read_write().disposition, disposition::OPEN_IF);
        let a = OpenOptions::new().append(true);
        assert!(a.is_append());
        assert_eq!(
            a.desired_access,
            access::FILE_APPEND_DATA | access::FILE_READ_ATTRIBUTES | access::SYNCHRONIZE
        );
        assert!(!a.append(false).is_append());
    }

    #[test]
    fn debug_prints_flag_names() {
        let o = OpenOptions::create_truncate()
            .with_durable(true)
            .share_mode(0);
        assert_eq!(
            format!("{o:?}"),
            "OpenOptions { access: GENERIC_READ | GENERIC_WRITE | SYNCHRONIZE, \
             disposition: OVERWRITE_IF, share: 0, create_options: NON_DIRECTORY_FILE, \
             attributes: 0, durable: yes, lease: default }"
        );
        let odd = OpenOptions::new()
            .with_access(0x8000_0040)
            .with_disposition(9);
        let s = format!("{odd:?}");
        assert!(s.contains("access: GENERIC_READ | 0x40"), "{s}");
        assert!(s.contains("disposition: invalid"), "{s}");
        let ap = format!("{:?}", OpenOptions::new().append(true));
        assert!(ap.ends_with("append: true }"), "{ap}");
        assert_eq!(
            format!(
                "{:?}",
                attribute_bits(file_attributes::READONLY | file_attributes::ARCHIVE)
            ),
            "READONLY | ARCHIVE"
        );
    }
}
