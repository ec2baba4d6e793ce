//! INSEE Code officiel géographique: communes (with former codes) and countries, for
//! birthplaces.
//!
//! A birthplace is coded with the code valid on the date of birth, so communes that have since
//! merged or been renumbered must still be accepted.

use jiff::civil::Date;
use serde::Deserialize;

use super::{DataError, embedded, non_empty, parse_bool, parse_optional_date, read_csv};

/// The COG code of France (République française) since 2016.
pub const FRANCE: &str = "99100";
/// The code TRE_R20 used for France until 2016-09-01; still found in RASS / PSC extracts.
pub const FRANCE_BEFORE_2016: &str = "99000";

/// The kind of a COG commune entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommuneKind {
    /// A commune that exists today (`commune-actuelle`).
    Current,
    /// A former commune kept as a *commune déléguée* of a commune nouvelle.
    Delegated,
    /// A former commune kept as a *commune associée*.
    Associated,
    /// A municipal arrondissement of Paris, Lyon or Marseille.
    MunicipalArrondissement,
}

impl CommuneKind {
    fn parse(s: &str) -> Result<Self, String> {
        match s {
            "commune-actuelle" => Ok(CommuneKind::Current),
            "commune-deleguee" => Ok(CommuneKind::Delegated),
            "commune-associee" => Ok(CommuneKind::Associated),
            "arrondissement-municipal" => Ok(CommuneKind::MunicipalArrondissement),
            other => Err(format!("unknown commune type {other:?}")),
        }
    }
}

/// A COG commune entry. The key is (`code`, `kind`): the seat of a commune nouvelle has the
/// same code as the new commune.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commune {
    /// The 5-character INSEE code (`2A004` for Corsica).
    pub code: String,
    /// The official name.
    pub name: String,
    /// The département code (`01`…`95`, `2A`, `2B`, `971`…).
    pub department: String,
    /// Current, delegated, associated or arrondissement.
    pub kind: CommuneKind,
    /// The current commune a delegated / associated commune or an arrondissement belongs to.
    pub parent_code: Option<String>,
}

/// A former commune code and the current commune it was merged or renumbered into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormerCommuneCode {
    /// The former code.
    pub former_code: String,
    /// The code of the current commune.
    pub current_code: String,
    /// The name of the current commune (the former name is not in the data).
    pub current_name: String,
    /// The département of the current commune.
    pub department: String,
    /// Whether the former code is still listed as a delegated / associated commune.
    pub still_listed: bool,
}

/// Where a country code stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CountryStatus {
    /// A current state.
    Current,
    /// A territory with its own code (e.g. Hong Kong), attached to a state.
    Territory,
    /// A historical code kept by TRE_R20 (e.g. Tchécoslovaquie, RDA).
    Retired,
}

/// A COG country or territory code `99xxx`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Country {
    /// The code, `99100` for France.
    pub code: String,
    /// The INSEE short name.
    pub label: String,
    /// Current, territory or retired.
    pub status: CountryStatus,
    /// The official name.
    pub official_name: Option<String>,
    /// ISO 3166 alpha-2, when INSEE gives it.
    pub iso2: Option<String>,
    /// ISO 3166 alpha-3.
    pub iso3: Option<String>,
    /// ISO 3166 numeric.
    pub iso_num3: Option<String>,
    /// For a territory, the state it belongs to.
    pub parent_code: Option<String>,
    /// For a retired code, the end of validity.
    pub date_end: Option<Date>,
    /// Explanation.
    pub note: Option<String>,
}

/// How a birth commune code was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BirthCommune<'a> {
    /// A code in the current COG (current, delegated, associated commune or arrondissement).
    Listed(&'a Commune),
    /// A former code, merged or renumbered into a current commune.
    Former(&'a FormerCommuneCode),
    /// A historical code missing from the COG package but known to have existed.
    Historical {
        /// The code of the commune today.
        current_code: &'static str,
        /// Why it is accepted.
        reason: &'static str,
    },
}

impl BirthCommune<'_> {
    /// The code of the commune today (the parent for delegated communes and arrondissements).
    pub fn current_code(&self) -> &str {
        match self {
            BirthCommune::Listed(c) => c.parent_code.as_deref().unwrap_or(&c.code),
            BirthCommune::Former(f) => &f.current_code,
            BirthCommune::Historical { current_code, .. } => current_code,
        }
    }
}

