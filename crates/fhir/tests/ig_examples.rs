//! Our resources compared with the ANS IG's own public-data examples (`tests/data/`): the same
//! identifier systems and type codings, the same code systems in the same slices, the same
//! profiles (unversioned, as the live API v2 lists them), and a CapabilityStatement that
//! promises nothing the IG's server statement does not define.

use std::error::Error;

use jiff::civil::date;
use rppsplus_fhir::{
    ExerciseView, OrganizationView, PractitionerView, RoleView, capability_statement, organization,
    practitioner, practitioner_role,
};
use serde_json::Value;

type TestResult = Result<(), Box<dyn Error>>;

fn example(name: &str) -> Result<Value, Box<dyn Error>> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?)
}

fn at() -> Result<jiff::Timestamp, Box<dyn Error>> {
    Ok("2026-11-27T10:15:30.123456Z".parse()?)
}

fn unversioned(profiles: &Value) -> Vec<String> {
    profiles
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|p| p.split('|').next().unwrap_or(p).to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The identifier of `resource` whose type code is `code`, without its value.
fn identifier_shape(resource: &Value, code: &str) -> Option<Value> {
    resource["identifier"].as_array()?.iter().find_map(|i| {
        (i["type"]["coding"][0]["code"] == code).then(|| {
            let mut i = i.clone();
            i.as_object_mut().map(|o| o.remove("value"));
            i
        })
    })
}

fn doctor() -> PractitionerView {
    PractitionerView {
        id: "42".into(),
        idnps: "810003461033".into(),
        rpps: Some("10003461033".into()),
        civility: "M".into(),
        exercises: vec![ExerciseView {
            profession_code: "10".into(),
            exercise_civility: Some("DR".into()),
            last_name: "Saucier".into(),
            first_name: "Arthur".into(),
        }],
        active: true,
        last_updated: "2026-11-27T10:15:30Z"
            .parse()
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH),
    }
}

#[test]
fn practitioner_is_shaped_like_the_ig_example() -> TestResult {
    let ig = example("Practitioner-334081DP.json")?;
    let ours = practitioner(&doctor());
    assert_eq!(ours["resourceType"], "Practitioner");
    assert_eq!(ours["language"], ig["language"]);
    assert_eq!(
        unversioned(&ours["meta"]["profile"]),
        unversioned(&ig["meta"]["profile"])
    );
    for code in ["IDNPS", "RPPS"] {
        assert_eq!(
            identifier_shape(&ours, code),
            identifier_shape(&ig, code),
            "{code} identifier"
        );
    }
    // Same person as the example: the same values too.
    assert_eq!(ours["identifier"], ig["identifier"]);
    assert_eq!(ours["name"][0]["family"], ig["name"][0]["family"]);
    assert_eq!(ours["name"][0]["given"], ig["name"][0]["given"]);
    assert_eq!(ours["name"][0]["prefix"], ig["name"][0]["prefix"]);
    assert_eq!(ours["name"][0]["use"], ig["name"][0]["use"]);
    assert_eq!(ours["name"][0]["suffix"], serde_json::json!(["DR"]));
    // The profession coding is the IG's G15 coding.
    let ig_g15 = ig["qualification"]
        .as_array()
        .and_then(|q| {
            q.iter()
                .flat_map(|q| q["code"]["coding"].as_array().cloned().unwrap_or_default())
                .find(|c| c["system"].as_str().is_some_and(|s| s.contains("TRE_G15")))
        })
        .ok_or("no G15 coding in the example")?;
    assert_eq!(ours["qualification"][0]["code"]["coding"][0], ig_g15);
    assert_eq!(ours["meta"]["lastUpdated"], "2026-11-27T10:15:30.000000Z");
    Ok(())
}

#[test]
fn an_rpps_plus_professional_is_role_based() -> TestResult {
    let mut p = doctor();
    p.exercises[0].profession_code = "328".into();
    let ours = practitioner(&p);
    assert_eq!(
        ours["qualification"][0]["code"]["coding"][0],
        serde_json::json!({
            "system": "https://mos.esante.gouv.fr/NOS/TRE_R291-AutreProfession/FHIR/TRE-R291-AutreProfession",
            "code": "99",
        })
    );
    Ok(())
}

