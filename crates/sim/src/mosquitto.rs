//! A private Mosquitto for one test: its own port, password file, ACL and directory.
//! Dropping it kills the broker. Tests that claim a real broker use this, never the
//! embedded demo broker (no ACLs, no persistence). Needs `mosquitto` and
//! `mosquitto_passwd` on `PATH` (`scripts/install-deps --test`); panics when it cannot start
//! the broker, as a test harness should.

use mimamori_core::acl::RoleTable;
use mimamori_core::bus::BrokerAddress;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Password of every user of [`Mosquitto::start`].
pub const PASSWORD: &str = "test-pass-1";

/// Who may do what at the sites of [`Mosquitto::start`]: `viewer-hq` views hq, `manager`
/// operates hq and shop. The broker's ACL and each simulated site's own table both come
/// from it, as an administrator's would (`RoleTable`).
const ROLES: &str = r#"{"sites": ["hq", "shop"],
    "users": {"viewer-hq": {"hq": "viewer"}, "manager": {"hq": "operator", "shop": "operator"}}}"#;
const USERS: [&str; 4] = ["viewer-hq", "manager", "site-hq", "site-shop"];

/// The roles table of [`Mosquitto::start`].
pub fn standard_roles() -> RoleTable {
    serde_json::from_str(ROLES).expect("the standard roles table")
}

fn standard_acl() -> String {
    standard_roles().mosquitto_acl().expect("the standard roles table is valid")
}

/// A simulated site of [`Mosquitto::start`]'s broker at `address`: its password, and its
/// column of the standard roles table.
pub fn site_config(address: BrokerAddress, site: &str) -> crate::SimConfig {
    let mut config = crate::SimConfig::new(address);
    config.password = Some(mimamori_core::Secret::new(PASSWORD.to_owned()));
    config.roles = standard_roles().roles_at(site);
    config
}

