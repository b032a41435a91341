//! Enrol, use, re-use, remove; a locked keychain; bad codes. Each keychain scenario runs in
//! its own `dbus-run-session` with its own GNOME Keyring and `HOME`, so nothing touches the
//! developer's real keychain.

use mimamori_core::Secret;
use mimamori_sim::mosquitto::{Mosquitto, PASSWORD};
use mimamori_sim::testing::enrolment_code;
use mimamori_sim::{SimConfig, SimSite, demo};
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_mimamori");

struct Scenario {
    home: PathBuf,
}

struct Run {
    ok: bool,
    out: String,
}

impl Run {
    /// The text printed after `== name` and before the next section.
    fn section(&self, name: &str) -> &str {
        let start = self
            .out
            .find(&format!("== {name}\n"))
            .unwrap_or_else(|| panic!("no section {name}:\n{}", self.out));
        let rest = &self.out[start + name.len() + 4..];
        &rest[..rest.find("\n== ").map_or(rest.len(), |i| i + 1)]
    }
}

impl Scenario {
    fn new(name: &str) -> Scenario {
        let home = std::env::temp_dir().join(format!("mimamori-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(&home).unwrap();
        Scenario { home }
    }

    fn config_dir(&self) -> PathBuf {
        self.home.join("config")
    }

    /// Runs a shell script in a fresh D-Bus session with a GNOME Keyring, unlocked or not.
    /// `$M` is the `mimamori` binary. Standard error is merged into the output.
    fn run(&self, unlocked: bool, script: &str) -> Run {
        let keyring = if unlocked {
            r#"eval "$(printf test-keyring-pw | gnome-keyring-daemon --unlock --components=secrets)""#
        } else {
            "gnome-keyring-daemon --start --components=secrets >/dev/null 2>&1"
        };
        let full = format!("{keyring}\nexec 2>&1\n{script}");
        let output = Command::new("dbus-run-session")
            .args(["--", "bash", "-c", &full])
            .env("HOME", &self.home)
            .env("XDG_DATA_HOME", self.home.join("data"))
            .env("XDG_CONFIG_HOME", self.home.join("xdg-config"))
            .env("XDG_RUNTIME_DIR", &self.home)
            .env("MIMAMORI_CONFIG_DIR", self.config_dir())
            .env("RUST_LOG", "trace")
            .env("M", BIN)
            .env_remove("DISPLAY")
            .output()
            .expect("dbus-run-session (install with scripts/install-deps --test)");
        Run { ok: output.status.success(), out: String::from_utf8_lossy(&output.stdout).into_owned() }
    }

    /// Every file this scenario left on disk, as text, with its path.
    fn files(&self) -> Vec<(PathBuf, String)> {
        fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else if let Ok(bytes) = std::fs::read(&path) {
                    out.push((path, String::from_utf8_lossy(&bytes).into_owned()));
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.home, &mut out);
        out
    }
}

impl Drop for Scenario {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

// Multi-threaded: the simulated site must keep running while the test blocks on the CLI.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrol_use_and_remove_with_the_real_keychain_and_no_secret_anywhere_else() {
    let canary = "CANARY-9f2e41";
    let camera_canary = "CANARY-cam-77ab";
    // aiko views hq; ken, a second account on the same device, operates shop's siren.
    let table: mimamori_core::acl::RoleTable = serde_json::from_str(
        r#"{"sites": ["hq", "shop"], "users": {"aiko": {"hq": "viewer"}, "ken": {"shop": "operator"}}}"#,
    )
    .unwrap();
    let broker = Mosquitto::with_users(
        &[("site-hq", PASSWORD), ("site-shop", PASSWORD), ("aiko", canary), ("ken", canary)],
        &table.mosquitto_acl().unwrap(),
    );
    let sim = |site: &str| {
        let mut sim = SimConfig::new(broker.address());
        sim.password = Some(Secret::new(PASSWORD.to_owned()));
        sim.roles = table.roles_at(site);
        sim
    };
    let _hq = SimSite::start(demo::site("hq").unwrap(), sim("hq"));
    let _shop = SimSite::start(demo::site("shop").unwrap(), sim("shop"));

    let s = Scenario::new("cycle");
    let cameras = s.home.join("cameras.json");
    std::fs::write(
        &cameras,
        format!(r#"[{{"site":"hq","camera":"entrance","username":"view","password":"{camera_canary}","origins":["rtsp://10.0.0.5","http://10.0.0.5"]}}]"#),
    )
    .unwrap();
    let script = format!(
        r#"
created=$(MIMAMORI_ENROL_PASSWORD='{canary}' "$M" enroll create --broker mqtt://127.0.0.1:{port} \
  --user aiko --site hq:本社:operator --cameras '{cameras}' --label 'Example Co.' --json)
rm '{cameras}'
field() {{ printf %s "$created" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }}
code=$(field code); pin=$(field pin)
case "$code" in MMR1.*) ;; *) echo "no code: $created"; exit 1;; esac
echo "== wrong pin"; echo WRONG-PIN-1 | "$M" enroll import "$code"; echo "exit=$?"
echo "== import"; echo "$pin" | "$M" enroll import "mimamori://enroll?code=$code"; echo "exit=$?"
echo "== again"; echo "$pin" | "$M" enroll import "$code"; echo "exit=$?"
echo "== profiles"; "$M" profiles
echo "== keychain"; secret-tool search --all service app.mimamori.client 2>/dev/null | grep -c '^label = keyring:profile/'
echo "== sites"; "$M" sites --wait 10; echo "exit=$?"
id=$("$M" profiles | cut -d' ' -f1)
second=$(MIMAMORI_ENROL_PASSWORD='{canary}' "$M" enroll create --broker mqtt://127.0.0.1:{port} \
  --user ken --site shop:店舗:operator --label 'Shop Co.' --json)
code2=$(printf %s "$second" | python3 -c "import json,sys; print(json.load(sys.stdin)['code'])")
pin2=$(printf %s "$second" | python3 -c "import json,sys; print(json.load(sys.stdin)['pin'])")
echo "== second"; echo "$pin2" | "$M" enroll import "$code2"; echo "exit=$?"
echo "== which"; "$M" sites --wait 1; echo "exit=$?"
echo "== siren"; "$M" output shop siren on --timeout 10; echo "exit=$?"
id2=$("$M" profiles | grep ken | cut -d' ' -f1)
"$M" profiles remove "$id2" >/dev/null
echo "== remove"; "$M" profiles remove "$id"; echo "exit=$?"
echo "== keychain after"; secret-tool search --all service app.mimamori.client 2>/dev/null | grep -c '^label = keyring:profile/'
echo "== sites after"; "$M" sites --wait 1; echo "exit=$?"
echo "== end"
"#,
        port = broker.port,
        cameras = cameras.display(),
    );
    let run = s.run(true, &script);
    assert!(run.ok, "{}", run.out);
    assert!(run.section("wrong pin").contains("wrong PIN") && run.section("wrong pin").contains("exit=1"));
    let import = run.section("import");
    assert!(import.contains("Enrolled as aiko (Example Co.)") && import.contains("本社 (hq)"), "{import}");
    assert!(run.section("again").contains("already used"), "{}", run.out);
    assert!(run.section("profiles").contains("hq:operator"));
    assert_eq!(run.section("keychain").trim(), "1", "{}", run.out);
    let sites = run.section("sites");
    assert!(sites.contains("本社 (hq)  online") && sites.contains("exit=0"), "{}", run.out);
    // A second account beside the first: a command about its site goes through it.
    assert!(run.section("second").contains("Enrolled as ken (Shop Co.)"), "{}", run.out);
    assert!(run.section("which").contains("several profiles"), "{}", run.out);
    let siren = run.section("siren");
    assert!(siren.contains("done") && siren.contains("exit=0"), "{}", run.out);
    assert!(run.section("remove").contains("exit=0"));
    assert_eq!(run.section("keychain after").trim(), "0", "{}", run.out);
    assert!(run.section("sites after").contains("not enrolled"), "{}", run.out);

    // The canary passwords were handed to the CLI; with every log level on, they appear in
    // no output and no file, and neither does the broker address or a user:pass@ URL.
    assert!(!run.out.contains("CANARY"), "a secret reached the output:\n{}", run.out);
    for (path, text) in s.files() {
        for needle in ["CANARY", "127.0.0.1", "rtsp://", ":554"] {
            assert!(!text.contains(needle), "{needle} in {}:\n{text}", path.display());
        }
    }
}

#[test]
fn a_locked_keychain_refuses_enrolment_and_nothing_is_written() {
    let s = Scenario::new("locked");
    let (code, pin) = enrolment_code("mqtt://127.0.0.1:1883", "CANARY-locked-1");
    let run = s.run(false, &format!("echo '{pin}' | \"$M\" enroll import '{code}'; echo \"exit=$?\""));
    assert!(run.out.contains("keychain is locked") && run.out.contains("exit=1"), "{}", run.out);
    assert!(!run.out.contains("CANARY"));
    assert!(!s.config_dir().exists(), "settings were written although the keychain refused");
}

#[test]
fn bad_codes_are_refused_before_the_pin_with_distinct_errors() {
    let s = Scenario::new("bad");
    let (code, _) = enrolment_code("mqtt://127.0.0.1:1883", "pw");
    let binary = s.home.join("binary.code");
    std::fs::write(&binary, [0xff, 0xfe, 0x00, 0x80]).unwrap();
    let cases = [
        (code[..code.len() - 9].to_owned(), "incomplete"),
        ("hello".to_owned(), "not a Mimamori enrolment code"),
        (format!("@{}", binary.display()), "not a Mimamori enrolment code"),
        ("MMR3.AAAA".to_owned(), "newer version"),
        ("A".repeat(40_000), "longer than"),
    ];
    for (arg, expected) in cases {
        // No keychain and no PIN are needed to refuse these.
        let out = Command::new(BIN)
            .args(["enroll", "import", &arg])
            .env("MIMAMORI_CONFIG_DIR", s.config_dir())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(expected), "{expected}: {err}");
        assert_eq!(err.lines().count(), 1, "one clear line, no backtrace: {err}");
    }
}

