-- What a DBA gives PostgreSQL for TPC-H beyond the primary keys of schema.sql: an index on every
-- foreign-key column that is not already the leading column of a primary key (spec clause
-- 1.4.2.3 lists the foreign keys). The constraints themselves are not declared: they only slow
-- the load and PostgreSQL's planner does not use them. omendb-bench runs this file, then ANALYZE,
-- when given --pg-indexes; the timed load includes neither.
CREATE INDEX nation_n_regionkey ON nation (n_regionkey);
CREATE INDEX supplier_s_nationkey ON supplier (s_nationkey);
CREATE INDEX customer_c_nationkey ON customer (c_nationkey);
CREATE INDEX partsupp_ps_suppkey ON partsupp (ps_suppkey);
CREATE INDEX orders_o_custkey ON orders (o_custkey);
CREATE INDEX lineitem_l_partkey_l_suppkey ON lineitem (l_partkey, l_suppkey);
CREATE INDEX lineitem_l_suppkey ON lineitem (l_suppkey);
