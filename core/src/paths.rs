//! Where things live under the data dir (SPEC §1 conventions, §7.1, §9.1). Pure path arithmetic:
//! every component is an id that passed its rule, so no component can contain `/` or `..`.

use std::path::{Path, PathBuf};

/// The redb file.
pub fn database(data_dir: &Path) -> PathBuf {
    data_dir.join("gofer.redb")
}

/// `<data_dir>/logs/<ns>/<p>/<run_id>/<task_id>.log` (SPEC §7.1).
pub fn task_log(
    data_dir: &Path,
    namespace: &str,
    pipeline: &str,
    run_id: u64,
    task_id: &str,
) -> PathBuf {
    run_logs(data_dir, namespace, pipeline, run_id).join(format!("{task_id}.log"))
}

/// The directory holding one run's task logs.
pub fn run_logs(data_dir: &Path, namespace: &str, pipeline: &str, run_id: u64) -> PathBuf {
    pipeline_logs(data_dir, namespace, pipeline).join(run_id.to_string())
}

/// The directory holding one pipeline's logs (removed with the pipeline).
pub fn pipeline_logs(data_dir: &Path, namespace: &str, pipeline: &str) -> PathBuf {
    data_dir.join("logs").join(namespace).join(pipeline)
}

#[cfg(test)]
mod tests {
    #[test]
    fn layout() {
        let p = super::task_log("/d".as_ref(), "ns", "p", 7, "build");
        assert_eq!(p, std::path::Path::new("/d/logs/ns/p/7/build.log"));
    }
}
