//! Contact details of a professional: an e-mail address and a mobile phone number, each owned
//! by one person (the registry sends the RPPS number and e-CPS activation codes there).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::validation::{FieldError, codes};

/// Stable path of the e-mail field in error reports.
pub const EMAIL_FIELD: &str = "contact.email";
/// Stable path of the mobile field in error reports.
pub const MOBILE_FIELD: &str = "contact.mobile";

/// Longest address accepted (RFC 5321 path limit minus the angle brackets).
const MAX_EMAIL_LEN: usize = 254;
/// Longest local part (RFC 5321).
const MAX_LOCAL_LEN: usize = 64;

/// An e-mail address that passed a pragmatic syntax check: `local@domain.tld`, ASCII only,
/// no quoted local part, no IP-literal domain. The domain is lower-cased; the local part is
/// kept as typed because RFC 5321 lets servers treat its case as significant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Checks an address typed by a user. Errors are reported at [`EMAIL_FIELD`].
    pub fn parse(raw: &str) -> Result<Email, FieldError> {
        let err = |code, message: &str| FieldError::new(EMAIL_FIELD, code, message);
        let s = raw.trim();
        if s.is_empty() {
            return Err(err(codes::REQUIRED, "Saisissez une adresse e-mail."));
        }
        if s.len() > MAX_EMAIL_LEN {
            return Err(err(
                codes::TOO_LONG,
                "L'adresse e-mail est trop longue (254 caractères au maximum).",
            ));
        }
        if !s.is_ascii() {
            return Err(err(
                codes::INVALID_CHARACTERS,
                "L'adresse e-mail ne peut pas contenir de lettres accentuées ni de caractères \
                 spéciaux : vérifiez-la.",
            ));
        }
        let format_error = || {
            err(
                codes::INVALID_FORMAT,
                "Adresse e-mail invalide : elle doit avoir la forme nom@domaine.fr, sans espace.",
            )
        };
        let (local, domain) = s.rsplit_once('@').ok_or_else(format_error)?;
        if !local_part_ok(local) || !domain_ok(domain) {
            return Err(format_error());
        }
        Ok(Email(format!("{local}@{}", domain.to_ascii_lowercase())))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before `@`, as typed.
    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(l, _)| l)
    }

    /// The domain, lower-cased.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, d)| d)
    }

    /// The whole address lower-cased: mail providers ignore case in practice, so two addresses
    /// with the same key belong to the same mailbox (one address per person).
    pub fn comparison_key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

fn local_part_ok(local: &str) -> bool {
    const SPECIALS: &[u8] = b"!#$%&'*+/=?^_`{|}~.-";
    !local.is_empty()
        && local.len() <= MAX_LOCAL_LEN
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || SPECIALS.contains(&b))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
}

