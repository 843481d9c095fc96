//! Value maps (statuses, priorities): a source value goes to the destination value the map names,
//! else to one of the same name, else to the default; all case-insensitive.

use crate::types::ValueMapping;

/// A value the destination offers (a board status, a priority).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub id: String,
    pub name: String,
    /// The destination's own default.
    pub default: bool,
}

pub struct ValueMap {
    /// "status", "priority": for messages.
    what: &'static str,
    targets: Vec<Target>,
    map: Vec<ValueMapping>,
    default: Option<Target>,
}

impl ValueMap {
    /// `default_name` overrides the destination's default; it must be one of `targets`.
    pub fn new(
        what: &'static str,
        targets: Vec<Target>,
        map: Vec<ValueMapping>,
        default_name: Option<&str>,
    ) -> Result<ValueMap, String> {
        let default = match default_name.map(str::trim).filter(|d| !d.is_empty()) {
            Some(name) => Some(find(&targets, name).cloned().ok_or_else(|| {
                format!("the default {what} {name:?} is not one the destination has (it has: {})", names(&targets))
            })?),
            None => targets.iter().find(|t| t.default).cloned(),
        };
        Ok(ValueMap { what, targets, map, default })
    }

    /// The destination's value of this name.
    pub fn target(&self, name: &str) -> Option<&Target> {
        find(&self.targets, name)
    }

    /// The target for `value`, or why there is none.
    pub fn resolve(&self, value: &str) -> Result<&Target, String> {
        let what = self.what;
        let value = value.trim();
        if let Some(mapping) = self.map.iter().find(|m| m.from.trim().eq_ignore_ascii_case(value)) {
            return find(&self.targets, &mapping.to).ok_or_else(|| {
                format!(
                    "the {what} map sends {value:?} to {:?}, which the destination does not have (it has: {})",
                    mapping.to,
                    names(&self.targets)
                )
            });
        }
        find(&self.targets, value).or(self.default.as_ref()).ok_or_else(|| {
            format!("the destination has no {what} {value:?} and no default {what} (it has: {})", names(&self.targets))
        })
    }
}

fn find<'a>(targets: &'a [Target], wanted: &str) -> Option<&'a Target> {
    targets.iter().find(|t| t.name.trim().eq_ignore_ascii_case(wanted.trim()))
}

fn names(targets: &[Target]) -> String {
    targets.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn board() -> Vec<Target> {
        let t = |id: &str, name: &str, default| Target { id: id.into(), name: name.into(), default };
        vec![t("31", "New", true), t("32", "In Progress", false), t("33", "Closed", false)]
    }

    fn mapping(from: &str, to: &str) -> ValueMapping {
        ValueMapping { from: from.into(), to: to.into() }
    }

    #[test]
    fn values_resolve_by_map_then_name_then_default() {
        let map = ValueMap::new("status", board(), vec![mapping("waiting for support", "in progress")], None).unwrap();
        assert_eq!(map.resolve("Waiting for Support").unwrap().id, "32");
        assert_eq!(map.resolve("closed").unwrap().name, "Closed");
        assert_eq!(map.resolve("Pending Vendor").unwrap().id, "31", "unknown values get the default");
        let bad = ValueMap::new("status", board(), vec![mapping("Open", "Triage")], None).unwrap();
        assert!(bad.resolve("open").unwrap_err().contains("Triage"));
        assert!(ValueMap::new("status", board(), vec![], Some("Nope")).is_err());
        assert_eq!(
            ValueMap::new("status", board(), vec![], Some("closed")).unwrap().resolve("Weird").unwrap().id,
            "33"
        );
        let no_default: Vec<Target> = board().into_iter().map(|t| Target { default: false, ..t }).collect();
        assert!(
            ValueMap::new("priority", no_default, vec![], None)
                .unwrap()
                .resolve("P1")
                .unwrap_err()
                .contains("no default priority")
        );
    }

    proptest! {
        #[test]
        fn a_resolved_value_is_always_a_target(value in "\\PC{0,20}", from in "\\PC{0,10}", to in "(New|Closed|in progress|Nope)") {
            let map = ValueMap::new("status", board(), vec![mapping(&from, &to)], None).unwrap();
            if let Ok(target) = map.resolve(&value) {
                prop_assert!(board().contains(target));
            }
        }
    }
}
