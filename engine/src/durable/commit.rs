//! Making a transaction durable before it is applied and acknowledged (see the protocol in
//! the module above).

use crate::EngineError;
use crate::catalog::Catalog;
use crate::runtime::join_all;
use crate::shard::ShardRef;
use omendb_storage::row::{Ts, WriterId};

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

/// Make `writer`'s changes on the `touched` shards durable and then apply them at a commit
/// timestamp (or, if they cannot be made durable, roll them back and return the error). An
/// in-memory engine logs nothing and runs the same steps.
///
/// With one participant the whole commit runs on that shard in one visit: log the records
/// and the commit record as one unit, wait until durable, draw the commit timestamp and apply
/// — with no await between the draw and the apply, so no reader of that shard can see the
/// timestamp without the changes. A single-row autocommit INSERT whose row lives on another
/// shard thus costs one round trip to it for the commit, not one to log and another to apply.
///
/// With several, each participant logs its records and marks the transaction *prepared*
/// (readers of its tables there wait for it to end) while the coordinator logs the decision;
/// once all of it is durable the coordinator draws the timestamp and has every participant
/// apply. A snapshot at or after the timestamp therefore either finds the changes applied or
/// waits for them: a multi-shard commit is never half-visible.
pub async fn commit(
    shard: &ShardRef,
    writer: WriterId,
    touched: &[bool],
) -> Result<(), EngineError> {
    let catalog = shard.state().engine().catalog();
    let marks = sequence_marks(&catalog);
    let participants = participants(touched);
    match participants[..] {
        [] => {
            // Read-only: nothing to apply, but sequence marks may still need logging.
            if !marks.is_empty() {
                shard.state().log_decision(writer, &marks).await?;
            }
            confirm(&catalog, &marks);
            Ok(())
        }
        [only] => shard
            .run_on(only, move |s| async move {
                let logged = s.state().log_changes(writer, &marks).await;
                let ts = logged.is_ok().then(|| s.state().engine().draw_commit_ts());
                s.state().finish(writer, ts);
                logged.map(|_| marks)
            })
            .await
            .map_err(gone)
            .flatten()
            .map(|marks| confirm(&catalog, &marks)),
        _ => {
            let logged = log_two_phase(shard, writer, &participants, &marks).await;
            let ts = logged
                .is_ok()
                .then(|| shard.state().engine().draw_commit_ts());
            finish_on(shard, writer, &participants, ts).await?;
            logged.map(|()| confirm(&catalog, &marks))
        }
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
                s.state().log_changes(writer, &m).await
            })
            .await
            .map_err(gone)??;
    } else {
        log_two_phase(shard, writer, &participants, &marks).await?;
    }
    confirm(&catalog, &marks);
    Ok(())
}

pub(crate) fn participants(touched: &[bool]) -> Vec<usize> {
    touched
        .iter()
        .enumerate()
        .filter_map(|(s, t)| t.then_some(s))
        .collect()
}

/// Several participants: each logs its records and a `Prepared` marker while the coordinator
/// logs the decision naming them, all at once, so the commit waits for one round of
/// fdatasyncs (in parallel on the shards) instead of the prepares' and then the decision's —
/// which also shortens the time the hot rows stay locked. Recovery counts the decision only if
/// every participant's marker is durable too. Durable on return; on error nothing may be
/// applied: the caller rolls back.
async fn log_two_phase(
    shard: &ShardRef,
    writer: WriterId,
    participants: &[usize],
    marks: &[(String, i64)],
) -> Result<(), EngineError> {
    if participants.is_empty() && marks.is_empty() {
        return Ok(());
    }
    let prepares = participants
        .iter()
        .map(|&p| {
            shard.run_on(p, move |s| async move {
                let logged = s.state().log_prepared(writer).await;
                if logged.is_ok() {
                    s.state().prepare(writer);
                }
                logged
            })
        })
        .collect();
    // The decision goes into this shard's buffer before any participant waits: when this
    // shard is a participant (it runs in place, below), its records and the decision then
    // share one flush instead of the decision waiting for the records' flush to end.
    let listed: Vec<u32> = participants.iter().map(|&p| p as u32).collect();
    let decision = shard.state().append_decision(writer, &listed, marks);
    for r in join_all(prepares).await {
        r.map_err(gone)??;
    }
    shard.state().wait_logged(decision).await
}

/// Apply `writer`'s changes at `ts` (or roll them back: `None`) on every participant.
pub(crate) async fn finish_on(
    shard: &ShardRef,
    writer: WriterId,
    participants: &[usize],
    ts: Option<Ts>,
) -> Result<(), EngineError> {
    let jobs = participants
        .iter()
        .map(|&p| shard.run_on(p, move |s| async move { s.state().finish(writer, ts) }))
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
