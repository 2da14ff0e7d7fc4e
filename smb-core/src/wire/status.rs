//! NTSTATUS values ([MS-ERREF] 2.3) with names for the codes an SMB client meets.

use core::fmt;

/// A 32-bit NTSTATUS. Unknown codes are kept as they are and print in hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct NtStatus(pub u32);

macro_rules! statuses {
    ($( $name:ident = $code:expr, $text:expr; )*) => {
        impl NtStatus {
            $(
                #[doc = $text]
                pub const $name: NtStatus = NtStatus($code);
            )*

            /// The symbolic name (`STATUS_...`), if known.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $code => Some(concat!("STATUS_", stringify!($name))), )*
                    _ => None,
                }
            }

            /// A short human description, if known.
            pub fn description(self) -> Option<&'static str> {
                match self.0 {
                    $( $code => Some($text), )*
                    _ => None,
                }
            }
        }
    };
}

statuses! {
    SUCCESS = 0x0000_0000, "The operation completed successfully";
    PENDING = 0x0000_0103, "The operation is still in progress";
    NOTIFY_ENUM_DIR = 0x0000_010C, "Too many changes to report; enumerate the directory";
    BUFFER_OVERFLOW = 0x8000_0005, "The data was too large for the buffer and was truncated";
    NO_MORE_FILES = 0x8000_0006, "No more files in the directory";
    STOPPED_ON_SYMLINK = 0x8000_002D, "The path contains a symbolic link";
    UNSUCCESSFUL = 0xC000_0001, "The operation failed";
    NOT_IMPLEMENTED = 0xC000_0002, "The server does not implement this operation";
    INVALID_INFO_CLASS = 0xC000_0003, "Invalid information class";
    INFO_LENGTH_MISMATCH = 0xC000_0004, "Information length mismatch";
    INVALID_HANDLE = 0xC000_0008, "Invalid file handle";
    INVALID_PARAMETER = 0xC000_000D, "Invalid parameter";
    NO_SUCH_DEVICE = 0xC000_000E, "No such device";
    NO_SUCH_FILE = 0xC000_000F, "No such file";
    INVALID_DEVICE_REQUEST = 0xC000_0010, "Invalid device request";
    END_OF_FILE = 0xC000_0011, "End of file";
    MORE_PROCESSING_REQUIRED = 0xC000_0016, "More processing is required (authentication continues)";
    NO_MEMORY = 0xC000_0017, "The server is out of memory";
    ACCESS_DENIED = 0xC000_0022, "Access denied";
    BUFFER_TOO_SMALL = 0xC000_0023, "The buffer is too small";
    OBJECT_TYPE_MISMATCH = 0xC000_0024, "Object type mismatch";
    OBJECT_NAME_INVALID = 0xC000_0033, "Invalid file name";
    OBJECT_NAME_NOT_FOUND = 0xC000_0034, "The file does not exist";
    OBJECT_NAME_COLLISION = 0xC000_0035, "The file already exists";
    OBJECT_PATH_INVALID = 0xC000_0039, "Invalid path";
    OBJECT_PATH_NOT_FOUND = 0xC000_003A, "The path does not exist";
    OBJECT_PATH_SYNTAX_BAD = 0xC000_003B, "Bad path syntax";
    SHARING_VIOLATION = 0xC000_0043, "The file is in use (sharing violation)";
    DELETE_PENDING = 0xC000_0056, "The file is being deleted";
    PRIVILEGE_NOT_HELD = 0xC000_0061, "A required privilege is not held";
    LOGON_FAILURE = 0xC000_006D, "Logon failure: unknown user name or bad password";
    ACCOUNT_RESTRICTION = 0xC000_006E, "Account restriction";
    INVALID_LOGON_HOURS = 0xC000_006F, "Logon not allowed at this time";
    PASSWORD_EXPIRED = 0xC000_0071, "The password has expired";
    ACCOUNT_DISABLED = 0xC000_0072, "The account is disabled";
    RANGE_NOT_LOCKED = 0xC000_007E, "The range is not locked";
    DISK_FULL = 0xC000_007F, "The disk is full";
    INSUFFICIENT_RESOURCES = 0xC000_009A, "Insufficient server resources";
    FILE_IS_A_DIRECTORY = 0xC000_00BA, "The file is a directory";
    NOT_SUPPORTED = 0xC000_00BB, "The request is not supported";
    NETWORK_NAME_DELETED = 0xC000_00C9, "The network name was deleted";
    BAD_NETWORK_NAME = 0xC000_00CC, "The share does not exist";
    REQUEST_NOT_ACCEPTED = 0xC000_00D0, "The server accepts no more connections";
    NOT_SAME_DEVICE = 0xC000_00D4, "Not the same device";
    FILE_RENAMED = 0xC000_00D5, "The file was renamed";
    DIRECTORY_NOT_EMPTY = 0xC000_0101, "The directory is not empty";
    NOT_A_DIRECTORY = 0xC000_0103, "Not a directory";
    CANCELLED = 0xC000_0120, "The operation was cancelled";
    FILE_CLOSED = 0xC000_0128, "The file was closed";
    USER_SESSION_DELETED = 0xC000_0203, "The session was deleted";
    NETWORK_SESSION_EXPIRED = 0xC000_035C, "The session expired";
    CONNECTION_DISCONNECTED = 0xC000_020C, "The connection was disconnected";
    CONNECTION_RESET = 0xC000_020D, "The connection was reset";
    NOT_FOUND = 0xC000_0225, "Not found";
    IO_TIMEOUT = 0xC000_00B5, "The operation timed out";
    INVALID_NETWORK_RESPONSE = 0xC000_00C3, "Invalid network response";
    FILE_LOCK_CONFLICT = 0xC000_0054, "A lock conflicts with this range";
    LOCK_NOT_GRANTED = 0xC000_0055, "The lock was not granted";
    EAS_NOT_SUPPORTED = 0xC000_004F, "Extended attributes are not supported";
    OBJECT_NAME_EXISTS = 0x4000_0000, "The object name already exists";
    NOTIFY_CLEANUP = 0x0000_010B, "The handle was closed while a notify was pending";
    INVALID_DEVICE_STATE = 0xC000_0184, "Invalid device state";
    SMB_BAD_CLUSTER_DIALECT = 0xC05D_0001, "The session cannot bind: wrong dialect";
    SERVER_UNAVAILABLE = 0xC000_0466, "The file server is temporarily unavailable";
    PATH_NOT_COVERED = 0xC000_0257, "The path is not covered by this server (DFS)";
    FS_DRIVER_REQUIRED = 0xC000_019C, "A file system driver is required";
    USER_MAPPED_FILE = 0xC000_0243, "The file is mapped by a user";
    WRONG_PASSWORD = 0xC000_006A, "Wrong password";
    NO_SUCH_USER = 0xC000_0064, "No such user";
    INVALID_SIGNATURE = 0xC000_A000, "The signature is invalid";
    TOO_MANY_OPENED_FILES = 0xC000_011F, "Too many files are open";
    FILE_NOT_AVAILABLE = 0xC000_0467, "The file is temporarily unavailable";
}

