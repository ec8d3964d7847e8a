//! Object bytes on disk (docs/objects-and-secrets.md#objects). redb holds the index (`Store::put_object` and friends);
//! the bytes of `(scope, key)` live in `ObjectScope::dir(data_dir)/<name>`, the name being the
//! key's hex or, for long keys, a hash (`gofer_core::paths::object_file_name`). Keys never reach
//! the file system as written and every directory component is an id that
//! passed its rule, so no key can name a file outside the objects directory.
//!
//! Bytes are streamed both ways in bounded chunks; no object is ever held in memory whole.

use crate::store::ObjectScope;
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use std::io;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Read and write chunk size: large enough for loopback throughput, small enough that a few
/// concurrent transfers cost a few MiB.
pub const CHUNK: usize = 256 * 1024;

/// The file of an object.
pub fn file(data_dir: &Path, scope: &ObjectScope, key: &str) -> PathBuf {
    scope
        .dir(data_dir)
        .join(gofer_core::paths::object_file_name(key))
}

/// Why an upload stopped.
#[derive(Debug)]
pub enum UploadError {
    /// More than the allowed bytes arrived (413).
    TooLarge(u64),
    /// The client's body failed (400).
    Body(String),
    /// Writing the file failed (500).
    Io(io::Error),
}

/// A fully written temporary file next to its destination; removed on drop unless
/// [`Upload::commit`] renamed it into place.
pub struct Upload {
    tmp: Option<PathBuf>,
    pub len: u64,
}

impl Upload {
    /// Streams `body` into a temporary file in `dir` (created if needed), refusing more than
    /// `max_bytes`. The data is flushed to disk before this returns.
    pub async fn receive<S, E>(
        dir: &Path,
        mut body: S,
        max_bytes: u64,
    ) -> Result<Upload, UploadError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(UploadError::Io)?;
        // Object file names are lowercase hex or `h` + hex; a leading dot never collides.
        let tmp = dir.join(format!(".upload-{}", uuid::Uuid::new_v4()));
        let mut upload = Upload {
            tmp: Some(tmp.clone()),
            len: 0,
        };
        let file = tokio::fs::File::create(&tmp)
            .await
            .map_err(UploadError::Io)?;
        let mut out = tokio::io::BufWriter::with_capacity(CHUNK * 4, file);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| UploadError::Body(e.to_string()))?;
            upload.len += chunk.len() as u64;
            if upload.len > max_bytes {
                return Err(UploadError::TooLarge(max_bytes));
            }
            out.write_all(&chunk).await.map_err(UploadError::Io)?;
        }
        out.flush().await.map_err(UploadError::Io)?;
        out.into_inner()
            .sync_data()
            .await
            .map_err(UploadError::Io)?;
        Ok(upload)
    }

    /// Renames the temporary file to `dest` (atomic within one directory).
    /// On failure the temporary file is removed (by drop), so nothing is left behind.
    pub async fn commit(mut self, dest: &Path) -> io::Result<()> {
        if let Some(tmp) = &self.tmp {
            tokio::fs::rename(tmp, dest).await?;
            self.tmp = None;
        }
        Ok(())
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// Opens an object file for streaming: its length and a stream of chunks. `NotFound` when the
/// file is missing (the index row may be newer or older than the file for an instant).
pub async fn open(path: &Path) -> io::Result<(u64, impl Stream<Item = io::Result<Bytes>> + use<>)> {
    let file = tokio::fs::File::open(path).await?;
    let len = file.metadata().await?.len();
    let stream = futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = BytesMut::with_capacity(CHUNK);
        match file.read_buf(&mut buf).await {
            Ok(0) => None,
            Ok(_) => Some((Ok(buf.freeze()), Some(file))),
            Err(e) => Some((Err(e), None)),
        }
    });
    Ok((len, stream))
}

/// Reads a whole object of at most `max` bytes (substitution, docs/runs.md#variables). `Ok(None)` when it is
/// larger.
pub async fn read_small(path: &Path, max: u64) -> io::Result<Option<Vec<u8>>> {
    let file = tokio::fs::File::open(path).await?;
    if file.metadata().await?.len() > max {
        return Ok(None);
    }
    let mut buf = Vec::new();
    file.take(max + 1).read_to_end(&mut buf).await?;
    Ok((buf.len() as u64 <= max).then_some(buf))
}

/// Removes a file, treating "already gone" as success; other failures are logged.
pub async fn remove_file(path: &Path) {
    match tokio::fs::remove_file(path).await {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "could not remove an object file")
        }
    }
}

/// Removes a directory tree of objects (pipeline/namespace deletion, run expiry).
pub async fn remove_dir(path: &Path) {
    match tokio::fs::remove_dir_all(path).await {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "could not remove an object directory")
        }
    }
}
