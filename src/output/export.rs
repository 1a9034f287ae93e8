//! The `export` output: an [`EnvChanges`] as text a shell evaluates or a tool reads.
//!
//! One statement per line, the unsets first and the sets after them, in the order of
//! [`EnvChanges`] (so a shell's last status is that of a set, which succeeds). Every value is
//! quoted, whatever it holds: quotes, `$`, backticks, backslashes, newlines, any unicode. A NUL
//! cannot be in an environment variable: it is dropped. Names are written bare (they are
//! `[A-Za-z_][A-Za-z0-9_]*`, the constants of [`crate::env_vars`]).
//!
//! - `sh` (POSIX sh, dash, bash, zsh): `eval "$(rolegate export PROFILE)"`.
//!   ```text
//!   unset -v AWS_PROFILE AWS_DEFAULT_PROFILE
//!   export AWS_ACCESS_KEY_ID='ASIA...'
//!   ```
//!   The value is in single quotes, inside which every byte is literal (newlines too); a `'`
//!   is written `'\''` (close, escaped quote, reopen). A closing `'` is never directly followed
//!   by another `'`, so zsh's `RC_QUOTES` (`''` as a quote inside quotes) reads it the same.
//!   `unset -v` touches variables only (plain `unset` in bash removes a *function* of that name
//!   when no variable has it).
//! - `fish`: `rolegate export --format fish PROFILE | source`, or `eval (rolegate export
//!   --format fish PROFILE)`.
//!   ```text
//!   set -e -g AWS_PROFILE;
//!   set -gx AWS_ACCESS_KEY_ID 'ASIA...';
//!   ```
//!   In fish single quotes only `\\` and `\'` are escapes (any other backslash is literal), so
//!   `\` is written `\\` and `'` is written `\'`. A newline is written outside the quotes as
//!   fish's `\n` escape (`'a'\n'b'`): `(...)` splits its output into lines and `eval` joins
//!   them with spaces, which would turn a quoted newline into a space; with no raw newline in
//!   a value, and a `;` ending each statement, both forms read the same. `set -e -g` removes
//!   the global variable (where an inherited or exported one lives) and never a universal
//!   one: plain `set -e` erases a universal variable for every fish session, on disk. A
//!   universal `AWS_PROFILE` (`set -Ux`) is therefore left in place. `set -e` of a variable
//!   that does not exist prints nothing (status 4, hidden by the sets after it).
//! - `powershell` (PowerShell 7 `pwsh` and Windows PowerShell 5.1): `rolegate export --format
//!   powershell PROFILE | Invoke-Expression`.
//!   ```text
//!   $Env:AWS_PROFILE = $null
//!   $Env:AWS_ACCESS_KEY_ID = 'ASIA...'
//!   ```
//!   The value is in single quotes, where the only special characters are the quotes, each
//!   written twice. PowerShell takes the typographic single quotes `‘ ’ ‚ ‛` (U+2018 to
//!   U+201B) as quotes too, so they are doubled as well. A newline or carriage return is
//!   written outside the quotes as a double-quoted escape joined with `+`
//!   (`'a' + "`n" + 'b'`): PowerShell hands a native command's output to the pipeline line by
//!   line, so each statement must fit on one. Assigning `$null` removes a variable and is
//!   silent when it is missing. (Some PowerShell versions remove a variable given an empty
//!   value, too.)
//! - `dotenv`: a `.env` file, `NAME="value"`, unsets omitted (the format has no unset).
//!   ```text
//!   AWS_ACCESS_KEY_ID="ASIA..."
//!   ```
//!   Inside the double quotes `\` is written `\\`, `"` is `\"`, `$` is `\$`, a newline `\n`
//!   and a carriage return `\r`; everything else, tabs and unicode included, is literal. This
//!   is the double-quoted convention of the original (Ruby) dotenv, which direnv's `dotenv`
//!   ports. Readers differ on escapes: python-dotenv keeps `\$` as two characters and expands
//!   `${NAME}` however it is quoted; Node's `dotenv` undoes only `\n` and `\r` (`\\` and `\"`
//!   keep their backslash); direnv 2.32 keeps the backslash of `\$` and expands the variable,
//!   and reads a backslash followed by `n` as a newline. A value with none of `\ " $`, CR or
//!   LF (every key, token, expiration and region rolegate writes) reads back the same
//!   everywhere. Not for `docker run --env-file`, which takes everything after `=` literally,
//!   quotes included.
//! - `json`: one object of the set variables in order, `{"AWS_ACCESS_KEY_ID":"ASIA...",...}`,
//!   serde_json's escaping, unsets omitted.
//!
//! The text holds secrets: it is built in one allocation sized up front (no stray copies left
//! behind by a reallocation), and the caller should zeroize it once written.