fn domain_ok(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let tld_ok = |t: &str| {
        (t.len() >= 2 && t.bytes().all(|b| b.is_ascii_alphabetic()))
            || (t.len() > 4 && t[..4].eq_ignore_ascii_case("xn--"))
    };
    domain.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| label_ok(l))
        && labels.last().is_some_and(|t| tld_ok(t))
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Email {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        Email::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

// French numbering plan facts used below. The national significant number (NSN) is the 9 digits
// after the leading 0; one plan covers metropolitan France and the overseas départements, but
// each overseas territory keeps its own ITU country code, so a number's block decides its code.
// - Metropolitan mobiles: 06 and 07 3x–07 9x (ARCEP opened 075–079 to mobiles in 2010; the
//   range 7[3-9] is the one in Google libphonenumber's FR metadata). 07 00 holds 14-digit
//   machine-to-machine numbers and 070–072 are not personal mobiles.
// - Overseas mobiles have used 06 numbers since 23 October 2001 in Guadeloupe, Guyane,
//   Martinique and La Réunion (ARCEP press release of 19 October 2001), and since 30 March 2007
//   in Mayotte, as 0639, when Mayotte left the Comoros code +269 for +262 (ARCEP decision
//   2006-0720, press release of 24 July 2006).
// - Blocks per territory, from libphonenumber's metadata (built from ARCEP allocation tables):
//   0690, 0691 and 07090 Guadeloupe, Saint-Martin, Saint-Barthélemy (+590); 0694 and
//   070930–070933 Guyane (+594); 0696, 0697 and 07091 Martinique (+596); 0692, 0693 and 07092
//   La Réunion (+262); 0639 and 070935–070937 Mayotte (+262); 07084, 07085
//   Saint-Pierre-et-Miquelon (+508). Unallocated neighbours (070934, 070938–9) follow their
//   neighbours. The zones match ARCEP decision 2022-1583 (mobile routing prefixes per
//   territory: Guadeloupe–Saint-Martin–Saint-Barthélemy, Guyane, Martinique, La Réunion–Mayotte,
//   Saint-Pierre-et-Miquelon).
// - Blocks are shared within the Antilles–Guyane zone (some 0694 and 0696 blocks serve
//   Guadeloupe), so a national number gets the territory its block was opened for, and an
//   explicit +590/+594/+596 typed by the user is kept for any number of that zone.

/// The territory whose ITU country code a mobile number takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum MobileTerritory {
    /// Metropolitan France, `+33`.
    Metropole,
    /// Guadeloupe, Saint-Martin and Saint-Barthélemy, `+590`.
    Guadeloupe,
    /// Guyane, `+594`.
    Guyane,
    /// Martinique, `+596`.
    Martinique,
    /// La Réunion, `+262`.
    Reunion,
    /// Mayotte, `+262`.
    Mayotte,
    /// Saint-Pierre-et-Miquelon, `+508`.
    SaintPierreEtMiquelon,
}

impl MobileTerritory {
    /// The ITU country code, without `+`.
    pub fn country_code(self) -> &'static str {
        match self {
            MobileTerritory::Metropole => "33",
            MobileTerritory::Guadeloupe => "590",
            MobileTerritory::Guyane => "594",
            MobileTerritory::Martinique => "596",
            MobileTerritory::Reunion | MobileTerritory::Mayotte => "262",
            MobileTerritory::SaintPierreEtMiquelon => "508",
        }
    }

    /// A French name.
    pub fn label(self) -> &'static str {
        match self {
            MobileTerritory::Metropole => "France métropolitaine",
            MobileTerritory::Guadeloupe => "Guadeloupe, Saint-Martin, Saint-Barthélemy",
            MobileTerritory::Guyane => "Guyane",
            MobileTerritory::Martinique => "Martinique",
            MobileTerritory::Reunion => "La Réunion",
            MobileTerritory::Mayotte => "Mayotte",
            MobileTerritory::SaintPierreEtMiquelon => "Saint-Pierre-et-Miquelon",
        }
    }

    /// Numbers of the same zone share blocks, so their country codes are interchangeable.
    fn zone(self) -> u8 {
        match self {
            MobileTerritory::Metropole => 0,
            MobileTerritory::Guadeloupe | MobileTerritory::Guyane | MobileTerritory::Martinique => {
                1
            }
            MobileTerritory::Reunion | MobileTerritory::Mayotte => 2,
            MobileTerritory::SaintPierreEtMiquelon => 3,
        }
    }
}

/// Overseas mobile blocks by national-significant-number prefix; see the facts above.
const OVERSEAS_BLOCKS: &[(&str, MobileTerritory)] = &[
    ("639", MobileTerritory::Mayotte),
    ("690", MobileTerritory::Guadeloupe),
    ("691", MobileTerritory::Guadeloupe),
    ("692", MobileTerritory::Reunion),
    ("693", MobileTerritory::Reunion),
    ("694", MobileTerritory::Guyane),
    ("696", MobileTerritory::Martinique),
    ("697", MobileTerritory::Martinique),
    ("7084", MobileTerritory::SaintPierreEtMiquelon),
    ("7085", MobileTerritory::SaintPierreEtMiquelon),
    ("7090", MobileTerritory::Guadeloupe),
    ("7091", MobileTerritory::Martinique),
    ("7092", MobileTerritory::Reunion),
    ("70930", MobileTerritory::Guyane),
    ("70931", MobileTerritory::Guyane),
    ("70932", MobileTerritory::Guyane),
    ("70933", MobileTerritory::Guyane),
    ("70934", MobileTerritory::Guyane),
    ("70935", MobileTerritory::Mayotte),
    ("70936", MobileTerritory::Mayotte),
    ("70937", MobileTerritory::Mayotte),
    ("70938", MobileTerritory::Mayotte),
    ("70939", MobileTerritory::Mayotte),
];

