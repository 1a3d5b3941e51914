//! Published ports (`-p [IP:]HOST:CONTAINER[/udp]`): a userland proxy, as Docker's
//! `docker-proxy`, run by the container's monitor. Host sockets are bound *before* the
//! container starts, so a taken port fails the start with a clear error; then each
//! accepted TCP connection is spliced to the container address with two copying threads,
//! and each UDP client gets its own upstream socket. Binding on the host also makes the
//! port reachable over `127.0.0.1`, which NAT rules alone do not do.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// Transport protocol of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// One published port; `host_port` 0 asks for an ephemeral port.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PortMapping {
    pub host_ip: IpAddr,
    pub host_port: u16,
    pub container_port: u16,
    pub proto: Proto,
}

#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("invalid port mapping {spec:?}: {reason}")]
    Invalid { spec: String, reason: String },
    #[error("cannot publish {host}/{proto}: port is already allocated or unavailable")]
    Bind {
        host: SocketAddr,
        proto: &'static str,
        #[source]
        source: io::Error,
    },
}

/// Parse Docker's `-p` syntax: `[IP:][HOST:]CONTAINER[/PROTO]` with optional port ranges
/// of equal length (`8000-8001:80-81`).
pub fn parse(spec: &str) -> Result<Vec<PortMapping>, PortError> {
    let bad = |reason: &str| PortError::Invalid {
        spec: spec.to_string(),
        reason: reason.to_string(),
    };
    let (addr_part, proto) = match spec.rsplit_once('/') {
        Some((a, "tcp")) => (a, Proto::Tcp),
        Some((a, "udp")) => (a, Proto::Udp),
        Some(_) => return Err(bad("protocol must be tcp or udp")),
        None => (spec, Proto::Tcp),
    };
    // An IPv6 host address is bracketed: [::1]:80:80.
    let (ip, rest) = if let Some(r) = addr_part.strip_prefix('[') {
        let (ip, rest) = r
            .split_once("]:")
            .ok_or_else(|| bad("unterminated [address]"))?;
        (Some(ip), rest)
    } else {
        let parts: Vec<&str> = addr_part.split(':').collect();
        match parts.len() {
            1 | 2 => (None, addr_part),
            3 => (Some(parts[0]), &addr_part[parts[0].len() + 1..]),
            _ => return Err(bad("too many colons")),
        }
    };
    let host_ip: IpAddr = match ip {
        None | Some("") => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        Some(s) => s.parse().map_err(|_| bad("invalid host address"))?,
    };
    let (host, container) = match rest.split_once(':') {
        Some((h, c)) => (h, c),
        None => ("", rest),
    };
    let range = |s: &str| -> Result<(u16, u16), PortError> {
        let (a, b) = s.split_once('-').unwrap_or((s, s));
        let a: u16 = a.parse().map_err(|_| bad("invalid port"))?;
        let b: u16 = b.parse().map_err(|_| bad("invalid port"))?;
        if b < a {
            return Err(bad("invalid port range"));
        }
        Ok((a, b))
    };
    let (c0, c1) = range(container)?;
    if c0 == 0 {
        return Err(bad("container port must not be 0"));
    }
    let hosts: Vec<u16> = if host.is_empty() {
        vec![0; usize::from(c1 - c0) + 1]
    } else {
        let (h0, h1) = range(host)?;
        if h1 - h0 != c1 - c0 {
            return Err(bad("host and container port ranges differ in length"));
        }
        (h0..=h1).collect()
    };
    Ok((c0..=c1)
        .zip(hosts)
        .map(|(c, h)| PortMapping {
            host_ip,
            host_port: h,
            container_port: c,
            proto,
        })
        .collect())
}

/// A bound host socket.
#[derive(Debug)]
pub enum Bound {
    Tcp(TcpListener, PortMapping),
    Udp(UdpSocket, PortMapping),
}

impl Bound {
    /// The mapping with the port actually bound.
    pub fn mapping(&self) -> &PortMapping {
        match self {
            Bound::Tcp(_, m) | Bound::Udp(_, m) => m,
        }
    }
}

/// Bind every mapping's host socket, filling in ephemeral ports.
pub fn bind(mappings: &[PortMapping]) -> Result<Vec<Bound>, PortError> {
    let mut out = Vec::new();
    for m in mappings {
        let host = SocketAddr::new(m.host_ip, m.host_port);
        let err = |source| PortError::Bind {
            host,
            proto: m.proto.as_str(),
            source,
        };
        let mut m = m.clone();
        out.push(match m.proto {
            Proto::Tcp => {
                let l = TcpListener::bind(host).map_err(err)?;
                m.host_port = l.local_addr().map_err(err)?.port();
                Bound::Tcp(l, m)
            }
            Proto::Udp => {
                let s = UdpSocket::bind(host).map_err(err)?;
                m.host_port = s.local_addr().map_err(err)?.port();
                Bound::Udp(s, m)
            }
        });
    }
    Ok(out)
}

