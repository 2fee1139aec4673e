//! What `/proc/TID/status` says of a thread: the one parser of it.

/// The fields of `/proc/TID/status` the supervisor uses.
#[derive(Clone, Debug)]
pub struct ProcStatus {
    /// `Tgid:` (the process the thread belongs to).
    pub tgid: i32,
    /// `Uid:`: real, effective, saved, filesystem.
    pub uids: [u32; 4],
    /// `Gid:`: real, effective, saved, filesystem.
    pub gids: [u32; 4],
    /// `Groups:`.
    pub groups: Vec<u32>,
    /// `Umask:`.
    pub umask: u32,
    /// `SigPnd:`, `ShdPnd:` (pending for the thread, for the process).
    pending: u64,
    /// `SigBlk:`.
    blocked: u64,
}

impl ProcStatus {
    /// Read it; `None` once the thread is gone.
    pub fn read(tid: i32) -> Option<ProcStatus> {
        let s = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
        let field = |name: &str| {
            s.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(str::trim)
                .unwrap_or("")
        };
        let nums = |name: &str| -> Vec<u32> {
            field(name)
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect()
        };
        let four = |name: &str| -> Option<[u32; 4]> { nums(name).get(..4)?.try_into().ok() };
        let mask = |name: &str| u64::from_str_radix(field(name), 16).unwrap_or(0);
        Some(ProcStatus {
            tgid: field("Tgid:").parse().ok()?,
            uids: four("Uid:")?,
            gids: four("Gid:")?,
            groups: nums("Groups:"),
            umask: u32::from_str_radix(field("Umask:"), 8).unwrap_or(0o022),
            pending: mask("SigPnd:") | mask("ShdPnd:"),
            blocked: mask("SigBlk:"),
        })
    }

    /// Whether a signal is pending that the thread does not block.
    pub fn signal_pending(&self) -> bool {
        self.pending & !self.blocked != 0
    }
}
