//! The Microsoft Graph directory (users, mailboxes, FullAccess permissions, groups) and the Zivver
//! organization that an earlier, half-finished sync left behind. Each from an RNG stream of its own,
//! so every other service's data of a seed stays byte-identical.
//!
//! The mess: primary addresses whose case differs from `mail`, `smtp:` aliases on two claimed
//! domains plus `*.onmicrosoft.com` ones (not claimed in Zivver), `X500:`/`SIP:`/`spo:` entries,
//! shared mailboxes (accountEnabled false by design) with 1–4 delegates (one with none), disabled
//! user mailboxes, users without a mailbox, a room with a delegate, user mailboxes with delegates of
//! their own, padded and accented display names, UPNs on the onmicrosoft domain.

use crate::data::*;
use crate::names::fold;
use rand::rngs::ChaCha8Rng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, RngExt, SeedableRng};
use std::collections::HashSet;

/// Default number of directory users.
pub const DIRECTORY_DEFAULT_USERS: usize = 60;
/// The claimed domains (Zivver accepts addresses on these only).
pub const DIRECTORY_DOMAINS: [&str; 2] = ["contoso.example", "fabrikam.example"];
/// The tenant's initial domain: aliases there exist in Exchange but not in Zivver.
pub const DIRECTORY_INITIAL_DOMAIN: &str = "contoso.onmicrosoft.com";
/// The group a filtered sync may be limited to.
pub const ZIVVER_GROUP: &str = "Zivver Users";
/// Zivver's valid divisions in the generated organization.
pub const ZIVVER_DIVISIONS: [&str; 5] = ["/", "/Sales", "/Legal", "/Legal/Contracts", "/Support"];

const FIRST: [&str; 30] = [
    "Ann", "Bram", "Chloé", "Daan", "Eva", "Fleur", "Gijs", "Hanna", "Ivo", "Jasmijn", "Koen", "Lotte", "Maarten",
    "Noor", "Olivier", "Pien", "Quinten", "Roos", "Sven", "Tess", "Ugo", "Vera", "Willem", "Xander", "Yara", "Zoë",
    "Åsa", "Émile", "Sören", "Iñigo",
];
const LAST: [&str; 24] = [
    "Lee",
    "de Vries",
    "Jansen",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "Mulder",
    "de Boer",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "van Dijk",
    "Dekker",
    "Brouwer",
    "Müller",
    "Ångström",
    "Nuñez",
    "O'Brien",
    "Çelik",
    "Løvland",
    "Dvořák",
    "Šimić",
];
const SHARED: [(&str, &str); 12] = [
    ("Sales Team", "sales"),
    ("Support Desk", "support"),
    ("Finance", "finance"),
    ("HR Helpdesk", "hr"),
    ("Servicedesk ICT", "servicedesk"),
    ("Facturen", "facturen"),
    ("Klachten", "klachten"),
    ("Secretariaat", "secretariaat"),
    ("Juridische Zaken", "juridisch"),
    ("Inkoop", "inkoop"),
    ("Marketing", "marketing"),
    ("Receptie", "receptie"),
];
const TIME_ZONES: [&str; 3] = ["W. Europe Standard Time", "W. Europe Standard Time", "UTC"];

fn directory_rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ 0xd1_7ec7_0a1e)
}

fn zivver_rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ 0x21_77e2_5c1a)
}

fn hex(rng: &mut ChaCha8Rng, bytes: usize) -> String {
    (0..bytes).map(|_| format!("{:02x}", rng.next_u32() as u8)).collect()
}