/// Forward every bound socket to `target` (the container's address), in background threads
/// that live as long as the process.
pub fn serve(bound: Vec<Bound>, target: IpAddr) {
    for b in bound {
        match b {
            Bound::Tcp(l, m) => {
                let to = SocketAddr::new(target, m.container_port);
                thread::spawn(move || tcp_accept(l, to));
            }
            Bound::Udp(s, m) => {
                let to = SocketAddr::new(target, m.container_port);
                thread::spawn(move || udp_loop(s, to));
            }
        }
    }
}

fn tcp_accept(l: TcpListener, to: SocketAddr) {
    for conn in l.incoming() {
        let Ok(client) = conn else { continue };
        thread::spawn(move || {
            let Ok(upstream) = TcpStream::connect_timeout(&to, Duration::from_secs(10)) else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = upstream.set_nodelay(true);
            let (Ok(c2), Ok(u2)) = (client.try_clone(), upstream.try_clone()) else {
                return;
            };
            let t = thread::spawn(move || pipe(c2, u2));
            pipe(upstream, client);
            let _ = t.join();
        });
    }
}

/// Copy `from` → `to` until EOF, then half-close `to` so the other side sees the end.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let _ = io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

fn udp_loop(s: UdpSocket, to: SocketAddr) {
    let clients: Arc<Mutex<HashMap<SocketAddr, UdpSocket>>> = Arc::default();
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok((n, from)) = s.recv_from(&mut buf) else {
            continue;
        };
        let upstream = {
            let Ok(mut map) = clients.lock() else { return };
            if let Some(u) = map.get(&from) {
                u.try_clone().ok()
            } else {
                let bind_any = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
                let u = UdpSocket::bind(bind_any).and_then(|u| u.connect(to).map(|()| u));
                match u {
                    Ok(u) => {
                        let (Ok(reader), Ok(reply)) = (u.try_clone(), s.try_clone()) else {
                            continue;
                        };
                        let map2 = Arc::clone(&clients);
                        thread::spawn(move || {
                            let _ = reader.set_read_timeout(Some(Duration::from_secs(90)));
                            let mut b = vec![0u8; 65536];
                            while let Ok(n) = reader.recv(&mut b) {
                                let _ = reply.send_to(&b[..n], from);
                            }
                            if let Ok(mut m) = map2.lock() {
                                m.remove(&from);
                            }
                        });
                        let c = u.try_clone().ok();
                        map.insert(from, u);
                        c
                    }
                    Err(_) => None,
                }
            }
        };
        if let Some(u) = upstream {
            let _ = u.send(&buf[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_port_syntax() {
        let m = parse("5000:80").unwrap();
        assert_eq!(m[0].host_port, 5000);
        assert_eq!(m[0].container_port, 80);
        assert_eq!(m[0].proto, Proto::Tcp);
        let m = parse("127.0.0.1:8080:80/udp").unwrap();
        assert_eq!(m[0].host_ip, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(m[0].proto, Proto::Udp);
        let m = parse("80").unwrap();
        assert_eq!(m[0].host_port, 0);
        let m = parse("8000-8001:80-81").unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!((m[1].host_port, m[1].container_port), (8001, 81));
        let m = parse("127.0.0.1::80").unwrap();
        assert_eq!(m[0].host_port, 0);
        assert!(parse("80/sctp").is_err());
        assert!(parse("a:b").is_err());
        assert!(parse("8000-8002:80-81").is_err());
        assert!(parse("[::1]:80:80").is_ok());
    }

    #[test]
    fn tcp_proxy_forwards_both_ways() {
        use std::io::{Read, Write};
        let echo = TcpListener::bind("127.0.0.1:0").unwrap();
        let echo_port = echo.local_addr().unwrap().port();
        thread::spawn(move || {
            let (mut c, _) = echo.accept().unwrap();
            let mut b = [0u8; 5];
            c.read_exact(&mut b).unwrap();
            c.write_all(&b).unwrap();
        });
        let bound = bind(&parse(&format!("127.0.0.1::{echo_port}")).unwrap()).unwrap();
        let port = bound[0].mapping().host_port;
        assert_ne!(port, 0);
        serve(bound, IpAddr::V4(Ipv4Addr::LOCALHOST));
        let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        c.write_all(b"hello").unwrap();
        let mut got = Vec::new();
        c.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"hello");
    }
}
