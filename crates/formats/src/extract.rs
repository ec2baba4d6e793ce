//! The flat extracts of the Annuaire Santé, read and written.
//!
//! Two formats share one row type, [`ExtractRow`]:
//!
//! - **PS_LibreAcces** `Personne_activite`: the public open-data extract (56 columns; the
//!   2021–2022 files had 52, without the rôle and genre d'activité columns). Public data only:
//!   it has no column for birth data, personal contact details or civil names.
//! - the **Pro Santé Connect (RASS)** extract `Extraction_ProSanteConnect_Personne_activite`,
//!   restricted: 51 columns (49 in the 2021 layout, without `Autres identifiants` and
//!   `Code genre d'activité`), with the civil identity and the personal contact details.
//!
//! Both are `|`-separated, with a header line; every line, the header included, ends with a
//! `|`. There is no quoting: a cell runs to the next `|`, quotes are data. One line is one
//! professional × exercice professionnel × situation d'exercice; a professional without a
//! situation has the structure columns empty (and, in the RASS extract, a person without an
//! exercise has the exercise columns empty too).
//!
//! [`ExtractReader`] finds the format from the header's column names (columns are read by name,
//! not by position, and unknown columns are ignored) and yields a row or a rejection with its
//! line number for every data line. [`ExtractWriter`] writes a header and rows in the exact
//! column order of a [`Layout`].
//!
//! Sources: the PS_LibreAcces column list and its layout history are those of the files
//! published on annuaire.sante.fr and data.gouv.fr ("Extractions en libre accès"), as read by
//! several independent open-source loaders (no ANS specification of the file was found); the
//! Pro Santé Connect layouts are ANS's own test extracts in ansforge/psc-rass-loader
//! (`pscload/src/test/resources/`), two of which are in `data/samples/` and are read and
//! written back byte for byte by the tests below.
//!
//! Cells are kept as published: identifiers are text (the national extracts and ANS's own test
//! files carry identifiers that are not valid RPPS numbers), codes are the national tables'
//! codes. Two cells are typed: `Date de naissance` (`DD/MM/YYYY`) and `Prénoms` (the civil
//! first names in order, separated by `'`, empty slots kept: `Jon'Aegon'` is three slots).

use std::borrow::Cow;
use std::fmt;
use std::io::{self, BufRead, Write};

use jiff::civil::Date;

pub use crate::text::Encoding;
use crate::text::{LineReader, RawLine};

/// The two extract formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExtractFormat {
    /// PS_LibreAcces `Personne_activite`: the public extract.
    PsLibreAcces,
    /// The Pro Santé Connect (RASS) extract: restricted.
    Rass,
}

impl ExtractFormat {
    /// The current layout of this format, the one the registry writes.
    pub fn current_layout(self) -> Layout {
        match self {
            ExtractFormat::PsLibreAcces => Layout::PsLibreAcces,
            ExtractFormat::Rass => Layout::Rass,
        }
    }

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            ExtractFormat::PsLibreAcces => "PS_LibreAcces Personne_activite",
            ExtractFormat::Rass => "Pro Santé Connect (RASS) Personne_activite",
        }
    }
}

impl fmt::Display for ExtractFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A column set of one of the formats, in its exact order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layout {
    /// PS_LibreAcces, 56 columns (current).
    PsLibreAcces,
    /// PS_LibreAcces, 52 columns (2021–2022 files: no rôle or genre d'activité).
    PsLibreAcces2021,
    /// Pro Santé Connect extract, 51 columns (current: `Autres identifiants` and
    /// `Code genre d'activité` at the end).
    Rass,
    /// Pro Santé Connect extract, 49 columns (2021 layout).
    Rass2021,
}

impl Layout {
    /// Every layout.
    pub const ALL: [Layout; 4] = [
        Layout::PsLibreAcces,
        Layout::PsLibreAcces2021,
        Layout::Rass,
        Layout::Rass2021,
    ];

    /// The format of this layout.
    pub fn format(self) -> ExtractFormat {
        match self {
            Layout::PsLibreAcces | Layout::PsLibreAcces2021 => ExtractFormat::PsLibreAcces,
            Layout::Rass | Layout::Rass2021 => ExtractFormat::Rass,
        }
    }

    /// The column names, in order.
    pub fn column_names(self) -> impl Iterator<Item = &'static str> {
        self.columns().iter().map(|(name, _)| *name)
    }

    fn columns(self) -> &'static [(&'static str, Field)] {
        match self {
            Layout::PsLibreAcces => PS_LIBREACCES,
            Layout::PsLibreAcces2021 => PS_LIBREACCES.get(..52).unwrap_or(PS_LIBREACCES),
            Layout::Rass => RASS,
            Layout::Rass2021 => RASS.get(..49).unwrap_or(RASS),
        }
    }
}

