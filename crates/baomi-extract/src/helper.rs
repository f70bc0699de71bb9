//! The one way extraction runs an outside program (poppler's `pdftotext` and `pdftoppm`
//! today; anything added later goes through here too). Formats never spawn a
//! [`std::process::Command`] themselves.
//!
//! Every helper runs
//! - under a memory limit: `RLIMIT_DATA` (private writable memory: heap, anonymous `mmap`)
//!   at [`HelperLimits::memory`], and `RLIMIT_AS` (address space) at the same figure plus
//!   [`ADDRESS_SPACE_SLACK`] for shared libraries and reserved-but-unused arenas, as a
//!   backstop for allocators that do not count against `RLIMIT_DATA`;
//! - under a CPU-time limit (`RLIMIT_CPU`, soft at [`HelperLimits::cpu`], hard one second
//!   later), and a wall-time limit enforced here;
//! - in its own process group, killed as a group (`killpg`, `SIGKILL`) on a wall timeout,
//!   when its output passes [`HelperLimits::max_output`], or when the caller gives up (the
//!   guard's `Drop`), so a grandchild cannot outlive it;
//! - with stdin closed, stdout collected up to [`HelperLimits::max_output`] and stderr kept
//!   up to [`STDERR_KEEP`] bytes (the rest is drained and dropped).
//!
//! How a death is told apart: the child is reaped with `wait4`, which also gives its CPU
//! time. A helper that dies by `SIGXCPU`, or by `SIGKILL` after using its CPU allowance,
//! hit the CPU limit. A helper that fails (non-zero exit or any signal) and either said so
//! on stderr (poppler's `gmem` prints `Out of memory` and aborts; C++ code throws
//! `std::bad_alloc`; glibc says `Cannot allocate memory`) or was seen, while it ran, with
//! half of its memory limit in use hit the memory limit. Anything else is a plain failure.
//! The memory in use is sampled from `/proc/PID/status` (`VmData`, `VmHWM`) at every poll,
//! once the child runs the helper's program: `wait4`'s `ru_maxrss` cannot be used, because
//! a forked child starts with its parent's resident pages counted, so a crash of a helper
//! forked from a 300 MB gateway would look like a 300 MB helper.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Address space allowed above the memory limit: a poppler tool maps ~60 MB of shared
/// libraries and glibc reserves 64 MB arenas per thread that count as address space only.
pub const ADDRESS_SPACE_SLACK: u64 = 256 << 20;

/// Bytes of a helper's stderr kept for the error message and the out-of-memory check.
pub const STDERR_KEEP: usize = 8 << 10;

/// What one helper run may use.
#[derive(Debug, Clone, Copy)]
pub struct HelperLimits {
    /// Memory (`RLIMIT_DATA`; `RLIMIT_AS` is this plus [`ADDRESS_SPACE_SLACK`]).
    pub memory: u64,
    /// CPU time (`RLIMIT_CPU`), rounded up to whole seconds.
    pub cpu: Duration,
    /// Wall time, after which the process group is killed.
    pub wall: Duration,
    /// Bytes of stdout collected; beyond this the group is killed.
    pub max_output: u64,
}

/// Why a helper gave no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelperError {
    /// The program could not be started (not installed, not executable).
    Spawn { helper: String, error: String },
    /// The helper hit its memory limit.
    Memory { helper: String, limit: u64 },
    /// The helper hit its CPU-time limit.
    Cpu { helper: String, limit: Duration },
    /// The helper ran past its wall-time limit and was killed.
    Wall { helper: String, limit: Duration },
    /// The helper wrote more than its output allowance and was killed.
    Output { helper: String, limit: u64 },
    /// The helper failed for another reason (bad input, a crash).
    Failed {
        helper: String,
        status: String,
        stderr: String,
    },
}

impl HelperError {
    /// A resource limit (memory, CPU, wall time, output) rather than a failure: reported as
    /// a `limit` finding, never as `unreadable`.
    pub fn is_limit(&self) -> bool {
        matches!(
            self,
            HelperError::Memory { .. }
                | HelperError::Cpu { .. }
                | HelperError::Wall { .. }
                | HelperError::Output { .. }
        )
    }
}

