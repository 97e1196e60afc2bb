-- The secondary indexes TPC-C's transactions need (created after the load):
-- Payment and Order-Status find a customer by last name (60% of the time), ordered by first name;
-- Order-Status finds a customer's newest order.
CREATE INDEX customer_by_name ON customer (c_w_id, c_d_id, c_last, c_first);
CREATE INDEX orders_by_customer ON orders (o_w_id, o_d_id, o_c_id, o_id);