pub struct Mosquitto {
    /// The listener clients use (TLS when the broker was made with TLS).
    pub port: u16,
    /// A plain loopback listener, for simulated sites; the same as `port` without TLS.
    pub plain_port: u16,
    /// Where it listens: loopback, or the inside of a test network (`netns.rs`).
    host: String,
    /// The namespace it runs in, if any.
    namespace: Option<String>,
    dir: PathBuf,
    child: Option<Child>,
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Mosquitto {
    /// The standard test broker: users `viewer-hq` and `manager` as [`standard_roles`] has
    /// them, `site-hq` and `site-shop`, all with [`PASSWORD`].
    pub fn start() -> Mosquitto {
        let users: Vec<(&str, &str)> = USERS.iter().map(|u| (*u, PASSWORD)).collect();
        Mosquitto::with_users(&users, &standard_acl())
    }

    /// The standard test broker with persistence on, saving every second, as a deployed
    /// broker would run: a clean restart keeps sessions and queued messages, and a
    /// `kill -9` ([`Mosquitto::kill`]) loses what arrived since the last save.
    pub fn persistent() -> Mosquitto {
        let users: Vec<(&str, &str)> = USERS.iter().map(|u| (*u, PASSWORD)).collect();
        Mosquitto::build(&users, "", &standard_acl(), None, true)
    }

    /// The standard test broker, persistent, inside a test network: clients on this host
    /// reach it over the link that network can damage.
    pub fn in_network(net: &crate::netns::TestNet) -> Mosquitto {
        let users: Vec<(&str, &str)> = USERS.iter().map(|u| (*u, PASSWORD)).collect();
        let mut m = Mosquitto::configure(&users, "", &standard_acl(), None, true, &net.ns_ip);
        m.namespace = Some(net.name.clone());
        m.restart();
        m
    }

    /// A broker with a ready-made password file and ACL, persistent, inside a test
    /// network: an administrator's broker behind a link the test can damage.
    pub fn in_network_with_files(net: &crate::netns::TestNet, passwd: &str, acl: &str) -> Mosquitto {
        let mut m = Mosquitto::configure(&[], passwd, acl, None, true, &net.ns_ip);
        m.namespace = Some(net.name.clone());
        m.restart();
        m
    }

    /// A broker with these (user, password) pairs and this ACL.
    pub fn with_users(users: &[(&str, &str)], acl: &str) -> Mosquitto {
        Mosquitto::build(users, "", acl, None, false)
    }

    /// Like [`Mosquitto::with_users`], but the listener speaks only TLS with this server
    /// certificate and key (PEM).
    pub fn with_tls(users: &[(&str, &str)], acl: &str, cert_pem: &str, key_pem: &str) -> Mosquitto {
        Mosquitto::build(users, "", acl, Some((cert_pem, key_pem)), false)
    }

    /// A broker with a ready-made password file and ACL, as an administrator would deploy.
    pub fn with_files(passwd: &str, acl: &str) -> Mosquitto {
        Mosquitto::build(&[], passwd, acl, None, false)
    }

    fn build(
        users: &[(&str, &str)],
        passwd_text: &str,
        acl: &str,
        tls: Option<(&str, &str)>,
        persistent: bool,
    ) -> Mosquitto {
        let mut m = Mosquitto::configure(users, passwd_text, acl, tls, persistent, "127.0.0.1");
        m.restart();
        m
    }

    /// Writes the broker's directory and configuration; it is not started yet.
    fn configure(
        users: &[(&str, &str)],
        passwd_text: &str,
        acl: &str,
        tls: Option<(&str, &str)>,
        persistent: bool,
        host: &str,
    ) -> Mosquitto {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("mimamori-mosquitto-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let passwd = dir.join("passwd");
        std::fs::write(&passwd, passwd_text).unwrap();
        for (user, password) in users {
            let status = Command::new("mosquitto_passwd")
                .args(["-b", passwd.to_str().unwrap(), user, password])
                .status()
                .expect("mosquitto_passwd (install with scripts/install-deps --test)");
            assert!(status.success());
        }
        std::fs::write(dir.join("acl"), acl).unwrap();
        let plain_port = if tls.is_some() { free_port() } else { port };
        let tls_lines = match tls {
            None => String::new(),
            Some((cert, key)) => {
                std::fs::write(dir.join("server.crt"), cert).unwrap();
                std::fs::write(dir.join("server.key"), key).unwrap();
                // certfile and keyfile belong to the listener above them; the plain one
                // below is for simulated sites.
                format!(
                    "certfile {}\nkeyfile {}\nlistener {plain_port} {host}\n",
                    dir.join("server.crt").display(),
                    dir.join("server.key").display()
                )
            }
        };
        let persistence = if persistent {
            // Mosquitto started as root (as CI runs) drops to its own user before it saves.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
            format!("persistence true\npersistence_location {}/\nautosave_interval 1\n", dir.display())
        } else {
            "persistence false\n".to_owned()
        };
        let conf = format!(
            "listener {port} {host}\n{tls_lines}allow_anonymous false\npassword_file {p}\nacl_file {a}\n\
             {persistence}log_dest stderr\nlog_type all\n",
            p = passwd.display(),
            a = dir.join("acl").display(),
        );
        std::fs::write(dir.join("mosquitto.conf"), conf).unwrap();
        Mosquitto { port, plain_port, host: host.to_owned(), namespace: None, dir, child: None }
    }

    /// The plain listener, for simulated sites and plain-MQTT tests.
    pub fn address(&self) -> BrokerAddress {
        BrokerAddress::plain(&self.host, self.plain_port)
    }

    /// Kills the broker (SIGKILL: nothing saved, no goodbye to clients).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Replaces the password file and ACL (takes effect at the next restart).
    pub fn replace_files(&self, passwd: &str, acl: &str) {
        std::fs::write(self.dir.join("passwd"), passwd).unwrap();
        std::fs::write(self.dir.join("acl"), acl).unwrap();
    }

    /// Starts it again on the same port and waits until it accepts connections.
    pub fn restart(&mut self) {
        self.kill();
        let mut command = match &self.namespace {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "mosquitto"]);
                c
            }
            None => Command::new("mosquitto"),
        };
        let child = command
            .arg("-c")
            .arg(self.dir.join("mosquitto.conf"))
            .stdout(Stdio::null())
            // Our file, handed over open: Mosquitto drops root and could not open it itself.
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.dir.join("mosquitto.log"))
                    .expect("broker log file"),
            )
            .spawn()
            .expect("mosquitto (install with scripts/install-deps --test)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect((self.host.as_str(), self.port)).is_err() {
            assert!(Instant::now() < deadline, "mosquitto did not start on port {}", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("mosquitto.log")).unwrap_or_default()
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