impl std::fmt::Display for HelperError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HelperError::Spawn { helper, error } => write!(f, "cannot run {helper}: {error}"),
            HelperError::Memory { helper, limit } => {
                write!(f, "{helper} memory > {}", mb(*limit))
            }
            HelperError::Cpu { helper, limit } => {
                write!(f, "{helper} CPU time > {} s", limit.as_secs())
            }
            HelperError::Wall { helper, limit } => {
                write!(f, "{helper} wall time > {} s", limit.as_secs())
            }
            HelperError::Output { helper, limit } => {
                write!(f, "{helper} output > {}", mb(*limit))
            }
            HelperError::Failed {
                helper,
                status,
                stderr,
            } => {
                let stderr = stderr.trim();
                if stderr.is_empty() {
                    write!(f, "{helper} {status}")
                } else {
                    let first = stderr.lines().next().unwrap_or_default();
                    write!(f, "{helper} {status} ({first})")
                }
            }
        }
    }
}

impl std::error::Error for HelperError {}

/// `512 MB` for whole megabytes (MiB), else bytes.
pub(crate) fn mb(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

/// Run `program` with `args` under `limits`, returning its stdout when it exits with 0.
/// `name` is how findings call it (`pdftotext`).
pub fn run(
    name: &str,
    program: &str,
    args: &[&std::ffi::OsStr],
    limits: &HelperLimits,
) -> Result<Vec<u8>, HelperError> {
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let data = limits.memory;
    let address_space = limits.memory.saturating_add(ADDRESS_SPACE_SLACK);
    let cpu = limits.cpu.as_secs() + u64::from(limits.cpu.subsec_nanos() > 0);
    let cpu = cpu.max(1);
    // SAFETY: the closure runs in the forked child before exec and only calls setrlimit,
    // which is async-signal-safe; it allocates nothing and touches no lock.
    unsafe {
        command.pre_exec(move || {
            let set = |resource, soft: u64, hard: u64| {
                let limit = libc::rlimit {
                    rlim_cur: soft as libc::rlim_t,
                    rlim_max: hard as libc::rlim_t,
                };
                if libc::setrlimit(resource, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            };
            set(libc::RLIMIT_DATA, data, data)?;
            set(libc::RLIMIT_AS, address_space, address_space)?;
            set(libc::RLIMIT_CPU, cpu, cpu + 1)?;
            // A crashing helper must not write a core file of hundreds of megabytes.
            set(libc::RLIMIT_CORE, 0, 0)?;
            Ok(())
        });
    }
    let mut child = command.spawn().map_err(|e| HelperError::Spawn {
        helper: name.to_owned(),
        error: e.to_string(),
    })?;
    let pid = child.id() as libc::pid_t;
    // From here on the group dies with us, whatever happens.
    let mut group = Group { pid, reaped: false };

    let overflow = Arc::new(AtomicBool::new(false));
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let max_output = limits.max_output;
    let flag = Arc::clone(&overflow);
    // Read on threads so a full pipe cannot block the child while we wait for it.
    let out_reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        if let Some(mut stdout) = stdout {
            let mut chunk = vec![0u8; 64 << 10];
            loop {
                match stdout.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if out.len() as u64 + n as u64 > max_output {
                            flag.store(true, Ordering::SeqCst);
                            break;
                        }
                        out.extend_from_slice(&chunk[..n]);
                    }
                }
            }
        }
        out
    });
    let err_reader = std::thread::spawn(move || {
        let mut kept = Vec::new();
        if let Some(mut stderr) = stderr {
            let mut chunk = [0u8; 4096];
            loop {
                match stderr.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let room = STDERR_KEEP.saturating_sub(kept.len());
                        kept.extend_from_slice(&chunk[..n.min(room)]);
                    }
                }
            }
        }
        kept
    });

    let start = Instant::now();
    let mut peak = 0u64;
    let mut killed_for: Option<HelperError> = None;
    let (status, usage) = loop {
        if let Some(seen) = memory_in_use(pid, program) {
            peak = peak.max(seen);
        }
        if let Some(done) = group.try_reap() {
            break done;
        }
        if killed_for.is_none() {
            if overflow.load(Ordering::SeqCst) {
                killed_for = Some(HelperError::Output {
                    helper: name.to_owned(),
                    limit: max_output,
                });
            } else if start.elapsed() > limits.wall {
                killed_for = Some(HelperError::Wall {
                    helper: name.to_owned(),
                    limit: limits.wall,
                });
            }
            if killed_for.is_some() {
                group.kill();
                continue;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    drop(child);
    let out = out_reader.join().unwrap_or_default();
    let err = err_reader.join().unwrap_or_default();
    if let Some(e) = killed_for {
        return Err(e);
    }
    // The reader stopped at the allowance and the helper died of the closed pipe before
    // the loop above saw the flag.
    if overflow.load(Ordering::SeqCst) {
        return Err(HelperError::Output {
            helper: name.to_owned(),
            limit: max_output,
        });
    }
    classify(name, status, &usage, &err, peak, limits, cpu).map(|()| out)
}

/// Memory the child uses now (the larger of `VmData` and `VmHWM`), or `None` before it
/// runs `program` (between fork and exec it still looks like its parent) or once it ended.
fn memory_in_use(pid: libc::pid_t, program: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let base = program.rsplit('/').next().unwrap_or(program);
    // The kernel keeps 15 bytes of the name.
    let expected = &base.as_bytes()[..base.len().min(15)];
    let mut name_ok = false;
    let mut most = None;
    for line in status.lines() {
        if let Some(name) = line.strip_prefix("Name:") {
            name_ok = name.trim().as_bytes() == expected;
        } else if let Some(value) = line
            .strip_prefix("VmData:")
            .or_else(|| line.strip_prefix("VmHWM:"))
        {
            let kb: u64 = value.trim().trim_end_matches("kB").trim().parse().ok()?;
            most = Some(most.unwrap_or(0).max(kb * 1024));
        }
    }
    if name_ok { most } else { None }
}

/// Success, or which limit (or plain failure) ended the helper.
fn classify(
    name: &str,
    status: libc::c_int,
    usage: &libc::rusage,
    stderr: &[u8],
    peak: u64,
    limits: &HelperLimits,
    cpu_secs: u64,
) -> Result<(), HelperError> {
    let exited = libc::WIFEXITED(status);
    if exited && libc::WEXITSTATUS(status) == 0 {
        return Ok(());
    }
    let signal = libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status));
    let cpu_used = timeval(&usage.ru_utime) + timeval(&usage.ru_stime);
    if signal == Some(libc::SIGXCPU)
        || (signal == Some(libc::SIGKILL) && cpu_used >= Duration::from_secs(cpu_secs))
    {
        return Err(HelperError::Cpu {
            helper: name.to_owned(),
            limit: Duration::from_secs(cpu_secs),
        });
    }
    let text = String::from_utf8_lossy(stderr);
    let lower = text.to_lowercase();
    let said_oom = [
        "out of memory",
        "bad_alloc",
        "cannot allocate memory",
        "memoryerror",
    ]
    .iter()
    .any(|m| lower.contains(m));
    if said_oom || peak >= limits.memory / 2 {
        return Err(HelperError::Memory {
            helper: name.to_owned(),
            limit: limits.memory,
        });
    }
    let status = match signal {
        Some(sig) => format!("killed by signal {sig}"),
        None => format!("exited with status {}", libc::WEXITSTATUS(status)),
    };
    Err(HelperError::Failed {
        helper: name.to_owned(),
        status,
        stderr: text.into_owned(),
    })
}

