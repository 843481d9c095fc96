//! Vocabulary and name-variant rules for the generated data.
//!
//! Account names are built from `ACCOUNT_WORDS`, `SURNAMES`, `ACCENTED` and `SPECIAL`; unrelated
//! ConnectWise companies only from `OTHER_WORDS`. The lists are kept at edit distance >= 3 from each
//! other (a unit test checks it), so an unrelated company is never a near-match of an account and
//! the ground truth stays true.

pub const ACCOUNT_WORDS: &[&str] = &[
    "Contoso",
    "Northwind",
    "Fabrikam",
    "Tailspin",
    "Wingtip",
    "Litware",
    "Proseware",
    "Woodgrove",
    "Lucerne",
    "Adatum",
    "Relecloud",
    "Bluewater",
    "Granite",
    "Redwood",
    "Ironclad",
    "Silverline",
    "Brightpath",
    "Clearwater",
    "Copperfield",
    "Driftwood",
    "Evergreen",
    "Falconridge",
    "Goldleaf",
    "Highland",
    "Juniper",
    "Keystone",
    "Lakeside",
    "Meridian",
    "Nimbus",
    "Oakmont",
    "Pinnacle",
    "Riverbend",
    "Sapphire",
    "Thornbury",
    "Vantage",
    "Westbrook",
    "Zephyr",
    "Amberly",
    "Birchwood",
    "Cobalt",
    "Dunmore",
    "Elmstead",
    "Foxhollow",
    "Greystone",
    "Hawthorne",
    "Inglewood",
    "Kingsley",
    "Larkspur",
    "Maplestone",
    "Northgate",
    "Pemberton",
    "Rosewood",
    "Stonebridge",
    "Trident",
    "Whitmore",
    "Yardley",
    "Ashford",
    "Bramble",
    "Cedarline",
    "Delmar",
    "Fairhaven",
    "Glenwood",
    "Harrowgate",
    "Isleworth",
    "Kestrel",
    "Lindale",
    "Marlowe",
    "Newhaven",
    "Oxbow",
    "Prescott",
    "Ravenna",
    "Sterling",
    "Tamarack",
    "Waverly",
    "Bellweather",
    "Castlerock",
    "Dovetail",
    "Everly",
    "Fernbrook",
    "Gatesby",
    "Hollister",
    "Ivanhoe",
    "Jasperton",
    "Kettering",
    "Lockhart",
    "Millbrook",
    "Norcross",
    "Ormsby",
    "Penrose",
    "Quimby",
    "Rutherford",
    "Shelbourne",
    "Tillman",
    "Underhill",
    "Vandermeer",
    "Wexford",
    "Yorkshire",
    "Zanfield",
];

pub const OTHER_WORDS: &[&str] = &[
    "Acorn",
    "Beacon",
    "Canyon",
    "Dakota",
    "Echo",
    "Glacier",
    "Horizon",
    "Indigo",
    "Jetstream",
    "Kodiak",
    "Lumen",
    "Mosaic",
    "Nova",
    "Onyx",
    "Prairie",
    "Quantum",
    "Radiant",
    "Summit",
    "Tundra",
    "Vertex",
    "Willow",
    "Xylem",
    "Yukon",
    "Zodiac",
    "Aurora",
    "Boulder",
    "Crescent",
    "Dynamo",
    "Eclipse",
    "Frontier",
    "Gemini",
    "Jovian",
    "Krypton",
    "Legacy",
    "Magnet",
    "Nexus",
    "Orbit",
    "Pioneer",
    "Quest",
    "Rocket",
    "Solstice",
    "Titan",
    "Unity",
    "Voyager",
    "Apex",
    "Bison",
    "Comet",
    "Dawn",
    "Flint",
    "Garnet",
    "Helix",
    "Iris",
    "Javelin",
    "Kinetic",
    "Lotus",
    "Matrix",
    "Nebula",
    "Opal",
    "Pulse",
    "Raptor",
    "Sequoia",
    "Topaz",
    "Ultramarine",
    "Vortex",
    "Wildcat",
    "Yarrow",
    "Alder",
    "Basalt",
    "Cinder",
    "Dune",
    "Ether",
    "Fable",
    "Harbinger",
    "Ironwood",
    "Jubilee",
    "Kraken",
    "Lagoon",
    "Monarch",
    "Nomad",
    "Oasis",
    "Paragon",
    "Quartz",
    "Ridge",
    "Sable",
    "Tempest",
    "Utopia",
    "Velvet",
    "Wren",
    "Yonder",
    "Zest",
];

