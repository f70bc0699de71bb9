//! What a rule may ask about an object beside its findings: the door, who sent it (person,
//! department, groups), where it was going, when, and a mail's attachments. The doors fill a
//! [`Context`]; the rules' conditions ([`Conditions`], compiled to a [`Matcher`]) read it.
//! Every condition is optional; the conditions of one rule are combined with AND, the values
//! of one list with OR.

use std::collections::HashMap;
use std::net::IpAddr;

use serde::Deserialize;

use crate::Channel;

/// The facts about one object the policy may use.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub channel: Channel,
    /// The person as the directory names them (or the account, when not in it).
    pub person: Option<String>,
    /// Their department as a path from the top, `/`-separated (`市局/办公室/保密科`): a rule
    /// naming `市局/办公室` matches it.
    pub department: Option<String>,
    pub groups: Vec<String>,
    /// Where it was going: URLs or hosts (web), recipient addresses (mail), `usb:…`,
    /// `printer:…`, `matrix:…`. Empty when not known (a scan of a share).
    pub destinations: Vec<String>,
    /// A mail's attachments (the top-level mail's direct children).
    pub attachments: Vec<Attachment>,
    /// When, in seconds since the Unix epoch; `None`: now.
    pub at: Option<i64>,
}

impl Context {
    /// A context that knows only the door (what `Policy::evaluate` always had).
    pub fn channel(channel: Channel) -> Context {
        Context {
            channel,
            ..Context::default()
        }
    }

    fn unix_time(&self) -> i64 {
        self.at.unwrap_or_else(crate::civil::now_unix)
    }

    /// Beijing time (UTC+8, no daylight saving): (weekday 0 = Monday, minute of the day).
    pub(crate) fn beijing(&self) -> (u32, u32) {
        let local = self.unix_time() + 8 * 3600;
        let day = local.div_euclid(86_400);
        // 1970-01-01 was a Thursday (weekday 3 counting from Monday = 0).
        let weekday = (day + 3).rem_euclid(7) as u32;
        let minute = (local.rem_euclid(86_400) / 60) as u32;
        (weekday, minute)
    }

    /// The date in Beijing as `YYYY-MM-DD` (for exceptions' expiry).
    pub(crate) fn beijing_date(&self) -> String {
        let days = (self.unix_time() + 8 * 3600).div_euclid(86_400);
        let (y, m, d) = crate::civil::civil_from_days(days);
        format!("{y:04}-{m:02}-{d:02}")
    }
}

/// One attachment of a mail, as extraction found it.
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    pub name: String,
    /// The true type (`zip`, `docx`, `pdf` …: the names `baomi scan` reports).
    pub true_type: String,
    pub size: u64,
    pub encrypted: bool,
}

/// The conditions a `[[rule]]` or an `[[exception]]` may carry, as written in the policy.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Conditions {
    /// Only on these doors.
    pub channels: Option<Vec<Channel>>,
    /// Departments (each matches its sub-departments).
    pub departments: Option<Vec<String>>,
    pub people: Option<Vec<String>>,
    pub groups: Option<Vec<String>>,
    /// Some destination is one of these: hosts (`pan.example.cn`, `*.example.cn` — a host
    /// matches itself and its subdomains), addresses (`a@b.cn`), mail domains (`@b.cn`),
    /// networks (`10.0.0.0/8`), or a named list (`cloud_drives`, `webmail`, `forums`,
    /// `internal`, or one of the policy's own `[hosts]`).
    pub destinations: Option<Vec<String>>,
    /// Some destination is none of these (same forms). An object whose destination is not
    /// known counts as going elsewhere, so `not_destinations = ["internal"]` fails closed.
    pub not_destinations: Option<Vec<String>>,
    /// Mail: some attachment has one of these true types (or a family: `archive`, `office`,
    /// `image`, `pdf`).
    pub attachment_types: Option<Vec<String>>,
    /// Mail: at least this many attachments.
    pub min_attachments: Option<usize>,
    /// Mail: some attachment at least this large (bytes).
    pub min_attachment_bytes: Option<u64>,
    /// Mail: `true` — some attachment is encrypted; `false` — none is.
    pub encrypted_attachment: Option<bool>,
    /// Beijing time windows, `"08:30-12:00"`; a window may cross midnight (`"22:00-06:00"`).
    pub hours: Option<Vec<String>>,
    /// Days: `mon` … `sun`, `周一` … `周日`, `workdays`, `weekend`.
    pub days: Option<Vec<String>>,
}

