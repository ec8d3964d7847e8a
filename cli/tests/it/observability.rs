//! The server's own logs: `service start --log-format json|pretty`, and the ids every log line
//! of a request carries (method, route template, request id).

use crate::common::unused_addr;
use crate::recovery::{Server, wait_for};
use serde_json::Value;

fn start(addr: &str, data: &std::path::Path, format: &str, log: &std::path::Path) -> Server {
    let log = std::fs::File::create(log).expect("create the log file");
    // The default config logs pretty; the flag must win.
    crate::recovery::spawn_server_with_args(
        addr,
        data,
        &["--log-format", format],
        &[("GOFER_WEB_DEVELOPMENT__PRETTY_LOGGING", "true")],
        log.into(),
    )
}

/// With `--log-format json` every line but the start-up banner is a JSON object, and a line logged while a request is
/// handled carries the request's method, route template and the request id its answer names.
/// With `--log-format pretty` the lines are text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_lines_are_json_or_pretty_and_carry_the_request_id() {
    let http = crate::common::http();
    let dir = tempfile::tempdir().unwrap();
    let addr = unused_addr().to_string();
    let log = dir.path().join("server.log");
    let server = start(&addr, &dir.path().join("data"), "json", &log);
    crate::defects::healthy(&http, &addr).await;
    let response = http
        .post(format!("http://{addr}/api/tokens/bootstrap"))
        .header("gofer-api-version", "v0")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let line = wait_for("the bootstrap log line", async || {
        std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .find(|l| l.contains("bootstrap token created"))
            .map(|l| Value::String(l.to_owned()))
    })
    .await;
    let text = std::fs::read_to_string(&log).unwrap();
    // Apart from the start-up banner (`gofer: listening on …`, `gofer: data dir …`), every
    // line is a JSON object.
    for l in text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("gofer: "))
    {
        serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
    }
    let line: Value = serde_json::from_str(line.as_str().unwrap()).unwrap();
    let span = &line["span"];
    assert_eq!(span["request_id"], request_id.as_str(), "{line}");
    assert_eq!(span["method"], "POST", "{line}");
    assert_eq!(span["route"], "/api/tokens/bootstrap", "{line}");
    drop(server);

    let addr = unused_addr().to_string();
    let log = dir.path().join("pretty.log");
    let _server = start(&addr, &dir.path().join("data2"), "pretty", &log);
    crate::defects::healthy(&http, &addr).await;
    let text = std::fs::read_to_string(&log).unwrap();
    let first = text
        .lines()
        .find(|l| !l.starts_with("gofer: "))
        .unwrap_or_default();
    assert!(
        !first.is_empty() && serde_json::from_str::<Value>(first).is_err(),
        "{text}"
    );
}
