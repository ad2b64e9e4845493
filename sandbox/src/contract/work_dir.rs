//! Where a test process's Prism logs and prepared documents go: a folder per process under
//! `$TMPDIR/hitl-contracts/`, named by its process id.
//!
//! The Prisms and the front live as long as the process (a static), so nothing removes the
//! folder when the process ends: each contract-checked test binary would leave ~0.5 MB of logs
//! behind, ~50 MB per `scripts/test`. The folders of processes that have ended are removed
//! when the next one starts instead, so the logs of the latest run stay for whoever reads a
//! failure, and no run's logs pile up.

use std::io;
use std::path::{Path, PathBuf};

/// This process's folder (made now), after removing the folders of processes that have ended.
pub(crate) fn for_this_process() -> io::Result<PathBuf> {
    under(&std::env::temp_dir().join("hitl-contracts"))
}

/// [`for_this_process`] under `parent`.
fn under(parent: &Path) -> io::Result<PathBuf> {
    std::fs::create_dir_all(parent)?;
    remove_ended(parent, process_is_running);
    let work = parent.join(std::process::id().to_string());
    std::fs::create_dir_all(&work)?;
    Ok(work)
}

/// Removes every folder under `parent` named by a process id that `running` says has ended.
/// Failures are ignored: another process may be removing the same folder at the same time.
fn remove_ended(parent: &Path, running: impl Fn(u32) -> bool) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let pid = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse().ok());
        if let Some(pid) = pid
            && !running(pid)
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn process_is_running(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_of_ended_processes_go_and_the_rest_stay() {
        let parent = std::env::temp_dir().join(format!(
            "hitl-work-dir-test-{}",
            uuid::Uuid::new_v4().simple()
        ));
        for name in ["100", "200", "not-a-process"] {
            std::fs::create_dir_all(parent.join(name)).unwrap();
            std::fs::write(parent.join(name).join("prism.log"), "log").unwrap();
        }

        remove_ended(&parent, |pid| pid == 200);

        assert!(
            !parent.join("100").exists(),
            "an ended process's folder is removed"
        );
        assert!(
            parent.join("200").join("prism.log").exists(),
            "a running one's stays"
        );
        assert!(
            parent.join("not-a-process").exists(),
            "only process folders are touched"
        );
        std::fs::remove_dir_all(parent).unwrap();
    }

    #[test]
    fn this_process_is_running_and_its_folder_is_made() {
        assert!(process_is_running(std::process::id()));
        let parent = std::env::temp_dir().join(format!(
            "hitl-work-dir-test-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let work = under(&parent).unwrap();
        assert!(work.is_dir());
        assert!(work.ends_with(std::process::id().to_string()));
        std::fs::remove_dir_all(parent).unwrap();
    }
}
