//! The pipeline builder, `gofer up` and `gofer pipeline validate` (docs/pipelines.md#writing-a-pipeline-config, docs/cli.md#pipelines-as-code)
//! against the real server. Pipeline programs are built with cargo into this build's target dir,
//! so only the small example binaries compile here.

use crate::common::{TestServer, gofer, run};
use gofer_core::api::{Config, Deployment, Pipeline as Registered, RegisterConfigRequest};
use gofer_core::enums::ConfigState;
use gofer_sdk::{Pipeline, Requires, Task, task_result};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The examples the workspace ships (`examples/<name>`, pipeline id = name).
pub const EXAMPLES: &[&str] = &["simple", "dag", "secrets", "objects", "payload-result"];

/// `<workspace>/<rel>`.
pub fn workspace_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

#[derive(Debug, Deserialize)]
struct UpOutput {
    pipeline: Registered,
    deployment: Option<Deployment>,
}

/// Every validation rule the builder can break: `finish()`/`validate()` and the server's
/// registration give the same message, because they run the same validator.
#[test]
fn builder_errors_equal_the_server_messages() {
    let server = TestServer::start();
    let client = server.client();
    let ok = || Task::new("a", "busybox:latest");
    let cases: Vec<Pipeline> = vec![
        Pipeline::new("abc", "").task(ok()),
        Pipeline::new("abc", "No tasks"),
        Pipeline::new("abc", "Bad task id").task(Task::new("bad id", "i")),
        Pipeline::new("abc", "Duplicate").tasks([ok(), ok()]),
        Pipeline::new("abc", "Empty image").task(Task::new("a", "")),
        Pipeline::new("abc", "Unknown").task(ok().depends_on("nope", Requires::Success)),
        Pipeline::new("abc", "Self").task(ok().depends_on("a", Requires::Any)),
        Pipeline::new("abc", "Cycle").tasks([
            ok().depends_on("b", Requires::Any),
            Task::new("b", "i").depends_on("a", Requires::Any),
        ]),
        Pipeline::new("abc", "Var").task(ok().variable("MY KEY", "v")),
        Pipeline::new("abc", "Retries").task(ok().retries(11, Duration::from_secs(1))),
        Pipeline::new("abc", "Registry").task(ok().registry_auth("", "p")),
        Pipeline::new("abc", "Result")
            .tasks([ok().variable("R", task_result("b")), Task::new("b", "i")]),
        Pipeline::new("abc", "Description").task(ok().description("x".repeat(4097))),
    ];
    for pipeline in cases {
        let local = pipeline.validate().unwrap_err().to_string();
        let remote = server
            .block_on(client.register_config("default", "abc", pipeline.config()))
            .unwrap_err();
        match remote {
            gofer_sdk::Error::Api {
                status: 400,
                message,
                ..
            } => assert_eq!(local, message, "{:?}", pipeline.config().name),
            other => panic!("expected a 400, got {other:?}"),
        }
    }
}

/// `gofer up` on every example directory registers and deploys it, and what the server stored
/// is exactly what the builder validated (the JSON round-trips through registration).
#[test]
fn up_registers_and_deploys_every_example() {
    let server = TestServer::start();
    for example in EXAMPLES {
        let dir = workspace_path(&format!("examples/{example}"));
        let r = server
            .run(&["up", dir.to_str().unwrap(), "--output", "json"])
            .expect(0);
        let out: UpOutput = r.json();
        let config = &out.pipeline.config;
        assert_eq!(config.pipeline_id, *example);
        let deployment = out.deployment.expect("deployed");
        assert_eq!(deployment.end_version, config.version);
        let live = server
            .block_on(server.client().get_config("default", example, 0))
            .unwrap();
        assert_eq!(live.state, ConfigState::Live, "{example}");

        // The same program through `pipeline validate`: no server involved, same config.
        let local: RegisterConfigRequest = run(gofer().args([
            "pipeline",
            "validate",
            dir.to_str().unwrap(),
            "--output",
            "json",
        ]))
        .expect(0)
        .json();
        let valid = gofer_core::validate::validate_config(&local.config.id, &local.config).unwrap();
        let expected: Config = valid.into_config("default", config.version, config.registered);
        assert_eq!(config.tasks, expected.redacted().tasks, "{example}");
        assert_eq!(
            (&config.name, &config.description, config.parallelism),
            (&expected.name, &expected.description, expected.parallelism)
        );
    }
}

fn write_config(dir: &Path, build_command: &str) -> PathBuf {
    let file = dir.join("pipeline.json");
    let config = Pipeline::new("changes", "Changes").tasks([
        Task::new("check", "busybox:latest").script("echo check"),
        Task::new("build", "busybox:latest")
            .script(build_command)
            .depends_on("check", Requires::Success),
        Task::new("ship", "busybox:latest").depends_on("build", Requires::Success),
    ]);
    std::fs::write(&file, config.to_json().unwrap()).unwrap();
    file
}

