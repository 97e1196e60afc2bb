//! Bound, typed expressions: what the binder produces and the executor evaluates.

use crate::plan::{Plan, SortKey};
use omendb_storage::types::{DataType, Value};

/// A scalar expression over the columns of its input row.
#[derive(Debug, Clone)]
pub enum Expr {
    /// The input row's column `index`.
    Column {
        index: usize,
        ty: DataType,
    },
    Literal {
        value: Value,
        ty: DataType,
    },
    /// `$n` (0-based `index`), its type inferred at bind time.
    Param {
        index: usize,
        ty: DataType,
    },
    /// An explicit or implicit cast.
    Cast {
        expr: Box<Expr>,
        ty: DataType,
    },
    Unary {
        op: UnaryOp,
        expr: Box<Expr>,
        ty: DataType,
    },
    /// Operands are already coerced to the types the operator takes.
    Binary {
        op: BinOp,
        left: Box<Expr>,
        right: Box<Expr>,
        ty: DataType,
    },
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    /// `x IS [NOT] TRUE/FALSE`.
    IsBool {
        expr: Box<Expr>,
        value: bool,
        negated: bool,
    },
    /// `a IS [NOT] DISTINCT FROM b`.
    IsDistinct {
        left: Box<Expr>,
        right: Box<Expr>,
        negated: bool,
    },
    InList {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    Like {
        expr: Box<Expr>,
        pattern: Box<Expr>,
        negated: bool,
        case_insensitive: bool,
    },
    Case {
        operand: Option<Box<Expr>>,
        branches: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
        ty: DataType,
    },
    /// A scalar function call.
    Call {
        func: Func,
        args: Vec<Expr>,
        ty: DataType,
    },
    /// An uncorrelated scalar subquery: run once per statement, before the plan that uses it.
    ScalarSubquery {
        plan: Box<Plan>,
        ty: DataType,
    },
    /// `expr [NOT] IN (uncorrelated subquery)` where it cannot become a semi join.
    InSubquery {
        expr: Box<Expr>,
        plan: Box<Plan>,
        negated: bool,
    },
    /// `[NOT] EXISTS (uncorrelated subquery)` where it cannot become a semi join.
    Exists {
        plan: Box<Plan>,
        negated: bool,
    },
    /// `expr op ANY|ALL (uncorrelated subquery)`.
    Quantified {
        expr: Box<Expr>,
        op: BinOp,
        all: bool,
        plan: Box<Plan>,
    },
}

impl Expr {
    pub fn ty(&self) -> DataType {
        match self {
            Expr::Column { ty, .. }
            | Expr::Literal { ty, .. }
            | Expr::Param { ty, .. }
            | Expr::Cast { ty, .. }
            | Expr::Unary { ty, .. }
            | Expr::Binary { ty, .. }
            | Expr::Case { ty, .. }
            | Expr::Call { ty, .. }
            | Expr::ScalarSubquery { ty, .. } => *ty,
            Expr::InSubquery { .. } | Expr::Exists { .. } | Expr::Quantified { .. } => {
                DataType::Bool
            }
            Expr::IsNull { .. }
            | Expr::IsBool { .. }
            | Expr::IsDistinct { .. }
            | Expr::InList { .. }
            | Expr::Like { .. } => DataType::Bool,
        }
    }

    pub fn literal(value: Value) -> Expr {
        let ty = value.data_type();
        Expr::Literal { value, ty }
    }

    pub fn null(ty: DataType) -> Expr {
        Expr::Literal {
            value: Value::Null,
            ty,
        }
    }

