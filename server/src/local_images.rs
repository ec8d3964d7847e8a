//! Locally packaged images (docs/extensions.md#images-gofer-builds-itself): images built by the server from its own executable on
//! `FROM scratch`, so that no registry is needed: the debug task images and the standard
//! extension images (`interval`, `cron`, `github`; see docs/decisions.md).
//!
//! An image is current when its `gofer.binary_sha256` label is the SHA-256 of the running
//! executable. Hashing a debug build (about 300 MB) takes seconds, so images also carry
//! `gofer.binary_stat` (size and modification time of the executable they were built from): when
//! it matches, the image is taken as current without hashing.

use crate::scheduler::docker::DockerScheduler;
use bollard::query_parameters::BuildImageOptionsBuilder;
use bytes::Bytes;
use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Label holding the SHA-256 (lowercase hex) of the executable an image was built from.
pub const HASH_LABEL: &str = "gofer.binary_sha256";
/// Label holding `<size>:<mtime in ns>` of that executable (the no-hash fast path).
pub const STAT_LABEL: &str = "gofer.binary_stat";

/// One locally packaged image: its reference and the arguments after `/gofer builtin`.
#[derive(Debug, Clone, Copy)]
pub struct LocalImage {
    pub image: &'static str,
    pub args: &'static [&'static str],
}

/// The images built at boot (docs/extensions.md#images-gofer-builds-itself), each tagged `latest`.
pub const IMAGES: &[LocalImage] = &[
    LocalImage {
        image: "gofer.local/debug-envs:latest",
        args: &["debug", "envs"],
    },
    LocalImage {
        image: "gofer.local/debug-fail:latest",
        args: &["debug", "fail"],
    },
    LocalImage {
        image: "gofer.local/debug-log:latest",
        args: &["debug", "log"],
    },
    LocalImage {
        image: "gofer.local/debug-wait:latest",
        args: &["debug", "wait"],
    },
    LocalImage {
        image: "gofer.local/extension-interval:latest",
        args: &["extension", "interval"],
    },
    LocalImage {
        image: "gofer.local/extension-cron:latest",
        args: &["extension", "cron"],
    },
    LocalImage {
        image: "gofer.local/extension-github:latest",
        args: &["extension", "github"],
    },
];

/// CA bundles copied into the images when the host has them (tasks and extensions may call TLS
/// endpoints).
const CA_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

