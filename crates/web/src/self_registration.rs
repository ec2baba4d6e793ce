//! "Demander mon enregistrement" (`/inscription`): the public page on which a person without
//! an RPPS number (an aide à domicile, a manager who has none) submits their own registration,
//! naming their establishment. It is the page of `POST /api/v1/self-registrations`: the same
//! use case (`App::submit_self_registration`), the same checks and messages, the same rate limit
//! per client address (`AppState::self_registrations`). The request then waits for a manager of
//! the establishment, on the structure's list of professionals.
//!
//! Nobody is signed in, so there is no sign-in form token. The form carries a signed
//! double-submit token instead: the browser holds a random value in an `HttpOnly`,
//! `SameSite=Strict` cookie (`__Host-` prefixed and `Secure` when the public URL is https), and
//! the form carries the HMAC-SHA256 of that value under a server key. Another site can neither
//! read the form's token nor compute one for a cookie it would plant. The origin is checked as on
//! every form (`auth::check_origin`). The key is drawn at random by each server process (the
//! application has no secret-key setting): a form opened before a restart, or served by another
//! instance behind a load balancer without affinity, is answered with the form again, values
//! kept, and a fresh token.

use std::sync::OnceLock;

use askama::Template;
use axum::Extension;
use axum::extract::{Form, Query, State};
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use hmac::{Hmac, Mac};
use rppsplus_app::AppError;
use rppsplus_app::drafts::resolve_commune;
use rppsplus_app::registrations::{RawExercise, RegistrationInput};
use rppsplus_app::sessions::new_secret;
use rppsplus_domain::Finess;
use rppsplus_domain::reference::{EligibilityStatus, Setting, TableId, tables};
use rppsplus_store::{Structure, StructureKind};
use serde::Deserialize;
use sha2::Sha256;

use crate::AppState;
use crate::auth::{Viewer, check_origin};
use crate::client_ip::client_ip;
use crate::error::{WebError, render};
use crate::pages::{ErrorView, FormErrors, Layout};
use crate::registrations::FieldView;

/// The section of the navigation (none of its entries: the page is reached from links).
const SECTION: &str = "self_registration";

const COOKIE: &str = "rppsplus_inscription";
const SECURE_COOKIE: &str = "__Host-rppsplus_inscription";

/// How long the cookie lives; every display of the form renews it.
const COOKIE_MAX_AGE_SECS: i64 = 24 * 3600;

/// How many prénoms the form offers, as in the registration wizard.
const FIRST_NAME_INPUTS: usize = 4;

/// Establishments listed at most by the search.
const SEARCH_LIMIT: usize = 30;

/// The server key of the form tokens: the configured secret, or drawn at random the first
/// time it is needed.
#[derive(Debug, Default)]
pub(crate) struct FormKey(OnceLock<String>);

impl FormKey {
    /// The key of `secret`, or a random one when none is configured.
    pub(crate) fn new(secret: Option<String>) -> FormKey {
        let key = OnceLock::new();
        if let Some(secret) = secret.filter(|s| !s.is_empty()) {
            let _ = key.set(secret);
        }
        FormKey(key)
    }

    fn key(&self) -> Result<&[u8], AppError> {
        if let Some(k) = self.0.get() {
            return Ok(k.as_bytes());
        }
        let fresh = new_secret()?;
        Ok(self.0.get_or_init(|| fresh).as_bytes())
    }

