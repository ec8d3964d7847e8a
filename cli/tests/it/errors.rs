//! Exit codes and error output (docs/cli.md#global-flags, docs/cli.md#exit-codes).

use crate::common::{TestServer, gofer, run, unused_addr};

#[test]
fn api_errors_map_to_exit_codes_and_show_the_request_id() {
    let server = TestServer::start();

    // 404 → 3
    let r = server.run(&["namespace", "get", "no-such-ns"]).expect(3);
    assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
    assert!(r.stderr.contains("(request_id "), "{}", r.stderr);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    server.run(&["pipeline", "get", "nope"]).expect(3);
    server
        .run(&["--namespace", "missing", "pipeline", "list"])
        .expect(3);

    // 400 → 7 (the id rule of docs/pipelines.md#identifiers; the message names the field, docs/pipelines.md#validation-errors)
    let r = server.run(&["namespace", "create", "x!"]).expect(7);
    assert!(r.stderr.contains("id"), "{}", r.stderr);
    assert!(r.stderr.contains("(request_id "), "{}", r.stderr);

    // 409 → 5
    let r = server.run(&["namespace", "create", "default"]).expect(5);
    assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
}

#[test]
fn unreachable_server_exits_6_with_a_hint() {
    let url = format!("http://{}", unused_addr());
    let r = run(gofer().args(["--api-base-url", &url, "namespace", "list"])).expect(6);
    assert_eq!(
        r.stderr.trim_end(),
        format!(
            "error: cannot reach the Gofer server at {url}: is the server running? start it with 'gofer service start'"
        )
    );
    // The URL may also come from the environment.
    run(gofer()
        .env("GOFER_API_BASE_URL", &url)
        .args(["pipeline", "list"]))
    .expect(6);
}

#[test]
fn usage_errors_exit_2() {
    run(gofer().args(["namespace"])).expect(2);
    run(gofer().args(["no-such-command"])).expect(2);
    // update needs --name or --description
    run(gofer().args(["namespace", "update", "team-a"])).expect(2);
    run(gofer().args(["pipeline", "config", "get", "simple", "latest"])).expect(2);
    run(gofer().args(["--output", "yaml", "namespace", "list"])).expect(2);
    // --help is not an error
    let r = run(gofer().args(["--help"])).expect(0);
    assert!(r.stdout.contains("namespace"), "{}", r.stdout);
}

#[test]
fn an_unusable_server_url_is_invalid_input() {
    let r = run(gofer().args(["--api-base-url", "not a url", "namespace", "list"])).expect(7);
    assert!(r.stderr.contains("not a url"), "{}", r.stderr);
}

/// With `--output json` an error is one JSON object on stderr with its exit code (and the
/// server's request id); the hidden `builtin` entrypoint is never suggested for a typo; global
/// flags are listed under their own heading in every subcommand's help.
#[test]
fn json_errors_suggestions_and_help_headings() {
    let server = TestServer::start();
    let r = server
        .run(&["--output", "json", "namespace", "get", "no-such-ns"])
        .expect(3);
    let body: serde_json::Value = serde_json::from_str(r.stderr.trim())
        .unwrap_or_else(|e| panic!("stderr is not JSON ({e}): {}", r.stderr));
    assert_eq!(body["exit_code"], 3, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("no-such-ns"),
        "{body}"
    );
    assert!(body["request_id"].as_str().is_some(), "{body}");

    let r = run(gofer().arg("buil")).expect(2);
    assert!(
        r.stderr.contains("unrecognized subcommand 'buil'") && !r.stderr.contains("builtin"),
        "{}",
        r.stderr
    );

    let r = run(gofer().args(["run", "cancel", "--help"])).expect(0);
    let (own, global) = r
        .stdout
        .split_once("Global options:")
        .unwrap_or_else(|| panic!("no Global options heading:\n{}", r.stdout));
    assert!(own.contains("--force"), "{}", r.stdout);
    assert!(!own.contains("--api-base-url"), "{}", r.stdout);
    assert!(global.contains("--api-base-url"), "{}", r.stdout);
}

/// A closed pipe ends the command quietly with 0, as git and ripgrep do, whether it is stdout
/// (`| head -1`) or stderr too (`2>&1 | head -1`).
#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    let server = TestServer::start();
    for redirect in ["", "2>&1"] {
        let script = format!(
            "{} --api-base-url {} event watch --history {redirect} | head -1 >/dev/null; \
             echo \"exit=${{PIPESTATUS[0]}}\" >&2",
            env!("CARGO_BIN_EXE_gofer"),
            server.url
        );
        let mut child = std::process::Command::new("bash")
            .args(["-c", &script])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // New events make the watch write again after `head` has gone; keep making them until
        // the command has ended.
        let client = server.client();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut n = 0;
        while child.try_wait().unwrap().is_none() {
            assert!(
                std::time::Instant::now() < deadline,
                "the watch did not end after its reader went away"
            );
            n += 1;
            let side = if redirect.is_empty() { "out" } else { "err" };
            let _ = server.block_on(client.create_namespace(
                &gofer_core::api::CreateNamespaceRequest {
                    id: format!("pipe-{side}-{n}"),
                    name: None,
                    description: None,
                },
            ));
        }
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("exit=0"), "{redirect}: {stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "{redirect}: {stderr}"
        );
    }
}

