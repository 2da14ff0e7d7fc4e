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
    // Added for the info/directory family and common client paths. Values checked against
    // [MS-ERREF] 2.3.1 (via the Linux kernel's smb2status.h, which transcribes it).
    TIMEOUT = 0x0000_0102, "The wait timed out";
    REPARSE = 0x0000_0104, "The path contains a reparse point that must be followed";
    MORE_ENTRIES = 0x0000_0105, "More entries are available";
    OPLOCK_BREAK_IN_PROGRESS = 0x0000_0108, "An oplock break is in progress";
    NO_MORE_EAS = 0x8000_0012, "No more extended attributes";
    INVALID_EA_NAME = 0x8000_0013, "Invalid extended attribute name";
    EA_LIST_INCONSISTENT = 0x8000_0014, "The extended attribute list is inconsistent";
    INVALID_EA_FLAG = 0x8000_0015, "Invalid extended attribute flag";
    NO_MORE_ENTRIES = 0x8000_001A, "No more entries";
    WRONG_VOLUME = 0xC000_0012, "Wrong volume";
    NO_MEDIA_IN_DEVICE = 0xC000_0013, "No media in the device";
    INVALID_LOCK_SEQUENCE = 0xC000_001E, "Invalid lock sequence";
    INVALID_VIEW_SIZE = 0xC000_001F, "Invalid view size";
    ALREADY_COMMITTED = 0xC000_0021, "The range is already committed";
    NOT_LOCKED = 0xC000_002A, "The range is not locked";
    INVALID_PARAMETER_MIX = 0xC000_0030, "Invalid combination of parameters";
    DISK_CORRUPT_ERROR = 0xC000_0032, "The disk structure is corrupt";
    PORT_DISCONNECTED = 0xC000_0037, "The port is disconnected";
    DATA_ERROR = 0xC000_003E, "Data error reading or writing";
    CRC_ERROR = 0xC000_003F, "CRC error";
    QUOTA_EXCEEDED = 0xC000_0044, "Quota exceeded";
    EA_TOO_LARGE = 0xC000_0050, "The extended attributes are too large";
    NONEXISTENT_EA_ENTRY = 0xC000_0051, "The extended attribute does not exist";
    NO_EAS_ON_FILE = 0xC000_0052, "The file has no extended attributes";
    EA_CORRUPT_ERROR = 0xC000_0053, "The extended attributes are corrupt";
    CTL_FILE_NOT_SUPPORTED = 0xC000_0057, "The control request is not supported";
    UNKNOWN_REVISION = 0xC000_0058, "Unknown revision";
    REVISION_MISMATCH = 0xC000_0059, "Revision mismatch";
    INVALID_OWNER = 0xC000_005A, "The owner cannot be assigned";
    INVALID_PRIMARY_GROUP = 0xC000_005B, "The primary group cannot be assigned";
    NO_IMPERSONATION_TOKEN = 0xC000_005C, "No impersonation token";
    NO_LOGON_SERVERS = 0xC000_005E, "No logon servers are available";
    NO_SUCH_LOGON_SESSION = 0xC000_005F, "No such logon session";
    NO_SUCH_PRIVILEGE = 0xC000_0060, "No such privilege";
    INVALID_ACCOUNT_NAME = 0xC000_0062, "Invalid account name";
    USER_EXISTS = 0xC000_0063, "The user already exists";
    PASSWORD_RESTRICTION = 0xC000_006C, "The password does not meet the policy";
    INVALID_WORKSTATION = 0xC000_0070, "Logon not allowed from this workstation";
    NONE_MAPPED = 0xC000_0073, "None of the names could be mapped";
    INVALID_ACL = 0xC000_0077, "Invalid access control list";
    INVALID_SID = 0xC000_0078, "Invalid security identifier";
    INVALID_SECURITY_DESCR = 0xC000_0079, "Invalid security descriptor";
    NO_TOKEN = 0xC000_007C, "No token";
    FILE_INVALID = 0xC000_0098, "The file is no longer valid (volume changed)";
    ALLOTTED_SPACE_EXCEEDED = 0xC000_0099, "Allotted space exceeded";
    DFS_EXIT_PATH_FOUND = 0xC000_009B, "DFS exit path found";
    DEVICE_DATA_ERROR = 0xC000_009C, "Device data error";
    DEVICE_NOT_CONNECTED = 0xC000_009D, "The device is not connected";
    MEDIA_WRITE_PROTECTED = 0xC000_00A2, "The media is write protected";
    DEVICE_NOT_READY = 0xC000_00A3, "The device is not ready";
    BAD_IMPERSONATION_LEVEL = 0xC000_00A5, "Bad impersonation level";
    CANT_OPEN_ANONYMOUS = 0xC000_00A6, "Anonymous cannot open this";
    INSTANCE_NOT_AVAILABLE = 0xC000_00AB, "No pipe instance is available";
    PIPE_NOT_AVAILABLE = 0xC000_00AC, "The pipe is not available";
    INVALID_PIPE_STATE = 0xC000_00AD, "Invalid pipe state";
    PIPE_BUSY = 0xC000_00AE, "The pipe is busy";
    ILLEGAL_FUNCTION = 0xC000_00AF, "Illegal function";
    PIPE_DISCONNECTED = 0xC000_00B0, "The pipe is disconnected";
    PIPE_CLOSING = 0xC000_00B1, "The pipe is closing";
    PIPE_CONNECTED = 0xC000_00B2, "The pipe is connected";
    PIPE_LISTENING = 0xC000_00B3, "The pipe is listening";
    INVALID_READ_MODE = 0xC000_00B4, "Invalid pipe read mode";
    FILE_FORCED_CLOSED = 0xC000_00B6, "The file was forcibly closed";
    REMOTE_NOT_LISTENING = 0xC000_00BC, "The remote computer is not listening";
    DUPLICATE_NAME = 0xC000_00BD, "Duplicate name on the network";
    BAD_NETWORK_PATH = 0xC000_00BE, "The network path was not found";
    NETWORK_BUSY = 0xC000_00BF, "The network is busy";
    DEVICE_DOES_NOT_EXIST = 0xC000_00C0, "The device does not exist";
    TOO_MANY_COMMANDS = 0xC000_00C1, "Too many commands";
    ADAPTER_HARDWARE_ERROR = 0xC000_00C2, "Network adapter hardware error";
    UNEXPECTED_NETWORK_ERROR = 0xC000_00C4, "Unexpected network error";
    BAD_REMOTE_ADAPTER = 0xC000_00C5, "Bad remote adapter";
    PRINT_QUEUE_FULL = 0xC000_00C6, "The print queue is full";
    NO_SPOOL_SPACE = 0xC000_00C7, "No spool space";
    PRINT_CANCELLED = 0xC000_00C8, "The print job was cancelled";
    NETWORK_ACCESS_DENIED = 0xC000_00CA, "Network access is denied";
    BAD_DEVICE_TYPE = 0xC000_00CB, "Bad device type for this share";
    TOO_MANY_NAMES = 0xC000_00CD, "Too many names";
    TOO_MANY_SESSIONS = 0xC000_00CE, "Too many sessions";
    SHARING_PAUSED = 0xC000_00CF, "Sharing is paused on the server";
    REDIRECTOR_PAUSED = 0xC000_00D1, "The redirector is paused";
    NET_WRITE_FAULT = 0xC000_00D2, "Network write fault";
    VIRTUAL_CIRCUIT_CLOSED = 0xC000_00D6, "The virtual circuit was closed";
    NO_SECURITY_ON_OBJECT = 0xC000_00D7, "The object has no security";
    CANT_WAIT = 0xC000_00D8, "The operation would block";
    PIPE_EMPTY = 0xC000_00D9, "The pipe is empty";
    INVALID_SERVER_STATE = 0xC000_00DC, "Invalid server state";
    INVALID_DOMAIN_STATE = 0xC000_00DD, "Invalid domain state";
    INVALID_DOMAIN_ROLE = 0xC000_00DE, "Invalid domain role";
    NO_SUCH_DOMAIN = 0xC000_00DF, "No such domain";
    OPLOCK_NOT_GRANTED = 0xC000_00E2, "The oplock was not granted";
    INVALID_OPLOCK_PROTOCOL = 0xC000_00E3, "Invalid oplock protocol";
    INTERNAL_ERROR = 0xC000_00E5, "Internal error";
    BAD_DESCRIPTOR_FORMAT = 0xC000_00E7, "Bad descriptor format";
    INVALID_USER_BUFFER = 0xC000_00E8, "Invalid user buffer";
    UNEXPECTED_IO_ERROR = 0xC000_00E9, "Unexpected I/O error";
    FILE_CORRUPT_ERROR = 0xC000_0102, "The file is corrupt";
    NAME_TOO_LONG = 0xC000_0106, "The name is too long";
    FILES_OPEN = 0xC000_0107, "Files are open";
    CONNECTION_IN_USE = 0xC000_0108, "The connection is in use";
    CANNOT_IMPERSONATE = 0xC000_010D, "Cannot impersonate";
    CANNOT_DELETE = 0xC000_0121, "The file cannot be deleted";
    INVALID_COMPUTER_NAME = 0xC000_0122, "Invalid computer name";
    FILE_DELETED = 0xC000_0123, "The file was deleted";
    TIME_DIFFERENCE_AT_DC = 0xC000_0133, "Clock skew with the domain controller";
    LOCAL_DISCONNECT = 0xC000_013B, "Local disconnect";
    REMOTE_DISCONNECT = 0xC000_013C, "The remote side disconnected";
    REMOTE_RESOURCES = 0xC000_013D, "The remote side ran out of resources";
    LINK_FAILED = 0xC000_013E, "The link failed";
    LINK_TIMEOUT = 0xC000_013F, "The link timed out";
    INVALID_CONNECTION = 0xC000_0140, "Invalid connection";
    INVALID_ADDRESS = 0xC000_0141, "Invalid address";
    INVALID_LEVEL = 0xC000_0148, "Invalid information level";
    PIPE_BROKEN = 0xC000_014B, "The pipe is broken";
    LOGON_TYPE_NOT_GRANTED = 0xC000_015B, "The logon type is not granted";
    ILLEGAL_CHARACTER = 0xC000_0161, "Illegal character";
    UNMAPPABLE_CHARACTER = 0xC000_0162, "Unmappable character";
    NO_TRUST_SAM_ACCOUNT = 0xC000_018B, "No trust account for this computer";
    TRUSTED_DOMAIN_FAILURE = 0xC000_018C, "Trusted domain failure";
    TRUSTED_RELATIONSHIP_FAILURE = 0xC000_018D, "Trust relationship failure";
    ACCOUNT_EXPIRED = 0xC000_0193, "The account has expired";
    NETWORK_CREDENTIAL_CONFLICT = 0xC000_0195, "Conflicting credentials for this server";
    REMOTE_SESSION_LIMIT = 0xC000_0196, "Remote session limit reached";
    NOLOGON_WORKSTATION_TRUST_ACCOUNT = 0xC000_0199, "Workstation trust account cannot log on";
    INVALID_LOCK_RANGE = 0xC000_01A1, "Invalid lock range";
    NETWORK_OPEN_RESTRICTION = 0xC000_0201, "Network open restriction";
    NO_USER_SESSION_KEY = 0xC000_0202, "No user session key";
    INSUFF_SERVER_RESOURCES = 0xC000_0205, "Insufficient server resources";
    INVALID_BUFFER_SIZE = 0xC000_0206, "Invalid buffer size";
    ADDRESS_CLOSED = 0xC000_020B, "The address was closed";
    TRANSACTION_ABORTED = 0xC000_020F, "The transaction was aborted";
    TRANSACTION_TIMED_OUT = 0xC000_0210, "The transaction timed out";
    PASSWORD_MUST_CHANGE = 0xC000_0224, "The password must be changed";
    DUPLICATE_OBJECTID = 0xC000_022A, "Duplicate object id";
    OBJECTID_EXISTS = 0xC000_022B, "The object id already exists";
    RETRY = 0xC000_022D, "Retry the operation";
    ACCOUNT_LOCKED_OUT = 0xC000_0234, "The account is locked out";
    HANDLE_NOT_CLOSABLE = 0xC000_0235, "The handle cannot be closed";
    CONNECTION_REFUSED = 0xC000_0236, "The connection was refused";
    GRACEFUL_DISCONNECT = 0xC000_0237, "The connection was closed gracefully";
    CONNECTION_INVALID = 0xC000_023A, "Invalid connection";
    CONNECTION_ACTIVE = 0xC000_023B, "The connection is already active";
    NETWORK_UNREACHABLE = 0xC000_023C, "The network is unreachable";
    HOST_UNREACHABLE = 0xC000_023D, "The host is unreachable";
    PROTOCOL_UNREACHABLE = 0xC000_023E, "The protocol is unreachable";
    PORT_UNREACHABLE = 0xC000_023F, "The port is unreachable";
    REQUEST_ABORTED = 0xC000_0240, "The request was aborted";
    CONNECTION_ABORTED = 0xC000_0241, "The connection was aborted";
    BAD_COMPRESSION_BUFFER = 0xC000_0242, "Bad compression buffer";
    CONNECTION_COUNT_LIMIT = 0xC000_0246, "Connection count limit reached";
    LOGIN_TIME_RESTRICTION = 0xC000_0247, "Logon not allowed at this time";
    LOGIN_WKSTA_RESTRICTION = 0xC000_0248, "Logon not allowed from this workstation";
    LICENSE_QUOTA_EXCEEDED = 0xC000_0259, "License quota exceeded";
    UNSUPPORTED_COMPRESSION = 0xC000_025F, "Unsupported compression";
    TOO_MANY_LINKS = 0xC000_0265, "Too many links";
    QUOTA_LIST_INCONSISTENT = 0xC000_0266, "The quota list is inconsistent";
    FILE_IS_OFFLINE = 0xC000_0267, "The file is offline";
    DFS_UNAVAILABLE = 0xC000_026D, "DFS is unavailable";
    VOLUME_DISMOUNTED = 0xC000_026E, "The volume was dismounted";
    NOT_A_REPARSE_POINT = 0xC000_0275, "Not a reparse point";
    IO_REPARSE_TAG_INVALID = 0xC000_0276, "Invalid reparse tag";
    IO_REPARSE_TAG_MISMATCH = 0xC000_0277, "Reparse tag mismatch";
    IO_REPARSE_DATA_INVALID = 0xC000_0278, "Invalid reparse data";
    IO_REPARSE_TAG_NOT_HANDLED = 0xC000_0279, "The reparse tag is not handled";
    REPARSE_POINT_NOT_RESOLVED = 0xC000_0280, "The reparse point could not be resolved";
    DIRECTORY_IS_A_REPARSE_POINT = 0xC000_0281, "The directory is a reparse point";
    ENCRYPTION_FAILED = 0xC000_028A, "Encryption failed";
    DECRYPTION_FAILED = 0xC000_028B, "Decryption failed";
    RANGE_NOT_FOUND = 0xC000_028C, "Range not found";
    FILE_NOT_ENCRYPTED = 0xC000_0291, "The file is not encrypted";
    FILE_ENCRYPTED = 0xC000_0293, "The file is encrypted";
    DEVICE_REMOVED = 0xC000_02B6, "The device was removed";
    MUTUAL_AUTHENTICATION_FAILED = 0xC000_02C3, "Mutual authentication failed";
    CANNOT_MAKE = 0xC000_02EA, "The file or directory cannot be created";
    OBJECTID_NOT_FOUND = 0xC000_02F0, "Object id not found";
    KDC_UNKNOWN_ETYPE = 0xC000_02FD, "The KDC does not support the encryption type";
    SHUTDOWN_IN_PROGRESS = 0xC000_02FE, "Shutdown in progress";
    SERVER_SHUTDOWN_IN_PROGRESS = 0xC000_02FF, "The server is shutting down";
    HOST_DOWN = 0xC000_0350, "The host is down";
    DOWNGRADE_DETECTED = 0xC000_0388, "A security downgrade was detected";
    FILE_SYSTEM_LIMITATION = 0xC000_0427, "A file system limitation prevents the operation";
    FILE_CHECKED_OUT = 0xC000_0901, "The file is checked out by another user";
    BAD_FILE_TYPE = 0xC000_0903, "The file type is blocked";
    FILE_TOO_LARGE = 0xC000_0904, "The file is too large";
    SMB_NO_PREAUTH_INTEGRITY_HASH_OVERLAP = 0xC05D_0000, "No common pre-authentication integrity hash";
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
        assert_eq!(
            alloc::format!("{}", NtStatus(0xC0FF_EE00)),
            "NTSTATUS 0xc0ffee00"
        );
        assert!(NtStatus::SUCCESS.is_success());
        assert!(NtStatus::BUFFER_OVERFLOW.is_warning());
        assert!(NtStatus::ACCESS_DENIED.is_error());
    }
}
