//! `GET /api/system/backup` (docs/deploy.md#backup-and-restore): a tar archive of the data dir
//! made while the server runs — the database as of one commit (copied in one read transaction),
//! then the objects and task logs — streamed to the caller as it is written, never held whole in
//! memory or on disk (only the database copy is, briefly, in the data dir).

use bytes::Bytes;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;

/// Chunks handed to the response at a time.
const CHUNK: usize = 256 * 1024;

/// A `Write` that sends what it is given to the response, `CHUNK` bytes at a time; the caller
/// going away ends the archive with `BrokenPipe`.
struct ToResponse {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl ToResponse {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the caller left"))
    }
}

impl Write for ToResponse {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// Writes the archive: `gofer.redb` from `database_copy`, then every file under `objects/` and
/// `logs/` of `data_dir`. Runs on a blocking thread.
pub fn write_archive(
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    data_dir: &Path,
    database_copy: &Path,
) -> std::io::Result<()> {
    let mut tar = tar::Builder::new(ToResponse {
        tx,
        buf: Vec::with_capacity(CHUNK),
    });
    append(&mut tar, database_copy, Path::new("gofer.redb"))?;
    for dir in ["objects", "logs"] {
        let root = data_dir.join(dir);
        let mut pending = vec![root.clone()];
        while let Some(current) = pending.pop() {
            let entries = match std::fs::read_dir(&current) {
                Ok(entries) => entries,
                // Removed meanwhile (retention, a deleted pipeline), or never created.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let mut paths: Vec<PathBuf> =
                entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            paths.sort();
            for path in paths {
                // Temporary files of uploads in progress are not objects yet.
                if path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.'))
                {
                    continue;
                }
                let Ok(meta) = std::fs::symlink_metadata(&path) else {
                    continue;
                };
                if meta.is_dir() {
                    pending.push(path);
                } else if meta.is_file() {
                    let relative = Path::new(dir).join(path.strip_prefix(&root).unwrap_or(&path));
                    append(&mut tar, &path, &relative)?;
                }
            }
        }
    }
    let mut out = tar.into_inner()?;
    out.flush()
}

/// Appends one file as it is now: its length when opened (a task log may grow meanwhile; what
/// it gains is left for the next backup).
fn append(tar: &mut tar::Builder<ToResponse>, path: &Path, name: &Path) -> std::io::Result<()> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    let len = meta.len();
    let mut header = tar::Header::new_gnu();
    header.set_size(len);
    header.set_mode(0o640);
    header.set_mtime(
        meta.modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs()),
    );
    header.set_entry_type(tar::EntryType::Regular);
    // Exactly `len` bytes, even if the file was cut short meanwhile (zeros fill the rest), so
    // the archive stays readable.
    let reader = file.take(len).chain(std::io::repeat(0)).take(len);
    tar.append_data(&mut header, name, reader)
}
