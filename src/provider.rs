//! Credentials for a [`Plan`]: the cache first, then, under the key's lock, the MFA session and
//! the role calls. The one place that decides when to prompt and when to call STS.
//!
//! ```text
//! read result entry ── fresh ──────────────────────────────────────────────> done (the hot path)
//!   │ stale/missing
//! lock result key, re-read ── fresh ───────────────────────────────────────> done
//!   │ (if we waited and the holder stored nothing new, it failed: fail too, never a second prompt)
//! base credentials (keys / environment / credential_process)
//!   ├ Session: lock MFA key, re-read; else prompt + GetSessionToken; store
//!   │          then AssumeRole each hop silently from it
//!   ├ Direct:  AssumeRole the MFA hop with the code (next code on "invalid code")
//!   └ None:    AssumeRole each hop
//! store result entry
//! ```
//!
//! A request that carried a code is never re-sent; a refused code asks for the next one, up to
//! [`MAX_CODE_ATTEMPTS`] codes.

use std::time::Instant;

use crate::base_credentials::{self, BaseError};
use crate::cache::CacheKey;
use crate::cache::{self, Cache, CacheError, Entry, entry::ENTRY_VERSION};
use crate::context::Context;
use crate::credentials::{BaseCredentials, Credentials};
use crate::mfa::{CodeRequest, CodeSource, MfaError};
use crate::plan::{MfaStrategy, Plan, StrategyReason};
use crate::sts::{AssumeRole, GetSessionToken, StsClient, StsError};

/// Codes asked for when STS refuses one.
pub const MAX_CODE_ATTEMPTS: u32 = 3;

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
            ProviderError::Sts { source, .. } => source.hint(),
        }
    }
}

