//! `rolegate setup` without a profile: a short wizard on the terminal (`/dev/tty`; stdout keeps
//! the report, as with a profile).
//!
//! 1. The profiles that need an MFA code are listed; choosing one sets it up as `rolegate
//!    setup PROFILE` does.
//! 2. Otherwise (or on request) a new role profile: the role ARN, the profile with the keys,
//!    the MFA device (offering those IAM lists for the keys' user when the keys are there and
//!    IAM allows it), the external id, the new profile's name and, when nothing gives one, the
//!    region; then it is written as `rolegate setup PROFILE --role-arn ...` writes it.
//! 3. Keys not stored yet: the report's `next:` names the command that stores them.
//!
//! Without a terminal nothing is asked and nothing is written: the commands to run are printed
//! (exit 0), so that the first command of a fresh machine never fails.

use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::time::{Duration, Instant};

use super::{NewRole, Outcome, Request, base_pending, check_name, set_up};
use crate::cli::{Cli, SetupArgs};
use crate::config::edit::SetupError;
use crate::config::resolve::{self, Base};
use crate::config::{self, ConfigPaths, Profiles};
use crate::context::Context;
use crate::env_vars;
use crate::error::Error;
use crate::output;
use crate::plan::{self, MfaStrategy, PlanOptions};
use crate::sts::iam;

/// How long one question waits for its answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(600);

/// The flags form, for the no-terminal guidance and the hints.
const FLAGS_FORM: &str = "rolegate setup PROFILE --source-profile BASE --role-arn arn:aws:iam::ACCOUNT_ID:role/NAME --mfa-serial arn:aws:iam::ACCOUNT_ID:mfa/NAME [--external-id ID] [--region REGION]";

pub fn run(ctx: &Context, _cli: &Cli, args: &SetupArgs) -> Result<Outcome, Error> {
    let paths = ConfigPaths::locate(ctx)?;
    let profiles =
        Profiles::from_texts(&config::read_text(&paths.config)?, &config::read_text(&paths.credentials)?, &paths)?;
    let candidates = mfa_profiles(ctx, &profiles);
    let Ok(tty) = crate::platform::open_terminal() else {
        output::write_stdout(&guidance(&candidates)).map_err(Error::Stdout)?;
        return Ok(Outcome::Done(0));
    };
    let mut term = Terminal { tty };

    if !candidates.is_empty() {
        term.say("Profiles that need an MFA code:")?;
        let mut options: Vec<String> = candidates.iter().map(Candidate::line).collect();
        options.push("a new role profile".into());
        let chosen = term.choose("Set up which one?", &options)?;
        if let Some(c) = candidates.get(chosen) {
            let request = Request { profile: &c.name, name: args.name.clone(), dry_run: args.dry_run, new_role: None };
            return set_up(ctx, &request).map(Outcome::Done);
        }
    }

    term.say("A new profile for an MFA-protected role: it assumes the role with your keys, after an MFA code.")?;
    let role_arn = term.ask_valid("Role ARN (arn:aws:iam::ACCOUNT_ID:role/NAME)", None, |a| {
        resolve::is_arn_of(a, "iam", "role/").then_some(()).ok_or("that is not a role ARN")
    })?;
    let base = choose_base(&mut term, &profiles)?;
    let mfa_serial = choose_device(ctx, &mut term, &profiles, &base, &role_arn)?;
    let external_id = term.ask("External ID (Enter for none)", Some(""))?;
    let default_name = default_profile_name(&role_arn, &profiles);
    let profile = term.ask_valid("Name of the new profile", Some(&default_name), |n| {
        if check_name(n).is_err() {
            Err("use letters, digits and _-/.%@:+ only")
        } else if profiles.get(n).is_some() || profiles.get(&format!("{n}-tf")).is_some() {
            Err("a profile of that name (or its -tf profile) exists already")
        } else {
            Ok(())
        }
    })?;
    let region = if has_region(ctx, &profiles, &base) {
        None
    } else {
        Some(term.ask_valid("Region", Some("us-east-1"), |r| {
            let ok = !r.is_empty() && r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            ok.then_some(()).ok_or("a region looks like eu-west-1")
        })?)
    };
    let new_role = NewRole {
        source_profile: base.clone(),
        role_arn,
        mfa_serial,
        external_id: Some(external_id).filter(|e| !e.is_empty()),
        region,
    };
    let _ = writeln!(term.tty);
    let request =
        Request { profile: &profile, name: args.name.clone(), dry_run: args.dry_run, new_role: Some(new_role) };
    let status = set_up(ctx, &request)?;
    if status == 0 && !args.dry_run && base_pending(&profiles, &base) {
        let question = format!("Store the access keys of `{base}` in the OS credential store now? (y/n)");
        let answer = term.ask_valid(&question, Some("y"), |a| match a.to_ascii_lowercase().as_str() {
            "y" | "yes" | "n" | "no" => Ok(()),
            _ => Err("answer y or n"),
        })?;
        if answer.to_ascii_lowercase().starts_with('y') {
            return Ok(Outcome::StoreKeys { base });
        }
    }
    Ok(Outcome::Done(status))
}

