//! What a new password must be: 8 to 256 characters, not one of the most common leaked
//! passwords, and at least `password_min_strength` on zxcvbn's offline estimate (which knows
//! dictionary words, names, keyboard walks, dates, repeats and the account's own name).
//! One check for every way a password is set: sign-up, change, reset link and `tessera users`.

use std::collections::HashSet;
use std::sync::OnceLock;

/// The bundled list; see its header and `scripts/common-passwords`.
const COMMON: &str = include_str!("strength/common-passwords.txt");

/// Characters given to the estimator: its cost grows quickly with length, and a password whose
/// first 100 characters are weak is weak.
const ESTIMATED_CHARS: usize = 100;

/// Why a new password is refused, in words for the person choosing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Weak {
    /// Not 8 to 256 characters.
    Length,
    /// On the bundled list of common leaked passwords.
    Common,
    /// Below the configured strength; zxcvbn's advice, when it has some.
    Guessable(String),
}

impl Weak {
    /// A stable code, for templates and problem documents.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Length => "password-length",
            Self::Common => "password-common",
            Self::Guessable(_) => "password-weak",
        }
    }
}

impl std::fmt::Display for Weak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Length => f.write_str("Use a password of 8 to 256 characters."),
            Self::Common => f.write_str(
                "That password is one of the most common in leaked password lists; choose another.",
            ),
            Self::Guessable(advice) if advice.is_empty() => {
                f.write_str("That password is too easy to guess; add another word or two.")
            }
            Self::Guessable(advice) => write!(f, "That password is too easy to guess. {advice}"),
        }
    }
}

fn common() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect()
    })
}

/// Whether `password` may be set for an account named `login`, at `min_strength` (0 to 4).
///
/// # Errors
/// Why it may not.
pub fn check(password: &str, login: &str, min_strength: u8) -> Result<(), Weak> {
    tessera::check_password_length(password).map_err(|_| Weak::Length)?;
    if common().contains(password.to_lowercase().as_str()) {
        return Err(Weak::Common);
    }
    if min_strength == 0 {
        return Ok(());
    }
    let estimated: String = password.chars().take(ESTIMATED_CHARS).collect();
    let inputs = [login, "tessera"];
    let entropy = zxcvbn::zxcvbn(&estimated, &inputs);
    if u8::from(entropy.score()) >= min_strength {
        return Ok(());
    }
    let advice = entropy.feedback().map(|f| {
        let warning = f.warning().map(|w| format!("{w}."));
        let suggestions = f.suggestions().iter().map(ToString::to_string);
        warning
            .into_iter()
            .chain(suggestions)
            .map(|s| s.trim_end_matches('.').to_owned() + ".")
            .collect::<Vec<_>>()
            .join(" ")
    });
    Err(Weak::Guessable(advice.unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_short_common_and_guessable_passwords() {
        assert_eq!(check("short", "alice", 3), Err(Weak::Length));
        assert_eq!(check(&"x".repeat(257), "alice", 3), Err(Weak::Length));
        assert_eq!(check("password", "alice", 0), Err(Weak::Common));
        assert_eq!(check("PassWord", "alice", 3), Err(Weak::Common));
        assert_eq!(check("iloveyou", "alice", 3), Err(Weak::Common));
        let weak = check("alice2024!", "alice", 3).unwrap_err();
        assert_eq!(weak.code(), "password-weak");
        assert!(
            weak.to_string()
                .starts_with("That password is too easy to guess.")
        );
        let keyboard = check("qwertyuiop[]", "bob", 3).unwrap_err();
        assert_eq!(keyboard.code(), "password-weak", "{keyboard}");
    }

    #[test]
    fn accepts_long_unrelated_words() {
        assert_eq!(check("correct horse battery staple", "alice", 3), Ok(()));
        assert_eq!(check("violet kettle harbour 91", "alice", 4), Ok(()));
        // Strength 0: length and the list only.
        assert_eq!(check("alice2024!", "alice", 0), Ok(()));
    }

    #[test]
    fn the_list_is_the_bundled_ten_thousand() {
        assert_eq!(common().len(), 10_000);
        assert!(common().iter().all(|p| p.chars().count() >= 8));
    }

    #[test]
    fn long_passwords_are_estimated_quickly_enough_to_answer() {
        // 256 characters of one repeated pattern: the estimator sees 100 of them.
        let long = "ab1!".repeat(64);
        assert!(check(&long, "alice", 3).is_err());
    }
}
