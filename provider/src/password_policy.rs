//! The server-side rules for a password someone chooses (activation, reset, change): long
//! enough, not too long, and hard enough to guess by zxcvbn's estimate with the person's own name,
//! user name and e-mail address counted against it. The strength meter on the pages only
//! advises; this is the check that decides.
//!
//! A refusal is a [`PasswordRejection`] whose catalog keys (`password.reason.*`, and zxcvbn's
//! warning and suggestions as `password.warning.*` and `password.suggestion.*`) the pages show
//! translated; [`PasswordRejection::to_page_value`] is the `password_error` the templates take.

use poort_config::PasswordSettings;
use serde_json::{Value, json};
use zxcvbn::feedback::{Suggestion, Warning};
use zxcvbn::matching::patterns::MatchPattern;

/// The longest password accepted, in characters. Long passphrases are welcome; this only keeps
/// a request from making the server hash megabytes (zxcvbn itself looks at the first 100).
pub const MAX_LENGTH: usize = 256;

/// The fewest characters a piece of someone's name or address must have to count against a
/// password (shorter ones, such as initials, would match almost anything).
const MIN_INPUT_LENGTH: usize = 3;

/// Common passwords and password words that zxcvbn's (English) dictionaries lack: Dutch ones and
/// this product's own names. They count like a dictionary of their own; the strength meter's
/// script has the same words.
const EXTRA_COMMON: &str = "\
    wachtwoord welkom geheim voetbal ajax feyenoord nederland amsterdam rotterdam utrecht \
    holland oranje hallo liefde schatje prinses konijn zomer winter lente herfst januari \
    februari maart juni juli augustus oktober maandag dinsdag woensdag donderdag vrijdag \
    zaterdag zondag bedrijf kantoor klant werk huis familie bloem poort superoffice azerty \
    qwertz";

/// Rules for new passwords, from `[passwords]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    min_length: usize,
    min_score: u8,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy::from_settings(&PasswordSettings::default())
    }
}

/// The person choosing a password: what an attacker who knows them would try first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Person<'a> {
    pub name: Option<&'a str>,
    pub username: Option<&'a str>,
    pub email: Option<&'a str>,
}

impl<'a> Person<'a> {
    /// A stored user as the policy sees them: their own words count against a new password.
    pub fn of(user: &'a poort_storage::repo::UserRecord) -> Self {
        Person { name: user.display_name.as_deref(), username: user.username.as_deref(), email: Some(user.email.as_str()) }
    }
}

impl Person<'_> {
    /// The words of this person's name, user name and e-mail address (local part and its pieces,
    /// the domain's words without the top-level domain), lower case, each once, in that order.
    pub fn user_inputs(&self) -> Vec<String> {
        let mut inputs: Vec<String> = Vec::new();
        let mut add = |word: &str| {
            let word = word.trim().to_lowercase();
            if word.chars().count() >= MIN_INPUT_LENGTH && !inputs.contains(&word) {
                inputs.push(word);
            }
        };
        let pieces = |text: &str| text.split(|c: char| !c.is_alphanumeric()).map(str::to_string).collect::<Vec<_>>();
        // A text, its words, and its words run together ("Jan de Vries": "jandevries").
        let mut add_all = |text: &str| {
            add(text);
            let words = pieces(text);
            words.iter().for_each(|word| add(word));
            add(&words.concat());
        };
        for text in [self.name, self.username].into_iter().flatten() {
            add_all(text);
        }
        if let Some(email) = self.email {
            add_all(email);
            let (local, domain) = email.rsplit_once('@').unwrap_or((email, ""));
            add_all(local);
            let labels: Vec<&str> = domain.split('.').collect();
            if labels.len() > 1 {
                labels[..labels.len() - 1].iter().for_each(|label| add_all(label));
            }
        }
        inputs
    }
}

/// Why a password was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordRejection {
    /// Fewer characters than the policy's minimum.
    TooShort { min_length: usize },
    /// More than [`MAX_LENGTH`] characters.
    TooLong { max_length: usize },
    /// The confirmation differs from the password.
    Mismatch,
    /// Too easy to guess because it is built from the person's own name, user name or e-mail.
    Personal,
    /// Too easy to guess; zxcvbn's warning and suggestions as catalog keys.
    TooWeak { score: u8, warning: Option<&'static str>, suggestions: Vec<&'static str> },
}

