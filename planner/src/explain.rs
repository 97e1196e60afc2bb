//! EXPLAIN: plans and expressions as indented text, stable enough for golden tests.
//!
//! Columns print as `#n` (the input position) since operators see positions, not names.

use crate::expr::{AggCall, AggFunc, Expr, Func, UnaryOp};
use crate::plan::{Access, JoinKind, Plan, SetOpKind, SortKey, SystemTable};
use std::fmt::{self, Write};

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Column { index, .. } => write!(f, "#{index}"),
            Expr::Literal { value, ty } => {
                if value.is_null() {
                    return f.write_str("NULL");
                }
                let text = value.to_text(&omendb_storage::types::datetime::TimeZone::utc());
                if ty.is_number() || matches!(ty, omendb_storage::types::DataType::Bool) {
                    f.write_str(&text)
                } else {
                    write!(f, "'{}'::{}", text.replace('\'', "''"), ty)
                }
            }
            Expr::Param { index, .. } => write!(f, "${}", index + 1),
            Expr::Cast { expr, ty } => write!(f, "CAST({expr} AS {ty})"),
            Expr::Unary {
                op: UnaryOp::Neg,
                expr,
                ..
            } => write!(f, "(- {expr})"),
            Expr::Unary {
                op: UnaryOp::Not,
                expr,
                ..
            } => write!(f, "(NOT {expr})"),
            Expr::Binary {
                op, left, right, ..
            } => write!(f, "({left} {} {right})", op.symbol()),
            Expr::IsNull { expr, negated } => {
                write!(f, "({expr} IS {}NULL)", if *negated { "NOT " } else { "" })
            }
            Expr::IsBool {
                expr,
                value,
                negated,
            } => {
                write!(
                    f,
                    "({expr} IS {}{})",
                    if *negated { "NOT " } else { "" },
                    if *value { "TRUE" } else { "FALSE" }
                )
            }
            Expr::IsDistinct {
                left,
                right,
                negated,
            } => {
                write!(
                    f,
                    "({left} IS {}DISTINCT FROM {right})",
                    if *negated { "NOT " } else { "" }
                )
            }
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                write!(f, "({expr} {}IN (", if *negated { "NOT " } else { "" })?;
                write_list(f, list)?;
                f.write_str("))")
            }
            Expr::Like {
                expr,
                pattern,
                negated,
                case_insensitive,
            } => write!(
                f,
                "({expr} {}{} {pattern})",
                if *negated { "NOT " } else { "" },
                if *case_insensitive { "ILIKE" } else { "LIKE" }
            ),
            Expr::Case {
                branches,
                otherwise,
                ..
            } => {
                f.write_str("CASE")?;
                for (w, t) in branches {
                    write!(f, " WHEN {w} THEN {t}")?;
                }
                if let Some(o) = otherwise {
                    write!(f, " ELSE {o}")?;
                }
                f.write_str(" END")
            }
            Expr::Call { func, args, .. } => {
                write!(f, "{}(", func_name(func))?;
                write_list(f, args)?;
                f.write_str(")")
            }
            Expr::ScalarSubquery { .. } => f.write_str("(subquery)"),
            Expr::InSubquery { expr, negated, .. } => {
                write!(
                    f,
                    "({expr} {}IN (subquery))",
                    if *negated { "NOT " } else { "" }
                )
            }
            Expr::Exists { negated, .. } => write!(
                f,
                "({}EXISTS (subquery))",
                if *negated { "NOT " } else { "" }
            ),
            Expr::Quantified { expr, op, all, .. } => {
                write!(
                    f,
                    "({expr} {} {} (subquery))",
                    op.symbol(),
                    if *all { "ALL" } else { "ANY" }
                )
            }
        }
    }
}

fn write_list(f: &mut fmt::Formatter<'_>, items: &[Expr]) -> fmt::Result {
    for (i, e) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{e}")?;
    }
    Ok(())
}

fn func_name(func: &Func) -> String {
    match func {
        Func::NextVal(seq) => format!("nextval['{seq}']"),
        Func::Trim {
            leading: true,
            trailing: true,
        } => "btrim".into(),
        Func::Trim { leading: true, .. } => "ltrim".into(),
        Func::Trim { .. } => "rtrim".into(),
        other => format!("{other:?}").to_ascii_lowercase(),
    }
}

