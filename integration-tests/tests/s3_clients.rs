//! Real clients through our real server on S3 (`ftp-server --storage s3`, against the Ceph
//! cluster of `cargo xtask ceph start`): curl, lftp (`mirror` both ways, `pget`), Python's
//! ftplib and our `ftp-client`. Every result is checked by reading the bucket back directly
//! over S3 with rclone, never through our server; downloads are of objects stored directly.
//! Sizes straddle the single-PUT / multipart boundary (8 MiB parts). Skipped with a notice
//! when no gateway answers (mandatory under `FTP_INTEROP_REQUIRED=1`, as in CI).

use std::path::Path;

use integration_tests::s3::S3Server;
use integration_tests::tree::{make_files, snapshot};
use integration_tests::{
    assert_file, bin_path, curl_as_test_user, lftp_with, run_ok, run_python, test_bytes,
};

/// A multipart upload's size: more than two 8 MiB parts, not a multiple of one.
const BIG: usize = (17 << 20) + 12_345;
/// Below one part: a single PUT.
const SMALL: usize = (3 << 20) + 17;

#[test]
fn curl_stores_and_retrieves_objects_through_the_server() {
    let test = "curl_stores_and_retrieves_objects_through_the_server";
    let Some(srv) = S3Server::start(test, &[]) else {
        return;
    };
    let local = tempfile::tempdir().unwrap();
    let (small, big) = (test_bytes(SMALL, 1), test_bytes(BIG, 2));
    std::fs::write(local.path().join("small.bin"), &small).unwrap();
    std::fs::write(local.path().join("big.bin"), &big).unwrap();
    for name in ["small.bin", "big.bin"] {
        let Some(mut curl) = curl_as_test_user(test) else {
            return;
        };
        run_ok(
            curl.arg("--ftp-create-dirs")
                .arg("-T")
                .arg(local.path().join(name))
                .arg(format!("ftp://{}/up/{name}", srv.addr)),
        );
    }
    srv.assert_object("up/small.bin", &small);
    srv.assert_object("up/big.bin", &big);

    // Downloads of objects stored directly, whole and from an offset (REST + ranged GET).
    let seeded = test_bytes(BIG, 3);
    srv.seed("seeded/x.bin", &seeded);
    let Some(mut curl) = curl_as_test_user(test) else {
        return;
    };
    let got = run_ok(curl.arg(format!("ftp://{}/seeded/x.bin", srv.addr))).stdout;
    assert!(got == seeded, "RETR of a seeded object differs");
    let Some(mut curl) = curl_as_test_user(test) else {
        return;
    };
    let tail = run_ok(
        curl.args(["--range", "9000000-"])
            .arg(format!("ftp://{}/seeded/x.bin", srv.addr)),
    )
    .stdout;
    assert!(tail == seeded[9_000_000..], "REST 9000000 + RETR differs");
}

/// Files of `tree` (relative path → bytes), directories left out.
fn files_of(tree: &Path) -> Vec<(String, Vec<u8>)> {
    snapshot(tree)
        .into_iter()
        .filter_map(|(path, bytes)| bytes.map(|b| (path, b)))
        .collect()
}

#[test]
fn lftp_mirrors_both_ways_and_pget_match_the_bucket() {
    let test = "lftp_mirrors_both_ways_and_pget_match_the_bucket";
    let Some(srv) = S3Server::start(test, &[]) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("tree");
    make_files(&tree, 14);
    std::fs::write(tree.join("d1/big.bin"), test_bytes(BIG, 4)).unwrap();
    let lftp =
        |script: &str| lftp_with(test, srv.addr, "set ftp:ssl-allow no", script, work.path());
    if lftp("mirror -R tree up").is_none() {
        return;
    }
    // Upload: every local file is an object with the same bytes, and nothing else is.
    let files = files_of(&tree);
    let uploaded: Vec<String> = srv
        .scratch
        .objects()
        .into_keys()
        .filter(|k| !k.ends_with('/'))
        .collect();
    let want: Vec<String> = files.iter().map(|(p, _)| format!("up/{p}")).collect();
    assert_eq!(uploaded, want, "objects after mirror -R");
    for (path, bytes) in &files {
        srv.assert_object(&format!("up/{path}"), bytes);
    }

    // Download: objects stored directly (not by the server) come down as the same tree.
    for (path, bytes) in &files {
        srv.seed(&format!("direct/{path}"), bytes);
    }
    lftp("mirror direct down").unwrap();
    assert_eq!(files_of(&work.path().join("down")), files);

    // pget: four ranged GETs of one seeded object, reassembled.
    let big = test_bytes(BIG, 5);
    srv.seed("pget.bin", &big);
    lftp("set pget:min-chunk-size 1M; pget -n 4 pget.bin -o got.bin").unwrap();
    assert_file(&work.path().join("got.bin"), &big);
}

