//! Node's FTP client `basic-ftp` (npm, installed by `cargo xtask install` under
//! `target/peers/node`) against our server over FTPS, explicit and implicit, with `PROT P`
//! and TLS session reuse required (basic-ftp resumes the control connection's session on
//! its data connections): a tree uploaded, downloaded back, listed and removed, and a single
//! file both ways, checked on disk.

use integration_tests::peers::peers_dir;
use integration_tests::tree::{assert_same_tree, make_files};
use integration_tests::{assert_file, or_skip, output_within, test_bytes, tool};
use integration_tests::{Skip, TestServer, TlsServer};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const SCRIPT: &str = r#"
const ftp = require("basic-ftp");
const fs = require("fs");
const [host, port, user, password, ca, local, mode] = process.argv.slice(1);
(async () => {
    const client = new ftp.Client(30000);
    await client.access({
        host, port: Number(port), user, password,
        secure: mode === "implicit" ? "implicit" : true,
        secureOptions: { ca: fs.readFileSync(ca) },
    });
    await client.ensureDir("tree");
    await client.uploadFromDir(local + "/src");
    await client.cd("/");
    await client.downloadToDir(local + "/back", "tree");
    const names = (await client.list("tree")).map(f => f.name).sort();
    console.log(names.join("\n"));
    await client.uploadFrom(local + "/one.bin", "one.bin");
    await client.downloadTo(local + "/one-back.bin", "one.bin");
    await client.removeDir("tree");
    client.close();
})().catch(e => { console.error(e); process.exit(1); });
"#;

/// `node` and the installed `basic-ftp` module's directory (for `NODE_PATH`).
fn node_with_basic_ftp() -> Result<(PathBuf, PathBuf), Skip> {
    let node = tool("node")?;
    let modules = peers_dir().join("node").join("node_modules");
    if modules.join("basic-ftp").join("package.json").is_file() {
        Ok((node, modules))
    } else {
        Err(Skip(format!(
            "basic-ftp is not installed under {}",
            modules.display()
        )))
    }
}

fn round_trip(test: &str, implicit: bool) {
    let Some((node, modules)) = or_skip(node_with_basic_ftp(), test) else {
        return;
    };
    let t = TlsServer::strict();
    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("src");
    // No empty file: basic-ftp ends an empty upload as soon as the data socket has a cipher,
    // which can be before it has sent its TLS Finished; the server then sees the handshake
    // cut short and refuses the upload (425), as it must (no close_notify, no upload).
    for rel in make_files(&src, 21)
        .iter()
        .filter(|rel| std::fs::metadata(src.join(rel)).is_ok_and(|m| m.len() == 0))
    {
        std::fs::remove_file(src.join(rel)).unwrap();
    }
    let one = test_bytes(1_000_000, 9);
    std::fs::write(local.path().join("one.bin"), &one).unwrap();
    let port = t.port(implicit);
    let out = output_within(
        Command::new(node)
            .args(["-e", SCRIPT, "127.0.0.1", &port.to_string()])
            .args([TestServer::USER, TestServer::PASS])
            .arg(&t.ca_file)
            .arg(local.path())
            .arg(if implicit { "implicit" } else { "explicit" })
            .env("NODE_PATH", modules),
        Duration::from_secs(120),
    );
    assert!(
        out.status.success(),
        "{test}: basic-ftp failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_same_tree(&local.path().join("back"), &local.path().join("src"));
    let listed = String::from_utf8_lossy(&out.stdout);
    for name in ["d0", "d1", "d2", "d3", "top 3.bin"] {
        assert!(
            listed.lines().any(|l| l == name),
            "{name} not listed:\n{listed}"
        );
    }
    assert_file(&t.server.path("one.bin"), &one);
    assert_file(&local.path().join("one-back.bin"), &one);
    assert!(
        !t.server.path("tree").exists(),
        "removeDir left the tree behind"
    );
}

#[test]
fn basic_ftp_explicit_ftps_round_trips_a_tree_and_a_file() {
    round_trip(
        "basic_ftp_explicit_ftps_round_trips_a_tree_and_a_file",
        false,
    );
}

#[test]
fn basic_ftp_implicit_ftps_round_trips_a_tree_and_a_file() {
    round_trip(
        "basic_ftp_implicit_ftps_round_trips_a_tree_and_a_file",
        true,
    );
}
