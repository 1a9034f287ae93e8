//! `rolegate login`: the federation requests and the console URL, against a local fake
//! federation endpoint, and the platform's opener.

use std::sync::{Arc, Mutex};

use crate::common::env::*;
use crate::common::moto::Moto;

/// A fake AWS federation endpoint: answers getSigninToken with a fixed token and records the
/// sessions it was given.
struct FakeFederation {
    url: String,
    sessions: Arc<Mutex<Vec<serde_json::Value>>>,
    /// The `SessionDuration` of each getSigninToken request (`None` when absent).
    durations: Arc<Mutex<Vec<Option<String>>>>,
}

impl FakeFederation {
    fn start() -> FakeFederation {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}", server.server_addr().to_ip().unwrap().port());
        let sessions = Arc::new(Mutex::new(Vec::new()));
        let recorded = sessions.clone();
        let durations = Arc::new(Mutex::new(Vec::new()));
        let recorded_durations = durations.clone();
        std::thread::spawn(move || {
            for request in server.incoming_requests() {
                let query = request.url().split_once('?').map(|(_, q)| q.to_string()).unwrap_or_default();
                let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
                let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
                let ok =
                    request.url().starts_with("/federation?") && get("Action").as_deref() == Some("getSigninToken");
                let response = match get("Session").and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok()) {
                    Some(session) if ok => {
                        recorded.lock().unwrap().push(session);
                        recorded_durations.lock().unwrap().push(get("SessionDuration"));
                        tiny_http::Response::from_string("{\"SigninToken\":\"TOKEN/with+chars\"}").with_status_code(200)
                    }
                    _ => tiny_http::Response::from_string("bad request").with_status_code(400),
                };
                let _ = request.respond(response);
            }
        });
        FakeFederation { url, sessions, durations }
    }
}

#[test]
fn login_exchanges_the_role_credentials_for_a_console_url() {
    let sts = seed_sts();
    let federation = FakeFederation::start();
    let mut env = TestEnv::seed(&sts);
    env.set("ROLEGATE_FEDERATION_URL", &federation.url);
    let creds = parse_process_json(
        &env.rolegate(&["credential-process", "target", "--mfa-token", "123456"]).output().unwrap().stdout,
    );
    let out = env.run_without_terminal(&["login", "target", "--print"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "{}/federation?Action=login&Issuer=rolegate&Destination=https%3A%2F%2Fconsole.aws.amazon.com%2F%3Fregion%3Dus-west-2&SigninToken=TOKEN%2Fwith%2Bchars\n",
            federation.url
        )
    );
    let sessions = federation.sessions.lock().unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["sessionId"], creds.access_key_id);
    assert_eq!(sessions[0]["sessionKey"], creds.secret_access_key);
    assert_eq!(sessions[0]["sessionToken"], creds.session_token);
    assert!(!stderr_of(&out).contains(&creds.secret_access_key));
}

#[test]
fn login_for_an_iam_user_mints_a_federation_session() {
    let Some(moto) = Moto::start_or_skip("login_for_an_iam_user_mints_a_federation_session") else { return };
    let federation = FakeFederation::start();
    let mut env = TestEnv::new();
    env.write_config(&format!("[profile user]\nregion = eu-west-1\nmfa_serial = {MFA_SERIAL}\n"));
    env.write_credentials(&format!(
        "[user]\naws_access_key_id = {BASE_KEY_ID}\naws_secret_access_key = {BASE_SECRET}\n"
    ));
    env.set("AWS_ENDPOINT_URL", &moto.url());
    env.set("ROLEGATE_FEDERATION_URL", &federation.url);
    let out = env.rolegate(&["login", "user", "--print", "--mfa-token", "123456"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("a federation session of your IAM user: it does not carry the MFA context"),
        "{}",
        stderr_of(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("Destination=https%3A%2F%2Fconsole.aws.amazon.com%2F%3Fregion%3Deu-west-1")
    );
    let sessions = federation.sessions.lock().unwrap();
    assert_eq!(sessions.len(), 1);
    assert_ne!(sessions[0]["sessionId"], BASE_KEY_ID, "never the long-term key");
}

#[test]
fn a_refusing_federation_endpoint_is_explained() {
    let sts = seed_sts();
    let mut env = TestEnv::seed(&sts);
    env.set("ROLEGATE_FEDERATION_URL", &format!("{}/not-federation", sts.url()));
    let out = env.rolegate(&["login", "target", "--print", "--mfa-token", "123456"]).output().unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("profile `target`: the federation endpoint "), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("refused the sign-in (HTTP"), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out)
            .contains("hint: the credentials may be too old or lack console access; try `rolegate clear target`"),
        "{}",
        stderr_of(&out)
    );
}