    /// Call `f` on each direct child expression (not on subquery plans).
    pub fn for_each_child<'a>(&'a self, f: &mut dyn FnMut(&'a Expr)) {
        match self {
            Expr::Column { .. }
            | Expr::Literal { .. }
            | Expr::Param { .. }
            | Expr::ScalarSubquery { .. }
            | Expr::Exists { .. } => {}
            Expr::InSubquery { expr, .. }
            | Expr::Quantified { expr, .. }
            | Expr::Cast { expr, .. }
            | Expr::Unary { expr, .. }
            | Expr::IsNull { expr, .. }
            | Expr::IsBool { expr, .. } => f(expr),
            Expr::Binary { left, right, .. } | Expr::IsDistinct { left, right, .. } => {
                f(left);
                f(right);
            }
            Expr::InList { expr, list, .. } => {
                f(expr);
                list.iter().for_each(f);
            }
            Expr::Like { expr, pattern, .. } => {
                f(expr);
                f(pattern);
            }
            Expr::Case {
                operand,
                branches,
                otherwise,
                ..
            } => {
                if let Some(o) = operand {
                    f(o);
                }
                for (w, t) in branches {
                    f(w);
                    f(t);
                }
                if let Some(o) = otherwise {
                    f(o);
                }
            }
            Expr::Call { args, .. } => args.iter().for_each(f),
        }
    }

    /// Visit this expression and every sub-expression (parents first; subquery plans are not
    /// entered).
    pub fn walk(&self, f: &mut dyn FnMut(&Expr)) {
        f(self);
        self.for_each_child(&mut |c| c.walk(f));
    }

    /// Rewrite every column reference through `map` (used when an expression moves over a
    /// different input, e.g. a filter pushed below a projection).
    pub fn remap_columns(&mut self, map: &dyn Fn(usize) -> usize) {
        if let Expr::Column { index, .. } = self {
            *index = map(*index);
        }
        self.for_each_child_mut(&mut |c| c.remap_columns(map));
    }

    /// Call `f` on each direct child expression (not on subquery plans).
    pub fn for_each_child_mut(&mut self, f: &mut dyn FnMut(&mut Expr)) {
        match self {
            Expr::Column { .. }
            | Expr::Literal { .. }
            | Expr::Param { .. }
            | Expr::ScalarSubquery { .. }
            | Expr::Exists { .. } => {}
            Expr::InSubquery { expr, .. }
            | Expr::Quantified { expr, .. }
            | Expr::Cast { expr, .. }
            | Expr::Unary { expr, .. }
            | Expr::IsNull { expr, .. }
            | Expr::IsBool { expr, .. } => f(expr),
            Expr::Binary { left, right, .. } | Expr::IsDistinct { left, right, .. } => {
                f(left);
                f(right);
            }
            Expr::InList { expr, list, .. } => {
                f(expr);
                list.iter_mut().for_each(f);
            }
            Expr::Like { expr, pattern, .. } => {
                f(expr);
                f(pattern);
            }
            Expr::Case {
                operand,
                branches,
                otherwise,
                ..
            } => {
                if let Some(o) = operand {
                    f(o);
                }
                for (w, t) in branches {
                    f(w);
                    f(t);
                }
                if let Some(o) = otherwise {
                    f(o);
                }
            }
            Expr::Call { args, .. } => args.iter_mut().for_each(f),
        }
    }

    /// Visit every sub-expression and then this one, mutably (subquery plans are not entered).
    pub fn walk_mut(&mut self, f: &mut dyn FnMut(&mut Expr)) {
        self.for_each_child_mut(&mut |c| c.walk_mut(f));
        f(self);
    }

    /// A subquery or a volatile call: a predicate containing one is never moved to another
    /// place in the plan (it may be evaluated a different number of times there).
    pub fn is_opaque_node(&self) -> bool {
        match self {
            Expr::ScalarSubquery { .. }
            | Expr::InSubquery { .. }
            | Expr::Exists { .. }
            | Expr::Quantified { .. } => true,
            Expr::Call { func, .. } => func.is_volatile(),
            _ => false,
        }
    }

