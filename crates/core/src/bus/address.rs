//! The broker's address as enrolment codes, development profiles and the CLI give it:
//! `mqtts://host:port`, or plain `mqtt://` for the loopback demo and tests.

/// A broker address: `mqtts://host:port` (TLS, default port 8883), or plain
/// `mqtt://host:port` (default 1883) for the loopback demo and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddress {
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

impl BrokerAddress {
    /// A plain loopback address, as the demo and the tests use.
    pub fn plain(host: &str, port: u16) -> BrokerAddress {
        BrokerAddress { host: host.to_owned(), port, tls: false }
    }

    /// On this machine: the only place a plain (unencrypted) connection is allowed.
    pub fn is_loopback(&self) -> bool {
        self.host == "localhost" || self.host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("broker address must look like mqtt://host:port")]
    Syntax,
    #[error("unsupported broker scheme `{0}`: use mqtts:// (or mqtt:// on loopback)")]
    Scheme(String),
}

impl std::str::FromStr for BrokerAddress {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, AddressError> {
        let (scheme, rest) = s.split_once("://").ok_or(AddressError::Syntax)?;
        let (tls, default_port) = match scheme {
            "mqtts" => (true, 8883),
            "mqtt" => (false, 1883),
            _ => return Err(AddressError::Scheme(scheme.chars().take(16).collect())),
        };
        if rest.contains('@') {
            // Credentials never travel in an address.
            return Err(AddressError::Syntax);
        }
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(':') => (h, p.parse().map_err(|_| AddressError::Syntax)?),
            _ => (rest, default_port),
        };
        if host.is_empty() || host.contains('/') {
            return Err(AddressError::Syntax);
        }
        Ok(BrokerAddress { host: host.trim_start_matches('[').trim_end_matches(']').to_owned(), port, tls })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_addresses() {
        let a: BrokerAddress = "mqtt://127.0.0.1:1884".parse().unwrap();
        assert_eq!((a.host.as_str(), a.port), ("127.0.0.1", 1884));
        let a: BrokerAddress = "mqtt://[::1]:1".parse().unwrap();
        assert_eq!(a.host, "::1");
        assert_eq!("mqtt://h".parse::<BrokerAddress>().unwrap().port, 1883);
        let a: BrokerAddress = "mqtts://broker.example.com".parse().unwrap();
        assert_eq!((a.port, a.tls), (8883, true));
        assert!(matches!("ws://h".parse::<BrokerAddress>(), Err(AddressError::Scheme(_))));
        for bad in ["h:1", "mqtt://", "mqtt://u:p@h:1", "mqtt://h:99999", "mqtt://h/x:1"] {
            assert!(bad.parse::<BrokerAddress>().is_err(), "{bad}");
        }
    }
}