/// The keys of [`Conditions`], for the policy's own unknown-key check.
pub(crate) const CONDITION_KEYS: &[&str] = &[
    "channels",
    "departments",
    "people",
    "groups",
    "destinations",
    "not_destinations",
    "attachment_types",
    "min_attachments",
    "min_attachment_bytes",
    "encrypted_attachment",
    "hours",
    "days",
];

impl Conditions {
    /// True when any condition beyond the channel is set (a rule may then go without kinds).
    pub fn about_context(&self) -> bool {
        let Conditions {
            channels: _,
            departments,
            people,
            groups,
            destinations,
            not_destinations,
            attachment_types,
            min_attachments,
            min_attachment_bytes,
            encrypted_attachment,
            hours,
            days,
        } = self;
        departments.is_some()
            || people.is_some()
            || groups.is_some()
            || destinations.is_some()
            || not_destinations.is_some()
            || attachment_types.is_some()
            || min_attachments.is_some()
            || min_attachment_bytes.is_some()
            || encrypted_attachment.is_some()
            || hours.is_some()
            || days.is_some()
    }
}

/// One way of naming destinations.
#[derive(Debug, Clone, PartialEq)]
enum HostPattern {
    /// A host and its subdomains (also the domain of a mail address).
    Domain(String),
    /// A host glob with `*` inside (`pan*.example.cn`).
    Glob(String),
    /// One mail address.
    Address(String),
    /// A mail domain and its subdomains (`@example.cn`).
    MailDomain(String),
    Network(IpAddr, u8),
}

/// Host lists shipped with Baomi, editable through the policy's `[hosts]` table.
pub const SHIPPED_LISTS: &[(&str, &str)] = &[
    ("cloud_drives", include_str!("../../hosts/cloud_drives.txt")),
    ("webmail", include_str!("../../hosts/webmail.txt")),
    ("forums", include_str!("../../hosts/forums.txt")),
];

/// Named host lists: the shipped ones, then the policy's `[hosts]` (which replace a shipped
/// list of the same name), then `internal` extended by the server's configuration.
#[derive(Debug, Clone, Default)]
pub struct HostLists {
    lists: HashMap<String, Vec<HostPattern>>,
}

impl HostLists {
    pub(crate) fn new(own: &HashMap<String, Vec<String>>) -> Result<HostLists, String> {
        let mut lists = HashMap::new();
        for (name, text) in SHIPPED_LISTS {
            let patterns = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(|l| parse_pattern(l).map_err(|e| format!("hosts/{name}.txt: {e}")))
                .collect::<Result<Vec<_>, _>>()?;
            lists.insert((*name).to_owned(), patterns);
        }
        lists.entry("internal".into()).or_default();
        for (name, values) in own {
            if !is_list_name(name) {
                return Err(format!(
                    "[hosts] {name:?}: a list name is letters, digits and _"
                ));
            }
            let patterns = values
                .iter()
                .map(|v| parse_pattern(v).map_err(|e| format!("[hosts] {name}: {e}")))
                .collect::<Result<Vec<_>, _>>()?;
            lists.insert(name.clone(), patterns);
        }
        Ok(HostLists { lists })
    }

    /// Add the unit's own domains and networks (from the server's configuration).
    pub(crate) fn extend_internal(&mut self, values: &[String]) -> Result<(), String> {
        let list = self.lists.entry("internal".into()).or_default();
        for v in values {
            list.push(parse_pattern(v).map_err(|e| format!("internal: {e}"))?);
        }
        Ok(())
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.lists.keys().map(String::as_str)
    }
}