/// Builds every image of [`IMAGES`] that is missing or was built from another executable, from
/// `executable` (which must be the running process's own executable: its shared libraries are
/// read from `/proc/self/maps`). `work_dir` holds the build context while it is sent. Returns the
/// images built; an error names the image and the engine's message.
pub async fn ensure(
    docker: &DockerScheduler,
    executable: &Path,
    work_dir: &Path,
) -> Result<Vec<&'static str>, String> {
    let stat = stat_of(executable)?;
    let mut labels = Vec::with_capacity(IMAGES.len());
    for image in IMAGES {
        labels.push(image_labels(docker, image.image).await?);
    }
    if labels
        .iter()
        .all(|l| l.as_ref().is_some_and(|(_, s, _)| s == &stat))
    {
        return Ok(Vec::new());
    }
    let exe = executable.to_path_buf();
    let hash = tokio::task::spawn_blocking(move || sha256_file(&exe))
        .await
        .map_err(|e| format!("hashing the executable failed: {e}"))??;
    // An image already built from this executable serves as the base of the others.
    let mut base = IMAGES
        .iter()
        .zip(&labels)
        .find(|(_, l)| l.as_ref().is_some_and(|(h, _, _)| h == &hash))
        .map(|(image, _)| image.image);
    let mut built = Vec::new();
    let mut replaced = Vec::new();
    for (image, label) in IMAGES.iter().zip(&labels) {
        let header = format!(
            "LABEL {HASH_LABEL}=\"{hash}\" {STAT_LABEL}=\"{stat}\"\nENTRYPOINT {}\n",
            entrypoint_json(image.args)
        );
        match label {
            Some((h, s, _)) if h == &hash && s == &stat => continue,
            // Same executable, copied or touched: relabel (an empty layer) so that the next boot
            // takes the fast path again.
            Some((h, _, id)) if h == &hash => {
                let context = dockerfile_only(&format!("FROM {id}\n{header}"))
                    .map_err(|e| format!("writing the build context failed: {e}"))?;
                let chunk = Ok::<_, std::io::Error>(Bytes::from(context));
                build(docker, image.image, futures_util::stream::iter([chunk])).await?;
                continue;
            }
            Some((_, _, id)) => replaced.push(id.clone()),
            None => {}
        }
        match base {
            Some(from) => {
                let dockerfile = format!("FROM {from}\n{header}");
                let context = dockerfile_only(&dockerfile)
                    .map_err(|e| format!("writing the build context failed: {e}"))?;
                let chunk = Ok::<_, std::io::Error>(Bytes::from(context));
                build(docker, image.image, futures_util::stream::iter([chunk])).await?;
            }
            None => {
                let dockerfile = format!("FROM scratch\nCOPY rootfs/ /\n{header}");
                let path = work_dir.join(format!(".local-image-{}.tar", std::process::id()));
                let (exe, tar_path) = (executable.to_path_buf(), path.clone());
                let written = tokio::task::spawn_blocking(move || {
                    write_full_context(&tar_path, &dockerfile, &exe)
                })
                .await
                .map_err(|e| format!("writing the build context failed: {e}"))?;
                let result = match written {
                    Ok(()) => match tokio::fs::File::open(&path).await {
                        Ok(file) => build(docker, image.image, file_chunks(file)).await,
                        Err(e) => Err(format!("reading the build context failed: {e}")),
                    },
                    Err(e) => Err(format!("writing the build context failed: {e}")),
                };
                let _ = tokio::fs::remove_file(&path).await;
                result?;
                base = Some(image.image);
            }
        }
        built.push(image.image);
    }
    remove_replaced(docker, replaced).await;
    Ok(built)
}

/// Removes the images the new builds replaced (each a few hundred MB for a debug build, left
/// untagged otherwise). Derived images go first, as the engine refuses to remove a parent; an
/// image a container still uses stays (best effort).
async fn remove_replaced(docker: &DockerScheduler, mut ids: Vec<String>) {
    ids.reverse();
    for id in ids {
        if let Err(e) = docker
            .client()
            .remove_image(
                &id,
                None::<bollard::query_parameters::RemoveImageOptions>,
                None,
            )
            .await
        {
            tracing::debug!(image = %id, error = %docker.describe(&e), "kept a replaced local image");
        }
    }
}

/// `(hash label, stat label, image id)` of a local image; `None` when the image does not exist.
async fn image_labels(
    docker: &DockerScheduler,
    image: &str,
) -> Result<Option<(String, String, String)>, String> {
    match docker.client().inspect_image(image).await {
        Ok(info) => {
            let mut labels = info.config.and_then(|c| c.labels).unwrap_or_default();
            Ok(Some((
                labels.remove(HASH_LABEL).unwrap_or_default(),
                labels.remove(STAT_LABEL).unwrap_or_default(),
                info.id.unwrap_or_default(),
            )))
        }
        Err(e) if crate::scheduler::docker::status_of(&e) == Some(404) => Ok(None),
        Err(e) => Err(format!("inspecting image {image} failed: {e}")),
    }
}

/// Builds `image` from a tar context sent as `context` chunks.
async fn build(
    docker: &DockerScheduler,
    image: &str,
    context: impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send + 'static,
) -> Result<(), String> {
    let options = BuildImageOptionsBuilder::new()
        .t(image)
        .rm(true)
        .forcerm(true)
        .build();
    docker
        .client()
        .build_image(options, None, Some(bollard::body_try_stream(context)))
        .try_for_each(|_| futures_util::future::ready(Ok(())))
        .await
        .map_err(|e| format!("building image {image} failed: {}", docker.describe(&e)))?;
    tracing::info!(image, "built local image");
    Ok(())
}

