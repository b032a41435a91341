//! A network of its own for one test: a network namespace joined to this host by a veth
//! pair, so that a broker (or anything else) run inside it is reached over a link the test
//! can damage — packet loss (nftables `numgen random`), a blackhole (`DROP`), refused
//! connections (`REJECT` with a TCP reset), a rate limit (`tbf`) — without touching any
//! other traffic of the machine. This kernel has no `netem`; these are the tools it has.
//!
//! Needs root (as CI runs) and `iproute2`, `nftables`, `iptables`
//! (`scripts/install-deps --test`). [`TestNet::create`] says why when it cannot, so a test
//! can tell the difference between "not permitted here" and a failure. Dropping it removes
//! the namespace and the link.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

pub struct TestNet {
    /// The namespace's name (`ip netns exec NAME …`).
    pub name: String,
    /// This host's end of the link.
    pub host_ip: String,
    /// The namespace's end: what clients on this host connect to.
    pub ns_ip: String,
    host_if: String,
    ns_if: String,
}

fn run(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", args[0]))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// A fault on the link, in both directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Each packet is lost with this probability (percent).
    Loss(u8),
    /// Every packet is dropped silently: connections hang until their timeouts.
    Blackhole,
    /// Like [`Fault::Blackhole`], except for the TCP connection from this port of the host
    /// (one that keeps its link: a site, while a phone's link goes dark).
    BlackholeExcept(u16),
    /// Every new TCP connection is refused at once with a reset; open ones are reset too.
    Reject,
    /// At most this many kilobits per second leave the namespace.
    Rate(u32),
}

impl TestNet {
    /// Makes the namespace and the link; Err says why not (e.g. not root).
    pub fn create() -> Result<TestNet, String> {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let tag = format!("{}{n}", pid % 100_000);
        // A /30 of 10.203.0.0/16 per namespace: unique within this process, and across
        // processes as far as the pid spreads them.
        let block = ((pid % 256) * 16 + n) % 16384;
        let (a, b) = (block / 64, (block % 64) * 4);
        let net = TestNet {
            name: format!("mimamori-{tag}"),
            host_ip: format!("10.203.{a}.{}", b + 1),
            ns_ip: format!("10.203.{a}.{}", b + 2),
            host_if: format!("mmh{tag}"),
            ns_if: format!("mmn{tag}"),
        };
        run(&["ip", "netns", "add", &net.name])?;
        let steps: Vec<Vec<&str>> = vec![
            vec!["ip", "link", "add", &net.host_if, "type", "veth", "peer", "name", &net.ns_if],
            vec!["ip", "link", "set", &net.ns_if, "netns", &net.name],
        ];
        for step in steps {
            run(&step)?;
        }
        let host_cidr = format!("{}/30", net.host_ip);
        let ns_cidr = format!("{}/30", net.ns_ip);
        run(&["ip", "addr", "add", &host_cidr, "dev", &net.host_if])?;
        run(&["ip", "link", "set", &net.host_if, "up"])?;
        net.exec(&["ip", "addr", "add", &ns_cidr, "dev", &net.ns_if])?;
        net.exec(&["ip", "link", "set", &net.ns_if, "up"])?;
        net.exec(&["ip", "link", "set", "lo", "up"])?;
        Ok(net)
    }

    /// Runs a command inside the namespace, to completion.
    pub fn exec(&self, args: &[&str]) -> Result<(), String> {
        let mut all = vec!["ip", "netns", "exec", &self.name];
        all.extend_from_slice(args);
        run(&all)
    }

    /// A command that will run inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name, program]);
        cmd
    }

    /// The host-side ports of the TCP connections established from this host to `port`
    /// of the namespace.
    pub fn connections_to(&self, port: u16) -> Vec<u16> {
        let out = Command::new("ss")
            .args(["-tnH", "state", "established", "dst", &format!("{}:{port}", self.ns_ip)])
            .output()
            .expect("ss (iproute2)");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().nth(2)?.rsplit_once(':')?.1.parse().ok())
            .collect()
    }

    /// Puts a fault on the link (replacing any other).
    pub fn fault(&self, fault: Fault) {
        self.heal();
        let result = match fault {
            Fault::Loss(percent) => {
                let rules = format!(
                    "table inet mimamori_faults {{\n\
                     chain input {{ type filter hook input priority 0; iifname \"{ns}\" numgen random mod 100 < {percent} drop; }}\n\
                     chain output {{ type filter hook output priority 0; oifname \"{ns}\" numgen random mod 100 < {percent} drop; }}\n}}\n",
                    ns = self.ns_if
                );
                self.nft(&rules)
            }
            Fault::Blackhole => self.drop_all(None),
            Fault::BlackholeExcept(port) => self.drop_all(Some(port)),
            Fault::Reject => self.exec(&[
                "iptables",
                "-A",
                "INPUT",
                "-i",
                &self.ns_if,
                "-p",
                "tcp",
                "-j",
                "REJECT",
                "--reject-with",
                "tcp-reset",
            ]),
            Fault::Rate(kbit) => self.exec(&[
                "tc",
                "qdisc",
                "add",
                "dev",
                &self.ns_if,
                "root",
                "tbf",
                "rate",
                &format!("{kbit}kbit"),
                "burst",
                "16kbit",
                "latency",
                "2s",
            ]),
        };
        result.unwrap_or_else(|e| panic!("cannot put {fault:?} on the test link: {e}"));
    }

    /// Takes every fault off the link.
    pub fn heal(&self) {
        let _ = self.exec(&["nft", "delete", "table", "inet", "mimamori_faults"]);
        let _ = self.exec(&["iptables", "-F", "INPUT"]);
        let _ = self.exec(&["iptables", "-F", "OUTPUT"]);
        let _ = self.exec(&["tc", "qdisc", "del", "dev", &self.ns_if, "root"]);
    }

    /// Drops every packet on the link both ways, except those of the TCP connection from
    /// host port `except`.
    fn drop_all(&self, except: Option<u16>) -> Result<(), String> {
        let port = except.map(|p| p.to_string());
        for (chain, dir, port_flag) in [("INPUT", "-i", "--sport"), ("OUTPUT", "-o", "--dport")] {
            let mut args = vec!["iptables", "-A", chain, dir, &self.ns_if];
            if let Some(port) = &port {
                args.extend(["-p", "tcp", "!", port_flag, port]);
            }
            args.extend(["-j", "DROP"]);
            self.exec(&args)?;
        }
        Ok(())
    }

    fn nft(&self, rules: &str) -> Result<(), String> {
        use std::io::Write;
        let mut child = self
            .command("nft")
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        child.stdin.take().expect("stdin").write_all(rules.as_bytes()).map_err(|e| e.to_string())?;
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).into_owned()) }
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        let _ = run(&["ip", "link", "del", &self.host_if]);
        let _ = run(&["ip", "netns", "del", &self.name]);
    }
}
