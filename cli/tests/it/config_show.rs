//! `gofer config show`: effective CLI settings with their sources (docs/cli.md#global-flags). No server needed.

use crate::common::{gofer, run};
use serde_json::Value;

fn field<'a>(body: &'a Value, key: &str) -> (&'a Value, &'a str) {
    (&body[key]["value"], body[key]["source"].as_str().unwrap())
}

#[test]
fn flag_beats_env_beats_file_beats_default() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cli.toml");
    std::fs::write(
        &file,
        "namespace = \"from-file\"\napi_base_url = \"http://file:1\"\ntoken = \"file-secret\"\ndetail = true\n",
    )
    .unwrap();
    let r = run(gofer()
        .env("GOFER_NAMESPACE", "from-env")
        .env("GOFER_API_BASE_URL", "http://env:2")
        .args([
            "--config",
            file.to_str().unwrap(),
            "--namespace",
            "from-flag",
            "--output",
            "json",
            "config",
            "show",
        ]))
    .expect(0);
    assert!(!r.stdout.contains("file-secret"), "{}", r.stdout);
    let body: Value = r.json();
    assert_eq!(
        field(&body, "namespace"),
        (&Value::from("from-flag"), "flag")
    );
    assert_eq!(
        field(&body, "api_base_url"),
        (&Value::from("http://env:2"), "env")
    );
    assert_eq!(field(&body, "token"), (&Value::from("********"), "file"));
    assert_eq!(field(&body, "detail"), (&Value::from(true), "file"));
    assert_eq!(field(&body, "output"), (&Value::from("json"), "flag"));
    assert_eq!(field(&body, "debug"), (&Value::from(false), "default"));
    assert_eq!(
        field(&body, "config"),
        (&Value::from(file.to_str().unwrap()), "flag")
    );

    // Plain: one row per key, the source last, the token masked.
    let r = run(gofer()
        .env("GOFER_CONFIG", &file)
        .env("GOFER_TOKEN", "env-secret")
        .args(["config", "show"]))
    .expect(0);
    assert!(!r.stdout.contains("secret"), "{}", r.stdout);
    let row = |key: &str| {
        r.stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(key))
            .unwrap_or_else(|| panic!("no {key} row:\n{}", r.stdout))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(row("token"), ["token", "********", "env"]);
    assert_eq!(row("namespace"), ["namespace", "from-file", "file"]);
    assert_eq!(row("output"), ["output", "plain", "default"]);
    assert_eq!(row("config")[2], "env");
}

#[test]
fn api_token_fallback_and_default_config_file() {
    let xdg = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(xdg.path().join("gofer")).unwrap();
    std::fs::write(
        xdg.path().join("gofer/config.toml"),
        "output = \"json\"\nnope = 1\n",
    )
    .unwrap();
    let r = run(gofer()
        .env("XDG_CONFIG_HOME", xdg.path())
        .env("GOFER_API_TOKEN", "injected-secret")
        .args(["config", "show"]))
    .expect(0);
    assert!(
        r.stderr
            .contains("unknown configuration key 'nope' ignored"),
        "{}",
        r.stderr
    );
    let body: Value = r.json();
    assert_eq!(field(&body, "output"), (&Value::from("json"), "file"));
    assert_eq!(field(&body, "token"), (&Value::from("********"), "env"));
    assert_eq!(field(&body, "config").1, "default");
    assert_eq!(body["config"]["found"], Value::from(true));

    // Without any token the value is null and no Authorization header is sent.
    let r = run(gofer().args(["--output", "json", "config", "show"])).expect(0);
    let body: Value = r.json();
    assert_eq!(field(&body, "token"), (&Value::Null, "default"));
    assert_eq!(
        field(&body, "api_base_url"),
        (&Value::from("http://127.0.0.1:8080"), "default")
    );
}

#[test]
fn a_missing_explicit_config_file_is_invalid() {
    let r =
        run(gofer().args(["--config", "/nonexistent/gofer-cli.toml", "config", "show"])).expect(7);
    assert!(
        r.stderr.contains("/nonexistent/gofer-cli.toml"),
        "{}",
        r.stderr
    );
    let r = run(gofer()
        .env("GOFER_CONFIG", "/nonexistent/env.toml")
        .args(["namespace", "list"]))
    .expect(7);
    assert!(r.stderr.contains("/nonexistent/env.toml"), "{}", r.stderr);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "output = \"yaml\"\n").unwrap();
    let r = run(gofer().args(["--config", file.to_str().unwrap(), "config", "show"])).expect(7);
    assert!(r.stderr.contains("output"), "{}", r.stderr);
}
