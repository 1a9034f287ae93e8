//! `export`'s text through the real shells: evaluated the way a user evaluates it, every value
//! must reach the shell's children byte for byte, and every unset variable must be gone from
//! their environment. Calls `rolegate::output::export::render` directly (no binary, no STS).
//!
//! Each shell is looked up on PATH; a missing one is skipped with a `SKIP:` line on stderr
//! (installing it is CI's business: Debian's `bash`, `dash`, `zsh` and `fish`; `pwsh` is not in
//! Debian's archive).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use rolegate::credentials::{Credentials, Secret};
use rolegate::output::env::{EnvChanges, UNSET, child_env};
use rolegate::output::export::{Format, render};

/// A shell and the ways a user hands it the text. Each way reads the text from the file
/// `$ROLEGATE_EXPORT_SCRIPT` and, if evaluating it succeeded, writes the environment a child
/// gets to `$ROLEGATE_EXPORT_DUMP` with `env -0` (a child, so only exported variables count).
struct Shell {
    program: &'static str,
    format: Format,
    /// Arguments before the command string.
    args: &'static [&'static str],
    ways: &'static [&'static str],
    /// `LC_ALL` values to run each way under.
    locales: &'static [&'static str],
}

/// A UTF-8 locale, as users have, and the C locale, where the shells see bytes.
const BOTH_LOCALES: &[&str] = &["C.UTF-8", "C"];

const SH_WAYS: &[&str] = &[
    r#"eval "$(cat "$ROLEGATE_EXPORT_SCRIPT")" && exec env -0 >"$ROLEGATE_EXPORT_DUMP""#,
    r#". "$ROLEGATE_EXPORT_SCRIPT" && exec env -0 >"$ROLEGATE_EXPORT_DUMP""#,
];

const BASH: Shell = Shell {
    program: "bash",
    format: Format::Sh,
    args: &["--norc", "--noprofile", "-c"],
    ways: SH_WAYS,
    locales: BOTH_LOCALES,
};
const DASH: Shell = Shell { program: "dash", format: Format::Sh, args: &["-c"], ways: SH_WAYS, locales: BOTH_LOCALES };
const ZSH: Shell = Shell {
    program: "zsh",
    format: Format::Sh,
    args: &["-f", "-c"],
    ways: &[
        r#"eval "$(cat "$ROLEGATE_EXPORT_SCRIPT")" && exec env -0 >"$ROLEGATE_EXPORT_DUMP""#,
        r#". "$ROLEGATE_EXPORT_SCRIPT" && exec env -0 >"$ROLEGATE_EXPORT_DUMP""#,
        // Under RC_QUOTES `''` inside single quotes is a quote: no closing quote may be followed
        // by another.
        r#"setopt RC_QUOTES; eval "$(cat "$ROLEGATE_EXPORT_SCRIPT")" && exec env -0 >"$ROLEGATE_EXPORT_DUMP""#,
    ],
    locales: BOTH_LOCALES,
};
const FISH: Shell = Shell {
    program: "fish",
    format: Format::Fish,
    args: &["--no-config", "-c"],
    ways: &[
        // `(...)` splits the text into lines and `eval` joins them with spaces.
        "eval (cat $ROLEGATE_EXPORT_SCRIPT); and env -0 >$ROLEGATE_EXPORT_DUMP",
        "cat $ROLEGATE_EXPORT_SCRIPT | source; and env -0 >$ROLEGATE_EXPORT_DUMP",
        // From a user's wrapper function: the variables must outlive it.
        "function load; cat $ROLEGATE_EXPORT_SCRIPT | source; end; load; and env -0 >$ROLEGATE_EXPORT_DUMP",
    ],
    locales: BOTH_LOCALES,
};
const PWSH: Shell = Shell {
    program: "pwsh",
    format: Format::Powershell,
    args: &["-NoLogo", "-NoProfile", "-NonInteractive", "-Command"],
    // `env -0` runs under sh so its bytes go straight to the file, not through PowerShell's
    // text pipeline. No double quotes in the native argument (old PowerShell mangles them).
    ways: &[
        // A native command's output reaches Invoke-Expression line by line.
        "& cat $Env:ROLEGATE_EXPORT_SCRIPT | Invoke-Expression; & sh -c 'exec env -0 >$ROLEGATE_EXPORT_DUMP'",
        "Get-Content -Raw $Env:ROLEGATE_EXPORT_SCRIPT | Invoke-Expression; & sh -c 'exec env -0 >$ROLEGATE_EXPORT_DUMP'",
    ],
    // PowerShell decodes a native command's output with an encoding .NET picks from the
    // locale: run it as its users do, under UTF-8.
    locales: &["C.UTF-8"],
};

#[test]
fn export_round_trips_through_bash() {
    round_trip(&BASH);
}