pub const SURNAMES: &[&str] = &[
    "Finch",
    "Holloway",
    "Mercer",
    "Ashby",
    "Whitfield",
    "Prentiss",
    "Pryce",
    "Langley",
    "Dalton",
    "Everett",
    "Sinclair",
    "Thackeray",
    "Ramsey",
    "Gallagher",
    "Beaumont",
    "Fairbanks",
    "Kendrick",
    "Lockwood",
    "Montague",
    "Norwood",
];

pub const ACCENTED: &[&str] = &[
    "Café",
    "Crème",
    "Zürich",
    "Señor",
    "São",
    "Björk",
    "Élan",
    "Müller",
    "Niño",
    "Façade",
    "Ångström",
    "Søndergaard",
    "Gödel",
    "Brontë",
    "Dvořák",
    "Łódź",
    "Château",
    "Smörgås",
    "Über",
    "Köln",
];

/// Names that stress escaping and unicode (quotes, backslashes, %, _, apostrophes, non-Latin).
pub const SPECIAL: &[&str] = &[
    "Joe's \"Best\" Burgers LLC",
    "AC\\DC Electric Ltd",
    "100% Organic Farms",
    "Data_Stream Analytics",
    "東京システム株式会社",
    "Margie's Travel",
    "Москва Логистика",
    "O'Malley & Sons",
    "Ωmega Labs",
    "Under_Score 20% \"Club\"",
];

pub const INDUSTRIES: &[&str] = &[
    "Dental",
    "Logistics",
    "Consulting",
    "Analytics",
    "Medical",
    "Legal",
    "Engineering",
    "Robotics",
    "Foods",
    "Brewing",
    "Construction",
    "Realty",
    "Insurance",
    "Software",
    "Systems",
    "Networks",
    "Studios",
    "Outfitters",
    "Aviation",
    "Marine",
    "Freight",
    "Energy",
    "Solar",
    "Farms",
    "Bakery",
    "Clinic",
    "Hospitality",
    "Traders",
    "Imports",
    "Textiles",
    "Printing",
    "Plumbing",
    "Electric",
    "Capital",
    "Partners",
    "Ventures",
    "Research",
    "Health",
    "Veterinary",
    "Academy",
    "Motors",
    "Architects",
    "Interiors",
    "Landscaping",
    "Jewelers",
    "Optics",
    "Biotech",
    "Holdings",
    "Industries",
    "Services",
    "Distributors",
    "Manufacturing",
    "Metals",
    "Plastics",
    "Packaging",
    "Transport",
    "Storage",
    "Telecom",
    "Wireless",
    "Marketing",
    "Publishing",
    "Events",
    "Fitness",
    "Wellness",
];

/// Decoy pairs: an account in the first industry gets a decoy in the look-alike second one.
pub const DECOY_PAIRS: &[(&str, &str)] = &[
    ("Traders", "Travel"),
    ("Medical", "Media"),
    ("Dental", "Design"),
    ("Legal", "Lending"),
    ("Foods", "Forestry"),
    ("Energy", "Entertainment"),
    ("Capital", "Catering"),
    ("Consulting", "Cosmetics"),
    ("Insurance", "Investments"),
    ("Logistics", "Locksmiths"),
    ("Analytics", "Apparel"),
    ("Studios", "Supply"),
];

/// Extra words inserted to make "Contoso Pharma Ltd" out of "Contoso Ltd".
pub const DECOY_INSERTS: &[&str] = &["Pharma", "Home", "Global", "Kids", "Auto", "Pet"];

/// Legal-form suffixes and their written-out twin.
pub const SUFFIX_VARIANTS: &[(&str, &str)] = &[
    ("LLC", "L.L.C."),
    ("L.L.C.", "LLC"),
    ("Ltd", "Limited"),
    ("Limited", "Ltd"),
    ("Corp", "Corporation"),
    ("Corporation", "Corp."),
    ("Co", "Company"),
    ("Company", "Co."),
    ("PLC", "P.L.C."),
    ("GmbH", "G.m.b.H."),
];

