//! What the stand-in knows and remembers: IAM users and their long-term keys, registered MFA
//! devices, single-use and rejected codes, the temporary credentials it issued (and whether each
//! was made with MFA), roles, its two clocks, injected faults and the record of calls.
//!
//! Imitates STS's bookkeeping: a TOTP code is exactly six digits, for a registered device
//! serial, and is accepted once per serial (a reused or rejected code is `AccessDenied` with
//! STS's "invalid MFA one time pass code" message; an unknown serial has its own message);
//! issued keys look like STS's (`ASIA...` key ids, 40-character secrets, long session tokens)
//! and expire by a clock a test can move ([`StrictSts::advance`](super::StrictSts::advance));
//! STS's wall clock may differ from the machine's ([`StrictSts::set_skew`](super::StrictSts::set_skew)).
//! Not imitated: IAM policies (any known user may assume any registered role) and MFA devices
//! bound to one user.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::xml::{MSG_INVALID_MFA_CODE, MSG_UNKNOWN_MFA_DEVICE, StsError};
use super::{Call, param};

/// A role the stand-in lets callers assume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleSpec {
    /// `arn:aws:iam::ACCOUNT:role/[path/]NAME`.
    pub arn: String,
    /// Assumable only from an MFA session, or with `SerialNumber` + a valid `TokenCode`.
    pub requires_mfa: bool,
    /// When set, `AssumeRole` must send exactly this `ExternalId`.
    pub external_id: Option<String>,
    /// The role's `MaxSessionDuration` (3600..=43200 in real IAM).
    pub max_session_duration: u32,
    /// The trust policy allows `sts:TagSession`: without it, an `AssumeRole` with `Tags` or
    /// `TransitiveTagKeys` is refused, as in IAM.
    pub allows_tag_session: bool,
    /// The trust policy allows `sts:SetSourceIdentity`: without it, `SourceIdentity` is refused.
    pub allows_source_identity: bool,
}

impl Default for RoleSpec {
    fn default() -> Self {
        Self {
            arn: String::new(),
            requires_mfa: false,
            external_id: None,
            max_session_duration: 3600,
            allows_tag_session: false,
            allows_source_identity: false,
        }
    }
}

impl RoleSpec {
    /// A role without conditions and the default one-hour maximum.
    pub fn new(arn: &str) -> Self {
        Self { arn: arn.to_owned(), ..Self::default() }
    }

    /// The same role, assumable only with MFA.
    pub fn requiring_mfa(mut self) -> Self {
        self.requires_mfa = true;
        self
    }

    /// The same role, with an external-ID condition.
    pub fn with_external_id(mut self, external_id: &str) -> Self {
        self.external_id = Some(external_id.to_owned());
        self
    }

    /// The same role, whose trust policy allows `sts:TagSession` and `sts:SetSourceIdentity`.
    pub fn allowing_session_tags_and_source_identity(mut self) -> Self {
        self.allows_tag_session = true;
        self.allows_source_identity = true;
        self
    }

    /// The same role, with another `MaxSessionDuration`.
    pub fn with_max_session_duration(mut self, seconds: u32) -> Self {
        self.max_session_duration = seconds;
        self
    }
}

#[derive(Default)]
pub(super) struct State {
    /// Long-term keys: access key id -> user.
    pub(super) users: HashMap<String, User>,
    pub(super) mfa_devices: HashSet<String>,
    /// (serial, code) pairs already accepted once.
    pub(super) used_codes: HashSet<(String, String)>,
    pub(super) rejected_codes: HashSet<String>,
    pub(super) roles: HashMap<String, RoleSpec>,
    /// Issued temporary credentials: access key id -> credential.
    pub(super) temporary: HashMap<String, TempCredential>,
    /// Seconds added to the credentials' clock by [`StrictSts::advance`].
    pub(super) clock_offset: i64,
    /// Seconds STS's wall clock is ahead of the machine's ([`StrictSts::set_skew`]).
    pub(super) wall_skew: i64,
    pub(super) counter: u64,
    pub(super) fail: Option<InjectedFailure>,
    pub(super) delay: Option<(usize, u64)>,
    pub(super) delayed_in_flight: usize,
    pub(super) calls: Vec<Call>,
    /// Unsigned `GET /` requests that opened a connection ahead of a call.
    pub(super) probes: usize,
}

pub(super) struct User {
    pub(super) secret: String,
    pub(super) arn: String,
}

pub(super) struct InjectedFailure {
    pub(super) remaining: usize,
    pub(super) status: u16,
    pub(super) body: String,
}

pub(super) struct TempCredential {
    pub(super) secret: String,
    pub(super) session_token: String,
    pub(super) principal: Principal,
    pub(super) with_mfa: bool,
    pub(super) expires: OffsetDateTime,
}

/// Who a set of credentials belongs to.
#[derive(Clone, Debug)]
pub(super) enum Principal {
    User { arn: String },
    AssumedRole { role_arn: String, role_id: String, session_name: String },
}

impl Principal {
    pub(super) fn arn(&self) -> String {
        match self {
            Principal::User { arn } => arn.clone(),
            Principal::AssumedRole { role_arn, session_name, .. } => {
                format!("arn:aws:sts::{}:assumed-role/{}/{session_name}", arn_account(role_arn), role_name(role_arn))
            }
        }
    }

