//! Accounts of the built-in sign-in: an identity the server chose, and the name a person types.
//!
//! The identity ([`AccountId`], `usr_` + 128 random bits) is what tokens carry in `sub`; it is
//! never a string a visitor chose, so signing up as `ceo-42` cannot become the backend's user
//! `ceo-42`. The name ([`LoginName`]) is only for signing in: normalized the way PRECIS'
//! UsernameCaseMapped profile intends (compatibility-normalized, lower-cased), so `ａｌｉｃｅ`,
//! `Alice` and `alice` are one account, and refused when it holds characters a person cannot
//! see or that break a line in a log.
//!
//! ```
//! use tessera::{AccountId, LoginName};
//! assert_eq!(LoginName::parse(" Ａｌｉｃｅ ").unwrap().as_str(), "alice");
//! assert!(LoginName::parse("ali\u{200b}ce").is_err());
//! let id = AccountId::generate().unwrap();
//! assert!(AccountId::is_reserved(id.as_str()));
//! ```

use std::fmt;
use std::str::FromStr;

use icu_normalizer::ComposingNormalizerBorrowed;
use icu_properties::props::{DefaultIgnorableCodePoint, GeneralCategory};
use icu_properties::{CodePointMapData, CodePointSetData};

use crate::encoding::{b64_decode, b64_encode};
use crate::{Error, random};

/// A built-in account's identity: `usr_` + base64url of 128 random bits. Immutable.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AccountId(String);

impl AccountId {
    /// The prefix every account id has, and that no backend user id may use for an account
    /// that does not exist.
    pub const PREFIX: &'static str = "usr_";

    /// A fresh id from the OS CSPRNG.
    ///
    /// # Errors
    /// [`Error::Random`] if the CSPRNG fails.
    pub fn generate() -> Result<Self, Error> {
        Ok(Self(format!(
            "{}{}",
            Self::PREFIX,
            b64_encode(&random::bytes::<16>()?)
        )))
    }

    /// Whether `user_id` is in the namespace reserved for account ids.
    pub fn is_reserved(user_id: &str) -> bool {
        user_id.starts_with(Self::PREFIX)
    }

    /// The textual form (what `sub` carries).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for AccountId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let well_formed = s
            .strip_prefix(Self::PREFIX)
            .filter(|rest| rest.len() == 22)
            .and_then(b64_decode)
            .is_some_and(|bytes| bytes.len() == 16);
        if well_formed {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::Malformed("account id"))
        }
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountId({})", self.0)
    }
}

/// Shortest login name, in characters after normalization.
pub const MIN_LOGIN_CHARS: usize = 3;
/// Longest login name, in bytes after normalization (an email address fits).
pub const MAX_LOGIN_BYTES: usize = 256;

/// The name a person signs in with, normalized: compared and stored only in this form.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LoginName(String);

impl LoginName {
    /// Normalizes what a person typed: surrounding white space dropped, NFKC (full-width and
    /// other compatibility forms folded), lower-cased, NFKC again.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] with a message for the person when the name is too short or
    /// long, holds spaces, or holds control, invisible formatting (zero-width, bidi
    /// overrides), line or paragraph separator, private-use or unassigned characters.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        // Bound the work before any of it: normalization can expand a character elevenfold.
        if raw.len() > 4 * MAX_LOGIN_BYTES {
            return Err(Error::InvalidInput("a login name has 3 to 256 characters"));
        }
        let raw = raw.trim();
        refuse_invisible(raw)?;
        let nfkc = ComposingNormalizerBorrowed::new_nfkc();
        // Lower-casing picks ς or σ by position; case folding, which this is, has only σ.
        let lower = nfkc.normalize(raw).to_lowercase().replace('ς', "σ");
        let name = nfkc.normalize(&lower).into_owned();
        refuse_invisible(&name)?;
        if name.chars().any(char::is_whitespace) {
            return Err(Error::InvalidInput("a login name cannot contain spaces"));
        }
        if name.chars().count() < MIN_LOGIN_CHARS || name.len() > MAX_LOGIN_BYTES {
            return Err(Error::InvalidInput("a login name has 3 to 256 characters"));
        }
        Ok(Self(name))
    }

    /// A name read back from a store, already normalized when it was written.
    pub fn from_stored(name: String) -> Self {
        Self(name)
    }

    /// The normalized name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LoginName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for LoginName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LoginName({:?})", self.0)
    }
}

