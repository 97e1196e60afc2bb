//! Binding expressions: names to column positions, literals to typed values, operators and
//! functions to typed calls with their operands coerced.

use super::scope::Scope;
use super::select::sort_key;
use super::{BindContext, ident_name, object_name};
use crate::error::PlanError;
use crate::expr::{AggCall, AggFunc, BinOp, Expr, Func, UnaryOp};
use crate::plan::{Plan, SortKey};
use crate::types::{common_type, parse_type_name};
use omendb_storage::types::datetime::TimeZone;
use omendb_storage::types::{DataType, Numeric, Value};
use sqlparser::ast;

/// Aggregation state of a query block with GROUP BY or aggregates.
pub(crate) struct AggState {
    /// The input scope (the FROM clause).
    pub input: Scope,
    /// Bound group expressions over `input`, with a printed key for structural matching.
    pub groups: Vec<(Expr, String)>,
    pub aggs: Vec<AggCall>,
}

/// Binds expressions of one query block.
pub(crate) struct ExprBinder<'s, 'c, 'a> {
    pub ctx: &'s mut BindContext<'c>,
    pub scope: &'s Scope,
    /// Set while binding the SELECT list, HAVING and ORDER BY of an aggregating block.
    pub agg: Option<&'s mut AggState>,
    /// What the clause is called, for "aggregate functions are not allowed in WHERE".
    pub clause: &'a str,
}