/// A second `up` with one task changed prints exactly that change; an unchanged one says so;
/// `--no-deploy` registers without deploying.
#[test]
fn up_prints_exactly_what_changed_against_the_live_version() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let file = write_config(dir.path(), "make");
    let path = file.to_str().unwrap();

    let first = server.run(&["up", path]).expect(0);
    assert!(
        first.stdout.starts_with(
            "registered version 1 of pipeline 'changes' in namespace 'default'\n\
             no live version before: 3 task(s) added: build, check, ship\n\
             deployed version 1 (deployment 1): successful\n"
        ),
        "{}",
        first.stdout
    );
    assert!(
        first.stdout.contains("gofer run start changes --watch"),
        "next commands: {}",
        first.stdout
    );

    write_config(dir.path(), "make release");
    let second = server.run(&["up", path]).expect(0);
    assert!(
        second.stdout.starts_with(
            "registered version 2 of pipeline 'changes' in namespace 'default'\n\
             changes against live version 1:\n~ task build\n    command: [\"sh\",\"-c\",\"make\"] → [\"sh\",\"-c\",\"make release\"]\n\
             deployed version 2 (deployment 2): successful\n"
        ),
        "{}",
        second.stdout
    );

    // The same config again registers nothing, deployed or not.
    for args in [vec!["up", path], vec!["up", path, "--no-deploy"]] {
        let same = server.run(&args).expect(0);
        assert!(
            same.stdout.starts_with(
                "pipeline 'changes' is unchanged: live version 2 already has this config; nothing registered\n"
            ),
            "{}",
            same.stdout
        );
    }
    let configs = server
        .block_on(server.client().list_configs("default", "changes", None))
        .unwrap();
    assert_eq!(configs.len(), 2, "{configs:?}");

    write_config(dir.path(), "make again");
    let third = server.run(&["up", path, "--no-deploy"]).expect(0);
    assert!(
        third.stdout.contains("changes against live version 2:")
            && third
                .stdout
                .contains("not deployed (--no-deploy); make it live with 'gofer pipeline config deploy changes 3'"),
        "{}",
        third.stdout
    );
    let live = server
        .block_on(server.client().get_config("default", "changes", 2))
        .unwrap();
    assert_eq!(live.state, ConfigState::Live);

    // `{"config": …}` from stdin works too.
    write_config(dir.path(), "make once more");
    let wrapped = format!(
        "{{\"config\": {}}}",
        std::fs::read_to_string(&file).unwrap()
    );
    let r = run(server.gofer().args(["up", "-"]).write_stdin(wrapped)).expect(0);
    assert!(r.stdout.contains("registered version 4"), "{}", r.stdout);
}

/// Bad input exits 7 before anything is sent; a config the server refuses is its 400 (exit 7).
#[test]
fn up_and_validate_refuse_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let bad_json = dir.path().join("bad.json");
    std::fs::write(&bad_json, "{ not json").unwrap();
    let r = run(gofer().args(["pipeline", "validate", bad_json.to_str().unwrap()])).expect(7);
    assert!(r.stderr.contains("invalid pipeline JSON"), "{}", r.stderr);

    let invalid = dir.path().join("invalid.json");
    std::fs::write(&invalid, Pipeline::new("abc", "Abc").config_json_for_test()).unwrap();
    let r = run(gofer().args(["pipeline", "validate", invalid.to_str().unwrap()])).expect(7);
    assert_eq!(
        r.stderr,
        "error: invalid pipeline: config.tasks: must contain at least one task\n"
    );
    let r = run(gofer().args(["up", "/no/such/thing"])).expect(7);
    assert!(r.stderr.contains("does not exist"), "{}", r.stderr);
    let r = run(gofer().args(["up", dir.path().to_str().unwrap()])).expect(7);
    assert!(
        r.stderr.contains("neither a Cargo.toml nor a go.mod"),
        "{}",
        r.stderr
    );

    let server = TestServer::start();
    let r = server.run(&["up", invalid.to_str().unwrap()]).expect(7);
    assert!(
        r.stderr
            .starts_with("error: config.tasks: must contain at least one task (request_id "),
        "{}",
        r.stderr
    );
}

/// Serialises a pipeline without validating it (test-only shortcut).
trait ConfigJson {
    fn config_json_for_test(&self) -> String;
}

impl ConfigJson for Pipeline {
    fn config_json_for_test(&self) -> String {
        serde_json::to_string(self.config()).unwrap()
    }
}