    pub(super) fn account(&self) -> String {
        match self {
            Principal::User { arn } => arn_account(arn).to_owned(),
            Principal::AssumedRole { role_arn, .. } => arn_account(role_arn).to_owned(),
        }
    }
}

/// The authenticated sender of a request.
pub(super) struct Caller {
    pub(super) principal: Principal,
    pub(super) temporary: bool,
    pub(super) with_mfa: bool,
}

pub(super) fn arn_account(arn: &str) -> &str {
    arn.split(':').nth(4).unwrap_or("")
}

/// The last path segment of a role ARN (`arn:aws:iam::1:role/path/NAME` -> `NAME`).
pub(super) fn role_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

pub(super) struct IssuedCredentials {
    pub(super) access_key_id: String,
    pub(super) secret: String,
    pub(super) session_token: String,
    pub(super) expires: OffsetDateTime,
}

pub(super) const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
pub(super) const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub(super) fn new_seed() -> [u8; 32] {
    let mut hasher = RandomState::new().build_hasher();
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    hasher.write_u128(nanos);
    hasher.write_u32(std::process::id());
    let a = hasher.finish();
    hasher.write_u64(a);
    let b = hasher.finish();
    let mut h = Sha256::new();
    h.update(a.to_le_bytes());
    h.update(b.to_le_bytes());
    h.update(nanos.to_le_bytes());
    let mut seed = [0u8; 32];
    seed.copy_from_slice(h.finalize().as_slice());
    seed
}

/// `len` characters of `alphabet`, derived from the seed and `label` with SHA-256.
pub(super) fn derived_string(seed: &[u8; 32], label: &str, alphabet: &[u8], len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut block = 0u64;
    while out.len() < len {
        let mut h = Sha256::new();
        h.update(seed);
        h.update(label.as_bytes());
        h.update(block.to_le_bytes());
        for byte in h.finalize().iter() {
            if out.len() == len {
                break;
            }
            out.push(char::from(alphabet[usize::from(*byte) % alphabet.len()]));
        }
        block += 1;
    }
    out
}

impl State {
    /// The clock issued credentials expire by.
    pub(super) fn now(&self) -> OffsetDateTime {
        now_with_offset(self.clock_offset + self.wall_skew)
    }

    /// STS's wall clock: signatures are checked against it and `Date` tells it.
    pub(super) fn wall_now(&self) -> OffsetDateTime {
        now_with_offset(self.wall_skew)
    }

    pub(super) fn next_counter(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    pub(super) fn request_id(&mut self, seed: &[u8; 32]) -> String {
        let n = self.next_counter();
        let hex = derived_string(seed, &format!("request-{n}"), b"0123456789abcdef", 32);
        format!("{}-{}-4{}-8{}-{}", &hex[0..8], &hex[8..12], &hex[13..16], &hex[17..20], &hex[20..32])
    }

    /// Validates an optional `SerialNumber` + `TokenCode` pair. `Ok(Some(..))` is a valid code,
    /// to be burned if the call succeeds; `Ok(None)` means no MFA was sent.
    pub(super) fn check_mfa(&self, params: &[(String, String)]) -> Result<Option<(String, String)>, StsError> {
        let serial = param(params, "SerialNumber");
        let code = param(params, "TokenCode");
        if let Some(code) = code {
            if code.len() != 6 {
                return Err(StsError::validation(
                    "1 validation error detected: Value at 'tokenCode' failed to satisfy constraint: Member must have length equal to 6",
                ));
            }
            if !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(StsError::validation(
                    "1 validation error detected: Value at 'tokenCode' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\d]*",
                ));
            }
        }
        match (serial, code) {
            (None, None) => Ok(None),
            (Some(serial), Some(code)) => {
                if !self.mfa_devices.contains(serial) {
                    return Err(StsError::access_denied(MSG_UNKNOWN_MFA_DEVICE));
                }
                let key = (serial.to_owned(), code.to_owned());
                if self.rejected_codes.contains(code) || self.used_codes.contains(&key) {
                    return Err(StsError::access_denied(MSG_INVALID_MFA_CODE));
                }
                Ok(Some(key))
            }
            _ => Err(StsError::access_denied(MSG_INVALID_MFA_CODE)),
        }
    }

    pub(super) fn issue(
        &mut self,
        seed: &[u8; 32],
        principal: Principal,
        with_mfa: bool,
        duration: u32,
    ) -> IssuedCredentials {
        let access_key_id = loop {
            let n = self.next_counter();
            let id = format!("ASIA{}", derived_string(seed, &format!("akid-{n}"), UPPER_ALNUM, 16));
            if !self.temporary.contains_key(&id) && !self.users.contains_key(&id) {
                break id;
            }
        };
        let n = self.next_counter();
        let secret = derived_string(seed, &format!("secret-{n}"), BASE64, 40);
        let session_token = format!("IQoJb3JpZ2luX2VjE{}", derived_string(seed, &format!("token-{n}"), BASE64, 600));
        let expires = self.now() + time::Duration::seconds(i64::from(duration));
        self.temporary.insert(
            access_key_id.clone(),
            TempCredential {
                secret: secret.clone(),
                session_token: session_token.clone(),
                principal,
                with_mfa,
                expires,
            },
        );
        IssuedCredentials { access_key_id, secret, session_token, expires }
    }
}

pub(super) fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(super) fn now_with_offset(offset: i64) -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    let now = now.replace_nanosecond(0).unwrap_or(now);
    now + time::Duration::seconds(offset)
}
