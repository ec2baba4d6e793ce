//! Raw SQL through each backend's `pool()`: what the seam cannot do on purpose (rewrite the
//! audit log), to prove that the database refuses it and that the hash chain reveals it.

use rppsplus_store::audit::ChainBreak;
use rppsplus_test_support::db::{BackendStore, TestDb};
use sqlx::Connection;

use crate::journal::{audit_entry, verify_audit};
use crate::{Failure, Outcome};

/// Runs a `SELECT count(*) …` valid on both backends.
pub async fn count(db: &TestDb, sql: &'static str) -> Result<i64, Failure> {
    Ok(match &db.backend_store {
        BackendStore::Sqlite(s) => sqlx::query_scalar(sql).fetch_one(s.pool()).await?,
        BackendStore::Postgres(s) => sqlx::query_scalar(sql).fetch_one(s.pool()).await?,
    })
}

/// Runs a statement, returning the number of rows it changed or the database's refusal.
async fn execute(db: &TestDb, sql: &'static str, seq: i64) -> Result<u64, String> {
    match &db.backend_store {
        BackendStore::Sqlite(s) => sqlx::query(sql)
            .bind(seq)
            .execute(s.pool())
            .await
            .map(|r| r.rows_affected()),
        BackendStore::Postgres(s) => sqlx::query(sql)
            .bind(seq)
            .execute(s.pool())
            .await
            .map(|r| r.rows_affected()),
    }
    .map_err(|e| e.to_string())
}

async fn append_rows(db: &TestDb, n: i64) -> Outcome {
    for i in 1..=n {
        let mut tx = db.store.begin().await?;
        tx.append_audit(&audit_entry(i)?).await?;
        tx.commit().await?;
    }
    Ok(())
}

/// The database itself refuses to UPDATE or DELETE audit rows (and, on PostgreSQL, to
/// TRUNCATE the table), whoever holds a connection; the rows and the chain stay intact.
pub async fn audit_triggers_refuse_update_and_delete(db: &TestDb) -> Outcome {
    append_rows(db, 3).await?;
    let before = db.store.audit_rows(0, 10).await?;
    for sql in [
        "UPDATE audit_log SET actor = 'tampered' WHERE seq = $1",
        "UPDATE audit_log SET hash = prev_hash WHERE seq >= $1",
        "DELETE FROM audit_log WHERE seq = $1",
        "DELETE FROM audit_log WHERE seq >= $1",
    ] {
        match execute(db, sql, 2).await {
            Err(refusal) => assert!(
                refusal.contains("append-only"),
                "{sql}: refused for another reason: {refusal}"
            ),
            Ok(n) => panic!("{sql}: accepted, {n} rows changed"),
        }
    }
    if let BackendStore::Postgres(s) = &db.backend_store {
        let refused = sqlx::query("TRUNCATE audit_log").execute(s.pool()).await;
        assert!(refused.is_err(), "TRUNCATE accepted");
    }
    assert_eq!(db.store.audit_rows(0, 10).await?, before);
    match verify_audit(db.store.as_ref(), 10).await? {
        Ok(rows) => assert_eq!(rows.len(), 3),
        Err(e) => return Err(format!("the chain broke: {e}").into()),
    }
    Ok(())
}