/// How this call may behave.
pub struct Options<'a> {
    pub code_source: &'a mut dyn CodeSource,
    /// Entries issued before this process started are stale (`--refresh-mfa`).
    pub refresh: bool,
    /// Bound on every wait: the lock, the prompt, a base credential_process.
    pub deadline: Instant,
    pub prompt_timeout_seconds: u64,
    /// A cached result is served only with at least this much validity left (the cache's
    /// 15-minute floor; the local endpoint renews earlier).
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
    // A profile with keys and mfa_serial and no role: the MFA session is the result.
    if plan.chain.hops.is_empty() {
        let base = fetch_base(ctx, plan, opts)?;
        return mfa_session(ctx, plan, cache, &base, opts);
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

    let base = fetch_base(ctx, plan, opts)?;
    let result = match plan.strategy {
        MfaStrategy::None => assume_from(ctx, plan, opts, base, 0)?,
        MfaStrategy::Session => {
            let session = mfa_session(ctx, plan, cache, &base, opts)?;
            match assume_from(ctx, plan, opts, session.as_base(), 0) {
                // The cached MFA session was revoked or expired early: start a new one, once.
                Err(ProviderError::Sts {
                    source: StsError::ExpiredToken { .. } | StsError::InvalidClientTokenId { .. },
                    ..
                }) => {
                    crate::diag::notice("the cached MFA session is no longer valid; starting a new one");
                    let session = new_mfa_session(ctx, plan, cache, &base, opts)?;
                    assume_from(ctx, plan, opts, session.as_base(), 0)?
                }
                other => other?,
            }
        }
        MfaStrategy::Direct => {
            let mfa_hop = plan.chain.mfa_hop().unwrap_or(0);
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

fn fetch_base(ctx: &Context, plan: &Plan, opts: &Options<'_>) -> Result<BaseCredentials, ProviderError> {
    let mut resolving: Vec<&str> = plan.chain.hops.iter().map(|h| h.profile.as_str()).collect();
    resolving.push(plan.chain.base.profile());
    resolving.push(&plan.chain.profile);
    Ok(base_credentials::fetch(ctx, &plan.chain.base, &resolving, opts.deadline)?)
}

fn sts(ctx: &Context, plan: &Plan, opts: &Options<'_>) -> Result<StsClient, ProviderError> {
    StsClient::new(ctx, plan.endpoint.clone()).map(|c| c.with_deadline(opts.deadline)).map_err(|source| {
        ProviderError::Sts { profile: plan.chain.profile.clone(), file: (opts.file_of)(&plan.chain.profile), source }
    })
}

/// The shared MFA session: cached, or new under the MFA key's lock.
fn mfa_session(
    ctx: &Context,
    plan: &Plan,
    cache: &Cache,
    base: &BaseCredentials,
    opts: &mut Options<'_>,
) -> Result<Credentials, ProviderError> {
    let key = plan.mfa_session_key.as_ref().expect("Session strategy has an MFA key");
    let not_before = opts.refresh.then_some(ctx.started_at);
    let seen = cache.read(key);
    if let Some(e) = seen.as_ref().filter(|e| cache::is_fresh(e, ctx.now(), not_before)) {
        return Ok(e.credentials.clone());
    }
    let lock = cache.lock(key, opts.deadline)?;
    let now_seen = lock.read();
    if let Some(e) = now_seen.as_ref().filter(|e| cache::is_fresh(e, ctx.now(), not_before)) {
        return Ok(e.credentials.clone());
    }
    if lock.waited && !opts.refresh && issued(&now_seen) == issued(&seen) {
        return Err(CacheError::OtherFailed { label: key.label.clone() }.into());
    }
    let session = get_session_token(ctx, plan, base, opts)?;
    store(&lock, key, plan, "mfa-session", ctx, &session)?;
    Ok(session)
}

/// A new MFA session even though one is cached (it was refused by STS).
fn new_mfa_session(
    ctx: &Context,
    plan: &Plan,
    cache: &Cache,
    base: &BaseCredentials,
    opts: &mut Options<'_>,
) -> Result<Credentials, ProviderError> {
    let key = plan.mfa_session_key.as_ref().expect("Session strategy has an MFA key");
    let lock = cache.lock(key, opts.deadline)?;
    let _ = lock.remove()?;
    let session = get_session_token(ctx, plan, base, opts)?;
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
    ctx: &Context,
    plan: &Plan,
    base: &BaseCredentials,
    opts: &mut Options<'_>,
) -> Result<Credentials, ProviderError> {
    let serial = plan.chain.mfa_serial().expect("Session strategy has a serial");
    let profile = plan.chain.base.profile().to_string();
    let client = sts(ctx, plan, opts)?;
    with_codes(plan, opts, None, |code| {
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
    let client = sts(ctx, plan, opts)?;
    let session_name = session_name(ctx, hop.role_session_name.as_deref());
    let duration = plan.role_seconds(index);
    let notice = direct_notice(plan);
    with_codes(plan, opts, notice.as_deref(), |code| {
        let _span = tracing::debug_span!("assume_role", role = %hop.role_arn, mfa = true, duration).entered();
        client.assume_role(
            caller,
            &AssumeRole {
                role_arn: &hop.role_arn,
                role_session_name: &session_name,
                duration_seconds: duration,
                external_id: hop.external_id.as_deref(),
                mfa: Some((serial, code)),
            },
        )
    })
    .map_err(|e| e.with_profile(&hop.profile, opts))
}

/// Why the code goes to AssumeRole directly, said once at the prompt.
fn direct_notice(plan: &Plan) -> Option<String> {
    Some(match &plan.reason {
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
    let client = sts(ctx, plan, opts)?;
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
fn with_codes(
    plan: &Plan,
    opts: &mut Options<'_>,
    notice: Option<&str>,
    mut call: impl FnMut(&crate::credentials::MfaCode) -> Result<Credentials, StsError>,
) -> Result<Credentials, CodeCallError> {
    let serial = plan.chain.mfa_serial().unwrap_or_default();
    let mut attempt = 1;
    loop {
        let request = CodeRequest {
            serial,
            profile: &plan.chain.profile,
            notice: if attempt == 1 { notice } else { None },
            attempt,
            deadline: opts.deadline.min(Instant::now() + std::time::Duration::from_secs(opts.prompt_timeout_seconds)),
            timeout_seconds: opts.prompt_timeout_seconds,
        };
        let code = opts.code_source.code(&request).map_err(CodeCallError::Mfa)?;
        match call(&code) {
            Err(StsError::InvalidMfaCode { .. }) if attempt < MAX_CODE_ATTEMPTS => attempt += 1,
            other => return other.map_err(CodeCallError::Sts),
        }
    }
}
