// pgJDBC: parameterised queries through the extended protocol, NULL parameters and typed
// results. Each statement runs more often than prepareThreshold (5), so pgJDBC moves to named
// server-side statements and binary transfer, and both paths are checked.
// Exits non-zero on any failure. Connection: OMENDB_JDBC_URL.
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.sql.Types;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.util.Objects;

public class JdbcParams {
    /** More than pgJDBC's default prepareThreshold of 5. */
    static final int REPEATS = 8;

    static void check(String what, Object got, Object want) {
        if (!Objects.equals(got, want)) {
            System.out.println("FAIL pgjdbc: " + what + ": got " + got + ", want " + want);
            System.exit(1);
        }
        System.out.println("ok pgjdbc: " + what + ": " + got);
    }

    public static void main(String[] args) throws Exception {
        String table = "jdbc_typed_" + ProcessHandle.current().pid();
        try (Connection conn = DriverManager.getConnection(System.getenv("OMENDB_JDBC_URL"))) {
            try (Statement st = conn.createStatement()) {
                st.execute("DROP TABLE IF EXISTS " + table);
                st.execute("CREATE TABLE " + table + " (id integer PRIMARY KEY, big bigint, amount numeric(10,2),"
                        + " label text, flag boolean, day date, at timestamp, score double precision)");
            }
            try {
                run(conn, table);
            } finally {
                try (Statement st = conn.createStatement()) {
                    st.execute("DROP TABLE IF EXISTS " + table);
                }
            }
        }
        System.out.println("pgjdbc: parameterised queries passed");
    }

    static void run(Connection conn, String table) throws Exception {
        String insert = "INSERT INTO " + table + " VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
        try (PreparedStatement ps = conn.prepareStatement(insert)) {
            for (int i = 1; i <= REPEATS; i++) {
                ps.setInt(1, i);
                ps.setLong(2, 9007199254740993L + i);
                ps.setBigDecimal(3, new BigDecimal("12.34").add(BigDecimal.valueOf(i)));
                ps.setString(4, "row " + i);
                ps.setBoolean(5, i % 2 == 0);
                ps.setObject(6, LocalDate.of(2024, 2, 20 + i));
                ps.setObject(7, LocalDateTime.of(2024, 2, 20 + i, 13, 14, 15, 500_000_000));
                ps.setDouble(8, i / 8.0);
                check("insert " + i + " update count", ps.executeUpdate(), 1);
            }
            ps.setInt(1, 100);
            ps.setNull(2, Types.BIGINT);
            ps.setNull(3, Types.NUMERIC);
            ps.setNull(4, Types.VARCHAR);
            ps.setNull(5, Types.BOOLEAN);
            ps.setNull(6, Types.DATE);
            ps.setNull(7, Types.TIMESTAMP);
            ps.setNull(8, Types.DOUBLE);
            check("insert with NULL parameters", ps.executeUpdate(), 1);
        }

        String select = "SELECT id, big, amount, label, flag, day, at, score FROM " + table + " WHERE id = ?";
        try (PreparedStatement ps = conn.prepareStatement(select)) {
            for (int i = 1; i <= REPEATS; i++) {
                ps.setInt(1, i);
                try (ResultSet rs = ps.executeQuery()) {
                    check("row " + i + " found", rs.next(), true);
                    check("row " + i + " integer", rs.getInt(1), i);
                    check("row " + i + " bigint", rs.getLong(2), 9007199254740993L + i);
                    check("row " + i + " numeric", rs.getBigDecimal(3), new BigDecimal("12.34").add(BigDecimal.valueOf(i)));
                    check("row " + i + " text", rs.getString(4), "row " + i);
                    check("row " + i + " boolean", rs.getBoolean(5), i % 2 == 0);
                    check("row " + i + " date", rs.getObject(6, LocalDate.class), LocalDate.of(2024, 2, 20 + i));
                    check("row " + i + " timestamp", rs.getObject(7, LocalDateTime.class),
                            LocalDateTime.of(2024, 2, 20 + i, 13, 14, 15, 500_000_000));
                    check("row " + i + " double", rs.getDouble(8), i / 8.0);
                    check("row " + i + " is the only one", rs.next(), false);
                }
            }
            ps.setInt(1, 100);
            try (ResultSet rs = ps.executeQuery()) {
                check("NULL row found", rs.next(), true);
                for (int c = 2; c <= 8; c++) {
                    check("column " + c + " is NULL", rs.getObject(c), null);
                }
                check("getLong of NULL bigint is 0 and wasNull", rs.getLong(2) == 0 && rs.wasNull(), true);
            }
        }

        String nullCompare = "SELECT count(*) FROM " + table + " WHERE label = ?";
        try (PreparedStatement ps = conn.prepareStatement(nullCompare)) {
            ps.setNull(1, Types.VARCHAR);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                check("= NULL parameter matches nothing", rs.getLong(1), 0L);
            }
        }

        String agg = "SELECT count(*), sum(amount), min(day), max(at) FROM " + table + " WHERE flag = ? AND big > ?";
        try (PreparedStatement ps = conn.prepareStatement(agg)) {
            for (int r = 0; r < REPEATS; r++) {
                ps.setBoolean(1, true);
                ps.setLong(2, 9007199254740995L);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    check("aggregate count (run " + r + ")", rs.getLong(1), 3L);
                    check("aggregate sum(numeric)", rs.getBigDecimal(2), new BigDecimal("55.02"));
                    check("aggregate min(date)", rs.getObject(3, LocalDate.class), LocalDate.of(2024, 2, 24));
                    check("aggregate max(timestamp)", rs.getObject(4, LocalDateTime.class),
                            LocalDateTime.of(2024, 2, 28, 13, 14, 15, 500_000_000));
                }
            }
        }

        try (PreparedStatement ps = conn.prepareStatement("UPDATE " + table + " SET label = ? WHERE id = ?")) {
            ps.setNull(1, Types.VARCHAR);
            ps.setInt(2, 1);
            check("update with NULL parameter", ps.executeUpdate(), 1);
        }
        try (PreparedStatement ps = conn.prepareStatement("SELECT label FROM " + table + " WHERE id = ?")) {
            ps.setInt(1, 1);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                check("updated to NULL", rs.getString(1), null);
            }
        }
    }
}
