//! `rolegate export` prints text that a shell evaluates: a value that escapes its quotes runs
//! code. The values are credentials, a region and a profile name (`output::env::child_env`),
//! plus any other variable; the fuzzer makes every one of them any UTF-8 (NULs included:
//! they are dropped, as an environment cannot hold them).
//!
//! Property: for every format, a small reader written here from the format's rules (not from
//! the renderer) reads back exactly the unsets and the sets, in order, values without NULs:
//! - sh: `unset -v N...` then `export N='...'` lines; inside single quotes every byte is
//!   literal, a `'` is `'\''`; nothing else may stand outside the quotes, and a closing quote
//!   is never directly followed by an opening one (zsh's `RC_QUOTES` would read `''` as `'`);
//! - fish: `set -e -g N;` then `set -gx N '...';`; in single quotes only `\\` and `\'` are
//!   escapes (any other backslash is literal), a newline is `\n` outside the quotes, and no
//!   raw newline is inside a statement (`eval (...)` joins lines with spaces);
//! - powershell: `$Env:N = $null` then `$Env:N = '...' + "`n" + '...'`; in single quotes a quote
//!   (`'` or U+2018..U+201B) is doubled; one statement per line;
//! - dotenv: `N="..."`, escapes `\\ \" \$ \n \r` only, one statement per line, unsets omitted;
//! - json: one object of the sets.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use rolegate::credentials::{Credentials, Secret};
use rolegate::output::env::{EnvChanges, UNSET, child_env};
use rolegate::output::export::{Format, render};
use time::OffsetDateTime;

/// Names for extra variables (`child_env` sets its own).
const EXTRA: &[&str] = &["AWS_CA_BUNDLE", "V", "_", "_x1", "ROLEGATE_FUZZ", "a"];

#[derive(Arbitrary, Debug)]
struct Input {
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
    expiration: i64,
    region: Option<String>,
    profile: String,
    extra: Vec<(u8, String)>,
    no_unsets: bool,
}

type Sets = Vec<(String, String)>;

fuzz_target!(|input: Input| {
    let credentials = Credentials {
        access_key_id: input.access_key_id.clone(),
        secret_access_key: Secret::new(input.secret_access_key.clone()),
        session_token: Secret::new(input.session_token.clone()),
        expiration: OffsetDateTime::from_unix_timestamp(input.expiration).unwrap_or(OffsetDateTime::UNIX_EPOCH),
        account_id: None,
        arn: None,
    };
    let mut changes: EnvChanges = child_env(&credentials, input.region.as_deref(), &input.profile);
    assert_eq!(changes.unset, UNSET);
    for (i, value) in &input.extra {
        let name = EXTRA[*i as usize % EXTRA.len()];
        if !changes.set.iter().any(|(n, _)| *n == name) {
            changes.set.push((name, value.clone()));
        }
    }
    if input.no_unsets {
        changes.unset.clear();
    }

    let sets: Sets = changes.set.iter().map(|(n, v)| (n.to_string(), v.replace('\0', ""))).collect();
    let unsets: Vec<String> = changes.unset.iter().map(|n| n.to_string()).collect();

    let text = render(Format::Sh, &changes);
    assert_eq!(read_sh(&text), Ok((unsets.clone(), sets.clone())), "sh: {text:?}");
    let text = render(Format::Fish, &changes);
    assert_eq!(read_fish(&text), Ok((unsets.clone(), sets.clone())), "fish: {text:?}");
    let text = render(Format::Powershell, &changes);
    assert_eq!(read_powershell(&text), Ok((unsets.clone(), sets.clone())), "powershell: {text:?}");
    let text = render(Format::Dotenv, &changes);
    assert_eq!(read_dotenv(&text), Ok(sets.clone()), "dotenv: {text:?}");
    let text = render(Format::Json, &changes);
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text).expect("json");
    assert_eq!(object.len(), sets.len());
    for (name, value) in &sets {
        assert_eq!(object.get(name).and_then(|v| v.as_str()), Some(value.as_str()), "json: {text:?}");
    }
});

/// A cursor over the text.
struct Reader<'a> {
    rest: std::iter::Peekable<std::str::Chars<'a>>,
}

