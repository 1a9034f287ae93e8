//! `rolegate clear PROFILE | --all`: forget cached sessions.

use std::time::{Duration, Instant};

use crate::cli::{ClearArgs, Cli};
use crate::context::Context;
use crate::error::Error;
use crate::exec::generated_config;
use crate::output;
use crate::plan::{self, PlanOptions};
use crate::session::{self, Session};

pub fn run(ctx: Context, cli: &Cli, args: &ClearArgs) -> Result<(), Error> {
    let cache = session::cache(&ctx, cli.cache_dir.as_deref())?;
    if !cache.check_dir(false)? {
        return output::write_stdout("nothing cached\n").map_err(Error::Stdout);
    }
    // Each removal waits for a refresh in progress on that key, then removes what it stored.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut removed = 0;
    match &args.profile {
        Some(profile) => {
            let session = Session::load(ctx, cli.cache_dir.as_deref())?;
            let plan = plan::plan(&session.profiles, profile, &session.ctx.env, &PlanOptions::default())?;
            for key in std::iter::once(&plan.result_key).chain(plan.mfa_session_key.as_ref()) {
                removed += usize::from(cache.remove_entry(&key.digest, deadline)?);
            }
        }
        None => {
            for (path, _) in cache.entries() {
                if let Some(digest) = path.file_stem().and_then(|s| s.to_str()) {
                    removed += usize::from(cache.remove_entry(digest, deadline)?);
                }
            }
            cache.remove_derived()?;
            generated_config::remove(&generated_config::dir(&ctx.env, cache.dir()))?;
        }
    }
    output::write_stdout(&format!("removed {removed} cached session{}\n", if removed == 1 { "" } else { "s" }))
        .map_err(Error::Stdout)
}
