//! The directory: who is behind an IP address, a mail address or a proxy login, and which
//! department they belong to, so every incident names a person and a department.
//!
//! TOML:
//! ```toml
//! [[user]]
//! name = "张三"
//! department = "办公室"
//! ips = ["10.1.2.3"]
//! mails = ["zhangsan@example.gov.cn"]
//! proxy_users = ["zhangsan"]
//! machines = ["BGS-PC01"]   # host names, for self-inspection coverage
//! ```
//! CSV with a header row: `name,department,ips,mails,proxy_users[,machines]`, several values in a cell
//! separated by `;`.
//!
//! Larger units read it from LDAP / Active Directory instead ([`ldap`]: synced at start and
//! every few minutes, replacing the gateway's directory whole); addresses can come from a
//! host table and DHCP leases ([`hosts`]). Either way the directory is also kept in the
//! store as a snapshot ([`Directory::to_snapshot`]), which every node applies
//! (`crate::live`), so all nodes know the same people.

pub mod hosts;
pub mod ldap;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct Person {
    pub name: String,
    pub department: String,
    #[serde(default)]
    pub ips: Vec<IpAddr>,
    #[serde(default)]
    pub mails: Vec<String>,
    #[serde(default)]
    pub proxy_users: Vec<String>,
    /// Host names of the person's computers (self-inspection coverage: 不漏一机).
    #[serde(default)]
    pub machines: Vec<String>,
    /// Groups for the policy's `groups` condition (涉密人员, 项目组 …). The department is a
    /// path from the top (`市局/办公室/保密科`), so a rule naming a department also covers
    /// its sub-departments.
    #[serde(default)]
    pub groups: Vec<String>,
    /// The person's login name (LDAP `uid`/`sAMAccountName`, or the console account's
    /// name), when it differs from the name: how an account is matched to a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The day the person left the unit (`YYYY-MM-DD`, 离岗/离职): still listed, so that
    /// the records can ask for a leaving commitment and find them in chat groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left: Option<String>,
}

#[derive(Debug, Default)]
pub struct Directory {
    people: Vec<Person>,
    by_ip: HashMap<IpAddr, usize>,
    by_machine: HashMap<String, usize>,
    by_mail: HashMap<String, usize>,
    by_proxy_user: HashMap<String, usize>,
    by_name: HashMap<String, usize>,
    /// Every department known (the OU tree from LDAP, and every person's), as paths.
    departments: Vec<String>,
}

#[derive(Deserialize)]
struct TomlFile {
    #[serde(default)]
    user: Vec<Person>,
}

#[derive(Deserialize)]
struct CsvRow {
    name: String,
    department: String,
    #[serde(default)]
    ips: String,
    #[serde(default)]
    mails: String,
    #[serde(default)]
    proxy_users: String,
    #[serde(default)]
    machines: String,
    #[serde(default)]
    groups: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    left: String,
}

fn cells(s: &str) -> impl Iterator<Item = &str> {
    s.split(';').map(str::trim).filter(|v| !v.is_empty())
}