impl ExprBinder<'_, '_, '_> {
    pub fn bind(&mut self, e: &ast::Expr) -> Result<Expr, PlanError> {
        if self.agg.is_some()
            && let Some(group) = self.match_group(e)?
        {
            return Ok(group);
        }
        match e {
            ast::Expr::Identifier(id) => self.column(None, &ident_name(id)),
            ast::Expr::CompoundIdentifier(parts) => {
                let names: Vec<String> = parts.iter().map(ident_name).collect();
                match names.as_slice() {
                    [q, c] => self.column(Some(q), c),
                    [_, q, c] => self.column(Some(q), c),
                    _ => Err(PlanError::not_supported(format!("column reference {e}"))),
                }
            }
            ast::Expr::Value(v) => self.value(&v.value),
            ast::Expr::Nested(inner) => self.bind(inner),
            ast::Expr::UnaryOp { op, expr } => self.unary(*op, expr),
            ast::Expr::BinaryOp { left, op, right } => {
                let op = binary_op(op)?;
                let (l, r) = (self.bind(left)?, self.bind(right)?);
                binary(self.ctx, op, l, r)
            }
            ast::Expr::IsNull(x) => Ok(Expr::IsNull {
                expr: Box::new(self.bind(x)?),
                negated: false,
            }),
            ast::Expr::IsNotNull(x) => Ok(Expr::IsNull {
                expr: Box::new(self.bind(x)?),
                negated: true,
            }),
            ast::Expr::IsTrue(x) => self.is_bool(x, true, false),
            ast::Expr::IsNotTrue(x) => self.is_bool(x, true, true),
            ast::Expr::IsFalse(x) => self.is_bool(x, false, false),
            ast::Expr::IsNotFalse(x) => self.is_bool(x, false, true),
            ast::Expr::IsDistinctFrom(a, b) => self.is_distinct(a, b, false),
            ast::Expr::IsNotDistinctFrom(a, b) => self.is_distinct(a, b, true),
            ast::Expr::In {
                expr,
                target: ast::InTarget::List(list),
                negated,
                ..
            } => self.in_list(expr, list, *negated),
            ast::Expr::Between {
                expr,
                negated,
                low,
                high,
            } => self.between(expr, low, high, *negated),
            ast::Expr::Like {
                negated,
                expr,
                pattern,
                escape_char,
                any: false,
            } => self.like(expr, pattern, escape_char.as_deref(), *negated, false),
            ast::Expr::ILike {
                negated,
                expr,
                pattern,
                escape_char,
                any: false,
            } => self.like(expr, pattern, escape_char.as_deref(), *negated, true),
            ast::Expr::Case {
                operand,
                conditions,
                else_result,
                ..
            } => self.case(operand.as_deref(), conditions, else_result.as_deref()),
            ast::Expr::Cast {
                expr, data_type, ..
            } => {
                let ty = parse_type_name(&data_type.to_string())?;
                let inner = self.bind(expr)?;
                if data_type.to_string().eq_ignore_ascii_case("regtype") {
                    return Ok(Expr::Call {
                        func: Func::RegType,
                        args: vec![coerce(self.ctx, inner, DataType::Text)?],
                        ty: DataType::Int64,
                    });
                }
                explicit_cast(self.ctx, inner, ty.ty)
            }
            ast::Expr::TypedString(ts) => {
                let ty = parse_type_name(&ts.data_type.to_string())?.ty;
                let text = string_value(&ts.value.value)
                    .ok_or_else(|| PlanError::syntax(format!("invalid literal {}", ts.value)))?;
                Ok(Expr::Literal {
                    value: parse_literal(text, ty)?,
                    ty,
                })
            }
            ast::Expr::Interval(iv) => self.interval(iv),
            ast::Expr::Array(array) => self.array(array),
            ast::Expr::Extract { field, expr, .. } => {
                let source = self.bind(expr)?;
                extract(self.ctx, &field_name(field), source)
            }
            ast::Expr::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => {
                let mut args = vec![self.bind(expr)?];
                args.push(match substring_from {
                    Some(f) => self.bind(f)?,
                    None => Expr::literal(Value::Int32(1)),
                });
                if let Some(f) = substring_for {
                    args.push(self.bind(f)?);
                }
                call(self.ctx, "substring", args)
            }
            ast::Expr::Position { expr, r#in } => {
                let args = vec![self.bind(expr)?, self.bind(r#in)?];
                call(self.ctx, "position", args)
            }
            ast::Expr::Trim {
                trim_where,
                trim_what,
                expr,
                ..
            } => {
                let name = match trim_where {
                    Some(ast::TrimWhereField::Leading) => "ltrim",
                    Some(ast::TrimWhereField::Trailing) => "rtrim",
                    _ => "btrim",
                };
                let mut args = vec![self.bind(expr)?];
                if let Some(w) = trim_what {
                    args.push(self.bind(w)?);
                }
                call(self.ctx, name, args)
            }
            ast::Expr::Ceil {
                expr,
                field: ast::CeilFloorKind::DateTimeField(ast::DateTimeField::NoDateTime),
            } => {
                let arg = self.bind(expr)?;
                call(self.ctx, "ceil", vec![arg])
            }
            ast::Expr::Floor {
                expr,
                field: ast::CeilFloorKind::DateTimeField(ast::DateTimeField::NoDateTime),
            } => {
                let arg = self.bind(expr)?;
                call(self.ctx, "floor", vec![arg])
            }
            ast::Expr::Function(f) => self.function(f),
            ast::Expr::Tuple(_) => Err(PlanError::not_supported(
                "row value expressions are not supported yet",
            )),
            ast::Expr::Subquery(q) => {
                let (plan, columns) = self.subquery(q)?;
                if columns.len() != 1 {
                    return Err(PlanError::syntax("subquery must return only one column"));
                }
                Ok(Expr::ScalarSubquery {
                    plan: Box::new(plan),
                    ty: columns[0].ty,
                })
            }
            ast::Expr::Exists { subquery, negated } => {
                let (plan, _) = self.subquery(subquery)?;
                Ok(Expr::Exists {
                    plan: Box::new(plan),
                    negated: *negated,
                })
            }
            ast::Expr::In {
                expr,
                target: ast::InTarget::Subquery(q),
                negated,
                ..
            } => {
                let e = self.bind(expr)?;
                let (plan, columns) = self.subquery(q)?;
                if columns.len() != 1 {
                    return Err(PlanError::syntax("subquery has too many columns"));
                }
                let ty = common_type(e.ty(), columns[0].ty)
                    .ok_or_else(|| mismatch("IN", e.ty(), columns[0].ty))?;
                let ty = if ty == DataType::Unknown {
                    DataType::Text
                } else {
                    ty
                };
                let e = coerce(self.ctx, e, ty)?;
                let plan = if columns[0].ty == ty {
                    plan
                } else {
                    let inner = Expr::Column {
                        index: 0,
                        ty: columns[0].ty,
                    };
                    let cast = coerce(self.ctx, inner, ty)?;
                    Plan::Project {
                        input: Box::new(plan),
                        exprs: vec![cast],
                    }
                };
                Ok(Expr::InSubquery {
                    expr: Box::new(e),
                    plan: Box::new(plan),
                    negated: *negated,
                })
            }
            ast::Expr::AnyOp {
                left,
                compare_op,
                right,
                ..
            }
            | ast::Expr::AllOp {
                left,
                compare_op,
                right,
            } => {
                let all = matches!(e, ast::Expr::AllOp { .. });
                let ast::Expr::Subquery(q) = right.as_ref() else {
                    return Err(PlanError::not_supported(
                        "ANY/ALL over an array is not supported yet",
                    ));
                };
                let op = binary_op(compare_op)?;
                if !op.is_comparison() {
                    return Err(PlanError::syntax(
                        "op ANY/ALL (array) requires operator to yield boolean",
                    ));
                }
                let l = self.bind(left)?;
                let (plan, columns) = self.subquery(q)?;
                if columns.len() != 1 {
                    return Err(PlanError::syntax("subquery has too many columns"));
                }
                // Type the comparison once, with a stand-in for the subquery's values.
                let probe = binary(self.ctx, op, l, Expr::null(columns[0].ty))?;
                let Expr::Binary {
                    left: l, right: r, ..
                } = probe
                else {
                    return Err(PlanError::not_supported("ANY/ALL comparison"));
                };
                let plan = if r.ty() == columns[0].ty {
                    plan
                } else {
                    let cast = coerce(
                        self.ctx,
                        Expr::Column {
                            index: 0,
                            ty: columns[0].ty,
                        },
                        r.ty(),
                    )?;
                    Plan::Project {
                        input: Box::new(plan),
                        exprs: vec![cast],
                    }
                };
                Ok(Expr::Quantified {
                    expr: l,
                    op,
                    all,
                    plan: Box::new(plan),
                })
            }
            ast::Expr::In { .. } => Err(PlanError::not_supported(
                "IN with this right-hand side is not supported",
            )),
            other => Err(PlanError::not_supported(format!(
                "expression not supported: {other}"
            ))),
        }
    }

    /// An uncorrelated subquery inside an expression; a correlated one here is not supported.
    fn subquery(
        &mut self,
        q: &ast::Query,
    ) -> Result<(Plan, Vec<crate::plan::OutputColumn>), PlanError> {
        match super::select::bind_query(self.ctx, q) {
            Err(PlanError::UndefinedColumn(c)) => Err(PlanError::not_supported(format!(
                "column \"{c}\" is not known inside the subquery; correlated subqueries are supported only as WHERE conjuncts ([NOT] EXISTS, comparisons with an aggregate subquery)"
            ))),
            other => other,
        }
    }

    fn column(&mut self, qualifier: Option<&str>, name: &str) -> Result<Expr, PlanError> {
        if self.agg.is_some() {
            // A column outside any aggregate that did not match a GROUP BY expression.
            let scope = &self.agg.as_ref().map(|a| &a.input).unwrap_or(self.scope);
            let index = scope.resolve(qualifier, name)?;
            let c = &scope.columns[index];
            let full = match &c.qualifier {
                Some(q) => format!("{q}.{}", c.name),
                None => c.name.clone(),
            };
            return Err(PlanError::Grouping(format!(
                "column \"{full}\" must appear in the GROUP BY clause or be used in an aggregate function"
            )));
        }
        let index = self.scope.resolve(qualifier, name)?;
        Ok(Expr::Column {
            index,
            ty: self.scope.columns[index].ty,
        })
    }

    fn value(&mut self, v: &ast::Value) -> Result<Expr, PlanError> {
        match v {
            ast::Value::Number(text, _) => Ok(Expr::literal(number_literal(text)?)),
            ast::Value::Boolean(b) => Ok(Expr::literal(Value::Bool(*b))),
            ast::Value::Null => Ok(Expr::null(DataType::Unknown)),
            ast::Value::Placeholder(p) => self.ctx.param(p),
            other => match string_value(other) {
                Some(s) => Ok(Expr::Literal {
                    value: Value::Text(s.to_string()),
                    ty: DataType::Unknown,
                }),
                None => Err(PlanError::not_supported(format!("literal {other}"))),
            },
        }
    }

    fn unary(&mut self, op: ast::UnaryOperator, expr: &ast::Expr) -> Result<Expr, PlanError> {
        match op {
            ast::UnaryOperator::Not => {
                let e = self.bind(expr)?;
                let e = coerce_bool(self.ctx, e, "NOT")?;
                Ok(Expr::Unary {
                    op: UnaryOp::Not,
                    expr: Box::new(e),
                    ty: DataType::Bool,
                })
            }
            ast::UnaryOperator::Minus => {
                if let ast::Expr::Value(v) = expr
                    && let ast::Value::Number(text, _) = &v.value
                {
                    return Ok(Expr::literal(number_literal(&format!("-{text}"))?));
                }
                let e = self.bind(expr)?;
                let e = if e.ty() == DataType::Unknown {
                    coerce(self.ctx, e, DataType::NUMERIC)?
                } else {
                    e
                };
                if !e.ty().is_number() && e.ty() != DataType::Interval {
                    return Err(PlanError::UndefinedFunction(format!(
                        "operator does not exist: - {}",
                        e.ty()
                    )));
                }
                let ty = e.ty();
                Ok(Expr::Unary {
                    op: UnaryOp::Neg,
                    expr: Box::new(e),
                    ty,
                })
            }
            ast::UnaryOperator::Plus => self.bind(expr),
            other => Err(PlanError::not_supported(format!("operator {other}"))),
        }
    }

    fn is_bool(&mut self, x: &ast::Expr, value: bool, negated: bool) -> Result<Expr, PlanError> {
        let e = self.bind(x)?;
        let e = coerce_bool(self.ctx, e, "IS TRUE")?;
        Ok(Expr::IsBool {
            expr: Box::new(e),
            value,
            negated,
        })
    }

    fn is_distinct(
        &mut self,
        a: &ast::Expr,
        b: &ast::Expr,
        negated: bool,
    ) -> Result<Expr, PlanError> {
        let (l, r) = (self.bind(a)?, self.bind(b)?);
        let (l, r) = unify(self.ctx, l, r, "IS DISTINCT FROM")?;
        Ok(Expr::IsDistinct {
            left: Box::new(l),
            right: Box::new(r),
            negated,
        })
    }

    fn in_list(
        &mut self,
        expr: &ast::Expr,
        list: &[ast::Expr],
        negated: bool,
    ) -> Result<Expr, PlanError> {
        if let ast::Expr::Tuple(row) = expr {
            let rewritten = super::row_value::in_list_as_comparisons(row, list, negated)?;
            return self.bind(&rewritten);
        }
        let e = self.bind(expr)?;
        let items = list
            .iter()
            .map(|x| self.bind(x))
            .collect::<Result<Vec<_>, _>>()?;
        let mut ty = e.ty();
        for item in &items {
            ty = common_type(ty, item.ty()).ok_or_else(|| mismatch("IN", ty, item.ty()))?;
        }
        let ty = if ty == DataType::Unknown {
            DataType::Text
        } else {
            ty
        };
        let e = coerce(self.ctx, e, ty)?;
        let list = items
            .into_iter()
            .map(|i| coerce(self.ctx, i, ty))
            .collect::<Result<_, _>>()?;
        Ok(Expr::InList {
            expr: Box::new(e),
            list,
            negated,
        })
    }

    fn between(
        &mut self,
        expr: &ast::Expr,
        low: &ast::Expr,
        high: &ast::Expr,
        negated: bool,
    ) -> Result<Expr, PlanError> {
        let e = self.bind(expr)?;
        let (lo, hi) = (self.bind(low)?, self.bind(high)?);
        let ge = binary(self.ctx, BinOp::GtEq, e.clone(), lo)?;
        let le = binary(self.ctx, BinOp::LtEq, e, hi)?;
        let both = binary(self.ctx, BinOp::And, ge, le)?;
        Ok(if negated {
            Expr::Unary {
                op: UnaryOp::Not,
                expr: Box::new(both),
                ty: DataType::Bool,
            }
        } else {
            both
        })
    }

    fn like(
        &mut self,
        expr: &ast::Expr,
        pattern: &ast::Expr,
        escape: Option<&ast::Expr>,
        negated: bool,
        case_insensitive: bool,
    ) -> Result<Expr, PlanError> {
        if escape.is_some() {
            return Err(PlanError::not_supported(
                "LIKE ... ESCAPE is not supported yet",
            ));
        }
        let e = self.bind(expr)?;
        let p = self.bind(pattern)?;
        if !e.ty().is_string() && e.ty() != DataType::Unknown {
            return Err(PlanError::UndefinedFunction(format!(
                "operator does not exist: {} ~~ {}",
                e.ty(),
                p.ty()
            )));
        }
        let e = coerce(self.ctx, e, DataType::Text)?;
        let p = coerce(self.ctx, p, DataType::Text)?;
        Ok(Expr::Like {
            expr: Box::new(e),
            pattern: Box::new(p),
            negated,
            case_insensitive,
        })
    }

    fn case(
        &mut self,
        operand: Option<&ast::Expr>,
        conditions: &[ast::CaseWhen],
        else_result: Option<&ast::Expr>,
    ) -> Result<Expr, PlanError> {
        let operand = operand.map(|o| self.bind(o)).transpose()?;
        let mut whens = Vec::with_capacity(conditions.len());
        let mut results = Vec::with_capacity(conditions.len() + 1);
        for c in conditions {
            let w = self.bind(&c.condition)?;
            let w = match &operand {
                Some(o) => binary(self.ctx, BinOp::Eq, o.clone(), w)?,
                None => coerce_bool(self.ctx, w, "CASE/WHEN")?,
            };
            whens.push(w);
            results.push(self.bind(&c.result)?);
        }
        let otherwise = else_result.map(|e| self.bind(e)).transpose()?;
        let mut ty = DataType::Unknown;
        for r in results.iter().chain(otherwise.iter()) {
            ty = common_type(ty, r.ty()).ok_or_else(|| {
                PlanError::DatatypeMismatch(format!(
                    "CASE types {} and {} cannot be matched",
                    ty,
                    r.ty()
                ))
            })?;
        }
        let ty = if ty == DataType::Unknown {
            DataType::Text
        } else {
            ty
        };
        let mut branches = Vec::with_capacity(whens.len());
        for (w, r) in whens.into_iter().zip(results) {
            branches.push((w, coerce(self.ctx, r, ty)?));
        }
        let otherwise = otherwise
            .map(|o| coerce(self.ctx, o, ty))
            .transpose()?
            .map(Box::new);
        // The operand was folded into each WHEN as an equality.
        Ok(Expr::Case {
            operand: None,
            branches,
            otherwise,
            ty,
        })
    }

    fn interval(&mut self, iv: &ast::Interval) -> Result<Expr, PlanError> {
        let text = match iv.value.as_ref() {
            ast::Expr::Value(v) => string_value(&v.value).map(str::to_string),
            _ => None,
        };
        let Some(mut text) = text else {
            let e = self.bind(&iv.value)?;
            return explicit_cast(self.ctx, e, DataType::Interval);
        };
        if let Some(field) = &iv.leading_field
            && iv.last_field.is_none()
            && !text.trim().chars().any(|c| c.is_alphabetic() || c == ':')
        {
            text = format!("{text} {}", field_name(field));
        }
        let value = Value::from_text(&text, DataType::Interval, &TimeZone::utc())?;
        Ok(Expr::Literal {
            value,
            ty: DataType::Interval,
        })
    }

    /// `ARRAY[…]`: only arrays of strings (`text[]`) exist here.
    fn array(&mut self, array: &ast::Array) -> Result<Expr, PlanError> {
        let mut args = Vec::with_capacity(array.elem.len());
        for e in &array.elem {
            let e = self.bind(e)?;
            if !e.ty().is_string() {
                return Err(PlanError::not_supported(format!(
                    "arrays of {} are not supported yet (only text[])",
                    e.ty()
                )));
            }
            args.push(coerce_text(self.ctx, e)?);
        }
        Ok(Expr::Call {
            func: Func::MakeTextArray,
            args,
            ty: DataType::TextArray,
        })
    }

    fn function(&mut self, f: &ast::Function) -> Result<Expr, PlanError> {
        let name = object_name(&f.name);
        let name = name
            .strip_prefix("pg_catalog.")
            .unwrap_or(&name)
            .to_string();
        if f.over.is_some() {
            return Err(PlanError::not_supported(
                "window functions are not supported yet",
            ));
        }
        let (args, distinct, star, order_by) = match &f.args {
            ast::FunctionArguments::None => (Vec::new(), false, false, &[][..]),
            ast::FunctionArguments::Subquery(_) => {
                return Err(PlanError::not_supported("subqueries are not supported yet"));
            }
            ast::FunctionArguments::List(list) => {
                let distinct = matches!(
                    list.duplicate_treatment,
                    Some(ast::DuplicateTreatment::Distinct)
                );
                let mut args = Vec::new();
                let mut star = false;
                for a in &list.args {
                    match a {
                        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => args.push(e),
                        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Wildcard) => star = true,
                        other => {
                            return Err(PlanError::not_supported(format!(
                                "function argument {other}"
                            )));
                        }
                    }
                }
                (args, distinct, star, call_order_by(&list.clauses)?)
            }
        };
        if !f.within_group.is_empty() {
            return Err(within_group_error(&name));
        }
        if let Some(agg) = agg_func(&name, star) {
            let call = AggSyntax {
                name: &name,
                func: agg,
                args: &args,
                distinct,
                order_by,
                filter: f.filter.as_deref(),
            };
            return self.aggregate(&call);
        }
        if distinct || star {
            return Err(PlanError::UndefinedFunction(format!("{name}(*)")));
        }
        for (clause, present) in [
            ("ORDER BY", !order_by.is_empty()),
            ("FILTER", f.filter.is_some()),
        ] {
            if present {
                return Err(PlanError::WrongObjectType(format!(
                    "{clause} specified, but {name} is not an aggregate function"
                )));
            }
        }
        if name == "nextval" {
            return self.nextval(&args);
        }
        let bound = args
            .iter()
            .map(|a| self.bind(a))
            .collect::<Result<Vec<_>, _>>()?;
        call(self.ctx, &name, bound)
    }

    fn nextval(&mut self, args: &[&ast::Expr]) -> Result<Expr, PlanError> {
        let seq = match args {
            [ast::Expr::Value(v)] => string_value(&v.value).map(str::to_string),
            [ast::Expr::Cast { expr, .. }] => match expr.as_ref() {
                ast::Expr::Value(v) => string_value(&v.value).map(str::to_string),
                _ => None,
            },
            _ => None,
        };
        let seq =
            seq.ok_or_else(|| PlanError::not_supported("nextval() takes a sequence name literal"))?;
        let seq = seq.trim_matches('"').to_ascii_lowercase();
        if !self.ctx.catalog.sequence_exists(&seq) {
            return Err(PlanError::UndefinedTable(seq));
        }
        Ok(Expr::Call {
            func: Func::NextVal(seq),
            args: Vec::new(),
            ty: DataType::Int64,
        })
    }

    fn aggregate(&mut self, call: &AggSyntax<'_, '_>) -> Result<Expr, PlanError> {
        let AggSyntax {
            name,
            func,
            args,
            distinct,
            order_by,
            filter,
        } = *call;
        let Some(agg) = self.agg.as_deref_mut() else {
            return Err(PlanError::Grouping(format!(
                "aggregate functions are not allowed in {}",
                self.clause
            )));
        };
        let input = agg.input.clone();
        let mut inner = ExprBinder {
            ctx: &mut *self.ctx,
            scope: &input,
            agg: None,
            clause: "aggregate arguments",
        };
        let mut bound = args
            .iter()
            .map(|a| inner.bind(a))
            .collect::<Result<Vec<_>, _>>()?;
        let order_by = inner.aggregate_order(order_by, distinct.then_some(&bound))?;
        let (arg, extra) = match (func, bound.len()) {
            (AggFunc::CountStar, 0) => (None, None),
            (AggFunc::StringAgg, 2) => {
                let delim = coerce(
                    inner.ctx,
                    bound.pop().unwrap_or(Expr::null(DataType::Text)),
                    DataType::Text,
                )?;
                let value = coerce(
                    inner.ctx,
                    bound.pop().unwrap_or(Expr::null(DataType::Text)),
                    DataType::Text,
                )?;
                (Some(value), Some(delim))
            }
            (AggFunc::CountStar | AggFunc::StringAgg, _) => {
                return Err(PlanError::UndefinedFunction(format!(
                    "{name} with {} arguments",
                    bound.len()
                )));
            }
            (_, 1) => (bound.pop(), None),
            _ => {
                return Err(PlanError::UndefinedFunction(format!(
                    "{name} with {} arguments",
                    bound.len()
                )));
            }
        };
        let arg = match arg {
            Some(a) if a.ty() == DataType::Unknown => Some(coerce(inner.ctx, a, DataType::Text)?),
            other => other,
        };
        let filter = match filter {
            Some(f) => {
                let bound = inner.bind(f)?;
                Some(coerce_bool(inner.ctx, bound, "FILTER")?)
            }
            None => None,
        };
        let ty = agg_type(name, func, arg.as_ref().map(Expr::ty))?;
        let arg = match (func, arg) {
            (AggFunc::BoolAnd | AggFunc::BoolOr, Some(a)) => Some(coerce_bool(inner.ctx, a, name)?),
            (_, a) => a,
        };
        let agg = self
            .agg
            .as_deref_mut()
            .ok_or_else(|| PlanError::Grouping("aggregate outside aggregation".into()))?;
        agg.aggs.push(AggCall {
            func,
            arg,
            extra,
            distinct,
            filter,
            order_by,
            ty,
        });
        Ok(Expr::Column {
            index: agg.groups.len() + agg.aggs.len() - 1,
            ty,
        })
    }

    /// The ORDER BY of an aggregate call, bound over the aggregate's input. With DISTINCT
    /// (`distinct_args`: the arguments as bound, before coercion), every key must be one of
    /// the arguments, since the distinct inputs are what gets sorted (PostgreSQL's 42P10).
    fn aggregate_order(
        &mut self,
        order_by: &[ast::OrderByExpr],
        distinct_args: Option<&Vec<Expr>>,
    ) -> Result<Vec<SortKey>, PlanError> {
        let arg_keys: Vec<String> = distinct_args
            .into_iter()
            .flatten()
            .map(|a| format!("{a:?}"))
            .collect();
        let mut keys = Vec::with_capacity(order_by.len());
        for o in order_by {
            let expr = self.bind(&o.expr)?;
            if distinct_args.is_some() && !arg_keys.contains(&format!("{expr:?}")) {
                return Err(PlanError::InvalidColumnReference(
                    "in an aggregate with DISTINCT, ORDER BY expressions must appear in argument list"
                        .into(),
                ));
            }
            let expr = match expr.ty() {
                DataType::Unknown => coerce(self.ctx, expr, DataType::Text)?,
                _ => expr,
            };
            keys.push(sort_key(expr, &o.options));
        }
        Ok(keys)
    }

    /// In an aggregating block: an expression equal to a GROUP BY expression reads the group
    /// column. Expressions containing aggregates never match.
    fn match_group(&mut self, e: &ast::Expr) -> Result<Option<Expr>, PlanError> {
        let Some(agg) = self.agg.as_deref() else {
            return Ok(None);
        };
        if agg.groups.is_empty() || matches!(e, ast::Expr::Value(_)) || contains_aggregate(e) {
            return Ok(None);
        }
        let input = agg.input.clone();
        let mut plain = ExprBinder {
            ctx: &mut *self.ctx,
            scope: &input,
            agg: None,
            clause: "GROUP BY",
        };
        let Ok(bound) = plain.bind(e) else {
            return Ok(None);
        };
        let key = format!("{bound:?}");
        let agg = self
            .agg
            .as_deref()
            .ok_or_else(|| PlanError::Grouping("no aggregation".into()))?;
        Ok(agg
            .groups
            .iter()
            .position(|(_, k)| *k == key)
            .map(|i| Expr::Column {
                index: i,
                ty: bound.ty(),
            }))
    }
}

