//! `gofer token …` and `gofer role …` against a real server without the dev bypass (docs/auth.md,
//! docs/cli.md#global-flags, docs/cli.md), and the exit codes of auth failures (docs/cli.md#exit-codes).

use crate::common::{TestServer, run};
use gofer_core::api::{CreatedToken, RoleResponse, TokenResponse, TokensResponse};

#[test]
fn token_and_role_commands() {
    let server = TestServer::start_strict();
    // Without a token nothing but bootstrap works: exit 4 (docs/cli.md#exit-codes).
    let r = server.run(&["token", "whoami"]).expect(4);
    assert!(
        r.stderr.contains("authorization header missing"),
        "{}",
        r.stderr
    );

    let created: CreatedToken = server
        .run(&["token", "bootstrap", "--output", "json"])
        .expect(0)
        .json();
    let admin = created.secret.clone();
    assert_eq!(admin.len(), 40);
    let r = server.run(&["token", "bootstrap"]).expect(5);
    assert!(
        r.stderr.contains("bootstrap token already exists"),
        "{}",
        r.stderr
    );

    // --token, GOFER_TOKEN, and GOFER_API_TOKEN as the fallback (what a task gets).
    let r = server
        .run(&["--token", &admin, "token", "whoami"])
        .expect(0);
    assert!(r.stdout.contains("bootstrap"), "{}", r.stdout);
    let me: TokenResponse = run(server
        .gofer()
        .env("GOFER_API_TOKEN", &admin)
        .args(["token", "whoami", "--output", "json"]))
    .expect(0)
    .json();
    assert_eq!(me.token.user, "bootstrap");
    let r = run(server
        .gofer()
        .env("GOFER_TOKEN", "not-a-real-token")
        .env("GOFER_API_TOKEN", &admin)
        .args(["token", "whoami"]))
    .expect(4);
    assert!(r.stderr.contains("invalid token"), "{}", r.stderr);

    let as_admin = |args: &[&str]| run(server.gofer().env("GOFER_TOKEN", &admin).args(args));

    // Roles: create with the --permission syntax; output is canonical.
    let r = as_admin(&[
        "role",
        "create",
        "team-reader",
        "--description",
        "reads team namespaces",
        "--permission",
        "Namespaces:team-.*,pipelines=read",
    ])
    .expect(0);
    assert_eq!(r.stdout, "role 'team-reader' created\n");
    let role: RoleResponse = as_admin(&["role", "get", "team-reader", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(
        role.role.permissions[0].resources,
        ["namespaces:team-.*", "pipelines"]
    );
    let r = as_admin(&["role", "get", "team-reader"]).expect(0);
    assert!(
        r.stdout.contains("namespaces:team-.*,pipelines=read"),
        "{}",
        r.stdout
    );
    // Bad input: the flag syntax is checked locally (exit 2), kinds by the server (exit 7).
    let r = as_admin(&["role", "create", "broken", "--permission", "runs"]).expect(2);
    assert!(r.stderr.contains("expected <resource>"), "{}", r.stderr);
    let r = as_admin(&["role", "create", "broken", "--permission", "bogus=read"]).expect(7);
    assert!(
        r.stderr.contains("unknown resource kind 'bogus'"),
        "{}",
        r.stderr
    );
    let r = as_admin(&["role", "create", "broken"]).expect(7);
    assert!(
        r.stderr.contains("at least one --permission"),
        "{}",
        r.stderr
    );
    // --interactive reads one permission per line until an empty line; bad lines are retried.
    let r = run(server
        .gofer()
        .env("GOFER_TOKEN", &admin)
        .args([
            "role",
            "create",
            "asked",
            "--interactive",
            "--output",
            "json",
        ])
        .write_stdin("runs=fly\nruns,events=read\n\n"));
    let r = r.expect(0);
    let asked: RoleResponse = r.json();
    assert_eq!(asked.role.permissions.len(), 1);
    assert_eq!(asked.role.permissions[0].resources, ["runs", "events"]);
    assert!(r.stderr.contains("unknown action 'fly'"), "{}", r.stderr);
    // System roles cannot change: 403, exit 4.
    let r = as_admin(&["role", "update", "admin", "--description", "mine"]).expect(4);
    assert!(r.stderr.contains("system role"), "{}", r.stderr);
    let r = as_admin(&["role", "list"]).expect(0);
    for id in ["admin", "anonymous", "bootstrap", "user", "team-reader"] {
        assert!(r.stdout.contains(id), "{}", r.stdout);
    }

    // Tokens: create prints the secret once; list never shows it.
    let created: CreatedToken = as_admin(&[
        "token",
        "create",
        "rita",
        "-r",
        "team-reader",
        "-e",
        "3600",
        "-m",
        "team=x",
        "--output",
        "json",
    ])
    .expect(0)
    .json();
    let rita = created.secret.clone();
    let id = created.token_details.id.clone();
    assert_eq!(created.token_details.roles, ["team-reader"]);
    assert_eq!(created.token_details.metadata["team"], "x");
    let r = as_admin(&["token", "create", "plain-user", "-r", "user"]).expect(0);
    assert!(
        r.stdout.contains("secret: ") && r.stdout.contains("shown only now"),
        "{}",
        r.stdout
    );
    let list: TokensResponse = as_admin(&["token", "list", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(list.tokens.len(), 3);
    let r = as_admin(&["token", "list"]).expect(0);
    assert!(
        r.stdout.contains("rita") && !r.stdout.contains(&rita),
        "{}",
        r.stdout
    );
    let r = as_admin(&["token", "create", "x", "-r", "bootstrap"]).expect(4);
    assert!(r.stderr.contains("cannot be given"), "{}", r.stderr);

    // --expiry takes seconds, a duration or an RFC 3339 time with an offset.
    let now_ms = jiff::Timestamp::now().as_millisecond() as u64;
    let at = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(48))
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(2)))
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string();
    for (expiry, hours) in [("7200", 2), ("30d", 720), (at.as_str(), 48)] {
        let created: CreatedToken = as_admin(&[
            "token", "create", "temp", "-r", "user", "--expiry", expiry, "--output", "json",
        ])
        .expect(0)
        .json();
        let expires = created.token_details.expires;
        let wanted = now_ms + hours * 3_600_000;
        assert!(
            expires.abs_diff(wanted) < 120_000,
            "--expiry {expiry}: expires {expires}, wanted about {wanted}"
        );
        as_admin(&["token", "delete", &created.token_details.id]).expect(0);
    }
    let r = as_admin(&[
        "token",
        "create",
        "temp",
        "--expiry",
        "2001-01-01T00:00:00Z",
    ])
    .expect(2);
    assert!(r.stderr.contains("is in the past"), "{}", r.stderr);
    let r = as_admin(&["token", "create", "temp", "--expiry", "2031-01-01T00:00:00"]).expect(2);
    assert!(r.stderr.contains("with an offset"), "{}", r.stderr);

    // rita may read her own token and team namespaces, nothing admin.
    let as_rita = |args: &[&str]| run(server.gofer().env("GOFER_TOKEN", &rita).args(args));
    as_rita(&["token", "get", &id]).expect(0);
    let r = as_rita(&["namespace", "create", "team-a"]).expect(4);
    assert!(r.stderr.contains("admin token"), "{}", r.stderr);

    // Disable / enable / delete.
    let r = as_admin(&["token", "disable", &id]).expect(0);
    assert_eq!(r.stdout, format!("token '{id}' disabled\n"));
    let r = as_rita(&["token", "whoami"]).expect(4);
    assert!(r.stderr.contains("token disabled"), "{}", r.stderr);
    let r = as_admin(&["token", "get", &id]).expect(0);
    assert!(r.stdout.contains("disabled"), "{}", r.stdout);
    as_admin(&["token", "enable", &id]).expect(0);
    as_rita(&["token", "whoami"]).expect(0);
    as_admin(&["token", "delete", &id]).expect(0);
    as_rita(&["token", "whoami"]).expect(4);
    let r = as_admin(&["token", "get", &id]).expect(3);
    assert!(r.stderr.contains("not found"), "{}", r.stderr);
    as_admin(&["role", "delete", "team-reader"]).expect(0);
    as_admin(&["role", "get", "team-reader"]).expect(3);
}
