//! `argv[0]` shims: install/list/remove, the real program found further down PATH (never a
//! loop), the profile from AWS_PROFILE or `.rolegate`, and nested calls without a new prompt.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::common::env::*;

/// A fake `tool` that reports its credentials: `tool-output` lines on stdout.
fn write_tool(dir: &Path, name: &str, body: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn shim_env(sts: &crate::common::strict_sts::StrictSts) -> TestEnv {
    let mut env = TestEnv::seed(sts);
    let shims = env.path("shims");
    let real = env.path("real");
    write_tool(&real, "tool", "echo \"tool key=$AWS_ACCESS_KEY_ID profile=$ROLEGATE_PROFILE args=$*\"");
    let out = env.rolegate(&["shim", "install", "--dir", shims.to_str().unwrap(), "tool"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "# add the shim directory to PATH, before the real programs:\nexport PATH=\"{}:$PATH\"\n",
            shims.display()
        )
    );
    let path = format!("{}:{}:{}", shims.display(), real.display(), std::env::var("PATH").unwrap());
    env.set("PATH", &path);
    env
}

#[test]
fn install_list_and_remove() {
    let sts = seed_sts();
    let env = TestEnv::seed(&sts);
    let dir = env.path("shims");
    let d = dir.to_str().unwrap();
    assert!(env.rolegate(&["shim", "install", "--dir", d, "terraform", "aws"]).output().unwrap().status.success());
    let list = env.rolegate(&["shim", "list", "--dir", d]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&list.stdout), "aws\nterraform\n");
    assert_eq!(std::fs::canonicalize(dir.join("terraform")).unwrap(), std::fs::canonicalize(rolegate_bin()).unwrap());
    // A file of the same name that is not a shim is never replaced.
    std::fs::write(dir.join("mine"), "#!/bin/sh\n").unwrap();
    let refused = env.rolegate(&["shim", "install", "--dir", d, "mine"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(3), "{}", stderr_of(&refused));
    assert!(stderr_of(&refused).contains("exists and is not a rolegate shim"), "{}", stderr_of(&refused));
    assert!(env.rolegate(&["shim", "remove", "--dir", d, "aws"]).output().unwrap().status.success());
    assert_eq!(
        String::from_utf8_lossy(&env.rolegate(&["shim", "list", "--dir", d]).output().unwrap().stdout),
        "terraform\n"
    );
}

#[test]
fn a_shim_runs_the_real_program_with_credentials() {
    let sts = seed_sts();
    let mut env = shim_env(&sts);
    let first = env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap();
    let creds = parse_process_json(&first.stdout);
    env.set("AWS_PROFILE", "target");
    let out = env.command("setsid", &["-w", "tool", "plan", "-out=x"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("tool key={} profile=target args=plan -out=x\n", creds.access_key_id)
    );
    assert_eq!(sts.calls().len(), 2, "served from the cache");
}

#[test]
fn a_rolegate_file_names_the_profile() {
    let sts = seed_sts();
    let env = shim_env(&sts);
    assert!(
        env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap().status.success()
    );
    std::fs::write(env.path(".rolegate"), "target\n").unwrap();
    std::fs::create_dir_all(env.path("module/sub")).unwrap();
    let out = env.command("setsid", &["-w", "tool"]).current_dir(env.path("module/sub")).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("profile=target"));
}

#[test]
fn a_shim_never_runs_itself() {
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    // Two shim directories and no real `tool` at all.
    for d in ["shims-a", "shims-b"] {
        let dir = env.path(d);
        assert!(
            env.rolegate(&["shim", "install", "--dir", dir.to_str().unwrap(), "tool"])
                .output()
                .unwrap()
                .status
                .success()
        );
    }
    env.set("PATH", &format!("{}:{}:/usr/bin:/bin", env.path("shims-a").display(), env.path("shims-b").display()));
    env.set("AWS_PROFILE", "target");
    let out = env.command("setsid", &["-w", "tool"]).output().unwrap();
    assert_eq!(out.status.code(), Some(127), "{}", stderr_of(&out));
    assert_eq!(
        stderr_of(&out),
        "rolegate: error: `tool` is a rolegate shim, but no other `tool` is on PATH\nrolegate: hint: install tool, or remove the shim with `rolegate shim remove tool`\n"
    );
}

#[test]
fn nested_shims_run_the_real_program_directly() {
    let sts = seed_sts();
    let mut env = shim_env(&sts);
    // `outer` (shimmed) calls `tool` (shimmed): the inner one must not exec rolegate again.
    write_tool(&env.path("real"), "outer", "tool nested");
    let shims = env.path("shims");
    assert!(
        env.rolegate(&["shim", "install", "--dir", shims.to_str().unwrap(), "outer"])
            .output()
            .unwrap()
            .status
            .success()
    );
    assert!(
        env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap().status.success()
    );
    env.set("AWS_PROFILE", "target");
    let out = env.command("setsid", &["-w", "outer"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("profile=target args=nested"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(out.stderr.is_empty(), "no notice, no prompt: {}", stderr_of(&out));
}

#[test]
fn without_a_profile_the_shim_says_how_to_choose_one() {
    let sts = seed_sts();
    let env = shim_env(&sts);
    let out = env.command("setsid", &["-w", "tool"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("`tool` is a rolegate shim and no profile is chosen"), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("hint: set AWS_PROFILE, or write the profile name into a .rolegate file"),
        "{}",
        stderr_of(&out)
    );
}

/// The shim runs its program, whatever the arguments: `tool credential-process target` is the
/// exact form the hot path answers, and with a warm index it must still be `tool`'s.
#[test]
fn a_shim_runs_its_program_even_with_the_hot_paths_arguments() {
    let sts = seed_sts();
    let mut env = shim_env(&sts);
    // The shim's environment (AWS_PROFILE names the profile), so the index matches its call.
    env.set("AWS_PROFILE", "target");
    let first = env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap();
    let creds = parse_process_json(&first.stdout);
    // The index is warm: the exact form is answered without the parser.
    let warm = env.run_without_terminal(&["credential-process", "target"]);
    assert_eq!(parse_process_json(&warm.stdout), creds);
    let out = env.command("setsid", &["-w", "tool", "credential-process", "target"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("tool key={} profile=target args=credential-process target\n", creds.access_key_id)
    );
}
