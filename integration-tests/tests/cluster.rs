//! A cluster behind a real HAProxy: three `ftp-server` nodes on 127.0.0.11, .12 and .13
//! serving one prefix of the Ceph bucket (`cargo xtask ceph start`), and HAProxy on
//! 127.0.0.1 configured from the shipped `ftp-server/deploy/haproxy.cfg` (its addresses and
//! ports replaced by free ones on loopback). Clients reach the nodes through HAProxy only;
//! each node greets with its name, so a test knows which node a source address lands on.
//! The nodes read their users from one object of the bucket (`users_file = "s3:…"`).
//! Skipped with a notice when HAProxy or the gateway is missing (mandatory under
//! `FTP_INTEROP_REQUIRED=1`, as in CI).

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use integration_tests::s3::{Scratch, S3};
use integration_tests::tree::{make_files, snapshot};
use integration_tests::ChildGuard;
use integration_tests::{lftp_with, or_skip, run_ok, test_bytes, tool};

const NODES: [&str; 3] = ["127.0.0.11", "127.0.0.12", "127.0.0.13"];
/// Passive ports per node.
const RANGE: u16 = 10;
/// The nodes' admin API token.
const TOKEN: &str = "cluster-test-token";
const USER: &str = integration_tests::TestServer::USER;
const PASS: &str = integration_tests::TestServer::PASS;

/// The running cluster; fields drop in order (HAProxy, the nodes, then the prefix).
struct Cluster {
    _haproxy: ChildGuard,
    nodes: Vec<ChildGuard>,
    /// HAProxy's control frontend.
    front: SocketAddr,
    /// The users file every node reads: an object outside the served prefix.
    users_key: String,
    /// The nodes' admin port (on each node's address).
    admin: u16,
    _etc: tempfile::TempDir,
    scratch: Scratch,
    /// The prefix holding the users object.
    _etc_prefix: Scratch,
    s3: S3,
}

/// `n` (at most 64) consecutive ports below the ephemeral range, free on every address of
/// `ips`. Each call of this process starts at another block of 64, so clusters of parallel
/// tests never share one; the kernel hands out port-0 binds above 32768, so no other test
/// races them. Bounded tries.
fn free_block(ips: &[&str], n: u16) -> u16 {
    static SEQ: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    assert!(n <= 64);
    let first = (std::process::id() % 97) as u16 * 2;
    for _ in 0..100 {
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let base = 20_000 + (first.wrapping_add(seq) % 190) * 64;
        let free = ips.iter().all(|ip| {
            let ip: IpAddr = ip.parse().unwrap();
            (base..base + n).all(|p| TcpListener::bind((ip, p)).is_ok())
        });
        if free {
            return base;
        }
    }
    panic!("no block of {n} free ports");
}

/// The shipped haproxy.cfg with the example addresses and ports replaced.
fn haproxy_cfg(front: u16, ctl: u16, admin: u16, passive: &[u16]) -> String {
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../ftp-server/deploy/haproxy.cfg"),
    )
    .unwrap();
    let mut cfg = shipped
        .replace("log stdout format raw local0", "")
        .replace("203.0.113.10:21", &format!("127.0.0.1:{front}"))
        .replace("port 9100", &format!("port {admin}"));
    for (i, node) in NODES.iter().enumerate() {
        let example = format!("10.0.0.1{}", i + 1);
        let (low, high) = (50_000 + 100 * i as u16, 50_099 + 100 * i as u16);
        let p = passive[i];
        cfg = cfg
            .replace(
                &format!("203.0.113.10:{low}-{high}"),
                &format!("127.0.0.1:{p}-{}", p + RANGE - 1),
            )
            .replace(&format!("{example}:21"), &format!("{node}:{ctl}"))
            .replace(
                &format!("server node{} {example} ", i + 1),
                &format!("server node{} {node} ", i + 1),
            );
    }
    // The nodes take headers from 127.0.0.1: HAProxy connects from there.
    cfg.replace("default-server ", "default-server source 127.0.0.1 ")
}