/// An aggregate call as written: the parts the binder checks and binds.
#[derive(Clone, Copy)]
struct AggSyntax<'n, 'a> {
    name: &'n str,
    func: AggFunc,
    args: &'n [&'a ast::Expr],
    distinct: bool,
    order_by: &'a [ast::OrderByExpr],
    filter: Option<&'a ast::Expr>,
}

/// The ORDER BY among a call's argument clauses; any other clause (LIMIT, IGNORE NULLS,
/// SEPARATOR… from other dialects) is refused rather than ignored.
fn call_order_by(
    clauses: &[ast::FunctionArgumentClause],
) -> Result<&[ast::OrderByExpr], PlanError> {
    let mut order_by: &[ast::OrderByExpr] = &[];
    for clause in clauses {
        match clause {
            ast::FunctionArgumentClause::OrderBy(keys) if order_by.is_empty() => order_by = keys,
            other => {
                return Err(PlanError::not_supported(format!(
                    "{other} in a function call is not supported"
                )));
            }
        }
    }
    Ok(order_by)
}

/// PostgreSQL's ordered-set and hypothetical-set aggregates, the only ones taking WITHIN GROUP.
const ORDERED_SET_AGGREGATES: [&str; 7] = [
    "percentile_cont",
    "percentile_disc",
    "mode",
    "rank",
    "dense_rank",
    "percent_rank",
    "cume_dist",
];

