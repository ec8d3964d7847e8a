//! Records the git commit for `GET /api/system/metadata` (`GOFER_COMMIT` overrides it, e.g. in
//! packaging builds without a .git directory).

fn main() {
    println!("cargo:rerun-if-env-changed=GOFER_COMMIT");
    println!("cargo:rerun-if-changed=../.git/HEAD");
    println!("cargo:rerun-if-changed=../.git/refs/heads");
    let commit = std::env::var("GOFER_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| {
            let out = std::process::Command::new("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        });
    println!(
        "cargo:rustc-env=GOFER_COMMIT={}",
        commit.unwrap_or_else(|| "unknown".into())
    );
}
