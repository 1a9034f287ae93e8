//! `rolegate setup PROFILE [--as NAME] [--dry-run]`: adds the Terraform-facing profile to the
//! user's config file, then says what will happen when it is used. With `--role-arn ARN
//! --source-profile BASE --mfa-serial ARN [--external-id ID] [--region R]` it first adds PROFILE
//! itself (both sections in one write); without PROFILE, [`wizard`] asks on the terminal.
//!
//! ```ini
//! [profile NAME]
//! credential_process = rolegate credential-process PROFILE
//! region = us-west-2
//! ```
//!
//! Rules:
//! - PROFILE is planned first ([`crate::plan::plan`]): a profile that cannot work fails with the
//!   planner's own error, and nothing is written.
//! - The section is appended; every byte before it is kept. Its lines use the file's line ending
//!   (CRLF files get CRLF); one blank line separates it from what precedes it (none is added
//!   when the file already ends with a blank line); a missing final newline is added first.
//! - A profile NAME that already exists (in the config or the credentials file) is never
//!   modified: if it already is exactly `credential_process = rolegate credential-process
//!   PROFILE` plus a region, there is nothing to do ("already set up"); otherwise setup refuses,
//!   naming the file and line of the section header.
//! - The new file is written to a temporary file in the same directory (the original's mode and
//!   owner), synced, checked against a re-read of the original (an edit made meanwhile is not
//!   lost), and renamed over it. A backup `FILE.rolegate-backup-YYYYmmddTHHMMSSZ` (same mode)
//!   is written first. A config path that is a symlink (dotfile managers) is written through:
//!   the target file is replaced and the link stays. A file that does not exist is created 0600
//!   (its directory 0700).
//! - `credential_process` names the bare word `rolegate` when a `rolegate` is on `PATH` (the
//!   line then works on every machine), else the absolute path of this binary (and says so).
//! - A role profile to add that exists already must have exactly the given settings (then only
//!   the `-tf` profile is added); otherwise setup refuses. Its values are single lines that the
//!   SDK's parser must read back as given. BASE may have no keys yet (a new machine): the chain
//!   is then planned with stand-in keys that are never written or shown, and the report names
//!   the command that stores the real ones.

use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::cli::{Cli, SetupArgs};
use crate::config::edit::{Conflict, SetupError, place};
use crate::config::resolve::{self, Base, ResolveError};
use crate::config::{self, ConfigError, ConfigPaths, FileKind, Profiles};
use crate::context::Context;
use crate::diag;
use crate::env_vars;
use crate::error::Error;
use crate::output;
use crate::plan::{self, MfaStrategy, Plan, PlanOptions, StrategyReason};
use crate::platform;

pub(crate) mod wizard;

/// What `setup` leaves to do: nothing more (the exit status), or storing the keys of a base
/// profile the wizard wrote without keys, which the user agreed to (`rolegate add`, run by the
/// dispatcher: the credential-store commands build on this module, not the other way round).
pub enum Outcome {
    Done(u8),
    StoreKeys { base: String },
}

pub fn run(ctx: &Context, cli: &Cli, args: &SetupArgs) -> Result<Outcome, Error> {
    let Some(profile) = args.profile.as_deref() else { return wizard::run(ctx, cli, args) };
    let new_role = args.role_arn.as_ref().map(|role_arn| NewRole {
        source_profile: args.source_profile.clone().unwrap_or_default(),
        role_arn: role_arn.clone(),
        mfa_serial: args.mfa_serial.clone().unwrap_or_default(),
        external_id: args.external_id.clone(),
        region: args.region.clone(),
    });
    set_up(ctx, &Request { profile, name: args.name.clone(), dry_run: args.dry_run, new_role }).map(Outcome::Done)
}

/// What to set up: PROFILE's Terraform-facing profile, and PROFILE itself first with a role.
pub(crate) struct Request<'a> {
    pub profile: &'a str,
    pub name: Option<String>,
    pub dry_run: bool,
    pub new_role: Option<NewRole>,
}

/// The settings of a role profile to write (`--role-arn` and its companions, or the wizard's
/// answers).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct NewRole {
    pub source_profile: String,
    pub role_arn: String,
    pub mfa_serial: String,
    pub external_id: Option<String>,
    pub region: Option<String>,
}

impl NewRole {
    /// The settings in the order they are written.
    fn settings(&self) -> Vec<(&'static str, &str)> {
        let mut out = vec![
            ("source_profile", self.source_profile.as_str()),
            ("role_arn", self.role_arn.as_str()),
            ("mfa_serial", self.mfa_serial.as_str()),
        ];
        if let Some(id) = &self.external_id {
            out.push(("external_id", id));
        }
        if let Some(region) = &self.region {
            out.push(("region", region));
        }
        out
    }

    /// Each value must be one line the SDKs read back as given.
    fn check(&self) -> Result<(), SetupError> {
        let flags = [
            ("--source-profile", Some(&self.source_profile)),
            ("--role-arn", Some(&self.role_arn)),
            ("--mfa-serial", Some(&self.mfa_serial)),
            ("--external-id", self.external_id.as_ref()),
            ("--region", self.region.as_ref()),
        ];
        for (flag, value) in flags {
            let Some(value) = value else { continue };
            let bad = |why| Err(SetupError::BadValue { flag, value: value.clone(), why });
            if value.is_empty() {
                return bad("it is empty");
            }
            if value.chars().any(char::is_control) {
                return bad("it holds a control character (a line break, a tab...)");
            }
            if value.trim() != value {
                return bad("it starts or ends with a space");
            }
        }
        check_name(&self.source_profile)
    }
}