/// `f(…) WITHIN GROUP (ORDER BY …)`: the ordered-set aggregates are not implemented (0A000, not
/// a wrong answer); any other function has no such form (42883, as PostgreSQL).
fn within_group_error(name: &str) -> PlanError {
    if ORDERED_SET_AGGREGATES.contains(&name) {
        PlanError::not_supported(format!(
            "ordered-set aggregate {name} (WITHIN GROUP) is not supported yet"
        ))
    } else {
        PlanError::UndefinedFunction(format!("{name} with WITHIN GROUP"))
    }
}

/// Whether an AST expression calls an aggregate function (not counting subqueries, whose
/// aggregates are their own).
pub(crate) fn contains_aggregate(e: &ast::Expr) -> bool {
    use ast::Expr as E;
    match e {
        E::Function(f) => {
            let name = f.name.to_string().to_ascii_lowercase();
            let name = name.rsplit('.').next().unwrap_or(&name);
            if f.over.is_none() && agg_func(name, false).is_some() {
                return true;
            }
            match &f.args {
                ast::FunctionArguments::List(list) => list.args.iter().any(|a| match a {
                    ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(x))
                    | ast::FunctionArg::Named {
                        arg: ast::FunctionArgExpr::Expr(x),
                        ..
                    } => contains_aggregate(x),
                    _ => false,
                }),
                _ => false,
            }
        }
        E::Subquery(_) | E::Exists { .. } => false,
        E::In { expr, target, .. } => {
            contains_aggregate(expr)
                || matches!(target, ast::InTarget::List(list) if list.iter().any(contains_aggregate))
        }
        E::BinaryOp { left, right, .. }
        | E::IsDistinctFrom(left, right)
        | E::IsNotDistinctFrom(left, right) => {
            contains_aggregate(left) || contains_aggregate(right)
        }
        E::UnaryOp { expr, .. }
        | E::Nested(expr)
        | E::Cast { expr, .. }
        | E::IsNull(expr)
        | E::IsNotNull(expr)
        | E::IsTrue(expr)
        | E::IsNotTrue(expr)
        | E::IsFalse(expr)
        | E::IsNotFalse(expr)
        | E::Extract { expr, .. }
        | E::Ceil { expr, .. }
        | E::Floor { expr, .. } => contains_aggregate(expr),
        E::Between {
            expr, low, high, ..
        } => [expr, low, high].into_iter().any(|x| contains_aggregate(x)),
        E::Like { expr, pattern, .. } | E::ILike { expr, pattern, .. } => {
            contains_aggregate(expr) || contains_aggregate(pattern)
        }
        E::Case {
            operand,
            conditions,
            else_result,
            ..
        } => {
            operand.as_deref().is_some_and(contains_aggregate)
                || conditions
                    .iter()
                    .any(|c| contains_aggregate(&c.condition) || contains_aggregate(&c.result))
                || else_result.as_deref().is_some_and(contains_aggregate)
        }
        E::Substring {
            expr,
            substring_from,
            substring_for,
            ..
        } => {
            contains_aggregate(expr)
                || substring_from.as_deref().is_some_and(contains_aggregate)
                || substring_for.as_deref().is_some_and(contains_aggregate)
        }
        E::Trim {
            expr, trim_what, ..
        } => contains_aggregate(expr) || trim_what.as_deref().is_some_and(contains_aggregate),
        E::Position { expr, r#in } => contains_aggregate(expr) || contains_aggregate(r#in),
        _ => false,
    }
}

