//! Credentials for a [`Plan`]: the cache first, then, under the key's lock, the MFA session and
//! the role calls. The one place that decides when to prompt and when to call STS.
//!
//! ```text
//! read result entry ── fresh ──────────────────────────────────────────────> done (the hot path)
//!   │ stale/missing
//! lock result key, re-read ── fresh ───────────────────────────────────────> done
//!   │ (if we waited and the holder stored nothing new, it failed: fail too, never a second prompt)
//!   ├ Session: MFA session cached? else lock MFA key, re-read; else base + prompt +
//!   │          GetSessionToken; store. Then AssumeRole each hop silently from it (a cached
//!   │          session STS no longer accepts is replaced, once)
//!   ├ Direct:  base; AssumeRole the MFA hop with the code (next code on "invalid code")
//!   └ None:    base; AssumeRole each hop
//! store result entry
//! ```
//!
//! The base credentials (keys, environment, a `credential_process` such as a password manager)
//! are asked for only when a call is about to be signed with them, at most once per call: a
//! renewal from a cached MFA session never runs the base `credential_process`.
//!
//! A request that carried a code is never re-sent; a refused code asks for the next one, up to
//! [`MAX_CODE_ATTEMPTS`] codes. The one re-send of a request STS refused for its signing time
//! is the client's ([`crate::sts::client`]): it alone sees STS's clock.
//!
//! Everything outside comes in through [`Options`] (the code source, the base source, STS), so
//! every decision here is unit-tested against scripted ones.

use std::time::Instant;

use crate::base_credentials::{BaseError, BaseSource};
use crate::cache::CacheKey;
use crate::cache::{self, Cache, CacheError, Entry, entry::ENTRY_VERSION};
use crate::context::Context;
use crate::credentials::{BaseCredentials, Credentials};
use crate::mfa::{CodeRequest, CodeSource, MfaError};
use crate::plan::{MfaStrategy, Plan, Source, StrategyReason};
use crate::sts::{AssumeRole, GetSessionToken, Sts, StsError};

/// Codes asked for when STS refuses one.
pub const MAX_CODE_ATTEMPTS: u32 = 3;
/// How long the prompt waits for the connection opened ahead of it: a refused connection, a
/// name that does not resolve or a certificate that is not trusted is known by then on any
/// working network, and is reported before a code is typed. A slower connection goes on while
/// the user types.
const CONNECT_HEAD_START: std::time::Duration = std::time::Duration::from_millis(300);
/// How long a typed code waits for a connection still being opened, before its request opens
/// one of its own.
const CONNECT_AFTER_CODE: std::time::Duration = std::time::Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error(transparent)]
    Mfa(#[from] MfaError),
    #[error(transparent)]
    Base(#[from] BaseError),
    #[error("profile `{profile}` ({file}): {source}")]
    Sts {
        profile: String,
        file: String,
        #[source]
        source: StsError,
    },
}

impl ProviderError {
    pub fn hint(&self) -> Option<String> {
        match self {
            ProviderError::Cache(e) => e.hint(),
            ProviderError::Mfa(e) => e.hint(),
            ProviderError::Base(e) => e.hint(),
            // Named after the profile the error names, which `doctor` explains key by key.
            ProviderError::Sts { profile, source: StsError::InvalidClientTokenId { .. }, .. } => Some(format!(
                "the access key that signed the request is unknown to AWS: it may be deleted or mistyped (`rolegate doctor {}` shows which key and where it is set)",
                crate::config::quote(profile)
            )),
            ProviderError::Sts { source, .. } => source.hint(),
        }
    }
}

/// How this call may behave.
pub struct Options<'a> {
    pub code_source: &'a mut dyn CodeSource,
    /// The base credentials: asked only when a call is about to be signed with them, at most
    /// once per call (`base_credentials::Configured` in use).
    pub base: &'a dyn BaseSource,
    /// STS (`sts::LazyClient` in use: built at the first call, so a cache hit builds nothing).
    pub sts: &'a dyn Sts,
    /// Entries issued before this process started are stale (`--refresh-mfa`).
    pub refresh: bool,
    /// Bound on every wait: the lock, the prompt, a base credential_process.
    pub deadline: Instant,
    pub prompt_timeout_seconds: u64,
    /// Beyond the cache's own rule ([`cache::is_fresh`]), a cached result is served only with at
    /// least this much validity left: 0 for a one-off call; the local endpoint's renewal asks for
    /// more than the credentials it serves have left.
    pub min_remaining_seconds: i64,
    /// For error messages: the file that defines a profile.
    pub file_of: &'a dyn Fn(&str) -> String,
}

/// The hot path: a fresh cached result, or `None`. Touches nothing but the entry file.
pub fn cached(ctx: &Context, plan: &Plan, cache: &Cache) -> Option<Credentials> {
    let entry = cache.read(&plan.result_key)?;
    cache::is_fresh(&entry, ctx.now(), None).then_some(entry.credentials)
}

/// Credentials for `plan`, from the cache or from STS.
pub fn credentials(
    ctx: &Context,
    plan: &Plan,
    cache: &Cache,
    opts: &mut Options<'_>,
) -> Result<Credentials, ProviderError> {
    let not_before = opts.refresh.then_some(ctx.started_at);
    let seen = cache.read(&plan.result_key);
    if !opts.refresh
        && let Some(entry) = &seen
        && result_is_fresh(entry, ctx, None, opts)
    {
        return Ok(entry.credentials.clone());
    }
    let mut base = LazyBase::default();
    // A profile with keys and mfa_serial and no role: the MFA session is the result.
    if plan.chain.hops.is_empty() {
        return mfa_session(ctx, plan, cache, &mut base, opts).map(|s| s.credentials);
    }
    let lock = cache.lock(&plan.result_key, opts.deadline)?;
    let now_seen = lock.read();
    if let Some(entry) = now_seen.as_ref().filter(|e| result_is_fresh(e, ctx, not_before, opts)) {
        return Ok(entry.credentials.clone());
    }
    if lock.waited && !opts.refresh && issued(&now_seen) == issued(&seen) {
        // The holder had the same job and stored nothing new: it failed (a prompt that timed
        // out, a refused code). Asking again here would give one prompt per waiting process.
        return Err(CacheError::OtherFailed { label: plan.result_key.label.clone() }.into());
    }

    let result = match plan.strategy {
        MfaStrategy::None => {
            let base = base.get(ctx, plan, opts)?.clone();
            assume_from(ctx, plan, opts, base, 0)?
        }
        MfaStrategy::Session => {
            let session = mfa_session(ctx, plan, cache, &mut base, opts)?;
            match assume_from(ctx, plan, opts, session.credentials.as_base(), 0) {
                // The cached MFA session was revoked or expired early: start a new one, once.
                // (A session made just now that STS refuses would be refused again.)
                Err(ProviderError::Sts {
                    source: StsError::ExpiredToken { .. } | StsError::InvalidClientTokenId { .. },
                    ..
                }) if session.cached => {
                    crate::diag::notice("the cached MFA session is no longer valid; starting a new one");
                    let session = new_mfa_session(ctx, plan, cache, &mut base, opts)?;
                    assume_from(ctx, plan, opts, session.as_base(), 0)?
                }
                other => other?,
            }
        }
        MfaStrategy::Direct => {
            let mfa_hop = plan.chain.mfa_hop().unwrap_or(0);
            code_available(plan, opts)?;
            let base = base.get(ctx, plan, opts)?.clone();
            let (before, _) = assume_range(ctx, plan, opts, base, 0, mfa_hop)?;
            let with_mfa = assume_with_code(ctx, plan, opts, &before, mfa_hop)?;
            if mfa_hop + 1 == plan.chain.hops.len() {
                with_mfa
            } else {
                assume_from(ctx, plan, opts, with_mfa.as_base(), mfa_hop + 1)?
            }
        }
    };
    let entry = Entry {
        version: ENTRY_VERSION,
        kind: "role".into(),
        label: plan.result_key.label.clone(),
        profile: plan.chain.profile.clone(),
        issued_at: ctx.now(),
        credentials: result,
        path: None,
    };
    keep_going(lock.store(&entry));
    Ok(entry.credentials)
}