/// Sets up `req`; the exit status.
pub(crate) fn set_up(ctx: &Context, req: &Request<'_>) -> Result<u8, Error> {
    let profile = req.profile;
    let name = req.name.clone().unwrap_or_else(|| format!("{profile}-tf"));
    check_name(&name)?;
    if let Some(role) = &req.new_role {
        check_name(profile)?;
        role.check()?;
    }

    // The file setup edits: the config file, or the target of a symlink to it.
    let paths = ConfigPaths::locate(ctx)?;
    let target = locate_target(&paths.config)?;
    let existing = read_existing(&target.path)?;
    let old: &[u8] = existing.as_ref().map_or(&[], |e| &e.bytes);
    let old_text =
        std::str::from_utf8(old).map_err(|_| ConfigError::NotUtf8 { path: paths.config.clone() })?.to_string();
    let credentials_text = config::read_text(&paths.credentials)?;
    let eol = line_ending(&old_text);

    // With a new role: its section (unless the profile is already exactly that), and whether
    // its keys are still to be stored. The profiles are then planned as they will read, with a
    // stand-in for keys not stored yet (never written anywhere).
    let mut role_section = None;
    let mut pending_base = None;
    let mut planning_credentials = credentials_text.clone();
    let profiles = match &req.new_role {
        None => parse(&old_text, &credentials_text, &paths)?,
        Some(role) => {
            let before = parse(&old_text, &credentials_text, &paths)?;
            match existing_role(&before, profile, role) {
                RoleExisting::Absent => role_section = Some(role_section_text(profile, role, eol)),
                RoleExisting::Same => {}
                RoleExisting::Other { why } => {
                    let (file, line) = section_place(&before, profile, &target.path);
                    return Err(SetupError::RoleExists { profile: profile.into(), file, line, why }.into());
                }
            }
            if base_pending(&before, &role.source_profile) {
                pending_base = Some(role.source_profile.clone());
                planning_credentials = with_stand_in_keys(&credentials_text, &role.source_profile);
            }
            let planned = role_section.as_ref().map_or_else(|| old_text.clone(), |s| append_section(&old_text, s));
            parse(&planned, &planning_credentials, &paths)?
        }
    };

    // PROFILE must work as it is: the planner's errors are the errors.
    let plan = plan::plan(&profiles, profile, &ctx.env, &PlanOptions::default())?;
    if plan.chain.profile != profile {
        return Err(SetupError::AlreadyRolegate { profile: profile.into(), target: plan.chain.profile.clone() }.into());
    }
    let region = region_to_write(&plan, &profiles, &ctx.env);
    let pending = pending_base.as_deref();

    let mut tf_needed = true;
    match existing_profile(&profiles, &name, profile) {
        Existing::Absent => {}
        Existing::SetUp { .. } if role_section.is_some() => tf_needed = false,
        Existing::SetUp { region: present } => {
            let (file, line) = section_place(&profiles, &name, &target.path);
            let mut text = format!("profile `{name}` is already set up at {}: nothing changed\n", place(&file, line));
            if req.dry_run {
                text.insert_str(0, "dry run: ");
            }
            let command = profiles.get(&name).and_then(|p| p.get("credential_process")).cloned().unwrap_or_default();
            text.push('\n');
            text.push_str(&describe(&plan, &profiles, &name, &command, &present, &RegionSource::Existing, pending));
            output::write_stdout(&text).map_err(Error::Stdout)?;
            return Ok(0);
        }
        Existing::Other { why } => {
            let (file, line) = section_place(&profiles, &name, &target.path);
            let header =
                if file == paths.credentials { format!("[{name}]") } else { format!("[{}]", header_for(&name)) };
            let conflict = Conflict { name, profile: profile.into(), file, line, header, why };
            return Err(SetupError::Conflict(Box::new(conflict)).into());
        }
    }

    let program = rolegate_program(ctx)?;
    let command = format!("{} credential-process {}", program.word(), config::quote(profile));
    let mut new_text = old_text.clone();
    let mut headers = Vec::new();
    if let Some(section) = &role_section {
        new_text = append_section(&new_text, section);
        headers.push(profile.to_string());
    }
    if tf_needed {
        let section = format!(
            "[{header}]{eol}credential_process = {command}{eol}region = {region}{eol}",
            header = header_for(&name),
            region = region.value
        );
        new_text = append_section(&new_text, &section);
        headers.push(name.clone());
    }
    let written_profiles = Profiles::from_texts(&new_text, &planning_credentials, &paths)
        .map_err(|e| SetupError::Verify { why: e.to_string() })?;
    if let Some(role) = req.new_role.as_ref().filter(|_| role_section.is_some()) {
        verify_role(&written_profiles, profile, role)?;
    }
    let tf_region = match existing_profile(&written_profiles, &name, profile) {
        Existing::SetUp { region } => region,
        _ => region.value.clone(),
    };
    let tf_command = if tf_needed {
        command.clone()
    } else {
        written_profiles.get(&name).and_then(|p| p.get("credential_process")).cloned().unwrap_or_default()
    };
    verify(&written_profiles, &name, &tf_command, &tf_region, profile, ctx)?;

    let mut report = String::new();
    let listed = headers.iter().map(|h| format!("[{}]", header_for(h))).collect::<Vec<_>>().join(" and ");
    if req.dry_run {
        report.push_str(&unified_diff(&target.path, existing.is_some(), &old_text, &new_text));
        let _ = writeln!(report, "\ndry run: nothing written");
    } else {
        let written = write(ctx, &target.path, existing.as_ref(), new_text.as_bytes())?;
        let first = headers.first().map_or(name.as_str(), String::as_str);
        let header_line = written_profiles.sources().headers(first, FileKind::Config).last().map(|at| at.line as usize);
        match &written.backup {
            None => {
                let _ = writeln!(report, "created {} (mode 0600) with {listed}", target.path.display());
            }
            Some(backup) => {
                let _ = writeln!(report, "added {listed} to {}", place(&target.path, header_line));
                let _ = writeln!(report, "backup of the previous file: {}", backup.display());
            }
        }
        if let Some(link) = &target.link {
            diag::notice(&format!(
                "{} is a symlink: wrote its target {} (the link is kept)",
                link.display(),
                target.path.display()
            ));
        }
    }
    if let Program::OnPath(path) = &program {
        let _ = writeln!(report, "rolegate is on PATH ({}): the profile calls it by name", path.display());
    }
    if let Program::Absolute(path) = &program {
        diag::notice(&format!(
            "`rolegate` is not on PATH, so the profile calls {} by its absolute path; with rolegate on PATH, `credential_process = rolegate credential-process {profile}` works on every machine",
            path.display()
        ));
    }
    report.push('\n');
    let (tf_region, tf_source) =
        if tf_needed { (region.value.as_str(), &region.source) } else { (tf_region.as_str(), &RegionSource::Existing) };
    report.push_str(&describe(&plan, &profiles, &name, &tf_command, tf_region, tf_source, pending));
    output::write_stdout(&report).map_err(Error::Stdout)?;
    Ok(0)
}

