//! Which addresses a request may reach without naming them: public ones.
//! Everything a name could be pointed at to reach inside the machine or
//! its network (loopback, private, link-local and cloud metadata, carrier
//! NAT, multicast, reserved) is *special* and needs a grant that names it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why `ip` is not a public address, or `None` when it is.
pub fn special(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    }
}

fn special_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_unspecified() || a == 0 => "unspecified",
        // 169.254.169.254 and friends: the metadata service of every cloud.
        (169, 254, _) => "link-local (cloud metadata)",
        _ if ip.is_private() => "private",
        (100, 64..=127, _) => "carrier-grade NAT (cloud metadata)",
        (192, 0, 0) => "IETF protocol assignment",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (198, 18..=19, _) => "benchmarking",
        _ if ip.is_multicast() => "multicast",
        _ if ip.is_broadcast() || a >= 240 => "reserved",
        _ => return None,
    })
}

fn special_v6(ip: Ipv6Addr) -> Option<&'static str> {
    // Addresses that carry an IPv4 address reach that address.
    if let Some(v4) = embedded_v4(ip) {
        return special_v4(v4);
    }
    let first = ip.segments()[0];
    Some(match first {
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_multicast() => "multicast",
        0xfe80..=0xfebf => "link-local",
        // fd00:ec2::254 is the AWS metadata service.
        0xfc00..=0xfdff => "unique local (private)",
        0x2001 if ip.segments()[1] == 0x0db8 => "documentation",
        0x0100 if ip.segments()[1..4] == [0, 0, 0] => "discard-only",
        _ => return None,
    })
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), IPv4-
/// compatible, NAT64 (`64:ff9b::/96`) or 6to4 (`2002::/16`) address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => Some(tail(hi, lo)),
        [0, 0, 0, 0, 0, 0, hi, lo] if !ip.is_loopback() && !ip.is_unspecified() => {
            Some(tail(hi, lo))
        }
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(tail(hi, lo)),
        [0x2002, hi, lo, ..] => Some(tail(hi, lo)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Option<&'static str> {
        special(text.parse().unwrap())
    }

    #[test]
    fn public_addresses_are_not_special() {
        for ip in ["1.1.1.1", "93.184.215.14", "2606:4700::1111", "8.8.8.8"] {
            assert_eq!(check(ip), None, "{ip}");
        }
    }

    #[test]
    fn inside_addresses_are_special() {
        for (ip, why) in [
            ("127.0.0.1", "loopback"),
            ("127.8.9.10", "loopback"),
            ("0.0.0.0", "unspecified"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local (cloud metadata)"),
            ("100.100.100.200", "carrier-grade NAT (cloud metadata)"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "reserved"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fe80::1", "link-local"),
            ("fd00:ec2::254", "unique local (private)"),
            ("2001:db8::1", "documentation"),
        ] {
            assert_eq!(check(ip), Some(why), "{ip}");
        }
    }

    #[test]
    fn ipv4_inside_ipv6_is_judged_as_ipv4() {
        assert_eq!(check("::ffff:127.0.0.1"), Some("loopback"));
        assert_eq!(
            check("::ffff:169.254.169.254"),
            Some("link-local (cloud metadata)")
        );
        assert_eq!(check("64:ff9b::10.0.0.1"), Some("private"));
        assert_eq!(check("2002:7f00:1::"), Some("loopback"));
        assert_eq!(check("::ffff:1.1.1.1"), None);
    }
}
