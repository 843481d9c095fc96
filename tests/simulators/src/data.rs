//! The Dataset: everything the simulators start from, plus the credentials and the ground truth.
//! It is also the `--data FILE` format. ARMOR records are typed (read-only service); ConnectWise
//! records that the API mutates (companies, tickets, notes) are kept as JSON in the service's own
//! shape, because the service filters, projects and patches them generically.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    /// The generator seed, when generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    pub credentials: Credentials,
    pub armor: ArmorData,
    pub connectwise: ConnectWiseData,
    #[serde(default)]
    pub truth: Truth,
    /// HaloPSA data derived from the ConnectWise companies (absent in older files: filled at start).
    #[serde(default)]
    pub halo: HaloData,
    /// Stellar Cyber tenants, users and cases (absent in older files: generated for the seed at start).
    #[serde(default)]
    pub stellar: StellarData,
    /// The Microsoft Graph mailbox (absent in older files: generated for the seed at start).
    #[serde(default)]
    pub mail: MailData,
    /// The RSA Archer instance (absent in older files: generated for the seed at start).
    #[serde(default)]
    pub archer: ArcherData,
    /// The Microsoft Graph directory: users, mailboxes, FullAccess permissions, groups (absent in
    /// older files: generated for the seed at start).
    #[serde(default)]
    pub directory: DirectoryData,
    /// The Zivver SCIM organization (absent in older files: generated from the directory at start).
    #[serde(default)]
    pub zivver: ZivverData,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Credentials {
    pub armor: ArmorCredentials,
    pub connectwise: ConnectWiseCredentials,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArmorCredentials {
    /// The MSP's own (root) account: the caller's account for both auth modes.
    pub account_id: i64,
    pub username: String,
    pub password: String,
    /// A second user whose correct password gets 403 (MFA required).
    pub mfa_username: String,
    pub mfa_password: String,
    pub key_id: String,
    pub secret_key: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConnectWiseCredentials {
    pub company_id: String,
    pub public_key: String,
    pub private_key: String,
    pub client_id: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ArmorData {
    pub accounts: Vec<ArmorAccount>,
    pub tickets: Vec<ArmorTicket>,
}

/// `GET /accounts` fields plus the address `GET /accounts/{id}` answers with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArmorAccount {
    pub id: i64,
    pub name: String,
    pub currency: String,
    pub status: String,
    pub parent: i64,
    #[serde(default)]
    pub products: Value,
    pub account_type: String,
    pub is_synced: bool,
    pub is_free_trial: bool,
    #[serde(default)]
    pub address: ArmorAddress,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArmorAddress {
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArmorTicket {
    pub issue_key_id: String,
    /// The account the ticket belongs to (the X-Account-Context that lists it).
    pub account_id: i64,
    pub summary: String,
    #[serde(default)]
    pub description: String,
    pub current_status: String,
    pub request_type: String,
    pub reporter: String,
    pub assignee: Option<String>,
    #[serde(default)]
    pub priority: String,
    pub created_date: String,
    pub updated_date: String,
    #[serde(default)]
    pub comments: Vec<ArmorComment>,
    /// The quirk of some old tickets: `/comments` answers 404 instead of `[]`.
    #[serde(default)]
    pub comments404: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArmorComment {
    pub id: i64,
    pub author: String,
    pub body: String,
    pub created: String,
    pub public: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConnectWiseData {
    /// e.g. "v4_6_release/": the API lives under `/{codebase}apis/3.0`.
    pub codebase: String,
    /// Company custom field definitions; every company lists all of them.
    pub custom_fields: Vec<CustomFieldDef>,
    pub territories: Vec<Territory>,
    /// Company records, CW shape (`id`, `identifier`, `name`, `status`, ..., `customFields`).
    pub companies: Vec<Value>,
    pub boards: Vec<Board>,
    pub statuses: Vec<BoardStatus>,
    pub priorities: Vec<Priority>,
    /// Service ticket records, CW shape.
    #[serde(default)]
    pub tickets: Vec<Value>,
    /// Ticket notes, CW shape plus `ticketId`.
    #[serde(default)]
    pub notes: Vec<Value>,
    /// `GET /system/members` (absent in older files: generated at start).
    #[serde(default)]
    pub members: Vec<Member>,
    /// `GET /service/boards/{id}/teams`, every board's.
    #[serde(default)]
    pub teams: Vec<BoardTeam>,
    /// `GET /service/boards/{id}/types`, every board's.
    #[serde(default)]
    pub types: Vec<BoardType>,
    /// Ticket custom field definitions; every ticket lists all of them.
    #[serde(default)]
    pub ticket_custom_fields: Vec<CustomFieldDef>,
}

/// A ConnectWise member (`licenseClass` F = full member, A = API member).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub id: i64,
    pub identifier: String,
    pub first_name: String,
    pub last_name: String,
    #[serde(default)]
    pub office_email: Option<String>,
    #[serde(default)]
    pub inactive_flag: bool,
    #[serde(default = "full_member")]
    pub license_class: String,
}

fn full_member() -> String {
    "F".into()
}

impl Member {
    /// "John Smith", as a member reference names it.
    pub fn name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name).trim().to_string()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BoardTeam {
    pub id: i64,
    pub name: String,
    pub board_id: i64,
    #[serde(default)]
    pub team_leader_id: Option<i64>,
    /// Member ids.
    #[serde(default)]
    pub members: Vec<i64>,
    #[serde(default)]
    pub default_flag: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BoardType {
    pub id: i64,
    pub name: String,
    pub board_id: i64,
    /// Reactive or Proactive.
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub default_flag: bool,
    #[serde(default)]
    pub inactive_flag: bool,
    #[serde(default)]
    pub request_for_change_flag: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomFieldDef {
    pub id: i64,
    pub caption: String,
    /// Text, Number, Date or Checkbox.
    #[serde(rename = "type")]
    pub field_type: String,
    pub entry_method: String,
    pub number_of_decimals: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Territory {
    pub id: i64,
    pub name: String,
    /// A retired territory: companies still carrying it fail PATCH re-validation.
    #[serde(default)]
    pub inactive: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Board {
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub inactive_flag: bool,
    #[serde(default)]
    pub project_flag: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BoardStatus {
    pub id: i64,
    pub name: String,
    pub board_id: i64,
    pub sort_order: i64,
    #[serde(default)]
    pub closed_status: bool,
    #[serde(default)]
    pub default_flag: bool,
    #[serde(default)]
    pub inactive: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Priority {
    pub id: i64,
    pub name: String,
    pub sort_order: i64,
    #[serde(default)]
    pub default_flag: bool,
}

/// The Halo instance: credentials, lookups (instance-specific ids) and the records the API mutates,
/// kept as JSON in Halo's shape (clients, sites, tickets, actions).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HaloData {
    pub credentials: HaloCredentials,
    pub ticket_types: Vec<HaloRef>,
    pub statuses: Vec<HaloStatus>,
    /// `id` is Halo's `priorityid`.
    pub priorities: Vec<HaloRef>,
    pub teams: Vec<HaloRef>,
    /// `GET /Lookup?lookupid=12`.
    pub impacts: Vec<HaloRef>,
    /// `GET /Lookup?lookupid=27`.
    pub urgencies: Vec<HaloRef>,
    pub agents: Vec<HaloAgent>,
    /// Client custom field definitions (every client lists all of them).
    pub client_fields: Vec<HaloRef>,
    /// Ticket custom field definitions.
    pub ticket_fields: Vec<HaloRef>,
    pub clients: Vec<Value>,
    pub sites: Vec<Value>,
    pub tickets: Vec<Value>,
    pub actions: Vec<Value>,
    /// ConnectWise company id -> the Halo client generated from it (so `truth` applies to Halo).
    pub client_of_company: std::collections::BTreeMap<i64, i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HaloCredentials {
    /// The hosted tenant name (`?tenant=` on the token request).
    pub tenant: String,
    pub client_id: String,
    pub client_secret: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HaloRef {
    pub id: i64,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HaloStatus {
    pub id: i64,
    pub name: String,
    /// A closed-type status (`"type": "closed"`).
    pub closed: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HaloAgent {
    pub id: i64,
    pub name: String,
    pub email: String,
}

impl HaloData {
    /// True for data files written before the Halo simulator existed.
    pub fn is_empty(&self) -> bool {
        self.credentials.client_id.is_empty() && self.clients.is_empty()
    }

    pub fn status_id(&self, name: &str) -> Option<i64> {
        self.statuses.iter().find(|s| s.name.eq_ignore_ascii_case(name)).map(|s| s.id)
    }

    /// The id of the client custom field with this name, e.g. "ARMORcompanyId".
    pub fn client_field_id(&self, name: &str) -> Option<i64> {
        self.client_fields.iter().find(|f| f.name == name).map(|f| f.id)
    }

    pub fn ticket_type_id(&self, name: &str) -> Option<i64> {
        self.ticket_types.iter().find(|t| t.name.eq_ignore_ascii_case(name)).map(|t| t.id)
    }

    pub fn priority_id(&self, name: &str) -> Option<i64> {
        self.priorities.iter().find(|p| p.name.eq_ignore_ascii_case(name)).map(|p| p.id)
    }

    /// The initial Halo client generated from ConnectWise company `company_id`.
    pub fn client_for_company(&self, company_id: i64) -> Option<&Value> {
        let id = *self.client_of_company.get(&company_id)?;
        self.clients.iter().find(|c| c["id"].as_i64() == Some(id))
    }
}

/// The Stellar Cyber Data Processor: credentials, tenants, users and the cases the API mutates,
/// kept as JSON in Stellar's shape (cases, comments).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StellarData {
    pub credentials: StellarCredentials,
    /// Generated times (epoch ms) lie before this instant; the simulator shifts every case and
    /// comment time by `start - anchor_ms`, so the data is recent whenever it starts. None = as is.
    pub anchor_ms: Option<i64>,
    pub tenants: Vec<StellarTenant>,
    /// The sync user first, then the analysts.
    pub users: Vec<StellarUser>,
    /// Case records, Stellar's shape (`_id`, `ticket_id`, `name`, `status`, ..., `modified_at`).
    pub cases: Vec<Value>,
    /// Comment records, Stellar's shape (`_id`, `case_id`, `comment`, `user`, `created_at`, `modified_at`).
    pub comments: Vec<Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StellarCredentials {
    /// The sync user's email: the Basic user of the legacy token request.
    pub user: String,
    pub user_id: String,
    /// The legacy API key (Basic `user:api_key`).
    pub api_key: String,
    /// A 5.5+ scoped API key (Bearer on the token request), belonging to the same user.
    pub scoped_key: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StellarTenant {
    pub cust_id: String,
    pub cust_name: String,
    /// Ground truth: the ConnectWise company the tenant's customer is (via the ARMOR account of the
    /// same name); None for tenants without a counterpart (or an ambiguous/unmatched account).
    #[serde(default)]
    pub company: Option<u64>,
    /// The ARMOR sub-account the tenant was made from.
    #[serde(default)]
    pub armor_id: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StellarUser {
    pub user_id: String,
    pub email: String,
    pub name: String,
}

impl StellarData {
    /// True for data files written before the Stellar simulator existed.
    pub fn is_empty(&self) -> bool {
        self.credentials.api_key.is_empty() && self.tenants.is_empty() && self.cases.is_empty()
    }

    pub fn tenant(&self, cust_id: &str) -> Option<&StellarTenant> {
        self.tenants.iter().find(|t| t.cust_id == cust_id)
    }

    /// The analysts (every user but the sync user).
    pub fn analysts(&self) -> impl Iterator<Item = &StellarUser> {
        self.users.iter().filter(move |u| u.user_id != self.credentials.user_id)
    }
}

/// A shared mailbox in Microsoft Graph: the app's credentials, the folders and the messages.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MailData {
    pub credentials: MailCredentials,
    /// The shared mailbox, e.g. "phishing@contoso.example" (Graph compares it case-insensitively).
    pub mailbox: String,
    /// The display name of the folder the reporters' mails are in ("Phishing").
    pub folder: String,
    pub folders: Vec<MailFolder>,
    /// Generated times (unix seconds) lie before this instant; the simulator shifts every
    /// `received_s` by `start - anchor_s`, so the mails are recent whenever it starts. None = as is.
    pub anchor_s: Option<i64>,
    pub messages: Vec<MailMessage>,
    /// Ground truth: the `internetMessageId`s of the messages in the `folder` folder; each must
    /// become exactly one Archer incident.
    pub truth: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MailCredentials {
    /// The directory (tenant) id, a GUID.
    pub tenant: String,
    /// The app registration's client id, a GUID.
    pub client_id: String,
    pub client_secret: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MailFolder {
    /// Long, opaque, base64-looking (what Graph hands out).
    pub id: String,
    pub display_name: String,
    /// "inbox", "archive", "deleteditems", ...: usable in place of the id in paths.
    #[serde(default)]
    pub well_known: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MailAddress {
    pub name: String,
    pub address: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MailMessage {
    /// The immutable id (`Prefer: IdType="ImmutableId"`); the REST id is derived from it and the
    /// number of moves.
    pub id: String,
    /// The id of the folder it is in.
    pub folder_id: String,
    /// "<...@domain>": the stable de-duplication key.
    pub internet_message_id: String,
    pub subject: Option<String>,
    /// None: the message has no `from` at all.
    pub from: Option<MailAddress>,
    pub to: Vec<MailAddress>,
    pub cc: Vec<MailAddress>,
    /// Unix seconds (Graph's second precision).
    pub received_s: i64,
    pub body_text: String,
    pub body_html: String,
    pub has_attachments: bool,
    #[serde(default)]
    pub categories: Vec<String>,
}

impl MailData {
    /// True for data files written before the Graph simulator existed.
    pub fn is_empty(&self) -> bool {
        self.credentials.client_id.is_empty() && self.messages.is_empty()
    }

    /// The folder with this display name (case-insensitive), well-known name or id.
    pub fn folder_named(&self, name: &str) -> Option<&MailFolder> {
        self.folders.iter().find(|f| {
            f.id == name
                || f.display_name.eq_ignore_ascii_case(name)
                || f.well_known.as_deref().is_some_and(|w| w.eq_ignore_ascii_case(name))
        })
    }
}

/// An RSA Archer instance: the login, the metadata (applications, levels, fields, values lists,
/// users; ids instance-specific) and the content records.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ArcherData {
    pub credentials: ArcherCredentials,
    pub applications: Vec<ArcherApplication>,
    pub levels: Vec<ArcherLevel>,
    pub fields: Vec<ArcherField>,
    /// Values list values of every values list.
    pub values: Vec<ArcherValue>,
    pub users: Vec<ArcherUser>,
    /// Pre-existing records (none carries a Message ID).
    pub contents: Vec<ArcherContent>,
    /// The id the next created record gets.
    pub next_content_id: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ArcherCredentials {
    pub instance: String,
    pub user: String,
    pub domain: String,
    pub password: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArcherApplication {
    pub id: i64,
    pub name: String,
    pub alias: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArcherLevel {
    pub id: i64,
    pub name: String,
    pub alias: String,
    pub module_id: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArcherField {
    pub id: i64,
    pub name: String,
    pub alias: String,
    /// 1 text, 2 numeric, 3 date, 4 values list, 6 tracking id, 7 external links, 8 users/groups,
    /// 9 cross-reference, 19 IP address.
    pub field_type: i64,
    pub is_required: bool,
    pub level_id: i64,
    #[serde(default)]
    pub values_list_id: Option<i64>,
    /// Text fields: the longest value accepted (characters).
    #[serde(default)]
    pub max_length: Option<usize>,
    /// Values lists: the most values one record may select.
    #[serde(default)]
    pub max_selections: Option<usize>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArcherValue {
    pub id: i64,
    pub name: String,
    pub values_list_id: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArcherUser {
    pub id: i64,
    pub user_name: String,
    pub display_name: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArcherContent {
    pub id: i64,
    pub level_id: i64,
    /// Field id -> the value in the API's shape for the field's type (no tracking id: derived).
    pub fields: std::collections::BTreeMap<i64, Value>,
}

impl ArcherData {
    /// True for data files written before the Archer simulator existed.
    pub fn is_empty(&self) -> bool {
        self.applications.is_empty()
    }

    pub fn application(&self, name: &str) -> Option<&ArcherApplication> {
        self.applications.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The field with this name on this level.
    pub fn field(&self, level_id: i64, name: &str) -> Option<&ArcherField> {
        self.fields.iter().find(|f| f.level_id == level_id && f.name.eq_ignore_ascii_case(name))
    }

    pub fn level_of(&self, module_id: i64) -> Option<&ArcherLevel> {
        self.levels.iter().find(|l| l.module_id == module_id)
    }

    /// The value named `name` in values list `list_id`.
    pub fn value(&self, list_id: i64, name: &str) -> Option<&ArcherValue> {
        self.values.iter().find(|v| v.values_list_id == list_id && v.name.eq_ignore_ascii_case(name))
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    pub accounts: Vec<TruthEntry>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    Match,
    Ambiguous,
    None,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TruthEntry {
    pub armor_id: i64,
    pub armor_name: String,
    pub expect: Expect,
    /// The one match, or both ambiguous candidates; empty for "none".
    pub company_ids: Vec<i64>,
    /// exact, case_punct, and_amp, accent, the_prefix, suffix, whitespace, typo, address,
    /// ambiguous, none, decoy, custom_field, deleted, root.
    pub kind: String,
    /// Companies that look related but must NOT be matched (decoys, deleted twins, address twins).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub decoy_ids: Vec<i64>,
}

impl Dataset {
    pub fn truth_for(&self, armor_id: i64) -> Option<&TruthEntry> {
        self.truth.accounts.iter().find(|t| t.armor_id == armor_id)
    }

    /// Look a company up by id in the initial data.
    pub fn company(&self, id: i64) -> Option<&Value> {
        self.connectwise.companies.iter().find(|c| c["id"].as_i64() == Some(id))
    }

    /// The id of the custom field with this caption, e.g. "ARMORcompanyId".
    pub fn custom_field_id(&self, caption: &str) -> Option<i64> {
        self.connectwise.custom_fields.iter().find(|d| d.caption == caption).map(|d| d.id)
    }

    /// The id of the ticket custom field with this caption, e.g. "Customer Reference".
    pub fn ticket_custom_field_id(&self, caption: &str) -> Option<i64> {
        self.connectwise.ticket_custom_fields.iter().find(|d| d.caption == caption).map(|d| d.id)
    }

    /// The member with this identifier (case-insensitive), e.g. "jsmith".
    pub fn member(&self, identifier: &str) -> Option<&Member> {
        self.connectwise.members.iter().find(|m| m.identifier.eq_ignore_ascii_case(identifier))
    }

    /// The ARMORtickets board's id.
    pub fn armor_board_id(&self) -> Option<i64> {
        self.connectwise.boards.iter().find(|b| b.name.eq_ignore_ascii_case("ARMORtickets")).map(|b| b.id)
    }
}

/// The tenant's directory as Microsoft Graph shows it (same app registration as the mailbox:
/// `MailData::credentials`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DirectoryData {
    pub users: Vec<DirUser>,
    pub groups: Vec<DirGroup>,
}

impl DirectoryData {
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty()
    }

    /// A user by object id or userPrincipalName (case-insensitive), as Graph's `/users/{id|upn}`.
    pub fn user(&self, key: &str) -> Option<&DirUser> {
        self.users.iter().find(|u| u.id.eq_ignore_ascii_case(key) || u.user_principal_name.eq_ignore_ascii_case(key))
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DirUser {
    /// The object id (a GUID): Exchange's ExternalDirectoryObjectId, Zivver's SsoAccountKey.
    pub id: String,
    /// As typed in the admin centre (may carry padding and accents).
    pub display_name: String,
    /// None: no mailbox.
    pub mail: Option<String>,
    pub user_principal_name: String,
    /// "SMTP:primary" (exactly one, upper-case prefix), "smtp:alias", "X500:...", "SIP:...", "spo:...".
    pub proxy_addresses: Vec<String>,
    pub account_enabled: bool,
    /// The mailbox's `userPurpose`: "user", "shared", "room", "equipment"; None = no mailbox.
    pub purpose: Option<String>,
    /// UPNs holding FullAccess on this user's mailbox.
    pub full_access: Vec<String>,
    /// Other mailbox permissions (not FullAccess), listed too; clients must ignore them.
    pub other_permissions: Vec<DirPermission>,
    /// mailboxSettings `timeZone`.
    pub time_zone: String,
}

impl DirUser {
    /// The primary SMTP address (the `SMTP:` entry), as written.
    pub fn primary_smtp(&self) -> Option<&str> {
        self.proxy_addresses.iter().find_map(|p| p.strip_prefix("SMTP:"))
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DirPermission {
    pub user: String,
    pub access_rights: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DirGroup {
    pub id: String,
    pub display_name: String,
    /// Direct members: user or group object ids.
    pub members: Vec<String>,
}

/// A Zivver organization: the SCIM API key, its valid divisions and claimed domains, and the
/// accounts it already has.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ZivverData {
    pub api_key: String,
    /// Valid `division` values ("/" is the root, always valid).
    pub divisions: Vec<String>,
    /// Claimed e-mail domains: userName, aliases and externalId must be in one of them.
    pub domains: Vec<String>,
    pub users: Vec<ZivverUser>,
    pub groups: Vec<ZivverGroup>,
}

impl ZivverData {
    pub fn is_empty(&self) -> bool {
        self.api_key.is_empty()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ZivverUser {
    pub id: String,
    pub user_name: String,
    pub name: String,
    pub active: bool,
    pub aliases: Vec<String>,
    /// userNames (e-mail addresses) of the delegate users.
    pub delegates: Vec<String>,
    /// Write-only over SCIM.
    pub sso_account_key: Option<String>,
    pub external_account_id: Option<String>,
    /// "/" = none.
    pub division: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ZivverGroup {
    pub id: String,
    /// The shared mailbox's primary SMTP address.
    pub external_id: String,
    pub display_name: String,
    /// Zivver user ids.
    pub members: Vec<String>,
    pub aliases: Vec<String>,
    pub external_account_id: Option<String>,
}