/// Refuses what a person cannot see or that breaks a line: control, format, separator,
/// private-use and unassigned characters, and every default-ignorable code point (variation
/// selectors, the combining grapheme joiner, Hangul fillers…), which render as nothing whatever
/// their category, plus the blank braille pattern, which renders as a space.
fn refuse_invisible(text: &str) -> Result<(), Error> {
    let categories = CodePointMapData::<GeneralCategory>::new();
    let ignorable = CodePointSetData::new::<DefaultIgnorableCodePoint>();
    let invisible = text.chars().any(|c| {
        ignorable.contains(c)
            || c == '\u{2800}'
            || matches!(
                categories.get(c),
                GeneralCategory::Control
                    | GeneralCategory::Format
                    | GeneralCategory::LineSeparator
                    | GeneralCategory::ParagraphSeparator
                    | GeneralCategory::PrivateUse
                    | GeneralCategory::Unassigned
            )
    });
    if invisible {
        return Err(Error::InvalidInput(
            "a login name cannot contain control, invisible formatting (zero-width, bidi) or line-break characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn width_and_case_variants_are_one_name() {
        for typed in [
            "alice",
            "Alice",
            "ALICE",
            "ａｌｉｃｅ",
            "Ａｌｉｃｅ",
            "  alice\t",
        ] {
            assert_eq!(
                LoginName::parse(typed).unwrap().as_str(),
                "alice",
                "{typed}"
            );
        }
        assert_eq!(
            LoginName::parse("Ǆemal").unwrap().as_str(),
            "d\u{17e}emal",
            "compatibility digraph decomposed and lower-cased"
        );
        assert_eq!(
            LoginName::parse("ﬁona@Example.COM").unwrap().as_str(),
            "fiona@example.com",
            "ligature folded"
        );
        assert_eq!(
            LoginName::parse("Ἀθηνᾶ").unwrap().as_str(),
            "ἀθηνᾶ",
            "non-Latin scripts stay"
        );
    }

    #[test]
    fn invisible_and_line_breaking_characters_are_refused() {
        for bad in [
            "ali\u{200b}ce",   // zero-width space
            "ali\u{200d}ce",   // zero-width joiner
            "\u{202e}ecila",   // right-to-left override
            "ali\u{2066}ce",   // left-to-right isolate
            "ali\u{feff}ce",   // byte order mark
            "ali\u{2028}ce",   // line separator
            "ali\u{2029}ce",   // paragraph separator
            "ali\nce",         // line feed
            "ali\u{7}ce",      // bell
            "ali\u{e000}ce",   // private use
            "ali\u{10ffff}ce", // noncharacter, unassigned
            "ali\u{34f}ce",    // combining grapheme joiner (Mn, default-ignorable)
            "alice\u{fe0f}",   // variation selector
            "alice\u{e0100}",  // variation selector supplement
            "ali\u{3164}ce",   // Hangul filler (Lo, default-ignorable)
            "ali\u{ffa0}ce",   // halfwidth Hangul filler
            "ali\u{115f}ce",   // Hangul choseong filler
            "ali\u{180b}ce",   // Mongolian variation selector
            "ali\u{17b4}ce",   // Khmer inherent vowel
            "ali\u{2800}ce",   // blank braille pattern
        ] {
            let err = LoginName::parse(bad).unwrap_err();
            assert!(err.to_string().contains("cannot contain"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn greek_final_sigma_folds_like_any_sigma() {
        let upper = LoginName::parse("ΑΛΙΣ").unwrap();
        assert_eq!(upper, LoginName::parse("αλισ").unwrap());
        assert_eq!(upper, LoginName::parse("αλις").unwrap());
    }

    #[test]
    fn spaces_and_lengths_are_refused() {
        assert!(LoginName::parse("al ice").is_err());
        assert!(
            LoginName::parse("al\u{3000}ice").is_err(),
            "ideographic space"
        );
        assert!(LoginName::parse("al\u{a0}ice").is_err(), "no-break space");
        assert!(LoginName::parse("ab").is_err());
        assert!(LoginName::parse("   ").is_err());
        assert!(LoginName::parse(&"a".repeat(257)).is_err());
        assert!(LoginName::parse(&"a".repeat(256)).is_ok());
        assert!(
            LoginName::parse(&"\u{fdfa}".repeat(4096)).is_err(),
            "bounded before work"
        );
    }

    #[test]
    fn account_ids_are_random_and_strictly_parsed() {
        let a = AccountId::generate().unwrap();
        let b = AccountId::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 26);
        assert_eq!(a.as_str().parse::<AccountId>().unwrap(), a);
        for bad in [
            "alice",
            "usr_",
            "usr_short",
            "USR_AAAAAAAAAAAAAAAAAAAAAA",
            "usr_!!!!!!!!!!!!!!!!!!!!!!",
        ] {
            assert!(bad.parse::<AccountId>().is_err(), "{bad}");
        }
        assert!(AccountId::is_reserved("usr_anything"));
        assert!(!AccountId::is_reserved("user-42"));
    }

    proptest! {
        #[test]
        fn normalization_is_idempotent_and_never_panics(s in "\\PC{0,40}") {
            if let Ok(name) = LoginName::parse(&s) {
                prop_assert_eq!(LoginName::parse(name.as_str()).unwrap(), name.clone());
                prop_assert!(!name.as_str().chars().any(char::is_whitespace));
            }
        }
    }
}