const SUFFIX_WORDS: &[&str] =
    &["inc", "incorporated", "llc", "ltd", "limited", "corp", "corporation", "co", "company", "plc", "gmbh"];

/// Fold the accented letters the vocabulary uses (and a few more) to ASCII.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let r: &str = match c {
            'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' => "a",
            'Á' | 'À' | 'Â' | 'Ä' | 'Ã' | 'Å' => "A",
            'é' | 'è' | 'ê' | 'ë' => "e",
            'É' | 'È' | 'Ê' | 'Ë' => "E",
            'í' | 'ì' | 'î' | 'ï' => "i",
            'Í' | 'Ì' | 'Î' | 'Ï' => "I",
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'ø' => "o",
            'Ó' | 'Ò' | 'Ô' | 'Ö' | 'Õ' | 'Ø' => "O",
            'ú' | 'ù' | 'û' | 'ü' => "u",
            'Ú' | 'Ù' | 'Û' | 'Ü' => "U",
            'ñ' => "n",
            'Ñ' => "N",
            'ç' => "c",
            'Ç' => "C",
            'ř' => "r",
            'Ř' => "R",
            'ł' => "l",
            'Ł' => "L",
            'ź' | 'ż' | 'ž' => "z",
            'Ź' | 'Ż' | 'Ž' => "Z",
            'š' => "s",
            'Š' => "S",
            'ß' => "ss",
            'æ' => "ae",
            'Æ' => "AE",
            other => {
                out.push(other);
                continue;
            }
        };
        out.push_str(r);
    }
    out
}

/// A canonical key: two names with the same key are "the same company name" for uniqueness.
pub fn key(name: &str) -> String {
    let s = fold(name).to_lowercase().replace('&', " and ");
    let cleaned: String = s
        .chars()
        .filter(|c| !matches!(c, '.' | '\'' | ','))
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    let mut words: Vec<&str> = cleaned.split_whitespace().collect();
    if words.len() > 1 && words[0] == "the" {
        words.remove(0);
    }
    while words.len() > 1 && words.last().is_some_and(|w| SUFFIX_WORDS.contains(w)) {
        words.pop();
    }
    words.join(" ")
}

/// Levenshtein distance over chars (small inputs only).
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Swap the legal-form suffix for its twin ("Ltd" -> "Limited"); None if the name has none.
pub fn swap_suffix(name: &str) -> Option<String> {
    let (head, last) = name.rsplit_once(' ')?;
    SUFFIX_VARIANTS.iter().find(|(a, _)| *a == last).map(|(_, b)| format!("{head} {b}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabularies_are_far_apart() {
        let norm = |w: &str| fold(w).to_lowercase();
        let groups: [&[&str]; 4] = [ACCOUNT_WORDS, OTHER_WORDS, SURNAMES, ACCENTED];
        for (gi, ga) in groups.iter().enumerate() {
            for gb in groups.iter().skip(gi + 1) {
                for a in ga.iter() {
                    for b in gb.iter() {
                        let (x, y) = (norm(a), norm(b));
                        assert!(distance(&x, &y) >= 3, "{a} ~ {b}");
                        assert!(!x.starts_with(&y) && !y.starts_with(&x), "{a} prefix {b}");
                    }
                }
            }
        }
    }

    #[test]
    fn keys() {
        assert_eq!(key("Contoso, Inc."), key("CONTOSO INC"));
        assert_eq!(key("Contoso, Inc."), key("Contoso Incorporated"));
        assert_eq!(key("The Café Noir Ltd"), key("Cafe Noir Limited"));
        assert_eq!(key("Finch & Mercer"), key("Finch and Mercer"));
        assert_eq!(key("  Contoso   Dental LLC "), key("Contoso Dental L.L.C."));
        assert_ne!(key("Northwind Traders"), key("Northwind Travel"));
        assert_eq!(swap_suffix("Contoso Ltd").as_deref(), Some("Contoso Limited"));
    }
}
