//! `gofer secret …`, `gofer pipeline object …` and `gofer run object …` against the real server
//! (docs/objects-and-secrets.md, docs/cli.md), and a 1 GiB object streamed through the real server binary with its memory
//! measured.

use crate::common::{
    ContainerNamespace, TestServer, busybox_image, gofer, gofer_process, run, shell_task,
    test_config,
};
use gofer_core::api::{GetSecretResponse, ObjectResponse, ObjectsResponse, SecretsResponse};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

#[test]
fn secret_commands_never_print_a_value_unless_asked() {
    let server = TestServer::start();
    server.deploy("sec", vec![shell_task("t", "busybox", "true")]);
    let r = server
        .run(&[
            "secret",
            "pipeline",
            "put",
            "sec",
            "token",
            "cli-value-4f1e",
        ])
        .expect(0);
    assert_eq!(r.stdout, "secret 'token' stored\n");
    // Exists: 409 → exit 5 naming --force; -f replaces. A value from stdin drops one newline.
    let r = server
        .run(&["secret", "pipeline", "put", "sec", "token", "other"])
        .expect(5);
    assert!(
        r.stderr.contains("already exists; use force"),
        "{}",
        r.stderr
    );
    let r = run(server
        .gofer()
        .args(["secret", "pipeline", "put", "sec", "token", "@", "-f"])
        .write_stdin("from-stdin-77aa\n"))
    .expect(0);
    assert!(!r.stdout.contains("from-stdin"), "{}", r.stdout);

    let r = server
        .run(&["secret", "pipeline", "get", "sec", "token"])
        .expect(0);
    assert!(
        r.stdout.contains("token") && !r.stdout.contains("from-stdin"),
        "{}",
        r.stdout
    );
    let got: GetSecretResponse = server
        .run(&[
            "--output", "json", "secret", "pipeline", "get", "sec", "token",
        ])
        .expect(0)
        .json();
    assert_eq!(got.secret, None);
    let r = server
        .run(&["secret", "pipeline", "get", "sec", "token", "-i"])
        .expect(0);
    assert!(r.stdout.contains("from-stdin-77aa\n"), "{}", r.stdout);
    let list: SecretsResponse = server
        .run(&["--output", "json", "secret", "pipeline", "list", "sec"])
        .expect(0)
        .json();
    assert_eq!(list.secrets.len(), 1);

    // Global secrets: namespaces default to `.*`; bad input exits 7 naming the field.
    server
        .run(&["secret", "global", "put", "shared", "g-value-1234"])
        .expect(0);
    let got: GetSecretResponse = server
        .run(&[
            "--output",
            "json",
            "secret",
            "global",
            "get",
            "shared",
            "--include-secret",
        ])
        .expect(0)
        .json();
    assert_eq!(got.metadata.namespaces, [".*"]);
    assert_eq!(got.secret.as_deref(), Some("g-value-1234"));
    let r = server
        .run(&["secret", "global", "put", "bad", "v", "--namespaces", "("])
        .expect(7);
    assert!(
        r.stderr.contains("namespaces[0]: not a valid regex"),
        "{}",
        r.stderr
    );
    let r = server
        .run(&["secret", "pipeline", "put", "sec", "../x", "v"])
        .expect(7);
    assert!(
        r.stderr.contains("key: must be 1-128 characters"),
        "{}",
        r.stderr
    );

    server
        .run(&["secret", "global", "delete", "shared"])
        .expect(0);
    server.run(&["secret", "global", "get", "shared"]).expect(3);
    server
        .run(&["secret", "pipeline", "delete", "sec", "token"])
        .expect(0);
    server
        .run(&["secret", "pipeline", "delete", "sec", "token"])
        .expect(3);
}

