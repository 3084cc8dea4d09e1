//! Python's asyncio FTP client `aioftp` (PyPI) against our server over FTPS, explicit
//! (`upgrade_to_tls`) and implicit, with `PROT P` and TLS session reuse required (aioftp
//! resumes the control connection's session on its data connections): a tree uploaded,
//! downloaded back, listed recursively and removed, checked on disk.

use integration_tests::tree::{assert_same_tree, make_files};
use integration_tests::{or_skip, output_within, python_module, TestServer, TlsServer};
use std::process::Command;
use std::time::Duration;

const SCRIPT: &str = r#"
import asyncio, ssl, sys, aioftp
host, port, user, pw, ca, local, mode = sys.argv[1:8]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False

async def main():
    implicit = mode == "implicit"
    client = aioftp.Client(socket_timeout=30, connection_timeout=30, ssl=ctx if implicit else None)
    await client.connect(host, int(port))
    if not implicit:
        await client.upgrade_to_tls(ctx)
    await client.login(user, pw)
    if implicit:
        await client.command("PBSZ 0", "200")
        await client.command("PROT P", "200")
    await client.upload(local + "/src", "tree", write_into=True)
    await client.download("tree", local + "/back", write_into=True)
    names = sorted(str(p) for p, info in await client.list("tree", recursive=True)
                   if info["type"] == "file")
    print("\n".join(names))
    await client.remove("tree")
    await client.quit()

asyncio.run(main())
"#;

fn round_trip(test: &str, implicit: bool) {
    let Some(python) = or_skip(python_module("aioftp"), test) else {
        return;
    };
    let t = TlsServer::strict();
    let local = tempfile::tempdir().unwrap();
    let files = make_files(&local.path().join("src"), 20);
    let port = t.port(implicit);
    let out = output_within(
        Command::new(python)
            .args(["-c", SCRIPT, "127.0.0.1", &port.to_string()])
            .args([TestServer::USER, TestServer::PASS])
            .arg(&t.ca_file)
            .arg(local.path())
            .arg(if implicit { "implicit" } else { "explicit" }),
        Duration::from_secs(120),
    );
    assert!(
        out.status.success(),
        "{test}: aioftp failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_same_tree(&local.path().join("back"), &local.path().join("src"));
    let listed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(listed.lines().count(), files.len(), "{listed}");
    for rel in &files {
        assert!(listed.lines().any(|l| l == format!("tree/{rel}")), "{rel}");
    }
    assert!(
        !t.server.path("tree").exists(),
        "remove left the tree behind"
    );
}

#[test]
fn aioftp_explicit_ftps_uploads_downloads_lists_and_removes_a_tree() {
    round_trip(
        "aioftp_explicit_ftps_uploads_downloads_lists_and_removes_a_tree",
        false,
    );
}

#[test]
fn aioftp_implicit_ftps_uploads_downloads_lists_and_removes_a_tree() {
    round_trip(
        "aioftp_implicit_ftps_uploads_downloads_lists_and_removes_a_tree",
        true,
    );
}