/// A file read in 256 KiB chunks.
fn file_chunks(
    file: tokio::fs::File,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    use tokio::io::AsyncReadExt;
    futures_util::stream::try_unfold(file, |mut file| async move {
        let mut buf = vec![0u8; 256 * 1024];
        let n = file.read(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.truncate(n);
        Ok(Some((Bytes::from(buf), file)))
    })
}

fn entrypoint_json(args: &[&str]) -> String {
    let all: Vec<&str> = ["/gofer", "builtin"]
        .into_iter()
        .chain(args.iter().copied())
        .collect();
    serde_json::to_string(&all).unwrap_or_default()
}

/// `<size>:<mtime in ns>` of a file.
fn stat_of(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("cannot read the executable {}: {e}", path.display()))?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    Ok(format!("{}:{mtime}", meta.len()))
}

fn sha256_file(path: &Path) -> Result<String, String> {
    let fail = |e: std::io::Error| format!("cannot read the executable {}: {e}", path.display());
    let mut file = std::fs::File::open(path).map_err(fail)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1024 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(fail)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

fn dockerfile_only(dockerfile: &str) -> std::io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    append_dockerfile(&mut tar, dockerfile)?;
    tar.into_inner()
}

fn append_dockerfile<W: std::io::Write>(
    tar: &mut tar::Builder<W>,
    dockerfile: &str,
) -> std::io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_mode(0o644);
    header.set_size(dockerfile.len() as u64);
    tar.append_data(&mut header, "Dockerfile", dockerfile.as_bytes())
}

/// The full context, written to `tar_path`: the Dockerfile and `rootfs/` holding the executable
/// as `/gofer`, plus (for a dynamically linked executable) its ELF interpreter and the shared
/// libraries this process has loaded, at their host paths, and the host CA bundle when present.
fn write_full_context(tar_path: &Path, dockerfile: &str, executable: &Path) -> std::io::Result<()> {
    let file = std::fs::File::create(tar_path)?;
    let mut tar = tar::Builder::new(std::io::BufWriter::new(file));
    append_dockerfile(&mut tar, dockerfile)?;
    append_file(&mut tar, executable, Path::new("rootfs/gofer"))?;
    let mut files: Vec<PathBuf> = Vec::new();
    if let Some(interpreter) = elf_interpreter(executable)? {
        files.push(interpreter);
    }
    files.extend(loaded_libraries()?);
    files.extend(
        CA_BUNDLES
            .iter()
            .map(PathBuf::from)
            .filter(|p| p.is_file())
            .take(1),
    );
    files.sort();
    files.dedup();
    for path in files {
        let Ok(relative) = path.strip_prefix("/") else {
            continue;
        };
        append_file(&mut tar, &path, &Path::new("rootfs").join(relative))?;
    }
    let mut tmp = tar::Header::new_gnu();
    tmp.set_entry_type(tar::EntryType::Directory);
    tmp.set_mode(0o1777);
    tmp.set_size(0);
    tar.append_data(&mut tmp, "rootfs/tmp/", std::io::empty())?;
    tar.into_inner()?
        .into_inner()
        .map_err(|e| e.into_error())?
        .sync_all()
}

/// Appends the regular file `path` (symlinks followed) as `name`, with its mode and mtime, as a
/// plain entry: the tar crate may write GNU sparse entries for files with holes, which the
/// engine's image builder rejects ("unhandled tar header type 83").
fn append_file<W: std::io::Write>(
    tar: &mut tar::Builder<W>,
    path: &Path,
    name: &Path,
) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(meta.len());
    header.set_mode(meta.permissions().mode() & 0o7777);
    header.set_mtime(
        meta.modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs()),
    );
    tar.append_data(&mut header, name, file)
}

/// The `PT_INTERP` path of a 64-bit little-endian ELF executable (`None` for a static one).
fn elf_interpreter(executable: &Path) -> std::io::Result<Option<PathBuf>> {
    let mut file = std::fs::File::open(executable)?;
    let mut header = [0u8; 64];
    file.read_exact(&mut header)?;
    parse_interpreter(&header, |offset, len| {
        use std::io::{Seek, SeekFrom};
        let mut buf = vec![0u8; len];
        file.seek(SeekFrom::Start(offset))?;
        file.read_exact(&mut buf)?;
        Ok(buf)
    })
}