fn issued(entry: &Option<Entry>) -> Option<time::OffsetDateTime> {
    entry.as_ref().map(|e| e.issued_at)
}

fn result_is_fresh(entry: &Entry, ctx: &Context, not_before: Option<time::OffsetDateTime>, opts: &Options<'_>) -> bool {
    cache::is_fresh(entry, ctx.now(), not_before)
        && entry.credentials.seconds_left(ctx.now()) >= opts.min_remaining_seconds
}

/// The base credentials of one call: asked of [`Options::base`] the first time a call is about
/// to be signed with them, then kept for the rest of the call.
#[derive(Default)]
struct LazyBase {
    got: Option<BaseCredentials>,
}

impl LazyBase {
    fn get(&mut self, ctx: &Context, plan: &Plan, opts: &Options<'_>) -> Result<&BaseCredentials, ProviderError> {
        let base = match self.got.take() {
            Some(base) => base,
            None => {
                let mut resolving: Vec<&str> = plan.chain.hops.iter().map(|h| h.profile.as_str()).collect();
                resolving.push(plan.chain.base.profile());
                resolving.push(&plan.chain.profile);
                tracing::debug!(profile = plan.chain.base.profile(), "base credentials");
                opts.base.fetch(ctx, &plan.chain.base, &resolving, opts.deadline)?
            }
        };
        Ok(self.got.insert(base))
    }
}

/// STS, ready to call; a failure to set it up is reported against the requested profile.
fn sts<'o>(plan: &Plan, opts: &Options<'o>) -> Result<&'o dyn Sts, ProviderError> {
    opts.sts.prepare().map_err(|source| ProviderError::Sts {
        profile: plan.chain.profile.clone(),
        file: (opts.file_of)(&plan.chain.profile),
        source,
    })?;
    Ok(opts.sts)
}

/// An MFA session, and whether it came from the cache (STS may have revoked it since).
struct MfaSession {
    credentials: Credentials,
    cached: bool,
}

/// The shared MFA session: cached, or new under the MFA key's lock.
fn mfa_session(
    ctx: &Context,
    plan: &Plan,
    cache: &Cache,
    base: &mut LazyBase,
    opts: &mut Options<'_>,
) -> Result<MfaSession, ProviderError> {
    let key = plan.mfa_session_key.as_ref().expect("Session strategy has an MFA key");
    let not_before = opts.refresh.then_some(ctx.started_at);
    let seen = cache.read(key);
    if let Some(e) = seen.as_ref().filter(|e| cache::is_fresh(e, ctx.now(), not_before)) {
        return Ok(MfaSession { credentials: e.credentials.clone(), cached: true });
    }
    let lock = cache.lock(key, opts.deadline)?;
    let now_seen = lock.read();
    if let Some(e) = now_seen.as_ref().filter(|e| cache::is_fresh(e, ctx.now(), not_before)) {
        return Ok(MfaSession { credentials: e.credentials.clone(), cached: true });
    }
    if lock.waited && !opts.refresh && issued(&now_seen) == issued(&seen) {
        return Err(CacheError::OtherFailed { label: key.label.clone() }.into());
    }
    code_available(plan, opts)?;
    let base = base.get(ctx, plan, opts)?;
    let session = get_session_token(plan, base, opts)?;
    store(&lock, key, plan, "mfa-session", ctx, &session)?;
    Ok(MfaSession { credentials: session, cached: false })
}