/// Codes absent from the COG package although they were valid birthplace codes.
fn historical_commune(code: &str) -> Option<(&'static str, &'static str)> {
    const MAYOTTE: &str = "Mayotte (code 985xx jusqu'en 2011, 976xx depuis ; INSEE a conservé les deux derniers chiffres)";
    const MAYOTTE_TODAY: [&str; 17] = [
        "97601", "97602", "97603", "97604", "97605", "97606", "97607", "97608", "97609", "97610",
        "97611", "97612", "97613", "97614", "97615", "97616", "97617",
    ];
    match code {
        "97123" => Some((
            "97701",
            "Saint-Barthélemy, commune de la Guadeloupe jusqu'en 2007",
        )),
        "97127" => Some((
            "97801",
            "Saint-Martin, commune de la Guadeloupe jusqu'en 2007",
        )),
        _ => {
            let n: usize = code.strip_prefix("985")?.parse().ok()?;
            let today = MAYOTTE_TODAY.get(n.checked_sub(1)?)?;
            Some((today, MAYOTTE))
        }
    }
}

/// The COG tables.
#[derive(Debug, Clone)]
pub struct Cog {
    /// Sorted by code, then file order.
    communes: Vec<Commune>,
    /// Sorted by former code.
    former: Vec<FormerCommuneCode>,
    countries: Vec<Country>,
}

#[derive(Deserialize)]
struct CommuneRow {
    code: String,
    name: String,
    department: String,
    #[serde(rename = "type")]
    kind: String,
    parent_code: String,
}

#[derive(Deserialize)]
struct FormerRow {
    former_code: String,
    current_code: String,
    current_name: String,
    department: String,
    former_code_still_listed: String,
}

#[derive(Deserialize)]
struct CountryRow {
    code: String,
    label: String,
    status: String,
    official_name: String,
    iso2: String,
    iso3: String,
    iso_num3: String,
    parent_code: String,
    date_end: String,
    note: String,
}

fn check_code(code: &str) -> Result<(), String> {
    if is_commune_code_shape(code) {
        Ok(())
    } else {
        Err(format!("bad commune code {code:?}"))
    }
}

/// Whether `code` looks like an INSEE commune code: 5 characters, digits, or `2A`/`2B` then
/// 3 digits.
pub(crate) fn is_commune_code_shape(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() == 5
        && (b[..2].iter().all(u8::is_ascii_digit) || (b[0] == b'2' && matches!(b[1], b'A' | b'B')))
        && b[2..].iter().all(u8::is_ascii_digit)
}

impl Cog {
    pub(super) fn load() -> Result<Self, DataError> {
        let (file, text) = embedded!("cog_communes.csv");
        let mut communes = read_csv(file, text, |r: CommuneRow| {
            check_code(&r.code)?;
            Ok(Commune {
                kind: CommuneKind::parse(&r.kind)?,
                code: r.code,
                name: r.name,
                department: r.department,
                parent_code: non_empty(r.parent_code),
            })
        })?;
        communes.sort_by(|a, b| a.code.cmp(&b.code));

        let (file, text) = embedded!("cog_communes_former_codes.csv");
        let mut former = read_csv(file, text, |r: FormerRow| {
            check_code(&r.former_code)?;
            check_code(&r.current_code)?;
            Ok(FormerCommuneCode {
                still_listed: parse_bool(&r.former_code_still_listed)?,
                former_code: r.former_code,
                current_code: r.current_code,
                current_name: r.current_name,
                department: r.department,
            })
        })?;
        former.sort_by(|a, b| a.former_code.cmp(&b.former_code));
        if let Some(w) = former
            .windows(2)
            .find(|w| w[0].former_code == w[1].former_code)
        {
            return Err(DataError::new(
                file,
                None,
                format!("former code {} maps to two communes", w[0].former_code),
            ));
        }

        let (file, text) = embedded!("cog_countries.csv");
        let countries = read_csv(file, text, |r: CountryRow| {
            let b = r.code.as_bytes();
            if b.len() != 5 || !r.code.starts_with("99") || !b.iter().all(u8::is_ascii_digit) {
                return Err(format!("bad country code {:?}", r.code));
            }
            let status = match r.status.as_str() {
                "current" => CountryStatus::Current,
                "territory" => CountryStatus::Territory,
                "retired" => CountryStatus::Retired,
                other => return Err(format!("unknown country status {other:?}")),
            };
            Ok(Country {
                code: r.code,
                label: r.label,
                status,
                official_name: non_empty(r.official_name),
                iso2: non_empty(r.iso2),
                iso3: non_empty(r.iso3),
                iso_num3: non_empty(r.iso_num3),
                parent_code: non_empty(r.parent_code),
                date_end: parse_optional_date(&r.date_end)?,
                note: non_empty(r.note),
            })
        })?;

        Ok(Cog {
            communes,
            former,
            countries,
        })
    }