/// A profile that needs an MFA code, and the profiles that already serve it.
struct Candidate {
    name: String,
    role: Option<String>,
    serial: String,
    served_by: Vec<String>,
}

impl Candidate {
    fn line(&self) -> String {
        let mut line = self.name.clone();
        if let Some(role) = &self.role {
            let _ = write!(line, "  {role}");
        }
        let _ = write!(line, "  MFA {}", self.serial);
        if !self.served_by.is_empty() {
            let _ = write!(line, "  (set up: {})", self.served_by.join(", "));
        }
        line
    }
}

/// Every profile that needs an MFA code, by name.
fn mfa_profiles(ctx: &Context, profiles: &Profiles) -> Vec<Candidate> {
    let mut served: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
    for (name, props) in &profiles.profiles {
        if let Some(target) = props.get("credential_process").and_then(|c| resolve::rolegate_target(c)) {
            served.entry(target).or_default().push(name.clone());
        }
    }
    profiles
        .profiles
        .keys()
        .filter_map(|name| {
            let plan = plan::plan(profiles, name, &ctx.env, &PlanOptions::default()).ok()?;
            if plan.strategy == MfaStrategy::None || plan.chain.profile != *name {
                return None;
            }
            Some(Candidate {
                name: name.clone(),
                role: plan.chain.hops.last().map(|h| h.role_arn.clone()),
                serial: plan.chain.mfa_serial()?.to_string(),
                served_by: served.remove(name).unwrap_or_default(),
            })
        })
        .collect()
}

/// What to run, for a run without a terminal.
fn guidance(candidates: &[Candidate]) -> String {
    let mut out = String::from("rolegate setup: there is no terminal to ask on, so nothing was changed. Run:\n");
    let open: Vec<&Candidate> = candidates.iter().filter(|c| c.served_by.is_empty()).collect();
    for c in &open {
        let _ = writeln!(
            out,
            "  rolegate setup {}    # serves `{}` to Terraform as `{}-tf`",
            config::quote(&c.name),
            c.name,
            c.name
        );
    }
    if !open.is_empty() {
        out.push_str("or, for a new MFA role profile:\n");
    }
    let _ = writeln!(out, "  {FLAGS_FORM}");
    out.push_str("or run `rolegate setup` on a terminal (a short wizard); `rolegate doctor` shows what is set up.\n");
    out
}