impl Cluster {
    fn start(test: &str) -> Option<Cluster> {
        let haproxy = or_skip(tool("haproxy"), test)?;
        let s3 = or_skip(S3::from_env(), test)?;
        let scratch = s3.scratch(test);
        let etc = tempfile::tempdir().unwrap();
        let etc_prefix = s3.scratch(&format!("{test}-etc"));
        let users_key = etc_prefix.key("users.toml");
        s3.put(&users_key, user_entry("nobody", "x").as_bytes());
        std::fs::write(etc.path().join("token"), TOKEN).unwrap();
        let mut ips = NODES.to_vec();
        ips.push("127.0.0.1");
        let base = free_block(&ips, 3 + 3 * RANGE);
        let (front, ctl, admin) = (base, base + 1, base + 2);
        let passive: Vec<u16> = (0..3).map(|i| base + 3 + i * RANGE).collect();
        let mut nodes = Vec::new();
        for (i, node) in NODES.iter().enumerate() {
            let p = passive[i];
            let conf = etc.path().join(format!("node{}.toml", i + 1));
            std::fs::write(
                &conf,
                format!(
                    "greeting = \"node{n}\"\npublic_address = \"127.0.0.1\"\n\
                     passive_ports = \"{p}-{}\"\nproxy_protocol_from = [\"127.0.0.1\"]\n\
                     admin_listen = \"{node}:{admin}\"\nmax_sessions_per_ip = 2\n\
                     users_file = \"s3:{users_key}\"\nusers_file_poll = 1\n\
                     admin_token_file = \"{}\"\n",
                    p + RANGE - 1,
                    etc.path().join("token").display(),
                    n = i + 1
                ),
            )
            .unwrap();
            let listen = format!("{node}:{ctl}");
            let args = ["--config", conf.to_str().unwrap(), "--listen", &listen];
            nodes.push(s3.server(&scratch.prefix, &args).0);
        }
        let cfg = etc.path().join("haproxy.cfg");
        std::fs::write(&cfg, haproxy_cfg(front, ctl, admin, &passive)).unwrap();
        let guard = ChildGuard::spawn(
            Command::new(haproxy)
                .arg("-db")
                .arg("-f")
                .arg(&cfg)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )
        .expect("start haproxy");
        let front = SocketAddr::from(([127, 0, 0, 1], front));
        let c = Cluster {
            _haproxy: guard,
            nodes,
            front,
            users_key,
            admin,
            _etc: etc,
            scratch,
            _etc_prefix: etc_prefix,
            s3,
        };
        eventually("HAProxy serves", || c.greet("127.0.0.2").is_some());
        Some(c)
    }

    /// A control connection from `source` through HAProxy: the stream and the greeting.
    fn connect(&self, source: &str) -> Option<(BufReader<TcpStream>, String)> {
        let s = bind_connect(source, self.front)?;
        let mut r = BufReader::new(s);
        let mut line = String::new();
        r.read_line(&mut line).ok()?;
        (!line.is_empty()).then_some((r, line))
    }

    /// The node (`node1`…) that greets `source`, if it is admitted.
    fn greet(&self, source: &str) -> Option<String> {
        let (_, line) = self.connect(source)?;
        line.strip_prefix("220 ").map(|n| n.trim().to_string())
    }

    /// Stores `data` in the bucket and starts curl downloading it from `source` at 2 MB/s
    /// into `out`; returns once 1 MiB has arrived, with the serving node's name and index.
    fn slow_download(
        &self,
        test: &str,
        source: &str,
        data: &[u8],
        out: &Path,
    ) -> Option<(String, usize, ChildGuard)> {
        let name = out.file_name().unwrap().to_str().unwrap();
        self.s3.put(&self.scratch.key(name), data);
        let node = self.greet(source).unwrap();
        let index: usize = node.trim_start_matches("node").parse::<usize>().unwrap() - 1;
        let mut cmd = curl(test, source)?;
        cmd.args(["--limit-rate", "2M", "-o"])
            .arg(out)
            .arg(self.url(name))
            .stderr(Stdio::null());
        let running = ChildGuard::spawn(&mut cmd).unwrap();
        eventually("the download is under way", || {
            std::fs::metadata(out).is_ok_and(|m| m.len() > (1 << 20))
        });
        Some((node, index, running))
    }