use serde::Serialize;

use crate::output::env::EnvChanges;

/// The `--format` of `export`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// POSIX sh, bash, zsh: `eval "$(rolegate export PROFILE)"`
    #[value(alias = "bash", alias = "zsh")]
    Sh,
    /// fish: `rolegate export --format fish PROFILE | source`
    Fish,
    /// PowerShell: `rolegate export --format powershell PROFILE | Invoke-Expression`
    #[value(alias = "pwsh")]
    Powershell,
    /// A .env file: NAME="value" (no unsets)
    Dotenv,
    /// One JSON object of the set variables (no unsets)
    Json,
}

/// Renders the changes for `format`. Values may contain any characters (quotes, $, backticks,
/// newlines, backslashes, unicode): quoting must be correct for each shell.
pub fn render(format: Format, changes: &EnvChanges) -> String {
    debug_assert!(
        changes.set.iter().map(|(name, _)| *name).chain(changes.unset.iter().copied()).all(is_name),
        "variable names are identifiers"
    );
    // No escape makes a byte longer than 12 (PowerShell's newline, `' + "`n" + '`), and no line
    // needs more than 32 bytes besides its name and value.
    let capacity = changes.set.iter().map(|(name, value)| name.len() + 12 * value.len() + 32).sum::<usize>()
        + changes.unset.iter().map(|name| name.len() + 32).sum::<usize>()
        + 16;
    let mut out = String::with_capacity(capacity);
    let allocated = out.capacity();
    match format {
        Format::Sh => sh(&mut out, changes),
        Format::Fish => fish(&mut out, changes),
        Format::Powershell => powershell(&mut out, changes),
        Format::Dotenv => dotenv(&mut out, changes),
        Format::Json => json(&mut out, changes),
    }
    debug_assert_eq!(out.capacity(), allocated, "the text was never reallocated");
    out
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn sh(out: &mut String, changes: &EnvChanges) {
    if !changes.unset.is_empty() {
        out.push_str("unset -v");
        for name in &changes.unset {
            out.push(' ');
            out.push_str(name);
        }
        out.push('\n');
    }
    for (name, value) in &changes.set {
        out.push_str("export ");
        out.push_str(name);
        out.push_str("='");
        for c in value.chars() {
            match c {
                '\'' => out.push_str("'\\''"),
                '\0' => {}
                c => out.push(c),
            }
        }
        out.push_str("'\n");
    }
}

fn fish(out: &mut String, changes: &EnvChanges) {
    for name in &changes.unset {
        out.push_str("set -e -g ");
        out.push_str(name);
        out.push_str(";\n");
    }
    for (name, value) in &changes.set {
        out.push_str("set -gx ");
        out.push_str(name);
        out.push_str(" '");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\'' => out.push_str("\\'"),
                '\n' => out.push_str("'\\n'"),
                '\0' => {}
                c => out.push(c),
            }
        }
        out.push_str("';\n");
    }
}

/// The characters PowerShell's tokenizer takes for a single quote.
fn is_powershell_single_quote(c: char) -> bool {
    matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}')
}

fn powershell(out: &mut String, changes: &EnvChanges) {
    for name in &changes.unset {
        out.push_str("$Env:");
        out.push_str(name);
        out.push_str(" = $null\n");
    }
    for (name, value) in &changes.set {
        out.push_str("$Env:");
        out.push_str(name);
        out.push_str(" = '");
        for c in value.chars() {
            match c {
                c if is_powershell_single_quote(c) => {
                    out.push(c);
                    out.push(c);
                }
                '\n' => out.push_str("' + \"`n\" + '"),
                '\r' => out.push_str("' + \"`r\" + '"),
                '\0' => {}
                c => out.push(c),
            }
        }
        out.push_str("'\n");
    }
}

fn dotenv(out: &mut String, changes: &EnvChanges) {
    for (name, value) in &changes.set {
        out.push_str(name);
        out.push_str("=\"");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '$' => out.push_str("\\$"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\0' => {}
                c => out.push(c),
            }
        }
        out.push_str("\"\n");
    }
}

