//! The searchset Bundle, `_elements`, and the CapabilityStatement.

use serde_json::{Map, Value, json};

use crate::search::{
    CURSOR_PARAM, Cursor, ResourceType, Search, supported_includes, supported_params,
    supported_revincludes,
};

/// One page of results, ready to be wrapped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    /// The matches, in page order.
    pub matches: Vec<Value>,
    /// Resources added by `_include` / `_revinclude`.
    pub included: Vec<Value>,
    /// Where the next page starts, when there may be one.
    pub next: Option<Cursor>,
    /// The number of matches, when counted.
    pub total: Option<u64>,
}

/// Percent-encodes a query component (RFC 3986 unreserved characters kept).
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn query_string(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The link of a search (its `self`, or with a cursor its `next`).
pub fn search_url(base: &str, search: &Search, cursor: Option<&Cursor>) -> String {
    let mut params = search.link_params.clone();
    if let Some(c) = cursor {
        params.push((CURSOR_PARAM.to_owned(), c.encode()));
    }
    let base = base.trim_end_matches('/');
    let t = search.resource.as_str();
    if params.is_empty() {
        format!("{base}/{t}")
    } else {
        format!("{base}/{t}?{}", query_string(&params))
    }
}

/// The `fullUrl` of a resource.
fn full_url(base: &str, resource: &Value) -> Option<String> {
    let t = resource.get("resourceType")?.as_str()?;
    let id = resource.get("id")?.as_str()?;
    Some(format!("{}/{t}/{id}", base.trim_end_matches('/')))
}

/// Keeps only the elements listed (and the mandatory `resourceType`, `id`, `meta`), marking
/// the resource `SUBSETTED` as FHIR requires.
pub fn subset(resource: &Value, elements: &[String]) -> Value {
    let Some(obj) = resource.as_object() else {
        return resource.clone();
    };
    let mut out = Map::new();
    for (k, v) in obj {
        if matches!(k.as_str(), "resourceType" | "id" | "meta") || elements.contains(k) {
            out.insert(k.clone(), v.clone());
        }
    }
    let tag = json!({
        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
        "code": "SUBSETTED",
    });
    match out.get_mut("meta").and_then(Value::as_object_mut) {
        Some(meta) => {
            meta.insert("tag".into(), json!([tag]));
        }
        None => {
            out.insert("meta".into(), json!({ "tag": [tag] }));
        }
    }
    Value::Object(out)
}

/// The searchset Bundle of one page. `now` is the instant of the search (`meta.lastUpdated`).
pub fn searchset(base: &str, search: &Search, page: Page, now: jiff::Timestamp) -> Value {
    let mut links = vec![json!({
        "relation": "self",
        "url": search_url(base, search, search.cursor.as_ref()),
    })];
    if let Some(next) = &page.next {
        links.push(json!({ "relation": "next", "url": search_url(base, search, Some(next)) }));
    }
    let mut entries = Vec::with_capacity(page.matches.len() + page.included.len());
    for m in page.matches {
        let resource = match &search.elements {
            Some(elements) => subset(&m, elements),
            None => m,
        };
        entries.push(entry(base, resource, "match"));
    }
    for i in page.included {
        entries.push(entry(base, i, "include"));
    }
    let mut b = Map::new();
    b.insert("resourceType".into(), "Bundle".into());
    b.insert(
        "meta".into(),
        json!({ "lastUpdated": crate::resources::instant(now) }),
    );
    b.insert("type".into(), "searchset".into());
    if let Some(total) = page.total {
        b.insert("total".into(), total.into());
    }
    b.insert("link".into(), links.into());
    b.insert("entry".into(), entries.into());
    Value::Object(b)
}

fn entry(base: &str, resource: Value, mode: &str) -> Value {
    let mut e = Map::new();
    if let Some(url) = full_url(base, &resource) {
        e.insert("fullUrl".into(), url.into());
    }
    e.insert("resource".into(), resource);
    e.insert("search".into(), json!({ "mode": mode }));
    Value::Object(e)
}

/// Definitions of the parameters, as the IG's CapabilityStatement gives them.
fn definition(t: ResourceType, name: &str) -> Option<String> {
    let core = |s: &str| Some(format!("http://hl7.org/fhir/SearchParameter/{s}"));
    match (t, name) {
        (_, "_id") => core("Resource-id"),
        (_, "_lastUpdated") => core("Resource-lastUpdated"),
        (_, "active") => core(&format!("{}-active", t.as_str())),
        (_, "identifier") => core(&format!("{}-identifier", t.as_str())),
        (ResourceType::Practitioner, "family") => core("individual-family"),
        (ResourceType::Practitioner, "given") => core("individual-given"),
        (ResourceType::Practitioner, "name") => core("Practitioner-name"),
        (ResourceType::Practitioner, "qualification-code") => Some(
            "https://interop.esante.gouv.fr/ig/fhir/annuaire/SearchParameter/as-sp-qualification-code"
                .to_owned(),
        ),
        (ResourceType::PractitionerRole, "organization") => core("PractitionerRole-organization"),
        (ResourceType::PractitionerRole, "practitioner") => core("PractitionerRole-practitioner"),
        (ResourceType::PractitionerRole, "role") => core("PractitionerRole-role"),
        (ResourceType::Organization, "address") => core("Organization-address"),
        (ResourceType::Organization, "address-city") => core("Organization-address-city"),
        (ResourceType::Organization, "address-postalcode") => {
            core("Organization-address-postalcode")
        }
        (ResourceType::Organization, "name") => core("Organization-name"),
        (ResourceType::Organization, "partof") => core("Organization-partof"),
        (ResourceType::Organization, "type") => core("Organization-type"),
        _ => None,
    }
}

fn profile(t: ResourceType) -> &'static str {
    let profiles = match t {
        ResourceType::Practitioner => crate::codes::PRACTITIONER_PROFILES,
        ResourceType::PractitionerRole => crate::codes::PRACTITIONER_ROLE_PROFILES,
        ResourceType::Organization => crate::codes::ORGANIZATION_PROFILES,
    };
    profiles.last().copied().unwrap_or_default()
}