impl PasswordRejection {
    /// The catalog key of the reason (`password.reason.*`).
    pub fn key(&self) -> &'static str {
        match self {
            PasswordRejection::TooShort { .. } => "password.reason.too_short",
            PasswordRejection::TooLong { .. } => "password.reason.too_long",
            PasswordRejection::Mismatch => "password.reason.mismatch",
            PasswordRejection::Personal => "password.reason.personal",
            PasswordRejection::TooWeak { .. } => "password.reason.too_weak",
        }
    }

    /// The catalog key of what the estimator noticed (`password.warning.*`), if anything.
    pub fn warning_key(&self) -> Option<&'static str> {
        match self {
            PasswordRejection::TooWeak { warning, .. } => *warning,
            _ => None,
        }
    }

    /// The catalog keys of what would help (`password.suggestion.*`).
    pub fn suggestion_keys(&self) -> &[&'static str] {
        match self {
            PasswordRejection::TooWeak { suggestions, .. } => suggestions,
            _ => &[],
        }
    }

    /// The `password_error` value the activation, reset and change-password pages take.
    pub fn to_page_value(&self) -> Value {
        json!({ "key": self.key(), "warning": self.warning_key(), "suggestions": self.suggestion_keys() })
    }
}

impl std::fmt::Display for PasswordRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

impl std::error::Error for PasswordRejection {}

impl PasswordPolicy {
    /// A policy; the score is capped at 4, zxcvbn's highest.
    pub fn new(min_length: usize, min_score: u8) -> PasswordPolicy {
        PasswordPolicy { min_length, min_score: min_score.min(4) }
    }

    pub fn from_settings(settings: &PasswordSettings) -> PasswordPolicy {
        PasswordPolicy::new(settings.min_length as usize, settings.min_score)
    }

    pub fn min_length(&self) -> usize {
        self.min_length
    }

    pub fn min_score(&self) -> u8 {
        self.min_score
    }

    /// Checks a new password and its confirmation (the pages ask twice).
    pub fn check_new(&self, password: &str, confirmation: &str, person: &Person<'_>) -> Result<(), PasswordRejection> {
        if password != confirmation {
            return Err(PasswordRejection::Mismatch);
        }
        self.check(password, person)
    }

    /// Checks a new password: its length, then its strength with `person`'s words counted
    /// against it. Takes a few milliseconds (zxcvbn reads at most 100 characters).
    pub fn check(&self, password: &str, person: &Person<'_>) -> Result<(), PasswordRejection> {
        let length = password.chars().count();
        if length < self.min_length {
            return Err(PasswordRejection::TooShort { min_length: self.min_length });
        }
        if length > MAX_LENGTH {
            return Err(PasswordRejection::TooLong { max_length: MAX_LENGTH });
        }
        let inputs = person.user_inputs();
        let dictionary: Vec<&str> = inputs.iter().map(String::as_str).chain(EXTRA_COMMON.split_whitespace()).collect();
        let estimate = zxcvbn::zxcvbn(password, &dictionary);
        let score = u8::from(estimate.score());
        if score >= self.min_score {
            return Ok(());
        }
        // zxcvbn reports a match of the person's own words as a dictionary word equal to one of
        // the inputs (lower case, l33t undone).
        let personal = estimate.sequence().iter().any(|found| match &found.pattern {
            MatchPattern::Dictionary(word) => inputs.contains(&word.matched_word),
            _ => false,
        });
        if personal {
            return Err(PasswordRejection::Personal);
        }
        let feedback = estimate.feedback();
        let warning = feedback.and_then(|f| f.warning()).map(warning_key);
        let mut suggestions: Vec<&'static str> =
            feedback.map(|f| f.suggestions().iter().copied().map(suggestion_key).collect()).unwrap_or_default();
        if suggestions.is_empty() {
            suggestions.push("password.suggestion.add_words");
        }
        Err(PasswordRejection::TooWeak { score, warning, suggestions })
    }

    /// The `password_policy` value the pages with a new-password field take: the rules for the
    /// form's own checks and the strength meter, and the person's words for the meter.
    pub fn page_value(&self, person: &Person<'_>) -> Value {
        json!({
            "min_length": self.min_length,
            "max_length": MAX_LENGTH,
            "min_score": self.min_score,
            "user_inputs": person.user_inputs().join(" "),
        })
    }
}