fn is_list_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_pattern(s: &str) -> Result<HostPattern, String> {
    let s = s.trim().to_lowercase();
    if s.is_empty() {
        return Err("an empty destination".into());
    }
    if let Some((net, bits)) = s.split_once('/') {
        let ip: IpAddr = net
            .parse()
            .map_err(|_| format!("{s:?} is not a network (address/prefix)"))?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let bits: u8 = bits
            .parse()
            .ok()
            .filter(|b| *b <= max)
            .ok_or_else(|| format!("{s:?}: the prefix length must be 0–{max}"))?;
        return Ok(HostPattern::Network(ip, bits));
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        let bits = if ip.is_ipv4() { 32 } else { 128 };
        return Ok(HostPattern::Network(ip, bits));
    }
    if let Some(domain) = s.strip_prefix('@') {
        return Ok(HostPattern::MailDomain(domain.to_owned()));
    }
    if s.contains('@') {
        return Ok(HostPattern::Address(s));
    }
    let s = s.strip_prefix("*.").unwrap_or(&s).to_owned();
    if s.contains('*') {
        return Ok(HostPattern::Glob(s));
    }
    Ok(HostPattern::Domain(s))
}

/// A destination as the doors give it, reduced to what patterns compare: a mail address
/// (with its domain) or a host (from a URL, `METHOD URL`, `host:port`).
#[derive(Debug, PartialEq)]
enum Dest {
    Address {
        address: String,
        domain: String,
    },
    Host(String),
    /// `usb:…`, `printer:…`, `matrix:…`: compared by list patterns never; kept for clarity.
    Other,
}

fn parse_destination(raw: &str) -> Dest {
    let s = raw.trim();
    // `PUT https://…` and `download https://…` (the ICAP door's form).
    let s = s.rsplit(' ').next().unwrap_or(s).to_lowercase();
    if let Some(rest) = s.split_once("://").map(|(_, r)| r) {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host = authority.rsplit('@').next().unwrap_or(authority);
        return Dest::Host(strip_port(host));
    }
    if let Some((local, domain)) = s.rsplit_once('@')
        && !local.is_empty()
        && !domain.is_empty()
    {
        let address = s.trim_matches(['<', '>']).to_owned();
        let domain = domain.trim_end_matches('>').to_owned();
        return Dest::Address { address, domain };
    }
    if s.starts_with("usb:") || s.starts_with("printer:") || s.starts_with("matrix:") {
        return Dest::Other;
    }
    Dest::Host(strip_port(&s))
}

fn strip_port(host: &str) -> String {
    if let Some(v6) = host.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6).to_owned();
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !h.contains(':') => {
            h.trim_end_matches('.').to_owned()
        }
        _ => host.trim_end_matches('.').to_owned(),
    }
}

fn domain_matches(host: &str, domain: &str) -> bool {
    host == domain
        || host
            .strip_suffix(domain)
            .is_some_and(|head| head.ends_with('.'))
}

