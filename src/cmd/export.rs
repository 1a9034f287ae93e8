//! `rolegate export [PROFILE]`: shell commands that set the credentials.

use std::io::IsTerminal;

use crate::cli::{Cli, ExportArgs};
use crate::context::Context;
use crate::error::Error;
use crate::output;
use crate::plan;
use crate::session::Session;

pub fn run(ctx: Context, cli: &Cli, args: &ExportArgs) -> Result<(), Error> {
    if !args.force && std::io::stdout().is_terminal() {
        return Err(Error::ExportToTerminal { profile: plan::profile_name(args.profile.as_deref(), &ctx.env) });
    }
    let session = Session::load(ctx, cli.cache_dir.as_deref())?;
    let target = session.target(args.profile.as_deref(), &args.session)?;
    let credentials = session.credentials(&target)?;
    let changes = output::env::child_env(&credentials, Some(&target.plan.region), &target.plan.chain.profile);
    let mut text = output::export::render(args.format, &changes);
    let result = output::write_stdout(&text).map_err(Error::Stdout);
    zeroize::Zeroize::zeroize(&mut text);
    result
}
