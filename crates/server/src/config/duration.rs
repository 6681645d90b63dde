//! Human durations in configuration: `90`, `90s`, `15m`, `12h`, `7d`.

use std::time::Duration;

use serde::Deserialize;

/// A duration as written in a file (`600` or `"10m"`) or the environment (`10m`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum DurationValue {
    /// Whole seconds.
    Secs(u64),
    /// Text with an optional unit suffix.
    Text(String),
}

impl DurationValue {
    /// The duration, or a message naming the setting and the accepted forms.
    pub fn parse(&self, name: &str) -> Result<Duration, String> {
        match self {
            Self::Secs(s) => Ok(Duration::from_secs(*s)),
            Self::Text(t) => parse(t).ok_or_else(|| {
                format!("{name} = {t:?} is not a duration; write seconds (600) or a number with s, m, h or d (10m)")
            }),
        }
    }
}

fn parse(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (digits, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = digits.parse().ok()?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(scale).map(Duration::from_secs)
}

/// `secs` in the largest whole unit (`1h`, `7d`, `90s`), for messages.
pub(super) fn describe(secs: u64) -> String {
    match secs {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_rejects_the_rest() {
        let t = |s: &str| DurationValue::Text(s.into()).parse("x");
        assert_eq!(t("90").unwrap(), Duration::from_secs(90));
        assert_eq!(t("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(t("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(t("12h").unwrap(), Duration::from_secs(43_200));
        assert_eq!(t("7d").unwrap(), Duration::from_secs(604_800));
        assert_eq!(
            DurationValue::Secs(5).parse("x").unwrap(),
            Duration::from_secs(5)
        );
        for bad in [
            "",
            "m",
            "10 m",
            "1.5h",
            "-1s",
            "10w",
            "99999999999999999999d",
        ] {
            let err = t(bad).unwrap_err();
            assert!(err.starts_with("x = "), "{err}");
        }
    }
}