#[test]
fn object_commands_put_get_list_delete() {
    let namespace = ContainerNamespace::new();
    let server = TestServer::start();
    let Some(image) = busybox_image(&server) else {
        return;
    };
    let ns = server.create_namespace(&namespace);
    let ns = ns.as_str();
    server.deploy_in(ns, "objs", vec![shell_task("t", &image, "true")]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.bin");
    std::fs::write(&file, b"\x00\x01binary\xff").unwrap();

    let put: ObjectResponse = server
        .run_in(
            ns,
            &[
                "--output",
                "json",
                "pipeline",
                "object",
                "put",
                "objs",
                "bin",
                file.to_str().unwrap(),
            ],
        )
        .expect(0)
        .json();
    assert_eq!(put.object.key, "bin");
    let r = run(server
        .gofer()
        .args([
            "--namespace",
            ns,
            "pipeline",
            "object",
            "put",
            "objs",
            "text",
            "@",
        ])
        .write_stdin("hello object"))
    .expect(0);
    assert_eq!(r.stdout, "object 'text' stored\n");
    server
        .run_in(
            ns,
            &[
                "pipeline",
                "object",
                "put",
                "objs",
                "text",
                file.to_str().unwrap(),
            ],
        )
        .expect(5);
    server
        .run_in(
            ns,
            &[
                "pipeline",
                "object",
                "put",
                "objs",
                "../x",
                file.to_str().unwrap(),
            ],
        )
        .expect(7);
    server
        .run_in(
            ns,
            &["pipeline", "object", "put", "objs", "x", "/no/such/file"],
        )
        .expect(7);

    // Raw bytes to stdout or a file; --stringify for small text only.
    let out = gofer()
        .args(["--api-base-url", &server.url, "--namespace", ns])
        .args(["pipeline", "object", "get", "objs", "bin"])
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"\x00\x01binary\xff");
    let copy = dir.path().join("copy.bin");
    server
        .run_in(
            ns,
            &[
                "pipeline",
                "object",
                "get",
                "objs",
                "bin",
                "-o",
                copy.to_str().unwrap(),
            ],
        )
        .expect(0);
    assert_eq!(std::fs::read(&copy).unwrap(), b"\x00\x01binary\xff");
    let r = server
        .run_in(
            ns,
            &["pipeline", "object", "get", "objs", "text", "--stringify"],
        )
        .expect(0);
    assert_eq!(r.stdout, "hello object\n");
    let r = server
        .run_in(
            ns,
            &["pipeline", "object", "get", "objs", "bin", "--stringify"],
        )
        .expect(7);
    assert!(r.stderr.contains("not UTF-8"), "{}", r.stderr);
    std::fs::write(&file, vec![b'a'; 2048]).unwrap();
    server
        .run_in(
            ns,
            &[
                "pipeline",
                "object",
                "put",
                "objs",
                "text",
                file.to_str().unwrap(),
                "--force",
            ],
        )
        .expect(0);
    let r = server
        .run_in(
            ns,
            &["pipeline", "object", "get", "objs", "text", "--stringify"],
        )
        .expect(7);
    assert!(r.stderr.contains("1 KiB or larger"), "{}", r.stderr);

    let list: ObjectsResponse = server
        .run_in(
            ns,
            &["--output", "json", "pipeline", "object", "list", "objs"],
        )
        .expect(0)
        .json();
    let keys: Vec<&str> = list.objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, ["bin", "text"]);
    server
        .run_in(ns, &["pipeline", "object", "delete", "objs", "bin"])
        .expect(0);
    server
        .run_in(ns, &["pipeline", "object", "get", "objs", "bin"])
        .expect(3);

    // Run objects.
    server.run_in(ns, &["run", "start", "objs"]).expect(0);
    server.finish_runs(ns, "objs");
    let r = run(server
        .gofer()
        .args([
            "--namespace",
            ns,
            "run",
            "object",
            "put",
            "objs",
            "1",
            "note",
            "-",
        ])
        .write_stdin("run note"))
    .expect(0);
    assert_eq!(r.stdout, "object 'note' stored\n");
    let r = server
        .run_in(
            ns,
            &["run", "object", "get", "objs", "1", "note", "--stringify"],
        )
        .expect(0);
    assert_eq!(r.stdout, "run note\n");
    let r = server
        .run_in(ns, &["run", "object", "list", "objs", "1"])
        .expect(0);
    assert!(r.stdout.contains("note"), "{}", r.stdout);
    server
        .run_in(ns, &["run", "object", "delete", "objs", "1", "note"])
        .expect(0);
    server
        .run_in(ns, &["run", "object", "list", "objs", "9"])
        .expect(3);
}

/// Kills the server on drop so a failing test leaves nothing running.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Resident and peak resident set of a process, in bytes (`/proc/<pid>/status`).
fn rss(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("{name} missing from /proc/{pid}/status"))
            * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

const GIB: u64 = 1024 * 1024 * 1024;
const MIB: u64 = 1024 * 1024;

