//! Time as a value: the caller supplies every instant; the engine never reads a clock.

use core::ops::{Add, Sub};

/// A point in time, in nanoseconds since an arbitrary epoch chosen by the caller (the adapter's
/// monotonic clock start, or zero in a simulation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

/// A span of time in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(u64);

impl Instant {
    /// The instant `nanos` nanoseconds after the caller's epoch.
    pub const fn from_nanos(nanos: u64) -> Self {
        Instant(nanos)
    }
    /// Nanoseconds since the caller's epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// The instant `elapsed` after the caller's epoch (an adapter passes
    /// `epoch.elapsed()` of its own monotonic clock).
    pub fn from_elapsed(elapsed: core::time::Duration) -> Self {
        Instant(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX))
    }
    /// Time since the caller's epoch (an adapter adds it to its epoch to get a deadline in
    /// its own clock).
    pub const fn since_epoch(self) -> core::time::Duration {
        core::time::Duration::from_nanos(self.0)
    }
    /// Time from `earlier` to `self`, or zero if `earlier` is later.
    pub const fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration(self.0.saturating_sub(earlier.0))
    }
}

impl Duration {
    /// Zero length.
    pub const ZERO: Duration = Duration(0);
    /// From nanoseconds.
    pub const fn from_nanos(n: u64) -> Self {
        Duration(n)
    }
    /// From milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Duration(ms.saturating_mul(1_000_000))
    }
    /// From seconds.
    pub const fn from_secs(s: u64) -> Self {
        Duration(s.saturating_mul(1_000_000_000))
    }
    /// Length in nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// Length in whole milliseconds.
    pub const fn as_millis(self) -> u64 {
        self.0 / 1_000_000
    }
    /// Twice as long, saturating (used by backoff).
    pub const fn doubled(self) -> Self {
        Duration(self.0.saturating_mul(2))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d.0))
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, other: Instant) -> Duration {
        self.saturating_duration_since(other)
    }
}

impl From<core::time::Duration> for Duration {
    fn from(d: core::time::Duration) -> Self {
        Duration(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }
}

impl From<Duration> for core::time::Duration {
    fn from(d: Duration) -> Self {
        core::time::Duration::from_nanos(d.0)
    }
}

/// Wall-clock time as a Windows FILETIME (100 ns ticks since 1601-01-01 UTC). NTLMv2 needs it;
/// the caller supplies it like every other time value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct FileTime(pub u64);

impl FileTime {
    /// Ticks between 1601-01-01 and 1970-01-01.
    pub const UNIX_EPOCH_TICKS: u64 = 116_444_736_000_000_000;
    /// From nanoseconds since the Unix epoch.
    pub const fn from_unix_nanos(nanos: u64) -> Self {
        FileTime(Self::UNIX_EPOCH_TICKS + nanos / 100)
    }
    /// From the time since the Unix epoch (e.g. `SystemTime::duration_since(UNIX_EPOCH)`).
    pub fn from_unix_duration(since_unix_epoch: core::time::Duration) -> Self {
        Self::from_unix_nanos(u64::try_from(since_unix_epoch.as_nanos()).unwrap_or(u64::MAX))
    }
    /// Time since the Unix epoch (zero for times before 1970).
    pub const fn to_unix_duration(self) -> core::time::Duration {
        core::time::Duration::from_nanos(self.to_unix_nanos())
    }
    /// Nanoseconds since the Unix epoch (zero for times before 1970).
    pub const fn to_unix_nanos(self) -> u64 {
        self.0
            .saturating_sub(Self::UNIX_EPOCH_TICKS)
            .saturating_mul(100)
    }
}

/// FILETIME values as [MS-FSCC] uses them ([MS-FSCC] 2.1.1, [MS-DTYP] 2.3.3): the raw 64-bit
/// count of 100 ns ticks since 1601-01-01 UTC, defined here.
///
/// In SET_INFO with [`FileBasicInformation`](crate::wire::fscc::FileBasicInformation) some raw values are not times ([MS-FSCC] 2.4.7):
/// [`FileTime::DONT_CHANGE`] (0) leaves the time unchanged, [`FileTime::DISABLE_UPDATES`]
/// (-1, all bits set) leaves it unchanged *and* stops the server from updating it for the
/// rest of this open, [`FileTime::ENABLE_UPDATES`] (-2) re-enables automatic updates.
impl FileTime {
    /// 0: "no time" in query results; "don't change" in SET_INFO.
    pub const DONT_CHANGE: FileTime = FileTime(0);
    /// -1: in SET_INFO, don't change and suspend automatic updates for this handle.
    pub const DISABLE_UPDATES: FileTime = FileTime(u64::MAX);
    /// -2: in SET_INFO, resume automatic updates for this handle.
    pub const ENABLE_UPDATES: FileTime = FileTime(u64::MAX - 1);

    /// Seconds and nanoseconds since the Unix epoch (negative seconds for earlier times).
    /// The special SET_INFO values are not times: callers check them first.
    pub fn to_unix(self) -> (i64, u32) {
        let v = self.0 as i128 - Self::UNIX_EPOCH_TICKS as i128;
        let secs = v.div_euclid(10_000_000);
        let nanos = (v.rem_euclid(10_000_000) * 100) as u32;
        (secs as i64, nanos)
    }

    /// The FILETIME for `secs` seconds and `nanos` nanoseconds since the Unix epoch, with
    /// 100 ns precision (saturating at the ends of the range).
    pub fn from_unix(secs: i64, nanos: u32) -> FileTime {
        let v = i128::from(secs) * 10_000_000
            + i128::from(nanos / 100)
            + i128::from(Self::UNIX_EPOCH_TICKS);
        FileTime(v.clamp(0, i128::from(u64::MAX)) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filetime_unix_conversion() {
        assert_eq!(FileTime(FileTime::UNIX_EPOCH_TICKS).to_unix(), (0, 0));
        let t = FileTime::from_unix(1_700_000_000, 123_456_700);
        assert_eq!(t.to_unix(), (1_700_000_000, 123_456_700));
        assert_eq!(FileTime(0).to_unix().0, -11_644_473_600);
        assert_eq!(FileTime::from_unix(i64::MIN, 0), FileTime(0));
    }

    #[test]
    fn elapsed_and_unix_durations_round_trip() {
        let d = core::time::Duration::new(12, 345_678_901);
        assert_eq!(Instant::from_elapsed(d).since_epoch(), d);
        assert_eq!(
            Instant::from_elapsed(core::time::Duration::MAX).as_nanos(),
            u64::MAX
        );
        // 2023-11-14 22:13:20 UTC; FILETIME counts 100 ns ticks, so sub-tick nanoseconds drop.
        let unix = core::time::Duration::new(1_700_000_000, 123_456_700);
        let ft = FileTime::from_unix_duration(unix);
        assert_eq!(ft.0, FileTime::UNIX_EPOCH_TICKS + 17_000_000_001_234_567);
        assert_eq!(ft.to_unix_duration(), unix);
        assert_eq!(FileTime(0).to_unix_duration(), core::time::Duration::ZERO);
    }
}