/// What the config already says about the role profile to create.
#[derive(Debug, PartialEq, Eq)]
enum RoleExisting {
    Absent,
    /// Exactly these settings (other keys may be there too): nothing to write.
    Same,
    Other {
        why: String,
    },
}

fn existing_role(profiles: &Profiles, profile: &str, role: &NewRole) -> RoleExisting {
    let Some(props) = profiles.get(profile) else { return RoleExisting::Absent };
    let differing: Vec<String> = role
        .settings()
        .into_iter()
        .filter(|(key, value)| props.get(*key).map(String::as_str) != Some(*value))
        .map(|(key, value)| match props.get(key) {
            Some(present) => format!("{key} = {present} (not {value})"),
            None => format!("no {key} (not {value})"),
        })
        .collect();
    if differing.is_empty() { RoleExisting::Same } else { RoleExisting::Other { why: differing.join(", ") } }
}

/// `[profile PROFILE]` with the role's settings.
fn role_section_text(profile: &str, role: &NewRole, eol: &str) -> String {
    let mut out = format!("[{}]{eol}", header_for(profile));
    for (key, value) in role.settings() {
        let _ = write!(out, "{key} = {value}{eol}");
    }
    out
}

/// Whether `base` is still to get its keys: it is not defined, or defined without credentials.
pub(crate) fn base_pending(profiles: &Profiles, base: &str) -> bool {
    matches!(
        resolve::resolve(profiles, base),
        Err(ResolveError::ProfileNotFound { .. }) | Err(ResolveError::NoCredentials { .. })
    ) && !profiles.get(base).is_some_and(|p| p.contains_key("role_arn") || p.contains_key("source_profile"))
}

/// The credentials text with placeholder keys for `base`, to plan a chain whose keys are not
/// stored yet. Never written: the keys are not keys.
fn with_stand_in_keys(credentials: &str, base: &str) -> String {
    let mut out = credentials.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    let _ = write!(out, "[{base}]\naws_access_key_id = AKIAKEYSNOTSTOREDYET\naws_secret_access_key = not-a-key\n");
    out
}

/// The new role section must read back with exactly its settings.
fn verify_role(parsed: &Profiles, profile: &str, role: &NewRole) -> Result<(), SetupError> {
    let Some(props) = parsed.get(profile) else {
        return Err(SetupError::Verify { why: format!("no profile `{profile}`") });
    };
    for (key, value) in role.settings() {
        if props.get(key).map(String::as_str) != Some(value) {
            return Err(SetupError::Verify {
                why: format!("profile `{profile}`: {key} reads as {:?}", props.get(key)),
            });
        }
    }
    Ok(())
}

/// The SDKs' rule for a section name (`aws-runtime` `validate_identifier`).
pub(crate) fn check_name(name: &str) -> Result<(), SetupError> {
    let bad = |why: String| Err(SetupError::BadName { name: name.into(), why });
    if name.is_empty() {
        return bad("no name".into());
    }
    match name.chars().find(|c| !(c.is_ascii_alphanumeric() || "_-/.%@:+".contains(*c))) {
        Some(c) => bad(format!("the character {c:?}")),
        None => Ok(()),
    }
}

fn parse(config: &str, credentials: &str, paths: &ConfigPaths) -> Result<Profiles, ConfigError> {
    Profiles::from_texts(config, credentials, paths)
}

/// `profile NAME`, or `default` for the default profile.
fn header_for(name: &str) -> String {
    if name == "default" { "default".into() } else { format!("profile {name}") }
}

/// Where the profile's region comes from, for the report.
#[derive(Clone, Debug, PartialEq, Eq)]
enum RegionSource {
    /// `region` of this profile of the chain.
    Profile(String),
    /// `AWS_REGION` / `AWS_DEFAULT_REGION` of this shell (no profile of the chain has one).
    Environment,
    /// Nothing configured: the planner's default.
    Default,
    /// Already in the existing section.
    Existing,
}