/// [`elf_interpreter`] over the ELF header and a reader of `(offset, length)` ranges.
fn parse_interpreter(
    header: &[u8; 64],
    mut read: impl FnMut(u64, usize) -> std::io::Result<Vec<u8>>,
) -> std::io::Result<Option<PathBuf>> {
    // ELF magic, 64-bit class, little endian.
    if header[..4] != *b"\x7fELF" || header[4] != 2 || header[5] != 1 {
        return Ok(None);
    }
    let u16_at = |b: &[u8], at: usize| u16::from_le_bytes([b[at], b[at + 1]]);
    let u64_at = |b: &[u8], at: usize| {
        let mut v = [0u8; 8];
        v.copy_from_slice(&b[at..at + 8]);
        u64::from_le_bytes(v)
    };
    let phoff = u64_at(header, 32);
    let phentsize = usize::from(u16_at(header, 54));
    let phnum = usize::from(u16_at(header, 56));
    if phentsize < 56 || phnum == 0 {
        return Ok(None);
    }
    let table = read(phoff, phentsize * phnum)?;
    for entry in table.chunks_exact(phentsize) {
        const PT_INTERP: u32 = 3;
        if u32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]) != PT_INTERP {
            continue;
        }
        let (offset, size) = (u64_at(entry, 8), u64_at(entry, 32));
        let size = usize::try_from(size).unwrap_or(0).min(4096);
        let raw = read(offset, size)?;
        let path = raw.split(|b| *b == 0).next().unwrap_or_default();
        return Ok(std::str::from_utf8(path)
            .ok()
            .filter(|p| p.starts_with('/'))
            .map(PathBuf::from));
    }
    Ok(None)
}

/// Shared libraries mapped into this process (`/proc/self/maps`), by their real paths.
fn loaded_libraries() -> std::io::Result<Vec<PathBuf>> {
    let maps = match std::fs::read_to_string("/proc/self/maps") {
        Ok(maps) => maps,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(libraries_in_maps(&maps))
}

fn libraries_in_maps(maps: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = maps
        .lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .filter(|path| path.starts_with('/'))
        .filter(|path| {
            Path::new(path)
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.contains(".so"))
        })
        .map(PathBuf::from)
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libraries_come_from_file_backed_mappings_of_shared_objects() {
        let maps = "\
55d0 r--p 00000000 fd:00 1 /usr/local/bin/gofer
7f00 r--p 00000000 fd:00 2 /usr/lib/x86_64-linux-gnu/libc.so.6
7f01 r-xp 00001000 fd:00 2 /usr/lib/x86_64-linux-gnu/libc.so.6
7f02 rw-p 00000000 00:00 0 [heap]
7f03 r--p 00000000 fd:00 3 /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
7f04 rw-p 00000000 00:00 0
7f05 r--p 00000000 fd:00 4 /data/gofer.redb
";
        assert_eq!(
            libraries_in_maps(maps),
            [
                PathBuf::from("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
                PathBuf::from("/usr/lib/x86_64-linux-gnu/libc.so.6"),
            ]
        );
    }

    #[test]
    fn the_interpreter_of_this_test_binary_is_found_or_absent_when_static() {
        let exe = std::env::current_exe().unwrap();
        let interpreter = elf_interpreter(&exe).unwrap();
        // Either a static build, or an absolute interpreter path that exists on this host.
        if let Some(path) = interpreter {
            assert!(path.is_absolute() && path.exists(), "{path:?}");
        }
    }

    #[test]
    fn non_elf_and_truncated_headers_have_no_interpreter() {
        let header = [0u8; 64];
        assert!(
            parse_interpreter(&header, |_, _| unreachable!())
                .unwrap()
                .is_none()
        );
        let mut elf = [0u8; 64];
        elf[..6].copy_from_slice(b"\x7fELF\x02\x01");
        // No program headers.
        assert!(
            parse_interpreter(&elf, |_, _| unreachable!())
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn entrypoints_run_the_builtin_subcommand() {
        assert_eq!(
            entrypoint_json(&["debug", "envs"]),
            r#"["/gofer","builtin","debug","envs"]"#
        );
    }
}