#[test]
fn an_inactive_practitioner_shows_its_identifiers_only() -> TestResult {
    let mut p = doctor();
    p.active = false;
    let ours = practitioner(&p);
    assert_eq!(ours["active"], false);
    assert!(ours.get("name").is_none());
    assert!(ours.get("qualification").is_none());
    assert_eq!(ours["identifier"].as_array().map(Vec::len), Some(2));
    Ok(())
}

#[test]
fn practitioner_role_codes_use_the_ig_systems() -> TestResult {
    let ig = example("PractitionerRole-1578230DP.json")?;
    let v2 = example("PractitionerRole-practitionerrole-example.json")?;
    let role = RoleView {
        id: "7".into(),
        practitioner: "42".into(),
        organization: "3".into(),
        role_code: "GENR09".into(),
        practice_mode: "S".into(),
        profession_code: "328".into(),
        start: date(2025, 1, 6),
        end: Some(date(2026, 11, 27)),
        active: false,
        last_updated: at()?,
    };
    let ours = practitioner_role(&role);
    assert_eq!(
        unversioned(&ours["meta"]["profile"]),
        unversioned(&ig["meta"]["profile"])
    );
    assert_eq!(
        unversioned(&ours["meta"]["profile"]),
        unversioned(&v2["meta"]["profile"])
    );
    let systems = |r: &Value| -> Vec<String> {
        r["code"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|c| {
                        assert_eq!(c["coding"].as_array().map(Vec::len), Some(1));
                        c["coding"][0]["system"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned()
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let ours_systems = systems(&ours);
    let ig_systems = systems(&ig);
    // Genre d'activité and mode d'exercice, in the IG's order and systems.
    assert_eq!(ours_systems[..2], ig_systems[..2]);
    assert_eq!(ours["code"][0]["coding"][0]["code"], "GENR09");
    assert_eq!(ours["code"][1]["coding"][0]["code"], "S");
    // The rôle de prise en charge fills the `fonction` slice with TRE_R85.
    assert_eq!(
        ours_systems[2],
        "https://mos.esante.gouv.fr/NOS/TRE_R85-RolePriseCharge/FHIR/TRE-R85-RolePriseCharge"
    );
    assert_eq!(ours["practitioner"]["reference"], "Practitioner/42");
    assert_eq!(ours["organization"]["reference"], "Organization/3");
    assert!(
        ig["practitioner"]["reference"]
            .as_str()
            .is_some_and(|r| r.starts_with("Practitioner/"))
    );
    assert_eq!(ours["period"]["start"], "2025-01-06");
    assert_eq!(ours["period"]["end"], "2026-11-27");
    assert_eq!(
        ours["active"], false,
        "a closed situation stays visible, inactive"
    );
    Ok(())
}

fn establishment() -> OrganizationView {
    OrganizationView {
        id: "3".into(),
        finess: "754567860".into(),
        legal_entity: false,
        name: "CH EURE-SEINE".into(),
        siret: Some("73282932000074".into()),
        category_code: Some("355".into()),
        address: Some("96 R DIDOT".into()),
        postcode: Some("75014".into()),
        commune_code: Some("75114".into()),
        city: Some("PARIS".into()),
        open: true,
        closed_on: None,
        part_of: Some("1".into()),
        last_updated: "2026-11-27T10:15:30Z"
            .parse()
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH),
    }
}

#[test]
fn organizations_are_shaped_like_the_ig_examples() -> TestResult {
    let eg_ig = example("Organization-158480DP.json")?;
    let ej_ig = example("Organization-548812DP.json")?;
    let eg = organization(&establishment());
    assert_eq!(
        unversioned(&eg["meta"]["profile"]),
        unversioned(&eg_ig["meta"]["profile"])
    );
    for code in ["IDNST", "FINEG"] {
        assert_eq!(
            identifier_shape(&eg, code),
            identifier_shape(&eg_ig, code),
            "{code} identifier"
        );
    }
    // The same establishment as the example: the same identifier values.
    for code in ["IDNST", "FINEG"] {
        let value = |r: &Value| {
            r["identifier"]
                .as_array()
                .and_then(|a| a.iter().find(|i| i["type"]["coding"][0]["code"] == code))
                .map(|i| i["value"].clone())
        };
        assert_eq!(value(&eg), value(&eg_ig), "{code} value");
    }
    assert_eq!(eg["type"][0], eg_ig["type"][0], "organizationType slice");
    assert_eq!(eg["name"], eg_ig["name"]);
    assert_eq!(
        eg["address"][0]["extension"],
        eg_ig["address"][0]["extension"]
    );
    assert_eq!(eg["address"][0]["city"], eg_ig["address"][0]["city"]);
    assert_eq!(
        eg["address"][0]["postalCode"],
        eg_ig["address"][0]["postalCode"]
    );
    assert_eq!(eg["partOf"]["reference"], "Organization/1");
    assert_eq!(
        eg["type"][1]["coding"][0]["system"],
        "https://mos.esante.gouv.fr/NOS/TRE_R66-CategorieEtablissement/FHIR/TRE-R66-CategorieEtablissement"
    );

    let mut ej = establishment();
    ej.legal_entity = true;
    ej.part_of = None;
    ej.category_code = None;
    let ej = organization(&ej);
    assert_eq!(ej["type"][0], ej_ig["type"][0], "LEGAL-ENTITY");
    assert_eq!(
        identifier_shape(&ej, "IDNST"),
        identifier_shape(&ej_ig, "IDNST")
    );
    assert_eq!(
        ej["identifier"][1]["type"]["coding"][0]["code"], "FINEJ",
        "an EJ's FINESS is typed FINEJ"
    );
    assert!(ej.get("partOf").is_none());
    Ok(())
}

#[test]
fn a_closed_organization_keeps_its_name_and_identifiers() -> TestResult {
    let mut o = establishment();
    o.open = false;
    o.closed_on = Some(date(2024, 6, 30));
    let r = organization(&o);
    assert_eq!(r["active"], false);
    assert_eq!(r["name"], "CH EURE-SEINE");
    assert!(r.get("address").is_none());
    assert_eq!(r["extension"][0]["valuePeriod"]["end"], "2024-06-30");
    Ok(())
}

#[test]
fn the_capability_statement_promises_only_what_the_ig_defines() -> TestResult {
    let ig = example("CapabilityStatement-AsServerDPCapabilityStatement.json")?;
    let ours = capability_statement("https://annuaire.example/fhir/v2", "0.1.0");
    assert_eq!(ours["fhirVersion"], "4.0.1");
    assert_eq!(ours["kind"], "instance");
    let ig_resources = ig["rest"][0]["resource"].as_array().ok_or("IG resources")?;
    let resources = ours["rest"][0]["resource"].as_array().ok_or("resources")?;
    let types: Vec<&str> = resources
        .iter()
        .filter_map(|r| r["type"].as_str())
        .collect();
    assert_eq!(types, ["Organization", "Practitioner", "PractitionerRole"]);
    for r in resources {
        let t = &r["type"];
        let ig_r = ig_resources
            .iter()
            .find(|i| &i["type"] == t)
            .ok_or("type not in the IG")?;
        assert_eq!(
            unversioned(&serde_json::json!([r["profile"]])),
            unversioned(&serde_json::json!([ig_r["profile"]]))
        );
        for p in r["searchParam"].as_array().ok_or("params")? {
            let ig_p = ig_r["searchParam"]
                .as_array()
                .and_then(|a| a.iter().find(|i| i["name"] == p["name"]))
                .ok_or_else(|| format!("{t} {} is not an IG parameter", p["name"]))?;
            assert_eq!(p["type"], ig_p["type"], "{t} {}", p["name"]);
        }
        for (ours_key, ig_key) in [
            ("searchInclude", "searchInclude"),
            ("searchRevInclude", "searchRevInclude"),
        ] {
            for v in r[ours_key].as_array().cloned().unwrap_or_default() {
                let in_ig = ig_r[ig_key].as_array().is_some_and(|a| a.contains(&v));
                assert!(in_ig, "{t} {ours_key} {v}");
            }
        }
    }
    Ok(())
}