fn glob_matches(text: &str, glob: &str) -> bool {
    let parts: Vec<&str> = glob.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for p in &parts[1..parts.len() - 1] {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    true
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

impl HostPattern {
    fn matches(&self, dest: &Dest) -> bool {
        match (self, dest) {
            (HostPattern::Domain(d), Dest::Host(h)) => domain_matches(h, d),
            (HostPattern::Domain(d), Dest::Address { domain, .. }) => domain_matches(domain, d),
            (HostPattern::Glob(g), Dest::Host(h)) => glob_matches(h, g),
            (HostPattern::Glob(g), Dest::Address { domain, .. }) => glob_matches(domain, g),
            (HostPattern::Address(a), Dest::Address { address, .. }) => a == address,
            (HostPattern::MailDomain(d), Dest::Address { domain, .. }) => domain_matches(domain, d),
            (HostPattern::Network(net, bits), Dest::Host(h)) => h
                .parse::<IpAddr>()
                .is_ok_and(|ip| in_network(ip, *net, *bits)),
            _ => false,
        }
    }
}

/// A destination condition's values, each a pattern or a list's name.
#[derive(Debug, Clone)]
enum DestTerm {
    Pattern(HostPattern),
    List(String),
}

fn parse_terms(values: &[String], lists: &HostLists) -> Result<Vec<DestTerm>, String> {
    values
        .iter()
        .map(|v| {
            let t = v.trim();
            if is_list_name(t) {
                if lists.lists.contains_key(t) {
                    Ok(DestTerm::List(t.to_owned()))
                } else {
                    let mut known: Vec<&str> = lists.names().collect();
                    known.sort_unstable();
                    Err(format!(
                        "{t:?} is no host list (known: {}); a host needs a dot",
                        known.join(", ")
                    ))
                }
            } else {
                parse_pattern(t).map(DestTerm::Pattern)
            }
        })
        .collect()
}

/// A time window in minutes of the day, `[from, to)`; `from > to` crosses midnight.
#[derive(Debug, Clone, Copy)]
struct Window(u32, u32);

fn parse_clock(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 24 && m < 60 && h * 60 + m <= 24 * 60).then_some(h * 60 + m)
}

fn parse_window(s: &str) -> Result<Window, String> {
    let (a, b) = s
        .split_once('-')
        .ok_or_else(|| format!("hours {s:?}: write a window as \"08:30-12:00\""))?;
    match (parse_clock(a), parse_clock(b)) {
        (Some(a), Some(b)) if a != b => Ok(Window(a, b)),
        _ => Err(format!("hours {s:?}: write a window as \"08:30-12:00\"")),
    }
}

fn parse_days(values: &[String]) -> Result<[bool; 7], String> {
    const NAMES: [(&str, &str, &str); 7] = [
        ("mon", "周一", "星期一"),
        ("tue", "周二", "星期二"),
        ("wed", "周三", "星期三"),
        ("thu", "周四", "星期四"),
        ("fri", "周五", "星期五"),
        ("sat", "周六", "星期六"),
        ("sun", "周日", "星期日"),
    ];
    let mut days = [false; 7];
    for v in values {
        let v = v.trim().to_lowercase();
        match v.as_str() {
            "workdays" | "工作日" => days[..5].iter_mut().for_each(|d| *d = true),
            "weekend" | "周末" => days[5..].iter_mut().for_each(|d| *d = true),
            _ => {
                let i = NAMES
                    .iter()
                    .position(|(en, zh, long)| {
                        v == *en
                            || v == *zh
                            || v == *long
                            || (v.len() > 3 && v.starts_with(en) && v.ends_with("day"))
                    })
                    .or_else(|| (v == "周天" || v == "星期天").then_some(6))
                    .ok_or_else(|| {
                        format!("days {v:?}: use mon … sun, 周一 … 周日, workdays, weekend")
                    })?;
                days[i] = true;
            }
        }
    }
    Ok(days)
}

/// Archive, office, image families for `attachment_types`.
fn type_family(family: &str) -> Option<&'static [&'static str]> {
    Some(match family {
        "archive" => &["zip", "7z", "rar", "tar", "gzip", "bzip2", "xz", "zstd"],
        "office" => &[
            "docx",
            "xlsx",
            "pptx",
            "doc",
            "xls",
            "ppt",
            "odt",
            "ods",
            "odp",
            "rtf",
            "ofd",
            "pdf",
            "ooxml-encrypted",
            "ole",
        ],
        "image" => &["png", "jpeg", "gif", "bmp", "tiff", "webp"],
        _ => return None,
    })
}

/// [`Conditions`] checked and compiled once, when the policy is loaded.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    channels: Option<Vec<Channel>>,
    departments: Option<Vec<String>>,
    people: Option<Vec<String>>,
    groups: Option<Vec<String>>,
    destinations: Option<Vec<DestTerm>>,
    not_destinations: Option<Vec<DestTerm>>,
    attachment_types: Option<Vec<String>>,
    min_attachments: Option<usize>,
    min_attachment_bytes: Option<u64>,
    encrypted_attachment: Option<bool>,
    hours: Option<Vec<Window>>,
    days: Option<[bool; 7]>,
}