/// The territory a national significant number's block belongs to, when it is a mobile.
fn block_territory(nsn: &str) -> Option<MobileTerritory> {
    if let Some((_, t)) = OVERSEAS_BLOCKS.iter().find(|(p, _)| nsn.starts_with(p)) {
        return Some(*t);
    }
    let b = nsn.as_bytes();
    match (b.first(), b.get(1)) {
        (Some(b'6'), _) => Some(MobileTerritory::Metropole),
        (Some(b'7'), Some(b'3'..=b'9')) => Some(MobileTerritory::Metropole),
        _ => None,
    }
}

/// The territories a typed country code designates.
fn territories_of_code(cc: &str) -> &'static [MobileTerritory] {
    match cc {
        "33" => &[MobileTerritory::Metropole],
        "590" => &[MobileTerritory::Guadeloupe],
        "594" => &[MobileTerritory::Guyane],
        "596" => &[MobileTerritory::Martinique],
        "262" => &[MobileTerritory::Reunion, MobileTerritory::Mayotte],
        "508" => &[MobileTerritory::SaintPierreEtMiquelon],
        _ => &[],
    }
}

/// A French mobile number (metropolitan or overseas), normalised to E.164.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Mobile {
    e164: String,
    territory: MobileTerritory,
}

impl Mobile {
    /// Checks a number typed by a user: `06 12 34 56 78`, `0692 12 34 56`,
    /// `+33 6 12 34 56 78`, `+33 (0)6…`, `0033 6…`, `+262 692 12 34 56`… Spaces, dots, hyphens
    /// and parentheses are ignored. Errors are reported at [`MOBILE_FIELD`].
    pub fn parse(raw: &str) -> Result<Mobile, FieldError> {
        let err = |code, message: &str| FieldError::new(MOBILE_FIELD, code, message);
        let format_error = || {
            err(
                codes::INVALID_FORMAT,
                "Numéro de mobile invalide : saisissez 10 chiffres (par exemple 06 12 34 56 78) \
                 ou le format international (par exemple +33 6 12 34 56 78).",
            )
        };
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(err(
                codes::REQUIRED,
                "Saisissez un numéro de téléphone mobile.",
            ));
        }
        let (international, body) = match trimmed.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let mut digits = String::with_capacity(body.len());
        for c in body.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
            } else if !(c.is_whitespace() || matches!(c, '.' | '-' | '(' | ')' | '/')) {
                return Err(err(
                    codes::INVALID_CHARACTERS,
                    "Le numéro ne peut contenir que des chiffres, des espaces et le signe + au \
                     début.",
                ));
            }
        }
        let (typed_code, nsn) = if international {
            split_country_code(&digits)?
        } else if let Some(rest) = digits.strip_prefix("00") {
            split_country_code(rest)?
        } else if digits.len() == 10 && digits.starts_with('0') {
            (None, digits[1..].to_owned())
        } else {
            return Err(format_error());
        };
        if nsn.len() != 9 {
            return Err(format_error());
        }
        let Some(block) = block_territory(&nsn) else {
            return Err(err(
                codes::NOT_A_MOBILE,
                "Ce numéro n'est pas un numéro de mobile : saisissez un numéro de portable \
                 (06 ou 07, ou mobile d'outre-mer).",
            ));
        };
        let territory = match typed_code {
            // +33 is habitually typed for overseas mobiles too; the block tells the territory.
            None | Some("33") => block,
            Some(cc) => {
                let typed = territories_of_code(cc);
                if typed.contains(&block) {
                    block
                } else if let Some(t) = typed.iter().find(|t| t.zone() == block.zone()) {
                    *t
                } else {
                    return Err(err(
                        codes::INCONSISTENT,
                        "L'indicatif ne correspond pas à ce numéro : vérifiez-le, ou saisissez \
                         le numéro à 10 chiffres (06… ou 07…).",
                    ));
                }
            }
        };
        Ok(Mobile {
            e164: format!("+{}{nsn}", territory.country_code()),
            territory,
        })
    }

    /// The number in E.164 form, e.g. `+33612345678` or `+262692123456`.
    pub fn e164(&self) -> &str {
        &self.e164
    }

    /// The territory of the number.
    pub fn territory(&self) -> MobileTerritory {
        self.territory
    }

    /// The 9-digit national significant number.
    pub fn national_significant_number(&self) -> &str {
        let cc_len = 1 + self.territory.country_code().len();
        self.e164.get(cc_len..).unwrap_or_default()
    }

    /// The number as dialled within France, grouped: `06 12 34 56 78`, `06 92 12 34 56`.
    pub fn national_display(&self) -> String {
        let national = format!("0{}", self.national_significant_number());
        let pairs: Vec<&str> = national
            .as_bytes()
            .chunks(2)
            .filter_map(|c| std::str::from_utf8(c).ok())
            .collect();
        pairs.join(" ")
    }
}

