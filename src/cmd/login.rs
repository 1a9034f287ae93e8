//! `rolegate login PROFILE [--print]`: a signed-in AWS console URL for the profile's role
//! (the federation protocol is [`crate::sts::federation`]'s).
//!
//! The endpoint accepts role (AssumeRole) and federation (GetFederationToken) credentials, not an
//! MFA session from GetSessionToken. So for a profile whose result is an MFA session (keys +
//! `mfa_serial`, no role), a federation session is minted from the user's long-term keys first,
//! as peers do; it does not carry the MFA context, and rolegate says so.

use std::time::{Duration, Instant};

use crate::base_credentials;
use crate::cli::{Cli, LoginArgs};
use crate::context::Context;
use crate::credentials::Credentials;
use crate::diag;
use crate::env_vars;
use crate::error::Error;
use crate::output;
use crate::plan::Plan;
use crate::session::Session;
use crate::sts::federation::{self, LoginError};
use crate::sts::{StsClient, endpoint};

pub fn run(ctx: Context, cli: &Cli, args: &LoginArgs) -> Result<u8, Error> {
    let session = Session::load(ctx, cli.cache_dir.as_deref())?;
    let target = session.target(args.profile.as_deref(), &args.session)?;
    let mut credentials = session.credentials(&target)?;
    let (ctx, plan) = (&session.ctx, &target.plan);
    if plan.chain.hops.is_empty() {
        credentials = federation_session(ctx, plan)?;
        diag::notice("the console session is a federation session of your IAM user: it does not carry the MFA context");
    }
    let partition = endpoint::partition_id(&plan.region);
    let (federation_default, console) = match partition {
        "aws-cn" => ("https://signin.amazonaws.cn", "https://console.amazonaws.cn/"),
        "aws-us-gov" => ("https://signin.amazonaws-us-gov.com", "https://console.amazonaws-us-gov.com/"),
        _ => ("https://signin.aws.amazon.com", "https://console.aws.amazon.com/"),
    };
    let federation = ctx.env.get(env_vars::ROLEGATE_FEDERATION_URL).unwrap_or(federation_default).trim_end_matches('/');
    let token = federation::signin_token(ctx, federation, &credentials, &plan.chain.profile)?;
    let destination = format!("{console}?region={}", plan.region);
    let url = format!(
        "{federation}/federation?Action=login&Issuer=rolegate&Destination={}&SigninToken={}",
        federation::encode(&destination),
        federation::encode(&token)
    );
    if args.print || !open_browser(&url) {
        output::write_stdout(&format!("{url}\n")).map_err(Error::Stdout)?;
    }
    Ok(0)
}

fn federation_session(ctx: &Context, plan: &Plan) -> Result<Credentials, Error> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let base = base_credentials::fetch(ctx, &plan.chain.base, &[plan.chain.base.profile()], deadline)?;
    let profile = plan.chain.profile.clone();
    let client = StsClient::new(ctx, plan.endpoint.clone())
        .map_err(|source| LoginError::Federation { profile: profile.clone(), source })?;
    Ok(client
        .get_federation_token(&base, "rolegate", 43_200)
        .map_err(|source| LoginError::Federation { profile, source })?)
}

/// Opens `url` in the browser (`open` on macOS, `xdg-open` elsewhere); `false` if it cannot.
/// The URL goes in argv of the opener: it is a short-lived sign-in token, as every peer passes it.
fn open_browser(url: &str) -> bool {
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
