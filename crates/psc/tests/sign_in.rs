//! The sign-in, end to end, against a real OpenID Connect provider on `127.0.0.1:0` that signs
//! real tokens: both discovery names, RS256 and ES256, JSON and signed userinfo, both client
//! authentication methods, and every way the provider's answer must be refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;

use rppsplus_psc::{PendingSignIn, PscClient, PscConfig, PscError, PscIdentity};
use rppsplus_test_support::oidc::{
    ClientAuth, DiscoveryName, Misbehaviour, SigningAlg, TestIssuer, TestIssuerOptions, TestSubject,
};

const REDIRECT_URI: &str = "http://127.0.0.1:9/connexion/psc/retour";

async fn start(options: TestIssuerOptions) -> (TestIssuer, PscClient) {
    let issuer = TestIssuer::start(options).await.expect("issuer starts");
    let client = PscClient::discover(config(&issuer))
        .await
        .expect("discovery succeeds");
    (issuer, client)
}

fn config(issuer: &TestIssuer) -> PscConfig {
    PscConfig::new(
        issuer.issuer_url.clone(),
        issuer.client_id(),
        issuer.client_secret(),
        REDIRECT_URI,
    )
}

/// Starts a sign-in, lets the provider approve it, and returns what the callback receives.
async fn approve(issuer: &TestIssuer, client: &PscClient) -> (PendingSignIn, String, String) {
    let (url, pending) = client.start_sign_in();
    let back = issuer.authorize(url.as_str()).await.expect("authorization");
    assert!(back.location.starts_with(REDIRECT_URI), "{}", back.location);
    let state = back.param("state").expect("state").to_owned();
    let code = back.param("code").expect("code").to_owned();
    (pending, state, code)
}

async fn sign_in(issuer: &TestIssuer, client: &PscClient) -> Result<PscIdentity, PscError> {
    let (pending, state, code) = approve(issuer, client).await;
    client.finish_sign_in(pending, &state, &code).await
}

async fn refused(options: TestIssuerOptions, misbehaviour: Misbehaviour) -> PscError {
    let (issuer, client) = start(options).await;
    issuer.misbehave_next(misbehaviour);
    let err = sign_in(&issuer, &client)
        .await
        .expect_err("the sign-in must be refused");
    // The provider misbehaved once: the next sign-in goes through.
    sign_in(&issuer, &client).await.expect("next sign-in");
    err
}

fn es256() -> TestIssuerOptions {
    TestIssuerOptions {
        signing: SigningAlg::Es256,
        ..TestIssuerOptions::default()
    }
}

#[tokio::test]
async fn signs_in_with_psc_discovery_rs256_and_json_userinfo() {
    let (issuer, client) = start(TestIssuerOptions::default()).await;
    assert!(
        client
            .discovery_url()
            .ends_with("/.well-known/wallet-openid-configuration")
    );
    assert_eq!(client.issuer(), issuer.issuer_url);
    issuer.set_next_subject("810100000001", "Jeanne", "Martin");

    let identity = sign_in(&issuer, &client).await.expect("sign-in");

    assert_eq!(identity.subject_name_id, "810100000001");
    assert_eq!(identity.given_name.as_deref(), Some("Jeanne"));
    assert_eq!(identity.family_name.as_deref(), Some("Martin"));
    assert_eq!(identity.preferred_username.as_deref(), Some("810100000001"));
    assert_eq!(identity.acr, "eidas1");
    assert_eq!(identity.idp.as_deref(), Some("PSC"));
    assert!(identity.subject.ends_with(":810100000001"));
    assert_eq!(identity.id_token_claims["acr"], "eidas1");
    assert_eq!(identity.id_token_claims["SubjectNameID"], "810100000001");
    assert_eq!(identity.userinfo_claims["codeGenreActivite"], "GENR01");
    assert_eq!(identity.id_token.split('.').count(), 3);

    let request = issuer.last_authorization_request().expect("authorize seen");
    assert_eq!(request["response_type"], "code");
    assert_eq!(request["acr_values"], "eidas1");
    assert_eq!(request["scope"], "openid scope_all");
    assert_eq!(request["code_challenge_method"], "S256");
    assert_eq!(request["redirect_uri"], REDIRECT_URI);
    assert!(request["state"].len() >= 20);
    assert!(request["nonce"].len() >= 20);
    assert_ne!(request["state"], request["nonce"]);
    assert_eq!(issuer.last_client_auth(), Some(ClientAuth::Basic));
}