struct Region {
    value: String,
    source: RegionSource,
}

/// The region the new profile gets: the chain's configured `region` (the requested profile's,
/// else the roles', else the base's: the planner's order), else the plan's (which then comes
/// from the environment or the default). A region in this shell's environment does not beat
/// the files: the new profile must mean the same thing in every shell.
fn region_to_write(plan: &Plan, profiles: &Profiles, env: &crate::context::Env) -> Region {
    let chain = &plan.chain;
    let configured = std::iter::once(chain.profile.as_str())
        .chain(chain.hops.iter().rev().map(|h| h.profile.as_str()))
        .chain(std::iter::once(chain.base.profile()))
        .find_map(|p| profiles.get(p).and_then(|props| props.get("region")).filter(|r| !r.is_empty()).map(|r| (p, r)));
    match configured {
        Some((p, r)) => Region { value: r.clone(), source: RegionSource::Profile(p.into()) },
        None if env.get(env_vars::AWS_REGION).or_else(|| env.get(env_vars::AWS_DEFAULT_REGION)).is_some() => {
            Region { value: plan.region.clone(), source: RegionSource::Environment }
        }
        None => Region { value: plan.region.clone(), source: RegionSource::Default },
    }
}

/// What the config already says about NAME.
#[derive(Debug, PartialEq, Eq)]
enum Existing {
    Absent,
    /// Exactly rolegate's profile for PROFILE, with this region.
    SetUp {
        region: String,
    },
    /// Something else: why it is not rolegate's profile for PROFILE.
    Other {
        why: String,
    },
}

fn existing_profile(profiles: &Profiles, name: &str, profile: &str) -> Existing {
    let Some(props) = profiles.get(name) else { return Existing::Absent };
    let conflicting: Vec<&str> = resolve::PRE_EMPTING_KEYS.iter().copied().filter(|k| props.contains_key(*k)).collect();
    if !conflicting.is_empty() {
        return Existing::Other {
            why: format!(
                "it has {} (an SDK would try {} before any credential_process)",
                conflicting.join(", "),
                if conflicting.len() == 1 { "it" } else { "them" }
            ),
        };
    }
    let Some(command) = props.get("credential_process") else {
        return Existing::Other { why: "it has no credential_process".into() };
    };
    let calls_credential_process = command.split_whitespace().any(|w| w == "credential-process");
    match resolve::rolegate_target(command) {
        Some(t) if t == profile && calls_credential_process => {}
        Some(t) if t != profile => {
            return Existing::Other { why: format!("it calls rolegate for profile `{t}` (`{command}`)") };
        }
        _ => return Existing::Other { why: format!("its credential_process is `{command}`") },
    }
    match props.get("region").filter(|r| !r.is_empty()) {
        Some(region) => Existing::SetUp { region: region.clone() },
        None => Existing::Other { why: "it has no region".into() },
    }
}

/// The file and line where NAME is defined: its first header in the config file (named as
/// `config_file`, the file setup edits), else in the credentials file.
fn section_place(profiles: &Profiles, name: &str, config_file: &Path) -> (PathBuf, Option<usize>) {
    let sources = profiles.sources();
    if let Some(at) = sources.headers(name, FileKind::Config).next() {
        return (config_file.to_path_buf(), Some(at.line as usize));
    }
    match sources.headers(name, FileKind::Credentials).next() {
        Some(at) => (at.file, Some(at.line as usize)),
        None => (config_file.to_path_buf(), None),
    }
}

/// `\r\n` when most line breaks of `text` are CRLF, else `\n`.
fn line_ending(text: &str) -> &'static str {
    let crlf = text.matches("\r\n").count();
    let lf = text.matches('\n').count() - crlf;
    if crlf > lf { "\r\n" } else { "\n" }
}

/// `old` + (a line break if it lacks one) + (a blank line unless it ends with one) + `section`.
fn append_section(old: &str, section: &str) -> String {
    let eol = line_ending(old);
    let mut out = String::with_capacity(old.len() + section.len() + 4);
    out.push_str(old);
    if !old.is_empty() {
        if !old.ends_with('\n') {
            out.push_str(eol);
        }
        // The last line of `out` (without its terminator) is blank already?
        let body = out.strip_suffix('\n').unwrap_or(&out);
        let body = body.strip_suffix('\r').unwrap_or(body);
        let last = body.rsplit('\n').next().unwrap_or("");
        if !last.trim_matches([' ', '\t', '\r']).is_empty() {
            out.push_str(eol);
        }
    }
    out.push_str(section);
    out
}

/// How the profile calls rolegate.
enum Program {
    /// `rolegate` is on PATH (at this path): the bare word.
    OnPath(PathBuf),
    /// Not on PATH: this binary's absolute path.
    Absolute(PathBuf),
}

impl Program {
    fn word(&self) -> String {
        match self {
            Program::OnPath(_) => "rolegate".into(),
            Program::Absolute(path) => config::quote(&path.to_string_lossy()),
        }
    }
}

