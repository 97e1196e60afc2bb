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

/// Log `writer`'s changes on the `touched` shards and its commit decision; returns when all of
/// it is durable. On error nothing may be applied: the caller rolls back.
pub async fn log_commit(
    shard: &ShardRef,
    writer: WriterId,
    touched: &[bool],
) -> Result<(), EngineError> {
    let catalog = shard.state().engine().catalog();
    let marks = sequence_marks(&catalog);
    let participants: Vec<usize> = touched
        .iter()
        .enumerate()
        .filter_map(|(s, t)| t.then_some(s))
        .collect();
    if let [only] = participants[..] {
        let m = marks.clone();
        shard
            .run_on(only, move |s| async move {
                s.state().log_changes(writer, true, &m).await
            })
            .await
            .map_err(gone)??;
    } else {
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
            shard.state().log_decision(writer, &marks).await?;
        }
    }
    for (name, mark) in &marks {
        if let Some(seq) = catalog.sequences.get(name) {
            seq.confirm(*mark);
        }
    }
    Ok(())
}