#[tokio::test]
async fn signs_in_with_standard_discovery_es256_signed_userinfo_and_client_secret_post() {
    let (issuer, client) = start(TestIssuerOptions {
        discovery: DiscoveryName::Standard,
        signing: SigningAlg::Es256,
        client_auth: ClientAuth::Post,
        userinfo_as_jwt: true,
        ..TestIssuerOptions::default()
    })
    .await;
    assert!(
        client
            .discovery_url()
            .ends_with("/.well-known/openid-configuration")
    );
    let mut subject = TestSubject::new("0123456789", "Paul", "Durand");
    subject.extra_userinfo.insert(
        "SubjectOrganization".to_owned(),
        serde_json::json!("EHPAD LES TILLEULS"),
    );
    issuer.set_subject(subject);

    let identity = sign_in(&issuer, &client).await.expect("sign-in");

    assert_eq!(identity.subject_name_id, "0123456789");
    assert_eq!(identity.given_name.as_deref(), Some("Paul"));
    assert_eq!(identity.family_name.as_deref(), Some("Durand"));
    assert_eq!(
        identity.userinfo_claims["SubjectOrganization"],
        "EHPAD LES TILLEULS"
    );
    // The signed userinfo's own iss/aud were checked and are kept.
    assert_eq!(identity.userinfo_claims["iss"], issuer.issuer_url.as_str());
    assert_eq!(issuer.last_client_auth(), Some(ClientAuth::Post));
}

#[tokio::test]
async fn signs_in_with_rs256_signed_userinfo_and_es256_json_userinfo() {
    let (issuer, client) = start(TestIssuerOptions {
        userinfo_as_jwt: true,
        ..TestIssuerOptions::default()
    })
    .await;
    let identity = sign_in(&issuer, &client).await.expect("RS256 JWT userinfo");
    assert_eq!(identity.userinfo_claims["aud"], issuer.client_id());

    issuer.userinfo_as_jwt(false);
    let identity = sign_in(&issuer, &client).await.expect("JSON userinfo");
    assert!(identity.userinfo_claims.get("iss").is_none());

    let (issuer, client) = start(es256()).await;
    let identity = sign_in(&issuer, &client)
        .await
        .expect("ES256, JSON userinfo");
    assert_eq!(identity.acr, "eidas1");
}

#[tokio::test]
async fn refuses_a_wrong_state() {
    let (issuer, client) = start(TestIssuerOptions::default()).await;
    let (pending, _state, code) = approve(&issuer, &client).await;
    let (_, other) = client.start_sign_in();
    let err = client
        .finish_sign_in(pending, other.state(), &code)
        .await
        .expect_err("refused");
    assert!(matches!(err, PscError::StateMismatch), "{err:?}");
    assert_eq!(err.code(), "psc_state_mismatch");
}

#[tokio::test]
async fn refuses_a_wrong_nonce() {
    let err = refused(TestIssuerOptions::default(), Misbehaviour::WrongNonce).await;
    assert!(matches!(err, PscError::NonceMismatch(_)), "{err:?}");
    assert_eq!(err.code(), "psc_nonce_mismatch");
}