pub(crate) fn guid(rng: &mut ChaCha8Rng) -> String {
    let h = hex(rng, 16);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// "de Vries" -> "devries", "O'Brien" -> "obrien", "Ångström" -> "angstrom".
fn local_part(s: &str) -> String {
    fold(s).to_lowercase().chars().filter(|c| c.is_ascii_alphanumeric()).collect()
}

/// "ann.lee" -> "Ann.Lee" (how admins often type addresses).
fn capitalized(local: &str) -> String {
    local
        .split('.')
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The X500/SIP/spo clutter of a mailbox.
fn clutter(rng: &mut ChaCha8Rng, local: &str, domain: &str) -> Vec<String> {
    let mut out = Vec::new();
    if rng.random_bool(0.6) {
        out.push(format!(
            "X500:/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn={}-{local}",
            hex(rng, 16)
        ));
    }
    if rng.random_bool(0.4) {
        out.push(format!("SIP:{local}@{domain}"));
    }
    if rng.random_bool(0.3) {
        out.push(format!("spo:SPO_{}@SPO_{}", guid(rng), guid(rng)));
    }
    out
}

#[derive(Clone, Copy, PartialEq)]
enum Role {
    User,
    Disabled,
    Shared,
    Room,
    NoMailbox,
}

/// A new user mailbox (or shared one) as `/_sim/graph/directory` `add_user` makes it.
pub(crate) fn new_dir_user(id: String, display_name: &str, address: &str, shared: bool) -> DirUser {
    DirUser {
        id,
        display_name: display_name.to_string(),
        mail: Some(address.to_string()),
        user_principal_name: address.to_ascii_lowercase(),
        proxy_addresses: vec![format!("SMTP:{address}")],
        account_enabled: !shared,
        purpose: Some(if shared { "shared" } else { "user" }.into()),
        full_access: Vec::new(),
        other_permissions: Vec::new(),
        time_zone: TIME_ZONES[0].into(),
    }
}

/// `users` directory users (at least 1), deterministic per seed.
pub fn directory_from(seed: u64, users: usize) -> DirectoryData {
    let n = users.clamp(1, 20_000);
    let mut rng = directory_rng(seed);
    let shared = ((n as f64 * 0.12).round() as usize).clamp(1, SHARED.len() * 50);
    let room = usize::from(n >= 8);
    let none = if n >= 4 { (n / 20).max(1) } else { 0 };
    let disabled = if n >= 6 { (n / 20).max(1) } else { 0 };
    let mut roles = Vec::new();
    roles.extend(std::iter::repeat_n(Role::Shared, shared.min(n.saturating_sub(1)).max(usize::from(n == 1))));
    roles.extend(std::iter::repeat_n(Role::Room, room));
    roles.extend(std::iter::repeat_n(Role::NoMailbox, none));
    roles.extend(std::iter::repeat_n(Role::Disabled, disabled));
    roles.truncate(n.saturating_sub(1).max(1));
    while roles.len() < n {
        roles.push(Role::User);
    }
    roles.shuffle(&mut rng);

    let mut used: HashSet<String> = HashSet::new();
    let mut out: Vec<DirUser> = Vec::new();
    let mut shared_n = 0usize;
    for role in &roles {
        let domain = if rng.random_bool(0.75) { DIRECTORY_DOMAINS[0] } else { DIRECTORY_DOMAINS[1] };
        let (display, local) = match role {
            Role::Shared => {
                let (name, local) = SHARED[shared_n % SHARED.len()];
                let round = shared_n / SHARED.len();
                shared_n += 1;
                if round == 0 {
                    (name.to_string(), local.to_string())
                } else {
                    (format!("{name} {}", round + 1), format!("{local}{}", round + 1))
                }
            }
            Role::Room => ("Vergaderruimte Zeezicht".to_string(), "ruimte.zeezicht".to_string()),
            _ => {
                let f = *FIRST.choose(&mut rng).expect("names");
                let l = *LAST.choose(&mut rng).expect("names");
                (format!("{f} {l}"), format!("{}.{}", local_part(f), local_part(l)))
            }
        };
        let mut local = local;
        if !used.insert(local.clone()) {
            let mut i = 2;
            while !used.insert(format!("{local}{i}")) {
                i += 1;
            }
            local = format!("{local}{i}");
        }
        let display = match rng.random_range(0..10) {
            0 => format!("  {display} "),
            1 => format!("{display} "),
            _ => display,
        };
        let id = guid(&mut rng);
        let on_initial = rng.random_bool(0.15);
        let upn = if on_initial || *role == Role::NoMailbox && rng.random_bool(0.5) {
            format!("{local}@{DIRECTORY_INITIAL_DOMAIN}")
        } else {
            format!("{local}@{domain}")
        };
        let time_zone = TIME_ZONES.choose(&mut rng).expect("zones").to_string();
        if *role == Role::NoMailbox {
            out.push(DirUser {
                id,
                display_name: display,
                mail: None,
                user_principal_name: upn,
                proxy_addresses: Vec::new(),
                account_enabled: true,
                purpose: None,
                time_zone,
                ..DirUser::default()
            });
            continue;
        }
        let mail = format!("{}@{domain}", if rng.random_bool(0.5) { capitalized(&local) } else { local.clone() });
        let primary = match rng.random_range(0..10) {
            0 | 1 => format!("{}@{}", capitalized(&local), capitalized(domain)),
            2 => mail.to_ascii_lowercase(),
            _ => mail.clone(),
        };
        let mut proxies = vec![format!("SMTP:{primary}")];
        proxies.push(format!("smtp:{local}@{DIRECTORY_INITIAL_DOMAIN}"));
        let other_domain = if domain == DIRECTORY_DOMAINS[0] { DIRECTORY_DOMAINS[1] } else { DIRECTORY_DOMAINS[0] };
        if rng.random_bool(0.5) {
            proxies.push(format!("smtp:{local}@{other_domain}"));
        }
        if rng.random_bool(0.3) {
            let short: String = local.split('.').map(|w| w.chars().next().unwrap_or('x')).collect();
            let alias = format!("{short}{}@{domain}", rng.random_range(1..100));
            proxies.push(format!("smtp:{}", if rng.random_bool(0.5) { alias.to_uppercase() } else { alias }));
        }
        proxies.extend(clutter(&mut rng, &local, domain));
        proxies.shuffle(&mut rng);
        let (enabled, purpose) = match role {
            Role::User => (true, "user"),
            Role::Disabled => (false, "user"),
            Role::Shared => (false, "shared"),
            _ => (false, "room"),
        };
        out.push(DirUser {
            id,
            display_name: display,
            mail: Some(mail),
            user_principal_name: upn,
            proxy_addresses: proxies,
            account_enabled: enabled,
            purpose: Some(purpose.into()),
            full_access: Vec::new(),
            other_permissions: Vec::new(),
            time_zone,
        });
    }

    // Permissions: delegates are user mailboxes (mostly enabled ones).
    let people: Vec<String> =
        out.iter().filter(|u| u.purpose.as_deref() == Some("user")).map(|u| u.user_principal_name.clone()).collect();
    let mut first_shared = true;
    for u in out.iter_mut() {
        let me = u.user_principal_name.clone();
        let candidates: Vec<&String> = people.iter().filter(|p| **p != me).collect();
        let k = match u.purpose.as_deref() {
            Some("shared") if first_shared => {
                first_shared = false;
                0
            }
            Some("shared") => rng.random_range(1..=4),
            Some("room") => 1,
            Some("user") if rng.random_bool(0.12) => 1,
            _ => 0,
        };
        let picked: Vec<String> = candidates.sample(&mut rng, k.min(candidates.len())).map(|s| (*s).clone()).collect();
        u.full_access = picked;
        if u.mail.is_some() && rng.random_bool(0.2) {
            let who: Vec<String> = candidates.sample(&mut rng, 1).map(|s| (*s).clone()).collect();
            for w in who {
                let rights = if rng.random_bool(0.5) {
                    vec!["ReadPermission"]
                } else {
                    vec!["ChangePermission", "ReadPermission"]
                };
                u.other_permissions
                    .push(DirPermission { user: w, access_rights: rights.into_iter().map(String::from).collect() });
            }
        }
    }

    // Groups: "Zivver Users" holds most user mailboxes directly and a nested group with a few more.
    let user_ids: Vec<String> =
        out.iter().filter(|u| u.purpose.as_deref() == Some("user")).map(|u| u.id.clone()).collect();
    let mut direct = Vec::new();
    let mut rest = Vec::new();
    for id in &user_ids {
        if rng.random_bool(0.8) { direct.push(id.clone()) } else { rest.push(id.clone()) }
    }
    // Not all: at least one user mailbox is outside the group (when there are two or more).
    if rest.is_empty() && direct.len() >= 2 {
        rest.push(direct.pop().expect("non-empty"));
    }
    let nested_id = guid(&mut rng);
    let mut nested_members: Vec<String> = rest.iter().take(rest.len().div_ceil(2)).cloned().collect();
    if let Some(d) = direct.first() {
        nested_members.push(d.clone());
    }
    let zivver_id = guid(&mut rng);
    let mut zivver_members = direct;
    zivver_members.push(nested_id.clone());
    if let Some(s) = out.iter().find(|u| u.mail.is_none()) {
        zivver_members.push(s.id.clone());
    }
    let all_id = guid(&mut rng);
    let groups = vec![
        DirGroup { id: zivver_id, display_name: ZIVVER_GROUP.into(), members: zivver_members },
        DirGroup { id: nested_id, display_name: "Zivver Users - Legal".into(), members: nested_members },
        DirGroup { id: all_id, display_name: "All Staff".into(), members: user_ids },
    ];
    DirectoryData { users: out, groups }
}

/// A Zivver organization half-synced from `dir` earlier: about half of its user mailboxes with
/// stale names, missing aliases, divisions, ExternalAccountIds and SsoAccountKeys; one user whose
/// mailbox is gone; a group for a shared mailbox with a stale member list; a group for a shared
/// mailbox that no longer exists.
pub fn zivver_from(seed: u64, dir: &DirectoryData) -> ZivverData {
    let mut rng = zivver_rng(seed);
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let tail: String = (0..180).map(|_| *A.choose(&mut rng).expect("alphabet") as char).collect();
    let api_key = format!("Z1.1.2.{tail}");
    let mut users: Vec<ZivverUser> = Vec::new();
    let mailboxes: Vec<&DirUser> =
        dir.users.iter().filter(|u| u.purpose.as_deref() == Some("user") && u.mail.is_some()).collect();
    let mut first = true;
    for u in &mailboxes {
        if !rng.random_bool(0.5) {
            continue;
        }
        let primary = u.primary_smtp().unwrap_or_default().to_string();
        let user_name = if rng.random_bool(0.3) { primary.clone() } else { primary.to_ascii_lowercase() };
        let name = if rng.random_bool(0.25) {
            format!("{} (oud)", u.display_name.trim())
        } else {
            u.display_name.trim().to_string()
        };
        let mut aliases: Vec<String> = u
            .proxy_addresses
            .iter()
            .filter_map(|p| p.strip_prefix("smtp:"))
            .filter(|a| DIRECTORY_DOMAINS.iter().any(|d| a.to_ascii_lowercase().ends_with(&format!("@{d}"))))
            .map(str::to_ascii_lowercase)
            .collect();
        if rng.random_bool(0.3) {
            aliases.pop();
        }
        let division = if rng.random_bool(0.4) {
            ZIVVER_DIVISIONS[1 + rng.random_range(0..ZIVVER_DIVISIONS.len() - 1)].to_string()
        } else {
            "/".into()
        };
        let external_account_id = rng.random_bool(0.5).then(|| format!("zv-{}", hex(&mut rng, 8)));
        let sso_account_key = rng.random_bool(0.7).then(|| u.id.clone());
        // One enabled user stands deactivated in Zivver (it must be reactivated).
        let active = if first && u.account_enabled {
            first = false;
            false
        } else {
            true
        };
        users.push(ZivverUser {
            id: guid(&mut rng),
            user_name,
            name,
            active,
            aliases,
            delegates: Vec::new(),
            sso_account_key,
            external_account_id,
            division,
        });
    }
    // Delegates: some right, some stale (another Zivver user).
    let names: Vec<String> = users.iter().map(|u| u.user_name.clone()).collect();
    for z in users.iter_mut() {
        if names.len() > 1 && rng.random_bool(0.15) {
            let other = names.iter().filter(|n| **n != z.user_name).collect::<Vec<_>>();
            if let Some(o) = other.choose(&mut rng) {
                z.delegates.push((*o).clone());
            }
        }
    }
    for z in users.iter_mut() {
        let Some(u) = mailboxes.iter().find(|u| u.primary_smtp().is_some_and(|p| p.eq_ignore_ascii_case(&z.user_name)))
        else {
            continue;
        };
        if !u.full_access.is_empty() && z.delegates.is_empty() && rng.random_bool(0.5) {
            for upn in &u.full_access {
                let addr = dir.user(upn).and_then(|d| d.primary_smtp()).unwrap_or_default().to_ascii_lowercase();
                if let Some(n) = names.iter().find(|n| n.eq_ignore_ascii_case(&addr)) {
                    z.delegates.push(n.clone());
                }
            }
        }
    }
    // The former employee: still active in Zivver, no mailbox in the directory.
    let orphan = ZivverUser {
        id: guid(&mut rng),
        user_name: format!("oud.medewerker@{}", DIRECTORY_DOMAINS[0]),
        name: "Oud Medewerker".into(),
        active: true,
        aliases: Vec::new(),
        delegates: Vec::new(),
        sso_account_key: Some(guid(&mut rng)),
        external_account_id: Some(format!("zv-{}", hex(&mut rng, 8))),
        division: "/Sales".into(),
    };
    users.push(orphan);

    let mut groups = Vec::new();
    let ids: Vec<String> = users.iter().map(|u| u.id.clone()).collect();
    if let Some(s) = dir.users.iter().find(|u| u.purpose.as_deref() == Some("shared") && !u.full_access.is_empty()) {
        // Stale: one delegate missing (if it is in Zivver at all), one who is not a delegate.
        let mut members = Vec::new();
        for upn in s.full_access.iter().skip(1) {
            let addr = dir.user(upn).and_then(|d| d.primary_smtp()).unwrap_or_default();
            if let Some(z) = users.iter().find(|z| z.user_name.eq_ignore_ascii_case(addr)) {
                members.push(z.id.clone());
            }
        }
        if let Some(extra) = ids.iter().find(|i| !members.contains(i)) {
            members.push(extra.clone());
        }
        groups.push(ZivverGroup {
            id: guid(&mut rng),
            external_id: s.primary_smtp().unwrap_or_default().to_ascii_lowercase(),
            display_name: format!("{} (oud)", s.display_name.trim()),
            members,
            aliases: Vec::new(),
            external_account_id: Some(format!("zv-{}", hex(&mut rng, 8))),
        });
    }
    groups.push(ZivverGroup {
        id: guid(&mut rng),
        external_id: format!("oude-afdeling@{}", DIRECTORY_DOMAINS[0]),
        display_name: "Oude Afdeling".into(),
        members: ids.iter().take(2).cloned().collect(),
        aliases: Vec::new(),
        external_account_id: None,
    });
    ZivverData {
        api_key,
        divisions: ZIVVER_DIVISIONS.iter().map(|s| s.to_string()).collect(),
        domains: DIRECTORY_DOMAINS.iter().map(|s| s.to_string()).collect(),
        users,
        groups,
    }
}
