//! Civil identity of a professional, as entered in the first step of an RPPS+ registration
//! (civilité, sexe, noms, prénoms, naissance, pièce d'identité).
//!
//! The registry will be reconciled with the civil-status directory, so an identity is checked
//! thoroughly on entry and every problem is reported at once. The rules below are ours: the
//! official identity-vigilance texts on the character set of civil traits (RNIV, INS guide)
//! were not available when they were written, and should be checked against them.
//!
//! - names: 1 to [`MAX_NAME_CHARS`] characters after trimming and collapsing inner spaces;
//!   letters of any script (with their accents), spaces, hyphens and apostrophes (`'`, `’`);
//!   at least one letter; no leading or trailing hyphen, no trailing apostrophe. `--` is
//!   allowed: civil status used it between the two parts of a double family name (2005–2011).
//!   What the user typed is kept for display; comparisons use [`crate::matching::matching_key`].
//! - birth date: not in the future, age between [`MIN_AGE_YEARS`] and [`MAX_AGE_YEARS`] on
//!   `today`; the bounds catch typos (`2019` for `1991`) while admitting students in training
//!   and elderly volunteers.
//! - birthplace: a COG country code (`99000` becomes `99100`); when born in France a COG commune
//!   code, current or former (the code valid at birth is kept); no commune when born abroad.
//! - identity document: CNI, passport or residence permit; the document must still be valid on
//!   `today` (its last valid day is accepted). French identity cards issued to adults between
//!   2004 and 2013 are valid 5 years beyond their printed date (décret n° 2013-1188).

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::matching::matching_key;
use crate::reference::{self, FRANCE, normalize_country_code};
use crate::validation::{FieldError, add_years, age_on, codes, format_date_fr, parse_date_input};

/// Longest accepted name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Most first names accepted in one list.
pub const MAX_FIRST_NAMES: usize = 20;
/// Youngest accepted age on the day of entry.
pub const MIN_AGE_YEARS: i32 = 14;
/// Oldest accepted age on the day of entry.
pub const MAX_AGE_YEARS: i32 = 100;
/// Shortest and longest accepted identity-document number, after removing spaces.
pub const DOCUMENT_NUMBER_CHARS: std::ops::RangeInclusive<usize> = 6..=20;

/// The identity as a form or a JSON body gives it: every field optional text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct RawCivilIdentity {
    /// TRE_R81 code: `M` or `MME`.
    pub civility: Option<String>,
    /// TRE_R10 code: `M` or `F`.
    pub sex: Option<String>,
    /// Nom de naissance.
    pub birth_name: Option<String>,
    /// Nom d'usage, if any.
    pub usage_name: Option<String>,
    /// Prénoms de naissance in civil-status order; blank entries (spare form inputs) are
    /// ignored, and error paths keep the positions of this list.
    pub first_names: Vec<String>,
    /// `AAAA-MM-JJ` or `JJ/MM/AAAA`.
    pub birth_date: Option<String>,
    /// COG country code, `99100` for France.
    pub birth_country: Option<String>,
    /// COG commune code, for a birth in France only.
    pub birth_commune: Option<String>,
    /// The identity document shown.
    pub id_document: RawIdDocument,
}

/// An identity document as a form gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct RawIdDocument {
    /// `CNI`, `PASSEPORT` or `TITRE_SEJOUR`.
    pub kind: Option<String>,
    /// The document number.
    pub number: Option<String>,
    /// The end-of-validity date printed on the document.
    pub expiry_date: Option<String>,
}

/// Civilité (TRE_R81); `MLLE` was withdrawn in 2016.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Civility {
    /// `M`, Monsieur.
    #[serde(rename = "M")]
    M,
    /// `MME`, Madame.
    #[serde(rename = "MME")]
    Mme,
}

impl Civility {
    /// The TRE_R81 code.
    pub fn code(self) -> &'static str {
        match self {
            Civility::M => "M",
            Civility::Mme => "MME",
        }
    }

    /// The TRE_R81 label.
    pub fn label(self) -> &'static str {
        match self {
            Civility::M => "Monsieur",
            Civility::Mme => "Madame",
        }
    }
}

/// Sexe administratif (TRE_R10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Sex {
    /// `F`, Féminin.
    #[serde(rename = "F")]
    Female,
    /// `M`, Masculin.
    #[serde(rename = "M")]
    Male,
}

impl Sex {
    /// The TRE_R10 code.
    pub fn code(self) -> &'static str {
        match self {
            Sex::Female => "F",
            Sex::Male => "M",
        }
    }

    /// The TRE_R10 label.
    pub fn label(self) -> &'static str {
        match self {
            Sex::Female => "Féminin",
            Sex::Male => "Masculin",
        }
    }
}

/// A validated name: as typed (trimmed, inner spaces collapsed) and its matching key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct PersonName {
    display: String,
    key: String,
}

impl PersonName {
    /// The name as the user typed it, for display.
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The key to compare and search with ([`matching_key`]).
    pub fn matching_key(&self) -> &str {
        &self.key
    }
}

impl std::fmt::Display for PersonName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display)
    }
}