/// The whole path over TLS: a code for an `mqtts` broker carrying its CA, enrolled into the
/// real keychain, used to read a site through the broker's TLS listener.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mqtts_enrolment_connects_through_the_enrolled_ca() {
    let canary = "CANARY-tls-31d0";
    let ca = mimamori_sim::testing::TestCa::new("Example Co. broker CA");
    let (cert, key) = ca.server("localhost", (2024, 2099));
    let acl = "user site-hq\ntopic readwrite mimamori/v1/sites/hq/#\n\nuser aiko\ntopic read mimamori/v1/sites/hq/#\n";
    let broker = Mosquitto::with_tls(&[("site-hq", PASSWORD), ("aiko", canary)], acl, &cert, &key);
    let mut sim = SimConfig::new(broker.address());
    sim.password = Some(Secret::new(PASSWORD.to_owned()));
    let _hq = SimSite::start(demo::site("hq").unwrap(), sim);

    let s = Scenario::new("tls");
    let ca_file = s.home.join("broker-ca.pem");
    std::fs::write(&ca_file, &ca.pem).unwrap();
    let script = format!(
        r#"
created=$(MIMAMORI_ENROL_PASSWORD='{canary}' "$M" enroll create --broker mqtts://localhost:{port} \
  --broker-ca '{ca}' --user aiko --site hq:本社:viewer --json)
field() {{ printf %s "$created" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }}
echo "== import"; field pin | "$M" enroll import "$(field code)"; echo "exit=$?"
echo "== sites"; "$M" sites --wait 10; echo "exit=$?"
echo "== end"
"#,
        port = broker.port,
        ca = ca_file.display(),
    );
    let run = s.run(true, &script);
    assert!(run.section("import").contains("exit=0"), "{}", run.out);
    let sites = run.section("sites");
    assert!(sites.contains("本社 (hq)  online") && sites.contains("exit=0"), "{}", run.out);
    assert!(!run.out.contains("CANARY"), "a secret reached the output:\n{}", run.out);
}