    /// Every commune entry, sorted by code.
    pub fn communes(&self) -> &[Commune] {
        &self.communes
    }

    /// The entries with a code: none, one, or two (a commune nouvelle and its delegated seat).
    pub fn communes_with_code(&self, code: &str) -> &[Commune] {
        let start = self.communes.partition_point(|c| c.code.as_str() < code);
        let end = start
            + self.communes[start..]
                .iter()
                .take_while(|c| c.code == code)
                .count();
        &self.communes[start..end]
    }

    /// The entry of a code and kind.
    pub fn commune(&self, code: &str, kind: CommuneKind) -> Option<&Commune> {
        self.communes_with_code(code)
            .iter()
            .find(|c| c.kind == kind)
    }

    /// The current commune with this code.
    pub fn current_commune(&self, code: &str) -> Option<&Commune> {
        self.commune(code, CommuneKind::Current)
    }

    /// Every former code, sorted.
    pub fn former_codes(&self) -> &[FormerCommuneCode] {
        &self.former
    }

    /// What a former commune code became.
    pub fn former_code(&self, code: &str) -> Option<&FormerCommuneCode> {
        self.former
            .binary_search_by(|f| f.former_code.as_str().cmp(code))
            .ok()
            .and_then(|i| self.former.get(i))
    }

    /// Recognises a birth commune code: listed in the COG, a former code, or a known historical
    /// code. Case-insensitive for Corsica (`2a004`).
    pub fn birth_commune(&self, code: &str) -> Option<BirthCommune<'_>> {
        let code = code.trim();
        if code.len() == 5 && code.as_bytes().get(1).is_some_and(u8::is_ascii_lowercase) {
            // Corsican codes typed in lower case: look up the canonical spelling.
            return self.birth_commune_exact(&code.to_ascii_uppercase());
        }
        self.birth_commune_exact(code)
    }

    fn birth_commune_exact(&self, code: &str) -> Option<BirthCommune<'_>> {
        let listed = self.communes_with_code(code);
        let preferred = listed
            .iter()
            .find(|c| c.kind == CommuneKind::Current)
            .or_else(|| listed.first());
        if let Some(c) = preferred {
            return Some(BirthCommune::Listed(c));
        }
        if let Some(f) = self.former_code(code) {
            return Some(BirthCommune::Former(f));
        }
        historical_commune(code).map(|(current_code, reason)| BirthCommune::Historical {
            current_code,
            reason,
        })
    }

    /// Every country code, in file order (France first).
    pub fn countries(&self) -> &[Country] {
        &self.countries
    }

    /// A country by code; `99000`, the former code of France, gives France (`99100`).
    pub fn country(&self, code: &str) -> Option<&Country> {
        self.country_exact(&normalize_country_code(code))
    }

    /// A country by its exact code, without normalisation.
    pub fn country_exact(&self, code: &str) -> Option<&Country> {
        self.countries.iter().find(|c| c.code == code)
    }
}