    fn url(&self, path: &str) -> String {
        format!("ftp://{USER}:{PASS}@{}/{path}", self.front)
    }
}

/// A users-file entry serving the whole prefix.
fn user_entry(name: &str, pass: &str) -> String {
    format!("[[user]]\nname = \"{name}\"\npassword = \"{pass}\"\nhome = \"/\"\n")
}

/// A TCP connection to `to` from local address `from_ip`.
fn bind_connect(from_ip: &str, to: SocketAddr) -> Option<TcpStream> {
    use rustix::net::{bind, connect, socket, AddressFamily, SocketType};
    let fd = socket(AddressFamily::INET, SocketType::STREAM, None).ok()?;
    let from: SocketAddr = format!("{from_ip}:0").parse().ok()?;
    bind(&fd, &from).ok()?;
    connect(&fd, &to).ok()?;
    let s = TcpStream::from(fd);
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    Some(s)
}

fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(30);
    while Instant::now() < end {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out waiting for: {what}");
}

/// Source addresses 127.0.0.3… that land on two different nodes.
fn two_nodes(c: &Cluster) -> (String, String) {
    let sources: Vec<String> = (3..40).map(|i| format!("127.0.0.{i}")).collect();
    let first = c.greet(&sources[0]).expect("greeting");
    let other = sources[1..]
        .iter()
        .find(|s| c.greet(s).is_some_and(|n| n != first))
        .expect("source hashing spreads over the nodes");
    (sources[0].clone(), other.clone())
}

fn curl(test: &str, source: &str) -> Option<Command> {
    let mut cmd = Command::new(or_skip(tool("curl"), test)?);
    cmd.args([
        "-sS",
        "--ftp-pasv",
        "--interface",
        source,
        "--max-time",
        "60",
    ]);
    Some(cmd)
}

#[test]
fn an_upload_through_one_node_is_listed_and_downloaded_through_another() {
    let test = "an_upload_through_one_node_is_listed_and_downloaded_through_another";
    let Some(c) = Cluster::start(test) else {
        return;
    };
    let (a, b) = two_nodes(&c);
    let local = tempfile::tempdir().unwrap();
    let data = test_bytes((5 << 20) + 3, 7);
    std::fs::write(local.path().join("x.bin"), &data).unwrap();
    let Some(mut up) = curl(test, &a) else { return };
    run_ok(
        up.arg("-T")
            .arg(local.path().join("x.bin"))
            .arg(c.url("x.bin")),
    );
    let Some(mut list) = curl(test, &b) else {
        return;
    };
    let names = run_ok(list.arg("-l").arg(c.url(""))).stdout;
    assert!(String::from_utf8_lossy(&names)
        .lines()
        .any(|l| l == "x.bin"));
    let Some(mut down) = curl(test, &b) else {
        return;
    };
    let got = run_ok(down.arg(c.url("x.bin"))).stdout;
    assert!(got == data, "download through another node differs");
}

#[test]
fn real_client_addresses_reach_the_nodes_through_haproxy() {
    let test = "real_client_addresses_reach_the_nodes_through_haproxy";
    let Some(c) = Cluster::start(test) else {
        return;
    };
    // max_sessions_per_ip = 2 counts 127.0.0.3 and 127.0.0.4 apart, though both come
    // through HAProxy's one address.
    let three: Vec<_> = (0..2).map(|_| c.connect("127.0.0.3").unwrap()).collect();
    for (_, g) in &three {
        assert!(g.starts_with("220 "), "{g}");
    }
    let over = c.connect("127.0.0.3").map(|(_, g)| g).unwrap_or_default();
    assert!(over.is_empty() || over.starts_with("421"), "{over}");
    let four = c.connect("127.0.0.4").unwrap();
    assert!(four.1.starts_with("220 "), "{}", four.1);
    // The nodes' admin API lists the real addresses, never HAProxy's.
    let mut peers = Vec::new();
    for node in NODES {
        let Some(mut list) = curl(test, "127.0.0.1") else {
            return;
        };
        let out = run_ok(
            list.arg("-H")
                .arg(format!("Authorization: Bearer {TOKEN}"))
                .arg(format!("http://{node}:{}/api/v1/sessions", c.admin)),
        );
        let sessions: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for s in sessions.as_array().expect("a JSON array of sessions") {
            let peer: SocketAddr = s["peer"].as_str().unwrap().parse().unwrap();
            peers.push(peer.ip().to_string());
        }
    }
    peers.sort();
    assert_eq!(peers, ["127.0.0.3", "127.0.0.3", "127.0.0.4"], "{peers:?}");
}

