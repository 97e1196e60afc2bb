//! DISTINCT aggregates as two plain aggregations: `count(DISTINCT x) … GROUP BY g` is
//! `count(x)` grouped by `g` over the distinct `(g, x)` pairs.
//!
//! The first aggregation removes the duplicates with the same hash grouping every other
//! aggregate uses (on the shards, in parallel), so the query never falls back to collecting a
//! set of values per group (TPC-H Q16). Applies when every call is DISTINCT over one shared
//! argument (`count`, `sum`, `avg`, `min`, `max`), with no FILTER or ORDER BY inside the call.
//! Must never change a result: NULL arguments still count as nothing, and an empty input
//! without GROUP BY still gives its one row.

use crate::expr::{AggCall, AggFunc, Expr};
use crate::plan::Plan;

/// An Aggregate node, split in two when its calls allow.
pub fn aggregate(input: Plan, groups: Vec<Expr>, aggs: Vec<AggCall>) -> Plan {
    let Some(arg) = shared_distinct_argument(&aggs) else {
        return Plan::Aggregate {
            input: Box::new(input),
            groups,
            aggs,
        };
    };
    let mut pairs = groups.clone();
    pairs.push(arg.clone());
    let distinct = Plan::Aggregate {
        input: Box::new(input),
        groups: pairs,
        aggs: Vec::new(),
    };
    let outer_groups = groups
        .iter()
        .enumerate()
        .map(|(index, g)| Expr::Column { index, ty: g.ty() })
        .collect();
    let value = Expr::Column {
        index: groups.len(),
        ty: arg.ty(),
    };
    let outer_aggs = aggs
        .into_iter()
        .map(|call| AggCall {
            arg: Some(value.clone()),
            distinct: false,
            ..call
        })
        .collect();
    Plan::Aggregate {
        input: Box::new(distinct),
        groups: outer_groups,
        aggs: outer_aggs,
    }
}

/// The one argument every call applies DISTINCT to, if the calls are all of that form.
fn shared_distinct_argument(aggs: &[AggCall]) -> Option<Expr> {
    let first = aggs.first()?.arg.clone()?;
    let key = format!("{first:?}");
    let mut volatile = false;
    first.walk(&mut |e| volatile |= e.is_opaque_node());
    let splittable = !volatile
        && aggs.iter().all(|a| {
            a.distinct
                && a.filter.is_none()
                && a.extra.is_none()
                && a.order_by.is_empty()
                && matches!(
                    a.func,
                    AggFunc::Count | AggFunc::Sum | AggFunc::Avg | AggFunc::Min | AggFunc::Max
                )
                && a.arg.as_ref().is_some_and(|x| format!("{x:?}") == key)
        });
    splittable.then_some(first)
}