/// The profile that holds the keys: one of those that have credentials, or a new name.
fn choose_base(term: &mut Terminal, profiles: &Profiles) -> Result<String, SetupError> {
    let bases: Vec<(String, String)> = profiles
        .profiles
        .keys()
        .filter_map(|name| {
            let chain = resolve::resolve(profiles, name).ok()?;
            if !chain.hops.is_empty() || chain.base.profile() != name {
                return None;
            }
            let what = match &chain.base {
                Base::StaticKeys { access_key_id, .. } => format!("keys {access_key_id}"),
                Base::Environment { .. } => "keys from the environment".into(),
                Base::Process { command, .. } => format!("credential_process {command}"),
                Base::Stored { access_key_id, backend, .. } => {
                    format!("keys {access_key_id} in {}", backend.describe())
                }
            };
            Some((name.clone(), what))
        })
        .collect();
    let new_name = |term: &mut Terminal| {
        term.ask_valid("Name of the profile that will hold your access keys", Some("default"), |n| {
            check_name(n).map_err(|_| "use letters, digits and _-/.%@:+ only")
        })
    };
    if bases.is_empty() {
        term.say("No profile holds access keys yet: the keys are stored afterwards.")?;
        return new_name(term);
    }
    term.say("The profile with your access keys (the role is assumed with them):")?;
    let mut options: Vec<String> = bases.iter().map(|(n, what)| format!("{n}  ({what})")).collect();
    options.push("another profile (keys not stored yet)".into());
    let chosen = term.choose("Which one?", &options)?;
    match bases.get(chosen) {
        Some((name, _)) => Ok(name.clone()),
        None => new_name(term),
    }
}

/// The MFA device: one IAM lists for the keys' user, or an ARN typed in.
fn choose_device(
    ctx: &Context,
    term: &mut Terminal,
    profiles: &Profiles,
    base: &str,
    role_arn: &str,
) -> Result<String, SetupError> {
    if !base_pending(profiles, base)
        && let Ok(chain) = resolve::resolve(profiles, base)
    {
        term.say(&format!("Asking IAM for the MFA devices of `{base}`'s user..."))?;
        let deadline = Instant::now() + Duration::from_secs(30);
        let listed = crate::base_credentials::fetch(ctx, &chain.base, &[base], deadline)
            .map_err(|e| crate::diag::chain_message(&e))
            .and_then(|keys| {
                let endpoint = iam::endpoint(&ctx.env, partition_region(role_arn));
                iam::mfa_devices(ctx, &endpoint, &keys).map_err(|e| crate::diag::chain_message(&e))
            });
        match listed {
            Ok(devices) if !devices.serials.is_empty() => {
                term.say(&format!("MFA devices of {}:", devices.user_arn))?;
                let mut options = devices.serials.clone();
                options.push("another device".into());
                let chosen = term.choose("Which one?", &options)?;
                if let Some(serial) = devices.serials.get(chosen) {
                    return Ok(serial.clone());
                }
            }
            Ok(devices) => term.say(&format!("IAM lists no MFA device for {}.", devices.user_arn))?,
            Err(why) => term.say(&format!("Cannot list the MFA devices ({why}).")).map(|_| ())?,
        }
    }
    term.ask_valid("MFA device ARN (arn:aws:iam::ACCOUNT_ID:mfa/NAME)", None, |s| {
        resolve::is_mfa_serial(s).then_some(()).ok_or("that is not an MFA device ARN")
    })
}

/// A region of the role ARN's partition, for IAM's endpoint.
fn partition_region(role_arn: &str) -> &'static str {
    match role_arn.split(':').nth(1) {
        Some("aws-cn") => "cn-north-1",
        Some("aws-us-gov") => "us-gov-west-1",
        _ => "us-east-1",
    }
}

/// The role's name (the last part of its path), unless a profile has it already.
fn default_profile_name(role_arn: &str, profiles: &Profiles) -> String {
    let name = role_arn.rsplit(['/', ':']).next().unwrap_or_default().to_ascii_lowercase();
    let taken = |n: &str| profiles.get(n).is_some() || profiles.get(&format!("{n}-tf")).is_some();
    if check_name(&name).is_ok() && !taken(&name) {
        return name;
    }
    (1..).map(|i| format!("role-{i}")).find(|n| !taken(n)).unwrap_or_default()
}