impl Directory {
    pub fn load(path: &Path) -> anyhow::Result<Directory> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("directory {}: {e}", path.display()))?;
        let is_csv = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        let people = if is_csv {
            Directory::parse_csv(&text)
        } else {
            toml::from_str::<TomlFile>(&text)
                .map(|f| f.user)
                .map_err(anyhow::Error::from)
        }
        .map_err(|e| anyhow::anyhow!("directory {}: {e}", path.display()))?;
        Ok(Directory::new(people))
    }

    fn parse_csv(text: &str) -> anyhow::Result<Vec<Person>> {
        let mut r = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let mut out = Vec::new();
        for (i, row) in r.deserialize::<CsvRow>().enumerate() {
            let row = row.map_err(|e| anyhow::anyhow!("row {}: {e}", i + 2))?;
            let ips = cells(&row.ips)
                .map(|v| {
                    v.parse::<IpAddr>()
                        .map_err(|_| anyhow::anyhow!("row {}: {v:?} is not an IP address", i + 2))
                })
                .collect::<anyhow::Result<_>>()?;
            out.push(Person {
                name: row.name,
                department: row.department,
                ips,
                mails: cells(&row.mails).map(str::to_owned).collect(),
                proxy_users: cells(&row.proxy_users).map(str::to_owned).collect(),
                machines: cells(&row.machines).map(str::to_owned).collect(),
                groups: cells(&row.groups).map(str::to_owned).collect(),
                account: Some(row.account).filter(|a| !a.is_empty()),
                left: Some(row.left).filter(|d| !d.is_empty()),
            });
        }
        Ok(out)
    }

    pub fn new(people: Vec<Person>) -> Directory {
        let mut d = Directory::default();
        for (i, p) in people.iter().enumerate() {
            d.by_name.entry(p.name.clone()).or_insert(i);
            for ip in &p.ips {
                d.by_ip.insert(*ip, i);
            }
            for m in &p.mails {
                d.by_mail.insert(m.to_lowercase(), i);
            }
            for u in &p.proxy_users {
                d.by_proxy_user.insert(u.to_lowercase(), i);
            }
            for m in &p.machines {
                d.by_machine.insert(m.to_lowercase(), i);
            }
        }
        d.people = people;
        d
    }

    /// With the departments known beside the people's own (the OU tree).
    pub fn with_departments(mut self, departments: Vec<String>) -> Directory {
        self.departments = departments;
        self
    }

    /// The departments: those given by [`Directory::with_departments`], else the people's.
    pub fn departments(&self) -> Vec<String> {
        if !self.departments.is_empty() {
            return self.departments.clone();
        }
        let mut d: Vec<String> = self.people.iter().map(|p| p.department.clone()).collect();
        d.sort();
        d.dedup();
        d
    }

    /// The person with this account (proxy login), if listed.
    pub fn account(&self, account: &str) -> Option<&Person> {
        self.web_user(Some(account), None)
    }

    /// The person of this name, if listed (for their groups).
    pub fn person(&self, name: &str) -> Option<&Person> {
        self.by_name.get(name).map(|&i| &self.people[i])
    }

    pub fn len(&self) -> usize {
        self.people.len()
    }

    pub fn is_empty(&self) -> bool {
        self.people.is_empty()
    }

    /// The proxy login wins over the address: several people may share a NAT or terminal.
    pub fn web_user(&self, proxy_user: Option<&str>, ip: Option<IpAddr>) -> Option<&Person> {
        proxy_user
            .and_then(|u| self.by_proxy_user.get(&u.to_lowercase()))
            .or_else(|| ip.and_then(|ip| self.by_ip.get(&ip)))
            .map(|&i| &self.people[i])
    }

    pub fn mail_user(&self, address: &str) -> Option<&Person> {
        let a = address.trim().trim_matches(['<', '>']).to_lowercase();
        self.by_mail.get(&a).map(|&i| &self.people[i])
    }

    /// Everyone, in the file's order.
    pub fn people(&self) -> &[Person] {
        &self.people
    }

    /// The person a machine (host name) is registered to.
    pub fn machine_user(&self, machine: &str) -> Option<&Person> {
        self.by_machine
            .get(&machine.to_lowercase())
            .map(|&i| &self.people[i])
    }

    pub fn ip_user(&self, ip: IpAddr) -> Option<&Person> {
        self.by_ip.get(&ip).map(|&i| &self.people[i])
    }

    /// The directory as the store keeps it (`baomi_store::directory`): the people and the
    /// departments given beside them, as JSON. The same directory gives the same text.
    pub fn to_snapshot(&self) -> String {
        serde_json::to_string(&Snapshot {
            people: self.people.clone(),
            departments: self.departments.clone(),
        })
        .expect("a directory serialises")
    }

    /// The people as a TOML directory file (`[[user]]` tables), which [`Directory::load`]
    /// reads back.
    pub fn to_toml(&self) -> anyhow::Result<String> {
        #[derive(serde::Serialize)]
        struct File<'a> {
            user: &'a [Person],
        }
        Ok(toml::to_string(&File { user: &self.people })?)
    }

    /// A directory from [`Directory::to_snapshot`]'s text.
    pub fn from_snapshot(text: &str) -> anyhow::Result<Directory> {
        let s: Snapshot = serde_json::from_str(text)
            .map_err(|e| anyhow::anyhow!("the stored directory is unreadable: {e}"))?;
        Ok(Directory::new(s.people).with_departments(s.departments))
    }
}

/// What [`Directory::to_snapshot`] writes.
#[derive(serde::Serialize, Deserialize)]
struct Snapshot {
    people: Vec<Person>,
    #[serde(default)]
    departments: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_and_csv_agree() {
        let toml_text = r#"
[[user]]
name = "张三"
department = "办公室"
ips = ["10.1.2.3"]
mails = ["ZhangSan@example.gov.cn"]
proxy_users = ["zhangsan"]

[[user]]
name = "李四"
department = "财务处"
ips = ["10.1.2.4", "10.1.2.5"]
"#;
        let csv_text = "name,department,ips,mails,proxy_users\n\
            张三,办公室,10.1.2.3,ZhangSan@example.gov.cn,zhangsan\n\
            李四,财务处,10.1.2.4; 10.1.2.5,,\n";
        let a = Directory::new(toml::from_str::<TomlFile>(toml_text).unwrap().user);
        let b = Directory::new(Directory::parse_csv(csv_text).unwrap());
        for d in [&a, &b] {
            assert_eq!(d.len(), 2);
            assert_eq!(
                d.mail_user("<zhangsan@EXAMPLE.gov.cn>").unwrap().name,
                "张三"
            );
            let ip: IpAddr = "10.1.2.5".parse().unwrap();
            assert_eq!(d.web_user(None, Some(ip)).unwrap().department, "财务处");
            // The login wins over a shared address.
            assert_eq!(d.web_user(Some("ZHANGSAN"), Some(ip)).unwrap().name, "张三");
            assert!(d.web_user(Some("nobody"), None).is_none());
        }
        assert!(Directory::parse_csv("name,department,ips\n王五,办公室,not-an-ip\n").is_err());
    }
}