fn agg_func(name: &str, star: bool) -> Option<AggFunc> {
    Some(match name {
        "count" if star => AggFunc::CountStar,
        "count" => AggFunc::Count,
        "sum" => AggFunc::Sum,
        "avg" => AggFunc::Avg,
        "min" => AggFunc::Min,
        "max" => AggFunc::Max,
        "bool_and" | "every" => AggFunc::BoolAnd,
        "bool_or" => AggFunc::BoolOr,
        "string_agg" => AggFunc::StringAgg,
        _ => return None,
    })
}

fn agg_type(name: &str, func: AggFunc, arg: Option<DataType>) -> Result<DataType, PlanError> {
    use DataType::*;
    let bad = |t: DataType| PlanError::UndefinedFunction(format!("{name}({t})"));
    Ok(match (func, arg) {
        (AggFunc::CountStar | AggFunc::Count, _) => Int64,
        (AggFunc::Sum, Some(Int16 | Int32)) => Int64,
        (AggFunc::Sum, Some(Int64 | Numeric { .. })) => DataType::NUMERIC,
        (AggFunc::Sum, Some(t @ (Float32 | Float64 | Interval))) => t,
        (AggFunc::Avg, Some(Int16 | Int32 | Int64 | Numeric { .. })) => DataType::NUMERIC,
        (AggFunc::Avg, Some(Float32 | Float64)) => Float64,
        (AggFunc::Avg, Some(Interval)) => Interval,
        (AggFunc::Min | AggFunc::Max, Some(Bool)) => return Err(bad(Bool)),
        (AggFunc::Min | AggFunc::Max, Some(Numeric { .. })) => DataType::NUMERIC,
        (AggFunc::Min | AggFunc::Max, Some(Char(_))) => Char(None),
        (AggFunc::Min | AggFunc::Max, Some(Varchar(_))) => Varchar(None),
        (AggFunc::Min | AggFunc::Max, Some(t)) => t,
        (AggFunc::BoolAnd | AggFunc::BoolOr, _) => Bool,
        (AggFunc::StringAgg, _) => Text,
        (_, Some(t)) => return Err(bad(t)),
        (_, None) => return Err(PlanError::UndefinedFunction(format!("{name}()"))),
    })
}

fn binary_op(op: &ast::BinaryOperator) -> Result<BinOp, PlanError> {
    use ast::BinaryOperator as B;
    Ok(match op {
        B::Plus => BinOp::Add,
        B::Minus => BinOp::Sub,
        B::Multiply => BinOp::Mul,
        B::Divide => BinOp::Div,
        B::Modulo => BinOp::Mod,
        B::StringConcat => BinOp::Concat,
        B::Gt => BinOp::Gt,
        B::Lt => BinOp::Lt,
        B::GtEq => BinOp::GtEq,
        B::LtEq => BinOp::LtEq,
        B::Eq => BinOp::Eq,
        B::NotEq => BinOp::NotEq,
        B::And => BinOp::And,
        B::Or => BinOp::Or,
        other => {
            return Err(PlanError::not_supported(format!(
                "operator {other} is not supported yet"
            )));
        }
    })
}

