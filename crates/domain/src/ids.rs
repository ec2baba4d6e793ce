//! National identifiers of persons and structures, each a type that cannot hold an invalid value.
//!
//! Check keys follow `data/README.md` (identifiers): RPPS, ADELI, FINESS, SIREN and SIRET are
//! Luhn-keyed; FINESS numbers of Corsica count `A` as 1 and `B` as 2; SIRET numbers of La Poste
//! (SIREN 356000000) use "sum of digits is a multiple of 5" instead.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why an identifier was refused. Each variant has a stable code for APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Wrong number of characters.
    #[error("longueur incorrecte : {expected} caractères attendus")]
    Length {
        /// The expected length.
        expected: usize,
    },
    /// A character that is not allowed at its position.
    #[error("caractère non autorisé")]
    Charset,
    /// The check key does not match.
    #[error("clé de contrôle incorrecte")]
    CheckKey,
    /// A structurally valid value of a kind this registry does not accept here.
    #[error("préfixe non reconnu")]
    Prefix,
    /// The RPPS sequence has no more numbers in its range.
    #[error("séquence RPPS épuisée")]
    Exhausted,
}

impl IdError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            IdError::Length { .. } => "invalid_length",
            IdError::Charset => "invalid_characters",
            IdError::CheckKey => "invalid_check_key",
            IdError::Prefix => "invalid_prefix",
            IdError::Exhausted => "sequence_exhausted",
        }
    }
}

/// Luhn (mod 10) over a sequence of digit values, rightmost being the key.
pub fn luhn_valid(digits: impl DoubleEndedIterator<Item = u32>) -> bool {
    luhn_sum(digits.rev(), false).is_multiple_of(10)
}

/// The Luhn key that completes `body` (digit values, key excluded).
pub fn luhn_key(body: impl DoubleEndedIterator<Item = u32>) -> u32 {
    // With the key appended, the body's rightmost digit is the one doubled.
    (10 - luhn_sum(body.rev(), true) % 10) % 10
}

fn luhn_sum(from_right: impl Iterator<Item = u32>, mut double: bool) -> u32 {
    let mut sum = 0;
    for d in from_right {
        let v = if double {
            let x = d * 2;
            if x > 9 { x - 9 } else { x }
        } else {
            d
        };
        sum += v;
        double = !double;
    }
    sum
}

fn all_digits(s: &str, len: usize) -> Result<(), IdError> {
    if s.len() != len {
        return Err(IdError::Length { expected: len });
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IdError::Charset);
    }
    Ok(())
}

fn digit_values(s: &str) -> impl DoubleEndedIterator<Item = u32> + '_ {
    s.bytes().map(|b| u32::from(b.wrapping_sub(b'0')))
}

macro_rules! string_id {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The identifier as written.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// An RPPS number: 11 digits with a Luhn key, permanent for one person.
    Rpps
);
string_id!(
    /// An ADELI number: 9 digits with a Luhn key (the legacy register RPPS+ converges with).
    Adeli
);
string_id!(
    /// A national professional identifier (IDNPS): `8` + RPPS, or `0` + ADELI for imported persons.
    Idnps
);
string_id!(
    /// A FINESS number of a legal entity (EJ) or an establishment (EG): 9 characters.
    Finess
);
string_id!(
    /// A SIREN number: 9 digits, Luhn.
    Siren
);
string_id!(
    /// A SIRET number: 14 digits (SIREN + NIC), Luhn except for La Poste.
    Siret
);

/// Largest RPPS sequence value: numbers issued by this registry are `10` + 8 digits + key.
pub const RPPS_SEQUENCE_MAX: u64 = 99_999_999;

impl Rpps {
    /// Parses an RPPS number, key included.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let s = s.trim();
        all_digits(s, 11)?;
        if !luhn_valid(digit_values(s)) {
            return Err(IdError::CheckKey);
        }
        Ok(Rpps(s.to_owned()))
    }

    /// The number issued for a sequence value: `10`, the value on 8 digits, then the Luhn key.
    pub fn from_sequence(value: u64) -> Result<Self, IdError> {
        if value > RPPS_SEQUENCE_MAX {
            return Err(IdError::Exhausted);
        }
        let body = format!("10{value:08}");
        let key = luhn_key(digit_values(&body));
        Ok(Rpps(format!("{body}{key}")))
    }

    /// The sequence value this number was issued from, when it is of the `10` series.
    pub fn sequence_value(&self) -> Option<u64> {
        self.0
            .strip_prefix("10")
            .and_then(|rest| rest.get(..8)?.parse().ok())
    }

    /// The IDNPS of this person: `8` + RPPS.
    pub fn idnps(&self) -> Idnps {
        Idnps(format!("8{}", self.0))
    }
}

impl Adeli {
    /// Parses an ADELI number, key included.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let s = s.trim();
        all_digits(s, 9)?;
        if !luhn_valid(digit_values(s)) {
            return Err(IdError::CheckKey);
        }
        Ok(Adeli(s.to_owned()))
    }

    /// The IDNPS of this person: `0` + ADELI.
    pub fn idnps(&self) -> Idnps {
        Idnps(format!("0{}", self.0))
    }
}

