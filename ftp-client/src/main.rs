//! `ftp-client`: see `ftp-client --help`.
#![forbid(unsafe_code)]

fn main() {
    let code = ftp_client::cli::main_with_args(std::env::args_os().collect());
    std::process::exit(code);
}
