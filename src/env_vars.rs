//! Every environment variable rolegate reads or writes, in one place.
//!
//! Code elsewhere names these constants, never string literals, so `grep` finds every reader.
//!
//! Conventions: an empty variable is unset, for the SDKs' variables and for rolegate's own
//! (`ROLEGATE_CACHE_DIR=` is the default cache directory, not an error). rolegate reads settings
//! as UTF-8 ([`Env::get`](crate::context::Env::get)) and paths as raw bytes; the programs it
//! starts (`exec`'s command, the endpoint's child, a base `credential_process`) get every
//! variable it was given, byte for byte, non-UTF-8 ones included, minus the removals each
//! documents. The variables whose values the hot index keys on are listed in
//! `cache::hot_index::KEY_VARS`.

// --- Read: where the AWS configuration lives (the SDKs' own variables).
/// Path of the shared config file (default `~/.aws/config`).
pub const AWS_CONFIG_FILE: &str = "AWS_CONFIG_FILE";
/// Path of the shared credentials file (default `~/.aws/credentials`).
pub const AWS_SHARED_CREDENTIALS_FILE: &str = "AWS_SHARED_CREDENTIALS_FILE";
/// Profile used when none is given on the command line.
pub const AWS_PROFILE: &str = "AWS_PROFILE";
/// Older spelling of `AWS_PROFILE`, still honoured by the AWS CLI.
pub const AWS_DEFAULT_PROFILE: &str = "AWS_DEFAULT_PROFILE";
/// Region; wins over the profile's `region`.
pub const AWS_REGION: &str = "AWS_REGION";
/// Region as the AWS CLI and boto3 spell it.
pub const AWS_DEFAULT_REGION: &str = "AWS_DEFAULT_REGION";

// --- Read: the STS endpoint.
/// Endpoint URL for STS only.
pub const AWS_ENDPOINT_URL_STS: &str = "AWS_ENDPOINT_URL_STS";
/// Endpoint URL for every service.
pub const AWS_ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";
/// Endpoint URL for IAM only, as the AWS SDKs read it (`setup`'s wizard lists the MFA devices
/// there; `rotate` makes and deletes access keys there).
pub const AWS_ENDPOINT_URL_IAM: &str = "AWS_ENDPOINT_URL_IAM";
/// `true` ignores every configured endpoint URL (environment and profile).
pub const AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: &str = "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS";
/// `true` selects FIPS endpoints.
pub const AWS_USE_FIPS_ENDPOINT: &str = "AWS_USE_FIPS_ENDPOINT";
/// `true` selects dual-stack endpoints.
pub const AWS_USE_DUALSTACK_ENDPOINT: &str = "AWS_USE_DUALSTACK_ENDPOINT";
/// `legacy` sends the legacy regions to the global endpoint.
pub const AWS_STS_REGIONAL_ENDPOINTS: &str = "AWS_STS_REGIONAL_ENDPOINTS";
/// A PEM bundle of extra trusted CA certificates (the AWS CLI's variable).
pub const AWS_CA_BUNDLE: &str = "AWS_CA_BUNDLE";

// --- Read (`credential_source = Environment`) and written (exec).
pub const AWS_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
pub const AWS_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
pub const AWS_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";
pub const AWS_CREDENTIAL_EXPIRATION: &str = "AWS_CREDENTIAL_EXPIRATION";

// --- Removed from a credentialed child's environment.
/// Makes old Go SDKs read the config file; meaningless once keys are in the environment.
pub const AWS_SDK_LOAD_CONFIG: &str = "AWS_SDK_LOAD_CONFIG";
/// Old name of the session token; never written (it broke Terragrunt), removed when stale.
pub const AWS_SECURITY_TOKEN: &str = "AWS_SECURITY_TOKEN";

// --- Written for a child of `exec --server`: the container-credentials endpoint.
/// Full URL of the local endpoint.
pub const AWS_CONTAINER_CREDENTIALS_FULL_URI: &str = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
/// The token the endpoint expects in `Authorization`.
pub const AWS_CONTAINER_AUTHORIZATION_TOKEN: &str = "AWS_CONTAINER_AUTHORIZATION_TOKEN";
/// A file holding the token; wins over the variable in the SDKs, so it is removed.
pub const AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: &str = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE";
/// The ECS relative URI; wins over the full URI in the SDKs, so it is removed.
pub const AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: &str = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI";

// --- Read: the platform.
/// Home directory, for `~/.aws` and `~/.cache`.
pub const HOME: &str = "HOME";
/// The user's shell, which `exec` without a command starts (else `/bin/sh`).
pub const SHELL: &str = "SHELL";
/// Base of the cache directory when set.
pub const XDG_CACHE_HOME: &str = "XDG_CACHE_HOME";
/// The user's private runtime directory (a tmpfs on most Linux desktops), for `exec`'s copies.
pub const XDG_RUNTIME_DIR: &str = "XDG_RUNTIME_DIR";

// --- rolegate's own.
/// Overrides the cache directory (also `--cache-dir`).
pub const ROLEGATE_CACHE_DIR: &str = "ROLEGATE_CACHE_DIR";
/// Seconds to wait for an MFA code at the prompt (also `--prompt-timeout`).
pub const ROLEGATE_PROMPT_TIMEOUT: &str = "ROLEGATE_PROMPT_TIMEOUT";
/// A command that prints the MFA code (also `--mfa-process`).
pub const ROLEGATE_MFA_PROCESS: &str = "ROLEGATE_MFA_PROCESS";
/// The YubiKey OATH account to take the code from (also `--ykman-account`).
pub const ROLEGATE_YKMAN_ACCOUNT: &str = "ROLEGATE_YKMAN_ACCOUNT";
/// Log level (`error` to `trace`): of stderr tracing, or of the log file when one is set.
pub const ROLEGATE_LOG: &str = "ROLEGATE_LOG";
/// A file the log (default level `debug`) and every warning and error are appended to.
pub const ROLEGATE_LOG_FILE: &str = "ROLEGATE_LOG_FILE";
/// The profile whose credentials a rolegate child runs with (written by exec; read to detect nesting).
pub const ROLEGATE_PROFILE: &str = "ROLEGATE_PROFILE";
/// The user's own config file, when `AWS_CONFIG_FILE` points a rolegate child at a generated copy.
pub const ROLEGATE_CONFIG_FILE: &str = "ROLEGATE_CONFIG_FILE";
/// The user's own credentials file, likewise.
pub const ROLEGATE_SHARED_CREDENTIALS_FILE: &str = "ROLEGATE_SHARED_CREDENTIALS_FILE";
/// Set by the completion scripts of `rolegate completions SHELL` to the shell's name: the call is
/// a request for completions (clap_complete reads it, and removes it for the children it starts).
pub const ROLEGATE_COMPLETE: &str = "ROLEGATE_COMPLETE";
/// The federation endpoint of `login` (default: the partition's `https://signin...`).
pub const ROLEGATE_FEDERATION_URL: &str = "ROLEGATE_FEDERATION_URL";
/// `add` / `import`: the credential store when `--keystore` is not given.
pub const ROLEGATE_KEYSTORE: &str = "ROLEGATE_KEYSTORE";
/// Profiles on whose behalf rolegate is running a base `credential_process`, comma-separated.
/// A rolegate started with one of them in this list is recursing into itself and stops.
pub const ROLEGATE_RESOLVING: &str = "ROLEGATE_RESOLVING";
