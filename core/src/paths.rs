//! Where things live under the data dir (docs/pipelines.md#words conventions, docs/logs-and-events.md#where-they-live, docs/objects-and-secrets.md#objects). Pure path arithmetic:
//! every component is an id that passed its rule, so no component can contain `/` or `..`.

use std::path::{Path, PathBuf};

/// The redb file.
pub fn database(data_dir: &Path) -> PathBuf {
    data_dir.join("gofer.redb")
}

/// `<data_dir>/logs/<ns>/<p>/<run_id>/<task_id>.log` (docs/logs-and-events.md#where-they-live).
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

/// `<data_dir>/tls/extensions-ca.pem`: the certificate of the CA that issues the extensions'
/// certificates (docs/deploy.md#tls-between-the-server-and-its-extensions).
pub fn extensions_ca_cert(data_dir: &Path) -> PathBuf {
    data_dir.join("tls").join("extensions-ca.pem")
}

/// `<data_dir>/tls/extensions-ca.key`: that CA's private key (mode 0600).
pub fn extensions_ca_key(data_dir: &Path) -> PathBuf {
    data_dir.join("tls").join("extensions-ca.key")
}

/// The root of the object store (docs/objects-and-secrets.md#objects).
pub fn objects(data_dir: &Path) -> PathBuf {
    data_dir.join("objects")
}

/// `<data_dir>/objects/extensions/<id>`: an extension's objects (removed with the extension).
pub fn extension_objects(data_dir: &Path, extension: &str) -> PathBuf {
    objects(data_dir).join("extensions").join(extension)
}

/// `<data_dir>/objects/pipelines/<ns>/<p>`: a pipeline's objects (removed with the pipeline).
pub fn pipeline_objects(data_dir: &Path, namespace: &str, pipeline: &str) -> PathBuf {
    objects(data_dir)
        .join("pipelines")
        .join(namespace)
        .join(pipeline)
}

/// `<data_dir>/objects/runs/<ns>/<p>`: the run objects of every run of a pipeline.
pub fn pipeline_run_objects(data_dir: &Path, namespace: &str, pipeline: &str) -> PathBuf {
    objects(data_dir)
        .join("runs")
        .join(namespace)
        .join(pipeline)
}

/// `<data_dir>/objects/runs/<ns>/<p>/<run_id>`: one run's objects.
pub fn run_objects(data_dir: &Path, namespace: &str, pipeline: &str, run_id: u64) -> PathBuf {
    pipeline_run_objects(data_dir, namespace, pipeline).join(run_id.to_string())
}

/// Longest key (in UTF-8 bytes) whose object file is named by its hex: 254 characters, within
/// the 255-byte file name limit of common file systems.
const MAX_HEX_NAMED_KEY: usize = 127;

/// The file name of an object, so a key never reaches the file system as written and cannot
/// name another directory: the lowercase hex of the key's UTF-8 bytes (docs/objects-and-secrets.md#objects) for keys of
/// up to 127 bytes (as every earlier version named them), else `h` and the SHA-256 hex of the
/// key, which fits every allowed key (a 128-character key may take 512 bytes) and can never
/// equal a hex name (odd length).
pub fn object_file_name(key: &str) -> String {
    if key.len() > MAX_HEX_NAMED_KEY {
        use sha2::Digest;
        return format!("h{}", hex_of(&sha2::Sha256::digest(key.as_bytes())));
    }
    hex_of(key.as_bytes())
}

fn hex_of(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn layout() {
        let p = super::task_log("/d".as_ref(), "ns", "p", 7, "build");
        assert_eq!(p, std::path::Path::new("/d/logs/ns/p/7/build.log"));
        let o =
            super::run_objects("/d".as_ref(), "ns", "p", 7).join(super::object_file_name("a.b"));
        assert_eq!(o, std::path::Path::new("/d/objects/runs/ns/p/7/612e62"));
        assert_eq!(super::object_file_name(".."), "2e2e");
        let longest_hex = "a".repeat(127);
        assert_eq!(super::object_file_name(&longest_hex).len(), 254);
        for key in ["a".repeat(128), "é".repeat(128)] {
            let name = super::object_file_name(&key);
            assert_eq!(name.len(), 65, "{name}");
            assert!(name.starts_with('h'));
        }
        assert_ne!(
            super::object_file_name(&"a".repeat(128)),
            super::object_file_name(&"b".repeat(128))
        );
    }
}