    /// The form token for the cookie's value: HMAC-SHA256, hex.
    fn token(&self, cookie: &str) -> Result<String, AppError> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.key()?).map_err(|_| {
            AppError::Store(rppsplus_store::StoreError::Backend(
                "form key of an invalid length".to_owned(),
            ))
        })?;
        mac.update(cookie.as_bytes());
        Ok(mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect())
    }

    /// Whether `token` is the one of this cookie's value.
    fn verify(&self, cookie: Option<&str>, token: &str) -> bool {
        let Some(cookie) = cookie else { return false };
        match self.token(cookie) {
            Ok(expected) => constant_time_eq(expected.as_bytes(), token.as_bytes()),
            Err(_) => false,
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn secure_cookies(state: &AppState) -> bool {
    state.settings.public_url.starts_with("https://")
}

fn cookie_name(state: &AppState) -> &'static str {
    if secure_cookies(state) {
        SECURE_COOKIE
    } else {
        COOKIE
    }
}

/// The cookie's value in the request, when it looks like one of ours.
fn read_cookie(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let name = cookie_name(state);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The browser's value (kept, or new) and the `Set-Cookie` that renews it.
fn browser_value(state: &AppState, headers: &HeaderMap) -> Result<(String, HeaderValue), AppError> {
    let value = match read_cookie(state, headers) {
        Some(v) => v,
        None => new_secret()?,
    };
    let secure = if secure_cookies(state) {
        "; Secure"
    } else {
        ""
    };
    let cookie = HeaderValue::from_str(&format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={COOKIE_MAX_AGE_SECS}{secure}",
        cookie_name(state)
    ))
    .map_err(|_| {
        AppError::Store(rppsplus_store::StoreError::Backend(
            "form cookie not a header value".to_owned(),
        ))
    })?;
    Ok((value, cookie))
}

// ---------------------------------------------------------------------------------------------
// The form.

struct RoleView {
    code: String,
    label: String,
    description: Option<String>,
    documents: Vec<String>,
}

/// An establishment found by the search.
struct SiteView {
    finess: String,
    name: String,
    city: Option<String>,
}

#[derive(Template)]
#[template(path = "self_registration.html")]
struct FormPage {
    layout: Layout,
    form: FormErrors,
    /// Why the form is shown again without having been checked (expired token).
    notice: Option<&'static str>,
    csrf: String,
    /// The establishment search: the query, whether it ran, what it found.
    query: String,
    query_error: Option<String>,
    searched: bool,
    sites: Vec<SiteView>,
    /// The establishment named by the FINESS typed or chosen, when it is known.
    chosen: Option<SiteView>,
    groups: Vec<(&'static str, Vec<FieldView>)>,
    first_names: Vec<FieldView>,
    first_names_error: Option<String>,
    exercise: Vec<FieldView>,
    roles: Vec<RoleView>,
    role_value: String,
    role_error: Option<String>,
}

fn code_options(items: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out = vec![(String::new(), "Choisir…".to_owned())];
    out.extend(
        items
            .iter()
            .map(|(c, l)| ((*c).to_owned(), (*l).to_owned())),
    );
    out
}

fn countries() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = rppsplus_domain::reference::cog()
        .map(|cog| {
            cog.countries()
                .iter()
                .filter(|c| c.status != rppsplus_domain::reference::CountryStatus::Retired)
                .map(|c| (c.code.clone(), c.label.clone()))
                .collect()
        })
        .unwrap_or_default();
    // France first, then by name.
    out.sort_by(|a, b| {
        (a.0 != "99100")
            .cmp(&(b.0 != "99100"))
            .then_with(|| a.1.cmp(&b.1))
    });
    out
}

/// The professions one may choose: those registrable in the establishment's setting when it is
/// known, else in any setting (the use case checks the choice against the establishment).
fn profession_options(site: Option<&Structure>) -> Vec<(String, String)> {
    let mut out = vec![(String::new(), "Choisir…".to_owned())];
    let Ok(t) = tables() else { return out };
    let settings = match site
        .and_then(|s| s.record.setting.as_deref())
        .and_then(Setting::parse)
    {
        Some(one) => vec![one],
        None => vec![
            Setting::Esms,
            Setting::EtablissementSanitaire,
            Setting::Officine,
        ],
    };
    let mut seen: Vec<String> = Vec::new();
    for setting in settings {
        for line in t.eligibility.for_setting(setting) {
            if line.table != TableId::R85
                || line.status != EligibilityStatus::Active
                || seen.contains(&line.code)
            {
                continue;
            }
            let label = t
                .professions
                .r85(&line.code)
                .map(|p| p.enreg_label.clone().unwrap_or_else(|| p.label.clone()))
                .unwrap_or_else(|| line.label_in_seed.clone());
            seen.push(line.code.clone());
            out.push((line.code.clone(), format!("{label} ({})", line.code)));
        }
    }
    out[1..].sort_by(|a, b| a.1.cmp(&b.1));
    out
}

fn role_views() -> Vec<RoleView> {
    let Ok(t) = tables() else { return Vec::new() };
    t.roles
        .rpps_plus_roles()
        .map(|r| RoleView {
            code: r.code.clone(),
            label: r.label.clone(),
            description: r.seed_label.clone().filter(|s| {
                rppsplus_domain::matching_key(s) != rppsplus_domain::matching_key(&r.label)
            }),
            documents: rppsplus_domain::documents_for_role(&r.code)
                .iter()
                .map(|d| d.document_label_in_seed.clone())
                .collect(),
        })
        .collect()
}

fn site_view(s: &Structure) -> SiteView {
    SiteView {
        finess: s.record.finess.to_string(),
        name: s.record.name.clone(),
        city: s.record.city.clone(),
    }
}

/// The establishment a typed FINESS names, if it is a known one.
async fn known_site(state: &AppState, raw: Option<&str>) -> Option<Structure> {
    let finess = Finess::parse(raw?.trim()).ok()?;
    let view = state.app.structure_view(&finess).await.ok()?;
    Some(view.structure)
}

/// What the page shows besides the form's values.
#[derive(Default)]
struct Search {
    query: String,
    query_error: Option<String>,
    searched: bool,
    sites: Vec<SiteView>,
}

fn form_page(
    layout: Layout,
    csrf: String,
    input: &RegistrationInput,
    site: Option<&Structure>,
    search: Search,
    errors: FormErrors,
) -> FormPage {
    let e = &errors;
    let i = &input.identity;
    let civil = vec![
        FieldView::new(
            "identity-civility",
            "civility",
            "Civilité",
            i.civility.as_deref(),
            e,
        )
        .kind("select")
        .options(code_options(&[("M", "Monsieur"), ("MME", "Madame")])),
        FieldView::new(
            "identity-sex",
            "sex",
            "Sexe (à l'état civil)",
            i.sex.as_deref(),
            e,
        )
        .kind("radio")
        .options(vec![
            ("F".to_owned(), "Féminin".to_owned()),
            ("M".to_owned(), "Masculin".to_owned()),
        ]),
        FieldView::new(
            "identity-birth_name",
            "birth_name",
            "Nom de naissance",
            i.birth_name.as_deref(),
            e,
        )
        .hint("Tel qu'il figure sur votre pièce d'identité.")
        .autocomplete("family-name"),
        FieldView::new(
            "identity-usage_name",
            "usage_name",
            "Nom d'usage (facultatif)",
            i.usage_name.as_deref(),
            e,
        )
        .hint("Par exemple votre nom d'époux ou d'épouse, si vous l'utilisez.")
        .optional(),
    ];
    let first_names = (0..FIRST_NAME_INPUTS)
        .map(|n| {
            let f = FieldView::new(
                &format!("identity-first_names-{n}"),
                "first_names",
                &if n == 0 {
                    "Premier prénom".to_owned()
                } else {
                    format!("Prénom {} (facultatif)", n + 1)
                },
                i.first_names.get(n).map(String::as_str),
                e,
            );
            if n == 0 {
                f.autocomplete("given-name")
            } else {
                f.optional()
            }
        })
        .collect();
    let birth = vec![
        FieldView::new(
            "identity-birth_date",
            "birth_date",
            "Date de naissance",
            i.birth_date.as_deref(),
            e,
        )
        .kind("date")
        .hint("Au format JJ/MM/AAAA.")
        .autocomplete("bday"),
        FieldView::new(
            "identity-birth_country",
            "birth_country",
            "Pays de naissance",
            i.birth_country.as_deref(),
            e,
        )
        .kind("select")
        .options(countries()),
        FieldView::new(
            "identity-birth_commune",
            "birth_commune",
            "Commune de naissance (si vous êtes né·e en France)",
            i.birth_commune.as_deref(),
            e,
        )
        .hint("Obligatoire pour une naissance en France : son nom tel qu'écrit sur l'acte de naissance (par exemple Lyon), ou son code INSEE si plusieurs communes portent ce nom (par exemple 69123).")
        .optional(),
    ];
    let d = &i.id_document;
    let document = vec![
        FieldView::new(
            "identity-id_document-type",
            "id_type",
            "Type de pièce d'identité",
            d.kind.as_deref(),
            e,
        )
        .kind("select")
        .options(code_options(&[
            ("CNI", "Carte nationale d'identité"),
            ("PASSEPORT", "Passeport"),
            ("TITRE_SEJOUR", "Titre de séjour"),
        ])),
        FieldView::new(
            "identity-id_document-number",
            "id_number",
            "Numéro de la pièce",
            d.number.as_deref(),
            e,
        ),
        FieldView::new(
            "identity-id_document-expires_on",
            "id_expiry",
            "Date de fin de validité",
            d.expiry_date.as_deref(),
            e,
        )
        .kind("date")
        .hint("Au format JJ/MM/AAAA, telle qu'imprimée sur la pièce."),
    ];
    let contact = vec![
        FieldView::new(
            "contact-email",
            "email",
            "Adresse e-mail personnelle",
            input.email.as_deref(),
            e,
        )
        .kind("email")
        .hint("Votre numéro RPPS vous y sera envoyé une fois la demande validée, puis l'invitation à activer votre e-CPS. Elle ne doit être celle de personne d'autre.")
        .autocomplete("email")
        .optional(),
        FieldView::new(
            "contact-mobile",
            "mobile",
            "Téléphone mobile (facultatif)",
            input.mobile.as_deref(),
            e,
        )
        .kind("tel")
        .hint("Un mobile français ou d'outre-mer, par exemple 06 12 34 56 78 ou +262 692 12 34 56.")
        .autocomplete("tel")
        .optional(),
    ];
    let x = &input.exercise;
    let modes = tables()
        .map(|t| {
            ["S", "L", "B"]
                .iter()
                .filter_map(|c| t.exercise_modes.get(c))
                .map(|m| (m.code.clone(), m.label.clone()))
                .collect()
        })
        .unwrap_or_default();
    let exercise = vec![
        FieldView::new(
            "exercise-establishment_finess",
            "establishment_finess",
            "Numéro FINESS de votre établissement",
            x.establishment_finess.as_deref(),
            e,
        )
        .hint("9 caractères, par exemple 690001037. Vous ne le connaissez pas ? Cherchez votre établissement par son nom ci-dessus.")
        .autocomplete("off"),
        FieldView::new(
            "exercise-start_date",
            "start_date",
            "Date de prise de fonction",
            x.start_date.as_deref(),
            e,
        )
        .kind("date")
        .hint("Au format JJ/MM/AAAA."),
        FieldView::new(
            "exercise-profession",
            "profession",
            "Profession",
            x.profession.as_deref(),
            e,
        )
        .kind("select")
        .options(profession_options(site))
        .hint("Les professions que l'on peut enregistrer dans le RPPS+ (nomenclature TRE_R85). Le choix est vérifié pour votre établissement."),
        FieldView::new(
            "exercise-exercise_last_name",
            "exercise_last_name",
            "Nom d'exercice (facultatif)",
            x.exercise_last_name.as_deref(),
            e,
        )
        .hint("Le nom sous lequel vous exercez, s'il diffère de votre nom d'usage (ou de naissance).")
        .optional(),
        FieldView::new(
            "exercise-exercise_first_name",
            "exercise_first_name",
            "Prénom d'exercice (facultatif)",
            x.exercise_first_name.as_deref(),
            e,
        )
        .hint("S'il diffère de votre premier prénom.")
        .optional(),
        FieldView::new(
            "exercise-practice_mode",
            "practice_mode",
            "Mode d'exercice",
            x.practice_mode.as_deref().or(Some("S")),
            e,
        )
        .kind("radio")
        .options(modes),
    ];
    FormPage {
        notice: None,
        csrf,
        query: search.query,
        query_error: search.query_error,
        searched: search.searched,
        sites: search.sites,
        chosen: site.map(site_view),
        groups: vec![
            ("Votre identité", civil),
            ("Votre naissance", birth),
            ("Votre pièce d'identité", document),
            ("Vos coordonnées", contact),
        ],
        first_names,
        first_names_error: e.error_for("identity-first_names").map(str::to_owned),
        exercise,
        roles: role_views(),
        role_value: x.role.clone().unwrap_or_default(),
        role_error: e.error_for("exercise-role").map(str::to_owned),
        layout,
        form: errors,
    }
}

fn with_cookie(mut response: Response, cookie: HeaderValue) -> Response {
    response.headers_mut().append(header::SET_COOKIE, cookie);
    // The page carries a token bound to the browser's cookie: no shared cache may keep it.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The page's query: an establishment search, or an establishment chosen from its results.
#[derive(Debug, Default, Deserialize)]
pub struct PageParams {
    q: Option<String>,
    etablissement: Option<String>,
}

/// The form, empty but for the establishment chosen, with the search's results if any.
pub async fn page(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    headers: HeaderMap,
    Query(params): Query<PageParams>,
) -> Response {
    let layout = viewer.layout(&state, SECTION);
    let (value, cookie) = match browser_value(&state, &headers) {
        Ok(v) => v,
        Err(e) => return WebError::from_app(e, layout).into_response(),
    };
    let csrf = match state.form_key.token(&value) {
        Ok(t) => t,
        Err(e) => return WebError::from_app(e, layout).into_response(),
    };
    let mut search = Search::default();
    let mut status = StatusCode::OK;
    let mut errors = FormErrors::default();
    if let Some(q) = params.q {
        search.searched = true;
        match state.app.search_structures(&q, SEARCH_LIMIT).await {
            // Only open establishments: a legal entity or a closed site is refused anyway.
            Ok(found) => {
                search.sites = found
                    .iter()
                    .filter(|s| s.record.kind == StructureKind::Eg && s.record.open)
                    .map(site_view)
                    .collect();
            }
            Err(AppError::Invalid(problems)) => {
                status = StatusCode::UNPROCESSABLE_ENTITY;
                let message = problems
                    .iter()
                    .map(|p| p.message.clone())
                    .collect::<Vec<_>>()
                    .join(" ");
                errors.errors.push(ErrorView {
                    field_id: "q".to_owned(),
                    message: message.clone(),
                });
                search.query_error = Some(message);
            }
            Err(e) => return WebError::from_app(e, layout).into_response(),
        }
        search.query = q;
    }
    let input = RegistrationInput {
        exercise: RawExercise {
            establishment_finess: params.etablissement.clone(),
            ..RawExercise::default()
        },
        ..RegistrationInput::default()
    };
    let site = known_site(&state, params.etablissement.as_deref()).await;
    let page = form_page(layout, csrf, &input, site.as_ref(), search, errors);
    with_cookie(render(status, &page), cookie)
}

fn text(value: &str) -> Option<String> {
    let t = value.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// The form as sent: pairs, since the prénoms repeat one name.
fn read_form(pairs: Vec<(String, String)>) -> (String, RegistrationInput) {
    let mut csrf = String::new();
    let mut input = RegistrationInput::default();
    for (name, value) in pairs {
        let v = text(&value);
        let i = &mut input.identity;
        let x = &mut input.exercise;
        match name.as_str() {
            "csrf" => csrf = value,
            "civility" => i.civility = v,
            "sex" => i.sex = v,
            "birth_name" => i.birth_name = v,
            "usage_name" => i.usage_name = v,
            // Blank inputs keep their place: error paths name positions in this list.
            "first_names" => i.first_names.push(value.trim().to_owned()),
            "birth_date" => i.birth_date = v,
            "birth_country" => i.birth_country = v,
            "birth_commune" => i.birth_commune = v,
            "id_type" => i.id_document.kind = v,
            "id_number" => i.id_document.number = v,
            "id_expiry" => i.id_document.expiry_date = v,
            "email" => input.email = v,
            "mobile" => input.mobile = v,
            "establishment_finess" => x.establishment_finess = v,
            "start_date" => x.start_date = v,
            "profession" => x.profession = v,
            "role" => x.role = v,
            "practice_mode" => x.practice_mode = v,
            "exercise_last_name" => x.exercise_last_name = v,
            "exercise_first_name" => x.exercise_first_name = v,
            _ => {}
        }
    }
    // Trailing blank prénoms are inputs left empty, not prénoms.
    while input
        .identity
        .first_names
        .last()
        .is_some_and(|s| s.is_empty())
    {
        input.identity.first_names.pop();
    }
    (csrf, input)
}

/// Submits the form: origin and token, then the rate limit, then the use case.
pub async fn submit(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    extensions: Extensions,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = check_origin(&state, &headers) {
        return r.into_response();
    }
    let layout = viewer.layout(&state, SECTION);
    let (csrf, input) = read_form(pairs);
    let sent_cookie = read_cookie(&state, &headers);
    let (value, cookie) = match browser_value(&state, &headers) {
        Ok(v) => v,
        Err(e) => return WebError::from_app(e, layout).into_response(),
    };
    let token = match state.form_key.token(&value) {
        Ok(t) => t,
        Err(e) => return WebError::from_app(e, layout).into_response(),
    };
    let site = known_site(&state, input.exercise.establishment_finess.as_deref()).await;
    if !state.form_key.verify(sent_cookie.as_deref(), &csrf) {
        // Nothing is checked nor stored: the form again, with a token that will hold.
        let mut page = form_page(
            layout,
            token,
            &input,
            site.as_ref(),
            Search::default(),
            FormErrors::default(),
        );
        page.notice = Some(
            "Votre demande n'a pas été envoyée : le formulaire a expiré ou ne provient pas de ce site. Vérifiez vos saisies puis envoyez-le à nouveau.",
        );
        return with_cookie(render(StatusCode::FORBIDDEN, &page), cookie);
    }
    let address = client_ip(&extensions, &headers, &state.settings.trusted_proxies);
    if let Err(retry_after) = state.self_registrations.take(address, state.app.now()) {
        return with_cookie(too_many(layout, retry_after), cookie);
    }
    let finess = input.exercise.establishment_finess.clone();
    let with_email = input.email.is_some();
    // A commune typed by its name, as people know it, is sent as its code; the form keeps what
    // was typed.
    let mut sent = input.clone();
    let mut commune_error = None;
    if let Some(typed) = &input.identity.birth_commune {
        match resolve_commune(typed) {
            Ok(code) => sent.identity.birth_commune = Some(code),
            Err(e) => commune_error = Some(e),
        }
    }
    match state.app.submit_self_registration(sent).await {
        Ok(_) => {
            // Accepted, so a valid FINESS: digits and `A`/`B` only, safe in a query.
            let finess = finess
                .as_deref()
                .and_then(|f| Finess::parse(f.trim()).ok())
                .map(|f| f.to_string())
                .unwrap_or_default();
            let mut to = format!("/inscription/envoyee?etablissement={finess}");
            if with_email {
                to.push_str("&courriel=oui");
            }
            with_cookie(Redirect::to(&to).into_response(), cookie)
        }
        Err(AppError::Invalid(mut problems)) => {
            // The name's problem replaces the code's (the name is not a code).
            if let Some(name_error) = commune_error
                && let Some(p) = problems.iter_mut().find(|p| p.field == name_error.field)
            {
                *p = name_error;
            }
            let errors = FormErrors::from_fields(&problems);
            let page = form_page(
                layout,
                token,
                &input,
                site.as_ref(),
                Search::default(),
                errors,
            );
            with_cookie(render(StatusCode::UNPROCESSABLE_ENTITY, &page), cookie)
        }
        Err(e) => WebError::from_app(e, layout).into_response(),
    }
}

#[derive(Template)]
#[template(path = "self_registration_problem.html")]
struct ProblemPage {
    layout: Layout,
    title: &'static str,
    message: String,
}

/// `429`, in French, with `Retry-After`.
fn too_many(layout: Layout, retry_after: u64) -> Response {
    let minutes = retry_after.div_ceil(60);
    let wait = if retry_after < 60 {
        format!(
            "{retry_after} seconde{}",
            if retry_after > 1 { "s" } else { "" }
        )
    } else {
        format!("{minutes} minute{}", if minutes > 1 { "s" } else { "" })
    };
    let mut response = render(
        StatusCode::TOO_MANY_REQUESTS,
        &ProblemPage {
            layout,
            title: "Trop de demandes envoyées",
            message: format!(
                "Trop de demandes d'enregistrement ont été envoyées depuis cette adresse : réessayez dans {wait}. Votre demande n'a pas été enregistrée."
            ),
        },
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    response
}

#[derive(Template)]
#[template(path = "self_registration_done.html")]
struct DonePage {
    layout: Layout,
    site: Option<SiteView>,
    with_email: bool,
}

/// Where the confirmation page comes from.
#[derive(Debug, Default, Deserialize)]
pub struct DoneParams {
    etablissement: Option<String>,
    courriel: Option<String>,
}

/// The confirmation: the request waits for a manager of the establishment. It names the
/// establishment only (it is reached by a redirect any visitor could follow).
pub async fn done(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Query(params): Query<DoneParams>,
) -> Response {
    let site = known_site(&state, params.etablissement.as_deref()).await;
    render(
        StatusCode::OK,
        &DonePage {
            layout: viewer.layout(&state, SECTION),
            site: site.as_ref().map(site_view),
            with_email: params.courriel.as_deref() == Some("oui"),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_to_the_cookie_and_to_the_key() -> Result<(), AppError> {
        let key = FormKey::default();
        let cookie = "ab".repeat(32);
        let token = key.token(&cookie)?;
        assert_eq!(token.len(), 64);
        assert!(key.verify(Some(&cookie), &token));
        assert!(!key.verify(Some(&"cd".repeat(32)), &token));
        assert!(!key.verify(None, &token));
        assert!(!key.verify(Some(&cookie), ""));
        assert!(!key.verify(Some(&cookie), &token[..63]));
        // Another process's key: the same cookie gets another token.
        let other = FormKey::default();
        assert!(!other.verify(Some(&cookie), &token));
        Ok(())
    }

    #[test]
    fn the_token_is_hmac_sha256() -> Result<(), AppError> {
        // RFC 4231, test case 2.
        let key = FormKey(OnceLock::new());
        let _ = key.0.set("Jefe".to_owned());
        assert_eq!(
            key.token("what do ya want for nothing?")?,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        Ok(())
    }

    #[test]
    fn blank_trailing_first_names_are_dropped_but_positions_kept() {
        let pairs = [
            ("first_names", "Léa"),
            ("first_names", ""),
            ("first_names", "Marie"),
            ("first_names", " "),
            ("csrf", "x"),
            ("birth_name", "  "),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let (csrf, input) = read_form(pairs);
        assert_eq!(csrf, "x");
        assert_eq!(input.identity.first_names, ["Léa", "", "Marie"]);
        assert_eq!(input.identity.birth_name, None);
    }
}