impl NtStatus {
    /// Severity: success or informational (`0x0xxxxxxx`, `0x4xxxxxxx`).
    pub fn is_success(self) -> bool {
        self.0 >> 30 <= 1
    }
    /// Severity: warning (`0x8xxxxxxx`), e.g. BUFFER_OVERFLOW; the response still has a body.
    pub fn is_warning(self) -> bool {
        self.0 >> 30 == 2
    }
    /// Severity: error (`0xCxxxxxxx`).
    pub fn is_error(self) -> bool {
        self.0 >> 30 == 3
    }
}

impl fmt::Debug for NtStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n}({:#010x})", self.0),
            None => write!(f, "NtStatus({:#010x})", self.0),
        }
    }
}

impl fmt::Display for NtStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.name(), self.description()) {
            (Some(n), Some(d)) => write!(f, "{d} ({n}, {:#010x})", self.0),
            _ => write!(f, "NTSTATUS {:#010x}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_severity() {
        assert_eq!(NtStatus::LOGON_FAILURE.name(), Some("STATUS_LOGON_FAILURE"));
        assert_eq!(
            alloc::format!("{}", NtStatus::BAD_NETWORK_NAME),
            "The share does not exist (STATUS_BAD_NETWORK_NAME, 0xc00000cc)"
        );
        assert_eq!(alloc::format!("{}", NtStatus(0xC0FF_EE00)), "NTSTATUS 0xc0ffee00");
        assert!(NtStatus::SUCCESS.is_success());
        assert!(NtStatus::BUFFER_OVERFLOW.is_warning());
        assert!(NtStatus::ACCESS_DENIED.is_error());
    }
}
