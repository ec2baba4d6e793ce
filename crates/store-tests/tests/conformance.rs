//! Runs every conformance scenario on SQLite and on PostgreSQL, each on a fresh database.
//!
//! Test names are `<backend>::<scenario>`: `cargo test -p rppsplus-store-tests -- sqlite::`
//! runs one backend. PostgreSQL needs `RPPSPLUS_TEST_DATABASE_URL` (see
//! `rppsplus_test_support::db`): without it those tests are skipped, except with `CI=true`.

use rppsplus_store::Backend;
use rppsplus_store_tests::api_keys;
use rppsplus_store_tests::directory;
use rppsplus_store_tests::drafts;
use rppsplus_store_tests::{
    Failure, Outcome, decisions, history, journal, outbox, persons, raw, registrations, schema,
    sequence, sessions, structures, tokens,
};
use rppsplus_test_support::db::TestDb;

/// Declares one test per scenario, in a module that provides `open()`, `open_unmigrated()`,
/// `BACKEND`, `MANY_VALUES` and `VALUES_PER_TX`.
macro_rules! conformance_tests {
    ($($name:ident => $scenario:path,)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() -> Outcome {
                let Some(db) = open().await? else { return Ok(()) };
                $scenario(db.store.clone()).await
            }
        )*

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn migrating_a_fresh_database() -> Outcome {
            let Some(db) = open_unmigrated().await? else { return Ok(()) };
            schema::migrating_a_fresh_database(db.store.clone(), BACKEND).await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn closed_at_is_backfilled_by_its_migration() -> Outcome {
            let Some(db) = open_unmigrated().await? else { return Ok(()) };
            decisions::closed_at_is_backfilled_by_its_migration(&db).await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn legal_representative_replacement() -> Outcome {
            let Some(db) = open().await? else { return Ok(()) };
            structures::legal_representative_replacement(&db).await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn audit_triggers_refuse_update_and_delete() -> Outcome {
            let Some(db) = open().await? else { return Ok(()) };
            raw::audit_triggers_refuse_update_and_delete(&db).await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn api_token_holder_columns_must_fit_the_kind() -> Outcome {
            let Some(db) = open().await? else { return Ok(()) };
            tokens::api_token_holder_columns_must_fit_the_kind(&db).await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn candidate_lookup_uses_the_birth_date_index() -> Outcome {
            let Some(db) = open().await? else { return Ok(()) };
            registrations::candidate_lookup_uses_the_birth_date_index(&db).await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn structures_without_name_key_are_filled() -> Outcome {
            let Some(db) = open().await? else { return Ok(()) };
            raw::structures_without_name_key_are_filled(&db).await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn folded_columns_match_fold_text() -> Outcome {
            let Some(db) = open().await? else { return Ok(()) };
            raw::folded_columns_match_fold_text(&db).await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn situations_carry_their_persons_idnps() -> Outcome {
            let Some(db) = open().await? else { return Ok(()) };
            raw::situations_carry_their_persons_idnps(&db).await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn tampered_audit_row_is_named() -> Outcome {
            let Some(db) = open().await? else { return Ok(()) };
            raw::tampered_audit_row_is_named(&db).await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn many_sequence_values_are_unique() -> Outcome {
            let Some(db) = open().await? else { return Ok(()) };
            sequence::many_values_are_unique(db.store.clone(), MANY_VALUES, VALUES_PER_TX).await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn concurrent_tasks_never_share_a_value() -> Outcome {
            let Some(db) = open().await? else { return Ok(()) };
            sequence::concurrent_tasks_never_share_a_value(db.store.clone(), 8, 250).await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn two_processes_never_share_a_value() -> Outcome {
            if sequence::run_as_child_if_spawned().await? {
                return Ok(());
            }
            let Some(db) = open().await? else { return Ok(()) };
            // libtest names tests by their path below the crate: `<backend>::<test>`.
            let module = module_path!().split_once("::").map_or(module_path!(), |(_, m)| m);
            let name = format!("{module}::two_processes_never_share_a_value");
            sequence::processes_never_share_a_value(&db, &name, 300).await
        }
    };
}

/// The scenarios that only need the store.
macro_rules! store_scenarios {
    () => {
        conformance_tests! {
            persons_round_trip => persons::persons_round_trip,
            person_uniqueness_rules => persons::person_uniqueness_rules,
            instants_keep_microseconds => persons::instants_keep_microseconds,
            situations_round_trip => persons::situations_round_trip,
            situations_of_a_page_of_persons => persons::situations_of_a_page_of_persons,
            closing_a_situation_checks_its_version => persons::closing_a_situation_checks_its_version,
            rollback_leaves_nothing => persons::rollback_leaves_nothing,
            persons_born_on_a_date => registrations::persons_born_on_a_date,
            persons_by_contact => registrations::persons_by_contact,
            updating_a_situation_checks_its_version => registrations::updating_a_situation_checks_its_version,
            updating_a_person_checks_their_version => registrations::updating_a_person_checks_their_version,
            pending_registrations_are_decided_once => registrations::pending_registrations_are_decided_once,
            structures_upsert_and_read => structures::structures_upsert_and_read,
            management_mode => structures::management_mode,
            structures_are_searched_by_finess_or_name => structures::structures_are_searched_by_finess_or_name,
            habilitations_grant_and_revoke => structures::habilitations_grant_and_revoke,
            elearnings_newest_first => structures::elearnings_newest_first,
            sessions_expire => sessions::sessions_expire,
            api_tokens => sessions::api_tokens,
            api_token_holders_round_trip => tokens::api_token_holders_round_trip,
            revoking_an_api_token => tokens::revoking_an_api_token,
            pending_sign_ins_are_single_use => sessions::pending_sign_ins_are_single_use,
            outbox_refuses_a_second_event_key => journal::outbox_refuses_a_second_event_key,
            change_feed_in_order => journal::change_feed_in_order,
            audit_chain_verifies => journal::audit_chain_verifies,
            concurrent_audit_appends_chain => journal::concurrent_audit_appends_chain,
            change_feed_follows_commit_order => journal::change_feed_follows_commit_order,
            raising_the_sequence => sequence::raising_the_sequence,
            outbox_claims_due_messages_with_a_lease => outbox::outbox_claims_due_messages_with_a_lease,
            outbox_failures_retry_later_or_park => outbox::outbox_failures_retry_later_or_park,
            concurrent_claims_never_share_a_message => outbox::concurrent_claims_never_share_a_message,
            decision_facts_of_a_professional => decisions::decision_facts_of_a_professional,
            drafts_round_trip => drafts::drafts_round_trip,
            old_drafts_are_purged => drafts::old_drafts_are_purged,
            draft_scans_are_replaced_then_attached => drafts::draft_scans_are_replaced_then_attached,
            scans_must_be_of_an_accepted_type => drafts::scans_must_be_of_an_accepted_type,
            decision_facts_see_a_closing_at_its_version => decisions::decision_facts_see_a_closing_at_its_version,
            decision_facts_follow_a_change_of_establishment => decisions::decision_facts_follow_a_change_of_establishment,
            a_closing_at_once_survives_a_later_edit => decisions::a_closing_at_once_survives_a_later_edit,
            directory_keys_round_trip => api_keys::directory_keys_round_trip,
            revoking_a_directory_key => api_keys::revoking_a_directory_key,
            audit_rows_by_target_newest_first => history::audit_rows_by_target_newest_first,
            directory_searches_practitioners => directory::directory_searches_practitioners,
            directory_searches_roles_and_organizations => directory::directory_searches_roles_and_organizations,
            practitioner_last_update_follows_their_situations => directory::practitioner_last_update_follows_their_situations,
            keyset_pages_stay_consistent_while_rows_change => directory::keyset_pages_stay_consistent_while_rows_change,
        }
    };
}

mod sqlite {
    use super::*;

    const BACKEND: Backend = Backend::Sqlite;
    const MANY_VALUES: u64 = 100_000;
    const VALUES_PER_TX: u64 = 10_000;

    async fn open() -> Result<Option<TestDb>, Failure> {
        Ok(Some(TestDb::sqlite().await?))
    }

    async fn open_unmigrated() -> Result<Option<TestDb>, Failure> {
        Ok(Some(TestDb::sqlite_unmigrated().await?))
    }

    store_scenarios!();
}

mod postgres {
    use super::*;

    const BACKEND: Backend = Backend::Postgres;
    // Each value is a round trip to the server: fewer than on SQLite keeps the suite quick.
    const MANY_VALUES: u64 = 20_000;
    const VALUES_PER_TX: u64 = 5_000;

    async fn open() -> Result<Option<TestDb>, Failure> {
        Ok(TestDb::postgres().await?)
    }

    async fn open_unmigrated() -> Result<Option<TestDb>, Failure> {
        Ok(TestDb::postgres_unmigrated().await?)
    }

    store_scenarios!();
}
