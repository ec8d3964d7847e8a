//! Exit codes and error output (SPEC §15.1, §15.2).

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

    // 400 → 7 (the id rule of SPEC §2.1; the message names the field, §2.2)
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