impl<'a> Reader<'a> {
    fn new(text: &'a str) -> Self {
        Reader { rest: text.chars().peekable() }
    }
    fn done(&mut self) -> bool {
        self.rest.peek().is_none()
    }
    fn next(&mut self) -> Result<char, String> {
        self.rest.next().ok_or_else(|| "unexpected end".to_string())
    }
    fn peek(&mut self) -> Option<char> {
        self.rest.peek().copied()
    }
    fn eat(&mut self, word: &str) -> bool {
        let mut probe = self.rest.clone();
        if word.chars().all(|c| probe.next() == Some(c)) {
            self.rest = probe;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, word: &str) -> Result<(), String> {
        if self.eat(word) { Ok(()) } else { Err(format!("expected {word:?}")) }
    }
    /// A variable name, `[A-Za-z_][A-Za-z0-9_]*`.
    fn name(&mut self) -> Result<String, String> {
        let mut name = String::new();
        while let Some(c) = self.peek().filter(|c| c.is_ascii_alphanumeric() || *c == '_') {
            name.push(c);
            self.rest.next();
        }
        let first = name.chars().next().ok_or("empty name")?;
        if first.is_ascii_digit() {
            return Err(format!("bad name {name:?}"));
        }
        Ok(name)
    }
}

fn read_sh(text: &str) -> Result<(Vec<String>, Sets), String> {
    let mut r = Reader::new(text);
    let mut unsets = Vec::new();
    if r.eat("unset -v") {
        while r.eat(" ") {
            unsets.push(r.name()?);
        }
        r.expect("\n")?;
    }
    let mut sets = Vec::new();
    while !r.done() {
        r.expect("export ")?;
        let name = r.name()?;
        r.expect("=")?;
        let mut value = String::new();
        let mut words = 0;
        loop {
            match r.next()? {
                '\'' => {
                    loop {
                        match r.next()? {
                            '\'' => break,
                            c => value.push(c),
                        }
                    }
                    if r.peek() == Some('\'') {
                        return Err("a closing quote directly followed by an opening one (zsh RC_QUOTES)".into());
                    }
                }
                '\\' => match r.next()? {
                    '\'' => value.push('\''),
                    c => return Err(format!("unquoted escape \\{c:?}")),
                },
                '\n' => break,
                c => return Err(format!("unquoted {c:?}")),
            }
            words += 1;
        }
        if words == 0 {
            return Err("no quoted value".into());
        }
        sets.push((name, value));
    }
    Ok((unsets, sets))
}

fn read_fish(text: &str) -> Result<(Vec<String>, Sets), String> {
    let mut r = Reader::new(text);
    let mut unsets = Vec::new();
    while r.eat("set -e -g ") {
        unsets.push(r.name()?);
        r.expect(";\n")?;
    }
    let mut sets = Vec::new();
    while !r.done() {
        r.expect("set -gx ")?;
        let name = r.name()?;
        r.expect(" ")?;
        let mut value = String::new();
        loop {
            match r.next()? {
                '\'' => loop {
                    match r.next()? {
                        '\'' => break,
                        '\\' => match r.peek() {
                            Some(c @ ('\\' | '\'')) => {
                                r.rest.next();
                                value.push(c);
                            }
                            _ => value.push('\\'),
                        },
                        '\n' => return Err("a raw newline inside quotes".into()),
                        c => value.push(c),
                    }
                },
                '\\' => match r.next()? {
                    'n' => value.push('\n'),
                    c => return Err(format!("unquoted escape \\{c:?}")),
                },
                ';' => {
                    r.expect("\n")?;
                    break;
                }
                c => return Err(format!("unquoted {c:?}")),
            }
        }
        sets.push((name, value));
    }
    Ok((unsets, sets))
}

fn is_ps_quote(c: char) -> bool {
    matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}')
}

fn read_powershell(text: &str) -> Result<(Vec<String>, Sets), String> {
    let mut unsets = Vec::new();
    let mut sets = Vec::new();
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("no final newline".into());
    }
    // PowerShell reads a native command's output line by line: \n, \r and \r\n end a line.
    for line in text.split_terminator('\n') {
        if line.contains('\r') {
            return Err("a carriage return inside a statement".into());
        }
        let mut r = Reader::new(line);
        r.expect("$Env:")?;
        let name = r.name()?;
        r.expect(" = ")?;
        if r.eat("$null") {
            if !r.done() || !sets.is_empty() {
                return Err("bad unset".into());
            }
            unsets.push(name);
            continue;
        }
        let mut value = String::new();
        loop {
            if r.eat("\"`n\"") {
                value.push('\n');
            } else if r.eat("\"`r\"") {
                value.push('\r');
            } else {
                let open = r.next()?;
                if !is_ps_quote(open) {
                    return Err(format!("expected a quote, found {open:?}"));
                }
                loop {
                    let c = r.next()?;
                    if is_ps_quote(c) {
                        match r.peek() {
                            Some(d) if d == c => {
                                r.rest.next();
                                value.push(c);
                            }
                            Some(d) if is_ps_quote(d) => return Err("two different quotes in a row".into()),
                            _ => break,
                        }
                    } else {
                        value.push(c);
                    }
                }
            }
            if r.done() {
                break;
            }
            r.expect(" + ")?;
        }
        sets.push((name, value));
    }
    Ok((unsets, sets))
}

fn read_dotenv(text: &str) -> Result<Sets, String> {
    let mut sets = Vec::new();
    let mut r = Reader::new(text);
    while !r.done() {
        let name = r.name()?;
        r.expect("=\"")?;
        let mut value = String::new();
        loop {
            match r.next()? {
                '"' => break,
                '\\' => value.push(match r.next()? {
                    '\\' => '\\',
                    '"' => '"',
                    '$' => '$',
                    'n' => '\n',
                    'r' => '\r',
                    c => return Err(format!("unknown escape \\{c:?}")),
                }),
                c @ ('$' | '\n' | '\r') => return Err(format!("raw {c:?} in a value")),
                c => value.push(c),
            }
        }
        r.expect("\n")?;
        sets.push((name, value));
    }
    Ok(sets)
}
