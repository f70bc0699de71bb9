//! The Postfix hold queue, where a [`crate::MailDecision::Quarantine`] puts a message: the
//! security officer releases it (delivered as if never held) or deletes it.

use std::path::PathBuf;
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum HoldQueueError {
    #[error("not a Postfix queue id: {0:?}")]
    InvalidQueueId(String),
    #[error("no message {0} in the hold queue")]
    NotFound(String),
    #[error("{program}: {message}")]
    Command { program: String, message: String },
}

/// Releases and deletes held messages through Postfix's own `postsuper`, the one tool that
/// may change the queue while Postfix runs. Blocking (a short subprocess); call it from
/// `spawn_blocking` in async code.
#[derive(Debug, Clone)]
pub struct HoldQueue {
    /// `postsuper`, usually `/usr/sbin/postsuper`.
    pub postsuper: PathBuf,
    /// Postfix's configuration directory (`postsuper -c DIR`); `None` for the default.
    pub config_dir: Option<PathBuf>,
}

impl Default for HoldQueue {
    fn default() -> Self {
        HoldQueue {
            postsuper: PathBuf::from("/usr/sbin/postsuper"),
            config_dir: None,
        }
    }
}

impl HoldQueue {
    pub fn new(postsuper: impl Into<PathBuf>, config_dir: Option<PathBuf>) -> HoldQueue {
        HoldQueue {
            postsuper: postsuper.into(),
            config_dir,
        }
    }

    /// Releases a held message and asks for its delivery now. `postsuper -H` only moves it
    /// to the deferred queue, which Postfix scans every `queue_run_delay` (5 minutes), so
    /// `postqueue -i` (next to `postsuper`) schedules it at once; if that fails the message
    /// is still released and goes out with the next queue run.
    pub fn release(&self, queue_id: &str) -> Result<(), HoldQueueError> {
        check_queue_id(queue_id)?;
        let out = self.postsuper(&["-H", queue_id])?;
        if count_after(&out, "Released from hold:") == 0 {
            return Err(HoldQueueError::NotFound(queue_id.to_string()));
        }
        let postqueue = self.postsuper.with_file_name("postqueue");
        let mut cmd = Command::new(&postqueue);
        if let Some(dir) = &self.config_dir {
            cmd.arg("-c").arg(dir);
        }
        match cmd.args(["-i", queue_id]).output() {
            Ok(o) if o.status.success() => {}
            Ok(o) => tracing::warn!(
                "{}: {}: {}",
                postqueue.display(),
                o.status,
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            Err(e) => tracing::warn!("{}: {e}", postqueue.display()),
        }
        Ok(())
    }

    /// Deletes a message, but only from the hold queue: a message that was released in the
    /// meantime is not touched.
    pub fn delete(&self, queue_id: &str) -> Result<(), HoldQueueError> {
        check_queue_id(queue_id)?;
        let out = self.postsuper(&["-d", queue_id, "hold"])?;
        if count_after(&out, "Deleted:") > 0 {
            Ok(())
        } else {
            Err(HoldQueueError::NotFound(queue_id.to_string()))
        }
    }

    /// Runs postsuper; its summary ("Released from hold: 1 message") is on stderr.
    fn postsuper(&self, args: &[&str]) -> Result<String, HoldQueueError> {
        let program = self.postsuper.display().to_string();
        let mut cmd = Command::new(&self.postsuper);
        if let Some(dir) = &self.config_dir {
            cmd.arg("-c").arg(dir);
        }
        let out = cmd
            .args(args)
            .output()
            .map_err(|e| HoldQueueError::Command {
                program: program.clone(),
                message: e.to_string(),
            })?;
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if !out.status.success() {
            return Err(HoldQueueError::Command {
                program,
                message: format!("{}: {}", out.status, stderr.trim()),
            });
        }
        Ok(stderr)
    }
}

/// Postfix queue ids are letters and digits (short hex ids, or long ids in a base-52
/// alphabet). Anything else, and postsuper's wildcard `ALL`, is refused before it reaches
/// a command line.
fn check_queue_id(id: &str) -> Result<(), HoldQueueError> {
    let ok = (5..=32).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric())
        && !id.eq_ignore_ascii_case("ALL");
    if ok {
        Ok(())
    } else {
        Err(HoldQueueError::InvalidQueueId(id.to_string()))
    }
}

fn count_after(output: &str, label: &str) -> u64 {
    output
        .lines()
        .filter_map(|l| l.split_once(label))
        .filter_map(|(_, rest)| rest.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_ids_are_checked_before_any_command_runs() {
        let q = HoldQueue::new("/nonexistent/postsuper", None);
        for bad in ["ALL", "all", "-d", "4F2A1 B3C", "", "../x", "abc"] {
            assert!(
                matches!(q.release(bad), Err(HoldQueueError::InvalidQueueId(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            q.release("4F2A1B3C5D"),
            Err(HoldQueueError::Command { .. })
        ));
    }

    #[test]
    fn postsuper_summaries_are_counted() {
        assert_eq!(
            count_after(
                "postsuper: Released from hold: 1 message\n",
                "Released from hold:"
            ),
            1
        );
        assert_eq!(count_after("", "Deleted:"), 0);
    }
}
