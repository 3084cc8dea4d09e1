//! Work done on the server: `hash` (a remote file's digest) and `cp` (a copy on the server,
//! or streamed through a second connection).

use std::io::Write;

use anyhow::Result;

use super::commands::Call;
use super::State;
use crate::cli::fail;
use crate::cli::integrity::{copy_file, parse_alg};
use crate::cli::names::escape_controls;
use crate::error::ErrorClass;

/// `hash PATH [ALG]`: `<hex>  PATH`, as sha256sum prints it.
pub(super) async fn hash(st: &mut State, call: Call<'_>) -> Result<()> {
    let p = call.arg(0)?;
    let alg = match call.args.get(1) {
        Some(a) => parse_alg(a).map_err(|e| fail(ErrorClass::Usage, e))?,
        None => ftp_proto::hash::HashAlgorithm::Sha256,
    };
    let hex = st.sess()?.client().await?.hash(p.as_bytes(), alg).await?;
    let Some(hex) = hex else {
        return Err(fail(
            ErrorClass::Transfer,
            format!("the server has no HASH for {alg}"),
        ));
    };
    writeln!(
        std::io::stdout(),
        "{hex}  {}",
        escape_controls(p.as_bytes())
    )?;
    Ok(())
}

/// `cp FROM TO`.
pub(super) async fn cp(st: &mut State, call: Call<'_>) -> Result<()> {
    let (from, to) = (call.arg(0)?, call.arg(1)?);
    let ctx = st.ctx.clone();
    copy_file(&ctx, st.sess()?, from.as_bytes(), None, to.as_bytes()).await
}