/// Rewrites the actor of audit row `seq` with the append-only triggers out of the way, as
/// someone with the table owner's rights could, then puts the triggers back.
pub async fn alter_audit_row_behind_the_triggers(db: &TestDb, seq: i64, actor: &str) -> Outcome {
    match &db.backend_store {
        BackendStore::Sqlite(s) => {
            let mut conn = s.pool().acquire().await?;
            let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
            // Re-created from its own definition, so the schema ends as it was.
            let definition: String = sqlx::query_scalar(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'audit_log_no_update'",
            )
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query("DROP TRIGGER audit_log_no_update")
                .execute(&mut *tx)
                .await?;
            let changed = sqlx::query("UPDATE audit_log SET actor = $2 WHERE seq = $1")
                .bind(seq)
                .bind(actor)
                .execute(&mut *tx)
                .await?;
            assert_eq!(changed.rows_affected(), 1);
            sqlx::query(sqlx::AssertSqlSafe(definition))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        BackendStore::Postgres(s) => {
            let mut tx = s.pool().begin().await?;
            sqlx::query("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update")
                .execute(&mut *tx)
                .await?;
            let changed = sqlx::query("UPDATE audit_log SET actor = $2 WHERE seq = $1")
                .bind(seq)
                .bind(actor)
                .execute(&mut *tx)
                .await?;
            assert_eq!(changed.rows_affected(), 1);
            sqlx::query("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update")
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
    }
    Ok(())
}

/// A row altered behind the triggers' back is named by the verifier, and the triggers are in
/// force again afterwards.
pub async fn tampered_audit_row_is_named(db: &TestDb) -> Outcome {
    append_rows(db, 5).await?;
    alter_audit_row_behind_the_triggers(db, 3, "person:810000000000").await?;
    let rows = db.store.audit_rows(0, 10).await?;
    assert_eq!(
        rows.get(2).map(|r| r.entry.actor.as_str()),
        Some("person:810000000000")
    );
    match verify_audit(db.store.as_ref(), 2).await? {
        Err(e) => assert_eq!(e, ChainBreak::Altered { seq: 3 }),
        Ok(_) => return Err("the verifier did not notice the altered row".into()),
    }
    assert!(
        execute(db, "UPDATE audit_log SET actor = 'again' WHERE seq = $1", 1)
            .await
            .is_err(),
        "the triggers are back"
    );
    Ok(())
}

/// The outbox, in order: event key, kind, payload, and `not_before - created_at` in
/// microseconds (to check delays without a clock).
pub async fn outbox_rows(
    db: &TestDb,
) -> Result<Vec<(String, String, serde_json::Value, i64)>, Failure> {
    let rows: Vec<(String, String, String, i64)> =
        match &db.backend_store {
            BackendStore::Sqlite(s) => sqlx::query_as(
                "SELECT event_key, kind, payload, not_before - created_at FROM outbox ORDER BY id",
            )
            .fetch_all(s.pool())
            .await?,
            BackendStore::Postgres(s) => {
                sqlx::query_as(
                    "SELECT event_key, kind, payload::text,
                        (extract(epoch FROM not_before - created_at) * 1000000)::bigint
                 FROM outbox ORDER BY id",
                )
                .fetch_all(s.pool())
                .await?
            }
        };
    rows.into_iter()
        .map(|(key, kind, payload, delay)| Ok((key, kind, serde_json::from_str(&payload)?, delay)))
        .collect()
}

/// Structures written before the name key existed (the column's default, `''`) get their key
/// at start, and are then found by name.
pub async fn structures_without_name_key_are_filled(db: &TestDb) -> Outcome {
    let ej = crate::fixtures::legal_entity(1)?;
    let mut tx = db.store.begin().await?;
    tx.upsert_structure(&ej).await?;
    tx.commit().await?;
    let sql = "UPDATE structures SET name_key = ''";
    match &db.backend_store {
        BackendStore::Sqlite(s) => sqlx::query(sql).execute(s.pool()).await.map(drop)?,
        BackendStore::Postgres(s) => sqlx::query(sql).execute(s.pool()).await.map(drop)?,
    }
    let words = vec![rppsplus_domain::matching_key(&ej.name)];
    let mut tx = db.store.begin().await?;
    assert!(tx.search_structures("", &words, 10).await?.is_empty());
    assert_eq!(tx.fill_missing_name_keys().await?, 1);
    assert_eq!(tx.search_structures("", &words, 10).await?.len(), 1);
    assert_eq!(tx.fill_missing_name_keys().await?, 0);
    tx.commit().await?;
    Ok(())
}

/// Runs `SELECT <column> FROM <table> WHERE id = $1`, a text column.
async fn text_of(db: &TestDb, sql: &'static str, id: i64) -> Result<String, Failure> {
    Ok(match &db.backend_store {
        BackendStore::Sqlite(s) => sqlx::query_scalar(sql).bind(id).fetch_one(s.pool()).await?,
        BackendStore::Postgres(s) => sqlx::query_scalar(sql).bind(id).fetch_one(s.pool()).await?,
    })
}

/// The folded columns the database computes for directory searches (migrations `…09_directory`
/// and `…13_fold_ascii_lower`) agree with the store's `fold_text` on every character it folds
/// and on the characters it leaves alone (letters beyond ASCII keep their case), on both
/// backends: a prefix typed by a client and folded by the store must land on the range of the
/// index the database built.
pub async fn folded_columns_match_fold_text(db: &TestDb) -> Outcome {
    use rppsplus_store::{FOLDED_CHARS, fold_text};
    let mut name: String = FOLDED_CHARS.iter().map(|(c, _)| *c).collect();
    name.push_str(" O'Brien’s Zoë-Anne ABCxyz 0123 ß Ł Ø");

    let mut tx = db.store.begin().await?;
    let person = tx.insert_person(&crate::fixtures::person(1)?).await?;
    let mut exercise = crate::fixtures::exercise(person, 1)?;
    exercise.exercise_last_name = name.clone();
    exercise.exercise_first_name = name.clone();
    let exercise = tx.insert_exercise(&exercise).await?;
    let mut structure = crate::fixtures::legal_entity(1)?;
    structure.city = Some(name.clone());
    structure.address = Some(name.clone());
    tx.upsert_structure(&structure).await?;
    let structure = tx
        .structure_by_finess(&structure.finess)
        .await?
        .ok_or("structure not stored")?;
    tx.commit().await?;

    let expected = fold_text(&name);
    assert!(expected.ends_with("ß Ł Ø"), "{expected}");
    for (sql, id) in [
        (
            "SELECT last_name_fold FROM exercises WHERE id = $1",
            exercise.0,
        ),
        (
            "SELECT first_name_fold FROM exercises WHERE id = $1",
            exercise.0,
        ),
        (
            "SELECT city_fold FROM structures WHERE id = $1",
            structure.id.0,
        ),
        (
            "SELECT address_fold FROM structures WHERE id = $1",
            structure.id.0,
        ),
    ] {
        assert_eq!(text_of(db, sql, id).await?, expected, "{sql}");
    }
    Ok(())
}

/// On PostgreSQL a situation carries its person's IDNPS for the decision read (migration
/// `…14_decision_by_idnps`): triggers give it the person's IDNPS whatever a statement writes,
/// and carry a changed IDNPS to every situation of the person, so that no write path can leave
/// a decision reading a stale one. SQLite reads through `persons` and has no such column.
pub async fn situations_carry_their_persons_idnps(db: &TestDb) -> Outcome {
    let BackendStore::Postgres(pg) = &db.backend_store else {
        return Ok(());
    };
    let ej = crate::fixtures::legal_entity(1)?;
    let eg = crate::fixtures::establishment(2, &ej.finess)?;
    let person = crate::fixtures::person(1)?;
    let moved = crate::fixtures::person(2)?;
    let mut tx = db.store.begin().await?;
    tx.upsert_structure(&ej).await?;
    let eg_id = tx.upsert_structure(&eg).await?.id();
    let person_id = tx.insert_person(&person).await?;
    let ex = tx
        .insert_exercise(&crate::fixtures::exercise(person_id, 1)?)
        .await?;
    let start = jiff::civil::date(2020, 1, 6);
    let first = tx
        .insert_situation(&crate::fixtures::situation(ex, person_id, eg_id, start, 1)?)
        .await?;
    let second = tx
        .insert_situation(&crate::fixtures::situation(ex, person_id, eg_id, start, 2)?)
        .await?;
    tx.commit().await?;
    let idnps_of = |id: i64| {
        sqlx::query_scalar::<_, String>("SELECT person_idnps FROM situations WHERE id = $1")
            .bind(id)
            .fetch_one(pg.pool())
    };
    assert_eq!(idnps_of(first.0).await?, person.idnps.as_str());

    // A statement that writes another IDNPS is overruled.
    sqlx::query("UPDATE situations SET person_idnps = '800000000000' WHERE id = $1")
        .bind(first.0)
        .execute(pg.pool())
        .await?;
    assert_eq!(idnps_of(first.0).await?, person.idnps.as_str());

    // A person's IDNPS that changes moves with every one of their situations, and the
    // decision read finds them under the new one only.
    sqlx::query("UPDATE persons SET idnps = $1 WHERE id = $2")
        .bind(moved.idnps.as_str())
        .bind(person_id.0)
        .execute(pg.pool())
        .await?;
    for id in [first.0, second.0] {
        assert_eq!(idnps_of(id).await?, moved.idnps.as_str());
    }
    let facts = db.store.decision_facts(&moved.idnps).await?;
    assert_eq!(facts.situations.len(), 2);
    let before = db.store.decision_facts(&person.idnps).await?;
    assert!(!before.known && before.situations.is_empty());
    Ok(())
}