fn agg_text(a: &AggCall) -> String {
    let name = match a.func {
        AggFunc::CountStar => return "count(*)".into(),
        AggFunc::Count => "count",
        AggFunc::Sum => "sum",
        AggFunc::Avg => "avg",
        AggFunc::Min => "min",
        AggFunc::Max => "max",
        AggFunc::BoolAnd => "bool_and",
        AggFunc::BoolOr => "bool_or",
        AggFunc::StringAgg => "string_agg",
    };
    let arg = a.arg.as_ref().map(|e| e.to_string()).unwrap_or_default();
    let extra = a
        .extra
        .as_ref()
        .map(|e| format!(", {e}"))
        .unwrap_or_default();
    let order = if a.order_by.is_empty() {
        String::new()
    } else {
        format!(" ORDER BY {}", sort_keys_text(&a.order_by))
    };
    format!(
        "{name}({}{arg}{extra}{order})",
        if a.distinct { "DISTINCT " } else { "" }
    )
}

/// Sort keys as SQL: `DESC` and a NULLS clause only where they differ from the defaults.
fn sort_keys_text(keys: &[SortKey]) -> String {
    keys.iter()
        .map(|k| {
            format!(
                "{}{}{}",
                k.expr,
                if k.descending { " DESC" } else { "" },
                match (k.nulls_first == k.descending, k.nulls_first) {
                    (true, _) => "",
                    (false, true) => " NULLS FIRST",
                    (false, false) => " NULLS LAST",
                }
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn join_name(kind: JoinKind) -> &'static str {
    match kind {
        JoinKind::Inner => "Inner",
        JoinKind::Left => "Left",
        JoinKind::Right => "Right",
        JoinKind::Full => "Full",
        JoinKind::Cross => "Cross",
        JoinKind::Semi => "Semi",
        JoinKind::Anti => "Anti",
        JoinKind::AntiNullAware => "Anti (null-aware)",
        JoinKind::Mark => "Mark",
    }
}

fn list(items: &[Expr]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Plan {
    /// The plan as an indented tree, one operator per line.
    pub fn explain(&self) -> String {
        let mut out = String::new();
        self.explain_into(&mut out, 0);
        out
    }

    fn explain_into(&self, out: &mut String, depth: usize) {
        let pad = "  ".repeat(depth);
        let line = match self {
            Plan::Scan {
                table,
                filter,
                access,
            } => {
                let access = match access {
                    Access::Full => "full scan".to_string(),
                    Access::PrimaryKey(v) => format!("primary key = ({})", list(v)),
                    Access::ShardKey(v) => format!("shard key = {v}"),
                    Access::KeyRange(r) => key_range_text(table, r),
                };
                let filter = filter
                    .as_ref()
                    .map(|f| format!(" filter {f}"))
                    .unwrap_or_default();
                format!("Scan {} [{access}]{filter}", table.name)
            }
            Plan::System { table, .. } => format!("System {}", system_name(*table)),
            Plan::Values { rows, .. } => format!("Values ({} rows)", rows.len()),
            Plan::Series {
                start, stop, step, ..
            } => format!("Series generate_series({start}, {stop}, {step})"),
            Plan::Filter { predicate, .. } => format!("Filter {predicate}"),
            Plan::Project { exprs, .. } => format!("Project {}", list(exprs)),
            Plan::Aggregate { groups, aggs, .. } => format!(
                "Aggregate group by [{}] compute [{}]",
                list(groups),
                aggs.iter().map(agg_text).collect::<Vec<_>>().join(", ")
            ),
            Plan::Sort { keys, .. } => format!("Sort {}", sort_keys_text(keys)),
            Plan::Limit { limit, offset, .. } => format!(
                "Limit{}{}",
                limit.as_ref().map(|l| format!(" {l}")).unwrap_or_default(),
                offset
                    .as_ref()
                    .map(|o| format!(" offset {o}"))
                    .unwrap_or_default()
            ),
            Plan::Distinct { .. } => "Distinct".to_string(),
            Plan::Join { kind, on, .. } => format!(
                "{} Join{}",
                join_name(*kind),
                on.as_ref().map(|o| format!(" on {o}")).unwrap_or_default()
            ),
            Plan::SetOp { op, all, .. } => format!(
                "{}{}",
                match op {
                    SetOpKind::Union => "Union",
                    SetOpKind::Intersect => "Intersect",
                    SetOpKind::Except => "Except",
                },
                if *all { " All" } else { "" }
            ),
            Plan::Shared { id, .. } => {
                format!("Shared CTE #{id} (computed once, reused by every reference)")
            }
        };
        let _ = writeln!(out, "{pad}{line}");
        let mut subqueries = Vec::new();
        collect_own_subqueries(self, &mut subqueries);
        for input in self.inputs() {
            input.explain_into(out, depth + 1);
        }
        for sq in subqueries {
            let _ = writeln!(out, "{pad}  SubPlan");
            sq.explain_into(out, depth + 2);
        }
    }
}

/// Subquery plans in this operator's own expressions (not its inputs').
fn collect_own_subqueries(plan: &Plan, out: &mut Vec<Plan>) {
    let mut own: Vec<&Expr> = Vec::new();
    match plan {
        Plan::Filter { predicate, .. } => own.push(predicate),
        Plan::Project { exprs, .. } => own.extend(exprs),
        Plan::Aggregate { groups, aggs, .. } => {
            own.extend(groups);
            own.extend(aggs.iter().filter_map(|a| a.arg.as_ref()));
            own.extend(aggs.iter().flat_map(|a| a.order_by.iter().map(|k| &k.expr)));
        }
        Plan::Sort { keys, .. } => own.extend(keys.iter().map(|k| &k.expr)),
        Plan::Series {
            start, stop, step, ..
        } => own.extend([start, stop, step]),
        Plan::Join { on: Some(on), .. } => own.push(on),
        Plan::Scan {
            filter: Some(f), ..
        } => own.push(f),
        _ => {}
    }
    for e in own {
        e.walk(&mut |x| {
            if let Expr::ScalarSubquery { plan, .. }
            | Expr::InSubquery { plan, .. }
            | Expr::Exists { plan, .. }
            | Expr::Quantified { plan, .. } = x
            {
                out.push(plan.as_ref().clone());
            }
        });
    }
}

fn system_name(t: SystemTable) -> &'static str {
    match t {
        SystemTable::PgType => "pg_type",
        SystemTable::PgNamespace => "pg_namespace",
        SystemTable::PgClass => "pg_class",
        SystemTable::PgAttribute => "pg_attribute",
        SystemTable::PgDatabase => "pg_database",
        SystemTable::PgSettings => "pg_settings",
        SystemTable::PgInherits => "pg_inherits",
        SystemTable::PgPartitionedTable => "pg_partitioned_table",
        SystemTable::InformationSchemaTables => "information_schema.tables",
        SystemTable::InformationSchemaColumns => "information_schema.columns",
    }
}

/// `primary key range (a, b) = (1, 2), c >= 3, c < 9, order asc, limit 1`.
fn key_range_text(
    table: &omendb_storage::schema::TableSchema,
    r: &crate::plan::KeyRange,
) -> String {
    let name = |c: usize| table.columns[c].name.clone();
    let bound: Vec<String> = r.columns[..r.eq.len()].iter().map(|&c| name(c)).collect();
    let index = match &r.index {
        Some(name) => format!("index {name}"),
        None => "primary key".to_string(),
    };
    let mut out = format!("{index} range ({}) = ({})", bound.join(", "), list(&r.eq));
    if let Some(&next) = r.columns.get(r.eq.len()) {
        let mut side = |b: &Option<crate::plan::RangeBound>, strict: &str, loose: &str| {
            if let Some(b) = b {
                let op = if b.inclusive { loose } else { strict };
                out.push_str(&format!(", {} {op} {}", name(next), b.value));
            }
        };
        side(&r.lower, ">", ">=");
        side(&r.upper, "<", "<=");
    }
    match r.descending {
        Some(true) => out.push_str(", order desc"),
        Some(false) => out.push_str(", order asc"),
        None => {}
    }
    if let Some(l) = &r.limit {
        out.push_str(&format!(", limit {l}"));
    }
    out
}