/// Splits the digits after `+` or `00` into a supported country code and the national
/// significant number, dropping a trunk `0` typed after the code (`+33 (0)6…`).
fn split_country_code(digits: &str) -> Result<(Option<&'static str>, String), FieldError> {
    const CODES: [&str; 6] = ["33", "262", "508", "590", "594", "596"];
    let Some(cc) = CODES.iter().find(|cc| digits.starts_with(*cc)) else {
        return Err(FieldError::new(
            MOBILE_FIELD,
            codes::UNSUPPORTED_COUNTRY,
            "Seuls les numéros de mobile français sont acceptés (métropole : +33, outre-mer : \
             +262, +508, +590, +594, +596).",
        ));
    };
    let rest = &digits[cc.len()..];
    let rest = match rest.strip_prefix('0') {
        Some(r) if r.len() == 9 => r,
        _ => rest,
    };
    Ok((Some(*cc), rest.to_owned()))
}

impl fmt::Display for Mobile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.e164)
    }
}

impl TryFrom<String> for Mobile {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        Mobile::parse(&s)
    }
}

impl From<Mobile> for String {
    fn from(m: Mobile) -> String {
        m.e164
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn emails() {
        let ok = |s: &str| Email::parse(s).map(|e| e.to_string());
        assert_eq!(
            ok("  Jean.Dupont+rpps@Example.FR "),
            Ok("Jean.Dupont+rpps@example.fr".into())
        );
        assert_eq!(ok("a@b.co"), Ok("a@b.co".into()));
        assert_eq!(
            ok("x@sub.domain-1.xn--p1ai"),
            Ok("x@sub.domain-1.xn--p1ai".into())
        );
        let e = Email::parse("Jean@Example.fr").map(|e| {
            (
                e.local_part().to_owned(),
                e.domain().to_owned(),
                e.comparison_key(),
            )
        });
        assert_eq!(
            e,
            Ok(("Jean".into(), "example.fr".into(), "jean@example.fr".into()))
        );
        let code = |s: &str| Email::parse(s).map_err(|e| (e.field, e.code));
        assert_eq!(code(""), Err((EMAIL_FIELD.into(), codes::REQUIRED)));
        assert_eq!(code("  "), Err((EMAIL_FIELD.into(), codes::REQUIRED)));
        assert_eq!(
            code("jérôme@exemple.fr"),
            Err((EMAIL_FIELD.into(), codes::INVALID_CHARACTERS))
        );
        for bad in [
            "plainaddress",
            "@example.fr",
            "jean@",
            "jean@example",
            "jean@example.f",
            "jean@example.123",
            "jean dupont@example.fr",
            "jean@exa mple.fr",
            ".jean@example.fr",
            "jean.@example.fr",
            "je..an@example.fr",
            "jean@-example.fr",
            "jean@example-.fr",
            "jean@example..fr",
            "jean@@example.fr",
            "a@b@example.fr",
            "\"jean\"@example.fr",
            "jean@[192.168.0.1]",
            "jean(comment)@example.fr",
        ] {
            assert_eq!(
                Email::parse(bad).map_err(|e| e.code),
                Err(codes::INVALID_FORMAT),
                "{bad}"
            );
        }
        let long_local = format!("{}@example.fr", "a".repeat(65));
        assert_eq!(
            Email::parse(&long_local).map_err(|e| e.code),
            Err(codes::INVALID_FORMAT)
        );
        let too_long = format!("a@{}.fr", "b".repeat(260));
        assert_eq!(
            Email::parse(&too_long).map_err(|e| e.code),
            Err(codes::TOO_LONG)
        );
    }

    fn e164(s: &str) -> Result<String, &'static str> {
        Mobile::parse(s)
            .map(|m| m.e164().to_owned())
            .map_err(|e| e.code)
    }