#[test]
fn every_node_accepts_a_user_added_to_the_users_object_in_the_bucket() {
    let test = "every_node_accepts_a_user_added_to_the_users_object";
    let Some(c) = Cluster::start(test) else {
        return;
    };
    // One source per node.
    let mut per_node = std::collections::BTreeMap::new();
    for i in 3..60 {
        let s = format!("127.0.0.{i}");
        if let Some(n) = c.greet(&s) {
            per_node.entry(n).or_insert(s);
        }
    }
    c.s3.put(&c.users_key, user_entry("dora", "pw").as_bytes());
    for source in per_node.values() {
        eventually("dora logs in", || {
            let Some((mut r, _)) = c.connect(source) else {
                return false;
            };
            let mut ask = |line: &str| {
                r.get_mut()
                    .write_all(format!("{line}\r\n").as_bytes())
                    .ok()?;
                let mut reply = String::new();
                r.read_line(&mut reply).ok()?;
                Some(reply)
            };
            ask("USER dora").is_some() && ask("PASS pw").is_some_and(|r| r.starts_with("230"))
        });
    }
}

/// Sends `line`, reads one reply line.
fn ask(r: &mut BufReader<TcpStream>, line: &str) -> String {
    r.get_mut()
        .write_all(format!("{line}\r\n").as_bytes())
        .unwrap();
    let mut reply = String::new();
    r.read_line(&mut reply).unwrap();
    reply
}

#[test]
fn a_data_connection_from_another_real_address_is_refused_through_haproxy() {
    let test = "a_data_connection_from_another_real_address_is_refused_through_haproxy";
    let Some(c) = Cluster::start(test) else {
        return;
    };
    c.s3.put(&c.scratch.key("f.txt"), b"for the real client");
    let (mut r, _) = c.connect("127.0.0.5").unwrap();
    assert!(ask(&mut r, &format!("USER {USER}")).starts_with("331"));
    assert!(ask(&mut r, &format!("PASS {PASS}")).starts_with("230"));
    let epsv = ask(&mut r, "EPSV");
    let port = ftp_proto::addr::parse_epsv_reply(epsv.trim_end().as_bytes()).unwrap();
    let data = SocketAddr::from(([127, 0, 0, 1], port));
    // Through the same HAProxy port, but from another client address: dropped.
    let mut thief = bind_connect("127.0.0.6", data).unwrap();
    assert!(ask(&mut r, "RETR f.txt").starts_with("150"));
    let mut stolen = Vec::new();
    let _ = std::io::Read::read_to_end(&mut thief, &mut stolen);
    assert!(stolen.is_empty(), "the thief got {} bytes", stolen.len());
    let mut real = bind_connect("127.0.0.5", data).unwrap();
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut real, &mut got).unwrap();
    assert_eq!(got, b"for the real client");
    let mut end = String::new();
    r.read_line(&mut end).unwrap();
    assert!(end.starts_with("226"), "{end}");
}

