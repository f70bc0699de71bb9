//! A real OpenLDAP for tests: Debian's `slapd` started in a temp dir (mdb backend, StartTLS
//! with a CA made by `openssl`), filled with `ldapadd` with a generated organisation — an
//! OU tree of departments, 200 people with Chinese names and mail addresses, groups by
//! member DN and by memberUid, and role groups. Shared by `baomi-server/tests/ldap.rs` and
//! `baomi/tests/ldap_login.rs` (through `#[path]`).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SUFFIX: &str = "dc=unit,dc=cn";
pub const ROOT_PW: &str = "root-secret-2026";
pub const SERVICE_PW: &str = "service-secret-2026";

pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .args([
            "-c",
            &format!("command -v {tool} || test -x /usr/sbin/{tool}"),
        ])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub use baomi_testkit::free_port;

/// LDIF `attr: value`, base64 (`attr:: …`) where the value is not plain ASCII.
pub fn ldif(attr: &str, value: &str) -> String {
    if value.is_ascii() && !value.starts_with([' ', ':', '<']) {
        format!("{attr}: {value}\n")
    } else {
        format!("{attr}:: {}\n", b64(value.as_bytes()))
    }
}

pub fn b64(data: &[u8]) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub struct Slapd {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Child,
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Slapd {
    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    pub fn start() -> Slapd {
        let dir = tempfile::Builder::new()
            .prefix("baomi-slapd-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("db")).unwrap();
        make_certs(d);
        let conf = format!(
            "include /etc/ldap/schema/core.schema\n\
             include /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\n\
             include /etc/ldap/schema/nis.schema\n\
             modulepath /usr/lib/ldap\n\
             moduleload back_mdb\n\
             pidfile {d}/slapd.pid\n\
             argsfile {d}/slapd.args\n\
             TLSCACertificateFile {d}/ca.pem\n\
             TLSCertificateFile {d}/server.pem\n\
             TLSCertificateKeyFile {d}/server.key\n\
             database mdb\n\
             maxsize 104857600\n\
             suffix \"{SUFFIX}\"\n\
             rootdn \"cn=admin,{SUFFIX}\"\n\
             rootpw {ROOT_PW}\n\
             directory {d}/db\n\
             index objectClass eq\n\
             index uid,memberUid,member eq\n\
             access to attrs=userPassword by self write by anonymous auth by * none\n\
             access to * by users read by * none\n",
            d = d.display()
        );
        std::fs::write(d.join("slapd.conf"), conf).unwrap();
        let port = free_port();
        let log = std::fs::File::create(d.join("slapd.log")).unwrap();
        let child = Command::new("/usr/sbin/slapd")
            .args(["-f", d.join("slapd.conf").to_str().unwrap()])
            .args(["-h", &format!("ldap://127.0.0.1:{port}/")])
            .args(["-d", "0"])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("slapd");
        let s = Slapd { dir, port, child };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "slapd did not start: {}",
                std::fs::read_to_string(s.dir.path().join("slapd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        s
    }

    /// Stop the server (its files stay): the directory is down.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The settings of `[directory.ldap]` for this server (StartTLS with the test CA, the
    /// service account, the role groups: sysadmin by DN, secadmin by name, auditor by a DN
    /// in other case): under `table` (`Some("directory.ldap")` in a baomi.toml, `None` for
    /// a bare `LdapConfig`), with `extra` keys of that table.
    pub fn ldap_toml(&self, password_file: &Path, table: Option<&str>, extra: &str) -> String {
        let (head, sub) = match table {
            Some(t) => (format!("[{t}]\n"), format!("{t}.")),
            None => (String::new(), String::new()),
        };
        format!(
            "{head}url = \"{}\"\nca_file = \"{}\"\nbind_dn = \"cn=baomi,ou=services,{SUFFIX}\"\n\
             password_file = \"{}\"\nbase_dns = [\"{SUFFIX}\"]\nfull_sync_every = 24\n{extra}\n\
             [{sub}people]\nignore_ous = [\"people\", \"groups\", \"services\"]\n\
             [{sub}roles]\nsysadmin = \"cn=baomi-sysadmin,ou=groups,{SUFFIX}\"\n\
             secadmin = \"baomi-secadmin\"\nauditor = \"CN=baomi-auditor,OU=groups,DC=unit,DC=cn\"\n",
            self.url(),
            self.ca().display(),
            password_file.display()
        )
    }

    /// `ldapadd`/`ldapmodify`/`ldapmodrdn` as the root DN with `input` on stdin.
    pub fn tool(&self, tool: &str, args: &[&str], input: &str) {
        use std::io::Write;
        let pw = format!("-w{ROOT_PW}");
        let mut child = Command::new(tool)
            .args([
                "-x",
                "-H",
                &self.url(),
                "-D",
                &format!("cn=admin,{SUFFIX}"),
                &pw,
            ])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect(tool);
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{tool}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

pub fn make_certs(d: &Path) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(d)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=Baomi test LDAP CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        d.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
}

pub const SURNAMES: [(&str, &str); 20] = [
    ("王", "wang"),
    ("李", "li"),
    ("张", "zhang"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("赵", "zhao"),
    ("黄", "huang"),
    ("周", "zhou"),
    ("吴", "wu"),
    ("徐", "xu"),
    ("孙", "sun"),
    ("胡", "hu"),
    ("朱", "zhu"),
    ("高", "gao"),
    ("林", "lin"),
    ("何", "he"),
    ("郭", "guo"),
    ("马", "ma"),
    ("罗", "luo"),
];
pub const GIVEN: [(&str, &str); 10] = [
    ("伟", "wei"),
    ("芳", "fang"),
    ("娜", "na"),
    ("敏", "min"),
    ("静", "jing"),
    ("磊", "lei"),
    ("洋", "yang"),
    ("艳", "yan"),
    ("勇", "yong"),
    ("军", "jun"),
];

/// (DN under the suffix, department path) of the leaf departments people sit in.
pub const DEPARTMENTS: [(&str, &str); 7] = [
    ("ou=保密科,ou=办公室,ou=市局", "市局/办公室/保密科"),
    ("ou=文秘科,ou=办公室,ou=市局", "市局/办公室/文秘科"),
    ("ou=财务处,ou=市局", "市局/财务处"),
    ("ou=网络科,ou=信息中心,ou=市局", "市局/信息中心/网络科"),
    ("ou=人事处,ou=市局", "市局/人事处"),
    ("ou=一分局,ou=市局", "市局/一分局"),
    ("ou=People", ""),
];

/// A generated person's directory password.
pub fn password_of(account: &str) -> String {
    format!("pw-{account}-密码")
}

pub struct Someone {
    pub account: String,
    pub name: String,
    pub dn: String,
    pub department: &'static str,
}

pub fn person_ldif(i: usize, dept_dn: &str, dept: &'static str) -> (String, Someone) {
    let (s, sp) = SURNAMES[i % 20];
    let (g, gp) = GIVEN[(i / 20) % 10];
    let account = format!("{sp}{gp}{i:03}");
    let name = format!("{s}{g}{}", ["", "华", "明", "丽"][i % 4]);
    let dn = format!("uid={account},{dept_dn},{SUFFIX}");
    let mut e = String::new();
    e += &ldif("dn", &dn);
    e += "objectClass: inetOrgPerson\n";
    e += &ldif("uid", &account);
    e += &ldif("cn", &name);
    e += &ldif("sn", s);
    e += &ldif("displayName", &name);
    e += &ldif("mail", &format!("{account}@unit.gov.cn"));
    if i.is_multiple_of(10) {
        e += &ldif("mail", &format!("{sp}.{gp}.{i}@Unit.Gov.CN"));
    }
    e += &ldif("userPassword", &format!("pw-{account}-密码"));
    e += "\n";
    (
        e,
        Someone {
            account,
            name,
            dn,
            department: dept,
        },
    )
}

/// The organisation: the OU tree, 200 people, the service account, groups.
pub fn organisation() -> (String, Vec<Someone>) {
    let mut l = String::new();
    l += &format!(
        "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: unit\no: unit\n\n"
    );
    for ou in [
        "ou=市局",
        "ou=办公室,ou=市局",
        "ou=保密科,ou=办公室,ou=市局",
        "ou=文秘科,ou=办公室,ou=市局",
        "ou=财务处,ou=市局",
        "ou=信息中心,ou=市局",
        "ou=网络科,ou=信息中心,ou=市局",
        "ou=人事处,ou=市局",
        "ou=一分局,ou=市局",
        "ou=People",
        "ou=groups",
        "ou=services",
    ] {
        let name = ou.split(',').next().unwrap().trim_start_matches("ou=");
        l += &ldif("dn", &format!("{ou},{SUFFIX}"));
        l += "objectClass: organizationalUnit\n";
        l += &ldif("ou", name);
        l += "\n";
    }
    l += &format!(
        "dn: cn=baomi,ou=services,{SUFFIX}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: baomi\nuserPassword: {SERVICE_PW}\n\n"
    );
    let mut people = Vec::new();
    for i in 0..200 {
        let (dn, dept) = DEPARTMENTS[i % DEPARTMENTS.len()];
        let (e, p) = person_ldif(i, dn, dept);
        l += &e;
        people.push(p);
    }
    // 涉密人员 by member DN: every fifth person; 项目组 by memberUid: every seventh.
    l += &ldif("dn", &format!("cn=涉密人员,ou=groups,{SUFFIX}"));
    l += "objectClass: groupOfNames\n";
    l += &ldif("cn", "涉密人员");
    for p in people.iter().step_by(5) {
        l += &ldif("member", &p.dn);
    }
    l += "\n";
    l += &ldif("dn", &format!("cn=项目组,ou=groups,{SUFFIX}"));
    l += "objectClass: posixGroup\ngidNumber: 5001\n";
    l += &ldif("cn", "项目组");
    for p in people.iter().step_by(7) {
        l += &ldif("memberUid", &p.account);
    }
    l += "\n";
    // Role groups: person 1 sysadmin, 2 secadmin, 3 auditor, 4 secadmin and auditor.
    for (cn, who) in [
        ("baomi-sysadmin", vec![1]),
        ("baomi-secadmin", vec![2, 4]),
        ("baomi-auditor", vec![3, 4]),
    ] {
        l += &format!("dn: cn={cn},ou=groups,{SUFFIX}\nobjectClass: groupOfNames\ncn: {cn}\n");
        for i in who {
            l += &ldif("member", &people[i].dn);
        }
        l += "\n";
    }
    (l, people)
}