    #[test]
    fn metropolitan_mobiles() {
        for s in [
            "06 12 34 56 78",
            "0612345678",
            "06.12.34.56.78",
            "06-12-34-56-78",
            "+33 6 12 34 56 78",
            "+33612345678",
            "+33 (0)6 12 34 56 78",
            "0033 6 12 34 56 78",
            "\u{a0}06\u{a0}12 34 56 78 ",
        ] {
            assert_eq!(e164(s), Ok("+33612345678".into()), "{s}");
        }
        assert_eq!(e164("07 81 23 45 67"), Ok("+33781234567".into()));
        assert_eq!(e164("07 31 23 45 67"), Ok("+33731234567".into()));
        let m = Mobile::parse("0612345678");
        assert_eq!(
            m.as_ref().map(|m| m.national_display()),
            Ok("06 12 34 56 78".into())
        );
        assert_eq!(m.map(|m| m.territory()), Ok(MobileTerritory::Metropole));
    }

    #[test]
    fn overseas_mobiles() {
        for (national, international, territory) in [
            ("0692 12 34 56", "+262692123456", MobileTerritory::Reunion),
            ("0693 12 34 56", "+262693123456", MobileTerritory::Reunion),
            ("0639 26 27 28", "+262639262728", MobileTerritory::Mayotte),
            (
                "0690 12 34 56",
                "+590690123456",
                MobileTerritory::Guadeloupe,
            ),
            (
                "0691 12 34 56",
                "+590691123456",
                MobileTerritory::Guadeloupe,
            ),
            ("0694 20 12 34", "+594694201234", MobileTerritory::Guyane),
            (
                "0696 20 12 34",
                "+596696201234",
                MobileTerritory::Martinique,
            ),
            (
                "0697 12 34 56",
                "+596697123456",
                MobileTerritory::Martinique,
            ),
            (
                "07 09 01 23 45",
                "+590709012345",
                MobileTerritory::Guadeloupe,
            ),
            ("07 09 21 23 45", "+262709212345", MobileTerritory::Reunion),
            ("07 09 36 23 45", "+262709362345", MobileTerritory::Mayotte),
            (
                "07 08 45 12 34",
                "+508708451234",
                MobileTerritory::SaintPierreEtMiquelon,
            ),
        ] {
            let m = Mobile::parse(national);
            assert_eq!(
                m.as_ref().map(|m| m.e164()),
                Ok(international),
                "{national}"
            );
            assert_eq!(
                m.as_ref().map(|m| m.territory()),
                Ok(territory),
                "{national}"
            );
            // The international form gives the same number.
            assert_eq!(e164(international).as_deref(), Ok(international));
            // So does +33 typed by habit.
            let nsn = &international[international.len() - 9..];
            assert_eq!(e164(&format!("+33 {nsn}")).as_deref(), Ok(international));
        }
        assert_eq!(
            Mobile::parse("+262 692 12 34 56").map(|m| m.national_display()),
            Ok("06 92 12 34 56".into())
        );
        // Blocks are shared across the Antilles–Guyane zone: an explicit code is kept.
        assert_eq!(e164("+590 694 08 12 34"), Ok("+590694081234".into()));
        assert_eq!(e164("+590 696 61 23 45"), Ok("+590696612345".into()));
        // A Mayotte number typed with the Réunion code is the same number.
        assert_eq!(e164("+262 639 26 27 28"), Ok("+262639262728".into()));
    }