#[test]
fn export_round_trips_through_dash() {
    round_trip(&DASH);
}

#[test]
fn export_round_trips_through_zsh() {
    round_trip(&ZSH);
}

#[test]
fn export_round_trips_through_fish() {
    round_trip(&FISH);
}

#[test]
fn export_round_trips_through_powershell() {
    round_trip(&PWSH);
}

/// The value every unset variable has before the text is evaluated.
const BEFORE: &str = "set-before-export";

fn round_trip(shell: &Shell) {
    let Some(program) = which(shell.program) else { return skip(shell.program) };
    let cases = [("credentials", credentials_changes()), ("nasty values", nasty_changes())];
    for (case, changes) in &cases {
        let text = render(shell.format, changes);
        for way in shell.ways {
            for locale in shell.locales {
                let env = run(&program, shell, way, locale, &text);
                let context = format!("{} [{way}] LC_ALL={locale}, {case}", shell.program);
                check(&env, changes, &context);
            }
        }
    }
}

/// What `rolegate export` really writes: `child_env` of role credentials.
fn credentials_changes() -> EnvChanges {
    let credentials = Credentials {
        access_key_id: "ASIAQEXAMPLEEXAMPLE7".into(),
        secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        session_token: Secret::new("IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+abc/def=="),
        expiration: time::macros::datetime!(2026-01-02 03:04:05 UTC),
        account_id: Some("123456789012".into()),
        arn: None,
    };
    child_env(&credentials, Some("eu-west-1"), "dev")
}

/// Hand-picked trouble for every format, then deterministic random strings.
fn nasty_changes() -> EnvChanges {
    let mut values: Vec<String> = [
        "it's",
        "'",
        "''",
        "'\\''",
        "\\'",
        "'\\",
        "$HOME",
        "${HOME}",
        "$(echo pwned)",
        "`echo pwned`",
        "(echo pwned)",
        "\\",
        "\\\\",
        "\\n",
        "a\nb",
        "\n",
        "trailing newlines\n\n",
        "\r\n",
        "lone\rreturn",
        "\"",
        "\"\"",
        "tab\there",
        "  leading and trailing spaces  ",
        "",
        "-e",
        "--",
        "-n",
        "--erase",
        "#not a comment",
        "; echo pwned",
        "& | < > ( ) { } [ ] * ? ~ ! ^ % @ =",
        "!!",
        "{a,b}",
        "~root",
        "%self",
        "$argv",
        "%PATH%",
        "`n `r `$ `' @' '@ @\" \"@",
        "é ü 日本 🦀 ‘single’ “double” „ ‚ ‛",
        "\u{1}\u{7f}\u{1}\u{1}",
        "\u{1b}[31mred\u{1b}[0m",
        "\u{feff}bom",
        "\u{2028}\u{2029}\u{85}\u{a0}",
        "\u{f600}\u{f6ff}\u{f8ff}\u{fdd0}\u{fdef}\u{fffe}\u{ffff}\u{10ffff}",
        "a=b=c",
        "ASIA/+=",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    values.push("'\n\"\\$".repeat(500));
    values.push("x".repeat(20_000));
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    values.extend((0..50).map(|_| random_value(&mut rng)));

    let set = values
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            // EnvChanges names are `&'static str`; a test may leak a few.
            let name: &'static str = Box::leak(format!("ROLEGATE_T_{i:03}").into_boxed_str());
            (name, v)
        })
        .collect();
    EnvChanges { set, unset: UNSET.to_vec() }
}

/// xorshift64: the same strings on every run and every machine.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: u32) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x % u64::from(n)) as u32
    }
}

fn random_value(rng: &mut XorShift) -> String {
    let len = rng.below(40);
    (0..len).map(|_| random_char(rng)).collect()
}

fn random_char(rng: &mut XorShift) -> char {
    const SPECIAL: &str = "'\"\\$`!*?~#;&|<>(){}[]%@^=,- \t\n\r";
    const AWKWARD: &[char] = &[
        '\u{85}',
        '\u{a0}',
        '\u{301}',
        '\u{200b}',
        '\u{2018}',
        '\u{2019}',
        '\u{201a}',
        '\u{201b}',
        '\u{201c}',
        '\u{201d}',
        '\u{201e}',
        '\u{2028}',
        '\u{2029}',
        '\u{e000}',
        '\u{f600}',
        '\u{f6ff}',
        '\u{f8ff}',
        '\u{fdd0}',
        '\u{fdef}',
        '\u{feff}',
        '\u{fffd}',
        '\u{fffe}',
        '\u{ffff}',
        '\u{1f980}',
        '\u{10ffff}',
    ];
    loop {
        let candidate = match rng.below(10) {
            0..=4 => char::from_u32(0x20 + rng.below(0x5f)),
            5 => SPECIAL.chars().nth(rng.below(SPECIAL.chars().count() as u32) as usize),
            6 => Some(match rng.below(33) {
                32 => '\u{7f}',
                n => char::from_u32(n + 1).unwrap_or('\u{1}'),
            }),
            7 => Some(AWKWARD[rng.below(AWKWARD.len() as u32) as usize]),
            8 => char::from_u32(1 + rng.below(0xffff)),
            _ => char::from_u32(1 + rng.below(0x10_ffff)),
        };
        // Surrogates are not chars: draw again.
        if let Some(c) = candidate.filter(|&c| c != '\0') {
            return c;
        }
    }
}