/// The catalog key of a zxcvbn warning.
pub fn warning_key(warning: Warning) -> &'static str {
    match warning {
        Warning::StraightRowsOfKeysAreEasyToGuess => "password.warning.straight_rows",
        Warning::ShortKeyboardPatternsAreEasyToGuess => "password.warning.keyboard_patterns",
        Warning::RepeatsLikeAaaAreEasyToGuess => "password.warning.repeats",
        Warning::RepeatsLikeAbcAbcAreOnlySlightlyHarderToGuess => "password.warning.repeated_patterns",
        Warning::ThisIsATop10Password => "password.warning.top10",
        Warning::ThisIsATop100Password => "password.warning.top100",
        Warning::ThisIsACommonPassword => "password.warning.common",
        Warning::ThisIsSimilarToACommonlyUsedPassword => "password.warning.similar_to_common",
        Warning::SequencesLikeAbcAreEasyToGuess => "password.warning.sequences",
        Warning::RecentYearsAreEasyToGuess => "password.warning.recent_years",
        Warning::AWordByItselfIsEasyToGuess => "password.warning.word_by_itself",
        Warning::DatesAreOftenEasyToGuess => "password.warning.dates",
        Warning::NamesAndSurnamesByThemselvesAreEasyToGuess => "password.warning.names_by_themselves",
        Warning::CommonNamesAndSurnamesAreEasyToGuess => "password.warning.common_names",
    }
}