/// The kind of identity document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum IdDocumentKind {
    /// `CNI`: carte nationale d'identité.
    #[serde(rename = "CNI")]
    IdentityCard,
    /// `PASSEPORT`.
    #[serde(rename = "PASSEPORT")]
    Passport,
    /// `TITRE_SEJOUR`: titre de séjour.
    #[serde(rename = "TITRE_SEJOUR")]
    ResidencePermit,
}

impl IdDocumentKind {
    /// The code used in forms and storage.
    pub fn code(self) -> &'static str {
        match self {
            IdDocumentKind::IdentityCard => "CNI",
            IdDocumentKind::Passport => "PASSEPORT",
            IdDocumentKind::ResidencePermit => "TITRE_SEJOUR",
        }
    }

    /// A French label.
    pub fn label(self) -> &'static str {
        match self {
            IdDocumentKind::IdentityCard => "Carte nationale d'identité",
            IdDocumentKind::Passport => "Passeport",
            IdDocumentKind::ResidencePermit => "Titre de séjour",
        }
    }

    /// Reads a code, ignoring case and surrounding spaces.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "CNI" => Some(IdDocumentKind::IdentityCard),
            "PASSEPORT" => Some(IdDocumentKind::Passport),
            "TITRE_SEJOUR" => Some(IdDocumentKind::ResidencePermit),
            _ => None,
        }
    }
}

/// A validated identity document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdDocument {
    kind: IdDocumentKind,
    number: String,
    printed_expiry: Date,
    valid_until: Date,
}

impl IdDocument {
    /// The kind of document.
    pub fn kind(&self) -> IdDocumentKind {
        self.kind
    }

    /// The number, upper-case, spaces removed.
    pub fn number(&self) -> &str {
        &self.number
    }

    /// The end-of-validity date printed on the document.
    pub fn printed_expiry(&self) -> Date {
        self.printed_expiry
    }

    /// The last day the document is valid: the printed date, or 5 years later for identity
    /// cards covered by the 2014 extension.
    pub fn valid_until(&self) -> Date {
        self.valid_until
    }
}

/// First and last printed expiry years of the identity cards extended by 5 years: cards issued
/// to adults from 2 January 2004 to 31 December 2013 (10-year validity) now last 15 years.
const EXTENDED_CNI_EXPIRY_YEARS: std::ops::RangeInclusive<i16> = 2014..=2023;

/// The real end of validity of a document: identity cards issued to adults between 2004 and
/// 2013 gained 5 years without any change to the printed date.
fn valid_until(kind: IdDocumentKind, printed: Date, birth: Option<Date>) -> Date {
    if kind != IdDocumentKind::IdentityCard || !EXTENDED_CNI_EXPIRY_YEARS.contains(&printed.year())
    {
        return printed;
    }
    // Issued 10 years before the printed date; adult then means born 28 years before it. An
    // unknown birth date is itself reported as an error, so give the benefit of the doubt here
    // rather than add a possibly false "expired" error.
    let adult_at_issue = match birth {
        None => true,
        Some(b) => add_years(b, 28).is_some_and(|b28| b28 <= printed),
    };
    if adult_at_issue {
        add_years(printed, 5).unwrap_or(printed)
    } else {
        printed
    }
}

/// A civil identity whose every field has been checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CivilIdentity {
    civility: Civility,
    sex: Sex,
    birth_name: PersonName,
    usage_name: Option<PersonName>,
    first_names: Vec<PersonName>,
    birth_date: Date,
    birth_country: String,
    birth_commune: Option<String>,
    id_document: IdDocument,
}

impl CivilIdentity {
    /// Checks a raw identity on `today` and returns it, or every problem found.
    pub fn parse(raw: &RawCivilIdentity, today: Date) -> Result<CivilIdentity, Vec<FieldError>> {
        let mut errors = Vec::new();
        let civility = collect(&mut errors, parse_civility(raw.civility.as_deref()));
        let sex = collect(&mut errors, parse_sex(raw.sex.as_deref()));
        let birth_name = collect(
            &mut errors,
            required_name(raw.birth_name.as_deref(), &NameField::BIRTH_NAME),
        );
        let usage_name = collect(
            &mut errors,
            optional_name(raw.usage_name.as_deref(), &NameField::USAGE_NAME),
        );
        let first_names = collect_all(&mut errors, parse_first_names(&raw.first_names));
        let birth_date = collect(
            &mut errors,
            parse_birth_date(raw.birth_date.as_deref(), today),
        );
        let birthplace = collect_all(
            &mut errors,
            parse_birthplace(raw.birth_country.as_deref(), raw.birth_commune.as_deref()),
        );
        let id_document = collect_all(
            &mut errors,
            parse_document(&raw.id_document, birth_date, today),
        );
        match (
            civility,
            sex,
            birth_name,
            usage_name,
            first_names,
            birth_date,
            birthplace,
            id_document,
        ) {
            (
                Some(civility),
                Some(sex),
                Some(birth_name),
                Some(usage_name),
                Some(first_names),
                Some(birth_date),
                Some((birth_country, birth_commune)),
                Some(id_document),
            ) if errors.is_empty() => Ok(CivilIdentity {
                civility,
                sex,
                birth_name,
                usage_name,
                first_names,
                birth_date,
                birth_country,
                birth_commune,
                id_document,
            }),
            _ => Err(errors),
        }
    }

    /// Civilité.
    pub fn civility(&self) -> Civility {
        self.civility
    }