/// Completion asks the server for ids: pipelines of the namespace in effect (with their state),
/// namespaces, extensions; subcommands come from the command tree, never the hidden `builtin`;
/// an unreachable server completes no ids and writes nothing to stderr. Asked the way the
/// script asks (`COMPLETE=<shell> gofer -- <words>`), with fish's one-candidate-a-line answer.
#[test]
fn completion_offers_the_servers_ids() {
    let server = TestServer::start();
    server.run(&["namespace", "create", "data-team"]).expect(0);
    for p in ["alpha-etl", "beta-report"] {
        let config =
            serde_json::json!({"id": p, "name": p, "tasks": [{"id": "a", "image": "x/y:1"}]});
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.json");
        std::fs::write(&file, config.to_string()).unwrap();
        server.run(&["up", file.to_str().unwrap()]).expect(0);
    }
    let complete = |url: &str, words: &[&str]| {
        let mut cmd = gofer();
        cmd.env("COMPLETE", "fish")
            .env("GOFER_API_BASE_URL", url)
            .arg("--")
            .arg("gofer")
            .args(words);
        run(&mut cmd).expect(0)
    };
    let values = |out: &crate::common::Run| -> Vec<String> {
        out.stdout
            .lines()
            .filter(|l| !l.starts_with('-'))
            .map(str::to_owned)
            .collect()
    };
    let out = complete(&server.url, &["pipeline", "get", ""]);
    assert_eq!(
        values(&out),
        ["alpha-etl\tactive", "beta-report\tactive"],
        "{}",
        out.stdout
    );
    assert_eq!(
        values(&complete(&server.url, &["run", "list", "b"])),
        ["beta-report\tactive"]
    );
    let namespaces = values(&complete(&server.url, &["namespace", "get", ""]));
    assert!(
        namespaces.iter().any(|l| l.starts_with("data-team\t"))
            && namespaces.iter().any(|l| l.starts_with("default\t")),
        "{namespaces:?}"
    );
    let commands = values(&complete(&server.url, &["b"]));
    assert!(
        commands.is_empty(),
        "the hidden builtin is offered: {commands:?}"
    );
    let down = complete(
        &format!("http://{}", unused_addr()),
        &["pipeline", "get", ""],
    );
    assert!(values(&down).is_empty(), "{}", down.stdout);
    assert!(down.stderr.is_empty(), "{}", down.stderr);
}

/// `gofer completion` scripts parse in their shell, and `gofer man` renders with man; neither
/// needs a server (docs/cli.md#shell-completion-and-manual).
#[test]
fn completion_scripts_parse_and_the_manual_renders() {
    let bash = run(gofer().args(["completion", "bash"])).expect(0).stdout;
    assert!(bash.contains("_clap_complete_gofer()"), "{bash}");
    assert!(
        bash.contains("COMPLETE=\"bash\""),
        "the script calls back: {bash}"
    );
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("gofer.bash");
    std::fs::write(&script, &bash).unwrap();
    let checked = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&checked.stderr)
    );
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = run(gofer().args(["completion", shell])).expect(0).stdout;
        assert!(out.contains("gofer"), "{shell}: {out}");
    }
    assert!(
        run(gofer().args(["completion", "tcsh"]))
            .expect(2)
            .stderr
            .contains("invalid value 'tcsh'")
    );
    let page = dir.path().join("gofer.1");
    std::fs::write(&page, run(gofer().arg("man")).expect(0).stdout).unwrap();
    let rendered = std::process::Command::new("man")
        .args(["-l", "-P", "cat"])
        .arg(&page)
        .env("MANWIDTH", "100")
        .output()
        .expect("man is installed (.ci/run installs man-db)");
    let text = String::from_utf8_lossy(&rendered.stdout);
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    assert!(text.contains("NAME") && text.contains("gofer"), "{text}");
    assert!(text.contains("pipeline"), "the commands are listed: {text}");
    assert!(
        !text.contains("builtin"),
        "hidden entrypoints stay out: {text}"
    );
}

/// A payload argument takes `@file` as curl and gh do, a plain path, or `-` for stdin.
#[test]
fn payload_arguments_take_at_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.json");
    std::fs::write(&file, "{\"a\": 1}").unwrap();
    for source in [format!("@{}", file.display()), file.display().to_string()] {
        // No server: the payload is read (and checked) before any request; an unreachable
        // server is exit 6, a bad payload exit 7.
        let r = run(gofer()
            .args(["--api-base-url", &format!("http://{}", unused_addr())])
            .args(["run", "start", "p", "--payload", &source]))
        .expect(6);
        assert!(!r.stderr.contains("payload"), "{source}: {}", r.stderr);
    }
    let missing = run(gofer()
        .args(["--api-base-url", &format!("http://{}", unused_addr())])
        .args(["run", "start", "p", "--payload", "@/no/such/file.json"]))
    .expect(7);
    assert!(
        missing
            .stderr
            .contains("cannot read payload file '/no/such/file.json'"),
        "{}",
        missing.stderr
    );
}