/// The catalog key of a zxcvbn suggestion.
pub fn suggestion_key(suggestion: Suggestion) -> &'static str {
    match suggestion {
        Suggestion::UseAFewWordsAvoidCommonPhrases => "password.suggestion.few_words",
        Suggestion::NoNeedForSymbolsDigitsOrUppercaseLetters => "password.suggestion.no_symbols_needed",
        Suggestion::AddAnotherWordOrTwo => "password.suggestion.add_words",
        Suggestion::CapitalizationDoesntHelpVeryMuch => "password.suggestion.capitalization",
        Suggestion::AllUppercaseIsAlmostAsEasyToGuessAsAllLowercase => "password.suggestion.all_uppercase",
        Suggestion::ReversedWordsArentMuchHarderToGuess => "password.suggestion.reversed_words",
        Suggestion::PredictableSubstitutionsDontHelpVeryMuch => "password.suggestion.substitutions",
        Suggestion::UseALongerKeyboardPatternWithMoreTurns => "password.suggestion.keyboard_turns",
        Suggestion::AvoidRepeatedWordsAndCharacters => "password.suggestion.avoid_repeats",
        Suggestion::AvoidSequences => "password.suggestion.avoid_sequences",
        Suggestion::AvoidRecentYears => "password.suggestion.avoid_recent_years",
        Suggestion::AvoidYearsThatAreAssociatedWithYou => "password.suggestion.avoid_your_years",
        Suggestion::AvoidDatesAndYearsThatAreAssociatedWithYou => "password.suggestion.avoid_your_dates",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poort_themes::{Locale, Theme, keys};
    use std::collections::BTreeSet;

    const JAN: Person<'static> =
        Person { name: Some("Jan de Vries"), username: Some("jdevries"), email: Some("jan.devries@acme-logistics.nl") };

    fn policy() -> PasswordPolicy {
        PasswordPolicy::default()
    }

    #[test]
    fn the_defaults_are_ten_characters_and_score_three() {
        assert_eq!((policy().min_length(), policy().min_score()), (10, 3));
        assert_eq!(PasswordPolicy::new(12, 9).min_score(), 4);
        let settings = PasswordSettings { min_length: 14, min_score: 2, ..PasswordSettings::default() };
        assert_eq!(PasswordPolicy::from_settings(&settings), PasswordPolicy::new(14, 2));
    }

    #[test]
    fn weak_passwords_are_refused_with_zxcvbns_feedback() {
        let error = policy().check("password123", &JAN).unwrap_err();
        assert_eq!(error.key(), "password.reason.too_weak");
        let PasswordRejection::TooWeak { score, warning, suggestions } = &error else { panic!("{error:?}") };
        assert!(*score <= 1, "score {score}");
        assert!(warning.is_some_and(|w| w.starts_with("password.warning.")), "{warning:?}");
        assert!(!suggestions.is_empty());
        for weak in ["qwertyuiop", "aaaaaaaaaaaa", "abcdefghijk", "1234567890", "Welkom2024!", "iloveyou12"] {
            assert!(policy().check(weak, &Person::default()).is_err(), "{weak} must be refused");
        }
    }

    #[test]
    fn the_persons_own_name_and_address_count_against_them() {
        for personal in ["jan.devries@acme-logistics.nl", "JanDeVries1985", "jdevries2024", "acme-logistics!"] {
            assert_eq!(policy().check(personal, &JAN), Err(PasswordRejection::Personal), "{personal}");
        }
        // The same passwords are fine for someone else: they are weak only because they are Jan's.
        for password in ["acmelogistics2024", "Jdevries#99"] {
            assert_eq!(policy().check(password, &Person::default()), Ok(()), "{password}");
            assert_eq!(policy().check(password, &JAN), Err(PasswordRejection::Personal), "{password}");
        }
    }

    #[test]
    fn strong_passwords_pass() {
        for strong in [
            "vlinder kompas regen tafel",
            "Lantaarn-Kompas-Zeilboot-73",
            "Xk9#mQ2$vL7p!w",
            "correct horse battery staple",
        ] {
            assert_eq!(policy().check(strong, &JAN), Ok(()), "{strong}");
        }
        // A strong password may still contain a short piece of the name.
        assert_eq!(policy().check("jan-zeilboot-lantaarn-kompas", &JAN), Ok(()));
    }

    #[test]
    fn length_comes_first_and_counts_characters_not_bytes() {
        assert_eq!(policy().check("Xk9#mQ2$v", &JAN), Err(PasswordRejection::TooShort { min_length: 10 }));
        assert_eq!(policy().check("", &JAN), Err(PasswordRejection::TooShort { min_length: 10 }));
        // Ten characters, twenty bytes.
        assert!(!matches!(policy().check("éèçàùöñßøå", &JAN), Err(PasswordRejection::TooShort { .. })));
        let long = "Lantaarn-Kompas-".repeat(17);
        assert_eq!(policy().check(&long, &JAN), Err(PasswordRejection::TooLong { max_length: MAX_LENGTH }));
        assert_eq!(policy().check(&long[..MAX_LENGTH], &JAN), Ok(()));
    }

    #[test]
    fn the_confirmation_must_match() {
        assert_eq!(
            policy().check_new("vlinder kompas regen tafel", "vlinder kompas regen tafe", &JAN),
            Err(PasswordRejection::Mismatch)
        );
        assert_eq!(policy().check_new("vlinder kompas regen tafel", "vlinder kompas regen tafel", &JAN), Ok(()));
    }

    #[test]
    fn the_minimum_score_is_configurable() {
        let lenient = PasswordPolicy::new(8, 0);
        assert_eq!(lenient.check("password", &Person::default()), Ok(()));
        let strict = PasswordPolicy::new(10, 4);
        let error = strict.check("Kompas-Zeilboot", &Person::default());
        if let Err(PasswordRejection::TooWeak { suggestions, .. }) = &error {
            assert!(!suggestions.is_empty(), "a refusal always suggests something");
        }
    }

    #[test]
    fn user_inputs_are_the_words_of_name_user_name_and_address() {
        assert_eq!(
            JAN.user_inputs(),
            [
                "jan de vries",
                "jan",
                "vries",
                "jandevries",
                "jdevries",
                "jan.devries@acme-logistics.nl",
                "devries",
                "acme",
                "logistics",
                "jandevriesacmelogisticsnl",
                "jan.devries",
                "acme-logistics",
                "acmelogistics",
            ]
        );
        assert!(Person::default().user_inputs().is_empty());
        let odd = Person { email: Some("no-at-sign"), ..Person::default() };
        assert_eq!(odd.user_inputs(), ["no-at-sign", "sign", "noatsign"]);
    }

    #[test]
    fn rejections_become_the_pages_password_error() {
        let error = PasswordRejection::TooWeak {
            score: 1,
            warning: Some("password.warning.common"),
            suggestions: vec!["password.suggestion.add_words"],
        };
        assert_eq!(
            error.to_page_value(),
            json!({ "key": "password.reason.too_weak", "warning": "password.warning.common", "suggestions": ["password.suggestion.add_words"] })
        );
        assert_eq!(
            PasswordRejection::Mismatch.to_page_value(),
            json!({ "key": "password.reason.mismatch", "warning": null, "suggestions": [] })
        );
        let value = policy().page_value(&JAN);
        assert_eq!(value["min_length"], 10);
        assert_eq!(value["max_length"], MAX_LENGTH);
        assert_eq!(value["min_score"], 3);
        assert!(value["user_inputs"].as_str().unwrap().starts_with("jan de vries jan vries"));
    }

    #[test]
    fn the_strength_meter_knows_the_extra_common_words() {
        let theme = Theme::load(None, Locale::En).unwrap();
        let (_, script) = theme.asset("password-meter.js").unwrap();
        let script = std::str::from_utf8(&script).unwrap();
        let words: BTreeSet<&str> = script.split(|c: char| !c.is_alphanumeric()).collect();
        for word in EXTRA_COMMON.split_whitespace() {
            assert!(words.contains(word), "password-meter.js lacks `{word}`");
        }
        assert_eq!(
            policy().check("Welkom2024!", &Person::default()).map_err(|e| e.key()),
            Err("password.reason.too_weak")
        );
    }

    const ALL_WARNINGS: [Warning; 14] = [
        Warning::StraightRowsOfKeysAreEasyToGuess,
        Warning::ShortKeyboardPatternsAreEasyToGuess,
        Warning::RepeatsLikeAaaAreEasyToGuess,
        Warning::RepeatsLikeAbcAbcAreOnlySlightlyHarderToGuess,
        Warning::ThisIsATop10Password,
        Warning::ThisIsATop100Password,
        Warning::ThisIsACommonPassword,
        Warning::ThisIsSimilarToACommonlyUsedPassword,
        Warning::SequencesLikeAbcAreEasyToGuess,
        Warning::RecentYearsAreEasyToGuess,
        Warning::AWordByItselfIsEasyToGuess,
        Warning::DatesAreOftenEasyToGuess,
        Warning::NamesAndSurnamesByThemselvesAreEasyToGuess,
        Warning::CommonNamesAndSurnamesAreEasyToGuess,
    ];

    const ALL_SUGGESTIONS: [Suggestion; 13] = [
        Suggestion::UseAFewWordsAvoidCommonPhrases,
        Suggestion::NoNeedForSymbolsDigitsOrUppercaseLetters,
        Suggestion::AddAnotherWordOrTwo,
        Suggestion::CapitalizationDoesntHelpVeryMuch,
        Suggestion::AllUppercaseIsAlmostAsEasyToGuessAsAllLowercase,
        Suggestion::ReversedWordsArentMuchHarderToGuess,
        Suggestion::PredictableSubstitutionsDontHelpVeryMuch,
        Suggestion::UseALongerKeyboardPatternWithMoreTurns,
        Suggestion::AvoidRepeatedWordsAndCharacters,
        Suggestion::AvoidSequences,
        Suggestion::AvoidRecentYears,
        Suggestion::AvoidYearsThatAreAssociatedWithYou,
        Suggestion::AvoidDatesAndYearsThatAreAssociatedWithYou,
    ];

    #[test]
    fn every_key_the_policy_returns_is_in_both_catalogs_and_listed_as_used_by_code() {
        let theme = Theme::load(None, Locale::En).unwrap();
        let reasons = [
            PasswordRejection::TooShort { min_length: 10 },
            PasswordRejection::TooLong { max_length: MAX_LENGTH },
            PasswordRejection::Mismatch,
            PasswordRejection::Personal,
            PasswordRejection::TooWeak { score: 0, warning: None, suggestions: vec![] },
        ];
        let reason_keys: BTreeSet<&str> = reasons.iter().map(PasswordRejection::key).collect();
        let warning_keys: BTreeSet<&str> = ALL_WARNINGS.into_iter().map(warning_key).collect();
        let suggestion_keys: BTreeSet<&str> = ALL_SUGGESTIONS.into_iter().map(suggestion_key).collect();
        // Exactly the lists the catalogs keep for this module: nothing missing, nothing stale.
        assert_eq!(reason_keys, keys::PASSWORD_REASONS.iter().copied().collect());
        assert_eq!(warning_keys, keys::PASSWORD_WARNINGS.iter().copied().collect());
        assert_eq!(suggestion_keys, keys::PASSWORD_SUGGESTIONS.iter().copied().collect());
        for key in reason_keys.iter().chain(&warning_keys).chain(&suggestion_keys) {
            assert!(theme.has_key(key), "{key} is not in the catalogs");
        }
        // Every rejection renders on a page in both languages.
        for reason in &reasons {
            for locale in Locale::ALL {
                let mut data = poort_themes::samples::page_samples("activate")[0].clone();
                data["password_policy"] = policy().page_value(&JAN);
                data["password_error"] = reason.to_page_value();
                theme.render_page("activate", locale, &data).unwrap_or_else(|e| panic!("{reason:?}: {e}"));
            }
        }
    }
}
