//! Substitution of secret and object references (docs/runs.md#variables), resolved just before each attempt
//! starts so that a parent task can write run objects for its children. Resolved values go only
//! to the scheduler (the container environment and registry password): they are never stored,
//! returned by the API or logged. Secret values are also handed to the log collector for masking
//! (docs/runs.md#variables).
//!
//! Entry point: [`resolve`]. Other reference kinds (`task_result`) plug in beside it.

use super::RunKey;
use crate::objects;
use crate::secrets::{Cipher, namespace_allowed};
use crate::store::{ObjectScope, SecretScope, StoreError, StoreHandle};
use gofer_core::api::TaskExecution;
use gofer_core::validate::{RefKind, Reference, parse_reference};
use std::path::PathBuf;
use std::sync::Arc;

/// Largest object usable as a variable value (docs/runs.md#variables).
const MAX_OBJECT_VALUE: u64 = 64 * 1024;

/// Shortest secret value that is masked (docs/runs.md#variables).
const MIN_MASKED: usize = 4;

/// What resolution needs.
#[derive(Clone)]
pub struct Resolver {
    pub store: StoreHandle,
    pub cipher: Arc<Cipher>,
    pub data_dir: PathBuf,
}

/// The values of one attempt, after substitution.
#[derive(Default, Clone)]
pub struct Resolved {
    /// Environment in the execution's variable order, references replaced by their values.
    pub env: Vec<(String, String)>,
    /// The registry password, resolved when it was a reference.
    pub registry_pass: Option<String>,
    /// Secret values to mask in the task's log (each ≥ 4 bytes; multi-line values also line by
    /// line).
    pub masks: Vec<String>,
}

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Resolved(..)")
    }
}

/// Resolves every reference of `execution`'s variables (and registry password). The error names
/// the variable and the reference, never a value; the task then fails with
/// `failed_precondition`.
pub async fn resolve(
    r: &Resolver,
    key: &RunKey,
    execution: &TaskExecution,
    executions: &std::collections::BTreeMap<String, TaskExecution>,
) -> Result<Resolved, String> {
    let mut out = Resolved::default();
    for v in &execution.variables {
        let value = match parse_reference(&v.value) {
            Some(reference) if reference.kind == RefKind::TaskResult => {
                super::task_result::resolve(&v.key, &reference.key, executions)?
            }
            Some(reference) => {
                let (value, secret) = resolve_one(r, key, &reference)
                    .await
                    .map_err(|problem| format!("variable '{}': {problem}", v.key))?;
                if secret {
                    add_mask(&mut out.masks, &value);
                }
                value
            }
            None => v.value.clone(),
        };
        out.env.push((v.key.clone(), value));
    }
    if let Some(auth) = &execution.task.registry_auth
        && let Some(reference) = parse_reference(&auth.pass)
    {
        let (value, secret) = resolve_one(r, key, &reference)
            .await
            .map_err(|problem| format!("registry_auth.pass: {problem}"))?;
        if secret {
            add_mask(&mut out.masks, &value);
        }
        out.registry_pass = Some(value);
    }
    Ok(out)
}

/// Masks for a secret value: the value, and each of its lines (docs/runs.md#variables).
pub fn add_mask(masks: &mut Vec<String>, value: &str) {
    let mut add = |s: &str| {
        if s.len() >= MIN_MASKED && !masks.iter().any(|m| m == s) {
            masks.push(s.to_string());
        }
    };
    add(value);
    if value.contains('\n') {
        for line in value.lines() {
            add(line.trim_end_matches('\r'));
        }
    }
}

/// One reference → (value, whether it is a secret).
pub(crate) async fn resolve_one(
    r: &Resolver,
    RunKey {
        namespace: ns,
        pipeline: p,
        run: run_id,
    }: &RunKey,
    reference: &Reference,
) -> Result<(String, bool), String> {
    let k = reference.key.as_str();
    let name = reference.kind.name();
    match reference.kind {
        RefKind::PipelineSecret | RefKind::GlobalSecret => {
            let scope = if reference.kind == RefKind::PipelineSecret {
                SecretScope::Pipeline {
                    namespace: ns.clone(),
                    pipeline: p.clone(),
                }
            } else {
                SecretScope::Global
            };
            let (sc, key) = (scope.clone(), k.to_string());
            let (secret, sealed) = r
                .store
                .read(move |s| s.get_secret(&sc, &key))
                .await
                .map_err(|e| missing(e, name, k))?;
            if reference.kind == RefKind::GlobalSecret && !namespace_allowed(&secret.namespaces, ns)
            {
                return Err(format!(
                    "{name}{{{{{k}}}}}: global secret '{k}' is not permitted in namespace '{ns}'"
                ));
            }
            let plain = r
                .cipher
                .open(&scope.associated_data(k), &sealed)
                .map_err(|e| format!("{name}{{{{{k}}}}}: {e}"))?;
            let value = String::from_utf8(plain)
                .map_err(|_| format!("{name}{{{{{k}}}}}: the secret is not valid UTF-8"))?;
            Ok((value, true))
        }
        RefKind::PipelineObject | RefKind::RunObject => {
            let scope = if reference.kind == RefKind::PipelineObject {
                ObjectScope::Pipeline {
                    namespace: ns.clone(),
                    pipeline: p.clone(),
                }
            } else {
                ObjectScope::Run {
                    namespace: ns.clone(),
                    pipeline: p.clone(),
                    run_id: *run_id,
                }
            };
            if !gofer_core::id::IdKind::Key.accepts(k) {
                return Err(format!("{name}{{{{{k}}}}}: no object can have this key"));
            }
            let (sc, key) = (scope.clone(), k.to_string());
            r.store
                .read(move |s| s.get_object(&sc, &key))
                .await
                .map_err(|e| missing(e, name, k))?;
            let path = objects::file(&r.data_dir, &scope, k);
            let bytes = match objects::read_small(&path, MAX_OBJECT_VALUE).await {
                Ok(Some(bytes)) => bytes,
                Ok(None) => {
                    return Err(format!(
                        "{name}{{{{{k}}}}}: the object is larger than 64 KiB"
                    ));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(format!("{name}{{{{{k}}}}}: object '{k}' not found"));
                }
                Err(e) => return Err(format!("{name}{{{{{k}}}}}: reading the object failed: {e}")),
            };
            let value = String::from_utf8(bytes)
                .map_err(|_| format!("{name}{{{{{k}}}}}: the object is not valid UTF-8"))?;
            Ok((value, false))
        }
        RefKind::TaskResult => Err(format!(
            "{name}{{{{{k}}}}} cannot be resolved: this server has no task result store yet"
        )),
    }
}