fn mismatch(what: &str, a: DataType, b: DataType) -> PlanError {
    PlanError::DatatypeMismatch(format!("{what} types {a} and {b} cannot be matched"))
}

/// Coerce both sides to their common type.
fn unify(
    ctx: &mut BindContext<'_>,
    l: Expr,
    r: Expr,
    what: &str,
) -> Result<(Expr, Expr), PlanError> {
    let ty = common_type(l.ty(), r.ty()).ok_or_else(|| mismatch(what, l.ty(), r.ty()))?;
    let ty = if ty == DataType::Unknown {
        DataType::Text
    } else {
        ty
    };
    Ok((coerce(ctx, l, ty)?, coerce(ctx, r, ty)?))
}

/// Type a binary operator and coerce its operands.
pub(crate) fn binary(
    ctx: &mut BindContext<'_>,
    op: BinOp,
    l: Expr,
    r: Expr,
) -> Result<Expr, PlanError> {
    use DataType::*;
    let no_operator = |l: &Expr, r: &Expr| {
        PlanError::UndefinedFunction(format!(
            "operator does not exist: {} {} {}",
            l.ty(),
            op.symbol(),
            r.ty()
        ))
    };
    let make = |l: Expr, r: Expr, ty| {
        Ok(Expr::Binary {
            op,
            left: Box::new(l),
            right: Box::new(r),
            ty,
        })
    };
    match op {
        BinOp::And | BinOp::Or => {
            let l = coerce_bool(ctx, l, op.symbol())?;
            let r = coerce_bool(ctx, r, op.symbol())?;
            make(l, r, Bool)
        }
        _ if op.is_comparison() => {
            let ty = common_type(l.ty(), r.ty()).ok_or_else(|| no_operator(&l, &r))?;
            let ty = if ty == Unknown { Text } else { ty };
            let (l, r) = (coerce(ctx, l, ty)?, coerce(ctx, r, ty)?);
            make(l, r, Bool)
        }
        BinOp::Concat => {
            if !(l.ty().is_string() || r.ty().is_string()) {
                return Err(no_operator(&l, &r));
            }
            let (l, r) = (coerce_text(ctx, l)?, coerce_text(ctx, r)?);
            make(l, r, Text)
        }
        _ => arithmetic(ctx, op, l, r)
            .and_then(|opt| opt.ok_or_else(|| PlanError::UndefinedFunction(String::new())))
            .map_err(|e| match e {
                PlanError::UndefinedFunction(m) if m.is_empty() => {
                    no_operator_message(op, Unknown, Unknown)
                }
                other => other,
            }),
    }
}

fn no_operator_message(op: BinOp, a: DataType, b: DataType) -> PlanError {
    PlanError::UndefinedFunction(format!("operator does not exist: {a} {} {b}", op.symbol()))
}

/// + - * / % over numbers, dates, timestamps and intervals.
fn arithmetic(
    ctx: &mut BindContext<'_>,
    op: BinOp,
    l: Expr,
    r: Expr,
) -> Result<Option<Expr>, PlanError> {
    use DataType::*;
    let (lt, rt) = (l.ty(), r.ty());
    let make = |l: Expr, r: Expr, ty| {
        Ok(Some(Expr::Binary {
            op,
            left: Box::new(l),
            right: Box::new(r),
            ty,
        }))
    };
    let number_or_unknown = |t: DataType| t.is_number() || t == Unknown;
    // Unknown operands take the other side's type (or numeric when both are unknown).
    if number_or_unknown(lt) && number_or_unknown(rt) {
        if lt == Unknown && rt == Unknown {
            return Err(PlanError::UndefinedFunction(format!(
                "operator is not unique: unknown {} unknown",
                op.symbol()
            )));
        }
        let ty = common_type(lt, rt).ok_or_else(|| no_operator_message(op, lt, rt))?;
        let (l, r) = (coerce(ctx, l, ty)?, coerce(ctx, r, ty)?);
        return make(l, r, ty);
    }
    let result = match (op, lt, rt) {
        (BinOp::Add, Date, Int16 | Int32 | Int64) | (BinOp::Sub, Date, Int16 | Int32 | Int64) => {
            let r = coerce(ctx, r, Int32)?;
            return make(l, r, Date);
        }
        (BinOp::Add, Int16 | Int32 | Int64, Date) => {
            let l = coerce(ctx, l, Int32)?;
            return make(l, r, Date);
        }
        (BinOp::Sub, Date, Date | Unknown) => {
            let r = coerce(ctx, r, Date)?;
            return make(l, r, Int32);
        }
        (BinOp::Add | BinOp::Sub, Date, Interval | Unknown) => (
            coerce(ctx, l, Timestamp)?,
            coerce(ctx, r, Interval)?,
            Timestamp,
        ),
        (BinOp::Add, Interval, Date) => (
            coerce(ctx, l, Interval)?,
            coerce(ctx, r, Timestamp)?,
            Timestamp,
        ),
        (BinOp::Sub, Timestamp, Timestamp | Unknown)
        | (BinOp::Sub, TimestampTz, TimestampTz | Unknown) => {
            let r = coerce(ctx, r, lt)?;
            return make(l, r, Interval);
        }
        (BinOp::Sub, Timestamp | TimestampTz | Date, Timestamp | TimestampTz | Date) => {
            let ty = common_type(lt, rt).unwrap_or(TimestampTz);
            let (l, r) = (coerce(ctx, l, ty)?, coerce(ctx, r, ty)?);
            return make(l, r, Interval);
        }
        (BinOp::Add | BinOp::Sub, Timestamp | TimestampTz, Interval | Unknown) => {
            let r = coerce(ctx, r, Interval)?;
            return make(l, r, lt);
        }
        (BinOp::Add, Interval | Unknown, Timestamp | TimestampTz) => {
            let l = coerce(ctx, l, Interval)?;
            return make(l, r, rt);
        }
        (BinOp::Add | BinOp::Sub, Interval, Interval | Unknown)
        | (BinOp::Add | BinOp::Sub, Unknown, Interval) => {
            let (l, r) = (coerce(ctx, l, Interval)?, coerce(ctx, r, Interval)?);
            return make(l, r, Interval);
        }
        (BinOp::Mul | BinOp::Div, Interval, t) if t.is_number() || t == Unknown => {
            let r = coerce(ctx, r, Float64)?;
            return make(l, r, Interval);
        }
        (BinOp::Mul, t, Interval) if t.is_number() || t == Unknown => {
            let l = coerce(ctx, l, Float64)?;
            return make(l, r, Interval);
        }
        _ => return Err(no_operator_message(op, lt, rt)),
    };
    make(result.0, result.1, result.2)
}

/// Coerce to boolean (an unknown literal parses as bool) or fail with 42804 as PostgreSQL does.
pub(crate) fn coerce_bool(
    ctx: &mut BindContext<'_>,
    e: Expr,
    what: &str,
) -> Result<Expr, PlanError> {
    match e.ty() {
        DataType::Bool => Ok(e),
        DataType::Unknown => coerce(ctx, e, DataType::Bool),
        other => Err(PlanError::DatatypeMismatch(format!(
            "argument of {what} must be type boolean, not type {other}"
        ))),
    }
}

