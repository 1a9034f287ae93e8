//! Line edits of one profile's settings in an AWS file's text, every other byte kept: what
//! `add`, `import`, `rotate` and `remove` change in `~/.aws/config` and `~/.aws/credentials`.
//! Pure functions over text; writing the file is the command's.
//!
//! Lines are classified by [`Line::parse`], the SDK parser's rules, so a profile's sections are
//! exactly the ones the SDKs read for it (`[profile NAME]` / `[default]` in the config file,
//! `[NAME]` in the credentials file). A property's continuation lines go with it.

use super::source::{FileKind, Header, Line};

/// The header of a new section for `profile` in a file of `kind`.
fn header_for(profile: &str, kind: FileKind) -> String {
    match kind {
        FileKind::Credentials => format!("[{profile}]"),
        FileKind::Config if profile == "default" => "[default]".into(),
        FileKind::Config => format!("[profile {profile}]"),
    }
}

/// `\r\n` when most line breaks of `text` are CRLF, else `\n`.
fn line_ending(text: &str) -> &'static str {
    let crlf = text.matches("\r\n").count();
    let lf = text.matches('\n').count() - crlf;
    if crlf > lf { "\r\n" } else { "\n" }
}

/// Whether a header line opens one of `profile`'s sections.
fn opens(header: &Header, profile: &str) -> bool {
    header.profile() == Some(profile)
}

/// `text` without `profile`'s `keys` (and their continuation lines), and how many lines went.
pub fn remove_keys(text: &str, kind: FileKind, profile: &str, keys: &[&str]) -> (String, usize) {
    let mut out = String::with_capacity(text.len());
    let mut in_profile = false;
    let mut dropping = false;
    let mut removed = 0;
    for line in text.split_inclusive('\n') {
        match Line::parse(line, kind) {
            Line::Header(h) => {
                in_profile = opens(&h, profile);
                dropping = false;
            }
            Line::Property { key } => dropping = in_profile && keys.contains(&key.as_str()),
            Line::Continuation => {}
            Line::Blank => dropping = false,
        }
        if dropping {
            removed += 1;
        } else {
            out.push_str(line);
        }
    }
    (out, removed)
}

/// `text` with `profile`'s `settings` set: an existing line of the key (in any of the profile's
/// sections) is replaced where it is; the others are added after the last setting of the
/// profile's last section, or in a new section at the end of the file.
pub fn set_keys(text: &str, kind: FileKind, profile: &str, settings: &[(&str, &str)]) -> String {
    let eol = line_ending(text);
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len() + settings.len() + 2);
    let mut in_profile = false;
    let mut replacing = false;
    let mut done: Vec<&str> = Vec::new();
    // Where in `out` the new lines go: after the last property (or header) of the last section.
    let mut insert_at: Option<usize> = None;
    for line in &lines {
        let parsed = Line::parse(line, kind);
        match &parsed {
            Line::Header(h) => {
                in_profile = opens(h, profile);
                replacing = false;
                if in_profile {
                    insert_at = Some(out.len() + 1);
                }
            }
            Line::Property { key } => {
                replacing = false;
                if in_profile && let Some((k, v)) = settings.iter().find(|(k, _)| *k == key.as_str()) {
                    replacing = true;
                    if !done.contains(k) {
                        done.push(k);
                        out.push(format!("{k} = {v}{eol}"));
                        insert_at = Some(out.len());
                    }
                    continue;
                }
            }
            Line::Continuation if replacing => continue,
            Line::Continuation | Line::Blank => {}
        }
        let is_setting = matches!(parsed, Line::Property { .. } | Line::Continuation);
        out.push((*line).to_string());
        if in_profile && is_setting {
            insert_at = Some(out.len());
        }
    }
    let missing: String =
        settings.iter().filter(|(k, _)| !done.contains(k)).map(|(k, v)| format!("{k} = {v}{eol}")).collect();
    if missing.is_empty() {
        return out.concat();
    }
    match insert_at {
        Some(at) => {
            // The line before the insertion point may lack its line break (end of file).
            if let Some(prev) = at.checked_sub(1).and_then(|i| out.get_mut(i))
                && !prev.ends_with('\n')
            {
                prev.push_str(eol);
            }
            out.insert(at, missing);
            out.concat()
        }
        None => {
            let mut text = out.concat();
            if !text.is_empty() {
                if !text.ends_with('\n') {
                    text.push_str(eol);
                }
                let body = text.trim_end_matches(['\r', '\n']);
                let last = body.rsplit('\n').next().unwrap_or("");
                if !last.trim_matches([' ', '\t', '\r']).is_empty() {
                    text.push_str(eol);
                }
            }
            text.push_str(&header_for(profile, kind));
            text.push_str(eol);
            text.push_str(&missing);
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: &[&str] = &["aws_access_key_id", "aws_secret_access_key", "aws_session_token"];

    #[test]
    fn removing_keys_keeps_every_other_byte() {
        let text = "# top\r\n[base]\r\naws_access_key_id = AKIA1\r\n; note\r\nAWS_Secret_Access_Key=s3cret\r\nregion = eu-west-1\r\n\r\n[other]\r\naws_access_key_id = AKIA2\r\naws_secret_access_key = x";
        let (out, removed) = remove_keys(text, FileKind::Credentials, "base", KEYS);
        assert_eq!(removed, 2);
        assert_eq!(
            out,
            "# top\r\n[base]\r\n; note\r\nregion = eu-west-1\r\n\r\n[other]\r\naws_access_key_id = AKIA2\r\naws_secret_access_key = x"
        );
    }

    #[test]
    fn removing_keys_takes_continuation_lines_and_every_section_of_the_profile() {
        let text = "[base]\naws_secret_access_key = a\n  b\nx = 1\n[base]\naws_access_key_id = K\n";
        let (out, removed) = remove_keys(text, FileKind::Credentials, "base", KEYS);
        assert_eq!((out.as_str(), removed), ("[base]\nx = 1\n[base]\n", 3));
    }

    #[test]
    fn setting_keys_in_an_existing_section_goes_after_its_last_setting() {
        let text = "[profile base]\nregion = eu-west-1\n\n[profile x]\nrole_arn = r\n";
        let out = set_keys(text, FileKind::Config, "base", &[("rolegate_keystore", "secret-service")]);
        assert_eq!(
            out,
            "[profile base]\nregion = eu-west-1\nrolegate_keystore = secret-service\n\n[profile x]\nrole_arn = r\n"
        );
    }

    #[test]
    fn setting_a_key_that_exists_replaces_its_line_in_place() {
        let text = "[profile base]\nrolegate_access_key_id = OLD\nregion = r\n";
        let out = set_keys(text, FileKind::Config, "base", &[("rolegate_access_key_id", "NEW")]);
        assert_eq!(out, "[profile base]\nrolegate_access_key_id = NEW\nregion = r\n");
    }

    #[test]
    fn a_missing_profile_gets_a_section_at_the_end_with_the_files_line_endings() {
        let out = set_keys("[default]\r\nregion = r", FileKind::Config, "base", &[("a", "1"), ("b", "2")]);
        assert_eq!(out, "[default]\r\nregion = r\r\n\r\n[profile base]\r\na = 1\r\nb = 2\r\n");
        assert_eq!(set_keys("", FileKind::Config, "default", &[("a", "1")]), "[default]\na = 1\n");
    }

    #[test]
    fn a_last_section_without_a_final_newline_gets_one_before_the_new_lines() {
        let out = set_keys("[profile base]\nregion = r", FileKind::Config, "base", &[("a", "1")]);
        assert_eq!(out, "[profile base]\nregion = r\na = 1\n");
    }
}
