//! `doctor --terraform DIR`: the AWS credential settings of a Terraform root module.
//!
//! Every `*.tf` file of DIR (not its subdirectories) is parsed with a real HCL parser
//! (`hcl-rs`'s `hcl::edit`, which keeps byte spans, so every finding has its line). The blocks
//! read are `provider "aws"`, `terraform { backend "s3" }` and `data "terraform_remote_state"`
//! with `backend = "s3"` (its `config = { ... }` object). In each: `profile`,
//! `shared_credentials_file(s)`, `shared_config_files`, and `assume_role` (a block in a provider,
//! an object attribute in the s3 backend, or the backend's older `role_arn`).
//!
//! Values are evaluated only as far as they are literal: strings, `"${...}"` templates of
//! literals, `pathexpand("~/...")` and lists of those. Anything else (`var.x`, `local.y`,
//! `path.module`) is reported as a note, never guessed.

use std::path::{Path, PathBuf};

use hcl::edit::Span;
use hcl::edit::expr::{Expression, Object, ObjectKey};
use hcl::edit::structure::{Block, Body};
use hcl::edit::template::Element;

use crate::config::ConfigPaths;
use crate::context::Context;

use super::profiles::{Checker, MfaNeed};
use super::report::{Finding, Findings, Severity, TerraformBlock, TerraformReport};
use crate::error::Error;

/// The seed's error, as Terraform prints it.
const SEED_ERROR: &str = "assume role with MFA enabled, but AssumeRoleTokenProvider session option not set";

pub struct TfInputs<'a, 'b> {
    pub ctx: &'a Context,
    pub paths: &'a ConfigPaths,
    pub checker: &'a Checker<'b>,
    /// The AWS config parsed: profile names can be looked up.
    pub config_ok: bool,
}

/// A value as far as it can be known without running Terraform.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Eval {
    Known(String),
    /// The expression's source text.
    Unknown(String),
}

/// A value and the byte offset where it is written.
type Located<'a> = (&'a Expression, Option<usize>);

/// Where a block's settings live: a block body, or an object expression (`config = {...}`).
#[derive(Clone, Copy)]
enum Fields<'a> {
    Body(&'a Body),
    Object(&'a Object),
}

impl<'a> Fields<'a> {
    /// The value of `key` and the byte offset where it is written.
    fn get(&self, key: &str) -> Option<Located<'a>> {
        match self {
            Fields::Body(body) => body.get_attribute(key).map(|a| (&a.value, a.span().map(|s| s.start))),
            Fields::Object(object) => object.iter().find_map(|(k, v)| {
                let name = match k {
                    ObjectKey::Ident(i) => i.value().as_str().to_string(),
                    ObjectKey::Expression(Expression::String(s)) => s.value().clone(),
                    ObjectKey::Expression(_) => return None,
                };
                (name == key).then(|| (v.expr(), k.span().or_else(|| v.expr().span()).map(|s| s.start)))
            }),
        }
    }

    /// `assume_role { ... }` blocks and `assume_role = { ... }` attributes, with their offsets.
    fn assume_roles(&self) -> Vec<(Fields<'a>, Option<usize>)> {
        let mut out = Vec::new();
        if let Fields::Body(body) = self {
            for block in body.get_blocks("assume_role") {
                out.push((Fields::Body(&block.body), block.span().map(|s| s.start)));
            }
        }
        if let Some((Expression::Object(o), at)) = self.get("assume_role") {
            out.push((Fields::Object(o), at));
        }
        out
    }
}

struct Source<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Source<'_> {
    fn line(&self, offset: Option<usize>) -> Option<u32> {
        let offset = offset?;
        let before = self.text.get(..offset)?;
        u32::try_from(before.matches('\n').count() + 1).ok()
    }

    fn text_of(&self, expr: &Expression) -> String {
        expr.span().and_then(|s| self.text.get(s)).map_or_else(|| expr.to_string(), |t| t.trim().to_string())
    }

    fn finding(&self, severity: Severity, id: &'static str, message: String, offset: Option<usize>) -> Finding {
        let mut f = Finding::new(severity, id, message).in_file(self.path);
        f.line = self.line(offset);
        f
    }
}