/// Whether the new profile gets a region without one of its own: from the base profile or
/// the environment.
fn has_region(ctx: &Context, profiles: &Profiles, base: &str) -> bool {
    profiles.get(base).and_then(|p| p.get("region")).is_some_and(|r| !r.is_empty())
        || ctx.env.get(env_vars::AWS_REGION).or_else(|| ctx.env.get(env_vars::AWS_DEFAULT_REGION)).is_some()
}

/// The controlling terminal: questions written, answers read, one line each.
struct Terminal {
    tty: File,
}

impl Terminal {
    fn say(&mut self, text: &str) -> Result<(), SetupError> {
        writeln!(self.tty, "{text}").map_err(SetupError::Terminal)
    }

    /// One answer, trimmed; `default` for an empty one (a question without a default is asked
    /// again).
    fn ask(&mut self, question: &str, default: Option<&str>) -> Result<String, SetupError> {
        loop {
            match default {
                Some(d) if !d.is_empty() => write!(self.tty, "{question} [{d}]: "),
                _ => write!(self.tty, "{question}: "),
            }
            .and_then(|()| self.tty.flush())
            .map_err(SetupError::Terminal)?;
            let line = match crate::mfa::tty::read_line(&mut self.tty, Instant::now() + ANSWER_TIMEOUT) {
                Ok(Some(line)) => line,
                Ok(None) => {
                    let _ = writeln!(self.tty);
                    return Err(SetupError::Closed);
                }
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(SetupError::Closed),
                Err(e) => return Err(SetupError::Terminal(e)),
            };
            let answer = line.trim();
            if !answer.is_empty() {
                return Ok(answer.to_string());
            }
            if let Some(d) = default {
                return Ok(d.to_string());
            }
        }
    }

    /// An answer `check` accepts; the reason is said and the question asked again otherwise.
    fn ask_valid(
        &mut self,
        question: &str,
        default: Option<&str>,
        check: impl Fn(&str) -> Result<(), &'static str>,
    ) -> Result<String, SetupError> {
        loop {
            let answer = self.ask(question, default)?;
            match check(&answer) {
                Ok(()) => return Ok(answer),
                Err(why) => self.say(&format!("  {why}"))?,
            }
        }
    }

    /// The index of one of `options` (numbered from 1; the first is the default).
    fn choose(&mut self, question: &str, options: &[String]) -> Result<usize, SetupError> {
        for (i, option) in options.iter().enumerate() {
            self.say(&format!("  {}) {option}", i + 1))?;
        }
        let answer = self.ask_valid(question, Some("1"), |a| match a.parse::<usize>() {
            Ok(n) if (1..=options.len()).contains(&n) => Ok(()),
            _ => Err("type the number of one of the lines above"),
        })?;
        Ok(answer.parse::<usize>().map_or(0, |n| n - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_come_from_the_role() {
        let profiles = Profiles::parse("[profile hc-master]\nregion = r\n", "").unwrap();
        assert_eq!(default_profile_name("arn:aws:iam::123456789012:role/Deploy", &profiles), "deploy");
        assert_eq!(default_profile_name("arn:aws:iam::123456789012:role/hc/hc-master", &profiles), "role-1");
        assert_eq!(partition_region("arn:aws-cn:iam::123456789012:role/x"), "cn-north-1");
        assert_eq!(partition_region("arn:aws:iam::123456789012:role/x"), "us-east-1");
    }

    #[test]
    fn guidance_names_the_profiles_not_set_up_and_the_flags() {
        let c = |name: &str, served: &[&str]| Candidate {
            name: name.into(),
            role: None,
            serial: "arn:aws:iam::123456789012:mfa/u".into(),
            served_by: served.iter().map(|s| s.to_string()).collect(),
        };
        let text = guidance(&[c("target", &[]), c("done", &["done-tf"])]);
        assert!(text.contains("  rolegate setup target    # serves `target` to Terraform as `target-tf`\n"), "{text}");
        assert!(!text.contains("rolegate setup done"), "{text}");
        assert!(text.contains(FLAGS_FORM), "{text}");
        assert!(!guidance(&[]).contains("or, for a new"), "{}", guidance(&[]));
    }
}
