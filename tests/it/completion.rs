//! Shell completion of profile names, in real shells: the script `rolegate completions SHELL`
//! prints is sourced by bash, zsh and fish, and each is asked to complete `rolegate exec tar`
//! the way it does at a TAB (bash: the registered function with `COMP_WORDS`; fish:
//! `complete -C`; zsh: typed on a pseudo-terminal, the line read back from the line editor).
//! The names come from the user's files at the moment of the TAB.

use std::path::PathBuf;

use crate::common::env::*;

/// Profiles in both files: `target` and `target-tf` share the prefix `tar`.
const CONFIG: &str = "[profile base]\nregion = us-west-2\n\n[profile target]\nsource_profile = base\nrole_arn = arn:aws:iam::123456789012:role/r\nmfa_serial = arn:aws:iam::123456789012:mfa/u\n\n[profile target-tf]\ncredential_process = rolegate credential-process target\n\n[profile other]\nregion = eu-west-1\n\n[services local]\nsts =\n  endpoint_url = http://127.0.0.1:1\n";
const CREDENTIALS: &str = "[base]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = secret\n\n[keys-only]\naws_access_key_id = AKIAEXAMPLE2\naws_secret_access_key = secret2\n";

fn env_with_profiles() -> TestEnv {
    let mut env = TestEnv::new();
    env.write_config(CONFIG);
    env.write_credentials(CREDENTIALS);
    env
}

/// Writes `rolegate completions SHELL` to a file in the test directory.
fn script(env: &TestEnv, shell: &str) -> PathBuf {
    let out = env.rolegate(&["completions", shell]).output().unwrap();
    assert!(out.status.success(), "{shell}: {}", stderr_of(&out));
    let path = env.path(&format!("rolegate.{shell}"));
    std::fs::write(&path, &out.stdout).unwrap();
    path
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|candidate| candidate.is_file())
}

fn have(test: &str, shell: &str) -> bool {
    let found = which(shell).is_some();
    if !found {
        crate::common::skip::skip(test, shell, &format!("{shell} not installed"));
    }
    found
}

/// What bash's completion function offers for the words `line` (the last one being completed).
fn bash_complete(env: &TestEnv, line: &str) -> Vec<String> {
    let script = script(env, "bash");
    let words: Vec<&str> = line.split(' ').collect();
    let program = format!(
        "source {}\nCOMP_WORDS=({})\nCOMP_CWORD={}\nCOMP_LINE={:?}\nCOMP_POINT=${{#COMP_LINE}}\nCOMP_TYPE=9\n_clap_complete_rolegate rolegate {:?} {:?}\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        words.iter().map(|w| format!("{w:?}")).collect::<Vec<_>>().join(" "),
        words.len() - 1,
        line,
        words[words.len() - 1],
        words[words.len() - 2],
    );
    let out = env.command("bash", &["--norc", "--noprofile", "-c", &program]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.is_empty()).map(str::to_string).collect()
}

#[test]
fn bash_completes_profile_names_from_the_files_at_the_time_of_the_tab() {
    if !have("bash_completes_profile_names_from_the_files_at_the_time_of_the_tab", "bash") {
        return;
    }
    let mut env = env_with_profiles();
    assert_eq!(bash_complete(&env, "rolegate exec tar"), ["target", "target-tf"]);
    // Every subcommand that takes a profile, and both files (the credentials file's `[NAME]`).
    assert_eq!(bash_complete(&env, "rolegate credential-process k"), ["keys-only"]);
    assert_eq!(bash_complete(&env, "rolegate login o"), ["other"]);
    assert_eq!(bash_complete(&env, "rolegate clear ba"), ["base"]);
    // No section that is not a profile.
    assert!(bash_complete(&env, "rolegate export l").is_empty());
    // An edit shows at the next TAB: nothing is generated ahead of time.
    env.write_config(&format!("{CONFIG}\n[profile tardis]\nregion = eu-west-2\n"));
    assert_eq!(bash_complete(&env, "rolegate exec tar"), ["tardis", "target", "target-tf"]);
    // Subcommands and flags still complete.
    assert_eq!(bash_complete(&env, "rolegate cre"), ["credential-process"]);
    assert!(bash_complete(&env, "rolegate exec --reg").contains(&"--region".to_string()));
}

