//! The Microsoft Graph mailbox and the RSA Archer instance, each from an RNG stream of its own (so
//! the other services' data of every seed stays byte-identical).
//!
//! The mailbox is what a SOC's "report phishing" address collects: employees forwarding suspicious
//! mails ("FW:", "Fwd:", unicode, one without subject, one padded, one without `from`), several
//! arriving in the same second (bursts), over the three days before the anchor; a few mails in the
//! Inbox that must not be taken. The Archer instance has the Security Incidents application the
//! contract names, two unrelated ones, and instance-specific five-digit ids.

use crate::data::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use rand::rngs::ChaCha8Rng;
use rand::seq::IndexedRandom;
use rand::{Rng, RngExt, SeedableRng};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};

/// Generated mails lie in the three days before this instant (2025-06-01T00:00:00Z).
pub const MAIL_ANCHOR_S: i64 = 1_748_736_000;
/// Default number of generated messages in the Phishing folder.
pub const MAIL_DEFAULT_MESSAGES: usize = 40;
/// Inbox messages that are not in the Phishing folder.
const INBOX_MESSAGES: usize = 4;
pub const MAIL_FOLDER: &str = "Phishing";

fn hex(rng: &mut ChaCha8Rng, bytes: usize) -> String {
    (0..bytes).map(|_| format!("{:02x}", rng.next_u32() as u8)).collect()
}

fn guid(rng: &mut ChaCha8Rng) -> String {
    let h = hex(rng, 16);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

fn b64(rng: &mut ChaCha8Rng, bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rng.fill_bytes(&mut b);
    URL_SAFE.encode(b)
}

/// An Exchange-looking folder id ("AAMkA...AAA=", about 120 characters).
pub(crate) fn folder_id(rng: &mut ChaCha8Rng) -> String {
    format!("AAMkA{}AAA=", b64(rng, 84).trim_end_matches('='))
}

/// An immutable message id ("AAkALg...", about 150 characters).
pub(crate) fn immutable_id(rng: &mut ChaCha8Rng) -> String {
    format!("AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A{}AAA=", b64(rng, 81).trim_end_matches('='))
}

const ORGS: [&str; 4] = ["contoso", "fabrikam", "northwind", "adatum"];
const EMPLOYEES: [(&str, &str); 10] = [
    ("Megan Bowen", "megan.bowen"),
    ("Alex Wilber", "alex.wilber"),
    ("Adele Vance", "adele.vance"),
    ("Diego Siciliani", "diego.siciliani"),
    ("Grady Archie", "grady.archie"),
    ("Lidia Holloway", "lidia.holloway"),
    ("Johanna Lorenz", "johanna.lorenz"),
    ("Zoë Ångström", "zoe.angstrom"),
    ("Nestor Wilke", "nestor.wilke"),
    ("Pradeep Gupta", "pradeep.gupta"),
];
/// (original subject, sender name, sender address, first body line).
const LURES: [(&str, &str, &str, &str); 12] = [
    (
        "Your mailbox is almost full",
        "IT Helpdesk",
        "helpdesk@mail-quota-alert.example",
        "Your mailbox has reached 98% of its quota.",
    ),
    (
        "Invoice #INV-20931 overdue",
        "Accounts Receivable",
        "billing@invoices-secure.example",
        "Please find attached the overdue invoice.",
    ),
    (
        "Réinitialisation de votre mot de passe",
        "Support Microsoft",
        "no-reply@rnicrosoft-support.example",
        "Votre mot de passe expire aujourd'hui.",
    ),
    (
        "【重要】アカウントの確認が必要です",
        "Amazon",
        "account@amaz0n-verify.example",
        "お客様のアカウントは一時的に停止されました。",
    ),
    (
        "📦 Your parcel is waiting for delivery",
        "DHL Express",
        "tracking@dhl-parcel-notice.example",
        "We could not deliver your parcel today.",
    ),
    (
        "Urgent wire transfer request",
        "Satya N.",
        "ceo.office@gmail.example",
        "I need you to process a wire transfer today, discreetly.",
    ),
    (
        "DocuSign: Please review and sign",
        "DocuSign",
        "dse@docusign-envelope.example",
        "You have received a document to review and sign.",
    ),
    (
        "Payroll update – action required",
        "HR Department",
        "hr@payroll-portal.example",
        "Confirm your bank details before Friday's run.",
    ),
    ("Shared file: Q3 Budget.xlsx", "OneDrive", "share@onedrive-files.example", "A file has been shared with you."),
    (
        "Unusual sign-in activity",
        "Microsoft account team",
        "account-security@msverify.example",
        "We detected something unusual about a recent sign-in.",
    ),
    ("Ihre Rechnung vom 28.05.", "Buchhaltung", "rechnung@zahlung-info.example", "Anbei erhalten Sie Ihre Rechnung."),
    (
        "Gift card for the team 🎁",
        "Office Manager",
        "office.manager@outlook.example",
        "Can you buy 5 gift cards for a client? I'll reimburse.",
    ),
];
const REPORTER_NOTES: [&str; 5] = [
    "Hi team,\n\nI received this and it looks suspicious. I did not click anything.",
    "Forwarding as requested. The link goes to a strange domain.",
    "Is this legit? It asks me to log in again.",
    "Hello SOC,\n\nAnother one of these today. Please block the sender.",
    "Reported via the Report Phishing button.",
];
const MESSAGE_ID_HOSTS: [&str; 4] = [
    "CH2PR04MB7012.namprd04.prod.outlook.com",
    "mail.gmail.com",
    "AM6PR10MB2838.EURPRD10.PROD.OUTLOOK.COM",
    "mx.example.net",
];

fn iso(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0).map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string()).unwrap_or_default()
}