fn rolegate_program(ctx: &Context) -> Result<Program, SetupError> {
    let path = ctx.env.get("PATH").unwrap_or("");
    let on_path = path
        .split(':')
        .map(Path::new)
        .filter(|d| d.is_absolute())
        .map(|d| d.join("rolegate"))
        .find(|p| p.metadata().is_ok_and(|m| m.is_file() && platform::is_executable(&m)));
    if let Some(found) = on_path {
        return Ok(Program::OnPath(found));
    }
    let exe = std::env::current_exe().and_then(|p| p.canonicalize()).map_err(SetupError::SelfPath)?;
    Ok(Program::Absolute(exe))
}

/// The new text, `parsed` with the SDK's parser, must read back as the profile written,
/// standing for PROFILE.
fn verify(
    parsed: &Profiles,
    name: &str,
    command: &str,
    region: &str,
    profile: &str,
    ctx: &Context,
) -> Result<(), SetupError> {
    let fail = |why: String| Err(SetupError::Verify { why });
    let Some(props) = parsed.get(name) else { return fail(format!("no profile `{name}`")) };
    if props.get("credential_process").map(String::as_str) != Some(command)
        || props.get("region").map(String::as_str) != Some(region)
    {
        return fail(format!("profile `{name}` reads as {props:?}"));
    }
    match plan::plan(parsed, name, &ctx.env, &PlanOptions::default()) {
        Ok(p) if p.chain.profile == profile => Ok(()),
        Ok(p) => fail(format!("profile `{name}` stands for `{}`", p.chain.profile)),
        Err(e) => fail(e.to_string()),
    }
}

/// The file to write: the config path, or the file a symlink there points to.
pub(crate) struct Target {
    pub(crate) path: PathBuf,
    /// The symlink, when the config path is one.
    pub(crate) link: Option<PathBuf>,
}

pub(crate) fn locate_target(config: &Path) -> Result<Target, SetupError> {
    match std::fs::symlink_metadata(config) {
        Ok(m) if m.file_type().is_symlink() => match config.canonicalize() {
            Ok(path) => {
                if !path.is_file() {
                    return Err(SetupError::NotAFile { path });
                }
                Ok(Target { path, link: Some(config.to_path_buf()) })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let target = std::fs::read_link(config).unwrap_or_default();
                let target = config.parent().map_or(target.clone(), |dir| dir.join(&target));
                Err(SetupError::DanglingSymlink { link: config.to_path_buf(), target })
            }
            Err(source) => Err(SetupError::Io { action: "resolve the symlink", path: config.to_path_buf(), source }),
        },
        Ok(m) if !m.is_file() => Err(SetupError::NotAFile { path: config.to_path_buf() }),
        _ => Ok(Target { path: config.to_path_buf(), link: None }),
    }
}

/// The file as it was: bytes, mode, owner.
pub(crate) struct Original {
    pub(crate) bytes: Vec<u8>,
    pub(crate) mode: u32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) links: u64,
}

pub(crate) fn read_existing(path: &Path) -> Result<Option<Original>, SetupError> {
    let io = |action, source| SetupError::Io { action, path: path.to_path_buf(), source };
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("read", e)),
    };
    let meta = file.metadata().map_err(|e| io("read", e))?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::io::Read::read_to_end(&mut file, &mut bytes).map_err(|e| io("read", e))?;
    Ok(Some(Original {
        bytes,
        mode: platform::mode(&meta),
        uid: platform::owner(&meta),
        gid: platform::group(&meta),
        links: platform::link_count(&meta),
    }))
}

pub(crate) struct Written {
    pub(crate) backup: Option<PathBuf>,
}

/// Replaces `path` with `new` atomically (after a backup of `original`), or creates it.
pub(crate) fn write(
    ctx: &Context,
    path: &Path,
    original: Option<&Original>,
    new: &[u8],
) -> Result<Written, SetupError> {
    let io = |action, path: &Path, source| SetupError::Io { action, path: path.to_path_buf(), source };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "config".into());

    let Some(original) = original else {
        if !dir.exists() {
            platform::create_private_dir_all(&dir).map_err(|e| io("create the directory", &dir, e))?;
        }
        let tmp = temp_file(&dir, &file_name, 0o600, None, new)?;
        tmp.persist_noclobber(path).map_err(|e| match e.error.kind() {
            std::io::ErrorKind::AlreadyExists => SetupError::Changed { path: path.to_path_buf() },
            _ => io("create", path, e.error),
        })?;
        sync_dir(&dir);
        return Ok(Written { backup: None });
    };

    if original.mode & 0o200 == 0 {
        return Err(SetupError::ReadOnly { path: path.to_path_buf(), mode: original.mode });
    }
    if original.links > 1 {
        diag::warn(&format!(
            "{} has {} hard links; the others keep the previous contents",
            path.display(),
            original.links
        ));
    }
    let backup = write_backup(ctx, &dir, &file_name, original)?;
    let tmp = match temp_file(&dir, &file_name, original.mode, Some((original.uid, original.gid)), new) {
        Ok(t) => t,
        Err(e) => {
            let _ = std::fs::remove_file(&backup);
            return Err(e);
        }
    };
    // An edit made since the file was read would be lost: refuse instead.
    if std::fs::read(path).ok().as_deref() != Some(original.bytes.as_slice()) {
        let _ = std::fs::remove_file(&backup);
        return Err(SetupError::Changed { path: path.to_path_buf() });
    }
    tmp.persist(path).map_err(|e| io("replace", path, e.error))?;
    sync_dir(&dir);
    Ok(Written { backup: Some(backup) })
}