    /// Sexe.
    pub fn sex(&self) -> Sex {
        self.sex
    }

    /// Nom de naissance.
    pub fn birth_name(&self) -> &PersonName {
        &self.birth_name
    }

    /// Nom d'usage, when given.
    pub fn usage_name(&self) -> Option<&PersonName> {
        self.usage_name.as_ref()
    }

    /// The name to address the person by: the usage name, else the birth name.
    pub fn current_name(&self) -> &PersonName {
        self.usage_name.as_ref().unwrap_or(&self.birth_name)
    }

    /// Prénoms, in civil-status order (never empty).
    pub fn first_names(&self) -> &[PersonName] {
        &self.first_names
    }

    /// Premier prénom.
    pub fn first_name(&self) -> &PersonName {
        // Construction guarantees at least one; fall back to the birth name rather than panic.
        self.first_names.first().unwrap_or(&self.birth_name)
    }

    /// Date de naissance.
    pub fn birth_date(&self) -> Date {
        self.birth_date
    }

    /// COG code of the country of birth (`99100` for France).
    pub fn birth_country(&self) -> &str {
        &self.birth_country
    }

    /// Whether the person was born in France.
    pub fn born_in_france(&self) -> bool {
        self.birth_country == FRANCE
    }

    /// COG code of the commune of birth as valid at birth (upper case), for a birth in France.
    pub fn birth_commune(&self) -> Option<&str> {
        self.birth_commune.as_deref()
    }

    /// The identity document checked.
    pub fn id_document(&self) -> &IdDocument {
        &self.id_document
    }
}

fn collect<T>(errors: &mut Vec<FieldError>, r: Result<T, FieldError>) -> Option<T> {
    r.map_err(|e| errors.push(e)).ok()
}

fn collect_all<T>(errors: &mut Vec<FieldError>, r: Result<T, Vec<FieldError>>) -> Option<T> {
    r.map_err(|e| errors.extend(e)).ok()
}

fn blank(s: Option<&str>) -> bool {
    s.is_none_or(|s| s.trim().is_empty())
}

fn parse_civility(raw: Option<&str>) -> Result<Civility, FieldError> {
    const FIELD: &str = "identity.civility";
    let Some(raw) = raw.filter(|s| !s.trim().is_empty()) else {
        return Err(FieldError::new(
            FIELD,
            codes::REQUIRED,
            "Choisissez la civilité : « Monsieur » ou « Madame ».",
        ));
    };
    let code = raw.trim().trim_end_matches('.').to_uppercase();
    match code.as_str() {
        "M" => return Ok(Civility::M),
        "MME" => return Ok(Civility::Mme),
        _ => {}
    }
    let retired = reference::tables()
        .ok()
        .and_then(|t| t.civilities.get(&code))
        .filter(|c| !c.status.is_active());
    Err(match retired {
        Some(c) => FieldError::new(
            FIELD,
            codes::RETIRED_CODE,
            format!(
                "La civilité « {} » n'est plus utilisée : choisissez « Monsieur » ou « Madame ».",
                c.label
            ),
        ),
        None => FieldError::new(
            FIELD,
            codes::UNKNOWN_CODE,
            "Civilité inconnue : choisissez « Monsieur » ou « Madame ».",
        ),
    })
}

fn parse_sex(raw: Option<&str>) -> Result<Sex, FieldError> {
    const FIELD: &str = "identity.sex";
    match raw.map(|s| s.trim().to_uppercase()).as_deref() {
        None | Some("") => Err(FieldError::new(
            FIELD,
            codes::REQUIRED,
            "Choisissez le sexe : « Féminin » ou « Masculin ».",
        )),
        Some("F") => Ok(Sex::Female),
        Some("M") => Ok(Sex::Male),
        Some(_) => Err(FieldError::new(
            FIELD,
            codes::UNKNOWN_CODE,
            "Sexe inconnu : choisissez « Féminin » ou « Masculin ».",
        )),
    }
}

/// How a name field is called in messages.
struct NameField {
    path: &'static str,
    /// "le nom de naissance", for messages.
    the: &'static str,
    /// "Le nom de naissance", at the start of a sentence.
    the_cap: &'static str,
}

impl NameField {
    const BIRTH_NAME: NameField = NameField {
        path: "identity.birth_name",
        the: "le nom de naissance",
        the_cap: "Le nom de naissance",
    };
    const USAGE_NAME: NameField = NameField {
        path: "identity.usage_name",
        the: "le nom d'usage",
        the_cap: "Le nom d'usage",
    };
    const FIRST_NAME: NameField = NameField {
        path: "identity.first_names",
        the: "le prénom",
        the_cap: "Le prénom",
    };
}

fn required_name(raw: Option<&str>, field: &NameField) -> Result<PersonName, FieldError> {
    optional_name(raw, field)?.ok_or_else(|| {
        FieldError::new(
            field.path,
            codes::REQUIRED,
            format!(
                "Saisissez {}, tel qu'il figure sur la pièce d'identité.",
                field.the
            ),
        )
    })
}

fn optional_name(raw: Option<&str>, field: &NameField) -> Result<Option<PersonName>, FieldError> {
    match raw {
        None => Ok(None),
        Some(raw) => check_name(raw, field.path, field),
    }
}

