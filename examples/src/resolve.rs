//! Host names to addresses. The CLI resolves the server's name itself and gives the library
//! an address, so that a name that does not resolve has its own error and exit code, and so
//! that tests can inject a resolver instead of asking DNS.
//!
//! `SMB_RESOLVE="name=addr[,name=addr...]"` replaces the system resolver: only the names
//! listed resolve (to the address given), every other name fails. IP addresses in URLs never
//! go through a resolver.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// Turns a host name into addresses.
pub trait Resolver: Sync {
    /// The addresses of `host` (never an IP literal: those are handled before), port `port`.
    fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>>;
}

/// The system's resolver (`getaddrinfo`: /etc/hosts, DNS...).
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        Ok((host, port).to_socket_addrs()?.collect())
    }
}

/// A fixed table of names (`SMB_RESOLVE`); every other name fails to resolve.
#[derive(Debug, Default)]
pub struct StaticResolver(HashMap<String, IpAddr>);

impl StaticResolver {
    /// Parse `name=addr[,name=addr...]`.
    pub fn parse(spec: &str) -> Result<StaticResolver, String> {
        let mut map = HashMap::new();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, addr) = item
                .split_once('=')
                .ok_or_else(|| format!("SMB_RESOLVE: expected name=address, got {item:?}"))?;
            let ip: IpAddr = addr
                .trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .map_err(|_| format!("SMB_RESOLVE: {addr:?} is not an IP address"))?;
            map.insert(name.trim().to_ascii_lowercase(), ip);
        }
        Ok(StaticResolver(map))
    }
}

impl Resolver for StaticResolver {
    fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        match self.0.get(&host.to_ascii_lowercase()) {
            Some(ip) => Ok(vec![SocketAddr::new(*ip, port)]),
            None => Err(io::Error::new(
                io::ErrorKind::NotFound,
                "name not in SMB_RESOLVE",
            )),
        }
    }
}

/// The addresses to try for `host:port`: the address itself for an IP literal, else what
/// `resolver` says. The error is the resolver's.
pub fn addresses(resolver: &dyn Resolver, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let addrs = resolver.resolve(host, port)?;
    if addrs.is_empty() {
        return Err(io::Error::new(io::ErrorKind::NotFound, "no address"));
    }
    Ok(addrs)
}

/// `ip:port` / `[v6]:port`, as the adapters take it.
pub fn socket_string(a: &SocketAddr) -> String {
    a.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_table() {
        let r = StaticResolver::parse("FileServer=127.0.0.7, v6=[::1]").unwrap();
        assert_eq!(
            addresses(&r, "fileserver", 445).unwrap(),
            ["127.0.0.7:445".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(
            socket_string(&addresses(&r, "V6", 4455).unwrap()[0]),
            "[::1]:4455"
        );
        let e = addresses(&r, "elsewhere", 445).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        // Literals never reach the resolver.
        assert_eq!(
            addresses(&r, "127.0.0.9", 1).unwrap(),
            ["127.0.0.9:1".parse::<SocketAddr>().unwrap()]
        );
        assert!(StaticResolver::parse("x").is_err());
        assert!(StaticResolver::parse("x=not-an-ip").is_err());
    }
}
