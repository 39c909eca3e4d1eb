//! An OpenLDAP directory (Debian's `slapd`, run from a temporary folder with its own
//! configuration, never the system instance), loaded with a few people and groups, offering
//! StartTLS with a certificate for 127.0.0.1 that the tests trust through `ca_file`.

use super::{free_port, spawn_for_life, wait_for_port};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

pub const BASE_DN: &str = "dc=corp,dc=test";
pub const SERVICE_DN: &str = "cn=poort,ou=services,dc=corp,dc=test";
pub const SERVICE_PASSWORD: &str = "service-password";
/// Every person's directory password.
pub const PASSWORD: &str = "directory-password";
pub const ADMINS_GROUP: &str = "cn=crm-admins,ou=groups,dc=corp,dc=test";

/// People: (uid, display name, mail, member of crm-admins).
pub const PEOPLE: &[(&str, &str, &str, bool)] = &[
    ("jdoe", "John Doe", "jdoe@corp.test", true),
    ("asmith", "Anna Smith", "asmith@corp.test", false),
    ("twin1", "Twin One", "twin@corp.test", false),
    ("twin2", "Twin Two", "twin@corp.test", false),
];

pub struct Directory {
    /// `ldap://127.0.0.1:<port>` (StartTLS offered).
    pub url: String,
    /// The CA (the server's own certificate) to trust.
    pub ca_file: PathBuf,
    _dir: tempfile::TempDir,
}

fn which(program: &str) -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> =
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).map(|d| d.join(program)).collect();
    candidates.push(Path::new("/usr/sbin").join(program));
    candidates.into_iter().find(|c| c.is_file())
}

pub fn shared() -> &'static Directory {
    static DIRECTORY: OnceLock<Directory> = OnceLock::new();
    DIRECTORY.get_or_init(start)
}

fn ldif() -> String {
    let mut text = format!(
        "dn: {BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\no: Corp\ndc: corp\n\n\
         dn: ou=people,{BASE_DN}\nobjectClass: organizationalUnit\nou: people\n\n\
         dn: ou=groups,{BASE_DN}\nobjectClass: organizationalUnit\nou: groups\n\n\
         dn: ou=services,{BASE_DN}\nobjectClass: organizationalUnit\nou: services\n\n\
         dn: {SERVICE_DN}\nobjectClass: person\ncn: poort\nsn: service\nuserPassword: {SERVICE_PASSWORD}\n\n"
    );
    let mut admins = Vec::new();
    for (uid, name, mail, admin) in PEOPLE {
        let surname = name.split(' ').next_back().unwrap();
        text.push_str(&format!(
            "dn: uid={uid},ou=people,{BASE_DN}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {name}\nsn: {surname}\n\
             displayName: {name}\nmail: {mail}\nuserPassword: {PASSWORD}\n\n"
        ));
        if *admin {
            admins.push(format!("member: uid={uid},ou=people,{BASE_DN}"));
        }
    }
    text.push_str(&format!("dn: {ADMINS_GROUP}\nobjectClass: groupOfNames\ncn: crm-admins\n{}\n", admins.join("\n")));
    text
}

fn start() -> Directory {
    let slapd = which("slapd").expect("the LDAP tests need slapd: run scripts/test (it installs Debian's slapd and ldap-utils)");
    let slapadd = which("slapadd").expect("slapadd comes with slapd");
    let dir = tempfile::Builder::new().prefix("poort-slapd.").tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("data")).unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let ca_file = root.join("server.pem");
    std::fs::write(&ca_file, cert.cert.pem()).unwrap();
    std::fs::write(root.join("server.key"), cert.signing_key.serialize_pem()).unwrap();
    let config = format!(
        "include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\n\
         include /etc/ldap/schema/inetorgperson.schema\npidfile {root}/slapd.pid\n\
         TLSCertificateFile {root}/server.pem\nTLSCertificateKeyFile {root}/server.key\n\
         modulepath /usr/lib/ldap\nmoduleload back_mdb\ndatabase mdb\nsuffix \"{BASE_DN}\"\n\
         rootdn \"cn=admin,{BASE_DN}\"\nrootpw admin-secret\ndirectory {root}/data\nmaxsize 10485760\n\
         access to attrs=userPassword by self =xw by anonymous auth by * none\n\
         access to * by dn.exact=\"{SERVICE_DN}\" read by self read by * none\n",
        root = root.display()
    );
    std::fs::write(root.join("slapd.conf"), config).unwrap();
    std::fs::write(root.join("data.ldif"), ldif()).unwrap();
    let loaded = Command::new(&slapadd)
        .arg("-f")
        .arg(root.join("slapd.conf"))
        .arg("-l")
        .arg(root.join("data.ldif"))
        .output()
        .expect("slapadd runs");
    assert!(loaded.status.success(), "slapadd: {}", String::from_utf8_lossy(&loaded.stderr));
    let port = free_port();
    let mut command = Command::new(&slapd);
    command
        .arg("-f")
        .arg(root.join("slapd.conf"))
        .arg("-h")
        .arg(format!("ldap://127.0.0.1:{port}/"))
        .args(["-d", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let child = spawn_for_life(command).expect("slapd starts");
    std::mem::forget(child);
    wait_for_port(port, "slapd");
    Directory { url: format!("ldap://127.0.0.1:{port}"), ca_file, _dir: dir }
}