/// Evaluates `text` in `shell` the given `way`, with every variable `changes` unsets set
/// beforehand, and returns the environment its child saw.
fn run(program: &Path, shell: &Shell, way: &str, locale: &str, text: &str) -> HashMap<Vec<u8>, Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("export.txt");
    let dump = dir.path().join("env.dump");
    std::fs::write(&script, text).unwrap();

    let mut command = Command::new(program);
    command.args(shell.args).arg(way).current_dir(dir.path()).env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    // TMPDIR, and DOTNET_ROOT and the like: a `pwsh` installed as a dotnet tool needs them.
    for (name, value) in std::env::vars_os() {
        if name == "TMPDIR" || name.to_str().is_some_and(|n| n.starts_with("DOTNET_")) {
            command.env(name, value);
        }
    }
    command
        .env("HOME", dir.path())
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("LC_ALL", locale)
        .env("POWERSHELL_TELEMETRY_OPTOUT", "1")
        .env("POWERSHELL_UPDATECHECK", "Off")
        .env("ROLEGATE_EXPORT_SCRIPT", &script)
        .env("ROLEGATE_EXPORT_DUMP", &dump);
    for name in UNSET {
        command.env(name, BEFORE);
    }
    let output = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stderr.is_empty(),
        "{} [{way}] LC_ALL={locale} failed ({}): {stderr}",
        shell.program,
        output.status
    );
    let bytes = std::fs::read(&dump)
        .unwrap_or_else(|e| panic!("{} [{way}] LC_ALL={locale} wrote no environment: {e}", shell.program));
    bytes
        .split(|&b| b == 0)
        .filter(|entry| !entry.is_empty())
        .filter_map(|entry| {
            let eq = entry.iter().position(|&b| b == b'=')?;
            Some((entry[..eq].to_vec(), entry[eq + 1..].to_vec()))
        })
        .collect()
}

fn check(env: &HashMap<Vec<u8>, Vec<u8>>, changes: &EnvChanges, context: &str) {
    let mut wrong = Vec::new();
    for (name, value) in &changes.set {
        let got = env.get(name.as_bytes());
        if got.map(Vec::as_slice) != Some(value.as_bytes()) {
            let got = got.map(|g| String::from_utf8_lossy(g).into_owned());
            wrong.push(format!(
                "{name}: want {}, got {}",
                shorten(value),
                got.as_deref().map_or("nothing".into(), shorten)
            ));
        }
    }
    for name in &changes.unset {
        if let Some(got) = env.get(name.as_bytes()) {
            wrong.push(format!("{name}: should be unset, is {:?}", String::from_utf8_lossy(got)));
        }
    }
    assert!(wrong.is_empty(), "{context}: {} wrong:\n{}", wrong.len(), wrong.join("\n"));
}

/// `value` as a Rust literal, cut to a readable length.
fn shorten(value: &str) -> String {
    let literal = format!("{value:?}");
    match literal.char_indices().nth(200) {
        Some((end, _)) => format!("{}... ({} bytes)", &literal[..end], value.len()),
        None => literal,
    }
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|candidate| candidate.is_file())
}

/// Written to the stderr handle, not with `eprintln!`: the test harness captures `eprintln!`
/// and shows it only for a failing test.
fn skip(program: &str) {
    crate::common::skip::skip(
        &format!("export round-trip through {program}"),
        program,
        &format!("{program} not installed"),
    );
}

#[test]
fn export_takes_the_region_and_duration_flags() {
    use crate::common::env::*;
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    let args = [
        "export",
        "--format",
        "json",
        "target",
        "--mfa-token",
        "123456",
        "--region",
        "ap-southeast-2",
        "--duration",
        "20m",
    ];
    let out = env.without_terminal(&args).output().unwrap();
    env.record(&args, &out);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let vars: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (vars["AWS_REGION"].as_str(), vars["AWS_DEFAULT_REGION"].as_str()),
        (Some("ap-southeast-2"), Some("ap-southeast-2"))
    );
    let role = sts.calls().into_iter().find(|c| c.action == "AssumeRole").unwrap();
    assert_eq!((role.duration_seconds, role.signing_region.as_str()), (Some(1200), "ap-southeast-2"));
}
