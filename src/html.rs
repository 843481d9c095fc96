//! Markup as the services send it: Halo keeps ticket details as HTML, a mailbox may send a body as
//! HTML, Archer's search speaks XML. Text goes in escaped (with its line breaks for HTML) and comes
//! out as text again (tags dropped, block ends as line breaks, entities decoded). A full HTML
//! parser would outweigh the rest of the component; this markup is simple.

/// Text as HTML: escaped (quotes need not be outside attributes), line breaks kept.
pub fn from_text(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('\n', "<br>")
}

/// Text as XML or HTML character data or an attribute value.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

/// HTML details as plain text.
pub fn to_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find(['<', '&']) {
        text.push_str(&rest[..start]);
        rest = &rest[start..];
        if rest.starts_with('<') {
            let Some(end) = rest.find('>') else { break };
            let tag = rest[1..end].trim().trim_start_matches('/').to_ascii_lowercase();
            let name = tag.split(|c: char| c.is_whitespace() || c == '/').next().unwrap_or_default();
            if matches!(name, "br" | "p" | "div" | "li" | "tr" | "h1" | "h2" | "h3" | "h4")
                && (name == "br" || rest[1..].starts_with('/'))
            {
                text.push('\n');
            }
            rest = &rest[end + 1..];
        } else {
            let entity = rest[1..].find(';').filter(|n| *n <= 8).map(|n| &rest[1..=n]);
            match entity.and_then(decode_entity) {
                Some(c) => {
                    text.push(c);
                    rest = &rest[entity.map_or(1, |e| e.len() + 2)..];
                }
                None => {
                    text.push('&');
                    rest = &rest[1..];
                }
            }
        }
    }
    text.push_str(rest);
    text.trim_end().to_string()
}

fn decode_entity(entity: &str) -> Option<char> {
    match entity {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" | "#39" => Some('\''),
        "nbsp" => Some(' '),
        _ => {
            let number = entity.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_survives_the_round_trip() {
        let text = "Line 1 <script>\nR&D \"quoted\"";
        assert_eq!(from_text(text), "Line 1 &lt;script&gt;<br>R&amp;D \"quoted\"");
        assert_eq!(to_text(&from_text(text)), text);
    }

    #[test]
    fn markup_becomes_lines() {
        assert_eq!(
            to_text("<p>Raised by phone.</p><p>Call&nbsp;back &#8211; <b>today</b></p>"),
            "Raised by phone.\nCall back – today"
        );
        assert_eq!(to_text("a &unknown; b & c <br/>d"), "a &unknown; b & c \nd");
        assert_eq!(to_text("unclosed <b"), "unclosed <b");
    }
}