/// The CapabilityStatement: exactly the types, interactions, parameters, includes and formats
/// this server answers. `base` is the server's public base URL (`…/fhir/v2`).
pub fn capability_statement(base: &str, software_version: &str) -> Value {
    let resources: Vec<Value> = ResourceType::ALL
        .into_iter()
        .map(|t| {
            let params: Vec<Value> = supported_params(t)
                .iter()
                .map(|(name, kind)| {
                    let mut p = Map::new();
                    p.insert("name".into(), (*name).into());
                    if let Some(d) = definition(t, name) {
                        p.insert("definition".into(), d.into());
                    }
                    p.insert("type".into(), (*kind).into());
                    Value::Object(p)
                })
                .collect();
            let mut r = Map::new();
            r.insert("type".into(), t.as_str().into());
            r.insert("profile".into(), profile(t).into());
            r.insert(
                "interaction".into(),
                json!([{ "code": "read" }, { "code": "search-type" }]),
            );
            if !supported_includes(t).is_empty() {
                r.insert("searchInclude".into(), json!(supported_includes(t)));
            }
            if !supported_revincludes(t).is_empty() {
                r.insert("searchRevInclude".into(), json!(supported_revincludes(t)));
            }
            r.insert("searchParam".into(), params.into());
            Value::Object(r)
        })
        .collect();
    let common: Vec<Value> = [
        "_count",
        "_elements",
        "_format",
        "_include",
        "_revinclude",
        "_total",
    ]
    .iter()
    .map(|n| json!({ "name": n, "type": if *n == "_count" { "number" } else { "string" } }))
    .collect();
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-27",
        "publisher": "rpps-plus",
        "kind": "instance",
        "software": { "name": "rpps-plus", "version": software_version },
        "implementation": {
            "description": "Annuaire RPPS+ : données publiques des professionnels et des structures",
            "url": base.trim_end_matches('/'),
        },
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [{
            "mode": "server",
            "documentation": "Recherche en GET ou en POST [type]/_search (formulaire). Pages suivantes : lien next (curseur). Chaînes : préfixe insensible à la casse et aux accents, :exact, :contains. Dates : préfixes eq, ne, gt, lt, ge, le, sa, eb.",
            "resource": resources,
            "searchParam": common,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::parse_search;

    #[test]
    fn links_repeat_the_query_and_carry_the_cursor() -> Result<(), crate::Outcome> {
        let params = vec![
            ("family".to_owned(), "Lefèvre".to_owned()),
            (
                "qualification-code".to_owned(),
                "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante|10"
                    .to_owned(),
            ),
        ];
        let search = parse_search(ResourceType::Practitioner, &params)?;
        let page = Page {
            matches: vec![
                json!({"resourceType": "Practitioner", "id": "7", "name": [], "meta": {}}),
            ],
            included: vec![json!({"resourceType": "Organization", "id": "3"})],
            next: Some(Cursor {
                last_updated: None,
                id: 7,
            }),
            total: None,
        };
        let b = searchset(
            "https://x.example/fhir/v2/",
            &search,
            page,
            jiff::Timestamp::UNIX_EPOCH,
        );
        assert_eq!(
            b["link"][0]["url"],
            "https://x.example/fhir/v2/Practitioner?family=Lef%C3%A8vre&qualification-code=https%3A%2F%2Fmos.esante.gouv.fr%2FNOS%2FTRE_G15-ProfessionSante%2FFHIR%2FTRE-G15-ProfessionSante%7C10"
        );
        let next = b["link"][1]["url"].as_str().unwrap_or_default();
        assert_eq!(b["link"][1]["relation"], "next");
        assert!(next.ends_with("&_cursor=i7"), "{next}");
        assert_eq!(
            b["entry"][0]["fullUrl"],
            "https://x.example/fhir/v2/Practitioner/7"
        );
        assert_eq!(b["entry"][0]["search"]["mode"], "match");
        assert_eq!(b["entry"][1]["search"]["mode"], "include");
        assert!(b.get("total").is_none());
        Ok(())
    }

    #[test]
    fn elements_keep_the_mandatory_ones_and_tag_the_subset() {
        let r = json!({"resourceType": "Practitioner", "id": "7", "meta": {"lastUpdated": "x"},
                       "name": [{"family": "A"}], "identifier": [], "active": true});
        let s = subset(&r, &["identifier".to_owned()]);
        assert_eq!(
            s,
            json!({"resourceType": "Practitioner", "id": "7", "identifier": [],
                   "meta": {"lastUpdated": "x", "tag": [{
                       "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
                       "code": "SUBSETTED"}]}})
        );
    }
}