/// A synced temporary file in `dir` holding `bytes`, with exactly `mode` (whatever the umask)
/// and, if possible, the given owner.
pub(crate) fn temp_file(
    dir: &Path,
    file_name: &str,
    mode: u32,
    owner: Option<(u32, u32)>,
    bytes: &[u8],
) -> Result<tempfile::NamedTempFile, SetupError> {
    let io = |action, source| SetupError::Io { action, path: dir.to_path_buf(), source };
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{file_name}.rolegate-"))
        .permissions(platform::permissions(mode & 0o777))
        .tempfile_in(dir)
        .map_err(|e| io("create a temporary file in", e))?;
    tmp.as_file().set_permissions(platform::permissions(mode)).map_err(|e| io("set the mode of a file in", e))?;
    keep_owner(tmp.as_file(), tmp.path(), owner);
    tmp.write_all(bytes).map_err(|e| io("write a file in", e))?;
    tmp.as_file().sync_all().map_err(|e| io("sync a file in", e))?;
    Ok(tmp)
}

/// Gives `file` the original's owner when it differs (possible as root; otherwise a warning).
fn keep_owner(file: &File, path: &Path, owner: Option<(u32, u32)>) {
    let Some((uid, gid)) = owner else { return };
    let Ok(meta) = file.metadata() else { return };
    if (platform::owner(&meta), platform::group(&meta)) != (uid, gid)
        && let Err(e) = platform::set_owner(file, uid, gid)
    {
        diag::warn(&format!("cannot give {} the original owner {uid}:{gid}: {e}", path.display()));
    }
}

/// `FILE.rolegate-backup-YYYYmmddTHHMMSSZ` beside the file (a `-N` suffix if taken), same mode.
fn write_backup(ctx: &Context, dir: &Path, file_name: &str, original: &Original) -> Result<PathBuf, SetupError> {
    let stamp = ctx
        .now()
        .to_offset(time::UtcOffset::UTC)
        .format(time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"))
        .unwrap_or_default();
    let stem = format!("{file_name}.rolegate-backup-{stamp}");
    for n in 1..=100 {
        let name = if n == 1 { stem.clone() } else { format!("{stem}-{n}") };
        let path = dir.join(name);
        let io = |action, source| SetupError::Io { action, path: path.clone(), source };
        let mut file = match platform::create_new_with_mode(&path, original.mode & 0o777) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io("create the backup", e)),
        };
        let result = file
            .set_permissions(platform::permissions(original.mode))
            .and_then(|()| file.write_all(&original.bytes))
            .and_then(|()| file.sync_all());
        if let Err(e) = result {
            let _ = std::fs::remove_file(&path);
            return Err(io("write the backup", e));
        }
        keep_owner(&file, &path, Some((original.uid, original.gid)));
        return Ok(path);
    }
    Err(SetupError::Io {
        action: "create the backup",
        path: dir.join(stem),
        source: std::io::ErrorKind::AlreadyExists.into(),
    })
}

/// Makes a rename in `dir` durable (best effort: some file systems refuse to sync a directory).
pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// A unified diff of `old` -> `new` where `new` extends `old` at its end: one hunk, up to three
/// lines of context.
fn unified_diff(path: &Path, exists: bool, old: &str, new: &str) -> String {
    let old_lines: Vec<&str> = old.split_inclusive('\n').collect();
    let new_lines: Vec<&str> = new.split_inclusive('\n').collect();
    let common = old_lines.iter().zip(&new_lines).take_while(|(a, b)| a == b).count();
    let start = common.saturating_sub(3);
    let range = |total: usize| {
        let count = total - start;
        format!("{},{count}", if count == 0 { start } else { start + 1 })
    };
    let mut out = String::new();
    let from = if exists { path.display().to_string() } else { "/dev/null".into() };
    let _ = writeln!(out, "--- {from}\n+++ {}", path.display());
    let _ = writeln!(out, "@@ -{} +{} @@", range(old_lines.len()), range(new_lines.len()));
    let mut line = |prefix: char, l: &str| {
        let text = l.strip_suffix('\n').map_or(l, |t| t.strip_suffix('\r').unwrap_or(t));
        let _ = writeln!(out, "{prefix}{text}");
        if !l.ends_with('\n') {
            out.push_str("\\ No newline at end of file\n");
        }
    };
    old_lines[start..common].iter().for_each(|l| line(' ', l));
    old_lines[common..].iter().for_each(|l| line('-', l));
    new_lines[common..].iter().for_each(|l| line('+', l));
    out
}

/// `12 h`, `1 h`, `15 min`, `1 h 30 min`, `45 s`.
fn human(seconds: u32) -> String {
    let (h, m, s) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    let mut parts = Vec::new();
    if h > 0 {
        parts.push(format!("{h} h"));
    }
    if m > 0 {
        parts.push(format!("{m} min"));
    }
    if s > 0 || parts.is_empty() {
        parts.push(format!("{s} s"));
    }
    parts.join(" ")
}