/// Checks the `*.tf` files of `dir`.
pub fn check(dir: &Path, inp: &TfInputs<'_, '_>, findings: &mut Findings) -> Result<TerraformReport, Error> {
    let read = std::fs::read_dir(dir).map_err(|source| Error::TerraformDir { dir: dir.into(), source })?;
    let mut files: Vec<PathBuf> = read
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "tf") && p.is_file())
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::NoTerraformFiles { dir: dir.into() });
    }
    let mut blocks = Vec::new();
    for path in &files {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                findings.push(
                    Finding::new(Severity::Warning, "terraform-file-unreadable", format!("cannot read this file: {e}"))
                        .in_file(path)
                        .fix("check the file's permissions and encoding (UTF-8)"),
                );
                continue;
            }
        };
        let body = match hcl::edit::parser::parse_body(&text) {
            Ok(b) => b,
            Err(e) => {
                let mut f = Finding::new(
                    Severity::Warning,
                    "terraform-parse-error",
                    format!("not valid HCL, not checked: {}", e.message()),
                )
                .in_file(path)
                .fix("`terraform validate` shows the same error");
                f.line = u32::try_from(e.location().line()).ok();
                findings.push(f);
                continue;
            }
        };
        let src = Source { path, text: &text };
        for (kind, name, fields, offset) in aws_blocks(&body, &src, findings) {
            let profile = check_block(kind, &name, fields, &src, inp, findings);
            blocks.push(TerraformBlock {
                kind,
                name,
                file: path.display().to_string(),
                line: src.line(offset),
                profile,
            });
        }
    }
    Ok(TerraformReport {
        dir: dir.display().to_string(),
        files: files.iter().map(|f| f.display().to_string()).collect(),
        blocks,
    })
}

/// The blocks that carry AWS credential settings: (kind, name, settings, offset).
fn aws_blocks<'a>(
    body: &'a Body,
    src: &Source<'_>,
    findings: &mut Findings,
) -> Vec<(&'static str, String, Fields<'a>, Option<usize>)> {
    let mut out = Vec::new();
    for block in body.blocks() {
        let labels: Vec<&str> = block.labels.iter().map(|l| l.as_str()).collect();
        let offset = block.span().map(|s| s.start);
        match (block.ident.value().as_str(), labels.as_slice()) {
            ("provider", ["aws"]) => {
                let name = match literal(block_attr(block, "alias")) {
                    Some(alias) => format!("aws.{alias}"),
                    None => "aws".to_string(),
                };
                out.push(("provider", name, Fields::Body(&block.body), offset));
            }
            ("terraform", []) => {
                for backend in block.body.get_blocks("backend") {
                    if backend.labels.iter().map(|l| l.as_str()).eq(["s3"]) {
                        out.push((
                            "backend",
                            "s3".into(),
                            Fields::Body(&backend.body),
                            backend.span().map(|s| s.start),
                        ));
                    }
                }
            }
            ("data", ["terraform_remote_state", name]) => {
                if literal(block_attr(block, "backend")).as_deref() != Some("s3") {
                    continue;
                }
                match block.body.get_attribute("config").map(|a| &a.value) {
                    Some(Expression::Object(o)) => {
                        out.push(("remote_state", (*name).to_string(), Fields::Object(o), offset))
                    }
                    Some(other) => findings.push(cannot_evaluate(
                        src,
                        &describe("remote_state", name),
                        "config",
                        &src.text_of(other),
                        other.span().map(|s| s.start).or(offset),
                    )),
                    None => out.push(("remote_state", (*name).to_string(), Fields::Body(&block.body), offset)),
                }
            }
            _ => {}
        }
    }
    out
}

fn block_attr<'a>(block: &'a Block, key: &str) -> Option<&'a Expression> {
    block.body.get_attribute(key).map(|a| &a.value)
}

fn literal(expr: Option<&Expression>) -> Option<String> {
    match expr? {
        Expression::String(s) => Some(s.value().clone()),
        _ => None,
    }
}

fn describe(kind: &str, name: &str) -> String {
    match kind {
        "provider" => match name.strip_prefix("aws.") {
            Some(alias) => format!("provider \"aws\" (alias {alias})"),
            None => "provider \"aws\"".into(),
        },
        "backend" => "backend \"s3\"".into(),
        _ => format!("data \"terraform_remote_state\" \"{name}\""),
    }
}