#[tokio::test]
async fn refuses_a_wrong_acr() {
    let err = refused(TestIssuerOptions::default(), Misbehaviour::WrongAcr).await;
    match &err {
        PscError::AcrMismatch { expected, found } => {
            assert_eq!(expected, "eidas1");
            assert_eq!(found.as_deref(), Some("eidas0"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.code(), "psc_acr_mismatch");
}

#[tokio::test]
async fn refuses_a_wrong_issuer() {
    let err = refused(TestIssuerOptions::default(), Misbehaviour::WrongIssuer).await;
    assert!(matches!(err, PscError::IssuerMismatch(_)), "{err:?}");
    assert_eq!(err.code(), "psc_issuer_mismatch");
}

#[tokio::test]
async fn refuses_a_wrong_audience() {
    let err = refused(TestIssuerOptions::default(), Misbehaviour::WrongAudience).await;
    assert!(matches!(err, PscError::AudienceMismatch(_)), "{err:?}");
    assert_eq!(err.code(), "psc_audience_mismatch");
}

#[tokio::test]
async fn refuses_an_id_token_signed_by_another_key() {
    for options in [TestIssuerOptions::default(), es256()] {
        let err = refused(options, Misbehaviour::ForeignKey).await;
        assert!(matches!(err, PscError::IdTokenBadSignature(_)), "{err:?}");
        assert_eq!(err.code(), "psc_id_token_bad_signature");
    }
}

#[tokio::test]
async fn follows_a_key_rotation_at_the_provider() {
    for options in [TestIssuerOptions::default(), es256()] {
        let (issuer, client) = start(TestIssuerOptions {
            userinfo_as_jwt: true,
            ..options
        })
        .await;
        sign_in(&issuer, &client)
            .await
            .expect("before the rotation");
        // The client still holds the old key: it fetches the JWKS again for the new `kid`.
        issuer.rotate_keys();
        sign_in(&issuer, &client).await.expect("after the rotation");
        // A token under the current kid but signed by the retired key is still refused.
        issuer.misbehave_next(Misbehaviour::ForeignKey);
        let err = sign_in(&issuer, &client).await.expect_err("retired key");
        assert_eq!(err.code(), "psc_id_token_bad_signature");
    }
}

#[tokio::test]
async fn refuses_an_expired_id_token() {
    let err = refused(TestIssuerOptions::default(), Misbehaviour::Expired).await;
    assert!(matches!(err, PscError::Expired(_)), "{err:?}");
    assert_eq!(err.code(), "psc_id_token_expired");
}

#[tokio::test]
async fn the_issuer_refuses_a_wrong_pkce_verifier() {
    let (issuer, client) = start(TestIssuerOptions::default()).await;
    let (pending, state, code) = approve(&issuer, &client).await;
    let mut stored = serde_json::to_value(&pending).unwrap();
    stored["pkce_verifier"] = serde_json::json!("x".repeat(43));
    let tampered: PendingSignIn = serde_json::from_value(stored).unwrap();

    let err = client
        .finish_sign_in(tampered, &state, &code)
        .await
        .expect_err("refused");
    match &err {
        PscError::TokenRejected { error, description } => {
            assert_eq!(error, "invalid_grant");
            assert_eq!(description.as_deref(), Some("PKCE verification failed"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.code(), "psc_token_rejected");
}

#[tokio::test]
async fn refuses_signed_userinfo_with_a_bad_signature() {
    for options in [TestIssuerOptions::default(), es256()] {
        let err = refused(options, Misbehaviour::UserinfoForeignKey).await;
        assert!(matches!(err, PscError::UserinfoBadSignature(_)), "{err:?}");
        assert_eq!(err.code(), "psc_userinfo_bad_signature");
    }
}

#[tokio::test]
async fn every_refusal_has_its_own_code() {
    let codes = [
        PscError::StateMismatch.code(),
        PscError::NonceMismatch(String::new()).code(),
        PscError::AcrMismatch {
            expected: String::new(),
            found: None,
        }
        .code(),
        PscError::IssuerMismatch(String::new()).code(),
        PscError::AudienceMismatch(String::new()).code(),
        PscError::IdTokenBadSignature(String::new()).code(),
        PscError::Expired(String::new()).code(),
        PscError::TokenRejected {
            error: String::new(),
            description: None,
        }
        .code(),
        PscError::UserinfoBadSignature(String::new()).code(),
        PscError::from_callback("access_denied", None).code(),
    ];
    assert_eq!(codes.iter().collect::<HashSet<_>>().len(), codes.len());
}

#[tokio::test]
async fn a_code_is_exchanged_only_once() {
    let (issuer, client) = start(TestIssuerOptions::default()).await;
    let (pending, state, code) = approve(&issuer, &client).await;
    client
        .finish_sign_in(pending.clone(), &state, &code)
        .await
        .expect("first use");
    let err = client
        .finish_sign_in(pending, &state, &code)
        .await
        .expect_err("second use");
    assert_eq!(err.code(), "psc_token_rejected");
}

#[tokio::test]
async fn a_refusal_at_the_provider_comes_back_as_an_error() {
    let (issuer, client) = start(TestIssuerOptions::default()).await;
    issuer.misbehave_next(Misbehaviour::Deny);
    let (url, pending) = client.start_sign_in();
    let back = issuer.authorize(url.as_str()).await.unwrap();
    assert_eq!(back.param("state"), Some(pending.state()));
    assert_eq!(back.param("code"), None);
    let err = PscError::from_callback(
        back.param("error").unwrap(),
        back.param("error_description"),
    );
    assert_eq!(err.code(), "psc_authorization_denied");
}

#[tokio::test]
async fn logout_url_uses_the_end_session_endpoint_when_there_is_one() {
    let (issuer, client) = start(TestIssuerOptions::default()).await;
    let identity = sign_in(&issuer, &client).await.unwrap();
    let url = client
        .logout_url(Some(&identity.id_token), Some("http://127.0.0.1:9/"))
        .expect("end_session_endpoint is advertised");
    assert!(url.as_str().starts_with(&format!(
        "{}/protocol/openid-connect/logout?",
        issuer.issuer_url
    )));
    let params: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(params["client_id"], issuer.client_id());
    assert_eq!(params["id_token_hint"], identity.id_token);
    assert_eq!(params["post_logout_redirect_uri"], "http://127.0.0.1:9/");

    let (_issuer, client) = start(TestIssuerOptions {
        end_session: false,
        ..TestIssuerOptions::default()
    })
    .await;
    assert!(client.logout_url(None, None).is_none());
}

#[tokio::test]
async fn discovery_refuses_a_bad_configuration() {
    let remote_http = PscConfig::new("http://psc.example.org/realm", "id", "s", REDIRECT_URI);
    let err = PscClient::discover(remote_http).await.unwrap_err();
    assert_eq!(err.code(), "psc_config_invalid");

    let issuer = TestIssuer::start(TestIssuerOptions::default())
        .await
        .unwrap();
    let mut elsewhere = config(&issuer);
    elsewhere.issuer_url = issuer.issuer_url.replace("esante-wallet", "nowhere");
    let err = PscClient::discover(elsewhere).await.unwrap_err();
    assert_eq!(err.code(), "psc_discovery_failed");

    // A trailing slash is another issuer: the document's `issuer` must match exactly.
    let mut slash = config(&issuer);
    slash.issuer_url.push('/');
    let err = PscClient::discover(slash).await.unwrap_err();
    assert_eq!(err.code(), "psc_discovery_failed");
}

#[tokio::test]
async fn secrets_and_personal_data_stay_out_of_debug_output() {
    let (issuer, client) = start(TestIssuerOptions::default()).await;
    let config = config(&issuer);
    assert!(!format!("{config:?}").contains(issuer.client_secret()));
    assert!(!format!("{client:?}").contains(issuer.client_secret()));

    let (_url, pending) = client.start_sign_in();
    let shown = format!("{pending:?}");
    assert!(!shown.contains(pending.state()));
    let stored = serde_json::to_string(&pending).unwrap();
    assert_eq!(
        serde_json::from_str::<PendingSignIn>(&stored).unwrap(),
        pending
    );

    issuer.set_next_subject("810100000002", "Camille", "Petit");
    let identity = sign_in(&issuer, &client).await.unwrap();
    let shown = format!("{identity:?}");
    for personal in ["810100000002", "Camille", "Petit"] {
        assert!(!shown.contains(personal), "{shown}");
    }
}

#[test]
fn finishing_a_sign_in_can_run_on_a_multithreaded_server() {
    fn assert_send<T: Send>(_: &T) {}
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (_issuer, client) = start(TestIssuerOptions::default()).await;
        let (_url, pending) = client.start_sign_in();
        let fut = client.finish_sign_in(pending, "state", "code");
        assert_send(&fut);
    });
}