/// The `Destination` of a printed login URL, decoded.
fn destination_of(stdout: &[u8]) -> String {
    let url = String::from_utf8_lossy(stdout);
    let query = url.trim_end().split_once('?').map(|(_, q)| q.to_string()).unwrap_or_default();
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "Destination")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[test]
fn login_takes_a_path_a_region_and_a_console_duration() {
    let sts = seed_sts();
    let federation = FakeFederation::start();
    let mut env = TestEnv::seed(&sts);
    env.set("ROLEGATE_FEDERATION_URL", &federation.url);
    let args = [
        "login",
        "target",
        "--print",
        "--mfa-token",
        "123456",
        "--path",
        "/ec2/home#Instances:",
        "--region",
        "eu-central-1",
        "--duration",
        "8h",
    ];
    let out = env.rolegate(&args).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(destination_of(&out.stdout), "https://console.aws.amazon.com/ec2/home?region=eu-central-1#Instances:");
    assert_eq!(*federation.durations.lock().unwrap(), [Some("28800".to_string())], "the console session's lifetime");
    // The role itself keeps its hour (8 h could not be assumed from the MFA session); the
    // region moved the signature.
    let role = sts.calls().into_iter().find(|c| c.action == "AssumeRole").unwrap();
    assert_eq!((role.duration_seconds, role.signing_region.as_str()), (Some(3600), "eu-central-1"));

    // A console URL is kept as given (it names its region); `--destination` is the same flag.
    let url = "https://eu-west-1.console.aws.amazon.com/s3/buckets?region=eu-west-1";
    let out = env.run_without_terminal(&["login", "target", "--print", "--destination", url]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(destination_of(&out.stdout), url);
    assert_eq!(federation.durations.lock().unwrap()[1], None, "no --duration, no SessionDuration");
}

#[test]
fn login_refuses_a_bad_duration_or_destination_before_any_prompt() {
    let sts = seed_sts();
    let federation = FakeFederation::start();
    let mut env = TestEnv::seed(&sts);
    env.set("ROLEGATE_FEDERATION_URL", &federation.url);
    // No terminal and no code: checked before a code is looked for.
    let long = env.run_without_terminal(&["login", "target", "--print", "--duration", "13h"]);
    assert_eq!(long.status.code(), Some(2), "{}", stderr_of(&long));
    assert_eq!(
        stderr_of(&long),
        "rolegate: error: profile `target`: --duration 46800 s is out of range for a console session (900 to 43200 s)\nrolegate: hint: ask for 15m to 12h, for example `--duration 8h`\n"
    );
    let off = env.run_without_terminal(&[
        "login",
        "target",
        "--print",
        "--path",
        "https://phish.example/console.aws.amazon.com",
    ]);
    assert_eq!(off.status.code(), Some(2), "{}", stderr_of(&off));
    assert!(
        stderr_of(&off).starts_with("rolegate: error: profile `target`: --path `https://phish.example/console.aws.amazon.com` is not a console destination: its host `phish.example` is not console.aws.amazon.com or one of its subdomains\n"),
        "{}",
        stderr_of(&off)
    );
    assert!(sts.calls().is_empty() && federation.sessions.lock().unwrap().is_empty());
}

#[test]
fn login_opens_the_url_with_the_platform_opener() {
    use std::os::unix::fs::PermissionsExt;
    let sts = seed_sts();
    let federation = FakeFederation::start();
    let mut env = TestEnv::seed(&sts);
    env.set("ROLEGATE_FEDERATION_URL", &federation.url);
    // A stand-in xdg-open that writes down what it was asked to open.
    let bin = env.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let opened = env.path("opened");
    let opener = bin.join("xdg-open");
    std::fs::write(&opener, format!("#!/bin/sh\nprintf '%s' \"$1\" > '{}'\n", opened.display())).unwrap();
    std::fs::set_permissions(&opener, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = env.envs().into_iter().find(|(k, _)| k == "PATH").map(|(_, v)| v).unwrap();
    env.set("PATH", &format!("{}:{path}", bin.display()));
    let out = env.rolegate(&["login", "target", "--mfa-token", "123456", "--path", "/iam/home"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(out.stdout.is_empty(), "opened, not printed: {}", String::from_utf8_lossy(&out.stdout));
    let url = std::fs::read_to_string(&opened).unwrap();
    assert!(
        url.starts_with(&format!("{}/federation?Action=login&Issuer=rolegate&Destination=", federation.url)),
        "{url}"
    );
    assert_eq!(destination_of(url.as_bytes()), "https://console.aws.amazon.com/iam/home?region=us-west-2");

    // An opener that fails: the URL is printed instead, with a notice.
    std::fs::write(&opener, "#!/bin/sh\nexit 3\n").unwrap();
    let out = env.run_without_terminal(&["login", "target"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("cannot open the browser (xdg-open failed: exit status: 3)"),
        "{}",
        stderr_of(&out)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(&federation.url));
}

/// Every `rolegate-NAME(1)` the man pages refer to is a page: `rolegate man NAME` prints it, and
/// `rolegate man --dir DIR` writes it as `rolegate-NAME.1`.
#[test]
fn every_man_page_referred_to_exists() {
    let env = TestEnv::new();
    let refs = |page: &str| -> Vec<String> {
        let unescaped = page.replace("\\-", "-");
        let mut out: Vec<String> = unescaped
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '(' || c == ')'))
            .filter(|w| w.starts_with("rolegate-") && w.ends_with("(1)"))
            .map(|w| w.trim_end_matches("(1)").to_string())
            .collect();
        out.dedup();
        out
    };
    let main = env.rolegate(&["man"]).output().unwrap();
    let mut todo = refs(&String::from_utf8_lossy(&main.stdout));
    assert!(todo.contains(&"rolegate-exec".to_string()) && todo.contains(&"rolegate-shim".to_string()), "{todo:?}");
    assert!(!todo.contains(&"rolegate-help".to_string()), "no page for clap's help subcommand: {todo:?}");
    let mut seen = Vec::new();
    while let Some(name) = todo.pop() {
        if seen.contains(&name) {
            continue;
        }
        let out = env.rolegate(&["man", &name]).output().unwrap();
        assert!(out.status.success(), "{name}: {}", stderr_of(&out));
        let page = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(page.contains(&format!(".TH {name} 1")), "{name}: {page:.300}");
        todo.extend(refs(&page));
        seen.push(name);
    }
    assert!(seen.contains(&"rolegate-shim-install".to_string()), "the shim page refers to its own: {seen:?}");
    let exec = env.rolegate(&["man", "exec"]).output().unwrap();
    assert!(String::from_utf8_lossy(&exec.stdout).contains(".TH rolegate-exec 1"));

    let dir = env.path("man1");
    std::fs::create_dir(&dir).unwrap();
    let out = env.rolegate(&["man", "--dir", dir.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    for name in seen.iter().chain(std::iter::once(&"rolegate".to_string())) {
        assert!(dir.join(format!("{name}.1")).is_file(), "{name}.1 written");
    }

    let out = env.rolegate(&["man", "nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("error: no man page `nope`"), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("hint: the pages: rolegate-credential-process, rolegate-exec"),
        "{}",
        stderr_of(&out)
    );
}