    /// True if the value depends on no input column (literals, parameters, stable functions).
    pub fn is_row_independent(&self) -> bool {
        let mut independent = true;
        self.walk(&mut |e| {
            if matches!(e, Expr::Column { .. })
                || matches!(e, Expr::Call { func, .. } if func.is_volatile())
            {
                independent = false;
            }
        });
        independent
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    And,
    Or,
    Concat,
}

impl BinOp {
    /// The comparison with its operands swapped: `a op b` ⇔ `b op.flipped() a`.
    pub fn flipped(self) -> BinOp {
        match self {
            BinOp::Lt => BinOp::Gt,
            BinOp::LtEq => BinOp::GtEq,
            BinOp::Gt => BinOp::Lt,
            BinOp::GtEq => BinOp::LtEq,
            other => other,
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eq | BinOp::NotEq | BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq
        )
    }

    /// The SQL spelling, for error messages.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Eq => "=",
            BinOp::NotEq => "<>",
            BinOp::Lt => "<",
            BinOp::LtEq => "<=",
            BinOp::Gt => ">",
            BinOp::GtEq => ">=",
            BinOp::And => "AND",
            BinOp::Or => "OR",
            BinOp::Concat => "||",
        }
    }
}

/// Scalar functions.
#[derive(Debug, Clone, PartialEq)]
pub enum Func {
    /// Transaction start time (`now()`, `current_timestamp`).
    Now,
    /// `statement_timestamp()`/`clock_timestamp()`.
    ClockTimestamp,
    CurrentDate,
    /// `nextval('seq')`, the sequence named at bind time.
    NextVal(String),
    Coalesce,
    NullIf,
    Greatest,
    Least,
    /// `date_trunc(unit, ts)`.
    DateTrunc,
    /// `extract(field from x)` / `date_part`: the field is the first argument.
    Extract,
    Lower,
    Upper,
    Length,
    /// `substring(s, from [, for])`.
    Substring,
    /// `position(sub in s)`.
    Position,
    Trim {
        leading: bool,
        trailing: bool,
    },
    Replace,
    Concat,
    Left,
    Right,
    Abs,
    Round,
    Trunc,
    Floor,
    Ceil,
    Sqrt,
    Power,
    Mod,
    Random,
    Version,
    CurrentSchema,
    CurrentDatabase,
    CurrentUser,
    /// `pg_backend_pid()`.
    BackendPid,
    /// `current_schemas(include_implicit)`: the effective search path as `text[]`.
    CurrentSchemas,
    /// `array_position(text[], text)`: 1-based index of the first element not distinct from
    /// the value, NULL when none is.
    ArrayPosition,
    /// `ARRAY[e1, …]` of strings.
    MakeTextArray,
    /// `current_setting(name)`.
    CurrentSetting,
    /// `'name'::regtype` / `to_regtype`: the type's OID, or an error for an unknown name.
    RegType,
}

impl Func {
    /// Functions whose value changes from row to row even with the same arguments.
    pub fn is_volatile(&self) -> bool {
        matches!(self, Func::NextVal(_) | Func::Random | Func::ClockTimestamp)
    }
}

/// Aggregate functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggFunc {
    CountStar,
    Count,
    Sum,
    Avg,
    Min,
    Max,
    BoolAnd,
    BoolOr,
    StringAgg,
}

/// One aggregate computed by an Aggregate operator.
#[derive(Debug, Clone)]
pub struct AggCall {
    pub func: AggFunc,
    /// The argument (none for `count(*)`); for `string_agg` the delimiter is `extra`.
    pub arg: Option<Expr>,
    pub extra: Option<Expr>,
    pub distinct: bool,
    /// `FILTER (WHERE …)`: only rows where this is true are aggregated.
    pub filter: Option<Expr>,
    /// `agg(x ORDER BY …)`: the inputs reach the aggregate in this order (empty: any order).
    /// With `distinct`, every key is one of the arguments (the binder checks, as PostgreSQL).
    pub order_by: Vec<SortKey>,
    pub ty: DataType,
}