fn missing(e: StoreError, name: &str, k: &str) -> String {
    match e {
        StoreError::NotFound(m) => format!("{name}{{{{{k}}}}}: {m}"),
        other => {
            tracing::error!(error = %other, "resolving a reference failed");
            format!("{name}{{{{{k}}}}}: could not be read (internal error)")
        }
    }
}

/// Masks secret values in a task's output stream (docs/runs.md#variables). Feed it chunks in order; it
/// returns what may be written now and holds back at most `max(mask length) - 1` bytes that
/// could still be the start of a secret split across chunks.
#[derive(Default)]
pub struct Masker {
    /// Longest first, so that a value wins over one of its own lines.
    masks: Vec<Vec<u8>>,
    held: Vec<u8>,
}

/// What a masked value becomes.
pub const MASK: &[u8] = b"********";

impl Masker {
    pub fn new(masks: &[String]) -> Masker {
        let mut masks: Vec<Vec<u8>> = masks
            .iter()
            .filter(|m| m.len() >= MIN_MASKED)
            .map(|m| m.as_bytes().to_vec())
            .collect();
        masks.sort_by_key(|m| std::cmp::Reverse(m.len()));
        Masker {
            masks,
            held: Vec::new(),
        }
    }

    /// Masks what can be decided of `held ‖ chunk`.
    pub fn push<'c>(&mut self, chunk: &'c [u8]) -> std::borrow::Cow<'c, [u8]> {
        // Without secrets the output passes through as is (no copy: this is the log hot path).
        if self.masks.is_empty() {
            return std::borrow::Cow::Borrowed(chunk);
        }
        std::borrow::Cow::Owned(self.push_masked(chunk))
    }

    fn push_masked(&mut self, chunk: &[u8]) -> Vec<u8> {
        self.held.extend_from_slice(chunk);
        let buf = std::mem::take(&mut self.held);
        let mut out = Vec::with_capacity(buf.len());
        let mut i = 0;
        'scan: while i < buf.len() {
            let rest = &buf[i..];
            let mut could_start = false;
            for m in &self.masks {
                if rest.starts_with(m) {
                    out.extend_from_slice(MASK);
                    i += m.len();
                    continue 'scan;
                }
                if rest.len() < m.len() && m.starts_with(rest) {
                    could_start = true;
                }
            }
            if could_start {
                // Undecidable until more output arrives.
                self.held = rest.to_vec();
                return out;
            }
            out.push(buf[i]);
            i += 1;
        }
        out
    }

    /// The held-back bytes once the stream has ended (they matched no complete value).
    pub fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(masks: &[&str], chunks: &[&str]) -> String {
        let masks: Vec<String> = masks.iter().map(|s| s.to_string()).collect();
        let mut m = Masker::new(&masks);
        let mut out = Vec::new();
        for c in chunks {
            out.extend_from_slice(&m.push(c.as_bytes()));
        }
        out.extend(m.finish());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn masks_whole_and_split_values() {
        assert_eq!(masked(&["s3cr3t"], &["a s3cr3t b\n"]), "a ******** b\n");
        assert_eq!(
            masked(&["s3cr3t"], &["a s3c", "r3", "t b\n"]),
            "a ******** b\n"
        );
        assert_eq!(masked(&["s3cr3t"], &["s3cr3", "x"]), "s3cr3x");
        assert_eq!(masked(&["s3cr3t"], &["end s3cr"]), "end s3cr");
        assert_eq!(masked(&["abc"], &["abc"]), "abc", "shorter than 4 bytes");
        assert_eq!(masked(&[], &["x"]), "x");
    }

    #[test]
    fn multi_line_secrets_are_masked_line_by_line() {
        let mut masks = Vec::new();
        add_mask(&mut masks, "line-one\nline-two");
        let masks: Vec<&str> = masks.iter().map(String::as_str).collect();
        assert_eq!(
            masked(&masks, &["x line-one\nline-two y\n", "only line-two\n"]),
            "x ******** y\nonly ********\n"
        );
    }

    #[test]
    fn holds_back_less_than_the_longest_value() {
        let mut m = Masker::new(&["abcdefgh".to_string()]);
        assert_eq!(&*m.push(b"xxabcdefg"), b"xx");
        assert_eq!(&*m.push(b"h!"), b"********!");
    }
}
