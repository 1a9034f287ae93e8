//! `rolegate doctor [PROFILE] [--terraform DIR] [--json]`: explains a profile and finds what is wrong.
//!
//! - [`profiles`]: each profile (with the file and line of every setting, from the
//!   configuration's [`SourceMap`](crate::config::SourceMap)) through `config::resolve` / `plan::plan`, explained hop by hop;
//!   typed resolution errors and a few SDK-level checks become findings.
//! - [`terraform`]: the `provider "aws"`, `backend "s3"` and `terraform_remote_state` blocks of
//!   a Terraform directory, parsed with a real HCL parser.
//! - [`clock`]: clock skew against an explicitly configured STS endpoint.
//! - [`report`]: the findings and the report, as text and as the `--json` document of
//!   docs/DOCTOR.md.
//!
//! Exit status: 0 when no finding is an error, 1 when one is (warnings and notes do not count);
//! the usual codes (2, 3, 6, 70) when doctor itself cannot run. Nothing doctor prints holds a
//! secret: static keys show as their access key id, cache entries as their expiry.

mod clock;
mod profiles;
mod report;
mod terraform;

use crate::cache::{Cache, CacheError};
use crate::cli::{Cli, DoctorArgs};
use crate::config::{self, ConfigPaths, Profiles};
use crate::context::Context;
use crate::error::Error;
use crate::platform;

use profiles::{Checker, Inputs};
use report::{CacheDirReport, Finding, Findings, JSON_VERSION, Report, Severity, Summary};

/// Exit status 0 when nothing is wrong, 1 when there are error findings.
pub fn run(ctx: &Context, cli: &Cli, args: &DoctorArgs) -> Result<u8, Error> {
    let paths = ConfigPaths::locate(ctx)?;
    let config_text = config::read_text(&paths.config)?;
    let credentials_text = config::read_text(&paths.credentials)?;
    let mut findings = Findings::default();
    let config_exists = std::fs::metadata(&paths.config).is_ok();
    let credentials_exists = std::fs::metadata(&paths.credentials).is_ok();
    if !config_exists {
        findings.push(missing_config_finding(&paths, credentials_exists));
    }

    let (profiles, config_ok) = match Profiles::from_texts(&config_text, &credentials_text, &paths) {
        Ok(p) => (p, true),
        Err(_) => {
            // The parser names the line, not the file: try each file alone.
            let message = Profiles::parse(&config_text, &credentials_text).err().unwrap_or_default();
            let file = if Profiles::parse(&config_text, "").is_err() { &paths.config } else { &paths.credentials };
            let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
            let mut finding = Finding::new(
                Severity::Error,
                "config-parse-error",
                format!("the SDK's parser rejects this file: {message}"),
            )
            .in_file(file)
            .fix("fix the line named; `aws configure list` shows how the AWS CLI reads the same files");
            finding.line = message
                .split_once("line ")
                .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|n| n.parse().ok());
            findings.push(finding);
            let mut empty = Profiles::default();
            empty.paths = Some(paths.clone());
            (empty, false)
        }
    };

    let cache = crate::session::cache(ctx, cli.cache_dir.as_deref())?;
    let (cache_report, cache_private) = check_cache(&cache, &mut findings);

    let mut checker = Checker::new(Inputs {
        ctx,
        paths: &paths,
        profiles: &profiles,
        sources: profiles.sources(),
        cache: &cache,
        cache_private,
        credentials_exists,
    });
    let reports = if config_ok { checker.run(args.profile.as_deref(), &mut findings) } else { Vec::new() };
    if config_exists && config_ok && args.profile.is_none() && reports.is_empty() {
        findings.push(
            Finding::new(
                Severity::Info,
                "no-mfa-profiles",
                "no profile has a role with an MFA device or an mfa_serial: rolegate has nothing to serve yet",
            )
            .in_file(&paths.config)
            .fix(SETUP_FIX),
        );
    }
    let terraform = match &args.terraform {
        Some(dir) => {
            let inputs = terraform::TfInputs { ctx, paths: &paths, checker: &checker, config_ok };
            Some(terraform::check(dir, &inputs, &mut findings)?)
        }
        None => None,
    };

    let findings = findings.into_sorted();
    let summary = Summary::of(&findings);
    let exit_code = summary.exit_code;
    let report = Report {
        version: JSON_VERSION,
        config_file: paths.config.display().to_string(),
        credentials_file: paths.credentials.display().to_string(),
        cache: cache_report,
        profiles: reports,
        terraform,
        findings,
        summary,
    };
    let text = if args.json {
        serde_json::to_string_pretty(&report).map_err(Error::Report)? + "\n"
    } else {
        report::render_text(&report)
    };
    crate::output::write_stdout(&text).map_err(Error::Stdout)?;
    Ok(exit_code)
}

/// What to run on a machine where nothing is set up.
const SETUP_FIX: &str = "run `rolegate setup`: on a terminal it asks for the role, the MFA device and the profile with your keys, and writes the MFA profile and its `-tf` profile for Terraform (without a terminal: `rolegate setup PROFILE --source-profile BASE --role-arn ARN --mfa-serial ARN`)";

/// The config file does not exist (and maybe neither does the credentials file).
fn missing_config_finding(paths: &ConfigPaths, credentials_exists: bool) -> Finding {
    let message = if credentials_exists {
        "the config file does not exist: no profile with a role or an MFA device is set up".to_string()
    } else {
        format!(
            "the config file does not exist, nor does the credentials file {}: nothing is set up yet",
            paths.credentials.display()
        )
    };
    Finding::new(Severity::Warning, "config-file-missing", message).in_file(&paths.config).fix(SETUP_FIX)
}

/// The cache directory's state; `true` when its entries may be read (private, or not created yet).
fn check_cache(cache: &Cache, findings: &mut Findings) -> (CacheDirReport, bool) {
    let dir = cache.dir();
    let meta = std::fs::metadata(dir).ok();
    let mut report = CacheDirReport {
        dir: dir.display().to_string(),
        exists: meta.is_some(),
        mode: meta.as_ref().map(|m| format!("{:04o}", platform::mode(m))),
        owner_uid: meta.as_ref().map(platform::owner),
        private: false,
    };
    let finding = |id, message: String, e: &CacheError| {
        Finding::new(Severity::Error, id, message).in_file(dir).fix(e.hint().unwrap_or_default())
    };
    match cache.check_dir(false) {
        Ok(exists) => {
            report.private = exists;
            // A directory not created yet is an empty cache.
            return (report, true);
        }
        Err(e @ CacheError::ForeignDir { owner, .. }) => findings.push(finding(
            "cache-dir-foreign-owner",
            format!(
                "the cache directory belongs to another user (uid {owner}): rolegate refuses to use it, so every call asks for a new MFA code or fails"
            ),
            &e,
        )),
        Err(e @ CacheError::OpenDir { mode, .. }) => findings.push(finding(
            "cache-dir-writable-by-others",
            format!(
                "the cache directory is writable by other users (mode {mode:04o}): rolegate refuses to use it, since another user could plant credentials there"
            ),
            &e,
        )),
        Err(e @ CacheError::NotADir { .. }) => {
            findings.push(finding("cache-dir-not-a-directory", "the cache directory path is not a directory".into(), &e));
        }
        Err(e) => findings.push(
            Finding::new(Severity::Warning, "cache-dir-unreadable", format!("cannot inspect the cache directory: {e}"))
                .in_file(dir)
                .fix(e.hint().unwrap_or_default()),
        ),
    }
    (report, false)
}
