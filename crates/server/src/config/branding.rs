//! How the built-in pages look and what they ask of passwords.
//!
//! ```toml
//! product_name = "Acme"              # in every title and the header
//! logo = "/etc/tessera/logo.svg"     # .svg, .png, .webp or .jpg, served at /auth/logo
//! accent_color = "#0f766e"           # buttons, links, focus rings; AA contrast is checked
//! pages_dir = "/etc/tessera/pages"   # templates and style.css replacing the built-in ones
//! password_min_strength = 3          # 0-4 on the zxcvbn scale; 0 checks only the length
//! ```

use std::path::PathBuf;

use super::raw::RawConfig;

/// The pages' branding, validated (files are read when the server starts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branding {
    /// Templates and a stylesheet that replace the built-in ones.
    pub pages_dir: Option<PathBuf>,
    /// The product's name in titles and the header.
    pub product_name: String,
    /// A logo file shown in the header.
    pub logo: Option<PathBuf>,
    /// The accent colour, light and dark.
    pub accent: Option<Accent>,
}

impl Branding {
    pub(super) fn from_raw(raw: &RawConfig) -> Result<Self, String> {
        let product_name = raw.product_name.clone().unwrap_or_else(|| "Tessera".into());
        if product_name.trim().is_empty() || product_name.chars().count() > 64 {
            return Err("product_name must be 1 to 64 characters".into());
        }
        let accent = raw
            .accent_color
            .as_deref()
            .map(Accent::parse)
            .transpose()
            .map_err(|e| format!("accent_color: {e}"))?;
        Ok(Self {
            pages_dir: raw.pages_dir.clone(),
            product_name,
            logo: raw.logo.clone(),
            accent,
        })
    }
}

/// The least strength a new password must reach (0 to 4, zxcvbn's scale); 3 by default.
pub(super) fn min_strength(raw: &RawConfig) -> Result<u8, String> {
    match raw.password_min_strength.unwrap_or(3) {
        n @ 0..=4 => Ok(n),
        n => Err(format!(
            "password_min_strength = {n}; use 0 (length only) to 4 (3 is the default)"
        )),
    }
}

/// An sRGB colour.
type Rgb = [u8; 3];

const WHITE: Rgb = [0xff, 0xff, 0xff];
/// The dark theme's card background, which dark-mode links sit on.
const DARK_CARD: Rgb = [0x11, 0x18, 0x27];

/// An accent colour that passes WCAG AA (4.5:1) under white button text and on the light
/// background, and the lighter shade of it that passes on the dark background.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accent {
    light: Rgb,
    dark: Rgb,
}

impl Accent {
    /// `#rgb` or `#rrggbb`, dark enough for white text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let hex = text
            .strip_prefix('#')
            .filter(|h| (h.len() == 3 || h.len() == 6) && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| format!("{text:?} is not a colour like \"#0f766e\""))?;
        let digit = |i: usize, n: usize| u8::from_str_radix(&hex[i..i + n], 16).unwrap_or(0);
        let light = if hex.len() == 3 {
            [0, 1, 2].map(|i| digit(i, 1) * 17)
        } else {
            [0, 2, 4].map(|i| digit(i, 2))
        };
        let ratio = contrast(light, WHITE);
        if ratio < 4.5 {
            return Err(format!(
                "{text} has {ratio:.2}:1 contrast with white text; WCAG AA needs 4.5:1, so choose a darker colour"
            ));
        }
        // Mixed toward white until it reads on the dark background.
        let dark = (0..=20)
            .map(|step| mix(light, WHITE, f64::from(step) / 20.0))
            .find(|c| contrast(*c, DARK_CARD) >= 4.5)
            .unwrap_or(WHITE);
        Ok(Self { light, dark })
    }

    /// The stylesheet lines that set it.
    pub fn css(&self) -> String {
        let (light, dark) = (hex(self.light), hex(self.dark));
        format!(
            "\n/* accent_color */\n:root {{ --accent: {light}; --accent-dark: {dark}; }}\n\
             @media (prefers-color-scheme: dark) {{ :root {{ --accent: {dark}; }} }}\n"
        )
    }
}

fn hex(c: Rgb) -> String {
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

fn mix(a: Rgb, b: Rgb, t: f64) -> Rgb {
    [0, 1, 2].map(|i| {
        let v = f64::from(a[i]) + (f64::from(b[i]) - f64::from(a[i])) * t;
        // Within 0..=255 by construction.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let v = v.round().clamp(0.0, 255.0) as u8;
        v
    })
}

/// WCAG 2 relative luminance.
fn luminance(c: Rgb) -> f64 {
    let channel = |v: u8| {
        let s = f64::from(v) / 255.0;
        if s <= 0.039_28 {
            s / 12.92
        } else {
            ((s + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(c[0]) + 0.7152 * channel(c[1]) + 0.0722 * channel(c[2])
}

/// WCAG 2 contrast ratio, 1 to 21.
fn contrast(a: Rgb, b: Rgb) -> f64 {
    let (x, y) = (luminance(a), luminance(b));
    (x.max(y) + 0.05) / (x.min(y) + 0.05)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accents_must_read_in_light_and_dark() {
        let teal = Accent::parse("#0f766e").unwrap();
        assert!(contrast(teal.light, WHITE) >= 4.5);
        assert!(contrast(teal.dark, DARK_CARD) >= 4.5);
        assert!(teal.css().contains("--accent: #0f766e"));
        assert_eq!(Accent::parse("#00f").unwrap().light, [0, 0, 255]);
        let yellow = Accent::parse("#facc15").unwrap_err();
        assert!(
            yellow.contains("1.") && yellow.contains("4.5:1"),
            "{yellow}"
        );
        for bad in ["0f766e", "#0f766", "#0g766e", "teal", "#", ""] {
            assert!(Accent::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn contrast_matches_wcag_examples() {
        assert!((contrast([0, 0, 0], WHITE) - 21.0).abs() < 0.01);
        assert!((contrast([0x77, 0x77, 0x77], WHITE) - 4.48).abs() < 0.01);
    }
}