macro_rules! row {
    ($($(#[$doc:meta])* $field:ident,)*) => {
        /// One line of an extract. Every text cell is `None` when empty. A row read from one
        /// format leaves the columns of the other format empty.
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct ExtractRow {
            $($(#[$doc])* pub $field: Option<String>,)*
            /// `Prénoms` (RASS): the civil first names, in order, empty slots kept.
            pub first_names: Vec<String>,
            /// `Date de naissance` (RASS).
            pub birth_date: Option<Date>,
        }

        #[allow(non_camel_case_types)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        enum Field {
            $($field,)*
            first_names,
            birth_date,
        }

        impl ExtractRow {
            fn text_mut(&mut self, f: Field) -> Option<&mut Option<String>> {
                match f {
                    $(Field::$field => Some(&mut self.$field),)*
                    Field::first_names | Field::birth_date => None,
                }
            }

            fn text(&self, f: Field) -> Option<&Option<String>> {
                match f {
                    $(Field::$field => Some(&self.$field),)*
                    Field::first_names | Field::birth_date => None,
                }
            }
        }
    };
}

row! {
    /// `Type d'identifiant PP`: TRE_G08 type (`8` RPPS, `0` ADELI).
    id_type,
    /// `Identifiant PP`: the RPPS or ADELI number.
    id,
    /// `Identification nationale PP`: the IDNPS (type digit + identifier).
    idnps,
    /// `Nom de famille` (RASS).
    birth_name,
    /// `Code commune de naissance` (RASS): INSEE COG commune.
    birth_commune_code,
    /// `Code pays de naissance` (RASS): COG country code.
    birth_country_code,
    /// `Lieu de naissance` (RASS).
    birth_place,
    /// `Code sexe` (RASS): TRE_R10.
    sex_code,
    /// `Téléphone (coord. correspondance)` (RASS): personal phone.
    personal_phone,
    /// `Adresse e-mail (coord. correspondance)` (RASS): personal e-mail.
    personal_email,
    /// `Code civilité d'exercice`: TRE_R11.
    exercise_civility_code,
    /// `Libellé civilité d'exercice` (PS_LibreAcces).
    exercise_civility_label,
    /// `Code civilité`: TRE_R81.
    civility_code,
    /// `Libellé civilité` (PS_LibreAcces).
    civility_label,
    /// `Nom d'exercice`.
    exercise_last_name,
    /// `Prénom d'exercice`.
    exercise_first_name,
    /// `Code profession`: TRE_G15, TRE_R95, TRE_R94 or TRE_R291.
    profession_code,
    /// `Libellé profession` (PS_LibreAcces).
    profession_label,
    /// `Code catégorie professionnelle`: TRE_R09.
    category_code,
    /// `Libellé catégorie professionnelle` (PS_LibreAcces).
    category_label,
    /// `Code type savoir-faire`.
    skill_type_code,
    /// `Libellé type savoir-faire` (PS_LibreAcces).
    skill_type_label,
    /// `Code savoir-faire`.
    skill_code,
    /// `Libellé savoir-faire` (PS_LibreAcces).
    skill_label,
    /// `Code mode exercice`: TRE_R23.
    practice_mode_code,
    /// `Libellé mode exercice` (PS_LibreAcces).
    practice_mode_label,
    /// `Numéro SIRET site`.
    siret,
    /// `Numéro SIREN site`.
    siren,
    /// `Numéro FINESS site`.
    finess_site,
    /// `Numéro FINESS établissement juridique`.
    finess_legal_entity,
    /// `Identifiant technique de la structure` (`F` + FINESS, `C` + SIRET, `R` + digits).
    structure_technical_id,
    /// `Raison sociale site`.
    site_name,
    /// `Enseigne commerciale site`.
    site_brand,
    /// `Complément destinataire (coord. structure)`.
    recipient_complement,
    /// `Complément point géographique (coord. structure)`.
    geographic_complement,
    /// `Numéro Voie (coord. structure)`.
    street_number,
    /// `Indice répétition voie (coord. structure)`.
    repetition_index,
    /// `Code type de voie (coord. structure)`.
    street_type_code,
    /// `Libellé type de voie (coord. structure)` (PS_LibreAcces).
    street_type_label,
    /// `Libellé Voie (coord. structure)`.
    street_name,
    /// `Mention distribution (coord. structure)`.
    distribution,
    /// `Bureau cedex (coord. structure)`.
    cedex_office,
    /// `Code postal (coord. structure)`.
    postcode,
    /// `Code commune (coord. structure)`: INSEE COG.
    commune_code,
    /// `Libellé commune (coord. structure)` (PS_LibreAcces).
    commune_label,
    /// `Code pays (coord. structure)`: COG country code.
    country_code,
    /// `Libellé pays (coord. structure)` (PS_LibreAcces).
    country_label,
    /// `Téléphone (coord. structure)`.
    structure_phone,
    /// `Téléphone 2 (coord. structure)`.
    structure_phone2,
    /// `Télécopie (coord. structure)`.
    structure_fax,
    /// `Adresse e-mail (coord. structure)`.
    structure_email,
    /// `Code Département (structure)`.
    department_code,
    /// `Libellé Département (structure)` (PS_LibreAcces).
    department_label,
    /// `Ancien identifiant de la structure`: idNat_Struct (TRE_G07 type digit + identifier).
    former_structure_id,
    /// `Autorité d'enregistrement`.
    registration_authority,
    /// `Code secteur d'activité`: TRE_R02.
    sector_code,
    /// `Libellé secteur d'activité` (PS_LibreAcces).
    sector_label,
    /// `Code section tableau pharmaciens`.
    pharmacist_section_code,
    /// `Libellé section tableau pharmaciens` (PS_LibreAcces).
    pharmacist_section_label,
    /// `Code rôle`: JDV_J108 (TRE_R21 functions, TRE_R85 rôles de prise en charge).
    role_code,
    /// `Libellé rôle` (PS_LibreAcces).
    role_label,
    /// `Code genre activité`: TRE_R22 (the RPPS+ roles GENR08–GENR12).
    activity_kind_code,
    /// `Libellé genre activité` (PS_LibreAcces).
    activity_kind_label,
    /// `Autres identifiants` (RASS): `<identifier>,<origin>,<quality>`.
    other_identifiers,
}

/// PS_LibreAcces `Personne_activite`, 56 columns.
const PS_LIBREACCES: &[(&str, Field)] = &[
    ("Type d'identifiant PP", Field::id_type),
    ("Identifiant PP", Field::id),
    ("Identification nationale PP", Field::idnps),
    ("Code civilité d'exercice", Field::exercise_civility_code),
    (
        "Libellé civilité d'exercice",
        Field::exercise_civility_label,
    ),
    ("Code civilité", Field::civility_code),
    ("Libellé civilité", Field::civility_label),
    ("Nom d'exercice", Field::exercise_last_name),
    ("Prénom d'exercice", Field::exercise_first_name),
    ("Code profession", Field::profession_code),
    ("Libellé profession", Field::profession_label),
    ("Code catégorie professionnelle", Field::category_code),
    ("Libellé catégorie professionnelle", Field::category_label),
    ("Code type savoir-faire", Field::skill_type_code),
    ("Libellé type savoir-faire", Field::skill_type_label),
    ("Code savoir-faire", Field::skill_code),
    ("Libellé savoir-faire", Field::skill_label),
    ("Code mode exercice", Field::practice_mode_code),
    ("Libellé mode exercice", Field::practice_mode_label),
    ("Numéro SIRET site", Field::siret),
    ("Numéro SIREN site", Field::siren),
    ("Numéro FINESS site", Field::finess_site),
    (
        "Numéro FINESS établissement juridique",
        Field::finess_legal_entity,
    ),
    (
        "Identifiant technique de la structure",
        Field::structure_technical_id,
    ),
    ("Raison sociale site", Field::site_name),
    ("Enseigne commerciale site", Field::site_brand),
    (
        "Complément destinataire (coord. structure)",
        Field::recipient_complement,
    ),
    (
        "Complément point géographique (coord. structure)",
        Field::geographic_complement,
    ),
    ("Numéro Voie (coord. structure)", Field::street_number),
    (
        "Indice répétition voie (coord. structure)",
        Field::repetition_index,
    ),
    (
        "Code type de voie (coord. structure)",
        Field::street_type_code,
    ),
    (
        "Libellé type de voie (coord. structure)",
        Field::street_type_label,
    ),
    ("Libellé Voie (coord. structure)", Field::street_name),
    (
        "Mention distribution (coord. structure)",
        Field::distribution,
    ),
    ("Bureau cedex (coord. structure)", Field::cedex_office),
    ("Code postal (coord. structure)", Field::postcode),
    ("Code commune (coord. structure)", Field::commune_code),
    ("Libellé commune (coord. structure)", Field::commune_label),
    ("Code pays (coord. structure)", Field::country_code),
    ("Libellé pays (coord. structure)", Field::country_label),
    ("Téléphone (coord. structure)", Field::structure_phone),
    ("Téléphone 2 (coord. structure)", Field::structure_phone2),
    ("Télécopie (coord. structure)", Field::structure_fax),
    ("Adresse e-mail (coord. structure)", Field::structure_email),
    ("Code Département (structure)", Field::department_code),
    ("Libellé Département (structure)", Field::department_label),
    (
        "Ancien identifiant de la structure",
        Field::former_structure_id,
    ),
    ("Autorité d'enregistrement", Field::registration_authority),
    ("Code secteur d'activité", Field::sector_code),
    ("Libellé secteur d'activité", Field::sector_label),
    (
        "Code section tableau pharmaciens",
        Field::pharmacist_section_code,
    ),
    (
        "Libellé section tableau pharmaciens",
        Field::pharmacist_section_label,
    ),
    ("Code rôle", Field::role_code),
    ("Libellé rôle", Field::role_label),
    ("Code genre activité", Field::activity_kind_code),
    ("Libellé genre activité", Field::activity_kind_label),
];

/// The Pro Santé Connect extract, 51 columns.
const RASS: &[(&str, Field)] = &[
    ("Type d'identifiant PP", Field::id_type),
    ("Identifiant PP", Field::id),
    ("Identification nationale PP", Field::idnps),
    ("Nom de famille", Field::birth_name),
    ("Prénoms", Field::first_names),
    ("Date de naissance", Field::birth_date),
    ("Code commune de naissance", Field::birth_commune_code),
    ("Code pays de naissance", Field::birth_country_code),
    ("Lieu de naissance", Field::birth_place),
    ("Code sexe", Field::sex_code),
    ("Téléphone (coord. correspondance)", Field::personal_phone),
    (
        "Adresse e-mail (coord. correspondance)",
        Field::personal_email,
    ),
    ("Code civilité", Field::civility_code),
    ("Code profession", Field::profession_code),
    ("Code catégorie professionnelle", Field::category_code),
    ("Code civilité d'exercice", Field::exercise_civility_code),
    ("Nom d'exercice", Field::exercise_last_name),
    ("Prénom d'exercice", Field::exercise_first_name),
    ("Code type savoir-faire", Field::skill_type_code),
    ("Code savoir-faire", Field::skill_code),
    ("Code mode exercice", Field::practice_mode_code),
    ("Code secteur d'activité", Field::sector_code),
    (
        "Code section tableau pharmaciens",
        Field::pharmacist_section_code,
    ),
    ("Code rôle", Field::role_code),
    ("Numéro SIRET site", Field::siret),
    ("Numéro SIREN site", Field::siren),
    ("Numéro FINESS site", Field::finess_site),
    (
        "Numéro FINESS établissement juridique",
        Field::finess_legal_entity,
    ),
    (
        "Identifiant technique de la structure",
        Field::structure_technical_id,
    ),
    ("Raison sociale site", Field::site_name),
    ("Enseigne commerciale site", Field::site_brand),
    (
        "Complément destinataire (coord. structure)",
        Field::recipient_complement,
    ),
    (
        "Complément point géographique (coord. structure)",
        Field::geographic_complement,
    ),
    ("Numéro Voie (coord. structure)", Field::street_number),
    (
        "Indice répétition voie (coord. structure)",
        Field::repetition_index,
    ),
    (
        "Code type de voie (coord. structure)",
        Field::street_type_code,
    ),
    ("Libellé Voie (coord. structure)", Field::street_name),
    (
        "Mention distribution (coord. structure)",
        Field::distribution,
    ),
    ("Bureau cedex (coord. structure)", Field::cedex_office),
    ("Code postal (coord. structure)", Field::postcode),
    ("Code commune (coord. structure)", Field::commune_code),
    ("Code pays (coord. structure)", Field::country_code),
    ("Téléphone (coord. structure)", Field::structure_phone),
    ("Téléphone 2 (coord. structure)", Field::structure_phone2),
    ("Télécopie (coord. structure)", Field::structure_fax),
    ("Adresse e-mail (coord. structure)", Field::structure_email),
    (
        "Code département (coord. structure)",
        Field::department_code,
    ),
    (
        "Ancien identifiant de la structure",
        Field::former_structure_id,
    ),
    ("Autorité d'enregistrement", Field::registration_authority),
    ("Autres identifiants", Field::other_identifiers),
    ("Code genre d'activité", Field::activity_kind_code),
];

/// Other spellings of column names met in published files and third-party parsers.
const ALIASES: &[(&str, Field)] = &[
    ("Libellé civilité exercice", Field::exercise_civility_label),
    (
        "Indice répétition voie (coord. Structure)",
        Field::repetition_index,
    ),
    (
        "Libellé département (coord. structure)",
        Field::department_label,
    ),
    ("Code fonction", Field::role_code),
    ("Libellé fonction", Field::role_label),
];

/// Columns only the RASS extract has: their presence in a header says the file is one.
const RASS_ONLY: &[Field] = &[
    Field::birth_name,
    Field::first_names,
    Field::birth_date,
    Field::birth_commune_code,
    Field::birth_country_code,
    Field::birth_place,
    Field::sex_code,
    Field::personal_phone,
    Field::personal_email,
    Field::other_identifiers,
];

/// Compares column names without minding case, surrounding blanks or the apostrophe used.
fn normalise(name: &str) -> String {
    name.trim().replace('\u{2019}', "'").to_lowercase()
}

fn field_named(name: &str) -> Option<Field> {
    let wanted = normalise(name);
    PS_LIBREACCES
        .iter()
        .chain(RASS)
        .chain(ALIASES)
        .find(|(n, _)| normalise(n) == wanted)
        .map(|(_, f)| *f)
}

impl ExtractRow {
    /// The text of the cell of `field`, as written (empty when absent).
    fn cell(&self, field: Field) -> Cow<'_, str> {
        match field {
            Field::first_names => Cow::Owned(self.first_names.join("'")),
            Field::birth_date => match self.birth_date {
                Some(d) => Cow::Owned(format_date(d)),
                None => Cow::Borrowed(""),
            },
            other => Cow::Borrowed(
                self.text(other)
                    .and_then(|v| v.as_deref())
                    .unwrap_or_default(),
            ),
        }
    }

    /// Sets the field from its cell; `Err` names what is wrong.
    fn set(&mut self, field: Field, value: &str) -> Result<(), String> {
        match field {
            Field::first_names => {
                self.first_names = if value.is_empty() {
                    Vec::new()
                } else {
                    value.split('\'').map(str::to_owned).collect()
                };
            }
            Field::birth_date => {
                self.birth_date = if value.is_empty() {
                    None
                } else {
                    Some(parse_date(value).ok_or_else(|| {
                        let shown: String = value.chars().take(20).collect();
                        format!("Date de naissance: {shown:?} is not a DD/MM/YYYY date")
                    })?)
                };
            }
            other => {
                if let Some(slot) = self.text_mut(other) {
                    *slot = (!value.is_empty()).then(|| value.to_owned());
                }
            }
        }
        Ok(())
    }

    /// The civil first names, without the empty slots.
    pub fn given_names(&self) -> impl Iterator<Item = &str> {
        self.first_names
            .iter()
            .map(String::as_str)
            .filter(|n| !n.is_empty())
    }
}

/// `DD/MM/YYYY`.
pub fn format_date(d: Date) -> String {
    format!("{:02}/{:02}/{:04}", d.day(), d.month(), d.year())
}

/// Reads `DD/MM/YYYY`; `None` for anything else.
pub fn parse_date(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    if b.len() != 10 || b.get(2) != Some(&b'/') || b.get(5) != Some(&b'/') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i32> {
        let part = s.get(r)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let day = i8::try_from(num(0..2)?).ok()?;
    let month = i8::try_from(num(3..5)?).ok()?;
    let year = i16::try_from(num(6..10)?).ok()?;
    Date::new(year, month, day).ok()
}

/// Errors that stop a reader: the input cannot be read as an extract at all.
#[derive(Debug, thiserror::Error)]
pub enum ExtractReadError {
    /// The underlying reader failed.
    #[error("cannot read the file: {0}")]
    Io(#[from] io::Error),
    /// The file is not an extract of a known format.
    #[error("not a PS_LibreAcces or Pro Santé Connect extract: {0}")]
    NotAnExtract(String),
}

/// A data line that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractRejection {
    /// Its 1-based line number (the header is line 1).
    pub line: u64,
    /// The `Identification nationale PP` of the line, when it could be read.
    pub idnps: Option<String>,
    /// Why, in a few words.
    pub reason: String,
}

/// One item of an extract.
// Items are streamed one at a time: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtractItem {
    /// A line read.
    Row {
        /// Its 1-based line number.
        line: u64,
        /// The data.
        row: ExtractRow,
    },
    /// A line that could not be read.
    Rejected(ExtractRejection),
}

/// A streaming reader of a PS_LibreAcces or Pro Santé Connect extract.
///
/// The header is read by [`ExtractReader::new`]; each later non-blank line gives one
/// [`ExtractItem`]. An IO error ends the iteration after it is returned.
pub struct ExtractReader<R> {
    lines: LineReader<R>,
    format: ExtractFormat,
    layout: Option<Layout>,
    /// For each cell of a line, the field it fills (`None`: an unknown column).
    fields: Vec<Option<Field>>,
    unknown: Vec<String>,
    done: bool,
}

impl<R: BufRead> ExtractReader<R> {
    /// Reads the header line and finds the format. Fails when the input is empty or its first
    /// line is not the header of an extract (no `Identification nationale PP` or
    /// `Identifiant PP` column, a column named twice).
    pub fn new(input: R) -> Result<Self, ExtractReadError> {
        let mut lines = LineReader::new(input);
        let Some((_, first)) = lines.next_line()? else {
            return Err(ExtractReadError::NotAnExtract("the file is empty".into()));
        };
        let RawLine::Text(header) = first else {
            return Err(ExtractReadError::NotAnExtract("line 1 is too long".into()));
        };
        let mut names: Vec<&str> = header.split('|').collect();
        if names.len() > 1 && names.last().is_some_and(|n| n.trim().is_empty()) {
            names.pop();
        }
        let mut fields = Vec::with_capacity(names.len());
        let mut unknown = Vec::new();
        for name in &names {
            let field = field_named(name);
            if let Some(f) = field
                && fields.contains(&Some(f))
            {
                return Err(ExtractReadError::NotAnExtract(format!(
                    "the column {:?} appears twice",
                    name.trim()
                )));
            }
            if field.is_none() {
                unknown.push(name.trim().to_owned());
            }
            fields.push(field);
        }
        if !fields.contains(&Some(Field::idnps)) && !fields.contains(&Some(Field::id)) {
            let shown: String = header.chars().take(40).collect();
            return Err(ExtractReadError::NotAnExtract(format!(
                "line 1 should be a header with an `Identification nationale PP` column, found {shown:?}"
            )));
        }
        let format = if fields
            .iter()
            .any(|f| f.is_some_and(|f| RASS_ONLY.contains(&f)))
        {
            ExtractFormat::Rass
        } else {
            ExtractFormat::PsLibreAcces
        };
        let layout = Layout::ALL.into_iter().find(|l| {
            l.columns().len() == names.len()
                && l.column_names()
                    .zip(&names)
                    .all(|(a, b)| normalise(a) == normalise(b))
        });
        Ok(ExtractReader {
            lines,
            format,
            layout,
            fields,
            unknown,
            done: false,
        })
    }

    /// The format, found from the header's columns.
    pub fn format(&self) -> ExtractFormat {
        self.format
    }

    /// The layout, when the header is exactly one of the known column sets.
    pub fn layout(&self) -> Option<Layout> {
        self.layout
    }

    /// Header columns this reader does not know (their cells are ignored).
    pub fn unknown_columns(&self) -> &[String] {
        &self.unknown
    }

    /// The encodings met so far (all of them once the iteration is over).
    pub fn encoding(&self) -> Encoding {
        self.lines.encoding()
    }

    fn parse(&self, line: u64, text: &str) -> ExtractItem {
        let mut cells: Vec<&str> = text.split('|').collect();
        let expected = self.fields.len();
        if cells.len() == expected + 1 && cells.last().is_some_and(|c| c.is_empty()) {
            cells.pop();
        }
        let idnps_at = self.fields.iter().position(|f| *f == Some(Field::idnps));
        let idnps = idnps_at
            .and_then(|i| cells.get(i))
            .filter(|c| !c.is_empty())
            .map(|c| c.chars().take(40).collect::<String>());
        let reject = |reason: String| {
            ExtractItem::Rejected(ExtractRejection {
                line,
                idnps: idnps.clone(),
                reason,
            })
        };
        if cells.len() != expected {
            return reject(format!("expected {expected} cells, found {}", cells.len()));
        }
        let mut row = ExtractRow::default();
        for (field, cell) in self.fields.iter().zip(&cells) {
            if let Some(field) = field
                && let Err(reason) = row.set(*field, cell)
            {
                return reject(reason);
            }
        }
        if row.idnps.is_none() && row.id.is_none() {
            return reject("no Identification nationale PP nor Identifiant PP".into());
        }
        ExtractItem::Row { line, row }
    }
}

impl<R: BufRead> Iterator for ExtractReader<R> {
    type Item = Result<ExtractItem, ExtractReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            let (n, raw) = match self.lines.next_line() {
                Ok(Some(l)) => l,
                Ok(None) => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(ExtractReadError::Io(e)));
                }
            };
            match raw {
                RawLine::Text(t) if t.trim().is_empty() => continue,
                RawLine::Text(t) => return Some(Ok(self.parse(n, &t))),
                RawLine::TooLong => {
                    return Some(Ok(ExtractItem::Rejected(ExtractRejection {
                        line: n,
                        idnps: None,
                        reason: "line too long".into(),
                    })));
                }
            }
        }
    }
}