/// The ftplib side: stores `a.bin` (from `src`) as `py/a.bin` after making `py`, stores
/// `half` then appends `rest` to `py/b.bin`, downloads `seeded.bin` whole and from offset
/// 5,000,000 (REST), and lists `py`, failing on any unexpected reply.
const FTPLIB_SCRIPT: &str = r#"
import ftplib, io, sys
host, port, user, pw, work = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
f = ftplib.FTP()
f.connect(host, port, timeout=60)
f.login(user, pw)
f.mkd("py")
with open(work + "/a.bin", "rb") as src:
    assert f.storbinary("STOR py/a.bin", src).startswith("226")
data = open(work + "/b.bin", "rb").read()
half = len(data) // 2
assert f.storbinary("STOR py/b.bin", io.BytesIO(data[:half])).startswith("226")
assert f.storbinary("APPE py/b.bin", io.BytesIO(data[half:])).startswith("226")
assert f.size("py/b.bin") == len(data), f.size("py/b.bin")
with open(work + "/whole.bin", "wb") as out:
    f.retrbinary("RETR seeded.bin", out.write)
with open(work + "/tail.bin", "wb") as out:
    f.retrbinary("RETR seeded.bin", out.write, rest=5000000)
names = sorted(f.nlst("py"))
assert [n.rsplit("/", 1)[-1] for n in names] == ["a.bin", "b.bin"], names
f.quit()
"#;

#[test]
fn ftplib_stores_appends_and_retrieves_with_the_bucket_as_truth() {
    let test = "ftplib_stores_appends_and_retrieves_with_the_bucket_as_truth";
    let Some(srv) = S3Server::start(test, &[]) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let (a, b, seeded) = (test_bytes(BIG, 6), test_bytes(SMALL, 7), test_bytes(BIG, 8));
    std::fs::write(work.path().join("a.bin"), &a).unwrap();
    std::fs::write(work.path().join("b.bin"), &b).unwrap();
    srv.seed("seeded.bin", &seeded);
    let port = srv.addr.port().to_string();
    let args = [
        "-c",
        FTPLIB_SCRIPT,
        "127.0.0.1",
        &port,
        integration_tests::TestServer::USER,
        integration_tests::TestServer::PASS,
        work.path().to_str().unwrap(),
    ];
    if !run_python(test, args) {
        return;
    }
    srv.assert_object("py/a.bin", &a);
    srv.assert_object("py/b.bin", &b);
    assert_file(&work.path().join("whole.bin"), &seeded);
    assert_file(&work.path().join("tail.bin"), &seeded[5_000_000..]);
}

#[test]
fn our_client_puts_resumes_and_gets_through_the_server() {
    let test = "our_client_puts_resumes_and_gets_through_the_server";
    let Some(srv) = S3Server::start(test, &[]) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let client = |args: &[&str]| {
        run_ok(
            std::process::Command::new(bin_path("ftp-client"))
                .args(["--timeout", "30"])
                .args(args)
                .current_dir(work.path())
                .env("HOME", work.path()),
        )
    };
    let big = test_bytes(BIG, 9);
    std::fs::write(work.path().join("big.bin"), &big).unwrap();
    client(&["put", "--create-dirs", "big.bin", &srv.url("c/big.bin")]);
    srv.assert_object("c/big.bin", &big);

    // Resume an upload: the bucket holds the first 9 MiB (more than one part); `put -c` sends
    // only the rest and the object ends up whole.
    srv.seed("c/resumed.bin", &big[..9 << 20]);
    client(&["put", "-c", "big.bin", &srv.url("c/resumed.bin")]);
    srv.assert_object("c/resumed.bin", &big);

    // Downloads of a seeded object: whole, then resumed from a partial local file.
    let seeded = test_bytes(BIG, 10);
    srv.seed("c/seeded.bin", &seeded);
    client(&["get", "-o", "seeded.bin", &srv.url("c/seeded.bin")]);
    assert_file(&work.path().join("seeded.bin"), &seeded);
    std::fs::write(work.path().join(".again.bin.part"), &seeded[..6_000_000]).unwrap();
    client(&["get", "-c", "-o", "again.bin", &srv.url("c/seeded.bin")]);
    assert_file(&work.path().join("again.bin"), &seeded);
}