pub(crate) fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The HTML version Outlook keeps of a plain body.
pub(crate) fn html_of(text: &str) -> String {
    let lines: Vec<String> = text
        .lines()
        .map(|l| format!("<div>{}</div>", if l.is_empty() { "<br>".to_string() } else { html_escape(l) }))
        .collect();
    format!(
        "<html><head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\r\n</head>\r\n<body>\r\n{}\r\n</body>\r\n</html>\r\n",
        lines.join("\r\n")
    )
}

/// One reported (forwarded) message; `received_s` set by the caller.
pub(crate) fn reported_message(
    rng: &mut ChaCha8Rng,
    mailbox: &str,
    org: &str,
    folder_id: &str,
    received_s: i64,
    subject: Option<String>,
) -> MailMessage {
    let (name, local) = *EMPLOYEES.choose(rng).expect("employees");
    let (lure, sender, sender_addr, first) = *LURES.choose(rng).expect("lures");
    let fw = *["FW: ", "Fwd: ", "FW: ", "Fwd: ", ""].choose(rng).expect("prefixes");
    let subject = subject.unwrap_or_else(|| format!("{fw}{lure}"));
    let note = *REPORTER_NOTES.choose(rng).expect("notes");
    let link =
        format!("https://{}/login?session={}", sender_addr.split('@').nth(1).unwrap_or("x.example"), hex(rng, 6));
    let lines = rng.random_range(2..7);
    let mut original = vec![first.to_string()];
    for i in 0..lines {
        original.push(match i % 3 {
            0 => format!("Click here to continue: {link}"),
            1 => "If you do not act within 24 hours your access will be suspended.".to_string(),
            _ => "Kind regards,\n".to_string() + sender,
        });
    }
    let body_text = format!(
        "{note}\n\nThanks,\n{name}\n\n________________________________\nFrom: {sender} <{sender_addr}>\nSent: {}\nTo: {name} <{local}@{org}.example>\nSubject: {lure}\n\n{}\n",
        iso(received_s - rng.random_range(60..7200)),
        original.join("\n")
    );
    let cc = if rng.random_bool(0.25) {
        let (n, l) = *EMPLOYEES.choose(rng).expect("employees");
        vec![MailAddress { name: n.into(), address: format!("{l}@{org}.example") }]
    } else {
        Vec::new()
    };
    let host = *MESSAGE_ID_HOSTS.choose(rng).expect("hosts");
    MailMessage {
        id: immutable_id(rng),
        folder_id: folder_id.to_string(),
        internet_message_id: format!("<{}.{}@{host}>", hex(rng, 10).to_uppercase(), rng.random_range(1000..99999)),
        subject: Some(subject),
        from: Some(MailAddress { name: name.into(), address: format!("{local}@{org}.example") }),
        to: vec![MailAddress { name: "Phishing Reports".into(), address: mailbox.to_string() }],
        cc,
        received_s,
        body_html: html_of(&body_text),
        body_text,
        has_attachments: rng.random_bool(0.3),
        categories: Vec::new(),
    }
}

/// The mailbox's own RNG stream.
fn mail_rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ 0x6d61_1b0c_5eed)
}