fn timeval(t: &libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
}

/// The helper's process group: killed and reaped when dropped unless already reaped.
struct Group {
    pid: libc::pid_t,
    reaped: bool,
}

impl Group {
    /// The exit status and resource usage once the child has ended. The child is first
    /// seen to have ended without being reaped (`WNOWAIT`), so its pid, which is the group
    /// id, cannot be reused while what is left of its group is killed; then it is reaped.
    fn try_reap(&mut self) -> Option<(libc::c_int, libc::rusage)> {
        if self.reaped {
            return None;
        }
        // SAFETY: siginfo_t and rusage are plain data; zeroed is a valid value.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: waiting for our own child with a valid out-pointer.
        let r = unsafe {
            libc::waitid(
                libc::P_PID,
                self.pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        // SAFETY: reading the pid field of a siginfo_t filled by waitid.
        if r == 0 && unsafe { info.si_pid() } == 0 {
            return None; // still running
        }
        self.kill();
        let mut status: libc::c_int = 0;
        // SAFETY: reaping our own ended child with valid out-pointers.
        let r = unsafe { libc::wait4(self.pid, &mut status, 0, &mut usage) };
        self.reaped = true;
        if r != self.pid {
            // Not our child any more: report a failure, not a hang.
            return Some((libc::SIGKILL, usage));
        }
        Some((status, usage))
    }

    fn kill(&self) {
        // SAFETY: the group id is the child's pid (process_group(0)); signalling a group
        // that no longer exists only fails with ESRCH.
        unsafe {
            libc::killpg(self.pid, libc::SIGKILL);
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if !self.reaped {
            self.kill();
            let mut status: libc::c_int = 0;
            // SAFETY: blocking wait for our own, just killed, child.
            unsafe {
                libc::waitpid(self.pid, &mut status, 0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> HelperLimits {
        HelperLimits {
            memory: 64 << 20,
            cpu: Duration::from_secs(2),
            wall: Duration::from_secs(20),
            max_output: 1 << 20,
        }
    }

    fn sh(script: &str, limits: &HelperLimits) -> Result<Vec<u8>, HelperError> {
        run("sh", "sh", &["-c".as_ref(), script.as_ref()], limits)
    }

    #[test]
    fn output_is_collected() {
        assert_eq!(sh("echo hello", &limits()).unwrap(), b"hello\n");
    }

    #[test]
    fn a_failure_is_not_a_limit() {
        let e = sh("echo broken >&2; exit 3", &limits()).unwrap_err();
        assert!(!e.is_limit(), "{e}");
        assert_eq!(e.to_string(), "sh exited with status 3 (broken)");
    }

    #[test]
    fn a_crash_forked_from_a_big_parent_is_not_a_memory_limit() {
        // A forked child starts with its parent's resident pages counted (ru_maxrss): a
        // crash must not be taken for a memory limit because the parent is large.
        let big = vec![1u8; 200 << 20];
        let e = sh("kill -SEGV $$", &limits()).unwrap_err();
        assert!(matches!(e, HelperError::Failed { .. }), "{e}");
        assert_eq!(big.iter().map(|&b| u64::from(b)).sum::<u64>(), 200 << 20);
    }

    #[test]
    fn missing_program_is_a_spawn_error() {
        let e = run("nope", "/nonexistent/helper", &[], &limits()).unwrap_err();
        assert!(matches!(e, HelperError::Spawn { .. }), "{e}");
    }

    #[test]
    fn memory_limit_is_named() {
        // python3 raises MemoryError when the allocation fails under RLIMIT_DATA.
        let e = run(
            "python3",
            "python3",
            &["-c".as_ref(), "b = bytearray(200 << 20)".as_ref()],
            &limits(),
        )
        .unwrap_err();
        assert_eq!(
            e,
            HelperError::Memory {
                helper: "python3".into(),
                limit: 64 << 20
            }
        );
        assert_eq!(e.to_string(), "python3 memory > 64 MB");
    }

    #[test]
    fn cpu_limit_is_named() {
        let mut l = limits();
        l.cpu = Duration::from_secs(1);
        let e = sh("while :; do :; done", &l).unwrap_err();
        assert_eq!(e.to_string(), "sh CPU time > 1 s");
        assert!(e.is_limit());
    }

    #[test]
    fn wall_timeout_kills_the_whole_group() {
        let mut l = limits();
        l.wall = Duration::from_millis(300);
        let marker = tempfile::NamedTempFile::new().unwrap();
        let path = marker.path().display().to_string();
        // The grandchild would write the marker after 2 s if it survived the group kill.
        let script = format!("(sleep 2; echo alive > {path}) & sleep 30");
        let start = Instant::now();
        let e = sh(&script, &l).unwrap_err();
        assert!(matches!(e, HelperError::Wall { .. }), "{e}");
        assert!(start.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(2500));
        assert_eq!(std::fs::read_to_string(marker.path()).unwrap(), "");
    }

    #[test]
    fn output_past_the_allowance_is_a_limit() {
        let e = sh("yes", &limits()).unwrap_err();
        assert_eq!(e.to_string(), "sh output > 1 MB");
    }

    #[test]
    fn stderr_is_kept_bounded() {
        let e = sh("yes error | head -c 10000000 >&2; exit 1", &limits()).unwrap_err();
        match e {
            HelperError::Failed { stderr, .. } => assert!(stderr.len() <= STDERR_KEEP),
            other => panic!("{other}"),
        }
    }
}