/// Checks one name; `Ok(None)` when blank.
fn check_name(raw: &str, path: &str, field: &NameField) -> Result<Option<PersonName>, FieldError> {
    let display = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if display.is_empty() {
        return Ok(None);
    }
    let err = |code, message: String| FieldError::new(path, code, message);
    if display.chars().count() > MAX_NAME_CHARS {
        return Err(err(
            codes::TOO_LONG,
            format!(
                "{} est trop long : {MAX_NAME_CHARS} caractères au maximum.",
                field.the_cap
            ),
        ));
    }
    let mut invalid: Vec<char> = Vec::new();
    let mut prev: Option<char> = None;
    for c in display.chars() {
        let ok = c.is_alphabetic()
            || matches!(c, ' ' | '-' | '\'' | '’')
            // A combining accent (text typed in decomposed form) is part of the letter before it.
            || (('\u{300}'..='\u{36f}').contains(&c) && prev.is_some_and(|p| p.is_alphabetic() || ('\u{300}'..='\u{36f}').contains(&p)));
        if !ok && !invalid.contains(&c) {
            invalid.push(c);
        }
        prev = Some(c);
    }
    if !invalid.is_empty() {
        let shown: Vec<String> = invalid.iter().take(5).map(|&c| show_char(c)).collect();
        return Err(err(
            codes::INVALID_CHARACTERS,
            format!(
                "{} contient des caractères non autorisés ({}). Utilisez uniquement des lettres, \
                 des espaces, des traits d'union et des apostrophes.",
                field.the_cap,
                shown.join(", ")
            ),
        ));
    }
    let starts_badly = display.starts_with('-');
    let ends_badly = display.ends_with(['-', '\'', '’']);
    if !display.chars().any(char::is_alphabetic) || starts_badly || ends_badly {
        return Err(err(
            codes::INVALID_FORMAT,
            format!(
                "{} doit contenir des lettres et ne peut pas commencer ou finir par un trait \
                 d'union ou une apostrophe.",
                field.the_cap
            ),
        ));
    }
    let key = matching_key(&display);
    Ok(Some(PersonName { display, key }))
}

/// A character as shown in an error message; invisible ones by their code point.
fn show_char(c: char) -> String {
    if c.is_control() || c.is_whitespace() || ('\u{300}'..='\u{36f}').contains(&c) {
        format!("U+{:04X}", u32::from(c))
    } else {
        format!("« {c} »")
    }
}

