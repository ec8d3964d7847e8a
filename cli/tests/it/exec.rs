//! `gofer pipeline exec` (docs/cli.md): a run on the local Docker engine through an in-process
//! server, with the run's exit code, and nothing left behind. Needs a Docker engine.

use crate::common::{gofer, run};
use crate::up::workspace_path;
use gofer_server::scheduler::{LABEL_MANAGED, LABEL_NAMESPACE, Scheduler};

/// The busybox test image, or `None` when Docker tests are skipped explicitly.
fn image() -> Option<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let docker = gofer_server::testing::require_docker().await?;
        Some(
            gofer_server::testing::busybox_image(&docker)
                .await
                .expect("the busybox test image builds"),
        )
    })
}

/// The namespace `exec` announced on stderr.
fn exec_namespace(stderr: &str) -> String {
    let start = stderr
        .find("(namespace '")
        .unwrap_or_else(|| panic!("no namespace announced:\n{stderr}"))
        + "(namespace '".len();
    let end = stderr[start..].find('\'').unwrap() + start;
    stderr[start..end].to_string()
}

/// No container of `namespace` exists any more, running or not.
fn assert_no_containers(namespace: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let left = runtime.block_on(async {
        let docker = gofer_server::testing::require_docker()
            .await
            .expect("docker");
        let labels = [
            (LABEL_MANAGED.to_owned(), "true".to_owned()),
            (LABEL_NAMESPACE.to_owned(), namespace.to_owned()),
        ]
        .into_iter()
        .collect();
        docker.list(&labels).await.unwrap()
    });
    assert!(left.is_empty(), "containers left behind: {left:?}");
}

/// `gofer pipeline exec` with its own TMPDIR, so that the test can see what it leaves there.
fn exec(tmp: &std::path::Path, image: &str, args: &[&str]) -> crate::common::Run {
    run(gofer()
        .args(["pipeline", "exec"])
        .args(args)
        .env("TMPDIR", tmp)
        .env("GOFER_EXAMPLE_IMAGE", image))
}

#[test]
fn exec_of_the_dag_example_succeeds_and_leaves_nothing_behind() {
    let Some(image) = image() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dag = workspace_path("examples/dag");
    let r = exec(tmp.path(), &image, &[dag.to_str().unwrap()]).expect(0);
    for line in [
        "check      | checking",
        "build      | building",
        "report     | build finished",
        "notify     | notified",
    ] {
        assert!(r.stdout.contains(line), "{line}\n{}", r.stdout);
    }
    assert!(
        !r.stdout.contains("on_failure"),
        "on_failure is skipped:\n{}",
        r.stdout
    );
    assert!(
        r.stderr.contains("on_failure: complete, skipped")
            && r.stderr.contains("run 1 of pipeline 'dag' successful"),
        "{}",
        r.stderr
    );
    assert_no_containers(&exec_namespace(&r.stderr));
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "temporary files left behind: {left:?}");
}

#[test]
fn exec_of_a_failing_pipeline_exits_8_with_variables_and_payload() {
    let Some(image) = image() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fails.json");
    let config = gofer_sdk::Pipeline::new("fails", "Fails").task(
        gofer_sdk::Task::new("boom", &image)
            .script("echo \"mode=$MODE payload=$GOFER_RUN_PAYLOAD\"; exit 3"),
    );
    std::fs::write(&file, config.to_json().unwrap()).unwrap();
    let payload = dir.path().join("payload.json");
    std::fs::write(&payload, r#"{"n": 1}"#).unwrap();
    let r = exec(
        tmp.path(),
        &image,
        &[
            file.to_str().unwrap(),
            "-v",
            "MODE=test",
            "--payload",
            payload.to_str().unwrap(),
        ],
    )
    .expect(8);
    // base64 of {"n":1}
    assert!(
        r.stdout.contains("boom | mode=test payload=eyJuIjoxfQ=="),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr.contains("run 1 of pipeline 'fails' ended failed"),
        "{}",
        r.stderr
    );
    assert_no_containers(&exec_namespace(&r.stderr));
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "temporary files left behind: {left:?}");

    // An invalid pipeline never starts a server: exit 7, nothing created.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"id": "abc", "name": "x", "tasks": []}"#).unwrap();
    let r = exec(tmp.path(), &image, &[bad.to_str().unwrap()]).expect(7);
    assert!(r.stderr.contains("config.tasks"), "{}", r.stderr);
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

/// Ctrl-C (SIGINT) while a task runs: exit 8, the running container and the data dir removed.
#[test]
fn exec_interrupted_by_ctrl_c_leaves_nothing_behind() {
    use std::io::BufRead;
    let Some(image) = image() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("long.json");
    let config = gofer_sdk::Pipeline::new("long", "Long")
        .task(gofer_sdk::Task::new("wait", &image).script("echo started; sleep 300"));
    std::fs::write(&file, config.to_json().unwrap()).unwrap();
    let mut child = crate::common::gofer_process()
        .args(["pipeline", "exec", file.to_str().unwrap()])
        .env("TMPDIR", tmp.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "exec ended before the task ran:\n{seen}"
        );
        seen.push_str(&line);
        if line.contains("wait: running (attempt 1)") {
            break;
        }
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    seen.push_str(&rest);
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(8), "{seen}");
    assert!(seen.contains("error: interrupted"), "{seen}");
    assert_no_containers(&exec_namespace(&seen));
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "temporary files left behind: {left:?}");
}