fn coerce_text(ctx: &mut BindContext<'_>, e: Expr) -> Result<Expr, PlanError> {
    if e.ty() == DataType::Text {
        Ok(e)
    } else {
        explicit_cast(ctx, e, DataType::Text)
    }
}

/// Implicit coercion to `ty`: unknown literals are parsed now, untyped parameters take the
/// type, everything else gets a cast node.
pub(crate) fn coerce(ctx: &mut BindContext<'_>, e: Expr, ty: DataType) -> Result<Expr, PlanError> {
    if e.ty() == ty {
        return Ok(e);
    }
    match e {
        Expr::Literal {
            value: Value::Null, ..
        } => Ok(Expr::null(ty)),
        Expr::Literal {
            value: Value::Text(s),
            ty: DataType::Unknown,
        } => Ok(Expr::Literal {
            value: parse_literal(&s, ty)?,
            ty,
        }),
        Expr::Param {
            index,
            ty: DataType::Unknown,
        } => {
            ctx.set_param_type(index, ty);
            Ok(Expr::Param { index, ty })
        }
        Expr::Literal { value, .. } if ty != DataType::Unknown => {
            let v = value.cast(ty, &TimeZone::utc())?;
            Ok(Expr::Literal { value: v, ty })
        }
        // Numerics of any precision, and text/varchar, share a representation: no cast.
        other if same_representation(other.ty(), ty) => Ok(other),
        other => Ok(Expr::Cast {
            expr: Box::new(other),
            ty,
        }),
    }
}

fn same_representation(a: DataType, b: DataType) -> bool {
    use DataType::*;
    matches!(
        (a, b),
        (Numeric { .. }, Numeric { .. }) | (Text | Varchar(_), Text | Varchar(None))
    )
}

/// `CAST(e AS ty)`.
pub(crate) fn explicit_cast(
    ctx: &mut BindContext<'_>,
    e: Expr,
    ty: DataType,
) -> Result<Expr, PlanError> {
    match &e {
        // Literals fold now, except where the result depends on the session time zone.
        Expr::Literal { ty: from, .. }
            if !(from.is_temporal() || ty.is_temporal()) || *from == DataType::Unknown =>
        {
            if let Expr::Literal {
                value: Value::Text(s),
                ty: DataType::Unknown,
            } = &e
            {
                if ty.is_temporal() && ty == DataType::TimestampTz {
                    return Ok(Expr::Cast {
                        expr: Box::new(Expr::Literal {
                            value: Value::Text(s.clone()),
                            ty: DataType::Text,
                        }),
                        ty,
                    });
                }
                let value = parse_literal(s, ty)?;
                return Ok(Expr::Literal {
                    value: value.cast(ty, &TimeZone::utc())?,
                    ty,
                });
            }
            if let Expr::Literal { value, .. } = e {
                return Ok(Expr::Literal {
                    value: value.cast(ty, &TimeZone::utc())?,
                    ty,
                });
            }
            Ok(Expr::Cast {
                expr: Box::new(e),
                ty,
            })
        }
        Expr::Param {
            ty: DataType::Unknown,
            ..
        } => coerce(ctx, e, ty),
        _ if e.ty() == ty => Ok(e),
        _ => Ok(Expr::Cast {
            expr: Box::new(e),
            ty,
        }),
    }
}

/// Parse a string literal as `ty` (bind-time constant folding; the session zone does not apply).
fn parse_literal(text: &str, ty: DataType) -> Result<Value, PlanError> {
    let value = Value::from_text(text, ty, &TimeZone::utc())?;
    Ok(value)
}

/// A number literal: integer if it fits in int4/int8, else numeric.
fn number_literal(text: &str) -> Result<Value, PlanError> {
    if let Ok(i) = text.parse::<i32>() {
        return Ok(Value::Int32(i));
    }
    if let Ok(i) = text.parse::<i64>() {
        return Ok(Value::Int64(i));
    }
    match Numeric::parse(text) {
        Ok(n) => Ok(Value::Numeric(n)),
        // Beyond numeric's 38 digits, a literal is kept as the nearest double rather than refused.
        Err(_) => text
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Value::Float64)
            .ok_or_else(|| {
                PlanError::Type(omendb_storage::types::TypeError::OutOfRange(format!(
                    "value overflows numeric format: {text}"
                )))
            }),
    }
}

/// The string inside any quoted-string literal form.
pub(crate) fn string_value(v: &ast::Value) -> Option<&str> {
    match v {
        ast::Value::SingleQuotedString(s)
        | ast::Value::EscapedStringLiteral(s)
        | ast::Value::UnicodeStringLiteral(s)
        | ast::Value::NationalStringLiteral(s)
        | ast::Value::TripleSingleQuotedString(s) => Some(s),
        ast::Value::DollarQuotedString(d) => Some(&d.value),
        _ => None,
    }
}

fn field_name(field: &ast::DateTimeField) -> String {
    match field {
        ast::DateTimeField::Custom(id) => ident_name(id),
        other => other.to_string().to_ascii_lowercase(),
    }
}

fn extract(ctx: &mut BindContext<'_>, field: &str, source: Expr) -> Result<Expr, PlanError> {
    let source = match source.ty() {
        DataType::Unknown => coerce(ctx, source, DataType::Timestamp)?,
        t if t.is_temporal() || t == DataType::Interval => source,
        t => {
            return Err(PlanError::UndefinedFunction(format!(
                "extract(unknown, {t})"
            )));
        }
    };
    let field = Expr::Literal {
        value: Value::Text(field.to_string()),
        ty: DataType::Text,
    };
    Ok(Expr::Call {
        func: Func::Extract,
        args: vec![field, source],
        ty: DataType::NUMERIC,
    })
}