/// Checks one block; returns its literal profile.
fn check_block(
    kind: &'static str,
    name: &str,
    fields: Fields<'_>,
    src: &Source<'_>,
    inp: &TfInputs<'_, '_>,
    findings: &mut Findings,
) -> Option<String> {
    let home = inp.ctx.home.as_deref();
    let block = describe(kind, name);
    let cannot = |what: &str, text: &str, offset: Option<usize>| cannot_evaluate(src, &block, what, text, offset);
    let checker = inp.checker;
    // How to name a profile that rolegate serves for `p`.
    let suggest = |p: &str| match checker.rolegate_profile_for(p) {
        Some(tf) => format!(
            "profile = \"{tf}\" (already in your config: `credential_process = rolegate credential-process {p}`)"
        ),
        None => format!("profile = \"{p}-tf\" after `rolegate setup {p}` (its credential_process calls rolegate)"),
    };

    let shared_config = fields.get("shared_config_files");
    let profile = match fields.get("profile") {
        Some((expr, at)) => match eval(expr, src, home) {
            Eval::Known(p) => Some((p, at)),
            Eval::Unknown(text) => {
                findings.push(cannot("profile", &text, at));
                None
            }
        },
        None => None,
    };
    let need = profile.as_ref().map(|(p, _)| inp.checker.mfa_need(p));

    if let (Some((p, at)), Some(need)) = (&profile, &need) {
        match need {
            MfaNeed::RoleMfa { serial_profile } => {
                let fix = if shared_config.is_some() {
                    format!("write {}; `rolegate exec` cannot help while the block sets shared_config_files", suggest(p))
                } else {
                    format!(
                        "write {}, or run Terraform as `rolegate exec {p} -- terraform plan`: exec's generated config makes the hard-coded profile work unchanged",
                        suggest(p)
                    )
                };
                findings.push(
                    src.finding(
                        Severity::Error,
                        "terraform-mfa-profile",
                        format!(
                            "{block} hard-codes profile = \"{p}\", which needs an MFA code (mfa_serial of profile `{serial_profile}`): Terraform cannot ask for it and stops with \"{SEED_ERROR}\""
                        ),
                        *at,
                    )
                    .profile(p)
                    .fix(fix),
                );
            }
            MfaNeed::KeysMfa { serial_profile } => findings.push(
                src.finding(
                    Severity::Warning,
                    "terraform-mfa-ignored",
                    format!(
                        "{block} uses profile = \"{p}\", whose mfa_serial (on profile `{serial_profile}`, which holds the keys) the SDKs ignore: Terraform calls AWS with the keys alone, without MFA, and policies that require MFA deny it"
                    ),
                    *at,
                )
                .profile(p)
                .fix(format!(
                    "run `rolegate setup {p}` and write profile = \"{p}-tf\": rolegate asks the code and hands Terraform MFA credentials"
                )),
            ),
            MfaNeed::NotFound if inp.config_ok => findings.push(
                src.finding(
                    Severity::Warning,
                    "terraform-profile-not-found",
                    format!(
                        "{block} names profile = \"{p}\", which is not defined in {} or {}",
                        inp.paths.config.display(),
                        inp.paths.credentials.display()
                    ),
                    *at,
                )
                .profile(p)
                .fix("correct the name, or define the profile (Terraform fails with \"failed to get shared config profile\")"),
            ),
            _ => {}
        }
    }

    for key in ["shared_credentials_file", "shared_credentials_files"] {
        let Some((expr, at)) = fields.get(key) else { continue };
        for value in eval_list(expr, src, home) {
            match value {
                Eval::Known(path) => {
                    if points_at_config(&path, inp.paths) {
                        findings.push(
                            src.finding(
                                Severity::Error,
                                "terraform-credentials-file-is-config",
                                format!(
                                    "{block}: {key} points at the AWS config file ({path}), not the credentials file: the SDK reads `[profile NAME]` there as credentials sections named \"profile NAME\" and never reads the keys in {}",
                                    inp.paths.credentials.display()
                                ),
                                at,
                            )
                            .fix(format!(
                                "remove {key} (the SDK reads ~/.aws/credentials by default), or set it to {}",
                                if key.ends_with('s') { "[\"~/.aws/credentials\"]" } else { "\"~/.aws/credentials\"" }
                            )),
                        );
                    }
                }
                Eval::Unknown(text) => findings.push(cannot(key, &text, at)),
            }
        }
    }

    if let Some((_, at)) = shared_config
        && !matches!(need, Some(MfaNeed::Rolegate { .. }))
    {
        let fix = match &profile {
            Some((p, _)) if matches!(need, Some(MfaNeed::RoleMfa { .. })) => {
                format!("remove shared_config_files, or write {}, which works with any config file", suggest(p))
            }
            _ => "remove shared_config_files, or use a rolegate profile (`rolegate setup PROFILE` writes `PROFILE-tf`), which works with any config file".into(),
        };
        findings.push(
            src.finding(
                Severity::Warning,
                "terraform-shared-config-files",
                format!(
                    "{block} sets shared_config_files: `rolegate exec` and the shims hand Terraform a generated config (AWS_CONFIG_FILE) in which MFA profiles call rolegate, and this setting bypasses it"
                ),
                at,
            )
            .fix(fix),
        );
    }

    let mut roles: Vec<(Option<Located<'_>>, Option<usize>)> =
        fields.assume_roles().into_iter().map(|(f, at)| (f.get("role_arn"), at)).collect();
    if kind != "provider"
        && let Some(direct) = fields.get("role_arn")
    {
        roles.push((Some(direct), direct.1));
    }
    for (role, block_at) in roles {
        let Some((expr, at)) = role else { continue };
        let arn = match eval(expr, src, home) {
            Eval::Known(arn) => arn,
            Eval::Unknown(text) => {
                findings.push(cannot("role_arn", &text, at));
                continue;
            }
        };
        let via_profile = inp.checker.mfa_profile_with_role(&arn);
        let base_mfa = match &need {
            Some(MfaNeed::KeysMfa { serial_profile }) => Some(serial_profile.clone()),
            _ => None,
        };
        let (why, fix) = match (via_profile, base_mfa) {
            (Some(p), _) => (
                format!("profile `{p}` assumes the same role with MFA"),
                format!("replace the assume_role (and the block's profile) with {}", suggest(&p)),
            ),
            (None, Some(base)) => {
                let serial = inp.checker.mfa_serial_of(&base).unwrap_or_else(|| "SERIAL".into());
                (
                    format!("the keys of profile `{base}` come with mfa_serial {serial}"),
                    format!(
                        "move the role into a profile ([profile NAME] with source_profile = {base}, role_arn = {arn}, mfa_serial = {serial}), then `rolegate setup NAME` and write profile = \"NAME-tf\" instead of assume_role"
                    ),
                )
            }
            (None, None) => continue,
        };
        findings.push(
            src.finding(
                Severity::Error,
                "terraform-assume-role-mfa",
                format!(
                    "{block} assumes role {arn} with assume_role, and that role needs MFA ({why}): Terraform's assume_role cannot send an MFA code"
                ),
                block_at.or(at),
            )
            .fix(fix),
        );
    }

    profile.map(|(p, _)| p)
}

/// The note for a value that is not literal.
fn cannot_evaluate(src: &Source<'_>, block: &str, what: &str, text: &str, offset: Option<usize>) -> Finding {
    src.finding(
        Severity::Info,
        "terraform-cannot-evaluate",
        format!("{block}: cannot evaluate {what} `{text}`; only literal values are checked"),
        offset,
    )
    .fix("check the value it has at run time (`terraform console` shows it), or write it literally")
}

/// Evaluates a string expression as far as it is literal.
fn eval(expr: &Expression, src: &Source<'_>, home: Option<&Path>) -> Eval {
    let unknown = || Eval::Unknown(src.text_of(expr));
    match expr {
        Expression::String(s) => Eval::Known(expand_tilde(s.value(), home)),
        Expression::StringTemplate(t) => {
            let mut out = String::new();
            for element in t.iter() {
                match element {
                    Element::Literal(s) => out.push_str(s.value()),
                    Element::Interpolation(i) => match eval(&i.expr, src, home) {
                        Eval::Known(v) => out.push_str(&v),
                        Eval::Unknown(_) => return unknown(),
                    },
                    Element::Directive(_) => return unknown(),
                }
            }
            Eval::Known(expand_tilde(&out, home))
        }
        Expression::FuncCall(f) if !f.name.is_namespaced() && f.name.name.value().as_str() == "pathexpand" => {
            match (f.args.len(), f.args.get(0).map(|a| eval(a, src, home))) {
                (1, Some(Eval::Known(v))) => Eval::Known(expand_tilde(&v, home)),
                _ => unknown(),
            }
        }
        Expression::Parenthesis(p) => eval(p.inner(), src, home),
        _ => unknown(),
    }
}

/// A list attribute (`["a", "b"]`), or a single value.
fn eval_list(expr: &Expression, src: &Source<'_>, home: Option<&Path>) -> Vec<Eval> {
    match expr {
        Expression::Array(items) => items.iter().map(|e| eval(e, src, home)).collect(),
        other => vec![eval(other, src, home)],
    }
}

/// `~/x` -> `$HOME/x` (as `pathexpand` and the AWS provider do).
fn expand_tilde(value: &str, home: Option<&Path>) -> String {
    match (value.strip_prefix("~/"), home) {
        (Some(rest), Some(h)) => h.join(rest).display().to_string(),
        _ => value.to_string(),
    }
}

/// Whether `path` is the AWS config file rather than a credentials file: the configured config
/// file itself, any `.aws/config`, or a file with `[profile NAME]` sections.
fn points_at_config(path: &str, paths: &ConfigPaths) -> bool {
    let p = Path::new(path);
    if p == paths.config || p.ends_with(".aws/config") {
        return true;
    }
    if let (Ok(a), Ok(b)) = (p.canonicalize(), paths.config.canonicalize())
        && a == b
    {
        return true;
    }
    std::fs::read_to_string(p).is_ok_and(|text| {
        text.lines().any(|l| l.trim().strip_prefix("[profile").is_some_and(|r| r.starts_with(char::is_whitespace)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_attr_value(text: &str) -> Eval {
        let body = hcl::edit::parser::parse_body(text).unwrap();
        let attr = body.attributes().next().unwrap();
        let src = Source { path: Path::new("x.tf"), text };
        eval(&attr.value, &src, Some(Path::new("/home/u")))
    }

    #[test]
    fn evaluates_literal_forms() {
        assert_eq!(first_attr_value("a = \"x\"\n"), Eval::Known("x".into()));
        assert_eq!(
            first_attr_value("a = \"${pathexpand(\"~/.aws/config\")}\"\n"),
            Eval::Known("/home/u/.aws/config".into())
        );
        assert_eq!(first_attr_value("a = pathexpand(\"~/.aws/c\")\n"), Eval::Known("/home/u/.aws/c".into()));
        assert_eq!(first_attr_value("a = \"~/.aws/config\"\n"), Eval::Known("/home/u/.aws/config".into()));
        assert_eq!(first_attr_value("a = \"${\"x\"}-y\"\n"), Eval::Known("x-y".into()));
        assert_eq!(first_attr_value("a = var.region\n"), Eval::Unknown("var.region".into()));
        assert_eq!(first_attr_value("a = \"${var.region}\"\n"), Eval::Unknown("\"${var.region}\"".into()));
        assert_eq!(
            first_attr_value("a = \"${path.module}/creds\"\n"),
            Eval::Unknown("\"${path.module}/creds\"".into())
        );
    }

    #[test]
    fn lines_come_from_spans() {
        let text = "# c\n\nprovider \"aws\" {\n  region = \"x\"\n  profile = \"p\"\n}\n";
        let body = hcl::edit::parser::parse_body(text).unwrap();
        let src = Source { path: Path::new("x.tf"), text };
        let block = body.blocks().next().unwrap();
        assert_eq!(src.line(block.span().map(|s| s.start)), Some(3));
        let (_, at) = Fields::Body(&block.body).get("profile").unwrap();
        assert_eq!(src.line(at), Some(5));
    }

    #[test]
    fn recognises_the_config_file() {
        let paths = ConfigPaths { config: "/h/.aws/config".into(), credentials: "/h/.aws/credentials".into() };
        assert!(points_at_config("/h/.aws/config", &paths));
        assert!(points_at_config("/elsewhere/.aws/config", &paths));
        assert!(!points_at_config("/h/.aws/credentials", &paths));
    }
}