fn trimmed(values: &Option<Vec<String>>) -> Option<Vec<String>> {
    values.as_ref().map(|vs| {
        vs.iter()
            .map(|v| v.trim().trim_end_matches('/').to_owned())
            .collect()
    })
}

impl Matcher {
    pub(crate) fn compile(c: &Conditions, lists: &HostLists) -> Result<Matcher, String> {
        let nonempty = |name: &str, v: &Option<Vec<String>>| match v {
            Some(v) if v.is_empty() => Err(format!(
                "`{name}` is an empty list (leave the key out to mean any)"
            )),
            _ => Ok(()),
        };
        nonempty("departments", &c.departments)?;
        nonempty("people", &c.people)?;
        nonempty("groups", &c.groups)?;
        nonempty("destinations", &c.destinations)?;
        nonempty("not_destinations", &c.not_destinations)?;
        nonempty("attachment_types", &c.attachment_types)?;
        nonempty("hours", &c.hours)?;
        nonempty("days", &c.days)?;
        let attachment_types = c.attachment_types.as_ref().map(|ts| {
            ts.iter()
                .flat_map(|t| {
                    let t = t.trim().to_lowercase();
                    match type_family(&t) {
                        Some(family) => family.iter().map(|s| (*s).to_owned()).collect(),
                        None => vec![t],
                    }
                })
                .collect()
        });
        Ok(Matcher {
            channels: c.channels.clone(),
            departments: trimmed(&c.departments),
            people: trimmed(&c.people),
            groups: trimmed(&c.groups),
            destinations: c
                .destinations
                .as_deref()
                .map(|v| parse_terms(v, lists))
                .transpose()?,
            not_destinations: c
                .not_destinations
                .as_deref()
                .map(|v| parse_terms(v, lists))
                .transpose()?,
            attachment_types,
            min_attachments: c.min_attachments,
            min_attachment_bytes: c.min_attachment_bytes,
            encrypted_attachment: c.encrypted_attachment,
            hours: c
                .hours
                .as_ref()
                .map(|hs| hs.iter().map(|h| parse_window(h)).collect())
                .transpose()?,
            days: c.days.as_deref().map(parse_days).transpose()?,
        })
    }

