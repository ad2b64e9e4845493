//! What is read from disk rather than run: the zipped size of each arm64 `bootstrap` (built by
//! `cargo lambda build --release --arm64`), and the criterion medians of the parsing benchmarks.

use std::path::Path;
use std::process::Command;

/// The size of `bootstrap` zipped as Lambda is given it (`zip -9`), in bytes.
pub fn zipped_size(bootstrap: &Path) -> anyhow::Result<u64> {
    anyhow::ensure!(
        bootstrap.is_file(),
        "no {}: run cargo lambda build --release --arm64",
        bootstrap.display()
    );
    let zip = std::env::temp_dir().join(format!("hitl-bench-{}.zip", std::process::id()));
    let _ = std::fs::remove_file(&zip);
    let status = Command::new("zip")
        .arg("-q")
        .arg("-9")
        .arg("-j")
        .arg(&zip)
        .arg(bootstrap)
        .status()
        .map_err(|error| anyhow::anyhow!("cannot run `zip` (apt-get install zip): {error}"))?;
    anyhow::ensure!(status.success(), "zip failed on {}", bootstrap.display());
    let size = std::fs::metadata(&zip)?.len();
    std::fs::remove_file(&zip)?;
    Ok(size)
}

/// The median time per iteration criterion estimated for benchmark `id`, in nanoseconds.
pub fn criterion_median_ns(criterion_dir: &Path, id: &str) -> Option<f64> {
    let text =
        std::fs::read_to_string(criterion_dir.join(id).join("new").join("estimates.json")).ok()?;
    let estimates: serde_json::Value = serde_json::from_str(&text).ok()?;
    estimates["median"]["point_estimate"].as_f64()
}
