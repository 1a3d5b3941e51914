//! Typed values inside instructions: durations, file modes, port specs and signals.
//!
//! BuildKit checks most of these when it *dispatches* a stage, after variable expansion
//! (`COPY --chmod=$MODE`, `EXPOSE $PORT`), not when it parses the file. So the instruction
//! types keep the raw text and these parsers are called on the expanded text by whoever
//! expands it (the build frontend, the linter). Messages follow the Go libraries BuildKit uses
//! (`time.ParseDuration`, `go-connections/nat`, `moby/sys/signal`).

use std::time::Duration;

use crate::quote::go_quote;

/// Go's `time.ParseDuration`, in nanoseconds (may be negative).
pub fn parse_go_duration(orig: &str) -> Result<i128, String> {
    let invalid = || format!("time: invalid duration {}", go_quote(orig));
    let mut s = orig;
    let mut neg = false;
    if let Some(c @ ('-' | '+')) = s.chars().next() {
        neg = c == '-';
        s = &s[1..];
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !s.is_empty() {
        let b = s.as_bytes()[0];
        if !(b == b'.' || b.is_ascii_digit()) {
            return Err(invalid());
        }
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let int_part = &s[..int_len];
        let v: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse::<u64>().map_err(|_| invalid())? as u128
        };
        s = &s[int_len..];
        let pre = int_len > 0;
        let mut frac = 0u128;
        let mut scale = 1u128;
        let mut post = false;
        if let Some(rest) = s.strip_prefix('.') {
            let frac_len = rest.bytes().take_while(u8::is_ascii_digit).count();
            for d in rest[..frac_len].bytes() {
                // Like Go, stop accumulating digits that no longer fit.
                if scale < 10u128.pow(20) {
                    frac = frac * 10 + u128::from(d - b'0');
                    scale *= 10;
                }
            }
            post = frac_len > 0;
            s = &rest[frac_len..];
        }
        if !pre && !post {
            return Err(invalid());
        }
        let unit_len = s
            .char_indices()
            .find(|&(_, c)| c == '.' || c.is_ascii_digit())
            .map_or(s.len(), |(i, _)| i);
        if unit_len == 0 {
            return Err(format!("time: missing unit in duration {}", go_quote(orig)));
        }
        let u = &s[..unit_len];
        s = &s[unit_len..];
        let unit: u128 = match u {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    go_quote(u),
                    go_quote(orig)
                ));
            }
        };
        let value = v
            .checked_mul(unit)
            .and_then(|x| x.checked_add(frac * unit / scale))
            .ok_or_else(invalid)?;
        total = total.checked_add(value).ok_or_else(invalid)?;
        if total > i64::MAX as u128 + u128::from(neg) {
            return Err(invalid());
        }
    }
    let total = total as i128;
    Ok(if neg { -total } else { total })
}

/// A HEALTHCHECK interval option: unset or `0` is `None`; anything else must be at least 1ms.
pub(crate) fn parse_interval(flag: &str, value: Option<&str>) -> Result<Option<Duration>, String> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let nanos = parse_go_duration(value)?;
    if nanos == 0 {
        return Ok(None);
    }
    if nanos < 1_000_000 {
        return Err(format!(
            "Interval {} cannot be less than 1ms",
            go_quote(flag)
        ));
    }
    Ok(Some(Duration::from_nanos(nanos as u64)))
}

/// Go's `strconv.ParseInt(s, 10, 32)` with its error texts.
pub(crate) fn parse_go_int32(s: &str) -> Result<i64, String> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "strconv.ParseInt: parsing {}: invalid syntax",
            go_quote(s)
        ));
    }
    match s.parse::<i32>() {
        Ok(v) => Ok(i64::from(v)),
        Err(_) => Err(format!(
            "strconv.ParseInt: parsing {}: value out of range",
            go_quote(s)
        )),
    }
}

/// A `--chmod` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chmod {
    /// An octal mode such as `0755`.
    Octal(u32),
    /// A symbolic mode such as `u+x,g-w` (checked, kept as written).
    Symbolic(String),
}

impl Chmod {
    /// Parse an octal (`0755`, at most `07777`) or symbolic (`u=rwx,go+rX`) mode.
    pub fn parse(s: &str) -> Result<Chmod, String> {
        let err = || {
            format!(
                "invalid chmod parameter: '{s}'. it should be octal string and between 0 and 07777"
            )
        };
        if !s.is_empty() && s.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            let v = u32::from_str_radix(s, 8).map_err(|_| err())?;
            if v > 0o7777 {
                return Err(err());
            }
            return Ok(Chmod::Octal(v));
        }
        if is_symbolic_mode(s) {
            Ok(Chmod::Symbolic(s.to_string()))
        } else {
            Err(err())
        }
    }
}