/// What an IDNPS designates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdnpsKind {
    /// `8` + RPPS.
    Rpps(Rpps),
    /// `0` + ADELI.
    Adeli(Adeli),
}

impl Idnps {
    /// Parses an IDNPS of type 8 (RPPS) or 0 (ADELI); other TRE_G08 types are not persons of
    /// this registry.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        Self::kind_of(s.trim()).map(|_| Idnps(s.trim().to_owned()))
    }

    fn kind_of(s: &str) -> Result<IdnpsKind, IdError> {
        match s.as_bytes().first() {
            Some(b'8') => Rpps::parse(&s[1..]).map(IdnpsKind::Rpps),
            Some(b'0') => Adeli::parse(&s[1..]).map(IdnpsKind::Adeli),
            Some(b) if b.is_ascii_digit() => Err(IdError::Prefix),
            Some(_) => Err(IdError::Charset),
            None => Err(IdError::Length { expected: 12 }),
        }
    }

    /// The RPPS or ADELI number inside.
    pub fn kind(&self) -> IdnpsKind {
        match Self::kind_of(&self.0) {
            Ok(k) => k,
            // Construction checked the value; keep a total function without panicking.
            Err(_) => IdnpsKind::Rpps(Rpps(self.0.get(1..).unwrap_or_default().to_owned())),
        }
    }

    /// The RPPS number, when this IDNPS is of type 8.
    pub fn rpps(&self) -> Option<Rpps> {
        match self.kind() {
            IdnpsKind::Rpps(r) => Some(r),
            IdnpsKind::Adeli(_) => None,
        }
    }
}

/// The outcome of reading a FINESS number: a bad key is an error on manual entry but only a
/// warning on bulk import (some published numbers fail it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinessReading {
    /// The number, normalised to upper case.
    pub finess: Finess,
    /// Whether the Luhn key holds.
    pub key_valid: bool,
}

impl Finess {
    /// Parses a FINESS number typed by a person: the key must hold.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let r = Self::read(s)?;
        if r.key_valid {
            Ok(r.finess)
        } else {
            Err(IdError::CheckKey)
        }
    }

    /// Reads a FINESS number from a bulk file: format checked, key reported but not enforced.
    pub fn read(s: &str) -> Result<FinessReading, IdError> {
        let s = s.trim().to_ascii_uppercase();
        if s.len() != 9 {
            return Err(IdError::Length { expected: 9 });
        }
        let bytes = s.as_bytes();
        let corsica = bytes[0] == b'2' && (bytes[1] == b'A' || bytes[1] == b'B');
        let rest_ok = bytes[2..].iter().all(u8::is_ascii_digit);
        let head_ok = bytes[..2].iter().all(u8::is_ascii_digit) || corsica;
        if !(rest_ok && head_ok) {
            return Err(IdError::Charset);
        }
        let values = bytes.iter().map(|&b| match b {
            b'A' => 1,
            b'B' => 2,
            d => u32::from(d - b'0'),
        });
        let key_valid = luhn_valid(values.collect::<Vec<_>>().into_iter());
        Ok(FinessReading {
            finess: Finess(s),
            key_valid,
        })
    }

    /// The département part (`01`…`95`, `2A`, `2B`, `97`…).
    pub fn department(&self) -> &str {
        self.0.get(..2).unwrap_or_default()
    }
}

impl Siren {
    /// Parses a SIREN number.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        all_digits(&s, 9)?;
        if !luhn_valid(digit_values(&s)) {
            return Err(IdError::CheckKey);
        }
        Ok(Siren(s))
    }
}

/// The SIREN of La Poste, whose establishments' SIRET numbers do not follow Luhn.
const LA_POSTE_SIREN: &str = "356000000";