#[test]
fn a_1_gib_object_streams_through_the_server_with_bounded_memory() {
    // The real binary, so that its memory is its own.
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(&dir.path().join("data"));
    let config_path = dir.path().join("gofer_web.toml");
    std::fs::write(&config_path, toml::to_string(&config).unwrap()).unwrap();
    let mut child = gofer_process()
        .args([
            "service",
            "start",
            "--config",
            config_path.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let server = Server(child);
    let pid = server.0.id();
    // Keep draining stderr for the server's whole life (a closed pipe would fail its writes).
    let (found, address) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("gofer: listening on ") {
                let _ = found.send(rest.to_string());
            }
        }
    });
    let url = address
        .recv_timeout(Duration::from_secs(60))
        .expect("the server printed its address");
    let gofer_at = |args: &[&str]| run(gofer().args(["--api-base-url", &url]).args(args));

    // A pipeline to hold the object (registered through the SDK).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = gofer_sdk::Client::new(&url, None).unwrap();
    let config = gofer_core::api::PipelineConfigInput {
        id: "big".into(),
        name: "big".into(),
        tasks: vec![shell_task("t", "busybox", "true")],
        ..Default::default()
    };
    runtime
        .block_on(client.register_config("default", "big", &config))
        .unwrap();

    // Warm up the request path with a small object, then take the baseline.
    let small = dir.path().join("small.bin");
    std::fs::write(&small, vec![7u8; MIB as usize]).unwrap();
    gofer_at(&[
        "pipeline",
        "object",
        "put",
        "big",
        "warm",
        small.to_str().unwrap(),
    ])
    .expect(0);
    gofer_at(&[
        "pipeline",
        "object",
        "get",
        "big",
        "warm",
        "-o",
        small.to_str().unwrap(),
    ])
    .expect(0);
    let (baseline, _) = rss(pid);

    // A sparse 1 GiB file with a marker at both ends (generated, not written to disk).
    let source = dir.path().join("one-gib.bin");
    {
        let mut f = std::fs::File::create(&source).unwrap();
        f.set_len(GIB).unwrap();
        use std::io::Write;
        f.write_all(b"start-marker").unwrap();
        f.seek(SeekFrom::Start(GIB - 10)).unwrap();
        f.write_all(b"end-marker").unwrap();
    }

    // Sample the server's RSS while the object goes up and comes back down.
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let sampler = std::thread::spawn(move || {
        let mut peak = 0u64;
        loop {
            peak = peak.max(rss(pid).0);
            if stopped.recv_timeout(Duration::from_millis(20)).is_ok() {
                return peak;
            }
        }
    });
    let started = Instant::now();
    gofer_at(&[
        "pipeline",
        "object",
        "put",
        "big",
        "one-gib",
        source.to_str().unwrap(),
    ])
    .expect(0);
    let uploaded = started.elapsed();
    // Download to a pipe, not a file: the test reads and checks the stream as it comes, so the
    // object is on disk once (in the server's store) rather than twice.
    let started = Instant::now();
    let mut download = gofer_process()
        .args(["--api-base-url", &url])
        .args(["pipeline", "object", "get", "big", "one-gib"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (received, head, tail) = {
        let mut out = download.stdout.take().unwrap();
        let mut received = 0u64;
        let mut head = Vec::new();
        let mut tail: Vec<u8> = Vec::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = out.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            if head.len() < 12 {
                head.extend_from_slice(&buf[..n.min(12 - head.len())]);
            }
            tail.extend_from_slice(&buf[..n]);
            let keep = tail.len().saturating_sub(10);
            tail.drain(..keep);
            received += n as u64;
        }
        (received, head, tail)
    };
    let finished = download.wait_with_output().unwrap();
    assert!(
        finished.status.success(),
        "object get failed: {}",
        String::from_utf8_lossy(&finished.stderr)
    );
    let downloaded = started.elapsed();
    stop.send(()).unwrap();
    let sampled_peak = sampler.join().unwrap();
    let (_, hwm) = rss(pid);
    eprintln!(
        "1 GiB object: up {uploaded:?}, down {downloaded:?}; server RSS baseline {} MiB, \
         sampled peak {} MiB, VmHWM {} MiB",
        baseline / MIB,
        sampled_peak / MIB,
        hwm / MIB
    );
    assert!(
        sampled_peak.saturating_sub(baseline) < 20 * MIB,
        "the server's RSS rose by {} MiB while streaming 1 GiB",
        (sampled_peak - baseline) / MIB
    );

    assert_eq!(received, GIB);
    assert_eq!(head, b"start-marker");
    assert_eq!(tail, b"end-marker");
}