fn parse_first_names(raw: &[String]) -> Result<Vec<PersonName>, Vec<FieldError>> {
    let field = &NameField::FIRST_NAME;
    let non_blank = raw.iter().filter(|s| !s.trim().is_empty()).count();
    if non_blank == 0 {
        return Err(vec![FieldError::new(
            field.path,
            codes::REQUIRED,
            "Saisissez au moins un prénom, tel qu'il figure sur la pièce d'identité.",
        )]);
    }
    if non_blank > MAX_FIRST_NAMES {
        return Err(vec![FieldError::new(
            field.path,
            codes::TOO_LONG,
            format!("Saisissez au plus {MAX_FIRST_NAMES} prénoms."),
        )]);
    }
    let mut names = Vec::new();
    let mut errors = Vec::new();
    for (i, s) in raw.iter().enumerate() {
        match check_name(s, &format!("{}[{i}]", field.path), field) {
            Ok(Some(n)) => names.push(n),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(names)
    } else {
        Err(errors)
    }
}

fn parse_birth_date(raw: Option<&str>, today: Date) -> Result<Date, FieldError> {
    const FIELD: &str = "identity.birth_date";
    let Some(raw) = raw.filter(|s| !s.trim().is_empty()) else {
        return Err(FieldError::new(
            FIELD,
            codes::REQUIRED,
            "Saisissez la date de naissance (JJ/MM/AAAA).",
        ));
    };
    let Some(date) = parse_date_input(raw) else {
        return Err(FieldError::new(
            FIELD,
            codes::INVALID_FORMAT,
            "Date de naissance invalide : saisissez une date qui existe, au format JJ/MM/AAAA.",
        ));
    };
    if date > today {
        return Err(FieldError::new(
            FIELD,
            codes::IN_FUTURE,
            "La date de naissance est dans le futur : vérifiez-la.",
        ));
    }
    let age = age_on(date, today);
    if age < MIN_AGE_YEARS {
        return Err(FieldError::new(
            FIELD,
            codes::TOO_YOUNG,
            format!(
                "Cette date de naissance donne moins de {MIN_AGE_YEARS} ans : vérifiez l'année."
            ),
        ));
    }
    if age > MAX_AGE_YEARS {
        return Err(FieldError::new(
            FIELD,
            codes::TOO_OLD,
            format!(
                "Cette date de naissance donne plus de {MAX_AGE_YEARS} ans : vérifiez l'année."
            ),
        ));
    }
    Ok(date)
}

/// Country of birth, then commune of birth when born in France.
fn parse_birthplace(
    country: Option<&str>,
    commune: Option<&str>,
) -> Result<(String, Option<String>), Vec<FieldError>> {
    const COUNTRY: &str = "identity.birth_country";
    const COMMUNE: &str = "identity.birth_commune";
    let Some(country) = country.filter(|s| !s.trim().is_empty()) else {
        return Err(vec![FieldError::new(
            COUNTRY,
            codes::REQUIRED,
            "Choisissez le pays de naissance.",
        )]);
    };
    let country = normalize_country_code(country);
    let shape_ok = country.len() == 5
        && country.starts_with("99")
        && country.bytes().all(|b| b.is_ascii_digit());
    if !shape_ok {
        return Err(vec![FieldError::new(
            COUNTRY,
            codes::INVALID_FORMAT,
            "Pays de naissance invalide : choisissez un pays dans la liste (code INSEE à 5 \
             chiffres commençant par 99, par exemple 99100 pour la France).",
        )]);
    }
    let cog = match reference::cog() {
        Ok(cog) => cog,
        Err(_) => {
            return Err(vec![FieldError::new(
                COUNTRY,
                codes::REFERENCE_UNAVAILABLE,
                "La liste des pays et des communes est momentanément indisponible. Réessayez \
                 plus tard.",
            )]);
        }
    };
    if cog.country(&country).is_none() {
        return Err(vec![FieldError::new(
            COUNTRY,
            codes::UNKNOWN_COUNTRY,
            format!("Le code pays {country} est inconnu : choisissez un pays dans la liste."),
        )]);
    }
    if country != FRANCE {
        return if blank(commune) {
            Ok((country, None))
        } else {
            Err(vec![FieldError::new(
                COMMUNE,
                codes::NOT_APPLICABLE,
                "Pour une naissance hors de France, ne renseignez pas de commune : le pays de \
                 naissance suffit.",
            )])
        };
    }
    let Some(commune) = commune.filter(|s| !s.trim().is_empty()) else {
        return Err(vec![FieldError::new(
            COMMUNE,
            codes::REQUIRED,
            "Pour une naissance en France, choisissez la commune de naissance.",
        )]);
    };
    let code = commune.trim().to_ascii_uppercase();
    if !reference::is_commune_code_shape(&code) {
        return Err(vec![FieldError::new(
            COMMUNE,
            codes::INVALID_FORMAT,
            "Commune de naissance invalide : choisissez une commune dans la liste (code INSEE à \
             5 caractères, par exemple 75056 pour Paris ou 2A004 pour Ajaccio).",
        )]);
    }
    if cog.birth_commune(&code).is_none() {
        return Err(vec![FieldError::new(
            COMMUNE,
            codes::UNKNOWN_COMMUNE,
            format!(
                "Le code commune {code} est inconnu, même parmi les anciennes communes : \
                 vérifiez-le sur l'acte de naissance."
            ),
        )]);
    }
    Ok((country, Some(code)))
}

fn parse_document(
    raw: &RawIdDocument,
    birth_date: Option<Date>,
    today: Date,
) -> Result<IdDocument, Vec<FieldError>> {
    const KIND: &str = "identity.id_document.kind";
    const NUMBER: &str = "identity.id_document.number";
    const EXPIRY: &str = "identity.id_document.expiry_date";
    let mut errors = Vec::new();

    let kind = match raw.kind.as_deref().filter(|s| !s.trim().is_empty()) {
        None => {
            errors.push(FieldError::new(
                KIND,
                codes::REQUIRED,
                "Choisissez le type de pièce d'identité : carte nationale d'identité, passeport \
                 ou titre de séjour.",
            ));
            None
        }
        Some(s) => {
            let kind = IdDocumentKind::parse(s);
            if kind.is_none() {
                errors.push(FieldError::new(
                    KIND,
                    codes::UNKNOWN_CODE,
                    "Type de pièce inconnu : choisissez carte nationale d'identité, passeport ou \
                     titre de séjour.",
                ));
            }
            kind
        }
    };

    let number: String = raw
        .number
        .as_deref()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    let number = if number.is_empty() {
        errors.push(FieldError::new(
            NUMBER,
            codes::REQUIRED,
            "Saisissez le numéro de la pièce d'identité.",
        ));
        None
    } else if !number.chars().all(|c| c.is_ascii_alphanumeric()) {
        errors.push(FieldError::new(
            NUMBER,
            codes::INVALID_CHARACTERS,
            "Le numéro de la pièce ne peut contenir que des chiffres et des lettres sans accent.",
        ));
        None
    } else if number.len() < *DOCUMENT_NUMBER_CHARS.start() {
        errors.push(FieldError::new(
            NUMBER,
            codes::TOO_SHORT,
            format!(
                "Le numéro de la pièce est trop court ({} caractères au minimum) : recopiez-le \
                 en entier.",
                DOCUMENT_NUMBER_CHARS.start()
            ),
        ));
        None
    } else if number.len() > *DOCUMENT_NUMBER_CHARS.end() {
        errors.push(FieldError::new(
            NUMBER,
            codes::TOO_LONG,
            format!(
                "Le numéro de la pièce est trop long ({} caractères au maximum).",
                DOCUMENT_NUMBER_CHARS.end()
            ),
        ));
        None
    } else {
        Some(number)
    };

    let printed = match raw.expiry_date.as_deref().filter(|s| !s.trim().is_empty()) {
        None => {
            errors.push(FieldError::new(
                EXPIRY,
                codes::REQUIRED,
                "Saisissez la date de fin de validité de la pièce (JJ/MM/AAAA).",
            ));
            None
        }
        Some(s) => {
            let d = parse_date_input(s);
            if d.is_none() {
                errors.push(FieldError::new(
                    EXPIRY,
                    codes::INVALID_FORMAT,
                    "Date de fin de validité invalide : saisissez une date qui existe, au format \
                     JJ/MM/AAAA.",
                ));
            }
            d
        }
    };

    if let (Some(kind), Some(printed)) = (kind, printed) {
        let until = valid_until(kind, printed, birth_date);
        if until < today {
            errors.push(FieldError::new(
                EXPIRY,
                codes::EXPIRED,
                format!(
                    "Cette pièce d'identité n'est plus valide depuis le {} : demandez une pièce \
                     en cours de validité.",
                    format_date_fr(until)
                ),
            ));
        } else if let (Some(number), true) = (number, errors.is_empty()) {
            return Ok(IdDocument {
                kind,
                number,
                printed_expiry: printed,
                valid_until: until,
            });
        }
    }
    Err(errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;

    const TODAY: Date = date(2026, 6, 15);

    fn valid() -> RawCivilIdentity {
        RawCivilIdentity {
            civility: Some("MME".into()),
            sex: Some("F".into()),
            birth_name: Some("  Le  Gall-D’Almeida ".into()),
            usage_name: Some("".into()),
            first_names: vec!["Marie-Hélène".into(), "".into(), "Zoé".into()],
            birth_date: Some("14/07/1985".into()),
            birth_country: Some("99100".into()),
            birth_commune: Some("2a004".into()),
            id_document: RawIdDocument {
                kind: Some("cni".into()),
                number: Some("X4RTBPFW4".into()),
                expiry_date: Some("2031-03-02".into()),
            },
        }
    }

    fn errors_of(raw: &RawCivilIdentity) -> Vec<(String, &'static str)> {
        match CivilIdentity::parse(raw, TODAY) {
            Ok(_) => Vec::new(),
            Err(e) => e.into_iter().map(|e| (e.field, e.code)).collect(),
        }
    }

    #[test]
    fn a_valid_identity() -> Result<(), Vec<FieldError>> {
        let id = CivilIdentity::parse(&valid(), TODAY)?;
        assert_eq!(id.civility(), Civility::Mme);
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(id.birth_name().as_str(), "Le Gall-D’Almeida");
        assert_eq!(id.birth_name().matching_key(), "le gall d almeida");
        assert!(id.usage_name().is_none());
        assert_eq!(id.current_name(), id.birth_name());
        let firsts: Vec<_> = id.first_names().iter().map(PersonName::as_str).collect();
        assert_eq!(firsts, ["Marie-Hélène", "Zoé"]);
        assert_eq!(id.first_name().matching_key(), "marie helene");
        assert_eq!(id.birth_date(), date(1985, 7, 14));
        assert!(id.born_in_france());
        assert_eq!(id.birth_commune(), Some("2A004"));
        assert_eq!(id.id_document().kind(), IdDocumentKind::IdentityCard);
        assert_eq!(id.id_document().number(), "X4RTBPFW4");
        assert_eq!(id.id_document().valid_until(), date(2031, 3, 2));
        Ok(())
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let raw = RawCivilIdentity {
            civility: Some("MLLE".into()),
            sex: Some("X".into()),
            birth_name: Some("   ".into()),
            usage_name: Some("Dupont3".into()),
            first_names: vec!["Jean".into(), "Pierre_".into(), "-Paul".into()],
            birth_date: Some("31/02/1990".into()),
            birth_country: Some("99100".into()),
            birth_commune: None,
            id_document: RawIdDocument {
                kind: Some("permis".into()),
                number: Some("12-34".into()),
                expiry_date: Some("demain".into()),
            },
        };
        let fields: Vec<_> = errors_of(&raw);
        let expected = [
            ("identity.civility", codes::RETIRED_CODE),
            ("identity.sex", codes::UNKNOWN_CODE),
            ("identity.birth_name", codes::REQUIRED),
            ("identity.usage_name", codes::INVALID_CHARACTERS),
            ("identity.first_names[1]", codes::INVALID_CHARACTERS),
            ("identity.first_names[2]", codes::INVALID_FORMAT),
            ("identity.birth_date", codes::INVALID_FORMAT),
            ("identity.birth_commune", codes::REQUIRED),
            ("identity.id_document.kind", codes::UNKNOWN_CODE),
            ("identity.id_document.number", codes::INVALID_CHARACTERS),
            ("identity.id_document.expiry_date", codes::INVALID_FORMAT),
        ];
        let expected: Vec<_> = expected
            .iter()
            .map(|(f, c)| ((*f).to_owned(), *c))
            .collect();
        assert_eq!(fields, expected);
    }

    #[test]
    fn messages_are_french_and_name_the_culprit() {
        let mut raw = valid();
        raw.birth_name = Some("Dupont_3".into());
        let Err(e) = CivilIdentity::parse(&raw, TODAY) else {
            panic!("accepted");
        };
        assert!(e[0].message.contains("« _ », « 3 »"), "{}", e[0].message);
        assert!(
            e[0].message.starts_with("Le nom de naissance"),
            "{}",
            e[0].message
        );
        raw.birth_name = Some("Dupont\u{7}".into());
        let Err(e) = CivilIdentity::parse(&raw, TODAY) else {
            panic!("accepted");
        };
        assert!(e[0].message.contains("U+0007"), "{}", e[0].message);
    }

    #[test]
    fn everything_missing() {
        let fields: Vec<_> = errors_of(&RawCivilIdentity::default());
        let expected = [
            "identity.civility",
            "identity.sex",
            "identity.birth_name",
            "identity.first_names",
            "identity.birth_date",
            "identity.birth_country",
            "identity.id_document.kind",
            "identity.id_document.number",
            "identity.id_document.expiry_date",
        ];
        assert_eq!(fields.len(), expected.len(), "{fields:?}");
        for ((field, code), want) in fields.iter().zip(expected) {
            assert_eq!(field, want);
            assert_eq!(*code, codes::REQUIRED);
        }
    }

    #[test]
    fn names() {
        let ok = |s: &str| check_name(s, "p", &NameField::BIRTH_NAME);
        for good in [
            "Dupont",
            "DUPONT--DURAND",
            "O'Neill",
            "'t Hooft",
            "N’Diaye",
            "Müller-Lüdenscheidt",
            "Nguyễn",
            "Łukasz",
            "Ἀλέξανδρος",
            "Е́лена",
            "e\u{301}lise",
            "李",
        ] {
            assert!(matches!(ok(good), Ok(Some(_))), "{good}");
        }
        assert!(matches!(ok("  "), Ok(None)));
        assert_eq!(
            ok("a  b \t c").ok().flatten().map(|n| n.display),
            Some("a b c".into())
        );
        for (bad, code) in [
            ("Dupont2", codes::INVALID_CHARACTERS),
            ("Du.pont", codes::INVALID_CHARACTERS),
            ("\u{301}Dupont", codes::INVALID_CHARACTERS),
            ("-Dupont", codes::INVALID_FORMAT),
            ("Dupont-", codes::INVALID_FORMAT),
            ("Dupont'", codes::INVALID_FORMAT),
            ("- '", codes::INVALID_FORMAT),
        ] {
            assert_eq!(ok(bad).map_err(|e| e.code), Err(code), "{bad}");
        }
        let long = "a".repeat(MAX_NAME_CHARS);
        assert!(matches!(ok(&long), Ok(Some(_))));
        assert_eq!(
            ok(&format!("{long}é")).map_err(|e| e.code),
            Err(codes::TOO_LONG)
        );
    }

    #[test]
    fn civility_and_sex_spellings() {
        assert_eq!(parse_civility(Some(" mme ")), Ok(Civility::Mme));
        assert_eq!(parse_civility(Some("M.")), Ok(Civility::M));
        assert_eq!(
            parse_civility(Some("Mlle")).map_err(|e| e.code),
            Err(codes::RETIRED_CODE)
        );
        assert_eq!(
            parse_civility(Some("DR")).map_err(|e| e.code),
            Err(codes::UNKNOWN_CODE)
        );
        assert_eq!(parse_sex(Some("f")), Ok(Sex::Female));
        assert_eq!(
            parse_sex(Some("")).map_err(|e| e.code),
            Err(codes::REQUIRED)
        );
        assert_eq!(
            parse_sex(Some("H")).map_err(|e| e.code),
            Err(codes::UNKNOWN_CODE)
        );
    }

    #[test]
    fn labels_agree_with_the_reference_tables() -> Result<(), String> {
        let t = reference::tables().map_err(|e| e.to_string())?;
        for c in [Civility::M, Civility::Mme] {
            assert_eq!(t.civilities.label(c.code()), Some(c.label()));
        }
        for s in [Sex::Female, Sex::Male] {
            assert_eq!(t.sexes.label(s.code()), Some(s.label()));
        }
        Ok(())
    }

    #[test]
    fn birth_date_bounds() {
        let check = |s: &str| parse_birth_date(Some(s), TODAY).map_err(|e| e.code);
        assert_eq!(check("2026-06-16"), Err(codes::IN_FUTURE));
        assert_eq!(check("2026-06-15"), Err(codes::TOO_YOUNG));
        assert_eq!(check("2012-06-16"), Err(codes::TOO_YOUNG)); // 13 the day before birthday
        assert_eq!(check("2012-06-15"), Ok(date(2012, 6, 15))); // 14 today
        assert_eq!(check("1925-06-16"), Ok(date(1925, 6, 16))); // 100 until tomorrow
        assert_eq!(check("1925-06-15"), Err(codes::TOO_OLD)); // 101 today
        assert_eq!(check("15/6/26"), Err(codes::INVALID_FORMAT));
    }

    #[test]
    fn birthplaces() {
        let place = |country: &str, commune: Option<&str>| {
            parse_birthplace(Some(country), commune).map_err(|e| e[0].code)
        };
        assert_eq!(
            place("99100", Some("75056")),
            Ok(("99100".into(), Some("75056".into())))
        );
        assert_eq!(
            place("99000", Some("75012")),
            Ok(("99100".into(), Some("75012".into())))
        );
        assert_eq!(
            place("99100", Some(" 97123 ")),
            Ok(("99100".into(), Some("97123".into())))
        );
        assert_eq!(place("99350", None), Ok(("99350".into(), None)));
        assert_eq!(place("99350", Some("  ")), Ok(("99350".into(), None)));
        assert_eq!(place("99115", None), Ok(("99115".into(), None))); // retired: valid at birth
        assert_eq!(place("99350", Some("75056")), Err(codes::NOT_APPLICABLE));
        assert_eq!(place("99100", None), Err(codes::REQUIRED));
        assert_eq!(place("99100", Some("7505")), Err(codes::INVALID_FORMAT));
        assert_eq!(place("99100", Some("00000")), Err(codes::UNKNOWN_COMMUNE));
        assert_eq!(place("99999", None), Err(codes::UNKNOWN_COUNTRY));
        assert_eq!(place("France", None), Err(codes::INVALID_FORMAT));
        assert_eq!(place(" ", None), Err(codes::REQUIRED));
    }

    #[test]
    fn documents_and_expiry() {
        let doc = |kind: &str, number: &str, expiry: &str, birth: Date| {
            let raw = RawIdDocument {
                kind: Some(kind.into()),
                number: Some(number.into()),
                expiry_date: Some(expiry.into()),
            };
            parse_document(&raw, Some(birth), TODAY)
                .map(|d| d.valid_until())
                .map_err(|e| e.iter().map(|e| e.code).collect::<Vec<_>>())
        };
        let adult = date(1980, 1, 1);
        // Valid through its last day.
        assert_eq!(
            doc("PASSEPORT", "12AB34567", "2026-06-15", adult),
            Ok(date(2026, 6, 15))
        );
        assert_eq!(
            doc("PASSEPORT", "12AB34567", "2026-06-14", adult),
            Err(vec![codes::EXPIRED])
        );
        // A card issued to an adult in 2012 (printed 2022) is valid until 2027.
        assert_eq!(
            doc("CNI", "120675100123", "2022-03-01", adult),
            Ok(date(2027, 3, 1))
        );
        // Issued to a minor (born 2000, 12 in 2012): no extension.
        assert_eq!(
            doc("CNI", "120675100123", "2022-03-01", date(2000, 1, 1)),
            Err(vec![codes::EXPIRED])
        );
        // Printed 2013 means issued 2003: before the extension period.
        assert_eq!(
            doc("CNI", "120675100123", "2013-12-31", adult),
            Err(vec![codes::EXPIRED])
        );
        // Passports are never extended.
        assert_eq!(
            doc("PASSEPORT", "12AB34567", "2022-03-01", adult),
            Err(vec![codes::EXPIRED])
        );
        assert_eq!(
            doc("TITRE_SEJOUR", "12 345 678 90", "2030-01-01", adult),
            Ok(date(2030, 1, 1))
        );
        assert_eq!(
            valid_until(IdDocumentKind::IdentityCard, date(2022, 3, 1), None),
            date(2027, 3, 1)
        );
        assert_eq!(
            doc("CNI", "ABC12", "2030-01-01", adult),
            Err(vec![codes::TOO_SHORT])
        );
        assert_eq!(
            doc("CNI", &"1".repeat(21), "2030-01-01", adult),
            Err(vec![codes::TOO_LONG])
        );
        assert_eq!(
            doc("CNI", "ABCDÉ12", "2030-01-01", adult),
            Err(vec![codes::INVALID_CHARACTERS])
        );
    }

    #[test]
    fn raw_identity_from_json() -> Result<(), String> {
        let raw: RawCivilIdentity = serde_json::from_str(
            r#"{"civility":"M","first_names":["Jean"],"id_document":{"kind":"CNI"}}"#,
        )
        .map_err(|e| e.to_string())?;
        assert_eq!(raw.civility.as_deref(), Some("M"));
        assert_eq!(raw.id_document.kind.as_deref(), Some("CNI"));
        assert!(raw.birth_name.is_none());
        Ok(())
    }

    fn arbitrary_text() -> impl Strategy<Value = Option<String>> {
        prop::option::of(prop_oneof![
            "\\PC{0,30}",
            "[0-9/\\-]{0,12}",
            "99[0-9]{3}",
            "[0-9AB]{5}",
            Just("2A004".to_owned()),
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        #[test]
        fn never_panics_and_errors_are_well_formed(
            civility in arbitrary_text(),
            sex in arbitrary_text(),
            birth_name in arbitrary_text(),
            usage_name in arbitrary_text(),
            first_names in prop::collection::vec("\\PC{0,20}", 0..4),
            birth_date in arbitrary_text(),
            birth_country in arbitrary_text(),
            birth_commune in arbitrary_text(),
            kind in arbitrary_text(),
            number in arbitrary_text(),
            expiry in arbitrary_text(),
            days in -40_000i32..40_000,
        ) {
            let today = TODAY.checked_add(jiff::Span::new().days(days)).unwrap_or(TODAY);
            let raw = RawCivilIdentity {
                civility, sex, birth_name, usage_name, first_names, birth_date, birth_country,
                birth_commune,
                id_document: RawIdDocument { kind, number, expiry_date: expiry },
            };
            match CivilIdentity::parse(&raw, today) {
                Ok(id) => {
                    prop_assert!(!id.first_names().is_empty());
                    prop_assert!(id.birth_date() <= today);
                }
                Err(errors) => {
                    prop_assert!(!errors.is_empty());
                    for e in errors {
                        prop_assert!(e.field.starts_with("identity."));
                        prop_assert!(!e.message.is_empty());
                        prop_assert!(e.code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
                    }
                }
            }
        }
    }
}
