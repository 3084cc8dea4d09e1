//! The interactive shell.

use anyhow::Result;

use super::Ctx;

pub(crate) fn run(_ctx: Ctx, _url: Option<String>) -> Result<()> {
    Ok(())
}
