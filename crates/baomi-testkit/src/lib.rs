//! Helpers the test suites of several crates share. A dev-dependency only.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};

/// A TCP port on 127.0.0.1 that is free now, for a server a test starts as another
/// process (Postfix, slapd, `baomi serve`), which must be told its port before it binds.
///
/// Why not `bind(":0")`: the kernel hands out such ports from the ephemeral range, the
/// same range every outgoing connection (curl, swaks, Postfix's own) takes its local port
/// from, so between our probe and the server's bind a client socket can take the port
/// ("Address already in use"). Ports below the ephemeral range are never given to clients,
/// so only another test's explicit choice can collide; the pid and a counter spread the
/// choices of parallel tests and processes, and each is probed before it is returned.
pub fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let (low, high) = below_ephemeral();
    let span = u32::from(high - low);
    let seed = std::process::id().wrapping_mul(2_654_435_761);
    for _ in 0..span {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = low + (seed.wrapping_add(n.wrapping_mul(7919)) % span) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    // Everything below the range is taken: fall back on the kernel's choice.
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free TCP port on 127.0.0.1")
        .port()
}

/// `[low, high)`: the ports under the kernel's ephemeral range (Linux's
/// `ip_local_port_range`, 32768 by default), above the well-known and registered ones
/// most daemons use.
fn below_ephemeral() -> (u16, u16) {
    let first_ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let high = first_ephemeral.max(12_000);
    (high - 10_000, high)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_below_the_ephemeral_range_bindable_and_not_repeated() {
        let (low, high) = below_ephemeral();
        let ports: Vec<u16> = (0..50).map(|_| free_port()).collect();
        for &p in &ports {
            assert!((low..high).contains(&p), "{p} outside {low}..{high}");
            assert!(TcpListener::bind(("127.0.0.1", p)).is_ok());
        }
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ports.len(), "{ports:?}");
    }
}