/// Trims a country code and replaces `99000` by `99100`.
pub fn normalize_country_code(code: &str) -> String {
    let code = code.trim();
    if code == FRANCE_BEFORE_2016 {
        FRANCE.to_owned()
    } else {
        code.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::cog;

    fn get() -> Result<&'static Cog, String> {
        cog().map_err(|e| e.to_string())
    }

    #[test]
    fn counts_pin_the_cog_vintage() -> Result<(), String> {
        let c = get()?;
        assert_eq!(c.communes().len(), 37_590);
        let count = |k: CommuneKind| c.communes().iter().filter(|x| x.kind == k).count();
        assert_eq!(count(CommuneKind::Current), 34_969);
        assert_eq!(count(CommuneKind::Delegated), 2_105);
        assert_eq!(count(CommuneKind::Associated), 471);
        assert_eq!(count(CommuneKind::MunicipalArrondissement), 45);
        assert_eq!(c.former_codes().len(), 4_240);
        assert_eq!(c.countries().len(), 252);
        let status = |s: CountryStatus| c.countries().iter().filter(|x| x.status == s).count();
        assert_eq!(status(CountryStatus::Current), 197);
        assert_eq!(status(CountryStatus::Territory), 32);
        assert_eq!(status(CountryStatus::Retired), 23);
        Ok(())
    }

    #[test]
    fn communes_and_repeated_codes() -> Result<(), String> {
        let c = get()?;
        assert_eq!(
            c.current_commune("2A004").map(|x| x.name.as_str()),
            Some("Ajaccio")
        );
        assert_eq!(c.communes_with_code("75056").len(), 1);
        assert_eq!(
            c.commune("75101", CommuneKind::MunicipalArrondissement)
                .and_then(|x| x.parent_code.as_deref()),
            Some("75056")
        );
        let repeated = c
            .communes()
            .windows(2)
            .filter(|w| w[0].code == w[1].code)
            .count();
        assert_eq!(repeated, 584);
        let (code, both) = c
            .communes()
            .windows(2)
            .find(|w| w[0].code == w[1].code)
            .map(|w| (w[0].code.clone(), c.communes_with_code(&w[0].code)))
            .ok_or("no repeated code")?;
        assert_eq!(both.len(), 2, "{code}");
        assert!(c.current_commune(&code).is_some());
        assert!(c.commune(&code, CommuneKind::Delegated).is_some());
        assert!(c.communes_with_code("00000").is_empty());
        assert!(c.communes_with_code("").is_empty());
        assert!(c.communes_with_code("zzzzz").is_empty());
        Ok(())
    }

    #[test]
    fn birthplaces_accept_former_and_historical_codes() -> Result<(), String> {
        let c = get()?;
        match c.birth_commune("75012") {
            // 75012 was a Seine commune (Boulogne-Billancourt) before 1968.
            Some(BirthCommune::Former(f)) => assert_eq!(f.current_code, "92012"),
            other => panic!("75012: {other:?}"),
        }
        match c.birth_commune("20004") {
            Some(BirthCommune::Former(f)) => assert_eq!(f.current_code, "2A004"),
            other => panic!("20004: {other:?}"),
        }
        assert_eq!(
            c.birth_commune("50383")
                .map(|b| b.current_code().to_owned()),
            Some("50129".into())
        );
        assert_eq!(
            c.birth_commune("2b033")
                .map(|b| b.current_code().to_owned()),
            Some("2B033".into())
        );
        assert_eq!(
            c.birth_commune("75101")
                .map(|b| b.current_code().to_owned()),
            Some("75056".into())
        );
        assert_eq!(
            c.birth_commune("97123")
                .map(|b| b.current_code().to_owned()),
            Some("97701".into())
        );
        assert_eq!(
            c.birth_commune("98517")
                .map(|b| b.current_code().to_owned()),
            Some("97617".into())
        );
        assert!(c.birth_commune("98518").is_none());
        assert!(c.birth_commune("98500").is_none());
        assert!(c.birth_commune("99100").is_none());
        assert!(c.birth_commune("00000").is_none());
        assert!(c.birth_commune("ééééé").is_none());
        Ok(())
    }

    #[test]
    fn countries() -> Result<(), String> {
        let c = get()?;
        assert_eq!(c.country("99000").map(|x| x.code.as_str()), Some(FRANCE));
        assert_eq!(
            c.country(" 99100 ").map(|x| x.label.as_str()),
            Some("France")
        );
        assert_eq!(
            c.country_exact("99000").map(|x| x.status),
            Some(CountryStatus::Retired)
        );
        assert_eq!(
            c.country("99230").and_then(|x| x.parent_code.as_deref()),
            Some("99216")
        );
        assert_eq!(
            c.country("99115").map(|x| x.status),
            Some(CountryStatus::Retired)
        );
        assert!(c.country("99999").is_none());
        assert!(c.country("France").is_none());
        Ok(())
    }

    #[test]
    fn commune_code_shape() {
        for ok in ["01001", "2A004", "2B366", "97601", "75056"] {
            assert!(is_commune_code_shape(ok), "{ok}");
        }
        for bad in [
            "1001", "2C004", "3A004", "2a004", "010011", "ABCDE", "01-01", "é0001",
        ] {
            assert!(!is_commune_code_shape(bad), "{bad}");
        }
    }
}
