//! Errors of changing the user's AWS configuration files in place (`setup`): every one names
//! the file, and the line where one is known.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("`{name}` cannot be a profile name: the AWS SDKs ignore a section whose name has {why}")]
    BadName { name: String, why: String },
    #[error(
        "profile `{profile}` already calls rolegate for profile `{target}`: it is a rolegate profile, not the one to set up"
    )]
    AlreadyRolegate { profile: String, target: String },
    #[error(
        "{}: profile `{}` already exists and is not rolegate's profile for `{}`: {}",
        place(&.0.file, .0.line),
        .0.name,
        .0.profile,
        .0.why
    )]
    Conflict(Box<Conflict>),
    #[error("{}: profile `{profile}` already exists with other settings: {why}", place(file, *line))]
    RoleExists { profile: String, file: PathBuf, line: Option<usize>, why: String },
    #[error("{flag} {value:?} cannot be written to the config file: {why}")]
    BadValue { flag: &'static str, value: String, why: &'static str },
    #[error("the setup wizard was closed (end of input): nothing was written")]
    Closed,
    #[error("setup wizard: terminal error")]
    Terminal(#[source] std::io::Error),
    #[error("{} is a symlink to {}, which does not exist", link.display(), target.display())]
    DanglingSymlink { link: PathBuf, target: PathBuf },
    #[error("{} is not a regular file", path.display())]
    NotAFile { path: PathBuf },
    #[error("{} is read-only (mode {mode:04o})", path.display())]
    ReadOnly { path: PathBuf, mode: u32 },
    #[error("{} changed while rolegate was writing it; nothing was changed", path.display())]
    Changed { path: PathBuf },
    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot find the path of the running rolegate binary (and `rolegate` is not on PATH)")]
    SelfPath(#[source] std::io::Error),
    #[error("internal error: the new section would not read back as written ({why}); nothing was changed")]
    Verify { why: String },
}

/// An existing profile of the new profile's name that is not rolegate's for PROFILE.
#[derive(Debug)]
pub struct Conflict {
    pub name: String,
    pub profile: String,
    /// Where its section header is.
    pub file: PathBuf,
    pub line: Option<usize>,
    /// The header as written in that file: `[profile NAME]`, or `[NAME]` in the credentials file.
    pub header: String,
    pub why: String,
}

/// `FILE:LINE`, or `FILE` when the line is unknown.
pub fn place(file: &Path, line: Option<usize>) -> String {
    match line {
        Some(line) => format!("{}:{line}", file.display()),
        None => file.display().to_string(),
    }
}

impl SetupError {
    pub fn hint(&self) -> Option<String> {
        match self {
            SetupError::BadName { .. } => Some("use letters, digits and _-/.%@:+ only, e.g. `--as target-tf`".into()),
            SetupError::AlreadyRolegate { profile, target } => Some(format!(
                "use `{profile}` as it is (profile = \"{profile}\" in Terraform), or run `rolegate setup {target}`"
            )),
            SetupError::Conflict(c) => Some(format!(
                "choose another name (`rolegate setup {} --as {}-rolegate`), or edit or remove the {} section at {}; rolegate never changes an existing section",
                c.profile,
                c.profile,
                c.header,
                place(&c.file, c.line)
            )),
            SetupError::RoleExists { profile, .. } => Some(format!(
                "give the new profile another name, or serve `{profile}` as it is: `rolegate setup {profile}`; rolegate never changes an existing section"
            )),
            SetupError::BadValue { .. } => {
                Some("give the value on one line, without control characters or surrounding spaces".into())
            }
            SetupError::Closed => Some(
                "run `rolegate setup` again on a terminal, or give everything as flags: `rolegate setup PROFILE --source-profile BASE --role-arn ARN --mfa-serial ARN`".into(),
            ),
            SetupError::Terminal(_) => None,
            SetupError::DanglingSymlink { target, .. } => {
                Some(format!("create {} (an empty file will do), or remove the symlink", target.display()))
            }
            SetupError::NotAFile { .. } => Some("point AWS_CONFIG_FILE at a regular file".into()),
            SetupError::ReadOnly { path, .. } => Some(format!(
                "make it writable (`chmod u+w {}`), or add the section yourself (`--dry-run` prints it)",
                path.display()
            )),
            SetupError::Changed { .. } => Some("run the command again".into()),
            SetupError::Io { .. } => Some("check the permissions of the file and its directory".into()),
            SetupError::SelfPath(_) => Some("put rolegate on PATH (`cargo install --locked --path .`)".into()),
            SetupError::Verify { .. } => Some("please report this; `--dry-run` shows the change".into()),
        }
    }
}