    #[test]
    fn refusals() {
        assert_eq!(e164(""), Err(codes::REQUIRED));
        assert_eq!(e164("01 23 45 67 89"), Err(codes::NOT_A_MOBILE));
        assert_eq!(e164("09 70 12 34 56"), Err(codes::NOT_A_MOBILE));
        assert_eq!(e164("08 00 12 34 56"), Err(codes::NOT_A_MOBILE));
        assert_eq!(e164("07 00 12 34 56"), Err(codes::NOT_A_MOBILE));
        assert_eq!(e164("0262 12 34 56"), Err(codes::NOT_A_MOBILE)); // Réunion landline
        assert_eq!(e164("+262 6 12 34 56 78"), Err(codes::INCONSISTENT));
        assert_eq!(e164("+590 692 12 34 56"), Err(codes::INCONSISTENT));
        assert_eq!(e164("+262 690 12 34 56"), Err(codes::INCONSISTENT));
        assert_eq!(e164("+269 639 12 34 56"), Err(codes::UNSUPPORTED_COUNTRY)); // Comoros
        assert_eq!(e164("+44 7911 123456"), Err(codes::UNSUPPORTED_COUNTRY));
        assert_eq!(e164("06 12 34 56 7"), Err(codes::INVALID_FORMAT));
        assert_eq!(e164("06 12 34 56 789"), Err(codes::INVALID_FORMAT));
        assert_eq!(e164("6 12 34 56 78"), Err(codes::INVALID_FORMAT));
        assert_eq!(e164("+33 6 12 34 56 7"), Err(codes::INVALID_FORMAT));
        assert_eq!(e164("06 12 34 56 7a"), Err(codes::INVALID_CHARACTERS));
        assert_eq!(e164("06+12345678"), Err(codes::INVALID_CHARACTERS));
        assert_eq!(e164("++33612345678"), Err(codes::INVALID_CHARACTERS));
        assert!(Mobile::parse("").is_err_and(|e| e.field == MOBILE_FIELD));
    }

    #[test]
    fn serde_round_trip() -> Result<(), String> {
        let m = Mobile::parse("0692 12 34 56").map_err(|e| e.to_string())?;
        let json = serde_json::to_string(&m).map_err(|e| e.to_string())?;
        assert_eq!(json, "\"+262692123456\"");
        let back: Mobile = serde_json::from_str(&json).map_err(|e| e.to_string())?;
        assert_eq!(back, m);
        assert_eq!(back.territory(), MobileTerritory::Reunion);
        let e: Email = serde_json::from_str("\"a@B.fr\"").map_err(|e| e.to_string())?;
        assert_eq!(e.as_str(), "a@b.fr");
        assert!(serde_json::from_str::<Email>("\"nope\"").is_err());
        Ok(())
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC{0,30}") {
            let _ = Email::parse(&s);
            let _ = Mobile::parse(&s);
        }

        #[test]
        fn every_metropolitan_mobile_normalises(rest in "[0-9]{8}", seven in prop::bool::ANY, sep in prop_oneof![Just(""), Just(" "), Just(".")]) {
            let lead = if seven { "07" } else { "06" };
            let digits = format!("{lead}{rest}");
            let typed: String = digits.as_bytes().chunks(2).filter_map(|c| std::str::from_utf8(c).ok()).collect::<Vec<_>>().join(sep);
            match Mobile::parse(&typed) {
                Ok(m) => {
                    prop_assert!(m.e164().starts_with('+'));
                    prop_assert_eq!(m.e164().len(), 1 + m.territory().country_code().len() + 9);
                    prop_assert!(m.e164().ends_with(&digits[1..]));
                    prop_assert_eq!(m.national_display().replace(' ', ""), digits);
                    prop_assert_eq!(Mobile::parse(m.e164()).map(|n| n.e164().to_owned()), Ok(m.e164().to_owned()));
                }
                Err(e) => {
                    // Only 070–072 outside the overseas blocks are not mobiles.
                    prop_assert!(seven && digits.as_bytes()[2] <= b'2', "{} {:?}", typed, e);
                    prop_assert_eq!(e.code, codes::NOT_A_MOBILE);
                }
            }
        }
    }
}
