//! Making a transaction durable before it is applied and acknowledged (see the protocol in
//! the module above).

use crate::EngineError;
use crate::catalog::Catalog;
use crate::runtime::join_all;
use crate::shard::ShardRef;
use omendb_storage::row::WriterId;

fn gone(e: impl std::fmt::Display) -> EngineError {
    EngineError::Internal(e.to_string())
}

/// Sequences that handed out values past their durable mark: (name, mark to log).
fn sequence_marks(catalog: &Catalog) -> Vec<(String, i64)> {
    catalog
        .sequences
        .iter()
        .filter_map(|(name, s)| s.mark_to_log().map(|m| (name.clone(), m)))
        .collect()
}

/// Make `writer`'s changes on the `touched` shards durable and then apply them (or, if they
/// cannot be made durable, roll them back and return the error).
///
/// With one participant the whole commit runs on that shard in one visit: log the records
/// and the commit record as one unit, wait until durable, apply. A single-row autocommit
/// INSERT whose row lives on another shard thus costs one round trip to it for the commit,
/// not one to log and another to apply.
pub async fn commit(
    shard: &ShardRef,
    writer: WriterId,
    touched: &[bool],
) -> Result<(), EngineError> {
    let catalog = shard.state().engine().catalog();
    let marks = sequence_marks(&catalog);
    let participants = participants(touched);
    if let [only] = participants[..] {
        shard
            .run_on(only, move |s| async move {
                let logged = s.state().log_changes(writer, true, &marks).await;
                s.state().finish(writer, logged.is_ok());
                logged.map(|_| marks)
            })
            .await
            .map_err(gone)
            .flatten()
            .map(|marks| confirm(&catalog, &marks))
    } else {
        let logged = log_two_phase(shard, writer, &participants, &marks).await;
        finish_on(shard, writer, &participants, logged.is_ok()).await?;
        logged.map(|()| confirm(&catalog, &marks))
    }
}

/// Log `writer`'s changes on the `touched` shards and its commit decision; returns when all of
/// it is durable. On error nothing may be applied: the caller rolls back.
pub async fn log_commit(
    shard: &ShardRef,
    writer: WriterId,
    touched: &[bool],
) -> Result<(), EngineError> {
    let catalog = shard.state().engine().catalog();
    let marks = sequence_marks(&catalog);
    let participants = participants(touched);
    if let [only] = participants[..] {
        let m = marks.clone();
        shard
            .run_on(only, move |s| async move {
                s.state().log_changes(writer, true, &m).await
            })
            .await
            .map_err(gone)??;
    } else {
        log_two_phase(shard, writer, &participants, &marks).await?;
    }
    confirm(&catalog, &marks);
    Ok(())
}

fn participants(touched: &[bool]) -> Vec<usize> {
    touched
        .iter()
        .enumerate()
        .filter_map(|(s, t)| t.then_some(s))
        .collect()
}

/// Several participants: each logs its records and waits (prepared), then the coordinator
/// logs the decision. Durable on return.
async fn log_two_phase(
    shard: &ShardRef,
    writer: WriterId,
    participants: &[usize],
    marks: &[(String, i64)],
) -> Result<(), EngineError> {
    let prepares = participants
        .iter()
        .map(|&p| {
            shard.run_on(p, move |s| async move {
                s.state().log_changes(writer, false, &[]).await
            })
        })
        .collect();
    let mut logged = false;
    for r in join_all(prepares).await {
        logged |= r.map_err(gone)??;
    }
    if logged || !marks.is_empty() {
        shard.state().log_decision(writer, marks).await?;
    }
    Ok(())
}

/// Apply (or roll back) `writer`'s changes on every participant.
async fn finish_on(
    shard: &ShardRef,
    writer: WriterId,
    participants: &[usize],
    commit: bool,
) -> Result<(), EngineError> {
    let jobs = participants
        .iter()
        .map(|&p| shard.run_on(p, move |s| async move { s.state().finish(writer, commit) }))
        .collect();
    for r in join_all(jobs).await {
        r.map_err(gone)?;
    }
    Ok(())
}

/// The logged sequence marks are durable: the sequences may hand out values up to them.
fn confirm(catalog: &Catalog, marks: &[(String, i64)]) {
    for (name, mark) in marks {
        if let Some(seq) = catalog.sequences.get(name) {
            seq.confirm(*mark);
        }
    }
}