/// Type a scalar function call by name.
pub(crate) fn call(
    ctx: &mut BindContext<'_>,
    name: &str,
    mut args: Vec<Expr>,
) -> Result<Expr, PlanError> {
    use DataType::*;
    let n = args.len();
    let sig = || {
        let types: Vec<String> = args.iter().map(|a| a.ty().to_string()).collect();
        PlanError::UndefinedFunction(format!("{name}({})", types.join(", ")))
    };
    let (func, ty) = match (name, n) {
        ("now" | "transaction_timestamp" | "current_timestamp", 0) => (Func::Now, TimestampTz),
        ("statement_timestamp" | "clock_timestamp", 0) => (Func::ClockTimestamp, TimestampTz),
        ("current_date", 0) => (Func::CurrentDate, Date),
        ("localtimestamp", 0) => {
            let now = Expr::Call {
                func: Func::Now,
                args: Vec::new(),
                ty: TimestampTz,
            };
            return Ok(Expr::Cast {
                expr: Box::new(now),
                ty: Timestamp,
            });
        }
        ("coalesce" | "greatest" | "least", 1..) => {
            let mut ty = Unknown;
            for a in &args {
                ty = common_type(ty, a.ty())
                    .ok_or_else(|| mismatch(&name.to_ascii_uppercase(), ty, a.ty()))?;
            }
            let ty = if ty == Unknown { Text } else { ty };
            args = args
                .into_iter()
                .map(|a| coerce(ctx, a, ty))
                .collect::<Result<_, _>>()?;
            let func = match name {
                "coalesce" => Func::Coalesce,
                "greatest" => Func::Greatest,
                _ => Func::Least,
            };
            (func, ty)
        }
        ("nullif", 2) => {
            let ty = common_type(args[0].ty(), args[1].ty()).ok_or_else(sig)?;
            let ty = if ty == Unknown { Text } else { ty };
            args = args
                .into_iter()
                .map(|a| coerce(ctx, a, ty))
                .collect::<Result<_, _>>()?;
            (Func::NullIf, ty)
        }
        ("date_trunc", 2) => {
            let unit = coerce(ctx, args.remove(0), Text)?;
            let source = args.remove(0);
            let source = match source.ty() {
                Timestamp | TimestampTz => source,
                Date | Unknown => coerce(ctx, source, TimestampTz)?,
                Interval => {
                    return Err(PlanError::not_supported(
                        "date_trunc on interval is not supported yet",
                    ));
                }
                _ => {
                    return Err(PlanError::UndefinedFunction(format!(
                        "date_trunc(unknown, {})",
                        source.ty()
                    )));
                }
            };
            let ty = source.ty();
            args = vec![unit, source];
            (Func::DateTrunc, ty)
        }
        ("date_part", 2) => {
            let field = coerce(ctx, args.remove(0), Text)?;
            let source = args.remove(0);
            let source = if source.ty() == Unknown {
                coerce(ctx, source, Timestamp)?
            } else {
                source
            };
            let e = Expr::Call {
                func: Func::Extract,
                args: vec![field, source],
                ty: DataType::NUMERIC,
            };
            return Ok(Expr::Cast {
                expr: Box::new(e),
                ty: Float64,
            });
        }
        ("lower" | "upper" | "length" | "char_length" | "character_length" | "octet_length", 1) => {
            let arg = args.remove(0);
            args = vec![coerce_text(ctx, arg)?];
            match name {
                "lower" => (Func::Lower, Text),
                "upper" => (Func::Upper, Text),
                _ => (Func::Length, Int32),
            }
        }
        ("substring" | "substr", 2 | 3) => {
            let s = coerce_text(ctx, args.remove(0))?;
            let rest = args
                .into_iter()
                .map(|a| coerce(ctx, a, Int32))
                .collect::<Result<Vec<_>, _>>()?;
            args = std::iter::once(s).chain(rest).collect();
            (Func::Substring, Text)
        }
        ("position" | "strpos", 2) => {
            let (a, b) = (
                coerce_text(ctx, args.remove(0))?,
                coerce_text(ctx, args.remove(0))?,
            );
            // position(sub IN s) and strpos(s, sub) take their arguments in opposite orders.
            args = if name == "position" {
                vec![a, b]
            } else {
                vec![b, a]
            };
            (Func::Position, Int32)
        }
        ("btrim" | "ltrim" | "rtrim" | "trim", 1 | 2) => {
            args = args
                .into_iter()
                .map(|a| coerce_text(ctx, a))
                .collect::<Result<_, _>>()?;
            let (leading, trailing) = match name {
                "ltrim" => (true, false),
                "rtrim" => (false, true),
                _ => (true, true),
            };
            (Func::Trim { leading, trailing }, Text)
        }
        ("replace", 3) => {
            args = args
                .into_iter()
                .map(|a| coerce_text(ctx, a))
                .collect::<Result<_, _>>()?;
            (Func::Replace, Text)
        }
        ("concat", _) => {
            args = args
                .into_iter()
                .map(|a| coerce_text(ctx, a))
                .collect::<Result<_, _>>()?;
            (Func::Concat, Text)
        }
        ("left" | "right", 2) => {
            let s = coerce_text(ctx, args.remove(0))?;
            let k = coerce(ctx, args.remove(0), Int32)?;
            args = vec![s, k];
            (
                if name == "left" {
                    Func::Left
                } else {
                    Func::Right
                },
                Text,
            )
        }
        ("abs", 1) => {
            let a = numeric_arg(ctx, args.remove(0))?;
            let ty = a.ty();
            args = vec![a];
            (Func::Abs, ty)
        }
        ("round" | "trunc", 1) => {
            let a = numeric_arg(ctx, args.remove(0))?;
            let a = if a.ty().is_integer() {
                coerce(ctx, a, DataType::NUMERIC)?
            } else {
                a
            };
            let ty = if a.ty().is_float() {
                Float64
            } else {
                DataType::NUMERIC
            };
            args = vec![coerce(ctx, a, ty)?];
            (
                if name == "round" {
                    Func::Round
                } else {
                    Func::Trunc
                },
                ty,
            )
        }
        ("round" | "trunc", 2) => {
            let a = coerce(ctx, args.remove(0), DataType::NUMERIC)?;
            let d = coerce(ctx, args.remove(0), Int32)?;
            args = vec![a, d];
            (
                if name == "round" {
                    Func::Round
                } else {
                    Func::Trunc
                },
                DataType::NUMERIC,
            )
        }
        ("floor" | "ceil" | "ceiling", 1) => {
            let a = numeric_arg(ctx, args.remove(0))?;
            let ty = if a.ty().is_float() {
                Float64
            } else {
                DataType::NUMERIC
            };
            args = vec![coerce(ctx, a, ty)?];
            (
                if name == "floor" {
                    Func::Floor
                } else {
                    Func::Ceil
                },
                ty,
            )
        }
        ("sqrt", 1) => {
            args = vec![coerce(ctx, args.remove(0), Float64)?];
            (Func::Sqrt, Float64)
        }
        ("power" | "pow", 2) => {
            args = args
                .into_iter()
                .map(|a| coerce(ctx, a, Float64))
                .collect::<Result<_, _>>()?;
            (Func::Power, Float64)
        }
        ("mod", 2) => {
            let (l, r) = (args.remove(0), args.remove(0));
            return binary(ctx, BinOp::Mod, l, r);
        }
        ("random", 0) => (Func::Random, Float64),
        ("version", 0) => (Func::Version, Text),
        ("current_schema", 0) => (Func::CurrentSchema, Text),
        ("current_database", 0) => (Func::CurrentDatabase, Text),
        ("current_user" | "session_user" | "user", 0) => (Func::CurrentUser, Text),
        ("pg_backend_pid", 0) => (Func::BackendPid, Int32),
        ("current_schemas", 1) => {
            args = vec![coerce(ctx, args.remove(0), Bool)?];
            (Func::CurrentSchemas, TextArray)
        }
        ("array_position", 2) => {
            if !matches!(args[0].ty(), Unknown | TextArray) || !args[1].ty().is_string() {
                return Err(sig());
            }
            let array = coerce(ctx, args.remove(0), TextArray)?;
            let value = coerce_text(ctx, args.remove(0))?;
            args = vec![array, value];
            (Func::ArrayPosition, Int32)
        }
        ("current_setting", 1) => {
            args = vec![coerce_text(ctx, args.remove(0))?];
            (Func::CurrentSetting, Text)
        }
        ("to_regtype", 1) => {
            args = vec![coerce_text(ctx, args.remove(0))?];
            (Func::RegType, Int64)
        }
        _ => return Err(sig()),
    };
    Ok(Expr::Call { func, args, ty })
}

fn numeric_arg(ctx: &mut BindContext<'_>, a: Expr) -> Result<Expr, PlanError> {
    match a.ty() {
        DataType::Unknown => coerce(ctx, a, DataType::Float64),
        t if t.is_number() => Ok(a),
        t => Err(PlanError::UndefinedFunction(format!(
            "function for type {t}"
        ))),
    }
}