/// `[ugoa]*([-+=]([rwxXst]*|[ugo]))+` clauses separated by commas.
fn is_symbolic_mode(s: &str) -> bool {
    if s.is_empty() {
        return false;
    }
    s.split(',').all(|clause| {
        let rest = clause.trim_start_matches(['u', 'g', 'o', 'a']);
        if rest.is_empty() {
            return false;
        }
        let mut chars = rest.chars().peekable();
        while let Some(op) = chars.next() {
            if !matches!(op, '+' | '-' | '=') {
                return false;
            }
            if let Some('u' | 'g' | 'o') = chars.peek() {
                chars.next();
                continue;
            }
            while let Some(&c) = chars.peek() {
                if matches!(c, 'r' | 'w' | 'x' | 'X' | 's' | 't') {
                    chars.next();
                } else {
                    break;
                }
            }
        }
        true
    })
}

/// An EXPOSE entry: `[ip:][hostPort:]port[-end][/proto]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    pub ip: Option<String>,
    pub host_ports: Option<(u16, u16)>,
    /// First and last container port (equal for a single port).
    pub start: u16,
    pub end: u16,
    /// `tcp`, `udp` or `sctp`, lower-cased.
    pub proto: String,
    /// The protocol as written (for the ExposeProtoCasing lint rule).
    pub proto_as_written: String,
}

fn parse_port_range(s: &str) -> Option<(u16, u16)> {
    if s.is_empty() {
        return None;
    }
    match s.split_once('-') {
        None => s.parse::<u16>().ok().map(|p| (p, p)),
        Some((a, b)) => {
            let start = a.parse::<u16>().ok()?;
            let end = b.parse::<u16>().ok()?;
            (end >= start).then_some((start, end))
        }
    }
}

impl PortSpec {
    /// Parse one EXPOSE word with go-connections' rules and messages.
    pub fn parse(raw: &str) -> Result<PortSpec, String> {
        let parts: Vec<&str> = raw.split(':').collect();
        let n = parts.len();
        let container = parts[n - 1];
        let (ip, host) = match n {
            1 => ("".to_string(), ""),
            2 => ("".to_string(), parts[0]),
            3 => (parts[0].to_string(), parts[1]),
            _ => (parts[..n - 2].join(":"), parts[n - 2]),
        };
        let (proto, container) = {
            let pp: Vec<&str> = container.split('/').collect();
            if container.is_empty() || pp[0].is_empty() {
                ("", "")
            } else if pp.len() == 1 || pp[1].is_empty() {
                ("tcp", pp[0])
            } else {
                (pp[1], pp[0])
            }
        };
        let ip = ip.trim_start_matches('[').trim_end_matches(']').to_string();
        if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
            return Err(format!("invalid IP address: {ip}"));
        }
        if container.is_empty() {
            return Err(format!("no port specified: {raw}<empty>"));
        }
        let (start, end) = parse_port_range(container)
            .ok_or_else(|| format!("invalid containerPort: {container}"))?;
        let host_ports = if host.is_empty() {
            None
        } else {
            Some(parse_port_range(host).ok_or_else(|| format!("invalid hostPort: {host}"))?)
        };
        // A host range is allowed only with a single container port or a range of equal size.
        if matches!(host_ports, Some((hs, he)) if end - start != he - hs && end != start) {
            return Err(format!(
                "invalid ranges specified for container and host Ports: {container} and {host}"
            ));
        }
        let lower = proto.to_lowercase();
        if !matches!(lower.as_str(), "tcp" | "udp" | "sctp") {
            return Err(format!("invalid proto: {lower}"));
        }
        Ok(PortSpec {
            ip: (!ip.is_empty()).then_some(ip),
            host_ports,
            start,
            end,
            proto: lower,
            proto_as_written: proto.to_string(),
        })
    }
}

/// Linux signal names and numbers, as `moby/sys/signal` knows them.
const SIGNALS: &[(&str, i32)] = &[
    ("ABRT", 6),
    ("ALRM", 14),
    ("BUS", 7),
    ("CHLD", 17),
    ("CLD", 17),
    ("CONT", 18),
    ("FPE", 8),
    ("HUP", 1),
    ("ILL", 4),
    ("INT", 2),
    ("IO", 29),
    ("IOT", 6),
    ("KILL", 9),
    ("PIPE", 13),
    ("POLL", 29),
    ("PROF", 27),
    ("PWR", 30),
    ("QUIT", 3),
    ("SEGV", 11),
    ("STKFLT", 16),
    ("STOP", 19),
    ("SYS", 31),
    ("TERM", 15),
    ("TRAP", 5),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("USR1", 10),
    ("USR2", 12),
    ("VTALRM", 26),
    ("WINCH", 28),
    ("XCPU", 24),
    ("XFSZ", 25),
];