/// A shared mailbox with `messages` reported mails in the Phishing folder and a few in the Inbox.
pub fn mail_from(seed: u64, messages: usize) -> MailData {
    let messages = messages.min(100_000);
    let mut rng = mail_rng(seed);
    let org = *ORGS.choose(&mut rng).expect("orgs");
    let mailbox = format!("phishing@{org}.example");
    let credentials = MailCredentials {
        tenant: guid(&mut rng),
        client_id: guid(&mut rng),
        client_secret: {
            const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789~._-";
            let tail: String = (0..34).map(|_| *A.choose(&mut rng).expect("alphabet") as char).collect();
            format!("{}8Q~{tail}", (b'A' + rng.random_range(0..26u8)) as char)
        },
    };
    let mut folders = Vec::new();
    for (name, wk) in [
        ("Inbox", Some("inbox")),
        ("Archive", Some("archive")),
        ("Deleted Items", Some("deleteditems")),
        ("Drafts", Some("drafts")),
        ("Sent Items", Some("sentitems")),
        ("Junk Email", Some("junkemail")),
        (MAIL_FOLDER, None),
    ] {
        folders.push(MailFolder {
            id: folder_id(&mut rng),
            display_name: name.into(),
            well_known: wk.map(str::to_string),
        });
    }
    let phishing = folders[6].id.clone();
    let inbox = folders[0].id.clone();
    // Times: bursts of 1..=4 mails in one second, the bursts spread over three days.
    let mut times = Vec::new();
    let mut t = MAIL_ANCHOR_S - 3 * 86_400;
    while times.len() < messages {
        t += rng.random_range(60..(3 * 86_400 / (messages.max(1) as i64)).max(61) * 2);
        let burst = if times.is_empty() && messages >= 3 {
            3
        } else if rng.random_bool(0.2) {
            rng.random_range(2..5)
        } else {
            1
        };
        for _ in 0..burst {
            times.push(t.min(MAIL_ANCHOR_S - 1));
        }
    }
    times.truncate(messages);
    times.sort();
    let mut out = Vec::new();
    let mut used = HashSet::new();
    for (i, at) in times.iter().enumerate() {
        let mut m = reported_message(&mut rng, &mailbox, org, &phishing, *at, None);
        while !used.insert(m.internet_message_id.clone()) {
            m.internet_message_id = format!("<{}@{org}.example>", hex(&mut rng, 12));
        }
        out.push((i, m));
    }
    // The quirks, each once (when there are enough messages): no subject, a padded subject,
    // no `from`, a long body.
    let n = out.len();
    if n > 1 {
        out[n / 3].1.subject = None;
    }
    if n > 2 {
        let m = &mut out[n / 2].1;
        m.subject = Some(format!("   {}  ", m.subject.clone().unwrap_or_default()));
    }
    if n > 3 {
        out[(2 * n) / 3].1.from = None;
    }
    if n > 4 {
        let m = &mut out[n - 1].1;
        let extra: Vec<String> = (0..60).map(|i| format!("> line {i} of the quoted original message")).collect();
        m.body_text.push_str(&extra.join("\n"));
        m.body_html = html_of(&m.body_text);
    }
    let mut messages: Vec<MailMessage> = out.into_iter().map(|(_, m)| m).collect();
    let truth = messages.iter().map(|m| m.internet_message_id.clone()).collect();
    for _ in 0..INBOX_MESSAGES {
        let at = MAIL_ANCHOR_S - rng.random_range(600..3 * 86_400);
        let mut m = reported_message(&mut rng, &mailbox, org, &inbox, at, None);
        m.subject = Some(
            ["Team lunch on Friday", "RE: Quarterly report", "Out of office", "Welcome aboard!"]
                [rng.random_range(0..4)]
            .into(),
        );
        m.body_text = "Not a phishing report.\n".into();
        m.body_html = html_of(&m.body_text);
        messages.push(m);
    }
    MailData {
        credentials,
        mailbox,
        folder: MAIL_FOLDER.into(),
        folders,
        anchor_s: Some(MAIL_ANCHOR_S),
        messages,
        truth,
    }
}

/// Unique five-digit ids.
struct Ids<'a> {
    rng: &'a mut ChaCha8Rng,
    used: HashSet<i64>,
}

impl Ids<'_> {
    fn next(&mut self) -> i64 {
        loop {
            let id = self.rng.random_range(10_000..100_000);
            if self.used.insert(id) {
                return id;
            }
        }
    }
}

