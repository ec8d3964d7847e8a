//! `gofer namespace …` against the real server (docs/api.md#namespaces-and-pipelines, docs/cli.md).

use crate::common::{TestServer, run};
use gofer_core::api::{NamespaceResponse, NamespacesResponse};

#[test]
fn create_get_update_list_delete() {
    let server = TestServer::start();

    let r = server
        .run(&[
            "namespace",
            "create",
            "team-a",
            "--description",
            "the A team",
        ])
        .expect(0);
    assert_eq!(r.stdout, "namespace 'team-a' created\n");

    // --output json is the API body: NamespaceResponse; the name defaults to the id.
    let got: NamespaceResponse = server
        .run(&["namespace", "get", "team-a", "--output", "json"])
        .expect(0)
        .json();
    assert_eq!(got.namespace.id, "team-a");
    assert_eq!(got.namespace.name, "team-a");
    assert_eq!(got.namespace.description, "the A team");
    assert_eq!(got.namespace.modified, 0);

    let r = server
        .run(&["namespace", "update", "team-a", "--name", "Team A"])
        .expect(0);
    assert_eq!(r.stdout, "namespace 'team-a' updated\n");
    let updated: NamespaceResponse = server
        .run(&[
            "--output",
            "json",
            "namespace",
            "update",
            "team-a",
            "--description",
            "new",
        ])
        .expect(0)
        .json();
    assert_eq!(updated.namespace.name, "Team A");
    assert_eq!(updated.namespace.description, "new");
    assert!(updated.namespace.modified > 0);

    let list: NamespacesResponse = server
        .run(&["namespace", "list", "--output", "json"])
        .expect(0)
        .json();
    let ids: Vec<&str> = list.namespaces.iter().map(|n| n.id.as_str()).collect();
    assert!(
        ids.contains(&"default") && ids.contains(&"team-a"),
        "{ids:?}"
    );
    // The JSON output round-trips: printing it again gives the same document.
    let r = server
        .run(&["namespace", "list", "--output", "json"])
        .expect(0);
    let again: NamespacesResponse = r.json();
    assert_eq!(again, list);

    // Plain: an aligned table with a header row.
    let r = server.run(&["namespace", "list"]).expect(0);
    let mut lines = r.stdout.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("ID") && header.contains("NAME") && header.contains("CREATED"),
        "{header}"
    );
    let row = r
        .stdout
        .lines()
        .find(|l| l.starts_with("team-a"))
        .expect("team-a row");
    assert_eq!(
        row.find("Team A"),
        header.find("NAME"),
        "columns aligned:\n{}",
        r.stdout
    );

    let r = server.run(&["namespace", "delete", "team-a"]).expect(0);
    assert_eq!(r.stdout, "namespace 'team-a' deleted\n");
    server.run(&["namespace", "get", "team-a"]).expect(3);
    server.run(&["namespace", "delete", "team-a"]).expect(3);
}

#[test]
fn times_are_relative_unless_detail() {
    let server = TestServer::start();
    let r = server.run(&["namespace", "get", "default"]).expect(0);
    let created = r
        .stdout
        .lines()
        .find(|l| l.starts_with("created:"))
        .unwrap();
    assert!(
        created.ends_with("ago") || created.ends_with("just now"),
        "{created}"
    );
    let modified = r
        .stdout
        .lines()
        .find(|l| l.starts_with("modified:"))
        .unwrap();
    assert!(
        modified.ends_with('-'),
        "unset times print as '-': {modified}"
    );

    let r = server
        .run(&["namespace", "get", "default", "--detail"])
        .expect(0);
    let created = r
        .stdout
        .lines()
        .find(|l| l.starts_with("created:"))
        .unwrap();
    let stamp = created.rsplit(' ').next().unwrap();
    // 2024-05-01T12:03:04Z
    assert_eq!(stamp.len(), 20, "{created}");
    assert_eq!(
        (&stamp[4..5], &stamp[10..11], &stamp[19..]),
        ("-", "T", "Z"),
        "{created}"
    );
    let r = run(server
        .gofer()
        .env("GOFER_DETAIL", "true")
        .args(["namespace", "get", "default"]))
    .expect(0);
    let created = r
        .stdout
        .lines()
        .find(|l| l.starts_with("created:"))
        .unwrap();
    assert!(
        created.ends_with(stamp),
        "GOFER_DETAIL=true works like --detail: {created}"
    );
}