/// Fails early, before the base is asked, when the code source surely cannot give a code (a
/// background renewal): a base `credential_process` then does not run every retry for nothing.
fn code_available(plan: &Plan, opts: &Options<'_>) -> Result<(), ProviderError> {
    let serial = plan.chain.mfa_serial().unwrap_or_default();
    match opts.code_source.unavailable(&plan.chain.profile, serial) {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// A new MFA session even though one is cached (it was refused by STS).
fn new_mfa_session(
    ctx: &Context,
    plan: &Plan,
    cache: &Cache,
    base: &mut LazyBase,
    opts: &mut Options<'_>,
) -> Result<Credentials, ProviderError> {
    let key = plan.mfa_session_key.as_ref().expect("Session strategy has an MFA key");
    let lock = cache.lock(key, opts.deadline)?;
    code_available(plan, opts)?;
    let _ = lock.remove()?;
    let base = base.get(ctx, plan, opts)?;
    let session = get_session_token(plan, base, opts)?;
    store(&lock, key, plan, "mfa-session", ctx, &session)?;
    Ok(session)
}

fn store(
    lock: &cache::Locked<'_>,
    key: &CacheKey,
    plan: &Plan,
    kind: &str,
    ctx: &Context,
    credentials: &Credentials,
) -> Result<(), ProviderError> {
    let entry = Entry {
        version: ENTRY_VERSION,
        kind: kind.into(),
        label: key.label.clone(),
        profile: plan.chain.profile.clone(),
        issued_at: ctx.now(),
        credentials: credentials.clone(),
        path: None,
    };
    keep_going(lock.store(&entry));
    Ok(())
}

/// A failure to cache credentials already obtained must not lose them (the MFA code that got
/// them is spent): warn, and hand them out anyway.
fn keep_going(stored: Result<(), CacheError>) {
    if let Err(e) = stored {
        crate::diag::warn(&format!(
            "{}; the credentials are used but not cached, so the next call will ask again",
            crate::diag::chain_message(&e)
        ));
    }
}

fn get_session_token(
    plan: &Plan,
    base: &BaseCredentials,
    opts: &mut Options<'_>,
) -> Result<Credentials, ProviderError> {
    let serial = plan.chain.mfa_serial().expect("Session strategy has a serial");
    let profile = plan.chain.base.profile().to_string();
    let client = sts(plan, opts)?;
    with_codes(plan, opts, "GetSessionToken", None, |code| {
        let _span = tracing::debug_span!("get_session_token", duration = plan.mfa_session_seconds).entered();
        client.get_session_token(
            base,
            &GetSessionToken { duration_seconds: plan.mfa_session_seconds, serial_number: serial, token_code: code },
        )
    })
    .map_err(|e| e.with_profile(&profile, opts))
}

fn assume_with_code(
    ctx: &Context,
    plan: &Plan,
    opts: &mut Options<'_>,
    caller: &BaseCredentials,
    index: usize,
) -> Result<Credentials, ProviderError> {
    let hop = &plan.chain.hops[index];
    let serial = hop.mfa_serial.as_deref().or(plan.chain.mfa_serial()).expect("Direct strategy has a serial");
    let client = sts(plan, opts)?;
    let session_name = session_name(ctx, hop.role_session_name.as_deref());
    let duration = plan.role_seconds(index);
    let notice = direct_notice(plan);
    with_codes(plan, opts, "AssumeRole", notice.as_deref(), |code| {
        let _span = tracing::debug_span!("assume_role", role = %hop.role_arn, mfa = true, duration).entered();
        client.assume_role(
            caller,
            &AssumeRole {
                role_arn: &hop.role_arn,
                role_session_name: &session_name,
                duration_seconds: duration,
                external_id: hop.external_id.as_deref(),
                mfa: Some((serial, code)),
                attributes: &hop.attributes,
            },
        )
    })
    .map_err(|e| e.with_profile(&hop.profile, opts))
}

/// Why the code goes to AssumeRole directly, said once at the prompt.
fn direct_notice(plan: &Plan) -> Option<String> {
    Some(match &plan.reason {
        StrategyReason::LongRole { profile, seconds } if plan.duration_source == Source::Flag("--duration") => format!(
            "--duration asks for {seconds} s for `{profile}`, more than the 1 h AWS allows for roles assumed from an MFA session; so this role gets the MFA code directly and will ask for a new code when it expires (ask for 1h or less for one code a day)"
        ),
        StrategyReason::LongRole { profile, seconds } => format!(
            "profile `{profile}` asks for {seconds} s (duration_seconds), more than the 1 h AWS allows for roles assumed from an MFA session; so this role gets the MFA code directly and will ask for a new code when it expires (set duration_seconds <= 3600 for one code a day)"
        ),
        StrategyReason::LaterHop { profile } => {
            format!("MFA is required by `{profile}`, which is assumed from another role; it gets the MFA code directly")
        }
        StrategyReason::TemporaryBase => {
            "the base credentials are temporary, so the role gets the MFA code directly (no shared MFA session)".into()
        }
        _ => return None,
    })
}

/// Assumes hops `from..` silently, starting with `caller`; `from` must be a valid hop.
fn assume_from(
    ctx: &Context,
    plan: &Plan,
    opts: &Options<'_>,
    caller: BaseCredentials,
    from: usize,
) -> Result<Credentials, ProviderError> {
    let (_, last) = assume_range(ctx, plan, opts, caller, from, plan.chain.hops.len())?;
    Ok(last.expect("at least one hop assumed"))
}

/// Assumes hops `from..until` silently: the credentials to go on with, and the last result.
fn assume_range(
    ctx: &Context,
    plan: &Plan,
    opts: &Options<'_>,
    caller: BaseCredentials,
    from: usize,
    until: usize,
) -> Result<(BaseCredentials, Option<Credentials>), ProviderError> {
    let mut current = caller;
    let mut last = None;
    if from >= until {
        return Ok((current, last));
    }
    let client = sts(plan, opts)?;
    for index in from..until {
        let hop = &plan.chain.hops[index];
        let session_name = session_name(ctx, hop.role_session_name.as_deref());
        let duration = plan.role_seconds(index);
        let _span = tracing::debug_span!("assume_role", role = %hop.role_arn, mfa = false, duration).entered();
        let creds = client
            .assume_role(
                &current,
                &AssumeRole {
                    role_arn: &hop.role_arn,
                    role_session_name: &session_name,
                    duration_seconds: duration,
                    external_id: hop.external_id.as_deref(),
                    mfa: None,
                    attributes: &hop.attributes,
                },
            )
            .map_err(|source| ProviderError::Sts {
                profile: hop.profile.clone(),
                file: (opts.file_of)(&hop.profile),
                source,
            })?;
        current = creds.as_base();
        last = Some(creds);
    }
    Ok((current, last))
}

/// `role_session_name`, else `rolegate-<unix time>`, as botocore names its sessions.
fn session_name(ctx: &Context, configured: Option<&str>) -> String {
    configured.map_or_else(|| format!("rolegate-{}", ctx.now().unix_timestamp()), str::to_string)
}

/// Failure inside [`with_codes`], before the profile is attached.
enum CodeCallError {
    Mfa(MfaError),
    Sts(StsError),
}

impl CodeCallError {
    fn with_profile(self, profile: &str, opts: &Options<'_>) -> ProviderError {
        match self {
            CodeCallError::Mfa(e) => e.into(),
            CodeCallError::Sts(source) => {
                ProviderError::Sts { profile: profile.into(), file: (opts.file_of)(profile), source }
            }
        }
    }
}

/// Asks for a code and makes `call` with it; on "invalid code" asks for the next one.
///
/// The connection to STS is opened while the first code is asked for: an endpoint that cannot
/// be reached is reported before the prompt when that is known at once, else before the code is
/// sent.
fn with_codes(
    plan: &Plan,
    opts: &mut Options<'_>,
    action: &'static str,
    notice: Option<&str>,
    mut call: impl FnMut(&crate::credentials::MfaCode) -> Result<Credentials, StsError>,
) -> Result<Credentials, CodeCallError> {
    let serial = plan.chain.mfa_serial().unwrap_or_default();
    opts.sts.connect_ahead(action);
    opts.sts.connected(CONNECT_HEAD_START).map_err(CodeCallError::Sts)?;
    // The codes STS refused in this call: one given again is not sent (STS would refuse it
    // again, and a refused code counts towards the device's lockout).
    let mut refused: Vec<crate::credentials::MfaCode> = Vec::new();
    let mut repeated = false;
    let mut attempt = 1;
    loop {
        let request = CodeRequest {
            serial,
            profile: &plan.chain.profile,
            notice: if attempt == 1 { notice } else { None },
            attempt,
            repeated,
            deadline: opts.deadline.min(Instant::now() + std::time::Duration::from_secs(opts.prompt_timeout_seconds)),
            timeout_seconds: opts.prompt_timeout_seconds,
        };
        let code = opts.code_source.code(&request).map_err(CodeCallError::Mfa)?;
        repeated = refused.iter().any(|r| r.expose_secret() == code.expose_secret());
        if repeated {
            if attempt >= MAX_CODE_ATTEMPTS {
                return Err(CodeCallError::Mfa(MfaError::RefusedAgain {
                    profile: plan.chain.profile.clone(),
                    serial: serial.into(),
                }));
            }
            attempt += 1;
            continue;
        }
        opts.sts.connected(CONNECT_AFTER_CODE).map_err(CodeCallError::Sts)?;
        match call(&code) {
            Err(StsError::InvalidMfaCode { .. }) if attempt < MAX_CODE_ATTEMPTS => {
                refused.push(code);
                attempt += 1;
            }
            other => return other.map_err(CodeCallError::Sts),
        }
    }
}

/// What keeps a long-running consumer's credentials fresh (the local endpoint's): the
/// provider's own decision, from the cached MFA session, never asking for a code (a request to
/// the endpoint must never wait on a human).
pub trait Renew: Send + 'static {
    /// Credentials with at least `min_remaining_seconds` of validity left.
    fn renew(&mut self, min_remaining_seconds: i64) -> Result<Credentials, ProviderError>;
    /// The clock the expirations are read by.
    fn now(&self) -> time::OffsetDateTime;
}

/// The [`Renew`] of one plan. It owns copies of what it needs (the plan, the cache's place, the
/// files that define the chain's profiles, for messages), never the configuration.
pub struct Renewer {
    pub ctx: Context,
    pub plan: Plan,
    pub cache: Cache,
    /// The file that defines each profile of the chain.
    pub files: std::collections::BTreeMap<String, String>,
    /// Where profiles live, for a profile not in `files`.
    pub other_files: String,
    pub prompt_timeout_seconds: u64,
}

impl Renew for Renewer {
    fn renew(&mut self, min_remaining_seconds: i64) -> Result<Credentials, ProviderError> {
        let file_of = |p: &str| self.files.get(p).cloned().unwrap_or_else(|| self.other_files.clone());
        let mut no_prompt = crate::mfa::NoPrompt;
        let deadline = Instant::now() + std::time::Duration::from_secs(60);
        let sts = crate::sts::LazyClient::new(&self.ctx, self.plan.endpoint.clone(), deadline);
        let mut opts = Options {
            code_source: &mut no_prompt,
            base: &crate::base_credentials::Configured { terminal: false },
            sts: &sts,
            refresh: false,
            deadline,
            prompt_timeout_seconds: self.prompt_timeout_seconds,
            min_remaining_seconds,
            file_of: &file_of,
        };
        credentials(&self.ctx, &self.plan, &self.cache, &mut opts)
    }

    fn now(&self) -> time::OffsetDateTime {
        self.ctx.now()
    }
}

#[cfg(test)]
mod tests {
    //! Every decision of the provider against a scripted STS, a counting base source, counted
    //! codes, a cache in a temporary directory and a fixed clock.

    use std::cell::Cell;
    use std::os::unix::fs::MetadataExt;
    use std::path::Path;
    use std::sync::mpsc;
    use std::time::Duration;

    use time::OffsetDateTime;
    use time::macros::datetime;

    use super::*;
    use crate::config::{Base, Profiles};
    use crate::context::{Clock, Env};
    use crate::credentials::{MfaCode, Secret};
    use crate::plan::PlanOptions;
    use crate::sts::fake::{Call, FakeSts, issued};

    const CONFIG: &str = "[profile base]
region = us-west-2

[profile target]
source_profile = base
role_arn = arn:aws:iam::123456789012:role/target
mfa_serial = arn:aws:iam::123456789012:mfa/user

[profile long]
source_profile = base
role_arn = arn:aws:iam::123456789012:role/long
mfa_serial = arn:aws:iam::123456789012:mfa/user
duration_seconds = 7200

[profile plain]
source_profile = base
role_arn = arn:aws:iam::123456789012:role/plain

[profile keys-mfa]
region = us-west-2
mfa_serial = arn:aws:iam::123456789012:mfa/user
";
    const CREDENTIALS: &str = "[base]
aws_access_key_id = AKIAFROMTHEFILE00000
aws_secret_access_key = unused-the-base-source-is-counted
[keys-mfa]
aws_access_key_id = AKIAFROMTHEFILE00001
aws_secret_access_key = unused-the-base-source-is-counted
";
    /// What the counted base source hands out.
    const BASE_KEY: &str = "AKIABASE";
    const ROLE: &str = "arn:aws:iam::123456789012:role/target";
    const T0: OffsetDateTime = datetime!(2026-03-02 08:00 UTC);

    fn hours(h: i64) -> time::Duration {
        time::Duration::hours(h)
    }

    fn plan(profile: &str) -> Plan {
        let profiles = Profiles::parse(CONFIG, CREDENTIALS).expect("config parses");
        crate::plan::plan(&profiles, profile, &Env::default(), &PlanOptions::default()).expect("plan")
    }

    /// Codes 100001, 100002, ... (or the `script`ed ones, in order); records the attempt number
    /// and the `repeated` flag of each request.
    #[derive(Default)]
    struct Codes {
        attempts: Vec<u32>,
        repeated: Vec<bool>,
        script: Vec<&'static str>,
    }

    impl CodeSource for Codes {
        fn code(&mut self, request: &CodeRequest<'_>) -> Result<MfaCode, MfaError> {
            self.attempts.push(request.attempt);
            self.repeated.push(request.repeated);
            let code = match self.script.get(self.attempts.len() - 1) {
                Some(scripted) => scripted.to_string(),
                None => format!("{}", 100_000 + self.attempts.len()),
            };
            Ok(MfaCode::parse(&code).expect("six digits"))
        }
    }

    /// The base source, counted; fails when told to.
    #[derive(Default)]
    struct CountingBase {
        asked: Cell<u32>,
        fail: bool,
    }

    impl BaseSource for CountingBase {
        fn fetch(
            &self,
            _ctx: &Context,
            base: &Base,
            resolving: &[&str],
            _deadline: Instant,
        ) -> Result<BaseCredentials, BaseError> {
            self.asked.set(self.asked.get() + 1);
            assert!(resolving.contains(&base.profile()), "{resolving:?}");
            if self.fail {
                return Err(BaseError::ProcessFailed {
                    profile: base.profile().into(),
                    status: "exit status: 1".into(),
                });
            }
            Ok(BaseCredentials {
                access_key_id: BASE_KEY.into(),
                secret_access_key: Secret::new("base-secret"),
                session_token: None,
                expiration: None,
            })
        }
    }

    struct World {
        _dir: tempfile::TempDir,
        cache: Cache,
        sts: FakeSts,
        base: CountingBase,
        codes: Codes,
    }

    impl World {
        fn new() -> World {
            let dir = tempfile::tempdir().expect("temp dir");
            let cache = Cache::new(dir.path().join("cache"));
            World { _dir: dir, cache, sts: FakeSts::new(), base: CountingBase::default(), codes: Codes::default() }
        }

        fn call(&mut self, plan: &Plan, at: OffsetDateTime) -> Result<Credentials, ProviderError> {
            self.call_with(plan, at, false)
        }

        fn call_with(&mut self, plan: &Plan, at: OffsetDateTime, refresh: bool) -> Result<Credentials, ProviderError> {
            let ctx = Context::new(Env::default(), Clock::Fixed(at));
            let file_of = |p: &str| format!("file-of-{p}");
            let mut opts = Options {
                code_source: &mut self.codes,
                base: &self.base,
                sts: &self.sts,
                refresh,
                deadline: Instant::now() + Duration::from_secs(30),
                prompt_timeout_seconds: 5,
                min_remaining_seconds: 0,
                file_of: &file_of,
            };
            credentials(&ctx, plan, &self.cache, &mut opts)
        }

        /// Stores an entry as another process would.
        fn seed(
            &self,
            key: &CacheKey,
            kind: &str,
            access_key_id: &str,
            issued_at: OffsetDateTime,
            expires: OffsetDateTime,
        ) {
            let lock = self.cache.lock(key, Instant::now() + Duration::from_secs(5)).expect("lock");
            lock.store(&entry(key, kind, access_key_id, issued_at, expires)).expect("store");
        }

        fn cached_key_id(&self, key: &CacheKey) -> Option<String> {
            self.cache.read(key).map(|e| e.credentials.access_key_id)
        }

        fn base_asked(&self) -> u32 {
            self.base.asked.get()
        }

        fn actions(&self) -> Vec<&'static str> {
            self.sts.calls().iter().map(|c| c.action).collect()
        }
    }

    fn entry(
        key: &CacheKey,
        kind: &str,
        access_key_id: &str,
        issued_at: OffsetDateTime,
        expires: OffsetDateTime,
    ) -> Entry {
        Entry {
            version: ENTRY_VERSION,
            kind: kind.into(),
            label: key.label.clone(),
            profile: "target".into(),
            issued_at,
            credentials: issued(access_key_id, expires),
            path: None,
        }
    }

    fn gst(caller: &str, code: &str) -> Call {
        Call { action: "GetSessionToken", caller: caller.into(), code: Some(code.into()), role_arn: None }
    }

    fn assume(caller: &str, code: Option<&str>, role: &str) -> Call {
        Call {
            action: "AssumeRole",
            caller: caller.into(),
            code: code.map(str::to_string),
            role_arn: Some(role.into()),
        }
    }

    fn sts_error(code: &str, message: &str) -> StsError {
        StsError::from_service("AssumeRole", 403, code.into(), message.into())
    }

    fn gst_error(code: &str, message: &str) -> StsError {
        StsError::from_service("GetSessionToken", 403, code.into(), message.into())
    }

    fn invalid_code() -> StsError {
        StsError::from_service(
            "GetSessionToken",
            403,
            "AccessDenied".into(),
            "MultiFactorAuthentication failed with invalid MFA one time pass code.".into(),
        )
    }

    fn transport(action: &'static str) -> StsError {
        StsError::Transport {
            action,
            url: "https://sts.us-west-2.amazonaws.com".into(),
            detail: "connection reset".into(),
        }
    }

    // ---- the cache first ----

    #[test]
    fn a_fresh_result_is_served_without_sts_base_or_code() {
        let mut w = World::new();
        let plan = plan("target");
        w.seed(&plan.result_key, "role", "ASIAROLE", T0, T0 + hours(1));
        let got = w.call(&plan, T0 + time::Duration::minutes(30)).expect("served");
        assert_eq!(got.access_key_id, "ASIAROLE");
        assert_eq!((w.sts.calls().len(), w.base_asked(), w.codes.attempts.len()), (0, 0, 0));
    }

    #[test]
    fn a_cold_call_asks_the_base_once_and_one_code_then_serves_from_the_cache() {
        let mut w = World::new();
        let plan = plan("target");
        w.sts.issue("ASIASESSION", T0 + hours(12)).issue("ASIAROLE", T0 + hours(1));
        let got = w.call(&plan, T0).expect("credentials");
        assert_eq!(got.access_key_id, "ASIAROLE");
        assert_eq!(w.sts.calls(), [gst(BASE_KEY, "100001"), assume("ASIASESSION", None, ROLE)]);
        assert_eq!((w.base_asked(), w.codes.attempts.clone()), (1, vec![1]));
        assert_eq!(w.cached_key_id(plan.mfa_session_key.as_ref().unwrap()).as_deref(), Some("ASIASESSION"));
        assert_eq!(w.cached_key_id(&plan.result_key).as_deref(), Some("ASIAROLE"));

        assert_eq!(w.call(&plan, T0 + time::Duration::minutes(40)).unwrap().access_key_id, "ASIAROLE");
        assert_eq!((w.sts.calls().len(), w.base_asked(), w.codes.attempts.len()), (2, 1, 1));
    }

    #[test]
    fn a_short_role_is_assumed_once_and_served_while_more_than_eleven_minutes_remain() {
        let mut w = World::new();
        let plan = plan("target");
        let minutes = time::Duration::minutes;
        // A 900-second role (AWS's minimum) can never have the 15 minutes a long one is
        // renewed at: it is served down to 11 minutes left (botocore's mandatory 10 and a minute).
        w.sts.issue("ASIASESSION", T0 + hours(12)).issue("ASIAROLE1", T0 + minutes(15));
        assert_eq!(w.call(&plan, T0).unwrap().access_key_id, "ASIAROLE1");
        for at in [minutes(1), minutes(3), minutes(4)] {
            assert_eq!(w.call(&plan, T0 + at).unwrap().access_key_id, "ASIAROLE1", "at {at}");
        }
        assert_eq!(w.actions().iter().filter(|a| **a == "AssumeRole").count(), 1, "assumed once");
        // With less than 11 minutes left, assumed again.
        let later = T0 + minutes(4) + time::Duration::seconds(1);
        w.sts.issue("ASIAROLE2", later + minutes(15));
        assert_eq!(w.call(&plan, later).unwrap().access_key_id, "ASIAROLE2");
        assert_eq!(w.actions().iter().filter(|a| **a == "AssumeRole").count(), 2);
        // A one-hour role is still renewed with 15 minutes left.
        w.seed(&plan.result_key, "role", "ASIAHOUR", T0, T0 + hours(1));
        assert_eq!(w.call(&plan, T0 + minutes(45)).unwrap().access_key_id, "ASIAHOUR");
        w.sts.issue("ASIAROLE3", T0 + hours(2));
        let renewed = w.call(&plan, T0 + minutes(45) + time::Duration::seconds(1)).unwrap();
        assert_eq!(renewed.access_key_id, "ASIAROLE3");
    }

    // ---- the lock, then the re-check ----

    /// Takes `key`'s lock in another thread, as another process would, and returns once it
    /// holds it. When a call blocks on that lock (seen in /proc/locks), the holder stores
    /// `store`, if any, and lets go.
    fn hold_lock(dir: &Path, key: &CacheKey, store: Option<Entry>) -> std::thread::JoinHandle<()> {
        let (dir, key) = (dir.to_path_buf(), key.clone());
        let (locked_tx, locked_rx) = mpsc::channel();
        let holder = std::thread::spawn(move || {
            let cache = Cache::new(dir.clone());
            let lock = cache.lock(&key, Instant::now() + Duration::from_secs(5)).expect("lock");
            locked_tx.send(()).expect("the test waits");
            wait_for_a_waiter(&dir.join(format!("{}.lock", key.digest)));
            if let Some(entry) = store {
                lock.store(&entry).expect("store");
            }
        });
        locked_rx.recv().expect("the holder has the lock");
        holder
    }

    /// Returns once some open file description waits for the `flock` on `path` (a line
    /// `N: -> FLOCK ADVISORY WRITE PID MAJOR:MINOR:INODE 0 EOF` in /proc/locks).
    fn wait_for_a_waiter(path: &Path) {
        let meta = std::fs::metadata(path).expect("lock file");
        let (dev, ino) = (meta.dev(), meta.ino());
        let file = format!("{:02x}:{:02x}:{ino}", rustix::fs::major(dev), rustix::fs::minor(dev));
        let give_up = Instant::now() + Duration::from_secs(20);
        loop {
            let locks = std::fs::read_to_string("/proc/locks").expect("/proc/locks");
            let waiting = locks.lines().any(|l| l.contains("->") && l.split_whitespace().any(|field| field == file));
            if waiting {
                return;
            }
            assert!(Instant::now() < give_up, "nobody waited for {}:\n{locks}", path.display());
            std::thread::yield_now();
        }
    }

    #[test]
    fn an_entry_stored_while_this_call_waited_for_the_lock_is_served() {
        let mut w = World::new();
        let plan = plan("target");
        // Nothing cached at the first read; the holder stores the result while we wait.
        let stored = entry(&plan.result_key, "role", "ASIAFROMHOLDER", T0, T0 + hours(1));
        let holder = hold_lock(w.cache.dir(), &plan.result_key, Some(stored));
        let got = w.call(&plan, T0).expect("served");
        holder.join().unwrap();
        assert_eq!(got.access_key_id, "ASIAFROMHOLDER");
        assert_eq!((w.sts.calls().len(), w.base_asked(), w.codes.attempts.len()), (0, 0, 0));
    }

    #[test]
    fn a_holder_that_stored_nothing_failed_and_this_call_does_not_prompt() {
        let mut w = World::new();
        let plan = plan("target");
        let holder = hold_lock(w.cache.dir(), &plan.result_key, None);
        let err = w.call(&plan, T0).unwrap_err();
        holder.join().unwrap();
        assert!(matches!(err, ProviderError::Cache(CacheError::OtherFailed { .. })), "{err:?}");
        assert_eq!((w.sts.calls().len(), w.base_asked(), w.codes.attempts.len()), (0, 0, 0));

        // The same on the MFA session's key (another role of the same device was starting it).
        let mfa_key = plan.mfa_session_key.clone().unwrap();
        let holder = hold_lock(w.cache.dir(), &mfa_key, None);
        let err = w.call(&plan, T0).unwrap_err();
        holder.join().unwrap_or_else(|_| panic!("the holder saw no waiter; the call returned {err:?}"));
        assert!(matches!(&err, ProviderError::Cache(CacheError::OtherFailed { label }) if *label == mfa_key.label));
        assert_eq!((w.sts.calls().len(), w.base_asked(), w.codes.attempts.len()), (0, 0, 0));
    }

    #[test]
    fn an_mfa_session_stored_while_this_call_waited_is_used_without_a_prompt() {
        let mut w = World::new();
        let plan = plan("target");
        let mfa_key = plan.mfa_session_key.clone().unwrap();
        let session = entry(&mfa_key, "mfa-session", "ASIASESSION", T0, T0 + hours(12));
        let holder = hold_lock(w.cache.dir(), &mfa_key, Some(session));
        w.sts.issue("ASIAROLE", T0 + hours(1));
        assert_eq!(w.call(&plan, T0).unwrap().access_key_id, "ASIAROLE");
        holder.join().unwrap();
        assert_eq!(w.sts.calls(), [assume("ASIASESSION", None, ROLE)]);
        assert_eq!((w.base_asked(), w.codes.attempts.len()), (0, 0));
    }

    // ---- codes ----

    #[test]
    fn a_refused_code_asks_for_the_next_one() {
        let mut w = World::new();
        let plan = plan("target");
        w.sts
            .fail(invalid_code())
            .fail(invalid_code())
            .issue("ASIASESSION", T0 + hours(12))
            .issue("ASIAROLE", T0 + hours(1));
        assert_eq!(w.call(&plan, T0).unwrap().access_key_id, "ASIAROLE");
        assert_eq!(w.codes.attempts, [1, 2, 3]);
        assert_eq!(
            w.sts.calls(),
            [
                gst(BASE_KEY, "100001"),
                gst(BASE_KEY, "100002"),
                gst(BASE_KEY, "100003"),
                assume("ASIASESSION", None, ROLE)
            ]
        );
        assert_eq!(w.base_asked(), 1, "the base is asked once however many codes");
    }

    #[test]
    fn a_refused_code_given_again_is_not_sent_and_the_next_one_is_asked() {
        let mut w = World::new();
        let plan = plan("target");
        w.codes.script = vec!["111111", "111111", "222222"];
        w.sts.fail(invalid_code()).issue("ASIASESSION", T0 + hours(12)).issue("ASIAROLE", T0 + hours(1));
        assert_eq!(w.call(&plan, T0).unwrap().access_key_id, "ASIAROLE");
        assert_eq!(w.codes.attempts, [1, 2, 3]);
        assert_eq!(w.codes.repeated, [false, false, true], "the third prompt says the second code was not sent");
        assert_eq!(
            w.sts.calls(),
            [gst(BASE_KEY, "111111"), gst(BASE_KEY, "222222"), assume("ASIASESSION", None, ROLE)],
            "the refused code went to STS once"
        );
    }

    #[test]
    fn a_source_that_repeats_a_refused_code_gives_up_without_sending_it() {
        let mut w = World::new();
        let plan = plan("target");
        w.codes.script = vec!["111111", "111111", "111111"];
        w.sts.fail(invalid_code());
        let err = w.call(&plan, T0).unwrap_err();
        assert!(matches!(err, ProviderError::Mfa(MfaError::RefusedAgain { .. })), "{err:?}");
        assert_eq!(w.codes.attempts.len(), MAX_CODE_ATTEMPTS as usize);
        assert_eq!(w.sts.calls(), [gst(BASE_KEY, "111111")]);
    }

    #[test]
    fn after_max_code_attempts_refused_codes_it_gives_up() {
        let mut w = World::new();
        let plan = plan("target");
        for _ in 0..MAX_CODE_ATTEMPTS {
            w.sts.fail(invalid_code());
        }
        let err = w.call(&plan, T0).unwrap_err();
        assert!(matches!(err, ProviderError::Sts { source: StsError::InvalidMfaCode { .. }, .. }), "{err:?}");
        assert_eq!(w.codes.attempts.len(), MAX_CODE_ATTEMPTS as usize);
        assert_eq!(w.actions(), ["GetSessionToken"; MAX_CODE_ATTEMPTS as usize]);
        assert!(w.cache.read(plan.mfa_session_key.as_ref().unwrap()).is_none());
    }

    #[test]
    fn a_request_with_a_code_is_never_sent_again() {
        // GetSessionToken: a transport failure or throttling ends the call; no second code.
        for failure in [transport("GetSessionToken"), gst_error("Throttling", "Rate exceeded")] {
            let mut w = World::new();
            w.sts.fail(failure);
            assert!(w.call(&plan("target"), T0).is_err());
            assert_eq!((w.actions(), w.codes.attempts.len()), (vec!["GetSessionToken"], 1));
        }
        // AssumeRole with the code (direct strategy): the same.
        let mut w = World::new();
        w.sts.fail(transport("AssumeRole"));
        let err = w.call(&plan("long"), T0).unwrap_err();
        assert!(matches!(err, ProviderError::Sts { source: StsError::Transport { .. }, .. }), "{err:?}");
        assert_eq!(w.sts.calls(), [assume(BASE_KEY, Some("100001"), "arn:aws:iam::123456789012:role/long")]);
        assert_eq!(w.codes.attempts.len(), 1);
    }

    #[test]
    fn a_failing_base_costs_no_code() {
        let mut w = World::new();
        w.base.fail = true;
        let err = w.call(&plan("target"), T0).unwrap_err();
        assert!(matches!(err, ProviderError::Base(BaseError::ProcessFailed { .. })), "{err:?}");
        assert_eq!((w.base_asked(), w.codes.attempts.len(), w.sts.calls().len()), (1, 0, 0));
    }

    // ---- the base only when needed ----

    #[test]
    fn a_renewal_from_a_cached_mfa_session_does_not_ask_the_base() {
        let mut w = World::new();
        let plan = plan("target");
        w.seed(plan.mfa_session_key.as_ref().unwrap(), "mfa-session", "ASIASESSION", T0, T0 + hours(12));
        // The role entry is about to expire: under the 15-minute floor.
        w.seed(&plan.result_key, "role", "ASIAOLDROLE", T0, T0 + hours(1));
        w.sts.issue("ASIAROLE", T0 + hours(1) + time::Duration::minutes(50));
        let got = w.call(&plan, T0 + time::Duration::minutes(50)).unwrap();
        assert_eq!(got.access_key_id, "ASIAROLE");
        assert_eq!(w.sts.calls(), [assume("ASIASESSION", None, ROLE)]);
        assert_eq!((w.base_asked(), w.codes.attempts.len()), (0, 0));
    }

    #[test]
    fn an_expired_mfa_session_asks_the_base_once() {
        let mut w = World::new();
        let plan = plan("target");
        // Ten minutes left: below the floor, so a new session.
        w.seed(
            plan.mfa_session_key.as_ref().unwrap(),
            "mfa-session",
            "ASIAOLDSESSION",
            T0 - hours(12),
            T0 + time::Duration::minutes(10),
        );
        w.sts.issue("ASIASESSION", T0 + hours(12)).issue("ASIAROLE", T0 + hours(1));
        assert_eq!(w.call(&plan, T0).unwrap().access_key_id, "ASIAROLE");
        assert_eq!(w.sts.calls(), [gst(BASE_KEY, "100001"), assume("ASIASESSION", None, ROLE)]);
        assert_eq!((w.base_asked(), w.codes.attempts.len()), (1, 1));
    }

    #[test]
    fn a_renewal_that_cannot_ask_for_a_code_fails_before_asking_the_base() {
        let w = World::new();
        let plan = plan("target");
        w.seed(plan.mfa_session_key.as_ref().unwrap(), "mfa-session", "ASIAOLD", T0 - hours(13), T0 - hours(1));
        let ctx = Context::new(Env::default(), Clock::Fixed(T0));
        let file_of = |p: &str| format!("file-of-{p}");
        let mut no_prompt = crate::mfa::NoPrompt;
        let mut opts = Options {
            code_source: &mut no_prompt,
            base: &w.base,
            sts: &w.sts,
            refresh: false,
            deadline: Instant::now() + Duration::from_secs(30),
            prompt_timeout_seconds: 5,
            min_remaining_seconds: 0,
            file_of: &file_of,
        };
        let err = credentials(&ctx, &plan, &w.cache, &mut opts).unwrap_err();
        assert!(matches!(err, ProviderError::Mfa(MfaError::NotNow { .. })), "{err:?}");
        assert_eq!(w.base_asked(), 0, "the base is not run for a call that cannot get a code");
        assert!(w.sts.calls().is_empty());
    }

    #[test]
    fn a_day_of_hourly_renewals_asks_the_base_and_a_code_once_per_mfa_session() {
        let mut w = World::new();
        let plan = plan("target");
        for hour in 0..24 {
            let now = T0 + hours(hour);
            if hour % 12 == 0 {
                // The 12-hour MFA session ran out (0 s left at hour 12): a new one.
                w.sts.issue(&format!("ASIASESSION{hour}"), now + hours(12));
            }
            w.sts.issue(&format!("ASIAROLE{hour}"), now + hours(1));
            assert_eq!(w.call(&plan, now).unwrap().access_key_id, format!("ASIAROLE{hour}"));
            // Anything asked again within the hour is a cache hit.
            assert_eq!(
                w.call(&plan, now + time::Duration::minutes(44)).unwrap().access_key_id,
                format!("ASIAROLE{hour}")
            );
        }
        assert_eq!(w.sts.unused(), 0);
        assert_eq!(w.actions().iter().filter(|a| **a == "AssumeRole").count(), 24);
        assert_eq!(w.actions().iter().filter(|a| **a == "GetSessionToken").count(), 2);
        assert_eq!((w.base_asked(), w.codes.attempts.len()), (2, 2), "the base and a code at hours 0 and 12 only");
    }

    // ---- a session STS no longer accepts ----

    #[test]
    fn a_revoked_cached_session_is_replaced_once() {
        for refusal in [
            sts_error("ExpiredToken", "The security token included in the request is expired"),
            sts_error("InvalidClientTokenId", "The security token included in the request is invalid."),
        ] {
            let mut w = World::new();
            let plan = plan("target");
            w.seed(plan.mfa_session_key.as_ref().unwrap(), "mfa-session", "ASIAREVOKED", T0, T0 + hours(12));
            w.sts.fail(refusal).issue("ASIASESSION", T0 + hours(12)).issue("ASIAROLE", T0 + hours(1));
            assert_eq!(w.call(&plan, T0).unwrap().access_key_id, "ASIAROLE");
            assert_eq!(
                w.sts.calls(),
                [assume("ASIAREVOKED", None, ROLE), gst(BASE_KEY, "100001"), assume("ASIASESSION", None, ROLE)]
            );
            assert_eq!((w.base_asked(), w.codes.attempts.len()), (1, 1));
            assert_eq!(w.cached_key_id(plan.mfa_session_key.as_ref().unwrap()).as_deref(), Some("ASIASESSION"));
        }
    }

    #[test]
    fn a_replacement_session_is_not_replaced_again() {
        let mut w = World::new();
        let plan = plan("target");
        w.seed(plan.mfa_session_key.as_ref().unwrap(), "mfa-session", "ASIAREVOKED", T0, T0 + hours(12));
        let expired = || sts_error("ExpiredToken", "The security token included in the request is expired");
        w.sts.fail(expired()).issue("ASIASESSION", T0 + hours(12)).fail(expired());
        let err = w.call(&plan, T0).unwrap_err();
        assert!(matches!(err, ProviderError::Sts { source: StsError::ExpiredToken { .. }, .. }), "{err:?}");
        assert_eq!(w.actions(), ["AssumeRole", "GetSessionToken", "AssumeRole"]);
        assert_eq!(w.codes.attempts.len(), 1);
    }

    #[test]
    fn a_session_made_just_now_that_sts_refuses_is_not_replaced() {
        let mut w = World::new();
        let plan = plan("target");
        w.sts.issue("ASIASESSION", T0 + hours(12)).fail(sts_error("InvalidClientTokenId", "invalid"));
        let err = w.call(&plan, T0).unwrap_err();
        assert!(matches!(err, ProviderError::Sts { source: StsError::InvalidClientTokenId { .. }, .. }), "{err:?}");
        assert_eq!(w.actions(), ["GetSessionToken", "AssumeRole"]);
        assert_eq!(w.codes.attempts.len(), 1, "one prompt");
    }

    // ---- the other strategies ----

    #[test]
    fn direct_strategy_sends_the_code_on_assume_role_signed_with_the_base() {
        let mut w = World::new();
        let plan = plan("long");
        assert_eq!(plan.strategy, MfaStrategy::Direct);
        w.sts.issue("ASIALONG", T0 + hours(2));
        assert_eq!(w.call(&plan, T0).unwrap().access_key_id, "ASIALONG");
        assert_eq!(w.sts.calls(), [assume(BASE_KEY, Some("100001"), "arn:aws:iam::123456789012:role/long")]);
        assert_eq!((w.base_asked(), w.codes.attempts.len()), (1, 1));
        assert!(plan.mfa_session_key.is_none());
    }

    #[test]
    fn no_mfa_assumes_from_the_base_without_a_code() {
        let mut w = World::new();
        let plan = plan("plain");
        assert_eq!(plan.strategy, MfaStrategy::None);
        w.sts.issue("ASIAPLAIN", T0 + hours(1));
        assert_eq!(w.call(&plan, T0).unwrap().access_key_id, "ASIAPLAIN");
        assert_eq!(w.sts.calls(), [assume(BASE_KEY, None, "arn:aws:iam::123456789012:role/plain")]);
        assert_eq!((w.base_asked(), w.codes.attempts.len()), (1, 0));
    }

    #[test]
    fn keys_with_mfa_and_no_role_get_the_mfa_session_itself() {
        let mut w = World::new();
        let plan = plan("keys-mfa");
        assert!(plan.chain.hops.is_empty());
        w.sts.issue("ASIASESSION", T0 + hours(12));
        assert_eq!(w.call(&plan, T0).unwrap().access_key_id, "ASIASESSION");
        assert_eq!(w.call(&plan, T0 + hours(6)).unwrap().access_key_id, "ASIASESSION");
        assert_eq!(w.sts.calls(), [gst(BASE_KEY, "100001")]);
        assert_eq!((w.base_asked(), w.codes.attempts.len()), (1, 1));
    }

    #[test]
    fn refresh_starts_a_new_session_even_with_fresh_entries() {
        let mut w = World::new();
        let plan = plan("target");
        w.seed(plan.mfa_session_key.as_ref().unwrap(), "mfa-session", "ASIAOLDSESSION", T0, T0 + hours(12));
        w.seed(&plan.result_key, "role", "ASIAOLDROLE", T0, T0 + hours(1));
        w.sts.issue("ASIASESSION", T0 + hours(12)).issue("ASIAROLE", T0 + hours(1));
        assert_eq!(w.call_with(&plan, T0 + time::Duration::seconds(1), true).unwrap().access_key_id, "ASIAROLE");
        assert_eq!(w.sts.calls(), [gst(BASE_KEY, "100001"), assume("ASIASESSION", None, ROLE)]);
        assert_eq!((w.base_asked(), w.codes.attempts.len()), (1, 1));
    }

    // ---- errors name the profile they belong to ----

    #[test]
    fn errors_name_the_profile_and_file_they_belong_to() {
        let mut w = World::new();
        let plan = plan("target");
        // GetSessionToken is the base profile's call.
        w.sts.fail(gst_error("InvalidClientTokenId", "The security token included in the request is invalid."));
        let err = w.call(&plan, T0).unwrap_err();
        assert_eq!(
            crate::diag::chain_message(&err),
            "profile `base` (file-of-base): GetSessionToken: the access key is not valid: The security token included in the request is invalid."
        );
        // AssumeRole is the role's.
        w.sts.issue("ASIASESSION", T0 + hours(12)).fail(sts_error("AccessDenied", "not authorized"));
        let err = w.call(&plan, T0).unwrap_err();
        assert_eq!(
            crate::diag::chain_message(&err),
            "profile `target` (file-of-target): AssumeRole: access denied: not authorized"
        );
        assert!(err.hint().unwrap().contains("trust policy"));
        // A client that cannot be set up: the requested profile, before any code.
        let mut w = World::new();
        w.sts.fail_prepare(StsError::CaBundle { path: "/nowhere.pem".into(), detail: "not found".into() });
        let err = w.call(&plan, T0).unwrap_err();
        assert_eq!(
            crate::diag::chain_message(&err),
            "profile `target` (file-of-target): cannot read the CA bundle /nowhere.pem: not found"
        );
        assert_eq!((w.codes.attempts.len(), w.sts.calls().len()), (0, 0));
    }

    #[test]
    fn the_connection_to_sts_is_opened_while_the_code_is_asked_for() {
        // The MFA session and the role: one connection opened ahead, for the request with the
        // code; the role after it needs none of its own.
        let plan = plan("target");
        let mut w = World::new();
        w.sts.issue("ASIAMFA", T0 + hours(12)).issue("ASIAROLE", T0 + hours(1));
        w.call(&plan, T0).expect("credentials");
        assert_eq!(w.sts.connects(), ["GetSessionToken"]);
        // A refused code asks again on the same connection.
        let mut w = World::new();
        w.sts
            .fail(StsError::InvalidMfaCode { action: "GetSessionToken", message: "bad".into() })
            .issue("ASIAMFA", T0 + hours(12))
            .issue("ASIAROLE", T0 + hours(1));
        w.call(&plan, T0).expect("credentials");
        assert_eq!((w.sts.connects().len(), w.codes.attempts.len()), (1, 2));
        // From the cached MFA session: no code, nothing opened ahead.
        w.sts.issue("ASIAROLE2", T0 + hours(2));
        w.call(&plan, T0 + hours(1)).expect("renewed role");
        assert_eq!(w.sts.connects().len(), 1);
    }

    #[test]
    fn sts_that_cannot_be_reached_is_reported_before_a_code_is_asked_for() {
        let plan = plan("target");
        let mut w = World::new();
        w.sts.fail_connect(StsError::Transport {
            action: "GetSessionToken",
            url: "https://sts.example".into(),
            detail: "Connection refused".into(),
        });
        let err = w.call(&plan, T0).unwrap_err();
        assert_eq!(
            crate::diag::chain_message(&err),
            "profile `base` (file-of-base): GetSessionToken: cannot reach STS at https://sts.example: Connection refused"
        );
        assert_eq!((w.codes.attempts.len(), w.sts.calls().len()), (0, 0), "no code asked, no request sent");
    }
}
