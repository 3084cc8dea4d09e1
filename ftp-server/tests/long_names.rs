//! Names longer than the filesystem allows (`ENAMETOOLONG`) get permanent replies: `553` where
//! the command would create the name, `550` where it looks one up. A transient `451` would make
//! clients retry a request that can never succeed.

mod common;

use common::*;

/// One more byte than a name may have on Linux filesystems (`NAME_MAX` is 255).
fn too_long() -> String {
    "n".repeat(256)
}

#[test]
fn over_long_names_to_create_answer_553() {
    let srv = Srv::start();
    srv.write("old.txt", b"x");
    let mut c = srv.login();
    let long = too_long();
    let r = c.expect(&format!("MKD {long}"), 553);
    assert!(r.to_string().contains("too long"), "{r}");
    c.expect("RNFR old.txt", 350);
    c.expect(&format!("RNTO {long}"), 553);
    let _data = c.epsv();
    c.expect(&format!("STOR {long}"), 553);
    c.expect(&format!("MKD {long}/sub"), 553);
    assert_eq!(srv.read("old.txt"), b"x");
}

#[test]
fn over_long_names_to_look_up_answer_550() {
    let srv = Srv::start();
    let mut c = srv.login();
    let long = too_long();
    for verb in ["SIZE", "CWD", "MDTM", "DELE", "RMD", "RNFR", "MLST"] {
        let r = c.expect(&format!("{verb} {long}"), 550);
        assert!(r.to_string().contains("too long"), "{verb}: {r}");
    }
    let _data = c.epsv();
    c.expect(&format!("RETR {long}"), 550);
    c.expect("NOOP", 200);
}

#[test]
fn a_name_of_the_greatest_allowed_length_can_be_uploaded() {
    let srv = Srv::start();
    let mut c = srv.login();
    let longest = "m".repeat(255);
    let r = c.upload(&format!("STOR {longest}"), b"fits");
    assert_eq!(r.code().as_u16(), 226, "{r}");
    assert_eq!(srv.read(&longest), b"fits");
}