/// A pipeline program that does not compile: exit 9 with the compiler's error and the command
/// to reproduce it. The crate lives in a temp dir, depends on gofer-sdk by path and builds into
/// this build's target dir, offline, with the workspace's lock file and build profile (so the
/// dependencies already built for the workspace are reused, not built and stored a second time).
#[test]
fn up_of_a_pipeline_that_fails_to_compile_exits_9() {
    let dir = tempfile::tempdir().unwrap();
    let sdk = workspace_path("sdk");
    std::fs::write(
        dir.path().join("Cargo.toml"),
        format!(
            "[package]\nname = \"broken-pipeline\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
             [dependencies]\ngofer-sdk = {{ path = {:?}, default-features = false }}\n\n[workspace]\n\n\
             [profile.dev]\ndebug = \"line-tables-only\"\n\n\
             [profile.dev.package.\"*\"]\nopt-level = 1\ndebug = false\n",
            sdk.display().to_string()
        ),
    )
    .unwrap();
    std::fs::copy(workspace_path("Cargo.lock"), dir.path().join("Cargo.lock")).unwrap();
    std::fs::create_dir(dir.path().join("src")).unwrap();
    std::fs::write(
        dir.path().join("src/main.rs"),
        "fn main() {\n    let _id: u32 = \"not a number\";\n    gofer_sdk::Pipeline::new(\"broken\", \"Broken\").finish();\n}\n",
    )
    .unwrap();
    let mut cmd = gofer();
    cmd.args(["up", dir.path().to_str().unwrap()])
        .env("CARGO_NET_OFFLINE", "true");
    // Reuse this build's artifacts (the binary lives in <target>/debug).
    let target_dir = std::env::var_os("CARGO_TARGET_DIR").is_none().then(|| {
        Path::new(env!("CARGO_BIN_EXE_gofer"))
            .parent()
            .and_then(Path::parent)
            .unwrap()
            .to_path_buf()
    });
    if let Some(target) = &target_dir {
        cmd.env("CARGO_TARGET_DIR", target);
    }
    let r = run(&mut cmd).expect(9);
    assert!(
        r.stderr.contains(&format!(
            "error: the pipeline program at '{}' failed",
            dir.path().display()
        )) && r.stderr.contains("mismatched types")
            && r.stderr.contains(&format!(
                "reproduce with: cargo run --quiet --manifest-path {}",
                dir.path().join("Cargo.toml").display()
            )),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty(), "{}", r.stdout);

    // A program that compiles but builds an invalid config: finish() prints the validator's
    // message and exits 1, so `up` and `pipeline validate` exit 9 and show it.
    std::fs::write(
        dir.path().join("src/main.rs"),
        "use gofer_sdk::{Pipeline, Requires, Task};\n\
         fn main() {\n    Pipeline::new(\"broken\", \"Broken\")\n        \
         .task(Task::new(\"a\", \"busybox\").depends_on(\"nope\", Requires::Success))\n        \
         .finish();\n}\n",
    )
    .unwrap();
    for command in [&["up"][..], &["pipeline", "validate"][..]] {
        let mut cmd = gofer();
        cmd.args(command)
            .arg(dir.path())
            .env("CARGO_NET_OFFLINE", "true");
        if let Some(target) = &target_dir {
            cmd.env("CARGO_TARGET_DIR", target);
        }
        let r = run(&mut cmd).expect(9);
        assert!(
            r.stderr.contains(
                "  error: invalid pipeline 'broken': task 'a': depends_on references unknown task 'nope'\n"
            ),
            "{}",
            r.stderr
        );
    }
}

/// `up` takes the deploy strategy flags: it prints the diff against the live version, then
/// starts the canary; a first version has nothing to compare a canary with and goes live at once.
#[test]
fn up_with_a_canary_prints_the_diff_then_starts_it() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let file = write_config(dir.path(), "make");
    let path = file.to_str().unwrap();
    let first = server
        .run(&["up", path, "--canary", "20", "--bake", "4"])
        .expect(0);
    assert!(
        first.stdout.contains(
            "no live version to compare a canary with: this first version goes live at once"
        ),
        "{}",
        first.stdout
    );
    write_config(dir.path(), "make release");
    let second = server
        .run(&["up", path, "--canary", "20", "--bake", "4"])
        .expect(0);
    let diff = second
        .stdout
        .find("~ task build")
        .expect("the diff is printed");
    let canary = second
        .stdout
        .find("canary deployment 2 of pipeline 'changes' started: version 2 gets 20% of new runs")
        .unwrap_or_else(|| panic!("{}", second.stdout));
    assert!(
        diff < canary,
        "the diff comes before the deployment: {}",
        second.stdout
    );
    let d = server
        .block_on(server.client().get_deployment("default", "changes", 2))
        .unwrap();
    assert_eq!(d.state, gofer_core::enums::DeploymentState::Running);
    assert_eq!(
        d.canary.unwrap().policy.bake,
        gofer_core::canary::Bake::Runs(4)
    );
    // A bad strategy is refused before anything is registered.
    write_config(dir.path(), "make again");
    let bad = server.run(&["up", path, "--canary", "200"]).expect(7);
    assert!(
        bad.stderr.contains("--canary: must be 1-100"),
        "{}",
        bad.stderr
    );
    let configs = server
        .block_on(server.client().list_configs("default", "changes", None))
        .unwrap();
    assert_eq!(configs.len(), 2);
    // While the canary runs, another up registers but its deploy is refused (409, exit 5).
    let busy = server.run(&["up", path]).expect(5);
    assert!(
        busy.stderr.contains("already in progress"),
        "{}",
        busy.stderr
    );
}