impl Siret {
    /// Parses a SIRET number.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        all_digits(&s, 14)?;
        let valid = if s.starts_with(LA_POSTE_SIREN) {
            digit_values(&s).sum::<u32>() % 5 == 0
        } else {
            luhn_valid(digit_values(&s))
        };
        if !valid {
            return Err(IdError::CheckKey);
        }
        Ok(Siret(s))
    }

    /// The SIREN of the legal unit.
    pub fn siren(&self) -> &str {
        self.0.get(..9).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn worked_examples_from_the_reference() {
        assert!(Rpps::parse("10000001916").is_ok());
        assert_eq!(luhn_key(digit_values("1000000191")), 6);
        assert_eq!(
            Rpps::parse("10000001916").map(|r| r.idnps().to_string()),
            Ok("810000001916".to_owned())
        );
        for r in [
            "10000013994",
            "10006122583",
            "10001045367",
            "10104335319",
            "10005814339",
            "10100224947",
            "10104257190",
            "10100124576",
            "10005810808",
            "10100356202",
            "10100779536",
            "10100375103",
            "10005929293",
            "10005888853",
        ] {
            assert!(Rpps::parse(r).is_ok(), "{r}");
        }
        // Documentation placeholders that fail the key.
        assert_eq!(Rpps::parse("10003461033"), Err(IdError::CheckKey));
        for a in [
            "012800736",
            "012800728",
            "533100558",
            "759124159",
            "012600631",
            "629400748",
        ] {
            assert!(Adeli::parse(a).is_ok(), "{a}");
        }
        assert!(Finess::parse("010780054").is_ok());
        assert_eq!(luhn_key(digit_values("01078005")), 4);
        for f in [
            "010000024",
            "590064036",
            "010009496",
            "010011468",
            "970100400",
            "970112470",
        ] {
            assert!(Finess::parse(f).is_ok(), "{f}");
        }
        assert_eq!(Finess::parse("970700186"), Err(IdError::CheckKey));
        assert_eq!(Finess::read("970700186").map(|r| r.key_valid), Ok(false));
        assert!(Siren::parse("732829320").is_ok());
        assert!(Siret::parse("73282932000074").is_ok());
        assert!(Siret::parse("73282932000075").is_err());
    }

    #[test]
    fn corsican_finess_counts_letters_as_digits() {
        // 2A0000014: values 2 1 0 0 0 0 0 1 4.
        let body = [2, 1, 0, 0, 0, 0, 0, 1];
        let key = luhn_key(body.into_iter());
        let n = format!("2A000001{key}");
        assert!(Finess::parse(&n).is_ok(), "{n}");
        assert_eq!(
            Finess::parse(&n.to_lowercase()).map(|f| f.department().to_owned()),
            Ok("2A".into())
        );
        assert_eq!(Finess::parse("2C0000010"), Err(IdError::Charset));
    }

    #[test]
    fn idnps_kinds() {
        let adeli = Adeli::parse("759124159").map(|a| a.idnps());
        assert_eq!(adeli.as_ref().map(|i| i.as_str()), Ok("0759124159"));
        assert!(matches!(adeli.map(|i| i.kind()), Ok(IdnpsKind::Adeli(_))));
        assert!(matches!(
            Idnps::parse("810000001916").map(|i| i.kind()),
            Ok(IdnpsKind::Rpps(_))
        ));
        assert_eq!(Idnps::parse("310000001916"), Err(IdError::Prefix));
        assert_eq!(Idnps::parse(""), Err(IdError::Length { expected: 12 }));
        assert_eq!(Idnps::parse("x10000001916"), Err(IdError::Charset));
    }

    #[test]
    fn la_poste_siret_exception() {
        // Digits sum to a multiple of 5 but fail Luhn.
        let s = "35600000000001";
        assert_eq!(digit_values(s).sum::<u32>() % 5, 0);
        assert!(!luhn_valid(digit_values(s)));
        assert!(Siret::parse(s).is_ok());
    }

    #[test]
    fn sequence_bounds() {
        assert_eq!(
            Rpps::from_sequence(0).map(|r| r.to_string()),
            Ok("10000000009".into())
        );
        assert!(Rpps::from_sequence(RPPS_SEQUENCE_MAX).is_ok());
        assert_eq!(
            Rpps::from_sequence(RPPS_SEQUENCE_MAX + 1),
            Err(IdError::Exhausted)
        );
    }

    #[test]
    fn hundred_thousand_sequence_numbers_are_unique_and_valid() {
        let mut seen = std::collections::HashSet::new();
        for v in 1_000_000..1_100_000 {
            let r = Rpps::from_sequence(v);
            let r = match r {
                Ok(r) => r,
                Err(e) => panic!("{v}: {e}"),
            };
            assert_eq!(r.as_str().len(), 11);
            assert!(r.as_str().starts_with("10"));
            assert!(luhn_valid(digit_values(r.as_str())));
            assert!(seen.insert(r));
        }
    }

    proptest! {
        #[test]
        fn issued_numbers_parse_back(v in 0..=RPPS_SEQUENCE_MAX) {
            let r = Rpps::from_sequence(v).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(Rpps::parse(r.as_str()), Ok(r.clone()));
            prop_assert_eq!(r.sequence_value(), Some(v));
            prop_assert_eq!(Idnps::parse(r.idnps().as_str()).ok().and_then(|i| i.rpps()), Some(r));
        }

        #[test]
        fn a_single_digit_change_breaks_the_key(v in 0..=RPPS_SEQUENCE_MAX, pos in 0usize..11, delta in 1u8..10) {
            let r = Rpps::from_sequence(v).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut bytes = r.as_str().as_bytes().to_vec();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let s = String::from_utf8(bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(Rpps::parse(&s), Err(IdError::CheckKey));
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,20}") {
            let _ = Rpps::parse(&s);
            let _ = Adeli::parse(&s);
            let _ = Idnps::parse(&s);
            let _ = Finess::read(&s);
            let _ = Siren::parse(&s);
            let _ = Siret::parse(&s);
        }
    }
}