/// Writes an extract: the header of a [`Layout`], then one line per row, each cell in the
/// layout's order, `|`-separated, each line ending with `|` and `\n`, UTF-8.
///
/// A cell cannot hold `|` or a line break: they are written as a space. In `Prénoms`, a first
/// name cannot hold `'` (the separator): it is written as `’`. Columns of the row that the
/// layout does not have are not written.
pub struct ExtractWriter<W: Write> {
    out: W,
    layout: Layout,
    line: String,
    rows: u64,
}

impl<W: Write> ExtractWriter<W> {
    /// Writes the header line.
    pub fn new(mut out: W, layout: Layout) -> io::Result<Self> {
        let mut line = String::new();
        for name in layout.column_names() {
            line.push_str(name);
            line.push('|');
        }
        line.push('\n');
        out.write_all(line.as_bytes())?;
        Ok(ExtractWriter {
            out,
            layout,
            line,
            rows: 0,
        })
    }

    /// Writes one row.
    pub fn write_row(&mut self, row: &ExtractRow) -> io::Result<()> {
        self.line.clear();
        for (_, field) in self.layout.columns() {
            if *field == Field::first_names {
                for (i, name) in row.first_names.iter().enumerate() {
                    if i > 0 {
                        self.line.push('\'');
                    }
                    push_clean(&mut self.line, name, true);
                }
            } else {
                push_clean(&mut self.line, &row.cell(*field), false);
            }
            self.line.push('|');
        }
        self.line.push('\n');
        self.rows += 1;
        self.out.write_all(self.line.as_bytes())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Flushes and hands back the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

fn push_clean(line: &mut String, value: &str, first_name: bool) {
    for c in value.chars() {
        line.push(match c {
            '|' | '\r' | '\n' => ' ',
            '\'' if first_name => '\u{2019}',
            c => c,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;

    const WIREMOCK: &[u8] = include_bytes!(
        "../../../data/samples/psc-rass-loader_wiremock_Extraction_ProSanteConnect_Personne_activite_202112090858.txt"
    );
    const CT_AMAR: &[u8] = include_bytes!(
        "../../../data/samples/psc-rass-loader_CT-AMAR_1-CREATES_Extraction_Pro_sante_connect_202403251632.txt"
    );

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn read_all(input: &[u8]) -> Result<(ExtractReader<&[u8]>, Vec<ExtractItem>), String> {
        let mut reader = ExtractReader::new(input).map_err(|e| e.to_string())?;
        let items = reader
            .by_ref()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        Ok((reader, items))
    }

    fn rows(items: &[ExtractItem]) -> Vec<&ExtractRow> {
        items
            .iter()
            .filter_map(|i| match i {
                ExtractItem::Row { row, .. } => Some(row),
                ExtractItem::Rejected(_) => None,
            })
            .collect()
    }

    fn write_all(layout: Layout, rows: &[&ExtractRow]) -> io::Result<Vec<u8>> {
        let mut w = ExtractWriter::new(Vec::new(), layout)?;
        for r in rows {
            w.write_row(r)?;
        }
        w.finish()
    }

    #[test]
    fn layouts_have_the_published_column_counts() {
        assert_eq!(Layout::PsLibreAcces.columns().len(), 56);
        assert_eq!(Layout::PsLibreAcces2021.columns().len(), 52);
        assert_eq!(Layout::Rass.columns().len(), 51);
        assert_eq!(Layout::Rass2021.columns().len(), 49);
        assert_eq!(
            Layout::PsLibreAcces2021.column_names().last(),
            Some("Libellé section tableau pharmaciens")
        );
        assert_eq!(
            Layout::Rass2021.column_names().last(),
            Some("Autorité d'enregistrement")
        );
        for layout in Layout::ALL {
            for name in layout.column_names() {
                assert!(field_named(name).is_some(), "{name}");
            }
        }
        // The public layouts have no column of the civil identity or personal contact details.
        for layout in [Layout::PsLibreAcces, Layout::PsLibreAcces2021] {
            for (name, field) in layout.columns() {
                assert!(!RASS_ONLY.contains(field), "{name} is private");
            }
        }
    }

    #[test]
    fn the_2021_psc_sample_parses() -> TestResult {
        let (reader, items) = read_all(WIREMOCK)?;
        assert_eq!(reader.format(), ExtractFormat::Rass);
        assert_eq!(reader.layout(), Some(Layout::Rass2021));
        assert!(reader.unknown_columns().is_empty());
        assert_eq!(reader.encoding(), Encoding::Utf8);
        let [ExtractItem::Row { line: 2, row }] = items.as_slice() else {
            return Err(format!("expected one row, got {items:?}").into());
        };
        assert_eq!(row.id_type.as_deref(), Some("0"));
        assert_eq!(row.id.as_deref(), Some("533100558"));
        assert_eq!(row.idnps.as_deref(), Some("0533100558"));
        assert_eq!(row.birth_name.as_deref(), Some("TEST"));
        assert_eq!(row.first_names, vec!["Brigitte", "Marie Pierre", ""]);
        assert_eq!(
            row.given_names().collect::<Vec<_>>(),
            vec!["Brigitte", "Marie Pierre"]
        );
        assert_eq!(row.birth_date, Some(date(1983, 7, 12)));
        assert_eq!(row.civility_code.as_deref(), Some("MME"));
        assert_eq!(row.profession_code.as_deref(), Some("31"));
        assert_eq!(row.category_code.as_deref(), Some("C"));
        assert_eq!(row.practice_mode_code.as_deref(), Some("S"));
        assert_eq!(row.sector_code.as_deref(), Some("SA05"));
        assert_eq!(row.finess_site.as_deref(), Some("510032549"));
        assert_eq!(row.finess_legal_entity.as_deref(), Some("150028085"));
        assert_eq!(row.structure_technical_id.as_deref(), Some("F510032549"));
        assert_eq!(row.site_name.as_deref(), Some("CENTRE DE SANTE DENTAIRE"));
        assert_eq!(row.cedex_office.as_deref(), Some("51003 REIMS CEDEX"));
        assert_eq!(row.commune_code.as_deref(), Some("51130"));
        assert_eq!(
            row.structure_email.as_deref(),
            Some("dentaire-reims@test.fr")
        );
        assert_eq!(row.former_structure_id.as_deref(), Some("1510032549"));
        assert_eq!(row.registration_authority.as_deref(), Some("ARS/ARS/ARS"));
        assert_eq!(row.other_identifiers, None);
        assert_eq!(row.activity_kind_code, None);
        Ok(())
    }

    #[test]
    fn the_2024_psc_sample_parses() -> TestResult {
        let (reader, items) = read_all(CT_AMAR)?;
        assert_eq!(reader.format(), ExtractFormat::Rass);
        assert_eq!(reader.layout(), Some(Layout::Rass));
        let rows = rows(&items);
        assert_eq!(rows.len(), 15, "{items:?}");
        let ExtractItem::Row { line, row } = &items[3] else {
            return Err("row 4 rejected".into());
        };
        assert_eq!(*line, 5);
        assert_eq!(row.idnps.as_deref(), Some("800AMAR01"));
        assert_eq!(row.birth_name.as_deref(), Some("Snow"));
        assert_eq!(row.first_names, vec!["Jon", "Aegon", ""]);
        assert_eq!(row.birth_date, Some(date(1984, 4, 15)));
        assert_eq!(row.birth_commune_code.as_deref(), Some("57019"));
        assert_eq!(row.birth_country_code.as_deref(), Some("99000"));
        assert_eq!(row.sex_code.as_deref(), Some("M"));
        assert_eq!(row.personal_email.as_deref(), Some("jon.snow@yopmail.com"));
        assert_eq!(row.exercise_civility_code.as_deref(), Some("DR"));
        assert_eq!(row.exercise_last_name.as_deref(), Some("Snow"));
        assert_eq!(row.role_code.as_deref(), Some("9"));
        assert_eq!(row.activity_kind_code.as_deref(), Some("GENR01"));
        assert_eq!(row.other_identifiers.as_deref(), Some("800AMAR01,RPPS,1"));
        // A person without exercise: identity and contact only.
        let smith = rows[0];
        assert_eq!(smith.idnps.as_deref(), Some("800AMAR12"));
        assert_eq!(smith.personal_phone.as_deref(), Some("+33614141414"));
        assert_eq!(smith.profession_code, None);
        assert_eq!(smith.finess_site, None);
        Ok(())
    }

    #[test]
    fn writing_the_samples_back_gives_the_same_bytes() -> TestResult {
        let (_, items) = read_all(CT_AMAR)?;
        assert_eq!(write_all(Layout::Rass, &rows(&items))?, CT_AMAR);
        // The 2021 sample has no line end after its last line; the writer ends every line.
        let (_, items) = read_all(WIREMOCK)?;
        let mut expected = WIREMOCK.to_vec();
        expected.push(b'\n');
        assert_eq!(write_all(Layout::Rass2021, &rows(&items))?, expected);
        Ok(())
    }

    #[test]
    fn a_public_header_is_recognised_with_variant_spellings() -> TestResult {
        let header: Vec<String> = Layout::PsLibreAcces
            .column_names()
            .map(|n| {
                if n == "Code rôle" {
                    "Code fonction".to_owned()
                } else {
                    n.to_uppercase()
                }
            })
            .collect();
        let mut file = header.join("|");
        file.push_str("|\n");
        let mut cells = vec![""; 56];
        cells[0] = "8";
        cells[1] = "10000013994";
        cells[2] = "810000013994";
        cells[52] = "313";
        cells[54] = "GENR11";
        file.push_str(&cells.join("|"));
        file.push_str("|\r\n8|1\n");
        let (reader, items) = read_all(file.as_bytes())?;
        assert_eq!(reader.format(), ExtractFormat::PsLibreAcces);
        assert_eq!(reader.layout(), None, "one column is spelt differently");
        let ExtractItem::Row { line: 2, row } = &items[0] else {
            return Err(format!("{items:?}").into());
        };
        assert_eq!(row.idnps.as_deref(), Some("810000013994"));
        assert_eq!(row.role_code.as_deref(), Some("313"));
        assert_eq!(row.activity_kind_code.as_deref(), Some("GENR11"));
        assert_eq!(
            items[1],
            ExtractItem::Rejected(ExtractRejection {
                line: 3,
                idnps: None,
                reason: "expected 56 cells, found 2".into()
            })
        );
        Ok(())
    }

    #[test]
    fn bad_lines_are_rejected_with_their_numbers() -> TestResult {
        let mut file: String = Layout::Rass2021
            .column_names()
            .map(|n| format!("{n}|"))
            .collect();
        file.push('\n');
        let line = |idnps: &str, birth: &str| {
            let mut cells = vec![""; 49];
            cells[2] = idnps;
            cells[5] = birth;
            format!("{}|\n", cells.join("|"))
        };
        file.push_str(&line("810000013994", "31/02/1980"));
        file.push('\n');
        file.push_str(&line("", ""));
        file.push_str(&line("810000013994", "29/02/1980"));
        let (_, items) = read_all(file.as_bytes())?;
        assert_eq!(
            items[0],
            ExtractItem::Rejected(ExtractRejection {
                line: 2,
                idnps: Some("810000013994".into()),
                reason: "Date de naissance: \"31/02/1980\" is not a DD/MM/YYYY date".into()
            })
        );
        assert!(
            matches!(&items[1], ExtractItem::Rejected(r) if r.line == 4),
            "{items:?}"
        );
        assert!(
            matches!(&items[2], ExtractItem::Row { line: 5, row } if row.birth_date == Some(date(1980, 2, 29)))
        );
        Ok(())
    }

    #[test]
    fn files_that_are_not_extracts_are_refused() {
        for input in [&b""[..], b"finess;etalab;111;2026-05-12\n", b"a|b|c|\n"] {
            assert!(matches!(
                ExtractReader::new(input),
                Err(ExtractReadError::NotAnExtract(_))
            ));
        }
        assert!(matches!(
            ExtractReader::new(&b"Identifiant PP|Identifiant PP|\n"[..]),
            Err(ExtractReadError::NotAnExtract(_))
        ));
    }

    #[test]
    fn dates_are_day_month_year() {
        assert_eq!(parse_date("01/12/2024"), Some(date(2024, 12, 1)));
        assert_eq!(format_date(date(984, 3, 5)), "05/03/0984");
        for bad in [
            "1/12/2024",
            "2024-12-01",
            "01/13/2024",
            "+1/12/2024",
            "01/12/20245",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_writer_keeps_lines_whole() -> TestResult {
        let row = ExtractRow {
            idnps: Some("8|1\n2".into()),
            first_names: vec!["N'Golo".into(), "Jean".into()],
            ..ExtractRow::default()
        };
        let bytes = write_all(Layout::Rass, &[&row])?;
        let (_, items) = read_all(&bytes)?;
        let [ExtractItem::Row { row: back, .. }] = items.as_slice() else {
            return Err(format!("{items:?}").into());
        };
        assert_eq!(back.idnps.as_deref(), Some("8 1 2"));
        assert_eq!(back.first_names, vec!["N\u{2019}Golo", "Jean"]);
        Ok(())
    }

    fn cell() -> impl Strategy<Value = Option<String>> {
        proptest::option::of("[^|\r\n]{1,12}").prop_map(|o| o.filter(|s| !s.trim().is_empty()))
    }

    prop_compose! {
        fn any_row()(
            texts in proptest::collection::vec(cell(), 110),
            first_names in proptest::collection::vec("[^|'\r\n]{0,8}", 0..4),
            birth in proptest::option::of((1900i16..2100, 1i8..=12, 1i8..=28)),
        ) -> ExtractRow {
            let mut row = ExtractRow::default();
            let fields = PS_LIBREACCES.iter().chain(RASS).map(|(_, f)| *f);
            for (field, value) in fields.zip(texts) {
                if let Some(slot) = row.text_mut(field) {
                    *slot = value;
                }
            }
            // A single empty slot reads back as no first name at all.
            row.first_names = if first_names.iter().all(String::is_empty) { Vec::new() } else { first_names };
            row.birth_date = birth.map(|(y, m, d)| date(y, m, d));
            if row.idnps.is_none() {
                row.idnps = Some("810000013994".into());
            }
            row
        }
    }

    /// The row restricted to the columns of a layout.
    fn only(layout: Layout, row: &ExtractRow) -> ExtractRow {
        let mut out = ExtractRow::default();
        for (_, field) in layout.columns() {
            let _ = out.set(*field, &row.cell(*field));
        }
        out
    }

    proptest! {
        #[test]
        fn reading_arbitrary_lines_never_panics(
            layout in proptest::sample::select(Layout::ALL.to_vec()),
            lines in proptest::collection::vec("[^\n]{0,300}", 0..8),
            bytes in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let mut file: String = layout.column_names().map(|n| format!("{n}|")).collect();
            file.push('\n');
            for l in &lines {
                file.push_str(l);
                file.push('\n');
            }
            let mut input = file.into_bytes();
            input.extend(bytes);
            let reader = ExtractReader::new(input.as_slice());
            prop_assert!(reader.is_ok());
            if let Ok(reader) = reader {
                for item in reader {
                    prop_assert!(item.is_ok());
                }
            }
        }

        #[test]
        fn arbitrary_headers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            if let Ok(reader) = ExtractReader::new(bytes.as_slice()) {
                for _ in reader {}
            }
        }

        #[test]
        fn written_rows_read_back_the_same(
            layout in proptest::sample::select(Layout::ALL.to_vec()),
            rows in proptest::collection::vec(any_row(), 0..5),
        ) {
            let rows: Vec<ExtractRow> = rows.iter().map(|r| only(layout, r)).collect();
            let refs: Vec<&ExtractRow> = rows.iter().collect();
            let bytes = write_all(layout, &refs).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let (reader, items) = read_all(&bytes).map_err(TestCaseError::fail)?;
            prop_assert_eq!(reader.layout(), Some(layout));
            let back: Vec<ExtractRow> = items
                .into_iter()
                .filter_map(|i| match i {
                    ExtractItem::Row { row, .. } => Some(row),
                    ExtractItem::Rejected(_) => None,
                })
                .collect();
            prop_assert_eq!(back, rows);
        }
    }
}