    /// Do the object's facts meet every condition?
    pub fn matches(&self, ctx: &Context, lists: &HostLists) -> bool {
        if self
            .channels
            .as_ref()
            .is_some_and(|chs| !chs.contains(&ctx.channel))
        {
            return false;
        }
        if let Some(deps) = &self.departments {
            let Some(mine) = ctx.department.as_deref() else {
                return false;
            };
            let mine = mine.trim();
            if !deps.iter().any(|d| {
                mine == d
                    || mine
                        .strip_prefix(d.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            }) {
                return false;
            }
        }
        if let Some(people) = &self.people
            && !ctx
                .person
                .as_deref()
                .is_some_and(|p| people.iter().any(|x| x.eq_ignore_ascii_case(p.trim())))
        {
            return false;
        }
        if let Some(groups) = &self.groups
            && !ctx.groups.iter().any(|g| groups.contains(g))
        {
            return false;
        }
        // Destinations are parsed only for rules that ask about them (most rules don't).
        let dests: Vec<Dest> = if self.destinations.is_some() || self.not_destinations.is_some() {
            ctx.destinations
                .iter()
                .map(|d| parse_destination(d))
                .collect()
        } else {
            Vec::new()
        };
        let hit = |terms: &[DestTerm], d: &Dest| {
            terms.iter().any(|t| match t {
                DestTerm::Pattern(p) => p.matches(d),
                DestTerm::List(name) => lists
                    .lists
                    .get(name)
                    .is_some_and(|ps| ps.iter().any(|p| p.matches(d))),
            })
        };
        if let Some(terms) = &self.destinations
            && !dests.iter().any(|d| hit(terms, d))
        {
            return false;
        }
        if let Some(terms) = &self.not_destinations
            && !dests.is_empty()
            && dests.iter().all(|d| hit(terms, d))
        {
            return false;
        }
        let atts = &ctx.attachments;
        if let Some(types) = &self.attachment_types
            && !atts.iter().any(|a| types.contains(&a.true_type))
        {
            return false;
        }
        if self.min_attachments.is_some_and(|n| atts.len() < n) {
            return false;
        }
        if let Some(n) = self.min_attachment_bytes
            && !atts.iter().any(|a| a.size >= n)
        {
            return false;
        }
        if let Some(want) = self.encrypted_attachment
            && atts.iter().any(|a| a.encrypted) != want
        {
            return false;
        }
        if self.hours.is_some() || self.days.is_some() {
            let (weekday, minute) = ctx.beijing();
            if self.days.is_some_and(|days| !days[weekday as usize]) {
                return false;
            }
            if let Some(windows) = &self.hours
                && !windows.iter().any(|&Window(from, to)| {
                    if from < to {
                        (from..to).contains(&minute)
                    } else {
                        minute >= from || minute < to
                    }
                })
            {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists() -> HostLists {
        let mut own = HashMap::new();
        own.insert("superior".to_owned(), vec!["bureau.gov.cn".to_owned()]);
        let mut l = HostLists::new(&own).unwrap();
        l.extend_internal(&["unit.gov.cn".into(), "10.0.0.0/8".into()])
            .unwrap();
        l
    }

    fn m(c: Conditions) -> Matcher {
        Matcher::compile(&c, &lists()).unwrap()
    }

    fn dests(ds: &[&str]) -> Context {
        Context {
            channel: Channel::Web,
            destinations: ds.iter().map(|s| s.to_string()).collect(),
            ..Context::default()
        }
    }

    #[test]
    fn destinations_by_host_list_address_domain_and_network() {
        let l = lists();
        let cloud = m(Conditions {
            destinations: Some(vec!["cloud_drives".into()]),
            ..Default::default()
        });
        assert!(cloud.matches(&dests(&["PUT https://d.pcs.baidu.com/file/upload?x=1"]), &l));
        assert!(cloud.matches(&dests(&["pan.baidu.com:443"]), &l));
        assert!(!cloud.matches(&dests(&["https://notpan.baidu.com.evil.cn/"]), &l));
        assert!(!cloud.matches(&dests(&[]), &l));

        let outside = m(Conditions {
            not_destinations: Some(vec!["internal".into(), "superior".into()]),
            ..Default::default()
        });
        assert!(!outside.matches(&dests(&["li@unit.gov.cn", "wang@bureau.gov.cn"]), &l));
        assert!(outside.matches(&dests(&["li@unit.gov.cn", "x@qq.com"]), &l));
        assert!(!outside.matches(&dests(&["http://10.3.4.5/upload"]), &l));
        assert!(outside.matches(&dests(&["http://11.3.4.5/upload"]), &l));
        // Unknown destination: not known to be inside, so the rule applies (fails closed).
        assert!(outside.matches(&dests(&[]), &l));

        let precise = m(Conditions {
            destinations: Some(vec![
                "@qq.com".into(),
                "boss@163.com".into(),
                "pan*.example.cn".into(),
            ]),
            ..Default::default()
        });
        assert!(precise.matches(&dests(&["Someone <a@vip.qq.com>"]), &l));
        assert!(precise.matches(&dests(&["boss@163.com"]), &l));
        assert!(!precise.matches(&dests(&["other@163.com"]), &l));
        assert!(precise.matches(&dests(&["https://pan2.example.cn/"]), &l));
        assert!(!precise.matches(&dests(&["https://www.example.cn/"]), &l));
    }

    #[test]
    fn unknown_lists_and_bad_values_are_refused() {
        let l = lists();
        let bad = |c: Conditions| Matcher::compile(&c, &l).unwrap_err();
        assert!(
            bad(Conditions {
                destinations: Some(vec!["cloud_drive".into()]),
                ..Default::default()
            })
            .contains("no host list")
        );
        assert!(
            bad(Conditions {
                hours: Some(vec!["8-12".into()]),
                ..Default::default()
            })
            .contains("08:30-12:00")
        );
        assert!(
            bad(Conditions {
                days: Some(vec!["someday".into()]),
                ..Default::default()
            })
            .contains("mon")
        );
        assert!(
            bad(Conditions {
                people: Some(vec![]),
                ..Default::default()
            })
            .contains("empty")
        );
    }

    #[test]
    fn departments_match_their_sub_departments_only() {
        let l = lists();
        let office = m(Conditions {
            departments: Some(vec!["市局/办公室".into()]),
            ..Default::default()
        });
        let ctx = |d: &str| Context {
            department: Some(d.into()),
            ..Context::default()
        };
        assert!(office.matches(&ctx("市局/办公室"), &l));
        assert!(office.matches(&ctx("市局/办公室/保密科"), &l));
        assert!(!office.matches(&ctx("市局/办公室二"), &l));
        assert!(!office.matches(&Context::default(), &l));
    }

    #[test]
    fn hours_and_days_in_beijing_time() {
        let l = lists();
        let working = m(Conditions {
            hours: Some(vec!["08:30-12:00".into(), "14:00-18:00".into()]),
            days: Some(vec!["workdays".into()]),
            ..Default::default()
        });
        let night = m(Conditions {
            hours: Some(vec!["22:00-06:00".into()]),
            ..Default::default()
        });
        // 2026-12-03 is a Thursday. 02:00 UTC = 10:00 Beijing.
        let at = |utc: i64| Context {
            at: Some(utc),
            ..Context::default()
        };
        let thu_0200_utc = 1_796_263_200;
        assert_eq!(at(thu_0200_utc).beijing(), (3, 600));
        assert_eq!(at(thu_0200_utc).beijing_date(), "2026-12-03");
        assert!(working.matches(&at(thu_0200_utc), &l));
        assert!(!working.matches(&at(thu_0200_utc + 2 * 3600), &l)); // 12:00: lunch
        assert!(working.matches(&at(thu_0200_utc + 4 * 3600), &l)); // 14:00
        assert!(!night.matches(&at(thu_0200_utc), &l));
        assert!(night.matches(&at(thu_0200_utc + 13 * 3600), &l)); // 23:00 Beijing
        assert!(night.matches(&at(thu_0200_utc + 19 * 3600), &l)); // 05:00 Friday
        // Saturday 10:00.
        assert!(!working.matches(&at(thu_0200_utc + 2 * 86_400), &l));
    }

    #[test]
    fn mail_attachment_conditions() {
        let l = lists();
        let att = |t: &str, size: u64, encrypted: bool| Attachment {
            name: format!("a.{t}"),
            true_type: t.into(),
            size,
            encrypted,
        };
        let ctx = Context {
            channel: Channel::Mail,
            attachments: vec![att("zip", 5_000_000, true), att("docx", 20_000, false)],
            ..Context::default()
        };
        let archive_encrypted = m(Conditions {
            attachment_types: Some(vec!["archive".into()]),
            encrypted_attachment: Some(true),
            ..Default::default()
        });
        assert!(archive_encrypted.matches(&ctx, &l));
        let many = m(Conditions {
            min_attachments: Some(3),
            ..Default::default()
        });
        assert!(!many.matches(&ctx, &l));
        let big = m(Conditions {
            min_attachment_bytes: Some(4_000_000),
            ..Default::default()
        });
        assert!(big.matches(&ctx, &l));
        let pdf = m(Conditions {
            attachment_types: Some(vec!["pdf".into()]),
            ..Default::default()
        });
        assert!(!pdf.matches(&ctx, &l));
    }
}