#[test]
fn a_download_cut_by_a_killed_node_resumes_on_another_byte_identical() {
    let test = "a_download_cut_by_a_killed_node_resumes_on_another_byte_identical";
    let Some(mut c) = Cluster::start(test) else {
        return;
    };
    let local = tempfile::tempdir().unwrap();
    let out = local.path().join("big.bin");
    // The size: 200 MiB (paced at 2 MB/s until the kill, at full speed after it).
    let data = test_bytes(200 << 20, 11);
    let Some((node, index, mut running)) = c.slow_download(test, "127.0.0.7", &data, &out) else {
        return;
    };
    let source = "127.0.0.7";
    // kill -9 the node serving it (by its PID).
    c.nodes[index].child_mut().kill().unwrap();
    let _ = running.wait_timeout(Duration::from_secs(30));
    let cut = std::fs::metadata(&out).unwrap().len();
    assert!(cut < data.len() as u64, "the kill came after the end");
    // The client comes back through HAProxy (another node once the check sees the dead one)
    // and resumes with REST.
    eventually("the download resumes", || {
        let Some(mut again) = curl(test, source) else {
            return true;
        };
        again
            .args(["-C", "-", "-o"])
            .arg(&out)
            .arg(c.url("big.bin"))
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    let got = std::fs::read(&out).unwrap();
    assert_eq!(got.len(), data.len());
    assert!(got == data, "the resumed file differs");
    assert_ne!(c.greet(source).as_deref(), Some(node.as_str()));
}

/// A user whose downloads the nodes pace at 4 MB/s (so a kill lands mid-transfer), added
/// to the users object; returns once every node accepts it from 127.0.0.1.
fn add_paced_user(c: &Cluster) {
    let entry = format!("{}download_rate = 4_000_000\n", user_entry("paced", "pw"));
    c.s3.put(&c.users_key, entry.as_bytes());
    eventually("the paced user logs in", || {
        let Some((mut r, _)) = c.connect("127.0.0.1") else {
            return false;
        };
        ask(&mut r, "USER paced").starts_with("331") && ask(&mut r, "PASS pw").starts_with("230")
    });
}

/// The client `client(front)` makes downloads 40 MiB of `paced`'s through HAProxy (at
/// `front`) from 127.0.0.1 into `out`, while curl uploads to the same node from another
/// source at 1 MB/s; once 1 MiB has arrived (in `out` or in `partial`), the serving node is
/// killed with `kill -9`. The client must reconnect to a surviving node on its own, resume
/// with `REST` and end with the whole file; the cut upload must leave no object.
fn killed_node_mid_download(
    test: &str,
    client: impl FnOnce(SocketAddr) -> Command,
    out: &Path,
    partial: &Path,
) {
    let Some(mut c) = Cluster::start(test) else {
        return;
    };
    let mut client = client(c.front);
    add_paced_user(&c);
    let data = test_bytes(40 << 20, 17);
    c.s3.put(&c.scratch.key("big.bin"), &data);
    let node = c.greet("127.0.0.1").unwrap();
    let index: usize = node.trim_start_matches("node").parse::<usize>().unwrap() - 1;
    let uploader = (3..40)
        .map(|i| format!("127.0.0.{i}"))
        .find(|s| c.greet(s).as_deref() == Some(node.as_str()))
        .expect("a source on the same node");
    let up = out.with_file_name("cut.bin");
    std::fs::write(&up, test_bytes(6 << 20, 18)).unwrap();
    let Some(mut upload) = curl(test, &uploader) else {
        return;
    };
    upload
        .args(["--limit-rate", "1M", "-u", "paced:pw", "-T"])
        .arg(&up)
        .arg(format!("ftp://{}/cut.bin", c.front))
        .stderr(Stdio::null());
    let mut uploading = ChildGuard::spawn(&mut upload).unwrap();
    let mut running = ChildGuard::spawn(client.stdout(Stdio::null())).unwrap();
    let len = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    eventually("the download is under way", || {
        len(out).max(len(partial)) > (1 << 20)
    });
    assert!(
        running.child_mut().try_wait().unwrap().is_none(),
        "ended before the kill"
    );
    c.nodes[index].child_mut().kill().unwrap();
    let status = running.wait_timeout(Duration::from_secs(90)).unwrap();
    assert!(status.is_some_and(|s| s.success()), "{test}: {status:?}");
    let got = std::fs::read(out).unwrap();
    assert_eq!(got.len(), data.len());
    assert!(got == data, "{test}: the resumed file differs");
    let ended = uploading.wait_timeout(Duration::from_secs(60)).unwrap();
    assert!(
        !ended.is_some_and(|s| s.success()),
        "the cut upload succeeded"
    );
    assert_eq!(
        c.s3.get(&c.scratch.key("cut.bin")),
        None,
        "the cut upload left an object"
    );
}

#[test]
fn our_client_resumes_a_download_cut_by_a_killed_node_on_another_byte_identical() {
    let test = "our_client_resumes_a_download_cut_by_a_killed_node_on_another_byte_identical";
    let local = tempfile::tempdir().unwrap();
    let out = local.path().join("big.bin");
    let home = local.path().to_path_buf();
    let client = |front: SocketAddr| {
        let mut cmd = Command::new(integration_tests::bin_path("ftp-client"));
        cmd.args(["get", "--quiet", "--retries", "8", "--retry-delay", "1"])
            .args(["--timeout", "10", "-o"])
            .arg(home.join("big.bin"))
            .arg(format!("ftp://paced@{front}/big.bin"))
            .env("FTP_PASSWORD", "pw")
            .env("HOME", &home);
        cmd
    };
    killed_node_mid_download(test, client, &out, &local.path().join(".big.bin.part"));
}

#[test]
fn lftp_resumes_a_download_cut_by_a_killed_node_on_another_byte_identical() {
    let test = "lftp_resumes_a_download_cut_by_a_killed_node_on_another_byte_identical";
    let Some(lftp) = or_skip(tool("lftp"), test) else {
        return;
    };
    let local = tempfile::tempdir().unwrap();
    let out = local.path().join("big.bin");
    let dir = local.path().to_path_buf();
    let client = |front: SocketAddr| {
        let mut cmd = Command::new(lftp);
        cmd.arg("-c")
            .arg(format!(
                "set cmd:fail-exit yes; set net:max-retries 8; set net:timeout 10; \
                 set net:reconnect-interval-base 1; set net:reconnect-interval-max 2; \
                 set ftp:passive-mode on; open -u paced,pw -p {} ftp://127.0.0.1; \
                 get big.bin -o big.bin; quit",
                front.port()
            ))
            .current_dir(&dir)
            .env("HOME", &dir);
        cmd
    };
    killed_node_mid_download(test, client, &out, &out);
}

#[test]
fn a_drained_node_finishes_its_download_and_new_sessions_go_to_the_others() {
    let test = "a_drained_node_finishes_its_download_and_new_sessions_go_to_the_others";
    let Some(c) = Cluster::start(test) else {
        return;
    };
    let local = tempfile::tempdir().unwrap();
    let out = local.path().join("d.bin");
    let data = test_bytes(8 << 20, 13);
    let Some((node, index, mut running)) = c.slow_download(test, "127.0.0.8", &data, &out) else {
        return;
    };
    let source = "127.0.0.8";
    let Some(mut drain) = curl(test, "127.0.0.1") else {
        return;
    };
    run_ok(
        drain
            .args(["-X", "POST", "-H"])
            .arg(format!("Authorization: Bearer {TOKEN}"))
            .arg(format!("http://{}:{}/api/v1/drain", NODES[index], c.admin)),
    );
    // The running download ends well...
    let status = running.wait_timeout(Duration::from_secs(60)).unwrap();
    assert!(status.is_some_and(|s| s.success()), "curl: {status:?}");
    assert!(
        std::fs::read(&out).unwrap() == data,
        "the drained node's download differs"
    );
    // ...and once HAProxy's readiness check sees the 503, new sessions land elsewhere.
    eventually("new sessions avoid the drained node", || {
        c.greet(source).is_some_and(|n| n != node)
    });
}

#[test]
fn lftp_mirrors_a_tree_up_through_one_node_and_down_through_another_byte_identical() {
    let test = "lftp_mirrors_a_tree_up_through_one_node_and_down_through_another_byte_identical";
    let Some(c) = Cluster::start(test) else {
        return;
    };
    let (a, b) = two_nodes(&c);
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("tree");
    make_files(&tree, 12);
    std::fs::write(tree.join("d1/big.bin"), test_bytes((9 << 20) + 5, 17)).unwrap();
    let lftp = |source: &str, script: &str| {
        let settings = format!("set ftp:ssl-allow no; set net:socket-bind-ipv4 {source}");
        lftp_with(test, c.front, &settings, script, work.path())
    };
    if lftp(&a, "mirror -R tree up").is_none() {
        return;
    }
    lftp(&b, "mirror up down").unwrap();
    assert_eq!(snapshot(&work.path().join("down")), snapshot(&tree));
}