/// Parse a STOPSIGNAL value: a non-zero number, or a name with or without `SIG` in any case
/// (`RTMIN+3` and `RTMAX-2` included).
pub fn parse_signal(raw: &str) -> Result<i32, String> {
    let invalid = || format!("invalid signal: {raw}");
    if let Ok(n) = raw.parse::<i64>() {
        if n == 0 {
            return Err(invalid());
        }
        return i32::try_from(n).map_err(|_| invalid());
    }
    let upper = raw.to_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(&(_, n)) = SIGNALS.iter().find(|(s, _)| *s == name) {
        return Ok(n);
    }
    const RTMIN: i32 = 34;
    const RTMAX: i32 = 64;
    let rt = |base: &str, sign: i32, limit: i32| -> Option<i32> {
        let rest = name.strip_prefix(base)?;
        if rest.is_empty() {
            return Some(if sign > 0 { RTMIN } else { RTMAX });
        }
        let off: i32 = rest
            .strip_prefix(if sign > 0 { '+' } else { '-' })?
            .parse()
            .ok()?;
        (1..=limit)
            .contains(&off)
            .then_some(if sign > 0 { RTMIN + off } else { RTMAX - off })
    };
    rt("RTMIN", 1, 15)
        .or_else(|| rt("RTMAX", -1, 14))
        .ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(parse_go_duration("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_go_duration("-2ms"), Ok(-2_000_000));
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert_eq!(parse_go_duration("300µs"), Ok(300_000));
        assert_eq!(
            parse_go_duration("5"),
            Err("time: missing unit in duration \"5\"".into())
        );
        assert_eq!(
            parse_go_duration("5x"),
            Err("time: unknown unit \"x\" in duration \"5x\"".into())
        );
        assert_eq!(
            parse_go_duration("abc"),
            Err("time: invalid duration \"abc\"".into())
        );
        assert!(parse_go_duration("9999999999h").is_err());
    }

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("interval", Some("0s")), Ok(None));
        assert_eq!(
            parse_interval("interval", Some("5s")),
            Ok(Some(Duration::from_secs(5)))
        );
        assert_eq!(
            parse_interval("timeout", Some("1ns")),
            Err("Interval \"timeout\" cannot be less than 1ms".into())
        );
    }

    #[test]
    fn chmod_modes() {
        assert_eq!(Chmod::parse("0755"), Ok(Chmod::Octal(0o755)));
        assert_eq!(Chmod::parse("7777"), Ok(Chmod::Octal(0o7777)));
        assert_eq!(
            Chmod::parse("u+x,go=rX"),
            Ok(Chmod::Symbolic("u+x,go=rX".into()))
        );
        assert_eq!(Chmod::parse("a=u"), Ok(Chmod::Symbolic("a=u".into())));
        assert!(Chmod::parse("17777").is_err());
        assert!(Chmod::parse("0855").is_err());
        assert!(Chmod::parse("u+q").is_err());
        assert!(Chmod::parse("").is_err());
    }

    #[test]
    fn port_specs() {
        let p = PortSpec::parse("80").unwrap();
        assert_eq!((p.start, p.end, p.proto.as_str()), (80, 80, "tcp"));
        let p = PortSpec::parse("8000-8010/UDP").unwrap();
        assert_eq!((p.start, p.end, p.proto.as_str()), (8000, 8010, "udp"));
        assert_eq!(p.proto_as_written, "UDP");
        let p = PortSpec::parse("127.0.0.1:8080:80/tcp").unwrap();
        assert_eq!(p.ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(p.host_ports, Some((8080, 8080)));
        assert_eq!(PortSpec::parse("80/xyz"), Err("invalid proto: xyz".into()));
        assert_eq!(
            PortSpec::parse("abc"),
            Err("invalid containerPort: abc".into())
        );
        assert_eq!(
            PortSpec::parse("90-80"),
            Err("invalid containerPort: 90-80".into())
        );
        assert_eq!(
            PortSpec::parse("x.y:1:80"),
            Err("invalid IP address: x.y".into())
        );
        assert_eq!(PortSpec::parse("x:80"), Err("invalid hostPort: x".into()));
        assert_eq!(
            PortSpec::parse("/tcp"),
            Err("no port specified: /tcp<empty>".into())
        );
    }

    #[test]
    fn signals() {
        assert_eq!(parse_signal("SIGTERM"), Ok(15));
        assert_eq!(parse_signal("kill"), Ok(9));
        assert_eq!(parse_signal("9"), Ok(9));
        assert_eq!(parse_signal("RTMIN+3"), Ok(37));
        assert_eq!(parse_signal("SIGRTMAX"), Ok(64));
        assert_eq!(parse_signal("0"), Err("invalid signal: 0".into()));
        assert_eq!(parse_signal("SIGFOO"), Err("invalid signal: SIGFOO".into()));
    }
}
