//! `rolegate list`: the profiles that need MFA and the cached sessions (never a secret).

use crate::cli::Cli;
use crate::config::resolve::Base;
use crate::context::Context;
use crate::error::Error;
use crate::output;
use crate::plan::{self, PlanOptions};
use crate::session::Session;

pub fn run(ctx: Context, cli: &Cli) -> Result<(), Error> {
    let session = Session::load(ctx, cli.cache_dir.as_deref())?;
    let mut rows = Vec::new();
    for name in session.profiles.profiles.keys() {
        if let Ok(plan) = plan::plan(&session.profiles, name, &session.ctx.env, &PlanOptions::default())
            && plan.strategy != plan::MfaStrategy::None
            && plan.chain.profile == *name
        {
            rows.push(output::list::ProfileRow {
                profile: name.clone(),
                target: plan.chain.hops.last().map_or_else(|| "MFA session".to_string(), |h| h.role_arn.clone()),
                chain: plan.chain.describe(),
                strategy: format!("{:?}", plan.strategy).to_lowercase(),
                serial: plan.chain.mfa_serial().unwrap_or_default().to_string(),
                keys: keys_place(&session, &plan.chain.base),
            });
        }
    }
    let cache = &session.cache;
    let entries: Vec<_> = if cache.check_dir(false)? { cache.entries() } else { Vec::new() };
    let text = output::list::render(&session.paths.config, &rows, cache.dir(), &entries, session.ctx.now());
    output::write_stdout(&text).map_err(Error::Stdout)
}

/// Where a base's credentials come from, for the list (never a secret).
fn keys_place(session: &Session, base: &Base) -> String {
    match base {
        Base::StaticKeys { profile, .. } => {
            let file = session.profiles.origin_of_key(profile, "aws_secret_access_key");
            format!("keys in {}", file.map_or_else(|| session.profiles.describe_files(), |f| f.display().to_string()))
        }
        Base::Stored { backend, access_key_id, .. } => {
            format!("keys in the {} store ({access_key_id})", backend.name())
        }
        Base::Environment { .. } => "keys from the environment".into(),
        Base::Process { .. } => "keys from a credential_process".into(),
    }
}
