//! IP address → person beside the directory: a host table (CSV) and DHCP leases.
//!
//! The host table (`[directory] hosts = "hosts.csv"`) has a header row with `person` and
//! `ip` and/or `machine`: a row gives a person (account or name) a fixed address, or a
//! computer (host name or MAC address) whose leased address is then theirs:
//! ```text
//! ip,machine,person
//! 10.1.2.3,,zhangsan
//! ,BGS-PC01,lisi
//! ,52:54:00:aa:bb:cc,wangwu
//! ```
//! DHCP leases (`[directory] dhcp_leases = [...]`) are read in either format, told apart by
//! content: ISC dhcpd (`lease 10.1.2.9 { … hardware ethernet …; client-hostname "…"; }`,
//! the last active binding of an address wins) and dnsmasq (`expiry mac ip host client-id`
//! per line). A lease's host name or MAC is looked up among people's `machines`.

use std::net::IpAddr;
use std::path::PathBuf;

use super::Person;

/// One lease: an address given to a computer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub ip: IpAddr,
    pub mac: Option<String>,
    pub host: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Hosts {
    /// (ip, person)
    ips: Vec<(IpAddr, String)>,
    /// (machine, person)
    machines: Vec<(String, String)>,
    leases: Vec<PathBuf>,
}

impl Hosts {
    /// From `[directory] hosts` and `dhcp_leases`; none when neither is set.
    pub fn from_config(cfg: &crate::config::Directory) -> anyhow::Result<Option<Hosts>> {
        if cfg.hosts.is_none() && cfg.dhcp_leases.is_empty() {
            return Ok(None);
        }
        let mut h = match &cfg.hosts {
            Some(p) => Hosts::parse_csv(
                &std::fs::read_to_string(p)
                    .map_err(|e| anyhow::anyhow!("directory.hosts {}: {e}", p.display()))?,
            )
            .map_err(|e| anyhow::anyhow!("directory.hosts {}: {e}", p.display()))?,
            None => Hosts::default(),
        };
        h.leases = cfg.dhcp_leases.clone();
        Ok(Some(h))
    }

    pub fn parse_csv(text: &str) -> anyhow::Result<Hosts> {
        let mut r = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .flexible(true)
            .from_reader(text.as_bytes());
        let head = r.headers()?.clone();
        let col = |n: &str| head.iter().position(|h| h.eq_ignore_ascii_case(n));
        let person = col("person").ok_or_else(|| anyhow::anyhow!("no `person` column"))?;
        let (ip, machine) = (col("ip"), col("machine"));
        if ip.is_none() && machine.is_none() {
            anyhow::bail!("an `ip` or a `machine` column is needed");
        }
        let mut h = Hosts::default();
        for (i, row) in r.records().enumerate() {
            let row = row?;
            let who = row.get(person).unwrap_or("").to_owned();
            if who.is_empty() {
                continue;
            }
            if let Some(v) = ip.and_then(|c| row.get(c)).filter(|v| !v.is_empty()) {
                let a = v
                    .parse::<IpAddr>()
                    .map_err(|_| anyhow::anyhow!("row {}: {v:?} is not an IP address", i + 2))?;
                h.ips.push((a, who.clone()));
            }
            if let Some(v) = machine.and_then(|c| row.get(c)).filter(|v| !v.is_empty()) {
                h.machines.push((v.to_lowercase(), who.clone()));
            }
        }
        Ok(h)
    }

    /// Give people their addresses: fixed ones, then those leased to their machines (an
    /// unreadable leases file is logged and skipped: the rest of the directory stands).
    pub fn apply(&self, people: &mut [Person]) {
        let find = |people: &[Person], who: &str| {
            people.iter().position(|p| {
                p.name == who || p.proxy_users.iter().any(|u| u.eq_ignore_ascii_case(who))
            })
        };
        for (m, who) in &self.machines {
            if let Some(i) = find(people, who)
                && !people[i].machines.iter().any(|x| x.eq_ignore_ascii_case(m))
            {
                people[i].machines.push(m.clone());
            }
        }
        for (ip, who) in &self.ips {
            if let Some(i) = find(people, who)
                && !people[i].ips.contains(ip)
            {
                people[i].ips.push(*ip);
            }
        }
        for path in &self.leases {
            let text = match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!("directory: DHCP leases {}: {e}", path.display());
                    continue;
                }
            };
            for lease in parse_leases(&text) {
                let keys: Vec<String> = [&lease.host, &lease.mac]
                    .into_iter()
                    .flatten()
                    .map(|k| k.to_lowercase())
                    .collect();
                let owner = people.iter().position(|p| {
                    p.machines
                        .iter()
                        .any(|m| keys.iter().any(|k| m.eq_ignore_ascii_case(k)))
                });
                if let Some(i) = owner {
                    // The address moved to this machine: nobody else has it now.
                    for (j, p) in people.iter_mut().enumerate() {
                        if j != i {
                            p.ips.retain(|a| *a != lease.ip);
                        }
                    }
                    if !people[i].ips.contains(&lease.ip) {
                        people[i].ips.push(lease.ip);
                    }
                }
            }
        }
    }
}

/// The current leases of an ISC dhcpd or a dnsmasq leases file (told apart by content).
pub fn parse_leases(text: &str) -> Vec<Lease> {
    if text.lines().any(|l| l.trim_start().starts_with("lease ")) {
        parse_isc(text)
    } else {
        parse_dnsmasq(text)
    }
}