#[test]
fn fish_completes_profile_names() {
    if !have("fish_completes_profile_names", "fish") {
        return;
    }
    let env = env_with_profiles();
    let script = script(&env, "fish");
    let program = format!("source {}; complete -C 'rolegate exec tar'", script.display());
    let out = env.command("fish", &["--no-config", "-c", &program]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let offered: Vec<String> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| l.split('\t').next().unwrap_or("").to_string()).collect();
    assert_eq!(offered, ["target", "target-tf"]);
}

#[test]
fn zsh_completes_profile_names_at_a_typed_tab() {
    if !have("zsh_completes_profile_names_at_a_typed_tab", "zsh") {
        return;
    }
    let env = env_with_profiles();
    let script = script(&env, "zsh");
    // An interactive zsh on a pseudo-terminal, with the completion system and the script loaded;
    // Ctrl-T shows the line editor's buffer as a message, so the test reads what TAB inserted.
    let mut p = crate::common::pty::spawn_script(&env, "exec zsh -f -i");
    p.send_line(&format!(
        "PS1='%% '; autoload -Uz compinit && compinit -u -D && source {} && show-buffer() {{ zle -M \"[[$BUFFER]]\" }} && zle -N show-buffer && bindkey '^T' show-buffer && print -- \"$((40+2))-ready\"",
        script.display()
    ))
    .unwrap();
    p.exp_string("42-ready").unwrap();
    // `oth`: one profile fits, inserted with a space after it.
    typed(&mut p, "rolegate exec oth\t\x14");
    p.exp_string("[[rolegate exec other ]]").unwrap();
    // `tar`: `target` and `target-tf`; TAB inserts their common part, a second TAB lists both.
    typed(&mut p, "\x15rolegate exec tar\t\x14");
    p.exp_string("[[rolegate exec target]]").unwrap();
    typed(&mut p, "\t");
    p.exp_string("target-tf").unwrap();
    typed(&mut p, "\x15exit\r");
    p.exp_eof().unwrap();
}

/// Keys typed on the terminal, sent at once.
fn typed(p: &mut rexpect::session::PtySession, keys: &str) {
    p.send(keys).unwrap();
    p.flush().unwrap();
}

#[test]
fn completion_scripts_register_for_every_shell_and_the_man_page_renders() {
    let env = TestEnv::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = env.rolegate(&["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}: {}", stderr_of(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        // Each asks rolegate at TAB time, by name (so an upgrade or a move along PATH is followed).
        assert!(text.contains("ROLEGATE_COMPLETE") && text.contains(shell), "{shell}: {text}");
    }
    let man = env.rolegate(&["man"]).output().unwrap();
    let page = String::from_utf8_lossy(&man.stdout);
    assert!(page.starts_with(".ie \\n(.g .ds Aq") || page.contains(".TH rolegate"), "{page:.200}");
    assert!(page.contains("credential\\-process"), "{page:.400}");
}

#[test]
fn a_request_for_completions_never_runs_a_command() {
    let env = env_with_profiles();
    // What the scripts run at TAB: the words after `--` are completed, not executed, even
    // when they name a command that would write or ask for a code.
    let mut cmd = env.rolegate(&["--", "rolegate", "setup", "target", ""]);
    cmd.env("ROLEGATE_COMPLETE", "fish");
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(std::fs::read_to_string(env.config_path()).unwrap(), CONFIG, "setup did not run");
    // An empty variable is not a request.
    let mut cmd = env.rolegate(&["list"]);
    cmd.env("ROLEGATE_COMPLETE", "");
    assert!(cmd.output().unwrap().status.success());
}
