//! Which network addresses the server may connect to when a peer, a handle or a request
//! header names a host, and the DNS resolver that enforces it.
//!
//! Every outbound federation connection goes to an address this module checked: the
//! resolver plugged into reqwest returns only permitted addresses, so a name cannot resolve
//! to a public address when checked and to an internal one when connected (DNS rebinding).
//! IP-literal hosts never reach a resolver, so [`Client`](super::Client) refuses them before
//! building a URL.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

/// What may be connected to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressPolicy {
    /// Only globally routable unicast addresses (production).
    PublicOnly,
    /// Also loopback (`--federation-allow-http`: peers on one machine in tests). Private,
    /// link-local and the other internal ranges stay refused.
    AllowLoopback,
}

/// Why an address is refused, for the error message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 127.0.0.0/8, `::1`.
    Loopback,
    /// 10/8, 172.16/12, 192.168/16, `fc00::/7`.
    Private,
    /// 169.254/16, `fe80::/10` (and the old site-local `fec0::/10`).
    LinkLocal,
    /// 100.64/10 (carrier-grade NAT).
    SharedAddressSpace,
    /// 224/4, `ff00::/8`.
    Multicast,
    /// 255.255.255.255.
    Broadcast,
    /// 0/8, `::`.
    Unspecified,
    /// The ranges set aside for examples (e.g. 192.0.2/24, `2001:db8::/32`).
    Documentation,
    /// Other special-purpose ranges, and IPv6 outside 2000::/3.
    Reserved,
    /// An IPv6 address that carries an IPv4 one (mapped, compatible, NAT64, 6to4, Teredo).
    EmbeddedIpv4,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refusal::Loopback => "loopback",
            Refusal::Private => "private",
            Refusal::LinkLocal => "link-local",
            Refusal::SharedAddressSpace => "shared address space (CGNAT)",
            Refusal::Multicast => "multicast",
            Refusal::Broadcast => "broadcast",
            Refusal::Unspecified => "unspecified",
            Refusal::Documentation => "documentation",
            Refusal::Reserved => "reserved",
            Refusal::EmbeddedIpv4 => "IPv4-mapped, -compatible or -translated",
        })
    }
}

impl AddressPolicy {
    /// `Err` with the reason when `ip` may not be connected to.
    pub fn check(self, ip: IpAddr) -> Result<(), Refusal> {
        match classify(ip) {
            None => Ok(()),
            Some(Refusal::Loopback) if self == AddressPolicy::AllowLoopback => Ok(()),
            Some(refusal) => Err(refusal),
        }
    }
}

/// The internal range `ip` falls in, if any.
fn classify(ip: IpAddr) -> Option<Refusal> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Refusal> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_broadcast() => Refusal::Broadcast,
        (0, _, _) => Refusal::Unspecified,
        (127, _, _) => Refusal::Loopback,
        (10, _, _) | (192, 168, _) => Refusal::Private,
        (172, 16..=31, _) => Refusal::Private,
        (169, 254, _) => Refusal::LinkLocal,
        (100, 64..=127, _) => Refusal::SharedAddressSpace,
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => Refusal::Documentation,
        // IETF protocol assignments, the 6to4 relay anycast, benchmarking.
        (192, 0, 0) | (192, 88, 99) | (198, 18..=19, _) => Refusal::Reserved,
        (224..=239, _, _) => Refusal::Multicast,
        (240..=255, _, _) => Refusal::Reserved,
        _ => return None,
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<Refusal> {
    let s = ip.segments();
    Some(match s {
        [0, 0, 0, 0, 0, 0, 0, 0] => Refusal::Unspecified,
        [0, 0, 0, 0, 0, 0, 0, 1] => Refusal::Loopback,
        // ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible), 64:ff9b::/96 and 64:ff9b:1::/48
        // (NAT64), 2002::/16 (6to4), 2001::/32 (Teredo): each reaches an IPv4 address we
        // would have to judge instead.
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0, 0, 0, 0, 0, 0, _, _] => Refusal::EmbeddedIpv4,
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] | [0x64, 0xff9b, 1, ..] => Refusal::EmbeddedIpv4,
        [0x2002, ..] | [0x2001, 0, ..] => Refusal::EmbeddedIpv4,
        [0x2001, 0xdb8, ..] | [0x3fff, 0..=0x0fff, ..] => Refusal::Documentation,
        [0x100, 0, 0, 0, ..] => Refusal::Reserved,
        [x, ..] if x & 0xfe00 == 0xfc00 => Refusal::Private,
        [x, ..] if x & 0xffc0 == 0xfe80 || x & 0xffc0 == 0xfec0 => Refusal::LinkLocal,
        [x, ..] if x & 0xff00 == 0xff00 => Refusal::Multicast,
        // Only 2000::/3 is allocated global unicast.
        [x, ..] if x & 0xe000 != 0x2000 => Refusal::Reserved,
        _ => return None,
    })
}