/// dnsmasq: `1764770000 52:54:00:aa:bb:cc 10.1.2.9 BGS-PC01 01:52:54:00:aa:bb:cc`; `*`
/// for an unknown host name. IPv6 lines (after `duid …`) have the IAID where the MAC is.
fn parse_dnsmasq(text: &str) -> Vec<Lease> {
    let mut out = Vec::new();
    let mut v6 = false;
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.first() == Some(&"duid") {
            v6 = true;
            continue;
        }
        if f.len() < 4 {
            continue;
        }
        let Ok(ip) = f[2].parse::<IpAddr>() else {
            continue;
        };
        let host = (f[3] != "*").then(|| f[3].to_owned());
        let mac = (!v6 && f[1].contains(':')).then(|| f[1].to_lowercase());
        out.push(Lease { ip, mac, host });
    }
    out
}

/// ISC dhcpd.leases: blocks `lease IP { … }`, appended over time; the last block of an
/// address is its state. Only `binding state active` (or blocks without a binding state,
/// as old servers write) count.
fn parse_isc(text: &str) -> Vec<Lease> {
    let mut current: Vec<(IpAddr, Lease, bool)> = Vec::new();
    let mut block: Option<(Lease, bool)> = None;
    for raw in text.lines() {
        let line = raw.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("lease ") {
            let ip = rest.trim_end_matches('{').trim();
            block = ip.parse::<IpAddr>().ok().map(|ip| {
                (
                    Lease {
                        ip,
                        mac: None,
                        host: None,
                    },
                    true,
                )
            });
            continue;
        }
        let Some((lease, active)) = block.as_mut() else {
            continue;
        };
        if line == "}" {
            let (lease, active) = block.take().expect("a block");
            current.retain(|(ip, _, _)| *ip != lease.ip);
            current.push((lease.ip, lease, active));
            continue;
        }
        let stmt = line.trim_end_matches(';');
        if let Some(v) = stmt.strip_prefix("binding state ") {
            *active = v.trim() == "active";
        } else if let Some(v) = stmt.strip_prefix("hardware ethernet ") {
            lease.mac = Some(v.trim().to_lowercase());
        } else if let Some(v) = stmt.strip_prefix("client-hostname ") {
            lease.host = Some(v.trim().trim_matches('"').to_owned());
        }
    }
    current
        .into_iter()
        .filter(|(_, _, active)| *active)
        .map(|(_, l, _)| l)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(name: &str, account: &str, machines: &[&str]) -> Person {
        Person {
            name: name.into(),
            department: "办公室".into(),
            ips: Vec::new(),
            mails: Vec::new(),
            proxy_users: vec![account.into()],
            machines: machines.iter().map(|m| m.to_string()).collect(),
            groups: Vec::new(),
            account: Some(account.into()),
            left: None,
        }
    }

    #[test]
    fn isc_leases_last_active_binding_wins() {
        let text = r#"
# The format of this file is documented in the dhcpd.leases(5) manual page.
authoring-byte-order little-endian;
lease 10.1.2.9 {
  starts 4 2026/12/03 01:00:00;
  binding state active;
  hardware ethernet 52:54:00:AA:BB:01;
  client-hostname "BGS-PC01";
}
lease 10.1.2.10 {
  binding state active;
  hardware ethernet 52:54:00:aa:bb:02;
}
lease 10.1.2.9 {
  binding state free;
  hardware ethernet 52:54:00:aa:bb:01;
}
lease 10.1.2.11 {
  binding state active;
  hardware ethernet 52:54:00:aa:bb:03;
  uid "\001RT\000\252\273\003";
  client-hostname "CWC-PC07";
}
"#;
        let l = parse_leases(text);
        assert_eq!(l.len(), 2, "{l:?}");
        assert_eq!(l[0].ip, "10.1.2.10".parse::<IpAddr>().unwrap());
        assert_eq!(l[0].host, None);
        assert_eq!(l[1].host.as_deref(), Some("CWC-PC07"));
        assert_eq!(l[1].mac.as_deref(), Some("52:54:00:aa:bb:03"));
    }

    #[test]
    fn dnsmasq_leases() {
        let text = "1764770000 52:54:00:aa:bb:01 10.1.2.9 BGS-PC01 01:52:54:00:aa:bb:01\n\
                    1764770001 52:54:00:aa:bb:02 10.1.2.10 * *\n\
                    duid 00:01:00:01:2c:aa\n\
                    1764770002 1234 fd00::9 BGS-PC01 00:01:00:01\n";
        let l = parse_leases(text);
        assert_eq!(l.len(), 3);
        assert_eq!(l[0].host.as_deref(), Some("BGS-PC01"));
        assert_eq!(l[1].host, None);
        assert_eq!(l[1].mac.as_deref(), Some("52:54:00:aa:bb:02"));
        assert_eq!(l[2].mac, None);
    }

    #[test]
    fn host_table_and_leases_give_addresses() {
        let dir = tempfile::tempdir().unwrap();
        let leases = dir.path().join("dnsmasq.leases");
        std::fs::write(
            &leases,
            "1764770000 52:54:00:aa:bb:01 10.1.2.9 bgs-pc01 *\n\
             1764770000 52:54:00:aa:bb:02 10.1.2.10 * *\n",
        )
        .unwrap();
        let mut h =
            Hosts::parse_csv("ip,machine,person\n10.1.2.3,,zhangsan\n,52:54:00:AA:BB:02,李四\n")
                .unwrap();
        h.leases = vec![leases];
        let mut people = vec![
            person("张三", "zhangsan", &["BGS-PC01"]),
            person("李四", "lisi", &[]),
        ];
        h.apply(&mut people);
        let ips = |p: &Person| p.ips.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        assert_eq!(ips(&people[0]), ["10.1.2.3", "10.1.2.9"]);
        assert_eq!(ips(&people[1]), ["10.1.2.10"]);
        assert!(Hosts::parse_csv("ip,person\nnot-an-ip,x\n").is_err());
        assert!(Hosts::parse_csv("ip,who\n10.0.0.1,x\n").is_err());
    }
}