/// (name, type, required, max length, values).
type FieldSpec = (&'static str, i64, bool, Option<usize>, &'static [&'static str]);

const INCIDENT_FIELDS: [FieldSpec; 14] = [
    ("Incident Title", 1, true, Some(255), &[]),
    ("Description", 1, false, Some(1_000_000), &[]),
    ("Message ID", 1, false, Some(512), &[]),
    ("Reporter Email", 1, false, Some(255), &[]),
    ("Date Reported", 3, false, None, &[]),
    ("Incident Status", 4, false, None, &["New", "Assigned", "In Progress", "Closed"]),
    ("Priority", 4, false, None, &["Low", "Medium", "High", "Critical"]),
    ("Category", 4, false, None, &["Phishing", "Malware", "Spam", "Other"]),
    ("Incident Owner", 8, false, None, &[]),
    ("Related Incidents", 9, false, None, &[]),
    ("Source IP", 19, false, None, &[]),
    ("Tracking ID", 6, false, None, &[]),
    ("Number of Recipients", 2, false, None, &[]),
    ("External References", 7, false, None, &[]),
];

fn alias(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect()
}

/// The Archer instance: Security Incidents (the target), Findings and Policies.
pub fn archer_from(seed: u64) -> ArcherData {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xa7c4_e75e_c0de);
    let password = format!("Arch3r!{}", hex(&mut rng, 6));
    let mut ids = Ids { rng: &mut rng, used: HashSet::new() };
    let mut d = ArcherData {
        credentials: ArcherCredentials {
            instance: "Archer".into(),
            user: "svc_psabridge".into(),
            domain: String::new(),
            password,
        },
        ..ArcherData::default()
    };
    let apps: [(&str, Vec<FieldSpec>); 3] = [
        (
            "Findings",
            vec![
                ("Finding Title", 1, true, Some(255), &[]),
                ("Severity", 4, false, None, &["Low", "Moderate", "High"]),
            ],
        ),
        ("Security Incidents", INCIDENT_FIELDS.to_vec()),
        ("Policies", vec![("Policy Name", 1, true, Some(255), &[]), ("Policy Owner", 8, false, None, &[])]),
    ];
    for (app, fields) in apps {
        let module_id = ids.next();
        d.applications.push(ArcherApplication { id: module_id, name: app.into(), alias: alias(app) });
        let level_id = ids.next();
        d.levels.push(ArcherLevel { id: level_id, name: app.into(), alias: alias(app), module_id });
        for (name, field_type, is_required, max_length, values) in fields {
            let id = ids.next();
            let values_list_id = (field_type == 4).then(|| ids.next());
            if let Some(list) = values_list_id {
                for v in values {
                    d.values.push(ArcherValue { id: ids.next(), name: (*v).into(), values_list_id: list });
                }
            }
            d.fields.push(ArcherField {
                id,
                name: name.into(),
                alias: alias(name),
                field_type,
                is_required,
                level_id,
                values_list_id,
                max_length,
                max_selections: (field_type == 4).then_some(1),
            });
        }
    }
    for (user, first, last) in [
        ("jdoe", "John", "Doe"),
        ("soc.analyst", "SOC", "Analyst"),
        ("asmith", "Alice", "Smith"),
        ("mgarcia", "María", "García"),
        ("svc_psabridge", "PSA Bridge", "Service"),
    ] {
        d.users.push(ArcherUser {
            id: ids.next(),
            user_name: user.into(),
            display_name: format!("{first} {last}"),
            first_name: first.into(),
            last_name: last.into(),
            email: format!("{user}@archer-sim.example"),
        });
    }
    // Two old incidents without a Message ID (entered by hand), both closed.
    let first_content = rng.random_range(200_000..400_000);
    let level = d.levels[1].id;
    let f =
        |d: &ArcherData, name: &str| d.field(level, name).map(|f| (f.id, f.values_list_id)).expect("incident field");
    for (i, (title, status, owner)) in
        [("ABUSE - Printer toner scam call", "Closed", 0usize), ("Lost badge reported at reception", "Closed", 1)]
            .into_iter()
            .enumerate()
    {
        let mut fields = BTreeMap::new();
        fields.insert(f(&d, "Incident Title").0, json!(title));
        fields.insert(f(&d, "Description").0, json!("Entered by hand before the integration."));
        fields.insert(f(&d, "Date Reported").0, json!(format!("2025-0{}-1{}T09:30:00", 3 + i, i)));
        let (sid, list) = f(&d, "Incident Status");
        let value = d.values.iter().find(|v| Some(v.values_list_id) == list && v.name == status).map(|v| v.id);
        fields.insert(sid, json!({"ValuesListIds": [value], "OtherText": Value::Null}));
        fields.insert(f(&d, "Incident Owner").0, json!({"UserList": [{"ID": d.users[owner].id}], "GroupList": []}));
        d.contents.push(ArcherContent { id: first_content + i as i64 * 7, level_id: level, fields });
    }
    d.next_content_id = first_content + 20;
    d
}