#[test]
fn a_code_prints_with_its_link_as_a_qr_code_and_the_pin_apart() {
    let out = Command::new(BIN)
        .args([
            "enroll",
            "create",
            "--broker",
            "mqtt://127.0.0.1:1883",
            "--user",
            "aiko",
            "--site",
            "hq:本社:viewer",
            "--qr",
        ])
        .env("MIMAMORI_ENROL_PASSWORD", "CANARY-qr-1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("mimamori://enroll?code=MMR1."));
    assert!(
        text.lines().filter(|l| l.contains('█') || l.contains('▀') || l.contains('▄')).count() > 20,
        "{text}"
    );
    let pin_line = text.lines().skip_while(|l| !l.starts_with("PIN")).nth(1).unwrap_or_default();
    assert_eq!(pin_line.len(), 11, "{text}");
    assert!(!text.contains("CANARY"));
}

/// Unlocking and disarming from a terminal need the app PIN, as in the app: without one
/// nothing is sent; it is chosen on first use; wrong PINs count across processes and lock
/// it out, and removing the count from the keychain is a lock-out too. The audit log those
/// commands went to is anchored in the same keychain: gone, it is reported until a new
/// chain is started on purpose.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_that_lowers_protection_needs_the_app_pin_which_holds_across_restarts() {
    let table: mimamori_core::acl::RoleTable =
        serde_json::from_str(r#"{"sites": ["hq"], "users": {"mari": {"hq": "admin"}}}"#).unwrap();
    let broker =
        Mosquitto::with_users(&[("site-hq", PASSWORD), ("mari", PASSWORD)], &table.mosquitto_acl().unwrap());
    let mut sim = SimConfig::new(broker.address());
    sim.password = Some(Secret::new(PASSWORD.to_owned()));
    sim.roles = table.roles_at("hq");
    let _hq = SimSite::start(demo::site("hq").unwrap(), sim);
    let s = Scenario::new("pin");
    let script = format!(
        r#"
export MIMAMORI_BROKER=mqtt://127.0.0.1:{port} MIMAMORI_USER=mari MIMAMORI_PASSWORD='{password}' \
  MIMAMORI_SITES=hq MIMAMORI_CLIENT_ID=cli-mari RUST_LOG=warn
echo "== no terminal"; "$M" output hq door unlock </dev/null; echo "exit=$?"
echo "== door"; "$M" sites --wait 10 | grep door
echo "== arm"; "$M" arm hq; echo "exit=$?"
echo "== choose"; "$M" output hq door pulse:1 --pin-fd 3 3<<<'482913'; echo "exit=$?"
echo "== wrong"; for i in 1 2 3 4 5; do "$M" disarm hq --pin-fd 3 3<<<'000000'; echo "exit=$?"; done
echo "== right, locked out"; "$M" disarm hq --pin-fd 3 3<<<'482913'; echo "exit=$?"
count() {{ secret-tool search --all service app.mimamori.client 2>/dev/null | grep -c '^label = .*device-pin-failures'; }}
echo "== count kept"; count
secret-tool clear service app.mimamori.client username device-pin-failures
echo "== count gone"; count
echo "== count removed"; "$M" disarm hq --pin-fd 3 3<<<'482913'; echo "exit=$?"
echo "== status"; "$M" sites --wait 10 | grep 'armed:'
echo "== log kept"; "$M" audit --verify; echo "exit=$?"
mv "$MIMAMORI_CONFIG_DIR/audit.log" "$HOME/elsewhere.log"
echo "== log gone"; "$M" output hq light on; echo "exit=$?"; "$M" audit --verify; echo "verify=$?"
echo "== start new"; "$M" audit --start-new; echo "exit=$?"
echo "== new chain"; "$M" output hq light on; echo "exit=$?"; "$M" audit
echo "== end"
"#,
        port = broker.port,
        password = PASSWORD,
    );
    let run = s.run(true, &script);
    let no_terminal = run.section("no terminal");
    assert!(no_terminal.contains("needs the app PIN") && no_terminal.contains("exit=1"), "{}", run.out);
    assert!(run.section("door").contains("locked"), "nothing was sent: {}", run.out);
    assert!(run.section("arm").contains("exit=0"), "arming needs no PIN: {}", run.out);
    let chosen = run.section("choose");
    assert!(chosen.contains("done") && chosen.contains("exit=0"), "{}", run.out);
    let wrong = run.section("wrong");
    assert!(
        wrong.contains("wrong app PIN (4 tries left)") && wrong.contains("wrong app PIN (1 tries left)"),
        "{}",
        run.out
    );
    assert!(wrong.contains("too many wrong PINs: try again in 300 s"), "{}", run.out);
    let locked = run.section("right, locked out");
    assert!(locked.contains("too many wrong PINs") && locked.contains("exit=1"), "{}", run.out);
    assert_eq!(
        (run.section("count kept").trim(), run.section("count gone").trim()),
        ("1", "0"),
        "{}",
        run.out
    );
    let removed = run.section("count removed");
    assert!(removed.contains("too many wrong PINs") && removed.contains("exit=1"), "{}", run.out);
    assert!(run.section("status").contains("armed: armed"), "a disarm went through: {}", run.out);
    // The audit chain is anchored in the keychain: a log that goes missing is reported, not
    // started anew, until a new chain is started on purpose.
    assert!(run.section("log kept").contains("chain intact"), "{}", run.out);
    let gone = run.section("log gone");
    assert!(gone.contains("lost") && gone.contains("records") && gone.contains("exit=1"), "{}", run.out);
    assert!(gone.contains("verify=1") && !gone.contains("no audit log yet"), "{}", run.out);
    assert!(run.section("start new").contains("exit=0"), "{}", run.out);
    let new_chain = run.section("new chain");
    assert!(
        new_chain.contains("exit=0") && new_chain.contains(" chain ") && new_chain.contains("restart"),
        "{}",
        run.out
    );
}