/// The set variables as a JSON object, in order.
struct Object<'a>(&'a [(&'static str, String)]);

impl Serialize for Object<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(name, value)| (*name, NoNul(value))))
    }
}

/// A value without its NULs, serialized without a copy when it has none (the usual case).
struct NoNul<'a>(&'a str);

impl Serialize for NoNul<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0.contains('\0') {
            let mut clean = self.0.replace('\0', "");
            let result = serializer.serialize_str(&clean);
            zeroize::Zeroize::zeroize(&mut clean);
            result
        } else {
            serializer.serialize_str(self.0)
        }
    }
}

fn json(out: &mut String, changes: &EnvChanges) {
    // Written into `out`'s own buffer. Serializing strings into a Vec cannot fail.
    let mut bytes = std::mem::take(out).into_bytes();
    let _ = serde_json::to_writer(&mut bytes, &Object(&changes.set));
    bytes.push(b'\n');
    // serde_json writes UTF-8: this moves the buffer back, no copy.
    *out = String::from_utf8(bytes).unwrap_or_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes(set: &[(&'static str, &str)], unset: &[&'static str]) -> EnvChanges {
        EnvChanges { set: set.iter().map(|(k, v)| (*k, (*v).to_string())).collect(), unset: unset.to_vec() }
    }

    fn small() -> EnvChanges {
        changes(
            &[("AWS_ACCESS_KEY_ID", "ASIAX"), ("AWS_SECRET_ACCESS_KEY", "s/+="), ("ROLEGATE_PROFILE", "dev")],
            &["AWS_PROFILE", "AWS_SECURITY_TOKEN"],
        )
    }

    /// One variable set to `value`, nothing unset.
    fn one(format: Format, value: &str) -> String {
        render(format, &changes(&[("V", value)], &[]))
    }

    #[test]
    fn sh_exact() {
        assert_eq!(
            render(Format::Sh, &small()),
            "unset -v AWS_PROFILE AWS_SECURITY_TOKEN\n\
             export AWS_ACCESS_KEY_ID='ASIAX'\n\
             export AWS_SECRET_ACCESS_KEY='s/+='\n\
             export ROLEGATE_PROFILE='dev'\n"
        );
    }

    #[test]
    fn fish_exact() {
        assert_eq!(
            render(Format::Fish, &small()),
            "set -e -g AWS_PROFILE;\n\
             set -e -g AWS_SECURITY_TOKEN;\n\
             set -gx AWS_ACCESS_KEY_ID 'ASIAX';\n\
             set -gx AWS_SECRET_ACCESS_KEY 's/+=';\n\
             set -gx ROLEGATE_PROFILE 'dev';\n"
        );
    }

    #[test]
    fn powershell_exact() {
        assert_eq!(
            render(Format::Powershell, &small()),
            "$Env:AWS_PROFILE = $null\n\
             $Env:AWS_SECURITY_TOKEN = $null\n\
             $Env:AWS_ACCESS_KEY_ID = 'ASIAX'\n\
             $Env:AWS_SECRET_ACCESS_KEY = 's/+='\n\
             $Env:ROLEGATE_PROFILE = 'dev'\n"
        );
    }

    #[test]
    fn dotenv_exact_without_unsets() {
        assert_eq!(
            render(Format::Dotenv, &small()),
            "AWS_ACCESS_KEY_ID=\"ASIAX\"\nAWS_SECRET_ACCESS_KEY=\"s/+=\"\nROLEGATE_PROFILE=\"dev\"\n"
        );
    }

    #[test]
    fn json_exact_in_order_without_unsets() {
        assert_eq!(
            render(Format::Json, &small()),
            "{\"AWS_ACCESS_KEY_ID\":\"ASIAX\",\"AWS_SECRET_ACCESS_KEY\":\"s/+=\",\"ROLEGATE_PROFILE\":\"dev\"}\n"
        );
    }

    #[test]
    fn nothing_to_change_is_empty() {
        let none = changes(&[], &[]);
        for format in [Format::Sh, Format::Fish, Format::Powershell, Format::Dotenv] {
            assert_eq!(render(format, &none), "", "{format:?}");
        }
        assert_eq!(render(Format::Json, &none), "{}\n");
    }

    #[test]
    fn sh_quoting() {
        assert_eq!(one(Format::Sh, "it's"), "export V='it'\\''s'\n");
        assert_eq!(one(Format::Sh, "''"), "export V=''\\'''\\'''\n");
        assert_eq!(one(Format::Sh, ""), "export V=''\n");
        // Everything else is literal between single quotes.
        let literal = "$HOME `id` $(id) \\ \\n \" \n\r\t ! * ~ # ; & | é 🦀 ‘’";
        assert_eq!(one(Format::Sh, literal), format!("export V='{literal}'\n"));
    }

    #[test]
    fn fish_quoting() {
        assert_eq!(one(Format::Fish, "it's"), "set -gx V 'it\\'s';\n");
        assert_eq!(one(Format::Fish, "a\\b\\'"), "set -gx V 'a\\\\b\\\\\\'';\n");
        assert_eq!(one(Format::Fish, "a\nb\n"), "set -gx V 'a'\\n'b'\\n'';\n");
        assert_eq!(one(Format::Fish, ""), "set -gx V '';\n");
        let literal = "$HOME `id` (id) \" \r\t ! * ~ # ; & | { } é 🦀";
        assert_eq!(one(Format::Fish, literal), format!("set -gx V '{literal}';\n"));
    }

    #[test]
    fn powershell_quoting() {
        assert_eq!(one(Format::Powershell, "it's"), "$Env:V = 'it''s'\n");
        assert_eq!(one(Format::Powershell, "‘a’ ‚b‛"), "$Env:V = '‘‘a’’ ‚‚b‛‛'\n");
        assert_eq!(one(Format::Powershell, "a\nb\r\n"), "$Env:V = 'a' + \"`n\" + 'b' + \"`r\" + '' + \"`n\" + ''\n");
        assert_eq!(one(Format::Powershell, ""), "$Env:V = ''\n");
        let literal = "$HOME `id` $(id) \\ \" “x” \t @ # ; & | é 🦀";
        assert_eq!(one(Format::Powershell, literal), format!("$Env:V = '{literal}'\n"));
    }

    #[test]
    fn dotenv_quoting() {
        assert_eq!(one(Format::Dotenv, r#"a\b"c$HOME"#), "V=\"a\\\\b\\\"c\\$HOME\"\n");
        assert_eq!(one(Format::Dotenv, "a\nb\r"), "V=\"a\\nb\\r\"\n");
        let literal = "it's `id` \t # = é 🦀";
        assert_eq!(one(Format::Dotenv, literal), format!("V=\"{literal}\"\n"));
    }

    #[test]
    fn json_quoting() {
        let nasty = "it's \"$HOME\" `id` \\ \n\r\t\u{1} é 🦀";
        let text = one(Format::Json, nasty);
        assert_eq!(text, "{\"V\":\"it's \\\"$HOME\\\" `id` \\\\ \\n\\r\\t\\u0001 é 🦀\"}\n");
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["V"], nasty);
    }

    #[test]
    fn nul_is_dropped_everywhere() {
        assert_eq!(one(Format::Sh, "a\0b"), "export V='ab'\n");
        assert_eq!(one(Format::Fish, "a\0b"), "set -gx V 'ab';\n");
        assert_eq!(one(Format::Powershell, "a\0b"), "$Env:V = 'ab'\n");
        assert_eq!(one(Format::Dotenv, "a\0b"), "V=\"ab\"\n");
        assert_eq!(one(Format::Json, "a\0b"), "{\"V\":\"ab\"}\n");
    }

    #[test]
    fn worst_case_values_fit_the_first_allocation() {
        // `render` debug-asserts that its buffer never grew; feed it each format's worst byte.
        let worst = "\n\r'\"\\$\u{1}\u{2019}".repeat(100);
        for format in [Format::Sh, Format::Fish, Format::Powershell, Format::Dotenv, Format::Json] {
            render(format, &changes(&[("V", &worst), ("W", "")], &["U"]));
        }
    }

    #[test]
    fn format_names_on_the_command_line() {
        use clap::ValueEnum;
        let names: Vec<String> = Format::value_variants()
            .iter()
            .filter_map(|f| f.to_possible_value())
            .map(|v| v.get_name().into())
            .collect();
        assert_eq!(names, ["sh", "fish", "powershell", "dotenv", "json"]);
        assert_eq!(Format::from_str("zsh", false), Ok(Format::Sh));
        assert_eq!(Format::from_str("pwsh", false), Ok(Format::Powershell));
    }
}
