//! `rolegate login PROFILE [--path PATH|URL] [--region R] [--duration D] [--print]`: a signed-in
//! AWS console URL for the profile's role (the federation protocol is [`crate::sts::federation`]'s),
//! opened with the platform's opener (`xdg-open`, `open`) or printed.
//!
//! `--duration` is the console session's lifetime, not the role credentials': a role session
//! sends it as the sign-in token's `SessionDuration`; an IAM user's federation session is minted
//! for it. `--region` picks the STS endpoint and the console's region; `--path` the page.
//!
//! The endpoint accepts role (AssumeRole) and federation (GetFederationToken) credentials, not an
//! MFA session from GetSessionToken. So for a profile whose result is an MFA session (keys +
//! `mfa_serial`, no role), a federation session is minted from the user's long-term keys first,
//! as peers do; it does not carry the MFA context, and rolegate says so.

use std::time::{Duration, Instant};

use crate::base_credentials;
use crate::cli::{Cli, LoginArgs, SessionOptions};
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
    // `--duration` is the console session's here, not the role credentials'.
    let console_seconds = args.session.duration;
    let options = SessionOptions { duration: None, ..args.session.clone() };
    let session = Session::load(ctx, cli.cache_dir.as_deref())?;
    let target = session.target(args.profile.as_deref(), &options)?;
    let (ctx, plan) = (&session.ctx, &target.plan);
    let profile = plan.chain.profile.as_str();
    if let Some(seconds) = console_seconds.filter(|s| !CONSOLE_SECONDS.contains(s)) {
        return Err(LoginError::BadDuration { profile: profile.into(), seconds }.into());
    }
    let partition = endpoint::partition_id(&plan.region);
    let (federation_default, console) = match partition {
        "aws-cn" => ("https://signin.amazonaws.cn", "https://console.amazonaws.cn/"),
        "aws-us-gov" => ("https://signin.amazonaws-us-gov.com", "https://console.amazonaws-us-gov.com/"),
        _ => ("https://signin.aws.amazon.com", "https://console.aws.amazon.com/"),
    };
    // Checked before any code is asked for.
    let destination = federation::destination(console, args.path.as_deref(), &plan.region).map_err(|why| {
        LoginError::BadDestination { profile: profile.into(), value: args.path.clone().unwrap_or_default(), why }
    })?;
    let mut credentials = session.credentials(&target)?;
    // A role session takes the console's lifetime as the sign-in token's SessionDuration; a
    // federation session (GetFederationToken) has it as its own lifetime and takes none.
    let mut session_duration = console_seconds;
    if plan.chain.hops.is_empty() {
        credentials = federation_session(ctx, plan, console_seconds.unwrap_or(FEDERATION_DEFAULT_SECONDS))?;
        session_duration = None;
        diag::notice("the console session is a federation session of your IAM user: it does not carry the MFA context");
    }
    let federation = ctx.env.get(env_vars::ROLEGATE_FEDERATION_URL).unwrap_or(federation_default).trim_end_matches('/');
    let token = federation::signin_token(ctx, federation, &credentials, &plan.chain.profile, session_duration)?;
    let url = format!(
        "{federation}/federation?Action=login&Issuer=rolegate&Destination={}&SigninToken={}",
        federation::encode(&destination),
        federation::encode(&token)
    );
    if args.print {
        output::write_stdout(&format!("{url}\n")).map_err(Error::Stdout)?;
    } else if let Err(why) = open_browser(&url) {
        diag::notice(&format!(
            "cannot open the browser ({why}); open this URL yourself (it signs in once, for 15 minutes):"
        ));
        output::write_stdout(&format!("{url}\n")).map_err(Error::Stdout)?;
    }
    Ok(0)
}

/// The console session `--duration` may ask for (the federation endpoint's `SessionDuration`).
const CONSOLE_SECONDS: std::ops::RangeInclusive<u32> = 900..=43_200;
/// A federation session's lifetime without `--duration`: 12 h (GetFederationToken's default).
const FEDERATION_DEFAULT_SECONDS: u32 = 43_200;

fn federation_session(ctx: &Context, plan: &Plan, seconds: u32) -> Result<Credentials, Error> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let base = base_credentials::fetch(ctx, &plan.chain.base, &[plan.chain.base.profile()], deadline)?;
    let profile = plan.chain.profile.clone();
    let client = StsClient::new(ctx, plan.endpoint.clone())
        .map_err(|source| LoginError::Federation { profile: profile.clone(), source })?;
    Ok(client
        .get_federation_token(&base, "rolegate", seconds)
        .map_err(|source| LoginError::Federation { profile, source })?)
}

/// Opens `url` in the browser (`open` on macOS, `xdg-open` elsewhere); why not, if it cannot.
/// The URL goes in argv of the opener: it is a short-lived sign-in token, as every peer passes it.
fn open_browser(url: &str) -> Result<(), String> {
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    let status = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("{opener}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{opener} failed: {status}")) }
}