/// What happens when NAME is used: the chain, the keys, the MFA device and strategy, the
/// durations, the region and endpoint, and how to use it. No secret: the access key id only.
fn describe(
    plan: &Plan,
    profiles: &Profiles,
    name: &str,
    command: &str,
    region: &str,
    source: &RegionSource,
    pending_base: Option<&str>,
) -> String {
    let chain = &plan.chain;
    let mut out = String::new();
    let _ = writeln!(out, "profile `{name}`: credential_process = {command}");
    let _ = writeln!(out, "  runs as profile `{}`: {}", chain.profile, chain.describe());

    // The chain, target first, hop by hop.
    let width = chain.hops.iter().map(|h| h.profile.len()).chain([chain.base.profile().len()]).max().unwrap_or(0);
    for (i, hop) in chain.hops.iter().enumerate().rev() {
        let mut what = format!("AssumeRole {}", hop.role_arn);
        if hop.external_id.is_some() {
            what.push_str(", with external_id");
        }
        if let Some(n) = &hop.role_session_name {
            let _ = write!(what, ", session name {n}");
        }
        if hop.mfa_serial.is_some() {
            what.push_str(", MFA");
        }
        let _ = write!(what, ", for {}", human(plan.role_seconds(i)));
        let from = if i == 0 { chain.base.profile() } else { chain.hops[i - 1].profile.as_str() };
        if from != hop.profile {
            let _ = write!(what, ", from `{from}`'s credentials");
        }
        let _ = writeln!(out, "    {:<width$}  {what}", hop.profile);
    }
    let keys = match &chain.base {
        _ if pending_base.is_some() => "no keys yet (see next)".to_string(),
        Base::StaticKeys { access_key_id, session_token, .. } => {
            let mut k = format!("static keys: aws_access_key_id {access_key_id}");
            if session_token.is_some() {
                k.push_str(" with aws_session_token (temporary keys)");
            }
            k
        }
        Base::Environment { .. } => {
            "credential_source = Environment: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY of the process that runs rolegate".into()
        }
        Base::Process { command, .. } => format!("credential_process: {command}"),
        Base::Stored { access_key_id, backend, .. } => {
            format!("access key {access_key_id}, its secret in {}", backend.describe())
        }
    };
    let _ = writeln!(out, "    {:<width$}  {keys}", chain.base.profile());

    // MFA and strategy.
    match chain.mfa_serial() {
        Some(serial) => {
            let _ =
                writeln!(out, "  MFA device: {serial} (the code is asked on the terminal, /dev/tty, never on stdin)");
        }
        None => {
            let _ = writeln!(out, "  MFA device: none in this chain");
        }
    }
    let mfa = human(plan.mfa_session_seconds);
    let names: Vec<String> = chain.hops.iter().map(|h| format!("`{}`", h.profile)).collect();
    let roles = names.join(", ");
    // How the roles follow the MFA session: the first from it, each next one from the previous.
    let assumed = match names.as_slice() {
        [] => String::new(),
        [one] => format!("{one} is assumed from it"),
        [first, rest @ ..] => format!("{first} is assumed from it, then {} in turn,", rest.join(", then ")),
    };
    let strategy = match plan.strategy {
        MfaStrategy::Session if chain.hops.is_empty() => format!(
            "session: one code a day. GetSessionToken with the code gives an MFA session of {mfa}, which is the result"
        ),
        MfaStrategy::Session => {
            let configured =
                if plan.reason == StrategyReason::Configured { " (rolegate_mfa_strategy = session)" } else { "" };
            format!(
                "session{configured}: one code a day. GetSessionToken with the code gives an MFA session of {mfa}, shared by every role with the same keys and device; {assumed} for {} and renewed silently (AWS caps roles assumed from a session at 1 h)",
                human(plan.role_seconds(chain.hops.len() - 1).min(plan::ROLE_CHAINING_MAX_SECONDS))
            )
        }
        MfaStrategy::Direct => {
            let hop = chain.mfa_hop().unwrap_or(0);
            let why = match &plan.reason {
                StrategyReason::LongRole { profile, seconds } => format!(
                    "`{profile}` asks for duration_seconds = {seconds} ({}), and a role assumed from an MFA session is capped at 1 h",
                    human(*seconds)
                ),
                StrategyReason::LaterHop { profile } => {
                    format!("mfa_serial is on `{profile}`, a role assumed with another role's credentials")
                }
                StrategyReason::TemporaryBase => {
                    "the base keys are temporary (they have a session token), and GetSessionToken needs long-term keys"
                        .into()
                }
                StrategyReason::Configured => "the profile says rolegate_mfa_strategy = direct".into(),
                StrategyReason::Default | StrategyReason::NoMfa => "it was chosen".into(),
            };
            format!(
                "direct: the code goes to `{}`'s AssumeRole because {why}; the role lasts {}, then a new code is asked",
                chain.hops.get(hop).map_or(chain.profile.as_str(), |h| h.profile.as_str()),
                human(plan.role_seconds(hop.min(chain.hops.len().saturating_sub(1))))
            )
        }
        MfaStrategy::None => format!(
            "no MFA: {roles} assumed silently and cached by rolegate (the SDKs could also use `{}` on their own)",
            chain.profile
        ),
    };
    let _ = writeln!(out, "  strategy: {strategy}");
    let from = match source {
        RegionSource::Profile(p) => format!(" (from profile `{p}`)"),
        RegionSource::Environment => " (from AWS_REGION / AWS_DEFAULT_REGION: no profile of the chain sets one)".into(),
        RegionSource::Default => " (no profile of the chain sets one: the default)".into(),
        RegionSource::Existing => String::new(),
    };
    let _ = writeln!(out, "  region: {region}{from}");
    let _ = writeln!(out, "  STS endpoint: {} (signing region {})", plan.endpoint.url, plan.endpoint.signing_region);
    if let Some(file) = profiles.origin(&chain.profile) {
        let _ = writeln!(out, "  `{}` is read from {} at every call: edit it there", chain.profile, file.display());
    }
    let _ = writeln!(out, "\nnext:");
    if let Some(base) = pending_base {
        // The OS credential store's `rolegate add` is the place for the keys; the AWS CLI's
        // `aws configure` writes them to the credentials file instead.
        let quoted = config::quote(base);
        let _ = writeln!(
            out,
            "  keys:      `rolegate add {quoted}` stores the access key of `{base}` (or `aws configure --profile {quoted}` writes it to the credentials file)"
        );
    }
    let _ = writeln!(out, "  terraform: set profile = \"{name}\" in the backend/provider blocks");
    let _ = writeln!(out, "  try it:    aws --profile {name} sts get-caller-identity");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_sdk_identifier_rule() {
        assert!(check_name("target-tf").is_ok());
        assert!(check_name("a_b.c/d%e@f:g+h").is_ok());
        for bad in ["", "a b", "a]b", "a#b", "é", "a\tb"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn line_endings() {
        assert_eq!(line_ending(""), "\n");
        assert_eq!(line_ending("a\nb\n"), "\n");
        assert_eq!(line_ending("a\r\nb\r\n"), "\r\n");
        assert_eq!(line_ending("a\r\nb\r\nc\n"), "\r\n");
        assert_eq!(line_ending("a\r\nb\nc\n"), "\n");
    }

    #[test]
    fn appends_after_one_blank_line() {
        let s = "[profile n]\nx = 1\n";
        assert_eq!(append_section("", s), s);
        assert_eq!(append_section("[a]\nk = v\n", s), format!("[a]\nk = v\n\n{s}"));
        assert_eq!(append_section("[a]\nk = v", s), format!("[a]\nk = v\n\n{s}"));
        assert_eq!(append_section("[a]\nk = v\n\n", s), format!("[a]\nk = v\n\n{s}"));
        assert_eq!(append_section("[a]\nk = v\n \t\n", s), format!("[a]\nk = v\n \t\n{s}"));
        assert_eq!(append_section("[a]\nk = v\n\n\n", s), format!("[a]\nk = v\n\n\n{s}"));
        assert_eq!(append_section("\n", s), format!("\n{s}"));
        let crlf = "[profile n]\r\nx = 1\r\n";
        assert_eq!(append_section("[a]\r\nk = v\r\n", crlf), format!("[a]\r\nk = v\r\n\r\n{crlf}"));
        assert_eq!(append_section("[a]\r\nk = v", crlf), format!("[a]\r\nk = v\r\n\r\n{crlf}"));
        assert_eq!(append_section("[a]\r\n\r\n", crlf), format!("[a]\r\n\r\n{crlf}"));
    }

    fn profiles(config: &str) -> Profiles {
        Profiles::parse(config, "").unwrap()
    }

    #[test]
    fn recognises_an_existing_profile() {
        let set_up =
            profiles("[profile t-tf]\ncredential_process = rolegate credential-process t\nregion = eu-west-1\n");
        assert_eq!(existing_profile(&set_up, "t-tf", "t"), Existing::SetUp { region: "eu-west-1".into() });
        assert_eq!(existing_profile(&set_up, "other", "t"), Existing::Absent);
        let abs =
            profiles("[profile t-tf]\ncredential_process = '/opt/x y/rolegate' credential-process t\nregion = r\n");
        assert_eq!(existing_profile(&abs, "t-tf", "t"), Existing::SetUp { region: "r".into() });
        let why = |config: &str| match existing_profile(&profiles(config), "t-tf", "t") {
            Existing::Other { why } => why,
            other => panic!("{other:?}"),
        };
        assert!(
            why("[profile t-tf]\ncredential_process = rolegate credential-process t\nregion = r\nrole_arn = arn:aws:iam::123456789012:role/x\nmfa_serial = arn:aws:iam::123456789012:mfa/u\n")
                .contains("role_arn, mfa_serial")
        );
        assert!(
            why("[profile t-tf]\ncredential_process = rolegate credential-process u\nregion = r\n").contains("`u`")
        );
        assert!(why("[profile t-tf]\ncredential_process = aws-vault export t\nregion = r\n").contains("aws-vault"));
        assert!(
            why("[profile t-tf]\ncredential_process = rolegate export t\nregion = r\n").contains("rolegate export")
        );
        assert!(why("[profile t-tf]\ncredential_process = rolegate credential-process t\n").contains("no region"));
        assert!(why("[profile t-tf]\nregion = r\n").contains("no credential_process"));
    }

    #[test]
    fn diff_of_an_append() {
        let old = "a\nb\nc\nd\n";
        let new = format!("{old}\n[x]\ny = 1\n");
        assert_eq!(
            unified_diff(Path::new("/c"), true, old, &new),
            "--- /c\n+++ /c\n@@ -2,3 +2,6 @@\n b\n c\n d\n+\n+[x]\n+y = 1\n"
        );
        let old = "a\r\nb";
        let new = "a\r\nb\r\n\r\n[x]\r\n";
        assert_eq!(
            unified_diff(Path::new("/c"), true, old, new),
            "--- /c\n+++ /c\n@@ -1,2 +1,4 @@\n a\n-b\n\\ No newline at end of file\n+b\n+\n+[x]\n"
        );
        assert_eq!(unified_diff(Path::new("/c"), false, "", "[x]\n"), "--- /dev/null\n+++ /c\n@@ -0,0 +1,1 @@\n+[x]\n");
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(43_200), "12 h");
        assert_eq!(human(3600), "1 h");
        assert_eq!(human(900), "15 min");
        assert_eq!(human(5400), "1 h 30 min");
        assert_eq!(human(0), "0 s");
    }
}