/// A boxed future of the addresses a name resolves to.
pub type LookupFuture = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>>;

/// Resolves a host name to addresses: the system resolver, or a fixed table in tests.
pub trait HostLookup: Send + Sync + 'static {
    /// The addresses `host` resolves to.
    fn lookup(&self, host: &str) -> LookupFuture;
}

/// The system resolver (getaddrinfo through tokio).
pub struct SystemLookup;

impl HostLookup for SystemLookup {
    fn lookup(&self, host: &str) -> LookupFuture {
        let host = host.to_owned();
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .map(|addr| addr.ip())
                .collect())
        })
    }
}

/// The resolver reqwest connects through: the lookup's answers, minus every refused
/// address; no permitted address is a connection error.
pub struct GuardedResolver {
    /// What may be connected to.
    pub policy: AddressPolicy,
    /// Where names are resolved.
    pub lookup: Arc<dyn HostLookup>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let (policy, lookup) = (self.policy, self.lookup.clone());
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found = lookup.lookup(&host).await?;
            let mut refused = None;
            let permitted: Vec<SocketAddr> = found
                .into_iter()
                .filter(|ip| match policy.check(*ip) {
                    Ok(()) => true,
                    Err(why) => {
                        refused = Some((*ip, why));
                        false
                    }
                })
                .map(|ip| SocketAddr::new(ip, 0))
                .collect();
            if permitted.is_empty() {
                let reason = match refused {
                    Some((ip, why)) => format!("{host} resolves to a {why} address ({ip})"),
                    None => format!("{host} has no address"),
                };
                return Err(
                    Box::new(io::Error::new(io::ErrorKind::PermissionDenied, reason))
                        as Box<dyn std::error::Error + Send + Sync>,
                );
            }
            Ok(Box::new(permitted.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> bool {
        AddressPolicy::PublicOnly
            .check(text.parse().expect("ip"))
            .is_err()
    }

    #[test]
    fn internal_addresses_are_refused() {
        for ip in [
            "127.0.0.1",
            "127.255.0.9",
            "0.0.0.0",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "192.0.0.8",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:8.8.8.8",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "2001:0:4136:e378::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "100::1",
            "4000::1",
        ] {
            assert!(refused(ip), "{ip} must be refused");
        }
    }

    #[test]
    fn public_addresses_are_permitted() {
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "172.15.0.1",
            "172.32.0.1",
            "100.63.0.1",
            "100.128.0.1",
            "192.169.0.1",
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
        ] {
            assert!(!refused(ip), "{ip} must be permitted");
        }
    }

    #[test]
    fn allow_loopback_permits_only_loopback() {
        let policy = AddressPolicy::AllowLoopback;
        assert!(policy.check("127.0.0.1".parse().expect("ip")).is_ok());
        assert!(policy.check("::1".parse().expect("ip")).is_ok());
        for ip in ["10.0.0.1", "169.254.169.254", "::ffff:127.0.0.1", "fd00::1"] {
            assert!(policy.check(ip.parse().expect("ip")).is_err(), "{ip}");
        }
    }
}
